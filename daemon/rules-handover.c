/*
 * rules-handover.c owns the text of the HANDOVER reminder's summary
 * (domain §4.5), both halves: the case's months granted, long-term status,
 * plan, FIA, SIP and children, which the rules write when the caseworker
 * changes, and the list of the case's open reminders, which the engine
 * appends from the store. In the configured language, with no names and no
 * free text.
 */
#include "rules-state.h"

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

/*
 * domain §4.5: months granted in the window, long-term since, plan date and
 * next follow-up, FIA, SIP and children state. No names, no free text (the
 * declined and exemption reasons stay out): the daemon appends the open
 * reminders.
 */
void rs_handover_summary(const ctx_t *c, char *buf, size_t n)
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
        rs_window_text(c->cfg, end, win, sizeof(win));
        text_add(&t, "%s %s: %d\n", p->granted,
                 c->cfg->long_term_window_months > 0 ? win : p->total,
                 rs_granted_window(c->cfg, st, end));
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
        if (rs_children_on(c->cfg, st, c->day) == 0) {
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

/* The handover track's one action: the reminder carries the summary above. */
void a_arm_handover(ctx_t *c)
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
        rs_handover_summary(c, body, sizeof(body));
        rs_arm_as(c, RULE_HANDOVER, cycle, cycle, c->day, why_end(&w), body);
}

void rules_handover_list(const rules_cfg_t *cfg, char *body, size_t size, rule_id_t rule,
                         const char *title, cal_day_t due, cal_day_t today)
{
        size_t len = strlen(body), room = size - len;
        char date[16], line[RULE_TEXT_MAX + 48];
        bool en = strcmp(cfg->lang, "en") == 0, past = due < today;
        int n;

        if (rule == RULE_HANDOVER)
                return;
        /* The reminder's title, in the configured language: a rule id means nothing to a caseworker. */
        cal_format_date(due, date, sizeof(date));
        n = snprintf(line, sizeof(line), "\n- %s (%s %s)", title,
                     en ? (past ? "was due" : "due") : (past ? "förföll" : "förfaller"), date);
        /* Whole lines only: a cut would split a UTF-8 character. */
        if (n > 0 && (size_t)n < room - 8)
                memcpy(body + len, line, (size_t)n + 1);
        else if (room > 8 && !strstr(body, "\n- …"))
                memcpy(body + len, "\n- …", sizeof("\n- …"));
}

void rules_handover_end(const rules_cfg_t *cfg, char *body, size_t size, size_t before)
{
        if (strlen(body) == before)
                bk_strlcpy(body + before, strcmp(cfg->lang, "en") == 0 ? "\nNo open reminders."
                           : "\nInga öppna påminnelser.", size - before);
}
