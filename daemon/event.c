/*
 * event.c owns the v1 event codec: it turns one feed message's JSON bytes
 * into an event_t, or into one precise and stable reason why not. The rules
 * it enforces are the project's protocol (proto/protocol.md §1; the JSON
 * Schemas in proto/schemas/ are their formal twin and the tests hold the two
 * together): the envelope members in a fixed order, then the `data` members
 * of the event's type from the table below, first failure wins. Reasons name
 * where and what ("data.month: not YYYY-MM") and never carry payload values,
 * because they are logged and stored beside dead letters. The lexical shape
 * of times, dates and months is checked here, since it is wire format; their
 * values are calendar.c's business. Identity numbers (pnr.c) are refused in
 * every id-shaped member and masked in free text. This file also owns the
 * stored forms: the normalised event (what the event log keeps) and the
 * minimised copy of a dead letter.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <jansson.h>
#include "event.h"
#include "name.h"
#include "pnr.h"

_Static_assert(EV_NAME_MAX == NAME_CHARS_MAX, "an id-shaped member holds any name of the grammar");

/* ---- name tables ----------------------------------------------------------- */

static const char *const barrier_names[] = {
        [BARRIER_UNEMPLOYMENT] = "unemployment",
        [BARRIER_SICKNESS] = "sickness",
        [BARRIER_SOCIAL_MEDICAL] = "social_medical",
        [BARRIER_OTHER] = "other",
        [BARRIER_UNCLEAR] = "unclear",
};

static const char *const outcome_names[] = {
        [OUTCOME_GRANTED] = "granted",
        [OUTCOME_PARTIAL] = "partial",
        [OUTCOME_REFUSED] = "refused",
};

static const char *const actor_names[] = {
        [ACTOR_AF] = "af",
        [ACTOR_FK] = "fk",
        [ACTOR_REGION] = "region",
        [ACTOR_OTHER] = "other",
};

/*
 * The `data` members a type may carry. Each has one decoder (event_field)
 * and one name; the type table says which ones a type has and whether they
 * are required, like a protocol model rather than code per type.
 */
typedef enum ev_field {
        F_END = 0,
        F_CASEWORKER,
        F_HOUSEHOLD,
        F_BARRIER,
        F_UNIT,
        F_MONTH,
        F_OUTCOME,
        F_DECISION,
        F_CHILD_IMPACT_DOCUMENTED,
        F_VIOLENCE_DISCLOSED,
        F_FOLLOW_UP_AT,
        F_UNTIL,
        F_REASON,
        F_HOME_VISIT,
        F_YEAR,
        F_ACTOR,
} ev_field_t;

static const char *const field_names[] = {
        [F_CASEWORKER] = "caseworker",
        [F_HOUSEHOLD] = "household",
        [F_BARRIER] = "barrier",
        [F_UNIT] = "unit",
        [F_MONTH] = "month",
        [F_OUTCOME] = "outcome",
        [F_DECISION] = "decision",
        [F_CHILD_IMPACT_DOCUMENTED] = "child_impact_documented",
        [F_VIOLENCE_DISCLOSED] = "violence_disclosed",
        [F_FOLLOW_UP_AT] = "follow_up_at",
        [F_UNTIL] = "until",
        [F_REASON] = "reason",
        [F_HOME_VISIT] = "home_visit",
        [F_YEAR] = "year",
        [F_ACTOR] = "actor",
};

#define EV_MEMBERS_MAX 4

typedef struct ev_member {
        ev_field_t field;
        bool required;
} ev_member_t;

typedef struct ev_type_def {
        const char *name;
        ev_member_t members[EV_MEMBERS_MAX + 1];   /* ends with F_END */
        bool needs_any;                            /* at least one member present */
} ev_type_def_t;

#define REQ(f) { (f), true }
#define OPT(f) { (f), false }

/* protocol.md §1.3; a type without members ignores whatever its data holds. */
static const ev_type_def_t ev_types[EV__COUNT] = {
        [EV_CASE_OPENED] = { .name = "case.opened",
                .members = { REQ(F_CASEWORKER), REQ(F_HOUSEHOLD), REQ(F_BARRIER) } },
        [EV_CASE_UPDATED] = { .name = "case.updated", .needs_any = true,
                .members = { OPT(F_HOUSEHOLD), OPT(F_BARRIER), OPT(F_UNIT) } },
        [EV_CASE_CLOSED] = { .name = "case.closed", .members = { OPT(F_REASON) } },
        [EV_CASE_REOPENED] = { .name = "case.reopened", .members = { OPT(F_CASEWORKER) } },
        [EV_CASEWORKER_ASSIGNED] = { .name = "caseworker.assigned", .members = { REQ(F_CASEWORKER) } },
        [EV_ASSISTANCE_DECIDED] = { .name = "assistance.decided",
                .members = { REQ(F_MONTH), REQ(F_OUTCOME), REQ(F_DECISION), OPT(F_CHILD_IMPACT_DOCUMENTED) } },
        [EV_CHILD_IMPACT_DOCUMENTED] = { .name = "child_impact.documented", .members = { REQ(F_DECISION) } },
        [EV_IB1_COMPLETED] = { .name = "ib1.completed" },
        [EV_IB2_COMPLETED] = { .name = "ib2.completed" },
        [EV_IB3_COMPLETED] = { .name = "ib3.completed", .members = { OPT(F_VIOLENCE_DISCLOSED) } },
        [EV_IB4_ESTABLISHED] = { .name = "ib4.established", .members = { OPT(F_FOLLOW_UP_AT) } },
        [EV_IB4_REVISED] = { .name = "ib4.revised", .members = { OPT(F_FOLLOW_UP_AT) } },
        [EV_IB4_EXEMPTED] = { .name = "ib4.exempted", .members = { REQ(F_REASON), OPT(F_UNTIL) } },
        [EV_FIA_STARTED] = { .name = "fia.started" },
        [EV_FIA_COMPLETED] = { .name = "fia.completed" },
        [EV_FIA_DECLINED] = { .name = "fia.declined", .members = { REQ(F_REASON) } },
        [EV_CHILDREN_MAPPED] = { .name = "children.mapped", .members = { OPT(F_HOME_VISIT) } },
        [EV_SUMMER_ALLOWANCE_APPLIED] = { .name = "summer_allowance.applied", .members = { REQ(F_YEAR) } },
        [EV_ACTOR_INVOLVED] = { .name = "actor.involved", .members = { REQ(F_ACTOR) } },
        [EV_ACTOR_ENDED] = { .name = "actor.ended", .members = { REQ(F_ACTOR) } },
        [EV_SIP_INITIATED] = { .name = "sip.initiated" },
        [EV_SIP_MEETING_HELD] = { .name = "sip.meeting_held" },
        [EV_SIP_ESTABLISHED] = { .name = "sip.established", .members = { OPT(F_FOLLOW_UP_AT) } },
        [EV_SIP_FOLLOWED_UP] = { .name = "sip.followed_up" },
        [EV_SIP_ENDED] = { .name = "sip.ended" },
        [EV_SIP_DECLINED] = { .name = "sip.declined", .members = { REQ(F_REASON) } },
        [EV_HEALTH_FLAGGED] = { .name = "health.flagged" },
        [EV_WORK_CAPACITY_ASSESSED] = { .name = "work_capacity.assessed" },
        [EV_SAFETY_FOLLOWED_UP] = { .name = "safety.followed_up" },
};

/* Bounds that the protocol leaves to the implementation (proto/protocol.md). */
#define EV_ADULTS_MAX   99
#define EV_YEAR_MIN     2000
#define EV_YEAR_MAX     2100

const char *event_type_name(ev_type_t t)
{
        if (t <= EV_UNKNOWN || t >= EV__COUNT)
                return NULL;
        return ev_types[t].name;
}

ev_type_t event_type_from_name(const char *name)
{
        if (!name)
                return EV_UNKNOWN;
        for (int t = EV_UNKNOWN + 1; t < EV__COUNT; t++)
                if (strcmp(ev_types[t].name, name) == 0)
                        return (ev_type_t)t;
        return EV_UNKNOWN;
}

static const char *name_of(const char *const *names, size_t n, int i)
{
        return i > 0 && (size_t)i < n ? names[i] : NULL;
}

const char *event_barrier_name(ev_barrier_t b)
{
        return name_of(barrier_names, BK_ARRAY_SIZE(barrier_names), (int)b);
}

const char *event_actor_name(ev_actor_t a)
{
        return name_of(actor_names, BK_ARRAY_SIZE(actor_names), (int)a);
}

const char *event_outcome_name(ev_outcome_t o)
{
        return name_of(outcome_names, BK_ARRAY_SIZE(outcome_names), (int)o);
}

/* ---- personnummer ---------------------------------------------------------- */

static bool is_digit(char ch)
{
        /* Not isdigit(): the locale must not widen what counts as a digit. */
        return ch >= '0' && ch <= '9';
}

bool event_has_personnummer(const char *s)
{
        return pnr_has(s);
}

/* ---- reasons --------------------------------------------------------------- */

typedef struct ev_ctx {
        char *reason;
        size_t reason_size;
} ev_ctx_t;

/* Writes "<where>.<member>: <problem>" (or "<where>: …", or just the problem). */
static int ctx_fail(ev_ctx_t *c, const char *where, const char *member, const char *fmt, ...)
        BK_PRINTF(4, 5);

static int ctx_fail(ev_ctx_t *c, const char *where, const char *member, const char *fmt, ...)
{
        char problem[EV_PARSE_REASON_SIZE];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(problem, sizeof(problem), fmt, ap);
        va_end(ap);
        if (!c->reason || !c->reason_size)
                return BK_E_INVALID;
        if (where && member)
                snprintf(c->reason, c->reason_size, "%s.%s: %s", where, member, problem);
        else if (where)
                snprintf(c->reason, c->reason_size, "%s: %s", where, problem);
        else
                snprintf(c->reason, c->reason_size, "%s", problem);
        return BK_E_INVALID;
}

/*
 * jansson appends " near '<token>'" with up to 20 bytes of the input, which
 * could be part of a personnummer; reasons never carry payload bytes, so
 * that context is cut. " near end of file" carries none and stays.
 */
static int ctx_fail_json(ev_ctx_t *c, const json_error_t *jerr)
{
        char text[sizeof(jerr->text)];
        char *near;

        bk_strlcpy(text, jerr->text, sizeof(text));
        near = strstr(text, " near '");
        if (near)
                *near = '\0';
        /* Latin-1 from a Swedish case system (S\xf6der) is the likely cause: say it plainly. */
        if (json_error_code(jerr) == json_error_invalid_utf8)
                return ctx_fail(c, NULL, NULL, "not JSON: bytes are not UTF-8 (Latin-1?): %s at line %d column %d",
                                text, jerr->line, jerr->column);
        return ctx_fail(c, NULL, NULL, "not JSON: %s at line %d column %d",
                        text, jerr->line, jerr->column);
}

/* ---- member readers --------------------------------------------------------- */

/* C0 controls, DEL and C1 controls (U+0080–U+009F, UTF-8 C2 80–C2 9F). */
static bool has_control(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                unsigned char b = (unsigned char)s[i];

                if (b < 0x20 || b == 0x7f)
                        return true;
                if (b == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
                    (unsigned char)s[i + 1] <= 0x9f)
                        return true;
        }
        return false;
}

/* A string of 1..max bytes without control characters, or the problem. */
static const char *string_problem(const json_t *j, size_t max, char *buf, size_t buf_size)
{
        size_t len;

        if (!json_is_string(j))
                return "must be a string";
        len = json_string_length(j);
        if (len == 0)
                return "empty";
        if (len > max) {
                snprintf(buf, buf_size, "longer than %zu", max);
                return buf;
        }
        if (has_control(json_string_value(j), len))
                return "contains a control character";
        return NULL;
}

/*
 * Reads obj[key] as a string of 1..max bytes into dst (which holds max + 1).
 * Absent and not required is fine: *present says which.
 */
static int take_string(ev_ctx_t *c, const json_t *obj, const char *where, const char *key,
                       bool required, size_t max, char *dst, bool *present)
{
        json_t *j = json_object_get(obj, key);
        const char *problem;
        char buf[32];

        if (present)
                *present = false;
        if (!j)
                return required ? ctx_fail(c, where, key, "missing") : 0;
        problem = string_problem(j, max, buf, sizeof(buf));
        if (problem)
                return ctx_fail(c, where, key, "%s", problem);
        memcpy(dst, json_string_value(j), json_string_length(j) + 1);
        if (present)
                *present = true;
        return 0;
}

/*
 * An id-shaped string (ids, names, the type): as take_string, and one that
 * holds a personnummer or samordningsnummer is refused, whatever member it is
 * (domain.md §3; the bytes then go to the dead letters masked).
 */
static int take_id(ev_ctx_t *c, const json_t *obj, const char *where, const char *key,
                   bool required, size_t max, char *dst, bool *present)
{
        int r = take_string(c, obj, where, key, required, max, dst, present);

        if (r == 0 && pnr_has(dst))
                return ctx_fail(c, where, key, "holds a personnummer");
        return r;
}

/*
 * A name that becomes part of a topic, an identity or a log field (unit,
 * caseworker, actor, source): as take_id, and of name.h's one grammar, so
 * that "hk1/x" can never publish on another caseworker's topic.
 */
static int take_name(ev_ctx_t *c, const json_t *obj, const char *where, const char *key,
                     bool required, char *dst, bool *present)
{
        bool here = false;
        int r = take_id(c, obj, where, key, required, EV_NAME_MAX, dst, &here);

        if (present)
                *present = here;
        if (r == 0 && here && !name_ok(dst))
                return ctx_fail(c, where, key, "bad name (must match " NAME_GRAMMAR ")");
        return r;
}

/*
 * A free-text string: as take_string, then every personnummer in it is
 * replaced by PNR_MASK (counted in *masked) and the text cut at
 * EV_FREE_TEXT_CHARS characters. Only this form is ever stored.
 */
static int take_free_text(ev_ctx_t *c, const json_t *obj, const char *where, const char *key,
                          bool required, char *dst, bool *present, int *masked)
{
        char raw[EV_REASON_MAX + 1], out[EV_REASON_MAX + PNR_MASK_LEN + 1];
        size_t n;
        int r = take_string(c, obj, where, key, required, EV_REASON_MAX, raw, present);

        if (r != 0 || !*present)
                return r;
        *masked += pnr_mask(raw, strlen(raw), out, sizeof(out), &n);
        n = pnr_utf8_prefix(out, n, EV_FREE_TEXT_CHARS);
        /* the cut can leave a number where a longer run was none (13 digits cut to 12): again */
        *masked += pnr_mask(out, n, dst, EV_REASON_MAX + 1, NULL);
        return 0;
}

/*
 * An integer token in [min, max]; 1.0 is refused because the protocol's
 * integers are JSON integers. problem NULL says "must be an integer MIN..MAX".
 */
static int take_int(ev_ctx_t *c, const json_t *obj, const char *where, const char *key,
                    bool required, json_int_t min, json_int_t max, const char *problem,
                    json_int_t *out, bool *present)
{
        json_t *j = json_object_get(obj, key);

        if (present)
                *present = false;
        if (!j)
                return required ? ctx_fail(c, where, key, "missing") : 0;
        if (!json_is_integer(j) || json_integer_value(j) < min || json_integer_value(j) > max) {
                if (problem)
                        return ctx_fail(c, where, key, "%s", problem);
                return ctx_fail(c, where, key, "must be an integer %" JSON_INTEGER_FORMAT
                                "..%" JSON_INTEGER_FORMAT, min, max);
        }
        *out = json_integer_value(j);
        if (present)
                *present = true;
        return 0;
}

static int take_bool(ev_ctx_t *c, const json_t *obj, const char *where, const char *key,
                     bool required, bool *out)
{
        json_t *j = json_object_get(obj, key);

        if (!j)
                return required ? ctx_fail(c, where, key, "missing") : 0;
        if (!json_is_boolean(j))
                return ctx_fail(c, where, key, "must be a boolean");
        *out = json_is_true(j);
        return 0;
}

/* One of names[1..n-1]; index 0 is the enum's NONE and never on the wire. */
static int take_enum(ev_ctx_t *c, const json_t *obj, const char *where, const char *key,
                     bool required, const char *const *names, size_t n, int *out, bool *present)
{
        json_t *j = json_object_get(obj, key);
        char list[128] = "";

        if (present)
                *present = false;
        if (!j)
                return required ? ctx_fail(c, where, key, "missing") : 0;
        if (json_is_string(j)) {
                for (size_t i = 1; i < n; i++) {
                        if (strcmp(json_string_value(j), names[i]) == 0) {
                                *out = (int)i;
                                if (present)
                                        *present = true;
                                return 0;
                        }
                }
        }
        for (size_t i = 1; i < n; i++) {
                if (i > 1)
                        strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                strncat(list, names[i], sizeof(list) - strlen(list) - 1);
        }
        return ctx_fail(c, where, key, "must be one of %s", list);
}

/* Whether s starts with pattern, where 'D' is an ASCII digit and anything else itself. */
static bool shape_prefix(const char *s, const char *pattern)
{
        for (; *pattern; s++, pattern++) {
                if (*pattern == 'D' ? !is_digit(*s) : *s != *pattern)
                        return false;
        }
        return true;
}

static bool shape_is(const char *s, const char *pattern)
{
        return shape_prefix(s, pattern) && s[strlen(pattern)] == '\0';
}

/*
 * RFC 3339 date-time (§5.6): full-date "T" time ["." digits] ("Z" / ±HH:MM).
 * RFC 3339 lets T and Z be lower case; a space for T, or no offset, is not
 * RFC 3339 and is refused here whatever a calendar parser might allow.
 */
static bool shape_is_rfc3339(const char *s)
{
        size_t i = 19;

        if (!shape_prefix(s, "DDDD-DD-DD") || (s[10] != 'T' && s[10] != 't') ||
            !shape_prefix(s + 11, "DD:DD:DD"))
                return false;
        if (s[i] == '.') {
                if (!is_digit(s[++i]))
                        return false;
                while (is_digit(s[i]))
                        i++;
        }
        if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0')
                return true;
        return (s[i] == '+' || s[i] == '-') && shape_is(s + i + 1, "DD:DD");
}

/* Non-strings are "must be a string"; a string of the wrong shape or no real date is not. */
static int take_date(ev_ctx_t *c, const json_t *obj, const char *where, const char *key,
                     bool required, cal_day_t *out, bool *present)
{
        json_t *j = json_object_get(obj, key);

        *present = false;
        if (!j)
                return required ? ctx_fail(c, where, key, "missing") : 0;
        if (!json_is_string(j))
                return ctx_fail(c, where, key, "must be a string");
        if (!shape_is(json_string_value(j), "DDDD-DD-DD") ||
            cal_parse_date(json_string_value(j), out) < 0)
                return ctx_fail(c, where, key, "not YYYY-MM-DD");
        *present = true;
        return 0;
}

static int parse_month(const json_t *j, cal_month_t *out)
{
        if (!shape_is(json_string_value(j), "DDDD-DD") ||
            cal_parse_month(json_string_value(j), out) < 0)
                return -EINVAL;
        return 0;
}

static int take_month(ev_ctx_t *c, const json_t *obj, const char *where, const char *key,
                      bool required, cal_month_t *out, bool *present)
{
        json_t *j = json_object_get(obj, key);

        *present = false;
        if (!j)
                return required ? ctx_fail(c, where, key, "missing") : 0;
        if (!json_is_string(j))
                return ctx_fail(c, where, key, "must be a string");
        if (parse_month(j, out) < 0)
                return ctx_fail(c, where, key, "not YYYY-MM");
        *present = true;
        return 0;
}

/*
 * A household is always a whole snapshot (all three members), so case.updated
 * replaces the fact instead of merging halves of two households.
 */
static int take_household(ev_ctx_t *c, const json_t *data, const char *key, bool required,
                          ev_household_t *h, bool *present)
{
        static const char where[] = "data.household";
        json_t *j = json_object_get(data, key), *kids, *kid;
        json_int_t adults = 0;
        size_t i;
        int r;

        *present = false;
        if (!j)
                return required ? ctx_fail(c, "data", key, "missing") : 0;
        if (!json_is_object(j))
                return ctx_fail(c, "data", key, "must be an object");
        r = take_int(c, j, where, "adults", true, 0, EV_ADULTS_MAX,
                     NULL, &adults, NULL);
        if (r)
                return r;
        h->adults = (int)adults;
        r = take_bool(c, j, where, "single_parent", true, &h->single_parent);
        if (r)
                return r;
        kids = json_object_get(j, "children");
        if (!kids)
                return ctx_fail(c, where, "children", "missing");
        if (!json_is_array(kids))
                return ctx_fail(c, where, "children", "must be an array");
        if (json_array_size(kids) > EV_MAX_CHILDREN)
                return ctx_fail(c, where, "children", "more than %d", EV_MAX_CHILDREN);
        json_array_foreach(kids, i, kid) {
                char member[32];

                snprintf(member, sizeof(member), "children[%zu]", i);
                if (!json_is_string(kid))
                        return ctx_fail(c, where, member, "must be a string");
                if (parse_month(kid, &h->children[i]) < 0)
                        return ctx_fail(c, where, member, "not YYYY-MM");
        }
        h->n_children = (int)json_array_size(kids);
        *present = true;
        return 0;
}

static int event_field(ev_ctx_t *c, const json_t *data, ev_member_t m, ev_data_t *d, bool *present)
{
        const char *key = field_names[m.field];
        json_int_t year = 0;
        int val = 0, r;

        *present = false;
        switch (m.field) {
        case F_CASEWORKER:
                r = take_name(c, data, "data", key, m.required, d->caseworker, present);
                d->has_caseworker = *present;
                return r;
        case F_HOUSEHOLD:
                r = take_household(c, data, key, m.required, &d->household, present);
                d->has_household = *present;
                return r;
        case F_BARRIER:
                r = take_enum(c, data, "data", key, m.required, barrier_names,
                              BK_ARRAY_SIZE(barrier_names), &val, present);
                d->has_barrier = *present;
                d->barrier = (ev_barrier_t)val;
                return r;
        case F_UNIT:
                r = take_name(c, data, "data", key, m.required, d->unit, present);
                d->has_unit = *present;
                return r;
        case F_MONTH:
                r = take_month(c, data, "data", key, m.required, &d->month, present);
                d->has_month = *present;
                return r;
        case F_OUTCOME:
                r = take_enum(c, data, "data", key, m.required, outcome_names,
                              BK_ARRAY_SIZE(outcome_names), &val, present);
                d->outcome = (ev_outcome_t)val;
                return r;
        case F_DECISION:
                r = take_id(c, data, "data", key, m.required, EV_NAME_MAX, d->decision, present);
                d->has_decision = *present;
                return r;
        case F_CHILD_IMPACT_DOCUMENTED:
                return take_bool(c, data, "data", key, m.required, &d->child_impact_documented);
        case F_VIOLENCE_DISCLOSED:
                return take_bool(c, data, "data", key, m.required, &d->violence_disclosed);
        case F_HOME_VISIT:
                return take_bool(c, data, "data", key, m.required, &d->home_visit);
        case F_FOLLOW_UP_AT:
                r = take_date(c, data, "data", key, m.required, &d->follow_up_at, present);
                d->has_follow_up_at = *present;
                return r;
        case F_UNTIL:
                r = take_date(c, data, "data", key, m.required, &d->until, present);
                d->has_until = *present;
                return r;
        case F_REASON:
                r = take_free_text(c, data, "data", key, m.required, d->reason, present, &d->masked);
                d->has_reason = *present;
                return r;
        case F_YEAR:
                r = take_int(c, data, "data", key, m.required, EV_YEAR_MIN, EV_YEAR_MAX,
                             NULL, &year, present);
                d->has_year = *present;
                d->year = (int)year;
                return r;
        case F_ACTOR:
                r = take_enum(c, data, "data", key, m.required, actor_names,
                              BK_ARRAY_SIZE(actor_names), &val, present);
                d->actor = (ev_actor_t)val;
                return r;
        case F_END:
                break;
        }
        return 0;
}

/* data may be NULL (absent), which reads as {}. */
static int event_data(ev_ctx_t *c, ev_type_t type, const json_t *data, ev_data_t *d)
{
        const ev_type_def_t *def = &ev_types[type];
        char list[128] = "";
        bool any = false;

        for (const ev_member_t *m = def->members; m->field != F_END; m++) {
                bool present;
                int r = event_field(c, data, *m, d, &present);

                if (r)
                        return r;
                any |= present;
        }
        if (!def->needs_any || any)
                return 0;
        for (const ev_member_t *m = def->members; m->field != F_END; m++) {
                if (m != def->members)
                        strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                strncat(list, field_names[m->field], sizeof(list) - strlen(list) - 1);
        }
        return ctx_fail(c, "data", NULL, "needs at least one of %s", list);
}

/* ---- envelope --------------------------------------------------------------- */

/*
 * The feed position, read on its own: an event that fails validation still
 * moves its source's seq on (protocol.md §1), so it must not depend on the
 * members that failed.
 */
static void envelope_position(const json_t *root, char source[static EV_SOURCE_MAX + 1],
                              int64_t *seq)
{
        json_t *s = json_object_get(root, "source"), *q = json_object_get(root, "seq");
        char buf[32];

        *seq = 0;
        source[0] = '\0';
        /* A source outside the name grammar (or holding a personnummer) is no position: it would be
         * stored and logged. */
        if (!s || string_problem(s, EV_SOURCE_MAX, buf, sizeof(buf)) || pnr_has(json_string_value(s)) ||
            !name_ok(json_string_value(s)))
                return;
        if (!q || !json_is_integer(q) || json_integer_value(q) < 1)
                return;
        bk_strlcpy(source, json_string_value(s), EV_SOURCE_MAX + 1);
        *seq = json_integer_value(q);
}

static int envelope_parse(ev_ctx_t *c, const json_t *root, event_t *ev)
{
        static const char where[] = "envelope";
        json_t *j, *data;
        json_int_t seq = 0;
        int r;

        j = json_object_get(root, "v");
        if (!j)
                return ctx_fail(c, where, "v", "missing");
        if (!json_is_integer(j))
                return ctx_fail(c, where, "v", "must be an integer");
        if (json_integer_value(j) != 1)
                return ctx_fail(c, where, "v", "unsupported version %" JSON_INTEGER_FORMAT,
                                json_integer_value(j));
        ev->v = 1;

        r = take_id(c, root, where, "id", true, EV_ID_MAX, ev->id, NULL);
        if (r)
                return r;
        r = take_name(c, root, where, "source", true, ev->source, NULL);
        if (r)
                return r;
        r = take_int(c, root, where, "seq", true, 1, INT64_MAX, "must be a positive integer",
                     &seq, NULL);
        if (r)
                return r;
        ev->seq = seq;
        r = take_id(c, root, where, "type", true, EV_TYPE_MAX, ev->type_name, NULL);
        if (r)
                return r;
        ev->type = event_type_from_name(ev->type_name);

        j = json_object_get(root, "at");
        if (!j)
                return ctx_fail(c, where, "at", "missing");
        if (!json_is_string(j))
                return ctx_fail(c, where, "at", "must be a string");
        if (!shape_is_rfc3339(json_string_value(j)) || cal_parse_rfc3339(json_string_value(j), &ev->at) < 0)
                return ctx_fail(c, where, "at", "not RFC 3339 with offset");

        r = take_id(c, root, where, "case", true, EV_NAME_MAX, ev->case_id, NULL);
        if (r)
                return r;
        r = take_name(c, root, where, "unit", true, ev->unit, NULL);
        if (r)
                return r;
        r = take_name(c, root, where, "actor", false, ev->actor, &ev->has_actor);
        if (r)
                return r;

        data = json_object_get(root, "data");
        if (data && !json_is_object(data))
                return ctx_fail(c, where, "data", "must be an object");
        /* A newer adapter's type is stored and counted, not judged by v1's table. */
        if (ev->type == EV_UNKNOWN)
                return 0;
        return event_data(c, ev->type, data, &ev->data);
}

int event_parse(const char *buf, size_t len, event_t *ev, char *reason, size_t reason_size)
{
        json_auto_t *root = NULL;
        ev_ctx_t c = { reason, reason_size };
        char source[EV_SOURCE_MAX + 1];
        json_error_t jerr;
        int64_t seq;
        int r;

        memset(ev, 0, sizeof(*ev));
        if (reason && reason_size)
                reason[0] = '\0';
        /* DECODE_ANY: a bare 42 is JSON, just not an object, and says so. */
        root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (!root)
                return ctx_fail_json(&c, &jerr);
        if (!json_is_object(root))
                return ctx_fail(&c, NULL, NULL, "not an object");
        r = envelope_parse(&c, root, ev);
        if (r == 0)
                return 0;
        /* Half-decoded events must not look usable: keep only the position. */
        envelope_position(root, source, &seq);
        memset(ev, 0, sizeof(*ev));
        bk_strlcpy(ev->source, source, sizeof(ev->source));
        ev->seq = seq;
        return r;
}

/* ---- stored forms ------------------------------------------------------------ */

/* One `data` member of a decoded event, key and value; nothing when absent. Optional booleans
 * read as false when absent, so false is left out. */
static void write_field(jw_t *w, ev_field_t f, const ev_data_t *d)
{
        const char *str = NULL;
        char buf[16];

        switch (f) {
        case F_CASEWORKER: str = d->has_caseworker ? d->caseworker : NULL; break;
        case F_UNIT: str = d->has_unit ? d->unit : NULL; break;
        case F_DECISION: str = d->has_decision ? d->decision : NULL; break;
        case F_REASON: str = d->has_reason ? d->reason : NULL; break;
        case F_BARRIER: str = d->has_barrier ? event_barrier_name(d->barrier) : NULL; break;
        case F_OUTCOME: str = d->outcome ? event_outcome_name(d->outcome) : NULL; break;
        case F_ACTOR: str = d->actor ? event_actor_name(d->actor) : NULL; break;
        case F_MONTH:
                if (d->has_month) {
                        cal_format_month(d->month, buf, sizeof(buf));
                        str = buf;
                }
                break;
        case F_FOLLOW_UP_AT:
        case F_UNTIL:
                if (f == F_FOLLOW_UP_AT ? d->has_follow_up_at : d->has_until) {
                        cal_format_date(f == F_FOLLOW_UP_AT ? d->follow_up_at : d->until, buf, sizeof(buf));
                        str = buf;
                }
                break;
        case F_YEAR:
                if (d->has_year) {
                        jw_key(w, field_names[f]);
                        jw_int(w, d->year);
                }
                return;
        case F_CHILD_IMPACT_DOCUMENTED:
        case F_VIOLENCE_DISCLOSED:
        case F_HOME_VISIT:
                if (f == F_HOME_VISIT ? d->home_visit :
                    f == F_VIOLENCE_DISCLOSED ? d->violence_disclosed : d->child_impact_documented) {
                        jw_key(w, field_names[f]);
                        jw_bool(w, true);
                }
                return;
        case F_HOUSEHOLD:
                if (!d->has_household)
                        return;
                jw_key(w, field_names[f]);
                jw_open(w, '{');
                jw_key(w, "adults");
                jw_int(w, d->household.adults);
                jw_key(w, "single_parent");
                jw_bool(w, d->household.single_parent);
                jw_key(w, "children");
                jw_open(w, '[');
                for (int i = 0; i < d->household.n_children; i++) {
                        cal_format_month(d->household.children[i], buf, sizeof(buf));
                        jw_str(w, buf);
                }
                jw_close(w, ']');
                jw_close(w, '}');
                return;
        case F_END:
                return;
        }
        if (str) {
                jw_key(w, field_names[f]);
                jw_str(w, str);
        }
}

void event_write_head(jw_t *w, const char *id, const char *source, int64_t seq, const char *type,
                      bk_time_t at, const char *case_id)
{
        char when[32];

        cal_format_rfc3339(at, when, sizeof(when));
        jw_open(w, '{');
        jw_key(w, "v");
        jw_int(w, 1);
        jw_key(w, "id");
        jw_str(w, id);
        jw_key(w, "source");
        jw_str(w, source);
        jw_key(w, "seq");
        jw_int(w, seq);
        jw_key(w, "type");
        jw_str(w, type);
        jw_key(w, "at");
        jw_str(w, when);
        jw_key(w, "case");
        jw_str(w, case_id);
}

/* The members after `case`, in protocol order: unit, actor, data. */
static void write_rest(jw_t *w, const event_t *ev)
{
        jw_key(w, "unit");
        jw_str(w, ev->unit);
        if (ev->has_actor) {
                jw_key(w, "actor");
                jw_str(w, ev->actor);
        }
        jw_key(w, "data");
        jw_open(w, '{');
        if (ev->type > EV_UNKNOWN && ev->type < EV__COUNT)
                for (const ev_member_t *m = ev_types[ev->type].members; m->field != F_END; m++)
                        write_field(w, m->field, &ev->data);
        jw_close(w, '}');
}

void event_write_tail(jw_t *w, const event_t *ev)
{
        jw_open(w, '{');
        write_rest(w, ev);
        jw_close(w, '}');
}

int event_write_join(jw_t *w, const char *id, const char *source, int64_t seq, const char *type,
                     bk_time_t at, const char *case_id, const char *tail, size_t tail_len)
{
        if (tail_len < 2 || tail[0] != '{' || tail[tail_len - 1] != '}')
                return BK_E_INVALID;
        event_write_head(w, id, source, seq, type, at, case_id);
        if (tail_len > 2)
                jw_raw(w, ",", 1);
        jw_raw(w, tail + 1, tail_len - 1);
        w->comma = true;
        return 0;
}

char *event_normalize(const event_t *ev, size_t *len)
{
        jw_t w = { 0 };

        event_write_head(&w, ev->id, ev->source, ev->seq, ev->type_name, ev->at, ev->case_id);
        write_rest(&w, ev);
        jw_close(&w, '}');
        return jw_take(&w, len);
}

/* A JSON value with every string masked and cut (free text), nested ones too; a new reference. */
static json_t *masked_copy(const json_t *v)
{
        char out[4 * EV_FREE_TEXT_CHARS + PNR_MASK_LEN + 1];
        const char *key;
        json_t *m, *copy;
        size_t i, n;

        if (json_is_string(v)) {
                size_t len = json_string_length(v);
                char again[sizeof(out)];
                pnr_mask(json_string_value(v), len, out, sizeof(out), &n);
                n = pnr_utf8_prefix(out, n, EV_FREE_TEXT_CHARS);
                pnr_mask(out, n, again, sizeof(again), &n);   /* the cut may make a number */
                json_t *str = json_stringn(again, n);
                return str ? str : json_string(PNR_MASK);
        }
        if (json_is_array(v)) {
                copy = json_array();
                json_array_foreach(v, i, m) {
                        if (i >= EV_MAX_CHILDREN)
                                break;
                        json_array_append_new(copy, masked_copy(m));
                }
                return copy;
        }
        if (json_is_object(v)) {
                copy = json_object();
                json_object_foreach((json_t *)v, key, m) {
                        char k[64];
                        /* keys are strings too: masked, cut */
                        pnr_mask(key, strlen(key), k, sizeof(k), NULL);
                        json_object_set_new(copy, k, masked_copy(m));
                }
                return copy;
        }
        return json_deep_copy(v);
}

/* The member a reason names: "data.month: …" is data.month, "envelope.case: …" is case. */
static void reason_member(const char *reason, char *where, size_t wn, char *member, size_t mn)
{
        const char *dot = strchr(reason, '.'), *end;
        size_t n;

        where[0] = member[0] = '\0';
        if (!dot || !(end = strpbrk(dot + 1, ".:[")))
                return;
        n = BK_MIN((size_t)(dot - reason), wn - 1);
        memcpy(where, reason, n);
        where[n] = '\0';
        n = BK_MIN((size_t)(end - dot - 1), mn - 1);
        memcpy(member, dot + 1, n);
        member[n] = '\0';
}

/* The members of a JSON object that show why it failed: position, identity, the named member. */
static json_t *dead_letter_members(const json_t *root, const char *reason)
{
        static const char *const keep[] = { "v", "id", "source", "seq", "type", "at" };
        char where[32], member[64];
        json_t *o = json_object(), *v, *data;

        for (size_t i = 0; i < BK_ARRAY_SIZE(keep); i++)
                if ((v = json_object_get(root, keep[i])))
                        json_object_set_new(o, keep[i], masked_copy(v));
        reason_member(reason ? reason : "", where, sizeof(where), member, sizeof(member));
        if (strcmp(where, "envelope") == 0 && (v = json_object_get(root, member)))
                json_object_set_new(o, member, masked_copy(v));
        if (strncmp(where, "data", 4) == 0 && (data = json_object_get(root, "data"))) {
                json_t *d = json_object();
                /* Free text may name a person; its reason (length, a control character) shows without it. */
                if (json_is_object(data) && (v = json_object_get(data, member)))
                        json_object_set_new(d, member, strcmp(member, "reason") == 0 ?
                                            json_string("(free text withheld)") : masked_copy(v));
                json_object_set_new(o, "data", d);
        }
        return o;
}

char *event_dead_letter_form(const char *raw, size_t len, const char *reason, size_t *out_len)
{
        json_t *root = json_loadb(raw, BK_MIN(len, (size_t)EV_RAW_MAX), JSON_DECODE_ANY, NULL);
        char *text = NULL;

        if (json_is_object(root)) {
                json_t *o = dead_letter_members(root, reason);
                text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
                json_decref(o);
                json_decref(root);
                if (text)
                        *out_len = strlen(text);
                return text;
        }
        json_decref(root);
        /* Not an object: the bytes, cut, masked (a number cut in two by the cut is masked first). */
        size_t n = BK_MIN(len, (size_t)EV_DEAD_KEPT_MAX + 64);
        char once[EV_DEAD_KEPT_MAX + 1];
        size_t k = 0;
        if (!(text = malloc(EV_DEAD_KEPT_MAX + 1)))
                return NULL;
        pnr_mask(raw, n, once, sizeof(once), &k);
        pnr_mask(once, k, text, EV_DEAD_KEPT_MAX + 1, out_len);   /* the cut may make a number */
        return text;
}
