/*
 * indworker.h owns the thread that computes indicators for the API off the
 * daemon's loop: over all units they take a second or two on a city-sized
 * store, and the loop must never stall that long (docs/indicators.md,
 * "Performance"). The worker reads through its own read-only connection
 * (store_open_reader), so it sees committed snapshots and never blocks the
 * writer; the loop queues a request with the requester's reply address and
 * later collects the answer, in its own thread, to send it.
 */
#pragma once

#include "indicators.h"

typedef struct indworker indworker_t;

/*
 * Starts the thread over the store file at path. wake(ud) is called from the
 * worker's thread each time an answer is ready (the daemon raises a signal
 * its loop waits on). 0, BK_E_INVALID for an in-memory store (no second
 * connection can see it: the caller computes in place), or -errno.
 */
int indworker_start(const char *path, void (*wake)(void *ud), void *ud, indworker_t **out);
/* Stops the thread; queued requests are dropped unanswered. */
void indworker_stop(indworker_t **w);

#define INDWORKER_PEER_MAX 512
#define INDWORKER_QUEUE_MAX 16

/* Queues a request; query, cfg, req_id and peer are copied. 0, or BK_E_CONFLICT when the queue is full. */
int indworker_submit(indworker_t *w, const ind_query_t *q, const rules_cfg_t *cfg, json_t *req_id,
                     const void *peer, size_t peer_len);

/* One answer: out (the indicators) or an error code and message, for req_id, to peer. */
typedef struct indworker_answer {
        const void *peer;
        size_t peer_len;
        json_t *req_id;                 /* may be NULL */
        json_t *out;                    /* NULL on error */
        const char *err_code, *err_msg;
} indworker_answer_t;

/* Hands every finished answer to fn, in the caller's thread, oldest first. Returns how many. */
int indworker_drain(indworker_t *w, void (*fn)(void *ud, const indworker_answer_t *a), void *ud);
