/*
 * fuzz-notify-msg.c feeds arbitrary messages, as bevaka-notify takes them
 * off the reminder stream, to the code that turns many of them into words
 * (client/notify-group.c and client/notify-text.c, compiled in): a digest's
 * summary and body, a message of an unknown op, a moment's plan, the
 * summary's body and the --list work list over the message's "items" (or
 * the message itself when it is an array). Invariants: no crash, leak or
 * undefined behaviour; every text is valid UTF-8 (jansson takes it back);
 * the sorted list is a permutation of its input; the plan's counts add up;
 * the work list lists each id at most once and only objects with one.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../client/notify-group.c"
#include "../../client/notify-text.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { \
                fprintf(stderr, "fuzz-notify-msg: invariant broken: %s\n", #cond); abort(); } } while (0)

/* Text the notifier would send: valid UTF-8, or NULL (out of memory, or nothing to say). */
static void require_text(char *s)
{
        json_t *j;

        if (!s)
                return;
        j = json_string(s);
        REQUIRE(j != NULL);
        json_decref(j);
        free(s);
}

static void check_list(const json_t *items)
{
        json_t *sorted = notify_group_sorted(items, "2026-03-02"), *cases, *c, *r, *ids;
        size_t i, k, backlog, pop, notes, listed = 0;
        bool group;
        char *out = NULL;
        size_t len = 0;
        FILE *f;

        REQUIRE(sorted && json_array_size(sorted) == json_array_size(items));
        /* one card per reminder: a summary beyond 3 */
        pop = notify_group_plan(items, 3, false, &group, &notes, &backlog);
        REQUIRE(pop + backlog == json_array_size(items));
        REQUIRE(group == (pop > 3));
        REQUIRE(notes == (group ? 1 : pop));
        /* one card per case: never more cards than reminders, the same ones pop up */
        size_t pop_c, notes_c, backlog_c;
        bool group_c;
        pop_c = notify_group_plan(items, 3, true, &group_c, &notes_c, &backlog_c);
        REQUIRE(pop_c == pop && backlog_c == backlog);
        REQUIRE(group_c ? notes_c == 1 : notes_c <= pop_c);
        REQUIRE((pop_c == 0) == (notes_c == 0));
        REQUIRE(!group_c || group);
        for (size_t j = 0; j < json_array_size(items) && j < 16; j++) {
                const char *cs = json_string_value(json_object_get(json_array_get(items, j), "case"));
                if (cs && cs[0])
                        require_text(notify_text_case_summary(NOTIFY_SV, cs, pop_c, pop_c ? 1 : 0));
        }
        require_text(notify_text_case_body(NOTIFY_SV, sorted, 10));
        require_text(notify_text_group_body(NOTIFY_SV, sorted, 10, backlog));
        require_text(notify_text_group_summary(NOTIFY_EN, pop, backlog));
        json_array_foreach(sorted, i, r)
                require_text(notify_text_line(NOTIFY_SV, r));
        cases = notify_group_by_case(items, "2026-03-02");
        ids = json_object();
        REQUIRE(cases && ids);
        json_array_foreach(cases, i, c) {
                json_array_foreach(json_object_get(c, "items"), k, r) {
                        const char *id = json_string_value(json_object_get(r, "id"));
                        REQUIRE(id && !json_object_get(ids, id));
                        json_object_set_new(ids, id, json_true());
                        listed++;
                }
        }
        REQUIRE(listed <= json_array_size(items));
        if ((f = open_memstream(&out, &len))) {
                notify_text_list(NOTIFY_SV, f, cases, "2026-03-02");
                fclose(f);
                require_text(out);
        }
        json_decref(ids);
        json_decref(cases);
        json_decref(sorted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *msg = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL), *items;
        char *sum, *body;

        if (!msg)
                return 0;
        items = json_is_array(msg) ? msg : json_object_get(msg, "items");
        if (json_is_array(items)) {
                json_t *sorted = notify_group_sorted(items, "");
                require_text(notify_text_digest_summary(NOTIFY_SV, msg));
                require_text(notify_text_digest_body(NOTIFY_SV, msg, sorted, 5));
                json_decref(sorted);
                check_list(items);
        }
        if (notify_text_message(msg, &sum, &body) > 0) {
                require_text(sum);
                require_text(body);
        }
        json_decref(msg);
        return 0;
}
