/*
 * store.h owns persistence: the only module that holds a sqlite3 handle.
 * One SQLite file in WAL mode with secure_delete on; schema version in PRAGMA
 * user_version with ordered, transactional migrations; every statement
 * prepared once. The event log holds each event in its normalised form
 * (event_normalize(): never the bytes as they arrived; state can be rebuilt
 * from it); cases keep the rules engine's state; reminders their lifecycle;
 * the outbox every message published, in rseq order. Retention deletes
 * (gallring) are here too, with the tombstones of purged cases.
 */
#pragma once

#include <jansson.h>
#include "event.h"
#include "reminder.h"

#define STORE_SCHEMA_VERSION 7

typedef struct store store_t;

typedef enum ev_status { EVS_APPLIED = 0, EVS_IGNORED = 1, EVS_REJECTED = 2 } ev_status_t;

/* Counters kept in the meta table (stats). */
typedef enum store_counter {
        CNT_APPLIED = 0, CNT_DUPLICATES, CNT_DEAD_LETTERS, CNT_IGNORED,
        CNT_GAPS, CNT_REPLAYS, CNT_RSEQ,
        CNT_FACTS,                        /* the last indicator fact's seq */
        CNT_MASKED,                       /* personnummer masked in free text */
        CNT_PURGE_RUNS, CNT_PURGE_CASES, CNT_PURGE_EVENTS, CNT_PURGE_REMINDERS, CNT_PURGE_DEAD,
        CNT_PURGE_DROPPED,                /* events of a purged case that came again and were dropped */
        CNT_WAKE_DAY,                     /* the local day up to which cases were woken (event time) */
        CNT_FEED_WATERMARKS,              /* 1 once a feed sent watermarks */
        CNT_PUBLISHED,                    /* every message up to this rseq surely left (outbox.h) */
        CNT_DIGEST_AT,                    /* when the last leads' digest round ran (0: never) */
        CNT_BACKLOG, CNT_EXPIRED, CNT_SUPERSEDED, CNT_SUMMARIES, CNT_DIGESTS,  /* deliver.c */
        CNT_GOLIVE_AT,                    /* the running go-live round's time (0: none; engine.c) */
        CNT_REM_FIRST,                    /* reminders by state: CNT_REM_FIRST + rem_state_t */
        CNT__COUNT = CNT_REM_FIRST + REM__STATE_COUNT
} store_counter_t;

int store_open(const char *path, bool sync_full, store_t **out);
void store_close(store_t **s);
/*
 * A second, read-only connection to the store at path, for a reader in
 * another thread (the indicators' worker): no lock, no migration, no
 * prepared writes; WAL gives it committed snapshots beside the writer.
 * Only the read-only walks (store_facts_each, store_rems_each,
 * store_facts_complete) may be used on it. 0 or -errno.
 */
int store_open_reader(const char *path, store_t **out);
/*
 * WAL checkpoints in a background thread with its own connection instead of
 * inside the writer's commits (the daemon's loop must not stall on them).
 * Stopped by store_close. 0 or -errno; a no-op for an in-memory store.
 */
int store_checkpointer_start(store_t *s);
/* Background checkpoints that copied the whole WAL as it was when they began; -1 when not running. */
int64_t store_checkpoint_runs(store_t *s);
/* No checkpoint running or asked for: the last one began after the last commit that asked. */
bool store_checkpointer_idle(store_t *s);
int store_schema_version(store_t *s);

int store_begin(store_t *s);
int store_commit(store_t *s);
int store_rollback(store_t *s);

/* counters: cached in memory, written with the transaction */
int64_t store_counter(store_t *s, store_counter_t c);
void store_counter_add(store_t *s, store_counter_t c, int64_t n);
/* For the counters that hold a value (a day, a time, an rseq) rather than count. */
void store_counter_set(store_t *s, store_counter_t c, int64_t v);

/* feeds */
int64_t store_feed_last_seq(store_t *s, const char *source);        /* 0 if unknown */
int store_feed_set(store_t *s, const char *source, int64_t last_seq);
/* Calls fn for each known source. */
int store_feeds_each(store_t *s, void (*fn)(void *ud, const char *source, int64_t last_seq), void *ud);

/* events: the event's normalised form (event.h), the envelope as columns and the rest as the
 * body, never bytes as they arrived; BK_E_DUPLICATE when the id is already stored */
int store_event_add(store_t *s, const event_t *ev, ev_status_t status, bk_time_t received_at);
int store_event_set_status(store_t *s, const char *id, ev_status_t status);
/* Calls fn(text, len) with every stored event's normalised form, in arrival order (rebuild). */
int store_events_each(store_t *s, int (*fn)(void *ud, const char *raw, size_t len), void *ud);
/* The id, type and at of one event (why); BK_E_NOT_FOUND. */
int store_event_brief(store_t *s, const char *id, char *type, size_t tn, bk_time_t *at);
/* Stores a dead letter: raw is turned into its minimised, masked form (event_dead_letter_form())
 * here, before anything is written; the bytes as they came never reach the file. */
int store_dead_letter_add(store_t *s, const char *reason, const void *raw, size_t len, bk_time_t received_at);
json_t *store_dead_letters(store_t *s, int limit);
/* Stored dead letters by kind (the reason up to its first ':'): {"envelope.at": 2, …}. */
json_t *store_dead_letter_reasons(store_t *s);

/*
 * cases: state is the rules engine's store form (an opaque blob to the store).
 * get returns a malloc'd copy with a NUL after its len bytes; BK_E_NOT_FOUND.
 */
int store_case_get(store_t *s, const char *case_id, void **state, size_t *len, cal_day_t *wake,
                   char **rems);
/* The same, and the case's closing time (0 while it is open). */
int store_case_load(store_t *s, const char *case_id, void **state, size_t *len, cal_day_t *wake,
                    char **rems, bk_time_t *closed_at);
/* rems: the case's open reminders, as their rows in ascending order, comma-separated ("" none) */
/* closed_at: when the case closed (the closing event's `at`), stored while it is closed and
 * cleared when it opens; the engine says it on every write, so the row does not depend on
 * which of the case's changes a write happens to hold. */
int store_case_put(store_t *s, const char *case_id, const char *unit, const char *caseworker,
                   bool open, cal_day_t wake, const void *state, size_t len, const char *rems,
                   bk_time_t closed_at);
/* The same for a stored case whose wake day stays (its wake index entry is not touched);
 * BK_E_NOT_FOUND if the case is not stored. */
int store_case_update(store_t *s, const char *case_id, const char *unit, const char *caseworker,
                      bool open, const void *state, size_t len, const char *rems, bk_time_t closed_at);
/*
 * The store form of a case's open reminders (the `rems` above): writes rows[0..n) into *buf
 * (grown as needed, *cap its size) and returns it, NULL when out of memory. decode hands each
 * row of a stored list to add, in order; anything that is not a list of rows is dropped from
 * there on (and logged). 0, or what add returned when it failed.
 */
const char *store_rems_encode(const int64_t *rows, int n, char **buf, size_t *cap);
int store_rems_decode(const char *text, int (*add)(void *ud, int64_t row), void *ud);
/* Case ids whose wake day is <= day, at most `max`, oldest wake first. */
int store_cases_waking(store_t *s, cal_day_t day, int max,
                       void (*fn)(void *ud, const char *case_id), void *ud);
cal_day_t store_next_wake(store_t *s);                              /* INT32_MAX if none */
/* Drops the derived state (cases, reminders and their event links, indicator facts) for --rebuild. */
int store_clear_derived(store_t *s);

/* reminders */
int store_rem_get(store_t *s, const char *id, reminder_t *r);       /* BK_E_NOT_FOUND */
/* Inserts a reminder, or updates its owner (unit, caseworker) and lifecycle (deliver_at, state,
 * delivered_at, closed_at, close_reason): the rest of a reminder never changes. */
int store_rem_put(store_t *s, const reminder_t *r);
/* The same, for a caller that knows the stored state, which saves a lookup; -1 says it is new:
 * then one already stored under its id is left as it is and BK_E_DUPLICATE returned. It links the event that made the change (event_id NULL or "": none) to the reminder
 * in the role given ("trigger", "resolve", "cancel", "reroute"); a link is kept once. */
int store_rem_put_from(store_t *s, const reminder_t *r, int old_state, const char *event_id,
                       const char *role);
/* A reminder by its row (a case's rems); BK_E_NOT_FOUND. */
int store_rem_get_row(store_t *s, int64_t row, reminder_t *r);
/* The row of the reminder the last put inserted. */
int64_t store_last_row(store_t *s);
/* Scheduled/snoozed reminders with deliver_at <= now, earliest first. */
int store_rem_due(store_t *s, bk_time_t now, int max, reminder_t **list, int *n);
bk_time_t store_rem_next_delivery(store_t *s);                     /* INT64_MAX if none */
/* Filtered list for the API; NULL/"" filters are ignored, state -1 = open ones. */
typedef struct rem_filter {
        const char *unit, *caseworker, *case_id, *rule;
        int state;                  /* rem_state_t, -1 = any open, -2 = any */
        bool delivered_only;        /* only those delivered at least once */
        int limit;
} rem_filter_t;
int store_rem_query(store_t *s, const rem_filter_t *f, reminder_t **list, int *n);
int store_rem_count_by_state(store_t *s, int64_t counts[REM__STATE_COUNT]);
/* Open reminders with a leads' copy delivered by `until` that no digest has listed yet, by unit,
 * then the most urgent first (the digests, deliver.c). */
int store_rem_leads_undigested(store_t *s, bk_time_t until, reminder_t **list, int *n);
/* Calls fn for each open go-live backlog reminder of a caseworker that no summary has counted
 * yet, by unit and caseworker, most urgent first, one row at a time; then marks them all
 * counted (summarized), in the caller's transaction. fn's non-zero return stops it. */
int store_rem_golive_each(store_t *s, int (*fn)(void *ud, const reminder_t *r), void *ud);
/* The events linked to a reminder (why), in the order they were linked: array of {id, type, at,
 * role}; type and at are "" for an event the log no longer has. */
json_t *store_rem_events(store_t *s, const char *rem_id);

/*
 * Indicator facts (indicators.h says what each kind means): a derived table
 * kept as events are applied, one row per fact, filed under the case's
 * current unit. Never read at apply time; the indicators read a unit's
 * facts (or all units') in one ordered range.
 */
typedef struct store_fact {
        cal_day_t day;
        int kind;
        int64_t a, b;
        char text[EV_REASON_MAX + 1];
} store_fact_t;
int store_fact_add(store_t *s, const char *unit, const char *case_id, const store_fact_t *f);
/* Files every fact of the case under `to` (the case moved from `from`). */
int store_facts_move(store_t *s, const char *case_id, const char *from, const char *to);
/* Deletes every fact of the case (retention, purge: whatever deletes a case's rows calls it too,
 * before the case's own row goes: its unit finds the facts). */
int store_facts_forget(store_t *s, const char *case_id);
/* Calls fn for every fact of unit (NULL: all units), by unit, case and order of arrival;
 * fn returning non-zero stops the walk and is returned. */
int store_facts_each(store_t *s, const char *unit,
                     int (*fn)(void *ud, const char *unit, const char *case_id, const store_fact_t *f),
                     void *ud);
/* False when the store holds events whose facts were never derived (run bevakad --rebuild). */
bool store_facts_complete(store_t *s);
/* Every reminder of unit (NULL: all) due on or before due_until, in its lifecycle's terms. */
typedef struct store_rem_brief {
        int rule;
        const char *case_id, *unit, *caseworker, *close_reason;
        cal_day_t due;
        rem_state_t state;
        bk_time_t created_at, delivered_at, closed_at;
} store_rem_brief_t;
int store_rems_each(store_t *s, const char *unit, cal_day_t due_until,
                    int (*fn)(void *ud, const store_rem_brief_t *r), void *ud);
/* ---- retention (gallring) ---- */
typedef struct store_purged {
        int64_t cases, events, reminders, dead_letters, messages;   /* messages: outbox rows */
} store_purged_t;
/*
 * Deletes a case whole: its state, its events and its reminders (the counts by state follow),
 * and records a tombstone (SHA-256 of the case id, purged_at) so that its old events are not
 * taken again (store_case_purged). Adds what it deleted to *n.
 */
int store_purge_case(store_t *s, const char *case_id, bk_time_t purged_at, store_purged_t *n);
/* Ids of closed cases whose closing time is before `before`, oldest first, at most max. */
int store_cases_expired(store_t *s, bk_time_t before, int max,
                        void (*fn)(void *ud, const char *case_id), void *ud);
/* Deletes up to max resolved/cancelled reminders closed before `before`; how many, or -errno. */
int store_purge_reminders(store_t *s, bk_time_t before, int max);
/* Deletes up to max published messages (outbox) older than `before`; how many, or -errno. */
int store_purge_outbox(store_t *s, bk_time_t before, int max);
/* Deletes every published message about case_id (a scan: for the admin's purge at once). */
int store_purge_outbox_case(store_t *s, const char *case_id);
/* Deletes up to max dead letters received before `before` or beyond the newest keep_max. */
int store_purge_dead_letters(store_t *s, bk_time_t before, int64_t keep_max, int max);
/* True (with its purge time) when case_id was purged; no lookup while there are no tombstones. */
bool store_case_purged(store_t *s, const char *case_id, bk_time_t *purged_at);
/* Asks the checkpoint thread for a checkpoint that empties and truncates the WAL, so that the
 * pages a purge overwrote leave the WAL file too; a no-op without the thread. */
void store_checkpoint_truncate(store_t *s);

/* outbox: every published message, by rseq */
int store_outbox_add(store_t *s, int64_t rseq, const char *topic, const char *payload, bk_time_t at);
/* Calls fn for each message with since < rseq <= upto, in order; fn returning < 0 stops the walk
 * and is returned. */
int store_outbox_each(store_t *s, int64_t since, int64_t upto, int (*fn)(void *ud, int64_t rseq,
                      const char *topic, const char *payload), void *ud);

/* Consistent online copy with the SQLite backup API. */
int store_backup(store_t *s, const char *dest_path);

/*
 * Offline tools for operators (bevakactl backup, bevakad --restore). None of
 * them needs a store_t: they work on files, beside a running daemon or not.
 */
typedef struct store_file_info {
        int version;                     /* PRAGMA user_version */
        int64_t events;                  /* rows in the event log */
} store_file_info_t;

/*
 * Checks a database file without changing it: it opens read-only, PRAGMA
 * integrity_check says "ok", and its schema version is one this binary
 * knows (1..STORE_SCHEMA_VERSION). 0, or BK_E_INVALID with the reason in err.
 */
int store_check_file(const char *path, store_file_info_t *info, char *err, size_t errn);
/*
 * Online backup of the database at src_path, which a daemon may be writing
 * (WAL gives this reader one consistent snapshot): copied with the backup
 * API in one step into a temporary file beside dest_path, checked, made a
 * self-contained rollback-journal file, fsynced and renamed into place.
 */
int store_backup_file(const char *src_path, const char *dest_path, store_file_info_t *info,
                      char *err, size_t errn);
/*
 * Replaces the store at path with the backup `from`, for a stopped daemon:
 * checks `from` first (store_check_file), refuses while a bevakad holds the
 * store, writes a copy beside path with the old file's owner and mode,
 * fsyncs it, removes the old -wal/-shm (they would replay into the new
 * file) and renames it into place. 0, BK_E_INVALID, BK_E_CONFLICT (in use)
 * or -errno, with the reason in err.
 */
int store_restore(const char *from, const char *path, store_file_info_t *info, char *err, size_t errn);
