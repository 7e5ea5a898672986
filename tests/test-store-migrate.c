/*
 * Schema upgrades (store.c's migrations): every schema version the project
 * has shipped must open and migrate to the current one: an empty file goes
 * 0 -> 3; a version 1 file (its schema kept here as shipped) goes 1 -> 2 -> 3
 * with its case states kept byte for byte and its reminders whole, their
 * event links moved into the rows in the order they were made; a current
 * file opens unchanged; a
 * migration that fails leaves the file at its old version with nothing of
 * the failed step in it (each step is one transaction); a file from a newer
 * bevaka (user_version 99) is refused with a message that says so, and is
 * left as it was. store_check_file() agrees with all of it.
 */
#define _GNU_SOURCE     /* memmem */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include "store.h"
#include "tap.h"

/* Schema version 1 exactly as it shipped (store.c's first migration): the fixture for 1 -> 2 -> 3
 * (version 2 changed only the cases table, so this covers what 2 -> 3 moves). */
static const char v1_schema[] =
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "CREATE TABLE feeds(source TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);"
        "CREATE TABLE events(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,"
        "  seq INTEGER NOT NULL, type TEXT NOT NULL, at INTEGER NOT NULL, case_id TEXT NOT NULL,"
        "  received_at INTEGER NOT NULL, status INTEGER NOT NULL, raw TEXT NOT NULL);"
        "CREATE INDEX events_case ON events(case_id);"
        "CREATE TABLE dead_letters(rowid INTEGER PRIMARY KEY, reason TEXT NOT NULL,"
        "  received_at INTEGER NOT NULL, raw BLOB NOT NULL);"
        "CREATE TABLE cases(case_id TEXT PRIMARY KEY, unit TEXT NOT NULL, caseworker TEXT NOT NULL,"
        "  open INTEGER NOT NULL, wake INTEGER NOT NULL, state TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX cases_wake ON cases(wake);"
        "CREATE TABLE reminders(id TEXT PRIMARY KEY, case_id TEXT NOT NULL, rule INTEGER NOT NULL,"
        "  cycle TEXT NOT NULL, unit TEXT NOT NULL, caseworker TEXT NOT NULL, to_cw INTEGER NOT NULL,"
        "  to_leads INTEGER NOT NULL, severity INTEGER NOT NULL, due INTEGER NOT NULL,"
        "  deliver_at INTEGER NOT NULL, state INTEGER NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,"
        "  why TEXT NOT NULL, event_id TEXT NOT NULL, created_at INTEGER NOT NULL,"
        "  delivered_at INTEGER NOT NULL, closed_at INTEGER NOT NULL, close_reason TEXT NOT NULL)"
        "  WITHOUT ROWID;"
        "CREATE INDEX reminders_pending ON reminders(deliver_at) WHERE state IN (0, 3);"
        "CREATE INDEX reminders_case ON reminders(case_id, rule) WHERE state < 4;"
        "CREATE INDEX reminders_owner ON reminders(unit, caseworker, state);"
        "CREATE TABLE reminder_events(rowid INTEGER PRIMARY KEY, reminder_id TEXT NOT NULL,"
        "  event_id TEXT NOT NULL, role TEXT NOT NULL, UNIQUE(reminder_id, event_id, role));"
        "CREATE TABLE outbox(rseq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL,"
        "  at INTEGER NOT NULL);"
        "INSERT INTO cases VALUES('EB-1', 'U1', 'hk1', 1, 20000, '{\"v\":1,\"case\":\"EB-1\"}');"
        "INSERT INTO meta VALUES('events.applied', 7);"
        "INSERT INTO events VALUES(1, 'ev-9', 'paraply', 1, 'ib1.completed', 1700000000, 'EB-1', 1, 0, '{}');"
        "INSERT INTO events VALUES(2, 'ev-3', 'paraply', 2, 'case.updated', 1700000060, 'EB-1', 2, 0, '{}');"
        "INSERT INTO reminders VALUES('r-b', 'EB-1', 3, 'ib1-1', 'U1', 'hk2', 1, 0, 1, 20100, 1700100000, 4,"
        "  'IB3', 'Följ upp', '{}', 'ev-9', 1700000001, 1700100000, 1700200000, 'resolved');"
        "INSERT INTO reminders VALUES('r-a', 'EB-1', 4, 'ib1-1', 'U1', 'hk2', 1, 1, 2, 20200, 1700300000, 0,"
        "  'IB4', 'Planera', '{\"x\":1}', 'ev-9', 1700000002, 0, 0, '');"
        /* links made in this order, which is neither the ids' nor the roles' order */
        "INSERT INTO reminder_events VALUES(1, 'r-b', 'ev-9', 'trigger');"
        "INSERT INTO reminder_events VALUES(2, 'r-a', 'ev-9', 'trigger');"
        "INSERT INTO reminder_events VALUES(3, 'r-b', 'ev-3', 'reroute');"
        "INSERT INTO reminder_events VALUES(4, 'r-b', 'ev-1', 'resolve');"
        "PRAGMA user_version = 1;";

static int user_version(const char *path)
{
        sqlite3 *db;
        sqlite3_stmt *st;
        int v = -1;

        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
                if (sqlite3_step(st) == SQLITE_ROW)
                        v = sqlite3_column_int(st, 0);
                sqlite3_finalize(st);
        }
        sqlite3_close(db);
        return v;
}

static int exec_sql(const char *path, const char *sql)
{
        sqlite3 *db;
        int rc;

        if (sqlite3_open(path, &db) != SQLITE_OK)
                return -1;
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        sqlite3_close(db);
        return rc == SQLITE_OK ? 0 : -1;
}

static bool has_table(const char *path, const char *name)
{
        sqlite3 *db;
        sqlite3_stmt *st;
        bool found = false;

        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &st,
                               NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                found = sqlite3_step(st) == SQLITE_ROW;
                sqlite3_finalize(st);
        }
        sqlite3_close(db);
        return found;
}

/* store_events_each's texts, kept in order. */
struct bodies {
        int n;
        char text[4][512];
};

static int collect_body(void *ud, const char *text, size_t len)
{
        struct bodies *b = ud;
        if (b->n < 4)
                snprintf(b->text[b->n], sizeof(b->text[0]), "%.*s", (int)len, text);
        b->n++;
        return 0;
}

static int count_sql(const char *path, const char *sql)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *q = NULL;
        int n = -1;

        if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
                n = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        return n;
}

/* store_open with its log (stderr) captured into buf. */
static int open_captured(const char *path, store_t **s, char *buf, size_t n)
{
        char tmpl[] = "/tmp/bevaka-migrate-log-XXXXXX";
        int fd = mkstemp(tmpl), saved = dup(STDERR_FILENO), r;
        ssize_t got;

        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        r = store_open(path, false, s);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        lseek(fd, 0, SEEK_SET);
        got = read(fd, buf, n - 1);
        buf[got > 0 ? got : 0] = '\0';
        close(fd);
        unlink(tmpl);
        return r;
}

int main(void)
{
        char dir[] = "/tmp/bevaka-migrate-XXXXXX", path[512], log[4096], err[512], cmd[600];
        store_file_info_t info = { 0 };
        store_t *s = NULL;
        int r;

        if (!mkdtemp(dir))
                return 2;

        /* 0 -> 3: an empty file. */
        snprintf(path, sizeof(path), "%s/v0.db", dir);
        r = open_captured(path, &s, log, sizeof(log));
        CHECK_INT(r, 0);
        CHECK_INT(store_schema_version(s), STORE_SCHEMA_VERSION);
        CHECK(strstr(log, "migrated schema to version 1") != NULL);
        CHECK(strstr(log, "migrated schema to version 2") != NULL);
        CHECK(strstr(log, "migrated schema to version 3") != NULL);
        CHECK(strstr(log, "migrated schema to version 4") != NULL);
        CHECK(store_facts_complete(s));          /* nothing stored, nothing to derive */
        store_close(&s);
        CHECK(strstr(log, "migrated schema to version 5") != NULL);
        CHECK(strstr(log, "migrated schema to version 6") != NULL);
        CHECK(strstr(log, "migrated schema to version 7") != NULL);
        CHECK_INT(user_version(path), STORE_SCHEMA_VERSION);
        CHECK(has_table(path, "facts"));
        CHECK_INT(store_check_file(path, &info, err, sizeof(err)), 0);
        CHECK_INT(info.version, STORE_SCHEMA_VERSION);
        CHECK_INT(info.events, 0);

        /* Current version: opens without migrating. */
        r = open_captured(path, &s, log, sizeof(log));
        CHECK_INT(r, 0);
        CHECK(strstr(log, "migrated") == NULL);
        store_close(&s);

        /* 1 -> 2 -> 3: a store of the first release keeps its cases (their JSON states byte for
         * byte, now as blobs, which the engine reads), its counters and its reminders. */
        snprintf(path, sizeof(path), "%s/v1.db", dir);
        CHECK_INT(exec_sql(path, v1_schema), 0);
        r = open_captured(path, &s, log, sizeof(log));
        CHECK_INT(r, 0);
        CHECK(strstr(log, "migrated schema to version 1") == NULL);
        CHECK(strstr(log, "migrated schema to version 2") != NULL);
        if (s) {
                void *blob = NULL;
                size_t len = 0;
                const char *want = "{\"v\":1,\"case\":\"EB-1\"}";
                CHECK_INT(store_case_get(s, "EB-1", &blob, &len, NULL, NULL), 0);
                CHECK(blob && len == strlen(want) && memcmp(blob, want, len) == 0);
                free(blob);
                CHECK_INT(store_counter(s, CNT_APPLIED), 7);
                CHECK_INT(store_next_wake(s), 20000);

                reminder_t rem;
                CHECK_INT(store_rem_get(s, "r-a", &rem), 0);
                CHECK_STR(rem.caseworker, "hk2");
                CHECK_INT(rem.rule, 4);
                CHECK_INT(rem.to_leads, 1);
                CHECK_INT(rem.severity, 2);
                CHECK_INT(rem.due, 20200);
                CHECK_INT(rem.deliver_at, 1700300000);
                CHECK_STR(rem.body, "Planera");
                CHECK_STR(rem.why, "{\"x\":1}");
                CHECK_INT(rem.created_at, 1700000002);
                /* the case lists its open reminder, r-a, by row */
                char *rems = NULL, want_rems[32];
                void *b2 = NULL;
                size_t l2 = 0;
                snprintf(want_rems, sizeof(want_rems), "%lld", (long long)rem.row);
                CHECK_INT(store_case_get(s, "EB-1", &b2, &l2, NULL, &rems), 0);
                CHECK_STR(rems ? rems : "(null)", want_rems);
                free(rems);
                free(b2);
                CHECK_INT(store_rem_get(s, "r-b", &rem), 0);
                CHECK_INT(rem.state, REM_RESOLVED);
                CHECK_INT(rem.closed_at, 1700200000);
                CHECK_STR(rem.close_reason, "resolved");

                json_t *links = store_rem_events(s, "r-b");
                const char *want_links[][3] = {   /* id, role, type */
                        { "ev-9", "trigger", "ib1.completed" },
                        { "ev-3", "reroute", "case.updated" },
                        { "ev-1", "resolve", "" },          /* not in the log */
                };
                CHECK_INT(json_array_size(links), 3);
                for (size_t i = 0; i < 3 && i < json_array_size(links); i++) {
                        json_t *l = json_array_get(links, i);
                        CHECK_STR(json_string_value(json_object_get(l, "id")), want_links[i][0]);
                        CHECK_STR(json_string_value(json_object_get(l, "role")), want_links[i][1]);
                        CHECK_STR(json_string_value(json_object_get(l, "type")), want_links[i][2]);
                }
                json_decref(links);
                links = store_rem_events(s, "r-a");
                CHECK_INT(json_array_size(links), 1);
                json_decref(links);

                int64_t counts[REM__STATE_COUNT];
                CHECK_INT(store_rem_count_by_state(s, counts), 0);
                CHECK_INT(counts[REM_SCHEDULED], 1);
                CHECK_INT(counts[REM_RESOLVED], 1);

                /* the owner's open reminders, through the new partial index */
                reminder_t *list = NULL;
                int n = 0;
                rem_filter_t f = { .unit = "U1", .caseworker = "hk2", .state = -1 };
                CHECK_INT(store_rem_query(s, &f, &list, &n), 0);
                CHECK_INT(n, 1);
                if (n == 1)
                        CHECK_STR(list[0].id, "r-a");
                free(list);
                f.state = -2;
                CHECK_INT(store_rem_query(s, &f, &list, &n), 0);
                CHECK_INT(n, 2);
                free(list);
                store_close(&s);
        }
        CHECK_INT(user_version(path), STORE_SCHEMA_VERSION);
        CHECK(has_table(path, "cases") && !has_table(path, "cases2"));
        CHECK(has_table(path, "reminders") && !has_table(path, "reminders3"));
        CHECK(!has_table(path, "reminder_events"));

        /* 3 -> 4: a store that holds events has no indicator facts for them until --rebuild
         * (store_clear_derived, which the rebuild starts with, marks them complete). */
        snprintf(path, sizeof(path), "%s/v3.db", dir);
        CHECK_INT(store_open(path, false, &s), 0);
        store_close(&s);
        /* made a version-3 file again: step 7 (delivery), step 6 (the compact log: nothing to undo), step 5 (the minimised store) and step 4 undone */
        CHECK_INT(exec_sql(path, "INSERT INTO events(id, source, seq, type, at, case_id, received_at, status, body) "
                                 "VALUES('e1', 's', 1, 'case.opened', 0, 'c1', 0, 0, '{}');"
                                 "ALTER TABLE reminders DROP COLUMN delivery;"
                                 "DROP INDEX cases_closed; DROP INDEX reminders_case; DROP INDEX reminders_closed;"
                                 "DROP TABLE purged_cases; ALTER TABLE cases DROP COLUMN closed_at;"
                                 "ALTER TABLE events RENAME COLUMN body TO raw;"
                                 "DROP TABLE facts; DROP INDEX reminders_unit;"
                                 "DELETE FROM meta WHERE key = 'facts.complete'; PRAGMA user_version = 3;"), 0);
        r = open_captured(path, &s, log, sizeof(log));
        CHECK_INT(r, 0);
        CHECK(strstr(log, "migrated schema to version 4") != NULL);
        CHECK(strstr(log, "migrated schema to version 5") != NULL);
        CHECK(strstr(log, "migrated schema to version 6") != NULL);
        CHECK(!store_facts_complete(s));
        CHECK_INT(store_begin(s), 0);
        CHECK_INT(store_clear_derived(s), 0);
        CHECK_INT(store_commit(s), 0);
        CHECK(store_facts_complete(s));
        store_close(&s);

        /* A step that fails is rolled back whole: no table of it survives, the version stays. */
        snprintf(path, sizeof(path), "%s/broken.db", dir);
        CHECK_INT(exec_sql(path, "CREATE TABLE outbox(x INTEGER);"), 0);   /* the step's last table */
        r = open_captured(path, &s, log, sizeof(log));
        CHECK(r < 0);
        CHECK(s == NULL);
        CHECK_INT(user_version(path), 0);
        CHECK(!has_table(path, "events"));
        CHECK(!has_table(path, "meta"));
        CHECK(store_check_file(path, NULL, err, sizeof(err)) == BK_E_INVALID);

        /* Newer than this binary: refused with a clear message, left untouched. */
        snprintf(path, sizeof(path), "%s/v99.db", dir);
        CHECK_INT(exec_sql(path, "CREATE TABLE future(x); PRAGMA user_version = 99;"), 0);
        r = open_captured(path, &s, log, sizeof(log));
        CHECK_INT(r, -EPROTO);
        CHECK(s == NULL);
        char want[128];
        snprintf(want, sizeof(want), "schema version 99 is newer than this bevakad (%d); refusing", STORE_SCHEMA_VERSION);
        CHECK(strstr(log, want) != NULL);
        CHECK_INT(user_version(path), 99);
        CHECK(has_table(path, "future"));
        CHECK(!has_table(path, "events"));
        CHECK(store_check_file(path, NULL, err, sizeof(err)) == BK_E_INVALID);
        CHECK(strstr(err, "newer") != NULL);

        /* 3 -> 4: the event log and the dead letters as they arrived become their minimised
         * forms in place; nothing of the canaries is left in the file (secure_delete, VACUUM). */
        snprintf(path, sizeof(path), "%s/v1-raw.db", dir);
        CHECK_INT(exec_sql(path, v1_schema), 0);
        CHECK_INT(exec_sql(path, "INSERT INTO events VALUES(3, 'ev-r', 'paraply', 3, 'case.closed', 1700000100,"
                                 " 'EB-1', 3, 0, '{\"v\":1,\"id\":\"ev-r\",\"source\":\"paraply\",\"seq\":3,"
                                 "\"type\":\"case.closed\",\"at\":\"2023-11-14T22:15:00Z\",\"case\":\"EB-1\","
                                 "\"unit\":\"U1\",\"note\":\"Canary Canarysson\",\"data\":{\"reason\":"
                                 "\"flyttat 19850312-1231\",\"extra\":\"Canary Canarysson\"}}');"
                                 "INSERT INTO dead_letters VALUES(1, 'envelope.case: holds a personnummer', 5,"
                                 " '{\"case\":\"19850312-1231\",\"note\":\"Canary Canarysson\"}');"), 0);
        r = open_captured(path, &s, log, sizeof(log));
        CHECK_INT(r, 0);
        CHECK(strstr(log, "migrated schema to version 4") != NULL);
        if (s) {
                json_t *dl = store_dead_letters(s, 10);
                const char *raw = json_string_value(json_object_get(json_array_get(dl, 0), "raw"));
                CHECK_STR(raw ? raw : "", "{\"case\":\"XXXXXX-XXXX\"}");
                json_decref(dl);
                store_close(&s);
        }
        CHECK_INT(exec_sql(path, "SELECT 1"), 0);
        FILE *db = fopen(path, "rb");
        char *bytes = malloc(1 << 22);
        size_t nb = db && bytes ? fread(bytes, 1, 1 << 22, db) : 0;
        CHECK(nb > 0);
        CHECK(memmem(bytes, nb, "Canary", 6) == NULL);
        CHECK(memmem(bytes, nb, "19850312", 8) == NULL);
        CHECK(memmem(bytes, nb, "flyttat XXXXXX-XXXX", 19) != NULL);   /* the free text, masked */
        free(bytes);
        if (db)
                fclose(db);

        /* 5 -> 6: the log's bodies lose what the columns hold; the normalised forms read back
         * (store_events_each) are the version-5 bodies byte for byte; a body that is not JSON
         * (one the codec refused at step 5) is kept as it is. */
        snprintf(path, sizeof(path), "%s/v5.db", dir);
        CHECK_INT(store_open(path, false, &s), 0);
        store_close(&s);
        static const char *const v5_bodies[] = {
                "{\"v\":1,\"id\":\"ev-a\",\"source\":\"paraply\",\"seq\":1,\"type\":\"ib4.exempted\","
                "\"at\":\"2023-11-14T23:15:00+01:00\",\"case\":\"EB-1\",\"unit\":\"U1\",\"actor\":\"hk1\","
                "\"data\":{\"reason\":\"sjuk \\\"länge\\\"\\n\\u0001\",\"until\":\"2024-01-31\"}}",
                "{\"v\":1,\"id\":\"ev-b\",\"source\":\"paraply\",\"seq\":2,\"type\":\"x.future\","
                "\"at\":\"2023-11-14T23:16:00+01:00\",\"case\":\"EB-1\",\"unit\":\"U1\",\"data\":{}}",
                "not json, kept",
        };
        CHECK_INT(exec_sql(path, "DELETE FROM meta WHERE key = 'facts.complete'; ALTER TABLE reminders DROP COLUMN delivery;"
                                 "PRAGMA user_version = 5;"), 0);
        for (size_t i = 0; i < BK_ARRAY_SIZE(v5_bodies); i++) {
                char *sql = sqlite3_mprintf("INSERT INTO events(id, source, seq, type, at, case_id, received_at,"
                                            " status, body) VALUES('ev-%c', 'paraply', %d, '%s', %d, 'EB-1', 0, 0,"
                                            " %Q)", 'a' + (int)i, (int)i + 1, i == 0 ? "ib4.exempted" : "x.future",
                                            1700000100 + 60 * (int)i, v5_bodies[i]);
                CHECK_INT(exec_sql(path, sql), 0);
                sqlite3_free(sql);
        }
        r = open_captured(path, &s, log, sizeof(log));
        CHECK_INT(r, 0);
        CHECK(strstr(log, "migrated schema to version 6") != NULL);
        CHECK(strstr(log, "migrated schema to version 7") != NULL);
        if (s) {
                struct bodies got = { 0 };
                CHECK_INT(store_events_each(s, collect_body, &got), 0);
                CHECK_INT(got.n, 3);
                for (int i = 0; i < got.n && i < 3; i++)
                        CHECK_STR(got.text[i], v5_bodies[i]);
                store_close(&s);
        }
        CHECK_INT(count_sql(path, "SELECT count(*) FROM events WHERE body = '{\"unit\":\"U1\",\"data\":{}}'"), 1);
        CHECK_INT(count_sql(path, "SELECT count(*) FROM events WHERE body LIKE '%\"seq\"%'"), 0);

        /* Not a database at all. */
        snprintf(path, sizeof(path), "%s/garbage.db", dir);
        FILE *f = fopen(path, "w");
        fputs("this is not an SQLite file, it is long enough to have a header of sorts\n", f);
        fclose(f);
        CHECK(store_check_file(path, NULL, err, sizeof(err)) == BK_E_INVALID);

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return tap_done();
}
