/*
 * test-rules.c checks the rules engine (domain.md §3–§5) through its public
 * interface only: events are built as event_t structs (no JSON codec), fed
 * to rules_apply / rules_tick, and the actions are compared with exact due
 * dates and cycles. Every rule id is covered by name, with its resolution
 * and cancellation, plus long-term episodes, children ageing out, month-end
 * clamping, closing and reopening, determinism and the store form.
 */
#include <stdarg.h>
#include <jansson.h>
#include "rules.h"
#include "tap.h"

#define CASE_ID "EB-2024-001234"
#define UNIT "HV-EB-1"

typedef struct fx {
        rules_cfg_t cfg;
        case_state_t *st;
        rules_out_t out;
        int seq;
        int res;
} fx_t;

static void fx_init(fx_t *f)
{
        memset(f, 0, sizeof(*f));
        rules_cfg_default(&f->cfg);
        f->st = rules_state_new(CASE_ID);
}

static void fx_done(fx_t *f)
{
        rules_state_free(&f->st);
        CHECK(f->st == NULL);
}

static cal_day_t D(const char *s)
{
        cal_day_t d = 0;

        if (cal_parse_date(s, &d) != 0)
                fprintf(stderr, "bad test date %s\n", s);
        return d;
}

static cal_month_t M(const char *s)
{
        cal_month_t m = 0;

        if (cal_parse_month(s, &m) != 0)
                fprintf(stderr, "bad test month %s\n", s);
        return m;
}

/* Rotating buffers, so a CHECK_STR can format two dates. */
static const char *ds(cal_day_t d)
{
        static char buf[4][16];
        static int k;

        k = (k + 1) % 4;
        if (d == INT32_MAX)
                return "never";
        cal_format_date(d, buf[k], sizeof(buf[k]));
        return buf[k];
}

/* An event at 10:00 UTC of a date: the same local date in winter and summer. */
static event_t ev(fx_t *f, ev_type_t type, const char *date)
{
        event_t e;
        char at[40];

        memset(&e, 0, sizeof(e));
        e.v = 1;
        e.seq = ++f->seq;
        snprintf(e.id, sizeof(e.id), "ev-%d", f->seq);
        bk_strlcpy(e.source, "test", sizeof(e.source));
        e.type = type;
        if (event_type_name(type))
                bk_strlcpy(e.type_name, event_type_name(type), sizeof(e.type_name));
        snprintf(at, sizeof(at), "%sT10:00:00Z", date);
        if (cal_parse_rfc3339(at, &e.at) != 0)
                fprintf(stderr, "bad test time %s\n", at);
        bk_strlcpy(e.case_id, CASE_ID, sizeof(e.case_id));
        bk_strlcpy(e.unit, UNIT, sizeof(e.unit));
        return e;
}

static int apply(fx_t *f, const event_t *e)
{
        f->res = rules_apply(&f->cfg, f->st, e, &f->out);
        return f->res;
}

static int simple(fx_t *f, ev_type_t type, const char *date)
{
        event_t e = ev(f, type, date);

        return apply(f, &e);
}

/* case.opened with a caseworker and children given as "YYYY-MM" birth months, NULL-terminated. */
static int open_case(fx_t *f, const char *date, const char *cw, ev_barrier_t barrier, ...)
{
        event_t e = ev(f, EV_CASE_OPENED, date);
        va_list ap;
        const char *m;

        e.data.has_caseworker = true;
        bk_strlcpy(e.data.caseworker, cw, sizeof(e.data.caseworker));
        e.data.has_household = true;
        e.data.household.adults = 1;
        e.data.household.single_parent = true;
        va_start(ap, barrier);
        while ((m = va_arg(ap, const char *)))
                e.data.household.children[e.data.household.n_children++] = M(m);
        va_end(ap);
        e.data.has_barrier = barrier != BARRIER_NONE;
        e.data.barrier = barrier;
        return apply(f, &e);
}

static int decide(fx_t *f, const char *date, const char *month, ev_outcome_t o, const char *decision,
                  bool documented)
{
        event_t e = ev(f, EV_ASSISTANCE_DECIDED, date);

        e.data.has_month = true;
        e.data.month = M(month);
        e.data.outcome = o;
        if (decision) {
                e.data.has_decision = true;
                bk_strlcpy(e.data.decision, decision, sizeof(e.data.decision));
        }
        e.data.child_impact_documented = documented;
        return apply(f, &e);
}

/* n monthly decisions from `first` on day 5 of each month; returns the last result. */
static int grant_months(fx_t *f, const char *first, int n, ev_outcome_t o)
{
        cal_month_t m = M(first);
        int r = 0;

        for (int i = 0; i < n; i++) {
                char month[16], date[16];
                int y, mo;

                cal_format_month(m + i, month, sizeof(month));
                cal_ym(m + i, &y, &mo);
                snprintf(date, sizeof(date), "%04d-%02d-05", y, mo);
                r = decide(f, date, month, o, NULL, true);
        }
        return r;
}

static int assign(fx_t *f, const char *date, const char *cw)
{
        event_t e = ev(f, EV_CASEWORKER_ASSIGNED, date);

        e.data.has_caseworker = true;
        bk_strlcpy(e.data.caseworker, cw, sizeof(e.data.caseworker));
        return apply(f, &e);
}

static int actor(fx_t *f, ev_type_t type, const char *date, ev_actor_t a)
{
        event_t e = ev(f, type, date);

        e.data.actor = a;
        return apply(f, &e);
}

static int tick(fx_t *f, const char *date)
{
        f->res = rules_tick(&f->cfg, f->st, D(date), &f->out);
        return f->res;
}

static const rule_action_t *find(const fx_t *f, rule_act_kind_t kind, int rule)
{
        for (int i = 0; i < f->out.n; i++)
                if (f->out.act[i].kind == kind && f->out.act[i].rule == rule)
                        return &f->out.act[i];
        return NULL;
}

static int count(const fx_t *f, rule_act_kind_t kind)
{
        int n = 0;

        for (int i = 0; i < f->out.n; i++)
                n += f->out.act[i].kind == kind;
        return n;
}

/* A schedule of `rule` with this cycle and due date is among the actions. */
#define CHECK_SCHED(f, rule, want_cycle, want_due) do { \
        const rule_action_t *_act = find((f), ACT_SCHEDULE, (rule)); \
        CHECK(_act != NULL); \
        if (_act) { CHECK_STR(_act->cycle, (want_cycle)); CHECK_STR(ds(_act->due), (want_due)); } \
} while (0)

#define CHECK_ACT(f, kind, rule, cyc) do { \
        const rule_action_t *_act = find((f), (kind), (rule)); \
        CHECK(_act != NULL); \
        if (_act) CHECK_STR(_act->cycle, (cyc)); \
} while (0)

#define CHECK_NONE(f) CHECK_INT((f)->out.n, 0)

static bool why_valid(const rule_action_t *a)
{
        json_t *j = json_loads(a->why, 0, NULL);
        bool ok = json_is_object(j);

        json_decref(j);
        return ok && strlen(a->why) < RULE_WHY_MAX;
}

/* The last view stays alive until the next call, so callers can hold its members. */
static json_t *view_last;

static json_t *view_get(const fx_t *f, const char *path)
{
        json_t *v, *cur;
        char buf[128], *tok, *save = NULL;

        json_decref(view_last);
        view_last = v = rules_state_view(f->st);
        bk_strlcpy(buf, path, sizeof(buf));
        cur = v;
        for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
                cur = json_object_get(cur, tok);
        return cur;
}

static const char *view_str(const fx_t *f, const char *path)
{
        json_t *v = view_get(f, path);

        return json_is_string(v) ? json_string_value(v) : json_is_null(v) ? "null" : "(missing)";
}

/* ---- names, configuration, text ---------------------------------------------------------- */

static void test_names_and_text(void)
{
        static const char *const names[RULE__COUNT] = {
                "IB3-DUE", "IB4-DUE", "IB4-FOLLOWUP", "IB4-OVERDUE", "FIA-DUE", "FIA-OVERDUE",
                "FIA-STALLED", "CHILD-MAP", "CHILD-FOLLOWUP", "SUMMER-ALLOWANCE", "CHILD-IMPACT",
                "SIP-CONSIDER", "SIP-MEETING", "SIP-FOLLOWUP", "HANDOVER", "CONTINUITY",
                "WORK-CAPACITY", "SAFETY-FOLLOWUP",
        };
        rules_cfg_t cfg;

        rules_cfg_default(&cfg);
        for (int r = 0; r < RULE__COUNT; r++) {
                CHECK_STR(rules_name((rule_id_t)r), names[r]);
                CHECK_INT(rules_from_name(names[r]), r);
                CHECK(cfg.rule[r].enabled);
                CHECK(rules_title(&cfg, (rule_id_t)r)[0] != '\0');
                CHECK(rules_body(&cfg, (rule_id_t)r)[0] != '\0');
        }
        CHECK_INT(rules_from_name("NOPE"), -1);
        CHECK_INT(rules_from_name(NULL), -1);
        CHECK(rules_name(RULE__COUNT) == NULL);

        CHECK_INT(cfg.rule[RULE_IB3_DUE].offset_days, 14);
        CHECK_INT(cfg.rule[RULE_IB4_DUE].offset_days, 30);
        CHECK_INT(cfg.rule[RULE_IB4_FOLLOWUP].offset_months, 3);
        CHECK_INT(cfg.rule[RULE_IB4_OVERDUE].offset_months, 4);
        CHECK_INT(cfg.rule[RULE_FIA_OVERDUE].offset_days, 30);
        CHECK_INT(cfg.rule[RULE_FIA_STALLED].offset_days, 60);
        CHECK_INT(cfg.rule[RULE_CHILD_FOLLOWUP].offset_months, 6);
        CHECK_INT(cfg.rule[RULE_SIP_MEETING].offset_days, 30);
        CHECK_INT(cfg.rule[RULE_SIP_FOLLOWUP].offset_months, 6);
        CHECK_INT(cfg.rule[RULE_WORK_CAPACITY].offset_months, 12);
        CHECK_INT(cfg.rule[RULE_SAFETY_FOLLOWUP].offset_days, 30);
        CHECK_STR(cfg.lang, "sv");
        CHECK_INT(cfg.long_term_months, 10);
        CHECK_INT(cfg.long_term_window_months, 12);
        CHECK_INT(cfg.fia_valid_months, 24);
        CHECK_INT(cfg.ib4_exempt_months, 6);
        CHECK_INT(cfg.summer_check_month, 5);
        CHECK_INT(cfg.summer_check_day, 2);
        CHECK_INT(cfg.summer_expire_month, 7);
        CHECK_INT(cfg.summer_min_months, 10);
        CHECK_INT(cfg.continuity_changes, 2);
        CHECK_INT(cfg.continuity_window_months, 12);
        CHECK_INT(cfg.adult_age, 18);

        /* The Swedish titles are domain.md's, byte for byte. */
        CHECK_STR(rules_title(&cfg, RULE_IB3_DUE), "Nybesök (IB3) ej genomfört");
        CHECK_STR(rules_title(&cfg, RULE_IB4_DUE), "Förändringsplan (IB4) saknas");
        CHECK_STR(rules_title(&cfg, RULE_IB4_FOLLOWUP), "Dags att följa upp förändringsplanen");
        CHECK_STR(rules_title(&cfg, RULE_IB4_OVERDUE), "Förändringsplanen är inte uppföljd (> 4 mån)");
        CHECK_STR(rules_title(&cfg, RULE_FIA_DUE),
                  "Ärendet har haft bistånd i tio månader – påbörja fördjupad utredning (FIA)");
        CHECK_STR(rules_title(&cfg, RULE_FIA_OVERDUE), "Fördjupad utredning (FIA) ej påbörjad");
        CHECK_STR(rules_title(&cfg, RULE_FIA_STALLED), "Fördjupad utredning (FIA) har inte slutförts");
        CHECK_STR(rules_title(&cfg, RULE_CHILD_MAP),
                  "Kartlägg barnens situation (checklista för långvariga ärenden) – överväg hembesök");
        CHECK_STR(rules_title(&cfg, RULE_CHILD_FOLLOWUP), "Följ upp barnens situation");
        CHECK_STR(rules_title(&cfg, RULE_SUMMER_ALLOWANCE), "Kontrollera sommarlovspeng inför juni");
        CHECK_STR(rules_title(&cfg, RULE_CHILD_IMPACT), "Barnkonsekvensanalys saknas för beslut");
        CHECK_STR(rules_title(&cfg, RULE_SIP_CONSIDER), "Överväg samordnad individuell plan (SIP)");
        CHECK_STR(rules_title(&cfg, RULE_SIP_MEETING), "SIP-möte har inte hållits");
        CHECK_STR(rules_title(&cfg, RULE_SIP_FOLLOWUP), "Följ upp SIP");
        CHECK_STR(rules_title(&cfg, RULE_HANDOVER), "Överlämning: öppna punkter i ärendet");
        CHECK_STR(rules_title(&cfg, RULE_CONTINUITY), "Täta handläggarbyten i långvarigt ärende");
        CHECK_STR(rules_title(&cfg, RULE_WORK_CAPACITY), "Arbetsförmågebedömning saknas eller är inaktuell");
        CHECK_STR(rules_title(&cfg, RULE_SAFETY_FOLLOWUP), "Uppföljning av trygghetsfrågor");
        /* Neutral on purpose: nothing on a screen says what was disclosed. */
        CHECK(strstr(rules_body(&cfg, RULE_SAFETY_FOLLOWUP), "våld") == NULL);

        bk_strlcpy(cfg.lang, "en", sizeof(cfg.lang));
        CHECK_STR(rules_title(&cfg, RULE_IB3_DUE), "First visit (IB3) not done");
        CHECK(strstr(rules_body(&cfg, RULE_SAFETY_FOLLOWUP), "violence") == NULL);
        for (int r = 0; r < RULE__COUNT; r++)
                CHECK(rules_body(&cfg, (rule_id_t)r)[0] != '\0');

        /* Overrides win over the built-in text in either language. */
        bk_strlcpy(cfg.rule[RULE_FIA_DUE].title, "Starta FIA", sizeof(cfg.rule[0].title));
        bk_strlcpy(cfg.rule[RULE_FIA_DUE].body, "Egen text", sizeof(cfg.rule[0].body));
        CHECK_STR(rules_title(&cfg, RULE_FIA_DUE), "Starta FIA");
        CHECK_STR(rules_body(&cfg, RULE_FIA_DUE), "Egen text");
        bk_strlcpy(cfg.lang, "sv", sizeof(cfg.lang));
        CHECK_STR(rules_title(&cfg, RULE_FIA_DUE), "Starta FIA");
        CHECK_STR(rules_title(&cfg, RULE_FIA_STALLED), "Fördjupad utredning (FIA) har inte slutförts");
}

static void test_reminder_id(void)
{
        char a[20], b[20], c[20], d[20];

        rules_reminder_id(CASE_ID, RULE_FIA_DUE, "lt1", a);
        rules_reminder_id(CASE_ID, RULE_FIA_DUE, "lt1", b);
        rules_reminder_id(CASE_ID, RULE_FIA_DUE, "lt2", c);
        rules_reminder_id(CASE_ID, RULE_FIA_OVERDUE, "lt1", d);
        CHECK_STR(a, b);
        CHECK(strcmp(a, c) != 0);
        CHECK(strcmp(a, d) != 0);
        CHECK_INT(strlen(a), 18);
        CHECK(strncmp(a, "r-", 2) == 0);
        CHECK(strspn(a + 2, "0123456789abcdef") == 16);
        /* FNV-1a 64 of "EB-1\0FIA-DUE\0lt1\0", computed independently. */
        rules_reminder_id("EB-1", RULE_FIA_DUE, "lt1", a);
        {
                uint64_t h = UINT64_C(0xcbf29ce484222325);
                const char s[] = "EB-1\0FIA-DUE\0lt1";
                char want[20];
                for (size_t i = 0; i < sizeof(s); i++) {
                        h ^= (unsigned char)s[i];
                        h *= UINT64_C(0x100000001b3);
                }
                snprintf(want, sizeof(want), "r-%016" PRIx64, h);
                CHECK_STR(a, want);
        }
        /* The separators keep the parts apart. */
        rules_reminder_id("EB-1", RULE_CHILD_IMPACT, "ab", a);
        rules_reminder_id("EB-1a", RULE_CHILD_IMPACT, "b", b);
        CHECK(strcmp(a, b) != 0);
}

/* ---- IB track, safety ---------------------------------------------------------------------- */

static void test_ib_track(void)
{
        fx_t f;
        const rule_action_t *a;
        event_t e;

        fx_init(&f);
        CHECK_INT(open_case(&f, "2026-01-05", "hk1", BARRIER_UNEMPLOYMENT, NULL), 0);
        CHECK_NONE(&f);
        CHECK(rules_state_open(f.st));
        CHECK_STR(rules_state_unit(f.st), UNIT);
        CHECK_STR(rules_state_caseworker(f.st), "hk1");

        CHECK_INT(simple(&f, EV_IB1_COMPLETED, "2026-01-07"), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_SCHED(&f, RULE_IB3_DUE, "ib1-1", "2026-01-21");
        a = find(&f, ACT_SCHEDULE, RULE_IB3_DUE);
        CHECK(a && a->severity == SEV_DUE && a->to_caseworker && !a->to_leads && a->body[0] == '\0');
        CHECK(a && why_valid(a));
        CHECK(a && strcmp(a->why, "{\"ib1\":\"2026-01-07\",\"days\":14}") == 0);
        CHECK_STR(view_str(&f, "tracks.ib.state"), "ib1");

        /* IB2 is Jobbtorg's: state only. */
        CHECK_INT(simple(&f, EV_IB2_COMPLETED, "2026-01-09"), 0);
        CHECK_NONE(&f);
        CHECK_STR(view_str(&f, "tracks.ib.state"), "ib2");

        e = ev(&f, EV_IB3_COMPLETED, "2026-01-19");
        e.data.violence_disclosed = true;
        CHECK_INT(apply(&f, &e), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_IB3_DUE, "ib1-1");
        CHECK_SCHED(&f, RULE_IB4_DUE, "ib3-1", "2026-02-18");
        CHECK_SCHED(&f, RULE_SAFETY_FOLLOWUP, "ib3-1", "2026-02-18");
        a = find(&f, ACT_SCHEDULE, RULE_SAFETY_FOLLOWUP);
        CHECK(a && a->severity == SEV_DUE && a->to_caseworker);
        CHECK_STR(view_str(&f, "tracks.safety.state"), "pending");

        CHECK_INT(simple(&f, EV_IB4_ESTABLISHED, "2026-01-20"), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_IB4_DUE, "ib3-1");
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p1", "2026-04-20");
        CHECK_SCHED(&f, RULE_IB4_OVERDUE, "p1", "2026-05-20");
        a = find(&f, ACT_SCHEDULE, RULE_IB4_FOLLOWUP);
        CHECK(a && a->severity == SEV_INFO && strstr(a->why, "\"plan\":\"2026-01-20\""));
        a = find(&f, ACT_SCHEDULE, RULE_IB4_OVERDUE);
        CHECK(a && a->severity == SEV_OVERDUE && why_valid(a));
        CHECK_STR(view_str(&f, "tracks.ib.state"), "plan");
        CHECK_STR(view_str(&f, "tracks.ib.plan"), "2026-01-20");
        CHECK_STR(view_str(&f, "tracks.ib.next_follow_up"), "2026-04-20");

        /* A revision resolves both reminders of p1 and re-arms; follow_up_at wins when earlier. */
        e = ev(&f, EV_IB4_REVISED, "2026-03-01");
        e.data.has_follow_up_at = true;
        e.data.follow_up_at = D("2026-04-15");
        CHECK_INT(apply(&f, &e), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_IB4_FOLLOWUP, "p1");
        CHECK_ACT(&f, ACT_RESOLVE, RULE_IB4_OVERDUE, "p1");
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p2", "2026-04-15");
        CHECK_SCHED(&f, RULE_IB4_OVERDUE, "p2", "2026-07-01");
        a = find(&f, ACT_SCHEDULE, RULE_IB4_FOLLOWUP);
        CHECK(a && strstr(a->why, "\"follow_up_at\":\"2026-04-15\""));

        /* A later follow_up_at does not postpone the 3-month follow-up. */
        e = ev(&f, EV_IB4_REVISED, "2026-04-10");
        e.data.has_follow_up_at = true;
        e.data.follow_up_at = D("2026-09-01");
        CHECK_INT(apply(&f, &e), 0);
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p3", "2026-07-10");

        CHECK_INT(simple(&f, EV_SAFETY_FOLLOWED_UP, "2026-02-10"), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_SAFETY_FOLLOWUP, "ib3-1");
        CHECK_STR(view_str(&f, "tracks.safety.state"), "done");

        /* A second follow-up resolves nothing more. */
        CHECK_INT(simple(&f, EV_SAFETY_FOLLOWED_UP, "2026-02-11"), 0);
        CHECK_NONE(&f);

        /* ib3 without a disclosure raises no safety follow-up. */
        CHECK_INT(simple(&f, EV_IB3_COMPLETED, "2026-05-01"), 0);
        CHECK(find(&f, ACT_SCHEDULE, RULE_SAFETY_FOLLOWUP) == NULL);
        CHECK(find(&f, ACT_SCHEDULE, RULE_IB4_DUE) == NULL);   /* a plan exists */

        /* A new intake while the plan runs: IB3-DUE again; a third ib1 supersedes the second. */
        CHECK_INT(simple(&f, EV_IB1_COMPLETED, "2026-06-01"), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_SCHED(&f, RULE_IB3_DUE, "ib1-2", "2026-06-15");
        CHECK_STR(view_str(&f, "tracks.ib.state"), "plan");
        CHECK_INT(simple(&f, EV_IB1_COMPLETED, "2026-06-03"), 0);
        CHECK_INT(f.out.n, 2);
        CHECK(f.out.act[0].kind == ACT_CANCEL);
        CHECK_ACT(&f, ACT_CANCEL, RULE_IB3_DUE, "ib1-2");
        CHECK_SCHED(&f, RULE_IB3_DUE, "ib1-3", "2026-06-17");
        fx_done(&f);
}

static void test_month_end_clamping(void)
{
        fx_t f;
        event_t e;

        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        CHECK_INT(simple(&f, EV_IB4_ESTABLISHED, "2025-01-31"), 0);
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p1", "2025-04-30");
        CHECK_SCHED(&f, RULE_IB4_OVERDUE, "p1", "2025-05-31");
        CHECK_INT(simple(&f, EV_IB4_REVISED, "2023-11-30"), 0);
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p2", "2024-02-29");     /* leap year */
        CHECK_SCHED(&f, RULE_IB4_OVERDUE, "p2", "2024-03-30");
        CHECK_INT(simple(&f, EV_IB4_REVISED, "2024-10-31"), 0);
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p3", "2025-01-31");
        CHECK_SCHED(&f, RULE_IB4_OVERDUE, "p3", "2025-02-28");
        e = ev(&f, EV_SIP_ESTABLISHED, "2025-08-31");
        CHECK_INT(apply(&f, &e), 0);
        CHECK_SCHED(&f, RULE_SIP_FOLLOWUP, "s1-1", "2026-02-28");
        /* Domain example: plan 2025-01-20 → follow-up 2025-04-20 (Easter Sunday; delivery is the scheduler's). */
        CHECK_INT(simple(&f, EV_IB4_REVISED, "2025-01-20"), 0);
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p4", "2025-04-20");
        fx_done(&f);
}

static void test_ib4_exemption(void)
{
        fx_t f;
        event_t e;

        /* With a plan: the follow-ups are cancelled and come back at `until`. */
        fx_init(&f);
        open_case(&f, "2026-01-05", "hk1", BARRIER_NONE, NULL);
        simple(&f, EV_IB3_COMPLETED, "2026-01-10");
        simple(&f, EV_IB4_ESTABLISHED, "2026-01-20");
        e = ev(&f, EV_IB4_EXEMPTED, "2026-02-01");
        e.data.has_reason = true;
        bk_strlcpy(e.data.reason, "medvetet avstår", sizeof(e.data.reason));
        CHECK_INT(apply(&f, &e), 0);
        CHECK_INT(f.out.n, 2);
        CHECK_ACT(&f, ACT_CANCEL, RULE_IB4_FOLLOWUP, "p1");
        CHECK_ACT(&f, ACT_CANCEL, RULE_IB4_OVERDUE, "p1");
        CHECK_STR(view_str(&f, "tracks.ib.state"), "exempt");
        CHECK_STR(view_str(&f, "tracks.ib.exempt_until"), "2026-08-01");   /* default 6 months */
        CHECK_STR(view_str(&f, "tracks.ib.exempt_reason"), "medvetet avstår");
        CHECK_STR(ds(rules_next_wake(&f.cfg, f.st)), "2026-08-01");
        /* Suspended: a new ib3 raises no IB4-DUE (and there is a plan anyway). */
        CHECK_INT(tick(&f, "2026-07-31"), 0);
        CHECK_NONE(&f);
        CHECK_INT(tick(&f, "2026-08-01"), 0);
        CHECK_INT(f.out.n, 2);
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p1-x1", "2026-08-01");
        CHECK_SCHED(&f, RULE_IB4_OVERDUE, "p1-x1", "2026-09-01");
        CHECK_STR(view_str(&f, "tracks.ib.state"), "plan");
        CHECK_INT(rules_next_wake(&f.cfg, f.st), INT32_MAX);
        /* Ticking the same day again is a no-op. */
        CHECK_INT(tick(&f, "2026-08-01"), 0);
        CHECK_NONE(&f);
        fx_done(&f);

        /* Without a plan: IB4-DUE again at `until`. */
        fx_init(&f);
        open_case(&f, "2026-01-05", "hk1", BARRIER_NONE, NULL);
        simple(&f, EV_IB3_COMPLETED, "2026-01-10");
        CHECK_SCHED(&f, RULE_IB4_DUE, "ib3-1", "2026-02-09");
        e = ev(&f, EV_IB4_EXEMPTED, "2026-01-15");
        e.data.has_until = true;
        e.data.until = D("2026-03-01");
        CHECK_INT(apply(&f, &e), 0);
        CHECK_ACT(&f, ACT_CANCEL, RULE_IB4_DUE, "ib3-1");
        /* The event path runs the time-driven part first: the re-arm comes with this event. */
        CHECK_INT(simple(&f, EV_IB2_COMPLETED, "2026-03-02"), 0);
        CHECK_SCHED(&f, RULE_IB4_DUE, "ib3-1-x1", "2026-03-01");
        CHECK_STR(view_str(&f, "tracks.ib.state"), "ib3");
        fx_done(&f);

        /* A plan established during the exemption ends it: nothing at `until`. */
        fx_init(&f);
        open_case(&f, "2026-01-05", "hk1", BARRIER_NONE, NULL);
        simple(&f, EV_IB3_COMPLETED, "2026-01-10");
        simple(&f, EV_IB4_EXEMPTED, "2026-01-15");
        CHECK_INT(simple(&f, EV_IB4_ESTABLISHED, "2026-02-01"), 0);
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p1", "2026-05-01");
        CHECK_STR(view_str(&f, "tracks.ib.state"), "plan");
        CHECK_STR(view_str(&f, "tracks.ib.exempt_until"), "null");
        CHECK_INT(rules_next_wake(&f.cfg, f.st), INT32_MAX);
        CHECK_INT(tick(&f, "2026-08-01"), 0);
        CHECK(find(&f, ACT_SCHEDULE, RULE_IB4_FOLLOWUP) == NULL);
        fx_done(&f);

        /* An `until` that is not in the future ends the exemption at once. */
        fx_init(&f);
        open_case(&f, "2026-01-05", "hk1", BARRIER_NONE, NULL);
        simple(&f, EV_IB4_ESTABLISHED, "2026-01-06");
        e = ev(&f, EV_IB4_EXEMPTED, "2026-02-01");
        e.data.has_until = true;
        e.data.until = D("2026-01-31");
        CHECK_INT(apply(&f, &e), 0);
        CHECK_ACT(&f, ACT_CANCEL, RULE_IB4_FOLLOWUP, "p1");
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p1-x1", "2026-02-01");
        fx_done(&f);
}

/* ---- long-term, FIA, children -------------------------------------------------------------- */

static void test_long_term_and_fia(void)
{
        fx_t f;
        const rule_action_t *a;
        event_t e;

        fx_init(&f);
        open_case(&f, "2025-01-03", "hk1", BARRIER_UNCLEAR, "2015-06", NULL);
        CHECK_INT(grant_months(&f, "2025-01", 9, OUTCOME_GRANTED), 0);
        CHECK_NONE(&f);
        CHECK(json_is_false(view_get(&f, "long_term")));
        CHECK_INT(decide(&f, "2025-10-05", "2025-10", OUTCOME_PARTIAL, "B-10", true), 0);
        CHECK_SCHED(&f, RULE_FIA_DUE, "lt1", "2025-10-05");
        CHECK_SCHED(&f, RULE_FIA_OVERDUE, "lt1", "2025-11-04");
        CHECK_SCHED(&f, RULE_CHILD_MAP, "lt1", "2025-10-05");
        a = find(&f, ACT_SCHEDULE, RULE_FIA_DUE);
        CHECK(a && a->severity == SEV_DUE && a->to_caseworker && !a->to_leads);
        CHECK(a && why_valid(a));
        CHECK(a && strstr(a->why, "{\"long_term_since\":\"2025-10-05\",\"granted_in_window\":10,"
                                  "\"window\":\"2024-11..2025-10\"") == a->why);
        a = find(&f, ACT_SCHEDULE, RULE_FIA_OVERDUE);
        CHECK(a && a->severity == SEV_OVERDUE && a->to_caseworker && a->to_leads);
        a = find(&f, ACT_SCHEDULE, RULE_CHILD_MAP);
        CHECK(a && a->severity == SEV_DUE && why_valid(a));
        CHECK(json_is_true(view_get(&f, "long_term")));
        CHECK_STR(view_str(&f, "long_term_since"), "2025-10-05");
        CHECK_STR(view_str(&f, "tracks.fia.state"), "due");
        CHECK_STR(view_str(&f, "tracks.children.state"), "due");

        /* Staying long-term schedules nothing new. */
        CHECK_INT(decide(&f, "2025-11-05", "2025-11", OUTCOME_GRANTED, NULL, true), 0);
        CHECK_NONE(&f);

        CHECK_INT(simple(&f, EV_FIA_STARTED, "2025-11-10"), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_FIA_DUE, "lt1");
        CHECK_ACT(&f, ACT_RESOLVE, RULE_FIA_OVERDUE, "lt1");
        CHECK_SCHED(&f, RULE_FIA_STALLED, "f1", "2026-01-09");
        a = find(&f, ACT_SCHEDULE, RULE_FIA_STALLED);
        CHECK(a && a->severity == SEV_OVERDUE);
        CHECK_STR(view_str(&f, "tracks.fia.state"), "started");
        /* Started twice: still the same FIA. */
        CHECK_INT(simple(&f, EV_FIA_STARTED, "2025-11-11"), 0);
        CHECK_NONE(&f);
        CHECK_INT(simple(&f, EV_FIA_COMPLETED, "2026-01-02"), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_FIA_STALLED, "f1");
        CHECK_STR(view_str(&f, "tracks.fia.state"), "completed");
        CHECK_STR(view_str(&f, "tracks.fia.completed"), "2026-01-02");

        /* children.mapped resolves CHILD-MAP and arms the follow-up. */
        e = ev(&f, EV_CHILDREN_MAPPED, "2025-10-20");
        e.data.home_visit = true;
        CHECK_INT(apply(&f, &e), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_CHILD_MAP, "lt1");
        CHECK_SCHED(&f, RULE_CHILD_FOLLOWUP, "m1", "2026-04-20");
        a = find(&f, ACT_SCHEDULE, RULE_CHILD_FOLLOWUP);
        CHECK(a && a->severity == SEV_INFO);
        CHECK_INT(simple(&f, EV_CHILDREN_MAPPED, "2026-04-22"), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_CHILD_FOLLOWUP, "m1");
        CHECK_SCHED(&f, RULE_CHILD_FOLLOWUP, "m2", "2026-10-22");
        CHECK_STR(view_str(&f, "tracks.children.mapped"), "2026-04-22");
        CHECK_STR(view_str(&f, "tracks.children.next_follow_up"), "2026-10-22");
        fx_done(&f);

        /* FIA completed within 24 months before becoming long-term: no FIA-DUE. */
        fx_init(&f);
        open_case(&f, "2024-06-01", "hk1", BARRIER_NONE, NULL);
        simple(&f, EV_FIA_STARTED, "2024-06-10");
        simple(&f, EV_FIA_COMPLETED, "2024-07-01");
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK(find(&f, ACT_SCHEDULE, RULE_FIA_DUE) == NULL);
        CHECK(find(&f, ACT_SCHEDULE, RULE_CHILD_MAP) == NULL);   /* no children */
        CHECK(json_is_true(view_get(&f, "long_term")));
        fx_done(&f);

        /* An FIA in progress: no FIA-DUE either. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        simple(&f, EV_FIA_STARTED, "2025-03-01");
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK(find(&f, ACT_SCHEDULE, RULE_FIA_DUE) == NULL);
        fx_done(&f);

        /* fia.declined closes the track with the reason kept. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK_SCHED(&f, RULE_FIA_DUE, "lt1", "2025-10-05");
        e = ev(&f, EV_FIA_DECLINED, "2025-10-20");
        e.data.has_reason = true;
        bk_strlcpy(e.data.reason, "annan utredning pågår", sizeof(e.data.reason));
        CHECK_INT(apply(&f, &e), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_FIA_DUE, "lt1");
        CHECK_ACT(&f, ACT_RESOLVE, RULE_FIA_OVERDUE, "lt1");
        CHECK_STR(view_str(&f, "tracks.fia.state"), "declined");
        CHECK_STR(view_str(&f, "tracks.fia.declined_reason"), "annan utredning pågår");
        fx_done(&f);
}

static void test_long_term_episodes(void)
{
        fx_t f;

        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, "2016-02", NULL);
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK_SCHED(&f, RULE_FIA_DUE, "lt1", "2025-10-05");
        CHECK_SCHED(&f, RULE_CHILD_MAP, "lt1", "2025-10-05");
        {
                event_t e = ev(&f, EV_FIA_DECLINED, "2025-10-06");
                apply(&f, &e);
        }
        simple(&f, EV_CHILDREN_MAPPED, "2025-10-07");

        /* 11 and 12 of the window still hold 10 granted months; the 13th drops to 9. */
        grant_months(&f, "2025-11", 2, OUTCOME_REFUSED);
        CHECK(json_is_true(view_get(&f, "long_term")));
        CHECK_INT(grant_months(&f, "2026-01", 1, OUTCOME_REFUSED), 0);
        CHECK(json_is_false(view_get(&f, "long_term")));
        CHECK_STR(view_str(&f, "long_term_since"), "null");

        /* Back over the threshold 10 months after dropping out: the episode resumes silently. */
        grant_months(&f, "2026-02", 9, OUTCOME_GRANTED);
        CHECK(json_is_false(view_get(&f, "long_term")));
        CHECK_INT(grant_months(&f, "2026-11", 1, OUTCOME_GRANTED), 0);
        CHECK(json_is_true(view_get(&f, "long_term")));
        CHECK_STR(view_str(&f, "long_term_since"), "2025-10-05");
        CHECK(find(&f, ACT_SCHEDULE, RULE_FIA_DUE) == NULL);
        CHECK(find(&f, ACT_SCHEDULE, RULE_CHILD_MAP) == NULL);

        /* A full window below the threshold, then long-term again: a new episode. */
        grant_months(&f, "2026-12", 14, OUTCOME_REFUSED);
        CHECK(json_is_false(view_get(&f, "long_term")));
        grant_months(&f, "2028-02", 9, OUTCOME_GRANTED);
        CHECK_INT(grant_months(&f, "2028-11", 1, OUTCOME_GRANTED), 0);
        CHECK(json_is_true(view_get(&f, "long_term")));
        CHECK_STR(view_str(&f, "long_term_since"), "2028-11-05");
        CHECK_SCHED(&f, RULE_FIA_DUE, "lt2", "2028-11-05");
        CHECK_SCHED(&f, RULE_FIA_OVERDUE, "lt2", "2028-12-05");
        CHECK_SCHED(&f, RULE_CHILD_MAP, "lt2", "2028-11-05");
        fx_done(&f);

        /* A refused decision for a granted month removes it from the count. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        grant_months(&f, "2025-01", 9, OUTCOME_GRANTED);
        decide(&f, "2025-09-20", "2025-09", OUTCOME_REFUSED, "R-9", true);
        CHECK_INT(grant_months(&f, "2025-10", 1, OUTCOME_GRANTED), 0);
        CHECK(json_is_false(view_get(&f, "long_term")));
        CHECK_INT(json_array_size(view_get(&f, "granted_months")), 9);
        CHECK_INT(grant_months(&f, "2025-11", 1, OUTCOME_GRANTED), 0);
        CHECK_SCHED(&f, RULE_FIA_DUE, "lt1", "2025-11-05");
        fx_done(&f);

        /* Window 0: cumulative since opening, so a gap does not reset the count. */
        fx_init(&f);
        f.cfg.long_term_window_months = 0;
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        grant_months(&f, "2025-01", 5, OUTCOME_GRANTED);
        grant_months(&f, "2025-12", 4, OUTCOME_GRANTED);
        CHECK(json_is_false(view_get(&f, "long_term")));
        CHECK_INT(grant_months(&f, "2026-04", 1, OUTCOME_GRANTED), 0);
        CHECK_SCHED(&f, RULE_FIA_DUE, "lt1", "2026-04-05");
        {
                const rule_action_t *a = find(&f, ACT_SCHEDULE, RULE_FIA_DUE);
                CHECK(a && strstr(a->why, "\"window\":\"all\""));
        }
        fx_done(&f);

        /* The same history with the default window is not long-term. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        grant_months(&f, "2025-01", 5, OUTCOME_GRANTED);
        grant_months(&f, "2025-12", 5, OUTCOME_GRANTED);
        CHECK(json_is_false(view_get(&f, "long_term")));
        fx_done(&f);
}

static void test_children(void)
{
        fx_t f;
        event_t e;

        /* A child born 2008-03 counts to the end of March 2026 and ages out on 1 April. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, "2008-03", NULL);
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK_SCHED(&f, RULE_CHILD_MAP, "lt1", "2025-10-05");
        simple(&f, EV_CHILDREN_MAPPED, "2025-11-01");
        CHECK_SCHED(&f, RULE_CHILD_FOLLOWUP, "m1", "2026-05-01");
        CHECK_INT(json_integer_value(view_get(&f, "tracks.children.counting")), 1);
        CHECK_STR(ds(rules_next_wake(&f.cfg, f.st)), "2026-04-01");
        CHECK_INT(tick(&f, "2026-03-31"), 0);
        CHECK_NONE(&f);
        CHECK_INT(tick(&f, "2026-04-01"), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_ACT(&f, ACT_CANCEL, RULE_CHILD_FOLLOWUP, "m1");
        CHECK_STR(view_str(&f, "tracks.children.state"), "none");
        CHECK_INT(json_integer_value(view_get(&f, "tracks.children.counting")), 0);
        CHECK_INT(rules_next_wake(&f.cfg, f.st), INT32_MAX);
        /* A mapping now has no child to follow up. */
        CHECK_INT(simple(&f, EV_CHILDREN_MAPPED, "2026-04-10"), 0);
        CHECK(find(&f, ACT_SCHEDULE, RULE_CHILD_FOLLOWUP) == NULL);
        fx_done(&f);

        /* The event path ages children out too, before the event itself. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, "2008-03", NULL);
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK_INT(simple(&f, EV_IB1_COMPLETED, "2026-06-01"), 0);
        CHECK_ACT(&f, ACT_CANCEL, RULE_CHILD_MAP, "lt1");
        CHECK_SCHED(&f, RULE_IB3_DUE, "ib1-1", "2026-06-15");
        CHECK(f.out.act[0].kind == ACT_CANCEL);
        fx_done(&f);

        /* A long-term case that gains a child gets CHILD-MAP; losing all children cancels it. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK(find(&f, ACT_SCHEDULE, RULE_CHILD_MAP) == NULL);
        e = ev(&f, EV_CASE_UPDATED, "2025-12-01");
        e.data.has_household = true;
        e.data.household.adults = 2;
        e.data.household.n_children = 1;
        e.data.household.children[0] = M("2025-11");
        CHECK_INT(apply(&f, &e), 0);
        CHECK_SCHED(&f, RULE_CHILD_MAP, "lt1", "2025-12-01");
        /* The same household again is no gain. */
        e = ev(&f, EV_CASE_UPDATED, "2025-12-02");
        e.data.has_household = true;
        e.data.household.n_children = 1;
        e.data.household.children[0] = M("2025-11");
        CHECK_INT(apply(&f, &e), 0);
        CHECK_NONE(&f);
        e = ev(&f, EV_CASE_UPDATED, "2025-12-03");
        e.data.has_household = true;
        e.data.household.adults = 1;
        CHECK_INT(apply(&f, &e), 0);
        CHECK_ACT(&f, ACT_CANCEL, RULE_CHILD_MAP, "lt1");
        /* Gaining one again in the same episode: a new cycle of the episode. */
        e = ev(&f, EV_CASE_UPDATED, "2025-12-04");
        e.data.has_household = true;
        e.data.household.n_children = 1;
        e.data.household.children[0] = M("2025-11");
        CHECK_INT(apply(&f, &e), 0);
        CHECK_SCHED(&f, RULE_CHILD_MAP, "lt1-2", "2025-12-04");
        fx_done(&f);

        /* A recent mapping (within the window) means no CHILD-MAP on becoming long-term. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, "2019-01", NULL);
        simple(&f, EV_CHILDREN_MAPPED, "2025-02-01");
        CHECK(find(&f, ACT_SCHEDULE, RULE_CHILD_FOLLOWUP) == NULL);   /* not long-term yet */
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK(find(&f, ACT_SCHEDULE, RULE_CHILD_MAP) == NULL);
        CHECK_SCHED(&f, RULE_FIA_DUE, "lt1", "2025-10-05");
        fx_done(&f);
}

static void test_summer_allowance(void)
{
        fx_t f;
        const rule_action_t *a;

        fx_init(&f);
        open_case(&f, "2025-06-01", "hk1", BARRIER_NONE, "2015-04", NULL);
        grant_months(&f, "2025-06", 11, OUTCOME_GRANTED);       /* through 2026-04 */
        CHECK_STR(ds(rules_next_wake(&f.cfg, f.st)), "2026-05-02");
        CHECK_INT(tick(&f, "2026-05-01"), 0);
        CHECK_NONE(&f);
        CHECK_INT(tick(&f, "2026-05-02"), 0);
        CHECK_SCHED(&f, RULE_SUMMER_ALLOWANCE, "2026", "2026-05-02");
        a = find(&f, ACT_SCHEDULE, RULE_SUMMER_ALLOWANCE);
        CHECK(a && a->severity == SEV_INFO && a->to_caseworker && why_valid(a));
        CHECK(a && strcmp(a->why, "{\"check_date\":\"2026-05-02\",\"granted_in_window\":11,"
                                  "\"window\":\"2025-05..2026-04\",\"children\":1,"
                                  "\"expires\":\"2026-07-01\"}") == 0);
        CHECK_STR(ds(rules_next_wake(&f.cfg, f.st)), "2026-07-01");
        {
                event_t e = ev(&f, EV_SUMMER_ALLOWANCE_APPLIED, "2026-05-10");
                e.data.has_year = true;
                e.data.year = 2026;
                CHECK_INT(apply(&f, &e), 0);
        }
        CHECK_INT(f.out.n, 1);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_SUMMER_ALLOWANCE, "2026");
        CHECK_INT(tick(&f, "2026-07-01"), 0);
        CHECK_NONE(&f);
        fx_done(&f);

        /* Not applied: cancelled on 1 July. */
        fx_init(&f);
        open_case(&f, "2025-06-01", "hk1", BARRIER_NONE, "2015-04", NULL);
        grant_months(&f, "2025-06", 11, OUTCOME_GRANTED);
        tick(&f, "2026-05-02");
        CHECK_SCHED(&f, RULE_SUMMER_ALLOWANCE, "2026", "2026-05-02");
        CHECK_INT(tick(&f, "2026-06-30"), 0);
        CHECK_NONE(&f);
        CHECK_INT(tick(&f, "2026-07-01"), 0);
        CHECK_ACT(&f, ACT_CANCEL, RULE_SUMMER_ALLOWANCE, "2026");
        fx_done(&f);

        /* A tick past the expiry never schedules the expired year; one before it does. */
        fx_init(&f);
        open_case(&f, "2025-06-01", "hk1", BARRIER_NONE, "2015-04", NULL);
        grant_months(&f, "2025-06", 11, OUTCOME_GRANTED);
        CHECK_INT(tick(&f, "2026-08-15"), 0);
        CHECK_NONE(&f);
        fx_done(&f);
        fx_init(&f);
        open_case(&f, "2025-06-01", "hk1", BARRIER_NONE, "2015-04", NULL);
        grant_months(&f, "2025-06", 11, OUTCOME_GRANTED);
        CHECK_INT(tick(&f, "2026-06-15"), 0);
        CHECK_SCHED(&f, RULE_SUMMER_ALLOWANCE, "2026", "2026-05-02");
        fx_done(&f);

        /* Applied before the check: nothing; too few months: nothing; closed: nothing. */
        fx_init(&f);
        open_case(&f, "2025-06-01", "hk1", BARRIER_NONE, "2015-04", NULL);
        grant_months(&f, "2025-06", 11, OUTCOME_GRANTED);
        {
                event_t e = ev(&f, EV_SUMMER_ALLOWANCE_APPLIED, "2026-04-20");
                e.data.has_year = true;
                e.data.year = 2026;
                CHECK_INT(apply(&f, &e), 0);
                CHECK_NONE(&f);
        }
        CHECK_INT(tick(&f, "2026-05-02"), 0);
        CHECK_NONE(&f);
        fx_done(&f);

        /* Months before the check month count; May's own decision is assistance to come. */
        fx_init(&f);
        open_case(&f, "2025-06-01", "hk1", BARRIER_NONE, "2015-04", NULL);
        grant_months(&f, "2025-08", 10, OUTCOME_GRANTED);       /* 2025-08 .. 2026-05 */
        /* No summer check to wake for; only the child's ageing out (born 2015-04). */
        CHECK_STR(ds(rules_next_wake(&f.cfg, f.st)), "2033-05-01");
        CHECK_INT(tick(&f, "2026-05-02"), 0);
        CHECK_NONE(&f);
        fx_done(&f);

        fx_init(&f);
        open_case(&f, "2025-06-01", "hk1", BARRIER_NONE, "2015-04", NULL);
        grant_months(&f, "2025-06", 11, OUTCOME_GRANTED);
        simple(&f, EV_CASE_CLOSED, "2026-04-30");
        CHECK_STR(ds(rules_next_wake(&f.cfg, f.st)), "2033-05-01");
        CHECK_INT(tick(&f, "2026-05-02"), 0);
        CHECK_NONE(&f);
        fx_done(&f);
}

static void test_child_impact(void)
{
        fx_t f;
        event_t e;

        fx_init(&f);
        open_case(&f, "2026-01-02", "hk1", BARRIER_NONE, "2020-05", NULL);
        CHECK_INT(decide(&f, "2026-02-03", "2026-02", OUTCOME_REFUSED, "D-17", false), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_SCHED(&f, RULE_CHILD_IMPACT, "D-17", "2026-02-03");
        CHECK(find(&f, ACT_SCHEDULE, RULE_CHILD_IMPACT)->severity == SEV_DUE);
        CHECK(strstr(find(&f, ACT_SCHEDULE, RULE_CHILD_IMPACT)->why, "\"decision\":\"D-17\""));
        CHECK_INT(decide(&f, "2026-03-03", "2026-03", OUTCOME_PARTIAL, "D-18", false), 0);
        CHECK_SCHED(&f, RULE_CHILD_IMPACT, "D-18", "2026-03-03");
        /* Documented in the decision, granted in full: nothing. */
        CHECK_INT(decide(&f, "2026-04-03", "2026-04", OUTCOME_PARTIAL, "D-19", true), 0);
        CHECK(find(&f, ACT_SCHEDULE, RULE_CHILD_IMPACT) == NULL);
        CHECK_INT(decide(&f, "2026-05-03", "2026-05", OUTCOME_GRANTED, "D-20", false), 0);
        CHECK_NONE(&f);
        e = ev(&f, EV_CHILD_IMPACT_DOCUMENTED, "2026-02-10");
        e.data.has_decision = true;
        bk_strlcpy(e.data.decision, "D-17", sizeof(e.data.decision));
        CHECK_INT(apply(&f, &e), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_CHILD_IMPACT, "D-17");
        /* A decision id with quotes stays valid JSON in `why`. */
        CHECK_INT(decide(&f, "2026-06-03", "2026-06", OUTCOME_REFUSED, "D\"21\\x", false), 0);
        CHECK(why_valid(find(&f, ACT_SCHEDULE, RULE_CHILD_IMPACT)));
        fx_done(&f);

        /* No children (or only adults): nothing. */
        fx_init(&f);
        open_case(&f, "2026-01-02", "hk1", BARRIER_NONE, "2000-01", NULL);
        CHECK_INT(decide(&f, "2026-02-03", "2026-02", OUTCOME_REFUSED, "D-1", false), 0);
        CHECK_NONE(&f);
        fx_done(&f);
}

/* ---- SIP ------------------------------------------------------------------------------------ */

static void test_sip(void)
{
        fx_t f;
        event_t e;

        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_UNEMPLOYMENT, NULL);
        /* Two actors before the case is long-term: nothing yet. */
        actor(&f, EV_ACTOR_INVOLVED, "2025-02-01", ACTOR_AF);
        CHECK_INT(actor(&f, EV_ACTOR_INVOLVED, "2025-03-01", ACTOR_FK), 0);
        CHECK_NONE(&f);
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK_SCHED(&f, RULE_SIP_CONSIDER, "c1", "2025-10-05");
        CHECK(find(&f, ACT_SCHEDULE, RULE_SIP_CONSIDER)->severity == SEV_INFO);
        CHECK_STR(view_str(&f, "tracks.sip.state"), "suggested");
        /* The condition stops holding: cancelled; holds again: a new cycle. */
        CHECK_INT(actor(&f, EV_ACTOR_ENDED, "2025-10-10", ACTOR_FK), 0);
        CHECK_ACT(&f, ACT_CANCEL, RULE_SIP_CONSIDER, "c1");
        CHECK_STR(view_str(&f, "tracks.sip.state"), "none");
        CHECK_INT(actor(&f, EV_ACTOR_INVOLVED, "2025-10-12", ACTOR_OTHER), 0);
        CHECK_NONE(&f);     /* "other" does not count */
        CHECK_INT(actor(&f, EV_ACTOR_INVOLVED, "2025-10-15", ACTOR_REGION), 0);
        CHECK_SCHED(&f, RULE_SIP_CONSIDER, "c2", "2025-10-15");

        CHECK_INT(simple(&f, EV_SIP_INITIATED, "2025-10-20"), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_SIP_CONSIDER, "c2");
        CHECK_SCHED(&f, RULE_SIP_MEETING, "s1", "2025-11-19");
        CHECK(find(&f, ACT_SCHEDULE, RULE_SIP_MEETING)->severity == SEV_DUE);
        CHECK_INT(simple(&f, EV_SIP_MEETING_HELD, "2025-11-01"), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_SIP_MEETING, "s1");
        CHECK_STR(view_str(&f, "tracks.sip.state"), "meeting_held");
        e = ev(&f, EV_SIP_ESTABLISHED, "2025-11-15");
        e.data.has_follow_up_at = true;
        e.data.follow_up_at = D("2026-02-15");
        CHECK_INT(apply(&f, &e), 0);
        CHECK_SCHED(&f, RULE_SIP_FOLLOWUP, "s1-1", "2026-02-15");
        CHECK(find(&f, ACT_SCHEDULE, RULE_SIP_FOLLOWUP)->severity == SEV_INFO);
        CHECK_STR(view_str(&f, "tracks.sip.next_follow_up"), "2026-02-15");
        CHECK_INT(simple(&f, EV_SIP_FOLLOWED_UP, "2026-02-20"), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_SIP_FOLLOWUP, "s1-1");
        CHECK_SCHED(&f, RULE_SIP_FOLLOWUP, "s1-2", "2026-08-20");
        CHECK_INT(simple(&f, EV_SIP_ENDED, "2026-03-01"), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_SIP_FOLLOWUP, "s1-2");
        CHECK_STR(view_str(&f, "tracks.sip.state"), "ended");
        /* Ended while the condition still holds: not suggested again until it changes. */
        CHECK_INT(decide(&f, "2026-03-05", "2026-03", OUTCOME_GRANTED, NULL, true), 0);
        CHECK_NONE(&f);
        fx_done(&f);

        /* sickness + Region; declined resolves and is not suggested again. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_SICKNESS, NULL);
        f.cfg.rule[RULE_WORK_CAPACITY].enabled = false;
        actor(&f, EV_ACTOR_INVOLVED, "2025-02-01", ACTOR_REGION);
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK_SCHED(&f, RULE_SIP_CONSIDER, "c1", "2025-10-05");
        e = ev(&f, EV_SIP_DECLINED, "2025-10-08");
        e.data.has_reason = true;
        bk_strlcpy(e.data.reason, "vill inte", sizeof(e.data.reason));
        CHECK_INT(apply(&f, &e), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_SIP_CONSIDER, "c1");
        CHECK_STR(view_str(&f, "tracks.sip.state"), "declined");
        CHECK_STR(view_str(&f, "tracks.sip.declined_reason"), "vill inte");
        CHECK_INT(actor(&f, EV_ACTOR_INVOLVED, "2025-11-01", ACTOR_FK), 0);
        CHECK_NONE(&f);
        fx_done(&f);

        /* SIP-MEETING is resolved by an establishment without a recorded meeting. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        CHECK_INT(simple(&f, EV_SIP_INITIATED, "2025-03-01"), 0);
        CHECK_SCHED(&f, RULE_SIP_MEETING, "s1", "2025-03-31");
        CHECK_INT(simple(&f, EV_SIP_ESTABLISHED, "2025-03-20"), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_SIP_MEETING, "s1");
        CHECK_SCHED(&f, RULE_SIP_FOLLOWUP, "s1-1", "2025-09-20");
        fx_done(&f);
}

/* ---- handover and continuity ------------------------------------------------------------- */

static void test_handover_continuity(void)
{
        fx_t f;
        const rule_action_t *a;

        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, "2014-05", NULL);
        simple(&f, EV_IB1_COMPLETED, "2025-01-03");
        CHECK_INT(assign(&f, "2025-01-05", "hk1"), 0);
        CHECK_NONE(&f);          /* same caseworker: no handover */
        CHECK_INT(assign(&f, "2025-01-10", "hk2"), 0);
        CHECK_INT(f.out.n, 2);
        CHECK(f.out.act[0].kind == ACT_REROUTE && f.out.act[0].rule == -1);
        CHECK_STR(f.out.act[0].caseworker, "hk2");
        CHECK_SCHED(&f, RULE_HANDOVER, "a2", "2025-01-10");
        a = find(&f, ACT_SCHEDULE, RULE_HANDOVER);
        CHECK(a && a->severity == SEV_INFO && a->to_caseworker && !a->to_leads);
        CHECK(a && strstr(a->body, "Överlämning av ärendet."));
        CHECK(a && strstr(a->body, "Förändringsplan: saknas"));
        CHECK(a && strstr(a->body, "Barnens situation: inte kartlagd"));
        CHECK(a && strstr(a->body, "Beviljade månader 2024-02..2025-01: 0"));
        CHECK(a && why_valid(a) && strstr(a->why, "\"to\":\"hk2\""));
        CHECK_STR(rules_state_caseworker(f.st), "hk2");
        CHECK_INT(json_integer_value(view_get(&f, "tracks.continuity.changes")), 1);

        /* The next handover resolves the previous summary first. */
        bk_strlcpy(f.cfg.lang, "en", sizeof(f.cfg.lang));
        simple(&f, EV_IB4_ESTABLISHED, "2025-01-20");
        CHECK_INT(assign(&f, "2025-02-01", "hk3"), 0);
        CHECK(f.out.act[0].kind == ACT_RESOLVE && f.out.act[0].rule == RULE_HANDOVER);
        CHECK_STR(f.out.act[0].cycle, "a2");
        CHECK(f.out.act[1].kind == ACT_REROUTE);
        CHECK_SCHED(&f, RULE_HANDOVER, "a3", "2025-02-01");
        a = find(&f, ACT_SCHEDULE, RULE_HANDOVER);
        CHECK(a && strstr(a->body, "Case handover."));
        CHECK(a && strstr(a->body, "Change plan: 2025-01-20, next follow-up 2025-04-20"));
        CHECK(a && strlen(a->body) < RULE_TEXT_MAX);
        /* Two changes within 12 months, but not long-term: no CONTINUITY. */
        CHECK(find(&f, ACT_SCHEDULE, RULE_CONTINUITY) == NULL);
        fx_done(&f);

        /* Long-term case: the second change within 12 months alerts the leads. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        grant_months(&f, "2025-01", 12, OUTCOME_GRANTED);
        CHECK_INT(assign(&f, "2026-01-10", "hk2"), 0);
        CHECK(find(&f, ACT_SCHEDULE, RULE_CONTINUITY) == NULL);
        a = find(&f, ACT_SCHEDULE, RULE_HANDOVER);
        CHECK(a && strstr(a->body, "Långvarigt sedan: 2025-10-05"));
        CHECK(a && strstr(a->body, "FIA: ska påbörjas sedan 2025-10-05"));
        CHECK_INT(assign(&f, "2026-06-10", "hk3"), 0);
        CHECK_SCHED(&f, RULE_CONTINUITY, "a3", "2026-06-10");
        a = find(&f, ACT_SCHEDULE, RULE_CONTINUITY);
        CHECK(a && !a->to_caseworker && a->to_leads && a->severity == SEV_INFO && why_valid(a));
        CHECK_SCHED(&f, RULE_HANDOVER, "a3", "2026-06-10");
        /* A third change more than 12 months after the second-to-last: one change in the window. */
        CHECK_INT(assign(&f, "2027-08-01", "hk4"), 0);
        CHECK(find(&f, ACT_SCHEDULE, RULE_CONTINUITY) == NULL);
        CHECK_INT(assign(&f, "2027-09-01", "hk5"), 0);
        CHECK_SCHED(&f, RULE_CONTINUITY, "a5", "2027-09-01");
        fx_done(&f);
}

/* ---- work capacity -------------------------------------------------------------------------- */

static void test_work_capacity(void)
{
        fx_t f;

        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_SICKNESS, NULL);
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK_SCHED(&f, RULE_WORK_CAPACITY, "w1", "2025-10-05");
        CHECK(find(&f, ACT_SCHEDULE, RULE_WORK_CAPACITY)->severity == SEV_DUE);
        CHECK(why_valid(find(&f, ACT_SCHEDULE, RULE_WORK_CAPACITY)));
        CHECK_INT(simple(&f, EV_WORK_CAPACITY_ASSESSED, "2025-11-01"), 0);
        CHECK_INT(f.out.n, 1);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_WORK_CAPACITY, "w1");
        CHECK_STR(ds(rules_next_wake(&f.cfg, f.st)), "2026-11-01");
        CHECK_INT(tick(&f, "2026-10-31"), 0);
        CHECK_NONE(&f);
        CHECK_INT(tick(&f, "2026-11-01"), 0);
        CHECK_SCHED(&f, RULE_WORK_CAPACITY, "w2", "2026-11-01");
        CHECK_STR(view_str(&f, "tracks.work_capacity.state"), "due");
        /* The barrier changes: the condition no longer holds. */
        {
                event_t e = ev(&f, EV_CASE_UPDATED, "2026-11-10");
                e.data.has_barrier = true;
                e.data.barrier = BARRIER_UNEMPLOYMENT;
                CHECK_INT(apply(&f, &e), 0);
                CHECK_ACT(&f, ACT_CANCEL, RULE_WORK_CAPACITY, "w2");
        }
        /* health.flagged brings it back. */
        CHECK_INT(simple(&f, EV_HEALTH_FLAGGED, "2026-11-20"), 0);
        CHECK_SCHED(&f, RULE_WORK_CAPACITY, "w3", "2026-11-20");
        fx_done(&f);

        /* Not long-term: nothing, however sick. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_UNEMPLOYMENT, NULL);
        CHECK_INT(simple(&f, EV_HEALTH_FLAGGED, "2025-02-01"), 0);
        CHECK_NONE(&f);
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK_SCHED(&f, RULE_WORK_CAPACITY, "w1", "2025-10-05");
        fx_done(&f);
}

/* ---- closing, reopening, invalid events ---------------------------------------------------- */

static void test_close_reopen(void)
{
        fx_t f;
        char *before, *after;
        event_t e;

        fx_init(&f);
        open_case(&f, "2026-01-05", "hk1", BARRIER_NONE, NULL);
        simple(&f, EV_IB3_COMPLETED, "2026-01-10");
        simple(&f, EV_IB4_ESTABLISHED, "2026-01-20");
        CHECK_INT(simple(&f, EV_CASE_CLOSED, "2026-02-01"), 0);
        CHECK_INT(f.out.n, 1);
        CHECK(f.out.act[0].kind == ACT_CANCEL && f.out.act[0].rule == -1 && f.out.act[0].cycle[0] == 0);
        CHECK(!rules_state_open(f.st));
        CHECK_STR(view_str(&f, "status"), "closed");

        /* Facts are kept while closed, nothing is scheduled. */
        CHECK_INT(simple(&f, EV_IB1_COMPLETED, "2026-02-10"), 0);
        CHECK_NONE(&f);
        CHECK_INT(assign(&f, "2026-02-11", "hk9"), 0);
        CHECK_NONE(&f);
        CHECK_INT(assign(&f, "2026-02-12", "hk1"), 0);
        CHECK_NONE(&f);

        /* Closing a closed case cannot apply; the state is unchanged. */
        before = rules_state_to_json(f.st);
        CHECK_INT(simple(&f, EV_CASE_CLOSED, "2026-02-15"), BK_E_INVALID);
        CHECK_NONE(&f);
        after = rules_state_to_json(f.st);
        CHECK_STR(after, before);
        free(after);

        /* Another case's event, likewise. */
        e = ev(&f, EV_IB1_COMPLETED, "2026-02-16");
        bk_strlcpy(e.case_id, "EB-OTHER", sizeof(e.case_id));
        CHECK_INT(apply(&f, &e), BK_E_INVALID);
        after = rules_state_to_json(f.st);
        CHECK_STR(after, before);
        free(after);
        free(before);

        /* Reopening re-arms what was pending, under new cycles, then hands over. */
        e = ev(&f, EV_CASE_REOPENED, "2026-03-01");
        e.data.has_caseworker = true;
        bk_strlcpy(e.data.caseworker, "hk2", sizeof(e.data.caseworker));
        CHECK_INT(apply(&f, &e), 0);
        CHECK(rules_state_open(f.st));
        CHECK_SCHED(&f, RULE_IB3_DUE, "ib1-1-r1", "2026-03-01");       /* was due 2026-02-24 */
        CHECK_SCHED(&f, RULE_IB4_FOLLOWUP, "p1-r1", "2026-04-20");     /* keeps its due date */
        CHECK_SCHED(&f, RULE_IB4_OVERDUE, "p1-r1", "2026-05-20");
        CHECK(why_valid(find(&f, ACT_SCHEDULE, RULE_IB3_DUE)));
        CHECK(find(&f, ACT_REROUTE, -1) != NULL);
        CHECK_SCHED(&f, RULE_HANDOVER, "a4", "2026-03-01");
        CHECK_STR(rules_state_caseworker(f.st), "hk2");
        /* Reopening an open case cannot apply. */
        CHECK_INT(simple(&f, EV_CASE_REOPENED, "2026-03-02"), BK_E_INVALID);
        /* Neither can a second case.opened. */
        CHECK_INT(open_case(&f, "2026-03-03", "hk2", BARRIER_NONE, NULL), BK_E_INVALID);
        /* Unknown types change nothing. */
        e = ev(&f, EV_UNKNOWN, "2026-03-04");
        CHECK_INT(apply(&f, &e), 0);
        CHECK_NONE(&f);
        /* Data the type needs is missing. */
        e = ev(&f, EV_ASSISTANCE_DECIDED, "2026-03-04");
        CHECK_INT(apply(&f, &e), BK_E_INVALID);
        e = ev(&f, EV_CASEWORKER_ASSIGNED, "2026-03-04");
        CHECK_INT(apply(&f, &e), BK_E_INVALID);
        fx_done(&f);

        /* A case first seen through another event takes the envelope's unit; case.updated moves it. */
        fx_init(&f);
        e = ev(&f, EV_IB1_COMPLETED, "2026-01-07");
        bk_strlcpy(e.unit, "KH-EB-2", sizeof(e.unit));
        CHECK_INT(apply(&f, &e), 0);
        CHECK_SCHED(&f, RULE_IB3_DUE, "ib1-1", "2026-01-21");   /* no caseworker yet, still scheduled */
        CHECK(rules_state_open(f.st));
        CHECK_STR(rules_state_unit(f.st), "KH-EB-2");
        CHECK_STR(rules_state_caseworker(f.st), "");
        CHECK_INT(open_case(&f, "2026-01-08", "hk7", BARRIER_NONE, NULL), 0);
        CHECK(find(&f, ACT_SCHEDULE, RULE_HANDOVER) == NULL);   /* first assignment */
        /* … but the reminder that had nobody to go to goes to the first caseworker. */
        CHECK_INT(f.out.n, 1);
        CHECK(find(&f, ACT_REROUTE, -1) && strcmp(find(&f, ACT_REROUTE, -1)->caseworker, "hk7") == 0);
        CHECK_STR(rules_state_unit(f.st), UNIT);
        e = ev(&f, EV_CASE_UPDATED, "2026-01-09");
        e.data.has_unit = true;
        bk_strlcpy(e.data.unit, "SV-EB-3", sizeof(e.data.unit));
        CHECK_INT(apply(&f, &e), 0);
        CHECK_STR(rules_state_unit(f.st), "SV-EB-3");
        CHECK_STR(view_str(&f, "unit"), "SV-EB-3");
        fx_done(&f);

        /* A reopened case keeps its granted months and its long-term episode. */
        fx_init(&f);
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK_SCHED(&f, RULE_FIA_DUE, "lt1", "2025-10-05");
        simple(&f, EV_CASE_CLOSED, "2025-10-20");
        CHECK_INT(simple(&f, EV_CASE_REOPENED, "2025-12-01"), 0);
        CHECK_SCHED(&f, RULE_FIA_DUE, "lt1-r1", "2025-12-01");
        CHECK_SCHED(&f, RULE_FIA_OVERDUE, "lt1-r1", "2025-12-01");
        CHECK_INT(json_array_size(view_get(&f, "granted_months")), 10);
        CHECK_INT(decide(&f, "2025-12-05", "2025-12", OUTCOME_GRANTED, NULL, true), 0);
        CHECK(find(&f, ACT_SCHEDULE, RULE_FIA_DUE) == NULL);
        CHECK_INT(simple(&f, EV_FIA_STARTED, "2025-12-10"), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_FIA_DUE, "lt1-r1");
        fx_done(&f);
}

static void test_disabled_rule(void)
{
        fx_t f;

        fx_init(&f);
        f.cfg.rule[RULE_IB3_DUE].enabled = false;
        f.cfg.rule[RULE_FIA_OVERDUE].enabled = false;
        open_case(&f, "2025-01-02", "hk1", BARRIER_NONE, NULL);
        CHECK_INT(simple(&f, EV_IB1_COMPLETED, "2025-01-03"), 0);
        CHECK_NONE(&f);
        CHECK_INT(simple(&f, EV_IB3_COMPLETED, "2025-01-10"), 0);
        CHECK(find(&f, ACT_RESOLVE, RULE_IB3_DUE) == NULL);
        CHECK_SCHED(&f, RULE_IB4_DUE, "ib3-1", "2025-02-09");
        grant_months(&f, "2025-01", 10, OUTCOME_GRANTED);
        CHECK_SCHED(&f, RULE_FIA_DUE, "lt1", "2025-10-05");
        CHECK(find(&f, ACT_SCHEDULE, RULE_FIA_OVERDUE) == NULL);
        CHECK_INT(simple(&f, EV_FIA_STARTED, "2025-10-10"), 0);
        CHECK_ACT(&f, ACT_RESOLVE, RULE_FIA_DUE, "lt1");
        CHECK(find(&f, ACT_RESOLVE, RULE_FIA_OVERDUE) == NULL);
        /* Every rule off: a busy history schedules nothing at all. */
        fx_done(&f);
        fx_init(&f);
        for (int r = 0; r < RULE__COUNT; r++)
                f.cfg.rule[r].enabled = false;
        open_case(&f, "2025-01-02", "hk1", BARRIER_SICKNESS, "2015-01", NULL);
        actor(&f, EV_ACTOR_INVOLVED, "2025-01-03", ACTOR_AF);
        actor(&f, EV_ACTOR_INVOLVED, "2025-01-03", ACTOR_FK);
        simple(&f, EV_IB1_COMPLETED, "2025-01-03");
        for (int i = 0; i < 12; i++) {
                char m[16], d[16];
                snprintf(m, sizeof(m), "2025-%02d", i + 1);
                snprintf(d, sizeof(d), "2025-%02d-05", i + 1);
                decide(&f, d, m, i % 3 ? OUTCOME_GRANTED : OUTCOME_PARTIAL, "X", false);
                CHECK_INT(count(&f, ACT_SCHEDULE), 0);
        }
        assign(&f, "2025-12-10", "hk2");
        CHECK_INT(count(&f, ACT_SCHEDULE), 0);
        CHECK_INT(count(&f, ACT_REROUTE), 1);     /* moving reminders is not a rule */
        tick(&f, "2026-12-31");
        CHECK_NONE(&f);
        fx_done(&f);
}

/* ---- determinism and the store form ------------------------------------------------------- */

#define SCRIPT_MAX 96

/* A busy history that touches every track. */
static int build_script(event_t *s)
{
        fx_t f;
        int n = 0;
        event_t e;

        memset(&f, 0, sizeof(f));
#define ADD(x) (s[n++] = (x))
        e = ev(&f, EV_CASE_OPENED, "2025-01-02");
        e.data.has_caseworker = true;
        bk_strlcpy(e.data.caseworker, "hk1", sizeof(e.data.caseworker));
        e.data.has_household = true;
        e.data.household.adults = 1;
        e.data.household.n_children = 2;
        e.data.household.children[0] = M("2008-09");
        e.data.household.children[1] = M("2017-02");
        e.data.has_barrier = true;
        e.data.barrier = BARRIER_SICKNESS;
        ADD(e);
        ADD(ev(&f, EV_IB1_COMPLETED, "2025-01-03"));
        e = ev(&f, EV_IB3_COMPLETED, "2025-01-15");
        e.data.violence_disclosed = true;
        ADD(e);
        ADD(ev(&f, EV_IB4_ESTABLISHED, "2025-01-31"));
        e = ev(&f, EV_ACTOR_INVOLVED, "2025-02-01");
        e.data.actor = ACTOR_REGION;
        ADD(e);
        for (int i = 0; i < 14; i++) {
                char at[32];
                int y = 2025 + i / 12, m = i % 12 + 1;
                snprintf(at, sizeof(at), "%04d-%02d-05", y, m);
                e = ev(&f, EV_ASSISTANCE_DECIDED, at);
                e.data.has_month = true;
                e.data.month = cal_month_from_ym(y, m);
                e.data.outcome = i == 11 ? OUTCOME_REFUSED : i == 4 ? OUTCOME_PARTIAL : OUTCOME_GRANTED;
                e.data.has_decision = true;
                snprintf(e.data.decision, sizeof(e.data.decision), "D-%d", i);
                e.data.child_impact_documented = i == 4;
                ADD(e);
                if (i == 3)
                        ADD(ev(&f, EV_IB4_REVISED, "2025-04-20"));
                if (i == 10) {
                        e = ev(&f, EV_CASEWORKER_ASSIGNED, "2025-11-10");
                        e.data.has_caseworker = true;
                        bk_strlcpy(e.data.caseworker, "hk2", sizeof(e.data.caseworker));
                        ADD(e);
                }
        }
        ADD(ev(&f, EV_FIA_STARTED, "2026-02-10"));
        ADD(ev(&f, EV_CHILDREN_MAPPED, "2026-02-12"));
        ADD(ev(&f, EV_SIP_INITIATED, "2026-02-15"));
        e = ev(&f, EV_IB4_EXEMPTED, "2026-03-01");
        e.data.has_reason = true;
        bk_strlcpy(e.data.reason, "skäl", sizeof(e.data.reason));
        ADD(e);
        e = ev(&f, EV_CASEWORKER_ASSIGNED, "2026-03-10");
        e.data.has_caseworker = true;
        bk_strlcpy(e.data.caseworker, "hk3", sizeof(e.data.caseworker));
        ADD(e);
        ADD(ev(&f, EV_SIP_MEETING_HELD, "2026-03-20"));
        ADD(ev(&f, EV_SIP_ESTABLISHED, "2026-04-01"));
        ADD(ev(&f, EV_CASE_CLOSED, "2026-06-01"));
        ADD(ev(&f, EV_FIA_COMPLETED, "2026-06-15"));
        ADD(ev(&f, EV_CASE_REOPENED, "2026-09-01"));
        ADD(ev(&f, EV_WORK_CAPACITY_ASSESSED, "2026-09-05"));
        e = ev(&f, EV_SUMMER_ALLOWANCE_APPLIED, "2027-04-20");
        e.data.has_year = true;
        e.data.year = 2027;
        ADD(e);
        ADD(ev(&f, EV_SIP_FOLLOWED_UP, "2027-05-01"));
#undef ADD
        return n;
}

typedef struct run {
        rules_out_t out[SCRIPT_MAX + 1];
        char *json;
} run_t;

/* Applies script[from..n) to f, keeping every event's actions, then ticks to 2028-12-31. */
static void run_script(fx_t *f, const event_t *s, int from, int n, run_t *r)
{
        for (int i = from; i < n; i++) {
                CHECK_INT(rules_apply(&f->cfg, f->st, &s[i], &r->out[i]), 0);
                for (int k = 0; k < r->out[i].n; k++)
                        if (r->out[i].act[k].kind == ACT_SCHEDULE)
                                CHECK(why_valid(&r->out[i].act[k]));
        }
        CHECK_INT(rules_tick(&f->cfg, f->st, D("2028-12-31"), &r->out[SCRIPT_MAX]), 0);
        r->json = rules_state_to_json(f->st);
}

static bool same_out(const rules_out_t *a, const rules_out_t *b)
{
        return a->n == b->n && memcmp(a->act, b->act, (size_t)a->n * sizeof(a->act[0])) == 0;
}

static void test_determinism(void)
{
        static event_t script[SCRIPT_MAX];
        static run_t r1, r2, r3;
        int n = build_script(script), half = n / 2, total = 0;
        fx_t f1, f2, f3;
        case_state_t *copy = NULL;
        char *text;
        bool seen[RULE__COUNT] = { false };

        CHECK(n <= SCRIPT_MAX);
        memset(&r1, 0, sizeof(r1));
        memset(&r2, 0, sizeof(r2));
        memset(&r3, 0, sizeof(r3));
        fx_init(&f1);
        fx_init(&f2);
        run_script(&f1, script, 0, n, &r1);
        run_script(&f2, script, 0, n, &r2);
        for (int i = 0; i <= SCRIPT_MAX; i++) {
                CHECK(same_out(&r1.out[i], &r2.out[i]));
                total += r1.out[i].n;
                for (int k = 0; k < r1.out[i].n; k++)
                        if (r1.out[i].act[k].kind == ACT_SCHEDULE)
                                seen[r1.out[i].act[k].rule] = true;
        }
        CHECK(total > 30);
        CHECK(seen[RULE_FIA_DUE] && seen[RULE_CHILD_MAP] && seen[RULE_HANDOVER] && seen[RULE_SIP_MEETING]);
        CHECK(seen[RULE_CHILD_IMPACT] && seen[RULE_WORK_CAPACITY] && seen[RULE_SAFETY_FOLLOWUP]);
        CHECK(seen[RULE_CONTINUITY] && seen[RULE_SIP_CONSIDER] && seen[RULE_SIP_FOLLOWUP]);
        CHECK_STR(r1.json, r2.json);

        /* The store form round-trips exactly, mid-history and at the end. */
        CHECK_INT(rules_state_from_json(r1.json, &copy), 0);
        text = copy ? rules_state_to_json(copy) : NULL;
        CHECK_STR(text, r1.json);
        free(text);
        rules_state_free(&copy);

        /* Stopping half-way, storing, loading and going on gives the same actions and state. */
        fx_init(&f3);
        for (int i = 0; i < half; i++)
                CHECK_INT(rules_apply(&f3.cfg, f3.st, &script[i], &r3.out[i]), 0);
        text = rules_state_to_json(f3.st);
        rules_state_free(&f3.st);
        CHECK_INT(rules_state_from_json(text, &f3.st), 0);
        {
                char *again = f3.st ? rules_state_to_json(f3.st) : NULL;
                CHECK_STR(again, text);
                free(again);
        }
        free(text);
        if (f3.st) {
                run_script(&f3, script, half, n, &r3);
                for (int i = half; i <= SCRIPT_MAX; i++)
                        CHECK(same_out(&r1.out[i], &r3.out[i]));
                CHECK_STR(r3.json, r1.json);
        }

        /* Views of the replayed states agree too. */
        {
                json_t *v1 = rules_state_view(f1.st), *v2 = rules_state_view(f2.st);
                CHECK(json_equal(v1, v2));
                CHECK(json_is_string(json_object_get(v1, "case")));
                CHECK(json_is_array(json_object_get(v1, "granted_months")));
                CHECK(json_is_object(json_object_get(json_object_get(v1, "tracks"), "ib")));
                CHECK(json_is_string(json_object_get(json_object_get(json_object_get(v1, "tracks"),
                                                                     "sip"), "state")));
                json_decref(v1);
                json_decref(v2);
        }
        free(r1.json);
        free(r2.json);
        free(r3.json);
        fx_done(&f1);
        fx_done(&f2);
        fx_done(&f3);
}

static void test_store_form(void)
{
        case_state_t *st = NULL;
        fx_t f;
        char *a, *b;
        event_t e;

        CHECK_INT(rules_state_from_json("not json", &st), BK_E_INVALID);
        CHECK(st == NULL);
        CHECK_INT(rules_state_from_json("{\"v\":2}", &st), BK_E_INVALID);
        CHECK_INT(rules_state_from_json("{\"v\":1,\"case\":\"x\"}", &st), BK_E_INVALID);
        CHECK_INT(rules_state_from_json("[]", &st), BK_E_INVALID);

        /* A fresh state round-trips, and is not open. */
        fx_init(&f);
        CHECK(!rules_state_open(f.st));
        CHECK_INT(rules_next_wake(&f.cfg, f.st), INT32_MAX);
        a = rules_state_to_json(f.st);
        CHECK_INT(rules_state_from_json(a, &st), 0);
        b = st ? rules_state_to_json(st) : NULL;
        CHECK_STR(b, a);
        free(a);
        free(b);
        rules_state_free(&st);

        /* Free text with quotes and non-ASCII survives; a truncated UTF-8 sequence does not break it. */
        open_case(&f, "2026-01-05", "hk\"1", BARRIER_NONE, "2020-01", NULL);
        e = ev(&f, EV_IB4_EXEMPTED, "2026-01-06");
        e.data.has_reason = true;
        memset(e.data.reason, 'a', EV_REASON_MAX);
        memcpy(e.data.reason + EV_REASON_MAX - 1, "\xc3\xa5", 2);   /* 'å' cut in half */
        e.data.reason[EV_REASON_MAX + 1 - 1] = '\0';
        CHECK_INT(apply(&f, &e), 0);
        a = rules_state_to_json(f.st);
        CHECK(a != NULL);
        CHECK_INT(rules_state_from_json(a, &st), 0);
        b = st ? rules_state_to_json(st) : NULL;
        CHECK_STR(b, a);
        CHECK_STR(st ? rules_state_caseworker(st) : NULL, "hk\"1");
        CHECK_STR(st ? rules_state_case(st) : NULL, CASE_ID);
        free(a);
        free(b);
        rules_state_free(&st);
        rules_state_free(&st);      /* NULL is fine */
        rules_state_free(NULL);
        fx_done(&f);
}

/* The binary store form: the same state as the JSON form at every step of a rich history. */
static bool bin_round_trip(const case_state_t *st, size_t *bin_len, size_t *json_len)
{
        uint8_t buf[4096];
        size_t n = rules_state_encode(st, buf, sizeof(buf));
        case_state_t *copy = NULL;
        char *a = rules_state_to_json(st), *b = NULL;
        bool ok = n <= sizeof(buf) && rules_state_decode(buf, n, &copy) == 0 && copy &&
                  (b = rules_state_to_json(copy)) && a && strcmp(a, b) == 0;

        if (ok) {
                /* and the encoding of the copy is the same bytes */
                uint8_t again[4096];
                ok = rules_state_encode(copy, again, sizeof(again)) == n && memcmp(again, buf, n) == 0;
        }
        *bin_len = n;
        *json_len = a ? strlen(a) : 0;
        free(a);
        free(b);
        rules_state_free(&copy);
        return ok;
}

static void test_binary_form(void)
{
        static event_t script[SCRIPT_MAX];
        static rules_out_t out;
        int n = build_script(script), bad = 0;
        size_t bin = 0, json = 0, max_bin = 0, sum_bin = 0, sum_json = 0;
        uint8_t buf[4096], small[16];
        case_state_t *st = NULL;
        char *text;
        fx_t f;

        fx_init(&f);
        CHECK(bin_round_trip(f.st, &bin, &json));
        for (int i = 0; i < n; i++) {
                CHECK_INT(rules_apply(&f.cfg, f.st, &script[i], &out), 0);
                if (!bin_round_trip(f.st, &bin, &json))
                        bad++;
                sum_bin += bin;
                sum_json += json;
                max_bin = BK_MAX(max_bin, bin);
        }
        CHECK_INT(bad, 0);
        CHECK(rules_tick(&f.cfg, f.st, D("2028-12-31"), &out) == 0 && bin_round_trip(f.st, &bin, &json));
        /* Small enough for a case row without an overflow page, and far smaller than the JSON. */
        CHECK(max_bin < 1000);
        CHECK(sum_bin * 4 < sum_json);

        /* snprintf-like: a short buffer gets no byte past its end, and the length it needs. */
        n = (int)rules_state_encode(f.st, buf, sizeof(buf));
        memset(small, 0xEE, sizeof(small));
        CHECK_INT((int)rules_state_encode(f.st, small, 8), n);
        CHECK(small[8] == 0xEE && small[15] == 0xEE && memcmp(small, buf, 8) == 0);

        /* The JSON form of older stores reads through the same door. */
        text = rules_state_to_json(f.st);
        CHECK_INT(rules_state_decode(text, strlen(text), &st), 0);
        {
                char *again = st ? rules_state_to_json(st) : NULL;
                CHECK_STR(again, text);
                free(again);
        }
        rules_state_free(&st);
        free(text);

        /* Every prefix, and a trailing byte, is refused. */
        bad = 0;
        for (int k = 0; k < n; k++)
                if (rules_state_decode(buf, (size_t)k, &st) != BK_E_INVALID || st)
                        bad++;
        CHECK_INT(bad, 0);
        buf[n] = 0;
        CHECK_INT(rules_state_decode(buf, (size_t)n + 1, &st), BK_E_INVALID);
        CHECK_INT(rules_state_decode(NULL, 0, &st), BK_E_INVALID);
        CHECK_INT(rules_state_decode("x", 1, &st), BK_E_INVALID);

        /* Any byte changed: refused, or a state that is itself a fixed point of the codec (the
         * sanitizer build checks that no read goes out of bounds). */
        bad = 0;
        for (int k = 0; k < n; k++) {
                static const uint8_t flips[] = { 0x01, 0x40, 0x80, 0xFF };
                for (size_t j = 0; j < BK_ARRAY_SIZE(flips); j++) {
                        uint8_t mut[4096];
                        int r;
                        memcpy(mut, buf, (size_t)n);
                        mut[k] ^= flips[j];
                        r = rules_state_decode(mut, (size_t)n, &st);
                        if (r == 0) {
                                size_t b2, j2;
                                if (!st || !bin_round_trip(st, &b2, &j2))
                                        bad++;
                        } else if (r != BK_E_INVALID || st) {
                                bad++;
                        }
                        rules_state_free(&st);
                }
        }
        CHECK_INT(bad, 0);
        /* The version byte is checked. */
        buf[1] ^= 0x02;
        CHECK_INT(rules_state_decode(buf, (size_t)n, &st), BK_E_INVALID);
        fx_done(&f);
}

int main(void)
{
        test_names_and_text();
        test_reminder_id();
        test_ib_track();
        test_month_end_clamping();
        test_ib4_exemption();
        test_long_term_and_fia();
        test_long_term_episodes();
        test_children();
        test_summer_allowance();
        test_child_impact();
        test_sip();
        test_handover_continuity();
        test_work_capacity();
        test_close_reopen();
        test_disabled_rule();
        test_determinism();
        test_store_form();
        test_binary_form();
        json_decref(view_last);
        return tap_done();
}
