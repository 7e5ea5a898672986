/*
 * indicators.c owns the quality indicators (docs/indicators.md): the facts
 * filed per applied event, the per-case definitions over a case's facts,
 * and the query that walks a unit's facts and reminders once, adding each
 * case to the whole period and to each month of the series. Definitions
 * read only facts dated on or before the period's end, so a figure is what
 * could be known at that end; nothing here replays events through the rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include "indicators.h"

#define DAY_NEVER INT32_MIN
#define MAX_MONTHS 600
#define MAX_UNITS 256

static const struct {
        const char *id, *kind, *title;
} fixed[IND_REM_FIRST] = {
        [IND_LT_SHARE] = { "lt.share", "share", "Open cases that are long-term" },
        [IND_LT_VERY_LONG] = { "lt.very_long", "share", "Open cases granted 46 of the last 48 months" },
        [IND_FIA_30] = { "fia.started_30d", "share", "Long-term episodes with FIA started within 30 days" },
        [IND_FIA_90] = { "fia.started_90d", "share", "Long-term episodes with FIA started within 90 days" },
        [IND_FIA_MEDIAN] = { "fia.median_days", "median", "Median days from long-term to FIA start" },
        [IND_FIA_NOT_STARTED] = { "fia.not_started", "share", "Long-term cases with no FIA started" },
        [IND_FIA_DECLINED] = { "fia.declined", "share", "Long-term cases with FIA declined" },
        [IND_IB4_CURRENT] = { "ib4.current_plan", "share", "Open cases with a plan from the last 4 months" },
        [IND_IB4_MEDIAN] = { "ib4.revision_median_days", "median", "Median days between plan revisions" },
        [IND_IB4_EXEMPT] = { "ib4.exempted", "share", "Open cases with an IB4 exemption in force" },
        [IND_CH_LT] = { "children.lt_with_children", "share", "Long-term cases with children" },
        [IND_CH_MAPPED_30] = { "children.mapped_30d", "share", "Children mapped within 30 days of long-term" },
        [IND_CH_FOLLOWUP] = { "children.followed_up_6m", "share", "Mappings followed up within 6 months" },
        [IND_CH_HOME_VISIT] = { "children.home_visit", "share", "Mappings with a home visit" },
        [IND_SIP_CONSIDER] = { "sip.consider", "share", "Long-term cases meeting SIP-CONSIDER" },
        [IND_SIP_PROGRESS] = { "sip.in_progress", "share", "Open cases with a SIP in progress" },
        [IND_SIP_STALLED] = { "sip.stalled", "share", "SIPs with no meeting within 30 days" },
        [IND_SIP_CHANGE] = { "sip.carried_over_change", "share", "SIPs that carried on after a caseworker change" },
        [IND_CONT_RATE] = { "continuity.changes_per_case_year", "rate", "Caseworker changes per case-year" },
        [IND_CONT_FREQUENT] = { "continuity.frequent_changes", "share", "Open cases with 2+ changes in 12 months" },
        [IND_CI_MISSING] = { "child_impact.missing", "share", "Refusals/partial grants without child-impact analysis" },
        [IND_CASELOAD] = { "caseload.cases_per_caseworker", "rate", "Open cases per caseworker" },
};

static const struct {
        const char *suffix, *kind, *title;
} per_rule[IND_REM_PER_RULE] = {
        [IR_RAISED] = { "raised", "rate", "raised per open case" },
        [IR_RESOLVED] = { "resolved", "share", "resolved" },
        [IR_MEDIAN_DAYS] = { "resolution_median_days", "median", "median days delivery to resolution" },
        [IR_OPEN_LATE] = { "open_late", "share", "still open 30 days after due" },
        [IR_ACKNOWLEDGED] = { "acknowledged", "share", "acknowledged" },
        [IR_SNOOZED] = { "snoozed", "share", "snoozed" },
        [IR_DISMISSED] = { "dismissed", "share", "dismissed" },
};

void indicators_id(int ind, char *buf, size_t n)
{
        if (ind >= 0 && ind < IND_REM_FIRST)
                snprintf(buf, n, "%s", fixed[ind].id);
        else if (ind >= IND_REM_FIRST && ind < IND__COUNT)
                snprintf(buf, n, "rem.%s.%s", rules_name((ind - IND_REM_FIRST) / IND_REM_PER_RULE),
                         per_rule[(ind - IND_REM_FIRST) % IND_REM_PER_RULE].suffix);
        else
                snprintf(buf, n, "?");
}

int indicators_from_id(const char *id)
{
        char buf[96];
        for (int i = 0; i < IND__COUNT; i++) {
                indicators_id(i, buf, sizeof(buf));
                if (strcmp(buf, id) == 0)
                        return i;
        }
        return -1;
}

static const char *ind_kind(int i)
{
        return i < IND_REM_FIRST ? fixed[i].kind : per_rule[(i - IND_REM_FIRST) % IND_REM_PER_RULE].kind;
}

static void ind_title(int i, char *buf, size_t n)
{
        if (i < IND_REM_FIRST)
                snprintf(buf, n, "%s", fixed[i].title);
        else
                snprintf(buf, n, "%s: %s", rules_name((i - IND_REM_FIRST) / IND_REM_PER_RULE),
                         per_rule[(i - IND_REM_FIRST) % IND_REM_PER_RULE].title);
}

/* ---- filing facts ---------------------------------------------------------------------------- */

static int note(store_t *s, const char *unit, const event_t *ev, int kind, int64_t a, int64_t b,
                const char *text)
{
        store_fact_t f = { .day = cal_local_day(ev->at), .kind = kind, .a = a, .b = b };
        bk_strlcpy(f.text, text ? text : "", sizeof(f.text));
        return store_fact_add(s, unit, ev->case_id, &f);
}

static int note_household(store_t *s, const char *unit, const event_t *ev)
{
        const ev_household_t *h = &ev->data.household;
        char text[EV_MAX_CHILDREN * 12 + 1] = "";
        size_t len = 0;

        for (int i = 0; i < h->n_children && i < EV_MAX_CHILDREN; i++)
                len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%d", i ? "," : "",
                                        (int)h->children[i]);
        return note(s, unit, ev, IF_HOUSEHOLD, 0, 0, text);
}

/* The facts of a case event (opened, updated): its caseworker, household and barrier. */
static int note_case(store_t *s, const char *unit, const event_t *ev)
{
        const ev_data_t *d = &ev->data;
        int r = 0;

        if (ev->type == EV_CASE_OPENED)
                r = note(s, unit, ev, IF_OPENED, 0, 0, NULL);
        if (r == 0 && d->has_caseworker)
                r = note(s, unit, ev, IF_ASSIGNED, 0, 0, d->caseworker);
        if (r == 0 && d->has_household)
                r = note_household(s, unit, ev);
        if (r == 0 && d->has_barrier)
                r = note(s, unit, ev, IF_BARRIER, d->barrier, 0, NULL);
        return r;
}

static int note_sip(store_t *s, const char *unit, const event_t *ev)
{
        static const int step[EV__COUNT] = {
                [EV_SIP_INITIATED] = SIP_INITIATED, [EV_SIP_MEETING_HELD] = SIP_MEETING,
                [EV_SIP_ESTABLISHED] = SIP_ESTABLISHED, [EV_SIP_FOLLOWED_UP] = SIP_FOLLOWED_UP,
                [EV_SIP_ENDED] = SIP_ENDED, [EV_SIP_DECLINED] = SIP_DECLINED,
        };
        return step[ev->type] ? note(s, unit, ev, IF_SIP, step[ev->type], 0, NULL) : 0;
}

int indicators_note(store_t *s, const event_t *ev, const char *unit, bool new_episode)
{
        const ev_data_t *d = &ev->data;
        int r = 0;

        switch (ev->type) {
        case EV_CASE_OPENED: case EV_CASE_UPDATED: r = note_case(s, unit, ev); break;
        case EV_CASE_CLOSED: r = note(s, unit, ev, IF_CLOSED, 0, 0, NULL); break;
        case EV_CASE_REOPENED: r = note(s, unit, ev, IF_REOPENED, 0, 0, NULL); break;
        case EV_CASEWORKER_ASSIGNED: r = note(s, unit, ev, IF_ASSIGNED, 0, 0, d->caseworker); break;
        case EV_ASSISTANCE_DECIDED:
                r = note(s, unit, ev, IF_DECIDED, d->month, d->outcome | (d->child_impact_documented ? 16 : 0),
                         d->has_decision ? d->decision : "");
                break;
        case EV_CHILD_IMPACT_DOCUMENTED:
                r = note(s, unit, ev, IF_IMPACT_DOC, 0, 0, d->has_decision ? d->decision : "");
                break;
        case EV_IB4_ESTABLISHED: r = note(s, unit, ev, IF_PLAN, 0, 0, NULL); break;
        case EV_IB4_REVISED: r = note(s, unit, ev, IF_PLAN, 1, 0, NULL); break;
        case EV_IB4_EXEMPTED: r = note(s, unit, ev, IF_EXEMPT, d->has_until ? d->until : DAY_NEVER, 0, NULL); break;
        case EV_FIA_STARTED: r = note(s, unit, ev, IF_FIA_STARTED, 0, 0, NULL); break;
        case EV_FIA_COMPLETED: r = note(s, unit, ev, IF_FIA_COMPLETED, 0, 0, NULL); break;
        case EV_FIA_DECLINED: r = note(s, unit, ev, IF_FIA_DECLINED, 0, 0, d->has_reason ? d->reason : ""); break;
        case EV_CHILDREN_MAPPED: r = note(s, unit, ev, IF_MAPPED, d->home_visit, 0, NULL); break;
        case EV_ACTOR_INVOLVED: r = note(s, unit, ev, IF_ACTOR_ON, d->actor, 0, NULL); break;
        case EV_ACTOR_ENDED: r = note(s, unit, ev, IF_ACTOR_OFF, d->actor, 0, NULL); break;
        default: r = note_sip(s, unit, ev); break;
        }
        /* The episode starts after the decision that made it (the decision is its first fact). */
        if (r == 0 && new_episode)
                r = note(s, unit, ev, IF_LT_START, 0, 0, NULL);
        return r;
}

/* ---- accumulators ------------------------------------------------------------------------------ */

void indicators_acc_init(ind_acc_t *a, bool caseload)
{
        memset(a, 0, sizeof(*a));
        a->caseload = caseload ? json_object() : NULL;
}

void indicators_acc_free(ind_acc_t *a)
{
        for (int i = 0; i < IND__COUNT; i++) {
                free(a->v[i].vals);
                json_decref(a->v[i].reasons);
        }
        json_decref(a->caseload);
        memset(a, 0, sizeof(*a));
}

static void add(ind_acc_t *a, int ind, double num, double den)
{
        a->v[ind].num += num;
        a->v[ind].den += den;
}

static int push(ind_acc_t *a, int ind, int val)
{
        ind_value_t *v = &a->v[ind];
        if (v->n_vals == v->cap_vals) {
                int cap = v->cap_vals ? 2 * v->cap_vals : 16;
                int *p = realloc(v->vals, (size_t)cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                v->vals = p;
                v->cap_vals = cap;
        }
        v->vals[v->n_vals++] = val;
        return 0;
}

static void count_reason(ind_acc_t *a, int ind, const char *reason)
{
        ind_value_t *v = &a->v[ind];
        json_t *n;
        if (!v->reasons)
                v->reasons = json_object();
        n = json_object_get(v->reasons, reason);
        json_object_set_new(v->reasons, reason, json_integer(n ? json_integer_value(n) + 1 : 1));
}

static int cmp_int(const void *x, const void *y)
{
        int a = *(const int *)x, b = *(const int *)y;
        return (a > b) - (a < b);
}

void indicators_acc_finish(ind_acc_t *acc)
{
        for (int i = 0; i < IND__COUNT; i++) {
                ind_value_t *v = &acc->v[i];
                if (strcmp(ind_kind(i), "median") != 0)
                        continue;
                v->den = v->n_vals;
                v->num = 0;
                if (v->n_vals) {
                        qsort(v->vals, (size_t)v->n_vals, sizeof(int), cmp_int);
                        /* The lower median of an even count: a day count that occurred. */
                        v->num = v->vals[(v->n_vals - 1) / 2];
                }
        }
        if (acc->caseload)
                acc->v[IND_CASELOAD].den = (double)json_object_size(acc->caseload);
        /* Reminders raised are counted against the cases open at the end. */
        for (int r = 0; r < RULE__COUNT; r++)
                acc->v[IND_REM_FIRST + r * IND_REM_PER_RULE + IR_RAISED].den = acc->v[IND_LT_SHARE].den;
}

/* ---- per-case definitions ------------------------------------------------------------------- */

static bool granted(int64_t b)
{
        int o = (int)(b & 15);
        return o == OUTCOME_GRANTED || o == OUTCOME_PARTIAL;
}

/* Granted months in the `window` months ending with the month of `day`, by the decisions known on
 * that day (the last decision on a month counts). */
static int granted_window(const store_fact_t *f, int n, cal_day_t day, int window)
{
        cal_month_t end = cal_month_of(day), seen[MAX_MONTHS];
        int n_seen = 0, count = 0;

        for (int i = n - 1; i >= 0; i--) {
                if (f[i].kind != IF_DECIDED || f[i].day > day || f[i].a <= end - window || f[i].a > end)
                        continue;
                int j;
                for (j = 0; j < n_seen && seen[j] != (cal_month_t)f[i].a; j++)
                        ;
                if (j < n_seen || n_seen == MAX_MONTHS)
                        continue;
                seen[n_seen++] = (cal_month_t)f[i].a;
                count += granted(f[i].b);
        }
        return count;
}

static bool long_term_on(const rules_cfg_t *cfg, const store_fact_t *f, int n, cal_day_t day)
{
        int w = cfg->long_term_window_months > 0 ? cfg->long_term_window_months : MAX_MONTHS;
        return granted_window(f, n, day, w) >= cfg->long_term_months;
}

/* Children counting on `day` by the household known then (domain §3: until the 18th birthday month). */
static int children_on(const rules_cfg_t *cfg, const store_fact_t *f, int n, cal_day_t day)
{
        const char *births = NULL;
        int count = 0;

        for (int i = 0; i < n && f[i].day <= day; i++)
                if (f[i].kind == IF_HOUSEHOLD)
                        births = f[i].text;
        for (const char *p = births; p && *p;) {
                char *end;
                long m = strtol(p, &end, 10);
                if (end == p)
                        break;
                if (cal_month_of(day) <= m + 12 * cfg->adult_age)
                        count++;
                p = *end == ',' ? end + 1 : end;
        }
        return count;
}

/* The case's state at the end of `day`. */
struct snap {
        bool open;
        const char *cw;
        cal_day_t last_plan, exempt_from, exempt_until, ep_start;
        bool fia_started, fia_declined;
        const char *decline_reason;
        unsigned actors;
        int barrier, sip;
        int changes_12m;
};

static void snap_take(const rules_cfg_t *cfg, const store_fact_t *f, int n, cal_day_t day, struct snap *sn)
{
        cal_day_t year_ago = cal_add_months(day, -12);

        memset(sn, 0, sizeof(*sn));
        sn->cw = "";
        sn->last_plan = sn->exempt_from = sn->exempt_until = sn->ep_start = DAY_NEVER;
        for (int i = 0; i < n && f[i].day <= day; i++) {
                const store_fact_t *x = &f[i];
                switch (x->kind) {
                case IF_OPENED: case IF_REOPENED: sn->open = true; break;
                case IF_CLOSED: sn->open = false; break;
                case IF_ASSIGNED:
                        if (sn->cw[0] && strcmp(sn->cw, x->text) != 0 && x->day > year_ago)
                                sn->changes_12m++;
                        sn->cw = x->text;
                        break;
                case IF_BARRIER: sn->barrier = (int)x->a; break;
                case IF_PLAN: sn->last_plan = x->day; break;
                case IF_EXEMPT:
                        /* Without `until`, the configured default (domain §4.1). */
                        sn->exempt_from = x->day;
                        sn->exempt_until = x->a == DAY_NEVER ? cal_add_months(x->day, cfg->ib4_exempt_months)
                                                             : (cal_day_t)x->a;
                        break;
                case IF_LT_START:
                        sn->ep_start = x->day;
                        sn->fia_started = sn->fia_declined = false;
                        break;
                case IF_FIA_STARTED: sn->fia_started = sn->ep_start != DAY_NEVER; break;
                case IF_FIA_DECLINED:
                        sn->fia_declined = sn->ep_start != DAY_NEVER;
                        sn->decline_reason = x->text;
                        break;
                case IF_ACTOR_ON: sn->actors |= 1u << x->a; break;
                case IF_ACTOR_OFF: sn->actors &= ~(1u << x->a); break;
                case IF_SIP: sn->sip = (int)x->a; break;
                default: break;
                }
        }
}

static bool sip_running(int step)
{
        return step == SIP_INITIATED || step == SIP_MEETING || step == SIP_ESTABLISHED || step == SIP_FOLLOWED_UP;
}

static bool sip_condition(const struct snap *sn)
{
        int n = !!(sn->actors & (1u << ACTOR_AF)) + !!(sn->actors & (1u << ACTOR_FK)) +
                !!(sn->actors & (1u << ACTOR_REGION));
        return n >= 2 || (sn->barrier == BARRIER_SICKNESS && (sn->actors & (1u << ACTOR_REGION)));
}

/* The indicators that describe the open cases at the end of the period. */
static int eval_stock(const rules_cfg_t *cfg, const store_fact_t *f, int n, cal_day_t end, ind_acc_t *a)
{
        struct snap sn;
        bool lt;

        snap_take(cfg, f, n, end, &sn);
        if (!sn.open)
                return 0;
        lt = long_term_on(cfg, f, n, end);
        add(a, IND_LT_SHARE, lt, 1);
        add(a, IND_LT_VERY_LONG, granted_window(f, n, end, 48) >= 46, 1);
        add(a, IND_IB4_CURRENT, sn.last_plan != DAY_NEVER && sn.last_plan >= cal_add_months(end, -4), 1);
        add(a, IND_IB4_EXEMPT, sn.exempt_from != DAY_NEVER && sn.exempt_until >= end, 1);
        add(a, IND_SIP_PROGRESS, sip_running(sn.sip), 1);
        add(a, IND_CONT_FREQUENT, sn.changes_12m >= 2, 1);
        if (sn.cw[0]) {
                add(a, IND_CASELOAD, 1, 0);
                if (a->caseload) {
                        json_t *c = json_object_get(a->caseload, sn.cw);
                        json_object_set_new(a->caseload, sn.cw, json_integer(c ? json_integer_value(c) + 1 : 1));
                }
        }
        if (!lt)
                return 0;
        add(a, IND_CH_LT, children_on(cfg, f, n, end) > 0, 1);
        add(a, IND_SIP_CONSIDER, sip_condition(&sn) && !sip_running(sn.sip), 1);
        if (sn.ep_start == DAY_NEVER)
                return 0;
        add(a, IND_FIA_NOT_STARTED, !sn.fia_started && !sn.fia_declined, 1);
        add(a, IND_FIA_DECLINED, sn.fia_declined, 1);
        if (sn.fia_declined)
                count_reason(a, IND_FIA_DECLINED, sn.decline_reason[0] ? sn.decline_reason : "-");
        return 0;
}

/* The first fact of `kind` at index > i dated from..to; -1 if none. */
static int first_of(const store_fact_t *f, int n, int i, int kind, cal_day_t from, cal_day_t to)
{
        for (int j = i + 1; j < n && f[j].day <= to; j++)
                if (f[j].kind == kind && f[j].day >= from)
                        return j;
        return -1;
}

/* FIA after each long-term start, and children mapped after it. */
static int eval_episodes(const rules_cfg_t *cfg, const store_fact_t *f, int n, cal_day_t s, cal_day_t e,
                         ind_acc_t *a)
{
        for (int i = 0; i < n && f[i].day <= e; i++) {
                if (f[i].kind != IF_LT_START)
                        continue;
                cal_day_t d0 = f[i].day;
                int st = first_of(f, n, i - 1, IF_FIA_STARTED, d0, e);
                if (d0 + 30 >= s && d0 + 30 <= e)
                        add(a, IND_FIA_30, st >= 0 && f[st].day <= d0 + 30, 1);
                if (d0 + 90 >= s && d0 + 90 <= e)
                        add(a, IND_FIA_90, st >= 0 && f[st].day <= d0 + 90, 1);
                if (st >= 0 && f[st].day >= s && push(a, IND_FIA_MEDIAN, f[st].day - d0) < 0)
                        return -ENOMEM;
                if (d0 + 30 >= s && d0 + 30 <= e && children_on(cfg, f, n, d0) > 0) {
                        int m = first_of(f, n, i - 1, IF_MAPPED, d0, d0 + 30);
                        add(a, IND_CH_MAPPED_30, m >= 0, 1);
                }
        }
        return 0;
}

/* Plan revisions, mappings' follow-ups and home visits, SIP meetings, child-impact analyses. */
static int eval_events(const rules_cfg_t *cfg, const store_fact_t *f, int n, cal_day_t s, cal_day_t e,
                       ind_acc_t *a)
{
        cal_day_t prev_plan = DAY_NEVER;

        for (int i = 0; i < n && f[i].day <= e; i++) {
                const store_fact_t *x = &f[i];
                if (x->kind == IF_PLAN) {
                        if (prev_plan != DAY_NEVER && x->day >= s && push(a, IND_IB4_MEDIAN, x->day - prev_plan) < 0)
                                return -ENOMEM;
                        prev_plan = x->day;
                } else if (x->kind == IF_MAPPED) {
                        cal_day_t due = cal_add_months(x->day, 6);
                        struct snap sn;
                        if (x->day >= s)
                                add(a, IND_CH_HOME_VISIT, x->a != 0, 1);
                        snap_take(cfg, f, n, due, &sn);
                        if (due >= s && due <= e && sn.open && long_term_on(cfg, f, n, x->day) &&
                            children_on(cfg, f, n, x->day) > 0)
                                add(a, IND_CH_FOLLOWUP, first_of(f, n, i, IF_MAPPED, x->day, due) >= 0, 1);
                } else if (x->kind == IF_SIP && x->a == SIP_INITIATED && x->day + 30 >= s && x->day + 30 <= e) {
                        int m;
                        for (m = i + 1; m < n && f[m].day <= x->day + 30; m++)
                                if (f[m].kind == IF_SIP && f[m].a == SIP_MEETING)
                                        break;
                        add(a, IND_SIP_STALLED, !(m < n && f[m].day <= x->day + 30), 1);
                } else if (x->kind == IF_DECIDED && x->day >= s && ((x->b & 15) == OUTCOME_REFUSED ||
                           (x->b & 15) == OUTCOME_PARTIAL) && children_on(cfg, f, n, x->day) > 0) {
                        bool doc = (x->b & 16) != 0;
                        for (int j = i + 1; !doc && j < n && f[j].day <= e; j++)
                                doc = f[j].kind == IF_IMPACT_DOC && x->text[0] && strcmp(f[j].text, x->text) == 0;
                        add(a, IND_CI_MISSING, !doc, 1);
                }
        }
        return 0;
}

/* Whether a SIP step that shows it carried on (a meeting, established, followed up) comes after i. */
static bool sip_carries_on(const store_fact_t *f, int n, int i, cal_day_t e)
{
        for (int j = i + 1; j < n && f[j].day <= e; j++) {
                if (f[j].kind != IF_SIP)
                        continue;
                if (f[j].a == SIP_ENDED || f[j].a == SIP_DECLINED || f[j].a == SIP_INITIATED)
                        return false;
                return true;
        }
        return false;
}

/* Caseworker changes against the days the case was open, and SIPs through a change. */
static void eval_continuity(const store_fact_t *f, int n, cal_day_t s, cal_day_t e, ind_acc_t *a)
{
        const char *cw = "";
        bool open = false;
        int sip = 0;
        cal_day_t since = 0;
        double days = 0, changes = 0;

        for (int i = 0; i < n && f[i].day <= e; i++) {
                const store_fact_t *x = &f[i];
                if ((x->kind == IF_OPENED || x->kind == IF_REOPENED) && !open) {
                        open = true;
                        since = x->day;
                } else if (x->kind == IF_CLOSED && open) {
                        open = false;
                        days += BK_MAX(0, BK_MIN(x->day, e + 1) - BK_MAX(since, s));
                } else if (x->kind == IF_SIP) {
                        sip = (int)x->a;
                } else if (x->kind == IF_ASSIGNED) {
                        bool change = cw[0] && strcmp(cw, x->text) != 0;
                        cw = x->text;
                        if (!change || x->day < s)
                                continue;
                        changes++;
                        if (sip_running(sip))
                                add(a, IND_SIP_CHANGE, sip_carries_on(f, n, i, e), 1);
                }
        }
        if (open)
                days += BK_MAX(0, e + 1 - BK_MAX(since, s));
        add(a, IND_CONT_RATE, changes, days / 365.0);
}

int indicators_eval_case(const rules_cfg_t *cfg, const store_fact_t *f, int n, cal_day_t start, cal_day_t end,
                         ind_acc_t *acc)
{
        int r;
        if ((r = eval_stock(cfg, f, n, end, acc)) < 0 || (r = eval_episodes(cfg, f, n, start, end, acc)) < 0 ||
            (r = eval_events(cfg, f, n, start, end, acc)) < 0)
                return r;
        eval_continuity(f, n, start, end, acc);
        return 0;
}

int indicators_eval_rem(const store_rem_brief_t *r, cal_day_t start, cal_day_t end, ind_acc_t *acc)
{
        int base = IND_REM_FIRST + r->rule * IND_REM_PER_RULE;
        cal_day_t closed = r->closed_at ? cal_local_day(r->closed_at) : DAY_NEVER;

        if (r->rule < 0 || r->rule >= RULE__COUNT)
                return 0;
        if (r->due + 30 >= start && r->due + 30 <= end)
                add(acc, base + IR_OPEN_LATE, closed == DAY_NEVER || closed > r->due + 30, 1);
        if (r->state == REM_RESOLVED && r->delivered_at && closed >= start && closed <= end &&
            push(acc, base + IR_MEDIAN_DAYS, (int)((r->closed_at - r->delivered_at) / 86400)) < 0)
                return -ENOMEM;
        if (r->due < start || r->due > end)
                return 0;
        add(acc, base + IR_RAISED, 1, 0);
        add(acc, base + IR_RESOLVED, r->state == REM_RESOLVED, 1);
        add(acc, base + IR_ACKNOWLEDGED, r->state == REM_ACKNOWLEDGED, 1);
        add(acc, base + IR_SNOOZED, r->state == REM_SNOOZED, 1);
        bool dismissed = r->state == REM_CANCELLED && strncmp(r->close_reason, "dismissed", 9) == 0;
        add(acc, base + IR_DISMISSED, dismissed, 1);
        if (dismissed)
                count_reason(acc, base + IR_DISMISSED,
                             strncmp(r->close_reason, "dismissed: ", 11) == 0 ? r->close_reason + 11 : "-");
        return 0;
}

/* ---- the query ---------------------------------------------------------------------------- */

struct unit_acc {
        char unit[EV_NAME_MAX + 1];
        ind_acc_t acc;
};

struct run {
        const rules_cfg_t *cfg;
        const ind_query_t *q;
        int n_win;                       /* window 0: the period; 1..: its months */
        cal_day_t *ws, *we;
        ind_acc_t *acc;
        struct unit_acc *units;          /* by_unit: the period per unit */
        int n_units;
        char unit[EV_NAME_MAX + 1], case_id[EV_NAME_MAX + 1];
        store_fact_t *buf;               /* the current case's facts */
        int n, cap;
        json_t *open_rems, *behind;      /* caseworker -> n; case -> [n, oldest due] */
};

static ind_acc_t *unit_acc(struct run *r, const char *unit)
{
        if (!r->q->by_unit)
                return NULL;
        for (int i = 0; i < r->n_units; i++)
                if (strcmp(r->units[i].unit, unit) == 0)
                        return &r->units[i].acc;
        if (r->n_units == MAX_UNITS)
                return NULL;
        bk_strlcpy(r->units[r->n_units].unit, unit, sizeof(r->units[0].unit));
        indicators_acc_init(&r->units[r->n_units].acc, true);
        return &r->units[r->n_units++].acc;
}

/* Evaluates the buffered case for every window, facts by day (arrival order within a day). */
static int flush_case(struct run *r)
{
        ind_acc_t *ua;
        int res;

        if (r->n == 0)
                return 0;
        /* By day, arrival order kept within a day: an insertion sort, since facts mostly arrive in
         * day order (an event's `at` may be older than one applied before it). */
        for (int i = 1; i < r->n; i++) {
                store_fact_t t = r->buf[i];
                int j = i - 1;
                while (j >= 0 && r->buf[j].day > t.day) {
                        r->buf[j + 1] = r->buf[j];
                        j--;
                }
                r->buf[j + 1] = t;
        }
        for (int w = 0; w < r->n_win; w++)
                if ((res = indicators_eval_case(r->cfg, r->buf, r->n, r->ws[w], r->we[w], &r->acc[w])) < 0)
                        return res;
        if ((ua = unit_acc(r, r->unit)) &&
            (res = indicators_eval_case(r->cfg, r->buf, r->n, r->ws[0], r->we[0], ua)) < 0)
                return res;
        r->n = 0;
        return 0;
}

static int on_fact(void *ud, const char *unit, const char *case_id, const store_fact_t *f)
{
        struct run *r = ud;
        int res;

        if (strcmp(case_id, r->case_id) != 0 || strcmp(unit, r->unit) != 0) {
                if ((res = flush_case(r)) < 0)
                        return res;
                bk_strlcpy(r->case_id, case_id, sizeof(r->case_id));
                bk_strlcpy(r->unit, unit, sizeof(r->unit));
        }
        if (r->n == r->cap) {
                int cap = r->cap ? 2 * r->cap : 64;
                store_fact_t *p = realloc(r->buf, (size_t)cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                r->buf = p;
                r->cap = cap;
        }
        r->buf[r->n++] = *f;
        return 0;
}

static void bump(json_t *obj, const char *key)
{
        json_t *v = json_object_get(obj, key);
        json_object_set_new(obj, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

/* Open reminders now, per caseworker and per case behind (due before today). */
static void rem_now(struct run *r, const store_rem_brief_t *b)
{
        json_t *c;

        if (b->state == REM_RESOLVED || b->state == REM_CANCELLED)
                return;
        bump(r->open_rems, b->caseworker[0] ? b->caseworker : "-");
        if (b->due >= r->q->today)
                return;
        c = json_object_get(r->behind, b->case_id);
        if (!c) {
                json_object_set_new(r->behind, b->case_id, json_pack("[i, i]", 1, (int)b->due));
        } else {
                json_array_set_new(c, 0, json_integer(json_integer_value(json_array_get(c, 0)) + 1));
                if (b->due < json_integer_value(json_array_get(c, 1)))
                        json_array_set_new(c, 1, json_integer(b->due));
        }
}

static int on_rem(void *ud, const store_rem_brief_t *b)
{
        struct run *r = ud;
        ind_acc_t *ua;
        int res;

        rem_now(r, b);
        for (int w = 0; w < r->n_win; w++)
                if ((res = indicators_eval_rem(b, r->ws[w], r->we[w], &r->acc[w])) < 0)
                        return res;
        if ((ua = unit_acc(r, b->unit)) && (res = indicators_eval_rem(b, r->ws[0], r->we[0], ua)) < 0)
                return res;
        return 0;
}

static json_t *num_json(double v)
{
        /* Counts are whole; case-years keep three decimals. */
        return v == (double)(int64_t)v ? json_integer((json_int_t)v) : json_real((double)(int64_t)(v * 1000 + 0.5) / 1000);
}

static json_t *value_json(int i, const ind_value_t *v)
{
        if (strcmp(ind_kind(i), "median") == 0)
                return v->den > 0 ? num_json(v->num) : json_null();
        return v->den > 0 ? json_real((double)(int64_t)(v->num / v->den * 10000 + 0.5) / 10000) : json_null();
}

static json_t *indicator_json(const struct run *r, int i)
{
        const ind_value_t *v = &r->acc[0].v[i];
        char id[96], title[160], month[8];
        json_t *o;

        indicators_id(i, id, sizeof(id));
        ind_title(i, title, sizeof(title));
        o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "id", id, "title", title, "kind", ind_kind(i),
                      "numerator", num_json(v->num), "denominator", num_json(v->den), "value", value_json(i, v));
        if (o && v->reasons)
                json_object_set(o, "reasons", v->reasons);
        if (o && r->q->series) {
                json_t *series = json_array();
                for (int w = 1; w < r->n_win; w++) {
                        const ind_value_t *m = &r->acc[w].v[i];
                        cal_format_month(cal_month_of(r->ws[w]), month, sizeof(month));
                        json_array_append_new(series, json_pack("{s:s, s:o, s:o}", "month", month,
                                                                "numerator", num_json(m->num),
                                                                "denominator", num_json(m->den)));
                }
                json_object_set_new(o, "series", series);
        }
        return o;
}

static int cmp_behind(const void *x, const void *y)
{
        json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
        json_int_t na = json_integer_value(json_object_get(a, "overdue"));
        json_int_t nb = json_integer_value(json_object_get(b, "overdue"));
        if (na != nb)
                return na > nb ? -1 : 1;
        return strcmp(json_string_value(json_object_get(a, "oldest_due")),
                      json_string_value(json_object_get(b, "oldest_due")));
}

/* The ten cases with the most overdue open reminders (case ids only), oldest first on a tie. */
static json_t *behind_json(json_t *behind)
{
        size_t n = json_object_size(behind), k = 0;
        json_t **list = calloc(n ? n : 1, sizeof(*list)), *out = json_array(), *v;
        const char *case_id;
        char due[16];

        if (!list)
                return out;
        json_object_foreach(behind, case_id, v) {
                cal_format_date((cal_day_t)json_integer_value(json_array_get(v, 1)), due, sizeof(due));
                list[k++] = json_pack("{s:s, s:I, s:s}", "case", case_id, "overdue",
                                      json_integer_value(json_array_get(v, 0)), "oldest_due", due);
        }
        qsort(list, k, sizeof(*list), cmp_behind);
        for (size_t i = 0; i < k; i++) {
                if (i < 10)
                        json_array_append(out, list[i]);
                json_decref(list[i]);
        }
        free(list);
        return out;
}

static int cmp_load(const void *x, const void *y)
{
        json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
        json_int_t na = json_integer_value(json_object_get(a, "open_cases"));
        json_int_t nb = json_integer_value(json_object_get(b, "open_cases"));
        if (na != nb)
                return na > nb ? -1 : 1;
        return strcmp(json_string_value(json_object_get(a, "caseworker")),
                      json_string_value(json_object_get(b, "caseworker")));
}

/* Open cases per caseworker at the end, the most loaded first, with their open reminders now. */
static json_t *caseload_json(const struct run *r)
{
        size_t n = json_object_size(r->acc[0].caseload), k = 0;
        json_t **list = calloc(n ? n : 1, sizeof(*list)), *out = json_array(), *v;
        const char *cw;

        if (!list)
                return out;     /* out of memory: the answer goes without its breakdown */
        json_object_foreach(r->acc[0].caseload, cw, v) {
                json_t *rems = json_object_get(r->open_rems, cw);
                list[k++] = json_pack("{s:s, s:O, s:I}", "caseworker", cw, "open_cases", v,
                                      "open_reminders", rems ? json_integer_value(rems) : 0);
        }
        qsort(list, k, sizeof(*list), cmp_load);
        for (size_t i = 0; i < k; i++)
                json_array_append_new(out, list[i]);
        free(list);
        return out;
}

static json_t *units_json(const struct run *r)
{
        json_t *out = json_object();
        char id[96];

        for (int u = 0; u < r->n_units; u++) {
                json_t *o = json_object();
                indicators_acc_finish(&r->units[u].acc);
                for (int i = 0; i < IND__COUNT; i++) {
                        indicators_id(i, id, sizeof(id));
                        json_object_set_new(o, id, json_pack("[o, o]", num_json(r->units[u].acc.v[i].num),
                                                             num_json(r->units[u].acc.v[i].den)));
                }
                json_object_set_new(out, r->units[u].unit, o);
        }
        return out;
}

static json_t *result_json(struct run *r)
{
        json_t *list = json_array(), *out;
        char from[8], to[8];

        for (int w = 0; w < r->n_win; w++)
                indicators_acc_finish(&r->acc[w]);
        for (int i = 0; i < IND__COUNT; i++)
                json_array_append_new(list, indicator_json(r, i));
        cal_format_month(r->q->from, from, sizeof(from));
        cal_format_month(r->q->to, to, sizeof(to));
        out = json_pack("{s:o, s:s, s:s, s:o, s:o, s:o}", "unit", r->q->unit ? json_string(r->q->unit) : json_null(),
                        "from", from, "to", to, "indicators", list, "caseload", caseload_json(r),
                        "behind", behind_json(r->behind));
        if (out && r->q->by_unit)
                json_object_set_new(out, "units", units_json(r));
        return out;
}

static int run_init(struct run *r, const rules_cfg_t *cfg, const ind_query_t *q)
{
        memset(r, 0, sizeof(*r));
        r->cfg = cfg;
        r->q = q;
        r->n_win = 1 + (q->series ? q->to - q->from + 1 : 0);
        r->ws = calloc((size_t)r->n_win, sizeof(*r->ws));
        r->we = calloc((size_t)r->n_win, sizeof(*r->we));
        r->acc = calloc((size_t)r->n_win, sizeof(*r->acc));
        r->units = q->by_unit ? calloc(MAX_UNITS, sizeof(*r->units)) : NULL;
        r->open_rems = json_object();
        r->behind = json_object();
        if (!r->ws || !r->we || !r->acc || (q->by_unit && !r->units) || !r->open_rems || !r->behind)
                return -ENOMEM;
        for (int w = 0; w < r->n_win; w++) {
                cal_month_t a = w ? q->from + w - 1 : q->from, b = w ? a : q->to;
                int y, m;
                cal_ym(a, &y, &m);
                r->ws[w] = cal_day_from_ymd(y, m, 1);
                cal_ym(b, &y, &m);
                r->we[w] = cal_day_from_ymd(y, m, cal_days_in_month(y, m));
                indicators_acc_init(&r->acc[w], true);
        }
        return 0;
}

static void run_free(struct run *r)
{
        for (int w = 0; r->acc && w < r->n_win; w++)
                indicators_acc_free(&r->acc[w]);
        for (int u = 0; u < r->n_units; u++)
                indicators_acc_free(&r->units[u].acc);
        free(r->ws);
        free(r->we);
        free(r->acc);
        free(r->units);
        free(r->buf);
        json_decref(r->open_rems);
        json_decref(r->behind);
}

int indicators_compute(store_t *s, const rules_cfg_t *cfg, const ind_query_t *q, json_t **out)
{
        struct run r;
        int res;

        *out = NULL;
        if (!store_facts_complete(s))
                return BK_E_CONFLICT;
        if (q->to < q->from || q->to - q->from >= MAX_MONTHS)
                return BK_E_INVALID;
        if ((res = run_init(&r, cfg, q)) == 0 && (res = store_facts_each(s, q->unit, on_fact, &r)) == 0 &&
            (res = flush_case(&r)) == 0 && (res = store_rems_each(s, q->unit, INT32_MAX, on_rem, &r)) == 0) {
                *out = result_json(&r);
                if (!*out)
                        res = -ENOMEM;
        }
        run_free(&r);
        return res;
}
