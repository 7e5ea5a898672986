/*
 * zap.h owns who a peer is and what it may subscribe to, as pure functions
 * over bytes so that they can be unit-tested and fuzzed without sockets:
 * the ZAP handler's decision (RFC 27: a request's frames in, a reply's
 * frames out, against the key list), the identity a peer's message metadata
 * stands for (its ZAP User-Id and the X-Bevaka-Key property the handler put
 * there), and the subscription authorizer of protocol §2 (a caseworker may
 * subscribe to its own topic, a lead to its units' topics, an admin to any
 * prefix). bus.c does the socket work around them.
 */
#pragma once

#include "keys.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "bevaka"
/* ZAP metadata property carrying the peer's Z85 key into every message it sends. */
#define ZAP_META_KEY "X-Bevaka-Key"
#define ZAP_REPLY_FRAMES 6

typedef struct zap_frame {
        const uint8_t *data;
        size_t size;
} zap_frame_t;

typedef enum zap_status {
        ZAP_OK = 200,           /* the key is in the list */
        ZAP_DENIED = 400,       /* unknown or quarantined key, or not CURVE */
        ZAP_FAILED = 500,       /* the request itself is malformed */
} zap_status_t;

typedef struct zap_reply {
        zap_status_t status;
        /* version, request id, status code, status text, user id, metadata; point into *this or the request */
        zap_frame_t frames[ZAP_REPLY_FRAMES];
        const keys_entry_t *entry;              /* ZAP_OK: the key's entry */
        char fingerprint[KEYS_FP_LEN + 1];      /* "" when the request held no key */
        char address[64];                       /* the peer's address, printable ASCII only */
        const char *reason;                     /* status text, also for the log */
        char code[4];
        uint8_t meta[1 + sizeof(ZAP_META_KEY) + 4 + KEYS_Z85_LEN];
} zap_reply_t;

/*
 * Decides one ZAP request (frames as received, n of them). Always fills a
 * reply: a REP socket must answer every request, and libzmq fails a
 * handshake whose reply is not 200.
 */
void zap_handle(const keys_t *keys, const zap_frame_t *req, size_t n, zap_reply_t *out);

/*
 * The identity behind a message's metadata, from the key list as it is
 * now: the key must still be listed, not quarantined, and still belong to
 * `user_id` (a key moved to another user is not the same grant). false and
 * ROLE_NONE otherwise. Either string may be NULL (no such property).
 */
bool zap_identity(const keys_t *keys, const char *user_id, const char *key_z85, acl_identity_t *who);

typedef enum zap_sub {
        ZAP_SUB_IGNORE = 0,     /* not a subscription message at all */
        ZAP_SUB_GRANT,
        ZAP_SUB_REFUSE,
        ZAP_SUB_CANCEL,         /* an unsubscription: applied as asked, it only takes away */
} zap_sub_t;

/*
 * A message read from the XPUB (1 or 0, then the prefix) from a peer with
 * identity `who` (NULL: none), decided by acl_may_subscribe().
 */
zap_sub_t zap_subscription(const acl_identity_t *who, const uint8_t *msg, size_t len);
