/*
 * bevaka/client.h is the public client library of bevaka: what a program
 * needs to talk to bevakad (protocol.md §2–§4). It owns two connections,
 * a DEALER to the API (one JSON request, one JSON reply, matched by a `req`
 * correlation id) and a SUB to the reminder stream, and it implements the
 * client half of the Clone pattern on top of them: subscribe, then `sync`,
 * then live messages, with periodic re-syncs that keep the client's view of
 * its topics equal to the daemon's. bevakactl and bevaka-notify are written
 * on this header alone; the library is built into the core static library
 * and installed with a pkg-config file (bevaka-client.pc).
 *
 * Errors follow the code base's convention: 0 is success, a negative
 * -errno is a failure (-ETIMEDOUT: no reply in time, the daemon is down or
 * unreachable; -EPROTO: the reply is not a protocol reply; -EINVAL: bad
 * arguments), and the positive BK_CLIENT_E_REPLY is the expected outcome
 * "the daemon answered ok:false", whose reply object is still handed over so
 * the caller can read error.code and error.message.
 *
 * One client is used from one thread. It owns its own ZeroMQ context.
 *
 * ---- Why follow() re-syncs instead of detecting gaps -------------------------
 *
 * protocol.md §3 says "a gap in rseq on its topic's stream means: sync
 * again". But rseq is global: the daemon adds one per message on *any*
 * topic, so the messages one subscriber sees on its topic are normally
 * 5, 9, 10, 31, … and a hole in that series says nothing. A lost message
 * (the daemon's XPUB drops past its high-water mark; a TCP connection dies
 * and is re-established by libzmq without telling the application; the
 * subscription reaches the daemon a moment after the `sync` did) is
 * therefore invisible in rseq alone. What the client can know is the
 * daemon's authoritative state: `sync` returns every open, delivered
 * reminder of the topic and the rseq at which that list was true. So the
 * client
 *   - subscribes first, then syncs, and drops live messages whose rseq is
 *     at or below the snapshot's (they are already in it);
 *   - syncs again every `resync_interval_ms` (default 30 s), at once after
 *     the SUB connection is re-established (seen on a socket monitor: the
 *     daemon restarted, or the network came back), and once more a second
 *     after each of those, because the subscription and the `sync` travel
 *     on different connections and the subscription may arrive last;
 *   - treats each snapshot as the truth: a reminder the client thought
 *     open that the snapshot no longer lists was closed while the client
 *     was not listening (BK_EVENT_CLOSED), and one listed that the client
 *     did not know, or knew with another deliver_at or state, is reported
 *     again (BK_EVENT_DUE with from_snapshot).
 * A lost message thus costs at most one re-sync interval of delay, never a
 * lost or a stuck reminder.
 *
 * ---- Events -------------------------------------------------------------------
 *
 * bk_client_next() returns one event at a time, in order:
 *
 *   BK_EVENT_SNAPSHOT_BEGIN   a sync of ev->topic starts (ev->rseq: its rseq)
 *   BK_EVENT_DUE              show the reminder (live "due", or listed in a
 *                             snapshot: then from_snapshot is true and the
 *                             reminder carries "state": delivered,
 *                             acknowledged or snoozed)
 *   BK_EVENT_RESOLVED, BK_EVENT_CANCELLED, BK_EVENT_REROUTED
 *                             live closing messages: remove the reminder
 *   BK_EVENT_CLOSED           (only inside a snapshot) the reminder is no
 *                             longer open on the topic; why is not known
 *   BK_EVENT_SNAPSHOT_END     the sync of ev->topic is complete
 *   BK_EVENT_MESSAGE          (only with opts.messages) a live message on
 *                             the topic whose op is none of the above: a
 *                             `digest` (protocol §6) or an op a newer
 *                             daemon added; ev->reminder is the whole
 *                             message, which need not have an "id"
 *
 * The first sync of a topic lists every open reminder; later re-syncs list
 * only differences from what the client has already reported (new, changed
 * deliver_at or state, closed), and a re-sync with no differences produces
 * no events at all, so a program may treat every BK_EVENT_DUE as news.
 * Snapshot entries look like the published messages (op "due"), plus
 * "state"; their "rseq" is the snapshot's.
 *
 * ---- Integrating with another poll loop ---------------------------------------
 *
 * bk_client_next(c, &ev, 0) never waits for the stream (it may block for a
 * sync request, up to the request timeout). A program with its own loop
 * (a D-Bus connection, a signalfd) adds the items of bk_client_pollitems()
 * to its zmq_poll(), bounds the poll timeout by bk_client_timeout(), and
 * after every poll calls bk_client_next(c, &ev, 0) until it returns 0.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <zmq.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The daemon replied {"ok": false, "error": {...}}. Positive: an expected outcome. */
#define BK_CLIENT_E_REPLY 1

typedef struct bk_client bk_client_t;

typedef struct bk_client_opts {
        const char *api_endpoint;       /* e.g. "ipc://bevaka-api.sock"; NULL: no requests */
        const char *pub_endpoint;       /* e.g. "ipc://bevaka-pub.sock"; NULL: no follow */
        /*
         * CURVE (protocol §4). Each is a Z85 key (40 characters) or the path
         * of a file holding one: a bare key, or a czmq certificate
         * (public-key = "…" / secret-key = "…"). server_key turns CURVE on
         * and then needs secret_key; public_key may be omitted when it can
         * be derived from the secret key.
         */
        const char *server_key;
        const char *public_key;
        const char *secret_key;
        int request_timeout_ms;         /* helpers and internal syncs; 0 = 5000 */
        int resync_interval_ms;         /* 0 = 30000; < 0 = only on reconnect */
        int reconnect_ivl_ms;           /* ZMQ_RECONNECT_IVL; 0 = 100 */
        int reconnect_ivl_max_ms;       /* ZMQ_RECONNECT_IVL_MAX (backoff cap); 0 = 5000 */
        int heartbeat_ivl_ms;           /* ZMQ_HEARTBEAT_IVL; 0 = 5000 */
        int heartbeat_timeout_ms;       /* ZMQ_HEARTBEAT_TIMEOUT and _TTL; 0 = 15000 */
        int64_t max_msg_size;           /* ZMQ_MAXMSGSIZE on the SUB; 0 = 65536 */
        int64_t max_reply_size;         /* ZMQ_MAXMSGSIZE on the DEALER; 0 = 64 MiB */
        /*
         * Report live messages with another op than due/resolved/cancelled/
         * rerouted as BK_EVENT_MESSAGE. Off by default: a program written
         * before that event kind existed keeps seeing only reminders.
         */
        bool messages;
} bk_client_opts_t;

/*
 * Creates the client and starts connecting (asynchronously: a daemon that
 * is not up yet is not an error). NULL with errno set (EINVAL for a bad
 * endpoint or key, ENOENT for a missing key file, ENOMEM).
 */
bk_client_t *bk_client_new(const bk_client_opts_t *opts);

/*
 * When opts names no key at all, points it at the user's own keys:
 * $XDG_CONFIG_HOME/bevaka/server.pub and client.key (else ~/.config/bevaka/),
 * if server.pub exists. server and secret are the caller's buffers of n bytes.
 */
void bk_client_opts_default_keys(bk_client_opts_t *opts, char *server, char *secret, size_t n);
void bk_client_destroy(bk_client_t **self_p);

/* ---- API requests (protocol §3) ---------------------------------------------- */

/*
 * Sends `req` (borrowed, not modified; a "req" member is added to the copy
 * that is sent) and waits up to timeout_ms (< 0: the default) for the reply
 * with the same "req"; replies to earlier, abandoned requests are dropped.
 * Returns 0 (ok:true), BK_CLIENT_E_REPLY (ok:false), -ETIMEDOUT, -EPROTO
 * or another -errno. *reply (may be NULL) gets a new reference for 0 and
 * BK_CLIENT_E_REPLY, NULL otherwise. A request is only handed to a live
 * connection, so one that times out before the daemon is reachable is never
 * executed later; after a timeout the socket is replaced (lazy pirate), so a
 * dead connection cannot wedge the client.
 */
int bk_client_request(bk_client_t *c, json_t *req, json_t **reply, int timeout_ms);

/* Helpers with the default timeout; same returns as bk_client_request. */
int bk_client_hello(bk_client_t *c, json_t **reply);
int bk_client_sync(bk_client_t *c, const char *topic, int64_t since_rseq, json_t **reply);
int bk_client_ack(bk_client_t *c, const char *id, json_t **reply);
/* until: RFC 3339, or NULL for the daemon's default (next working day 08:00). */
int bk_client_snooze(bk_client_t *c, const char *id, const char *until, json_t **reply);
int bk_client_dismiss(bk_client_t *c, const char *id, const char *reason, json_t **reply);
int bk_client_why(bk_client_t *c, const char *id, json_t **reply);

/* error.code / error.message of a reply, or NULL when it has none. */
const char *bk_reply_error_code(const json_t *reply);
const char *bk_reply_error_message(const json_t *reply);

/* ---- Following topics (protocol §2, the Clone pattern) ---------------------- */

typedef enum bk_event_kind {
        BK_EVENT_SNAPSHOT_BEGIN = 1,
        BK_EVENT_SNAPSHOT_END,
        BK_EVENT_DUE,
        BK_EVENT_RESOLVED,
        BK_EVENT_CANCELLED,
        BK_EVENT_REROUTED,
        BK_EVENT_CLOSED,
        BK_EVENT_MESSAGE,
} bk_event_kind_t;

typedef struct bk_event {
        bk_event_kind_t kind;
        const char *topic;              /* the followed topic */
        json_t *reminder;               /* NULL for SNAPSHOT_BEGIN/END; the whole message for MESSAGE */
        int64_t rseq;                   /* the message's rseq, or the snapshot's */
        bool from_snapshot;             /* DUE/CLOSED reported by a sync, not a live message */
} bk_event_t;

/* "due", "snapshot_begin", … */
const char *bk_event_kind_name(bk_event_kind_t kind);

/*
 * Follows `topic` ("rem/<unit>/<caseworker>/" or "rem/<unit>/@leads/"):
 * subscribes, waits up to the request timeout for the SUB connection, then
 * syncs with since_rseq (the last rseq the program saw, 0 if none) and
 * queues the snapshot for bk_client_next(). Needs both endpoints. Returns
 * 0, -EINVAL (bad topic, an endpoint missing), -EEXIST (already followed),
 * -EACCES (the daemon refused our CURVE key), or the sync's failure
 * (-ETIMEDOUT, BK_CLIENT_E_REPLY such as forbidden, …). The topic stays
 * followed after a failed sync: the client keeps retrying it, and the
 * snapshot arrives through bk_client_next() when the daemon answers.
 */
int bk_client_follow(bk_client_t *c, const char *topic, int64_t since_rseq);

/*
 * Waits up to timeout_ms (< 0: forever) for the next event. Returns 1 and
 * fills *ev (ev->reminder is borrowed until the next call or destroy), 0 on
 * timeout, or -errno (-EINTR when a signal interrupted the wait). Re-syncs
 * that are due run inside this call.
 */
int bk_client_next(bk_client_t *c, bk_event_t *ev, int timeout_ms);

/* Asks for a re-sync of every followed topic at the next bk_client_next(). */
void bk_client_resync(bk_client_t *c);

/* Highest rseq seen on a followed topic (snapshot or live); 0 if none. */
int64_t bk_client_rseq(const bk_client_t *c, const char *topic);

/* ZMQ_POLLIN items to poll (at most 2); returns how many were written. */
int bk_client_pollitems(bk_client_t *c, zmq_pollitem_t *items, int max);
/* Milliseconds until the client has timed work (a re-sync), -1 if none. */
int bk_client_timeout(const bk_client_t *c);

#ifdef __cplusplus
}
#endif
