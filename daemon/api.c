/*
 * api.c owns the API ops. Each op is a small static function over a parsed
 * request; a table maps op names to handlers, acl_may_call() (acl.c's op
 * table) says which roles may call each before its arguments are read, and
 * the ops ask acl.c about ownership (a caseworker's own reminders, a lead's
 * own units). Replies echo `req` when it is a short string or a number.
 */
#include <stdio.h>
#include "api.h"
#include "deliver.h"
#include "bus.h"
#include "indicators.h"
#include "log.h"
#include "name.h"
#include "pnr.h"

typedef struct api_req {
        api_ctx_t *ctx;
        const api_identity_t *who;
        json_t *in;               /* the request object */
        json_t *out;              /* reply members on success */
        const char *err_code;
        char err_msg[1024];
        bool deferred;            /* queued on the indicators' worker: no reply now */
        json_t *req_id;           /* what the reply echoes (echoable_req), borrowed from in */
} api_req_t;

static int fail(api_req_t *q, const char *code, const char *fmt, ...) BK_PRINTF(3, 4);
static int fail(api_req_t *q, const char *code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(q->err_msg, sizeof(q->err_msg), fmt, ap);
        va_end(ap);
        q->err_code = code;
        return -1;
}

/* ---- argument helpers --------------------------------------------------------- */

/* 2100-01-01T00:00:00Z: the calendar's years end there (events' too); a later time is a typo
 * (9999-12-31 would put the next delivery in the year 10000). */
#define API_TIME_END ((bk_time_t)4102444800)

/* Optional string member: NULL if absent; error if present but not a short string. */
static int opt_str(api_req_t *q, const char *key, size_t max, const char **out)
{
        json_t *v = json_object_get(q->in, key);
        *out = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return fail(q, "bad_request", "%s: must be a string", key);
        if (json_string_length(v) > max)
                return fail(q, "bad_request", "%s: longer than %zu", key, max);
        *out = json_string_value(v);
        return 0;
}

/* Optional name (a unit, a caseworker): of the one grammar the feed and the key list use (name.h). */
static int opt_name(api_req_t *q, const char *key, const char **out)
{
        if (opt_str(q, key, EV_NAME_MAX, out) < 0)
                return -1;
        if (*out && (*out)[0] && !name_ok(*out))
                return fail(q, "bad_request", "%s: must match " NAME_GRAMMAR, key);
        return 0;
}

static int req_str(api_req_t *q, const char *key, size_t max, const char **out)
{
        if (opt_str(q, key, max, out) < 0)
                return -1;
        if (!*out || !(*out)[0])
                return fail(q, "bad_request", "%s: required", key);
        return 0;
}

static int opt_int(api_req_t *q, const char *key, int64_t min, int64_t max, int64_t def, int64_t *out)
{
        json_t *v = json_object_get(q->in, key);
        *out = def;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
                return fail(q, "bad_request", "%s: must be an integer from %lld to %lld", key,
                            (long long)min, (long long)max);
        *out = json_integer_value(v);
        return 0;
}

/* ---- authorization --------------------------------------------------------------- */

/* Recipient: the caseworker it is addressed to, a lead of its unit (for leads' copies), admin. */
static bool may_handle(const api_identity_t *who, const reminder_t *r)
{
        return acl_may_handle(who, r->unit, r->caseworker, r->to_caseworker);
}

/* ---- ops -------------------------------------------------------------------------- */

static int op_hello(api_req_t *q)
{
        q->out = json_pack("{s:s, s:i, s:s, s:s, s:I}", "version", BEVAKA_VERSION, "protocol", 1,
                           "user", q->who->user, "role", acl_role_name(q->who->role),
                           "rseq", (json_int_t)store_counter(q->ctx->store, CNT_RSEQ));
        return 0;
}

static json_t *rem_list_json(const reminder_t *list, int n, int64_t rseq, bool with_state)
{
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
                json_array_append_new(arr, reminder_to_json(&list[i], "due", rseq, with_state));
        return arr;
}

static int op_sync(api_req_t *q)
{
        const char *topic;
        char unit[EV_NAME_MAX + 1], name[EV_NAME_MAX + 1];
        int64_t since, rseq = store_counter(q->ctx->store, CNT_RSEQ);
        reminder_t *list = NULL, *keep;
        int n = 0, k = 0;

        if (req_str(q, "topic", 2 * EV_NAME_MAX + 8, &topic) < 0 ||
            opt_int(q, "since_rseq", 0, INT64_MAX, 0, &since) < 0)
                return -1;
        if (!acl_topic_split(topic, unit, name))
                return fail(q, "bad_request", "topic: must be rem/<unit>/<caseworker>/ or rem/<unit>/@leads/");
        if (!acl_may_read_topic(q->who, topic))
                return fail(q, "forbidden", "topic: not yours to read");
        bool leads = strcmp(name, "@leads") == 0;
        rem_filter_t f = { .unit = unit, .caseworker = leads ? NULL : name, .state = -1,
                           .delivered_only = true };
        if (store_rem_query(q->ctx->store, &f, &list, &n) < 0)
                return fail(q, "internal", "store query failed");
        /* The same topics the reminder was published on (reminder_topic_*). */
        keep = list;
        for (int i = 0; i < n; i++) {
                bool on_topic = leads ? (list[i].to_leads || (list[i].to_caseworker && !list[i].caseworker[0]))
                                      : list[i].to_caseworker;
                if (on_topic)
                        keep[k++] = list[i];
        }
        q->out = json_pack("{s:o, s:I}", "reminders", rem_list_json(keep, k, rseq, true),
                           "rseq", (json_int_t)rseq);
        free(list);
        return 0;
}

static int lifecycle(api_req_t *q, int which)
{
        const char *id, *until_s = NULL, *reason = NULL;
        bk_time_t until = 0;
        reminder_t r;
        int res;

        if (req_str(q, "id", 32, &id) < 0)
                return -1;
        if (which == 1 && opt_str(q, "until", 64, &until_s) < 0)
                return -1;
        if (which == 2 && req_str(q, "reason", EV_REASON_MAX, &reason) < 0)
                return -1;
        /* Free text: a personnummer in it is masked (counted) and it is cut, as in events. */
        char masked[EV_REASON_MAX + PNR_MASK_LEN + 1];
        if (reason) {
                size_t n;
                int k = pnr_mask(reason, strlen(reason), masked, sizeof(masked), &n);
                masked[pnr_utf8_prefix(masked, n, EV_FREE_TEXT_CHARS)] = '\0';
                if (k > 0)
                        store_counter_add(q->ctx->store, CNT_MASKED, k);
                reason = masked;
        }
        if (until_s && cal_parse_rfc3339(until_s, &until) != 0)
                return fail(q, "bad_request", "until: not RFC 3339 with offset");
        if (until_s && until >= API_TIME_END)
                return fail(q, "bad_request", "until: must be before 2100-01-01");
        if (until_s && until <= clock_now(q->ctx->clock))
                return fail(q, "bad_request", "until: must be in the future");
        if (store_rem_get(q->ctx->store, id, &r) != 0)
                return fail(q, "not_found", "no reminder %s", id);
        if (!may_handle(q->who, &r))
                return fail(q, "forbidden", "not your reminder");
        res = which == 0 ? engine_ack(q->ctx->engine, id, &r)
            : which == 1 ? engine_snooze(q->ctx->engine, id, until, &r)
                         : engine_dismiss(q->ctx->engine, id, reason, &r);
        q->ctx->wrote = true;
        if (res == BK_E_CONFLICT)
                return fail(q, "conflict", "reminder %s is %s", id, reminder_state_name(r.state));
        if (res != 0)
                return fail(q, "internal", "could not update reminder");
        q->out = json_pack("{s:o}", "reminder",
                           reminder_to_json(&r, "due", store_counter(q->ctx->store, CNT_RSEQ), true));
        return 0;
}

static int op_ack(api_req_t *q) { return lifecycle(q, 0); }
static int op_snooze(api_req_t *q) { return lifecycle(q, 1); }
static int op_dismiss(api_req_t *q) { return lifecycle(q, 2); }

static int op_reminders(api_req_t *q)
{
        const char *unit, *cw, *case_id, *rule, *state;
        int64_t limit;
        reminder_t *list = NULL;
        int n = 0, st = -1;

        if (opt_name(q, "unit", &unit) < 0 || opt_name(q, "caseworker", &cw) < 0 ||
            opt_str(q, "case", EV_NAME_MAX, &case_id) < 0 || opt_str(q, "rule", 32, &rule) < 0 ||
            opt_str(q, "state", 32, &state) < 0 || opt_int(q, "limit", 1, 100000, 1000, &limit) < 0)
                return -1;
        if (q->who->role == ROLE_LEAD) {
                if (!unit && q->who->n_units == 1)
                        unit = q->who->units[0];
                if (!unit || !acl_has_unit(q->who, unit))
                        return fail(q, "forbidden", "unit: leads list their own units only");
        }
        if (rule && rules_from_name(rule) < 0)
                return fail(q, "bad_request", "rule: unknown rule %s", rule);
        if (state && strcmp(state, "open") != 0 && strcmp(state, "any") != 0 &&
            (st = reminder_state_from_name(state)) < 0)
                return fail(q, "bad_request", "state: unknown state");
        if (state && strcmp(state, "any") == 0)
                st = -2;
        rem_filter_t f = { unit, cw, case_id, rule, st, false, (int)limit };
        if (store_rem_query(q->ctx->store, &f, &list, &n) < 0)
                return fail(q, "internal", "store query failed");
        q->out = json_pack("{s:o}", "reminders",
                           rem_list_json(list, n, store_counter(q->ctx->store, CNT_RSEQ), true));
        free(list);
        return 0;
}

static int op_case(api_req_t *q)
{
        const char *case_id;
        json_t *view;
        reminder_t *list = NULL;
        int n = 0;

        if (req_str(q, "case", EV_NAME_MAX, &case_id) < 0)
                return -1;
        view = engine_case_view(q->ctx->engine, case_id);
        if (!view)
                return fail(q, "not_found", "no case %s", case_id);
        const char *unit = json_string_value(json_object_get(view, "unit"));
        if (q->who->role == ROLE_LEAD && !(unit && acl_has_unit(q->who, unit))) {
                json_decref(view);
                /* Same answer as for an unknown case: don't confirm that it exists. */
                return fail(q, "not_found", "no case %s", case_id);
        }
        rem_filter_t f = { .case_id = case_id, .state = -1 };
        if (store_rem_query(q->ctx->store, &f, &list, &n) == 0)
                json_object_set_new(view, "reminders",
                                    rem_list_json(list, n, store_counter(q->ctx->store, CNT_RSEQ), true));
        free(list);
        q->out = view;
        return 0;
}

static int op_why(api_req_t *q)
{
        const char *id;
        reminder_t r;
        char due[16], deliver[32], created[32];
        json_t *dates;

        if (req_str(q, "id", 32, &id) < 0)
                return -1;
        if (store_rem_get(q->ctx->store, id, &r) != 0)
                return fail(q, "not_found", "no reminder %s", id);
        if (!may_handle(q->who, &r))
                return fail(q, "forbidden", "not your reminder");
        cal_format_date(r.due, due, sizeof(due));
        cal_format_rfc3339(r.deliver_at, deliver, sizeof(deliver));
        cal_format_rfc3339(r.created_at, created, sizeof(created));
        dates = json_loads(r.why, 0, NULL);
        if (!json_is_object(dates)) {
                json_decref(dates);
                dates = json_object();
        }
        q->out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s}",
                           "id", r.id, "rule", rules_name(r.rule), "title", r.title, "case", r.case_id,
                           "cycle", r.cycle, "events", store_rem_events(q->ctx->store, r.id), "dates", dates,
                           "due_at", due, "deliver_at", deliver, "learned_at", created);
        json_object_set_new(q->out, "state", json_string(reminder_state_name(r.state)));
        deliver_why(q->ctx->store, &r, q->out);
        json_object_set_new(q->out, "reminder",
                            reminder_to_json(&r, "due", store_counter(q->ctx->store, CNT_RSEQ), true));
        return 0;
}

static int op_stats(api_req_t *q)
{
        store_t *s = q->ctx->store;
        int64_t c[REM__STATE_COUNT];
        bk_time_t next = engine_next_deadline(q->ctx->engine);
        char when[32] = "";
        char status[128];

        store_rem_count_by_state(s, c);
        if (next != INT64_MAX)
                cal_format_rfc3339(next, when, sizeof(when));
        bk_strlcpy(status, "no feeds", sizeof(status));
        if (q->ctx->feeds.status)
                q->ctx->feeds.status(q->ctx->feeds.arg, status, sizeof(status));
        q->out = json_pack("{s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:I, s:I, s:o,"
                           " s:s}",
                           "events", "applied", (json_int_t)store_counter(s, CNT_APPLIED),
                           "duplicates", (json_int_t)store_counter(s, CNT_DUPLICATES),
                           "dead_letters", (json_int_t)store_counter(s, CNT_DEAD_LETTERS),
                           "ignored", (json_int_t)store_counter(s, CNT_IGNORED),
                           "reminders", "scheduled", (json_int_t)c[REM_SCHEDULED],
                           "delivered", (json_int_t)c[REM_DELIVERED],
                           "acknowledged", (json_int_t)c[REM_ACKNOWLEDGED],
                           "snoozed", (json_int_t)c[REM_SNOOZED], "resolved", (json_int_t)c[REM_RESOLVED],
                           "cancelled", (json_int_t)c[REM_CANCELLED],
                           "feeds", q->ctx->feeds.json ? q->ctx->feeds.json(q->ctx->feeds.arg) : json_array(),
                           "gaps", (json_int_t)store_counter(s, CNT_GAPS),
                           "replays", (json_int_t)store_counter(s, CNT_REPLAYS),
                           "next_delivery", next == INT64_MAX ? json_null() : json_string(when),
                           "feed_status", status);
        json_object_set_new(q->out, "rseq", json_integer(store_counter(s, CNT_RSEQ)));
        json_object_set_new(q->out, "feed_endpoints",
                            q->ctx->feeds.endpoints ? q->ctx->feeds.endpoints(q->ctx->feeds.arg) : json_array());
        json_object_set_new(q->out, "dead_letter_reasons", store_dead_letter_reasons(s));
        /* personnummer masked in free text (events and dismiss reasons) */
        json_object_set_new(q->out, "masked", json_integer(store_counter(s, CNT_MASKED)));
        json_object_set_new(q->out, "purge",
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
                                      "runs", (json_int_t)store_counter(s, CNT_PURGE_RUNS),
                                      "cases", (json_int_t)store_counter(s, CNT_PURGE_CASES),
                                      "events", (json_int_t)store_counter(s, CNT_PURGE_EVENTS),
                                      "reminders", (json_int_t)store_counter(s, CNT_PURGE_REMINDERS),
                                      "dead_letters", (json_int_t)store_counter(s, CNT_PURGE_DEAD),
                                      "dropped", (json_int_t)store_counter(s, CNT_PURGE_DROPPED)));
        /* how reminders reached people (deliver.c; docs/operations.md "Going live") */
        json_object_set_new(q->out, "delivery",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}",
                                      "backlog", (json_int_t)store_counter(s, CNT_BACKLOG),
                                      "expired", (json_int_t)store_counter(s, CNT_EXPIRED),
                                      "superseded", (json_int_t)store_counter(s, CNT_SUPERSEDED),
                                      "summaries", (json_int_t)store_counter(s, CNT_SUMMARIES),
                                      "digests", (json_int_t)store_counter(s, CNT_DIGESTS)));
        if (q->ctx->security) {
                const struct bus_stats *sec = q->ctx->security;
                json_object_set_new(q->out, "security",
                                    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
                                              "handshakes_allowed", (json_int_t)sec->handshakes_allowed,
                                              "handshakes_refused", (json_int_t)sec->handshakes_refused,
                                              "subscriptions_granted", (json_int_t)sec->subscriptions_granted,
                                              "subscriptions_refused", (json_int_t)sec->subscriptions_refused,
                                              "protocol_violations", (json_int_t)sec->protocol_violations,
                                              "resets", (json_int_t)sec->resets));
        }
        return 0;
}

static int op_dead_letters(api_req_t *q)
{
        int64_t limit;
        if (opt_int(q, "limit", 1, 10000, 100, &limit) < 0)
                return -1;
        q->out = json_pack("{s:o}", "dead_letters", store_dead_letters(q->ctx->store, (int)limit));
        return 0;
}

/* Deletes one case at once (registered by mistake): state, events, reminders; a tombstone keeps
 * its old events from coming back. The log line names who, and counts, never the case. */
static int op_purge(api_req_t *q)
{
        const char *case_id;
        store_purged_t n = { 0 };

        if (req_str(q, "case", EV_NAME_MAX, &case_id) < 0)
                return -1;
        json_t *view = engine_case_view(q->ctx->engine, case_id);
        if (!view)
                return fail(q, "not_found", "no case %s", case_id);
        json_decref(view);
        q->ctx->wrote = true;
        if (engine_purge_case(q->ctx->engine, case_id, &n) != 0)
                return fail(q, "internal", "could not purge the case");
        q->ctx->purged = true;
        log_struct(LOG_NOTICE, LOG_ID_PURGED, LOG_FIELDS({ "BEVAKA_USER", q->who->user }),
                   "purge: %s deleted a case: %lld event(s), %lld reminder(s)", q->who->user,
                   (long long)n.events, (long long)n.reminders);
        q->out = json_pack("{s:{s:I, s:I}}", "purged", "events", (json_int_t)n.events, "reminders",
                           (json_int_t)n.reminders);
        return 0;
}

/* Reloads now, so the reply says what happened: ok:false with the reason when nothing new was
 * taken, and which changed settings (endpoints, the store) wait for a restart. */
static int op_reload(api_req_t *q)
{
        json_t *restart = NULL;
        char err[1024] = "";

        if (!q->ctx->reload)
                return fail(q, "unavailable", "reload: not available here");
        if (q->ctx->reload(q->ctx->reload_arg, &restart, err, sizeof(err)) != 0)
                return fail(q, "conflict", "reload failed, the running configuration stays: %s", err);
        q->out = json_pack("{s:o}", "restart_needed", restart ? restart : json_array());
        return 0;
}

static int op_clock(api_req_t *q)
{
        const char *set;
        bk_time_t t;
        char now[32];

        if (opt_str(q, "set", 64, &set) < 0)
                return -1;
        if (set) {
                if (!q->ctx->clock->manual)
                        return fail(q, "forbidden", "clock: only with clock.mode = \"manual\"");
                if (cal_parse_rfc3339(set, &t) != 0)
                        return fail(q, "bad_request", "set: not RFC 3339 with offset");
                if (t >= API_TIME_END)
                        return fail(q, "bad_request", "set: must be before 2100-01-01");
                if (clock_set(q->ctx->clock, t) != 0)
                        return fail(q, "conflict", "set: the clock never moves backwards");
                q->ctx->clock_moved = true;
                q->ctx->wrote = true;
        }
        cal_format_rfc3339(clock_now(q->ctx->clock), now, sizeof(now));
        q->out = json_pack("{s:s, s:s}", "now", now, "mode", q->ctx->clock->manual ? "manual" : "system");
        return 0;
}

/* A month argument "YYYY-MM"; def when absent. */
static int opt_month(api_req_t *q, const char *key, cal_month_t def, cal_month_t *out)
{
        const char *v;
        *out = def;
        if (opt_str(q, key, 7, &v) < 0)
                return -1;
        if (v && cal_parse_month(v, out) != 0)
                return fail(q, "bad_request", "%s: not YYYY-MM", key);
        return 0;
}

static int opt_bool(api_req_t *q, const char *key, bool *out)
{
        json_t *v = json_object_get(q->in, key);
        *out = false;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_boolean(v))
                return fail(q, "bad_request", "%s: must be true or false", key);
        *out = json_is_true(v);
        return 0;
}

/* Quality indicators (docs/indicators.md): a lead for own units, an admin for any or all. */
static int op_indicators(api_req_t *q)
{
        cal_day_t today = cal_local_day(clock_now(q->ctx->clock));
        cal_month_t now = cal_month_of(today);
        ind_query_t iq = { .today = today };
        int r;

        if (opt_name(q, "unit", &iq.unit) < 0 || opt_month(q, "to", now, &iq.to) < 0 ||
            opt_month(q, "from", iq.to - 11, &iq.from) < 0 || opt_bool(q, "series", &iq.series) < 0 ||
            opt_bool(q, "by_unit", &iq.by_unit) < 0)
                return -1;
        if (q->who->role == ROLE_LEAD) {
                if (!iq.unit && q->who->n_units == 1)
                        iq.unit = q->who->units[0];
                if (!iq.unit || !acl_has_unit(q->who, iq.unit) || iq.by_unit)
                        return fail(q, "forbidden", "unit: leads see their own units only");
        } else if (q->who->role != ROLE_ADMIN) {
                return fail(q, "forbidden", "this op is for leads and admins");
        }
        if (iq.unit && !iq.unit[0])
                iq.unit = NULL;
        if (iq.from > iq.to || iq.to - iq.from >= 120)
                return fail(q, "bad_request", "from..to: at most 120 months, from not after to");
        if (q->ctx->indicators && q->ctx->peer) {
                r = indworker_submit(q->ctx->indicators, &iq, &q->ctx->cfg->rules, q->req_id,
                                     q->ctx->peer, q->ctx->peer_len);
                if (r == BK_E_CONFLICT)
                        return fail(q, "unavailable", "too many indicator requests waiting; ask again later");
                if (r != 0)
                        return fail(q, "internal", "indicators failed");
                q->deferred = true;
                return 0;
        }
        r = indicators_compute(q->ctx->store, &q->ctx->cfg->rules, &iq, &q->out);
        if (r == BK_E_CONFLICT)
                return fail(q, "unavailable", "indicator facts incomplete: run bevakad --rebuild once");
        if (r != 0)
                return fail(q, "internal", "indicators failed");
        return 0;
}

static const struct {
        const char *name;
        int (*fn)(api_req_t *q);
} ops[] = {
        { "hello", op_hello },     { "sync", op_sync },       { "ack", op_ack },
        { "snooze", op_snooze },   { "dismiss", op_dismiss }, { "reminders", op_reminders },
        { "case", op_case },       { "why", op_why },         { "stats", op_stats },
        { "dead_letters", op_dead_letters }, { "reload", op_reload }, { "clock", op_clock },
        { "indicators", op_indicators },
        { "purge", op_purge },
};

char *api_reply_text(json_t *req_id, const char *err_code, const char *err_msg, json_t *out)
{
        json_t *r;
        char *text;

        if (err_code) {
                r = json_pack("{s:b, s:O, s:{s:s, s:s}}", "ok", 0, "req", req_id ? req_id : json_null(),
                              "error", "code", err_code, "message", err_msg ? err_msg : "");
        } else {
                r = json_pack("{s:b, s:O}", "ok", 1, "req", req_id ? req_id : json_null());
                if (r && out)
                        json_object_update(r, out);
        }
        json_decref(out);
        text = r ? json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(r);
        return text;
}

static char *reply(api_req_t *q, json_t *req_id)
{
        if (q->deferred)
                return NULL;
        return api_reply_text(req_id, q->err_code, q->err_msg, q->out);
}

/*
 * The `req` a reply may echo (protocol §6): a string of at most API_REQ_MAX characters or a
 * number; anything else (an object, a 60 KB string) is answered with "req": null, so a reply is
 * never an amplifier and never carries more of a request than the client's correlation id.
 */
#define API_REQ_MAX 128
static json_t *echoable_req(json_t *req)
{
        if (json_is_number(req))
                return req;
        /* at most API_REQ_MAX characters: the first API_REQ_MAX of them are the whole string */
        if (json_is_string(req) && json_string_length(req) ==
            pnr_utf8_prefix(json_string_value(req), json_string_length(req), API_REQ_MAX))
                return req;
        return NULL;
}

/* jansson's text says " near '<token>'" with bytes of the request: the reply names only where. */
static void fail_json(api_req_t *q, const json_error_t *jerr)
{
        char text[sizeof(jerr->text)];
        char *near;

        bk_strlcpy(text, jerr->text, sizeof(text));
        if ((near = strstr(text, " near '")))
                *near = '\0';
        fail(q, "bad_request", "not JSON: %s at line %d column %d", text, jerr->line, jerr->column);
}

char *api_handle(api_ctx_t *ctx, const api_identity_t *who, const char *body, size_t len)
{
        api_req_t q = { .ctx = ctx, .who = who };
        json_error_t jerr;
        json_t *req_id = NULL;
        const char *op, *refusal;
        char *text;

        q.in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!q.in) {
                fail_json(&q, &jerr);
        } else if (!json_is_object(q.in)) {
                fail(&q, "bad_request", "request must be a JSON object");
        } else {
                req_id = echoable_req(json_object_get(q.in, "req"));
                q.req_id = req_id;
                if (!json_is_string(json_object_get(q.in, "op"))) {
                        fail(&q, "bad_request", "op: required string");
                } else {
                        op = json_string_value(json_object_get(q.in, "op"));
                        size_t i;
                        for (i = 0; i < BK_ARRAY_SIZE(ops); i++)
                                if (strcmp(ops[i].name, op) == 0)
                                        break;
                        if (i == BK_ARRAY_SIZE(ops))
                                fail(&q, "unknown_op", "unknown op");
                        else if (!acl_may_call(who, op, &refusal))
                                fail(&q, "forbidden", "%s", refusal);
                        else
                                ops[i].fn(&q);
                }
        }
        text = reply(&q, req_id);
        json_decref(q.in);
        return text;
}
