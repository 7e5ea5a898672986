/*
 * test-synth.c owns the checks of `bevaka-feed synth` ($BEVAKA_BIN/bevaka-feed):
 * the same seed gives the same bytes and another seed others; every line is
 * an event the daemon's own codec (event_parse) accepts once the feed has
 * added source and seq; times never go backwards and each case begins with
 * case.opened and follows open/closed/reopened; the calibration of
 * docs/synth.md holds for 5000 cases, computed here from the events alone
 * and independently of the generator; and a small history published by the
 * real bevaka-feed into the real bevakad leaves no dead letter, no ignored
 * event and some reminders.
 */
#include "it.h"
#include "event.h"

#define EXPECT(cond) do { if (!(cond)) CHECK(cond); } while (0)
#define CASES_MAX 65536
/* Granted months are kept from this month on, as a bitmap. */
#define MONTH_BASE (2000 * 12)
#define MONTH_SPAN (40 * 12)

typedef struct tcase {
        char id[EV_NAME_MAX + 1];
        bool used, open, single_parent;
        int n_children;
        ev_barrier_t barrier;
        uint8_t granted[MONTH_SPAN];    /* 0 none, 1 granted or partial, 2 refused */
        bool fia_started;
} tcase_t;

typedef struct hist {
        tcase_t *cases;                 /* open addressing on the case id */
        size_t n_cases;
        uint64_t *ids;                  /* FNV-1a of every event id, for uniqueness */
        size_t n_ids, cap_ids;
        size_t lines, parse_errors, order_errors, first_not_opened, bad_transitions, bad_case_ids;
        size_t assigned_in, revised_in, months_in;
        size_t types[EV__COUNT];
} hist_t;

static uint64_t fnv(const char *s, size_t n)
{
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
        return h;
}

/* Runs bevaka-feed with argv (NULL-terminated, without the program), stdout to out_path. Exit status or -1. */
static int run_feed(const it_env_t *e, const char *out_path, char *const args[])
{
        char exe[600];
        char *argv[32];
        int n = 0, st;
        pid_t pid;

        snprintf(exe, sizeof(exe), "%s/bevaka-feed", e->bin);
        argv[n++] = exe;
        for (int i = 0; args[i] && n < 31; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
                int nul = open("/dev/null", O_WRONLY);
                if (fd < 0 || nul < 0)
                        _exit(126);
                dup2(fd, 1);
                dup2(nul, 2);
                execv(exe, argv);
                _exit(127);
        }
        st = it_wait_exit(pid, 120000);
        if (st == -1) {
                kill(pid, SIGKILL);
                it_wait_exit(pid, 5000);
                return -1;
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        long n;

        *len = 0;
        if (!f)
                return NULL;
        if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
                buf = malloc((size_t)n + 1);
                if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
                        buf[n] = '\0';
                        *len = (size_t)n;
                } else {
                        free(buf);
                        buf = NULL;
                }
        }
        fclose(f);
        return buf;
}

static tcase_t *hist_case(hist_t *h, const char *id)
{
        size_t i = fnv(id, strlen(id)) & (CASES_MAX - 1);

        for (; h->cases[i].used; i = (i + 1) & (CASES_MAX - 1))
                if (strcmp(h->cases[i].id, id) == 0)
                        return &h->cases[i];
        if (h->n_cases >= CASES_MAX / 2)
                return NULL;
        h->cases[i].used = true;
        snprintf(h->cases[i].id, sizeof(h->cases[i].id), "%s", id);
        h->n_cases++;
        return &h->cases[i];
}

/* EB-YYYY-NNNNNN and nothing else: no room for a personnummer. */
static bool case_id_ok(const char *id)
{
        if (strlen(id) != 14 || strncmp(id, "EB-", 3) != 0 || id[7] != '-')
                return false;
        for (int i = 3; i < 14; i++)
                if (i != 7 && (id[i] < '0' || id[i] > '9'))
                        return false;
        return !event_has_personnummer(id);
}

/* One line as the feed would publish it: source and seq appended, then the daemon's codec. */
static void hist_line(hist_t *h, const char *line, size_t len, bk_time_t *last_at, bk_time_t start_t)
{
        char buf[8192], reason[EV_PARSE_REASON_SIZE];
        event_t ev;
        tcase_t *c;
        int n;

        h->lines++;
        if (len < 2 || line[len - 1] != '}' || len > sizeof(buf) - 64) {
                h->parse_errors++;
                return;
        }
        n = snprintf(buf, sizeof(buf), "%.*s,\"source\":\"synth\",\"seq\":%zu}", (int)(len - 1), line, h->lines);
        if (event_parse(buf, (size_t)n, &ev, reason, sizeof(reason)) != 0 || ev.type == EV_UNKNOWN) {
                if (h->parse_errors++ < 5)
                        fprintf(stderr, "line %zu: %s\n", h->lines, reason);
                return;
        }
        h->types[ev.type]++;
        if (ev.at < *last_at)
                h->order_errors++;
        *last_at = ev.at;
        if (h->n_ids == h->cap_ids) {
                h->cap_ids = h->cap_ids ? 2 * h->cap_ids : 65536;
                h->ids = realloc(h->ids, h->cap_ids * sizeof(*h->ids));
        }
        h->ids[h->n_ids++] = fnv(ev.id, strlen(ev.id));

        c = hist_case(h, ev.case_id);
        if (!c) {
                h->parse_errors++;
                return;
        }
        if (ev.type == EV_CASE_OPENED) {
                if (c->barrier != BARRIER_NONE) {
                        h->bad_transitions++;           /* opened twice */
                } else {
                        h->bad_case_ids += !case_id_ok(ev.case_id);
                        c->open = true;
                        c->barrier = ev.data.barrier;
                        c->single_parent = ev.data.household.single_parent;
                        c->n_children = ev.data.household.n_children;
                }
                return;
        }
        if (c->barrier == BARRIER_NONE) {
                h->first_not_opened++;
                return;
        }
        /* A closed case hears nothing until it is reopened. */
        if (ev.type == EV_CASE_REOPENED) {
                h->bad_transitions += c->open;
                c->open = true;
                return;
        }
        if (!c->open) {
                h->bad_transitions++;
                return;
        }
        if (ev.type == EV_CASE_CLOSED)
                c->open = false;
        if (ev.at >= start_t) {
                h->assigned_in += ev.type == EV_CASEWORKER_ASSIGNED;
                h->revised_in += ev.type == EV_IB4_REVISED;
        }
        if (ev.type == EV_FIA_STARTED)
                c->fia_started = true;
        if (ev.type == EV_ASSISTANCE_DECIDED) {
                int i = ev.data.month - MONTH_BASE;
                if (i >= 0 && i < MONTH_SPAN)
                        c->granted[i] = ev.data.outcome == OUTCOME_REFUSED ? 2 : 1;
        }
}

static void hist_read(hist_t *h, const char *path, bk_time_t start_t)
{
        size_t len;
        char *text = slurp(path, &len), *p, *nl;
        bk_time_t last_at = INT64_MIN;

        memset(h, 0, sizeof(*h));
        h->cases = calloc(CASES_MAX, sizeof(*h->cases));
        if (!text || !h->cases) {
                CHECK(!"history readable");
                free(text);
                return;
        }
        for (p = text; p < text + len; p = nl + 1) {
                nl = memchr(p, '\n', (size_t)(text + len - p));
                if (!nl)
                        nl = text + len;
                if (nl > p)
                        hist_line(h, p, (size_t)(nl - p), &last_at, start_t);
        }
        free(text);
}

static void hist_free(hist_t *h)
{
        free(h->cases);
        free(h->ids);
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static int granted_between(const tcase_t *c, int from, int to)
{
        int n = 0;
        for (int m = from; m <= to; m++)
                n += m >= MONTH_BASE && m < MONTH_BASE + MONTH_SPAN && c->granted[m - MONTH_BASE] == 1;
        return n;
}

static bool files_equal(const char *a, const char *b)
{
        size_t la, lb;
        char *x = slurp(a, &la), *y = slurp(b, &lb);
        bool eq = x && y && la == lb && memcmp(x, y, la) == 0;
        free(x);
        free(y);
        return eq;
}

static void test_determinism(it_env_t *e)
{
        char a[512], b[512], c[512], d[512];

        it_path(e, "a.jsonl", a, sizeof(a));
        it_path(e, "b.jsonl", b, sizeof(b));
        it_path(e, "c.jsonl", c, sizeof(c));
        it_path(e, "d.jsonl", d, sizeof(d));
        CHECK_INT(run_feed(e, NULL, (char *[]){ "synth", "--cases", "300", "--years", "3", "--seed", "7",
                                                "-o", a, NULL }), 0);
        CHECK_INT(run_feed(e, NULL, (char *[]){ "synth", "--cases", "300", "--years", "3", "--seed", "7",
                                                "-o", b, NULL }), 0);
        /* To stdout, quiet: the same bytes. */
        CHECK_INT(run_feed(e, c, (char *[]){ "synth", "--seed", "7", "--years", "3", "--cases", "300", "-q",
                                             NULL }), 0);
        CHECK_INT(run_feed(e, NULL, (char *[]){ "synth", "--cases", "300", "--years", "3", "--seed", "8",
                                                "-o", d, NULL }), 0);
        CHECK(files_equal(a, b));
        CHECK(files_equal(a, c));
        CHECK(!files_equal(a, d));

        /* Usage errors. */
        CHECK_INT(run_feed(e, NULL, (char *[]){ "synth", "--cases", "10", "--years", "1", NULL }), 2);
        CHECK_INT(run_feed(e, NULL, (char *[]){ "synth", "--cases", "10", "--years", "1", "--seed", "1",
                                                "--start", "2021-13", NULL }), 2);
        CHECK_INT(run_feed(e, NULL, (char *[]){ "synth", "--cases", "0", "--years", "1", "--seed", "1", NULL }), 2);
        CHECK_INT(run_feed(e, NULL, (char *[]){ "synth", "--cases", "10", "--years", "1", "--seed", "-1", NULL }), 2);
        CHECK_INT(run_feed(e, NULL, (char *[]){ "synth", "--help", NULL }), 0);
}

/* The calibration of docs/synth.md, from the events alone. */
static void test_calibration(it_env_t *e)
{
        const int years = 5;
        char path[512];
        hist_t h;
        bk_time_t start_t;
        size_t dups = 0, n_all = 0, barrier[6] = { 0 }, single = 0, lt_cases = 0, lt_fia = 0;
        size_t hh = 0, months = 0, lt = 0, vlt = 0;
        int start_m = 2021 * 12;

        cal_parse_rfc3339("2021-01-01T00:00:00+01:00", &start_t);
        it_path(e, "cal.jsonl", path, sizeof(path));
        CHECK_INT(run_feed(e, NULL, (char *[]){ "synth", "--cases", "5000", "--years", "5", "--seed", "42",
                                                "--start", "2021-01", "-o", path, NULL }), 0);
        hist_read(&h, path, start_t);
        CHECK(h.lines > 5000 * 20);
        CHECK_INT(h.parse_errors, 0);
        CHECK_INT(h.order_errors, 0);
        CHECK_INT(h.first_not_opened, 0);
        CHECK_INT(h.bad_transitions, 0);
        CHECK_INT(h.bad_case_ids, 0);
        qsort(h.ids, h.n_ids, sizeof(*h.ids), cmp_u64);
        for (size_t i = 1; i < h.n_ids; i++)
                dups += h.ids[i] == h.ids[i - 1];
        CHECK_INT(dups, 0);
        /* Every v1 type the model uses shows up. */
        for (int t = EV_CASE_OPENED; t < EV__COUNT; t++) {
                if (t == EV_SIP_FOLLOWED_UP || t == EV_SIP_ENDED)
                        continue;       /* too rare to promise at this size */
                if (!h.types[t])
                        fprintf(stderr, "no %s\n", event_type_name(t));
                EXPECT(h.types[t] > 0);
        }

        for (size_t i = 0; i < CASES_MAX; i++) {
                tcase_t *c = &h.cases[i];
                bool long_term = false;
                if (!c->used)
                        continue;
                n_all++;
                barrier[c->barrier]++;
                single += c->single_parent && c->n_children > 0;
                for (int m = MONTH_BASE; m < MONTH_BASE + MONTH_SPAN && !long_term; m++)
                        long_term = granted_between(c, m - 11, m) >= 10;
                lt_cases += long_term;
                lt_fia += long_term && c->fia_started;
                /* Per 12-month period of the history: the national statistics' definitions. */
                for (int y = 0; y < years; y++) {
                        int from = start_m + 12 * y, to = from + 11, n = 0, last = -1;
                        for (int m = from; m <= to; m++) {
                                if (granted_between(c, m, m)) {
                                        n++;
                                        last = m;
                                }
                        }
                        if (!n)
                                continue;
                        hh++;
                        months += (size_t)n;
                        lt += n >= 10;
                        vlt += granted_between(c, last - 47, last) >= 46;
                        h.months_in += (size_t)n;
                }
        }
        double pu = 100.0 * barrier[BARRIER_UNEMPLOYMENT] / n_all, ps = 100.0 * barrier[BARRIER_SICKNESS] / n_all;
        double pm = 100.0 * barrier[BARRIER_SOCIAL_MEDICAL] / n_all, psp = 100.0 * single / n_all;
        double mean = (double)months / hh, plt = 100.0 * lt / hh, pvlt = 100.0 * vlt / hh;
        double changes = 12.0 * h.assigned_in / h.months_in, revisions = 12.0 * h.revised_in / h.months_in;
        double fia = 100.0 * lt_fia / lt_cases;
        fprintf(stderr, "calibration: %zu cases, %zu events; barriers %.1f/%.1f/%.1f%%, single parents %.1f%%; "
                        "per household-year %.2f months, long-term %.1f%%, very long-term %.1f%%; per case-year "
                        "%.2f caseworker changes, %.2f plan revisions; FIA in %.1f%% of long-term cases\n",
                n_all, h.lines, pu, ps, pm, psp, mean, plt, pvlt, changes, revisions, fia);
        CHECK(n_all >= 5000 && n_all < 5000 * 2);
        CHECK(pu > 44 && pu < 50);
        CHECK(ps > 20 && ps < 26);
        CHECK(pm > 18 && pm < 24);
        CHECK(psp > 29 && psp < 37);
        CHECK(mean >= 6 && mean <= 9);
        CHECK(pvlt > 20 && pvlt < 30);
        CHECK(plt > 35 && plt < 60);
        /* About once a year, both of them: the findings the demo must show. */
        CHECK(changes > 0.7 && changes < 1.3);
        CHECK(revisions > 0.5 && revisions < 1.5);
        CHECK(fia > 2 && fia < 15);
        CHECK(h.types[EV_SIP_INITIATED] * 100 < n_all);
        hist_free(&h);
}

/* A small history through the real feed into the real daemon. */
static void test_publish(it_env_t *e)
{
        char path[512], first_case[EV_NAME_MAX + 1] = "";
        size_t len, lines = 0;
        char *text;
        json_t *r;
        long long total = 0;

        it_path(e, "small.jsonl", path, sizeof(path));
        CHECK_INT(run_feed(e, NULL, (char *[]){ "synth", "--cases", "60", "--years", "2", "--seed", "3",
                                                "--start", "2024-01", "--unit-count", "2", "-o", path, NULL }), 0);
        text = slurp(path, &len);
        CHECK(text != NULL);
        for (size_t i = 0; text && i < len; i++)
                lines += text[i] == '\n';
        if (text) {
                const char *p = strstr(text, "\"case\":\"");
                if (p)
                        sscanf(p + 8, "%14[^\"]", first_case);
        }
        free(text);
        CHECK(lines > 500);

        it_config(e, "2026-01-05T07:00:00+01:00", NULL);
        it_start_feed(e, path, NULL);
        it_start_daemon(e);
        it_connect(e);
        CHECK_INT(it_wait_stat(e, "events", "applied", (long long)lines, 60000), (long long)lines);
        r = it_api(e, "{\"op\":\"stats\"}");
        CHECK(r != NULL);
        if (r) {
                json_t *ev = json_object_get(r, "events"), *rem = json_object_get(r, "reminders"), *v;
                const char *k;
                CHECK_INT(json_integer_value(json_object_get(ev, "dead_letters")), 0);
                CHECK_INT(json_integer_value(json_object_get(ev, "ignored")), 0);
                CHECK_INT(json_integer_value(json_object_get(ev, "duplicates")), 0);
                json_object_foreach(rem, k, v)
                        total += json_integer_value(v);
                fprintf(stderr, "published %zu events: %lld reminders\n", lines, total);
                CHECK(total > 50);
                json_decref(r);
        }
        r = it_api(e, "{\"op\":\"case\",\"case\":\"%s\"}", first_case);
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        json_decref(r);
}

int main(void)
{
        it_env_t e;

        it_init(&e);
        test_determinism(&e);
        test_calibration(&e);
        test_publish(&e);
        it_cleanup(&e);
        return tap_done();
}
