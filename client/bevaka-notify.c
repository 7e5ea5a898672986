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
 * after a snooze has a new deliver_at and is shown again. One thread, one
 * zmq_poll loop over the client's sockets, the D-Bus fd and a signalfd.
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

#define NOTIFY_DEFAULT_API      "ipc://bevaka-api.sock"
#define NOTIFY_DEFAULT_PUB      "ipc://bevaka-pub.sock"
#define NOTIFY_DBUS_TIMEOUT_US  (5ULL * 1000 * 1000)
#define NOTIFY_BODY_MAX         4096
#define NOTIFY_RETRY_MS         5000    /* a notification server that was not there yet */

#define FDN_NAME  "org.freedesktop.Notifications"
#define FDN_PATH  "/org/freedesktop/Notifications"
#define FDN_IFACE "org.freedesktop.Notifications"

typedef struct notify {
        const char *topic;
        char state_path[PATH_MAX];
        bool terminal;
        bk_client_t *client;
        /* {"topic": T, "rseq": N, "shown": {id: {"deliver_at": …}}}: what the user has seen */
        json_t *state;
        bool dirty;
        json_t *seen;           /* ids in the first snapshot, to forget what closed while we were off */
        bool started;           /* the first snapshot is done */
        sd_bus *bus;
        json_t *displayed;      /* id → desktop notification id, this session */
        uint32_t why_nid;       /* the "why" notification, replaced by the next one */
        json_t *actions;        /* [[nid, action], …] from signals, handled outside sd_bus_process */
        json_t *closed;         /* [nid, …] the server closed */
        json_t *unshown;        /* id → reminder whose Notify failed: retried, never dropped */
        int64_t retry_at;       /* monotonic ms of the next retry */
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
                "Usage: bevaka-notify --topic rem/<unit>/<user>/ [--api EP] [--pub EP] [--terminal]\n"
                "                     [--state-dir DIR] [--timeout MS]\n"
                "                     [--server-key KEY|FILE --secret-key KEY|FILE [--public-key KEY|FILE]]\n"
                "\n"
                "Shows the topic's due reminders as desktop notifications (D-Bus), or with\n"
                "--terminal as one line each on stdout. Endpoints default to $BEVAKA_API /\n"
                "$BEVAKA_PUB, else %s / %s. What was shown is kept in\n"
                "$XDG_STATE_HOME/bevaka/notify-<topic>.json (or --state-dir).\n",
                NOTIFY_DEFAULT_API, NOTIFY_DEFAULT_PUB);
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

static int notify_state_path(notify_t *n, const char *dir_opt)
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

static void notify_state_load(notify_t *n)
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
static void notify_state_save(notify_t *n)
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

static json_t *notify_shown(notify_t *n)
{
        return json_object_get(n->state, "shown");
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

static int notify_dbus_notify(notify_t *n, uint32_t replaces, const char *summary, const char *body,
                              uint8_t urgency, bool actions, uint32_t *nid)
{
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_message_new_method_call(n->bus, &m, FDN_NAME, FDN_PATH, FDN_IFACE, "Notify");
        if (r >= 0)
                r = sd_bus_message_append(m, "susss", "bevaka", replaces, "", summary, body);
        if (r >= 0 && actions)
                r = sd_bus_message_append(m, "as", 6, "ack", "Kvittera", "snooze", "Påminn i morgon", "why",
                                          "Varför?");
        else if (r >= 0)
                r = sd_bus_message_append(m, "as", 0);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}i", 1, "urgency", "y", urgency, (int32_t)-1);
        if (r >= 0)
                r = sd_bus_call(n->bus, m, NOTIFY_DBUS_TIMEOUT_US, &err, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", nid);
        if (r < 0)
                fprintf(stderr, "bevaka-notify: Notify: %s\n", err.message ? err.message : strerror(-r));
        sd_bus_error_free(&err);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}

static void notify_dbus_close(notify_t *n, uint32_t nid)
{
        sd_bus_error err = SD_BUS_ERROR_NULL;
        /* The server may have closed it already; then there is nothing to report. */
        sd_bus_call_method(n->bus, FDN_NAME, FDN_PATH, FDN_IFACE, "CloseNotification", &err, NULL, "u", nid);
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

/*
 * Shows a reminder. A failed Notify (no notification server yet, at login)
 * keeps it in `unshown` to be retried: the client library reports each
 * delivery once, so dropping it here would lose it.
 */
static void notify_show(notify_t *n, const json_t *r)
{
        const char *id = notify_str(r, "id");
        char body[NOTIFY_BODY_MAX];
        uint32_t nid = 0, replaces;

        if (n->terminal) {
                notify_line("due", r);
                return;
        }
        replaces = (uint32_t)json_integer_value(json_object_get(n->displayed, id));
        snprintf(body, sizeof(body), "%s \u00b7 %s \u00b7 förfaller %s\n%s", notify_str(r, "case"),
                 notify_str(r, "rule"), notify_str(r, "due_at"), notify_str(r, "body"));
        if (notify_dbus_notify(n, replaces, notify_str(r, "title"), body, notify_urgency(r), true, &nid) == 0) {
                json_object_set_new(n->displayed, id, json_integer(nid));
                json_object_del(n->unshown, id);
                return;
        }
        if (json_object_size(n->unshown) == 0)
                n->retry_at = notify_now_ms() + NOTIFY_RETRY_MS;
        json_object_set_new(n->unshown, id, json_deep_copy(r));
}

static void notify_retry(notify_t *n)
{
        const char *id;
        json_t *r, *list;
        size_t i;

        if (json_object_size(n->unshown) == 0 || notify_now_ms() < n->retry_at)
                return;
        /* A copy: notify_show() edits `unshown`. */
        list = json_array();
        json_object_foreach(n->unshown, id, r)
                json_array_append(list, r);
        json_object_clear(n->unshown);
        json_array_foreach(list, i, r)
                notify_show(n, r);
        json_decref(list);
}

/* The reminder is gone from the desktop: closed by us, or handled from the notification. */
static void notify_hide(notify_t *n, const char *id)
{
        json_t *nid = json_object_get(n->displayed, id);
        json_object_del(n->unshown, id);
        if (!nid)
                return;
        if (n->bus)
                notify_dbus_close(n, (uint32_t)json_integer_value(nid));
        json_object_del(n->displayed, id);
}

/* ---- reminder events ---------------------------------------------------------------------- */

static void notify_due(notify_t *n, const bk_event_t *ev)
{
        const json_t *r = ev->reminder;
        const char *id = notify_str(r, "id"), *deliver_at = notify_str(r, "deliver_at");
        const char *state = json_string_value(json_object_get(r, "state"));
        json_t *shown = json_object_get(notify_shown(n), id);
        bool same = shown && strcmp(notify_str(shown, "deliver_at"), deliver_at) == 0;

        if (!id[0])
                return;
        if (n->seen)
                json_object_set_new(n->seen, id, json_true());
        if (state && strcmp(state, "delivered") != 0) {
                /* Acknowledged or snoozed elsewhere: off the desktop, and not news when it returns unchanged. */
                notify_hide(n, id);
                if (!same) {
                        json_object_set_new(notify_shown(n), id, json_pack("{s:s}", "deliver_at", deliver_at));
                        n->dirty = true;
                }
                return;
        }
        if (same)
                return;     /* this delivery has been shown */
        notify_show(n, r);
        json_object_set_new(notify_shown(n), id, json_pack("{s:s}", "deliver_at", deliver_at));
        n->dirty = true;
        /* Saved at once: a crash right after showing must not show it again. */
        notify_state_save(n);
}

static void notify_gone(notify_t *n, const bk_event_t *ev)
{
        const char *id = notify_str(ev->reminder, "id");

        if (!json_object_get(notify_shown(n), id))
                return;     /* never shown: nothing to take back */
        if (n->terminal)
                notify_line(notify_tag(ev->kind), ev->reminder);
        notify_hide(n, id);
        json_object_del(notify_shown(n), id);
        n->dirty = true;
}

static void notify_event(notify_t *n, const bk_event_t *ev)
{
        switch (ev->kind) {
        case BK_EVENT_SNAPSHOT_BEGIN:
                if (!n->started)
                        n->seen = json_object();
                break;
        case BK_EVENT_DUE:
                notify_due(n, ev);
                break;
        case BK_EVENT_RESOLVED:
        case BK_EVENT_CANCELLED:
        case BK_EVENT_REROUTED:
        case BK_EVENT_CLOSED:
                notify_gone(n, ev);
                break;
        case BK_EVENT_SNAPSHOT_END:
                if (n->seen) {
                        /* Shown in an earlier session, closed while we were off: forget it quietly. */
                        const char *id;
                        json_t *v;
                        void *tmp;
                        json_object_foreach_safe(notify_shown(n), tmp, id, v) {
                                if (!json_object_get(n->seen, id)) {
                                        json_object_del(notify_shown(n), id);
                                        n->dirty = true;
                                }
                        }
                        json_decref(n->seen);
                        n->seen = NULL;
                }
                if (!n->started)
                        fprintf(stderr, "bevaka-notify: following %s from rseq %" PRId64 "\n", n->topic, ev->rseq);
                n->started = true;
                break;
        }
        if (json_integer_value(json_object_get(n->state, "rseq")) != bk_client_rseq(n->client, n->topic)) {
                json_object_set_new(n->state, "rseq", json_integer(bk_client_rseq(n->client, n->topic)));
                n->dirty = true;
        }
}

/* ---- actions from the desktop ------------------------------------------------------------ */

static const char *notify_id_of(notify_t *n, uint32_t nid)
{
        const char *id;
        json_t *v;
        json_object_foreach(n->displayed, id, v)
                if ((uint32_t)json_integer_value(v) == nid)
                        return id;
        return NULL;
}

static void notify_why(notify_t *n, const char *id)
{
        json_t *rep = NULL, *rem, *v, *e;
        char body[NOTIFY_BODY_MAX], summary[600];
        const char *k;
        size_t len = 0, i;
        int r = bk_client_why(n->client, id, &rep);

        if (r != 0) {
                fprintf(stderr, "bevaka-notify: why %s: %s\n", id,
                        r > 0 ? bk_reply_error_message(rep) : strerror(-r));
                json_decref(rep);
                return;
        }
        /* The reminder's members are in the reply itself or under "reminder". */
        rem = json_is_object(json_object_get(rep, "reminder")) ? json_object_get(rep, "reminder") : rep;
        snprintf(summary, sizeof(summary), "Varför: %s", notify_str(rem, "title"));
        len += (size_t)snprintf(body + len, sizeof(body) - len, "Regel %s, ärende %s, förfaller %s\n",
                                notify_str(rep, "rule"), notify_str(rem, "case"), notify_str(rem, "due_at"));
        json_object_foreach(json_object_get(rep, "dates"), k, v) {
                if (len >= sizeof(body))
                        break;
                if (json_is_string(v))
                        len += (size_t)snprintf(body + len, sizeof(body) - len, "%s: %s\n", k, json_string_value(v));
                else if (json_is_integer(v))
                        len += (size_t)snprintf(body + len, sizeof(body) - len, "%s: %" JSON_INTEGER_FORMAT "\n", k,
                                                json_integer_value(v));
        }
        json_array_foreach(json_object_get(rep, "events"), i, e)
                if (len < sizeof(body))
                        len += (size_t)snprintf(body + len, sizeof(body) - len, "%s %s\n", notify_str(e, "at"),
                                                notify_str(e, "type"));
        if (notify_dbus_notify(n, n->why_nid, summary, body, 0, false, &n->why_nid) < 0)
                n->why_nid = 0;
        json_decref(rep);
}

static void notify_action(notify_t *n, uint32_t nid, const char *action)
{
        const char *found = notify_id_of(n, nid);
        char id[256];
        json_t *rep = NULL;
        int r;

        if (!found)
                return;     /* not ours, or the why notification */
        snprintf(id, sizeof(id), "%s", found);
        if (strcmp(action, "ack") == 0) {
                r = bk_client_ack(n->client, id, &rep);
        } else if (strcmp(action, "snooze") == 0) {
                r = bk_client_snooze(n->client, id, NULL, &rep);     /* the daemon's default: next working day */
        } else if (strcmp(action, "why") == 0) {
                notify_why(n, id);
                return;
        } else {
                return;     /* "default" (a click) and unknown actions do nothing */
        }
        if (r != 0)
                fprintf(stderr, "bevaka-notify: %s %s: %s\n", action, id,
                        r > 0 ? bk_reply_error_message(rep) : strerror(-r));
        else
                notify_hide(n, id);
        json_decref(rep);
}

static int notify_on_action(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
        notify_t *n = ud;
        uint32_t nid;
        const char *action;

        if (sd_bus_message_read(m, "us", &nid, &action) < 0)
                return 0;
        json_array_append_new(n->actions, json_pack("[I, s]", (json_int_t)nid, action));
        return 0;
}

static int notify_on_closed(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
        notify_t *n = ud;
        uint32_t nid, reason;

        if (sd_bus_message_read(m, "uu", &nid, &reason) < 0)
                return 0;
        json_array_append_new(n->closed, json_integer(nid));
        return 0;
}

/* Signals are queued by the callbacks and handled here, outside sd_bus_process(). */
static void notify_desktop_work(notify_t *n)
{
        size_t i;
        json_t *a;

        json_array_foreach(n->actions, i, a)
                notify_action(n, (uint32_t)json_integer_value(json_array_get(a, 0)),
                              json_string_value(json_array_get(a, 1)));
        json_array_clear(n->actions);
        json_array_foreach(n->closed, i, a) {
                uint32_t nid = (uint32_t)json_integer_value(a);
                const char *id = notify_id_of(n, nid);
                if (id)
                        json_object_del(n->displayed, id);
                if (nid == n->why_nid)
                        n->why_nid = 0;
        }
        json_array_clear(n->closed);
}

static int notify_dbus_open(notify_t *n)
{
        int r = sd_bus_open_user(&n->bus);

        if (r < 0) {
                fprintf(stderr, "bevaka-notify: cannot connect to the session bus: %s (try --terminal)\n",
                        strerror(-r));
                return r;
        }
        if ((r = sd_bus_match_signal(n->bus, NULL, NULL, FDN_PATH, FDN_IFACE, "ActionInvoked", notify_on_action,
                                     n)) < 0 ||
            (r = sd_bus_match_signal(n->bus, NULL, NULL, FDN_PATH, FDN_IFACE, "NotificationClosed",
                                     notify_on_closed, n)) < 0) {
                fprintf(stderr, "bevaka-notify: cannot watch notification signals: %s\n", strerror(-r));
                return r;
        }
        return 0;
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
                notify_state_save(n);
                k = bk_client_pollitems(n->client, items, 2);
                timeout = bk_client_timeout(n->client);
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
                        if (json_object_size(n->unshown)) {
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

int main(int argc, char **argv)
{
        enum { O_TOPIC = 1, O_API, O_PUB, O_TERMINAL, O_STATE_DIR, O_TIMEOUT, O_SERVER_KEY, O_PUBLIC_KEY,
               O_SECRET_KEY, O_HELP };
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
                { 0 },
        };
        notify_t n = { 0 };
        bk_client_opts_t o = { 0 };
        const char *state_dir = NULL;
        sigset_t mask;
        int c, r, sfd, rc;

        o.api_endpoint = getenv("BEVAKA_API") ? getenv("BEVAKA_API") : NOTIFY_DEFAULT_API;
        o.pub_endpoint = getenv("BEVAKA_PUB") ? getenv("BEVAKA_PUB") : NOTIFY_DEFAULT_PUB;
        o.server_key = getenv("BEVAKA_SERVER_KEY");
        o.public_key = getenv("BEVAKA_PUBLIC_KEY");
        o.secret_key = getenv("BEVAKA_SECRET_KEY");
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
                switch (c) {
                case O_TOPIC: n.topic = optarg; break;
                case O_API: o.api_endpoint = optarg; break;
                case O_PUB: o.pub_endpoint = optarg; break;
                case O_TERMINAL: n.terminal = true; break;
                case O_STATE_DIR: state_dir = optarg; break;
                case O_TIMEOUT: {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v < 1 || v > 3600000) {
                                fprintf(stderr, "bevaka-notify: --timeout must be 1..3600000 ms\n");
                                return 2;
                        }
                        o.request_timeout_ms = (int)v;
                        break;
                }
                case O_SERVER_KEY: o.server_key = optarg; break;
                case O_PUBLIC_KEY: o.public_key = optarg; break;
                case O_SECRET_KEY: o.secret_key = optarg; break;
                case 'h':
                case O_HELP:
                        notify_usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "bevaka-notify: unknown option or missing value: %s\n", argv[optind - 1]);
                        notify_usage(stderr);
                        return 2;
                }
        }
        if (optind != argc || !n.topic || strncmp(n.topic, "rem/", 4) != 0 || n.topic[strlen(n.topic) - 1] != '/') {
                fprintf(stderr, "bevaka-notify: --topic rem/<unit>/<user>/ is required\n");
                notify_usage(stderr);
                return 2;
        }
        if ((r = notify_state_path(&n, state_dir)) < 0) {
                fprintf(stderr, "bevaka-notify: no state directory (set XDG_STATE_HOME or --state-dir): %s\n",
                        strerror(-r));
                return 2;
        }
        notify_state_load(&n);
        n.displayed = json_object();
        n.actions = json_array();
        n.closed = json_array();
        n.unshown = json_object();
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
        r = bk_client_follow(n.client, n.topic, json_integer_value(json_object_get(n.state, "rseq")));
        if (r == BK_CLIENT_E_REPLY) {
                json_t *rep = NULL;
                bk_client_sync(n.client, n.topic, 0, &rep);
                fprintf(stderr, "bevaka-notify: %s: %s\n", rep ? bk_reply_error_code(rep) : "error",
                        rep ? bk_reply_error_message(rep) : "the daemon refused the topic");
                json_decref(rep);
                goto out;
        }
        if (r < 0)  /* the daemon is not up yet: the client syncs as soon as it is */
                fprintf(stderr, "bevaka-notify: %s not answering yet (%s); waiting\n", o.api_endpoint, strerror(-r));
        rc = notify_run(&n, sfd);
        notify_state_save(&n);
out:
        bk_client_destroy(&n.client);
        if (n.bus)
                sd_bus_flush_close_unref(n.bus);
        json_decref(n.state);
        json_decref(n.seen);
        json_decref(n.displayed);
        json_decref(n.actions);
        json_decref(n.closed);
        json_decref(n.unshown);
        close(sfd);
        return rc;
}
