/*
 * util.h owns the small shared vocabulary of the code base: the time type,
 * cleanup helpers for scoped locals, bounded string copies and the error
 * convention (0 ok, negative -errno for failures, positive BK_E_* for
 * expected outcomes the caller must handle).
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An instant: seconds since the Unix epoch, UTC. */
typedef int64_t bk_time_t;

/* Expected outcomes (positive). */
enum {
        BK_E_INVALID = 1,   /* input rejected; a reason was written */
        BK_E_NOT_FOUND,
        BK_E_DUPLICATE,
        BK_E_CONFLICT,
        BK_E_FORBIDDEN,
};

#define BK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BK_MAX(a, b) ((a) > (b) ? (a) : (b))

#define BK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define BK_UNUSED __attribute__((unused))

static inline void bk_freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ __attribute__((cleanup(bk_freep)))

static inline void bk_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_close_ __attribute__((cleanup(bk_closep)))

/* Hand a pointer on: return its value and clear the local copy. */
#define bk_steal(pp) ({ __typeof__(*(pp)) _v = *(pp); *(pp) = NULL; _v; })

/* strlcpy semantics: always terminates, returns strlen(src). */
static inline size_t bk_strlcpy(char *dst, const char *src, size_t size)
{
        size_t n = strlen(src);
        if (size) {
                size_t k = n < size - 1 ? n : size - 1;
                memcpy(dst, src, k);
                dst[k] = '\0';
        }
        return n;
}
