/*
 * sha256.h owns the one hash the daemon needs: FIPS 180-4 SHA-256 over a
 * short buffer, for the purged-case tombstones (store.c), which keep a
 * case id's hash and never the id. Pure, no allocation.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

void sha256(const void *data, size_t len, uint8_t out[32]);
