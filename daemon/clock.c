/*
 * clock.c owns the daemon's clock. time() is called here and nowhere else.
 */
#include <time.h>
#include "clock.h"

void clock_init(bk_clock_t *c, bool manual, bk_time_t start)
{
        c->manual = manual;
        c->manual_now = start ? start : (bk_time_t)time(NULL);
}

bk_time_t clock_now(const bk_clock_t *c)
{
        return c->manual ? c->manual_now : (bk_time_t)time(NULL);
}

bk_time_t clock_wall(void)
{
        return (bk_time_t)time(NULL);
}

int clock_set(bk_clock_t *c, bk_time_t t)
{
        if (!c->manual)
                return BK_E_FORBIDDEN;
        if (t < c->manual_now)
                return BK_E_CONFLICT;
        c->manual_now = t;
        return 0;
}

int64_t clock_mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
