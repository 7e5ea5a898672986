/*
 * bevaka-notify.c owns the per-user desktop notifier: it follows one
 * reminder topic through the public client library (sync first, so what
 * arrived while the desktop was off is shown, then live), shows each due
 * reminder once as a freedesktop notification over sd-bus (or as one line
 * on stdout with --terminal), closes it when the reminder is resolved,
 * cancelled or rerouted away, and turns the notification's actions into API
 * calls (ack, snooze to the next working day, why). What has been shown is
 * kept in a small JSON state file keyed by (id, deliver_at): the same
 * delivery is never shown twice, also across restarts, while a re-delivery
 * after a snooze has a new deliver_at and is shown again. Notification ids
 * belong to the server that issued them, so each is kept with that server's
 * unique bus name: signals count only from the current owner of
 * org.freedesktop.Notifications, and when the owner changes (the server
 * restarted) the old ids are forgotten and the reminders that were on the
 * desktop are shown again. Reminders arriving at one moment (within
 * --group-window) are shown together: one card per case (a case's
 * reminders of that moment in one notification) up to --group cards, as
 * one summary notification beyond; backlog reminders never pop up; a
 * leads' digest is one notification; a superseded reminder's notification
 * passes to its escalation. --list prints the work list instead and exits.
 * One thread, one zmq_poll loop over the client's sockets, the D-Bus fd and
 * a signalfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include "bevaka/client.h"
#include "notify-group.h"
#include "notify-text.h"

#define NOTIFY_DEFAULT_API      "ipc://bevaka-api.sock"
#define NOTIFY_DEFAULT_PUB      "ipc://bevaka-pub.sock"
#define NOTIFY_DBUS_TIMEOUT_US  (5ULL * 1000 * 1000)
#define NOTIFY_RETRY_MS         5000    /* a notification server that was not there yet */
/*
 * How long after an action that did not handle the reminder ("why") a close
 * of its notification counts as the server's doing rather than the user's:
 * servers that ignore "resident" close on every action, some only after a
 * fade-out.
 */
#define NOTIFY_ACTION_CLOSE_MS  5000
#define NOTIFY_NAME_MAX         256     /* D-Bus names are at most 255 characters */
#define NOTIFY_MAX_TOPICS       8       /* a caseworker who is also a lead of one or more units */
/*
 * "The same moment": reminders that arrive within this many ms of the first
 * one not yet shown are one batch (the daemon publishes a delivery time's
 * reminders in one burst; a first snapshot arrives in one reply), shown
 * one by one up to --group of them and as one summary beyond.
 */
#define NOTIFY_WINDOW_DEFAULT   1000
#define NOTIFY_GROUP_LINES      10      /* reminders named in a summary's or a digest's body */
#define NOTIFY_MAX_MSG          (16 << 20)      /* a digest lists a unit's items: far above the library's 64 KiB */

#define FDN_NAME  "org.freedesktop.Notifications"
#define FDN_PATH  "/org/freedesktop/Notifications"
#define FDN_IFACE "org.freedesktop.Notifications"

#define DBUS_NAME  "org.freedesktop.DBus"
#define DBUS_PATH  "/org/freedesktop/DBus"

/* What a notification is: its actions, hints and timeout follow from that. */
typedef enum notify_kind {
        NOTE_REMINDER,          /* ack, snooze, why; resident; never expires */
        NOTE_GROUP,             /* a summary of many: "show each"; resident; never expires */
        NOTE_DIGEST,            /* a leads' digest: no action; never expires */
        NOTE_INFO,              /* "why", a message of an unknown op: the server's defaults */
} notify_kind_t;

/* A notification as its server knows it: ids are per server, so an id is kept with the server's unique name. */
typedef struct notify_ref {
        uint32_t nid;                   /* 0: none */
        char server[NOTIFY_NAME_MAX];   /* unique bus name of the server that issued nid */
} notify_ref_t;

/*
 * One followed topic: a caseworker's, and for a lead also the unit's
 * @leads topic, in the same process. Each keeps its own state file.
 */
typedef struct notify_topic {
        const char *topic;
        char state_path[PATH_MAX];
        /* {"topic": T, "rseq": N, "shown": {id: {"deliver_at": …}}}: what the user has seen */
        json_t *state;
        bool dirty;
        json_t *seen;           /* ids in the first snapshot, to forget what closed while we were off */
        bool started;           /* the first snapshot is done */
} notify_topic_t;

typedef struct notify {
        notify_topic_t topics[NOTIFY_MAX_TOPICS];
        int n_topics;
        bool terminal;
        notify_lang_t lang;             /* --lang, $BEVAKA_LANG: the notifier's own words */
        bk_client_t *client;
        sd_bus *bus;
        char owner[NOTIFY_NAME_MAX];    /* unique name owning org.freedesktop.Notifications; "" for none */
        bool owner_changed;             /* set by the NameOwnerChanged callback, handled outside it */
        char caps_server[NOTIFY_NAME_MAX];      /* the server body_markup was asked of */
        bool body_markup;
        /*
         * Reminders of this session that belong on the desktop, id →
         * {"reminder", "nid", "server", "closed", "acted_at"}: nid 0 is one
         * waiting for a notification server; "closed" one the user (or the
         * server's timeout) closed, kept so a late action still finds it;
         * "acted_at" when an action that did not handle it was invoked.
         */
        json_t *desk;
        notify_ref_t why;       /* the "why" notification, replaced by the next one */
        notify_ref_t digest;    /* the last digest, replaced by the next one */
        notify_ref_t message;   /* the last message of an unknown op, replaced by the next one */
        int group_max;          /* --group: most reminders popped up one by one at one moment */
        int window_ms;          /* --group-window: what counts as one moment */
        bool per_reminder;      /* --per-reminder: no case cards, each reminder pops up on its own */
        /*
         * Reminders of this moment not shown yet, id → {"r": reminder,
         * "topics": [topic index, …], "replaces": {nid, server}}: flushed
         * window_ms after the first one came (batch_at, monotonic ms).
         */
        json_t *batch;
        int64_t batch_at;
        /*
         * Summary notifications on the desktop, gid → {"members": [ids],
         * "backlog", "nid", "server", "closed"}; each member's desk entry
         * names its group and has no notification of its own.
         */
        json_t *groups;
        unsigned next_group;
        /* Escalation id → the notification {nid, server} of the reminder it superseded, until the escalation comes. */
        json_t *heirs;
        bool list;              /* --list: print the work list and exit */
        json_t *signals;        /* [["action", nid, action, sender] | ["closed", nid, reason, sender], …] in order */
        int64_t retry_at;       /* monotonic ms of the next try to show what waits; 0: none */
} notify_t;

static int64_t notify_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void notify_usage(FILE *out)
{
        fprintf(out,
                "Usage: bevaka-notify [--topic] rem/<unit>/<user>/ [[--topic] rem/<unit>/@leads/ ...]\n"
                "                     [--api EP] [--pub EP] [--terminal]\n"
                "                     [--state-dir DIR] [--timeout MS]\n"
                "                     [--server-key KEY|FILE --secret-key KEY|FILE [--public-key KEY|FILE]]\n"
                "                     [--lang sv|en] [--group N] [--group-window MS] [--per-reminder]\n"
                "       bevaka-notify --list [--topic] rem/<unit>/<user>/ [...] [--api EP] [--timeout MS]\n"
                "                     [--lang sv|en] [--version] [--help]\n"
                "\n"
                "Shows the topics' due reminders as desktop notifications (D-Bus), or with\n"
                "--terminal as one line each on stdout. Endpoints default to $BEVAKA_API /\n"
                "$BEVAKA_PUB, else %s / %s. What was shown is kept in\n"
                "$XDG_STATE_HOME/bevaka/notify-<topic>.json (or --state-dir). CURVE keys default to\n"
                "$BEVAKA_SERVER_KEY / $BEVAKA_SECRET_KEY, else $XDG_CONFIG_HOME/bevaka/server.pub and client.key.\n"
                "--lang (default $BEVAKA_LANG, else sv) is the language of the notifier's own words;\n"
                "the reminders' titles and bodies come in the daemon's rules.lang.\n"
                "Reminders that arrive within --group-window ms (default $BEVAKA_GROUP_WINDOW, else %d) are\n"
                "one moment. A case's reminders at one moment are one notification (a card; --per-reminder:\n"
                "each its own); up to --group cards (default $BEVAKA_GROUP, else %d) pop up, more become one\n"
                "summary, most urgent first. Backlog reminders never pop up; a digest is one.\n"
                "--list prints the topics' open reminders as a work list (overdue first, then by due date,\n"
                "grouped by case) and exits: 0 done, 1 the daemon refused, 2 usage, 3 no answer.\n",
                NOTIFY_DEFAULT_API, NOTIFY_DEFAULT_PUB, NOTIFY_WINDOW_DEFAULT, NOTIFY_GROUP_DEFAULT);
}

static const char *notify_str(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

/* ---- state file --------------------------------------------------------------------- */

static int notify_mkdirs(const char *dir)
{
        char buf[PATH_MAX];
        size_t n = strlen(dir);

        if (n >= sizeof(buf))
                return -ENAMETOOLONG;
        memcpy(buf, dir, n + 1);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int notify_state_path(notify_topic_t *n, const char *dir_opt)
{
        char dir[PATH_MAX], name[512];
        const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
        size_t k = 0;
        int r;

        if (dir_opt)
                snprintf(dir, sizeof(dir), "%s", dir_opt);
        else if (xdg && xdg[0] == '/')
                snprintf(dir, sizeof(dir), "%s/bevaka", xdg);
        else if (home && home[0])
                snprintf(dir, sizeof(dir), "%s/.local/state/bevaka", home);
        else
                return -ENOENT;
        /* One file per topic; anything but a safe file-name character becomes '_'. */
        for (const char *p = n->topic; *p && k < sizeof(name) - 1; p++) {
                char ch = *p;
                bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                          ch == '-' || ch == '.' || ch == '@';
                name[k++] = ok ? ch : '_';
        }
        name[k] = '\0';
        if ((r = notify_mkdirs(dir)) < 0)
                return r;
        if ((size_t)snprintf(n->state_path, sizeof(n->state_path), "%s/notify-%s.json", dir, name) >=
            sizeof(n->state_path))
                return -ENAMETOOLONG;
        return 0;
}

static void notify_state_load(notify_topic_t *n)
{
        json_error_t err;
        json_t *s = json_load_file(n->state_path, JSON_REJECT_DUPLICATES, &err);

        if (s && (!json_is_object(json_object_get(s, "shown")) ||
                  strcmp(notify_str(s, "topic"), n->topic) != 0)) {
                fprintf(stderr, "bevaka-notify: %s is not this topic's state; starting afresh\n", n->state_path);
                json_decref(s);
                s = NULL;
        } else if (!s && access(n->state_path, F_OK) == 0) {
                fprintf(stderr, "bevaka-notify: %s: %s; starting afresh\n", n->state_path, err.text);
        }
        if (!s)
                s = json_pack("{s:s, s:I, s:{}}", "topic", n->topic, "rseq", (json_int_t)0, "shown");
        n->state = s;
}

/* Written to a temporary file and renamed, so a crash leaves the old or the new state. */
static void notify_state_save(notify_topic_t *n)
{
        char tmp[PATH_MAX + 8];

        if (!n->dirty)
                return;
        snprintf(tmp, sizeof(tmp), "%s.tmp", n->state_path);
        if (json_dump_file(n->state, tmp, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0 ||
            rename(tmp, n->state_path) != 0) {
                fprintf(stderr, "bevaka-notify: cannot write %s: %s\n", n->state_path, strerror(errno));
                return;
        }
        n->dirty = false;
}

static json_t *notify_shown(notify_topic_t *n)
{
        return json_object_get(n->state, "shown");
}

/* The followed topic an event belongs to (NULL for none of ours). */
static notify_topic_t *notify_topic_of(notify_t *n, const char *topic)
{
        for (int i = 0; topic && i < n->n_topics; i++)
                if (strcmp(n->topics[i].topic, topic) == 0)
                        return &n->topics[i];
        return NULL;
}

static void notify_save_all(notify_t *n)
{
        for (int i = 0; i < n->n_topics; i++)
                notify_state_save(&n->topics[i]);
}

/* Whether another followed topic already shows this delivery (a reminder on two of the user's topics). */
static bool notify_shown_elsewhere(notify_t *n, const notify_topic_t *t, const char *id, const char *deliver_at)
{
        for (int i = 0; i < n->n_topics; i++) {
                json_t *o = json_object_get(notify_shown(&n->topics[i]), id);
                if (&n->topics[i] != t && o && strcmp(notify_str(o, "deliver_at"), deliver_at) == 0 &&
                    json_object_get(n->desk, id))
                        return true;
        }
        return false;
}

/* ---- desktop notifications ------------------------------------------------------------ */

static uint8_t notify_urgency(const json_t *r)
{
        const char *sev = notify_str(r, "severity");
        if (strcmp(sev, "overdue") == 0)
                return 2;       /* critical */
        if (strcmp(sev, "info") == 0)
                return 0;       /* low */
        return 1;               /* normal */
}

/*
 * Whether the notification server parses markup in the body (capability
 * "body-markup"). Only then is the body escaped: the spec says markup sent to
 * a server without the capability shows through as text, "&amp;" included.
 * The summary is plain text by the spec and is never escaped (dunst and
 * xfce4-notifyd show it as given). Asked once per server; when the question
 * fails the answer is yes, what common servers say, and it is asked again
 * next time.
 */
static bool notify_markup(notify_t *n)
{
        sd_bus_message *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char **caps = NULL;
        const char *sender;
        bool markup = false;

        if (n->caps_server[0] && strcmp(n->caps_server, n->owner) == 0)
                return n->body_markup;
        if (sd_bus_call_method(n->bus, FDN_NAME, FDN_PATH, FDN_IFACE, "GetCapabilities", &err, &reply, "") < 0 ||
            sd_bus_message_read_strv(reply, &caps) < 0) {
                sd_bus_error_free(&err);
                sd_bus_message_unref(reply);
                return true;
        }
        for (char **c = caps; c && *c; c++) {
                markup = markup || strcmp(*c, "body-markup") == 0;
                free(*c);
        }
        free(caps);
        sender = sd_bus_message_get_sender(reply);
        snprintf(n->caps_server, sizeof(n->caps_server), "%s", sender ? sender : "");
        n->body_markup = markup;
        sd_bus_message_unref(reply);
        return markup;
}

/* `s` as body text: &, < and > are the characters the spec's markup gives a meaning. NULL when out of memory. */
static char *notify_escape(const char *s, bool markup)
{
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        if (!f)
                return NULL;
        for (; *s; s++) {
                if (markup && *s == '&')
                        fputs("&amp;", f);
                else if (markup && *s == '<')
                        fputs("&lt;", f);
                else if (markup && *s == '>')
                        fputs("&gt;", f);
                else
                        fputc(*s, f);
        }
        if (fclose(f) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

/* The actions of a kind of notification, as D-Bus "as": key, label, key, label. */
static int notify_dbus_actions(notify_t *n, sd_bus_message *m, notify_kind_t kind)
{
        if (kind == NOTE_REMINDER)
                return sd_bus_message_append(m, "as", 6, "ack", notify_text_action(n->lang, "ack"), "snooze",
                                             notify_text_action(n->lang, "snooze"), "why",
                                             notify_text_action(n->lang, "why"));
        if (kind == NOTE_GROUP)
                return sd_bus_message_append(m, "as", 2, "show", notify_text_action(n->lang, "show"));
        return sd_bus_message_append(m, "as", 0);
}

/*
 * One Notify call to `dest`. Reminders and summaries never expire
 * (expire_timeout 0: they stay until handled) and ask to stay after an
 * action ("resident"); a digest stays too; the "why" explanation and
 * messages of unknown ops are left to the server's defaults.
 */
static int notify_dbus_call(notify_t *n, const char *dest, uint32_t replaces, const char *summary, const char *body,
                            uint8_t urgency, notify_kind_t kind, bool quiet, notify_ref_t *ref)
{
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        const char *sender;
        uint32_t nid = 0;
        int r;

        r = sd_bus_message_new_method_call(n->bus, &m, dest, FDN_PATH, FDN_IFACE, "Notify");
        if (r >= 0)
                r = sd_bus_message_append(m, "susss", "bevaka", replaces, "", summary, body);
        if (r >= 0)
                r = notify_dbus_actions(n, m, kind);
        if (r >= 0 && (kind == NOTE_REMINDER || kind == NOTE_GROUP))
                r = sd_bus_message_append(m, "a{sv}i", 2, "urgency", "y", urgency, "resident", "b", 1, (int32_t)0);
        else if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}i", 1, "urgency", "y", urgency,
                                          kind == NOTE_DIGEST ? (int32_t)0 : (int32_t)-1);
        if (r >= 0)
                r = sd_bus_call(n->bus, m, NOTIFY_DBUS_TIMEOUT_US, &err, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &nid);
        if (r >= 0) {
                sender = sd_bus_message_get_sender(reply);
                ref->nid = nid;
                snprintf(ref->server, sizeof(ref->server), "%s", sender ? sender : dest);
        } else if (!quiet) {
                fprintf(stderr, "bevaka-notify: Notify: %s\n", err.message ? err.message : strerror(-r));
        }
        sd_bus_error_free(&err);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}

/*
 * Shows a notification, replacing *ref when it has one. The replacement is
 * addressed to the unique name that issued the id, never to the well-known
 * name: a new owner of the name (the server restarted, and we may not have
 * seen NameOwnerChanged yet) would replace another application's
 * notification with that id. If the issuing server is gone, a new
 * notification goes to whoever owns the name. On failure *ref is cleared.
 */
static int notify_dbus_notify(notify_t *n, notify_ref_t *ref, const char *summary, const char *body, uint8_t urgency,
                              notify_kind_t kind)
{
        char server[NOTIFY_NAME_MAX];
        int r;

        if (ref->nid && ref->server[0]) {
                snprintf(server, sizeof(server), "%s", ref->server);
                if (notify_dbus_call(n, server, ref->nid, summary, body, urgency, kind, true, ref) == 0)
                        return 0;
        }
        *ref = (notify_ref_t){ 0 };
        if ((r = notify_dbus_call(n, FDN_NAME, 0, summary, body, urgency, kind, false, ref)) < 0)
                *ref = (notify_ref_t){ 0 };
        return r;
}

/* Addressed to the server that issued the id, for the reason above; if it is gone, so is the notification. */
static void notify_dbus_close(notify_t *n, const notify_ref_t *ref)
{
        sd_bus_error err = SD_BUS_ERROR_NULL;

        if (!ref->nid || !ref->server[0])
                return;
        /* The server may have closed it already; then there is nothing to report. */
        sd_bus_call_method(n->bus, ref->server, FDN_PATH, FDN_IFACE, "CloseNotification", &err, NULL, "u", ref->nid);
        sd_bus_error_free(&err);
}

static const char *notify_tag(bk_event_kind_t kind)
{
        switch (kind) {
        case BK_EVENT_RESOLVED: return "resolved";
        case BK_EVENT_CANCELLED: return "cancelled";
        case BK_EVENT_REROUTED: return "rerouted";
        case BK_EVENT_CLOSED: return "closed";
        default: return "due";
        }
}

static void notify_line(const char *tag, const json_t *r)
{
        printf("[%s] %s %s %s \u2014 %s\n", tag, notify_str(r, "due_at"), notify_str(r, "rule"), notify_str(r, "case"),
               notify_str(r, "title"));
        fflush(stdout);
}

static notify_ref_t notify_ref_of(const json_t *e)
{
        notify_ref_t ref = { .nid = (uint32_t)json_integer_value(json_object_get(e, "nid")) };
        snprintf(ref.server, sizeof(ref.server), "%s", notify_str(e, "server"));
        return ref;
}

static void notify_set_ref(json_t *e, const notify_ref_t *ref)
{
        json_object_set_new(e, "nid", json_integer(ref->nid));
        json_object_set_new(e, "server", json_string(ref->server));
}

/* A reminder (or a summary) that should be on the desktop and is not yet; a summary's members are in it. */
static bool notify_waiting(const json_t *e)
{
        return json_integer_value(json_object_get(e, "nid")) == 0 && !json_is_true(json_object_get(e, "closed")) &&
               !json_object_get(e, "group");
}

/*
 * Puts a desk entry's reminder on the desktop, replacing its notification
 * if it has one there. A Notify that fails (no notification server yet, at
 * login, or between a server's exit and its successor) leaves the entry
 * waiting for notify_retry(): the client library reports each delivery
 * once, so dropping it here would lose it.
 */
static void notify_display(notify_t *n, json_t *e)
{
        const json_t *r = json_object_get(e, "reminder");
        notify_ref_t ref = notify_ref_of(e);
        char *plain = NULL, *body = NULL;

        plain = notify_text_body(n->lang, r);
        if (plain)
                body = notify_escape(plain, notify_markup(n));
        if (!body || notify_dbus_notify(n, &ref, notify_str(r, "title"), body, notify_urgency(r), NOTE_REMINDER) < 0) {
                ref = (notify_ref_t){ 0 };
                if (!n->retry_at)
                        n->retry_at = notify_now_ms() + NOTIFY_RETRY_MS;
        }
        notify_set_ref(e, &ref);
        json_object_del(e, "closed");
        json_object_del(e, "acted_at");
        free(plain);
        free(body);
}

/* ---- summaries: many reminders at one moment as one notification -------------------------- */

/* The members of a summary still on the desk, as reminders, most urgent first. */
static json_t *notify_group_members(notify_t *n, const json_t *g)
{
        json_t *list = json_array(), *sorted, *id;
        size_t i;

        json_array_foreach(json_object_get(g, "members"), i, id) {
                json_t *e = json_object_get(n->desk, json_string_value(id));
                if (e)
                        json_array_append(list, json_object_get(e, "reminder"));
        }
        sorted = notify_group_sorted(list, "");
        json_decref(list);
        return sorted;
}

/* Puts a summary on the desktop (in place of its notification, if it has one); a failure waits for the retry. */
static void notify_group_display(notify_t *n, json_t *g)
{
        json_t *sorted = notify_group_members(n, g), *r;
        notify_ref_t ref = notify_ref_of(g);
        char *summary = NULL, *plain = NULL, *body = NULL;
        size_t i, overdue = 0;
        uint8_t urgency = 0;

        json_array_foreach(sorted, i, r) {
                overdue += notify_group_overdue(r, "");
                urgency = notify_urgency(r) > urgency ? notify_urgency(r) : urgency;
        }
        if (json_object_get(g, "case")) {
                summary = notify_text_case_summary(n->lang, notify_str(g, "case"), json_array_size(sorted), overdue);
                plain = notify_text_case_body(n->lang, sorted, NOTIFY_GROUP_LINES);
        } else {
                summary = notify_text_group_summary(n->lang, json_array_size(sorted), overdue);
                plain = notify_text_group_body(n->lang, sorted, NOTIFY_GROUP_LINES,
                                               (size_t)json_integer_value(json_object_get(g, "backlog")));
        }
        if (plain)
                body = notify_escape(plain, notify_markup(n));
        if (!summary || !body || notify_dbus_notify(n, &ref, summary, body, urgency, NOTE_GROUP) < 0) {
                ref = (notify_ref_t){ 0 };
                if (!n->retry_at)
                        n->retry_at = notify_now_ms() + NOTIFY_RETRY_MS;
        }
        notify_set_ref(g, &ref);
        json_object_del(g, "closed");
        json_decref(sorted);
        free(summary);
        free(plain);
        free(body);
}

/* A member left the desk (resolved, handled elsewhere): the summary shrinks, and closes with its last member. */
static void notify_group_drop(notify_t *n, const char *gid, const char *id)
{
        json_t *g = json_object_get(n->groups, gid), *members = json_object_get(g, "members"), *m;
        size_t i;

        if (!g)
                return;
        json_array_foreach(members, i, m) {
                if (strcmp(json_string_value(m), id) == 0) {
                        json_array_remove(members, i);
                        break;
                }
        }
        if (json_array_size(members) && !json_is_true(json_object_get(g, "closed"))) {
                notify_group_display(n, g);
        } else if (!json_array_size(members)) {
                notify_ref_t ref = notify_ref_of(g);
                if (n->bus && !json_is_true(json_object_get(g, "closed")))
                        notify_dbus_close(n, &ref);
                json_object_del(n->groups, gid);
        }
}

/* "Show each": the summary's members become notifications of their own, and the summary goes. */
static void notify_group_expand(notify_t *n, const char *gid)
{
        json_t *g = json_incref(json_object_get(n->groups, gid)), *m;
        notify_ref_t ref = notify_ref_of(g);
        size_t i;

        json_object_del(n->groups, gid);
        json_array_foreach(json_object_get(g, "members"), i, m) {
                json_t *e = json_object_get(n->desk, json_string_value(m));
                if (!e)
                        continue;
                json_object_del(e, "group");
                notify_display(n, e);
        }
        notify_dbus_close(n, &ref);
        json_decref(g);
}

/* The summary a server's notification id stands for, or NULL. */
static const char *notify_group_of(notify_t *n, uint32_t nid, const char *server)
{
        const char *gid;
        json_t *g;

        json_object_foreach(n->groups, gid, g)
                if ((uint32_t)json_integer_value(json_object_get(g, "nid")) == nid &&
                    strcmp(notify_str(g, "server"), server) == 0)
                        return gid;
        return NULL;
}

static void notify_hide(notify_t *n, const char *id);

/* Shows a delivery: on stdout, or on the desktop in place of its earlier notification. */
static void notify_show(notify_t *n, const json_t *r)
{
        const char *id = notify_str(r, "id");
        json_t *e = json_object_get(n->desk, id);

        if (n->terminal) {
                notify_line("due", r);
                return;
        }
        if (e && json_object_get(e, "group")) {
                notify_hide(n, id);     /* delivered again on its own: out of its summary */
                e = NULL;
        }
        if (!e) {
                e = json_object();
                json_object_set_new(n->desk, id, e);
        }
        if (json_is_true(json_object_get(e, "closed")))
                notify_set_ref(e, &(notify_ref_t){ 0 });      /* gone from the desktop: nothing to replace */
        json_object_set_new(e, "reminder", json_deep_copy(r));
        notify_display(n, e);
}

static void notify_retry(notify_t *n)
{
        const char *id;
        json_t *e;

        if (!n->retry_at || notify_now_ms() < n->retry_at)
                return;
        n->retry_at = 0;
        json_object_foreach(n->desk, id, e)
                if (notify_waiting(e))
                        notify_display(n, e);
        json_object_foreach(n->groups, id, e)
                if (notify_waiting(e))
                        notify_group_display(n, e);
}

/* The reminder is gone from the desktop: closed by us, or handled from the notification. */
static void notify_hide(notify_t *n, const char *id)
{
        json_t *e = json_object_get(n->desk, id);

        if (!e)
                return;
        if (json_object_get(e, "group")) {
                char gid[64];
                snprintf(gid, sizeof(gid), "%s", notify_str(e, "group"));
                json_object_del(n->desk, id);
                notify_group_drop(n, gid, id);
                return;
        }
        if (n->bus && !json_is_true(json_object_get(e, "closed"))) {
                notify_ref_t ref = notify_ref_of(e);
                notify_dbus_close(n, &ref);
        }
        json_object_del(n->desk, id);
}

/* ---- reminder events ---------------------------------------------------------------------- */

/* ---- one moment's reminders ------------------------------------------------------------------ */

/*
 * Holds a delivery for this moment's batch. It is recorded as shown only
 * when the batch is shown, so a crash within the window loses no pop-up:
 * the next start syncs it again. The same reminder twice (its two topics,
 * or a re-delivery within the window) is one entry, the newest.
 */
static void notify_batch_add(notify_t *n, notify_topic_t *t, const json_t *r)
{
        const char *id = notify_str(r, "id");
        json_t *b = json_object_get(n->batch, id), *topics;
        int ti = (int)(t - n->topics);
        size_t i;

        if (!b) {
                b = json_pack("{s:O, s:[]}", "r", r, "topics");
                json_object_set_new(n->batch, id, b);
                if (json_object_get(n->heirs, id)) {
                        json_object_set(b, "replaces", json_object_get(n->heirs, id));
                        json_object_del(n->heirs, id);
                }
        } else {
                json_object_set_new(b, "r", json_deep_copy(r));
        }
        topics = json_object_get(b, "topics");
        for (i = 0; i < json_array_size(topics); i++)
                if (json_integer_value(json_array_get(topics, i)) == ti)
                        break;
        if (i == json_array_size(topics))
                json_array_append_new(topics, json_integer(ti));
        if (!n->batch_at)
                n->batch_at = notify_now_ms();
}

/* Each batch reminder recorded as shown on its topics, saved at once: never shown twice, also after a crash. */
static void notify_batch_record(notify_t *n)
{
        const char *id;
        json_t *b, *ti;
        size_t i;

        json_object_foreach(n->batch, id, b) {
                json_array_foreach(json_object_get(b, "topics"), i, ti) {
                        notify_topic_t *t = &n->topics[json_integer_value(ti)];
                        json_object_set_new(notify_shown(t), id, json_pack("{s:s}", "deliver_at",
                                                                          notify_str(json_object_get(b, "r"),
                                                                                     "deliver_at")));
                        t->dirty = true;
                }
        }
        notify_save_all(n);
}

/* --terminal: the moment's reminders as lines, a summary as its line and its members indented. */
/* The moment's cards: one per case, or with --per-reminder one per reminder, most urgent first. */
static json_t *notify_batch_cards(const notify_t *n, const json_t *pop)
{
        json_t *cards, *r;
        size_t i;

        if (!n->per_reminder)
                return notify_group_by_case(pop, "");
        cards = json_array();
        json_array_foreach(pop, i, r)
                json_array_append_new(cards, json_pack("{s:s, s:i, s:[O]}", "case", notify_str(r, "case"), "overdue",
                                                       notify_group_overdue(r, ""), "items", r));
        return cards;
}

static void notify_batch_print(notify_t *n, const json_t *pop, bool group, size_t backlog)
{
        size_t i, k, overdue = 0;
        json_t *r, *card;
        char *text = NULL;

        if (group) {
                json_array_foreach(pop, i, r)
                        overdue += notify_group_overdue(r, "");
                text = notify_text_group_summary(n->lang, json_array_size(pop), overdue);
                printf("[group] %s\n", text ? text : "");
                free(text);
                json_array_foreach(pop, i, r) {
                        fputs("  ", stdout);
                        notify_line("due", r);
                }
        } else {
                json_t *cards = notify_batch_cards(n, pop);
                json_array_foreach(cards, k, card) {
                        json_t *items = json_object_get(card, "items");
                        if (json_array_size(items) == 1) {
                                notify_line("due", json_array_get(items, 0));
                                continue;
                        }
                        text = notify_text_case_summary(n->lang, notify_str(card, "case"), json_array_size(items),
                                                        (size_t)json_integer_value(json_object_get(card, "overdue")));
                        printf("[case] %s\n", text ? text : "");
                        free(text);
                        json_array_foreach(items, i, r) {
                                fputs("  ", stdout);
                                notify_line("due", r);
                        }
                }
                json_decref(cards);
        }
        if (backlog) {
                text = notify_text_backlog(n->lang, backlog);
                printf("[backlog] %s\n", text ? text : "");
                free(text);
        }
        fflush(stdout);
}

/*
 * A summary notification of `members` (one case's card when case_id is set): each member's desk
 * entry names the group, and a superseded reminder's notification has no place to go: it closes.
 */
static void notify_group_new(notify_t *n, const json_t *members, const char *case_id, size_t backlog)
{
        char gid[32];
        json_t *g, *r;
        size_t i;

        snprintf(gid, sizeof(gid), "g%u", ++n->next_group);
        g = json_pack("{s:[], s:I, s:i, s:s}", "members", "backlog", (json_int_t)backlog, "nid", 0, "server", "");
        if (case_id)
                json_object_set_new(g, "case", json_string(case_id));
        json_object_set_new(n->groups, gid, g);
        json_array_foreach(members, i, r) {
                const char *id = notify_str(r, "id");
                notify_hide(n, id);     /* an earlier delivery of it on the desktop: the summary speaks for it now */
                json_object_set_new(n->desk, id, json_pack("{s:O, s:s, s:i, s:s}", "reminder", r, "group", gid,
                                                           "nid", 0, "server", ""));
                json_array_append_new(json_object_get(g, "members"), json_string(id));
                if (json_object_get(json_object_get(n->batch, id), "replaces")) {
                        notify_ref_t old = notify_ref_of(json_object_get(json_object_get(n->batch, id), "replaces"));
                        notify_dbus_close(n, &old);
                }
        }
        notify_group_display(n, g);
}

/* On the desktop: a card per case (one reminder in place of a superseded one's notification), or one summary. */
static void notify_batch_desktop(notify_t *n, const json_t *pop, bool group, size_t backlog)
{
        json_t *cards, *card, *r;
        size_t k;

        if (group) {
                notify_group_new(n, pop, NULL, backlog);
                return;
        }
        cards = notify_batch_cards(n, pop);
        json_array_foreach(cards, k, card) {
                json_t *items = json_object_get(card, "items");
                if (json_array_size(items) > 1) {
                        notify_group_new(n, items, notify_str(card, "case"), 0);
                        continue;
                }
                r = json_array_get(items, 0);
                json_t *b = json_object_get(n->batch, notify_str(r, "id"));
                json_t *e = json_object_get(n->desk, notify_str(r, "id"));
                if (!e && json_object_get(b, "replaces")) {
                        e = json_deep_copy(json_object_get(b, "replaces"));
                        json_object_set_new(n->desk, notify_str(r, "id"), e);
                }
                notify_show(n, r);
        }
        json_decref(cards);
}

/*
 * Shows the moment's batch: backlog reminders never pop up (they are
 * counted, and on the work list); the others as one card per case (a
 * case's several reminders are one notification) up to --group cards, most
 * urgent first, or as one summary beyond.
 */
static void notify_flush(notify_t *n)
{
        json_t *items = json_array(), *pop, *b;
        const char *id;
        size_t backlog, npop, notes, i;
        bool group;

        /* Superseded notifications whose escalation did not come this moment close. */
        json_object_foreach(n->heirs, id, b) {
                notify_ref_t old = notify_ref_of(b);
                notify_dbus_close(n, &old);
        }
        json_object_clear(n->heirs);
        if (!json_object_size(n->batch)) {
                n->batch_at = 0;
                json_decref(items);
                return;
        }
        json_object_foreach(n->batch, id, b)
                json_array_append(items, json_object_get(b, "r"));
        npop = notify_group_plan(items, n->group_max, !n->per_reminder, &group, &notes, &backlog);
        pop = notify_group_sorted(items, "");
        for (i = 0; pop && i < json_array_size(pop);) {
                if (notify_group_backlog(json_array_get(pop, i)))
                        json_array_remove(pop, i);
                else
                        i++;
        }
        if (pop && n->terminal)
                notify_batch_print(n, pop, group, backlog);
        else if (pop && npop)
                notify_batch_desktop(n, pop, group, backlog);
        fprintf(stderr, "bevaka-notify: batch of %zu: %zu pop-ups, %zu in a summary, %zu backlog; %zu notification(s)\n",
                json_array_size(items), group ? 0 : npop, group ? npop : 0, backlog, notes);
        notify_batch_record(n);
        json_object_clear(n->batch);
        n->batch_at = 0;
        json_decref(items);
        json_decref(pop);
}

static void notify_due(notify_t *n, notify_topic_t *t, const bk_event_t *ev)
{
        const json_t *r = ev->reminder;
        const char *id = notify_str(r, "id"), *deliver_at = notify_str(r, "deliver_at");
        const char *state = json_string_value(json_object_get(r, "state"));
        json_t *shown = json_object_get(notify_shown(t), id);
        bool same = shown && strcmp(notify_str(shown, "deliver_at"), deliver_at) == 0;

        if (!id[0])
                return;
        if (t->seen)
                json_object_set_new(t->seen, id, json_true());
        if (state && strcmp(state, "delivered") != 0) {
                /* Acknowledged or snoozed elsewhere: off the desktop, and not news when it returns unchanged. */
                json_object_del(n->batch, id);
                notify_hide(n, id);
                if (!same) {
                        json_object_set_new(notify_shown(t), id, json_pack("{s:s}", "deliver_at", deliver_at));
                        t->dirty = true;
                }
                return;
        }
        if (same)
                return;     /* this delivery has been shown */
        if (notify_shown_elsewhere(n, t, id, deliver_at)) {
                json_object_set_new(notify_shown(t), id, json_pack("{s:s}", "deliver_at", deliver_at));
                t->dirty = true;
                return;
        }
        notify_batch_add(n, t, r);
}

/*
 * A resolved reminder superseded by an escalation (protocol §6,
 * "superseded_by") that waits in this moment's batch: the escalation takes
 * over its notification, shown in the same place, instead of one closing
 * and another opening. Returns whether it did.
 */
static bool notify_supersede(notify_t *n, const char *id, const json_t *msg)
{
        const char *heir = json_string_value(json_object_get(msg, "superseded_by"));
        json_t *b = heir ? json_object_get(n->batch, heir) : NULL, *e = json_object_get(n->desk, id), *ref;

        if (!heir || !e || json_object_get(e, "group") || json_is_true(json_object_get(e, "closed")) ||
            !json_integer_value(json_object_get(e, "nid")) || json_object_get(n->desk, heir))
                return false;
        ref = json_pack("{s:O, s:O}", "nid", json_object_get(e, "nid"), "server", json_object_get(e, "server"));
        if (b) {
                json_object_set_new(b, "replaces", ref);
        } else {
                /* The escalation may follow within the moment; if it does not, the flush closes this one. */
                json_object_set_new(n->heirs, heir, ref);
                if (!n->batch_at)
                        n->batch_at = notify_now_ms();
        }
        json_object_del(n->desk, id);
        return true;
}

static void notify_gone(notify_t *n, notify_topic_t *t, const bk_event_t *ev)
{
        const char *id = notify_str(ev->reminder, "id");

        json_object_del(n->batch, id);  /* not shown yet: now it never will be */
        if (!json_object_get(notify_shown(t), id))
                return;     /* never shown: nothing to take back */
        if (ev->kind == BK_EVENT_RESOLVED && !n->terminal && notify_supersede(n, id, ev->reminder)) {
                json_object_del(notify_shown(t), id);
                t->dirty = true;
                return;
        }
        if (n->terminal)
                notify_line(notify_tag(ev->kind), ev->reminder);
        notify_hide(n, id);
        json_object_del(notify_shown(t), id);
        t->dirty = true;
}

/* ---- other messages: a leads' digest, an op of a newer daemon ----------------------------------- */

/* A digest (protocol §6): one notification, counts by rule and the most urgent items; the next one replaces it. */
static void notify_digest(notify_t *n, const json_t *msg)
{
        json_t *items = json_object_get(msg, "items");
        json_t *sorted = notify_group_sorted(json_is_array(items) ? items : NULL, "");
        char *summary = notify_text_digest_summary(n->lang, msg);
        char *plain = notify_text_digest_body(n->lang, msg, sorted, NOTIFY_GROUP_LINES / 2), *body = NULL;

        fprintf(stderr, "bevaka-notify: digest for %.64s: %zu items\n", notify_str(msg, "unit"),
                json_array_size(items));
        if (!summary || !plain) {
                fprintf(stderr, "bevaka-notify: digest: out of memory\n");
        } else if (n->terminal) {
                printf("[digest] %s\n", summary);
                for (char *save = NULL, *l = strtok_r(plain, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                        printf("  %s\n", l);
                fflush(stdout);
        } else if (!(body = notify_escape(plain, notify_markup(n))) ||
                   notify_dbus_notify(n, &n->digest, summary, body, 1, NOTE_DIGEST) < 0) {
                n->digest = (notify_ref_t){ 0 };
        }
        json_decref(sorted);
        free(summary);
        free(plain);
        free(body);
}

/*
 * A message with an op this notifier does not know (protocol §6: clients
 * ignore them): shown as one plain notification when it carries a human
 * text (title, body or text), ignored otherwise; never as a reminder.
 */
static void notify_message(notify_t *n, const bk_event_t *ev)
{
        const char *op = notify_str(ev->reminder, "op");
        char *summary = NULL, *plain = NULL, *body = NULL;
        int r;

        if (strcmp(op, "digest") == 0) {
                notify_digest(n, ev->reminder);
                return;
        }
        r = notify_text_message(ev->reminder, &summary, &plain);
        fprintf(stderr, "bevaka-notify: message op %.32s: %s\n", op, r > 0 ? "shown" : "ignored (no text)");
        if (r > 0 && n->terminal) {
                printf("[message] %s \u2014 %s\n", summary, plain);
                fflush(stdout);
        } else if (r > 0 && (!(body = notify_escape(plain, notify_markup(n))) ||
                             notify_dbus_notify(n, &n->message, summary, body, 1, NOTE_INFO) < 0)) {
                n->message = (notify_ref_t){ 0 };
        }
        free(summary);
        free(plain);
        free(body);
}

static void notify_event(notify_t *n, const bk_event_t *ev)
{
        notify_topic_t *t = notify_topic_of(n, ev->topic);

        if (!t)
                return;
        switch (ev->kind) {
        case BK_EVENT_SNAPSHOT_BEGIN:
                if (!t->started)
                        t->seen = json_object();
                break;
        case BK_EVENT_DUE:
                notify_due(n, t, ev);
                break;
        case BK_EVENT_RESOLVED:
        case BK_EVENT_CANCELLED:
        case BK_EVENT_REROUTED:
        case BK_EVENT_CLOSED:
                notify_gone(n, t, ev);
                break;
        case BK_EVENT_MESSAGE:
                notify_message(n, ev);
                break;
        case BK_EVENT_SNAPSHOT_END:
                if (t->seen) {
                        /* Shown in an earlier session, closed while we were off: forget it quietly. */
                        const char *id;
                        json_t *v;
                        void *tmp;
                        json_object_foreach_safe(notify_shown(t), tmp, id, v) {
                                if (!json_object_get(t->seen, id)) {
                                        json_object_del(notify_shown(t), id);
                                        t->dirty = true;
                                }
                        }
                        json_decref(t->seen);
                        t->seen = NULL;
                }
                /* What waited while the desktop was off is one moment, complete now: shown at once. */
                if (!t->started)
                        notify_flush(n);
                if (!t->started)
                        fprintf(stderr, "bevaka-notify: following %s from rseq %" PRId64 "\n", t->topic, ev->rseq);
                t->started = true;
                break;
        }
        if (json_integer_value(json_object_get(t->state, "rseq")) != bk_client_rseq(n->client, t->topic)) {
                json_object_set_new(t->state, "rseq", json_integer(bk_client_rseq(n->client, t->topic)));
                t->dirty = true;
        }
}

/* ---- actions from the desktop ------------------------------------------------------------ */

/* The reminder a server's notification id stands for, or NULL: the same id from another server is another one. */
static const char *notify_id_of(notify_t *n, uint32_t nid, const char *server)
{
        const char *id;
        json_t *e;

        json_object_foreach(n->desk, id, e)
                if ((uint32_t)json_integer_value(json_object_get(e, "nid")) == nid &&
                    strcmp(notify_str(e, "server"), server) == 0)
                        return id;
        return NULL;
}

static void notify_why(notify_t *n, const char *id)
{
        json_t *rep = NULL, *rem;
        char *plain = NULL, *body = NULL, *summary = NULL;
        int r = bk_client_why(n->client, id, &rep);

        if (r != 0) {
                fprintf(stderr, "bevaka-notify: why %s: %s\n", id,
                        r > 0 ? bk_reply_error_message(rep) : strerror(-r));
                json_decref(rep);
                return;
        }
        /* The reminder's members are in the reply itself or under "reminder". */
        rem = json_is_object(json_object_get(rep, "reminder")) ? json_object_get(rep, "reminder") : rep;
        plain = notify_text_why_body(n->lang, rep, rem);
        if (plain)
                body = notify_escape(plain, notify_markup(n));
        summary = notify_text_why_summary(n->lang, rem);
        if (!body || !summary || notify_dbus_notify(n, &n->why, summary, body, 0, NOTE_INFO) < 0)
                n->why = (notify_ref_t){ 0 };
        free(plain);
        free(body);
        free(summary);
        json_decref(rep);
}

static void notify_action(notify_t *n, uint32_t nid, const char *action, const char *sender)
{
        json_t *e, *rep = NULL;
        const char *found = notify_id_of(n, nid, sender);
        char id[256];
        int r = 0;

        if (!found && (found = notify_group_of(n, nid, sender))) {
                snprintf(id, sizeof(id), "%s", found);
                if (strcmp(action, "show") == 0)
                        notify_group_expand(n, id);
                else if ((e = json_object_get(n->groups, id)))
                        json_object_set_new(e, "acted_at", json_integer(notify_now_ms()));
                return;
        }
        if (!found)
                return;     /* not ours, or the why notification */
        snprintf(id, sizeof(id), "%s", found);
        if (strcmp(action, "ack") == 0 || strcmp(action, "snooze") == 0) {
                if (strcmp(action, "ack") == 0)
                        r = bk_client_ack(n->client, id, &rep);
                else
                        r = bk_client_snooze(n->client, id, NULL, &rep);  /* the daemon's default: next working day */
                if (r == 0) {
                        json_decref(rep);
                        notify_hide(n, id);
                        return;
                }
                fprintf(stderr, "bevaka-notify: %s %s: %s\n", action, id,
                        r > 0 ? bk_reply_error_message(rep) : strerror(-r));
                json_decref(rep);
        } else if (strcmp(action, "why") == 0) {
                notify_why(n, id);
        }
        /*
         * Not handled ("why", a click, an unknown action, or an ack the
         * daemon did not take): the reminder is still delivered, so it stays
         * on the desktop. A server that ignores "resident" closes the
         * notification on any action; that close is marked as the action's
         * doing. A server that closed it before telling us of the action has
         * already done so: show it again now.
         */
        if (!(e = json_object_get(n->desk, id)))
                return;
        if (json_is_true(json_object_get(e, "closed"))) {
                notify_set_ref(e, &(notify_ref_t){ 0 });
                notify_display(n, e);
        } else {
                json_object_set_new(e, "acted_at", json_integer(notify_now_ms()));
        }
}

/*
 * A notification was closed by the server: the user dismissed it, or it
 * expired (reason 1 or 2; 3 is our own CloseNotification, for an entry that
 * is already gone). That is the user's choice and it stays closed, unless
 * an action that did not handle the reminder just came before it: then the
 * server closed it for the action, and it is shown again with a new id.
 */
static void notify_closed(notify_t *n, uint32_t nid, const char *sender)
{
        const char *id = notify_id_of(n, nid, sender);
        bool group = false;
        json_t *e, *acted;

        if (nid == n->why.nid && strcmp(sender, n->why.server) == 0)
                n->why = (notify_ref_t){ 0 };
        if (nid == n->digest.nid && strcmp(sender, n->digest.server) == 0)
                n->digest = (notify_ref_t){ 0 };
        if (nid == n->message.nid && strcmp(sender, n->message.server) == 0)
                n->message = (notify_ref_t){ 0 };
        if (!id && (id = notify_group_of(n, nid, sender)))
                group = true;
        if (!id)
                return;
        e = json_object_get(group ? n->groups : n->desk, id);
        acted = json_object_get(e, "acted_at");
        if (acted && notify_now_ms() - json_integer_value(acted) <= NOTIFY_ACTION_CLOSE_MS) {
                notify_set_ref(e, &(notify_ref_t){ 0 });
                if (group)
                        notify_group_display(n, e);
                else
                        notify_display(n, e);
                return;
        }
        /* The id is kept: a server may still report the action that closed it. */
        json_object_set_new(e, "closed", json_true());
        json_object_del(e, "acted_at");
}

/*
 * The name has a new owner, or none. Ids of another server mean nothing
 * to the new one (it counts from 1 again: those ids are other applications'
 * notifications now), and what that server showed is gone: the reminders on
 * the desktop are shown again as new notifications. Those the user closed
 * stay closed; the "why" notification is not repeated. With no owner they
 * wait for the usual retry, which also starts a D-Bus activatable server.
 */
static void notify_owner_change(notify_t *n)
{
        const char *id;
        json_t *e;
        void *tmp;
        size_t waiting = 0;

        n->owner_changed = false;
        if (strcmp(n->why.server, n->owner) != 0)
                n->why = (notify_ref_t){ 0 };
        if (strcmp(n->digest.server, n->owner) != 0)
                n->digest = (notify_ref_t){ 0 };
        if (strcmp(n->message.server, n->owner) != 0)
                n->message = (notify_ref_t){ 0 };
        json_object_clear(n->heirs);    /* their notifications went with the old server */
        /* A summary the user closed stays closed; its members stay with it until they are handled. */
        json_object_foreach(n->groups, id, e) {
                if (json_integer_value(json_object_get(e, "nid")) && strcmp(notify_str(e, "server"), n->owner) != 0 &&
                    !json_is_true(json_object_get(e, "closed"))) {
                        notify_set_ref(e, &(notify_ref_t){ 0 });
                        json_object_del(e, "acted_at");
                }
                waiting += notify_waiting(e);
        }
        json_object_foreach_safe(n->desk, tmp, id, e) {
                if (json_integer_value(json_object_get(e, "nid")) && strcmp(notify_str(e, "server"), n->owner) != 0) {
                        if (json_is_true(json_object_get(e, "closed"))) {
                                json_object_del(n->desk, id);
                                continue;
                        }
                        notify_set_ref(e, &(notify_ref_t){ 0 });
                        json_object_del(e, "acted_at");
                }
                waiting += notify_waiting(e);
        }
        if (n->owner[0])
                fprintf(stderr, "bevaka-notify: notification server is now %s; %zu reminders to show\n", n->owner,
                        waiting);
        else
                fprintf(stderr, "bevaka-notify: no notification server; %zu reminders wait for one\n", waiting);
        if (waiting && n->owner[0])
                n->retry_at = notify_now_ms();  /* at once, in notify_retry() */
        else if (waiting && !n->retry_at)
                n->retry_at = notify_now_ms() + NOTIFY_RETRY_MS;
}

/*
 * Only the current owner of org.freedesktop.Notifications speaks for the
 * notifications: any connection on the bus can emit a signal with this path
 * and interface, and an ActionInvoked from it would acknowledge a reminder.
 */
static const char *notify_from_server(notify_t *n, sd_bus_message *m)
{
        const char *sender = sd_bus_message_get_sender(m);

        if (sender && n->owner[0] && strcmp(sender, n->owner) == 0)
                return sender;
        fprintf(stderr, "bevaka-notify: ignoring %s from %s: not the notification server\n",
                sd_bus_message_get_member(m), sender ? sender : "(unknown)");
        return NULL;
}

static int notify_on_action(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
        notify_t *n = ud;
        const char *action, *sender;
        uint32_t nid;

        if (!(sender = notify_from_server(n, m)) || sd_bus_message_read(m, "us", &nid, &action) < 0)
                return 0;
        json_array_append_new(n->signals, json_pack("[s, I, s, s]", "action", (json_int_t)nid, action, sender));
        return 0;
}

static int notify_on_closed(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
        notify_t *n = ud;
        const char *sender;
        uint32_t nid, reason;

        if (!(sender = notify_from_server(n, m)) || sd_bus_message_read(m, "uu", &nid, &reason) < 0)
                return 0;
        json_array_append_new(n->signals, json_pack("[s, I, I, s]", "closed", (json_int_t)nid, (json_int_t)reason,
                                                     sender));
        return 0;
}

/* Updated at once, so the signals that follow in the same sd_bus_process() run are checked against it. */
static int notify_on_owner(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
        notify_t *n = ud;
        const char *name, *old, *owner;

        if (sd_bus_message_read(m, "sss", &name, &old, &owner) < 0 || strcmp(name, FDN_NAME) != 0 ||
            strcmp(owner, n->owner) == 0)
                return 0;
        snprintf(n->owner, sizeof(n->owner), "%s", owner);
        n->owner_changed = true;
        return 0;
}

/*
 * Signals are queued by the callbacks and handled here, outside
 * sd_bus_process(), in the order they came: an action and the close it
 * caused are seen in that order.
 */
static void notify_desktop_work(notify_t *n)
{
        size_t i;
        json_t *a;

        json_array_foreach(n->signals, i, a) {
                const char *kind = json_string_value(json_array_get(a, 0));
                uint32_t nid = (uint32_t)json_integer_value(json_array_get(a, 1));
                const char *sender = json_string_value(json_array_get(a, 3));

                if (strcmp(kind, "action") == 0)
                        notify_action(n, nid, json_string_value(json_array_get(a, 2)), sender);
                else
                        notify_closed(n, nid, sender);
        }
        json_array_clear(n->signals);
        if (n->owner_changed)
                notify_owner_change(n);
}

static int notify_dbus_open(notify_t *n)
{
        sd_bus_message *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        const char *owner;
        int r = sd_bus_open_user(&n->bus);

        if (r < 0) {
                fprintf(stderr, "bevaka-notify: cannot connect to the session bus: %s (try --terminal)\n",
                        strerror(-r));
                return r;
        }
        if ((r = sd_bus_match_signal(n->bus, NULL, NULL, FDN_PATH, FDN_IFACE, "ActionInvoked", notify_on_action,
                                     n)) < 0 ||
            (r = sd_bus_match_signal(n->bus, NULL, NULL, FDN_PATH, FDN_IFACE, "NotificationClosed",
                                     notify_on_closed, n)) < 0 ||
            (r = sd_bus_add_match(n->bus, NULL,
                                  "type='signal',sender='" DBUS_NAME "',path='" DBUS_PATH "',interface='" DBUS_NAME
                                  "',member='NameOwnerChanged',arg0='" FDN_NAME "'",
                                  notify_on_owner, n)) < 0) {
                fprintf(stderr, "bevaka-notify: cannot watch notification signals: %s\n", strerror(-r));
                return r;
        }
        /* After the match: a change from here on is also seen as a signal. No owner yet is fine. */
        if (sd_bus_call_method(n->bus, DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner", &err, &reply, "s",
                               FDN_NAME) >= 0 &&
            sd_bus_message_read(reply, "s", &owner) >= 0)
                snprintf(n->owner, sizeof(n->owner), "%s", owner);
        sd_bus_error_free(&err);
        sd_bus_message_unref(reply);
        return 0;
}

/* ---- --list: the work list -------------------------------------------------------------------- */

/*
 * The list's day: the daemon's clock when it tells (the `clock` op is an
 * admin's, and a test's manual clock), else the desktop's date.
 */
static void notify_list_today(bk_client_t *c, char *today, size_t n)
{
        json_t *req = json_pack("{s:s}", "op", "clock"), *rep = NULL;
        const char *now = NULL;
        time_t t = time(NULL);
        struct tm tm;

        if (bk_client_request(c, req, &rep, -1) == 0)
                now = json_string_value(json_object_get(rep, "now"));
        if (now && strlen(now) >= 10)
                snprintf(today, n, "%.10s", now);
        else if (localtime_r(&t, &tm))
                strftime(today, n, "%Y-%m-%d", &tm);
        json_decref(req);
        json_decref(rep);
}

/* Prints the open reminders of every topic (sync, as a desktop at start sees them). Returns the exit status. */
static int notify_list(notify_t *n, bk_client_opts_t *o)
{
        bk_client_t *c;
        json_t *all = json_array(), *cases = NULL;
        char today[16] = "";
        int rc = 0;

        o->pub_endpoint = NULL;         /* requests only */
        if (!(c = bk_client_new(o))) {
                fprintf(stderr, "bevaka-notify: cannot set up the client: %s\n", strerror(errno));
                json_decref(all);
                return 2;
        }
        for (int i = 0; i < n->n_topics && rc == 0; i++) {
                json_t *rep = NULL;
                int r = bk_client_sync(c, n->topics[i].topic, 0, &rep);

                if (r < 0) {
                        fprintf(stderr, "bevaka-notify: no answer from %s within %d ms (%s): is bevakad running%s?\n",
                                o->api_endpoint, o->request_timeout_ms ? o->request_timeout_ms : 5000,
                                strerror(-r), o->server_key ? ", and is this key in its key list" : "");
                        rc = 3;
                } else if (r == BK_CLIENT_E_REPLY) {
                        fprintf(stderr, "bevaka-notify: %s: %s: %s\n", n->topics[i].topic,
                                bk_reply_error_code(rep) ? bk_reply_error_code(rep) : "error",
                                bk_reply_error_message(rep) ? bk_reply_error_message(rep) : "(no message)");
                        rc = 1;
                } else if (!json_is_array(json_object_get(rep, "reminders"))) {
                        fprintf(stderr, "bevaka-notify: the reply from %s is not a protocol reply\n",
                                o->api_endpoint);
                        rc = 1;
                } else {
                        json_array_extend(all, json_object_get(rep, "reminders"));
                }
                json_decref(rep);
        }
        if (rc == 0) {
                notify_list_today(c, today, sizeof(today));
                if (!(cases = notify_group_by_case(all, today))) {
                        fprintf(stderr, "bevaka-notify: out of memory\n");
                        rc = 1;
                } else {
                        notify_text_list(n->lang, stdout, cases, today);
                }
        }
        if (fflush(stdout) != 0 && rc == 0) {
                fprintf(stderr, "bevaka-notify: cannot write the list: %s\n", strerror(errno));
                rc = 1;
        }
        json_decref(cases);
        json_decref(all);
        bk_client_destroy(&c);
        return rc;
}

/* ---- main loop ------------------------------------------------------------------------------ */

static int notify_run(notify_t *n, int sfd)
{
        bk_event_t ev;
        int r;

        for (;;) {
                zmq_pollitem_t items[4];
                int k, timeout;

                if (n->bus) {
                        while ((r = sd_bus_process(n->bus, NULL)) > 0)
                                ;
                        if (r < 0) {
                                fprintf(stderr, "bevaka-notify: session bus: %s\n", strerror(-r));
                                return 1;
                        }
                        notify_desktop_work(n);
                        notify_retry(n);
                }
                while ((r = bk_client_next(n->client, &ev, 0)) > 0)
                        notify_event(n, &ev);
                if (r < 0) {
                        fprintf(stderr, "bevaka-notify: %s\n", strerror(-r));
                        return 1;
                }
                if (n->batch_at && notify_now_ms() >= n->batch_at + n->window_ms)
                        notify_flush(n);
                notify_save_all(n);
                k = bk_client_pollitems(n->client, items, 2);
                timeout = bk_client_timeout(n->client);
                if (n->batch_at) {
                        int64_t d = n->batch_at + n->window_ms - notify_now_ms();
                        int batch_ms = d < 0 ? 0 : (int)d;
                        if (timeout < 0 || batch_ms < timeout)
                                timeout = batch_ms;
                }
                items[k++] = (zmq_pollitem_t){ .fd = sfd, .events = ZMQ_POLLIN };
                if (n->bus) {
                        uint64_t until;
                        items[k++] = (zmq_pollitem_t){ .fd = sd_bus_get_fd(n->bus),
                                                       .events = (short)sd_bus_get_events(n->bus) };
                        if (sd_bus_get_timeout(n->bus, &until) >= 0 && until != UINT64_MAX) {
                                struct timespec ts;
                                clock_gettime(CLOCK_MONOTONIC, &ts);
                                uint64_t now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
                                int bus_ms = until <= now ? 0 : (int)((until - now + 999) / 1000);
                                if (timeout < 0 || bus_ms < timeout)
                                        timeout = bus_ms;
                        }
                        if (n->retry_at) {
                                int64_t d = n->retry_at - notify_now_ms();
                                int retry_ms = d < 0 ? 0 : (int)d;
                                if (timeout < 0 || retry_ms < timeout)
                                        timeout = retry_ms;
                        }
                }
                if (zmq_poll(items, k, timeout) < 0 && errno != EINTR) {
                        fprintf(stderr, "bevaka-notify: poll: %s\n", strerror(errno));
                        return 1;
                }
                if (items[n->bus ? k - 2 : k - 1].revents & ZMQ_POLLIN)
                        return 0;       /* SIGINT/SIGTERM */
        }
}

/* Adds a topic to follow: rem/<unit>/<user>/ or rem/<unit>/@leads/, each once. */
static int notify_topic_add(notify_t *n, const char *topic)
{
        size_t len = strlen(topic);

        if (strncmp(topic, "rem/", 4) != 0 || len < 6 || topic[len - 1] != '/') {
                fprintf(stderr, "bevaka-notify: %s: a topic is rem/<unit>/<user>/ or rem/<unit>/@leads/\n", topic);
                return -EINVAL;
        }
        if (notify_topic_of(n, topic))
                return 0;
        if (n->n_topics == NOTIFY_MAX_TOPICS) {
                fprintf(stderr, "bevaka-notify: at most %d topics\n", NOTIFY_MAX_TOPICS);
                return -E2BIG;
        }
        n->topics[n->n_topics++].topic = topic;
        return 0;
}

/* $BEVAKA_TOPIC: one topic or several separated by spaces (the .desktop entry's way in). */
static int notify_topics_env(notify_t *n, char *list)
{
        for (char *save = NULL, *t = strtok_r(list, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
                if (notify_topic_add(n, t) < 0)
                        return -EINVAL;
        return 0;
}

/* Topics also as arguments (the user unit passes $BEVAKA_TOPIC split on spaces), else from the environment. */
static int notify_topics_rest(notify_t *n, int argc, char **argv)
{
        for (int i = 0; i < argc; i++)
                if (notify_topic_add(n, argv[i]) < 0)
                        return 2;
        if (n->n_topics == 0 && getenv("BEVAKA_TOPIC") && notify_topics_env(n, getenv("BEVAKA_TOPIC")) < 0)
                return 2;
        if (n->n_topics == 0) {
                fprintf(stderr, "bevaka-notify: --topic rem/<unit>/<user>/ is required\n");
                notify_usage(stderr);
                return 2;
        }
        return -1;
}

/* Follows one topic from its saved rseq; a topic the daemon refuses ends the notifier. */
static int notify_follow(notify_t *n, notify_topic_t *t, const char *api)
{
        int r = bk_client_follow(n->client, t->topic, json_integer_value(json_object_get(t->state, "rseq")));

        if (r == BK_CLIENT_E_REPLY) {
                json_t *rep = NULL;
                bk_client_sync(n->client, t->topic, 0, &rep);
                fprintf(stderr, "bevaka-notify: %s: %s: %s\n", t->topic, rep ? bk_reply_error_code(rep) : "error",
                        rep ? bk_reply_error_message(rep) : "the daemon refused the topic");
                json_decref(rep);
                return -EPERM;
        }
        if (r < 0)  /* the daemon is not up yet: the client syncs as soon as it is */
                fprintf(stderr, "bevaka-notify: %s not answering yet (%s); waiting\n", api, strerror(-r));
        return 0;
}

/* An integer setting in min..max, from an option or the environment; -1 after saying what is wrong. */
static int notify_int(const char *what, const char *s, long min, long max, int *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max) {
                fprintf(stderr, "bevaka-notify: %s must be an integer %ld..%ld, not \"%.32s\"\n", what, min, max, s);
                return -1;
        }
        *out = (int)v;
        return 0;
}

/* The defaults: the environment (the user unit's notify.env files), else built in. -1 after a bad value. */
static int notify_env(notify_t *n, bk_client_opts_t *o)
{
        o->api_endpoint = getenv("BEVAKA_API") ? getenv("BEVAKA_API") : NOTIFY_DEFAULT_API;
        o->pub_endpoint = getenv("BEVAKA_PUB") ? getenv("BEVAKA_PUB") : NOTIFY_DEFAULT_PUB;
        o->server_key = getenv("BEVAKA_SERVER_KEY");
        o->public_key = getenv("BEVAKA_PUBLIC_KEY");
        o->secret_key = getenv("BEVAKA_SECRET_KEY");
        n->lang = notify_text_lang(getenv("BEVAKA_LANG"));
        n->group_max = NOTIFY_GROUP_DEFAULT;
        n->window_ms = NOTIFY_WINDOW_DEFAULT;
        if (getenv("BEVAKA_GROUP") && notify_int("$BEVAKA_GROUP", getenv("BEVAKA_GROUP"), 0, 1000, &n->group_max) < 0)
                return -1;
        if (getenv("BEVAKA_GROUP_WINDOW") &&
            notify_int("$BEVAKA_GROUP_WINDOW", getenv("BEVAKA_GROUP_WINDOW"), 0, 60000, &n->window_ms) < 0)
                return -1;
        return 0;
}

/*
 * Options, topics and the environment into *n and *o-> Returns -1 to go on,
 * or the exit status (0 after --help or --version, 2 for a usage error).
 */
static int notify_args(notify_t *n, bk_client_opts_t *o, const char **state_dir, int argc, char **argv)
{
        enum { O_TOPIC = 1, O_API, O_PUB, O_TERMINAL, O_STATE_DIR, O_TIMEOUT, O_SERVER_KEY, O_PUBLIC_KEY,
               O_SECRET_KEY, O_HELP, O_VERSION, O_LANG, O_GROUP, O_GROUP_WINDOW, O_LIST, O_PER_REMINDER };
        static const struct option lo[] = {
                { "topic", required_argument, NULL, O_TOPIC },
                { "api", required_argument, NULL, O_API },
                { "pub", required_argument, NULL, O_PUB },
                { "terminal", no_argument, NULL, O_TERMINAL },
                { "state-dir", required_argument, NULL, O_STATE_DIR },
                { "timeout", required_argument, NULL, O_TIMEOUT },
                { "server-key", required_argument, NULL, O_SERVER_KEY },
                { "public-key", required_argument, NULL, O_PUBLIC_KEY },
                { "secret-key", required_argument, NULL, O_SECRET_KEY },
                { "help", no_argument, NULL, O_HELP },
                { "version", no_argument, NULL, O_VERSION },
                { "lang", required_argument, NULL, O_LANG },
                { "group", required_argument, NULL, O_GROUP },
                { "group-window", required_argument, NULL, O_GROUP_WINDOW },
                { "per-reminder", no_argument, NULL, O_PER_REMINDER },
                { "list", no_argument, NULL, O_LIST },
                { 0 },
        };
        int c;

        if (notify_env(n, o) < 0)
                return 2;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
                switch (c) {
                case O_TOPIC:
                        if (notify_topic_add(n, optarg) < 0)
                                return 2;
                        break;
                case O_API: o->api_endpoint = optarg; break;
                case O_PUB: o->pub_endpoint = optarg; break;
                case O_TERMINAL: n->terminal = true; break;
                case O_STATE_DIR: *state_dir = optarg; break;
                case O_TIMEOUT:
                        if (notify_int("--timeout", optarg, 1, 3600000, &o->request_timeout_ms) < 0)
                                return 2;
                        break;
                case O_GROUP:
                        if (notify_int("--group", optarg, 0, 1000, &n->group_max) < 0)
                                return 2;
                        break;
                case O_GROUP_WINDOW:
                        if (notify_int("--group-window", optarg, 0, 60000, &n->window_ms) < 0)
                                return 2;
                        break;
                case O_LIST: n->list = true; break;
                case O_PER_REMINDER: n->per_reminder = true; break;
                case O_SERVER_KEY: o->server_key = optarg; break;
                case O_PUBLIC_KEY: o->public_key = optarg; break;
                case O_SECRET_KEY: o->secret_key = optarg; break;
                case 'h':
                case O_HELP:
                        notify_usage(stdout);
                        return 0;
                case O_VERSION:
                        printf("bevaka-notify %s\n", BEVAKA_VERSION);
                        return 0;
                case O_LANG:
                        if (strcmp(optarg, "sv") != 0 && strcmp(optarg, "en") != 0) {
                                fprintf(stderr, "bevaka-notify: --lang must be sv or en\n");
                                return 2;
                        }
                        n->lang = notify_text_lang(optarg);
                        break;
                default:
                        fprintf(stderr, "bevaka-notify: unknown option or missing value: %s\n", argv[optind - 1]);
                        notify_usage(stderr);
                        return 2;
                }
        }
        return notify_topics_rest(n, argc - optind, argv + optind);
}

int main(int argc, char **argv)
{
        notify_t n = { 0 };
        bk_client_opts_t o = { 0 };
        char key_server[PATH_MAX], key_secret[PATH_MAX];
        const char *state_dir = NULL;
        sigset_t mask;
        int r, sfd, rc;

        if ((rc = notify_args(&n, &o, &state_dir, argc, argv)) >= 0)
                return rc;
        bk_client_opts_default_keys(&o, key_server, key_secret, sizeof(key_server));
        if (n.list)
                return notify_list(&n, &o);
        o.messages = true;              /* digests, and ops of a newer daemon: judged in notify_message() */
        o.max_msg_size = NOTIFY_MAX_MSG;
        for (int i = 0; i < n.n_topics; i++) {
                if ((r = notify_state_path(&n.topics[i], state_dir)) < 0) {
                        fprintf(stderr, "bevaka-notify: no state directory (set XDG_STATE_HOME or --state-dir): %s\n",
                                strerror(-r));
                        return 2;
                }
                notify_state_load(&n.topics[i]);
        }
        n.desk = json_object();
        n.signals = json_array();
        n.batch = json_object();
        n.groups = json_object();
        n.heirs = json_object();
        setvbuf(stdout, NULL, _IOLBF, 0);

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                perror("bevaka-notify: signalfd");
                return 1;
        }
        rc = 1;
        if (!n.terminal && notify_dbus_open(&n) < 0)
                goto out;
        n.client = bk_client_new(&o);
        if (!n.client) {
                fprintf(stderr, "bevaka-notify: cannot set up the client: %s\n", strerror(errno));
                rc = 2;
                goto out;
        }
        for (int i = 0; i < n.n_topics; i++) {
                if (notify_follow(&n, &n.topics[i], o.api_endpoint) < 0)
                        goto out;
        }
        rc = notify_run(&n, sfd);
        notify_save_all(&n);
out:
        bk_client_destroy(&n.client);
        if (n.bus)
                sd_bus_flush_close_unref(n.bus);
        for (int i = 0; i < n.n_topics; i++) {
                json_decref(n.topics[i].state);
                json_decref(n.topics[i].seen);
        }
        json_decref(n.desk);
        json_decref(n.signals);
        json_decref(n.batch);
        json_decref(n.groups);
        json_decref(n.heirs);
        close(sfd);
        return rc;
}
