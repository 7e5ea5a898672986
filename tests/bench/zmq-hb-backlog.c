/*
 * zmq-hb-backlog: reproduces, in one process, what kills bevakad's feed
 * connection during a long catch-up (docs/performance.md, finding 0).
 * A SUB with the daemon's feed settings (RCVHWM 100 000, ZMTP heartbeat
 * 5 s / timeout 15 s, as bus.c's set_common() sets since 904b1ef) reads
 * 2 500 msg/s from a PUB that has sent 400 000 messages at once. With the
 * heartbeat on, libzmq 4.3.4 drops the healthy connection after ~19 s
 * (the engine stops reading TCP while the pipe is full, so it never sees
 * the peer's PONG), messages are lost, and then it aborts with
 * "Assertion failed: _input_stopped (src/stream_engine_base.cpp:417)"
 * (zeromq/libzmq#3937). With the heartbeat off it reads on without a gap.
 *
 *   gcc -O2 tests/bench/zmq-hb-backlog.c -lzmq -o /tmp/zmq-hb-backlog
 *   /tmp/zmq-hb-backlog 1; /tmp/zmq-hb-backlog 0      # heartbeat on / off; at most 70 s each
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static double now(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        int hb = argc > 1 ? atoi(argv[1]) : 1, zero = 0, hwm = 100000, ivl = 5000, to = 15000;
        void *pctx = zmq_ctx_new(), *sctx = zmq_ctx_new();
        void *pub = zmq_socket(pctx, ZMQ_PUB), *sub = zmq_socket(sctx, ZMQ_SUB), *mon;
        char ep[64], buf[231];
        size_t len = sizeof(ep);
        uint64_t expect = 1, gaps = 0, got = 0;

        setvbuf(stdout, NULL, _IOLBF, 0);
        zmq_setsockopt(pub, ZMQ_SNDHWM, &zero, sizeof(zero));
        zmq_bind(pub, "tcp://127.0.0.1:*");
        zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, ep, &len);
        zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
        if (hb) {
                zmq_setsockopt(sub, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl));
                zmq_setsockopt(sub, ZMQ_HEARTBEAT_TIMEOUT, &to, sizeof(to));
        }
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
        zmq_socket_monitor(sub, "inproc://mon", ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECTED);
        mon = zmq_socket(sctx, ZMQ_PAIR);
        zmq_connect(mon, "inproc://mon");
        zmq_connect(sub, ep);
        sleep(1);
        memset(buf, 'x', sizeof(buf));
        for (uint64_t i = 1; i <= 400000; i++) {
                memcpy(buf, &i, 8);
                zmq_send(pub, buf, sizeof(buf), 0);
        }
        double t0 = now();
        while (now() - t0 < 70 && expect <= 400000) {
                char m[512];
                int n = zmq_recv(sub, m, sizeof(m), ZMQ_DONTWAIT);
                if (n >= 8) {
                        uint64_t s;
                        memcpy(&s, m, 8);
                        if (s != expect) {
                                gaps++;
                                printf("%.1f s: gap: expected %llu, got %llu\n", now() - t0,
                                       (unsigned long long)expect, (unsigned long long)s);
                        }
                        expect = s + 1;
                        got++;
                        usleep(400);   /* a slow reader, as a daemon catching up */
                } else {
                        usleep(1000);
                }
                zmq_msg_t ev;
                zmq_msg_init(&ev);
                if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) >= 0) {
                        uint16_t e;
                        memcpy(&e, zmq_msg_data(&ev), 2);
                        printf("%.1f s: %s after %llu messages\n", now() - t0,
                               e == ZMQ_EVENT_DISCONNECTED ? "DISCONNECTED" : "connected", (unsigned long long)got);
                        zmq_msg_close(&ev);
                        zmq_msg_init(&ev);
                        zmq_msg_recv(&ev, mon, 0);   /* the monitor's second frame */
                }
                zmq_msg_close(&ev);
        }
        printf("heartbeat %s: received %llu in %.0f s, %llu gaps\n", hb ? "on" : "off", (unsigned long long)got,
               now() - t0, (unsigned long long)gaps);
        _exit(0);   /* not zmq_ctx_term: the PUB still holds the unsent rest */
}
