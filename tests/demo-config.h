/*
 * demo-config.h: the embedded (demo) configuration as an in-process test
 * fixture. It declares the demo's feed sources; a fixture feeds its own, so
 * the declaration is cleared here, in one place, for every test and fuzzer.
 */
#pragma once

#include "config.h"

static inline int demo_config_load(config_t *cfg, char *err, size_t n)
{
        int r = config_load(NULL, "/tmp", cfg, err, n);

        for (int i = 0; r == 0 && i < cfg->n_feeds; i++)
                cfg->feeds[i].n_sources = 0;
        return r;
}
