/*
 * Integration: bevakactl against the real bevakad fed by the real
 * bevaka-feed over ipc://. Every command's output and exit code (0 ok,
 * 1 the daemon's error, 2 usage, 3 no answer), --json, `watch` receiving
 * live reminders and ending 0 on Ctrl-C, and `metrics` in Prometheus text
 * format. The history is three cases whose IB1 is three weeks old, so each
 * has an IB3-DUE reminder that the manual clock's move to a working morning
 * delivers.
 */
#include <poll.h>
#include <regex.h>
#include <stdbool.h>
#include "it.h"

#define TOPIC "rem/HV-EB-1/hk1/"

typedef struct run {
        int status;             /* exit code, or -1 (killed, timed out) */
        char out[65536];
        char err[8192];
} run_t;

static void ctl_env(it_env_t *e)
{
        char ep[600];
        snprintf(ep, sizeof(ep), "ipc://%s/api.sock", e->dir);
        setenv("BEVAKA_API", ep, 1);
        snprintf(ep, sizeof(ep), "ipc://%s/pub.sock", e->dir);
        setenv("BEVAKA_PUB", ep, 1);
}

/* Runs bevakactl with the NULL-terminated args; captures stdout and stderr. */
static int ctl(it_env_t *e, run_t *r, ...)
{
        char exe[600], *argv[32];
        int out[2], err[2], n = 0, st;
        size_t lo = 0, le = 0;
        va_list ap;
        pid_t pid;
        int64_t end = it_ms() + 30000;

        snprintf(exe, sizeof(exe), "%s/bevakactl", e->bin);
        argv[n++] = exe;
        va_start(ap, r);
        for (char *a; (a = va_arg(ap, char *)) && n < 31;)
                argv[n++] = a;
        va_end(ap);
        argv[n] = NULL;
        if (pipe(out) != 0 || pipe(err) != 0) { perror("pipe"); exit(2); }
        pid = fork();
        if (pid == 0) {
                dup2(out[1], 1);
                dup2(err[1], 2);
                close(out[0]); close(err[0]); close(out[1]); close(err[1]);
                execv(exe, argv);
                _exit(127);
        }
        close(out[1]);
        close(err[1]);
        struct pollfd p[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
        while ((p[0].fd >= 0 || p[1].fd >= 0) && it_ms() < end) {
                if (poll(p, 2, 1000) <= 0)
                        continue;
                for (int i = 0; i < 2; i++) {
                        if (!(p[i].revents & (POLLIN | POLLHUP)))
                                continue;
                        char *buf = i ? r->err : r->out;
                        size_t *len = i ? &le : &lo, cap = i ? sizeof(r->err) : sizeof(r->out);
                        ssize_t k = read(p[i].fd, buf + *len, cap - 1 - *len);
                        if (k <= 0) {
                                close(p[i].fd);
                                p[i].fd = -1;
                        } else {
                                *len += (size_t)k;
                        }
                }
        }
        r->out[lo] = '\0';
        r->err[le] = '\0';
        if (p[0].fd >= 0) close(p[0].fd);
        if (p[1].fd >= 0) close(p[1].fd);
        st = it_wait_exit(pid, 10000);
        if (st == -1) {
                kill(pid, SIGKILL);
                it_wait_exit(pid, 5000);
        }
        r->status = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (getenv("BEVAKA_VERBOSE"))
                fprintf(stderr, "$ bevakactl %s ... -> %d\n%s%s", argv[1], r->status, r->out, r->err);
        return r->status;
}

static int count_of(const char *hay, const char *needle)
{
        int n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* Polls a file until `needle` occurs `want` times; returns the last count. */
static int log_wait(const char *path, const char *needle, int want, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        int n = 0;
        static char buf[1 << 20];
        do {
                FILE *f = fopen(path, "r");
                if (f) {
                        size_t k = fread(buf, 1, sizeof(buf) - 1, f);
                        buf[k] = '\0';
                        fclose(f);
                        n = count_of(buf, needle);
                        if (n >= want)
                                return n;
                }
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);   /* polling interval */
        } while (it_ms() < end);
        return n;
}

static void write_history(const char *path)
{
        FILE *f = fopen(path, "w");
        for (int c = 1; c <= 3; c++) {
                fprintf(f, "{\"v\":1,\"id\":\"ev-%d-open\",\"type\":\"case.opened\",\"at\":\"2026-01-05T09:00:00+01:00\","
                           "\"case\":\"EB-2026-00000%d\",\"unit\":\"HV-EB-1\",\"actor\":\"hk1\",\"data\":{\"caseworker\":\"hk1\","
                           "\"household\":{\"adults\":1,\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}}\n",
                        c, c);
                fprintf(f, "{\"v\":1,\"id\":\"ev-%d-ib1\",\"type\":\"ib1.completed\",\"at\":\"2026-01-07T10:00:00+01:00\","
                           "\"case\":\"EB-2026-00000%d\",\"unit\":\"HV-EB-1\",\"actor\":\"hk1\"}\n", c, c);
        }
        fclose(f);
}

/* The id of the IB3-DUE reminder of case n, from the API. */
static void reminder_id(it_env_t *e, int n, char *id, size_t size)
{
        json_t *r = it_api(e, "{\"op\":\"reminders\",\"case\":\"EB-2026-00000%d\",\"state\":\"any\"}", n);
        const char *s = json_string_value(json_object_get(json_array_get(json_object_get(r, "reminders"), 0), "id"));
        snprintf(id, size, "%s", s ? s : "none");
        json_decref(r);
}

static const char *state_of(it_env_t *e, const char *id, char *buf, size_t n)
{
        json_t *r = it_api(e, "{\"op\":\"reminders\",\"state\":\"any\"}");
        size_t i;
        json_t *x;
        snprintf(buf, n, "none");
        json_array_foreach(json_object_get(r, "reminders"), i, x)
                if (strcmp(json_string_value(json_object_get(x, "id")), id) == 0)
                        snprintf(buf, n, "%s", json_string_value(json_object_get(x, "state")));
        json_decref(r);
        return buf;
}

/* Every sample line is `name{labels} value`; every family has HELP and TYPE. */
static bool prometheus_ok(const char *text)
{
        regex_t sample, comment;
        char line[1024];
        bool ok = true;
        int lines = 0;

        regcomp(&sample, "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
                         "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})? -?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$",
                REG_EXTENDED | REG_NOSUB);
        regcomp(&comment, "^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", REG_EXTENDED | REG_NOSUB);
        for (const char *p = text; *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                snprintf(line, sizeof(line), "%.*s", (int)BK_IT_MIN(len, sizeof(line) - 1), p);
                if (regexec(line[0] == '#' ? &comment : &sample, line, 0, NULL, 0) != 0) {
                        fprintf(stderr, "not Prometheus text: %s\n", line);
                        ok = false;
                }
                lines++;
                p += len + (nl ? 1 : 0);
        }
        regfree(&sample);
        regfree(&comment);
        return ok && lines > 0;
}

/* promtool check metrics (Debian's prometheus, installed by scripts/deps.sh): the linter Prometheus itself uses. */
static bool promtool_ok(it_env_t *e, const char *text)
{
        char file[600], cmd[1400];
        snprintf(file, sizeof(file), "%s/metrics.prom", e->dir);
        it_write(file, text);
        snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", file);
        int st = system(cmd);
        if (st != 0)
                fprintf(stderr, "promtool check metrics failed (%d) on:\n%s", st, text);
        return st == 0;
}

int main(void)
{
        it_env_t e;
        run_t r;
        char path[512], bad[512], log[512], exe[600], id1[64], id2[64], id3[64], st[32];
        pid_t watch, watch_json;

        it_init(&e);
        it_config(&e, "2026-02-02T07:00:00+01:00", NULL);
        it_path(&e, "history.jsonl", path, sizeof(path));
        write_history(path);
        it_start_daemon(&e);
        it_start_feed(&e, path, NULL);
        it_connect(&e);
        ctl_env(&e);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 6, 20000), 6);

        /* A live view first, so it sees the deliveries as they happen. */
        snprintf(exe, sizeof(exe), "%s/bevakactl", e.bin);
        watch = it_spawn(&e, "watch.log", (char *[]){ exe, "watch", TOPIC, NULL });
        watch_json = it_spawn(&e, "watch-json.log", (char *[]){ exe, "--json", "watch", TOPIC, NULL });
        it_path(&e, "watch.log", log, sizeof(log));
        CHECK_INT(log_wait(log, "-- live", 1, 15000), 1);
        it_path(&e, "watch-json.log", path, sizeof(path));
        CHECK_INT(log_wait(path, "\"kind\":\"snapshot_end\"", 1, 15000), 1);

        /* Usage errors: exit 2, nothing asked. */
        CHECK_INT(ctl(&e, &r, NULL), 2);
        CHECK_INT(ctl(&e, &r, "fly", NULL), 2);
        CHECK(strstr(r.err, "unknown command: fly") != NULL);
        CHECK_INT(ctl(&e, &r, "--timeout", "soon", "hello", NULL), 2);
        CHECK_INT(ctl(&e, &r, "case", NULL), 2);
        CHECK_INT(ctl(&e, &r, "hello", "extra", NULL), 2);
        CHECK_INT(ctl(&e, &r, "reminders", "--limit", "0", NULL), 2);
        CHECK_INT(ctl(&e, &r, "reminders", "--colour", "red", NULL), 2);
        CHECK_INT(ctl(&e, &r, "dismiss", "r-x", NULL), 2);
        CHECK_INT(ctl(&e, &r, "--help", NULL), 0);
        CHECK(strstr(r.out, "dead-letters") != NULL);

        /* Nobody there: exit 3. */
        CHECK_INT(ctl(&e, &r, "--api", "ipc:///nonexistent/bevaka-api.sock", "--timeout", "300", "hello", NULL), 3);
        CHECK(strstr(r.err, "no reply") != NULL);

        CHECK_INT(ctl(&e, &r, "hello", NULL), 0);
        CHECK(strstr(r.out, "protocol  1\n") != NULL);
        CHECK(strstr(r.out, "role      admin\n") != NULL);
        CHECK_INT(ctl(&e, &r, "--json", "hello", NULL), 0);
        json_t *j = json_loads(r.out, 0, NULL);
        CHECK(json_is_true(json_object_get(j, "ok")));
        CHECK_STR(json_string_value(json_object_get(j, "role")), "admin");
        json_decref(j);

        /* Deliver: the clock moves to a working morning. */
        CHECK_INT(ctl(&e, &r, "clock", "--set", "2026-02-02T09:00:00+01:00", NULL), 0);
        CHECK(strstr(r.out, "now   2026-02-02T09:00:00+01:00\n") != NULL);
        CHECK(strstr(r.out, "mode  manual\n") != NULL);
        CHECK_INT(ctl(&e, &r, "clock", "--set", "2026-01-01T09:00:00+01:00", NULL), 1);
        CHECK(strncmp(r.err, "conflict: ", 10) == 0);
        CHECK_INT(ctl(&e, &r, "clock", "--set", "tomorrow", NULL), 1);
        CHECK(strncmp(r.err, "bad_request: ", 13) == 0);
        CHECK_INT(ctl(&e, &r, "clock", NULL), 0);

        /* watch printed each delivery as one readable line. */
        CHECK_INT(log_wait(log, "IB3-DUE", 3, 15000), 3);
        CHECK_INT(log_wait(log, "due 2026-01-21  Nybesök (IB3) ej genomfört", 3, 1000), 3);
        CHECK_INT(log_wait(path, "\"kind\":\"due\"", 3, 15000), 3);

        reminder_id(&e, 1, id1, sizeof(id1));
        reminder_id(&e, 2, id2, sizeof(id2));
        reminder_id(&e, 3, id3, sizeof(id3));

        CHECK_INT(ctl(&e, &r, "reminders", NULL), 0);
        CHECK(strncmp(r.out, "ID  ", 4) == 0);
        CHECK(strstr(r.out, "TITLE\n") != NULL);
        CHECK_INT(count_of(r.out, "delivered"), 3);
        CHECK(strstr(r.out, id1) && strstr(r.out, id2) && strstr(r.out, id3));
        CHECK_INT(ctl(&e, &r, "reminders", "--case", "EB-2026-000002", "--rule", "IB3-DUE", "--unit", "HV-EB-1",
                      "--caseworker", "hk1", "--state", "delivered", "--limit", "10", NULL), 0);
        CHECK_INT(count_of(r.out, "IB3-DUE"), 1);
        CHECK(strstr(r.out, id2) != NULL);
        CHECK_INT(ctl(&e, &r, "reminders", "--rule", "NO-SUCH", NULL), 1);
        CHECK(strncmp(r.err, "bad_request: ", 13) == 0);
        CHECK_INT(ctl(&e, &r, "reminders", "--case", "EB-none", NULL), 0);
        CHECK_STR(r.out, "no reminders\n");

        CHECK_INT(ctl(&e, &r, "sync", TOPIC, NULL), 0);
        /* rseq 4: the three IB3-DUE, found due by an import 12 days behind the clock (a go-live: backlog),
         * then the caseworker's one summary (docs/operations.md, "Going live") */
        CHECK(strstr(r.out, TOPIC " at rseq 4: 3 open\n") != NULL);
        CHECK_INT(ctl(&e, &r, "sync", TOPIC, "--since", "2", NULL), 0);
        CHECK_INT(ctl(&e, &r, "sync", "rem/nope", NULL), 1);
        CHECK(strncmp(r.err, "bad_request: ", 13) == 0);
        CHECK_INT(ctl(&e, &r, "sync", TOPIC, "--since", "-1", NULL), 2);

        CHECK_INT(ctl(&e, &r, "case", "EB-2026-000001", NULL), 0);
        CHECK(strstr(r.out, "case ") && strstr(r.out, "EB-2026-000001"));
        CHECK(strstr(r.out, "\nTRACK ") != NULL);
        CHECK(strstr(r.out, "\nib ") != NULL);
        CHECK(strstr(r.out, id1) != NULL);
        CHECK_INT(ctl(&e, &r, "case", "EB-none", NULL), 1);
        CHECK(strncmp(r.err, "not_found: ", 11) == 0);

        CHECK_INT(ctl(&e, &r, "why", id1, NULL), 0);
        CHECK(strstr(r.out, "IB3-DUE") != NULL);
        CHECK(strstr(r.out, "ib1.completed") != NULL);
        CHECK(strstr(r.out, "\nAT ") != NULL);
        CHECK_INT(ctl(&e, &r, "why", "r-0000000000000000", NULL), 1);
        CHECK(strncmp(r.err, "not_found: ", 11) == 0);

        /* The lifecycle commands, checked through the API. */
        CHECK_INT(ctl(&e, &r, "ack", id1, NULL), 0);
        CHECK(strstr(r.out, "acknowledged") != NULL);
        CHECK_STR(state_of(&e, id1, st, sizeof(st)), "acknowledged");
        CHECK_INT(ctl(&e, &r, "snooze", id2, "--until", "2026-02-03T08:00:00+01:00", NULL), 0);
        CHECK(strstr(r.out, "snoozed") != NULL);
        CHECK_STR(state_of(&e, id2, st, sizeof(st)), "snoozed");
        CHECK_INT(ctl(&e, &r, "snooze", id2, "--until", "2026-01-01T08:00:00+01:00", NULL), 1);
        CHECK_INT(ctl(&e, &r, "dismiss", id3, "--reason", "gjort muntligt", NULL), 0);
        CHECK_STR(state_of(&e, id3, st, sizeof(st)), "cancelled");
        CHECK_INT(ctl(&e, &r, "ack", "r-0000000000000000", NULL), 1);
        CHECK(strncmp(r.err, "not_found: ", 11) == 0);
        CHECK_INT(ctl(&e, &r, "--json", "ack", "r-0000000000000000", NULL), 1);
        j = json_loads(r.out, 0, NULL);
        CHECK(json_is_false(json_object_get(j, "ok")));
        json_decref(j);
        /* The dismissed one was delivered, so its cancellation is published and watched. */
        CHECK_INT(log_wait(log, "cancelled", 1, 15000), 1);

        CHECK_INT(ctl(&e, &r, "stats", NULL), 0);
        CHECK(strstr(r.out, "events.applied          6\n") != NULL);
        CHECK(strstr(r.out, "\nSOURCE ") != NULL);
        CHECK(strstr(r.out, "paraply-demo  6\n") != NULL);

        CHECK_INT(ctl(&e, &r, "metrics", NULL), 0);
        CHECK(prometheus_ok(r.out));
        CHECK(promtool_ok(&e, r.out));
        CHECK(strstr(r.out, "# TYPE bevaka_reminder_messages_total counter\n") != NULL);
        CHECK(strstr(r.out, "\nbevaka_feed_silent{endpoint=\"ipc://") != NULL);
        CHECK(strstr(r.out, "# TYPE bevaka_feed_silences_total counter\n") != NULL);
        CHECK(strstr(r.out, "bevaka_dead_letters") == NULL);    /* none yet */
        /* every unit's indicators as gauges (docs/indicators.md) */
        CHECK(strstr(r.out, "bevaka_indicator_denominator{unit=\"HV-EB-1\",indicator=\"lt.share\"} ") != NULL);
        CHECK(strstr(r.out, "# TYPE bevaka_events_total counter\n") != NULL);
        CHECK(strstr(r.out, "\nbevaka_events_total{kind=\"applied\"} 6\n") != NULL);
        CHECK(strstr(r.out, "\nbevaka_reminders{state=\"acknowledged\"} 1\n") != NULL);
        CHECK(strstr(r.out, "\nbevaka_reminders{state=\"snoozed\"} 1\n") != NULL);
        CHECK(strstr(r.out, "\nbevaka_reminders{state=\"cancelled\"} 1\n") != NULL);
        CHECK(strstr(r.out, "\nbevaka_feed_last_seq{source=\"paraply-demo\"} 6\n") != NULL);
        CHECK(strstr(r.out, "\nbevaka_feed_source_stuck{source=\"paraply-demo\"} 0\n") != NULL);
        CHECK(strstr(r.out, "\nbevaka_feed_gaps_total ") != NULL);
        CHECK(strstr(r.out, "\nbevaka_feed_replays_total ") != NULL);
        /* the indicators as a table, as CSV (a row per indicator and month) and as JSON */
        CHECK_INT(ctl(&e, &r, "indicators", "--unit", "HV-EB-1", "--from", "2026-01", "--to", "2026-02", NULL), 0);
        CHECK(strstr(r.out, "HV-EB-1 2026-01..2026-02\n") != NULL);
        CHECK(strstr(r.out, "\nID ") != NULL && strstr(r.out, "\nrem.FIA-DUE.raised ") != NULL);
        CHECK_INT(ctl(&e, &r, "indicators", "--unit", "HV-EB-1", "--from", "2026-01", "--to", "2026-02", "--csv", NULL), 0);
        CHECK(strncmp(r.out, "id,month,numerator,denominator\n", 31) == 0);
        CHECK(strstr(r.out, "\nlt.share,2026-01..2026-02,") != NULL && strstr(r.out, "\nlt.share,2026-02,") != NULL);
        CHECK_INT(ctl(&e, &r, "indicators", "--from", "2026-03", "--to", "2026-01", NULL), 1);
        CHECK(strstr(r.err, "bad_request") != NULL);
        CHECK_INT(ctl(&e, &r, "--api", "ipc:///nonexistent/bevaka-api.sock", "--timeout", "300", "metrics", NULL), 3);
        CHECK_STR(r.out, "");

        CHECK_INT(ctl(&e, &r, "reload", NULL), 0);
        CHECK_STR(r.out, "configuration and key list reloaded\n");
        {
                /* a configuration that does not load: the reply says so, with file and line */
                char conf[512], saved[4096];
                FILE *cf;
                size_t sn;
                it_path(&e, "bevakad.conf", conf, sizeof(conf));
                cf = fopen(conf, "r");
                sn = cf ? fread(saved, 1, sizeof(saved) - 1, cf) : 0;
                if (cf)
                        fclose(cf);
                saved[sn] = '\0';
                cf = fopen(conf, "a");
                fputs("store = { batch = 0; };\n", cf);
                fclose(cf);
                CHECK_INT(ctl(&e, &r, "reload", NULL), 1);
                CHECK(strncmp(r.err, "conflict: reload failed", 23) == 0);
                CHECK(strstr(r.err, "bevakad.conf:") != NULL);
                /* an endpoint changed: taken at the next restart, and the reply says so */
                char moved[4200], *at = strstr(saved, "/pub.sock");
                CHECK(at != NULL);
                if (at)
                        snprintf(moved, sizeof(moved), "%.*s/pub2.sock%s", (int)(at - saved), saved, at + 9);
                it_write(conf, at ? moved : saved);
                CHECK_INT(ctl(&e, &r, "reload", NULL), 0);
                CHECK_STR(r.out, "configuration and key list reloaded\n"
                                 "changed, takes effect after a restart: publish.endpoint\n");
                it_write(conf, saved);
        }

        /* Dead letters: a line that is not JSON. */
        CHECK_INT(ctl(&e, &r, "dead-letters", NULL), 0);
        CHECK_STR(r.out, "no dead letters\n");
        it_stop(&e.feed, SIGTERM);
        it_path(&e, "bad.jsonl", bad, sizeof(bad));
        it_write(bad, "this is not json\n");
        /* Raw lines are not kept for replay: publish once the daemon has re-subscribed. */
        it_start_feed(&e, bad, "--raw", "--wait-subscribers", "1", NULL);
        CHECK_INT(it_wait_stat(&e, "events", "dead_letters", 1, 20000), 1);
        CHECK_INT(ctl(&e, &r, "dead-letters", "--limit", "5", NULL), 0);
        CHECK(strncmp(r.out, "RECEIVED_AT  ", 13) == 0);
        CHECK(strstr(r.out, "not JSON") != NULL);
        CHECK(strstr(r.out, "this is not json") != NULL);
        CHECK_INT(ctl(&e, &r, "dead-letters", "--limit", "x", NULL), 2);
        CHECK_INT(ctl(&e, &r, "metrics", NULL), 0);
        CHECK(promtool_ok(&e, r.out));
        CHECK(strstr(r.out, "\nbevaka_dead_letters{reason=\"not JSON\"} 1\n") != NULL);

        /* Ctrl-C ends a watch with 0. */
        int ws = it_stop(&watch, SIGINT);
        CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
        ws = it_stop(&watch_json, SIGINT);
        CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
        /* A topic nobody may read is refused with the daemon's words; a malformed one is usage. */
        CHECK_INT(ctl(&e, &r, "watch", "rem/x", NULL), 2);
        CHECK_INT(ctl(&e, &r, "watch", "rem/HV-EB-1/hk1/extra/", NULL), 1);
        CHECK(strncmp(r.err, "bad_request: ", 13) == 0);

        it_cleanup(&e);
        return tap_done();
}
