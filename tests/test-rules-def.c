/*
 * test-rules-def.c checks rule_def[] (daemon/rules-def.c), the one
 * definition of every rule, against the tables in docs/rules.md §5 (track,
 * severity, recipients, offset key and default, sensitive; and under
 * "Delivery": supersedes, catch_up_days, late, leads), against itself
 * (ids, config names, texts, the configuration defaults) and against the
 * transition table: every row names only rules of its own track, and every
 * rule is armed by some row of its track.
 */
#include <stdio.h>
#include <stdlib.h>
#include "rules-state.h"
#include "tap.h"

static const char *const sev_names[] = { "info", "due", "overdue" };

static char *trim(char *s)
{
        char *e;

        while (*s == ' ')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\n'))
                *--e = '\0';
        return s;
}

/* Splits "| a | b | … |" into at most max trimmed cells; returns how many. */
static int split_row(char *line, char **cell, int max)
{
        int n = 0;
        char *p = strchr(line, '|'), *q;

        while (p && n < max && (q = strchr(p + 1, '|'))) {
                *q = '\0';
                cell[n++] = trim(p + 1);
                p = q;
        }
        return n;
}

static void check_row(char **cell, bool *seen)
{
        int r = rules_from_name(cell[0]);
        const rule_def_t *d;
        char want[64];

        CHECK(r >= 0);
        if (r < 0) {
                fprintf(stderr, "docs/rules.md names an unknown rule %s\n", cell[0]);
                return;
        }
        d = &rule_def[r];
        CHECK(!seen[r]);
        seen[r] = true;
        CHECK_STR(cell[1], d->track);
        CHECK_STR(cell[2], sev_names[d->severity]);
        if (d->to_caseworker && d->to_leads)
                CHECK_STR(cell[3], "caseworker **and** leads");
        else if (d->to_leads)
                CHECK_STR(cell[3], "leads only");
        else
                CHECK(strcmp(cell[3], "caseworker") == 0 || strcmp(cell[3], "new caseworker") == 0);
        if (d->offset_unit == OFFSET_NONE)
                snprintf(want, sizeof(want), "—");
        else
                snprintf(want, sizeof(want), "`%s = %d`", d->offset_key, d->offset);
        CHECK_STR(cell[5], want);
        /* A due column that says "+ N d" or "+ N mo" says the default offset. */
        const char *plus = strstr(cell[4], "+ ");
        if (plus && d->offset_unit != OFFSET_NONE) {
                snprintf(want, sizeof(want), "+ %d %s", d->offset, d->offset_unit == OFFSET_DAYS ? "d" : "mo");
                CHECK(strstr(cell[4], want) != NULL);
        }
        CHECK_STR(cell[7], d->sensitive ? "yes" : "no");
}

static void test_docs_table(void)
{
        const char *src = getenv("BEVAKA_SRC");
        char path[4096], line[1024], *cell[10];
        bool seen[RULE__COUNT] = { false }, in_table = false;
        int rows = 0;
        FILE *f;

        snprintf(path, sizeof(path), "%s/docs/rules.md", src ? src : "..");
        f = fopen(path, "r");
        CHECK(f != NULL);
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, "| rule | track | severity |", 27) == 0) {
                        in_table = true;
                        continue;
                }
                if (!in_table || strncmp(line, "|---", 4) == 0)
                        continue;
                if (line[0] != '|')
                        break;
                CHECK_INT(split_row(line, cell, 10), 8);
                check_row(cell, seen);
                rows++;
        }
        fclose(f);
        CHECK_INT(rows, RULE__COUNT);
        for (int r = 0; r < RULE__COUNT; r++)
                if (!seen[r])
                        fprintf(stderr, "FAIL: docs/rules.md §5 lacks %s\n", rule_def[r].name);
}

/* docs/rules.md §5 "Delivery": supersedes, catch_up_days, late, leads against rule_def[]. */
static void check_delivery_row(char **cell, bool *seen)
{
        int r = rules_from_name(cell[0]);
        const rule_def_t *d;
        char want[16];

        CHECK(r >= 0);
        if (r < 0)
                return;
        d = &rule_def[r];
        CHECK(!seen[r]);
        seen[r] = true;
        CHECK_STR(cell[1], d->supersedes >= 0 ? rule_def[d->supersedes].name : "—");
        snprintf(want, sizeof(want), "%d", d->catch_up_days);
        CHECK_STR(cell[2], want);
        CHECK_STR(cell[3], d->late_expires ? "expire" : "backlog");
        CHECK_STR(cell[4], d->leads_digest ? "digest" : "—");
        /* a digest is for a rule that has a leads' copy; a pair shares its track (its cycle) */
        CHECK(!d->leads_digest || d->to_leads);
        CHECK(d->supersedes < 0 || strcmp(rule_def[d->supersedes].track, d->track) == 0);
}

static void test_docs_delivery(void)
{
        const char *src = getenv("BEVAKA_SRC");
        char path[4096], line[1024], *cell[10];
        bool seen[RULE__COUNT] = { false }, in_table = false;
        int rows = 0;
        FILE *f;

        snprintf(path, sizeof(path), "%s/docs/rules.md", src ? src : "..");
        if (!(f = fopen(path, "r"))) {
                CHECK(f != NULL);
                return;
        }
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, "| rule | supersedes |", 21) == 0) {
                        in_table = true;
                        continue;
                }
                if (!in_table || strncmp(line, "|---", 4) == 0)
                        continue;
                if (line[0] != '|')
                        break;
                CHECK_INT(split_row(line, cell, 10), 5);
                check_delivery_row(cell, seen);
                rows++;
        }
        fclose(f);
        CHECK_INT(rows, RULE__COUNT);
}

static void test_self(void)
{
        rules_cfg_t cfg;

        rules_cfg_default(&cfg);
        for (int r = 0; r < RULE__COUNT; r++) {
                const rule_def_t *d = &rule_def[r];
                char conf[64];

                CHECK_INT(d->id, r);
                CHECK_INT(rules_from_name(d->name), r);
                bk_strlcpy(conf, d->name, sizeof(conf));
                for (char *p = conf; *p; p++)
                        if (*p == '-')
                                *p = '_';
                CHECK_STR(d->conf, conf);
                CHECK(d->to_caseworker || d->to_leads);
                for (int k = 0; k < RULE_TEXT__COUNT; k++)
                        CHECK(d->text[k] && d->text[k][0]);
                CHECK_STR(rules_title(&cfg, (rule_id_t)r), d->text[RULE_TEXT_TITLE_SV]);
                CHECK_STR(rules_body(&cfg, (rule_id_t)r), d->text[RULE_TEXT_BODY_SV]);
                CHECK_INT(cfg.rule[r].offset_days, d->offset_unit == OFFSET_DAYS ? d->offset : 0);
                CHECK_INT(cfg.rule[r].offset_months, d->offset_unit == OFFSET_MONTHS ? d->offset : 0);
                CHECK((d->offset_unit == OFFSET_NONE) == (d->offset_key == NULL));
                CHECK(d->offset_unit == OFFSET_NONE || d->offset > 0);
        }
        /* At least these speak of violence, health or a child. */
        CHECK(rule_def[RULE_SAFETY_FOLLOWUP].sensitive);
        CHECK(rule_def[RULE_WORK_CAPACITY].sensitive);
        CHECK(rule_def[RULE_CHILD_IMPACT].sensitive);
        CHECK(!rule_def[RULE_IB3_DUE].sensitive);
}

static void test_transition_rows(void)
{
        bool armed[RULE__COUNT] = { false };

        for (size_t i = 0; i < rs_n_transitions; i++) {
                const transition_t *t = &rs_transitions[i];

                CHECK((t->rules & ~RULES_ALL) == 0);
                if (t->track == TR_CASE)
                        continue;       /* closing and reopening touch every rule */
                for (int r = 0; r < RULE__COUNT; r++) {
                        if (!(t->rules & RB(r)))
                                continue;
                        if (strcmp(rule_def[r].track, rs_track_names[t->track]) != 0)
                                fprintf(stderr, "FAIL: row %zu of track %s names %s of track %s\n", i,
                                        rs_track_names[t->track], rule_def[r].name, rule_def[r].track);
                        CHECK_STR(rule_def[r].track, rs_track_names[t->track]);
                        armed[r] = true;
                }
        }
        for (int r = 0; r < RULE__COUNT; r++) {
                if (!armed[r])
                        fprintf(stderr, "FAIL: no transition row names %s\n", rule_def[r].name);
                CHECK(armed[r]);
        }
}

int main(void)
{
        test_docs_table();
        test_docs_delivery();
        test_self();
        test_transition_rows();
        return tap_done();
}
