/*
 * indicators.h owns the quality indicators of docs/indicators.md: which
 * facts the engine files for them when an event is applied (one small,
 * derived row per fact, kept by the store), and how a unit's indicators for
 * a period and its monthly series are computed from those facts and the
 * reminders table, exactly and without replaying the event log. Every
 * indicator has a stable id and is a numerator over a denominator; medians
 * give the median as numerator and the number of values as denominator.
 */
#pragma once

#include <jansson.h>
#include "rules.h"
#include "store.h"

/* What a fact row says; a and b and text as noted. Stored: never renumber. */
typedef enum ind_fact_kind {
        IF_OPENED = 1,          /* case.opened */
        IF_CLOSED = 2,          /* case.closed */
        IF_REOPENED = 3,        /* case.reopened */
        IF_ASSIGNED = 4,        /* text: the caseworker (case.opened with one, caseworker.assigned) */
        IF_HOUSEHOLD = 5,       /* text: the children's birth months, comma-separated cal_month_t */
        IF_BARRIER = 6,         /* a: ev_barrier_t */
        IF_DECIDED = 7,         /* a: month; b: ev_outcome_t | 16 if child_impact_documented; text: decision */
        IF_IMPACT_DOC = 8,      /* text: the decision */
        IF_PLAN = 9,            /* a: 0 established, 1 revised */
        IF_EXEMPT = 10,         /* a: until (day) */
        IF_LT_START = 11,       /* the case became long-term (a new episode, as the rules count them) */
        IF_FIA_STARTED = 12,
        IF_FIA_COMPLETED = 13,
        IF_FIA_DECLINED = 14,   /* text: reason */
        IF_MAPPED = 15,         /* a: 1 with a home visit */
        IF_ACTOR_ON = 16,       /* a: ev_actor_t */
        IF_ACTOR_OFF = 17,
        IF_SIP = 18,            /* a: ind_sip_step_t */
} ind_fact_kind_t;

typedef enum ind_sip_step {
        SIP_INITIATED = 1, SIP_MEETING, SIP_ESTABLISHED, SIP_FOLLOWED_UP, SIP_ENDED, SIP_DECLINED
} ind_sip_step_t;

/* The fixed indicators; then IND_REM_PER_RULE per rule from IND_REM_FIRST. */
typedef enum ind_id {
        IND_LT_SHARE = 0, IND_LT_VERY_LONG,
        IND_FIA_30, IND_FIA_90, IND_FIA_MEDIAN, IND_FIA_NOT_STARTED, IND_FIA_DECLINED,
        IND_IB4_CURRENT, IND_IB4_MEDIAN, IND_IB4_EXEMPT,
        IND_CH_LT, IND_CH_MAPPED_30, IND_CH_FOLLOWUP, IND_CH_HOME_VISIT,
        IND_SIP_CONSIDER, IND_SIP_PROGRESS, IND_SIP_STALLED, IND_SIP_CHANGE,
        IND_CONT_RATE, IND_CONT_FREQUENT,
        IND_CI_MISSING,
        IND_CASELOAD,
        IND_REM_FIRST
} ind_id_t;

typedef enum ind_rem_kind {
        IR_RAISED = 0, IR_RESOLVED, IR_MEDIAN_DAYS, IR_OPEN_LATE, IR_ACKNOWLEDGED, IR_SNOOZED, IR_DISMISSED,
        IND_REM_PER_RULE
} ind_rem_kind_t;

#define IND__COUNT (IND_REM_FIRST + RULE__COUNT * IND_REM_PER_RULE)

/* The stable id ("fia.started_30d", "rem.FIA-DUE.raised"), written to buf. */
void indicators_id(int ind, char *buf, size_t n);
int indicators_from_id(const char *id);          /* -1 if unknown */

/* ---- filing facts (engine) ------------------------------------------------------------- */

/*
 * Files the facts of one event the rules applied to a case now in `unit`;
 * new_episode: the case became long-term with this event. 0 or -errno.
 */
int indicators_note(store_t *s, const event_t *ev, const char *unit, bool new_episode);

/* ---- computing (pure, per case) -------------------------------------------------------- */

/* One indicator's running figures. Medians collect their values. */
typedef struct ind_value {
        double num, den;
        int *vals;
        int n_vals, cap_vals;
        json_t *reasons;                 /* reason -> count, or NULL */
} ind_value_t;

typedef struct ind_acc {
        ind_value_t v[IND__COUNT];
        json_t *caseload;                /* caseworker -> open cases at the end (whole period only) */
} ind_acc_t;

void indicators_acc_init(ind_acc_t *a, bool caseload);
void indicators_acc_free(ind_acc_t *a);

/*
 * Adds one case's figures for the period [start, end] (local days, both
 * inclusive) to acc. f: the case's facts in arrival order (n of them);
 * facts after `end` are not looked at. Pure. 0 or -ENOMEM.
 */
int indicators_eval_case(const rules_cfg_t *cfg, const store_fact_t *f, int n, cal_day_t start, cal_day_t end,
                         ind_acc_t *acc);
/* Adds one reminder's figures for [start, end]. open_cases: open cases at end (the raised den). */
int indicators_eval_rem(const store_rem_brief_t *r, cal_day_t start, cal_day_t end, ind_acc_t *acc);
/* Finishes: medians into num/den, caseworkers into the caseload den. */
void indicators_acc_finish(ind_acc_t *acc);

/* ---- the API's answer ------------------------------------------------------------------ */

typedef struct ind_query {
        const char *unit;                /* NULL: all units */
        cal_month_t from, to;            /* inclusive */
        bool series;                     /* add each indicator's monthly series */
        bool by_unit;                    /* all units: add each unit's figures too */
        cal_day_t today;                 /* for the cases most behind */
} ind_query_t;

/*
 * {unit, from, to, indicators: [{id, title, kind, numerator, denominator,
 * value, reasons?, series?: [{month, numerator, denominator}]}], caseload:
 * [{caseworker, open_cases, open_reminders}], behind: [{case, overdue,
 * oldest_due}], units?: {unit: {id: [numerator, denominator]}}}.
 * 0, BK_E_CONFLICT (facts incomplete: the store needs --rebuild) or -errno.
 */
int indicators_compute(store_t *s, const rules_cfg_t *cfg, const ind_query_t *q, json_t **out);
