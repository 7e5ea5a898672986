/*
 * rules-def.c owns the one definition of every rule: its stable id, the
 * config group it is set in, the track that arms it, its severity and
 * recipients, whether it is re-armed after a reopening, whether it is
 * sensitive (never paired with a case id in a log), its default offset and
 * the config key that changes it, and its built-in Swedish and English
 * title and body. rules.c, rules-text.c and config.c read this table;
 * tests/test-rules-def.c checks it against the table in docs/rules.md §5.
 *
 * The Swedish titles are the ones domain.md gives, byte for byte. Bodies
 * are short, practical and neutral: a reminder is advisory, and screens are
 * seen by others, so no text ever names a person or says more than the
 * caseworker needs to act (SAFETY-FOLLOWUP in particular never mentions
 * what was disclosed). Numbers stay out of the bodies because every offset
 * is configurable.
 */
#include "rules.h"

const rule_def_t rule_def[RULE__COUNT] = {
        [RULE_IB3_DUE] = {
                .id = RULE_IB3_DUE, .name = "IB3-DUE", .conf = "IB3_DUE", .track = "ib",
                .severity = SEV_DUE, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = false,
                .offset_unit = OFFSET_DAYS, .offset = 14, .offset_key = "offset_days",
                .supersedes = -1, .catch_up_days = 14, .late_expires = false, .leads_digest = false,
                .text = {
                        "Nybesök (IB3) ej genomfört",
                        "First visit (IB3) not done",
                        "Telefonintervjun (IB1) är gjord men nybesöket (IB3) har inte registrerats. "
                        "Boka och genomför nybesöket.",
                        "The telephone interview (IB1) is done but no first visit (IB3) has been "
                        "recorded. Book and hold the first visit.",
                },
        },
        [RULE_IB4_DUE] = {
                .id = RULE_IB4_DUE, .name = "IB4-DUE", .conf = "IB4_DUE", .track = "ib",
                .severity = SEV_DUE, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = false,
                .offset_unit = OFFSET_DAYS, .offset = 30, .offset_key = "offset_days",
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Förändringsplan (IB4) saknas",
                        "Change plan (IB4) missing",
                        "Nybesöket (IB3) är gjort men ingen förändringsplan är upprättad. "
                        "Upprätta planen tillsammans med den enskilde, eller dokumentera varför du avstår.",
                        "The first visit (IB3) is done but no change plan has been established. "
                        "Draw up the plan together with the person, or record why you refrain.",
                },
        },
        [RULE_IB4_FOLLOWUP] = {
                .id = RULE_IB4_FOLLOWUP, .name = "IB4-FOLLOWUP", .conf = "IB4_FOLLOWUP", .track = "ib",
                .severity = SEV_INFO, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = false,
                .offset_unit = OFFSET_MONTHS, .offset = 3, .offset_key = "offset_months",
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Dags att följa upp förändringsplanen",
                        "Time to follow up the change plan",
                        "Förändringsplanen ska följas upp regelbundet. Gå igenom planen och "
                        "registrera revideringen.",
                        "The change plan is to be followed up regularly. Review the plan and "
                        "record the revision.",
                },
        },
        [RULE_IB4_OVERDUE] = {
                .id = RULE_IB4_OVERDUE, .name = "IB4-OVERDUE", .conf = "IB4_OVERDUE", .track = "ib",
                .severity = SEV_OVERDUE, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = false,
                .offset_unit = OFFSET_MONTHS, .offset = 4, .offset_key = "offset_months",
                .supersedes = RULE_IB4_FOLLOWUP, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Förändringsplanen är inte uppföljd (> 4 mån)",
                        "Change plan not followed up (> 4 months)",
                        "Förändringsplanen har inte reviderats inom den tid riktlinjen anger. "
                        "Följ upp planen snarast.",
                        "The change plan has not been revised within the time the guideline sets. "
                        "Follow up the plan as soon as possible.",
                },
        },
        [RULE_FIA_DUE] = {
                .id = RULE_FIA_DUE, .name = "FIA-DUE", .conf = "FIA_DUE", .track = "fia",
                .severity = SEV_DUE, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = false,
                .offset_unit = OFFSET_NONE, .offset = 0, .offset_key = NULL,
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Ärendet har haft bistånd i tio månader – påbörja fördjupad utredning (FIA)",
                        "Assistance for ten months – start the in-depth assessment (FIA)",
                        "Ärendet är långvarigt. Påbörja en fördjupad utredning (FIA), även när "
                        "problematiken framstår som diffus.",
                        "The case is long-term. Start an in-depth assessment (FIA), even when the "
                        "barriers seem unclear.",
                },
        },
        [RULE_FIA_OVERDUE] = {
                .id = RULE_FIA_OVERDUE, .name = "FIA-OVERDUE", .conf = "FIA_OVERDUE", .track = "fia",
                .severity = SEV_OVERDUE, .to_caseworker = true, .to_leads = true,
                .rearm = true, .sensitive = false,
                .offset_unit = OFFSET_DAYS, .offset = 30, .offset_key = "offset_days",
                .supersedes = RULE_FIA_DUE, .catch_up_days = 30, .late_expires = false, .leads_digest = true,
                .text = {
                        "Fördjupad utredning (FIA) ej påbörjad",
                        "In-depth assessment (FIA) not started",
                        "Den fördjupade utredningen (FIA) skulle ha påbörjats. Påbörja den, eller "
                        "dokumentera varför den inte görs.",
                        "The in-depth assessment (FIA) should have been started. Start it, or "
                        "record why it is not done.",
                },
        },
        [RULE_FIA_STALLED] = {
                .id = RULE_FIA_STALLED, .name = "FIA-STALLED", .conf = "FIA_STALLED", .track = "fia",
                .severity = SEV_OVERDUE, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = false,
                .offset_unit = OFFSET_DAYS, .offset = 60, .offset_key = "offset_days",
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Fördjupad utredning (FIA) har inte slutförts",
                        "In-depth assessment (FIA) not completed",
                        "Den fördjupade utredningen (FIA) är påbörjad men inte slutförd. "
                        "Planera hur den ska slutföras.",
                        "The in-depth assessment (FIA) was started but not completed. "
                        "Plan how to complete it.",
                },
        },
        [RULE_CHILD_MAP] = {
                .id = RULE_CHILD_MAP, .name = "CHILD-MAP", .conf = "CHILD_MAP", .track = "children",
                .severity = SEV_DUE, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = false,
                .offset_unit = OFFSET_NONE, .offset = 0, .offset_key = NULL,
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Kartlägg barnens situation (checklista för långvariga ärenden) – överväg hembesök",
                        "Map the children's situation (checklist for long-term cases) – consider a home visit",
                        "Ärendet är långvarigt och hushållet har barn. Kartlägg barnens situation med "
                        "checklistan för långvariga ärenden och överväg hembesök.",
                        "The case is long-term and the household has children. Map the children's "
                        "situation with the checklist for long-term cases and consider a home visit.",
                },
        },
        [RULE_CHILD_FOLLOWUP] = {
                .id = RULE_CHILD_FOLLOWUP, .name = "CHILD-FOLLOWUP", .conf = "CHILD_FOLLOWUP", .track = "children",
                .severity = SEV_INFO, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = false,
                .offset_unit = OFFSET_MONTHS, .offset = 6, .offset_key = "offset_months",
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Följ upp barnens situation",
                        "Follow up the children's situation",
                        "Barnens situation kartlades tidigare. Följ upp kartläggningen.",
                        "The children's situation was mapped earlier. Follow up the mapping.",
                },
        },
        [RULE_SUMMER_ALLOWANCE] = {
                .id = RULE_SUMMER_ALLOWANCE, .name = "SUMMER-ALLOWANCE", .conf = "SUMMER_ALLOWANCE", .track = "summer",
                .severity = SEV_INFO, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = false,
                .offset_unit = OFFSET_NONE, .offset = 0, .offset_key = NULL,
                .supersedes = -1, .catch_up_days = 14, .late_expires = false, .leads_digest = false,
                .text = {
                        "Kontrollera sommarlovspeng inför juni",
                        "Check the summer-holiday allowance before June",
                        "Hushållet kan ha rätt till sommarlovspeng. Informera om ansökan i god tid före juni.",
                        "The household may be entitled to the summer-holiday allowance. Tell them "
                        "about the application well before June.",
                },
        },
        [RULE_CHILD_IMPACT] = {
                .id = RULE_CHILD_IMPACT, .name = "CHILD-IMPACT", .conf = "CHILD_IMPACT", .track = "impact",
                .severity = SEV_DUE, .to_caseworker = true, .to_leads = false,
                .rearm = false, .sensitive = true,
                .offset_unit = OFFSET_NONE, .offset = 0, .offset_key = NULL,
                .supersedes = -1, .catch_up_days = 14, .late_expires = false, .leads_digest = false,
                .text = {
                        "Barnkonsekvensanalys saknas för beslut",
                        "Child-impact analysis missing for decision",
                        "Beslutet berör barn i hushållet. Dokumentera barnkonsekvensanalysen för beslutet.",
                        "The decision affects children in the household. Document the child-impact "
                        "analysis for the decision.",
                },
        },
        [RULE_SIP_CONSIDER] = {
                .id = RULE_SIP_CONSIDER, .name = "SIP-CONSIDER", .conf = "SIP_CONSIDER", .track = "sip",
                .severity = SEV_INFO, .to_caseworker = true, .to_leads = false,
                .rearm = false, .sensitive = true,
                .offset_unit = OFFSET_NONE, .offset = 0, .offset_key = NULL,
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Överväg samordnad individuell plan (SIP)",
                        "Consider a coordinated individual plan (SIP)",
                        "Flera aktörer är involverade i ett långvarigt ärende. Överväg att initiera "
                        "en samordnad individuell plan (SIP).",
                        "Several agencies are involved in a long-term case. Consider initiating a "
                        "coordinated individual plan (SIP).",
                },
        },
        [RULE_SIP_MEETING] = {
                .id = RULE_SIP_MEETING, .name = "SIP-MEETING", .conf = "SIP_MEETING", .track = "sip",
                .severity = SEV_DUE, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = true,
                .offset_unit = OFFSET_DAYS, .offset = 30, .offset_key = "offset_days",
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "SIP-möte har inte hållits",
                        "SIP meeting not held",
                        "En SIP är initierad men inget möte har registrerats. Kalla till SIP-möte.",
                        "A SIP was initiated but no meeting has been recorded. Call a SIP meeting.",
                },
        },
        [RULE_SIP_FOLLOWUP] = {
                .id = RULE_SIP_FOLLOWUP, .name = "SIP-FOLLOWUP", .conf = "SIP_FOLLOWUP", .track = "sip",
                .severity = SEV_INFO, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = true,
                .offset_unit = OFFSET_MONTHS, .offset = 6, .offset_key = "offset_months",
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Följ upp SIP",
                        "Follow up the SIP",
                        "Det är dags att följa upp den samordnade individuella planen.",
                        "It is time to follow up the coordinated individual plan.",
                },
        },
        [RULE_HANDOVER] = {
                .id = RULE_HANDOVER, .name = "HANDOVER", .conf = "HANDOVER", .track = "handover",
                .severity = SEV_INFO, .to_caseworker = true, .to_leads = false,
                .rearm = false, .sensitive = false,
                .offset_unit = OFFSET_NONE, .offset = 0, .offset_key = NULL,
                .supersedes = -1, .catch_up_days = 30, .late_expires = true, .leads_digest = false,
                .text = {
                        "Överlämning: öppna punkter i ärendet",
                        "Handover: open items in the case",
                        "Du har fått ärendet. Gå igenom planer och öppna punkter.",
                        "You have been assigned the case. Review its plans and open items.",
                },
        },
        [RULE_CONTINUITY] = {
                .id = RULE_CONTINUITY, .name = "CONTINUITY", .conf = "CONTINUITY", .track = "continuity",
                .severity = SEV_INFO, .to_caseworker = false, .to_leads = true,
                .rearm = false, .sensitive = false,
                .offset_unit = OFFSET_NONE, .offset = 0, .offset_key = NULL,
                .supersedes = -1, .catch_up_days = 90, .late_expires = true, .leads_digest = true,
                .text = {
                        "Täta handläggarbyten i långvarigt ärende",
                        "Frequent caseworker changes in a long-term case",
                        "Ärendet är långvarigt och har bytt handläggare flera gånger på kort tid. "
                        "Säkerställ kontinuiteten och att planer inte tappas bort.",
                        "The case is long-term and has changed caseworker several times in a short "
                        "period. Make sure of continuity and that plans are not lost.",
                },
        },
        [RULE_WORK_CAPACITY] = {
                .id = RULE_WORK_CAPACITY, .name = "WORK-CAPACITY", .conf = "WORK_CAPACITY", .track = "work_capacity",
                .severity = SEV_DUE, .to_caseworker = true, .to_leads = false,
                .rearm = false, .sensitive = true,
                .offset_unit = OFFSET_MONTHS, .offset = 12, .offset_key = "offset_months",
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Arbetsförmågebedömning saknas eller är inaktuell",
                        "Work-capacity assessment missing or out of date",
                        "Ärendet är långvarigt och hälsa påverkar försörjningen. Se till att "
                        "arbetsförmågan är bedömd och att bedömningen är aktuell.",
                        "The case is long-term and health affects self-support. Make sure work "
                        "capacity has been assessed and that the assessment is current.",
                },
        },
        [RULE_SAFETY_FOLLOWUP] = {
                .id = RULE_SAFETY_FOLLOWUP, .name = "SAFETY-FOLLOWUP", .conf = "SAFETY_FOLLOWUP", .track = "safety",
                .severity = SEV_DUE, .to_caseworker = true, .to_leads = false,
                .rearm = true, .sensitive = true,
                .offset_unit = OFFSET_DAYS, .offset = 30, .offset_key = "offset_days",
                .supersedes = -1, .catch_up_days = 30, .late_expires = false, .leads_digest = false,
                .text = {
                        "Uppföljning av trygghetsfrågor",
                        "Follow-up of safety questions",
                        "Följ upp frågorna från nybesöket enligt rutin.",
                        "Follow up the questions from the first visit as per routine.",
                },
        },
};
