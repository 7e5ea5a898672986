/*
 * rules-text.c owns the words and numbers of the rules: the stable rule
 * names, the default configuration (every number in domain.md), and the
 * built-in Swedish and English titles and bodies. The Swedish titles are
 * the ones domain.md gives, byte for byte. Bodies are short, practical and
 * neutral: a reminder is advisory, and screens are seen by others, so no
 * text ever names a person or says more than the caseworker needs to act
 * (SAFETY-FOLLOWUP in particular never mentions what was disclosed).
 * Numbers stay out of the bodies because every offset is configurable.
 */
#include "rules.h"

typedef struct rule_text {
        const char *name;
        const char *title_sv;
        const char *title_en;
        const char *body_sv;
        const char *body_en;
} rule_text_t;

static const rule_text_t texts[RULE__COUNT] = {
        [RULE_IB3_DUE] = {
                "IB3-DUE",
                "Nybesök (IB3) ej genomfört",
                "First visit (IB3) not done",
                "Telefonintervjun (IB1) är gjord men nybesöket (IB3) har inte registrerats. "
                "Boka och genomför nybesöket.",
                "The telephone interview (IB1) is done but no first visit (IB3) has been "
                "recorded. Book and hold the first visit.",
        },
        [RULE_IB4_DUE] = {
                "IB4-DUE",
                "Förändringsplan (IB4) saknas",
                "Change plan (IB4) missing",
                "Nybesöket (IB3) är gjort men ingen förändringsplan är upprättad. "
                "Upprätta planen tillsammans med den enskilde, eller dokumentera varför ni avstår.",
                "The first visit (IB3) is done but no change plan has been established. "
                "Draw up the plan together with the person, or record why you refrain.",
        },
        [RULE_IB4_FOLLOWUP] = {
                "IB4-FOLLOWUP",
                "Dags att följa upp förändringsplanen",
                "Time to follow up the change plan",
                "Förändringsplanen ska följas upp regelbundet. Gå igenom planen och "
                "registrera revideringen.",
                "The change plan is to be followed up regularly. Review the plan and "
                "record the revision.",
        },
        [RULE_IB4_OVERDUE] = {
                "IB4-OVERDUE",
                "Förändringsplanen är inte uppföljd (> 4 mån)",
                "Change plan not followed up (> 4 months)",
                "Förändringsplanen har inte reviderats inom den tid riktlinjen anger. "
                "Följ upp planen snarast.",
                "The change plan has not been revised within the time the guideline sets. "
                "Follow up the plan as soon as possible.",
        },
        [RULE_FIA_DUE] = {
                "FIA-DUE",
                "Ärendet har haft bistånd i tio månader – påbörja fördjupad utredning (FIA)",
                "Assistance for ten months – start the in-depth assessment (FIA)",
                "Ärendet är långvarigt. Påbörja en fördjupad utredning (FIA), även när "
                "problematiken framstår som diffus.",
                "The case is long-term. Start an in-depth assessment (FIA), even when the "
                "barriers seem unclear.",
        },
        [RULE_FIA_OVERDUE] = {
                "FIA-OVERDUE",
                "Fördjupad utredning (FIA) ej påbörjad",
                "In-depth assessment (FIA) not started",
                "Den fördjupade utredningen (FIA) skulle ha påbörjats. Påbörja den, eller "
                "dokumentera varför den inte görs.",
                "The in-depth assessment (FIA) should have been started. Start it, or "
                "record why it is not done.",
        },
        [RULE_FIA_STALLED] = {
                "FIA-STALLED",
                "Fördjupad utredning (FIA) har inte slutförts",
                "In-depth assessment (FIA) not completed",
                "Den fördjupade utredningen (FIA) är påbörjad men inte slutförd. "
                "Planera hur den ska slutföras.",
                "The in-depth assessment (FIA) was started but not completed. "
                "Plan how to complete it.",
        },
        [RULE_CHILD_MAP] = {
                "CHILD-MAP",
                "Kartlägg barnens situation (checklista för långvariga ärenden) – överväg hembesök",
                "Map the children's situation (checklist for long-term cases) – consider a home visit",
                "Ärendet är långvarigt och hushållet har barn. Kartlägg barnens situation med "
                "checklistan för långvariga ärenden och överväg hembesök.",
                "The case is long-term and the household has children. Map the children's "
                "situation with the checklist for long-term cases and consider a home visit.",
        },
        [RULE_CHILD_FOLLOWUP] = {
                "CHILD-FOLLOWUP",
                "Följ upp barnens situation",
                "Follow up the children's situation",
                "Barnens situation kartlades tidigare. Följ upp kartläggningen.",
                "The children's situation was mapped earlier. Follow up the mapping.",
        },
        [RULE_SUMMER_ALLOWANCE] = {
                "SUMMER-ALLOWANCE",
                "Kontrollera sommarlovspeng inför juni",
                "Check the summer-holiday allowance before June",
                "Hushållet kan ha rätt till sommarlovspeng. Informera om ansökan i god tid före juni.",
                "The household may be entitled to the summer-holiday allowance. Tell them "
                "about the application well before June.",
        },
        [RULE_CHILD_IMPACT] = {
                "CHILD-IMPACT",
                "Barnkonsekvensanalys saknas för beslut",
                "Child-impact analysis missing for decision",
                "Beslutet berör barn i hushållet. Dokumentera barnkonsekvensanalysen för beslutet.",
                "The decision affects children in the household. Document the child-impact "
                "analysis for the decision.",
        },
        [RULE_SIP_CONSIDER] = {
                "SIP-CONSIDER",
                "Överväg samordnad individuell plan (SIP)",
                "Consider a coordinated individual plan (SIP)",
                "Flera aktörer är involverade i ett långvarigt ärende. Överväg att initiera "
                "en samordnad individuell plan (SIP).",
                "Several agencies are involved in a long-term case. Consider initiating a "
                "coordinated individual plan (SIP).",
        },
        [RULE_SIP_MEETING] = {
                "SIP-MEETING",
                "SIP-möte har inte hållits",
                "SIP meeting not held",
                "En SIP är initierad men inget möte har registrerats. Kalla till SIP-möte.",
                "A SIP was initiated but no meeting has been recorded. Call a SIP meeting.",
        },
        [RULE_SIP_FOLLOWUP] = {
                "SIP-FOLLOWUP",
                "Följ upp SIP",
                "Follow up the SIP",
                "Det är dags att följa upp den samordnade individuella planen.",
                "It is time to follow up the coordinated individual plan.",
        },
        [RULE_HANDOVER] = {
                "HANDOVER",
                "Överlämning: öppna punkter i ärendet",
                "Handover: open items in the case",
                "Du har fått ärendet. Gå igenom planer och öppna punkter.",
                "You have been assigned the case. Review its plans and open items.",
        },
        [RULE_CONTINUITY] = {
                "CONTINUITY",
                "Täta handläggarbyten i långvarigt ärende",
                "Frequent caseworker changes in a long-term case",
                "Ärendet är långvarigt och har bytt handläggare flera gånger på kort tid. "
                "Säkerställ kontinuiteten och att planer inte tappas bort.",
                "The case is long-term and has changed caseworker several times in a short "
                "period. Make sure of continuity and that plans are not lost.",
        },
        [RULE_WORK_CAPACITY] = {
                "WORK-CAPACITY",
                "Arbetsförmågebedömning saknas eller är inaktuell",
                "Work-capacity assessment missing or out of date",
                "Ärendet är långvarigt och hälsa påverkar försörjningen. Se till att "
                "arbetsförmågan är bedömd och att bedömningen är aktuell.",
                "The case is long-term and health affects self-support. Make sure work "
                "capacity has been assessed and that the assessment is current.",
        },
        [RULE_SAFETY_FOLLOWUP] = {
                "SAFETY-FOLLOWUP",
                "Uppföljning av trygghetsfrågor",
                "Follow-up of safety questions",
                "Följ upp frågorna från nybesöket enligt rutin.",
                "Follow up the questions from the first visit as per routine.",
        },
};

/*
 * Rules whose mere firing says something sensitive about the household: safety (violence),
 * health (work capacity; SIP means care from the region), children's situation. Their
 * reminders are never paired with a case id in the journal (engine.c, docs/privacy.md).
 */
static const bool sensitive[RULE__COUNT] = {
        [RULE_CHILD_IMPACT] = true,
        [RULE_SIP_CONSIDER] = true,
        [RULE_SIP_MEETING] = true,
        [RULE_SIP_FOLLOWUP] = true,
        [RULE_WORK_CAPACITY] = true,
        [RULE_SAFETY_FOLLOWUP] = true,
};

bool rules_sensitive(rule_id_t r)
{
        /* an unknown rule is treated as sensitive: when in doubt, no case id */
        return (int)r < 0 || r >= RULE__COUNT || sensitive[r];
}

void rules_cfg_default(rules_cfg_t *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        for (int r = 0; r < RULE__COUNT; r++)
                cfg->rule[r].enabled = true;
        cfg->rule[RULE_IB3_DUE].offset_days = 14;         /* "nybesökstid inom 14 dagar" */
        cfg->rule[RULE_IB4_DUE].offset_days = 30;
        cfg->rule[RULE_IB4_FOLLOWUP].offset_months = 3;   /* "var tredje till fjärde månad" */
        cfg->rule[RULE_IB4_OVERDUE].offset_months = 4;
        cfg->rule[RULE_FIA_OVERDUE].offset_days = 30;
        cfg->rule[RULE_FIA_STALLED].offset_days = 60;
        cfg->rule[RULE_CHILD_FOLLOWUP].offset_months = 6;
        cfg->rule[RULE_SIP_MEETING].offset_days = 30;
        cfg->rule[RULE_SIP_FOLLOWUP].offset_months = 6;
        cfg->rule[RULE_WORK_CAPACITY].offset_months = 12;
        cfg->rule[RULE_SAFETY_FOLLOWUP].offset_days = 30;
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
        return texts[r].name;
}

int rules_from_name(const char *name)
{
        if (!name)
                return -1;
        for (int r = 0; r < RULE__COUNT; r++)
                if (strcmp(texts[r].name, name) == 0)
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
        return lang_en(cfg) ? texts[r].title_en : texts[r].title_sv;
}

const char *rules_body(const rules_cfg_t *cfg, rule_id_t r)
{
        if ((int)r < 0 || r >= RULE__COUNT)
                return "";
        if (cfg && cfg->rule[r].body[0])
                return cfg->rule[r].body;
        return lang_en(cfg) ? texts[r].body_en : texts[r].body_sv;
}
