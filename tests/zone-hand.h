/*
 * zone-hand.h is the Stockholm offset rule calendar.c computed by hand until
 * the zone came from tzdata (EU summer time: last Sunday of March to last
 * Sunday of October, 01:00 UTC), kept as it was for test-zone.c, which
 * compares the zone file with it, and bench-zone.c, which times both.
 */
#pragma once

#include "calendar.h"

static inline cal_day_t hand_last_sunday(int y, int m)
{
        cal_day_t last = cal_day_from_ymd(y, m, cal_days_in_month(y, m));
        return last - cal_weekday(last) % 7;
}

static inline int hand_offset(bk_time_t t)
{
        int y, m, d;
        cal_ymd((cal_day_t)(t / 86400), &y, &m, &d);
        bk_time_t start = (bk_time_t)hand_last_sunday(y, 3) * 86400 + 3600;
        bk_time_t end = (bk_time_t)hand_last_sunday(y, 10) * 86400 + 3600;
        return t >= start && t < end ? 7200 : 3600;
}
