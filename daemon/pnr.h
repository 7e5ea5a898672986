/*
 * pnr.h owns finding and masking Swedish personnummer and samordningsnummer
 * (domain.md §3) in any text the daemon stores or logs. It knows the forms
 * people actually type: ASCII or full-width digits, YYMMDD or YYYYMMDD, and
 * between date and serial a hyphen, plus, en dash, minus sign or full-width
 * hyphen (once or doubled), with or without a space (also no-break, thin or
 * ideographic) on either side, a space alone, or nothing. Pure: no I/O, no allocation.
 */
#pragma once

#include "util.h"

/* What a number is replaced by: fixed, never itself a number. */
#define PNR_MASK "XXXXXX-XXXX"
#define PNR_MASK_LEN (sizeof(PNR_MASK) - 1)

/*
 * Finds the first personnummer or samordningsnummer in s[from..len): a run of
 * digits bounded by non-digits, real date (day + 60 for samordningsnummer),
 * last ten digits Luhn-valid. True with [*start, *end) its bytes.
 */
bool pnr_find(const char *s, size_t len, size_t from, size_t *start, size_t *end);
/* Whether the NUL-terminated s holds one. */
bool pnr_has(const char *s);
/*
 * Copies s (len bytes) into out with every number replaced by PNR_MASK,
 * NUL-terminated and cut at out_size - 1 bytes on a UTF-8 boundary.
 * Returns how many numbers it masked; *out_len is the bytes written.
 */
int pnr_mask(const char *s, size_t len, char *out, size_t out_size, size_t *out_len);
/* Bytes that hold at most `chars` UTF-8 characters of s (for caps on free text). */
size_t pnr_utf8_prefix(const char *s, size_t len, size_t chars);
