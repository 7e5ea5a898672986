/*
 * test-clock.c owns the unit tests of clock.c: a manual clock stands still
 * until it is set and never moves backwards; a system clock follows the
 * wall clock and refuses to be set; the monotonic milliseconds only go
 * forward. Nothing sleeps: the one wait polls the monotonic clock with a
 * deadline.
 */
#include <time.h>
#include "clock.h"
#include "tap.h"

static int64_t mono_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_manual(void)
{
        bk_clock_t c;
        const bk_time_t start = 1767592800;      /* 2026-01-05T07:00:00+01:00 */

        clock_init(&c, true, start);
        CHECK(c.manual);
        CHECK_INT(clock_now(&c), start);
        CHECK_INT(clock_now(&c), start);         /* stands still */
        CHECK_INT(clock_set(&c, start + 3600), 0);
        CHECK_INT(clock_now(&c), start + 3600);
        CHECK_INT(clock_set(&c, start + 3600), 0);         /* the same moment is not backwards */
        CHECK_INT(clock_set(&c, start + 3599), BK_E_CONFLICT);
        CHECK_INT(clock_set(&c, 0), BK_E_CONFLICT);
        CHECK_INT(clock_set(&c, INT64_MIN), BK_E_CONFLICT);
        CHECK_INT(clock_now(&c), start + 3600);  /* a refused set changes nothing */
        CHECK_INT(clock_set(&c, start + 10LL * 365 * 86400), 0);   /* years ahead, at once */
        CHECK_INT(clock_now(&c), start + 10LL * 365 * 86400);

        /* no start: the wall clock at init, then standing still */
        bk_time_t before = (bk_time_t)time(NULL);
        clock_init(&c, true, 0);
        bk_time_t after = (bk_time_t)time(NULL);
        CHECK(c.manual);
        CHECK(clock_now(&c) >= before && clock_now(&c) <= after);
        CHECK_INT(clock_set(&c, before - 1), BK_E_CONFLICT);
}

static void test_system(void)
{
        bk_clock_t c;
        bk_time_t before, now, after, prev;

        clock_init(&c, false, 0);
        CHECK(!c.manual);
        before = (bk_time_t)time(NULL);
        now = clock_now(&c);
        after = (bk_time_t)time(NULL);
        CHECK(now >= before && now <= after);
        /* a start given to a system clock does not pin it */
        clock_init(&c, false, 1000);
        CHECK(clock_now(&c) >= before);
        /* it cannot be set */
        CHECK_INT(clock_set(&c, now + 3600), BK_E_FORBIDDEN);
        CHECK(clock_now(&c) < now + 3600);
        /* and it does not go backwards over many reads */
        prev = clock_now(&c);
        for (int i = 0; i < 10000; i++) {
                bk_time_t t = clock_now(&c);
                if (t < prev) {
                        CHECK(t >= prev);
                        break;
                }
                prev = t;
        }
        CHECK(prev >= now);
}

static void test_mono(void)
{
        int64_t a = clock_mono_ms(), b, ref = mono_now_ms(), deadline;
        bool moved = false;

        CHECK(a >= 0);
        CHECK(a <= ref);
        CHECK(ref - a < 1000);
        /* forward only; wait (polling, with a deadline) until it has moved at least 2 ms */
        deadline = ref + 2000;
        b = a;
        while (mono_now_ms() < deadline) {
                int64_t t = clock_mono_ms();
                if (t < b) {
                        CHECK(t >= b);
                        break;
                }
                b = t;
                if (b - a >= 2) {
                        moved = true;
                        break;
                }
        }
        CHECK(moved);
        CHECK(clock_mono_ms() >= b);
}

int main(void)
{
        test_manual();
        test_system();
        test_mono();
        return tap_done();
}
