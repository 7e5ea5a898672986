/*
 * Integration: backup and restore as an operator does them (docs/operations.md).
 * `bevakactl --db PATH backup FILE` copies the store while bevakad applies a
 * paced feed; the copy passes the integrity check, its event count lies
 * between the daemon's applied count before and after the backup, and it is
 * a store bevakad opens: `bevakad --restore` puts it in place for a second
 * daemon (refused while that daemon runs, and for a file that is no store),
 * which then reports exactly the copied events. A backup with no daemon
 * running leaves no -wal/-shm files behind. A store from a newer
 * bevaka (user_version 99) makes bevakad exit non-zero with a clear message.
 */
#include <sqlite3.h>
#include "it.h"
#include "store.h"

#define CASES 800
#define MONTHS 10          /* (1 + MONTHS) events per case */

static void write_history(const char *path)
{
        FILE *f = fopen(path, "w");
        for (int c = 0; c < CASES; c++) {
                fprintf(f, "{\"v\":1,\"id\":\"ev-%d-open\",\"type\":\"case.opened\",\"at\":\"2025-01-02T09:00:00+01:00\","
                           "\"case\":\"EB-2025-%06d\",\"unit\":\"HV-EB-1\",\"actor\":\"hk%d\",\"data\":{\"caseworker\":\"hk%d\","
                           "\"household\":{\"adults\":1,\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}}\n",
                        c, c, c % 7, c % 7);
                for (int m = 1; m <= MONTHS; m++)
                        fprintf(f, "{\"v\":1,\"id\":\"ev-%d-dec-%d\",\"type\":\"assistance.decided\",\"at\":\"2025-%02d-05T10:00:00+01:00\","
                                   "\"case\":\"EB-2025-%06d\",\"unit\":\"HV-EB-1\",\"data\":{\"month\":\"2025-%02d\","
                                   "\"outcome\":\"granted\",\"decision\":\"d-%d-%d\",\"child_impact_documented\":true}}\n",
                                c, m, m, c, m, c, m);
        }
        fclose(f);
}

static long long applied(it_env_t *e)
{
        json_t *r = it_api(e, "{\"op\":\"stats\"}");
        long long v = r ? json_integer_value(json_object_get(json_object_get(r, "events"), "applied")) : -1;
        json_decref(r);
        return v;
}

/* Runs a program to completion with stdout+stderr into `log` in the env's dir; its exit status. */
static int run(it_env_t *e, const char *log, char *const argv[])
{
        pid_t pid = it_spawn(e, log, argv);
        int st = it_wait_exit(pid, 60000);
        if (st == -1) {
                kill(pid, SIGKILL);
                it_wait_exit(pid, 5000);
                return -1;
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool file_has(it_env_t *e, const char *name, const char *needle)
{
        char path[512], buf[16384];
        size_t n;
        FILE *f;

        it_path(e, name, path, sizeof(path));
        if (!(f = fopen(path, "r")))
                return false;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return strstr(buf, needle) != NULL;
}

int main(void)
{
        it_env_t e, r;
        char hist[512], db[512], copy[512], ctl[600], exe[600], conf2[512], bogus[512], future[512];
        store_file_info_t info = { 0 };
        long long before, after;
        char err[512];
        int rc;

        it_init(&e);
        it_config(&e, "2025-01-01T07:00:00+01:00", NULL);
        it_path(&e, "history.jsonl", hist, sizeof(hist));
        write_history(hist);
        it_path(&e, "bevaka.db", db, sizeof(db));
        it_path(&e, "copy.db", copy, sizeof(copy));
        snprintf(ctl, sizeof(ctl), "%s/bevakactl", e.bin);
        snprintf(exe, sizeof(exe), "%s/bevakad", e.bin);

        /* A paced feed (about three seconds of events) so that the backup runs among writes. */
        it_start_daemon(&e);
        it_connect(&e);
        it_start_feed(&e, hist, "--rate", "3000", "--wait-subscribers", "1", NULL);
        CHECK(it_wait_stat(&e, "events", "applied", 1500, 20000) >= 1500);

        before = applied(&e);
        {
                char *argv[] = { ctl, "--db", db, "backup", copy, NULL };
                CHECK_INT(run(&e, "backup.log", argv), 0);
        }
        after = applied(&e);
        CHECK(file_has(&e, "backup.log", "integrity ok"));
        CHECK_INT(store_check_file(copy, &info, err, sizeof(err)), 0);
        CHECK_INT(info.version, STORE_SCHEMA_VERSION);
        CHECK(info.events >= before && info.events <= after);
        CHECK(after > before);     /* the daemon was writing around the backup */
        fprintf(stderr, "backup: %lld applied before, %lld in the copy, %lld after\n", before,
                (long long)info.events, after);

        /* A backup of a missing store fails without leaving a file behind. */
        {
                char missing[512], out[512];
                it_path(&e, "missing.db", missing, sizeof(missing));
                it_path(&e, "out.db", out, sizeof(out));
                char *argv[] = { ctl, "--db", missing, "backup", out, NULL };
                CHECK_INT(run(&e, "backup-missing.log", argv), 1);
                CHECK(access(out, F_OK) != 0);
        }

        CHECK_INT(it_wait_stat(&e, "events", "applied", CASES * (1 + MONTHS), 30000), CASES * (1 + MONTHS));

        /* Restore into a second daemon's store. */
        it_init(&r);
        it_config(&r, "2025-01-01T07:00:00+01:00", NULL);
        it_path(&r, "bevakad.conf", conf2, sizeof(conf2));
        it_start_daemon(&r);            /* creates its store, which the restore replaces */
        it_connect(&r);
        CHECK_INT(it_wait_stat(&r, "events", "applied", 0, 10000), 0);
        {
                char *argv[] = { exe, "--config", conf2, "--restore", copy, NULL };
                CHECK(run(&r, "restore-busy.log", argv) != 0);   /* the daemon holds its store */
                CHECK(file_has(&r, "restore-busy.log", "in use by a running bevakad"));
        }
        CHECK_INT(WEXITSTATUS(it_stop(&r.daemon, SIGTERM)), 0);
        it_path(&r, "bogus.db", bogus, sizeof(bogus));
        it_write(bogus, "not a database, but long enough to look like one might be one day\n");
        {
                char *argv[] = { exe, "--config", conf2, "--restore", bogus, NULL };
                CHECK(run(&r, "restore-bogus.log", argv) != 0);
                CHECK(file_has(&r, "restore-bogus.log", "not a database"));
        }
        {
                char *argv[] = { exe, "--config", conf2, "--restore", copy, NULL };
                CHECK_INT(run(&r, "restore.log", argv), 0);
                CHECK(file_has(&r, "restore.log", "integrity ok"));
        }
        it_start_daemon(&r);
        it_connect(&r);
        CHECK_INT(it_wait_stat(&r, "events", "applied", info.events, 10000), info.events);

        /* With no daemon running, a backup leaves no -wal/-shm behind (the daemon's user could
         * not open files the operator's backup created). */
        CHECK_INT(WEXITSTATUS(it_stop(&r.daemon, SIGTERM)), 0);
        it_path(&r, "bevaka.db", future, sizeof(future));
        {
                char copy2[512], side[600];
                it_path(&r, "copy2.db", copy2, sizeof(copy2));
                char *argv[] = { ctl, "--db", future, "backup", copy2, NULL };
                CHECK_INT(run(&r, "backup-stopped.log", argv), 0);
                snprintf(side, sizeof(side), "%s-wal", future);
                CHECK(access(side, F_OK) != 0);
                snprintf(side, sizeof(side), "%s-shm", future);
                CHECK(access(side, F_OK) != 0);
        }

        /* A store from a newer bevaka: refused at start, with the reason. */
        {
                sqlite3 *h;
                CHECK(sqlite3_open(future, &h) == SQLITE_OK);
                CHECK(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
                sqlite3_close(h);
                char *argv[] = { exe, "--config", conf2, NULL };
                rc = run(&r, "future.log", argv);
                CHECK(rc != 0 && rc != -1);
                CHECK(file_has(&r, "future.log", "schema version 99 is newer than this bevakad"));
        }

        it_cleanup(&r);
        it_cleanup(&e);
        return tap_done();
}
