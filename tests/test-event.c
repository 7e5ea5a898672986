/*
 * test-event.c checks the event codec against the protocol: every v1 type
 * decodes into the right fields, every failure gives its exact reason and
 * keeps the feed position when it can, reasons never echo payload values,
 * the personnummer detector finds real numbers (and samordningsnummer) and
 * nothing else, and the shared examples in proto/examples/ mean what their
 * names and .reason files say, so the spec, the schemas and this code
 * cannot drift apart unnoticed.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include "event.h"
#include "tap.h"

#define ENVELOPE_HEAD(type) \
        "{\"v\":1,\"id\":\"paraply-7f3c2a9e-0001\",\"source\":\"paraply-hv\",\"seq\":184467," \
        "\"type\":\"" type "\",\"at\":\"2026-03-02T10:15:00+01:00\",\"case\":\"EB-2024-001234\"," \
        "\"unit\":\"HV-EB-1\",\"actor\":\"hk1234\""
#define EVENT(type, data) ENVELOPE_HEAD(type) ",\"data\":" data "}"

#define AT_2026_03_02_0915Z 1772442900

static char reason[EV_PARSE_REASON_SIZE];

static int parse(const char *json, event_t *ev)
{
        return event_parse(json, strlen(json), ev, reason, sizeof(reason));
}

/* ---- the envelope ---------------------------------------------------------- */

static void test_envelope_ok(void)
{
        event_t ev;

        CHECK_INT(parse(EVENT("ib1.completed", "{}"), &ev), 0);
        CHECK_STR(reason, "");
        CHECK_INT(ev.v, 1);
        CHECK_STR(ev.id, "paraply-7f3c2a9e-0001");
        CHECK_STR(ev.source, "paraply-hv");
        CHECK_INT(ev.seq, 184467);
        CHECK_STR(ev.type_name, "ib1.completed");
        CHECK_INT(ev.type, EV_IB1_COMPLETED);
        CHECK_INT(ev.at, AT_2026_03_02_0915Z);
        CHECK_STR(ev.case_id, "EB-2024-001234");
        CHECK_STR(ev.unit, "HV-EB-1");
        CHECK(ev.has_actor);
        CHECK_STR(ev.actor, "hk1234");

        /* data and actor are optional; unknown members are ignored. */
        CHECK_INT(parse("{\"v\":1,\"id\":\"e1\",\"source\":\"s\",\"seq\":1,\"type\":\"fia.started\","
                        "\"at\":\"2026-03-02T09:15:00Z\",\"case\":\"EB-1\",\"unit\":\"U\","
                        "\"x-later\":{\"a\":[1,2]}}", &ev), 0);
        CHECK(!ev.has_actor);
        CHECK_INT(ev.type, EV_FIA_STARTED);
        CHECK_INT(ev.at, AT_2026_03_02_0915Z);

        /* RFC 3339: fractions, lower-case t and z, far offsets. */
        CHECK_INT(parse("{\"v\":1,\"id\":\"e1\",\"source\":\"s\",\"seq\":1,\"type\":\"fia.started\","
                        "\"at\":\"2026-03-02t09:15:00.250z\",\"case\":\"EB-1\",\"unit\":\"U\"}", &ev), 0);
        CHECK_INT(ev.at, AT_2026_03_02_0915Z);
        CHECK_INT(parse("{\"v\":1,\"id\":\"e1\",\"source\":\"s\",\"seq\":1,\"type\":\"fia.started\","
                        "\"at\":\"2026-03-01T23:15:00-10:00\",\"case\":\"EB-1\",\"unit\":\"U\"}", &ev), 0);
        CHECK_INT(ev.at, AT_2026_03_02_0915Z);

        /* Exact limits: 128-byte id, 64-byte source/case/unit/type. */
        {
                char buf[1024], id[EV_ID_MAX + 1], name[EV_NAME_MAX + 1];

                memset(id, 'i', EV_ID_MAX);
                id[EV_ID_MAX] = '\0';
                memset(name, 'n', EV_NAME_MAX);
                name[EV_NAME_MAX] = '\0';
                snprintf(buf, sizeof(buf), "{\"v\":1,\"id\":\"%s\",\"source\":\"%s\",\"seq\":9007199254740993,"
                         "\"type\":\"%s\",\"at\":\"2026-03-02T09:15:00Z\",\"case\":\"%s\",\"unit\":\"%s\","
                         "\"actor\":\"%s\"}", id, name, name, name, name, name);
                CHECK_INT(parse(buf, &ev), 0);
                CHECK_STR(ev.id, id);
                CHECK_STR(ev.case_id, name);
                CHECK_INT(ev.seq, 9007199254740993LL);
                CHECK_INT(ev.type, EV_UNKNOWN);
        }

        /* Non-ASCII is fine in a case id (lengths are bytes, so 32 two-byte letters fit in 64), but a
         * unit becomes part of a topic: it is of the one name grammar, ASCII (protocol §6). */
        CHECK_INT(parse("{\"v\":1,\"id\":\"e1\",\"source\":\"s\",\"seq\":1,\"type\":\"fia.started\","
                        "\"at\":\"2026-03-02T09:15:00Z\",\"case\":\"EB-\\u00d6-1\",\"unit\":\"HV-OST-1\"}", &ev), 0);
        CHECK_STR(ev.case_id, "EB-\xc3\x96-1");
        CHECK_INT(parse("{\"v\":1,\"id\":\"e1\",\"source\":\"s\",\"seq\":1,\"type\":\"fia.started\","
                        "\"at\":\"2026-03-02T09:15:00Z\",\"case\":\"EB-1\",\"unit\":\"HV-\\u00d6ST-1\"}", &ev),
                  BK_E_INVALID);
}

/*
 * Protocol §6 "Names": unit, data.caseworker, data.unit (a move), actor and source become parts of
 * topics and log fields; anything outside [A-Za-z0-9][A-Za-z0-9._-]{0,63} is a dead letter
 * ("bad name") that still has its position when its source is readable.
 */
static void test_bad_names(void)
{
        static const struct { const char *type, *unit, *actor, *data, *reason; } cases[] = {
                { "caseworker.assigned", "U1", NULL, "{\"caseworker\":\"hk1/x\"}", "data.caseworker: bad name" },
                { "case.opened", "U1/hk1", NULL, "{\"caseworker\":\"hk9\",\"household\":{\"adults\":1,"
                  "\"single_parent\":false,\"children\":[]},\"barrier\":\"other\"}", "envelope.unit: bad name" },
                { "case.updated", "U1", NULL, "{\"unit\":\"U2/hk1\"}", "data.unit: bad name" },
                { "ib1.completed", "U1", "hk1/../x", "{}", "envelope.actor: bad name" },
                { "ib1.completed", "U1", "@leads", "{}", "envelope.actor: bad name" },
                { "caseworker.assigned", "U1", NULL, "{\"caseworker\":\"@leads\"}", "data.caseworker: bad name" },
                { "caseworker.assigned", "U1", NULL, "{\"caseworker\":\"hk 1\"}", "data.caseworker: bad name" },
                { "caseworker.assigned", "U1", NULL, "{\"caseworker\":\"-hk1\"}", "data.caseworker: bad name" },
                { "ib1.completed", "rem", NULL, "{}", NULL },
        };
        char buf[1024], why[EV_PARSE_REASON_SIZE];
        event_t ev;

        for (size_t i = 0; i < BK_ARRAY_SIZE(cases); i++) {
                char actor[96] = "";
                if (cases[i].actor)
                        snprintf(actor, sizeof(actor), ",\"actor\":\"%s\"", cases[i].actor);
                snprintf(buf, sizeof(buf), "{\"v\":1,\"id\":\"n%zu\",\"source\":\"paraply-hv\",\"seq\":%zu,"
                         "\"type\":\"%s\",\"at\":\"2026-03-02T09:15:00Z\",\"case\":\"EB-1\",\"unit\":\"%s\"%s,"
                         "\"data\":%s}", i, i + 1, cases[i].type, cases[i].unit, actor, cases[i].data);
                int r = event_parse(buf, strlen(buf), &ev, why, sizeof(why));
                if (!cases[i].reason) {
                        CHECK_INT(r, 0);
                        continue;
                }
                CHECK_INT(r, BK_E_INVALID);
                CHECK(strncmp(why, cases[i].reason, strlen(cases[i].reason)) == 0);
                CHECK_STR(ev.source, "paraply-hv");          /* a bad name still has a position */
                CHECK_INT(ev.seq, (int64_t)i + 1);
        }
        /* a source outside the grammar is no position: it would be stored and logged */
        snprintf(buf, sizeof(buf), "{\"v\":1,\"id\":\"s1\",\"source\":\"paraply/hv\",\"seq\":3,"
                 "\"type\":\"ib1.completed\",\"at\":\"2026-03-02T09:15:00Z\",\"case\":\"EB-1\",\"unit\":\"U1\"}");
        CHECK_INT(event_parse(buf, strlen(buf), &ev, why, sizeof(why)), BK_E_INVALID);
        CHECK(strncmp(why, "envelope.source: bad name", 25) == 0);
        CHECK_INT(ev.seq, 0);
}

static void test_unknown_type(void)
{
        event_t ev;

        /* A newer adapter's type: stored and counted, its data not judged. */
        CHECK_INT(parse(EVENT("case.merged", "{\"into\":17,\"month\":\"garbage\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_UNKNOWN);
        CHECK_STR(ev.type_name, "case.merged");
        CHECK_INT(ev.seq, 184467);
        CHECK_INT(parse(ENVELOPE_HEAD("case.merged") "}", &ev), 0);
        CHECK_INT(ev.type, EV_UNKNOWN);
        /* ...but data must still be an object: that is the envelope's rule. */
        CHECK(parse(EVENT("case.merged", "[]"), &ev) == BK_E_INVALID);
        CHECK_STR(reason, "envelope.data: must be an object");
        /* Types are case-sensitive. */
        CHECK_INT(parse(EVENT("Case.Opened", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_UNKNOWN);
}

/*
 * The base envelope with one member replaced (or removed when value is
 * NULL), serialised and parsed; the reason lands in `reason`.
 */
static int parse_with(const char *member, json_t *value, event_t *ev)
{
        json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:{}}",
                              "v", 1, "id", "paraply-7f3c2a9e-0001", "source", "paraply-hv",
                              "seq", (json_int_t)42, "type", "ib1.completed",
                              "at", "2026-03-02T10:15:00+01:00", "case", "EB-2024-001234",
                              "unit", "HV-EB-1", "actor", "hk1234", "data");
        char *s;
        int r;

        if (value)
                json_object_set_new(o, member, value);
        else
                json_object_del(o, member);
        s = json_dumps(o, JSON_COMPACT);
        r = event_parse(s, strlen(s), ev, reason, sizeof(reason));
        free(s);
        json_decref(o);
        return r;
}

static void check_with(const char *member, json_t *value, const char *want, int64_t want_seq, int line)
{
        event_t ev;
        int r = parse_with(member, value, &ev);

        if (r == BK_E_INVALID && strcmp(reason, want) == 0 && ev.seq == want_seq) {
                tap_pass++;
                return;
        }
        tap_fail++;
        fprintf(stderr, "FAIL %s:%d: %s: r=%d seq=%" PRId64 " reason \"%s\", want \"%s\" seq %" PRId64 "\n",
                __FILE__, line, member, r, ev.seq, reason, want, want_seq);
}

#define WITH(member, value, want) check_with((member), (value), (want), 42, __LINE__)
#define WITH_NOSEQ(member, value, want) check_with((member), (value), (want), 0, __LINE__)

static void test_envelope_reasons(void)
{
        char big[300];

        WITH("v", NULL, "envelope.v: missing");
        WITH("v", json_integer(2), "envelope.v: unsupported version 2");
        WITH("v", json_integer(0), "envelope.v: unsupported version 0");
        WITH("v", json_string("1"), "envelope.v: must be an integer");
        WITH("v", json_real(1.0), "envelope.v: must be an integer");
        WITH("v", json_true(), "envelope.v: must be an integer");

        WITH("id", NULL, "envelope.id: missing");
        WITH("id", json_integer(7), "envelope.id: must be a string");
        WITH("id", json_null(), "envelope.id: must be a string");
        WITH("id", json_string(""), "envelope.id: empty");
        memset(big, 'x', 129);
        big[129] = '\0';
        WITH("id", json_string(big), "envelope.id: longer than 128");
        WITH("id", json_string("a\tb"), "envelope.id: contains a control character");
        WITH("id", json_string("a\x7f" "b"), "envelope.id: contains a control character");
        WITH("id", json_string("a\xc2\x85" "b"), "envelope.id: contains a control character");

        /* Without a readable source the position is unknown: seq stays 0. */
        WITH_NOSEQ("source", NULL, "envelope.source: missing");
        WITH_NOSEQ("source", json_integer(1), "envelope.source: must be a string");
        WITH_NOSEQ("source", json_string(""), "envelope.source: empty");
        big[65] = '\0';
        WITH_NOSEQ("source", json_string(big), "envelope.source: longer than 64");
        WITH_NOSEQ("source", json_string("hv\n"), "envelope.source: contains a control character");

        WITH_NOSEQ("seq", NULL, "envelope.seq: missing");
        WITH_NOSEQ("seq", json_integer(0), "envelope.seq: must be a positive integer");
        WITH_NOSEQ("seq", json_integer(-5), "envelope.seq: must be a positive integer");
        WITH_NOSEQ("seq", json_real(42.0), "envelope.seq: must be a positive integer");
        WITH_NOSEQ("seq", json_string("42"), "envelope.seq: must be a positive integer");

        WITH("type", NULL, "envelope.type: missing");
        WITH("type", json_false(), "envelope.type: must be a string");
        WITH("type", json_string(""), "envelope.type: empty");
        WITH("type", json_string(big), "envelope.type: longer than 64");

        WITH("at", NULL, "envelope.at: missing");
        WITH("at", json_integer(1772442900), "envelope.at: must be a string");
        WITH("at", json_string("2026-03-02T10:15:00"), "envelope.at: not RFC 3339 with offset");
        WITH("at", json_string("2026-03-02 10:15:00+01:00"), "envelope.at: not RFC 3339 with offset");
        WITH("at", json_string("2026-03-02T10:15+01:00"), "envelope.at: not RFC 3339 with offset");
        WITH("at", json_string("2026-03-02T10:15:00+0100"), "envelope.at: not RFC 3339 with offset");
        WITH("at", json_string("2026-03-02T10:15:00.+01:00"), "envelope.at: not RFC 3339 with offset");
        WITH("at", json_string("2026-02-30T10:15:00+01:00"), "envelope.at: not RFC 3339 with offset");
        WITH("at", json_string("2026-03-02T24:00:00Z"), "envelope.at: not RFC 3339 with offset");
        WITH("at", json_string("2026-03-02"), "envelope.at: not RFC 3339 with offset");
        WITH("at", json_string("2026-03-02T10:15:00Z "), "envelope.at: not RFC 3339 with offset");
        WITH("at", json_string(""), "envelope.at: not RFC 3339 with offset");

        WITH("case", NULL, "envelope.case: missing");
        WITH("case", json_integer(1234), "envelope.case: must be a string");
        WITH("case", json_string(""), "envelope.case: empty");
        WITH("case", json_string(big), "envelope.case: longer than 64");
        WITH("case", json_string("EB-19850312-1231"), "envelope.case: holds a personnummer");
        WITH("case", json_string("850312-1231"), "envelope.case: holds a personnummer");
        WITH("case", json_string("EB 850372-1238"), "envelope.case: holds a personnummer");

        WITH("unit", NULL, "envelope.unit: missing");
        WITH("unit", json_array(), "envelope.unit: must be a string");
        WITH("unit", json_string(""), "envelope.unit: empty");
        WITH("unit", json_string(big), "envelope.unit: longer than 64");

        WITH("actor", json_integer(1234), "envelope.actor: must be a string");
        WITH("actor", json_null(), "envelope.actor: must be a string");
        WITH("actor", json_string(""), "envelope.actor: empty");
        WITH("actor", json_string(big), "envelope.actor: longer than 64");

        WITH("data", json_array(), "envelope.data: must be an object");
        WITH("data", json_string("{}"), "envelope.data: must be an object");
        WITH("data", json_null(), "envelope.data: must be an object");
}

static void test_order_and_position(void)
{
        event_t ev;

        /* The first failing member in protocol order is the one reported. */
        CHECK(parse("{\"v\":2,\"id\":\"\",\"source\":\"s\",\"seq\":3}", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "envelope.v: unsupported version 2");
        /* A failed event keeps its position, and nothing else. */
        CHECK_STR(ev.source, "s");
        CHECK_INT(ev.seq, 3);
        CHECK_STR(ev.id, "");
        CHECK_INT(ev.v, 0);

        CHECK(parse(EVENT("assistance.decided", "{\"month\":\"2026-13\"}"), &ev) == BK_E_INVALID);
        CHECK_STR(reason, "data.month: not YYYY-MM");
        CHECK_STR(ev.source, "paraply-hv");
        CHECK_INT(ev.seq, 184467);
        CHECK_STR(ev.case_id, "");
        CHECK_INT(ev.type, EV_UNKNOWN);

        /* A source without a usable seq is no position either. */
        CHECK(parse("{\"source\":\"s\",\"seq\":\"3\"}", &ev) == BK_E_INVALID);
        CHECK_STR(ev.source, "");
        CHECK_INT(ev.seq, 0);
        CHECK(parse("{\"source\":\"\",\"seq\":3}", &ev) == BK_E_INVALID);
        CHECK_INT(ev.seq, 0);
}

/* ---- not JSON, not an object ----------------------------------------------- */

static void test_not_json(void)
{
        event_t ev;
        char *exact;
        const char *ok = EVENT("ib2.completed", "{}");

        CHECK(parse("", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not JSON: unexpected token near end of file at line 1 column 0");
        CHECK_INT(ev.seq, 0);
        CHECK(parse("{\"v\":1,", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not JSON: string or '}' expected near end of file at line 1 column 7");
        CHECK(parse("{\"a\":1} x", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not JSON: end of file expected at line 1 column 9");
        CHECK(parse("{\"a\":1,\n\"a\":2}", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not JSON: duplicate object key at line 2 column 3");
        CHECK(parse("{\"a\":\"\xff\"}", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not JSON: bytes are not UTF-8 (Latin-1?): unable to decode byte 0xff at line 1 column 6");
        CHECK(parse("{\"a\":\"hk\\u0000\"}", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not JSON: \\u0000 is not allowed without JSON_ALLOW_NUL at line 1 column 15");
        CHECK(parse("{\"a\":NaN}", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not JSON: invalid token at line 1 column 8");

        /* jansson quotes up to 20 input bytes; those never reach a reason. */
        CHECK(parse("{\"case\":\"19850312-1231", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not JSON: premature end of input at line 1 column 22");
        CHECK(strstr(reason, "1231") == NULL);
        CHECK(parse("{\"case\":850312-1231}", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not JSON: '}' expected at line 1 column 19");
        CHECK(strstr(reason, "1231") == NULL);

        CHECK(parse("42", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not an object");
        CHECK(parse("[{\"v\":1}]", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not an object");
        CHECK(parse("null", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not an object");
        CHECK(parse("\"x\"", &ev) == BK_E_INVALID);
        CHECK_STR(reason, "not an object");

        /* Feed frames are not NUL-terminated: an exact-size copy must do. */
        exact = malloc(strlen(ok));
        memcpy(exact, ok, strlen(ok));
        CHECK_INT(event_parse(exact, strlen(ok), &ev, reason, sizeof(reason)), 0);
        CHECK_INT(ev.type, EV_IB2_COMPLETED);
        free(exact);
        /* ...and bytes past len are not read. */
        CHECK_INT(event_parse("{\"v\":1} garbage", 7, &ev, reason, sizeof(reason)), BK_E_INVALID);
        CHECK_STR(reason, "envelope.id: missing");

        /* A short reason buffer truncates; none at all is allowed. */
        {
                char small[8];

                CHECK_INT(event_parse("[]", 2, &ev, small, sizeof(small)), BK_E_INVALID);
                CHECK_STR(small, "not an ");
                CHECK_INT(event_parse("[]", 2, &ev, NULL, 0), BK_E_INVALID);
        }
}

/* ---- every v1 type --------------------------------------------------------- */

static void test_types_ok(void)
{
        event_t ev;
        const ev_data_t *d = &ev.data;

        CHECK_INT(parse(EVENT("case.opened", "{\"caseworker\":\"hk1234\",\"household\":{\"adults\":1,"
                              "\"single_parent\":true,\"children\":[\"2016-11\",\"2019-05\"]},"
                              "\"barrier\":\"unemployment\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_CASE_OPENED);
        CHECK(d->has_caseworker);
        CHECK_STR(d->caseworker, "hk1234");
        CHECK(d->has_household);
        CHECK_INT(d->household.adults, 1);
        CHECK(d->household.single_parent);
        CHECK_INT(d->household.n_children, 2);
        CHECK_INT(d->household.children[0], cal_month_from_ym(2016, 11));
        CHECK_INT(d->household.children[1], cal_month_from_ym(2019, 5));
        CHECK(d->has_barrier);
        CHECK_INT(d->barrier, BARRIER_UNEMPLOYMENT);

        CHECK_INT(parse(EVENT("case.opened", "{\"caseworker\":\"hk1\",\"household\":{\"adults\":2,"
                              "\"single_parent\":false,\"children\":[]},\"barrier\":\"social_medical\"}"), &ev), 0);
        CHECK_INT(d->household.n_children, 0);
        CHECK(!d->household.single_parent);
        CHECK_INT(d->barrier, BARRIER_SOCIAL_MEDICAL);

        CHECK_INT(parse(EVENT("case.updated", "{\"barrier\":\"sickness\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_CASE_UPDATED);
        CHECK(d->has_barrier && !d->has_household && !d->has_unit);
        CHECK_INT(d->barrier, BARRIER_SICKNESS);
        CHECK_INT(parse(EVENT("case.updated", "{\"unit\":\"HV-EB-2\"}"), &ev), 0);
        CHECK(d->has_unit && !d->has_barrier);
        CHECK_STR(d->unit, "HV-EB-2");
        CHECK_INT(parse(EVENT("case.updated", "{\"household\":{\"adults\":0,\"single_parent\":false,"
                              "\"children\":[]},\"barrier\":\"unclear\",\"unit\":\"HV-EB-3\"}"), &ev), 0);
        CHECK(d->has_household && d->has_barrier && d->has_unit);
        CHECK_INT(d->household.adults, 0);
        CHECK_INT(d->barrier, BARRIER_UNCLEAR);

        CHECK_INT(parse(EVENT("case.closed", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_CASE_CLOSED);
        CHECK(!d->has_reason);
        CHECK_INT(parse(EVENT("case.closed", "{\"reason\":\"självförsörjande\"}"), &ev), 0);
        CHECK(d->has_reason);
        CHECK_STR(d->reason, "självförsörjande");

        CHECK_INT(parse(EVENT("case.reopened", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_CASE_REOPENED);
        CHECK(!d->has_caseworker);
        CHECK_INT(parse(EVENT("case.reopened", "{\"caseworker\":\"hk5678\"}"), &ev), 0);
        CHECK(d->has_caseworker);
        CHECK_STR(d->caseworker, "hk5678");

        CHECK_INT(parse(EVENT("caseworker.assigned", "{\"caseworker\":\"hk9999\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_CASEWORKER_ASSIGNED);
        CHECK_STR(d->caseworker, "hk9999");

        CHECK_INT(parse(EVENT("assistance.decided", "{\"month\":\"2026-03\",\"outcome\":\"partial\","
                              "\"decision\":\"B-2026-0042\",\"child_impact_documented\":true}"), &ev), 0);
        CHECK_INT(ev.type, EV_ASSISTANCE_DECIDED);
        CHECK(d->has_month);
        CHECK_INT(d->month, cal_month_from_ym(2026, 3));
        CHECK_INT(d->outcome, OUTCOME_PARTIAL);
        CHECK(d->has_decision);
        CHECK_STR(d->decision, "B-2026-0042");
        CHECK(d->child_impact_documented);
        CHECK_INT(parse(EVENT("assistance.decided", "{\"month\":\"2026-12\",\"outcome\":\"refused\","
                              "\"decision\":\"B-1\"}"), &ev), 0);
        CHECK(!d->child_impact_documented);
        CHECK_INT(d->outcome, OUTCOME_REFUSED);
        CHECK_INT(d->month, cal_month_from_ym(2026, 12));
        CHECK_INT(parse(EVENT("assistance.decided", "{\"month\":\"2026-01\",\"outcome\":\"granted\","
                              "\"decision\":\"B-2\",\"child_impact_documented\":false}"), &ev), 0);
        CHECK_INT(d->outcome, OUTCOME_GRANTED);

        CHECK_INT(parse(EVENT("child_impact.documented", "{\"decision\":\"B-2026-0042\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_CHILD_IMPACT_DOCUMENTED);
        CHECK_STR(d->decision, "B-2026-0042");

        CHECK_INT(parse(EVENT("ib1.completed", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_IB1_COMPLETED);
        CHECK_INT(parse(EVENT("ib2.completed", "{\"ignored\":true}"), &ev), 0);
        CHECK_INT(ev.type, EV_IB2_COMPLETED);

        CHECK_INT(parse(EVENT("ib3.completed", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_IB3_COMPLETED);
        CHECK(!d->violence_disclosed);
        CHECK_INT(parse(EVENT("ib3.completed", "{\"violence_disclosed\":true}"), &ev), 0);
        CHECK(d->violence_disclosed);

        CHECK_INT(parse(EVENT("ib4.established", "{\"follow_up_at\":\"2026-06-01\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_IB4_ESTABLISHED);
        CHECK(d->has_follow_up_at);
        CHECK_INT(d->follow_up_at, cal_day_from_ymd(2026, 6, 1));
        CHECK_INT(parse(EVENT("ib4.established", "{}"), &ev), 0);
        CHECK(!d->has_follow_up_at);
        CHECK_INT(parse(EVENT("ib4.revised", "{\"follow_up_at\":\"2026-09-01\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_IB4_REVISED);
        CHECK_INT(d->follow_up_at, cal_day_from_ymd(2026, 9, 1));
        CHECK_INT(parse(ENVELOPE_HEAD("ib4.revised") "}", &ev), 0);
        CHECK(!d->has_follow_up_at);

        CHECK_INT(parse(EVENT("ib4.exempted", "{\"reason\":\"Pågående sjukskrivning\",\"until\":\"2026-09-02\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_IB4_EXEMPTED);
        CHECK(d->has_reason && d->has_until);
        CHECK_STR(d->reason, "Pågående sjukskrivning");
        CHECK_INT(d->until, cal_day_from_ymd(2026, 9, 2));
        CHECK_INT(parse(EVENT("ib4.exempted", "{\"reason\":\"r\"}"), &ev), 0);
        CHECK(!d->has_until);

        CHECK_INT(parse(EVENT("fia.started", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_FIA_STARTED);
        CHECK_INT(parse(EVENT("fia.completed", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_FIA_COMPLETED);
        CHECK_INT(parse(EVENT("fia.declined", "{\"reason\":\"Flyttar\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_FIA_DECLINED);
        CHECK_STR(d->reason, "Flyttar");

        CHECK_INT(parse(EVENT("children.mapped", "{\"home_visit\":true}"), &ev), 0);
        CHECK_INT(ev.type, EV_CHILDREN_MAPPED);
        CHECK(d->home_visit);
        CHECK_INT(parse(EVENT("children.mapped", "{}"), &ev), 0);
        CHECK(!d->home_visit);

        CHECK_INT(parse(EVENT("summer_allowance.applied", "{\"year\":2026}"), &ev), 0);
        CHECK_INT(ev.type, EV_SUMMER_ALLOWANCE_APPLIED);
        CHECK(d->has_year);
        CHECK_INT(d->year, 2026);
        CHECK_INT(parse(EVENT("summer_allowance.applied", "{\"year\":2000}"), &ev), 0);
        CHECK_INT(parse(EVENT("summer_allowance.applied", "{\"year\":2100}"), &ev), 0);

        CHECK_INT(parse(EVENT("actor.involved", "{\"actor\":\"af\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_ACTOR_INVOLVED);
        CHECK_INT(d->actor, ACTOR_AF);
        CHECK_INT(parse(EVENT("actor.involved", "{\"actor\":\"region\"}"), &ev), 0);
        CHECK_INT(d->actor, ACTOR_REGION);
        CHECK_INT(parse(EVENT("actor.ended", "{\"actor\":\"fk\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_ACTOR_ENDED);
        CHECK_INT(d->actor, ACTOR_FK);
        CHECK_INT(parse(EVENT("actor.ended", "{\"actor\":\"other\"}"), &ev), 0);
        CHECK_INT(d->actor, ACTOR_OTHER);

        CHECK_INT(parse(EVENT("sip.initiated", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_SIP_INITIATED);
        CHECK_INT(parse(EVENT("sip.meeting_held", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_SIP_MEETING_HELD);
        CHECK_INT(parse(EVENT("sip.established", "{\"follow_up_at\":\"2026-08-31\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_SIP_ESTABLISHED);
        CHECK_INT(d->follow_up_at, cal_day_from_ymd(2026, 8, 31));
        CHECK_INT(parse(EVENT("sip.established", "{}"), &ev), 0);
        CHECK(!d->has_follow_up_at);
        CHECK_INT(parse(EVENT("sip.followed_up", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_SIP_FOLLOWED_UP);
        CHECK_INT(parse(EVENT("sip.ended", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_SIP_ENDED);
        CHECK_INT(parse(EVENT("sip.declined", "{\"reason\":\"Vill inte\"}"), &ev), 0);
        CHECK_INT(ev.type, EV_SIP_DECLINED);
        CHECK_STR(d->reason, "Vill inte");

        CHECK_INT(parse(EVENT("health.flagged", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_HEALTH_FLAGGED);
        CHECK_INT(parse(EVENT("work_capacity.assessed", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_WORK_CAPACITY_ASSESSED);
        CHECK_INT(parse(EVENT("safety.followed_up", "{}"), &ev), 0);
        CHECK_INT(ev.type, EV_SAFETY_FOLLOWED_UP);
}

/* ---- bad data for known types ---------------------------------------------- */

static void check_data(const char *json, const char *want, int line)
{
        event_t ev;
        int r = event_parse(json, strlen(json), &ev, reason, sizeof(reason));

        /* The envelope was fine, so the position must survive. */
        if (r == BK_E_INVALID && strcmp(reason, want) == 0 && ev.seq == 184467 &&
            strcmp(ev.source, "paraply-hv") == 0) {
                tap_pass++;
                return;
        }
        tap_fail++;
        fprintf(stderr, "FAIL %s:%d: r=%d seq=%" PRId64 " reason \"%s\", want \"%s\"\n",
                __FILE__, line, r, ev.seq, reason, want);
}

#define BAD(type, data, want) check_data(EVENT(type, data), (want), __LINE__)

#define HH(inner) "{\"caseworker\":\"hk1\",\"barrier\":\"other\",\"household\":" inner "}"

static void test_data_reasons(void)
{
        char buf[1024], reason_text[300];

        BAD("case.opened", "{}", "data.caseworker: missing");
        BAD("case.opened", "{\"caseworker\":17}", "data.caseworker: must be a string");
        BAD("case.opened", "{\"caseworker\":\"\"}", "data.caseworker: empty");
        BAD("case.opened", "{\"caseworker\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
            "data.caseworker: longer than 64");
        BAD("case.opened", "{\"caseworker\":\"hk\\u001b[2J\"}", "data.caseworker: contains a control character");
        BAD("case.opened", "{\"caseworker\":\"hk1\",\"barrier\":\"other\"}", "data.household: missing");
        BAD("case.opened", HH("[]"), "data.household: must be an object");
        BAD("case.opened", HH("{}"), "data.household.adults: missing");
        BAD("case.opened", HH("{\"adults\":-1}"), "data.household.adults: must be an integer 0..99");
        BAD("case.opened", HH("{\"adults\":100}"), "data.household.adults: must be an integer 0..99");
        BAD("case.opened", HH("{\"adults\":1.5}"), "data.household.adults: must be an integer 0..99");
        BAD("case.opened", HH("{\"adults\":1}"), "data.household.single_parent: missing");
        BAD("case.opened", HH("{\"adults\":1,\"single_parent\":1}"), "data.household.single_parent: must be a boolean");
        BAD("case.opened", HH("{\"adults\":1,\"single_parent\":\"true\"}"),
            "data.household.single_parent: must be a boolean");
        BAD("case.opened", HH("{\"adults\":1,\"single_parent\":true}"), "data.household.children: missing");
        BAD("case.opened", HH("{\"adults\":1,\"single_parent\":true,\"children\":\"2016-11\"}"),
            "data.household.children: must be an array");
        BAD("case.opened", HH("{\"adults\":1,\"single_parent\":true,\"children\":[\"2016-11\",201905]}"),
            "data.household.children[1]: must be a string");
        BAD("case.opened", HH("{\"adults\":1,\"single_parent\":true,\"children\":[\"2016-11-03\"]}"),
            "data.household.children[0]: not YYYY-MM");
        BAD("case.opened", HH("{\"adults\":1,\"single_parent\":true,\"children\":[\"2016-13\"]}"),
            "data.household.children[0]: not YYYY-MM");
        BAD("case.opened", HH("{\"adults\":1,\"single_parent\":true,\"children\":[\"2016-1\"]}"),
            "data.household.children[0]: not YYYY-MM");
        BAD("case.opened", HH("{\"adults\":1,\"single_parent\":true,\"children\":[\"2001-01\",\"2002-01\","
                              "\"2003-01\",\"2004-01\",\"2005-01\",\"2006-01\",\"2007-01\",\"2008-01\","
                              "\"2009-01\",\"2010-01\",\"2011-01\",\"2012-01\",\"2013-01\",\"2014-01\","
                              "\"2015-01\",\"2016-01\",\"2017-01\"]}"),
            "data.household.children: more than 16");
        BAD("case.opened", "{\"caseworker\":\"hk1\",\"household\":{\"adults\":1,\"single_parent\":false,"
                           "\"children\":[]}}", "data.barrier: missing");
        BAD("case.opened", "{\"caseworker\":\"hk1\",\"household\":{\"adults\":1,\"single_parent\":false,"
                           "\"children\":[]},\"barrier\":\"Sickness\"}",
            "data.barrier: must be one of unemployment, sickness, social_medical, other, unclear");
        BAD("case.opened", "{\"caseworker\":\"hk1\",\"household\":{\"adults\":1,\"single_parent\":false,"
                           "\"children\":[]},\"barrier\":3}",
            "data.barrier: must be one of unemployment, sickness, social_medical, other, unclear");

        BAD("case.updated", "{}", "data: needs at least one of household, barrier, unit");
        BAD("case.updated", "{\"caseworker\":\"hk1\"}", "data: needs at least one of household, barrier, unit");
        BAD("case.updated", "{\"unit\":\"\"}", "data.unit: empty");
        BAD("case.updated", "{\"barrier\":\"none\"}",
            "data.barrier: must be one of unemployment, sickness, social_medical, other, unclear");
        BAD("case.updated", "{\"household\":{\"adults\":2,\"single_parent\":false}}",
            "data.household.children: missing");
        check_data(ENVELOPE_HEAD("case.updated") "}", "data: needs at least one of household, barrier, unit",
                   __LINE__);

        BAD("case.closed", "{\"reason\":\"\"}", "data.reason: empty");
        BAD("case.closed", "{\"reason\":null}", "data.reason: must be a string");
        BAD("case.reopened", "{\"caseworker\":[]}", "data.caseworker: must be a string");
        BAD("caseworker.assigned", "{}", "data.caseworker: missing");
        check_data(ENVELOPE_HEAD("caseworker.assigned") "}", "data.caseworker: missing", __LINE__);

        BAD("assistance.decided", "{}", "data.month: missing");
        BAD("assistance.decided", "{\"month\":202603}", "data.month: must be a string");
        BAD("assistance.decided", "{\"month\":\"2026-3\"}", "data.month: not YYYY-MM");
        BAD("assistance.decided", "{\"month\":\"2026-00\"}", "data.month: not YYYY-MM");
        BAD("assistance.decided", "{\"month\":\"2026-03-01\"}", "data.month: not YYYY-MM");
        BAD("assistance.decided", "{\"month\":\"mars 2026\"}", "data.month: not YYYY-MM");
        BAD("assistance.decided", "{\"month\":\"2026-03\"}", "data.outcome: missing");
        BAD("assistance.decided", "{\"month\":\"2026-03\",\"outcome\":\"approved\"}",
            "data.outcome: must be one of granted, partial, refused");
        BAD("assistance.decided", "{\"month\":\"2026-03\",\"outcome\":\"granted\"}", "data.decision: missing");
        BAD("assistance.decided", "{\"month\":\"2026-03\",\"outcome\":\"granted\",\"decision\":42}",
            "data.decision: must be a string");
        BAD("assistance.decided", "{\"month\":\"2026-03\",\"outcome\":\"granted\",\"decision\":\"B-1\","
                                  "\"child_impact_documented\":\"yes\"}",
            "data.child_impact_documented: must be a boolean");
        BAD("child_impact.documented", "{}", "data.decision: missing");

        BAD("ib3.completed", "{\"violence_disclosed\":0}", "data.violence_disclosed: must be a boolean");
        BAD("ib4.established", "{\"follow_up_at\":\"2026-06\"}", "data.follow_up_at: not YYYY-MM-DD");
        BAD("ib4.established", "{\"follow_up_at\":\"2026-06-31\"}", "data.follow_up_at: not YYYY-MM-DD");
        BAD("ib4.established", "{\"follow_up_at\":\"2026-06-01T08:00:00+02:00\"}", "data.follow_up_at: not YYYY-MM-DD");
        BAD("ib4.revised", "{\"follow_up_at\":20260601}", "data.follow_up_at: must be a string");
        BAD("sip.established", "{\"follow_up_at\":\"01/06/2026\"}", "data.follow_up_at: not YYYY-MM-DD");
        BAD("ib4.exempted", "{}", "data.reason: missing");
        BAD("ib4.exempted", "{\"until\":\"2026-09-02\"}", "data.reason: missing");
        BAD("ib4.exempted", "{\"reason\":\"r\",\"until\":\"2026-02-29\"}", "data.until: not YYYY-MM-DD");
        memset(reason_text, 'r', 257);
        reason_text[257] = '\0';
        snprintf(buf, sizeof(buf), EVENT("ib4.exempted", "{\"reason\":\"%s\"}"), reason_text);
        check_data(buf, "data.reason: longer than 256", __LINE__);
        reason_text[256] = '\0';
        snprintf(buf, sizeof(buf), EVENT("ib4.exempted", "{\"reason\":\"%s\"}"), reason_text);
        CHECK_INT(parse(buf, &(event_t){ 0 }), 0);
        BAD("ib4.exempted", "{\"reason\":\"rad 1\\nrad 2\"}", "data.reason: contains a control character");
        BAD("fia.declined", "{}", "data.reason: missing");
        BAD("sip.declined", "{\"reason\":false}", "data.reason: must be a string");
        BAD("children.mapped", "{\"home_visit\":\"no\"}", "data.home_visit: must be a boolean");
        BAD("summer_allowance.applied", "{}", "data.year: missing");
        BAD("summer_allowance.applied", "{\"year\":\"2026\"}", "data.year: must be an integer 2000..2100");
        BAD("summer_allowance.applied", "{\"year\":1999}", "data.year: must be an integer 2000..2100");
        BAD("summer_allowance.applied", "{\"year\":2101}", "data.year: must be an integer 2000..2100");
        BAD("summer_allowance.applied", "{\"year\":2026.0}", "data.year: must be an integer 2000..2100");
        BAD("actor.involved", "{}", "data.actor: missing");
        BAD("actor.involved", "{\"actor\":\"AF\"}", "data.actor: must be one of af, fk, region, other");
        BAD("actor.ended", "{\"actor\":\"kronofogden\"}", "data.actor: must be one of af, fk, region, other");
}

/* Reasons are logged and kept: no payload value may ever appear in one. */
static void test_reasons_echo_nothing(void)
{
        static const char *const events[] = {
                EVENT("case.opened", "{\"caseworker\":\"850312-1231\",\"household\":{\"adults\":\"850312-1231\"}}"),
                EVENT("assistance.decided", "{\"month\":\"850312-1231\"}"),
                EVENT("actor.ended", "{\"actor\":\"850312-1231\"}"),
                EVENT("case.closed", "{\"reason\":\"850312-1231\\u0001\"}"),
                "{\"v\":\"850312-1231\"}",
                "{\"v\":1,\"id\":\"850312-1231\",\"source\":\"850312-1231\",\"seq\":1,\"type\":\"x\","
                "\"at\":\"850312-1231\",\"case\":\"EB\",\"unit\":\"U\"}",
                "{\"v\":1,\"id\":\"e\",\"source\":\"s\",\"seq\":1,\"type\":\"x\","
                "\"at\":\"2026-03-02T10:15:00Z\",\"case\":\"EB-850312-1231\",\"unit\":\"U\"}",
                "{\"v\":1,\"case\":\"EB-850312-1231",
                "{\"v\":1,\"case\":EB-850312-1231}",
                "{\"850312-1231\":1,\"850312-1231\":2}",
        };
        event_t ev;

        for (size_t i = 0; i < BK_ARRAY_SIZE(events); i++) {
                CHECK_INT(parse(events[i], &ev), BK_E_INVALID);
                CHECK(reason[0] != '\0');
                CHECK(strstr(reason, "1231") == NULL);
        }
}

/* ---- personnummer ---------------------------------------------------------- */

static void test_personnummer(void)
{
        /* Luhn over YYMMDDNNNN, weights 2121212121: 8503121231 sums to 30. */
        CHECK(event_has_personnummer("850312-1231"));
        CHECK(event_has_personnummer("19850312-1231"));
        CHECK(event_has_personnummer("EB-19850312-1231"));
        CHECK(event_has_personnummer("EB850312-1231X"));
        CHECK(event_has_personnummer("850312+1231"));            /* 100 years or older */
        CHECK(event_has_personnummer("19850312+1231"));
        CHECK(event_has_personnummer("198503121231"));           /* 12 digits, no separator */
        CHECK(event_has_personnummer("case/198503121231/a"));
        CHECK(event_has_personnummer("a 121212-1238 b"));        /* 1212121238 sums to 20 */
        CHECK(event_has_personnummer("EB-2024-850312-1231-2"));

        /* Samordningsnummer: day + 60 (12 -> 72, 30 -> 90, 31 -> 91). */
        CHECK(event_has_personnummer("850372-1238"));
        CHECK(event_has_personnummer("19850372-1238"));
        CHECK(event_has_personnummer("198503721238"));
        CHECK(event_has_personnummer("900790-1235"));
        CHECK(!event_has_personnummer("850360-1232"));           /* day 0 + 60, Luhn-valid */
        CHECK(!event_has_personnummer("850392-1234"));           /* day 32 + 60, Luhn-valid */

        /* 29 February only in leap years; 6 digits pass if either century has it. */
        CHECK(event_has_personnummer("000229-1235"));
        CHECK(event_has_personnummer("20000229-1235"));
        CHECK(!event_has_personnummer("19000229-1235"));         /* 1900 not a leap year */
        CHECK(!event_has_personnummer("010229-1234"));           /* Luhn-valid, no such day */
        CHECK(!event_has_personnummer("850230-1230"));           /* Luhn-valid, 30 February */
        CHECK(!event_has_personnummer("851312-1239"));           /* month 13, Luhn-valid */
        CHECK(!event_has_personnummer("850300-1235"));           /* day 0, Luhn-valid */

        /* Failed Luhn. */
        CHECK(!event_has_personnummer("850312-1232"));
        CHECK(!event_has_personnummer("19850312-1230"));
        CHECK(!event_has_personnummer("198503121239"));

        /* Wrong shape or longer runs: not a candidate. */
        CHECK(!event_has_personnummer("EB-2024-001234"));
        CHECK(event_has_personnummer("8503121231"));             /* 10 digits, as people type them */
        CHECK(!event_has_personnummer("1850312-1231"));          /* 7-digit run */
        CHECK(!event_has_personnummer("850312-12310"));          /* 5-digit run */
        CHECK(!event_has_personnummer("9850312-1231"));
        CHECK(!event_has_personnummer("1198503121231"));         /* 13 digits */
        CHECK(event_has_personnummer("19850312--1231"));         /* double hyphen */
        CHECK(event_has_personnummer("850312 1231"));            /* space */
        CHECK(event_has_personnummer("850312\xe2\x80\x93" "1231"));  /* en dash */
        CHECK(event_has_personnummer("850312\xc2\xa0" "1231"));      /* no-break space */
        /* full-width digits (U+FF10..U+FF19), as an input method leaves them */
        CHECK(event_has_personnummer("\xef\xbc\x98\xef\xbc\x95\xef\xbc\x90\xef\xbc\x93\xef\xbc\x91"
                                     "\xef\xbc\x92-\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x91"));
        CHECK(!event_has_personnummer("850312 1232"));           /* Luhn still decides */
        CHECK(!event_has_personnummer("8503121232"));
        CHECK(!event_has_personnummer("850312---1231"));         /* three hyphens: no separator we know */
        CHECK(!event_has_personnummer("850312_1231"));
        CHECK(!event_has_personnummer("1985031-21231"));
        CHECK(!event_has_personnummer("85031-1231"));
        CHECK(!event_has_personnummer(""));
        CHECK(!event_has_personnummer(NULL));
        CHECK(!event_has_personnummer("-+-+"));
        CHECK(!event_has_personnummer("850312-"));
        CHECK(!event_has_personnummer("850312-123"));
}

static void test_names(void)
{
        for (int t = EV_UNKNOWN + 1; t < EV__COUNT; t++) {
                const char *name = event_type_name((ev_type_t)t);

                CHECK(name != NULL);
                CHECK_INT(event_type_from_name(name), t);
        }
        CHECK(event_type_name(EV_UNKNOWN) == NULL);
        CHECK(event_type_name(EV__COUNT) == NULL);
        CHECK_STR(event_type_name(EV_IB3_COMPLETED), "ib3.completed");
        CHECK_STR(event_type_name(EV_SUMMER_ALLOWANCE_APPLIED), "summer_allowance.applied");
        CHECK_INT(event_type_from_name("sip.meeting_held"), EV_SIP_MEETING_HELD);
        CHECK_INT(event_type_from_name("nope"), EV_UNKNOWN);
        CHECK_INT(event_type_from_name(""), EV_UNKNOWN);
        CHECK_INT(event_type_from_name(NULL), EV_UNKNOWN);

        CHECK_STR(event_barrier_name(BARRIER_SICKNESS), "sickness");
        CHECK_STR(event_barrier_name(BARRIER_SOCIAL_MEDICAL), "social_medical");
        CHECK_STR(event_barrier_name(BARRIER_UNCLEAR), "unclear");
        CHECK(event_barrier_name(BARRIER_NONE) == NULL);
        CHECK_STR(event_actor_name(ACTOR_AF), "af");
        CHECK_STR(event_actor_name(ACTOR_REGION), "region");
        CHECK(event_actor_name(ACTOR_NONE) == NULL);
        CHECK_STR(event_outcome_name(OUTCOME_GRANTED), "granted");
        CHECK_STR(event_outcome_name(OUTCOME_REFUSED), "refused");
        CHECK(event_outcome_name(OUTCOME_NONE) == NULL);
        CHECK(event_outcome_name((ev_outcome_t)17) == NULL);
}

/* ---- proto/examples ---------------------------------------------------------- */

static const char *source_dir(void)
{
        static char dir[4096];
        const char *env = getenv("BEVAKA_SRC");
        char *slash;

        if (env && *env)
                return env;
        /* tests/test-event.c -> the tree it was compiled from. */
        bk_strlcpy(dir, __FILE__, sizeof(dir));
        slash = strrchr(dir, '/');
        if (!slash)
                return "..";
        *slash = '\0';
        strncat(dir, "/..", sizeof(dir) - strlen(dir) - 1);
        return dir;
}

/* Whole file, exactly its bytes and no NUL after them, as on the wire. */
static char *read_file(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        char *buf;
        long n;

        if (!f)
                return NULL;
        if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
                fclose(f);
                return NULL;
        }
        buf = malloc(n ? (size_t)n : 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
        }
        fclose(f);
        *len = (size_t)n;
        return buf;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.json names in dir, so failures read the same on every machine. */
static size_t list_json(const char *dir, char ***names)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        size_t n = 0;

        *names = NULL;
        if (!d)
                return 0;
        while ((e = readdir(d))) {
                size_t l = strlen(e->d_name);

                if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
                        *names = realloc(*names, (n + 1) * sizeof(**names));
                        (*names)[n++] = strdup(e->d_name);
                }
        }
        closedir(d);
        qsort(*names, n, sizeof(**names), name_cmp);
        return n;
}

/* The stored form reads back to the same event, and is its own normal form. */
static void normal_round_trip(const event_t *ev, const char *what)
{
        size_t n1 = 0, n2 = 0;
        char *t1 = event_normalize(ev, &n1), *t2 = NULL;
        event_t back;

        CHECK(t1 != NULL);
        if (!t1)
                return;
        CHECK_INT(event_parse(t1, n1, &back, reason, sizeof(reason)), 0);
        CHECK(back.at == ev->at && back.seq == ev->seq && back.type == ev->type);
        CHECK(memcmp(&back.data, &ev->data, sizeof(back.data)) == 0);
        t2 = event_normalize(&back, &n2);
        if (!t2 || strcmp(t1, t2) != 0)
                fprintf(stderr, "FAIL normal form of %s is not stable:\n  %s\n  %s\n", what, t1, t2 ? t2 : "");
        CHECK(t2 && strcmp(t1, t2) == 0);
        /* written directly (jw.c), it is what jansson would print for the same value, byte for byte
         * (stores written before the direct writer hold jansson's text) */
        json_t *j = json_loadb(t1, n1, 0, NULL);
        char *dumped = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        CHECK_STR(dumped ? dumped : "", t1);
        free(dumped);
        json_decref(j);
        /* the log's two parts (columns + body) join to the same text */
        jw_t tail = { 0 }, whole = { 0 };
        size_t tn = 0, wn = 0;
        event_write_tail(&tail, ev);
        const char *tt = jw_text(&tail, &tn);
        CHECK_INT(event_write_join(&whole, ev->id, ev->source, ev->seq, ev->type_name, ev->at, ev->case_id,
                                   tt ? tt : "", tn), 0);
        const char *wt = jw_text(&whole, &wn);
        CHECK_STR(wt ? wt : "", t1);
        CHECK_INT(event_write_join(&whole, "i", "s", 1, "t", 0, "c", "[1]", 3), BK_E_INVALID);
        jw_free(&tail);
        jw_free(&whole);
        free(t1);
        free(t2);
}

/* Unknown members go; free text is masked and cut; dead letters keep what shows the reason. */
static void test_stored_forms(void)
{
        static const char in[] =
                "{\"v\":1,\"id\":\"e1\",\"source\":\"s\",\"seq\":3,\"type\":\"fia.declined\","
                "\"at\":\"2026-03-02T10:00:00.5+01:00\",\"case\":\"EB-1\",\"unit\":\"U\",\"note\":\"Anna\","
                "\"data\":{\"reason\":\"nej 850312-1231\",\"extra\":\"Anna\"}}";
        event_t ev;
        size_t n = 0;
        char *t, *d;

        CHECK_INT(event_parse(in, strlen(in), &ev, reason, sizeof(reason)), 0);
        CHECK_INT(ev.data.masked, 1);
        t = event_normalize(&ev, &n);
        CHECK_STR(t ? t : "", "{\"v\":1,\"id\":\"e1\",\"source\":\"s\",\"seq\":3,\"type\":\"fia.declined\","
                              "\"at\":\"2026-03-02T10:00:00+01:00\",\"case\":\"EB-1\",\"unit\":\"U\","
                              "\"data\":{\"reason\":\"nej XXXXXX-XXXX\"}}");
        free(t);

        /* escapes: quotes, backslash, non-ASCII, a slash (control characters are refused) */
        static const char esc[] =
                "{\"v\":1,\"id\":\"e\\\"1\",\"source\":\"s\",\"seq\":3,\"type\":\"fia.declined\","
                "\"at\":\"2026-03-02T10:00:00Z\",\"case\":\"EB-1\",\"unit\":\"U\",\"data\":{\"reason\":"
                "\"\\\"q\\\" \\\\ å/€ \\u00e5\"}}";
        CHECK_INT(event_parse(esc, strlen(esc), &ev, reason, sizeof(reason)), 0);
        normal_round_trip(&ev, "escapes");
        t = event_normalize(&ev, &n);
        CHECK(t && strstr(t, "\"id\":\"e\\\"1\"") && strstr(t, "\"reason\":\"\\\"q\\\" \\\\ å/€ å\"") != NULL);
        free(t);

        /* 300 characters of free text are stored as 200 */
        char big[600];
        snprintf(big, sizeof(big), "{\"v\":1,\"id\":\"e1\",\"source\":\"s\",\"seq\":3,\"type\":\"sip.declined\","
                 "\"at\":\"2026-03-02T10:00:00Z\",\"case\":\"EB-1\",\"unit\":\"U\",\"data\":{\"reason\":\"%0250d\"}}", 0);
        CHECK_INT(event_parse(big, strlen(big), &ev, reason, sizeof(reason)), 0);
        CHECK_INT(strlen(ev.data.reason), EV_FREE_TEXT_CHARS);

        /* a dead letter: position, identity and the member named; the rest gone, numbers masked */
        static const char bad[] = "{\"v\":1,\"id\":\"e2\",\"source\":\"s\",\"seq\":4,\"type\":\"ib1.completed\","
                                  "\"at\":\"x\",\"case\":\"EB-19850312-1231\",\"unit\":\"U\",\"note\":\"Anna\"}";
        CHECK(event_parse(bad, strlen(bad), &ev, reason, sizeof(reason)) != 0);
        d = event_dead_letter_form(bad, strlen(bad), "envelope.case: holds a personnummer", &n);
        CHECK_STR(d ? d : "", "{\"v\":1,\"id\":\"e2\",\"source\":\"s\",\"seq\":4,\"type\":\"ib1.completed\","
                              "\"at\":\"x\",\"case\":\"EB-XXXXXX-XXXX\"}");
        free(d);
        d = event_dead_letter_form("oops 850312-1231!", 17, "not JSON", &n);
        CHECK_STR(d ? d : "", "oops XXXXXX-XXXX!");
        free(d);
        /* an id-shaped member holding a number is refused, each with its own reason */
        static const char unit[] = "{\"v\":1,\"id\":\"e3\",\"source\":\"s\",\"seq\":5,\"type\":\"ib1.completed\","
                                   "\"at\":\"2026-03-02T10:00:00Z\",\"case\":\"EB-1\",\"unit\":\"U 8503121231\"}";
        CHECK(event_parse(unit, strlen(unit), &ev, reason, sizeof(reason)) != 0);
        CHECK_STR(reason, "envelope.unit: holds a personnummer");
        CHECK_INT(ev.seq, 5);
}

static void test_examples_valid(const char *src)
{
        bool seen[EV__COUNT] = { false };
        char dir[4200], path[4500];
        char **names;
        size_t n;

        snprintf(dir, sizeof(dir), "%s/proto/examples/valid", src);
        n = list_json(dir, &names);
        CHECK(n >= EV__COUNT - 1);
        for (size_t i = 0; i < n; i++) {
                size_t len;
                char *buf;
                event_t ev;
                int r;

                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                buf = read_file(path, &len);
                CHECK(buf != NULL);
                r = buf ? event_parse(buf, len, &ev, reason, sizeof(reason)) : -1;
                if (r != 0)
                        fprintf(stderr, "FAIL valid example %s: %s\n", names[i], reason);
                CHECK_INT(r, 0);
                if (r == 0) {
                        seen[ev.type] = true;
                        normal_round_trip(&ev, names[i]);
                }
                free(buf);
                free(names[i]);
        }
        free(names);
        /* At least one realistic example per v1 type. */
        for (int t = EV_UNKNOWN + 1; t < EV__COUNT; t++) {
                if (!seen[t])
                        fprintf(stderr, "FAIL no valid example of %s\n", event_type_name((ev_type_t)t));
                CHECK(seen[t]);
        }
}

static void test_examples_invalid(const char *src)
{
        char dir[4200], path[4500];
        char **names;
        size_t n;

        snprintf(dir, sizeof(dir), "%s/proto/examples/invalid", src);
        n = list_json(dir, &names);
        CHECK(n >= 20);
        for (size_t i = 0; i < n; i++) {
                size_t len, rlen;
                char *buf, *want;
                event_t ev;
                int r;

                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                buf = read_file(path, &len);
                snprintf(path + strlen(path) - 5, 8, ".reason");
                want = read_file(path, &rlen);
                CHECK(buf != NULL);
                CHECK(want != NULL);
                if (!buf || !want) {
                        fprintf(stderr, "FAIL invalid example %s: unreadable or no .reason\n", names[i]);
                        goto next;
                }
                want = realloc(want, rlen + 1);
                want[rlen] = '\0';
                want[strcspn(want, "\n")] = '\0';
                r = event_parse(buf, len, &ev, reason, sizeof(reason));
                if (r != BK_E_INVALID || strcmp(reason, want) != 0)
                        fprintf(stderr, "FAIL invalid example %s: r=%d \"%s\", want \"%s\"\n",
                                names[i], r, reason, want);
                CHECK_INT(r, BK_E_INVALID);
                CHECK_STR(reason, want);
next:
                free(buf);
                free(want);
                free(names[i]);
        }
        free(names);
}

/* The direct writer escapes every ASCII byte as jansson does, and nests and separates values. */
static void test_jw(void)
{
        char all[128];
        jw_t w = { 0 };
        json_t *j;
        char *want;

        for (int i = 1; i < 128; i++)
                all[i - 1] = (char)i;
        all[127] = '\0';
        jw_str(&w, all);
        j = json_string(all);
        want = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        CHECK_STR(jw_text(&w, NULL) ? jw_text(&w, NULL) : "", want ? want : "?");
        free(want);
        json_decref(j);

        jw_reset(&w);
        jw_open(&w, '{');
        jw_key(&w, "a");
        jw_open(&w, '[');
        jw_int(&w, -1);
        jw_bool(&w, false);
        jw_str(&w, "x");
        jw_close(&w, ']');
        jw_key(&w, "b");
        jw_open(&w, '{');
        jw_close(&w, '}');
        jw_close(&w, '}');
        CHECK_STR(jw_text(&w, NULL) ? jw_text(&w, NULL) : "", "{\"a\":[-1,false,\"x\"],\"b\":{}}");
        size_t n = 0;
        char *t = jw_take(&w, &n);
        CHECK_INT(n, 27);
        CHECK(w.buf == NULL && w.len == 0);
        free(t);
}

int main(void)
{
        const char *src = source_dir();

        test_jw();
        test_envelope_ok();
        test_bad_names();
        test_unknown_type();
        test_envelope_reasons();
        test_order_and_position();
        test_not_json();
        test_types_ok();
        test_stored_forms();
        test_data_reasons();
        test_reasons_echo_nothing();
        test_personnummer();
        test_names();
        test_examples_valid(src);
        test_examples_invalid(src);
        return tap_done();
}
