/*
 * jw.h owns the daemon's direct JSON writer: compact JSON appended to a
 * growing buffer, with strings escaped as jansson's json_dumps() escapes
 * them (so a text written here and one dumped there are the same bytes).
 * It exists for the hot paths that write a known shape for every event,
 * where building a jansson tree only to print it cost more than the print.
 * Errors are sticky: after an allocation failure every call is a no-op and
 * jw_text() returns NULL.
 */
#pragma once

#include "util.h"

typedef struct jw {
        char *buf;
        size_t len, cap;
        bool comma;             /* a value was written at this level: the next one needs a ',' */
        bool failed;
} jw_t;

void jw_reset(jw_t *w);                          /* empty, keeping the buffer */
void jw_free(jw_t *w);
const char *jw_text(const jw_t *w, size_t *len); /* NUL-terminated; NULL after a failure */
char *jw_take(jw_t *w, size_t *len);             /* the malloc'd text, leaving w empty */

void jw_open(jw_t *w, char c);                   /* '{' or '[' (after a key or as a value) */
void jw_close(jw_t *w, char c);                  /* '}' or ']' */
void jw_key(jw_t *w, const char *key);           /* "key": (key is written as given) */
void jw_str(jw_t *w, const char *s);             /* a string value, escaped */
void jw_int(jw_t *w, int64_t v);
void jw_bool(jw_t *w, bool v);
void jw_raw(jw_t *w, const char *s, size_t n);   /* bytes as they are (no separator) */
