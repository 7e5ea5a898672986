/*
 * api.h owns the request API of protocol §3: parsing one request frame,
 * asking acl.c whether the caller's role may call the op (before its
 * arguments are read) and whether it owns what the op touches, running the
 * op against the engine and store, and producing exactly one reply frame,
 * an error reply with a protocol error code for anything malformed. The
 * daemon wraps each call in a batch (engine_begin … engine_commit), which
 * publishes what the engine queued.
 */
#pragma once

#include "acl.h"
#include "engine.h"
#include "indworker.h"

/* The names the ops use; roles and identities are acl.h's. */
typedef acl_role_t api_role_t;
typedef acl_identity_t api_identity_t;

struct bus_stats;

/*
 * What `stats` reports about the feeds, from whoever follows them (the
 * daemon: ingest), so that the API does not depend on the feed side.
 */
typedef struct api_feeds {
        json_t *(*json)(void *arg);                     /* new reference: [{source, last_seq, …}] */
        void (*status)(void *arg, char *buf, size_t n); /* "feeds ok" / "feed 0 silent 12s" */
        json_t *(*endpoints)(void *arg);                /* new reference: [{endpoint, silent, …}] */
        void *arg;
} api_feeds_t;

typedef struct api_ctx {
        const config_t *cfg;
        store_t *store;
        engine_t *engine;
        api_feeds_t feeds;      /* NULL callbacks: no feeds to report */
        bk_clock_t *clock;
        /* `reload`: reloads the configuration and the key list now; 0, or non-zero with why in err;
         * *restart (on 0) the settings that wait for a restart, as an array of names (new ref) */
        int (*reload)(void *arg, json_t **restart, char *err, size_t n);
        void *reload_arg;
        /* set by ops, read and cleared by the daemon */
        bool clock_moved;
        bool wrote;             /* the op changed something (ack, snooze, dismiss, clock) */
        bool purged;            /* the op deleted data: the WAL is to be emptied after the commit */
        const struct bus_stats *security;      /* handshake and subscription counters for stats; NULL: none */
        /* indicators: computed off the loop by this worker (NULL: in place), answered later to the
         * requester's reply address, which the daemon sets before each call */
        indworker_t *indicators;
        const void *peer;
        size_t peer_len;
} api_ctx_t;

/* Handles one request; returns the reply text (malloc'd), or NULL when out of memory or when the
 * answer comes later (an `indicators` request queued on ctx->indicators: see indworker_drain). */
char *api_handle(api_ctx_t *ctx, const api_identity_t *who, const char *body, size_t len);
/* A reply's text: ok with out's members (stolen), or the error; req echoed as api_handle does. */
char *api_reply_text(json_t *req_id, const char *err_code, const char *err_msg, json_t *out);
