/*
 * reminder.c owns the reminder's names, topics and wire form (protocol §2).
 */
#include <stdio.h>
#include "reminder.h"

static const char *const state_names[REM__STATE_COUNT] = {
        [REM_SCHEDULED] = "scheduled",   [REM_DELIVERED] = "delivered",
        [REM_ACKNOWLEDGED] = "acknowledged", [REM_SNOOZED] = "snoozed",
        [REM_RESOLVED] = "resolved",     [REM_CANCELLED] = "cancelled",
};

const char *reminder_state_name(rem_state_t s)
{
        return (unsigned)s < REM__STATE_COUNT ? state_names[s] : "unknown";
}

int reminder_state_from_name(const char *name)
{
        for (int i = 0; i < REM__STATE_COUNT; i++)
                if (strcmp(state_names[i], name) == 0)
                        return i;
        return -1;
}

const char *reminder_severity_name(severity_t s)
{
        switch (s) {
        case SEV_INFO: return "info";
        case SEV_DUE: return "due";
        case SEV_OVERDUE: return "overdue";
        }
        return "due";
}

bool reminder_is_open(const reminder_t *r)
{
        return r->state != REM_RESOLVED && r->state != REM_CANCELLED;
}

bool reminder_was_delivered(const reminder_t *r)
{
        return r->delivered_at != 0;
}

void reminder_topic_caseworker(const reminder_t *r, char *buf, size_t n)
{
        if (r->caseworker[0])
                snprintf(buf, n, "rem/%s/%s/", r->unit, r->caseworker);
        else
                reminder_topic_leads(r, buf, n);
}

void reminder_topic_leads(const reminder_t *r, char *buf, size_t n)
{
        snprintf(buf, n, "rem/%s/@leads/", r->unit);
}

/* A JSON string of s; invalid UTF-8 (a cut multibyte character) is trimmed, not fatal. */
static json_t *text_json(const char *s)
{
        json_t *j = json_string(s);
        size_t n = strlen(s);
        while (!j && n > 0)
                j = json_stringn(s, --n);
        return j ? j : json_string("");
}

json_t *reminder_to_json(const reminder_t *r, const char *op, int64_t rseq, bool with_state)
{
        char due[16], deliver[32];
        json_t *o;

        cal_format_date(r->due, due, sizeof(due));
        cal_format_rfc3339(r->deliver_at, deliver, sizeof(deliver));
        o = json_pack("{s:i, s:I, s:s, s:s, s:s, s:s, s:s}", "v", 1, "rseq", (json_int_t)rseq, "op", op,
                      "id", r->id, "rule", rules_name(r->rule), "case", r->case_id, "unit", r->unit);
        if (!o)
                return NULL;
        /* Protocol §2: a reminder with no caseworker yet has no caseworker member. */
        if (r->caseworker[0])
                json_object_set_new(o, "caseworker", json_string(r->caseworker));
        json_object_set_new(o, "severity", json_string(reminder_severity_name(r->severity)));
        json_object_set_new(o, "due_at", json_string(due));
        json_object_set_new(o, "deliver_at", json_string(deliver));
        /* Texts are UTF-8 by construction; a malformed one must not lose the whole message. */
        json_object_set_new(o, "title", text_json(r->title));
        json_object_set_new(o, "body", text_json(r->body));
        if (reminder_is_backlog(r))
                json_object_set_new(o, "backlog", json_true());
        if (strcmp(op, "resolved") == 0 && strncmp(r->close_reason, REM_SUPERSEDED_BY, strlen(REM_SUPERSEDED_BY)) == 0)
                json_object_set_new(o, "superseded_by", json_string(r->close_reason + strlen(REM_SUPERSEDED_BY)));
        if (o && with_state)
                json_object_set_new(o, "state", json_string(reminder_state_name(r->state)));
        return o;
}
