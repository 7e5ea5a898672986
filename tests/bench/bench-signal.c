/*
 * bench-signal: what reaches people (issue #14's targets; not a test).
 * tests/bench/signal.sh drives it. It uses the daemon's own modules
 * in-process, as daemon.c wires them, twice over the same history: with
 * the delivery policy (delivery.quiet = true, the default) and without it
 * (delivery.quiet = false, every reminder pops up as in v1), so both
 * figures come from one run.
 *
 *   go-live   the history before a go-live Monday 08:00 (the first Monday one
 *             year before its last event) imported into an empty store while
 *             "catching up", as a daemon replaying from its adapter would be,
 *             then the daemon's first round (wake, deliver, digest) at 08:00
 *   steady    the rest (the last year) replayed live, day by day with the
 *             clock: each event at its own time, a round at every working
 *             day's office start and whenever the clock enters a new hour
 *
 * A pop-up message is a `due` message without "backlog", a `summary` or a
 * `digest` on a person's topic. A notification is what bevaka-notify shows
 * with its defaults (client/notify-group.c, the same code): a moment's
 * (one clock time's) `due` messages on a topic become one card per case, up
 * to 3 cards, else one summary; a `summary` or `digest` message is one.
 * Output: human-readable lines plus "RESULT <key> <value>" lines for
 * signal.sh.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine.h"
#include "event.h"
#include "log.h"
#include "notify-group.h"
#include "store.h"

#define LINE_MAX_B 65536
#define MAX_TOPICS 4096
#define MAX_WEEKS 64

typedef struct topic_count {
        char topic[REM_TOPIC_MAX];
        bool leads;
        int golive_popups, golive_msgs;
        int week_popups[MAX_WEEKS];
        int golive_notes, week_notes[MAX_WEEKS];   /* notifications, as bevaka-notify shows them */
        char golive_seen[400];          /* the go-live day's pop-ups: "HH:MM RULE" ... */
        json_t *moment;                 /* this moment's `due` messages, not yet counted as notifications */
        bk_time_t moment_at;
        bool moment_steady;
} topic_count_t;

typedef struct bench {
        bool quiet;
        const char *history;
        char db[1024];
        config_t cfg;
        bk_clock_t clock;
        store_t *st;
        engine_t *eng;
        bk_time_t golive;
        cal_day_t golive_day, first_monday;
        bool steady;           /* counting the steady year (else the go-live day) */
        topic_count_t *t;
        int n_t;
        int64_t msgs_golive, msgs_steady;
        int weeks;
        int64_t golive_round_popups;          /* in the go-live round itself (08:00) */
        int64_t golive_by_rule[RULE__COUNT];  /* caseworkers' pop-ups later that day, by rule */
} bench_t;

static topic_count_t *topic_of(bench_t *b, const char *topic)
{
        for (int i = 0; i < b->n_t; i++)
                if (strcmp(b->t[i].topic, topic) == 0)
                        return &b->t[i];
        if (b->n_t == MAX_TOPICS)
                return NULL;
        topic_count_t *t = &b->t[b->n_t++];
        memset(t, 0, sizeof(*t));
        snprintf(t->topic, sizeof(t->topic), "%s", topic);
        t->leads = strstr(topic, "/@leads/") != NULL;
        return t;
}

/* Where a count at clock time `at` goes: the go-live day, and/or a week of the steady year (-1: none). */
static int week_of(const bench_t *b, bk_time_t at, bool steady, bool *golive)
{
        cal_day_t day = cal_local_day(at);

        *golive = day == b->golive_day;
        return steady ? (day - b->first_monday) / 7 : -1;
}

/* A moment's `due` messages on one topic, shown as bevaka-notify shows them. */
static void moment_flush(bench_t *b, topic_count_t *t)
{
        size_t notes = 0, backlog;
        bool group, golive;

        if (!t->moment || !json_array_size(t->moment))
                return;
        notify_group_plan(t->moment, NOTIFY_GROUP_DEFAULT, true, &group, &notes, &backlog);
        int w = week_of(b, t->moment_at, t->moment_steady, &golive);
        if (golive)
                t->golive_notes += (int)notes;
        if (w >= 0 && w < MAX_WEEKS)
                t->week_notes[w] += (int)notes;
        json_array_clear(t->moment);
}

static void count_notification(bench_t *b, topic_count_t *t, json_t *j, const char *op)
{
        bk_time_t now = clock_now(&b->clock);
        bool golive;

        if (t->moment && (t->moment_at != now || t->moment_steady != b->steady))
                moment_flush(b, t);
        if (strcmp(op, "due") == 0) {
                if (!t->moment)
                        t->moment = json_array();
                t->moment_at = now;
                t->moment_steady = b->steady;
                json_array_append(t->moment, j);
                return;
        }
        if (strcmp(op, "summary") != 0 && strcmp(op, "digest") != 0)
                return;
        int w = week_of(b, now, b->steady, &golive);
        t->golive_notes += golive;
        if (w >= 0 && w < MAX_WEEKS)
                t->week_notes[w]++;
}

static void count(void *ud, const char *topic, const char *payload)
{
        bench_t *b = ud;
        json_t *j = json_loads(payload, 0, NULL);
        const char *op = json_string_value(json_object_get(j, "op"));
        bool popup = op && ((strcmp(op, "due") == 0 && !json_is_true(json_object_get(j, "backlog"))) ||
                            strcmp(op, "summary") == 0 || strcmp(op, "digest") == 0);
        topic_count_t *t = topic_of(b, topic);
        cal_day_t day = cal_local_day(clock_now(&b->clock));

        if (!t) {
                json_decref(j);
                return;
        }
        if (op)
                count_notification(b, t, j, op);
        if (day == b->golive_day) {
                b->msgs_golive++;
                t->golive_msgs++;
                t->golive_popups += popup;
                if (popup) {
                        bk_time_t now = clock_now(&b->clock);
                        int min = (int)((now - cal_local_to_utc(day, 0)) / 60);
                        size_t o = strlen(t->golive_seen);
                        snprintf(t->golive_seen + o, sizeof(t->golive_seen) - o, " %02d:%02d %s(%s)", min / 60,
                                 min % 60, json_string_value(json_object_get(j, "rule")) ?: op,
                                 json_string_value(json_object_get(j, "case")) ?: "");
                }
                if (popup && !t->leads && !b->steady)
                        b->golive_round_popups++;
                int rule = rules_from_name(json_string_value(json_object_get(j, "rule")) ?: "");
                if (popup && !t->leads && b->steady && rule >= 0)
                        b->golive_by_rule[rule]++;
        }
        if (b->steady) {
                int w = (day - b->first_monday) / 7;
                b->msgs_steady++;
                if (w >= 0 && w < MAX_WEEKS && popup)
                        t->week_popups[w]++;
        }
        json_decref(j);
}

static const char *next_event(FILE *f, char **line, size_t *cap, int64_t *seq, char *buf, size_t *len)
{
        ssize_t n;

        while ((n = getline(line, cap, f)) >= 0) {
                while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r'))
                        n--;
                if (n < 2 || (*line)[n - 1] != '}' || n > LINE_MAX_B)
                        continue;
                (*seq)++;
                *len = (size_t)snprintf(buf, LINE_MAX_B + 64, "%.*s,\"source\":\"synth\",\"seq\":%" PRId64 "}",
                                        (int)(n - 1), *line, *seq);
                return buf;
        }
        return NULL;
}

/* The daemon's round (daemon.c run_time): wake cases, deliver, then the digests. */
static int round_at(bench_t *b, bk_time_t now)
{
        int w, d, r;

        if (now > clock_now(&b->clock))
                clock_set(&b->clock, now);
        do {
                if ((r = engine_begin(b->eng, clock_now(&b->clock))) < 0)
                        return r;
                w = engine_wake_cases(b->eng, 1000);
                d = w < 0 ? w : engine_deliver_due(b->eng, 1000);
                r = d < 0 ? d : engine_digest_due(b->eng);
                if ((r = engine_commit(b->eng, r, count, b)) < 0)
                        return r;
        } while (w >= 1000 || d >= 1000);
        return 0;
}

/* The last event's time (the history is in time order per case, not overall). */
static bk_time_t last_at(const char *path)
{
        FILE *f = fopen(path, "r");
        char *line = NULL, *buf = malloc(LINE_MAX_B + 64), reason[EV_PARSE_REASON_SIZE];
        size_t cap = 0, len;
        int64_t seq = 0;
        bk_time_t last = 0;
        event_t ev;

        while (f && buf && next_event(f, &line, &cap, &seq, buf, &len))
                if (event_parse(buf, len, &ev, reason, sizeof(reason)) == 0 && ev.at > last)
                        last = ev.at;
        if (f)
                fclose(f);
        free(line);
        free(buf);
        return last;
}

static int apply_one(bench_t *b, const char *raw, size_t len, int64_t seq)
{
        char reason[EV_PARSE_REASON_SIZE];
        event_t ev;
        int r;

        if (event_parse(raw, len, &ev, reason, sizeof(reason)) != 0)
                return 0;
        r = engine_apply_event(b->eng, &ev);
        if (r == BK_E_DUPLICATE)
                r = 0;
        return r < 0 ? r : store_feed_set(b->st, "synth", seq);
}

/* Go-live: everything before b->golive in the daemon's batches, "catching up"; then its round. */
static int run_golive(bench_t *b)
{
        FILE *f = fopen(b->history, "r");
        char *line = NULL, *buf = malloc(LINE_MAX_B + 64), reason[EV_PARSE_REASON_SIZE];
        size_t cap = 0, len;
        int64_t seq = 0;
        int n = 0, r = 0;
        event_t ev;

        if (!f || !buf)
                return -EIO;
        engine_set_catching_up(b->eng, true, true);
        while (r == 0 && next_event(f, &line, &cap, &seq, buf, &len)) {
                if (event_parse(buf, len, &ev, reason, sizeof(reason)) == 0 && ev.at >= b->golive)
                        continue;
                if (n == 0 && (r = engine_begin(b->eng, b->golive)) < 0)
                        break;
                r = apply_one(b, buf, len, seq);
                if (++n == b->cfg.store_batch || r) {
                        r = engine_commit(b->eng, r, count, b);
                        n = 0;
                }
        }
        if (n && r == 0)
                r = engine_commit(b->eng, 0, count, b);
        engine_set_catching_up(b->eng, false, false);
        if (r == 0)
                r = round_at(b, b->golive);
        fclose(f);
        free(line);
        free(buf);
        return r;
}

static int by_at(const void *x, const void *y)
{
        const bk_time_t *a = x, *c = y;
        return (a[0] > c[0]) - (a[0] < c[0]);
}

/* Steady state: the rest, live, in time order, with a round at each day's start and each new hour. */
static int run_steady(bench_t *b)
{
        FILE *f = fopen(b->history, "r");
        char *line = NULL, *buf = malloc(LINE_MAX_B + 64), reason[EV_PARSE_REASON_SIZE];
        size_t cap = 0, len, n = 0, ncap = 0;
        int64_t seq = 0;
        bk_time_t *ix = NULL;     /* pairs: at, file offset */
        event_t ev;
        int r = 0;

        if (!f || !buf)
                return -EIO;
        for (long off = ftell(f); next_event(f, &line, &cap, &seq, buf, &len); off = ftell(f)) {
                if (event_parse(buf, len, &ev, reason, sizeof(reason)) != 0 || ev.at < b->golive)
                        continue;
                if (n == ncap) {
                        ncap = ncap ? ncap * 2 : 65536;
                        ix = realloc(ix, ncap * 3 * sizeof(*ix));
                        if (!ix)
                                return -ENOMEM;
                }
                ix[3 * n] = ev.at;
                ix[3 * n + 1] = off;
                ix[3 * n + 2] = seq;
                n++;
        }
        qsort(ix, n, 3 * sizeof(*ix), by_at);
        b->steady = true;
        bk_time_t hour = b->golive / 3600;
        cal_day_t day = b->golive_day;
        for (size_t i = 0; i < n && r == 0; i++) {
                bk_time_t at = ix[3 * i];
                /* every day in between gets its office-start round (digests, deliveries) */
                for (; day < cal_local_day(at) && r == 0; day++)
                        r = round_at(b, cal_local_to_utc(day + 1, b->cfg.calendar.office_start_min));
                if (r == 0 && at / 3600 != hour) {
                        hour = at / 3600;
                        r = round_at(b, at);
                }
                if (r != 0)
                        break;
                if (at > clock_now(&b->clock))
                        clock_set(&b->clock, at);
                fseek(f, (long)ix[3 * i + 1], SEEK_SET);
                int64_t s = ix[3 * i + 2] - 1;
                if (!next_event(f, &line, &cap, &s, buf, &len))
                        break;
                if ((r = engine_begin(b->eng, clock_now(&b->clock))) < 0)
                        break;
                r = engine_commit(b->eng, apply_one(b, buf, len, s), count, b);
        }
        b->weeks = (day - b->first_monday) / 7;
        free(ix);
        fclose(f);
        free(line);
        free(buf);
        return r;
}

static int cmp_int(const void *x, const void *y)
{
        return (*(const int *)x > *(const int *)y) - (*(const int *)x < *(const int *)y);
}

static int pct(int *v, int n, int p)
{
        if (n == 0)
                return 0;
        qsort(v, (size_t)n, sizeof(*v), cmp_int);
        return v[BK_MIN(n - 1, (n * p) / 100)];
}

/* Obligations (an escalation's pair, same case and cycle) with more than one item open and shown. */
static void obligations(bench_t *b, int64_t *pairs, int64_t *doubled)
{
        rem_filter_t all = { .state = -1, .limit = 10000000 };
        reminder_t *list = NULL;
        int n = 0;

        *pairs = *doubled = 0;
        if (store_rem_query(b->st, &all, &list, &n) != 0)
                return;
        for (int i = 0; i < n; i++) {
                const reminder_t *r = &list[i];
                char id[REM_ID_MAX];
                reminder_t p;

                if (rule_def[r->rule].supersedes < 0 || r->state == REM_SCHEDULED)
                        continue;
                (*pairs)++;
                rules_reminder_id(r->case_id, (rule_id_t)rule_def[r->rule].supersedes, r->cycle, id);
                if (store_rem_get(b->st, id, &p) == 0 && reminder_is_open(&p) && p.state != REM_SCHEDULED)
                        (*doubled)++;
        }
        free(list);
}

static void report(bench_t *b, const char *tag)
{
        int cw[MAX_TOPICS], cn[MAX_TOPICS], lm[MAX_TOPICS], ncw = 0, nl = 0, max_cw = 0, max_cn = 0, max_lm = 0,
            max_lp = 0;
        int *weekly = calloc((size_t)MAX_TOPICS * MAX_WEEKS, sizeof(int)), nw = 0;
        int *weekly_n = calloc((size_t)MAX_TOPICS * MAX_WEEKS, sizeof(int)), nwn = 0;
        int64_t pairs, doubled;

        for (int i = 0; i < b->n_t; i++) {
                topic_count_t *t = &b->t[i];
                moment_flush(b, t);
                if (t->leads) {
                        lm[nl++] = t->golive_msgs;
                        max_lm = BK_MAX(max_lm, t->golive_msgs);
                        max_lp = BK_MAX(max_lp, t->golive_popups);
                        continue;
                }
                cw[ncw] = t->golive_popups;
                cn[ncw++] = t->golive_notes;
                max_cw = BK_MAX(max_cw, t->golive_popups);
                max_cn = BK_MAX(max_cn, t->golive_notes);
                for (int w = 0; weekly && weekly_n && w < b->weeks && w < MAX_WEEKS; w++) {
                        weekly[nw++] = t->week_popups[w];
                        weekly_n[nwn++] = t->week_notes[w];
                }
        }
        obligations(b, &pairs, &doubled);
        printf("%s (delivery.quiet = %s)\n", tag, b->quiet ? "true" : "false");
        for (int i = 0; b->quiet && i < b->n_t; i++)
                if (!b->t[i].leads && b->t[i].golive_popups > 3)
                        printf("  go-live day, %s:%s\n", b->t[i].topic, b->t[i].golive_seen);
        printf("  go-live day: %" PRId64 " messages; pop-up messages per caseworker median %d, max %d (%d "
               "caseworkers)\n", b->msgs_golive, pct(cw, ncw, 50), max_cw, ncw);
        printf("  go-live day: notifications per caseworker as bevaka-notify shows them median %d, max %d\n",
               pct(cn, ncw, 50), max_cn);
        printf("  go-live day: %" PRId64 " caseworker pop-ups in the 08:00 round; later that day, by rule:",
               b->golive_round_popups);
        for (int r = 0; r < RULE__COUNT; r++)
                if (b->golive_by_rule[r])
                        printf(" %s %" PRId64, rules_name((rule_id_t)r), b->golive_by_rule[r]);
        printf("\n");
        printf("  go-live day: messages per leads topic median %d, max %d; pop-ups per leads topic max %d "
               "(%d units)\n", pct(lm, nl, 50), max_lm, max_lp, nl);
        printf("  after go-live: %" PRId64 " escalations shown, %" PRId64 " of them beside their earlier item "
               "(open items per obligation: %s)\n", pairs, doubled, doubled ? "2 for those" : "exactly 1");
        printf("  steady year: %" PRId64 " messages; pop-up messages per caseworker per week median %d, p90 %d "
               "(%d weeks)\n", b->msgs_steady, pct(weekly, nw, 50), pct(weekly, nw, 90), b->weeks);
        printf("  steady year: notifications per caseworker per week median %d, p90 %d\n", pct(weekly_n, nwn, 50),
               pct(weekly_n, nwn, 90));
        printf("RESULT %s.golive_popups_median %d\nRESULT %s.golive_popups_max %d\n", tag, pct(cw, ncw, 50), tag,
               max_cw);
        printf("RESULT %s.golive_notes_median %d\nRESULT %s.golive_notes_max %d\n", tag, pct(cn, ncw, 50), tag,
               max_cn);
        printf("RESULT %s.week_notes_median %d\nRESULT %s.week_notes_p90 %d\n", tag, pct(weekly_n, nwn, 50), tag,
               pct(weekly_n, nwn, 90));
        printf("RESULT %s.leads_msgs_max %d\nRESULT %s.obligations_doubled %" PRId64 "\n", tag, max_lm, tag, doubled);
        printf("RESULT %s.week_popups_median %d\nRESULT %s.week_popups_p90 %d\n", tag, pct(weekly, nw, 50), tag,
               pct(weekly, nw, 90));
        free(weekly);
        free(weekly_n);
}

static int run_mode(const char *history, const char *dir, bool quiet, const char *tag)
{
        bench_t *b = calloc(1, sizeof(*b));
        char err[1024];
        bk_time_t last;
        int r = -1;

        if (!b || !(b->t = calloc(MAX_TOPICS, sizeof(*b->t))))
                return -ENOMEM;
        b->history = history;
        b->quiet = quiet;
        snprintf(b->db, sizeof(b->db), "%s/signal-%s.db", dir, tag);
        if (config_load(NULL, dir, &b->cfg, err, sizeof(err)) != 0) {
                fprintf(stderr, "config: %s\n", err);
                goto out;
        }
        b->cfg.delivery.quiet = quiet;
        last = last_at(history);
        /* go-live: the first Monday at least a year before the last event, 08:00 */
        b->golive_day = cal_local_day(last) - 365;
        while (cal_weekday(b->golive_day) != 1)
                b->golive_day++;
        b->first_monday = b->golive_day;
        b->golive = cal_local_to_utc(b->golive_day, b->cfg.calendar.office_start_min);
        clock_init(&b->clock, true, b->golive);
        for (const char *sfx = ""; ; sfx = sfx[0] ? NULL : "-wal") {
                char p[1100];
                if (!sfx)
                        break;
                snprintf(p, sizeof(p), "%s%s", b->db, sfx);
                unlink(p);
        }
        if (store_open(b->db, false, &b->st) < 0 || engine_new(&b->cfg, b->st, &b->clock, &b->eng) < 0)
                goto out;
        if ((r = run_golive(b)) == 0)
                r = run_steady(b);
        if (r == 0)
                report(b, tag);
        else
                fprintf(stderr, "%s: failed: %d\n", tag, r);
out:
        engine_free(&b->eng);
        store_close(&b->st);
        for (int i = 0; b->t && i < b->n_t; i++)
                json_decref(b->t[i].moment);
        free(b->t);
        free(b);
        return r;
}

int main(int argc, char **argv)
{
        const char *dir = "/tmp";
        int opt;

        while ((opt = getopt(argc, argv, "d:")) != -1)
                if (opt == 'd')
                        dir = optarg;
        if (optind >= argc) {
                fprintf(stderr, "usage: bench-signal [-d DIR] HISTORY.jsonl\n");
                return 2;
        }
        log_init("bench-signal", LOG_WARNING, false);
        if (run_mode(argv[optind], dir, false, "v1") != 0 || run_mode(argv[optind], dir, true, "quiet") != 0)
                return 1;
        return 0;
}
