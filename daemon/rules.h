/*
 * rules.h owns the domain's state machines (domain.md §3–§5): per case the
 * facts (status, unit, caseworker, household, barrier, granted months,
 * long-term detection) and the tracks IB, FIA, children, SIP, continuity and
 * the second-release rules. The engine is pure and table-driven:
 *   rules_apply(cfg, state, event) -> state', actions
 *   rules_tick(cfg, state, day)    -> state', actions   (time-driven transitions)
 * It reads no clock, does no I/O, and allocates only what it returns. The
 * same events always give the same state and the same actions; reminder
 * ids are deterministic from (case, rule, cycle). docs/rules.md has the
 * transition tables, the cycles and every decision the domain left open.
 */
#pragma once

#include "calendar.h"
#include "event.h"

typedef enum rule_id {
        RULE_IB3_DUE = 0,
        RULE_IB4_DUE,
        RULE_IB4_FOLLOWUP,
        RULE_IB4_OVERDUE,
        RULE_FIA_DUE,
        RULE_FIA_OVERDUE,
        RULE_FIA_STALLED,
        RULE_CHILD_MAP,
        RULE_CHILD_FOLLOWUP,
        RULE_SUMMER_ALLOWANCE,
        RULE_CHILD_IMPACT,
        RULE_SIP_CONSIDER,
        RULE_SIP_MEETING,
        RULE_SIP_FOLLOWUP,
        RULE_HANDOVER,
        RULE_CONTINUITY,
        RULE_WORK_CAPACITY,
        RULE_SAFETY_FOLLOWUP,
        RULE__COUNT
} rule_id_t;

typedef enum severity { SEV_INFO = 0, SEV_DUE, SEV_OVERDUE } severity_t;

typedef enum rule_offset_unit { OFFSET_NONE = 0, OFFSET_DAYS, OFFSET_MONTHS } rule_offset_unit_t;

enum { RULE_TEXT_TITLE_SV = 0, RULE_TEXT_TITLE_EN, RULE_TEXT_BODY_SV, RULE_TEXT_BODY_EN, RULE_TEXT__COUNT };

/*
 * One rule, everything that is not a transition (rules-def.c). A rule id
 * leads by one grep to this row, the transition rows that name it
 * (rules-table.c) and the actions that arm, resolve or cancel it.
 */
typedef struct rule_def {
        rule_id_t id;
        const char *name;                /* stable id: "FIA-OVERDUE" (reminder ids, the wire, docs) */
        const char *conf;                /* its config group: "FIA_OVERDUE" */
        const char *track;               /* the track that arms it (docs/rules.md §4): "fia" */
        severity_t severity;
        bool to_caseworker;
        bool to_leads;
        /*
         * Remembered while the case is closed and scheduled again (new cycle)
         * when it reopens. Level-triggered rules are not: they are evaluated
         * afresh. Per-decision and per-change rules are not: closing ends them.
         */
        bool rearm;
        /* About health, violence or a child: never paired with a case id in a log. */
        bool sensitive;
        rule_offset_unit_t offset_unit; /* OFFSET_NONE: due at once or on a date of its own */
        int offset;                      /* the default, in offset_unit */
        const char *offset_key;          /* the config key that sets it: "offset_days" */
        const char *text[RULE_TEXT__COUNT];  /* built-in title and body, Swedish and English */
        /*
         * Delivery (docs/rules.md §5, "Delivery"). supersedes: the earlier reminder of the same
         * obligation (same case and cycle) that this escalation replaces when it is delivered;
         * -1 none. catch_up_days: how long after its due moment a reminder may still be
         * learned and pop up; later it is backlog, or it expires when late_expires (a rule
         * that only matters near its moment). leads_digest: the leads' copy goes into the
         * unit's daily digest instead of popping up on the leads' topic.
         */
        int supersedes;
        int catch_up_days;
        bool late_expires;
        bool leads_digest;
} rule_def_t;

extern const rule_def_t rule_def[RULE__COUNT];

#define RULE_TEXT_MAX 512

/* Per-rule settings; every number in domain.md is a default here. */
typedef struct rule_cfg {
        bool enabled;
        int offset_days;                 /* "+N days" rules (IB3-DUE 14, IB4-DUE 30, …) */
        int offset_months;               /* "+N months" rules (IB4-FOLLOWUP 3, …) */
        char title[RULE_TEXT_MAX];       /* override; "" = built-in text for cfg lang */
        char body[RULE_TEXT_MAX];        /* override; "" = built-in text */
        int catch_up_days;               /* rule_def[].catch_up_days */
        bool leads_digest;               /* rule_def[].leads_digest */
} rule_cfg_t;

typedef struct rules_cfg {
        rule_cfg_t rule[RULE__COUNT];
        char lang[3];                    /* "sv" (default) or "en" */
        int long_term_months;            /* 10 */
        int long_term_window_months;     /* 12; 0 = cumulative since first opening */
        int fia_valid_months;            /* 24 */
        int ib4_exempt_months;           /* 6: default `until` of ib4.exempted */
        int summer_check_month;          /* 5 */
        int summer_check_day;            /* 2 */
        int summer_expire_month;         /* 7 (expires 1 July) */
        int summer_min_months;           /* 10 granted months in the window before the check month */
        int continuity_changes;          /* 2 changes … */
        int continuity_window_months;    /* … within 12 months */
        int adult_age;                   /* 18 */
} rules_cfg_t;

void rules_cfg_default(rules_cfg_t *cfg);
const char *rules_name(rule_id_t r);             /* "FIA-DUE" */
int rules_from_name(const char *name);           /* rule_id_t or -1 */
bool rules_sensitive(rule_id_t r);               /* never logged beside a case id */
/* Title and body for a rule in the configured language, honouring overrides. */
const char *rules_title(const rules_cfg_t *cfg, rule_id_t r);
const char *rules_body(const rules_cfg_t *cfg, rule_id_t r);

/* ---- per-case state -------------------------------------------------------- */

/* Opaque; owned by the rules engine, serialised by it for the store. */
typedef struct case_state case_state_t;

case_state_t *rules_state_new(const char *case_id);
void rules_state_free(case_state_t **st);
/*
 * Store form: a compact, versioned binary blob. encode writes at most cap
 * bytes and returns the length the whole form needs (snprintf-like: call
 * again with a larger buffer when it is more than cap). decode reads that
 * form and also the JSON form older stores hold; 0, BK_E_INVALID or -ENOMEM.
 */
size_t rules_state_encode(const case_state_t *st, uint8_t *buf, size_t cap);
int rules_state_decode(const void *buf, size_t len, case_state_t **out);
/* The same fields as JSON, for tests, debugging and stores of schema 1. */
char *rules_state_to_json(const case_state_t *st);               /* malloc'd */
int rules_state_from_json(const char *json, case_state_t **out);  /* 0 or BK_E_INVALID */
/* Never NULL; "" when not known yet (a case first seen without a caseworker). */
const char *rules_state_case(const case_state_t *st);
const char *rules_state_unit(const case_state_t *st);
const char *rules_state_caseworker(const case_state_t *st);
/* False for a state no event has been applied to yet. */
bool rules_state_open(const case_state_t *st);
/* Long-term episodes so far (domain §3): it grows by one when the case becomes long-term. */
int rules_state_lt_episode(const case_state_t *st);
/*
 * The API's view of a case (protocol §3 `case`): case, status, unit,
 * caseworker, granted_months, long_term_since, tracks {ib, fia, children,
 * sip} each with at least `state`. New reference. Also: long_term,
 * household {adults, single_parent, children (counting ones)}, barrier,
 * actors, health_flagged, tracks {safety, continuity, work_capacity}.
 * Dates are "YYYY-MM-DD", months "YYYY-MM", unknown ones null.
 */
struct json_t;
struct json_t *rules_state_view(const case_state_t *st);

/* ---- actions ------------------------------------------------------------- */

typedef enum rule_act_kind {
        ACT_SCHEDULE = 1,  /* create reminder (case, rule, cycle) unless it exists */
        ACT_RESOLVE,       /* resolve the open reminder(s) of (case, rule[, cycle]) */
        ACT_CANCEL,        /* cancel the open reminder(s) of (case[, rule[, cycle]]) */
        ACT_REROUTE,       /* move every open reminder of the case to `caseworker` */
} rule_act_kind_t;

#define RULE_CYCLE_MAX 80
#define RULE_WHY_MAX 512
#define RULES_MAX_ACTIONS 48

typedef struct rule_action {
        rule_act_kind_t kind;
        int rule;                        /* rule_id_t; -1 = any rule (CANCEL/REROUTE) */
        char cycle[RULE_CYCLE_MAX];      /* "" = any cycle (RESOLVE/CANCEL) */
        /* ACT_SCHEDULE */
        cal_day_t due;                   /* local due date */
        severity_t severity;
        bool to_caseworker;
        bool to_leads;
        char body[RULE_TEXT_MAX];        /* "" = rules_body(); HANDOVER puts its summary here */
        char why[RULE_WHY_MAX];          /* JSON object text: the dates that made it */
        /* ACT_REROUTE */
        char caseworker[EV_NAME_MAX + 1];
} rule_action_t;

/* rules_apply and rules_tick reset n; act[] is in the order the store must apply it. */
typedef struct rules_out {
        int n;
        rule_action_t act[RULES_MAX_ACTIONS];
} rules_out_t;

/*
 * Applies one valid event to the case's state (the caller keeps per-case
 * states; st is for ev->case_id). Returns 0, or BK_E_INVALID for an event
 * that cannot apply (the caller records it; state is then unchanged).
 * Time-driven transitions up to the event's local date run first.
 * Cannot apply: another case's id; case.closed on a closed case;
 * case.reopened on an open one; a second case.opened on an open case;
 * data the type needs is missing. EV_UNKNOWN returns 0 and changes nothing.
 * Events on a closed case update its facts and tracks but schedule nothing;
 * what is pending is scheduled again when the case reopens. Negative
 * (-ENOMEM, -ENOBUFS) is fatal, as everywhere.
 */
int rules_apply(const rules_cfg_t *cfg, case_state_t *st, const event_t *ev, rules_out_t *out);

/* Runs time-driven transitions (children ageing out, summer-allowance check
 * and expiry, exemption expiry, work-capacity lapse) up to and including `day`. */
int rules_tick(const rules_cfg_t *cfg, case_state_t *st, cal_day_t day, rules_out_t *out);

/* The next local date on which rules_tick could change something (always after the
 * last day ticked); INT32_MAX for never. Changes only through rules_apply/rules_tick. */
cal_day_t rules_next_wake(const rules_cfg_t *cfg, const case_state_t *st);

/*
 * The handover summary's second half (rules-handover.c has both): the rules
 * put the case's facts into the HANDOVER body; the engine then appends one
 * line per open reminder with rules_handover_list (whole lines only, "…"
 * when the rest does not fit) and closes it with rules_handover_end, which
 * says so when nothing was listed after `before` bytes.
 */
void rules_handover_list(const rules_cfg_t *cfg, char *body, size_t size, rule_id_t rule,
                         const char *title, cal_day_t due, cal_day_t today);
void rules_handover_end(const rules_cfg_t *cfg, char *body, size_t size, size_t before);

/* Deterministic reminder id "r-" + 16 hex digits from (case, rule, cycle). */
void rules_reminder_id(const char *case_id, rule_id_t rule, const char *cycle, char out[20]);
