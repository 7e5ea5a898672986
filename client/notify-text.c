/*
 * notify-text.c owns bevaka-notify's words (see notify-text.h): tables
 * from the protocol's names (actions, event types, the why reply's date
 * keys) to Swedish and English, and the few sentences built from them.
 * The Swedish addresses the caseworker as "du", as the reminders do. A
 * date before the day of delivery is written in the past ("förföll"); the
 * day of delivery is "i dag"; both come from the reminder, so what is said
 * follows the daemon's clock, not the desktop's.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "notify-group.h"
#include "notify-text.h"

#define BK_MIN(a, b) ((a) < (b) ? (a) : (b))

typedef struct notify_word {
        const char *key, *sv, *en;
} notify_word_t;

static const notify_word_t notify_actions[] = {
        { "ack", "Kvittera", "Acknowledge" },
        { "snooze", "Påminn nästa arbetsdag", "Remind me next working day" },
        { "why", "Varför?", "Why?" },
        { "show", "Visa var för sig", "Show each" },
        { NULL, NULL, NULL },
};

/* Event types (protocol §1) as a caseworker would say them. */
static const notify_word_t notify_events[] = {
        { "case.opened", "Ärendet öppnades", "Case opened" },
        { "case.updated", "Ärendet uppdaterades", "Case updated" },
        { "case.closed", "Ärendet avslutades", "Case closed" },
        { "case.reopened", "Ärendet öppnades igen", "Case reopened" },
        { "caseworker.assigned", "Ny handläggare", "Caseworker assigned" },
        { "assistance.decided", "Beslut om bistånd", "Assistance decided" },
        { "ib1.completed", "Telefonintervju (IB1) gjord", "Telephone interview (IB1) done" },
        { "ib3.completed", "Nybesök (IB3) gjort", "First visit (IB3) done" },
        { "ib4.established", "Förändringsplan (IB4) upprättad", "Change plan (IB4) drawn up" },
        { "ib4.revised", "Förändringsplanen reviderad", "Change plan revised" },
        { "ib4.exempted", "Undantag från förändringsplan", "Exempted from the change plan" },
        { "fia.started", "Fördjupad utredning (FIA) påbörjad", "In-depth assessment (FIA) started" },
        { "fia.completed", "Fördjupad utredning (FIA) slutförd", "In-depth assessment (FIA) completed" },
        { "fia.declined", "Fördjupad utredning (FIA) avstådd", "In-depth assessment (FIA) declined" },
        { "children.mapped", "Barnens situation kartlagd", "Children's situation mapped" },
        { "child_impact.documented", "Barnkonsekvensanalys dokumenterad", "Child-impact analysis documented" },
        { "summer_allowance.applied", "Sommarlovspeng sökt", "Summer-holiday allowance applied for" },
        { "sip.initiated", "SIP initierad", "SIP initiated" },
        { "sip.declined", "SIP avböjd", "SIP declined" },
        { "sip.meeting_held", "SIP-möte hållet", "SIP meeting held" },
        { "sip.established", "SIP upprättad", "SIP established" },
        { "sip.followed_up", "SIP uppföljd", "SIP followed up" },
        { "sip.ended", "SIP avslutad", "SIP ended" },
        { "actor.involved", "Annan aktör involverad", "Another agency involved" },
        { "actor.ended", "Annan aktör inte längre involverad", "Another agency no longer involved" },
        { "health.flagged", "Hälsan påverkar försörjningen", "Health affects self-support" },
        { "work_capacity.assessed", "Arbetsförmågan bedömd", "Work capacity assessed" },
        { "safety.followed_up", "Trygghetsfrågorna uppföljda", "Safety questions followed up" },
        { NULL, NULL, NULL },
};

/* The why reply's dates and counts; keys not listed here are not shown. */
static const notify_word_t notify_dates[] = {
        { "due", "Förfallodag", "Due date" },
        { "first_due", "Först förfallen", "First due" },
        { "long_term_since", "Långvarigt sedan", "Long-term since" },
        { "granted_in_window", "Månader med bistånd i perioden", "Months with assistance in the period" },
        { "window", "Perioden, månader", "Period, months" },
        { "window_months", "Perioden, månader", "Period, months" },
        { "months", "Månader", "Months" },
        { "days", "Dagar", "Days" },
        { "decided", "Beslutsdag", "Decided on" },
        { "assigned", "Tilldelad", "Assigned on" },
        { "reopened", "Öppnat igen", "Reopened on" },
        { "follow_up_at", "Uppföljning", "Follow-up" },
        { "exempt_until", "Undantag till", "Exempted until" },
        { "expires", "Gäller till", "Valid until" },
        { "fia_started", "FIA påbörjad", "FIA started" },
        { "fia_completed", "FIA slutförd", "FIA completed" },
        { "last_assessed", "Senast bedömd", "Last assessed" },
        { "last_mapped", "Senast kartlagd", "Last mapped" },
        { "mapped", "Kartlagd", "Mapped" },
        { "check_date", "Kontrolldag", "Check date" },
        { "changes_in_window", "Handläggarbyten i perioden", "Caseworker changes in the period" },
        { "children", "Barn i hushållet", "Children in the household" },
        { "children_gained", "Nya barn i hushållet", "New children in the household" },
        { "sip_initiated", "SIP initierad", "SIP initiated" },
        { "actors", "Andra aktörer", "Other agencies" },
        { "plan_no", "Plan nummer", "Plan number" },
        { "from", "Från", "From" },
        { "to", "Till", "To" },
        { "month", "Månad", "Month" },
        { NULL, NULL, NULL },
};

static const char *notify_word(const notify_word_t *t, notify_lang_t lang, const char *key)
{
        for (; key && t->key; t++)
                if (strcmp(t->key, key) == 0)
                        return lang == NOTIFY_EN ? t->en : t->sv;
        return NULL;
}

static const char *notify_get(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

/*
 * Bytes of `s` that fit `max` characters, cut at a character boundary (UTF-8): what comes from
 * the daemon is cut to fit a buffer or a line without breaking a character.
 */
static int notify_fit(const char *s, size_t max)
{
        size_t chars = 0, i = 0;

        for (; s[i]; i++) {
                if (((unsigned char)s[i] & 0xc0) == 0x80)
                        continue;
                if (chars++ == max)
                        break;
        }
        return (int)i;
}

notify_lang_t notify_text_lang(const char *s)
{
        return s && strcmp(s, "en") == 0 ? NOTIFY_EN : NOTIFY_SV;
}

const char *notify_text_action(notify_lang_t lang, const char *action)
{
        const char *w = notify_word(notify_actions, lang, action);
        return w ? w : action;
}

/* "förfaller D", "förfaller i dag", "förföll D": D against the day the reminder was delivered. */
static void notify_due(notify_lang_t lang, const json_t *r, char *buf, size_t n)
{
        const char *due = notify_get(r, "due_at"), *at = notify_get(r, "deliver_at");
        int c = strlen(at) >= 10 && strlen(due) >= 10 ? strncmp(due, at, 10) : 1;

        if (c < 0)
                snprintf(buf, n, lang == NOTIFY_EN ? "was due %.*s" : "förföll %.*s", notify_fit(due, 32), due);
        else if (c == 0)
                snprintf(buf, n, lang == NOTIFY_EN ? "due today" : "förfaller i dag");
        else
                snprintf(buf, n, lang == NOTIFY_EN ? "due %.*s" : "förfaller %.*s", notify_fit(due, 32), due);
}

char *notify_text_body(notify_lang_t lang, const json_t *r)
{
        char due[64], *out;

        notify_due(lang, r, due, sizeof(due));
        if (asprintf(&out, "%s %s \u00b7 %s\n%s", lang == NOTIFY_EN ? "Case" : "Ärende", notify_get(r, "case"), due,
                     notify_get(r, "body")) < 0)
                return NULL;
        return out;
}

char *notify_text_why_summary(notify_lang_t lang, const json_t *r)
{
        char *out;
        if (asprintf(&out, "%s %s", lang == NOTIFY_EN ? "Why:" : "Varför:", notify_get(r, "title")) < 0)
                return NULL;
        return out;
}

/* "YYYY-MM-DD" or "YYYY-MM": the only strings among the dates that are shown. */
static bool notify_is_date(const char *s)
{
        size_t n = strlen(s);
        if (n != 7 && n != 10)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(i == 4 || i == 7 ? s[i] == '-' : s[i] >= '0' && s[i] <= '9'))
                        return false;
        return true;
}

char *notify_text_why_body(notify_lang_t lang, const json_t *rep, const json_t *r)
{
        char *out = NULL, due[64];
        size_t len = 0, i;
        const char *k, *w;
        json_t *v, *e;
        FILE *f = open_memstream(&out, &len);

        if (!f)
                return NULL;
        notify_due(lang, r, due, sizeof(due));
        fprintf(f, "%s %s \u00b7 %s\n%s\n", lang == NOTIFY_EN ? "Case" : "Ärende", notify_get(r, "case"), due,
                notify_get(r, "body"));
        json_object_foreach(json_object_get(rep, "dates"), k, v) {
                if (!(w = notify_word(notify_dates, lang, k)) || strcmp(k, "due") == 0)
                        continue;       /* the due date is said above */
                if (json_is_string(v) && notify_is_date(json_string_value(v)))
                        fprintf(f, "%s: %s\n", w, json_string_value(v));
                else if (json_is_integer(v))
                        fprintf(f, "%s: %" JSON_INTEGER_FORMAT "\n", w, json_integer_value(v));
        }
        if (json_array_size(json_object_get(rep, "events")))
                fprintf(f, "%s\n", lang == NOTIFY_EN ? "Based on:" : "Utifrån:");
        json_array_foreach(json_object_get(rep, "events"), i, e) {
                const char *at = notify_get(e, "at");
                w = notify_word(notify_events, lang, notify_get(e, "type"));
                fprintf(f, "%.10s%s%.5s %s\n", at, strlen(at) >= 16 ? " " : "", strlen(at) >= 16 ? at + 11 : "",
                        w ? w : lang == NOTIFY_EN ? "an event from the case system" : "en händelse i verksamhetssystemet");
        }
        if (fclose(f) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

/* ---- many at once: the summary, the digest, the work list --------------------------- */

/* Characters, not bytes, of UTF-8 text: what a terminal column counts. */
static size_t notify_width(const char *s)
{
        size_t n = 0;
        for (; *s; s++)
                n += ((unsigned char)*s & 0xc0) != 0x80;
        return n;
}

char *notify_text_line(notify_lang_t lang, const json_t *r)
{
        char due[64], *out;

        notify_due(lang, r, due, sizeof(due));
        if (asprintf(&out, "%s %s \u00b7 %s \u00b7 %.*s", lang == NOTIFY_EN ? "Case" : "Ärende", notify_get(r, "case"),
                     due, notify_fit(notify_get(r, "title"), NOTIFY_TEXT_MAX), notify_get(r, "title")) < 0)
                return NULL;
        return out;
}

/* "1 ny påminnelse", "2 nya påminnelser": Swedish inflects the adjective too. */
static const char *notify_reminders(notify_lang_t lang, size_t n)
{
        if (lang == NOTIFY_EN)
                return n == 1 ? "new reminder" : "new reminders";
        return n == 1 ? "ny påminnelse" : "nya påminnelser";
}

static const char *notify_overdue_word(notify_lang_t lang, size_t n)
{
        return lang == NOTIFY_EN ? "overdue" : n == 1 ? "förfallen" : "förfallna";
}

char *notify_text_group_summary(notify_lang_t lang, size_t n, size_t overdue)
{
        char *out;
        int r;

        if (overdue)
                r = asprintf(&out, "%zu %s (%zu %s)", n, notify_reminders(lang, n), overdue,
                             notify_overdue_word(lang, overdue));
        else
                r = asprintf(&out, "%zu %s", n, notify_reminders(lang, n));
        return r < 0 ? NULL : out;
}

static char *notify_text_lines(notify_lang_t lang, const json_t *sorted, size_t max, size_t backlog, bool with_case);

char *notify_text_case_summary(notify_lang_t lang, const char *case_id, size_t n, size_t overdue)
{
        char *out;
        int r;

        if (overdue)
                r = asprintf(&out, "%s %s: %zu %s (%zu %s)", lang == NOTIFY_EN ? "Case" : "Ärende", case_id, n,
                             notify_reminders(lang, n), overdue, notify_overdue_word(lang, overdue));
        else
                r = asprintf(&out, "%s %s: %zu %s", lang == NOTIFY_EN ? "Case" : "Ärende", case_id, n,
                             notify_reminders(lang, n));
        return r < 0 ? NULL : out;
}

/* Up to `max` lines of `sorted`, then how many more, into f; a case's card leaves the case out of its lines. */
static void notify_lines(FILE *f, notify_lang_t lang, const json_t *sorted, size_t max, bool with_case)
{
        size_t i, n = json_array_size(sorted);
        json_t *r;

        json_array_foreach(sorted, i, r) {
                char *line = NULL, due[64];
                if (i == max)
                        break;
                if (with_case) {
                        line = notify_text_line(lang, r);
                } else {
                        notify_due(lang, r, due, sizeof(due));
                        if (asprintf(&line, "%s \u00b7 %.*s", due, notify_fit(notify_get(r, "title"), NOTIFY_TEXT_MAX),
                                     notify_get(r, "title")) < 0)
                                line = NULL;
                }
                if (line)
                        fprintf(f, "%s%s", i ? "\n" : "", line);
                free(line);
        }
        if (n > max)
                fprintf(f, lang == NOTIFY_EN ? "\n… and %zu more" : "\n… och %zu till", n - max);
}

char *notify_text_group_body(notify_lang_t lang, const json_t *sorted, size_t max, size_t backlog)
{
        return notify_text_lines(lang, sorted, max, backlog, true);
}

char *notify_text_case_body(notify_lang_t lang, const json_t *sorted, size_t max)
{
        return notify_text_lines(lang, sorted, max, 0, false);
}

static char *notify_text_lines(notify_lang_t lang, const json_t *sorted, size_t max, size_t backlog, bool with_case)
{
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        if (!f)
                return NULL;
        notify_lines(f, lang, sorted, max, with_case);
        if (backlog)
                fprintf(f, lang == NOTIFY_EN ? "\nand %zu older ones on your work list (bevaka-notify --list)"
                                             : "\noch %zu äldre i din arbetslista (bevaka-notify --list)", backlog);
        if (fclose(f) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

char *notify_text_backlog(notify_lang_t lang, size_t n)
{
        char *out;
        if (asprintf(&out, lang == NOTIFY_EN ? "%zu reminders delivered late, on your work list (bevaka-notify --list)"
                                             : "%zu påminnelser levererade i efterhand, i din arbetslista "
                                               "(bevaka-notify --list)", n) < 0)
                return NULL;
        return out;
}

/* A digest's total: the sum of its counts, else its items. */
static json_int_t notify_digest_total(const json_t *msg)
{
        json_int_t total = 0;
        const char *k;
        json_t *v;

        json_object_foreach(json_object_get(msg, "counts"), k, v)
                if (json_is_integer(v) && json_integer_value(v) > 0)
                        total += json_integer_value(v);
        return total ? total : (json_int_t)json_array_size(json_object_get(msg, "items"));
}

char *notify_text_digest_summary(notify_lang_t lang, const json_t *msg)
{
        char *out;
        json_int_t total = notify_digest_total(msg);

        if (asprintf(&out, "%s %.*s: %" JSON_INTEGER_FORMAT " %s", lang == NOTIFY_EN ? "Digest for" : "Sammanställning för",
                     notify_fit(notify_get(msg, "unit"), 64), notify_get(msg, "unit"), total,
                     notify_reminders(lang, total == 1 ? 1 : 2)) < 0)
                return NULL;
        return out;
}

/* The title an item of `rule` carries: the rule in words, as the daemon's rules.lang says it. */
static const char *notify_rule_title(const json_t *items, const char *rule)
{
        size_t i;
        json_t *r;
        json_array_foreach(items, i, r)
                if (strcmp(notify_get(r, "rule"), rule) == 0 && notify_get(r, "title")[0])
                        return notify_get(r, "title");
        return NULL;
}

char *notify_text_digest_body(notify_lang_t lang, const json_t *msg, const json_t *sorted, size_t max)
{
        char *out = NULL;
        size_t len = 0;
        json_int_t other = 0;
        const char *rule, *title;
        json_t *v;
        FILE *f = open_memstream(&out, &len);

        if (!f)
                return NULL;
        /* Counts by rule, each named by its title; a rule with no item to name it is counted as "other". */
        json_object_foreach(json_object_get(msg, "counts"), rule, v) {
                if (!json_is_integer(v) || json_integer_value(v) <= 0)
                        continue;
                if ((title = notify_rule_title(json_object_get(msg, "items"), rule)))
                        fprintf(f, "%" JSON_INTEGER_FORMAT " \u00d7 %.*s\n", json_integer_value(v),
                                notify_fit(title, NOTIFY_TEXT_MAX), title);
                else
                        other += json_integer_value(v);
        }
        if (other)
                fprintf(f, lang == NOTIFY_EN ? "%" JSON_INTEGER_FORMAT " other\n" : "%" JSON_INTEGER_FORMAT " övriga\n",
                        other);
        if (json_array_size(sorted)) {
                fprintf(f, "%s\n", lang == NOTIFY_EN ? "Most urgent:" : "Mest brådskande:");
                notify_lines(f, lang, sorted, max, true);
        }
        if (fclose(f) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

int notify_text_message(const json_t *msg, char **summary, char **body)
{
        const char *t = json_string_value(json_object_get(msg, "title"));
        const char *b = json_string_value(json_object_get(msg, "body"));

        *summary = *body = NULL;
        if (!b)
                b = json_string_value(json_object_get(msg, "text"));
        if ((!t || !t[0]) && (!b || !b[0]))
                return 0;       /* nothing for a person to read: not shown */
        if (!t || !t[0])
                t = "bevaka";
        if (asprintf(summary, "%.*s", notify_fit(t, NOTIFY_TEXT_MAX), t) < 0 ||
            asprintf(body, "%.*s", notify_fit(b ? b : "", 4 * NOTIFY_TEXT_MAX), b ? b : "") < 0) {
                free(*summary);
                *summary = NULL;
                return -1;
        }
        return 1;
}

/* "förföll D" / "förfaller i dag" / "förfaller D" against the list's day. */
static void notify_list_due(notify_lang_t lang, const json_t *r, const char *today, char *buf, size_t n)
{
        const char *due = notify_get(r, "due_at");

        if (notify_group_overdue(r, today))
                snprintf(buf, n, lang == NOTIFY_EN ? "was due %.*s" : "förföll %.*s", notify_fit(due, 32), due);
        else if (strlen(due) >= 10 && strncmp(due, today, 10) == 0)
                snprintf(buf, n, lang == NOTIFY_EN ? "due today" : "förfaller i dag");
        else
                snprintf(buf, n, lang == NOTIFY_EN ? "due %.*s" : "förfaller %.*s", notify_fit(due, 32), due);
}

static const notify_word_t notify_states[] = {
        { "acknowledged", "kvitterad", "acknowledged" },
        { "snoozed", "påminner igen", "snoozed" },
        { NULL, NULL, NULL },
};

void notify_text_list(notify_lang_t lang, FILE *f, const json_t *cases, const char *today)
{
        size_t i, k, total = 0, overdue = 0;
        json_t *c, *r;

        json_array_foreach(cases, i, c) {
                total += json_array_size(json_object_get(c, "items"));
                overdue += (size_t)json_integer_value(json_object_get(c, "overdue"));
        }
        if (!total) {
                fprintf(f, "%s (%s)\n", lang == NOTIFY_EN ? "No open reminders" : "Inga öppna påminnelser", today);
                return;
        }
        if (lang == NOTIFY_EN)
                fprintf(f, "%zu open reminder%s, %zu overdue, in %zu case%s (%s)\n", total, total == 1 ? "" : "s",
                        overdue, json_array_size(cases), json_array_size(cases) == 1 ? "" : "s", today);
        else
                fprintf(f, "%zu %s, %zu %s, i %zu %s (%s)\n", total,
                        total == 1 ? "öppen påminnelse" : "öppna påminnelser", overdue,
                        notify_overdue_word(lang, overdue), json_array_size(cases),
                        json_array_size(cases) == 1 ? "ärende" : "ärenden", today);
        json_array_foreach(cases, i, c) {
                fprintf(f, "\n%s %s\n", lang == NOTIFY_EN ? "Case" : "Ärende", notify_get(c, "case"));
                json_array_foreach(json_object_get(c, "items"), k, r) {
                        char due[64];
                        const char *st = notify_word(notify_states, lang, notify_get(r, "state"));
                        const char *title = notify_get(r, "title");

                        notify_list_due(lang, r, today, due, sizeof(due));
                        fprintf(f, "  %s%*s  %.*s", due, (int)(22 - BK_MIN(22, notify_width(due))), "",
                                notify_fit(title, NOTIFY_TEXT_MAX), title);
                        if (st)
                                fprintf(f, "  [%s%s%.*s]", st, strcmp(notify_get(r, "state"), "snoozed") ? "" : " ",
                                        strcmp(notify_get(r, "state"), "snoozed") ? 0
                                                                                  : notify_fit(notify_get(r, "deliver_at"), 10),
                                        notify_get(r, "deliver_at"));
                        if (notify_group_backlog(r))
                                fprintf(f, "  [%s]", lang == NOTIFY_EN ? "late" : "i efterhand");
                        fputc('\n', f);
                }
        }
}
