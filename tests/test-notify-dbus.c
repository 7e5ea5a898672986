/*
 * Integration: bevaka-notify in its default D-Bus mode, against the real
 * bevakad and bevaka-feed over ipc:// and a private dbus-daemon. The test
 * itself is the notification server: it owns org.freedesktop.Notifications
 * with sd-bus, records Notify and CloseNotification calls, and emits
 * ActionInvoked as a desktop would when the user clicks. Checks: each due
 * reminder is shown once with the right summary, actions and urgency
 * (info 0, due 1, overdue 2); "ack" and "snooze" reach the daemon; "why"
 * shows a second notification; a reminder resolved by the case system is
 * closed; a restart shows nothing again. Skipped when dbus-daemon is
 * missing. Every wait pumps the bus and polls with a deadline.
 */
#include <stdbool.h>
#include <systemd/sd-bus.h>
#include "it.h"

#define TOPIC "rem/HV-EB-1/hk1/"
#define FDN "org.freedesktop.Notifications"
#define FDN_PATH "/org/freedesktop/Notifications"

typedef struct srv {
        sd_bus *bus;
        json_t *notifies;       /* [{app, replaces, summary, body, actions, urgency, expire, nid}] */
        json_t *closes;         /* [nid] */
        uint32_t next_nid;
} srv_t;

static int srv_notify(sd_bus_message *m, void *ud, sd_bus_error *e)
{
        srv_t *s = ud;
        const char *app, *icon, *summary, *body, *key;
        uint32_t replaces, nid;
        int32_t expire;
        char **actions = NULL;
        int urgency = -1, r;
        json_t *acts = json_array();

        if ((r = sd_bus_message_read(m, "susss", &app, &replaces, &icon, &summary, &body)) < 0 ||
            (r = sd_bus_message_read_strv(m, &actions)) < 0 ||
            (r = sd_bus_message_enter_container(m, 'a', "{sv}")) < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                sd_bus_message_read(m, "s", &key);
                if (strcmp(key, "urgency") == 0) {
                        uint8_t u;
                        sd_bus_message_read(m, "v", "y", &u);
                        urgency = u;
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
        nid = replaces ? replaces : ++s->next_nid;
        json_array_append_new(s->notifies, json_pack("{s:s, s:I, s:s, s:s, s:o, s:i, s:i, s:I}", "app", app,
                                                     "replaces", (json_int_t)replaces, "summary", summary,
                                                     "body", body, "actions", acts, "urgency", urgency,
                                                     "expire", expire, "nid", (json_int_t)nid));
        return sd_bus_reply_method_return(m, "u", nid);
}

static int srv_close(sd_bus_message *m, void *ud, sd_bus_error *e)
{
        srv_t *s = ud;
        uint32_t nid;
        int r;

        if ((r = sd_bus_message_read(m, "u", &nid)) < 0)
                return r;
        json_array_append_new(s->closes, json_integer(nid));
        sd_bus_emit_signal(s->bus, FDN_PATH, FDN, "NotificationClosed", "uu", nid, (uint32_t)3);
        return sd_bus_reply_method_return(m, "");
}

static int srv_caps(sd_bus_message *m, void *ud, sd_bus_error *e)
{
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

static json_t *srv_find(srv_t *s, const char *summary)
{
        size_t i;
        json_t *n;
        json_array_foreach(s->notifies, i, n)
                if (strcmp(json_string_value(json_object_get(n, "summary")), summary) == 0)
                        return n;
        return NULL;
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
        /* Case 1: IB1 three weeks ago, no IB3: IB3-DUE (due). */
        fprintf(f, HIST_OPEN, 1, "2026-01-05T09:00:00+01:00", 1);
        fprintf(f, HIST_STEP, 1, "ib1", "ib1.completed", "2026-01-07T10:00:00+01:00", 1);
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
        return it_spawn(e, "notify.log", (char *[]){ exe, "--topic", TOPIC, "--api", api, "--pub", pub,
                                                      "--state-dir", state, NULL });
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
        srv_t s = { 0 };
        char conf[512], sock[512], addr[600], path[512], log[512], text[2048], arg[600];
        char id_due[128], t_due[512], id_info[128], t_info[512], id_over[128], t_over[512];
        const char *dbus = dbus_daemon_path();
        pid_t dbusd, notify;
        json_t *n_due, *n_info, *n_over, *r;
        int st;

        if (!dbus) {
                fprintf(stderr, "dbus-daemon not found: skipping the D-Bus notifier test\n");
                return tap_done();
        }
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
        int rc = -1;
        while (it_ms() < end) {
                if (access(sock, F_OK) == 0) {
                        sd_bus_new(&s.bus);
                        sd_bus_set_address(s.bus, addr);
                        sd_bus_set_bus_client(s.bus, 1);
                        if ((rc = sd_bus_start(s.bus)) >= 0)
                                break;
                        s.bus = sd_bus_unref(s.bus);
                }
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);   /* polling interval */
        }
        CHECK(rc >= 0);
        if (rc < 0) {
                it_stop(&dbusd, SIGTERM);
                it_cleanup(&e);
                return tap_done();
        }
        s.notifies = json_array();
        s.closes = json_array();
        CHECK(sd_bus_add_object_vtable(s.bus, NULL, FDN_PATH, FDN, srv_vtable, &s) >= 0);
        CHECK(sd_bus_request_name(s.bus, FDN, 0) >= 0);

        it_config(&e, "2026-02-02T07:00:00+01:00", NULL);
        it_path(&e, "history.jsonl", path, sizeof(path));
        write_history(path);
        it_start_daemon(&e);
        it_start_feed(&e, path, NULL);
        it_connect(&e);
        CHECK_INT(it_wait_stat(&e, "events", "applied", 8, 20000), 8);

        it_path(&e, "notify.log", log, sizeof(log));
        notify = notify_start(&e);
        CHECK_INT(log_wait(&s, log, "bevaka-notify: following " TOPIC, 1, 15000), 1);
        CHECK_INT(json_array_size(s.notifies), 0);

        r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2026-02-02T09:00:00+01:00\"}");
        CHECK(json_is_true(json_object_get(r, "ok")));
        json_decref(r);
        CHECK(srv_wait_notifies(&s, 3, 15000));
        CHECK(reminder_of(&e, "EB-2026-000001", "IB3-DUE", id_due, t_due, sizeof(t_due)));
        CHECK(reminder_of(&e, "EB-2026-000002", "IB4-FOLLOWUP", id_info, t_info, sizeof(t_info)));
        CHECK(reminder_of(&e, "EB-2026-000002", "IB4-OVERDUE", id_over, t_over, sizeof(t_over)));
        n_due = srv_find(&s, t_due);
        n_info = srv_find(&s, t_info);
        n_over = srv_find(&s, t_over);
        CHECK(n_due && n_info && n_over);
        if (!n_due || !n_info || !n_over) {
                it_stop(&notify, SIGTERM);
                it_stop(&dbusd, SIGTERM);
                it_cleanup(&e);
                return tap_done();
        }
        CHECK_INT(json_array_size(s.notifies), 3);
        CHECK_STR(json_string_value(json_object_get(n_due, "app")), "bevaka");
        CHECK_INT(json_integer_value(json_object_get(n_due, "replaces")), 0);
        CHECK_INT(json_integer_value(json_object_get(n_due, "expire")), -1);
        CHECK_INT(json_integer_value(json_object_get(n_due, "urgency")), 1);
        CHECK_INT(json_integer_value(json_object_get(n_info, "urgency")), 0);
        CHECK_INT(json_integer_value(json_object_get(n_over, "urgency")), 2);
        CHECK(strstr(json_string_value(json_object_get(n_due, "body")), "EB-2026-000001") != NULL);
        CHECK(strstr(json_string_value(json_object_get(n_over, "body")), "IB4-OVERDUE") != NULL);
        json_t *want = json_pack("[s,s,s,s,s,s]", "ack", "Kvittera", "snooze", "Påminn i morgon", "why", "Varför?");
        CHECK(json_equal(json_object_get(n_due, "actions"), want));
        json_decref(want);
        int64_t nid_due = json_integer_value(json_object_get(n_due, "nid"));
        int64_t nid_info = json_integer_value(json_object_get(n_info, "nid"));
        int64_t nid_over = json_integer_value(json_object_get(n_over, "nid"));

        /* The user clicks "Kvittera": the reminder is acknowledged and its notification closed. */
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_due, "ack") >= 0);
        CHECK(wait_state(&s, &e, id_due, "acknowledged", 15000));
        CHECK(srv_wait_closed(&s, nid_due, 15000));

        /* "Varför?": a second notification explains. */
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_over, "why") >= 0);
        CHECK(srv_wait_notifies(&s, 4, 15000));
        json_t *why = json_array_get(s.notifies, 3);
        snprintf(text, sizeof(text), "Varför: %s", t_over);
        CHECK_STR(json_string_value(json_object_get(why, "summary")), text);
        CHECK(strstr(json_string_value(json_object_get(why, "body")), "IB4-OVERDUE") != NULL);
        CHECK(strstr(json_string_value(json_object_get(why, "body")), "ib4.established") != NULL);
        CHECK_INT(json_array_size(json_object_get(why, "actions")), 0);

        /* "Påminn i morgon": snoozed to the daemon's default, off the desktop. */
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)nid_info, "snooze") >= 0);
        CHECK(wait_state(&s, &e, id_info, "snoozed", 15000));
        CHECK(srv_wait_closed(&s, nid_info, 15000));

        /* An action on a notification that is not ours changes nothing. */
        CHECK(sd_bus_emit_signal(s.bus, FDN_PATH, FDN, "ActionInvoked", "us", (uint32_t)999, "ack") >= 0);

        /* The case system records the revised plan: the overdue reminder is resolved and closed. */
        CHECK(!srv_closed(&s, nid_over));
        it_stop(&e.feed, SIGTERM);
        it_path(&e, "revise.jsonl", path, sizeof(path));
        it_write(path, "{\"v\":1,\"id\":\"ev-2-ib4r\",\"type\":\"ib4.revised\",\"at\":\"2026-02-02T09:30:00+01:00\","
                       "\"case\":\"EB-2026-000002\",\"unit\":\"HV-EB-1\"}\n");
        it_start_feed(&e, path, NULL);
        CHECK(srv_wait_closed(&s, nid_over, 20000));
        CHECK(wait_state(&s, &e, id_over, "resolved", 15000));

        /* A restart shows nothing again. */
        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        size_t before = json_array_size(s.notifies);
        notify = notify_start(&e);
        CHECK_INT(log_wait(&s, log, "bevaka-notify: following " TOPIC, 2, 15000), 2);
        /* Notify is a synchronous call made before the snapshot ends: all of them are in. */
        srv_pump(&s, 0);
        CHECK_INT(json_array_size(s.notifies), before);

        /* No notification server when case 3 comes due (a login race): it is shown once one appears. */
        CHECK(sd_bus_release_name(s.bus, FDN) >= 0);
        r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2026-02-10T09:00:00+01:00\"}");
        json_decref(r);
        CHECK_INT(log_wait(&s, log, "bevaka-notify: Notify: ", 1, 15000), 1);
        CHECK(sd_bus_request_name(s.bus, FDN, 0) >= 0);
        CHECK(srv_wait_notifies(&s, before + 1, 20000));
        json_t *late = json_array_get(s.notifies, before);
        CHECK(late && strstr(json_string_value(json_object_get(late, "body")), "EB-2026-000003") != NULL);
        CHECK_INT(json_integer_value(json_object_get(late, "urgency")), 1);

        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

        if (getenv("BEVAKA_VERBOSE")) {
                char *dump = json_dumps(s.notifies, JSON_INDENT(2));
                fprintf(stderr, "%s\n", dump);
                free(dump);
        }
        json_decref(s.notifies);
        json_decref(s.closes);
        sd_bus_flush_close_unref(s.bus);
        it_stop(&dbusd, SIGTERM);
        it_cleanup(&e);
        return tap_done();
}
