/*
 * Integration: a full disk. The store lives on a small tmpfs; the feed
 * publishes more than fits. The daemon must keep running and answering,
 * lose nothing it committed, and once space is back apply every event
 * exactly once (replayed from its stored position). Needs root for mount;
 * skips (77) with the reason otherwise.
 */
#include <sqlite3.h>
#include <sys/mount.h>
#include "it.h"

static void write_stream(const char *path, int n)
{
        FILE *f = fopen(path, "w");
        for (int i = 0; i < n; i++) {
                int c = i / 10;
                if (i % 10 == 0)
                        fprintf(f, "{\"v\":1,\"id\":\"f-%d\",\"type\":\"case.opened\",\"at\":\"2025-02-03T09:00:00+01:00\","
                                   "\"case\":\"EB-2025-%06d\",\"unit\":\"HV-EB-1\",\"data\":{\"caseworker\":\"hk%d\","
                                   "\"household\":{\"adults\":1,\"single_parent\":true,\"children\":[\"2016-03\"]},"
                                   "\"barrier\":\"unemployment\"},\"pad\":\"%0400d\"}\n", i, c, c % 9, 0);
                else
                        fprintf(f, "{\"v\":1,\"id\":\"f-%d\",\"type\":\"assistance.decided\",\"at\":\"2025-%02d-05T10:00:00+01:00\","
                                   "\"case\":\"EB-2025-%06d\",\"unit\":\"HV-EB-1\",\"data\":{\"month\":\"2025-%02d\","
                                   "\"outcome\":\"granted\",\"decision\":\"d-%d\",\"child_impact_documented\":true},"
                                   "\"pad\":\"%0400d\"}\n", i, 2 + i % 10, c, 2 + i % 10, i, 0);
        }
        fclose(f);
}

/* How many lines of the daemon's log hold `what`. */
static long long log_count(it_env_t *e, const char *what)
{
        char path[600], line[4096];
        long long n = 0;
        FILE *f;

        it_path(e, "bevakad.log", path, sizeof(path));
        if (!(f = fopen(path, "r")))
                return -1;
        while (fgets(line, sizeof(line), f))
                n += strstr(line, what) != NULL;
        fclose(f);
        return n;
}

static long long stat_applied(it_env_t *e)
{
        json_t *r = it_api(e, "{\"op\":\"stats\"}");
        long long v = r ? json_integer_value(json_object_get(json_object_get(r, "events"), "applied")) : -1;
        json_decref(r);
        return v;
}

int main(void)
{
        it_env_t e;
        char store[512], conf[512], text[4096], stream[512];
        const int n = 20000;

        it_init(&e);
        it_path(&e, "store", store, sizeof(store));
        mkdir(store, 0700);
        if (mount("tmpfs", store, "tmpfs", 0, "size=4m") != 0) {
                printf("skip: cannot mount a small tmpfs for the store (%s); needs root\n", strerror(errno));
                it_cleanup(&e);
                return 77;
        }
        it_path(&e, "bevakad.conf", conf, sizeof(conf));
        snprintf(text, sizeof(text),
                 "store: { path = \"store/bevaka.db\"; synchronous = \"full\"; batch = 100; };\n"
                 "feed: { endpoint = \"ipc://%s/feed.sock\"; replay_endpoint = \"ipc://%s/replay.sock\"; };\n"
                 "publish: { endpoint = \"ipc://%s/pub.sock\"; };\napi: { endpoint = \"ipc://%s/api.sock\"; };\n"
                 "clock: { mode = \"manual\"; start = \"2025-01-01T07:00:00+01:00\"; };\n",
                 e.dir, e.dir, e.dir, e.dir);
        it_write(conf, text);
        it_path(&e, "stream.jsonl", stream, sizeof(stream));
        write_stream(stream, n);

        it_start_daemon(&e);
        it_connect(&e);
        it_start_feed(&e, stream, "--wait-subscribers", "1", NULL);

        /* Wait until the disk is full: applied stops moving short of n. The feed first loads
         * its stream (seconds under a sanitizer), so the stall is only looked for once events
         * have begun to arrive: a feed still starting up is no full disk. */
        long long last = -1, now = stat_applied(&e);
        int64_t end = it_ms() + 60000;
        while (it_ms() < end && now == 0)
                now = stat_applied(&e);
        while (it_ms() < end && now != last) {
                last = now;
                int64_t quiet = it_ms() + 1500;
                while (it_ms() < quiet && (now = stat_applied(&e)) == last)
                        ;
        }
        fprintf(stderr, "diskfull: stalled at %lld of %d applied\n", now, n);
        CHECK(now > 0);
        CHECK(now < n);
        /* Still alive and answering, and what it committed is there. */
        json_t *r = it_api(&e, "{\"op\":\"hello\"}");
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        if (!r || !json_is_true(json_object_get(r, "ok"))) {
                char *t = r ? json_dumps(r, 0) : NULL;
                fprintf(stderr, "diskfull: hello answered %s\n", t ? t : "nothing");
                free(t);
        }
        json_decref(r);
        CHECK(kill(e.daemon, 0) == 0);

        /* It says so, and backs off instead of spinning: over three seconds a few replay requests
         * and at most one "transaction failed" line (before: ~130 requests and ~380 lines a second). */
        r = it_api(&e, "{\"op\":\"stats\"}");
        const char *fs = r ? json_string_value(json_object_get(r, "feed_status")) : NULL;
        CHECK(fs && strstr(fs, "store full") != NULL);
        if (fs && !strstr(fs, "store full"))
                fprintf(stderr, "diskfull: feed_status %s\n", fs);
        json_decref(r);
        long long asks0 = log_count(&e, "asking for replay"), fails0 = log_count(&e, "transaction failed");
        for (int64_t until = it_ms() + 3000; it_ms() < until;)     /* a window to count in */
                json_decref(it_api(&e, "{\"op\":\"hello\"}"));
        long long asks = log_count(&e, "asking for replay") - asks0, fails = log_count(&e, "transaction failed") - fails0;
        fprintf(stderr, "diskfull: in 3 s, %lld replay requests and %lld failure lines logged\n", asks, fails);
        CHECK(asks <= 8);
        CHECK(fails <= 1);

        /* Space comes back: everything is applied exactly once. */
        CHECK(mount("tmpfs", store, "tmpfs", MS_REMOUNT, "size=256m") == 0);
        CHECK_INT(it_wait_stat(&e, "events", "applied", n, 60000), n);
        int st = it_stop(&e.daemon, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        it_stop(&e.feed, SIGTERM);

        char db[600];
        sqlite3 *h;
        sqlite3_stmt *q;
        snprintf(db, sizeof(db), "%s/bevaka.db", store);
        CHECK(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        sqlite3_prepare_v2(h, "SELECT count(*), count(DISTINCT seq), max(seq), "
                              "(SELECT count(*) FROM dead_letters) FROM events", -1, &q, NULL);
        CHECK(sqlite3_step(q) == SQLITE_ROW);
        CHECK_INT(sqlite3_column_int(q, 0), n);
        CHECK_INT(sqlite3_column_int(q, 1), n);
        CHECK_INT(sqlite3_column_int(q, 2), n);
        CHECK_INT(sqlite3_column_int(q, 3), 0);
        sqlite3_finalize(q);
        sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &q, NULL);
        CHECK(sqlite3_step(q) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0);
        sqlite3_finalize(q);
        sqlite3_close(h);
        umount2(store, MNT_DETACH);
        it_cleanup(&e);
        return tap_done();
}
