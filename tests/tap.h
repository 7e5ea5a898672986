/*
 * tap.h is the unit tests' tiny harness: CHECK records a failure with file
 * and line and goes on; tap_done() prints the plain "N passed, N failed"
 * line and returns the exit code. A test that ran no check fails: it
 * proved nothing. A test that cannot run here (no dbus-daemon, no CURVE)
 * calls tap_skip(), which exits 77, what ctest counts as skipped
 * (SKIP_RETURN_CODE in tests/CMakeLists.txt), never as passed.
 */
#pragma once
#include <stdio.h>
#include <string.h>
#include <inttypes.h>
#include <stdlib.h>

#define TAP_SKIP 77

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
        if (tap_pass + tap_fail == 0) {
                fprintf(stderr, "FAIL: the test ran no check\n");
                return 1;
        }
        return tap_fail ? 1 : 0;
}

/* Exits with the skip code, the reason on stderr; never counted as a pass. */
static inline void tap_skip(const char *why) __attribute__((noreturn));
static inline void tap_skip(const char *why)
{
        fprintf(stderr, "SKIP: %s\n", why);
        printf("skipped: %s\n", why);
        exit(TAP_SKIP);
}
