/*
 * bus.c owns libzmq on the daemon side. Receives copy the payload into a
 * reusable buffer so callers see plain bytes; the frame shapes of protocol
 * §1–§3 are checked here, so the rest of the daemon never sees a zmq_msg_t.
 *
 * With CURVE it also does the socket half of security (the decisions are
 * zap.c's): it serves ZAP requests from the loop's own poll, authorizes
 * XPUB subscriptions under ZMQ_XPUB_MANUAL, and recreates a bound socket
 * when peers must be made to authenticate again. libzmq 4.3.4's manual
 * XPUB has two faults this works around (docs/security.md): a message that
 * is not a subscription shifts which pipe a later ZMQ_SUBSCRIBE applies to,
 * and a subscription read after its pipe died makes ZMQ_SUBSCRIBE store a
 * freed pipe. Both are detected while draining; the XPUB is then replaced
 * before anything more is published on it.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <zmq.h>
#include "bus.h"
#include "clock.h"
#include "pnr.h"
#include "log.h"
#include "zap.h"

#define BUS_HEARTBEAT_IVL_MS 5000
#define BUS_HEARTBEAT_TIMEOUT_MS 15000
/* A peer gets this long to finish the handshake: half-open connections do not pile up. */
#define BUS_HANDSHAKE_IVL_MS 10000
#define BUS_RESET_WAIT_MS 2000
#define BUS_REBIND_RETRY_MS 200
#define BUS_ZAP_BATCH 100
/* Subscriptions granted within one drain whose pipe may have died under them (see bus_drain_subscriptions). */
#define BUS_GRANTS_TRACKED 64
#define BUS_PREFIX_MAX (2 * EV_NAME_MAX + 8)

struct feed_socks {
        void *sub;
        void *dealer;
        bool curve;                     /* the adapter's public key is configured */
        uint8_t server_key[KEYS_KEY_SIZE];
};

struct bound {
        void *s;                        /* NULL while a reset waits to rebind */
        int type;
        const char *what;               /* "publish", "api": the config group, for messages */
        char ep[CFG_PATH_MAX];          /* as bound (ZMQ_LAST_ENDPOINT: a "*" port resolved) */
};

struct bus {
        const config_t *cfg;
        void *ctx;
        struct feed_socks feeds[CFG_MAX_FEEDS];
        int n_feeds;
        struct bound pub;
        struct bound api;
        void *zap;                      /* REP at ZAP_ENDPOINT, CURVE only */
        keys_t *keys;                   /* CURVE only */
        bool have_keypair;
        uint8_t public_key[KEYS_KEY_SIZE], secret_key[KEYS_KEY_SIZE];
        int64_t next_rebind_ms;
        unsigned n_resets;              /* names each reset's monitor endpoint */
        bus_stats_t stats;
        char *buf;              /* reusable receive buffer */
        size_t buf_size;
};

static void set_int(void *s, int opt, int v)
{
        zmq_setsockopt(s, opt, &v, sizeof(v));
}

static void set_common(const bus_t *b, void *s)
{
        int64_t max = b->cfg->max_msg_size;
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max));
        set_int(s, ZMQ_SNDHWM, b->cfg->hwm);
        set_int(s, ZMQ_RCVHWM, b->cfg->hwm);
        set_int(s, ZMQ_LINGER, 1000);
        set_int(s, ZMQ_HEARTBEAT_IVL, BUS_HEARTBEAT_IVL_MS);
        set_int(s, ZMQ_HEARTBEAT_TIMEOUT, BUS_HEARTBEAT_TIMEOUT_MS);
}

/* ipc://, inproc:// and loopback tcp:// are safe without CURVE. */
static bool endpoint_is_local(const char *ep)
{
        const char *host;
        char h[256];
        size_t n;

        if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
                return true;
        if (strncmp(ep, "tcp://", 6) != 0)
                return false;
        host = ep + 6;
        if (host[0] == '[') {
                const char *end = strchr(host, ']');
                if (!end)
                        return false;
                n = (size_t)(end - host - 1);
                if (n >= sizeof(h))
                        return false;
                memcpy(h, host + 1, n);
                h[n] = '\0';
                return strcmp(h, "::1") == 0;
        }
        n = strcspn(host, ":");
        if (n >= sizeof(h))
                return false;
        memcpy(h, host, n);
        h[n] = '\0';
        if (strcmp(h, "localhost") == 0)
                return true;
        struct in_addr a;
        if (inet_pton(AF_INET, h, &a) == 1)
                return (ntohl(a.s_addr) >> 24) == 127;
        return false;
}

static int bind_checked(bus_t *b, struct bound *bd, const char *ep, char *err, size_t n)
{
        size_t len = sizeof(bd->ep);

        if (!b->cfg->curve && !endpoint_is_local(ep)) {
                snprintf(err, n, "%s.endpoint: refusing to bind %s without CURVE "
                         "(security.curve = false allows only ipc:// and loopback tcp://)", bd->what, ep);
                return -EPERM;
        }
        if (zmq_bind(bd->s, ep) != 0) {
                snprintf(err, n, "%s.endpoint: cannot bind %s: %s", bd->what, ep, zmq_strerror(zmq_errno()));
                return -errno;
        }
        /* A reset rebinds exactly this, also when the configuration said port "*". */
        if (zmq_getsockopt(bd->s, ZMQ_LAST_ENDPOINT, bd->ep, &len) != 0)
                bk_strlcpy(bd->ep, ep, sizeof(bd->ep));
        return 0;
}

/* ---- keys ------------------------------------------------------------------- */

/* The daemon's own keypair: needed to serve CURVE and to be a CURVE client of an adapter. */
static int keypair_load(bus_t *b, char *err, size_t n)
{
        char zs[KEYS_Z85_LEN + 1], zp[KEYS_Z85_LEN + 1], derived[KEYS_Z85_LEN + 1];
        int r;

        if ((r = keys_read_file(b->cfg->secret_key_file, "secret-key", true, b->secret_key, err, n)) != 0 ||
            (r = keys_read_file(b->cfg->public_key_file, "public-key", false, b->public_key, err, n)) != 0)
                return -EINVAL;
        keys_z85_encode(b->secret_key, zs);
        keys_z85_encode(b->public_key, zp);
        r = zmq_curve_public(derived, zs);
        explicit_bzero(zs, sizeof(zs));
        if (r != 0) {
                snprintf(err, n, "security: cannot derive a public key: %s", zmq_strerror(zmq_errno()));
                return -EINVAL;
        }
        if (strcmp(derived, zp) != 0) {
                snprintf(err, n, "security.public_key: %s is not the public key of security.secret_key %s",
                         b->cfg->public_key_file, b->cfg->secret_key_file);
                return -EINVAL;
        }
        b->have_keypair = true;
        return 0;
}

static int keylist_load(bus_t *b, char *err, size_t n)
{
        keys_t *k = calloc(1, sizeof(*k));
        int r;

        if (!k)
                return -ENOMEM;
        if ((r = config_load_keys(b->cfg->keys_file, k, err, n)) != 0) {
                free(k);
                return r < 0 ? r : -EINVAL;
        }
        keys_free(&b->keys);
        b->keys = k;
        return 0;
}

/* ---- sockets ----------------------------------------------------------------- */

static void set_curve_client(void *s, const uint8_t server[KEYS_KEY_SIZE], const bus_t *b)
{
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, KEYS_KEY_SIZE);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, b->public_key, KEYS_KEY_SIZE);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, b->secret_key, KEYS_KEY_SIZE);
}

static int feed_open(bus_t *b, int i)
{
        const cfg_feed_t *f = &b->cfg->feeds[i];
        struct feed_socks *fs = &b->feeds[i];

        fs->sub = zmq_socket(b->ctx, ZMQ_SUB);
        fs->dealer = zmq_socket(b->ctx, ZMQ_DEALER);
        if (!fs->sub || !fs->dealer)
                return -errno;
        set_common(b, fs->sub);
        set_common(b, fs->dealer);
        /* No ZMQ heartbeats on the feed: a lagging daemon stops reading, the heartbeat then drops a
         * healthy connection (libzmq 4.3.4 may abort, #3937). feed.silence_s watches the feed. */
        set_int(fs->sub, ZMQ_HEARTBEAT_IVL, 0);
        set_int(fs->dealer, ZMQ_HEARTBEAT_IVL, 0);
        /* Memory is bounded by the feed, not the backlog: live events past this many wait in the
         * adapter (or are dropped there: a gap that the replay fills), and a replay reply is at
         * most a chunk (INGEST_REPLAY_CHUNK, asked for one at a time). */
        set_int(fs->sub, ZMQ_RCVHWM, BK_MIN(b->cfg->hwm, BUS_FEED_RCVHWM));
        set_int(fs->dealer, ZMQ_RCVHWM, BK_MIN(b->cfg->hwm, BUS_FEED_RCVHWM));
        set_int(fs->sub, ZMQ_RECONNECT_IVL, 100);
        set_int(fs->dealer, ZMQ_RECONNECT_IVL, 100);
        set_int(fs->sub, ZMQ_RECONNECT_IVL_MAX, 2000);
        set_int(fs->dealer, ZMQ_RECONNECT_IVL_MAX, 2000);
        if (fs->curve) {
                set_curve_client(fs->sub, fs->server_key, b);
                set_curve_client(fs->dealer, fs->server_key, b);
        }
        zmq_setsockopt(fs->sub, ZMQ_SUBSCRIBE, "", 0);
        /* Connect is asynchronous: a feed that is not up yet is not an error. */
        if (zmq_connect(fs->sub, f->endpoint) != 0 || zmq_connect(fs->dealer, f->replay_endpoint) != 0) {
                log_errx("bus: feed %d: cannot connect: %s", i, zmq_strerror(zmq_errno()));
                return -EINVAL;
        }
        return 0;
}

static void feed_close(struct feed_socks *fs)
{
        if (fs->sub)
                zmq_close(fs->sub);
        if (fs->dealer)
                zmq_close(fs->dealer);
        fs->sub = fs->dealer = NULL;
}

/* A socket peers connect to: the same options at start and after every reset. */
static void *bound_socket(bus_t *b, int type)
{
        void *s = zmq_socket(b->ctx, type);

        if (!s)
                return NULL;
        set_common(b, s);
        set_int(s, ZMQ_HANDSHAKE_IVL, BUS_HANDSHAKE_IVL_MS);
        if (b->cfg->curve) {
                set_int(s, ZMQ_CURVE_SERVER, 1);
                zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, b->secret_key, KEYS_KEY_SIZE);
                zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN));
        }
        if (type == ZMQ_XPUB) {
                /* Without CURVE everyone is admin: nothing to authorize, libzmq applies subscriptions. */
                if (b->cfg->curve)
                        set_int(s, ZMQ_XPUB_MANUAL, 1);
                else
                        set_int(s, ZMQ_XPUB_VERBOSE, 1);
        } else if (type == ZMQ_ROUTER) {
                set_int(s, ZMQ_ROUTER_MANDATORY, 1);
        }
        return s;
}

static int bound_open(bus_t *b, struct bound *bd, const char *ep, char *err, size_t n)
{
        bd->s = bound_socket(b, bd->type);
        if (!bd->s) {
                snprintf(err, n, "%s: cannot create a socket: %s", bd->what, zmq_strerror(zmq_errno()));
                return -ENOMEM;
        }
        return bind_checked(b, bd, ep, err, n);
}

/* Waits for the listener of a just-unbound socket to close: it unlinks an ipc:// path as it goes. */
static void wait_closed(void *mon, int timeout_ms)
{
        int64_t end = clock_mono_ms() + timeout_ms;

        for (;;) {
                zmq_pollitem_t it = { .socket = mon, .events = ZMQ_POLLIN };
                int64_t left = end - clock_mono_ms();
                zmq_msg_t ev;
                uint16_t event = 0;

                if (left <= 0 || zmq_poll(&it, 1, (long)left) <= 0)
                        return;
                zmq_msg_init(&ev);
                if (zmq_msg_recv(&ev, mon, 0) >= 0 && zmq_msg_size(&ev) >= 2)
                        memcpy(&event, zmq_msg_data(&ev), 2);
                zmq_msg_close(&ev);
                /* Then the event's endpoint frame, which says nothing we need. */
                zmq_msg_init(&ev);
                zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT);
                zmq_msg_close(&ev);
                if (event == ZMQ_EVENT_CLOSED || event == ZMQ_EVENT_CLOSE_FAILED)
                        return;
        }
}

static int bound_rebind(bus_t *b, struct bound *bd)
{
        void *s = bound_socket(b, bd->type);

        if (!s)
                return -ENOMEM;
        if (zmq_bind(s, bd->ep) != 0) {
                int e = zmq_errno();
                set_int(s, ZMQ_LINGER, 0);
                zmq_close(s);
                if (log_ratelimit(bd->what, clock_mono_ms() / 1000, 60))
                        log_errx("bus: %s: cannot bind %s again yet: %s; retrying", bd->what, bd->ep,
                                 zmq_strerror(e));
                return -e;
        }
        bd->s = s;
        return 0;
}

/*
 * Drops every peer of a bound socket: unbind (which ends the connections
 * accepted on that endpoint), wait for the listener to close, close the
 * socket with whatever state it had (the XPUB's subscriptions), and bind
 * a fresh one. Peers reconnect by themselves and pass the handshake again.
 * libzmq 4.3 cannot disconnect a single peer of a ROUTER or an XPUB.
 */
static void bound_reset(bus_t *b, struct bound *bd, const char *why)
{
        char mon_ep[64];
        void *mon = NULL;

        b->stats.resets++;
        log_notice("bus: dropping every %s connection: %s", bd->what, why);
        if (bd->s) {
                snprintf(mon_ep, sizeof(mon_ep), "inproc://bevaka-bus-reset-%u", b->n_resets++);
                if (zmq_socket_monitor(bd->s, mon_ep, ZMQ_EVENT_CLOSED | ZMQ_EVENT_CLOSE_FAILED) == 0 &&
                    (mon = zmq_socket(b->ctx, ZMQ_PAIR)) != NULL) {
                        set_int(mon, ZMQ_LINGER, 0);
                        if (zmq_connect(mon, mon_ep) != 0) {
                                zmq_close(mon);
                                mon = NULL;
                        }
                }
                if (zmq_unbind(bd->s, bd->ep) == 0 && mon)
                        wait_closed(mon, BUS_RESET_WAIT_MS);
                zmq_socket_monitor(bd->s, NULL, 0);
                if (mon)
                        zmq_close(mon);
                /* Linger kept: a reply already queued (the `reload` op's own) still goes out. */
                zmq_close(bd->s);
                bd->s = NULL;
        }
        if (bound_rebind(b, bd) < 0)
                b->next_rebind_ms = clock_mono_ms() + BUS_REBIND_RETRY_MS;
}

static void rebind_pending(bus_t *b)
{
        struct bound *all[] = { &b->pub, &b->api };
        bool again = false;

        for (size_t i = 0; i < BK_ARRAY_SIZE(all); i++)
                if (!all[i]->s && bound_rebind(b, all[i]) < 0)
                        again = true;
        b->next_rebind_ms = again ? clock_mono_ms() + BUS_REBIND_RETRY_MS : 0;
}

int bus_open(const config_t *cfg, bus_t **out, char *err, size_t err_size)
{
        bus_t *b = calloc(1, sizeof(*b));
        bool curve_feeds = false;
        int r;

        if (!b)
                return -ENOMEM;
        b->cfg = cfg;
        b->pub = (struct bound){ .type = ZMQ_XPUB, .what = "publish" };
        b->api = (struct bound){ .type = ZMQ_ROUTER, .what = "api" };
        b->buf_size = (size_t)cfg->max_msg_size + 1;
        b->buf = malloc(b->buf_size);
        b->ctx = zmq_ctx_new();
        if (!b->buf || !b->ctx) {
                r = -ENOMEM;
                goto fail;
        }
        for (int i = 0; i < cfg->n_feeds; i++)
                curve_feeds |= cfg->feeds[i].server_key[0] != '\0';
        if ((cfg->curve || curve_feeds) && !zmq_has("curve")) {
                snprintf(err, err_size, "security: this libzmq has no CURVE support");
                r = -ENOTSUP;
                goto fail;
        }
        if (curve_feeds && (!cfg->secret_key_file[0] || !cfg->public_key_file[0])) {
                /* A CURVE client needs a keypair of its own: the daemon's, also with security.curve = false. */
                snprintf(err, err_size, "feed.server_key: a CURVE feed needs security.secret_key and "
                         "security.public_key (the daemon's keypair)");
                r = -EINVAL;
                goto fail;
        }
        if ((cfg->curve || curve_feeds) && (r = keypair_load(b, err, err_size)) < 0)
                goto fail;
        for (int i = 0; i < cfg->n_feeds; i++) {
                if (!cfg->feeds[i].server_key[0])
                        continue;
                if (keys_read_file(cfg->feeds[i].server_key, "public-key", false, b->feeds[i].server_key,
                                   err, err_size) != 0) {
                        r = -EINVAL;
                        goto fail;
                }
                b->feeds[i].curve = true;
        }
        if (cfg->curve) {
                if ((r = keylist_load(b, err, err_size)) < 0)
                        goto fail;
                /* Bound before any CURVE socket: libzmq lets a handshake through unchecked while no handler is. */
                b->zap = zmq_socket(b->ctx, ZMQ_REP);
                if (!b->zap || (set_common(b, b->zap), set_int(b->zap, ZMQ_LINGER, 0),
                                zmq_bind(b->zap, ZAP_ENDPOINT) != 0)) {
                        snprintf(err, err_size, "security: cannot bind the ZAP handler %s: %s", ZAP_ENDPOINT,
                                 zmq_strerror(zmq_errno()));
                        r = -EIO;
                        goto fail;
                }
        }
        b->n_feeds = cfg->n_feeds;
        for (int i = 0; i < b->n_feeds; i++) {
                if ((r = feed_open(b, i)) < 0) {
                        snprintf(err, err_size, "feed %d: cannot connect %s / %s", i,
                                 cfg->feeds[i].endpoint, cfg->feeds[i].replay_endpoint);
                        goto fail;
                }
        }
        if ((r = bound_open(b, &b->pub, cfg->publish_endpoint, err, err_size)) < 0 ||
            (r = bound_open(b, &b->api, cfg->api_endpoint, err, err_size)) < 0)
                goto fail;
        if (cfg->curve)
                log_info("bus: CURVE on; %zu key(s) in %s", b->keys->n, cfg->keys_file);
        *out = b;
        return 0;
fail:
        bus_close(&b);
        return r;
}

void bus_close(bus_t **bp)
{
        bus_t *b = *bp;
        if (!b)
                return;
        for (int i = 0; i < b->n_feeds; i++)
                feed_close(&b->feeds[i]);
        if (b->pub.s)
                zmq_close(b->pub.s);
        if (b->api.s)
                zmq_close(b->api.s);
        if (b->zap)
                zmq_close(b->zap);
        if (b->ctx)
                zmq_ctx_term(b->ctx);
        keys_free(&b->keys);
        explicit_bzero(b->secret_key, sizeof(b->secret_key));
        free(b->buf);
        free(b);
        *bp = NULL;
}

int bus_n_feeds(const bus_t *b) { return b->n_feeds; }

static void zap_serve(bus_t *b);

int bus_wait(bus_t *b, int timeout_ms, int extra_fd, bool *extra_ready)
{
        zmq_pollitem_t items[2 * CFG_MAX_FEEDS + 4];
        int n = 0, r, zap = -1, extra = -1;

        *extra_ready = false;
        if (b->next_rebind_ms) {
                if (clock_mono_ms() >= b->next_rebind_ms)
                        rebind_pending(b);
                if (b->next_rebind_ms)
                        timeout_ms = timeout_ms < 0 ? BUS_REBIND_RETRY_MS : BK_MIN(timeout_ms, BUS_REBIND_RETRY_MS);
        }
        for (int i = 0; i < b->n_feeds; i++) {
                items[n++] = (zmq_pollitem_t){ .socket = b->feeds[i].sub, .events = ZMQ_POLLIN };
                items[n++] = (zmq_pollitem_t){ .socket = b->feeds[i].dealer, .events = ZMQ_POLLIN };
        }
        if (b->pub.s)
                items[n++] = (zmq_pollitem_t){ .socket = b->pub.s, .events = ZMQ_POLLIN };
        if (b->api.s)
                items[n++] = (zmq_pollitem_t){ .socket = b->api.s, .events = ZMQ_POLLIN };
        if (b->zap) {
                zap = n;
                items[n++] = (zmq_pollitem_t){ .socket = b->zap, .events = ZMQ_POLLIN };
        }
        if (extra_fd >= 0) {
                extra = n;
                items[n++] = (zmq_pollitem_t){ .socket = NULL, .fd = extra_fd, .events = ZMQ_POLLIN };
        }
        r = zmq_poll(items, n, timeout_ms);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        /* Handshakes wait for us: answer them first, in this same thread. */
        if (zap >= 0 && (items[zap].revents & ZMQ_POLLIN))
                zap_serve(b);
        *extra_ready = extra >= 0 && (items[extra].revents & ZMQ_POLLIN);
        return r;
}

/* Reads one whole multipart message; frames beyond `max` are counted and dropped. */
static int recv_parts(bus_t *b, void *s, zmq_msg_t *parts, int max, int *count)
{
        int n = 0, more;
        size_t more_size = sizeof(more);

        do {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
                        int e = errno;
                        zmq_msg_close(&m);
                        for (int i = 0; i < BK_MIN(n, max); i++)
                                zmq_msg_close(&parts[i]);
                        return e == EAGAIN ? BK_E_NOT_FOUND : -e;
                }
                if (n < max)
                        parts[n] = m;
                else
                        zmq_msg_close(&m);
                n++;
                zmq_getsockopt(s, ZMQ_RCVMORE, &more, &more_size);
        } while (more);
        *count = n;
        return 0;
}

static void close_parts(zmq_msg_t *parts, int n)
{
        for (int i = 0; i < n; i++)
                zmq_msg_close(&parts[i]);
}

static void copy_body(bus_t *b, bus_msg_t *m, zmq_msg_t *part)
{
        size_t len = BK_MIN(zmq_msg_size(part), b->buf_size - 1);
        memcpy(b->buf, zmq_msg_data(part), len);
        b->buf[len] = '\0';
        m->body = b->buf;
        m->len = len;
}

static void copy_type(bus_msg_t *m, zmq_msg_t *part)
{
        size_t len = BK_MIN(zmq_msg_size(part), sizeof(m->type) - 1);
        memcpy(m->type, zmq_msg_data(part), len);
        m->type[len] = '\0';
}

static int recv_feed_like(bus_t *b, void *s, int feed, bool replay, bus_msg_t *m)
{
        zmq_msg_t parts[3];
        int n, r;

        memset(m, 0, sizeof(*m));
        m->feed = feed;
        m->replay = replay;
        if ((r = recv_parts(b, s, parts, 3, &n)) != 0)
                return r;
        if (n == 2) {
                copy_type(m, &parts[0]);
                copy_body(b, m, &parts[1]);
                m->kind = strcmp(m->type, "feed.heartbeat") == 0 ? BUS_HEARTBEAT : BUS_EVENT;
        } else if (n == 1 && replay) {
                copy_body(b, m, &parts[0]);
                m->kind = BUS_REPLAY_END;
        } else {
                copy_body(b, m, &parts[n > 1 ? 1 : 0]);
                m->kind = BUS_BAD;
                m->reason = n == 1 ? "frames: expected [type][event], got one frame"
                                   : "frames: expected [type][event], got more than two frames";
        }
        close_parts(parts, BK_MIN(n, 3));
        return 0;
}

int bus_recv_feed(bus_t *b, int feed, bus_msg_t *m)
{
        return recv_feed_like(b, b->feeds[feed].sub, feed, false, m);
}

int bus_recv_replay(bus_t *b, int feed, bus_msg_t *m)
{
        return recv_feed_like(b, b->feeds[feed].dealer, feed, true, m);
}

int bus_recv_api(bus_t *b, bus_msg_t *m, bus_peer_t *peer)
{
        zmq_msg_t parts[4];
        int n, r, body;

        memset(m, 0, sizeof(*m));
        memset(peer, 0, sizeof(*peer));
        if (!b->api.s)
                return BK_E_NOT_FOUND;
        if ((r = recv_parts(b, b->api.s, parts, 4, &n)) != 0)
                return r;
        peer->rid_len = BK_MIN(zmq_msg_size(&parts[0]), sizeof(peer->rid));
        memcpy(peer->rid, zmq_msg_data(&parts[0]), peer->rid_len);
        /* DEALER: [rid][body]; REQ: [rid][""][body]. */
        body = 1;
        if (n >= 3 && zmq_msg_size(&parts[1]) == 0) {
                peer->req_envelope = true;
                body = 2;
        }
        if (n > 4 || n != body + 1) {
                m->kind = BUS_BAD;
                m->reason = "frames: a request is one frame";
                m->body = "";
        } else {
                const char *uid = zmq_msg_gets(&parts[body], "User-Id");
                const char *key = zmq_msg_gets(&parts[body], ZAP_META_KEY);
                if (uid)
                        bk_strlcpy(peer->user, uid, sizeof(peer->user));
                if (key)
                        bk_strlcpy(peer->key, key, sizeof(peer->key));
                copy_body(b, m, &parts[body]);
                m->kind = BUS_EVENT;
        }
        close_parts(parts, BK_MIN(n, 4));
        return 0;
}

int bus_reply(bus_t *b, const bus_peer_t *peer, const char *payload, size_t len)
{
        void *api = b->api.s;

        if (!api)
                return -ENOTCONN;   /* reset since the request came: the peer will ask again */
        if (zmq_send(api, peer->rid, peer->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return -errno;   /* peer gone (ROUTER_MANDATORY): nothing to do */
        if (peer->req_envelope && zmq_send(api, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return -errno;
        if (zmq_send(api, payload, len, ZMQ_DONTWAIT) < 0)
                return -errno;
        return 0;
}

/* ---- security: ZAP and subscriptions ------------------------------------------ */

/* A prefix for the log: printable ASCII, quoted by the caller, cut at 80. */
/* A peer's bytes as a log may show them: printable ASCII, cut, and any personnummer masked. */
static void printable_prefix(const uint8_t *p, size_t n, char *out, size_t out_size)
{
        char plain[96];
        size_t k = 0;
        for (size_t i = 0; i < n && i < 80 && k + 1 < sizeof(plain); i++)
                plain[k++] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ? (char)p[i] : '?';
        plain[k] = '\0';
        pnr_mask(plain, k, out, out_size, NULL);
}

static void zap_serve(bus_t *b)
{
        for (int served = 0; served < BUS_ZAP_BATCH; served++) {
                zmq_msg_t parts[8];
                zap_frame_t req[8];
                zap_reply_t rep;
                int n = 0;

                if (recv_parts(b, b->zap, parts, 8, &n) != 0)
                        return;
                for (int i = 0; i < BK_MIN(n, 8); i++)
                        req[i] = (zap_frame_t){ zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i]) };
                /* More than 8 frames is malformed; zap_handle sees 8 and says so. */
                zap_handle(b->keys, req, (size_t)BK_MIN(n, 8), &rep);
                for (int i = 0; i < ZAP_REPLY_FRAMES; i++)
                        zmq_send(b->zap, rep.frames[i].data, rep.frames[i].size,
                                 (i + 1 < ZAP_REPLY_FRAMES ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
                close_parts(parts, BK_MIN(n, 8));
                if (rep.status == ZAP_OK) {
                        b->stats.handshakes_allowed++;
                        log_debug("bus: handshake: key %s (%s, %s) from %s", rep.fingerprint, rep.entry->user,
                                  acl_role_name(rep.entry->role), rep.address[0] ? rep.address : "local");
                        continue;
                }
                b->stats.handshakes_refused++;
                /* A refused client retries every reconnect interval: log each key once a minute. */
                char rl[128];
                snprintf(rl, sizeof(rl), "zap %s %s", rep.fingerprint, rep.address);
                if (log_ratelimit(rl, clock_mono_ms() / 1000, 60))
                        log_warnx("bus: refused a handshake (%s %s): key %s from %s (counted in stats; "
                                  "logged once a minute per key)", rep.code, rep.reason,
                                  rep.fingerprint[0] ? rep.fingerprint : "(none)",
                                  rep.address[0] ? rep.address : "local");
        }
}

void bus_identity(const bus_t *b, const bus_peer_t *peer, acl_identity_t *who)
{
        zap_identity(b->keys, peer->user, peer->key, who);
}

const bus_stats_t *bus_stats(const bus_t *b)
{
        return &b->stats;
}

int bus_reload_keys(bus_t *b)
{
        char err[1024];
        keys_t *old;
        bool revoked;
        int r;

        if (!b->cfg->curve)
                return 0;
        old = b->keys;
        b->keys = NULL;
        if ((r = keylist_load(b, err, sizeof(err))) != 0) {
                b->keys = old;
                log_errx("bus: the key list did not load, keeping the running one: %s", err);
                return BK_E_INVALID;
        }
        revoked = keys_revokes(old, b->keys);
        log_info("bus: key list reloaded: %zu key(s)", b->keys->n);
        keys_free(&old);
        if (revoked) {
                /* Connections authenticated under the old list must authenticate again. */
                bound_reset(b, &b->api, "a key was removed from the key list or its grant changed");
                bound_reset(b, &b->pub, "a key was removed from the key list or its grant changed");
        }
        return 0;
}

/* One peer's subscription message, decided and applied (true: granted); the drain's bookkeeping in *g. */
struct grants {
        size_t n;
        bool overflow;
        size_t len[BUS_GRANTS_TRACKED];
        uint8_t prefix[BUS_GRANTS_TRACKED][BUS_PREFIX_MAX];
        bool violation;                 /* a non-subscription message: pipes no longer line up */
        bool stale;                     /* a granted pipe may have died before the grant */
};

static bool grants_has(const struct grants *g, const uint8_t *p, size_t n)
{
        if (g->overflow)
                return true;
        for (size_t i = 0; i < g->n; i++)
                if (g->len[i] == n && memcmp(g->prefix[i], p, n) == 0)
                        return true;
        return false;
}

static void grants_add(struct grants *g, const uint8_t *p, size_t n)
{
        if (g->n == BUS_GRANTS_TRACKED || n > BUS_PREFIX_MAX) {
                g->overflow = true;
                return;
        }
        memcpy(g->prefix[g->n], p, n);
        g->len[g->n++] = n;
}

static bool subscription(bus_t *b, zmq_msg_t *m, int frames, struct grants *g)
{
        const uint8_t *d = zmq_msg_data(m);
        size_t n = zmq_msg_size(m);
        const char *user = zmq_msg_gets(m, "User-Id"), *key = zmq_msg_gets(m, ZAP_META_KEY);
        char fp[KEYS_FP_LEN + 1] = "", shown[96];
        acl_identity_t who;
        bool known = zap_identity(b->keys, user, key, &who);
        zap_sub_t verdict = frames == 1 ? zap_subscription(known ? &who : NULL, d, n) : ZAP_SUB_IGNORE;

        if (key)
                snprintf(fp, sizeof(fp), "%.8s", key);
        printable_prefix(n ? d + 1 : d, n ? n - 1 : 0, shown, sizeof(shown));
        switch (verdict) {
        case ZAP_SUB_IGNORE:
                /* libzmq 4.3.4 queues no pipe for such a message, so the next grants would go astray. */
                g->violation = true;
                b->stats.protocol_violations++;
                keys_quarantine(b->keys, key);
                log_warnx("bus: %s (key %s) sent the publisher a message that is no subscription; "
                          "the key is refused until the key list is reloaded", who.user, fp[0] ? fp : "(none)");
                return false;
        case ZAP_SUB_CANCEL:
                if (!user) {
                        /* Queued by libzmq when a pipe ended: its earlier grant in this drain may be stale. */
                        if (grants_has(g, d + 1, n - 1))
                                g->stale = true;
                        return false;
                }
                /* Only takes away, and only from the pipe the cancellation came from. */
                zmq_setsockopt(b->pub.s, ZMQ_UNSUBSCRIBE, d + 1, n - 1);
                return false;
        case ZAP_SUB_GRANT:
                if (g->violation) {
                        /* After a violation the pipe this would apply to is unknown; the reset redoes it. */
                        return false;
                }
                zmq_setsockopt(b->pub.s, ZMQ_SUBSCRIBE, d + 1, n - 1);
                grants_add(g, d + 1, n - 1);
                b->stats.subscriptions_granted++;
                log_debug("bus: subscription \"%s\" granted to %s (%s)", shown, who.user, acl_role_name(who.role));
                return true;
        case ZAP_SUB_REFUSE:
                b->stats.subscriptions_refused++;
                char rl[128];
                snprintf(rl, sizeof(rl), "sub %s %s", fp, shown);
                if (log_ratelimit(rl, clock_mono_ms() / 1000, 60))
                        log_notice("bus: subscription \"%s\" refused: %s (%s, key %s) may not read it",
                                   shown, who.user, known ? acl_role_name(who.role) : "not in the key list",
                                   fp[0] ? fp : "(none)");
                return false;
        }
        return false;
}

int bus_drain_subscriptions(bus_t *b, bus_granted_fn granted, void *ud)
{
        struct grants *g = NULL;
        int n = 0;

        if (!b->pub.s)
                return 0;
        for (;;) {
                zmq_msg_t m[1];
                int frames = 0;

                if (recv_parts(b, b->pub.s, m, 1, &frames) != 0)
                        break;
                n++;
                if (!b->cfg->curve) {
                        const unsigned char *d = zmq_msg_data(&m[0]);
                        char shown[96];
                        if (zmq_msg_size(&m[0]) > 0) {
                                printable_prefix(d + 1, zmq_msg_size(&m[0]) - 1, shown, sizeof(shown));
                                log_debug("bus: %s %s", d[0] ? "subscribe" : "unsubscribe", shown);
                                if (d[0] == 1 && granted)
                                        granted(ud, (const char *)d + 1, zmq_msg_size(&m[0]) - 1);
                        }
                        zmq_msg_close(&m[0]);
                        continue;
                }
                if (!g && !(g = calloc(1, sizeof(*g)))) {
                        /* Cannot track grants: refuse to guess, make everyone subscribe again. */
                        zmq_msg_close(&m[0]);
                        bound_reset(b, &b->pub, "out of memory while authorizing subscriptions");
                        return n;
                }
                if (subscription(b, &m[0], frames, g) && granted)
                        granted(ud, (const char *)zmq_msg_data(&m[0]) + 1, zmq_msg_size(&m[0]) - 1);
                zmq_msg_close(&m[0]);
        }
        if (g && (g->violation || g->stale))
                bound_reset(b, &b->pub, g->violation ? "a peer broke the subscription protocol"
                                                     : "a subscriber left while its subscription was granted");
        free(g);
        return n;
}

int bus_replay_request(bus_t *b, int feed, const char *source, int64_t from_seq, int64_t max)
{
        char req[256];
        int n = max > 0 ? snprintf(req, sizeof(req),
                                   "{\"op\":\"replay\",\"source\":\"%s\",\"from_seq\":%lld,\"max\":%lld}", source,
                                   (long long)from_seq, (long long)max)
                        : snprintf(req, sizeof(req), "{\"op\":\"replay\",\"source\":\"%s\",\"from_seq\":%lld}",
                                   source, (long long)from_seq);
        if (n < 0 || (size_t)n >= sizeof(req))
                return -EINVAL;
        if (zmq_send(b->feeds[feed].dealer, req, (size_t)n, ZMQ_DONTWAIT) < 0)
                return -errno;
        return 0;
}

int bus_feed_reconnect(bus_t *b, int feed)
{
        feed_close(&b->feeds[feed]);
        return feed_open(b, feed);
}

int bus_publish(bus_t *b, const char *topic, const char *payload, size_t len)
{
        /* Between a reset and its rebind nobody is subscribed: clients re-sync when they reconnect. */
        if (!b->pub.s)
                return 0;
        /* XPUB never blocks: past the HWM a slow subscriber misses messages and resyncs by rseq. */
        if (zmq_send(b->pub.s, topic, strlen(topic), ZMQ_SNDMORE) < 0 ||
            zmq_send(b->pub.s, payload, len, 0) < 0)
                return -errno;
        return 0;
}
