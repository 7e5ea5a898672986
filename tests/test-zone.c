/*
 * test-zone.c owns the tests of zone.c, the Stockholm offset from the
 * system's zoneinfo:
 *  - against the hand-written EU rule calendar.c used before (copied here,
 *    as it was), hour by hour over 1980–2037: from 1996 on they agree
 *    everywhere; before, they differ exactly where Swedish law differed
 *    from that rule (summer time began on 6 April in 1980 and ended on the
 *    last Sunday of September until 1995), and nowhere else;
 *  - a changed zone (compiled with zic into a temporary TZDIR: no summer
 *    time from 2027) is seen by a process started with that TZDIR: local
 *    days, RFC 3339 text and wall-time conversion follow it;
 *  - a TZDIR without the zone is reported (zone_error names the path) and
 *    makes bevakad refuse to start, naming the file.
 * The two TZDIR cases run in child processes, since the zone is read once.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "calendar.h"
#include "zone.h"
#include "zone-hand.h"
#include "tap.h"

#define H 3600

/* ---- the hand rule (zone-hand.h) against the zone file ---- */

/* Where Swedish summer time differed from that rule (SFS 1979:1000 … 1995). */
static bool known_difference(bk_time_t t)
{
        int y, m, d;
        cal_ymd((cal_day_t)(t / 86400), &y, &m, &d);
        if (y == 1980 && t >= (bk_time_t)hand_last_sunday(1980, 3) * 86400 + H &&
            t < (bk_time_t)cal_day_from_ymd(1980, 4, 6) * 86400 + H)
                return true;
        return y <= 1995 && t >= (bk_time_t)hand_last_sunday(y, 9) * 86400 + H &&
               t < (bk_time_t)hand_last_sunday(y, 10) * 86400 + H;
}

static void check_against_hand_rule(void)
{
        bk_time_t from = (bk_time_t)cal_day_from_ymd(1980, 1, 1) * 86400;
        bk_time_t to = (bk_time_t)cal_day_from_ymd(2038, 1, 1) * 86400;
        long agree = 0, expected = 0, unexpected = 0, after1996 = 0;

        CHECK(zone_error() == NULL);
        for (bk_time_t t = from; t < to; t += 900) {
                int z = cal_utc_offset_s(t), h = hand_offset(t);
                if (z == h && !known_difference(t)) {
                        agree++;
                } else if (z == H && h == 2 * H && known_difference(t)) {
                        expected++;
                } else {
                        if (unexpected++ < 5) {
                                char buf[32];
                                cal_format_rfc3339(t, buf, sizeof(buf));
                                fprintf(stderr, "zone %d, hand rule %d at %s (%lld)\n", z, h, buf, (long long)t);
                        }
                        if (t >= (bk_time_t)cal_day_from_ymd(1996, 1, 1) * 86400)
                                after1996++;
                }
        }
        CHECK_INT(unexpected, 0);
        CHECK_INT(after1996, 0);
        CHECK_INT(agree + expected + unexpected, (to - from) / 900);
        CHECK(agree > 1900000);
        /* 16 autumns of about 4-5 weeks and one spring week, in quarter hours. */
        CHECK(expected > 16 * 28 * 96 && expected < 16 * 36 * 96 + 8 * 96);
        printf("1980-2037 in quarter hours: %ld agree, %ld differ as Swedish law did\n", agree, expected);
}

/* ---- a changed zone through TZDIR ---------------------------------------------- */

static const char zone_source[] =
        "Rule EU 1981 max - Mar lastSun 1:00u 1:00 S\n"
        "Rule EU 1996 max - Oct lastSun 1:00u 0 -\n"
        "Zone Europe/Stockholm 1:00 EU CE%sT 2027 Oct 31 1:00u\n"
        "                      1:00 - CET\n";

static int run_child(const char *tzdir, int (*fn)(void))
{
        pid_t pid = fork();
        int st;
        if (pid == 0) {
                setenv("TZDIR", tzdir, 1);
                _exit(fn());
        }
        if (pid < 0 || waitpid(pid, &st, 0) != pid)
                return -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bk_time_t at(const char *s)
{
        bk_time_t t = 0;
        CHECK_INT(cal_parse_rfc3339(s, &t), 0);
        return t;
}

static int child_changed_zone(void)
{
        char buf[32];
        CHECK(zone_error() == NULL);
        /* Summer time as before until the last change in October 2027, then none. */
        CHECK_INT(cal_utc_offset_s(at("2026-07-01T12:00:00Z")), 2 * H);
        CHECK_INT(cal_utc_offset_s(at("2027-07-01T12:00:00Z")), 2 * H);
        CHECK_INT(cal_utc_offset_s(at("2028-07-01T12:00:00Z")), H);
        CHECK_INT(cal_utc_offset_s(at("2035-07-01T12:00:00Z")), H);
        cal_format_rfc3339(at("2028-07-03T06:00:00Z"), buf, sizeof(buf));
        CHECK_STR(buf, "2028-07-03T07:00:00+01:00");
        CHECK_INT(cal_local_to_utc(cal_day_from_ymd(2028, 7, 3), 8 * 60), at("2028-07-03T07:00:00Z"));
        CHECK_INT(cal_local_to_utc(cal_day_from_ymd(2026, 7, 3), 8 * 60), at("2026-07-03T06:00:00Z"));
        /* March 2028 has no gap any more: 02:30 exists. */
        CHECK_INT(cal_local_to_utc(cal_day_from_ymd(2028, 3, 26), 150), at("2028-03-26T01:30:00Z"));
        return tap_done();
}

static int child_no_zone(void)
{
        const char *e = zone_error();
        CHECK(e && strstr(e, "/Europe/Stockholm: cannot read"));
        /* tzdata's rule of today stands in, so clients still print sensible times. */
        CHECK_INT(cal_utc_offset_s(at("2026-07-01T12:00:00Z")), 2 * H);
        CHECK_INT(cal_utc_offset_s(at("2026-01-01T12:00:00Z")), H);
        return tap_done();
}

int main(void)
{
        char dir[] = "/tmp/bevaka-zone.XXXXXX", src[600], cmd[1400];
        const char *bin = getenv("BEVAKA_BIN");

        CHECK(mkdtemp(dir) != NULL);
        snprintf(src, sizeof(src), "%s/stockholm.zi", dir);
        FILE *f = fopen(src, "w");
        CHECK(f != NULL);
        if (f) {
                fputs(zone_source, f);
                fclose(f);
        }
        snprintf(cmd, sizeof(cmd), "PATH=$PATH:/usr/sbin zic -d '%s/zi' '%s'", dir, src);
        CHECK_INT(system(cmd), 0);
        snprintf(src, sizeof(src), "%s/zi", dir);
        CHECK_INT(run_child(src, child_changed_zone), 0);
        snprintf(src, sizeof(src), "%s/empty", dir);
        CHECK_INT(run_child(src, child_no_zone), 0);
        if (bin) {      /* bevakad refuses to start without its zone, naming the file */
                snprintf(cmd, sizeof(cmd), "cd '%s' && TZDIR='%s/empty' timeout 20 '%s/bevakad' > out 2>&1; test $? -eq 1 && "
                         "grep -q 'empty/Europe/Stockholm: cannot read' out", dir, dir, bin);
                CHECK_INT(system(cmd), 0);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK_INT(system(cmd), 0);
        check_against_hand_rule();
        return tap_done();
}
