/*
 * Integration: durability under kill -9. A 100,000-event stream is applied
 * once without interruption and once while the daemon is killed with
 * SIGKILL at random points and restarted; the final stores must be equal:
 * the same events in the same order, no duplicates, no gaps, and the same
 * case states and reminders. The manual clock keeps both runs' timestamps
 * identical, so "equal" can be checked row by row.
 */
#include <sqlite3.h>
#include "it.h"

static int n_events(void)
{
        const char *s = getenv("BEVAKA_DURABILITY_EVENTS");
        return s ? atoi(s) : 100000;
}

/* Cases with a realistic mix of events; deterministic. Returns the count written. */
static int write_stream(const char *path, int want)
{
        static const char *const kinds[] = { "assistance.decided", "ib1.completed", "ib3.completed",
                                             "ib4.established", "caseworker.assigned", "actor.involved",
                                             "children.mapped", "ib4.revised" };
        FILE *f = fopen(path, "w");
        int n = 0, c = 0;
        while (n < want) {
                fprintf(f, "{\"v\":1,\"id\":\"d-%d-o\",\"type\":\"case.opened\",\"at\":\"2025-02-03T09:00:00+01:00\","
                           "\"case\":\"EB-2025-%06d\",\"unit\":\"HV-EB-%d\",\"data\":{\"caseworker\":\"hk%d\","
                           "\"household\":{\"adults\":1,\"single_parent\":%s,\"children\":[\"2016-0%d\"]},"
                           "\"barrier\":\"sickness\"}}\n", c, c, c % 5, c % 40, c % 3 ? "false" : "true", 1 + c % 9);
                n++;
                for (int k = 0; k < 19 && n < want; k++, n++) {
                        const char *t = kinds[(c + k) % 8];
                        int month = 3 + k % 10, day = 3 + k % 20;
                        fprintf(f, "{\"v\":1,\"id\":\"d-%d-%d\",\"type\":\"%s\",\"at\":\"2025-%02d-%02dT10:00:00+01:00\","
                                   "\"case\":\"EB-2025-%06d\",\"unit\":\"HV-EB-%d\",\"data\":",
                                c, k, t, month, day, c, c % 5);
                        if (strcmp(t, "assistance.decided") == 0)
                                fprintf(f, "{\"month\":\"2025-%02d\",\"outcome\":\"granted\",\"decision\":\"dd-%d-%d\","
                                           "\"child_impact_documented\":true}}\n", month, c, k);
                        else if (strcmp(t, "caseworker.assigned") == 0)
                                fprintf(f, "{\"caseworker\":\"hk%d\"}}\n", (c + k) % 40);
                        else if (strcmp(t, "actor.involved") == 0)
                                fprintf(f, "{\"actor\":\"%s\"}}\n", k % 2 ? "fk" : "region");
                        else if (strcmp(t, "children.mapped") == 0)
                                fprintf(f, "{\"home_visit\":true}}\n");
                        else
                                fprintf(f, "{}}\n");
                }
                c++;
        }
        fclose(f);
        return n;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 1099511628211ULL;
        return h;
}

/* Digest of a query's rows; also returns the row count. */
static uint64_t digest(sqlite3 *db, const char *sql, long long *rows)
{
        sqlite3_stmt *q;
        uint64_t h = 1469598103934665603ULL;
        *rows = 0;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
                fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
                return 0;
        }
        while (sqlite3_step(q) == SQLITE_ROW) {
                for (int i = 0; i < sqlite3_column_count(q); i++) {
                        const void *t = sqlite3_column_blob(q, i);
                        h = fnv(h, t ? t : "", (size_t)sqlite3_column_bytes(q, i));
                        h = fnv(h, "|", 1);
                }
                (*rows)++;
        }
        sqlite3_finalize(q);
        return h;
}

struct dump { uint64_t events, cases, reminders, feeds; long long n_events, n_cases, n_rem, distinct_seq, max_seq; };

static void dump_store(it_env_t *e, struct dump *d)
{
        char path[512];
        sqlite3 *db;
        long long rows;
        it_path(e, "bevaka.db", path, sizeof(path));
        CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        d->events = digest(db, "SELECT id, source, seq, type, at, case_id, status, body FROM events ORDER BY rowid",
                           &d->n_events);
        d->cases = digest(db, "SELECT * FROM cases ORDER BY case_id", &d->n_cases);
        d->reminders = digest(db, "SELECT * FROM reminders ORDER BY id", &d->n_rem);
        d->feeds = digest(db, "SELECT * FROM feeds", &rows);
        sqlite3_stmt *q;
        sqlite3_prepare_v2(db, "SELECT count(DISTINCT seq), max(seq) FROM events", -1, &q, NULL);
        if (sqlite3_step(q) == SQLITE_ROW) {
                d->distinct_seq = sqlite3_column_int64(q, 0);
                d->max_seq = sqlite3_column_int64(q, 1);
        }
        sqlite3_finalize(q);
        sqlite3_close(db);
}

static void run(it_env_t *e, const char *stream, int n, bool kills, struct dump *d)
{
        it_config(e, "2025-01-01T07:00:00+01:00", NULL);
        it_start_daemon(e);
        it_connect(e);
        it_start_feed(e, stream, "--wait-subscribers", "1", NULL);
        if (kills) {
                /* Random points, different each run (the seed is printed to reproduce one). */
                unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
                srand(seed);
                fprintf(stderr, "durability: kill seed %u\n", seed);
                for (int k = 0; k < 5; k++) {
                        long long at = (long long)n * (k * 18 + 5 + rand() % 15) / 100;
                        long long got = it_wait_stat(e, "events", "applied", at, 60000);
                        CHECK(got >= at);
                        it_stop(&e->daemon, SIGKILL);
                        fprintf(stderr, "durability: killed at %lld applied (aimed at %lld)\n", got, at);
                        it_start_daemon(e);
                        it_connect(e);
                }
        }
        CHECK_INT(it_wait_stat(e, "events", "applied", n, 120000), n);
        int st = it_stop(&e->daemon, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        it_stop(&e->feed, SIGTERM);
        dump_store(e, d);
}

int main(void)
{
        it_env_t a, b;
        struct dump da, db;
        char stream[512];
        int n = n_events();

        it_init(&a);
        it_init(&b);
        it_path(&a, "stream.jsonl", stream, sizeof(stream));
        CHECK_INT(write_stream(stream, n), n);

        run(&a, stream, n, false, &da);
        run(&b, stream, n, true, &db);

        CHECK_INT(da.n_events, n);
        CHECK_INT(db.n_events, n);
        CHECK_INT(db.distinct_seq, n);   /* no duplicates */
        CHECK_INT(db.max_seq, n);        /* no gaps */
        CHECK(da.events == db.events);
        CHECK_INT(da.n_cases, db.n_cases);
        CHECK(da.cases == db.cases);
        CHECK_INT(da.n_rem, db.n_rem);
        CHECK(da.reminders == db.reminders);
        CHECK(da.feeds == db.feeds);
        CHECK(da.n_rem > 0);
        fprintf(stderr, "durability: %d events, %lld cases, %lld reminders\n", n, da.n_cases, da.n_rem);

        it_cleanup(&a);
        it_cleanup(&b);
        return tap_done();
}
