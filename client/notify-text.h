/*
 * notify-text.h owns what bevaka-notify writes on the desktop, in Swedish
 * or English (--lang, $BEVAKA_LANG; the daemon's rules.lang decides the
 * reminders' own titles and bodies): the action labels, a reminder's body
 * line and the "why" explanation. Internal names (rule ids, event types,
 * the rule engine's date keys) never reach the text: each is written as
 * words, or left out.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Characters of a title (or a message's summary) shown at most; a longer one is cut. */
#define NOTIFY_TEXT_MAX 200

typedef enum { NOTIFY_SV, NOTIFY_EN } notify_lang_t;

/* "en" is English; anything else the product's language, Swedish. */
notify_lang_t notify_text_lang(const char *s);
/* The label of action "ack", "snooze" or "why". */
const char *notify_text_action(notify_lang_t lang, const char *action);
/* "Ärende X · förfaller D\nBODY" for a reminder (malloc'd; NULL when out of memory). */
char *notify_text_body(notify_lang_t lang, const json_t *reminder);
/* The "why" notification: its summary and its body, from the why reply (malloc'd). */
char *notify_text_why_summary(notify_lang_t lang, const json_t *reminder);
char *notify_text_why_body(notify_lang_t lang, const json_t *reply, const json_t *reminder);

/* ---- many at once ---- */
/* "Ärende X · förfaller D · TITLE": one reminder as a line of a summary or a digest (malloc'd). */
char *notify_text_line(notify_lang_t lang, const json_t *reminder);
/* The summary notification of n reminders at one moment: "5 nya påminnelser (2 förfallna)". */
char *notify_text_group_summary(notify_lang_t lang, size_t n, size_t overdue);
/* Its body: the first `max` lines of `sorted`, "… och K till", and the backlog count when not 0. */
char *notify_text_group_body(notify_lang_t lang, const json_t *sorted, size_t max, size_t backlog);
/* A case's card: n reminders of one case at one moment, "Ärende X: 3 nya påminnelser (1 förfallen)". */
char *notify_text_case_summary(notify_lang_t lang, const char *case_id, size_t n, size_t overdue);
/* Its body: the first `max` lines of `sorted` without the case ("förfaller D · TITLE"), "… och K till". */
char *notify_text_case_body(notify_lang_t lang, const json_t *sorted, size_t max);
/* --terminal's one line for n backlog reminders, which never pop up. */
char *notify_text_backlog(notify_lang_t lang, size_t n);
/* A digest (protocol §6): "Sammanställning för UNIT: N nya påminnelser", and counts by rule then the top items. */
char *notify_text_digest_summary(notify_lang_t lang, const json_t *msg);
char *notify_text_digest_body(notify_lang_t lang, const json_t *msg, const json_t *sorted, size_t max);
/*
 * A message with an op the notifier does not know: its human text ("title",
 * "body" or "text", cut to length) as *summary and *body. 1 when it has
 * some, 0 when it has none (then it is not shown), -1 when out of memory.
 */
int notify_text_message(const json_t *msg, char **summary, char **body);
/* The work list of --list (cases from notify_group_by_case()), against the day `today`. */
void notify_text_list(notify_lang_t lang, FILE *f, const json_t *cases, const char *today);
