/*
 * rules-view.c owns what the rules state looks like from outside: the API's
 * view of a case (protocol §3 `case`), the JSON values it and the store's
 * JSON form are built from, and the "why" writer, a small JSON object
 * writer into a fixed buffer that explains each scheduled reminder.
 */
#include "rules-state.h"

/* ---- why: a small JSON object writer into a fixed buffer -------------------------- */

void why_init(why_t *w)
{
        w->buf[0] = '{';
        w->buf[1] = '\0';
        w->len = 1;
}

/* Adds "key":value, or nothing when it would not leave room for the closing brace. */
static void why_raw(why_t *w, const char *key, const char *value)
{
        size_t need = strlen(key) + strlen(value) + 4 + (w->len > 1);

        if (w->len + need + 2 > sizeof(w->buf))
                return;
        w->len += (size_t)snprintf(w->buf + w->len, sizeof(w->buf) - w->len, "%s\"%s\":%s",
                                   w->len > 1 ? "," : "", key, value);
}

void why_str(why_t *w, const char *key, const char *s)
{
        char q[2 * EV_NAME_MAX + 16];
        size_t n = 0;

        q[n++] = '"';
        for (; *s && n < sizeof(q) - 8; s++) {
                unsigned char ch = (unsigned char)*s;
                if (ch == '"' || ch == '\\') {
                        q[n++] = '\\';
                        q[n++] = (char)ch;
                } else if (ch < 0x20) {
                        n += (size_t)snprintf(q + n, sizeof(q) - n, "\\u%04x", ch);
                } else {
                        q[n++] = (char)ch;
                }
        }
        q[n++] = '"';
        q[n] = '\0';
        why_raw(w, key, q);
}

void why_int(why_t *w, const char *key, long long v)
{
        char b[32];

        snprintf(b, sizeof(b), "%lld", v);
        why_raw(w, key, b);
}

void why_bool(why_t *w, const char *key, bool v)
{
        why_raw(w, key, v ? "true" : "false");
}

void why_day(why_t *w, const char *key, cal_day_t d)
{
        char b[16];

        if (d == DAY_NONE) {
                why_raw(w, key, "null");
                return;
        }
        cal_format_date(d, b, sizeof(b));
        why_str(w, key, b);
}

void why_month(why_t *w, const char *key, cal_month_t m)
{
        char b[16];

        if (m == MONTH_NONE) {
                why_raw(w, key, "null");
                return;
        }
        cal_format_month(m, b, sizeof(b));
        why_str(w, key, b);
}

const char *why_end(why_t *w)
{
        w->buf[w->len++] = '}';
        w->buf[w->len] = '\0';
        return w->buf;
}

/* ---- store form ------------------------------------------------------------------------------ */

json_t *rs_j_day(cal_day_t d)
{
        char b[16];

        if (d == DAY_NONE)
                return json_null();
        cal_format_date(d, b, sizeof(b));
        return json_string(b);
}

json_t *rs_j_month(cal_month_t m)
{
        char b[16];

        if (m == MONTH_NONE)
                return json_null();
        cal_format_month(m, b, sizeof(b));
        return json_string(b);
}

json_t *rs_j_str(const char *s)
{
        json_t *j = json_string(s);

        return j ? j : json_string("");
}

json_t *rs_j_state(int track, int s)
{
        return json_string(rs_state_names[track][s]);
}

json_t *rs_j_barrier(ev_barrier_t b)
{
        const char *n = event_barrier_name(b);

        return n ? json_string(n) : json_null();
}

json_t *rs_j_actors(const case_state_t *st)
{
        json_t *a = json_array();

        for (int i = ACTOR_AF; i <= ACTOR_OTHER; i++)
                if (actor_on(st, (ev_actor_t)i) && event_actor_name((ev_actor_t)i))
                        json_array_append_new(a, json_string(event_actor_name((ev_actor_t)i)));
        return a;
}

json_t *rs_j_months(const cal_month_t *m, int n)
{
        json_t *a = json_array();

        for (int i = 0; i < n; i++)
                json_array_append_new(a, rs_j_month(m[i]));
        return a;
}
static json_t *j_reason(const char *s)
{
        return s[0] ? rs_j_str(s) : json_null();
}

/* The long-term facts most reminders are explained by. */
void why_long_term(const ctx_t *c, why_t *w)
{
        char win[32];

        rs_window_text(c->cfg, c->st->last_decided, win, sizeof(win));
        why_day(w, "long_term_since", c->st->lt_since);
        why_int(w, "granted_in_window", c->st->last_decided == MONTH_NONE ? 0 :
                rs_granted_window(c->cfg, c->st, c->st->last_decided));
        why_str(w, "window", win);
        why_int(w, "episode", c->st->lt_episode);
}

/* ---- API view -------------------------------------------------------------------------------- */

json_t *rules_state_view(const case_state_t *st)
{
        int counting = st->counting;
        json_t *v, *tracks, *a;

        v = json_pack("{s:s, s:s, s:o, s:o, s:o, s:b, s:o}",
                      "case", st->case_id,
                      "status", !st->seen ? "new" : is_open(st) ? "open" : "closed",
                      "unit", st->unit[0] ? json_string(st->unit) : json_null(),
                      "caseworker", st->caseworker[0] ? json_string(st->caseworker) : json_null(),
                      "granted_months", rs_j_months(st->granted, st->n_granted),
                      "long_term", st->lt,
                      "long_term_since", st->lt ? rs_j_day(st->lt_since) : json_null());
        if (!v)
                return NULL;
        json_object_set_new(v, "household", json_pack("{s:i, s:b, s:i}", "adults", st->adults,
                            "single_parent", st->single_parent, "children", counting));
        json_object_set_new(v, "barrier", rs_j_barrier(st->barrier));
        json_object_set_new(v, "actors", rs_j_actors(st));
        json_object_set_new(v, "health_flagged", json_boolean(st->health_flagged));
        tracks = json_object();
        json_object_set_new(tracks, "ib", json_pack("{s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:o, s:o}",
                            "state", rs_j_state(TR_IB, st->ts[TR_IB]),
                            "ib1", rs_j_day(st->ib1_day), "ib2", rs_j_day(st->ib2_day),
                            "ib3", rs_j_day(st->ib3_day), "plan", rs_j_day(st->plan_day),
                            "plan_revision", st->plan_n,
                            "next_follow_up", rs_j_day(armed_due(st, RULE_IB4_FOLLOWUP)),
                            "exempt_until", st->ts[TR_IB] == IB_EXEMPT ? rs_j_day(st->exempt_until)
                                                                       : json_null(),
                            "exempt_reason", j_reason(st->exempt_reason)));
        json_object_set_new(tracks, "fia", json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
                            "state", rs_j_state(TR_FIA, st->ts[TR_FIA]),
                            "due_since", st->ts[TR_FIA] == FIA_DUE ? rs_j_day(st->fia_due_day) : json_null(),
                            "started", rs_j_day(st->fia_started), "completed", rs_j_day(st->fia_completed),
                            "declined", rs_j_day(st->fia_declined),
                            "declined_reason", j_reason(st->fia_reason)));
        a = json_array();
        for (int i = 0; i < st->n_applied; i++)
                json_array_append_new(a, json_integer(st->applied[i]));
        json_object_set_new(tracks, "children", json_pack("{s:o, s:i, s:o, s:o, s:{s:o, s:o, s:o}}",
                            "state", rs_j_state(TR_CHILD, st->ts[TR_CHILD]), "counting", counting,
                            "mapped", rs_j_day(st->mapped_day),
                            "next_follow_up", rs_j_day(armed_due(st, RULE_CHILD_FOLLOWUP)),
                            "summer_allowance", "state", rs_j_state(TR_SUMMER, st->ts[TR_SUMMER]),
                            "year", st->ts[TR_SUMMER] == SUM_DUE ? json_integer(st->summer_year)
                                                                 : json_null(),
                            "applied", a));
        json_object_set_new(tracks, "sip", json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                            "state", rs_j_state(TR_SIP, st->ts[TR_SIP]),
                            "initiated", rs_j_day(st->sip_initiated), "meeting_held", rs_j_day(st->sip_meeting),
                            "established", rs_j_day(st->sip_established),
                            "followed_up", rs_j_day(st->sip_followed_up),
                            "next_follow_up", rs_j_day(armed_due(st, RULE_SIP_FOLLOWUP)),
                            "declined_reason", j_reason(st->sip_reason)));
        json_object_set_new(tracks, "safety", json_pack("{s:o, s:o}",
                            "state", rs_j_state(TR_SAFETY, st->ts[TR_SAFETY]),
                            "followed_up", rs_j_day(st->safety_day)));
        json_object_set_new(tracks, "continuity", json_pack("{s:i, s:i}",
                            "assignments", st->assign_n, "changes", st->change_n));
        json_object_set_new(tracks, "work_capacity", json_pack("{s:o, s:o}",
                            "state", rs_j_state(TR_WC, st->ts[TR_WC]), "assessed", rs_j_day(st->wc_assessed)));
        json_object_set_new(v, "tracks", tracks);
        return v;
}
