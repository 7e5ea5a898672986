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
 * It is a pure sequencer, owning no socket, store or engine: each call
 * takes the message (or the turn) and the monotonic time, says what became
 * of the message in an ingest_verdict_t, and queues what it needs from the
 * bus (a replay from seq N, a feed's reconnect) and counts gaps and replays
 * for the daemon to perform and store, so that gaps, replay timeouts,
 * silence and heartbeats are tested without processes or a database.
 */
#include <stdio.h>
#include "event.h"
#include "ingest.h"
#include "log.h"
#include "name.h"

#define MAX_SOURCES 256
#define REPLAY_TIMEOUT_MS 5000

struct source {
        char name[EV_SOURCE_MAX + 1];
        int feed;                 /* where we last heard it; -1 = unknown */
        int64_t last_seq;         /* the position: applied or dead-lettered (the daemon stores it) */
        int64_t known_seq;        /* highest seq the adapter told us of */
        bool replay_pending;
        int64_t replay_since_ms;     /* when it was asked for, or its last message came */
};

struct feed_state {
        int64_t last_heard_ms;
        bool silent;
        int reconnects;
        int64_t silences;         /* times it fell silent (for the metrics) */
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
}

static void request_replay(ingest_t *in, struct source *s)
{
        int first = s->feed >= 0 ? s->feed : 0, last = s->feed >= 0 ? s->feed : in->cfg->n_feeds - 1;

        /* A source whose feed is unknown (known only from the store) is asked for everywhere. */
        for (int f = first; f <= last; f++)
                request(in, INGEST_REPLAY, f, s->name, s->last_seq + 1);
        s->replay_pending = true;
        s->replay_since_ms = in->now_ms;
        in->counts.replays++;
        char from[24];
        snprintf(from, sizeof(from), "%lld", (long long)s->last_seq + 1);
        log_struct(LOG_INFO, LOG_ID_REPLAY, LOG_FIELDS({ "BEVAKA_SOURCE", s->name }, { "BEVAKA_SEQ", from }),
                   "ingest: source %s: asking for replay from seq %s", s->name, from);
}

void ingest_forget_positions(ingest_t *in)
{
        in->n_src = 0;
}

int ingest_set_position(ingest_t *in, const char *source, int64_t last_seq)
{
        struct source *s = source_get(in, source, -1);   /* the store does not say which feed */

        if (!s)
                return -ENOSPC;
        s->last_seq = last_seq;
        return 0;
}

void ingest_resume(ingest_t *in, int64_t now_ms)
{
        in->now_ms = now_ms;
        for (int i = 0; i < in->n_src; i++)
                request_replay(in, &in->src[i]);
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

/* In sequence: the position moves on here, and the daemon stores it with what the verdict says. */
static void advance(struct source *s, int64_t seq, ingest_verdict_t *v)
{
        s->last_seq = seq;
        s->known_seq = BK_MAX(s->known_seq, seq);
        v->advance = true;
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
                dead_letter(v, reason, NULL, 0, m);   /* nothing to sequence by */
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
        /* A replay times out after REPLAY_TIMEOUT_MS without a replayed message, not after a fixed
         * time: a long one (a big backlog) is still streaming. */
        if (m->replay && s->replay_pending)
                s->replay_since_ms = in->now_ms;
        switch (sequence(in, s, ev->seq, m->replay)) {
        case V_DUPLICATE:
                v->outcome = INGEST_DUPLICATE;
                return;
        case V_GAP:
                v->outcome = INGEST_GAP;
                return;
        case V_APPLY:
                break;
        }
        if (r != 0)
                dead_letter(v, reason, s->name, ev->seq, m);   /* invalid but sequenced: seq still advances */
        else
                v->outcome = INGEST_APPLY;
        advance(s, ev->seq, v);
}

/* Parses {"op":OP,"source":S,"last_seq":N}; false if malformed. */
static bool parse_control(const bus_msg_t *m, const char *op, char *source, size_t sn, int64_t *last)
{
        json_t *j = json_loadb(m->body, m->len, 0, NULL);
        const char *o = NULL, *src = NULL;
        json_int_t n = -1;
        bool ok = j && json_unpack(j, "{s:s, s:s, s:I}", "op", &o, "source", &src, "last_seq", &n) == 0 &&
                  strcmp(o, op) == 0 && n >= 0 && name_ok(src) &&
                  !event_has_personnummer(src);   /* a source name is stored and logged */
        if (ok) {
                bk_strlcpy(source, src, sn);
                *last = n;
        }
        json_decref(j);
        return ok;
}

void ingest_handle(ingest_t *in, const bus_msg_t *m, int64_t now_ms, ingest_verdict_t *v)
{
        char source[EV_SOURCE_MAX + 1];
        struct source *s;
        int64_t last;

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
                dead_letter(v, m->reason, NULL, 0, m);
                return;
        case BUS_HEARTBEAT:
                if (!parse_control(m, "heartbeat", source, sizeof(source), &last)) {
                        if (log_ratelimit("bad heartbeat", clock_now(in->clock), 60))
                                log_warnx("ingest: feed %d: malformed heartbeat ignored", m->feed);
                        return;
                }
                if (source_refused(in, m->feed, source) || !(s = source_get(in, source, m->feed)))
                        return;
                s->known_seq = BK_MAX(s->known_seq, last);
                /* The Clone pattern's HUGZ: this is how a lost *last* event is noticed. */
                if (last > s->last_seq && !s->replay_pending)
                        request_replay(in, s);
                return;
        case BUS_REPLAY_END:
                if (!parse_control(m, "replay_end", source, sizeof(source), &last)) {
                        log_warnx("ingest: feed %d: unexpected message on replay socket", m->feed);
                        return;
                }
                if (source_refused(in, m->feed, source) || !(s = source_get(in, source, last > 0 ? m->feed : -1)))
                        return;
                s->replay_pending = false;
                s->known_seq = BK_MAX(s->known_seq, last);
                log_debug("ingest: source %s: replay ended at %lld (we are at %lld)", s->name,
                          (long long)last, (long long)s->last_seq);
                if (last > s->last_seq)
                        request_replay(in, s);   /* the replay itself lost messages (HWM) */
                return;
        case BUS_NONE:
                break;
        }
}

void ingest_tick(ingest_t *in, int64_t now)
{
        in->now_ms = now;

        for (int i = 0; i < in->n_src; i++) {
                struct source *s = &in->src[i];
                if (s->replay_pending && now - s->replay_since_ms > REPLAY_TIMEOUT_MS) {
                        log_warnx("ingest: source %s: replay timed out", s->name);
                        s->replay_pending = false;
                }
        }
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
        /* Behind what the adapter told us it has (heartbeat, replay end) counts as catching up:
         * time-driven rules must not run ahead of a history that is still arriving. */
        for (int i = 0; i < in->n_src; i++)
                if (in->src[i].replay_pending || in->src[i].last_seq < in->src[i].known_seq)
                        return true;
        return false;
}

json_t *ingest_feeds_json(const ingest_t *in)
{
        json_t *arr = json_array();
        for (int i = 0; i < in->n_src; i++)
                json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:b}", "source", in->src[i].name,
                                                     "last_seq", (json_int_t)in->src[i].last_seq,
                                                     "known_seq", (json_int_t)in->src[i].known_seq,
                                                     "replaying", in->src[i].replay_pending));
        return arr;
}

json_t *ingest_endpoints_json(const ingest_t *in)
{
        json_t *arr = json_array();
        for (int f = 0; f < in->cfg->n_feeds; f++)
                json_array_append_new(arr, json_pack("{s:s, s:b, s:I, s:I}", "endpoint", in->cfg->feeds[f].endpoint,
                                                     "silent", in->feed[f].silent,
                                                     "silences", (json_int_t)in->feed[f].silences,
                                                     "reconnects", (json_int_t)in->feed[f].reconnects));
        return arr;
}

void ingest_status(const ingest_t *in, char *buf, size_t n)
{
        int silent = 0;
        for (int f = 0; f < in->cfg->n_feeds; f++)
                silent += in->feed[f].silent;
        if (silent)
                snprintf(buf, n, "%d of %d feeds silent", silent, in->cfg->n_feeds);
        else
                snprintf(buf, n, "%d feeds ok", in->cfg->n_feeds);
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
