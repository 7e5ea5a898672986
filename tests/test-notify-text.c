/*
 * test-notify-text.c owns the tests of bevaka-notify's words
 * (client/notify-text.c, compiled in here) and of the rules' built-in
 * Swedish texts they appear beside: the snooze button says what it does
 * (the next working day, not "tomorrow": on Monday 5 January 2026 it is
 * Wednesday the 7th), a due date before the day of delivery is in the past
 * tense, English labels with lang "en", the why text in words with no
 * internal key, event type or rule id, and "du", never "ni".
 */
#define _GNU_SOURCE          /* asprintf, in the notifier's words compiled in below */
#include <regex.h>
#include "rules.h"
#include "notify-words.h"
#include "tap.h"
#include "../client/notify-group.c"
#include "../client/notify-text.c"

static json_t *reminder(const char *due, const char *deliver)
{
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "case", "EB-2026-000001", "rule", "IB4-OVERDUE", "due_at",
                         due, "deliver_at", deliver, "title", "Förändringsplanen är inte uppföljd (> 4 mån)", "body",
                         "Följ upp planen snarast.");
}

static void check_body(notify_lang_t lang, const char *due, const char *deliver, const char *want)
{
        json_t *r = reminder(due, deliver);
        char *b = notify_text_body(lang, r);
        CHECK_STR(b, want);
        free(b);
        json_decref(r);
}

static void check_why(void)
{
        json_t *r = reminder("2026-01-02", "2026-01-05T08:00:00+01:00");
        json_t *rep = json_pack("{s:O, s:s, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s, s:i, s:i, s:s, s:s}}", "reminder", r,
                                "rule", "IB4-OVERDUE", "events", "type", "ib4.established", "at",
                                "2025-09-01T10:15:00+02:00", "type", "some.future_type", "at", "2025-10-01T09:00:00+02:00",
                                "dates", "due", "2026-01-02", "granted_in_window", 7, "episode", 2, "barrier", "health",
                                "follow_up_at", "2026-01-02");
        char *sv = notify_text_why_body(NOTIFY_SV, rep, r), *en = notify_text_why_body(NOTIFY_EN, rep, r);
        char *sum = notify_text_why_summary(NOTIFY_SV, r);

        CHECK_STR(sum, "Varför: Förändringsplanen är inte uppföljd (> 4 mån)");
        CHECK_STR(sv, "Ärende EB-2026-000001 · förföll 2026-01-02\n"
                      "Följ upp planen snarast.\n"
                      "Månader med bistånd i perioden: 7\n"
                      "Uppföljning: 2026-01-02\n"
                      "Utifrån:\n"
                      "2025-09-01 10:15 Förändringsplan (IB4) upprättad\n"
                      "2025-10-01 09:00 en händelse i verksamhetssystemet\n");
        CHECK(strstr(en, "Case EB-2026-000001 · was due 2026-01-02\n") == en);
        CHECK(strstr(en, "Months with assistance in the period: 7\n") != NULL);
        CHECK(strstr(en, "Change plan (IB4) drawn up\n") != NULL);
        CHECK(words_only(sv));
        CHECK(words_only(en));
        free(sv);
        free(en);
        free(sum);
        json_decref(rep);
        json_decref(r);
}

/* The rules' own Swedish texts say "du" and name no rule id. */
static void check_rule_texts(void)
{
        regex_t ni;
        regcomp(&ni, "(^|[^[:alpha:]])[Nn]i([^[:alpha:]]|$)", REG_EXTENDED | REG_NOSUB);
        for (int r = 0; r < RULE__COUNT; r++) {
                const char *t = rules_title(NULL, (rule_id_t)r), *b = rules_body(NULL, (rule_id_t)r);
                CHECK(regexec(&ni, t, 0, NULL, 0) != 0 && regexec(&ni, b, 0, NULL, 0) != 0);
                CHECK(strstr(t, rules_name((rule_id_t)r)) == NULL && strstr(b, rules_name((rule_id_t)r)) == NULL);
        }
        regfree(&ni);
}

int main(void)
{
        CHECK_STR(notify_text_action(NOTIFY_SV, "snooze"), "Påminn nästa arbetsdag");
        CHECK_STR(notify_text_action(NOTIFY_SV, "ack"), "Kvittera");
        CHECK_STR(notify_text_action(NOTIFY_SV, "why"), "Varför?");
        CHECK_STR(notify_text_action(NOTIFY_EN, "snooze"), "Remind me next working day");
        CHECK_STR(notify_text_action(NOTIFY_EN, "ack"), "Acknowledge");
        CHECK_STR(notify_text_action(NOTIFY_EN, "why"), "Why?");
        CHECK_INT(notify_text_lang("en"), NOTIFY_EN);
        CHECK_INT(notify_text_lang("sv"), NOTIFY_SV);
        CHECK_INT(notify_text_lang(NULL), NOTIFY_SV);

        check_body(NOTIFY_SV, "2026-01-07", "2026-01-05T08:00:00+01:00",
                   "Ärende EB-2026-000001 · förfaller 2026-01-07\nFölj upp planen snarast.");
        check_body(NOTIFY_SV, "2026-01-05", "2026-01-05T08:00:00+01:00",
                   "Ärende EB-2026-000001 · förfaller i dag\nFölj upp planen snarast.");
        check_body(NOTIFY_SV, "2026-01-02", "2026-01-05T08:00:00+01:00",
                   "Ärende EB-2026-000001 · förföll 2026-01-02\nFölj upp planen snarast.");
        check_body(NOTIFY_EN, "2026-01-02", "2026-01-05T08:00:00+01:00",
                   "Case EB-2026-000001 · was due 2026-01-02\nFölj upp planen snarast.");
        check_body(NOTIFY_EN, "2026-01-05", "2026-01-05T08:00:00+01:00",
                   "Case EB-2026-000001 · due today\nFölj upp planen snarast.");
        check_why();
        check_rule_texts();
        return tap_done();
}
