/*
 * config.h owns the daemon's configuration: config_load() is the only user
 * of libconfig and turns a file (or the embedded default text) into this
 * plain, validated struct. Every error names the file, line and setting
 * ("FILE:LINE: setting: problem"). config_print() writes the normalised
 * form that `bevakad --check-config` prints and golden tests compare.
 * config_load_keys() reads the other libconfig file, the key list.
 */
#pragma once

#include <stdio.h>
#include "calendar.h"
#include "name.h"
#include "rules.h"

#define CFG_PATH_MAX 1024
#define CFG_MAX_FEEDS 16
#define CFG_MAX_SOURCES 16               /* sources one feed may declare */

typedef struct cfg_feed {
        char endpoint[CFG_PATH_MAX];
        char replay_endpoint[CFG_PATH_MAX];
        char server_key[CFG_PATH_MAX];   /* adapter's public key file (CURVE client); "" = none */
        /* the `source` values this adapter carries (name.h's grammar); none declared: the
         * feed carries one source, the first it is heard from (config_feed_carries) */
        int n_sources;
        char sources[CFG_MAX_SOURCES][NAME_CHARS_MAX + 1];
} cfg_feed_t;

/* Retention (gallring, docs/privacy.md); 0 months = the rules' look-back (config_lookback_months). */
typedef struct retention_cfg {
        int closed_case_months;          /* a closed case: state, events, reminders */
        int reminder_months;             /* resolved, cancelled (dismissed) reminders */
        int dead_letter_days;            /* 30 */
        int dead_letter_max;             /* 10000: the newest kept */
} retention_cfg_t;

/* How reminders reach people (domain §5 "Fewer, better items"; docs/operations.md). */
typedef struct delivery_cfg {
        bool quiet;                      /* true: supersedes, catch-up windows, go-live backlog, digests */
        int behind_days;                 /* 7: a replay behind the clock by more is a go-live */
        int summary_items;               /* 12: the most urgent listed in a go-live summary */
} delivery_cfg_t;

typedef struct config {
        char file[CFG_PATH_MAX];         /* where it came from; "(embedded)" for the default */

        /* store */
        char store_path[CFG_PATH_MAX];   /* absolute after load (relative = to the config's dir) */
        bool store_sync_full;            /* synchronous = "full" (default) | "normal" */
        int store_batch;                 /* max events per transaction, default 1000 */

        /* feeds: `feed` and/or `feeds = ( … )` */
        int n_feeds;
        cfg_feed_t feeds[CFG_MAX_FEEDS];
        int feed_silence_s;              /* 5 */

        char publish_endpoint[CFG_PATH_MAX];
        char api_endpoint[CFG_PATH_MAX];

        /* clock */
        bool clock_manual;
        bk_time_t clock_start;           /* manual mode start; 0 = system time at start */

        /* security */
        bool curve;
        char secret_key_file[CFG_PATH_MAX];
        char public_key_file[CFG_PATH_MAX];
        char keys_file[CFG_PATH_MAX];    /* key list */

        /* limits */
        int max_msg_size;                /* ZMQ_MAXMSGSIZE, 65536 */
        int hwm;                         /* send/receive HWM, 100000 */

        /* log */
        int log_level;                   /* syslog level, LOG_INFO */

        retention_cfg_t retention;
        delivery_cfg_t delivery;

        cal_cfg_t calendar;
        rules_cfg_t rules;
} config_t;

/* The longest look-back in months of the enabled rules: what a closed case's facts must be kept
 * for, so a reopened case is judged on its history (24 with the default FIA validity). */
int config_lookback_months(const rules_cfg_t *rules);

/* The built-in configuration text (local demo: ipc endpoints, manual clock, curve off). */
extern const char config_default_text[];

void config_defaults(config_t *cfg);
/*
 * Loads `path` (or the embedded default when path is NULL, with relative
 * paths resolved against `base_dir`, or the cwd if NULL) into *cfg.
 * Returns 0, or BK_E_INVALID with "FILE:LINE: setting: problem" in err.
 */
int config_load(const char *path, const char *base_dir, config_t *cfg, char *err, size_t err_size);
/*
 * A reload applies the rules, the calendar, retention and the log level at once; the rest
 * (endpoints, the store, the clock, security, limits) is taken at start only. Calls fn with
 * the name of each of those settings that differs between the running configuration and the
 * one just loaded ("feeds" for any change to the feeds), so a reload can say what waits for
 * a restart instead of dropping it silently.
 */
void config_restart_settings(const config_t *run, const config_t *next,
                             void (*fn)(void *ud, const char *setting), void *ud);
/*
 * Whether an event of `source` heard on feed `feed` may be sequenced (protocol §1: per-source
 * positions), so that junk `source` values cannot fill the table of positions for ever:
 * CFG_ALLOW when the feed declares the source; CFG_REFUSE when it declares others, or another
 * feed declares it. A feed that declares none carries the sources already known (`known`: a
 * position is stored or held for it) that no feed declares, and a new one only while fewer such
 * sources are known than there are feeds without a declaration: one each, the first heard.
 * n_known_undeclared is how many known sources no feed declares.
 */
typedef enum cfg_carry { CFG_ALLOW = 0, CFG_REFUSE_OTHER, CFG_REFUSE_FULL } cfg_carry_t;
cfg_carry_t config_feed_carries(const config_t *cfg, int feed, const char *source, bool known,
                                int n_known_undeclared);
/* Whether any feed declares source (a source no feed declares counts against the default). */
bool config_source_declared(const config_t *cfg, const char *source);
/* Prints the normalised configuration as libconfig text, every setting explicit. */
void config_print(const config_t *cfg, FILE *f);

struct keys;
/*
 * Loads a key list (docs/security.md): a libconfig file whose one setting
 * is `keys = ( { key = "<Z85>"; user = "…"; role = "caseworker" | "lead" |
 * "admin" | "feed"; units = [ "…", … ]; comment = "…"; }, … );`, which
 * neither the group nor others may write (sshd's StrictModes). Fills
 * *out (sorted, to be keys_clear()ed) or returns BK_E_INVALID with
 * "FILE:LINE: setting: problem" in err and *out untouched.
 */
int config_load_keys(const char *path, struct keys *out, char *err, size_t err_size);
/*
 * What `--check-config` asks of an existing key list: config_load_keys() (which refuses a list
 * the group or others may write), and at least one admin key, since a list without one locks
 * every admin out. 0 or BK_E_INVALID / -errno with "FILE:LINE: setting: problem" in err.
 */
int config_check_keys(const char *path, char *err, size_t err_size);
