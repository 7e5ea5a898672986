/*
 * pnr.c owns the personnummer/samordningsnummer scanner. It walks the bytes
 * once, reading a digit as ASCII or as a full-width digit (U+FF10..U+FF19,
 * what a Japanese or Chinese input method leaves behind), and tries the
 * three shapes at the start of every digit run: twelve or ten digits in one
 * run, or six or eight digits, one separator, four digits. A date that does
 * not exist or a failed Luhn check is no number; everything else is masked
 * or refused by the callers, so a false positive costs a masked string and
 * a false negative costs a leak: the separators are generous on purpose.
 */
#include "pnr.h"

/* A digit at s[i]: its value, and its length in bytes (0 = not a digit). */
static size_t digit_at(const char *s, size_t len, size_t i, int *val)
{
        const unsigned char *u = (const unsigned char *)s;

        if (i < len && u[i] >= '0' && u[i] <= '9') {
                *val = u[i] - '0';
                return 1;
        }
        if (i + 2 < len && u[i] == 0xef && u[i + 1] == 0xbc && u[i + 2] >= 0x90 && u[i + 2] <= 0x99) {
                *val = u[i + 2] - 0x90;
                return 3;
        }
        return 0;
}

/* Whether a digit ends just before s[i]. */
static bool digit_before(const char *s, size_t i)
{
        const unsigned char *u = (const unsigned char *)s;

        if (i >= 1 && u[i - 1] >= '0' && u[i - 1] <= '9')
                return true;
        return i >= 3 && u[i - 3] == 0xef && u[i - 2] == 0xbc && u[i - 1] >= 0x90 && u[i - 1] <= 0x99;
}

/* Reads up to max digits from s[i]; returns how many, *next the byte after them. */
static int digit_run(const char *s, size_t len, size_t i, int max, int *dig, size_t *next)
{
        int n = 0, v;
        size_t k;

        while (n < max && (k = digit_at(s, len, i, &v)) > 0) {
                dig[n++] = v;
                i += k;
        }
        *next = i;
        return n;
}

/* Bytes of one of the strings in set at s[i]; 0 = none. */
static size_t one_of(const char *s, size_t len, size_t i, const char *const *set, size_t n_set)
{
        for (size_t k = 0; k < n_set; k++) {
                size_t n = strlen(set[k]);
                if (i + n <= len && memcmp(s + i, set[k], n) == 0)
                        return n;
        }
        return 0;
}

static size_t space_at(const char *s, size_t len, size_t i)
{
        static const char *const spaces[] = {
                " ",
                "\xc2\xa0",          /* no-break space */
                "\xe2\x80\x87",      /* figure space */
                "\xe2\x80\x89",      /* thin space */
                "\xe2\x80\xaf",      /* narrow no-break space */
                "\xe3\x80\x80",      /* ideographic space (with full-width digits) */
        };
        return one_of(s, len, i, spaces, BK_ARRAY_SIZE(spaces));
}

static size_t dash_at(const char *s, size_t len, size_t i)
{
        static const char *const dashes[] = {
                "-", "+",
                "\xe2\x80\x90",      /* hyphen */
                "\xe2\x80\x91",      /* non-breaking hyphen */
                "\xe2\x80\x92",      /* figure dash */
                "\xe2\x80\x93",      /* en dash (a word processor's autocorrect) */
                "\xe2\x80\x94",      /* em dash */
                "\xe2\x88\x92",      /* minus sign */
                "\xef\xb9\xa3",      /* small hyphen-minus */
                "\xef\xbc\x8d",      /* full-width hyphen-minus (with full-width digits) */
                "\xef\xbc\x8b",      /* full-width plus */
        };
        return one_of(s, len, i, dashes, BK_ARRAY_SIZE(dashes));
}

/*
 * Bytes of a separator at s[i] between date and serial; 0 = none there. What people type: a
 * dash (or plus), doubled by mistake, with a space on either side or both ("850312 - 1231"), or a
 * space alone. Never more than one space on a side: a run of spaced digit groups is a phone
 * number or an amount, not an identity number.
 */
static size_t separator_at(const char *s, size_t len, size_t i)
{
        size_t at = i, n, dashes = 0;

        at += space_at(s, len, at);
        while (dashes < 2 && (n = dash_at(s, len, at)) > 0) {
                at += n;
                dashes++;
        }
        if (dashes > 0)
                at += space_at(s, len, at);
        return at - i;
}

/* Proleptic Gregorian; a samordningsnummer's day has 60 added. */
static bool real_date(int y, int m, int d)
{
        static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        if (d > 60)
                d -= 60;
        if (m < 1 || m > 12 || d < 1)
                return false;
        return d <= days[m - 1] + (m == 2 && leap);
}

/* dig holds date_n (6 or 8) date digits then 4 serial digits. */
static bool number_valid(const int *dig, int date_n)
{
        const int *ten = dig + (date_n - 6);
        int m = ten[2] * 10 + ten[3], d = ten[4] * 10 + ten[5], sum = 0;

        if (date_n == 8) {
                if (!real_date(dig[0] * 1000 + dig[1] * 100 + dig[2] * 10 + dig[3], m, d))
                        return false;
        } else {
                int yy = ten[0] * 10 + ten[1];
                /* The century is unknown; 29 February is real in one of them at most. */
                if (!real_date(1900 + yy, m, d) && !real_date(2000 + yy, m, d))
                        return false;
        }
        for (int i = 0; i < 10; i++) {
                int p = ten[i] * (i % 2 == 0 ? 2 : 1);
                sum += p > 9 ? p - 9 : p;
        }
        return sum % 10 == 0;
}

/* A number starting at s[i] (a digit run's first digit): its end, or 0. */
static size_t number_at(const char *s, size_t len, size_t i)
{
        int dig[13], v;
        size_t next, after;
        int n = digit_run(s, len, i, 13, dig, &next);

        if ((n == 12 && number_valid(dig, 8)) || (n == 10 && number_valid(dig, 6)))
                return next;
        if (n != 6 && n != 8)
                return 0;
        size_t sep = separator_at(s, len, next);
        if (sep == 0)
                return 0;
        int m = digit_run(s, len, next + sep, 5, dig + n, &after);
        if (m != 4 || digit_at(s, len, after, &v) > 0)
                return 0;
        return number_valid(dig, n) ? after : 0;
}

bool pnr_find(const char *s, size_t len, size_t from, size_t *start, size_t *end)
{
        int v;

        for (size_t i = from; i < len;) {
                size_t k = digit_at(s, len, i, &v);
                if (k == 0) {
                        i++;
                        continue;
                }
                if (!digit_before(s, i)) {
                        size_t e = number_at(s, len, i);
                        if (e) {
                                *start = i;
                                *end = e;
                                return true;
                        }
                }
                i += k;
        }
        return false;
}

bool pnr_has(const char *s)
{
        size_t a, b;

        return s && pnr_find(s, strlen(s), 0, &a, &b);
}

/* Bytes of s[0..n) that end on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t n)
{
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
                n--;
        return n;
}

int pnr_mask(const char *s, size_t len, char *out, size_t out_size, size_t *out_len)
{
        size_t pos = 0, o = 0, a, b;
        int count = 0;

        if (out_size == 0)
                return 0;
        while (o < out_size - 1) {
                bool found = pnr_find(s, len, pos, &a, &b);
                size_t plain = (found ? a : len) - pos, room = out_size - 1 - o;

                if (plain > room) {
                        /* cut at a boundary of the source, which is where out's bytes came from */
                        plain = pos + room < len ? utf8_cut(s + pos, room) : room;
                        memcpy(out + o, s + pos, plain);
                        o += plain;
                        break;
                }
                memcpy(out + o, s + pos, plain);
                o += plain;
                if (!found)
                        break;
                count++;
                room = out_size - 1 - o;
                memcpy(out + o, PNR_MASK, BK_MIN(room, PNR_MASK_LEN));
                o += BK_MIN(room, PNR_MASK_LEN);
                pos = b;
        }
        out[o] = '\0';
        if (out_len)
                *out_len = o;
        return count;
}

size_t pnr_utf8_prefix(const char *s, size_t len, size_t chars)
{
        size_t i = 0;

        while (i < len && chars > 0) {
                i++;
                while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
                        i++;
                chars--;
        }
        return i;
}
