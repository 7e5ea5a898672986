/*
 * Integration, at-least-once publishing across kill -9 (outbox.h): 12,000
 * reminders fall due in one delivery (a `clock` move), the daemon is killed
 * with SIGKILL as soon as the subscriber has the first message, and started
 * again. Before the published-up-to mark, the rest were marked delivered and
 * in the outbox but never published by any later start (only `sync` found
 * them). Now the subscriber, which stays connected and reconnects by
 * itself as a client does, must receive every message of the outbox: each
 * rseq at least once. A clean restart before that offers nothing again.
 */
#include <sqlite3.h>
#include "it.h"

static int n_cases(void)
{
        const char *s = getenv("BEVAKA_OUTBOX_CASES");
        return s ? atoi(s) : 12000;
}

/* n cases opened with IB1 done on Monday 2025-03-03: n IB3-DUE due two weeks later. */
static void write_stream(const char *path, int n)
{
        FILE *f = fopen(path, "w");

        for (int c = 0; c < n; c++) {
                fprintf(f, "{\"v\":1,\"id\":\"o-%d\",\"type\":\"case.opened\",\"at\":\"2025-03-03T09:30:00+01:00\","
                           "\"case\":\"EB-%06d\",\"unit\":\"U%d\",\"data\":{\"caseworker\":\"hk%d\",\"household\":"
                           "{\"adults\":1,\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}}\n",
                        c, c, c % 5, c % 40);
                fprintf(f, "{\"v\":1,\"id\":\"i-%d\",\"type\":\"ib1.completed\",\"at\":\"2025-03-03T10:00:00+01:00\","
                           "\"case\":\"EB-%06d\",\"unit\":\"U%d\",\"data\":{}}\n", c, c, c % 5);
        }
        /* one more, a week earlier: delivered alone before the crash, to check a clean restart */
        fprintf(f, "{\"v\":1,\"id\":\"o-early\",\"type\":\"case.opened\",\"at\":\"2025-02-24T09:30:00+01:00\","
                   "\"case\":\"EB-EARLY\",\"unit\":\"U0\",\"data\":{\"caseworker\":\"hk0\",\"household\":"
                   "{\"adults\":1,\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}}\n"
                   "{\"v\":1,\"id\":\"i-early\",\"type\":\"ib1.completed\",\"at\":\"2025-02-24T10:00:00+01:00\","
                   "\"case\":\"EB-EARLY\",\"unit\":\"U0\",\"data\":{}}\n");
        fclose(f);
}

/* Takes one message off the subscriber: its rseq (0 for none within timeout_ms). */
static int64_t recv_rseq(it_env_t *e, int timeout_ms)
{
        char topic[256];
        json_t *m = it_recv_reminder(e, topic, sizeof(topic), timeout_ms);
        int64_t rseq = json_integer_value(json_object_get(m, "rseq"));

        json_decref(m);
        return rseq;
}

/* The outbox's rseqs, from the store file, as a bitmap over 1..max. */
static int64_t outbox_rows(it_env_t *e, unsigned char *want, int64_t max)
{
        char path[512];
        sqlite3 *db;
        sqlite3_stmt *q;
        int64_t n = 0;

        it_path(e, "bevaka.db", path, sizeof(path));
        CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        sqlite3_prepare_v2(db, "SELECT rseq FROM outbox", -1, &q, NULL);
        while (sqlite3_step(q) == SQLITE_ROW) {
                int64_t r = sqlite3_column_int64(q, 0);
                if (r >= 1 && r <= max)
                        want[r] = 1;
                n++;
        }
        sqlite3_finalize(q);
        sqlite3_close(db);
        return n;
}

int main(void)
{
        it_env_t e;
        char stream[512];
        int n = n_cases();
        unsigned char *seen = calloc((size_t)n + 3, 1), *want = calloc((size_t)n + 3, 1);
        int64_t distinct = 0, before_kill = 0, r;

        it_init(&e);
        it_config(&e, "2025-03-03T09:00:00+01:00", NULL);
        it_path(&e, "stream.jsonl", stream, sizeof(stream));
        write_stream(stream, n);
        it_start_daemon(&e);
        it_connect(&e);
        it_start_feed(&e, stream, "--wait-subscribers", "1", NULL);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 2LL * n + 2, 120000), 2LL * n + 2);
        /* The early one is delivered (rseq 1) and the daemon stopped cleanly: that stop stored the
         * mark, so the next start offers nothing again. */
        json_decref(it_api(&e, "{\"op\":\"clock\",\"set\":\"2025-03-10T09:00:00+01:00\"}"));
        CHECK_INT(recv_rseq(&e, 5000), 1);
        CHECK_INT(it_stop(&e.daemon, SIGTERM) >= 0, 1);
        it_start_daemon(&e);
        it_connect(&e);
        CHECK_INT(recv_rseq(&e, 1500), 0);

        /* Two weeks on: all n are due at once. Killed right after the first message arrives. */
        const char *req = "{\"op\":\"clock\",\"set\":\"2025-03-18T09:00:00+01:00\"}";
        CHECK(zmq_send(e.api, req, strlen(req), 0) >= 0);
        r = recv_rseq(&e, 60000);
        CHECK(r > 0);
        kill(e.daemon, SIGKILL);
        it_wait_exit(e.daemon, 10000);
        e.daemon = 0;
        for (; r > 0; r = recv_rseq(&e, 100)) {    /* what had reached our socket before the kill */
                if (r >= 2 && r <= n + 1 && !seen[r]) {
                        seen[r] = 1;
                        distinct++;
                }
        }
        before_kill = distinct;
        fprintf(stderr, "outbox: %lld of %d reached the subscriber before kill -9\n", (long long)before_kill, n);
        CHECK(before_kill < n);        /* the crash did cut the delivery short */

        /* Started again: the subscriber reconnects by itself and is offered what may not have left. */
        it_start_daemon(&e);
        for (int64_t end = it_ms() + 60000; distinct < n && it_ms() < end;) {
                r = recv_rseq(&e, 500);
                if (r >= 2 && r <= n + 1 && !seen[r]) {
                        seen[r] = 1;
                        distinct++;
                }
        }
        fprintf(stderr, "outbox: %lld of %d after the restart\n", (long long)distinct, n);
        CHECK_INT(distinct, n);
        CHECK_INT(it_wait_stat(&e, "reminders", "delivered", n + 1, 10000), n + 1);
        CHECK_INT(it_stop(&e.daemon, SIGTERM) >= 0, 1);

        /* Every outbox message reached the subscriber at least once. */
        CHECK_INT(outbox_rows(&e, want, n + 1), n + 1);
        int64_t missing = 0;
        for (int64_t i = 2; i <= n + 1; i++)
                missing += want[i] && !seen[i];
        CHECK_INT(missing, 0);

        free(seen);
        free(want);
        it_cleanup(&e);
        return tap_done();
}
