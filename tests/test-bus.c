/*
 * test-bus.c checks bus.c against real ZeroMQ sockets in one process,
 * without the daemon: the test plays the adapter (a PUB for events and
 * heartbeats, a ROUTER for replays), an API client (a DEALER and a REQ)
 * and a subscriber, over ipc:// endpoints in a temporary directory. It
 * checks how each feed message is classified (event, heartbeat, replay
 * end, and the frame errors a dead letter is made of), that a replay
 * request reaches the adapter as protocol §1 says, that an API request
 * and its reply keep their envelope, that a reconnected feed still
 * receives, that publishing reaches a subscriber, and that without CURVE
 * a non-loopback bind is refused. Waits poll with a timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>
#include "bus.h"
#include "clock.h"
#include "log.h"
#include "tap.h"

#define WAIT_MS 5000

static char dir[] = "/tmp/test-bus-XXXXXX";

typedef int (*recv_fn)(bus_t *b, int feed, bus_msg_t *m);

/* Sends [type][body] (n frames) on s until bus receives something with recv, or WAIT_MS pass. */
static bool feed_until(bus_t *b, void *s, const char *const *frames, int n, recv_fn recv, bus_msg_t *m)
{
        int64_t end = clock_mono_ms() + WAIT_MS;

        while (clock_mono_ms() < end) {
                bool x;

                for (int i = 0; s && i < n; i++)
                        zmq_send(s, frames[i], strlen(frames[i]), i + 1 < n ? ZMQ_SNDMORE : 0);
                bus_wait(b, 100, -1, &x);
                if (recv(b, 0, m) == 0)
                        return true;
        }
        return false;
}

/* Receives one message on a test socket within WAIT_MS; its frames joined by '|'. */
static bool peer_recv(void *s, char *buf, size_t n)
{
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        size_t len = 0;
        int more = 1;

        if (zmq_poll(&it, 1, WAIT_MS) <= 0)
                return false;
        while (more) {
                char part[512];
                size_t ms = sizeof(more);
                int k = zmq_recv(s, part, sizeof(part) - 1, 0);

                if (k < 0)
                        return false;
                k = k > (int)sizeof(part) - 1 ? (int)sizeof(part) - 1 : k;
                part[k] = '\0';
                len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "|" : "", part);
                zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ms);
        }
        return true;
}

static void test_feed(bus_t *b, const config_t *cfg, void *ctx)
{
        void *pub = zmq_socket(ctx, ZMQ_PUB), *router = zmq_socket(ctx, ZMQ_ROUTER);
        bus_msg_t m;
        char buf[1024];

        CHECK_INT(zmq_bind(pub, cfg->feeds[0].endpoint), 0);
        CHECK_INT(zmq_bind(router, cfg->feeds[0].replay_endpoint), 0);

        /* [type][event]: an event, with its type and body */
        const char *ev[] = { "case.opened", "{\"v\":1}" };
        CHECK(feed_until(b, pub, ev, 2, bus_recv_feed, &m));
        CHECK_INT(m.kind, BUS_EVENT);
        CHECK_STR(m.type, "case.opened");
        CHECK(m.len == 7 && memcmp(m.body, "{\"v\":1}", 7) == 0);
        CHECK(!m.replay);
        while (bus_recv_feed(b, 0, &m) == 0)
                ;       /* the copies sent while the subscription was on its way */

        /* a heartbeat is told apart by its type frame */
        const char *hb[] = { "feed.heartbeat", "{\"op\":\"heartbeat\"}" };
        CHECK(feed_until(b, pub, hb, 2, bus_recv_feed, &m));
        CHECK_INT(m.kind, BUS_HEARTBEAT);
        /* frame errors: what arrived and why, for the dead letter */
        const char *three[] = { "a", "b", "c" };
        CHECK(feed_until(b, pub, three, 3, bus_recv_feed, &m));
        CHECK_INT(m.kind, BUS_BAD);
        CHECK_STR(m.reason, "frames: expected [type][event], got more than two frames");
        const char *one[] = { "lonely" };
        CHECK(feed_until(b, pub, one, 1, bus_recv_feed, &m));
        CHECK_INT(m.kind, BUS_BAD);
        CHECK_STR(m.reason, "frames: expected [type][event], got one frame");

        /* a replay request reaches the adapter's ROUTER; one frame back is the replay's end */
        CHECK_INT(bus_replay_request(b, 0, "paraply-hv", 42, 2000), 0);
        {
                zmq_pollitem_t it = { router, 0, ZMQ_POLLIN, 0 };
                unsigned char id[256];
                int idlen = -1, k = -1;

                CHECK_INT(zmq_poll(&it, 1, WAIT_MS), 1);
                idlen = zmq_recv(router, id, sizeof(id), ZMQ_DONTWAIT);    /* the routing id */
                CHECK(idlen > 0 && idlen <= (int)sizeof(id));
                k = zmq_recv(router, buf, sizeof(buf) - 1, ZMQ_DONTWAIT);
                buf[k > 0 ? k : 0] = '\0';
                CHECK_STR(buf, "{\"op\":\"replay\",\"source\":\"paraply-hv\",\"from_seq\":42,\"max\":2000}");
                if (idlen > 0) {
                        zmq_send(router, id, (size_t)idlen, ZMQ_SNDMORE);
                        zmq_send(router, "{\"op\":\"replay_end\"}", 19, 0);
                }
        }
        CHECK(feed_until(b, NULL, NULL, 0, bus_recv_replay, &m));
        CHECK_INT(m.kind, BUS_REPLAY_END);
        CHECK(m.replay);
        CHECK(m.len == 19 && memcmp(m.body, "{\"op\":\"replay_end\"}", 19) == 0);

        /* a reconnected feed hears the adapter again */
        CHECK_INT(bus_feed_reconnect(b, 0), 0);
        CHECK(feed_until(b, pub, ev, 2, bus_recv_feed, &m));
        CHECK_INT(m.kind, BUS_EVENT);
        zmq_close(pub);
        zmq_close(router);
}

static void test_api(bus_t *b, const config_t *cfg, void *ctx)
{
        void *dealer = zmq_socket(ctx, ZMQ_DEALER), *req = zmq_socket(ctx, ZMQ_REQ);
        bus_msg_t m;
        bus_peer_t peer;
        char buf[512];
        int64_t end;
        bool got = false, x;

        CHECK_INT(zmq_connect(dealer, cfg->api_endpoint), 0);
        CHECK_INT(zmq_connect(req, cfg->api_endpoint), 0);
        zmq_send(dealer, "{\"op\":\"hello\"}", 14, 0);
        for (end = clock_mono_ms() + WAIT_MS; !got && clock_mono_ms() < end;) {
                bus_wait(b, 100, -1, &x);
                got = bus_recv_api(b, &m, &peer) == 0;
        }
        CHECK(got);
        CHECK_INT(m.kind, BUS_EVENT);
        CHECK(m.len == 14 && memcmp(m.body, "{\"op\":\"hello\"}", 14) == 0);
        CHECK(!peer.req_envelope);
        CHECK_STR(peer.user, "");                   /* no CURVE: no ZAP user id */
        CHECK_INT(bus_reply(b, &peer, "{\"ok\":true}", 11), 0);
        CHECK(peer_recv(dealer, buf, sizeof(buf)));
        CHECK_STR(buf, "{\"ok\":true}");

        /* a REQ peer's envelope is kept for the reply */
        zmq_send(req, "{\"op\":\"stats\"}", 14, 0);
        for (got = false, end = clock_mono_ms() + WAIT_MS; !got && clock_mono_ms() < end;) {
                bus_wait(b, 100, -1, &x);
                got = bus_recv_api(b, &m, &peer) == 0;
        }
        CHECK(got);
        CHECK(peer.req_envelope);
        CHECK_INT(bus_reply(b, &peer, "{\"ok\":false}", 12), 0);
        CHECK(peer_recv(req, buf, sizeof(buf)));
        CHECK_STR(buf, "{\"ok\":false}");

        /* two frames from a DEALER are no request */
        zmq_send(dealer, "a", 1, ZMQ_SNDMORE);
        zmq_send(dealer, "b", 1, 0);
        for (got = false, end = clock_mono_ms() + WAIT_MS; !got && clock_mono_ms() < end;) {
                bus_wait(b, 100, -1, &x);
                got = bus_recv_api(b, &m, &peer) == 0;
        }
        CHECK(got);
        CHECK_INT(m.kind, BUS_BAD);
        CHECK_STR(m.reason, "frames: a request is one frame");
        zmq_close(dealer);
        zmq_close(req);
}

/* What bus_drain_subscriptions reported as granted (the outbox offers its tail on these). */
static char granted[64];

static void on_granted(void *ud, const char *prefix, size_t len)
{
        (void)ud;
        snprintf(granted, sizeof(granted), "%.*s", (int)len, prefix);
}

static void test_publish(bus_t *b, const config_t *cfg, void *ctx)
{
        void *sub = zmq_socket(ctx, ZMQ_SUB);
        zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
        int64_t end = clock_mono_ms() + WAIT_MS;
        bool got = false, x;
        char buf[512];

        CHECK_INT(zmq_connect(sub, cfg->publish_endpoint), 0);
        CHECK_INT(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "rem/U/", 6), 0);
        /* publishing before the subscription arrives loses the message: publish until one lands */
        while (!got && clock_mono_ms() < end) {
                bus_wait(b, 50, -1, &x);
                bus_drain_subscriptions(b, on_granted, NULL);
                CHECK_INT(bus_publish(b, "rem/U/hk1/", "{\"op\":\"due\"}", 12), 0);
                got = zmq_poll(&it, 1, 50) > 0;
        }
        CHECK(got);
        CHECK(peer_recv(sub, buf, sizeof(buf)));
        CHECK_STR(buf, "rem/U/hk1/|{\"op\":\"due\"}");
        CHECK_STR(granted, "rem/U/");
        zmq_close(sub);
}

static void test_refused_bind(const config_t *good)
{
        config_t *cfg = malloc(sizeof(*cfg));
        bus_t *b = NULL;
        char err[256] = "";

        if (!cfg)
                return;
        *cfg = *good;
        bk_strlcpy(cfg->api_endpoint, "tcp://0.0.0.0:5999", sizeof(cfg->api_endpoint));
        CHECK(bus_open(cfg, &b, err, sizeof(err)) < 0);
        CHECK(b == NULL);
        CHECK(strstr(err, "0.0.0.0") != NULL || strstr(err, "loopback") != NULL);
        if (b)
                bus_close(&b);
        free(cfg);
}

int main(void)
{
        config_t *cfg = calloc(1, sizeof(*cfg));
        char err[512], cmd[128];
        bus_t *b = NULL;
        void *ctx;

        log_init("test-bus", LOG_CRIT, false);
        if (!cfg || !mkdtemp(dir)) {
                perror("test-bus");
                return 2;
        }
        CHECK_INT(config_load(NULL, dir, cfg, err, sizeof(err)), 0);
        CHECK_INT(bus_open(cfg, &b, err, sizeof(err)), 0);
        if (!b) {
                fprintf(stderr, "bus_open: %s\n", err);
                return tap_done();
        }
        CHECK_INT(bus_n_feeds(b), cfg->n_feeds);
        ctx = zmq_ctx_new();
        test_feed(b, cfg, ctx);
        test_api(b, cfg, ctx);
        test_publish(b, cfg, ctx);
        bus_close(&b);
        test_refused_bind(cfg);
        zmq_ctx_term(ctx);
        free(cfg);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return tap_done();
}
