/*
 * store-retention.c owns what the store forgets (gallring, docs/privacy.md):
 * deleting a case whole with a tombstone that keeps its old events from
 * coming back, and the small batches of expired reminders, published
 * messages and dead letters that the daemon's retention turns delete.
 */
#include <stdlib.h>
#include <string.h>
#include "sha256.h"
#include "store-private.h"

/* ---- retention ------------------------------------------------------------ */

static void case_hash(const char *case_id, uint8_t out[32])
{
        sha256(case_id, strlen(case_id), out);
}

int store_purge_case(store_t *s, const char *case_id, bk_time_t purged_at, store_purged_t *n)
{
        sqlite3_stmt *q = s->q[Q_PURGE_REM_STATES];
        uint8_t hash[32];
        int rc, r;

        /* the counts by state lose what goes */
        sqlite3_bind_text(q, 1, case_id, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                int st = sqlite3_column_int(q, 0);
                int64_t k = sqlite3_column_int64(q, 1);
                if (st >= 0 && st < REM__STATE_COUNT)
                        store_counter_add(s, CNT_REM_FIRST + st, -k);
                n->reminders += k;
        }
        sqlite3_reset(q);
        if (rc != SQLITE_DONE)
                return st_sql_fail(s, "purge reminders");
        /* the indicators' facts are found through the case's row: they go before it does */
        if ((r = store_facts_forget(s, case_id)) != 0)
                return r;
        static const int del[] = { Q_PURGE_REMS, Q_PURGE_EVENTS, Q_PURGE_CASE };
        for (size_t i = 0; i < BK_ARRAY_SIZE(del); i++) {
                sqlite3_bind_text(s->q[del[i]], 1, case_id, -1, SQLITE_STATIC);
                if ((r = st_step_done(s, s->q[del[i]], "purge")) != 0)
                        return r;
                if (del[i] == Q_PURGE_EVENTS)
                        n->events += sqlite3_changes(s->db);
                if (del[i] == Q_PURGE_CASE)
                        n->cases += sqlite3_changes(s->db);
        }
        case_hash(case_id, hash);
        q = s->q[Q_TOMB_ADD];
        sqlite3_bind_blob(q, 1, hash, sizeof(hash), SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, purged_at);
        if ((r = st_step_done(s, q, "tombstone")) != 0)
                return r;
        s->tombstones++;
        return 0;
}

int store_cases_expired(store_t *s, bk_time_t before, int max, void (*fn)(void *, const char *), void *ud)
{
        return st_case_ids_each(s->q[Q_CASES_EXPIRED], before, max, fn, ud);
}

int store_purge_reminders(store_t *s, bk_time_t before, int max)
{
        sqlite3_stmt *q = s->q[Q_REMS_EXPIRED], *del = s->q[Q_REM_DELETE];
        int64_t rows[256];
        int states[256], n = 0, r;

        sqlite3_bind_int64(q, 1, before);
        sqlite3_bind_int(q, 2, BK_MIN(max, 256));
        while (n < BK_MIN(max, 256) && sqlite3_step(q) == SQLITE_ROW) {
                rows[n] = sqlite3_column_int64(q, 0);
                states[n++] = sqlite3_column_int(q, 1);
        }
        sqlite3_reset(q);
        for (int i = 0; i < n; i++) {
                sqlite3_bind_int64(del, 1, rows[i]);
                if ((r = st_step_done(s, del, "purge reminder")) != 0)
                        return r;
                if (states[i] >= 0 && states[i] < REM__STATE_COUNT)
                        store_counter_add(s, CNT_REM_FIRST + states[i], -1);
        }
        return n;
}

int store_purge_outbox(store_t *s, bk_time_t before, int max)
{
        sqlite3_stmt *q = s->q[Q_OUTBOX_EXPIRED];
        int r;

        sqlite3_bind_int64(q, 1, before);
        sqlite3_bind_int(q, 2, max);
        if ((r = st_step_done(s, q, "purge outbox")) != 0)
                return r;
        return sqlite3_changes(s->db);
}

int store_purge_outbox_case(store_t *s, const char *case_id)
{
        sqlite3_stmt *q = s->q[Q_OUTBOX_CASE];
        int r;

        sqlite3_bind_text(q, 1, case_id, -1, SQLITE_STATIC);
        if ((r = st_step_done(s, q, "purge outbox")) != 0)
                return r;
        return sqlite3_changes(s->db);
}

int store_purge_dead_letters(store_t *s, bk_time_t before, int64_t keep_max, int max)
{
        sqlite3_stmt *q = s->q[Q_DEAD_EXPIRED];
        int r;

        sqlite3_bind_int64(q, 1, before);
        sqlite3_bind_int64(q, 2, keep_max);
        sqlite3_bind_int(q, 3, max);
        if ((r = st_step_done(s, q, "purge dead letters")) != 0)
                return r;
        return sqlite3_changes(s->db);
}

bool store_case_purged(store_t *s, const char *case_id, bk_time_t *purged_at)
{
        sqlite3_stmt *q = s->q[Q_TOMB_GET];
        uint8_t hash[32];
        bool found = false;

        if (s->tombstones == 0)
                return false;
        case_hash(case_id, hash);
        sqlite3_bind_blob(q, 1, hash, sizeof(hash), SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
                found = true;
                if (purged_at)
                        *purged_at = sqlite3_column_int64(q, 0);
        }
        sqlite3_reset(q);
        return found;
}

int st_count_tombstones(store_t *s)
{
        sqlite3_stmt *st;

        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM purged_cases", -1, &st, NULL) != SQLITE_OK)
                return st_sql_fail(s, "purged_cases");
        s->tombstones = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        return 0;
}

