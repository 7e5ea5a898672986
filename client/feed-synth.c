/*
 * feed-synth.c owns `bevaka-feed synth`: it invents ekonomiskt bistånd case
 * histories, writes them as protocol.md §1 events (JSONL, one envelope a
 * line, without source and seq, which `publish` assigns) and summarises
 * them on stderr. The model is calibrated on the Stockholm inspectorate's
 * findings (domain.md §1): most households need assistance for a few
 * months, a quarter of those on assistance in a year have had it for 46 of
 * the last 48 months, plans are revised about once a year instead of every
 * 3-4 months, FIA and SIP are rare, the caseworker changes about once a
 * year. Every case alive during the history is in it from its first event,
 * so the history also holds the back history of the cases already open at
 * --start, which makes the first year look like any other. Output is a
 * function of the options alone: own PRNG (splitmix64), integer arithmetic
 * only, the calendar module for Europe/Stockholm, and a total order for the
 * sort, so a seed gives the same bytes on every machine. docs/synth.md
 * explains the model and its figures.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "calendar.h"
#include "event.h"
#include "feed-synth.h"
#include "log.h"
#include "util.h"

/* Arrivals this many years before --start still reach into the history. */
#define SYN_BACK_YEARS  15
#define SYN_MAX_UNITS   400
#define SYN_MAX_SPELLS  8
/* A child counts until its 18th-birthday month has passed. */
#define SYN_ADULT_MONTHS (18 * 12)
/* Default unit size: case starts a year per unit (about 12 caseworkers with 35-40 households each). */
#define SYN_STARTS_PER_UNIT 270

typedef struct rng {
        uint64_t s;
} rng_t;

typedef struct synth_opts {
        long long cases;
        int years;
        uint64_t seed;
        cal_month_t start;
        int units;                      /* 0 = from --cases and --years */
        const char *out;                /* NULL or "-" = stdout */
        bool quiet;
} synth_opts_t;

typedef struct syn_unit {
        char name[16];
        int first_cw;                   /* index into staff */
        int n_cw;
        int lead;                       /* index into staff */
} syn_unit_t;

typedef struct syn_case {
        int year, number;               /* EB-YYYY-NNNNNN */
        int unit;
        int adults;
        bool single_parent;
        int n_children;                 /* every child, later births included */
        cal_month_t children[EV_MAX_CHILDREN];
        uint8_t barrier;                /* at opening */
} syn_case_t;

/* One event before formatting: 24 bytes, so a Stockholm-sized history sorts in memory. */
typedef struct syn_ev {
        bk_time_t at;
        uint32_t c;                     /* case, in opening order */
        int32_t x;                      /* month, day, year, caseworker or children count; -1 = absent */
        uint16_t k;                     /* position within the case */
        uint8_t type;                   /* ev_type_t */
        uint8_t a;                      /* outcome, flag, reason, actor, update kind, children count */
        uint8_t b;                      /* barrier, documented */
} syn_ev_t;

typedef struct syn_arrival {
        cal_day_t day;
        uint32_t idx;                   /* seeds the case's own random stream */
} syn_arrival_t;

typedef struct syn_stats {
        uint64_t cases_new, cases_before, open_at_start, reopened;
        uint64_t types[EV__COUNT];
        uint64_t barrier[BARRIER_UNCLEAR + 1];
        uint64_t single_parent, couple_kids, turning_18;
        uint64_t months_in_window, changes_in_window, revisions_in_window;
        uint64_t long_term_cases, long_term_fia, sip_cases;
        uint64_t *hh, *months, *lt, *vlt, *persons;   /* per 12-month period */
        bk_time_t first_at;
} syn_stats_t;

typedef struct synth {
        synth_opts_t o;
        cal_cfg_t cal;
        cal_month_t start_m, end_m;     /* the history's months: [start_m, end_m) */
        bk_time_t start_t, end_t;
        syn_unit_t *units;
        int n_units;
        int *staff;                     /* hk numbers */
        int n_staff;
        syn_case_t *cases;
        size_t n_cases, cap_cases;
        syn_ev_t *ev;
        size_t n_ev, cap_ev;
        syn_stats_t st;
} synth_t;

/* Scratch for generating one case; reused from case to case. */
typedef struct gen {
        synth_t *s;
        rng_t rng;
        syn_case_t c;
        syn_ev_t *ev;                   /* this case's events, in generation order */
        size_t n, cap;
        uint8_t *mon;                   /* per month from mon0: 0 none, 1 granted or partial, 2 refused */
        size_t mon_n;
        cal_month_t mon0;
        bk_time_t open_at;              /* the current spell's events come after this */
        bk_time_t bound;                /* and before this */
        int cw;                         /* current caseworker (staff index) */
        uint8_t barrier;                /* current barrier */
        bool health;                    /* health.flagged sent */
        bool oom;
} gen_t;

/* A spell-length class: weight (bp) and a uniform range of months. */
typedef struct syn_mix {
        int bp, lo, hi;
} syn_mix_t;

/*
 * First spells. Calibrated (docs/synth.md) so that, in the steady state, a
 * household with assistance in a year has 7-8 months of it that year,
 * about half are long-term (10+ months of the year) and a quarter very
 * long-term (46+ of the last 48 months).
 */
static const syn_mix_t mix_first[] = {
        { 5200, 1, 4 }, { 2100, 5, 12 }, { 1000, 13, 45 }, { 1700, 46, 150 },
};
/* Returning households mostly need a shorter bridge. */
static const syn_mix_t mix_again[] = {
        { 6000, 1, 5 }, { 3000, 6, 15 }, { 800, 16, 45 }, { 200, 46, 100 },
};

/* Stockholm's stadsdelsförvaltningar, ASCII abbreviations; Hässelby-Vällingby first as in the docs. */
static const char *const districts[] = {
        "HV", "RK", "ST", "BR", "KH", "NM", "OM", "SM", "EAV", "SKP", "FA", "HA", "SKH",
};

static const char *const close_reasons[] = {
        "egen försörjning", "annan ersättning", "flyttat från stadsdelen", "ej hörts av",
};
static const char *const exempt_reasons[] = {
        "heltidssjukskriven", "föräldraledig", "pågående behandling",
};
static const char *const decline_reasons[] = {
        "den enskilde avböjer", "pågående utredning hos regionen",
};

/* ---- random numbers ------------------------------------------------------ */

/*
 * C leaves open the order in which a call's arguments (or the operands of +)
 * are evaluated, and gcc and clang differ. So no expression in this file
 * draws twice: each draw is its own statement, or sequenced by ?:, && or ||.
 */

/* splitmix64: tiny, fast, and specified to the bit. */
static uint64_t rng_next(rng_t *r)
{
        uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed, uint64_t stream)
{
        r->s = seed;
        r->s = rng_next(r) ^ (stream * 0xd1b54a32d192ed03ULL);
        rng_next(r);
}

/*
 * Probabilities are in basis points (1/10 000) and every draw is an integer,
 * so no floating point, whose rounding may differ between machines (x87,
 * fused multiply-add), decides anything that is written.
 *
 * Uniform in [0, n) by multiply-shift: no modulo bias worth the name.
 */
static uint32_t rng_below(rng_t *r, uint32_t n)
{
        return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static int rng_range(rng_t *r, int lo, int hi)
{
        return lo + (int)rng_below(r, (uint32_t)(hi - lo + 1));
}

static bool rng_chance(rng_t *r, int bp)
{
        return (int)rng_below(r, 10000) < bp;
}

static int rng_mix(rng_t *r, const syn_mix_t *mix, size_t n)
{
        int u = (int)rng_below(r, 10000), acc = 0;

        for (size_t i = 0; i < n; i++) {
                acc += mix[i].bp;
                if (u < acc)
                        return rng_range(r, mix[i].lo, mix[i].hi);
        }
        return rng_range(r, mix[n - 1].lo, mix[n - 1].hi);
}

/* ---- time ---------------------------------------------------------------- */

static cal_day_t month_first(cal_month_t m)
{
        int y, mo;

        cal_ym(m, &y, &mo);
        return cal_day_from_ymd(y, mo, 1);
}

static cal_day_t synth_workday(const synth_t *s, cal_day_t d)
{
        while (cal_is_non_working(&s->cal, d))
                d++;
        return d;
}

/* Caseworkers record things in office hours: a random minute of the first working day from d. */
static bk_time_t synth_time_on(const synth_t *s, rng_t *r, cal_day_t d)
{
        d = synth_workday(s, d);
        return cal_local_to_utc(d, rng_range(r, s->cal.office_start_min, s->cal.office_end_min - 1));
}

/* dmin..dmax days after ref, strictly later than ref (what follows must not precede its cause). */
static bk_time_t synth_after(const synth_t *s, rng_t *r, bk_time_t ref, int dmin, int dmax)
{
        cal_day_t rd = cal_local_day(ref);
        bk_time_t t = synth_time_on(s, r, rd + rng_range(r, dmin, dmax));

        if (t > ref)
                return t;
        t = ref + 60 * rng_range(r, 5, 90);
        if (cal_local_day(t) == rd && cal_local_minute(t) < s->cal.office_end_min)
                return t;
        return synth_time_on(s, r, rd + 1);
}

static bk_time_t synth_in_month(const synth_t *s, rng_t *r, cal_month_t m, int dmin, int dmax)
{
        return synth_time_on(s, r, month_first(m) + rng_range(r, dmin, dmax));
}

/* ---- options ------------------------------------------------------------- */

static void synth_usage(FILE *out)
{
        fputs("Usage:\n"
              "  bevaka-feed synth --cases N --years Y --seed S [options]\n"
              "\n"
              "Writes a synthetic case history (protocol §1 events, JSONL) that `bevaka-feed publish`\n"
              "can publish, and a summary on stderr. Same options, same bytes.\n"
              "\n"
              "  --cases N          cases started during the history (about 14 000 over 5 years\n"
              "                     for a city of 1 million, see docs/synth.md)\n"
              "  --years Y          length of the history in years\n"
              "  --seed S           seed (an unsigned 64-bit integer)\n"
              "  --start YYYY-MM    first month (default 2021-01)\n"
              "  --unit-count U     units (default: one per 270 case starts a year)\n"
              "  -o, --output FILE  write there instead of stdout\n"
              "  -q, --quiet        no summary\n"
              "  -h, --help\n",
              out);
}

static int synth_parse_ll(const char *opt, const char *s, long long min, long long max, long long *out)
{
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max) {
                fprintf(stderr, "bevaka-feed synth: %s: expected an integer in [%lld, %lld], got \"%s\"\n",
                        opt, min, max, s);
                return -EINVAL;
        }
        *out = v;
        return 0;
}

enum { OPT_CASES = 256, OPT_YEARS, OPT_SEED, OPT_START, OPT_UNITS };

/* 0, 2 for a usage error, -1 for --help. */
static int synth_opts_parse(synth_opts_t *o, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "cases", required_argument, NULL, OPT_CASES },
                { "years", required_argument, NULL, OPT_YEARS },
                { "seed", required_argument, NULL, OPT_SEED },
                { "start", required_argument, NULL, OPT_START },
                { "unit-count", required_argument, NULL, OPT_UNITS },
                { "output", required_argument, NULL, 'o' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        bool have_seed = false;
        long long v;
        int c;

        *o = (synth_opts_t){ .start = cal_month_from_ym(2021, 1) };
        optind = 1;
        while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_CASES:
                        if (synth_parse_ll("--cases", optarg, 1, 10000000, &v) < 0)
                                return 2;
                        o->cases = v;
                        break;
                case OPT_YEARS:
                        if (synth_parse_ll("--years", optarg, 1, 30, &v) < 0)
                                return 2;
                        o->years = (int)v;
                        break;
                case OPT_SEED: {
                        char *end;
                        errno = 0;
                        o->seed = strtoull(optarg, &end, 10);
                        if (errno || end == optarg || *end || *optarg == '-') {
                                fprintf(stderr, "bevaka-feed synth: --seed: expected an unsigned integer, "
                                        "got \"%s\"\n", optarg);
                                return 2;
                        }
                        have_seed = true;
                        break;
                }
                case OPT_START: {
                        int y, m;
                        if (cal_parse_month(optarg, &o->start) < 0) {
                                fprintf(stderr, "bevaka-feed synth: --start: expected YYYY-MM, got \"%s\"\n",
                                        optarg);
                                return 2;
                        }
                        cal_ym(o->start, &y, &m);
                        /* The back history reaches 15 years earlier; event years stay in 2000..2100. */
                        if (y < 2016 || y > 2060) {
                                fprintf(stderr, "bevaka-feed synth: --start: year must be in 2016..2060\n");
                                return 2;
                        }
                        break;
                }
                case OPT_UNITS:
                        if (synth_parse_ll("--unit-count", optarg, 1, SYN_MAX_UNITS, &v) < 0)
                                return 2;
                        o->units = (int)v;
                        break;
                case 'o': o->out = optarg; break;
                case 'q': o->quiet = true; break;
                case 'h': synth_usage(stdout); return -1;
                default: synth_usage(stderr); return 2;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "bevaka-feed synth: unexpected argument \"%s\"\n", argv[optind]);
                return 2;
        }
        if (!o->cases || !o->years || !have_seed) {
                fprintf(stderr, "bevaka-feed synth: --cases, --years and --seed are required\n");
                synth_usage(stderr);
                return 2;
        }
        /* Case numbers have six digits per opening year. */
        if (o->cases / o->years > 900000) {
                fprintf(stderr, "bevaka-feed synth: at most 900000 cases a year\n");
                return 2;
        }
        return 0;
}

/* ---- units and staff ----------------------------------------------------- */

static int synth_staff(synth_t *s)
{
        bool used[10000] = { false };
        rng_t r;
        int cap;

        rng_seed(&r, s->o.seed, 1);
        s->n_units = s->o.units;
        if (!s->n_units) {
                long long per_year = s->o.cases / s->o.years;
                s->n_units = (int)BK_MAX(1, BK_MIN(SYN_MAX_UNITS, (per_year + SYN_STARTS_PER_UNIT / 2) /
                                                                      SYN_STARTS_PER_UNIT));
        }
        cap = s->n_units * 16;
        s->units = calloc((size_t)s->n_units, sizeof(*s->units));
        s->staff = calloc((size_t)cap, sizeof(*s->staff));
        if (!s->units || !s->staff)
                return -ENOMEM;
        for (int u = 0; u < s->n_units; u++) {
                syn_unit_t *un = &s->units[u];
                int n = (int)BK_ARRAY_SIZE(districts);

                snprintf(un->name, sizeof(un->name), "%s-EB-%d", districts[u % n], u / n + 1);
                un->first_cw = s->n_staff;
                un->n_cw = rng_range(&r, 8, 15);
                /* One more for the unit lead, who assigns caseworkers. */
                for (int k = 0; k <= un->n_cw; k++) {
                        int hk;
                        do
                                hk = rng_range(&r, 1000, 9999);
                        while (used[hk]);
                        used[hk] = true;
                        s->staff[s->n_staff++] = hk;
                }
                un->lead = s->n_staff - 1;
        }
        return 0;
}

static int unit_pick_cw(const synth_t *s, rng_t *r, int unit, int except)
{
        const syn_unit_t *un = &s->units[unit];
        int j;

        if (except < 0)
                return un->first_cw + (int)rng_below(r, (uint32_t)un->n_cw);
        j = (int)rng_below(r, (uint32_t)un->n_cw - 1);
        if (un->first_cw + j >= except)
                j++;
        return un->first_cw + j;
}

/* ---- one case ------------------------------------------------------------- */

static bool gen_push(gen_t *g, int type, bk_time_t at, int a, int b, int32_t x)
{
        if (g->n == g->cap) {
                size_t cap = g->cap ? 2 * g->cap : 256;
                syn_ev_t *ev = realloc(g->ev, cap * sizeof(*ev));
                if (!ev) {
                        g->oom = true;
                        return false;
                }
                g->ev = ev;
                g->cap = cap;
        }
        g->ev[g->n++] = (syn_ev_t){ .at = at, .type = (uint8_t)type, .a = (uint8_t)a, .b = (uint8_t)b, .x = x };
        return true;
}

/* Events after the spell's end or the history's end never happened. */
static bool gen_emit(gen_t *g, int type, bk_time_t at, int a, int b, int32_t x)
{
        if (at >= g->bound || at >= g->s->end_t)
                return false;
        return gen_push(g, type, at, a, b, x);
}

/* A moment in month m of the current spell, after its opening. */
static bk_time_t gen_in_month(gen_t *g, cal_month_t m, int dmin, int dmax)
{
        bk_time_t t = synth_in_month(g->s, &g->rng, m, dmin, dmax);

        return t > g->open_at ? t : synth_after(g->s, &g->rng, g->open_at, 1, 5);
}

static int gen_children_at(const gen_t *g, cal_month_t m)
{
        int n = 0;

        for (int i = 0; i < g->c.n_children; i++)
                if (g->c.children[i] <= m && m <= g->c.children[i] + SYN_ADULT_MONTHS)
                        n++;
        return n;
}

static int gen_children_born_by(const gen_t *g, cal_month_t m)
{
        int n = 0;

        for (int i = 0; i < g->c.n_children; i++)
                if (g->c.children[i] <= m)
                        n++;
        return n;
}

static uint8_t *gen_mon(gen_t *g, cal_month_t m)
{
        if (m < g->mon0 || (size_t)(m - g->mon0) >= g->mon_n)
                return NULL;
        return &g->mon[m - g->mon0];
}

static int gen_granted_between(gen_t *g, cal_month_t from, cal_month_t to)
{
        int n = 0;

        for (cal_month_t m = from; m <= to; m++) {
                uint8_t *p = gen_mon(g, m);
                n += p && *p == 1;
        }
        return n;
}

static void gen_household(gen_t *g, cal_month_t m_open)
{
        rng_t *r = &g->rng;
        int u = (int)rng_below(r, 10000), kids = 0;

        g->c.n_children = 0;
        g->c.single_parent = false;
        if (u < 3300) {                 /* "about a third single parents with children" */
                static const syn_mix_t k[] = { { 4500, 1, 1 }, { 3500, 2, 2 }, { 1500, 3, 3 }, { 500, 4, 4 } };
                g->c.adults = 1;
                g->c.single_parent = true;
                kids = rng_mix(r, k, BK_ARRAY_SIZE(k));
        } else if (u < 4500) {
                static const syn_mix_t k[] = { { 3500, 1, 1 }, { 4000, 2, 2 }, { 1800, 3, 3 }, { 700, 4, 5 } };
                g->c.adults = 2;
                kids = rng_mix(r, k, BK_ARRAY_SIZE(k));
        } else {
                g->c.adults = u < 9000 ? 1 : 2;
        }
        /* Birth months only; some children turn 18 during the history, with no event. */
        for (int i = 0; i < kids; i++)
                g->c.children[g->c.n_children++] = m_open - rng_range(r, 0, SYN_ADULT_MONTHS - 1);
}

static uint8_t gen_barrier(rng_t *r)
{
        int u = (int)rng_below(r, 10000);

        if (u < 4700)
                return BARRIER_UNEMPLOYMENT;
        if (u < 7000)
                return BARRIER_SICKNESS;
        if (u < 9100)
                return BARRIER_SOCIAL_MEDICAL;
        return u < 9600 ? BARRIER_OTHER : BARRIER_UNCLEAR;
}

/* Births and barrier changes; early in a month that is not the spell's last, so before the close. */
static void gen_updates(gen_t *g, cal_month_t m0, int len)
{
        rng_t *r = &g->rng;

        for (int i = 1; i < len - 1; i++) {
                cal_month_t m = m0 + i;
                /* About 2% a year in families and couples. */
                if ((g->c.adults == 2 || g->c.n_children) && g->c.n_children < EV_MAX_CHILDREN &&
                    rng_chance(r, 17)) {
                        bk_time_t t = gen_in_month(g, m, 0, 14);
                        if (t < g->s->end_t) {
                                g->c.children[g->c.n_children++] = m;
                                gen_emit(g, EV_CASE_UPDATED, t, 1, 0, g->c.n_children);
                        }
                }
                /* About 3% a year: a new assessment of what keeps the household from work. */
                if (rng_chance(r, 25)) {
                        uint8_t b;
                        do
                                b = gen_barrier(r);
                        while (b == g->barrier);
                        if (gen_emit(g, EV_CASE_UPDATED, gen_in_month(g, m, 0, 14), 2, b, -1))
                                g->barrier = b;
                }
        }
}

/* Monthly decisions; returns the last decision's time. */
static bk_time_t gen_decisions(gen_t *g, bk_time_t open_at, cal_month_t m0, int len, bool end_refused)
{
        synth_t *s = g->s;
        rng_t *r = &g->rng;
        bk_time_t t = open_at;

        for (int i = 0; i < len + end_refused; i++) {
                cal_month_t m = m0 + i;
                bk_time_t td;
                int outcome, u;
                bool documented;

                /* The application for a month is decided around its turn. */
                if (i == 0)
                        td = synth_after(s, r, open_at, 2, 15);
                else
                        td = synth_time_on(s, r, month_first(m) - 10 + rng_range(r, 0, 17));
                if (td <= t)
                        td = synth_after(s, r, t, 1, 3);
                if (td >= s->end_t)
                        break;
                u = (int)rng_below(r, 10000);
                if (i == len || u < 200)
                        outcome = OUTCOME_REFUSED;
                else
                        outcome = u < 900 ? OUTCOME_PARTIAL : OUTCOME_GRANTED;
                /* The child-impact analysis is mostly written, but not always when it matters. */
                documented = outcome == OUTCOME_GRANTED || !gen_children_at(g, m) || rng_chance(r, 7000);
                if (gen_emit(g, EV_ASSISTANCE_DECIDED, td, outcome, documented, m)) {
                        uint8_t *p = gen_mon(g, m);
                        if (p)
                                *p = outcome == OUTCOME_REFUSED ? 2 : 1;
                }
                t = td;
        }
        return t;
}

/* IB1 to IB4: intake, Jobbtorg, first visit, the change plan and its (rare) revisions. */
static void gen_ib(gen_t *g, bk_time_t open_at, bool first)
{
        synth_t *s = g->s;
        rng_t *r = &g->rng;
        bk_time_t ib1, ib3, plan;
        int u, d;

        if (!first && !rng_chance(r, 8000))
                return;
        ib1 = synth_after(s, r, open_at, 0, 3);
        if (!gen_emit(g, EV_IB1_COMPLETED, ib1, 0, 0, -1))
                return;
        if (rng_chance(r, g->barrier == BARRIER_UNEMPLOYMENT ? 6500 : 2000))
                gen_emit(g, EV_IB2_COMPLETED, synth_after(s, r, ib1, 5, 25), 0, 0, -1);
        if (!rng_chance(r, 9000))
                return;
        /* Nybesök "within 14 days" is often not kept: 2-4 weeks, sometimes later. */
        u = (int)rng_below(r, 10000);
        d = u < 4000 ? rng_range(r, 3, 14) : u < 8500 ? rng_range(r, 15, 28) : rng_range(r, 29, 60);
        ib3 = synth_after(s, r, ib1, d, d);
        {
                bool violence = rng_chance(r, 300);
                if (!gen_emit(g, EV_IB3_COMPLETED, ib3, violence, 0, -1))
                        return;
                if (violence && rng_chance(r, 7000))
                        gen_emit(g, EV_SAFETY_FOLLOWED_UP, synth_after(s, r, ib3, 5, 45), 0, 0, -1);
        }
        /* Children are mapped at intake; the follow-up is what goes missing. */
        if (gen_children_at(g, cal_month_of(cal_local_day(ib3))) && rng_chance(r, 6500)) {
                bk_time_t t = synth_after(s, r, ib3, 0, 14);
                gen_emit(g, EV_CHILDREN_MAPPED, t, rng_chance(r, 2000), 0, -1);
        }

        u = (int)rng_below(r, 10000);
        if (u < 600) {
                bk_time_t ex = synth_after(s, r, ib3, 5, 30);
                cal_day_t until = cal_add_months(cal_local_day(ex), rng_range(r, 3, 6));
                bool given = rng_chance(r, 7000);
                if (!given)
                        until = cal_add_months(cal_local_day(ex), 6);
                if (!gen_emit(g, EV_IB4_EXEMPTED, ex, (int)rng_below(r, BK_ARRAY_SIZE(exempt_reasons)), 0,
                              given ? until : -1))
                        return;
                if (!rng_chance(r, 7000))
                        return;
                plan = synth_time_on(s, r, until + rng_range(r, 0, 30));
        } else if (u < 600 + 8600) {
                plan = rng_chance(r, 6000) ? synth_after(s, r, ib3, 5, 30) : synth_after(s, r, ib3, 31, 75);
        } else {
                return;
        }
        {
                cal_day_t pd = cal_local_day(plan);
                if (!gen_emit(g, EV_IB4_ESTABLISHED, plan, 0, 0, rng_chance(r, 2500) ? cal_add_months(pd, 3) : -1))
                        return;
        }
        /* The finding: revised about once a year, not every 3-4 months; a few keep the pace. */
        {
                bool diligent = rng_chance(r, 1500);
                for (;;) {
                        plan = diligent ? synth_after(s, r, plan, 85, 140) : synth_after(s, r, plan, 240, 480);
                        if (!gen_emit(g, EV_IB4_REVISED, plan, 0, 0,
                                      rng_chance(r, 2500) ? cal_add_months(cal_local_day(plan), 3) : -1))
                                break;
                }
        }
}

/* Everything but decisions and intake, month by month of a spell of len months from m0. */
static void gen_tracks(gen_t *g, cal_month_t m0, int len)
{
        synth_t *s = g->s;
        rng_t *r = &g->rng;
        bool inv[5] = { false };
        int b = g->barrier;

        /* A caseworker change about once a year. */
        for (int i = 1; i < len; i++) {
                if (rng_chance(r, 833)) {
                        int cw = unit_pick_cw(s, r, g->c.unit, g->cw);
                        if (gen_emit(g, EV_CASEWORKER_ASSIGNED, gen_in_month(g, m0 + i, 0, 27), 0, 0, cw))
                                g->cw = cw;
                }
        }
        /* Other authorities, for some of the households that stay. */
        if (len >= 4) {
                static const int bp[6][4] = {
                        /* none, af, fk, region */
                        [BARRIER_UNEMPLOYMENT] = { 0, 5500, 300, 500 },
                        [BARRIER_SICKNESS] = { 0, 1000, 4000, 4500 },
                        [BARRIER_SOCIAL_MEDICAL] = { 0, 1000, 1500, 5000 },
                        [BARRIER_OTHER] = { 0, 1000, 300, 500 },
                        [BARRIER_UNCLEAR] = { 0, 1000, 300, 500 },
                };
                for (int a = ACTOR_AF; a <= ACTOR_REGION; a++) {
                        if (!rng_chance(r, bp[b][a]))
                                continue;
                        bk_time_t t = gen_in_month(g, m0 + rng_range(r, 1, BK_MIN(len - 1, 8)), 0, 27);
                        if (!gen_emit(g, EV_ACTOR_INVOLVED, t, a, 0, -1))
                                continue;
                        inv[a] = true;
                        if (rng_chance(r, 2500))
                                gen_emit(g, EV_ACTOR_ENDED, synth_after(s, r, t, 60, 365), a, 0, -1);
                }
        }
        if (!g->health && rng_chance(r, b == BARRIER_SICKNESS ? 3000 : b == BARRIER_SOCIAL_MEDICAL ? 2500 : 300))
                g->health = gen_emit(g, EV_HEALTH_FLAGGED,
                                     gen_in_month(g, m0 + rng_range(r, 0, len - 1), 0, 27), 0, 0, -1);
        if ((b == BARRIER_SICKNESS || g->health) && len >= 10 && rng_chance(r, 1200))
                gen_emit(g, EV_WORK_CAPACITY_ASSESSED,
                         gen_in_month(g, m0 + rng_range(r, 8, BK_MIN(len - 1, 20)), 0, 27), 0, 0, -1);
        /* FIA: guidelines say at ten months; the review found it almost never done. */
        if (len >= 10) {
                int u = (int)rng_below(r, 10000);
                if (u < 800) {
                        bk_time_t t = gen_in_month(g, m0 + rng_range(r, 10, BK_MIN(len - 1, 24)), 0, 27);
                        if (gen_emit(g, EV_FIA_STARTED, t, 0, 0, -1) && rng_chance(r, 7500))
                                gen_emit(g, EV_FIA_COMPLETED, synth_after(s, r, t, 20, 100), 0, 0, -1);
                } else if (u < 1100) {
                        bk_time_t t = gen_in_month(g, m0 + rng_range(r, 10, BK_MIN(len - 1, 12)), 0, 27);
                        gen_emit(g, EV_FIA_DECLINED, t, (int)rng_below(r, BK_ARRAY_SIZE(decline_reasons)), 0, -1);
                }
        }
        /* SIP: started in very few of the cases that would qualify. */
        if (len >= 12 && (inv[ACTOR_AF] + inv[ACTOR_FK] + inv[ACTOR_REGION] >= 2 ||
                          (b == BARRIER_SICKNESS && inv[ACTOR_REGION]))) {
                int u = (int)rng_below(r, 10000);
                if (u < 600) {
                        bk_time_t t = gen_in_month(g, m0 + rng_range(r, 12, BK_MIN(len - 1, 30)), 0, 27);
                        if (gen_emit(g, EV_SIP_INITIATED, t, 0, 0, -1) && rng_chance(r, 7500)) {
                                t = synth_after(s, r, t, 10, 40);
                                if (gen_emit(g, EV_SIP_MEETING_HELD, t, 0, 0, -1) && rng_chance(r, 6500)) {
                                        t = synth_after(s, r, t, 5, 30);
                                        bool fu = rng_chance(r, 5000);
                                        if (gen_emit(g, EV_SIP_ESTABLISHED, t, 0, 0,
                                                     fu ? cal_add_months(cal_local_day(t), 6) : -1)) {
                                                bk_time_t e = t;
                                                if (rng_chance(r, 3500))
                                                        gen_emit(g, EV_SIP_FOLLOWED_UP,
                                                                 synth_after(s, r, t, 150, 240), 0, 0, -1);
                                                if (rng_chance(r, 3000))
                                                        gen_emit(g, EV_SIP_ENDED, synth_after(s, r, e, 250, 540),
                                                                 0, 0, -1);
                                        }
                                }
                        }
                } else if (u < 900) {
                        bk_time_t t = gen_in_month(g, m0 + rng_range(r, 12, BK_MIN(len - 1, 14)), 0, 27);
                        gen_emit(g, EV_SIP_DECLINED, t, (int)rng_below(r, BK_ARRAY_SIZE(decline_reasons)), 0, -1);
                }
        }
        /* The children's situation is rarely mapped again later. */
        if (len >= 10 && rng_chance(r, 1200)) {
                cal_month_t m = m0 + rng_range(r, 10, BK_MIN(len - 1, 30));
                if (gen_children_at(g, m)) {
                        bk_time_t t = gen_in_month(g, m, 0, 27);
                        gen_emit(g, EV_CHILDREN_MAPPED, t, rng_chance(r, 4000), 0, -1);
                }
        }
        /* Sommarlovspeng: some families with 10 months of assistance apply in May. */
        for (int i = 0; i < len; i++) {
                cal_month_t m = m0 + i;
                int y, mo;
                cal_ym(m, &y, &mo);
                if (mo != 5 || !gen_children_at(g, m) || gen_granted_between(g, m - 12, m - 1) < 10)
                        continue;
                if (rng_chance(r, 5500))
                        gen_emit(g, EV_SUMMER_ALLOWANCE_APPLIED, gen_in_month(g, m, 1, 24), 0, 0, y);
        }
}

/* A spell of `len` months from open_at. Returns its close time, or 0 if it outlasts the history. */
static bk_time_t gen_spell(gen_t *g, bk_time_t open_at, int len, bool first)
{
        synth_t *s = g->s;
        rng_t *r = &g->rng;
        cal_month_t m0 = cal_month_of(cal_local_day(open_at));
        bool end_refused = rng_chance(r, 2500);
        size_t spell_start = g->n;
        bk_time_t last, close_at;

        g->bound = s->end_t;
        g->open_at = open_at;
        if (first) {
                gen_emit(g, EV_CASE_OPENED, open_at, gen_children_born_by(g, m0), g->barrier, g->cw);
        } else {
                int cw = -1;
                if (rng_chance(r, 5000))
                        cw = unit_pick_cw(s, r, g->c.unit, g->cw);
                if (!gen_emit(g, EV_CASE_REOPENED, open_at, 0, 0, cw))
                        return 0;
                if (cw >= 0)
                        g->cw = cw;
        }
        gen_updates(g, m0, len);
        last = gen_decisions(g, open_at, m0, len, end_refused);
        close_at = synth_after(s, r, last, 5, 25);
        if (close_at < s->end_t)
                g->bound = close_at;
        gen_ib(g, open_at, first);
        gen_tracks(g, m0, len);
        /* A missing child-impact analysis is written afterwards for some decisions. */
        for (size_t i = spell_start, n = g->n; i < n; i++) {
                syn_ev_t e = g->ev[i];
                if (e.type == EV_ASSISTANCE_DECIDED && !e.b && rng_chance(r, 4000))
                        gen_emit(g, EV_CHILD_IMPACT_DOCUMENTED, synth_after(s, r, e.at, 2, 30), 0, 0, e.x);
        }
        if (close_at >= s->end_t)
                return 0;
        /* Belt and braces: nothing of the spell may follow its close. */
        for (size_t i = spell_start, j = spell_start; i <= g->n; i++) {
                if (i == g->n) {
                        g->n = j;
                        break;
                }
                if (g->ev[i].at < close_at)
                        g->ev[j++] = g->ev[i];
        }
        gen_push(g, EV_CASE_CLOSED, close_at,
                 rng_chance(r, 8500) ? (int)rng_below(r, BK_ARRAY_SIZE(close_reasons)) : 255, 0, -1);
        return close_at;
}

static int ev_prio(int type)
{
        return type == EV_CASE_OPENED || type == EV_CASE_REOPENED ? 0 : type == EV_CASE_CLOSED ? 2 : 1;
}

/* Within a case: time, then opened before anything, closed after; then generation order (k). */
static int ev_cmp_case(const void *pa, const void *pb)
{
        const syn_ev_t *a = pa, *b = pb;

        if (a->at != b->at)
                return a->at < b->at ? -1 : 1;
        if (ev_prio(a->type) != ev_prio(b->type))
                return ev_prio(a->type) - ev_prio(b->type);
        return (int)a->k - (int)b->k;
}

/* The whole history: time, then case, then position in the case. A total order, so qsort is stable enough. */
static int ev_cmp_global(const void *pa, const void *pb)
{
        const syn_ev_t *a = pa, *b = pb;

        if (a->at != b->at)
                return a->at < b->at ? -1 : 1;
        if (a->c != b->c)
                return a->c < b->c ? -1 : 1;
        return (int)a->k - (int)b->k;
}

/* The per-year figures of docs/synth.md, from the months the events decided. */
static void synth_case_stats(synth_t *s, gen_t *g)
{
        syn_stats_t *st = &s->st;
        bool long_term = false, fia = false, sip = false, reopened = false, open = false;
        int run = 0;

        for (size_t i = 0; i < g->n; i++) {
                const syn_ev_t *e = &g->ev[i];
                st->types[e->type]++;
                if (e->at < s->start_t && (e->type == EV_CASE_OPENED || e->type == EV_CASE_REOPENED))
                        open = true;
                if (e->at < s->start_t && e->type == EV_CASE_CLOSED)
                        open = false;
                fia |= e->type == EV_FIA_STARTED;
                sip |= e->type == EV_SIP_INITIATED;
                reopened |= e->type == EV_CASE_REOPENED;
                if (e->at >= s->start_t) {
                        st->changes_in_window += e->type == EV_CASEWORKER_ASSIGNED;
                        st->revisions_in_window += e->type == EV_IB4_REVISED;
                }
        }
        st->reopened += reopened;
        st->open_at_start += open;
        st->sip_cases += sip;
        st->barrier[g->c.barrier]++;
        st->single_parent += g->c.single_parent && g->c.n_children;
        st->couple_kids += !g->c.single_parent && g->c.n_children;
        for (int i = 0; i < g->c.n_children; i++) {
                cal_month_t m18 = g->c.children[i] + SYN_ADULT_MONTHS;
                st->turning_18 += m18 >= s->start_m && m18 < s->end_m;
        }
        /* Long-term at some point: 10 granted months within 12 (domain.md §3). */
        for (size_t i = 0; i < g->mon_n; i++) {
                run += g->mon[i] == 1;
                if (i >= 12)
                        run -= g->mon[i - 12] == 1;
                if (run >= 10)
                        long_term = true;
        }
        st->long_term_cases += long_term;
        st->long_term_fia += long_term && fia;
        for (int y = 0; y < s->o.years; y++) {
                cal_month_t from = s->start_m + 12 * y, to = from + 11, last = -1;
                int n = 0, persons = g->c.adults;

                for (cal_month_t m = from; m <= to; m++) {
                        uint8_t *p = gen_mon(g, m);
                        if (p && *p == 1) {
                                n++;
                                last = m;
                        }
                }
                if (!n)
                        continue;
                st->hh[y]++;
                st->months[y] += n;
                st->months_in_window += n;
                st->lt[y] += n >= 10;
                st->vlt[y] += gen_granted_between(g, last - 47, last) >= 46;
                for (int i = 0; i < g->c.n_children; i++)
                        persons += g->c.children[i] <= to && g->c.children[i] + SYN_ADULT_MONTHS >= from;
                st->persons[y] += persons;
        }
}

/* Keeps the case if it reaches into the history: appends its events in order. */
static int synth_keep(synth_t *s, gen_t *g, cal_day_t open_day)
{
        bool reaches = false;
        uint32_t ci;

        for (size_t i = 0; i < g->n; i++)
                reaches |= g->ev[i].at >= s->start_t;
        if (!reaches || !g->n)
                return 0;
        if (g->n > UINT16_MAX)
                return -E2BIG;
        for (size_t i = 0; i < g->n; i++)
                g->ev[i].k = (uint16_t)i;
        qsort(g->ev, g->n, sizeof(*g->ev), ev_cmp_case);

        if (s->n_cases == s->cap_cases) {
                size_t cap = s->cap_cases ? 2 * s->cap_cases : 1024;
                syn_case_t *c = realloc(s->cases, cap * sizeof(*c));
                if (!c)
                        return -ENOMEM;
                s->cases = c;
                s->cap_cases = cap;
        }
        if (s->n_ev + g->n > s->cap_ev) {
                size_t cap = BK_MAX(s->cap_ev * 2, s->n_ev + g->n + 65536);
                syn_ev_t *ev = realloc(s->ev, cap * sizeof(*ev));
                if (!ev)
                        return -ENOMEM;
                s->ev = ev;
                s->cap_ev = cap;
        }
        ci = (uint32_t)s->n_cases;
        s->cases[s->n_cases++] = g->c;
        for (size_t i = 0; i < g->n; i++) {
                syn_ev_t e = g->ev[i];
                e.c = ci;
                e.k = (uint16_t)i;
                s->ev[s->n_ev++] = e;
        }
        if (open_day < cal_local_day(s->start_t))
                s->st.cases_before++;
        else
                s->st.cases_new++;
        if (!s->st.first_at || g->ev[0].at < s->st.first_at)
                s->st.first_at = g->ev[0].at;
        synth_case_stats(s, g);
        return 0;
}

static int arrival_cmp(const void *pa, const void *pb)
{
        const syn_arrival_t *a = pa, *b = pb;

        if (a->day != b->day)
                return a->day < b->day ? -1 : 1;
        return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/*
 * Arrivals: --cases new households spread evenly over the history, and as
 * many per year in the 15 years before it. Of the earlier ones only those
 * still on assistance at --start (or back later) are kept: they are the
 * stock a real case system has on the day bevaka starts.
 */
static int synth_generate(synth_t *s)
{
        cal_day_t start_day = month_first(s->start_m), end_day = month_first(s->end_m);
        cal_day_t back_day = month_first(s->start_m - 12 * SYN_BACK_YEARS);
        uint64_t n_back = (uint64_t)s->o.cases * SYN_BACK_YEARS / (uint64_t)s->o.years;
        uint64_t n_all = n_back + (uint64_t)s->o.cases;
        syn_arrival_t *arr = calloc(n_all, sizeof(*arr));
        gen_t g = { .s = s };
        int year = 0, number = 0, r = 0;
        rng_t ra;

        if (!arr)
                return -ENOMEM;
        rng_seed(&ra, s->o.seed, 2);
        for (uint64_t i = 0; i < n_all; i++) {
                bool back = i < n_back;
                cal_day_t lo = back ? back_day : start_day, hi = back ? start_day : end_day;
                cal_day_t d = synth_workday(s, lo + (cal_day_t)rng_below(&ra, (uint32_t)(hi - lo)));
                /* Stay on the right side of --start and of the end: exactly --cases start in the period. */
                while (d >= hi || cal_is_non_working(&s->cal, d))
                        d--;
                arr[i].day = d;
                arr[i].idx = (uint32_t)i;
        }
        qsort(arr, n_all, sizeof(*arr), arrival_cmp);

        for (uint64_t i = 0; i < n_all && r == 0; i++) {
                cal_day_t day = arr[i].day;
                cal_month_t m_open = cal_month_of(day);
                int y, mo, d, len;
                bk_time_t open_at;

                /* Case numbers count every case opened that year, kept or not. */
                cal_ymd(day, &y, &mo, &d);
                if (y != year) {
                        year = y;
                        number = 0;
                }
                number++;

                rng_seed(&g.rng, s->o.seed, 1000 + arr[i].idx);
                g.n = 0;
                g.health = false;
                g.c = (syn_case_t){ .year = y, .number = number };
                g.mon0 = m_open;
                g.mon_n = (size_t)(s->end_m - m_open + 2);
                {
                        uint8_t *mon = realloc(g.mon, g.mon_n);
                        if (!mon) {
                                r = -ENOMEM;
                                break;
                        }
                        g.mon = mon;
                        memset(g.mon, 0, g.mon_n);
                }
                gen_household(&g, m_open);
                g.barrier = g.c.barrier = gen_barrier(&g.rng);
                g.c.unit = (int)rng_below(&g.rng, (uint32_t)s->n_units);
                g.cw = unit_pick_cw(s, &g.rng, g.c.unit, -1);

                len = rng_mix(&g.rng, mix_first, BK_ARRAY_SIZE(mix_first));
                open_at = synth_time_on(s, &g.rng, day);
                for (int sp = 0; sp < SYN_MAX_SPELLS; sp++) {
                        bk_time_t close = gen_spell(&g, open_at, len, sp == 0);
                        cal_day_t next;
                        if (!close || !rng_chance(&g.rng, len < 16 ? 3000 : 1200))
                                break;
                        next = cal_add_months(cal_local_day(close), rng_range(&g.rng, 2, 24));
                        next += rng_range(&g.rng, 0, 27);
                        open_at = synth_time_on(s, &g.rng, next);
                        if (open_at >= s->end_t)
                                break;
                        len = rng_mix(&g.rng, mix_again, BK_ARRAY_SIZE(mix_again));
                }
                if (g.oom)
                        r = -ENOMEM;
                else
                        r = synth_keep(s, &g, day);
        }
        free(arr);
        free(g.ev);
        free(g.mon);
        if (r == 0)
                qsort(s->ev, s->n_ev, sizeof(*s->ev), ev_cmp_global);
        return r;
}

/* ---- output --------------------------------------------------------------- */

typedef struct line {
        char buf[2048];
        size_t len;
} line_t;

static void line_add(line_t *l, const char *fmt, ...) BK_PRINTF(2, 3);

/* Every string written is ours (ids, dates, fixed Swedish reasons): nothing needs escaping. */
static void line_add(line_t *l, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
        va_end(ap);
        if (n > 0)
                l->len = BK_MIN(l->len + (size_t)n, sizeof(l->buf) - 1);
}

static void line_household(line_t *l, const syn_case_t *c, int n_children)
{
        line_add(l, "\"household\":{\"adults\":%d,\"single_parent\":%s,\"children\":[", c->adults,
                 c->single_parent ? "true" : "false");
        for (int i = 0; i < n_children; i++) {
                char m[8];
                cal_format_month(c->children[i], m, sizeof(m));
                line_add(l, "%s\"%s\"", i ? "," : "", m);
        }
        line_add(l, "]}");
}

static void line_decision(line_t *l, const syn_case_t *c, cal_month_t m)
{
        int y, mo;

        cal_ym(m, &y, &mo);
        line_add(l, "\"decision\":\"B-%04d-%06d-%04d%02d\"", c->year, c->number, y, mo);
}

static void line_date(line_t *l, const char *key, int32_t day, bool comma)
{
        char d[11];

        if (day < 0)
                return;
        cal_format_date(day, d, sizeof(d));
        line_add(l, "%s\"%s\":\"%s\"", comma ? "," : "", key, d);
}

static void synth_format(const synth_t *s, const syn_ev_t *e, int actor, line_t *l)
{
        const syn_case_t *c = &s->cases[e->c];
        char at[32];

        l->len = 0;
        cal_format_rfc3339(e->at, at, sizeof(at));
        line_add(l, "{\"v\":1,\"id\":\"syn-%" PRIu64 "-%" PRIu32 "-%u\",\"type\":\"%s\",\"at\":\"%s\","
                    "\"case\":\"EB-%04d-%06d\",\"unit\":\"%s\"",
                 s->o.seed, e->c, (unsigned)e->k, event_type_name(e->type), at, c->year, c->number,
                 s->units[c->unit].name);
        if (actor >= 0)
                line_add(l, ",\"actor\":\"hk%04d\"", s->staff[actor]);
        line_add(l, ",\"data\":{");
        switch (e->type) {
        case EV_CASE_OPENED:
                line_add(l, "\"caseworker\":\"hk%04d\",", s->staff[e->x]);
                line_household(l, c, e->a);
                line_add(l, ",\"barrier\":\"%s\"", event_barrier_name(e->b));
                break;
        case EV_CASE_UPDATED:
                if (e->a == 1)
                        line_household(l, c, e->x);
                else
                        line_add(l, "\"barrier\":\"%s\"", event_barrier_name(e->b));
                break;
        case EV_CASE_CLOSED:
                if (e->a < BK_ARRAY_SIZE(close_reasons))
                        line_add(l, "\"reason\":\"%s\"", close_reasons[e->a]);
                break;
        case EV_CASE_REOPENED:
        case EV_CASEWORKER_ASSIGNED:
                if (e->x >= 0)
                        line_add(l, "\"caseworker\":\"hk%04d\"", s->staff[e->x]);
                break;
        case EV_ASSISTANCE_DECIDED: {
                char m[8];
                cal_format_month(e->x, m, sizeof(m));
                line_add(l, "\"month\":\"%s\",\"outcome\":\"%s\",", m, event_outcome_name(e->a));
                line_decision(l, c, e->x);
                line_add(l, ",\"child_impact_documented\":%s", e->b ? "true" : "false");
                break;
        }
        case EV_CHILD_IMPACT_DOCUMENTED:
                line_decision(l, c, e->x);
                break;
        case EV_IB3_COMPLETED:
                line_add(l, "\"violence_disclosed\":%s", e->a ? "true" : "false");
                break;
        case EV_IB4_ESTABLISHED:
        case EV_IB4_REVISED:
        case EV_SIP_ESTABLISHED:
                line_date(l, "follow_up_at", e->x, false);
                break;
        case EV_IB4_EXEMPTED:
                line_add(l, "\"reason\":\"%s\"", exempt_reasons[e->a]);
                line_date(l, "until", e->x, true);
                break;
        case EV_FIA_DECLINED:
        case EV_SIP_DECLINED:
                line_add(l, "\"reason\":\"%s\"", decline_reasons[e->a]);
                break;
        case EV_CHILDREN_MAPPED:
                line_add(l, "\"home_visit\":%s", e->a ? "true" : "false");
                break;
        case EV_SUMMER_ALLOWANCE_APPLIED:
                line_add(l, "\"year\":%d", e->x);
                break;
        case EV_ACTOR_INVOLVED:
        case EV_ACTOR_ENDED:
                line_add(l, "\"actor\":\"%s\"", event_actor_name(e->a));
                break;
        default:
                break;
        }
        line_add(l, "}}\n");
}

static int synth_write(const synth_t *s)
{
        bool to_stdout = !s->o.out || strcmp(s->o.out, "-") == 0;
        FILE *f = to_stdout ? stdout : fopen(s->o.out, "w");
        int *cw = NULL, r = 0;
        line_t l;

        if (!f) {
                log_errno(LOG_ERR, errno, "%s", s->o.out);
                return -EIO;
        }
        /* Who is acting: the case's caseworker at that moment, followed through the history. */
        cw = malloc(s->n_cases * sizeof(*cw) + 1);
        if (!cw) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < s->n_cases; i++)
                cw[i] = -1;
        setvbuf(f, NULL, _IOFBF, 1 << 20);
        for (size_t i = 0; i < s->n_ev; i++) {
                const syn_ev_t *e = &s->ev[i];
                int actor;

                if ((e->type == EV_CASE_OPENED || e->type == EV_CASE_REOPENED) && e->x >= 0)
                        cw[e->c] = e->x;
                actor = cw[e->c];
                /* IB2 is Jobbtorg's record; a unit lead assigns caseworkers. */
                if (e->type == EV_IB2_COMPLETED)
                        actor = -1;
                if (e->type == EV_CASEWORKER_ASSIGNED) {
                        actor = s->units[s->cases[e->c].unit].lead;
                        cw[e->c] = e->x;
                }
                synth_format(s, e, actor, &l);
                if (fwrite(l.buf, 1, l.len, f) != l.len) {
                        r = -EIO;
                        break;
                }
        }
out:
        free(cw);
        if (fflush(f) != 0 || ferror(f))
                r = -EIO;
        if (!to_stdout && fclose(f) != 0)
                r = -EIO;
        if (r == -EIO)
                log_errno(LOG_ERR, errno, "writing %s", to_stdout ? "stdout" : s->o.out);
        return r;
}

/* ---- summary -------------------------------------------------------------- */

/* Floating point only for the summary, never for the history. */
static double pct(uint64_t a, uint64_t b)
{
        return b ? 100.0 * (double)a / (double)b : 0.0;
}

static void synth_summary(const synth_t *s)
{
        const syn_stats_t *st = &s->st;
        uint64_t hh = 0, months = 0, lt = 0, vlt = 0, persons = 0, cases = st->cases_new + st->cases_before;
        int Y = s->o.years;
        char from[8], to[8], first[32];

        for (int y = 0; y < Y; y++) {
                hh += st->hh[y];
                months += st->months[y];
                lt += st->lt[y];
                vlt += st->vlt[y];
                persons += st->persons[y];
        }
        cal_format_month(s->start_m, from, sizeof(from));
        cal_format_month(s->end_m - 1, to, sizeof(to));
        cal_format_rfc3339(st->first_at, first, sizeof(first));
        first[10] = '\0';
        log_info("synth: %s..%s, seed %" PRIu64 ": %" PRIu64 " cases, %zu events, %d units, %d caseworkers",
                 from, to, s->o.seed, cases, s->n_ev, s->n_units, s->n_staff - s->n_units);
        log_info("synth: %" PRIu64 " cases started in the period; %" PRIu64 " earlier ones are in it with their "
                 "history from %s: %" PRIu64 " open at its start, %" PRIu64 " reopened later",
                 st->cases_new, st->cases_before, first, st->open_at_start, st->cases_before - st->open_at_start);
        log_info("synth: a year (mean of %d): %.0f households with assistance, %.0f persons "
                 "(1.8%% of a population of %.0f)",
                 Y, (double)hh / Y, (double)persons / Y, (double)persons / Y / 0.018);
        log_info("synth: of them: %.1f months of assistance per household and year, long-term "
                 "(10+ months of the year) %.1f%%, very long-term (46+ of the last 48 months) %.1f%%",
                 hh ? (double)months / (double)hh : 0.0, pct(lt, hh), pct(vlt, hh));
        log_info("synth: cases: single parents with children %.1f%%, other families with children %.1f%%; "
                 "barriers: unemployment %.1f%%, sickness %.1f%%, social_medical %.1f%%, other %.1f%%, "
                 "unclear %.1f%%; %" PRIu64 " children turn 18 during the period",
                 pct(st->single_parent, cases), pct(st->couple_kids, cases),
                 pct(st->barrier[BARRIER_UNEMPLOYMENT], cases), pct(st->barrier[BARRIER_SICKNESS], cases),
                 pct(st->barrier[BARRIER_SOCIAL_MEDICAL], cases), pct(st->barrier[BARRIER_OTHER], cases),
                 pct(st->barrier[BARRIER_UNCLEAR], cases), st->turning_18);
        log_info("synth: per case-year of assistance in the period: %.2f caseworker changes, %.2f plan "
                 "revisions; ever long-term %.1f%% of cases, FIA started in %.1f%% of those; SIP in %.2f%% "
                 "of cases; reopened %.1f%%",
                 st->months_in_window ? 12.0 * (double)st->changes_in_window / (double)st->months_in_window : 0.0,
                 st->months_in_window ? 12.0 * (double)st->revisions_in_window / (double)st->months_in_window : 0.0,
                 pct(st->long_term_cases, cases), pct(st->long_term_fia, st->long_term_cases),
                 pct(st->sip_cases, cases), pct(st->reopened, cases));
}

/* ---- entry ---------------------------------------------------------------- */

static void synth_free(synth_t *s)
{
        free(s->units);
        free(s->staff);
        free(s->cases);
        free(s->ev);
        free(s->st.hh);
        free(s->st.months);
        free(s->st.lt);
        free(s->st.vlt);
        free(s->st.persons);
}

int synth_main(int argc, char **argv)
{
        synth_t s = { 0 };
        int r;

        r = synth_opts_parse(&s.o, argc, argv);
        if (r != 0)
                return r < 0 ? 0 : r;
        log_init("bevaka-feed", s.o.quiet ? LOG_WARNING : LOG_INFO, false);
        cal_cfg_default(&s.cal);
        s.start_m = s.o.start;
        s.end_m = s.o.start + 12 * s.o.years;
        s.start_t = cal_local_to_utc(month_first(s.start_m), 0);
        s.end_t = cal_local_to_utc(month_first(s.end_m), 0);
        s.st.hh = calloc((size_t)s.o.years, sizeof(uint64_t));
        s.st.months = calloc((size_t)s.o.years, sizeof(uint64_t));
        s.st.lt = calloc((size_t)s.o.years, sizeof(uint64_t));
        s.st.vlt = calloc((size_t)s.o.years, sizeof(uint64_t));
        s.st.persons = calloc((size_t)s.o.years, sizeof(uint64_t));
        if (!s.st.hh || !s.st.months || !s.st.lt || !s.st.vlt || !s.st.persons)
                r = -ENOMEM;
        if (r == 0)
                r = synth_staff(&s);
        if (r == 0)
                r = synth_generate(&s);
        if (r == 0)
                r = synth_write(&s);
        if (r == 0)
                synth_summary(&s);
        else if (r != -EIO)
                log_errx("synth: %s", strerror(-r));
        synth_free(&s);
        return r == 0 ? 0 : 1;
}
