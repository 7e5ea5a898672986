/*
 * Integration: event time (protocol §6, issue 12), through the real bevakad
 * and bevaka-feed. A heartbeat is never work: an "at once" reminder
 * (HANDOVER) is published within 1 s of its event being applied with
 * heartbeats every 500 and 1000 ms, under the manual clock and the system
 * clock (the latter only on a working day: office hours are opened to the
 * whole day, a weekend or holiday skips that half with the reason). And
 * retention follows the watermark: during an import whose later history is
 * still arriving, a case closed long before the clock (but not long before
 * the history's present) is not purged, so its reopening is not dropped.
 */
#include "it.h"

/* bevaka-feed publish - (a pipe: a live adapter) with the given heartbeat; *in gets the write end. */
static pid_t start_live_feed(it_env_t *e, const char *hb_ms, int *in)
{
        char exe[600], ep[600], rep[600], db[600], log[600];
        int p[2];
        pid_t pid;

        snprintf(exe, sizeof(exe), "%s/bevaka-feed", e->bin);
        snprintf(ep, sizeof(ep), "ipc://%s/feed.sock", e->dir);
        snprintf(rep, sizeof(rep), "ipc://%s/replay.sock", e->dir);
        snprintf(db, sizeof(db), "%s/feed.db", e->dir);
        it_path(e, "feed.log", log, sizeof(log));
        if (pipe(p) != 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                dup2(p[0], 0);
                if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
                close(p[1]);
                execl(exe, exe, "publish", "--endpoint", ep, "--replay-endpoint", rep, "--db", db, "--heartbeat-ms",
                      hb_ms, "-q", "-", (char *)NULL);
                _exit(127);
        }
        close(p[0]);
        *in = p[1];
        e->feed = pid;
        return pid;
}

static long long applied(it_env_t *e)
{
        json_t *r = it_api(e, "{\"op\":\"stats\"}");
        long long v = json_integer_value(json_object_get(json_object_get(r, "events"), "applied"));
        json_decref(r);
        return v;
}

/* Local time now minus a minute, as RFC 3339 with offset (events of a live adapter). */
static void now_at(char *buf, size_t n)
{
        time_t t = time(NULL) - 60;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(buf, n, "%Y-%m-%dT%H:%M:%S%z", &tm);
        /* +0100 -> +01:00 */
        size_t len = strlen(buf);
        memmove(buf + len - 1, buf + len - 2, 3);
        buf[len - 2] = ':';
}

/*
 * One case opened by hk1 and handed to hk2 at `at`: HANDOVER is due at once. Returns how long after
 * the event was applied (as the API sees it) the `due` arrived, in ms; -1 if it did not.
 */
static long long handover_latency(const char *clock_conf, const char *at_open, const char *at_assign, const char *hb,
                                  const char *tag)
{
        it_env_t e;
        char path[512], text[2048];
        int in = -1;
        long long res = -1;

        it_init(&e);
        it_path(&e, "bevakad.conf", path, sizeof(path));
        snprintf(text, sizeof(text),
                 "store: { path = \"bevaka.db\"; synchronous = \"normal\"; };\n"
                 "feed: { endpoint = \"ipc://%s/feed.sock\"; replay_endpoint = \"ipc://%s/replay.sock\"; };\n"
                 "publish: { endpoint = \"ipc://%s/pub.sock\"; };\napi: { endpoint = \"ipc://%s/api.sock\"; };\n"
                 "security: { curve = false; };\n%s",
                 e.dir, e.dir, e.dir, e.dir, clock_conf);
        it_write(path, text);
        it_start_daemon(&e);
        it_connect(&e);
        start_live_feed(&e, hb, &in);
        snprintf(text, sizeof(text),
                 "{\"v\":1,\"id\":\"ho-open-%s\",\"type\":\"case.opened\",\"at\":\"%s\",\"case\":\"EB-2025-001101\","
                 "\"unit\":\"HV-EB-1\",\"data\":{\"caseworker\":\"hk1\",\"household\":{\"adults\":1,"
                 "\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}}\n"
                 "{\"v\":1,\"id\":\"ho-assign-%s\",\"type\":\"caseworker.assigned\",\"at\":\"%s\","
                 "\"case\":\"EB-2025-001101\",\"unit\":\"HV-EB-1\",\"data\":{\"caseworker\":\"hk2\"}}\n",
                 tag, at_open, tag, at_assign);
        /* let the feed's heartbeats run a while first: they must not hold anything up */
        for (int64_t t = it_ms() + 1500; it_ms() < t;)
                json_decref(it_api(&e, "{\"op\":\"hello\"}"));
        CHECK(write(in, text, strlen(text)) == (ssize_t)strlen(text));
        int64_t end = it_ms() + 15000, t_applied = -1;
        while (it_ms() < end && t_applied < 0)
                if (applied(&e) >= 2)
                        t_applied = it_ms();
        CHECK(t_applied > 0);
        while (t_applied > 0 && it_ms() < end) {
                char topic[256];
                json_t *m = it_recv_reminder(&e, topic, sizeof(topic), 100);
                if (m && strcmp(json_string_value(json_object_get(m, "rule")), "HANDOVER") == 0 &&
                    strcmp(json_string_value(json_object_get(m, "op")), "due") == 0) {
                        res = it_ms() - t_applied;
                        CHECK_STR(topic, "rem/HV-EB-1/hk2/");
                        json_decref(m);
                        break;
                }
                json_decref(m);
        }
        close(in);
        it_cleanup(&e);
        printf("# %s, heartbeat %s ms: due %lld ms after the event was applied\n", tag, hb, res);
        return res;
}

static void test_at_once(void)
{
        static const char *const hbs[] = { "500", "1000" };
        char at[64], day[32];
        time_t t = time(NULL);
        struct tm tm;

        for (int i = 0; i < 2; i++) {
                long long ms = handover_latency("clock: { mode = \"manual\"; start = \"2025-03-19T10:05:00+01:00\"; };\n",
                                                "2025-03-19T09:00:00+01:00", "2025-03-19T10:00:00+01:00", hbs[i],
                                                "manual");
                CHECK(ms >= 0 && ms <= 1000);
        }
        /* the system clock: only on a working day (weekends and holidays deliver on the next one) */
        localtime_r(&t, &tm);
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
        if (tm.tm_wday == 0 || tm.tm_wday == 6 || (tm.tm_mon == 11 && tm.tm_mday >= 24) ||
            (tm.tm_mon == 0 && (tm.tm_mday == 1 || tm.tm_mday == 6))) {
                printf("# skip: the system-clock half needs a working day, %s is none\n", day);
                return;
        }
        now_at(at, sizeof(at));
        for (int i = 0; i < 2; i++) {
                long long ms = handover_latency("clock: { mode = \"system\"; };\n"
                                                "calendar: { office_start = \"00:00\"; office_end = \"23:59\"; };\n",
                                                at, at, hbs[i], "system");
                CHECK(ms >= 0 && ms <= 1000);
        }
}

static bool case_open(it_env_t *e, const char *id, long long *events)
{
        json_t *r = it_api(e, "{\"op\":\"case\",\"case\":\"%s\"}", id);
        bool ok = r && json_is_true(json_object_get(r, "ok"));
        json_t *c = json_object_get(r, "case") ? json_object_get(r, "case") : r;
        *events = (long long)json_array_size(json_object_get(c, "events"));
        json_decref(r);
        return ok;
}

static const char opened[] = "\"data\":{\"caseworker\":\"hk1\",\"household\":{\"adults\":1,\"single_parent\":false,"
                             "\"children\":[]},\"barrier\":\"unemployment\"}";

/*
 * The clock is far ahead (2028-03-01) of a history being imported. EB-A closed on 2025-02-03 and
 * reopens on 2026-06-01; EB-B closed the same day and stays closed. After the first part, with the
 * reopening still to come, retention is forced (the clock op): by the clock both closed cases are
 * 24 months gone, by the history's event time (2025-03) neither is. Nothing is purged and the
 * reopening applies.
 */
static void test_retention_follows_watermark(void)
{
        it_env_t e;
        char p1[512], p2[512];
        FILE *f;
        long long n = 0;

        it_init(&e);
        it_config(&e, "2028-03-01T09:00:00+01:00", NULL);
        it_path(&e, "part1.jsonl", p1, sizeof(p1));
        it_path(&e, "part2.jsonl", p2, sizeof(p2));
        f = fopen(p1, "w");
        for (int c = 0; c < 2; c++) {
                fprintf(f, "{\"v\":1,\"id\":\"o-%d\",\"type\":\"case.opened\",\"at\":\"2025-01-10T09:00:00+01:00\","
                           "\"case\":\"EB-%c\",\"unit\":\"HV-EB-1\",%s}\n", c, 'A' + c, opened);
                fprintf(f, "{\"v\":1,\"id\":\"c-%d\",\"type\":\"case.closed\",\"at\":\"2025-02-03T09:00:00+01:00\","
                           "\"case\":\"EB-%c\",\"unit\":\"HV-EB-1\"}\n", c, 'A' + c);
        }
        fprintf(f, "{\"v\":1,\"id\":\"x-1\",\"type\":\"case.opened\",\"at\":\"2025-03-03T09:00:00+01:00\","
                   "\"case\":\"EB-X\",\"unit\":\"HV-EB-1\",%s}\n", opened);
        fclose(f);
        f = fopen(p2, "w");
        fprintf(f, "{\"v\":1,\"id\":\"r-0\",\"type\":\"case.reopened\",\"at\":\"2026-06-01T09:00:00+02:00\","
                   "\"case\":\"EB-A\",\"unit\":\"HV-EB-1\"}\n");
        fclose(f);
        it_start_daemon(&e);
        it_connect(&e);
        /* a history: the feed says event time by the events' `at` until told otherwise */
        it_start_feed(&e, p1, "--watermark", "at", NULL);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 5, 20000), 5);
        json_t *r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2028-03-01T09:00:00+01:00\"}");    /* forces retention */
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        json_decref(r);
        r = it_api(&e, "{\"op\":\"stats\"}");
        CHECK_INT(json_integer_value(json_object_get(json_object_get(r, "purge"), "cases")), 0);
        json_decref(r);
        it_stop(&e.feed, SIGTERM);
        it_start_feed(&e, p2, "--watermark", "at", NULL);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 6, 20000), 6);
        CHECK(case_open(&e, "EB-A", &n));
        CHECK(case_open(&e, "EB-B", &n));
        r = it_api(&e, "{\"op\":\"stats\"}");
        CHECK_INT(json_integer_value(json_object_get(json_object_get(r, "purge"), "dropped")), 0);
        CHECK_INT(json_integer_value(json_object_get(json_object_get(r, "purge"), "cases")), 0);
        json_decref(r);
        it_cleanup(&e);
}

int main(void)
{
        test_at_once();
        test_retention_follows_watermark();
        return tap_done();
}
