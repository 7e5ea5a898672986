/*
 * clock.h owns "now" for the whole daemon: the one function every decision
 * about time goes through. In system mode it is the wall clock; in manual
 * mode (tests, demo) time stands still until the `clock` API op moves it.
 */
#pragma once

#include "util.h"

typedef struct bk_clock {
        bool manual;
        bk_time_t manual_now;
} bk_clock_t;

void clock_init(bk_clock_t *c, bool manual, bk_time_t start);
bk_time_t clock_now(const bk_clock_t *c);
/* The wall clock whatever the mode: only to tell whether an adapter's watermark is its present
 * (a live feed, ingest_time_limit), never for a decision about the domain's time. */
bk_time_t clock_wall(void);
/* Manual mode only; time never moves backwards (BK_E_CONFLICT). */
int clock_set(bk_clock_t *c, bk_time_t t);
/* Monotonic milliseconds for timeouts and silence detection (never the domain clock). */
int64_t clock_mono_ms(void);
