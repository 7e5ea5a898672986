/*
 * Integration: retention (gallring) under the manual clock, through the real
 * bevakad and bevaka-feed over ipc://. A case closed longer ago than
 * retention.closed_case_months is gone whole (state, events, reminders, and
 * the counts by state follow); a reopened one is kept; its old events sent
 * again (a replay under a reset feed position) do not bring it back, while a
 * later event starts a new history; `purge --case` deletes a case at once;
 * a retention shorter than the rules' look-back is refused with FILE:LINE.
 */
#include <sqlite3.h>
#include "it.h"

static long long count(const char *db, const char *sql)
{
        sqlite3 *h = NULL;
        sqlite3_stmt *q = NULL;
        long long v = -1;

        if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
                v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(h);
        return v;
}

static bool case_known(it_env_t *e, const char *id)
{
        json_t *r = it_api(e, "{\"op\":\"case\",\"case\":\"%s\"}", id);
        bool ok = r && json_is_true(json_object_get(r, "ok"));
        json_decref(r);
        return ok;
}

static long long stat2(it_env_t *e, const char *group, const char *key)
{
        json_t *r = it_api(e, "{\"op\":\"stats\"}");
        long long v = json_integer_value(json_object_get(json_object_get(r, group), key));
        json_decref(r);
        return v;
}

/* The counts by state that stats gives agree with the rows. */
static void counts_agree(it_env_t *e, const char *db)
{
        static const char *const states[] = { "scheduled", "delivered", "acknowledged", "snoozed", "resolved",
                                              "cancelled" };
        json_t *r = it_api(e, "{\"op\":\"stats\"}");
        for (int i = 0; i < 6; i++) {
                char sql[128];
                snprintf(sql, sizeof(sql), "SELECT count(*) FROM reminders WHERE state = %d", i);
                CHECK_INT(json_integer_value(json_object_get(json_object_get(r, "reminders"), states[i])),
                          count(db, sql));
        }
        json_decref(r);
}

static const char open_data[] = "\"data\":{\"caseworker\":\"hk1\",\"household\":{\"adults\":1,"
                                "\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}";

static void history(FILE *f, const char *c, const char *day, bool reopen)
{
        fprintf(f, "{\"v\":1,\"id\":\"%s-o\",\"type\":\"case.opened\",\"at\":\"%sT09:00:00+01:00\",\"case\":\"%s\","
                   "\"unit\":\"HV-EB-1\",%s}\n", c, day, c, open_data);
        fprintf(f, "{\"v\":1,\"id\":\"%s-i\",\"type\":\"ib1.completed\",\"at\":\"%sT10:00:00+01:00\",\"case\":\"%s\","
                   "\"unit\":\"HV-EB-1\"}\n", c, day, c);
        fprintf(f, "{\"v\":1,\"id\":\"%s-c\",\"type\":\"case.closed\",\"at\":\"%sT11:00:00+01:00\",\"case\":\"%s\","
                   "\"unit\":\"HV-EB-1\"}\n", c, day, c);
        if (reopen)
                fprintf(f, "{\"v\":1,\"id\":\"%s-r\",\"type\":\"case.reopened\",\"at\":\"%sT12:00:00+01:00\","
                           "\"case\":\"%s\",\"unit\":\"HV-EB-1\"}\n", c, day, c);
}

int main(void)
{
        it_env_t e;
        char path[512], again[512], db[512], conf[512], cmd[2048], out[512];
        json_t *r;
        FILE *f;

        it_init(&e);
        it_config(&e, "2026-01-05T07:00:00+01:00", NULL);
        it_declare_sources(&e, "\"paraply-demo\", \"paraply-2\"");   /* one adapter, two sources */
        it_path(&e, "history.jsonl", path, sizeof(path));
        it_path(&e, "bevaka.db", db, sizeof(db));
        f = fopen(path, "w");
        history(f, "EB-A", "2026-01-05", false);     /* closed: due for deletion in 24 months */
        history(f, "EB-B", "2026-01-05", true);      /* reopened: kept */
        history(f, "EB-C", "2026-01-05", true);      /* purged at once by an admin */
        fclose(f);
        it_start_daemon(&e);
        it_connect(&e);
        it_start_feed(&e, path, NULL);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 11, 20000), 11);
        CHECK(case_known(&e, "EB-A"));
        CHECK_INT(count(db, "SELECT count(*) FROM events WHERE case_id = 'EB-A'"), 3);
        CHECK(count(db, "SELECT count(*) FROM reminders WHERE case_id = 'EB-A'") > 0);
        CHECK(count(db, "SELECT count(*) FROM facts WHERE case_id = 'EB-A'") > 0);

        /* 23 months on: not yet. */
        r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2027-12-06T09:00:00+01:00\"}");
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        json_decref(r);
        CHECK(case_known(&e, "EB-A"));
        CHECK_INT(stat2(&e, "purge", "cases"), 0);

        /* Retention runs once a day of event time; a reload that changes it runs it at once: with
         * reminder_months = 12, EB-A's reminders closed 23 months ago go now, the case stays. */
        long long closed_rems = count(db, "SELECT count(*) FROM reminders WHERE case_id = 'EB-A' AND state >= 4");
        CHECK(closed_rems > 0);
        it_config(&e, "2026-01-05T07:00:00+01:00", "retention = { reminder_months = 12; };\n");
        it_declare_sources(&e, "\"paraply-demo\", \"paraply-2\"");
        r = it_api(&e, "{\"op\":\"reload\"}");
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        json_decref(r);
        for (int64_t end = it_ms() + 10000; stat2(&e, "purge", "reminders") < closed_rems && it_ms() < end;)
                usleep(20000);      /* polling interval: the run is the loop's next turn */
        CHECK(stat2(&e, "purge", "reminders") >= closed_rems);     /* EB-B's and EB-C's closed ones too */
        CHECK_INT(count(db, "SELECT count(*) FROM reminders WHERE case_id = 'EB-A' AND state >= 4"), 0);
        CHECK(case_known(&e, "EB-A"));
        CHECK_INT(stat2(&e, "purge", "cases"), 0);
        counts_agree(&e, db);

        /* 25 months on: EB-A is gone whole, EB-B (reopened) is kept. */
        r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2028-02-07T09:00:00+01:00\"}");
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        json_decref(r);
        CHECK(!case_known(&e, "EB-A"));
        CHECK_INT(count(db, "SELECT count(*) FROM events WHERE case_id = 'EB-A'"), 0);
        CHECK_INT(count(db, "SELECT count(*) FROM reminders WHERE case_id = 'EB-A'"), 0);
        CHECK_INT(count(db, "SELECT count(*) FROM cases WHERE case_id = 'EB-A'"), 0);
        CHECK_INT(count(db, "SELECT count(*) FROM facts WHERE case_id = 'EB-A'"), 0);      /* the indicators' too */
        CHECK_INT(count(db, "SELECT count(*) FROM outbox WHERE payload LIKE '%\"EB-A\"%'"), 0);
        CHECK_INT(count(db, "SELECT count(*) FROM purged_cases"), 1);
        CHECK_INT(count(db, "SELECT count(*) FROM purged_cases WHERE case_hash LIKE '%EB-A%'"), 0);
        CHECK_INT(stat2(&e, "purge", "cases"), 1);
        CHECK_INT(stat2(&e, "purge", "events"), 3);
        CHECK(case_known(&e, "EB-B"));
        CHECK_INT(count(db, "SELECT count(*) FROM events WHERE case_id = 'EB-B'"), 4);
        counts_agree(&e, db);

        /* A replay under a new feed position (another source name) does not bring EB-A back. */
        it_stop(&e.feed, SIGTERM);
        it_path(&e, "again.jsonl", again, sizeof(again));
        f = fopen(again, "w");
        fprintf(f, "{\"v\":1,\"id\":\"EB-A-o2\",\"source\":\"paraply-2\",\"seq\":1,\"type\":\"case.opened\","
                   "\"at\":\"2026-01-05T09:00:00+01:00\",\"case\":\"EB-A\",\"unit\":\"HV-EB-1\",%s}\n", open_data);
        fprintf(f, "{\"v\":1,\"id\":\"EB-A-i2\",\"source\":\"paraply-2\",\"seq\":2,\"type\":\"ib1.completed\","
                   "\"at\":\"2026-01-05T10:00:00+01:00\",\"case\":\"EB-A\",\"unit\":\"HV-EB-1\"}\n");
        fclose(f);
        it_start_feed(&e, again, "--raw", "--wait-subscribers", "1", NULL);
        CHECK_INT(it_wait_stat(&e, "purge", "dropped", 2, 20000), 2);
        CHECK(!case_known(&e, "EB-A"));
        CHECK_INT(count(db, "SELECT count(*) FROM events WHERE case_id = 'EB-A'"), 0);

        /* A restart asks the adapter to replay from the stored position: still gone. */
        it_stop(&e.daemon, SIGTERM);
        it_start_daemon(&e);
        it_connect(&e);
        CHECK(!case_known(&e, "EB-A"));
        CHECK(case_known(&e, "EB-B"));

        /* An admin purges EB-C at once; bevakactl says what went. */
        CHECK(count(db, "SELECT count(*) FROM outbox WHERE payload LIKE '%\"EB-C\"%'") > 0);
        it_path(&e, "purge.out", out, sizeof(out));
        snprintf(cmd, sizeof(cmd), "%s/bevakactl --api ipc://%s/api.sock purge --case EB-C > %s 2>&1", e.bin,
                 e.dir, out);
        CHECK_INT(system(cmd), 0);
        snprintf(cmd, sizeof(cmd), "grep -q '^purged: 4 event(s), ' %s", out);
        CHECK_INT(system(cmd), 0);
        CHECK(!case_known(&e, "EB-C"));
        CHECK_INT(count(db, "SELECT count(*) FROM events WHERE case_id = 'EB-C'"), 0);
        CHECK_INT(count(db, "SELECT count(*) FROM reminders WHERE case_id = 'EB-C'"), 0);
        CHECK_INT(count(db, "SELECT count(*) FROM facts WHERE case_id = 'EB-C'"), 0);
        CHECK_INT(count(db, "SELECT count(*) FROM outbox WHERE payload LIKE '%\"EB-C\"%'"), 0);
        counts_agree(&e, db);
        r = it_api(&e, "{\"op\":\"purge\",\"case\":\"EB-C\"}");
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "not_found");
        json_decref(r);

        /* A new event after the purge is new history: the case starts afresh. */
        it_stop(&e.feed, SIGTERM);
        f = fopen(again, "w");
        fprintf(f, "{\"v\":1,\"id\":\"EB-A-new\",\"source\":\"paraply-2\",\"seq\":3,\"type\":\"case.opened\","
                   "\"at\":\"2028-03-01T09:00:00+01:00\",\"case\":\"EB-A\",\"unit\":\"HV-EB-1\",%s}\n", open_data);
        fclose(f);
        it_start_feed(&e, again, "--raw", "--wait-subscribers", "1", NULL);
        for (int64_t end = it_ms() + 20000; !case_known(&e, "EB-A") && it_ms() < end;)
                usleep(20000);
        CHECK(case_known(&e, "EB-A"));
        CHECK_INT(count(db, "SELECT count(*) FROM events WHERE case_id = 'EB-A'"), 1);
        it_stop(&e.daemon, SIGTERM);

        /* Too short a retention is refused, naming file, line and setting. */
        it_path(&e, "short.conf", conf, sizeof(conf));
        it_write(conf, "feed: { endpoint = \"ipc:///tmp/x.sock\"; replay_endpoint = \"ipc:///tmp/r.sock\"; };\n"
                       "publish: { endpoint = \"ipc:///tmp/p.sock\"; };\n"
                       "api: { endpoint = \"ipc:///tmp/a.sock\"; };\n"
                       "retention: {\n"
                       "        closed_case_months = 6;\n"
                       "};\n");
        snprintf(cmd, sizeof(cmd), "%s/bevakad --config %s --check-config > %s 2>&1", e.bin, conf, out);
        CHECK(system(cmd) != 0);
        snprintf(cmd, sizeof(cmd), "grep -q 'short.conf:5: retention.closed_case_months: 6 months is shorter than the "
                                   "enabled rules look back (24 months)' %s", out);
        CHECK_INT(system(cmd), 0);
        /* and a longer look-back (FIA validity 36) moves the default with it */
        it_write(conf, "feed: { endpoint = \"ipc:///tmp/x.sock\"; replay_endpoint = \"ipc:///tmp/r.sock\"; };\n"
                       "publish: { endpoint = \"ipc:///tmp/p.sock\"; };\n"
                       "api: { endpoint = \"ipc:///tmp/a.sock\"; };\n"
                       "rules: { fia_valid_months = 36; };\n");
        snprintf(cmd, sizeof(cmd), "%s/bevakad --config %s --check-config 2>&1 | grep -q 'closed_case_months = 36;'",
                 e.bin, conf);
        CHECK_INT(system(cmd), 0);

        it_cleanup(&e);
        return tap_done();
}
