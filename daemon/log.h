/*
 * log.h owns how bevaka reports: one sink, chosen at start (stderr lines with
 * sd-daemon "<N>" level prefixes, or structured journald records), levels
 * after syslog, and a rate limiter so a flood of identical problems is
 * logged once per interval. Messages never carry event payloads or personal
 * data: only ids, rules, counts and reasons.
 */
#pragma once

#include <stdarg.h>
#include <syslog.h>
#include "util.h"

void log_init(const char *ident, int max_level, bool use_journal);
/*
 * True when stderr is the journal's stream socket: JOURNAL_STREAM names the
 * device and inode systemd connected stderr to. Compared with fstat(2) so a
 * service that redirects its stderr elsewhere keeps plain lines.
 */
bool log_journal_detect(void);
void log_set_level(int max_level);
int log_level(void);

void log_msg(int prio, const char *fmt, ...) BK_PRINTF(2, 3);
void log_msgv(int prio, const char *fmt, va_list ap) BK_PRINTF(2, 0);
/* Like log_msg, with strerror(errno) appended. */
void log_errno(int prio, int err, const char *fmt, ...) BK_PRINTF(3, 4);

/*
 * Structured records. Under journald each becomes one entry with MESSAGE,
 * PRIORITY, MESSAGE_ID and the given fields (names in journald's syntax:
 * A-Z, 0-9, _; never payloads or personal data, only ids, rules, counts);
 * on stderr only the message is written, so it must read on its own.
 */
typedef struct log_field {
        const char *name;
        const char *value;
} log_field_t;

void log_struct(int prio, const char *msgid, const log_field_t *fields, size_t n_fields,
                const char *fmt, ...) BK_PRINTF(5, 6);
/* log_struct(prio, id, LOG_FIELDS({ "BEVAKA_RULE", rule }, { "BEVAKA_CASE", id }), "fmt", ...) */
#define LOG_FIELDS(...) ((const log_field_t[]){ __VA_ARGS__ }), \
        BK_ARRAY_SIZE(((const log_field_t[]){ __VA_ARGS__ }))
#define LOG_NO_FIELDS NULL, 0

/*
 * MESSAGE_IDs, one per kind of record, fixed forever (operators filter on
 * them: `journalctl MESSAGE_ID=...`). docs/operations.md lists them.
 */
#define LOG_ID_STARTED       "2774b4a664584faaa869b790938c0aee"
#define LOG_ID_STOPPING      "ff9076004fb04f628153d8e5f2dacc0d"
#define LOG_ID_RELOADED      "09a188246db04e2fabd63bdf702d5e43"
#define LOG_ID_RELOAD_FAILED "050d3e91539d4ea299f57dc957efd9ff"
#define LOG_ID_DEAD_LETTER   "8f1e97f3e38c428d8a2c3b936a517287"
#define LOG_ID_FEED_GAP      "160e1c1c7cba45ca8d968180ac5284c3"
#define LOG_ID_REPLAY        "6731a823703940eaa84d6d1ff88f3245"
#define LOG_ID_DELIVERED     "0fdc668497ec4666a5a4bf0a1745e2ad"
#define LOG_ID_STORE_FAILED  "a463154672024a7bafb474285f3e825c"
#define LOG_ID_SCHEMA        "09d1ababe3fb4d0e8fc633648a5714d9"
#define LOG_ID_RESTORED      "30b276afef0d4186a5ef9dd2e5db78fa"
#define LOG_ID_PURGED        "691f7112c6e947b0bc1d9b99d27e51a1"

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_warn(err, ...) log_errno(LOG_WARNING, (err), __VA_ARGS__)
#define log_errx(...) log_msg(LOG_ERR, __VA_ARGS__)

/*
 * Rate limiting keyed by a short string (a dead-letter reason, a peer):
 * returns true when this key may be logged now, i.e. it was not logged in
 * the last interval_s seconds of `now`. Keeps a small fixed table.
 */
bool log_ratelimit(const char *key, bk_time_t now, int interval_s);
