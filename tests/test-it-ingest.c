/*
 * Integration: the real bevakad fed by the real bevaka-feed over ipc://.
 * Covers protocol §1: applying a stream in order, duplicates dropped,
 * a gap repaired by replay, the daemon started after the feed published
 * (replay from the stored position), a feed restart, dead letters with
 * their reasons, and a clean exit 0 on SIGTERM.
 */
#include "it.h"

/* A small realistic history: n cases, each opened then decided month by month. */
static void write_history(const char *path, int cases, int months, int first_case)
{
        FILE *f = fopen(path, "w");
        for (int c = 0; c < cases; c++) {
                int id = first_case + c;
                fprintf(f, "{\"v\":1,\"id\":\"ev-%d-open\",\"type\":\"case.opened\",\"at\":\"2025-01-02T09:00:00+01:00\","
                           "\"case\":\"EB-2025-%06d\",\"unit\":\"HV-EB-1\",\"actor\":\"hk%d\",\"data\":{\"caseworker\":\"hk%d\","
                           "\"household\":{\"adults\":1,\"single_parent\":true,\"children\":[\"2015-04\"]},\"barrier\":\"unemployment\"}}\n",
                        id, id, c % 7, c % 7);
                for (int m = 1; m <= months; m++)
                        fprintf(f, "{\"v\":1,\"id\":\"ev-%d-dec-%d\",\"type\":\"assistance.decided\",\"at\":\"2025-%02d-05T10:00:00+01:00\","
                                   "\"case\":\"EB-2025-%06d\",\"unit\":\"HV-EB-1\",\"data\":{\"month\":\"2025-%02d\","
                                   "\"outcome\":\"granted\",\"decision\":\"d-%d-%d\",\"child_impact_documented\":true}}\n",
                                id, m, m, id, m, id, m);
        }
        fclose(f);
}

static long long stat_of(it_env_t *e, const char *group, const char *key)
{
        json_t *r = it_api(e, "{\"op\":\"stats\"}");
        long long v = r ? json_integer_value(json_object_get(json_object_get(r, group), key)) : -1;
        json_decref(r);
        return v;
}

int main(void)
{
        it_env_t e;
        char path[512], path2[512], path3[512];
        json_t *r;

        it_init(&e);
        it_config(&e, "2025-01-01T07:00:00+01:00", NULL);
        it_path(&e, "history.jsonl", path, sizeof(path));
        write_history(path, 20, 10, 1);          /* 20 * 11 = 220 events */

        /* The feed publishes before the daemon exists: everything must come by replay. */
        it_start_feed(&e, path, "--skip-seq", "50", NULL);
        it_start_daemon(&e);
        it_connect(&e);

        r = it_api(&e, "{\"op\":\"hello\",\"req\":7}");
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        CHECK_INT(json_integer_value(json_object_get(r, "req")), 7);
        CHECK_INT(json_integer_value(json_object_get(r, "protocol")), 1);
        CHECK_STR(json_string_value(json_object_get(r, "role")), "admin");
        json_decref(r);

        CHECK_INT(it_wait_stat(&e, "events", "applied", 220, 20000), 220);
        CHECK_INT(stat_of(&e, "events", "dead_letters"), 0);

        r = it_api(&e, "{\"op\":\"stats\"}");
        json_t *feeds = json_object_get(r, "feeds");
        CHECK_INT(json_array_size(feeds), 1);
        CHECK_STR(json_string_value(json_object_get(json_array_get(feeds, 0), "source")), "paraply-demo");
        CHECK_INT(json_integer_value(json_object_get(json_array_get(feeds, 0), "last_seq")), 220);
        json_decref(r);

        /* The case view reflects the events. */
        r = it_api(&e, "{\"op\":\"case\",\"case\":\"EB-2025-000003\"}");
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        CHECK_STR(json_string_value(json_object_get(r, "unit")), "HV-EB-1");
        CHECK_INT(json_array_size(json_object_get(r, "granted_months")), 10);
        json_decref(r);

        /* Restart the feed with more events, one of them skipped live (a gap to repair),
         * and the same 220 again re-published verbatim as duplicates. */
        it_stop(&e.feed, SIGTERM);
        it_path(&e, "more.jsonl", path2, sizeof(path2));
        write_history(path2, 5, 2, 100);          /* 15 events: seq 221..235 */
        it_start_feed(&e, path2, "--skip-seq", "225", "--wait-subscribers", "1", NULL);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 235, 20000), 235);
        r = it_api(&e, "{\"op\":\"stats\"}");
        CHECK(json_integer_value(json_object_get(r, "gaps")) >= 1);
        CHECK(json_integer_value(json_object_get(r, "replays")) >= 2);
        json_decref(r);

        /* Dead letters: raw garbage and invalid events, each with its precise reason. */
        it_stop(&e.feed, SIGTERM);
        it_path(&e, "bad.jsonl", path3, sizeof(path3));
        it_write(path3,
                 "this is not json\n"
                 "{\"v\":1,\"id\":\"x1\",\"source\":\"paraply-demo\",\"seq\":236,\"type\":\"case.opened\",\"at\":\"yesterday\","
                 "\"case\":\"EB-1\",\"unit\":\"U\",\"data\":{\"caseworker\":\"hk1\"}}\n"
                 "{\"v\":1,\"id\":\"x2\",\"source\":\"paraply-demo\",\"seq\":237,\"type\":\"case.closed\",\"at\":\"2025-03-01T10:00:00Z\","
                 "\"case\":\"EB-19850312-1231\",\"unit\":\"U\"}\n"
                 "{\"v\":1,\"id\":\"x3\",\"source\":\"paraply-demo\",\"seq\":238,\"type\":\"future.thing\",\"at\":\"2025-03-01T10:00:00Z\","
                 "\"case\":\"EB-1\",\"unit\":\"U\"}\n");
        it_start_feed(&e, path3, "--raw", "--wait-subscribers", "1", NULL);
        CHECK_INT(it_wait_stat(&e, "events", "dead_letters", 3, 20000), 3);
        CHECK_INT(it_wait_stat(&e, "events", "ignored", 1, 20000), 1);
        r = it_api(&e, "{\"op\":\"dead_letters\",\"limit\":10}");
        json_t *dl = json_object_get(r, "dead_letters");
        CHECK_INT(json_array_size(dl), 3);
        const char *r0 = json_string_value(json_object_get(json_array_get(dl, 0), "reason"));
        const char *r1 = json_string_value(json_object_get(json_array_get(dl, 1), "reason"));
        const char *r2 = json_string_value(json_object_get(json_array_get(dl, 2), "reason"));
        CHECK(r0 && strstr(r0, "personnummer"));
        CHECK(r1 && strstr(r1, "envelope.at"));
        CHECK(r2 && strstr(r2, "not JSON"));
        /* The personnummer never comes back out in a reason. */
        CHECK(r0 && !strstr(r0, "850312"));
        json_decref(r);
        /* seq advanced past the invalid ones: the feed is not stuck. */
        r = it_api(&e, "{\"op\":\"stats\"}");
        CHECK_INT(json_integer_value(json_object_get(json_array_get(json_object_get(r, "feeds"), 0), "last_seq")), 238);
        json_decref(r);

        /* Malformed API requests get error replies and the daemon stays up. */
        r = it_api(&e, "not json");
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "bad_request");
        json_decref(r);
        r = it_api(&e, "{\"op\":\"fly\"}");
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "unknown_op");
        json_decref(r);
        r = it_api(&e, "{\"op\":\"case\"}");
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "bad_request");
        json_decref(r);
        r = it_api(&e, "{\"op\":\"case\",\"case\":\"EB-none\"}");
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "not_found");
        json_decref(r);
        r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2024-01-01T00:00:00Z\"}");
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "conflict");
        json_decref(r);
        r = it_api(&e, "{\"op\":\"hello\"}");
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        json_decref(r);

        /* Restart the daemon: positions survive; nothing is applied twice. */
        CHECK_INT(WEXITSTATUS(it_stop(&e.daemon, SIGTERM)), 0);
        it_start_daemon(&e);
        it_connect(&e);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 235, 10000), 235);
        CHECK_INT(stat_of(&e, "events", "applied"), 235);
        CHECK_INT(stat_of(&e, "events", "dead_letters"), 3);

        it_stop(&e.feed, SIGTERM);
        int st = it_stop(&e.daemon, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        it_cleanup(&e);
        return tap_done();
}
