/*
 * bench-rules: the rules engine's benchmark (not a test). tests/bench/rules.sh
 * drives it; docs/performance.md ("Rules engine") explains the method and
 * records the results. It uses the daemon's own modules in-process, as
 * daemon.c wires them, so what it measures is the core without sockets:
 *
 *   replay HISTORY.jsonl   the same events (a `bevaka-feed synth` history, with
 *                          source and seq added as the feed would) three ways:
 *                          parse only; core ingest (event_parse + store_event_add
 *                          + the feed position, in the daemon's batches); and
 *                          the rules (event_parse + engine_apply_event, then
 *                          engine_commit per batch), followed by what a
 *                          daemon does next: wake cases and deliver what is due
 *   next                   the scheduler's queries with M scheduled reminders
 *                          (store_rem_put into a fresh store): store_rem_next_delivery()
 *                          and store_rem_due(now, 1000) against a full scan,
 *                          and their query plans
 *
 * Each phase runs in its own child process, so its peak RSS is its own. Output
 * is human-readable lines plus "RESULT <key> <value>" lines for rules.sh.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "config.h"
#include "engine.h"
#include "event.h"
#include "log.h"
#include "store.h"

#define BENCH_SOURCE "synth"
#define BENCH_LINE_MAX 65536

typedef struct bench_opts {
        const char *history;
        const char *dir;
        const char *store_src;          /* daemon/store.c: the scheduler's SQL is read from there */
        bool sync_full;
        long reminders;
        int calls;
        bool keep;
} bench_opts_t;

/* What a phase's child reports to the parent through a pipe. */
typedef struct phase_result {
        int ok;
        double secs;                    /* wall time of the phase's main work */
        double cpu;                     /* user + system */
        uint64_t events, rejected;
        uint64_t reminders;             /* rows in the reminders table */
        uint64_t open_reminders;
        uint64_t messages;              /* queued for publishing */
        double deliver_secs;            /* wake + deliver after the replay */
        uint64_t deliver_messages;
        uint64_t cases;
        long rss_kb;
        int64_t db_bytes;
} phase_result_t;

typedef enum phase { PHASE_PARSE, PHASE_CORE, PHASE_RULES } phase_t;

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               (double)ru.ru_stime.tv_usec / 1e6;
}

static long rss_kb(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return ru.ru_maxrss;
}

static int64_t file_bytes(const char *path)
{
        struct stat st;
        char wal[1100];
        int64_t n = 0;

        if (stat(path, &st) == 0)
                n += st.st_size;
        snprintf(wal, sizeof(wal), "%s-wal", path);
        if (stat(wal, &st) == 0)
                n += st.st_size;
        return n;
}

static void bench_rm_store(const char *path)
{
        char p[1100];

        unlink(path);
        snprintf(p, sizeof(p), "%s-wal", path);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", path);
        unlink(p);
}

/* ---- replaying the history --------------------------------------------------- */

typedef struct reader {
        FILE *f;
        char *line;
        size_t cap;
        char buf[BENCH_LINE_MAX + 64];
        int64_t seq;
} reader_t;

/* The next event as the feed publishes it: the line with source and seq appended. */
static const char *reader_next(reader_t *r, size_t *len)
{
        ssize_t n;

        while ((n = getline(&r->line, &r->cap, r->f)) >= 0) {
                while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
                        n--;
                if (n < 2 || r->line[n - 1] != '}' || n > BENCH_LINE_MAX)
                        continue;
                r->seq++;
                *len = (size_t)snprintf(r->buf, sizeof(r->buf), "%.*s,\"source\":\"" BENCH_SOURCE "\",\"seq\":%" PRId64 "}",
                                        (int)(n - 1), r->line, r->seq);
                return r->buf;
        }
        return NULL;
}

static void count_message(void *ud, const char *topic, const char *payload)
{
        (*(uint64_t *)ud)++;
}

static uint64_t bench_count(store_t *st)
{
        int64_t c[REM__STATE_COUNT] = { 0 };
        uint64_t n = 0;

        if (store_rem_count_by_state(st, c) == 0)
                for (int i = 0; i < REM__STATE_COUNT; i++)
                        n += (uint64_t)c[i];
        return n;
}

static uint64_t bench_count_open(store_t *st)
{
        int64_t c[REM__STATE_COUNT] = { 0 };

        if (store_rem_count_by_state(st, c) != 0)
                return 0;
        return (uint64_t)(c[REM_SCHEDULED] + c[REM_DELIVERED] + c[REM_ACKNOWLEDGED] + c[REM_SNOOZED]);
}

/* Runs one phase over the whole history; called in a child. */
static void phase_replay(const bench_opts_t *o, phase_t ph, bk_time_t clock_at, const char *db,
                         phase_result_t *res)
{
        reader_t rd = { 0 };
        config_t cfg;
        bk_clock_t clock;
        store_t *st = NULL;
        engine_t *eng = NULL;
        char err[1024], reason[EV_PARSE_REASON_SIZE];
        event_t ev;
        const char *raw;
        size_t len;
        int n_batch = 0, r = 0;
        double t0, c0;

        if (config_load(NULL, o->dir, &cfg, err, sizeof(err)) != 0) {
                fprintf(stderr, "config: %s\n", err);
                return;
        }
        clock_init(&clock, true, clock_at);
        rd.f = fopen(o->history, "r");
        if (!rd.f) {
                perror(o->history);
                return;
        }
        if (ph != PHASE_PARSE) {
                bench_rm_store(db);
                if (store_open(db, o->sync_full, &st) < 0) {
                        fprintf(stderr, "cannot open %s\n", db);
                        goto out;
                }
                if (ph == PHASE_RULES && engine_new(&cfg, st, &clock, &eng) < 0)
                        goto out;
        }

        t0 = now_s();
        c0 = cpu_s();
        while ((raw = reader_next(&rd, &len))) {
                if (st && n_batch == 0 && (r = eng ? engine_begin(eng, clock_now(&clock)) : store_begin(st)) < 0)
                        break;
                if (event_parse(raw, len, &ev, reason, sizeof(reason)) != 0) {
                        res->rejected++;
                } else if (ph == PHASE_CORE) {
                        r = store_event_add(st, &ev, EVS_APPLIED, clock_now(&clock));
                        if (r == 0)
                                store_counter_add(st, CNT_APPLIED, 1);
                } else if (ph == PHASE_RULES) {
                        r = engine_apply_event(eng, &ev);
                }
                if (r == BK_E_DUPLICATE)
                        r = 0;
                if (r != 0)
                        break;
                /* The daemon records the feed position with every event (daemon_apply_verdict). */
                if (st && (r = store_feed_set(st, BENCH_SOURCE, rd.seq)) < 0)
                        break;
                res->events++;
                if (st && ++n_batch == cfg.store_batch) {
                        if ((r = eng ? engine_commit(eng, 0, count_message, &res->messages) : store_commit(st)) < 0)
                                break;
                        n_batch = 0;
                }
        }
        if (r == 0 && st && n_batch)
                r = eng ? engine_commit(eng, 0, count_message, &res->messages) : store_commit(st);
        if (r != 0) {
                fprintf(stderr, "phase failed at seq %" PRId64 ": %d\n", rd.seq, r);
                goto out;
        }
        res->secs = now_s() - t0;
        res->cpu = cpu_s() - c0;

        if (eng) {
                /* What a daemon does after catching up: time-driven rules, then deliveries. */
                int w, d;
                t0 = now_s();
                do {
                        if ((r = engine_begin(eng, clock_now(&clock))) < 0)
                                goto out;
                        w = engine_wake_cases(eng, 1000);
                        d = w < 0 ? w : engine_deliver_due(eng, 1000);
                        if (engine_commit(eng, w < 0 ? w : d, count_message, &res->deliver_messages) < 0) {
                                fprintf(stderr, "deliveries failed\n");
                                goto out;
                        }
                } while (w > 0 || d > 0);
                res->deliver_secs = now_s() - t0;
                res->reminders = bench_count(st);
                res->open_reminders = bench_count_open(st);
        }
        res->rss_kb = rss_kb();
        res->ok = 1;
out:
        engine_free(&eng);
        store_close(&st);
        if (db && ph != PHASE_PARSE)
                res->db_bytes = file_bytes(db);
        free(rd.line);
        fclose(rd.f);
}

/* Runs fn in a child process and collects its result. */
static int bench_fork(const bench_opts_t *o, phase_t ph, bk_time_t clock_at, const char *db, phase_result_t *res)
{
        int fds[2], st;
        pid_t pid;

        memset(res, 0, sizeof(*res));
        if (pipe(fds) < 0)
                return -errno;
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                phase_result_t r = { 0 };
                close(fds[0]);
                phase_replay(o, ph, clock_at, db, &r);
                if (write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
                        _exit(1);
                _exit(0);
        }
        close(fds[1]);
        if (read(fds[0], res, sizeof(*res)) != (ssize_t)sizeof(*res))
                res->ok = 0;
        close(fds[0]);
        waitpid(pid, &st, 0);
        return res->ok ? 0 : -EIO;
}

/* The last event's time: the replay's clock stands just after the history, as on a go-live day. */
static bk_time_t history_end(const char *path, uint64_t *lines, uint64_t *bytes)
{
        reader_t rd = { 0 };
        const char *raw;
        char *last = malloc(sizeof(rd.buf)), reason[EV_PARSE_REASON_SIZE];
        size_t len, last_len = 0;
        event_t ev;
        bk_time_t at = 0;

        *lines = *bytes = 0;
        rd.f = fopen(path, "r");
        if (!rd.f || !last)
                goto out;
        /* Sorted by at: the last line is the latest. */
        while ((raw = reader_next(&rd, &len))) {
                (*lines)++;
                *bytes += len;
                memcpy(last, raw, len);
                last_len = len;
        }
        if (last_len && event_parse(last, last_len, &ev, reason, sizeof(reason)) == 0)
                at = ev.at;
out:
        free(last);
        free(rd.line);
        if (rd.f)
                fclose(rd.f);
        return at;
}

static int bench_rule_counts(const char *db)
{
        sqlite3 *h;
        sqlite3_stmt *q;

        if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
                return -EIO;
        if (sqlite3_prepare_v2(h, "SELECT rule, count(*), sum(state < 4), sum(delivered_at > 0) FROM reminders "
                               "GROUP BY rule ORDER BY count(*) DESC", -1, &q, NULL) == SQLITE_OK) {
                printf("  %-18s %9s %9s %9s\n", "rule", "created", "open", "delivered");
                while (sqlite3_step(q) == SQLITE_ROW) {
                        const char *name = rules_name(sqlite3_column_int(q, 0));
                        printf("  %-18s %9lld %9lld %9lld\n", name ? name : "?", sqlite3_column_int64(q, 1),
                               sqlite3_column_int64(q, 2), sqlite3_column_int64(q, 3));
                        printf("RESULT rule.%s %lld\n", name ? name : "?", sqlite3_column_int64(q, 1));
                }
                sqlite3_finalize(q);
        }
        sqlite3_close(h);
        return 0;
}

static int bench_replay(const bench_opts_t *o)
{
        char core_db[1024], rules_db[1024], end[32], clock_text[32];
        phase_result_t parse, core, rules;
        uint64_t lines, bytes;
        bk_time_t last = history_end(o->history, &lines, &bytes), at;
        cal_cfg_t cal;

        if (!last) {
                fprintf(stderr, "%s: no events\n", o->history);
                return 1;
        }
        /* A working moment, or the daemon would rightly deliver nothing after the replay. */
        cal_cfg_default(&cal);
        at = cal_next_working(&cal, last + 60);
        cal_format_rfc3339(at, clock_text, sizeof(clock_text));
        snprintf(core_db, sizeof(core_db), "%s/bench-rules-core.db", o->dir);
        snprintf(rules_db, sizeof(rules_db), "%s/bench-rules.db", o->dir);
        cal_format_rfc3339(last, end, sizeof(end));
        printf("replay: %" PRIu64 " events (%.0f MB), last at %s, clock at %s; store synchronous=%s, "
               "transactions of store.batch events as in the daemon\n",
               lines, (double)bytes / 1e6, end, clock_text, o->sync_full ? "full" : "normal");
        printf("RESULT events %" PRIu64 "\n", lines);

        if (bench_fork(o, PHASE_PARSE, at, NULL, &parse) < 0 || bench_fork(o, PHASE_CORE, at, core_db, &core) < 0 ||
            bench_fork(o, PHASE_RULES, at, rules_db, &rules) < 0) {
                fprintf(stderr, "a phase failed\n");
                return 1;
        }
        printf("  %-44s %8s %12s %8s %9s\n", "phase", "wall s", "events/s", "cpu s", "peak RSS");
        printf("  %-44s %8.2f %12.0f %8.2f %7ld MB\n", "parse only (event_parse)", parse.secs,
               (double)parse.events / parse.secs, parse.cpu, parse.rss_kb / 1024);
        printf("  %-44s %8.2f %12.0f %8.2f %7ld MB\n", "core ingest (parse + store_event_add)", core.secs,
               (double)core.events / core.secs, core.cpu, core.rss_kb / 1024);
        printf("  %-44s %8.2f %12.0f %8.2f %7ld MB\n", "rules (parse + engine_apply_event)", rules.secs,
               (double)rules.events / rules.secs, rules.cpu, rules.rss_kb / 1024);
        printf("  rules cost: %.2fx the core ingest's wall time, %.2fx its CPU time (%.1f us CPU per event on top "
               "of %.1f us)\n",
               rules.secs / core.secs, rules.cpu / core.cpu, 1e6 * (rules.cpu - core.cpu) / (double)rules.events,
               1e6 * core.cpu / (double)core.events);
        printf("  rejected by event_parse: %" PRIu64 "; reminders created %" PRIu64 " (%" PRIu64 " still open), "
               "%" PRIu64 " messages queued during the replay\n",
               rules.rejected, rules.reminders, rules.open_reminders, rules.messages);
        printf("  after the replay: wake + deliver everything due took %.2f s (%" PRIu64 " messages)\n",
               rules.deliver_secs, rules.deliver_messages);
        printf("  store size: core %.0f MB, with rules %.0f MB\n", (double)core.db_bytes / 1e6,
               (double)rules.db_bytes / 1e6);
        printf("RESULT parse.secs %.3f\nRESULT parse.cpu %.3f\nRESULT parse.eps %.0f\nRESULT parse.rss_kb %ld\n",
               parse.secs, parse.cpu, (double)parse.events / parse.secs, parse.rss_kb);
        printf("RESULT core.secs %.3f\nRESULT core.cpu %.3f\nRESULT core.eps %.0f\nRESULT core.rss_kb %ld\n"
               "RESULT core.db_bytes %" PRId64 "\n",
               core.secs, core.cpu, (double)core.events / core.secs, core.rss_kb, core.db_bytes);
        printf("RESULT rules.secs %.3f\nRESULT rules.cpu %.3f\nRESULT rules.eps %.0f\nRESULT rules.rss_kb %ld\n"
               "RESULT rules.db_bytes %" PRId64 "\n",
               rules.secs, rules.cpu, (double)rules.events / rules.secs, rules.rss_kb, rules.db_bytes);
        printf("RESULT rules.cpu_ratio %.2f\nRESULT rules.ratio %.2f\nRESULT rules.rejected %" PRIu64 "\nRESULT reminders %" PRIu64 "\n"
               "RESULT reminders.open %" PRIu64 "\nRESULT replay.messages %" PRIu64 "\n"
               "RESULT deliver.secs %.3f\nRESULT deliver.messages %" PRIu64 "\n",
               rules.cpu / core.cpu, rules.secs / core.secs, rules.rejected, rules.reminders, rules.open_reminders, rules.messages,
               rules.deliver_secs, rules.deliver_messages);
        bench_rule_counts(rules_db);
        if (!o->keep) {
                bench_rm_store(core_db);
                bench_rm_store(rules_db);
        }
        return 0;
}

/* ---- the next delivery among many scheduled reminders ------------------------- */

/*
 * The statement the store really prepares: read from daemon/store.c, so the
 * plan shown is that of the shipped SQL and not of a copy that drifted.
 */
static bool sql_from_source(const char *path, const char *key, char *out, size_t n)
{
        FILE *f = path ? fopen(path, "r") : NULL;
        char *text = NULL, *p;
        size_t len = 0, k = 0;
        bool ok = false;

        if (!f)
                return false;
        if (getdelim(&text, &len, '\0', f) < 0)
                goto done;
        p = strstr(text, key);
        if (!p || !(p = strchr(p, '=')))
                goto done;
        for (p++;;) {
                while (*p == ' ' || *p == '\n' || *p == '\t')
                        p++;
                if (*p != '"')
                        break;
                for (p++; *p && *p != '"'; p++)
                        if (k + 1 < n)
                                out[k++] = *p == '\\' ? *++p : *p;
                if (*p)
                        p++;
        }
        out[k] = '\0';
        ok = k > 0;
done:
        free(text);
        fclose(f);
        return ok;
}

static void bench_plan(sqlite3 *h, const char *label, const char *sql, const char *want, bool *uses)
{
        char q[2048];
        sqlite3_stmt *st;

        snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
        printf("  plan of %s:\n    %s\n", label, sql);
        if (uses)
                *uses = false;
        if (sqlite3_prepare_v2(h, q, -1, &st, NULL) != SQLITE_OK) {
                printf("    (cannot prepare: %s)\n", sqlite3_errmsg(h));
                return;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *d = (const char *)sqlite3_column_text(st, 3);
                printf("    -> %s\n", d ? d : "");
                if (uses && d && want && strstr(d, want))
                        *uses = true;
        }
        sqlite3_finalize(st);
}

/* Average seconds per run of sql (a statement with at most one ?1 bound to v), over `calls`. */
static double bench_sql(sqlite3 *h, const char *sql, int64_t v, int calls, int64_t *rows)
{
        sqlite3_stmt *st;
        double t0;

        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
                fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(h));
                return -1;
        }
        *rows = 0;
        t0 = now_s();
        for (int i = 0; i < calls; i++) {
                if (sqlite3_bind_parameter_count(st) >= 1)
                        sqlite3_bind_int64(st, 1, v);
                while (sqlite3_step(st) == SQLITE_ROW)
                        (*rows)++;
                sqlite3_reset(st);
        }
        t0 = (now_s() - t0) / calls;
        sqlite3_finalize(st);
        return t0;
}

#define SCAN_DUE_SQL "SELECT * FROM reminders WHERE +state IN (0, 3) AND +deliver_at <= ?1 " \
                     "ORDER BY deliver_at, id LIMIT 1000"

static uint64_t mix64(uint64_t x)
{
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

static int bench_next(const bench_opts_t *o)
{
        char db[1024], next_sql[1024] = "", due_sql[1024] = "";
        store_t *st = NULL;
        sqlite3 *h = NULL;
        reminder_t r;
        bk_time_t base, span = 2 * 365 * 86400, min_at = INT64_MAX, next = 0;
        double t0, ins, t_next, t_due_none, t_due_1000, t_scan, t_scan_due, t_raw_due;
        int64_t rows;
        bool uses_next = false, uses_due = false;
        int res;

        snprintf(db, sizeof(db), "%s/bench-rules-next.db", o->dir);
        bench_rm_store(db);
        if (store_open(db, false, &st) < 0) {
                fprintf(stderr, "cannot open %s\n", db);
                return 1;
        }
        cal_parse_rfc3339("2026-01-05T08:00:00+01:00", &base);
        printf("next delivery: %ld scheduled reminders (store_rem_put, 10 000 per transaction), deliver_at spread "
               "over 2 years\n", o->reminders);
        t0 = now_s();
        for (long i = 0; i < o->reminders; i++) {
                uint64_t x = mix64((uint64_t)i);
                if (i % 10000 == 0 && (res = store_begin(st)) < 0)
                        goto fail;
                memset(&r, 0, sizeof(r));
                snprintf(r.id, sizeof(r.id), "r-%016" PRIx64, x);
                snprintf(r.case_id, sizeof(r.case_id), "EB-2025-%06ld", i / 5);
                r.rule = (int)(i % RULE__COUNT);
                snprintf(r.cycle, sizeof(r.cycle), "p%ld", i % 7 + 1);
                snprintf(r.unit, sizeof(r.unit), "HV-EB-%ld", i % 15 + 1);
                snprintf(r.caseworker, sizeof(r.caseworker), "hk%04ld", 1000 + i % 180);
                r.to_caseworker = true;
                r.severity = SEV_INFO;
                r.deliver_at = base + (bk_time_t)(x % (uint64_t)span);
                r.due = cal_local_day(r.deliver_at);
                r.state = REM_SCHEDULED;
                snprintf(r.title, sizeof(r.title), "%s", "Dags att följa upp förändringsplanen");
                snprintf(r.body, sizeof(r.body), "%s", "Förändringsplanen upprättades för tre månader sedan.");
                snprintf(r.why, sizeof(r.why), "%s", "{\"plan\":\"2025-10-05\",\"plan_no\":1,\"months\":3}");
                snprintf(r.event_id, sizeof(r.event_id), "syn-1-%ld-3", i / 5);
                r.created_at = base - 86400;
                min_at = BK_MIN(min_at, r.deliver_at);
                if ((res = store_rem_put(st, &r)) != 0)
                        goto fail;
                if ((i % 10000 == 9999 || i == o->reminders - 1) && (res = store_commit(st)) < 0)
                        goto fail;
        }
        ins = now_s() - t0;
        printf("  inserted in %.2f s (%.0f rows/s); store %.0f MB\n", ins, (double)o->reminders / ins,
               (double)file_bytes(db) / 1e6);

        /* The store's own functions, as the daemon's loop calls them. */
        t0 = now_s();
        for (int i = 0; i < o->calls; i++)
                next = store_rem_next_delivery(st);
        t_next = (now_s() - t0) / o->calls;
        if (next != min_at)
                fprintf(stderr, "store_rem_next_delivery: %" PRId64 ", expected %" PRId64 "\n", next, min_at);
        t0 = now_s();
        for (int i = 0; i < o->calls; i++) {
                reminder_t *list = NULL;
                int n = 0;
                store_rem_due(st, base - 1, 1000, &list, &n);
                free(list);
        }
        t_due_none = (now_s() - t0) / o->calls;
        {
                int calls = BK_MAX(1, o->calls / 100), n = 0;
                t0 = now_s();
                for (int i = 0; i < calls; i++) {
                        reminder_t *list = NULL;
                        store_rem_due(st, base + 30 * 86400, 1000, &list, &n);
                        free(list);
                }
                t_due_1000 = (now_s() - t0) / calls;
                if (n != 1000)
                        fprintf(stderr, "store_rem_due returned %d rows, expected 1000\n", n);
        }
        store_close(&st);

        /* The baselines: the same questions answered by reading the whole table. */
        if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
                fprintf(stderr, "cannot open %s read-only\n", db);
                return 1;
        }
        {
                int calls = 10;
                t_scan = bench_sql(h, "SELECT min(deliver_at) FROM reminders NOT INDEXED", 0, calls, &rows);
                /*
                 * NOT INDEXED does not keep SQLite (3.40) from the partial index here, so the
                 * scan is forced with unary + on the columns, which no index can serve.
                 */
                t_scan_due = bench_sql(h, SCAN_DUE_SQL, base + 30 * 86400, calls, &rows);
                /* The indexed statement stepped the same way, without the store's copying into reminder_t. */
                t_raw_due = bench_sql(h, "SELECT * FROM reminders WHERE state IN (0, 3) AND "
                                         "deliver_at <= ?1 ORDER BY deliver_at, id LIMIT 1000",
                                      base + 30 * 86400, calls * 10, &rows);
        }
        printf("  %-58s %12s\n", "query", "mean time");
        printf("  %-58s %9.2f us   (%d calls)\n", "store_rem_next_delivery()", t_next * 1e6, o->calls);
        printf("  %-58s %9.2f us   (%d calls)\n", "store_rem_due(now, 1000), nothing due", t_due_none * 1e6,
               o->calls);
        printf("  %-58s %9.2f us   (%d calls)\n", "store_rem_due(now, 1000), a backlog: 1000 rows returned",
               t_due_1000 * 1e6, BK_MAX(1, o->calls / 100));
        printf("  %-58s %9.2f us   (10 calls)\n", "baseline: SELECT min(deliver_at) ... NOT INDEXED (full scan)",
               t_scan * 1e6);
        printf("  %-58s %9.2f us   (100 calls)\n", "the due query's SQL alone (sqlite3_step), backlog", t_raw_due * 1e6);
        printf("  %-58s %9.2f us   (10 calls)\n", "baseline: the same SQL as a forced scan, backlog", t_scan_due * 1e6);
        printf("  the next delivery costs %.5f of a full scan (%.0fx faster)\n", t_next / t_scan, t_scan / t_next);

        if (!sql_from_source(o->store_src, "[Q_REM_NEXT]", next_sql, sizeof(next_sql)))
                snprintf(next_sql, sizeof(next_sql), "%s", "SELECT min(deliver_at) FROM reminders WHERE state IN (0, 3)");
        if (!sql_from_source(o->store_src, "[Q_REM_DUE]", due_sql, sizeof(due_sql)))
                snprintf(due_sql, sizeof(due_sql), "%s", "SELECT * FROM reminders WHERE state IN (0, 3) AND "
                                                         "deliver_at <= ?1 ORDER BY deliver_at, id LIMIT ?2");
        if (!o->store_src)
                printf("  (no --store-src: plans are of the statements as of this benchmark's writing)\n");
        bench_plan(h, "store_rem_next_delivery", next_sql, "reminders_pending", &uses_next);
        bench_plan(h, "store_rem_due", due_sql, "reminders_pending", &uses_due);
        /* reminders is WITHOUT ROWID: a scan of its table b-tree is reported as "USING PRIMARY KEY". */
        bench_plan(h, "the baseline", "SELECT min(deliver_at) FROM reminders NOT INDEXED", NULL, NULL);
        bench_plan(h, "the due baseline", SCAN_DUE_SQL, NULL, NULL);
        printf("  partial index reminders_pending used: next delivery %s, due %s\n", uses_next ? "yes" : "NO",
               uses_due ? "yes" : "NO");
        sqlite3_close(h);

        printf("RESULT next.rows %ld\nRESULT next.insert_secs %.3f\nRESULT next.next_us %.3f\n"
               "RESULT next.due_none_us %.3f\nRESULT next.due_1000_us %.3f\nRESULT next.scan_us %.3f\n"
               "RESULT next.scan_due_us %.3f\nRESULT next.raw_due_us %.3f\nRESULT next.uses_index %d\n"
               "RESULT due.uses_index %d\n",
               o->reminders, ins, t_next * 1e6, t_due_none * 1e6, t_due_1000 * 1e6, t_scan * 1e6,
               t_scan_due * 1e6, t_raw_due * 1e6, uses_next, uses_due);
        if (!o->keep)
                bench_rm_store(db);
        return 0;
fail:
        fprintf(stderr, "inserting reminders failed: %d\n", res);
        store_close(&st);
        return 1;
}

/* ---- entry ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
        fputs("usage: bench-rules replay HISTORY.jsonl [--dir DIR] [--sync full|normal] [--keep]\n"
              "       bench-rules next [--reminders M] [--calls N] [--store-src daemon/store.c] [--dir DIR] [--keep]\n",
              f);
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "dir", required_argument, NULL, 'd' },      { "sync", required_argument, NULL, 's' },
                { "reminders", required_argument, NULL, 'm' }, { "calls", required_argument, NULL, 'c' },
                { "store-src", required_argument, NULL, 'S' }, { "keep", no_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' },            { NULL, 0, NULL, 0 },
        };
        bench_opts_t o = { .dir = "/tmp", .sync_full = true, .reminders = 1000000, .calls = 100000 };
        const char *mode;
        int c;

        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        mode = argv[1];
        argc--;
        argv++;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                switch (c) {
                case 'd': o.dir = optarg; break;
                case 's':
                        if (strcmp(optarg, "full") != 0 && strcmp(optarg, "normal") != 0) {
                                usage(stderr);
                                return 2;
                        }
                        o.sync_full = strcmp(optarg, "full") == 0;
                        break;
                case 'm': o.reminders = atol(optarg); break;
                case 'c': o.calls = atoi(optarg); break;
                case 'S': o.store_src = optarg; break;
                case 'k': o.keep = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        /* The daemon's modules log; the benchmark's own lines are what matters. */
        log_init("bench-rules", LOG_WARNING, false);
        if (strcmp(mode, "replay") == 0 && optind == argc - 1) {
                o.history = argv[optind];
                return bench_replay(&o);
        }
        if (strcmp(mode, "next") == 0 && optind == argc && o.reminders > 0 && o.calls > 0)
                return bench_next(&o);
        usage(stderr);
        return 2;
}
