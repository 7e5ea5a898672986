/*
 * bevakactl.c owns the command-line client for caseworkers, leads and
 * admins: one command, one API request (protocol §3) through the public
 * client library, its reply printed as aligned tables (or raw with --json),
 * plus `watch`, a live view of one topic through bk_client_follow(), and
 * `metrics`, the daemon's stats in Prometheus text format for
 * node_exporter's textfile collector; and `backup`, the one command that
 * does not talk to the daemon: it copies the SQLite store itself, online,
 * through the store module (store_backup_file); and `keygen`, which writes
 * a CURVE keypair (docs/security.md). Exit codes are a contract for
 * scripts: 0 ok, 1 the daemon answered with an error, 2 usage, 3 no answer
 * (timeout, daemon unreachable). See docs/clients.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "bevaka/client.h"
#include "config.h"
#include "store.h"
#include "ctl-report.h"

#define CTL_DEFAULT_API     "ipc://bevaka-api.sock"
#define CTL_DEFAULT_PUB     "ipc://bevaka-pub.sock"
#define CTL_DEFAULT_TIMEOUT 5000
#define CTL_INDICATORS_TIMEOUT 60000    /* all units on a city's store: seconds on a busy machine */
#define CTL_RAW_MAX         60          /* dead-letter bytes shown in a table */
#define CTL_DEFAULT_DB      "/var/lib/bevaka/bevaka.db"
/* The packaged configuration: where a local operator's bevakactl finds the daemon. */
#ifndef CTL_DEFAULT_CONFIG
#define CTL_DEFAULT_CONFIG  "/etc/bevaka/bevakad.conf"
#endif
#define CTL_ADMIN_KEY_NAME  "admin.key"     /* beside security.secret_key */

enum { EXIT_OK = 0, EXIT_REPLY = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

typedef struct ctl {
        bk_client_t *client;
        bk_client_opts_t opts;
        bool json;
        int timeout_ms;
        const char *db_path;            /* backup's source: --db, $BEVAKA_DB or CTL_DEFAULT_DB */
        config_t *cfg;                  /* the daemon's configuration, when one was read */
        char admin_key[CFG_PATH_MAX];   /* the admin key found beside the daemon's */
} ctl_t;

typedef struct ctl_cmd {
        const char *name;
        int (*fn)(ctl_t *ctl, int argc, char **argv);
        const char *args;
        const char *help;
} ctl_cmd_t;

/* ---- output helpers --------------------------------------------------------------- */

static int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl_usage_error(const char *fmt, ...)
{
        va_list ap;
        fputs("bevakactl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'bevakactl --help'.\n", stderr);
        return EXIT_USAGE;
}

/* Columns a string takes on a terminal: UTF-8 code points (no wide characters in our data). */
static size_t ctl_width(const char *s)
{
        size_t w = 0;
        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        w++;
        return w;
}

/* A printable copy: control bytes become '.', cut at max columns with "…" (0 = no cut). */
static char *ctl_clean(const char *s, size_t max)
{
        size_t n = strlen(s), w = 0, i;
        char *out = malloc(n + 4);

        if (!out)
                abort();
        for (i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                if ((ch & 0xc0) != 0x80) {
                        if (max && w == max) {
                                memcpy(out + i, "\u2026", 4);
                                return out;
                        }
                        w++;
                }
                out[i] = ch < 0x20 || ch == 0x7f ? '.' : (char)ch;
        }
        out[i] = '\0';
        return out;
}

typedef struct ctl_table {
        int ncols;
        char **cells;           /* row-major, header first */
        size_t nrows, cap;
} ctl_table_t;

static void ctl_table_row(ctl_table_t *t, const char *const *vals, size_t max_last)
{
        if (t->nrows == t->cap) {
                t->cap = t->cap ? t->cap * 2 : 16;
                t->cells = realloc(t->cells, t->cap * (size_t)t->ncols * sizeof(char *));
                if (!t->cells)
                        abort();
        }
        for (int i = 0; i < t->ncols; i++)
                t->cells[t->nrows * (size_t)t->ncols + (size_t)i] =
                        ctl_clean(vals[i] ? vals[i] : "", i == t->ncols - 1 ? max_last : 0);
        t->nrows++;
}

static void ctl_table_print(ctl_table_t *t, FILE *out)
{
        size_t w[16] = { 0 };

        for (size_t r = 0; r < t->nrows; r++)
                for (int i = 0; i < t->ncols; i++) {
                        size_t cw = ctl_width(t->cells[r * (size_t)t->ncols + (size_t)i]);
                        if (cw > w[i])
                                w[i] = cw;
                }
        for (size_t r = 0; r < t->nrows; r++) {
                for (int i = 0; i < t->ncols; i++) {
                        const char *cell = t->cells[r * (size_t)t->ncols + (size_t)i];
                        fputs(cell, out);
                        if (i < t->ncols - 1)
                                fprintf(out, "%*s", (int)(w[i] - ctl_width(cell) + 2), "");
                }
                fputc('\n', out);
        }
        for (size_t k = 0; k < t->nrows * (size_t)t->ncols; k++)
                free(t->cells[k]);
        free(t->cells);
        t->cells = NULL;
        t->nrows = t->cap = 0;
}

/* A JSON scalar as text ("" for absent, "-" for null). */
static const char *ctl_scalar(const json_t *v, char *buf, size_t n)
{
        if (!v)
                return "";
        if (json_is_string(v))
                return json_string_value(v);
        if (json_is_integer(v)) {
                snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return buf;
        }
        if (json_is_real(v)) {
                snprintf(buf, n, "%g", json_real_value(v));
                return buf;
        }
        if (json_is_true(v))
                return "true";
        if (json_is_false(v))
                return "false";
        if (json_is_null(v))
                return "-";
        return "";
}

static const char *ctl_str(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

/* Key/value lines for an object's scalars; nested objects flatten as a.b. */
static void ctl_kv_rows(ctl_table_t *t, const char *prefix, const json_t *o)
{
        const char *k;
        json_t *v;
        char key[256], buf[64];

        json_object_foreach((json_t *)o, k, v) {
                snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", k);
                if (strcmp(k, "ok") == 0 || strcmp(k, "req") == 0)
                        continue;
                if (json_is_object(v)) {
                        ctl_kv_rows(t, key, v);
                } else if (json_is_array(v)) {
                        /* Arrays of scalars inline; arrays of objects are the caller's tables. */
                        char line[1024] = "";
                        size_t i, len = 0;
                        json_t *e;
                        bool scalars = true;
                        json_array_foreach(v, i, e) {
                                if (json_is_object(e) || json_is_array(e)) {
                                        scalars = false;
                                        break;
                                }
                                len += (size_t)snprintf(line + len, len < sizeof(line) ? sizeof(line) - len : 0,
                                                        "%s%s", i ? " " : "", ctl_scalar(e, buf, sizeof(buf)));
                                if (len >= sizeof(line))
                                        break;
                        }
                        if (scalars)
                                ctl_table_row(t, (const char *[]){ key, line[0] ? line : "-" }, 0);
                } else {
                        ctl_table_row(t, (const char *[]){ key, ctl_scalar(v, buf, sizeof(buf)) }, 0);
                }
        }
}

static void ctl_print_kv(const json_t *o)
{
        ctl_table_t t = { .ncols = 2 };
        ctl_kv_rows(&t, "", o);
        ctl_table_print(&t, stdout);
}

static void ctl_print_reminders(const json_t *list)
{
        ctl_table_t t = { .ncols = 9 };
        size_t i;
        json_t *r;

        ctl_table_row(&t, (const char *[]){ "ID", "STATE", "SEVERITY", "RULE", "CASE", "CASEWORKER", "DUE",
                                            "DELIVER_AT", "TITLE" }, 0);
        json_array_foreach(list, i, r) {
                const char *cw = ctl_str(r, "caseworker");
                ctl_table_row(&t, (const char *[]){ ctl_str(r, "id"), ctl_str(r, "state"), ctl_str(r, "severity"),
                                                    ctl_str(r, "rule"), ctl_str(r, "case"), cw[0] ? cw : "-",
                                                    ctl_str(r, "due_at"), ctl_str(r, "deliver_at"),
                                                    ctl_str(r, "title") }, 0);
        }
        ctl_table_print(&t, stdout);
}

static void ctl_print_json(const json_t *v)
{
        char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
                puts(text);
        free(text);
}

/* ---- requests ----------------------------------------------------------------------- */

static int ctl_fail(ctl_t *ctl, int r)
{
        if (r == -ETIMEDOUT && !ctl->opts.server_key)
                fprintf(stderr, "bevakactl: no reply from %s within %d ms (is bevakad running? with "
                                "security.curve it answers only CURVE clients: --server-key and --secret-key, "
                                "or --config with its admin key)\n", ctl->opts.api_endpoint, ctl->timeout_ms);
        else if (r == -ETIMEDOUT)
                fprintf(stderr, "bevakactl: no reply from %s within %d ms (is bevakad running, and is the key "
                                "%s in its key list?)\n", ctl->opts.api_endpoint, ctl->timeout_ms,
                        ctl->opts.secret_key ? ctl->opts.secret_key : "given");
        else if (r == -EPROTO)
                fprintf(stderr, "bevakactl: the reply from %s is not a protocol reply\n", ctl->opts.api_endpoint);
        else
                fprintf(stderr, "bevakactl: request failed: %s\n", strerror(-r));
        return r == -EPROTO ? EXIT_REPLY : EXIT_UNREACHABLE;
}

/*
 * Sends req (stolen). Returns the exit code; on EXIT_OK *reply holds the
 * reply, unless --json printed it already and the caller has nothing to add.
 */
static int ctl_call(ctl_t *ctl, json_t *req, json_t **reply)
{
        json_t *rep = NULL;
        int r;

        *reply = NULL;
        if (!req)
                return ctl_usage_error("invalid arguments");
        r = bk_client_request(ctl->client, req, &rep, ctl->timeout_ms);
        json_decref(req);
        if (r < 0)
                return ctl_fail(ctl, r);
        if (ctl->json)
                ctl_print_json(rep);
        if (r == BK_CLIENT_E_REPLY) {
                const char *code = bk_reply_error_code(rep), *msg = bk_reply_error_message(rep);
                fprintf(stderr, "%s: %s\n", code ? code : "error", msg ? msg : "(no message)");
                json_decref(rep);
                return EXIT_REPLY;
        }
        if (ctl->json) {
                json_decref(rep);
                return EXIT_OK;
        }
        *reply = rep;
        return EXIT_OK;
}

static bool ctl_parse_int(const char *s, long long min, long long max, long long *out)
{
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return false;
        *out = v;
        return true;
}

/*
 * getopt_long over a command's own arguments; `want` positional arguments
 * are left in pos[]. Returns -1 after printing a usage error.
 */
typedef struct ctl_opt {
        const char *name;
        const char **value;
} ctl_opt_t;

static int ctl_args(int argc, char **argv, ctl_opt_t *opts, int nopts, const char **pos, int want)
{
        struct option lo[16];
        int n = 0, c;

        for (int i = 0; i < nopts && i < 15; i++)
                lo[i] = (struct option){ opts[i].name, required_argument, NULL, i };
        lo[nopts] = (struct option){ 0 };
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
                if (c < 0 || c >= nopts) {
                        ctl_usage_error("%s: unknown option or missing value: %s", argv[0], argv[optind - 1]);
                        return -1;
                }
                *opts[c].value = optarg;
        }
        for (int i = optind; i < argc; i++) {
                if (n == want) {
                        ctl_usage_error("%s: unexpected argument: %s", argv[0], argv[i]);
                        return -1;
                }
                pos[n++] = argv[i];
        }
        if (n < want) {
                ctl_usage_error("%s: missing argument", argv[0]);
                return -1;
        }
        return 0;
}

/* ---- commands ------------------------------------------------------------------------ */

static int ctl_simple(ctl_t *ctl, json_t *req)
{
        json_t *rep;
        int r = ctl_call(ctl, req, &rep);
        if (rep)
                ctl_print_kv(rep);
        json_decref(rep);
        return r;
}

static int cmd_hello(ctl_t *ctl, int argc, char **argv)
{
        if (ctl_args(argc, argv, NULL, 0, NULL, 0) < 0)
                return EXIT_USAGE;
        return ctl_simple(ctl, json_pack("{s:s}", "op", "hello"));
}

static int cmd_stats(ctl_t *ctl, int argc, char **argv)
{
        json_t *rep, *feeds, *f;
        size_t i;
        char buf[64];
        int r;

        if (ctl_args(argc, argv, NULL, 0, NULL, 0) < 0)
                return EXIT_USAGE;
        if ((r = ctl_call(ctl, json_pack("{s:s}", "op", "stats"), &rep)) != EXIT_OK || !rep)
                return r;
        ctl_print_kv(rep);
        feeds = json_object_get(rep, "feeds");
        if (json_array_size(feeds)) {
                ctl_table_t t = { .ncols = 2 };
                putchar('\n');
                ctl_table_row(&t, (const char *[]){ "SOURCE", "LAST_SEQ" }, 0);
                json_array_foreach(feeds, i, f)
                        ctl_table_row(&t, (const char *[]){ ctl_str(f, "source"),
                                                            ctl_scalar(json_object_get(f, "last_seq"), buf,
                                                                       sizeof(buf)) }, 0);
                ctl_table_print(&t, stdout);
        }
        json_decref(rep);
        return EXIT_OK;
}

static int cmd_case(ctl_t *ctl, int argc, char **argv)
{
        const char *pos[1];
        json_t *rep, *tracks, *tr, *v;
        const char *name, *k;
        int r;

        if (ctl_args(argc, argv, NULL, 0, pos, 1) < 0)
                return EXIT_USAGE;
        if ((r = ctl_call(ctl, json_pack("{s:s, s:s}", "op", "case", "case", pos[0]), &rep)) != EXIT_OK || !rep)
                return r;
        tracks = json_incref(json_object_get(rep, "tracks"));
        json_t *reminders = json_incref(json_object_get(rep, "reminders"));
        json_object_del(rep, "tracks");
        json_object_del(rep, "reminders");
        ctl_print_kv(rep);
        if (json_object_size(tracks)) {
                ctl_table_t t = { .ncols = 3 };
                putchar('\n');
                ctl_table_row(&t, (const char *[]){ "TRACK", "STATE", "DETAILS" }, 0);
                json_object_foreach(tracks, name, tr) {
                        char details[1024] = "", buf[64];
                        size_t len = 0;
                        json_object_foreach(tr, k, v) {
                                /* Only what the track has reached: unset dates say nothing. */
                                if (strcmp(k, "state") == 0 || json_is_object(v) || json_is_array(v) ||
                                    json_is_null(v))
                                        continue;
                                len += (size_t)snprintf(details + len, len < sizeof(details) ? sizeof(details) - len : 0,
                                                        "%s%s=%s", len ? " " : "", k, ctl_scalar(v, buf, sizeof(buf)));
                                if (len >= sizeof(details))
                                        break;
                        }
                        ctl_table_row(&t, (const char *[]){ name, ctl_str(tr, "state"), details }, 0);
                }
                ctl_table_print(&t, stdout);
        }
        putchar('\n');
        if (json_array_size(reminders))
                ctl_print_reminders(reminders);
        else
                puts("no open reminders");
        json_decref(tracks);
        json_decref(reminders);
        json_decref(rep);
        return EXIT_OK;
}

static int cmd_reminders(ctl_t *ctl, int argc, char **argv)
{
        const char *unit = NULL, *cw = NULL, *case_id = NULL, *state = NULL, *rule = NULL, *limit = NULL;
        ctl_opt_t o[] = { { "unit", &unit }, { "caseworker", &cw }, { "case", &case_id },
                          { "state", &state }, { "rule", &rule }, { "limit", &limit } };
        json_t *req, *rep;
        long long n;
        int r;

        if (ctl_args(argc, argv, o, 6, NULL, 0) < 0)
                return EXIT_USAGE;
        req = json_pack("{s:s}", "op", "reminders");
        if (unit)
                json_object_set_new(req, "unit", json_string(unit));
        if (cw)
                json_object_set_new(req, "caseworker", json_string(cw));
        if (case_id)
                json_object_set_new(req, "case", json_string(case_id));
        if (state)
                json_object_set_new(req, "state", json_string(state));
        if (rule)
                json_object_set_new(req, "rule", json_string(rule));
        if (limit) {
                if (!ctl_parse_int(limit, 1, 100000, &n)) {
                        json_decref(req);
                        return ctl_usage_error("reminders: --limit must be 1..100000");
                }
                json_object_set_new(req, "limit", json_integer(n));
        }
        if ((r = ctl_call(ctl, req, &rep)) != EXIT_OK || !rep)
                return r;
        if (json_array_size(json_object_get(rep, "reminders")))
                ctl_print_reminders(json_object_get(rep, "reminders"));
        else
                puts("no reminders");
        json_decref(rep);
        return EXIT_OK;
}

static int cmd_sync(ctl_t *ctl, int argc, char **argv)
{
        const char *pos[1], *since = NULL;
        ctl_opt_t o[] = { { "since", &since } };
        long long n = 0;
        json_t *rep;
        int r;

        if (ctl_args(argc, argv, o, 1, pos, 1) < 0)
                return EXIT_USAGE;
        if (since && !ctl_parse_int(since, 0, LLONG_MAX, &n))
                return ctl_usage_error("sync: --since must be a non-negative integer");
        if ((r = ctl_call(ctl, json_pack("{s:s, s:s, s:I}", "op", "sync", "topic", pos[0], "since_rseq",
                                         (json_int_t)n), &rep)) != EXIT_OK || !rep)
                return r;
        printf("%s at rseq %" JSON_INTEGER_FORMAT ": %zu open\n", pos[0],
               json_integer_value(json_object_get(rep, "rseq")), json_array_size(json_object_get(rep, "reminders")));
        if (json_array_size(json_object_get(rep, "reminders")))
                ctl_print_reminders(json_object_get(rep, "reminders"));
        json_decref(rep);
        return EXIT_OK;
}

static int ctl_lifecycle(ctl_t *ctl, json_t *req)
{
        json_t *rep, *rem;
        int r;

        if ((r = ctl_call(ctl, req, &rep)) != EXIT_OK || !rep)
                return r;
        rem = json_object_get(rep, "reminder");
        printf("%s %s: %s %s, next delivery %s\n", ctl_str(rem, "id"), ctl_str(rem, "state"), ctl_str(rem, "rule"),
               ctl_str(rem, "case"), ctl_str(rem, "deliver_at"));
        json_decref(rep);
        return EXIT_OK;
}

static int cmd_ack(ctl_t *ctl, int argc, char **argv)
{
        const char *pos[1];
        if (ctl_args(argc, argv, NULL, 0, pos, 1) < 0)
                return EXIT_USAGE;
        return ctl_lifecycle(ctl, json_pack("{s:s, s:s}", "op", "ack", "id", pos[0]));
}

static int cmd_snooze(ctl_t *ctl, int argc, char **argv)
{
        const char *pos[1], *until = NULL;
        ctl_opt_t o[] = { { "until", &until } };
        json_t *req;

        if (ctl_args(argc, argv, o, 1, pos, 1) < 0)
                return EXIT_USAGE;
        req = json_pack("{s:s, s:s}", "op", "snooze", "id", pos[0]);
        if (until)
                json_object_set_new(req, "until", json_string(until));
        return ctl_lifecycle(ctl, req);
}

static int cmd_dismiss(ctl_t *ctl, int argc, char **argv)
{
        const char *pos[1], *reason = NULL;
        ctl_opt_t o[] = { { "reason", &reason } };

        if (ctl_args(argc, argv, o, 1, pos, 1) < 0)
                return EXIT_USAGE;
        if (!reason || !reason[0])
                return ctl_usage_error("dismiss: --reason TEXT is required");
        return ctl_lifecycle(ctl, json_pack("{s:s, s:s, s:s}", "op", "dismiss", "id", pos[0], "reason", reason));
}

static int cmd_why(ctl_t *ctl, int argc, char **argv)
{
        const char *pos[1];
        json_t *rep, *events, *dates, *e;
        size_t i;
        int r;

        if (ctl_args(argc, argv, NULL, 0, pos, 1) < 0)
                return EXIT_USAGE;
        if ((r = ctl_call(ctl, json_pack("{s:s, s:s}", "op", "why", "id", pos[0]), &rep)) != EXIT_OK || !rep)
                return r;
        events = json_incref(json_object_get(rep, "events"));
        dates = json_incref(json_object_get(rep, "dates"));
        json_object_del(rep, "events");
        json_object_del(rep, "dates");
        ctl_print_kv(rep);     /* the reminder's members, flat or under reminder.* */
        if (json_object_size(dates)) {
                printf("\ndates:\n");
                ctl_print_kv(dates);
        }
        if (json_array_size(events)) {
                ctl_table_t t = { .ncols = 4 };
                putchar('\n');
                ctl_table_row(&t, (const char *[]){ "AT", "TYPE", "ROLE", "EVENT" }, 0);
                json_array_foreach(events, i, e)
                        ctl_table_row(&t, (const char *[]){ ctl_str(e, "at"), ctl_str(e, "type"), ctl_str(e, "role"),
                                                            ctl_str(e, "id") }, 0);
                ctl_table_print(&t, stdout);
        }
        json_decref(events);
        json_decref(dates);
        json_decref(rep);
        return EXIT_OK;
}

static int cmd_dead_letters(ctl_t *ctl, int argc, char **argv)
{
        const char *limit = NULL;
        ctl_opt_t o[] = { { "limit", &limit } };
        json_t *req, *rep, *d;
        long long n;
        size_t i;
        int r;

        if (ctl_args(argc, argv, o, 1, NULL, 0) < 0)
                return EXIT_USAGE;
        req = json_pack("{s:s}", "op", "dead_letters");
        if (limit) {
                if (!ctl_parse_int(limit, 1, 10000, &n)) {
                        json_decref(req);
                        return ctl_usage_error("dead-letters: --limit must be 1..10000");
                }
                json_object_set_new(req, "limit", json_integer(n));
        }
        if ((r = ctl_call(ctl, req, &rep)) != EXIT_OK || !rep)
                return r;
        if (json_array_size(json_object_get(rep, "dead_letters"))) {
                ctl_table_t t = { .ncols = 3 };
                ctl_table_row(&t, (const char *[]){ "RECEIVED_AT", "REASON", "RAW" }, 0);
                json_array_foreach(json_object_get(rep, "dead_letters"), i, d)
                        ctl_table_row(&t, (const char *[]){ ctl_str(d, "received_at"), ctl_str(d, "reason"),
                                                            json_is_true(json_object_get(d, "raw_base64"))
                                                                    ? "(binary, see --json)" : ctl_str(d, "raw") },
                                      CTL_RAW_MAX);
                ctl_table_print(&t, stdout);
        } else {
                puts("no dead letters");
        }
        json_decref(rep);
        return EXIT_OK;
}

static int cmd_reload(ctl_t *ctl, int argc, char **argv)
{
        json_t *rep;
        int r;

        if (ctl_args(argc, argv, NULL, 0, NULL, 0) < 0)
                return EXIT_USAGE;
        if ((r = ctl_call(ctl, json_pack("{s:s}", "op", "reload"), &rep)) == EXIT_OK && rep) {
                json_t *restart = json_object_get(rep, "restart_needed"), *v;
                size_t i;

                puts("configuration and key list reloaded");
                json_array_foreach(restart, i, v)
                        printf("changed, takes effect after a restart: %s\n", json_string_value(v));
        }
        json_decref(rep);
        return r;
}

static int cmd_purge(ctl_t *ctl, int argc, char **argv)
{
        const char *case_id = NULL;
        ctl_opt_t o[] = { { "case", &case_id } };
        json_t *rep, *p;
        int r;

        if (ctl_args(argc, argv, o, 1, NULL, 0) < 0)
                return EXIT_USAGE;
        if (!case_id || !case_id[0])
                return ctl_usage_error("purge: --case ID is required");
        r = ctl_call(ctl, json_pack("{s:s, s:s}", "op", "purge", "case", case_id), &rep);
        if (r == EXIT_OK && rep) {
                p = json_object_get(rep, "purged");
                printf("purged: %" JSON_INTEGER_FORMAT " event(s), %" JSON_INTEGER_FORMAT " reminder(s)\n",
                       json_integer_value(json_object_get(p, "events")),
                       json_integer_value(json_object_get(p, "reminders")));
        }
        json_decref(rep);
        return r;
}

static int cmd_clock(ctl_t *ctl, int argc, char **argv)
{
        const char *set = NULL;
        ctl_opt_t o[] = { { "set", &set } };
        json_t *req;

        if (ctl_args(argc, argv, o, 1, NULL, 0) < 0)
                return EXIT_USAGE;
        req = json_pack("{s:s}", "op", "clock");
        if (set)
                json_object_set_new(req, "set", json_string(set));
        return ctl_simple(ctl, req);
}

/* ---- watch ---------------------------------------------------------------------------- */

static void ctl_watch_line(const bk_event_t *ev, bool json)
{
        const json_t *r = ev->reminder;
        char when[16];
        time_t now = time(NULL);
        struct tm tm;

        if (json) {
                json_t *o = json_pack("{s:s, s:s, s:I, s:b, s:O?}", "kind", bk_event_kind_name(ev->kind), "topic",
                                      ev->topic, "rseq", (json_int_t)ev->rseq, "from_snapshot", ev->from_snapshot,
                                      "reminder", ev->reminder);
                char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
                if (text)
                        puts(text);
                free(text);
                json_decref(o);
                return;
        }
        if (ev->kind == BK_EVENT_SNAPSHOT_BEGIN) {
                printf("-- snapshot of %s at rseq %" PRId64 "\n", ev->topic, ev->rseq);
                return;
        }
        if (ev->kind == BK_EVENT_SNAPSHOT_END) {
                printf("-- live\n");
                return;
        }
        localtime_r(&now, &tm);
        strftime(when, sizeof(when), "%H:%M:%S", &tm);
        /* A snapshot entry shows its state; a live message its op. */
        const char *what = ev->kind == BK_EVENT_DUE && ev->from_snapshot ? ctl_str(r, "state")
                                                                          : bk_event_kind_name(ev->kind);
        char *title = ctl_clean(ctl_str(r, "title"), 0);
        printf("%s  %-12s  %-16s  %-16s  due %s  %s\n", when, what[0] ? what : "due", ctl_str(r, "rule"),
               ctl_str(r, "case"), ctl_str(r, "due_at"), title);
        free(title);
}

static int cmd_watch(ctl_t *ctl, int argc, char **argv)
{
        const char *pos[1];
        sigset_t mask;
        int sfd, r;
        bk_event_t ev;

        if (ctl_args(argc, argv, NULL, 0, pos, 1) < 0)
                return EXIT_USAGE;
        setvbuf(stdout, NULL, _IOLBF, 0);
        /* Ctrl-C is how a live view ends: a signalfd in the poll set, exit 0. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                perror("bevakactl: signalfd");
                return EXIT_UNREACHABLE;
        }
        r = bk_client_follow(ctl->client, pos[0], 0);
        if (r == -EINVAL) {
                close(sfd);
                return ctl_usage_error("watch: TOPIC must look like rem/<unit>/<caseworker>/ or rem/<unit>/@leads/");
        }
        if (r == BK_CLIENT_E_REPLY) {
                /* Ask once more to show the daemon's words. */
                json_t *rep = NULL;
                close(sfd);
                bk_client_sync(ctl->client, pos[0], 0, &rep);
                fprintf(stderr, "%s: %s\n", rep ? bk_reply_error_code(rep) : "error",
                        rep ? bk_reply_error_message(rep) : "sync refused");
                json_decref(rep);
                return EXIT_REPLY;
        }
        if (r < 0) {
                close(sfd);
                if (r == -ETIMEDOUT)
                        fprintf(stderr, "bevakactl: no answer from %s / %s within %d ms (is bevakad running?)\n",
                                ctl->opts.api_endpoint, ctl->opts.pub_endpoint, ctl->timeout_ms);
                else
                        fprintf(stderr, "bevakactl: watch: %s\n", strerror(-r));
                return r == -ETIMEDOUT ? EXIT_UNREACHABLE : EXIT_REPLY;
        }
        for (;;) {
                zmq_pollitem_t items[3];
                int n;

                while ((r = bk_client_next(ctl->client, &ev, 0)) > 0)
                        ctl_watch_line(&ev, ctl->json);
                if (r < 0) {
                        fprintf(stderr, "bevakactl: watch: %s\n", strerror(-r));
                        close(sfd);
                        return EXIT_UNREACHABLE;
                }
                n = bk_client_pollitems(ctl->client, items, 2);
                items[n++] = (zmq_pollitem_t){ .fd = sfd, .events = ZMQ_POLLIN };
                if (zmq_poll(items, n, bk_client_timeout(ctl->client)) < 0 && errno != EINTR) {
                        fprintf(stderr, "bevakactl: watch: %s\n", strerror(errno));
                        close(sfd);
                        return EXIT_UNREACHABLE;
                }
                if (items[n - 1].revents & ZMQ_POLLIN)
                        break;
        }
        close(sfd);
        return EXIT_OK;
}

/* ---- metrics -------------------------------------------------------------------------- */

/* RFC 3339 with offset to Unix seconds; false if it is not one. */
static bool ctl_parse_time(const char *s, int64_t *out)
{
        struct tm tm = { 0 };
        int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
        const char *p;

        if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
                return false;
        p = s + n;
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++)
                        ;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 && strlen(p) == 6) {
                int sign = *p == '-' ? -1 : 1;
                oh *= sign;
                om *= sign;
                p += 6;
        } else {
                return false;
        }
        if (*p)
                return false;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec > 59 ? 59 : sec;
        *out = (int64_t)timegm(&tm) - (oh * 3600 + om * 60);
        return true;
}

/* Prometheus label values escape \, " and newline. */
static void ctl_label(const char *s)
{
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        printf("\\%c", *s);
                else if (*s == '\n')
                        fputs("\\n", stdout);
                else
                        putchar(*s);
        }
}

static void ctl_metric_family(const char *name, const char *type, const char *help)
{
        printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void ctl_metric_by(const json_t *o, const char *name, const char *label)
{
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)o, k, v) {
                if (!json_is_integer(v))
                        continue;
                printf("%s{%s=\"", name, label);
                ctl_label(k);
                printf("\"} %" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
        }
}

static void ctl_metric_one(const json_t *rep, const char *key, const char *name, const char *type,
                           const char *help)
{
        json_t *v = json_object_get(rep, key);
        if (!json_is_integer(v))
                return;
        ctl_metric_family(name, type, help);
        printf("%s %" JSON_INTEGER_FORMAT "\n", name, json_integer_value(v));
}

/* Per feed endpoint: silent now (gauge) and how often it fell silent (counter). */
static void ctl_metric_endpoints(const json_t *eps)
{
        static const struct { const char *key, *name, *type, *help; } m[] = {
                { "silent", "bevaka_feed_silent", "gauge", "1 while a feed endpoint has been silent past feed_silence_s." },
                { "silences", "bevaka_feed_silences_total", "counter", "Times a feed endpoint fell silent." },
                { "reconnects", "bevaka_feed_reconnects_total", "counter", "Reconnects to a silent feed endpoint." },
                { "dead_letters_suppressed", "bevaka_feed_dead_letters_suppressed_total", "counter",
                  "Unreadable live messages past 10 a second, not stored (their replay positions them)." },
        };
        const json_t *ep;
        size_t i;

        if (!json_array_size(eps))
                return;
        for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
                ctl_metric_family(m[k].name, m[k].type, m[k].help);
                json_array_foreach((json_t *)eps, i, ep) {
                        json_t *v = json_object_get(ep, m[k].key);
                        printf("%s{endpoint=\"", m[k].name);
                        ctl_label(ctl_str(ep, "endpoint"));
                        printf("\"} %" JSON_INTEGER_FORMAT "\n",
                               json_is_boolean(v) ? (json_int_t)json_is_true(v) : json_integer_value(v));
                }
        }
}

/* The CURVE gate's counters (only with security.curve). */
static void ctl_metric_security(const json_t *sec)
{
        if (!json_is_object(sec))
                return;
        ctl_metric_family("bevaka_security_handshakes_total", "counter", "CURVE handshakes by result.");
        printf("bevaka_security_handshakes_total{result=\"allowed\"} %" JSON_INTEGER_FORMAT "\n"
               "bevaka_security_handshakes_total{result=\"refused\"} %" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(sec, "handshakes_allowed")),
               json_integer_value(json_object_get(sec, "handshakes_refused")));
        ctl_metric_family("bevaka_security_subscriptions_total", "counter", "Topic subscriptions by result.");
        printf("bevaka_security_subscriptions_total{result=\"granted\"} %" JSON_INTEGER_FORMAT "\n"
               "bevaka_security_subscriptions_total{result=\"refused\"} %" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(sec, "subscriptions_granted")),
               json_integer_value(json_object_get(sec, "subscriptions_refused")));
        ctl_metric_one(sec, "protocol_violations", "bevaka_security_protocol_violations_total", "counter",
                       "Peers cut off for breaking the protocol.");
        ctl_metric_one(sec, "resets", "bevaka_security_resets_total", "counter",
                       "Publish sockets reset to drop refused subscribers.");
}

/* ---- indicators and the report -------------------------------------------------------- */

/* Takes a flag without a value (--csv) out of argv; whether it was there. */
static bool ctl_flag(int *argc, char **argv, const char *name)
{
        for (int i = 1; i < *argc; i++) {
                if (strcmp(argv[i], name) != 0)
                        continue;
                memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof(*argv));
                (*argc)--;
                return true;
        }
        return false;
}

/* Indicators take longer than other requests: without --timeout, wait up to a minute. */
static int ctl_indicators_call(ctl_t *ctl, json_t *req, json_t **rep)
{
        int saved = ctl->timeout_ms, r;

        if (saved == CTL_DEFAULT_TIMEOUT)
                ctl->timeout_ms = CTL_INDICATORS_TIMEOUT;
        r = ctl_call(ctl, req, rep);
        ctl->timeout_ms = saved;
        return r;
}

static json_t *ctl_indicators_req(const char *unit, const char *from, const char *to, bool series)
{
        json_t *req = json_pack("{s:s, s:b}", "op", "indicators", "series", series);
        if (unit)
                json_object_set_new(req, "unit", json_string(unit));
        if (from)
                json_object_set_new(req, "from", json_string(from));
        if (to)
                json_object_set_new(req, "to", json_string(to));
        return req;
}

static void ctl_csv_row(const char *id, const char *month, const json_t *m)
{
        char n[64], d[64];
        printf("%s,%s,%s,%s\n", id, month, ctl_scalar(json_object_get(m, "numerator"), n, sizeof(n)),
               ctl_scalar(json_object_get(m, "denominator"), d, sizeof(d)));
}

static void ctl_indicators_print(const json_t *rep, bool csv)
{
        const json_t *ind, *m;
        size_t i, k;
        char period[32], n[64], d[64], v[64];
        ctl_table_t t = { .ncols = 5 };

        snprintf(period, sizeof(period), "%s..%s", ctl_str(rep, "from"), ctl_str(rep, "to"));
        if (csv)
                puts("id,month,numerator,denominator");
        else
                ctl_table_row(&t, (const char *[]){ "ID", "NUMERATOR", "DENOMINATOR", "VALUE", "TITLE" }, 0);
        json_array_foreach(json_object_get(rep, "indicators"), i, ind) {
                if (csv) {
                        ctl_csv_row(ctl_str(ind, "id"), period, ind);
                        json_array_foreach(json_object_get(ind, "series"), k, m)
                                ctl_csv_row(ctl_str(ind, "id"), ctl_str(m, "month"), m);
                        continue;
                }
                ctl_table_row(&t, (const char *[]){ ctl_str(ind, "id"),
                                                    ctl_scalar(json_object_get(ind, "numerator"), n, sizeof(n)),
                                                    ctl_scalar(json_object_get(ind, "denominator"), d, sizeof(d)),
                                                    ctl_scalar(json_object_get(ind, "value"), v, sizeof(v)),
                                                    ctl_str(ind, "title") }, 0);
        }
        if (!csv) {
                printf("%s %s\n\n", json_is_string(json_object_get(rep, "unit")) ? ctl_str(rep, "unit") : "all units",
                       period);
                ctl_table_print(&t, stdout);
        }
}

static int cmd_indicators(ctl_t *ctl, int argc, char **argv)
{
        const char *unit = NULL, *from = NULL, *to = NULL;
        ctl_opt_t o[] = { { "unit", &unit }, { "from", &from }, { "to", &to } };
        bool csv = ctl_flag(&argc, argv, "--csv"), series = ctl_flag(&argc, argv, "--series");
        json_t *rep;
        int r;

        if (ctl_args(argc, argv, o, 3, NULL, 0) < 0)
                return EXIT_USAGE;
        if ((r = ctl_indicators_call(ctl, ctl_indicators_req(unit, from, to, series || csv), &rep)) != EXIT_OK || !rep)
                return r;
        ctl_indicators_print(rep, csv);
        json_decref(rep);
        return EXIT_OK;
}

static int cmd_report(ctl_t *ctl, int argc, char **argv)
{
        const char *unit = NULL, *from = NULL, *to = NULL, *path = NULL;
        ctl_opt_t o[] = { { "unit", &unit }, { "from", &from }, { "to", &to }, { "output", &path } };
        json_t *rep;
        char today[16], tmp[PATH_MAX];
        time_t now = time(NULL);
        bool json = ctl->json;
        FILE *f;
        int r;

        /* -o is --output */
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "-o") == 0)
                        argv[i] = (char *)"--output";
        if (ctl_args(argc, argv, o, 4, NULL, 0) < 0)
                return EXIT_USAGE;
        if (!path)
                return ctl_usage_error("report: -o FILE is required");
        ctl->json = false;      /* the output is the file */
        r = ctl_indicators_call(ctl, ctl_indicators_req(unit, from, to, true), &rep);
        ctl->json = json;
        if (r != EXIT_OK || !rep)
                return r;
        strftime(today, sizeof(today), "%Y-%m-%d", localtime(&now));
        /* Written beside the target and renamed: a reader never sees half a report. */
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        f = fopen(tmp, "w");
        r = f ? ctl_report_write(f, rep, today) : -errno;
        if (f && fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) != 0)
                r = -errno;
        json_decref(rep);
        if (r < 0) {
                unlink(tmp);
                fprintf(stderr, "bevakactl: cannot write %s: %s\n", path, strerror(-r));
                return EXIT_REPLY;
        }
        return EXIT_OK;
}

/* One gauge family over every unit and indicator: the numerator (0) or the denominator (1). */
static void ctl_metric_figures(const json_t *units, const char *name, const char *help, size_t which)
{
        const char *unit, *id;
        json_t *figs, *nd;

        ctl_metric_family(name, "gauge", help);
        json_object_foreach((json_t *)units, unit, figs)
                json_object_foreach(figs, id, nd) {
                        printf("%s{unit=\"", name);
                        ctl_label(unit);
                        printf("\",indicator=\"");
                        ctl_label(id);
                        printf("\"} %.17g\n", json_number_value(json_array_get(nd, which)));
                }
}

/* Every unit's indicators as gauges (admin); a daemon that cannot answer leaves them out. */
static void ctl_metric_indicators(ctl_t *ctl)
{
        json_t *rep = NULL;
        int r = ctl_indicators_call(ctl, json_pack("{s:s, s:b}", "op", "indicators", "by_unit", 1), &rep);

        if (r != EXIT_OK || !rep)
                return;
        ctl_metric_figures(json_object_get(rep, "units"), "bevaka_indicator_numerator",
                           "Quality indicator numerator over the last 12 months, per unit (docs/indicators.md).", 0);
        ctl_metric_figures(json_object_get(rep, "units"), "bevaka_indicator_denominator",
                           "Quality indicator denominator over the last 12 months, per unit.", 1);
        json_decref(rep);
}

static int cmd_metrics(ctl_t *ctl, int argc, char **argv)
{
        json_t *rep, *f;
        size_t i;
        int64_t next;
        int r;
        bool json = ctl->json;

        if (ctl_args(argc, argv, NULL, 0, NULL, 0) < 0)
                return EXIT_USAGE;
        ctl->json = false;      /* the output is the metrics text, whatever --json says */
        r = ctl_call(ctl, json_pack("{s:s}", "op", "stats"), &rep);
        ctl->json = json;
        if (r != EXIT_OK)
                return r;
        ctl_metric_family("bevaka_events_total", "counter", "Feed events by outcome.");
        ctl_metric_by(json_object_get(rep, "events"), "bevaka_events_total", "kind");
        ctl_metric_family("bevaka_reminders", "gauge", "Reminders by lifecycle state.");
        ctl_metric_by(json_object_get(rep, "reminders"), "bevaka_reminders", "state");
        ctl_metric_family("bevaka_feed_last_seq", "gauge", "Highest seq applied, per feed source.");
        json_array_foreach(json_object_get(rep, "feeds"), i, f) {
                if (!json_is_integer(json_object_get(f, "last_seq")))
                        continue;
                printf("bevaka_feed_last_seq{source=\"");
                ctl_label(ctl_str(f, "source"));
                printf("\"} %" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(f, "last_seq")));
        }
        ctl_metric_family("bevaka_feed_source_stuck", "gauge",
                          "1 while a feed source cannot progress (replays from one seq back off).");
        json_array_foreach(json_object_get(rep, "feeds"), i, f) {
                if (!json_is_boolean(json_object_get(f, "stuck")))
                        continue;
                printf("bevaka_feed_source_stuck{source=\"");
                ctl_label(ctl_str(f, "source"));
                printf("\"} %d\n", json_is_true(json_object_get(f, "stuck")));
        }
        ctl_metric_endpoints(json_object_get(rep, "feed_endpoints"));
        ctl_metric_one(rep, "gaps", "bevaka_feed_gaps_total", "counter", "Gaps in a feed's seq that needed a replay.");
        ctl_metric_one(rep, "replays", "bevaka_feed_replays_total", "counter", "Replays asked of the feeds.");
        if (json_object_size(json_object_get(rep, "dead_letter_reasons"))) {
                ctl_metric_family("bevaka_dead_letters", "gauge",
                                  "Stored dead letters by reason (the rejected field, or not JSON).");
                ctl_metric_by(json_object_get(rep, "dead_letter_reasons"), "bevaka_dead_letters", "reason");
        }
        ctl_metric_one(rep, "rseq", "bevaka_reminder_messages_total", "counter",
                       "Reminder messages published (the global rseq).");
        ctl_metric_security(json_object_get(rep, "security"));
        ctl_metric_one(rep, "masked", "bevaka_personnummer_masked_total", "counter",
                       "Personnummer masked in free text (events, dismiss reasons).");
        ctl_metric_family("bevaka_purged_total", "counter", "Retention deletes and purge runs, by kind.");
        ctl_metric_by(json_object_get(rep, "purge"), "bevaka_purged_total", "kind");
        if (ctl_parse_time(json_string_value(json_object_get(rep, "next_delivery")), &next)) {
                ctl_metric_family("bevaka_next_delivery_timestamp_seconds", "gauge",
                                  "When the next scheduled reminder is delivered.");
                printf("bevaka_next_delivery_timestamp_seconds %" PRId64 "\n", next);
        }
        json_decref(rep);
        ctl->json = false;
        ctl_metric_indicators(ctl);
        ctl->json = json;
        return EXIT_OK;
}


/* ---- backup --------------------------------------------------------------------------- */

static int cmd_backup(ctl_t *ctl, int argc, char **argv)
{
        store_file_info_t info = { 0 };
        char err[1024];
        int r;

        if (argc != 2)
                return ctl_usage_error("backup: FILE is required (and nothing else)");
        r = store_backup_file(ctl->db_path, argv[1], &info, err, sizeof(err));
        if (r != 0) {
                fprintf(stderr, "bevakactl: backup: %s\n", err);
                return EXIT_REPLY;
        }
        if (ctl->json) {
                json_t *o = json_pack("{s:b, s:s, s:s, s:i, s:I}", "ok", 1, "db", ctl->db_path, "file", argv[1],
                                      "schema_version", info.version, "events", (json_int_t)info.events);
                json_dumpf(o, stdout, JSON_COMPACT);
                putchar('\n');
                json_decref(o);
        } else
                printf("backup of %s written to %s: schema version %d, %" PRId64 " events, integrity ok\n",
                       ctl->db_path, argv[1], info.version, info.events);
        return EXIT_OK;
}

/* ---- keygen ---------------------------------------------------------------------------- */

/*
 * Creates `path` exclusively with `mode` and writes text: never over an
 * existing file (a key someone already handed out), never through a symlink.
 */
static int ctl_write_new(const char *path, mode_t mode, const char *text)
{
        size_t len = strlen(text), off = 0;
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

        if (fd < 0)
                return -errno;
        /* Exactly this mode, whatever the umask: a secret key must not end up group-readable. */
        if (fchmod(fd, mode) < 0)
                goto fail;
        while (off < len) {
                ssize_t n = write(fd, text + off, len - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        goto fail;
                }
                off += (size_t)n;
        }
        if (fsync(fd) < 0 || close(fd) < 0) {
                fd = -1;
                goto fail;
        }
        return 0;
fail:;
        int e = errno;
        if (fd >= 0)
                close(fd);
        unlink(path);
        return -e;
}

static int cmd_keygen(ctl_t *ctl, int argc, char **argv)
{
        const char *file = NULL, *user = NULL, *role = NULL, *units = NULL;
        ctl_opt_t o[] = { { "user", &user }, { "role", &role }, { "units", &units } };
        char pub[41], sec[41], pub_path[PATH_MAX], text[1024], unit_list[512] = "";
        struct stat st;
        int r;

        if (ctl_args(argc, argv, o, 3, &file, 1) < 0)
                return EXIT_USAGE;
        if (role && strcmp(role, "caseworker") != 0 && strcmp(role, "lead") != 0 &&
            strcmp(role, "admin") != 0 && strcmp(role, "feed") != 0)
                return ctl_usage_error("keygen: --role must be caseworker, lead, admin or feed");
        if ((size_t)snprintf(pub_path, sizeof(pub_path), "%s.pub", file) >= sizeof(pub_path))
                return ctl_usage_error("keygen: FILE name too long");
        /* Refuse before creating anything, so a refusal leaves no half pair behind. */
        if (lstat(file, &st) == 0 || lstat(pub_path, &st) == 0) {
                fprintf(stderr, "bevakactl: keygen: %s exists; refusing to overwrite a key\n",
                        lstat(file, &st) == 0 ? file : pub_path);
                return EXIT_REPLY;
        }
        if (zmq_curve_keypair(pub, sec) != 0) {
                fprintf(stderr, "bevakactl: keygen: %s\n", zmq_strerror(zmq_errno()));
                return EXIT_REPLY;
        }
        snprintf(text, sizeof(text),
                 "#   ****  Generated by bevakactl keygen  ****\n"
                 "#   ZeroMQ CURVE **Secret** Certificate\n"
                 "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
                 "metadata\ncurve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n", pub, sec);
        explicit_bzero(sec, sizeof(sec));
        r = ctl_write_new(file, 0600, text);
        explicit_bzero(text, sizeof(text));
        if (r < 0) {
                fprintf(stderr, "bevakactl: keygen: %s: %s\n", file, strerror(-r));
                return EXIT_REPLY;
        }
        snprintf(text, sizeof(text),
                 "#   ****  Generated by bevakactl keygen  ****\n"
                 "#   ZeroMQ CURVE Public Certificate\n"
                 "#   Give this file to whoever must know the key: bevakad's key list, or clients.\n\n"
                 "metadata\ncurve\n    public-key = \"%s\"\n", pub);
        if ((r = ctl_write_new(pub_path, 0644, text)) < 0) {
                fprintf(stderr, "bevakactl: keygen: %s: %s\n", pub_path, strerror(-r));
                unlink(file);
                return EXIT_REPLY;
        }
        for (const char *u = units; u && *u;) {
                size_t n = strcspn(u, ",");
                size_t len = strlen(unit_list);
                snprintf(unit_list + len, sizeof(unit_list) - len, "%s\"%.*s\"", len ? ", " : "", (int)n, u);
                u += n + (u[n] == ',');
        }
        if (ctl->json) {
                json_t *out = json_pack("{s:s, s:s, s:s}", "public_key", pub, "secret_file", file,
                                        "public_file", pub_path);
                json_dumpf(out, stdout, JSON_COMPACT);
                putchar('\n');
                json_decref(out);
                return EXIT_OK;
        }
        fprintf(stderr, "bevakactl: secret key written to %s (mode 0600), public key to %s.\n"
                        "Add this entry to bevakad's key list (security.keys), then `bevakactl reload`:\n",
                file, pub_path);
        /* libconfig lists take no trailing comma: entries are separated by the operator. */
        role = role ? role : "caseworker";
        if (!unit_list[0] && (strcmp(role, "admin") == 0 || strcmp(role, "feed") == 0))
                printf("{ key = \"%s\"; user = \"%s\"; role = \"%s\"; }\n", pub, user ? user : "USER", role);
        else
                printf("{ key = \"%s\"; user = \"%s\"; role = \"%s\"; units = [ %s ]; }\n", pub,
                       user ? user : "USER", role, unit_list[0] ? unit_list : "\"UNIT\"");
        return EXIT_OK;
}

static const ctl_cmd_t ctl_cmds[] = {
        { "hello", cmd_hello, "", "who the daemon thinks you are" },
        { "stats", cmd_stats, "", "counters (admin)" },
        { "case", cmd_case, "CASE", "a case's facts, tracks and open reminders" },
        { "reminders", cmd_reminders, "[--unit U] [--caseworker C] [--case X] [--state S] [--rule R] [--limit N]",
          "list reminders" },
        { "sync", cmd_sync, "TOPIC [--since N]", "open reminders of a topic" },
        { "ack", cmd_ack, "ID", "acknowledge a reminder" },
        { "snooze", cmd_snooze, "ID [--until RFC3339]", "snooze (default: next working day 08:00)" },
        { "dismiss", cmd_dismiss, "ID --reason TEXT", "dismiss a reminder" },
        { "why", cmd_why, "ID", "the rule, events and dates behind a reminder" },
        { "dead-letters", cmd_dead_letters, "[--limit N]", "rejected feed events, newest first" },
        { "reload", cmd_reload, "", "reload configuration and keys" },
        { "purge", cmd_purge, "--case ID", "delete a case now: state, events, reminders (admin)" },
        { "clock", cmd_clock, "[--set RFC3339]", "show or set the manual clock" },
        { "watch", cmd_watch, "TOPIC", "live view of a topic (Ctrl-C ends)" },
        { "metrics", cmd_metrics, "", "stats and every unit's indicators in Prometheus text format" },
        { "indicators", cmd_indicators, "[--unit U] [--from YYYY-MM] [--to YYYY-MM] [--series] [--csv]",
          "quality indicators (default: the last 12 months)" },
        { "report", cmd_report, "--unit U [--from YYYY-MM] [--to YYYY-MM] -o FILE",
          "the indicators as one self-contained HTML report" },
        { "backup", cmd_backup, "FILE", "online copy of the store (--db) to FILE; needs no daemon" },
        { "keygen", cmd_keygen, "FILE [--user U] [--role R] [--units U1,U2]",
          "new CURVE keypair: FILE (secret, 0600) and FILE.pub; prints the key-list entry" },
        { NULL, NULL, NULL, NULL },
};

static void ctl_usage(FILE *out)
{
        fprintf(out, "Usage: bevakactl [--api EP] [--pub EP] [--json] [--timeout MS] [--config FILE]\n"
                     "                 [--server-key KEY|FILE --secret-key KEY|FILE [--public-key KEY|FILE]]\n"
                     "                 [--db PATH] [--version] [--help]\n"
                     "                 COMMAND [ARGS]      (bevakactl COMMAND --help: that command's usage)\n\n"
                     "Commands:\n");
        for (const ctl_cmd_t *c = ctl_cmds; c->name; c++)
                fprintf(out, "  %s%s%s\n        %s\n", c->name, c->args[0] ? " " : "", c->args, c->help);
        fprintf(out, "\nEndpoints default to $BEVAKA_API / $BEVAKA_PUB, else to api.endpoint and\n"
                     "publish.endpoint of the daemon's configuration (--config, $BEVAKA_CONFIG, else\n"
                     "%s) when it exists, else %s / %s.\n"
                     "CURVE keys default to $BEVAKA_SERVER_KEY, $BEVAKA_SECRET_KEY, $BEVAKA_PUBLIC_KEY,\n"
                     "else to $XDG_CONFIG_HOME/bevaka/server.pub and client.key when server.pub exists,\n"
                     "else, with that configuration, to its security.public_key and the admin key\n"
                     "%s in the directory of its security.secret_key.\n"
                     "backup reads the store at --db, else $BEVAKA_DB, else the configuration's\n"
                     "store.path, else %s.\n"
                     "Exit: 0 ok, 1 the daemon answered with an error, 2 usage, 3 no answer.\n",
                CTL_DEFAULT_CONFIG, CTL_DEFAULT_API, CTL_DEFAULT_PUB, CTL_ADMIN_KEY_NAME, CTL_DEFAULT_DB);
}

/* `bevakactl COMMAND --help` (or -h anywhere before `--`): the command's usage, and nothing done. */
static bool ctl_cmd_help(const ctl_cmd_t *cmd, int argc, char **argv)
{
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        printf("Usage: bevakactl [GLOBAL OPTIONS] %s%s%s\n\n%s.\n\n"
                               "bevakactl --help lists the global options and the other commands.\n",
                               cmd->name, cmd->args[0] ? " " : "", cmd->args, cmd->help);
                        return true;
                }
        }
        return false;
}

/*
 * Reads the daemon's configuration, for a local operator: explicit means
 * --config or $BEVAKA_CONFIG named it, and then it must load; the packaged
 * default is used only when it exists. Returns 0, or EXIT_USAGE.
 */
static int ctl_config_read(ctl_t *ctl, const char *path, bool explicit)
{
        char err[1024];

        if (!explicit && access(path, F_OK) != 0)
                return 0;
        ctl->cfg = calloc(1, sizeof(*ctl->cfg));
        if (!ctl->cfg)
                return EXIT_USAGE;
        if (config_load(path, NULL, ctl->cfg, err, sizeof(err)) != 0) {
                fprintf(stderr, "bevakactl: %s\n", err);
                free(ctl->cfg);
                ctl->cfg = NULL;
                return EXIT_USAGE;
        }
        return 0;
}

/* A key file bevakactl is about to use: readable, or an error naming it and where it came from. */
static int ctl_key_readable(const char *path, const char *what)
{
        if (access(path, R_OK) == 0)
                return 0;
        fprintf(stderr, "bevakactl: %s: cannot read: %s (%s)\n", path, strerror(errno), what);
        return EXIT_USAGE;
}

/*
 * Endpoints and keys from the configuration where nothing more explicit
 * (options, environment, the user's own key files) gave them.
 */
static int ctl_config_apply(ctl_t *ctl, bool api_given, bool pub_given)
{
        const config_t *cfg = ctl->cfg;
        const char *slash;
        int r;

        if (!cfg)
                return 0;
        if (!api_given)
                ctl->opts.api_endpoint = cfg->api_endpoint;
        if (!pub_given)
                ctl->opts.pub_endpoint = cfg->publish_endpoint;
        if (!cfg->curve || ctl->opts.server_key || ctl->opts.secret_key || ctl->opts.public_key)
                return 0;
        slash = strrchr(cfg->secret_key_file, '/');
        snprintf(ctl->admin_key, sizeof(ctl->admin_key), "%.*s/%s",
                 slash ? (int)(slash - cfg->secret_key_file) : 1, slash ? cfg->secret_key_file : ".",
                 CTL_ADMIN_KEY_NAME);
        if ((r = ctl_key_readable(cfg->public_key_file, "security.public_key of the daemon's configuration; "
                                  "bevakactl needs root or the group bevaka to read it")) != 0)
                return r;
        if (access(ctl->admin_key, R_OK) != 0) {
                fprintf(stderr, "bevakactl: %s: cannot read: %s (the admin key, beside security.secret_key of %s;\n"
                                "make it with `bevakactl keygen %s --role admin --user admin`, add the entry it\n"
                                "prints to security.keys (%s) and `systemctl reload bevakad`; or give\n"
                                "--server-key and --secret-key)\n",
                        ctl->admin_key, strerror(errno), cfg->file, ctl->admin_key, cfg->keys_file);
                return EXIT_USAGE;
        }
        ctl->opts.server_key = cfg->public_key_file;
        ctl->opts.secret_key = ctl->admin_key;
        return 0;
}

/* A key given as a file (anything but 40 characters of Z85 text) must be readable; say which and from where. */
static int ctl_key_file(const char *key, const char *from)
{
        if (!key || (strlen(key) == 40 && !strchr(key, '/')))
                return 0;
        return ctl_key_readable(key, from);
}

static int ctl_run(ctl_t *ctl, const ctl_cmd_t *cmd, int argc, char **argv, bool api_given, bool pub_given)
{
        char server_path[PATH_MAX], secret_path[PATH_MAX];
        bk_client_opts_t o;
        int r;

        bk_client_opts_default_keys(&ctl->opts, server_path, secret_path, sizeof(server_path));
        if ((r = ctl_config_apply(ctl, api_given, pub_given)) != 0)
                return r;
        if ((r = ctl_key_file(ctl->opts.server_key, "--server-key, $BEVAKA_SERVER_KEY or the user's server.pub")) ||
            (r = ctl_key_file(ctl->opts.secret_key, "--secret-key, $BEVAKA_SECRET_KEY or the user's client.key")) ||
            (r = ctl_key_file(ctl->opts.public_key, "--public-key or $BEVAKA_PUBLIC_KEY")))
                return r;
        ctl->opts.request_timeout_ms = ctl->timeout_ms;
        /* Only watch reads the stream: the one-shot commands open no SUB connection. */
        o = ctl->opts;
        if (cmd->fn != cmd_watch)
                o.pub_endpoint = NULL;
        ctl->client = bk_client_new(&o);
        if (!ctl->client) {
                fprintf(stderr, "bevakactl: cannot set up the client (%s): %s\n",
                        errno == ENOENT ? "key file" : "endpoint or keys", strerror(errno));
                return EXIT_USAGE;
        }
        r = cmd->fn(ctl, argc, argv);
        bk_client_destroy(&ctl->client);
        return r;
}

int main(int argc, char **argv)
{
        enum { O_API = 1, O_PUB, O_JSON, O_TIMEOUT, O_SERVER_KEY, O_PUBLIC_KEY, O_SECRET_KEY, O_HELP, O_DB,
               O_CONFIG, O_VERSION };
        static const struct option lo[] = {
                { "api", required_argument, NULL, O_API },
                { "pub", required_argument, NULL, O_PUB },
                { "json", no_argument, NULL, O_JSON },
                { "timeout", required_argument, NULL, O_TIMEOUT },
                { "server-key", required_argument, NULL, O_SERVER_KEY },
                { "public-key", required_argument, NULL, O_PUBLIC_KEY },
                { "secret-key", required_argument, NULL, O_SECRET_KEY },
                { "help", no_argument, NULL, O_HELP },
                { "db", required_argument, NULL, O_DB },
                { "config", required_argument, NULL, O_CONFIG },
                { "version", no_argument, NULL, O_VERSION },
                { 0 },
        };
        ctl_t ctl = { .timeout_ms = CTL_DEFAULT_TIMEOUT };
        const char *config = getenv("BEVAKA_CONFIG");
        bool config_given = config != NULL, db_given = getenv("BEVAKA_DB") != NULL;
        bool api_given = getenv("BEVAKA_API") != NULL, pub_given = getenv("BEVAKA_PUB") != NULL;
        const ctl_cmd_t *cmd;
        long long n;
        int c, r;

        ctl.opts.api_endpoint = api_given ? getenv("BEVAKA_API") : CTL_DEFAULT_API;
        ctl.opts.pub_endpoint = pub_given ? getenv("BEVAKA_PUB") : CTL_DEFAULT_PUB;
        ctl.opts.server_key = getenv("BEVAKA_SERVER_KEY");
        ctl.opts.public_key = getenv("BEVAKA_PUBLIC_KEY");
        ctl.opts.secret_key = getenv("BEVAKA_SECRET_KEY");
        ctl.db_path = db_given ? getenv("BEVAKA_DB") : CTL_DEFAULT_DB;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
                switch (c) {
                case O_API: ctl.opts.api_endpoint = optarg; api_given = true; break;
                case O_PUB: ctl.opts.pub_endpoint = optarg; pub_given = true; break;
                case O_JSON: ctl.json = true; break;
                case O_TIMEOUT:
                        if (!ctl_parse_int(optarg, 1, 3600000, &n))
                                return ctl_usage_error("--timeout must be 1..3600000 milliseconds");
                        ctl.timeout_ms = (int)n;
                        break;
                case O_SERVER_KEY: ctl.opts.server_key = optarg; break;
                case O_PUBLIC_KEY: ctl.opts.public_key = optarg; break;
                case O_SECRET_KEY: ctl.opts.secret_key = optarg; break;
                case O_DB: ctl.db_path = optarg; db_given = true; break;
                case O_CONFIG: config = optarg; config_given = true; break;
                case O_VERSION: printf("bevakactl %s\n", BEVAKA_VERSION); return EXIT_OK;
                case 'h':
                case O_HELP:
                        ctl_usage(stdout);
                        return EXIT_OK;
                default:
                        return ctl_usage_error("unknown option or missing value: %s", argv[optind - 1]);
                }
        }
        if (optind >= argc)
                return ctl_usage_error("no command");
        for (cmd = ctl_cmds; cmd->name; cmd++)
                if (strcmp(cmd->name, argv[optind]) == 0)
                        break;
        if (!cmd->name)
                return ctl_usage_error("unknown command: %s", argv[optind]);
        if (ctl_cmd_help(cmd, argc - optind, argv + optind))
                return EXIT_OK;
        if (cmd->fn == cmd_keygen)
                return cmd_keygen(&ctl, argc - optind, argv + optind);    /* no daemon */
        if ((!api_given || !pub_given || (cmd->fn == cmd_backup && !db_given)) &&
            (r = ctl_config_read(&ctl, config_given ? config : CTL_DEFAULT_CONFIG, config_given)) != 0)
                return r;
        if (cmd->fn == cmd_backup) {
                if (!db_given && ctl.cfg)
                        ctl.db_path = ctl.cfg->store_path;
                r = cmd_backup(&ctl, argc - optind, argv + optind);       /* no daemon, no keys */
        } else
                r = ctl_run(&ctl, cmd, argc - optind, argv + optind, api_given, pub_given);
        free(ctl.cfg);
        return r;
}
