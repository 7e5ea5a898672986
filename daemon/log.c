/*
 * log.c owns the process's log sink. Under journald (JOURNAL_STREAM set, or
 * asked for explicitly) records go through sd_journal_send with PRIORITY and
 * SYSLOG_IDENTIFIER; otherwise each message is one stderr line prefixed with
 * the sd-daemon "<N>" level so journald or a terminal both read it right.
 */
#include <stdio.h>
#include <systemd/sd-journal.h>
#include "log.h"

static struct {
        const char *ident;
        int max_level;
        bool journal;
} log_state = { "bevaka", LOG_INFO, false };

void log_init(const char *ident, int max_level, bool use_journal)
{
        log_state.ident = ident;
        log_state.max_level = max_level;
        log_state.journal = use_journal;
}

void log_set_level(int max_level) { log_state.max_level = max_level; }
int log_level(void) { return log_state.max_level; }

void log_msgv(int prio, const char *fmt, va_list ap)
{
        char buf[1024];

        if (prio > log_state.max_level)
                return;
        vsnprintf(buf, sizeof(buf), fmt, ap);
        if (log_state.journal) {
                sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%d", prio,
                                "SYSLOG_IDENTIFIER=%s", log_state.ident, NULL);
                return;
        }
        fprintf(stderr, "<%d>%s: %s\n", prio, log_state.ident, buf);
}

void log_msg(int prio, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        log_msgv(prio, fmt, ap);
        va_end(ap);
}

void log_errno(int prio, int err, const char *fmt, ...)
{
        char buf[768];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        log_msg(prio, "%s: %s", buf, strerror(err < 0 ? -err : err));
}

#define RL_SLOTS 64

bool log_ratelimit(const char *key, bk_time_t now, int interval_s)
{
        static struct { char key[64]; bk_time_t last; } slots[RL_SLOTS];
        size_t oldest = 0;

        for (size_t i = 0; i < RL_SLOTS; i++) {
                if (slots[i].key[0] && strncmp(slots[i].key, key, sizeof(slots[i].key) - 1) == 0) {
                        if (now - slots[i].last < interval_s)
                                return false;
                        slots[i].last = now;
                        return true;
                }
                if (slots[i].last < slots[oldest].last)
                        oldest = i;
        }
        bk_strlcpy(slots[oldest].key, key, sizeof(slots[oldest].key));
        slots[oldest].last = now;
        return true;
}
