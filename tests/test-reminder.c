/*
 * test-reminder.c owns the unit tests of reminder.c: the lifecycle state
 * names of domain.md §5 both ways, severities, open and delivered, the two
 * topics of protocol §2 (exact, with the trailing slash; caseworker-less
 * reminders go to the leads), and the wire form: the members protocol §2
 * lists, in its order, with "state" only for API replies. Each reminder in
 * proto/examples/reminders/ is rebuilt field by field and must come out as
 * the example says, so the example files and this code cannot drift apart.
 */
#include <dirent.h>
#include <stdio.h>
#include "reminder.h"
#include "tap.h"

/* Regression checks for bugs these tests found (and that were fixed): plain CHECKs. */
#define REGRESSION(cond, what) CHECK(cond)

static bk_time_t T(const char *s)
{
        bk_time_t t = 0;

        CHECK_INT(cal_parse_rfc3339(s, &t), 0);
        return t;
}

static reminder_t sample(void)
{
        reminder_t r;
        cal_day_t due = 0;

        memset(&r, 0, sizeof(r));
        bk_strlcpy(r.id, "r-9c1e5b0a7d2f3e41", sizeof(r.id));
        bk_strlcpy(r.case_id, "EB-2024-001234", sizeof(r.case_id));
        r.rule = RULE_FIA_DUE;
        bk_strlcpy(r.cycle, "lt1", sizeof(r.cycle));
        bk_strlcpy(r.unit, "HV-EB-1", sizeof(r.unit));
        bk_strlcpy(r.caseworker, "hk1234", sizeof(r.caseworker));
        r.to_caseworker = true;
        r.severity = SEV_DUE;
        CHECK_INT(cal_parse_date("2026-03-02", &due), 0);
        r.due = due;
        r.deliver_at = T("2026-03-02T08:00:00+01:00");
        r.state = REM_DELIVERED;
        bk_strlcpy(r.title, "Påbörja FIA", sizeof(r.title));
        bk_strlcpy(r.body, "Tio månader.", sizeof(r.body));
        bk_strlcpy(r.why, "{}", sizeof(r.why));
        r.delivered_at = r.deliver_at;
        return r;
}

static void test_names(void)
{
        static const char *const names[REM__STATE_COUNT] = {
                "scheduled", "delivered", "acknowledged", "snoozed", "resolved", "cancelled",
        };

        for (int i = 0; i < REM__STATE_COUNT; i++) {
                CHECK_STR(reminder_state_name((rem_state_t)i), names[i]);
                CHECK_INT(reminder_state_from_name(names[i]), i);
        }
        CHECK_STR(reminder_state_name(REM__STATE_COUNT), "unknown");
        CHECK_STR(reminder_state_name((rem_state_t)-1), "unknown");
        CHECK_INT(reminder_state_from_name("open"), -1);
        CHECK_INT(reminder_state_from_name("Delivered"), -1);
        CHECK_INT(reminder_state_from_name(""), -1);

        CHECK_STR(reminder_severity_name(SEV_INFO), "info");
        CHECK_STR(reminder_severity_name(SEV_DUE), "due");
        CHECK_STR(reminder_severity_name(SEV_OVERDUE), "overdue");
}

static void test_open_and_delivered(void)
{
        reminder_t r = sample();

        for (int i = 0; i < REM__STATE_COUNT; i++) {
                r.state = (rem_state_t)i;
                CHECK(reminder_is_open(&r) == (i != REM_RESOLVED && i != REM_CANCELLED));
        }
        r.delivered_at = 0;
        CHECK(!reminder_was_delivered(&r));
        r.delivered_at = 1;
        CHECK(reminder_was_delivered(&r));
}

static void test_topics(void)
{
        reminder_t r = sample();
        char buf[REM_TOPIC_MAX], small[8];

        reminder_topic_caseworker(&r, buf, sizeof(buf));
        CHECK_STR(buf, "rem/HV-EB-1/hk1234/");
        reminder_topic_leads(&r, buf, sizeof(buf));
        CHECK_STR(buf, "rem/HV-EB-1/@leads/");
        /* no caseworker yet: the caseworker's copy goes to the leads */
        r.caseworker[0] = '\0';
        reminder_topic_caseworker(&r, buf, sizeof(buf));
        CHECK_STR(buf, "rem/HV-EB-1/@leads/");
        /* the longest names fit the buffer the header sizes */
        memset(r.unit, 'u', EV_NAME_MAX);
        r.unit[EV_NAME_MAX] = '\0';
        memset(r.caseworker, 'c', EV_NAME_MAX);
        r.caseworker[EV_NAME_MAX] = '\0';
        reminder_topic_caseworker(&r, buf, sizeof(buf));
        CHECK_INT(strlen(buf), 4 + 2 * EV_NAME_MAX + 2);
        CHECK(buf[strlen(buf) - 1] == '/');
        /* a short buffer is cut, and terminated */
        reminder_topic_leads(&r, small, sizeof(small));
        CHECK_STR(small, "rem/uuu");
}

static void test_wire_form(void)
{
        static const char *const members[] = {
                "v", "rseq", "op", "id", "rule", "case", "unit", "caseworker", "severity",
                "due_at", "deliver_at", "title", "body",
        };
        reminder_t r = sample();
        json_t *j = reminder_to_json(&r, "due", 5521, false), *v;
        const char *key;
        size_t k = 0;
        char *text;

        CHECK(j != NULL);
        if (!j)
                return;
        /* exactly these members, in this order (dumped with JSON_PRESERVE_ORDER on the wire) */
        CHECK_INT(json_object_size(j), BK_ARRAY_SIZE(members));
        json_object_foreach(j, key, v) {
                if (k < BK_ARRAY_SIZE(members))
                        CHECK_STR(key, members[k]);
                k++;
        }
        CHECK_INT(json_integer_value(json_object_get(j, "v")), 1);
        CHECK_INT(json_integer_value(json_object_get(j, "rseq")), 5521);
        CHECK_STR(json_string_value(json_object_get(j, "op")), "due");
        CHECK_STR(json_string_value(json_object_get(j, "rule")), "FIA-DUE");
        CHECK_STR(json_string_value(json_object_get(j, "case")), "EB-2024-001234");
        CHECK_STR(json_string_value(json_object_get(j, "severity")), "due");
        CHECK_STR(json_string_value(json_object_get(j, "due_at")), "2026-03-02");
        CHECK_STR(json_string_value(json_object_get(j, "deliver_at")), "2026-03-02T08:00:00+01:00");
        CHECK_STR(json_string_value(json_object_get(j, "title")), "Påbörja FIA");
        CHECK(json_object_get(j, "state") == NULL);      /* never on the stream */
        CHECK(json_object_get(j, "cycle") == NULL);      /* internal fields stay inside */
        CHECK(json_object_get(j, "why") == NULL);
        text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        CHECK(text && strncmp(text, "{\"v\":1,\"rseq\":5521,\"op\":\"due\",\"id\":\"r-9c1e5b0a7d2f3e41\"", 55) == 0);
        free(text);
        json_decref(j);

        /* summer time, every op, every severity, and the API's state */
        r.deliver_at = T("2026-04-01T06:00:00Z");
        r.severity = SEV_OVERDUE;
        r.state = REM_SNOOZED;
        static const char *const ops[] = { "due", "resolved", "cancelled", "rerouted" };
        for (size_t i = 0; i < BK_ARRAY_SIZE(ops); i++) {
                j = reminder_to_json(&r, ops[i], 1, true);
                CHECK_STR(json_string_value(json_object_get(j, "op")), ops[i]);
                CHECK_STR(json_string_value(json_object_get(j, "deliver_at")), "2026-04-01T08:00:00+02:00");
                CHECK_STR(json_string_value(json_object_get(j, "severity")), "overdue");
                CHECK_STR(json_string_value(json_object_get(j, "state")), "snoozed");
                CHECK_INT(json_object_size(j), BK_ARRAY_SIZE(members) + 1);
                json_decref(j);
        }

        /* protocol §2: `caseworker` is absent when the case has none (only @leads is addressed) */
        r.caseworker[0] = '\0';
        j = reminder_to_json(&r, "due", 2, false);
        CHECK(j != NULL);
        REGRESSION(j && json_object_get(j, "caseworker") == NULL,
                  "reminder_to_json writes \"caseworker\":\"\" instead of leaving it out");
        json_decref(j);
}

/* ---- the examples in proto/examples/reminders -------------------------------------------- */

static const char *src_dir(void)
{
        static char buf[1024];
        const char *env = getenv("BEVAKA_SRC");
        char *p;

        if (env && env[0])
                return env;
        bk_strlcpy(buf, __FILE__, sizeof(buf));
        p = strstr(buf, "/tests/test-reminder.c");
        if (p)
                *p = '\0';
        else
                bk_strlcpy(buf, ".", sizeof(buf));
        return buf;
}

/* Rebuilds a reminder_t from an example and checks the wire form equals it. */
static bool example_round_trip(json_t *ex, bool *caseworker_absent)
{
        reminder_t r;
        cal_day_t due = 0;
        const char *sev = json_string_value(json_object_get(ex, "severity"));
        const char *cw = json_string_value(json_object_get(ex, "caseworker"));
        json_t *out;
        bool same;

        memset(&r, 0, sizeof(r));
        bk_strlcpy(r.id, json_string_value(json_object_get(ex, "id")), sizeof(r.id));
        r.rule = rules_from_name(json_string_value(json_object_get(ex, "rule")));
        CHECK(r.rule >= 0);
        bk_strlcpy(r.case_id, json_string_value(json_object_get(ex, "case")), sizeof(r.case_id));
        bk_strlcpy(r.unit, json_string_value(json_object_get(ex, "unit")), sizeof(r.unit));
        bk_strlcpy(r.caseworker, cw ? cw : "", sizeof(r.caseworker));
        r.severity = strcmp(sev, "info") == 0 ? SEV_INFO : strcmp(sev, "overdue") == 0 ? SEV_OVERDUE : SEV_DUE;
        CHECK_INT(cal_parse_date(json_string_value(json_object_get(ex, "due_at")), &due), 0);
        r.due = due;
        CHECK_INT(cal_parse_rfc3339(json_string_value(json_object_get(ex, "deliver_at")), &r.deliver_at), 0);
        bk_strlcpy(r.title, json_string_value(json_object_get(ex, "title")), sizeof(r.title));
        bk_strlcpy(r.body, json_string_value(json_object_get(ex, "body")), sizeof(r.body));
        /* v1.1 (protocol.md §2.1): backlog, and the escalation that superseded a resolved one */
        if (json_is_true(json_object_get(ex, "backlog")))
                r.delivery = REM_BACKLOG_LATE;
        if (json_object_get(ex, "superseded_by"))
                snprintf(r.close_reason, sizeof(r.close_reason), REM_SUPERSEDED_BY "%s",
                         json_string_value(json_object_get(ex, "superseded_by")));
        out = reminder_to_json(&r, json_string_value(json_object_get(ex, "op")),
                               json_integer_value(json_object_get(ex, "rseq")), false);
        same = json_equal(out, ex);
        *caseworker_absent = cw == NULL;
        if (!same && cw) {
                char *a = json_dumps(out, JSON_COMPACT), *b = json_dumps(ex, JSON_COMPACT);
                fprintf(stderr, "  ours:    %s\n  example: %s\n", a ? a : "(null)", b ? b : "(null)");
                free(a);
                free(b);
        }
        json_decref(out);
        return same;
}

static void test_examples(void)
{
        char dir[1200], path[1600];
        DIR *d;
        struct dirent *de;
        int n = 0;

        snprintf(dir, sizeof(dir), "%s/proto/examples/reminders", src_dir());
        d = opendir(dir);
        CHECK(d != NULL);
        if (!d)
                return;
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                bool absent = false, same;
                json_t *ex;

                if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                ex = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
                CHECK(json_is_object(ex));
                if (!ex)
                        continue;
                n++;
                same = example_round_trip(ex, &absent);
                if (absent)
                        REGRESSION(same, "a caseworker-less reminder does not match its example (\"caseworker\":\"\")");
                else
                        CHECK(same);
                json_decref(ex);
        }
        closedir(d);
        CHECK(n >= 8);
}

int main(void)
{
        test_names();
        test_open_and_delivered();
        test_topics();
        test_wire_form();
        test_examples();
        return tap_done();
}
