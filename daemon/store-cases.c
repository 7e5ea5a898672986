/*
 * store-cases.c owns the cases table: a case's stored rules state, its
 * wake day and its open-reminder list (and that list's store form, rows
 * comma-separated), the cases whose wake day has come, and clearing what
 * a rebuild derives again.
 */
#include <stdio.h>
#include "log.h"
#include "store-private.h"

/* ---- cases ---------------------------------------------------------------- */

int store_case_get(store_t *s, const char *case_id, void **state, size_t *len, cal_day_t *wake, char **rems)
{
        return store_case_load(s, case_id, state, len, wake, rems, NULL);
}

int store_case_load(store_t *s, const char *case_id, void **state, size_t *len, cal_day_t *wake, char **rems,
                    bk_time_t *closed_at)
{
        sqlite3_stmt *q = s->q[Q_CASE_GET];
        int r = BK_E_NOT_FOUND;
        sqlite3_bind_text(q, 1, case_id, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
                const void *b = sqlite3_column_blob(q, 0);
                size_t n = (size_t)sqlite3_column_bytes(q, 0);
                *state = malloc(n + 1);
                if (*state) {
                        if (n)
                                memcpy(*state, b, n);
                        ((char *)*state)[n] = '\0';   /* a JSON form reads as a C string too */
                        *len = n;
                }
                r = *state ? 0 : -ENOMEM;
                if (wake)
                        *wake = (cal_day_t)sqlite3_column_int64(q, 1);
                if (closed_at)
                        *closed_at = sqlite3_column_int64(q, 3);
                if (rems && r == 0 && !(*rems = strdup(st_col_text(q, 2)))) {
                        free(*state);
                        *state = NULL;
                        r = -ENOMEM;
                }
        }
        sqlite3_reset(q);
        return r;
}

int store_case_put(store_t *s, const char *case_id, const char *unit, const char *caseworker,
                   bool open, cal_day_t wake, const void *state, size_t len, const char *rems,
                   bk_time_t closed_at)
{
        sqlite3_stmt *q = s->q[Q_CASE_PUT];
        sqlite3_bind_text(q, 1, case_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, unit ? unit : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, caseworker ? caseworker : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 4, open);
        sqlite3_bind_int64(q, 5, wake);
        sqlite3_bind_blob(q, 6, state, (int)len, SQLITE_STATIC);
        sqlite3_bind_text(q, 7, rems ? rems : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 8, open ? 0 : BK_MAX(closed_at, 1));
        return st_step_done(s, q, "case put");
}

int store_case_update(store_t *s, const char *case_id, const char *unit, const char *caseworker,
                      bool open, const void *state, size_t len, const char *rems, bk_time_t closed_at)
{
        sqlite3_stmt *q = s->q[Q_CASE_UPDATE];
        int r;
        sqlite3_bind_text(q, 1, case_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, unit ? unit : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, caseworker ? caseworker : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 4, open);
        sqlite3_bind_blob(q, 6, state, (int)len, SQLITE_STATIC);
        sqlite3_bind_text(q, 7, rems ? rems : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 8, open ? 0 : BK_MAX(closed_at, 1));
        if ((r = st_step_done(s, q, "case update")) != 0)
                return r;
        return sqlite3_changes(s->db) == 1 ? 0 : BK_E_NOT_FOUND;
}

/*
 * Runs q (?1 = key, ?2 = max), which selects case ids, and calls fn for each. The ids are
 * collected first: fn may write (or delete from) the table being read through this connection.
 */
int st_case_ids_each(sqlite3_stmt *q, int64_t key, int max, void (*fn)(void *, const char *),
                     void *ud)
{
        int n = 0;
        char (*ids)[EV_NAME_MAX + 1] = calloc((size_t)BK_MAX(max, 1), sizeof(*ids));

        if (!ids)
                return -ENOMEM;
        sqlite3_bind_int64(q, 1, key);
        sqlite3_bind_int(q, 2, max);
        while (n < max && sqlite3_step(q) == SQLITE_ROW)
                bk_strlcpy(ids[n++], st_col_text(q, 0), sizeof(ids[0]));
        sqlite3_reset(q);
        for (int i = 0; i < n; i++)
                fn(ud, ids[i]);
        free(ids);
        return n;
}

int store_cases_waking(store_t *s, cal_day_t day, int max, void (*fn)(void *, const char *), void *ud)
{
        return st_case_ids_each(s->q[Q_CASES_WAKING], day, max, fn, ud);
}

cal_day_t store_next_wake(store_t *s)
{
        sqlite3_stmt *q = s->q[Q_NEXT_WAKE];
        cal_day_t v = INT32_MAX;
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
                v = (cal_day_t)sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
        return v;
}

int store_clear_derived(store_t *s)
{
        int r;
        /* Feed positions, counters, the rseq and the outbox stay: they describe what already happened. */
        if ((r = st_exec(s, "DELETE FROM cases; DELETE FROM reminders; DELETE FROM facts;"
                            "INSERT INTO meta(key, value) VALUES('facts.complete', 1) "
                            "ON CONFLICT(key) DO UPDATE SET value = 1;")) < 0)
                return r;
        return st_recount_reminders(s);
}

/* ---- a case's open-reminder list ------------------------------------------------ */

const char *store_rems_encode(const int64_t *rows, int n, char **buf, size_t *cap)
{
        size_t need = (size_t)n * 21 + 1, len = 0;

        if (need > *cap) {
                char *t = realloc(*buf, need);
                if (!t)
                        return NULL;
                *buf = t;
                *cap = need;
        }
        (*buf)[0] = '\0';
        for (int i = 0; i < n; i++)
                len += (size_t)snprintf(*buf + len, need - len, i ? ",%lld" : "%lld", (long long)rows[i]);
        return *buf;
}

int store_rems_decode(const char *text, int (*add)(void *ud, int64_t row), void *ud)
{
        const char *p = text;
        int r;

        while (*p) {
                char *end;
                long long v = strtoll(p, &end, 10);
                if (end == p || v <= 0 || (*end && *end != ',')) {
                        log_errx("store: a case's list of open reminders is unreadable; ignoring the rest");
                        break;
                }
                if ((r = add(ud, v)) < 0)
                        return r;
                p = *end ? end + 1 : end;
        }
        return 0;
}
