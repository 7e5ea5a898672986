/*
 * bench-zone.c measures what reading the offset from the zone file costs
 * against the hand-written EU rule it replaced (copied here), in the same
 * run: local day and minute of one instant per minute over 2021-2030, the
 * calls the scheduler makes most. Prints ns per call for each and their
 * ratio; tests/bench/zone.sh runs it. Not a test.
 */
#include <stdio.h>
#include <time.h>
#include "calendar.h"
#include "zone.h"
#include "../zone-hand.h"

static double now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void)
{
        bk_time_t from = (bk_time_t)cal_day_from_ymd(2021, 1, 1) * 86400;
        bk_time_t to = (bk_time_t)cal_day_from_ymd(2031, 1, 1) * 86400;
        long n = (long)((to - from) / 60), sum_z = 0, sum_h = 0;
        double t0, t1, t2;

        if (zone_error())
                fprintf(stderr, "bench-zone: %s (measuring the stand-in rule)\n", zone_error());
        cal_utc_offset_s(from);         /* the file is read here, not in the timing */
        t0 = now_ns();
        for (bk_time_t t = from; t < to; t += 60)
                sum_z += cal_utc_offset_s(t);
        t1 = now_ns();
        for (bk_time_t t = from; t < to; t += 60)
                sum_h += hand_offset(t);
        t2 = now_ns();
        printf("offset lookups: %ld (2021-2030, one a minute)\n", n);
        printf("zone file:  %.1f ns/call\nhand rule:  %.1f ns/call\nratio zone/hand: %.2f\n", (t1 - t0) / n,
               (t2 - t1) / n, (t1 - t0) / (t2 - t1));
        return sum_z == sum_h ? 0 : 1;   /* and they agree over these years */
}
