/*
 * ingest.h owns the feed side of protocol §1: per-source sequencing
 * (duplicates dropped, gaps repaired by replay, never out of order),
 * heartbeats, silence detection and reconnects, and the dead-letter path
 * for everything that fails validation. It runs inside the daemon's batch
 * transaction and hands valid events to the engine. It owns no socket and
 * reads no monotonic clock: every call is given the time, says what became
 * of the message, and queues the bus requests (replay from seq N, reconnect
 * a feed) that the daemon then performs.
 */
#pragma once

#include "bus.h"
#include "engine.h"

typedef struct ingest ingest_t;

/* What became of one message. */
typedef enum ingest_outcome {
        INGEST_NONE = 0,        /* a control message (heartbeat, replay end): nothing stored */
        INGEST_APPLIED,         /* in sequence, handed to the engine, position advanced */
        INGEST_DUPLICATE,       /* seq already applied, or the same event id under a new seq */
        INGEST_GAP,             /* ahead of the next seq: dropped, a replay asked for */
        INGEST_DEAD_LETTER,     /* stored with its reason; position advanced when it had one */
} ingest_outcome_t;

typedef struct ingest_verdict {
        ingest_outcome_t outcome;
        char reason[256];                       /* INGEST_DEAD_LETTER */
        char source[EV_SOURCE_MAX + 1];         /* the message's position: "" and 0 when it has none */
        int64_t seq;
} ingest_verdict_t;

/* What ingest needs from the bus; the daemon performs it (bus_replay_request, bus_feed_reconnect). */
typedef enum ingest_request_kind { INGEST_REPLAY = 1, INGEST_RECONNECT } ingest_request_kind_t;

typedef struct ingest_request {
        ingest_request_kind_t kind;
        int feed;
        char source[EV_SOURCE_MAX + 1];         /* INGEST_REPLAY: ask this source's log … */
        int64_t from_seq;                       /* … from this seq */
} ingest_request_t;

int ingest_new(const config_t *cfg, store_t *store, engine_t *engine, const bk_clock_t *clock,
               int64_t now_ms, ingest_t **out);
void ingest_free(ingest_t **in);
/* At start (and after a rollback): ask every feed to replay from our stored positions. */
void ingest_resume(ingest_t *in, int64_t now_ms);
/* Handles one message from a feed socket at monotonic time now_ms; -errno only for store failures. */
int ingest_handle(ingest_t *in, const bus_msg_t *m, int64_t now_ms, ingest_verdict_t *v);
/* Silence checks, replay timeouts; call once per loop turn. */
void ingest_tick(ingest_t *in, int64_t now_ms);
/* The bus requests queued since the last clear, oldest first. */
const ingest_request_t *ingest_requests(const ingest_t *in, int *n);
void ingest_requests_clear(ingest_t *in);
/* True while a replay is outstanding or the adapter has events we have not applied yet
 * (time-driven rules and deliveries wait until caught up). */
bool ingest_catching_up(const ingest_t *in);
/* {source, last_seq} per known source, plus counters, for stats. */
json_t *ingest_feeds_json(const ingest_t *in);
/* Per feed endpoint: [{"endpoint", "silent", "silences", "reconnects"}, …] (stats, metrics). */
json_t *ingest_endpoints_json(const ingest_t *in);
/* "feeds ok" / "feed 0 silent 12s" for STATUS=. */
void ingest_status(const ingest_t *in, char *buf, size_t n);
