/*
 * store-checkpoint.c owns the store's WAL checkpoints: a thread with its
 * own connection that copies the WAL into the database file, woken by the
 * writer's WAL hook, and the writer's own bounded checkpoint when the
 * thread falls behind (store-private.h says when).
 */
#include <signal.h>
#include <stdio.h>
#include "log.h"
#include "store-private.h"

/* ---- background checkpoints ---------------------------------------------- */

static void *checkpointer_main(void *ud)
{
        struct checkpointer *c = ud;

        pthread_mutex_lock(&c->mu);
        while (!c->stop) {
                if (!c->pending) {
                        pthread_cond_wait(&c->cv, &c->mu);
                        continue;
                }
                c->pending = false;
                c->busy = true;
                bool truncate = atomic_load(&c->truncate);
                pthread_mutex_unlock(&c->mu);
                int log_frames = -1, done_frames = -1;
                int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                                   &done_frames);
                /* After a purge the WAL still holds the pages as they were before it: copied first
                 * without blocking (above), then the little left copied and the file cut to zero,
                 * which holds the writer only that long; busy means the next commit retries. */
                if (truncate && rc == SQLITE_OK &&
                    sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) == SQLITE_OK) {
                        atomic_store(&c->truncate, false);
                }
                if (rc == SQLITE_OK)
                        atomic_store(&c->backfilled, done_frames);
                if (rc == SQLITE_OK && done_frames == log_frames)
                        atomic_fetch_add(&c->runs, 1);
                else if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
                        atomic_store(&c->last_rc, rc);
                        atomic_fetch_add(&c->failures, 1);
                }
                pthread_mutex_lock(&c->mu);
                c->busy = false;
        }
        pthread_mutex_unlock(&c->mu);
        return NULL;
}

/* Runs in the writer's thread after each commit; frames is the WAL's length in pages. */
static int wal_hook(void *ud, sqlite3 *db, const char *name, int frames)
{
        store_t *s = ud;
        struct checkpointer *c = s->ckpt;
        int failures = atomic_load(&c->failures);

        if (failures != c->failures_logged) {
                log_warnx("store: background checkpoint failed (%s); the WAL keeps the data and grows "
                          "until a checkpoint succeeds", sqlite3_errstr(atomic_load(&c->last_rc)));
                c->failures_logged = failures;
        }
        int prev = c->last_frames;
        bool restarted = frames < prev;     /* the WAL started over with this commit */
        c->last_frames = frames;
        if (restarted)
                atomic_store(&c->backfilled, 0);
        if (frames >= CKPT_HARD_FRAMES ||
            (frames >= CKPT_SOFT_FRAMES && !restarted && atomic_load(&c->backfilled) >= prev)) {
                int log_frames = -1, done_frames = -1;
                if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done_frames) ==
                    SQLITE_OK)
                        atomic_store(&c->backfilled, done_frames);
        } else if (frames >= CKPT_WAKE_FRAMES || atomic_load(&c->truncate)) {
                pthread_mutex_lock(&c->mu);
                c->pending = true;
                pthread_cond_signal(&c->cv);
                pthread_mutex_unlock(&c->mu);
        }
        return SQLITE_OK;
}

int store_checkpointer_start(store_t *s)
{
        const char *path = sqlite3_db_filename(s->db, "main");
        struct checkpointer *c;
        sigset_t all, old;
        int r;

        if (s->ckpt || !path || !path[0])
                return 0;   /* running already, or an in-memory store: nothing to checkpoint */
        if (!(c = calloc(1, sizeof(*c))))
                return -ENOMEM;
        /* A connection sees the WAL only once it has read the file: until then a checkpoint on it
         * does nothing. The journal_mode query is that read. */
        if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
            sqlite3_exec(c->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK) {
                log_errx("store: checkpoint connection: %s", c->db ? sqlite3_errmsg(c->db) : "out of memory");
                sqlite3_close(c->db);
                free(c);
                return -EIO;
        }
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->cv, NULL);
        /* Signals belong to the loop's signalfd: the thread starts with all of them blocked. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(&c->thread, NULL, checkpointer_main, c);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0) {
                pthread_mutex_destroy(&c->mu);
                pthread_cond_destroy(&c->cv);
                sqlite3_close(c->db);
                free(c);
                return -r;
        }
        s->ckpt = c;
        sqlite3_wal_hook(s->db, wal_hook, s);   /* replaces SQLite's automatic checkpoints */
        return 0;
}

void store_checkpoint_truncate(store_t *s)
{
        struct checkpointer *c = s->ckpt;

        if (!c)
                return;
        pthread_mutex_lock(&c->mu);
        atomic_store(&c->truncate, true);
        c->pending = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
}

int64_t store_checkpoint_runs(store_t *s)
{
        return s->ckpt ? atomic_load(&s->ckpt->runs) : -1;
}

bool store_checkpointer_idle(store_t *s)
{
        struct checkpointer *c = s->ckpt;
        bool idle;

        if (!c)
                return true;
        pthread_mutex_lock(&c->mu);
        idle = !c->pending && !c->busy;
        pthread_mutex_unlock(&c->mu);
        return idle;
}

void st_checkpointer_stop(store_t *s)
{
        struct checkpointer *c = s->ckpt;

        if (!c)
                return;
        sqlite3_wal_hook(s->db, NULL, NULL);
        sqlite3_wal_autocheckpoint(s->db, 1000);
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        sqlite3_close(c->db);
        free(c);
        s->ckpt = NULL;
}
