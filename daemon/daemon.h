/*
 * daemon.h owns bevakad's process: command line, configuration, the one
 * poll loop with its signalfd, batching of feed messages into transactions,
 * deliveries when their moment comes, the API, and systemd notification.
 */
#pragma once

#include "engine.h"
#include "ingest.h"

int daemon_main(int argc, char **argv);
/*
 * Performs one ingest verdict inside the open batch: the event to the engine (the same id under
 * a new seq counts as a duplicate), the dead letter stored and logged, the counters, and the
 * source's new position. 0, or the engine's or the store's error (a negative one rolls the batch back).
 */
int daemon_apply_verdict(store_t *s, engine_t *e, const bk_clock_t *clock, const ingest_verdict_t *v);
