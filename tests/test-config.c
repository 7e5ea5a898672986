/*
 * test-config.c checks config_load() and config_print(): the defaults, the
 * embedded demo configuration, relative path and ipc:// resolution, feed
 * lists, the exact "FILE:LINE: setting: problem" message of every kind of
 * error, and that the printed normalised form loads back to the same
 * output. Bad configurations are written to a mkdtemp() directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include "config.h"
#include "tap.h"

static char tmp[256];

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        if (!f) {
                perror(path);
                exit(2);
        }
        fputs(text, f);
        fclose(f);
}

/* Writes `text` as tmp/name and loads it; returns config_load's result. */
static int load_text(const char *name, const char *text, config_t *cfg, char *err, size_t n)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", tmp, name);
        write_file(path, text);
        return config_load(path, NULL, cfg, err, n);
}

static char *print_config(const config_t *cfg)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        config_print(cfg, f);
        fclose(f);
        return buf;
}

#define FEED "feed = { endpoint = \"tcp://127.0.0.1:5560\"; replay_endpoint = \"tcp://127.0.0.1:5562\"; };\n"

/*
 * Loads `text` and checks that it fails with exactly tmp/bad.conf + `want`
 * (":LINE: setting: problem"), leaving the caller's struct untouched.
 */
static void expect_error(int line, const char *text, const char *want)
{
        config_t cfg;
        char err[1024], full[1024];
        int r;

        memset(&cfg, 0x5a, sizeof(cfg));
        r = load_text("bad.conf", text, &cfg, err, sizeof(err));
        snprintf(full, sizeof(full), "%s/bad.conf%s", tmp, want);
        if (r != BK_E_INVALID || strcmp(err, full) != 0)
                fprintf(stderr, "  (test-config.c:%d, config:\n%s)\n", line, text);
        CHECK_INT(r, BK_E_INVALID);
        CHECK_STR(err, full);
        CHECK(((unsigned char *)&cfg)[0] == 0x5a && ((unsigned char *)&cfg)[sizeof(cfg) - 1] == 0x5a);
}
#define EXPECT_ERROR(text, want) expect_error(__LINE__, text, want)

static void test_defaults(void)
{
        config_t cfg;
        rules_cfg_t rules;
        cal_cfg_t cal;

        config_defaults(&cfg);
        rules_cfg_default(&rules);
        cal_cfg_default(&cal);
        CHECK_STR(cfg.store_path, "/var/lib/bevaka/bevaka.db");
        CHECK(cfg.store_sync_full);
        CHECK_INT(cfg.store_batch, 1000);
        CHECK_INT(cfg.n_feeds, 0);
        CHECK_INT(cfg.feed_silence_s, 5);
        CHECK_STR(cfg.publish_endpoint, "tcp://127.0.0.1:5561");
        CHECK_STR(cfg.api_endpoint, "tcp://127.0.0.1:5563");
        CHECK(!cfg.clock_manual);
        CHECK_INT(cfg.clock_start, 0);
        CHECK(!cfg.curve);
        CHECK_STR(cfg.keys_file, "");
        CHECK_INT(cfg.max_msg_size, 65536);
        CHECK_INT(cfg.hwm, 100000);
        CHECK_INT(cfg.log_level, LOG_INFO);
        CHECK(memcmp(&cfg.calendar, &cal, sizeof(cal)) == 0);
        CHECK(memcmp(&cfg.rules, &rules, sizeof(rules)) == 0);
}

static void test_minimal(void)
{
        config_t cfg, def;
        char err[1024];

        CHECK_INT(load_text("min.conf", FEED, &cfg, err, sizeof(err)), 0);
        CHECK_STR(err, "");
        config_defaults(&def);
        CHECK_INT(cfg.n_feeds, 1);
        CHECK_STR(cfg.feeds[0].endpoint, "tcp://127.0.0.1:5560");
        CHECK_STR(cfg.feeds[0].replay_endpoint, "tcp://127.0.0.1:5562");
        CHECK_STR(cfg.feeds[0].server_key, "");
        CHECK_STR(cfg.store_path, def.store_path);
        CHECK(memcmp(&cfg.rules, &def.rules, sizeof(def.rules)) == 0);
        CHECK(memcmp(&cfg.calendar, &def.calendar, sizeof(def.calendar)) == 0);
        CHECK(strstr(cfg.file, "/min.conf") != NULL);
}

static void test_embedded(void)
{
        config_t cfg;
        char err[1024], want[1200], cwd[512];
        bk_time_t start;

        CHECK_INT(config_load(NULL, tmp, &cfg, err, sizeof(err)), 0);
        CHECK_STR(cfg.file, "(embedded)");
        snprintf(want, sizeof(want), "%s/bevaka.db", tmp);
        CHECK_STR(cfg.store_path, want);
        CHECK(cfg.store_sync_full);
        CHECK_INT(cfg.n_feeds, 1);
        snprintf(want, sizeof(want), "ipc://%s/bevaka-feed.sock", tmp);
        CHECK_STR(cfg.feeds[0].endpoint, want);
        snprintf(want, sizeof(want), "ipc://%s/bevaka-replay.sock", tmp);
        CHECK_STR(cfg.feeds[0].replay_endpoint, want);
        snprintf(want, sizeof(want), "ipc://%s/bevaka-pub.sock", tmp);
        CHECK_STR(cfg.publish_endpoint, want);
        snprintf(want, sizeof(want), "ipc://%s/bevaka-api.sock", tmp);
        CHECK_STR(cfg.api_endpoint, want);
        CHECK(cfg.clock_manual);
        CHECK_INT(cal_parse_rfc3339("2026-01-05T07:00:00+01:00", &start), 0);
        CHECK_INT(cfg.clock_start, start);
        CHECK(!cfg.curve);

        /* No base_dir: the working directory. */
        CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
        CHECK_INT(config_load(NULL, NULL, &cfg, err, sizeof(err)), 0);
        snprintf(want, sizeof(want), "%s/bevaka.db", strcmp(cwd, "/") ? cwd : "");
        CHECK_STR(cfg.store_path, want);
}

static void test_paths(void)
{
        config_t cfg;
        char err[1024], dir[512], path[600], want[600], cwd[512];

        snprintf(dir, sizeof(dir), "%s/etc", tmp);
        mkdir(dir, 0700);
        snprintf(path, sizeof(path), "%s/bevaka.conf", dir);
        write_file(path,
                   "store = { path = \"data/./b.db\"; };\n"
                   "feed = { endpoint = \"ipc://feed.sock\"; replay_endpoint = \"ipc:///run/bevaka//replay.sock\";\n"
                   "         server_key = \"keys/adapter.pub\"; };\n"
                   "publish = { endpoint = \"ipc://@bevaka-pub\"; };\n"
                   "api = { endpoint = \"inproc://api\"; };\n"
                   "security = { curve = true; secret_key = \"/etc/bevaka/daemon.key\";\n"
                   "             public_key = \"daemon.pub\"; keys = \"../keys.list\"; };\n");
        CHECK_INT(config_load(path, "/ignored", &cfg, err, sizeof(err)), 0);
        CHECK_STR(err, "");
        snprintf(want, sizeof(want), "%s/data/b.db", dir);
        CHECK_STR(cfg.store_path, want);
        snprintf(want, sizeof(want), "ipc://%s/feed.sock", dir);
        CHECK_STR(cfg.feeds[0].endpoint, want);
        CHECK_STR(cfg.feeds[0].replay_endpoint, "ipc:///run/bevaka/replay.sock");
        snprintf(want, sizeof(want), "%s/keys/adapter.pub", dir);
        CHECK_STR(cfg.feeds[0].server_key, want);
        CHECK_STR(cfg.publish_endpoint, "ipc://@bevaka-pub");
        CHECK_STR(cfg.api_endpoint, "inproc://api");
        CHECK_STR(cfg.secret_key_file, "/etc/bevaka/daemon.key");
        snprintf(want, sizeof(want), "%s/daemon.pub", dir);
        CHECK_STR(cfg.public_key_file, want);
        /* ".." stays: a symlinked directory would change what it means. */
        snprintf(want, sizeof(want), "%s/../keys.list", dir);
        CHECK_STR(cfg.keys_file, want);

        /* A relative configuration path is relative to the working directory. */
        CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
        CHECK_INT(chdir(tmp), 0);
        CHECK_INT(config_load("etc/bevaka.conf", NULL, &cfg, err, sizeof(err)), 0);
        snprintf(want, sizeof(want), "%s/data/b.db", dir);
        CHECK_STR(cfg.store_path, want);
        CHECK_STR(cfg.file, "etc/bevaka.conf");
        CHECK_INT(chdir("etc"), 0);
        CHECK_INT(config_load("./bevaka.conf", NULL, &cfg, err, sizeof(err)), 0);
        CHECK_STR(cfg.store_path, want);
        CHECK_INT(chdir(cwd), 0);

        /* @include is relative to the configuration, and named so in errors. */
        snprintf(path, sizeof(path), "%s/inc.conf", dir);
        write_file(path, "\nstore = { batch = 0; };\n");
        snprintf(path, sizeof(path), "%s/main.conf", dir);
        write_file(path, FEED "@include \"inc.conf\"\n");
        CHECK_INT(config_load(path, NULL, &cfg, err, sizeof(err)), BK_E_INVALID);
        snprintf(want, sizeof(want), "%s/inc.conf:2: store.batch: must be between 1 and 100000", dir);
        CHECK_STR(err, want);
}

static void test_feeds(void)
{
        config_t cfg;
        char err[1024];

        /* `feed` is always first, wherever it is written. */
        CHECK_INT(load_text("feeds.conf",
                            "feeds = ( { endpoint = \"tcp://10.0.0.2:5560\"; replay_endpoint = \"tcp://10.0.0.2:5562\"; },\n"
                            "          { endpoint = \"tcp://10.0.0.3:5560\"; replay_endpoint = \"tcp://10.0.0.3:5562\";\n"
                            "            server_key = \"/etc/bevaka/s3.pub\"; } );\n"
                            "feed = { endpoint = \"tcp://10.0.0.1:5560\"; replay_endpoint = \"tcp://10.0.0.1:5562\"; silence_s = 9; };\n",
                            &cfg, err, sizeof(err)), 0);
        CHECK_STR(err, "");
        CHECK_INT(cfg.n_feeds, 3);
        CHECK_STR(cfg.feeds[0].endpoint, "tcp://10.0.0.1:5560");
        CHECK_STR(cfg.feeds[1].endpoint, "tcp://10.0.0.2:5560");
        CHECK_STR(cfg.feeds[2].endpoint, "tcp://10.0.0.3:5560");
        CHECK_STR(cfg.feeds[2].replay_endpoint, "tcp://10.0.0.3:5562");
        CHECK_STR(cfg.feeds[2].server_key, "/etc/bevaka/s3.pub");
        CHECK_STR(cfg.feeds[1].server_key, "");
        CHECK_INT(cfg.feed_silence_s, 9);

        CHECK_INT(load_text("feeds.conf",
                            "feed_silence_s = 3;\n"
                            "feeds = ( { endpoint = \"tcp://10.0.0.2:5560\"; replay_endpoint = \"tcp://10.0.0.2:5562\"; } );\n",
                            &cfg, err, sizeof(err)), 0);
        CHECK_INT(cfg.n_feeds, 1);
        CHECK_INT(cfg.feed_silence_s, 3);
}

static void test_settings(void)
{
        config_t cfg;
        char err[1024];
        bk_time_t t;
        cal_day_t d;

        CHECK_INT(load_text("all.conf",
                            FEED
                            "store = { synchronous = \"normal\"; batch = 50; };\n"
                            "clock = { mode = \"manual\"; start = \"2026-03-02T07:00:00Z\"; };\n"
                            "limits = { max_msg_size = 1024; hwm = 10; };\n"
                            "log = { level = \"debug\"; };\n"
                            "calendar = { office_start = \"07:30\"; office_end = \"24:00\"; eves_closed = false;\n"
                            "             closed_days = [ \"2026-12-29\", \"2026-12-28\", \"2026-12-29\" ]; };\n"
                            "rules = { lang = \"en\"; long_term_months = 6; long_term_window_months = 0;\n"
                            "          summer_check_date = \"04-15\"; summer_expire_month = 8; adult_age = 20;\n"
                            "          FIA_DUE = { enabled = false; offset_days = 7; title = \"T\"; };\n"
                            "          IB4-FOLLOWUP = { offset_months = 2; body = \"B\"; }; };\n",
                            &cfg, err, sizeof(err)), 0);
        CHECK_STR(err, "");
        CHECK(!cfg.store_sync_full);
        CHECK_INT(cfg.store_batch, 50);
        CHECK(cfg.clock_manual);
        CHECK_INT(cal_parse_rfc3339("2026-03-02T08:00:00+01:00", &t), 0);
        CHECK_INT(cfg.clock_start, t);
        CHECK_INT(cfg.max_msg_size, 1024);
        CHECK_INT(cfg.hwm, 10);
        CHECK_INT(cfg.log_level, LOG_DEBUG);
        CHECK_INT(cfg.calendar.office_start_min, 7 * 60 + 30);
        CHECK_INT(cfg.calendar.office_end_min, 24 * 60);
        CHECK(!cfg.calendar.eves_closed);
        /* A set: sorted, repeats dropped. */
        CHECK_INT(cfg.calendar.n_closed, 2);
        CHECK_INT(cal_parse_date("2026-12-28", &d), 0);
        CHECK_INT(cfg.calendar.closed[0], d);
        CHECK_INT(cfg.calendar.closed[1], d + 1);
        CHECK_STR(cfg.rules.lang, "en");
        CHECK_INT(cfg.rules.long_term_months, 6);
        CHECK_INT(cfg.rules.long_term_window_months, 0);
        CHECK_INT(cfg.rules.summer_check_month, 4);
        CHECK_INT(cfg.rules.summer_check_day, 15);
        CHECK_INT(cfg.rules.summer_expire_month, 8);
        CHECK_INT(cfg.rules.adult_age, 20);
        CHECK(!cfg.rules.rule[RULE_FIA_DUE].enabled);
        CHECK_INT(cfg.rules.rule[RULE_FIA_DUE].offset_days, 7);
        CHECK_STR(cfg.rules.rule[RULE_FIA_DUE].title, "T");
        CHECK_STR(cfg.rules.rule[RULE_FIA_DUE].body, "");
        CHECK(cfg.rules.rule[RULE_IB4_FOLLOWUP].enabled);
        CHECK_INT(cfg.rules.rule[RULE_IB4_FOLLOWUP].offset_months, 2);
        CHECK_STR(cfg.rules.rule[RULE_IB4_FOLLOWUP].body, "B");
        CHECK(cfg.rules.rule[RULE_IB3_DUE].enabled);
}

static void test_errors(void)
{
        config_t cfg;
        char err[1024], want[1024], text[4096];
        char *p;

        /* I/O and syntax. */
        snprintf(want, sizeof(want), "%s/nope.conf", tmp);
        CHECK_INT(config_load(want, NULL, &cfg, err, sizeof(err)), BK_E_INVALID);
        strcat(want, ": cannot read: No such file or directory");
        CHECK_STR(err, want);
        EXPECT_ERROR(FEED "store = { batch = ; };\n", ":2: syntax: syntax error");
        EXPECT_ERROR(FEED "store = { batch = 1; batch = 2; };\n", ":2: syntax: duplicate setting name");

        /* Unknown names. */
        EXPECT_ERROR(FEED "\nstroe = { path = \"x\"; };\n", ":3: stroe: unknown setting");
        EXPECT_ERROR(FEED "store = {\n  pth = \"x\";\n};\n", ":3: store.pth: unknown setting");
        EXPECT_ERROR(FEED "rules = { FOO_BAR = { enabled = true; }; };\n", ":2: rules.FOO_BAR: unknown rule");
        EXPECT_ERROR(FEED "rules = { foo = 1; };\n", ":2: rules.foo: unknown setting");
        EXPECT_ERROR(FEED "rules = { FIA_DUE = { colour = 1; }; };\n", ":2: rules.FIA_DUE.colour: unknown setting");
        EXPECT_ERROR(FEED "rules = { FIA_DUE = { enabled = true; };\n FIA-DUE = { enabled = false; }; };\n",
                     ":3: rules.FIA-DUE: rule FIA-DUE given twice");
        EXPECT_ERROR("feeds = ( { endpoint = \"tcp://a:1\"; replay_endpoint = \"tcp://a:2\"; silence_s = 3; } );\n",
                     ":1: feeds[0].silence_s: unknown setting");

        /* Types. */
        EXPECT_ERROR(FEED "store = { synchronous = 1; };\n", ":2: store.synchronous: must be a string");
        EXPECT_ERROR(FEED "store = { batch = \"10\"; };\n", ":2: store.batch: must be an integer");
        EXPECT_ERROR(FEED "store = { batch = 1.5; };\n", ":2: store.batch: must be an integer");
        EXPECT_ERROR(FEED "store = 5;\n", ":2: store: must be a group { … }");
        EXPECT_ERROR(FEED "security = { curve = 1; };\n", ":2: security.curve: must be true or false");
        EXPECT_ERROR(FEED "security = { curve = \"yes\"; };\n", ":2: security.curve: must be true or false");
        EXPECT_ERROR(FEED "rules = { FIA_DUE = 1; };\n", ":2: rules.FIA_DUE: must be a group { … }");
        EXPECT_ERROR(FEED "rules = { FIA_DUE = { title = 3; }; };\n", ":2: rules.FIA_DUE.title: must be a string");

        /* Enums and ranges. */
        EXPECT_ERROR(FEED "store = { synchronous = \"fast\"; };\n",
                     ":2: store.synchronous: must be \"full\" or \"normal\"");
        EXPECT_ERROR(FEED "clock = { mode = \"manul\"; };\n", ":2: clock.mode: must be \"system\" or \"manual\"");
        EXPECT_ERROR(FEED "log = { level = \"warn\"; };\n",
                     ":2: log.level: must be one of \"debug\", \"info\", \"notice\", \"warning\", \"err\"");
        EXPECT_ERROR(FEED "rules = { lang = \"de\"; };\n", ":2: rules.lang: must be \"sv\" or \"en\"");
        EXPECT_ERROR(FEED "store = { batch = 0; };\n", ":2: store.batch: must be between 1 and 100000");
        EXPECT_ERROR(FEED "store = { batch = 100001; };\n", ":2: store.batch: must be between 1 and 100000");
        EXPECT_ERROR(FEED "limits = { max_msg_size = 100; };\n",
                     ":2: limits.max_msg_size: must be between 1024 and 16777216");
        EXPECT_ERROR(FEED "limits = { hwm = 0; };\n", ":2: limits.hwm: must be between 1 and 10000000");
        EXPECT_ERROR("feed = { endpoint = \"tcp://a:1\"; replay_endpoint = \"tcp://a:2\"; silence_s = 0; };\n",
                     ":1: feed.silence_s: must be between 1 and 3600");
        EXPECT_ERROR(FEED "rules = { FIA_DUE = { offset_days = -1; }; };\n",
                     ":2: rules.FIA_DUE.offset_days: must be between 0 and 3650");
        EXPECT_ERROR(FEED "rules = { long_term_months = 0; };\n",
                     ":2: rules.long_term_months: must be between 1 and 120");
        EXPECT_ERROR(FEED "rules = { long_term_window_months = 6; };\n",
                     ":2: rules.long_term_window_months: must be 0 or at least long_term_months (10)");
        EXPECT_ERROR(FEED "rules = {\n long_term_months = 13; };\n",
                     ":3: rules.long_term_months: must be at most long_term_window_months (12)");
        EXPECT_ERROR(FEED "rules = { summer_expire_month = 5; };\n",
                     ":2: rules.summer_expire_month: must be after the month of summer_check_date (05-02)");
        EXPECT_ERROR(FEED "rules = { summer_check_date = \"07-10\"; };\n",
                     ":2: rules.summer_check_date: must be before summer_expire_month (7)");

        /* Strings of a shape. */
        EXPECT_ERROR("feed = { endpoint = \"udp://a:1\"; replay_endpoint = \"tcp://a:2\"; };\n",
                     ":1: feed.endpoint: must start with \"tcp://\", \"ipc://\" or \"inproc://\"");
        EXPECT_ERROR("feed = { endpoint = \"tcp://paraply\"; replay_endpoint = \"tcp://a:2\"; };\n",
                     ":1: feed.endpoint: must be \"tcp://HOST:PORT\"");
        EXPECT_ERROR("feed = { endpoint = \"tcp://a:70000\"; replay_endpoint = \"tcp://a:2\"; };\n",
                     ":1: feed.endpoint: must be \"tcp://HOST:PORT\"");
        EXPECT_ERROR("feed = { endpoint = \"\"; replay_endpoint = \"tcp://a:2\"; };\n",
                     ":1: feed.endpoint: must not be empty");
        EXPECT_ERROR("feed = { endpoint = \"ipc://\"; replay_endpoint = \"tcp://a:2\"; };\n",
                     ":1: feed.endpoint: must name a socket path after \"ipc://\"");
        EXPECT_ERROR(FEED "store = { path = \"\"; };\n", ":2: store.path: must not be empty");
        EXPECT_ERROR(FEED "clock = { mode = \"manual\"; start = \"2026-01-05 07:00\"; };\n",
                     ":2: clock.start: must be an RFC 3339 time such as \"2026-01-05T07:00:00+01:00\"");
        EXPECT_ERROR(FEED "calendar = { office_start = \"8:00\"; };\n",
                     ":2: calendar.office_start: must be a time of day \"HH:MM\"");
        EXPECT_ERROR(FEED "calendar = { office_end = \"24:30\"; };\n",
                     ":2: calendar.office_end: must be a time of day \"HH:MM\"");
        EXPECT_ERROR(FEED "calendar = { closed_days = \"2026-12-28\"; };\n",
                     ":2: calendar.closed_days: must be an array of dates [ \"YYYY-MM-DD\", … ]");
        EXPECT_ERROR(FEED "calendar = { closed_days = [ \"2026-12-28\",\n \"2026-13-01\" ]; };\n",
                     ":3: calendar.closed_days[1]: must be a date \"YYYY-MM-DD\"");
        EXPECT_ERROR(FEED "calendar = { closed_days = [ 1 ]; };\n",
                     ":2: calendar.closed_days[0]: must be a date \"YYYY-MM-DD\"");
        EXPECT_ERROR(FEED "rules = { summer_check_date = \"02-29\"; };\n",
                     ":2: rules.summer_check_date: must be a date \"MM-DD\" other than 02-29");

        /* Missing and inconsistent settings. */
        EXPECT_ERROR("store = { batch = 5; };\n",
                     ":1: feed: missing (a `feed` group or a `feeds` list is required)");
        EXPECT_ERROR("\nfeed = {\n endpoint = \"tcp://a:1\"; };\n", ":2: feed.replay_endpoint: missing (required)");
        EXPECT_ERROR("feeds = 5;\n", ":1: feeds: must be a list of groups ( { … }, … )");
        EXPECT_ERROR("feeds = ( 5 );\n", ":1: feeds[0]: must be a group { … }");
        EXPECT_ERROR(FEED "feeds = ( { endpoint = \"tcp://b:1\"; replay_endpoint = \"tcp://b:2\"; },\n"
                     "          { replay_endpoint = \"tcp://c:2\"; } );\n",
                     ":3: feeds[1].endpoint: missing (required)");
        EXPECT_ERROR(FEED "feeds = ( { endpoint = \"tcp://127.0.0.1:5560\"; replay_endpoint = \"tcp://b:2\"; } );\n",
                     ":2: feeds[0].endpoint: same endpoint as feed");
        EXPECT_ERROR("feed = { endpoint = \"tcp://a:1\"; replay_endpoint = \"tcp://a:2\"; silence_s = 3; };\n"
                     "feed_silence_s = 4;\n",
                     ":2: feed_silence_s: conflicts with feed.silence_s (give one of them)");
        EXPECT_ERROR(FEED "clock = { start = \"2026-01-05T07:00:00+01:00\"; };\n",
                     ":2: clock.start: only allowed with mode = \"manual\"");
        EXPECT_ERROR(FEED "security = {\n curve = true; public_key = \"p\"; keys = \"k\"; };\n",
                     ":2: security.secret_key: required when curve = true");
        EXPECT_ERROR(FEED "security = { curve = true; secret_key = \"s\"; public_key = \"p\";\n keys = \"\"; };\n",
                     ":3: security.keys: required when curve = true");
        EXPECT_ERROR(FEED "calendar = { office_start = \"17:00\"; };\n",
                     ":2: calendar.office_start: must be before office_end");
        EXPECT_ERROR(FEED "calendar = { office_start = \"08:00\"; office_end = \"08:00\"; };\n",
                     ":2: calendar.office_end: must be after office_start");
        EXPECT_ERROR(FEED "publish = { endpoint = \"tcp://127.0.0.1:7000\"; };\napi = { endpoint = \"tcp://127.0.0.1:7000\"; };\n",
                     ":3: api.endpoint: same as publish.endpoint");
        EXPECT_ERROR(FEED "publish = { endpoint = \"tcp://*:5561\"; };\n",
                     ":2: publish.endpoint: binding a non-loopback address needs security.curve = true");
        EXPECT_ERROR(FEED "api = { endpoint = \"tcp://0.0.0.0:5563\"; };\n",
                     ":2: api.endpoint: binding a non-loopback address needs security.curve = true");
        EXPECT_ERROR(FEED "publish = { };\n", ":2: publish.endpoint: missing (required)");

        /* Limits of the struct and of the system. */
        p = text + sprintf(text, "feeds = (\n");
        for (int i = 0; i <= CFG_MAX_FEEDS; i++)
                p += sprintf(p, "%s{ endpoint = \"tcp://h%d:1\"; replay_endpoint = \"tcp://h%d:2\"; }\n",
                             i ? "," : "", i, i);
        sprintf(p, ");\n");
        snprintf(want, sizeof(want), ":%d: feeds[%d]: too many feeds (at most %d)",
                 CFG_MAX_FEEDS + 2, CFG_MAX_FEEDS, CFG_MAX_FEEDS);
        EXPECT_ERROR(text, want);
        p = text + sprintf(text, FEED "rules = { FIA_DUE = { title = \"");
        memset(p, 'x', RULE_TEXT_MAX);
        sprintf(p + RULE_TEXT_MAX, "\"; }; };\n");
        snprintf(want, sizeof(want), ":2: rules.FIA_DUE.title: too long (at most %d bytes)", RULE_TEXT_MAX - 1);
        EXPECT_ERROR(text, want);
        p = text + sprintf(text, FEED "api = { endpoint = \"ipc:///");
        memset(p, 'a', 120);
        snprintf(want, sizeof(want), ":2: api.endpoint: socket path longer than 107 bytes: /%.120s", p);
        sprintf(p + 120, "\"; };\n");
        EXPECT_ERROR(text, want);
}

/* print → load → print gives the same text, and the same struct. */
static void round_trip(const char *what, const config_t *cfg)
{
        _cleanup_free_ char *first = print_config(cfg);
        _cleanup_free_ char *second = NULL;
        config_t again;
        char err[1024];
        int r = load_text("round.conf", first, &again, err, sizeof(err));

        CHECK_INT(r, 0);
        if (r) {
                fprintf(stderr, "  (%s: %s)\n", what, err);
                return;
        }
        second = print_config(&again);
        CHECK_STR(second, first);
        memset(again.file, 0, sizeof(again.file));
        CHECK_INT(again.n_feeds, cfg->n_feeds);
        CHECK(memcmp(&again.rules, &cfg->rules, sizeof(cfg->rules)) == 0);
        CHECK(memcmp(again.feeds, cfg->feeds, sizeof(cfg->feeds)) == 0);
}

static void test_round_trip(void)
{
        config_t cfg;
        char err[1024];

        CHECK_INT(config_load(NULL, tmp, &cfg, err, sizeof(err)), 0);
        round_trip("embedded", &cfg);

        CHECK_INT(load_text("full.conf",
                            "store = { path = \"/srv/b.db\"; synchronous = \"normal\"; batch = 7; };\n"
                            "feed_silence_s = 11;\n"
                            "feeds = ( { endpoint = \"tcp://10.1.1.1:5560\"; replay_endpoint = \"tcp://10.1.1.1:5562\"; server_key = \"a.pub\"; },\n"
                            "          { endpoint = \"ipc://x.sock\"; replay_endpoint = \"inproc://r\"; } );\n"
                            "publish = { endpoint = \"tcp://*:5561\"; };\n"
                            "api = { endpoint = \"tcp://127.0.0.2:5563\"; };\n"
                            "clock = { mode = \"manual\"; };\n"
                            "security = { curve = true; secret_key = \"s\"; public_key = \"p\"; keys = \"k\"; };\n"
                            "log = { level = \"err\"; };\n"
                            "calendar = { closed_days = [ \"2027-01-07\", \"2026-12-28\" ]; };\n"
                            "rules = { long_term_window_months = 0; WORK_CAPACITY = { enabled = false; };\n"
                            "  CHILD_MAP = { title = \"Kartlägg \\\"barnens\\\" situation\\n\\tnu \\\\ \\x01\"; body = \"å\"; }; };\n",
                            &cfg, err, sizeof(err)), 0);
        CHECK_STR(err, "");
        CHECK_STR(cfg.rules.rule[RULE_CHILD_MAP].title, "Kartlägg \"barnens\" situation\n\tnu \\ \x01");
        round_trip("full", &cfg);

        /* The struct of defaults has no feed, so it prints feed_silence_s and cannot load; one feed added can. */
        config_defaults(&cfg);
        cfg.n_feeds = 1;
        strcpy(cfg.feeds[0].endpoint, "tcp://127.0.0.1:1");
        strcpy(cfg.feeds[0].replay_endpoint, "tcp://127.0.0.1:2");
        round_trip("defaults", &cfg);
}

int main(void)
{
        snprintf(tmp, sizeof(tmp), "%s/test-config-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(tmp)) {
                perror("mkdtemp");
                return 2;
        }
        test_defaults();
        test_minimal();
        test_embedded();
        test_paths();
        test_feeds();
        test_settings();
        test_errors();
        test_round_trip();
        /* Left for a look on failure; a clean run removes it. */
        if (!tap_fail) {
                char cmd[400];

                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", tmp);
        }
        return tap_done();
}
