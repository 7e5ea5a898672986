/*
 * Integration: protocol §4 against the real bevakad with CURVE on, its API
 * and publisher on tcp://127.0.0.1 (free ports), fed by the real
 * bevaka-feed over CURVE as well. Keys come from `bevakactl keygen`. It
 * checks that a plaintext client and an unknown key get nowhere (refused at
 * the handshake, logged with the key's fingerprint); that caseworker A can
 * reach none of B's reminders through any op or any subscription prefix;
 * that a lead sees its units and no other; that admin-only ops say
 * `forbidden` to everyone else; that removing a key and reloading drops
 * the key's live connections and refuses it on reconnect; that a peer
 * breaking the subscription protocol is cut off; that garbage and a huge
 * frame on the wire do not disturb other peers; and that without CURVE a
 * non-loopback bind is refused at start. Waits are polls with timeouts:
 * monitor events, stats counters, replies.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include "it.h"
#include "keys.h"

#define WAIT_MS 10000
/* How long "nothing arrives" is watched for: after the positive evidence that would have preceded it. */
#define QUIET_MS 700

#define U "HV-EB-1"
#define V "HV-EB-2"

typedef struct tkey {
        char sec[512], pub[520];
        uint8_t pk[32], sk[32];
        char z85[41];
} tkey_t;

static it_env_t env;
static int api_port, pub_port;
static char api_ep[64], pub_ep[64];
static tkey_t k_daemon, k_adapter, k_admin, k_a, k_b, k_c, k_lead_u, k_lead_v, k_feed, k_mallory, k_unknown;

/* ---- keys --------------------------------------------------------------------------- */

static void keygen(const char *name, tkey_t *k)
{
        char exe[600], err[512];
        snprintf(exe, sizeof(exe), "%s/bevakactl", env.bin);
        it_path(&env, name, k->sec, sizeof(k->sec));
        snprintf(k->pub, sizeof(k->pub), "%s.pub", k->sec);
        char *argv[] = { exe, "keygen", k->sec, NULL };
        int st = it_wait_exit(it_spawn(&env, "keygen.log", argv), WAIT_MS);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (keys_read_file(k->sec, "secret-key", true, k->sk, err, sizeof(err)) != 0 ||
            keys_read_file(k->pub, "public-key", false, k->pk, err, sizeof(err)) != 0) {
                fprintf(stderr, "keygen %s: %s\n", name, err);
                exit(2);
        }
        keys_z85_encode(k->pk, k->z85);
}

static void write_keys(const char *name, const char *entries)
{
        char path[512], text[8192 + 512];
        it_path(&env, name, path, sizeof(path));
        snprintf(text, sizeof(text), "keys = (\n%s\n);\n", entries);
        it_write(path, text);
}

/* The key list of the main daemon; `with_b` decides whether caseworker B is in it. */
static void write_daemon_keys(bool with_b)
{
        char text[8192];
        snprintf(text, sizeof(text),
                 "  { key = \"%s\"; user = \"ops\"; role = \"admin\"; },\n"
                 "  { key = \"%s\"; user = \"hkA\"; role = \"caseworker\"; units = [ \"" U "\" ]; },\n"
                 "%s"
                 "  { key = \"%s\"; user = \"hkC\"; role = \"caseworker\"; units = [ \"" V "\" ]; },\n"
                 "  { key = \"%s\"; user = \"leadU\"; role = \"lead\"; units = [ \"" U "\" ]; },\n"
                 "  { key = \"%s\"; user = \"leadV\"; role = \"lead\"; units = [ \"" V "\" ]; },\n"
                 "  { key = \"%s\"; user = \"paraply\"; role = \"feed\"; },\n"
                 "  { key = \"%s\"; user = \"mallory\"; role = \"caseworker\"; units = [ \"" U "\" ];"
                 " comment = \"breaks the protocol\"; }",
                 k_admin.z85, k_a.z85, "", k_c.z85, k_lead_u.z85, k_lead_v.z85, k_feed.z85, k_mallory.z85);
        if (with_b) {
                char b[256], all[8192 + 256];
                snprintf(b, sizeof(b), "  { key = \"%s\"; user = \"hkB\"; role = \"caseworker\"; units = [ \"" U "\" ]; },\n",
                         k_b.z85);
                snprintf(all, sizeof(all), "%s%s", b, text);
                write_keys("keys.list", all);
        } else {
                write_keys("keys.list", text);
        }
}

/* ---- sockets -------------------------------------------------------------------------- */

static int free_port(void)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;

        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
                perror("free port");
                exit(2);
        }
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

static void set_int(void *s, int opt, int v)
{
        zmq_setsockopt(s, opt, &v, sizeof(v));
}

/* A socket with `k`'s keys (NULL: plaintext) and a monitor on it, connected to ep. */
typedef struct peer {
        void *s, *mon;
} peer_t;

static peer_t peer_open(int type, const tkey_t *k, const uint8_t *server_pk, const char *ep)
{
        static int n;
        char mon_ep[64];
        peer_t p;

        p.s = zmq_socket(env.ctx, type);
        set_int(p.s, ZMQ_LINGER, 0);
        set_int(p.s, ZMQ_RECONNECT_IVL, 50);
        set_int(p.s, ZMQ_RECONNECT_IVL_MAX, 200);
        if (k) {
                zmq_setsockopt(p.s, ZMQ_CURVE_SERVERKEY, server_pk, 32);
                zmq_setsockopt(p.s, ZMQ_CURVE_PUBLICKEY, k->pk, 32);
                zmq_setsockopt(p.s, ZMQ_CURVE_SECRETKEY, k->sk, 32);
        }
        snprintf(mon_ep, sizeof(mon_ep), "inproc://it-security-mon-%d", n++);
        zmq_socket_monitor(p.s, mon_ep, ZMQ_EVENT_ALL);
        p.mon = zmq_socket(env.ctx, ZMQ_PAIR);
        set_int(p.mon, ZMQ_LINGER, 0);
        zmq_connect(p.mon, mon_ep);
        zmq_connect(p.s, ep);
        return p;
}

static void peer_close(peer_t *p)
{
        if (!p->s)
                return;
        zmq_socket_monitor(p->s, NULL, 0);
        zmq_close(p->s);
        zmq_close(p->mon);
        p->s = p->mon = NULL;
}

/* Waits for one of the events in `mask`; returns it (value in *value) or 0 on timeout. */
static int wait_event(peer_t *p, int mask, int timeout_ms, uint32_t *value)
{
        int64_t end = it_ms() + timeout_ms;

        while (it_ms() < end) {
                zmq_pollitem_t it = { p->mon, 0, ZMQ_POLLIN, 0 };
                uint8_t buf[6];
                char addr[256];
                uint16_t ev;
                uint32_t val;

                if (zmq_poll(&it, 1, (long)(end - it_ms())) <= 0)
                        continue;
                if (zmq_recv(p->mon, buf, sizeof(buf), 0) < 6)
                        continue;
                zmq_recv(p->mon, addr, sizeof(addr), 0);
                memcpy(&ev, buf, 2);
                memcpy(&val, buf + 2, 4);
                if (ev & mask) {
                        if (value)
                                *value = val;
                        return ev;
                }
        }
        return 0;
}

static json_t *request(void *s, const char *req, int timeout_ms)
{
        char buf[1 << 16];
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        int n;

        if (zmq_send(s, req, strlen(req), ZMQ_DONTWAIT) < 0)
                return NULL;
        if (zmq_poll(&it, 1, timeout_ms) <= 0)
                return NULL;
        n = zmq_recv(s, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return NULL;
        return json_loadb(buf, (size_t)BK_IT_MIN(n, (int)sizeof(buf) - 1), 0, NULL);
}

/* One request with `k`'s key on a fresh DEALER; NULL if no reply within timeout_ms. */
static json_t *call_to(const tkey_t *k, int timeout_ms, const char *req)
{
        peer_t p = peer_open(ZMQ_DEALER, k, k_daemon.pk, api_ep);
        json_t *r;

        /* The handshake first, so a request is not queued for a connection that never comes. */
        if (!wait_event(&p, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, timeout_ms, NULL)) {
                peer_close(&p);
                return NULL;
        }
        r = request(p.s, req, timeout_ms);
        peer_close(&p);
        return r;
}

static json_t *callf(const tkey_t *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *callf(const tkey_t *k, const char *fmt, ...)
{
        char req[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(req, sizeof(req), fmt, ap);
        va_end(ap);
        return call_to(k, WAIT_MS, req);
}

static const char *code_of(const json_t *r)
{
        if (!r)
                return "(no reply)";
        if (json_is_true(json_object_get(r, "ok")))
                return "ok";
        const char *c = json_string_value(json_object_get(json_object_get(r, "error"), "code"));
        return c ? c : "(no code)";
}

/* Asserts the reply code of one request, at the caller's line. */
static void expect_code(int line, const tkey_t *k, const char *req, const char *want)
{
        json_t *r = call_to(k, WAIT_MS, req);
        const char *got = code_of(r);
        if (strcmp(got, want) == 0) {
                tap_pass++;
        } else {
                tap_fail++;
                fprintf(stderr, "FAIL %s:%d: %s -> %s, want %s\n", __FILE__, line, req, got, want);
        }
        json_decref(r);
}
#define EXPECT(k, req, want) expect_code(__LINE__, k, req, want)

static long long stat_of(const char *group, const char *key)
{
        json_t *r = callf(&k_admin, "{\"op\":\"stats\"}");
        long long v = r ? json_integer_value(json_object_get(json_object_get(r, group), key)) : -1;
        json_decref(r);
        return v;
}

/*
 * Polls stats until group.key reaches want (at least, or exactly with `exact`). A
 * reconnected SUB resends its subscriptions only when its owner touches it
 * (libzmq processes the reconnect's "hiccup" in the owner's thread), so the
 * wait also polls `pump` if given, as a client's event loop would.
 */
static long long wait_stat_pumping(const char *group, const char *key, long long want, bool exact, void *pump)
{
        int64_t end = it_ms() + WAIT_MS;
        long long v = -1;
        while (it_ms() < end) {
                v = stat_of(group, key);
                if (exact ? v == want : v >= want)
                        break;
                if (pump) {
                        zmq_pollitem_t it = { pump, 0, ZMQ_POLLIN, 0 };
                        zmq_poll(&it, 1, 0);
                }
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);   /* polling interval, not a wait for an outcome */
        }
        return v;
}

static long long wait_stat(const char *group, const char *key, long long want)
{
        return wait_stat_pumping(group, key, want, false, NULL);
}

static bool log_has(const char *name, const char *needle)
{
        char path[512], buf[1 << 16];
        size_t n;
        FILE *f;

        it_path(&env, name, path, sizeof(path));
        if (!(f = fopen(path, "r")))
                return false;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return strstr(buf, needle) != NULL;
}

static bool wait_log(const char *name, const char *needle)
{
        int64_t end = it_ms() + WAIT_MS;
        while (it_ms() < end) {
                if (log_has(name, needle))
                        return true;
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        return false;
}

/* Receives [topic][reminder] within timeout_ms; topic gets the first frame. */
static json_t *recv_reminder(void *s, char *topic, size_t tn, int timeout_ms)
{
        char buf[65536];
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        int n;

        if (zmq_poll(&it, 1, timeout_ms) <= 0)
                return NULL;
        n = zmq_recv(s, topic, tn - 1, 0);
        if (n < 0)
                return NULL;
        topic[BK_IT_MIN(n, (int)tn - 1)] = '\0';
        n = zmq_recv(s, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return NULL;
        return json_loadb(buf, (size_t)BK_IT_MIN(n, (int)sizeof(buf) - 1), 0, NULL);
}

/* ---- the daemon and its data -------------------------------------------------------------- */

static void write_config(void)
{
        char path[512], text[4096];
        it_path(&env, "bevakad.conf", path, sizeof(path));
        snprintf(text, sizeof(text),
                 "store: { path = \"bevaka.db\"; synchronous = \"normal\"; };\n"
                 "feed: { endpoint = \"ipc://%s/feed.sock\"; replay_endpoint = \"ipc://%s/replay.sock\";\n"
                 "        server_key = \"adapter.key.pub\"; };\n"
                 "publish: { endpoint = \"%s\"; };\n"
                 "api: { endpoint = \"%s\"; };\n"
                 "clock: { mode = \"manual\"; start = \"2025-05-12T12:00:00+02:00\"; };\n"
                 "security: { curve = true; secret_key = \"daemon.key\"; public_key = \"daemon.key.pub\";\n"
                 "            keys = \"keys.list\"; };\n",
                 env.dir, env.dir, pub_ep, api_ep);
        it_write(path, text);
}

static void write_history(void)
{
        static const struct { int n; const char *cw, *unit, *ib1; } cases[] = {
                { 1, "hkA", U, "2025-05-05" }, { 2, "hkB", U, "2025-05-05" }, { 3, "hkC", V, "2025-05-05" },
                { 4, "hkB", U, "2025-05-06" }, { 5, "hkA", U, "2025-05-07" }, { 6, "hkC", V, "2025-05-07" },
        };
        char path[512];
        FILE *f;

        it_path(&env, "history.jsonl", path, sizeof(path));
        f = fopen(path, "w");
        for (size_t i = 0; i < BK_ARRAY_SIZE(cases); i++) {
                fprintf(f, "{\"v\":1,\"id\":\"sec-%d-open\",\"type\":\"case.opened\",\"at\":\"2025-05-05T09:0%d:00+02:00\","
                           "\"case\":\"EB-2025-00000%d\",\"unit\":\"%s\",\"actor\":\"%s\",\"data\":{\"caseworker\":\"%s\","
                           "\"household\":{\"adults\":1,\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}}\n",
                        cases[i].n, cases[i].n, cases[i].n, cases[i].unit, cases[i].cw, cases[i].cw);
                fprintf(f, "{\"v\":1,\"id\":\"sec-%d-ib1\",\"type\":\"ib1.completed\",\"at\":\"%sT10:00:00+02:00\","
                           "\"case\":\"EB-2025-00000%d\",\"unit\":\"%s\",\"actor\":\"%s\",\"data\":{}}\n",
                        cases[i].n, cases[i].ib1, cases[i].n, cases[i].unit, cases[i].cw);
        }
        fclose(f);
}

/* The id of the open reminder of case n, from the admin's view. */
static void reminder_id(int n, char *id, size_t len)
{
        json_t *r = callf(&k_admin, "{\"op\":\"reminders\",\"case\":\"EB-2025-00000%d\"}", n);
        json_t *first = json_array_get(json_object_get(r, "reminders"), 0);
        const char *s = json_string_value(json_object_get(first, "id"));
        snprintf(id, len, "%s", s ? s : "(none)");
        json_decref(r);
}

static void set_clock(const char *when)
{
        json_t *r = callf(&k_admin, "{\"op\":\"clock\",\"set\":\"%s\"}", when);
        CHECK_STR(code_of(r), "ok");
        json_decref(r);
}

/* ---- the checks ------------------------------------------------------------------------ */

static void test_handshakes(void)
{
        uint32_t val = 0;
        peer_t p;

        /* Plaintext against CURVE: the mechanisms do not match, nothing gets through. */
        p = peer_open(ZMQ_DEALER, NULL, NULL, api_ep);
        CHECK(wait_event(&p, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_DISCONNECTED, WAIT_MS, NULL) != 0);
        CHECK(request(p.s, "{\"op\":\"hello\"}", QUIET_MS) == NULL);
        peer_close(&p);
        p = peer_open(ZMQ_SUB, NULL, NULL, pub_ep);
        CHECK(wait_event(&p, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_DISCONNECTED, WAIT_MS, NULL) != 0);
        peer_close(&p);

        /* An unknown key: ZAP says 400, the daemon logs the fingerprint and the address. */
        p = peer_open(ZMQ_DEALER, &k_unknown, k_daemon.pk, api_ep);
        CHECK_INT(wait_event(&p, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED, WAIT_MS, &val),
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
        CHECK_INT(val, 400);
        CHECK(request(p.s, "{\"op\":\"hello\"}", QUIET_MS) == NULL);
        peer_close(&p);
        char want[128];
        snprintf(want, sizeof(want), "refused a handshake (400 unknown key): key %.8s from 127.0.0.1", k_unknown.z85);
        CHECK(wait_log("bevakad.log", want));
        CHECK(stat_of("security", "handshakes_refused") >= 1);
        /* On the publisher too. */
        p = peer_open(ZMQ_SUB, &k_unknown, k_daemon.pk, pub_ep);
        CHECK_INT(wait_event(&p, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED, WAIT_MS, &val),
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
        peer_close(&p);
        /* A wrong server key: the client itself gives up (no one to ask). */
        p = peer_open(ZMQ_DEALER, &k_admin, k_a.pk, api_ep);
        CHECK(wait_event(&p, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, QUIET_MS, NULL) == 0);
        peer_close(&p);

        /* Known keys: who the daemon thinks they are comes from the key list. */
        json_t *r = callf(&k_a, "{\"op\":\"hello\"}");
        CHECK_STR(json_string_value(json_object_get(r, "user")), "hkA");
        CHECK_STR(json_string_value(json_object_get(r, "role")), "caseworker");
        json_decref(r);
        r = callf(&k_lead_u, "{\"op\":\"hello\"}");
        CHECK_STR(json_string_value(json_object_get(r, "role")), "lead");
        json_decref(r);
        r = callf(&k_feed, "{\"op\":\"hello\"}");
        CHECK_STR(json_string_value(json_object_get(r, "role")), "feed");
        json_decref(r);
}

static void test_api_ownership(void)
{
        char id_a[64], id_b[64], id_c[64], req[256];

        reminder_id(1, id_a, sizeof(id_a));
        reminder_id(2, id_b, sizeof(id_b));
        reminder_id(3, id_c, sizeof(id_c));

        /* A reads its own topic and its own reminders... */
        json_t *r = callf(&k_a, "{\"op\":\"sync\",\"topic\":\"rem/" U "/hkA/\"}");
        CHECK_STR(code_of(r), "ok");
        CHECK_INT(json_array_size(json_object_get(r, "reminders")), 1);
        CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(r, "reminders"), 0), "id")), id_a);
        json_decref(r);
        snprintf(req, sizeof(req), "{\"op\":\"why\",\"id\":\"%s\"}", id_a);
        EXPECT(&k_a, req, "ok");

        /* ...and nothing of B's or C's, by any op. */
        static const char *const topics[] = {
                "rem/" U "/hkB/", "rem/" V "/hkC/", "rem/" U "/@leads/", "rem/" U "/", "rem/", "", "rem/" U "/hkA",
                "rem/" V "/hkA/",
        };
        for (size_t i = 0; i < BK_ARRAY_SIZE(topics); i++) {
                snprintf(req, sizeof(req), "{\"op\":\"sync\",\"topic\":\"%s\"}", topics[i]);
                r = callf(&k_a, "%s", req);
                CHECK(strcmp(code_of(r), "forbidden") == 0 || strcmp(code_of(r), "bad_request") == 0);
                CHECK(json_object_get(r, "reminders") == NULL);
                json_decref(r);
        }
        static const char *const ops[] = { "ack", "snooze", "why" };
        for (size_t i = 0; i < BK_ARRAY_SIZE(ops); i++) {
                snprintf(req, sizeof(req), "{\"op\":\"%s\",\"id\":\"%s\"}", ops[i], id_b);
                EXPECT(&k_a, req, "forbidden");
                snprintf(req, sizeof(req), "{\"op\":\"%s\",\"id\":\"%s\"}", ops[i], id_c);
                EXPECT(&k_a, req, "forbidden");
        }
        snprintf(req, sizeof(req), "{\"op\":\"dismiss\",\"id\":\"%s\",\"reason\":\"not mine\"}", id_b);
        EXPECT(&k_a, req, "forbidden");
        EXPECT(&k_a, "{\"op\":\"reminders\",\"caseworker\":\"hkB\"}", "forbidden");
        EXPECT(&k_a, "{\"op\":\"reminders\"}", "forbidden");
        EXPECT(&k_a, "{\"op\":\"case\",\"case\":\"EB-2025-000002\"}", "forbidden");

        /* A lead: its unit, every caseworker in it, not the other unit. */
        r = callf(&k_lead_u, "{\"op\":\"sync\",\"topic\":\"rem/" U "/hkB/\"}");
        CHECK_STR(code_of(r), "ok");
        CHECK_INT(json_array_size(json_object_get(r, "reminders")), 1);
        json_decref(r);
        EXPECT(&k_lead_u, "{\"op\":\"sync\",\"topic\":\"rem/" U "/@leads/\"}", "ok");
        EXPECT(&k_lead_u, "{\"op\":\"sync\",\"topic\":\"rem/" V "/hkC/\"}", "forbidden");
        EXPECT(&k_lead_u, "{\"op\":\"reminders\",\"unit\":\"" U "\"}", "ok");
        EXPECT(&k_lead_u, "{\"op\":\"reminders\",\"unit\":\"" V "\"}", "forbidden");
        EXPECT(&k_lead_u, "{\"op\":\"case\",\"case\":\"EB-2025-000002\"}", "ok");
        EXPECT(&k_lead_u, "{\"op\":\"case\",\"case\":\"EB-2025-000003\"}", "not_found");
        snprintf(req, sizeof(req), "{\"op\":\"why\",\"id\":\"%s\"}", id_b);
        EXPECT(&k_lead_u, req, "ok");
        snprintf(req, sizeof(req), "{\"op\":\"why\",\"id\":\"%s\"}", id_c);
        EXPECT(&k_lead_u, req, "forbidden");
        EXPECT(&k_lead_v, req, "ok");
        r = callf(&k_lead_u, "{\"op\":\"reminders\"}");
        json_t *list = json_object_get(r, "reminders");
        CHECK_INT(json_array_size(list), 4);    /* cases 1, 2, 4, 5: delivered or still scheduled */
        for (size_t i = 0; i < json_array_size(list); i++)
                CHECK_STR(json_string_value(json_object_get(json_array_get(list, i), "unit")), U);
        json_decref(r);

        /* Admin-only ops: forbidden for everyone else. */
        static const char *const admin_ops[] = {
                "{\"op\":\"stats\"}", "{\"op\":\"dead_letters\"}", "{\"op\":\"reload\"}",
                "{\"op\":\"clock\"}", "{\"op\":\"clock\",\"set\":\"2025-05-19T07:00:00+02:00\"}",
        };
        const tkey_t *others[] = { &k_a, &k_lead_u, &k_feed };
        for (size_t i = 0; i < BK_ARRAY_SIZE(admin_ops); i++)
                for (size_t j = 0; j < BK_ARRAY_SIZE(others); j++)
                        EXPECT(others[j], admin_ops[i], "forbidden");
        /* The feed role has no API beyond hello. */
        EXPECT(&k_feed, "{\"op\":\"sync\",\"topic\":\"rem/" U "/hkA/\"}", "forbidden");
        EXPECT(&k_feed, "{\"op\":\"reminders\"}", "forbidden");
        EXPECT(&k_admin, "{\"op\":\"dead_letters\"}", "ok");
        snprintf(req, sizeof(req), "{\"op\":\"why\",\"id\":\"%s\"}", id_c);
        EXPECT(&k_admin, req, "ok");
        /* Last: a mutating op A may do on its own reminder. */
        snprintf(req, sizeof(req), "{\"op\":\"ack\",\"id\":\"%s\"}", id_a);
        EXPECT(&k_a, req, "ok");
}

/* Subscribes `s` to each prefix (length-exact: "" and prefixes without a trailing slash too). */
static void subscribe_all(void *s, const char *const *prefixes, size_t n)
{
        for (size_t i = 0; i < n; i++)
                zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefixes[i], strlen(prefixes[i]));
}

static void test_subscriptions(void)
{
        static const char *const a_tries[] = {
                "", "rem/", "rem/" U "/", "rem/" U "/hk", "rem/" U "/hkA", "rem/" U "/hkB/", "rem/" U "/@leads/",
                "rem/" V "/hkC/", "rem", "r", "rem/" U "/hkA/",
        };
        static const char *const lead_tries[] = {
                "rem/" U "/hkA/", "rem/" U "/hkB/", "rem/" U "/@leads/", "rem/" U "/", "rem/" V "/hkC/", "rem/", "",
        };
        long long granted0 = stat_of("security", "subscriptions_granted");
        long long refused0 = stat_of("security", "subscriptions_refused");
        peer_t a = peer_open(ZMQ_SUB, &k_a, k_daemon.pk, pub_ep);
        peer_t lead = peer_open(ZMQ_SUB, &k_lead_u, k_daemon.pk, pub_ep);
        peer_t admin = peer_open(ZMQ_SUB, &k_admin, k_daemon.pk, pub_ep);
        char topic[256];
        json_t *m;

        subscribe_all(a.s, a_tries, BK_ARRAY_SIZE(a_tries));
        subscribe_all(lead.s, lead_tries, BK_ARRAY_SIZE(lead_tries));
        zmq_setsockopt(admin.s, ZMQ_SUBSCRIBE, "", 0);
        /* Granted: A's own topic; the lead's three in its unit; the admin's "". Refused: the rest. */
        CHECK_INT(wait_stat("security", "subscriptions_granted", granted0 + 5), granted0 + 5);
        CHECK_INT(wait_stat("security", "subscriptions_refused", refused0 + 10 + 4), refused0 + 14);
        CHECK(wait_log("bevakad.log", "subscription \"rem/\" refused: hkA (caseworker"));
        CHECK(wait_log("bevakad.log", "subscription \"\" refused: leadU (lead"));

        /* B's reminder is published first, then A's and C's. */
        set_clock("2025-05-20T08:00:00+02:00");
        CHECK_INT(wait_stat_pumping("reminders", "scheduled", 2, true, NULL), 2);
        set_clock("2025-05-21T08:00:00+02:00");
        CHECK_INT(wait_stat_pumping("reminders", "scheduled", 0, true, NULL), 0);

        /* A: its own reminder and nothing else, although B's came before it on the same socket. */
        m = recv_reminder(a.s, topic, sizeof(topic), WAIT_MS);
        CHECK_STR(topic, "rem/" U "/hkA/");
        CHECK_STR(json_string_value(json_object_get(m, "case")), "EB-2025-000005");
        json_decref(m);
        m = recv_reminder(a.s, topic, sizeof(topic), QUIET_MS);
        CHECK(m == NULL);
        json_decref(m);

        /* The lead: B's then A's (its unit), never C's (the other unit). */
        m = recv_reminder(lead.s, topic, sizeof(topic), WAIT_MS);
        CHECK_STR(topic, "rem/" U "/hkB/");
        json_decref(m);
        m = recv_reminder(lead.s, topic, sizeof(topic), WAIT_MS);
        CHECK_STR(topic, "rem/" U "/hkA/");
        json_decref(m);
        m = recv_reminder(admin.s, topic, sizeof(topic), WAIT_MS);
        CHECK_STR(topic, "rem/" U "/hkB/");
        json_decref(m);
        int seen = 1;
        while ((m = recv_reminder(admin.s, topic, sizeof(topic), WAIT_MS / 5)) != NULL) {
                seen++;
                json_decref(m);
        }
        CHECK_INT(seen, 3);                     /* B's, A's and C's: the admin's "" sees all */
        m = recv_reminder(lead.s, topic, sizeof(topic), QUIET_MS);
        CHECK(m == NULL);
        json_decref(m);

        peer_close(&a);
        peer_close(&lead);
        peer_close(&admin);
}

static void test_revocation(void)
{
        peer_t sub = peer_open(ZMQ_SUB, &k_b, k_daemon.pk, pub_ep);
        peer_t api = peer_open(ZMQ_DEALER, &k_b, k_daemon.pk, api_ep);
        long long granted0 = stat_of("security", "subscriptions_granted");
        long long resets0 = stat_of("security", "resets");
        uint32_t val = 0;
        json_t *r;

        zmq_setsockopt(sub.s, ZMQ_SUBSCRIBE, "rem/" U "/hkB/", strlen("rem/" U "/hkB/"));
        CHECK(wait_event(&sub, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, WAIT_MS, NULL));
        CHECK(wait_event(&api, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, WAIT_MS, NULL));
        CHECK_INT(wait_stat("security", "subscriptions_granted", granted0 + 1), granted0 + 1);
        r = request(api.s, "{\"op\":\"hello\"}", WAIT_MS);
        CHECK_STR(json_string_value(json_object_get(r, "user")), "hkB");
        json_decref(r);

        /* B's key leaves the list; the admin reloads. */
        write_daemon_keys(false);
        EXPECT(&k_admin, "{\"op\":\"reload\"}", "ok");
        /* B's live connections are dropped, and the reconnect is refused at the handshake. */
        CHECK(wait_event(&sub, ZMQ_EVENT_DISCONNECTED, WAIT_MS, NULL));
        CHECK_INT(wait_event(&sub, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED, WAIT_MS, &val),
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
        CHECK_INT(val, 400);
        CHECK(wait_event(&api, ZMQ_EVENT_DISCONNECTED, WAIT_MS, NULL));
        CHECK_INT(wait_event(&api, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED, WAIT_MS, &val),
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
        CHECK(request(api.s, "{\"op\":\"hello\"}", QUIET_MS) == NULL);
        CHECK(call_to(&k_b, QUIET_MS, "{\"op\":\"hello\"}") == NULL);
        CHECK(stat_of("security", "resets") >= resets0 + 2);
        char want[128];
        snprintf(want, sizeof(want), "refused a handshake (400 unknown key): key %.8s", k_b.z85);
        CHECK(wait_log("bevakad.log", want));
        /* Everyone else carries on. */
        EXPECT(&k_a, "{\"op\":\"hello\"}", "ok");
        peer_close(&sub);
        peer_close(&api);

        /* B is back after SIGHUP (the other reload path). */
        write_daemon_keys(true);
        kill(env.daemon, SIGHUP);
        int64_t end = it_ms() + WAIT_MS;
        const char *code = "";
        while (it_ms() < end && strcmp(code, "ok") != 0) {
                json_t *h = call_to(&k_b, 300, "{\"op\":\"hello\"}");
                code = h ? "ok" : "";
                json_decref(h);
        }
        CHECK_STR(code, "ok");
        /* Adding a key takes nothing away: no reset. */
        CHECK_INT(stat_of("security", "resets"), resets0 + 2);
}

/* A peer sending the publisher a message that is not a subscription is cut off (docs/security.md). */
static void test_protocol_violation(void)
{
        long long v0 = stat_of("security", "protocol_violations");
        peer_t x = peer_open(ZMQ_XSUB, &k_mallory, k_daemon.pk, pub_ep);
        peer_t a = peer_open(ZMQ_SUB, &k_a, k_daemon.pk, pub_ep);
        long long granted0 = stat_of("security", "subscriptions_granted");
        uint32_t val = 0;

        zmq_setsockopt(a.s, ZMQ_SUBSCRIBE, "rem/" U "/hkA/", strlen("rem/" U "/hkA/"));
        CHECK_INT(wait_stat("security", "subscriptions_granted", granted0 + 1), granted0 + 1);
        CHECK(wait_event(&x, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, WAIT_MS, NULL));
        zmq_send(x.s, "", 0, 0);
        CHECK_INT(wait_stat("security", "protocol_violations", v0 + 1), v0 + 1);
        CHECK(wait_log("bevakad.log", "mallory (key "));
        /* Mallory is refused from now on; A's subscription is granted again after the reset. */
        CHECK(wait_event(&x, ZMQ_EVENT_DISCONNECTED, WAIT_MS, NULL));
        CHECK_INT(wait_event(&x, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED, WAIT_MS, &val),
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
        CHECK(call_to(&k_mallory, QUIET_MS, "{\"op\":\"hello\"}") == NULL);
        CHECK_INT(wait_stat_pumping("security", "subscriptions_granted", granted0 + 2, false, a.s), granted0 + 2);
        peer_close(&x);
        peer_close(&a);
}

static int tcp_connect(int port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
                perror("connect");
                exit(2);
        }
        return fd;
}

/* Whether the daemon closes the connection within timeout_ms (reads until EOF or error). */
static bool closed_by_peer(int fd, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        char buf[512];

        while (it_ms() < end) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, (int)(end - it_ms())) <= 0)
                        continue;
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n <= 0)
                        return true;
        }
        return false;
}

static void test_garbage(void)
{
        /* A ZMTP 3 greeting asking for CURVE as a client, as a real peer would send it. */
        uint8_t greeting[64] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'C', 'U', 'R', 'V', 'E' };
        /* Then a command frame (0x04) with the long flag (0x02) claiming a terabyte. */
        uint8_t huge[9] = { 0x06, 0, 0, 0x01, 0, 0, 0, 0, 0 };
        char junk[256];
        int idle, g, h;

        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (char)(i * 7 + 3);
        idle = tcp_connect(api_port);           /* connects and says nothing */
        g = tcp_connect(api_port);
        CHECK(write(g, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
        CHECK(closed_by_peer(g, WAIT_MS));
        h = tcp_connect(api_port);
        CHECK(write(h, greeting, sizeof(greeting)) == (ssize_t)sizeof(greeting));
        CHECK(write(h, huge, sizeof(huge)) == (ssize_t)sizeof(huge));
        CHECK(closed_by_peer(h, WAIT_MS));
        close(g);
        close(h);
        /* The same on the publisher. */
        g = tcp_connect(pub_port);
        CHECK(write(g, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
        CHECK(closed_by_peer(g, WAIT_MS));
        close(g);
        /* Others are not disturbed, with the idle connection still open. */
        EXPECT(&k_a, "{\"op\":\"hello\"}", "ok");
        EXPECT(&k_admin, "{\"op\":\"stats\"}", "ok");
        close(idle);
}

static void test_adapter_refuses_unknown(void)
{
        char ep[600];
        uint32_t val = 0;
        peer_t p;

        snprintf(ep, sizeof(ep), "ipc://%s/feed.sock", env.dir);
        p = peer_open(ZMQ_SUB, &k_unknown, k_adapter.pk, ep);
        CHECK_INT(wait_event(&p, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED, WAIT_MS, &val),
                  ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
        peer_close(&p);
        /* The daemon's own key is in the adapter's list: its SUB got everything (checked by the stats). */
}

/* bevakad refuses to start: exit status 1 and `want` in its log. */
static void expect_start_refused(int line, const char *conf_text, const char *want)
{
        char conf[512], exe[600], log[64];
        static int n;

        snprintf(log, sizeof(log), "refused-%d.log", n++);
        it_path(&env, "refused.conf", conf, sizeof(conf));
        it_write(conf, conf_text);
        snprintf(exe, sizeof(exe), "%s/bevakad", env.bin);
        char *argv[] = { exe, "--config", conf, NULL };
        int st = it_wait_exit(it_spawn(&env, log, argv), WAIT_MS);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 1 && log_has(log, want)) {
                tap_pass++;
        } else {
                tap_fail++;
                fprintf(stderr, "FAIL %s:%d: bevakad should refuse to start with \"%s\" (status %d)\n",
                        __FILE__, line, want, st);
        }
}

static void test_start_refused(void)
{
        char text[4096], sec_copy[512], cmd[2048];
        int port = free_port();

        /* Without CURVE, only loopback and ipc. */
        snprintf(text, sizeof(text),
                 "store: { path = \"refused.db\"; };\n"
                 "feed: { endpoint = \"ipc://%s/f2.sock\"; replay_endpoint = \"ipc://%s/r2.sock\"; };\n"
                 "publish: { endpoint = \"ipc://%s/p2.sock\"; };\n"
                 "api: { endpoint = \"tcp://0.0.0.0:%d\"; };\n"
                 "security: { curve = false; };\n", env.dir, env.dir, env.dir, port);
        expect_start_refused(__LINE__, text, "api.endpoint: binding a non-loopback address needs security.curve = true");
        /* With CURVE: a key list with a mistake names its file and line. */
        write_keys("bad.list", "  { key = \"not a key\"; user = \"x\"; role = \"admin\"; }");
        snprintf(text, sizeof(text),
                 "store: { path = \"refused.db\"; };\n"
                 "feed: { endpoint = \"ipc://%s/f2.sock\"; replay_endpoint = \"ipc://%s/r2.sock\"; };\n"
                 "publish: { endpoint = \"ipc://%s/p2.sock\"; };\n"
                 "api: { endpoint = \"tcp://0.0.0.0:%d\"; };\n"
                 "security: { curve = true; secret_key = \"daemon.key\"; public_key = \"daemon.key.pub\";\n"
                 "            keys = \"bad.list\"; };\n", env.dir, env.dir, env.dir, port);
        expect_start_refused(__LINE__, text, "bad.list:2: keys[0].key: must be a CURVE public key in Z85");
        /* A secret key others can read; a public key that is not the secret's. */
        it_path(&env, "open.key", sec_copy, sizeof(sec_copy));
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 0644 '%s'", k_daemon.sec, sec_copy, sec_copy);
        CHECK(system(cmd) == 0);
        snprintf(text, sizeof(text),
                 "store: { path = \"refused.db\"; };\n"
                 "feed: { endpoint = \"ipc://%s/f2.sock\"; replay_endpoint = \"ipc://%s/r2.sock\"; };\n"
                 "publish: { endpoint = \"ipc://%s/p2.sock\"; };\n"
                 "api: { endpoint = \"ipc://%s/a2.sock\"; };\n"
                 "security: { curve = true; secret_key = \"open.key\"; public_key = \"daemon.key.pub\";\n"
                 "            keys = \"keys.list\"; };\n", env.dir, env.dir, env.dir, env.dir);
        expect_start_refused(__LINE__, text, "open.key: a secret key must not be accessible to others");
        snprintf(text, sizeof(text),
                 "store: { path = \"refused.db\"; };\n"
                 "feed: { endpoint = \"ipc://%s/f2.sock\"; replay_endpoint = \"ipc://%s/r2.sock\"; };\n"
                 "publish: { endpoint = \"ipc://%s/p2.sock\"; };\n"
                 "api: { endpoint = \"ipc://%s/a2.sock\"; };\n"
                 "security: { curve = true; secret_key = \"daemon.key\"; public_key = \"admin.key.pub\";\n"
                 "            keys = \"keys.list\"; };\n", env.dir, env.dir, env.dir, env.dir);
        expect_start_refused(__LINE__, text, "is not the public key of security.secret_key");
}

static long long db_count(const char *sql)
{
        char path[512];
        sqlite3 *db;
        sqlite3_stmt *q;
        long long n = -1;

        it_path(&env, "bevaka.db", path, sizeof(path));
        if (sqlite3_open(path, &db) != SQLITE_OK)
                return -1;
        /* a query's one number, or a statement run (-1) */
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
                n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        return n;
}

/*
 * After a crash the daemon offers again what may not have left (daemon/outbox.c) to each
 * subscription it grants: under CURVE that is a subscription the key list allows, and the
 * offer reaches only its own topic. The crash is played by moving the store's published-up-to
 * mark back to 0 while the daemon is down: every message of the outbox is the tail.
 */
static void test_tail_after_crash(void)
{
        char topic[256];
        json_t *m;
        int mine = 0, others = 0;

        CHECK(WIFEXITED(it_stop(&env.daemon, SIGTERM)));
        long long want = db_count("SELECT count(*) FROM outbox WHERE topic = 'rem/" U "/hkA/'");
        CHECK(want >= 1);
        CHECK(db_count("SELECT count(*) FROM outbox WHERE topic <> 'rem/" U "/hkA/'") >= 1);
        db_count("UPDATE meta SET value = 0 WHERE key = 'rseq.published'");
        CHECK_INT(db_count("SELECT value FROM meta WHERE key = 'rseq.published'"), 0);
        it_start_daemon(&env);
        CHECK_INT(wait_stat("events", "applied", 12), 12);

        peer_t a = peer_open(ZMQ_SUB, &k_a, k_daemon.pk, pub_ep);
        zmq_setsockopt(a.s, ZMQ_SUBSCRIBE, "rem/", 4);                      /* refused: not A's */
        zmq_setsockopt(a.s, ZMQ_SUBSCRIBE, "rem/" U "/hkA/", strlen("rem/" U "/hkA/"));
        while ((m = recv_reminder(a.s, topic, sizeof(topic), mine ? QUIET_MS : WAIT_MS)) != NULL) {
                if (strcmp(topic, "rem/" U "/hkA/") == 0)
                        mine++;
                else
                        others++;
                json_decref(m);
        }
        CHECK_INT(mine, want);
        CHECK_INT(others, 0);
        peer_close(&a);
}

static void test_keygen_refuses_overwrite(void)
{
        char exe[600], before[512], after[512], err[512];
        uint8_t k1[32], k2[32];
        struct stat st;

        CHECK(stat(k_a.sec, &st) == 0 && (st.st_mode & 0777) == 0600);
        CHECK(stat(k_a.pub, &st) == 0 && (st.st_mode & 0077) != 0);      /* public: readable */
        snprintf(before, sizeof(before), "%s", k_a.sec);
        CHECK_INT(keys_read_file(before, "secret-key", true, k1, err, sizeof(err)), 0);
        snprintf(exe, sizeof(exe), "%s/bevakactl", env.bin);
        char *argv[] = { exe, "keygen", k_a.sec, NULL };
        int st2 = it_wait_exit(it_spawn(&env, "keygen.log", argv), WAIT_MS);
        CHECK(WIFEXITED(st2) && WEXITSTATUS(st2) == 1);
        snprintf(after, sizeof(after), "%s", k_a.sec);
        CHECK_INT(keys_read_file(after, "secret-key", true, k2, err, sizeof(err)), 0);
        CHECK(memcmp(k1, k2, 32) == 0);
        CHECK(log_has("keygen.log", "refusing to overwrite a key"));
        CHECK(log_has("keygen.log", "role = \"caseworker\""));
}

int main(void)
{
        char adapter_keys[512], sec_path[512], history[512];
        json_t *r;

        it_init(&env);
        api_port = free_port();
        pub_port = free_port();
        while (pub_port == api_port)
                pub_port = free_port();
        snprintf(api_ep, sizeof(api_ep), "tcp://127.0.0.1:%d", api_port);
        snprintf(pub_ep, sizeof(pub_ep), "tcp://127.0.0.1:%d", pub_port);

        keygen("daemon.key", &k_daemon);
        keygen("adapter.key", &k_adapter);
        keygen("admin.key", &k_admin);
        keygen("a.key", &k_a);
        keygen("b.key", &k_b);
        keygen("c.key", &k_c);
        keygen("lead-u.key", &k_lead_u);
        keygen("lead-v.key", &k_lead_v);
        keygen("feed.key", &k_feed);
        keygen("mallory.key", &k_mallory);
        keygen("unknown.key", &k_unknown);
        test_keygen_refuses_overwrite();

        write_daemon_keys(true);
        /* The adapter accepts the daemon's key only. */
        char entry[256];
        snprintf(entry, sizeof(entry), "  { key = \"%s\"; user = \"bevakad\"; role = \"feed\"; }", k_daemon.z85);
        write_keys("adapter-keys.list", entry);
        it_path(&env, "adapter-keys.list", adapter_keys, sizeof(adapter_keys));
        write_config();
        write_history();
        snprintf(sec_path, sizeof(sec_path), "%s", k_adapter.sec);
        it_path(&env, "history.jsonl", history, sizeof(history));
        it_start_feed(&env, history, "--curve-secret-key", sec_path, "--keys", adapter_keys, NULL);
        it_start_daemon(&env);

        /* Up, fed over CURVE, and the first three reminders delivered. */
        CHECK_INT(wait_stat("events", "applied", 12), 12);
        set_clock("2025-05-19T08:00:00+02:00");
        CHECK_INT(wait_stat("reminders", "delivered", 3), 3);
        r = callf(&k_admin, "{\"op\":\"hello\"}");
        CHECK_STR(json_string_value(json_object_get(r, "role")), "admin");
        json_decref(r);

        test_handshakes();
        test_adapter_refuses_unknown();
        test_api_ownership();
        test_subscriptions();
        test_revocation();
        test_protocol_violation();
        test_garbage();
        test_start_refused();
        test_tail_after_crash();

        /* Logs at info level carry no payloads: no reminder title or body, no event data. */
        CHECK(!log_has("bevakad.log", "unemployment"));
        CHECK(!log_has("bevakad.log", "\"title\""));

        int st = it_stop(&env.daemon, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        it_cleanup(&env);
        return tap_done();
}
