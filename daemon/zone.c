/*
 * zone.c owns the Europe/Stockholm UTC offset as the system's zoneinfo has
 * it: the TZif file $TZDIR/Europe/Stockholm (TZDIR defaulting to
 * /usr/share/zoneinfo, from Debian's tzdata) is read once, its 64-bit
 * transition table kept, and instants after the last transition follow the
 * file's footer, a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"). So a
 * tzdata update (the EU has debated ending daylight saving) reaches the
 * daemon at its next start, and a test can point TZDIR at a changed zone.
 * When no file can be read the same POSIX rule, as tzdata states it today,
 * stands in and zone_error() says why: bevakad refuses to start then, the
 * clients and tests go on with it. calendar.c is the only caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "calendar.h"
#include "zone.h"

#define ZONE_NAME        "Europe/Stockholm"
#define ZONE_DEFAULT_DIR "/usr/share/zoneinfo"
#define ZONE_FALLBACK    "CET-1CEST,M3.5.0,M10.5.0/3"
#define ZONE_MAX_TRANS   2000
#define ZONE_MAX_TYPES   64
#define ZONE_FILE_MAX    (64 * 1024)
#define DAY_S            INT64_C(86400)

/* A POSIX TZ rule with daylight saving given as Mm.w.d dates (all tzdata uses for Europe). */
typedef struct zone_rule {
        int std_off, dst_off;           /* seconds east of UTC */
        bool has_dst;
        int mon[2], week[2], wday[2];   /* [0] start of DST, [1] its end */
        int secs[2];                    /* local time of the change, seconds after midnight */
} zone_rule_t;

static struct {
        int n;                          /* transitions */
        int64_t at[ZONE_MAX_TRANS];
        int32_t off[ZONE_MAX_TRANS];    /* offset from at[i] on */
        int32_t off0;                   /* before the first transition */
        zone_rule_t rule;               /* after the last one */
        char path[1024];
        char error[1200];               /* "" when the file was read */
} zone;

static pthread_once_t zone_once = PTHREAD_ONCE_INIT;

static int64_t be(const unsigned char *p, int n)
{
        uint64_t v = 0;
        for (int i = 0; i < n; i++)
                v = v << 8 | p[i];
        return n == 4 ? (int64_t)(int32_t)v : (int64_t)v;
}

/* ---- POSIX TZ rules -------------------------------------------------------- */

static const char *rule_name(const char *p)
{
        if (*p == '<') {
                const char *e = strchr(p, '>');
                return e ? e + 1 : NULL;
        }
        const char *s = p;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
                p++;
        return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds; NULL when malformed. */
static const char *rule_time(const char *p, int *out)
{
        int sign = 1, h = 0, m = 0, s = 0;
        if (*p == '+' || *p == '-')
                sign = *p++ == '-' ? -1 : 1;
        if (sscanf(p, "%d", &h) != 1 || h > 167)
                return NULL;
        while (*p >= '0' && *p <= '9')
                p++;
        if (*p == ':' && sscanf(++p, "%2d", &m) == 1)
                p += 2;
        if (*p == ':' && sscanf(++p, "%2d", &s) == 1)
                p += 2;
        *out = sign * (h * 3600 + m * 60 + s);
        return p;
}

static const char *rule_date(const char *p, zone_rule_t *r, int i)
{
        int n = 0;
        if (*p != 'M' || sscanf(p + 1, "%d.%d.%d%n", &r->mon[i], &r->week[i], &r->wday[i], &n) != 3 ||
            r->mon[i] < 1 || r->mon[i] > 12 || r->week[i] < 1 || r->week[i] > 5 || r->wday[i] < 0 ||
            r->wday[i] > 6)
                return NULL;
        p += 1 + n;
        r->secs[i] = 7200;
        if (*p == '/' && !(p = rule_time(p + 1, &r->secs[i])))
                return NULL;
        return p;
}

/* Parses "STDoff[DST[off],start[/time],end[/time]]"; 0 or -EINVAL. */
static int rule_parse(const char *s, zone_rule_t *r)
{
        const char *p = rule_name(s);
        int off;

        *r = (zone_rule_t){ 0 };
        if (!p || !(p = rule_time(p, &off)))
                return -EINVAL;
        r->std_off = r->dst_off = -off;         /* POSIX counts west of UTC */
        if (!*p)
                return 0;
        if (!(p = rule_name(p)))
                return -EINVAL;
        r->has_dst = true;
        r->dst_off = r->std_off + 3600;
        if (*p != ',' && *p) {
                if (!(p = rule_time(p, &off)))
                        return -EINVAL;
                r->dst_off = -off;
        }
        if (*p++ != ',' || !(p = rule_date(p, r, 0)) || *p++ != ',' || !(p = rule_date(p, r, 1)) || *p)
                return -EINVAL;
        return 0;
}

/* The UTC instant of rule change i (0: to DST, 1: back) in year y. */
static int64_t rule_change(const zone_rule_t *r, int y, int i)
{
        cal_day_t first = cal_day_from_ymd(y, r->mon[i], 1), day;
        int wd = cal_weekday(first) % 7;        /* 0 = Sunday, as POSIX counts */

        day = first + (r->wday[i] - wd + 7) % 7 + (r->week[i] - 1) * 7;
        while (day >= first + cal_days_in_month(y, r->mon[i]))
                day -= 7;
        return (int64_t)day * DAY_S + r->secs[i] - (i == 0 ? r->std_off : r->dst_off);
}

static int rule_offset(const zone_rule_t *r, int64_t t)
{
        int y, m, d;

        if (!r->has_dst)
                return r->std_off;
        cal_ymd((cal_day_t)((t - (t < 0 ? DAY_S - 1 : 0)) / DAY_S), &y, &m, &d);
        int64_t start = rule_change(r, y, 0), end = rule_change(r, y, 1);
        if (start < end)
                return t >= start && t < end ? r->dst_off : r->std_off;
        return t >= end && t < start ? r->std_off : r->dst_off;     /* southern hemisphere */
}

/* ---- TZif (RFC 8536) --------------------------------------------------------- */

static int tzif_fail(const char *why)
{
        snprintf(zone.error, sizeof(zone.error), "%s: %s", zone.path, why);
        return -EINVAL;
}

/* Parses the version 2+ block of a TZif file (64-bit times) and its footer. */
static int tzif_parse(const unsigned char *b, size_t len)
{
        size_t cnt[6], v1, need;
        const unsigned char *h, *d, *types;

        if (len < 44 || memcmp(b, "TZif", 4) != 0 || b[4] < '2')
                return tzif_fail("not a TZif file of version 2 or later");
        for (int i = 0; i < 6; i++)
                cnt[i] = (size_t)be(b + 20 + 4 * i, 4);
        v1 = 44 + cnt[3] * 5 + cnt[4] * 6 + cnt[5] + cnt[2] * 8 + cnt[1] + cnt[0];
        if (v1 + 44 > len || memcmp(b + v1, "TZif", 4) != 0)
                return tzif_fail("truncated");
        h = b + v1;
        for (int i = 0; i < 6; i++)
                cnt[i] = (size_t)be(h + 20 + 4 * i, 4);
        need = 44 + cnt[3] * 9 + cnt[4] * 6 + cnt[5] + cnt[2] * 12 + cnt[1] + cnt[0];
        if (v1 + need + 2 > len || cnt[3] > ZONE_MAX_TRANS || cnt[4] == 0 || cnt[4] > ZONE_MAX_TYPES)
                return tzif_fail("truncated or too large");
        d = h + 44;
        types = d + cnt[3] * 9;
        for (size_t i = 0; i < cnt[3]; i++) {
                unsigned idx = d[cnt[3] * 8 + i];
                if (idx >= cnt[4])
                        return tzif_fail("a transition names no type");
                zone.at[i] = be(d + 8 * i, 8);
                zone.off[i] = (int32_t)be(types + 6 * idx, 4);
        }
        zone.n = (int)cnt[3];
        zone.off0 = (int32_t)be(types, 4);
        /* The footer: "\nRULE\n" after the data block. */
        const char *f = (const char *)h + need, *end = (const char *)b + len;
        char rule[128];
        if (*f != '\n' || !memchr(f + 1, '\n', (size_t)(end - f - 1)))
                return tzif_fail("no footer");
        size_t n = (size_t)((const char *)memchr(f + 1, '\n', (size_t)(end - f - 1)) - (f + 1));
        if (n == 0) {           /* no rule: the last transition's offset stands */
                zone.rule = (zone_rule_t){ .std_off = zone.n ? zone.off[zone.n - 1] : zone.off0 };
                return 0;
        }
        if (n >= sizeof(rule))
                return tzif_fail("footer too long");
        memcpy(rule, f + 1, n);
        rule[n] = '\0';
        if (rule_parse(rule, &zone.rule) < 0)
                return tzif_fail("footer rule not understood (only Mm.w.d rules are)");
        return 0;
}

static int zone_read(void)
{
        const char *dir = getenv("TZDIR");
        unsigned char *buf;
        ssize_t len = 0, r;
        int fd, rc;

        snprintf(zone.path, sizeof(zone.path), "%s/%s", dir && *dir ? dir : ZONE_DEFAULT_DIR, ZONE_NAME);
        if ((fd = open(zone.path, O_RDONLY | O_CLOEXEC)) < 0) {
                snprintf(zone.error, sizeof(zone.error), "%s: cannot read: %s (install tzdata)", zone.path,
                         strerror(errno));
                return -errno;
        }
        if (!(buf = malloc(ZONE_FILE_MAX))) {
                close(fd);
                return tzif_fail("out of memory");
        }
        while (len < ZONE_FILE_MAX && (r = read(fd, buf + len, (size_t)(ZONE_FILE_MAX - len))) > 0)
                len += r;
        close(fd);
        rc = tzif_parse(buf, (size_t)len);
        free(buf);
        return rc;
}

static void zone_init(void)
{
        if (zone_read() < 0) {
                zone.n = 0;
                rule_parse(ZONE_FALLBACK, &zone.rule);
                zone.off0 = zone.rule.std_off;
        }
}

const char *zone_error(void)
{
        pthread_once(&zone_once, zone_init);
        return zone.error[0] ? zone.error : NULL;
}

const char *zone_path(void)
{
        pthread_once(&zone_once, zone_init);
        return zone.path;
}

int zone_offset_s(int64_t t)
{
        int lo = 0, hi;

        pthread_once(&zone_once, zone_init);
        if (zone.n == 0 || t >= zone.at[zone.n - 1])
                return rule_offset(&zone.rule, t);
        if (t < zone.at[0])
                return zone.off0;
        hi = zone.n - 1;        /* at[lo] <= t < at[hi] */
        while (hi - lo > 1) {
                int mid = lo + (hi - lo) / 2;
                if (zone.at[mid] <= t)
                        lo = mid;
                else
                        hi = mid;
        }
        return zone.off[lo];
}
