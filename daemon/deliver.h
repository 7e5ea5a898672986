/*
 * deliver.h owns how reminders reach people (domain §5, "Fewer, better
 * items"; docs/rules.md §5 "Delivery"): how a new reminder will be
 * delivered (pop-up, backlog, expiry) given its rule's catch-up window and
 * whether it was found by a go-live import; which leads' copies go into the
 * unit's daily digest instead of the leads' topic; the one summary each
 * caseworker gets after a go-live; the digests themselves; and the history
 * `why` shows for an escalation that superseded an earlier reminder. It
 * decides and builds messages; the engine stores, queues and publishes them.
 */
#pragma once

#include <jansson.h>
#include "config.h"
#include "reminder.h"
#include "store.h"

/* What the engine lends deliver.c to publish a message: an rseq, then the message to queue. */
typedef struct deliver_out {
        int64_t (*next_rseq)(void *ud);
        int (*queue)(void *ud, const char *topic, json_t *msg);    /* takes msg */
        void *ud;
} deliver_out_t;

/* An event `at` applied at `now` while ingest catches up, older than delivery.behind_days: a go-live. */
bool deliver_is_golive(const config_t *cfg, bool catching_up, bk_time_t now, bk_time_t at);
/* How r (due, rule set) will be delivered, decided when it is learned at `learned`; golive_until
 * is the moment of the go-live import it belongs to (0: none): what was due by then is backlog. */
rem_delivery_t deliver_mode(const config_t *cfg, const reminder_t *r, bk_time_t learned, bk_time_t golive_until);
/* r's leads' copy goes into the unit's digest: nothing about it is published on the leads' topic. */
bool deliver_leads_in_digest(const config_t *cfg, const reminder_t *r);

/* ---- go-live summaries: one per caseworker, after the import's deliveries ---- */

/* Queues one summary per caseworker with open go-live backlog reminders that no summary has
 * counted, and marks them counted: how many summaries, or -errno. */
int deliver_summaries(const config_t *cfg, store_t *store, bk_time_t now, const deliver_out_t *out);

/* ---- leads' digests --------------------------------------------------------- */

/* A digest round is due: a working moment of a day whose round (after last) has not run. */
bool deliver_digest_due(const config_t *cfg, bk_time_t last, bk_time_t now);
/* Queues one digest per unit with the leads' copies delivered by now that no digest has listed
 * (since: the last round's time, 0 for never); how many, or -errno. */
int deliver_digests(const config_t *cfg, store_t *store, bk_time_t since, bk_time_t now, const deliver_out_t *out);

/* ---- why -------------------------------------------------------------------- */

/* Adds "delivery" and, for an escalation, "supersedes" (the reminder it replaced) to a `why` reply. */
void deliver_why(store_t *store, const reminder_t *r, json_t *why);
