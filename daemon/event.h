/*
 * event.h owns the case-system event: the v1 envelope, the typed `data` of
 * every known event type, and the codec that validates raw feed bytes into
 * an event_t or says precisely why not (protocol.md §1). It also owns the
 * personnummer/samordningsnummer detector that keeps identity numbers out
 * of case ids (domain.md §3). Pure: no I/O, no clock.
 */
#pragma once

#include "calendar.h"
#include "jw.h"
#include "util.h"

#define EV_ID_MAX      128
#define EV_SOURCE_MAX  64
#define EV_NAME_MAX    64      /* case, unit, actor, caseworker, decision ids */
#define EV_TYPE_MAX    64
#define EV_REASON_MAX  256     /* fia.declined / sip.declined / ib4.exempted reason, on the wire */
#define EV_FREE_TEXT_CHARS 200 /* free text is stored cut to this many characters */
#define EV_MAX_CHILDREN 16
#define EV_RAW_MAX     65536   /* dead letters read at most this many bytes */
#define EV_DEAD_KEPT_MAX 1024  /* what a dead letter keeps of bytes that are not JSON */
#define EV_PARSE_REASON_SIZE 256 /* holds any event_parse() reason whole */

typedef enum ev_type {
        EV_UNKNOWN = 0,            /* valid envelope, type this daemon does not know */
        EV_CASE_OPENED,
        EV_CASE_UPDATED,
        EV_CASE_CLOSED,
        EV_CASE_REOPENED,
        EV_CASEWORKER_ASSIGNED,
        EV_ASSISTANCE_DECIDED,
        EV_CHILD_IMPACT_DOCUMENTED,
        EV_IB1_COMPLETED,
        EV_IB2_COMPLETED,
        EV_IB3_COMPLETED,
        EV_IB4_ESTABLISHED,
        EV_IB4_REVISED,
        EV_IB4_EXEMPTED,
        EV_FIA_STARTED,
        EV_FIA_COMPLETED,
        EV_FIA_DECLINED,
        EV_CHILDREN_MAPPED,
        EV_SUMMER_ALLOWANCE_APPLIED,
        EV_ACTOR_INVOLVED,
        EV_ACTOR_ENDED,
        EV_SIP_INITIATED,
        EV_SIP_MEETING_HELD,
        EV_SIP_ESTABLISHED,
        EV_SIP_FOLLOWED_UP,
        EV_SIP_ENDED,
        EV_SIP_DECLINED,
        EV_HEALTH_FLAGGED,
        EV_WORK_CAPACITY_ASSESSED,
        EV_SAFETY_FOLLOWED_UP,
        EV__COUNT
} ev_type_t;

typedef enum ev_barrier {
        BARRIER_NONE = 0, BARRIER_UNEMPLOYMENT, BARRIER_SICKNESS, BARRIER_SOCIAL_MEDICAL,
        BARRIER_OTHER, BARRIER_UNCLEAR,
} ev_barrier_t;

typedef enum ev_outcome { OUTCOME_NONE = 0, OUTCOME_GRANTED, OUTCOME_PARTIAL, OUTCOME_REFUSED } ev_outcome_t;
typedef enum ev_actor { ACTOR_NONE = 0, ACTOR_AF, ACTOR_FK, ACTOR_REGION, ACTOR_OTHER } ev_actor_t;

typedef struct ev_household {
        int adults;
        bool single_parent;
        int n_children;
        cal_month_t children[EV_MAX_CHILDREN];   /* birth year-month only */
} ev_household_t;

/* Typed `data`. Each has_* flag says whether the member was present. */
typedef struct ev_data {
        bool has_caseworker;   char caseworker[EV_NAME_MAX + 1];
        bool has_household;    ev_household_t household;
        bool has_barrier;      ev_barrier_t barrier;
        bool has_unit;         char unit[EV_NAME_MAX + 1];      /* case.updated: new unit */
        bool has_month;        cal_month_t month;
        ev_outcome_t outcome;
        bool has_decision;     char decision[EV_NAME_MAX + 1];
        bool child_impact_documented;
        bool violence_disclosed;
        bool has_follow_up_at; cal_day_t follow_up_at;
        bool has_until;        cal_day_t until;
        bool has_reason;       char reason[EV_REASON_MAX + 1];  /* masked, cut at EV_FREE_TEXT_CHARS */
        int masked;            /* personnummer masked in the free text */
        bool home_visit;
        bool has_year;         int year;
        ev_actor_t actor;
} ev_data_t;

typedef struct event {
        int v;
        char id[EV_ID_MAX + 1];
        char source[EV_SOURCE_MAX + 1];
        int64_t seq;
        char type_name[EV_TYPE_MAX + 1];
        ev_type_t type;
        bk_time_t at;                     /* UTC instant of `at` */
        char case_id[EV_NAME_MAX + 1];
        char unit[EV_NAME_MAX + 1];
        bool has_actor; char actor[EV_NAME_MAX + 1];
        ev_data_t data;
} event_t;

/*
 * Validates and decodes one event's JSON bytes (not NUL-terminated).
 * Returns 0 and fills *ev; or BK_E_INVALID with a precise reason such as
 * "envelope.seq: must be a positive integer" or "data.month: not YYYY-MM".
 * When the envelope's source and seq were readable even though the event
 * is invalid, ev->source and ev->seq are filled (so seq still advances)
 * and ev->seq > 0; otherwise ev->seq == 0.
 */
int event_parse(const char *buf, size_t len, event_t *ev, char *reason, size_t reason_size);

const char *event_type_name(ev_type_t t);          /* "ib3.completed"; NULL for EV_UNKNOWN */
ev_type_t event_type_from_name(const char *name);  /* EV_UNKNOWN if not a v1 type */
const char *event_barrier_name(ev_barrier_t b);    /* "sickness"; NULL for NONE */
const char *event_actor_name(ev_actor_t a);        /* "af" */
const char *event_outcome_name(ev_outcome_t o);    /* "granted" */

/*
 * True when s holds a Swedish personnummer or samordningsnummer (pnr.h: the
 * shapes of domain.md §3 and the forms people type).
 */
bool event_has_personnummer(const char *s);

/*
 * The stored form of a valid event (protocol.md §1): the envelope members and
 * the `data` members its type names, nothing else, in protocol order, as
 * compact JSON that event_parse() reads back to the same event_t; `at` in
 * UTC. An unknown type keeps its envelope and an empty `data`. malloc'd;
 * NULL on out of memory.
 */
char *event_normalize(const event_t *ev, size_t *len);
/*
 * The same form in two parts, as the event log keeps it: the head (`v` and
 * the envelope members up to `case`, which the log has as columns) and the
 * tail (`{"unit":…, "actor":…, "data":{…}}`, the log's `body`).
 * event_write_join() writes the whole form from the columns and a stored
 * tail; BK_E_INVALID when the tail is not an object's text.
 */
void event_write_head(jw_t *w, const char *id, const char *source, int64_t seq, const char *type,
                      bk_time_t at, const char *case_id);
void event_write_tail(jw_t *w, const event_t *ev);
int event_write_join(jw_t *w, const char *id, const char *source, int64_t seq, const char *type,
                     bk_time_t at, const char *case_id, const char *tail, size_t tail_len);
/*
 * What a dead letter keeps of bytes that failed (reason from event_parse):
 * when they parse as a JSON object, only the envelope position members and
 * the member the reason names; otherwise the bytes, cut at EV_DEAD_KEPT_MAX.
 * Every personnummer-shaped run is masked either way, free text is cut.
 * malloc'd; NULL on out of memory.
 */
char *event_dead_letter_form(const char *raw, size_t len, const char *reason, size_t *out_len);
