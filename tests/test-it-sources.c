/*
 * Integration, issue #12 item 7: an adapter that sends 300 junk `source`
 * values before its real one. Before, each junk source took a place in
 * the table of feed positions (256 at most) and in the store, so the real
 * source was refused, also after a restart. Now the feed declares the
 * source it carries (feed.sources): the junk events are dead letters
 * without a position, the real events are applied, the store keeps the
 * one position, and after a kill -9 and a restart the real source goes on.
 */
#include <sqlite3.h>
#include "it.h"

#define JUNK 300
#define REAL 20

static long long feeds_rows(it_env_t *e)
{
        char path[512];
        sqlite3 *db;
        sqlite3_stmt *q;
        long long n = -1;

        it_path(e, "bevaka.db", path, sizeof(path));
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
                return -1;
        sqlite3_prepare_v2(db, "SELECT count(*) FROM feeds", -1, &q, NULL);
        if (sqlite3_step(q) == SQLITE_ROW)
                n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        return n;
}

int main(void)
{
        it_env_t e;
        char path[512];
        FILE *f;

        it_init(&e);
        it_config(&e, "2025-03-03T09:00:00+01:00", NULL);
        it_declare_sources(&e, "\"paraply-demo\"");
        it_path(&e, "junk.jsonl", path, sizeof(path));
        f = fopen(path, "w");
        for (int i = 0; i < JUNK; i++)
                fprintf(f, "{\"v\":1,\"id\":\"j-%d\",\"source\":\"junk-%d\",\"type\":\"ib1.completed\","
                           "\"at\":\"2025-03-03T10:00:00+01:00\",\"case\":\"EB-J%d\",\"unit\":\"U1\",\"data\":{}}\n",
                        i, i, i);
        for (int i = 0; i < REAL; i++)    /* no source: bevaka-feed's own, paraply-demo */
                fprintf(f, "{\"v\":1,\"id\":\"r-%d\",\"type\":\"ib1.completed\",\"at\":\"2025-03-03T10:00:00+01:00\","
                           "\"case\":\"EB-R%d\",\"unit\":\"U1\",\"data\":{}}\n", i, i);
        fclose(f);

        it_start_daemon(&e);
        it_connect(&e);
        it_start_feed(&e, path, "--wait-subscribers", "1", NULL);
        CHECK_INT(it_wait_stat(&e, "events", "applied", REAL, 30000), REAL);
        CHECK_INT(it_wait_stat(&e, "events", "dead_letters", JUNK, 30000), JUNK);
        json_t *r = it_api(&e, "{\"op\":\"stats\"}");
        json_t *feeds = json_object_get(r, "feeds");
        CHECK_INT(json_array_size(feeds), 1);
        CHECK_STR(json_string_value(json_object_get(json_array_get(feeds, 0), "source")), "paraply-demo");
        CHECK_INT(json_integer_value(json_object_get(json_object_get(r, "dead_letter_reasons"), "envelope.source")),
                  JUNK);
        json_decref(r);
        CHECK_INT(feeds_rows(&e), 1);

        /* kill -9 and back: the real source carries on, the junk has no place anywhere */
        it_stop(&e.daemon, SIGKILL);
        it_start_daemon(&e);
        it_connect(&e);
        CHECK_INT(it_wait_stat(&e, "events", "applied", REAL, 30000), REAL);
        r = it_api(&e, "{\"op\":\"stats\"}");
        feeds = json_object_get(r, "feeds");
        CHECK_INT(json_array_size(feeds), 1);
        CHECK_INT(json_integer_value(json_object_get(json_array_get(feeds, 0), "last_seq")), REAL);
        json_decref(r);
        CHECK_INT(feeds_rows(&e), 1);

        it_cleanup(&e);
        return tap_done();
}
