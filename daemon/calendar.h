/*
 * calendar.h owns civil time for the rules and the scheduler: local dates as
 * day numbers, calendar-month arithmetic with end-of-month clamping,
 * Europe/Stockholm local time (the offset from the system's zoneinfo, read
 * once by zone.c; no TZ environment), RFC 3339 parsing and
 * formatting, Swedish public holidays (lag 1989:253) plus julafton and
 * nyårsafton, and office hours: "the first working moment at or after t".
 * Everything here is pure (no clock, no allocation) but for the zone file,
 * read once at the first use of local time.
 */
#pragma once

#include "util.h"

/* A local calendar date: days since 1970-01-01 (proleptic Gregorian). */
typedef int32_t cal_day_t;
/* A calendar month: year * 12 + (month - 1). */
typedef int32_t cal_month_t;

#define CAL_MAX_CLOSED 64

typedef struct cal_cfg {
        int office_start_min;       /* minutes after local midnight, default 8*60 */
        int office_end_min;         /* default 16*60+30; a working moment is in [start, end) */
        bool eves_closed;           /* julafton and nyårsafton are non-working, default true */
        int n_closed;               /* extra closed days from config */
        cal_day_t closed[CAL_MAX_CLOSED];
} cal_cfg_t;

void cal_cfg_default(cal_cfg_t *cfg);

/* ---- dates and months ---------------------------------------------------- */
cal_day_t cal_day_from_ymd(int y, int m, int d);
void cal_ymd(cal_day_t day, int *y, int *m, int *d);
bool cal_valid_ymd(int y, int m, int d);
int cal_days_in_month(int y, int m);
int cal_weekday(cal_day_t day);                   /* 1 = Monday … 7 = Sunday */
cal_day_t cal_add_months(cal_day_t day, int n);   /* clamps: 31 Jan + 1 = 28/29 Feb */
cal_month_t cal_month_of(cal_day_t day);
cal_month_t cal_month_from_ym(int y, int m);
void cal_ym(cal_month_t month, int *y, int *m);

/* ---- Europe/Stockholm ---------------------------------------------------- */
int cal_utc_offset_s(bk_time_t t);                /* at instant t: 3600 (CET) or 7200 (CEST) today */
cal_day_t cal_local_day(bk_time_t t);             /* local date of instant t */
int cal_local_minute(bk_time_t t);                /* local minutes after midnight */
/*
 * The instant of local wall time (day, minute). In the spring gap the wall
 * time does not exist: the result is the first instant after the gap. In the
 * autumn overlap the earlier (CEST) instant is returned.
 */
bk_time_t cal_local_to_utc(cal_day_t day, int minute);

/* ---- text forms ------------------------------------------------------------ */
/* RFC 3339 with offset or Z ("2026-03-02T08:00:00+01:00"); fractions ignored. */
int cal_parse_rfc3339(const char *s, bk_time_t *out);        /* 0 or -EINVAL */
int cal_parse_date(const char *s, cal_day_t *out);           /* "YYYY-MM-DD" */
int cal_parse_month(const char *s, cal_month_t *out);        /* "YYYY-MM" */
/* Formats with the Stockholm offset of that instant: 2026-03-02T08:00:00+01:00. buf >= 26. */
void cal_format_rfc3339(bk_time_t t, char *buf, size_t n);
void cal_format_date(cal_day_t day, char *buf, size_t n);    /* buf >= 11 */
void cal_format_month(cal_month_t m, char *buf, size_t n);   /* buf >= 8 */

/* ---- holidays and office hours ------------------------------------------- */
cal_day_t cal_easter_sunday(int year);
/* Public holiday (lag 1989:253) — not counting eves or configured days. */
bool cal_is_public_holiday(cal_day_t day);
/* Saturday, Sunday, public holiday, eve (when closed) or configured closed day. */
bool cal_is_non_working(const cal_cfg_t *cfg, cal_day_t day);
/* The first working moment at or after t. */
bk_time_t cal_next_working(const cal_cfg_t *cfg, bk_time_t t);
/* Office-hours start of the first working day strictly after t's local date. */
bk_time_t cal_next_working_day_start(const cal_cfg_t *cfg, bk_time_t t);
/* Delivery moment of a reminder due on `due` that the daemon learned of at `learned`:
 * the first working moment at or after max(office start of due, learned). */
bk_time_t cal_deliver_at(const cal_cfg_t *cfg, cal_day_t due, bk_time_t learned);
