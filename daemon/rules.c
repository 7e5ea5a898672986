/*
 * rules.c owns the per-case state machines of domain.md §3–§5: the case
 * facts (status, unit, caseworker and its changes, household, barrier,
 * granted months, actors, long-term episodes), one state per track, and the
 * transition table `{track, state, event} → {guard, actions, next state}`
 * that turns events into reminder actions. Time-driven transitions
 * (children ageing out, the summer-allowance check and expiry, the end of
 * an IB4 exemption, a lapsed work-capacity assessment) are the same table
 * driven by internal events from rules_tick. This file is the machine (the
 * helpers on the state, arming and resolving, dispatch, time); the table and
 * the actions are in rules-table.c, the store forms in rules-codec.c, the
 * API view and the why in rules-view.c, the handover text in
 * rules-handover.c, the private state in rules-state.h. Everything is a function of the
 * arguments: no clock, no I/O, and the only allocations are the states, the
 * granted-month set inside them and the JSON it returns. docs/rules.md has
 * the tables in prose and every inferred decision.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include "rules-state.h"

const char *const rs_track_names[TR__COUNT] = {
        "case", "ib", "safety", "fia", "children", "summer", "impact", "sip",
        "handover", "continuity", "work_capacity",
};

const char *const rs_state_names[TR__COUNT][TRACK_STATES_MAX] = {
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

/* ---- small helpers ---------------------------------------------------------------- */

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
void rs_copy_text(char *dst, const char *src, size_t size)
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
int rs_children_on(const rules_cfg_t *cfg, const case_state_t *st, cal_day_t day)
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

int rs_granted_reserve(case_state_t *st, int extra)
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
void rs_granted_add(case_state_t *st, cal_month_t m)
{
        int pos;

        if (granted_has(st, m, &pos) || st->n_granted >= st->cap_granted)
                return;
        memmove(&st->granted[pos + 1], &st->granted[pos],
                (size_t)(st->n_granted - pos) * sizeof(*st->granted));
        st->granted[pos] = m;
        st->n_granted++;
}

void rs_granted_remove(case_state_t *st, cal_month_t m)
{
        int pos;

        if (!granted_has(st, m, &pos))
                return;
        memmove(&st->granted[pos], &st->granted[pos + 1],
                (size_t)(st->n_granted - pos - 1) * sizeof(*st->granted));
        st->n_granted--;
}

/* Granted months in the window ending at `end` (inclusive); window 0 = all of them. */
int rs_granted_window(const rules_cfg_t *cfg, const case_state_t *st, cal_month_t end)
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
int rs_full_window(const rules_cfg_t *cfg)
{
        return cfg->long_term_window_months > 0 ? cfg->long_term_window_months : 12;
}

void rs_window_text(const rules_cfg_t *cfg, cal_month_t end, char *buf, size_t n)
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

bool rs_summer_applied(const case_state_t *st, int year)
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
cal_day_t rs_summer_expire_day(const rules_cfg_t *cfg, int year)
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
int rs_summer_granted(const rules_cfg_t *cfg, const case_state_t *st, cal_day_t check)
{
        return rs_granted_window(cfg, st, cal_month_of(check) - 1);
}

bool rs_recent_mapping(const rules_cfg_t *cfg, const case_state_t *st, cal_day_t day)
{
        return st->mapped_day != DAY_NONE && st->mapped_day >= cal_add_months(day, -rs_full_window(cfg));
}

/* ---- actions out, and the engine's memory of what it scheduled ------------------- */

rule_action_t *rs_emit(ctx_t *c, rule_act_kind_t kind, int rule, const char *cycle)
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
void rs_schedule(ctx_t *c, rule_id_t rule, const char *cycle, cal_day_t due,
                 const char *why, const char *body)
{
        rule_action_t *a;

        if (!c->cfg->rule[rule].enabled || !is_open(c->st))
                return;
        if (!(a = rs_emit(c, ACT_SCHEDULE, rule, cycle)))
                return;
        a->due = due;
        a->severity = rule_def[rule].severity;
        a->to_caseworker = rule_def[rule].to_caseworker;
        a->to_leads = rule_def[rule].to_leads;
        bk_strlcpy(a->why, why ? why : "{}", sizeof(a->why));
        if (body)
                bk_strlcpy(a->body, body, sizeof(a->body));
}

static void disarm(ctx_t *c, rule_id_t rule, rule_act_kind_t kind)
{
        armed_t *a = &c->st->armed[rule];

        if (a->s == ARM_OPEN)
                rs_emit(c, kind, rule, a->cycle);
        a->s = ARM_NONE;
}

void rs_resolve(ctx_t *c, rule_id_t rule)
{
        disarm(c, rule, ACT_RESOLVE);
}

void rs_cancel(ctx_t *c, rule_id_t rule)
{
        disarm(c, rule, ACT_CANCEL);
}

void rs_arm_as(ctx_t *c, rule_id_t rule, const char *base, const char *cycle, cal_day_t due,
               const char *why, const char *body)
{
        armed_t *a = &c->st->armed[rule];

        if (!c->cfg->rule[rule].enabled)
                return;
        if (a->s == ARM_OPEN && strcmp(a->cycle, cycle) == 0)
                return;
        /* One occurrence at a time: a newer trigger supersedes the older reminder. */
        rs_cancel(c, rule);
        if (!is_open(c->st)) {
                if (!rule_def[rule].rearm)
                        return;
                a->s = ARM_SUSPENDED;
        } else {
                a->s = ARM_OPEN;
        }
        a->due = due;
        bk_strlcpy(a->cycle, cycle, sizeof(a->cycle));
        bk_strlcpy(a->base, base, sizeof(a->base));
        rs_schedule(c, rule, cycle, due, why, body);
}

void rs_arm(ctx_t *c, rule_id_t rule, const char *cycle, cal_day_t due, const char *why)
{
        rs_arm_as(c, rule, cycle, cycle, due, why, NULL);
}

void rs_queue(ctx_t *c, int event)
{
        if (c->nq >= QUEUE_MAX) {
                c->overflow = true;
                return;
        }
        c->queue[c->nq++] = event;
}

static const transition_t *find_transition(const ctx_t *c, int track, int event)
{
        unsigned bit = 1u << c->st->ts[track];

        for (size_t i = 0; i < rs_n_transitions; i++) {
                const transition_t *t = &rs_transitions[i];
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
                int first = c->out->n;
                for (int i = 0; i < MAX_ROW_ACTIONS && t->act[i]; i++)
                        t->act[i](c);
                /* A row acts only on the rules it names (rs_transitions[].rules). */
                for (int i = first; i < c->out->n; i++)
                        assert(c->out->act[i].rule < 0 || (t->rules & RB(c->out->act[i].rule)));
                (void)first;
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
                    ? day_max(rs_summer_expire_day(cfg, st->summer_year), after + 1) : WAKE_NEVER;
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
        if (ev->type == EV_ASSISTANCE_DECIDED && rs_granted_reserve(st, 1) < 0)
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
        st->counting = rs_children_on(cfg, st, st->tick_day);
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
        st->counting = rs_children_on(cfg, st, st->tick_day);
        return c.overflow ? -ENOBUFS : 0;
}

/* Whether the summer check of `year` would schedule, with no event in between. */
static bool summer_could_act(const rules_cfg_t *cfg, const case_state_t *st, int year)
{
        cal_day_t d = summer_check_day(cfg, year);

        return cfg->rule[RULE_SUMMER_ALLOWANCE].enabled && is_open(st) &&
               rs_children_on(cfg, st, d) > 0 && !rs_summer_applied(st, year) &&
               rs_summer_granted(cfg, st, d) >= cfg->summer_min_months;
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
