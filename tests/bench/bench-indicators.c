/*
 * bench-indicators: the quality indicators' benchmark (not a test).
 * tests/bench/indicators.sh drives it; docs/performance.md ("Indicators")
 * records the results. Two steps, each with the daemon's own modules:
 *
 *   build HISTORY.jsonl STORE   replays a `bevaka-feed synth` history into a
 *                               fresh store as a live daemon would: the clock
 *                               follows the events' `at`, and after each batch
 *                               the time-driven rules and deliveries run
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
static int settle(store_t *st, engine_t *eng)
{
        int w, d;
        do {
                if (store_begin(st) < 0)
                        return -1;
                w = engine_wake_cases(eng, 1000);
                d = w < 0 ? w : engine_deliver_due(eng, 1000);
                if (w < 0 || d < 0 || engine_prepare_commit(eng) < 0 || store_commit(st) < 0)
                        return -1;
                engine_flush(eng, drop_message, NULL);
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
        if (ev.at > clock_now(clock))
                clock_set(clock, ev.at);
        r = engine_apply_event(eng, &ev, buf, len);
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
                if (batch == 0 && (r = store_begin(st)) < 0)
                        break;
                r = apply_line(eng, &clock, line, (size_t)n, ++seq);
                if (r == 0 && ++batch == cfg.store_batch) {
                        batch = 0;
                        if ((r = engine_prepare_commit(eng)) == 0 && (r = store_commit(st)) == 0)
                                r = settle(st, eng);
                        engine_flush(eng, drop_message, NULL);
                }
        }
        if (r == 0 && batch && (r = engine_prepare_commit(eng)) == 0 && (r = store_commit(st)) == 0)
                r = settle(st, eng);
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
        sqlite3_prepare_v2(h, "SELECT raw FROM events", -1, &q, NULL);
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

int main(int argc, char **argv)
{
        log_init("bench-indicators", LOG_WARNING, false);
        if (argc == 4 && strcmp(argv[1], "build") == 0)
                return build(argv[2], argv[3]);
        if ((argc == 3 || argc == 5) && strcmp(argv[1], "query") == 0)
                return query(argv[2], argc == 5 ? atoi(argv[4]) : 5);
        fprintf(stderr, "usage: bench-indicators build HISTORY.jsonl STORE | query STORE [--runs N]\n");
        return 2;
}
