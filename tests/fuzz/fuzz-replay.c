/*
 * fuzz-replay.c drives ingest.c's sequencer with arbitrary feed traffic: live
 * events, replay replies (events, bad frames, unreadable bytes), heartbeats
 * and replay ends with or without watermarks, and the passing of time. The
 * input is split at 0xff bytes; each piece's first byte says what it is (kind,
 * feed, replay socket, milliseconds to let pass), the rest is its body.
 * Invariants: a position only ever moves to last + 1 of its own source; a
 * verdict's bytes are the message's; replay requests are bounded (they back
 * off); event time never passes the clock; and no traffic wedges a source:
 * afterwards, a clean reply from the position it asks for is applied.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "../demo-config.h"
#include "ingest.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { \
                fprintf(stderr, "fuzz-replay: invariant broken: %s\n", #cond); abort(); } } while (0)

#define SRC "paraply-fz"
#define MAX_TRACKED 8

static config_t cfg;
static bk_clock_t clk;

struct pos { char name[EV_SOURCE_MAX + 1]; int64_t last; };

static int64_t *tracked(struct pos *p, int *n, const char *name)
{
        for (int i = 0; i < *n; i++)
                if (strcmp(p[i].name, name) == 0)
                        return &p[i].last;
        if (*n == MAX_TRACKED)
                return NULL;
        bk_strlcpy(p[*n].name, name, sizeof(p[*n].name));
        p[*n].last = 0;
        return &p[(*n)++].last;
}

static void judge(ingest_t *in, bus_msg_t *m, int64_t mono, struct pos *p, int *np)
{
        ingest_verdict_t v;

        ingest_handle(in, m, mono, &v);
        REQUIRE(v.outcome >= INGEST_NONE && v.outcome <= INGEST_DEAD_LETTER);
        if (v.outcome == INGEST_DEAD_LETTER && v.raw)
                REQUIRE(v.raw == m->body && v.len == m->len);
        if (v.advance) {
                int64_t *last = tracked(p, np, v.source);
                REQUIRE(v.outcome == INGEST_APPLY || v.outcome == INGEST_DEAD_LETTER);
                if (last) {
                        REQUIRE(v.seq == *last + 1);     /* no position is skipped or taken twice */
                        *last = v.seq;
                }
        }
}

static char *event_body(int64_t seq)
{
        static char b[512];

        snprintf(b, sizeof(b), "{\"v\":1,\"id\":\"fz-%lld\",\"source\":\"" SRC "\",\"seq\":%lld,\"type\":"
                 "\"ib1.completed\",\"at\":\"2025-11-04T09:00:00+01:00\",\"case\":\"EB-1\",\"unit\":\"HV-EB-1\","
                 "\"data\":{}}", (long long)seq, (long long)seq);
        return b;
}

/* Counts the replay requests queued, and the from_seq of the last one for SRC (0: none). */
static int take_requests(ingest_t *in, int64_t *from)
{
        int n, replays = 0;
        const ingest_request_t *q = ingest_requests(in, &n);

        for (int i = 0; i < n; i++)
                if (q[i].kind == INGEST_REPLAY) {
                        replays++;
                        REQUIRE(q[i].from_seq >= 1 && q[i].max >= 1);
                        if (strcmp(q[i].source, SRC) == 0)
                                *from = q[i].from_seq;
                }
        ingest_requests_clear(in);
        return replays;
}

/* After the traffic: time passes until SRC is asked for; a clean reply from there applies. */
static void check_not_wedged(ingest_t *in, int64_t *mono, struct pos *p, int *np)
{
        int64_t from = 0;
        int64_t *last = tracked(p, np, SRC);
        bus_msg_t m = { .kind = BUS_HEARTBEAT, .feed = 0 };
        char hb[128];

        if (!last)
                return;
        snprintf(hb, sizeof(hb), "{\"op\":\"heartbeat\",\"source\":\"" SRC "\",\"last_seq\":%lld}",
                 (long long)*last + 3);
        bk_strlcpy(m.type, "feed.heartbeat", sizeof(m.type));
        m.body = hb;
        m.len = strlen(hb);
        for (int k = 0; k < 200 && !from; k++) {
                judge(in, &m, *mono, p, np);
                take_requests(in, &from);
                *mono += 1000;
                ingest_tick(in, *mono);
                take_requests(in, &from);
        }
        REQUIRE(from == *last + 1);
        for (int64_t s = from; s < from + 3; s++) {
                bus_msg_t e = { .kind = BUS_EVENT, .feed = 0, .replay = true };
                ingest_verdict_t v;
                bk_strlcpy(e.type, "ib1.completed", sizeof(e.type));
                e.body = event_body(s);
                e.len = strlen(e.body);
                ingest_handle(in, &e, *mono, &v);
                REQUIRE(v.outcome == INGEST_APPLY && v.advance && v.seq == s);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static bool init;
        ingest_t *in = NULL;
        struct pos p[MAX_TRACKED];
        int np = 0, requests = 0;
        int64_t mono = 1000000, from = 0;
        char err[256];

        if (!init) {
                log_init("fuzz-replay", LOG_CRIT, false);
                if (demo_config_load(&cfg, err, sizeof(err)) != 0)
                        abort();
                cfg.feeds[1] = cfg.feeds[0];
                cfg.n_feeds = 2;
                clock_init(&clk, true, 1762243200);
                init = true;
        }
        if (ingest_new(&cfg, &clk, mono, &in) != 0)
                return 0;
        REQUIRE(ingest_set_position(in, SRC, 0) == 0);
        ingest_resume(in, mono, size > 0 && data[0] & 1);
        for (size_t off = 0; off < size;) {
                const uint8_t *end = memchr(data + off, 0xff, size - off);
                size_t len = (end ? (size_t)(end - (data + off)) : size - off);
                if (len > 0) {
                        uint8_t h = data[off];
                        bus_msg_t m = { .feed = h & 1, .replay = (h >> 1) & 1 };
                        static const bus_kind_t kinds[] = { BUS_EVENT, BUS_EVENT, BUS_HEARTBEAT, BUS_REPLAY_END,
                                                            BUS_BAD, BUS_EVENT, BUS_EVENT, BUS_EVENT };
                        char *body = malloc(len);            /* exact size: ASan sees a read past it */
                        if (!body)
                                break;
                        memcpy(body, data + off + 1, len - 1);
                        m.kind = kinds[(h >> 2) & 7];
                        m.body = body;
                        m.len = len - 1;
                        m.reason = m.kind == BUS_BAD ? "frames: fuzz" : NULL;
                        bk_strlcpy(m.type, m.kind == BUS_HEARTBEAT ? "feed.heartbeat" : "ib1.completed", sizeof(m.type));
                        judge(in, &m, mono, p, &np);
                        free(body);
                        requests += take_requests(in, &from);
                        mono += (h >> 5) * 40;       /* up to 280 ms per message */
                        ingest_tick(in, mono);
                        requests += take_requests(in, &from);
                        bk_time_t t = ingest_time_limit(in, clock_now(&clk), clock_now(&clk));
                        REQUIRE(t == INT64_MIN || t <= clock_now(&clk));
                }
                off += len + 1;
        }
        /* backed off: per message at most a few requests (two feeds), plus one per 250 ms of time */
        REQUIRE(requests <= 4 * (int)(size + 1) + (int)((mono - 1000000) / 250) * 2 + 8);
        check_not_wedged(in, &mono, p, &np);
        ingest_free(&in);
        return 0;
}
