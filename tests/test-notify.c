/*
 * Integration: bevaka-notify --terminal against the real bevakad and
 * bevaka-feed over ipc://. A due reminder is printed exactly once, also
 * across restarts; one delivered while the notifier was off is printed when
 * it starts (sync first); a re-delivery after a snooze is printed again; a
 * resolved one prints its [resolved] line; SIGTERM exits 0. The notifier
 * says on stderr when its first snapshot is done, which is what the test
 * waits for before it counts: it never sleeps to wait.
 */
#include "it.h"

#define TOPIC "rem/HV-EB-1/hk1/"
#define TITLE "Nybesök (IB3) ej genomfört"

static int count_of(const char *hay, const char *needle)
{
        int n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static int log_count(const char *path, const char *needle)
{
        static char buf[1 << 20];
        FILE *f = fopen(path, "r");
        size_t k;
        if (!f)
                return 0;
        k = fread(buf, 1, sizeof(buf) - 1, f);
        buf[k] = '\0';
        fclose(f);
        return count_of(buf, needle);
}

/* Polls a file until `needle` occurs `want` times; returns the last count. */
static int log_wait(const char *path, const char *needle, int want, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        int n;
        while ((n = log_count(path, needle)) < want && it_ms() < end) {
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);   /* polling interval */
        }
        return n;
}

static void case_events(FILE *f, int c)
{
        fprintf(f, "{\"v\":1,\"id\":\"ev-%d-open\",\"type\":\"case.opened\",\"at\":\"2026-01-05T09:00:00+01:00\","
                   "\"case\":\"EB-2026-00000%d\",\"unit\":\"HV-EB-1\",\"actor\":\"hk1\",\"data\":{\"caseworker\":\"hk1\","
                   "\"household\":{\"adults\":1,\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}}\n",
                c, c);
        fprintf(f, "{\"v\":1,\"id\":\"ev-%d-ib1\",\"type\":\"ib1.completed\",\"at\":\"2026-01-07T10:00:00+01:00\","
                   "\"case\":\"EB-2026-00000%d\",\"unit\":\"HV-EB-1\",\"actor\":\"hk1\"}\n", c, c);
}

static pid_t notify_start(it_env_t *e)
{
        char exe[600], api[600], pub[600], state[600];
        snprintf(exe, sizeof(exe), "%s/bevaka-notify", e->bin);
        snprintf(api, sizeof(api), "ipc://%s/api.sock", e->dir);
        snprintf(pub, sizeof(pub), "ipc://%s/pub.sock", e->dir);
        snprintf(state, sizeof(state), "%s/state", e->dir);
        return it_spawn(e, "notify.log", (char *[]){ exe, "--topic", TOPIC, "--api", api, "--pub", pub,
                                                      "--terminal", "--state-dir", state, NULL });
}

static void reminder_id(it_env_t *e, int n, char *id, size_t size)
{
        json_t *r = it_api(e, "{\"op\":\"reminders\",\"case\":\"EB-2026-00000%d\",\"state\":\"any\"}", n);
        const char *s = json_string_value(json_object_get(json_array_get(json_object_get(r, "reminders"), 0), "id"));
        snprintf(id, size, "%s", s ? s : "none");
        json_decref(r);
}

int main(void)
{
        it_env_t e;
        char path[512], log[512], state[512], id[64];
        const char *due1 = "[due] 2026-01-21 IB3-DUE EB-2026-000001 \u2014 " TITLE "\n";
        const char *due2 = "[due] 2026-01-21 IB3-DUE EB-2026-000002 \u2014 " TITLE "\n";
        const char *due3 = "[due] 2026-01-21 IB3-DUE EB-2026-000003 \u2014 " TITLE "\n";
        const char *res1 = "[resolved] 2026-01-21 IB3-DUE EB-2026-000001 \u2014 " TITLE "\n";
        json_t *r;
        pid_t notify;
        int st;
        FILE *f;

        it_init(&e);
        /* the notifier's lifecycle, not a go-live: the January history pops up as it is delivered */
        it_config(&e, "2026-02-02T07:00:00+01:00", "delivery = { quiet = false; };\n");
        it_path(&e, "history.jsonl", path, sizeof(path));
        f = fopen(path, "w");
        case_events(f, 1);
        case_events(f, 2);
        fclose(f);
        it_start_daemon(&e);
        it_start_feed(&e, path, NULL);
        it_connect(&e);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 4, 20000), 4);
        it_path(&e, "notify.log", log, sizeof(log));

        /* Nothing delivered yet: an empty first snapshot. */
        notify = notify_start(&e);
        CHECK_INT(log_wait(log, "bevaka-notify: following " TOPIC, 1, 15000), 1);
        CHECK_INT(log_count(log, "[due]"), 0);

        /* Live: the morning delivers both. */
        r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2026-02-02T09:00:00+01:00\"}");
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        json_decref(r);
        CHECK_INT(log_wait(log, due1, 1, 15000), 1);
        CHECK_INT(log_wait(log, due2, 1, 15000), 1);

        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        snprintf(state, sizeof(state), "%s/state/notify-rem_HV-EB-1_hk1_.json", e.dir);
        r = json_load_file(state, 0, NULL);
        CHECK_STR(json_string_value(json_object_get(r, "topic")), TOPIC);
        CHECK_INT(json_object_size(json_object_get(r, "shown")), 2);
        CHECK(json_integer_value(json_object_get(r, "rseq")) >= 2);
        json_decref(r);

        /* While the desktop is off, case 3 arrives and is delivered at once. */
        it_stop(&e.feed, SIGTERM);
        it_path(&e, "more.jsonl", path, sizeof(path));
        f = fopen(path, "w");
        case_events(f, 3);
        fclose(f);
        it_start_feed(&e, path, NULL);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 6, 20000), 6);
        CHECK_INT(it_wait_stat(&e, "reminders", "delivered", 3, 20000), 3);

        /* Restart: case 3 from the sync; 1 and 2 were shown and stay quiet. */
        notify = notify_start(&e);
        CHECK_INT(log_wait(log, "bevaka-notify: following " TOPIC, 2, 15000), 2);
        CHECK_INT(log_wait(log, due3, 1, 15000), 1);
        CHECK_INT(log_count(log, due1), 1);
        CHECK_INT(log_count(log, due2), 1);

        /* A snooze ends with a re-delivery, which is news again. */
        reminder_id(&e, 2, id, sizeof(id));
        r = it_api(&e, "{\"op\":\"snooze\",\"id\":\"%s\",\"until\":\"2026-02-02T10:00:00+01:00\"}", id);
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "reminder"), "state")), "snoozed");
        json_decref(r);
        r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2026-02-02T10:30:00+01:00\"}");
        json_decref(r);
        CHECK_INT(log_wait(log, due2, 2, 15000), 2);

        /* Resolved by the case system: the closing line. */
        it_stop(&e.feed, SIGTERM);
        it_path(&e, "resolve.jsonl", path, sizeof(path));
        it_write(path, "{\"v\":1,\"id\":\"ev-1-ib3\",\"type\":\"ib3.completed\",\"at\":\"2026-02-02T10:00:00+01:00\","
                       "\"case\":\"EB-2026-000001\",\"unit\":\"HV-EB-1\",\"actor\":\"hk1\"}\n");
        it_start_feed(&e, path, NULL);
        CHECK_INT(log_wait(log, res1, 1, 20000), 1);

        /* One more restart: nothing is shown twice. */
        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        notify = notify_start(&e);
        CHECK_INT(log_wait(log, "bevaka-notify: following " TOPIC, 3, 15000), 3);
        CHECK_INT(log_count(log, due1), 1);
        CHECK_INT(log_count(log, due2), 2);
        CHECK_INT(log_count(log, due3), 1);
        CHECK_INT(log_count(log, res1), 1);
        CHECK_INT(log_count(log, "[due]"), 4);
        r = json_load_file(state, 0, NULL);
        CHECK_INT(json_object_size(json_object_get(r, "shown")), 2);     /* case 1 is gone */
        json_decref(r);
        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

        /*
         * Several topics in one process (a caseworker who is also the unit's
         * lead), the second as an argument the way the user unit passes
         * $BEVAKA_TOPIC: both followed, each with its own state file, and
         * what is open shown once.
         */
        char exe[600], api[600], pub[600], state2[600], log2[600], f2[700];
        snprintf(exe, sizeof(exe), "%s/bevaka-notify", e.bin);
        snprintf(api, sizeof(api), "ipc://%s/api.sock", e.dir);
        snprintf(pub, sizeof(pub), "ipc://%s/pub.sock", e.dir);
        snprintf(state2, sizeof(state2), "%s/state2", e.dir);
        it_path(&e, "notify2.log", log2, sizeof(log2));
        notify = it_spawn(&e, "notify2.log", (char *[]){ exe, "--api", api, "--pub", pub, "--terminal", "--state-dir",
                                                         state2, "--topic", TOPIC, "rem/HV-EB-1/@leads/", NULL });
        CHECK_INT(log_wait(log2, "bevaka-notify: following " TOPIC, 1, 15000), 1);
        CHECK_INT(log_wait(log2, "bevaka-notify: following rem/HV-EB-1/@leads/", 1, 15000), 1);
        CHECK_INT(log_count(log2, due2), 1);
        CHECK_INT(log_count(log2, due3), 1);
        CHECK_INT(log_count(log2, due1), 0);
        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        snprintf(f2, sizeof(f2), "%s/notify-rem_HV-EB-1_hk1_.json", state2);
        CHECK(access(f2, F_OK) == 0);
        snprintf(f2, sizeof(f2), "%s/notify-rem_HV-EB-1_@leads_.json", state2);
        CHECK(access(f2, F_OK) == 0);

        /* Usage errors exit 2. */
        pid_t bad = it_spawn(&e, "usage.log", (char *[]){ exe, "--topic", "hk1", "--terminal", NULL });
        st = it_wait_exit(bad, 10000);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);

        it_cleanup(&e);
        return tap_done();
}
