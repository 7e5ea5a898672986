/*
 * client.c owns the client side of the bevaka protocol (protocol.md §2–§4),
 * as declared in bevaka/client.h: the DEALER for API requests with `req`
 * correlation and lazy-pirate recovery, the SUB for the reminder stream with
 * a socket monitor that tells when the connection is (re-)established, the
 * per-topic Clone state (last rseq, the set of reminders already reported)
 * and the queue of events handed out by bk_client_next(). It uses only
 * libzmq and jansson, so it can be split out of the core library unchanged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bevaka/client.h"

#define DEFAULT_TIMEOUT_MS      5000
#define DEFAULT_RESYNC_MS       30000
#define DEFAULT_RECONNECT_MS    100
#define DEFAULT_RECONNECT_MAX   5000
#define DEFAULT_HEARTBEAT_MS    5000
#define DEFAULT_HEARTBEAT_TO    15000
#define DEFAULT_MAX_MSG         65536
#define DEFAULT_MAX_REPLY       (64 << 20)
/*
 * A second sync this long after a (re)connect or a first sync: the
 * subscription and the sync request use different connections, so the
 * daemon may answer the sync before it has registered the subscription.
 */
#define SETTLE_MS               1000
#define RETRY_MIN_MS            1000
#define RETRY_MAX_MS            30000
#define SUB_HWM                 10000
#define API_HWM                 1000
#define DRAIN_MAX               1000    /* stream messages read per turn */
#define TOPIC_MAX               256
#define MONITOR_EP              "inproc://bk-client-sub-monitor"
#define NEVER                   INT64_MAX

typedef struct follow {
        char *topic;
        size_t topic_len;
        int64_t since;          /* the program's last rseq, sent with the first sync */
        int64_t last_rseq;      /* live messages at or below this are in a snapshot */
        json_t *view;           /* id → reminder as last reported to the program */
        bool synced;            /* the first snapshot has been reported */
        bool settle;            /* sync again SETTLE_MS after the next sync */
        int failures;
        int64_t next_sync;      /* monotonic ms; NEVER = not scheduled */
} follow_t;

typedef struct pending {
        bk_event_kind_t kind;
        size_t follow;
        json_t *reminder;       /* owned */
        int64_t rseq;
        bool from_snapshot;
} pending_t;

struct bk_client {
        char *api_ep, *pub_ep;
        bool curve;
        uint8_t server_key[32], public_key[32], secret_key[32];
        int timeout_ms, resync_ms, reconnect_ms, reconnect_max_ms, heartbeat_ms, heartbeat_to_ms;
        int64_t max_msg, max_reply;
        bool messages;          /* report other ops as BK_EVENT_MESSAGE */

        void *ctx;
        void *api;              /* DEALER */
        void *sub;              /* SUB */
        void *mon;              /* PAIR reading the SUB's monitor */
        bool sub_up;            /* handshake done, not disconnected since */
        bool sub_auth_failed;
        int64_t next_req;

        follow_t *follows;
        size_t n_follows;

        pending_t *queue;
        size_t q_head, q_tail, q_cap;
        json_t *current;        /* reminder of the event last returned */
};

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_until(int64_t deadline)
{
        int64_t d;
        if (deadline == NEVER)
                return -1;
        d = deadline - now_ms();
        if (d < 0)
                return 0;
        return d > 1000000000 ? 1000000000 : (int)d;
}

static int or_default(int v, int def)
{
        return v > 0 ? v : def;
}

/* ---- CURVE keys ------------------------------------------------------------------ */

static bool z85_char(int ch)
{
        return ch && strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            ".-:+=^!/*?&<>()[]{}@%$#", ch) != NULL;
}

static bool z85_key(const char *s, size_t n, uint8_t out[32])
{
        char buf[41];
        if (n != 40)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!z85_char((unsigned char)s[i]))
                        return false;
        memcpy(buf, s, 40);
        buf[40] = '\0';
        return zmq_z85_decode(out, buf) != NULL;
}

/* The quoted value after `label` in a czmq certificate, e.g. secret-key = "…". */
static bool cert_value(const char *text, const char *label, uint8_t out[32])
{
        const char *p = text;
        size_t ll = strlen(label);

        while ((p = strstr(p, label)) != NULL) {
                const char *q = p + ll, *end;
                p += ll;
                while (*q == ' ' || *q == '\t')
                        q++;
                if (*q++ != '=')
                        continue;
                while (*q == ' ' || *q == '\t')
                        q++;
                if (*q++ != '"')
                        continue;
                end = strchr(q, '"');
                if (end && z85_key(q, (size_t)(end - q), out))
                        return true;
        }
        return false;
}

/* The first whitespace- or quote-delimited token that is a Z85 key. */
static bool first_key(const char *text, uint8_t out[32])
{
        const char *p = text;
        while (*p) {
                size_t n;
                p += strspn(p, " \t\r\n\"");
                n = strcspn(p, " \t\r\n\"");
                if (n == 0)
                        break;
                if (z85_key(p, n, out))
                        return true;
                p += n;
        }
        return false;
}

/* A Z85 key given inline, or a file holding one (bare or a czmq certificate). */
static int key_load(const char *spec, const char *label, uint8_t out[32])
{
        char text[8192];
        size_t n;
        FILE *f;

        if (z85_key(spec, strlen(spec), out))
                return 0;
        f = fopen(spec, "re");
        if (!f)
                return -errno;
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        if (cert_value(text, label, out) || first_key(text, out))
                return 0;
        return -EINVAL;
}

static int keys_load(bk_client_t *c, const bk_client_opts_t *o)
{
        int r;

        if (!o->server_key) {
                /* Client keys without a server key would silently mean no encryption. */
                return o->public_key || o->secret_key ? -EINVAL : 0;
        }
        if (!o->secret_key)
                return -EINVAL;
        if ((r = key_load(o->server_key, "public-key", c->server_key)) < 0 ||
            (r = key_load(o->secret_key, "secret-key", c->secret_key)) < 0)
                return r;
        if (o->public_key) {
                if ((r = key_load(o->public_key, "public-key", c->public_key)) < 0)
                        return r;
        } else {
                char zs[41], zp[41];
                if (!zmq_z85_encode(zs, c->secret_key, 32) || zmq_curve_public(zp, zs) != 0 ||
                    !zmq_z85_decode(c->public_key, zp))
                        return -EINVAL;
        }
        c->curve = true;
        return 0;
}

/* ---- sockets --------------------------------------------------------------------- */

static void set_int(void *s, int opt, int v)
{
        zmq_setsockopt(s, opt, &v, sizeof(v));
}

static int socket_setup(bk_client_t *c, void *s, int64_t max_msg, int hwm)
{
        set_int(s, ZMQ_LINGER, 0);
        set_int(s, ZMQ_SNDHWM, hwm);
        set_int(s, ZMQ_RCVHWM, hwm);
        set_int(s, ZMQ_RECONNECT_IVL, c->reconnect_ms);
        set_int(s, ZMQ_RECONNECT_IVL_MAX, c->reconnect_max_ms);
        set_int(s, ZMQ_HEARTBEAT_IVL, c->heartbeat_ms);
        set_int(s, ZMQ_HEARTBEAT_TIMEOUT, c->heartbeat_to_ms);
        /* TTL travels to the daemon: it drops us when our heartbeats stop. Units of 100 ms. */
        set_int(s, ZMQ_HEARTBEAT_TTL, c->heartbeat_to_ms / 100 * 100);
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_msg, sizeof(max_msg));
        if (c->curve) {
                if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, c->server_key, 32) != 0 ||
                    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, c->public_key, 32) != 0 ||
                    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, c->secret_key, 32) != 0)
                        return -errno;
        }
        return 0;
}

static void api_close(bk_client_t *c)
{
        if (c->api)
                zmq_close(c->api);
        c->api = NULL;
}

static int api_open(bk_client_t *c)
{
        int r;

        c->api = zmq_socket(c->ctx, ZMQ_DEALER);
        if (!c->api)
                return -errno;
        /* Queue a request only on a live connection: a timed-out ack must not run later. */
        set_int(c->api, ZMQ_IMMEDIATE, 1);
        if ((r = socket_setup(c, c->api, c->max_reply, API_HWM)) < 0)
                goto fail;
        if (zmq_connect(c->api, c->api_ep) != 0) {
                r = -errno;
                goto fail;
        }
        return 0;
fail:
        api_close(c);
        return r;
}

static int sub_open(bk_client_t *c)
{
        int r;

        c->sub = zmq_socket(c->ctx, ZMQ_SUB);
        c->mon = zmq_socket(c->ctx, ZMQ_PAIR);
        if (!c->sub || !c->mon)
                return -errno;
        if ((r = socket_setup(c, c->sub, c->max_msg, SUB_HWM)) < 0)
                return r;
        set_int(c->mon, ZMQ_LINGER, 0);
        if (zmq_socket_monitor(c->sub, MONITOR_EP,
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
            zmq_connect(c->mon, MONITOR_EP) != 0 || zmq_connect(c->sub, c->pub_ep) != 0)
                return -errno;
        return 0;
}

bk_client_t *bk_client_new(const bk_client_opts_t *o)
{
        bk_client_t *c = calloc(1, sizeof(*c));
        int r = -ENOMEM;

        if (!c)
                goto fail;
        c->timeout_ms = or_default(o->request_timeout_ms, DEFAULT_TIMEOUT_MS);
        c->resync_ms = o->resync_interval_ms < 0 ? -1 : or_default(o->resync_interval_ms, DEFAULT_RESYNC_MS);
        c->reconnect_ms = or_default(o->reconnect_ivl_ms, DEFAULT_RECONNECT_MS);
        c->reconnect_max_ms = or_default(o->reconnect_ivl_max_ms, DEFAULT_RECONNECT_MAX);
        c->heartbeat_ms = or_default(o->heartbeat_ivl_ms, DEFAULT_HEARTBEAT_MS);
        c->heartbeat_to_ms = or_default(o->heartbeat_timeout_ms, DEFAULT_HEARTBEAT_TO);
        c->max_msg = o->max_msg_size > 0 ? o->max_msg_size : DEFAULT_MAX_MSG;
        c->messages = o->messages;
        c->max_reply = o->max_reply_size > 0 ? o->max_reply_size : DEFAULT_MAX_REPLY;
        c->next_req = 1;
        if ((r = keys_load(c, o)) < 0)
                goto fail;
        r = -ENOMEM;
        if ((o->api_endpoint && !(c->api_ep = strdup(o->api_endpoint))) ||
            (o->pub_endpoint && !(c->pub_ep = strdup(o->pub_endpoint))))
                goto fail;
        if (!(c->ctx = zmq_ctx_new()))
                goto fail;
        if (c->api_ep && (r = api_open(c)) < 0)
                goto fail;
        if (c->pub_ep && (r = sub_open(c)) < 0)
                goto fail;
        return c;
fail:
        bk_client_destroy(&c);
        errno = -r;
        return NULL;
}

static void queue_clear(bk_client_t *c)
{
        for (size_t i = c->q_head; i < c->q_tail; i++)
                json_decref(c->queue[i].reminder);
        c->q_head = c->q_tail = 0;
}

void bk_client_destroy(bk_client_t **self_p)
{
        bk_client_t *c = *self_p;

        if (!c)
                return;
        queue_clear(c);
        free(c->queue);
        json_decref(c->current);
        for (size_t i = 0; i < c->n_follows; i++) {
                free(c->follows[i].topic);
                json_decref(c->follows[i].view);
        }
        free(c->follows);
        api_close(c);
        if (c->sub) {
                zmq_socket_monitor(c->sub, NULL, 0);
                zmq_close(c->sub);
        }
        if (c->mon)
                zmq_close(c->mon);
        if (c->ctx)
                zmq_ctx_term(c->ctx);
        free(c->api_ep);
        free(c->pub_ep);
        /* Key material does not outlive the client in freed memory. */
        explicit_bzero(c->secret_key, sizeof(c->secret_key));
        free(c);
        *self_p = NULL;
}

/* ---- requests -------------------------------------------------------------------- */

const char *bk_reply_error_code(const json_t *reply)
{
        return json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
}

const char *bk_reply_error_message(const json_t *reply)
{
        return json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
}

/* Lazy pirate: a fresh socket drops stale replies and any wedged connection with the old one. */
static int api_reset(bk_client_t *c)
{
        api_close(c);
        return api_open(c);
}

static int api_send(bk_client_t *c, const char *text, size_t len, int64_t deadline)
{
        for (;;) {
                if (zmq_send(c->api, text, len, ZMQ_DONTWAIT) >= 0)
                        return 0;
                if (errno != EAGAIN)
                        return -errno;
                zmq_pollitem_t it = { .socket = c->api, .events = ZMQ_POLLOUT };
                int n = zmq_poll(&it, 1, ms_until(deadline));
                if (n < 0)
                        return -errno;
                if (n == 0 && now_ms() >= deadline)
                        return -ETIMEDOUT;
        }
}

/* Receives one whole message as a JSON value; NULL for anything else (multipart, not JSON). */
static json_t *recv_json(void *s, bool *got)
{
        zmq_msg_t m;
        json_t *v = NULL;
        int more = 0, frames = 0;
        size_t more_size = sizeof(more);

        *got = false;
        do {
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
                        zmq_msg_close(&m);
                        return v;
                }
                *got = true;
                if (frames++ == 0)
                        v = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), JSON_REJECT_DUPLICATES, NULL);
                zmq_msg_close(&m);
                zmq_getsockopt(s, ZMQ_RCVMORE, &more, &more_size);
        } while (more);
        if (frames != 1) {
                json_decref(v);
                v = NULL;
        }
        return v;
}

static int api_wait_reply(bk_client_t *c, int64_t id, int64_t deadline, json_t **out)
{
        for (;;) {
                zmq_pollitem_t it = { .socket = c->api, .events = ZMQ_POLLIN };
                bool got;
                json_t *v, *rid;
                int n = zmq_poll(&it, 1, ms_until(deadline));

                if (n < 0)
                        return -errno;
                if (n == 0) {
                        if (now_ms() >= deadline)
                                return -ETIMEDOUT;
                        continue;
                }
                v = recv_json(c->api, &got);
                if (!got)
                        continue;
                if (!json_is_object(v)) {
                        json_decref(v);
                        return -EPROTO;
                }
                rid = json_object_get(v, "req");
                if (!json_is_integer(rid) || json_integer_value(rid) != id) {
                        json_decref(v);         /* a reply to an abandoned request */
                        continue;
                }
                if (!json_is_boolean(json_object_get(v, "ok"))) {
                        json_decref(v);
                        return -EPROTO;
                }
                *out = v;
                return 0;
        }
}

int bk_client_request(bk_client_t *c, json_t *req, json_t **reply, int timeout_ms)
{
        json_t *copy, *v = NULL;
        char *text;
        int64_t id, deadline;
        int r;

        if (reply)
                *reply = NULL;
        if (!c->api_ep || !json_is_object(req))
                return -EINVAL;
        if (!c->api && (r = api_open(c)) < 0)
                return r;
        if (timeout_ms < 0)
                timeout_ms = c->timeout_ms;
        deadline = now_ms() + timeout_ms;
        id = c->next_req++;
        copy = json_copy(req);
        if (!copy || json_object_set_new(copy, "req", json_integer(id)) != 0) {
                json_decref(copy);
                return -ENOMEM;
        }
        text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(copy);
        if (!text)
                return -ENOMEM;
        r = api_send(c, text, strlen(text), deadline);
        free(text);
        if (r == 0)
                r = api_wait_reply(c, id, deadline, &v);
        if (r == -ETIMEDOUT)
                api_reset(c);
        if (r < 0)
                return r;
        r = json_is_true(json_object_get(v, "ok")) ? 0 : BK_CLIENT_E_REPLY;
        if (reply)
                *reply = v;
        else
                json_decref(v);
        return r;
}

/* Sends a request built by json_pack (stolen) with the default timeout. */
static int call(bk_client_t *c, json_t *req, json_t **reply)
{
        int r;
        if (!req) {
                if (reply)
                        *reply = NULL;
                return -EINVAL;     /* json_pack refused a NULL string */
        }
        r = bk_client_request(c, req, reply, -1);
        json_decref(req);
        return r;
}

int bk_client_hello(bk_client_t *c, json_t **reply)
{
        return call(c, json_pack("{s:s}", "op", "hello"), reply);
}

int bk_client_sync(bk_client_t *c, const char *topic, int64_t since_rseq, json_t **reply)
{
        return call(c, json_pack("{s:s, s:s, s:I}", "op", "sync", "topic", topic, "since_rseq",
                                 (json_int_t)since_rseq), reply);
}

int bk_client_ack(bk_client_t *c, const char *id, json_t **reply)
{
        return call(c, json_pack("{s:s, s:s}", "op", "ack", "id", id), reply);
}

int bk_client_snooze(bk_client_t *c, const char *id, const char *until, json_t **reply)
{
        if (until)
                return call(c, json_pack("{s:s, s:s, s:s}", "op", "snooze", "id", id, "until", until), reply);
        return call(c, json_pack("{s:s, s:s}", "op", "snooze", "id", id), reply);
}

int bk_client_dismiss(bk_client_t *c, const char *id, const char *reason, json_t **reply)
{
        return call(c, json_pack("{s:s, s:s, s:s}", "op", "dismiss", "id", id, "reason", reason), reply);
}

int bk_client_why(bk_client_t *c, const char *id, json_t **reply)
{
        return call(c, json_pack("{s:s, s:s}", "op", "why", "id", id), reply);
}

/* ---- event queue ----------------------------------------------------------------- */

static const char *const kind_names[] = {
        [BK_EVENT_SNAPSHOT_BEGIN] = "snapshot_begin", [BK_EVENT_SNAPSHOT_END] = "snapshot_end",
        [BK_EVENT_DUE] = "due",                       [BK_EVENT_RESOLVED] = "resolved",
        [BK_EVENT_CANCELLED] = "cancelled",           [BK_EVENT_REROUTED] = "rerouted",
        [BK_EVENT_CLOSED] = "closed",                 [BK_EVENT_MESSAGE] = "message",
};

const char *bk_event_kind_name(bk_event_kind_t kind)
{
        if ((unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[kind])
                return kind_names[kind];
        return "unknown";
}

/* Takes a reference to `reminder`. */
static int queue_push(bk_client_t *c, bk_event_kind_t kind, size_t follow, json_t *reminder, int64_t rseq,
                      bool from_snapshot)
{
        if (c->q_tail == c->q_cap) {
                size_t cap = c->q_cap ? c->q_cap * 2 : 64;
                pending_t *q = realloc(c->queue, cap * sizeof(*q));
                if (!q)
                        return -ENOMEM;
                c->queue = q;
                c->q_cap = cap;
        }
        c->queue[c->q_tail++] = (pending_t){ kind, follow, json_incref(reminder), rseq, from_snapshot };
        return 0;
}

static bool queue_pop(bk_client_t *c, bk_event_t *ev)
{
        pending_t *p;

        if (c->q_head == c->q_tail)
                return false;
        p = &c->queue[c->q_head++];
        *ev = (bk_event_t){ .kind = p->kind, .topic = c->follows[p->follow].topic, .reminder = p->reminder,
                            .rseq = p->rseq, .from_snapshot = p->from_snapshot };
        c->current = p->reminder;      /* released at the next call */
        if (c->q_head == c->q_tail)
                c->q_head = c->q_tail = 0;
        return true;
}

/* ---- following ------------------------------------------------------------------- */

static follow_t *follow_find(const bk_client_t *c, const char *topic, size_t len)
{
        for (size_t i = 0; i < c->n_follows; i++)
                if (c->follows[i].topic_len == len && memcmp(c->follows[i].topic, topic, len) == 0)
                        return &c->follows[i];
        return NULL;
}

int64_t bk_client_rseq(const bk_client_t *c, const char *topic)
{
        const follow_t *f = follow_find(c, topic, strlen(topic));
        return f ? f->last_rseq : 0;
}

/* A reminder as reported: "state" from a snapshot, a live "due" means delivered. */
static const char *rem_state(const json_t *r)
{
        const char *s = json_string_value(json_object_get(r, "state"));
        return s ? s : "delivered";
}

static bool rem_same(const json_t *a, const json_t *b)
{
        const char *da = json_string_value(json_object_get(a, "deliver_at"));
        const char *db = json_string_value(json_object_get(b, "deliver_at"));
        return da && db && strcmp(da, db) == 0 && strcmp(rem_state(a), rem_state(b)) == 0;
}

/*
 * Turns a sync reply into events. The first snapshot of a topic reports
 * everything; later ones only what differs from the reported view, so a
 * periodic re-sync is silent when nothing was missed.
 */
static int snapshot_apply(bk_client_t *c, size_t fi, json_t *reply)
{
        follow_t *f = &c->follows[fi];
        json_t *list = json_object_get(reply, "reminders"), *rs = json_object_get(reply, "rseq");
        json_t *view, *r, *old;
        const char *id;
        size_t i, begin = c->q_tail;
        int64_t rseq;
        int res = 0;
        void *tmp;

        if (!json_is_array(list) || !json_is_integer(rs))
                return -EPROTO;
        rseq = json_integer_value(rs);
        view = json_object();
        if (!view)
                return -ENOMEM;
        json_array_foreach(list, i, r) {
                id = json_string_value(json_object_get(r, "id"));
                if (!json_is_object(r) || !id)
                        continue;
                json_object_set(view, id, r);
        }
        res = queue_push(c, BK_EVENT_SNAPSHOT_BEGIN, fi, NULL, rseq, true);
        json_array_foreach(list, i, r) {
                id = json_string_value(json_object_get(r, "id"));
                if (res || !json_is_object(r) || !id)
                        continue;
                old = json_object_get(f->view, id);
                if (!f->synced || !old || !rem_same(old, r))
                        res = queue_push(c, BK_EVENT_DUE, fi, r, rseq, true);
        }
        json_object_foreach_safe(f->view, tmp, id, old) {
                if (!res && !json_object_get(view, id))
                        res = queue_push(c, BK_EVENT_CLOSED, fi, old, rseq, true);
        }
        if (!res)
                res = queue_push(c, BK_EVENT_SNAPSHOT_END, fi, NULL, rseq, true);
        /* A re-sync that found nothing new says nothing; a failed one leaves no half snapshot. */
        if (res || (f->synced && c->q_tail == begin + 2)) {
                for (size_t k = begin; k < c->q_tail; k++)
                        json_decref(c->queue[k].reminder);
                c->q_tail = begin;
        }
        if (res) {
                json_decref(view);
                return res;
        }
        json_decref(f->view);
        f->view = view;
        f->synced = true;
        /* The snapshot is the truth, also when the daemon's rseq went backwards (a new store). */
        f->last_rseq = rseq;
        return 0;
}

static int follow_sync(bk_client_t *c, size_t fi)
{
        follow_t *f = &c->follows[fi];
        json_t *reply = NULL;
        int64_t now;
        int r;

        r = bk_client_sync(c, f->topic, f->synced ? f->last_rseq : f->since, &reply);
        if (r == 0)
                r = snapshot_apply(c, fi, reply);
        json_decref(reply);
        f = &c->follows[fi];
        now = now_ms();
        if (r == 0) {
                f->failures = 0;
                f->next_sync = f->settle ? now + SETTLE_MS : c->resync_ms < 0 ? NEVER : now + c->resync_ms;
                f->settle = false;
        } else {
                int64_t back = (int64_t)RETRY_MIN_MS << (f->failures < 5 ? f->failures : 5);
                f->failures++;
                f->next_sync = now + (back > RETRY_MAX_MS ? RETRY_MAX_MS : back);
        }
        return r;
}

static void schedule_all(bk_client_t *c, bool settle)
{
        int64_t now = now_ms();
        for (size_t i = 0; i < c->n_follows; i++) {
                c->follows[i].next_sync = now;
                c->follows[i].settle = c->follows[i].settle || settle;
        }
}

void bk_client_resync(bk_client_t *c)
{
        schedule_all(c, false);
}

static void monitor_drain(bk_client_t *c)
{
        for (;;) {
                zmq_msg_t m;
                uint16_t event = 0;
                int more = 0;
                size_t more_size = sizeof(more);

                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, c->mon, ZMQ_DONTWAIT) < 0) {
                        zmq_msg_close(&m);
                        return;
                }
                if (zmq_msg_size(&m) >= sizeof(event))
                        memcpy(&event, zmq_msg_data(&m), sizeof(event));
                zmq_getsockopt(c->mon, ZMQ_RCVMORE, &more, &more_size);
                zmq_msg_close(&m);
                while (more) {      /* the endpoint frame */
                        zmq_msg_init(&m);
                        if (zmq_msg_recv(&m, c->mon, 0) < 0)
                                more = 0;
                        else
                                zmq_getsockopt(c->mon, ZMQ_RCVMORE, &more, &more_size);
                        zmq_msg_close(&m);
                }
                if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                        /* (Re)connected: what was published while we were away is only in a snapshot. */
                        c->sub_up = true;
                        c->sub_auth_failed = false;
                        schedule_all(c, true);
                } else if (event == ZMQ_EVENT_DISCONNECTED) {
                        c->sub_up = false;
                } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
                        c->sub_auth_failed = true;
                }
        }
}

static bk_event_kind_t kind_of_op(const char *op)
{
        if (!op)
                return 0;
        if (strcmp(op, "due") == 0)
                return BK_EVENT_DUE;
        if (strcmp(op, "resolved") == 0)
                return BK_EVENT_RESOLVED;
        if (strcmp(op, "cancelled") == 0)
                return BK_EVENT_CANCELLED;
        if (strcmp(op, "rerouted") == 0)
                return BK_EVENT_REROUTED;
        return 0;    /* a newer daemon's op: ignored */
}

/* One [topic][reminder] message; anything malformed or for no followed topic is dropped. */
static int stream_one(bk_client_t *c, bool *got)
{
        zmq_msg_t parts[2];
        int more = 0, n = 0, res = 0;
        size_t more_size = sizeof(more);
        follow_t *f;
        json_t *r = NULL;
        const char *id;
        bk_event_kind_t kind;
        int64_t rseq;

        *got = false;
        do {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, c->sub, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                        zmq_msg_close(&m);
                        break;
                }
                if (n < 2)
                        parts[n] = m;
                else
                        zmq_msg_close(&m);
                n++;
                zmq_getsockopt(c->sub, ZMQ_RCVMORE, &more, &more_size);
        } while (more);
        if (n == 0)
                return 0;
        *got = true;
        if (n != 2)
                goto done;
        f = follow_find(c, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]));
        if (!f)
                goto done;
        r = json_loadb(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), JSON_REJECT_DUPLICATES, NULL);
        id = json_string_value(json_object_get(r, "id"));
        kind = kind_of_op(json_string_value(json_object_get(r, "op")));
        /* Another op (a digest, a newer daemon's) is the program's to judge, when it asked for them. */
        if (!kind && c->messages && json_is_string(json_object_get(r, "op")))
                kind = BK_EVENT_MESSAGE;
        if (!json_is_object(r) || !kind || (!id && kind != BK_EVENT_MESSAGE) ||
            !json_is_integer(json_object_get(r, "rseq")))
                goto done;
        rseq = json_integer_value(json_object_get(r, "rseq"));
        if (rseq <= f->last_rseq)
                goto done;          /* already in the snapshot */
        f->last_rseq = rseq;
        if (kind == BK_EVENT_DUE)
                json_object_set(f->view, id, r);
        else if (kind != BK_EVENT_MESSAGE)
                json_object_del(f->view, id);
        res = queue_push(c, kind, (size_t)(f - c->follows), r, rseq, false);
done:
        json_decref(r);
        for (int i = 0; i < (n < 2 ? n : 2); i++)
                zmq_msg_close(&parts[i]);
        return res;
}

/* Everything that can be done without waiting: monitor events, due syncs, queued messages. */
static int pump(bk_client_t *c)
{
        int64_t now;
        int r;

        if (!c->sub)
                return 0;
        monitor_drain(c);
        now = now_ms();
        for (size_t i = 0; i < c->n_follows; i++)
                if (c->sub_up && c->follows[i].next_sync <= now)
                        follow_sync(c, i);     /* a failure is retried with backoff */
        for (int k = 0; k < DRAIN_MAX; k++) {
                bool got;
                if ((r = stream_one(c, &got)) < 0)
                        return r;
                if (!got)
                        break;
        }
        return 0;
}

int bk_client_follow(bk_client_t *c, const char *topic, int64_t since_rseq)
{
        size_t len = topic ? strlen(topic) : 0;
        follow_t *f;
        int64_t deadline;

        if (!c->sub || !c->api_ep || len < 6 || len > TOPIC_MAX || strncmp(topic, "rem/", 4) != 0 ||
            topic[len - 1] != '/')
                return -EINVAL;
        if (follow_find(c, topic, len))
                return -EEXIST;
        f = realloc(c->follows, (c->n_follows + 1) * sizeof(*f));
        if (!f)
                return -ENOMEM;
        c->follows = f;
        f = &c->follows[c->n_follows];
        *f = (follow_t){ .topic = strdup(topic), .topic_len = len, .since = since_rseq, .view = json_object(),
                         .settle = true, .next_sync = now_ms() };
        if (!f->topic || !f->view) {
                free(f->topic);
                json_decref(f->view);
                return -ENOMEM;
        }
        c->n_follows++;
        /* Subscribe first (protocol §3): what is published from now on reaches us. */
        if (zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, topic, len) != 0)
                return -errno;
        deadline = now_ms() + c->timeout_ms;
        while (!c->sub_up) {
                zmq_pollitem_t it = { .socket = c->mon, .events = ZMQ_POLLIN };
                int n = zmq_poll(&it, 1, ms_until(deadline));
                if (n < 0)
                        return -errno;
                monitor_drain(c);
                if (!c->sub_up && (c->sub_auth_failed || now_ms() >= deadline))
                        return c->sub_auth_failed ? -EACCES : -ETIMEDOUT;
        }
        return follow_sync(c, c->n_follows - 1);
}

int bk_client_pollitems(bk_client_t *c, zmq_pollitem_t *items, int max)
{
        int n = 0;
        if (c->sub && n < max)
                items[n++] = (zmq_pollitem_t){ .socket = c->sub, .events = ZMQ_POLLIN };
        if (c->mon && n < max)
                items[n++] = (zmq_pollitem_t){ .socket = c->mon, .events = ZMQ_POLLIN };
        return n;
}

int bk_client_timeout(const bk_client_t *c)
{
        int64_t next = NEVER;

        if (c->q_head != c->q_tail)
                return 0;
        if (!c->sub_up)
                return -1;          /* the monitor wakes us when the connection is back */
        for (size_t i = 0; i < c->n_follows; i++)
                if (c->follows[i].next_sync < next)
                        next = c->follows[i].next_sync;
        return ms_until(next);
}

int bk_client_next(bk_client_t *c, bk_event_t *ev, int timeout_ms)
{
        int64_t deadline = timeout_ms < 0 ? NEVER : now_ms() + timeout_ms;
        int r;

        json_decref(c->current);
        c->current = NULL;
        for (;;) {
                zmq_pollitem_t items[2];
                int n, wait, t;

                if (queue_pop(c, ev))
                        return 1;
                if ((r = pump(c)) < 0)
                        return r;
                if (queue_pop(c, ev))
                        return 1;
                if (deadline != NEVER && now_ms() >= deadline)
                        return 0;
                n = bk_client_pollitems(c, items, 2);
                wait = ms_until(deadline);
                t = bk_client_timeout(c);
                if (t >= 0 && (wait < 0 || t < wait))
                        wait = t;
                if (n == 0 && wait < 0)
                        return -EINVAL;     /* nothing could ever happen */
                if (zmq_poll(items, n, wait) < 0)
                        return -errno;
        }
}

/*
 * Without keys from options or the environment, a user's own keys are
 * looked for where `bevakactl keygen ~/.config/bevaka/client.key` and the
 * administrator's server.pub put them.
 */
void bk_client_opts_default_keys(bk_client_opts_t *o, char *server, char *secret, size_t n)
{
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        char dir[PATH_MAX];

        if (o->server_key || o->secret_key || o->public_key)
                return;
        if (xdg && xdg[0] == '/')
                snprintf(dir, sizeof(dir), "%s/bevaka", xdg);
        else if (home && home[0])
                snprintf(dir, sizeof(dir), "%s/.config/bevaka", home);
        else
                return;
        if ((size_t)snprintf(server, n, "%.*s/server.pub", (int)(n - 16), dir) >= n ||
            (size_t)snprintf(secret, n, "%.*s/client.key", (int)(n - 16), dir) >= n || access(server, R_OK) != 0)
                return;
        o->server_key = server;
        o->secret_key = secret;
}
