/*
 * fuzz-event.c feeds arbitrary bytes to the event codec, as a feed socket
 * would: event_parse() must never crash, read past the buffer (it is not
 * NUL-terminated) or leave a half-decoded event that looks usable, and the
 * personnummer detector must cope with any NUL-terminated text. A broken
 * invariant aborts, so libFuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { \
                fprintf(stderr, "fuzz-event: invariant broken: %s\n", #cond); abort(); } } while (0)

static bool terminated(const char *s, size_t size)
{
        return memchr(s, '\0', size) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char reason[EV_PARSE_REASON_SIZE];
        event_t ev;
        char *copy;
        int r;

        /* an exact-size heap copy, so ASan sees any read past the end */
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        memset(reason, 'x', sizeof(reason));
        r = event_parse(copy, size, &ev, reason, sizeof(reason));
        REQUIRE(r == 0 || r == BK_E_INVALID);
        REQUIRE(terminated(reason, sizeof(reason)));
        REQUIRE(terminated(ev.id, sizeof(ev.id)) && terminated(ev.source, sizeof(ev.source)));
        REQUIRE(terminated(ev.type_name, sizeof(ev.type_name)) && terminated(ev.case_id, sizeof(ev.case_id)));
        REQUIRE(terminated(ev.unit, sizeof(ev.unit)) && terminated(ev.actor, sizeof(ev.actor)));
        if (r == 0) {
                REQUIRE(reason[0] == '\0');
                REQUIRE(ev.v == 1 && ev.seq > 0);
                REQUIRE(ev.id[0] && ev.source[0] && ev.type_name[0] && ev.case_id[0] && ev.unit[0]);
                REQUIRE(!event_has_personnummer(ev.case_id));
                REQUIRE(ev.type == event_type_from_name(ev.type_name));
                REQUIRE(ev.data.household.n_children >= 0 && ev.data.household.n_children <= EV_MAX_CHILDREN);
                REQUIRE(terminated(ev.data.caseworker, sizeof(ev.data.caseworker)));
                REQUIRE(terminated(ev.data.reason, sizeof(ev.data.reason)));
                /* the stored form reads back to the same event, and holds no number */
                size_t n = 0;
                char *norm = event_normalize(&ev, &n);
                event_t back;
                char r3[EV_PARSE_REASON_SIZE];
                REQUIRE(norm != NULL);
                REQUIRE(event_parse(norm, n, &back, r3, sizeof(r3)) == 0);
                REQUIRE(back.at == ev.at && back.type == ev.type && strcmp(back.case_id, ev.case_id) == 0);
                REQUIRE(!event_has_personnummer(norm));
                free(norm);
        } else {
                /* precise reason; a failed event keeps only its feed position */
                REQUIRE(reason[0] != '\0');
                REQUIRE(ev.seq >= 0);
                REQUIRE(ev.seq == 0 || ev.source[0] != '\0');
                REQUIRE(ev.id[0] == '\0' && ev.case_id[0] == '\0' && ev.type == EV_UNKNOWN);
        }
        /* a dead letter's kept form holds no number, whatever came */
        {
                size_t n = 0;
                char *dl = event_dead_letter_form(copy, size, reason, &n), *z;
                REQUIRE(dl != NULL);
                z = malloc(n + 1);
                REQUIRE(z != NULL);
                memcpy(z, dl, n);
                z[n] = '\0';
                /* a NUL inside hides what follows from the string check: check from each NUL on */
                for (size_t i = 0; i <= n; i += strlen(z + i) + 1)
                        REQUIRE(!event_has_personnummer(z + i));
                free(z);
                free(dl);
        }
        /* the same bytes must not be judged differently the second time */
        {
                event_t again;
                char reason2[EV_PARSE_REASON_SIZE];
                REQUIRE(event_parse(copy, size, &again, reason2, sizeof(reason2)) == r);
                REQUIRE(strcmp(reason, reason2) == 0);
        }
        /* a short reason buffer is cut, never overrun */
        {
                char tiny[8];
                event_t ev2;
                REQUIRE(event_parse(copy, size, &ev2, tiny, sizeof(tiny)) == r);
                REQUIRE(terminated(tiny, sizeof(tiny)));
        }
        free(copy);

        /* the detector on any text, as on a case id */
        copy = malloc(size + 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = '\0';
        (void)event_has_personnummer(copy);
        free(copy);
        return 0;
}
