/*
 * Integration, protocol §6 "Names" end to end: the real bevakad and
 * bevaka-feed over ipc://, a subscriber of exactly one caseworker's topic
 * (rem/U1/hk1/, as a caseworker's client subscribes), and a feed that puts
 * a '/' into a caseworker (`hk1/x`) and into a unit (`U1/hk1`). Before the
 * grammar was checked those reminders went out on rem/U1/hk1/x/ and
 * rem/U1/hk1/hk9/, which the prefix rem/U1/hk1/ matches: the subscriber
 * received other people's reminders. Now such events are dead letters with
 * the reason "bad name", and the subscriber gets its own reminder only.
 */
#include "it.h"

#define OPEN(id, kase, unit, cw)                                                                           \
        "{\"v\":1,\"id\":\"" id "\",\"type\":\"case.opened\",\"at\":\"2025-03-03T10:00:00+01:00\","      \
        "\"case\":\"" kase "\",\"unit\":\"" unit "\",\"data\":{\"caseworker\":\"" cw "\",\"household\":"    \
        "{\"adults\":1,\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}}\n"
#define IB1(id, kase, unit)                                                                                \
        "{\"v\":1,\"id\":\"" id "\",\"type\":\"ib1.completed\",\"at\":\"2025-03-03T11:00:00+01:00\","    \
        "\"case\":\"" kase "\",\"unit\":\"" unit "\",\"data\":{}}\n"

int main(void)
{
        it_env_t e;
        char path[512], ep[600], topic[256];
        int mine = 0, others = 0;

        it_init(&e);
        it_config(&e, "2025-03-03T09:00:00+01:00", NULL);
        it_path(&e, "names.jsonl", path, sizeof(path));
        it_write(path,
                 /* hk1's own case: its IB3-DUE is the one reminder the subscriber should get */
                 OPEN("n-1", "EB-1", "U1", "hk1") IB1("n-1b", "EB-1", "U1")
                 /* a caseworker with a '/' would publish on rem/U1/hk1/x/ */
                 OPEN("n-2", "EB-2", "U1", "hk1/x") "{\"v\":1,\"id\":\"n-2a\",\"type\":\"caseworker.assigned\","
                 "\"at\":\"2025-03-03T10:30:00+01:00\",\"case\":\"EB-3\",\"unit\":\"U1\",\"data\":{\"caseworker\":"
                 "\"hk1/y\"}}\n" IB1("n-2b", "EB-3", "U1")
                 /* a unit with a '/' would publish on rem/U1/hk1/hk9/ */
                 OPEN("n-3", "EB-4", "U1/hk1", "hk9") IB1("n-3b", "EB-4", "U1/hk1")
                 /* an actor with a '/' is a log field */
                 "{\"v\":1,\"id\":\"n-4\",\"type\":\"ib2.completed\",\"at\":\"2025-03-03T11:30:00+01:00\","
                 "\"case\":\"EB-1\",\"unit\":\"U1\",\"actor\":\"hk1/../root\",\"data\":{}}\n");
        it_start_daemon(&e);
        it_connect(&e);

        /* The caseworker's own subscription: exactly its topic, a prefix as libzmq sees it. */
        void *sub = zmq_socket(e.ctx, ZMQ_SUB);
        int linger = 0;
        zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "rem/U1/hk1/", 11);
        snprintf(ep, sizeof(ep), "ipc://%s/pub.sock", e.dir);
        CHECK_INT(zmq_connect(sub, ep), 0);

        it_start_feed(&e, path, "--wait-subscribers", "1", NULL);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 3, 20000), 3);
        CHECK_INT(it_wait_stat(&e, "events", "dead_letters", 5, 20000), 5);
        json_t *r = it_api(&e, "{\"op\":\"dead_letters\",\"limit\":10}");
        json_t *dl = json_object_get(r, "dead_letters"), *v;
        size_t i;
        int bad = 0;
        json_array_foreach(dl, i, v)
                bad += strstr(json_string_value(json_object_get(v, "reason")), ": bad name") != NULL;
        CHECK_INT(bad, 5);
        json_decref(r);

        /* Two weeks on: IB3-DUE of every case opened is due (those that were taken). */
        json_decref(it_api(&e, "{\"op\":\"clock\",\"set\":\"2025-03-18T09:00:00+01:00\"}"));
        for (int64_t end = it_ms() + 3000; it_ms() < end;) {
                zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
                if (zmq_poll(&it, 1, 200) <= 0) {
                        if (mine > 0)
                                break;    /* got ours, and nothing more came within 200 ms */
                        continue;
                }
                char buf[8192];
                int n = zmq_recv(sub, topic, sizeof(topic) - 1, 0);
                topic[n < 0 ? 0 : BK_IT_MIN(n, (int)sizeof(topic) - 1)] = '\0';
                n = zmq_recv(sub, buf, sizeof(buf) - 1, 0);
                json_t *m = n > 0 ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
                const char *cw = json_string_value(json_object_get(m, "caseworker"));
                const char *unit = json_string_value(json_object_get(m, "unit"));
                if (strcmp(topic, "rem/U1/hk1/") == 0 && cw && strcmp(cw, "hk1") == 0 && unit &&
                    strcmp(unit, "U1") == 0) {
                        mine++;
                } else {
                        fprintf(stderr, "names: someone else's message on %s (caseworker %s, unit %s)\n", topic,
                                cw ? cw : "-", unit ? unit : "-");
                        others++;
                }
                json_decref(m);
        }
        CHECK_INT(mine, 1);
        CHECK_INT(others, 0);

        zmq_close(sub);
        it_cleanup(&e);
        return tap_done();
}
