/*
 * daemon.h owns bevakad's process: command line, configuration, the one
 * poll loop with its signalfd, batching of feed messages into transactions,
 * deliveries when their moment comes, the API, and systemd notification.
 */
#pragma once

int daemon_main(int argc, char **argv);
