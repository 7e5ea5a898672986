/*
 * ingest.h owns the feed side of protocol §1: per-source sequencing
 * (duplicates dropped, gaps repaired by replay, never out of order),
 * heartbeats, silence detection and reconnects, and the dead-letter path
 * for everything that fails validation. It runs inside the daemon's batch
 * transaction and hands valid events to the engine.
 */
#pragma once

#include "bus.h"
#include "engine.h"

typedef struct ingest ingest_t;

int ingest_new(const config_t *cfg, store_t *store, engine_t *engine, bus_t *bus,
               const bk_clock_t *clock, ingest_t **out);
void ingest_free(ingest_t **in);
/* At start (and after a rollback): ask every feed to replay from our stored positions. */
void ingest_resume(ingest_t *in);
/* Handles one message from a feed socket; -errno only for store failures. */
int ingest_handle(ingest_t *in, const bus_msg_t *m);
/* Silence checks, replay timeouts; call once per loop turn. */
void ingest_tick(ingest_t *in);
/* True while a replay is outstanding or the adapter has events we have not applied yet
 * (time-driven rules and deliveries wait until caught up). */
bool ingest_catching_up(const ingest_t *in);
/* {source, last_seq} per known source, plus counters, for stats. */
json_t *ingest_feeds_json(const ingest_t *in);
/* Per feed endpoint: [{"endpoint", "silent", "silences", "reconnects"}, …] (stats, metrics). */
json_t *ingest_endpoints_json(const ingest_t *in);
/* "feeds ok" / "feed 0 silent 12s" for STATUS=. */
void ingest_status(const ingest_t *in, char *buf, size_t n);
