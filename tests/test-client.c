/*
 * Unit tests of the client library (bevaka/client.h) against a fake daemon
 * running in a thread: a ROUTER and an XPUB on loopback tcp that answer
 * `hello` and `sync` like bevakad does, keep a snapshot consistent with what
 * they publish, and take a few test-only ops to misbehave on cue (stale and
 * garbage replies, silence, a publisher restart, messages the snapshot must
 * make up for). Covers request correlation and timeouts, the Clone catch-up
 * (subscribe, sync, drop live rseq at or below the snapshot), re-syncs that
 * report only differences, re-sync after a reconnect, and CURVE key
 * plumbing. Nothing sleeps: every wait is a poll with a deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "bevaka/client.h"
#include "tap.h"

#define TOPIC "rem/HV-EB-1/hk1/"

typedef struct fake {
        void *ctx;
        void *router, *xpub;
        char api_ep[128], pub_ep[128];
        bool curve;
        char secret[41];            /* server secret key (Z85) when curve */
        json_t *snapshot;           /* id → reminder, as the daemon would list them */
        int64_t rseq;
        json_t *subs;               /* subscribed prefixes → true */
        pthread_t thread;
        atomic_int syncs;
        atomic_int stop;
} fake_t;

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void last_endpoint(void *s, char *buf, size_t n)
{
        size_t len = n;
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, buf, &len);
}

static void fake_bind_pub(fake_t *f, bool first)
{
        int one = 1, zero = 0;
        int64_t end = mono_ms() + 5000;

        f->xpub = zmq_socket(f->ctx, ZMQ_XPUB);
        zmq_setsockopt(f->xpub, ZMQ_XPUB_VERBOSE, &one, sizeof(one));
        zmq_setsockopt(f->xpub, ZMQ_LINGER, &zero, sizeof(zero));
        if (first) {
                zmq_bind(f->xpub, "tcp://127.0.0.1:*");
                last_endpoint(f->xpub, f->pub_ep, sizeof(f->pub_ep));
                return;
        }
        /* The old listener closes in libzmq's I/O thread: retry until the port is free. */
        while (zmq_bind(f->xpub, f->pub_ep) != 0 && mono_ms() < end) {
                zmq_pollitem_t none = { .socket = NULL, .fd = -1, .events = 0 };
                zmq_poll(&none, 0, 10);
        }
}

static void reply_send(fake_t *f, zmq_msg_t *rid, const char *text)
{
        zmq_msg_t copy;
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, rid);
        zmq_msg_send(&copy, f->router, ZMQ_SNDMORE);
        zmq_send(f->router, text, strlen(text), 0);
}

static void reply_json(fake_t *f, zmq_msg_t *rid, json_t *req, json_t *members)
{
        json_t *r = json_pack("{s:b, s:O}", "ok", 1, "req", json_object_get(req, "req"));
        char *text;
        if (members)
                json_object_update(r, members);
        text = json_dumps(r, JSON_COMPACT);
        reply_send(f, rid, text);
        free(text);
        json_decref(r);
        json_decref(members);
}

static void subs_drain(fake_t *f)
{
        char buf[512];
        int n;
        while ((n = zmq_recv(f->xpub, buf, sizeof(buf) - 1, ZMQ_DONTWAIT)) > 0) {
                buf[n] = '\0';
                if (buf[0] == 1)
                        json_object_set_new(f->subs, buf + 1, json_true());
                else
                        json_object_del(f->subs, buf + 1);
        }
}

static bool subscribed(fake_t *f, const char *topic)
{
        const char *prefix;
        json_t *v;
        json_object_foreach(f->subs, prefix, v)
                if (strncmp(topic, prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

/* Publishes [{topic, msg, snap}]; waits (bounded) until someone subscribed to each topic. */
static void fake_publish(fake_t *f, json_t *msgs)
{
        size_t i;
        json_t *m;

        json_array_foreach(msgs, i, m) {
                const char *topic = json_string_value(json_object_get(m, "topic"));
                json_t *msg = json_object_get(m, "msg");
                int64_t end = mono_ms() + 3000;
                char *text;

                while (subs_drain(f), !subscribed(f, topic) && mono_ms() < end) {
                        zmq_pollitem_t it = { .socket = f->xpub, .events = ZMQ_POLLIN };
                        zmq_poll(&it, 1, 50);
                }
                text = json_is_string(msg) ? strdup(json_string_value(msg)) : json_dumps(msg, JSON_COMPACT);
                zmq_send(f->xpub, topic, strlen(topic), ZMQ_SNDMORE);
                zmq_send(f->xpub, text, strlen(text), 0);
                free(text);
                if (json_is_object(msg) && !json_is_false(json_object_get(m, "snap"))) {
                        const char *op = json_string_value(json_object_get(msg, "op"));
                        const char *id = json_string_value(json_object_get(msg, "id"));
                        if (strcmp(op, "due") == 0) {
                                json_t *copy = json_deep_copy(msg);
                                json_object_set_new(copy, "state", json_string("delivered"));
                                json_object_set_new(f->snapshot, id, copy);
                        } else {
                                json_object_del(f->snapshot, id);
                        }
                        f->rseq = json_integer_value(json_object_get(msg, "rseq"));
                }
        }
}

static void fake_request(fake_t *f, zmq_msg_t *rid, const char *body, size_t len)
{
        json_t *req = json_loadb(body, len, 0, NULL);
        const char *op = json_string_value(json_object_get(req, "op"));

        if (!op) {
                reply_send(f, rid, "{\"ok\":false,\"req\":null,\"error\":{\"code\":\"bad_request\",\"message\":\"x\"}}");
        } else if (strcmp(op, "hello") == 0) {
                reply_json(f, rid, req, json_pack("{s:s, s:i, s:s, s:s, s:I}", "version", "test", "protocol", 1,
                                                  "user", "fake", "role", "admin", "rseq", (json_int_t)f->rseq));
        } else if (strcmp(op, "sync") == 0) {
                json_t *list = json_array(), *r;
                const char *id;
                atomic_fetch_add(&f->syncs, 1);
                json_object_foreach(f->snapshot, id, r)
                        json_array_append(list, r);
                reply_json(f, rid, req, json_pack("{s:o, s:I}", "reminders", list, "rseq", (json_int_t)f->rseq));
        } else if (strcmp(op, "stale") == 0) {
                /* Replies to requests the client gave up on come first. */
                reply_send(f, rid, "{\"ok\":true,\"req\":\"someone-else\"}");
                json_t *old = json_pack("{s:b, s:I, s:i}", "ok", 1, "req",
                                        json_integer_value(json_object_get(req, "req")) - 1, "n", 0);
                char *text = json_dumps(old, JSON_COMPACT);
                reply_send(f, rid, text);
                free(text);
                json_decref(old);
                reply_json(f, rid, req, json_pack("{s:i}", "n", 1));
        } else if (strcmp(op, "silent") == 0) {
                /* no reply */
        } else if (strcmp(op, "garbage") == 0) {
                reply_send(f, rid, "this is not json");
        } else if (strcmp(op, "noreq_ok") == 0) {
                reply_send(f, rid, "{\"req\":1}");
        } else if (strcmp(op, "fail") == 0) {
                json_t *r = json_pack("{s:b, s:O, s:{s:s, s:s}}", "ok", 0, "req", json_object_get(req, "req"),
                                      "error", "code", "not_found", "message", "no reminder r-x");
                char *text = json_dumps(r, JSON_COMPACT);
                reply_send(f, rid, text);
                free(text);
                json_decref(r);
        } else if (strcmp(op, "publish") == 0) {
                fake_publish(f, json_object_get(req, "msgs"));
                reply_json(f, rid, req, NULL);
        } else if (strcmp(op, "set_snapshot") == 0) {
                /* What the daemon knows but the stream lost. */
                json_t *list = json_object_get(req, "reminders"), *r;
                size_t i;
                json_object_clear(f->snapshot);
                json_array_foreach(list, i, r)
                        json_object_set(f->snapshot, json_string_value(json_object_get(r, "id")), r);
                f->rseq = json_integer_value(json_object_get(req, "rseq"));
                reply_json(f, rid, req, NULL);
        } else if (strcmp(op, "restart_pub") == 0) {
                reply_json(f, rid, req, NULL);
                zmq_close(f->xpub);
                json_object_clear(f->subs);
                fake_bind_pub(f, false);
        } else {
                reply_json(f, rid, req, json_pack("{s:O}", "echo", req));
        }
        json_decref(req);
}

static void *fake_run(void *arg)
{
        fake_t *f = arg;

        while (!atomic_load(&f->stop)) {
                zmq_pollitem_t items[2] = { { .socket = f->router, .events = ZMQ_POLLIN },
                                            { .socket = f->xpub, .events = ZMQ_POLLIN } };
                if (zmq_poll(items, 2, 20) <= 0)
                        continue;
                if (items[1].revents & ZMQ_POLLIN)
                        subs_drain(f);
                if (items[0].revents & ZMQ_POLLIN) {
                        zmq_msg_t rid, body;
                        zmq_msg_init(&rid);
                        zmq_msg_init(&body);
                        if (zmq_msg_recv(&rid, f->router, 0) >= 0 && zmq_msg_recv(&body, f->router, 0) >= 0)
                                fake_request(f, &rid, zmq_msg_data(&body), zmq_msg_size(&body));
                        zmq_msg_close(&rid);
                        zmq_msg_close(&body);
                }
        }
        return NULL;
}

static void fake_start(fake_t *f, bool curve)
{
        int zero = 0, one = 1;
        char pub[41];

        memset(f, 0, sizeof(*f));
        f->ctx = zmq_ctx_new();
        f->snapshot = json_object();
        f->subs = json_object();
        f->curve = curve;
        f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
        zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof(zero));
        if (curve) {
                zmq_curve_keypair(pub, f->secret);
                zmq_setsockopt(f->router, ZMQ_CURVE_SERVER, &one, sizeof(one));
                zmq_setsockopt(f->router, ZMQ_CURVE_SECRETKEY, f->secret, 40);
        }
        zmq_bind(f->router, "tcp://127.0.0.1:*");
        last_endpoint(f->router, f->api_ep, sizeof(f->api_ep));
        fake_bind_pub(f, true);
        pthread_create(&f->thread, NULL, fake_run, f);
}

static void fake_stop(fake_t *f)
{
        atomic_store(&f->stop, 1);
        pthread_join(f->thread, NULL);
        zmq_close(f->router);
        zmq_close(f->xpub);
        zmq_ctx_term(f->ctx);
        json_decref(f->snapshot);
        json_decref(f->subs);
}

static int op(bk_client_t *c, const char *name, json_t **reply, int timeout_ms)
{
        json_t *req = json_pack("{s:s}", "op", name);
        int r = bk_client_request(c, req, reply, timeout_ms);
        json_decref(req);
        return r;
}

static json_t *rem(const char *id, int64_t rseq, const char *op_name, const char *deliver_at)
{
        return json_pack("{s:i, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "v", 1, "rseq",
                         (json_int_t)rseq, "op", op_name, "id", id, "rule", "IB3-DUE", "case", "EB-2025-000001",
                         "unit", "HV-EB-1", "caseworker", "hk1", "severity", "due", "due_at", "2026-03-02",
                         "deliver_at", deliver_at, "title", "Nybesök (IB3) ej genomfört", "body", "");
}

static json_t *with_state(json_t *r, const char *state)
{
        json_object_set_new(r, "state", json_string(state));
        return r;
}

static int control(bk_client_t *c, json_t *req)
{
        int r = bk_client_request(c, req, NULL, 5000);
        json_decref(req);
        return r;
}

/* Publishes one message on `topic`; snap=false keeps it out of the fake's snapshot. */
static json_t *pub_item(const char *topic, json_t *msg, bool snap)
{
        return json_pack("{s:s, s:o, s:b}", "topic", topic, "msg", msg, "snap", snap);
}

static int next_ev(bk_client_t *c, bk_event_t *ev, int timeout_ms)
{
        memset(ev, 0, sizeof(*ev));
        return bk_client_next(c, ev, timeout_ms);
}

static const char *ev_id(const bk_event_t *ev)
{
        return json_string_value(json_object_get(ev->reminder, "id"));
}

static const char *ev_state(const bk_event_t *ev)
{
        return json_string_value(json_object_get(ev->reminder, "state"));
}

static void test_requests(void)
{
        fake_t f;
        bk_client_t *c;
        json_t *reply = NULL;
        int64_t t0;

        fake_start(&f, false);
        c = bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .pub_endpoint = f.pub_ep,
                                               .reconnect_ivl_ms = 50 });
        CHECK(c != NULL);

        CHECK_INT(bk_client_hello(c, &reply), 0);
        CHECK_STR(json_string_value(json_object_get(reply, "role")), "admin");
        CHECK(json_is_integer(json_object_get(reply, "req")));
        json_decref(reply);

        /* Replies whose req is not ours are dropped; the matching one is returned. */
        CHECK_INT(op(c, "stale", &reply, 5000), 0);
        CHECK_INT(json_integer_value(json_object_get(reply, "n")), 1);
        json_decref(reply);

        /* Silence: -ETIMEDOUT after about the timeout, and the client still works after it. */
        t0 = mono_ms();
        CHECK_INT(op(c, "silent", &reply, 300), -ETIMEDOUT);
        CHECK(reply == NULL);
        CHECK(mono_ms() - t0 >= 290 && mono_ms() - t0 < 3000);
        CHECK_INT(op(c, "hello", NULL, 5000), 0);

        CHECK_INT(op(c, "garbage", &reply, 5000), -EPROTO);
        CHECK(reply == NULL);
        CHECK_INT(op(c, "hello", NULL, 5000), 0);

        /* An error reply is an expected outcome: positive, and the reply is handed over. */
        CHECK_INT(op(c, "fail", &reply, 5000), BK_CLIENT_E_REPLY);
        CHECK_STR(bk_reply_error_code(reply), "not_found");
        CHECK_STR(bk_reply_error_message(reply), "no reminder r-x");
        json_decref(reply);
        CHECK(bk_reply_error_code(NULL) == NULL);

        /* The helpers send the members protocol §3 names. */
        CHECK_INT(bk_client_ack(c, "r-1", &reply), 0);
        CHECK_STR(json_string_value(json_object_get(json_object_get(reply, "echo"), "op")), "ack");
        CHECK_STR(json_string_value(json_object_get(json_object_get(reply, "echo"), "id")), "r-1");
        json_decref(reply);
        CHECK_INT(bk_client_snooze(c, "r-1", NULL, &reply), 0);
        CHECK(json_object_get(json_object_get(reply, "echo"), "until") == NULL);
        json_decref(reply);
        CHECK_INT(bk_client_snooze(c, "r-1", "2026-03-04T08:00:00+01:00", &reply), 0);
        CHECK_STR(json_string_value(json_object_get(json_object_get(reply, "echo"), "until")),
                  "2026-03-04T08:00:00+01:00");
        json_decref(reply);
        CHECK_INT(bk_client_dismiss(c, "r-1", "gjort muntligt", &reply), 0);
        CHECK_STR(json_string_value(json_object_get(json_object_get(reply, "echo"), "reason")), "gjort muntligt");
        json_decref(reply);
        CHECK_INT(bk_client_why(c, "r-2", &reply), 0);
        CHECK_STR(json_string_value(json_object_get(json_object_get(reply, "echo"), "op")), "why");
        json_decref(reply);
        CHECK_INT(bk_client_dismiss(c, "r-1", NULL, &reply), -EINVAL);
        CHECK(reply == NULL);

        /* The caller's request is not modified. */
        json_t *req = json_pack("{s:s, s:s}", "op", "echo", "req", "mine");
        CHECK_INT(bk_client_request(c, req, &reply, 5000), 0);
        CHECK_STR(json_string_value(json_object_get(req, "req")), "mine");
        CHECK(json_is_integer(json_object_get(json_object_get(reply, "echo"), "req")));
        json_decref(reply);
        json_decref(req);
        json_t *arr = json_array();
        CHECK_INT(bk_client_request(c, arr, &reply, 100), -EINVAL);
        json_decref(arr);

        bk_client_destroy(&c);
        CHECK(c == NULL);
        bk_client_destroy(&c);           /* accepts NULL */

        /* Nobody listening: a timeout, and the request is not run later. */
        c = bk_client_new(&(bk_client_opts_t){ .api_endpoint = "tcp://127.0.0.1:1" });
        CHECK(c != NULL);
        CHECK_INT(op(c, "hello", NULL, 200), -ETIMEDOUT);
        CHECK_INT(bk_client_follow(c, TOPIC, 0), -EINVAL);      /* no pub endpoint */
        bk_client_destroy(&c);

        /* No API endpoint: requests are refused. */
        c = bk_client_new(&(bk_client_opts_t){ .pub_endpoint = f.pub_ep });
        CHECK_INT(op(c, "hello", NULL, 200), -EINVAL);
        bk_client_destroy(&c);

        errno = 0;
        CHECK(bk_client_new(&(bk_client_opts_t){ .api_endpoint = "bogus://x" }) == NULL);
        CHECK(errno != 0);
        fake_stop(&f);
}

static void test_follow(void)
{
        fake_t f;
        bk_client_t *c;
        bk_event_t ev;
        int syncs;

        fake_start(&f, false);
        c = bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .pub_endpoint = f.pub_ep,
                                               .reconnect_ivl_ms = 50, .reconnect_ivl_max_ms = 200 });
        CHECK(c != NULL);
        CHECK_INT(control(c, json_pack("{s:s, s:[o,o], s:i}", "op", "set_snapshot", "reminders",
                                       with_state(rem("r-a", 10, "due", "2026-03-02T08:00:00+01:00"), "delivered"),
                                       with_state(rem("r-b", 10, "due", "2026-03-02T08:00:00+01:00"), "acknowledged"),
                                       "rseq", 10)), 0);

        CHECK_INT(bk_client_follow(c, "rem/x", 0), -EINVAL);
        CHECK_INT(bk_client_follow(c, "top/HV/hk1/", 0), -EINVAL);
        CHECK_INT(bk_client_follow(c, TOPIC, 0), 0);
        CHECK_INT(bk_client_follow(c, TOPIC, 0), -EEXIST);
        CHECK_INT(bk_client_rseq(c, TOPIC), 10);
        CHECK_INT(bk_client_rseq(c, "rem/other/x/"), 0);

        /* The snapshot, bracketed. */
        CHECK_INT(next_ev(c, &ev, 1000), 1);
        CHECK_INT(ev.kind, BK_EVENT_SNAPSHOT_BEGIN);
        CHECK_STR(ev.topic, TOPIC);
        CHECK_INT(ev.rseq, 10);
        CHECK(ev.reminder == NULL);
        CHECK_INT(next_ev(c, &ev, 1000), 1);
        CHECK_INT(ev.kind, BK_EVENT_DUE);
        CHECK(ev.from_snapshot);
        CHECK_STR(ev_id(&ev), "r-a");
        CHECK_STR(ev_state(&ev), "delivered");
        CHECK_INT(next_ev(c, &ev, 1000), 1);
        CHECK_STR(ev_id(&ev), "r-b");
        CHECK_STR(ev_state(&ev), "acknowledged");
        CHECK_INT(next_ev(c, &ev, 1000), 1);
        CHECK_INT(ev.kind, BK_EVENT_SNAPSHOT_END);
        CHECK_STR(bk_event_kind_name(ev.kind), "snapshot_end");

        /* Live: rseq at or below the snapshot's is dropped, so are other topics, junk and unknown ops. */
        CHECK_INT(control(c, json_pack("{s:s, s:[o,o,o,o,o,o,o]}", "op", "publish", "msgs",
                                       pub_item(TOPIC, rem("r-old", 9, "due", "2026-03-02T08:00:00+01:00"), false),
                                       pub_item(TOPIC, rem("r-c", 11, "due", "2026-03-03T08:00:00+01:00"), true),
                                       pub_item("rem/HV-EB-1/hk1/x/", rem("r-z", 12, "due", "2026-03-02T08:00:00+01:00"), false),
                                       pub_item(TOPIC, json_string("not json"), false),
                                       pub_item(TOPIC, rem("r-a", 13, "exploded", "2026-03-02T08:00:00+01:00"), false),
                                       pub_item(TOPIC, rem("r-a", 14, "resolved", "2026-03-02T08:00:00+01:00"), true),
                                       pub_item(TOPIC, rem("r-c", 14, "cancelled", "2026-03-02T08:00:00+01:00"), false))),
                  0);
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_DUE);
        CHECK(!ev.from_snapshot);
        CHECK_STR(ev_id(&ev), "r-c");
        CHECK_INT(ev.rseq, 11);
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_RESOLVED);
        CHECK_STR(ev_id(&ev), "r-a");
        CHECK_INT(ev.rseq, 14);
        /* A repeated rseq (r-c cancelled at 14) is not news; nor is the silent settle re-sync. */
        CHECK_INT(next_ev(c, &ev, 1500), 0);
        CHECK_INT(bk_client_rseq(c, TOPIC), 14);

        /* Lost messages: the daemon's truth changed without a message reaching us. */
        CHECK_INT(control(c, json_pack("{s:s, s:[o,o], s:i}", "op", "set_snapshot", "reminders",
                                       with_state(rem("r-b", 20, "due", "2026-03-04T08:00:00+01:00"), "snoozed"),
                                       with_state(rem("r-d", 20, "due", "2026-03-04T08:00:00+01:00"), "delivered"),
                                       "rseq", 20)), 0);
        bk_client_resync(c);
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_SNAPSHOT_BEGIN);
        CHECK_INT(ev.rseq, 20);
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_DUE);
        CHECK_STR(ev_id(&ev), "r-b");
        CHECK_STR(ev_state(&ev), "snoozed");
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_DUE);
        CHECK_STR(ev_id(&ev), "r-d");
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_CLOSED);
        CHECK(ev.from_snapshot);
        CHECK_STR(ev_id(&ev), "r-c");
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_SNAPSHOT_END);
        CHECK_INT(bk_client_rseq(c, TOPIC), 20);

        /* A re-sync that finds nothing new says nothing, but it did ask. */
        syncs = atomic_load(&f.syncs);
        bk_client_resync(c);
        CHECK_INT(next_ev(c, &ev, 300), 0);
        CHECK(atomic_load(&f.syncs) > syncs);

        /* The daemon restarts its publisher: the client re-syncs on reconnect, by itself. */
        CHECK_INT(control(c, json_pack("{s:s, s:[o,o,o], s:i}", "op", "set_snapshot", "reminders",
                                       with_state(rem("r-b", 30, "due", "2026-03-04T08:00:00+01:00"), "snoozed"),
                                       with_state(rem("r-d", 30, "due", "2026-03-04T08:00:00+01:00"), "delivered"),
                                       with_state(rem("r-e", 30, "due", "2026-03-05T08:00:00+01:00"), "delivered"),
                                       "rseq", 30)), 0);
        syncs = atomic_load(&f.syncs);
        CHECK_INT(control(c, json_pack("{s:s}", "op", "restart_pub")), 0);
        CHECK_INT(next_ev(c, &ev, 5000), 1);
        CHECK_INT(ev.kind, BK_EVENT_SNAPSHOT_BEGIN);
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_DUE);
        CHECK_STR(ev_id(&ev), "r-e");
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_SNAPSHOT_END);
        CHECK(atomic_load(&f.syncs) > syncs);

        /* And live messages flow on the new connection. */
        CHECK_INT(control(c, json_pack("{s:s, s:[o]}", "op", "publish", "msgs",
                                       pub_item(TOPIC, rem("r-f", 31, "due", "2026-03-06T08:00:00+01:00"), true))),
                  0);
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_DUE);
        CHECK_STR(ev_id(&ev), "r-f");
        CHECK(!ev.from_snapshot);

        /* Poll-loop integration: items, a timeout bounded by the next re-sync. */
        zmq_pollitem_t items[4];
        CHECK_INT(bk_client_pollitems(c, items, 4), 2);
        CHECK(bk_client_timeout(c) >= 0 && bk_client_timeout(c) <= 30000);
        CHECK_INT(next_ev(c, &ev, 0), 0);

        bk_client_destroy(&c);

        /* Nobody publishing: follow gives up after the request timeout, -ETIMEDOUT. */
        c = bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .pub_endpoint = "tcp://127.0.0.1:1",
                                               .request_timeout_ms = 200 });
        CHECK_INT(bk_client_follow(c, TOPIC, 0), -ETIMEDOUT);
        CHECK_INT(next_ev(c, &ev, 100), 0);
        bk_client_destroy(&c);
        fake_stop(&f);
}

/*
 * With opts.messages, a live message with another op (a digest; one a newer
 * daemon adds) is reported whole as BK_EVENT_MESSAGE, after the rseq filter
 * like a reminder; one without a string op is still dropped, and reminders
 * are reported as before.
 */
static void test_messages(void)
{
        fake_t f;
        bk_client_t *c;
        bk_event_t ev;
        json_t *digest = json_pack("{s:i, s:I, s:s, s:s, s:s, s:s, s:{s:i}, s:[o]}", "v", 1, "rseq", (json_int_t)3,
                                   "op", "digest", "unit", "HV-EB-1", "since", "2026-03-01T08:00:00+01:00", "at",
                                   "2026-03-02T08:00:00+01:00", "counts", "IB3-DUE", 1, "items",
                                   rem("r-a", 3, "due", "2026-03-02T08:00:00+01:00"));

        fake_start(&f, false);
        c = bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .pub_endpoint = f.pub_ep, .messages = true });
        CHECK(c != NULL);
        CHECK_INT(control(c, json_pack("{s:s, s:[], s:i}", "op", "set_snapshot", "reminders", "rseq", 1)), 0);
        CHECK_INT(bk_client_follow(c, TOPIC, 0), 0);
        CHECK_INT(next_ev(c, &ev, 1000), 1);
        CHECK_INT(ev.kind, BK_EVENT_SNAPSHOT_BEGIN);
        CHECK_INT(next_ev(c, &ev, 1000), 1);
        CHECK_INT(ev.kind, BK_EVENT_SNAPSHOT_END);
        CHECK_INT(control(c, json_pack("{s:s, s:[o,o,o,o,o]}", "op", "publish", "msgs",
                                       pub_item(TOPIC, json_pack("{s:i, s:i, s:s}", "v", 1, "rseq", 1, "op", "digest"),
                                                false),
                                       pub_item(TOPIC, json_pack("{s:i, s:i, s:i}", "v", 1, "rseq", 2, "op", 7), false),
                                       pub_item(TOPIC, digest, false),
                                       pub_item(TOPIC, json_pack("{s:i, s:i, s:s, s:s}", "v", 1, "rseq", 4, "op",
                                                                 "summary", "title", "100 open"), false),
                                       pub_item(TOPIC, rem("r-b", 5, "due", "2026-03-02T08:00:00+01:00"), false))),
                  0);
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_MESSAGE);
        CHECK_STR(bk_event_kind_name(ev.kind), "message");
        CHECK_INT(ev.rseq, 3);
        CHECK_STR(json_string_value(json_object_get(ev.reminder, "op")), "digest");
        CHECK_INT(json_array_size(json_object_get(ev.reminder, "items")), 1);
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_MESSAGE);
        CHECK_STR(json_string_value(json_object_get(ev.reminder, "op")), "summary");
        CHECK_INT(next_ev(c, &ev, 3000), 1);
        CHECK_INT(ev.kind, BK_EVENT_DUE);
        CHECK_STR(ev_id(&ev), "r-b");
        CHECK_INT(bk_client_rseq(c, TOPIC), 5);
        bk_client_destroy(&c);
        fake_stop(&f);
}

static void write_file(const char *path, const char *text)
{
        FILE *fp = fopen(path, "w");
        fputs(text, fp);
        fclose(fp);
}

static void test_curve(void)
{
        fake_t f;
        bk_client_t *c;
        char spub[41], cpub[41], csec[41], dir[] = "/tmp/bevaka-client-XXXXXX", path[128], cert[128], text[512];

        if (!zmq_has("curve")) {
                fprintf(stderr, "libzmq without CURVE: skipping the CURVE tests\n");
                return;
        }
        fake_start(&f, true);
        zmq_curve_public(spub, f.secret);
        zmq_curve_keypair(cpub, csec);
        CHECK(mkdtemp(dir) != NULL);

        /* Inline Z85 keys. */
        c = bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .server_key = spub, .public_key = cpub,
                                               .secret_key = csec });
        CHECK(c != NULL);
        CHECK_INT(bk_client_hello(c, NULL), 0);
        bk_client_destroy(&c);

        /* The server key from a bare key file, the client's from a czmq certificate, public derived. */
        snprintf(path, sizeof(path), "%s/server.key", dir);
        snprintf(text, sizeof(text), "%s\n", spub);
        write_file(path, text);
        snprintf(cert, sizeof(cert), "%s/client.key_secret", dir);
        snprintf(text, sizeof(text),
                 "#   ****  Generated by bevaka tests  ****\n"
                 "metadata\n"
                 "curve\n"
                 "    public-key = \"%s\"\n"
                 "    secret-key = \"%s\"\n", cpub, csec);
        write_file(cert, text);
        c = bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .server_key = path, .secret_key = cert });
        CHECK(c != NULL);
        CHECK_INT(bk_client_hello(c, NULL), 0);
        bk_client_destroy(&c);

        /* A wrong server key never completes the handshake. */
        c = bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .server_key = cpub, .secret_key = csec });
        CHECK(c != NULL);
        CHECK_INT(op(c, "hello", NULL, 300), -ETIMEDOUT);
        bk_client_destroy(&c);

        /* Key problems are refused up front. */
        errno = 0;
        CHECK(bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .server_key = spub }) == NULL);
        CHECK_INT(errno, EINVAL);
        CHECK(bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .secret_key = csec }) == NULL);
        CHECK_INT(errno, EINVAL);
        snprintf(path, sizeof(path), "%s/missing.key", dir);
        CHECK(bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .server_key = path, .secret_key = csec }) == NULL);
        CHECK_INT(errno, ENOENT);
        snprintf(path, sizeof(path), "%s/junk.key", dir);
        write_file(path, "no key in here\n");
        CHECK(bk_client_new(&(bk_client_opts_t){ .api_endpoint = f.api_ep, .server_key = path, .secret_key = csec }) == NULL);
        CHECK_INT(errno, EINVAL);

        snprintf(text, sizeof(text), "rm -rf '%s'", dir);
        if (system(text) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        fake_stop(&f);
}

int main(void)
{
        test_requests();
        test_follow();
        test_messages();
        test_curve();
        return tap_done();
}
