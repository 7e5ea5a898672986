/*
 * Integration, as a caseworker and a lead see it: bevaka-notify on an Xvfb
 * display with a real notification server (dunst, on a private session
 * bus), fed by a scripted publisher in this test that speaks the protocol
 * (an XPUB for the reminder stream, a ROUTER answering `sync` from the set
 * of open reminders it has published, as bevakad does). What dunst shows
 * is counted with dunstctl; what it showed is read back from its history.
 *   five reminders at one moment     -> one summary, most urgent first
 *   two                              -> two pop-ups
 *   four backlog reminders           -> none (counted on stderr)
 *   a digest on the leads' topic     -> one notification
 *   an unknown op with text / without-> one plain notification / nothing
 *   a reminder superseded by its escalation in the same moment
 *                                    -> the escalation in its place, one
 *                                       notification in all
 *   three of one case at one moment  -> one card, "Ärende X: 3 nya …",
 *                                       shrinking as they are resolved
 * and with --terminal, started with 8 open reminders and 4 backlog ones:
 * one [group] line with the 8 under it, one [backlog] line; a digest and a
 * message of an unknown op as their lines; two of one case as a [case] line.
 * Screens are written as PNG to BEVAKA_BIN/notify-shots/ for a person to
 * look at. Skipped (exit 77) without Xvfb, dunst or dbus-daemon. Every
 * wait polls with a deadline.
 */
#include <poll.h>
#include "it.h"

#define TOPIC "rem/HV-EB-1/hk1/"
#define LEADS "rem/HV-EB-1/@leads/"

typedef struct fake {
        void *router, *xpub;
        json_t *open;           /* topic -> {id -> reminder}: what `sync` answers */
        json_t *subs;           /* topic -> subscriptions seen */
        int64_t rseq;
} fake_t;

static fake_t F;
static it_env_t E;
static pid_t xvfb, bus;
static const char *log_name = "notify.log";     /* the notifier whose output log_count() reads */
static char shots[700];

static void fake_request(zmq_msg_t *rid, json_t *req)
{
        const char *op = json_string_value(json_object_get(req, "op"));
        json_t *rep, *list = json_array(), *r;
        const char *id;
        char *text;

        if (op && strcmp(op, "sync") == 0) {
                json_object_foreach(json_object_get(F.open, json_string_value(json_object_get(req, "topic"))), id, r)
                        json_array_append(list, r);
                rep = json_pack("{s:b, s:O, s:o, s:I}", "ok", 1, "req", json_object_get(req, "req"), "reminders", list,
                                "rseq", (json_int_t)F.rseq);
        } else {
                json_decref(list);
                rep = json_pack("{s:b, s:O, s:{s:s, s:s}}", "ok", 0, "req", json_object_get(req, "req"), "error",
                                "code", "unknown_op", "message", "not in this test");
        }
        text = json_dumps(rep, JSON_COMPACT);
        zmq_msg_send(rid, F.router, ZMQ_SNDMORE);
        zmq_send(F.router, text, strlen(text), 0);
        free(text);
        json_decref(rep);
}

/* Serves requests and subscriptions for up to ms: the polling interval of every wait below. */
static void fake_pump(int ms)
{
        zmq_pollitem_t it[2] = { { .socket = F.router, .events = ZMQ_POLLIN },
                                 { .socket = F.xpub, .events = ZMQ_POLLIN } };
        char buf[512];
        int n;

        if (zmq_poll(it, 2, ms) <= 0)
                return;
        while ((n = zmq_recv(F.xpub, buf, sizeof(buf) - 1, ZMQ_DONTWAIT)) > 0) {
                buf[n] = '\0';
                if (buf[0] == 1)       /* XPUB_VERBOSE: every subscriber's, so they are counted */
                        json_object_set_new(F.subs, buf + 1,
                                            json_integer(json_integer_value(json_object_get(F.subs, buf + 1)) + 1));
        }
        for (;;) {
                zmq_msg_t rid, body;
                int more = 0;
                size_t ms_ = sizeof(more);
                zmq_msg_init(&rid);
                if (zmq_msg_recv(&rid, F.router, ZMQ_DONTWAIT) < 0) {
                        zmq_msg_close(&rid);
                        break;
                }
                zmq_msg_init(&body);
                zmq_msg_recv(&body, F.router, 0);
                zmq_getsockopt(F.router, ZMQ_RCVMORE, &more, &ms_);
                json_t *req = json_loadb(zmq_msg_data(&body), zmq_msg_size(&body), 0, NULL);
                if (req)
                        fake_request(&rid, req);
                json_decref(req);
                zmq_msg_close(&body);
                zmq_msg_close(&rid);
        }
}

/* Publishes one message on topic, with the next rseq; keeps `open` as the daemon's store would. */
static void fake_send(const char *topic, json_t *msg)
{
        const char *op = json_string_value(json_object_get(msg, "op")), *id = json_string_value(json_object_get(msg, "id"));
        json_t *mine = json_object_get(F.open, topic);
        char *text;

        json_object_set_new(msg, "v", json_integer(1));
        json_object_set_new(msg, "rseq", json_integer(++F.rseq));
        if (!mine) {
                mine = json_object();
                json_object_set_new(F.open, topic, mine);
        }
        if (id && strcmp(op, "due") == 0) {
                json_t *copy = json_deep_copy(msg);
                json_object_set_new(copy, "state", json_string("delivered"));
                json_object_set_new(mine, id, copy);
        } else if (id) {
                json_object_del(mine, id);
        }
        text = json_dumps(msg, JSON_COMPACT);
        zmq_send(F.xpub, topic, strlen(topic), ZMQ_SNDMORE);
        zmq_send(F.xpub, text, strlen(text), 0);
        free(text);
        json_decref(msg);
}

static json_t *rem(const char *id, const char *kase, const char *rule, const char *sev, const char *due,
                   const char *title, bool backlog)
{
        json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "op", "due", "id", id, "rule",
                              rule, "case", kase, "unit", "HV-EB-1", "caseworker", "hk1", "severity", sev, "due_at",
                              due, "deliver_at", "2026-03-02T08:00:00+01:00", "title", title, "body",
                              "Se ärendet i verksamhetssystemet.");
        if (backlog)
                json_object_set_new(r, "backlog", json_true());
        return r;
}

/* ---- the desktop ---------------------------------------------------------------------------- */

static long sh_long(const char *cmd)
{
        FILE *p = popen(cmd, "r");
        long v = -1;
        if (!p)
                return -1;
        if (fscanf(p, "%ld", &v) != 1)
                v = -1;
        pclose(p);
        return v;
}

static long displayed(void)
{
        return sh_long("dunstctl count displayed 2>/dev/null");
}

static long wait_displayed(long want, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        long n;
        while ((n = displayed()) != want && it_ms() < end)
                fake_pump(20);
        return n;
}

/* dunst's history, newest first: [{"summary", "body", "id"}]. */
static json_t *history(void)
{
        FILE *p = popen("dunstctl history 2>/dev/null", "r");
        json_t *h = p ? json_loadf(p, 0, NULL) : NULL, *out = json_array(), *e;
        size_t i;

        if (p)
                pclose(p);
        json_array_foreach(json_array_get(json_object_get(h, "data"), 0), i, e)
                json_array_append_new(out, json_pack("{s:O?, s:O?, s:O?}", "summary",
                                                     json_object_get(json_object_get(e, "summary"), "data"), "body",
                                                     json_object_get(json_object_get(e, "body"), "data"), "id",
                                                     json_object_get(json_object_get(e, "id"), "data")));
        json_decref(h);
        return out;
}

static long file_size(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/*
 * The screen as PNG. dunst draws after it counts a notification as
 * displayed, so the grab is repeated until it differs from the empty
 * screen's (bounded): a poll, not a sleep.
 */
static void shot(const char *name, bool empty)
{
        static long blank = -1;
        char cmd[1600], out[800];
        int64_t end = it_ms() + 5000;

        snprintf(out, sizeof(out), "%s/%s.png", shots, name);
        snprintf(cmd, sizeof(cmd), "xwd -root -silent | xwdtopnm 2>/dev/null | pnmtopng > '%s' 2>/dev/null", out);
        do {
                if (system(cmd) != 0)
                        break;
                fake_pump(50);
        } while (!empty && file_size(out) == blank && it_ms() < end);
        if (empty)
                blank = file_size(out);
        printf("# screen: %s\n", out);
}

/* Closes what is on screen (as the user would) and returns dunst's history, newest first. */
static json_t *clear(void)
{
        if (system("dunstctl close-all 2>/dev/null") != 0)
                fprintf(stderr, "dunstctl close-all failed\n");
        CHECK_INT(wait_displayed(0, 5000), 0);
        return history();
}

static const char *h_str(const json_t *h, size_t i, const char *key)
{
        const char *s = json_string_value(json_object_get(json_array_get(h, i), key));
        return s ? s : "";
}

/* ---- the notifier ----------------------------------------------------------------------------- */

static int log_count(const char *needle)
{
        static char buf[1 << 20];
        char path[600];
        FILE *f;
        size_t k;
        int n = 0;

        it_path(&E, log_name, path, sizeof(path));
        if (!(f = fopen(path, "r")))
                return 0;
        k = fread(buf, 1, sizeof(buf) - 1, f);
        buf[k] = '\0';
        fclose(f);
        for (const char *p = buf; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static int log_wait(const char *needle, int want, int timeout_ms)
{
        int64_t end = it_ms() + timeout_ms;
        int n;
        while ((n = log_count(needle)) < want && it_ms() < end)
                fake_pump(20);
        return n;
}

/* The subscriptions travel on their own connection and may come after the sync: wait for n of each topic. */
static bool wait_subs(int n)
{
        int64_t end = it_ms() + 10000;
        while ((json_integer_value(json_object_get(F.subs, TOPIC)) < n ||
                json_integer_value(json_object_get(F.subs, LEADS)) < n) && it_ms() < end)
                fake_pump(20);
        return json_integer_value(json_object_get(F.subs, TOPIC)) >= n &&
               json_integer_value(json_object_get(F.subs, LEADS)) >= n;
}

static bool have(const char *prog)
{
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "command -v %s > /dev/null 2>&1", prog);
        return system(cmd) == 0;
}

/* Xvfb on a free display (-displayfd), a private session bus, dunst on both. */
static pid_t desktop_start(void)
{
        char path[600], conf[600], text[2048], addr[700], disp[32] = "";
        pid_t dunst;
        int64_t end;

        xvfb = it_spawn(&E, "xvfb.out", (char *[]){ "/usr/bin/Xvfb", "-displayfd", "1", "-screen", "0", "1024x700x24",
                                                    "-nolisten", "tcp", NULL });
        it_path(&E, "xvfb.out", path, sizeof(path));
        for (end = it_ms() + 15000; !disp[0] && it_ms() < end; fake_pump(20)) {
                FILE *f = fopen(path, "r");
                char line[256];
                while (f && fgets(line, sizeof(line), f))
                        if (line[0] >= '0' && line[0] <= '9' && strspn(line, "0123456789\n") == strlen(line))
                                snprintf(disp, sizeof(disp), ":%.*s", (int)strcspn(line, "\n"), line);
                if (f)
                        fclose(f);
        }
        CHECK(disp[0] != '\0');
        setenv("DISPLAY", disp, 1);

        it_path(&E, "bus.conf", conf, sizeof(conf));
        it_path(&E, "bus", path, sizeof(path));
        snprintf(text, sizeof(text),
                 "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                 " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                 "<busconfig><type>session</type><listen>unix:path=%s</listen><auth>EXTERNAL</auth>\n"
                 "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
                 "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
                 path);
        it_write(conf, text);
        snprintf(text, sizeof(text), "--config-file=%s", conf);
        bus = it_spawn(&E, "dbus.log", (char *[]){ "/usr/bin/dbus-daemon", text, "--nofork", "--nopidfile", NULL });
        snprintf(addr, sizeof(addr), "unix:path=%s", path);
        setenv("DBUS_SESSION_BUS_ADDRESS", addr, 1);
        /* dunst gives up if the bus is not there yet: wait until it answers. */
        for (end = it_ms() + 15000; it_ms() < end; fake_pump(20))
                if (system("dbus-send --session --print-reply --dest=org.freedesktop.DBus / "
                           "org.freedesktop.DBus.GetId > /dev/null 2>&1") == 0)
                        break;

        it_path(&E, "dunstrc", conf, sizeof(conf));
        it_write(conf, "[global]\norigin = top-right\noffset = 10x10\nwidth = 560\nnotification_limit = 0\n"
                       "history_length = 200\nfont = DejaVu Sans 10\nformat = \"<b>%s</b>\\n%b\"\n"
                       "[urgency_low]\ntimeout = 0\nbackground = \"#444444\"\n"
                       "[urgency_normal]\ntimeout = 0\nbackground = \"#285577\"\n"
                       "[urgency_critical]\ntimeout = 0\nbackground = \"#900000\"\n");
        dunst = it_spawn(&E, "dunst.log", (char *[]){ "/usr/bin/dunst", "-config", conf, NULL });
        /* dunstctl answers once dunst owns its names on the bus. */
        for (end = it_ms() + 15000; displayed() != 0 && it_ms() < end;)
                fake_pump(50);
        CHECK_INT(displayed(), 0);
        return dunst;
}

int main(void)
{
        char exe[600], api[600], pub[600], state[600];
        pid_t notify, procs[3] = { 0 };
        json_t *h;
        int zero = 0, one = 1, st;

        if (!have("Xvfb") || !have("dunst") || !have("dunstctl") || !have("dbus-daemon") || !have("xwd") ||
            !have("pnmtopng"))
                tap_skip("Xvfb, dunst, dbus-daemon or xwd/netpbm missing (scripts/deps.sh installs them)");
        it_init(&E);
        snprintf(shots, sizeof(shots), "%s/notify-shots", E.bin);
        mkdir(shots, 0755);

        F.open = json_object();
        F.subs = json_object();
        F.router = zmq_socket(E.ctx, ZMQ_ROUTER);
        F.xpub = zmq_socket(E.ctx, ZMQ_XPUB);
        zmq_setsockopt(F.router, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_setsockopt(F.xpub, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_setsockopt(F.xpub, ZMQ_XPUB_VERBOSE, &one, sizeof(one));
        snprintf(api, sizeof(api), "ipc://%s/api.sock", E.dir);
        snprintf(pub, sizeof(pub), "ipc://%s/pub.sock", E.dir);
        CHECK_INT(zmq_bind(F.router, api), 0);
        CHECK_INT(zmq_bind(F.xpub, pub), 0);

        procs[0] = desktop_start();
        shot("0-empty", true);

        snprintf(exe, sizeof(exe), "%s/bevaka-notify", E.bin);
        snprintf(state, sizeof(state), "%s/state", E.dir);
        notify = it_spawn(&E, "notify.log", (char *[]){ exe, "--api", api, "--pub", pub, "--state-dir", state,
                                                        "--topic", TOPIC, "--topic", LEADS, NULL });
        CHECK_INT(log_wait("bevaka-notify: following ", 2, 15000), 2);
        CHECK(wait_subs(1));

        /* Five at one moment: one summary, most urgent (the overdue one) first. */
        fake_send(TOPIC, rem("r-a1", "EB-2026-000101", "IB3-DUE", "due", "2026-03-09", "Nybesök (IB3) ej genomfört", false));
        fake_send(TOPIC, rem("r-a2", "EB-2026-000102", "IB4-OVERDUE", "overdue", "2026-02-20",
                             "Förändringsplanen är inte uppföljd", false));
        fake_send(TOPIC, rem("r-a3", "EB-2026-000103", "FIA-DUE", "due", "2026-03-02", "Påbörja fördjupad utredning (FIA)", false));
        fake_send(TOPIC, rem("r-a4", "EB-2026-000104", "IB3-DUE", "due", "2026-03-05", "Nybesök (IB3) ej genomfört", false));
        fake_send(TOPIC, rem("r-a5", "EB-2026-000105", "SIP-FOLLOWUP", "info", "2026-03-16", "Följ upp SIP", false));
        CHECK_INT(log_wait("batch of 5: 0 pop-ups, 5 in a summary, 0 backlog", 1, 10000), 1);
        CHECK_INT(wait_displayed(1, 5000), 1);
        shot("1-five-at-once", false);
        h = clear();
        CHECK_STR(h_str(h, 0, "summary"), "5 nya påminnelser (1 förfallen)");
        CHECK(strncmp(h_str(h, 0, "body"), "Ärende EB-2026-000102 · förföll 2026-02-20", 44) == 0);
        CHECK(strstr(h_str(h, 0, "body"), "EB-2026-000105") != NULL);
        CHECK_INT(json_array_size(h), 1);
        json_decref(h);

        /* Two: two pop-ups of their own. */
        fake_send(TOPIC, rem("r-b1", "EB-2026-000201", "IB3-DUE", "due", "2026-03-09", "Nybesök (IB3) ej genomfört", false));
        fake_send(TOPIC, rem("r-b2", "EB-2026-000202", "FIA-DUE", "due", "2026-03-12", "Påbörja fördjupad utredning (FIA)", false));
        CHECK_INT(log_wait("batch of 2: 2 pop-ups, 0 in a summary, 0 backlog", 1, 10000), 1);
        CHECK_INT(wait_displayed(2, 5000), 2);
        shot("2-two", false);
        h = clear();
        CHECK_INT(json_array_size(h), 3);
        CHECK_STR(h_str(h, 0, "summary"), "Påbörja fördjupad utredning (FIA)");
        CHECK_STR(h_str(h, 1, "summary"), "Nybesök (IB3) ej genomfört");
        json_decref(h);

        /* Four backlog reminders: none pops up. The digest after them is the only thing on screen. */
        for (int i = 1; i <= 4; i++) {
                char id[16], kase[32];
                snprintf(id, sizeof(id), "r-c%d", i);
                snprintf(kase, sizeof(kase), "EB-2025-00030%d", i);
                fake_send(TOPIC, rem(id, kase, "IB4-FOLLOWUP", "info", "2025-11-01", "Följ upp förändringsplanen", true));
        }
        CHECK_INT(log_wait("batch of 4: 0 pop-ups, 0 in a summary, 4 backlog", 1, 10000), 1);
        CHECK_INT(displayed(), 0);

        /* A digest on the leads' topic: one notification, counts by rule and the most urgent items. */
        json_t *items = json_pack("[o,o,o]", rem("r-d1", "EB-2026-000401", "CONTINUITY", "info", "2026-02-27",
                                                 "Byte av handläggare tre gånger på ett år", false),
                                  rem("r-d2", "EB-2026-000402", "FIA-OVERDUE", "overdue", "2026-02-10",
                                      "Fördjupad utredning (FIA) är försenad", false),
                                  rem("r-d3", "EB-2026-000403", "CONTINUITY", "info", "2026-02-28",
                                      "Byte av handläggare tre gånger på ett år", false));
        fake_send(LEADS, json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:i}, s:o}", "op", "digest", "unit", "HV-EB-1", "since",
                                   "2026-02-27T08:00:00+01:00", "at", "2026-03-02T08:00:00+01:00", "counts", "CONTINUITY",
                                   2, "FIA-OVERDUE", 1, "items", items));
        CHECK_INT(log_wait("digest for HV-EB-1: 3 items", 1, 10000), 1);
        CHECK_INT(wait_displayed(1, 5000), 1);
        shot("3-digest", false);
        h = clear();
        CHECK_INT(json_array_size(h), 4);       /* the backlog added nothing */
        CHECK_STR(h_str(h, 0, "summary"), "Sammanställning för HV-EB-1: 3 nya påminnelser");
        CHECK(strstr(h_str(h, 0, "body"), "2 × Byte av handläggare tre gånger på ett år") != NULL);
        CHECK(strstr(h_str(h, 0, "body"), "EB-2026-000402 · förföll 2026-02-10") != NULL);
        CHECK(strstr(h_str(h, 0, "body"), "CONTINUITY") == NULL);
        json_decref(h);

        /* Ops the notifier does not know: one with text is one plain notification; one without, nothing. */
        fake_send(TOPIC, json_pack("{s:s, s:i}", "op", "frobnicate", "n", 3));
        fake_send(TOPIC, json_pack("{s:s, s:s, s:s}", "op", "summary", "title", "100 öppna påminnelser i dina ärenden",
                                   "body", "De mest brådskande finns i arbetslistan."));
        CHECK_INT(log_wait("message op frobnicate: ignored (no text)", 1, 10000), 1);
        CHECK_INT(log_wait("message op summary: shown", 1, 10000), 1);
        CHECK_INT(wait_displayed(1, 5000), 1);
        h = clear();
        CHECK_INT(json_array_size(h), 5);
        CHECK_STR(h_str(h, 0, "summary"), "100 öppna påminnelser i dina ärenden");
        json_decref(h);

        /*
         * Resolved without an escalation: the notifier closes it, and dunst
         * keeps what was closed in its history (so the count below would see
         * a superseded notification closed rather than replaced).
         */
        fake_send(TOPIC, rem("r-g1", "EB-2026-000601", "IB3-DUE", "due", "2026-03-09", "Nybesök (IB3) ej genomfört", false));
        CHECK_INT(log_wait("batch of 1: 1 pop-ups", 1, 10000), 1);
        CHECK_INT(wait_displayed(1, 5000), 1);
        fake_send(TOPIC, json_pack("{s:s, s:s, s:s, s:s}", "op", "resolved", "id", "r-g1", "rule", "IB3-DUE", "case",
                                   "EB-2026-000601"));
        CHECK_INT(wait_displayed(0, 5000), 0);
        h = history();
        CHECK_INT(json_array_size(h), 6);
        CHECK_STR(h_str(h, 0, "body"), "Ärende EB-2026-000601 · förfaller 2026-03-09\nSe ärendet i verksamhetssystemet.");
        json_decref(h);

        /* Superseded in the same moment: the escalation takes the earlier one's place, one notification in all. */
        fake_send(TOPIC, rem("r-e1", "EB-2026-000501", "FIA-DUE", "due", "2026-03-02", "Påbörja fördjupad utredning (FIA)",
                             false));
        CHECK_INT(log_wait("batch of 1: 1 pop-ups", 2, 10000), 2);
        CHECK_INT(wait_displayed(1, 5000), 1);
        fake_send(TOPIC, json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "resolved", "id", "r-e1", "rule", "FIA-DUE", "case",
                                   "EB-2026-000501", "superseded_by", "r-e2"));
        fake_send(TOPIC, rem("r-e2", "EB-2026-000501", "FIA-OVERDUE", "overdue", "2026-03-02",
                             "Fördjupad utredning (FIA) är försenad", false));
        CHECK_INT(log_wait("batch of 1: 1 pop-ups", 3, 10000), 3);
        CHECK_INT(wait_displayed(1, 5000), 1);
        shot("4-superseded", false);
        h = clear();
        CHECK_INT(json_array_size(h), 7);       /* replaced in place: no second notification */
        CHECK_STR(h_str(h, 0, "summary"), "Fördjupad utredning (FIA) är försenad");
        json_decref(h);

        /* One case, three at one moment (a reopening's overdue plan and FIA, a handover): one card. */
        fake_send(TOPIC, rem("r-k1", "EB-2026-000701", "IB4-OVERDUE", "overdue", "2026-02-20",
                             "Förändringsplanen är inte uppföljd", false));
        fake_send(TOPIC, rem("r-k2", "EB-2026-000701", "FIA-OVERDUE", "overdue", "2026-02-10",
                             "Fördjupad utredning (FIA) är försenad", false));
        fake_send(TOPIC, rem("r-k3", "EB-2026-000701", "HANDOVER", "info", "2026-03-02", "Ärendet har bytt handläggare",
                             false));
        CHECK_INT(log_wait("batch of 3: 3 pop-ups, 0 in a summary, 0 backlog; 1 notification(s)", 1, 10000), 1);
        CHECK_INT(wait_displayed(1, 5000), 1);
        shot("5-case-card", false);
        h = clear();
        CHECK_STR(h_str(h, 0, "summary"), "Ärende EB-2026-000701: 3 nya påminnelser (2 förfallna)");
        CHECK(strncmp(h_str(h, 0, "body"), "förföll 2026-02-10 · Fördjupad utredning (FIA) är försenad\n", 60) == 0);
        CHECK(strstr(h_str(h, 0, "body"), "Ärendet har bytt handläggare") != NULL);
        CHECK(strstr(h_str(h, 0, "body"), "Ärende ") == NULL);     /* the case is said once, above */
        json_decref(h);
        for (int i = 1; i <= 3; i++) {
                char id[8];
                snprintf(id, sizeof(id), "r-k%d", i);
                fake_send(TOPIC, json_pack("{s:s, s:s, s:s, s:s}", "op", "resolved", "id", id, "rule", "IB4-OVERDUE",
                                           "case", "EB-2026-000701"));
        }
        /* Handled one by one, a card shrinks in place and closes with the last: what dunst last
         * showed of it (its history keeps a replaced notification's final text) names one. */
        fake_send(TOPIC, rem("r-k4", "EB-2026-000702", "IB4-OVERDUE", "overdue", "2026-02-20",
                             "Förändringsplanen är inte uppföljd", false));
        fake_send(TOPIC, rem("r-k5", "EB-2026-000702", "CHILD-MAP", "due", "2026-03-02",
                             "Kartlägg barnens situation", false));
        fake_send(TOPIC, rem("r-k6", "EB-2026-000702", "HANDOVER", "info", "2026-03-02", "Ärendet har bytt handläggare",
                             false));
        CHECK_INT(log_wait("batch of 3: 3 pop-ups, 0 in a summary, 0 backlog; 1 notification(s)", 2, 10000), 2);
        CHECK_INT(wait_displayed(1, 5000), 1);
        long before = json_array_size(h = history());
        json_decref(h);
        const char *order[] = { "r-k4", "IB4-OVERDUE", "r-k6", "HANDOVER", "r-k5", "CHILD-MAP" };
        for (int i = 0; i < 6; i += 2)
                fake_send(TOPIC, json_pack("{s:s, s:s, s:s, s:s}", "op", "resolved", "id", order[i], "rule", order[i + 1],
                                           "case", "EB-2026-000702"));
        CHECK_INT(wait_displayed(0, 5000), 0);
        h = history();
        CHECK_INT((long)json_array_size(h), before + 1);         /* replaced in place: one notification */
        CHECK_STR(h_str(h, 0, "summary"), "Ärende EB-2026-000702: 1 ny påminnelse");
        CHECK_STR(h_str(h, 0, "body"), "förfaller i dag · Kartlägg barnens situation");
        json_decref(h);

        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

        /*
         * --terminal, started now: the open reminders (8, and 4 backlog) are
         * one moment: a [group] line with the 8 indented, one [backlog] line;
         * then a digest and a message of an unknown op as their lines.
         */
        log_name = "notify-term.log";
        snprintf(state, sizeof(state), "%s/state-term", E.dir);
        notify = it_spawn(&E, "notify-term.log", (char *[]){ exe, "--api", api, "--pub", pub, "--state-dir", state,
                                                             "--terminal", "--topic", TOPIC, "--topic", LEADS, NULL });
        CHECK_INT(log_wait("bevaka-notify: following ", 2, 15000), 2);
        CHECK(wait_subs(2));
        CHECK_INT(log_count("[group] 8 nya påminnelser (2 förfallna)\n"), 1);
        CHECK_INT(log_count("\n  [due] "), 8);
        CHECK_INT(log_count("\n  [due] 2026-02-20 IB4-OVERDUE EB-2026-000102"), 1);
        CHECK_INT(log_count("[backlog] 4 påminnelser levererade i efterhand"), 1);
        CHECK_INT(log_count("EB-2025-00030"), 0);
        fake_send(LEADS, json_pack("{s:s, s:s, s:s, s:s, s:{s:i}, s:[o]}", "op", "digest", "unit", "HV-EB-1", "since",
                                   "2026-03-02T08:00:00+01:00", "at", "2026-03-03T08:00:00+01:00", "counts",
                                   "FIA-OVERDUE", 1, "items", rem("r-d9", "EB-2026-000409", "FIA-OVERDUE", "overdue",
                                                                  "2026-02-11", "Fördjupad utredning (FIA) är försenad",
                                                                  false)));
        fake_send(TOPIC, json_pack("{s:s, s:s}", "op", "summary", "text", "Välkommen till bevaka"));
        CHECK_INT(log_wait("[message] bevaka \u2014 Välkommen till bevaka\n", 1, 10000), 1);
        /* two of one case at one moment: one [case] line, the two under it */
        fake_send(TOPIC, rem("r-k7", "EB-2026-000705", "IB4-OVERDUE", "overdue", "2026-02-20",
                             "Förändringsplanen är inte uppföljd", false));
        fake_send(TOPIC, rem("r-k8", "EB-2026-000705", "CHILD-IMPACT", "due", "2026-03-04",
                             "Barnkonsekvensanalys saknas", false));
        CHECK_INT(log_wait("[case] Ärende EB-2026-000705: 2 nya påminnelser (1 förfallen)\n  [due] 2026-02-20 IB4-OVERDUE "
                           "EB-2026-000705", 1, 10000), 1);
        CHECK_INT(log_count("\n  [due] 2026-03-04 CHILD-IMPACT EB-2026-000705"), 1);
        CHECK_INT(log_count("[digest] Sammanställning för HV-EB-1: 1 ny påminnelse\n  1 × Fördjupad utredning (FIA) är "
                            "försenad\n  Mest brådskande:\n  Ärende EB-2026-000409 · förföll 2026-02-11"), 1);
        st = it_stop(&notify, SIGTERM);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        it_stop(&procs[0], SIGTERM);
        it_stop(&bus, SIGTERM);
        it_stop(&xvfb, SIGTERM);
        zmq_close(F.router);
        zmq_close(F.xpub);
        json_decref(F.open);
        json_decref(F.subs);
        it_cleanup(&E);
        return tap_done();
}
