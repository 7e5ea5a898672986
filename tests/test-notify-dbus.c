/*
 * Integration: bevaka-notify in its default D-Bus mode, against the real
 * bevakad and bevaka-feed over ipc:// and a private dbus-daemon. The test
 * itself is the notification server: it owns org.freedesktop.Notifications
 * with sd-bus, records Notify and CloseNotification calls, and emits
 * ActionInvoked and NotificationClosed as a desktop would when the user
 * clicks. Checks: each due reminder is shown once with the right summary,
 * actions, urgency (info 0, due 1, overdue 2), expire_timeout 0 and the
 * "resident" hint; the body is escaped for a server with "body-markup" and
 * sent as is to one without, the summary never; "ack" and "snooze" reach the
 * daemon; "why" shows a second notification and leaves the reminder on the
 * desktop, shown again if the server closed it for the action, while one
 * the user closed stays closed; signals from a connection that does not own
 * the name are ignored; when the server restarts (a new connection, whose
 * ids 1–10 are other applications' notifications) the reminders on the
 * desktop are shown again with new ids and no old id is replaced or closed;
 * a reminder resolved by the case system is closed; a restart of the
 * notifier shows nothing again; a reminder that comes due while no server
 * owns the name is shown once one does; with --group 0 what is open is one
 * summary (resident, never expiring, action "show") whose action shows each
 * reminder with its own actions and closes the summary. Skipped (exit 77)
 * when dbus-daemon is missing.
 * Every wait pumps the bus and polls with a deadline.
 */
#include <stdbool.h>
#include <systemd/sd-bus.h>
#include "it.h"

#define TOPIC "rem/HV-EB-1/hk1/"
#define FDN "org.freedesktop.Notifications"
#define FDN_PATH "/org/freedesktop/Notifications"
/* IB4-OVERDUE's body, overridden in the daemon's configuration: markup characters. */
#define OVER_BODY "Följ upp <planen> & revidera > nu"
#define OVER_BODY_MARKUP "Följ upp &lt;planen&gt; &amp; revidera &gt; nu"

typedef struct srv {
        sd_bus *bus;
        bool markup;            /* advertise "body-markup" */
        json_t *notifies;       /* [{app, replaces, summary, body, actions, urgency, resident, expire, nid}] */
        json_t *closes;         /* [nid] */
        uint32_t first_nid;     /* ids up to this one are other applications' notifications */
        uint32_t next_nid;
        int foreign;            /* Notify replacing, or CloseNotification of, an id not issued to bevaka-notify */
} srv_t;

/* Whether `nid` was returned to bevaka-notify by this server. */
static bool srv_issued(const srv_t *s, uint32_t nid)
{
        size_t i;
        json_t *n;
        json_array_foreach(s->notifies, i, n)
                if (json_integer_value(json_object_get(n, "nid")) == nid)
                        return true;
        return false;
}

static int srv_notify(sd_bus_message *m, void *ud, sd_bus_error *e)
{
        srv_t *s = ud;
        const char *app, *icon, *summary, *body, *key;
        uint32_t replaces, nid;
        int32_t expire;
        char **actions = NULL;
        int urgency = -1, resident = -1, r;
        json_t *acts = json_array();

        if ((r = sd_bus_message_read(m, "susss", &app, &replaces, &icon, &summary, &body)) < 0 ||
            (r = sd_bus_message_read_strv(m, &actions)) < 0 ||
            (r = sd_bus_message_enter_container(m, 'a', "{sv}")) < 0) {
                json_decref(acts);
                return r;
        }
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                sd_bus_message_read(m, "s", &key);
                if (strcmp(key, "urgency") == 0) {
                        uint8_t u;
                        sd_bus_message_read(m, "v", "y", &u);
                        urgency = u;
                } else if (strcmp(key, "resident") == 0) {
                        int b;
                        sd_bus_message_read(m, "v", "b", &b);
                        resident = b;
                } else {
                        sd_bus_message_skip(m, "v");
                }
                sd_bus_message_exit_container(m);
        }
        sd_bus_message_exit_container(m);
        sd_bus_message_read(m, "i", &expire);
        for (char **a = actions; a && *a; a++)
                json_array_append_new(acts, json_string(*a));
        for (char **a = actions; a && *a; a++)
                free(*a);
        free(actions);
        if (replaces && !srv_issued(s, replaces))
                s->foreign++;
        nid = replaces ? replaces : ++s->next_nid;
        json_array_append_new(s->notifies, json_pack("{s:s, s:I, s:s, s:s, s:o, s:i, s:i, s:i, s:I}", "app", app,
                                                     "replaces", (json_int_t)replaces, "summary", summary,
                                                     "body", body, "actions", acts, "urgency", urgency,
                                                     "resident", resident, "expire", expire, "nid", (json_int_t)nid));
        return sd_bus_reply_method_return(m, "u", nid);
}

static int srv_close(sd_bus_message *m, void *ud, sd_bus_error *e)
{
        srv_t *s = ud;
        uint32_t nid;
        int r;

        if ((r = sd_bus_message_read(m, "u", &nid)) < 0)
                return r;
        if (!srv_issued(s, nid))
                s->foreign++;
        json_array_append_new(s->closes, json_integer(nid));
        sd_bus_emit_signal(s->bus, FDN_PATH, FDN, "NotificationClosed", "uu", nid, (uint32_t)3);
        return sd_bus_reply_method_return(m, "");
}

static int srv_caps(sd_bus_message *m, void *ud, sd_bus_error *e)
{
        srv_t *s = ud;
        if (s->markup)
                return sd_bus_reply_method_return(m, "as", 4, "actions", "body", "body-markup", "persistence");
        return sd_bus_reply_method_return(m, "as", 3, "actions", "body", "persistence");
}

static int srv_info(sd_bus_message *m, void *ud, sd_bus_error *e)
{
        return sd_bus_reply_method_return(m, "ssss", "test-notifications", "bevaka", "1", "1.2");
}

static const sd_bus_vtable srv_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Notify", "susssasa{sv}i", "u", srv_notify, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("CloseNotification", "u", "", srv_close, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("GetCapabilities", "", "as", srv_caps, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("GetServerInformation", "", "ssss", srv_info, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL("NotificationClosed", "uu", 0),
        SD_BUS_SIGNAL("ActionInvoked", "us", 0),
        SD_BUS_VTABLE_END
};

/* A connection to the private bus; NULL if it cannot be made. */
static sd_bus *bus_connect(const char *addr)
{
        sd_bus *b = NULL;
        if (sd_bus_new(&b) < 0)
                return NULL;
        if (sd_bus_set_address(b, addr) < 0 || sd_bus_set_bus_client(b, 1) < 0 || sd_bus_start(b) < 0)
                return sd_bus_unref(b);
        return b;
}

/* A notification server on its own connection: a fresh unique name and id counter, as after a restart. */
static bool srv_open(srv_t *s, const char *addr, bool markup, uint32_t first_nid)
{
        *s = (srv_t){ .markup = markup, .first_nid = first_nid, .next_nid = first_nid };
        s->notifies = json_array();
        s->closes = json_array();
        s->bus = bus_connect(addr);
        return s->bus && sd_bus_add_object_vtable(s->bus, NULL, FDN_PATH, FDN, srv_vtable, s) >= 0 &&
               sd_bus_request_name(s->bus, FDN, 0) >= 0;
}

static void srv_free(srv_t *s)
{
        if (s->bus)
                s->bus = sd_bus_flush_close_unref(s->bus);
        json_decref(s->notifies);
        json_decref(s->closes);
        s->notifies = s->closes = NULL;
}

static void srv_pump(srv_t *s, int ms)
{
        while (sd_bus_process(s->bus, NULL) > 0)
                ;
        sd_bus_wait(s->bus, (uint64_t)ms * 1000);
        while (sd_bus_process(s->bus, NULL) > 0)
                ;
}

static int count_of(const char *hay, const char *needle)
{
        int n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static int log_count(const char *path, const char *needle)
{
        static char buf[1 << 20];
        FILE *f = fopen(path, "r");
        size_t k;
        if (!f)
                return 0;
        k = fread(buf, 1, sizeof(buf) - 1, f);
        buf[k] = '\0';
        fclose(f);
        return count_of(buf, needle);
}

/* Pumps the bus until `needle` occurs `want` times in the file. */
static int log_wait(srv_t *s, const char *path, const char *needle, int want, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        int n;
        while ((n = log_count(path, needle)) < want && it_ms() < end)
                srv_pump(s, 20);
        return n;
}

static bool srv_wait_notifies(srv_t *s, size_t want, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        while (json_array_size(s->notifies) < want && it_ms() < end)
                srv_pump(s, 50);
        return json_array_size(s->notifies) >= want;
}

static bool srv_closed(srv_t *s, int64_t nid)
{
        size_t i;
        json_t *v;
        json_array_foreach(s->closes, i, v)
                if (json_integer_value(v) == nid)
                        return true;
        return false;
}

static bool srv_wait_closed(srv_t *s, int64_t nid, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        while (!srv_closed(s, nid) && it_ms() < end)
                srv_pump(s, 50);
        return srv_closed(s, nid);
}

/* A string member, "" when the notification or the member is missing (a failed wait). */
static const char *str_of(const json_t *n, const char *key)
{
        const char *s = json_string_value(json_object_get(n, key));
        return s ? s : "";
}

/* The first reminder notification (one with actions) from index `from` whose body has `needle`. */
static json_t *srv_find(srv_t *s, const char *needle, size_t from)
{
        for (size_t i = from; i < json_array_size(s->notifies); i++) {
                json_t *n = json_array_get(s->notifies, i);
                if (json_array_size(json_object_get(n, "actions")) && strstr(str_of(n, "body"), needle))
                        return n;
        }
        return NULL;
}

static bool srv_wait_find(srv_t *s, const char *needle, size_t from, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        while (!srv_find(s, needle, from) && it_ms() < end)
                srv_pump(s, 50);
        return srv_find(s, needle, from) != NULL;
}

static int64_t nid_of(const json_t *n)
{
        return json_integer_value(json_object_get(n, "nid"));
}


/* What every reminder notification carries: our app name, the three actions, no expiry, "resident". */
static void check_reminder(const json_t *n)
{
        json_t *want = json_pack("[s,s,s,s,s,s]", "ack", "Kvittera", "snooze", "Påminn nästa arbetsdag", "why",
                                 "Varför?");
        CHECK_STR(str_of(n, "app"), "bevaka");
        CHECK(json_equal(json_object_get(n, "actions"), want));
        CHECK_INT(json_integer_value(json_object_get(n, "expire")), 0);
        CHECK_INT(json_integer_value(json_object_get(n, "resident")), 1);
        json_decref(want);
}

/* Makes sure the bus daemon has routed everything `b` sent: it handles one connection's messages in order. */
static void bus_barrier(sd_bus *b)
{
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sd_bus_flush(b);
        sd_bus_call_method(b, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId", &err,
                           NULL, "");
        sd_bus_error_free(&err);
}

/* The reminder of `rule` (id and title), from the API. */
static bool reminder_of(it_env_t *e, const char *case_id, const char *rule, char *id, char *title, size_t n)
{
        json_t *r = it_api(e, "{\"op\":\"reminders\",\"case\":\"%s\",\"rule\":\"%s\",\"state\":\"any\"}",
                           case_id, rule);
        json_t *x = json_array_get(json_object_get(r, "reminders"), 0);
        bool ok = x != NULL;
        if (ok) {
                snprintf(id, n, "%s", json_string_value(json_object_get(x, "id")));
                snprintf(title, n, "%s", json_string_value(json_object_get(x, "title")));
        }
        json_decref(r);
        return ok;
}

static bool wait_state(srv_t *s, it_env_t *e, const char *id, const char *want, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        do {
                json_t *r = it_api(e, "{\"op\":\"reminders\",\"state\":\"any\"}"), *x;
                size_t i;
                bool ok = false;
                json_array_foreach(json_object_get(r, "reminders"), i, x)
                        if (strcmp(json_string_value(json_object_get(x, "id")), id) == 0)
                                ok = strcmp(json_string_value(json_object_get(x, "state")), want) == 0;
                json_decref(r);
                if (ok)
                        return true;
                srv_pump(s, 50);
        } while (it_ms() < end);
        return false;
}

#define HIST_OPEN "{\"v\":1,\"id\":\"ev-%d-open\",\"type\":\"case.opened\",\"at\":\"%s\"," \
        "\"case\":\"EB-2026-00000%d\",\"unit\":\"HV-EB-1\",\"data\":{\"caseworker\":\"hk1\"," \
        "\"household\":{\"adults\":1,\"single_parent\":false,\"children\":[]},\"barrier\":\"unemployment\"}}\n"
#define HIST_STEP "{\"v\":1,\"id\":\"ev-%d-%s\",\"type\":\"%s\",\"at\":\"%s\"," \
        "\"case\":\"EB-2026-00000%d\",\"unit\":\"HV-EB-1\"}\n"

static void write_history(const char *path)
{
        FILE *f = fopen(path, "w");
        /* Cases 1 and 4: IB1 three weeks ago, no IB3: IB3-DUE (due). */
        fprintf(f, HIST_OPEN, 1, "2026-01-05T09:00:00+01:00", 1);
        fprintf(f, HIST_STEP, 1, "ib1", "ib1.completed", "2026-01-07T10:00:00+01:00", 1);
        fprintf(f, HIST_OPEN, 4, "2026-01-05T09:00:00+01:00", 4);
        fprintf(f, HIST_STEP, 4, "ib1", "ib1.completed", "2026-01-07T10:00:00+01:00", 4);
        /* Case 2: a plan from September never followed up: IB4-FOLLOWUP (info) and IB4-OVERDUE (overdue). */
        fprintf(f, HIST_OPEN, 2, "2025-09-01T09:00:00+02:00", 2);
        fprintf(f, HIST_STEP, 2, "ib1", "ib1.completed", "2025-09-02T10:00:00+02:00", 2);
        fprintf(f, HIST_STEP, 2, "ib3", "ib3.completed", "2025-09-10T10:00:00+02:00", 2);
        fprintf(f, HIST_STEP, 2, "ib4", "ib4.established", "2025-09-15T10:00:00+02:00", 2);
        /* Case 3: IB1 last week: IB3-DUE on 2026-02-10. */
        fprintf(f, HIST_OPEN, 3, "2026-01-26T09:00:00+01:00", 3);
        fprintf(f, HIST_STEP, 3, "ib1", "ib1.completed", "2026-01-27T10:00:00+01:00", 3);
        fclose(f);
}

static pid_t notify_start(it_env_t *e)
{
        char exe[600], api[600], pub[600], state[600];
        snprintf(exe, sizeof(exe), "%s/bevaka-notify", e->bin);
        snprintf(api, sizeof(api), "ipc://%s/api.sock", e->dir);
        snprintf(pub, sizeof(pub), "ipc://%s/pub.sock", e->dir);
        snprintf(state, sizeof(state), "%s/state", e->dir);
        /* Four reminders (two of one case) come due at once here: --group 10 --per-reminder keeps them
         * single pop-ups, whose details are checked. */
        return it_spawn(e, "notify.log", (char *[]){ exe, "--topic", TOPIC, "--api", api, "--pub", pub,
                                                      "--state-dir", state, "--group", "10", "--per-reminder", NULL });
}

static const char *dbus_daemon_path(void)
{
        static const char *const paths[] = { "/usr/bin/dbus-daemon", "/bin/dbus-daemon", "/usr/local/bin/dbus-daemon" };
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        return NULL;
}

int main(void)
{
        it_env_t e;
        srv_t s = { 0 }, s2 = { 0 };
        char conf[512], sock[512], addr[600], path[512], log[512], text[2048], arg[600];
        char id_due[128], t_due[512], id_due4[128], t_due4[512], id_info[128], t_info[512], id_over[128], t_over[512];
        const char *dbus = dbus_daemon_path();
        pid_t dbusd, notify;
        json_t *n_due, *n_due4, *n_info, *n_over, *r, *why;
        sd_bus *intruder = NULL;
        size_t before;
        int st;

        if (!dbus)
                tap_skip("dbus-daemon not found: the D-Bus notifier test cannot run");
        it_init(&e);

        /* A private session bus. */
        it_path(&e, "bus.conf", conf, sizeof(conf));
        it_path(&e, "bus", sock, sizeof(sock));
        snprintf(text, sizeof(text),
                 "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                 " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                 "<busconfig><type>session</type><listen>unix:path=%s</listen><auth>EXTERNAL</auth>\n"
                 "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
                 "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n", sock);
        it_write(conf, text);
        snprintf(arg, sizeof(arg), "--config-file=%s", conf);
        dbusd = it_spawn(&e, "dbus.log", (char *[]){ (char *)dbus, arg, "--nofork", "--nopidfile", NULL });
        snprintf(addr, sizeof(addr), "unix:path=%s", sock);
        setenv("DBUS_SESSION_BUS_ADDRESS", addr, 1);
        int64_t end = it_ms() + 10000;
        while (it_ms() < end && !(access(sock, F_OK) == 0 && (intruder = bus_connect(addr)))) {
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);   /* polling interval */
        }
        CHECK(intruder != NULL);
        if (!intruder) {
                it_stop(&dbusd, SIGTERM);
                it_cleanup(&e);
                return tap_done();
        }
        /* The first server parses body markup; ids from 1. */
        CHECK(srv_open(&s, addr, true, 0));

        /* Each reminder as its own pop-up (delivery.quiet = false): this history, imported weeks
         * behind the clock, would otherwise be a go-live's backlog, and IB4-OVERDUE would
         * supersede the follow-up of its plan (docs/rules.md §5, "Delivery"). */
        it_config(&e, "2026-02-02T07:00:00+01:00", "rules = { IB4_OVERDUE = { body = \"" OVER_BODY "\"; }; };\n"
                  "delivery = { quiet = false; };\n");
        it_path(&e, "history.jsonl", path, sizeof(path));
        write_history(path);
        it_start_daemon(&e);
        it_start_feed(&e, path, NULL);
        it_connect(&e);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 10, 20000), 10);

        it_path(&e, "notify.log", log, sizeof(log));
        notify = notify_start(&e);
        CHECK_INT(log_wait(&s, log, "bevaka-notify: following " TOPIC, 1, 15000), 1);
        CHECK_INT(json_array_size(s.notifies), 0);

        r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2026-02-02T09:00:00+01:00\"}");
        CHECK(json_is_true(json_object_get(r, "ok")));
        json_decref(r);
        CHECK(srv_wait_notifies(&s, 4, 15000));
        CHECK(reminder_of(&e, "EB-2026-000001", "IB3-DUE", id_due, t_due, sizeof(t_due)));
        CHECK(reminder_of(&e, "EB-2026-000004", "IB3-DUE", id_due4, t_due4, sizeof(t_due4)));
        CHECK(reminder_of(&e, "EB-2026-000002", "IB4-FOLLOWUP", id_info, t_info, sizeof(t_info)));
        CHECK(reminder_of(&e, "EB-2026-000002", "IB4-OVERDUE", id_over, t_over, sizeof(t_over)));
        n_due = srv_find(&s, "EB-2026-000001", 0);
        n_due4 = srv_find(&s, "EB-2026-000004", 0);
        n_info = srv_find(&s, "Förändringsplanen ska följas upp", 0);    /* IB4-FOLLOWUP's body */
        n_over = srv_find(&s, OVER_BODY_MARKUP, 0);                     /* IB4-OVERDUE's, overridden */
        CHECK(n_due && n_due4 && n_info && n_over);
        if (!n_due || !n_due4 || !n_info || !n_over) {
                it_stop(&notify, SIGTERM);
                it_stop(&dbusd, SIGTERM);
                it_cleanup(&e);
                return tap_done();
        }
        CHECK_INT(json_array_size(s.notifies), 4);
        check_reminder(n_due);
        check_reminder(n_due4);
        check_reminder(n_info);
        check_reminder(n_over);
        CHECK_INT(json_integer_value(json_object_get(n_due, "replaces")), 0);
        CHECK_INT(json_integer_value(json_object_get(n_due, "urgency")), 1);
        CHECK_INT(json_integer_value(json_object_get(n_info, "urgency")), 0);
        CHECK_INT(json_integer_value(json_object_get(n_over, "urgency")), 2);
        CHECK_STR(str_of(n_due, "summary"), t_due);
        /* The summary is plain text by the spec (the title has a '>'); the body is markup for this server. */
        CHECK(strchr(t_over, '>') != NULL);
        CHECK_STR(str_of(n_over, "summary"), t_over);
        CHECK(strstr(str_of(n_over, "body"), OVER_BODY_MARKUP) != NULL);
        /* The case and the due date in words; no rule id in the Swedish text. */
        CHECK(strncmp(str_of(n_over, "body"), "Ärende ", strlen("Ärende ")) == 0);
        CHECK(strstr(str_of(n_over, "body"), "förf") != NULL);
        CHECK(strstr(str_of(n_over, "body"), "IB4-OVERDUE") == NULL);
        int64_t nid_due = nid_of(n_due), nid_due4 = nid_of(n_due4), nid_info = nid_of(n_info);
        int64_t nid_over = nid_of(n_over);

        /* The user clicks "Kvittera": the reminder is acknowledged and its notification closed. */
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_due, "ack") >= 0);
        CHECK(wait_state(&s, &e, id_due, "acknowledged", 15000));
        CHECK(srv_wait_closed(&s, nid_due, 15000));

        /* "Påminn nästa arbetsdag": snoozed to the daemon's default, off the desktop. */
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_due4, "snooze") >= 0);
        CHECK(wait_state(&s, &e, id_due4, "snoozed", 15000));
        CHECK(srv_wait_closed(&s, nid_due4, 15000));

        /* "Varför?" where the server keeps the notification (it honours "resident"): a second one explains. */
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_over, "why") >= 0);
        CHECK(srv_wait_notifies(&s, 5, 15000));
        why = json_array_get(s.notifies, 4);
        snprintf(text, sizeof(text), "Varför: %s", t_over);
        CHECK_STR(str_of(why, "summary"), text);
        /* Why in words: the events and dates behind it, no internal names. */
        CHECK(strstr(str_of(why, "body"), "Förändringsplan (IB4) upprättad") != NULL);
        CHECK(strstr(str_of(why, "body"), "Utifrån:") != NULL);
        CHECK(strstr(str_of(why, "body"), "IB4-OVERDUE") == NULL);
        CHECK(strstr(str_of(why, "body"), "ib4.established") == NULL);
        CHECK(strchr(str_of(why, "body"), '_') == NULL);
        CHECK_INT(json_array_size(json_object_get(why, "actions")), 0);
        CHECK_INT(json_integer_value(json_object_get(why, "expire")), -1);
        int64_t nid_why = nid_of(why);

        /*
         * "Varför?" where the server closes the notification on any action
         * (dunst, xfce4-notifyd): the why notification replaces the last one,
         * and the reminder comes back as a new notification. Nothing was
         * shown again for the reminder kept on screen above.
         */
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_info, "why") >= 0);
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "NotificationClosed", "uu", (uint32_t)nid_info,
                                 (uint32_t)2) >= 0);
        CHECK(srv_wait_notifies(&s, 7, 15000));
        why = json_array_get(s.notifies, 5);
        snprintf(text, sizeof(text), "Varför: %s", t_info);
        CHECK_STR(str_of(why, "summary"), text);
        CHECK_INT(json_integer_value(json_object_get(why, "replaces")), nid_why);
        n_info = json_array_get(s.notifies, 6);
        CHECK(strstr(str_of(n_info, "body"), "Förändringsplanen ska följas upp") != NULL);
        CHECK(strstr(str_of(n_info, "body"), "IB4-FOLLOWUP") == NULL);
        CHECK_INT(json_integer_value(json_object_get(n_info, "replaces")), 0);
        CHECK(nid_of(n_info) != nid_info);
        check_reminder(n_info);
        nid_info = nid_of(n_info);
        CHECK_INT(wait_state(&s, &e, id_info, "delivered", 0), 1);

        /*
         * Another connection emits the notification signals: ignored. An
         * action on a notification that is not ours changes nothing either.
         */
        CHECK(sd_bus_emit_signal(intruder, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_over, "ack") >= 0);
        CHECK(sd_bus_emit_signal(intruder, FDN_PATH, FDN, "NotificationClosed", "uu", (uint32_t)nid_over,
                                 (uint32_t)2) >= 0);
        bus_barrier(intruder);
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)999, "ack") >= 0);
        CHECK_INT(log_wait(&s, log, "bevaka-notify: ignoring ActionInvoked from ", 1, 15000), 1);
        CHECK_INT(log_wait(&s, log, "bevaka-notify: ignoring NotificationClosed from ", 1, 15000), 1);

        /*
         * The user closes the shown-again reminder: it stays closed. The next
         * "why" is handled after that close (signals are handled in order),
         * so the notification after the close is the explanation.
         */
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "NotificationClosed", "uu", (uint32_t)nid_info,
                                 (uint32_t)2) >= 0);
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_over, "why") >= 0);
        CHECK(srv_wait_notifies(&s, 8, 15000));
        snprintf(text, sizeof(text), "Varför: %s", t_over);
        CHECK_STR(str_of(json_array_get(s.notifies, 7), "summary"), text);
        CHECK_INT(wait_state(&s, &e, id_over, "delivered", 0), 1);
        CHECK_INT(s.foreign, 0);

        /*
         * The notification server restarts: a new connection (a new unique
         * name) whose ids 1–10 belong to other applications, the ids the old
         * server gave us. The reminder on the desktop is shown again with a
         * new id, as plain text (this server has no "body-markup"); the
         * closed, acknowledged and snoozed ones are not. A "why" on it then
         * shows a new explanation instead of replacing the old one's id.
         */
        srv_free(&s);
        CHECK(srv_open(&s2, addr, false, 10));
        CHECK(srv_wait_notifies(&s2, 1, 15000));
        n_over = json_array_get(s2.notifies, 0);
        CHECK(n_over && strstr(str_of(n_over, "body"), OVER_BODY) != NULL);
        CHECK_STR(str_of(n_over, "summary"), t_over);
        CHECK_INT(json_integer_value(json_object_get(n_over, "replaces")), 0);
        CHECK_INT(json_integer_value(json_object_get(n_over, "urgency")), 2);
        check_reminder(n_over);
        nid_over = nid_of(n_over);
        CHECK(nid_over > s2.first_nid);
        CHECK(sd_bus_emit_signal(s2.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_over, "why") >= 0);
        CHECK(srv_wait_notifies(&s2, 2, 15000));
        why = json_array_get(s2.notifies, 1);
        CHECK_STR(str_of(why, "summary"), text);
        CHECK_INT(json_integer_value(json_object_get(why, "replaces")), 0);
        CHECK_INT(json_array_size(s2.notifies), 2);
        CHECK_INT(log_count(log, "bevaka-notify: notification server is now "), 1);

        /* The case system records the revised plan: both IB4 reminders are resolved, the shown one closed. */
        CHECK(!srv_closed(&s2, nid_over));
        it_stop(&e.feed, SIGTERM);
        it_path(&e, "revise.jsonl", path, sizeof(path));
        it_write(path, "{\"v\":1,\"id\":\"ev-2-ib4r\",\"type\":\"ib4.revised\",\"at\":\"2026-02-02T09:30:00+01:00\","
                       "\"case\":\"EB-2026-000002\",\"unit\":\"HV-EB-1\"}\n");
        it_start_feed(&e, path, NULL);
        CHECK(srv_wait_closed(&s2, nid_over, 20000));
        CHECK(wait_state(&s2, &e, id_over, "resolved", 15000));
        CHECK(wait_state(&s2, &e, id_info, "resolved", 15000));

        /* A restart shows nothing again. */
        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        before = json_array_size(s2.notifies);
        notify = notify_start(&e);
        CHECK_INT(log_wait(&s2, log, "bevaka-notify: following " TOPIC, 2, 15000), 2);
        /* Notify is a synchronous call made before the snapshot ends: all of them are in. */
        srv_pump(&s2, 0);
        CHECK_INT(json_array_size(s2.notifies), before);

        /* No notification server when case 3 comes due (a login race): it is shown once one appears. */
        CHECK(sd_bus_release_name(s2.bus, FDN) >= 0);
        r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2026-02-10T09:00:00+01:00\"}");
        json_decref(r);
        CHECK(log_wait(&s2, log, "bevaka-notify: Notify: ", 1, 15000) >= 1);
        CHECK(sd_bus_request_name(s2.bus, FDN, 0) >= 0);
        CHECK(srv_wait_find(&s2, "EB-2026-000003", before, 20000));
        json_t *late = srv_find(&s2, "EB-2026-000003", before);
        CHECK(late != NULL);
        if (late) {
                CHECK_INT(json_integer_value(json_object_get(late, "urgency")), 1);
                CHECK_INT(json_integer_value(json_object_get(late, "replaces")), 0);
                check_reminder(late);
        }

        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        /* Never a replace or close of an id the server did not give bevaka-notify. */
        CHECK_INT(s2.foreign, 0);
        size_t i;
        json_t *v;
        json_array_foreach(s2.closes, i, v)
                CHECK(json_integer_value(v) > s2.first_nid);

        /*
         * A summary and its "show each": a fresh state and --group 0, so
         * what is open comes as one summary (resident, never expiring, the
         * one action); the action puts each reminder on the desktop with
         * its own actions and closes the summary.
         */
        char exe[600], api_ep[600], pub_ep[600], state_g[600], log_g[600];
        size_t open_n = 0;
        json_t *sum, *snap = it_api(&e, "{\"op\":\"sync\",\"topic\":\"" TOPIC "\",\"since_rseq\":0}");
        json_array_foreach(json_object_get(snap, "reminders"), i, v)
                open_n += strcmp(str_of(v, "state"), "delivered") == 0;
        json_decref(snap);
        CHECK(open_n >= 1);
        snprintf(exe, sizeof(exe), "%s/bevaka-notify", e.bin);
        snprintf(api_ep, sizeof(api_ep), "ipc://%s/api.sock", e.dir);
        snprintf(pub_ep, sizeof(pub_ep), "ipc://%s/pub.sock", e.dir);
        snprintf(state_g, sizeof(state_g), "%s/state-group", e.dir);
        it_path(&e, "notify-group.log", log_g, sizeof(log_g));
        before = json_array_size(s2.notifies);
        notify = it_spawn(&e, "notify-group.log", (char *[]){ exe, "--topic", TOPIC, "--api", api_ep, "--pub", pub_ep,
                                                              "--state-dir", state_g, "--group", "0", NULL });
        CHECK_INT(log_wait(&s2, log_g, "bevaka-notify: following " TOPIC, 1, 15000), 1);
        srv_pump(&s2, 0);
        CHECK_INT(json_array_size(s2.notifies), before + 1);
        sum = json_array_get(s2.notifies, before);
        snprintf(text, sizeof(text), "%zu %s", open_n, open_n == 1 ? "ny påminnelse" : "nya påminnelser");
        CHECK(strncmp(str_of(sum, "summary"), text, strlen(text)) == 0);
        CHECK_INT(json_array_size(json_object_get(sum, "actions")), 2);
        CHECK_STR(json_string_value(json_array_get(json_object_get(sum, "actions"), 0)), "show");
        CHECK_STR(json_string_value(json_array_get(json_object_get(sum, "actions"), 1)), "Visa var för sig");
        CHECK_INT(json_integer_value(json_object_get(sum, "resident")), 1);
        CHECK_INT(json_integer_value(json_object_get(sum, "expire")), 0);
        CHECK(sd_bus_emit_signal(s2.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_of(sum), "show") >= 0);
        CHECK(srv_wait_notifies(&s2, before + 1 + open_n, 15000));
        CHECK(srv_wait_closed(&s2, nid_of(sum), 15000));
        for (size_t k = before + 1; k < json_array_size(s2.notifies); k++)
                check_reminder(json_array_get(s2.notifies, k));
        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK_INT(s2.foreign, 0);

        if (getenv("BEVAKA_VERBOSE")) {
                char *dump = json_dumps(s2.notifies, JSON_INDENT(2));
                fprintf(stderr, "%s\n", dump);
                free(dump);
        }
        srv_free(&s2);
        sd_bus_flush_close_unref(intruder);
        it_stop(&dbusd, SIGTERM);
        it_cleanup(&e);
        return tap_done();
}
