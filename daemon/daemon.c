/*
 * daemon.c owns the loop. One thread: zmq_poll over every socket plus a
 * signalfd, sleeping until the earliest of the next delivery, the next case
 * wake-up, the watchdog and housekeeping. Each turn drains up to a batch of
 * feed messages into one transaction (group commit), runs time-driven
 * rules, deliveries and retention at event time (min(clock, the feeds'
 * watermarks), also before an event that passes a day or a reminder's
 * moment), commits, then publishes what the transaction queued. Ingest only judges each feed message; the daemon performs its
 * verdict (the engine, the dead-letter table, the counters, the position)
 * and its bus requests. A store failure (disk full) rolls the batch back
 * and hands ingest the stored positions again, which replays the lost part
 * from the adapter: nothing committed is lost and nothing is applied twice.
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include "api.h"
#include "bus.h"
#include "daemon.h"
#include "zone.h"
#include "calendar.h"
#include "engine.h"
#include "ingest.h"
#include "keys.h"
#include "log.h"
#include "outbox.h"

#define HOUSEKEEPING_MS 1000
#define DELIVER_BATCH 1000
#define WAKE_BATCH 1000
#define CATCH_UP_MAX_MS 30000   /* deliveries wait at most this long for ingest to catch up */
#define BATCH_MAX_MS 100        /* a batch also ends after this much work: the API is served between */
#define PURGE_EVERY_MS 60000    /* dead letters (kept by the clock's time) are looked at this often… */
#define STORE_OK_AFTER_MS 10000 /* "store full" ends after this long without a failed transaction */
#define PURGE_BATCH 50          /* …and deletes at most this many of each kind per turn (a few ms) */

typedef struct daemon {
        config_t cfg;
        const char *config_path;
        store_t *store;
        bus_t *bus;
        engine_t *engine;
        ingest_t *ingest;
        outbox_t *outbox;              /* the published-up-to mark, the tail after a crash */
        bool keys_reload;              /* `reload` checked the key list: install it after the reply */
        bk_clock_t clock;
        api_ctx_t api;
        indworker_t *indw;             /* indicators, computed off the loop */
        int sigfd;
        bool stop;
        uint64_t watchdog_usec;
        int64_t last_watchdog_ms, last_status_ms, last_deliver_ms;
        int64_t backoff_until_ms;      /* after a failed transaction (disk full): let it breathe */
        int64_t backoff_ms;            /* …this long, doubling while transactions keep failing */
        int64_t failed_ms;             /* when the last one failed */
        bk_time_t batch_now;           /* the batch's time (engine_begin) */
        bk_time_t time_done;           /* event time up to which time-driven work has run */
        cal_day_t wake_day;            /* the local day of time_done */
        bk_time_t next_delivery;       /* earliest working moment a reminder is due; stale when dirty */
        bool next_dirty;
        int64_t last_purge_ms;         /* dead letters: when they were last looked at (0: due now) */
        bool purging;                  /* a retention run is between batches (at the clock) */
        bool purge_history;            /* …of a day in a history: it logs at debug level */
        bool purge_again;              /* reload changed retention: a run at the next turn */
        bk_time_t purge_at;            /* the run's event time */
        store_purged_t purged;         /* what the run deleted so far */
        int failures;
} daemon_t;

static void usage(FILE *f)
{
        fprintf(f, "usage: bevakad [--config FILE] [--check-config] [--rebuild] [--restore FILE] [--verbose]\n"
                   "               [--version] [--help]\n"
                   "  --config FILE    libconfig file (default: the embedded demo configuration,\n"
                   "                   with relative paths under the current directory)\n"
                   "  --check-config   validate, print the normalised configuration, exit\n"
                   "  --rebuild        rebuild cases and reminders from the stored event log, exit\n"
                   "  --restore FILE   replace the store (store.path) with the backup FILE, exit;\n"
                   "                   the daemon must be stopped\n"
                   "  --verbose        log at debug level\n"
                   "  --version        print the version, exit\n"
                   "  --help           print this, exit\n");
}

/*
 * With CURVE the daemon cannot serve without its keypair: say so, naming the
 * setting, before the store is opened (and migrated) for nothing.
 */
static int check_key_files(const config_t *cfg)
{
        const struct { const char *setting, *path; } f[] = {
                { "security.secret_key", cfg->secret_key_file },
                { "security.public_key", cfg->public_key_file },
        };

        for (size_t i = 0; cfg->curve && i < sizeof(f) / sizeof(f[0]); i++) {
                if (access(f[i].path, R_OK) == 0)
                        continue;
                log_errx("%s: %s: %s: cannot read: %s (make the daemon's keypair with `bevakactl keygen %s`; "
                         "docs/operations.md, \"Keys\")", cfg->file, f[i].setting, f[i].path, strerror(errno),
                         cfg->secret_key_file);
                return -errno;
        }
        return 0;
}

static void publish_nothing(void *ud, const char *topic, const char *payload)
{
        (void)ud;
        (void)topic;
        (void)payload;
}

static int load_config(const char *path, config_t *cfg)
{
        char err[1024], cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
                return -errno;
        if (config_load(path, cwd, cfg, err, sizeof(err)) != 0) {
                fprintf(stderr, "%s\n", err);
                return BK_E_INVALID;
        }
        return 0;
}

static void publish_one(void *ud, const char *topic, const char *payload)
{
        daemon_t *d = ud;
        if (bus_publish(d->bus, topic, payload, strlen(payload)) < 0)
                log_warnx("publish failed on %s", topic);
}

/* Performs what ingest asked of the bus (replays, reconnects), oldest first, and stores what it counted. */
static void perform_requests(daemon_t *d)
{
        int n;
        const ingest_request_t *q = ingest_requests(d->ingest, &n);
        ingest_counts_t c = ingest_counts_take(d->ingest);

        if (c.gaps)
                store_counter_add(d->store, CNT_GAPS, c.gaps);
        if (c.replays)
                store_counter_add(d->store, CNT_REPLAYS, c.replays);

        for (int i = 0; i < n; i++) {
                if (q[i].kind == INGEST_REPLAY) {
                        if (bus_replay_request(d->bus, q[i].feed, q[i].source, q[i].from_seq, q[i].max) < 0)
                                log_warnx("ingest: replay request to feed %d failed", q[i].feed);
                } else if (q[i].kind == INGEST_RECONNECT) {
                        bus_feed_reconnect(d->bus, q[i].feed);
                }
        }
        ingest_requests_clear(d->ingest);
}

static void position_load(void *ud, const char *source, int64_t last_seq)
{
        ingest_set_position(ud, source, last_seq);   /* one too many is not sequenced, as when live */
}

/* At start and after a rollback: ingest gets the stored positions and asks every feed to replay from them. */
static void resume_feeds(daemon_t *d)
{
        ingest_forget_positions(d->ingest);
        store_feeds_each(d->store, position_load, d->ingest);
        ingest_resume(d->ingest, clock_mono_ms(), store_counter(d->store, CNT_FEED_WATERMARKS) > 0);
        perform_requests(d);
}

/*
 * The store keeps a minimised, masked copy (store_dead_letter_add). The log line names where it
 * came from (source and seq, when readable: a source holding a personnummer is not) and the
 * reason, which never quotes the payload (event.c); never the content.
 */
static int dead_letter(store_t *s, bk_time_t now, const ingest_verdict_t *v)
{
        bool readable = v->source[0] && v->seq > 0;
        char seqs[24];
        int r;

        if (!v->raw)
                return 0;       /* a replayed copy of one stored when it came live: only its position */
        if ((r = store_dead_letter_add(s, v->reason, v->raw, v->len, now)) != 0)
                return r;
        store_counter_add(s, CNT_DEAD_LETTERS, 1);
        snprintf(seqs, sizeof(seqs), "%lld", readable ? (long long)v->seq : 0LL);
        if (log_ratelimit(v->reason, now, 60))
                log_struct(LOG_WARNING, LOG_ID_DEAD_LETTER,
                           LOG_FIELDS({ "BEVAKA_SOURCE", readable ? v->source : "(unreadable)" },
                                      { "BEVAKA_SEQ", seqs }, { "BEVAKA_REASON", v->reason }),
                           "ingest: dead letter from source %s seq %s: %s", readable ? v->source : "(unreadable)",
                           seqs, v->reason);
        return 0;
}

int daemon_apply_verdict(store_t *s, engine_t *e, const bk_clock_t *clock, const ingest_verdict_t *v)
{
        int r = 0;

        switch (v->outcome) {
        case INGEST_APPLY:
                r = engine_apply_event(e, &v->event);
                if (r == BK_E_DUPLICATE) {
                        store_counter_add(s, CNT_DUPLICATES, 1);   /* the same id under a new seq */
                        r = 0;
                } else if (r == 0 && v->event.data.masked) {
                        store_counter_add(s, CNT_MASKED, v->event.data.masked);
                }
                break;
        case INGEST_DUPLICATE:
                store_counter_add(s, CNT_DUPLICATES, 1);
                break;
        case INGEST_DEAD_LETTER:
                r = dead_letter(s, clock_now(clock), v);
                break;
        case INGEST_NONE:
        case INGEST_GAP:
                break;
        }
        if (r != 0)
                return r;
        return v->advance ? store_feed_set(s, v->source, v->seq) : 0;
}

/* A batch's time is read once, when it begins. */
static int begin_batch(daemon_t *d)
{
        d->batch_now = clock_now(&d->clock);
        return engine_begin(d->engine, d->batch_now);
}

/*
 * After a failed transaction (a full disk) the loop stops draining the feeds for a while, doubling
 * up to 30 s while it keeps failing, so that neither the adapter nor the journal is flooded
 * (the rollback's replay requests back off in ingest too); STATUS= says "store full".
 */
static void store_failed(daemon_t *d, int res)
{
        d->backoff_ms = BK_MIN(BK_MAX(d->backoff_ms * 2, 250), 30000);
        d->failed_ms = clock_mono_ms();
        d->backoff_until_ms = clock_mono_ms() + d->backoff_ms;
        ingest_set_store_full(d->ingest, res == -ENOSPC || res == -EIO || res == -EFBIG);
        if (log_ratelimit("transaction failed", clock_now(&d->clock), 60))
                log_struct(LOG_ERR, LOG_ID_STORE_FAILED, LOG_NO_FIELDS,
                           "transaction failed (%s); rolled back, will replay from the stored position "
                           "(retrying in %lld ms)", strerror(-res), (long long)d->backoff_ms);
}

/* Commits a batch (engine_commit); a failed one is rolled back and the feeds replay from the stored positions. */
static int finish_batch(daemon_t *d, int res)
{
        bool purged = d->api.purged;

        d->api.purged = false;
        if ((res = engine_commit(d->engine, res, publish_one, d)) < 0) {
                store_failed(d, res);
                d->time_done = 0;       /* what ran is rolled back too */
                d->wake_day = (cal_day_t)store_counter(d->store, CNT_WAKE_DAY);
                d->next_dirty = true;
                d->purging = false;     /* its day comes again */
                memset(&d->purged, 0, sizeof(d->purged));
                resume_feeds(d);
        }
        if (res == 0 && purged)
                store_checkpoint_truncate(d->store);
        if (res == 0 && d->outbox)
                outbox_sent(d->outbox, engine_sent(d->engine), clock_mono_ms());
        return res;
}

/* What ingest knows of the feeds, told to the engine: replaying (the leads' digests wait) and
 * in a history (a go-live's import, whose summaries wait). */
static void engine_follows_ingest(daemon_t *d)
{
        engine_set_catching_up(d->engine, ingest_catching_up(d->ingest),
                               ingest_in_history(d->ingest, clock_now(&d->clock)));
}

/*
 * Retention (gallring) follows event time, like the time rules: a run starts when event time
 * enters a new local day (run_until), at that moment. In a history (behind the clock) the run
 * completes there, before the next event is applied, so that a case is deleted at the same place
 * whatever the pacing or the restarts, and a reopening that comes later in the history finds it
 * gone just as it would have live. At the clock, a run deletes one small batch of each kind per
 * loop turn inside the turn's transaction, so that ingest and the API wait at most one batch,
 * until a batch finds less than PURGE_BATCH; then one line counts what went (no ids) and the WAL
 * is emptied.
 */
static void purge_done(daemon_t *d)
{
        const store_purged_t *p = &d->purged;

        store_counter_add(d->store, CNT_PURGE_RUNS, 1);
        if (p->cases + p->reminders + p->dead_letters + p->messages > 0) {
                /* a go-live import runs one a day of its history: the journal hears of the runs at the clock */
                log_struct(d->purge_history ? LOG_DEBUG : LOG_INFO, LOG_ID_PURGED, LOG_NO_FIELDS,
                           "retention: deleted %lld closed case(s) with %lld event(s), %lld reminder(s), "
                           "%lld dead letter(s), %lld published message(s)", (long long)p->cases,
                           (long long)p->events, (long long)p->reminders, (long long)p->dead_letters,
                           (long long)p->messages);
                d->api.purged = true;     /* the WAL is emptied once this commits */
        }
        memset(&d->purged, 0, sizeof(d->purged));
}

static bool purge_full(const store_purged_t *n)
{
        return n->cases >= PURGE_BATCH || n->reminders >= PURGE_BATCH || n->dead_letters >= PURGE_BATCH ||
               n->messages >= PURGE_BATCH;
}

static void purge_add(store_purged_t *to, const store_purged_t *n)
{
        to->cases += n->cases;
        to->events += n->events;
        to->reminders += n->reminders;
        to->dead_letters += n->dead_letters;
        to->messages += n->messages;
}

/* One batch of the run at d->purge_at. */
static int purge_batch(daemon_t *d)
{
        store_purged_t n = { 0 };
        int64_t t0 = clock_mono_ms();
        int r;

        engine_set_now(d->engine, d->purge_at);
        r = engine_purge_due(d->engine, &d->cfg.retention, PURGE_BATCH, &n);
        engine_set_now(d->engine, d->batch_now);
        if (r < 0)
                return r;
        /* what a batch holds up ingest and the API for (docs/performance.md measures it) */
        log_debug("retention: batch of %lld case(s), %lld reminder(s), %lld message(s) in %lld ms",
                  (long long)n.cases, (long long)n.reminders, (long long)n.messages,
                  (long long)(clock_mono_ms() - t0));
        purge_add(&d->purged, &n);
        d->purging = purge_full(&n);
        if (!d->purging)
                purge_done(d);
        return 0;
}

/* A run at event time `until` (deleting what is due at `at`): behind the clock it completes here. */
static int retention_start(daemon_t *d, bk_time_t until, bk_time_t at)
{
        int r;

        d->purge_at = at;
        d->purge_history = until < clock_now(&d->clock);
        do
                r = purge_batch(d);
        while (r >= 0 && d->purging && d->purge_history);
        return r;
}

/*
 * A loop turn's retention: the next batch of a run at the clock; a run after a reload changed
 * the settings, at the present event time; and dead letters, which are kept by the clock's
 * time (when they came), once a minute.
 */
static int purge_turn(daemon_t *d)
{
        store_purged_t n = { 0 };
        int r;

        if (d->purging)
                return purge_batch(d);
        if (d->purge_again) {
                bk_time_t until = ingest_time_limit(d->ingest, clock_now(&d->clock), clock_wall());
                if (until != INT64_MIN) {
                        d->purge_again = false;
                        return retention_start(d, until, until);
                }
        }
        if (d->last_purge_ms && clock_mono_ms() - d->last_purge_ms < PURGE_EVERY_MS)
                return 0;
        if ((r = engine_purge_dead_letters(d->engine, &d->cfg.retention, PURGE_BATCH, &n)) < 0)
                return r;
        /* more than a batch: the rest at the next turn */
        d->last_purge_ms = n.dead_letters >= PURGE_BATCH ? 0 : clock_mono_ms();
        if (n.dead_letters > 0)
                log_struct(LOG_INFO, LOG_ID_PURGED, LOG_NO_FIELDS, "retention: deleted %lld dead letter(s)",
                           (long long)n.dead_letters);
        return 0;
}

/*
 * Runs time-driven rules and deliveries at event time `until` (the engine's time for the while:
 * what they write is stamped with it), then gives the batch its own time back.
 */
static int run_until(daemon_t *d, bk_time_t until)
{
        int r, n;

        engine_set_now(d->engine, until);
        engine_follows_ingest(d);
        do {
                if ((r = engine_wake_cases(d->engine, WAKE_BATCH)) < 0)
                        break;
                n = r;
                /* due by event time, published only at a working moment of the clock (engine.c) */
                if ((r = engine_deliver_due(d->engine, DELIVER_BATCH)) < 0)
                        break;
                n += r;
        } while (n >= DELIVER_BATCH);
        /* after the day's first deliveries, so that the leads' digest holds them */
        if (r >= 0)
                r = engine_digest_due(d->engine);
        engine_set_now(d->engine, d->batch_now);
        /* retention runs once a day of event time, deleting what is due at the day's start: live
         * just after midnight, in a history before the day's first event, the same either way */
        if (r >= 0 && cal_local_day(until) > d->wake_day)
                r = retention_start(d, until, cal_local_to_utc(cal_local_day(until), 0));
        if (r < 0)
                return r;
        d->time_done = until;
        /* Stored with what it woke, so that a restart wakes the same cases at the same place. */
        d->wake_day = cal_local_day(until);
        store_counter_set(d->store, CNT_WAKE_DAY, d->wake_day);
        d->next_dirty = true;
        return 0;
}

/*
 * Whether time-driven work has anything to do at event time `until` behind the clock: a new
 * local day (cases wake by day) or a reminder's moment passed. Checked alike before each event
 * and at the end of a batch, so that it runs at the same places in a history whatever its pacing.
 */
static bool time_due(daemon_t *d, bk_time_t until)
{
        if (cal_local_day(until) > d->wake_day)
                return true;
        if (d->next_dirty) {
                bk_time_t next = store_rem_next_delivery(d->store);
                d->next_delivery = next == INT64_MAX ? next : cal_next_working(&d->cfg.calendar, next);
                d->next_dirty = false;
        }
        return until >= d->next_delivery;
}

/*
 * Time runs on event time (protocol §6): up to min(clock, the feeds' watermarks), so a history
 * is judged as it happened whatever its pacing, and a heartbeat is never work. At the clock
 * (live) every turn looks for work. A feed without a watermark holds time while it catches up,
 * but never starves deliveries for long.
 */
static int run_time(daemon_t *d, bool force)
{
        bk_time_t now = clock_now(&d->clock), until = ingest_time_limit(d->ingest, now, clock_wall());

        if (until == INT64_MIN) {
                if (!force && clock_mono_ms() - d->last_deliver_ms < CATCH_UP_MAX_MS)
                        return 0;
                until = now;
        }
        d->last_deliver_ms = clock_mono_ms();
        if (!force && until < now && !time_due(d, until))
                return 0;
        return run_until(d, until);
}

/*
 * Before an event of a source with watermarks is applied, event time has moved to just before
 * its `at`: a case's wake day or a reminder's moment that it passed comes first, exactly where it
 * falls in the history, and not wherever a batch or a heartbeat happens to end. At the clock,
 * the end of the batch does it.
 */
static int time_before_event(daemon_t *d)
{
        bk_time_t until, now = clock_now(&d->clock);

        if (!ingest_has_watermarks(d->ingest))
                return 0;
        until = ingest_time_limit(d->ingest, now, clock_wall());
        if (until == INT64_MIN || until >= now || !time_due(d, until))
                return 0;
        return run_until(d, until);
}

/*
 * Drains up to a batch of feed messages, round-robin over feeds and replay sockets. A batch is
 * store.batch messages or BATCH_MAX_MS of work, whichever comes first, so that during a long
 * catch-up on a large store API requests still get an answer within a fraction of a second.
 */
static int drain_feeds(daemon_t *d, int *count)
{
        int budget = d->cfg.store_batch, progress;
        int64_t deadline = clock_mono_ms() + BATCH_MAX_MS;
        bus_msg_t m;

        *count = 0;
        do {
                if (*count > 0 && clock_mono_ms() >= deadline)
                        return 1;     /* more may be waiting */
                progress = 0;
                for (int f = 0; f < bus_n_feeds(d->bus) && budget > 0; f++) {
                        for (int k = 0; k < 2 && budget > 0; k++) {
                                int r = k ? bus_recv_replay(d->bus, f, &m) : bus_recv_feed(d->bus, f, &m);
                                if (r == BK_E_NOT_FOUND)
                                        continue;
                                if (r < 0)
                                        return r;
                                ingest_verdict_t v;

                                ingest_handle(d->ingest, &m, clock_mono_ms(), &v);
                                if (!store_counter(d->store, CNT_FEED_WATERMARKS) && ingest_has_watermarks(d->ingest))
                                        store_counter_add(d->store, CNT_FEED_WATERMARKS, 1);
                                /* a replay far behind the clock is a go-live (deliver.h) */
                                engine_follows_ingest(d);
                                r = v.outcome == INGEST_APPLY ? time_before_event(d) : 0;
                                if (r >= 0)
                                        r = daemon_apply_verdict(d->store, d->engine, &d->clock, &v);
                                d->next_dirty |= v.outcome == INGEST_APPLY;
                                perform_requests(d);
                                if (r < 0)
                                        return r;
                                budget--;
                                progress++;
                                (*count)++;
                        }
                }
        } while (progress && budget > 0);
        return budget == 0;   /* 1: more may be waiting */
}

/* The API's view of the feeds (api_feeds_t): ingest's. */
static json_t *feeds_json(void *arg)
{
        return ingest_feeds_json(arg, clock_wall());
}

static void feeds_status(void *arg, char *buf, size_t n)
{
        ingest_status(arg, buf, n);
}

static json_t *feeds_endpoints(void *arg)
{
        return ingest_endpoints_json(arg);
}

static void identity_of(const daemon_t *d, const bus_peer_t *peer, api_identity_t *who)
{
        /* With CURVE: the key list's grant for the peer's key, as the list is now (a revoked key: none). */
        if (d->cfg.curve) {
                bus_identity(d->bus, peer, who);
                return;
        }
        acl_local_identity(who, peer->user);
}

static int serve_api(daemon_t *d)
{
        bus_msg_t m;
        bus_peer_t peer;
        api_identity_t who;
        int n = 0;

        while (n < 100 && bus_recv_api(d->bus, &m, &peer) == 0) {
                _cleanup_free_ char *reply = NULL;
                int r;

                n++;
                identity_of(d, &peer, &who);
                if (m.kind == BUS_BAD) {
                        reply = strdup("{\"ok\":false,\"req\":null,\"error\":{\"code\":\"bad_request\","
                                       "\"message\":\"a request is one frame\"}}");
                } else {
                        if ((r = begin_batch(d)) < 0) {
                                reply = strdup("{\"ok\":false,\"req\":null,\"error\":{\"code\":\"unavailable\","
                                               "\"message\":\"store unavailable\"}}");
                        } else {
                                d->api.wrote = false;
                                d->api.peer = &peer;
                                d->api.peer_len = sizeof(peer);
                                reply = api_handle(&d->api, &who, m.body, m.len);
                                d->api.peer = NULL;
                                /* A moved manual clock delivers before the reply: when `clock`
                                 * answers, what the new time made due is committed and published. */
                                r = 0;
                                if (d->api.clock_moved) {
                                        d->api.clock_moved = false;
                                        d->batch_now = clock_now(&d->clock);
                                        engine_set_now(d->engine, d->batch_now);
                                        r = run_time(d, true);
                                }
                                /* A read answered from a consistent snapshot stays a good answer even
                                 * when the commit (say, of a counter) fails on a full disk. */
                                if (finish_batch(d, r) < 0 && d->api.wrote) {
                                        free(reply);
                                        reply = strdup("{\"ok\":false,\"req\":null,\"error\":{\"code\":"
                                                       "\"unavailable\",\"message\":\"store write failed\"}}");
                                }
                        }
                }
                if (reply)
                        bus_reply(d->bus, &peer, reply, strlen(reply));
                if (d->keys_reload) {
                        d->keys_reload = false;
                        bus_reload_keys(d->bus);   /* checked by `reload`; may reset the sockets */
                }
        }
        return n;
}

/* The indicators' worker has an answer: the signal wakes the loop, which sends it. */
static void wake_loop(void *ud)
{
        kill(getpid(), SIGUSR2);
}

static void send_answer(void *ud, const indworker_answer_t *a)
{
        daemon_t *d = ud;
        bus_peer_t peer;
        _Static_assert(sizeof(peer) <= INDWORKER_PEER_MAX, "a reply address fits the worker's copy");
        _cleanup_free_ char *text = api_reply_text(a->req_id, a->err_code, a->err_msg, json_incref(a->out));

        memcpy(&peer, a->peer, sizeof(peer));
        if (text)
                bus_reply(d->bus, &peer, text, strlen(text));
}

static void notify_status(daemon_t *d)
{
        char feeds[96];
        int64_t c[REM__STATE_COUNT];

        store_rem_count_by_state(d->store, c);
        ingest_status(d->ingest, feeds, sizeof(feeds));
        sd_notifyf(0, "STATUS=%s; %lld events applied, %lld dead letters; %lld reminders waiting, %lld open",
                   feeds, (long long)store_counter(d->store, CNT_APPLIED),
                   (long long)store_counter(d->store, CNT_DEAD_LETTERS),
                   (long long)(c[REM_SCHEDULED] + c[REM_SNOOZED]),
                   (long long)(c[REM_DELIVERED] + c[REM_ACKNOWLEDGED]));
}

static void restart_setting(void *ud, const char *setting)
{
        json_array_append_new(ud, json_string(setting));
}

/*
 * The configuration file: rules, calendar, retention and the log level apply now; the rest waits
 * for a restart and is named in *waiting (when not NULL). 0, or BK_E_INVALID with why in err (the
 * journal says so too) and the running configuration kept.
 */
static int reload_config(daemon_t *d, char *err, size_t n, json_t *waiting)
{
        _cleanup_free_ config_t *fresh = malloc(sizeof(*fresh));
        char cwd[PATH_MAX];

        if (!fresh || !getcwd(cwd, sizeof(cwd))) {
                snprintf(err, n, "out of memory");
        } else if (config_load(d->config_path, cwd, fresh, err, n) == 0) {
                d->cfg.rules = fresh->rules;
                d->cfg.calendar = fresh->calendar;
                d->cfg.log_level = fresh->log_level;
                d->purge_again |= memcmp(&d->cfg.retention, &fresh->retention, sizeof(fresh->retention)) != 0;
                d->cfg.retention = fresh->retention;
                d->cfg.delivery = fresh->delivery;
                log_set_level(fresh->log_level);
                if (waiting) {
                        config_restart_settings(&d->cfg, fresh, restart_setting, waiting);
                        if (json_array_size(waiting) > 0) {
                                _cleanup_free_ char *list = json_dumps(waiting, JSON_COMPACT);
                                log_warnx("reload: %s changed but take effect only after a restart",
                                          list ? list : "settings");
                        }
                }
                log_struct(LOG_INFO, LOG_ID_RELOADED, LOG_NO_FIELDS, "configuration reloaded");
                return 0;
        }
        log_struct(LOG_ERR, LOG_ID_RELOAD_FAILED, LOG_NO_FIELDS,
                   "reload failed, keeping the running configuration: %s", err);
        return BK_E_INVALID;
}

/* SIGHUP: the configuration and the key list, each kept as it was when its new version does not load. */
static void reload(daemon_t *d)
{
        char err[1024];
        json_t *waiting = json_array();

        sd_notify(0, "RELOADING=1");
        reload_config(d, err, sizeof(err), waiting);
        json_decref(waiting);
        bus_reload_keys(d->bus);   /* logs its own outcome */
        sd_notify(0, "READY=1");
}

/*
 * The API's `reload` (api_ctx_t.reload): the configuration now, and the key list checked now, so
 * the reply can say ok:false with the reason. The key list is installed after the reply has
 * gone (serve_api): a revoked key resets the API socket, which would swallow the reply.
 */
static int reload_from_api(void *arg, json_t **restart, char *err, size_t n)
{
        daemon_t *d = arg;
        json_t *waiting = json_array();
        int r;

        if (!waiting) {
                snprintf(err, n, "out of memory");
                return -ENOMEM;
        }
        sd_notify(0, "RELOADING=1");
        r = reload_config(d, err, n, waiting);
        /* the key list has its own file: it is taken (or kept) whatever became of the configuration */
        if (d->cfg.curve) {
                keys_t *k = calloc(1, sizeof(*k));
                char kerr[1024];
                d->keys_reload = k && config_load_keys(d->cfg.keys_file, k, kerr, sizeof(kerr)) == 0;
                if (!d->keys_reload) {
                        log_errx("reload: the key list did not load, keeping the running one: %s",
                                 k ? kerr : "out of memory");
                        if (r == 0)
                                snprintf(err, n, "%s", k ? kerr : "out of memory");
                        r = BK_E_INVALID;
                }
                if (k)
                        keys_clear(k);
                free(k);
        }
        sd_notify(0, "READY=1");
        if (r == 0)
                *restart = json_incref(waiting);
        json_decref(waiting);
        return r;
}

static void handle_signals(daemon_t *d)
{
        struct signalfd_siginfo si;
        while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP)
                        reload(d);
                else if (si.ssi_signo == SIGUSR2)
                        continue;       /* an indicators answer is ready (wake_loop) */
                else
                        d->stop = true;
        }
}

static int timeout_ms(daemon_t *d)
{
        bk_time_t next = engine_next_deadline(d->engine), now = clock_now(&d->clock);
        int64_t t = HOUSEKEEPING_MS;

        if (next != INT64_MAX && !d->clock.manual)
                t = BK_MIN(t, BK_MAX(0, (next - now) * 1000));
        if (d->watchdog_usec)
                t = BK_MIN(t, (int64_t)(d->watchdog_usec / 2000));
        return (int)t;
}

static int loop(daemon_t *d)
{
        bool more = false;

        while (!d->stop) {
                bool sig = false;
                int n, r;

                if (bus_wait(d->bus, more || d->purging ? 0 : timeout_ms(d), d->sigfd, &sig) < 0)
                        return -EIO;
                if (sig)
                        handle_signals(d);
                bus_drain_subscriptions(d->bus, outbox_subscribed, d->outbox);
                if (outbox_offer(d->outbox, clock_mono_ms(), publish_one, d) < 0)
                        log_warnx("outbox: could not read the messages to offer again");

                if ((r = begin_batch(d)) < 0) {
                        log_errx("cannot begin a transaction; retrying");
                        more = false;
                        continue;
                }
                outbox_settle(d->outbox, clock_mono_ms());
                n = 0;
                r = clock_mono_ms() < d->backoff_until_ms ? 0 : drain_feeds(d, &n);
                more = r == 1;
                if (r >= 0)
                        r = run_time(d, false);
                if (r >= 0)
                        r = purge_turn(d);
                /* Only batches that wrote feed messages, for a while, show the store has room again
                 * (a small one may fit in what a rollback freed). */
                if (finish_batch(d, r) == 0 && n > 0 && d->backoff_ms &&
                    clock_mono_ms() - d->failed_ms > STORE_OK_AFTER_MS) {
                        d->backoff_ms = 0;
                        ingest_set_store_full(d->ingest, false);
                        log_info("the store takes writes again");
                }

                serve_api(d);
                indworker_drain(d->indw, send_answer, d);
                ingest_tick(d->ingest, clock_mono_ms());
                perform_requests(d);

                int64_t now = clock_mono_ms();
                if (d->watchdog_usec && now - d->last_watchdog_ms >= (int64_t)(d->watchdog_usec / 2000)) {
                        sd_notify(0, "WATCHDOG=1");
                        d->last_watchdog_ms = now;
                }
                if (now - d->last_status_ms >= 5000) {
                        notify_status(d);
                        d->last_status_ms = now;
                }
        }
        return 0;
}

static int setup_signals(daemon_t *d)
{
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGUSR2);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        signal(SIGPIPE, SIG_IGN);
        d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        return d->sigfd < 0 ? -errno : 0;
}

static int rebuild_one(void *ud, const char *raw, size_t len)
{
        daemon_t *d = ud;
        char reason[256];
        event_t ev;
        int r;

        if (event_parse(raw, len, &ev, reason, sizeof(reason)) != 0)
                return 0;
        r = engine_apply_event(d->engine, &ev);
        return r == BK_E_DUPLICATE || r >= 0 ? 0 : r;
}

/*
 * Rebuild: derived tables are cleared and the event log is replayed
 * through the rules into a fresh copy of itself, in one transaction.
 */
static int rebuild(daemon_t *d)
{
        int r;
        if ((r = begin_batch(d)) < 0)
                return r;
        r = store_clear_derived(d->store);
        engine_set_rebuild(d->engine, true);
        if (r >= 0)
                r = store_events_each(d->store, rebuild_one, d);
        engine_set_rebuild(d->engine, false);
        /* A rebuild publishes nothing: clients already have what it re-derives. */
        return engine_commit(d->engine, r, publish_nothing, NULL);
}

/*
 * --restore: the backup is checked and swapped in by store_restore(); then
 * the store is opened once as the daemon would, so that migrations run now
 * and a file this binary cannot use fails here rather than at the next start.
 */
static int restore(daemon_t *d, const char *from)
{
        store_file_info_t info = { 0 };
        char err[1024], n[24];
        int r;

        if ((r = store_restore(from, d->cfg.store_path, &info, err, sizeof(err))) != 0) {
                log_errx("restore: %s", err);
                return r;
        }
        if ((r = store_open(d->cfg.store_path, d->cfg.store_sync_full, &d->store)) < 0) {
                log_errx("restore: %s was restored but does not open", d->cfg.store_path);
                return r;
        }
        snprintf(n, sizeof(n), "%lld", (long long)info.events);
        log_struct(LOG_NOTICE, LOG_ID_RESTORED, LOG_FIELDS({ "BEVAKA_EVENTS", n }),
                   "restored %s from %s: schema version %d, %lld events, integrity ok", d->cfg.store_path, from,
                   info.version, (long long)info.events);
        return 0;
}

/* --check-config: the configuration, and the key list when it is there (a fresh install has none yet). */
static int check_config(daemon_t *d)
{
        char err[1024];

        if (d->cfg.curve && access(d->cfg.keys_file, R_OK) == 0) {
                int kr = config_check_keys(d->cfg.keys_file, err, sizeof(err));
                if (kr != 0) {
                        fprintf(stderr, "%s\n", kr == -ENOMEM ? "out of memory" : err);
                        return 1;
                }
        }
        config_print(&d->cfg, stdout);
        return 0;
}

/* Opens the sockets and the feed side over an open store and engine, then runs the loop until stopped. */
static int serve(daemon_t *d)
{
        char err[1024];
        int r;

        if ((r = setup_signals(d)) < 0) {
                log_errx("signals: %s", strerror(-r));
                return r;
        }
        if ((r = store_checkpointer_start(d->store)) < 0) {
                log_errx("store: cannot start the checkpoint thread: %s", strerror(-r));
                return r;
        }
        if ((r = bus_open(&d->cfg, &d->bus, err, sizeof(err))) < 0) {
                log_errx("%s", err);
                return r;
        }
        if ((r = ingest_new(&d->cfg, &d->clock, clock_mono_ms(), &d->ingest)) < 0 ||
            (r = outbox_new(d->store, clock_mono_ms(), &d->outbox)) < 0)
                return r;
        d->api = (api_ctx_t){ .cfg = &d->cfg, .store = d->store, .engine = d->engine,
                              .feeds = { feeds_json, feeds_status, feeds_endpoints, d->ingest }, .clock = &d->clock,
                              .security = d->cfg.curve ? bus_stats(d->bus) : NULL,
                              .reload = reload_from_api, .reload_arg = d };
        /* Indicators are computed off the loop; an in-memory store has no second connection
         * to read it, so there they are computed in place. */
        if ((r = indworker_start(d->cfg.store_path, wake_loop, d, &d->indw)) < 0) {
                log_errx("indicators: cannot start the worker thread: %s", strerror(-r));
                return r;
        }
        d->api.indicators = d->indw;
        if (sd_watchdog_enabled(0, &d->watchdog_usec) <= 0)
                d->watchdog_usec = 0;
        d->wake_day = (cal_day_t)store_counter(d->store, CNT_WAKE_DAY);
        d->next_dirty = true;
        resume_feeds(d);
        /* The catch-up's 30 s allowance starts now: the first turns must not deliver before the
         * replay asked for above has been judged (a reminder it resolves would go out). */
        d->last_deliver_ms = clock_mono_ms();
        log_struct(LOG_INFO, LOG_ID_STARTED, LOG_FIELDS({ "BEVAKA_VERSION", BEVAKA_VERSION }),
                   "bevakad %s ready: store %s, %d feed(s), publish %s, api %s, clock %s", BEVAKA_VERSION,
                   d->cfg.store_path, d->cfg.n_feeds, d->cfg.publish_endpoint, d->cfg.api_endpoint,
                   d->cfg.clock_manual ? "manual" : "system");
        sd_notify(0, "READY=1");
        notify_status(d);
        r = loop(d);
        sd_notify(0, "STOPPING=1");
        log_struct(LOG_INFO, LOG_ID_STOPPING, LOG_NO_FIELDS, "stopping");
        return r;
}

int daemon_main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "config", required_argument, NULL, 'c' }, { "check-config", no_argument, NULL, 'C' },
                { "rebuild", no_argument, NULL, 'R' },      { "version", no_argument, NULL, 'V' },
                { "verbose", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
                { "restore", required_argument, NULL, 'r' },
                { NULL, 0, NULL, 0 },
        };
        daemon_t *d = calloc(1, sizeof(*d));
        bool check = false, do_rebuild = false, verbose = false;
        const char *restore_from = NULL;
        int opt, r, rc = 1;

        if (!d)
                return 1;
        d->sigfd = -1;
        while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'c': d->config_path = optarg; break;
                case 'C': check = true; break;
                case 'R': do_rebuild = true; break;
                case 'r': restore_from = optarg; break;
                case 'v': verbose = true; break;
                case 'V': printf("bevakad %s\n", BEVAKA_VERSION); free(d); return 0;
                case 'h': usage(stdout); free(d); return 0;
                default: usage(stderr); free(d); return 2;
                }
        }
        if (optind < argc) {
                usage(stderr);
                free(d);
                return 2;
        }
        log_init("bevakad", LOG_INFO, log_journal_detect());
        if (load_config(d->config_path, &d->cfg) != 0)
                goto out;
        if (check) {
                rc = check_config(d);
                goto out;
        }
        log_set_level(verbose ? LOG_DEBUG : d->cfg.log_level);
        if (restore_from) {
                rc = restore(d, restore_from) != 0;
                goto out;
        }
        if (zone_error()) {     /* local time would silently follow a rule tzdata may since have changed */
                log_errx("calendar: %s", zone_error());
                goto out;
        }
        if (check_key_files(&d->cfg) < 0)
                goto out;
        clock_init(&d->clock, d->cfg.clock_manual, d->cfg.clock_start);
        if ((r = store_open(d->cfg.store_path, d->cfg.store_sync_full, &d->store)) < 0) {
                log_errx("cannot open the store %s", d->cfg.store_path);
                goto out;
        }
        if ((r = engine_new(&d->cfg, d->store, &d->clock, &d->engine)) < 0)
                goto out;
        if (do_rebuild) {
                r = rebuild(d);
                if (r < 0)
                        log_errx("rebuild failed: %s", strerror(-r));
                else
                        log_info("rebuilt cases and reminders from the event log");
                rc = r < 0;
                goto out;
        }
        rc = serve(d) < 0;
out:
        indworker_stop(&d->indw);
        ingest_free(&d->ingest);
        bus_close(&d->bus);
        /* after the bus's linger: what it held has left, and the next start need not offer it */
        if (d->outbox && outbox_stop(d->outbox) < 0)
                log_warnx("outbox: could not store the published-up-to mark at stop");
        outbox_free(&d->outbox);
        engine_free(&d->engine);
        store_close(&d->store);
        if (d->sigfd >= 0)
                close(d->sigfd);
        free(d);
        return rc;
}
