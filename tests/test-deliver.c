/*
 * test-deliver.c checks the delivery policy (daemon/deliver.c, docs/rules.md
 * §5 "Delivery") through the engine, as the daemon drives it: catch-up
 * windows (backlog, expiry), the quiet go-live (backlog, one summary per
 * caseworker, what comes due later pops up again) and delivery.quiet =
 * false (v1: everything pops up). The scenarios (rule-ib4-overdue,
 * rule-fia-overdue, rule-continuity) check supersedes and digests on the
 * wire end to end.
 */
#include <stdio.h>
#include "deliver.h"
#include "engine.h"
#include "tap.h"

#define MAX_MSGS 64

typedef struct fx {
        config_t cfg;
        bk_clock_t clock;
        store_t *store;
        engine_t *engine;
        int64_t seq;
        int n;
        char topic[MAX_MSGS][REM_TOPIC_MAX];
        json_t *msg[MAX_MSGS];
} fx_t;

static bk_time_t T(const char *s)
{
        bk_time_t t = 0;
        CHECK_INT(cal_parse_rfc3339(s, &t), 0);
        return t;
}

static void collect(void *ud, const char *topic, const char *payload)
{
        fx_t *f = ud;

        if (f->n >= MAX_MSGS)
                return;
        snprintf(f->topic[f->n], sizeof(f->topic[0]), "%s", topic);
        f->msg[f->n++] = json_loads(payload, 0, NULL);
}

static void fx_clear(fx_t *f)
{
        for (int i = 0; i < f->n; i++)
                json_decref(f->msg[i]);
        f->n = 0;
}

static fx_t *fx_new(const char *now, bool quiet)
{
        fx_t *f = calloc(1, sizeof(*f));
        char err[256];

        if (!f)
                return NULL;
        CHECK_INT(config_load(NULL, "/tmp", &f->cfg, err, sizeof(err)), 0);
        f->cfg.delivery.quiet = quiet;
        clock_init(&f->clock, true, T(now));
        CHECK_INT(store_open(":memory:", true, &f->store), 0);
        CHECK_INT(engine_new(&f->cfg, f->store, &f->clock, &f->engine), 0);
        return f;
}

static void fx_free(fx_t *f)
{
        fx_clear(f);
        engine_free(&f->engine);
        store_close(&f->store);
        free(f);
}

static void fx_event(fx_t *f, const char *type, const char *at, const char *case_id, const char *data)
{
        char raw[1024], reason[EV_PARSE_REASON_SIZE];
        event_t ev;

        f->seq++;
        snprintf(raw, sizeof(raw), "{\"v\":1,\"id\":\"e%lld\",\"source\":\"s\",\"seq\":%lld,\"type\":\"%s\",\"at\":"
                 "\"%s\",\"case\":\"%s\",\"unit\":\"U1\",\"data\":%s}", (long long)f->seq, (long long)f->seq, type,
                 at, case_id, data ? data : "{}");
        CHECK_INT(event_parse(raw, strlen(raw), &ev, reason, sizeof(reason)), 0);
        CHECK_INT(engine_begin(f->engine, clock_now(&f->clock)), 0);
        CHECK_INT(engine_commit(f->engine, engine_apply_event(f->engine, &ev), collect, f), 0);
}

/* A case of caseworker cw with an ib1 at `at`: IB3-DUE due 14 days later. */
static void fx_ib1(fx_t *f, const char *case_id, const char *cw, const char *at)
{
        char data[256];

        snprintf(data, sizeof(data), "{\"caseworker\":\"%s\",\"household\":{\"adults\":1,\"single_parent\":false,"
                 "\"children\":[]},\"barrier\":\"unemployment\"}", cw);
        fx_event(f, "case.opened", at, case_id, data);
        fx_event(f, "ib1.completed", at, case_id, NULL);
}

/* What the daemon's loop runs when time passes (daemon.c run_time). */
static void fx_tick(fx_t *f, const char *now)
{
        int r;

        CHECK_INT(clock_set(&f->clock, T(now)), 0);
        CHECK_INT(engine_begin(f->engine, clock_now(&f->clock)), 0);
        r = engine_wake_cases(f->engine, 1000);
        if (r >= 0)
                r = engine_deliver_due(f->engine, 1000);
        if (r >= 0)
                r = engine_digest_due(f->engine);
        CHECK(r >= 0);
        CHECK_INT(engine_commit(f->engine, r < 0 ? r : 0, collect, f), 0);
}

static int fx_find(fx_t *f, const char *op, const char *rule, const char *case_id)
{
        for (int i = 0; i < f->n; i++) {
                const char *o = json_string_value(json_object_get(f->msg[i], "op"));
                const char *r = json_string_value(json_object_get(f->msg[i], "rule"));
                const char *c = json_string_value(json_object_get(f->msg[i], "case"));
                if (o && strcmp(o, op) == 0 && (!rule || (r && strcmp(r, rule) == 0)) &&
                    (!case_id || (c && strcmp(c, case_id) == 0)))
                        return i;
        }
        return -1;
}

static reminder_t rem_of(fx_t *f, const char *case_id, rule_id_t rule, const char *cycle)
{
        reminder_t r = { 0 };
        char id[REM_ID_MAX];

        rules_reminder_id(case_id, rule, cycle, id);
        CHECK_INT(store_rem_get(f->store, id, &r), 0);
        return r;
}

/* Learned live, after the window: backlog (IB3-DUE, 14 days) or expired (HANDOVER, 30 days). */
static void test_catch_up_windows(void)
{
        fx_t *f = fx_new("2026-03-02T09:00:00+01:00", true);
        reminder_t r;
        int i;

        if (!f)
                return;
        fx_ib1(f, "C1", "hk1", "2026-01-05T10:00:00+01:00");           /* due 01-19: 42 days late */
        fx_event(f, "caseworker.assigned", "2026-01-20T10:00:00+01:00", "C1", "{\"caseworker\":\"hk2\"}");
        fx_ib1(f, "C2", "hk2", "2026-02-10T10:00:00+01:00");           /* due 02-24: 6 days, in the window */
        CHECK_INT(f->n, 0);
        fx_tick(f, "2026-03-02T09:00:00+01:00");
        i = fx_find(f, "due", "IB3-DUE", "C1");
        CHECK(i >= 0 && json_is_true(json_object_get(f->msg[i], "backlog")));
        CHECK(i >= 0 && strcmp(f->topic[i], "rem/U1/hk2/") == 0);
        i = fx_find(f, "due", "IB3-DUE", "C2");
        CHECK(i >= 0 && json_object_get(f->msg[i], "backlog") == NULL);   /* a pop-up */
        CHECK(fx_find(f, "due", "HANDOVER", NULL) < 0);
        CHECK(fx_find(f, "summary", NULL, NULL) < 0);                     /* live, not a go-live */
        CHECK_INT(f->n, 2);
        r = rem_of(f, "C1", RULE_HANDOVER, "a2");
        CHECK_INT(r.state, REM_CANCELLED);
        CHECK_STR(r.close_reason, "expired");
        CHECK_INT(store_counter(f->store, CNT_EXPIRED), 1);
        CHECK_INT(store_counter(f->store, CNT_BACKLOG), 1);
        fx_free(f);
}

/* A go-live: found due is backlog, one summary per caseworker; later ones pop up again. */
static void test_golive(void)
{
        fx_t *f = fx_new("2026-03-02T08:00:00+01:00", true);
        json_t *s;
        int i;

        if (!f)
                return;
        engine_set_catching_up(f->engine, true, true);
        fx_ib1(f, "C1", "hk1", "2026-01-05T10:00:00+01:00");           /* due 01-19 */
        fx_ib1(f, "C2", "hk1", "2026-02-10T10:00:00+01:00");           /* due 02-24: in its window */
        fx_ib1(f, "C3", "hk1", "2026-02-27T10:00:00+01:00");           /* 3 days behind; due 03-13 */
        fx_ib1(f, "C4", "hk2", "2026-02-01T10:00:00+01:00");           /* due 02-15 (a Sunday) */
        engine_set_catching_up(f->engine, false, false);
        fx_tick(f, "2026-03-02T08:00:00+01:00");
        CHECK(fx_find(f, "due", "IB3-DUE", "C3") < 0);
        for (int k = 0; k < f->n; k++) {
                const char *op = json_string_value(json_object_get(f->msg[k], "op"));
                if (op && strcmp(op, "due") == 0)
                        CHECK(json_is_true(json_object_get(f->msg[k], "backlog")));
        }
        i = fx_find(f, "summary", NULL, NULL);
        CHECK(i >= 0);
        CHECK_INT(f->n, 5);     /* three backlog items, two summaries */
        for (int k = 0; k < f->n; k++) {
                s = f->msg[k];
                if (strcmp(json_string_value(json_object_get(s, "op")), "summary") != 0)
                        continue;
                bool hk1 = strcmp(f->topic[k], "rem/U1/hk1/") == 0;
                CHECK(hk1 || strcmp(f->topic[k], "rem/U1/hk2/") == 0);
                CHECK_INT(json_integer_value(json_object_get(s, "count")), hk1 ? 2 : 1);
                CHECK_INT(json_array_size(json_object_get(s, "items")), hk1 ? 2 : 1);
                CHECK_INT(json_integer_value(json_object_get(json_object_get(s, "counts"), "IB3-DUE")), hk1 ? 2 : 1);
                CHECK_STR(json_string_value(json_object_get(s, "title")),
                          hk1 ? "2 öppna påminnelser i dina ärenden" : "1 öppen påminnelse i dina ärenden");
                CHECK(strstr(json_string_value(json_object_get(s, "body")), "(C1, förfallen 2026-01-19)") || !hk1);
                CHECK_STR(json_string_value(json_object_get(s, "caseworker")), hk1 ? "hk1" : "hk2");
        }
        CHECK_INT(store_counter(f->store, CNT_SUMMARIES), 2);
        fx_clear(f);
        /* a second round sends no second summary; what comes due after the go-live pops up */
        fx_tick(f, "2026-03-02T10:00:00+01:00");
        CHECK_INT(f->n, 0);
        fx_tick(f, "2026-03-13T08:00:00+01:00");
        i = fx_find(f, "due", "IB3-DUE", "C3");
        CHECK(i >= 0 && json_object_get(f->msg[i], "backlog") == NULL);
        CHECK_INT(f->n, 1);
        fx_free(f);
}

/*
 * The summaries are built from the store: a daemon that stops after the go-live's backlog went out
 * but before ingest caught up (kill -9, a crash) sends them after its restart, once; what was
 * resolved meanwhile is not counted.
 */
static void test_golive_restart(void)
{
        fx_t *f = fx_new("2026-03-02T08:00:00+01:00", true);
        int i;

        if (!f)
                return;
        engine_set_catching_up(f->engine, true, true);
        fx_ib1(f, "C1", "hk1", "2026-01-05T10:00:00+01:00");           /* due 01-19 */
        fx_ib1(f, "C2", "hk1", "2026-01-12T10:00:00+01:00");           /* due 01-26 */
        fx_ib1(f, "C3", "hk1", "2026-01-13T10:00:00+01:00");           /* due 01-27 */
        fx_tick(f, "2026-03-02T08:00:00+01:00");                       /* still catching up */
        CHECK_INT(f->n, 3);
        CHECK(fx_find(f, "summary", NULL, NULL) < 0);
        fx_event(f, "ib3.completed", "2026-02-20T10:00:00+01:00", "C3", NULL);
        fx_clear(f);
        /* the restart: a new engine on the same store, caught up this time */
        engine_free(&f->engine);
        CHECK_INT(engine_new(&f->cfg, f->store, &f->clock, &f->engine), 0);
        fx_tick(f, "2026-03-02T08:05:00+01:00");
        i = fx_find(f, "summary", NULL, NULL);
        CHECK(i >= 0);
        CHECK_INT(f->n, 1);
        if (i >= 0) {
                CHECK_STR(f->topic[i], "rem/U1/hk1/");
                CHECK_INT(json_integer_value(json_object_get(f->msg[i], "count")), 2);
                CHECK(strstr(json_string_value(json_object_get(f->msg[i], "body")), "(C1, förfallen 2026-01-19)"));
                CHECK(!strstr(json_string_value(json_object_get(f->msg[i], "body")), "C3"));
        }
        fx_clear(f);
        engine_free(&f->engine);
        CHECK_INT(engine_new(&f->cfg, f->store, &f->clock, &f->engine), 0);
        fx_tick(f, "2026-03-02T08:10:00+01:00");
        CHECK_INT(f->n, 0);                                             /* never twice */
        CHECK_INT(store_counter(f->store, CNT_SUMMARIES), 1);
        fx_free(f);
}

/* delivery.quiet = false: v1, every reminder pops up whenever it was learned. */
static void test_quiet_off(void)
{
        fx_t *f = fx_new("2026-03-02T09:00:00+01:00", false);
        int i;

        if (!f)
                return;
        engine_set_catching_up(f->engine, true, true);
        fx_ib1(f, "C1", "hk1", "2026-01-05T10:00:00+01:00");
        fx_event(f, "caseworker.assigned", "2026-01-20T10:00:00+01:00", "C1", "{\"caseworker\":\"hk2\"}");
        engine_set_catching_up(f->engine, false, false);
        fx_tick(f, "2026-03-02T09:00:00+01:00");
        i = fx_find(f, "due", "IB3-DUE", "C1");
        CHECK(i >= 0 && json_object_get(f->msg[i], "backlog") == NULL);
        CHECK(fx_find(f, "due", "HANDOVER", "C1") >= 0);
        CHECK(fx_find(f, "summary", NULL, NULL) < 0);
        CHECK_INT(f->n, 2);
        fx_free(f);
}

/* The decision itself, at its edges. */
static void test_mode(void)
{
        config_t cfg;
        reminder_t r = { .rule = RULE_IB3_DUE };
        char err[256];
        bk_time_t due;

        CHECK_INT(config_load(NULL, "/tmp", &cfg, err, sizeof(err)), 0);
        CHECK_INT(cal_parse_date("2026-01-19", &r.due), 0);
        due = cal_local_to_utc(r.due, cfg.calendar.office_start_min);
        CHECK_INT(deliver_mode(&cfg, &r, due + 14 * 86400, 0), REM_POPUP);
        CHECK_INT(deliver_mode(&cfg, &r, due + 14 * 86400 + 1, 0), REM_BACKLOG_LATE);
        CHECK_INT(deliver_mode(&cfg, &r, due + 14 * 86400 + 1, due), REM_BACKLOG_GOLIVE);
        CHECK_INT(deliver_mode(&cfg, &r, due, due), REM_BACKLOG_GOLIVE);
        CHECK_INT(deliver_mode(&cfg, &r, due - 1, due - 1), REM_POPUP);           /* not due yet at go-live */
        cfg.rules.rule[RULE_IB3_DUE].catch_up_days = 100;
        CHECK_INT(deliver_mode(&cfg, &r, due + 99 * 86400, 0), REM_POPUP);
        r.rule = RULE_HANDOVER;
        CHECK_INT(deliver_mode(&cfg, &r, due + 31 * 86400, due + 31 * 86400), REM_EXPIRE);
        CHECK(deliver_is_golive(&cfg, true, due + 8 * 86400, due));
        CHECK(!deliver_is_golive(&cfg, true, due + 6 * 86400, due));
        CHECK(!deliver_is_golive(&cfg, false, due + 8 * 86400, due));
        r.rule = RULE_FIA_OVERDUE;
        r.to_leads = true;
        CHECK(deliver_leads_in_digest(&cfg, &r));
        cfg.rules.rule[RULE_FIA_OVERDUE].leads_digest = false;
        CHECK(!deliver_leads_in_digest(&cfg, &r));
        cfg.delivery.quiet = false;
        CHECK_INT(deliver_mode(&cfg, &r, due + 365 * 86400, due), REM_POPUP);
        /* digest rounds: a working moment of a day whose round has not run */
        CHECK(deliver_digest_due(&cfg, 0, T("2026-03-02T08:00:00+01:00")) == false);   /* quiet off */
        cfg.delivery.quiet = true;
        CHECK(deliver_digest_due(&cfg, 0, T("2026-03-02T08:00:00+01:00")));
        CHECK(!deliver_digest_due(&cfg, T("2026-03-02T08:00:00+01:00"), T("2026-03-02T15:00:00+01:00")));
        CHECK(deliver_digest_due(&cfg, T("2026-03-02T08:00:00+01:00"), T("2026-03-03T08:00:00+01:00")));
        CHECK(!deliver_digest_due(&cfg, T("2026-03-06T08:00:00+01:00"), T("2026-03-07T09:00:00+01:00")));  /* Sat */
}

int main(void)
{
        test_mode();
        test_catch_up_windows();
        test_golive();
        test_golive_restart();
        test_quiet_off();
        return tap_done();
}
