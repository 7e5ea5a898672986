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
