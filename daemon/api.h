/*
 * api.h owns the request API of protocol §3: parsing one request frame,
 * checking the caller's role and ownership, running the op against the
 * engine and store, and producing exactly one reply frame, an error reply
 * with a protocol error code for anything malformed. The daemon wraps each
 * call in a store transaction and publishes what the engine queued.
 */
#pragma once

#include "engine.h"
#include "ingest.h"

typedef enum api_role { ROLE_NONE = 0, ROLE_FEED, ROLE_CASEWORKER, ROLE_LEAD, ROLE_ADMIN } api_role_t;

#define API_MAX_UNITS 16

typedef struct api_identity {
        char user[EV_NAME_MAX + 1];
        api_role_t role;
        int n_units;
        char units[API_MAX_UNITS][EV_NAME_MAX + 1];
} api_identity_t;

typedef struct api_ctx {
        const config_t *cfg;
        store_t *store;
        engine_t *engine;
        ingest_t *ingest;
        bk_clock_t *clock;
        /* set by ops, read and cleared by the daemon */
        bool reload_requested;
        bool clock_moved;
        bool wrote;             /* the op changed something (ack, snooze, dismiss, clock) */
        bool purged;            /* the op deleted data: the WAL is to be emptied after the commit */
        const bus_stats_t *security;      /* handshake and subscription counters for stats; NULL: none */
} api_ctx_t;

const char *api_role_name(api_role_t r);
int api_role_from_name(const char *name);     /* -1 if unknown */
/* Handles one request; returns the reply text (malloc'd, never NULL unless out of memory). */
char *api_handle(api_ctx_t *ctx, const api_identity_t *who, const char *body, size_t len);
/* Whether `who` may read topic (exact "rem/<unit>/<caseworker>/" or "rem/<unit>/@leads/"). */
bool api_may_read_topic(const api_identity_t *who, const char *topic);
