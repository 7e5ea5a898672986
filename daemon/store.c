/*
 * store.c owns the SQLite database: opening it in WAL mode with the
 * configured synchronous level, migrating the schema in order inside one
 * transaction per step, and every statement the daemon runs, each prepared
 * once at open. Counters live in memory and are written back in the same
 * transaction as the work that changed them, so a crash loses neither.
 * Its parts: store-cases.c (cases and their open-reminder lists),
 * store-checkpoint.c (the WAL checkpoint thread), store-file.c (backup,
 * check, restore), sharing store-private.h.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "log.h"
#include "store.h"
#include "store-private.h"

/* A reminder written whole, and a link line (?21 or excluded.links) appended once to its links. */
#define REM_INSERT "INSERT INTO reminders(id, case_id, rule, cycle, unit, caseworker, to_cw, to_leads, " \
        "severity, due, deliver_at, state, title, body, why, event_id, created_at, delivered_at, closed_at, " \
        "close_reason, links, delivery) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, " \
        "?15, ?16, ?17, ?18, ?19, ?20, ?21, ?23) "
#define REM_LINKS_APPEND(link) "links = CASE WHEN " link " = '' OR instr(char(10) || links, char(10) || " \
        link ") > 0 THEN links ELSE links || " link " END"

static const char *const sql_text[Q__COUNT] = {
        [Q_FEED_GET] = "SELECT last_seq FROM feeds WHERE source = ?1",
        [Q_FEED_SET] = "INSERT INTO feeds(source, last_seq) VALUES(?1, ?2) "
                       "ON CONFLICT(source) DO UPDATE SET last_seq = excluded.last_seq",
        [Q_FEEDS_ALL] = "SELECT source, last_seq FROM feeds ORDER BY source",
        [Q_EVENT_ADD] = "INSERT INTO events(id, source, seq, type, at, case_id, received_at, status, body) "
                        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        [Q_EVENT_BRIEF] = "SELECT type, at FROM events WHERE id = ?1",
        [Q_EVENT_STATUS] = "UPDATE events SET status = ?2 WHERE id = ?1",
        [Q_DEAD_ADD] = "INSERT INTO dead_letters(reason, received_at, raw) VALUES(?1, ?2, ?3)",
        [Q_CASE_GET] = "SELECT state, wake, rems, closed_at FROM cases WHERE case_id = ?1",
        /* closed_at is when the case closed (0 while open): the engine says it on every write. */
        [Q_CASE_PUT] = "INSERT INTO cases(case_id, unit, caseworker, open, wake, state, rems, closed_at) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                       "ON CONFLICT(case_id) DO UPDATE SET "
                       "unit = excluded.unit, caseworker = excluded.caseworker, open = excluded.open, "
                       "wake = excluded.wake, state = excluded.state, rems = excluded.rems, "
                       "closed_at = excluded.closed_at",
        /* A case whose wake day stays: its wake index entry is left alone. */
        [Q_CASE_UPDATE] = "UPDATE cases SET unit = ?2, caseworker = ?3, open = ?4, state = ?6, rems = ?7, "
                          "closed_at = ?8 "
                          "WHERE case_id = ?1",
        [Q_CASES_WAKING] = "SELECT case_id FROM cases WHERE wake <= ?1 ORDER BY wake, case_id LIMIT ?2",
        [Q_NEXT_WAKE] = "SELECT min(wake) FROM cases",
        [Q_REM_GET] = "SELECT *, rowid FROM reminders WHERE id = ?1",
        [Q_REM_BY_ROW] = "SELECT *, rowid FROM reminders WHERE rowid = ?1",
        [Q_REM_STATE] = "SELECT state FROM reminders WHERE id = ?1",
        /* A new reminder; an id already there is a replay and changes nothing. */
        [Q_REM_ADD] = REM_INSERT "ON CONFLICT(id) DO NOTHING",
        /* What a reminder is never changes; its owner and lifecycle do, updated in place, and
         * the event that changed them is appended to its links (once: a line is "role\tid\n"). */
        [Q_REM_PUT] = REM_INSERT "ON CONFLICT(id) DO UPDATE SET unit = excluded.unit, "
                      "caseworker = excluded.caseworker, deliver_at = excluded.deliver_at, "
                      "state = excluded.state, delivered_at = excluded.delivered_at, "
                      "closed_at = excluded.closed_at, close_reason = excluded.close_reason, "
                      "delivery = excluded.delivery, " REM_LINKS_APPEND("excluded.links"),
        /* The same update for a reminder just read (its row known): no insert attempted, no
         * id index probed. The id check keeps it right should the row ever be another's. */
        [Q_REM_UPDATE] = "UPDATE reminders SET unit = ?5, caseworker = ?6, deliver_at = ?11, state = ?12, "
                         "delivered_at = ?18, closed_at = ?19, close_reason = ?20, delivery = ?23, "
                         REM_LINKS_APPEND("?21")
                         " WHERE rowid = ?22 AND id = ?1",
        [Q_REM_DUE] = "SELECT *, rowid FROM reminders WHERE state IN (0, 3) AND deliver_at <= ?1 "
                      "ORDER BY deliver_at, id LIMIT ?2",
        [Q_REM_NEXT] = "SELECT min(deliver_at) FROM reminders WHERE state IN (0, 3)",
        [Q_REM_LINKS] = "SELECT links FROM reminders WHERE id = ?1",
        [Q_OUTBOX_ADD] = "INSERT INTO outbox(rseq, topic, payload, at) VALUES(?1, ?2, ?3, ?4)",
        [Q_META_PUT] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [Q_FACT_ADD] = "INSERT INTO facts(unit, case_id, seq, day, kind, a, b, text) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        [Q_FACT_MOVE] = "UPDATE facts SET unit = ?3 WHERE unit = ?2 AND case_id = ?1",
        [Q_PURGE_EVENTS] = "DELETE FROM events WHERE case_id = ?1",
        [Q_PURGE_REM_STATES] = "SELECT state, count(*) FROM reminders WHERE case_id = ?1 GROUP BY state",
        [Q_PURGE_REMS] = "DELETE FROM reminders WHERE case_id = ?1",
        [Q_PURGE_CASE] = "DELETE FROM cases WHERE case_id = ?1",
        [Q_TOMB_ADD] = "INSERT INTO purged_cases(case_hash, purged_at) VALUES(?1, ?2) "
                       "ON CONFLICT(case_hash) DO UPDATE SET purged_at = excluded.purged_at",
        [Q_TOMB_GET] = "SELECT purged_at FROM purged_cases WHERE case_hash = ?1",
        [Q_CASES_EXPIRED] = "SELECT case_id FROM cases WHERE open = 0 AND closed_at > 0 AND closed_at < ?1 "
                            "ORDER BY closed_at LIMIT ?2",
        [Q_REMS_EXPIRED] = "SELECT rowid, state FROM reminders WHERE state >= 4 AND closed_at < ?1 "
                           "ORDER BY closed_at LIMIT ?2",
        [Q_REM_DELETE] = "DELETE FROM reminders WHERE rowid = ?1",
        /* messages are appended in time order: only the oldest few are looked at, never a scan */
        [Q_OUTBOX_EXPIRED] = "DELETE FROM outbox WHERE rseq IN (SELECT rseq FROM (SELECT rseq, at FROM outbox "
                             "ORDER BY rseq LIMIT ?2) WHERE at < ?1)",
        /* a purge at once: the case's published messages go too (a scan, for a rare admin op) */
        [Q_OUTBOX_CASE] = "DELETE FROM outbox WHERE instr(payload, '\"case\":' || json_quote(?1)) > 0",
        [Q_DEAD_EXPIRED] = "DELETE FROM dead_letters WHERE rowid IN (SELECT rowid FROM dead_letters WHERE "
                           "received_at < ?1 OR rowid <= (SELECT max(rowid) FROM dead_letters) - ?2 "
                           "ORDER BY rowid LIMIT ?3)",
};

static const char *const counter_key[CNT__COUNT] = {
        [CNT_APPLIED] = "events.applied", [CNT_DUPLICATES] = "events.duplicates",
        [CNT_DEAD_LETTERS] = "events.dead_letters", [CNT_IGNORED] = "events.ignored",
        [CNT_GAPS] = "feed.gaps", [CNT_REPLAYS] = "feed.replays", [CNT_RSEQ] = "rseq",
        [CNT_FACTS] = "facts.seq",
        [CNT_MASKED] = "privacy.masked", [CNT_PURGE_RUNS] = "purge.runs", [CNT_PURGE_CASES] = "purge.cases",
        [CNT_PURGE_EVENTS] = "purge.events", [CNT_PURGE_REMINDERS] = "purge.reminders",
        [CNT_PURGE_DEAD] = "purge.dead_letters", [CNT_PURGE_DROPPED] = "purge.dropped",
        [CNT_WAKE_DAY] = "time.wake_day", [CNT_FEED_WATERMARKS] = "feed.watermarks",
        [CNT_PUBLISHED] = "rseq.published",
        [CNT_DIGEST_AT] = "digest.at", [CNT_BACKLOG] = "delivery.backlog", [CNT_EXPIRED] = "delivery.expired",
        [CNT_SUPERSEDED] = "delivery.superseded", [CNT_SUMMARIES] = "delivery.summaries",
        [CNT_DIGESTS] = "delivery.digests", [CNT_GOLIVE_AT] = "delivery.golive_at",
        [CNT_REM_FIRST + REM_SCHEDULED] = "reminders.scheduled",
        [CNT_REM_FIRST + REM_DELIVERED] = "reminders.delivered",
        [CNT_REM_FIRST + REM_ACKNOWLEDGED] = "reminders.acknowledged",
        [CNT_REM_FIRST + REM_SNOOZED] = "reminders.snoozed",
        [CNT_REM_FIRST + REM_RESOLVED] = "reminders.resolved",
        [CNT_REM_FIRST + REM_CANCELLED] = "reminders.cancelled",
};

/* Migrations: index i brings user_version i to i + 1. Never edit a shipped one. */
static const char *const migrations[] = {
        /* 0 -> 1 */
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
        "  at INTEGER NOT NULL);",
        /* 1 -> 2: case states become the rules engine's binary form (a tenth of the JSON). The
         * JSON rows are copied as they are; the engine reads both and rewrites a case's row in
         * the binary form when the case next changes. */
        "CREATE TABLE cases2(case_id TEXT PRIMARY KEY, unit TEXT NOT NULL, caseworker TEXT NOT NULL,"
        "  open INTEGER NOT NULL, wake INTEGER NOT NULL, state BLOB NOT NULL) WITHOUT ROWID;"
        "INSERT INTO cases2 SELECT case_id, unit, caseworker, open, wake, CAST(state AS BLOB) FROM cases;"
        "DROP TABLE cases;"
        "ALTER TABLE cases2 RENAME TO cases;"
        "CREATE INDEX cases_wake ON cases(wake);",
        /* 2 -> 3: reminders in the order they were made (a rowid table: what changes is recent,
         * so it sits on few pages), their event links in the row instead of a table of their
         * own, the owner index on open reminders only, and each case's open reminders (their
         * rows) in the case's row instead of an index (docs/performance.md, finding 6). */
        "CREATE TABLE reminders3(id TEXT NOT NULL UNIQUE, case_id TEXT NOT NULL, rule INTEGER NOT NULL,"
        "  cycle TEXT NOT NULL, unit TEXT NOT NULL, caseworker TEXT NOT NULL, to_cw INTEGER NOT NULL,"
        "  to_leads INTEGER NOT NULL, severity INTEGER NOT NULL, due INTEGER NOT NULL,"
        "  deliver_at INTEGER NOT NULL, state INTEGER NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,"
        "  why TEXT NOT NULL, event_id TEXT NOT NULL, created_at INTEGER NOT NULL,"
        "  delivered_at INTEGER NOT NULL, closed_at INTEGER NOT NULL, close_reason TEXT NOT NULL,"
        "  links TEXT NOT NULL);"
        "INSERT INTO reminders3 SELECT r.*, coalesce((SELECT group_concat(l.role || char(9) || l.event_id"
        "  || char(10), '') FROM (SELECT role, event_id FROM reminder_events WHERE reminder_id = r.id"
        "  ORDER BY rowid) l), '') FROM reminders r ORDER BY r.created_at, r.id;"
        "DROP TABLE reminder_events;"
        "DROP TABLE reminders;"
        "ALTER TABLE reminders3 RENAME TO reminders;"
        "CREATE INDEX reminders_pending ON reminders(deliver_at) WHERE state IN (0, 3);"
        "CREATE INDEX reminders_owner ON reminders(unit, caseworker) WHERE state < 4;"
        "ALTER TABLE cases ADD COLUMN rems TEXT NOT NULL DEFAULT '';"
        "CREATE INDEX migrate3_open ON reminders(case_id) WHERE state < 4;"
        "UPDATE cases SET rems = coalesce((SELECT group_concat(r, ',') FROM (SELECT rowid AS r FROM reminders"
        "  WHERE case_id = cases.case_id AND state < 4 ORDER BY rowid)), '');"
        "DROP INDEX migrate3_open;",
        /* 3 -> 4: the indicators' facts (docs/indicators.md), a derived table kept as events are
         * applied: one row per fact, clustered by (unit, case) so that a unit's facts are one
         * range; a case that moves unit takes its facts along (found by the old unit: no
         * second index to write with every event). Reminders get an
         * index by unit and creation for the per-rule figures. A store that already holds
         * events has no facts for them until `bevakad --rebuild` (facts.complete says so). */
        "CREATE TABLE facts(unit TEXT NOT NULL, case_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        "  day INTEGER NOT NULL, kind INTEGER NOT NULL, a INTEGER NOT NULL, b INTEGER NOT NULL,"
        "  text TEXT NOT NULL, PRIMARY KEY(unit, case_id, seq)) WITHOUT ROWID;"
        "CREATE INDEX reminders_unit ON reminders(unit, due);"
        "INSERT INTO meta(key, value) SELECT 'facts.complete', NOT EXISTS(SELECT 1 FROM events);",
        /* 4 -> 5: a minimised store (docs/privacy.md). migrate_5() first rewrites every event into
         * its normalised form and every dead letter into its minimised, masked form (with
         * secure_delete on, the freed bytes are zeroed); then the schema for retention. A closed
         * case's closing time is its last case.closed event's (or its last event's). */
        "ALTER TABLE events RENAME COLUMN raw TO body;"
        "ALTER TABLE cases ADD COLUMN closed_at INTEGER NOT NULL DEFAULT 0;"
        "UPDATE cases SET closed_at = coalesce((SELECT max(at) FROM events WHERE case_id = cases.case_id"
        "  AND type = 'case.closed'), (SELECT max(at) FROM events WHERE case_id = cases.case_id), 1)"
        "  WHERE open = 0;"
        "CREATE INDEX cases_closed ON cases(closed_at) WHERE open = 0;"
        "CREATE INDEX reminders_case ON reminders(case_id);"
        "CREATE INDEX reminders_closed ON reminders(closed_at) WHERE state >= 4;"
        "CREATE TABLE purged_cases(case_hash BLOB PRIMARY KEY, purged_at INTEGER NOT NULL) WITHOUT ROWID;",
        /* 5 -> 6: the log's body keeps only what its columns do not (event_write_tail(): unit,
         * actor, data); the whole normalised form is the columns and the body joined
         * (store_events_each). A body that is not JSON (an event the codec refused at step 5)
         * stays as it is. */
        "UPDATE events SET body = json_remove(body, '$.v', '$.id', '$.source', '$.seq', '$.type', '$.at',"
        "  '$.case') WHERE json_valid(body);",
        /* 6 -> 7: how a reminder is delivered (rem_delivery_t: pop-up, backlog, expiry), decided
         * once when it is made (docs/rules.md §5, "Delivery"), and REM_DIGESTED_BIT (16) once a
         * leads' digest has listed it; older ones pop up, as they did. */
        "ALTER TABLE reminders ADD COLUMN delivery INTEGER NOT NULL DEFAULT 0;",
};

static int migrate_5(store_t *s);

/* The data a step rewrites in C, run before its SQL in the same transaction; NULL = none. */
static int (*const migration_fns[])(store_t *s) = { NULL, NULL, NULL, NULL, migrate_5, NULL, NULL };

int st_sql_fail(store_t *s, const char *what)
{
        int code = sqlite3_errcode(s->db) & 0xff;
        s->failed = true;
        log_errx("store: %s: %s", what, sqlite3_errmsg(s->db));
        return code == SQLITE_FULL ? -ENOSPC : code == SQLITE_BUSY ? -EBUSY : -EIO;
}


int st_exec(store_t *s, const char *sql)
{
        char *msg = NULL;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                log_errx("store: %s", msg ? msg : "exec failed");
                sqlite3_free(msg);
                return (rc & 0xff) == SQLITE_FULL ? -ENOSPC : (rc & 0xff) == SQLITE_BUSY ? -EBUSY : -EIO;
        }
        return 0;
}

/* ---- migration 4 -> 5: the minimised store ---------------------------------- */

/* bevaka_normalize(raw): an event's normalised form; one the codec now refuses (a personnummer
 * in a member that took none before) keeps its position members only, masked. */
static void sql_normalize(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
        const char *raw = (const char *)sqlite3_value_text(argv[0]);
        size_t len = (size_t)sqlite3_value_bytes(argv[0]), n = 0;
        char reason[EV_PARSE_REASON_SIZE];
        event_t ev;
        char *text;

        (void)argc;
        if (!raw)
                raw = "";
        if (event_parse(raw, len, &ev, reason, sizeof(reason)) == 0)
                text = event_normalize(&ev, &n);
        else
                text = event_dead_letter_form(raw, len, reason, &n);
        if (!text) {
                sqlite3_result_error_nomem(ctx);
                return;
        }
        sqlite3_result_text(ctx, text, (int)n, free);
}

/* bevaka_dead_form(raw, reason): a dead letter's minimised, masked form. */
static void sql_dead_form(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
        const void *raw = sqlite3_value_blob(argv[0]);
        size_t len = (size_t)sqlite3_value_bytes(argv[0]), n = 0;
        char *text = event_dead_letter_form(raw ? raw : "", len, (const char *)sqlite3_value_text(argv[1]), &n);

        (void)argc;
        if (!text) {
                sqlite3_result_error_nomem(ctx);
                return;
        }
        sqlite3_result_blob(ctx, text, (int)n, free);
}

static int migrate_5(store_t *s)
{
        int r;

        if (sqlite3_create_function(s->db, "bevaka_normalize", 1, SQLITE_UTF8, NULL, sql_normalize, NULL,
                                    NULL) != SQLITE_OK ||
            sqlite3_create_function(s->db, "bevaka_dead_form", 2, SQLITE_UTF8, NULL, sql_dead_form, NULL,
                                    NULL) != SQLITE_OK)
                return -ENOMEM;
        r = st_exec(s, "UPDATE events SET raw = bevaka_normalize(raw);"
                    "UPDATE dead_letters SET raw = bevaka_dead_form(raw, reason);");
        sqlite3_create_function(s->db, "bevaka_normalize", 1, SQLITE_UTF8, NULL, NULL, NULL, NULL);
        sqlite3_create_function(s->db, "bevaka_dead_form", 2, SQLITE_UTF8, NULL, NULL, NULL, NULL);
        return r;
}

static int migrate(store_t *s)
{
        sqlite3_stmt *st;
        int version = 0;
        const int latest = (int)BK_ARRAY_SIZE(migrations);

        if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
                return st_sql_fail(s, "user_version");
        if (sqlite3_step(st) == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);

        if (version > latest) {
                char v[16];
                snprintf(v, sizeof(v), "%d", version);
                log_struct(LOG_ERR, LOG_ID_SCHEMA, LOG_FIELDS({ "BEVAKA_SCHEMA_VERSION", v }),
                           "store: database schema version %d is newer than this bevakad (%d); refusing "
                           "(install the newer bevakad again, or restore a backup made by this version)",
                           version, latest);
                return -EPROTO;
        }
        for (int v = version; v < latest; v++) {
                char pragma[64];
                int r;

                if ((r = st_exec(s, "BEGIN IMMEDIATE")) < 0)
                        return r;
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
                if ((migration_fns[v] && (r = migration_fns[v](s)) < 0) || (r = st_exec(s, migrations[v])) < 0 ||
                    (r = st_exec(s, pragma)) < 0) {
                        st_exec(s, "ROLLBACK");
                        return r;
                }
                if ((r = st_exec(s, "COMMIT")) < 0)
                        return r;
                log_info("store: migrated schema to version %d", v + 1);
        }
        /* The minimised (5) and compact (6) logs leave the old bytes in free pages (zeroed) and the
         * file as large as before: rebuilt once, and the WAL that held the rebuild emptied. */
        if (version > 0 && version < 6 && latest >= 6) {
                int r;
                if ((r = st_exec(s, "VACUUM")) < 0 || (r = st_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)")) < 0)
                        return r;
                log_info("store: compacted after the move to the compact event log");
        }
        return 0;
}


static int load_counters(store_t *s)
{
        sqlite3_stmt *st;
        /* A counter with no row yet is 0: a rolled-back first batch must not leave its value. */
        memset(s->counter, 0, sizeof(s->counter));
        if (sqlite3_prepare_v2(s->db, "SELECT key, value FROM meta", -1, &st, NULL) != SQLITE_OK)
                return st_sql_fail(s, "meta");
        bool seen[CNT__COUNT] = { false };
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *k = (const char *)sqlite3_column_text(st, 0);
                for (int i = 0; i < CNT__COUNT; i++)
                        if (k && strcmp(k, counter_key[i]) == 0) {
                                s->counter[i] = sqlite3_column_int64(st, 1);
                                seen[i] = true;
                        }
        }
        sqlite3_finalize(st);
        /* A store from before the published-up-to mark published everything it has: the mark
         * starts at its last rseq (written with the first commit), not at 0, which would send
         * its whole outbox again. */
        if (!seen[CNT_PUBLISHED]) {
                s->counter[CNT_PUBLISHED] = s->counter[CNT_RSEQ];
                s->counter_dirty[CNT_PUBLISHED] = true;
        }
        return 0;
}

int store_open(const char *path, bool sync_full, store_t **out)
{
        store_t *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->lock_fd = -1;
        /* SQLite creates a new file 0644 (less the umask), and its -wal and -shm with the same
         * mode: outside systemd (no UMask=) the cases would be readable by every local user. A
         * store is created 0600 here, empty, which SQLite takes as a new database. */
        if (strcmp(path, ":memory:") != 0 && path[0]) {
                int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd >= 0)
                        close(fd);
        }
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK) {
                log_errx("store: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
                r = -EIO;
                goto fail;
        }
        /*
         * Two daemons on one store would each sequence the same feeds, and
         * --restore must not swap the file under a running one. flock(2) is
         * separate from SQLite's fcntl locks; this fd stays open until after
         * sqlite3_close, since closing any fd of the file would drop those.
         */
        if (strcmp(path, ":memory:") != 0 && path[0]) {
                s->lock_fd = open(path, O_RDONLY | O_CLOEXEC);
                if (s->lock_fd >= 0 && flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                        r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                        log_errx("store: %s is in use by another bevakad", path);
                        goto fail;
                }
        }
        sqlite3_busy_timeout(s->db, 5000);
        sqlite3_extended_result_codes(s->db, 1);
        if ((r = st_exec(s, "PRAGMA journal_mode = WAL")) < 0 ||
            (r = st_exec(s, sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")) < 0 ||
            (r = st_exec(s, "PRAGMA foreign_keys = ON")) < 0 ||
            /* Deleted rows (a purge, a rewritten row) are overwritten with zeros, not left in free
             * pages: what retention deletes leaves the file (docs/operations.md, backups). */
            (r = st_exec(s, "PRAGMA secure_delete = ON")) < 0 ||
            /* Cases, reminders and their indexes are read at random: a 32 MB page cache keeps the
             * working set of a Stockholm-size district in memory instead of re-reading pages. */
            (r = st_exec(s, "PRAGMA cache_size = -32768")) < 0 ||
            (r = migrate(s)) < 0 || (r = load_counters(s)) < 0 || (r = st_count_tombstones(s)) < 0)
                goto fail;
        for (int i = 0; i < Q__COUNT; i++) {
                if (sqlite3_prepare_v3(s->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL)
                    != SQLITE_OK) {
                        r = st_sql_fail(s, sql_text[i]);
                        goto fail;
                }
        }
        /* The counts by state are kept incrementally; recount once so they are right for any file. */
        if ((r = store_begin(s)) < 0 || (r = st_recount_reminders(s)) < 0 || (r = store_commit(s)) < 0)
                goto fail;
        *out = s;
        return 0;
fail:
        store_close(&s);
        return r;
}

void store_close(store_t **sp)
{
        store_t *s = *sp;
        if (!s)
                return;
        if (s->in_tx)
                store_rollback(s);
        st_checkpointer_stop(s);
        for (int i = 0; i < Q__COUNT; i++)
                sqlite3_finalize(s->q[i]);
        if (s->db)
                sqlite3_close(s->db);
        if (s->lock_fd >= 0)
                close(s->lock_fd);
        jw_free(&s->body);
        free(s);
        *sp = NULL;
}

int store_schema_version(store_t *s)
{
        sqlite3_stmt *st;
        int v = -1;
        if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return v;
}

/* ---- transactions ------------------------------------------------------- */

int store_begin(store_t *s)
{
        int r;
        if (s->in_tx)
                return 0;
        if ((r = st_exec(s, "BEGIN IMMEDIATE")) < 0)
                return r;
        s->in_tx = true;
        s->failed = false;
        return 0;
}

static int flush_counters(store_t *s)
{
        sqlite3_stmt *q = s->q[Q_META_PUT];
        for (int i = 0; i < CNT__COUNT; i++) {
                if (!s->counter_dirty[i])
                        continue;
                sqlite3_bind_text(q, 1, counter_key[i], -1, SQLITE_STATIC);
                sqlite3_bind_int64(q, 2, s->counter[i]);
                int rc = sqlite3_step(q);
                sqlite3_reset(q);
                if (rc != SQLITE_DONE)
                        return st_sql_fail(s, "meta put");
                s->counter_dirty[i] = false;
        }
        return 0;
}

static int flush_feeds(store_t *s)
{
        sqlite3_stmt *q = s->q[Q_FEED_SET];
        for (int i = 0; i < s->n_feed_pending; i++) {
                sqlite3_bind_text(q, 1, s->feed_pending[i].source, -1, SQLITE_STATIC);
                sqlite3_bind_int64(q, 2, s->feed_pending[i].seq);
                int r = st_step_done(s, q, "feed set");
                if (r != 0)
                        return r;
        }
        s->n_feed_pending = 0;
        return 0;
}

int store_commit(store_t *s)
{
        int r;
        if (!s->in_tx)
                return 0;
        /* After SQLITE_FULL SQLite may have ended the transaction itself: committing what is
         * left (say, the counters, in autocommit mode) would store half a batch. */
        if (s->failed || sqlite3_get_autocommit(s->db)) {
                store_rollback(s);
                return -EIO;
        }
        if ((r = flush_feeds(s)) < 0 || (r = flush_counters(s)) < 0 || (r = st_exec(s, "COMMIT")) < 0) {
                store_rollback(s);
                return r;
        }
        s->in_tx = false;
        return 0;
}

int store_rollback(store_t *s)
{
        if (!s->in_tx)
                return 0;
        s->in_tx = false;
        s->n_feed_pending = 0;
        /* After SQLITE_FULL and the like SQLite has already rolled back by itself. */
        if (!sqlite3_get_autocommit(s->db))
                st_exec(s, "ROLLBACK");
        /* In-memory counters may now be ahead of the database: reload them. */
        memset(s->counter_dirty, 0, sizeof(s->counter_dirty));
        return load_counters(s);
}

int64_t store_counter(store_t *s, store_counter_t c) { return s->counter[c]; }

void store_counter_add(store_t *s, store_counter_t c, int64_t n)
{
        s->counter[c] += n;
        s->counter_dirty[c] = true;
}

void store_counter_set(store_t *s, store_counter_t c, int64_t v)
{
        if (s->counter[c] != v)
                store_counter_add(s, c, v - s->counter[c]);
}

/* ---- helpers -------------------------------------------------------------- */

int st_step_done(store_t *s, sqlite3_stmt *q, const char *what)
{
        int rc = sqlite3_step(q);
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        if (rc == SQLITE_DONE)
                return 0;
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                return BK_E_DUPLICATE;
        return st_sql_fail(s, what);
}

const char *st_col_text(sqlite3_stmt *q, int i)
{
        const char *t = (const char *)sqlite3_column_text(q, i);
        return t ? t : "";
}

/* ---- feeds ---------------------------------------------------------------- */

int64_t store_feed_last_seq(store_t *s, const char *source)
{
        sqlite3_stmt *q = s->q[Q_FEED_GET];
        int64_t v = 0;
        for (int i = 0; i < s->n_feed_pending; i++)
                if (strcmp(s->feed_pending[i].source, source) == 0)
                        return s->feed_pending[i].seq;
        sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
                v = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
        return v;
}

int store_feed_set(store_t *s, const char *source, int64_t last_seq)
{
        sqlite3_stmt *q = s->q[Q_FEED_SET];
        int i, r;

        if (s->in_tx && strlen(source) <= EV_SOURCE_MAX) {
                for (i = 0; i < s->n_feed_pending; i++)
                        if (strcmp(s->feed_pending[i].source, source) == 0)
                                break;
                if (i == FEEDS_PENDING) {
                        if ((r = flush_feeds(s)) != 0)
                                return r;
                        i = 0;
                }
                if (i == s->n_feed_pending) {
                        memcpy(s->feed_pending[i].source, source, strlen(source) + 1);
                        s->n_feed_pending++;
                }
                s->feed_pending[i].seq = last_seq;
                return 0;
        }
        sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, last_seq);
        return st_step_done(s, q, "feed set");
}

int store_feeds_each(store_t *s, void (*fn)(void *, const char *, int64_t), void *ud)
{
        sqlite3_stmt *q = s->q[Q_FEEDS_ALL];
        int rc;
        if ((rc = flush_feeds(s)) != 0)
                return rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW)
                fn(ud, st_col_text(q, 0), sqlite3_column_int64(q, 1));
        sqlite3_reset(q);
        return rc == SQLITE_DONE ? 0 : st_sql_fail(s, "feeds");
}

/* ---- events --------------------------------------------------------------- */

int store_event_add(store_t *s, const event_t *ev, ev_status_t status, bk_time_t received_at)
{
        sqlite3_stmt *q = s->q[Q_EVENT_ADD];
        const char *body;
        size_t len = 0;

        /* The body is what the columns do not hold, written straight from the decoded event into
         * a buffer the store keeps (event_write_tail()). */
        jw_reset(&s->body);
        event_write_tail(&s->body, ev);
        if (!(body = jw_text(&s->body, &len)))
                return -ENOMEM;
        sqlite3_bind_text(q, 1, ev->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, ev->source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, ev->seq);
        sqlite3_bind_text(q, 4, ev->type_name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, ev->at);
        sqlite3_bind_text(q, 6, ev->case_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 7, received_at);
        sqlite3_bind_int(q, 8, status);
        sqlite3_bind_text(q, 9, body, (int)len, SQLITE_STATIC);
        return st_step_done(s, q, "event add");
}

int store_event_set_status(store_t *s, const char *id, ev_status_t status)
{
        sqlite3_stmt *q = s->q[Q_EVENT_STATUS];
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 2, status);
        return st_step_done(s, q, "event status");
}

int store_events_each(store_t *s, int (*fn)(void *, const char *, size_t), void *ud)
{
        sqlite3_stmt *q;
        jw_t w = { 0 };
        int rc, r = 0;

        /* The normalised form, joined again from the columns and the body (schema 6). */
        if (sqlite3_prepare_v2(s->db, "SELECT id, source, seq, type, at, case_id, body FROM events ORDER BY rowid",
                               -1, &q, NULL) != SQLITE_OK)
                return st_sql_fail(s, "events");
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                const char *body = (const char *)sqlite3_column_text(q, 6), *text;
                size_t len = (size_t)sqlite3_column_bytes(q, 6);

                jw_reset(&w);
                if (event_write_join(&w, st_col_text(q, 0), st_col_text(q, 1), sqlite3_column_int64(q, 2),
                                     st_col_text(q, 3), sqlite3_column_int64(q, 4), st_col_text(q, 5),
                                     body ? body : "", len) != 0)
                        text = body ? body : "";        /* not a tail: the reader says why */
                else if (!(text = jw_text(&w, &len))) {
                        r = -ENOMEM;
                        break;
                }
                if ((r = fn(ud, text, len)) < 0)
                        break;
        }
        sqlite3_finalize(q);
        jw_free(&w);
        if (r < 0)
                return r;
        return rc == SQLITE_DONE ? 0 : st_sql_fail(s, "events");
}

int store_event_brief(store_t *s, const char *id, char *type, size_t tn, bk_time_t *at)
{
        sqlite3_stmt *q = s->q[Q_EVENT_BRIEF];
        int r = BK_E_NOT_FOUND;
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
                bk_strlcpy(type, st_col_text(q, 0), tn);
                *at = sqlite3_column_int64(q, 1);
                r = 0;
        }
        sqlite3_reset(q);
        return r;
}

/* ---- reminders ------------------------------------------------------------ */

static int rem_put(store_t *s, const reminder_t *r, const char *event_id, const char *role, bool add);

/* Column order of "SELECT *, rowid FROM reminders" is the CREATE TABLE order, then the row. */
static void rem_from_row(sqlite3_stmt *q, reminder_t *r)
{
        memset(r, 0, sizeof(*r));
        bk_strlcpy(r->id, st_col_text(q, 0), sizeof(r->id));
        bk_strlcpy(r->case_id, st_col_text(q, 1), sizeof(r->case_id));
        r->rule = sqlite3_column_int(q, 2);
        bk_strlcpy(r->cycle, st_col_text(q, 3), sizeof(r->cycle));
        bk_strlcpy(r->unit, st_col_text(q, 4), sizeof(r->unit));
        bk_strlcpy(r->caseworker, st_col_text(q, 5), sizeof(r->caseworker));
        r->to_caseworker = sqlite3_column_int(q, 6);
        r->to_leads = sqlite3_column_int(q, 7);
        r->severity = (severity_t)sqlite3_column_int(q, 8);
        r->due = (cal_day_t)sqlite3_column_int64(q, 9);
        r->deliver_at = sqlite3_column_int64(q, 10);
        r->state = (rem_state_t)sqlite3_column_int(q, 11);
        bk_strlcpy(r->title, st_col_text(q, 12), sizeof(r->title));
        bk_strlcpy(r->body, st_col_text(q, 13), sizeof(r->body));
        bk_strlcpy(r->why, st_col_text(q, 14), sizeof(r->why));
        bk_strlcpy(r->event_id, st_col_text(q, 15), sizeof(r->event_id));
        r->created_at = sqlite3_column_int64(q, 16);
        r->delivered_at = sqlite3_column_int64(q, 17);
        r->closed_at = sqlite3_column_int64(q, 18);
        bk_strlcpy(r->close_reason, st_col_text(q, 19), sizeof(r->close_reason));
        /* 20 is links: see store_rem_events() */
        r->delivery = (rem_delivery_t)(sqlite3_column_int(q, 21) & REM_DELIVERY_MASK);
        r->digested = (sqlite3_column_int(q, 21) & REM_DIGESTED_BIT) != 0;
        r->summarized = (sqlite3_column_int(q, 21) & REM_SUMMARIZED_BIT) != 0;
        r->row = sqlite3_column_int64(q, 22);
}

/* Reads the one reminder the bound statement q finds: 0, BK_E_NOT_FOUND or an error. */
static int rem_one(store_t *s, sqlite3_stmt *q, reminder_t *r, const char *what)
{
        int rc = sqlite3_step(q), res = BK_E_NOT_FOUND;
        if (rc == SQLITE_ROW) {
                rem_from_row(q, r);
                res = 0;
        } else if (rc != SQLITE_DONE) {
                res = st_sql_fail(s, what);
        }
        sqlite3_reset(q);
        return res;
}

int store_rem_get(store_t *s, const char *id, reminder_t *r)
{
        sqlite3_stmt *q = s->q[Q_REM_GET];
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        return rem_one(s, q, r, "reminder get");
}

int store_rem_put(store_t *s, const reminder_t *r)
{
        sqlite3_stmt *q = s->q[Q_REM_STATE];
        int old = -1;

        sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
                old = sqlite3_column_int(q, 0);
        sqlite3_reset(q);
        return store_rem_put_from(s, r, old, NULL, NULL);
}

int store_rem_put_from(store_t *s, const reminder_t *r, int old, const char *event_id, const char *role)
{
        int res;

        if ((res = rem_put(s, r, event_id, role, old < 0 && r->row <= 0)) != 0)
                return res;
        /* Counts by state are kept up to date here, so stats and STATUS= never scan the table. */
        if (old >= 0 && old < REM__STATE_COUNT)
                store_counter_add(s, CNT_REM_FIRST + old, -1);
        if ((unsigned)r->state < REM__STATE_COUNT)
                store_counter_add(s, CNT_REM_FIRST + r->state, 1);
        return 0;
}

static int rem_put(store_t *s, const reminder_t *r, const char *event_id, const char *role, bool add)
{
        sqlite3_stmt *q = s->q[r->row > 0 ? Q_REM_UPDATE : add ? Q_REM_ADD : Q_REM_PUT];
        int res;
        /* role and id hold no control characters (event ids are checked at ingest), so a link
         * is one line and the tab splits it */
        char link[EV_ID_MAX + 32] = "";

        if (event_id && event_id[0] && role && role[0])
                snprintf(link, sizeof(link), "%s\t%s\n", role, event_id);
        sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, r->unit, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 6, r->caseworker, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 11, r->deliver_at);
        sqlite3_bind_int(q, 12, r->state);
        sqlite3_bind_int64(q, 18, r->delivered_at);
        sqlite3_bind_int64(q, 19, r->closed_at);
        sqlite3_bind_text(q, 20, r->close_reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 21, link, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 23, (int)r->delivery | (r->digested ? REM_DIGESTED_BIT : 0) |
                                (r->summarized ? REM_SUMMARIZED_BIT : 0));
        if (r->row <= 0) {
                /* what a reminder is: written once */
                sqlite3_bind_text(q, 2, r->case_id, -1, SQLITE_STATIC);
                sqlite3_bind_int(q, 3, r->rule);
                sqlite3_bind_text(q, 4, r->cycle, -1, SQLITE_STATIC);
                sqlite3_bind_int(q, 7, r->to_caseworker);
                sqlite3_bind_int(q, 8, r->to_leads);
                sqlite3_bind_int(q, 9, r->severity);
                sqlite3_bind_int64(q, 10, r->due);
                sqlite3_bind_text(q, 13, r->title, -1, SQLITE_STATIC);
                sqlite3_bind_text(q, 14, r->body, -1, SQLITE_STATIC);
                sqlite3_bind_text(q, 15, r->why, -1, SQLITE_STATIC);
                sqlite3_bind_text(q, 16, r->event_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(q, 17, r->created_at);
                if ((res = st_step_done(s, q, "reminder put")) != 0)
                        return res;
                return add && sqlite3_changes(s->db) == 0 ? BK_E_DUPLICATE : 0;
        }
        sqlite3_bind_int64(q, 22, r->row);
        if ((res = st_step_done(s, q, "reminder update")) != 0 || sqlite3_changes(s->db) == 1)
                return res;
        reminder_t fresh = *r;    /* the row is not this reminder's (cannot happen): by id */
        fresh.row = 0;
        return rem_put(s, &fresh, event_id, role, false);
}

static int collect(store_t *s, sqlite3_stmt *q, reminder_t **list, int *n, const char *what)
{
        int cap = 0, rc;
        reminder_t *v = NULL;
        *n = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                if (*n == cap) {
                        cap = cap ? cap * 2 : 8;
                        reminder_t *nv = realloc(v, (size_t)cap * sizeof(*v));
                        if (!nv) {
                                free(v);
                                sqlite3_reset(q);
                                return -ENOMEM;
                        }
                        v = nv;
                }
                rem_from_row(q, &v[(*n)++]);
        }
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        *list = v;
        if (rc != SQLITE_DONE) {
                free(v);
                *list = NULL;
                *n = 0;
                return st_sql_fail(s, what);
        }
        return 0;
}

int store_rem_get_row(store_t *s, int64_t row, reminder_t *r)
{
        sqlite3_stmt *q = s->q[Q_REM_BY_ROW];
        sqlite3_bind_int64(q, 1, row);
        return rem_one(s, q, r, "reminder by row");
}

int64_t store_last_row(store_t *s) { return sqlite3_last_insert_rowid(s->db); }

int store_rem_due(store_t *s, bk_time_t now, int max, reminder_t **list, int *n)
{
        sqlite3_stmt *q = s->q[Q_REM_DUE];
        sqlite3_bind_int64(q, 1, now);
        sqlite3_bind_int(q, 2, max);
        return collect(s, q, list, n, "due reminders");
}

bk_time_t store_rem_next_delivery(store_t *s)
{
        sqlite3_stmt *q = s->q[Q_REM_NEXT];
        bk_time_t v = INT64_MAX;
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
                v = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
        return v;
}

int store_rem_query(store_t *s, const rem_filter_t *f, reminder_t **list, int *n)
{
        sqlite3_stmt *q;
        char sql[512];
        int r, rule = f->rule && f->rule[0] ? rules_from_name(f->rule) : -1;

        bool of_case = f->case_id && f->case_id[0];

        /* Only the filters given, as plain terms, so that the planner can use the indexes: an
         * owner's open reminders come from the small partial index reminders_owner, a case's
         * from the list in its row. A case's closed ones have no index: a scan (audits only). */
        snprintf(sql, sizeof(sql), "SELECT *, rowid FROM reminders WHERE 1%s%s%s%s%s%s "
                 "ORDER BY deliver_at, id LIMIT ?7",
                 f->unit && f->unit[0] ? " AND unit = ?1" : "",
                 f->caseworker && f->caseworker[0] ? " AND caseworker = ?2" : "",
                 !of_case ? "" : f->state < REM_RESOLVED && f->state != -2
                 ? " AND case_id = ?3 AND rowid IN (SELECT value FROM json_each('[' || "
                   "(SELECT rems FROM cases WHERE case_id = ?3) || ']'))"
                 : " AND case_id = ?3",
                 f->rule && f->rule[0] ? " AND rule = ?4" : "",
                 f->state == -2 ? "" : f->state < REM_RESOLVED ? " AND state < 4 AND state = ifnull(?5, state)"
                 : " AND state = ?5",
                 f->delivered_only ? " AND delivered_at > 0" : "");
        if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
                return st_sql_fail(s, "reminder query");
        sqlite3_bind_text(q, 1, f->unit ? f->unit : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, f->caseworker ? f->caseworker : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, f->case_id ? f->case_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 4, f->rule && f->rule[0] && rule < 0 ? 9999 : rule);  /* unknown: matches nothing */
        if (f->state >= 0)
                sqlite3_bind_int(q, 5, f->state);     /* else NULL: any open state */
        sqlite3_bind_int(q, 7, f->limit > 0 ? f->limit : -1);
        r = collect(s, q, list, n, "reminder query");
        sqlite3_finalize(q);
        return r;
}

int store_rem_leads_undigested(store_t *s, bk_time_t until, reminder_t **list, int *n)
{
        sqlite3_stmt *q;
        int r;

        /* Open ones only: the partial index reminders_owner holds them (state < 4 says so). */
        if (sqlite3_prepare_v2(s->db, "SELECT *, rowid FROM reminders WHERE state < 4 AND state IN (1, 2, 3) "
                               "AND to_leads = 1 AND delivery & 16 = 0 AND delivered_at <= ?1 "
                               "ORDER BY unit, severity DESC, due, id", -1, &q, NULL) != SQLITE_OK)
                return st_sql_fail(s, "leads' reminders");
        sqlite3_bind_int64(q, 1, until);
        r = collect(s, q, list, n, "leads' reminders");
        sqlite3_finalize(q);
        return r;
}

/* Open delivered go-live backlog of caseworkers that no summary has counted (the partial index
 * reminders_owner holds the open ones): ?1 mask, ?2 go-live, ?3 the summarized bit. */
#define GOLIVE_UNSUMMARIZED "state < 4 AND state IN (1, 2, 3) AND to_cw = 1 AND caseworker <> '' " \
        "AND delivery & ?1 = ?2 AND delivery & ?3 = 0"

static void bind_golive(sqlite3_stmt *q)
{
        sqlite3_bind_int(q, 1, REM_DELIVERY_MASK);
        sqlite3_bind_int(q, 2, REM_BACKLOG_GOLIVE);
        sqlite3_bind_int(q, 3, REM_SUMMARIZED_BIT);
}

int store_rem_golive_each(store_t *s, int (*fn)(void *ud, const reminder_t *r), void *ud)
{
        sqlite3_stmt *q;
        reminder_t r;
        int rc, res = 0;

        /* One row at a time: a go-live's backlog is tens of thousands of reminders. */
        if (sqlite3_prepare_v2(s->db, "SELECT *, rowid FROM reminders WHERE " GOLIVE_UNSUMMARIZED
                               " ORDER BY unit, caseworker, severity DESC, due, id", -1, &q, NULL) != SQLITE_OK)
                return st_sql_fail(s, "go-live reminders");
        bind_golive(q);
        while (res == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
                rem_from_row(q, &r);
                res = fn(ud, &r);
        }
        if (res == 0 && rc != SQLITE_DONE)
                res = st_sql_fail(s, "go-live reminders");
        sqlite3_finalize(q);
        if (res != 0)
                return res;
        /* the same rows, in the same transaction: counted, so no later summary repeats them */
        if (sqlite3_prepare_v2(s->db, "UPDATE reminders SET delivery = delivery | ?3 WHERE " GOLIVE_UNSUMMARIZED,
                               -1, &q, NULL) != SQLITE_OK)
                return st_sql_fail(s, "go-live reminders counted");
        bind_golive(q);
        res = st_step_done(s, q, "go-live reminders counted");
        sqlite3_finalize(q);
        return res;
}

int store_rem_count_by_state(store_t *s, int64_t counts[REM__STATE_COUNT])
{
        for (int i = 0; i < REM__STATE_COUNT; i++)
                counts[i] = s->counter[CNT_REM_FIRST + i];
        return 0;
}

/* Recounts reminders by state from the table (at open: the counters' source of truth). */
int st_recount_reminders(store_t *s)
{
        sqlite3_stmt *q;
        int64_t counts[REM__STATE_COUNT] = { 0 };
        if (sqlite3_prepare_v2(s->db, "SELECT state, count(*) FROM reminders GROUP BY state", -1, &q, NULL)
            != SQLITE_OK)
                return st_sql_fail(s, "count");
        while (sqlite3_step(q) == SQLITE_ROW) {
                int st = sqlite3_column_int(q, 0);
                if (st >= 0 && st < REM__STATE_COUNT)
                        counts[st] = sqlite3_column_int64(q, 1);
        }
        sqlite3_finalize(q);
        for (int i = 0; i < REM__STATE_COUNT; i++)
                store_counter_set(s, CNT_REM_FIRST + i, counts[i]);
        return 0;
}

json_t *store_rem_events(store_t *s, const char *rem_id)
{
        sqlite3_stmt *q = s->q[Q_REM_LINKS], *ev = s->q[Q_EVENT_BRIEF];
        json_t *arr = json_array();
        char *links = NULL;

        sqlite3_bind_text(q, 1, rem_id, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
                links = strdup(st_col_text(q, 0));
        sqlite3_reset(q);
        for (char *line = links, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
                char *tab = memchr(line, '\t', (size_t)(nl - line)), when[32] = "", type[EV_TYPE_MAX + 1] = "";
                if (!tab)
                        continue;
                *tab = *nl = '\0';
                sqlite3_bind_text(ev, 1, tab + 1, -1, SQLITE_STATIC);
                if (sqlite3_step(ev) == SQLITE_ROW) {
                        bk_strlcpy(type, st_col_text(ev, 0), sizeof(type));
                        cal_format_rfc3339(sqlite3_column_int64(ev, 1), when, sizeof(when));
                }
                sqlite3_reset(ev);
                json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "id", tab + 1, "type", type,
                                                     "at", when, "role", line));
        }
        free(links);
        return arr;
}

/* ---- outbox ----------------------------------------------------------------- */

int store_outbox_add(store_t *s, int64_t rseq, const char *topic, const char *payload, bk_time_t at)
{
        sqlite3_stmt *q = s->q[Q_OUTBOX_ADD];
        sqlite3_bind_int64(q, 1, rseq);
        sqlite3_bind_text(q, 2, topic, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, payload, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, at);
        return st_step_done(s, q, "outbox add");
}

int store_outbox_each(store_t *s, int64_t since, int64_t upto,
                      int (*fn)(void *, int64_t, const char *, const char *), void *ud)
{
        sqlite3_stmt *q;
        int rc, r = 0;
        if (sqlite3_prepare_v2(s->db, "SELECT rseq, topic, payload FROM outbox WHERE rseq > ?1 AND rseq <= ?2 "
                               "ORDER BY rseq", -1, &q, NULL) != SQLITE_OK)
                return st_sql_fail(s, "outbox");
        sqlite3_bind_int64(q, 1, since);
        sqlite3_bind_int64(q, 2, upto);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW)
                if ((r = fn(ud, sqlite3_column_int64(q, 0), st_col_text(q, 1), st_col_text(q, 2))) < 0)
                        break;
        sqlite3_finalize(q);
        return r < 0 ? r : (rc == SQLITE_DONE ? 0 : st_sql_fail(s, "outbox"));
}

