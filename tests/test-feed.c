/*
 * test-feed.c owns the end-to-end checks of the reference feed publisher,
 * client/bevaka-feed: it runs the real binary ($BEVAKA_BIN/bevaka-feed) on
 * ipc:// endpoints in a temporary directory and talks protocol.md §1 to it
 * with SUB, DEALER and REQ sockets: live events with source and seq
 * assigned, --skip-seq gaps, heartbeats, replays (also of more than one
 * chunk), bad requests, --raw, --rate, a restart on the same log, serve
 * mode, and clean exits. Nothing here sleeps: every wait is a poll with a
 * deadline, and children die with the test (PR_SET_PDEATHSIG) or are killed
 * on every path out.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "tap.h"

#define N_EVENTS   20
#define N_BULK     5000
/* For per-message checks inside loops: a failure counts, a pass does not inflate the tally. */
#define EXPECT(cond) do { if (!(cond)) CHECK(cond); } while (0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define WAIT_MS    15000        /* generous: the binary may run under ASan on a busy CI box */

typedef struct test {
        const char *bin;
        char dir[64];
        char feed_ep[128];
        char replay_ep[128];
        void *ctx;
        int sigchld_fd;
} test_t;

typedef struct msg {
        int n;                  /* frames received (only the first four are kept) */
        char *f[4];             /* NUL-terminated copies */
        size_t len[4];
} msg_t;

static const char *const types[] = { "case.opened", "caseworker.assigned", "ib1.completed", "fia.started" };

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void msg_clear(msg_t *m)
{
        for (int i = 0; i < 4; i++)
                free(m->f[i]);
        *m = (msg_t){ 0 };
}

/* Receives one whole message before the deadline: 1, 0 on timeout, -1 on error. */
static int msg_recv(void *sock, int64_t deadline, msg_t *m)
{
        zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };
        int more;

        msg_clear(m);
        for (;;) {
                int64_t left = deadline - now_ms();
                int r = zmq_poll(&it, 1, left > 0 ? (long)left : 0);

                if (r < 0 && zmq_errno() == EINTR)
                        continue;
                if (r < 0)
                        return -1;
                if (r == 0)
                        return 0;
                break;
        }
        do {
                zmq_msg_t part;

                zmq_msg_init(&part);
                if (zmq_msg_recv(&part, sock, 0) < 0) {
                        zmq_msg_close(&part);
                        return -1;
                }
                if (m->n < 4) {
                        size_t n = zmq_msg_size(&part);
                        m->f[m->n] = malloc(n + 1);
                        if (m->f[m->n]) {
                                memcpy(m->f[m->n], zmq_msg_data(&part), n);
                                m->f[m->n][n] = '\0';
                        }
                        m->len[m->n] = n;
                }
                m->n++;
                more = zmq_msg_more(&part);
                zmq_msg_close(&part);
        } while (more);
        return 1;
}

static json_t *msg_json(const msg_t *m, int frame)
{
        if (frame >= m->n || frame >= 4 || !m->f[frame])
                return NULL;
        return json_loadb(m->f[frame], m->len[frame], 0, NULL);
}

static const char *jstr(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

static long long jint(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? json_integer_value(v) : -1;
}

static int send_str(void *sock, const char *s, int flags)
{
        return zmq_send(sock, s, strlen(s), flags);
}

static void *sock_new(test_t *t, int type, const char *endpoint)
{
        void *s = zmq_socket(t->ctx, type);
        int zero = 0;

        if (!s)
                return NULL;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
        if (type == ZMQ_SUB)
                zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
        /* Connecting before the feed binds is fine: ipc:// retries until it is there. */
        if (zmq_connect(s, endpoint) < 0) {
                zmq_close(s);
                return NULL;
        }
        return s;
}

static void sock_close(void **s)
{
        if (*s)
                zmq_close(*s);
        *s = NULL;
}

static int write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        if (!f)
                return -1;
        fputs(text, f);
        return fclose(f) == 0 ? 0 : -1;
}

static char *read_file(const char *path)
{
        FILE *f = fopen(path, "r");
        char *buf = NULL;
        size_t n = 0;

        if (!f)
                return strdup("");
        if (getdelim(&buf, &n, '\0', f) < 0) {
                free(buf);
                buf = strdup("");
        }
        fclose(f);
        return buf;
}

static void path_in(const test_t *t, const char *name, char *buf, size_t n)
{
        snprintf(buf, n, "%s/%s", t->dir, name);
}

/* argv ends with NULL; the child's stderr goes to dir/errname. */
static pid_t feed_spawn(test_t *t, const char *errname, const char **argv)
{
        char bin[512], err[256];
        pid_t ppid = getpid();
        pid_t pid;

        snprintf(bin, sizeof(bin), "%s/bevaka-feed", t->bin);
        path_in(t, errname, err, sizeof(err));
        pid = fork();
        if (pid != 0)
                return pid;

        sigset_t none;
        int fd;

        /* A crashed or aborted test must not leave a feed bound to our sockets. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != ppid)
                _exit(127);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
                dup2(fd, STDERR_FILENO);
                close(fd);
        }
        argv[0] = bin;
        execv(bin, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
}

/* Exit status, 128 + signal if killed, -1 on timeout (the child is then killed). */
static int feed_wait(test_t *t, pid_t *pid, int timeout_ms)
{
        int64_t deadline = now_ms() + timeout_ms;

        if (*pid <= 0)
                return -1;
        for (;;) {
                struct signalfd_siginfo si;
                struct pollfd p = { .fd = t->sigchld_fd, .events = POLLIN };
                int64_t left;
                int st;
                pid_t r = waitpid(*pid, &st, WNOHANG);

                if (r == *pid) {
                        *pid = 0;
                        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                }
                if (r < 0) {
                        *pid = 0;
                        return -1;
                }
                left = deadline - now_ms();
                if (left <= 0)
                        break;
                if (poll(&p, 1, (int)left) > 0)
                        while (read(t->sigchld_fd, &si, sizeof(si)) == sizeof(si))
                                ;
        }
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        *pid = 0;
        return -1;
}

static int feed_stop(test_t *t, pid_t *pid)
{
        if (*pid <= 0)
                return -1;
        kill(*pid, SIGTERM);
        return feed_wait(t, pid, WAIT_MS);
}

static void feed_kill(pid_t *pid)
{
        if (*pid > 0) {
                kill(*pid, SIGKILL);
                waitpid(*pid, NULL, 0);
        }
        *pid = 0;
}

static void dump_on_failure(const test_t *t, int fails_before, const char *errname)
{
        char path[256];
        char *text;

        if (tap_fail == fails_before)
                return;
        path_in(t, errname, path, sizeof(path));
        text = read_file(path);
        fprintf(stderr, "---- %s ----\n%s----\n", errname, text);
        free(text);
}

/*
 * Receives live events of `source` until seq `last` arrived (or the deadline),
 * recording their seqs in order and checking each type frame against the
 * event. Heartbeats and other sources are skipped. Returns the count.
 */
static int recv_live(void *sub, const char *source, long long last, long long *seqs, int max,
                     int64_t *first_ms, int64_t *last_ms)
{
        int64_t deadline = now_ms() + WAIT_MS;
        int n = 0;
        msg_t m = { 0 };

        while (msg_recv(sub, deadline, &m) == 1) {
                json_t *ev;
                long long seq;

                if (m.n == 2 && strcmp(m.f[0], "feed.heartbeat") == 0)
                        continue;
                ev = msg_json(&m, 1);
                EXPECT(m.n == 2);
                EXPECT(json_is_object(ev));
                if (!json_is_object(ev) || !jstr(ev, "source") || strcmp(jstr(ev, "source"), source) != 0) {
                        json_decref(ev);
                        continue;
                }
                EXPECT(jstr(ev, "type") && strcmp(m.f[0], jstr(ev, "type")) == 0);
                seq = jint(ev, "seq");
                if (n == 0 && first_ms)
                        *first_ms = now_ms();
                if (n < max)
                        seqs[n] = seq;
                n++;
                json_decref(ev);
                if (seq >= last) {
                        if (last_ms)
                                *last_ms = now_ms();
                        break;
                }
        }
        msg_clear(&m);
        return n;
}

/* Waits for a heartbeat of `source` saying `last_seq`. */
static bool recv_heartbeat(void *sub, const char *source, long long last_seq)
{
        int64_t deadline = now_ms() + WAIT_MS;
        msg_t m = { 0 };
        bool found = false;

        while (!found && msg_recv(sub, deadline, &m) == 1) {
                json_t *hb;

                if (m.n != 2 || strcmp(m.f[0], "feed.heartbeat") != 0)
                        continue;
                hb = msg_json(&m, 1);
                EXPECT(jstr(hb, "op") && strcmp(jstr(hb, "op"), "heartbeat") == 0);
                found = jstr(hb, "source") && strcmp(jstr(hb, "source"), source) == 0 &&
                        jint(hb, "last_seq") == last_seq;
                json_decref(hb);
        }
        msg_clear(&m);
        return found;
}

/*
 * Sends a replay request and collects the reply: the events' seqs (checking
 * type frames) and the final one-frame message, returned parsed in *end.
 */
static int replay(void *dealer, const char *request, long long *seqs, int max, json_t **end)
{
        int64_t deadline = now_ms() + WAIT_MS;
        msg_t m = { 0 };
        int n = 0;

        *end = NULL;
        if (send_str(dealer, request, 0) < 0)
                return -1;
        while (msg_recv(dealer, deadline, &m) == 1) {
                json_t *ev;

                if (m.n == 1) {
                        *end = msg_json(&m, 0);
                        break;
                }
                EXPECT(m.n == 2);
                ev = msg_json(&m, 1);
                EXPECT(jstr(ev, "type") && strcmp(m.f[0], jstr(ev, "type")) == 0);
                if (n < max)
                        seqs[n] = jint(ev, "seq");
                n++;
                json_decref(ev);
        }
        msg_clear(&m);
        return n;
}

static void check_error_reply(void *dealer, const char *request)
{
        long long seqs[1];
        json_t *end;
        int n = replay(dealer, request, seqs, 1, &end);

        CHECK_INT(n, 0);
        CHECK_STR(jstr(end, "op"), "error");
        CHECK(jstr(end, "error") && *jstr(end, "error"));
        json_decref(end);
}

static void check_error_reply_frames(void *dealer)
{
        int64_t deadline = now_ms() + WAIT_MS;
        msg_t m = { 0 };
        json_t *err;

        send_str(dealer, "{\"op\":\"replay\"", ZMQ_SNDMORE);
        send_str(dealer, ",\"source\":\"x\",\"from_seq\":1}", 0);
        CHECK_INT(msg_recv(dealer, deadline, &m), 1);
        CHECK_INT(m.n, 1);
        err = msg_json(&m, 0);
        CHECK_STR(jstr(err, "op"), "error");
        json_decref(err);
        msg_clear(&m);
}

static const char *event_type(long long seq)
{
        return types[(seq - 1) % ARRAY_SIZE(types)];
}

/*
 * The first log: events 1..20 of test-src with seq and source sometimes
 * given, sometimes assigned; one event of another source; and lines the
 * feed must reject, whose line numbers are returned.
 */
static int write_events1(const char *path, int *bad_json_line, int *not_object_line, int *old_seq_line)
{
        FILE *f = fopen(path, "w");
        int line = 0;

        if (!f)
                return -1;
        for (int i = 1; i <= N_EVENTS; i++) {
                fprintf(f, "{\"v\":1,\"id\":\"t-%d\",", i);
                if (i % 4 == 0)
                        fprintf(f, "\"source\":\"test-src\",");
                if (i % 3 == 0)
                        fprintf(f, "\"seq\":%d,", i);
                fprintf(f, "\"type\":\"%s\",\"at\":\"2026-03-02T10:15:00+01:00\","
                        "\"case\":\"EB-2024-%06d\",\"unit\":\"HV-EB-1\",\"data\":{}}\n", event_type(i), i);
                line++;
                if (i == 10) {
                        fputs("this is not json\n", f);
                        *bad_json_line = ++line;
                }
                if (i == 15) {
                        fputs("{\"v\":1,\"id\":\"o-1\",\"source\":\"other\",\"type\":\"case.closed\","
                              "\"at\":\"2026-03-02T11:00:00+01:00\",\"case\":\"EB-9\",\"unit\":\"U\",\"data\":{}}\n", f);
                        line++;
                        fputs("\n", f);
                        line++;
                }
        }
        fputs("[1,2]\n", f);
        *not_object_line = ++line;
        fputs("{\"v\":1,\"id\":\"t-old\",\"seq\":2,\"type\":\"case.closed\"}\n", f);
        *old_seq_line = ++line;
        return fclose(f);
}

static bool contains(const char *text, const char *needle)
{
        return text && strstr(text, needle);
}

/* Run 1: live with a withheld event, heartbeats, replays, bad requests, SIGTERM. */
static void test_publish(test_t *t, char *db)
{
        char events[256], errpath[256], needle[128];
        int bad_json_line = 0, not_object_line = 0, old_seq_line = 0;
        long long seqs[64];
        void *sub = NULL, *dealer = NULL, *req = NULL;
        pid_t pid = 0;
        json_t *end = NULL;
        int fails = tap_fail;
        int n;

        path_in(t, "events1.jsonl", events, sizeof(events));
        CHECK_INT(write_events1(events, &bad_json_line, &not_object_line, &old_seq_line), 0);
        sub = sock_new(t, ZMQ_SUB, t->feed_ep);
        dealer = sock_new(t, ZMQ_DEALER, t->replay_ep);
        req = sock_new(t, ZMQ_REQ, t->replay_ep);
        CHECK(sub && dealer && req);
        if (!sub || !dealer || !req)
                goto out;

        const char *argv[] = { "bevaka-feed", "publish", "--endpoint", t->feed_ep, "--replay-endpoint",
                               t->replay_ep, "--db", db, "--source", "test-src", "--wait-subscribers", "1",
                               "--skip-seq", "5", "--heartbeat-ms", "100", events, NULL };
        pid = feed_spawn(t, "run1.err", argv);
        CHECK(pid > 0);
        if (pid <= 0)
                goto out;

        /* Live: 1..20 but 5, in order, source assigned, type frames right. */
        n = recv_live(sub, "test-src", N_EVENTS, seqs, 64, NULL, NULL);
        CHECK_INT(n, N_EVENTS - 1);
        for (int i = 0, want = 1; i < n && i < 64; i++, want++) {
                if (want == 5)
                        want++;
                EXPECT(seqs[i] == want);
        }

        /* The other source counts on its own. A heartbeat tells a subscriber about the withheld 5 too. */
        CHECK(recv_heartbeat(sub, "test-src", N_EVENTS));
        CHECK(recv_heartbeat(sub, "other", 1));

        /* Replay from 5 fills the gap: 5..20, then replay_end. */
        n = replay(dealer, "{\"op\":\"replay\",\"source\":\"test-src\",\"from_seq\":5}", seqs, 64, &end);
        CHECK_INT(n, N_EVENTS - 4);
        for (int i = 0; i < n && i < 64; i++)
                EXPECT(seqs[i] == 5 + i);
        CHECK_STR(jstr(end, "op"), "replay_end");
        CHECK_STR(jstr(end, "source"), "test-src");
        CHECK_INT(jint(end, "last_seq"), N_EVENTS);
        json_decref(end);

        /* A replay from the head returns the head alone. */
        n = replay(dealer, "{\"op\":\"replay\",\"source\":\"test-src\",\"from_seq\":20}", seqs, 64, &end);
        CHECK_INT(n, 1);
        CHECK_INT(jint(end, "last_seq"), N_EVENTS);
        json_decref(end);

        n = replay(dealer, "{\"op\":\"replay\",\"source\":\"nobody\",\"from_seq\":1}", seqs, 64, &end);
        CHECK_INT(n, 0);
        CHECK_STR(jstr(end, "op"), "replay_end");
        CHECK_STR(jstr(end, "source"), "nobody");
        CHECK_INT(jint(end, "last_seq"), 0);
        json_decref(end);

        check_error_reply(dealer, "this is not json");
        check_error_reply(dealer, "{\"op\":\"snapshot\",\"source\":\"test-src\",\"from_seq\":1}");
        check_error_reply(dealer, "{\"op\":\"replay\",\"source\":\"test-src\",\"from_seq\":-1}");
        check_error_reply(dealer, "{\"op\":\"replay\",\"from_seq\":1}");
        check_error_reply_frames(dealer);

        /* A REQ peer (empty delimiter) gets its reply too; nothing after 1 in "other". */
        n = replay(req, "{\"op\":\"replay\",\"source\":\"other\",\"from_seq\":2}", seqs, 64, &end);
        CHECK_INT(n, 0);
        CHECK_STR(jstr(end, "op"), "replay_end");
        CHECK_INT(jint(end, "last_seq"), 1);
        json_decref(end);

        CHECK_INT(feed_stop(t, &pid), 0);

        path_in(t, "run1.err", errpath, sizeof(errpath));
        char *err = read_file(errpath);
        snprintf(needle, sizeof(needle), "events1.jsonl:%d: not JSON", bad_json_line);
        CHECK(contains(err, needle));
        snprintf(needle, sizeof(needle), "events1.jsonl:%d: not a JSON object", not_object_line);
        CHECK(contains(err, needle));
        snprintf(needle, sizeof(needle), "events1.jsonl:%d: seq 2 of source test-src is not above", old_seq_line);
        CHECK(contains(err, needle));
        CHECK(contains(err, "20 published, 1 skipped (--skip-seq), 3 rejected, 4 replays served"));
        free(err);
out:
        feed_kill(&pid);
        sock_close(&sub);
        sock_close(&dealer);
        sock_close(&req);
        dump_on_failure(t, fails, "run1.err");
}

/* Run 2: a restart on the same log continues at 21; --rate paces; --exit-after-publish exits 0. */
static void test_restart(test_t *t, char *db)
{
        char events[256];
        long long seqs[16];
        void *sub = NULL;
        pid_t pid = 0;
        int64_t first = 0, last = 0;
        int fails = tap_fail;
        int n;

        path_in(t, "events2.jsonl", events, sizeof(events));
        CHECK_INT(write_file(events,
                             "{\"v\":1,\"id\":\"t-21\",\"type\":\"case.opened\",\"data\":{}}\n"
                             "{\"v\":1,\"id\":\"t-22\",\"type\":\"case.opened\",\"data\":{}}\r\n"
                             "{\"v\":1,\"id\":\"t-23\",\"type\":\"case.opened\",\"data\":{}}\n"
                             "{\"v\":1,\"id\":\"t-24\",\"type\":\"case.opened\",\"data\":{}}\n"
                             "{\"v\":1,\"id\":\"t-25\",\"type\":\"case.opened\",\"data\":{}}"), 0);
        sub = sock_new(t, ZMQ_SUB, t->feed_ep);
        CHECK(sub != NULL);
        if (!sub)
                goto out;
        const char *argv[] = { "bevaka-feed", "publish", "--endpoint", t->feed_ep, "--replay-endpoint",
                               t->replay_ep, "--db", db, "--source", "test-src", "--wait-subscribers", "1",
                               "--rate", "20", "--exit-after-publish", "-q", events, NULL };
        pid = feed_spawn(t, "run2.err", argv);
        CHECK(pid > 0);
        if (pid <= 0)
                goto out;

        n = recv_live(sub, "test-src", 25, seqs, 16, &first, &last);
        CHECK_INT(n, 5);
        for (int i = 0; i < n && i < 16; i++)
                EXPECT(seqs[i] == 21 + i);
        /* 20/s: event k goes out at start + k/20 s, so 21..25 span 200 ms; allow for delivery jitter. */
        CHECK(last - first >= 100);
        CHECK_INT(feed_wait(t, &pid, WAIT_MS), 0);
out:
        feed_kill(&pid);
        sock_close(&sub);
        dump_on_failure(t, fails, "run2.err");
}

/* Run 3: --raw sends lines as they are, logs none of them. */
static void test_raw(test_t *t, char *db)
{
        static const char *const lines[][2] = {
                { "invalid", "garbage that is not json" },
                { "case.opened", "{\"type\":\"case.opened\",\"seq\":\"bogus\"}" },
                { "invalid", "[1,2]" },
                { "invalid", "{\"type\":7}" },
        };
        char events[256], text[512] = "";
        long long seqs[4];
        void *sub = NULL, *dealer = NULL;
        pid_t pid = 0;
        json_t *end = NULL;
        msg_t m = { 0 };
        int fails = tap_fail;
        int64_t deadline;
        size_t got = 0;

        for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
                strcat(text, lines[i][1]);
                strcat(text, "\n");
        }
        path_in(t, "raw.jsonl", events, sizeof(events));
        CHECK_INT(write_file(events, text), 0);
        sub = sock_new(t, ZMQ_SUB, t->feed_ep);
        dealer = sock_new(t, ZMQ_DEALER, t->replay_ep);
        CHECK(sub && dealer);
        if (!sub || !dealer)
                goto out;
        const char *argv[] = { "bevaka-feed", "publish", "--endpoint", t->feed_ep, "--replay-endpoint",
                               t->replay_ep, "--db", db, "--source", "test-src", "--wait-subscribers", "1",
                               "--raw", "-q", events, NULL };
        pid = feed_spawn(t, "run3.err", argv);
        CHECK(pid > 0);
        if (pid <= 0)
                goto out;

        deadline = now_ms() + WAIT_MS;
        while (got < ARRAY_SIZE(lines) && msg_recv(sub, deadline, &m) == 1) {
                if (m.n == 2 && strcmp(m.f[0], "feed.heartbeat") == 0)
                        continue;
                CHECK_INT(m.n, 2);
                CHECK_STR(m.f[0], lines[got][0]);       /* type frame */
                CHECK_STR(m.f[1], lines[got][1]);       /* the line, byte for byte */
                got++;
        }
        msg_clear(&m);
        CHECK_INT(got, ARRAY_SIZE(lines));

        /* Not logged: the log still ends at 25. */
        CHECK_INT(replay(dealer, "{\"op\":\"replay\",\"source\":\"test-src\",\"from_seq\":26}", seqs, 4, &end), 0);
        CHECK_STR(jstr(end, "op"), "replay_end");
        CHECK_INT(jint(end, "last_seq"), 25);
        json_decref(end);
        CHECK_INT(feed_stop(t, &pid), 0);
out:
        feed_kill(&pid);
        sock_close(&sub);
        sock_close(&dealer);
        dump_on_failure(t, fails, "run3.err");
}

/*
 * Run 4: more events than one batch and one replay chunk, published fast
 * into a subscriber and then served by `serve`: nothing lost, all in order.
 */
static void test_bulk(test_t *t)
{
        char events[256], db[256];
        long long *seqs = calloc(N_BULK, sizeof(*seqs));
        void *sub = NULL, *dealer = NULL;
        pid_t pid = 0;
        json_t *end = NULL;
        int fails = tap_fail;
        bool in_order = true;
        FILE *f;
        int n;

        path_in(t, "bulk.jsonl", events, sizeof(events));
        path_in(t, "bulk.db", db, sizeof(db));
        f = fopen(events, "w");
        CHECK(f != NULL && seqs != NULL);
        if (!f || !seqs) {
                if (f)
                        fclose(f);
                goto out;
        }
        for (int i = 1; i <= N_BULK; i++)
                fprintf(f, "{\"v\":1,\"id\":\"b-%d\",\"type\":\"%s\",\"case\":\"EB-%d\",\"data\":{}}\n",
                        i, event_type(i), i % 97);
        fclose(f);

        sub = sock_new(t, ZMQ_SUB, t->feed_ep);
        CHECK(sub != NULL);
        if (!sub)
                goto out;
        const char *argv[] = { "bevaka-feed", "publish", "--endpoint", t->feed_ep, "--replay-endpoint",
                               t->replay_ep, "--db", db, "--wait-subscribers", "1", "-q", events, NULL };
        pid = feed_spawn(t, "run4.err", argv);
        CHECK(pid > 0);
        if (pid <= 0)
                goto out;
        n = recv_live(sub, "paraply-demo", N_BULK, seqs, N_BULK, NULL, NULL);
        CHECK_INT(n, N_BULK);
        for (int i = 0; i < n && i < N_BULK; i++)
                in_order = in_order && seqs[i] == i + 1;
        CHECK(in_order);
        CHECK_INT(feed_stop(t, &pid), 0);
        sock_close(&sub);

        /* serve: replays from the log alone, in chunks, and heartbeats its head. */
        sub = sock_new(t, ZMQ_SUB, t->feed_ep);
        dealer = sock_new(t, ZMQ_DEALER, t->replay_ep);
        CHECK(sub && dealer);
        if (!sub || !dealer)
                goto out;
        const char *argv2[] = { "bevaka-feed", "serve", "--endpoint", t->feed_ep, "--replay-endpoint",
                                t->replay_ep, "--db", db, "--heartbeat-ms", "50", "-q", NULL };
        pid = feed_spawn(t, "run5.err", argv2);
        CHECK(pid > 0);
        if (pid <= 0)
                goto out;
        CHECK(recv_heartbeat(sub, "paraply-demo", N_BULK));
        n = replay(dealer, "{\"op\":\"replay\",\"source\":\"paraply-demo\",\"from_seq\":0}", seqs, N_BULK, &end);
        CHECK_INT(n, N_BULK);
        in_order = true;
        for (int i = 0; i < n && i < N_BULK; i++)
                in_order = in_order && seqs[i] == i + 1;
        CHECK(in_order);
        CHECK_STR(jstr(end, "op"), "replay_end");
        CHECK_INT(jint(end, "last_seq"), N_BULK);
        json_decref(end);
        CHECK_INT(feed_stop(t, &pid), 0);
out:
        feed_kill(&pid);
        sock_close(&sub);
        sock_close(&dealer);
        free(seqs);
        dump_on_failure(t, fails, "run4.err");
        dump_on_failure(t, fails, "run5.err");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
        (void)sb;
        (void)flag;
        (void)ftw;
        return remove(path);
}

int main(void)
{
        test_t t = { .sigchld_fd = -1 };
        const char *tmp = getenv("TMPDIR");
        char db[256];
        sigset_t mask;

        t.bin = getenv("BEVAKA_BIN");
        if (!t.bin)
                t.bin = ".";
        /* Blocked before any thread exists, so SIGCHLD only ever reaches the signalfd. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        t.sigchld_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        /* ipc:// paths are limited to about 100 bytes, so stay short. */
        snprintf(t.dir, sizeof(t.dir), "%s/test-feed-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
        if (t.sigchld_fd < 0 || !mkdtemp(t.dir)) {
                fprintf(stderr, "setup: %s\n", strerror(errno));
                return 1;
        }
        snprintf(t.feed_ep, sizeof(t.feed_ep), "ipc://%s/feed.sock", t.dir);
        snprintf(t.replay_ep, sizeof(t.replay_ep), "ipc://%s/replay.sock", t.dir);
        path_in(&t, "feed.db", db, sizeof(db));
        t.ctx = zmq_ctx_new();
        CHECK(t.ctx != NULL);
        if (t.ctx) {
                test_publish(&t, db);
                test_restart(&t, db);
                test_raw(&t, db);
                test_bulk(&t);
                zmq_ctx_term(t.ctx);
        }
        if (tap_fail == 0)
                nftw(t.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        else
                fprintf(stderr, "kept %s\n", t.dir);
        close(t.sigchld_fd);
        return tap_done();
}
