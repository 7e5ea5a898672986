/*
 * rules.c owns the per-case state machines of domain.md §3–§5: the case
 * facts (status, unit, caseworker and its changes, household, barrier,
 * granted months, actors, long-term episodes), one state per track, and the
 * transition table `{track, state, event} → {guard, actions, next state}`
 * that turns events into reminder actions. Time-driven transitions
 * (children ageing out, the summer-allowance check and expiry, the end of
 * an IB4 exemption, a lapsed work-capacity assessment) are the same table
 * driven by internal events from rules_tick. It also owns the state's store
 * form (JSON) and the API's view of a case. Everything is a function of the
 * arguments: no clock, no I/O, and the only allocations are the states, the
 * granted-month set inside them and the JSON it returns. docs/rules.md has
 * the tables in prose and every inferred decision.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
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

static const char *const track_names[TR__COUNT] = {
        "case", "ib", "safety", "fia", "children", "summer", "impact", "sip",
        "handover", "continuity", "work_capacity",
};

static const char *const state_names[TR__COUNT][TRACK_STATES_MAX] = {
        [TR_CASE] = { "open", "closed" },
        [TR_IB] = { "none", "ib1", "ib2", "ib3", "plan", "exempt" },
        [TR_SAFETY] = { "none", "pending", "done" },
        [TR_FIA] = { "not_due", "due", "started", "completed", "declined" },
        [TR_CHILD] = { "none", "due", "mapped" },
        [TR_SUMMER] = { "idle", "due" },
        [TR_IMPACT] = { "idle" },
        [TR_SIP] = { "none", "suggested", "initiated", "meeting_held", "established", "ended",
                     "declined" },
        [TR_HANDOVER] = { "idle" },
        [TR_CONTINUITY] = { "idle" },
        [TR_WC] = { "ok", "due" },
};

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

/* ---- rule properties ----------------------------------------------------------- */

typedef struct rule_meta {
        severity_t severity;
        bool to_caseworker;
        bool to_leads;
        /*
         * Remembered while the case is closed and scheduled again (new cycle)
         * when it reopens. Level-triggered rules are not: they are evaluated
         * afresh. Per-decision and per-change rules are not: closing ends them.
         */
        bool rearm;
} rule_meta_t;

static const rule_meta_t meta[RULE__COUNT] = {
        [RULE_IB3_DUE]          = { SEV_DUE,     true,  false, true },
        [RULE_IB4_DUE]          = { SEV_DUE,     true,  false, true },
        [RULE_IB4_FOLLOWUP]     = { SEV_INFO,    true,  false, true },
        [RULE_IB4_OVERDUE]      = { SEV_OVERDUE, true,  false, true },
        [RULE_FIA_DUE]          = { SEV_DUE,     true,  false, true },
        [RULE_FIA_OVERDUE]      = { SEV_OVERDUE, true,  true,  true },
        [RULE_FIA_STALLED]      = { SEV_OVERDUE, true,  false, true },
        [RULE_CHILD_MAP]        = { SEV_DUE,     true,  false, true },
        [RULE_CHILD_FOLLOWUP]   = { SEV_INFO,    true,  false, true },
        [RULE_SUMMER_ALLOWANCE] = { SEV_INFO,    true,  false, true },
        [RULE_CHILD_IMPACT]     = { SEV_DUE,     true,  false, false },
        [RULE_SIP_CONSIDER]     = { SEV_INFO,    true,  false, false },
        [RULE_SIP_MEETING]      = { SEV_DUE,     true,  false, true },
        [RULE_SIP_FOLLOWUP]     = { SEV_INFO,    true,  false, true },
        [RULE_HANDOVER]         = { SEV_INFO,    true,  false, false },
        [RULE_CONTINUITY]       = { SEV_INFO,    false, true,  false },
        [RULE_WORK_CAPACITY]    = { SEV_DUE,     true,  false, false },
        [RULE_SAFETY_FOLLOWUP]  = { SEV_DUE,     true,  false, true },
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
} transition_t;

#define S(x) (1u << (x))
#define ANY (~0u)
#define SAME (-1)

/* ---- small helpers ---------------------------------------------------------------- */

static bool is_open(const case_state_t *st)
{
        return st->seen && st->ts[TR_CASE] == CS_OPEN;
}

static cal_day_t day_max(cal_day_t a, cal_day_t b)
{
        return a > b ? a : b;
}

static cal_day_t first_day_of_month(cal_month_t m)
{
        int y, mo;

        cal_ym(m, &y, &mo);
        return cal_day_from_ymd(y, mo, 1);
}

static int year_of(cal_day_t day)
{
        int y, m, d;

        cal_ymd(day, &y, &m, &d);
        return y;
}

/* Copies free text without cutting a UTF-8 sequence, so the store form stays valid JSON. */
static void copy_text(char *dst, const char *src, size_t size)
{
        size_t n = bk_strlcpy(dst, src, size);

        if (n >= size && size > 1) {
                size_t k = size - 1;
                while (k > 0 && ((unsigned char)dst[k] & 0xC0) == 0x80)
                        k--;
                /* k is the lead byte of the last sequence: keep it only if it is complete. */
                if (((unsigned char)dst[k] & 0x80) != 0) {
                        unsigned char lead = (unsigned char)dst[k];
                        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
                        if (k + need > size - 1)
                                dst[k] = '\0';
                }
        }
}

/* A child counts while its 18th-birthday month has not passed on `day`. */
static int children_on(const rules_cfg_t *cfg, const case_state_t *st, cal_day_t day)
{
        cal_month_t now = cal_month_of(day);
        int n = 0;

        for (int i = 0; i < st->n_children; i++)
                if (now <= st->children[i] + 12 * cfg->adult_age)
                        n++;
        return n;
}

/* The first day on which no child of the household counts; DAY_NONE without children. */
static cal_day_t children_gone_day(const rules_cfg_t *cfg, const case_state_t *st)
{
        cal_month_t last = MONTH_NONE;

        for (int i = 0; i < st->n_children; i++)
                if (st->children[i] + 12 * cfg->adult_age > last)
                        last = st->children[i] + 12 * cfg->adult_age;
        return last == MONTH_NONE ? DAY_NONE : first_day_of_month(last + 1);
}

static bool granted_has(const case_state_t *st, cal_month_t m, int *pos)
{
        int lo = 0, hi = st->n_granted;

        while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (st->granted[mid] < m)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *pos = lo;
        return lo < st->n_granted && st->granted[lo] == m;
}

static int granted_reserve(case_state_t *st, int extra)
{
        cal_month_t *g;
        int cap;

        if (st->n_granted + extra <= st->cap_granted)
                return 0;
        cap = st->cap_granted ? st->cap_granted * 2 : 32;
        while (cap < st->n_granted + extra)
                cap *= 2;
        g = realloc(st->granted, (size_t)cap * sizeof(*g));
        if (!g)
                return -ENOMEM;
        st->granted = g;
        st->cap_granted = cap;
        return 0;
}

/* Capacity was reserved before the state was touched, so this cannot fail. */
static void granted_add(case_state_t *st, cal_month_t m)
{
        int pos;

        if (granted_has(st, m, &pos) || st->n_granted >= st->cap_granted)
                return;
        memmove(&st->granted[pos + 1], &st->granted[pos],
                (size_t)(st->n_granted - pos) * sizeof(*st->granted));
        st->granted[pos] = m;
        st->n_granted++;
}

static void granted_remove(case_state_t *st, cal_month_t m)
{
        int pos;

        if (!granted_has(st, m, &pos))
                return;
        memmove(&st->granted[pos], &st->granted[pos + 1],
                (size_t)(st->n_granted - pos - 1) * sizeof(*st->granted));
        st->n_granted--;
}

/* Granted months in the window ending at `end` (inclusive); window 0 = all of them. */
static int granted_window(const rules_cfg_t *cfg, const case_state_t *st, cal_month_t end)
{
        int w = cfg->long_term_window_months, n = 0;

        if (w <= 0)
                return st->n_granted;
        for (int i = 0; i < st->n_granted; i++)
                if (st->granted[i] > end - w && st->granted[i] <= end)
                        n++;
        return n;
}

/* "A full window" for the episode and recent-mapping rules; window 0 has none, so 12. */
static int full_window(const rules_cfg_t *cfg)
{
        return cfg->long_term_window_months > 0 ? cfg->long_term_window_months : 12;
}

static void window_text(const rules_cfg_t *cfg, cal_month_t end, char *buf, size_t n)
{
        char a[8], b[8];     /* "YYYY-MM" */

        if (cfg->long_term_window_months <= 0 || end == MONTH_NONE) {
                bk_strlcpy(buf, "all", n);
                return;
        }
        cal_format_month(end - cfg->long_term_window_months + 1, a, sizeof(a));
        cal_format_month(end, b, sizeof(b));
        snprintf(buf, n, "%s..%s", a, b);
}

static bool actor_on(const case_state_t *st, ev_actor_t a)
{
        return (st->actors >> a) & 1u;
}

static bool summer_applied(const case_state_t *st, int year)
{
        for (int i = 0; i < st->n_applied; i++)
                if (st->applied[i] == year)
                        return true;
        return false;
}

static cal_day_t summer_check_day(const rules_cfg_t *cfg, int year)
{
        int m = BK_MIN(BK_MAX(cfg->summer_check_month, 1), 12);
        int d = BK_MIN(BK_MAX(cfg->summer_check_day, 1), cal_days_in_month(year, m));

        return cal_day_from_ymd(year, m, d);
}

/* The 1st of summer_expire_month after the check date (next year if the month is not later). */
static cal_day_t summer_expire_day(const rules_cfg_t *cfg, int year)
{
        int m = BK_MIN(BK_MAX(cfg->summer_expire_month, 1), 12);
        cal_day_t d = cal_day_from_ymd(year, m, 1);

        return d > summer_check_day(cfg, year) ? d : cal_day_from_ymd(year + 1, m, 1);
}

/* The first year whose check date is after `after`. */
static int summer_next_year(const rules_cfg_t *cfg, cal_day_t after)
{
        int y = year_of(after);

        return summer_check_day(cfg, y) > after ? y : y + 1;
}

/*
 * Granted months "before the check date": the window of complete months
 * before the check month (all months with window 0). A decision for the
 * check month itself is assistance to come, not assistance had.
 */
static int summer_granted(const rules_cfg_t *cfg, const case_state_t *st, cal_day_t check)
{
        return granted_window(cfg, st, cal_month_of(check) - 1);
}

static bool recent_mapping(const rules_cfg_t *cfg, const case_state_t *st, cal_day_t day)
{
        return st->mapped_day != DAY_NONE && st->mapped_day >= cal_add_months(day, -full_window(cfg));
}

/* ---- why: a small JSON object writer into a fixed buffer -------------------------- */

typedef struct why {
        char buf[RULE_WHY_MAX];
        size_t len;
} why_t;

static void why_init(why_t *w)
{
        w->buf[0] = '{';
        w->buf[1] = '\0';
        w->len = 1;
}

/* Adds "key":value, or nothing when it would not leave room for the closing brace. */
static void why_raw(why_t *w, const char *key, const char *value)
{
        size_t need = strlen(key) + strlen(value) + 4 + (w->len > 1);

        if (w->len + need + 2 > sizeof(w->buf))
                return;
        w->len += (size_t)snprintf(w->buf + w->len, sizeof(w->buf) - w->len, "%s\"%s\":%s",
                                   w->len > 1 ? "," : "", key, value);
}

static void why_str(why_t *w, const char *key, const char *s)
{
        char q[2 * EV_NAME_MAX + 16];
        size_t n = 0;

        q[n++] = '"';
        for (; *s && n < sizeof(q) - 8; s++) {
                unsigned char ch = (unsigned char)*s;
                if (ch == '"' || ch == '\\') {
                        q[n++] = '\\';
                        q[n++] = (char)ch;
                } else if (ch < 0x20) {
                        n += (size_t)snprintf(q + n, sizeof(q) - n, "\\u%04x", ch);
                } else {
                        q[n++] = (char)ch;
                }
        }
        q[n++] = '"';
        q[n] = '\0';
        why_raw(w, key, q);
}

static void why_int(why_t *w, const char *key, long long v)
{
        char b[32];

        snprintf(b, sizeof(b), "%lld", v);
        why_raw(w, key, b);
}

static void why_bool(why_t *w, const char *key, bool v)
{
        why_raw(w, key, v ? "true" : "false");
}

static void why_day(why_t *w, const char *key, cal_day_t d)
{
        char b[16];

        if (d == DAY_NONE) {
                why_raw(w, key, "null");
                return;
        }
        cal_format_date(d, b, sizeof(b));
        why_str(w, key, b);
}

static void why_month(why_t *w, const char *key, cal_month_t m)
{
        char b[16];

        if (m == MONTH_NONE) {
                why_raw(w, key, "null");
                return;
        }
        cal_format_month(m, b, sizeof(b));
        why_str(w, key, b);
}

static const char *why_end(why_t *w)
{
        w->buf[w->len++] = '}';
        w->buf[w->len] = '\0';
        return w->buf;
}

/* The long-term facts most reminders are explained by. */
static void why_long_term(const ctx_t *c, why_t *w)
{
        char win[32];

        window_text(c->cfg, c->st->last_decided, win, sizeof(win));
        why_day(w, "long_term_since", c->st->lt_since);
        why_int(w, "granted_in_window", c->st->last_decided == MONTH_NONE ? 0 :
                granted_window(c->cfg, c->st, c->st->last_decided));
        why_str(w, "window", win);
        why_int(w, "episode", c->st->lt_episode);
}

/* ---- actions out, and the engine's memory of what it scheduled ------------------- */

static rule_action_t *emit(ctx_t *c, rule_act_kind_t kind, int rule, const char *cycle)
{
        rule_action_t *a;

        if (c->out->n >= RULES_MAX_ACTIONS) {
                c->overflow = true;
                return NULL;
        }
        a = &c->out->act[c->out->n++];
        memset(a, 0, sizeof(*a));
        a->kind = kind;
        a->rule = rule;
        bk_strlcpy(a->cycle, cycle ? cycle : "", sizeof(a->cycle));
        return a;
}

/* A closed case schedules nothing; a disabled rule never schedules. */
static void schedule(ctx_t *c, rule_id_t rule, const char *cycle, cal_day_t due,
                     const char *why, const char *body)
{
        rule_action_t *a;

        if (!c->cfg->rule[rule].enabled || !is_open(c->st))
                return;
        if (!(a = emit(c, ACT_SCHEDULE, rule, cycle)))
                return;
        a->due = due;
        a->severity = meta[rule].severity;
        a->to_caseworker = meta[rule].to_caseworker;
        a->to_leads = meta[rule].to_leads;
        bk_strlcpy(a->why, why ? why : "{}", sizeof(a->why));
        if (body)
                bk_strlcpy(a->body, body, sizeof(a->body));
}

static void disarm(ctx_t *c, rule_id_t rule, rule_act_kind_t kind)
{
        armed_t *a = &c->st->armed[rule];

        if (a->s == ARM_OPEN)
                emit(c, kind, rule, a->cycle);
        a->s = ARM_NONE;
}

static void resolve(ctx_t *c, rule_id_t rule)
{
        disarm(c, rule, ACT_RESOLVE);
}

static void cancel(ctx_t *c, rule_id_t rule)
{
        disarm(c, rule, ACT_CANCEL);
}

static void arm_as(ctx_t *c, rule_id_t rule, const char *base, const char *cycle, cal_day_t due,
                   const char *why, const char *body)
{
        armed_t *a = &c->st->armed[rule];

        if (!c->cfg->rule[rule].enabled)
                return;
        if (a->s == ARM_OPEN && strcmp(a->cycle, cycle) == 0)
                return;
        /* One occurrence at a time: a newer trigger supersedes the older reminder. */
        cancel(c, rule);
        if (!is_open(c->st)) {
                if (!meta[rule].rearm)
                        return;
                a->s = ARM_SUSPENDED;
        } else {
                a->s = ARM_OPEN;
        }
        a->due = due;
        bk_strlcpy(a->cycle, cycle, sizeof(a->cycle));
        bk_strlcpy(a->base, base, sizeof(a->base));
        schedule(c, rule, cycle, due, why, body);
}

static void arm(ctx_t *c, rule_id_t rule, const char *cycle, cal_day_t due, const char *why)
{
        arm_as(c, rule, cycle, cycle, due, why, NULL);
}

static void queue(ctx_t *c, int event)
{
        if (c->nq >= QUEUE_MAX) {
                c->overflow = true;
                return;
        }
        c->queue[c->nq++] = event;
}

/* ---- guards ----------------------------------------------------------------------- */

static bool g_violence(const ctx_t *c)
{
        return c->ev && c->ev->data.violence_disclosed;
}

static bool g_has_plan(const ctx_t *c)
{
        return c->st->plan_n > 0;
}

static bool g_has_ib3(const ctx_t *c)
{
        return c->st->ib3_n > 0;
}

/* No FIA completed within fia_valid_months before the moment the case became long-term. */
static bool g_fia_needed(const ctx_t *c)
{
        const case_state_t *st = c->st;

        return st->fia_completed == DAY_NONE ||
               st->fia_completed < cal_add_months(c->day, -c->cfg->fia_valid_months);
}

static bool g_child_map_needed(const ctx_t *c)
{
        return children_on(c->cfg, c->st, c->day) > 0 && !recent_mapping(c->cfg, c->st, c->day);
}

static bool g_child_map_gained(const ctx_t *c)
{
        return c->st->lt && g_child_map_needed(c);
}

static bool g_child_followup_needed(const ctx_t *c)
{
        return c->st->lt && children_on(c->cfg, c->st, c->day) > 0;
}

static bool g_summer_due(const ctx_t *c)
{
        const case_state_t *st = c->st;
        int y = c->summer_year;

        if (!is_open(st) || children_on(c->cfg, st, c->day) == 0 || summer_applied(st, y))
                return false;
        /* Already expired on the day this run reaches: not worth a reminder at all. */
        if (c->horizon >= summer_expire_day(c->cfg, y))
                return false;
        return summer_granted(c->cfg, st, c->day) >= c->cfg->summer_min_months;
}

static bool g_applied_armed_year(const ctx_t *c)
{
        return c->ev && c->ev->data.has_year && c->ev->data.year == c->st->summer_year;
}

static bool g_impact_needed(const ctx_t *c)
{
        const ev_data_t *d = &c->ev->data;

        return (d->outcome == OUTCOME_REFUSED || d->outcome == OUTCOME_PARTIAL) &&
               !d->child_impact_documented && children_on(c->cfg, c->st, c->day) > 0;
}

static bool g_impact_documented(const ctx_t *c)
{
        const ev_data_t *d = &c->ev->data;

        return (d->outcome == OUTCOME_REFUSED || d->outcome == OUTCOME_PARTIAL) &&
               d->child_impact_documented && d->has_decision;
}

static bool g_cw_first(const ctx_t *c)
{
        return c->ev->data.has_caseworker && c->ev->data.caseworker[0] && !c->st->caseworker[0];
}

static bool g_cw_change(const ctx_t *c)
{
        return c->ev->data.has_caseworker && c->ev->data.caseworker[0] && c->st->caseworker[0] &&
               strcmp(c->ev->data.caseworker, c->st->caseworker) != 0;
}

static int changes_within(const ctx_t *c)
{
        cal_day_t from = cal_add_months(c->day, -c->cfg->continuity_window_months);
        int n = 0;

        for (int i = 0; i < c->st->n_changes; i++)
                if (c->st->changes[i] >= from && c->st->changes[i] <= c->day)
                        n++;
        return n;
}

static bool g_continuity(const ctx_t *c)
{
        return c->st->lt && changes_within(c) >= c->cfg->continuity_changes;
}

/* ---- actions: case facts ------------------------------------------------------------ */

static void set_household(ctx_t *c, const ev_household_t *h)
{
        case_state_t *st = c->st;
        bool used[EV_MAX_CHILDREN] = { false };
        int before = children_on(c->cfg, st, c->day), after;
        bool gained = false;
        int n = BK_MIN(BK_MAX(h->n_children, 0), EV_MAX_CHILDREN);

        /* Gained = a counting child that was not there before (matched by birth month). */
        for (int i = 0; i < n; i++) {
                bool found = false;
                if (cal_month_of(c->day) > h->children[i] + 12 * c->cfg->adult_age)
                        continue;
                for (int j = 0; j < st->n_children && !found; j++)
                        if (!used[j] && st->children[j] == h->children[i])
                                used[j] = found = true;
                if (!found)
                        gained = true;
        }
        st->adults = h->adults;
        st->single_parent = h->single_parent;
        st->n_children = n;
        memcpy(st->children, h->children, (size_t)n * sizeof(st->children[0]));
        after = children_on(c->cfg, st, c->day);
        if (gained)
                queue(c, IE_CHILDREN_GAINED);
        if (before > 0 && after == 0)
                queue(c, IE_CHILDREN_GONE);
}

static void a_note_opened(ctx_t *c)
{
        case_state_t *st = c->st;

        st->opened = true;
        bk_strlcpy(st->unit, c->ev->unit, sizeof(st->unit));
        if (c->ev->data.has_household)
                set_household(c, &c->ev->data.household);
        if (c->ev->data.has_barrier)
                st->barrier = c->ev->data.barrier;
}

static void a_note_update(ctx_t *c)
{
        const ev_data_t *d = &c->ev->data;

        if (d->has_household)
                set_household(c, &d->household);
        if (d->has_barrier)
                c->st->barrier = d->barrier;
        if (d->has_unit && d->unit[0])
                bk_strlcpy(c->st->unit, d->unit, sizeof(c->st->unit));
}

/* Every open reminder ends with the case; the rearmable ones are remembered for a reopening. */
static void a_close(ctx_t *c)
{
        emit(c, ACT_CANCEL, -1, "");
        for (int r = 0; r < RULE__COUNT; r++) {
                armed_t *a = &c->st->armed[r];
                if (a->s == ARM_OPEN)
                        a->s = meta[r].rearm ? ARM_SUSPENDED : ARM_NONE;
        }
}

/*
 * Reopening keeps the history; what was pending when the case closed is
 * pending again, under a new cycle (the old reminders stay cancelled), due
 * at its old due date or today, whichever is later.
 */
static void a_reopen(ctx_t *c)
{
        case_state_t *st = c->st;

        st->ts[TR_CASE] = CS_OPEN;
        st->reopen_n++;
        bk_strlcpy(st->unit, c->ev->unit, sizeof(st->unit));
        for (int r = 0; r < RULE__COUNT; r++) {
                armed_t *a = &st->armed[r];
                char cycle[RULE_CYCLE_MAX], base[RULE_CYCLE_MAX];
                cal_day_t due = day_max(a->due, c->day);
                why_t w;

                if (a->s != ARM_SUSPENDED)
                        continue;
                a->s = ARM_NONE;
                bk_strlcpy(base, a->base, sizeof(base));
                /* Registry cycles are short; the bound only keeps the compiler sure of it. */
                snprintf(cycle, sizeof(cycle), "%.60s-r%d", base, st->reopen_n);
                why_init(&w);
                why_day(&w, "reopened", c->day);
                why_day(&w, "first_due", a->due);
                why_str(&w, "first_cycle", base);
                arm_as(c, (rule_id_t)r, base, cycle, due, why_end(&w), NULL);
        }
}

static void a_note_decision(ctx_t *c)
{
        const ev_data_t *d = &c->ev->data;
        case_state_t *st = c->st;

        if (d->outcome == OUTCOME_GRANTED || d->outcome == OUTCOME_PARTIAL)
                granted_add(st, d->month);
        else
                granted_remove(st, d->month);
        if (st->last_decided == MONTH_NONE || d->month > st->last_decided)
                st->last_decided = d->month;
}

/* The first month below the threshold after the last long-term month (window > 0). */
static cal_month_t first_below(const ctx_t *c, cal_month_t end)
{
        const case_state_t *st = c->st;

        if (c->cfg->long_term_window_months <= 0 || st->lt_last_month == MONTH_NONE)
                return end;
        for (cal_month_t m = st->lt_last_month + 1; m < end; m++)
                if (granted_window(c->cfg, st, m) < c->cfg->long_term_months)
                        return m;
        return end;
}

/*
 * domain §3: long-term after each decision, counted in the window ending at
 * the latest month decided so far. Crossing the threshold starts a new
 * episode only the first time or after a full window below it; otherwise
 * the previous episode resumes silently.
 */
static void a_eval_long_term(ctx_t *c)
{
        case_state_t *st = c->st;
        cal_month_t end = st->last_decided;
        int n = granted_window(c->cfg, st, end);
        bool above = n >= c->cfg->long_term_months;

        if (above && !st->lt) {
                if (st->lt_episode == 0 || end - st->lt_below_since >= full_window(c->cfg)) {
                        st->lt_episode++;
                        st->lt_since = c->day;
                        queue(c, IE_LONG_TERM);
                }
                st->lt = true;
                st->lt_last_month = end;
        } else if (above) {
                if (st->lt_last_month == MONTH_NONE || end > st->lt_last_month)
                        st->lt_last_month = end;
        } else if (st->lt) {
                st->lt = false;
                st->lt_below_since = first_below(c, end);
        }
}

static void a_actor_on(ctx_t *c)
{
        c->st->actors |= 1u << c->ev->data.actor;
}

static void a_actor_off(ctx_t *c)
{
        c->st->actors &= ~(1u << c->ev->data.actor);
}

static void a_health(ctx_t *c)
{
        c->st->health_flagged = true;
}

/* ---- actions: IB track ------------------------------------------------------------ */

static void a_note_ib1(ctx_t *c)
{
        c->st->ib1_n++;
        c->st->ib1_day = c->day;
}

static void a_arm_ib3_due(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX];
        int days = c->cfg->rule[RULE_IB3_DUE].offset_days;
        why_t w;

        snprintf(cycle, sizeof(cycle), "ib1-%d", c->st->ib1_n);
        why_init(&w);
        why_day(&w, "ib1", c->day);
        why_int(&w, "days", days);
        arm(c, RULE_IB3_DUE, cycle, c->day + days, why_end(&w));
}

static void a_note_ib2(ctx_t *c)
{
        c->st->ib2_day = c->day;
}

static void a_note_ib3(ctx_t *c)
{
        c->st->ib3_n++;
        c->st->ib3_day = c->day;
}

static void a_resolve_ib3_due(ctx_t *c)
{
        resolve(c, RULE_IB3_DUE);
}

static void a_arm_ib4_due(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX];
        int days = c->cfg->rule[RULE_IB4_DUE].offset_days;
        why_t w;

        snprintf(cycle, sizeof(cycle), "ib3-%d", c->st->ib3_n);
        why_init(&w);
        why_day(&w, "ib3", c->day);
        why_int(&w, "days", days);
        arm(c, RULE_IB4_DUE, cycle, c->day + days, why_end(&w));
}

static void a_resolve_ib4_all(ctx_t *c)
{
        resolve(c, RULE_IB4_DUE);
        resolve(c, RULE_IB4_FOLLOWUP);
        resolve(c, RULE_IB4_OVERDUE);
}

static void a_cancel_ib4_all(ctx_t *c)
{
        cancel(c, RULE_IB4_DUE);
        cancel(c, RULE_IB4_FOLLOWUP);
        cancel(c, RULE_IB4_OVERDUE);
}

static void a_note_plan(ctx_t *c)
{
        c->st->plan_n++;
        c->st->plan_day = c->day;
}

static void a_arm_plan(ctx_t *c)
{
        const ev_data_t *d = &c->ev->data;
        char cycle[RULE_CYCLE_MAX];
        int fu = c->cfg->rule[RULE_IB4_FOLLOWUP].offset_months;
        int od = c->cfg->rule[RULE_IB4_OVERDUE].offset_months;
        cal_day_t due = cal_add_months(c->day, fu);
        why_t w;

        snprintf(cycle, sizeof(cycle), "p%d", c->st->plan_n);
        if (d->has_follow_up_at && d->follow_up_at < due)
                due = d->follow_up_at;
        why_init(&w);
        why_day(&w, "plan", c->day);
        why_int(&w, "plan_no", c->st->plan_n);
        why_int(&w, "months", fu);
        if (d->has_follow_up_at)
                why_day(&w, "follow_up_at", d->follow_up_at);
        arm(c, RULE_IB4_FOLLOWUP, cycle, due, why_end(&w));
        why_init(&w);
        why_day(&w, "plan", c->day);
        why_int(&w, "plan_no", c->st->plan_n);
        why_int(&w, "months", od);
        arm(c, RULE_IB4_OVERDUE, cycle, cal_add_months(c->day, od), why_end(&w));
}

static void a_note_exempt(ctx_t *c)
{
        const ev_data_t *d = &c->ev->data;
        case_state_t *st = c->st;

        if (st->ts[TR_IB] != IB_EXEMPT)
                st->exempt_n++;
        st->exempt_until = d->has_until ? d->until : cal_add_months(c->day, c->cfg->ib4_exempt_months);
        copy_text(st->exempt_reason, d->has_reason ? d->reason : "", sizeof(st->exempt_reason));
        /* An `until` that is not in the future ends the exemption in this same event. */
        if (st->exempt_until <= c->day)
                queue(c, IE_EXEMPT_END);
}

static void a_end_exemption(ctx_t *c)
{
        c->st->exempt_until = DAY_NONE;
}

static void a_rearm_plan(ctx_t *c)
{
        case_state_t *st = c->st;
        char cycle[RULE_CYCLE_MAX];
        int gap = c->cfg->rule[RULE_IB4_OVERDUE].offset_months -
                  c->cfg->rule[RULE_IB4_FOLLOWUP].offset_months;
        why_t w;

        snprintf(cycle, sizeof(cycle), "p%d-x%d", st->plan_n, st->exempt_n);
        why_init(&w);
        why_day(&w, "exempt_until", c->day);
        why_day(&w, "plan", st->plan_day);
        arm(c, RULE_IB4_FOLLOWUP, cycle, c->day, why_end(&w));
        /* The escalation keeps its distance from the follow-up it escalates. */
        arm(c, RULE_IB4_OVERDUE, cycle, cal_add_months(c->day, BK_MAX(gap, 0)), w.buf);
}

static void a_rearm_ib4_due(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX];
        why_t w;

        snprintf(cycle, sizeof(cycle), "ib3-%d-x%d", c->st->ib3_n, c->st->exempt_n);
        why_init(&w);
        why_day(&w, "exempt_until", c->day);
        why_day(&w, "ib3", c->st->ib3_day);
        arm(c, RULE_IB4_DUE, cycle, c->day, why_end(&w));
}

static void a_restore_ib(ctx_t *c)
{
        case_state_t *st = c->st;

        st->ts[TR_IB] = st->ib2_day != DAY_NONE ? IB_IB2 : st->ib1_n > 0 ? IB_IB1 : IB_NONE;
}

/* ---- actions: safety ----------------------------------------------------------------- */

static void a_arm_safety(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX];
        int days = c->cfg->rule[RULE_SAFETY_FOLLOWUP].offset_days;
        why_t w;

        snprintf(cycle, sizeof(cycle), "ib3-%d", c->st->ib3_n);
        why_init(&w);
        why_day(&w, "ib3", c->day);
        why_int(&w, "days", days);
        arm(c, RULE_SAFETY_FOLLOWUP, cycle, c->day + days, why_end(&w));
}

static void a_resolve_safety(ctx_t *c)
{
        resolve(c, RULE_SAFETY_FOLLOWUP);
}

static void a_note_safety(ctx_t *c)
{
        c->st->safety_day = c->day;
}

/* ---- actions: FIA track ------------------------------------------------------------ */

static void a_arm_fia_due(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX];
        int days = c->cfg->rule[RULE_FIA_OVERDUE].offset_days;
        why_t w;

        c->st->fia_due_day = c->day;
        snprintf(cycle, sizeof(cycle), "lt%d", c->st->lt_episode);
        why_init(&w);
        why_long_term(c, &w);
        why_day(&w, "fia_completed", c->st->fia_completed);
        arm(c, RULE_FIA_DUE, cycle, c->day, why_end(&w));
        why_init(&w);
        why_long_term(c, &w);
        why_int(&w, "days", days);
        arm(c, RULE_FIA_OVERDUE, cycle, c->day + days, why_end(&w));
}

static void a_resolve_fia_due(ctx_t *c)
{
        resolve(c, RULE_FIA_DUE);
        resolve(c, RULE_FIA_OVERDUE);
}

static void a_resolve_fia_all(ctx_t *c)
{
        a_resolve_fia_due(c);
        resolve(c, RULE_FIA_STALLED);
}

static void a_start_fia(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX];
        int days = c->cfg->rule[RULE_FIA_STALLED].offset_days;
        why_t w;

        c->st->fia_n++;
        c->st->fia_started = c->day;
        snprintf(cycle, sizeof(cycle), "f%d", c->st->fia_n);
        why_init(&w);
        why_day(&w, "fia_started", c->day);
        why_int(&w, "days", days);
        arm(c, RULE_FIA_STALLED, cycle, c->day + days, why_end(&w));
}

static void a_complete_fia(ctx_t *c)
{
        resolve(c, RULE_FIA_STALLED);
        c->st->fia_completed = c->day;
}

static void a_decline_fia(ctx_t *c)
{
        c->st->fia_declined = c->day;
        copy_text(c->st->fia_reason, c->ev->data.has_reason ? c->ev->data.reason : "",
                  sizeof(c->st->fia_reason));
}

/* ---- actions: children track ------------------------------------------------------ */

static void a_arm_child_map(ctx_t *c)
{
        case_state_t *st = c->st;
        char cycle[RULE_CYCLE_MAX];
        why_t w;

        /* The first CHILD-MAP of an episode is "ltN"; later ones in it "ltN-2", "ltN-3". */
        if (st->cmap_episode != st->lt_episode) {
                st->cmap_episode = st->lt_episode;
                st->cmap_k = 1;
                snprintf(cycle, sizeof(cycle), "lt%d", st->lt_episode);
        } else {
                st->cmap_k++;
                snprintf(cycle, sizeof(cycle), "lt%d-%d", st->lt_episode, st->cmap_k);
        }
        why_init(&w);
        why_long_term(c, &w);
        why_int(&w, "children", children_on(c->cfg, st, c->day));
        why_day(&w, "last_mapped", st->mapped_day);
        if (c->ev && c->ev->type == EV_CASE_UPDATED)
                why_day(&w, "children_gained", c->day);
        arm(c, RULE_CHILD_MAP, cycle, c->day, why_end(&w));
}

static void a_resolve_child_all(ctx_t *c)
{
        resolve(c, RULE_CHILD_MAP);
        resolve(c, RULE_CHILD_FOLLOWUP);
}

static void a_cancel_child_all(ctx_t *c)
{
        cancel(c, RULE_CHILD_MAP);
        cancel(c, RULE_CHILD_FOLLOWUP);
}

static void a_note_mapped(ctx_t *c)
{
        c->st->map_n++;
        c->st->mapped_day = c->day;
}

static void a_arm_child_followup(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX];
        int months = c->cfg->rule[RULE_CHILD_FOLLOWUP].offset_months;
        why_t w;

        snprintf(cycle, sizeof(cycle), "m%d", c->st->map_n);
        why_init(&w);
        why_day(&w, "mapped", c->day);
        why_int(&w, "months", months);
        why_int(&w, "children", children_on(c->cfg, c->st, c->day));
        arm(c, RULE_CHILD_FOLLOWUP, cycle, cal_add_months(c->day, months), why_end(&w));
}

/* ---- actions: summer allowance -------------------------------------------------------- */

static void a_arm_summer(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX], win[32];
        cal_month_t end = cal_month_of(c->day) - 1;
        why_t w;

        c->st->summer_year = c->summer_year;
        snprintf(cycle, sizeof(cycle), "%d", c->summer_year);
        window_text(c->cfg, end, win, sizeof(win));
        why_init(&w);
        why_day(&w, "check_date", c->day);
        why_int(&w, "granted_in_window", summer_granted(c->cfg, c->st, c->day));
        why_str(&w, "window", win);
        why_int(&w, "children", children_on(c->cfg, c->st, c->day));
        why_day(&w, "expires", summer_expire_day(c->cfg, c->summer_year));
        arm(c, RULE_SUMMER_ALLOWANCE, cycle, c->day, why_end(&w));
}

static void a_note_applied(ctx_t *c)
{
        case_state_t *st = c->st;
        int y = c->ev->data.year, i;

        if (summer_applied(st, y))
                return;
        /* Only the latest years can still matter; the oldest falls out. */
        if (st->n_applied == SUMMER_KEEP) {
                if (y < st->applied[0])
                        return;
                memmove(&st->applied[0], &st->applied[1], (SUMMER_KEEP - 1) * sizeof(int));
                st->n_applied--;
        }
        for (i = st->n_applied; i > 0 && st->applied[i - 1] > y; i--)
                st->applied[i] = st->applied[i - 1];
        st->applied[i] = y;
        st->n_applied++;
}

static void a_resolve_summer(ctx_t *c)
{
        resolve(c, RULE_SUMMER_ALLOWANCE);
}

static void a_cancel_summer(ctx_t *c)
{
        cancel(c, RULE_SUMMER_ALLOWANCE);
}

/* ---- actions: child impact (one reminder per decision, outside the armed memory) ------- */

static void impact_cycle(const ctx_t *c, char *cycle, size_t n)
{
        const ev_data_t *d = &c->ev->data;
        char m[16];

        if (d->has_decision && d->decision[0]) {
                bk_strlcpy(cycle, d->decision, n);
                return;
        }
        cal_format_month(d->month, m, sizeof(m));
        snprintf(cycle, n, "month-%s", m);
}

static void a_schedule_impact(ctx_t *c)
{
        const ev_data_t *d = &c->ev->data;
        char cycle[RULE_CYCLE_MAX];
        why_t w;

        impact_cycle(c, cycle, sizeof(cycle));
        why_init(&w);
        if (d->has_decision)
                why_str(&w, "decision", d->decision);
        why_month(&w, "month", d->month);
        why_str(&w, "outcome", event_outcome_name(d->outcome) ? event_outcome_name(d->outcome) : "");
        why_day(&w, "decided", c->day);
        why_int(&w, "children", children_on(c->cfg, c->st, c->day));
        schedule(c, RULE_CHILD_IMPACT, cycle, c->day, why_end(&w), NULL);
}

static void a_resolve_impact(ctx_t *c)
{
        if (is_open(c->st) && c->ev->data.has_decision)
                emit(c, ACT_RESOLVE, RULE_CHILD_IMPACT, c->ev->data.decision);
}

/* ---- actions: SIP track --------------------------------------------------------------- */

static void a_arm_sip_consider(ctx_t *c)
{
        case_state_t *st = c->st;
        char cycle[RULE_CYCLE_MAX], actors[32] = "";
        why_t w;

        st->sip_rest = st->ts[TR_SIP];
        st->sipc_n++;
        snprintf(cycle, sizeof(cycle), "c%d", st->sipc_n);
        for (int a = ACTOR_AF; a <= ACTOR_OTHER; a++) {
                if (!actor_on(st, (ev_actor_t)a))
                        continue;
                if (actors[0])
                        bk_strlcpy(actors + strlen(actors), ",", sizeof(actors) - strlen(actors));
                bk_strlcpy(actors + strlen(actors), event_actor_name((ev_actor_t)a) ?
                           event_actor_name((ev_actor_t)a) : "?", sizeof(actors) - strlen(actors));
        }
        why_init(&w);
        why_day(&w, "long_term_since", st->lt_since);
        why_str(&w, "actors", actors);
        if (event_barrier_name(st->barrier))
                why_str(&w, "barrier", event_barrier_name(st->barrier));
        arm(c, RULE_SIP_CONSIDER, cycle, c->day, why_end(&w));
}

static void a_cancel_sip_consider(ctx_t *c)
{
        cancel(c, RULE_SIP_CONSIDER);
}

static void a_sip_rest(ctx_t *c)
{
        c->st->ts[TR_SIP] = c->st->sip_rest;
}

static void a_resolve_sip_consider(ctx_t *c)
{
        resolve(c, RULE_SIP_CONSIDER);
}

static void a_resolve_sip_all(ctx_t *c)
{
        resolve(c, RULE_SIP_CONSIDER);
        resolve(c, RULE_SIP_MEETING);
        resolve(c, RULE_SIP_FOLLOWUP);
}

/* A new SIP replaces one still in progress; its pending reminders are moot. */
static void a_init_sip(ctx_t *c)
{
        case_state_t *st = c->st;
        char cycle[RULE_CYCLE_MAX];
        int days = c->cfg->rule[RULE_SIP_MEETING].offset_days;
        why_t w;

        cancel(c, RULE_SIP_FOLLOWUP);
        st->sip_n++;
        st->sip_fu_n = 0;
        st->sip_initiated = c->day;
        st->sip_meeting = st->sip_established = st->sip_followed_up = DAY_NONE;
        snprintf(cycle, sizeof(cycle), "s%d", st->sip_n);
        why_init(&w);
        why_day(&w, "sip_initiated", c->day);
        why_int(&w, "days", days);
        arm(c, RULE_SIP_MEETING, cycle, c->day + days, why_end(&w));
}

static void a_meeting_sip(ctx_t *c)
{
        resolve(c, RULE_SIP_MEETING);
        c->st->sip_meeting = c->day;
}

static void a_establish_sip(ctx_t *c)
{
        case_state_t *st = c->st;
        int s = st->ts[TR_SIP];

        /* Established without an initiation we saw: it is still a SIP of its own. */
        if (s != SIP_INITIATED && s != SIP_MEETING_HELD && s != SIP_ESTABLISHED) {
                st->sip_n++;
                st->sip_fu_n = 0;
                st->sip_initiated = st->sip_meeting = DAY_NONE;
        }
        st->sip_established = c->day;
}

static void a_arm_sip_followup(ctx_t *c)
{
        case_state_t *st = c->st;
        const ev_data_t *d = &c->ev->data;
        char cycle[RULE_CYCLE_MAX];
        int months = c->cfg->rule[RULE_SIP_FOLLOWUP].offset_months;
        cal_day_t due = d->has_follow_up_at ? d->follow_up_at : cal_add_months(c->day, months);
        why_t w;

        st->sip_fu_n++;
        snprintf(cycle, sizeof(cycle), "s%d-%d", st->sip_n, st->sip_fu_n);
        why_init(&w);
        why_day(&w, c->ev->type == EV_SIP_FOLLOWED_UP ? "sip_followed_up" : "sip_established",
                c->day);
        if (d->has_follow_up_at)
                why_day(&w, "follow_up_at", d->follow_up_at);
        else
                why_int(&w, "months", months);
        arm(c, RULE_SIP_FOLLOWUP, cycle, due, why_end(&w));
}

static void a_followed_up_sip(ctx_t *c)
{
        resolve(c, RULE_SIP_FOLLOWUP);
        c->st->sip_followed_up = c->day;
}

static void a_decline_sip(ctx_t *c)
{
        copy_text(c->st->sip_reason, c->ev->data.has_reason ? c->ev->data.reason : "",
                  sizeof(c->st->sip_reason));
}

/* ---- actions: handover and continuity ------------------------------------------------- */

/*
 * Not a handover. But a case first seen through another event may already
 * have reminders with nobody to deliver them to: they go to the first
 * caseworker.
 */
static void a_assign_first(ctx_t *c)
{
        rule_action_t *a;

        bk_strlcpy(c->st->caseworker, c->ev->data.caseworker, sizeof(c->st->caseworker));
        c->st->assign_n++;
        if (!c->fresh && is_open(c->st) && (a = emit(c, ACT_REROUTE, -1, "")))
                bk_strlcpy(a->caseworker, c->ev->data.caseworker, sizeof(a->caseworker));
}

static void a_note_change(ctx_t *c)
{
        case_state_t *st = c->st;

        st->assign_n++;
        st->change_n++;
        if (st->n_changes == CONT_KEEP) {
                memmove(&st->changes[0], &st->changes[1], (CONT_KEEP - 1) * sizeof(cal_day_t));
                st->n_changes--;
        }
        st->changes[st->n_changes++] = c->day;
        queue(c, IE_CW_CHANGED);
}

static void a_resolve_handover(ctx_t *c)
{
        resolve(c, RULE_HANDOVER);
}

static void a_reroute(ctx_t *c)
{
        rule_action_t *a;

        if (!is_open(c->st) || !(a = emit(c, ACT_REROUTE, -1, "")))
                return;
        bk_strlcpy(a->caseworker, c->ev->data.caseworker, sizeof(a->caseworker));
}

static void handover_summary(const ctx_t *c, char *buf, size_t n);

static void a_arm_handover(ctx_t *c)
{
        case_state_t *st = c->st;
        char cycle[RULE_CYCLE_MAX], body[RULE_TEXT_MAX];
        why_t w;

        why_init(&w);
        why_day(&w, "assigned", c->day);
        why_int(&w, "assignment", st->assign_n);
        why_str(&w, "from", st->caseworker);
        why_str(&w, "to", c->ev->data.caseworker);
        bk_strlcpy(st->caseworker, c->ev->data.caseworker, sizeof(st->caseworker));
        snprintf(cycle, sizeof(cycle), "a%d", st->assign_n);
        handover_summary(c, body, sizeof(body));
        arm_as(c, RULE_HANDOVER, cycle, cycle, c->day, why_end(&w), body);
}

static void a_arm_continuity(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX];
        why_t w;

        snprintf(cycle, sizeof(cycle), "a%d", c->st->assign_n);
        why_init(&w);
        why_int(&w, "changes_in_window", changes_within(c));
        why_int(&w, "window_months", c->cfg->continuity_window_months);
        why_day(&w, "change", c->day);
        why_day(&w, "long_term_since", c->st->lt_since);
        schedule(c, RULE_CONTINUITY, cycle, c->day, why_end(&w), NULL);
}

/* ---- actions: work capacity ------------------------------------------------------------ */

static void a_arm_wc(ctx_t *c)
{
        case_state_t *st = c->st;
        char cycle[RULE_CYCLE_MAX];
        why_t w;

        st->wc_n++;
        snprintf(cycle, sizeof(cycle), "w%d", st->wc_n);
        why_init(&w);
        why_day(&w, "long_term_since", st->lt_since);
        if (event_barrier_name(st->barrier))
                why_str(&w, "barrier", event_barrier_name(st->barrier));
        why_bool(&w, "health_flagged", st->health_flagged);
        why_day(&w, "last_assessed", st->wc_assessed);
        arm(c, RULE_WORK_CAPACITY, cycle, c->day, why_end(&w));
}

static void a_cancel_wc(ctx_t *c)
{
        cancel(c, RULE_WORK_CAPACITY);
}

static void a_assess_wc(ctx_t *c)
{
        resolve(c, RULE_WORK_CAPACITY);
        c->st->wc_assessed = c->day;
}

/* ---- the transition table ------------------------------------------------------------------
 *
 * Per track, the first row whose state, event and guard match runs its
 * actions and moves the track to `next`. Tracks run in enum order, so the
 * case facts are up to date before any track reads them, and the handover
 * summary sees every other track's result of the same event.
 */

#define IB_BEFORE_PLAN (S(IB_NONE) | S(IB_IB1) | S(IB_IB2) | S(IB_IB3))
#define FIA_IDLE (S(FIA_NOT_DUE) | S(FIA_COMPLETED) | S(FIA_DECLINED))
#define SIP_REST (S(SIP_NONE) | S(SIP_ENDED) | S(SIP_DECLINED))
#define SIP_RUNNING (S(SIP_INITIATED) | S(SIP_MEETING_HELD) | S(SIP_ESTABLISHED))

static const transition_t transitions[] = {
        /* case facts: status open ↔ closed; the rest are facts the tracks read */
        { TR_CASE, S(CS_CLOSED), EV_CASE_OPENED, NULL, { a_reopen, a_note_opened }, CS_OPEN },
        { TR_CASE, S(CS_OPEN), EV_CASE_OPENED, NULL, { a_note_opened }, CS_OPEN },
        { TR_CASE, ANY, EV_CASE_UPDATED, NULL, { a_note_update }, SAME },
        { TR_CASE, S(CS_OPEN), EV_CASE_CLOSED, NULL, { a_close }, CS_CLOSED },
        { TR_CASE, ANY, EV_CASE_REOPENED, NULL, { a_reopen }, CS_OPEN },
        { TR_CASE, ANY, EV_ASSISTANCE_DECIDED, NULL, { a_note_decision, a_eval_long_term }, SAME },
        { TR_CASE, ANY, EV_ACTOR_INVOLVED, NULL, { a_actor_on }, SAME },
        { TR_CASE, ANY, EV_ACTOR_ENDED, NULL, { a_actor_off }, SAME },
        { TR_CASE, ANY, EV_HEALTH_FLAGGED, NULL, { a_health }, SAME },

        /* IB: none → ib1 → ib2 → ib3 → plan (revised …); exempt suspends the IB4 rules */
        { TR_IB, IB_BEFORE_PLAN, EV_IB1_COMPLETED, NULL, { a_note_ib1, a_arm_ib3_due }, IB_IB1 },
        { TR_IB, ANY, EV_IB1_COMPLETED, NULL, { a_note_ib1, a_arm_ib3_due }, SAME },
        { TR_IB, S(IB_IB1), EV_IB2_COMPLETED, NULL, { a_note_ib2 }, IB_IB2 },
        { TR_IB, ANY, EV_IB2_COMPLETED, NULL, { a_note_ib2 }, SAME },
        { TR_IB, IB_BEFORE_PLAN, EV_IB3_COMPLETED, NULL,
          { a_note_ib3, a_resolve_ib3_due, a_arm_ib4_due }, IB_IB3 },
        { TR_IB, ANY, EV_IB3_COMPLETED, NULL, { a_note_ib3, a_resolve_ib3_due }, SAME },
        { TR_IB, ANY, EV_IB4_ESTABLISHED, NULL,
          { a_end_exemption, a_resolve_ib4_all, a_note_plan, a_arm_plan }, IB_PLAN },
        { TR_IB, ANY, EV_IB4_REVISED, NULL,
          { a_end_exemption, a_resolve_ib4_all, a_note_plan, a_arm_plan }, IB_PLAN },
        { TR_IB, S(IB_EXEMPT), EV_IB4_EXEMPTED, NULL, { a_note_exempt }, SAME },
        { TR_IB, ANY, EV_IB4_EXEMPTED, NULL, { a_cancel_ib4_all, a_note_exempt }, IB_EXEMPT },
        { TR_IB, S(IB_EXEMPT), IE_EXEMPT_END, g_has_plan, { a_end_exemption, a_rearm_plan }, IB_PLAN },
        { TR_IB, S(IB_EXEMPT), IE_EXEMPT_END, g_has_ib3, { a_end_exemption, a_rearm_ib4_due }, IB_IB3 },
        { TR_IB, S(IB_EXEMPT), IE_EXEMPT_END, NULL, { a_end_exemption, a_restore_ib }, SAME },

        /* safety: a disclosure at the first visit is followed up */
        { TR_SAFETY, ANY, EV_IB3_COMPLETED, g_violence, { a_arm_safety }, SAFE_PENDING },
        { TR_SAFETY, ANY, EV_SAFETY_FOLLOWED_UP, NULL, { a_resolve_safety, a_note_safety }, SAFE_DONE },

        /* FIA: not_due → due → started → completed, or declined */
        { TR_FIA, FIA_IDLE, IE_LONG_TERM, g_fia_needed, { a_arm_fia_due }, FIA_DUE },
        { TR_FIA, S(FIA_STARTED), EV_FIA_STARTED, NULL, { NULL }, SAME },
        { TR_FIA, ANY, EV_FIA_STARTED, NULL, { a_resolve_fia_due, a_start_fia }, FIA_STARTED },
        { TR_FIA, ANY, EV_FIA_COMPLETED, NULL, { a_resolve_fia_due, a_complete_fia }, FIA_COMPLETED },
        { TR_FIA, ANY, EV_FIA_DECLINED, NULL, { a_resolve_fia_all, a_decline_fia }, FIA_DECLINED },

        /* children: none → due → mapped (→ mapped …); none again when no child counts */
        { TR_CHILD, ANY, IE_LONG_TERM, g_child_map_needed, { a_arm_child_map }, CH_DUE },
        { TR_CHILD, S(CH_NONE) | S(CH_MAPPED), IE_CHILDREN_GAINED, g_child_map_gained,
          { a_arm_child_map }, CH_DUE },
        { TR_CHILD, ANY, EV_CHILDREN_MAPPED, g_child_followup_needed,
          { a_resolve_child_all, a_note_mapped, a_arm_child_followup }, CH_MAPPED },
        { TR_CHILD, ANY, EV_CHILDREN_MAPPED, NULL, { a_resolve_child_all, a_note_mapped }, CH_MAPPED },
        { TR_CHILD, ANY, IE_CHILDREN_GONE, NULL, { a_cancel_child_all }, CH_NONE },

        /* summer allowance: idle → due (check date) → idle (applied, expired, no children) */
        { TR_SUMMER, ANY, IE_SUMMER_CHECK, g_summer_due, { a_arm_summer }, SUM_DUE },
        { TR_SUMMER, S(SUM_DUE), EV_SUMMER_ALLOWANCE_APPLIED, g_applied_armed_year,
          { a_note_applied, a_resolve_summer }, SUM_IDLE },
        { TR_SUMMER, ANY, EV_SUMMER_ALLOWANCE_APPLIED, NULL, { a_note_applied }, SAME },
        { TR_SUMMER, S(SUM_DUE), IE_SUMMER_EXPIRE, NULL, { a_cancel_summer }, SUM_IDLE },
        { TR_SUMMER, S(SUM_DUE), IE_CHILDREN_GONE, NULL, { a_cancel_summer }, SUM_IDLE },

        /* child impact: one reminder per decision */
        { TR_IMPACT, ANY, EV_ASSISTANCE_DECIDED, g_impact_needed, { a_schedule_impact }, SAME },
        { TR_IMPACT, ANY, EV_ASSISTANCE_DECIDED, g_impact_documented, { a_resolve_impact }, SAME },
        { TR_IMPACT, ANY, EV_CHILD_IMPACT_DOCUMENTED, NULL, { a_resolve_impact }, SAME },

        /* SIP: none → suggested → initiated → meeting_held → established → ended; declined */
        { TR_SIP, SIP_REST, IE_SIP_COND_UP, NULL, { a_arm_sip_consider }, SIP_SUGGESTED },
        { TR_SIP, S(SIP_SUGGESTED), IE_SIP_COND_DOWN, NULL, { a_cancel_sip_consider, a_sip_rest }, SAME },
        { TR_SIP, ANY, EV_SIP_INITIATED, NULL, { a_resolve_sip_consider, a_init_sip }, SIP_INITIATED },
        { TR_SIP, S(SIP_INITIATED), EV_SIP_MEETING_HELD, NULL, { a_meeting_sip }, SIP_MEETING_HELD },
        { TR_SIP, ANY, EV_SIP_ESTABLISHED, NULL,
          { a_resolve_sip_all, a_establish_sip, a_arm_sip_followup }, SIP_ESTABLISHED },
        { TR_SIP, S(SIP_ESTABLISHED), EV_SIP_FOLLOWED_UP, NULL,
          { a_followed_up_sip, a_arm_sip_followup }, SAME },
        { TR_SIP, SIP_RUNNING, EV_SIP_ENDED, NULL, { a_resolve_sip_all }, SIP_ENDED },
        { TR_SIP, ANY, EV_SIP_DECLINED, NULL, { a_resolve_sip_all, a_decline_sip }, SIP_DECLINED },

        /* handover: a different caseworker takes over the open reminders and a summary */
        { TR_HANDOVER, ANY, EV_CASE_OPENED, g_cw_first, { a_assign_first }, SAME },
        { TR_HANDOVER, ANY, EV_CASE_OPENED, g_cw_change,
          { a_note_change, a_resolve_handover, a_reroute, a_arm_handover }, SAME },
        { TR_HANDOVER, ANY, EV_CASE_REOPENED, g_cw_first, { a_assign_first }, SAME },
        { TR_HANDOVER, ANY, EV_CASE_REOPENED, g_cw_change,
          { a_note_change, a_resolve_handover, a_reroute, a_arm_handover }, SAME },
        { TR_HANDOVER, ANY, EV_CASEWORKER_ASSIGNED, g_cw_first, { a_assign_first }, SAME },
        { TR_HANDOVER, ANY, EV_CASEWORKER_ASSIGNED, g_cw_change,
          { a_note_change, a_resolve_handover, a_reroute, a_arm_handover }, SAME },

        /* continuity: frequent changes in a long-term case go to the unit leads */
        { TR_CONTINUITY, ANY, IE_CW_CHANGED, g_continuity, { a_arm_continuity }, SAME },

        /* work capacity: level-triggered, re-armed when the last assessment lapses */
        { TR_WC, S(WC_OK), IE_WC_COND_UP, NULL, { a_arm_wc }, WC_DUE },
        { TR_WC, S(WC_DUE), IE_WC_COND_DOWN, NULL, { a_cancel_wc }, WC_OK },
        { TR_WC, ANY, EV_WORK_CAPACITY_ASSESSED, NULL, { a_assess_wc }, WC_OK },
};

static const transition_t *find_transition(const ctx_t *c, int track, int event)
{
        unsigned bit = 1u << c->st->ts[track];

        for (size_t i = 0; i < BK_ARRAY_SIZE(transitions); i++) {
                const transition_t *t = &transitions[i];
                if ((int)t->track != track || t->event != event || !(t->states & bit))
                        continue;
                if (t->guard && !t->guard(c))
                        continue;
                return t;
        }
        return NULL;
}

static void dispatch(ctx_t *c, int event)
{
        for (int tr = 0; tr < TR__COUNT; tr++) {
                const transition_t *t = find_transition(c, tr, event);

                if (!t)
                        continue;
                for (int i = 0; i < MAX_ROW_ACTIONS && t->act[i]; i++)
                        t->act[i](c);
                if (t->next != SAME)
                        c->st->ts[tr] = t->next;
        }
}

static void drain(ctx_t *c)
{
        while (c->qhead < c->nq)
                dispatch(c, c->queue[c->qhead++]);
        c->nq = c->qhead = 0;
}

/* ---- level-triggered conditions ---------------------------------------------------------- */

static bool sip_condition(const case_state_t *st)
{
        int n = actor_on(st, ACTOR_AF) + actor_on(st, ACTOR_FK) + actor_on(st, ACTOR_REGION);

        return is_open(st) && st->lt &&
               (n >= 2 || (st->barrier == BARRIER_SICKNESS && actor_on(st, ACTOR_REGION)));
}

static cal_day_t wc_lapse_day(const rules_cfg_t *cfg, const case_state_t *st)
{
        if (st->wc_assessed == DAY_NONE)
                return DAY_NONE;
        return cal_add_months(st->wc_assessed, cfg->rule[RULE_WORK_CAPACITY].offset_months);
}

static bool wc_needs(const case_state_t *st)
{
        return is_open(st) && st->lt && (st->barrier == BARRIER_SICKNESS || st->health_flagged);
}

static bool wc_condition(const rules_cfg_t *cfg, const case_state_t *st, cal_day_t day)
{
        cal_day_t lapse = wc_lapse_day(cfg, st);

        return wc_needs(st) && (lapse == DAY_NONE || day >= lapse);
}

/*
 * SIP-CONSIDER fires on the condition's rising edge while no SIP is in
 * progress, so a declined or ended SIP is not suggested again until the
 * situation has changed (the condition stopped holding and holds again).
 * WORK-CAPACITY is plain level: open whenever the condition holds.
 */
static void level_eval(ctx_t *c)
{
        case_state_t *st = c->st;
        bool sip = sip_condition(st), wc = wc_condition(c->cfg, st, c->day);

        if (sip && !st->sip_base && (SIP_REST & S(st->ts[TR_SIP])))
                dispatch(c, IE_SIP_COND_UP);
        else if (!sip && st->ts[TR_SIP] == SIP_SUGGESTED)
                dispatch(c, IE_SIP_COND_DOWN);
        st->sip_base = sip;
        if (wc && st->ts[TR_WC] == WC_OK)
                dispatch(c, IE_WC_COND_UP);
        else if (!wc && st->ts[TR_WC] == WC_DUE)
                dispatch(c, IE_WC_COND_DOWN);
}

/* ---- time ---------------------------------------------------------------------------------- */

typedef struct wake {
        cal_day_t exempt, expire, gone, lapse, check;
        int check_year;
} wake_t;

/* The next day of each time-driven transition after st->tick_day; WAKE_NEVER if none. */
static void wake_items(const rules_cfg_t *cfg, const case_state_t *st, wake_t *w)
{
        cal_day_t after = st->tick_day, d;

        w->exempt = st->ts[TR_IB] == IB_EXEMPT && st->exempt_until != DAY_NONE
                    ? day_max(st->exempt_until, after + 1) : WAKE_NEVER;
        w->expire = st->ts[TR_SUMMER] == SUM_DUE
                    ? day_max(summer_expire_day(cfg, st->summer_year), after + 1) : WAKE_NEVER;
        d = children_gone_day(cfg, st);
        w->gone = d != DAY_NONE && d > after ? d : WAKE_NEVER;
        d = wc_lapse_day(cfg, st);
        w->lapse = d != DAY_NONE && d > after ? d : WAKE_NEVER;
        w->check_year = summer_next_year(cfg, after);
        w->check = summer_check_day(cfg, w->check_year);
}

static void tick_to(ctx_t *c, cal_day_t day)
{
        case_state_t *st = c->st;
        const event_t *ev = c->ev;
        wake_t w;

        c->ev = NULL;
        c->horizon = day;
        for (;;) {
                cal_day_t x;

                wake_items(c->cfg, st, &w);
                x = BK_MIN(BK_MIN(w.exempt, w.expire), BK_MIN(BK_MIN(w.gone, w.lapse), w.check));
                if (x > day)
                        break;
                c->day = x;
                if (w.exempt == x)
                        dispatch(c, IE_EXEMPT_END);
                if (w.expire == x)
                        dispatch(c, IE_SUMMER_EXPIRE);
                if (w.gone == x)
                        dispatch(c, IE_CHILDREN_GONE);
                if (w.check == x) {
                        c->summer_year = w.check_year;
                        dispatch(c, IE_SUMMER_CHECK);
                }
                drain(c);
                level_eval(c);
                st->tick_day = x;
        }
        if (day > st->tick_day)
                st->tick_day = day;
        c->ev = ev;
}

/* ---- handover summary -------------------------------------------------------------------- */

typedef struct phrases {
        const char *head, *granted, *total, *lt_since, *lt_no;
        const char *plan, *plan_next, *plan_none, *plan_exempt;
        const char *fia, *fia_state[5];
        const char *sip, *sip_state[7], *sip_next;
        const char *ch, *ch_none, *ch_due, *ch_mapped, *ch_next, *ch_never;
} phrases_t;

/* Labels only; a date, when there is one, follows after a space. */
static const phrases_t phrases_sv = {
        "Överlämning av ärendet.", "Beviljade månader", "totalt",
        "Långvarigt sedan:", "Långvarigt: nej",
        "Förändringsplan:", ", nästa uppföljning", "Förändringsplan: saknas",
        "Förändringsplan: undantag till",
        "FIA: ", { "ej aktuell", "ska påbörjas sedan", "påbörjad", "slutförd", "avböjd" },
        "SIP: ", { "ingen", "föreslagen", "initierad", "möte hållet", "upprättad", "avslutad",
                   "avböjd" }, ", nästa uppföljning",
        "Barnens situation: ", "inga barn i hushållet", "ska kartläggas", "kartlagd",
        ", uppföljning", "inte kartlagd",
};

static const phrases_t phrases_en = {
        "Case handover.", "Months granted", "in total",
        "Long-term since:", "Long-term: no",
        "Change plan:", ", next follow-up", "Change plan: none",
        "Change plan: exempted until",
        "FIA: ", { "not due", "to be started since", "started", "completed", "declined" },
        "SIP: ", { "none", "suggested", "initiated", "meeting held", "established", "ended",
                   "declined" }, ", next follow-up",
        "Children: ", "no children in the household", "to be mapped", "mapped",
        ", follow-up", "not mapped",
};

typedef struct text {
        char *buf;
        size_t n, len;
} text_t;

static void text_add(text_t *t, const char *fmt, ...) BK_PRINTF(2, 3);
static void text_add(text_t *t, const char *fmt, ...)
{
        va_list ap;
        int k;

        if (t->len >= t->n - 1)
                return;
        va_start(ap, fmt);
        k = vsnprintf(t->buf + t->len, t->n - t->len, fmt, ap);
        va_end(ap);
        if (k > 0)
                t->len = BK_MIN(t->len + (size_t)k, t->n - 1);
}

static void text_phrase(text_t *t, const char *label, cal_day_t d)
{
        char date[16];

        text_add(t, "%s", label);
        if (d != DAY_NONE) {
                cal_format_date(d, date, sizeof(date));
                text_add(t, " %s", date);
        }
}

static cal_day_t armed_due(const case_state_t *st, rule_id_t r)
{
        return st->armed[r].s != ARM_NONE ? st->armed[r].due : DAY_NONE;
}

/*
 * domain §4.5: months granted in the window, long-term since, plan date and
 * next follow-up, FIA, SIP and children state. No names, no free text (the
 * declined and exemption reasons stay out): the daemon appends the open
 * reminders.
 */
static void handover_summary(const ctx_t *c, char *buf, size_t n)
{
        const case_state_t *st = c->st;
        const phrases_t *p = strcmp(c->cfg->lang, "en") == 0 ? &phrases_en : &phrases_sv;
        text_t t = { buf, n, 0 };
        cal_month_t end = cal_month_of(c->day);
        char win[32];
        cal_day_t d;
        int s;

        buf[0] = '\0';
        if (st->last_decided != MONTH_NONE && st->last_decided > end)
                end = st->last_decided;
        text_add(&t, "%s\n", p->head);
        window_text(c->cfg, end, win, sizeof(win));
        text_add(&t, "%s %s: %d\n", p->granted,
                 c->cfg->long_term_window_months > 0 ? win : p->total,
                 granted_window(c->cfg, st, end));
        if (st->lt)
                text_phrase(&t, p->lt_since, st->lt_since);
        else
                text_add(&t, "%s", p->lt_no);
        text_add(&t, "\n");
        if (st->ts[TR_IB] == IB_EXEMPT) {
                text_phrase(&t, p->plan_exempt, st->exempt_until);
        } else if (st->plan_n > 0) {
                text_phrase(&t, p->plan, st->plan_day);
                if ((d = armed_due(st, RULE_IB4_FOLLOWUP)) != DAY_NONE)
                        text_phrase(&t, p->plan_next, d);
        } else {
                text_add(&t, "%s", p->plan_none);
        }
        text_add(&t, "\n%s", p->fia);
        s = st->ts[TR_FIA];
        d = s == FIA_DUE ? st->fia_due_day : s == FIA_STARTED ? st->fia_started :
            s == FIA_COMPLETED ? st->fia_completed : s == FIA_DECLINED ? st->fia_declined : DAY_NONE;
        text_phrase(&t, p->fia_state[s], d);
        text_add(&t, "\n%s", p->sip);
        s = st->ts[TR_SIP];
        d = s == SIP_INITIATED ? st->sip_initiated : s == SIP_MEETING_HELD ? st->sip_meeting :
            s == SIP_ESTABLISHED ? st->sip_established : DAY_NONE;
        text_phrase(&t, p->sip_state[s], d);
        if (s == SIP_ESTABLISHED && (d = armed_due(st, RULE_SIP_FOLLOWUP)) != DAY_NONE)
                text_phrase(&t, p->sip_next, d);
        text_add(&t, "\n%s", p->ch);
        if (children_on(c->cfg, st, c->day) == 0) {
                text_add(&t, "%s", p->ch_none);
        } else if (st->ts[TR_CHILD] == CH_DUE) {
                text_add(&t, "%s", p->ch_due);
        } else if (st->mapped_day != DAY_NONE) {
                text_phrase(&t, p->ch_mapped, st->mapped_day);
                if ((d = armed_due(st, RULE_CHILD_FOLLOWUP)) != DAY_NONE)
                        text_phrase(&t, p->ch_next, d);
        } else {
                text_add(&t, "%s", p->ch_never);
        }
}

/* ---- public: state ------------------------------------------------------------------------ */

static void state_init(case_state_t *st)
{
        st->first_day = st->tick_day = DAY_NONE;
        st->last_decided = MONTH_NONE;
        st->lt_since = DAY_NONE;
        st->lt_last_month = st->lt_below_since = MONTH_NONE;
        st->ib1_day = st->ib2_day = st->ib3_day = st->plan_day = st->exempt_until = DAY_NONE;
        st->safety_day = DAY_NONE;
        st->fia_due_day = st->fia_started = st->fia_completed = st->fia_declined = DAY_NONE;
        st->mapped_day = DAY_NONE;
        st->sip_initiated = st->sip_meeting = st->sip_established = st->sip_followed_up = DAY_NONE;
        st->wc_assessed = DAY_NONE;
        for (int r = 0; r < RULE__COUNT; r++)
                st->armed[r].due = DAY_NONE;
}

case_state_t *rules_state_new(const char *case_id)
{
        case_state_t *st = calloc(1, sizeof(*st));

        if (!st)
                return NULL;
        bk_strlcpy(st->case_id, case_id ? case_id : "", sizeof(st->case_id));
        state_init(st);
        return st;
}

void rules_state_free(case_state_t **st)
{
        if (!st || !*st)
                return;
        free((*st)->granted);
        free(*st);
        *st = NULL;
}

const char *rules_state_case(const case_state_t *st)
{
        return st->case_id;
}

const char *rules_state_unit(const case_state_t *st)
{
        return st->unit;
}

const char *rules_state_caseworker(const case_state_t *st)
{
        return st->caseworker;
}

bool rules_state_open(const case_state_t *st)
{
        return is_open(st);
}

int rules_state_lt_episode(const case_state_t *st)
{
        return st->lt_episode;
}

/* ---- public: apply, tick, wake ------------------------------------------------------------- */

/* What makes an event inapplicable; checked before anything is touched. */
static bool applicable(const case_state_t *st, const event_t *ev)
{
        const ev_data_t *d = &ev->data;
        bool open = is_open(st);

        if (strcmp(ev->case_id, st->case_id) != 0)
                return false;
        switch (ev->type) {
        case EV_CASE_OPENED:
                return !(st->seen && st->opened && open);
        case EV_CASE_CLOSED:
                return !st->seen || open;
        case EV_CASE_REOPENED:
                return !st->seen || !open;
        case EV_CASEWORKER_ASSIGNED:
                return d->has_caseworker && d->caseworker[0];
        case EV_ASSISTANCE_DECIDED:
                return d->has_month && d->outcome != OUTCOME_NONE;
        case EV_CHILD_IMPACT_DOCUMENTED:
                return d->has_decision && d->decision[0];
        case EV_SUMMER_ALLOWANCE_APPLIED:
                return d->has_year;
        case EV_ACTOR_INVOLVED:
        case EV_ACTOR_ENDED:
                return d->actor > ACTOR_NONE && d->actor <= ACTOR_OTHER;
        default:
                return true;
        }
}

int rules_apply(const rules_cfg_t *cfg, case_state_t *st, const event_t *ev, rules_out_t *out)
{
        ctx_t c = { .cfg = cfg, .st = st, .ev = ev, .out = out };
        cal_day_t day;

        out->n = 0;
        if ((int)ev->type <= EV_UNKNOWN || ev->type >= EV__COUNT)
                return 0;            /* a newer adapter's type: nothing to do, nothing changes */
        if (!applicable(st, ev))
                return BK_E_INVALID;
        if (ev->type == EV_ASSISTANCE_DECIDED && granted_reserve(st, 1) < 0)
                return -ENOMEM;
        day = cal_local_day(ev->at);
        c.fresh = !st->seen;
        if (!st->seen) {
                st->seen = true;
                st->ts[TR_CASE] = CS_OPEN;
                st->first_day = day;
                st->tick_day = day - 1;
                bk_strlcpy(st->unit, ev->unit, sizeof(st->unit));
        }
        tick_to(&c, day);
        c.day = day;
        c.horizon = day;
        dispatch(&c, ev->type);
        drain(&c);
        level_eval(&c);
        st->counting = children_on(cfg, st, st->tick_day);
        return c.overflow ? -ENOBUFS : 0;
}

int rules_tick(const rules_cfg_t *cfg, case_state_t *st, cal_day_t day, rules_out_t *out)
{
        ctx_t c = { .cfg = cfg, .st = st, .out = out, .day = day };

        out->n = 0;
        if (!st->seen)
                return 0;
        /* Past the calendar's last year nothing can be due; it also bounds the loop. */
        if (day > cal_day_from_ymd(9999, 12, 31))
                day = cal_day_from_ymd(9999, 12, 31);
        tick_to(&c, day);
        st->counting = children_on(cfg, st, st->tick_day);
        return c.overflow ? -ENOBUFS : 0;
}

/* Whether the summer check of `year` would schedule, with no event in between. */
static bool summer_could_act(const rules_cfg_t *cfg, const case_state_t *st, int year)
{
        cal_day_t d = summer_check_day(cfg, year);

        return cfg->rule[RULE_SUMMER_ALLOWANCE].enabled && is_open(st) &&
               children_on(cfg, st, d) > 0 && !summer_applied(st, year) &&
               summer_granted(cfg, st, d) >= cfg->summer_min_months;
}

cal_day_t rules_next_wake(const rules_cfg_t *cfg, const case_state_t *st)
{
        cal_day_t next = WAKE_NEVER, gone;
        wake_t w;

        if (!st->seen)
                return WAKE_NEVER;
        wake_items(cfg, st, &w);
        next = BK_MIN(BK_MIN(w.exempt, w.expire), w.gone);
        if (w.lapse != WAKE_NEVER && wc_needs(st) && st->ts[TR_WC] == WC_OK)
                next = BK_MIN(next, w.lapse);
        /* Nothing but an event can add months or children, so later years only lose chances. */
        gone = children_gone_day(cfg, st);
        for (int y = w.check_year; gone != DAY_NONE && summer_check_day(cfg, y) < gone; y++) {
                if (summer_check_day(cfg, y) >= next)
                        break;
                if (summer_could_act(cfg, st, y)) {
                        next = summer_check_day(cfg, y);
                        break;
                }
        }
        return next;
}

void rules_reminder_id(const char *case_id, rule_id_t rule, const char *cycle, char out[20])
{
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        const char *parts[3] = { case_id ? case_id : "", rules_name(rule) ? rules_name(rule) : "",
                                 cycle ? cycle : "" };

        for (int i = 0; i < 3; i++) {
                /* Each part with its terminating NUL, so ("ab","c") ≠ ("a","bc"). */
                for (const unsigned char *p = (const unsigned char *)parts[i];; p++) {
                        h ^= *p;
                        h *= UINT64_C(0x100000001b3);
                        if (!*p)
                                break;
                }
        }
        snprintf(out, 20, "r-%016" PRIx64, h);
}

/* ---- store form ------------------------------------------------------------------------------ */

static json_t *j_day(cal_day_t d)
{
        char b[16];

        if (d == DAY_NONE)
                return json_null();
        cal_format_date(d, b, sizeof(b));
        return json_string(b);
}

static json_t *j_month(cal_month_t m)
{
        char b[16];

        if (m == MONTH_NONE)
                return json_null();
        cal_format_month(m, b, sizeof(b));
        return json_string(b);
}

static json_t *j_str(const char *s)
{
        json_t *j = json_string(s);

        return j ? j : json_string("");
}

static json_t *j_state(int track, int s)
{
        return json_string(state_names[track][s]);
}

static json_t *j_barrier(ev_barrier_t b)
{
        const char *n = event_barrier_name(b);

        return n ? json_string(n) : json_null();
}

static json_t *j_actors(const case_state_t *st)
{
        json_t *a = json_array();

        for (int i = ACTOR_AF; i <= ACTOR_OTHER; i++)
                if (actor_on(st, (ev_actor_t)i) && event_actor_name((ev_actor_t)i))
                        json_array_append_new(a, json_string(event_actor_name((ev_actor_t)i)));
        return a;
}

static json_t *j_months(const cal_month_t *m, int n)
{
        json_t *a = json_array();

        for (int i = 0; i < n; i++)
                json_array_append_new(a, j_month(m[i]));
        return a;
}

char *rules_state_to_json(const case_state_t *st)
{
        json_t *o, *a;
        char *text;

        o = json_pack("{s:i, s:o, s:b, s:b, s:o, s:o, s:o, s:o, s:i}",
                      "v", STATE_VERSION, "case", j_str(st->case_id), "seen", st->seen,
                      "opened", st->opened, "unit", j_str(st->unit),
                      "caseworker", j_str(st->caseworker),
                      "first_day", j_day(st->first_day), "tick_day", j_day(st->tick_day),
                      "reopen_n", st->reopen_n);
        if (!o)
                return NULL;
        json_object_set_new(o, "household", json_pack("{s:i, s:b, s:o, s:i}", "adults", st->adults,
                            "single_parent", st->single_parent,
                            "children", j_months(st->children, st->n_children),
                            "counting", st->counting));
        json_object_set_new(o, "barrier", j_barrier(st->barrier));
        json_object_set_new(o, "actors", j_actors(st));
        json_object_set_new(o, "health_flagged", json_boolean(st->health_flagged));
        json_object_set_new(o, "granted", j_months(st->granted, st->n_granted));
        json_object_set_new(o, "last_decided", j_month(st->last_decided));
        json_object_set_new(o, "lt", json_pack("{s:b, s:i, s:o, s:o, s:o}", "on", st->lt,
                            "episode", st->lt_episode, "since", j_day(st->lt_since),
                            "last_month", j_month(st->lt_last_month),
                            "below_since", j_month(st->lt_below_since)));
        a = json_object();
        for (int tr = 0; tr < TR__COUNT; tr++)
                json_object_set_new(a, track_names[tr], j_state(tr, st->ts[tr]));
        json_object_set_new(o, "tracks", a);
        json_object_set_new(o, "ib", json_pack("{s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}",
                            "ib1_n", st->ib1_n, "ib3_n", st->ib3_n, "plan_n", st->plan_n,
                            "exempt_n", st->exempt_n, "ib1", j_day(st->ib1_day),
                            "ib2", j_day(st->ib2_day), "ib3", j_day(st->ib3_day),
                            "plan", j_day(st->plan_day), "exempt_until", j_day(st->exempt_until),
                            "exempt_reason", j_str(st->exempt_reason)));
        json_object_set_new(o, "safety", json_pack("{s:o}", "day", j_day(st->safety_day)));
        json_object_set_new(o, "fia", json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}", "n", st->fia_n,
                            "due", j_day(st->fia_due_day), "started", j_day(st->fia_started),
                            "completed", j_day(st->fia_completed),
                            "declined", j_day(st->fia_declined), "reason", j_str(st->fia_reason)));
        a = json_array();
        for (int i = 0; i < st->n_applied; i++)
                json_array_append_new(a, json_integer(st->applied[i]));
        json_object_set_new(o, "children", json_pack("{s:i, s:i, s:i, s:o, s:i, s:o}",
                            "map_n", st->map_n, "map_episode", st->cmap_episode, "map_k", st->cmap_k,
                            "mapped", j_day(st->mapped_day), "summer_year", st->summer_year,
                            "summer_applied", a));
        json_object_set_new(o, "sip", json_pack("{s:i, s:i, s:i, s:o, s:b, s:o, s:o, s:o, s:o, s:o}",
                            "n", st->sip_n, "fu_n", st->sip_fu_n, "consider_n", st->sipc_n,
                            "rest", j_state(TR_SIP, st->sip_rest), "base", st->sip_base,
                            "initiated", j_day(st->sip_initiated), "meeting", j_day(st->sip_meeting),
                            "established", j_day(st->sip_established),
                            "followed_up", j_day(st->sip_followed_up), "reason", j_str(st->sip_reason)));
        a = json_array();
        for (int i = 0; i < st->n_changes; i++)
                json_array_append_new(a, j_day(st->changes[i]));
        json_object_set_new(o, "continuity", json_pack("{s:i, s:i, s:o}", "assign_n", st->assign_n,
                            "change_n", st->change_n, "changes", a));
        json_object_set_new(o, "work_capacity", json_pack("{s:i, s:o}", "n", st->wc_n,
                            "assessed", j_day(st->wc_assessed)));
        a = json_array();
        for (int r = 0; r < RULE__COUNT; r++) {
                const armed_t *x = &st->armed[r];
                if (x->s == ARM_NONE)
                        continue;
                json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:o, s:o}",
                                      "rule", rules_name((rule_id_t)r),
                                      "s", x->s == ARM_OPEN ? "open" : "suspended",
                                      "cycle", j_str(x->cycle), "base", j_str(x->base),
                                      "due", j_day(x->due)));
        }
        json_object_set_new(o, "armed", a);
        text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        return text;
}

/* A reader that remembers the first problem, so the parse reads like the writer. */
typedef struct rd {
        bool bad;
} rd_t;

static json_t *r_get(rd_t *r, json_t *o, const char *key)
{
        json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

        if (!v)
                r->bad = true;
        return v;
}

static int r_int(rd_t *r, json_t *o, const char *key, int lo, int hi)
{
        json_t *v = r_get(r, o, key);
        json_int_t x;

        if (!json_is_integer(v)) {
                r->bad = true;
                return 0;
        }
        x = json_integer_value(v);
        if (x < lo || x > hi) {
                r->bad = true;
                return 0;
        }
        return (int)x;
}

static bool r_bool(rd_t *r, json_t *o, const char *key)
{
        json_t *v = r_get(r, o, key);

        if (!json_is_boolean(v)) {
                r->bad = true;
                return false;
        }
        return json_is_true(v);
}

static void r_str(rd_t *r, json_t *o, const char *key, char *buf, size_t n)
{
        json_t *v = r_get(r, o, key);

        if (!json_is_string(v) || json_string_length(v) >= n) {
                r->bad = true;
                buf[0] = '\0';
                return;
        }
        bk_strlcpy(buf, json_string_value(v), n);
}

static cal_day_t r_dayv(rd_t *r, json_t *v)
{
        cal_day_t d;

        if (json_is_null(v))
                return DAY_NONE;
        if (!json_is_string(v) || cal_parse_date(json_string_value(v), &d) != 0) {
                r->bad = true;
                return DAY_NONE;
        }
        return d;
}

static cal_day_t r_day(rd_t *r, json_t *o, const char *key)
{
        json_t *v = r_get(r, o, key);

        return v ? r_dayv(r, v) : DAY_NONE;
}

static cal_month_t r_monthv(rd_t *r, json_t *v)
{
        cal_month_t m;

        if (json_is_null(v))
                return MONTH_NONE;
        if (!json_is_string(v) || cal_parse_month(json_string_value(v), &m) != 0) {
                r->bad = true;
                return MONTH_NONE;
        }
        return m;
}

static cal_month_t r_month(rd_t *r, json_t *o, const char *key)
{
        json_t *v = r_get(r, o, key);

        return v ? r_monthv(r, v) : MONTH_NONE;
}

static int r_state(rd_t *r, json_t *o, const char *key, int track)
{
        json_t *v = r_get(r, o, key);

        if (json_is_string(v))
                for (int s = 0; s < TRACK_STATES_MAX && state_names[track][s]; s++)
                        if (strcmp(state_names[track][s], json_string_value(v)) == 0)
                                return s;
        r->bad = true;
        return 0;
}

static json_t *r_array(rd_t *r, json_t *o, const char *key, size_t max)
{
        json_t *v = r_get(r, o, key);

        if (!json_is_array(v) || json_array_size(v) > max) {
                r->bad = true;
                return NULL;
        }
        return v;
}

static void r_barrier(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *v = r_get(r, o, "barrier");

        st->barrier = BARRIER_NONE;
        if (json_is_null(v))
                return;
        for (int b = BARRIER_UNEMPLOYMENT; b <= BARRIER_UNCLEAR; b++)
                if (json_is_string(v) && event_barrier_name((ev_barrier_t)b) &&
                    strcmp(event_barrier_name((ev_barrier_t)b), json_string_value(v)) == 0) {
                        st->barrier = (ev_barrier_t)b;
                        return;
                }
        r->bad = true;
}

static void r_actors(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *a = r_array(r, o, "actors", 8), *v;
        size_t i;

        st->actors = 0;
        json_array_foreach(a, i, v) {
                bool found = false;
                for (int x = ACTOR_AF; x <= ACTOR_OTHER && !found; x++)
                        if (json_is_string(v) && event_actor_name((ev_actor_t)x) &&
                            strcmp(event_actor_name((ev_actor_t)x), json_string_value(v)) == 0) {
                                st->actors |= 1u << x;
                                found = true;
                        }
                if (!found)
                        r->bad = true;
        }
}

static void r_granted(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *a = r_array(r, o, "granted", 100000), *v;
        size_t i;

        if (!a)
                return;
        if (granted_reserve(st, (int)json_array_size(a)) < 0) {
                r->bad = true;
                return;
        }
        json_array_foreach(a, i, v) {
                cal_month_t m = r_monthv(r, v);
                /* Sorted and unique is part of the form; anything else is not ours. */
                if (m == MONTH_NONE || (st->n_granted && m <= st->granted[st->n_granted - 1])) {
                        r->bad = true;
                        return;
                }
                st->granted[st->n_granted++] = m;
        }
}

static void r_armed(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *a = r_array(r, o, "armed", RULE__COUNT), *v;
        size_t i;

        json_array_foreach(a, i, v) {
                char name[32], s[16];
                int rule;
                armed_t *x;

                r_str(r, v, "rule", name, sizeof(name));
                rule = rules_from_name(name);
                if (rule < 0) {
                        r->bad = true;
                        return;
                }
                x = &st->armed[rule];
                r_str(r, v, "s", s, sizeof(s));
                if (strcmp(s, "open") == 0)
                        x->s = ARM_OPEN;
                else if (strcmp(s, "suspended") == 0)
                        x->s = ARM_SUSPENDED;
                else
                        r->bad = true;
                r_str(r, v, "cycle", x->cycle, sizeof(x->cycle));
                r_str(r, v, "base", x->base, sizeof(x->base));
                x->due = r_day(r, v, "due");
        }
}

static void r_lists(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *h = r_get(r, o, "household"), *ch = r_get(r, o, "children");
        json_t *ct = r_get(r, o, "continuity"), *a, *v;
        size_t i;

        st->adults = r_int(r, h, "adults", 0, 1000);
        st->single_parent = r_bool(r, h, "single_parent");
        st->counting = r_int(r, h, "counting", 0, EV_MAX_CHILDREN);
        a = r_array(r, h, "children", EV_MAX_CHILDREN);
        json_array_foreach(a, i, v) {
                cal_month_t m = r_monthv(r, v);
                if (m == MONTH_NONE)
                        r->bad = true;
                st->children[st->n_children++] = m;
        }
        a = r_array(r, ch, "summer_applied", SUMMER_KEEP);
        json_array_foreach(a, i, v) {
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 9999)
                        r->bad = true;
                else
                        st->applied[st->n_applied++] = (int)json_integer_value(v);
        }
        a = r_array(r, ct, "changes", CONT_KEEP);
        json_array_foreach(a, i, v) {
                cal_day_t d = r_dayv(r, v);
                if (d == DAY_NONE)
                        r->bad = true;
                st->changes[st->n_changes++] = d;
        }
}

int rules_state_from_json(const char *text, case_state_t **out)
{
        json_t *o, *x;
        case_state_t *st;
        rd_t r = { false };
        char case_id[EV_NAME_MAX + 1];

        *out = NULL;
        if (!text || !(o = json_loads(text, 0, NULL)))
                return BK_E_INVALID;
        if (!json_is_object(o) || r_int(&r, o, "v", 0, 1000) != STATE_VERSION) {
                json_decref(o);
                return BK_E_INVALID;
        }
        r_str(&r, o, "case", case_id, sizeof(case_id));
        if (!(st = rules_state_new(case_id))) {
                json_decref(o);
                return -ENOMEM;
        }
        st->seen = r_bool(&r, o, "seen");
        st->opened = r_bool(&r, o, "opened");
        r_str(&r, o, "unit", st->unit, sizeof(st->unit));
        r_str(&r, o, "caseworker", st->caseworker, sizeof(st->caseworker));
        st->first_day = r_day(&r, o, "first_day");
        st->tick_day = r_day(&r, o, "tick_day");
        st->reopen_n = r_int(&r, o, "reopen_n", 0, INT32_MAX);
        r_barrier(&r, o, st);
        r_actors(&r, o, st);
        st->health_flagged = r_bool(&r, o, "health_flagged");
        r_granted(&r, o, st);
        st->last_decided = r_month(&r, o, "last_decided");
        x = r_get(&r, o, "lt");
        st->lt = r_bool(&r, x, "on");
        st->lt_episode = r_int(&r, x, "episode", 0, INT32_MAX);
        st->lt_since = r_day(&r, x, "since");
        st->lt_last_month = r_month(&r, x, "last_month");
        st->lt_below_since = r_month(&r, x, "below_since");
        x = r_get(&r, o, "tracks");
        for (int tr = 0; tr < TR__COUNT; tr++)
                st->ts[tr] = r_state(&r, x, track_names[tr], tr);
        x = r_get(&r, o, "ib");
        st->ib1_n = r_int(&r, x, "ib1_n", 0, INT32_MAX);
        st->ib3_n = r_int(&r, x, "ib3_n", 0, INT32_MAX);
        st->plan_n = r_int(&r, x, "plan_n", 0, INT32_MAX);
        st->exempt_n = r_int(&r, x, "exempt_n", 0, INT32_MAX);
        st->ib1_day = r_day(&r, x, "ib1");
        st->ib2_day = r_day(&r, x, "ib2");
        st->ib3_day = r_day(&r, x, "ib3");
        st->plan_day = r_day(&r, x, "plan");
        st->exempt_until = r_day(&r, x, "exempt_until");
        r_str(&r, x, "exempt_reason", st->exempt_reason, sizeof(st->exempt_reason));
        st->safety_day = r_day(&r, r_get(&r, o, "safety"), "day");
        x = r_get(&r, o, "fia");
        st->fia_n = r_int(&r, x, "n", 0, INT32_MAX);
        st->fia_due_day = r_day(&r, x, "due");
        st->fia_started = r_day(&r, x, "started");
        st->fia_completed = r_day(&r, x, "completed");
        st->fia_declined = r_day(&r, x, "declined");
        r_str(&r, x, "reason", st->fia_reason, sizeof(st->fia_reason));
        x = r_get(&r, o, "children");
        st->map_n = r_int(&r, x, "map_n", 0, INT32_MAX);
        st->cmap_episode = r_int(&r, x, "map_episode", 0, INT32_MAX);
        st->cmap_k = r_int(&r, x, "map_k", 0, INT32_MAX);
        st->mapped_day = r_day(&r, x, "mapped");
        st->summer_year = r_int(&r, x, "summer_year", 0, 9999);
        x = r_get(&r, o, "sip");
        st->sip_n = r_int(&r, x, "n", 0, INT32_MAX);
        st->sip_fu_n = r_int(&r, x, "fu_n", 0, INT32_MAX);
        st->sipc_n = r_int(&r, x, "consider_n", 0, INT32_MAX);
        st->sip_rest = r_state(&r, x, "rest", TR_SIP);
        st->sip_base = r_bool(&r, x, "base");
        st->sip_initiated = r_day(&r, x, "initiated");
        st->sip_meeting = r_day(&r, x, "meeting");
        st->sip_established = r_day(&r, x, "established");
        st->sip_followed_up = r_day(&r, x, "followed_up");
        r_str(&r, x, "reason", st->sip_reason, sizeof(st->sip_reason));
        x = r_get(&r, o, "continuity");
        st->assign_n = r_int(&r, x, "assign_n", 0, INT32_MAX);
        st->change_n = r_int(&r, x, "change_n", 0, INT32_MAX);
        x = r_get(&r, o, "work_capacity");
        st->wc_n = r_int(&r, x, "n", 0, INT32_MAX);
        st->wc_assessed = r_day(&r, x, "assessed");
        r_lists(&r, o, st);
        r_armed(&r, o, st);
        json_decref(o);
        if (r.bad) {
                rules_state_free(&st);
                return BK_E_INVALID;
        }
        *out = st;
        return 0;
}

/* ---- binary store form ----------------------------------------------------------------------
 *
 * What the store keeps: the same fields as the JSON form, in a fixed order, as LEB128 varints
 * (signed values zigzagged), strings as a length and the bytes. About a tenth of the JSON's size
 * and cost, and small enough that a case row needs no overflow page. The first byte tells the
 * forms apart: JSON starts with '{', this with BIN_MAGIC. The decoder checks everything the JSON
 * reader checks; a blob it cannot vouch for is BK_E_INVALID, never a half-read state.
 */

#define BIN_MAGIC 0xB5
#define BIN_VERSION 1

typedef struct wbuf {
        uint8_t *p;
        size_t n, cap;
} wbuf_t;

static void w_u(wbuf_t *w, uint64_t v)
{
        do {
                uint8_t b = v & 0x7f;
                v >>= 7;
                if (v)
                        b |= 0x80;
                if (w->n < w->cap)
                        w->p[w->n] = b;
                w->n++;
        } while (v);
}

static void w_i(wbuf_t *w, int64_t v)
{
        w_u(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void w_s(wbuf_t *w, const char *s)
{
        size_t len = strlen(s);

        w_u(w, len);
        if (w->n < w->cap)
                memcpy(w->p + w->n, s, BK_MIN(len, w->cap - w->n));
        w->n += len;
}

size_t rules_state_encode(const case_state_t *st, uint8_t *buf, size_t cap)
{
        wbuf_t w = { buf, 0, cap };

        w_u(&w, BIN_MAGIC);
        w_u(&w, BIN_VERSION);
        w_s(&w, st->case_id);
        w_u(&w, (unsigned)st->seen | (unsigned)st->opened << 1 | (unsigned)st->single_parent << 2 |
                (unsigned)st->health_flagged << 3 | (unsigned)st->lt << 4 | (unsigned)st->sip_base << 5);
        w_s(&w, st->unit);
        w_s(&w, st->caseworker);
        w_i(&w, st->first_day);
        w_i(&w, st->tick_day);
        w_i(&w, st->reopen_n);
        w_i(&w, st->adults);
        w_i(&w, st->counting);
        w_u(&w, (unsigned)st->n_children);
        for (int i = 0; i < st->n_children; i++)
                w_i(&w, st->children[i]);
        w_u(&w, (unsigned)st->barrier);
        w_u(&w, st->actors);
        w_u(&w, (unsigned)st->n_granted);
        for (int i = 0; i < st->n_granted; i++)   /* sorted: deltas stay one or two bytes */
                w_i(&w, i ? (int64_t)st->granted[i] - st->granted[i - 1] : st->granted[i]);
        w_i(&w, st->last_decided);
        w_i(&w, st->lt_episode);
        w_i(&w, st->lt_since);
        w_i(&w, st->lt_last_month);
        w_i(&w, st->lt_below_since);
        for (int tr = 0; tr < TR__COUNT; tr++)
                w_u(&w, (unsigned)st->ts[tr]);
        w_i(&w, st->ib1_n);
        w_i(&w, st->ib3_n);
        w_i(&w, st->plan_n);
        w_i(&w, st->exempt_n);
        w_i(&w, st->ib1_day);
        w_i(&w, st->ib2_day);
        w_i(&w, st->ib3_day);
        w_i(&w, st->plan_day);
        w_i(&w, st->exempt_until);
        w_s(&w, st->exempt_reason);
        w_i(&w, st->safety_day);
        w_i(&w, st->fia_n);
        w_i(&w, st->fia_due_day);
        w_i(&w, st->fia_started);
        w_i(&w, st->fia_completed);
        w_i(&w, st->fia_declined);
        w_s(&w, st->fia_reason);
        w_i(&w, st->map_n);
        w_i(&w, st->cmap_episode);
        w_i(&w, st->cmap_k);
        w_i(&w, st->mapped_day);
        w_i(&w, st->summer_year);
        w_u(&w, (unsigned)st->n_applied);
        for (int i = 0; i < st->n_applied; i++)
                w_i(&w, st->applied[i]);
        w_i(&w, st->sip_n);
        w_i(&w, st->sip_fu_n);
        w_i(&w, st->sipc_n);
        w_u(&w, (unsigned)st->sip_rest);
        w_i(&w, st->sip_initiated);
        w_i(&w, st->sip_meeting);
        w_i(&w, st->sip_established);
        w_i(&w, st->sip_followed_up);
        w_s(&w, st->sip_reason);
        w_i(&w, st->assign_n);
        w_i(&w, st->change_n);
        w_u(&w, (unsigned)st->n_changes);
        for (int i = 0; i < st->n_changes; i++)
                w_i(&w, st->changes[i]);
        w_i(&w, st->wc_n);
        w_i(&w, st->wc_assessed);
        for (int r = 0; r < RULE__COUNT; r++) {
                const armed_t *x = &st->armed[r];
                w_u(&w, (unsigned)x->s);
                if (x->s == ARM_NONE)
                        continue;
                w_s(&w, x->cycle);
                w_s(&w, x->base);
                w_i(&w, x->due);
        }
        return w.n;
}

typedef struct rbuf {
        const uint8_t *p, *end;
        bool bad;
} rbuf_t;

static uint64_t b_u(rbuf_t *r)
{
        uint64_t v = 0;

        for (int shift = 0; shift < 64; shift += 7) {
                if (r->p >= r->end) {
                        r->bad = true;
                        return 0;
                }
                uint8_t b = *r->p++;
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        return v;
        }
        r->bad = true;   /* more than ten bytes: not ours */
        return 0;
}

/* A value in [lo, hi]; anything else marks the blob bad and reads as lo. */
static int64_t b_i(rbuf_t *r, int64_t lo, int64_t hi)
{
        uint64_t u = b_u(r);
        int64_t v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);

        if (v < lo || v > hi) {
                r->bad = true;
                return lo;
        }
        return v;
}

static unsigned b_enum(rbuf_t *r, unsigned n)
{
        uint64_t v = b_u(r);

        if (v >= n) {
                r->bad = true;
                return 0;
        }
        return (unsigned)v;
}

static void b_s(rbuf_t *r, char *buf, size_t n)
{
        uint64_t len = b_u(r);

        buf[0] = '\0';
        if (r->bad || len >= n || len > (uint64_t)(r->end - r->p) || memchr(r->p, '\0', len)) {
                r->bad = true;
                return;
        }
        memcpy(buf, r->p, len);
        buf[len] = '\0';
        r->p += len;
}

/* Dates and months as the JSON form can spell them: years 0000–9999, or none. */
static cal_day_t b_day(rbuf_t *r)
{
        int64_t v = b_i(r, INT32_MIN, INT32_MAX);

        if (v != DAY_NONE && (v < cal_day_from_ymd(0, 1, 1) || v > cal_day_from_ymd(9999, 12, 31))) {
                r->bad = true;
                return DAY_NONE;
        }
        return (cal_day_t)v;
}

static bool month_ok(int64_t v)
{
        return v >= cal_month_from_ym(0, 1) && v <= cal_month_from_ym(9999, 12);
}

static cal_month_t b_month(rbuf_t *r)
{
        int64_t v = b_i(r, INT32_MIN, INT32_MAX);

        if (v != MONTH_NONE && !month_ok(v)) {
                r->bad = true;
                return MONTH_NONE;
        }
        return (cal_month_t)v;
}

static int b_count(rbuf_t *r)
{
        return (int)b_i(r, 0, INT32_MAX);
}

static unsigned track_states(int tr)
{
        unsigned n = 0;

        while (n < TRACK_STATES_MAX && state_names[tr][n])
                n++;
        return n;
}

static void b_granted(rbuf_t *r, case_state_t *st)
{
        uint64_t n = b_u(r);
        int64_t m = 0;

        /* Every month takes at least one byte: a count beyond what is left is a lie. */
        if (r->bad || n > (uint64_t)(r->end - r->p) || granted_reserve(st, (int)n) < 0) {
                r->bad = true;
                return;
        }
        for (uint64_t i = 0; i < n && !r->bad; i++) {
                int64_t d = b_i(r, i ? 1 : INT32_MIN, INT32_MAX);   /* sorted and unique */
                m = i ? m + d : d;
                if (!month_ok(m)) {
                        r->bad = true;
                        return;
                }
                st->granted[st->n_granted++] = (cal_month_t)m;
        }
}

static int decode_bin(const uint8_t *p, size_t len, case_state_t **out)
{
        rbuf_t r = { p, p + len, false };
        char case_id[EV_NAME_MAX + 1];
        case_state_t *st;
        unsigned flags, n;

        if (b_u(&r) != BIN_MAGIC || b_u(&r) != BIN_VERSION || r.bad)
                return BK_E_INVALID;
        b_s(&r, case_id, sizeof(case_id));
        if (r.bad)
                return BK_E_INVALID;
        if (!(st = rules_state_new(case_id)))
                return -ENOMEM;
        flags = b_enum(&r, 1u << 6);
        st->seen = flags & 1;
        st->opened = flags & 2;
        st->single_parent = flags & 4;
        st->health_flagged = flags & 8;
        st->lt = flags & 16;
        st->sip_base = flags & 32;
        b_s(&r, st->unit, sizeof(st->unit));
        b_s(&r, st->caseworker, sizeof(st->caseworker));
        st->first_day = b_day(&r);
        st->tick_day = b_day(&r);
        st->reopen_n = b_count(&r);
        st->adults = (int)b_i(&r, 0, 1000);
        st->counting = (int)b_i(&r, 0, EV_MAX_CHILDREN);
        n = b_enum(&r, EV_MAX_CHILDREN + 1);
        for (unsigned i = 0; i < n && !r.bad; i++) {
                cal_month_t m = b_month(&r);
                if (m == MONTH_NONE)
                        r.bad = true;
                st->children[st->n_children++] = m;
        }
        st->barrier = (ev_barrier_t)b_enum(&r, BARRIER_UNCLEAR + 1);
        if (st->barrier != BARRIER_NONE && !event_barrier_name(st->barrier))
                r.bad = true;
        st->actors = (unsigned)b_u(&r);
        for (int x = 0; x < 32; x++)
                if ((st->actors >> x & 1) && (x < ACTOR_AF || x > ACTOR_OTHER || !event_actor_name((ev_actor_t)x)))
                        r.bad = true;
        b_granted(&r, st);
        st->last_decided = b_month(&r);
        st->lt_episode = b_count(&r);
        st->lt_since = b_day(&r);
        st->lt_last_month = b_month(&r);
        st->lt_below_since = b_month(&r);
        for (int tr = 0; tr < TR__COUNT; tr++)
                st->ts[tr] = (int)b_enum(&r, track_states(tr));
        st->ib1_n = b_count(&r);
        st->ib3_n = b_count(&r);
        st->plan_n = b_count(&r);
        st->exempt_n = b_count(&r);
        st->ib1_day = b_day(&r);
        st->ib2_day = b_day(&r);
        st->ib3_day = b_day(&r);
        st->plan_day = b_day(&r);
        st->exempt_until = b_day(&r);
        b_s(&r, st->exempt_reason, sizeof(st->exempt_reason));
        st->safety_day = b_day(&r);
        st->fia_n = b_count(&r);
        st->fia_due_day = b_day(&r);
        st->fia_started = b_day(&r);
        st->fia_completed = b_day(&r);
        st->fia_declined = b_day(&r);
        b_s(&r, st->fia_reason, sizeof(st->fia_reason));
        st->map_n = b_count(&r);
        st->cmap_episode = b_count(&r);
        st->cmap_k = b_count(&r);
        st->mapped_day = b_day(&r);
        st->summer_year = (int)b_i(&r, 0, 9999);
        n = b_enum(&r, SUMMER_KEEP + 1);
        for (unsigned i = 0; i < n && !r.bad; i++)
                st->applied[st->n_applied++] = (int)b_i(&r, 0, 9999);
        st->sip_n = b_count(&r);
        st->sip_fu_n = b_count(&r);
        st->sipc_n = b_count(&r);
        st->sip_rest = (int)b_enum(&r, track_states(TR_SIP));
        st->sip_initiated = b_day(&r);
        st->sip_meeting = b_day(&r);
        st->sip_established = b_day(&r);
        st->sip_followed_up = b_day(&r);
        b_s(&r, st->sip_reason, sizeof(st->sip_reason));
        st->assign_n = b_count(&r);
        st->change_n = b_count(&r);
        n = b_enum(&r, CONT_KEEP + 1);
        for (unsigned i = 0; i < n && !r.bad; i++) {
                cal_day_t d = b_day(&r);
                if (d == DAY_NONE)
                        r.bad = true;
                st->changes[st->n_changes++] = d;
        }
        st->wc_n = b_count(&r);
        st->wc_assessed = b_day(&r);
        for (int i = 0; i < RULE__COUNT && !r.bad; i++) {
                armed_t *x = &st->armed[i];
                x->s = (arm_state_t)b_enum(&r, ARM_SUSPENDED + 1);
                if (x->s == ARM_NONE)
                        continue;
                b_s(&r, x->cycle, sizeof(x->cycle));
                b_s(&r, x->base, sizeof(x->base));
                x->due = b_day(&r);
        }
        if (r.bad || r.p != r.end) {
                rules_state_free(&st);
                return BK_E_INVALID;
        }
        *out = st;
        return 0;
}

int rules_state_decode(const void *buf, size_t len, case_state_t **out)
{
        const uint8_t *p = buf;

        *out = NULL;
        if (!p || len == 0)
                return BK_E_INVALID;
        if (p[0] == BIN_MAGIC)
                return decode_bin(p, len, out);
        if (p[0] == '{' && !memchr(p, '\0', len)) {
                /* The JSON form of schema 1 stores: read, and written back binary on the next change. */
                char *text = strndup((const char *)p, len);
                int r = text ? rules_state_from_json(text, out) : -ENOMEM;
                free(text);
                return r;
        }
        return BK_E_INVALID;
}

/* Reasons are kept once given (domain §4.1, §4.2): shown whenever there is one. */
static json_t *j_reason(const char *s)
{
        return s[0] ? j_str(s) : json_null();
}

/* ---- API view -------------------------------------------------------------------------------- */

json_t *rules_state_view(const case_state_t *st)
{
        int counting = st->counting;
        json_t *v, *tracks, *a;

        v = json_pack("{s:s, s:s, s:o, s:o, s:o, s:b, s:o}",
                      "case", st->case_id,
                      "status", !st->seen ? "new" : is_open(st) ? "open" : "closed",
                      "unit", st->unit[0] ? json_string(st->unit) : json_null(),
                      "caseworker", st->caseworker[0] ? json_string(st->caseworker) : json_null(),
                      "granted_months", j_months(st->granted, st->n_granted),
                      "long_term", st->lt,
                      "long_term_since", st->lt ? j_day(st->lt_since) : json_null());
        if (!v)
                return NULL;
        json_object_set_new(v, "household", json_pack("{s:i, s:b, s:i}", "adults", st->adults,
                            "single_parent", st->single_parent, "children", counting));
        json_object_set_new(v, "barrier", j_barrier(st->barrier));
        json_object_set_new(v, "actors", j_actors(st));
        json_object_set_new(v, "health_flagged", json_boolean(st->health_flagged));
        tracks = json_object();
        json_object_set_new(tracks, "ib", json_pack("{s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:o, s:o}",
                            "state", j_state(TR_IB, st->ts[TR_IB]),
                            "ib1", j_day(st->ib1_day), "ib2", j_day(st->ib2_day),
                            "ib3", j_day(st->ib3_day), "plan", j_day(st->plan_day),
                            "plan_revision", st->plan_n,
                            "next_follow_up", j_day(armed_due(st, RULE_IB4_FOLLOWUP)),
                            "exempt_until", st->ts[TR_IB] == IB_EXEMPT ? j_day(st->exempt_until)
                                                                       : json_null(),
                            "exempt_reason", j_reason(st->exempt_reason)));
        json_object_set_new(tracks, "fia", json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
                            "state", j_state(TR_FIA, st->ts[TR_FIA]),
                            "due_since", st->ts[TR_FIA] == FIA_DUE ? j_day(st->fia_due_day) : json_null(),
                            "started", j_day(st->fia_started), "completed", j_day(st->fia_completed),
                            "declined", j_day(st->fia_declined),
                            "declined_reason", j_reason(st->fia_reason)));
        a = json_array();
        for (int i = 0; i < st->n_applied; i++)
                json_array_append_new(a, json_integer(st->applied[i]));
        json_object_set_new(tracks, "children", json_pack("{s:o, s:i, s:o, s:o, s:{s:o, s:o, s:o}}",
                            "state", j_state(TR_CHILD, st->ts[TR_CHILD]), "counting", counting,
                            "mapped", j_day(st->mapped_day),
                            "next_follow_up", j_day(armed_due(st, RULE_CHILD_FOLLOWUP)),
                            "summer_allowance", "state", j_state(TR_SUMMER, st->ts[TR_SUMMER]),
                            "year", st->ts[TR_SUMMER] == SUM_DUE ? json_integer(st->summer_year)
                                                                 : json_null(),
                            "applied", a));
        json_object_set_new(tracks, "sip", json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                            "state", j_state(TR_SIP, st->ts[TR_SIP]),
                            "initiated", j_day(st->sip_initiated), "meeting_held", j_day(st->sip_meeting),
                            "established", j_day(st->sip_established),
                            "followed_up", j_day(st->sip_followed_up),
                            "next_follow_up", j_day(armed_due(st, RULE_SIP_FOLLOWUP)),
                            "declined_reason", j_reason(st->sip_reason)));
        json_object_set_new(tracks, "safety", json_pack("{s:o, s:o}",
                            "state", j_state(TR_SAFETY, st->ts[TR_SAFETY]),
                            "followed_up", j_day(st->safety_day)));
        json_object_set_new(tracks, "continuity", json_pack("{s:i, s:i}",
                            "assignments", st->assign_n, "changes", st->change_n));
        json_object_set_new(tracks, "work_capacity", json_pack("{s:o, s:o}",
                            "state", j_state(TR_WC, st->ts[TR_WC]), "assessed", j_day(st->wc_assessed)));
        json_object_set_new(v, "tracks", tracks);
        return v;
}
