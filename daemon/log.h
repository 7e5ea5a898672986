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
void log_set_level(int max_level);
int log_level(void);

void log_msg(int prio, const char *fmt, ...) BK_PRINTF(2, 3);
void log_msgv(int prio, const char *fmt, va_list ap) BK_PRINTF(2, 0);
/* Like log_msg, with strerror(errno) appended. */
void log_errno(int prio, int err, const char *fmt, ...) BK_PRINTF(3, 4);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_warn(err, ...) log_errno(LOG_WARNING, (err), __VA_ARGS__)
#define log_errx(...) log_msg(LOG_ERR, __VA_ARGS__)

/* Logs a failure where it was born and passes the error up unchanged. */
#define error_origin(r) ({ int _r = (r); \
        log_msg(LOG_ERR, "%s:%d: %s: %s", __FILE__, __LINE__, __func__, strerror(_r < 0 ? -_r : _r)); _r; })

/*
 * Rate limiting keyed by a short string (a dead-letter reason, a peer):
 * returns true when this key may be logged now, i.e. it was not logged in
 * the last interval_s seconds of `now`. Keeps a small fixed table.
 */
bool log_ratelimit(const char *key, bk_time_t now, int interval_s);
