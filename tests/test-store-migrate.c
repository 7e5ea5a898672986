/*
 * Schema upgrades (store.c's migrations): every schema version the project
 * has shipped must open and migrate to the current one. Only version 1 has
 * shipped, so: an empty file goes 0 -> 1; a current file opens unchanged; a
 * migration that fails leaves the file at its old version with nothing of
 * the failed step in it (each step is one transaction); a file from a newer
 * bevaka (user_version 99) is refused with a message that says so, and is
 * left as it was. store_check_file() agrees with all of it.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include "store.h"
#include "tap.h"

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

        /* 0 -> 1: an empty file. */
        snprintf(path, sizeof(path), "%s/v0.db", dir);
        r = open_captured(path, &s, log, sizeof(log));
        CHECK_INT(r, 0);
        CHECK_INT(store_schema_version(s), STORE_SCHEMA_VERSION);
        CHECK(strstr(log, "migrated schema to version 1") != NULL);
        store_close(&s);
        CHECK_INT(user_version(path), 1);
        CHECK_INT(store_check_file(path, &info, err, sizeof(err)), 0);
        CHECK_INT(info.version, 1);
        CHECK_INT(info.events, 0);

        /* Current version: opens without migrating. */
        r = open_captured(path, &s, log, sizeof(log));
        CHECK_INT(r, 0);
        CHECK(strstr(log, "migrated") == NULL);
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
        CHECK(strstr(log, "schema version 99 is newer than this bevakad (1); refusing") != NULL);
        CHECK_INT(user_version(path), 99);
        CHECK(has_table(path, "future"));
        CHECK(!has_table(path, "events"));
        CHECK(store_check_file(path, NULL, err, sizeof(err)) == BK_E_INVALID);
        CHECK(strstr(err, "newer") != NULL);

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
