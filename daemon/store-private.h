/*
 * store-private.h is shared by the store's files only (store.c,
 * store-cases.c, store-checkpoint.c, store-facts.c, store-file.c, store-retention.c): the prepared
 * statements' numbers, the store and its checkpoint thread, and the
 * helpers the files share. Nothing else sees SQLite.
 */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include "store.h"

enum {
        Q_FEED_GET, Q_FEED_SET, Q_FEEDS_ALL,
        Q_EVENT_ADD, Q_EVENT_BRIEF, Q_EVENT_STATUS,
        Q_DEAD_ADD,
        Q_CASE_GET, Q_CASE_PUT, Q_CASE_UPDATE, Q_CASES_WAKING, Q_NEXT_WAKE,
        Q_REM_GET, Q_REM_BY_ROW, Q_REM_STATE, Q_REM_ADD, Q_REM_PUT, Q_REM_UPDATE, Q_REM_DUE, Q_REM_NEXT, Q_REM_LINKS,
        Q_OUTBOX_ADD,
        Q_META_PUT,
        Q_FACT_ADD, Q_FACT_MOVE,
        Q_PURGE_EVENTS, Q_PURGE_REM_STATES, Q_PURGE_REMS, Q_PURGE_CASE, Q_TOMB_ADD, Q_TOMB_GET,
        Q_CASES_EXPIRED, Q_REMS_EXPIRED, Q_REM_DELETE, Q_DEAD_EXPIRED, Q_OUTBOX_EXPIRED, Q_OUTBOX_CASE,
        Q__COUNT
};

/*
 * WAL checkpoints run in a thread of their own with its own connection, so that copying the WAL
 * into the database file and its fsync never stall the loop (docs/performance.md, finding 3a).
 * The writer's WAL hook wakes the thread once CKPT_WAKE_FRAMES are in the WAL.
 *
 * SQLite starts the WAL over only when a write transaction begins after a checkpoint that copied
 * every frame, and a writer that never pauses (a catch-up, or a steady feed) rarely leaves such a
 * moment. So once the WAL is past CKPT_SOFT_FRAMES the writer finishes the checkpoint itself, but
 * only when the thread has copied everything before the last commit: then the writer copies just
 * that commit's frames, a short stall. A thread that is behind is left to catch up, up to
 * CKPT_HARD_FRAMES, where the writer checkpoints whatever is left: the WAL stays bounded.
 */
#define CKPT_WAKE_FRAMES 256       /* about 1 MB with 4 KB pages */
#define CKPT_SOFT_FRAMES 16384     /* about 64 MB */
#define CKPT_HARD_FRAMES 131072    /* about 512 MB */

struct checkpointer {
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        bool pending, stop, busy;  /* busy: a checkpoint is running */
        atomic_bool truncate;      /* a purge ran: empty and truncate the WAL (retried until done) */
        sqlite3 *db;               /* used by the thread only */
        atomic_long runs;          /* checkpoints that ran to the end of the WAL as it was then */
        atomic_int backfilled;     /* frames the thread's last checkpoint had copied */
        int last_frames;           /* the WAL's length after the previous commit (writer only) */
        atomic_int failures;       /* checkpoints that failed (not "busy"); reported by the writer */
        atomic_int last_rc;
        int failures_logged;
};

#define FEEDS_PENDING 16

struct store {
        sqlite3 *db;
        struct checkpointer *ckpt;
        sqlite3_stmt *q[Q__COUNT];
        int64_t counter[CNT__COUNT];
        bool counter_dirty[CNT__COUNT];
        /* Feed positions set in this transaction, written at commit (like the counters): one
         * row write per source and batch instead of one per event. */
        struct { char source[EV_SOURCE_MAX + 1]; int64_t seq; } feed_pending[FEEDS_PENDING];
        int n_feed_pending;
        bool in_tx;
        bool failed;            /* a statement failed in this transaction: it must not commit */
        int64_t tombstones;     /* rows in purged_cases: none means no lookup per event */
        int lock_fd;            /* flock(2) held while open: one daemon per store */
        jw_t body;              /* an event's body being written (store_event_add) */
};

/* helpers the store files share (store.c unless said) */
const char *st_col_text(sqlite3_stmt *q, int i);
int st_sql_fail(store_t *s, const char *what);    /* marks the transaction failed; -errno */
int st_exec(store_t *s, const char *sql);
int st_recount_reminders(store_t *s);
int st_step_done(store_t *s, sqlite3_stmt *q, const char *what);
void st_checkpointer_stop(store_t *s);            /* store-checkpoint.c */
int st_count_tombstones(store_t *s);              /* store-retention.c */
int st_case_ids_each(sqlite3_stmt *q, int64_t key, int max,   /* store-cases.c */
                     void (*fn)(void *ud, const char *case_id), void *ud);
