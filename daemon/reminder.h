/*
 * reminder.h owns the reminder as the daemon keeps and publishes it: its
 * fields, its lifecycle states (domain.md §5), its topics (protocol §2) and
 * its wire form. The store persists reminder_t rows; the engine decides
 * transitions; this file only says what a reminder is and how it looks.
 */
#pragma once

#include <jansson.h>
#include "rules.h"

typedef enum rem_state {
        REM_SCHEDULED = 0,
        REM_DELIVERED,
        REM_ACKNOWLEDGED,
        REM_SNOOZED,
        REM_RESOLVED,
        REM_CANCELLED,
        REM__STATE_COUNT
} rem_state_t;

/*
 * How a reminder is delivered when its moment comes (deliver.c decides it once, when the
 * reminder is made): it pops up, it is listed as backlog (learned after its rule's catch-up
 * window, or found due by a go-live import, which also counts it into the caseworker's
 * one summary), or it expires unseen (a rule that only matters near its moment). A
 * reminder handed over with its case becomes backlog for the new caseworker: the
 * HANDOVER's one pop-up lists it.
 */
typedef enum rem_delivery {
        REM_POPUP = 0,
        REM_BACKLOG_LATE,
        REM_BACKLOG_GOLIVE,
        REM_EXPIRE,
        REM_BACKLOG_HANDOVER,
} rem_delivery_t;

/* Stored with `delivery` in its column: a leads' digest has listed the reminder; its caseworker's
 * go-live summary has counted it (a summary is built from these rows, so a crash loses none). */
#define REM_DIGESTED_BIT 16
#define REM_SUMMARIZED_BIT 32
#define REM_DELIVERY_MASK 15

/* close_reason of a reminder an escalation replaced: the escalation's id follows. */
#define REM_SUPERSEDED_BY "superseded by "

#define REM_ID_MAX 20
#define REM_TOPIC_MAX (4 + 2 * EV_NAME_MAX + 4)

typedef struct reminder {
        char id[REM_ID_MAX];
        char case_id[EV_NAME_MAX + 1];
        int rule;                                 /* rule_id_t */
        char cycle[RULE_CYCLE_MAX];
        char unit[EV_NAME_MAX + 1];
        char caseworker[EV_NAME_MAX + 1];         /* "" = none yet: routed to leads */
        bool to_caseworker;
        bool to_leads;
        severity_t severity;
        cal_day_t due;
        bk_time_t deliver_at;                     /* next (re)delivery moment */
        rem_state_t state;
        char title[RULE_TEXT_MAX];
        char body[2048];
        char why[RULE_WHY_MAX];                   /* JSON object text from the rules */
        char event_id[EV_ID_MAX + 1];             /* the event that created it */
        bk_time_t created_at;
        bk_time_t delivered_at;                   /* first delivery; 0 = never */
        bk_time_t closed_at;                      /* resolved/cancelled; 0 = open */
        char close_reason[64];
        rem_delivery_t delivery;                  /* decided once, when it is made */
        bool digested;                            /* a leads' digest listed it */
        bool summarized;                          /* its caseworker's go-live summary counted it */
        int64_t row;                              /* the store's row while it is read (0: none) */
} reminder_t;

const char *reminder_state_name(rem_state_t s);
int reminder_state_from_name(const char *name);     /* -1 if unknown */
const char *reminder_severity_name(severity_t s);
bool reminder_is_open(const reminder_t *r);          /* not resolved or cancelled */
bool reminder_was_delivered(const reminder_t *r);    /* delivered at least once */

/* rem/<unit>/<caseworker>/ ; caseworker-less reminders go to the leads. */
void reminder_topic_caseworker(const reminder_t *r, char *buf, size_t n);
void reminder_topic_leads(const reminder_t *r, char *buf, size_t n);
/*
 * Protocol §2 message: v, rseq, op, id, rule, case, unit, caseworker,
 * severity, due_at, deliver_at, title, body; with_state adds "state" (API).
 * v1.1 (protocol §6): "backlog": true for a backlog reminder, and on a
 * `resolved` of a superseded one "superseded_by" with the escalation's id.
 */
/* Listed, not popped up: "backlog": true on the wire. */
static inline bool reminder_is_backlog(const reminder_t *r)
{
        return r->delivery == REM_BACKLOG_LATE || r->delivery == REM_BACKLOG_GOLIVE ||
               r->delivery == REM_BACKLOG_HANDOVER;
}
json_t *reminder_to_json(const reminder_t *r, const char *op, int64_t rseq, bool with_state);
