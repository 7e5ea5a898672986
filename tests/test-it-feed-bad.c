/*
 * Integration: no byte sequence wedges a feed (issue 12). The adapter is the
 * real bevaka-feed serving a log written here: events 1-2 good, 3-10 each
 * unreadable in one of the ways measured (Latin-1, nesting over 2048, 1e400,
 * a seq over 2^63, "seq":"21", "seq":21.0, \u0000, a raw NUL), 11-20 good,
 * then a hole at 21 and 22-23 that the adapter can never serve in order.
 * bevakad must dead-letter each unreadable one once, at its position, apply
 * every later event, and at the hole back off: a bounded number of replay
 * requests and dead letters, and `stats` saying the source is stuck.
 */
#include <sqlite3.h>
#include "it.h"

#define SRC "paraply-demo"
#define BODY "\"type\":\"ib1.completed\",\"at\":\"2025-11-04T09:00:00+01:00\",\"unit\":\"HV-EB-1\",\"data\":{}"

static void put(sqlite3 *db, int seq, const char *type, const char *payload, int len)
{
        sqlite3_stmt *st = NULL;

        CHECK_INT(sqlite3_prepare_v2(db, "INSERT INTO events VALUES (?1, ?2, ?4, ?3)", -1, &st, NULL),
                  SQLITE_OK);
        sqlite3_bind_text(st, 1, SRC, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, seq);
        sqlite3_bind_text(st, 3, payload, len, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
        CHECK_INT(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
}

static void good(sqlite3 *db, int seq)
{
        char b[512];
        int n;

        if (seq == 1)
                n = snprintf(b, sizeof(b), "{\"v\":1,\"id\":\"e-1\",\"source\":\"" SRC "\",\"seq\":1,\"type\":"
                             "\"case.opened\",\"at\":\"2025-11-03T09:00:00+01:00\",\"case\":\"EB-1\",\"unit\":"
                             "\"HV-EB-1\",\"data\":{\"caseworker\":\"hk1\",\"household\":{\"adults\":1,"
                             "\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}}");
        else
                n = snprintf(b, sizeof(b), "{\"v\":1,\"id\":\"e-%d\",\"source\":\"" SRC "\",\"seq\":%d," BODY
                             ",\"case\":\"EB-1\"}", seq, seq);
        put(db, seq, seq == 1 ? "case.opened" : "ib1.completed", b, n);
}

static void bad(sqlite3 *db, int seq, int k)
{
        static char b[8192];
        int n = 0;

        switch (k) {
        case 0: n = snprintf(b, sizeof(b), "{\"v\":1,\"id\":\"b-%d\",\"seq\":%d," BODY ",\"case\":\"S\xf6" "der\"}",
                             seq, seq); break;
        case 1:
                n = snprintf(b, sizeof(b), "{\"v\":1,\"seq\":%d,\"x\":", seq);
                while (n < 2200)
                        b[n++] = '[';
                break;
        case 2: n = snprintf(b, sizeof(b), "{\"v\":1,\"seq\":%d,\"n\":1e400," BODY "}", seq); break;
        case 3: n = snprintf(b, sizeof(b), "{\"v\":1,\"seq\":99999999999999999999," BODY "}"); break;
        case 4: n = snprintf(b, sizeof(b), "{\"v\":1,\"source\":\"" SRC "\",\"seq\":\"%d\"," BODY "}", seq); break;
        case 5: n = snprintf(b, sizeof(b), "{\"v\":1,\"source\":\"" SRC "\",\"seq\":%d.0," BODY "}", seq); break;
        case 6: n = snprintf(b, sizeof(b), "{\"v\":1,\"seq\":%d," BODY ",\"case\":\"EB\\u0000\"}", seq); break;
        default:
                n = snprintf(b, sizeof(b), "{\"v\":1,\"seq\":%d," BODY ",\"case\":\"EB-1\"}", seq);
                b[12] = '\0';
                break;
        }
        put(db, seq, "ib1.completed", b, n);
}

static json_t *source_stats(it_env_t *e)
{
        json_t *r = it_api(e, "{\"op\":\"stats\"}"), *s = NULL;
        s = json_incref(json_array_get(json_object_get(r, "feeds"), 0));
        json_decref(r);
        return s;
}

static long long stat2(it_env_t *e, const char *group, const char *key)
{
        json_t *r = it_api(e, "{\"op\":\"stats\"}");
        long long v = json_integer_value(json_object_get(json_object_get(r, group), key));
        json_decref(r);
        return v;
}

int main(void)
{
        it_env_t e;
        char db[512], exe[600], ep[600], rep[600];
        sqlite3 *h = NULL;

        it_init(&e);
        it_config(&e, "2025-11-05T10:00:00+01:00", NULL);
        it_path(&e, "feed.db", db, sizeof(db));
        CHECK_INT(sqlite3_open(db, &h), SQLITE_OK);
        CHECK_INT(sqlite3_exec(h, "CREATE TABLE events (source TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,"
                                  " payload TEXT NOT NULL, PRIMARY KEY (source, seq)) WITHOUT ROWID;"
                                  "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
        good(h, 1);
        good(h, 2);
        for (int k = 0; k < 8; k++)
                bad(h, 3 + k, k);
        for (int s = 11; s <= 20; s++)
                good(h, s);
        good(h, 22);      /* 21 is missing: the adapter can never serve it */
        good(h, 23);
        sqlite3_close(h);

        it_start_daemon(&e);
        it_connect(&e);
        snprintf(exe, sizeof(exe), "%s/bevaka-feed", e.bin);
        snprintf(ep, sizeof(ep), "ipc://%s/feed.sock", e.dir);
        snprintf(rep, sizeof(rep), "ipc://%s/replay.sock", e.dir);
        char *argv[] = { exe, "serve", "--endpoint", ep, "--replay-endpoint", rep, "--db", db,
                         "--heartbeat-ms", "200", "-q", NULL };
        e.feed = it_spawn(&e, "feed.log", argv);

        /* every later event applied: 1, 2 and 11-20 */
        CHECK_INT(it_wait_stat(&e, "events", "applied", 12, 30000), 12);
        CHECK_INT(it_wait_stat(&e, "events", "dead_letters", 8, 10000), 8);
        json_t *s = NULL;
        int64_t end = it_ms() + 20000;
        /* the hole: the source is reported stuck at 21 instead of spinning */
        while (it_ms() < end) {
                json_decref(s);
                s = source_stats(&e);
                if (json_is_true(json_object_get(s, "stuck")))
                        break;
                struct timespec ts = { 0, 50 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        CHECK(json_is_true(json_object_get(s, "stuck")));
        CHECK_INT(json_integer_value(json_object_get(s, "last_seq")), 20);
        json_decref(s);
        json_t *r = it_api(&e, "{\"op\":\"stats\"}");
        CHECK(strstr(json_string_value(json_object_get(r, "feed_status")), "stuck at seq 21") != NULL);
        json_decref(r);
        /* bounded: over three more seconds at most a few replay requests, no new dead letter */
        long long replays, t0 = it_ms();
        r = it_api(&e, "{\"op\":\"stats\"}");
        replays = json_integer_value(json_object_get(r, "replays"));
        json_decref(r);
        while (it_ms() - t0 < 3000) {         /* a window to count in, not a wait for an outcome */
                struct timespec ts = { 0, 100 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        r = it_api(&e, "{\"op\":\"stats\"}");
        long long later = json_integer_value(json_object_get(r, "replays"));
        CHECK(later - replays <= 3);
        CHECK(later <= 20);
        CHECK_INT(json_integer_value(json_object_get(json_object_get(r, "events"), "dead_letters")), 8);
        CHECK_INT(json_integer_value(json_object_get(json_object_get(r, "events"), "applied")), 12);
        json_decref(r);
        CHECK_INT(stat2(&e, "events", "dead_letters"), 8);
        /* the Latin-1 one says so */
        char store[512];
        it_path(&e, "bevaka.db", store, sizeof(store));
        CHECK_INT(sqlite3_open_v2(store, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        sqlite3_stmt *q = NULL;
        CHECK_INT(sqlite3_prepare_v2(h, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%not UTF-8%'", -1, &q,
                                     NULL), SQLITE_OK);
        CHECK_INT(sqlite3_step(q), SQLITE_ROW);
        CHECK_INT(sqlite3_column_int(q, 0), 1);
        sqlite3_finalize(q);
        sqlite3_close(h);
        it_cleanup(&e);
        return tap_done();
}
