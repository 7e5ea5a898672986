/*
 * notify-group.c owns the notifier's ordering and grouping decisions (see
 * notify-group.h): pure functions over the protocol's reminder objects,
 * shared by the pop-ups, the summary notification, the digest and the work
 * list, so "most urgent first" means one thing everywhere. A missing or
 * malformed member sorts as an empty string, last among dates: a reminder
 * a newer daemon shapes differently is still listed, never dropped.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "notify-group.h"

static const char *group_str(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

bool notify_group_backlog(const json_t *r)
{
        return json_is_true(json_object_get(r, "backlog"));
}

bool notify_group_overdue(const json_t *r, const char *today)
{
        const char *due = group_str(r, "due_at"), *at = group_str(r, "deliver_at");

        if (strcmp(group_str(r, "severity"), "overdue") == 0)
                return true;
        if (strlen(due) < 10)
                return false;
        if (today && strlen(today) >= 10 && strncmp(due, today, 10) < 0)
                return true;
        return strlen(at) >= 10 && strncmp(due, at, 10) < 0;
}

static int group_rank(const json_t *r)
{
        const char *sev = group_str(r, "severity");

        if (strcmp(sev, "overdue") == 0)
                return 0;
        if (strcmp(sev, "due") == 0)
                return 1;
        if (strcmp(sev, "info") == 0)
                return 2;
        return 3;
}

/* Dates compare as text (ISO 8601); an empty one sorts last. */
static int group_date_cmp(const char *a, const char *b)
{
        if (!a[0] || !b[0])
                return !a[0] - !b[0];
        return strcmp(a, b);
}

int notify_group_cmp(const json_t *a, const json_t *b, const char *today)
{
        static const char *const keys[] = { "case", "rule", "id" };
        int c = (int)notify_group_overdue(b, today) - (int)notify_group_overdue(a, today);

        if (c)
                return c;
        if ((c = group_date_cmp(group_str(a, "due_at"), group_str(b, "due_at"))))
                return c;
        if ((c = group_rank(a) - group_rank(b)))
                return c;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if ((c = strcmp(group_str(a, keys[i]), group_str(b, keys[i]))))
                        return c;
        return 0;
}

static int group_qsort_cmp(const void *a, const void *b, void *today)
{
        return notify_group_cmp(*(json_t *const *)a, *(json_t *const *)b, today);
}

json_t *notify_group_sorted(const json_t *list, const char *today)
{
        size_t n = json_array_size(list), i;
        json_t **v = calloc(n ? n : 1, sizeof(*v)), *out = json_array();

        if (!v || !out) {
                free(v);
                json_decref(out);
                return NULL;
        }
        for (i = 0; i < n; i++)
                v[i] = json_array_get(list, i);
        qsort_r(v, n, sizeof(*v), group_qsort_cmp, (void *)(today ? today : ""));
        for (i = 0; i < n; i++)
                json_array_append(out, v[i]);
        free(v);
        return out;
}

size_t notify_group_plan(const json_t *items, int max_single, bool by_case, bool *group, size_t *notes,
                         size_t *backlog)
{
        json_t *cases = json_object(), *r;
        size_t i, pop = 0, cards = 0;

        *backlog = 0;
        json_array_foreach(items, i, r) {
                const char *c = group_str(r, "case");
                if (notify_group_backlog(r)) {
                        (*backlog)++;
                        continue;
                }
                pop++;
                /* a reminder without a case is a card of its own */
                if (!by_case || !c[0] || !cases || !json_object_get(cases, c)) {
                        cards++;
                        if (c[0] && cases)
                                json_object_set_new(cases, c, json_true());
                }
        }
        json_decref(cases);
        *group = cards > (size_t)(max_single < 0 ? 0 : max_single);
        *notes = *group ? 1 : cards;
        return pop;
}

json_t *notify_group_by_case(const json_t *reminders, const char *today)
{
        json_t *ids = json_object(), *byc = json_object(), *flat = json_array(), *cases = json_array();
        json_t *sorted = NULL, *cur, *r;
        size_t i;

        if (!ids || !byc || !flat || !cases)
                goto fail;
        json_array_foreach(reminders, i, r) {
                const char *id = json_string_value(json_object_get(r, "id"));
                if (!json_is_object(r) || !id || json_object_get(ids, id))
                        continue;
                json_object_set_new(ids, id, json_true());
                json_array_append(flat, r);
        }
        /* Sorted once, most urgent first: a case's first appearance is its most urgent item. */
        if (!(sorted = notify_group_sorted(flat, today)))
                goto fail;
        json_array_foreach(sorted, i, r) {
                const char *c = group_str(r, "case");

                if (!(cur = json_object_get(byc, c))) {
                        cur = json_pack("{s:s, s:i, s:[]}", "case", c, "overdue", 0, "items");
                        json_array_append_new(cases, cur);
                        json_object_set(byc, c, cur);
                }
                json_array_append(json_object_get(cur, "items"), r);
                if (notify_group_overdue(r, today))
                        json_object_set_new(cur, "overdue",
                                            json_integer(json_integer_value(json_object_get(cur, "overdue")) + 1));
        }
        json_decref(ids);
        json_decref(byc);
        json_decref(flat);
        json_decref(sorted);
        return cases;
fail:
        json_decref(ids);
        json_decref(byc);
        json_decref(flat);
        json_decref(sorted);
        json_decref(cases);
        return NULL;
}
