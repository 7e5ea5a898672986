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
 * feed falls silent, and replays from the given positions on resume. Issue 12: each unreadable kind of
 * message (Latin-1, deep nesting, 1e400, a seq over 2^63 or not an integer,
 * \u0000, a raw NUL, a bad frame count) takes its position in a replay
 * reply and the source moves on; live ones are rate-limited; a source that
 * cannot progress backs off and is reported stuck; replays come in chunks;
 * watermarks and event time.
 */
#include <stdio.h>
#include "demo-config.h"
#include "calendar.h"
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
        CHECK_INT(demo_config_load(&f->cfg, err, sizeof(err)), 0);
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

/* One message of len bytes at f->mono. The verdict's bytes point into body. */
static ingest_verdict_t fx_bytes(fx_t *f, bus_kind_t kind, int feed, bool replay, const char *type, const char *body,
                                 size_t len)
{
        bus_msg_t m = { .kind = kind, .feed = feed, .replay = replay, .body = body, .len = len,
                        .reason = kind == BUS_BAD ? "frames: expected 2, got 3" : NULL };
        ingest_verdict_t v;

        bk_strlcpy(m.type, type, sizeof(m.type));
        memset(&v, 0xa5, sizeof(v));      /* ingest must set every field it promises */
        ingest_handle(f->in, &m, f->mono, &v);
        return v;
}

/* One message at f->mono. The verdict's bytes point into body: a string literal or static buffer. */
static ingest_verdict_t fx_msg(fx_t *f, bus_kind_t kind, int feed, bool replay, const char *type, const char *body)
{
        return fx_bytes(f, kind, feed, replay, type, body, strlen(body));
}

/* The position ingest keeps for source (its stats view); -1 when it does not know the source. */
static int64_t fx_last(const fx_t *f, const char *source)
{
        json_t *a = ingest_feeds_json(f->in, 0), *o;
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
        fx_control(&f, BUS_HEARTBEAT, 0, "heartbeat", 5);   /* the adapter says where it stands */
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
        /* a live event ahead after a timed-out replay is a new gap; asked again from the same seq
         * without progress, the request backs off (250 ms first) instead of spinning */
        f.mono += 5200;
        ingest_tick(f.in, f.mono);
        CHECK_INT(fx_event(&f, 1, false, 4).outcome, INGEST_GAP);
        CHECK_INT(taken(&f, q, 8), 0);
        f.mono += 249;
        ingest_tick(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 0);
        f.mono += 1;
        ingest_tick(f.in, f.mono);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 1, 3);
        CHECK_INT(q[0].max, INGEST_REPLAY_CHUNK);
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
        /* a rollback: the stored position (2) comes back; the feed it was heard on is remembered
         * and asked at once */
        ingest_forget_positions(f.in);
        CHECK_INT(fx_last(&f, SRC), 0);
        CHECK_INT(ingest_set_position(f.in, SRC, 2), 0);
        ingest_resume(f.in, f.mono, false);
        CHECK_INT(fx_last(&f, SRC), 2);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 1, 3);
        check_counts(&f, 0, 1);
        CHECK(ingest_catching_up(f.in));
        /* the rolled-back event comes again and applies again */
        CHECK_INT(fx_event(&f, 1, true, 3).outcome, INGEST_APPLY);
        CHECK_INT(fx_control(&f, BUS_REPLAY_END, 1, "replay_end", 3).outcome, INGEST_NONE);
        fx_control(&f, BUS_HEARTBEAT, 1, "heartbeat", 3);   /* the adapter says where it stands */
        CHECK(!ingest_catching_up(f.in));
        CHECK_INT(taken(&f, q, 8), 0);

        /* a fresh ingest given a stored position, without its feed: every feed is asked; when the
         * store says the feeds send watermarks, the source is judged in event time at once */
        ingest_free(&f.in);
        CHECK_INT(ingest_new(&f.cfg, &f.clock, f.mono, &f.in), 0);
        if (!f.in)
                return;
        CHECK_INT(ingest_set_position(f.in, SRC, 3), 0);
        ingest_resume(f.in, f.mono, true);
        CHECK_INT(taken(&f, q, 8), 2);
        check_replay(&q[0], 0, 4);
        check_replay(&q[1], 1, 4);
        CHECK(ingest_has_watermarks(f.in));
        CHECK(ingest_time_limit(f.in, clock_now(&f.clock), clock_now(&f.clock)) == INT64_MIN);

        /* a fresh ingest knows no source until it is given one */
        ingest_free(&f.in);
        CHECK_INT(ingest_new(&f.cfg, &f.clock, f.mono, &f.in), 0);
        if (!f.in)
                return;
        ingest_resume(f.in, f.mono, false);
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK(!ingest_catching_up(f.in));
        fx_free(&f);
}


/* ---- no byte sequence wedges a feed (issue 12) ------------------------------------------ */

#define ENV_HEAD(seq) "{\"v\":1,\"id\":\"e-" #seq "\",\"source\":\"" SRC "\","
#define ENV_TAIL "\"type\":\"ib1.completed\",\"at\":\"2025-11-04T09:00:00+01:00\",\"unit\":\"HV-EB-1\",\"data\":{}"

/* Event 3's bytes, unreadable in each way measured: its seq cannot be read, or nothing can. */
static size_t bad_event(int k, char *buf, size_t n)
{
        size_t len;

        switch (k) {
        case 0:   /* Latin-1 from the case system */
                return (size_t)snprintf(buf, n, ENV_HEAD(3) "\"seq\":3," ENV_TAIL ",\"case\":\"S\xf6" "der\"}");
        case 1:   /* nested deeper than jansson's 2048 */
                len = (size_t)snprintf(buf, n, ENV_HEAD(3) "\"seq\":3,\"x\":");
                for (int i = 0; i < 2100 && len + 2 < n; i++)
                        buf[len++] = '[';
                buf[len] = '\0';
                return len;
        case 2: return (size_t)snprintf(buf, n, ENV_HEAD(3) "\"seq\":3,\"n\":1e400," ENV_TAIL ",\"case\":\"EB-1\"}");
        case 3: return (size_t)snprintf(buf, n, ENV_HEAD(3) "\"seq\":99999999999999999999," ENV_TAIL ",\"case\":\"EB-1\"}");
        case 4: return (size_t)snprintf(buf, n, ENV_HEAD(3) "\"seq\":\"3\"," ENV_TAIL ",\"case\":\"EB-1\"}");
        case 5: return (size_t)snprintf(buf, n, ENV_HEAD(3) "\"seq\":3.0," ENV_TAIL ",\"case\":\"EB-1\"}");
        case 6: return (size_t)snprintf(buf, n, ENV_HEAD(3) "\"seq\":3," ENV_TAIL ",\"case\":\"EB\\u00001\"}");
        default:  /* a raw NUL inside */
                len = (size_t)snprintf(buf, n, ENV_HEAD(3) "\"seq\":3," ENV_TAIL ",\"case\":\"EB-1\"}");
                buf[20] = '\0';
                return len;
        }
}

/*
 * Live: 1, 2, then event 3 unreadable, then 4. The unreadable one is a dead letter without a
 * position; 4 is a gap; the replay from 3 brings the same bytes first, which take position 3 there
 * (only the position: the bytes were stored when they came live), then 4 and 5 apply, and one
 * replay request was all it took.
 */
static void test_unreadable_takes_its_replay_position(void)
{
        static char bad[8][8192];

        for (int k = 0; k < 8; k++) {
                fx_t f;
                ingest_request_t q[8];
                ingest_verdict_t v;
                size_t len = bad_event(k, bad[k], sizeof(bad[k]));

                if (!fx_init(&f))
                        return;
                CHECK_INT(fx_event(&f, 0, false, 1).outcome, INGEST_APPLY);
                CHECK_INT(fx_event(&f, 0, false, 2).outcome, INGEST_APPLY);
                v = fx_bytes(&f, BUS_EVENT, 0, false, "ib1.completed", bad[k], len);
                CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
                CHECK(!v.advance);
                CHECK(v.raw == bad[k]);
                if (k == 0)
                        CHECK(strstr(v.reason, "not UTF-8") != NULL);
                CHECK_INT(fx_event(&f, 0, false, 4).outcome, INGEST_GAP);
                CHECK_INT(taken(&f, q, 8), 1);
                check_replay(&q[0], 0, 3);
                CHECK_INT(q[0].max, INGEST_REPLAY_CHUNK);
                /* the reply: the same bytes at position 3, then 4 and 5 */
                v = fx_bytes(&f, BUS_EVENT, 0, true, "ib1.completed", bad[k], len);
                CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
                CHECK_STR(v.source, SRC);
                CHECK_INT(v.seq, 3);
                CHECK(v.advance);
                CHECK(v.raw == NULL);      /* stored once, when it came live */
                CHECK_INT(fx_last(&f, SRC), 3);
                CHECK_INT(fx_event(&f, 0, true, 4).outcome, INGEST_APPLY);
                CHECK_INT(fx_event(&f, 0, true, 5).outcome, INGEST_APPLY);
                CHECK_INT(fx_control(&f, BUS_REPLAY_END, 0, "replay_end", 5).outcome, INGEST_NONE);
                CHECK_INT(taken(&f, q, 8), 0);
                fx_control(&f, BUS_HEARTBEAT, 0, "heartbeat", 5);   /* the adapter says where it stands */
                CHECK(!ingest_catching_up(f.in));
                CHECK_INT(fx_event(&f, 0, false, 6).outcome, INGEST_APPLY);
                check_counts(&f, 1, 1);
                fx_free(&f);
        }
}

/* Never seen live (the live copy was dropped at the HWM): the reply's copy is stored, at its position. */
static void test_unreadable_first_seen_in_replay(void)
{
        static const char junk[] = "\x01\x02 not an event";
        fx_t f;
        ingest_request_t q[8];
        ingest_verdict_t v;

        if (!fx_init(&f))
                return;
        CHECK_INT(fx_event(&f, 0, false, 1).outcome, INGEST_APPLY);
        CHECK_INT(fx_event(&f, 0, false, 3).outcome, INGEST_GAP);
        CHECK_INT(taken(&f, q, 8), 1);
        v = fx_msg(&f, BUS_EVENT, 0, true, "x", junk);
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        CHECK_INT(v.seq, 2);
        CHECK(v.advance);
        CHECK(v.raw == junk);
        /* a reply with the wrong frame count takes its position too */
        v = fx_msg(&f, BUS_BAD, 0, true, "x", "three frames");
        CHECK_INT(v.outcome, INGEST_DEAD_LETTER);
        CHECK_INT(v.seq, 3);
        CHECK(v.advance);
        CHECK_INT(fx_event(&f, 0, true, 4).outcome, INGEST_APPLY);
        /* the same reply again (a duplicate request): positions already passed are duplicates */
        CHECK_INT(fx_control(&f, BUS_REPLAY_END, 0, "replay_end", 4).outcome, INGEST_NONE);
        fx_event(&f, 0, false, 6);              /* a gap: asks from 5 */
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 0, 5);
        CHECK_INT(fx_msg(&f, BUS_EVENT, 0, true, "x", junk).outcome, INGEST_DEAD_LETTER);
        CHECK_INT(fx_last(&f, SRC), 5);
        fx_free(&f);
}

/* A flood of unreadable live messages: at most 10 a second per feed are stored. */
static void test_unpositioned_rate_limit(void)
{
        fx_t f;
        int stored = 0;

        if (!fx_init(&f))
                return;
        for (int i = 0; i < 1000; i++) {
                ingest_verdict_t v = fx_msg(&f, BUS_EVENT, 0, false, "x", "garbage");
                stored += v.outcome == INGEST_DEAD_LETTER;
                CHECK(v.outcome == INGEST_DEAD_LETTER || v.outcome == INGEST_NONE);
                f.mono += 1;
        }
        CHECK_INT(stored, 10);
        fx_free(&f);
}

/*
 * An adapter that cannot serve position 2 (its log has a hole): each reply skips it. The requests
 * from the same seq back off (250 ms, doubling to 30 s), the source is reported stuck, and over
 * ten minutes the adapter gets a bounded number of requests instead of one per turn.
 */
static void test_stuck_source_backs_off(void)
{
        fx_t f;
        ingest_request_t q[8];
        char status[256];
        int requests = 0;

        if (!fx_init(&f))
                return;
        f.cfg.feed_silence_s = 3600;
        CHECK_INT(fx_event(&f, 0, false, 1).outcome, INGEST_APPLY);
        CHECK_INT(fx_event(&f, 0, false, 3).outcome, INGEST_GAP);
        for (int t = 0; t < 600 * 100; t++) {    /* 10 min in 10 ms turns */
                int n = taken(&f, q, 8);
                for (int i = 0; i < n && i < 8; i++) {
                        check_replay(&q[i], 0, 2);
                        /* the reply skips 2 and ends at 3 */
                        CHECK_INT(fx_event(&f, 0, true, 3).outcome, INGEST_GAP);
                        fx_control(&f, BUS_REPLAY_END, 0, "replay_end", 3);
                }
                requests += n;
                f.mono += 10;
                ingest_tick(f.in, f.mono);
        }
        CHECK(requests >= 10 && requests <= 40);
        ingest_status(f.in, status, sizeof(status));
        CHECK_STR(status, "2 feeds ok, source " SRC " stuck at seq 2");
        json_t *a = ingest_feeds_json(f.in, 0);
        CHECK(json_is_true(json_object_get(json_array_get(a, 0), "stuck")));
        json_decref(a);
        /* progress clears it */
        ingest_tick(f.in, f.mono += 60000);
        for (int n; (n = taken(&f, q, 8)) == 0;)
                ingest_tick(f.in, f.mono += 1000);
        CHECK_INT(fx_event(&f, 0, true, 2).outcome, INGEST_APPLY);
        CHECK_INT(fx_event(&f, 0, true, 3).outcome, INGEST_APPLY);
        fx_control(&f, BUS_REPLAY_END, 0, "replay_end", 3);
        ingest_status(f.in, status, sizeof(status));
        CHECK_STR(status, "2 feeds ok");
        /* a full store backs replay requests off too, and says so */
        ingest_set_store_full(f.in, true);
        ingest_status(f.in, status, sizeof(status));
        CHECK_STR(status, "2 feeds ok, store full");
        fx_free(&f);
}

/* Credit: a reply of a full chunk asks for the next one from where it ended; a short one ends it. */
static void test_replay_in_chunks(void)
{
        fx_t f;
        ingest_request_t q[8];

        if (!fx_init(&f))
                return;
        CHECK_INT(fx_control(&f, BUS_HEARTBEAT, 0, "heartbeat", INGEST_REPLAY_CHUNK + 5).outcome, INGEST_NONE);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 0, 1);
        CHECK_INT(q[0].max, INGEST_REPLAY_CHUNK);
        for (int64_t i = 1; i <= INGEST_REPLAY_CHUNK; i++)
                CHECK(fx_event(&f, 0, true, i).outcome == INGEST_APPLY);
        CHECK_INT(taken(&f, q, 8), 0);           /* no request before the chunk has ended */
        fx_control(&f, BUS_REPLAY_END, 0, "replay_end", INGEST_REPLAY_CHUNK);
        CHECK_INT(taken(&f, q, 8), 1);
        check_replay(&q[0], 0, INGEST_REPLAY_CHUNK + 1);
        CHECK(ingest_catching_up(f.in));
        for (int64_t i = INGEST_REPLAY_CHUNK + 1; i <= INGEST_REPLAY_CHUNK + 5; i++)
                CHECK(fx_event(&f, 0, true, i).outcome == INGEST_APPLY);
        fx_control(&f, BUS_REPLAY_END, 0, "replay_end", INGEST_REPLAY_CHUNK + 5);
        CHECK_INT(taken(&f, q, 8), 0);
        CHECK(!ingest_catching_up(f.in));
        fx_free(&f);
}

static ingest_verdict_t fx_heartbeat_wm(fx_t *f, int64_t last, const char *wm)
{
        static char raw[256];

        snprintf(raw, sizeof(raw), "{\"op\":\"heartbeat\",\"source\":\"" SRC "\",\"last_seq\":%lld,\"watermark\":\"%s\"}",
                 (long long)last, wm);
        return fx_msg(f, BUS_HEARTBEAT, 0, false, "feed.heartbeat", raw);
}

/*
 * Event time: a source without a watermark lets time run to the clock once caught up; a watermark
 * holds once the position reaches the last_seq it came with; an applied event of a source with
 * watermarks moves it to just before its `at`; a watermark at the wall clock is a live adapter.
 */
static void test_watermarks(void)
{
        fx_t f;
        bk_time_t clk, wall, w1 = 0, at = 0;

        if (!fx_init(&f))
                return;
        clk = clock_now(&f.clock);
        wall = clk + 400 * 86400;
        CHECK_INT(cal_parse_rfc3339("2025-06-01T12:00:00+02:00", &w1), 0);
        CHECK_INT(cal_parse_rfc3339("2025-11-04T09:00:00+01:00", &at), 0);
        CHECK(ingest_time_limit(f.in, clk, wall) == INT64_MIN);      /* no source yet: its history may be coming */
        /* unreadable bytes name no source (Latin-1, cut short): a dead letter, and still none known */
        CHECK_INT(fx_msg(&f, BUS_EVENT, 0, false, "ib1.completed", "{\"v\":1,\"case\":\"S\xf6" "der\"").outcome,
                  INGEST_DEAD_LETTER);
        CHECK(ingest_time_limit(f.in, clk, wall) == INT64_MIN);
        CHECK_INT(fx_event(&f, 0, false, 1).outcome, INGEST_APPLY);
        CHECK(ingest_time_limit(f.in, clk, wall) == INT64_MIN);      /* not heard yet: v1 or not? */
        CHECK(ingest_in_history(f.in, clk));                       /* … nor whether this is history */
        fx_control(&f, BUS_HEARTBEAT, 0, "heartbeat", 1);
        CHECK_INT(ingest_time_limit(f.in, clk, wall), clk);          /* v1, caught up */
        CHECK(!ingest_in_history(f.in, clk));
        fx_control(&f, BUS_HEARTBEAT, 0, "heartbeat", 3);             /* v1, behind */
        CHECK(ingest_time_limit(f.in, clk, wall) == INT64_MIN);
        CHECK(!ingest_has_watermarks(f.in));
        /* a watermark given at 3 holds once 3 is applied */
        fx_heartbeat_wm(&f, 3, "2025-06-01T12:00:00+02:00");
        CHECK(ingest_has_watermarks(f.in));
        CHECK(ingest_time_limit(f.in, clk, wall) == INT64_MIN);
        CHECK_INT(fx_event(&f, 0, true, 2).outcome, INGEST_APPLY);
        CHECK_INT(fx_event(&f, 0, true, 3).outcome, INGEST_APPLY);
        /* event 3 (at 2025-11-04 09:00) moved it past the heartbeat's: just before its at */
        CHECK_INT(ingest_time_limit(f.in, clk, wall), at - 1);
        /* at the adapter's last_seq, but its watermark is months behind the clock: a history */
        CHECK(ingest_in_history(f.in, clk));
        CHECK(w1 < at - 1);
        /* never past the clock */
        CHECK_INT(ingest_time_limit(f.in, at - 100, wall), at - 100);
        /* a caught-up adapter whose watermark is its present is live: time runs to the clock */
        char now[40];
        cal_format_rfc3339(wall, now, sizeof(now));
        /* …already while the replay's end is on its way: the position holds that watermark (a
         * restart that catches up through a replay must not stop time at the wall clock's day) */
        CHECK(ingest_catching_up(f.in));
        fx_heartbeat_wm(&f, 3, now);
        CHECK_INT(ingest_time_limit(f.in, clk, wall), clk);
        fx_control(&f, BUS_REPLAY_END, 0, "replay_end", 3);
        fx_heartbeat_wm(&f, 3, now);
        CHECK_INT(ingest_time_limit(f.in, clk, wall), clk);
        /* a gap (5 came, 4 is being replayed) is not live: 4 may be older, so time holds at the
         * watermark (with the clock ahead of it) until 4 is in */
        CHECK_INT(fx_event(&f, 0, false, 5).outcome, INGEST_GAP);
        CHECK_INT(ingest_time_limit(f.in, wall + 86400, wall), wall);
        CHECK_INT(fx_event(&f, 0, true, 4).outcome, INGEST_APPLY);
        CHECK_INT(fx_event(&f, 0, true, 5).outcome, INGEST_APPLY);
        CHECK_INT(ingest_time_limit(f.in, wall + 86400, wall), wall + 86400);
        fx_control(&f, BUS_REPLAY_END, 0, "replay_end", 5);
        CHECK(!ingest_in_history(f.in, clk));
        json_t *a = ingest_feeds_json(f.in, 0);
        CHECK(json_is_string(json_object_get(json_array_get(a, 0), "watermark")));
        json_decref(a);
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
        test_unreadable_takes_its_replay_position();
        test_unreadable_first_seen_in_replay();
        test_unpositioned_rate_limit();
        test_stuck_source_backs_off();
        test_replay_in_chunks();
        test_watermarks();
        return tap_done();
}
