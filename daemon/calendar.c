/*
 * calendar.c owns civil time: proleptic Gregorian dates as day numbers
 * (Howard Hinnant's days-from-civil algorithms), month arithmetic clamped to
 * the end of shorter months, local time in Europe/Stockholm (its offset
 * from the system's zoneinfo through zone.c; TZ and localtime are never
 * consulted), strict
 * RFC 3339 / date / month text forms, Swedish public holidays after lag
 * 1989:253 and the office-hours questions the scheduler asks ("when is the
 * first working moment at or after t"). Nothing here reads a clock, does I/O
 * or allocates, so every answer depends on the arguments alone.
 */
#include <stdio.h>
#include "calendar.h"
#include "zone.h"

#define CAL_MIN_YEAR 1900
#define CAL_MAX_YEAR 9999
#define DAY_S INT64_C(86400)
/* RFC 3339 allows any offset; real ones stay within ±18 h (as java.time and Go agree). */
#define MAX_OFFSET_S (18 * 3600)

/* C division truncates; dates before 1970 and instants before the epoch need floor. */
static int64_t floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;

        if ((a % b != 0) && ((a < 0) != (b < 0)))
                q--;
        return q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
        return a - floor_div(a, b) * b;
}

void cal_cfg_default(cal_cfg_t *cfg)
{
        *cfg = (cal_cfg_t) {
                .office_start_min = 8 * 60,
                .office_end_min = 16 * 60 + 30,
                .eves_closed = true,
                .n_closed = 0,
        };
}

/* ---- dates and months ---------------------------------------------------- */

/* Hinnant's days_from_civil; 64-bit inside so no intermediate can overflow. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
        int64_t era, yoe, doy, doe;

        /* Normalising the month lets callers step across year ends freely. */
        y += floor_div(m - 1, 12);
        m = floor_mod(m - 1, 12) + 1;
        /* The algorithm's year starts in March so that 29 Feb is the last day. */
        y -= m <= 2;
        era = floor_div(y, 400);
        yoe = y - era * 400;
        doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

/* Hinnant's civil_from_days. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
        int64_t era, doe, yoe, doy, mp, yy;

        z += 719468;
        era = floor_div(z, 146097);
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        yy = yoe + era * 400;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = (int)(yy + (*m <= 2));
}

static bool is_leap(int y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

cal_day_t cal_day_from_ymd(int y, int m, int d)
{
        return (cal_day_t)days_from_civil(y, m, d);
}

void cal_ymd(cal_day_t day, int *y, int *m, int *d)
{
        civil_from_days(day, y, m, d);
}

int cal_days_in_month(int y, int m)
{
        static const int len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

        if (m < 1 || m > 12)
                return 0;
        return len[m - 1] + (m == 2 && is_leap(y));
}

/* The year range is the one the text forms accept; it also keeps day numbers in int32. */
bool cal_valid_ymd(int y, int m, int d)
{
        if (y < CAL_MIN_YEAR || y > CAL_MAX_YEAR)
                return false;
        return d >= 1 && d <= cal_days_in_month(y, m);
}

int cal_weekday(cal_day_t day)
{
        /* Day 0, 1970-01-01, was a Thursday. */
        return (int)floor_mod((int64_t)day + 3, 7) + 1;
}

cal_day_t cal_add_months(cal_day_t day, int n)
{
        int y, m, d, dim;
        int64_t idx;

        cal_ymd(day, &y, &m, &d);
        idx = (int64_t)y * 12 + (m - 1) + n;
        y = (int)floor_div(idx, 12);
        m = (int)floor_mod(idx, 12) + 1;
        /* "+1 month" from the 31st means the last day of a shorter month, not a spill-over. */
        dim = cal_days_in_month(y, m);
        if (d > dim)
                d = dim;
        return cal_day_from_ymd(y, m, d);
}

cal_month_t cal_month_from_ym(int y, int m)
{
        return (cal_month_t)(y * 12 + (m - 1));
}

cal_month_t cal_month_of(cal_day_t day)
{
        int y, m, d;

        cal_ymd(day, &y, &m, &d);
        return cal_month_from_ym(y, m);
}

void cal_ym(cal_month_t month, int *y, int *m)
{
        *y = (int)floor_div(month, 12);
        *m = (int)floor_mod(month, 12) + 1;
}

/* ---- Europe/Stockholm ---------------------------------------------------- */

int cal_utc_offset_s(bk_time_t t)
{
        return zone_offset_s(t);
}

cal_day_t cal_local_day(bk_time_t t)
{
        return (cal_day_t)floor_div(t + cal_utc_offset_s(t), DAY_S);
}

int cal_local_minute(bk_time_t t)
{
        return (int)(floor_mod(t + cal_utc_offset_s(t), DAY_S) / 60);
}

bk_time_t cal_local_to_utc(cal_day_t day, int minute)
{
        bk_time_t wall = (bk_time_t)day * DAY_S + (bk_time_t)minute * 60;
        /* The offsets a day either side: no zone changes twice within two days. */
        int before = cal_utc_offset_s(wall - DAY_S), after = cal_utc_offset_s(wall + DAY_S);
        bk_time_t t1 = wall - before, t2 = wall - after, lo, hi;
        bool ok1 = cal_utc_offset_s(t1) == before, ok2 = cal_utc_offset_s(t2) == after;

        /* In an overlap both readings hold: the earlier instant, as the scheduler wants. */
        if (ok1 && ok2)
                return t1 < t2 ? t1 : t2;
        if (ok1 || ok2)
                return ok1 ? t1 : t2;
        /* Neither holds only in a gap: the first instant after it, found by bisection. */
        lo = t1 < t2 ? t1 : t2;
        hi = t1 < t2 ? t2 : t1;
        int off_lo = cal_utc_offset_s(lo);
        while (hi - lo > 1) {
                bk_time_t mid = lo + (hi - lo) / 2;
                if (cal_utc_offset_s(mid) == off_lo)
                        lo = mid;
                else
                        hi = mid;
        }
        return hi;
}

/* ---- text forms ------------------------------------------------------------ */

/* Exactly n ASCII digits; isdigit() would follow the locale. */
static const char *parse_digits(const char *p, int n, int *out)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return NULL;
                v = v * 10 + (p[i] - '0');
        }
        *out = v;
        return p + n;
}

static const char *parse_lit(const char *p, char c)
{
        return p && *p == c ? p + 1 : NULL;
}

/* "YYYY-MM" with a real month and a year in range; the day is the caller's business. */
static const char *parse_ym(const char *p, int *y, int *m)
{
        p = parse_digits(p, 4, y);
        p = parse_lit(p, '-');
        if (!p)
                return NULL;
        p = parse_digits(p, 2, m);
        if (!p || *y < CAL_MIN_YEAR || *y > CAL_MAX_YEAR || *m < 1 || *m > 12)
                return NULL;
        return p;
}

static const char *parse_ymd(const char *p, int *y, int *m, int *d)
{
        p = parse_ym(p, y, m);
        p = parse_lit(p, '-');
        if (!p)
                return NULL;
        p = parse_digits(p, 2, d);
        if (!p || !cal_valid_ymd(*y, *m, *d))
                return NULL;
        return p;
}

int cal_parse_rfc3339(const char *s, bk_time_t *out)
{
        int y, mo, d, h, mi, sec, oh, om, off = 0;
        const char *p;

        if (!s)
                return -EINVAL;
        p = parse_ymd(s, &y, &mo, &d);
        if (!p || (*p != 'T' && *p != 't'))
                return -EINVAL;
        p = parse_digits(p + 1, 2, &h);
        p = parse_lit(p, ':');
        if (p)
                p = parse_digits(p, 2, &mi);
        p = parse_lit(p, ':');
        if (p)
                p = parse_digits(p, 2, &sec);
        if (!p || h > 23 || mi > 59 || sec > 60)
                return -EINVAL;
        /* We keep no leap-second table; :60 becomes the second before the next minute. */
        if (sec == 60)
                sec = 59;
        if (*p == '.') {
                /* Reminders work in minutes; the fraction is checked, then dropped. */
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1;

                p = parse_digits(p + 1, 2, &oh);
                p = parse_lit(p, ':');
                if (p)
                        p = parse_digits(p, 2, &om);
                if (!p || om > 59)
                        return -EINVAL;
                off = sign * (oh * 3600 + om * 60);
                if (off > MAX_OFFSET_S || off < -MAX_OFFSET_S)
                        return -EINVAL;
        } else {
                return -EINVAL;
        }
        if (*p != '\0')
                return -EINVAL;
        *out = days_from_civil(y, mo, d) * DAY_S + h * 3600 + mi * 60 + sec - off;
        return 0;
}

int cal_parse_date(const char *s, cal_day_t *out)
{
        int y, m, d;
        const char *p = s ? parse_ymd(s, &y, &m, &d) : NULL;

        if (!p || *p != '\0')
                return -EINVAL;
        *out = cal_day_from_ymd(y, m, d);
        return 0;
}

int cal_parse_month(const char *s, cal_month_t *out)
{
        int y, m;
        const char *p = s ? parse_ym(s, &y, &m) : NULL;

        if (!p || *p != '\0')
                return -EINVAL;
        *out = cal_month_from_ym(y, m);
        return 0;
}

void cal_format_rfc3339(bk_time_t t, char *buf, size_t n)
{
        int off = cal_utc_offset_s(t);
        int64_t local = t + off;
        int64_t sod = floor_mod(local, DAY_S);
        int y, m, d;

        civil_from_days(floor_div(local, DAY_S), &y, &m, &d);
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d+%02d:00", y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), off / 3600);
}

void cal_format_date(cal_day_t day, char *buf, size_t n)
{
        int y, m, d;

        cal_ymd(day, &y, &m, &d);
        snprintf(buf, n, "%04d-%02d-%02d", y, m, d);
}

void cal_format_month(cal_month_t month, char *buf, size_t n)
{
        int y, m;

        cal_ym(month, &y, &m);
        snprintf(buf, n, "%04d-%02d", y, m);
}

/* ---- holidays and office hours ------------------------------------------- */

/* Anonymous Gregorian algorithm (Meeus/Jones/Butcher). */
cal_day_t cal_easter_sunday(int year)
{
        int a = year % 19;
        int b = year / 100, c = year % 100;
        int d = b / 4, e = b % 4;
        int f = (b + 8) / 25;
        int g = (b - f + 1) / 3;
        int h = (19 * a + b - d - g + 15) % 30;
        int i = c / 4, k = c % 4;
        int l = (32 + 2 * e + 2 * i - h - k) % 7;
        int m = (a + 11 * h + 22 * l) / 451;
        int month = (h + l - 7 * m + 114) / 31;
        int day = (h + l - 7 * m + 114) % 31 + 1;

        return cal_day_from_ymd(year, month, day);
}

/*
 * The law ties midsommardagen and alla helgons dag to "the Saturday within"
 * a seven-day window; midsommarafton is the Friday window one day earlier.
 */
static bool is_weekday_in(cal_day_t day, int wd, int y, int m, int d, int span)
{
        cal_day_t first = cal_day_from_ymd(y, m, d);

        return cal_weekday(day) == wd && day >= first && day < first + span;
}

static bool is_midsommarafton(cal_day_t day, int y)
{
        return is_weekday_in(day, 5, y, 6, 19, 7);
}

/* The list in force since 2005 (nationaldagen in, annandag pingst out); not applied historically. */
bool cal_is_public_holiday(cal_day_t day)
{
        int y, m, d;
        cal_day_t easter;

        cal_ymd(day, &y, &m, &d);
        if ((m == 1 && (d == 1 || d == 6)) || (m == 5 && d == 1) || (m == 6 && d == 6) ||
            (m == 12 && (d == 25 || d == 26)))
                return true;
        if (is_weekday_in(day, 6, y, 6, 20, 7) || is_weekday_in(day, 6, y, 10, 31, 7))
                return true;
        /* Every Easter-bound holiday falls between 20 March and 13 June. */
        if (m < 3 || m > 6)
                return false;
        easter = cal_easter_sunday(y);
        return day == easter - 2 || day == easter || day == easter + 1 ||
               day == easter + 39 || day == easter + 49;
}

bool cal_is_non_working(const cal_cfg_t *cfg, cal_day_t day)
{
        int y, m, d, n;

        if (cal_weekday(day) >= 6 || cal_is_public_holiday(day))
                return true;
        cal_ymd(day, &y, &m, &d);
        /* Midsommarafton is not in the law, but no office is open on it, whatever the config. */
        if (is_midsommarafton(day, y))
                return true;
        if (cfg->eves_closed && m == 12 && (d == 24 || d == 31))
                return true;
        /* A bad count must not read past the array. */
        n = BK_MIN(BK_MAX(cfg->n_closed, 0), CAL_MAX_CLOSED);
        for (int i = 0; i < n; i++)
                if (cfg->closed[i] == day)
                        return true;
        return false;
}

/*
 * Terminates: at most CAL_MAX_CLOSED configured days, and weekends plus
 * holidays never cover more than a handful of days in a row.
 */
static cal_day_t next_working_day(const cal_cfg_t *cfg, cal_day_t day)
{
        while (cal_is_non_working(cfg, day))
                day++;
        return day;
}

bk_time_t cal_next_working(const cal_cfg_t *cfg, bk_time_t t)
{
        cal_day_t day = cal_local_day(t);
        int minute = cal_local_minute(t);

        if (!cal_is_non_working(cfg, day)) {
                if (minute < cfg->office_start_min)
                        return cal_local_to_utc(day, cfg->office_start_min);
                if (minute < cfg->office_end_min)
                        return t;
        }
        return cal_local_to_utc(next_working_day(cfg, day + 1), cfg->office_start_min);
}

bk_time_t cal_next_working_day_start(const cal_cfg_t *cfg, bk_time_t t)
{
        return cal_local_to_utc(next_working_day(cfg, cal_local_day(t) + 1), cfg->office_start_min);
}

bk_time_t cal_deliver_at(const cal_cfg_t *cfg, cal_day_t due, bk_time_t learned)
{
        bk_time_t start = cal_local_to_utc(due, cfg->office_start_min);

        return cal_next_working(cfg, BK_MAX(start, learned));
}
