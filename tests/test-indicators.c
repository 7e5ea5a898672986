/*
 * test-indicators.c owns the tests of indicators.c and indworker.c. Layers:
 *   - every definition of docs/indicators.md against hand-computed case
 *     histories given as facts (indicators_eval_case, indicators_eval_rem);
 *   - the facts the engine files as it applies events, a case moving unit,
 *     a rebuild giving the same answer;
 *   - the worker thread answering through its own connection what the
 *     query answers in place, to the reply addresses given, its bounded queue;
 *   - the whole set on a synthetic district (`bevaka-feed synth`, run as a
 *     program) against an independent recomputation in this file from the
 *     stored event log (decoded with jansson, episodes counted anew by
 *     domain §3) and, for the per-rule figures, from the reminders as the
 *     API lists them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "engine.h"
#include "indicators.h"
#include "indworker.h"
#include "log.h"
#include "tap.h"

static cal_day_t D(const char *s)
{
        cal_day_t d = 0;
        CHECK_INT(cal_parse_date(s, &d), 0);
        return d;
}

static cal_month_t M(const char *s)
{
        cal_month_t m = 0;
        CHECK_INT(cal_parse_month(s, &m), 0);
        return m;
}

/* A case history as facts, in day order. */
typedef struct hist {
        store_fact_t f[256];
        int n;
} hist_t;

static void fact(hist_t *h, const char *day, int kind, int64_t a, int64_t b, const char *text)
{
        store_fact_t *f = &h->f[h->n++];
        memset(f, 0, sizeof(*f));
        f->day = D(day);
        f->kind = kind;
        f->a = a;
        f->b = b;
        bk_strlcpy(f->text, text ? text : "", sizeof(f->text));
}

/* Monthly decisions on the 5th, months from..to, one outcome. */
static void decide(hist_t *h, int y0, int m0, int y1, int m1, int outcome)
{
        for (cal_month_t m = cal_month_from_ym(y0, m0); m <= cal_month_from_ym(y1, m1); m++) {
                int y, mo;
                char day[16];
                cal_ym(m, &y, &mo);
                snprintf(day, sizeof(day), "%04d-%02d-05", y, mo);
                fact(h, day, IF_DECIDED, m, outcome, "");
        }
}

/* Insertion by day, arrival order kept (what the query does before evaluating). */
static void by_day(hist_t *h)
{
        for (int i = 1; i < h->n; i++) {
                store_fact_t t = h->f[i];
                int j = i - 1;
                while (j >= 0 && h->f[j].day > t.day) {
                        h->f[j + 1] = h->f[j];
                        j--;
                }
                h->f[j + 1] = t;
        }
}

static rules_cfg_t cfg;

static void eval(hist_t *h, const char *from, const char *to, ind_acc_t *a)
{
        by_day(h);
        indicators_acc_init(a, true);
        CHECK_INT(indicators_eval_case(&cfg, h->f, h->n, D(from), D(to), a), 0);
        indicators_acc_finish(a);
}

#define NUMDEN(a, ind, n, d) do { CHECK_INT((a)->v[ind].num * 1000, (n) * 1000); \
                                  CHECK_INT((a)->v[ind].den * 1000, (d) * 1000); } while (0)

/*
 * Case 1, period 2024: opened 2023-01-10 (caseworker A, a child born 2015-03), granted every
 * month from 2023-02, long-term from the 2023-11 decision (2023-11-05). FIA started 2024-01-20
 * (76 days). Plan 2024-03-01, revised 2024-10-15 (228 days). Mapped 2024-02-01 with a home visit,
 * again 2024-07-15 without. Caseworker B 2024-04-01, C 2024-09-01. AF since 2023-06-01, FK from
 * 2024-05-01; SIP initiated 2024-05-10, meeting 2024-06-20 (41 days: stalled), established
 * 2024-10-01 after the change to C. A partial grant for 2024-06 (d-06) documented later, a
 * refusal for 2024-11 (d-11) never.
 */
static void hist_case1(hist_t *h)
{
        h->n = 0;
        fact(h, "2023-01-10", IF_OPENED, 0, 0, NULL);
        fact(h, "2023-01-10", IF_ASSIGNED, 0, 0, "hkA");
        char births[16];
        snprintf(births, sizeof(births), "%d", (int)cal_month_from_ym(2015, 3));
        fact(h, "2023-01-10", IF_HOUSEHOLD, 0, 0, births);
        decide(h, 2023, 2, 2024, 5, OUTCOME_GRANTED);
        fact(h, "2023-11-05", IF_LT_START, 0, 0, NULL);
        fact(h, "2023-06-01", IF_ACTOR_ON, ACTOR_AF, 0, NULL);
        fact(h, "2024-01-20", IF_FIA_STARTED, 0, 0, NULL);
        fact(h, "2024-02-01", IF_MAPPED, 1, 0, NULL);
        fact(h, "2024-03-01", IF_PLAN, 0, 0, NULL);
        fact(h, "2024-04-01", IF_ASSIGNED, 0, 0, "hkB");
        fact(h, "2024-05-01", IF_ACTOR_ON, ACTOR_FK, 0, NULL);
        fact(h, "2024-05-10", IF_SIP, SIP_INITIATED, 0, NULL);
        fact(h, "2024-06-05", IF_DECIDED, M("2024-06"), OUTCOME_PARTIAL, "d-06");
        fact(h, "2024-06-20", IF_SIP, SIP_MEETING, 0, NULL);
        fact(h, "2024-06-20", IF_IMPACT_DOC, 0, 0, "d-06");
        decide(h, 2024, 7, 2024, 10, OUTCOME_GRANTED);
        fact(h, "2024-07-15", IF_MAPPED, 0, 0, NULL);
        fact(h, "2024-09-01", IF_ASSIGNED, 0, 0, "hkC");
        fact(h, "2024-10-01", IF_SIP, SIP_ESTABLISHED, 0, NULL);
        fact(h, "2024-10-15", IF_PLAN, 1, 0, NULL);
        fact(h, "2024-11-05", IF_DECIDED, M("2024-11"), OUTCOME_REFUSED, "d-11");
        decide(h, 2024, 12, 2024, 12, OUTCOME_GRANTED);
}

static void test_case1(void)
{
        hist_t h;
        ind_acc_t a;

        hist_case1(&h);
        eval(&h, "2024-01-01", "2024-12-31", &a);
        NUMDEN(&a, IND_LT_SHARE, 1, 1);          /* 11 of 2024's months granted (2024-11 refused) */
        NUMDEN(&a, IND_LT_VERY_LONG, 0, 1);      /* 22 of 48 */
        NUMDEN(&a, IND_FIA_30, 0, 0);            /* its 30-day mark (2023-12-05) is before the period */
        NUMDEN(&a, IND_FIA_90, 1, 1);            /* 2024-02-03 in it; started on day 76 */
        NUMDEN(&a, IND_FIA_MEDIAN, 76, 1);
        NUMDEN(&a, IND_FIA_NOT_STARTED, 0, 1);
        NUMDEN(&a, IND_FIA_DECLINED, 0, 1);
        NUMDEN(&a, IND_IB4_CURRENT, 1, 1);       /* 2024-10-15 is within 4 months of 2024-12-31 */
        NUMDEN(&a, IND_IB4_MEDIAN, 228, 1);
        NUMDEN(&a, IND_IB4_EXEMPT, 0, 1);
        NUMDEN(&a, IND_CH_LT, 1, 1);
        NUMDEN(&a, IND_CH_MAPPED_30, 0, 0);
        NUMDEN(&a, IND_CH_FOLLOWUP, 1, 1);       /* 2024-02-01 due 2024-08-01, mapped again 07-15 */
        NUMDEN(&a, IND_CH_HOME_VISIT, 1, 2);
        NUMDEN(&a, IND_SIP_CONSIDER, 0, 1);      /* AF and FK, but a SIP is in progress */
        NUMDEN(&a, IND_SIP_PROGRESS, 1, 1);
        NUMDEN(&a, IND_SIP_STALLED, 1, 1);       /* meeting on day 41 */
        NUMDEN(&a, IND_SIP_CHANGE, 1, 1);        /* C took over a running SIP, established after */
        CHECK_INT(a.v[IND_CONT_RATE].num, 2);
        CHECK(a.v[IND_CONT_RATE].den > 366 / 365.0 - 1e-9 && a.v[IND_CONT_RATE].den < 366 / 365.0 + 1e-9);
        NUMDEN(&a, IND_CONT_FREQUENT, 1, 1);
        NUMDEN(&a, IND_CI_MISSING, 1, 2);        /* d-06 documented, d-11 not */
        NUMDEN(&a, IND_CASELOAD, 1, 1);
        CHECK_INT(json_integer_value(json_object_get(a.caseload, "hkC")), 1);
        indicators_acc_free(&a);

        /* The same case in June 2024 alone: what was known at its end. */
        hist_case1(&h);
        eval(&h, "2024-06-01", "2024-06-30", &a);
        NUMDEN(&a, IND_IB4_CURRENT, 1, 1);       /* 2024-03-01 >= 2024-02-29 */
        NUMDEN(&a, IND_IB4_MEDIAN, 0, 0);
        NUMDEN(&a, IND_SIP_STALLED, 1, 1);       /* 2024-06-09: no meeting yet */
        NUMDEN(&a, IND_SIP_CHANGE, 0, 0);
        NUMDEN(&a, IND_CI_MISSING, 0, 1);        /* documented on 06-20 */
        NUMDEN(&a, IND_CONT_FREQUENT, 0, 1);     /* one change (B) by then */
        NUMDEN(&a, IND_CH_HOME_VISIT, 0, 0);
        CHECK_INT(a.v[IND_CONT_RATE].num, 0);
        CHECK(a.v[IND_CONT_RATE].den > 30 / 365.0 - 1e-9 && a.v[IND_CONT_RATE].den < 30 / 365.0 + 1e-9);
        indicators_acc_free(&a);

        /* November 2024: the refusal is undocumented at the month's end. */
        hist_case1(&h);
        eval(&h, "2024-11-01", "2024-11-30", &a);
        NUMDEN(&a, IND_CI_MISSING, 1, 1);
        NUMDEN(&a, IND_LT_SHARE, 1, 1);          /* 2023-12..2024-10 granted: 11 */
        indicators_acc_free(&a);
}

/*
 * Case 2: very long-term (46 of the 48 months 2021-01..2024-12), FIA declined with a reason in
 * the current episode, an exemption in force at the end, children mapped on day 20 of an episode
 * that started in the period (a second episode: the rules said so with a second LT_START).
 */
static void test_case2(void)
{
        hist_t h = { .n = 0 };
        ind_acc_t a;
        char births[16];

        fact(&h, "2020-12-01", IF_OPENED, 0, 0, NULL);
        fact(&h, "2020-12-01", IF_ASSIGNED, 0, 0, "hkA");
        snprintf(births, sizeof(births), "%d,%d", (int)cal_month_from_ym(2000, 1), (int)cal_month_from_ym(2010, 6));
        fact(&h, "2020-12-01", IF_HOUSEHOLD, 0, 0, births);
        decide(&h, 2021, 1, 2024, 12, OUTCOME_GRANTED);
        fact(&h, "2022-05-05", IF_DECIDED, M("2022-05"), OUTCOME_REFUSED, "x");   /* later decision wins */
        fact(&h, "2023-07-05", IF_DECIDED, M("2023-07"), OUTCOME_REFUSED, "y");
        fact(&h, "2021-10-05", IF_LT_START, 0, 0, NULL);
        fact(&h, "2024-02-05", IF_LT_START, 0, 0, NULL);
        fact(&h, "2024-02-25", IF_MAPPED, 0, 0, NULL);
        fact(&h, "2024-03-01", IF_FIA_DECLINED, 0, 0, "avböjer");
        fact(&h, "2024-11-01", IF_EXEMPT, D("2025-04-30"), 0, NULL);
        eval(&h, "2024-01-01", "2024-12-31", &a);
        NUMDEN(&a, IND_LT_VERY_LONG, 1, 1);
        NUMDEN(&a, IND_FIA_DECLINED, 1, 1);
        CHECK_INT(json_integer_value(json_object_get(a.v[IND_FIA_DECLINED].reasons, "avböjer")), 1);
        NUMDEN(&a, IND_FIA_NOT_STARTED, 0, 1);
        NUMDEN(&a, IND_FIA_30, 0, 1);            /* 2024-02-05 + 30 in the period, no start */
        NUMDEN(&a, IND_FIA_90, 0, 1);
        NUMDEN(&a, IND_IB4_EXEMPT, 1, 1);
        NUMDEN(&a, IND_IB4_CURRENT, 0, 1);
        NUMDEN(&a, IND_CH_MAPPED_30, 1, 1);      /* the child born 2010-06 counts; mapped on day 20 */
        NUMDEN(&a, IND_CH_LT, 1, 1);
        NUMDEN(&a, IND_SIP_CONSIDER, 0, 1);
        indicators_acc_free(&a);

        /* An exemption without `until` lasts the configured 6 months: 2024-07-01 + 6 > 2024-12-31. */
        store_fact_t *ex = NULL;
        for (int i = 0; i < h.n; i++)
                if (h.f[i].kind == IF_EXEMPT)
                        ex = &h.f[i];
        ex->a = INT32_MIN;
        ex->day = D("2024-07-01");
        eval(&h, "2024-01-01", "2024-12-31", &a);
        NUMDEN(&a, IND_IB4_EXEMPT, 1, 1);
        indicators_acc_free(&a);
        for (int i = 0; i < h.n; i++)
                if (h.f[i].kind == IF_EXEMPT)
                        h.f[i].day = D("2024-06-30");    /* ... and ended on 2024-12-30 */
        eval(&h, "2024-01-01", "2024-12-31", &a);
        NUMDEN(&a, IND_IB4_EXEMPT, 0, 1);
        indicators_acc_free(&a);

        /* With the second child born 2006-06 instead, nobody counts in 2024-12 (18 in 2024-06). */
        snprintf(h.f[2].text, sizeof(h.f[2].text), "%d", (int)cal_month_from_ym(2006, 6));
        eval(&h, "2024-01-01", "2024-12-31", &a);
        NUMDEN(&a, IND_CH_LT, 0, 1);
        NUMDEN(&a, IND_CH_MAPPED_30, 1, 1);      /* but it did on 2024-02-05 */
        indicators_acc_free(&a);
}

/* Case 3: closed in the period; counted for what happened while it was open, not in the stock. */
static void test_case3(void)
{
        hist_t h = { .n = 0 };
        ind_acc_t a;

        fact(&h, "2024-01-01", IF_OPENED, 0, 0, NULL);
        fact(&h, "2024-01-01", IF_ASSIGNED, 0, 0, "hkA");
        fact(&h, "2024-01-02", IF_BARRIER, BARRIER_SICKNESS, 0, NULL);
        fact(&h, "2024-01-03", IF_ACTOR_ON, ACTOR_REGION, 0, NULL);
        fact(&h, "2024-03-01", IF_ASSIGNED, 0, 0, "hkB");
        fact(&h, "2024-03-01", IF_ASSIGNED, 0, 0, "hkB");       /* the same caseworker again: no change */
        fact(&h, "2024-06-30", IF_CLOSED, 0, 0, NULL);
        eval(&h, "2024-01-01", "2024-12-31", &a);
        NUMDEN(&a, IND_LT_SHARE, 0, 0);
        NUMDEN(&a, IND_CASELOAD, 0, 0);
        CHECK_INT(a.v[IND_CONT_RATE].num, 1);
        CHECK(a.v[IND_CONT_RATE].den > 181 / 365.0 - 1e-9 && a.v[IND_CONT_RATE].den < 181 / 365.0 + 1e-9);
        indicators_acc_free(&a);

        /* Reopened and granted 10 months: long-term with sickness and the Region: SIP-CONSIDER holds. */
        fact(&h, "2024-08-01", IF_REOPENED, 0, 0, NULL);
        decide(&h, 2024, 3, 2024, 12, OUTCOME_GRANTED);
        eval(&h, "2024-01-01", "2024-12-31", &a);
        NUMDEN(&a, IND_LT_SHARE, 1, 1);
        NUMDEN(&a, IND_SIP_CONSIDER, 1, 1);
        NUMDEN(&a, IND_FIA_NOT_STARTED, 0, 0);   /* no episode: the rules filed no LT_START */
        CHECK(a.v[IND_CONT_RATE].den > (181 + 153) / 365.0 - 1e-9 && a.v[IND_CONT_RATE].den < (181 + 153) / 365.0 + 1e-9);
        indicators_acc_free(&a);
}

/* Per-rule figures of reminders, and the lower median of an even count. */
static void test_reminders(void)
{
        ind_acc_t a;
        store_rem_brief_t r = { .rule = RULE_FIA_DUE, .case_id = "c", .unit = "u", .caseworker = "hkA",
                                .close_reason = "" };
        int base = IND_REM_FIRST + RULE_FIA_DUE * IND_REM_PER_RULE;
        cal_day_t s = D("2024-01-01"), e = D("2024-12-31");

        indicators_acc_init(&a, false);
        r.due = D("2024-03-01");                 /* resolved 8 days after delivery */
        r.state = REM_RESOLVED;
        r.delivered_at = cal_local_to_utc(D("2024-03-02"), 8 * 60);
        r.closed_at = cal_local_to_utc(D("2024-03-10"), 9 * 60);
        CHECK_INT(indicators_eval_rem(&r, s, e, &a), 0);
        r.due = D("2024-04-01");                 /* resolved 2 days after, on day 40 after due */
        r.delivered_at = cal_local_to_utc(D("2024-05-09"), 8 * 60);
        r.closed_at = cal_local_to_utc(D("2024-05-11"), 9 * 60);
        CHECK_INT(indicators_eval_rem(&r, s, e, &a), 0);
        r.due = D("2023-12-20");                 /* still open; due before the period */
        r.state = REM_ACKNOWLEDGED;
        r.closed_at = 0;
        CHECK_INT(indicators_eval_rem(&r, s, e, &a), 0);
        r.due = D("2024-06-01");                 /* dismissed */
        r.state = REM_CANCELLED;
        r.close_reason = "dismissed: redan gjord";
        r.closed_at = cal_local_to_utc(D("2024-06-02"), 9 * 60);
        CHECK_INT(indicators_eval_rem(&r, s, e, &a), 0);
        r.due = D("2025-01-10");                 /* after the period: nothing */
        r.state = REM_SNOOZED;
        r.closed_at = 0;
        CHECK_INT(indicators_eval_rem(&r, s, e, &a), 0);
        a.v[IND_LT_SHARE].den = 7;               /* the open cases at the end */
        indicators_acc_finish(&a);
        NUMDEN(&a, base + IR_RAISED, 3, 7);
        NUMDEN(&a, base + IR_RESOLVED, 2, 3);
        NUMDEN(&a, base + IR_MEDIAN_DAYS, 2, 2); /* {8, 2}: the lower median */
        NUMDEN(&a, base + IR_OPEN_LATE, 2, 4);   /* 04-01 (closed day 40) and 12-20 (open) late */
        NUMDEN(&a, base + IR_ACKNOWLEDGED, 0, 3);
        NUMDEN(&a, base + IR_SNOOZED, 0, 3);
        NUMDEN(&a, base + IR_DISMISSED, 1, 3);
        CHECK_INT(json_integer_value(json_object_get(a.v[base + IR_DISMISSED].reasons, "redan gjord")), 1);
        indicators_acc_free(&a);
}


static void drop(void *ud, const char *topic, const char *payload)
{
}

static int cmp_ints(const void *x, const void *y)
{
        int a = *(const int *)x, b = *(const int *)y;
        return (a > b) - (a < b);
}

/* ---- the whole set against an independent recomputation ---------------------------------- */

/*
 * One event of the log as this file reads it: straight from the stored JSON with jansson, none
 * of event.c's or indicators.c's code. Dates are the local date of `at`.
 */
typedef struct iev {
        char type[32];
        cal_day_t day;
        json_t *data;
} iev_t;

typedef struct icase {
        char id[EV_NAME_MAX + 1], unit[EV_NAME_MAX + 1];
        iev_t *ev;
        int n, cap;
        cal_day_t ep[32];               /* long-term episode starts, by domain §3 */
        int ep_i[32];                   /* the decisions that started them */
        int n_ep;
} icase_t;

typedef struct ilog {
        icase_t *c;
        int n, cap;
} ilog_t;

static icase_t *icase_get(ilog_t *l, const char *id)
{
        for (int i = l->n - 1; i >= 0; i--)
                if (strcmp(l->c[i].id, id) == 0)
                        return &l->c[i];
        if (l->n == l->cap) {
                l->cap = l->cap ? 2 * l->cap : 64;
                l->c = realloc(l->c, (size_t)l->cap * sizeof(*l->c));
        }
        memset(&l->c[l->n], 0, sizeof(l->c[0]));
        bk_strlcpy(l->c[l->n].id, id, sizeof(l->c[0].id));
        return &l->c[l->n++];
}

static int ilog_add(void *ud, const char *raw, size_t len)
{
        ilog_t *l = ud;
        json_t *j = json_loadb(raw, len, 0, NULL);
        bk_time_t at = 0;
        icase_t *c;

        CHECK(j != NULL);
        if (!j)
                return 0;
        c = icase_get(l, json_string_value(json_object_get(j, "case")));
        CHECK_INT(cal_parse_rfc3339(json_string_value(json_object_get(j, "at")), &at), 0);
        if (c->n == c->cap) {
                c->cap = c->cap ? 2 * c->cap : 32;
                c->ev = realloc(c->ev, (size_t)c->cap * sizeof(*c->ev));
        }
        bk_strlcpy(c->ev[c->n].type, json_string_value(json_object_get(j, "type")), sizeof(c->ev[0].type));
        c->ev[c->n].day = cal_local_day(at);
        c->ev[c->n].data = json_incref(json_object_get(j, "data"));
        bk_strlcpy(c->unit, json_string_value(json_object_get(j, "unit")), sizeof(c->unit));
        c->n++;
        json_decref(j);
        return 0;
}

static bool is(const iev_t *e, const char *type)
{
        return strcmp(e->type, type) == 0;
}

static const char *dstr(const iev_t *e, const char *key)
{
        const char *v = json_string_value(json_object_get(e->data, key));
        return v ? v : "";
}

static cal_month_t dmonth(const iev_t *e)
{
        cal_month_t m = 0;
        cal_parse_month(dstr(e, "month"), &m);
        return m;
}

static bool granted_outcome(const iev_t *e)
{
        return strcmp(dstr(e, "outcome"), "granted") == 0 || strcmp(dstr(e, "outcome"), "partial") == 0;
}

/* Granted months in the 12 months ending with end, by the decisions made on or before `upto`. */
static int igranted(const icase_t *c, cal_day_t upto, cal_month_t end, int window)
{
        int n = 0;
        for (cal_month_t m = end - window + 1; m <= end; m++) {
                int last = -1;
                for (int i = 0; i < c->n; i++)
                        if (is(&c->ev[i], "assistance.decided") && c->ev[i].day <= upto && dmonth(&c->ev[i]) == m)
                                last = granted_outcome(&c->ev[i]);
                n += last == 1;
        }
        return n;
}

/* Episodes: after each decision, >= 10 of the 12 months ending at the latest month decided; a new
 * one the first time, or after a full window (12 months) below the threshold. */
static void iepisodes(icase_t *c)
{
        cal_month_t latest = INT32_MIN, lt_last = INT32_MIN, below_since = 0;
        bool lt = false;
        json_t *months = json_object();          /* "month" -> granted (last decision wins) */

        for (int i = 0; i < c->n; i++) {
                const iev_t *e = &c->ev[i];
                if (!is(e, "assistance.decided"))
                        continue;
                json_object_set_new(months, dstr(e, "month"), json_boolean(granted_outcome(e)));
                if (dmonth(e) > latest)
                        latest = dmonth(e);
                int n = 0;
                for (cal_month_t m = latest - 11; m <= latest; m++) {
                        char key[8];
                        cal_format_month(m, key, sizeof(key));
                        n += json_is_true(json_object_get(months, key));
                }
                if (n >= 10 && !lt) {
                        if (c->n_ep == 0 || latest - below_since >= 12) {
                                c->ep_i[c->n_ep] = i;
                                c->ep[c->n_ep++] = e->day;
                        }
                        lt = true;
                        lt_last = latest;
                } else if (n >= 10) {
                        lt_last = BK_MAX(lt_last, latest);
                } else if (lt) {
                        lt = false;
                        /* the first month below the threshold after the last long-term month */
                        below_since = latest;
                        for (cal_month_t m = lt_last + 1; m < latest; m++) {
                                int k = 0;
                                for (cal_month_t x = m - 11; x <= m; x++) {
                                        char key[8];
                                        cal_format_month(x, key, sizeof(key));
                                        k += json_is_true(json_object_get(months, key));
                                }
                                if (k < 10) {
                                        below_since = m;
                                        break;
                                }
                        }
                }
        }
        json_decref(months);
}

/* The state of the case at the end of `day`: the last of some event types on or before it. */
static const iev_t *ilast(const icase_t *c, cal_day_t day, const char *const *types)
{
        const iev_t *last = NULL;
        for (int i = 0; i < c->n && c->ev[i].day <= day; i++)
                for (const char *const *t = types; *t; t++)
                        if (is(&c->ev[i], *t))
                                last = &c->ev[i];
        return last;
}

static bool iopen(const icase_t *c, cal_day_t day)
{
        static const char *const t[] = { "case.opened", "case.reopened", "case.closed", NULL };
        const iev_t *e = ilast(c, day, t);
        return e && !is(e, "case.closed");
}

static int ichildren(const icase_t *c, cal_day_t day)
{
        const iev_t *h = NULL;
        int n = 0;
        for (int i = 0; i < c->n && c->ev[i].day <= day; i++)
                if ((is(&c->ev[i], "case.opened") || is(&c->ev[i], "case.updated")) &&
                    json_object_get(c->ev[i].data, "household"))
                        h = &c->ev[i];
        json_t *kids = h ? json_object_get(json_object_get(h->data, "household"), "children") : NULL;
        for (size_t k = 0; k < json_array_size(kids); k++) {
                cal_month_t b = 0;
                cal_parse_month(json_string_value(json_array_get(kids, k)), &b);
                n += cal_month_of(day) <= b + 12 * 18;
        }
        return n;
}

/* Caseworker changes: indexes of caseworker.assigned (or case.opened) naming another caseworker. */
static int ichanges(const icase_t *c, int *idx)
{
        const char *cw = "";
        int n = 0;
        for (int i = 0; i < c->n; i++) {
                const char *w = dstr(&c->ev[i], "caseworker");
                if (!(is(&c->ev[i], "caseworker.assigned") || is(&c->ev[i], "case.opened") ||
                      is(&c->ev[i], "case.updated")) || !w[0])
                        continue;
                if (cw[0] && strcmp(cw, w) != 0)
                        idx[n++] = i;
                cw = w;
        }
        return n;
}

typedef struct ifig {
        double num[IND_REM_FIRST], den[IND_REM_FIRST];
        int vals[2][20000], n_vals[2];           /* FIA, IB4 medians */
        json_t *cws;
} ifig_t;

static void iadd(ifig_t *g, int ind, bool hit)
{
        g->num[ind] += hit;
        g->den[ind] += 1;
}

static bool sip_on(const iev_t *e)
{
        return e && (is(e, "sip.initiated") || is(e, "sip.meeting_held") || is(e, "sip.established") ||
                     is(e, "sip.followed_up"));
}

static void istock(const icase_t *c, cal_day_t e, ifig_t *g)
{
        static const char *const plan[] = { "ib4.established", "ib4.revised", NULL };
        static const char *const exempt[] = { "ib4.exempted", NULL };
        static const char *const sip[] = { "sip.initiated", "sip.meeting_held", "sip.established",
                                           "sip.followed_up", "sip.ended", "sip.declined", NULL };
        int ch[256], nch = ichanges(c, ch), recent = 0;
        const iev_t *p = ilast(c, e, plan), *x = ilast(c, e, exempt), *sp = ilast(c, e, sip);
        const char *cw = "";

        if (!iopen(c, e))
                return;
        bool lt = igranted(c, e, cal_month_of(e), 12) >= 10;
        iadd(g, IND_LT_SHARE, lt);
        iadd(g, IND_LT_VERY_LONG, igranted(c, e, cal_month_of(e), 48) >= 46);
        iadd(g, IND_IB4_CURRENT, p && p->day >= cal_add_months(e, -4));
        cal_day_t until = 0;
        if (x && cal_parse_date(dstr(x, "until"), &until) != 0)
                until = cal_add_months(x->day, 6);
        iadd(g, IND_IB4_EXEMPT, x && until >= e);
        iadd(g, IND_SIP_PROGRESS, sip_on(sp));
        for (int k = 0; k < nch; k++)
                recent += c->ev[ch[k]].day <= e && c->ev[ch[k]].day > cal_add_months(e, -12);
        iadd(g, IND_CONT_FREQUENT, recent >= 2);
        for (int i = 0; i < c->n && c->ev[i].day <= e; i++)
                if (dstr(&c->ev[i], "caseworker")[0])
                        cw = dstr(&c->ev[i], "caseworker");
        if (cw[0]) {
                g->num[IND_CASELOAD]++;
                json_object_set_new(g->cws, cw, json_true());
        }
        if (!lt)
                return;
        iadd(g, IND_CH_LT, ichildren(c, e) > 0);
        unsigned actors = 0;
        const char *barrier = "";
        for (int i = 0; i < c->n && c->ev[i].day <= e; i++) {
                const char *a = dstr(&c->ev[i], "actor");
                unsigned bit = strcmp(a, "af") == 0 ? 1 : strcmp(a, "fk") == 0 ? 2 : strcmp(a, "region") == 0 ? 4 : 0;
                if (is(&c->ev[i], "actor.involved"))
                        actors |= bit;
                else if (is(&c->ev[i], "actor.ended"))
                        actors &= ~bit;
                if (json_object_get(c->ev[i].data, "barrier"))
                        barrier = dstr(&c->ev[i], "barrier");
        }
        int n_act = !!(actors & 1) + !!(actors & 2) + !!(actors & 4);
        iadd(g, IND_SIP_CONSIDER, (n_act >= 2 || (strcmp(barrier, "sickness") == 0 && (actors & 4))) && !sip_on(sp));
        /* the current episode: the last start on or before e; what came after its decision */
        int ep = -1;
        for (int k = 0; k < c->n_ep; k++)
                if (c->ep[k] <= e)
                        ep = k;
        if (ep < 0)
                return;
        bool started = false, declined = false;
        for (int i = c->ep_i[ep] + 1; i < c->n && c->ev[i].day <= e; i++) {
                started |= is(&c->ev[i], "fia.started");
                declined |= is(&c->ev[i], "fia.declined");
        }
        iadd(g, IND_FIA_NOT_STARTED, !started && !declined);
        iadd(g, IND_FIA_DECLINED, declined);
}

/* The first event of `type` after index i dated on or before `to`; NULL if none. */
static const iev_t *inext(const icase_t *c, int i, const char *type, cal_day_t to)
{
        for (int j = i + 1; j < c->n && c->ev[j].day <= to; j++)
                if (is(&c->ev[j], type))
                        return &c->ev[j];
        return NULL;
}

static bool in(cal_day_t d, cal_day_t s, cal_day_t e)
{
        return d >= s && d <= e;
}

static void iepisode_figs(const icase_t *c, cal_day_t s, cal_day_t e, ifig_t *g)
{
        for (int k = 0; k < c->n_ep && c->ep[k] <= e; k++) {
                cal_day_t d0 = c->ep[k];
                const iev_t *st = inext(c, c->ep_i[k], "fia.started", e);
                if (in(d0 + 30, s, e))
                        iadd(g, IND_FIA_30, st && st->day <= d0 + 30);
                if (in(d0 + 90, s, e))
                        iadd(g, IND_FIA_90, st && st->day <= d0 + 90);
                if (st && st->day >= s)
                        g->vals[0][g->n_vals[0]++] = st->day - d0;
                if (in(d0 + 30, s, e) && ichildren(c, d0) > 0)
                        iadd(g, IND_CH_MAPPED_30, inext(c, c->ep_i[k], "children.mapped", d0 + 30) != NULL);
        }
}

static void ievent_figs(const icase_t *c, cal_day_t s, cal_day_t e, ifig_t *g)
{
        cal_day_t prev = INT32_MIN;
        for (int i = 0; i < c->n && c->ev[i].day <= e; i++) {
                const iev_t *x = &c->ev[i];
                if (is(x, "ib4.established") || is(x, "ib4.revised")) {
                        if (prev != INT32_MIN && x->day >= s)
                                g->vals[1][g->n_vals[1]++] = x->day - prev;
                        prev = x->day;
                } else if (is(x, "children.mapped")) {
                        cal_day_t due = cal_add_months(x->day, 6);
                        if (x->day >= s)
                                iadd(g, IND_CH_HOME_VISIT, json_is_true(json_object_get(x->data, "home_visit")));
                        if (in(due, s, e) && iopen(c, due) && igranted(c, x->day, cal_month_of(x->day), 12) >= 10 &&
                            ichildren(c, x->day) > 0)
                                iadd(g, IND_CH_FOLLOWUP, inext(c, i, "children.mapped", due) != NULL);
                } else if (is(x, "sip.initiated") && in(x->day + 30, s, e)) {
                        iadd(g, IND_SIP_STALLED, inext(c, i, "sip.meeting_held", x->day + 30) == NULL);
                } else if (is(x, "assistance.decided") && x->day >= s && ichildren(c, x->day) > 0 &&
                           (strcmp(dstr(x, "outcome"), "refused") == 0 || strcmp(dstr(x, "outcome"), "partial") == 0)) {
                        bool doc = json_is_true(json_object_get(x->data, "child_impact_documented"));
                        for (int j = i + 1; j < c->n && c->ev[j].day <= e; j++)
                                doc |= is(&c->ev[j], "child_impact.documented") &&
                                       strcmp(dstr(&c->ev[j], "decision"), dstr(x, "decision")) == 0;
                        iadd(g, IND_CI_MISSING, !doc);
                }
        }
}

static void icontinuity(const icase_t *c, cal_day_t s, cal_day_t e, ifig_t *g)
{
        static const char *const sip[] = { "sip.initiated", "sip.meeting_held", "sip.established",
                                           "sip.followed_up", "sip.ended", "sip.declined", NULL };
        int ch[256], nch = ichanges(c, ch);
        double days = 0;

        for (int k = 0; k < nch; k++) {
                const iev_t *x = &c->ev[ch[k]];
                if (!in(x->day, s, e))
                        continue;
                g->num[IND_CONT_RATE]++;
                const iev_t *before = NULL, *next = NULL;
                for (int j = 0; j < ch[k]; j++)
                        for (const char *const *t = sip; *t; t++)
                                if (is(&c->ev[j], *t))
                                        before = &c->ev[j];
                for (int j = ch[k] + 1; !next && j < c->n && c->ev[j].day <= e; j++)
                        for (const char *const *t = sip; *t; t++)
                                if (is(&c->ev[j], *t))
                                        next = &c->ev[j];
                if (sip_on(before))
                        iadd(g, IND_SIP_CHANGE, next && (is(next, "sip.meeting_held") || is(next, "sip.established") ||
                                                         is(next, "sip.followed_up")));
        }
        /* days open in [s, e]: a case closed on day x was open until x - 1 */
        bool open = false;
        cal_day_t since = 0;
        for (int i = 0; i < c->n && c->ev[i].day <= e; i++) {
                const iev_t *x = &c->ev[i];
                if ((is(x, "case.opened") || is(x, "case.reopened")) && !open) {
                        open = true;
                        since = x->day;
                } else if (is(x, "case.closed") && open) {
                        open = false;
                        days += BK_MAX(0, BK_MIN(x->day - 1, e) - BK_MAX(since, s) + 1);
                }
        }
        if (open)
                days += BK_MAX(0, e - BK_MAX(since, s) + 1);
        g->den[IND_CONT_RATE] += days / 365.0;
}

static int lower_median(int *v, int n)
{
        qsort(v, (size_t)n, sizeof(int), cmp_ints);
        return n ? v[(n - 1) / 2] : 0;
}

static void ifig_case(const icase_t *c, cal_day_t s, cal_day_t e, ifig_t *g)
{
        istock(c, e, g);
        iepisode_figs(c, s, e, g);
        ievent_figs(c, s, e, g);
        icontinuity(c, s, e, g);
}

static void ifig_finish(ifig_t *g)
{
        g->num[IND_FIA_MEDIAN] = lower_median(g->vals[0], g->n_vals[0]);
        g->den[IND_FIA_MEDIAN] = g->n_vals[0];
        g->num[IND_IB4_MEDIAN] = lower_median(g->vals[1], g->n_vals[1]);
        g->den[IND_IB4_MEDIAN] = g->n_vals[1];
        g->den[IND_CASELOAD] = (double)json_object_size(g->cws);
}

static bool near(double a, double b)
{
        return a - b < 0.0015 && b - a < 0.0015;
}

static int mismatches;

static void compare(const char *what, int ind, double num, double den, double inum, double iden)
{
        char id[96];
        if (near(num, inum) && near(den, iden)) {
                tap_pass++;
                return;
        }
        indicators_id(ind, id, sizeof(id));
        if (mismatches++ < 20)
                fprintf(stderr, "FAIL %s %s: %g/%g, recomputed %g/%g\n", what, id, num, den, inum, iden);
        tap_fail++;
}

/* Per-rule figures from the reminders as the API lists them (store_rem_query). */
static void irem_compare(store_t *st, const char *unit, cal_day_t s, cal_day_t e, const json_t *inds,
                         int window, double open_cases)
{
        rem_filter_t all = { .unit = unit, .state = -2, .limit = 10000000 };
        reminder_t *list = NULL;
        int n = 0;

        CHECK_INT(store_rem_query(st, &all, &list, &n), 0);
        for (int rule = 0; rule < RULE__COUNT; rule++) {
                double f[IND_REM_PER_RULE][2] = { { 0 } };
                int med[20000], n_med = 0;
                for (int i = 0; i < n; i++) {
                        const reminder_t *r = &list[i];
                        cal_day_t closed = r->closed_at ? cal_local_day(r->closed_at) : INT32_MAX;
                        if (r->rule != rule)
                                continue;
                        if (in(r->due + 30, s, e)) {
                                f[IR_OPEN_LATE][0] += closed > r->due + 30;
                                f[IR_OPEN_LATE][1]++;
                        }
                        if (r->state == REM_RESOLVED && r->delivered_at && in(closed, s, e) && n_med < 20000)
                                med[n_med++] = (int)((r->closed_at - r->delivered_at) / 86400);
                        if (!in(r->due, s, e))
                                continue;
                        f[IR_RAISED][0]++;
                        f[IR_RESOLVED][0] += r->state == REM_RESOLVED;
                        f[IR_ACKNOWLEDGED][0] += r->state == REM_ACKNOWLEDGED;
                        f[IR_SNOOZED][0] += r->state == REM_SNOOZED;
                        f[IR_DISMISSED][0] += r->state == REM_CANCELLED && strncmp(r->close_reason, "dismissed", 9) == 0;
                }
                f[IR_RAISED][1] = open_cases;
                for (int k = IR_RESOLVED; k < IND_REM_PER_RULE; k++)
                        if (k != IR_OPEN_LATE && k != IR_MEDIAN_DAYS)
                                f[k][1] = f[IR_RAISED][0];
                f[IR_MEDIAN_DAYS][0] = lower_median(med, n_med);
                f[IR_MEDIAN_DAYS][1] = n_med;
                for (int k = 0; k < IND_REM_PER_RULE; k++) {
                        int ind = IND_REM_FIRST + rule * IND_REM_PER_RULE + k;
                        const json_t *o = json_array_get(inds, (size_t)ind), *m = o;
                        if (window > 0)
                                m = json_array_get(json_object_get(o, "series"), (size_t)window - 1);
                        compare(unit ? unit : "all", ind, json_number_value(json_object_get(m, "numerator")),
                                json_number_value(json_object_get(m, "denominator")), f[k][0], f[k][1]);
                }
        }
        free(list);
}

/* Replays a synthetic district through the engine as a daemon would (the clock follows the events,
 * time-driven rules and deliveries run between batches). */
static int replay_synth(store_t *st, engine_t *eng, bk_clock_t *clock, const char *bin)
{
        char cmd[2048], line[65536], raw[65600], reason[EV_PARSE_REASON_SIZE];
        int64_t seq = 0;
        FILE *p;
        event_t ev;

        snprintf(cmd, sizeof(cmd), "%s/bevaka-feed synth --cases 300 --years 3 --seed 11 -q", bin);
        p = popen(cmd, "r");
        CHECK(p != NULL);
        if (!p)
                return -1;
        CHECK_INT(engine_begin(eng, clock_now(clock)), 0);
        while (fgets(line, sizeof(line), p)) {
                size_t n = strcspn(line, "\n");
                if (n < 2)
                        continue;
                int len = snprintf(raw, sizeof(raw), "%.*s,\"source\":\"t\",\"seq\":%lld}", (int)n - 1, line,
                                   (long long)++seq);
                CHECK_INT(event_parse(raw, (size_t)len, &ev, reason, sizeof(reason)), 0);
                if (ev.at > clock_now(clock)) {
                        clock_set(clock, ev.at);
                        engine_set_now(eng, ev.at);
                }
                CHECK_INT(engine_apply_event(eng, &ev), 0);
                if (seq % 500 == 0) {
                        int w, d;
                        do {
                                w = engine_wake_cases(eng, 1000);
                                d = engine_deliver_due(eng, 1000);
                        } while (w > 0 || d > 0);
                        CHECK_INT(engine_commit(eng, 0, drop, NULL), 0);
                        CHECK_INT(engine_begin(eng, clock_now(clock)), 0);
                }
        }
        CHECK_INT(engine_commit(eng, 0, drop, NULL), 0);
        CHECK_INT(pclose(p), 0);
        return (int)seq;
}

static void compare_fixed(const char *what, const json_t *inds, int window, ifig_t *g)
{
        for (int i = 0; i < IND_REM_FIRST; i++) {
                const json_t *o = json_array_get(inds, (size_t)i), *m = o;
                if (window > 0)
                        m = json_array_get(json_object_get(o, "series"), (size_t)window - 1);
                compare(what, i, json_number_value(json_object_get(m, "numerator")),
                        json_number_value(json_object_get(m, "denominator")), g->num[i], g->den[i]);
        }
}

static void test_independent(void)
{
        const char *bin = getenv("BEVAKA_BIN");
        config_t c;
        bk_clock_t clock;
        store_t *st = NULL;
        engine_t *eng = NULL;
        ilog_t log = { 0 };
        json_t *out = NULL;
        char err[256];
        static ifig_t g;

        if (!bin) {
                fprintf(stderr, "BEVAKA_BIN not set (run under ctest)\n");
                tap_fail++;
                return;
        }
        CHECK_INT(config_load(NULL, "/tmp", &c, err, sizeof(err)), 0);
        clock_init(&clock, true, 1);
        CHECK_INT(store_open(":memory:", false, &st), 0);
        CHECK_INT(engine_new(&c, st, &clock, &eng), 0);
        CHECK(replay_synth(st, eng, &clock, bin) > 10000);
        CHECK_INT(store_counter(st, CNT_IGNORED), 0);     /* every event applied: the log is the truth */
        CHECK_INT(store_events_each(st, ilog_add, &log), 0);
        for (int i = 0; i < log.n; i++)
                iepisodes(&log.c[i]);

        /* The history runs 2021-01..2023-12: its last two years, with the series, for all units. */
        ind_query_t q = { .unit = NULL, .from = M("2022-01"), .to = M("2023-12"), .series = true,
                          .by_unit = true, .today = D("2024-01-01") };
        CHECK_INT(indicators_compute(st, &c.rules, &q, &out), 0);
        json_t *inds = json_object_get(out, "indicators");
        CHECK_INT(json_array_size(inds), IND__COUNT);
        for (int w = 0; w <= q.to - q.from + 1; w++) {
                cal_month_t a = w ? q.from + w - 1 : q.from, b = w ? a : q.to;
                int y, m;
                cal_ym(a, &y, &m);
                cal_day_t s = cal_day_from_ymd(y, m, 1);
                cal_ym(b, &y, &m);
                cal_day_t e = cal_day_from_ymd(y, m, cal_days_in_month(y, m));
                memset(&g, 0, sizeof(g));
                g.cws = json_object();
                for (int i = 0; i < log.n; i++)
                        ifig_case(&log.c[i], s, e, &g);
                ifig_finish(&g);
                CHECK(g.den[IND_LT_SHARE] > 50 || w == 0);  /* a district, not an empty answer */
                compare_fixed(w ? "month" : "period", inds, w, &g);
                irem_compare(st, NULL, s, e, inds, w, g.den[IND_LT_SHARE]);
                json_decref(g.cws);
        }
        /* Each unit's figures for the period. */
        const char *unit;
        json_t *figs;
        json_object_foreach(json_object_get(out, "units"), unit, figs) {
                memset(&g, 0, sizeof(g));
                g.cws = json_object();
                for (int i = 0; i < log.n; i++)
                        if (strcmp(log.c[i].unit, unit) == 0)
                                ifig_case(&log.c[i], D("2022-01-01"), D("2023-12-31"), &g);
                ifig_finish(&g);
                for (int i = 0; i < IND_REM_FIRST; i++) {
                        char id[96];
                        indicators_id(i, id, sizeof(id));
                        json_t *nd = json_object_get(figs, id);
                        compare(unit, i, json_number_value(json_array_get(nd, 0)),
                                json_number_value(json_array_get(nd, 1)), g.num[i], g.den[i]);
                }
                json_decref(g.cws);
        }
        CHECK(json_object_size(json_object_get(out, "units")) >= 1);
        json_decref(out);
        for (int i = 0; i < log.n; i++) {
                for (int k = 0; k < log.c[i].n; k++)
                        json_decref(log.c[i].ev[k].data);
                free(log.c[i].ev);
        }
        free(log.c);
        engine_free(&eng);
        store_close(&st);
}

/* A case opened 2023-01-01 with a child born 2020-01, granted every month from first_month of 2023. */
static void family(hist_t *h, int first_month)
{
        char births[16];

        h->n = 0;
        snprintf(births, sizeof(births), "%d", (int)cal_month_from_ym(2020, 1));
        fact(h, "2023-01-01", IF_OPENED, 0, 0, NULL);
        fact(h, "2023-01-01", IF_HOUSEHOLD, 0, 0, births);
        decide(h, 2023, first_month, 2024, 12, OUTCOME_GRANTED);
}

/* The edges of each "within N days/months": day N counts, day N + 1 does not. */
static void boundary(const char *start_fia, const char *map, const char *meeting, bool in30, bool in90,
                     bool mapped30, bool stalled)
{
        hist_t h;
        ind_acc_t a;

        family(&h, 5);
        fact(&h, "2024-03-01", IF_LT_START, 0, 0, NULL);
        fact(&h, start_fia, IF_FIA_STARTED, 0, 0, NULL);
        fact(&h, map, IF_MAPPED, 0, 0, NULL);
        fact(&h, "2024-04-01", IF_SIP, SIP_INITIATED, 0, NULL);
        fact(&h, meeting, IF_SIP, SIP_MEETING, 0, NULL);
        eval(&h, "2024-01-01", "2024-12-31", &a);
        NUMDEN(&a, IND_FIA_30, in30, 1);
        NUMDEN(&a, IND_FIA_90, in90, 1);
        NUMDEN(&a, IND_CH_MAPPED_30, mapped30, 1);
        NUMDEN(&a, IND_SIP_STALLED, stalled, 1);
        indicators_acc_free(&a);
}

static void test_boundaries(void)
{
        /* long-term 2024-03-01: day 30 is 03-31, day 90 is 05-30; SIP 04-01: day 30 is 05-01 */
        boundary("2024-03-31", "2024-03-31", "2024-05-01", true, true, true, false);
        boundary("2024-04-01", "2024-04-01", "2024-05-02", false, true, false, true);
        boundary("2024-05-30", "2024-03-01", "2024-04-01", false, true, true, false);
        boundary("2024-05-31", "2024-02-29", "2024-03-31", false, false, false, true);

        /* A mapping followed up exactly 6 months later counts; a day later does not. */
        for (int late = 0; late < 2; late++) {
                hist_t h;
                ind_acc_t a;
                family(&h, 1);
                fact(&h, "2024-01-31", IF_MAPPED, 0, 0, NULL);
                fact(&h, late ? "2024-08-01" : "2024-07-31", IF_MAPPED, 0, 0, NULL);
                eval(&h, "2024-01-01", "2024-12-31", &a);
                NUMDEN(&a, IND_CH_FOLLOWUP, !late, 1);   /* 2024-01-31 + 6 months = 2024-07-31 */
                indicators_acc_free(&a);
        }
}

/* ---- the facts the engine files ------------------------------------------------------------ */

typedef struct efx {
        config_t cfg;
        bk_clock_t clock;
        store_t *store;
        engine_t *engine;
        int64_t seq;
} efx_t;

static void efx_event(efx_t *f, const char *type, const char *at, const char *case_id, const char *unit,
                      const char *data)
{
        char raw[2048], reason[EV_PARSE_REASON_SIZE];
        event_t ev;
        int len = snprintf(raw, sizeof(raw), "{\"v\":1,\"id\":\"e%lld\",\"source\":\"s\",\"seq\":%lld,\"type\":\"%s\","
                           "\"at\":\"%s\",\"case\":\"%s\",\"unit\":\"%s\",\"actor\":\"hk1\",\"data\":%s}",
                           (long long)f->seq + 1, (long long)f->seq + 1, type, at, case_id, unit, data);
        f->seq++;
        CHECK_INT(event_parse(raw, (size_t)len, &ev, reason, sizeof(reason)), 0);
        CHECK_INT(engine_begin(f->engine, clock_now(&f->clock)), 0);
        CHECK_INT(engine_apply_event(f->engine, &ev), 0);
        CHECK_INT(engine_commit(f->engine, 0, drop, NULL), 0);
}

static json_t *efx_ind(efx_t *f, const char *unit, const char *from, const char *to)
{
        ind_query_t q = { .unit = unit, .from = M(from), .to = M(to), .series = true, .today = D("2026-01-01") };
        json_t *out = NULL;
        CHECK_INT(indicators_compute(f->store, &f->cfg.rules, &q, &out), 0);
        return out;
}

static double fig(const json_t *out, const char *id, const char *member)
{
        return json_number_value(json_object_get(json_array_get(json_object_get(out, "indicators"),
                                                                (size_t)indicators_from_id(id)), member));
}

static int count_fact(void *ud, const char *unit, const char *case_id, const store_fact_t *f)
{
        (*(int *)ud)++;
        return 0;
}

static int efx_rebuild_one(void *ud, const char *raw, size_t len)
{
        efx_t *f = ud;
        char reason[EV_PARSE_REASON_SIZE];
        event_t ev;
        CHECK_INT(event_parse(raw, len, &ev, reason, sizeof(reason)), 0);
        CHECK_INT(engine_apply_event(f->engine, &ev), 0);
        return 0;
}

/* A case becomes long-term in unit U1 (the episode is filed), moves to U2 and takes its facts along;
 * a rebuild from the event log gives the same answer. */
static void test_engine_facts(void)
{
        efx_t f = { 0 };
        char err[256], at[64], data[256];
        json_t *a, *b, *u1;

        CHECK_INT(config_load(NULL, "/tmp", &f.cfg, err, sizeof(err)), 0);
        clock_init(&f.clock, true, 1);
        CHECK_INT(store_open(":memory:", false, &f.store), 0);
        CHECK_INT(engine_new(&f.cfg, f.store, &f.clock, &f.engine), 0);
        efx_event(&f, "case.opened", "2025-01-02T09:00:00+01:00", "C1", "U1",
                  "{\"caseworker\":\"hk1\",\"household\":{\"adults\":1,\"single_parent\":true,"
                  "\"children\":[\"2015-04\"]},\"barrier\":\"unemployment\"}");
        for (int m = 1; m <= 10; m++) {
                snprintf(at, sizeof(at), "2025-%02d-05T09:00:00+0%d:00", m, m >= 4 && m <= 10 ? 2 : 1);
                snprintf(data, sizeof(data), "{\"month\":\"2025-%02d\",\"outcome\":\"granted\",\"decision\":\"d%d\"}", m, m);
                efx_event(&f, "assistance.decided", at, "C1", "U1", data);
        }
        efx_event(&f, "fia.started", "2025-10-20T09:00:00+02:00", "C1", "U1", "{}");
        efx_event(&f, "caseworker.assigned", "2025-11-03T09:00:00+01:00", "C1", "U1", "{\"caseworker\":\"hk2\"}");
        a = efx_ind(&f, "U1", "2025-01", "2025-12");
        CHECK_INT(fig(a, "lt.share", "numerator"), 1);
        CHECK_INT(fig(a, "fia.started_30d", "denominator"), 1);  /* long-term 2025-10-05 */
        CHECK_INT(fig(a, "fia.started_30d", "numerator"), 1);    /* started on day 15 */
        CHECK_INT(fig(a, "fia.median_days", "numerator"), 15);
        CHECK_INT(fig(a, "continuity.changes_per_case_year", "numerator"), 1);
        CHECK_INT(json_array_size(json_object_get(a, "caseload")), 1);
        CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(a, "caseload"), 0), "caseworker")), "hk2");
        u1 = a;

        efx_event(&f, "case.updated", "2025-12-01T09:00:00+01:00", "C1", "U1", "{\"unit\":\"U2\"}");
        a = efx_ind(&f, "U1", "2025-01", "2025-12");
        CHECK_INT(fig(a, "lt.share", "denominator"), 0);     /* nothing left in U1 */
        CHECK_INT(fig(a, "fia.median_days", "denominator"), 0);
        json_decref(a);
        a = efx_ind(&f, "U2", "2025-01", "2025-12");
        CHECK_INT(fig(a, "lt.share", "numerator"), 1);       /* the whole history moved along */
        CHECK_INT(fig(a, "fia.median_days", "numerator"), 15);
        json_decref(u1);

        /* --rebuild: the derived tables cleared, the log applied again: the same answer. */
        CHECK_INT(engine_begin(f.engine, clock_now(&f.clock)), 0);
        CHECK_INT(store_clear_derived(f.store), 0);
        engine_set_rebuild(f.engine, true);
        CHECK_INT(store_events_each(f.store, efx_rebuild_one, &f), 0);
        engine_set_rebuild(f.engine, false);
        CHECK_INT(engine_commit(f.engine, 0, drop, NULL), 0);
        b = efx_ind(&f, "U2", "2025-01", "2025-12");
        CHECK(json_equal(a, b));
        json_decref(a);
        json_decref(b);

        /* A case the store forgets (retention, purge) leaves no fact behind. */
        int before = 0;
        CHECK_INT(store_facts_each(f.store, NULL, count_fact, &before), 0);
        CHECK(before >= 15);                     /* opened, assigned, household, barrier, 10 decisions, ... */
        CHECK_INT(store_begin(f.store), 0);
        CHECK_INT(store_facts_forget(f.store, "C1"), 0);
        CHECK_INT(store_commit(f.store), 0);
        int left = 0;
        CHECK_INT(store_facts_each(f.store, NULL, count_fact, &left), 0);
        CHECK_INT(left, 0);
        engine_free(&f.engine);
        store_close(&f.store);
}

/* ---- the worker ---------------------------------------------------------------------------- */

static int wakes;

static void count_wake(void *ud)
{
        __atomic_add_fetch(&wakes, 1, __ATOMIC_SEQ_CST);
}

struct answers { int n; json_t *out[32]; char peer[32][8]; };

static void take(void *ud, const indworker_answer_t *a)
{
        struct answers *as = ud;
        CHECK(a->err_code == NULL);
        CHECK_INT(a->peer_len, 4);
        memcpy(as->peer[as->n], a->peer, 4);
        as->out[as->n++] = json_incref(a->out);
}

/* The worker answers through its own connection what the query answers in place, in order, to
 * the reply addresses given; a full queue is refused. */
static void test_worker(void)
{
        char dir[] = "/tmp/bevaka-indw-XXXXXX", path[600], err[256];
        efx_t f = { 0 };
        indworker_t *w = NULL;
        struct answers as = { 0 };
        json_t *want;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/s.db", dir);
        CHECK_INT(config_load(NULL, "/tmp", &f.cfg, err, sizeof(err)), 0);
        clock_init(&f.clock, true, 1);
        CHECK_INT(store_open(path, false, &f.store), 0);
        CHECK_INT(engine_new(&f.cfg, f.store, &f.clock, &f.engine), 0);
        efx_event(&f, "case.opened", "2025-01-02T09:00:00+01:00", "C1", "U1",
                  "{\"caseworker\":\"hk1\",\"household\":{\"adults\":1,\"single_parent\":false,\"children\":[]},"
                  "\"barrier\":\"sickness\"}");
        efx_event(&f, "ib4.established", "2025-03-02T09:00:00+01:00", "C1", "U1", "{}");
        want = efx_ind(&f, "U1", "2025-01", "2025-12");

        CHECK_INT(indworker_start(":memory:", count_wake, NULL, &w), BK_E_INVALID);
        CHECK_INT(indworker_start(path, count_wake, NULL, &w), 0);
        ind_query_t q = { .unit = "U1", .from = M("2025-01"), .to = M("2025-12"), .series = true,
                          .today = D("2026-01-01") };
        for (int i = 0; i < INDWORKER_QUEUE_MAX; i++)
                CHECK_INT(indworker_submit(w, &q, &f.cfg.rules, NULL, i % 2 ? "odd" : "evn", 4), 0);
        CHECK_INT(indworker_submit(w, &q, &f.cfg.rules, NULL, "full", 5), BK_E_CONFLICT);
        for (int tries = 0; as.n < INDWORKER_QUEUE_MAX && tries < 5000; tries++) {
                if (indworker_drain(w, take, &as) == 0)
                        usleep(2000);    /* polling the worker, with a bound */
        }
        CHECK_INT(as.n, INDWORKER_QUEUE_MAX);
        CHECK(__atomic_load_n(&wakes, __ATOMIC_SEQ_CST) >= 1);
        for (int i = 0; i < as.n; i++) {
                CHECK(json_equal(as.out[i], want));
                CHECK_STR(as.peer[i], i % 2 ? "odd" : "evn");
                json_decref(as.out[i]);
        }
        CHECK_INT(indworker_submit(w, &q, &f.cfg.rules, NULL, "room", 5), 0);   /* drained: room again */
        indworker_stop(&w);
        CHECK(w == NULL);
        json_decref(want);
        engine_free(&f.engine);
        store_close(&f.store);
        unlink(path);
        char more[640];
        snprintf(more, sizeof(more), "%s-wal", path);
        unlink(more);
        snprintf(more, sizeof(more), "%s-shm", path);
        unlink(more);
        rmdir(dir);
}

static void test_ids(void)
{
        char id[96];
        for (int i = 0; i < IND__COUNT; i++) {
                indicators_id(i, id, sizeof(id));
                CHECK_INT(indicators_from_id(id), i);
        }
        indicators_id(IND_REM_FIRST + RULE_FIA_OVERDUE * IND_REM_PER_RULE + IR_OPEN_LATE, id, sizeof(id));
        CHECK_STR(id, "rem.FIA-OVERDUE.open_late");
        CHECK_INT(indicators_from_id("fia.started_30d"), IND_FIA_30);
        CHECK_INT(indicators_from_id("nope"), -1);
}

int main(void)
{
        log_init("test-indicators", LOG_WARNING, false);
        rules_cfg_default(&cfg);
        test_ids();
        test_case1();
        test_case2();
        test_case3();
        test_reminders();
        test_boundaries();
        test_engine_facts();
        test_worker();
        test_independent();
        return tap_done();
}
