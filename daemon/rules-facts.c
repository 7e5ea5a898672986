/*
 * rules-facts.c owns the case-facts track of the rules engine: status open
 * and closed (closing suspends what is armed, reopening re-arms it), unit,
 * household and barrier, granted months and the long-term episodes they
 * make, the actors and the health flag. The tracks read these facts; the
 * transition table (rules-table.c) runs these actions first for every event.
 */
#include "rules-state.h"

/* ---- actions: case facts ------------------------------------------------------------ */

static void set_household(ctx_t *c, const ev_household_t *h)
{
        case_state_t *st = c->st;
        bool used[EV_MAX_CHILDREN] = { false };
        int before = rs_children_on(c->cfg, st, c->day), after;
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
        after = rs_children_on(c->cfg, st, c->day);
        if (gained)
                rs_queue(c, IE_CHILDREN_GAINED);
        if (before > 0 && after == 0)
                rs_queue(c, IE_CHILDREN_GONE);
}

void a_note_opened(ctx_t *c)
{
        case_state_t *st = c->st;

        st->opened = true;
        bk_strlcpy(st->unit, c->ev->unit, sizeof(st->unit));
        if (c->ev->data.has_household)
                set_household(c, &c->ev->data.household);
        if (c->ev->data.has_barrier)
                st->barrier = c->ev->data.barrier;
}

void a_note_update(ctx_t *c)
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
void a_close(ctx_t *c)
{
        rs_emit(c, ACT_CANCEL, -1, "");
        for (int r = 0; r < RULE__COUNT; r++) {
                armed_t *a = &c->st->armed[r];
                if (a->s == ARM_OPEN)
                        a->s = rule_def[r].rearm ? ARM_SUSPENDED : ARM_NONE;
        }
}

/*
 * Reopening keeps the history; what was pending when the case closed is
 * pending again, under a new cycle (the old reminders stay cancelled), due
 * at its old due date or today, whichever is later.
 */
void a_reopen(ctx_t *c)
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
                rs_arm_as(c, (rule_id_t)r, base, cycle, due, why_end(&w), NULL);
        }
}

void a_note_decision(ctx_t *c)
{
        const ev_data_t *d = &c->ev->data;
        case_state_t *st = c->st;

        if (d->outcome == OUTCOME_GRANTED || d->outcome == OUTCOME_PARTIAL)
                rs_granted_add(st, d->month);
        else
                rs_granted_remove(st, d->month);
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
                if (rs_granted_window(c->cfg, st, m) < c->cfg->long_term_months)
                        return m;
        return end;
}

/*
 * domain §3: long-term after each decision, counted in the window ending at
 * the latest month decided so far. Crossing the threshold starts a new
 * episode only the first time or after a full window below it; otherwise
 * the previous episode resumes silently.
 */
void a_eval_long_term(ctx_t *c)
{
        case_state_t *st = c->st;
        cal_month_t end = st->last_decided;
        int n = rs_granted_window(c->cfg, st, end);
        bool above = n >= c->cfg->long_term_months;

        if (above && !st->lt) {
                if (st->lt_episode == 0 || end - st->lt_below_since >= rs_full_window(c->cfg)) {
                        st->lt_episode++;
                        st->lt_since = c->day;
                        rs_queue(c, IE_LONG_TERM);
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

void a_actor_on(ctx_t *c)
{
        c->st->actors |= 1u << c->ev->data.actor;
}

void a_actor_off(ctx_t *c)
{
        c->st->actors &= ~(1u << c->ev->data.actor);
}

void a_health(ctx_t *c)
{
        c->st->health_flagged = true;
}
