/*
 * outbox.h owns at-least-once publishing across a crash. A message gets its
 * rseq and its outbox row in the transaction that made it and is handed to
 * the bus only after that transaction commits (engine.h), so a kill -9
 * between the commit and the send (or while libzmq still queues it) would
 * lose it for every subscriber that does not `sync`. The store therefore
 * keeps a published-up-to mark (CNT_PUBLISHED): it is advanced, inside a
 * later batch, to what was handed to the bus at least OUTBOX_SETTLE_MS
 * earlier, at most once per OUTBOX_SETTLE_MS, so it costs one counter write
 * per interval and nothing per message. At start every outbox message above
 * the mark is the "tail" that may not have been sent: for OUTBOX_TAIL_MS,
 * each subscription a subscriber is granted (its reconnect) has the tail's
 * messages on its prefix published again, in rseq order. Clients drop an
 * rseq they have seen (protocol §3), so a message sent twice shows once.
 */
#pragma once

#include "engine.h"
#include "store.h"

#define OUTBOX_SETTLE_MS 1000   /* libzmq has had this long to put a message on the wire */
#define OUTBOX_TAIL_MS 30000    /* subscribers reconnect within this after a restart */

typedef struct outbox outbox_t;

/* Reads the mark and the last rseq from the store: what lies between is the tail (logged). */
int outbox_new(store_t *s, int64_t now_ms, outbox_t **out);
void outbox_free(outbox_t **o);
/* The engine handed every message up to rseq to the bus at now_ms (after a commit). */
void outbox_sent(outbox_t *o, int64_t rseq, int64_t now_ms);
/* Inside an open batch: moves the stored mark to what has settled; not while the tail is offered. */
void outbox_settle(outbox_t *o, int64_t now_ms);
/* A subscription was granted (bus_granted_fn): its prefix gets the tail at the next offer. */
void outbox_subscribed(void *o, const char *prefix, size_t len);
/*
 * Outside a batch: publishes the tail's messages on the prefixes granted since the last call,
 * through fn; once OUTBOX_TAIL_MS have passed, the tail counts as offered and the mark may move
 * past it. Returns how many messages it published, or -errno (the store's).
 */
int outbox_offer(outbox_t *o, int64_t now_ms, engine_publish_fn fn, void *ud);
/* True while the tail is being offered (OUTBOX_TAIL_MS after a start that found one). */
bool outbox_offering(const outbox_t *o);
/*
 * At a clean stop, after the bus closed (its linger flushed what it held): everything handed to
 * the bus counts as published, so the next start offers nothing again. One transaction.
 */
int outbox_stop(outbox_t *o);
