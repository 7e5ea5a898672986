/*
 * rules-table.c owns the domain in the rules engine: the guards, the actions
 * of every track (IB, safety, FIA, children, summer allowance, child impact,
 * SIP, handover, continuity, work capacity) and the transition table
 * `{track, states, event} -> {guard, actions, next state}` that rules.c
 * runs. Everything here reads and writes one case_state through a ctx_t;
 * docs/rules.md has the same tables in prose.
 */
#include "rules-state.h"

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
        return rs_children_on(c->cfg, c->st, c->day) > 0 && !rs_recent_mapping(c->cfg, c->st, c->day);
}

static bool g_child_map_gained(const ctx_t *c)
{
        return c->st->lt && g_child_map_needed(c);
}

static bool g_child_followup_needed(const ctx_t *c)
{
        return c->st->lt && rs_children_on(c->cfg, c->st, c->day) > 0;
}

static bool g_summer_due(const ctx_t *c)
{
        const case_state_t *st = c->st;
        int y = c->summer_year;

        if (!is_open(st) || rs_children_on(c->cfg, st, c->day) == 0 || rs_summer_applied(st, y))
                return false;
        /* Already expired on the day this run reaches: not worth a reminder at all. */
        if (c->horizon >= rs_summer_expire_day(c->cfg, y))
                return false;
        return rs_summer_granted(c->cfg, st, c->day) >= c->cfg->summer_min_months;
}

static bool g_applied_armed_year(const ctx_t *c)
{
        return c->ev && c->ev->data.has_year && c->ev->data.year == c->st->summer_year;
}

static bool g_impact_needed(const ctx_t *c)
{
        const ev_data_t *d = &c->ev->data;

        return (d->outcome == OUTCOME_REFUSED || d->outcome == OUTCOME_PARTIAL) &&
               !d->child_impact_documented && rs_children_on(c->cfg, c->st, c->day) > 0;
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
        rs_arm(c, RULE_IB3_DUE, cycle, c->day + days, why_end(&w));
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
        rs_resolve(c, RULE_IB3_DUE);
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
        rs_arm(c, RULE_IB4_DUE, cycle, c->day + days, why_end(&w));
}

static void a_resolve_ib4_all(ctx_t *c)
{
        rs_resolve(c, RULE_IB4_DUE);
        rs_resolve(c, RULE_IB4_FOLLOWUP);
        rs_resolve(c, RULE_IB4_OVERDUE);
}

static void a_cancel_ib4_all(ctx_t *c)
{
        rs_cancel(c, RULE_IB4_DUE);
        rs_cancel(c, RULE_IB4_FOLLOWUP);
        rs_cancel(c, RULE_IB4_OVERDUE);
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
        rs_arm(c, RULE_IB4_FOLLOWUP, cycle, due, why_end(&w));
        why_init(&w);
        why_day(&w, "plan", c->day);
        why_int(&w, "plan_no", c->st->plan_n);
        why_int(&w, "months", od);
        rs_arm(c, RULE_IB4_OVERDUE, cycle, cal_add_months(c->day, od), why_end(&w));
}

static void a_note_exempt(ctx_t *c)
{
        const ev_data_t *d = &c->ev->data;
        case_state_t *st = c->st;

        if (st->ts[TR_IB] != IB_EXEMPT)
                st->exempt_n++;
        st->exempt_until = d->has_until ? d->until : cal_add_months(c->day, c->cfg->ib4_exempt_months);
        rs_copy_text(st->exempt_reason, d->has_reason ? d->reason : "", sizeof(st->exempt_reason));
        /* An `until` that is not in the future ends the exemption in this same event. */
        if (st->exempt_until <= c->day)
                rs_queue(c, IE_EXEMPT_END);
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
        rs_arm(c, RULE_IB4_FOLLOWUP, cycle, c->day, why_end(&w));
        /* The escalation keeps its distance from the follow-up it escalates. */
        rs_arm(c, RULE_IB4_OVERDUE, cycle, cal_add_months(c->day, BK_MAX(gap, 0)), w.buf);
}

static void a_rearm_ib4_due(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX];
        why_t w;

        snprintf(cycle, sizeof(cycle), "ib3-%d-x%d", c->st->ib3_n, c->st->exempt_n);
        why_init(&w);
        why_day(&w, "exempt_until", c->day);
        why_day(&w, "ib3", c->st->ib3_day);
        rs_arm(c, RULE_IB4_DUE, cycle, c->day, why_end(&w));
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
        rs_arm(c, RULE_SAFETY_FOLLOWUP, cycle, c->day + days, why_end(&w));
}

static void a_resolve_safety(ctx_t *c)
{
        rs_resolve(c, RULE_SAFETY_FOLLOWUP);
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
        rs_arm(c, RULE_FIA_DUE, cycle, c->day, why_end(&w));
        why_init(&w);
        why_long_term(c, &w);
        why_int(&w, "days", days);
        rs_arm(c, RULE_FIA_OVERDUE, cycle, c->day + days, why_end(&w));
}

static void a_resolve_fia_due(ctx_t *c)
{
        rs_resolve(c, RULE_FIA_DUE);
        rs_resolve(c, RULE_FIA_OVERDUE);
}

static void a_resolve_fia_all(ctx_t *c)
{
        a_resolve_fia_due(c);
        rs_resolve(c, RULE_FIA_STALLED);
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
        rs_arm(c, RULE_FIA_STALLED, cycle, c->day + days, why_end(&w));
}

static void a_complete_fia(ctx_t *c)
{
        rs_resolve(c, RULE_FIA_STALLED);
        c->st->fia_completed = c->day;
}

static void a_decline_fia(ctx_t *c)
{
        c->st->fia_declined = c->day;
        rs_copy_text(c->st->fia_reason, c->ev->data.has_reason ? c->ev->data.reason : "",
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
        why_int(&w, "children", rs_children_on(c->cfg, st, c->day));
        why_day(&w, "last_mapped", st->mapped_day);
        if (c->ev && c->ev->type == EV_CASE_UPDATED)
                why_day(&w, "children_gained", c->day);
        rs_arm(c, RULE_CHILD_MAP, cycle, c->day, why_end(&w));
}

static void a_resolve_child_all(ctx_t *c)
{
        rs_resolve(c, RULE_CHILD_MAP);
        rs_resolve(c, RULE_CHILD_FOLLOWUP);
}

static void a_cancel_child_all(ctx_t *c)
{
        rs_cancel(c, RULE_CHILD_MAP);
        rs_cancel(c, RULE_CHILD_FOLLOWUP);
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
        why_int(&w, "children", rs_children_on(c->cfg, c->st, c->day));
        rs_arm(c, RULE_CHILD_FOLLOWUP, cycle, cal_add_months(c->day, months), why_end(&w));
}

/* ---- actions: summer allowance -------------------------------------------------------- */

static void a_arm_summer(ctx_t *c)
{
        char cycle[RULE_CYCLE_MAX], win[32];
        cal_month_t end = cal_month_of(c->day) - 1;
        why_t w;

        c->st->summer_year = c->summer_year;
        snprintf(cycle, sizeof(cycle), "%d", c->summer_year);
        rs_window_text(c->cfg, end, win, sizeof(win));
        why_init(&w);
        why_day(&w, "check_date", c->day);
        why_int(&w, "granted_in_window", rs_summer_granted(c->cfg, c->st, c->day));
        why_str(&w, "window", win);
        why_int(&w, "children", rs_children_on(c->cfg, c->st, c->day));
        why_day(&w, "expires", rs_summer_expire_day(c->cfg, c->summer_year));
        rs_arm(c, RULE_SUMMER_ALLOWANCE, cycle, c->day, why_end(&w));
}

static void a_note_applied(ctx_t *c)
{
        case_state_t *st = c->st;
        int y = c->ev->data.year, i;

        if (rs_summer_applied(st, y))
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
        rs_resolve(c, RULE_SUMMER_ALLOWANCE);
}

static void a_cancel_summer(ctx_t *c)
{
        rs_cancel(c, RULE_SUMMER_ALLOWANCE);
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
        why_int(&w, "children", rs_children_on(c->cfg, c->st, c->day));
        rs_schedule(c, RULE_CHILD_IMPACT, cycle, c->day, why_end(&w), NULL);
}

static void a_resolve_impact(ctx_t *c)
{
        if (is_open(c->st) && c->ev->data.has_decision)
                rs_emit(c, ACT_RESOLVE, RULE_CHILD_IMPACT, c->ev->data.decision);
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
        rs_arm(c, RULE_SIP_CONSIDER, cycle, c->day, why_end(&w));
}

static void a_cancel_sip_consider(ctx_t *c)
{
        rs_cancel(c, RULE_SIP_CONSIDER);
}

static void a_sip_rest(ctx_t *c)
{
        c->st->ts[TR_SIP] = c->st->sip_rest;
}

static void a_resolve_sip_consider(ctx_t *c)
{
        rs_resolve(c, RULE_SIP_CONSIDER);
}

static void a_resolve_sip_all(ctx_t *c)
{
        rs_resolve(c, RULE_SIP_CONSIDER);
        rs_resolve(c, RULE_SIP_MEETING);
        rs_resolve(c, RULE_SIP_FOLLOWUP);
}

/* A new SIP replaces one still in progress; its pending reminders are moot. */
static void a_init_sip(ctx_t *c)
{
        case_state_t *st = c->st;
        char cycle[RULE_CYCLE_MAX];
        int days = c->cfg->rule[RULE_SIP_MEETING].offset_days;
        why_t w;

        rs_cancel(c, RULE_SIP_FOLLOWUP);
        st->sip_n++;
        st->sip_fu_n = 0;
        st->sip_initiated = c->day;
        st->sip_meeting = st->sip_established = st->sip_followed_up = DAY_NONE;
        snprintf(cycle, sizeof(cycle), "s%d", st->sip_n);
        why_init(&w);
        why_day(&w, "sip_initiated", c->day);
        why_int(&w, "days", days);
        rs_arm(c, RULE_SIP_MEETING, cycle, c->day + days, why_end(&w));
}

static void a_meeting_sip(ctx_t *c)
{
        rs_resolve(c, RULE_SIP_MEETING);
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
        rs_arm(c, RULE_SIP_FOLLOWUP, cycle, due, why_end(&w));
}

static void a_followed_up_sip(ctx_t *c)
{
        rs_resolve(c, RULE_SIP_FOLLOWUP);
        c->st->sip_followed_up = c->day;
}

static void a_decline_sip(ctx_t *c)
{
        rs_copy_text(c->st->sip_reason, c->ev->data.has_reason ? c->ev->data.reason : "",
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
        if (!c->fresh && is_open(c->st) && (a = rs_emit(c, ACT_REROUTE, -1, "")))
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
        rs_queue(c, IE_CW_CHANGED);
}

static void a_resolve_handover(ctx_t *c)
{
        rs_resolve(c, RULE_HANDOVER);
}

static void a_reroute(ctx_t *c)
{
        rule_action_t *a;

        if (!is_open(c->st) || !(a = rs_emit(c, ACT_REROUTE, -1, "")))
                return;
        bk_strlcpy(a->caseworker, c->ev->data.caseworker, sizeof(a->caseworker));
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
        rs_schedule(c, RULE_CONTINUITY, cycle, c->day, why_end(&w), NULL);
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
        rs_arm(c, RULE_WORK_CAPACITY, cycle, c->day, why_end(&w));
}

static void a_cancel_wc(ctx_t *c)
{
        rs_cancel(c, RULE_WORK_CAPACITY);
}

static void a_assess_wc(ctx_t *c)
{
        rs_resolve(c, RULE_WORK_CAPACITY);
        c->st->wc_assessed = c->day;
}

/* ---- the transition table ------------------------------------------------------------------
 *
 * Per track, the first row whose state, event and guard match runs its
 * actions and moves the track to `next`. Tracks run in enum order, so the
 * case facts are up to date before any track reads them, and the handover
 * summary sees every other track's result of the same event.
 */

const transition_t rs_transitions[] = {
        /* case facts: status open ↔ closed; the rest are facts the tracks read */
        { TR_CASE, S(CS_CLOSED), EV_CASE_OPENED, NULL, { a_reopen, a_note_opened }, CS_OPEN,
          RULES_ALL },
        { TR_CASE, S(CS_OPEN), EV_CASE_OPENED, NULL, { a_note_opened }, CS_OPEN, 0 },
        { TR_CASE, ANY, EV_CASE_UPDATED, NULL, { a_note_update }, SAME, 0 },
        { TR_CASE, S(CS_OPEN), EV_CASE_CLOSED, NULL, { a_close }, CS_CLOSED, RULES_ALL },
        { TR_CASE, ANY, EV_CASE_REOPENED, NULL, { a_reopen }, CS_OPEN, RULES_ALL },
        { TR_CASE, ANY, EV_ASSISTANCE_DECIDED, NULL, { a_note_decision, a_eval_long_term }, SAME,
          0 },
        { TR_CASE, ANY, EV_ACTOR_INVOLVED, NULL, { a_actor_on }, SAME, 0 },
        { TR_CASE, ANY, EV_ACTOR_ENDED, NULL, { a_actor_off }, SAME, 0 },
        { TR_CASE, ANY, EV_HEALTH_FLAGGED, NULL, { a_health }, SAME, 0 },

        /* IB: none → ib1 → ib2 → ib3 → plan (revised …); exempt suspends the IB4 rules */
        { TR_IB, IB_BEFORE_PLAN, EV_IB1_COMPLETED, NULL, { a_note_ib1, a_arm_ib3_due }, IB_IB1,
          RB(RULE_IB3_DUE) },
        { TR_IB, ANY, EV_IB1_COMPLETED, NULL, { a_note_ib1, a_arm_ib3_due }, SAME,
          RB(RULE_IB3_DUE) },
        { TR_IB, S(IB_IB1), EV_IB2_COMPLETED, NULL, { a_note_ib2 }, IB_IB2, 0 },
        { TR_IB, ANY, EV_IB2_COMPLETED, NULL, { a_note_ib2 }, SAME, 0 },
        { TR_IB, IB_BEFORE_PLAN, EV_IB3_COMPLETED, NULL,
          { a_note_ib3, a_resolve_ib3_due, a_arm_ib4_due }, IB_IB3,
          RB(RULE_IB3_DUE) | RB(RULE_IB4_DUE) },
        { TR_IB, ANY, EV_IB3_COMPLETED, NULL, { a_note_ib3, a_resolve_ib3_due }, SAME,
          RB(RULE_IB3_DUE) },
        { TR_IB, ANY, EV_IB4_ESTABLISHED, NULL,
          { a_end_exemption, a_resolve_ib4_all, a_note_plan, a_arm_plan }, IB_PLAN,
          RB(RULE_IB4_DUE) | RB(RULE_IB4_FOLLOWUP) | RB(RULE_IB4_OVERDUE) },
        { TR_IB, ANY, EV_IB4_REVISED, NULL,
          { a_end_exemption, a_resolve_ib4_all, a_note_plan, a_arm_plan }, IB_PLAN,
          RB(RULE_IB4_DUE) | RB(RULE_IB4_FOLLOWUP) | RB(RULE_IB4_OVERDUE) },
        { TR_IB, S(IB_EXEMPT), EV_IB4_EXEMPTED, NULL, { a_note_exempt }, SAME, 0 },
        { TR_IB, ANY, EV_IB4_EXEMPTED, NULL, { a_cancel_ib4_all, a_note_exempt }, IB_EXEMPT,
          RB(RULE_IB4_DUE) | RB(RULE_IB4_FOLLOWUP) | RB(RULE_IB4_OVERDUE) },
        { TR_IB, S(IB_EXEMPT), IE_EXEMPT_END, g_has_plan, { a_end_exemption, a_rearm_plan }, IB_PLAN,
          RB(RULE_IB4_FOLLOWUP) | RB(RULE_IB4_OVERDUE) },
        { TR_IB, S(IB_EXEMPT), IE_EXEMPT_END, g_has_ib3, { a_end_exemption, a_rearm_ib4_due }, IB_IB3,
          RB(RULE_IB4_DUE) },
        { TR_IB, S(IB_EXEMPT), IE_EXEMPT_END, NULL, { a_end_exemption, a_restore_ib }, SAME, 0 },

        /* safety: a disclosure at the first visit is followed up */
        { TR_SAFETY, ANY, EV_IB3_COMPLETED, g_violence, { a_arm_safety }, SAFE_PENDING,
          RB(RULE_SAFETY_FOLLOWUP) },
        { TR_SAFETY, ANY, EV_SAFETY_FOLLOWED_UP, NULL, { a_resolve_safety, a_note_safety }, SAFE_DONE,
          RB(RULE_SAFETY_FOLLOWUP) },

        /* FIA: not_due → due → started → completed, or declined */
        { TR_FIA, FIA_IDLE, IE_LONG_TERM, g_fia_needed, { a_arm_fia_due }, FIA_DUE,
          RB(RULE_FIA_DUE) | RB(RULE_FIA_OVERDUE) },
        { TR_FIA, S(FIA_STARTED), EV_FIA_STARTED, NULL, { NULL }, SAME, 0 },
        { TR_FIA, ANY, EV_FIA_STARTED, NULL, { a_resolve_fia_due, a_start_fia }, FIA_STARTED,
          RB(RULE_FIA_DUE) | RB(RULE_FIA_OVERDUE) | RB(RULE_FIA_STALLED) },
        { TR_FIA, ANY, EV_FIA_COMPLETED, NULL, { a_resolve_fia_due, a_complete_fia }, FIA_COMPLETED,
          RB(RULE_FIA_DUE) | RB(RULE_FIA_OVERDUE) | RB(RULE_FIA_STALLED) },
        { TR_FIA, ANY, EV_FIA_DECLINED, NULL, { a_resolve_fia_all, a_decline_fia }, FIA_DECLINED,
          RB(RULE_FIA_DUE) | RB(RULE_FIA_OVERDUE) | RB(RULE_FIA_STALLED) },

        /* children: none → due → mapped (→ mapped …); none again when no child counts */
        { TR_CHILD, ANY, IE_LONG_TERM, g_child_map_needed, { a_arm_child_map }, CH_DUE,
          RB(RULE_CHILD_MAP) },
        { TR_CHILD, S(CH_NONE) | S(CH_MAPPED), IE_CHILDREN_GAINED, g_child_map_gained,
          { a_arm_child_map }, CH_DUE, RB(RULE_CHILD_MAP) },
        { TR_CHILD, ANY, EV_CHILDREN_MAPPED, g_child_followup_needed,
          { a_resolve_child_all, a_note_mapped, a_arm_child_followup }, CH_MAPPED,
          RB(RULE_CHILD_MAP) | RB(RULE_CHILD_FOLLOWUP) },
        { TR_CHILD, ANY, EV_CHILDREN_MAPPED, NULL, { a_resolve_child_all, a_note_mapped }, CH_MAPPED,
          RB(RULE_CHILD_MAP) | RB(RULE_CHILD_FOLLOWUP) },
        { TR_CHILD, ANY, IE_CHILDREN_GONE, NULL, { a_cancel_child_all }, CH_NONE,
          RB(RULE_CHILD_MAP) | RB(RULE_CHILD_FOLLOWUP) },

        /* summer allowance: idle → due (check date) → idle (applied, expired, no children) */
        { TR_SUMMER, ANY, IE_SUMMER_CHECK, g_summer_due, { a_arm_summer }, SUM_DUE,
          RB(RULE_SUMMER_ALLOWANCE) },
        { TR_SUMMER, S(SUM_DUE), EV_SUMMER_ALLOWANCE_APPLIED, g_applied_armed_year,
          { a_note_applied, a_resolve_summer }, SUM_IDLE, RB(RULE_SUMMER_ALLOWANCE) },
        { TR_SUMMER, ANY, EV_SUMMER_ALLOWANCE_APPLIED, NULL, { a_note_applied }, SAME, 0 },
        { TR_SUMMER, S(SUM_DUE), IE_SUMMER_EXPIRE, NULL, { a_cancel_summer }, SUM_IDLE,
          RB(RULE_SUMMER_ALLOWANCE) },
        { TR_SUMMER, S(SUM_DUE), IE_CHILDREN_GONE, NULL, { a_cancel_summer }, SUM_IDLE,
          RB(RULE_SUMMER_ALLOWANCE) },

        /* child impact: one reminder per decision */
        { TR_IMPACT, ANY, EV_ASSISTANCE_DECIDED, g_impact_needed, { a_schedule_impact }, SAME,
          RB(RULE_CHILD_IMPACT) },
        { TR_IMPACT, ANY, EV_ASSISTANCE_DECIDED, g_impact_documented, { a_resolve_impact }, SAME,
          RB(RULE_CHILD_IMPACT) },
        { TR_IMPACT, ANY, EV_CHILD_IMPACT_DOCUMENTED, NULL, { a_resolve_impact }, SAME,
          RB(RULE_CHILD_IMPACT) },

        /* SIP: none → suggested → initiated → meeting_held → established → ended; declined */
        { TR_SIP, SIP_REST, IE_SIP_COND_UP, NULL, { a_arm_sip_consider }, SIP_SUGGESTED,
          RB(RULE_SIP_CONSIDER) },
        { TR_SIP, S(SIP_SUGGESTED), IE_SIP_COND_DOWN, NULL, { a_cancel_sip_consider, a_sip_rest }, SAME,
          RB(RULE_SIP_CONSIDER) },
        { TR_SIP, ANY, EV_SIP_INITIATED, NULL, { a_resolve_sip_consider, a_init_sip }, SIP_INITIATED,
          RB(RULE_SIP_CONSIDER) | RB(RULE_SIP_MEETING) | RB(RULE_SIP_FOLLOWUP) },
        { TR_SIP, S(SIP_INITIATED), EV_SIP_MEETING_HELD, NULL, { a_meeting_sip }, SIP_MEETING_HELD,
          RB(RULE_SIP_MEETING) },
        { TR_SIP, ANY, EV_SIP_ESTABLISHED, NULL,
          { a_resolve_sip_all, a_establish_sip, a_arm_sip_followup }, SIP_ESTABLISHED,
          RB(RULE_SIP_CONSIDER) | RB(RULE_SIP_MEETING) | RB(RULE_SIP_FOLLOWUP) },
        { TR_SIP, S(SIP_ESTABLISHED), EV_SIP_FOLLOWED_UP, NULL,
          { a_followed_up_sip, a_arm_sip_followup }, SAME, RB(RULE_SIP_FOLLOWUP) },
        { TR_SIP, SIP_RUNNING, EV_SIP_ENDED, NULL, { a_resolve_sip_all }, SIP_ENDED,
          RB(RULE_SIP_CONSIDER) | RB(RULE_SIP_MEETING) | RB(RULE_SIP_FOLLOWUP) },
        { TR_SIP, ANY, EV_SIP_DECLINED, NULL, { a_resolve_sip_all, a_decline_sip }, SIP_DECLINED,
          RB(RULE_SIP_CONSIDER) | RB(RULE_SIP_MEETING) | RB(RULE_SIP_FOLLOWUP) },

        /* handover: a different caseworker takes over the open reminders and a summary */
        { TR_HANDOVER, ANY, EV_CASE_OPENED, g_cw_first, { a_assign_first }, SAME, 0 },
        { TR_HANDOVER, ANY, EV_CASE_OPENED, g_cw_change,
          { a_note_change, a_resolve_handover, a_reroute, a_arm_handover }, SAME,
          RB(RULE_HANDOVER) },
        { TR_HANDOVER, ANY, EV_CASE_REOPENED, g_cw_first, { a_assign_first }, SAME, 0 },
        { TR_HANDOVER, ANY, EV_CASE_REOPENED, g_cw_change,
          { a_note_change, a_resolve_handover, a_reroute, a_arm_handover }, SAME,
          RB(RULE_HANDOVER) },
        { TR_HANDOVER, ANY, EV_CASEWORKER_ASSIGNED, g_cw_first, { a_assign_first }, SAME, 0 },
        { TR_HANDOVER, ANY, EV_CASEWORKER_ASSIGNED, g_cw_change,
          { a_note_change, a_resolve_handover, a_reroute, a_arm_handover }, SAME,
          RB(RULE_HANDOVER) },

        /* continuity: frequent changes in a long-term case go to the unit leads */
        { TR_CONTINUITY, ANY, IE_CW_CHANGED, g_continuity, { a_arm_continuity }, SAME,
          RB(RULE_CONTINUITY) },

        /* work capacity: level-triggered, re-armed when the last assessment lapses */
        { TR_WC, S(WC_OK), IE_WC_COND_UP, NULL, { a_arm_wc }, WC_DUE, RB(RULE_WORK_CAPACITY) },
        { TR_WC, S(WC_DUE), IE_WC_COND_DOWN, NULL, { a_cancel_wc }, WC_OK, RB(RULE_WORK_CAPACITY) },
        { TR_WC, ANY, EV_WORK_CAPACITY_ASSESSED, NULL, { a_assess_wc }, WC_OK,
          RB(RULE_WORK_CAPACITY) },
};

const size_t rs_n_transitions = BK_ARRAY_SIZE(rs_transitions);
