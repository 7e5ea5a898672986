/*
 * bevaka-bench: the ingest benchmark's measuring programs (not a test).
 * tests/bench/run.sh drives it; docs/performance.md explains the method.
 *
 *   bevaka-bench gen     [--events N] [--cases C] [--mix]     print the synthetic feed (JSONL) or its type mix
 *   bevaka-bench zmq     [--events N] [--cases C]             raw limit: XPUB -> SUB over tcp loopback
 *   bevaka-bench sqlite  [--events N] [--cases C] --sync full|normal [--batch B] [--dir D]
 *                        [--cache-mb M]                      raw limit: the events rows alone into SQLite
 *                                                             (M > 0 sets PRAGMA cache_size: an experiment,
 *                                                             bevakad sets none)
 *   bevaka-bench ingest  --bin DIR --sync full|normal [--events N] [--cases C]
 *                        [--lat-rate R] [--lat-seconds S] [--lat-dump FILE] [--poll-ms P] [--perf FILE] [--keep]
 *                                                             the real bevakad over tcp loopback
 *                        [--purge-cases P [--purge-rate R]]   P closed cases seeded first, purged by an
 *                                                             admin at R/s (default 100) during the load
 *
 * Every mode prints human-readable lines and "RESULT <key> <value>" lines,
 * which run.sh collects. Every mode is bounded in time and kills what it
 * started on every way out (children also get PR_SET_PDEATHSIG).
 *
 * Build: gcc -O2 -std=gnu11 -pthread tests/bench/bevaka-bench.c \
 *            $(pkg-config --cflags --libs libzmq sqlite3 jansson) -o bevaka-bench
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define SOURCE "bench"
#define EV_BUF 1024

/* ---- small helpers --------------------------------------------------------------- */

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
        struct timespec ts = { ns / 1000000000LL, ns % 1000000000LL };
        nanosleep(&ts, NULL);
}

static void sleep_until_ns(int64_t t)
{
        struct timespec ts = { t / 1000000000LL, t % 1000000000LL };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

static pid_t g_children[4];

static void kill_children(void)
{
        for (size_t i = 0; i < sizeof(g_children) / sizeof(g_children[0]); i++)
                if (g_children[i] > 0) {
                        kill(g_children[i], SIGKILL);
                        waitpid(g_children[i], NULL, 0);
                        g_children[i] = 0;
                }
}

static void on_signal(int sig)
{
        kill_children();
        signal(sig, SIG_DFL);
        raise(sig);
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "bevaka-bench: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        kill_children();
        exit(1);
}

static void track_child(pid_t pid)
{
        for (size_t i = 0; i < sizeof(g_children) / sizeof(g_children[0]); i++)
                if (g_children[i] <= 0) {
                        g_children[i] = pid;
                        return;
                }
}

static void untrack_child(pid_t pid)
{
        for (size_t i = 0; i < sizeof(g_children) / sizeof(g_children[0]); i++)
                if (g_children[i] == pid)
                        g_children[i] = 0;
}

/* Waits for pid to exit (ms timeout); -1 on timeout, else the wait status. */
static int wait_exit(pid_t pid, int timeout_ms)
{
        int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
        int st;
        while (now_ns() < end) {
                pid_t r = waitpid(pid, &st, WNOHANG);
                if (r == pid)
                        return st;
                if (r < 0)
                        return -2;
                sleep_ns(5 * 1000000);
        }
        return -1;
}

static int stop_child(pid_t *pid, int sig, int timeout_ms)
{
        int st;
        if (*pid <= 0)
                return -1;
        kill(*pid, sig);
        st = wait_exit(*pid, timeout_ms);
        if (st == -1) {
                kill(*pid, SIGKILL);
                st = wait_exit(*pid, 5000);
        }
        untrack_child(*pid);
        *pid = 0;
        return st;
}

/* A free loopback TCP port (the kernel's choice; closed again, so a small race remains). */
static int free_port(void)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) != 0)
                die("free_port: %s", strerror(errno));
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

static long long file_size(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* utime + stime of a process in seconds (from /proc/PID/stat). */
static double proc_cpu_s(pid_t pid)
{
        char path[64], buf[2048];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        if (!p)
                return -1;
        unsigned long long ut = 0, stt = 0;
        /* fields after ')': state(3) ... utime(14) stime(15) */
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
                return -1;
        return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Vm...:" line of /proc/PID/status in kB; -1 if unavailable. */
static long proc_status_kb(pid_t pid, const char *key)
{
        char path[64], line[256];
        long v = -1;
        size_t kl = strlen(key);
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
                        v = strtol(line + kl + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

/* Bytes a process has handed to write(2) and friends (/proc/PID/io wchar): the WAL and the
 * checkpoints' writes, which the page layout of the store decides; noise on the machine does not
 * change it. -1 when unreadable. */
static long long proc_wchar(pid_t pid)
{
        char path[64], line[256];
        long long v = -1;
        snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "wchar:", 6) == 0) {
                        v = strtoll(line + 6, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

/* Busy CPU seconds of the whole machine (all CPUs), from /proc/stat. */
static double machine_busy_s(void)
{
        unsigned long long v[10] = { 0 };
        FILE *f = fopen("/proc/stat", "r");
        if (!f)
                return -1;
        int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                       &v[6], &v[7]);
        fclose(f);
        if (n != 8)
                return -1;
        /* user nice system idle iowait irq softirq steal: busy = all but idle and iowait */
        return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
}

/* ---- the synthetic feed -------------------------------------------------------------- */
/*
 * Event seq s (1-based) is a pure function of (s, cases): step j = (s-1) / C
 * of case k, where the C cases of a step come in a permuted order, so
 * consecutive events are almost always on different cases (as on a live feed)
 * and every case sees its events in time order. A case's script: opened,
 * ib1, ib3, ib4 plan, then a 12-step cycle of three monthly assistance
 * decisions, plan revisions, actors, child impact, caseworker changes,
 * health / work capacity, children mapping, FIA / SIP, household updates,
 * safety, summer allowance, and (1 case in 50) a close followed by a reopen.
 * Every event applies (none is rejected by the rules), so events.applied
 * reaches N exactly.
 */

#define BASE_AT 1736146800LL   /* 2025-01-06T08:00:00+01:00 (a Monday); step j is 7*j days later */

typedef struct gen_ev {
        const char *type;
        char id[64];
        char case_id[32];
        int64_t at;             /* unix seconds */
        int len;                /* of the JSON text in the caller's buffer */
} gen_ev_t;

/* Swedish local time: +02:00 from the last Sunday of March to the last Sunday of October (01:00 UTC). */
static int64_t last_sunday_utc(int year, int mon)
{
        struct tm tm = { .tm_year = year - 1900, .tm_mon = mon, .tm_mday = 31, .tm_hour = 1 };
        time_t t = timegm(&tm);
        struct tm w;
        gmtime_r(&t, &w);
        return (int64_t)t - (int64_t)w.tm_wday * 86400;
}

static int utc_offset_s(int64_t t)
{
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        int y = tm.tm_year + 1900;
        return t >= last_sunday_utc(y, 2) && t < last_sunday_utc(y, 9) ? 7200 : 3600;
}

static void fmt_at(int64_t t, char *buf, size_t n)
{
        int off = utc_offset_s(t);
        time_t lt = (time_t)(t + off);
        struct tm tm;
        gmtime_r(&lt, &tm);
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d+0%d:00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, off / 3600);
}

static void fmt_date(int64_t t, char *buf, size_t n)
{
        time_t lt = (time_t)(t + utc_offset_s(t));
        struct tm tm;
        gmtime_r(&lt, &tm);
        snprintf(buf, n, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static const char *const barriers[] = { "unemployment", "sickness", "social_medical", "other", "unclear" };
static const char *const actors[] = { "af", "fk", "region", "other" };

static int household(char *b, size_t n, int k, int extra)
{
        int nc = k % 4 + extra, len;
        len = snprintf(b, n, "{\"adults\":%d,\"single_parent\":%s,\"children\":[", 1 + (k % 3 == 0),
                       k % 3 == 0 ? "false" : "true");
        for (int c = 0; c < nc && c < 5; c++)
                len += snprintf(b + len, n - (size_t)len, "%s\"%04d-%02d\"", c ? "," : "",
                                2008 + (k * 7 + c * 3) % 17, 1 + (k + c * 5) % 12);
        len += snprintf(b + len, n - (size_t)len, "]}");
        return len;
}

/* The script's event s sent at feed position wire (the same unless seeds come first). */
static int gen_event_at(int64_t seq, int64_t wire, int cases, char *buf, size_t n, gen_ev_t *ev)
{
        int64_t i = seq - 1, j = i / cases, slot = i % cases;
        int k = (int)((slot * 7919 + j * 4099) % cases);
        int cw = 1000 + k % 400;
        char data[512], at[80], date[48], hh[200];
        const char *type;

        ev->at = BASE_AT + j * 7 * 86400 + (slot * 16) % (8 * 3600);
        fmt_at(ev->at, at, sizeof(at));
        if (j >= 4)
                cw = 1000 + (k + 37 * (int)((j - 4 + 7) / 12)) % 400;   /* changes at c == 5 each round */

        if (j == 0) {
                type = "case.opened";
                household(hh, sizeof(hh), k, 0);
                snprintf(data, sizeof(data), "{\"caseworker\":\"hk%04d\",\"household\":%s,\"barrier\":\"%s\"}",
                         cw, hh, barriers[k % 5]);
        } else if (j == 1) {
                type = "ib1.completed";
                snprintf(data, sizeof(data), "{}");
        } else if (j == 2) {
                type = "ib3.completed";
                snprintf(data, sizeof(data), "{\"violence_disclosed\":%s}", k % 17 == 0 ? "true" : "false");
        } else if (j == 3) {
                type = "ib4.established";
                fmt_date(ev->at + 90 * 86400, date, sizeof(date));
                snprintf(data, sizeof(data), "{\"follow_up_at\":\"%s\"}", date);
        } else {
                int c = (int)((j - 4) % 12), r = (int)((j - 4) / 12);
                bool closer = k % 50 == 0 && r % 2 == 1;
                int d = r * 3 + c / 4;   /* decision ordinal (at c = 0, 4, 8) */
                switch (c) {
                case 0: case 4: case 8: {
                        int m = d + 1;   /* months after 2025-01 */
                        const char *outcome = (k + d) % 23 == 0 ? "refused" : (k + d) % 9 == 0 ? "partial" : "granted";
                        type = "assistance.decided";
                        snprintf(data, sizeof(data),
                                 "{\"month\":\"%04d-%02d\",\"outcome\":\"%s\",\"decision\":\"B-%d-%d\","
                                 "\"child_impact_documented\":%s}",
                                 2025 + m / 12, 1 + m % 12, outcome, k, d, (k + d) % 5 ? "true" : "false");
                        break;
                }
                case 1:
                        type = "ib4.revised";
                        if (r % 2 == 0) {
                                fmt_date(ev->at + 90 * 86400, date, sizeof(date));
                                snprintf(data, sizeof(data), "{\"follow_up_at\":\"%s\"}", date);
                        } else {
                                snprintf(data, sizeof(data), "{}");
                        }
                        break;
                case 2:
                        type = "actor.involved";
                        snprintf(data, sizeof(data), "{\"actor\":\"%s\"}", actors[(k + r) % 4]);
                        break;
                case 3:
                        type = "child_impact.documented";
                        snprintf(data, sizeof(data), "{\"decision\":\"B-%d-%d\"}", k, r * 3);
                        break;
                case 5:
                        type = "caseworker.assigned";
                        snprintf(data, sizeof(data), "{\"caseworker\":\"hk%04d\"}", cw);
                        break;
                case 6:
                        type = (k + r) % 2 ? "health.flagged" : "work_capacity.assessed";
                        snprintf(data, sizeof(data), "{}");
                        break;
                case 7:
                        type = "children.mapped";
                        snprintf(data, sizeof(data), "{\"home_visit\":%s}", k % 3 == 0 ? "true" : "false");
                        break;
                case 9:
                        type = r % 3 == 0 ? "fia.started" : r % 3 == 1 ? "fia.completed" : "sip.initiated";
                        snprintf(data, sizeof(data), "{}");
                        break;
                case 10:
                        if (closer) {
                                type = "case.closed";
                                snprintf(data, sizeof(data), "{\"reason\":\"Självförsörjande genom anställning\"}");
                        } else if (r % 2 == 0) {
                                type = "case.updated";
                                household(hh, sizeof(hh), k, 1);
                                snprintf(data, sizeof(data), "{\"household\":%s}", hh);
                        } else {
                                type = "actor.ended";
                                snprintf(data, sizeof(data), "{\"actor\":\"%s\"}", actors[(k + r) % 4]);
                        }
                        break;
                default: /* 11 */
                        if (closer) {
                                type = "case.reopened";
                                snprintf(data, sizeof(data), "{\"caseworker\":\"hk%04d\"}", cw);
                        } else if (r % 3 == 2) {
                                type = "summer_allowance.applied";
                                snprintf(data, sizeof(data), "{\"year\":%d}", 2025 + (int)(j / 52));
                        } else {
                                type = "safety.followed_up";
                                snprintf(data, sizeof(data), "{}");
                        }
                        break;
                }
        }
        ev->type = type;
        snprintf(ev->id, sizeof(ev->id), "paraply-7f3c2a9e-%" PRId64, wire);
        snprintf(ev->case_id, sizeof(ev->case_id), "EB-2025-%06d", k + 1);
        ev->len = snprintf(buf, n,
                           "{\"v\":1,\"id\":\"%s\",\"source\":\"" SOURCE "\",\"seq\":%" PRId64 ",\"type\":\"%s\","
                           "\"at\":\"%s\",\"case\":\"%s\",\"unit\":\"HV-EB-%d\",\"actor\":\"hk%04d\",\"data\":%s}",
                           ev->id, wire, type, at, ev->case_id, k % 12 + 1, cw, data);
        return ev->len;
}

static int gen_event(int64_t seq, int cases, char *buf, size_t n, gen_ev_t *ev)
{
        return gen_event_at(seq, seq, cases, buf, n, ev);
}

/*
 * --purge-cases P: 3P events before the load (seqs 1..3P) for cases PG-00001.. that were opened
 * in 2019 and closed a month later, long past any retention at the bench's clock (2026); the
 * load's events follow them, seq 3P + s being the generator's s. The bench purges them through
 * the API while the load runs, and retention finds the rest in the paced phase.
 */
#define SEED_AT 1546844400LL   /* 2019-01-07T08:00:00+01:00 */

static int gen_seed(int64_t seq, char *buf, size_t n, gen_ev_t *ev)
{
        static const char *const types[] = { "case.opened", "ib1.completed", "case.closed" };
        static const char *const datas[] = {
                "{\"caseworker\":\"hk0001\",\"household\":{\"adults\":1,\"single_parent\":true,"
                "\"children\":[\"2012-04\"]},\"barrier\":\"sickness\"}",
                "{}",
                "{\"reason\":\"Flyttat\"}",
        };
        int64_t k = (seq - 1) / 3, step = (seq - 1) % 3;
        char at[80];

        ev->at = SEED_AT + k * 60 + step * 14 * 86400;
        fmt_at(ev->at, at, sizeof(at));
        ev->type = types[step];
        snprintf(ev->id, sizeof(ev->id), "paraply-seed-%" PRId64, seq);
        snprintf(ev->case_id, sizeof(ev->case_id), "PG-%05d", (int)k + 1);
        ev->len = snprintf(buf, n,
                           "{\"v\":1,\"id\":\"%s\",\"source\":\"" SOURCE "\",\"seq\":%" PRId64 ",\"type\":\"%s\","
                           "\"at\":\"%s\",\"case\":\"%s\",\"unit\":\"HV-EB-1\",\"actor\":\"hk0001\",\"data\":%s}",
                           ev->id, seq, ev->type, at, ev->case_id, datas[step]);
        return ev->len;
}

/* ---- options ---------------------------------------------------------------------- */

typedef struct opts {
        long long events;
        int cases;
        bool sync_full, sync_set;
        int batch;
        char dir[512];
        char bin[512];
        double lat_rate;
        double lat_seconds;
        int poll_ms;
        char perf[512];
        bool keep, mix;
        int timeout_s;
        int cache_mb;
        char lat_dump[512];     /* ingest: "send_s latency_ms" per paced event */
        int purge_cases;        /* ingest: closed cases seeded before the load, purged during it */
        double purge_rate;      /* ingest: purge requests per second during the load */           /* sqlite: PRAGMA cache_size in MB; 0 = SQLite's default, as bevakad */
} opts_t;

static void parse_opts(int argc, char **argv, opts_t *o)
{
        static const struct option lo[] = {
                { "events", required_argument, NULL, 'n' },     { "cases", required_argument, NULL, 'c' },
                { "sync", required_argument, NULL, 's' },       { "batch", required_argument, NULL, 'b' },
                { "dir", required_argument, NULL, 'd' },        { "bin", required_argument, NULL, 'B' },
                { "lat-rate", required_argument, NULL, 'r' },   { "lat-seconds", required_argument, NULL, 'S' },
                { "poll-ms", required_argument, NULL, 'p' },    { "perf", required_argument, NULL, 'P' },
                { "keep", no_argument, NULL, 'k' },             { "mix", no_argument, NULL, 'm' },
                { "timeout", required_argument, NULL, 't' },    { "cache-mb", required_argument, NULL, 'C' },
                { "lat-dump", required_argument, NULL, 'L' },   { "purge-cases", required_argument, NULL, 'G' },
                { "purge-rate", required_argument, NULL, 'R' },
                { NULL, 0, NULL, 0 },
        };
        int c;
        memset(o, 0, sizeof(*o));
        o->events = 1000000;
        o->batch = 1000;
        o->lat_rate = 1000;
        o->lat_seconds = 15;
        o->poll_ms = 100;
        o->purge_rate = 100;
        snprintf(o->dir, sizeof(o->dir), "/tmp");
        while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
                switch (c) {
                case 'n': o->events = atoll(optarg); break;
                case 'c': o->cases = atoi(optarg); break;
                case 's':
                        if (strcmp(optarg, "full") && strcmp(optarg, "normal"))
                                die("--sync full|normal");
                        o->sync_full = strcmp(optarg, "full") == 0;
                        o->sync_set = true;
                        break;
                case 'b': o->batch = atoi(optarg); break;
                case 'd': snprintf(o->dir, sizeof(o->dir), "%s", optarg); break;
                case 'B': snprintf(o->bin, sizeof(o->bin), "%s", optarg); break;
                case 'r': o->lat_rate = atof(optarg); break;
                case 'S': o->lat_seconds = atof(optarg); break;
                case 'p': o->poll_ms = atoi(optarg); break;
                case 'P': snprintf(o->perf, sizeof(o->perf), "%s", optarg); break;
                case 'k': o->keep = true; break;
                case 'm': o->mix = true; break;
                case 't': o->timeout_s = atoi(optarg); break;
                case 'C': o->cache_mb = atoi(optarg); break;
                case 'L': snprintf(o->lat_dump, sizeof(o->lat_dump), "%s", optarg); break;
                case 'G': o->purge_cases = atoi(optarg); break;
                case 'R': o->purge_rate = atof(optarg); break;
                default: die("bad option (see the comment at the top of bevaka-bench.c)");
                }
        }
        if (o->events < 1)
                die("--events must be >= 1");
        if (o->cases <= 0) {
                /* About 50 events per case keeps the same type mix at any N (the full script);
                 * 20 000 cases from 1e6 events up. */
                long long c2 = o->events / 50;
                o->cases = (int)(c2 > 20000 ? 20000 : c2 < 100 ? 100 : c2);
        }
        if (o->batch < 1)
                o->batch = 1;
        if (o->timeout_s <= 0)
                o->timeout_s = 120 + (int)(o->events / 2000);
}

/* ---- gen ------------------------------------------------------------------------------- */

static int cmd_gen(const opts_t *o)
{
        char buf[EV_BUF];
        gen_ev_t ev;
        if (!o->mix) {
                for (long long s = 1; s <= o->events; s++) {
                        gen_event(s, o->cases, buf, sizeof(buf), &ev);
                        puts(buf);
                }
                return 0;
        }
        struct { const char *t; long long n; } mix[64];
        int nm = 0;
        long long bytes = 0;
        for (long long s = 1; s <= o->events; s++) {
                int i;
                bytes += gen_event(s, o->cases, buf, sizeof(buf), &ev);
                for (i = 0; i < nm && strcmp(mix[i].t, ev.type); i++)
                        ;
                if (i == nm)
                        mix[nm++] = (typeof(mix[0])){ ev.type, 0 };
                mix[i].n++;
        }
        printf("%lld events over %d cases, %.0f bytes/event on average\n", o->events, o->cases,
               (double)bytes / (double)o->events);
        for (int i = 0; i < nm; i++)
                printf("  %-26s %8lld  %5.1f%%\n", mix[i].t, mix[i].n, 100.0 * (double)mix[i].n / (double)o->events);
        return 0;
}

/* ---- feed side: XPUB + ROUTER served from the generator -------------------------------------- */

typedef struct feed {
        void *ctx, *pub, *rep;
        int cases;
        int64_t seeds;            /* seqs 1..seeds are gen_seed()'s, the rest gen_event()'s */
        int64_t published;        /* highest seq sent live */
        int64_t hb_next;          /* ns */
        int subscribers;
        long long replays_served, replay_events;
        char pub_ep[128], rep_ep[128];
} feed_t;

static void set_i(void *s, int opt, int v)
{
        if (zmq_setsockopt(s, opt, &v, sizeof(v)) != 0)
                die("zmq_setsockopt %d: %s", opt, zmq_strerror(zmq_errno()));
}

static void feed_open(feed_t *f, int cases)
{
        size_t len;
        int64_t max = 65536;
        memset(f, 0, sizeof(*f));
        f->cases = cases;
        f->ctx = zmq_ctx_new();
        f->pub = zmq_socket(f->ctx, ZMQ_XPUB);
        f->rep = zmq_socket(f->ctx, ZMQ_ROUTER);
        /* SNDHWM 0 = no limit: a PUB never blocks, so this is what keeps a lagging
         * daemon from losing messages (it then reads at its own pace through TCP). */
        set_i(f->pub, ZMQ_SNDHWM, 0);
        set_i(f->pub, ZMQ_LINGER, 0);
        set_i(f->pub, ZMQ_XPUB_VERBOSER, 1);
        set_i(f->rep, ZMQ_SNDHWM, 0);
        set_i(f->rep, ZMQ_LINGER, 0);
        zmq_setsockopt(f->rep, ZMQ_MAXMSGSIZE, &max, sizeof(max));
        if (zmq_bind(f->pub, "tcp://127.0.0.1:*") != 0 || zmq_bind(f->rep, "tcp://127.0.0.1:*") != 0)
                die("feed bind: %s", zmq_strerror(zmq_errno()));
        len = sizeof(f->pub_ep);
        zmq_getsockopt(f->pub, ZMQ_LAST_ENDPOINT, f->pub_ep, &len);
        len = sizeof(f->rep_ep);
        zmq_getsockopt(f->rep, ZMQ_LAST_ENDPOINT, f->rep_ep, &len);
}

static void feed_close(feed_t *f)
{
        zmq_close(f->pub);
        zmq_close(f->rep);
        zmq_ctx_term(f->ctx);
}

static int gen_any(const feed_t *f, int64_t seq, char *buf, size_t n, gen_ev_t *ev)
{
        return seq <= f->seeds ? gen_seed(seq, buf, n, ev) : gen_event_at(seq - f->seeds, seq, f->cases, buf, n, ev);
}

static void feed_send(feed_t *f, int64_t seq, char *buf, size_t n)
{
        gen_ev_t ev;
        gen_any(f, seq, buf, n, &ev);
        if (zmq_send(f->pub, ev.type, strlen(ev.type), ZMQ_SNDMORE) < 0 ||
            zmq_send(f->pub, buf, (size_t)ev.len, 0) < 0)
                die("publish: %s", zmq_strerror(zmq_errno()));
        f->published = seq;
}

/* Heartbeats, subscription counting and replays; never blocks. */
static void feed_service(feed_t *f)
{
        char buf[EV_BUF], req[1024], rid[256];
        int64_t t = now_ns();

        for (;;) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, f->pub, ZMQ_DONTWAIT) < 0) {
                        zmq_msg_close(&m);
                        break;
                }
                if (zmq_msg_size(&m) > 0)
                        f->subscribers += ((const unsigned char *)zmq_msg_data(&m))[0] ? 1 : -1;
                zmq_msg_close(&m);
        }
        for (;;) {
                int rn = zmq_recv(f->rep, rid, sizeof(rid), ZMQ_DONTWAIT), more = 0;
                size_t ms = sizeof(more);
                if (rn < 0)
                        break;
                zmq_getsockopt(f->rep, ZMQ_RCVMORE, &more, &ms);
                if (!more)
                        continue;
                int qn = zmq_recv(f->rep, req, sizeof(req) - 1, 0);
                if (qn < 0)
                        continue;
                req[qn < (int)sizeof(req) ? qn : (int)sizeof(req) - 1] = '\0';
                json_t *j = json_loads(req, 0, NULL);
                json_int_t from = json_integer_value(json_object_get(j, "from_seq"));
                json_decref(j);
                if (from < 1)
                        from = 1;
                f->replays_served++;
                for (int64_t s = from; s <= f->published; s++) {
                        gen_ev_t ev;
                        gen_any(f, s, buf, sizeof(buf), &ev);
                        zmq_send(f->rep, rid, (size_t)rn, ZMQ_SNDMORE);
                        zmq_send(f->rep, ev.type, strlen(ev.type), ZMQ_SNDMORE);
                        zmq_send(f->rep, buf, (size_t)ev.len, 0);
                        f->replay_events++;
                }
                int n = snprintf(buf, sizeof(buf), "{\"op\":\"replay_end\",\"source\":\"" SOURCE "\",\"last_seq\":%" PRId64 "}",
                                 f->published);
                zmq_send(f->rep, rid, (size_t)rn, ZMQ_SNDMORE);
                zmq_send(f->rep, buf, (size_t)n, 0);
        }
        if (t >= f->hb_next) {
                int n = snprintf(buf, sizeof(buf), "{\"op\":\"heartbeat\",\"source\":\"" SOURCE "\",\"last_seq\":%" PRId64 "}",
                                 f->published);
                zmq_send(f->pub, "feed.heartbeat", 14, ZMQ_SNDMORE);
                zmq_send(f->pub, buf, (size_t)n, 0);
                f->hb_next = t + 500 * 1000000LL;
        }
}

/* ---- zmq: the raw transport limit ----------------------------------------------------------- */

typedef struct zraw {
        const opts_t *o;
        char ep[128];
        _Atomic int64_t t0;
        _Atomic int ready;
} zraw_t;

static void *zraw_pub(void *arg)
{
        zraw_t *z = arg;
        void *ctx = zmq_ctx_new(), *pub = zmq_socket(ctx, ZMQ_XPUB);
        char buf[EV_BUF];
        size_t len = sizeof(z->ep);
        gen_ev_t ev;
        zmq_msg_t m;

        set_i(pub, ZMQ_SNDHWM, 0);
        set_i(pub, ZMQ_LINGER, 5000);
        if (zmq_bind(pub, "tcp://127.0.0.1:*") != 0)
                die("zmq bind: %s", zmq_strerror(zmq_errno()));
        zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, z->ep, &len);
        atomic_store(&z->ready, 1);
        /* Wait for the subscription so nothing is filtered out. */
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, pub, 0) < 0)
                die("zmq: no subscription");
        zmq_msg_close(&m);
        atomic_store(&z->t0, now_ns());
        for (long long s = 1; s <= z->o->events; s++) {
                gen_event(s, z->o->cases, buf, sizeof(buf), &ev);
                if (zmq_send(pub, ev.type, strlen(ev.type), ZMQ_SNDMORE) < 0 ||
                    zmq_send(pub, buf, (size_t)ev.len, 0) < 0)
                        die("zmq send: %s", zmq_strerror(zmq_errno()));
        }
        zmq_close(pub);
        zmq_ctx_term(ctx);
        return NULL;
}

static int cmd_zmq(const opts_t *o)
{
        zraw_t z = { .o = o };
        pthread_t th;
        void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
        int64_t max = 65536, deadline;
        long long got = 0, bytes = 0;
        char *body = malloc(65537);

        /* Same receive-side settings as bevakad's feed SUB (bus.c, default limits). */
        set_i(sub, ZMQ_RCVHWM, 100000);
        set_i(sub, ZMQ_LINGER, 0);
        zmq_setsockopt(sub, ZMQ_MAXMSGSIZE, &max, sizeof(max));
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
        if (pthread_create(&th, NULL, zraw_pub, &z) != 0)
                die("pthread_create");
        while (!atomic_load(&z.ready))
                sleep_ns(1000000);
        if (zmq_connect(sub, z.ep) != 0)
                die("zmq connect: %s", zmq_strerror(zmq_errno()));
        deadline = now_ns() + (int64_t)o->timeout_s * 1000000000LL;
        set_i(sub, ZMQ_RCVTIMEO, 1000);
        double m0 = machine_busy_s(), c0 = self_cpu_s(), w0 = (double)now_ns() / 1e9;
        while (got < o->events && now_ns() < deadline) {
                zmq_msg_t t, b;
                int more = 0;
                size_t ms = sizeof(more);
                zmq_msg_init(&t);
                if (zmq_msg_recv(&t, sub, 0) < 0) {
                        zmq_msg_close(&t);
                        continue;
                }
                zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ms);
                zmq_msg_close(&t);
                if (!more)
                        continue;   /* only two-frame messages count */
                zmq_msg_init(&b);
                if (zmq_msg_recv(&b, sub, 0) < 0) {
                        zmq_msg_close(&b);
                        continue;
                }
                memcpy(body, zmq_msg_data(&b), zmq_msg_size(&b));   /* as bevakad's bus.c does */
                bytes += (long long)zmq_msg_size(&b);
                zmq_msg_close(&b);
                got++;
        }
        int64_t t1 = now_ns();
        double noise = ((machine_busy_s() - m0) - (self_cpu_s() - c0)) / ((double)t1 / 1e9 - w0) /
                       (double)sysconf(_SC_NPROCESSORS_ONLN);
        if (noise < 0)
                noise = 0;
        pthread_join(th, NULL);
        zmq_close(sub);
        zmq_ctx_term(ctx);
        free(body);
        if (got < o->events)
                die("zmq: received %lld of %lld messages before the timeout", got, o->events);
        double s = (double)(t1 - atomic_load(&z.t0)) / 1e9;
        printf("zmq raw: %lld two-frame messages (%.0f B payload avg) XPUB->SUB tcp loopback in %.3f s: %.0f msg/s; "
               "other processes used %.0f%% of the machine\n", got, (double)bytes / (double)got, s, (double)got / s,
               100 * noise);
        printf("RESULT zmq_rate %.0f\nRESULT zmq_seconds %.3f\nRESULT avg_payload_bytes %.0f\n", (double)got / s, s,
               (double)bytes / (double)got);
        return 0;
}

/* ---- sqlite: the raw store limit -------------------------------------------------------------- */

/* bevakad's events table, word for word (daemon/store.c, migration 0 -> 1). */
static const char events_ddl[] =
        "CREATE TABLE events(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,"
        "  seq INTEGER NOT NULL, type TEXT NOT NULL, at INTEGER NOT NULL, case_id TEXT NOT NULL,"
        "  received_at INTEGER NOT NULL, status INTEGER NOT NULL, raw TEXT NOT NULL);"
        "CREATE INDEX events_case ON events(case_id);";
static const char events_insert[] =
        "INSERT INTO events(id, source, seq, type, at, case_id, received_at, status, raw) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

#define CLOCK_START 1767592800LL   /* 2026-01-05T07:00:00+01:00, the daemon's manual clock */

static void sq_exec(sqlite3 *db, const char *sql)
{
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
                die("sqlite: %s: %s", sql, msg ? msg : "?");
}

static int cmd_sqlite(const opts_t *o)
{
        char dir[600], path[700], wal[720];
        sqlite3 *db;
        sqlite3_stmt *q;
        gen_ev_t ev;
        int64_t timed = 0, t_all0;
        long long commits = 0;

        if (!o->sync_set)
                die("sqlite: --sync full|normal is required");
        snprintf(dir, sizeof(dir), "%s/bevaka-bench-sq-XXXXXX", o->dir);
        if (!mkdtemp(dir))
                die("mkdtemp %s: %s", dir, strerror(errno));
        snprintf(path, sizeof(path), "%s/raw.db", dir);
        snprintf(wal, sizeof(wal), "%s-wal", path);
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK)
                die("sqlite open %s", path);
        /* The same pragmas as store_open(). */
        sq_exec(db, "PRAGMA journal_mode = WAL");
        sq_exec(db, o->sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        sq_exec(db, "PRAGMA foreign_keys = ON");
        if (o->cache_mb > 0) {   /* not what bevakad does: for experiments only */
                char pragma[64];
                snprintf(pragma, sizeof(pragma), "PRAGMA cache_size = -%d", o->cache_mb * 1024);
                sq_exec(db, pragma);
        }
        sq_exec(db, events_ddl);
        if (sqlite3_prepare_v3(db, events_insert, -1, SQLITE_PREPARE_PERSISTENT, &q, NULL) != SQLITE_OK)
                die("prepare: %s", sqlite3_errmsg(db));

        /* Rows are generated outside the timed sections: only BEGIN .. COMMIT is measured. */
        char **raw = malloc(sizeof(char *) * (size_t)o->batch);
        gen_ev_t *evs = malloc(sizeof(gen_ev_t) * (size_t)o->batch);
        for (int i = 0; i < o->batch; i++)
                raw[i] = malloc(EV_BUF);
        double m0 = machine_busy_s(), c0 = self_cpu_s();
        t_all0 = now_ns();
        for (long long s = 1; s <= o->events;) {
                int n = 0;
                for (; n < o->batch && s + n <= o->events; n++)
                        gen_event(s + n, o->cases, raw[n], EV_BUF, &evs[n]);
                int64_t t0 = now_ns();
                sq_exec(db, "BEGIN IMMEDIATE");
                for (int i = 0; i < n; i++) {
                        ev = evs[i];
                        sqlite3_bind_text(q, 1, ev.id, -1, SQLITE_STATIC);
                        sqlite3_bind_text(q, 2, SOURCE, -1, SQLITE_STATIC);
                        sqlite3_bind_int64(q, 3, s + i);
                        sqlite3_bind_text(q, 4, ev.type, -1, SQLITE_STATIC);
                        sqlite3_bind_int64(q, 5, ev.at);
                        sqlite3_bind_text(q, 6, ev.case_id, -1, SQLITE_STATIC);
                        sqlite3_bind_int64(q, 7, CLOCK_START);
                        sqlite3_bind_int(q, 8, 0);
                        sqlite3_bind_text(q, 9, raw[i], ev.len, SQLITE_STATIC);
                        if (sqlite3_step(q) != SQLITE_DONE)
                                die("insert: %s", sqlite3_errmsg(db));
                        sqlite3_reset(q);
                        sqlite3_clear_bindings(q);
                }
                sq_exec(db, "COMMIT");
                commits++;
                timed += now_ns() - t0;
                s += n;
        }
        double wall = (double)(now_ns() - t_all0) / 1e9, sec = (double)timed / 1e9;
        double noise = ((machine_busy_s() - m0) - (self_cpu_s() - c0)) / wall / (double)sysconf(_SC_NPROCESSORS_ONLN);
        if (noise < 0)
                noise = 0;
        sqlite3_finalize(q);
        sq_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
        long long size = file_size(path) + file_size(wal);
        sqlite3_close(db);
        for (int i = 0; i < o->batch; i++)
                free(raw[i]);
        free(raw);
        free(evs);
        if (o->cache_mb > 0)
                printf("[cache_size %d MB] ", o->cache_mb);
        printf("sqlite raw (synchronous=%s, WAL, %d rows per transaction, %lld commits): %lld events rows in "
               "%.3f s inserting (%.3f s with row generation): %.0f rows/s; %.0f bytes/row on disk; other "
               "processes used %.0f%% of the machine\n",
               o->sync_full ? "full" : "normal", o->batch, commits, o->events, sec, wall, (double)o->events / sec,
               (double)size / (double)o->events, 100 * noise);
        printf("RESULT sqlite_rate %.0f\nRESULT sqlite_seconds %.3f\nRESULT sqlite_bytes_per_row %.0f\n",
               (double)o->events / sec, sec, (double)size / (double)o->events);
        if (!o->keep) {
                unlink(path);
                unlink(wal);
                snprintf(wal, sizeof(wal), "%s-shm", path);
                unlink(wal);
                rmdir(dir);
        }
        return 0;
}

/* ---- ingest: the real daemon --------------------------------------------------------------------- */

/* Watches the daemon's store read-only: feeds.last_seq is written in the same
 * transaction as the events, so it changes exactly when a batch commits (and
 * in WAL mode a reader sees a commit only after its WAL sync, for FULL). */
typedef struct observer {
        char db[700];
        _Atomic int64_t seen;          /* highest committed seq observed */
        _Atomic int64_t interval_ns;
        _Atomic bool stop;
        int64_t n_target;               /* time when seen first >= n_target */
        _Atomic int64_t t_target;
        int64_t lat_first, lat_n;       /* seqs [lat_first, lat_first + lat_n) */
        int64_t *commit_ns;
        long long polls;
} observer_t;

static void *observer_main(void *arg)
{
        observer_t *ob = arg;
        sqlite3 *db = NULL;
        sqlite3_stmt *q = NULL;
        int64_t prev = 0;

        while (!atomic_load(&ob->stop)) {
                if (!q) {
                        if (!db && sqlite3_open_v2(ob->db, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
                                           SQLITE_OK) {
                                sqlite3_close(db);
                                db = NULL;
                        }
                        if (db) {
                                sqlite3_busy_timeout(db, 50);
                                if (sqlite3_prepare_v2(db, "SELECT last_seq FROM feeds WHERE source = '" SOURCE "'",
                                                       -1, &q, NULL) != SQLITE_OK)
                                        q = NULL;
                        }
                        if (!q) {
                                sleep_ns(10 * 1000000);
                                continue;
                        }
                }
                int64_t v = prev;
                if (sqlite3_step(q) == SQLITE_ROW)
                        v = sqlite3_column_int64(q, 0);
                sqlite3_reset(q);
                int64_t t = now_ns();
                ob->polls++;
                if (v > prev) {
                        if (ob->commit_ns)
                                for (int64_t s = prev + 1; s <= v; s++)
                                        if (s >= ob->lat_first && s < ob->lat_first + ob->lat_n)
                                                ob->commit_ns[s - ob->lat_first] = t;
                        if (prev < ob->n_target && v >= ob->n_target)
                                atomic_store(&ob->t_target, t);
                        prev = v;
                        atomic_store(&ob->seen, v);
                }
                sleep_ns(atomic_load(&ob->interval_ns));
        }
        sqlite3_finalize(q);
        sqlite3_close(db);
        return NULL;
}

typedef struct api {
        void *sock;
        bool inflight;
        int64_t sent_at;
        long long calls;
        int64_t rtt_total, rtt_max;
        int64_t *rtt;           /* every round trip, for percentiles */
        size_t n_rtt, cap_rtt;
} api_t;

static void api_send_stats(api_t *a)
{
        if (zmq_send(a->sock, "{\"op\":\"stats\"}", 14, ZMQ_DONTWAIT) >= 0) {
                a->inflight = true;
                a->sent_at = now_ns();
        }
}

/* Non-blocking (timeout_ms 0) or waiting receive of one API reply. */
static json_t *api_recv(api_t *a, int timeout_ms)
{
        static char buf[1 << 20];
        zmq_pollitem_t it = { a->sock, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, timeout_ms) <= 0)
                return NULL;
        int n = zmq_recv(a->sock, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return NULL;
        int64_t rtt = now_ns() - a->sent_at;
        a->inflight = false;
        a->calls++;
        a->rtt_total += rtt;
        if (rtt > a->rtt_max)
                a->rtt_max = rtt;
        if (a->n_rtt == a->cap_rtt) {
                a->cap_rtt = a->cap_rtt ? 2 * a->cap_rtt : 1024;
                a->rtt = realloc(a->rtt, a->cap_rtt * sizeof(*a->rtt));
        }
        if (a->rtt)
                a->rtt[a->n_rtt++] = rtt;
        return json_loadb(buf, (size_t)(n < (int)sizeof(buf) - 1 ? n : (int)sizeof(buf) - 1), 0, NULL);
}

static json_t *api_stats_wait(api_t *a, int timeout_ms)
{
        while (a->inflight) {   /* drop a reply still on its way */
                json_t *old = api_recv(a, timeout_ms);
                if (!old)
                        return NULL;
                json_decref(old);
        }
        api_send_stats(a);
        return api_recv(a, timeout_ms);
}

static long long jget(json_t *r, const char *group, const char *key)
{
        json_t *g = group ? json_object_get(r, group) : r;
        return (long long)json_integer_value(json_object_get(g, key));
}

static long long processed_of(json_t *r)
{
        return jget(r, "events", "applied") + jget(r, "events", "ignored") + jget(r, "events", "dead_letters");
}

static pid_t spawn(const char *dir, const char *logname, char *const argv[])
{
        char log[700];
        pid_t pid = fork();
        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                snprintf(log, sizeof(log), "%s/%s", dir, logname);
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                if (chdir(dir) != 0)
                        _exit(126);
                execvp(argv[0], argv);
                _exit(127);
        }
        track_child(pid);
        return pid;
}

static void print_tail(const char *path)
{
        char cmd[800];
        snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", path);
        if (system(cmd) != 0)
                fprintf(stderr, "(no %s)\n", path);
}

/* perf record attached to the daemon. BENCH_PERF_ARGS replaces the sampling options
 * (default "-F 999 -g"), e.g. "-F 299 --call-graph dwarf,16384" for libraries without frame pointers. */
static pid_t start_perf(const opts_t *o, const char *dir, pid_t daemon)
{
        char pidarg[32], extra[512], *pargv[32];
        int pn = 0;
        pid_t perf;

        snprintf(pidarg, sizeof(pidarg), "%d", (int)daemon);
        snprintf(extra, sizeof(extra), "%s", getenv("BENCH_PERF_ARGS") ? getenv("BENCH_PERF_ARGS") : "-F 999 -g");
        pargv[pn++] = "perf";
        pargv[pn++] = "record";
        for (char *sv, *tok = strtok_r(extra, " ", &sv); tok && pn < 24; tok = strtok_r(NULL, " ", &sv))
                pargv[pn++] = tok;
        pargv[pn++] = "-p";
        pargv[pn++] = pidarg;
        pargv[pn++] = "-o";
        pargv[pn++] = (char *)o->perf;
        pargv[pn] = NULL;
        perf = spawn(dir, "perf.log", pargv);
        sleep_ns(1000000000LL);   /* let perf attach */
        return perf;
}

/* The p-th percentile (0..1) of the round trips from sample `from` on, in ms; -1 when none. */
static double rtt_pct(const api_t *a, size_t from, double p)
{
        size_t n = a->n_rtt > from ? a->n_rtt - from : 0;
        int64_t *v;
        double r;

        if (!n || !(v = malloc(n * sizeof(*v))))
                return -1;
        memcpy(v, a->rtt + from, n * sizeof(*v));
        qsort(v, n, sizeof(*v), cmp_i64);
        r = (double)v[(size_t)((double)(n - 1) * p)] / 1e6;
        free(v);
        return r;
}

/* --purge-cases: an admin purging the seeded cases one at a time, at a fixed rate, on its own
 * API connection while the load runs. */
typedef struct purger {
        api_t api;
        int next, total;
        int64_t next_at, period;
        long long ok, failed;
} purger_t;

static void purger_turn(purger_t *p)
{
        char req[96];
        json_t *r;

        if (p->api.inflight && (r = api_recv(&p->api, 0))) {
                if (json_is_true(json_object_get(r, "ok")))
                        p->ok++;
                else
                        p->failed++;
                json_decref(r);
        }
        if (p->api.inflight || p->next > p->total || now_ns() < p->next_at)
                return;
        int n = snprintf(req, sizeof(req), "{\"op\":\"purge\",\"case\":\"PG-%05d\"}", p->next);
        if (zmq_send(p->api.sock, req, (size_t)n, ZMQ_DONTWAIT) >= 0) {
                p->api.inflight = true;
                p->api.sent_at = now_ns();
                p->next++;
                p->next_at += p->period;
        }
}

/* The seeds go in before the timed load, which starts once they are applied. */
static void seed_load(feed_t *f, api_t *api, int64_t seeds)
{
        char buf[EV_BUF];
        int64_t end = now_ns() + 60000000000LL;
        long long done = 0;

        for (int64_t s = 1; s <= seeds; s++)
                feed_send(f, s, buf, sizeof(buf));
        while (done < seeds && now_ns() < end) {
                feed_service(f);
                json_t *r = api_stats_wait(api, 1000);
                done = r ? processed_of(r) : done;
                json_decref(r);
                if (done < seeds)
                        sleep_ns(20000000);
        }
        if (done < seeds)
                die("the daemon applied %lld of %lld seed events", done, (long long)seeds);
}

static int cmd_ingest(const opts_t *o)
{
        char dir[600], conf[700], db[700], wal[720], shm[720], text[4096], exe[700], logp[700];
        char api_ep[64], pub_ep[64], buf[EV_BUF];
        const char *sync = o->sync_full ? "full" : "normal";
        feed_t f;
        api_t api = { 0 };
        observer_t ob;
        pthread_t obt;
        pid_t daemon = 0, perf = 0;
        json_t *r;

        if (!o->sync_set || !o->bin[0])
                die("ingest: --bin DIR and --sync full|normal are required");
        snprintf(exe, sizeof(exe), "%s/bevakad", o->bin);
        if (access(exe, X_OK) != 0)
                die("no executable %s", exe);
        snprintf(dir, sizeof(dir), "%s/bevaka-bench-run-XXXXXX", o->dir);
        if (!mkdtemp(dir))
                die("mkdtemp %s: %s", dir, strerror(errno));
        snprintf(conf, sizeof(conf), "%s/bevakad.conf", dir);
        snprintf(db, sizeof(db), "%s/bevaka.db", dir);
        snprintf(wal, sizeof(wal), "%s-wal", db);
        snprintf(shm, sizeof(shm), "%s-shm", db);
        snprintf(logp, sizeof(logp), "%s/bevakad.log", dir);

        feed_open(&f, o->cases);
        f.seeds = 3 * (int64_t)o->purge_cases;
        /* T: the last seq of the timed load (seeds, if any, come first) */
        const int64_t S = f.seeds, T = S + o->events;
        purger_t pg = { .total = o->purge_cases, .next = 1,
                        .period = (int64_t)(1e9 / (o->purge_rate > 0 ? o->purge_rate : 100)) };
        void *actx = zmq_ctx_new();

        /* The daemon binds publish and api: ports picked free just before; retried if taken meanwhile. */
        for (int attempt = 0; attempt < 3 && !daemon; attempt++) {
                snprintf(api_ep, sizeof(api_ep), "tcp://127.0.0.1:%d", free_port());
                snprintf(pub_ep, sizeof(pub_ep), "tcp://127.0.0.1:%d", free_port());
                snprintf(text, sizeof(text),
                         "store: { path = \"%s\"; synchronous = \"%s\"; batch = %d; };\n"
                         "feed: { endpoint = \"%s\"; replay_endpoint = \"%s\"; };\n"
                         "publish: { endpoint = \"%s\"; };\n"
                         "api: { endpoint = \"%s\"; };\n"
                         "clock: { mode = \"manual\"; start = \"2026-01-05T07:00:00+01:00\"; };\n"
                         "security: { curve = false; };\n",
                         db, sync, o->batch, f.pub_ep, f.rep_ep, pub_ep, api_ep);
                FILE *cf = fopen(conf, "w");
                if (!cf)
                        die("%s: %s", conf, strerror(errno));
                fputs(text, cf);
                fclose(cf);
                char *argv[] = { exe, "--config", conf, NULL };
                daemon = spawn(dir, "bevakad.log", argv);
                /* Up when the API answers; gone if it could not bind. */
                if (api.sock)
                        zmq_close(api.sock);
                api.sock = zmq_socket(actx, ZMQ_DEALER);
                set_i(api.sock, ZMQ_LINGER, 0);
                zmq_connect(api.sock, api_ep);
                int64_t end = now_ns() + 10000000000LL;
                json_t *hello = NULL;
                while (!hello && now_ns() < end && waitpid(daemon, NULL, WNOHANG) == 0) {
                        if (!api.inflight) {
                                zmq_send(api.sock, "{\"op\":\"hello\"}", 14, ZMQ_DONTWAIT);
                                api.inflight = true;
                                api.sent_at = now_ns();
                        }
                        hello = api_recv(&api, 100);
                }
                if (!hello) {
                        fprintf(stderr, "bevaka-bench: daemon did not come up (attempt %d):\n", attempt + 1);
                        print_tail(logp);
                        stop_child(&daemon, SIGKILL, 1000);
                        api.inflight = false;
                }
                json_decref(hello);
        }
        if (!daemon)
                die("could not start bevakad");
        api.calls = 0;
        api.rtt_total = api.rtt_max = 0;

        /* Wait for the daemon's subscription (as bevaka-feed --wait-subscribers 1). */
        int64_t end = now_ns() + 10000000000LL;
        while (f.subscribers < 1 && now_ns() < end) {
                feed_service(&f);
                sleep_ns(1000000);
        }
        if (f.subscribers < 1)
                die("the daemon never subscribed to %s", f.pub_ep);

        /* --perf FILE profiles the load phase, or the latency phase with BENCH_PERF_PHASE=latency. */
        bool perf_latency = getenv("BENCH_PERF_PHASE") && strcmp(getenv("BENCH_PERF_PHASE"), "latency") == 0;
        if (o->perf[0] && !perf_latency)
                perf = start_perf(o, dir, daemon);

        /* Observer: 2 ms interval while bulk-loading (cheap), 0.25 ms in the latency phase. */
        int64_t lat_n = (int64_t)(o->lat_rate * o->lat_seconds + 0.5);
        memset(&ob, 0, sizeof(ob));
        snprintf(ob.db, sizeof(ob.db), "%s", db);
        atomic_store(&ob.interval_ns, 2000000);
        ob.n_target = T;
        ob.lat_first = T + 1;
        ob.lat_n = lat_n;
        ob.commit_ns = lat_n > 0 ? calloc((size_t)lat_n, sizeof(int64_t)) : NULL;
        if (pthread_create(&obt, NULL, observer_main, &ob) != 0)
                die("pthread_create");
        while (atomic_load(&ob.seen) == 0 && ob.polls == 0)
                sleep_ns(1000000);
        if (S > 0) {
                seed_load(&f, &api, S);
                pg.api.sock = zmq_socket(actx, ZMQ_DEALER);
                set_i(pg.api.sock, ZMQ_LINGER, 0);
                zmq_connect(pg.api.sock, api_ep);
                api.calls = 0;
                api.rtt_total = api.rtt_max = 0;
                api.n_rtt = 0;
        }

        /* ---- phase 1: throughput ---- */
        double d_cpu0 = proc_cpu_s(daemon), s_cpu0 = self_cpu_s(), m_cpu0 = machine_busy_s();
        long long d_wr0 = proc_wchar(daemon);
        int64_t poll_ns = (int64_t)o->poll_ms * 1000000, next_poll;
        int64_t t0 = now_ns(), t_pub_done = 0, t_done = 0;
        long long last_processed = 0;
        next_poll = t0 + poll_ns;
        int64_t deadline = t0 + (int64_t)o->timeout_s * 1000000000LL;
        int64_t seq = S + 1;
        int64_t next_alive = t0;
        pg.next_at = t0;
        while (!t_done && now_ns() < deadline) {
                if (now_ns() >= next_alive) {   /* a daemon that died is reported at once */
                        int wst;
                        if (waitpid(daemon, &wst, WNOHANG) == daemon) {
                                untrack_child(daemon);
                                daemon = 0;
                                fprintf(stderr, "bevaka-bench: bevakad died during the load (%s %d) after %.1f s:\n",
                                        WIFSIGNALED(wst) ? "signal" : "exit status",
                                        WIFSIGNALED(wst) ? WTERMSIG(wst) : WEXITSTATUS(wst),
                                        (double)(now_ns() - t0) / 1e9);
                                print_tail(logp);
                                atomic_store(&ob.stop, true);
                                pthread_join(obt, NULL);
                                die("ingest did not finish (store kept in %s)", dir);
                        }
                        next_alive = now_ns() + 500000000LL;
                }
                if (seq <= T) {
                        int64_t stop = seq + 1000;
                        for (; seq < stop && seq <= T; seq++)
                                feed_send(&f, seq, buf, sizeof(buf));
                        if (seq > T)
                                t_pub_done = now_ns();
                }
                feed_service(&f);
                if (S > 0)
                        purger_turn(&pg);
                if (!api.inflight && now_ns() >= next_poll) {
                        api_send_stats(&api);
                        next_poll += poll_ns;
                        if (next_poll < now_ns())
                                next_poll = now_ns() + poll_ns;
                }
                if (api.inflight) {
                        int wait = 0;
                        if (seq > T) {   /* published: sleep in the poll until the reply or the heartbeat */
                                int64_t w = f.hb_next - now_ns();
                                if (S > 0 && pg.next <= pg.total && pg.next_at - now_ns() < w)
                                        w = pg.next_at - now_ns();
                                w /= 1000000;
                                wait = (int)(w < 1 ? 1 : w > 50 ? 50 : w);
                        }
                        if (S > 0 && wait > 0) {   /* a purge reply wakes us too */
                                zmq_pollitem_t it[2] = { { api.sock, 0, ZMQ_POLLIN, 0 },
                                                         { pg.api.sock, 0, ZMQ_POLLIN, 0 } };
                                zmq_poll(it, 2, wait);
                                wait = 0;
                        }
                        r = api_recv(&api, wait);
                        if (r) {
                                last_processed = processed_of(r);
                                if (last_processed >= T)
                                        t_done = now_ns();
                                json_decref(r);
                        }
                } else if (seq > T) {
                        int64_t w = next_poll - now_ns();
                        if (S > 0 && !pg.api.inflight && pg.next <= pg.total && pg.next_at - now_ns() < w)
                                w = pg.next_at - now_ns();
                        w = w < 0 ? 0 : w > 20000000 ? 20000000 : w;
                        if (S > 0 && pg.api.inflight) {   /* the purge's reply wakes us */
                                zmq_pollitem_t it = { pg.api.sock, 0, ZMQ_POLLIN, 0 };
                                zmq_poll(&it, 1, (long)(w / 1000000) + 1);
                        } else if (w > 0) {
                                sleep_ns(w);
                        }
                }
        }
        double d_cpu1 = proc_cpu_s(daemon), s_cpu1 = self_cpu_s(), m_cpu1 = machine_busy_s();
        long long d_wr1 = proc_wchar(daemon);
        long stats_calls = (long)api.calls;
        double stats_rtt_ms = api.calls ? (double)api.rtt_total / (double)api.calls / 1e6 : 0;
        if (perf > 0)
                stop_child(&perf, SIGINT, 30000);
        if (!t_done) {
                fprintf(stderr, "bevaka-bench: timeout after %d s: %lld of %lld events processed (store kept in %s)\n",
                        o->timeout_s, last_processed, o->events, dir);
                print_tail(logp);
                atomic_store(&ob.stop, true);
                pthread_join(obt, NULL);
                stop_child(&daemon, SIGTERM, 15000);
                die("ingest did not finish");
        }
        /* The observer polls every 2 ms: give it a moment to see the last commit too. */
        for (int64_t w = now_ns() + 1000000000LL; !atomic_load(&ob.t_target) && now_ns() < w;)
                sleep_ns(1000000);
        int64_t t_obs = atomic_load(&ob.t_target);
        double secs = (double)(t_done - t0) / 1e9, pub_secs = (double)(t_pub_done - t0) / 1e9;
        double obs_secs = t_obs ? (double)(t_obs - t0) / 1e9 : 0;
        r = api_stats_wait(&api, 30000);
        if (!r)
                die("no stats reply");
        long long applied = jget(r, "events", "applied");
        printf("daemon (synchronous=%s, batch %d) ingest of %lld events over %d cases, incl. the rules engine:\n", sync,
               o->batch, o->events, o->cases);
        printf("  published in %.3f s (publisher alone: %.0f events/s)\n", pub_secs, (double)o->events / pub_secs);
        printf("  all applied+committed after %.3f s (stats poll every %d ms): %.0f events/s\n", secs, o->poll_ms,
               (double)o->events / secs);
        printf("  cross-check: read-only observer saw seq %lld committed after %.3f s: %.0f events/s\n", o->events,
               obs_secs, obs_secs > 0 ? (double)o->events / obs_secs : 0);
        /* Approximate: tick-based accounting; clamped at 0. */
        double others = (m_cpu1 - m_cpu0) - (d_cpu1 - d_cpu0) - (s_cpu1 - s_cpu0);
        if (others < 0)
                others = 0;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        printf("  daemon CPU %.2f s in %.2f s wall (%.0f%% of one core); bench process CPU %.2f s; everything else "
               "on the machine %.2f s (%.0f%% of its %ld CPUs: noise)\n",
               d_cpu1 - d_cpu0, secs, 100 * (d_cpu1 - d_cpu0) / secs, s_cpu1 - s_cpu0, others,
               100 * others / secs / (double)ncpu, ncpu);
        if (d_wr0 >= 0 && d_wr1 >= d_wr0) {
                printf("  daemon wrote %.1f MB (WAL and checkpoints): %.1f KB per event\n", (double)(d_wr1 - d_wr0) / 1e6,
                       (double)(d_wr1 - d_wr0) / 1024.0 / (double)o->events);
                printf("RESULT written_kb_per_event %.2f\n", (double)(d_wr1 - d_wr0) / 1024.0 / (double)o->events);
        }
        printf("  stats: applied %lld, ignored %lld, dead letters %lld, duplicates %lld, gaps %lld, replays %lld "
               "(served %lld replays, %lld events)\n",
               applied, jget(r, "events", "ignored"), jget(r, "events", "dead_letters"),
               jget(r, "events", "duplicates"), jget(r, NULL, "gaps"), jget(r, NULL, "replays"), f.replays_served,
               f.replay_events);
        printf("  reminders: scheduled %lld, delivered %lld, resolved %lld, cancelled %lld; rseq %lld\n",
               jget(r, "reminders", "scheduled"), jget(r, "reminders", "delivered"), jget(r, "reminders", "resolved"),
               jget(r, "reminders", "cancelled"), jget(r, NULL, "rseq"));
        printf("  %ld stats calls during the load, round trip mean %.1f ms, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
               stats_calls, stats_rtt_ms, rtt_pct(&api, 0, 0.5), rtt_pct(&api, 0, 0.99), (double)api.rtt_max / 1e6);
        printf("RESULT stats_rtt_p99_ms %.2f\n", rtt_pct(&api, 0, 0.99));
        if (S > 0) {
                printf("  purges during the load (admin op, %.0f/s, seeded cases of 3 events each): %lld ok, %lld "
                       "failed of %d; round trip p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", o->purge_rate, pg.ok,
                       pg.failed, o->purge_cases, rtt_pct(&pg.api, 0, 0.5), rtt_pct(&pg.api, 0, 0.99),
                       (double)pg.api.rtt_max / 1e6);
                printf("RESULT purges_ok %lld\nRESULT purge_rtt_p99_ms %.2f\n", pg.ok, rtt_pct(&pg.api, 0, 0.99));
        }
        printf("RESULT ingest_rate %.0f\nRESULT ingest_seconds %.3f\nRESULT ingest_rate_observer %.0f\n",
               (double)o->events / secs, secs, obs_secs > 0 ? (double)o->events / obs_secs : 0);
        printf("RESULT publish_rate %.0f\nRESULT daemon_cpu_share %.2f\nRESULT applied %lld\nRESULT ignored %lld\n",
               (double)o->events / pub_secs, (d_cpu1 - d_cpu0) / secs, applied, jget(r, "events", "ignored"));
        printf("RESULT others_cpu_share %.2f\n", others / secs / (double)ncpu);
        printf("RESULT dead_letters %lld\nRESULT gaps %lld\nRESULT stats_rtt_ms %.2f\n",
               jget(r, "events", "dead_letters"), jget(r, NULL, "gaps"), stats_rtt_ms);
        json_decref(r);
        fflush(stdout);

        /* ---- phase 2: publish-to-commit latency at a paced rate ---- */
        if (lat_n > 0) {
                int64_t *send_ns = calloc((size_t)lat_n, sizeof(int64_t));
                int64_t period = (int64_t)(1e9 / o->lat_rate);
                /* Let the bulk load settle (its last checkpoint), then go. */
                int64_t settle = now_ns() + 2000000000LL;
                while (now_ns() < settle) {
                        feed_service(&f);
                        sleep_ns(10000000);
                }
                atomic_store(&ob.interval_ns, 250000);
                if (o->perf[0] && perf_latency)
                        perf = start_perf(o, dir, daemon);
                double d_cpu2 = proc_cpu_s(daemon), s_cpu2 = self_cpu_s(), m_cpu2 = machine_busy_s();
                int64_t start = now_ns() + 10000000;
                for (int64_t k = 0; k < lat_n; k++) {
                        sleep_until_ns(start + k * period);
                        send_ns[k] = now_ns();
                        feed_send(&f, T + 1 + k, buf, sizeof(buf));
                        feed_service(&f);
                }
                int64_t t_last = now_ns(), wait_end = t_last + 10000000000LL;
                while (atomic_load(&ob.seen) < T + lat_n && now_ns() < wait_end) {
                        feed_service(&f);
                        sleep_ns(1000000);
                }
                double lat_wall = (double)(now_ns() - start) / 1e9, d_cpu3 = proc_cpu_s(daemon);
                double s_cpu3 = self_cpu_s(), m_cpu3 = machine_busy_s();
                double lat_others = (m_cpu3 - m_cpu2) - (d_cpu3 - d_cpu2) - (s_cpu3 - s_cpu2);
                if (lat_others < 0)
                        lat_others = 0;
                if (perf > 0)
                        stop_child(&perf, SIGINT, 30000);
                int64_t *lat = malloc(sizeof(int64_t) * (size_t)lat_n);
                int64_t m = 0, missing = 0;
                for (int64_t k = 0; k < lat_n; k++) {
                        if (ob.commit_ns[k])
                                lat[m++] = ob.commit_ns[k] - send_ns[k];
                        else
                                missing++;
                }
                if (o->lat_dump[0]) {
                        FILE *df = fopen(o->lat_dump, "w");
                        for (int64_t k = 0; df && k < lat_n; k++)
                                fprintf(df, "%.4f %.3f\n", (double)(send_ns[k] - start) / 1e9,
                                        ob.commit_ns[k] ? (double)(ob.commit_ns[k] - send_ns[k]) / 1e6 : -1.0);
                        if (df)
                                fclose(df);
                }
                qsort(lat, (size_t)m, sizeof(int64_t), cmp_i64);
#define PCT(p) (m ? (double)lat[(int64_t)((double)(m - 1) * (p))] / 1e6 : -1.0)
                double sum = 0;
                for (int64_t k = 0; k < m; k++)
                        sum += (double)lat[k];
                int64_t late = 0;   /* how far pacing slipped: send time vs. schedule */
                for (int64_t k = 0; k < lat_n; k++)
                        if (send_ns[k] - (start + k * period) > late)
                                late = send_ns[k] - (start + k * period);
                printf("latency at %.0f events/s for %.1f s (%lld events, seqs %lld..%lld), publish -> visible commit:\n",
                       o->lat_rate, o->lat_seconds, (long long)lat_n, (long long)T + 1, (long long)(T + lat_n));
                printf("  p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms, mean %.2f ms%s\n",
                       PCT(0.50), PCT(0.90), PCT(0.99), PCT(0.999), m ? (double)lat[m - 1] / 1e6 : -1.0,
                       m ? sum / (double)m / 1e6 : -1.0, missing ? " (SOME NEVER COMMITTED)" : "");
                printf("  observer poll 0.25 ms (+ sleep slack); pacing slipped at most %.2f ms; daemon CPU %.0f%% "
                       "of one core; everything else %.0f%% of the machine\n", (double)late / 1e6,
                       100 * (d_cpu3 - d_cpu2) / lat_wall,
                       100 * lat_others / lat_wall / (double)sysconf(_SC_NPROCESSORS_ONLN));
                printf("RESULT lat_others_cpu_share %.2f\n", lat_others / lat_wall / (double)sysconf(_SC_NPROCESSORS_ONLN));
                printf("RESULT lat_daemon_cpu_share %.2f\n", (d_cpu3 - d_cpu2) / lat_wall);
                printf("RESULT lat_p50_ms %.3f\nRESULT lat_p90_ms %.3f\nRESULT lat_p99_ms %.3f\n", PCT(0.50),
                       PCT(0.90), PCT(0.99));
                printf("RESULT lat_p999_ms %.3f\nRESULT lat_max_ms %.3f\nRESULT lat_missing %lld\n", PCT(0.999),
                       m ? (double)lat[m - 1] / 1e6 : -1.0, (long long)missing);
#undef PCT
                free(lat);
                free(send_ns);
        }

        /* ---- resources ---- */
        long hwm = proc_status_kb(daemon, "VmHWM"), rss = proc_status_kb(daemon, "VmRSS");
        r = api_stats_wait(&api, 30000);
        long long total = r ? jget(r, "events", "applied") : -1;
        json_decref(r);
        long long live_db = file_size(db), live_wal = file_size(wal);
        atomic_store(&ob.stop, true);
        pthread_join(obt, NULL);
        int st = stop_child(&daemon, SIGTERM, 30000);
        /* The daemon's close checkpoints; make sure, then measure. */
        sqlite3 *sdb;
        long long size_db = 0, size_wal = 0;
        if (sqlite3_open_v2(db, &sdb, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
                sqlite3_exec(sdb, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
                size_db = file_size(db);
                size_wal = file_size(wal);
                printf("  tables and indexes (dbstat):");
                sqlite3_stmt *q;
                if (sqlite3_prepare_v2(sdb, "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC",
                                       -1, &q, NULL) == SQLITE_OK) {
                        while (sqlite3_step(q) == SQLITE_ROW)
                                printf(" %s %.1f MB;", sqlite3_column_text(q, 0),
                                       (double)sqlite3_column_int64(q, 1) / 1e6);
                        sqlite3_finalize(q);
                        printf("\n");
                } else {
                        printf(" (dbstat not available)\n");
                }
                sqlite3_close(sdb);
        }
        char how[48];
        if (st >= 0 && WIFEXITED(st))
                snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(st));
        else if (st >= 0 && WIFSIGNALED(st))
                snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(st));
        else
                snprintf(how, sizeof(how), "did not exit");
        printf("resources: daemon peak RSS (VmHWM) %.1f MB, RSS at end %.1f MB; on SIGTERM: %s\n", (double)hwm / 1024,
               (double)rss / 1024, how);
        printf("  store: %.1f MB db + %.1f MB WAL while running; after checkpoint %.1f MB db + %.1f MB WAL for %lld "
               "events = %.0f bytes/event (incl. cases, reminders, outbox, indexes)\n",
               (double)live_db / 1e6, (double)live_wal / 1e6, (double)size_db / 1e6, (double)size_wal / 1e6, total,
               total > 0 ? (double)(size_db + size_wal) / (double)total : 0);
        printf("RESULT peak_rss_kb %ld\nRESULT db_bytes_per_event %.0f\nRESULT db_bytes %lld\nRESULT total_events %lld\n",
               hwm, total > 0 ? (double)(size_db + size_wal) / (double)total : 0, size_db + size_wal, total);
        if (api.sock)
                zmq_close(api.sock);
        if (pg.api.sock)
                zmq_close(pg.api.sock);
        free(api.rtt);
        free(pg.api.rtt);
        zmq_ctx_term(actx);
        feed_close(&f);
        free(ob.commit_ns);
        if (o->keep || o->perf[0]) {
                printf("  kept %s\n", dir);
        } else {
                char cmd[700];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", dir);
        }
        return 0;
}

int main(int argc, char **argv)
{
        opts_t o;
        if (argc < 2) {
                fprintf(stderr, "usage: bevaka-bench gen|zmq|sqlite|ingest [options]\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        parse_opts(argc - 1, argv + 1, &o);
        if (strcmp(argv[1], "gen") == 0)
                return cmd_gen(&o);
        if (strcmp(argv[1], "zmq") == 0)
                return cmd_zmq(&o);
        if (strcmp(argv[1], "sqlite") == 0)
                return cmd_sqlite(&o);
        if (strcmp(argv[1], "ingest") == 0)
                return cmd_ingest(&o);
        fprintf(stderr, "usage: bevaka-bench gen|zmq|sqlite|ingest [options]\n");
        return 2;
}
