/*
 * Unit tests for the two small pure modules behind privacy: pnr.c (masking
 * every form of a personnummer, counts, cuts on character boundaries) and
 * sha256.c (the FIPS 180-4 examples; tombstones rely on it being SHA-256).
 */
#include <stdio.h>
#include "pnr.h"
#include "sha256.h"
#include "tap.h"

static void check_mask(const char *in, const char *want, int want_n)
{
        char out[256];
        size_t n = 0;
        int k = pnr_mask(in, strlen(in), out, sizeof(out), &n);

        CHECK_STR(out, want);
        CHECK_INT(k, want_n);
        CHECK_INT(n, strlen(want));
}

static void test_mask(void)
{
        check_mask("no number here", "no number here", 0);
        check_mask("19850312-1231", PNR_MASK, 1);
        check_mask("a 850312-1231 b 910172-1000 c", "a " PNR_MASK " b " PNR_MASK " c", 2);
        check_mask("8503121231", PNR_MASK, 1);
        check_mask("850312 1231.", PNR_MASK ".", 1);
        check_mask("850312--1231", PNR_MASK, 1);
        check_mask("850312\xe2\x80\x93" "1231", PNR_MASK, 1);
        check_mask("EB-2024-001234", "EB-2024-001234", 0);           /* an id, not a number */
        check_mask("1198503121231", "1198503121231", 0);             /* 13 digits */
        check_mask("850312-1232", "850312-1232", 0);                 /* Luhn */

        /* a cut never splits a character nor leaves half a mask beyond the buffer */
        char small[8];
        size_t n = 0;
        pnr_mask("ab\xc3\xa5\xc3\xa5\xc3\xa5", 8, small, 6, &n);
        CHECK_STR(small, "ab\xc3\xa5");
        CHECK_INT(n, 4);
        pnr_mask("19850312-1231", 13, small, sizeof(small), &n);
        CHECK_INT(n, 7);
        CHECK(strncmp(small, PNR_MASK, 7) == 0);

        CHECK_INT(pnr_utf8_prefix("\xc3\xa5" "bc", 4, 2), 3);
        CHECK_INT(pnr_utf8_prefix("abc", 3, 10), 3);
        CHECK(pnr_has("x 19910172-1000"));
        CHECK(!pnr_has(NULL));
}

/*
 * Issue #12 item 6: the forms a person types, each found (and each inside an id-shaped member a
 * dead letter), and the ordinary ids, dates, times, phone numbers and amounts that are none.
 */
static void test_typed_forms(void)
{
        static const char *const numbers[] = {
                "850312-1231", "850312 1231", "850312\xe2\x80\x93" "1231" /* en dash */,
                "\xef\xbc\x98\xef\xbc\x95\xef\xbc\x90\xef\xbc\x93\xef\xbc\x91\xef\xbc\x92-"
                "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x91" /* full-width digits */,
                "\xef\xbc\x98\xef\xbc\x95\xef\xbc\x90\xef\xbc\x93\xef\xbc\x91\xef\xbc\x92\xef\xbc\x8d"
                "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x91" /* ... with a full-width hyphen */,
                "8503121231", "198503121231", "850312--1231", "850312 - 1231", "850312- 1231", "850312 -1231",
                "850312\xc2\xa0" "1231", "850312\xe2\x80\xaf" "1231", "850312\xe2\x88\x92" "1231",
                "19850312 1231", "19850312\xe2\x80\x93" "1231", "850312+1231", "EB-850312-1231",
                "910172-1000" /* samordningsnummer */, "pnr:850312 1231.",
        };
        static const char *const none[] = {
                "EB-2024-001234", "2025-03-12", "2025-03-12T10:15:00+01:00", "20250312", "hk1234",
                "070-123 45 67", "08-508 000 00", "1 234 567 kr", "850312-1232" /* Luhn */,
                "851332-1231" /* no 32nd */, "850312  1231" /* two spaces */, "850312 - - 1231",
                "850312---1231", "1198503121231" /* 13 digits */, "85031-21231", "850312_1231",
                "850312/1231", "U1-850312", "decision 12345678901", "2025-0312-1231",
        };

        for (size_t i = 0; i < BK_ARRAY_SIZE(numbers); i++) {
                if (!pnr_has(numbers[i]))
                        fprintf(stderr, "  not found: %s\n", numbers[i]);
                CHECK(pnr_has(numbers[i]));
        }
        for (size_t i = 0; i < BK_ARRAY_SIZE(none); i++) {
                if (pnr_has(none[i]))
                        fprintf(stderr, "  false positive: %s\n", none[i]);
                CHECK(!pnr_has(none[i]));
        }
        check_mask("ring 850312 - 1231 idag", "ring " PNR_MASK " idag", 1);
}

static void hex(const uint8_t d[32], char out[65])
{
        for (int i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_sha256(void)
{
        static const struct { const char *in; const char *want; } v[] = {
                { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
                { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
                { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        };
        uint8_t d[32];
        char h[65];

        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                sha256(v[i].in, strlen(v[i].in), d);
                hex(d, h);
                CHECK_STR(h, v[i].want);
        }
        /* one million 'a' (FIPS 180-4 example, many blocks) */
        char *a = malloc(1000000);
        memset(a, 'a', 1000000);
        sha256(a, 1000000, d);
        hex(d, h);
        CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        free(a);
}

int main(void)
{
        test_mask();
        test_typed_forms();
        test_sha256();
        return tap_done();
}
