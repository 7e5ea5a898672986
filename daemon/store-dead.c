/*
 * store-dead.c owns the dead-letter table: storing the minimised, masked
 * copy of a refused message (event_dead_letter_form: never the bytes as they
 * came), listing the newest for the admin's `dead_letters`, and counting
 * them by the kind of reason for stats and metrics.
 */
#include <stdlib.h>
#include <string.h>
#include "store-private.h"

int store_dead_letter_add(store_t *s, const char *reason, const void *raw, size_t len, bk_time_t received_at)
{
        sqlite3_stmt *q = s->q[Q_DEAD_ADD];
        size_t n = 0;
        char *form = event_dead_letter_form(raw, len, reason, &n);
        int r;

        if (!form)
                return -ENOMEM;
        sqlite3_bind_text(q, 1, reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, received_at);
        sqlite3_bind_blob(q, 3, form, (int)n, SQLITE_STATIC);
        r = st_step_done(s, q, "dead letter add");
        free(form);
        return r;
}

static char *base64(const unsigned char *in, size_t n)
{
        static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *out = malloc((n + 2) / 3 * 4 + 1), *p = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                             (i + 2 < n ? in[i + 2] : 0);
                *p++ = tab[v >> 18 & 63];
                *p++ = tab[v >> 12 & 63];
                *p++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
                *p++ = i + 2 < n ? tab[v & 63] : '=';
        }
        *p = '\0';
        return out;
}

/*
 * Stored dead letters counted by what was wrong: the reason up to its first
 * ':' ("envelope.at", "data.household", "not JSON"), so the set of labels a
 * metric gets stays small and carries no value from the event.
 */
json_t *store_dead_letter_reasons(store_t *s)
{
        sqlite3_stmt *q;
        json_t *o = json_object();
        if (sqlite3_prepare_v2(s->db, "SELECT substr(reason, 1, instr(reason || ':', ':') - 1) AS r, count(*) "
                               "FROM dead_letters GROUP BY r ORDER BY r", -1, &q, NULL) != SQLITE_OK) {
                st_sql_fail(s, "dead letter reasons");
                return o;
        }
        while (sqlite3_step(q) == SQLITE_ROW)
                json_object_set_new(o, st_col_text(q, 0), json_integer(sqlite3_column_int64(q, 1)));
        sqlite3_finalize(q);
        return o;
}

json_t *store_dead_letters(store_t *s, int limit)
{
        sqlite3_stmt *q;
        json_t *arr = json_array();
        if (sqlite3_prepare_v2(s->db, "SELECT reason, received_at, raw FROM dead_letters "
                               "ORDER BY rowid DESC LIMIT ?1", -1, &q, NULL) != SQLITE_OK) {
                st_sql_fail(s, "dead letters");
                return arr;
        }
        sqlite3_bind_int(q, 1, limit);
        while (sqlite3_step(q) == SQLITE_ROW) {
                char when[32];
                const void *raw = sqlite3_column_blob(q, 2);
                int n = sqlite3_column_bytes(q, 2);
                cal_format_rfc3339(sqlite3_column_int64(q, 1), when, sizeof(when));
                /* Raw bytes may be invalid UTF-8: then they go out as base64 (proto/: raw_base64). */
                json_t *rawj = json_stringn(raw ? raw : "", (size_t)n);
                bool b64 = false;
                if (!rawj) {
                        char *enc = base64(raw, (size_t)n);
                        rawj = enc ? json_string(enc) : NULL;
                        free(enc);
                        b64 = true;
                }
                json_t *o = json_pack("{s:s, s:s, s:o}", "reason", st_col_text(q, 0), "received_at", when,
                                      "raw", rawj ? rawj : json_null());
                if (b64)
                        json_object_set_new(o, "raw_base64", json_true());
                json_array_append_new(arr, o);
        }
        sqlite3_finalize(q);
        return arr;
}

