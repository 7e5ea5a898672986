/*
 * test-ingest.c owns the unit tests of ingest.c as a sequencer, without a
 * socket or a second process: an ingest over an in-memory store, an engine
 * and a manual clock, with two feeds, is handed feed messages and the
 * monotonic time the test chooses. It checks each verdict (applied,
 * duplicate, gap, dead letter with its reason and position) and the bus
 * requests ingest queues: a replay from the next seq on a gap, on a
 * heartbeat ahead of us and on a replay that ended short, none while one is
 * pending, again after a replay times out, a reconnect and replays when a
 * feed falls silent, and replays from the stored positions on resume.
 */
#include <stdio.h>
#include "ingest.h"
#include "log.h"
#include "tap.h"

#define SRC "paraply-hv"

typedef struct fx {
        config_t cfg;
        bk_clock_t clock;
        store_t *store;
        engine_t *engine;
        ingest_t *in;
        int64_t mono;           /* the monotonic time handed to ingest, in ms */
} fx_t;

static void publish_nothing(void *ud, const char *topic, const char *payload)
{
        (void)ud;
        (void)topic;
        (void)payload;
}

static bool fx_init(fx_t *f)
{
        char err[256];
        bk_time_t t = 0;

        memset(f, 0, sizeof(*f));
        CHECK_INT(config_load(NULL, "/tmp", &f->cfg, err, sizeof(err)), 0);
        /* two feeds: a source whose feed is unknown is asked for on both */
        f->cfg.feeds[1] = f->cfg.feeds[0];
        f->cfg.n_feeds = 2;
        f->cfg.feed_silence_s = 5;
        CHECK_INT(cal_parse_rfc3339("2025-11-04T10:00:00+01:00", &t), 0);
        clock_init(&f->clock, true, t);
        f->mono = 1000000;
        CHECK_INT(store_open(":memory:", true, &f->store), 0);
        if (f->store)
                CHECK_INT(engine_new(&f->cfg, f->store, &f->clock, &f->engine), 0);
        if (f->engine)
                CHECK_INT(ingest_new(&f->cfg, f->store, f->engine, &f->clock, f->mono, &f->in), 0);
        return f->in != NULL;
}

static void fx_free(fx_t *f)
{
        ingest_free(&f->in);
        engine_free(&f->engine);
        store_close(&f->store);
}

/* One message at f->mono, in its own committed batch. */
static ingest_verdict_t fx_msg(fx_t *f, bus_kind_t kind, int feed, bool replay, const char *type, const char *body)
{
        bus_msg_t m = { .kind = kind, .feed = feed, .replay = replay, .body = body, .len = strlen(body),
                        .reason = kind == BUS_BAD ? "frames: expected 2, got 3" : NULL };
        ingest_verdict_t v;
        int r;

        bk_strlcpy(m.type, type, sizeof(m.type));
        CHECK_INT(engine_begin(f->engine, clock_now(&f->clock)), 0);
        r = ingest_handle(f->in, &m, f->mono, &v);
        CHECK_INT(r, 0);
        CHECK_INT(engine_commit(f->engine, r, publish_nothing, NULL), 0);
        return v;
}

static ingest_verdict_t fx_event(fx_t *f, int feed, bool replay, int64_t seq)
{
        char raw[512];

        snprintf(raw, sizeof(raw),
                 "{\"v\":1,\"id\":\"e-%lld\",\"source\":\"" SRC "\",\"seq\":%lld,\"type\":\"ib1.completed\","
                 "\"at\":\"2025-11-04T09:00:00+01:00\",\"case\":\"EB-1\",\"unit\":\"HV-EB-1\",\"data\":{}}",
                 (long long)seq, (long long)seq);
        return fx_msg(f, BUS_EVENT, feed, replay, "ib1.completed", raw);
}

static ingest_verdict_t fx_control(fx_t *f, bus_kind_t kind, int feed, const char *op, int64_t last)
{
        char raw[256];

        snprintf(raw, sizeof(raw), "{\"op\":\"%s\",\"source\":\"" SRC "\",\"last_seq\":%lld}", op, (long long)last);
        return fx_msg(f, kind, feed, kind == BUS_REPLAY_END, kind == BUS_HEARTBEAT ? "feed.heartbeat" : "", raw);
}

/* Takes the queued requests: how many, and checks the i-th is a replay of SRC on feed from seq. */
static int taken(fx_t *f, ingest_request_t *out, int max)
{
        int n;
        const ingest_request_t *q = ingest_requests(f->in, &n);

        for (int i = 0; i < n && i < max; i++)
                out[i] = q[i];
        ingest_requests_clear(f->in);
        return n;
}

static void check_replay(const ingest_request_t *q, int feed, int64_t from)
{
        CHECK_INT(q->kind, INGEST_REPLAY);
        CHECK_INT(q->feed, feed);
        CHECK_STR(q->source, SRC);
        CHECK_INT(q->from_seq, from);
}

static void test_sequencing(void)
{
        fx_t f;
        ingest_request_t q[8];
        ingest_verdict_t v;

        if (!fx_init(&f))
                return;
        v = fx_event(&f, 0, false, 1);
        CHECK_INT(v.outcome, INGEST_APPLIED);
        CHECK_STR(v.source, SRC);
        CHECK_INT(v.seq, 1);
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK_INT(store_feed_last_seq(f.store, SRC), 1);
        CHECK_INT(store_counter(f.store, CNT_APPLIED), 1);

        /* the same seq again: a duplicate, nothing asked for */
        v = fx_event(&f, 0, false, 1);
        CHECK_INT(v.outcome, INGEST_DUPLICATE);
        CHECK_INT(store_counter(f.store, CNT_DUPLICATES), 1);
        CHECK_INT(taken(&f, q, 8), 0);

        /* a gap: dropped, one replay from the next seq on the feed it came from */
        v = fx_event(&f, 0, false, 3);
        CHECK_INT(v.outcome, INGEST_GAP);
        CHECK_INT(v.seq, 3);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 0, 2);
        CHECK_INT(store_counter(f.store, CNT_GAPS), 1);
        CHECK_INT(store_counter(f.store, CNT_REPLAYS), 1);
        CHECK_INT(store_feed_last_seq(f.store, SRC), 1);
        CHECK(ingest_catching_up(f.in));

        /* while that replay is pending, another gap asks for nothing more */
        v = fx_event(&f, 0, false, 4);
        CHECK_INT(v.outcome, INGEST_GAP);
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK_INT(store_counter(f.store, CNT_GAPS), 1);

        /* the replay brings 2; it ends at 4, so what it did not bring is asked for again */
        v = fx_event(&f, 0, true, 2);
        CHECK_INT(v.outcome, INGEST_APPLIED);
        v = fx_control(&f, BUS_REPLAY_END, 0, "replay_end", 4);
        CHECK_INT(v.outcome, INGEST_NONE);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 0, 3);
        CHECK_INT(fx_event(&f, 0, true, 3).outcome, INGEST_APPLIED);
        CHECK_INT(fx_event(&f, 0, true, 4).outcome, INGEST_APPLIED);
        CHECK_INT(fx_control(&f, BUS_REPLAY_END, 0, "replay_end", 4).outcome, INGEST_NONE);
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK(!ingest_catching_up(f.in));
        CHECK_INT(store_feed_last_seq(f.store, SRC), 4);
        fx_free(&f);
}

static void test_heartbeats_and_timeouts(void)
{
        fx_t f;
        ingest_request_t q[8];

        if (!fx_init(&f))
                return;
        f.cfg.feed_silence_s = 3600;         /* feed 0 stays quiet here: no silence in this test */
        CHECK_INT(fx_event(&f, 1, false, 1).outcome, INGEST_APPLIED);
        /* a heartbeat at our position asks for nothing */
        CHECK_INT(fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 1).outcome, INGEST_NONE);
        CHECK_INT(taken(&f, q, 8), 0);
        /* a malformed one is ignored */
        CHECK_INT(fx_msg(&f, BUS_HEARTBEAT, 1, false, "feed.heartbeat", "{\"op\":\"heartbeat\"}").outcome,
                  INGEST_NONE);
        CHECK_INT(taken(&f, q, 8), 0);
        /* a heartbeat ahead of us: the lost last event is noticed, on the feed that told us */
        CHECK_INT(fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 3).outcome, INGEST_NONE);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 1, 2);
        CHECK(ingest_catching_up(f.in));
        /* pending: the next heartbeat asks for nothing */
        f.mono += 1000;
        fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 3);
        CHECK_INT(taken(&f, q, 8), 0);
        /* a replayed message keeps the replay alive: 4.9 s after it, no timeout */
        f.mono += 1000;
        CHECK_INT(fx_event(&f, 1, true, 2).outcome, INGEST_APPLIED);
        f.mono += 4900;
        ingest_tick(f.in, f.mono);
        fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 3);
        CHECK_INT(taken(&f, q, 8), 0);
        /* 5 s without one: the replay timed out, and the next heartbeat asks again */
        f.mono += 200;
        ingest_tick(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK(ingest_catching_up(f.in));          /* still behind what the adapter has */
        fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 3);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 1, 3);
        fx_free(&f);
}

static void test_silence(void)
{
        fx_t f;
        ingest_request_t q[8];
        char status[64];

        if (!fx_init(&f))
                return;
        /* feed 1 is last heard of at the start, feed 0 one second later */
        f.mono += 1000;
        CHECK_INT(fx_event(&f, 0, false, 1).outcome, INGEST_APPLIED);
        ingest_status(f.in, status, sizeof(status));
        CHECK_STR(status, "2 feeds ok");
        f.mono += 3999;
        ingest_tick(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 0);
        /* 5 s after the start feed 1 is silent: reconnected (it carries no source) */
        f.mono += 1;
        ingest_tick(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 1);
        CHECK_INT(q[0].kind, INGEST_RECONNECT);
        CHECK_INT(q[0].feed, 1);
        ingest_status(f.in, status, sizeof(status));
        CHECK_STR(status, "1 of 2 feeds silent");
        /* a second later feed 0 is silent too: reconnected, its source asked to replay from the next seq */
        f.mono += 1000;
        ingest_tick(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 2);
        CHECK_INT(q[0].kind, INGEST_RECONNECT);
        CHECK_INT(q[0].feed, 0);
        check_replay(&q[1], 0, 2);
        ingest_status(f.in, status, sizeof(status));
        CHECK_STR(status, "2 of 2 feeds silent");
        /* the next attempt on feed 1 comes a silence period after the last */
        f.mono += 3999;
        ingest_tick(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 0);
        f.mono += 1;
        ingest_tick(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 1);
        CHECK_INT(q[0].kind, INGEST_RECONNECT);
        CHECK_INT(q[0].feed, 1);
        /* heard again */
        fx_control(&f, BUS_HEARTBEAT, 0, "heartbeat", 1);
        fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 1);
        ingest_status(f.in, status, sizeof(status));
        CHECK_STR(status, "2 feeds ok");
        fx_free(&f);
}

static void test_dead_letters(void)
{
        fx_t f;
        ingest_request_t q[8];
        ingest_verdict_t v;

        if (!fx_init(&f))
                return;
        CHECK_INT(fx_event(&f, 0, false, 1).outcome, INGEST_APPLIED);
        /* invalid but sequenced: stored with its reason at its position, and the position advances */
        v = fx_msg(&f, BUS_EVENT, 0, false, "ib1.completed",
                   "{\"v\":1,\"id\":\"bad\",\"source\":\"" SRC "\",\"seq\":2,\"type\":\"ib1.completed\","
                   "\"at\":\"yesterday\",\"case\":\"EB-1\",\"unit\":\"HV-EB-1\",\"data\":{}}");
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        CHECK(strstr(v.reason, "at") != NULL);
        CHECK_STR(v.source, SRC);
        CHECK_INT(v.seq, 2);
        CHECK_INT(store_feed_last_seq(f.store, SRC), 2);
        CHECK_INT(store_counter(f.store, CNT_DEAD_LETTERS), 1);
        CHECK_INT(fx_event(&f, 0, false, 3).outcome, INGEST_APPLIED);
        /* nothing to sequence by: stored, no position */
        v = fx_msg(&f, BUS_EVENT, 0, false, "x", "not json");
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        CHECK_STR(v.source, "");
        CHECK_INT(v.seq, 0);
        /* the type frame must match the envelope */
        v = fx_msg(&f, BUS_EVENT, 0, false, "fia.started",
                   "{\"v\":1,\"id\":\"e-4\",\"source\":\"" SRC "\",\"seq\":4,\"type\":\"ib1.completed\","
                   "\"at\":\"2025-11-04T09:00:00+01:00\",\"case\":\"EB-1\",\"unit\":\"HV-EB-1\",\"data\":{}}");
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        CHECK_STR(v.reason, "frames: type frame does not match envelope.type");
        CHECK_INT(v.seq, 4);
        /* a malformed message from the bus */
        v = fx_msg(&f, BUS_BAD, 0, false, "x", "\xff\xfe");
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        CHECK_STR(v.reason, "frames: expected 2, got 3");
        CHECK_INT(store_counter(f.store, CNT_DEAD_LETTERS), 4);
        CHECK_INT(store_feed_last_seq(f.store, SRC), 4);
        CHECK_INT(taken(&f, q, 8), 0);
        fx_free(&f);
}

static void test_resume(void)
{
        fx_t f;
        ingest_request_t q[8];

        if (!fx_init(&f))
                return;
        CHECK_INT(fx_event(&f, 1, false, 1).outcome, INGEST_APPLIED);
        CHECK_INT(fx_event(&f, 1, false, 2).outcome, INGEST_APPLIED);
        ingest_free(&f.in);
        /* a new ingest knows the stored position but not the feed: it asks on every feed */
        CHECK_INT(ingest_new(&f.cfg, f.store, f.engine, &f.clock, f.mono, &f.in), 0);
        if (!f.in)
                return;
        CHECK_INT(engine_begin(f.engine, clock_now(&f.clock)), 0);
        ingest_resume(f.in, f.mono);
        CHECK_INT(engine_commit(f.engine, 0, publish_nothing, NULL), 0);
        CHECK_INT(taken(&f, q, 8), 2);
        check_replay(&q[0], 0, 3);
        check_replay(&q[1], 1, 3);
        CHECK(ingest_catching_up(f.in));
        CHECK_INT(fx_control(&f, BUS_REPLAY_END, 1, "replay_end", 2).outcome, INGEST_NONE);
        CHECK(!ingest_catching_up(f.in));
        CHECK_INT(taken(&f, q, 8), 0);
        fx_free(&f);
}

int main(void)
{
        log_init("test-ingest", LOG_CRIT, false);
        test_sequencing();
        test_heartbeats_and_timeouts();
        test_silence();
        test_dead_letters();
        test_resume();
        return tap_done();
}
