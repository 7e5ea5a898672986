/*
 * test-calendar.c owns the unit tests of calendar.c: day numbers and month
 * clamping, the Europe/Stockholm offset around the 2024–2026 transitions,
 * strict text forms, the official Swedish public holidays 2024–2032 as
 * literal tables (Easter dates from the published calendar, not from the
 * code under test), and office hours including the domain's Easter example.
 * Expected instants are written as literal epoch seconds or as RFC 3339 text
 * whose parsing is itself checked against literals first.
 */
#include "calendar.h"
#include "tap.h"

/* Parses a known-good instant; a parse failure counts as a failed check. */
static bk_time_t at(const char *s)
{
        bk_time_t t = 0;

        CHECK_INT(cal_parse_rfc3339(s, &t), 0);
        return t;
}

static cal_day_t day_of(const char *s)
{
        cal_day_t d = 0;

        CHECK_INT(cal_parse_date(s, &d), 0);
        return d;
}

/* Rotating buffers so that two results can appear in one expression. */
static const char *fmt(bk_time_t t)
{
        static char bufs[4][40];
        static int i;
        char *b = bufs[i++ % 4];

        cal_format_rfc3339(t, b, 40);
        return b;
}

static const char *fmt_day(cal_day_t d)
{
        static char bufs[4][16];
        static int i;
        char *b = bufs[i++ % 4];

        cal_format_date(d, b, 16);
        return b;
}

static void test_days(void)
{
        int y, m, d;
        bool ok = true;

        CHECK_INT(cal_day_from_ymd(1970, 1, 1), 0);
        CHECK_INT(cal_day_from_ymd(1969, 12, 31), -1);
        CHECK_INT(cal_day_from_ymd(2000, 3, 1), 11017);
        CHECK_INT(cal_day_from_ymd(2025, 4, 20), 20198);
        CHECK_INT(cal_day_from_ymd(1900, 1, 1), -25567);
        CHECK_INT(cal_day_from_ymd(9999, 12, 31), 2932896);

        cal_ymd(-25567, &y, &m, &d);
        CHECK(y == 1900 && m == 1 && d == 1);
        cal_ymd(11016, &y, &m, &d);
        CHECK(y == 2000 && m == 2 && d == 29);

        /* Every day 1900–2100 round-trips and consecutive day numbers are consecutive dates. */
        for (cal_day_t day = cal_day_from_ymd(1900, 1, 1); day <= cal_day_from_ymd(2100, 12, 31); day++) {
                int y2, m2, d2;

                cal_ymd(day, &y, &m, &d);
                cal_ymd(day + 1, &y2, &m2, &d2);
                if (!cal_valid_ymd(y, m, d) || cal_day_from_ymd(y, m, d) != day)
                        ok = false;
                if (d2 != 1 ? (y2 != y || m2 != m || d2 != d + 1)
                            : (d != cal_days_in_month(y, m) || (m == 12 ? y2 != y + 1 || m2 != 1
                                                                        : y2 != y || m2 != m + 1)))
                        ok = false;
        }
        CHECK(ok);

        CHECK(cal_valid_ymd(2024, 2, 29));
        CHECK(cal_valid_ymd(2000, 2, 29));
        CHECK(!cal_valid_ymd(2025, 2, 29));
        CHECK(!cal_valid_ymd(2100, 2, 29));
        CHECK(!cal_valid_ymd(2025, 2, 30));
        CHECK(!cal_valid_ymd(2025, 4, 31));
        CHECK(cal_valid_ymd(2025, 12, 31));
        CHECK(!cal_valid_ymd(2025, 0, 1));
        CHECK(!cal_valid_ymd(2025, 13, 1));
        CHECK(!cal_valid_ymd(2025, 1, 0));
        CHECK(!cal_valid_ymd(1899, 12, 31));
        CHECK(cal_valid_ymd(1900, 1, 1));
        CHECK(cal_valid_ymd(9999, 12, 31));
        CHECK(!cal_valid_ymd(10000, 1, 1));

        CHECK_INT(cal_days_in_month(2025, 2), 28);
        CHECK_INT(cal_days_in_month(2024, 2), 29);
        CHECK_INT(cal_days_in_month(1900, 2), 28);
        CHECK_INT(cal_days_in_month(2000, 2), 29);
        CHECK_INT(cal_days_in_month(2025, 4), 30);
        CHECK_INT(cal_days_in_month(2025, 12), 31);
        CHECK_INT(cal_days_in_month(2025, 13), 0);

        CHECK_INT(cal_weekday(0), 4);                               /* Thursday */
        CHECK_INT(cal_weekday(-1), 3);                              /* Wednesday */
        CHECK_INT(cal_weekday(cal_day_from_ymd(1900, 1, 1)), 1);    /* Monday */
        CHECK_INT(cal_weekday(cal_day_from_ymd(2025, 4, 20)), 7);   /* Easter Sunday */
        CHECK_INT(cal_weekday(cal_day_from_ymd(2025, 4, 22)), 2);
        CHECK_INT(cal_weekday(cal_day_from_ymd(2025, 3, 14)), 5);
        CHECK_INT(cal_weekday(cal_day_from_ymd(2026, 3, 28)), 6);
}

static void test_months(void)
{
        cal_day_t d = day_of("2025-01-31");
        int y, m;

        CHECK_STR(fmt_day(cal_add_months(d, 1)), "2025-02-28");
        CHECK_STR(fmt_day(cal_add_months(d, 2)), "2025-03-31");
        CHECK_STR(fmt_day(cal_add_months(d, 3)), "2025-04-30");
        CHECK_STR(fmt_day(cal_add_months(d, 0)), "2025-01-31");
        CHECK_STR(fmt_day(cal_add_months(day_of("2024-01-31"), 1)), "2024-02-29");
        CHECK_STR(fmt_day(cal_add_months(day_of("2024-02-29"), 12)), "2025-02-28");
        CHECK_STR(fmt_day(cal_add_months(day_of("2024-02-29"), 48)), "2028-02-29");
        CHECK_STR(fmt_day(cal_add_months(day_of("2025-08-31"), 6)), "2026-02-28");
        CHECK_STR(fmt_day(cal_add_months(day_of("2025-12-31"), 2)), "2026-02-28");
        CHECK_STR(fmt_day(cal_add_months(day_of("2025-01-20"), 3)), "2025-04-20");
        CHECK_STR(fmt_day(cal_add_months(day_of("2025-01-20"), 4)), "2025-05-20");
        /* Negative n. */
        CHECK_STR(fmt_day(cal_add_months(day_of("2025-03-31"), -1)), "2025-02-28");
        CHECK_STR(fmt_day(cal_add_months(day_of("2024-03-31"), -1)), "2024-02-29");
        CHECK_STR(fmt_day(cal_add_months(day_of("2025-05-31"), -1)), "2025-04-30");
        CHECK_STR(fmt_day(cal_add_months(day_of("2025-01-15"), -1)), "2024-12-15");
        CHECK_STR(fmt_day(cal_add_months(day_of("2025-01-31"), -13)), "2023-12-31");
        CHECK_STR(fmt_day(cal_add_months(day_of("2028-02-29"), -48)), "2024-02-29");
        CHECK_STR(fmt_day(cal_add_months(day_of("2025-01-15"), -24)), "2023-01-15");

        CHECK_INT(cal_month_from_ym(2025, 1), 2025 * 12);
        CHECK_INT(cal_month_from_ym(2025, 12), 2025 * 12 + 11);
        CHECK_INT(cal_month_of(day_of("2025-04-30")), cal_month_from_ym(2025, 4));
        CHECK_INT(cal_month_of(day_of("2024-12-01")), cal_month_from_ym(2024, 12));
        cal_ym(cal_month_from_ym(2024, 12) + 1, &y, &m);
        CHECK(y == 2025 && m == 1);
        cal_ym(cal_month_from_ym(2025, 1) - 1, &y, &m);
        CHECK(y == 2024 && m == 12);
}

static void test_stockholm(void)
{
        /* Literal epoch seconds (date -u -d ... +%s) for the 2026 transitions. */
        const bk_time_t spring = 1774746000;    /* 2026-03-29T01:00:00Z */
        const bk_time_t autumn = 1792890000;    /* 2026-10-25T01:00:00Z */
        cal_day_t sd = day_of("2026-03-29"), ad = day_of("2026-10-25");

        CHECK_INT(at("2026-03-29T01:00:00Z"), spring);
        CHECK_INT(at("2026-10-25T01:00:00Z"), autumn);
        CHECK_INT(at("1970-01-01T00:00:00Z"), 0);

        CHECK_INT(cal_utc_offset_s(spring - 1), 3600);
        CHECK_INT(cal_utc_offset_s(spring), 7200);
        CHECK_INT(cal_utc_offset_s(autumn - 1), 7200);
        CHECK_INT(cal_utc_offset_s(autumn), 3600);
        CHECK_INT(cal_utc_offset_s(1743296400 - 1), 3600);     /* 2025-03-30T01:00Z */
        CHECK_INT(cal_utc_offset_s(1743296400), 7200);
        CHECK_INT(cal_utc_offset_s(1761440400 - 1), 7200);     /* 2025-10-26T01:00Z */
        CHECK_INT(cal_utc_offset_s(1761440400), 3600);
        CHECK_INT(cal_utc_offset_s(1711846800 - 1), 3600);     /* 2024-03-31T01:00Z */
        CHECK_INT(cal_utc_offset_s(1711846800), 7200);
        CHECK_INT(cal_utc_offset_s(1729990800 - 1), 7200);     /* 2024-10-27T01:00Z */
        CHECK_INT(cal_utc_offset_s(1729990800), 3600);
        CHECK_INT(cal_utc_offset_s(at("2026-01-15T12:00:00Z")), 3600);
        CHECK_INT(cal_utc_offset_s(at("2026-07-15T12:00:00Z")), 7200);

        /* Local wall clock around the jumps. */
        CHECK_INT(cal_local_minute(spring - 1), 1 * 60 + 59);
        CHECK_INT(cal_local_minute(spring), 3 * 60);
        CHECK_INT(cal_local_minute(autumn - 1), 2 * 60 + 59);
        CHECK_INT(cal_local_minute(autumn), 2 * 60);

        /* Spring gap: 02:00–02:59 do not exist; they map to the first instant after it. */
        CHECK_INT(cal_local_to_utc(sd, 1 * 60 + 59), spring - 60);
        CHECK_INT(cal_local_to_utc(sd, 2 * 60), spring);
        CHECK_INT(cal_local_to_utc(sd, 2 * 60 + 30), spring);
        CHECK_INT(cal_local_to_utc(sd, 3 * 60), spring);
        CHECK_INT(cal_local_to_utc(sd, 0), at("2026-03-28T23:00:00Z"));
        CHECK_INT(cal_local_to_utc(sd, 8 * 60), at("2026-03-29T06:00:00Z"));
        /* Autumn overlap: 02:00–02:59 happen twice; the earlier (CEST) one wins. */
        CHECK_INT(cal_local_to_utc(ad, 1 * 60 + 59), at("2026-10-24T23:59:00Z"));
        CHECK_INT(cal_local_to_utc(ad, 2 * 60), at("2026-10-25T00:00:00Z"));
        CHECK_INT(cal_local_to_utc(ad, 2 * 60 + 30), autumn - 1800);
        CHECK_INT(cal_local_to_utc(ad, 3 * 60), autumn + 3600);
        CHECK_INT(cal_local_to_utc(ad, 8 * 60), at("2026-10-25T07:00:00Z"));
        CHECK_INT(cal_local_to_utc(day_of("2026-01-15"), 8 * 60), at("2026-01-15T07:00:00Z"));
        CHECK_INT(cal_local_to_utc(day_of("2026-07-15"), 8 * 60), at("2026-07-15T06:00:00Z"));

        /* Local day at 23:30Z is already tomorrow in Stockholm. */
        CHECK_STR(fmt_day(cal_local_day(at("2026-01-15T23:30:00Z"))), "2026-01-16");
        CHECK_INT(cal_local_minute(at("2026-01-15T23:30:00Z")), 30);
        CHECK_STR(fmt_day(cal_local_day(at("2026-01-15T22:59:00Z"))), "2026-01-15");
        CHECK_INT(cal_local_minute(at("2026-01-15T22:59:00Z")), 23 * 60 + 59);
        CHECK_STR(fmt_day(cal_local_day(at("2026-07-15T22:30:00Z"))), "2026-07-16");
        CHECK_STR(fmt_day(cal_local_day(at("2026-07-15T21:59:00Z"))), "2026-07-15");
        CHECK_INT(cal_local_minute(at("2026-07-15T21:59:00Z")), 23 * 60 + 59);
        CHECK_STR(fmt_day(cal_local_day(at("2026-10-24T22:30:00Z"))), "2026-10-25");
        CHECK_STR(fmt_day(cal_local_day(at("2026-10-25T22:30:00Z"))), "2026-10-25");
        CHECK_STR(fmt_day(cal_local_day(at("2026-10-25T23:30:00Z"))), "2026-10-26");
        /* Before the epoch, floor division matters. */
        CHECK_INT(cal_local_day(-1800), 0);
        CHECK_INT(cal_local_minute(-1800), 30);
        CHECK_INT(cal_local_day(-3601), -1);
        CHECK_INT(cal_local_minute(-3601), 23 * 60 + 59);
}

static void test_rfc3339(void)
{
        bk_time_t t = 42;
        bool ok = true;

        CHECK_INT(at("2026-03-02T08:00:00+01:00"), 1772434800);
        CHECK_INT(at("2026-03-02T07:00:00Z"), 1772434800);
        CHECK_INT(at("2026-03-02t07:00:00z"), 1772434800);
        CHECK_INT(at("2026-03-02T07:00:00.123456Z"), 1772434800);
        CHECK_INT(at("2026-03-02T07:00:00.9+00:00"), 1772434800);
        CHECK_INT(at("2026-03-02T07:00:00-00:00"), 1772434800);
        CHECK_INT(at("2026-03-02T01:30:00-05:30"), 1772434800);
        CHECK_INT(at("2026-03-03T01:00:00+18:00"), 1772434800);
        CHECK_INT(at("2026-03-01T13:00:00-18:00"), 1772434800);
        CHECK_INT(at("2025-04-22T08:00:00+02:00"), 1745301600);
        CHECK_INT(at("1969-12-31T23:30:00Z"), -1800);
        /* A leap second is read as the second before it. */
        CHECK_INT(at("2016-12-31T23:59:60Z"), at("2016-12-31T23:59:59Z"));
        CHECK_INT(at("1900-01-01T00:00:00Z"), INT64_C(-25567) * 86400);

        static const char *const bad[] = {
                "",
                "2025-02-30T08:00:00Z",         /* no such date */
                "2025-02-29T08:00:00Z",
                "2025-13-01T08:00:00Z",
                "2025-00-01T08:00:00Z",
                "2025-01-00T08:00:00Z",
                "2025-01-01T24:00:00Z",
                "2025-01-01T23:60:00Z",
                "2025-01-01T23:59:61Z",
                "2025-01-01T08:00:00Zjunk",
                "2025-01-01T08:00:00Z ",
                "2025-01-01T08:00:00+01:00x",
                "2025-01-01T08:00:00",          /* no offset */
                "2025-01-01 08:00:00Z",         /* space instead of T */
                "2025-01-01T08:00Z",
                "2025-1-01T08:00:00Z",
                "25-01-01T08:00:00Z",
                "2025-01-01T8:00:00Z",
                "2025-01-01T08:00:00.Z",        /* empty fraction */
                "2025-01-01T08:00:00+0100",
                "2025-01-01T08:00:00+01",
                "2025-01-01T08:00:00+1:00",
                "2025-01-01T08:00:00+01:60",
                "2025-01-01T08:00:00+18:01",
                "2025-01-01T08:00:00-19:00",
                "2025-01-01T08:00:00+99:00",
                "1899-12-31T23:59:59Z",
                "+2025-01-01T08:00:00Z",
                "2025-01-01T-8:00:00Z",
                "2025-01-01T08:00:00\xef\xbc\xba",
        };
        for (size_t i = 0; i < BK_ARRAY_SIZE(bad); i++) {
                if (cal_parse_rfc3339(bad[i], &t) != -EINVAL) {
                        fprintf(stderr, "accepted bad timestamp \"%s\"\n", bad[i]);
                        ok = false;
                }
        }
        CHECK(ok);
        CHECK_INT(cal_parse_rfc3339(NULL, &t), -EINVAL);
        CHECK_INT(t, 42);       /* untouched on failure */

        /* Formatting uses Stockholm time and its offset. */
        CHECK_STR(fmt(1772434800), "2026-03-02T08:00:00+01:00");
        CHECK_STR(fmt(at("2026-07-01T06:00:00Z")), "2026-07-01T08:00:00+02:00");
        CHECK_STR(fmt(0), "1970-01-01T01:00:00+01:00");
        CHECK_STR(fmt(-1800), "1970-01-01T00:30:00+01:00");
        CHECK_STR(fmt(1774746000 - 1), "2026-03-29T01:59:59+01:00");
        CHECK_STR(fmt(1774746000), "2026-03-29T03:00:00+02:00");
        CHECK_STR(fmt(1792890000 - 1800), "2026-10-25T02:30:00+02:00");
        CHECK_STR(fmt(1792890000 + 1800), "2026-10-25T02:30:00+01:00");
        CHECK_STR(fmt(at("2026-12-31T23:00:00Z")), "2027-01-01T00:00:00+01:00");
        /* The two 02:30s of the autumn night parse back to different instants. */
        CHECK_INT(at("2026-10-25T02:30:00+02:00"), 1792890000 - 1800);
        CHECK_INT(at("2026-10-25T02:30:00+01:00"), 1792890000 + 1800);
        /* Text round trips. */
        CHECK_STR(fmt(at("2025-04-22T08:00:00+02:00")), "2025-04-22T08:00:00+02:00");
        CHECK_STR(fmt(at("2025-12-24T16:29:59+01:00")), "2025-12-24T16:29:59+01:00");

        /* Instant round trips across two years of both offsets, at an odd stride. */
        ok = true;
        const bk_time_t from = at("2025-01-01T00:00:00Z"), to = at("2027-01-01T00:00:00Z");
        for (bk_time_t u = from; u < to; u += 7919) {
                bk_time_t back = 0;

                if (cal_parse_rfc3339(fmt(u), &back) != 0 || back != u)
                        ok = false;
        }
        CHECK(ok);

        char small[8];
        cal_format_rfc3339(0, small, sizeof(small));
        CHECK_STR(small, "1970-01");
}

static void test_date_month(void)
{
        cal_day_t d = 7;
        cal_month_t m = 7;
        char buf[16];

        CHECK_INT(cal_parse_date("2025-04-20", &d), 0);
        CHECK_INT(d, 20198);
        CHECK_INT(cal_parse_date("2024-02-29", &d), 0);
        CHECK_STR(fmt_day(d), "2024-02-29");
        CHECK_INT(cal_parse_date("1900-01-01", &d), 0);
        CHECK_INT(cal_parse_date("9999-12-31", &d), 0);
        CHECK_INT(d, 2932896);

        d = 7;
        CHECK_INT(cal_parse_date("2025-02-29", &d), -EINVAL);
        CHECK_INT(cal_parse_date("2025-02-30", &d), -EINVAL);
        CHECK_INT(cal_parse_date("2025-13-01", &d), -EINVAL);
        CHECK_INT(cal_parse_date("2025-00-10", &d), -EINVAL);
        CHECK_INT(cal_parse_date("2025-04-00", &d), -EINVAL);
        CHECK_INT(cal_parse_date("2025-4-20", &d), -EINVAL);
        CHECK_INT(cal_parse_date("2025-04-20x", &d), -EINVAL);
        CHECK_INT(cal_parse_date("2025-04-20T00:00:00Z", &d), -EINVAL);
        CHECK_INT(cal_parse_date("2025/04/20", &d), -EINVAL);
        CHECK_INT(cal_parse_date("1899-12-31", &d), -EINVAL);
        CHECK_INT(cal_parse_date(" 2025-04-20", &d), -EINVAL);
        CHECK_INT(cal_parse_date("", &d), -EINVAL);
        CHECK_INT(cal_parse_date(NULL, &d), -EINVAL);
        CHECK_INT(d, 7);

        CHECK_INT(cal_parse_month("2025-04", &m), 0);
        CHECK_INT(m, cal_month_from_ym(2025, 4));
        CHECK_INT(cal_parse_month("2025-12", &m), 0);
        CHECK_INT(m, cal_month_from_ym(2025, 12));
        CHECK_INT(cal_parse_month("2025-01", &m), 0);
        m = 7;
        CHECK_INT(cal_parse_month("2025-00", &m), -EINVAL);
        CHECK_INT(cal_parse_month("2025-13", &m), -EINVAL);
        CHECK_INT(cal_parse_month("2025-4", &m), -EINVAL);
        CHECK_INT(cal_parse_month("2025-04-01", &m), -EINVAL);
        CHECK_INT(cal_parse_month("1899-12", &m), -EINVAL);
        CHECK_INT(cal_parse_month("2025", &m), -EINVAL);
        CHECK_INT(cal_parse_month("", &m), -EINVAL);
        CHECK_INT(cal_parse_month(NULL, &m), -EINVAL);
        CHECK_INT(m, 7);

        cal_format_date(20198, buf, sizeof(buf));
        CHECK_STR(buf, "2025-04-20");
        cal_format_date(-1, buf, sizeof(buf));
        CHECK_STR(buf, "1969-12-31");
        cal_format_month(cal_month_from_ym(2025, 4), buf, sizeof(buf));
        CHECK_STR(buf, "2025-04");
        cal_format_month(cal_month_from_ym(1999, 12), buf, sizeof(buf));
        CHECK_STR(buf, "1999-12");
        CHECK_INT(cal_parse_month("1999-12", &m), 0);
        cal_format_month(m, buf, sizeof(buf));
        CHECK_STR(buf, "1999-12");
}

/*
 * Swedish public holidays 2024–2032 in the order of lag 1989:253:
 * nyårsdagen, trettondedag jul, långfredagen, påskdagen, annandag påsk,
 * första maj, Kristi himmelsfärdsdag, pingstdagen, nationaldagen,
 * midsommardagen, alla helgons dag, juldagen, annandag jul.
 */
static const char *const holidays[][13] = {
        { "2024-01-01", "2024-01-06", "2024-03-29", "2024-03-31", "2024-04-01", "2024-05-01", "2024-05-09",
          "2024-05-19", "2024-06-06", "2024-06-22", "2024-11-02", "2024-12-25", "2024-12-26" },
        { "2025-01-01", "2025-01-06", "2025-04-18", "2025-04-20", "2025-04-21", "2025-05-01", "2025-05-29",
          "2025-06-08", "2025-06-06", "2025-06-21", "2025-11-01", "2025-12-25", "2025-12-26" },
        { "2026-01-01", "2026-01-06", "2026-04-03", "2026-04-05", "2026-04-06", "2026-05-01", "2026-05-14",
          "2026-05-24", "2026-06-06", "2026-06-20", "2026-10-31", "2026-12-25", "2026-12-26" },
        { "2027-01-01", "2027-01-06", "2027-03-26", "2027-03-28", "2027-03-29", "2027-05-01", "2027-05-06",
          "2027-05-16", "2027-06-06", "2027-06-26", "2027-11-06", "2027-12-25", "2027-12-26" },
        { "2028-01-01", "2028-01-06", "2028-04-14", "2028-04-16", "2028-04-17", "2028-05-01", "2028-05-25",
          "2028-06-04", "2028-06-06", "2028-06-24", "2028-11-04", "2028-12-25", "2028-12-26" },
        { "2029-01-01", "2029-01-06", "2029-03-30", "2029-04-01", "2029-04-02", "2029-05-01", "2029-05-10",
          "2029-05-20", "2029-06-06", "2029-06-23", "2029-11-03", "2029-12-25", "2029-12-26" },
        { "2030-01-01", "2030-01-06", "2030-04-19", "2030-04-21", "2030-04-22", "2030-05-01", "2030-05-30",
          "2030-06-09", "2030-06-06", "2030-06-22", "2030-11-02", "2030-12-25", "2030-12-26" },
        { "2031-01-01", "2031-01-06", "2031-04-11", "2031-04-13", "2031-04-14", "2031-05-01", "2031-05-22",
          "2031-06-01", "2031-06-06", "2031-06-21", "2031-11-01", "2031-12-25", "2031-12-26" },
        { "2032-01-01", "2032-01-06", "2032-03-26", "2032-03-28", "2032-03-29", "2032-05-01", "2032-05-06",
          "2032-05-16", "2032-06-06", "2032-06-26", "2032-11-06", "2032-12-25", "2032-12-26" },
};

static void test_holidays(void)
{
        static const char *const easter[] = {
                "2024-03-31", "2025-04-20", "2026-04-05", "2027-03-28", "2028-04-16",
                "2029-04-01", "2030-04-21", "2031-04-13", "2032-03-28",
        };

        for (size_t i = 0; i < BK_ARRAY_SIZE(easter); i++)
                CHECK_STR(fmt_day(cal_easter_sunday(2024 + (int)i)), easter[i]);
        /* The extremes of the Gregorian computus. */
        CHECK_STR(fmt_day(cal_easter_sunday(2285)), "2285-03-22");
        CHECK_STR(fmt_day(cal_easter_sunday(2038)), "2038-04-25");
        CHECK_STR(fmt_day(cal_easter_sunday(2000)), "2000-04-23");

        for (size_t i = 0; i < BK_ARRAY_SIZE(holidays); i++) {
                int year = 2024 + (int)i;
                int count = 0, listed = 0;

                for (size_t k = 0; k < 13; k++) {
                        cal_day_t d = day_of(holidays[i][k]);

                        if (!cal_is_public_holiday(d))
                                fprintf(stderr, "not a holiday: %s\n", holidays[i][k]);
                        else
                                listed++;
                }
                CHECK_INT(listed, 13);
                /* midsommardagen and alla helgons dag are Saturdays, långfredagen a Friday. */
                CHECK_INT(cal_weekday(day_of(holidays[i][9])), 6);
                CHECK_INT(cal_weekday(day_of(holidays[i][10])), 6);
                CHECK_INT(cal_weekday(day_of(holidays[i][2])), 5);
                for (cal_day_t d = cal_day_from_ymd(year, 1, 1); d < cal_day_from_ymd(year + 1, 1, 1); d++)
                        if (cal_is_public_holiday(d))
                                count++;
                CHECK_INT(count, 13);
        }

        /* Eves are not public holidays: they are office closures. */
        CHECK(!cal_is_public_holiday(day_of("2025-12-24")));
        CHECK(!cal_is_public_holiday(day_of("2025-12-31")));
        CHECK(!cal_is_public_holiday(day_of("2025-06-20")));   /* midsommarafton */
        CHECK(!cal_is_public_holiday(day_of("2025-04-17")));   /* skärtorsdagen */
        CHECK(!cal_is_public_holiday(day_of("2025-06-09")));   /* annandag pingst, abolished 2005 */
        CHECK(!cal_is_public_holiday(day_of("2025-06-28")));   /* the Saturday after midsommar */
}

static void test_non_working(void)
{
        cal_cfg_t cfg, open_eves;

        cal_cfg_default(&cfg);
        CHECK_INT(cfg.office_start_min, 8 * 60);
        CHECK_INT(cfg.office_end_min, 16 * 60 + 30);
        CHECK(cfg.eves_closed);
        CHECK_INT(cfg.n_closed, 0);
        open_eves = cfg;
        open_eves.eves_closed = false;

        CHECK(!cal_is_non_working(&cfg, day_of("2025-03-12")));  /* Wednesday */
        CHECK(cal_is_non_working(&cfg, day_of("2025-03-15")));   /* Saturday */
        CHECK(cal_is_non_working(&cfg, day_of("2025-03-16")));   /* Sunday */
        CHECK(cal_is_non_working(&cfg, day_of("2025-04-18")));   /* långfredagen */
        CHECK(cal_is_non_working(&cfg, day_of("2025-04-21")));   /* annandag påsk */
        CHECK(!cal_is_non_working(&cfg, day_of("2025-04-17")));  /* skärtorsdagen is a working day */
        CHECK(cal_is_non_working(&cfg, day_of("2025-06-06")));   /* nationaldagen, a Friday */
        /* Midsommarafton is closed whatever the config says about eves. */
        CHECK(cal_is_non_working(&cfg, day_of("2025-06-20")));
        CHECK(cal_is_non_working(&open_eves, day_of("2025-06-20")));
        CHECK(cal_is_non_working(&open_eves, day_of("2026-06-19")));
        CHECK(!cal_is_non_working(&cfg, day_of("2026-06-18")));
        CHECK(!cal_is_non_working(&cfg, day_of("2025-06-27")));  /* a Friday after midsommar */
        /* Julafton and nyårsafton (Wednesdays in 2025) follow eves_closed. */
        CHECK(cal_is_non_working(&cfg, day_of("2025-12-24")));
        CHECK(cal_is_non_working(&cfg, day_of("2025-12-31")));
        CHECK(!cal_is_non_working(&open_eves, day_of("2025-12-24")));
        CHECK(!cal_is_non_working(&open_eves, day_of("2025-12-31")));
        CHECK(!cal_is_non_working(&cfg, day_of("2025-12-23")));

        cfg.closed[cfg.n_closed++] = day_of("2025-03-12");
        CHECK(cal_is_non_working(&cfg, day_of("2025-03-12")));
        CHECK(!cal_is_non_working(&cfg, day_of("2025-03-13")));
        /* A corrupt count is clamped rather than read past the array. */
        cfg.n_closed = CAL_MAX_CLOSED + 100;
        CHECK(cal_is_non_working(&cfg, day_of("2025-03-12")));
}

static void test_next_working(void)
{
        cal_cfg_t cfg, open_eves, closed, short_day;

        cal_cfg_default(&cfg);
        open_eves = cfg;
        open_eves.eves_closed = false;
        closed = cfg;
        closed.closed[closed.n_closed++] = day_of("2025-03-17");
        short_day = cfg;
        short_day.office_start_min = 9 * 60;
        short_day.office_end_min = 15 * 60;

        /* End of office hours is exclusive: Friday 16:30 means Monday 08:00. */
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-03-14T16:30:00+01:00"))), "2025-03-17T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-03-14T16:29:59+01:00"))), "2025-03-14T16:29:59+01:00");
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-03-14T23:59:59+01:00"))), "2025-03-17T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-03-15T12:00:00+01:00"))), "2025-03-17T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-03-17T07:59:00+01:00"))), "2025-03-17T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-03-17T00:00:00+01:00"))), "2025-03-17T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-03-17T08:00:00+01:00"))), "2025-03-17T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-03-17T11:17:42+01:00"))), "2025-03-17T11:17:42+01:00");
        /* The day is Stockholm's: 23:30Z Sunday is already Monday 00:30. */
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-03-16T23:30:00Z"))), "2025-03-17T08:00:00+01:00");
        /* Midsommar: Thursday evening → Monday (afton, dagen, Sunday). */
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-06-19T17:00:00+02:00"))), "2025-06-23T08:00:00+02:00");
        CHECK_STR(fmt(cal_next_working(&open_eves, at("2025-06-19T17:00:00+02:00"))), "2025-06-23T08:00:00+02:00");
        /* Christmas 2025: 24 (eve), 25–26 (holidays), 27–28 (weekend). */
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-12-23T17:00:00+01:00"))), "2025-12-29T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&open_eves, at("2025-12-23T17:00:00+01:00"))), "2025-12-24T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&open_eves, at("2025-12-24T10:00:00+01:00"))), "2025-12-24T10:00:00+01:00");
        /* New Year: 31 (eve), 1 Jan (holiday). */
        CHECK_STR(fmt(cal_next_working(&cfg, at("2025-12-30T17:00:00+01:00"))), "2026-01-02T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&open_eves, at("2025-12-30T17:00:00+01:00"))), "2025-12-31T08:00:00+01:00");
        /* A configured closed Monday. */
        CHECK_STR(fmt(cal_next_working(&closed, at("2025-03-14T16:30:00+01:00"))), "2025-03-18T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&closed, at("2025-03-17T10:00:00+01:00"))), "2025-03-18T08:00:00+01:00");
        /* Other office hours. */
        CHECK_STR(fmt(cal_next_working(&short_day, at("2025-03-17T08:30:00+01:00"))), "2025-03-17T09:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&short_day, at("2025-03-17T15:00:00+01:00"))), "2025-03-18T09:00:00+01:00");
        CHECK_STR(fmt(cal_next_working(&short_day, at("2025-03-17T14:59:00+01:00"))), "2025-03-17T14:59:00+01:00");
        /* Across both DST weekends the office opens at 08:00 local time. */
        CHECK_INT(cal_next_working(&cfg, at("2026-03-28T12:00:00+01:00")), at("2026-03-30T06:00:00Z"));
        CHECK_STR(fmt(cal_next_working(&cfg, at("2026-03-27T17:00:00+01:00"))), "2026-03-30T08:00:00+02:00");
        CHECK_INT(cal_next_working(&cfg, at("2026-10-23T17:00:00+02:00")), at("2026-10-26T07:00:00Z"));
        CHECK_STR(fmt(cal_next_working(&cfg, at("2026-10-23T17:00:00+02:00"))), "2026-10-26T08:00:00+01:00");

        /* Next working day's start is strictly after t's local date. */
        CHECK_STR(fmt(cal_next_working_day_start(&cfg, at("2025-03-13T07:00:00+01:00"))), "2025-03-14T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working_day_start(&cfg, at("2025-03-13T10:00:00+01:00"))), "2025-03-14T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working_day_start(&cfg, at("2025-03-14T10:00:00+01:00"))), "2025-03-17T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working_day_start(&cfg, at("2025-03-15T10:00:00+01:00"))), "2025-03-17T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working_day_start(&cfg, at("2025-04-17T12:00:00+02:00"))), "2025-04-22T08:00:00+02:00");
        CHECK_STR(fmt(cal_next_working_day_start(&closed, at("2025-03-14T10:00:00+01:00"))), "2025-03-18T08:00:00+01:00");
        CHECK_STR(fmt(cal_next_working_day_start(&cfg, at("2026-03-27T09:00:00+01:00"))), "2026-03-30T08:00:00+02:00");
        /* 22:30Z on Thursday is Friday in Stockholm, so the next day is Monday. */
        CHECK_STR(fmt(cal_next_working_day_start(&cfg, at("2025-03-13T23:30:00Z"))), "2025-03-17T08:00:00+01:00");
}

static void test_deliver_at(void)
{
        cal_cfg_t cfg;
        cal_day_t due;

        cal_cfg_default(&cfg);

        /* Domain example: plan 2025-01-20 + 3 months is Easter Sunday → Tuesday 08:00. */
        due = cal_add_months(day_of("2025-01-20"), 3);
        CHECK_STR(fmt_day(due), "2025-04-20");
        CHECK_INT(cal_deliver_at(&cfg, due, at("2025-01-20T09:00:00+01:00")), 1745301600);
        CHECK_STR(fmt(cal_deliver_at(&cfg, due, at("2025-01-20T09:00:00+01:00"))), "2025-04-22T08:00:00+02:00");
        /* Learned during the Easter weekend: still Tuesday. */
        CHECK_STR(fmt(cal_deliver_at(&cfg, due, at("2025-04-21T12:00:00+02:00"))), "2025-04-22T08:00:00+02:00");
        /* An event replayed years later is delivered at the next working moment. */
        CHECK_STR(fmt(cal_deliver_at(&cfg, due, at("2028-05-10T10:15:00+02:00"))), "2028-05-10T10:15:00+02:00");
        CHECK_STR(fmt(cal_deliver_at(&cfg, due, at("2028-05-10T18:15:00+02:00"))), "2028-05-11T08:00:00+02:00");

        due = day_of("2025-03-12");     /* a Wednesday */
        CHECK_STR(fmt(cal_deliver_at(&cfg, due, at("2025-03-11T12:00:00+01:00"))), "2025-03-12T08:00:00+01:00");
        CHECK_STR(fmt(cal_deliver_at(&cfg, due, at("2025-03-12T10:00:00+01:00"))), "2025-03-12T10:00:00+01:00");
        CHECK_STR(fmt(cal_deliver_at(&cfg, due, at("2025-03-12T16:30:00+01:00"))), "2025-03-13T08:00:00+01:00");
        /* Due on julafton with the eves open. */
        cfg.eves_closed = false;
        CHECK_STR(fmt(cal_deliver_at(&cfg, day_of("2025-12-24"), 0)), "2025-12-24T08:00:00+01:00");
        cfg.eves_closed = true;
        CHECK_STR(fmt(cal_deliver_at(&cfg, day_of("2025-12-24"), 0)), "2025-12-29T08:00:00+01:00");
}

int main(void)
{
        test_days();
        test_months();
        test_stockholm();
        test_rfc3339();
        test_date_month();
        test_holidays();
        test_non_working();
        test_next_working();
        test_deliver_at();
        return tap_done();
}
