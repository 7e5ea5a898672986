/*
 * rules-state.h is private to the rules files (rules.c, rules-table.c,
 * rules-codec.c, rules-view.c, rules-handover.c): the tracks and their states,
 * the per-case state, the context of one transition run and the helpers
 * the files share. Nothing outside daemon/rules*.c includes it.
 */
#pragma once

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <jansson.h>
#include "rules.h"

#define DAY_NONE INT32_MIN
#define MONTH_NONE INT32_MIN
#define WAKE_NEVER INT32_MAX
#define CONT_KEEP 32                /* caseworker change dates kept for CONTINUITY */
#define SUMMER_KEEP 16              /* summer_allowance.applied years kept */
#define QUEUE_MAX 16
#define MAX_ROW_ACTIONS 5
#define STATE_VERSION 1

/* ---- tracks, states, internal events --------------------------------------- */

typedef enum track {
        TR_CASE = 0, TR_IB, TR_SAFETY, TR_FIA, TR_CHILD, TR_SUMMER, TR_IMPACT,
        TR_SIP, TR_HANDOVER, TR_CONTINUITY, TR_WC, TR__COUNT
} track_t;

enum { CS_OPEN = 0, CS_CLOSED };
enum { IB_NONE = 0, IB_IB1, IB_IB2, IB_IB3, IB_PLAN, IB_EXEMPT };
enum { SAFE_NONE = 0, SAFE_PENDING, SAFE_DONE };
enum { FIA_NOT_DUE = 0, FIA_DUE, FIA_STARTED, FIA_COMPLETED, FIA_DECLINED };
enum { CH_NONE = 0, CH_DUE, CH_MAPPED };
enum { SUM_IDLE = 0, SUM_DUE };
/* impact, handover and continuity have no state of their own: one "idle" state. */
enum { SIP_NONE = 0, SIP_SUGGESTED, SIP_INITIATED, SIP_MEETING_HELD, SIP_ESTABLISHED,
       SIP_ENDED, SIP_DECLINED };
enum { WC_OK = 0, WC_DUE };

#define TRACK_STATES_MAX 8

extern const char *const rs_track_names[TR__COUNT];
extern const char *const rs_state_names[TR__COUNT][TRACK_STATES_MAX];

/*
 * Internal events extend ev_type_t. They are what the facts and the clock
 * tell the tracks: "a new long-term episode began", "no child counts any
 * more", "the exemption ends today". Keeping them events keeps every
 * reminder decision in the one table.
 */
enum {
        IE_LONG_TERM = EV__COUNT,  /* a new long-term episode began (not a silent resume) */
        IE_CHILDREN_GAINED,        /* case.opened/updated added a counting child */
        IE_CHILDREN_GONE,          /* no child counts any more (aged out, household changed) */
        IE_EXEMPT_END,             /* the IB4 exemption's `until` is reached */
        IE_SUMMER_CHECK,           /* the yearly summer-allowance check date */
        IE_SUMMER_EXPIRE,          /* 1 July (summer_expire_month) of the armed year */
        IE_SIP_COND_UP,            /* SIP-CONSIDER's condition started to hold */
        IE_SIP_COND_DOWN,          /* … stopped holding while the suggestion is open */
        IE_WC_COND_UP,             /* WORK-CAPACITY's condition holds, nothing open */
        IE_WC_COND_DOWN,           /* … stopped holding while open */
        IE_CW_CHANGED,             /* the caseworker changed (after the handover) */
};

/* ---- state ----------------------------------------------------------------------- */

/*
 * What the engine believes about the one open occurrence of a rule. The
 * store is the owner of reminders; this is the engine's memory of what it
 * asked for, so that it resolves exactly the cycle it scheduled, can tell
 * "still open" (FIA-OVERDUE, expiry), and can re-arm after a reopening.
 */
typedef enum arm_state { ARM_NONE = 0, ARM_OPEN, ARM_SUSPENDED } arm_state_t;

typedef struct armed {
        arm_state_t s;
        cal_day_t due;
        char cycle[RULE_CYCLE_MAX];
        char base[RULE_CYCLE_MAX];   /* cycle before any reopen suffix */
} armed_t;

struct case_state {
        char case_id[EV_NAME_MAX + 1];
        bool seen;                   /* any event applied */
        bool opened;                 /* case.opened seen */
        char unit[EV_NAME_MAX + 1];
        char caseworker[EV_NAME_MAX + 1];
        cal_day_t first_day;
        cal_day_t tick_day;          /* time-driven transitions done up to and including */
        int reopen_n;

        int adults;
        bool single_parent;
        int n_children;
        cal_month_t children[EV_MAX_CHILDREN];
        int counting;                /* children counting on tick_day (for the view) */
        ev_barrier_t barrier;
        unsigned actors;             /* bit (1 << ev_actor_t) */
        bool health_flagged;

        int n_granted, cap_granted;
        cal_month_t *granted;        /* sorted, unique */
        cal_month_t last_decided;

        bool lt;
        int lt_episode;
        cal_day_t lt_since;
        cal_month_t lt_last_month;   /* last evaluated month that was long-term */
        cal_month_t lt_below_since;  /* first month below the threshold after an episode */

        int ts[TR__COUNT];

        int ib1_n, ib3_n, plan_n, exempt_n;
        cal_day_t ib1_day, ib2_day, ib3_day, plan_day, exempt_until;
        char exempt_reason[EV_REASON_MAX + 1];

        cal_day_t safety_day;

        int fia_n;
        cal_day_t fia_due_day, fia_started, fia_completed, fia_declined;
        char fia_reason[EV_REASON_MAX + 1];

        int map_n, cmap_episode, cmap_k;
        cal_day_t mapped_day;

        int summer_year;             /* year of the open SUMMER-ALLOWANCE */
        int n_applied;
        int applied[SUMMER_KEEP];    /* sorted */

        int sip_n, sip_fu_n, sipc_n, sip_rest;
        bool sip_base;
        cal_day_t sip_initiated, sip_meeting, sip_established, sip_followed_up;
        char sip_reason[EV_REASON_MAX + 1];

        int assign_n, change_n, n_changes;
        cal_day_t changes[CONT_KEEP];

        int wc_n;
        cal_day_t wc_assessed;

        armed_t armed[RULE__COUNT];
};

/* ---- context of one transition run ------------------------------------------- */

typedef struct ctx {
        const rules_cfg_t *cfg;
        case_state_t *st;
        const event_t *ev;           /* NULL for time-driven transitions */
        cal_day_t day;               /* the local date the transition happens on */
        cal_day_t horizon;           /* the day the run goes to (summer expiry) */
        int summer_year;             /* IE_SUMMER_CHECK: the year checked */
        rules_out_t *out;
        int queue[QUEUE_MAX];
        int nq, qhead;
        bool fresh;                  /* this event is the first the case has seen */
        bool overflow;
} ctx_t;

typedef bool (*guard_fn)(const ctx_t *c);
typedef void (*action_fn)(ctx_t *c);

typedef struct transition {
        track_t track;
        unsigned states;             /* bit per state of the track */
        int event;                   /* ev_type_t or IE_* */
        guard_fn guard;              /* NULL: always */
        action_fn act[MAX_ROW_ACTIONS];
        int next;                    /* SAME: keep (an action may have set it) */
        /*
         * The rules the row's actions arm, resolve or cancel, RB(rule) bits,
         * so that a rule id leads by one grep to every row that touches it.
         * Debug builds check each row against what its actions emit.
         */
        unsigned rules;
} transition_t;

#define RB(rule) (1u << (rule))
#define RULES_ALL ((1u << RULE__COUNT) - 1)   /* closing and reopening touch every rule */
_Static_assert(RULE__COUNT <= 32, "a transition's rules are bits of an unsigned");

#define S(x) (1u << (x))
#define ANY (~0u)
#define SAME (-1)

#define IB_BEFORE_PLAN (S(IB_NONE) | S(IB_IB1) | S(IB_IB2) | S(IB_IB3))
#define FIA_IDLE (S(FIA_NOT_DUE) | S(FIA_COMPLETED) | S(FIA_DECLINED))
#define SIP_REST (S(SIP_NONE) | S(SIP_ENDED) | S(SIP_DECLINED))
#define SIP_RUNNING (S(SIP_INITIATED) | S(SIP_MEETING_HELD) | S(SIP_ESTABLISHED))

extern const transition_t rs_transitions[];
extern const size_t rs_n_transitions;

/* The why: a small JSON object writer into a fixed buffer (rules-view.c). */
typedef struct why {
        char buf[RULE_WHY_MAX];
        size_t len;
} why_t;

/* ---- small helpers ------------------------------------------------------------ */

static inline cal_day_t armed_due(const case_state_t *st, rule_id_t r)
{
        return st->armed[r].s != ARM_NONE ? st->armed[r].due : DAY_NONE;
}

static inline bool actor_on(const case_state_t *st, ev_actor_t a)
{
        return (st->actors >> a) & 1u;
}

static inline cal_day_t day_max(cal_day_t a, cal_day_t b)
{
        return a > b ? a : b;
}

static inline bool is_open(const case_state_t *st)
{
        return st->seen && st->ts[TR_CASE] == CS_OPEN;
}

/* rules-facts.c: the case-facts actions */
void a_note_opened(ctx_t *c);
void a_note_update(ctx_t *c);
void a_close(ctx_t *c);
void a_reopen(ctx_t *c);
void a_note_decision(ctx_t *c);
void a_eval_long_term(ctx_t *c);
void a_actor_on(ctx_t *c);
void a_actor_off(ctx_t *c);
void a_health(ctx_t *c);

/* rules-handover.c */
void rs_handover_summary(const ctx_t *c, char *buf, size_t n);
void a_arm_handover(ctx_t *c);

/* rules-view.c */
json_t *rs_j_actors(const case_state_t *st);
json_t *rs_j_barrier(ev_barrier_t b);
json_t *rs_j_day(cal_day_t d);
json_t *rs_j_month(cal_month_t m);
json_t *rs_j_months(const cal_month_t *m, int n);
json_t *rs_j_state(int track, int s);
json_t *rs_j_str(const char *s);
const char *why_end(why_t *w);
void why_bool(why_t *w, const char *key, bool v);
void why_day(why_t *w, const char *key, cal_day_t d);
void why_init(why_t *w);
void why_int(why_t *w, const char *key, long long v);
void why_month(why_t *w, const char *key, cal_month_t m);
void why_str(why_t *w, const char *key, const char *s);
void why_long_term(const ctx_t *c, why_t *w);

/* rules.c: arming, resolving, cancelling; the facts' arithmetic */
void rs_arm(ctx_t *c, rule_id_t rule, const char *cycle, cal_day_t due, const char *why);
void rs_arm_as(ctx_t *c, rule_id_t rule, const char *base, const char *cycle, cal_day_t due,
               const char *why, const char *body);
void rs_cancel(ctx_t *c, rule_id_t rule);
int rs_children_on(const rules_cfg_t *cfg, const case_state_t *st, cal_day_t day);
void rs_copy_text(char *dst, const char *src, size_t size);
rule_action_t *rs_emit(ctx_t *c, rule_act_kind_t kind, int rule, const char *cycle);
int rs_full_window(const rules_cfg_t *cfg);
void rs_granted_add(case_state_t *st, cal_month_t m);
void rs_granted_remove(case_state_t *st, cal_month_t m);
int rs_granted_reserve(case_state_t *st, int extra);
int rs_granted_window(const rules_cfg_t *cfg, const case_state_t *st, cal_month_t end);
void rs_queue(ctx_t *c, int event);
bool rs_recent_mapping(const rules_cfg_t *cfg, const case_state_t *st, cal_day_t day);
void rs_resolve(ctx_t *c, rule_id_t rule);
void rs_schedule(ctx_t *c, rule_id_t rule, const char *cycle, cal_day_t due,
                 const char *why, const char *body);
bool rs_summer_applied(const case_state_t *st, int year);
cal_day_t rs_summer_expire_day(const rules_cfg_t *cfg, int year);
int rs_summer_granted(const rules_cfg_t *cfg, const case_state_t *st, cal_day_t check);
void rs_window_text(const rules_cfg_t *cfg, cal_month_t end, char *buf, size_t n);
