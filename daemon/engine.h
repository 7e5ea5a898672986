/*
 * engine.h owns what happens to a valid event and to reminders: it stores
 * the event, runs the rules on the case's state, turns the rules' actions
 * into reminder rows and lifecycle transitions (domain.md §5), delivers
 * reminders whose moment has come, and queues every message to publish.
 * All of it runs inside the caller's store transaction; queued messages are
 * handed to the bus only after that transaction commits, so nothing is
 * published that a crash could take back.
 */
#pragma once

#include "clock.h"
#include "config.h"
#include "store.h"

typedef struct engine engine_t;

typedef struct engine_msg {
        int64_t rseq;
        char *topic;
        char *payload;
} engine_msg_t;

/* Hands one committed message to the bus (or a test): topic and payload are valid during the call. */
typedef void (*engine_publish_fn)(void *ud, const char *topic, const char *payload);

int engine_new(const config_t *cfg, store_t *store, const bk_clock_t *clock, engine_t **out);
void engine_free(engine_t **e);

/* Rebuild mode: events come from the store's own log and are not stored again. */
void engine_set_rebuild(engine_t *e, bool on);
/* Keeps at most n decoded case states (default and maximum: CACHE_MAX in engine.c); for tests,
 * which evict all the time to show that the cache never changes a result. */
void engine_set_cache_limit(engine_t *e, size_t n);
/* Stores one valid event in its normalised form (event_normalize(): never the bytes as they
 * arrived) and applies it. 0, or BK_E_DUPLICATE (id already stored), or -errno. An event of a
 * case purged by engine_purge_case() at or before its `at` is dropped: 0, counted. */
int engine_apply_event(engine_t *e, const event_t *ev);
/* Delivers up to max reminders whose deliver_at has come. Returns how many. */
int engine_deliver_due(engine_t *e, int max);
/* What ingest says before each batch: replaying (behind the adapter's position: the leads'
 * digests wait) and history (that, or an adapter that may be sending a history: a go-live is
 * detected with it, and its summaries wait until it is over; deliver.h). */
void engine_set_catching_up(engine_t *e, bool replaying, bool history);
/* Sends the leads' digests when a day's round is due (deliver.h). How many, or -errno. */
int engine_digest_due(engine_t *e);
/* Runs time-driven rules for up to max cases whose wake day has come. Returns how many. */
int engine_wake_cases(engine_t *e, int max);
/* Earliest instant at which deliver_due or wake_cases has work; INT64_MAX if none. */
bk_time_t engine_next_deadline(engine_t *e);

/* Lifecycle ops from the API (recipient checks are the caller's). */
int engine_ack(engine_t *e, const char *id, reminder_t *out);
int engine_snooze(engine_t *e, const char *id, bk_time_t until, reminder_t *out);
int engine_dismiss(engine_t *e, const char *id, const char *reason, reminder_t *out);

/*
 * A batch: engine_begin() opens the store transaction and gives the batch
 * its time (read once from the clock by the caller); every write the batch
 * makes is stamped with it. engine_set_now() moves it when the manual clock
 * is set inside a batch (the API's `clock` op).
 */
int engine_begin(engine_t *e, bk_time_t now);
void engine_set_now(engine_t *e, bk_time_t now);
/*
 * The one commit protocol. With res >= 0: writes the cached case states,
 * commits the store, then hands the queued messages to publish_fn in order.
 * With res < 0, or when either step fails: rolls the store back and forgets
 * the queued messages and cached states. Returns 0 or the failure.
 */
int engine_commit(engine_t *e, int res, engine_publish_fn publish_fn, void *ud);
/* The highest rseq engine_commit has handed to a publish_fn so far (0: none), for the
 * published-up-to mark (outbox.h). */
int64_t engine_sent(const engine_t *e);
/*
 * Retention (gallring, docs/privacy.md). engine_purge_case deletes one case now (its state,
 * events and reminders; a tombstone keeps its old events from coming back). engine_purge_due
 * deletes at most `max` of each kind that retention says are due at the engine's time: closed
 * cases past closed_case_months, closed reminders past reminder_months, published messages past
 * the shorter of the two; engine_purge_dead_letters dead letters past dead_letter_days or beyond
 * dead_letter_max. Each adds what went to *n and to the counters.
 */
int engine_purge_case(engine_t *e, const char *case_id, store_purged_t *n);
int engine_purge_due(engine_t *e, const retention_cfg_t *ret, int max, store_purged_t *n);
int engine_purge_dead_letters(engine_t *e, const retention_cfg_t *ret, int max, store_purged_t *n);
/* Case view for the API: NULL if unknown. */
json_t *engine_case_view(engine_t *e, const char *case_id);
