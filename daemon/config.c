/*
 * config.c owns the daemon's configuration file; it and its parts
 * (config-values.c, config-keys.c, through config-private.h) are the only
 * files that include <libconfig.h>. config_load() reads libconfig text (a file, or the
 * embedded demo default) into a plain config_t by walking the tables below:
 * every setting is checked for type, range, enum value, endpoint or time
 * syntax, unknown names are errors so that typos are caught, relative paths
 * and ipc:// endpoints are made absolute against the configuration's
 * directory, and the first problem comes back as "FILE:LINE: setting:
 * problem". config_print() walks the same tables to write the normalised
 * form that `bevakad --check-config` prints and that loads back unchanged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/un.h>
#include <syslog.h>

/*
 * libconfig calls its handle `config_t`, which is our struct's name too.
 * The config files are the only ones that see both, so libconfig's is renamed here;
 * the rename is textual and does not touch the library's ABI.
 */
#define config_t libconfig_t
#include <libconfig.h>
#undef config_t

#include "config.h"
#include "keys.h"
#include "config-private.h"

#define CFG_EMBEDDED "(embedded)"

const char config_default_text[] =
        "# bevaka built-in configuration: a local demo, used when bevakad is\n"
        "# started without --config. Relative paths and ipc:// endpoints are\n"
        "# resolved against the directory the daemon is given (by default its\n"
        "# working directory). Packaged configurations set security.curve = true\n"
        "# and a system clock.\n"
        "\n"
        "store = {\n"
        "        path = \"bevaka.db\";\n"
        "        synchronous = \"full\";\n"
        "};\n"
        "\n"
        "# The case-system adapter (bevaka-feed plays it in the demo).\n"
        "feed = {\n"
        "        endpoint = \"ipc://bevaka-feed.sock\";\n"
        "        replay_endpoint = \"ipc://bevaka-replay.sock\";\n"
        "        # the demo's sample history and its synthetic district\n"
        "        sources = [ \"paraply-demo\", \"paraply-synth\" ];\n"
        "};\n"
        "\n"
        "publish = { endpoint = \"ipc://bevaka-pub.sock\"; };\n"
        "api = { endpoint = \"ipc://bevaka-api.sock\"; };\n"
        "\n"
        "# A manual clock starts on a Monday morning before office hours and\n"
        "# moves only when an admin sets it (bevakactl clock), so a demo can\n"
        "# walk through months of deadlines in minutes.\n"
        "clock = {\n"
        "        mode = \"manual\";\n"
        "        start = \"2026-01-05T07:00:00+01:00\";\n"
        "};\n"
        "\n"
        "# Local sockets only: without CURVE every peer counts as admin.\n"
        "security = { curve = false; };\n";

/* ---- messages -------------------------------------------------------------- */

/* "feeds[1].endpoint": libconfig's own path syntax would say "feeds.[1].endpoint". */
static void cfg_path(const config_setting_t *s, char *buf, size_t n)
{
        size_t len;

        if (!s || config_setting_is_root(s)) {
                buf[0] = '\0';
                return;
        }
        cfg_path(config_setting_parent(s), buf, n);
        len = strlen(buf);
        if (len >= n - 1)
                return;
        if (config_setting_name(s))
                snprintf(buf + len, n - len, "%s%s", len ? "." : "", config_setting_name(s));
        else
                snprintf(buf + len, n - len, "[%d]", config_setting_index(s));
}

/*
 * libconfig names an @included file as written in the @include, but looks
 * for it in the configuration's directory; say it as the user would find it.
 */
static const char *cfg_file_name(const struct cfg_ctx *ctx, const char *file, char *buf, size_t n)
{
        const char *slash = strrchr(ctx->file, '/');

        if (!file)
                return ctx->file;
        if (strcmp(file, ctx->file) == 0 || file[0] == '/' || !slash)
                return file;
        snprintf(buf, n, "%.*s%s", (int)(slash - ctx->file + 1), ctx->file, file);
        return buf;
}

/*
 * Records "FILE:LINE: path: problem" for setting s (or its member `member`,
 * for one that is missing) and returns BK_E_INVALID, so callers can simply
 * `return cfg_fail(...)`. The root has no line of its own; it points at 1.
 */
BK_PRINTF(4, 5)
int cfg_fail(struct cfg_ctx *ctx, const config_setting_t *s, const char *member,
                    const char *fmt, ...)
{
        char path[512], msg[512], fbuf[CFG_PATH_MAX];
        const char *file = cfg_file_name(ctx, s ? config_setting_source_file(s) : NULL, fbuf, sizeof(fbuf));
        unsigned line = s ? config_setting_source_line(s) : 0;
        size_t len;
        va_list ap;

        cfg_path(s, path, sizeof(path));
        len = strlen(path);
        if (member)
                snprintf(path + len, sizeof(path) - len, "%s%s", len ? "." : "", member);
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (ctx->err && ctx->err_size)
                snprintf(ctx->err, ctx->err_size, "%s:%u: %s%s%s", file, line ? line : 1,
                         path, path[0] ? ": " : "", msg);
        return BK_E_INVALID;
}

static const char *const sync_names[] = { "full", "normal", NULL };
static const int sync_values[] = { true, false };

static const struct cfg_key store_keys[] = {
        KEY("path", K_PATH, config_t, store_path, .flags = CFG_NONEMPTY),
        KEY_ENUM("synchronous", config_t, store_sync_full, sync_names, sync_values,
                 .note = "full | normal"),
        KEY_INT("batch", config_t, store_batch, 1, 100000, .note = "events per transaction"),
        { .name = NULL }
};
static const struct cfg_group store_group = { .keys = store_keys };

static const struct cfg_key publish_keys[] = {
        KEY("endpoint", K_ENDPOINT, config_t, publish_endpoint, .flags = CFG_REQUIRED),
        { .name = NULL }
};
static const struct cfg_group publish_group = { .keys = publish_keys };

static const struct cfg_key api_keys[] = {
        KEY("endpoint", K_ENDPOINT, config_t, api_endpoint, .flags = CFG_REQUIRED),
        { .name = NULL }
};
static const struct cfg_group api_group = { .keys = api_keys };

static const struct cfg_key limits_keys[] = {
        KEY_INT("max_msg_size", config_t, max_msg_size, 1024, 16777216, .note = "bytes (ZMQ_MAXMSGSIZE)"),
        KEY_INT("hwm", config_t, hwm, 1, 10000000, .note = "messages (send and receive HWM)"),
        { .name = NULL }
};
static const struct cfg_group limits_group = { .keys = limits_keys };

static const struct cfg_key retention_keys[] = {
        KEY_INT("closed_case_months", retention_cfg_t, closed_case_months, 1, 1200,
                .note = "at least the rules' look-back (default)"),
        KEY_INT("reminder_months", retention_cfg_t, reminder_months, 1, 1200,
                .note = "resolved and cancelled reminders"),
        KEY_INT("dead_letter_days", retention_cfg_t, dead_letter_days, 1, 3650),
        KEY_INT("dead_letter_max", retention_cfg_t, dead_letter_max, 1, 10000000, .note = "the newest kept"),
        { .name = NULL }
};
static const struct cfg_group retention_group = { .keys = retention_keys };

static const char *const level_names[] = { "debug", "info", "notice", "warning", "err", NULL };
static const int level_values[] = { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR };

static const struct cfg_key log_keys[] = {
        KEY_ENUM("level", config_t, log_level, level_names, level_values,
                 .note = "debug | info | notice | warning | err"),
        { .name = NULL }
};
static const struct cfg_group log_group = { .keys = log_keys };

/* ---- feeds --------------------------------------------------------------- */

static int cfg_parse_silence(struct cfg_ctx *ctx, const config_setting_t *s, BK_UNUSED void *base)
{
        return cfg_get_int(ctx, s, 1, 3600, &ctx->cfg->feed_silence_s);
}

/* sources = [ "paraply-hv", … ]: names of the grammar, each declared once across all feeds. */
static int cfg_parse_sources(struct cfg_ctx *ctx, const config_setting_t *s, void *base)
{
        cfg_feed_t *f = base;
        int n = config_setting_length(s);

        if (!config_setting_is_array(s) && !config_setting_is_list(s))
                return cfg_fail(ctx, s, NULL, "must be an array of source names [ \"…\", … ]");
        if (n > CFG_MAX_SOURCES)
                return cfg_fail(ctx, s, NULL, "more than %d sources", CFG_MAX_SOURCES);
        f->n_sources = 0;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                const char *v = NULL;
                int r = cfg_get_string(ctx, e, &v);

                if (r)
                        return r;
                if (!name_ok(v))
                        return cfg_fail(ctx, e, NULL, "must match " NAME_GRAMMAR);
                if (config_source_declared(ctx->cfg, v))
                        return cfg_fail(ctx, e, NULL, "%s is declared twice (a source comes from one feed)", v);
                bk_strlcpy(f->sources[f->n_sources++], v, sizeof(f->sources[0]));
        }
        return 0;
}

static void cfg_print_sources(FILE *f, const void *base, int depth)
{
        const cfg_feed_t *feed = base;

        fprintf(f, "%*ssources = [", depth * 8, "");
        for (int i = 0; i < feed->n_sources; i++)
                fprintf(f, "%s\"%s\"", i ? ", " : " ", feed->sources[i]);
        fprintf(f, " ];%s\n", feed->n_sources ? "" : "  # none declared: the one source it is heard from first");
}

#define FEED_KEYS \
        KEY("endpoint", K_ENDPOINT, cfg_feed_t, endpoint, .flags = CFG_REQUIRED), \
        KEY("replay_endpoint", K_ENDPOINT, cfg_feed_t, replay_endpoint, .flags = CFG_REQUIRED), \
        KEY("server_key", K_PATH, cfg_feed_t, server_key, .note = "\"\" = no CURVE to this adapter"), \
        KEY_CUSTOM("sources", cfg_parse_sources, cfg_print_sources)

static const struct cfg_key feed_list_keys[] = { FEED_KEYS, { .name = NULL } };
static const struct cfg_group feed_list_group = { .keys = feed_list_keys };

static const struct cfg_key feed_keys[] = {
        FEED_KEYS,
        KEY_CUSTOM("silence_s", cfg_parse_silence, NULL, .flags = CFG_NOPRINT),
        { .name = NULL }
};
static const struct cfg_group feed_group = { .keys = feed_keys };

/* `feed` always becomes feeds[0], wherever it sits relative to `feeds`, so
 * the printed form (feed first, then the list) loads back in the same order. */
static int cfg_parse_feed(struct cfg_ctx *ctx, const config_setting_t *s, BK_UNUSED void *base)
{
        config_t *cfg = ctx->cfg;

        if (cfg->n_feeds >= CFG_MAX_FEEDS)
                return cfg_fail(ctx, s, NULL, "too many feeds (at most %d)", CFG_MAX_FEEDS);
        memmove(&cfg->feeds[1], &cfg->feeds[0], sizeof(cfg->feeds[0]) * (size_t)cfg->n_feeds);
        memmove(&ctx->feed_src[1], &ctx->feed_src[0], sizeof(ctx->feed_src[0]) * (size_t)cfg->n_feeds);
        cfg->n_feeds++;
        memset(&cfg->feeds[0], 0, sizeof(cfg->feeds[0]));
        ctx->feed_src[0] = s;
        return cfg_walk(ctx, s, &feed_group, &cfg->feeds[0]);
}

static int cfg_parse_feeds(struct cfg_ctx *ctx, const config_setting_t *s, BK_UNUSED void *base)
{
        config_t *cfg = ctx->cfg;

        if (!config_setting_is_list(s))
                return cfg_fail(ctx, s, NULL, "must be a list of groups ( { … }, … )");
        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                int r;

                if (cfg->n_feeds >= CFG_MAX_FEEDS)
                        return cfg_fail(ctx, e, NULL, "too many feeds (at most %d)", CFG_MAX_FEEDS);
                ctx->feed_src[cfg->n_feeds] = e;
                memset(&cfg->feeds[cfg->n_feeds], 0, sizeof(cfg->feeds[0]));
                r = cfg_walk(ctx, e, &feed_list_group, &cfg->feeds[cfg->n_feeds++]);
                if (r)
                        return r;
        }
        return 0;
}

static void cfg_print_keys(FILE *f, const struct cfg_group *grp, const void *base, int depth);
static void cfg_print_inline(FILE *f, const struct cfg_group *grp, const void *base);

static void cfg_indent(FILE *f, int depth)
{
        fprintf(f, "%*s", depth * 8, "");
}

static void cfg_print_feeds(FILE *f, const void *base, int depth)
{
        const config_t *cfg = base;

        fprintf(f, "# The first feed is printed as `feed`, any others in `feeds`. silence_s\n"
                   "# (seconds without a message before a feed counts as silent) applies\n"
                   "# to every feed; without a `feed` group it is the top-level setting\n"
                   "# feed_silence_s.\n");
        if (cfg->n_feeds == 0) {
                fprintf(f, "feed_silence_s = %d;\n", cfg->feed_silence_s);
                return;
        }
        fprintf(f, "feed = {\n");
        cfg_print_keys(f, &feed_list_group, &cfg->feeds[0], depth + 1);
        cfg_indent(f, depth + 1);
        fprintf(f, "silence_s = %d;\n};\n", cfg->feed_silence_s);
        if (cfg->n_feeds == 1)
                return;
        fprintf(f, "feeds = (\n");
        for (int i = 1; i < cfg->n_feeds; i++) {
                cfg_indent(f, depth + 1);
                fprintf(f, "{\n");
                cfg_print_keys(f, &feed_list_group, &cfg->feeds[i], depth + 2);
                cfg_indent(f, depth + 1);
                fprintf(f, "}%s\n", i + 1 < cfg->n_feeds ? "," : "");
        }
        fprintf(f, ");\n");
}

/* ---- clock --------------------------------------------------------------- */

static const char *const clock_names[] = { "system", "manual", NULL };
static const int clock_values[] = { false, true };

static int cfg_parse_start(struct cfg_ctx *ctx, const config_setting_t *s, void *base)
{
        const char *v = NULL;
        bk_time_t t;
        int r = cfg_get_string(ctx, s, &v);

        if (r)
                return r;
        /* 0 means "the system time at start", so the epoch itself cannot be asked for. */
        if (cal_parse_rfc3339(v, &t) < 0 || t <= 0)
                return cfg_fail(ctx, s, NULL, "must be an RFC 3339 time such as \"2026-01-05T07:00:00+01:00\"");
        ((config_t *)base)->clock_start = t;
        return 0;
}

static void cfg_print_start(FILE *f, const void *base, int depth)
{
        const config_t *cfg = base;
        char buf[32];

        if (!cfg->clock_manual)
                return;
        cfg_indent(f, depth);
        if (!cfg->clock_start) {
                fprintf(f, "# no start: the manual clock starts at the system time\n");
                return;
        }
        cal_format_rfc3339(cfg->clock_start, buf, sizeof(buf));
        fprintf(f, "start = \"%s\";\n", buf);
}

static int cfg_check_clock(struct cfg_ctx *ctx, const config_setting_t *g, void *base)
{
        const config_t *cfg = base;
        const config_setting_t *start = config_setting_get_member(g, "start");

        if (start && !cfg->clock_manual)
                return cfg_fail(ctx, start, NULL, "only allowed with mode = \"manual\"");
        return 0;
}

static const struct cfg_key clock_keys[] = {
        KEY_ENUM("mode", config_t, clock_manual, clock_names, clock_values, .note = "system | manual"),
        KEY_CUSTOM("start", cfg_parse_start, cfg_print_start),
        { .name = NULL }
};
static const struct cfg_group clock_group = { .keys = clock_keys, .check = cfg_check_clock };

/* ---- security ------------------------------------------------------------ */

static int cfg_check_security(struct cfg_ctx *ctx, const config_setting_t *g, void *base)
{
        static const char *const needed[] = { "secret_key", "public_key", "keys" };
        const config_t *cfg = base;
        const char *val[] = { cfg->secret_key_file, cfg->public_key_file, cfg->keys_file };

        if (!cfg->curve)
                return 0;
        for (size_t i = 0; i < BK_ARRAY_SIZE(needed); i++) {
                const config_setting_t *m = config_setting_get_member(g, needed[i]);

                if (!val[i][0])
                        return cfg_fail(ctx, m ? m : g, m ? NULL : needed[i], "required when curve = true");
        }
        return 0;
}

static const struct cfg_key security_keys[] = {
        KEY("curve", K_BOOL, config_t, curve, .note = "packaged configurations set true"),
        KEY("secret_key", K_PATH, config_t, secret_key_file, .note = "the daemon's CURVE secret key file"),
        KEY("public_key", K_PATH, config_t, public_key_file, .note = "the daemon's CURVE public key file"),
        KEY("keys", K_PATH, config_t, keys_file, .note = "key list: client public keys, users, roles"),
        { .name = NULL }
};
static const struct cfg_group security_group = { .keys = security_keys, .check = cfg_check_security };

/* ---- calendar ------------------------------------------------------------ */

static int cfg_cmp_day(const void *a, const void *b)
{
        cal_day_t x = *(const cal_day_t *)a, y = *(const cal_day_t *)b;

        return (x > y) - (x < y);
}

/* Kept sorted and without repeats: it is a set, and the printed form is stable. */
static int cfg_parse_closed(struct cfg_ctx *ctx, const config_setting_t *s, void *base)
{
        cal_cfg_t *cal = base;
        int n = 0;

        if (!config_setting_is_array(s) && !config_setting_is_list(s))
                return cfg_fail(ctx, s, NULL, "must be an array of dates [ \"YYYY-MM-DD\", … ]");
        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                const char *v = NULL;

                if (config_setting_type(e) != CONFIG_TYPE_STRING)
                        return cfg_fail(ctx, e, NULL, "must be a date \"YYYY-MM-DD\"");
                v = config_setting_get_string(e);
                if (i >= CAL_MAX_CLOSED)
                        return cfg_fail(ctx, e, NULL, "too many closed days (at most %d)", CAL_MAX_CLOSED);
                if (cal_parse_date(v, &cal->closed[i]) < 0)
                        return cfg_fail(ctx, e, NULL, "must be a date \"YYYY-MM-DD\"");
        }
        qsort(cal->closed, (size_t)config_setting_length(s), sizeof(cal->closed[0]), cfg_cmp_day);
        for (int i = 0; i < config_setting_length(s); i++)
                if (n == 0 || cal->closed[n - 1] != cal->closed[i])
                        cal->closed[n++] = cal->closed[i];
        cal->n_closed = n;
        return 0;
}

static void cfg_print_closed(FILE *f, const void *base, int depth)
{
        const cal_cfg_t *cal = base;
        char buf[16];

        cfg_indent(f, depth);
        if (cal->n_closed == 0) {
                fprintf(f, "closed_days = [ ];\n");
                return;
        }
        fprintf(f, "closed_days = [\n");
        for (int i = 0; i < cal->n_closed; i++) {
                cal_format_date(cal->closed[i], buf, sizeof(buf));
                cfg_indent(f, depth + 1);
                fprintf(f, "\"%s\"%s\n", buf, i + 1 < cal->n_closed ? "," : "");
        }
        cfg_indent(f, depth);
        fprintf(f, "];\n");
}

static int cfg_check_calendar(struct cfg_ctx *ctx, const config_setting_t *g, void *base)
{
        const cal_cfg_t *cal = base;
        const config_setting_t *end = config_setting_get_member(g, "office_end");
        const config_setting_t *start = config_setting_get_member(g, "office_start");

        if (cal->office_end_min <= cal->office_start_min)
                return end ? cfg_fail(ctx, end, NULL, "must be after office_start")
                           : cfg_fail(ctx, start, NULL, "must be before office_end");
        return 0;
}

static const struct cfg_key calendar_keys[] = {
        KEY("office_start", K_HHMM, cal_cfg_t, office_start_min, .note = "Europe/Stockholm"),
        KEY("office_end", K_HHMM, cal_cfg_t, office_end_min),
        KEY("eves_closed", K_BOOL, cal_cfg_t, eves_closed, .note = "julafton and nyårsafton"),
        KEY_CUSTOM("closed_days", cfg_parse_closed, cfg_print_closed),
        { .name = NULL }
};
static const struct cfg_group calendar_group = { .keys = calendar_keys, .check = cfg_check_calendar };

/* ---- rules --------------------------------------------------------------- */

static const char *const leads_names[] = { "digest", "immediate", NULL };
static const int leads_values[] = { true, false };

static const struct cfg_key rule_keys[] = {
        KEY("enabled", K_BOOL, rule_cfg_t, enabled),
        KEY_INT("offset_days", rule_cfg_t, offset_days, 0, 3650),
        KEY_INT("offset_months", rule_cfg_t, offset_months, 0, 120),
        KEY("title", K_STR, rule_cfg_t, title, .flags = CFG_IF_SET),
        KEY("body", K_STR, rule_cfg_t, body, .flags = CFG_IF_SET),
        KEY_INT("catch_up_days", rule_cfg_t, catch_up_days, 0, 3650,
                .note = "later than this after its due moment: backlog, or expired"),
        KEY_ENUM("leads", rule_cfg_t, leads_digest, leads_names, leads_values, .note = "digest | immediate"),
        { .name = NULL }
};
static const struct cfg_group rule_group = { .keys = rule_keys };

/* A rule's group is named by its id with '-' as '_' (FIA_DUE); libconfig
 * also allows '-' in names, so FIA-DUE is taken too, but not both. */
static int cfg_parse_rule(struct cfg_ctx *ctx, const config_setting_t *s, void *base)
{
        rules_cfg_t *rules = base;
        char name[64];
        int id;

        bk_strlcpy(name, config_setting_name(s), sizeof(name));
        for (id = 0; id < RULE__COUNT; id++)
                if (strcmp(name, rule_def[id].conf) == 0 || strcmp(name, rule_def[id].name) == 0)
                        break;
        if (id == RULE__COUNT)
                id = -1;
        if (id < 0)
                return cfg_fail(ctx, s, NULL, config_setting_is_group(s) ? "unknown rule" : "unknown setting");
        if (ctx->rule_seen[id])
                return cfg_fail(ctx, s, NULL, "rule %s given twice", rules_name((rule_id_t)id));
        ctx->rule_seen[id] = true;
        return cfg_walk(ctx, s, &rule_group, &rules->rule[id]);
}

static void cfg_print_rules(FILE *f, const void *base, int depth)
{
        const rules_cfg_t *rules = base;

        cfg_indent(f, depth);
        fprintf(f, "# per rule, named by its id with '-' as '_'; title and body only when overridden\n");
        for (int r = 0; r < RULE__COUNT; r++) {
                cfg_indent(f, depth);
                fprintf(f, "%s = ", rule_def[r].conf);
                cfg_print_inline(f, &rule_group, &rules->rule[r]);
                fprintf(f, ";\n");
        }
}

/* "MM-DD", a date every year has: a yearly check on 29 February would skip three years in four. */
static int cfg_parse_check_date(struct cfg_ctx *ctx, const config_setting_t *s, void *base)
{
        rules_cfg_t *rules = base;
        const char *v = NULL;
        int r = cfg_get_string(ctx, s, &v), m, d;

        if (r)
                return r;
        if (strlen(v) != 5 || v[2] != '-' || !cfg_two_digits(v, &m) || !cfg_two_digits(v + 3, &d) ||
            !cal_valid_ymd(2001, m, d))
                return cfg_fail(ctx, s, NULL, "must be a date \"MM-DD\" other than 02-29");
        rules->summer_check_month = m;
        rules->summer_check_day = d;
        return 0;
}

static void cfg_print_check_date(FILE *f, const void *base, int depth)
{
        const rules_cfg_t *rules = base;

        cfg_indent(f, depth);
        fprintf(f, "summer_check_date = \"%02d-%02d\";\n", rules->summer_check_month, rules->summer_check_day);
}

static int cfg_check_rules(struct cfg_ctx *ctx, const config_setting_t *g, void *base)
{
        const rules_cfg_t *rules = base;
        const config_setting_t *m;

        if (rules->long_term_window_months && rules->long_term_window_months < rules->long_term_months) {
                m = config_setting_get_member(g, "long_term_window_months");
                if (m)
                        return cfg_fail(ctx, m, NULL, "must be 0 or at least long_term_months (%d)",
                                        rules->long_term_months);
                return cfg_fail(ctx, config_setting_get_member(g, "long_term_months"), NULL,
                                "must be at most long_term_window_months (%d)", rules->long_term_window_months);
        }
        /* The allowance expires on the 1st of summer_expire_month, which must come after the check. */
        if (rules->summer_expire_month <= rules->summer_check_month) {
                m = config_setting_get_member(g, "summer_expire_month");
                if (m)
                        return cfg_fail(ctx, m, NULL, "must be after the month of summer_check_date (%02d-%02d)",
                                        rules->summer_check_month, rules->summer_check_day);
                return cfg_fail(ctx, config_setting_get_member(g, "summer_check_date"), NULL,
                                "must be before summer_expire_month (%d)", rules->summer_expire_month);
        }
        return 0;
}

static const char *const lang_names[] = { "sv", "en", NULL };

static const struct cfg_key rules_keys[] = {
        KEY_ENUM("lang", rules_cfg_t, lang, lang_names, NULL, .note = "sv | en: built-in titles and bodies"),
        KEY_INT("long_term_months", rules_cfg_t, long_term_months, 1, 120),
        KEY_INT("long_term_window_months", rules_cfg_t, long_term_window_months, 0, 120,
                .note = "0 = cumulative since first opening"),
        KEY_INT("fia_valid_months", rules_cfg_t, fia_valid_months, 0, 240),
        KEY_INT("ib4_exempt_months", rules_cfg_t, ib4_exempt_months, 1, 120),
        KEY_CUSTOM("summer_check_date", cfg_parse_check_date, cfg_print_check_date),
        KEY_INT("summer_expire_month", rules_cfg_t, summer_expire_month, 1, 12),
        KEY_INT("summer_min_months", rules_cfg_t, summer_min_months, 1, 120),
        KEY_INT("continuity_changes", rules_cfg_t, continuity_changes, 1, 100),
        KEY_INT("continuity_window_months", rules_cfg_t, continuity_window_months, 1, 120),
        KEY_INT("adult_age", rules_cfg_t, adult_age, 1, 99),
        { .name = NULL }
};
static const struct cfg_group rules_group = {
        .keys = rules_keys,
        .other = cfg_parse_rule,
        .check = cfg_check_rules,
        .print_other = cfg_print_rules,
};

/* ---- delivery (docs/operations.md, "Going live") -------------------------- */

static const struct cfg_key delivery_keys[] = {
        KEY("quiet", K_BOOL, delivery_cfg_t, quiet,
            .note = "false: every reminder pops up as it did before (no backlog, digests, supersedes)"),
        KEY_INT("behind_days", delivery_cfg_t, behind_days, 1, 3650,
                .note = "a replay this far behind the clock is a go-live: what it finds due is backlog"),
        KEY_INT("summary_items", delivery_cfg_t, summary_items, 0, 50, .note = "listed in a go-live summary"),
        { .name = NULL }
};
static const struct cfg_group delivery_group = { .keys = delivery_keys };

/* ---- the whole file ------------------------------------------------------- */

static const struct cfg_key root_keys[] = {
        KEY_GROUP("store", 0, &store_group),
        KEY_CUSTOM("feed", cfg_parse_feed, cfg_print_feeds),
        KEY_CUSTOM("feeds", cfg_parse_feeds, NULL, .flags = CFG_NOPRINT),
        KEY_INT("feed_silence_s", config_t, feed_silence_s, 1, 3600, .flags = CFG_NOPRINT),
        KEY_GROUP("publish", 0, &publish_group),
        KEY_GROUP("api", 0, &api_group),
        KEY_GROUP("clock", 0, &clock_group),
        KEY_GROUP("security", 0, &security_group),
        KEY_GROUP("limits", 0, &limits_group),
        KEY_GROUP("log", 0, &log_group),
        KEY_GROUP("retention", offsetof(config_t, retention), &retention_group),
        KEY_GROUP("delivery", offsetof(config_t, delivery), &delivery_group),
        KEY_GROUP("calendar", offsetof(config_t, calendar), &calendar_group),
        KEY_GROUP("rules", offsetof(config_t, rules), &rules_group),
        { .name = NULL }
};
static const struct cfg_group root_group = { .keys = root_keys };

int config_lookback_months(const rules_cfg_t *rules)
{
        const rule_cfg_t *r = rules->rule;
        /* long-term detection and the summer allowance count months in a window; cumulative
         * long-term (window 0) counts within retention, so its own length is the floor */
        int m = BK_MAX(rules->long_term_window_months, rules->long_term_months);

        if (r[RULE_SUMMER_ALLOWANCE].enabled)
                m = BK_MAX(m, 12);
        if (r[RULE_CONTINUITY].enabled)
                m = BK_MAX(m, rules->continuity_window_months);
        /* a completed FIA counts for fia_valid_months: its history must outlive that */
        if (r[RULE_FIA_DUE].enabled || r[RULE_FIA_OVERDUE].enabled || r[RULE_FIA_STALLED].enabled)
                m = BK_MAX(m, rules->fia_valid_months);
        for (int i = 0; i < RULE__COUNT; i++)
                if (r[i].enabled)
                        m = BK_MAX(m, r[i].offset_months + (r[i].offset_days + 29) / 30);
        return m;
}

/* Retention defaults follow the rules; a setting shorter than their look-back is refused. */
static int cfg_check_retention(struct cfg_ctx *ctx)
{
        retention_cfg_t *ret = &ctx->cfg->retention;
        int lookback = config_lookback_months(&ctx->cfg->rules);

        /* not given: the rules' look-back, which follows the rules as configured */
        if (!config_lookup(ctx->lc, "retention.closed_case_months"))
                ret->closed_case_months = lookback;
        if (!config_lookup(ctx->lc, "retention.reminder_months"))
                ret->reminder_months = lookback;
        if (ret->closed_case_months < lookback)
                return cfg_fail(ctx, config_lookup(ctx->lc, "retention.closed_case_months"), NULL,
                                "%d months is shorter than the enabled rules look back (%d months): a "
                                "reopened case would be judged without its history", ret->closed_case_months,
                                lookback);
        return 0;
}

static int cfg_check_all(struct cfg_ctx *ctx, const config_setting_t *root)
{
        const config_t *cfg = ctx->cfg;
        const config_setting_t *a, *b;
        int r;
        struct { const char *path; const char *ep; } bound[] = {
                { "publish.endpoint", cfg->publish_endpoint },
                { "api.endpoint", cfg->api_endpoint },
        };

        if (cfg->n_feeds == 0)
                return cfg_fail(ctx, root, "feed", "missing (a `feed` group or a `feeds` list is required)");
        a = config_lookup(ctx->lc, "feed.silence_s");
        b = config_lookup(ctx->lc, "feed_silence_s");
        if (a && b)
                return cfg_fail(ctx, b, NULL, "conflicts with feed.silence_s (give one of them)");
        for (int i = 1; i < cfg->n_feeds; i++) {
                for (int j = 0; j < i; j++) {
                        char other[256];

                        if (strcmp(cfg->feeds[i].endpoint, cfg->feeds[j].endpoint) != 0)
                                continue;
                        cfg_path(ctx->feed_src[j], other, sizeof(other));
                        return cfg_fail(ctx, config_setting_get_member(ctx->feed_src[i], "endpoint"), NULL,
                                        "same endpoint as %s", other);
                }
        }
        if (strcmp(cfg->publish_endpoint, cfg->api_endpoint) == 0)
                return cfg_fail(ctx, config_lookup(ctx->lc, "api.endpoint"), NULL, "same as publish.endpoint");
        for (int i = 0; i < cfg->n_feeds; i++) {
                const char *eps[] = { cfg->feeds[i].endpoint, cfg->feeds[i].replay_endpoint };
                const char *names[] = { "endpoint", "replay_endpoint" };
                for (int k = 0; k < 2; k++)
                        if (cfg_endpoint_ipv6(eps[k]))
                                return cfg_fail(ctx, config_setting_get_member(ctx->feed_src[i], names[k]), NULL,
                                                "%s: %s", eps[k], cfg_endpoint_ipv6(eps[k]));
        }
        for (size_t i = 0; i < BK_ARRAY_SIZE(bound); i++) {
                const char *why = cfg_endpoint_unbindable(bound[i].ep);
                if (why)
                        return cfg_fail(ctx, config_lookup(ctx->lc, bound[i].path), NULL, "%s: %s", bound[i].ep, why);
        }
        if ((r = cfg_check_retention(ctx)) != 0)
                return r;
        if (cfg->curve)
                return 0;
        for (size_t i = 0; i < BK_ARRAY_SIZE(bound); i++)
                if (!cfg_endpoint_local(bound[i].ep))
                        return cfg_fail(ctx, config_lookup(ctx->lc, bound[i].path), NULL,
                                        "binding a non-loopback address needs security.curve = true");
        return 0;
}

/* ---- sources --------------------------------------------------------------- */

static bool cfg_feed_declares(const cfg_feed_t *f, const char *source)
{
        for (int i = 0; i < f->n_sources; i++)
                if (strcmp(f->sources[i], source) == 0)
                        return true;
        return false;
}

bool config_source_declared(const config_t *cfg, const char *source)
{
        for (int i = 0; i < cfg->n_feeds; i++)
                if (cfg_feed_declares(&cfg->feeds[i], source))
                        return true;
        return false;
}

cfg_carry_t config_feed_carries(const config_t *cfg, int feed, const char *source, bool known,
                                int n_known_undeclared)
{
        int undeclared = 0;

        if (feed < 0 || feed >= cfg->n_feeds)
                return CFG_REFUSE_OTHER;
        if (cfg->feeds[feed].n_sources > 0)
                return cfg_feed_declares(&cfg->feeds[feed], source) ? CFG_ALLOW : CFG_REFUSE_OTHER;
        if (config_source_declared(cfg, source))
                return CFG_REFUSE_OTHER;
        if (known)
                return CFG_ALLOW;
        for (int i = 0; i < cfg->n_feeds; i++)
                undeclared += cfg->feeds[i].n_sources == 0;
        return n_known_undeclared < undeclared ? CFG_ALLOW : CFG_REFUSE_FULL;
}

/* ---- reload ---------------------------------------------------------------- */

void config_restart_settings(const config_t *run, const config_t *next,
                             void (*fn)(void *ud, const char *setting), void *ud)
{
        const struct { const char *setting; const char *a, *b; } str[] = {
                { "store.path", run->store_path, next->store_path },
                { "publish.endpoint", run->publish_endpoint, next->publish_endpoint },
                { "api.endpoint", run->api_endpoint, next->api_endpoint },
                { "security.secret_key", run->secret_key_file, next->secret_key_file },
                { "security.public_key", run->public_key_file, next->public_key_file },
                { "security.keys", run->keys_file, next->keys_file },
        };
        const struct { const char *setting; long long a, b; } num[] = {
                { "store.synchronous", run->store_sync_full, next->store_sync_full },
                { "store.batch", run->store_batch, next->store_batch },
                { "feed.silence_s", run->feed_silence_s, next->feed_silence_s },
                { "clock.mode", run->clock_manual, next->clock_manual },
                { "clock.start", run->clock_start, next->clock_start },
                { "security.curve", run->curve, next->curve },
                { "limits.max_msg_size", run->max_msg_size, next->max_msg_size },
                { "limits.hwm", run->hwm, next->hwm },
        };
        bool feeds = run->n_feeds != next->n_feeds;

        for (size_t i = 0; i < BK_ARRAY_SIZE(str); i++)
                if (strcmp(str[i].a, str[i].b) != 0)
                        fn(ud, str[i].setting);
        for (size_t i = 0; i < BK_ARRAY_SIZE(num); i++)
                if (num[i].a != num[i].b)
                        fn(ud, num[i].setting);
        for (int i = 0; !feeds && i < run->n_feeds; i++)
                feeds = memcmp(&run->feeds[i], &next->feeds[i], sizeof(run->feeds[i])) != 0;
        if (feeds)
                fn(ud, "feeds");
}

/* ---- printing ------------------------------------------------------------- */

static void cfg_print_quoted(FILE *f, const char *s)
{
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                switch (*p) {
                case '"':  fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\t': fputs("\\t", f); break;
                case '\r': fputs("\\r", f); break;
                case '\f': fputs("\\f", f); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\x%02X", *p);
                        else
                                fputc(*p, f);
                }
        }
        fputc('"', f);
}

static void cfg_print_value(FILE *f, const struct cfg_key *k, const char *field)
{
        switch (k->kind) {
        case K_INT:
                fprintf(f, "%d", *(const int *)field);
                break;
        case K_BOOL:
                fputs(*(const bool *)field ? "true" : "false", f);
                break;
        case K_HHMM:
                fprintf(f, "\"%02d:%02d\"", *(const int *)field / 60, *(const int *)field % 60);
                break;
        case K_ENUM:
                if (!k->values) {
                        cfg_print_quoted(f, field);
                        break;
                }
                for (int i = 0; k->names[i]; i++) {
                        int v = k->size == sizeof(bool) ? *(const bool *)field : *(const int *)field;

                        if (v == k->values[i]) {
                                cfg_print_quoted(f, k->names[i]);
                                break;
                        }
                }
                break;
        default:
                cfg_print_quoted(f, field);
        }
}

/* One line, "{ a = 1; b = true; }": for the many small groups of the same shape. */
static void cfg_print_inline(FILE *f, const struct cfg_group *grp, const void *base)
{
        fputc('{', f);
        for (const struct cfg_key *k = grp->keys; k->name; k++) {
                const char *field = (const char *)base + k->off;

                if ((k->flags & CFG_IF_SET) && !field[0])
                        continue;
                fprintf(f, " %s = ", k->name);
                cfg_print_value(f, k, field);
                fputc(';', f);
        }
        fputs(" }", f);
}

static void cfg_print_keys(FILE *f, const struct cfg_group *grp, const void *base, int depth)
{
        for (const struct cfg_key *k = grp->keys; k->name; k++) {
                const char *field = (const char *)base + k->off;

                if (k->flags & CFG_NOPRINT)
                        continue;
                if (depth == 0)
                        fputc('\n', f);
                if (k->kind == K_CUSTOM) {
                        k->print(f, base, depth);
                        continue;
                }
                if ((k->flags & CFG_IF_SET) && !field[0])
                        continue;
                cfg_indent(f, depth);
                if (k->kind == K_GROUP) {
                        fprintf(f, "%s = {\n", k->name);
                        cfg_print_keys(f, k->group, field, depth + 1);
                        if (k->group->print_other)
                                k->group->print_other(f, field, depth + 1);
                        cfg_indent(f, depth);
                        fprintf(f, "};\n");
                        continue;
                }
                fprintf(f, "%s = ", k->name);
                cfg_print_value(f, k, field);
                fputc(';', f);
                if (k->note)
                        fprintf(f, "  # %s", k->note);
                fputc('\n', f);
        }
}

void config_print(const config_t *cfg, FILE *f)
{
        fprintf(f, "# bevakad normalised configuration\n");
        cfg_print_keys(f, &root_group, cfg, 0);
}

/* ---- loading -------------------------------------------------------------- */

void config_defaults(config_t *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        bk_strlcpy(cfg->store_path, "/var/lib/bevaka/bevaka.db", sizeof(cfg->store_path));
        cfg->store_sync_full = true;
        cfg->store_batch = 1000;
        cfg->feed_silence_s = 5;
        /* The loopback examples of protocol §5: safe even without CURVE. */
        bk_strlcpy(cfg->publish_endpoint, "tcp://127.0.0.1:5561", sizeof(cfg->publish_endpoint));
        bk_strlcpy(cfg->api_endpoint, "tcp://127.0.0.1:5563", sizeof(cfg->api_endpoint));
        cfg->max_msg_size = 65536;
        cfg->hwm = 100000;
        cfg->log_level = LOG_INFO;
        cfg->retention.dead_letter_days = 30;
        cfg->retention.closed_case_months = 24;        /* config_lookback_months() of the defaults */
        cfg->retention.reminder_months = 24;
        cfg->retention.dead_letter_max = 10000;
        cfg->delivery.quiet = true;
        cfg->delivery.behind_days = 7;
        cfg->delivery.summary_items = 12;
        cal_cfg_default(&cfg->calendar);
        rules_cfg_default(&cfg->rules);
}

/* The directory relative settings are resolved against, made absolute. */
int cfg_base_dir(struct cfg_ctx *ctx, const char *path, const char *base_dir)
{
        char cwd[CFG_PATH_MAX], rel[CFG_PATH_MAX];
        const char *slash;

        rel[0] = '\0';
        if (path) {
                slash = strrchr(path, '/');
                if (slash == path)
                        bk_strlcpy(rel, "/", sizeof(rel));
                else if (slash)
                        snprintf(rel, sizeof(rel), "%.*s", (int)(slash - path), path);
        } else if (base_dir) {
                bk_strlcpy(rel, base_dir, sizeof(rel));
        }
        if (rel[0] == '/') {
                bk_strlcpy(ctx->dir, rel, sizeof(ctx->dir));
        } else {
                if (!getcwd(cwd, sizeof(cwd)))
                        return cfg_fail(ctx, NULL, NULL, "cannot find the working directory: %s", strerror(errno));
                if ((size_t)snprintf(ctx->dir, sizeof(ctx->dir), "%s/%s", cwd, rel) >= sizeof(ctx->dir))
                        return cfg_fail(ctx, NULL, NULL, "directory name too long");
        }
        cfg_clean_path(ctx->dir);
        return 0;
}

int cfg_read(struct cfg_ctx *ctx, libconfig_t *lc, const char *path)
{
        char fbuf[CFG_PATH_MAX];
        const char *file;
        int ok, err;

        if (path) {
                /* @include "x" is relative to the configuration too. */
                config_set_include_dir(lc, ctx->dir);
                errno = 0;
                ok = config_read_file(lc, path);
        } else {
                ok = config_read_string(lc, config_default_text);
        }
        if (ok)
                return 0;
        err = errno;
        file = cfg_file_name(ctx, config_error_file(lc), fbuf, sizeof(fbuf));
        if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
                if (ctx->err && ctx->err_size)
                        snprintf(ctx->err, ctx->err_size, "%s: cannot read: %s", file,
                                 err ? strerror(err) : config_error_text(lc));
                return BK_E_INVALID;
        }
        if (ctx->err && ctx->err_size)
                snprintf(ctx->err, ctx->err_size, "%s:%d: syntax: %s", file, config_error_line(lc),
                         config_error_text(lc));
        return BK_E_INVALID;
}

int config_load(const char *path, const char *base_dir, config_t *cfg, char *err, size_t err_size)
{
        struct cfg_ctx ctx = { .file = path ? path : CFG_EMBEDDED, .err = err, .err_size = err_size };
        _cleanup_free_ config_t *tmp = calloc(1, sizeof(*tmp));
        libconfig_t lc;
        int r;

        if (err && err_size)
                err[0] = '\0';
        if (!tmp)
                return -ENOMEM;
        /* Fill a copy, so a failed reload leaves the running configuration alone. */
        config_defaults(tmp);
        bk_strlcpy(tmp->file, ctx.file, sizeof(tmp->file));
        ctx.cfg = tmp;
        r = cfg_base_dir(&ctx, path, base_dir);
        if (r)
                return r;
        config_init(&lc);
        ctx.lc = &lc;
        r = cfg_read(&ctx, &lc, path);
        if (!r)
                r = cfg_walk(&ctx, config_root_setting(&lc), &root_group, tmp);
        if (!r)
                r = cfg_check_all(&ctx, config_root_setting(&lc));
        config_destroy(&lc);
        if (!r)
                *cfg = *tmp;
        return r;
}

