/*
 * bevaka-feed.c owns the reference case-system adapter: the publishing side
 * of the Clone-pattern event feed of protocol.md §1. It reads JSONL events,
 * gives each a source and a per-source seq, keeps them in its own SQLite
 * event log, publishes them as [type][event] on an XPUB socket, answers
 * replay requests on a ROUTER socket from that log, and publishes
 * [feed.heartbeat] with each source's last seq. It is what bevakad's tests
 * and demos talk to, so it also has knobs to misbehave on purpose: withhold
 * events from the live feed (--skip-seq), publish raw bytes (--raw), stay
 * silent (--heartbeat-ms 0). With --curve-secret-key both sockets are CURVE
 * servers, and with --keys only the listed client keys (bevakad's) pass the
 * handshake, checked by the daemon's own ZAP logic (zap.c) from this loop.
 * One thread, one zmq_poll loop, a signalfd for SIGINT/SIGTERM; see
 * docs/feed.md and docs/security.md.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <time.h>
#include <zmq.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "calendar.h"
#include "config.h"
#include "keys.h"
#include "log.h"
#include "util.h"
#include "zap.h"

#define FEED_BATCH          1000        /* lines per loop turn and per transaction */
#define FEED_MSG_MAX        65536       /* protocol.md: ZMQ_MAXMSGSIZE default */
#define FEED_LINE_MAX       (16u << 20) /* longest input line we buffer (raw lines may exceed FEED_MSG_MAX) */
#define FEED_READ_SIZE      65536
#define FEED_LINGER_MS      1000
/*
 * PUB drops at its HWM instead of blocking; a fast publish into a slow
 * subscriber in a test must not lose events, so the queue is allowed to hold
 * a whole large test file (about 300 MB at 1e6 events of 300 bytes).
 */
#define FEED_PUB_SNDHWM     1000000
#define FEED_ROUTER_SNDHWM  10000
#define FEED_ROUTER_RCVHWM  1000
#define REPLAY_CHUNK        1000        /* replay messages per loop turn, over all jobs */
#define REPLAY_SHARE_MIN    64
#define REPLAY_MAX          256         /* concurrent replay requests */
#define REPLAY_RETRY_NS     (10 * 1000000LL)
#define REQUESTS_PER_TURN   100
#define HEARTBEAT_TYPE      "feed.heartbeat"
#define PIPE_QUIET_NS       (300 * 1000000LL)   /* a pipe this quiet is live (--watermark auto) */

#define NS_PER_S  1000000000LL
#define NS_PER_MS 1000000LL

typedef struct feed_opts {
        bool publish;                   /* publish mode; else serve */
        const char *file;               /* "-" is stdin */
        const char *endpoint;
        const char *replay_endpoint;
        const char *db_path;
        const char *source;
        double rate;                    /* events per second, 0 = unpaced */
        int64_t *skip;
        size_t n_skip;
        bool raw;
        bool exit_after;
        bool quiet;
        int heartbeat_ms;               /* 0 = no heartbeats */
        int watermark;                  /* WM_*: what heartbeats and replay ends say of event time */
        int wait_subscribers;
        int wait_timeout_ms;
        const char *curve_secret_key;   /* file: CURVE server with this secret key */
        const char *keys_file;          /* key list: the client keys allowed (any listed key, any role) */
} feed_opts_t;

/*
 * The watermark (protocol §6): the event time up to which everything has been published. A
 * file's events are published in `at` order, so while one is being published it is just before
 * the last event's `at`; once the file is done, or when the input is a pipe (events as they
 * happen) with nothing more to read, the adapter is live and it is now.
 */
enum { WM_AUTO, WM_AT, WM_NOW, WM_NONE };

typedef enum input_status {
        INPUT_LINE,                     /* a line is returned */
        INPUT_MORE,                     /* no complete line buffered; read more */
        INPUT_END,                      /* end of input, nothing left */
        INPUT_TOOLONG,                  /* the line at in->lineno was dropped */
} input_status_t;

typedef struct input {
        int fd;
        const char *name;
        char *buf;
        size_t start;                   /* first unconsumed byte */
        size_t scan;                    /* bytes before this have no newline */
        size_t len;
        size_t cap;
        size_t lineno;                  /* number of the last line returned */
        bool eof;
        bool discarding;                /* inside an over-long line */
        bool history;                   /* a regular file (a history); else a pipe (live) */
} input_t;

typedef struct batch_item {
        char *type;
        char *payload;
        size_t len;
        bool skip;                      /* --skip-seq: stored, not published */
} batch_item_t;

typedef struct replay {
        uint8_t id[256];                /* ROUTER routing id of the requester */
        size_t id_len;
        bool delim;                     /* a REQ peer: replies carry an empty delimiter */
        char *source;
        int64_t next_seq;
        int64_t max;                    /* events asked for (protocol §6 credit); 0 = all */
        int64_t retry_at;               /* blocked by the peer's HWM until then */
        uint64_t sent;
} replay_t;

typedef struct feed {
        feed_opts_t *opts;
        void *ctx;
        void *pub;
        void *router;
        void *zap;                      /* REP at ZAP_ENDPOINT with --keys */
        keys_t keys;
        int sigfd;
        sqlite3 *db;
        sqlite3_stmt *st_insert;
        sqlite3_stmt *st_replay;
        bool in_txn;
        json_t *heads;                  /* source -> highest stored seq */
        json_t *head_at;                /* source -> `at` (Unix seconds) of that event */

        input_t in;
        batch_item_t *batch;
        size_t n_batch;

        int subscribers;
        bool started;                   /* publishing began (subscribers awaited) */
        bool done;                      /* input fully published */
        bool need_input;                /* waiting for the input fd */
        bool starved;                   /* the last turn waited for input */
        int64_t wait_deadline;
        int64_t pace_base;              /* pacing: event pace_count is due at pace_base */
        uint64_t pace_count;
        uint64_t emitted;               /* events accepted for publishing (pacing index) */
        int64_t hb_next;
        int64_t last_input_ns;          /* when a line was last read */

        replay_t **jobs;
        size_t n_jobs;

        bool stop;
        uint64_t n_published;
        uint64_t n_skipped;
        uint64_t n_rejected;
        uint64_t n_replays;
        uint64_t n_replayed;
} feed_t;

/* The one clock of this program. */
static int64_t feed_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ---- options ------------------------------------------------------------- */

static void feed_usage(FILE *out)
{
        fputs("Usage:\n"
              "  bevaka-feed publish [options] FILE.jsonl|-   publish events as the case-system adapter would\n"
              "  bevaka-feed serve [options]                   serve the stored log only (replays + heartbeats)\n"
              "  bevaka-feed synth [options]                   write a synthetic history (bevaka-feed synth --help)\n"
              "  bevaka-feed --version\n"
              "\n"
              "Options:\n"
              "  --endpoint E            feed XPUB bind (default ipc://bevaka-feed.sock)\n"
              "  --replay-endpoint R     replay ROUTER bind (default ipc://bevaka-replay.sock)\n"
              "  --db FILE               event log (default bevaka-feed.db)\n"
              "  --source S              source of events that name none (default paraply-demo)\n"
              "  --heartbeat-ms N        heartbeat interval, 0 = none (default 500)\n"
              "  --watermark MODE        what heartbeats say of event time: auto (the last event's\n"
              "                          `at` while publishing a regular file, then now; now for a\n"
              "                          pipe), at, now or none\n"
              "                          (default auto)\n"
              "  --curve-secret-key F    CURVE server with the secret key in F (Z85 or czmq certificate)\n"
              "  --keys F                with CURVE: accept only the client keys in the key list F\n"
              "                          (bevakad's key-list format; role ignored); without it any\n"
              "                          client key passes the handshake\n"
              "  -q, --quiet             only warnings and errors\n"
              "  -h, --help\n"
              "publish only:\n"
              "  --rate N                events per second, 0 = as fast as possible (default 0)\n"
              "  --skip-seq N            store event N but do not publish it live (repeatable)\n"
              "  --raw                   publish lines verbatim: no seq, no validation, not logged\n"
              "  --exit-after-publish    exit when the input is published\n"
              "  --wait-subscribers N    publish only once N subscriptions arrived\n"
              "  --wait-timeout-ms N     give up waiting after N ms and publish (default 10000)\n",
              out);
}

static int feed_parse_int(const char *opt, const char *s, long long min, long long max, long long *out)
{
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max) {
                fprintf(stderr, "bevaka-feed: %s: expected an integer in [%lld, %lld], got \"%s\"\n",
                        opt, min, max, s);
                return -EINVAL;
        }
        *out = v;
        return 0;
}

enum {
        OPT_ENDPOINT = 256, OPT_REPLAY_ENDPOINT, OPT_DB, OPT_SOURCE, OPT_RATE, OPT_SKIP_SEQ,
        OPT_RAW, OPT_EXIT_AFTER, OPT_HEARTBEAT_MS, OPT_WAIT_SUBSCRIBERS, OPT_WAIT_TIMEOUT_MS,
        OPT_CURVE_SECRET_KEY, OPT_KEYS, OPT_WATERMARK,
};

/* Returns 0, or an exit status: 2 for a usage error, -1 for --help. */
static int feed_opts_parse(feed_opts_t *o, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "endpoint", required_argument, NULL, OPT_ENDPOINT },
                { "replay-endpoint", required_argument, NULL, OPT_REPLAY_ENDPOINT },
                { "db", required_argument, NULL, OPT_DB },
                { "source", required_argument, NULL, OPT_SOURCE },
                { "rate", required_argument, NULL, OPT_RATE },
                { "skip-seq", required_argument, NULL, OPT_SKIP_SEQ },
                { "raw", no_argument, NULL, OPT_RAW },
                { "exit-after-publish", no_argument, NULL, OPT_EXIT_AFTER },
                { "heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT_MS },
                { "wait-subscribers", required_argument, NULL, OPT_WAIT_SUBSCRIBERS },
                { "wait-timeout-ms", required_argument, NULL, OPT_WAIT_TIMEOUT_MS },
                { "curve-secret-key", required_argument, NULL, OPT_CURVE_SECRET_KEY },
                { "keys", required_argument, NULL, OPT_KEYS },
                { "watermark", required_argument, NULL, OPT_WATERMARK },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        bool publish_only = false;
        long long v;
        int c;

        *o = (feed_opts_t){
                .endpoint = "ipc://bevaka-feed.sock",
                .replay_endpoint = "ipc://bevaka-replay.sock",
                .db_path = "bevaka-feed.db",
                .source = "paraply-demo",
                .heartbeat_ms = 500,
                .wait_timeout_ms = 10000,
        };
        if (argc < 2) {
                feed_usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
                feed_usage(stdout);
                return -1;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("bevaka-feed %s\n", BEVAKA_VERSION);
                return -1;
        }
        if (strcmp(argv[1], "publish") == 0) {
                o->publish = true;
        } else if (strcmp(argv[1], "serve") != 0) {
                fprintf(stderr, "bevaka-feed: unknown command \"%s\"\n", argv[1]);
                feed_usage(stderr);
                return 2;
        }

        /* getopt sees the command as argv[0]. */
        argc--;
        argv++;
        while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_ENDPOINT: o->endpoint = optarg; break;
                case OPT_REPLAY_ENDPOINT: o->replay_endpoint = optarg; break;
                case OPT_DB: o->db_path = optarg; break;
                case OPT_SOURCE:
                        if (!*optarg) {
                                fprintf(stderr, "bevaka-feed: --source must not be empty\n");
                                return 2;
                        }
                        o->source = optarg;
                        break;
                case OPT_RATE: {
                        char *end;
                        errno = 0;
                        o->rate = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !isfinite(o->rate) || o->rate < 0) {
                                fprintf(stderr, "bevaka-feed: --rate: expected a number >= 0, got \"%s\"\n", optarg);
                                return 2;
                        }
                        publish_only = true;
                        break;
                }
                case OPT_SKIP_SEQ: {
                        int64_t *s;
                        if (feed_parse_int("--skip-seq", optarg, 1, INT64_MAX, &v) < 0)
                                return 2;
                        s = realloc(o->skip, (o->n_skip + 1) * sizeof(*s));
                        if (!s) {
                                fprintf(stderr, "bevaka-feed: out of memory\n");
                                return 2;
                        }
                        o->skip = s;
                        o->skip[o->n_skip++] = v;
                        publish_only = true;
                        break;
                }
                case OPT_RAW: o->raw = true; publish_only = true; break;
                case OPT_EXIT_AFTER: o->exit_after = true; publish_only = true; break;
                case OPT_HEARTBEAT_MS:
                        if (feed_parse_int("--heartbeat-ms", optarg, 0, 3600000, &v) < 0)
                                return 2;
                        o->heartbeat_ms = (int)v;
                        break;
                case OPT_WAIT_SUBSCRIBERS:
                        if (feed_parse_int("--wait-subscribers", optarg, 0, 1000000, &v) < 0)
                                return 2;
                        o->wait_subscribers = (int)v;
                        publish_only = true;
                        break;
                case OPT_WAIT_TIMEOUT_MS:
                        if (feed_parse_int("--wait-timeout-ms", optarg, 0, 86400000, &v) < 0)
                                return 2;
                        o->wait_timeout_ms = (int)v;
                        break;
                case OPT_CURVE_SECRET_KEY: o->curve_secret_key = optarg; break;
                case OPT_WATERMARK: {
                        static const char *const modes[] = { "auto", "at", "now", "none" };
                        o->watermark = -1;
                        for (int k = 0; k < 4; k++)
                                if (strcmp(optarg, modes[k]) == 0)
                                        o->watermark = k;
                        if (o->watermark < 0) {
                                fprintf(stderr, "bevaka-feed: --watermark: expected auto, at, now or none, "
                                                "got \"%s\"\n", optarg);
                                return 2;
                        }
                        break;
                }
                case OPT_KEYS: o->keys_file = optarg; break;
                case 'q': o->quiet = true; break;
                case 'h': feed_usage(stdout); return -1;
                default: feed_usage(stderr); return 2;
                }
        }
        if (o->keys_file && !o->curve_secret_key) {
                fprintf(stderr, "bevaka-feed: --keys needs --curve-secret-key\n");
                return 2;
        }
        if (o->publish) {
                if (optind != argc - 1) {
                        fprintf(stderr, "bevaka-feed: publish takes exactly one FILE (or - for stdin)\n");
                        return 2;
                }
                o->file = argv[optind];
        } else {
                if (optind != argc) {
                        fprintf(stderr, "bevaka-feed: serve takes no file\n");
                        return 2;
                }
                /* Accepting and ignoring them would hide a mistaken command. */
                if (publish_only) {
                        fprintf(stderr, "bevaka-feed: --rate, --skip-seq, --raw, --exit-after-publish and "
                                "--wait-subscribers are publish options\n");
                        return 2;
                }
        }
        return 0;
}

/* ---- the event log (SQLite) ---------------------------------------------- */

static int evlog_exec(sqlite3 *db, const char *sql)
{
        char *err = NULL;

        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
                log_errx("event log: %s: %s", sql, err ? err : sqlite3_errmsg(db));
                sqlite3_free(err);
                return -EIO;
        }
        return 0;
}

static int evlog_user_version(sqlite3 *db, int *out)
{
        sqlite3_stmt *st;
        int r;

        if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        r = sqlite3_step(st);
        *out = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
        return r == SQLITE_ROW ? 0 : -EIO;
}

/* The `at` of a stored event's payload (Unix seconds); 0 when it has none that parses. */
static bk_time_t payload_at(const char *payload, size_t len)
{
        json_t *ev = json_loadb(payload, len, 0, NULL);
        json_t *at = json_object_get(ev, "at");
        bk_time_t t = 0;

        if (!json_is_string(at) || cal_parse_rfc3339(json_string_value(at), &t) != 0)
                t = 0;
        json_decref(ev);
        return t;
}

/* The `at` of the stored event (source, seq); 0 when unknown. */
static bk_time_t evlog_at(feed_t *f, const char *source, int64_t seq)
{
        sqlite3_stmt *st;
        bk_time_t t = 0;

        if (sqlite3_prepare_v2(f->db, "SELECT payload FROM events WHERE source = ?1 AND seq = ?2", -1, &st,
                               NULL) != SQLITE_OK)
                return 0;
        sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, seq);
        if (sqlite3_step(st) == SQLITE_ROW)
                t = payload_at((const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        sqlite3_finalize(st);
        return t;
}

static int evlog_load_heads(feed_t *f)
{
        sqlite3_stmt *st;
        int r;

        if (sqlite3_prepare_v2(f->db, "SELECT source, MAX(seq) FROM events GROUP BY source",
                               -1, &st, NULL) != SQLITE_OK) {
                log_errx("event log: %s", sqlite3_errmsg(f->db));
                return -EIO;
        }
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                const char *src = (const char *)sqlite3_column_text(st, 0);
                if (src)
                        json_object_set_new(f->heads, src, json_integer(sqlite3_column_int64(st, 1)));
        }
        sqlite3_finalize(st);
        if (r != SQLITE_DONE) {
                log_errx("event log: %s", sqlite3_errmsg(f->db));
                return -EIO;
        }
        const char *src;
        json_t *v;
        json_object_foreach(f->heads, src, v)
                json_object_set_new(f->head_at, src, json_integer(evlog_at(f, src, json_integer_value(v))));
        return 0;
}

/*
 * The schema is versioned in user_version so a later layout can migrate an
 * old log in order; a log from a newer bevaka-feed is refused, not guessed at.
 */
static int evlog_open(feed_t *f)
{
        int version;

        if (sqlite3_open_v2(f->opts->db_path, &f->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
                log_errx("%s: %s", f->opts->db_path, f->db ? sqlite3_errmsg(f->db) : "cannot open");
                return -EIO;
        }
        sqlite3_busy_timeout(f->db, 5000);
        /* The log is replayable from its source, so NORMAL's window is acceptable for speed. */
        if (evlog_exec(f->db, "PRAGMA journal_mode=WAL") < 0 ||
            evlog_exec(f->db, "PRAGMA synchronous=NORMAL") < 0 ||
            evlog_exec(f->db, "BEGIN IMMEDIATE") < 0)
                return -EIO;
        if (evlog_user_version(f->db, &version) < 0) {
                log_errx("%s: %s", f->opts->db_path, sqlite3_errmsg(f->db));
                return -EIO;
        }
        if (version == 0) {
                if (evlog_exec(f->db,
                               "CREATE TABLE events ("
                               " source TEXT NOT NULL,"
                               " seq INTEGER NOT NULL,"
                               " type TEXT NOT NULL,"
                               " payload TEXT NOT NULL,"
                               " PRIMARY KEY (source, seq)) WITHOUT ROWID;"
                               "PRAGMA user_version = 1") < 0)
                        return -EIO;
        } else if (version != 1) {
                log_errx("%s: event log schema version %d is newer than this bevaka-feed (1)",
                         f->opts->db_path, version);
                evlog_exec(f->db, "ROLLBACK");
                return -EIO;
        }
        if (evlog_exec(f->db, "COMMIT") < 0)
                return -EIO;
        if (sqlite3_prepare_v2(f->db, "INSERT INTO events (source, seq, type, payload) VALUES (?1, ?2, ?3, ?4)",
                               -1, &f->st_insert, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(f->db, "SELECT seq, type, payload FROM events"
                               " WHERE source = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
                               -1, &f->st_replay, NULL) != SQLITE_OK) {
                log_errx("event log: %s", sqlite3_errmsg(f->db));
                return -EIO;
        }
        return evlog_load_heads(f);
}

static int64_t evlog_head(feed_t *f, const char *source)
{
        json_t *v = json_object_get(f->heads, source);
        return v ? json_integer_value(v) : 0;
}

/*
 * The watermark for a source at its head (protocol §6), as RFC 3339 in buf; false for none.
 * `at`: just before the head event's `at` (a file is published in `at` order, so every event
 * before it is out, and others at the same instant may still follow); `now`: live.
 */
static bool feed_watermark(feed_t *f, const char *source, char *buf, size_t n)
{
        int mode = f->opts->watermark;
        json_t *v = json_object_get(f->head_at, source);
        bk_time_t t;

        /* A pipe is live only while it has nothing more for us: mid-burst, more may be on its way. */
        if (mode == WM_AUTO && f->opts->publish && !f->in.history)
                mode = f->done || (f->need_input && f->in.start == f->in.len &&
                                   feed_now() - f->last_input_ns >= PIPE_QUIET_NS) ? WM_NOW : WM_AT;
        else if (mode == WM_AUTO)
                mode = f->opts->publish && !f->done ? WM_AT : WM_NOW;
        if (mode == WM_NONE)
                return false;
        if (mode == WM_NOW)
                t = (bk_time_t)time(NULL);
        else if (v && json_integer_value(v) > 0)
                t = (bk_time_t)json_integer_value(v) - 1;
        else
                t = 1;          /* nothing published yet: only the distant past is complete */
        cal_format_rfc3339(t, buf, n);
        return true;
}

/* Returns 0, BK_E_DUPLICATE when the row exists (another writer), or -EIO. */
static int evlog_insert(feed_t *f, const char *source, int64_t seq, const char *type,
                        const char *payload, size_t len)
{
        sqlite3_stmt *st = f->st_insert;
        int r;

        if (!f->in_txn) {
                if (evlog_exec(f->db, "BEGIN IMMEDIATE") < 0)
                        return -EIO;
                f->in_txn = true;
        }
        sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, seq);
        sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, payload, (int)len, SQLITE_STATIC);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (r == SQLITE_DONE)
                return 0;
        if (r == SQLITE_CONSTRAINT)
                return BK_E_DUPLICATE;
        log_errx("event log: insert: %s", sqlite3_errmsg(f->db));
        return -EIO;
}

static int evlog_commit(feed_t *f)
{
        if (!f->in_txn)
                return 0;
        f->in_txn = false;
        return evlog_exec(f->db, "COMMIT");
}

/* ---- input lines ---------------------------------------------------------- */

static int input_open(input_t *in, const char *path)
{
        *in = (input_t){ .fd = -1 };
        if (strcmp(path, "-") == 0) {
                in->fd = STDIN_FILENO;
                in->name = "<stdin>";
        } else {
                in->fd = open(path, O_RDONLY | O_CLOEXEC);
                if (in->fd < 0) {
                        int err = errno;
                        log_errno(LOG_ERR, err, "%s", path);
                        return -err;
                }
                in->name = path;
        }
        struct stat st;
        in->history = fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode);
        in->cap = FEED_READ_SIZE;
        in->buf = malloc(in->cap);
        return in->buf ? 0 : -ENOMEM;
}

static void input_close(input_t *in)
{
        if (in->fd > STDIN_FILENO)
                close(in->fd);
        in->fd = -1;
        free(in->buf);
        in->buf = NULL;
}

/*
 * One read() per call, and only after poll said the fd is readable, so a
 * pipe or terminal never blocks the loop and stdin keeps its blocking mode
 * (setting O_NONBLOCK would leak into the shell that shares it).
 */
static int input_read(input_t *in)
{
        ssize_t r;

        if (in->start > 0) {
                memmove(in->buf, in->buf + in->start, in->len - in->start);
                in->len -= in->start;
                in->scan -= in->start;
                in->start = 0;
        }
        if (in->cap - in->len < FEED_READ_SIZE / 2) {
                size_t cap = in->cap * 2;
                char *b = realloc(in->buf, cap);
                if (!b)
                        return -ENOMEM;
                in->buf = b;
                in->cap = cap;
        }
        r = read(in->fd, in->buf + in->len, in->cap - in->len);
        if (r < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return 0;
                log_warn(errno, "%s: read", in->name);
                in->eof = true;
                return -EIO;
        }
        if (r == 0)
                in->eof = true;
        in->len += (size_t)r;
        return 0;
}

static input_status_t input_next(input_t *in, const char **line, size_t *n)
{
        for (;;) {
                char *nl = memchr(in->buf + in->scan, '\n', in->len - in->scan);

                if (nl) {
                        size_t end = (size_t)(nl - in->buf);
                        size_t begin = in->start;

                        in->start = in->scan = end + 1;
                        if (in->discarding) {
                                /* The tail of an over-long line, already reported. */
                                in->discarding = false;
                                continue;
                        }
                        in->lineno++;
                        *line = in->buf + begin;
                        *n = end - begin;
                        return INPUT_LINE;
                }
                if (in->len - in->start > FEED_LINE_MAX) {
                        /* Drop what we have and everything up to the next newline. */
                        in->start = in->scan = in->len;
                        if (in->discarding)
                                continue;
                        in->discarding = true;
                        in->lineno++;
                        return INPUT_TOOLONG;
                }
                in->scan = in->len;
                if (!in->eof)
                        return INPUT_MORE;
                if (in->start == in->len || in->discarding) {
                        in->start = in->scan = in->len;
                        return INPUT_END;
                }
                /* A last line without a newline is still a line. */
                in->lineno++;
                *line = in->buf + in->start;
                *n = in->len - in->start;
                in->start = in->scan = in->len;
                return INPUT_LINE;
        }
}

static bool input_readable(input_t *in)
{
        struct pollfd p = { .fd = in->fd, .events = POLLIN };

        return poll(&p, 1, 0) > 0;
}

/* ---- publishing ----------------------------------------------------------- */

static void pub_send(feed_t *f, const char *type, const char *payload, size_t len)
{
        /* An XPUB without XPUB_NODROP never blocks: at the HWM it drops, as PUB does. */
        if (zmq_send(f->pub, type, strlen(type), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(f->pub, payload, len, ZMQ_DONTWAIT) < 0) {
                if (log_ratelimit("feed-pub-send", feed_now() / NS_PER_S, 60))
                        log_warn(zmq_errno(), "feed: send");
        }
}

static void pub_heartbeat(feed_t *f, const char *source, json_int_t last_seq)
{
        json_t *hb = json_pack("{s:s, s:s, s:I}", "op", "heartbeat", "source", source, "last_seq", last_seq);
        char wm[40];
        char *s;

        if (hb && feed_watermark(f, source, wm, sizeof(wm)))
                json_object_set_new(hb, "watermark", json_string(wm));
        s = hb ? json_dumps(hb, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

        if (s)
                pub_send(f, HEARTBEAT_TYPE, s, strlen(s));
        free(s);
        json_decref(hb);
}

/* One per source in the log; an empty log still says it is alive, for --source. */
static void pub_heartbeats(feed_t *f)
{
        const char *src;
        json_t *v;

        if (json_object_size(f->heads) == 0) {
                pub_heartbeat(f, f->opts->source, 0);
                return;
        }
        json_object_foreach(f->heads, src, v)
                pub_heartbeat(f, src, json_integer_value(v));
}

/* XPUB_VERBOSER hands up every subscribe and unsubscribe, disconnects included. */
static void pub_recv_subscriptions(feed_t *f)
{
        for (int k = 0; k < 1000; k++) {
                zmq_msg_t m;

                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, f->pub, ZMQ_DONTWAIT) < 0) {
                        zmq_msg_close(&m);
                        return;
                }
                if (zmq_msg_size(&m) >= 1) {
                        const uint8_t *d = zmq_msg_data(&m);
                        if (d[0] == 1)
                                f->subscribers++;
                        else if (d[0] == 0 && f->subscribers > 0)
                                f->subscribers--;
                        log_debug("feed: %d subscriptions", f->subscribers);
                }
                zmq_msg_close(&m);
        }
}

static bool feed_skip_seq(feed_t *f, int64_t seq)
{
        for (size_t i = 0; i < f->opts->n_skip; i++)
                if (f->opts->skip[i] == seq)
                        return true;
        return false;
}

static void BK_PRINTF(2, 3) feed_reject(feed_t *f, const char *fmt, ...)
{
        char buf[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        log_errx("%s:%zu: %s", f->in.name, f->in.lineno, buf);
        f->n_rejected++;
}

/*
 * jansson's message ends in " near '<token>'": that token is event content,
 * which never goes into logs.
 */
static void feed_json_reason(const json_error_t *e, char *buf, size_t n)
{
        char *near;

        bk_strlcpy(buf, e->text, n);
        near = strstr(buf, " near ");
        if (near)
                *near = '\0';
}

/*
 * Checks only what the feed itself needs (an object, its type, source and
 * seq), so events that bevakad must dead-letter can still be published with
 * a proper seq. Returns 1 accepted into the batch, 0 rejected, -errno fatal.
 */
static int feed_accept_event(feed_t *f, const char *line, size_t n)
{
        json_error_t jerr;
        json_t *ev;
        json_t *jtype, *jsrc, *jseq;
        const char *type, *src;
        int64_t seq, head;
        char *payload = NULL;
        size_t len;
        int r = 0;

        ev = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!ev) {
                char reason[160];
                feed_json_reason(&jerr, reason, sizeof(reason));
                feed_reject(f, "not JSON (column %d): %s", jerr.column, reason);
                return 0;
        }
        if (!json_is_object(ev)) {
                feed_reject(f, "not a JSON object");
                goto out;
        }
        jtype = json_object_get(ev, "type");
        if (!json_is_string(jtype) || json_string_length(jtype) == 0) {
                feed_reject(f, "\"type\" must be a non-empty string");
                goto out;
        }
        type = json_string_value(jtype);
        jsrc = json_object_get(ev, "source");
        if (!jsrc) {
                json_object_set_new(ev, "source", json_string(f->opts->source));
                jsrc = json_object_get(ev, "source");
        } else if (!json_is_string(jsrc) || json_string_length(jsrc) == 0) {
                feed_reject(f, "\"source\" must be a non-empty string");
                goto out;
        }
        src = json_string_value(jsrc);
        head = evlog_head(f, src);
        jseq = json_object_get(ev, "seq");
        if (!jseq) {
                if (head == INT64_MAX) {
                        feed_reject(f, "source %s has no seq left", src);
                        goto out;
                }
                seq = head + 1;
                json_object_set_new(ev, "seq", json_integer(seq));
        } else if (!json_is_integer(jseq) || json_integer_value(jseq) < 1) {
                feed_reject(f, "\"seq\" must be an integer >= 1");
                goto out;
        } else if ((seq = json_integer_value(jseq)) <= head) {
                feed_reject(f, "seq %" PRId64 " of source %s is not above the stored %" PRId64,
                            seq, src, head);
                goto out;
        }

        payload = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!payload) {
                r = -ENOMEM;
                goto out;
        }
        len = strlen(payload);
        /* A compliant subscriber would drop the connection on it (ZMQ_MAXMSGSIZE); --raw can send one. */
        if (len > FEED_MSG_MAX) {
                feed_reject(f, "event is %zu bytes, over the protocol's %d", len, FEED_MSG_MAX);
                goto out;
        }
        r = evlog_insert(f, src, seq, type, payload, len);
        if (r == BK_E_DUPLICATE) {
                feed_reject(f, "seq %" PRId64 " of source %s is already in the log (another writer?)", seq, src);
                r = 0;
                goto out;
        }
        if (r < 0)
                goto out;
        json_object_set_new(f->heads, src, json_integer(seq));
        json_object_set_new(f->head_at, src, json_integer(payload_at(payload, len)));
        f->batch[f->n_batch] = (batch_item_t){
                .type = strdup(type),
                .payload = bk_steal(&payload),
                .len = len,
                .skip = feed_skip_seq(f, seq),
        };
        if (!f->batch[f->n_batch].type) {
                free(f->batch[f->n_batch].payload);
                r = -ENOMEM;
                goto out;
        }
        f->n_batch++;
        r = 1;
out:
        free(payload);
        json_decref(ev);
        return r;
}

static void feed_send_raw(feed_t *f, const char *line, size_t n)
{
        json_t *ev = json_loadb(line, n, 0, NULL);
        json_t *jtype = json_object_get(ev, "type");
        const char *type = json_is_string(jtype) ? json_string_value(jtype) : "invalid";

        pub_send(f, type, line, n);
        f->n_published++;
        json_decref(ev);
}

/* Events are stored before they are published, so a replay never misses a live event. */
static int feed_flush_batch(feed_t *f)
{
        int r = evlog_commit(f);

        for (size_t i = 0; i < f->n_batch; i++) {
                batch_item_t *it = &f->batch[i];
                if (r == 0) {
                        if (it->skip) {
                                f->n_skipped++;
                        } else {
                                pub_send(f, it->type, it->payload, it->len);
                                f->n_published++;
                        }
                }
                free(it->type);
                free(it->payload);
        }
        f->n_batch = 0;
        return r;
}

/* How many events may go out now: all (a batch) unpaced, else the ones whose deadline passed. */
static uint64_t feed_quota(feed_t *f, int64_t now)
{
        double due;
        uint64_t total;

        if (f->opts->rate <= 0)
                return FEED_BATCH;
        if (now < f->pace_base)
                return 0;
        /* The epsilon keeps a wakeup at the deadline from rounding to "not yet". */
        due = floor((double)(now - f->pace_base) / NS_PER_S * f->opts->rate + 1e-6) + 1;
        total = f->pace_count + (uint64_t)BK_MIN(due, 1e15);
        if (total <= f->emitted)
                return 0;
        return BK_MIN(total - f->emitted, (uint64_t)FEED_BATCH);
}

static int64_t feed_next_event_at(feed_t *f)
{
        double dt = (double)(f->emitted - f->pace_count) / f->opts->rate * NS_PER_S;

        return f->pace_base + (int64_t)ceil(BK_MIN(dt, 1e18));
}

/*
 * One turn of publishing: up to a batch of lines, stored in one transaction,
 * then sent. Sets *busy when more could be done at once.
 */
static int feed_publish_turn(feed_t *f, int64_t now, bool *busy)
{
        uint64_t quota;
        size_t lines = 0;
        int r = 0;

        if (f->starved && f->opts->rate > 0) {
                /* Input paused: pace from now rather than bursting to catch up. */
                f->pace_base = now;
                f->pace_count = f->emitted;
        }
        f->starved = false;
        f->need_input = false;
        quota = feed_quota(f, now);

        while (quota > 0 && lines < FEED_BATCH) {
                const char *line;
                size_t n;
                input_status_t st = input_next(&f->in, &line, &n);

                if (st == INPUT_MORE) {
                        if (!input_readable(&f->in)) {
                                f->need_input = true;
                                break;
                        }
                        r = input_read(&f->in);
                        if (r == -ENOMEM)
                                break;
                        r = 0;
                        continue;
                }
                if (st == INPUT_END) {
                        f->done = true;
                        break;
                }
                lines++;
                f->last_input_ns = now;
                if (st == INPUT_TOOLONG) {
                        feed_reject(f, "line longer than %u bytes", FEED_LINE_MAX);
                        continue;
                }
                /* Blank lines separate nothing in JSONL; a raw line is sent even if it is only spaces. */
                if (!f->opts->raw)
                        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
                                n--;
                if (n == 0)
                        continue;
                if (f->opts->raw) {
                        feed_send_raw(f, line, n);
                        f->emitted++;
                        quota--;
                        continue;
                }
                r = feed_accept_event(f, line, n);
                if (r < 0)
                        break;
                if (r > 0) {
                        f->emitted++;
                        quota--;
                }
                r = 0;
        }
        /* A fatal error leaves the batch unpublished and its transaction to roll back on close. */
        if (r < 0)
                return r;
        r = feed_flush_batch(f);
        if (r < 0)
                return r;
        if (f->need_input)
                f->starved = true;
        *busy = !f->done && !f->need_input && (f->opts->rate <= 0 || quota > 0);
        if (f->done)
                log_info("%s: %zu lines read, %" PRIu64 " events published", f->in.name, f->in.lineno,
                         f->n_published);
        return 0;
}

/* ---- replay (ROUTER) ------------------------------------------------------ */

static void replay_free(replay_t *job)
{
        if (!job)
                return;
        free(job->source);
        free(job);
}

/*
 * Sends one reply message to a job's peer. The routing id goes first, and
 * with ROUTER_MANDATORY that frame alone decides: -EAGAIN when the peer's
 * queue is full (nothing was sent, retry), -EHOSTUNREACH when it is gone.
 */
static int replay_send(feed_t *f, const replay_t *job, const char *const *frames, const size_t *lens, size_t n)
{
        if (zmq_send(f->router, job->id, job->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return -zmq_errno();
        if (job->delim && zmq_send(f->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return -zmq_errno();
        for (size_t i = 0; i < n; i++)
                if (zmq_send(f->router, frames[i], lens[i], (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
                        return -zmq_errno();
        return 0;
}

static int replay_send_json(feed_t *f, const replay_t *job, json_t *msg)
{
        char *s = msg ? json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        const char *frames[1] = { s };
        size_t lens[1];
        int r;

        json_decref(msg);
        if (!s)
                return -ENOMEM;
        lens[0] = strlen(s);
        r = replay_send(f, job, frames, lens, 1);
        free(s);
        return r;
}

static void replay_error(feed_t *f, const replay_t *job, const char *error)
{
        int r = replay_send_json(f, job, json_pack("{s:s, s:s}", "op", "error", "error", error));

        if (r < 0)
                log_debug("replay: error reply not sent: %s", strerror(-r));
        /* A peer looping on a bad request must not flood the log. */
        if (log_ratelimit(error, feed_now() / NS_PER_S, 60))
                log_info("replay: bad request: %s", error);
}

/*
 * A request: [routing id] ([empty delimiter] from a REQ) [JSON]. `extra` says
 * the message had more frames than parts holds.
 */
static void replay_request(feed_t *f, zmq_msg_t *parts, size_t n, bool extra)
{
        replay_t req = { 0 };
        replay_t *job;
        zmq_msg_t *body = NULL;
        json_t *js, *jsrc, *jfrom, *jop, *jmax;

        req.id_len = BK_MIN(zmq_msg_size(&parts[0]), sizeof(req.id));
        memcpy(req.id, zmq_msg_data(&parts[0]), req.id_len);
        req.delim = n >= 3 && zmq_msg_size(&parts[1]) == 0;
        if (!extra && n == 2)
                body = &parts[1];
        else if (!extra && n == 3 && req.delim)
                body = &parts[2];
        if (!body) {
                replay_error(f, &req, "a request is one frame");
                return;
        }
        if (zmq_msg_size(body) == 0) {
                replay_error(f, &req, "empty request");
                return;
        }
        js = json_loadb(zmq_msg_data(body), zmq_msg_size(body), JSON_REJECT_DUPLICATES, NULL);
        if (!js || !json_is_object(js)) {
                json_decref(js);
                replay_error(f, &req, "request is not a JSON object");
                return;
        }
        jop = json_object_get(js, "op");
        jsrc = json_object_get(js, "source");
        jfrom = json_object_get(js, "from_seq");
        jmax = json_object_get(js, "max");
        if (!json_is_string(jop) || strcmp(json_string_value(jop), "replay") != 0) {
                replay_error(f, &req, "unknown op (expected \"replay\")");
        } else if (!json_is_string(jsrc) || json_string_length(jsrc) == 0) {
                replay_error(f, &req, "\"source\" must be a non-empty string");
        } else if (!json_is_integer(jfrom) || json_integer_value(jfrom) < 0) {
                replay_error(f, &req, "\"from_seq\" must be an integer >= 0");
        } else if (jmax && (!json_is_integer(jmax) || json_integer_value(jmax) < 1)) {
                replay_error(f, &req, "\"max\" must be an integer >= 1");
        } else if (f->n_jobs >= REPLAY_MAX) {
                replay_error(f, &req, "too many replays in progress, retry later");
        } else if (!(job = malloc(sizeof(*job)))) {
                replay_error(f, &req, "out of memory");
        } else {
                *job = req;
                job->source = strdup(json_string_value(jsrc));
                job->next_seq = BK_MAX(json_integer_value(jfrom), 1);
                job->max = jmax ? json_integer_value(jmax) : 0;
                if (!job->source) {
                        replay_free(job);
                        replay_error(f, &req, "out of memory");
                } else {
                        f->jobs[f->n_jobs++] = job;
                        log_debug("replay: %s from %" PRId64, job->source, job->next_seq);
                }
        }
        json_decref(js);
}

static void replay_recv(feed_t *f)
{
        for (int k = 0; k < REQUESTS_PER_TURN; k++) {
                zmq_msg_t parts[3];
                size_t n = 0;
                bool extra = false;
                bool more;

                /* A message is atomic: once its first part is here, all are. */
                do {
                        zmq_msg_t m;

                        zmq_msg_init(&m);
                        if (zmq_msg_recv(&m, f->router, ZMQ_DONTWAIT) < 0) {
                                zmq_msg_close(&m);
                                for (size_t i = 0; i < n; i++)
                                        zmq_msg_close(&parts[i]);
                                return;
                        }
                        more = zmq_msg_more(&m);
                        if (n < BK_ARRAY_SIZE(parts)) {
                                parts[n++] = m;
                        } else {
                                zmq_msg_close(&m);
                                extra = true;
                        }
                } while (more);
                /* A ROUTER always prepends the routing id, so n >= 2 for any real request. */
                if (n >= 2)
                        replay_request(f, parts, n, extra);
                for (size_t i = 0; i < n; i++)
                        zmq_msg_close(&parts[i]);
        }
}

typedef enum { REPLAY_MORE, REPLAY_BLOCKED, REPLAY_DONE, REPLAY_GONE, REPLAY_FAILED } replay_step_t;

static replay_step_t replay_status(int r)
{
        if (r == -EAGAIN)
                return REPLAY_BLOCKED;
        if (r == -EHOSTUNREACH)
                return REPLAY_GONE;
        return REPLAY_FAILED;
}

/*
 * Sends up to `limit` stored events of one job, then replay_end once a query
 * comes back short. Queries restart from next_seq each turn instead of
 * holding a cursor open while the loop inserts into the same table.
 */
/*
 * The reply's end: everything up to the head was sent, or the `max` asked for, and then its
 * last_seq is the last one sent and the watermark is just before that event's `at`.
 */
static replay_step_t replay_end(feed_t *f, replay_t *job)
{
        bool chunk = job->max > 0 && (int64_t)job->sent == job->max;
        int64_t last = chunk ? job->next_seq - 1 : evlog_head(f, job->source);
        json_t *end = json_pack("{s:s, s:s, s:I}", "op", "replay_end", "source", job->source, "last_seq",
                                (json_int_t)last);
        char wm[40];
        int r;

        if (end && chunk && f->opts->watermark != WM_NONE) {
                bk_time_t at = evlog_at(f, job->source, last);
                if (at > 0) {
                        cal_format_rfc3339(at - 1, wm, sizeof(wm));
                        json_object_set_new(end, "watermark", json_string(wm));
                }
        } else if (end && feed_watermark(f, job->source, wm, sizeof(wm))) {
                json_object_set_new(end, "watermark", json_string(wm));
        }
        r = replay_send_json(f, job, end);
        if (r < 0)
                return replay_status(r);
        return REPLAY_DONE;
}

static replay_step_t replay_step(feed_t *f, replay_t *job, size_t limit)
{
        sqlite3_stmt *st = f->st_replay;
        size_t rows = 0;
        replay_step_t res = REPLAY_MORE;
        int r;

        /* Asked for at most max (protocol §6): the reply ends when that many are out. */
        if (job->max > 0)
                limit = (size_t)BK_MIN((int64_t)limit, job->max - (int64_t)job->sent);
        sqlite3_bind_text(st, 1, job->source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, job->next_seq);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                const char *frames[2] = {
                        (const char *)sqlite3_column_text(st, 1),
                        (const char *)sqlite3_column_text(st, 2),
                };
                size_t lens[2] = { (size_t)sqlite3_column_bytes(st, 1), (size_t)sqlite3_column_bytes(st, 2) };
                int64_t seq = sqlite3_column_int64(st, 0);

                r = replay_send(f, job, frames, lens, 2);
                if (r < 0) {
                        res = replay_status(r);
                        break;
                }
                job->next_seq = seq + 1;
                job->sent++;
                rows++;
        }
        if (res == REPLAY_MORE && r != SQLITE_DONE) {
                log_errx("replay: %s", sqlite3_errmsg(f->db));
                res = REPLAY_FAILED;
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (res != REPLAY_MORE || (rows == limit && (job->max == 0 || (int64_t)job->sent < job->max)))
                return res;
        return replay_end(f, job);
}

static bool replay_peer_earlier(feed_t *f, size_t i)
{
        for (size_t j = 0; j < i; j++)
                if (f->jobs[j]->id_len == f->jobs[i]->id_len &&
                    memcmp(f->jobs[j]->id, f->jobs[i]->id, f->jobs[i]->id_len) == 0)
                        return true;
        return false;
}

/*
 * Runs the replay jobs for one loop turn. A peer's requests are answered one
 * after another (their streams must not interleave); different peers share
 * the turn's budget.
 */
static void replay_run(feed_t *f, int64_t now, bool *busy)
{
        size_t eligible = 0;
        size_t share;

        for (size_t i = 0; i < f->n_jobs; i++)
                if (f->jobs[i]->retry_at <= now && !replay_peer_earlier(f, i))
                        eligible++;
        if (eligible == 0)
                return;
        share = BK_MAX(REPLAY_CHUNK / eligible, (size_t)REPLAY_SHARE_MIN);

        for (size_t i = 0; i < f->n_jobs;) {
                replay_t *job = f->jobs[i];
                replay_step_t res;

                if (job->retry_at > now || replay_peer_earlier(f, i)) {
                        i++;
                        continue;
                }
                res = replay_step(f, job, share);
                if (res == REPLAY_MORE) {
                        *busy = true;
                        i++;
                        continue;
                }
                if (res == REPLAY_BLOCKED) {
                        job->retry_at = now + REPLAY_RETRY_NS;
                        i++;
                        continue;
                }
                if (res == REPLAY_DONE) {
                        f->n_replays++;
                        f->n_replayed += job->sent;
                        log_debug("replay: %s: %" PRIu64 " events", job->source, job->sent);
                } else {
                        log_info("replay: %s: %s after %" PRIu64 " events", job->source,
                                 res == REPLAY_GONE ? "peer gone" : "failed", job->sent);
                }
                replay_free(job);
                memmove(&f->jobs[i], &f->jobs[i + 1], (f->n_jobs - i - 1) * sizeof(*f->jobs));
                f->n_jobs--;
                /* A later job of the same peer may run now; the next turn picks it up. */
                *busy = true;
        }
}

/* ---- setup and the loop ----------------------------------------------------- */

static int feed_setsockopt_int(void *s, int opt, int v, const char *what)
{
        if (zmq_setsockopt(s, opt, &v, sizeof(v)) < 0) {
                log_errno(LOG_ERR, zmq_errno(), "zmq_setsockopt %s", what);
                return -EINVAL;
        }
        return 0;
}

/*
 * CURVE server side: both sockets serve with our secret key. With --keys a
 * ZAP handler is bound first (libzmq lets handshakes through unchecked
 * while none is) and answers from the loop.
 */
static int feed_curve(feed_t *f)
{
        uint8_t secret[KEYS_KEY_SIZE];
        char err[1024];
        int one = 1, r;

        if (!f->opts->curve_secret_key)
                return 0;
        if (!zmq_has("curve")) {
                log_errx("--curve-secret-key: this libzmq has no CURVE support");
                return -ENOTSUP;
        }
        if (keys_read_file(f->opts->curve_secret_key, "secret-key", true, secret, err, sizeof(err)) != 0) {
                log_errx("--curve-secret-key: %s", err);
                return -EINVAL;
        }
        if (f->opts->keys_file) {
                if ((r = config_load_keys(f->opts->keys_file, &f->keys, err, sizeof(err))) != 0) {
                        log_errx("--keys: %s", err);
                        explicit_bzero(secret, sizeof(secret));
                        return r < 0 ? r : -EINVAL;
                }
                f->zap = zmq_socket(f->ctx, ZMQ_REP);
                if (!f->zap || feed_setsockopt_int(f->zap, ZMQ_LINGER, 0, "LINGER") < 0 ||
                    zmq_bind(f->zap, ZAP_ENDPOINT) < 0) {
                        log_errno(LOG_ERR, zmq_errno(), "bind %s", ZAP_ENDPOINT);
                        explicit_bzero(secret, sizeof(secret));
                        return -EIO;
                }
        }
        r = 0;
        for (int i = 0; i < 2; i++) {
                void *s = i ? f->router : f->pub;
                if (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one)) < 0 ||
                    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret, sizeof(secret)) < 0 ||
                    zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) < 0)
                        r = -EINVAL;
        }
        explicit_bzero(secret, sizeof(secret));
        if (r == 0)
                log_info("CURVE on: %s", f->zap ? "only the keys in --keys pass the handshake"
                                                 : "any client key passes the handshake (no --keys)");
        return r;
}

/* Answers pending ZAP requests with the daemon's logic: a listed key passes, whatever its role. */
static void feed_zap(feed_t *f)
{
        for (int served = 0; served < 100; served++) {
                zmq_msg_t parts[8];
                zap_frame_t req[8];
                zap_reply_t rep;
                size_t n = 0;
                int more = 1;

                while (more) {
                        zmq_msg_t m;
                        zmq_msg_init(&m);
                        if (zmq_msg_recv(&m, f->zap, n ? 0 : ZMQ_DONTWAIT) < 0) {
                                zmq_msg_close(&m);
                                for (size_t i = 0; i < BK_MIN(n, 8); i++)
                                        zmq_msg_close(&parts[i]);
                                return;
                        }
                        more = zmq_msg_more(&m);
                        if (n < 8)
                                parts[n] = m;
                        else
                                zmq_msg_close(&m);
                        n++;
                }
                for (size_t i = 0; i < BK_MIN(n, 8); i++)
                        req[i] = (zap_frame_t){ zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i]) };
                zap_handle(&f->keys, req, BK_MIN(n, 8), &rep);
                for (int i = 0; i < ZAP_REPLY_FRAMES; i++)
                        zmq_send(f->zap, rep.frames[i].data, rep.frames[i].size,
                                 i + 1 < ZAP_REPLY_FRAMES ? ZMQ_SNDMORE : 0);
                for (size_t i = 0; i < BK_MIN(n, 8); i++)
                        zmq_msg_close(&parts[i]);
                if (rep.status != ZAP_OK) {
                        char rl[128];
                        snprintf(rl, sizeof(rl), "zap %s %s", rep.fingerprint, rep.address);
                        if (log_ratelimit(rl, feed_now() / NS_PER_S, 60))
                                log_warnx("refused a handshake (%s %s): key %s from %s", rep.code, rep.reason,
                                          rep.fingerprint[0] ? rep.fingerprint : "(none)",
                                          rep.address[0] ? rep.address : "local");
                }
        }
}

static int feed_sockets(feed_t *f)
{
        int64_t maxmsg = FEED_MSG_MAX;
        int r;

        f->ctx = zmq_ctx_new();
        if (!f->ctx)
                return -ENOMEM;
        f->pub = zmq_socket(f->ctx, ZMQ_XPUB);
        f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
        if (!f->pub || !f->router)
                return -ENOMEM;
        /*
         * XPUB rather than PUB only to see subscriptions (--wait-subscribers);
         * to SUB peers it is the same socket.
         */
        if (feed_setsockopt_int(f->pub, ZMQ_LINGER, FEED_LINGER_MS, "LINGER") < 0 ||
            feed_setsockopt_int(f->pub, ZMQ_SNDHWM, FEED_PUB_SNDHWM, "SNDHWM") < 0 ||
            feed_setsockopt_int(f->pub, ZMQ_XPUB_VERBOSER, 1, "XPUB_VERBOSER") < 0 ||
            zmq_setsockopt(f->pub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0 ||
            feed_setsockopt_int(f->router, ZMQ_LINGER, FEED_LINGER_MS, "LINGER") < 0 ||
            feed_setsockopt_int(f->router, ZMQ_SNDHWM, FEED_ROUTER_SNDHWM, "SNDHWM") < 0 ||
            feed_setsockopt_int(f->router, ZMQ_RCVHWM, FEED_ROUTER_RCVHWM, "RCVHWM") < 0 ||
            feed_setsockopt_int(f->router, ZMQ_ROUTER_MANDATORY, 1, "ROUTER_MANDATORY") < 0 ||
            zmq_setsockopt(f->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0)
                return -EINVAL;
        if ((r = feed_curve(f)) < 0)
                return r;
        if (zmq_bind(f->pub, f->opts->endpoint) < 0) {
                log_errno(LOG_ERR, zmq_errno(), "bind %s", f->opts->endpoint);
                return -EADDRINUSE;
        }
        if (zmq_bind(f->router, f->opts->replay_endpoint) < 0) {
                log_errno(LOG_ERR, zmq_errno(), "bind %s", f->opts->replay_endpoint);
                return -EADDRINUSE;
        }
        return 0;
}

static void feed_free(feed_t **fp)
{
        feed_t *f = *fp;

        if (!f)
                return;
        for (size_t i = 0; i < f->n_jobs; i++)
                replay_free(f->jobs[i]);
        free(f->jobs);
        for (size_t i = 0; i < f->n_batch; i++) {
                free(f->batch[i].type);
                free(f->batch[i].payload);
        }
        free(f->batch);
        input_close(&f->in);
        if (f->pub)
                zmq_close(f->pub);
        if (f->router)
                zmq_close(f->router);
        if (f->zap)
                zmq_close(f->zap);
        if (f->ctx)
                zmq_ctx_term(f->ctx);
        keys_clear(&f->keys);
        sqlite3_finalize(f->st_insert);
        sqlite3_finalize(f->st_replay);
        sqlite3_close(f->db);
        json_decref(f->heads);
        json_decref(f->head_at);
        if (f->sigfd >= 0)
                close(f->sigfd);
        free(f);
        *fp = NULL;
}

static int feed_new(feed_opts_t *opts, feed_t **out)
{
        feed_t *f = calloc(1, sizeof(*f));
        sigset_t mask;
        int r;

        if (!f)
                return -ENOMEM;
        f->opts = opts;
        f->in.fd = -1;
        f->sigfd = -1;
        f->heads = json_object();
        f->head_at = json_object();
        f->batch = calloc(FEED_BATCH, sizeof(*f->batch));
        f->jobs = calloc(REPLAY_MAX, sizeof(*f->jobs));
        if (!f->heads || !f->head_at || !f->batch || !f->jobs) {
                r = -ENOMEM;
                goto fail;
        }
        /*
         * Blocked before zmq_ctx_new so libzmq's I/O threads inherit the mask
         * and the signals reach only the signalfd.
         */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        f->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (f->sigfd < 0) {
                r = -errno;
                log_errno(LOG_ERR, r, "signalfd");
                goto fail;
        }
        /* The input first: a mistyped file name should not leave a new empty log behind. */
        if (opts->publish && (r = input_open(&f->in, opts->file)) < 0)
                goto fail;
        if ((r = evlog_open(f)) < 0)
                goto fail;
        if ((r = feed_sockets(f)) < 0)
                goto fail;
        *out = f;
        return 0;
fail:
        feed_free(&f);
        return r;
}

static void feed_signal(feed_t *f)
{
        struct signalfd_siginfo si;

        while (read(f->sigfd, &si, sizeof(si)) == sizeof(si)) {
                log_info("%s, exiting", strsignal((int)si.ssi_signo));
                f->stop = true;
        }
}

static void feed_maybe_start(feed_t *f, int64_t now)
{
        if (f->started || !f->opts->publish)
                return;
        if (f->subscribers < f->opts->wait_subscribers) {
                if (now < f->wait_deadline)
                        return;
                log_warnx("feed: %d of %d subscriptions after %d ms, publishing anyway",
                          f->subscribers, f->opts->wait_subscribers, f->opts->wait_timeout_ms);
        }
        f->started = true;
        f->pace_base = now;
        f->pace_count = f->emitted;
        /* A heartbeat before the first event: the subscriber learns whether this adapter sends
         * watermarks (and its event time) before it judges the first event (protocol §6). */
        pub_heartbeats(f);
}

static int feed_run(feed_t *f)
{
        int64_t hb_ns = (int64_t)f->opts->heartbeat_ms * NS_PER_MS;
        int64_t now = feed_now();

        f->hb_next = now;
        f->wait_deadline = now + (int64_t)f->opts->wait_timeout_ms * NS_PER_MS;
        log_info("feed %s, replay %s, log %s%s", f->opts->endpoint, f->opts->replay_endpoint,
                 f->opts->db_path, f->opts->raw ? ", raw" : "");

        while (!f->stop) {
                zmq_pollitem_t items[5];
                int64_t next = INT64_MAX;
                bool busy = false;
                size_t n = 0;
                int timeout;
                int r;

                now = feed_now();
                feed_maybe_start(f, now);
                if (f->started && !f->done) {
                        r = feed_publish_turn(f, now, &busy);
                        if (r < 0)
                                return r;
                        if (f->done) {
                                /* Tells a subscriber at once whether it missed the last events. */
                                f->hb_next = now;
                        }
                }
                replay_run(f, now, &busy);
                if (hb_ns > 0 && now >= f->hb_next) {
                        pub_heartbeats(f);
                        f->hb_next += hb_ns;
                        if (f->hb_next <= now)
                                f->hb_next = now + hb_ns;
                }
                if (f->done && f->opts->exit_after)
                        break;

                if (hb_ns > 0)
                        next = BK_MIN(next, f->hb_next);
                if (f->opts->publish && !f->started)
                        next = BK_MIN(next, f->wait_deadline);
                if (f->started && !f->done && !f->need_input && f->opts->rate > 0)
                        next = BK_MIN(next, feed_next_event_at(f));
                for (size_t i = 0; i < f->n_jobs; i++)
                        if (f->jobs[i]->retry_at > now)
                                next = BK_MIN(next, f->jobs[i]->retry_at);
                if (busy)
                        timeout = 0;
                else if (next == INT64_MAX)
                        timeout = -1;
                else if (next <= now)
                        timeout = 0;
                else
                        timeout = (int)BK_MIN((next - now + NS_PER_MS - 1) / NS_PER_MS, (int64_t)INT32_MAX);

                items[n++] = (zmq_pollitem_t){ .fd = f->sigfd, .events = ZMQ_POLLIN };
                items[n++] = (zmq_pollitem_t){ .socket = f->pub, .events = ZMQ_POLLIN };
                items[n++] = (zmq_pollitem_t){ .socket = f->router, .events = ZMQ_POLLIN };
                if (f->need_input)
                        items[n++] = (zmq_pollitem_t){ .fd = f->in.fd, .events = ZMQ_POLLIN };
                size_t zap = n;
                if (f->zap)
                        items[n++] = (zmq_pollitem_t){ .socket = f->zap, .events = ZMQ_POLLIN };
                if (zmq_poll(items, (int)n, timeout) < 0) {
                        if (zmq_errno() == EINTR)
                                continue;
                        log_errno(LOG_ERR, zmq_errno(), "zmq_poll");
                        return -EIO;
                }
                if (items[0].revents & ZMQ_POLLIN)
                        feed_signal(f);
                if (items[1].revents & ZMQ_POLLIN)
                        pub_recv_subscriptions(f);
                if (items[2].revents & ZMQ_POLLIN)
                        replay_recv(f);
                if (f->zap && (items[zap].revents & ZMQ_POLLIN))
                        feed_zap(f);
        }
        return 0;
}

/* `bevaka-feed synth` (synthetic histories) lives in client/feed-synth.c. */
#include "feed-synth.h"

int main(int argc, char **argv)
{
        feed_opts_t opts;
        feed_t *f = NULL;
        int r;

        if (argc >= 2 && strcmp(argv[1], "synth") == 0)
                return synth_main(argc - 1, argv + 1);
        r = feed_opts_parse(&opts, argc, argv);
        if (r != 0) {
                free(opts.skip);
                return r < 0 ? 0 : r;
        }
        log_init("bevaka-feed", opts.quiet ? LOG_WARNING : LOG_INFO, false);

        r = feed_new(&opts, &f);
        if (r == 0)
                r = feed_run(f);
        if (f)
                log_info("%" PRIu64 " published, %" PRIu64 " skipped (--skip-seq), %" PRIu64 " rejected, "
                         "%" PRIu64 " replays served (%" PRIu64 " events)",
                         f->n_published, f->n_skipped, f->n_rejected, f->n_replays, f->n_replayed);
        feed_free(&f);
        free(opts.skip);
        return r < 0 ? 1 : 0;
}
