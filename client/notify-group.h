/*
 * notify-group.h owns bevaka-notify's decisions about many items at once,
 * with no process, socket or bus in them so they are tested alone: the
 * order "most urgent first" (overdue, then by due date), which of a
 * moment's reminders pop up one by one and when they become one summary,
 * and the work list of --list (grouped by case, the most urgent case
 * first). Reminders are the protocol's JSON objects (protocol.md §2, §6).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

/* Most items that still pop up one by one at one moment; more become one summary. */
#define NOTIFY_GROUP_DEFAULT 3

/* "backlog": true (protocol §6): delivered late, listed and counted, never popped up. */
bool notify_group_backlog(const json_t *r);

/*
 * Whether a reminder is overdue: its severity says so, or its due date lies
 * before `today` ("YYYY-MM-DD"; "" for none) or before the day it was
 * delivered.
 */
bool notify_group_overdue(const json_t *r, const char *today);

/*
 * Most urgent first: overdue before not, then the earlier due date, then
 * severity (overdue, due, info), then case, rule and id, so the order is
 * total and the same in every run.
 */
int notify_group_cmp(const json_t *a, const json_t *b, const char *today);

/* A new array with the objects of `list` (referenced, not copied) in that order; NULL when out of memory. */
json_t *notify_group_sorted(const json_t *list, const char *today);

/*
 * How one moment's reminders are shown. The backlog ones never pop up. The
 * others make cards, one per case (`by_case`; else one per reminder): what
 * one event raised in one case (a reopening's overdue plan and FIA, a
 * handover's note) is one notification, so the caseworker opens the case
 * once. Up to `max_single` cards pop up one
 * by one; more become one summary of them all. Returns the number of
 * reminders that pop up (on cards, or in the summary) and sets *group when
 * they are a summary, *notes to the notifications that pop up (the cards, 1
 * for a summary, 0 for none) and *backlog to how many are backlog.
 */
size_t notify_group_plan(const json_t *items, int max_single, bool by_case, bool *group, size_t *notes,
                         size_t *backlog);

/*
 * The work list: [{"case": C, "overdue": n, "items": [reminders]}, …],
 * items in the order above, and cases by their most urgent item. Objects
 * without a string "id" are left out; an id listed twice (a reminder on
 * two of the user's topics) is listed once. NULL when out of memory.
 */
json_t *notify_group_by_case(const json_t *reminders, const char *today);
