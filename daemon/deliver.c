/*
 * deliver.c owns the delivery policy of domain §5 "Fewer, better items":
 * the catch-up window and go-live decisions (made once, when a reminder is
 * made, and kept in its row), the leads' digest routing, the go-live
 * summaries (built from the store once an import's backlog is delivered and
 * ingest has caught up) and the digests (built from the store at the first
 * working moment of each day). Both mark the rows they counted in the same
 * transaction as the message's outbox row, so a crash repeats or loses
 * neither. Everything here is switched off by
 * delivery.quiet = false, which is the v1 behaviour every benchmark
 * compares against.
 */
#include <stdio.h>
#include "deliver.h"
#include "log.h"

#define DIGEST_MARGIN 2048      /* room in a digest for its envelope and the counts */

bool deliver_is_golive(const config_t *cfg, bool catching_up, bk_time_t now, bk_time_t at)
{
        return cfg->delivery.quiet && catching_up && now - at > (bk_time_t)cfg->delivery.behind_days * 86400;
}

rem_delivery_t deliver_mode(const config_t *cfg, const reminder_t *r, bk_time_t learned, bk_time_t golive_until)
{
        const rule_cfg_t *rc = &cfg->rules.rule[r->rule];
        /* the due moment: the due date's office start, as delivery counts it (domain §5) */
        bk_time_t due = cal_local_to_utc(r->due, cfg->calendar.office_start_min);
        bool golive = golive_until > 0 && due <= golive_until;

        if (!cfg->delivery.quiet)
                return REM_POPUP;
        if (learned - due > (bk_time_t)rc->catch_up_days * 86400)
                return rule_def[r->rule].late_expires ? REM_EXPIRE : golive ? REM_BACKLOG_GOLIVE : REM_BACKLOG_LATE;
        /* A go-live import found it due already: listed, and counted into the one summary. */
        return golive ? REM_BACKLOG_GOLIVE : REM_POPUP;
}

bool deliver_leads_in_digest(const config_t *cfg, const reminder_t *r)
{
        return cfg->delivery.quiet && r->to_leads && cfg->rules.rule[r->rule].leads_digest;
}

/* ---- go-live summaries --------------------------------------------------------- */

/* One caseworker's summary, built as the store hands their items over, most urgent first
 * (overdue before due before info, then the earliest due date): top keeps the first ones. */
struct summary {
        char unit[EV_NAME_MAX + 1], caseworker[EV_NAME_MAX + 1];
        int count;
        int by_rule[RULE__COUNT];
        reminder_t *top;
        int n_top, max_top;
};

/* Title and body in the configured language; items lines name rule title, case and due date. */
static void summary_texts(const config_t *cfg, const struct summary *m, int listed, char *title, size_t tn,
                          char *body, size_t bn)
{
        bool sv = strcmp(cfg->rules.lang, "en") != 0;
        size_t len;

        if (sv)
                snprintf(title, tn, m->count == 1 ? "%d öppen påminnelse i dina ärenden"
                                                  : "%d öppna påminnelser i dina ärenden", m->count);
        else
                snprintf(title, tn, m->count == 1 ? "%d open reminder in your cases"
                                                  : "%d open reminders in your cases", m->count);
        snprintf(body, bn, sv ? "bevaka har läst in ärendenas historik. Påminnelserna finns i din arbetslista "
                                "och visas inte var för sig. De %d mest brådskande:"
                              : "bevaka has read the cases' history. The reminders are in your work list and "
                                "do not pop up one by one. The %d most urgent:", listed);
        for (int i = 0; i < listed; i++) {
                char due[16];
                cal_format_date(m->top[i].due, due, sizeof(due));
                len = strlen(body);
                snprintf(body + len, bn - len, "\n• %s (%s, %s %s)", m->top[i].title, m->top[i].case_id,
                         sv ? "förfallen" : "due", due);
        }
}

static json_t *rule_counts(const int *by_rule)
{
        json_t *o = json_object();

        for (int r = 0; o && r < RULE__COUNT; r++)
                if (by_rule[r])
                        json_object_set_new(o, rules_name((rule_id_t)r), json_integer(by_rule[r]));
        return o;
}

static int summary_send(const struct summary *m, const config_t *cfg, bk_time_t now, const deliver_out_t *out)
{
        int listed = m->n_top;
        int64_t rseq = out->next_rseq(out->ud);
        /* room for every listed line whole: a cut multibyte character would not be JSON */
        size_t bn = 512 + (size_t)listed * (RULE_TEXT_MAX + 2 * EV_NAME_MAX);
        _cleanup_free_ char *body = malloc(bn);
        char title[160], at[32], topic[REM_TOPIC_MAX];
        json_t *items, *msg;

        if (!body)
                return -ENOMEM;
        items = json_array();
        summary_texts(cfg, m, listed, title, sizeof(title), body, bn);
        cal_format_rfc3339(now, at, sizeof(at));
        for (int i = 0; items && i < listed; i++)
                json_array_append_new(items, reminder_to_json(&m->top[i], "due", rseq, false));
        msg = json_pack("{s:i, s:I, s:s, s:s, s:s, s:s, s:i, s:o, s:s, s:s, s:o}", "v", 1, "rseq",
                        (json_int_t)rseq, "op", "summary", "unit", m->unit, "caseworker", m->caseworker, "at", at,
                        "count", m->count, "counts", rule_counts(m->by_rule), "title", title, "body", body,
                        "items", items ? items : json_array());
        if (!msg)
                return -ENOMEM;
        snprintf(topic, sizeof(topic), "rem/%s/%s/", m->unit, m->caseworker);
        return out->queue(out->ud, topic, msg);
}

struct summaries {
        const config_t *cfg;
        bk_time_t now;
        const deliver_out_t *out;
        struct summary m;
        int sent;
};

static int summaries_send(struct summaries *ss)
{
        int r;

        if (ss->m.count == 0)
                return 0;
        if ((r = summary_send(&ss->m, ss->cfg, ss->now, ss->out)) != 0)
                return r;
        ss->sent++;
        return 0;
}

/* One item from the store: a new caseworker sends the last one's summary and starts theirs. */
static int summaries_add(void *ud, const reminder_t *r)
{
        struct summaries *ss = ud;
        struct summary *m = &ss->m;
        int res;

        if (strcmp(m->unit, r->unit) != 0 || strcmp(m->caseworker, r->caseworker) != 0) {
                if ((res = summaries_send(ss)) != 0)
                        return res;
                m->count = m->n_top = 0;
                memset(m->by_rule, 0, sizeof(m->by_rule));
                bk_strlcpy(m->unit, r->unit, sizeof(m->unit));
                bk_strlcpy(m->caseworker, r->caseworker, sizeof(m->caseworker));
        }
        m->count++;
        m->by_rule[r->rule]++;
        if (m->n_top < m->max_top)
                m->top[m->n_top++] = *r;
        return 0;
}

int deliver_summaries(const config_t *cfg, store_t *store, bk_time_t now, const deliver_out_t *out)
{
        struct summaries ss = { cfg, now, out, { .max_top = cfg->delivery.summary_items }, 0 };
        int r;

        if (ss.m.max_top > 0 && !(ss.m.top = calloc((size_t)ss.m.max_top, sizeof(*ss.m.top))))
                return -ENOMEM;
        r = store_rem_golive_each(store, summaries_add, &ss);
        /* the last caseworker's (the rows are marked counted in the same transaction) */
        if (r == 0)
                r = summaries_send(&ss);
        free(ss.m.top);
        return r < 0 ? r : ss.sent;
}

/* ---- leads' digests ---------------------------------------------------------------- */

bool deliver_digest_due(const config_t *cfg, bk_time_t last, bk_time_t now)
{
        bk_time_t start = cal_local_to_utc(cal_local_day(now), cfg->calendar.office_start_min);

        return cfg->delivery.quiet && cal_next_working(&cfg->calendar, now) == now && last < start;
}

/* One unit's digest: list[0..n) are its items, most urgent first; listed while they fit. */
static int digest_send(const config_t *cfg, const reminder_t *list, int n, bk_time_t since, bk_time_t now,
                       const deliver_out_t *out)
{
        int64_t rseq = out->next_rseq(out->ud);
        int by_rule[RULE__COUNT] = { 0 }, more = 0;
        size_t room = (size_t)cfg->max_msg_size > DIGEST_MARGIN ? (size_t)cfg->max_msg_size - DIGEST_MARGIN : 0;
        char at[32], from[32], topic[REM_TOPIC_MAX];
        json_t *items = json_array(), *msg;

        if (!items)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                json_t *o = reminder_to_json(&list[i], "due", rseq, false);
                char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
                size_t len = text ? strlen(text) : 0;

                free(text);
                by_rule[list[i].rule]++;
                /* A digest must reach a client whose ZMQ_MAXMSGSIZE is ours: the rest is counted. */
                if (o && len + 1 <= room) {
                        room -= len + 1;
                        json_array_append_new(items, o);
                } else {
                        json_decref(o);
                        more++;
                }
        }
        cal_format_rfc3339(now, at, sizeof(at));
        cal_format_rfc3339(since, from, sizeof(from));
        msg = json_pack("{s:i, s:I, s:s, s:s, s:s, s:s, s:o, s:o}", "v", 1, "rseq", (json_int_t)rseq, "op",
                        "digest", "unit", list[0].unit, "since", from, "at", at, "counts", rule_counts(by_rule),
                        "items", items);
        if (!msg)
                return -ENOMEM;
        if (more)
                json_object_set_new(msg, "more", json_integer(more));
        reminder_topic_leads(&list[0], topic, sizeof(topic));
        return out->queue(out->ud, topic, msg);
}

/* Marks a unit's items listed (or counted) by its digest, so that no later digest repeats them. */
static int digest_mark(store_t *store, reminder_t *list, int n)
{
        int r = 0;

        for (int i = 0; i < n && r == 0; i++) {
                list[i].digested = true;
                r = store_rem_put_from(store, &list[i], (int)list[i].state, NULL, NULL);
        }
        return r;
}

int deliver_digests(const config_t *cfg, store_t *store, bk_time_t since, bk_time_t now, const deliver_out_t *out)
{
        reminder_t *list = NULL;
        int n = 0, k = 0, sent = 0, r, i = 0;

        if ((r = store_rem_leads_undigested(store, now, &list, &n)) != 0)
                return r;
        /* only the rules that go by digest; the list is by unit, most urgent first */
        for (int j = 0; j < n; j++)
                if (deliver_leads_in_digest(cfg, &list[j]))
                        list[k++] = list[j];
        n = k;
        while (i < n && r == 0) {
                int j = i;
                bk_time_t from = since;
                /* the first digest ever starts at its oldest item */
                for (; j < n && strcmp(list[j].unit, list[i].unit) == 0; j++)
                        if (!since && (from == 0 || list[j].delivered_at < from))
                                from = list[j].delivered_at;
                if ((r = digest_send(cfg, &list[i], j - i, from, now, out)) == 0 &&
                    (r = digest_mark(store, &list[i], j - i)) == 0)
                        sent++;
                i = j;
        }
        free(list);
        return r < 0 ? r : sent;
}

/* ---- why ----------------------------------------------------------------------------- */

void deliver_why(store_t *store, const reminder_t *r, json_t *why)
{
        static const char *const names[] = { "popup", "backlog", "backlog", "expire", "backlog" };
        int prior = rule_def[r->rule].supersedes;
        char id[REM_ID_MAX], want[64], due[16], when[32];
        reminder_t p;

        json_object_set_new(why, "delivery", json_string(names[r->delivery]));
        if (prior < 0)
                return;
        rules_reminder_id(r->case_id, (rule_id_t)prior, r->cycle, id);
        snprintf(want, sizeof(want), REM_SUPERSEDED_BY "%s", r->id);
        if (store_rem_get(store, id, &p) != 0 || strcmp(p.close_reason, want) != 0)
                return;
        cal_format_date(p.due, due, sizeof(due));
        cal_format_rfc3339(p.delivered_at, when, sizeof(when));
        json_object_set_new(why, "supersedes",
                            json_pack("{s:s, s:s, s:s, s:s*, s:s}", "id", p.id, "rule", rules_name(p.rule), "due_at",
                                      due, "delivered_at", p.delivered_at ? when : NULL, "state",
                                      reminder_state_name(p.state)));
}
