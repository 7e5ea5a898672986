/*
 * fuzz-state.c feeds arbitrary bytes to rules_state_decode(), the reader of
 * the case states the store holds (the binary form, and the JSON form of
 * schema 1 stores). A blob it accepts must be a fixed point of the codec:
 * encoding the decoded state and decoding that again gives the same bytes,
 * and the state's API view and next wake day can be computed. Anything else
 * must be refused with BK_E_INVALID and no state. Seeds in
 * tests/fuzz/corpus/fuzz-state/ are real states from the sample history.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { \
                fprintf(stderr, "fuzz-state: invariant broken: %s\n", #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static rules_cfg_t cfg;
        static bool init;
        case_state_t *st = NULL, *again = NULL;
        uint8_t *a, *b;
        size_t na, nb;
        int r;

        if (!init) {
                rules_cfg_default(&cfg);
                init = true;
        }
        r = rules_state_decode(data, size, &st);
        if (r != 0) {
                REQUIRE(r == BK_E_INVALID || r == -ENOMEM);
                REQUIRE(st == NULL);
                return 0;
        }
        REQUIRE(st != NULL);
        na = rules_state_encode(st, NULL, 0);
        a = malloc(na);
        REQUIRE(a && rules_state_encode(st, a, na) == na);
        REQUIRE(rules_state_decode(a, na, &again) == 0 && again);
        nb = rules_state_encode(again, NULL, 0);
        b = malloc(nb);
        REQUIRE(b && rules_state_encode(again, b, nb) == nb);
        REQUIRE(na == nb && memcmp(a, b, na) == 0);
        json_decref(rules_state_view(st));
        (void)rules_next_wake(&cfg, st);
        free(a);
        free(b);
        rules_state_free(&st);
        rules_state_free(&again);
        return 0;
}
