/*
 * rules-codec.c owns the store forms of a case's rules state: the JSON form
 * (schema-1 stores, tests, debugging) and the compact binary form the store
 * keeps now, with readers that check every field and never return a
 * half-read state.
 */
#include "rules-state.h"

char *rules_state_to_json(const case_state_t *st)
{
        json_t *o, *a;
        char *text;

        o = json_pack("{s:i, s:o, s:b, s:b, s:o, s:o, s:o, s:o, s:i}",
                      "v", STATE_VERSION, "case", rs_j_str(st->case_id), "seen", st->seen,
                      "opened", st->opened, "unit", rs_j_str(st->unit),
                      "caseworker", rs_j_str(st->caseworker),
                      "first_day", rs_j_day(st->first_day), "tick_day", rs_j_day(st->tick_day),
                      "reopen_n", st->reopen_n);
        if (!o)
                return NULL;
        json_object_set_new(o, "household", json_pack("{s:i, s:b, s:o, s:i}", "adults", st->adults,
                            "single_parent", st->single_parent,
                            "children", rs_j_months(st->children, st->n_children),
                            "counting", st->counting));
        json_object_set_new(o, "barrier", rs_j_barrier(st->barrier));
        json_object_set_new(o, "actors", rs_j_actors(st));
        json_object_set_new(o, "health_flagged", json_boolean(st->health_flagged));
        json_object_set_new(o, "granted", rs_j_months(st->granted, st->n_granted));
        json_object_set_new(o, "last_decided", rs_j_month(st->last_decided));
        json_object_set_new(o, "lt", json_pack("{s:b, s:i, s:o, s:o, s:o}", "on", st->lt,
                            "episode", st->lt_episode, "since", rs_j_day(st->lt_since),
                            "last_month", rs_j_month(st->lt_last_month),
                            "below_since", rs_j_month(st->lt_below_since)));
        a = json_object();
        for (int tr = 0; tr < TR__COUNT; tr++)
                json_object_set_new(a, rs_track_names[tr], rs_j_state(tr, st->ts[tr]));
        json_object_set_new(o, "tracks", a);
        json_object_set_new(o, "ib", json_pack("{s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}",
                            "ib1_n", st->ib1_n, "ib3_n", st->ib3_n, "plan_n", st->plan_n,
                            "exempt_n", st->exempt_n, "ib1", rs_j_day(st->ib1_day),
                            "ib2", rs_j_day(st->ib2_day), "ib3", rs_j_day(st->ib3_day),
                            "plan", rs_j_day(st->plan_day), "exempt_until", rs_j_day(st->exempt_until),
                            "exempt_reason", rs_j_str(st->exempt_reason)));
        json_object_set_new(o, "safety", json_pack("{s:o}", "day", rs_j_day(st->safety_day)));
        json_object_set_new(o, "fia", json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}", "n", st->fia_n,
                            "due", rs_j_day(st->fia_due_day), "started", rs_j_day(st->fia_started),
                            "completed", rs_j_day(st->fia_completed),
                            "declined", rs_j_day(st->fia_declined), "reason", rs_j_str(st->fia_reason)));
        a = json_array();
        for (int i = 0; i < st->n_applied; i++)
                json_array_append_new(a, json_integer(st->applied[i]));
        json_object_set_new(o, "children", json_pack("{s:i, s:i, s:i, s:o, s:i, s:o}",
                            "map_n", st->map_n, "map_episode", st->cmap_episode, "map_k", st->cmap_k,
                            "mapped", rs_j_day(st->mapped_day), "summer_year", st->summer_year,
                            "summer_applied", a));
        json_object_set_new(o, "sip", json_pack("{s:i, s:i, s:i, s:o, s:b, s:o, s:o, s:o, s:o, s:o}",
                            "n", st->sip_n, "fu_n", st->sip_fu_n, "consider_n", st->sipc_n,
                            "rest", rs_j_state(TR_SIP, st->sip_rest), "base", st->sip_base,
                            "initiated", rs_j_day(st->sip_initiated), "meeting", rs_j_day(st->sip_meeting),
                            "established", rs_j_day(st->sip_established),
                            "followed_up", rs_j_day(st->sip_followed_up), "reason", rs_j_str(st->sip_reason)));
        a = json_array();
        for (int i = 0; i < st->n_changes; i++)
                json_array_append_new(a, rs_j_day(st->changes[i]));
        json_object_set_new(o, "continuity", json_pack("{s:i, s:i, s:o}", "assign_n", st->assign_n,
                            "change_n", st->change_n, "changes", a));
        json_object_set_new(o, "work_capacity", json_pack("{s:i, s:o}", "n", st->wc_n,
                            "assessed", rs_j_day(st->wc_assessed)));
        a = json_array();
        for (int r = 0; r < RULE__COUNT; r++) {
                const armed_t *x = &st->armed[r];
                if (x->s == ARM_NONE)
                        continue;
                json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:o, s:o}",
                                      "rule", rules_name((rule_id_t)r),
                                      "s", x->s == ARM_OPEN ? "open" : "suspended",
                                      "cycle", rs_j_str(x->cycle), "base", rs_j_str(x->base),
                                      "due", rs_j_day(x->due)));
        }
        json_object_set_new(o, "armed", a);
        text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        return text;
}

/* A reader that remembers the first problem, so the parse reads like the writer. */
typedef struct rd {
        bool bad;
} rd_t;

static json_t *r_get(rd_t *r, json_t *o, const char *key)
{
        json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

        if (!v)
                r->bad = true;
        return v;
}

static int r_int(rd_t *r, json_t *o, const char *key, int lo, int hi)
{
        json_t *v = r_get(r, o, key);
        json_int_t x;

        if (!json_is_integer(v)) {
                r->bad = true;
                return 0;
        }
        x = json_integer_value(v);
        if (x < lo || x > hi) {
                r->bad = true;
                return 0;
        }
        return (int)x;
}

static bool r_bool(rd_t *r, json_t *o, const char *key)
{
        json_t *v = r_get(r, o, key);

        if (!json_is_boolean(v)) {
                r->bad = true;
                return false;
        }
        return json_is_true(v);
}

static void r_str(rd_t *r, json_t *o, const char *key, char *buf, size_t n)
{
        json_t *v = r_get(r, o, key);

        if (!json_is_string(v) || json_string_length(v) >= n) {
                r->bad = true;
                buf[0] = '\0';
                return;
        }
        bk_strlcpy(buf, json_string_value(v), n);
}

static cal_day_t r_dayv(rd_t *r, json_t *v)
{
        cal_day_t d;

        if (json_is_null(v))
                return DAY_NONE;
        if (!json_is_string(v) || cal_parse_date(json_string_value(v), &d) != 0) {
                r->bad = true;
                return DAY_NONE;
        }
        return d;
}

static cal_day_t r_day(rd_t *r, json_t *o, const char *key)
{
        json_t *v = r_get(r, o, key);

        return v ? r_dayv(r, v) : DAY_NONE;
}

static cal_month_t r_monthv(rd_t *r, json_t *v)
{
        cal_month_t m;

        if (json_is_null(v))
                return MONTH_NONE;
        if (!json_is_string(v) || cal_parse_month(json_string_value(v), &m) != 0) {
                r->bad = true;
                return MONTH_NONE;
        }
        return m;
}

static cal_month_t r_month(rd_t *r, json_t *o, const char *key)
{
        json_t *v = r_get(r, o, key);

        return v ? r_monthv(r, v) : MONTH_NONE;
}

static int r_state(rd_t *r, json_t *o, const char *key, int track)
{
        json_t *v = r_get(r, o, key);

        if (json_is_string(v))
                for (int s = 0; s < TRACK_STATES_MAX && rs_state_names[track][s]; s++)
                        if (strcmp(rs_state_names[track][s], json_string_value(v)) == 0)
                                return s;
        r->bad = true;
        return 0;
}

static json_t *r_array(rd_t *r, json_t *o, const char *key, size_t max)
{
        json_t *v = r_get(r, o, key);

        if (!json_is_array(v) || json_array_size(v) > max) {
                r->bad = true;
                return NULL;
        }
        return v;
}

static void r_barrier(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *v = r_get(r, o, "barrier");

        st->barrier = BARRIER_NONE;
        if (json_is_null(v))
                return;
        for (int b = BARRIER_UNEMPLOYMENT; b <= BARRIER_UNCLEAR; b++)
                if (json_is_string(v) && event_barrier_name((ev_barrier_t)b) &&
                    strcmp(event_barrier_name((ev_barrier_t)b), json_string_value(v)) == 0) {
                        st->barrier = (ev_barrier_t)b;
                        return;
                }
        r->bad = true;
}

static void r_actors(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *a = r_array(r, o, "actors", 8), *v;
        size_t i;

        st->actors = 0;
        json_array_foreach(a, i, v) {
                bool found = false;
                for (int x = ACTOR_AF; x <= ACTOR_OTHER && !found; x++)
                        if (json_is_string(v) && event_actor_name((ev_actor_t)x) &&
                            strcmp(event_actor_name((ev_actor_t)x), json_string_value(v)) == 0) {
                                st->actors |= 1u << x;
                                found = true;
                        }
                if (!found)
                        r->bad = true;
        }
}

static void r_granted(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *a = r_array(r, o, "granted", 100000), *v;
        size_t i;

        if (!a)
                return;
        if (rs_granted_reserve(st, (int)json_array_size(a)) < 0) {
                r->bad = true;
                return;
        }
        json_array_foreach(a, i, v) {
                cal_month_t m = r_monthv(r, v);
                /* Sorted and unique is part of the form; anything else is not ours. */
                if (m == MONTH_NONE || (st->n_granted && m <= st->granted[st->n_granted - 1])) {
                        r->bad = true;
                        return;
                }
                st->granted[st->n_granted++] = m;
        }
}

static void r_armed(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *a = r_array(r, o, "armed", RULE__COUNT), *v;
        size_t i;

        json_array_foreach(a, i, v) {
                char name[32], s[16];
                int rule;
                armed_t *x;

                r_str(r, v, "rule", name, sizeof(name));
                rule = rules_from_name(name);
                if (rule < 0) {
                        r->bad = true;
                        return;
                }
                x = &st->armed[rule];
                r_str(r, v, "s", s, sizeof(s));
                if (strcmp(s, "open") == 0)
                        x->s = ARM_OPEN;
                else if (strcmp(s, "suspended") == 0)
                        x->s = ARM_SUSPENDED;
                else
                        r->bad = true;
                r_str(r, v, "cycle", x->cycle, sizeof(x->cycle));
                r_str(r, v, "base", x->base, sizeof(x->base));
                x->due = r_day(r, v, "due");
        }
}

static void r_lists(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *h = r_get(r, o, "household"), *ch = r_get(r, o, "children");
        json_t *ct = r_get(r, o, "continuity"), *a, *v;
        size_t i;

        st->adults = r_int(r, h, "adults", 0, 1000);
        st->single_parent = r_bool(r, h, "single_parent");
        st->counting = r_int(r, h, "counting", 0, EV_MAX_CHILDREN);
        a = r_array(r, h, "children", EV_MAX_CHILDREN);
        json_array_foreach(a, i, v) {
                cal_month_t m = r_monthv(r, v);
                if (m == MONTH_NONE)
                        r->bad = true;
                st->children[st->n_children++] = m;
        }
        a = r_array(r, ch, "summer_applied", SUMMER_KEEP);
        json_array_foreach(a, i, v) {
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 9999)
                        r->bad = true;
                else
                        st->applied[st->n_applied++] = (int)json_integer_value(v);
        }
        a = r_array(r, ct, "changes", CONT_KEEP);
        json_array_foreach(a, i, v) {
                cal_day_t d = r_dayv(r, v);
                if (d == DAY_NONE)
                        r->bad = true;
                st->changes[st->n_changes++] = d;
        }
}

/* The tracks' own facts, in the order the writer puts them. */
static void r_tracks(rd_t *r, json_t *o, case_state_t *st)
{
        json_t *x;

        x = r_get(r, o, "ib");
        st->ib1_n = r_int(r, x, "ib1_n", 0, INT32_MAX);
        st->ib3_n = r_int(r, x, "ib3_n", 0, INT32_MAX);
        st->plan_n = r_int(r, x, "plan_n", 0, INT32_MAX);
        st->exempt_n = r_int(r, x, "exempt_n", 0, INT32_MAX);
        st->ib1_day = r_day(r, x, "ib1");
        st->ib2_day = r_day(r, x, "ib2");
        st->ib3_day = r_day(r, x, "ib3");
        st->plan_day = r_day(r, x, "plan");
        st->exempt_until = r_day(r, x, "exempt_until");
        r_str(r, x, "exempt_reason", st->exempt_reason, sizeof(st->exempt_reason));
        st->safety_day = r_day(r, r_get(r, o, "safety"), "day");
        x = r_get(r, o, "fia");
        st->fia_n = r_int(r, x, "n", 0, INT32_MAX);
        st->fia_due_day = r_day(r, x, "due");
        st->fia_started = r_day(r, x, "started");
        st->fia_completed = r_day(r, x, "completed");
        st->fia_declined = r_day(r, x, "declined");
        r_str(r, x, "reason", st->fia_reason, sizeof(st->fia_reason));
        x = r_get(r, o, "children");
        st->map_n = r_int(r, x, "map_n", 0, INT32_MAX);
        st->cmap_episode = r_int(r, x, "map_episode", 0, INT32_MAX);
        st->cmap_k = r_int(r, x, "map_k", 0, INT32_MAX);
        st->mapped_day = r_day(r, x, "mapped");
        st->summer_year = r_int(r, x, "summer_year", 0, 9999);
        x = r_get(r, o, "sip");
        st->sip_n = r_int(r, x, "n", 0, INT32_MAX);
        st->sip_fu_n = r_int(r, x, "fu_n", 0, INT32_MAX);
        st->sipc_n = r_int(r, x, "consider_n", 0, INT32_MAX);
        st->sip_rest = r_state(r, x, "rest", TR_SIP);
        st->sip_base = r_bool(r, x, "base");
        st->sip_initiated = r_day(r, x, "initiated");
        st->sip_meeting = r_day(r, x, "meeting");
        st->sip_established = r_day(r, x, "established");
        st->sip_followed_up = r_day(r, x, "followed_up");
        r_str(r, x, "reason", st->sip_reason, sizeof(st->sip_reason));
        x = r_get(r, o, "continuity");
        st->assign_n = r_int(r, x, "assign_n", 0, INT32_MAX);
        st->change_n = r_int(r, x, "change_n", 0, INT32_MAX);
        x = r_get(r, o, "work_capacity");
        st->wc_n = r_int(r, x, "n", 0, INT32_MAX);
        st->wc_assessed = r_day(r, x, "assessed");
}

int rules_state_from_json(const char *text, case_state_t **out)
{
        json_t *o, *x;
        case_state_t *st;
        rd_t r = { false };
        char case_id[EV_NAME_MAX + 1];

        *out = NULL;
        if (!text || !(o = json_loads(text, 0, NULL)))
                return BK_E_INVALID;
        if (!json_is_object(o) || r_int(&r, o, "v", 0, 1000) != STATE_VERSION) {
                json_decref(o);
                return BK_E_INVALID;
        }
        r_str(&r, o, "case", case_id, sizeof(case_id));
        if (!(st = rules_state_new(case_id))) {
                json_decref(o);
                return -ENOMEM;
        }
        st->seen = r_bool(&r, o, "seen");
        st->opened = r_bool(&r, o, "opened");
        r_str(&r, o, "unit", st->unit, sizeof(st->unit));
        r_str(&r, o, "caseworker", st->caseworker, sizeof(st->caseworker));
        st->first_day = r_day(&r, o, "first_day");
        st->tick_day = r_day(&r, o, "tick_day");
        st->reopen_n = r_int(&r, o, "reopen_n", 0, INT32_MAX);
        r_barrier(&r, o, st);
        r_actors(&r, o, st);
        st->health_flagged = r_bool(&r, o, "health_flagged");
        r_granted(&r, o, st);
        st->last_decided = r_month(&r, o, "last_decided");
        x = r_get(&r, o, "lt");
        st->lt = r_bool(&r, x, "on");
        st->lt_episode = r_int(&r, x, "episode", 0, INT32_MAX);
        st->lt_since = r_day(&r, x, "since");
        st->lt_last_month = r_month(&r, x, "last_month");
        st->lt_below_since = r_month(&r, x, "below_since");
        x = r_get(&r, o, "tracks");
        for (int tr = 0; tr < TR__COUNT; tr++)
                st->ts[tr] = r_state(&r, x, rs_track_names[tr], tr);
        r_tracks(&r, o, st);
        r_lists(&r, o, st);
        r_armed(&r, o, st);
        json_decref(o);
        if (r.bad) {
                rules_state_free(&st);
                return BK_E_INVALID;
        }
        *out = st;
        return 0;
}

/* ---- binary store form ----------------------------------------------------------------------
 *
 * What the store keeps: the same fields as the JSON form, in a fixed order, as LEB128 varints
 * (signed values zigzagged), strings as a length and the bytes. About a tenth of the JSON's size
 * and cost, and small enough that a case row needs no overflow page. The first byte tells the
 * forms apart: JSON starts with '{', this with BIN_MAGIC. The decoder checks everything the JSON
 * reader checks; a blob it cannot vouch for is BK_E_INVALID, never a half-read state.
 */

#define BIN_MAGIC 0xB5
#define BIN_VERSION 1

typedef struct wbuf {
        uint8_t *p;
        size_t n, cap;
} wbuf_t;

static void w_u(wbuf_t *w, uint64_t v)
{
        do {
                uint8_t b = v & 0x7f;
                v >>= 7;
                if (v)
                        b |= 0x80;
                if (w->n < w->cap)
                        w->p[w->n] = b;
                w->n++;
        } while (v);
}

static void w_i(wbuf_t *w, int64_t v)
{
        w_u(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void w_s(wbuf_t *w, const char *s)
{
        size_t len = strlen(s);

        w_u(w, len);
        if (w->n < w->cap)
                memcpy(w->p + w->n, s, BK_MIN(len, w->cap - w->n));
        w->n += len;
}

/* The tracks' own facts: IB, safety, FIA, children, SIP, continuity, work capacity. */
static void w_tracks(wbuf_t *w, const case_state_t *st)
{
        w_i(w, st->ib1_n);
        w_i(w, st->ib3_n);
        w_i(w, st->plan_n);
        w_i(w, st->exempt_n);
        w_i(w, st->ib1_day);
        w_i(w, st->ib2_day);
        w_i(w, st->ib3_day);
        w_i(w, st->plan_day);
        w_i(w, st->exempt_until);
        w_s(w, st->exempt_reason);
        w_i(w, st->safety_day);
        w_i(w, st->fia_n);
        w_i(w, st->fia_due_day);
        w_i(w, st->fia_started);
        w_i(w, st->fia_completed);
        w_i(w, st->fia_declined);
        w_s(w, st->fia_reason);
        w_i(w, st->map_n);
        w_i(w, st->cmap_episode);
        w_i(w, st->cmap_k);
        w_i(w, st->mapped_day);
        w_i(w, st->summer_year);
        w_u(w, (unsigned)st->n_applied);
        for (int i = 0; i < st->n_applied; i++)
                w_i(w, st->applied[i]);
        w_i(w, st->sip_n);
        w_i(w, st->sip_fu_n);
        w_i(w, st->sipc_n);
        w_u(w, (unsigned)st->sip_rest);
        w_i(w, st->sip_initiated);
        w_i(w, st->sip_meeting);
        w_i(w, st->sip_established);
        w_i(w, st->sip_followed_up);
        w_s(w, st->sip_reason);
        w_i(w, st->assign_n);
        w_i(w, st->change_n);
        w_u(w, (unsigned)st->n_changes);
        for (int i = 0; i < st->n_changes; i++)
                w_i(w, st->changes[i]);
        w_i(w, st->wc_n);
        w_i(w, st->wc_assessed);
}

size_t rules_state_encode(const case_state_t *st, uint8_t *buf, size_t cap)
{
        wbuf_t w = { buf, 0, cap };

        w_u(&w, BIN_MAGIC);
        w_u(&w, BIN_VERSION);
        w_s(&w, st->case_id);
        w_u(&w, (unsigned)st->seen | (unsigned)st->opened << 1 | (unsigned)st->single_parent << 2 |
                (unsigned)st->health_flagged << 3 | (unsigned)st->lt << 4 | (unsigned)st->sip_base << 5);
        w_s(&w, st->unit);
        w_s(&w, st->caseworker);
        w_i(&w, st->first_day);
        w_i(&w, st->tick_day);
        w_i(&w, st->reopen_n);
        w_i(&w, st->adults);
        w_i(&w, st->counting);
        w_u(&w, (unsigned)st->n_children);
        for (int i = 0; i < st->n_children; i++)
                w_i(&w, st->children[i]);
        w_u(&w, (unsigned)st->barrier);
        w_u(&w, st->actors);
        w_u(&w, (unsigned)st->n_granted);
        for (int i = 0; i < st->n_granted; i++)   /* sorted: deltas stay one or two bytes */
                w_i(&w, i ? (int64_t)st->granted[i] - st->granted[i - 1] : st->granted[i]);
        w_i(&w, st->last_decided);
        w_i(&w, st->lt_episode);
        w_i(&w, st->lt_since);
        w_i(&w, st->lt_last_month);
        w_i(&w, st->lt_below_since);
        for (int tr = 0; tr < TR__COUNT; tr++)
                w_u(&w, (unsigned)st->ts[tr]);
        w_tracks(&w, st);
        for (int r = 0; r < RULE__COUNT; r++) {
                const armed_t *x = &st->armed[r];
                w_u(&w, (unsigned)x->s);
                if (x->s == ARM_NONE)
                        continue;
                w_s(&w, x->cycle);
                w_s(&w, x->base);
                w_i(&w, x->due);
        }
        return w.n;
}

typedef struct rbuf {
        const uint8_t *p, *end;
        bool bad;
} rbuf_t;

static uint64_t b_u(rbuf_t *r)
{
        uint64_t v = 0;

        for (int shift = 0; shift < 64; shift += 7) {
                if (r->p >= r->end) {
                        r->bad = true;
                        return 0;
                }
                uint8_t b = *r->p++;
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        return v;
        }
        r->bad = true;   /* more than ten bytes: not ours */
        return 0;
}

/* A value in [lo, hi]; anything else marks the blob bad and reads as lo. */
static int64_t b_i(rbuf_t *r, int64_t lo, int64_t hi)
{
        uint64_t u = b_u(r);
        int64_t v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);

        if (v < lo || v > hi) {
                r->bad = true;
                return lo;
        }
        return v;
}

static unsigned b_enum(rbuf_t *r, unsigned n)
{
        uint64_t v = b_u(r);

        if (v >= n) {
                r->bad = true;
                return 0;
        }
        return (unsigned)v;
}

static void b_s(rbuf_t *r, char *buf, size_t n)
{
        uint64_t len = b_u(r);

        buf[0] = '\0';
        if (r->bad || len >= n || len > (uint64_t)(r->end - r->p) || memchr(r->p, '\0', len)) {
                r->bad = true;
                return;
        }
        memcpy(buf, r->p, len);
        buf[len] = '\0';
        r->p += len;
}

/* Dates and months as the JSON form can spell them: years 0000–9999, or none. */
static cal_day_t b_day(rbuf_t *r)
{
        int64_t v = b_i(r, INT32_MIN, INT32_MAX);

        if (v != DAY_NONE && (v < cal_day_from_ymd(0, 1, 1) || v > cal_day_from_ymd(9999, 12, 31))) {
                r->bad = true;
                return DAY_NONE;
        }
        return (cal_day_t)v;
}

static bool month_ok(int64_t v)
{
        return v >= cal_month_from_ym(0, 1) && v <= cal_month_from_ym(9999, 12);
}

static cal_month_t b_month(rbuf_t *r)
{
        int64_t v = b_i(r, INT32_MIN, INT32_MAX);

        if (v != MONTH_NONE && !month_ok(v)) {
                r->bad = true;
                return MONTH_NONE;
        }
        return (cal_month_t)v;
}

static int b_count(rbuf_t *r)
{
        return (int)b_i(r, 0, INT32_MAX);
}

static unsigned track_states(int tr)
{
        unsigned n = 0;

        while (n < TRACK_STATES_MAX && rs_state_names[tr][n])
                n++;
        return n;
}

static void b_granted(rbuf_t *r, case_state_t *st)
{
        uint64_t n = b_u(r);
        int64_t m = 0;

        /* Every month takes at least one byte: a count beyond what is left is a lie. */
        if (r->bad || n > (uint64_t)(r->end - r->p) || rs_granted_reserve(st, (int)n) < 0) {
                r->bad = true;
                return;
        }
        for (uint64_t i = 0; i < n && !r->bad; i++) {
                int64_t d = b_i(r, i ? 1 : INT32_MIN, INT32_MAX);   /* sorted and unique */
                m = i ? m + d : d;
                if (!month_ok(m)) {
                        r->bad = true;
                        return;
                }
                st->granted[st->n_granted++] = (cal_month_t)m;
        }
}

/* The tracks' own facts, in the order rules_state_encode writes them. */
static void b_tracks(rbuf_t *r, case_state_t *st)
{
        unsigned n;

        st->ib1_n = b_count(r);
        st->ib3_n = b_count(r);
        st->plan_n = b_count(r);
        st->exempt_n = b_count(r);
        st->ib1_day = b_day(r);
        st->ib2_day = b_day(r);
        st->ib3_day = b_day(r);
        st->plan_day = b_day(r);
        st->exempt_until = b_day(r);
        b_s(r, st->exempt_reason, sizeof(st->exempt_reason));
        st->safety_day = b_day(r);
        st->fia_n = b_count(r);
        st->fia_due_day = b_day(r);
        st->fia_started = b_day(r);
        st->fia_completed = b_day(r);
        st->fia_declined = b_day(r);
        b_s(r, st->fia_reason, sizeof(st->fia_reason));
        st->map_n = b_count(r);
        st->cmap_episode = b_count(r);
        st->cmap_k = b_count(r);
        st->mapped_day = b_day(r);
        st->summer_year = (int)b_i(r, 0, 9999);
        n = b_enum(r, SUMMER_KEEP + 1);
        for (unsigned i = 0; i < n && !r->bad; i++)
                st->applied[st->n_applied++] = (int)b_i(r, 0, 9999);
        st->sip_n = b_count(r);
        st->sip_fu_n = b_count(r);
        st->sipc_n = b_count(r);
        st->sip_rest = (int)b_enum(r, track_states(TR_SIP));
        st->sip_initiated = b_day(r);
        st->sip_meeting = b_day(r);
        st->sip_established = b_day(r);
        st->sip_followed_up = b_day(r);
        b_s(r, st->sip_reason, sizeof(st->sip_reason));
        st->assign_n = b_count(r);
        st->change_n = b_count(r);
        n = b_enum(r, CONT_KEEP + 1);
        for (unsigned i = 0; i < n && !r->bad; i++) {
                cal_day_t d = b_day(r);
                if (d == DAY_NONE)
                        r->bad = true;
                st->changes[st->n_changes++] = d;
        }
        st->wc_n = b_count(r);
        st->wc_assessed = b_day(r);
}

static int decode_bin(const uint8_t *p, size_t len, case_state_t **out)
{
        rbuf_t r = { p, p + len, false };
        char case_id[EV_NAME_MAX + 1];
        case_state_t *st;
        unsigned flags, n;

        if (b_u(&r) != BIN_MAGIC || b_u(&r) != BIN_VERSION || r.bad)
                return BK_E_INVALID;
        b_s(&r, case_id, sizeof(case_id));
        if (r.bad)
                return BK_E_INVALID;
        if (!(st = rules_state_new(case_id)))
                return -ENOMEM;
        flags = b_enum(&r, 1u << 6);
        st->seen = flags & 1;
        st->opened = flags & 2;
        st->single_parent = flags & 4;
        st->health_flagged = flags & 8;
        st->lt = flags & 16;
        st->sip_base = flags & 32;
        b_s(&r, st->unit, sizeof(st->unit));
        b_s(&r, st->caseworker, sizeof(st->caseworker));
        st->first_day = b_day(&r);
        st->tick_day = b_day(&r);
        st->reopen_n = b_count(&r);
        st->adults = (int)b_i(&r, 0, 1000);
        st->counting = (int)b_i(&r, 0, EV_MAX_CHILDREN);
        n = b_enum(&r, EV_MAX_CHILDREN + 1);
        for (unsigned i = 0; i < n && !r.bad; i++) {
                cal_month_t m = b_month(&r);
                if (m == MONTH_NONE)
                        r.bad = true;
                st->children[st->n_children++] = m;
        }
        st->barrier = (ev_barrier_t)b_enum(&r, BARRIER_UNCLEAR + 1);
        if (st->barrier != BARRIER_NONE && !event_barrier_name(st->barrier))
                r.bad = true;
        st->actors = (unsigned)b_u(&r);
        for (int x = 0; x < 32; x++)
                if ((st->actors >> x & 1) && (x < ACTOR_AF || x > ACTOR_OTHER || !event_actor_name((ev_actor_t)x)))
                        r.bad = true;
        b_granted(&r, st);
        st->last_decided = b_month(&r);
        st->lt_episode = b_count(&r);
        st->lt_since = b_day(&r);
        st->lt_last_month = b_month(&r);
        st->lt_below_since = b_month(&r);
        for (int tr = 0; tr < TR__COUNT; tr++)
                st->ts[tr] = (int)b_enum(&r, track_states(tr));
        b_tracks(&r, st);
        for (int i = 0; i < RULE__COUNT && !r.bad; i++) {
                armed_t *x = &st->armed[i];
                x->s = (arm_state_t)b_enum(&r, ARM_SUSPENDED + 1);
                if (x->s == ARM_NONE)
                        continue;
                b_s(&r, x->cycle, sizeof(x->cycle));
                b_s(&r, x->base, sizeof(x->base));
                x->due = b_day(&r);
        }
        if (r.bad || r.p != r.end) {
                rules_state_free(&st);
                return BK_E_INVALID;
        }
        *out = st;
        return 0;
}

int rules_state_decode(const void *buf, size_t len, case_state_t **out)
{
        const uint8_t *p = buf;

        *out = NULL;
        if (!p || len == 0)
                return BK_E_INVALID;
        if (p[0] == BIN_MAGIC)
                return decode_bin(p, len, out);
        if (p[0] == '{' && !memchr(p, '\0', len)) {
                /* The JSON form of schema 1 stores: read, and written back binary on the next change. */
                char *text = strndup((const char *)p, len);
                int r = text ? rules_state_from_json(text, out) : -ENOMEM;
                free(text);
                return r;
        }
        return BK_E_INVALID;
}

/* Reasons are kept once given (domain §4.1, §4.2): shown whenever there is one. */
