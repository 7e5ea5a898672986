/*
 * ingest.h owns the feed side of protocol §1 as a pure sequencer: per-source
 * positions (duplicates dropped, gaps repaired by replay, never out of
 * order), heartbeats, silence detection and reconnects, and the decision
 * that a message is a dead letter. It owns no socket, no store and no
 * engine, and reads no monotonic clock: every call is given the time and
 * says what became of the message in a verdict (apply this event at this
 * position, duplicate, gap, dead letter with its reason), and queues the
 * bus requests (replay from seq N, reconnect a feed) and counts the gaps
 * and replays; the daemon performs all of it (daemon_apply_verdict).
 */
#pragma once

#include <jansson.h>
#include "bus.h"
#include "clock.h"
#include "event.h"

typedef struct ingest ingest_t;

/* What became of one message. */
typedef enum ingest_outcome {
        INGEST_NONE = 0,        /* a control message (heartbeat, replay end): nothing stored */
        INGEST_APPLY,           /* in sequence: hand v->event to the engine, then store the position */
        INGEST_DUPLICATE,       /* seq already applied: dropped */
        INGEST_GAP,             /* ahead of the next seq: dropped, a replay asked for */
        INGEST_DEAD_LETTER,     /* store v->raw with v->reason; store the position when v->advance */
} ingest_outcome_t;

typedef struct ingest_verdict {
        ingest_outcome_t outcome;
        char reason[256];                       /* INGEST_DEAD_LETTER */
        char source[EV_SOURCE_MAX + 1];         /* the message's position: "" and 0 when it has none */
        int64_t seq;
        bool advance;                           /* the daemon stores source's position at seq */
        event_t event;                          /* INGEST_APPLY: the parsed event */
        const char *raw;                        /* INGEST_DEAD_LETTER: the message's bytes (the bus */
        size_t len;                             /* message's, valid until the next receive) */
} ingest_verdict_t;

/* What ingest needs from the bus; the daemon performs it (bus_replay_request, bus_feed_reconnect). */
typedef enum ingest_request_kind { INGEST_REPLAY = 1, INGEST_RECONNECT } ingest_request_kind_t;

typedef struct ingest_request {
        ingest_request_kind_t kind;
        int feed;
        char source[EV_SOURCE_MAX + 1];         /* INGEST_REPLAY: ask this source's log … */
        int64_t from_seq;                       /* … from this seq, */
        int64_t max;                            /* at most this many (protocol §6: credit) */
} ingest_request_t;

/* Events asked for per replay reply: the next chunk is asked for once this one is judged,
 * so the ZeroMQ queues hold at most one chunk (memory bounded by the feed, not the backlog). */
#define INGEST_REPLAY_CHUNK 2000

/* Gaps seen and replays asked for, not yet added to the store's counters. */
typedef struct ingest_counts {
        int64_t gaps, replays;
} ingest_counts_t;

/* The clock only stamps rate-limited log lines; positions come from ingest_set_position. */
int ingest_new(const config_t *cfg, const bk_clock_t *clock, int64_t now_ms, ingest_t **out);
void ingest_free(ingest_t **in);
/* At start and after a rollback: forget every position, set each stored one, then ingest_resume. */
void ingest_forget_positions(ingest_t *in);
/* -ENOSPC when there are too many sources (the source is then not sequenced). */
int ingest_set_position(ingest_t *in, const char *source, int64_t last_seq);
/* Asks every feed to replay every known source from its position; with watermarks, the sources
 * are taken to send them (until a heartbeat says so, as after a restart). */
void ingest_resume(ingest_t *in, int64_t now_ms, bool watermarks);
/* Judges one message from a feed socket at monotonic time now_ms; the verdict says what to store. */
void ingest_handle(ingest_t *in, const bus_msg_t *m, int64_t now_ms, ingest_verdict_t *v);
/* Silence checks, replay timeouts; call once per loop turn. */
void ingest_tick(ingest_t *in, int64_t now_ms);
/* The bus requests queued since the last clear, oldest first. */
const ingest_request_t *ingest_requests(const ingest_t *in, int *n);
void ingest_requests_clear(ingest_t *in);
/* The counts since the last call, which zeroes them. */
ingest_counts_t ingest_counts_take(ingest_t *in);
/* True while a replay is outstanding or the adapter has events we have not applied yet
 * (the leads' digests wait until caught up). */
bool ingest_catching_up(const ingest_t *in);
/* The same, or an adapter heard in this run may be sending a history (no heartbeat yet, or a
 * watermark more than delivery.behind_days behind the clock): what decides a go-live import
 * (deliver.h), whose summaries wait until it is over. */
bool ingest_in_history(const ingest_t *in, bk_time_t clock_now_s);
/*
 * Event time (protocol §6): time-driven rules, deliveries and retention run up to this instant,
 * min(clock, every source's watermark); a source without one lets time run to the clock once it
 * has caught up (no replay pending, at the adapter's last_seq), else holds it (INT64_MIN); so
 * does a source whose held watermark is within seconds of wall_now (a live adapter, even while
 * a replay's end is on its way).
 * A source that sends watermarks publishes in `at` order, so an event being applied moves its
 * source's event time to just before its `at`. Before any source is heard (a new store) it
 * holds too: the first adapter's history may be on its way.
 */
bk_time_t ingest_time_limit(const ingest_t *in, bk_time_t clock_now, bk_time_t wall_now);
bool ingest_has_watermarks(const ingest_t *in);
/* The daemon's store is full: replay requests back off further and STATUS= says so. */
void ingest_set_store_full(ingest_t *in, bool full);
/* {source, last_seq} per known source, plus counters, for stats. */
json_t *ingest_feeds_json(const ingest_t *in, bk_time_t wall_now_s);
/* Per feed endpoint: [{"endpoint", "silent", "silences", "reconnects"}, …] (stats, metrics). */
json_t *ingest_endpoints_json(const ingest_t *in);
/* "1 feeds ok" / "1 of 2 feeds silent", then ", source S stuck at seq N", ", store full" (STATUS=). */
void ingest_status(const ingest_t *in, char *buf, size_t n);
