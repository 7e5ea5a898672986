/*
 * ingest.c owns sequencing per source. The rule is simple and strict: an
 * event is applied only when its seq is exactly last + 1; anything lower is
 * a duplicate, anything higher is a gap that triggers a replay request from
 * last + 1 while the out-of-order event is dropped (the adapter's log still
 * has it). Positions live here in memory; the daemon writes each one in the
 * same transaction as its event and, after a rollback, hands the stored
 * ones back (ingest_set_position), so a crash or a failed batch rewinds
 * both together.
 *
 * No byte sequence wedges a source (protocol §7): the messages of a replay
 * reply sit at consecutive positions from its from_seq, so one whose
 * position cannot be read takes the reply's next position and is a dead
 * letter there; replays asked again from the same seq back off, and a source
 * that cannot progress is reported stuck. Replays come in chunks (credit).
 * Each source's event time follows the watermarks the adapter sends
 * (ingest_time_limit), for the daemon's time-driven work.
 *
 * It is a pure sequencer, owning no socket, store or engine: each call
 * takes the message (or the turn) and the monotonic time, says what became
 * of the message in an ingest_verdict_t, and queues what it needs from the
 * bus (a replay from seq N, a feed's reconnect) and counts gaps and replays
 * for the daemon to perform and store, so that gaps, replay timeouts,
 * silence and heartbeats are tested without processes or a database.
 */
#include <stdio.h>
#include "calendar.h"
#include "event.h"
#include "ingest.h"
#include "log.h"
#include "name.h"

#define MAX_SOURCES 256
#define REPLAY_TIMEOUT_MS 5000
#define RETRY_BASE_MS 250        /* a replay asked again from the same seq waits this, doubling… */
#define RETRY_MAX_MS 30000       /* …up to this */
#define STUCK_AFTER 3            /* that many requests from one seq without progress: "stuck" */
#define WM_PENDING 8             /* watermarks waiting for the position they hold at */
#define REPLIES_MAX 16           /* replay replies outstanding per feed */
#define LIVE_DEAD_PER_S 10       /* unpositioned dead letters stored per feed and second */
#define LIVE_SLACK_S 10          /* a watermark this close to the wall clock: the adapter is live */
#define LIVE_DEAD_MEMO 8         /* …remembered by hash so their replay only moves the position */

/* A watermark the adapter gave with its last_seq: it holds once the position reaches last_seq. */
struct wm_mark {
        int64_t last_seq;
        bk_time_t at;
};

struct source {
        char name[EV_SOURCE_MAX + 1];
        int feed;                 /* where we last heard it; -1 = unknown */
        int64_t last_seq;         /* the position: applied or dead-lettered (the daemon stores it) */
        int64_t known_seq;        /* highest seq the adapter told us of */
        bool replay_pending;
        int64_t replay_since_ms;     /* when it was asked for, or its last message came */
        int64_t replay_from;         /* from_seq of the last request */
        int retries;                 /* requests from replay_from without progress */
        int64_t retry_at_ms;         /* a deferred request goes out then; 0 = none */
        bool heard;                  /* a heartbeat of it came */
        bool has_wm;                 /* the adapter sends watermarks (protocol §6) */
        bk_time_t wm;                /* event time: everything at or before it is applied */
        struct wm_mark latest;       /* the watermark the adapter gave last (live when it is now) */
        struct wm_mark pend[WM_PENDING];
        int n_pend;
};

/* A replay reply in flight on a feed: its messages sit at consecutive positions from next. */
struct reply {
        int src;                  /* index into in->src */
        int64_t next;             /* position of its next message */
        int64_t got;              /* messages so far */
};

struct feed_state {
        int64_t last_heard_ms;
        bool silent;
        int reconnects;
        int64_t silences;         /* times it fell silent (for the metrics) */
        struct reply q[REPLIES_MAX];  /* oldest first: the adapter answers one request after another */
        int nq;
        uint64_t dead_hash[LIVE_DEAD_MEMO];   /* unpositioned dead letters stored lately */
        int dead_next;
        int64_t dead_window_ms;   /* rate limit of unpositioned dead letters */
        int dead_in_window;
        int64_t dead_suppressed;
};

struct ingest {
        const config_t *cfg;
        const bk_clock_t *clock;     /* stamps rate-limited log lines only */
        int64_t now_ms;              /* the monotonic time of the current call */
        ingest_request_t *req;       /* bus requests not yet taken */
        int n_req, cap_req;
        ingest_counts_t counts;      /* not yet taken */
        struct source src[MAX_SOURCES];
        int n_src;
        struct feed_state feed[CFG_MAX_FEEDS];
        bool store_full;             /* the daemon said so (ingest_set_store_full) */
};

static struct source *source_get(ingest_t *in, const char *name, int feed)
{
        for (int i = 0; i < in->n_src; i++)
                if (strcmp(in->src[i].name, name) == 0) {
                        if (feed >= 0)
                                in->src[i].feed = feed;
                        return &in->src[i];
                }
        if (in->n_src == MAX_SOURCES)
                return NULL;
        struct source *s = &in->src[in->n_src++];
        memset(s, 0, sizeof(*s));
        bk_strlcpy(s->name, name, sizeof(s->name));
        s->feed = feed;
        return s;     /* a source we have no position for starts at 0 */
}

/*
 * Whether feed may carry source (config_feed_carries): a feed's declared `sources`, or, for a
 * feed without them, the known sources no feed declares and one new one per such feed. NULL
 * when it may; else the dead letter's reason. A refused source gets no position, so junk
 * `source` values never fill the table (nor the store's, which refills it at every start).
 */
static const char *source_refused(const ingest_t *in, int feed, const char *name)
{
        int undeclared = 0;
        bool known = false;

        for (int i = 0; i < in->n_src && !known; i++)
                known = strcmp(in->src[i].name, name) == 0;
        if (!known && feed >= 0 && feed < in->cfg->n_feeds && in->cfg->feeds[feed].n_sources == 0)
                for (int i = 0; i < in->n_src; i++)
                        undeclared += !config_source_declared(in->cfg, in->src[i].name);
        switch (config_feed_carries(in->cfg, feed, name, known, undeclared)) {
        case CFG_ALLOW:
                return NULL;
        case CFG_REFUSE_OTHER:
                return "envelope.source: not a source this feed carries (feed.sources)";
        case CFG_REFUSE_FULL:
                break;
        }
        return "envelope.source: a second source on a feed that declares none (declare it in feed.sources)";
}

/* Queues a bus request; one that does not fit is logged and dropped (a replay times out and is asked again). */
static void request(ingest_t *in, ingest_request_kind_t kind, int feed, const char *source, int64_t from)
{
        ingest_request_t *q;

        if (in->n_req == in->cap_req) {
                int cap = in->cap_req ? in->cap_req * 2 : 16;
                ingest_request_t *v = realloc(in->req, (size_t)cap * sizeof(*v));
                if (!v) {
                        log_warnx("ingest: out of memory for a request to feed %d", feed);
                        return;
                }
                in->req = v;
                in->cap_req = cap;
        }
        q = &in->req[in->n_req++];
        memset(q, 0, sizeof(*q));
        q->kind = kind;
        q->feed = feed;
        bk_strlcpy(q->source, source ? source : "", sizeof(q->source));
        q->from_seq = from;
        q->max = kind == INGEST_REPLAY ? INGEST_REPLAY_CHUNK : 0;
}

/* Remembers that feed f will answer a replay of s: its unreadable messages take positions from it. */
static void reply_expect(ingest_t *in, int f, struct source *s)
{
        struct feed_state *fs = &in->feed[f];

        if (fs->nq == REPLIES_MAX) {        /* a lost reply's entry: the oldest goes */
                memmove(&fs->q[0], &fs->q[1], (REPLIES_MAX - 1) * sizeof(fs->q[0]));
                fs->nq--;
        }
        fs->q[fs->nq++] = (struct reply){ (int)(s - in->src), s->last_seq + 1, 0 };
}

static void send_replay(ingest_t *in, struct source *s)
{
        int first = s->feed >= 0 ? s->feed : 0, last = s->feed >= 0 ? s->feed : in->cfg->n_feeds - 1;

        /* A source whose feed is unknown (known only from the store) is asked for everywhere. */
        for (int f = first; f <= last; f++) {
                request(in, INGEST_REPLAY, f, s->name, s->last_seq + 1);
                reply_expect(in, f, s);
        }
        s->retry_at_ms = 0;
        s->replay_since_ms = in->now_ms;
        in->counts.replays++;
        char from[24];
        snprintf(from, sizeof(from), "%lld", (long long)s->last_seq + 1);
        if (s->retries < STUCK_AFTER || log_ratelimit(s->name, clock_now(in->clock), 60))
                log_struct(LOG_INFO, LOG_ID_REPLAY, LOG_FIELDS({ "BEVAKA_SOURCE", s->name }, { "BEVAKA_SEQ", from }),
                           "ingest: source %s: asking for replay from seq %s%s", s->name, from,
                           s->retries >= STUCK_AFTER ? " (no progress: backing off)" : "");
}

/*
 * Asks for a replay from the position. Asked again from the same seq without progress in between
 * (an adapter that cannot serve it, a full store that rolls back), it waits RETRY_BASE_MS,
 * doubling up to RETRY_MAX_MS, so a feed that cannot progress does not spin (ingest_tick sends
 * it when due); the source counts as pending meanwhile, so gaps do not ask again.
 */
static void request_replay(ingest_t *in, struct source *s)
{
        int64_t wait;

        if (s->replay_from == s->last_seq + 1 && s->replay_since_ms)
                s->retries++;
        else
                s->retries = 0;
        s->replay_from = s->last_seq + 1;
        s->replay_pending = true;
        wait = s->retries ? BK_MIN((int64_t)RETRY_BASE_MS << BK_MIN(s->retries - 1, 10), RETRY_MAX_MS) : 0;
        if (in->store_full)
                wait = BK_MAX(wait, RETRY_MAX_MS / 10);
        if (wait == 0) {
                send_replay(in, s);
                return;
        }
        s->retry_at_ms = in->now_ms + wait;
        s->replay_since_ms = s->retry_at_ms;     /* the timeout counts from when it goes out */
}

/*
 * Every position goes back to 0 until set again; what was applied after them (and the event time
 * it moved) is rolled back too. Whether a source sends watermarks is remembered.
 */
void ingest_forget_positions(ingest_t *in)
{
        for (int i = 0; i < in->n_src; i++) {
                struct source *s = &in->src[i];
                s->last_seq = s->known_seq = 0;
                s->replay_pending = false;
                s->retry_at_ms = 0;
                s->wm = 0;
                s->n_pend = 0;
        }
        for (int f = 0; f < CFG_MAX_FEEDS; f++)
                in->feed[f].nq = 0;     /* the replies in flight name sources by index */
}

int ingest_set_position(ingest_t *in, const char *source, int64_t last_seq)
{
        struct source *s = source_get(in, source, -1);   /* the store does not say which feed */

        if (!s)
                return -ENOSPC;
        s->last_seq = last_seq;
        return 0;
}

/*
 * With watermarks (the store remembers that the feeds send them), a source's events are judged in
 * event time from the first one on, before its first heartbeat has said so again.
 */
void ingest_resume(ingest_t *in, int64_t now_ms, bool watermarks)
{
        in->now_ms = now_ms;
        for (int i = 0; i < in->n_src; i++) {
                in->src[i].has_wm |= watermarks;
                request_replay(in, &in->src[i]);
        }
}

/*
 * A dead letter: the daemon stores a minimised, masked copy of m's bytes with the reason and logs
 * where it came from (source and seq when readable, never the content). The position is the
 * message's when it has one; the daemon stores it when advance is set.
 */
static void dead_letter(ingest_verdict_t *v, const char *reason, const char *source, int64_t seq,
                        const bus_msg_t *m)
{
        v->outcome = INGEST_DEAD_LETTER;
        bk_strlcpy(v->reason, reason, sizeof(v->reason));
        bk_strlcpy(v->source, source ? source : "", sizeof(v->source));
        v->seq = source && source[0] ? seq : 0;
        v->raw = m->body;
        v->len = m->len;
}

/* Sequencing verdict for (source, seq): apply, drop as duplicate, or drop as gap. */
enum verdict { V_APPLY, V_DUPLICATE, V_GAP };

static enum verdict sequence(ingest_t *in, struct source *s, int64_t seq, bool replay)
{
        if (seq <= s->last_seq)
                return V_DUPLICATE;
        if (seq == s->last_seq + 1)
                return V_APPLY;
        s->known_seq = BK_MAX(s->known_seq, seq);
        if (!s->replay_pending) {
                in->counts.gaps++;
                char last[24], got[24];
                snprintf(last, sizeof(last), "%lld", (long long)s->last_seq);
                snprintf(got, sizeof(got), "%lld", (long long)seq);
                log_struct(LOG_NOTICE, LOG_ID_FEED_GAP,
                           LOG_FIELDS({ "BEVAKA_SOURCE", s->name }, { "BEVAKA_SEQ", last }, { "BEVAKA_GOT_SEQ", got }),
                           "ingest: source %s: gap after seq %s (got %s)", s->name, last, got);
                request_replay(in, s);
        } else if (replay && log_ratelimit("replay skipped", clock_now(in->clock), 60)) {
                log_warnx("ingest: source %s: replay skipped from %lld to %lld", s->name,
                          (long long)s->last_seq, (long long)seq);
        }
        return V_GAP;
}

/* Sequences (s, seq) into the verdict: true when the message is next and goes on to be judged,
 * false when it is a duplicate or a gap (the verdict says which). */
static bool sequence_next(ingest_t *in, struct source *s, int64_t seq, bool replay, ingest_verdict_t *v)
{
        switch (sequence(in, s, seq, replay)) {
        case V_DUPLICATE:
                v->outcome = INGEST_DUPLICATE;
                return false;
        case V_GAP:
                v->outcome = INGEST_GAP;
                return false;
        case V_APPLY:
                break;
        }
        return true;
}

/* Watermarks whose position has been reached hold now. */
static void wm_settle(struct source *s)
{
        int k = 0;

        while (k < s->n_pend && s->pend[k].last_seq <= s->last_seq) {
                s->wm = BK_MAX(s->wm, s->pend[k].at);
                k++;
        }
        memmove(&s->pend[0], &s->pend[k], (size_t)(s->n_pend - k) * sizeof(s->pend[0]));
        s->n_pend -= k;
}

/* A watermark given at last_seq, kept in order of last_seq; when full, the newest is replaced. */
static void wm_add(struct source *s, int64_t last_seq, bk_time_t at)
{
        int i;

        s->has_wm = true;
        s->latest = (struct wm_mark){ last_seq, at };
        if (s->n_pend == WM_PENDING)
                s->n_pend--;
        for (i = s->n_pend; i > 0 && s->pend[i - 1].last_seq > last_seq; i--)
                s->pend[i] = s->pend[i - 1];
        s->pend[i] = (struct wm_mark){ last_seq, at };
        s->n_pend++;
        wm_settle(s);
}

/* In sequence: the position moves on here, and the daemon stores it with what the verdict says. */
static void advance(struct source *s, int64_t seq, ingest_verdict_t *v)
{
        s->last_seq = seq;
        s->known_seq = BK_MAX(s->known_seq, seq);
        v->advance = true;
        wm_settle(s);
}

/* FNV-1a: tells a replayed copy of bytes already dead-lettered live. */
static uint64_t bytes_hash(const char *p, size_t n)
{
        uint64_t h = 1469598103934665603ULL;

        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
        return h;
}

/*
 * A message with no readable position on the live feed: a dead letter without a position, at
 * most LIVE_DEAD_PER_S per feed and second (the rest are counted, not stored: the replay that
 * the following gap asks for brings each one again at its position).
 */
static void dead_unpositioned(ingest_t *in, const bus_msg_t *m, const char *reason, ingest_verdict_t *v)
{
        struct feed_state *fs = &in->feed[m->feed];

        if (in->now_ms - fs->dead_window_ms >= 1000) {
                fs->dead_window_ms = in->now_ms;
                fs->dead_in_window = 0;
        }
        if (fs->dead_in_window >= LIVE_DEAD_PER_S) {
                fs->dead_suppressed++;
                return;       /* INGEST_NONE */
        }
        fs->dead_in_window++;
        fs->dead_hash[fs->dead_next] = bytes_hash(m->body, m->len);
        fs->dead_next = (fs->dead_next + 1) % LIVE_DEAD_MEMO;
        dead_letter(v, reason, NULL, 0, m);
}

/*
 * An unreadable message in a replay reply takes the reply's next position: it is dead-lettered
 * there and the position moves on (a copy already dead-lettered live only moves it). Without a
 * reply in flight it has no position.
 */
static void dead_in_reply(ingest_t *in, const bus_msg_t *m, const char *reason, ingest_verdict_t *v)
{
        struct feed_state *fs = &in->feed[m->feed];
        struct source *s;
        int64_t pos;

        if (fs->nq == 0 || fs->q[0].src >= in->n_src) {
                dead_unpositioned(in, m, reason, v);
                return;
        }
        s = &in->src[fs->q[0].src];
        pos = fs->q[0].next++;
        fs->q[0].got++;
        s->replay_since_ms = in->now_ms;
        bk_strlcpy(v->source, s->name, sizeof(v->source));
        v->seq = pos;
        if (!sequence_next(in, s, pos, true, v))
                return;
        dead_letter(v, reason, s->name, pos, m);
        for (int k = 0; k < LIVE_DEAD_MEMO; k++)
                if (fs->dead_hash[k] && fs->dead_hash[k] == bytes_hash(m->body, m->len)) {
                        fs->dead_hash[k] = 0;
                        v->raw = NULL;       /* stored when it came live: only the position */
                        v->len = 0;
                        break;
                }
        advance(s, pos, v);
}

/* A readable message of a reply: the reply's next position follows it. */
static void reply_saw(ingest_t *in, const bus_msg_t *m, const struct source *s, int64_t seq)
{
        struct feed_state *fs = &in->feed[m->feed];

        if (m->replay && fs->nq > 0 && &in->src[fs->q[0].src] == s) {
                fs->q[0].next = seq + 1;
                fs->q[0].got++;
        }
}

static void handle_event(ingest_t *in, const bus_msg_t *m, ingest_verdict_t *v)
{
        char reason[256];
        event_t *ev = &v->event;
        struct source *s;
        int r;

        r = event_parse(m->body, m->len, ev, reason, sizeof(reason));
        if (r == 0 && strcmp(m->type, ev->type_name) != 0) {
                snprintf(reason, sizeof(reason), "frames: type frame does not match envelope.type");
                r = BK_E_INVALID;
        }
        if (r != 0 && ev->seq <= 0) {
                /* nothing to sequence by: a reply gives it its position, the live feed none */
                if (m->replay)
                        dead_in_reply(in, m, reason, v);
                else
                        dead_unpositioned(in, m, reason, v);
                return;
        }
        const char *refused = source_refused(in, m->feed, ev->source);
        if (refused) {
                dead_letter(v, refused, NULL, 0, m);   /* not sequenced: no position, no table entry */
                return;
        }
        s = source_get(in, ev->source, m->feed);
        if (!s) {
                /* logged at its position, which is not stored: this source is not sequenced */
                dead_letter(v, "envelope.source: too many sources", ev->source, ev->seq, m);
                return;
        }
        bk_strlcpy(v->source, s->name, sizeof(v->source));
        v->seq = ev->seq;
        reply_saw(in, m, s, ev->seq);
        /* A replay times out after REPLAY_TIMEOUT_MS without a replayed message, not after a fixed
         * time: a long one (a big backlog) is still streaming. */
        if (m->replay && s->replay_pending)
                s->replay_since_ms = in->now_ms;
        if (!sequence_next(in, s, ev->seq, m->replay, v))
                return;
        if (r != 0) {
                dead_letter(v, reason, s->name, ev->seq, m);   /* invalid but sequenced: seq still advances */
        } else {
                v->outcome = INGEST_APPLY;
                /* An adapter that sends watermarks publishes in `at` order: all before this is in. */
                if (s->has_wm)
                        s->wm = BK_MAX(s->wm, ev->at - 1);
        }
        advance(s, ev->seq, v);
}

typedef struct control {
        char source[EV_SOURCE_MAX + 1];
        int64_t last;
        bool has_wm;
        bk_time_t wm;
} control_t;

/* Parses {"op":OP,"source":S,"last_seq":N[,"watermark":T]}; false if malformed. */
static bool parse_control(const bus_msg_t *m, const char *op, control_t *c)
{
        json_t *j = json_loadb(m->body, m->len, 0, NULL), *w;
        const char *o = NULL, *src = NULL;
        json_int_t n = -1;
        bool ok = j && json_unpack(j, "{s:s, s:s, s:I}", "op", &o, "source", &src, "last_seq", &n) == 0 &&
                  strcmp(o, op) == 0 && n >= 0 && name_ok(src) &&
                  !event_has_personnummer(src);   /* a source name is stored and logged */
        if (ok) {
                bk_strlcpy(c->source, src, sizeof(c->source));
                c->last = n;
                /* A watermark that does not parse is ignored, as an unknown member would be. */
                w = json_object_get(j, "watermark");
                c->has_wm = json_is_string(w) && cal_parse_rfc3339(json_string_value(w), &c->wm) == 0;
        }
        json_decref(j);
        return ok;
}

static void handle_heartbeat(ingest_t *in, const bus_msg_t *m)
{
        control_t c;
        struct source *s;

        if (!parse_control(m, "heartbeat", &c)) {
                if (log_ratelimit("bad heartbeat", clock_now(in->clock), 60))
                        log_warnx("ingest: feed %d: malformed heartbeat ignored", m->feed);
                return;
        }
        if (source_refused(in, m->feed, c.source) || !(s = source_get(in, c.source, m->feed)))
                return;
        s->known_seq = BK_MAX(s->known_seq, c.last);
        if (c.has_wm)
                wm_add(s, c.last, c.wm);
        s->heard = true;
        /* The Clone pattern's HUGZ: this is how a lost *last* event is noticed. */
        if (c.last > s->last_seq && !s->replay_pending)
                request_replay(in, s);
}

/*
 * The end of a reply. It ended short of what it said it sent (the HWM dropped some): ask again.
 * It sent all it was asked for (a chunk, protocol §6): ask for the next one, now that this one
 * has been judged (credit-based flow control).
 */
static void handle_replay_end(ingest_t *in, const bus_msg_t *m)
{
        struct feed_state *fs = &in->feed[m->feed];
        control_t c;
        struct source *s;
        int64_t got = -1;

        if (!parse_control(m, "replay_end", &c)) {
                if (log_ratelimit("bad replay_end", clock_now(in->clock), 60))
                        log_warnx("ingest: feed %d: unexpected message on replay socket", m->feed);
                return;
        }
        if (source_refused(in, m->feed, c.source) || !(s = source_get(in, c.source, c.last > 0 ? m->feed : -1)))
                return;
        for (int k = 0; k < fs->nq; k++)
                if (&in->src[fs->q[k].src] == s) {      /* its reply (an earlier one was lost) */
                        got = fs->q[k].got;
                        memmove(&fs->q[k], &fs->q[k + 1], (size_t)(fs->nq - k - 1) * sizeof(fs->q[0]));
                        fs->nq--;
                        break;
                }
        s->replay_pending = false;
        s->known_seq = BK_MAX(s->known_seq, c.last);
        if (c.has_wm)
                wm_add(s, c.last, c.wm);
        log_debug("ingest: source %s: replay ended at %lld (we are at %lld)", s->name,
                  (long long)c.last, (long long)s->last_seq);
        if (c.last > s->last_seq || (got >= INGEST_REPLAY_CHUNK && c.last == s->last_seq))
                request_replay(in, s);
}

void ingest_handle(ingest_t *in, const bus_msg_t *m, int64_t now_ms, ingest_verdict_t *v)
{

        v->outcome = INGEST_NONE;        /* v->event is meaningful only for INGEST_APPLY */
        v->reason[0] = v->source[0] = '\0';
        v->seq = 0;
        v->advance = false;
        v->raw = NULL;
        v->len = 0;
        in->now_ms = now_ms;
        in->feed[m->feed].last_heard_ms = now_ms;
        if (in->feed[m->feed].silent) {
                in->feed[m->feed].silent = false;
                log_notice("ingest: feed %d is heard again", m->feed);
        }
        switch (m->kind) {
        case BUS_EVENT:
                handle_event(in, m, v);
                return;
        case BUS_BAD:
                if (m->replay)
                        dead_in_reply(in, m, m->reason, v);
                else
                        dead_unpositioned(in, m, m->reason, v);
                return;
        case BUS_HEARTBEAT:
                handle_heartbeat(in, m);     /* never work: it only tells where the adapter is */
                return;
        case BUS_REPLAY_END:
                handle_replay_end(in, m);
                return;
        case BUS_NONE:
                break;
        }
}

/* Replays that timed out are asked again; deferred ones go out when due. */
static void tick_replays(ingest_t *in, int64_t now)
{
        for (int i = 0; i < in->n_src; i++) {
                struct source *s = &in->src[i];
                if (s->replay_pending && s->retry_at_ms && now >= s->retry_at_ms) {
                        send_replay(in, s);
                } else if (s->replay_pending && now - s->replay_since_ms > REPLAY_TIMEOUT_MS) {
                        if (s->retries < STUCK_AFTER || log_ratelimit("replay timed out", clock_now(in->clock), 60))
                                log_warnx("ingest: source %s: replay timed out", s->name);
                        s->replay_pending = false;     /* the next heartbeat or gap asks again */
                }
        }
}

void ingest_tick(ingest_t *in, int64_t now)
{
        in->now_ms = now;

        tick_replays(in, now);
        for (int f = 0; f < in->cfg->n_feeds; f++) {
                struct feed_state *fs = &in->feed[f];
                if (now - fs->last_heard_ms < (int64_t)in->cfg->feed_silence_s * 1000)
                        continue;
                if (!fs->silent) {
                        log_warnx("ingest: feed %d (%s) silent for %ds; reconnecting", f,
                                  in->cfg->feeds[f].endpoint, in->cfg->feed_silence_s);
                        fs->silences++;
                }
                fs->silent = true;
                fs->reconnects++;
                fs->last_heard_ms = now;     /* next attempt after another silence period */
                fs->nq = 0;                  /* new sockets: no reply of the old ones comes */
                request(in, INGEST_RECONNECT, f, NULL, 0);
                for (int i = 0; i < in->n_src; i++)
                        if (in->src[i].feed == f || in->src[i].feed < 0) {
                                in->src[i].replay_pending = false;
                                request_replay(in, &in->src[i]);
                        }
        }
}

bool ingest_catching_up(const ingest_t *in)
{
        /* Behind what the adapter told us it has (heartbeat, replay end). */
        for (int i = 0; i < in->n_src; i++)
                if (in->src[i].replay_pending || in->src[i].last_seq < in->src[i].known_seq)
                        return true;
        return false;
}

bool ingest_in_history(const ingest_t *in, bk_time_t clock_now_s)
{
        bk_time_t behind = clock_now_s - (bk_time_t)in->cfg->delivery.behind_days * 86400;

        if (ingest_catching_up(in))
                return true;
        /* An adapter heard in this run (feed >= 0) that has not said yet where it stands, or whose
         * watermark is more than delivery.behind_days behind the clock, may be sending a history:
         * so a history is judged alike however fast it comes, and not by whether a heartbeat
         * happened to overtake its events in our receive queue (issue 12). */
        for (int i = 0; i < in->n_src; i++) {
                const struct source *s = &in->src[i];
                if (s->feed >= 0 && (!s->heard || (s->has_wm && s->latest.at < behind)))
                        return true;
        }
        return false;
}

/*
 * Event time (protocol §6): a source with a watermark holds time at it; one without lets time
 * run to the clock once its position reached what the adapter told us and no replay is pending,
 * else holds it (INT64_MIN), as does one not heard from yet. A source whose held watermark is
 * the adapter's present (within LIVE_SLACK_S of the wall clock) is live: nothing older is on its
 * way, so it lets time run to the daemon's clock, which the manual clock may have set ahead of
 * the wall clock.
 */
/* Until its first heartbeat we do not know whether it sends watermarks, nor its last_seq. */
static bool source_caught_up(const struct source *s)
{
        return s->heard && !s->replay_pending && s->last_seq >= s->known_seq;
}

/*
 * Caught up with an adapter whose watermark is the present: time may run to the clock. The
 * position having reached the seq that watermark holds at, and every seq known of, is enough: a
 * replay reply's end that is still on its way brings nothing older (else a restart that catches
 * up through a replay would stop time at the wall clock's present for a moment, and run a day
 * there that an uninterrupted run never does). A gap is not: what fills it may be older.
 */
static bool source_live(const struct source *s, bk_time_t wall_now_s)
{
        return s->heard && s->has_wm && s->latest.at >= wall_now_s - LIVE_SLACK_S &&
               s->latest.last_seq <= s->last_seq && s->known_seq <= s->last_seq;
}

bk_time_t ingest_time_limit(const ingest_t *in, bk_time_t clock_now_s, bk_time_t wall_now_s)
{
        bk_time_t t = clock_now_s;

        /* No adapter heard yet (a new store): its history may be about to come, so time waits for
         * it as for a source not caught up, rather than running to the clock before it arrives. */
        if (in->n_src == 0 && in->cfg->n_feeds > 0)
                return INT64_MIN;

        for (int i = 0; i < in->n_src; i++) {
                const struct source *s = &in->src[i];
                if (source_live(s, wall_now_s))
                        continue;
                if (s->has_wm)
                        t = BK_MIN(t, s->wm ? s->wm : INT64_MIN);
                else if (!source_caught_up(s))
                        return INT64_MIN;
        }
        return t;
}

bool ingest_has_watermarks(const ingest_t *in)
{
        for (int i = 0; i < in->n_src; i++)
                if (in->src[i].has_wm)
                        return true;
        return false;
}

void ingest_set_store_full(ingest_t *in, bool full)
{
        in->store_full = full;
}

static bool source_stuck(const struct source *s)
{
        return s->replay_pending && s->retries >= STUCK_AFTER && s->replay_from == s->last_seq + 1;
}

json_t *ingest_feeds_json(const ingest_t *in, bk_time_t wall_now_s)
{
        json_t *arr = json_array();
        for (int i = 0; i < in->n_src; i++) {
                const struct source *s = &in->src[i];
                char wm[40] = "";
                if (s->has_wm && s->wm)
                        cal_format_rfc3339(s->wm, wm, sizeof(wm));
                json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:b, s:b, s:I, s:s?, s:b}", "source", s->name,
                                                     "last_seq", (json_int_t)s->last_seq,
                                                     "known_seq", (json_int_t)s->known_seq,
                                                     "replaying", s->replay_pending, "stuck", source_stuck(s),
                                                     "replay_retries", (json_int_t)s->retries,
                                                     "watermark", wm[0] ? wm : NULL,
                                                     "live", source_live(s, wall_now_s)));
        }
        return arr;
}

json_t *ingest_endpoints_json(const ingest_t *in)
{
        json_t *arr = json_array();
        for (int f = 0; f < in->cfg->n_feeds; f++)
                json_array_append_new(arr, json_pack("{s:s, s:b, s:I, s:I, s:I}", "endpoint",
                                                     in->cfg->feeds[f].endpoint, "silent", in->feed[f].silent,
                                                     "silences", (json_int_t)in->feed[f].silences,
                                                     "reconnects", (json_int_t)in->feed[f].reconnects,
                                                     "dead_letters_suppressed",
                                                     (json_int_t)in->feed[f].dead_suppressed));
        return arr;
}

/* "1 feeds ok", "1 of 2 feeds silent", "source X stuck at seq N", "store full": what STATUS= says. */
void ingest_status(const ingest_t *in, char *buf, size_t n)
{
        int silent = 0;
        size_t k;

        for (int f = 0; f < in->cfg->n_feeds; f++)
                silent += in->feed[f].silent;
        if (silent)
                k = (size_t)snprintf(buf, n, "%d of %d feeds silent", silent, in->cfg->n_feeds);
        else
                k = (size_t)snprintf(buf, n, "%d feeds ok", in->cfg->n_feeds);
        for (int i = 0; i < in->n_src && k < n; i++)
                if (source_stuck(&in->src[i]))
                        k += (size_t)snprintf(buf + k, n - k, ", source %s stuck at seq %lld", in->src[i].name,
                                              (long long)in->src[i].last_seq + 1);
        if (in->store_full && k < n)
                snprintf(buf + k, n - k, ", store full");
}

const ingest_request_t *ingest_requests(const ingest_t *in, int *n)
{
        *n = in->n_req;
        return in->req;
}

void ingest_requests_clear(ingest_t *in)
{
        in->n_req = 0;
}

ingest_counts_t ingest_counts_take(ingest_t *in)
{
        ingest_counts_t c = in->counts;

        memset(&in->counts, 0, sizeof(in->counts));
        return c;
}

int ingest_new(const config_t *cfg, const bk_clock_t *clock, int64_t now_ms, ingest_t **out)
{
        ingest_t *in = calloc(1, sizeof(*in));
        if (!in)
                return -ENOMEM;
        in->cfg = cfg;
        in->clock = clock;
        in->now_ms = now_ms;
        for (int f = 0; f < CFG_MAX_FEEDS; f++)
                in->feed[f].last_heard_ms = now_ms;
        *out = in;
        return 0;
}

void ingest_free(ingest_t **in)
{
        if (!*in)
                return;
        free((*in)->req);
        free(*in);
        *in = NULL;
}
