/*
 * Golden scenario tests. Every directory under tests/scenarios/ that holds a
 * `steps` file is one story: case-system events (JSONL, protocol §1
 * envelopes without source/seq) and a small line-based script that starts
 * the real bevakad and bevaka-feed, publishes the events, moves the manual
 * clock, restarts the daemon, calls the API, and states, in order, every
 * reminder message the daemon must publish (protocol §2). docs/scenarios.md
 * describes the format.
 *
 * Each scenario runs in its own temporary directory and is reported by
 * name; the last line is tap.h's "N passed, N failed", counting scenarios.
 *
 * Environment: BEVAKA_BIN, BEVAKA_SRC (as for every integration test);
 * SCENARIO=a,b runs only those; SCENARIO_VERBOSE=1 prints every message as
 * an `expect` line; BEVAKA_KEEP=1 keeps the temporary directories.
 *
 * Nothing here sleeps to wait for an outcome: every wait is a poll with a
 * deadline (the subscriber socket, the API, waitpid).
 */
#include "it.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/prctl.h>

#define SOURCE "paraply-demo"
#define MAX_LINES 2000
#define MAX_SKIPS 256
#define MAX_KEYS 4096
#define MAX_GROUP 64
#define WAIT_MS 15000

typedef struct msg {
        int64_t rseq;
        char topic[256];
        json_t *j;
        bool outbox;               /* published before the subscriber was connected: read from the outbox */
} msg_t;

typedef struct scn {
        char name[256];
        char dir[1024];            /* the scenario's directory in the source tree */
        it_env_t e;
        char *text;                /* the steps file; lines point into it */
        char *line[MAX_LINES];
        int line_no[MAX_LINES];
        int n_lines;
        int at;                    /* the line being run */
        msg_t *msgs;
        int n_msgs, cap_msgs, cursor;
        int64_t last_rseq;
        long published;            /* events handed to the feed = its highest seq */
        long skips[MAX_SKIPS];
        int n_skips;
        char clock[64];
        char extra[2048];          /* `config` lines */
        int feed_in;               /* the feed's stdin (write end) */
        void *probe;               /* DEALER to the feed's replay socket */
        void *monitor;             /* PAIR receiving the subscriber's socket events */
        int monitors;
        bool daemon_up, feed_up, resync, crashed;
        bool killed;               /* a kill9 step ran: a message seen may be offered again */
        int fills;
        int64_t settle_rseq;       /* the last stats rseq seen while next_delivery lies in the past */
        char *open_keys[MAX_KEYS]; /* "id topic" delivered and not closed/rerouted on that topic */
        int n_open;
        char *snoozed[MAX_KEYS];
        int n_snoozed;
        bool failed;
        char err[16384];
} scn_t;

static bool verbose;

/* ---- small helpers ------------------------------------------------------------------- */

static void failf(scn_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(scn_t *s, const char *fmt, ...)
{
        size_t len = strlen(s->err);
        va_list ap;

        if (s->failed && len > sizeof(s->err) - 256)
                return;
        if (s->at >= 0 && s->at < s->n_lines && !s->failed) {
                snprintf(s->err + len, sizeof(s->err) - len, "  steps:%d: %s\n", s->line_no[s->at], s->line[s->at]);
                len = strlen(s->err);
        }
        s->failed = true;
        snprintf(s->err + len, sizeof(s->err) - len, "  ");
        len = strlen(s->err);
        va_start(ap, fmt);
        vsnprintf(s->err + len, sizeof(s->err) - len, fmt, ap);
        va_end(ap);
        len = strlen(s->err);
        snprintf(s->err + len, sizeof(s->err) - len, "\n");
}

static char *read_text(const char *path)
{
        FILE *f = fopen(path, "r");
        char *buf;
        long n;

        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t)n + 2);
        if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                fclose(f);
                return NULL;
        }
        buf[n] = '\0';
        fclose(f);
        return buf;
}

static long count_events(const char *text)
{
        long n = 0;
        const char *p = text;

        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                for (size_t i = 0; i < len; i++)
                        if (!isspace((unsigned char)p[i])) {
                                n++;
                                break;
                        }
                p += len + (nl ? 1 : 0);
        }
        return n;
}

static char *trim(char *p)
{
        char *end;

        while (isspace((unsigned char)*p))
                p++;
        end = p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1]))
                *--end = '\0';
        return p;
}

/*
 * The reminder id (docs/rules.md §1), computed here independently: "r-" and
 * FNV-1a 64 over case, rule name and cycle, each with its terminating NUL
 * (the implementation hashes the cycle's NUL too; rules.md §1 leaves it out).
 */
static void reminder_id(const char *case_id, const char *rule, const char *cycle, char out[24])
{
        uint64_t h = 14695981039346656037ULL;
        const char *parts[3] = { case_id, rule, cycle };

        for (int k = 0; k < 3; k++) {
                for (const char *c = parts[k]; *c; c++)
                        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
                h = (h ^ 0) * 1099511628211ULL;
        }
        snprintf(out, 24, "r-%016llx", (unsigned long long)h);
}

static const char *jstr(const json_t *o, const char *key)
{
        const char *v = json_string_value(json_object_get(o, key));
        return v ? v : "";
}

/* A message written as the `expect` line that would match it. */
static void msg_line(const msg_t *m, char *buf, size_t n)
{
        const char *rule = jstr(m->j, "rule"), *case_id = jstr(m->j, "case");

        snprintf(buf, n, "expect %s %s %s %s due_at=%s deliver_at=%s severity=%s   # rseq %lld%s",
                 jstr(m->j, "op"), rule[0] ? rule : "-", case_id[0] ? case_id : "-", m->topic, jstr(m->j, "due_at"),
                 jstr(m->j, "deliver_at"), jstr(m->j, "severity"), (long long)m->rseq,
                 m->outbox ? " (outbox)" : "");
}

/* $ID(CASE,RULE) = the id last published for that case and rule; $ID(CASE,RULE,CYCLE) = computed. */
static bool substitute(scn_t *s, const char *in, char *out, size_t n)
{
        size_t o = 0;

        while (*in && o + 1 < n) {
                if (strncmp(in, "$ID(", 4) == 0) {
                        const char *close = strchr(in, ')');
                        char args[512], *a[3] = { NULL }, id[24] = "";
                        int k = 0;
                        if (!close || (size_t)(close - in - 4) >= sizeof(args)) {
                                failf(s, "bad $ID(...)");
                                return false;
                        }
                        memcpy(args, in + 4, (size_t)(close - in - 4));
                        args[close - in - 4] = '\0';
                        for (char *tok = strtok(args, ","); tok && k < 3; tok = strtok(NULL, ","))
                                a[k++] = trim(tok);
                        if (k == 3) {
                                reminder_id(a[0], a[1], a[2], id);
                        } else if (k == 2) {
                                for (int i = s->n_msgs - 1; i >= 0 && !id[0]; i--)
                                        if (strcmp(jstr(s->msgs[i].j, "case"), a[0]) == 0 &&
                                            strcmp(jstr(s->msgs[i].j, "rule"), a[1]) == 0)
                                                snprintf(id, sizeof(id), "%s", jstr(s->msgs[i].j, "id"));
                                if (!id[0]) {
                                        failf(s, "$ID(%s,%s): no such reminder was published", a[0], a[1]);
                                        return false;
                                }
                        } else {
                                failf(s, "$ID needs (CASE,RULE) or (CASE,RULE,CYCLE)");
                                return false;
                        }
                        o += (size_t)snprintf(out + o, n - o, "%s", id);
                        in = close + 1;
                } else {
                        out[o++] = *in++;
                }
        }
        out[BK_IT_MIN(o, n - 1)] = '\0';
        return true;
}

/* ---- child processes ------------------------------------------------------------------ */

static pid_t spawn(scn_t *s, const char *logname, char *const argv[], int stdin_fd)
{
        char log[600];
        pid_t parent = getpid(), pid = fork();

        if (pid < 0) {
                perror("fork");
                exit(2);
        }
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(125);
                it_path(&s->e, logname, log, sizeof(log));
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                if (stdin_fd >= 0)
                        dup2(stdin_fd, 0);
                if (chdir(s->e.dir) != 0)
                        _exit(126);
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static void start_feed(scn_t *s)
{
        char exe[600], ep[600], rep[600], db[600], skip[MAX_SKIPS][24];
        char *argv[32 + 2 * MAX_SKIPS];
        int n = 0, p[2], linger = 0;

        snprintf(exe, sizeof(exe), "%s/bevaka-feed", s->e.bin);
        snprintf(ep, sizeof(ep), "ipc://%s/feed.sock", s->e.dir);
        snprintf(rep, sizeof(rep), "ipc://%s/replay.sock", s->e.dir);
        snprintf(db, sizeof(db), "%s/feed.db", s->e.dir);
        argv[n++] = exe; argv[n++] = "publish"; argv[n++] = "--endpoint"; argv[n++] = ep;
        argv[n++] = "--replay-endpoint"; argv[n++] = rep; argv[n++] = "--db"; argv[n++] = db;
        argv[n++] = "--heartbeat-ms"; argv[n++] = "50"; argv[n++] = "-q";
        for (int i = 0; i < s->n_skips; i++) {
                snprintf(skip[i], sizeof(skip[i]), "%ld", s->skips[i]);
                argv[n++] = "--skip-seq";
                argv[n++] = skip[i];
        }
        argv[n++] = "-";
        argv[n] = NULL;
        if (pipe2(p, O_CLOEXEC) != 0) {
                perror("pipe");
                exit(2);
        }
        s->e.feed = spawn(s, "feed.log", argv, p[0]);
        close(p[0]);
        s->feed_in = p[1];
        s->feed_up = true;
        s->probe = zmq_socket(s->e.ctx, ZMQ_DEALER);
        zmq_setsockopt(s->probe, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_connect(s->probe, rep);
}

/* The highest seq the feed has stored, asked on its replay socket; -1 on timeout. */
static long feed_last_seq(scn_t *s)
{
        const char *req = "{\"op\":\"replay\",\"source\":\"" SOURCE "\",\"from_seq\":1000000000000}";
        char buf[4096];
        int64_t end = it_ms() + 2000;

        if (zmq_send(s->probe, req, strlen(req), 0) < 0)
                return -1;
        while (it_ms() < end) {
                zmq_pollitem_t it = { s->probe, 0, ZMQ_POLLIN, 0 };
                if (zmq_poll(&it, 1, 200) <= 0)
                        continue;
                int n = zmq_recv(s->probe, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        return -1;
                buf[BK_IT_MIN(n, (int)sizeof(buf) - 1)] = '\0';
                json_t *j = json_loads(buf, 0, NULL);
                const char *op = jstr(j, "op");
                long last = strcmp(op, "replay_end") == 0 ? (long)json_integer_value(json_object_get(j, "last_seq")) : -2;
                json_decref(j);
                if (last >= -1)
                        return last;
        }
        return -1;
}

/* it_connect, with a short reconnect interval: the daemon may not have bound yet. */
static void connect_sockets(scn_t *s)
{
        char ep[600];
        int linger = 0, ivl = 10;

        if (s->e.api)
                zmq_close(s->e.api);
        if (s->e.sub)
                zmq_close(s->e.sub);
        s->e.api = zmq_socket(s->e.ctx, ZMQ_DEALER);
        s->e.sub = zmq_socket(s->e.ctx, ZMQ_SUB);
        zmq_setsockopt(s->e.api, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(s->e.sub, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(s->e.api, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
        zmq_setsockopt(s->e.sub, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
        zmq_setsockopt(s->e.sub, ZMQ_SUBSCRIBE, "rem/", 4);
        snprintf(ep, sizeof(ep), "ipc://%s/api.sock", s->e.dir);
        zmq_connect(s->e.api, ep);
        snprintf(ep, sizeof(ep), "ipc://%s/pub.sock", s->e.dir);
        zmq_connect(s->e.sub, ep);
        /* Watch the subscriber's handshake: after it, the subscription is on its way. */
        if (s->monitor)
                zmq_close(s->monitor);
        snprintf(ep, sizeof(ep), "inproc://sub-monitor-%d", ++s->monitors);
        zmq_socket_monitor(s->e.sub, ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
        s->monitor = zmq_socket(s->e.ctx, ZMQ_PAIR);
        zmq_setsockopt(s->monitor, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_connect(s->monitor, ep);
}

/* Waits for the subscriber's handshake with the daemon's publisher. */
static bool wait_subscribed(scn_t *s, int timeout_ms)
{
        zmq_pollitem_t it = { s->monitor, 0, ZMQ_POLLIN, 0 };
        int64_t end = it_ms() + timeout_ms;

        while (it_ms() < end) {
                if (zmq_poll(&it, 1, 50) <= 0)
                        continue;
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, s->monitor, 0) < 0) {
                        zmq_msg_close(&m);
                        return false;
                }
                uint16_t ev = 0;
                if (zmq_msg_size(&m) >= 2)
                        memcpy(&ev, zmq_msg_data(&m), 2);
                bool more = zmq_msg_more(&m);
                zmq_msg_close(&m);
                while (more) {          /* second frame: the endpoint */
                        zmq_msg_init(&m);
                        zmq_msg_recv(&m, s->monitor, 0);
                        more = zmq_msg_more(&m);
                        zmq_msg_close(&m);
                }
                if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                        return true;
        }
        return false;
}

static void start_daemon(scn_t *s)
{
        char exe[600], conf[600];
        char *argv[] = { exe, "--config", conf, NULL };

        it_config(&s->e, s->clock, s->extra);
        snprintf(exe, sizeof(exe), "%s/bevakad", s->e.bin);
        it_path(&s->e, "bevakad.conf", conf, sizeof(conf));
        s->e.daemon = spawn(s, "bevakad.log", argv, -1);
        s->daemon_up = true;
        connect_sockets(s);
        /*
         * Until the subscriber has received its first message live, it may have
         * missed what the daemon published (the daemon delivers overdue reminders
         * as soon as it starts, before a new subscription reaches it): those are
         * read from the store's outbox, which holds every message published.
         */
        s->resync = true;
}

static void stop_daemon(scn_t *s, int sig)
{
        int st;

        if (!s->daemon_up)
                return;
        s->daemon_up = false;
        st = it_stop(&s->e.daemon, sig);
        if (sig == SIGTERM && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
                failf(s, "bevakad did not exit 0 on SIGTERM (status %d)", st);
}

/* ---- the reminder stream --------------------------------------------------------------- */

static int key_find(char **keys, int n, const char *k)
{
        for (int i = 0; i < n; i++)
                if (strcmp(keys[i], k) == 0)
                        return i;
        return -1;
}

/* Protocol §2 invariants, checked on every message whatever the scenario expects. */
static void check_invariants(scn_t *s, const msg_t *m)
{
        const char *op = jstr(m->j, "op"), *id = jstr(m->j, "id");
        char key[512];
        int i;

        snprintf(key, sizeof(key), "%s %s", id, m->topic);
        i = key_find(s->open_keys, s->n_open, key);
        if (strcmp(op, "due") == 0) {
                if (i >= 0 && key_find(s->snoozed, s->n_snoozed, id) < 0)
                        failf(s, "rseq %lld: %s %s of %s published `due` twice on %s (a duplicate reminder)",
                              (long long)m->rseq, jstr(m->j, "rule"), id, jstr(m->j, "case"), m->topic);
                else if (i < 0 && s->n_open < MAX_KEYS)
                        s->open_keys[s->n_open++] = strdup(key);
        } else if (strcmp(op, "resolved") == 0 || strcmp(op, "cancelled") == 0 || strcmp(op, "rerouted") == 0) {
                if (i < 0) {
                        failf(s, "rseq %lld: `%s` published for %s %s on %s, which was never delivered there",
                              (long long)m->rseq, op, jstr(m->j, "rule"), id, m->topic);
                } else {
                        free(s->open_keys[i]);
                        s->open_keys[i] = s->open_keys[--s->n_open];
                }
        } else if (strcmp(op, "digest") == 0) {
                /* protocol §6: a digest is for the unit's leads only */
                if (!strstr(m->topic, "/@leads/"))
                        failf(s, "rseq %lld: digest on %s, not a leads' topic", (long long)m->rseq, m->topic);
        } else if (strcmp(op, "summary") == 0) {
                if (strstr(m->topic, "/@leads/"))
                        failf(s, "rseq %lld: summary on %s, not a caseworker's topic", (long long)m->rseq, m->topic);
        } else {
                failf(s, "rseq %lld: unknown op \"%s\"", (long long)m->rseq, op);
        }
        if (strncmp(m->topic, "rem/", 4) != 0 || m->topic[strlen(m->topic) - 1] != '/')
                failf(s, "rseq %lld: bad topic %s", (long long)m->rseq, m->topic);
}

static void add_msg(scn_t *s, const char *topic, json_t *j, bool outbox)
{
        msg_t *m;

        if (s->n_msgs == s->cap_msgs) {
                s->cap_msgs = s->cap_msgs ? 2 * s->cap_msgs : 256;
                s->msgs = realloc(s->msgs, (size_t)s->cap_msgs * sizeof(*s->msgs));
                if (!s->msgs)
                        exit(2);
        }
        m = &s->msgs[s->n_msgs++];
        memset(m, 0, sizeof(*m));
        m->rseq = json_integer_value(json_object_get(j, "rseq"));
        snprintf(m->topic, sizeof(m->topic), "%s", topic);
        m->j = j;
        m->outbox = outbox;
        s->last_rseq = m->rseq;
        if (verbose) {
                char line[1024];
                msg_line(m, line, sizeof(line));
                fprintf(stderr, "    %s\n", line);
        }
        check_invariants(s, m);
}

/* Reads rseq (from, to] from the daemon's outbox: what it published while nobody listened. */
static void fill_from_outbox(scn_t *s, int64_t to)
{
        char path[600];
        sqlite3 *db = NULL;
        sqlite3_stmt *q = NULL;
        int64_t from = s->last_rseq;

        it_path(&s->e, "bevaka.db", path, sizeof(path));
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "SELECT rseq, topic, payload FROM outbox WHERE rseq > ?1 AND rseq <= ?2 "
                                   "ORDER BY rseq", -1, &q, NULL) != SQLITE_OK) {
                failf(s, "cannot read the outbox: %s", db ? sqlite3_errmsg(db) : "open failed");
                sqlite3_close(db);
                return;
        }
        sqlite3_bind_int64(q, 1, from);
        sqlite3_bind_int64(q, 2, to);
        while (sqlite3_step(q) == SQLITE_ROW) {
                int64_t rseq = sqlite3_column_int64(q, 0);
                json_t *j = json_loads((const char *)sqlite3_column_text(q, 2), 0, NULL);
                if (rseq != s->last_rseq + 1 || !j) {
                        failf(s, "outbox: rseq %lld missing or unreadable", (long long)s->last_rseq + 1);
                        json_decref(j);
                        break;
                }
                add_msg(s, (const char *)sqlite3_column_text(q, 1), j, true);
                s->fills++;
        }
        sqlite3_finalize(q);
        sqlite3_close(db);
        if (s->last_rseq < to)
                failf(s, "outbox ends at rseq %lld, daemon said %lld", (long long)s->last_rseq, (long long)to);
}

/* Receives what the subscriber has, waiting at most timeout_ms for the first message. */
static int recv_some(scn_t *s, int timeout_ms)
{
        char topic[256];
        int n = 0;
        json_t *j;

        while ((j = it_recv_reminder(&s->e, topic, sizeof(topic), n ? 0 : timeout_ms))) {
                int64_t rseq = json_integer_value(json_object_get(j, "rseq"));
                n++;
                if (rseq <= s->last_rseq) {
                        /* It arrived after all, once read from the outbox: drop the copy. After a kill -9
                         * the daemon offers again what may not have left (daemon/outbox.c): the very
                         * message seen already may come twice, and a client drops it by its rseq. */
                        bool filled = false;
                        for (int i = s->n_msgs - 1; i >= 0 && s->msgs[i].rseq >= rseq && !filled; i--)
                                filled = s->msgs[i].rseq == rseq &&
                                         (s->msgs[i].outbox || (s->killed && json_equal(s->msgs[i].j, j)));
                        if (filled) {
                                json_decref(j);
                                continue;
                        }
                        failf(s, "rseq %lld received after %lld (out of order or repeated)", (long long)rseq,
                              (long long)s->last_rseq);
                        json_decref(j);
                        continue;
                }
                if (rseq > s->last_rseq + 1) {
                        if (s->resync)
                                fill_from_outbox(s, rseq - 1);
                        else
                                failf(s, "the live stream skipped rseq %lld..%lld", (long long)s->last_rseq + 1,
                                      (long long)rseq - 1);
                }
                add_msg(s, topic, j, false);
                s->resync = false;     /* the subscription is in place: from now on nothing may be missed */
        }
        return n;
}

static json_t *stats(scn_t *s)
{
        return it_api(&s->e, "%s", "{\"op\":\"stats\"}");
}

/* RFC 3339 with offset (or Z) to seconds since the epoch; -1 if malformed. */
static int64_t parse_time(const char *t)
{
        int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
        char sign = 'Z';
        struct tm tm;

        if (!t || sscanf(t, "%d-%d-%dT%d:%d:%d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
                return -1;
        t += n;
        if (*t == '.')
                while (*++t && isdigit((unsigned char)*t))
                        ;
        if (*t == '+' || *t == '-') {
                sign = *t;
                if (sscanf(t + 1, "%d:%d", &oh, &om) != 2)
                        return -1;
        } else if (*t != 'Z') {
                return -1;
        }
        memset(&tm, 0, sizeof(tm));
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
        return (int64_t)timegm(&tm) - (sign == '-' ? -1 : sign == '+' ? 1 : 0) * (oh * 3600 + om * 60);
}

/* ---- the domain's calendar (domain.md §5), for the barrier only ------------------------ */

static int64_t days_from_civil(int y, int m, int d)
{
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static int weekday(int64_t days)            /* 0 = Monday */
{
        return (int)(((days % 7) + 7 + 3) % 7);
}

static bool swedish_holiday(int y, int m, int d)
{
        int a = y % 19, b = y / 100, c = y % 100, dd = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
        int h = (19 * a + b - dd - g + 15) % 30, i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
        int mm = (a + 11 * h + 22 * l) / 451, em = (h + l - 7 * mm + 114) / 31, ed = (h + l - 7 * mm + 114) % 31 + 1;
        int64_t day = days_from_civil(y, m, d), easter = days_from_civil(y, em, ed);
        static const int fixed[][2] = { { 1, 1 }, { 1, 6 }, { 5, 1 }, { 6, 6 }, { 12, 24 }, { 12, 25 }, { 12, 26 }, { 12, 31 } };

        for (size_t n = 0; n < sizeof(fixed) / sizeof(fixed[0]); n++)
                if (fixed[n][0] == m && fixed[n][1] == d)
                        return true;
        if (day == easter - 2 || day == easter || day == easter + 1 || day == easter + 39 || day == easter + 49)
                return true;
        /* midsommardagen: the Saturday of 20–26 June, and midsommarafton the day before */
        if (m == 6 && ((d >= 20 && d <= 26 && weekday(day) == 5) || (d >= 19 && d <= 25 && weekday(day) == 4)))
                return true;
        /* alla helgons dag: the Saturday of 31 October – 6 November */
        if (((m == 10 && d == 31) || (m == 11 && d <= 6)) && weekday(day) == 5)
                return true;
        return false;
}

/* Whether a local RFC 3339 time (as the steps write them) is a working moment: weekdays 08:00–16:30. */
static bool working_moment(const char *t)
{
        int y, m, d, h, mi;

        if (!t || sscanf(t, "%d-%d-%dT%d:%d", &y, &m, &d, &h, &mi) != 5)
                return true;
        if (weekday(days_from_civil(y, m, d)) >= 5 || swedish_holiday(y, m, d))
                return false;
        return h * 60 + mi >= 8 * 60 && h * 60 + mi < 16 * 60 + 30;
}

/*
 * Ingest has applied all the feed published and is not replaying, and
 * nothing is waiting to be delivered or woken at the daemon's current time
 * (`next_delivery` is later than the clock), so this reply's rseq covers
 * everything the last action made the daemon publish.
 */
static bool caught_up(scn_t *s, json_t *st)
{
        const char *next = json_string_value(json_object_get(st, "next_delivery"));

        /*
         * Outside office hours a reminder whose delivery time has passed waits
         * for the next working moment (domain §5), so next_delivery may stay in
         * the past: then two replies in a row with the same rseq will do.
         */
        if (next && parse_time(next) <= parse_time(s->clock)) {
                int64_t rseq = json_integer_value(json_object_get(st, "rseq"));
                bool settled = !working_moment(s->clock) && rseq == s->settle_rseq;
                s->settle_rseq = rseq;
                if (!settled)
                        return false;
        }
        json_t *feeds = json_object_get(st, "feeds"), *f;
        size_t i;
        bool seen = false;

        if (!json_is_true(json_object_get(st, "ok")))
                return false;
        json_array_foreach(feeds, i, f) {
                if (json_is_true(json_object_get(f, "replaying")))
                        return false;
                if (strcmp(jstr(f, "source"), SOURCE) == 0) {
                        seen = true;
                        if (json_integer_value(json_object_get(f, "last_seq")) < s->published)
                                return false;
                }
        }
        return seen || s->published == 0;
}

/*
 * The barrier after every action: poll stats until ingest has caught up
 * (deliveries then run in the same loop turn, before the reply), take the
 * reply's rseq, and receive every message up to it.
 */
static void barrier(scn_t *s)
{
        int64_t end = it_ms() + WAIT_MS, want = -1;

        if (!s->daemon_up || s->failed)
                return;
        s->settle_rseq = -1;
        while (it_ms() < end) {
                int status;
                if (waitpid(s->e.daemon, &status, WNOHANG) == s->e.daemon) {
                        s->e.daemon = 0;
                        s->daemon_up = false;
                        s->crashed = true;
                        failf(s, "bevakad exited unexpectedly (wait status %d)", status);
                        return;
                }
                json_t *st = stats(s);
                if (st && caught_up(s, st)) {
                        want = json_integer_value(json_object_get(st, "rseq"));
                        json_decref(st);
                        break;
                }
                json_decref(st);
                recv_some(s, 20);
        }
        if (want < 0) {
                failf(s, "bevakad did not catch up with the feed (%ld events published) within %d ms", s->published,
                      WAIT_MS);
                return;
        }
        if (verbose)
                fprintf(stderr, "    -- barrier: rseq %lld\n", (long long)want);
        end = it_ms() + (s->resync ? 300 : 5000);
        while (s->last_rseq < want && it_ms() < end)
                recv_some(s, 20);
        if (s->last_rseq < want) {
                if (s->resync)
                        fill_from_outbox(s, want);
                else
                        failf(s, "published up to rseq %lld but the subscriber got only up to %lld",
                              (long long)want, (long long)s->last_rseq);
        }
        recv_some(s, 0);
}

/* ---- expectations ----------------------------------------------------------------------- */

typedef struct expect {
        int at;                    /* line index */
        char buf[4096];
        char *tok[32];
        int n;
} expect_t;

/* Splits on blanks; "double quoted" parts may hold blanks. Modifies p. */
static int tokenize(char *p, char **tok, int max)
{
        int n = 0;

        while (*p && n < max) {
                while (isspace((unsigned char)*p))
                        p++;
                if (!*p || *p == '#')
                        break;
                tok[n++] = p;
                char *w = p;
                bool q = false;
                while (*p && (q || !isspace((unsigned char)*p))) {
                        if (*p == '"') {
                                q = !q;
                                p++;
                                continue;
                        }
                        if (*p == '\\' && q && p[1])
                                p++;
                        *w++ = *p++;
                }
                if (*p)
                        p++;
                *w = '\0';
        }
        return n;
}

/* Compares member `key` of j with `want` (string, integer, true/false/null); ~ means substring. */
static bool value_matches(const json_t *v, const char *want, bool substring, char *got, size_t n)
{
        if (!v) {
                snprintf(got, n, "(absent)");
                return strcmp(want, "(absent)") == 0;
        }
        if (json_is_string(v)) {
                snprintf(got, n, "%s", json_string_value(v));
                return substring ? strstr(got, want) != NULL : strcmp(got, want) == 0;
        }
        if (json_is_integer(v)) {
                snprintf(got, n, "%lld", (long long)json_integer_value(v));
                return strcmp(got, want) == 0;
        }
        if (json_is_boolean(v) || json_is_null(v)) {
                snprintf(got, n, "%s", json_is_null(v) ? "null" : json_is_true(v) ? "true" : "false");
                return strcmp(got, want) == 0;
        }
        if (json_is_array(v) || json_is_object(v)) {
                char *d = json_dumps(v, JSON_COMPACT);
                snprintf(got, n, "%s", d ? d : "?");
                free(d);
                return substring ? strstr(got, want) != NULL : strcmp(got, want) == 0;
        }
        snprintf(got, n, "?");
        return false;
}

/* Follows a dotted path (object keys, array indexes, `#` = size). */
static json_t *json_path(json_t *root, const char *path, json_t **tmp)
{
        char buf[512], *save = NULL;
        json_t *v = root;

        *tmp = NULL;
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *part = strtok_r(buf, ".", &save); part && v; part = strtok_r(NULL, ".", &save)) {
                if (strcmp(part, "#") == 0) {
                        *tmp = json_integer((json_int_t)(json_is_array(v) ? json_array_size(v) : json_object_size(v)));
                        return *tmp;
                }
                if (json_is_array(v) && isdigit((unsigned char)part[0]))
                        v = json_array_get(v, (size_t)atoi(part));
                else
                        v = json_object_get(v, part);
        }
        return v;
}

/* Checks `key=value` / `key~=value` tokens against an object. Returns false with why filled. */
static bool check_fields(scn_t *s, json_t *obj, char **tok, int n, char *why, size_t wn)
{
        for (int i = 0; i < n; i++) {
                char key[256], want[2048], got[2048], *eq = strchr(tok[i], '=');
                bool sub = false;
                json_t *tmp, *v;
                if (!eq) {
                        snprintf(why, wn, "bad check \"%s\" (want key=value)", tok[i]);
                        return false;
                }
                size_t kl = (size_t)(eq - tok[i]);
                if (kl > 0 && tok[i][kl - 1] == '~') {
                        sub = true;
                        kl--;
                }
                snprintf(key, sizeof(key), "%.*s", (int)kl, tok[i]);
                if (!substitute(s, eq + 1, want, sizeof(want)))
                        return false;
                v = json_path(obj, key, &tmp);
                bool ok = value_matches(v, want, sub, got, sizeof(got));
                json_decref(tmp);
                if (!ok) {
                        snprintf(why, wn, "%.200s: want %s\"%.800s\", got \"%.800s\"", key, sub ? "~" : "", want, got);
                        return false;
                }
        }
        return true;
}

static bool expect_matches(scn_t *s, const expect_t *x, const msg_t *m, char *why, size_t wn)
{
        const char *names[4] = { "op", "rule", "case", "topic" };
        const char *got[4] = { jstr(m->j, "op"), jstr(m->j, "rule"), jstr(m->j, "case"), m->topic };

        for (int i = 0; i < 4; i++)
                /* "-": a digest or summary has no rule and no case */
                if (strcmp(strcmp(x->tok[1 + i], "-") == 0 ? "" : x->tok[1 + i], got[i]) != 0) {
                        snprintf(why, wn, "%s: want %s, got %s", names[i], x->tok[1 + i], got[i]);
                        return false;
                }
        return check_fields(s, m->j, (char **)x->tok + 5, x->n - 5, why, wn);
}

static bool parse_expect(scn_t *s, int at, expect_t *x)
{
        static const char *const ops[] = { "due", "resolved", "cancelled", "rerouted", "digest", "summary" };
        bool op_ok = false, has[3] = { false };

        x->at = at;
        snprintf(x->buf, sizeof(x->buf), "%s", s->line[at]);
        x->n = tokenize(x->buf, x->tok, 32);
        if (x->n < 5) {
                failf(s, "expect needs: OP RULE CASE TOPIC [key=value ...]");
                return false;
        }
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
                op_ok |= strcmp(x->tok[1], ops[i]) == 0;
        if (!op_ok) {
                failf(s, "expect: unknown op %s", x->tok[1]);
                return false;
        }
        for (int i = 5; i < x->n; i++) {
                has[0] |= strncmp(x->tok[i], "due_at=", 7) == 0;
                has[1] |= strncmp(x->tok[i], "deliver_at=", 11) == 0;
                has[2] |= strncmp(x->tok[i], "severity=", 9) == 0;
        }
        /* A delivery is stated exactly: due date, delivery moment and severity. */
        if (strcmp(x->tok[1], "due") == 0 && !(has[0] && has[1] && has[2])) {
                failf(s, "expect due: due_at=, deliver_at= and severity= are required");
                return false;
        }
        return true;
}

static void show_rest(scn_t *s, int from, int max)
{
        char line[1024];
        int i;

        for (i = from; i < s->n_msgs && i < from + max; i++) {
                msg_line(&s->msgs[i], line, sizeof(line));
                failf(s, "  published: %s", line);
        }
        if (i < s->n_msgs)
                failf(s, "  … and %d more", s->n_msgs - i);
}

static void do_expect(scn_t *s)
{
        expect_t x;
        char why[2048] = "";

        if (!parse_expect(s, s->at, &x))
                return;
        if (s->cursor >= s->n_msgs) {
                failf(s, "nothing (more) was published");
                return;
        }
        if (!expect_matches(s, &x, &s->msgs[s->cursor], why, sizeof(why))) {
                failf(s, "mismatch: %s", why);
                show_rest(s, s->cursor, 8);
                return;
        }
        s->cursor++;
}

static bool match_group(scn_t *s, expect_t *xs, int n, int k, bool *used)
{
        char why[2048];

        if (k == n)
                return true;
        for (int i = 0; i < n; i++) {
                if (used[i] || !expect_matches(s, &xs[k], &s->msgs[s->cursor + i], why, sizeof(why)))
                        continue;
                used[i] = true;
                if (match_group(s, xs, n, k + 1, used))
                        return true;
                used[i] = false;
        }
        return false;
}

/* `{` … `}`: the next N messages match these N expectations in any order. */
static void do_group(scn_t *s)
{
        expect_t xs[MAX_GROUP];
        bool used[MAX_GROUP] = { false };
        int n = 0, open = s->at;

        for (s->at++; s->at < s->n_lines && strcmp(s->line[s->at], "}") != 0; s->at++) {
                if (strncmp(s->line[s->at], "expect ", 7) != 0 || n == MAX_GROUP) {
                        failf(s, "only expect lines (at most %d) go between { and }", MAX_GROUP);
                        return;
                }
                if (!parse_expect(s, s->at, &xs[n++]))
                        return;
        }
        if (s->at >= s->n_lines) {
                s->at = open;
                failf(s, "{ without }");
                return;
        }
        if (s->cursor + n > s->n_msgs) {
                s->at = open;
                failf(s, "want %d messages in any order, %d left", n, s->n_msgs - s->cursor);
                show_rest(s, s->cursor, n + 2);
                return;
        }
        if (!match_group(s, xs, n, 0, used)) {
                s->at = open;
                failf(s, "the next %d messages do not match the group (any order):", n);
                show_rest(s, s->cursor, n);
                return;
        }
        s->cursor += n;
}

static void do_expect_none(scn_t *s)
{
        if (s->cursor < s->n_msgs) {
                failf(s, "%d message(s) published that no expectation names:", s->n_msgs - s->cursor);
                show_rest(s, s->cursor, 12);
        }
}

/* ---- actions -------------------------------------------------------------------------------- */

/*
 * Hands a file to the feed (which assigns source and seq) and waits until the
 * feed has stored it all and, if bevakad runs, until it has caught up. For
 * `publish` (not `publish-live`) the feed was told at start to withhold the
 * file's first event from the live stream (load_steps), so bevakad takes the
 * whole file by replay.
 */
static void do_publish(scn_t *s, const char *file)
{
        char path[1400];
        char *text;
        long n, stored = -1;
        int64_t end;

        snprintf(path, sizeof(path), "%s/%s", s->dir, file);
        if (!(text = read_text(path))) {
                failf(s, "cannot read %s", path);
                return;
        }
        n = count_events(text);
        if (!s->feed_up) {
                failf(s, "publish before start");
                free(text);
                return;
        }
        for (size_t len = strlen(text), off = 0; off < len;) {
                ssize_t w = write(s->feed_in, text + off, len - off);
                if (w < 0 && errno != EINTR) {
                        failf(s, "writing to the feed: %s", strerror(errno));
                        free(text);
                        return;
                }
                off += w > 0 ? (size_t)w : 0;
        }
        if (text[0] && text[strlen(text) - 1] != '\n' && write(s->feed_in, "\n", 1) != 1)
                failf(s, "writing to the feed");
        free(text);
        s->published += n;
        end = it_ms() + WAIT_MS;
        while (it_ms() < end && (stored = feed_last_seq(s)) < s->published)
                recv_some(s, 10);
        if (stored != s->published)
                failf(s, "the feed stored %ld events, want %ld (see feed.log)", stored, s->published);
        barrier(s);
}

static void do_clock(scn_t *s, const char *when)
{
        json_t *r;
        char req[256];

        snprintf(req, sizeof(req), "{\"op\":\"clock\",\"set\":\"%s\"}", when);
        r = it_api(&s->e, "%s", req);
        if (!r || !json_is_true(json_object_get(r, "ok"))) {
                failf(s, "clock set refused: %s", r ? jstr(json_object_get(r, "error"), "message") : "no reply");
        } else {
                snprintf(s->clock, sizeof(s->clock), "%s", when);
        }
        json_decref(r);
        barrier(s);
}

/* api JSON [-> ok|error CODE] [path=value ...] */
static void do_api(scn_t *s, char *rest)
{
        char req[8192], *arrow = strstr(rest, "->"), *tok[32];
        const char *utf = "\xe2\x86\x92";   /* → */
        char why[2048] = "";
        size_t skip = 2;
        json_t *r;
        int n = 0;

        if (!arrow && (arrow = strstr(rest, utf)))
                skip = 3;
        if (arrow) {
                *arrow = '\0';
                n = tokenize(arrow + skip, tok, 32);
        }
        if (!substitute(s, trim(rest), req, sizeof(req)))
                return;
        r = it_api(&s->e, "%s", req);
        if (!r) {
                failf(s, "no reply to %s", req);
                return;
        }
        json_t *jreq = json_loads(req, 0, NULL);
        if (json_is_true(json_object_get(r, "ok")) && strcmp(jstr(jreq, "op"), "snooze") == 0 &&
            s->n_snoozed < MAX_KEYS)
                s->snoozed[s->n_snoozed++] = strdup(jstr(jreq, "id"));
        json_decref(jreq);
        if (n >= 1) {
                bool ok = json_is_true(json_object_get(r, "ok"));
                const char *code = jstr(json_object_get(r, "error"), "code");
                int first = 1;
                if (strcmp(tok[0], "ok") == 0) {
                        if (!ok)
                                failf(s, "want ok, got error %s: %s", code, jstr(json_object_get(r, "error"), "message"));
                } else if (strcmp(tok[0], "error") == 0 && n >= 2) {
                        first = 2;
                        if (ok || strcmp(code, tok[1]) != 0)
                                failf(s, "want error %s, got %s", tok[1], ok ? "ok" : code);
                } else {
                        failf(s, "api: after -> comes ok or error CODE");
                }
                if (!s->failed && !check_fields(s, r, tok + first, n - first, why, sizeof(why)) && !s->failed) {
                        char *d = json_dumps(r, JSON_COMPACT);
                        failf(s, "reply: %s", why);
                        failf(s, "  reply was %.1500s", d ? d : "?");
                        free(d);
                }
        }
        json_decref(r);
        barrier(s);
}

/* wait PATH N: poll stats until the integer at PATH is at least N. */
static void do_wait(scn_t *s, const char *path, long long want)
{
        int64_t end = it_ms() + WAIT_MS;
        long long v = -1;

        while (it_ms() < end) {
                json_t *tmp, *r = stats(s);
                v = json_integer_value(json_path(r, path, &tmp));
                json_decref(tmp);
                json_decref(r);
                if (v >= want)
                        break;
                recv_some(s, 20);
        }
        if (v < want)
                failf(s, "stats %s stayed at %lld, want >= %lld", path, v, want);
        barrier(s);
}

static void start(scn_t *s, const char *when)
{
        if (s->daemon_up) {
                failf(s, "the daemon is already running");
                return;
        }
        if (when && *when)
                snprintf(s->clock, sizeof(s->clock), "%s", when);
        if (!s->clock[0]) {
                failf(s, "start needs a time the first time");
                return;
        }
        if (!s->feed_up)
                start_feed(s);
        start_daemon(s);
        json_t *r = it_api(&s->e, "%s", "{\"op\":\"hello\"}");
        if (!r)
                failf(s, "bevakad does not answer (see bevakad.log)");
        json_decref(r);
        if (!wait_subscribed(s, WAIT_MS))
                failf(s, "the subscriber did not connect to bevakad's publisher");
        barrier(s);
}

static void run_step(scn_t *s)
{
        char buf[8192], *tok[8], *p = s->line[s->at];
        int n;

        if (strncmp(p, "api ", 4) == 0) {
                snprintf(buf, sizeof(buf), "%s", p + 4);
                do_api(s, buf);
                return;
        }
        if (strncmp(p, "config ", 7) == 0) {
                size_t len = strlen(s->extra);
                snprintf(s->extra + len, sizeof(s->extra) - len, "%s\n", p + 7);
                return;
        }
        if (strcmp(p, "{") == 0) {
                do_group(s);
                return;
        }
        if (strcmp(p, "expect none") == 0 || strncmp(p, "expect none ", 12) == 0) {
                do_expect_none(s);
                return;
        }
        if (strncmp(p, "expect ", 7) == 0) {
                do_expect(s);
                return;
        }
        snprintf(buf, sizeof(buf), "%s", p);
        n = tokenize(buf, tok, 8);
        if (n == 0)
                return;
        if (strcmp(tok[0], "start") == 0 && n <= 2) {
                start(s, n == 2 ? tok[1] : NULL);
        } else if ((strcmp(tok[0], "restart") == 0 || strcmp(tok[0], "kill9") == 0) && n <= 2) {
                if (!s->daemon_up) {
                        failf(s, "the daemon is not running");
                        return;
                }
                stop_daemon(s, tok[0][0] == 'k' ? SIGKILL : SIGTERM);
                s->killed |= tok[0][0] == 'k';
                start(s, n == 2 ? tok[1] : NULL);
        } else if (strcmp(tok[0], "stop") == 0 && n == 1) {
                stop_daemon(s, SIGTERM);
        } else if (strcmp(tok[0], "publish") == 0 && n == 2) {
                do_publish(s, tok[1]);
        } else if (strcmp(tok[0], "publish-live") == 0 && n == 2) {
                do_publish(s, tok[1]);
        } else if (strcmp(tok[0], "clock") == 0 && n == 2) {
                if (!s->daemon_up)
                        failf(s, "clock: the daemon is not running (use start TIME)");
                else
                        do_clock(s, tok[1]);
        } else if (strcmp(tok[0], "wait") == 0 && n == 3) {
                do_wait(s, tok[1], atoll(tok[2]));
        } else {
                failf(s, "unknown step");
        }
}

/* ---- one scenario ------------------------------------------------------------------------------ */

static bool load_steps(scn_t *s)
{
        char path[1100];
        long published = 0;

        snprintf(path, sizeof(path), "%s/steps", s->dir);
        if (!(s->text = read_text(path))) {
                failf(s, "cannot read %s", path);
                return false;
        }
        int no = 0;
        for (char *p = s->text; p && *p;) {
                char *nl = strchr(p, '\n');
                if (nl)
                        *nl = '\0';
                no++;
                char *t = trim(p);
                if (*t && *t != '#') {
                        if (s->n_lines == MAX_LINES) {
                                failf(s, "too many lines");
                                return false;
                        }
                        /* A trailing "  # comment" is dropped, except on api lines (JSON may hold '#'). */
                        char *c = strncmp(t, "api ", 4) == 0 ? NULL : strstr(t, " #");
                        if (c) {
                                *c = '\0';
                                t = trim(t);
                        }
                        s->line[s->n_lines] = t;
                        s->line_no[s->n_lines++] = no;
                }
                p = nl ? nl + 1 : NULL;
        }
        /*
         * `publish FILE`: the feed withholds the file's first event from the live
         * stream, so bevakad notices the gap at the next one (or at the heartbeat)
         * and takes the whole file by replay, judged whole (the daemon delivers only
         * once it has caught up). `publish-live FILE` sends everything live.
         */
        for (int i = 0; i < s->n_lines; i++) {
                char buf[1024], *tok[4], fpath[1400], *text;
                snprintf(buf, sizeof(buf), "%s", s->line[i]);
                int n = tokenize(buf, tok, 4);
                if (n != 2 || (strcmp(tok[0], "publish") != 0 && strcmp(tok[0], "publish-live") != 0))
                        continue;
                snprintf(fpath, sizeof(fpath), "%s/%s", s->dir, tok[1]);
                if (!(text = read_text(fpath))) {
                        s->at = i;
                        failf(s, "cannot read %s", fpath);
                        return false;
                }
                long k = count_events(text);
                free(text);
                if (strcmp(tok[0], "publish") == 0 && k > 0 && s->n_skips < MAX_SKIPS)
                        s->skips[s->n_skips++] = published + 1;
                published += k;
        }
        return true;
}

static void tail_log(scn_t *s, const char *name)
{
        char path[600], *text;

        it_path(&s->e, name, path, sizeof(path));
        if (!(text = read_text(path)))
                return;
        size_t len = strlen(text);
        const char *p = text + (len > 1500 ? len - 1500 : 0);
        fprintf(stderr, "  --- last lines of %s ---\n%s\n", name, p);
        free(text);
}

static bool run_scenario(const char *root, const char *name)
{
        scn_t *s = calloc(1, sizeof(*s));
        int64_t t0 = it_ms();
        bool ok;

        snprintf(s->name, sizeof(s->name), "%s", name);
        snprintf(s->dir, sizeof(s->dir), "%.900s/%.100s", root, name);
        s->at = -1;
        s->feed_in = -1;
        it_init(&s->e);
        if (verbose)
                fprintf(stderr, "# %s (%s)\n", name, s->e.dir);
        if (load_steps(s)) {
                for (s->at = 0; s->at < s->n_lines && !s->failed; s->at++)
                        run_step(s);
                s->at = s->n_lines;
                /* Implicitly: nothing left over at the end. */
                if (!s->failed && s->daemon_up) {
                        barrier(s);
                        do_expect_none(s);
                }
        }
        if (s->daemon_up)
                stop_daemon(s, SIGTERM);
        if (s->feed_in >= 0)
                close(s->feed_in);
        if (s->probe)
                zmq_close(s->probe);
        if (s->monitor) {
                zmq_socket_monitor(s->e.sub, NULL, 0);
                zmq_close(s->monitor);
        }
        ok = !s->failed;
        if (ok) {
                printf("ok   %-34s %3d messages%s  %5.2f s\n", name, s->n_msgs,
                       s->fills ? " (some read from the outbox after a restart)" : "",
                       (double)(it_ms() - t0) / 1000.0);
        } else {
                printf("FAIL %-34s %5.2f s\n", name, (double)(it_ms() - t0) / 1000.0);
                fflush(stdout);
                fprintf(stderr, "FAIL %s:\n%s", name, s->err);
                if (s->crashed || getenv("SCENARIO_LOGS"))
                        tail_log(s, "bevakad.log");
        }
        fflush(stdout);
        it_cleanup(&s->e);
        for (int i = 0; i < s->n_msgs; i++)
                json_decref(s->msgs[i].j);
        for (int i = 0; i < s->n_open; i++)
                free(s->open_keys[i]);
        for (int i = 0; i < s->n_snoozed; i++)
                free(s->snoozed[i]);
        free(s->msgs);
        free(s->text);
        free(s);
        return ok;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool selected(const char *name)
{
        const char *only = getenv("SCENARIO");
        char buf[4096], *save = NULL;

        if (!only || !*only)
                return true;
        snprintf(buf, sizeof(buf), "%s", only);
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (strcmp(trim(t), name) == 0)
                        return true;
        return false;
}

int main(void)
{
        const char *src = getenv("BEVAKA_SRC");
        char root[1024], *names[512];
        int n = 0;
        DIR *d;
        struct dirent *de;

        verbose = getenv("SCENARIO_VERBOSE") && *getenv("SCENARIO_VERBOSE") && strcmp(getenv("SCENARIO_VERBOSE"), "0");
        snprintf(root, sizeof(root), "%s/tests/scenarios", src ? src : "..");
        if (!(d = opendir(root))) {
                fprintf(stderr, "cannot open %s (set BEVAKA_SRC)\n", root);
                return 2;
        }
        while ((de = readdir(d)) && n < 512) {
                char steps[1400];
                struct stat st;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(steps, sizeof(steps), "%s/%s/steps", root, de->d_name);
                if (stat(steps, &st) == 0 && selected(de->d_name))
                        names[n++] = strdup(de->d_name);
        }
        closedir(d);
        qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
        if (n == 0) {
                fprintf(stderr, "no scenarios under %s\n", root);
                return 2;
        }
        for (int i = 0; i < n; i++) {
                if (run_scenario(root, names[i]))
                        tap_pass++;
                else
                        tap_fail++;
                free(names[i]);
        }
        return tap_done();
}
