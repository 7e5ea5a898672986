/*
 * Integration: bevakad's sd_notify protocol as systemd's Type=notify and
 * WatchdogSec= see it. The test binds the AF_UNIX datagram socket that
 * NOTIFY_SOCKET names, starts the real daemon with WATCHDOG_USEC set (and
 * WATCHDOG_PID unset, as for a main process started directly), and checks
 * READY=1 and a STATUS= line after start, WATCHDOG=1 keep-alives at the
 * asked interval, RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1
 * before a clean exit 0 on SIGTERM.
 */
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "it.h"

#define WATCHDOG_USEC "200000"

/* Every datagram seen so far, so a later check can look back. */
static char seen[64 * 1024];

static int notify_bind(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
                perror("notify socket");
                exit(2);
        }
        strcpy(sa.sun_path, path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror("bind");
                exit(2);
        }
        return fd;
}

/*
 * Reads datagrams until one holds `want` as a whole line, or timeout_ms
 * passes. Counts the lines equal to `want` seen meanwhile in *count.
 */
static bool notify_wait(int fd, const char *want, int timeout_ms, int *count)
{
        int64_t end = it_ms() + timeout_ms;
        bool found = false;

        while (!found && it_ms() < end) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                char buf[4096];
                ssize_t n;

                if (poll(&p, 1, (int)BK_IT_MIN(end - it_ms(), 1000)) <= 0)
                        continue;
                n = recv(fd, buf, sizeof(buf) - 1, 0);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                if (strlen(seen) + (size_t)n + 2 < sizeof(seen)) {
                        strcat(seen, buf);
                        strcat(seen, "\n");
                }
                for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
                     line = strtok_r(NULL, "\n", &save)) {
                        if (strcmp(line, want) == 0 ||
                            (want[strlen(want) - 1] == '=' && strncmp(line, want, strlen(want)) == 0)) {
                                found = true;
                                if (count)
                                        (*count)++;
                        }
                }
        }
        return found;
}

int main(void)
{
        it_env_t e;
        char sock[512];
        int fd, watchdogs = 0, st;
        int64_t t0;

        it_init(&e);
        it_config(&e, "2026-01-05T07:00:00+01:00", NULL);
        it_path(&e, "notify.sock", sock, sizeof(sock));
        fd = notify_bind(sock);

        /* The child inherits these; WATCHDOG_PID stays unset. */
        setenv("NOTIFY_SOCKET", sock, 1);
        setenv("WATCHDOG_USEC", WATCHDOG_USEC, 1);
        unsetenv("WATCHDOG_PID");
        it_start_daemon(&e);
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");

        CHECK(notify_wait(fd, "READY=1", 15000, NULL));
        CHECK(notify_wait(fd, "STATUS=", 5000, NULL));
        CHECK(strstr(seen, "events applied") != NULL);

        /* 200 ms asked: keep-alives come at half that; five within two seconds is a loose bound. */
        t0 = it_ms();
        while (watchdogs < 5 && it_ms() - t0 < 2000)
                notify_wait(fd, "WATCHDOG=1", (int)(2000 - (it_ms() - t0)), &watchdogs);
        CHECK(watchdogs >= 5);

        kill(e.daemon, SIGHUP);
        CHECK(notify_wait(fd, "RELOADING=1", 5000, NULL));
        seen[0] = '\0';
        CHECK(notify_wait(fd, "READY=1", 5000, NULL));

        kill(e.daemon, SIGTERM);
        CHECK(notify_wait(fd, "STOPPING=1", 15000, NULL));
        st = it_wait_exit(e.daemon, 15000);
        CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        e.daemon = 0;

        close(fd);
        it_cleanup(&e);
        return tap_done();
}
