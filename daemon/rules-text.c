/*
 * rules-text.c owns the rules' configuration defaults (every number in
 * domain.md; the per-rule offsets come from rule_def) and picks a rule's
 * name, title and body: the configured override, else rule_def's built-in
 * text in the configured language.
 */
#include "rules.h"

/*
 * Rules whose mere firing says something sensitive about the household: safety (violence),
 * health (work capacity; SIP means care from the region), children's situation (rule_def's
 * `sensitive`). Their reminders are never paired with a case id in the journal (engine.c,
 * docs/privacy.md).
 */
bool rules_sensitive(rule_id_t r)
{
        /* an unknown rule is treated as sensitive: when in doubt, no case id */
        return (int)r < 0 || r >= RULE__COUNT || rule_def[r].sensitive;
}
void rules_cfg_default(rules_cfg_t *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        for (int r = 0; r < RULE__COUNT; r++) {
                cfg->rule[r].enabled = true;
                cfg->rule[r].catch_up_days = rule_def[r].catch_up_days;
                cfg->rule[r].leads_digest = rule_def[r].leads_digest;
                if (rule_def[r].offset_unit == OFFSET_DAYS)
                        cfg->rule[r].offset_days = rule_def[r].offset;
                else if (rule_def[r].offset_unit == OFFSET_MONTHS)
                        cfg->rule[r].offset_months = rule_def[r].offset;
        }
        bk_strlcpy(cfg->lang, "sv", sizeof(cfg->lang));
        cfg->long_term_months = 10;
        cfg->long_term_window_months = 12;
        cfg->fia_valid_months = 24;
        cfg->ib4_exempt_months = 6;
        cfg->summer_check_month = 5;
        cfg->summer_check_day = 2;
        cfg->summer_expire_month = 7;
        cfg->summer_min_months = 10;
        cfg->continuity_changes = 2;
        cfg->continuity_window_months = 12;
        cfg->adult_age = 18;
}

const char *rules_name(rule_id_t r)
{
        if ((int)r < 0 || r >= RULE__COUNT)
                return NULL;
        return rule_def[r].name;
}

int rules_from_name(const char *name)
{
        if (!name)
                return -1;
        for (int r = 0; r < RULE__COUNT; r++)
                if (strcmp(rule_def[r].name, name) == 0)
                        return r;
        return -1;
}

/* Anything but an explicit "en" is Swedish: the product's language is Swedish. */
static bool lang_en(const rules_cfg_t *cfg)
{
        return cfg && strcmp(cfg->lang, "en") == 0;
}

const char *rules_title(const rules_cfg_t *cfg, rule_id_t r)
{
        if ((int)r < 0 || r >= RULE__COUNT)
                return "";
        if (cfg && cfg->rule[r].title[0])
                return cfg->rule[r].title;
        return rule_def[r].text[lang_en(cfg) ? RULE_TEXT_TITLE_EN : RULE_TEXT_TITLE_SV];
}

const char *rules_body(const rules_cfg_t *cfg, rule_id_t r)
{
        if ((int)r < 0 || r >= RULE__COUNT)
                return "";
        if (cfg && cfg->rule[r].body[0])
                return cfg->rule[r].body;
        return rule_def[r].text[lang_en(cfg) ? RULE_TEXT_BODY_EN : RULE_TEXT_BODY_SV];
}
