/*
 * fuzz-api.c feeds arbitrary request frames to api_handle() over a small
 * world: an in-memory store whose reminders are in every state an op can
 * meet (scheduled, delivered to a caseworker, escalated to the leads,
 * acknowledged, snoozed, resolved, cancelled), an engine with the embedded
 * default configuration, a manual clock and an ingest without a bus. Each
 * input runs as an admin (every op is open to it) and then as a caseworker
 * (the ownership paths), each in a transaction that is rolled back, with
 * the clock put back, so every input meets the same world and a crash
 * reproduces from its input alone. Every reply must be one JSON object with
 * `ok`, `req` and, on failure, a protocol error code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "../demo-config.h"
#include "api.h"
#include "ingest.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { \
                fprintf(stderr, "fuzz-api: invariant broken: %s\n", #cond); abort(); } } while (0)

static struct {
        config_t cfg;
        bk_clock_t clock;
        store_t *store;
        engine_t *engine;
        ingest_t *ingest;
        api_ctx_t api;
        int64_t seq;
} w;

static const api_identity_t admin = { "admin1", ROLE_ADMIN, 0, { "" } };
static const api_identity_t hk1 = { "hk1", ROLE_CASEWORKER, 1, { "HV-EB-1" } };

static void discard(void *ud, const char *topic, const char *payload)
{
        (void)ud;
        (void)topic;
        (void)payload;
}

static json_t *feeds_json(void *arg)
{
        return ingest_feeds_json(arg, 0);
}

static void feeds_status(void *arg, char *buf, size_t n)
{
        ingest_status(arg, buf, n);
}

static void commit(void)
{
        if (engine_commit(w.engine, 0, discard, NULL) != 0) {
                fprintf(stderr, "fuzz-api: seeding failed\n");
                abort();
        }
}

static void event(const char *id, const char *type, const char *at, const char *case_id, const char *unit,
                  const char *data)
{
        char raw[1024], reason[EV_PARSE_REASON_SIZE];
        event_t ev;

        snprintf(raw, sizeof(raw), "{\"v\":1,\"id\":\"%s\",\"source\":\"paraply-hv\",\"seq\":%lld,\"type\":\"%s\","
                 "\"at\":\"%s\",\"case\":\"%s\",\"unit\":\"%s\",\"data\":%s}",
                 id, (long long)++w.seq, type, at, case_id, unit, data ? data : "{}");
        if (event_parse(raw, strlen(raw), &ev, reason, sizeof(reason)) != 0) {
                fprintf(stderr, "fuzz-api: seed event %s: %s\n", id, reason);
                abort();
        }
        engine_begin(w.engine, clock_now(&w.clock));
        if (engine_apply_event(w.engine, &ev) < 0)
                abort();
        commit();
}

static void tick(const char *now)
{
        bk_time_t t;

        if (cal_parse_rfc3339(now, &t) != 0 || clock_set(&w.clock, t) != 0)
                abort();
        engine_begin(w.engine, clock_now(&w.clock));
        if (engine_wake_cases(w.engine, 1000) < 0 || engine_deliver_due(w.engine, 1000) < 0)
                abort();
        commit();
}

static void lifecycle(const char *op, const char *case_id, rule_id_t rule, const char *cycle)
{
        char id[20];
        reminder_t r;
        int res;

        rules_reminder_id(case_id, rule, cycle, id);
        engine_begin(w.engine, clock_now(&w.clock));
        res = strcmp(op, "ack") == 0 ? engine_ack(w.engine, id, &r)
            : strcmp(op, "snooze") == 0 ? engine_snooze(w.engine, id, 0, &r)
                                        : engine_dismiss(w.engine, id, "seed", &r);
        if (res != 0) {
                fprintf(stderr, "fuzz-api: seed %s of %s: %d\n", op, id, res);
                abort();
        }
        commit();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        static const char child[] = "{\"caseworker\":\"hk1\",\"household\":{\"adults\":1,\"single_parent\":true,"
                                    "\"children\":[\"2016-02\"]},\"barrier\":\"sickness\"}";
        char err[512], id[32], at[40], data[256];

        (void)argc;
        (void)argv;
        log_init("fuzz-api", LOG_CRIT, false);
        if (demo_config_load(&w.cfg, err, sizeof(err)) != 0) {
                fprintf(stderr, "fuzz-api: %s\n", err);
                abort();
        }
        clock_init(&w.clock, true, 0);
        if (cal_parse_rfc3339("2025-10-05T12:00:00+02:00", &w.clock.manual_now) != 0 ||
            store_open(":memory:", true, &w.store) != 0 ||
            engine_new(&w.cfg, w.store, &w.clock, &w.engine) != 0 ||
            ingest_new(&w.cfg, &w.clock, 0, &w.ingest) != 0)
                abort();
        w.api = (api_ctx_t){ .cfg = &w.cfg, .store = w.store, .engine = w.engine,
                             .feeds = { feeds_json, feeds_status, NULL, w.ingest }, .clock = &w.clock };

        /* EB-5: long-term, FIA-DUE and the escalation FIA-OVERDUE (caseworker and leads) */
        event("s5-open", "case.opened", "2025-01-02T09:00:00+01:00", "EB-5", "HV-EB-1",
              "{\"caseworker\":\"hk1\",\"household\":{\"adults\":2,\"single_parent\":false,\"children\":[]},"
              "\"barrier\":\"unemployment\"}");
        for (int m = 1; m <= 10; m++) {
                snprintf(id, sizeof(id), "s5-dec-%02d", m);
                snprintf(at, sizeof(at), "2025-%02d-05T10:00:00%s", m, m >= 4 ? "+02:00" : "+01:00");
                snprintf(data, sizeof(data), "{\"month\":\"2025-%02d\",\"outcome\":\"granted\",\"decision\":\"d%d\","
                         "\"child_impact_documented\":true}", m, m);
                event(id, "assistance.decided", at, "EB-5", "HV-EB-1", data);
        }
        event("s5-af", "actor.involved", "2025-10-05T11:00:00+02:00", "EB-5", "HV-EB-1", "{\"actor\":\"af\"}");
        tick("2025-11-04T08:00:00+01:00");
        /* EB-1: three refusals without child impact (delivered; then acked, snoozed, dismissed),
         * an IB3-DUE still scheduled, a resolved IB4-DUE; EB-2 in another unit; EB-3 closed. */
        tick("2025-11-04T09:30:00+01:00");
        event("s1-open", "case.opened", "2025-11-03T09:00:00+01:00", "EB-1", "HV-EB-1", child);
        for (int i = 1; i <= 3; i++) {
                snprintf(id, sizeof(id), "s1-dec-%d", i);
                snprintf(data, sizeof(data), "{\"month\":\"2025-11\",\"outcome\":\"refused\",\"decision\":\"d-%d\","
                         "\"child_impact_documented\":false}", i);
                event(id, "assistance.decided", "2025-11-04T09:00:00+01:00", "EB-1", "HV-EB-1", data);
        }
        event("s1-ib1", "ib1.completed", "2025-11-04T09:05:00+01:00", "EB-1", "HV-EB-1", NULL);
        event("s2-open", "case.opened", "2025-11-03T09:00:00+01:00", "EB-2", "HV-EB-2", child);
        event("s2-dec", "assistance.decided", "2025-11-04T09:00:00+01:00", "EB-2", "HV-EB-2",
              "{\"month\":\"2025-11\",\"outcome\":\"partial\",\"decision\":\"d-9\"}");
        event("s3-open", "case.opened", "2025-11-03T09:00:00+01:00", "EB-3", "HV-EB-1", child);
        event("s3-ib1", "ib1.completed", "2025-11-03T09:05:00+01:00", "EB-3", "HV-EB-1", NULL);
        event("s3-ib3", "ib3.completed", "2025-11-03T09:06:00+01:00", "EB-3", "HV-EB-1",
              "{\"violence_disclosed\":true}");
        tick("2025-11-04T10:00:00+01:00");
        event("s3-close", "case.closed", "2025-11-04T10:00:00+01:00", "EB-3", "HV-EB-1", NULL);
        lifecycle("ack", "EB-1", RULE_CHILD_IMPACT, "d-1");
        lifecycle("snooze", "EB-1", RULE_CHILD_IMPACT, "d-2");
        lifecycle("dismiss", "EB-1", RULE_CHILD_IMPACT, "d-3");
        /* a dead letter, for dead_letters */
        engine_begin(w.engine, clock_now(&w.clock));
        store_dead_letter_add(w.store, "not JSON: unexpected end", "{\"v\":", 5, w.clock.manual_now);
        store_counter_add(w.store, CNT_DEAD_LETTERS, 1);
        commit();
        return 0;
}

static void check_reply(const char *text)
{
        static const char *const codes[] = {
                "bad_request", "unknown_op", "not_found", "forbidden", "conflict", "unavailable", "internal",
        };
        json_error_t jerr;
        json_t *j, *ok, *err;

        REQUIRE(text != NULL);
        j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        REQUIRE(json_is_object(j));
        ok = json_object_get(j, "ok");
        err = json_object_get(j, "error");
        REQUIRE(json_is_boolean(ok));
        REQUIRE(json_object_get(j, "req") != NULL);
        /* protocol §6: req is echoed only as a number or a string of at most 128 characters */
        REQUIRE(json_is_null(json_object_get(j, "req")) || json_is_number(json_object_get(j, "req")) ||
                (json_is_string(json_object_get(j, "req")) && json_string_length(json_object_get(j, "req")) <= 4 * 128));
        if (json_is_true(ok)) {
                REQUIRE(err == NULL);
        } else {
                const char *code = json_string_value(json_object_get(err, "code"));
                const char *msg = json_string_value(json_object_get(err, "message"));
                bool known = false;
                REQUIRE(code && msg && msg[0]);
                for (size_t i = 0; i < BK_ARRAY_SIZE(codes); i++)
                        known |= strcmp(code, codes[i]) == 0;
                REQUIRE(known);
        }
        json_decref(j);
}

static void run(const api_identity_t *who, const uint8_t *data, size_t size)
{
        bk_time_t now = w.clock.manual_now;
        char *copy = malloc(size ? size : 1), *reply;

        if (!copy)
                return;
        memcpy(copy, data, size);           /* exact size: ASan sees any read past the end */
        if (engine_begin(w.engine, clock_now(&w.clock)) != 0)
                abort();
        reply = api_handle(&w.api, who, copy, size);
        check_reply(reply);
        free(reply);
        free(copy);
        /* every input meets the same world: the batch is rolled back (a failed engine_commit) */
        if (engine_commit(w.engine, -ECANCELED, discard, NULL) != -ECANCELED)
                abort();
        w.clock.manual_now = now;
        w.api.clock_moved = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        run(&admin, data, size);
        run(&hk1, data, size);
        return 0;
}
