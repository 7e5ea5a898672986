/*
 * test-ingest.c owns the unit tests of ingest.c as a pure sequencer, with
 * no socket, no second process, no store and no engine: an ingest over the
 * default configuration with two feeds and a manual clock is handed feed
 * messages and the monotonic time the test chooses. It checks each verdict
 * (apply with the parsed event and its position, duplicate, gap, dead letter
 * with its reason, its bytes and its position), the positions ingest keeps,
 * the gaps and replays it counts, and the bus requests it queues: a replay
 * from the next seq on a gap (live events dropped until it ends), on a
 * heartbeat ahead of us and on a replay that ended short, none while one is
 * pending, again after a replay times out, a reconnect and replays when a
 * feed falls silent, and replays from the given positions on resume.
 */
#include <stdio.h>
#include "ingest.h"
#include "log.h"
#include "tap.h"

#define SRC "paraply-hv"

typedef struct fx {
        config_t cfg;
        bk_clock_t clock;
        ingest_t *in;
        int64_t mono;           /* the monotonic time handed to ingest, in ms */
} fx_t;

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
        CHECK_INT(ingest_new(&f->cfg, &f->clock, f->mono, &f->in), 0);
        return f->in != NULL;
}

static void fx_free(fx_t *f)
{
        ingest_free(&f->in);
        CHECK(f->in == NULL);
}

/* One message at f->mono. The verdict's bytes point into body: a string literal or static buffer. */
static ingest_verdict_t fx_msg(fx_t *f, bus_kind_t kind, int feed, bool replay, const char *type, const char *body)
{
        bus_msg_t m = { .kind = kind, .feed = feed, .replay = replay, .body = body, .len = strlen(body),
                        .reason = kind == BUS_BAD ? "frames: expected 2, got 3" : NULL };
        ingest_verdict_t v;

        bk_strlcpy(m.type, type, sizeof(m.type));
        memset(&v, 0xa5, sizeof(v));      /* ingest must set every field it promises */
        ingest_handle(f->in, &m, f->mono, &v);
        return v;
}

/* The position ingest keeps for source (its stats view); -1 when it does not know the source. */
static int64_t fx_last(const fx_t *f, const char *source)
{
        json_t *a = ingest_feeds_json(f->in), *o;
        size_t i;
        int64_t last = -1;

        json_array_foreach(a, i, o)
                if (strcmp(json_string_value(json_object_get(o, "source")), source) == 0)
                        last = json_integer_value(json_object_get(o, "last_seq"));
        json_decref(a);
        return last;
}

static ingest_verdict_t fx_event(fx_t *f, int feed, bool replay, int64_t seq)
{
        static char raw[512];

        snprintf(raw, sizeof(raw),
                 "{\"v\":1,\"id\":\"e-%lld\",\"source\":\"" SRC "\",\"seq\":%lld,\"type\":\"ib1.completed\","
                 "\"at\":\"2025-11-04T09:00:00+01:00\",\"case\":\"EB-1\",\"unit\":\"HV-EB-1\",\"data\":{}}",
                 (long long)seq, (long long)seq);
        return fx_msg(f, BUS_EVENT, feed, replay, "ib1.completed", raw);
}

static ingest_verdict_t fx_control(fx_t *f, bus_kind_t kind, int feed, const char *op, int64_t last)
{
        static char raw[256];

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

/* The gaps and replays counted since the last look. */
static void check_counts(fx_t *f, int64_t gaps, int64_t replays)
{
        ingest_counts_t c = ingest_counts_take(f->in);

        CHECK_INT(c.gaps, gaps);
        CHECK_INT(c.replays, replays);
}

static void test_sequencing(void)
{
        fx_t f;
        ingest_request_t q[8];
        ingest_verdict_t v;

        if (!fx_init(&f))
                return;
        CHECK_INT(fx_last(&f, SRC), -1);
        /* in order: apply the parsed event, and store the position */
        v = fx_event(&f, 0, false, 1);
        CHECK_INT(v.outcome, INGEST_APPLY);
        CHECK_STR(v.source, SRC);
        CHECK_INT(v.seq, 1);
        CHECK(v.advance);
        CHECK_STR(v.event.id, "e-1");
        CHECK_STR(v.event.source, SRC);
        CHECK_INT(v.event.seq, 1);
        CHECK_INT(v.event.type, EV_IB1_COMPLETED);
        CHECK_STR(v.event.case_id, "EB-1");
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK_INT(fx_last(&f, SRC), 1);
        v = fx_event(&f, 0, false, 2);
        CHECK_INT(v.outcome, INGEST_APPLY);
        CHECK_INT(v.event.seq, 2);
        CHECK_INT(fx_last(&f, SRC), 2);

        /* the same seq again, and an older one: duplicates, no position to store, nothing asked for */
        v = fx_event(&f, 0, false, 2);
        CHECK_INT(v.outcome, INGEST_DUPLICATE);
        CHECK(!v.advance);
        CHECK_INT(v.seq, 2);
        CHECK_INT(fx_event(&f, 1, false, 1).outcome, INGEST_DUPLICATE);
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK_INT(fx_last(&f, SRC), 2);
        check_counts(&f, 0, 0);
        fx_free(&f);
}

static void test_gap_and_replay(void)
{
        fx_t f;
        ingest_request_t q[8];
        ingest_verdict_t v;

        if (!fx_init(&f))
                return;
        CHECK_INT(fx_event(&f, 0, false, 1).outcome, INGEST_APPLY);
        /* a gap: dropped, one replay from the next seq on the feed it came from */
        v = fx_event(&f, 0, false, 3);
        CHECK_INT(v.outcome, INGEST_GAP);
        CHECK_INT(v.seq, 3);
        CHECK(!v.advance);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 0, 2);
        check_counts(&f, 1, 1);
        CHECK_INT(fx_last(&f, SRC), 1);
        CHECK(ingest_catching_up(f.in));

        /* while that replay is pending, live events ahead are dropped and ask for nothing more */
        CHECK_INT(fx_event(&f, 0, false, 4).outcome, INGEST_GAP);
        CHECK_INT(fx_event(&f, 0, false, 5).outcome, INGEST_GAP);
        CHECK_INT(taken(&f, q, 8), 0);
        check_counts(&f, 0, 0);
        CHECK_INT(fx_last(&f, SRC), 1);

        /* the replay brings 2 and 3; it ends at 5, so what it did not bring is asked for again */
        CHECK_INT(fx_event(&f, 0, true, 2).outcome, INGEST_APPLY);
        CHECK_INT(fx_event(&f, 0, true, 3).outcome, INGEST_APPLY);
        v = fx_control(&f, BUS_REPLAY_END, 0, "replay_end", 5);
        CHECK_INT(v.outcome, INGEST_NONE);
        CHECK(!v.advance);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 0, 4);
        check_counts(&f, 0, 1);
        CHECK_INT(fx_event(&f, 0, true, 4).outcome, INGEST_APPLY);
        CHECK_INT(fx_event(&f, 0, true, 5).outcome, INGEST_APPLY);
        CHECK_INT(fx_control(&f, BUS_REPLAY_END, 0, "replay_end", 5).outcome, INGEST_NONE);
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK(!ingest_catching_up(f.in));
        CHECK_INT(fx_last(&f, SRC), 5);
        /* caught up: live events apply again */
        CHECK_INT(fx_event(&f, 0, false, 6).outcome, INGEST_APPLY);
        check_counts(&f, 0, 0);
        fx_free(&f);
}

static void test_heartbeats_and_timeouts(void)
{
        fx_t f;
        ingest_request_t q[8];

        if (!fx_init(&f))
                return;
        f.cfg.feed_silence_s = 3600;         /* feed 0 stays quiet here: no silence in this test */
        CHECK_INT(fx_event(&f, 1, false, 1).outcome, INGEST_APPLY);
        /* a heartbeat at our position asks for nothing */
        CHECK_INT(fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 1).outcome, INGEST_NONE);
        CHECK_INT(taken(&f, q, 8), 0);
        /* a malformed one is ignored */
        CHECK_INT(fx_msg(&f, BUS_HEARTBEAT, 1, false, "feed.heartbeat", "{\"op\":\"heartbeat\"}").outcome,
                  INGEST_NONE);
        CHECK_INT(taken(&f, q, 8), 0);
        check_counts(&f, 0, 0);
        /* a heartbeat ahead of us (we are behind): the lost last event is noticed, on the feed that told us */
        CHECK_INT(fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 3).outcome, INGEST_NONE);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 1, 2);
        check_counts(&f, 0, 1);
        CHECK(ingest_catching_up(f.in));
        /* pending: the next heartbeat asks for nothing */
        f.mono += 1000;
        fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 3);
        CHECK_INT(taken(&f, q, 8), 0);
        /* a replayed message keeps the replay alive: 4.9 s after it, no timeout */
        f.mono += 1000;
        CHECK_INT(fx_event(&f, 1, true, 2).outcome, INGEST_APPLY);
        f.mono += 4900;
        ingest_tick(f.in, f.mono);
        fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 3);
        CHECK_INT(taken(&f, q, 8), 0);
        check_counts(&f, 0, 0);
        /* 5 s without one: the replay timed out, and the next heartbeat asks again */
        f.mono += 200;
        ingest_tick(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK(ingest_catching_up(f.in));          /* still behind what the adapter has */
        fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 3);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 1, 3);
        check_counts(&f, 0, 1);
        /* a live event ahead after a timed-out replay is a new gap, asked for at once */
        f.mono += 5200;
        ingest_tick(f.in, f.mono);
        CHECK_INT(fx_event(&f, 1, false, 4).outcome, INGEST_GAP);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 1, 3);
        check_counts(&f, 1, 1);
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
        CHECK_INT(fx_event(&f, 0, false, 1).outcome, INGEST_APPLY);
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
        check_counts(&f, 0, 0);
        ingest_status(f.in, status, sizeof(status));
        CHECK_STR(status, "1 of 2 feeds silent");
        /* a second later feed 0 is silent too: reconnected, its source asked to replay from the next seq */
        f.mono += 1000;
        ingest_tick(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 2);
        CHECK_INT(q[0].kind, INGEST_RECONNECT);
        CHECK_INT(q[0].feed, 0);
        check_replay(&q[1], 0, 2);
        check_counts(&f, 0, 1);
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
        static const char bad_at[] =
                "{\"v\":1,\"id\":\"bad\",\"source\":\"" SRC "\",\"seq\":2,\"type\":\"ib1.completed\","
                "\"at\":\"yesterday\",\"case\":\"EB-1\",\"unit\":\"HV-EB-1\",\"data\":{}}";
        static const char not_json[] = "not json";
        static const char frame[] =
                "{\"v\":1,\"id\":\"e-4\",\"source\":\"" SRC "\",\"seq\":4,\"type\":\"ib1.completed\","
                "\"at\":\"2025-11-04T09:00:00+01:00\",\"case\":\"EB-1\",\"unit\":\"HV-EB-1\",\"data\":{}}";
        fx_t f;
        ingest_request_t q[8];
        ingest_verdict_t v;

        if (!fx_init(&f))
                return;
        CHECK_INT(fx_event(&f, 0, false, 1).outcome, INGEST_APPLY);
        /* invalid but sequenced: a dead letter with its reason and bytes at its position, which advances */
        v = fx_msg(&f, BUS_EVENT, 0, false, "ib1.completed", bad_at);
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        CHECK(strstr(v.reason, "at") != NULL);
        CHECK_STR(v.source, SRC);
        CHECK_INT(v.seq, 2);
        CHECK(v.advance);
        CHECK(v.raw == bad_at);
        CHECK_INT(v.len, strlen(bad_at));
        CHECK_INT(fx_last(&f, SRC), 2);
        CHECK_INT(fx_event(&f, 0, false, 3).outcome, INGEST_APPLY);
        /* nothing to sequence by: a dead letter with no position, and no position moves */
        v = fx_msg(&f, BUS_EVENT, 0, false, "x", not_json);
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        CHECK(v.reason[0] != '\0');
        CHECK_STR(v.source, "");
        CHECK_INT(v.seq, 0);
        CHECK(!v.advance);
        CHECK(v.raw == not_json);
        CHECK_INT(fx_last(&f, SRC), 3);
        /* the type frame must match the envelope: a dead letter at its position */
        v = fx_msg(&f, BUS_EVENT, 0, false, "fia.started", frame);
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        CHECK_STR(v.reason, "frames: type frame does not match envelope.type");
        CHECK_INT(v.seq, 4);
        CHECK(v.advance);
        CHECK_INT(fx_last(&f, SRC), 4);
        /* a malformed message from the bus: the bus's reason, no position */
        v = fx_msg(&f, BUS_BAD, 0, false, "x", "\xff\xfe");
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        CHECK_STR(v.reason, "frames: expected 2, got 3");
        CHECK_STR(v.source, "");
        CHECK(!v.advance);
        CHECK_INT(v.len, 2);
        /* a dead letter's seq is sequenced like any other: the same again is a duplicate */
        CHECK_INT(fx_msg(&f, BUS_EVENT, 0, false, "ib1.completed", bad_at).outcome, INGEST_DUPLICATE);
        CHECK_INT(fx_last(&f, SRC), 4);
        CHECK_INT(taken(&f, q, 8), 0);
        check_counts(&f, 0, 0);
        fx_free(&f);
}

static void test_too_many_sources(void)
{
        static char raw[512];
        fx_t f;
        ingest_request_t q[8];
        ingest_verdict_t v;
        char name[32];
        int ok = 0;

        if (!fx_init(&f))
                return;
        for (int i = 0; i < 300; i++) {
                snprintf(name, sizeof(name), "src-%03d", i);
                ok += ingest_set_position(f.in, name, 7) == 0;
        }
        CHECK_INT(ok, 256);
        CHECK_INT(ingest_set_position(f.in, "one-more", 1), -ENOSPC);
        CHECK_INT(fx_last(&f, "src-255"), 7);
        CHECK_INT(fx_last(&f, "src-256"), -1);
        /* a known source still sequences */
        snprintf(raw, sizeof(raw), "{\"v\":1,\"id\":\"k-8\",\"source\":\"src-000\",\"seq\":8,\"type\":\"ib1.completed\","
                 "\"at\":\"2025-11-04T09:00:00+01:00\",\"case\":\"EB-1\",\"unit\":\"HV-EB-1\",\"data\":{}}");
        CHECK_INT(fx_msg(&f, BUS_EVENT, 0, false, "ib1.completed", raw).outcome, INGEST_APPLY);
        /* one more: a dead letter named by its position, which is not kept */
        snprintf(raw, sizeof(raw), "{\"v\":1,\"id\":\"n-1\",\"source\":\"new-src\",\"seq\":1,\"type\":\"ib1.completed\","
                 "\"at\":\"2025-11-04T09:00:00+01:00\",\"case\":\"EB-1\",\"unit\":\"HV-EB-1\",\"data\":{}}");
        v = fx_msg(&f, BUS_EVENT, 0, false, "ib1.completed", raw);
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        /* (with 256 known and a feed that declares none, a new source is refused before the table
         * is asked: the default carries one source per feed) */
        CHECK_STR(v.reason, "envelope.source: a second source on a feed that declares none (declare it in "
                  "feed.sources)");
        CHECK_STR(v.source, "");
        CHECK_INT(v.seq, 0);
        CHECK(!v.advance);
        CHECK(v.raw == raw);
        CHECK_INT(fx_last(&f, "new-src"), -1);
        CHECK_INT(taken(&f, q, 8), 0);
        fx_free(&f);
}

static void test_resume(void)
{
        fx_t f;
        ingest_request_t q[8];

        if (!fx_init(&f))
                return;
        CHECK_INT(fx_event(&f, 1, false, 1).outcome, INGEST_APPLY);
        CHECK_INT(fx_event(&f, 1, false, 2).outcome, INGEST_APPLY);
        CHECK_INT(fx_event(&f, 1, false, 3).outcome, INGEST_APPLY);
        /* a rollback: the stored position (2) comes back, without its feed, so every feed is asked */
        ingest_forget_positions(f.in);
        CHECK_INT(fx_last(&f, SRC), -1);
        CHECK_INT(ingest_set_position(f.in, SRC, 2), 0);
        ingest_resume(f.in, f.mono);
        CHECK_INT(fx_last(&f, SRC), 2);
        CHECK_INT(taken(&f, q, 8), 2);
        check_replay(&q[0], 0, 3);
        check_replay(&q[1], 1, 3);
        check_counts(&f, 0, 1);
        CHECK(ingest_catching_up(f.in));
        /* the rolled-back event comes again and applies again */
        CHECK_INT(fx_event(&f, 1, true, 3).outcome, INGEST_APPLY);
        CHECK_INT(fx_control(&f, BUS_REPLAY_END, 1, "replay_end", 3).outcome, INGEST_NONE);
        CHECK(!ingest_catching_up(f.in));
        CHECK_INT(taken(&f, q, 8), 0);

        /* a fresh ingest knows no source until it is given one */
        ingest_free(&f.in);
        CHECK_INT(ingest_new(&f.cfg, &f.clock, f.mono, &f.in), 0);
        if (!f.in)
                return;
        ingest_resume(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK(!ingest_catching_up(f.in));
        fx_free(&f);
}

/* An event of source src at seq on feed: its outcome. */
static ingest_verdict_t fx_src_event(fx_t *f, int feed, const char *src, int64_t seq)
{
        static char raw[512];

        snprintf(raw, sizeof(raw),
                 "{\"v\":1,\"id\":\"%s-%lld\",\"source\":\"%s\",\"seq\":%lld,\"type\":\"ib1.completed\","
                 "\"at\":\"2025-11-04T09:00:00+01:00\",\"case\":\"EB-1\",\"unit\":\"HV-EB-1\",\"data\":{}}",
                 src, (long long)seq, src, (long long)seq);
        return fx_msg(f, BUS_EVENT, feed, false, "ib1.completed", raw);
}

/*
 * Issue #12 item 7: 256 junk `source` values filled the table for ever (the store keeps their
 * positions, so also after a restart) and then refused a legitimate one. A feed carries the
 * sources it declares; one without `sources` carries one, the first it hears.
 */
static void test_sources(void)
{
        fx_t f;
        ingest_verdict_t v;
        char name[32];
        int refused = 0;

        if (!fx_init(&f))
                return;
        /* feed 0 declares paraply-hv; feed 1 declares none */
        f.cfg.feeds[0].n_sources = 1;
        bk_strlcpy(f.cfg.feeds[0].sources[0], "paraply-hv", sizeof(f.cfg.feeds[0].sources[0]));
        CHECK_INT(fx_src_event(&f, 0, "paraply-hv", 1).outcome, INGEST_APPLY);
        /* junk on the declaring feed: dead letters without a position, nothing kept */
        for (int i = 0; i < 300; i++) {
                snprintf(name, sizeof(name), "junk-%03d", i);
                v = fx_src_event(&f, 0, name, 1);
                refused += v.outcome == INGEST_DEAD_LETTER && !v.advance && v.seq == 0 &&
                           strcmp(v.reason, "envelope.source: not a source this feed carries (feed.sources)") == 0;
        }
        CHECK_INT(refused, 300);
        CHECK_INT(fx_last(&f, "junk-000"), -1);
        /* the declared source of feed 0 is no other feed's */
        CHECK_INT(fx_src_event(&f, 1, "paraply-hv", 2).outcome, INGEST_DEAD_LETTER);
        /* feed 1 takes the first source it hears, then no second one, not even by heartbeat */
        CHECK_INT(fx_src_event(&f, 1, "paraply-sm", 1).outcome, INGEST_APPLY);
        CHECK_INT(fx_src_event(&f, 1, "junk-x", 1).outcome, INGEST_DEAD_LETTER);
        fx_msg(&f, BUS_HEARTBEAT, 1, false, "feed.heartbeat", "{\"op\":\"heartbeat\",\"source\":\"junk-y\",\"last_seq\":9}");
        CHECK_INT(fx_last(&f, "junk-y"), -1);
        CHECK_INT(fx_src_event(&f, 1, "paraply-sm", 2).outcome, INGEST_APPLY);
        CHECK_INT(fx_src_event(&f, 0, "paraply-hv", 2).outcome, INGEST_APPLY);
        fx_free(&f);

        /* After a restart the stored positions come back: a known source is still carried, and the
         * default's one place is taken by it, so junk heard first is refused. */
        if (!fx_init(&f))
                return;
        f.cfg.n_feeds = 1;
        CHECK_INT(ingest_set_position(f.in, "paraply-demo", 40), 0);
        CHECK_INT(fx_src_event(&f, 0, "junk-1", 1).outcome, INGEST_DEAD_LETTER);
        CHECK_INT(fx_src_event(&f, 0, "paraply-demo", 41).outcome, INGEST_APPLY);
        fx_free(&f);
}

int main(void)
{
        log_init("test-ingest", LOG_CRIT, false);
        test_sequencing();
        test_gap_and_replay();
        test_heartbeats_and_timeouts();
        test_silence();
        test_dead_letters();
        test_too_many_sources();
        test_sources();
        test_resume();
        return tap_done();
}
