/*
 * test-notify-group.c owns the tests of bevaka-notify's decisions about
 * many reminders at once (client/notify-group.c and the words for them in
 * client/notify-text.c, both compiled in here), with no process, socket or
 * bus: "most urgent first" (overdue, then due date, then severity, then a
 * total order), where the summary begins (more than N of a moment's
 * reminders that are not backlog), the work list grouped by case with the
 * most urgent case first and an id on two topics listed once, and the texts:
 * the summary, its body cut after ten lines with the rest counted, the
 * digest's counts by rule named by title (never a rule id), a message of an
 * unknown op shown only when it has text, cut at a character boundary, as
 * is a long multibyte due date in a line.
 */
#define _GNU_SOURCE
#include <regex.h>
#include "notify-words.h"
#include "tap.h"
#include "../client/notify-group.c"
#include "../client/notify-text.c"

static json_t *rem(const char *id, const char *kase, const char *sev, const char *due, bool backlog)
{
        json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "case", kase, "rule", "IB3-DUE",
                              "severity", sev, "due_at", due, "deliver_at", "2026-03-02T08:00:00+01:00", "title",
                              "Nybesök (IB3) ej genomfört", "body", "Boka nybesök.");
        if (backlog)
                json_object_set_new(r, "backlog", json_true());
        return r;
}

static const char *id_at(const json_t *a, size_t i)
{
        return json_string_value(json_object_get(json_array_get(a, i), "id"));
}

static void test_order(void)
{
        json_t *list = json_pack("[o,o,o,o,o]", rem("r-info", "EB-1", "info", "2026-03-01", false),
                                 rem("r-late", "EB-2", "due", "2026-04-01", false),
                                 rem("r-over", "EB-3", "overdue", "2026-05-01", false),
                                 rem("r-past", "EB-4", "due", "2026-02-20", false),
                                 rem("r-soon", "EB-5", "due", "2026-03-10", false));
        json_t *s = notify_group_sorted(list, "");

        /* Overdue (by severity, or due before the day of delivery, as r-info is) first; then by due date. */
        CHECK_STR(id_at(s, 0), "r-past");
        CHECK_STR(id_at(s, 1), "r-info");
        CHECK_STR(id_at(s, 2), "r-over");
        CHECK_STR(id_at(s, 3), "r-soon");
        CHECK_STR(id_at(s, 4), "r-late");
        CHECK_INT(json_array_size(list), 5);    /* the input is left as it was */
        CHECK_STR(id_at(list, 0), "r-info");
        json_decref(s);

        /* With a later day, what was due before it is overdue too. */
        s = notify_group_sorted(list, "2026-03-15");
        CHECK_STR(id_at(s, 0), "r-past");
        CHECK_STR(id_at(s, 1), "r-info");
        CHECK_STR(id_at(s, 2), "r-soon");
        CHECK_STR(id_at(s, 3), "r-over");
        json_decref(s);

        CHECK(notify_group_overdue(json_array_get(list, 2), ""));
        CHECK(!notify_group_overdue(json_array_get(list, 1), "2026-04-01"));
        CHECK(notify_group_overdue(json_array_get(list, 1), "2026-04-02"));
        /* Same due date: severity, then case: a total order. */
        json_t *a = rem("r-a", "EB-9", "info", "2026-03-05", false), *b = rem("r-b", "EB-1", "due", "2026-03-05", false);
        CHECK(notify_group_cmp(b, a, "") < 0);
        json_object_set_new(a, "severity", json_string("due"));
        CHECK(notify_group_cmp(b, a, "") < 0);
        CHECK(notify_group_cmp(a, a, "") == 0);
        json_decref(a);
        json_decref(b);
        json_decref(list);
}

static void test_plan(void)
{
        json_t *items = json_array();
        size_t backlog, pop, notes;
        bool group;
        char id[16], kase[16];

        /* five reminders of five cases at one moment */
        for (int i = 0; i < 5; i++) {
                snprintf(id, sizeof(id), "r-%d", i);
                snprintf(kase, sizeof(kase), "EB-%d", i);
                json_array_append_new(items, rem(id, kase, "due", "2026-03-02", false));
        }
        pop = notify_group_plan(items, NOTIFY_GROUP_DEFAULT, true, &group, &notes, &backlog);
        CHECK_INT(pop, 5);
        CHECK(group);
        CHECK_INT(notes, 1);    /* the summary */
        CHECK_INT(backlog, 0);
        json_array_remove(items, 0);
        CHECK_INT(notify_group_plan(items, 3, true, &group, &notes, &backlog), 4);
        CHECK(group);           /* more than N */
        json_array_remove(items, 0);
        CHECK_INT(notify_group_plan(items, 3, true, &group, &notes, &backlog), 3);
        CHECK(!group);          /* N itself pops up one by one */
        CHECK_INT(notes, 3);
        json_array_remove(items, 0);
        CHECK_INT(notify_group_plan(items, 3, true, &group, &notes, &backlog), 2);
        CHECK(!group);
        CHECK_INT(notify_group_plan(items, 0, true, &group, &notes, &backlog), 2);
        CHECK(group);           /* --group 0: always a summary */

        /* One case's reminders at one moment are one card: five of one case pop up as one
         * notification, not as a summary; with a second case, two cards. */
        json_array_clear(items);
        for (int i = 0; i < 5; i++) {
                snprintf(id, sizeof(id), "r-c%d", i);
                json_array_append_new(items, rem(id, "EB-7", i ? "due" : "overdue", "2026-03-02", false));
        }
        CHECK_INT(notify_group_plan(items, 3, true, &group, &notes, &backlog), 5);
        CHECK(!group);
        CHECK_INT(notes, 1);
        json_array_append_new(items, rem("r-other", "EB-8", "due", "2026-03-02", false));
        CHECK_INT(notify_group_plan(items, 3, true, &group, &notes, &backlog), 6);
        CHECK(!group);
        CHECK_INT(notes, 2);
        CHECK_INT(notify_group_plan(items, 10, false, &group, &notes, &backlog), 6);
        CHECK(!group);
        CHECK_INT(notes, 6);    /* --per-reminder */
        CHECK_INT(notify_group_plan(items, 3, false, &group, &notes, &backlog), 6);
        CHECK(group);
        json_array_append_new(items, rem("r-x", "EB-9", "due", "2026-03-02", false));
        json_array_append_new(items, rem("r-y", "EB-10", "due", "2026-03-02", false));
        CHECK_INT(notify_group_plan(items, 3, true, &group, &notes, &backlog), 8);
        CHECK(group);           /* four cards: more than N */
        CHECK_INT(notes, 1);
        /* a card is a case: the same reminder on two topics, or two cases, are not folded by title */
        json_t *cards = notify_group_by_case(items, "");
        CHECK_INT(json_array_size(cards), 4);
        CHECK_STR(json_string_value(json_object_get(json_array_get(cards, 0), "case")), "EB-7");   /* overdue first */
        CHECK_INT(json_array_size(json_object_get(json_array_get(cards, 0), "items")), 5);
        json_decref(cards);

        /* Backlog never pops up and does not count towards the summary. */
        json_array_clear(items);
        for (int i = 0; i < 6; i++) {
                snprintf(id, sizeof(id), "r-b%d", i);
                snprintf(kase, sizeof(kase), "EB-%d", i);
                json_array_append_new(items, rem(id, kase, "due", "2026-01-02", true));
        }
        CHECK_INT(notify_group_plan(items, 3, true, &group, &notes, &backlog), 0);
        CHECK(!group);
        CHECK_INT(notes, 0);
        CHECK_INT(backlog, 6);
        json_array_append_new(items, rem("r-new", "EB-1", "due", "2026-03-02", false));
        CHECK_INT(notify_group_plan(items, 3, true, &group, &notes, &backlog), 1);
        CHECK(!group);
        CHECK_INT(notes, 1);
        CHECK_INT(backlog, 6);
        json_decref(items);
}

static void test_by_case(void)
{
        json_t *list = json_pack("[o,o,o,o,o,o,s]", rem("r-1", "EB-A", "due", "2026-04-01", false),
                                 rem("r-2", "EB-B", "due", "2026-03-20", false),
                                 rem("r-3", "EB-A", "overdue", "2026-02-01", false),
                                 rem("r-4", "EB-C", "info", "2026-05-01", false),
                                 rem("r-2", "EB-B", "due", "2026-03-20", false),        /* on a second topic */
                                 json_pack("{s:s}", "case", "EB-D"),                    /* no id: left out */
                                 "junk");
        json_t *cases = notify_group_by_case(list, "2026-03-05"), *a;

        CHECK_INT(json_array_size(cases), 3);
        a = json_array_get(cases, 0);
        CHECK_STR(json_string_value(json_object_get(a, "case")), "EB-A");      /* its overdue item leads */
        CHECK_INT(json_array_size(json_object_get(a, "items")), 2);
        CHECK_STR(id_at(json_object_get(a, "items"), 0), "r-3");
        CHECK_STR(id_at(json_object_get(a, "items"), 1), "r-1");
        CHECK_INT(json_integer_value(json_object_get(a, "overdue")), 1);
        CHECK_STR(json_string_value(json_object_get(json_array_get(cases, 1), "case")), "EB-B");
        CHECK_INT(json_array_size(json_object_get(json_array_get(cases, 1), "items")), 1);
        CHECK_STR(json_string_value(json_object_get(json_array_get(cases, 2), "case")), "EB-C");
        json_decref(cases);
        json_decref(list);
}

static int lines(const char *s)
{
        int n = 1;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static void test_texts(void)
{
        json_t *items = json_array(), *sorted;
        char id[16], kase[16], *t;

        for (int i = 0; i < 12; i++) {
                snprintf(id, sizeof(id), "r-%02d", i);
                snprintf(kase, sizeof(kase), "EB-%02d", i);
                json_array_append_new(items, rem(id, kase, i < 2 ? "overdue" : "due", "2026-03-02", false));
        }
        sorted = notify_group_sorted(items, "");
        t = notify_text_group_summary(NOTIFY_SV, 12, 2);
        CHECK_STR(t, "12 nya påminnelser (2 förfallna)");
        free(t);
        t = notify_text_group_summary(NOTIFY_EN, 5, 0);
        CHECK_STR(t, "5 new reminders");
        free(t);
        t = notify_text_group_summary(NOTIFY_SV, 1, 1);
        CHECK_STR(t, "1 ny påminnelse (1 förfallen)");
        free(t);
        t = notify_text_group_body(NOTIFY_SV, sorted, 10, 7);
        CHECK(t && strncmp(t, "Ärende EB-00 \u00b7 förfaller i dag \u00b7 Nybesök (IB3) ej genomfört\n", 62) == 0);
        CHECK(t && strstr(t, "\n… och 2 till\n") != NULL);
        CHECK(t && strstr(t, "och 7 äldre i din arbetslista") != NULL);
        CHECK(t && strstr(t, "EB-10") == NULL);
        CHECK_INT(t ? lines(t) : 0, 12);
        CHECK(t && words_only(t));
        free(t);

        /* A case's card: the case in the summary, not on every line. */
        t = notify_text_case_summary(NOTIFY_SV, "EB-2022-002085", 3, 2);
        CHECK_STR(t, "Ärende EB-2022-002085: 3 nya påminnelser (2 förfallna)");
        free(t);
        t = notify_text_case_summary(NOTIFY_EN, "EB-7", 2, 0);
        CHECK_STR(t, "Case EB-7: 2 new reminders");
        free(t);
        t = notify_text_case_body(NOTIFY_SV, sorted, 2);
        CHECK(t && strncmp(t, "förfaller i dag \u00b7 Nybesök (IB3) ej genomfört\n", 49) == 0);
        CHECK(t && strstr(t, "Ärende") == NULL);
        CHECK(t && strstr(t, "\n… och 10 till") != NULL);
        CHECK_INT(t ? lines(t) : 0, 3);
        CHECK(t && words_only(t));
        free(t);

        /* A digest: counts by rule, each named by an item's title; a rule with no item counted as other. */
        json_t *d = json_pack("{s:i, s:i, s:s, s:s, s:s, s:s, s:{s:i, s:i}, s:O}", "v", 1, "rseq", 9, "op", "digest",
                              "unit", "HV-EB-1", "since", "2026-03-01T08:00:00+01:00", "at",
                              "2026-03-02T08:00:00+01:00", "counts", "IB3-DUE", 12, "CONTINUITY", 3, "items", items);
        t = notify_text_digest_summary(NOTIFY_SV, d);
        CHECK_STR(t, "Sammanställning för HV-EB-1: 15 nya påminnelser");
        free(t);
        t = notify_text_digest_body(NOTIFY_SV, d, sorted, 5);
        CHECK(t && strncmp(t, "12 \u00d7 Nybesök (IB3) ej genomfört\n3 övriga\nMest brådskande:\n", 60) == 0);
        CHECK(t && strstr(t, "… och 7 till") != NULL);
        CHECK(t && words_only(t));
        free(t);
        json_decref(d);

        /* An unknown op: shown only with text; a long title cut at a character boundary. */
        char *sum, *body, longt[600];
        json_t *m = json_pack("{s:s, s:i}", "op", "summary", "rseq", 3);
        CHECK_INT(notify_text_message(m, &sum, &body), 0);
        CHECK(sum == NULL && body == NULL);
        for (int i = 0; i < 299; i++)
                memcpy(longt + 2 * i, "ö", 2);
        longt[598] = '\0';
        json_object_set_new(m, "title", json_string(longt));
        CHECK_INT(notify_text_message(m, &sum, &body), 1);
        CHECK_INT(sum ? strlen(sum) : 0, 2 * NOTIFY_TEXT_MAX);
        json_t *valid = sum ? json_string(sum) : NULL;  /* NULL unless valid UTF-8 */
        CHECK(valid != NULL);
        json_decref(valid);
        CHECK_STR(body, "");
        free(sum);
        free(body);
        json_object_del(m, "title");
        json_object_set_new(m, "text", json_string("100 öppna påminnelser"));
        CHECK_INT(notify_text_message(m, &sum, &body), 1);
        CHECK_STR(sum, "bevaka");
        CHECK_STR(body, "100 öppna påminnelser");
        free(sum);
        free(body);
        json_decref(m);

        /* A long, multibyte due date (found by fuzz-notify-msg): cut in the line at a character boundary. */
        json_t *odd = rem("r-odd", "EB-1", "due", "", false);
        json_object_set_new(odd, "due_at", json_string(longt));
        t = notify_text_line(NOTIFY_SV, odd);
        valid = t ? json_string(t) : NULL;
        CHECK(valid != NULL);
        json_decref(valid);
        free(t);
        json_decref(odd);
        json_decref(sorted);
        json_decref(items);
}

static void test_list_text(void)
{
        json_t *list = json_pack("[o,o,o]", rem("r-1", "EB-A", "due", "2026-04-01", false),
                                 rem("r-2", "EB-B", "due", "2026-03-05", true),
                                 rem("r-3", "EB-A", "overdue", "2026-02-01", false));
        json_t *cases;
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        json_object_set_new(json_array_get(list, 0), "state", json_string("acknowledged"));
        cases = notify_group_by_case(list, "2026-03-05");
        notify_text_list(NOTIFY_SV, f, cases, "2026-03-05");
        fclose(f);
        CHECK_STR(out, "3 öppna påminnelser, 1 förfallen, i 2 ärenden (2026-03-05)\n"
                       "\n"
                       "Ärende EB-A\n"
                       "  förföll 2026-02-01      Nybesök (IB3) ej genomfört\n"
                       "  förfaller 2026-04-01    Nybesök (IB3) ej genomfört  [kvitterad]\n"
                       "\n"
                       "Ärende EB-B\n"
                       "  förfaller i dag         Nybesök (IB3) ej genomfört  [i efterhand]\n");
        free(out);
        json_decref(cases);
        cases = json_array();
        f = open_memstream(&out, &len);
        notify_text_list(NOTIFY_EN, f, cases, "2026-03-05");
        fclose(f);
        CHECK_STR(out, "No open reminders (2026-03-05)\n");
        free(out);
        json_decref(cases);
        json_decref(list);
}

int main(void)
{
        test_order();
        test_plan();
        test_by_case();
        test_texts();
        test_list_text();
        return tap_done();
}
