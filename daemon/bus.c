/*
 * bus.c owns libzmq on the daemon side. Receives copy the payload into a
 * reusable buffer so callers see plain bytes; the frame shapes of protocol
 * §1–§3 are checked here, so the rest of the daemon never sees a zmq_msg_t.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <zmq.h>
#include "bus.h"
#include "log.h"

struct feed_socks {
        void *sub;
        void *dealer;
};

struct bus {
        const config_t *cfg;
        void *ctx;
        struct feed_socks feeds[CFG_MAX_FEEDS];
        int n_feeds;
        void *pub;
        void *api;
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

static int bind_checked(bus_t *b, void *s, const char *what, const char *ep, char *err, size_t n)
{
        if (!b->cfg->curve && !endpoint_is_local(ep)) {
                snprintf(err, n, "%s.endpoint: refusing to bind %s without CURVE "
                         "(security.curve = false allows only ipc:// and loopback tcp://)", what, ep);
                return -EPERM;
        }
        if (zmq_bind(s, ep) != 0) {
                snprintf(err, n, "%s.endpoint: cannot bind %s: %s", what, ep, zmq_strerror(zmq_errno()));
                return -errno;
        }
        return 0;
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
        set_int(fs->sub, ZMQ_RECONNECT_IVL, 100);
        set_int(fs->dealer, ZMQ_RECONNECT_IVL, 100);
        set_int(fs->sub, ZMQ_RECONNECT_IVL_MAX, 2000);
        set_int(fs->dealer, ZMQ_RECONNECT_IVL_MAX, 2000);
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

int bus_open(const config_t *cfg, bus_t **out, char *err, size_t err_size)
{
        bus_t *b = calloc(1, sizeof(*b));
        int r;

        if (!b)
                return -ENOMEM;
        b->cfg = cfg;
        b->buf_size = (size_t)cfg->max_msg_size + 1;
        b->buf = malloc(b->buf_size);
        b->ctx = zmq_ctx_new();
        if (!b->buf || !b->ctx) {
                r = -ENOMEM;
                goto fail;
        }
        b->n_feeds = cfg->n_feeds;
        for (int i = 0; i < b->n_feeds; i++) {
                if ((r = feed_open(b, i)) < 0) {
                        snprintf(err, err_size, "feed %d: cannot connect %s / %s", i,
                                 cfg->feeds[i].endpoint, cfg->feeds[i].replay_endpoint);
                        goto fail;
                }
        }
        b->pub = zmq_socket(b->ctx, ZMQ_XPUB);
        b->api = zmq_socket(b->ctx, ZMQ_ROUTER);
        if (!b->pub || !b->api) {
                r = -errno;
                goto fail;
        }
        set_common(b, b->pub);
        set_common(b, b->api);
        set_int(b->pub, ZMQ_XPUB_VERBOSE, 1);
        set_int(b->api, ZMQ_ROUTER_MANDATORY, 1);
        set_int(b->api, ZMQ_HEARTBEAT_IVL, 5000);
        set_int(b->api, ZMQ_HEARTBEAT_TIMEOUT, 15000);
        set_int(b->pub, ZMQ_HEARTBEAT_IVL, 5000);
        set_int(b->pub, ZMQ_HEARTBEAT_TIMEOUT, 15000);
        if ((r = bind_checked(b, b->pub, "publish", cfg->publish_endpoint, err, err_size)) < 0 ||
            (r = bind_checked(b, b->api, "api", cfg->api_endpoint, err, err_size)) < 0)
                goto fail;
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
        if (b->pub)
                zmq_close(b->pub);
        if (b->api)
                zmq_close(b->api);
        if (b->ctx)
                zmq_ctx_term(b->ctx);
        free(b->buf);
        free(b);
        *bp = NULL;
}

int bus_n_feeds(const bus_t *b) { return b->n_feeds; }

int bus_wait(bus_t *b, int timeout_ms, int extra_fd, bool *extra_ready)
{
        zmq_pollitem_t items[2 * CFG_MAX_FEEDS + 3];
        int n = 0, r;

        for (int i = 0; i < b->n_feeds; i++) {
                items[n++] = (zmq_pollitem_t){ .socket = b->feeds[i].sub, .events = ZMQ_POLLIN };
                items[n++] = (zmq_pollitem_t){ .socket = b->feeds[i].dealer, .events = ZMQ_POLLIN };
        }
        items[n++] = (zmq_pollitem_t){ .socket = b->pub, .events = ZMQ_POLLIN };
        items[n++] = (zmq_pollitem_t){ .socket = b->api, .events = ZMQ_POLLIN };
        items[n] = (zmq_pollitem_t){ .socket = NULL, .fd = extra_fd, .events = ZMQ_POLLIN };
        if (extra_fd >= 0)
                n++;
        r = zmq_poll(items, n, timeout_ms);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        *extra_ready = extra_fd >= 0 && (items[n - 1].revents & ZMQ_POLLIN);
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
        if ((r = recv_parts(b, b->api, parts, 4, &n)) != 0)
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
                if (uid)
                        bk_strlcpy(peer->user, uid, sizeof(peer->user));
                copy_body(b, m, &parts[body]);
                m->kind = BUS_EVENT;
        }
        close_parts(parts, BK_MIN(n, 4));
        return 0;
}

int bus_reply(bus_t *b, const bus_peer_t *peer, const char *payload, size_t len)
{
        if (zmq_send(b->api, peer->rid, peer->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return -errno;   /* peer gone (ROUTER_MANDATORY): nothing to do */
        if (peer->req_envelope && zmq_send(b->api, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return -errno;
        if (zmq_send(b->api, payload, len, ZMQ_DONTWAIT) < 0)
                return -errno;
        return 0;
}

int bus_drain_subscriptions(bus_t *b)
{
        int n = 0;
        for (;;) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, b->pub, ZMQ_DONTWAIT) < 0) {
                        zmq_msg_close(&m);
                        break;
                }
                if (zmq_msg_size(&m) > 0) {
                        const unsigned char *d = zmq_msg_data(&m);
                        log_debug("bus: %s %.*s", d[0] ? "subscribe" : "unsubscribe",
                                  (int)BK_MIN(zmq_msg_size(&m) - 1, 200), (const char *)d + 1);
                }
                zmq_msg_close(&m);
                n++;
        }
        return n;
}

int bus_replay_request(bus_t *b, int feed, const char *source, int64_t from_seq)
{
        char req[256];
        int n = snprintf(req, sizeof(req), "{\"op\":\"replay\",\"source\":\"%s\",\"from_seq\":%lld}",
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
        /* XPUB never blocks: past the HWM a slow subscriber misses messages and resyncs by rseq. */
        if (zmq_send(b->pub, topic, strlen(topic), ZMQ_SNDMORE) < 0 ||
            zmq_send(b->pub, payload, len, 0) < 0)
                return -errno;
        return 0;
}
