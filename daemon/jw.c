/*
 * jw.c owns the direct JSON writer (jw.h): a growing buffer, the separator
 * bookkeeping of one nesting level at a time, and string escaping that
 * matches jansson's dump (\" \\ \b \f \n \r \t, other control characters
 * as \u00XX with upper-case hex, everything else as the UTF-8 it is).
 */
#include <inttypes.h>
#include <stdio.h>
#include "jw.h"

static bool grow(jw_t *w, size_t more)
{
        size_t cap;
        char *p;

        if (w->failed)
                return false;
        if (w->len + more + 1 <= w->cap)
                return true;
        for (cap = w->cap ? w->cap : 256; cap < w->len + more + 1; cap *= 2)
                ;
        if (!(p = realloc(w->buf, cap))) {
                w->failed = true;
                return false;
        }
        w->buf = p;
        w->cap = cap;
        return true;
}

void jw_raw(jw_t *w, const char *s, size_t n)
{
        if (!grow(w, n))
                return;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->buf[w->len] = '\0';
}

static void sep(jw_t *w)
{
        if (w->comma)
                jw_raw(w, ",", 1);
        w->comma = true;
}

void jw_reset(jw_t *w)
{
        w->len = 0;
        w->comma = false;
        w->failed = false;
        if (w->buf)
                w->buf[0] = '\0';
}

void jw_free(jw_t *w)
{
        free(w->buf);
        memset(w, 0, sizeof(*w));
}

const char *jw_text(const jw_t *w, size_t *len)
{
        if (w->failed || !w->buf)
                return NULL;
        if (len)
                *len = w->len;
        return w->buf;
}

char *jw_take(jw_t *w, size_t *len)
{
        char *t = w->failed ? NULL : w->buf;

        if (t && len)
                *len = w->len;
        if (!t)
                free(w->buf);
        memset(w, 0, sizeof(*w));
        return t;
}

void jw_open(jw_t *w, char c)
{
        sep(w);
        jw_raw(w, &c, 1);
        w->comma = false;
}

void jw_close(jw_t *w, char c)
{
        jw_raw(w, &c, 1);
        w->comma = true;
}

void jw_key(jw_t *w, const char *key)
{
        sep(w);
        jw_raw(w, "\"", 1);
        jw_raw(w, key, strlen(key));
        jw_raw(w, "\":", 2);
        w->comma = false;
}

void jw_str(jw_t *w, const char *s)
{
        const char *run = s;
        char esc[8];

        sep(w);
        jw_raw(w, "\"", 1);
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                const char *e = NULL;

                switch (c) {
                case '"': e = "\\\""; break;
                case '\\': e = "\\\\"; break;
                case '\b': e = "\\b"; break;
                case '\f': e = "\\f"; break;
                case '\n': e = "\\n"; break;
                case '\r': e = "\\r"; break;
                case '\t': e = "\\t"; break;
                default:
                        if (c < 0x20) {
                                snprintf(esc, sizeof(esc), "\\u%04X", c);
                                e = esc;
                        }
                }
                if (e) {
                        jw_raw(w, run, (size_t)(s - run));
                        jw_raw(w, e, strlen(e));
                        run = s + 1;
                }
        }
        jw_raw(w, run, (size_t)(s - run));
        jw_raw(w, "\"", 1);
}

void jw_int(jw_t *w, int64_t v)
{
        char num[24];
        int n = snprintf(num, sizeof(num), "%" PRId64, v);

        sep(w);
        jw_raw(w, num, (size_t)n);
}

void jw_bool(jw_t *w, bool v)
{
        sep(w);
        jw_raw(w, v ? "true" : "false", v ? 4 : 5);
}
