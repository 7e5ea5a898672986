/*
 * test-indicators.c owns the tests of indicators.c. Three layers:
 *   - every definition of docs/indicators.md against hand-computed case
 *     histories given as facts (indicators_eval_case, indicators_eval_rem);
 *   - the facts the engine files as it applies events, a case moving unit,
 *     a rebuild giving the same answer, a store that needs a rebuild;
 *   - the whole set on a synthetic district (`bevaka-feed synth`, run as a
 *     program) against an independent recomputation in this file from the
 *     stored event log (decoded with jansson, episodes counted anew by
 *     domain §3) and, for the per-rule figures, from the reminders as the
 *     API lists them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "engine.h"
#include "indicators.h"
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
        return tap_done();
}
