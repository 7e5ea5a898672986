/*
 * bench-indicators: the quality indicators' benchmark (not a test).
 * tests/bench/indicators.sh drives it; docs/performance.md ("Indicators")
 * records the results. Two steps, each with the daemon's own modules:
 *
 *   build HISTORY.jsonl STORE   replays a `bevaka-feed synth` history into a
 *                               fresh store as a live daemon would: the clock
 *                               follows the events' `at`, and after each batch
 *                               the time-driven rules and deliveries run
 *   stall STORE HISTORY [N]     what the daemon's loop feels while indicators are
 *                               computed: N events (default 20 000, the tail of
 *                               the history under new ids) applied in batches of
 *                               100, first alone (the baseline), then while the
 *                               worker (indworker) computes every unit's monthly
 *                               series over and over through its own connection;
 *                               each batch's time (p50, p99, max) both ways
 *   query STORE [--runs N]      times indicators_compute on that store: one
 *                               unit (the largest) over the last 12 months of
 *                               the history, all units, the monthly series of
 *                               one unit and of all, and, as the baseline of
 *                               the same run, one full read of the event log
 *                               (what any replay would at least cost)
 *
 * Output is human-readable lines plus "RESULT <key> <value>" lines.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "engine.h"
#include "indicators.h"
#include "indworker.h"
#include "log.h"
#include "store.h"

#define LINE_MAX_BYTES 65536

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void drop_message(void *ud, const char *topic, const char *payload)
{
}

/* After each batch: what the daemon's loop does once the clock has moved. */
static int settle(engine_t *eng, const bk_clock_t *clock)
{
        int w, d;
        do {
                if (engine_begin(eng, clock_now(clock)) < 0)
                        return -1;
                w = engine_wake_cases(eng, 1000);
                d = w < 0 ? w : engine_deliver_due(eng, 1000);
                if (engine_commit(eng, w < 0 ? w : d, drop_message, NULL) < 0 || w < 0 || d < 0)
                        return -1;
        } while (w > 0 || d > 0);
        return 0;
}

static int apply_line(engine_t *eng, bk_clock_t *clock, const char *line, size_t n, int64_t seq)
{
        static char buf[LINE_MAX_BYTES + 64];
        char reason[EV_PARSE_REASON_SIZE];
        event_t ev;
        size_t len = (size_t)snprintf(buf, sizeof(buf), "%.*s,\"source\":\"synth\",\"seq\":%" PRId64 "}",
                                      (int)(n - 1), line, seq);
        int r;

        if (event_parse(buf, len, &ev, reason, sizeof(reason)) != 0)
                return 0;
        if (ev.at > clock_now(clock)) {
                clock_set(clock, ev.at);
                engine_set_now(eng, ev.at);
        }
        r = engine_apply_event(eng, &ev);
        return r == BK_E_DUPLICATE ? 0 : r;
}

static int build(const char *history, const char *db)
{
        config_t cfg;
        bk_clock_t clock;
        store_t *st = NULL;
        engine_t *eng = NULL;
        char err[1024], *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int64_t seq = 0;
        int batch = 0, r = 0;
        FILE *f = fopen(history, "r");
        double t0 = now_s();

        if (!f || config_load(NULL, "/tmp", &cfg, err, sizeof(err)) != 0 || store_open(db, false, &st) < 0) {
                fprintf(stderr, "cannot start: %s\n", f ? err : history);
                return 1;
        }
        clock_init(&clock, true, 1);     /* manual, following the events (0 would be now) */
        if (engine_new(&cfg, st, &clock, &eng) < 0)
                return 1;
        while (r == 0 && (n = getline(&line, &cap, f)) >= 0) {
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        n--;
                if (n < 2 || line[n - 1] != '}' || n > LINE_MAX_BYTES)
                        continue;
                if (batch == 0 && (r = engine_begin(eng, clock_now(&clock))) < 0)
                        break;
                r = apply_line(eng, &clock, line, (size_t)n, ++seq);
                if (r == 0 && ++batch == cfg.store_batch) {
                        batch = 0;
                        if ((r = engine_commit(eng, r, drop_message, NULL)) == 0)
                                r = settle(eng, &clock);
                }
        }
        if (batch && (r = engine_commit(eng, r, drop_message, NULL)) == 0)
                r = settle(eng, &clock);
        printf("built %s: %" PRId64 " events in %.1f s (r=%d)\n", db, seq, now_s() - t0, r);
        engine_free(&eng);
        store_close(&st);
        free(line);
        fclose(f);
        return r == 0 ? 0 : 1;
}

/* The baseline: one read of every stored event's raw form, and the span of the history. */
static double read_log(const char *db, char *unit, size_t un, cal_month_t *last)
{
        sqlite3 *h;
        sqlite3_stmt *q;
        double t0;
        int64_t bytes = 0;

        if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
                return -1;
        sqlite3_prepare_v2(h, "SELECT unit FROM facts GROUP BY unit ORDER BY count(*) DESC LIMIT 1", -1, &q, NULL);
        if (sqlite3_step(q) == SQLITE_ROW)
                snprintf(unit, un, "%s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
        sqlite3_prepare_v2(h, "SELECT max(day) FROM facts", -1, &q, NULL);
        if (sqlite3_step(q) == SQLITE_ROW)
                *last = cal_month_of((cal_day_t)sqlite3_column_int64(q, 0));
        sqlite3_finalize(q);
        t0 = now_s();
        sqlite3_prepare_v2(h, "SELECT body FROM events", -1, &q, NULL);
        while (sqlite3_step(q) == SQLITE_ROW)
                bytes += sqlite3_column_bytes(q, 0);
        sqlite3_finalize(q);
        t0 = now_s() - t0;
        sqlite3_close(h);
        printf("baseline: read the event log (%" PRId64 " MB) in %.0f ms\n", bytes >> 20, t0 * 1000);
        return t0;
}

static double time_query(store_t *st, const config_t *cfg, const ind_query_t *iq, int runs, double *worst)
{
        double best = 1e9;
        *worst = 0;
        for (int i = 0; i < runs; i++) {
                json_t *out = NULL;
                double t0 = now_s();
                if (indicators_compute(st, &cfg->rules, iq, &out) != 0) {
                        fprintf(stderr, "indicators_compute failed\n");
                        exit(1);
                }
                t0 = now_s() - t0;
                best = t0 < best ? t0 : best;
                *worst = t0 > *worst ? t0 : *worst;
                json_decref(out);
        }
        return best;
}

static int query(const char *db, int runs)
{
        static const char *const names[] = { "one_unit", "all_units", "series_one_unit", "series_all_units",
                                             "all_units_by_unit" };
        char unit[EV_NAME_MAX + 1] = "", err[1024];
        cal_month_t last = 0;
        config_t cfg;
        store_t *st = NULL;
        double base = read_log(db, unit, sizeof(unit), &last), worst;

        if (base < 0 || config_load(NULL, "/tmp", &cfg, err, sizeof(err)) != 0 || store_open(db, false, &st) < 0)
                return 1;
        printf("largest unit %s; period: the last 12 months of the history; %d runs each (best, worst)\n",
               unit, runs);
        printf("RESULT baseline_ms %.1f\n", base * 1000);
        for (int k = 0; k < 5; k++) {
                ind_query_t iq = { .unit = (k == 0 || k == 2) ? unit : NULL, .from = last - 11, .to = last,
                                   .series = k == 2 || k == 3, .by_unit = k == 4, .today = INT32_MAX };
                double t = time_query(st, &cfg, &iq, runs, &worst);
                printf("%-18s %8.1f ms  worst %8.1f ms  ratio to baseline %.2f\n", names[k], t * 1000,
                       worst * 1000, t / base);
                printf("RESULT %s_ms %.1f\nRESULT %s_ratio %.3f\n", names[k], t * 1000, names[k], t / base);
        }
        store_close(&st);
        return 0;
}

static int cmp_double(const void *x, const void *y)
{
        double a = *(const double *)x, b = *(const double *)y;
        return (a > b) - (a < b);
}

static void wake_none(void *ud)
{
}

struct stall_ctx {
        indworker_t *w;
        ind_query_t q;
        const config_t *cfg;
        int answers;
        double asked_at, answer_secs;
};

static void stall_answer(void *ud, const indworker_answer_t *a)
{
        struct stall_ctx *c = ud;
        if (a->err_code) {
                fprintf(stderr, "worker: %s %s\n", a->err_code, a->err_msg);
                exit(1);
        }
        c->answers++;
        c->answer_secs += now_s() - c->asked_at;
        c->asked_at = now_s();
        indworker_submit(c->w, &c->q, &c->cfg->rules, NULL, "x", 1);
}

/* What an API request between batches takes: a read transaction over one case's open reminders
 * (what the `case` op reads), the case being one the batches touch. */
static char probe_case[EV_NAME_MAX + 1];

static double probe(store_t *st)
{
        rem_filter_t f = { .case_id = probe_case, .state = -1, .limit = 100 };
        reminder_t *list = NULL;
        int n = 0;
        double t0 = now_s();
        if (store_begin(st) == 0) {
                store_rem_query(st, &f, &list, &n);
                store_commit(st);
        }
        free(list);
        return now_s() - t0;
}

/* Applies lines[from, to) in batches of 100; each batch's wall time into lat[], the probe's into api[]. */
static int stall_phase(store_t *st, engine_t *eng, bk_clock_t *clock, char **lines, int from, int to, double *lat,
                       double *api, struct stall_ctx *c)
{
        int n = 0;
        for (int i = from; i < to; i += 100) {
                double t0 = now_s();
                int r = engine_begin(eng, clock_now(clock));
                for (int k = i; r == 0 && k < to && k < i + 100; k++)
                        r = apply_line(eng, clock, lines[k], strlen(lines[k]), 10000000 + k);
                if (engine_commit(eng, r, drop_message, NULL) < 0 || r < 0)
                        return -1;
                if (c)
                        indworker_drain(c->w, stall_answer, c);
                lat[n] = now_s() - t0;
                api[n++] = probe(st);
        }
        return n;
}

static void stall_print(const char *name, const char *what, double *lat, int n)
{
        qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
        printf("%-26s %-22s p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms\n", name, what,
               lat[n / 2] * 1000, lat[(n * 99) / 100] * 1000, lat[n - 1] * 1000);
}

/* The history's last n lines, their ids made new ("syn-" becomes three characters of this run's
 * own), so that they apply as fresh events on every run. */
static char **tail_lines(const char *history, int n)
{
        static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        unsigned run = (unsigned)time(NULL);
        char tag[3] = { digits[run % 36], digits[run / 36 % 36], digits[run / 1296 % 36] };
        FILE *f = fopen(history, "r");
        char **ring = calloc((size_t)n, sizeof(*ring)), *line = NULL;
        size_t cap = 0;
        ssize_t len;
        long total = 0;

        while (f && (len = getline(&line, &cap, f)) >= 0) {
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                        line[--len] = '\0';
                char *id = strstr(line, "\"id\":\"syn-");
                if (id)
                        memcpy(id + 6, tag, 3);
                free(ring[total % n]);
                ring[total % n] = strdup(line);
                total++;
        }
        if (f)
                fclose(f);
        free(line);
        if (total < n)
                return NULL;
        char **out = calloc((size_t)n, sizeof(*out));
        for (int i = 0; i < n; i++)
                out[i] = ring[(total + i) % n];
        free(ring);
        return out;
}

static int stall(const char *db, const char *history, int n)
{
        char **lines = tail_lines(history, n), err[1024], unit[EV_NAME_MAX + 1] = "";
        double *lat = calloc((size_t)n / 100 + 2, sizeof(*lat)), *api = calloc((size_t)n / 100 + 2, sizeof(*api));
        cal_month_t last = 0;
        config_t cfg;
        bk_clock_t clock;
        store_t *st = NULL;
        engine_t *eng = NULL;
        struct stall_ctx c = { 0 };
        int k, third = n / 3;

        if (!lines || !lat || !api || read_log(db, unit, sizeof(unit), &last) < 0 ||
            config_load(NULL, "/tmp", &cfg, err, sizeof(err)) != 0 || store_open(db, false, &st) < 0)
                return 1;
        clock_init(&clock, true, 1);
        if (engine_new(&cfg, st, &clock, &eng) < 0 || store_checkpointer_start(st) < 0)
                return 1;
        const char *cs = strstr(lines[0], "\"case\":\"");
        if (cs)
                snprintf(probe_case, sizeof(probe_case), "%.*s", (int)strcspn(cs + 8, "\""), cs + 8);
        printf("%d events in batches of 100; after each batch, a probe: case %s's open reminders\n", n, probe_case);
        /* alone, with the worker, alone again: the tail's events differ, so both baselines are shown */
        for (int phase = 0; phase < 3; phase++) {
                struct stall_ctx *cp = phase == 1 ? &c : NULL;
                const char *name = phase == 1 ? "ingest + indicators" : phase ? "ingest alone (after)" : "ingest alone (before)";
                if (phase == 1) {
                        c.cfg = &cfg;
                        c.q = (ind_query_t){ .from = last - 11, .to = last, .series = true, .today = INT32_MAX };
                        if (indworker_start(db, wake_none, NULL, &c.w) != 0)
                                return 1;
                        c.asked_at = now_s();
                        indworker_submit(c.w, &c.q, &cfg.rules, NULL, "x", 1);
                }
                if ((k = stall_phase(st, eng, &clock, lines, phase * third, (phase + 1) * third, lat, api, cp)) < 0)
                        return 1;
                if (phase == 1) {
                        /* the answer in flight is waited for: the worker was busy all phase long */
                        while (c.answers == 0) {
                                indworker_drain(c.w, stall_answer, &c);
                                usleep(1000);
                        }
                        printf("(meanwhile the worker answered %d all-units 12-month series, %.0f ms each)\n",
                               c.answers, c.answer_secs / c.answers * 1000);
                        indworker_stop(&c.w);
                }
                stall_print(name, "batch", lat, k);
                stall_print(name, "probe", api, k);
                printf("RESULT stall_%d_batch_max_ms %.1f\nRESULT stall_%d_probe_max_ms %.1f\n", phase,
                       lat[k - 1] * 1000, phase, api[k - 1] * 1000);
        }
        printf("in place (no worker) one all-units series would hold the loop for its whole time; see `query`\n");
        engine_free(&eng);
        store_close(&st);
        return 0;
}

int main(int argc, char **argv)
{
        log_init("bench-indicators", LOG_WARNING, false);
        if (argc == 4 && strcmp(argv[1], "build") == 0)
                return build(argv[2], argv[3]);
        if ((argc == 4 || argc == 5) && strcmp(argv[1], "stall") == 0)
                return stall(argv[2], argv[3], argc == 5 ? atoi(argv[4]) : 20000);
        if ((argc == 3 || argc == 5) && strcmp(argv[1], "query") == 0)
                return query(argv[2], argc == 5 ? atoi(argv[4]) : 5);
        fprintf(stderr, "usage: bench-indicators build HISTORY.jsonl STORE | query STORE [--runs N] |"
                        " stall STORE HISTORY.jsonl [N]\n");
        return 2;
}
