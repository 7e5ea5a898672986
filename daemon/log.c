/*
 * log.c owns the process's log sink. Under journald (stderr is the journal
 * stream JOURNAL_STREAM names, or asked for explicitly) records go through
 * sd_journal_sendv with PRIORITY, SYSLOG_IDENTIFIER and, for structured
 * records, MESSAGE_ID and BEVAKA_* fields; otherwise each message is one
 * stderr line prefixed with the sd-daemon "<N>" level so journald or a
 * terminal both read it right.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
/* The location sd-journal would add is always log_emit()'s own: not worth a field. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include "log.h"

#define LOG_MAX_FIELDS 8

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

bool log_journal_detect(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        char tail;

        if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_set_level(int max_level) { log_state.max_level = max_level; }
int log_level(void) { return log_state.max_level; }

/*
 * Fields go out as iovecs rather than through sd_journal_send's printf list
 * so that the number of fields can vary per call site.
 */
static void log_emit(int prio, const char *msgid, const log_field_t *fields, size_t n_fields, const char *msg)
{
        char message[1100], head[3][128], bodies[LOG_MAX_FIELDS][256];
        struct iovec iov[4 + LOG_MAX_FIELDS];
        size_t n = 0;

        if (!log_state.journal) {
                fprintf(stderr, "<%d>%s: %s\n", prio, log_state.ident, msg);
                return;
        }
        snprintf(message, sizeof(message), "MESSAGE=%s", msg);
        iov[n++] = (struct iovec){ message, strlen(message) };
        snprintf(head[0], sizeof(head[0]), "PRIORITY=%d", prio);
        snprintf(head[1], sizeof(head[1]), "SYSLOG_IDENTIFIER=%s", log_state.ident);
        iov[n++] = (struct iovec){ head[0], strlen(head[0]) };
        iov[n++] = (struct iovec){ head[1], strlen(head[1]) };
        if (msgid) {
                snprintf(head[2], sizeof(head[2]), "MESSAGE_ID=%s", msgid);
                iov[n++] = (struct iovec){ head[2], strlen(head[2]) };
        }
        for (size_t i = 0; i < n_fields && i < LOG_MAX_FIELDS; i++) {
                if (!fields[i].name || !fields[i].value)
                        continue;
                snprintf(bodies[i], sizeof(bodies[i]), "%s=%s", fields[i].name, fields[i].value);
                iov[n++] = (struct iovec){ bodies[i], strlen(bodies[i]) };
        }
        /* A journal that went away (restart) must not silence us: stderr is its stream too. */
        if (sd_journal_sendv(iov, (int)n) < 0)
                fprintf(stderr, "<%d>%s: %s\n", prio, log_state.ident, msg);
}

void log_msgv(int prio, const char *fmt, va_list ap)
{
        char buf[1024];

        if (prio > log_state.max_level)
                return;
        vsnprintf(buf, sizeof(buf), fmt, ap);
        log_emit(prio, NULL, NULL, 0, buf);
}

void log_struct(int prio, const char *msgid, const log_field_t *fields, size_t n_fields, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;

        if (prio > log_state.max_level)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        log_emit(prio, msgid, fields, n_fields, buf);
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
