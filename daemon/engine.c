/*
 * engine.c owns the reminder lifecycle and the glue between events, the
 * rules and the store. Decoded case states are cached (bounded) across
 * transactions, written back when a batch commits and dropped when it is
 * rolled back. A batch is engine_begin(now) … engine_commit(): every write
 * in it is stamped with the one `now` it was given. Publishing is two-phase:
 * every message gets its rseq and an outbox row inside the transaction and
 * sits in a queue until engine_commit() has committed the store.
 */
#include <limits.h>
#include <stdio.h>
#include "deliver.h"
#include "engine.h"
#include "indicators.h"
#include "log.h"
#include "rules.h"

/*
 * Decoded case states kept (4.5 KB each): enough for the cases a district works on in a few
 * weeks, which is what a feed's events touch, not for the whole district (issue 12: memory is
 * bounded by the feed, not by the store). Tests set less (engine_set_cache_limit).
 */
#define CACHE_MAX 8192


struct cached_case {
        char id[EV_NAME_MAX + 1];
        case_state_t *st;
        bool dirty;
        bool used;              /* looked up since the last eviction (second chance) */
        bool stored;            /* the case has a row, whose wake day is stored_wake */
        bk_time_t closed_at;    /* when the case closed: the closing event's `at`; 0 while open */
        cal_day_t stored_wake;
        /* The case's open reminders, as their rows in the store, ascending (new rows are
         * always higher): kept in the case's row, so finding them needs no index to write. */
        int64_t *rems;
        int n_rems, cap_rems;
};

struct engine {
        const config_t *cfg;
        store_t *store;
        const bk_clock_t *clock;
        bool rebuild;
        bk_time_t now;          /* the batch's time, given once by engine_begin */
        /* per-transaction case cache: open addressing, power-of-two size */
        struct cached_case *cache;
        size_t cache_size, cache_used;
        size_t cache_max;       /* CACHE_MAX; less in tests (engine_set_cache_limit) */
        size_t cache_dirty;     /* changed states not yet written: flush is free when 0 */
        uint8_t *enc;           /* the store form being written (grown as needed) */
        size_t enc_cap;
        char *rems_text;        /* a case's rems as stored (grown as needed) */
        size_t rems_cap;
        /* publish queue */
        engine_msg_t *queue;
        size_t queue_n, queue_cap;
        int64_t sent;           /* the highest rseq handed to a publish function */
        /* delivery (deliver.c): ingest is catching up; the event being applied is a go-live's;
         * a go-live import was seen and its summaries are not sent yet. The go-live round (the
         * import's time while it lasts, 0: none) is the store's counter CNT_GOLIVE_AT, so that a
         * restart in the middle of an import continues it. */
        bool catching_up;
        bool replaying;           /* behind the adapter's position: the leads' digests wait */
        bk_time_t golive_event;   /* the go-live moment what is being scheduled belongs to; 0: none */
        bool summaries_due;       /* go-live backlog may be waiting for its summaries (true at start) */
};

/* The running go-live round's time; 0: none. */
static bk_time_t golive_round(engine_t *e)
{
        return store_counter(e->store, CNT_GOLIVE_AT);
}

/* ---- case cache ---------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
        uint64_t h = 1469598103934665603ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return h;
}

static void mark_dirty(engine_t *e, struct cached_case *c)
{
        if (!c->dirty)
                e->cache_dirty++;
        c->dirty = true;
}

static int rems_add(struct cached_case *c, int64_t row)
{
        if (c->n_rems == c->cap_rems) {
                int cap = c->cap_rems ? c->cap_rems * 2 : 8;
                int64_t *v = realloc(c->rems, (size_t)cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                c->rems = v;
                c->cap_rems = cap;
        }
        c->rems[c->n_rems++] = row;
        return 0;
}

static int rems_add_cb(void *ud, int64_t row)
{
        return rems_add(ud, row);
}

static void rems_remove(struct cached_case *c, int64_t row)
{
        for (int i = 0; i < c->n_rems; i++)
                if (c->rems[i] == row) {
                        memmove(&c->rems[i], &c->rems[i + 1], (size_t)(c->n_rems - i - 1) * sizeof(*c->rems));
                        c->n_rems--;
                        return;
                }
}

static int save_case(engine_t *e, struct cached_case *c)
{
        const char *rems = store_rems_encode(c->rems, c->n_rems, &e->rems_text, &e->rems_cap);
        if (!rems)
                return -ENOMEM;
        size_t n = rules_state_encode(c->st, e->enc, e->enc_cap);
        if (n > e->enc_cap) {
                uint8_t *b = realloc(e->enc, n);
                if (!b)
                        return -ENOMEM;
                e->enc = b;
                e->enc_cap = n;
                rules_state_encode(c->st, e->enc, e->enc_cap);
        }
        cal_day_t wake = rules_next_wake(&e->cfg->rules, c->st);
        bk_time_t closed_at = c->closed_at ? c->closed_at : clock_now(e->clock);
        int r = BK_E_NOT_FOUND;

        /* Most changes leave the wake day as it was: then the wake index is not touched. */
        if (c->stored && wake == c->stored_wake)
                r = store_case_update(e->store, c->id, rules_state_unit(c->st), rules_state_caseworker(c->st),
                                      rules_state_open(c->st), e->enc, n, rems, closed_at);
        if (r == BK_E_NOT_FOUND)
                r = store_case_put(e->store, c->id, rules_state_unit(c->st), rules_state_caseworker(c->st),
                                   rules_state_open(c->st), wake, e->enc, n, rems, closed_at);
        if (r == 0) {
                c->stored = true;
                c->stored_wake = wake;
        }
        if (r == 0 && c->dirty) {
                c->dirty = false;
                e->cache_dirty--;
        }
        return r;
}

static void cache_clear(engine_t *e)
{
        for (size_t i = 0; i < e->cache_size; i++)
                if (e->cache[i].st) {
                        rules_state_free(&e->cache[i].st);
                        free(e->cache[i].rems);
                }
        memset(e->cache, 0, e->cache_size * sizeof(*e->cache));
        e->cache_used = 0;
        e->cache_dirty = 0;
}

/* Writes every changed state back (same transaction); the decoded states stay cached. */
static int cache_flush(engine_t *e)
{
        if (e->cache_dirty == 0)
                return 0;     /* the common turn: nothing changed, no walk over the table */
        for (size_t i = 0; i < e->cache_size; i++) {
                struct cached_case *c = &e->cache[i];
                if (c->st && c->dirty) {
                        int r = save_case(e, c);
                        if (r != 0)
                                return r;
                }
        }
        return 0;
}

/*
 * Bounded memory, second chance (CLOCK): everything changed is written back (same transaction),
 * then the states not looked up since the last eviction are dropped, and if that frees too
 * little, more until half the limit is left. The survivors move into a fresh table, which is how
 * an open-addressing table loses many entries at once without leaving holes in probe runs.
 * Every cached_case pointer is stale afterwards, as after cache_clear().
 */
static int cache_evict(engine_t *e)
{
        size_t mask = e->cache_size - 1, kept = 0;
        struct cached_case *old = e->cache, *fresh;
        int r;

        if ((r = cache_flush(e)) != 0)
                return r;
        if (!(fresh = calloc(e->cache_size, sizeof(*fresh)))) {
                cache_clear(e);         /* still bounded, only slower */
                return 0;
        }
        for (size_t i = 0; i < e->cache_size; i++) {
                struct cached_case *c = &old[i];
                size_t j;

                if (!c->st)
                        continue;
                if (!c->used || kept >= e->cache_max / 2) {
                        rules_state_free(&c->st);
                        free(c->rems);
                        continue;
                }
                for (j = hash_str(c->id) & mask; fresh[j].st; j = (j + 1) & mask)
                        ;
                fresh[j] = *c;
                fresh[j].used = false;
                kept++;
        }
        free(old);
        e->cache = fresh;
        e->cache_used = kept;
        return 0;
}

/* The cached entry of a case, or NULL. */
static struct cached_case *cache_find(engine_t *e, const char *case_id)
{
        size_t mask = e->cache_size - 1;

        for (size_t i = hash_str(case_id) & mask; e->cache[i].st; i = (i + 1) & mask)
                if (strcmp(e->cache[i].id, case_id) == 0)
                        return &e->cache[i];
        return NULL;
}

/* Forgets a cached case without writing it (it is being purged): the slot is emptied and the
 * rest of its probe run moved back, so that lookups never stop at a hole. */
static void cache_forget(engine_t *e, const char *case_id)
{
        struct cached_case *c = cache_find(e, case_id);
        size_t mask = e->cache_size - 1, i, j;

        if (!c)
                return;
        if (c->dirty)
                e->cache_dirty--;
        rules_state_free(&c->st);
        free(c->rems);
        e->cache_used--;
        i = (size_t)(c - e->cache);
        for (j = (i + 1) & mask; e->cache[j].st; j = (j + 1) & mask) {
                size_t home = hash_str(e->cache[j].id) & mask;
                /* an entry stays when its home lies cyclically in (i, j] */
                if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
                        continue;
                e->cache[i] = e->cache[j];
                i = j;
        }
        memset(&e->cache[i], 0, sizeof(e->cache[i]));
}

/* Loads (or creates, when create is set) a case's state into the cache. */
static struct cached_case *case_get(engine_t *e, const char *case_id, bool create, int *err)
{
        size_t mask = e->cache_size - 1, i = hash_str(case_id) & mask;
        _cleanup_free_ void *blob = NULL;
        _cleanup_free_ char *rems = NULL;
        size_t len = 0;
        case_state_t *st = NULL;
        cal_day_t wake = 0;
        bk_time_t closed_at = 0;
        int r;

        *err = 0;
        for (; e->cache[i].st; i = (i + 1) & mask)
                if (strcmp(e->cache[i].id, case_id) == 0) {
                        e->cache[i].used = true;
                        return &e->cache[i];
                }
        if (e->cache_used >= e->cache_max) {
                if ((*err = cache_evict(e)) != 0)
                        return NULL;
                for (i = hash_str(case_id) & mask; e->cache[i].st; i = (i + 1) & mask)
                        ;
        }
        r = store_case_load(e->store, case_id, &blob, &len, &wake, &rems, &closed_at);
        if (r == 0) {
                if ((r = rules_state_decode(blob, len, &st)) == -ENOMEM) {
                        *err = r;
                        return NULL;
                }
                if (r != 0) {
                        log_errx("engine: stored state of a case is unreadable; starting it afresh");
                        st = NULL;
                }
        } else if (r != BK_E_NOT_FOUND) {
                *err = r;
                return NULL;
        }
        if (!st) {
                if (!create) {
                        *err = BK_E_NOT_FOUND;
                        return NULL;
                }
                st = rules_state_new(case_id);
                if (!st) {
                        *err = -ENOMEM;
                        return NULL;
                }
        }
        bk_strlcpy(e->cache[i].id, case_id, sizeof(e->cache[i].id));
        e->cache[i].st = st;
        e->cache[i].dirty = false;
        e->cache[i].used = true;
        e->cache[i].stored = r == 0;
        e->cache[i].stored_wake = wake;
        e->cache[i].closed_at = r == 0 ? closed_at : 0;
        e->cache[i].rems = NULL;
        e->cache[i].n_rems = e->cache[i].cap_rems = 0;
        if (rems && store_rems_decode(rems, rems_add_cb, &e->cache[i]) < 0) {
                /* out of memory: the slot stays free */
                free(e->cache[i].rems);
                e->cache[i].rems = NULL;
                e->cache[i].n_rems = e->cache[i].cap_rems = 0;
                rules_state_free(&e->cache[i].st);
                *err = -ENOMEM;
                return NULL;
        }
        e->cache_used++;
        return &e->cache[i];
}

/* ---- publishing ------------------------------------------------------------ */

static int64_t next_rseq(void *ud)
{
        engine_t *e = ud;

        store_counter_add(e->store, CNT_RSEQ, 1);
        return store_counter(e->store, CNT_RSEQ);
}

/* Queues one message under its rseq (the message's own member): outbox row now, bus after commit. */
static int queue_json(void *ud, const char *topic, json_t *j)
{
        engine_t *e = ud;
        int64_t rseq = json_integer_value(json_object_get(j, "rseq"));
        char *payload = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        int res;

        json_decref(j);
        if (!payload)
                return -ENOMEM;
        if ((res = store_outbox_add(e->store, rseq, topic, payload, e->now)) != 0) {
                free(payload);
                return res;
        }
        if (e->queue_n == e->queue_cap) {
                size_t cap = e->queue_cap ? e->queue_cap * 2 : 64;
                engine_msg_t *q = realloc(e->queue, cap * sizeof(*q));
                if (!q) {
                        free(payload);
                        return -ENOMEM;
                }
                e->queue = q;
                e->queue_cap = cap;
        }
        e->queue[e->queue_n].rseq = rseq;
        e->queue[e->queue_n].topic = strdup(topic);
        e->queue[e->queue_n].payload = payload;
        if (!e->queue[e->queue_n].topic) {
                free(payload);
                return -ENOMEM;
        }
        e->queue_n++;
        return 0;
}

static int queue_msg(engine_t *e, const reminder_t *r, const char *op, const char *topic)
{
        json_t *j = reminder_to_json(r, op, next_rseq(e), false);

        return j ? queue_json(e, topic, j) : -ENOMEM;
}

enum { TO_CASEWORKER = 1, TO_LEADS = 2, TO_ALL = 3 };

/* Publishes op on the reminder's topics in `which` (protocol §2: once per topic). */
static int publish_on(engine_t *e, const reminder_t *r, const char *op, int which)
{
        char cw[REM_TOPIC_MAX], leads[REM_TOPIC_MAX];
        int res = 0;

        reminder_topic_leads(r, leads, sizeof(leads));
        if (r->to_caseworker && (which & TO_CASEWORKER)) {
                reminder_topic_caseworker(r, cw, sizeof(cw));
                if ((res = queue_msg(e, r, op, cw)) != 0)
                        return res;
                if (strcmp(cw, leads) == 0)
                        return 0;    /* no caseworker yet: the leads' copy is this one */
        }
        /* A leads' copy that goes by digest (deliver.c) is never published on its own. */
        if (r->to_leads && (which & TO_LEADS) && !deliver_leads_in_digest(e->cfg, r))
                res = queue_msg(e, r, op, leads);
        return res;
}

static int publish(engine_t *e, const reminder_t *r, const char *op)
{
        return publish_on(e, r, op, TO_ALL);
}

static void flush(engine_t *e, engine_publish_fn fn, void *ud)
{
        for (size_t i = 0; i < e->queue_n; i++) {
                fn(ud, e->queue[i].topic, e->queue[i].payload);
                e->sent = BK_MAX(e->sent, e->queue[i].rseq);
                free(e->queue[i].topic);
                free(e->queue[i].payload);
        }
        e->queue_n = 0;
}

static void discard(engine_t *e)
{
        for (size_t i = 0; i < e->queue_n; i++) {
                free(e->queue[i].topic);
                free(e->queue[i].payload);
        }
        e->queue_n = 0;
        cache_clear(e);
        /* the batch may have counted go-live backlog into summaries that are now dropped */
        e->summaries_due = e->cfg->delivery.quiet;
}

int engine_begin(engine_t *e, bk_time_t now)
{
        e->now = now;
        return store_begin(e->store);
}

void engine_set_now(engine_t *e, bk_time_t now)
{
        e->now = now;
}

int engine_commit(engine_t *e, int res, engine_publish_fn publish_fn, void *ud)
{
        /* States stay decoded across transactions (only the engine writes cases, so they stay
         * true); a rollback drops them with the queued messages. */
        if (res >= 0)
                res = cache_flush(e);
        if (res >= 0)
                res = store_commit(e->store);
        if (res < 0) {
                store_rollback(e->store);
                discard(e);
                return res;
        }
        flush(e, publish_fn, ud);
        return 0;
}

int64_t engine_sent(const engine_t *e)
{
        return e->sent;
}

/* ---- lifecycle --------------------------------------------------------------- */

/* Closes an open reminder of case c (NULL: a case with no stored row), which lists it no more. */
static int close_reminder(engine_t *e, struct cached_case *c, reminder_t *r, rem_state_t to, const char *reason,
                          const char *event_id)
{
        bool was_delivered = reminder_was_delivered(r);
        int res, old = r->state;

        r->state = to;
        r->closed_at = e->now;
        bk_strlcpy(r->close_reason, reason, sizeof(r->close_reason));
        if ((res = store_rem_put_from(e->store, r, old, event_id, to == REM_RESOLVED ? "resolve" : "cancel")) != 0)
                return res;
        if (c) {
                rems_remove(c, r->row);
                mark_dirty(e, c);
        }
        /* Protocol §2: closing is published only for reminders that were delivered. */
        if (was_delivered)
                return publish(e, r, to == REM_RESOLVED ? "resolved" : "cancelled");
        return 0;
}

/*
 * Moves an open reminder to a new owner (caseworker change, unit move). listed: a HANDOVER to the
 * new owner lists it (rules-handover.c), and that one pop-up is the news, so what the new owner
 * is sent now is backlog (in the work list, not popped up again).
 */
static int move_reminder(engine_t *e, reminder_t *r, const char *unit, const char *caseworker,
                         const char *event_id, bool listed)
{
        bool shown = reminder_was_delivered(r) && r->state != REM_SCHEDULED;
        /* The leads' copy moves only when the unit does; a caseworker change leaves it be. */
        int which = strcmp(r->unit, unit) != 0 ? TO_ALL : TO_CASEWORKER;
        int res;

        if (strcmp(r->unit, unit) == 0 && strcmp(r->caseworker, caseworker) == 0)
                return 0;
        if (shown && (res = publish_on(e, r, "rerouted", which)) != 0)
                return res;
        bk_strlcpy(r->unit, unit, sizeof(r->unit));
        bk_strlcpy(r->caseworker, caseworker, sizeof(r->caseworker));
        if (listed && shown && (r->state == REM_DELIVERED || r->state == REM_ACKNOWLEDGED))
                r->delivery = REM_BACKLOG_HANDOVER;
        if ((res = store_rem_put_from(e->store, r, r->state, event_id, "reroute")) != 0)
                return res;
        /* Snoozed ones reach the new owner when the snooze ends. */
        if (shown && (r->state == REM_DELIVERED || r->state == REM_ACKNOWLEDGED))
                return publish_on(e, r, "due", which);
        return 0;
}

static int by_creation(const void *a, const void *b)
{
        const reminder_t *x = a, *y = b;
        if (x->created_at != y->created_at)
                return x->created_at < y->created_at ? -1 : 1;
        return strcmp(x->id, y->id);
}

/*
 * Calls fn for each open reminder of the case, optionally of one rule (-1 = any) and cycle
 * (NULL/"" = any), oldest first.
 */
static int for_open(engine_t *e, struct cached_case *c, int rule, const char *cycle,
                    int (*fn)(engine_t *, reminder_t *, const void *), const void *arg)
{
        reminder_t *list;
        int n = 0, res = 0;

        if (c->n_rems == 0)
                return 0;
        if (!(list = malloc((size_t)c->n_rems * sizeof(*list))))
                return -ENOMEM;
        for (int i = 0; i < c->n_rems && res == 0; i++) {
                res = store_rem_get_row(e->store, c->rems[i], &list[n]);
                if (res == BK_E_NOT_FOUND || (res == 0 && (!reminder_is_open(&list[n]) ||
                                                           strcmp(list[n].case_id, c->id) != 0))) {
                        /* not this case's open reminder: the list was wrong; it heals here */
                        log_errx("engine: a case listed a reminder that is not its open one; dropped");
                        rems_remove(c, c->rems[i--]);
                        mark_dirty(e, c);
                        res = 0;
                        continue;
                }
                if (res == 0 && (rule < 0 || list[n].rule == rule) &&
                    (!cycle || !cycle[0] || strcmp(list[n].cycle, cycle) == 0))
                        n++;
        }
        qsort(list, (size_t)n, sizeof(*list), by_creation);
        for (int i = 0; i < n && res == 0; i++)
                res = fn(e, &list[i], arg);
        free(list);
        return res;
}

struct close_arg { struct cached_case *c; rem_state_t to; const char *reason; const char *event_id; };
struct move_arg { const char *unit; const char *caseworker; const char *event_id; bool listed; };

static int do_close(engine_t *e, reminder_t *r, const void *a)
{
        const struct close_arg *cl = a;
        return close_reminder(e, cl->c, r, cl->to, cl->reason, cl->event_id);
}

static int do_move(engine_t *e, reminder_t *r, const void *a)
{
        const struct move_arg *m = a;
        return move_reminder(e, r, m->unit, m->caseworker, m->event_id, m->listed);
}

static int do_list(engine_t *e, reminder_t *r, const void *a)
{
        rules_handover_list(&e->cfg->rules, (char *)a, sizeof(r->body), (rule_id_t)r->rule, r->title, r->due,
                            cal_local_day(e->now));
        return 0;
}

static int schedule(engine_t *e, struct cached_case *c, const rule_action_t *a, const char *event_id)
{
        const case_state_t *st = c->st;
        reminder_t r;
        const char *case_id = rules_state_case(st);
        int res;

        memset(&r, 0, sizeof(r));
        rules_reminder_id(case_id, a->rule, a->cycle, r.id);
        bk_strlcpy(r.case_id, case_id, sizeof(r.case_id));
        r.rule = a->rule;
        bk_strlcpy(r.cycle, a->cycle, sizeof(r.cycle));
        bk_strlcpy(r.unit, rules_state_unit(st), sizeof(r.unit));
        bk_strlcpy(r.caseworker, rules_state_caseworker(st), sizeof(r.caseworker));
        r.to_caseworker = a->to_caseworker;
        r.to_leads = a->to_leads;
        r.severity = a->severity;
        r.due = a->due;
        r.deliver_at = cal_deliver_at(&e->cfg->calendar, a->due, e->now);
        r.state = REM_SCHEDULED;
        bk_strlcpy(r.title, rules_title(&e->cfg->rules, a->rule), sizeof(r.title));
        bk_strlcpy(r.body, a->body[0] ? a->body : rules_body(&e->cfg->rules, a->rule), sizeof(r.body));
        if (a->rule == RULE_HANDOVER) {
                size_t before = strlen(r.body);
                (void)for_open(e, c, -1, NULL, do_list, r.body);
                rules_handover_end(&e->cfg->rules, r.body, sizeof(r.body), before);
        }
        bk_strlcpy(r.why, a->why[0] ? a->why : "{}", sizeof(r.why));
        bk_strlcpy(r.event_id, event_id ? event_id : "", sizeof(r.event_id));
        r.created_at = e->now;
        r.delivery = deliver_mode(e->cfg, &r, e->now, e->golive_event);
        res = store_rem_put_from(e->store, &r, -1, event_id, "trigger");
        if (res == BK_E_DUPLICATE)
                return 0;            /* same (case, rule, cycle): a replay, never a duplicate */
        if (res != 0)
                return res;
        mark_dirty(e, c);
        return rems_add(c, store_last_row(e->store));
}

/* One handover, one pop-up (docs/rules.md §5): out hands the case over with a HANDOVER to the
 * new caseworker, whose body lists the case's open items. */
static bool handover_lists(const engine_t *e, const rules_out_t *out)
{
        if (!e->cfg->delivery.quiet || !e->cfg->rules.rule[RULE_HANDOVER].enabled)
                return false;
        for (int i = 0; i < out->n; i++)
                if (out->act[i].kind == ACT_SCHEDULE && out->act[i].rule == RULE_HANDOVER && out->act[i].to_caseworker)
                        return true;
        return false;
}

static int apply_actions(engine_t *e, struct cached_case *c, const rules_out_t *out, const char *event_id)
{
        const case_state_t *st = c->st;
        int res = 0;

        for (int i = 0; i < out->n && res == 0; i++) {
                const rule_action_t *a = &out->act[i];
                switch (a->kind) {
                case ACT_SCHEDULE:
                        if (a->rule >= 0 && a->rule < RULE__COUNT && e->cfg->rules.rule[a->rule].enabled)
                                res = schedule(e, c, a, event_id);
                        break;
                case ACT_RESOLVE:
                case ACT_CANCEL: {
                        struct close_arg cl = {
                                .c = c,
                                .to = a->kind == ACT_RESOLVE ? REM_RESOLVED : REM_CANCELLED,
                                .reason = a->kind == ACT_RESOLVE ? "resolved" : "cancelled",
                                .event_id = event_id,
                        };
                        res = for_open(e, c, a->rule, a->cycle, do_close, &cl);
                        break;
                }
                case ACT_REROUTE: {
                        struct move_arg m = { rules_state_unit(st), a->caseworker, event_id, handover_lists(e, out) };
                        res = for_open(e, c, -1, NULL, do_move, &m);
                        break;
                }
                }
        }
        return res;
}

/* ---- events ------------------------------------------------------------------ */

/* The log keeps the normalised form only (store_event_add): unknown members and the bytes as they
 * came never reach it. */
static int add_event(engine_t *e, const event_t *ev, ev_status_t st, bk_time_t now)
{
        return e->rebuild ? 0 : store_event_add(e->store, ev, st, now);
}

int engine_apply_event(engine_t *e, const event_t *ev)
{
        struct cached_case *c;
        rules_out_t out;
        char unit_before[EV_NAME_MAX + 1];
        int res, err, episode;
        bool was_open;

        /* A purged case's history does not come back (a replay, a feed position reset): an event
         * at or before the purge is dropped, counted; a later one is new history. */
        bk_time_t purged_at;
        if (!e->rebuild && !cache_find(e, ev->case_id) && store_case_purged(e->store, ev->case_id, &purged_at) &&
            ev->at <= purged_at) {
                store_counter_add(e->store, CNT_PURGE_DROPPED, 1);
                return 0;
        }
        if (ev->type == EV_UNKNOWN) {
                res = add_event(e, ev, EVS_IGNORED, e->now);
                if (res == 0 && !e->rebuild)
                        store_counter_add(e->store, CNT_IGNORED, 1);
                return res;
        }
        /* The id is the idempotency key: a duplicate must not touch any case state. */
        if ((res = add_event(e, ev, EVS_APPLIED, e->now)) != 0)
                return res;
        c = case_get(e, ev->case_id, true, &err);
        if (!c)
                return err;
        bk_strlcpy(unit_before, rules_state_unit(c->st), sizeof(unit_before));
        episode = rules_state_lt_episode(c->st);
        was_open = rules_state_open(c->st);
        out.n = 0;
        /* A history replayed far behind the clock is a go-live: what it finds due is backlog. */
        e->golive_event = 0;
        /* …and the rest of that catch-up with it, up to the events of the clock's own day: what
         * happened today is today's news */
        if (!e->rebuild && (deliver_is_golive(e->cfg, e->catching_up, e->now, ev->at) ||
                            (golive_round(e) && e->catching_up && cal_local_day(ev->at) < cal_local_day(e->now)))) {
                e->golive_event = e->now;
                store_counter_set(e->store, CNT_GOLIVE_AT, e->now);
        }
        res = rules_apply(&e->cfg->rules, c->st, ev, &out);
        if (res == BK_E_INVALID) {
                /* Valid envelope the rules cannot apply: kept in the log, counted as ignored. */
                if (!e->rebuild) {
                        if ((res = store_event_set_status(e->store, ev->id, EVS_REJECTED)) != 0)
                                return res;
                        store_counter_add(e->store, CNT_IGNORED, 1);
                }
                return 0;
        }
        if (res != 0)
                return res;
        mark_dirty(e, c);
        /* The closing time is the closing event's `at` (retention counts from it): a later event of
         * the closed case does not move it, whichever batch or restart it falls in. A case first
         * heard of closed closed then. */
        if (rules_state_open(c->st))
                c->closed_at = 0;
        else if (was_open || !c->closed_at)
                c->closed_at = ev->at;
        res = apply_actions(e, c, &out, ev->id);
        e->golive_event = 0;
        if (res != 0)
                return res;
        /* The indicators' facts of this event (docs/indicators.md), filed under the case's unit. */
        if ((res = indicators_note(e->store, ev, rules_state_unit(c->st),
                                   rules_state_lt_episode(c->st) > episode)) != 0)
                return res;
        if (unit_before[0] && strcmp(unit_before, rules_state_unit(c->st)) != 0) {
                if ((res = store_facts_move(e->store, ev->case_id, unit_before, rules_state_unit(c->st))) != 0)
                        return res;
                struct move_arg m = { rules_state_unit(c->st), rules_state_caseworker(c->st), ev->id, false };
                if ((res = for_open(e, c, -1, NULL, do_move, &m)) != 0)
                        return res;
        }
        if (!e->rebuild)
                store_counter_add(e->store, CNT_APPLIED, 1);
        return 0;
}

/* ---- time ---------------------------------------------------------------------- */

/*
 * Ids only: the title and body may one day carry more than ids. A sensitive rule (safety,
 * health, children) is never paired with the case id in the journal, which the whole
 * systemd-journal group reads: the reminder id is what an admin looks up (`why`).
 */
static void log_delivered(const reminder_t *r)
{
        if (rules_sensitive(r->rule)) {
                log_struct(LOG_INFO, LOG_ID_DELIVERED,
                           LOG_FIELDS({ "BEVAKA_REMINDER", r->id }, { "BEVAKA_RULE", rules_name(r->rule) }),
                           "reminder %s delivered: rule %s", r->id, rules_name(r->rule));
                return;
        }
        log_struct(LOG_INFO, LOG_ID_DELIVERED,
                   LOG_FIELDS({ "BEVAKA_REMINDER", r->id }, { "BEVAKA_RULE", rules_name(r->rule) },
                              { "BEVAKA_CASE", r->case_id }),
                   "reminder %s delivered: rule %s, case %s", r->id, rules_name(r->rule), r->case_id);
}

/* The open reminder of `rule` in r's obligation (same case and cycle), read fresh; 0 or BK_E_NOT_FOUND. */
static int obligation_get(engine_t *e, const reminder_t *r, int rule, reminder_t *out)
{
        char id[REM_ID_MAX];
        int res;

        rules_reminder_id(r->case_id, (rule_id_t)rule, r->cycle, id);
        if ((res = store_rem_get(e->store, id, out)) != 0)
                return res;
        return reminder_is_open(out) ? 0 : BK_E_NOT_FOUND;
}

/* Resolves old as superseded by the escalation esc (published only if old was delivered). */
static int supersede(engine_t *e, reminder_t *old, const reminder_t *esc)
{
        struct cached_case *c;
        char reason[sizeof(old->close_reason)];
        int err;

        if (!(c = case_get(e, old->case_id, false, &err)) && err != BK_E_NOT_FOUND)
                return err;
        snprintf(reason, sizeof(reason), REM_SUPERSEDED_BY "%s", esc->id);
        store_counter_add(e->store, CNT_SUPERSEDED, 1);
        return close_reminder(e, c, old, REM_RESOLVED, reason, NULL);
}

/*
 * One open item per obligation (docs/rules.md §5): a reminder whose escalation is due in this
 * same round is resolved unseen, as superseded by it (1); an escalation being delivered resolves
 * the earlier reminder of its obligation (0). Negative: an error.
 */
static int supersede_turn(engine_t *e, reminder_t *r)
{
        reminder_t other;
        int res;

        for (int s = 0; s < RULE__COUNT; s++) {
                if (rule_def[s].supersedes != r->rule)
                        continue;
                res = obligation_get(e, r, s, &other);
                if (res == 0 && other.state == REM_SCHEDULED && other.deliver_at <= e->now)
                        return (res = supersede(e, r, &other)) < 0 ? res : 1;
                if (res < 0)
                        return res;
        }
        if (rule_def[r->rule].supersedes < 0)
                return 0;
        res = obligation_get(e, r, rule_def[r->rule].supersedes, &other);
        if (res == 0)
                return supersede(e, &other, r);
        return res == BK_E_NOT_FOUND ? 0 : res;
}

/* Delivers one due reminder as deliver.c decided: expired unseen, superseded, backlog or pop-up. */
static int deliver_one(engine_t *e, reminder_t *r)
{
        bool first = !r->delivered_at;
        int old = r->state, res;

        if (e->cfg->delivery.quiet) {
                reminder_t fresh;
                /* an escalation earlier in this round may have closed it */
                if ((res = store_rem_get_row(e->store, r->row, &fresh)) != 0)
                        return res == BK_E_NOT_FOUND ? 0 : res;
                if (!reminder_is_open(&fresh))
                        return 0;
                if (first && r->delivery == REM_EXPIRE) {
                        struct cached_case *c;
                        int err;
                        if (!(c = case_get(e, r->case_id, false, &err)) && err != BK_E_NOT_FOUND)
                                return err;
                        store_counter_add(e->store, CNT_EXPIRED, 1);
                        return close_reminder(e, c, r, REM_CANCELLED, "expired", NULL);
                }
                if ((res = supersede_turn(e, r)) != 0)
                        return res > 0 ? 0 : res;
        }
        r->state = REM_DELIVERED;
        if (!r->delivered_at)
                r->delivered_at = e->now;
        if (!first)
                r->delivery = REM_POPUP;     /* a snooze that ends pops up, whatever the first time was */
        if ((res = store_rem_put_from(e->store, r, old, NULL, NULL)) != 0 || (res = publish(e, r, "due")) != 0)
                return res;
        if (reminder_is_backlog(r))
                store_counter_add(e->store, CNT_BACKLOG, 1);
        log_delivered(r);
        if (r->delivery == REM_BACKLOG_GOLIVE)
                e->summaries_due = true;
        return 0;
}

/*
 * Nothing reaches people outside working time. Event time (e->now) may be behind the clock (a
 * history, what a feed sent during downtime): a reminder is due by event time, but it goes out
 * only when the clock, too, is at a working moment. After downtime over Easter, what fell due on
 * Thursday waits for Tuesday 08:00 (domain §5), even though the events that arrive on Easter
 * Monday take event time through Thursday.
 */
static bool working_moment(const engine_t *e)
{
        bk_time_t clk = clock_now(e->clock);

        return cal_next_working(&e->cfg->calendar, e->now) == e->now &&
               cal_next_working(&e->cfg->calendar, clk) == clk;
}

int engine_deliver_due(engine_t *e, int max)
{
        reminder_t *list = NULL;
        bk_time_t now = e->now;
        int n = 0, res = 0;

        if (!working_moment(e))
                return 0;
        if ((res = store_rem_due(e->store, now, max, &list, &n)) != 0)
                return res;
        for (int i = 0; i < n && res == 0; i++)
                res = deliver_one(e, &list[i]);
        free(list);
        if (res != 0)
                return res;
        /* A go-live's backlog is all out once ingest has caught up: one summary per caseworker. */
        if (n < max && !e->catching_up && e->summaries_due) {
                deliver_out_t out = { next_rseq, queue_json, e };
                if ((res = deliver_summaries(e->cfg, e->store, now, &out)) < 0)
                        return res;
                store_counter_add(e->store, CNT_SUMMARIES, res);
                e->summaries_due = false;
        }
        return n;
}

void engine_set_catching_up(engine_t *e, bool replaying, bool history)
{
        e->replaying = replaying;
        e->catching_up = history;
}

int engine_digest_due(engine_t *e)
{
        bk_time_t last = store_counter(e->store, CNT_DIGEST_AT);
        deliver_out_t out = { next_rseq, queue_json, e };
        int n;

        /* Digests wait, like deliveries, until a replayed history has been judged whole, and for a
         * working moment of the clock. */
        if (e->replaying || !working_moment(e) || !deliver_digest_due(e->cfg, last, e->now))
                return 0;
        if ((n = deliver_digests(e->cfg, e->store, last, e->now, &out)) < 0)
                return n;
        store_counter_set(e->store, CNT_DIGEST_AT, e->now);
        store_counter_add(e->store, CNT_DIGESTS, n);
        return n;
}

struct wake_ctx { engine_t *e; cal_day_t day; int err; int n; };

static void wake_one(void *ud, const char *case_id)
{
        struct wake_ctx *w = ud;
        struct cached_case *c;
        rules_out_t out = { 0 };
        int err;

        if (w->err)
                return;
        c = case_get(w->e, case_id, false, &err);
        if (!c) {
                w->err = err;
                return;
        }
        if ((err = rules_tick(&w->e->cfg->rules, c->st, w->day, &out)) != 0 && err != BK_E_INVALID) {
                w->err = err;
                return;
        }
        mark_dirty(w->e, c);
        /* after a go-live import, what the first wake finds due is part of the go-live */
        w->e->golive_event = golive_round(w->e);
        err = apply_actions(w->e, c, &out, NULL);
        w->e->golive_event = 0;
        if (err != 0) {
                w->err = err;
                return;
        }
        /* Write now so the wake index moves on before the next query. */
        if ((err = save_case(w->e, c)) != 0)
                w->err = err;
        w->n++;
}

int engine_wake_cases(engine_t *e, int max)
{
        struct wake_ctx w = { e, cal_local_day(e->now), 0, 0 };
        int r;

        /* Cached states may be newer than the rows the query looks at. */
        if ((r = cache_flush(e)) != 0)
                return r;
        r = store_cases_waking(e->store, w.day, max, wake_one, &w);
        if (r < 0)
                return r;
        if (w.err)
                return w.err;
        /* The first whole wake after a go-live import has caught up the days it skipped: what
         * later wakes find due is news again. */
        if (w.n < max && !e->catching_up)
                store_counter_set(e->store, CNT_GOLIVE_AT, 0);
        return w.n;
}

bk_time_t engine_next_deadline(engine_t *e)
{
        bk_time_t next = store_rem_next_delivery(e->store);
        cal_day_t wake = store_next_wake(e->store);

        /* Deliveries happen only at working moments (a snooze may end at night). */
        if (next != INT64_MAX)
                next = cal_next_working(&e->cfg->calendar, BK_MAX(next, clock_now(e->clock)));
        if (wake != INT32_MAX)
                next = BK_MIN(next, cal_local_to_utc(wake, 0));
        return next;
}

/* ---- API lifecycle ops ------------------------------------------------------------ */

static int get_open(engine_t *e, const char *id, reminder_t *r)
{
        int res = store_rem_get(e->store, id, r);
        if (res != 0)
                return res;
        if (!reminder_is_open(r))
                return BK_E_CONFLICT;
        return 0;
}

int engine_ack(engine_t *e, const char *id, reminder_t *out)
{
        int res = get_open(e, id, out);
        if (res != 0)
                return res;
        if (out->state != REM_DELIVERED && out->state != REM_ACKNOWLEDGED)
                return BK_E_CONFLICT;
        out->state = REM_ACKNOWLEDGED;
        return store_rem_put(e->store, out);
}

int engine_snooze(engine_t *e, const char *id, bk_time_t until, reminder_t *out)
{
        int res = get_open(e, id, out);
        if (res != 0)
                return res;
        if (out->state == REM_SCHEDULED)
                return BK_E_CONFLICT;
        if (until <= 0)
                until = cal_next_working_day_start(&e->cfg->calendar, e->now);
        out->state = REM_SNOOZED;
        /* deliver_at is a delivery moment (domain §5): a snooze until Saturday 10:00 is delivered,
         * and stamped, Monday 08:00, never with a moment nobody was told anything. */
        out->deliver_at = cal_next_working(&e->cfg->calendar, until);
        return store_rem_put(e->store, out);
}

int engine_dismiss(engine_t *e, const char *id, const char *reason, reminder_t *out)
{
        char why[64];
        struct cached_case *c;
        int err, res = get_open(e, id, out);

        if (res != 0)
                return res;
        if (!(c = case_get(e, out->case_id, false, &err)) && err != BK_E_NOT_FOUND)
                return err;
        snprintf(why, sizeof(why), "dismissed: %.40s", reason && reason[0] ? reason : "-");
        return close_reminder(e, c, out, REM_CANCELLED, why, NULL);
}

json_t *engine_case_view(engine_t *e, const char *case_id)
{
        int err;
        struct cached_case *c = case_get(e, case_id, false, &err);
        return c ? rules_state_view(c->st) : NULL;
}

/* ---- lifetime ---------------------------------------------------------------------- */

int engine_new(const config_t *cfg, store_t *store, const bk_clock_t *clock, engine_t **out)
{
        engine_t *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->cfg = cfg;
        e->store = store;
        e->clock = clock;
        e->summaries_due = cfg->delivery.quiet;   /* a go-live's summaries a crash left unsent */
        e->cache_max = CACHE_MAX;
        e->cache_size = 2 * CACHE_MAX;
        e->cache = calloc(e->cache_size, sizeof(*e->cache));
        if (!e->cache) {
                free(e);
                return -ENOMEM;
        }
        *out = e;
        return 0;
}

void engine_set_cache_limit(engine_t *e, size_t n)
{
        e->cache_max = BK_MAX(BK_MIN(n, (size_t)CACHE_MAX), (size_t)2);
}

void engine_set_rebuild(engine_t *e, bool on)
{
        /* A rebuild starts from cleared cases: cached states would be the old, derived ones. */
        if (on)
                cache_clear(e);
        e->rebuild = on;
}

void engine_free(engine_t **ep)
{
        engine_t *e = *ep;
        if (!e)
                return;
        discard(e);
        free(e->cache);
        free(e->queue);
        free(e->enc);
        free(e->rems_text);
        free(e);
        *ep = NULL;
}

/* ---- retention (gallring) ----------------------------------------------------------- */

static int purge_one(engine_t *e, const char *case_id, store_purged_t *n)
{
        /* the cached state goes unwritten; the queue keeps what was already published */
        cache_forget(e, case_id);
        /* The tombstone is at the batch's time, which retention sets to event time: a later event
         * of the case in the history is new history, not dropped. */
        return store_purge_case(e->store, case_id, e->now, n);
}

static void count_purged(engine_t *e, const store_purged_t *n)
{
        store_counter_add(e->store, CNT_PURGE_CASES, n->cases);
        store_counter_add(e->store, CNT_PURGE_EVENTS, n->events);
        store_counter_add(e->store, CNT_PURGE_REMINDERS, n->reminders);
        store_counter_add(e->store, CNT_PURGE_DEAD, n->dead_letters);
}

int engine_purge_case(engine_t *e, const char *case_id, store_purged_t *n)
{
        store_purged_t one = { 0 };
        int r = purge_one(e, case_id, &one);

        if (r == 0 && (r = store_purge_outbox_case(e->store, case_id)) >= 0) {
                one.messages = r;
                r = 0;
        }
        if (r == 0) {
                count_purged(e, &one);
                n->cases += one.cases;
                n->events += one.events;
                n->reminders += one.reminders;
                n->messages += one.messages;
        }
        return r;
}

/* `months` calendar months before now, at the same local time of day. */
static bk_time_t months_before(bk_time_t now, int months)
{
        return cal_local_to_utc(cal_add_months(cal_local_day(now), -months), cal_local_minute(now));
}

struct expire_ctx { engine_t *e; store_purged_t *n; int err; };

static void expire_one(void *ud, const char *case_id)
{
        struct expire_ctx *x = ud;

        if (!x->err)
                x->err = purge_one(x->e, case_id, x->n);
}

int engine_purge_due(engine_t *e, const retention_cfg_t *ret, int max, store_purged_t *n)
{
        bk_time_t now = e->now;         /* the caller's event time (daemon.c: retention follows the watermark) */
        struct expire_ctx x = { e, n, 0 };
        int r;

        /* Cached states may be newer than the rows looked at (a case reopened this batch). */
        if ((r = cache_flush(e)) != 0)
                return r;
        r = store_cases_expired(e->store, months_before(now, ret->closed_case_months), max, expire_one, &x);
        if (r < 0 || x.err)
                return r < 0 ? r : x.err;
        if ((r = store_purge_reminders(e->store, months_before(now, ret->reminder_months), max)) < 0)
                return r;
        n->reminders += r;
        /* published messages go with the reminders they were about (a case's went before it closed) */
        if ((r = store_purge_outbox(e->store, months_before(now, BK_MIN(ret->reminder_months,
                                                                          ret->closed_case_months)), max)) < 0)
                return r;
        n->messages += r;
        count_purged(e, n);
        return 0;
}

int engine_purge_dead_letters(engine_t *e, const retention_cfg_t *ret, int max, store_purged_t *n)
{
        int r = store_purge_dead_letters(e->store, e->now - (bk_time_t)ret->dead_letter_days * 86400,
                                         ret->dead_letter_max, max);

        if (r < 0)
                return r;
        n->dead_letters += r;
        store_counter_add(e->store, CNT_PURGE_DEAD, r);
        return 0;
}
