/*
 * outbox.c owns the published-up-to mark and the offer of the tail after a
 * restart (outbox.h says why). It keeps one pending (rseq, time) pair: the
 * highest rseq handed to the bus when the pair was taken. The pair becomes
 * the stored mark once it is OUTBOX_SETTLE_MS old, and only then is a new
 * one taken, so under a steady stream the mark lags by one to two settle
 * intervals and is written once per interval. Granted prefixes are kept
 * until the next offer; when there are more than OUTBOX_PREFIXES of them
 * (or one is "", an admin's), the whole tail goes out once for all of them.
 */
#include <stdio.h>
#include "log.h"
#include "outbox.h"

#define OUTBOX_PREFIXES 64
#define OUTBOX_PREFIX_MAX 160

struct outbox {
        store_t *store;
        int64_t tail_from, tail_to;       /* (from, to]: the messages that may not have left */
        int64_t tail_until_ms;            /* offered to subscriptions granted before this */
        bool tail_open;
        int64_t pending_rseq, pending_ms; /* sent by then; the mark once it has settled */
        int64_t sent;                     /* the highest rseq handed to the bus this run */
        int n_prefixes;
        bool all;                         /* an admin's "" or too many to list: the whole tail */
        size_t len[OUTBOX_PREFIXES];
        char prefix[OUTBOX_PREFIXES][OUTBOX_PREFIX_MAX];
};

int outbox_new(store_t *s, int64_t now_ms, outbox_t **out)
{
        outbox_t *o = calloc(1, sizeof(*o));

        if (!o)
                return -ENOMEM;
        o->store = s;
        o->tail_from = store_counter(s, CNT_PUBLISHED);
        o->tail_to = store_counter(s, CNT_RSEQ);
        o->tail_open = o->tail_to > o->tail_from;
        o->tail_until_ms = now_ms + OUTBOX_TAIL_MS;
        o->pending_rseq = o->tail_from;
        if (o->tail_open)
                log_notice("outbox: %lld message(s) (rseq %lld..%lld) may not have left before the last stop; "
                           "offering them again to every subscriber that connects in the next %d s",
                           (long long)(o->tail_to - o->tail_from), (long long)o->tail_from + 1,
                           (long long)o->tail_to, OUTBOX_TAIL_MS / 1000);
        *out = o;
        return 0;
}

void outbox_free(outbox_t **o)
{
        free(*o);
        *o = NULL;
}

bool outbox_offering(const outbox_t *o)
{
        return o->tail_open;
}

void outbox_sent(outbox_t *o, int64_t rseq, int64_t now_ms)
{
        o->sent = BK_MAX(o->sent, rseq);
        /* a new pair only once the last one is stored: otherwise it would never grow old */
        if (!o->tail_open && o->pending_rseq <= store_counter(o->store, CNT_PUBLISHED) &&
            o->sent > o->pending_rseq) {
                o->pending_rseq = o->sent;
                o->pending_ms = now_ms;
        }
}

void outbox_settle(outbox_t *o, int64_t now_ms)
{
        int64_t mark = store_counter(o->store, CNT_PUBLISHED);

        if (o->tail_open || o->pending_rseq <= mark || now_ms - o->pending_ms < OUTBOX_SETTLE_MS)
                return;
        store_counter_set(o->store, CNT_PUBLISHED, o->pending_rseq);
}

void outbox_subscribed(void *ud, const char *prefix, size_t len)
{
        outbox_t *o = ud;

        if (!o->tail_open || o->all)
                return;
        if (len == 0 || len >= OUTBOX_PREFIX_MAX || o->n_prefixes == OUTBOX_PREFIXES) {
                o->all = true;
                return;
        }
        memcpy(o->prefix[o->n_prefixes], prefix, len);
        o->len[o->n_prefixes++] = len;
}

struct offer {
        const outbox_t *o;
        engine_publish_fn fn;
        void *ud;
        int n;
};

static int offer_one(void *ud, int64_t rseq, const char *topic, const char *payload)
{
        struct offer *w = ud;
        bool match = w->o->all;

        (void)rseq;
        for (int i = 0; !match && i < w->o->n_prefixes; i++)
                match = strncmp(topic, w->o->prefix[i], w->o->len[i]) == 0;
        if (match) {
                w->fn(w->ud, topic, payload);
                w->n++;
        }
        return 0;
}

int outbox_offer(outbox_t *o, int64_t now_ms, engine_publish_fn fn, void *ud)
{
        struct offer w = { o, fn, ud, 0 };
        int r = 0;

        if (!o->tail_open)
                return 0;
        if (o->all || o->n_prefixes > 0)
                r = store_outbox_each(o->store, o->tail_from, o->tail_to, offer_one, &w);
        o->n_prefixes = 0;
        o->all = false;
        if (r < 0)
                return r;
        if (w.n > 0)
                log_info("outbox: offered %d message(s) of the tail again to new subscribers", w.n);
        if (now_ms >= o->tail_until_ms) {
                /* offered to everyone who came back: the mark may move on from here */
                o->tail_open = false;
                o->pending_rseq = BK_MAX(o->tail_to, o->sent);
                o->pending_ms = now_ms;
                log_info("outbox: the tail has been offered for %d s; done", OUTBOX_TAIL_MS / 1000);
        }
        return w.n;
}

int outbox_stop(outbox_t *o)
{
        int64_t mark = store_counter(o->store, CNT_PUBLISHED);
        int r;

        if (o->tail_open || o->sent <= mark)
                return 0;
        if ((r = store_begin(o->store)) < 0)
                return r;
        store_counter_set(o->store, CNT_PUBLISHED, o->sent);
        if ((r = store_commit(o->store)) < 0)
                store_rollback(o->store);
        return r;
}
