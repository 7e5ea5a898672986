/*
 * bus.h owns the daemon's ZeroMQ sockets and is the only daemon file that
 * includes zmq.h: per configured feed a SUB (live events and heartbeats)
 * and a DEALER (replay requests to the adapter's ROUTER), the XPUB that
 * publishes reminders, the ROUTER that serves the API, and with CURVE the
 * ZAP handler (a REP socket at inproc://zeromq.zap.01 served from the
 * loop's own poll) and the key list it answers from. Every socket gets
 * ZMQ_MAXMSGSIZE, finite HWMs, heartbeats and linger. Without CURVE,
 * binding anything but ipc://, inproc:// or a loopback tcp:// address is
 * refused. docs/security.md explains the mechanisms.
 */
#pragma once

#include "config.h"
#include "keys.h"

typedef struct bus bus_t;

/* Receive HWM of a feed's SUB and DEALER (messages): what ZeroMQ may queue for the daemon. */
#define BUS_FEED_RCVHWM 5000

typedef enum bus_kind {
        BUS_NONE = 0,
        BUS_EVENT,          /* [type][event] from a feed (live or replay) */
        BUS_HEARTBEAT,      /* [feed.heartbeat][{"op":"heartbeat",...}] */
        BUS_REPLAY_END,     /* one frame {"op":"replay_end",...} on a replay socket */
        BUS_BAD,            /* wrong frame count etc.: body holds what arrived, reason says why */
} bus_kind_t;

typedef struct bus_msg {
        bus_kind_t kind;
        int feed;                       /* index into cfg->feeds */
        bool replay;                    /* arrived on the replay socket */
        char type[EV_TYPE_MAX + 1];     /* first frame (truncated) */
        const char *body;               /* valid until the next bus_recv_* call */
        size_t len;
        const char *reason;             /* BUS_BAD only */
} bus_msg_t;

typedef struct bus_peer {
        unsigned char rid[256];
        size_t rid_len;
        bool req_envelope;              /* a REQ peer: reply with an empty delimiter */
        char user[EV_NAME_MAX + 1];     /* ZAP user id; "" without CURVE */
        char key[KEYS_Z85_LEN + 1];     /* the peer's public key (ZAP metadata); "" without CURVE */
} bus_peer_t;

/* Security counters since start, for the stats op. */
typedef struct bus_stats {
        uint64_t handshakes_allowed;
        uint64_t handshakes_refused;
        uint64_t subscriptions_granted;
        uint64_t subscriptions_refused;
        uint64_t protocol_violations;   /* non-subscription messages on the XPUB */
        uint64_t resets;                /* bound sockets recreated: revocation or violation */
} bus_stats_t;

/*
 * err gets a one-line reason on failure (bad endpoint, bind refused, a key
 * file or the key list unreadable). With CURVE the key list is loaded here.
 */
int bus_open(const config_t *cfg, bus_t **out, char *err, size_t err_size);
void bus_close(bus_t **b);

/*
 * Waits up to timeout_ms for input on any socket or on extra_fd (the
 * signalfd). Returns the number of ready items, 0 on timeout, -errno.
 * *extra_ready tells whether extra_fd is readable.
 */
int bus_wait(bus_t *b, int timeout_ms, int extra_fd, bool *extra_ready);

/* Non-blocking receives: 0 with *m filled, BK_E_NOT_FOUND when nothing is waiting. */
int bus_recv_feed(bus_t *b, int feed, bus_msg_t *m);
int bus_recv_replay(bus_t *b, int feed, bus_msg_t *m);
/* API request: body/len in *m (kind BUS_EVENT), peer identity in *peer. */
int bus_recv_api(bus_t *b, bus_msg_t *m, bus_peer_t *peer);
int bus_reply(bus_t *b, const bus_peer_t *peer, const char *payload, size_t len);
/*
 * Drains subscription messages on the XPUB; returns how many. With CURVE
 * each is authorized (zap_subscription) against the sender's key and
 * granted with ZMQ_SUBSCRIBE or refused, logged and counted. granted (when
 * not NULL) is called with each prefix a subscriber was given, so what it may
 * have missed can be offered again (outbox.h).
 */
typedef void (*bus_granted_fn)(void *ud, const char *prefix, size_t len);
int bus_drain_subscriptions(bus_t *b, bus_granted_fn granted, void *ud);
/* The identity of an API peer from the key list as it is now (CURVE only: role none otherwise). */
void bus_identity(const bus_t *b, const bus_peer_t *peer, acl_identity_t *who);
/*
 * Reloads the key list (CURVE only; 0 without). A list that fails to load
 * leaves the running one in place (BK_E_INVALID, logged). When the new
 * list takes anything away, every API and subscriber connection is
 * dropped so that each peer passes the handshake again.
 */
int bus_reload_keys(bus_t *b);
const bus_stats_t *bus_stats(const bus_t *b);

/* Asks feed's adapter to replay source from from_seq, at most max events when max > 0 (protocol §6). */
int bus_replay_request(bus_t *b, int feed, const char *source, int64_t from_seq, int64_t max);
/* Closes and recreates a feed's SUB and DEALER (libzmq won't after a protocol error). */
int bus_feed_reconnect(bus_t *b, int feed);
int bus_publish(bus_t *b, const char *topic, const char *payload, size_t len);
int bus_n_feeds(const bus_t *b);
