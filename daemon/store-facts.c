/*
 * store-facts.c owns the indicators' side of the store: the facts table
 * (one row per indicator fact, kept as events are applied, derived and
 * cleared with the cases), the walks the indicators read it with, and the
 * read-only connection their worker thread opens.
 */
#include <errno.h>
#include <stdlib.h>
#include "log.h"
#include "store-private.h"

int store_open_reader(const char *path, store_t **out)
{
        store_t *s = calloc(1, sizeof(*s));

        *out = NULL;
        if (!s)
                return -ENOMEM;
        s->lock_fd = -1;
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
                log_errx("store: cannot open %s for reading: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
                store_close(&s);
                return -EIO;
        }
        sqlite3_busy_timeout(s->db, 5000);
        *out = s;
        return 0;
}

/* ---- indicator facts ------------------------------------------------------------------------ */

int store_fact_add(store_t *s, const char *unit, const char *case_id, const store_fact_t *f)
{
        sqlite3_stmt *q = s->q[Q_FACT_ADD];
        int64_t seq = s->counter[CNT_FACTS] + 1;
        int rc;

        sqlite3_bind_text(q, 1, unit, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, case_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, seq);
        sqlite3_bind_int64(q, 4, f->day);
        sqlite3_bind_int(q, 5, f->kind);
        sqlite3_bind_int64(q, 6, f->a);
        sqlite3_bind_int64(q, 7, f->b);
        sqlite3_bind_text(q, 8, f->text, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        if (rc != SQLITE_DONE)
                return st_sql_fail(s, "fact add");
        store_counter_add(s, CNT_FACTS, 1);
        return 0;
}

int store_facts_move(store_t *s, const char *case_id, const char *from, const char *to)
{
        sqlite3_stmt *q = s->q[Q_FACT_MOVE];
        int rc;

        sqlite3_bind_text(q, 1, case_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, to, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        return rc == SQLITE_DONE ? 0 : st_sql_fail(s, "fact move");
}

int store_facts_forget(store_t *s, const char *case_id)
{
        sqlite3_stmt *q;
        int rc;

        /* Rare (a case leaving the store): prepared per call; the case's unit, from its row, finds
         * its facts' range (so call it before the case's row goes). */
        if (sqlite3_prepare_v2(s->db, "DELETE FROM facts WHERE unit = (SELECT unit FROM cases WHERE case_id = ?1) "
                               "AND case_id = ?1", -1, &q, NULL) != SQLITE_OK)
                return st_sql_fail(s, "fact forget");
        sqlite3_bind_text(q, 1, case_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
        sqlite3_finalize(q);
        return rc == SQLITE_DONE ? 0 : st_sql_fail(s, "fact forget");
}

/* Read-only walks prepare their statement per call: they run rarely and hold no cache. */
static int walk_prepare(store_t *s, const char *sql, const char *unit, sqlite3_stmt **q)
{
        if (sqlite3_prepare_v2(s->db, sql, -1, q, NULL) != SQLITE_OK)
                return st_sql_fail(s, "walk");
        if (unit)
                sqlite3_bind_text(*q, 1, unit, -1, SQLITE_STATIC);
        return 0;
}

int store_facts_each(store_t *s, const char *unit,
                     int (*fn)(void *ud, const char *unit, const char *case_id, const store_fact_t *f),
                     void *ud)
{
        sqlite3_stmt *q;
        store_fact_t f;
        int rc, r = 0;

        if ((rc = walk_prepare(s, unit ? "SELECT unit, case_id, day, kind, a, b, text FROM facts "
                                         "WHERE unit = ?1 ORDER BY unit, case_id, seq"
                                       : "SELECT unit, case_id, day, kind, a, b, text FROM facts "
                                         "ORDER BY unit, case_id, seq", unit, &q)) < 0)
                return rc;
        while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
                f.day = (cal_day_t)sqlite3_column_int64(q, 2);
                f.kind = sqlite3_column_int(q, 3);
                f.a = sqlite3_column_int64(q, 4);
                f.b = sqlite3_column_int64(q, 5);
                bk_strlcpy(f.text, st_col_text(q, 6), sizeof(f.text));
                r = fn(ud, st_col_text(q, 0), st_col_text(q, 1), &f);
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = st_sql_fail(s, "facts");
        sqlite3_finalize(q);
        return r;
}

bool store_facts_complete(store_t *s)
{
        sqlite3_stmt *q;
        bool done = false;

        if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'facts.complete'", -1, &q, NULL)
            != SQLITE_OK)
                return false;
        /* No row: a store created at version 4, whose every event was applied with its facts. */
        done = sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int(q, 0) != 0;
        sqlite3_finalize(q);
        return done;
}

int store_rems_each(store_t *s, const char *unit, cal_day_t due_until,
                    int (*fn)(void *ud, const store_rem_brief_t *r), void *ud)
{
        sqlite3_stmt *q;
        store_rem_brief_t b;
        int rc, r = 0;

        if ((rc = walk_prepare(s, unit ? "SELECT rule, case_id, unit, caseworker, due, state, created_at, "
                                         "delivered_at, closed_at, close_reason FROM reminders "
                                         "WHERE unit = ?1 AND due <= ?2"
                                       : "SELECT rule, case_id, unit, caseworker, due, state, created_at, "
                                         "delivered_at, closed_at, close_reason FROM reminders "
                                         "WHERE due <= ?2", unit, &q)) < 0)
                return rc;
        sqlite3_bind_int64(q, 2, due_until);
        while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
                b.rule = sqlite3_column_int(q, 0);
                b.case_id = st_col_text(q, 1);
                b.unit = st_col_text(q, 2);
                b.caseworker = st_col_text(q, 3);
                b.due = (cal_day_t)sqlite3_column_int64(q, 4);
                b.state = (rem_state_t)sqlite3_column_int(q, 5);
                b.created_at = sqlite3_column_int64(q, 6);
                b.delivered_at = sqlite3_column_int64(q, 7);
                b.closed_at = sqlite3_column_int64(q, 8);
                b.close_reason = st_col_text(q, 9);
                r = fn(ud, &b);
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = st_sql_fail(s, "reminders");
        sqlite3_finalize(q);
        return r;
}
