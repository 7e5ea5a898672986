/*
 * store-file.c owns the store as a file, for the operator: an online
 * backup (a consistent snapshot while the daemon runs), checking a store
 * file, and restoring one into place safely (fsync'd, atomically renamed,
 * under the store's lock).
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "log.h"
#include "store-private.h"

int store_backup(store_t *s, const char *dest_path)
{
        sqlite3 *dst;
        sqlite3_backup *b;
        int rc;

        if (sqlite3_open(dest_path, &dst) != SQLITE_OK) {
                log_errx("store: backup: cannot open %s: %s", dest_path, sqlite3_errmsg(dst));
                sqlite3_close(dst);
                return -EIO;
        }
        b = sqlite3_backup_init(dst, "main", s->db, "main");
        if (!b) {
                log_errx("store: backup: %s", sqlite3_errmsg(dst));
                sqlite3_close(dst);
                return -EIO;
        }
        /* One step copies everything: the copy is a consistent snapshot. */
        rc = sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE) {
                log_errx("store: backup: %s", sqlite3_errstr(rc));
                sqlite3_close(dst);
                return -EIO;
        }
        sqlite3_close(dst);
        return 0;
}

/* ---- operator tools: check, online backup, restore ------------------------------- */

static int file_fail(char *err, size_t errn, int r, const char *fmt, ...) BK_PRINTF(4, 5);
static int file_fail(char *err, size_t errn, int r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errn, fmt, ap);
        va_end(ap);
        return r;
}

static bool query_int(sqlite3 *db, const char *sql, int64_t *out)
{
        sqlite3_stmt *st;
        bool ok = false;

        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                return false;
        if (sqlite3_step(st) == SQLITE_ROW) {
                *out = sqlite3_column_int64(st, 0);
                ok = true;
        }
        sqlite3_finalize(st);
        return ok;
}

/* integrity_check, schema version and event count of an open database. */
static int db_check(sqlite3 *db, const char *path, store_file_info_t *info, char *err, size_t errn)
{
        sqlite3_stmt *st;
        char verdict[256] = "";
        int64_t v = 0, events = 0;

        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &st, NULL) != SQLITE_OK)
                return file_fail(err, errn, BK_E_INVALID, "%s: not a database: %s", path, sqlite3_errmsg(db));
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
                bk_strlcpy(verdict, (const char *)sqlite3_column_text(st, 0), sizeof(verdict));
        else
                bk_strlcpy(verdict, sqlite3_errmsg(db), sizeof(verdict));
        sqlite3_finalize(st);
        if (strcmp(verdict, "ok") != 0)
                return file_fail(err, errn, BK_E_INVALID, "%s: integrity check failed: %s", path, verdict);
        if (!query_int(db, "PRAGMA user_version", &v))
                return file_fail(err, errn, BK_E_INVALID, "%s: cannot read the schema version", path);
        if (v < 1)
                return file_fail(err, errn, BK_E_INVALID, "%s: not a bevaka store (schema version 0)", path);
        if (v > STORE_SCHEMA_VERSION)
                return file_fail(err, errn, BK_E_INVALID,
                                 "%s: schema version %lld is newer than this bevaka (%d)", path,
                                 (long long)v, STORE_SCHEMA_VERSION);
        if (!query_int(db, "SELECT count(*) FROM events", &events))
                return file_fail(err, errn, BK_E_INVALID, "%s: not a bevaka store: %s", path, sqlite3_errmsg(db));
        if (info) {
                info->version = (int)v;
                info->events = events;
        }
        return 0;
}

static int open_readonly(const char *path, sqlite3 **db, char *err, size_t errn)
{
        if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
                int r = file_fail(err, errn, BK_E_INVALID, "%s: cannot open: %s", path,
                                  *db ? sqlite3_errmsg(*db) : "out of memory");
                sqlite3_close(*db);
                *db = NULL;
                return r;
        }
        sqlite3_busy_timeout(*db, 5000);
        return 0;
}

int store_check_file(const char *path, store_file_info_t *info, char *err, size_t errn)
{
        sqlite3 *db = NULL;
        int r;

        if (access(path, R_OK) < 0)
                return file_fail(err, errn, -errno, "%s: %s", path, strerror(errno));
        if ((r = open_readonly(path, &db, err, errn)) != 0)
                return r;
        r = db_check(db, path, info, err, errn);
        sqlite3_close(db);
        return r;
}

static int fsync_path(const char *path, int flags)
{
        int fd = open(path, flags | O_CLOEXEC), r = 0;
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

static int fsync_dir_of(const char *path)
{
        char copy[PATH_MAX];
        bk_strlcpy(copy, path, sizeof(copy));
        return fsync_path(dirname(copy), O_RDONLY | O_DIRECTORY);
}

/*
 * Copies the open database src into the new file tmp (the backup API in one
 * step, so one read transaction: a consistent snapshot even while another
 * process writes), then checks the copy and makes it a rollback-journal
 * file so that it stands alone without -wal/-shm companions.
 */
static int copy_to(sqlite3 *src, const char *src_path, const char *tmp, store_file_info_t *info,
                   char *err, size_t errn)
{
        sqlite3 *dst = NULL;
        sqlite3_backup *b;
        int rc, r;

        if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK) {
                r = file_fail(err, errn, -EIO, "%s: cannot create: %s", tmp,
                              dst ? sqlite3_errmsg(dst) : "out of memory");
                sqlite3_close(dst);
                return r;
        }
        b = sqlite3_backup_init(dst, "main", src, "main");
        if (!b) {
                r = file_fail(err, errn, -EIO, "backup of %s: %s", src_path, sqlite3_errmsg(dst));
                sqlite3_close(dst);
                return r;
        }
        rc = sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE) {
                r = file_fail(err, errn, -EIO, "backup of %s: %s", src_path, sqlite3_errstr(rc));
                sqlite3_close(dst);
                return r;
        }
        if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
                r = file_fail(err, errn, -EIO, "%s: %s", tmp, sqlite3_errmsg(dst));
                sqlite3_close(dst);
                return r;
        }
        r = db_check(dst, tmp, info, err, errn);
        if (sqlite3_close(dst) != SQLITE_OK && r == 0)
                r = file_fail(err, errn, -EIO, "%s: close failed", tmp);
        return r;
}

/* A fresh temporary file beside path, for a rename(2) into place. */
static int temp_beside(const char *path, char *tmp, size_t n)
{
        char copy[PATH_MAX], dir[PATH_MAX];
        int fd;

        bk_strlcpy(copy, path, sizeof(copy));
        bk_strlcpy(dir, dirname(copy), sizeof(dir));
        bk_strlcpy(copy, path, sizeof(copy));
        if ((size_t)snprintf(tmp, n, "%s/.%s.tmp-XXXXXX", dir, basename(copy)) >= n)
                return -ENAMETOOLONG;
        fd = mkstemp(tmp);
        if (fd < 0)
                return -errno;
        close(fd);
        return 0;
}

int store_backup_file(const char *src_path, const char *dest_path, store_file_info_t *info,
                      char *err, size_t errn)
{
        char tmp[PATH_MAX];
        sqlite3 *src = NULL;
        int r;

        if (access(src_path, R_OK) < 0)
                return file_fail(err, errn, -errno, "%s: %s", src_path, strerror(errno));
        if ((r = temp_beside(dest_path, tmp, sizeof(tmp))) < 0)
                return file_fail(err, errn, r, "%s: cannot create a file beside it: %s", dest_path, strerror(-r));
        /*
         * Read-write when allowed, though nothing is written: with no daemon
         * running, the -wal/-shm this connection creates are removed again
         * at close only by a writer; a reader would leave them behind, owned
         * by whoever ran the backup, and the daemon could not open them.
         */
        if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK) {
                sqlite3_busy_timeout(src, 5000);
        } else {
                sqlite3_close(src);
                src = NULL;
                if ((r = open_readonly(src_path, &src, err, errn)) != 0)
                        goto fail;
        }
        r = copy_to(src, src_path, tmp, info, err, errn);
        sqlite3_close(src);
        if (r != 0)
                goto fail;
        if ((r = fsync_path(tmp, O_RDONLY)) < 0 || (rename(tmp, dest_path) < 0 && (r = -errno))) {
                file_fail(err, errn, r, "%s: %s", dest_path, strerror(-r));
                goto fail;
        }
        fsync_dir_of(dest_path);
        return 0;
fail:
        unlink(tmp);
        return r;
}

int store_restore(const char *from, const char *path, store_file_info_t *info, char *err, size_t errn)
{
        char tmp[PATH_MAX], side[PATH_MAX + 8];
        _cleanup_close_ int lock = -1;
        sqlite3 *src = NULL;
        struct stat old;
        bool have_old;
        int r;

        if ((r = store_check_file(from, info, err, errn)) != 0)
                return r;
        /* The same lock store_open() holds: a running daemon keeps its store. */
        lock = open(path, O_RDONLY | O_CLOEXEC);
        have_old = lock >= 0 && fstat(lock, &old) == 0;
        if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0)
                return file_fail(err, errn, BK_E_CONFLICT, "%s is in use by a running bevakad; stop it first",
                                 path);
        if ((r = temp_beside(path, tmp, sizeof(tmp))) < 0)
                return file_fail(err, errn, r, "%s: cannot create a file beside it: %s", path, strerror(-r));
        /* The daemon's user must still own its store when root restores it. */
        if (have_old && (chmod(tmp, old.st_mode & 07777) < 0 ||
                         (geteuid() == 0 && chown(tmp, old.st_uid, old.st_gid) < 0))) {
                r = file_fail(err, errn, -errno, "%s: %s", tmp, strerror(errno));
                goto fail;
        }
        if ((r = open_readonly(from, &src, err, errn)) != 0)
                goto fail;
        r = copy_to(src, from, tmp, info, err, errn);
        sqlite3_close(src);
        if (r != 0)
                goto fail;
        if ((r = fsync_path(tmp, O_RDONLY)) < 0) {
                file_fail(err, errn, r, "%s: %s", tmp, strerror(-r));
                goto fail;
        }
        /* A stale WAL would be replayed into the new file: it goes before the rename. */
        for (int i = 0; i < 2; i++) {
                snprintf(side, sizeof(side), "%s%s", path, i ? "-shm" : "-wal");
                if (unlink(side) < 0 && errno != ENOENT) {
                        r = file_fail(err, errn, -errno, "%s: %s", side, strerror(errno));
                        goto fail;
                }
        }
        if (rename(tmp, path) < 0) {
                r = file_fail(err, errn, -errno, "%s: %s", path, strerror(errno));
                goto fail;
        }
        fsync_dir_of(path);
        return 0;
fail:
        unlink(tmp);
        return r;
}
