/*
 * it.h is the integration tests' harness: a temporary directory, the real
 * bevakad and bevaka-feed started as child processes on ipc:// endpoints,
 * an API client and a reminder subscriber, and polling with a timeout
 * (tests never sleep to wait). Header-only so each test-it-*.c stays one file.
 */
#pragma once
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "tap.h"

#define IT_UNUSED __attribute__((unused))
#define BK_IT_MIN(a, b) ((a) < (b) ? (a) : (b))

typedef struct it_env {
        char dir[256];
        char bin[512];
        char src[512];
        void *ctx;
        void *api;        /* DEALER to the daemon's API */
        void *sub;        /* SUB to the daemon's publisher */
        pid_t daemon, feed;
        int req;
} it_env_t;

static IT_UNUSED int64_t it_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static IT_UNUSED void it_path(const it_env_t *e, const char *name, char *buf, size_t n)
{
        snprintf(buf, n, "%s/%s", e->dir, name);
}

static IT_UNUSED void it_write(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        if (!f) { perror(path); exit(2); }
        fputs(text, f);
        fclose(f);
}

static IT_UNUSED void it_init(it_env_t *e)
{
        const char *bin = getenv("BEVAKA_BIN"), *src = getenv("BEVAKA_SRC");
        memset(e, 0, sizeof(*e));
        snprintf(e->bin, sizeof(e->bin), "%s", bin ? bin : ".");
        snprintf(e->src, sizeof(e->src), "%s", src ? src : "..");
        snprintf(e->dir, sizeof(e->dir), "/tmp/bevaka-it-XXXXXX");
        if (!mkdtemp(e->dir)) { perror("mkdtemp"); exit(2); }
        e->ctx = zmq_ctx_new();
        signal(SIGPIPE, SIG_IGN);
}

/* Writes bevakad.conf in the test dir: ipc endpoints there, manual clock at `start`. */
static IT_UNUSED void it_config(it_env_t *e, const char *start, const char *extra)
{
        char path[512], text[4096];
        it_path(e, "bevakad.conf", path, sizeof(path));
        snprintf(text, sizeof(text),
                 "store: { path = \"bevaka.db\"; synchronous = \"normal\"; };\n"
                 "feed: { endpoint = \"ipc://%s/feed.sock\"; replay_endpoint = \"ipc://%s/replay.sock\"; };\n"
                 "publish: { endpoint = \"ipc://%s/pub.sock\"; };\n"
                 "api: { endpoint = \"ipc://%s/api.sock\"; };\n"
                 "clock: { mode = \"manual\"; start = \"%s\"; };\n"
                 "security: { curve = false; };\n%s",
                 e->dir, e->dir, e->dir, e->dir, start, extra ? extra : "");
        it_write(path, text);
}

/* Declares the feed's sources in bevakad.conf (list: "\"a\", \"b\""): it_config leaves them to the default. */
static IT_UNUSED void it_declare_sources(it_env_t *e, const char *list)
{
        char path[512], text[8192], out[8400], *at;
        FILE *f;
        size_t n;

        it_path(e, "bevakad.conf", path, sizeof(path));
        if (!(f = fopen(path, "r"))) { perror(path); exit(2); }
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        if (!(at = strstr(text, "replay.sock\"; };"))) { fprintf(stderr, "no feed group in %s\n", path); exit(2); }
        at += strlen("replay.sock\";");
        snprintf(out, sizeof(out), "%.*s sources = [ %s ];%s", (int)(at - text), text, list, at);
        it_write(path, out);
}

static IT_UNUSED pid_t it_spawn(it_env_t *e, const char *logname, char *const argv[])
{
        char log[512];
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); exit(2); }
        if (pid == 0) {
                it_path(e, logname, log, sizeof(log));
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
                if (chdir(e->dir) != 0)
                        _exit(126);
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static IT_UNUSED pid_t it_start_daemon(it_env_t *e)
{
        char exe[600], conf[512];
        snprintf(exe, sizeof(exe), "%s/bevakad", e->bin);
        it_path(e, "bevakad.conf", conf, sizeof(conf));
        char *argv[] = { exe, "--config", conf, NULL };
        e->daemon = it_spawn(e, "bevakad.log", argv);
        return e->daemon;
}

/* Starts bevaka-feed publish FILE with extra args (NULL-terminated list). */
static IT_UNUSED pid_t it_start_feed(it_env_t *e, const char *jsonl, ...)
{
        char exe[600], ep[600], rep[600], db[600];
        char *argv[32];
        int n = 0;
        va_list ap;
        snprintf(exe, sizeof(exe), "%s/bevaka-feed", e->bin);
        snprintf(ep, sizeof(ep), "ipc://%s/feed.sock", e->dir);
        snprintf(rep, sizeof(rep), "ipc://%s/replay.sock", e->dir);
        snprintf(db, sizeof(db), "%s/feed.db", e->dir);
        argv[n++] = exe; argv[n++] = "publish"; argv[n++] = "--endpoint"; argv[n++] = ep;
        argv[n++] = "--replay-endpoint"; argv[n++] = rep; argv[n++] = "--db"; argv[n++] = db;
        argv[n++] = "--heartbeat-ms"; argv[n++] = "200"; argv[n++] = "-q";
        va_start(ap, jsonl);
        for (char *a; (a = va_arg(ap, char *)) && n < 29;)
                argv[n++] = a;
        va_end(ap);
        argv[n++] = (char *)jsonl;
        argv[n] = NULL;
        e->feed = it_spawn(e, "feed.log", argv);
        return e->feed;
}

/* Waits for a child to exit; returns its status or -1 on timeout. */
static IT_UNUSED int it_wait_exit(pid_t pid, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        int st;
        while (it_ms() < end) {
                pid_t r = waitpid(pid, &st, WNOHANG);
                if (r == pid)
                        return st;
                struct timespec ts = { 0, 5 * 1000 * 1000 };
                nanosleep(&ts, NULL);   /* polling interval, not a wait for an outcome */
        }
        return -1;
}

static IT_UNUSED int it_stop(pid_t *pid, int sig)
{
        int st = -1;
        if (*pid <= 0)
                return -1;
        kill(*pid, sig);
        st = it_wait_exit(*pid, 15000);
        if (st == -1) {
                kill(*pid, SIGKILL);
                st = it_wait_exit(*pid, 5000);
        }
        *pid = 0;
        return st;
}

static IT_UNUSED json_t *it_api(it_env_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Connects the API client and the subscriber. Waits until the daemon answers
 * and the subscriber's handshake has completed (socket monitor), so nothing
 * published afterwards is lost to a slow joiner.
 */
static IT_UNUSED void it_connect(it_env_t *e)
{
        char ep[600], mon[640];
        int linger = 0;
        if (e->api) zmq_close(e->api);
        if (e->sub) zmq_close(e->sub);
        e->api = zmq_socket(e->ctx, ZMQ_DEALER);
        e->sub = zmq_socket(e->ctx, ZMQ_SUB);
        zmq_setsockopt(e->api, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(e->sub, ZMQ_LINGER, &linger, sizeof(linger));
        snprintf(ep, sizeof(ep), "ipc://%s/api.sock", e->dir);
        zmq_connect(e->api, ep);
        for (int64_t end = it_ms() + 15000; it_ms() < end;) {
                json_t *r = it_api(e, "{\"op\":\"hello\"}");
                if (r) { json_decref(r); break; }
        }
        snprintf(mon, sizeof(mon), "inproc://it-mon-%p", e->sub);
        zmq_socket_monitor(e->sub, mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
        void *m = zmq_socket(e->ctx, ZMQ_PAIR);
        zmq_connect(m, mon);
        zmq_setsockopt(e->sub, ZMQ_SUBSCRIBE, "rem/", 4);
        snprintf(ep, sizeof(ep), "ipc://%s/pub.sock", e->dir);
        zmq_connect(e->sub, ep);
        zmq_pollitem_t it = { m, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, 10000) <= 0)
                fprintf(stderr, "it_connect: subscriber handshake not seen\n");
        zmq_socket_monitor(e->sub, NULL, 0);
        zmq_setsockopt(m, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_close(m);
        /* Two round trips: the subscription travels right behind the handshake. */
        json_decref(it_api(e, "{\"op\":\"hello\"}"));
        json_decref(it_api(e, "{\"op\":\"hello\"}"));
}

/* Sends a request (printf format, JSON) and waits for the reply; NULL on timeout. */
static IT_UNUSED json_t *it_api(it_env_t *e, const char *fmt, ...)
{
        char req[8192], buf[1 << 20];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(req, sizeof(req), fmt, ap);
        va_end(ap);
        if (zmq_send(e->api, req, strlen(req), 0) < 0)
                return NULL;
        zmq_pollitem_t it = { e->api, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, 10000) <= 0)
                return NULL;
        int n = zmq_recv(e->api, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return NULL;
        return json_loadb(buf, (size_t)BK_IT_MIN(n, (int)sizeof(buf) - 1), 0, NULL);
}

/* Polls the API's stats until events.<key> reaches want (or timeout). Returns the last value. */
static IT_UNUSED long long it_wait_stat(it_env_t *e, const char *group, const char *key, long long want,
                                        int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        long long v = -1;
        while (it_ms() < end) {
                json_t *r = it_api(e, "{\"op\":\"stats\"}");
                if (r) {
                        v = json_integer_value(json_object_get(json_object_get(r, group), key));
                        json_decref(r);
                        if (v >= want)
                                return v;
                }
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        return v;
}

/* Receives one reminder message from the subscriber; NULL on timeout. topic gets the first frame. */
static IT_UNUSED json_t *it_recv_reminder(it_env_t *e, char *topic, size_t tn, int timeout_ms)
{
        char buf[65536];
        zmq_pollitem_t it = { e->sub, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, timeout_ms) <= 0)
                return NULL;
        int n = zmq_recv(e->sub, topic, tn - 1, 0);
        if (n < 0)
                return NULL;
        topic[BK_IT_MIN(n, (int)tn - 1)] = '\0';
        n = zmq_recv(e->sub, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return NULL;
        return json_loadb(buf, (size_t)BK_IT_MIN(n, (int)sizeof(buf) - 1), 0, NULL);
}

static IT_UNUSED void it_cleanup(it_env_t *e)
{
        it_stop(&e->feed, SIGTERM);
        it_stop(&e->daemon, SIGTERM);
        if (e->api) zmq_close(e->api);
        if (e->sub) zmq_close(e->sub);
        zmq_ctx_term(e->ctx);
        if (!getenv("BEVAKA_KEEP")) {
                char cmd[600];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", e->dir);
        } else {
                fprintf(stderr, "kept %s\n", e->dir);
        }
}
