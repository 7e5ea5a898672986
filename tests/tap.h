/*
 * tap.h is the unit tests' tiny harness: CHECK records a failure with file
 * and line and goes on; tap_done() prints the plain "N passed, N failed"
 * line and returns the exit code.
 */
#pragma once
#include <stdio.h>
#include <string.h>
#include <inttypes.h>

static int tap_pass, tap_fail;

#define CHECK(cond) do { if (cond) tap_pass++; else { tap_fail++; \
        fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
        if (_a == _b) tap_pass++; else { tap_fail++; \
        fprintf(stderr, "FAIL %s:%d: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, #b, _a, _b); } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
        if (_a && _b && strcmp(_a, _b) == 0) tap_pass++; else { tap_fail++; \
        fprintf(stderr, "FAIL %s:%d: %s == %s (\"%s\" != \"%s\")\n", __FILE__, __LINE__, #a, #b, \
                _a ? _a : "(null)", _b ? _b : "(null)"); } } while (0)

static inline int tap_done(void)
{
        printf("%d passed, %d failed\n", tap_pass, tap_fail);
        return tap_fail ? 1 : 0;
}
