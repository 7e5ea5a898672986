/*
 * Integration, the canary test of docs/privacy.md: the real bevakad fed over
 * ipc:// with every event type, each carrying a made-up name and a valid
 * personnummer and samordningsnummer in extra members and in its free text,
 * plus events dead-lettered for a number in each id-shaped member. Then the
 * bytes of the database, its WAL (after kill -9, before any checkpoint),
 * the daemon's stderr and an online backup are searched for the canaries:
 * none may be there. A sensitive rule is never logged beside its case id.
 */
#define _GNU_SOURCE     /* memmem */
#include "it.h"

#define NAME "Canarina Kanariesson"
#define PNR "19850312-1231"           /* Luhn-valid personnummer */
#define SNR "910172-1000"             /* Luhn-valid samordningsnummer (day 12 + 60) */
#define SRC "paraply-demo"
#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

/* Every form in which the canaries could survive: whole, without separator, as digits only. */
static const char *const canaries[] = {
        "Canarina", "Kanariesson", "19850312", "850312-1231", "8503121231", "910172", "9101721000",
};

/* The `data` each type takes, with free text carrying both numbers; `note` is no protocol member. */
static const struct { const char *type, *data; } types[] = {
        { "case.opened", "\"caseworker\":\"hk1\",\"household\":{\"adults\":1,\"single_parent\":true,"
                         "\"children\":[\"2015-04\"],\"note\":\"" NAME "\"},\"barrier\":\"sickness\"" },
        { "case.updated", "\"barrier\":\"unclear\",\"unit\":\"HV-EB-1\"" },
        { "caseworker.assigned", "\"caseworker\":\"hk2\"" },
        { "assistance.decided", "\"month\":\"2026-01\",\"outcome\":\"granted\",\"decision\":\"d-1\"" },
        { "child_impact.documented", "\"decision\":\"d-1\"" },
        { "ib1.completed", "" },
        { "ib2.completed", "" },
        { "ib3.completed", "\"violence_disclosed\":true" },
        { "ib4.established", "\"follow_up_at\":\"2026-04-01\"" },
        { "ib4.revised", "\"follow_up_at\":\"2026-07-01\"" },
        { "ib4.exempted", "\"reason\":\"Bor hos " PNR " och " SNR "\",\"until\":\"2026-06-01\"" },
        { "fia.started", "" },
        { "fia.completed", "" },
        { "fia.declined", "\"reason\":\"pnr 850312 1231, snr 9101721000\"" },
        { "children.mapped", "\"home_visit\":true" },
        { "summer_allowance.applied", "\"year\":2026" },
        { "actor.involved", "\"actor\":\"fk\"" },
        { "actor.ended", "\"actor\":\"fk\"" },
        { "sip.initiated", "" },
        { "sip.meeting_held", "" },
        { "sip.established", "\"follow_up_at\":\"2026-05-01\"" },
        { "sip.followed_up", "" },
        { "sip.ended", "" },
        { "sip.declined", "\"reason\":\"" PNR "\"" },
        { "health.flagged", "" },
        { "work_capacity.assessed", "" },
        { "safety.followed_up", "" },
        { "future.thing", "\"who\":\"" NAME "\",\"pnr\":\"" PNR "\"" },
        { "case.closed", "\"reason\":\"flyttat, " SNR "\"" },
        { "case.reopened", "\"caseworker\":\"hk1\"" },
};

static int seq;

static void event_line(FILE *f, const char *case_id, const char *type, const char *data)
{
        seq++;
        fprintf(f, "{\"v\":1,\"id\":\"ev-%d\",\"source\":\"" SRC "\",\"seq\":%d,\"type\":\"%s\","
                   "\"at\":\"2026-01-05T09:%02d:00+01:00\",\"case\":\"%s\",\"unit\":\"HV-EB-1\","
                   "\"note\":\"" NAME " " PNR "\",\"data\":{%s%s\"extra\":\"" NAME " " SNR "\"}}\n",
                seq, seq, type, seq % 60, case_id, data, data[0] ? "," : "");
}

/* Events refused for a number in an id-shaped member (and one that is not JSON). */
static int dead_lines(FILE *f)
{
        static const char *const bad[] = {
                "\"type\":\"ib1.completed\",\"case\":\"EB-1\",\"unit\":\"U\"",      /* the id holds one */
                "\"type\":\"ib1.completed\",\"case\":\"EB-" PNR "\",\"unit\":\"U\"",
                "\"type\":\"ib1.completed\",\"case\":\"EB-1\",\"unit\":\"" SNR "\"",
                "\"type\":\"ib1.completed\",\"case\":\"EB-1\",\"unit\":\"U\",\"actor\":\"" PNR "\"",
                "\"type\":\"x." PNR "\",\"case\":\"EB-1\",\"unit\":\"U\"",
                "\"type\":\"caseworker.assigned\",\"case\":\"EB-1\",\"unit\":\"U\","
                "\"data\":{\"caseworker\":\"" SNR "\"}",
                "\"type\":\"child_impact.documented\",\"case\":\"EB-1\",\"unit\":\"U\","
                "\"data\":{\"decision\":\"" PNR "\"}",
                "\"type\":\"assistance.decided\",\"case\":\"EB-1\",\"unit\":\"U\","
                "\"data\":{\"month\":\"" PNR "\",\"outcome\":\"granted\",\"decision\":\"d\"}",
                "\"type\":\"fia.declined\",\"case\":\"EB-1\",\"unit\":\"U\","
                "\"data\":{\"reason\":\"" NAME " \\u0001 " PNR "\"}",
        };
        int n = 0;

        for (size_t i = 0; i < ARRAY_N(bad); i++, n++) {
                char id[64];
                seq++;
                snprintf(id, sizeof(id), i == 0 ? "ev-%s" : "dl-%.20s", i == 0 ? PNR : "");
                if (i > 0)
                        snprintf(id, sizeof(id), "dl-%d", seq);
                fprintf(f, "{\"v\":1,\"id\":\"%s\",\"source\":\"" SRC "\",\"seq\":%d,%s,"
                           "\"at\":\"2026-01-05T10:00:00+01:00\",\"note\":\"" NAME " " PNR "\"}\n", id, seq, bad[i]);
        }
        /* not sequenced: a source that is a number, bytes that are no JSON */
        fprintf(f, "{\"v\":1,\"id\":\"dl-x\",\"source\":\"" PNR "\",\"seq\":1,\"type\":\"ib1.completed\","
                   "\"at\":\"2026-01-05T10:00:00+01:00\",\"case\":\"EB-1\",\"unit\":\"U\"}\n");
        fprintf(f, "not json at all: " PNR " and " SNR "\n");
        return n + 2;
}

static size_t slurp(const char *path, char **out)
{
        FILE *f = fopen(path, "rb");
        size_t cap = 1 << 16, n = 0, k;
        char *b = malloc(cap);

        while (f && b && (k = fread(b + n, 1, cap - n - 1, f)) > 0) {
                n += k;
                if (n == cap - 1)
                        b = realloc(b, cap *= 2);
        }
        if (f)
                fclose(f);
        if (b)
                b[n] = '\0';     /* a text file reads as a C string */
        *out = b;
        return n;
}

/* How many canaries the file holds (and says which). A missing file holds none but is noted. */
static int scan(const char *path, bool must_exist)
{
        char *b = NULL;
        size_t n = slurp(path, &b);
        int hits = 0;

        if (must_exist && n == 0) {
                fprintf(stderr, "  %s: empty or missing\n", path);
                free(b);
                return -1;
        }
        for (size_t i = 0; i < ARRAY_N(canaries); i++)
                if (memmem(b, n, canaries[i], strlen(canaries[i]))) {
                        fprintf(stderr, "  %s holds \"%s\"\n", path, canaries[i]);
                        hits++;
                }
        free(b);
        return hits;
}

static long long last_seq(it_env_t *e)
{
        json_t *r = it_api(e, "{\"op\":\"stats\"}");
        long long v = json_integer_value(json_object_get(json_array_get(json_object_get(r, "feeds"), 0), "last_seq"));
        json_decref(r);
        return v;
}

/* No journal line names both a sensitive rule and the case it fired for. */
static int sensitive_pairs(const char *log, const char *case_id)
{
        char *b = NULL, *line, *save = NULL;
        int pairs = 0;

        slurp(log, &b);
        for (line = strtok_r(b, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if ((strstr(line, "SAFETY-FOLLOWUP") || strstr(line, "WORK-CAPACITY") ||
                     strstr(line, "CHILD-IMPACT")) && strstr(line, case_id))
                        pairs++;
        free(b);
        return pairs;
}

int main(void)
{
        it_env_t e;
        char path[512], db[512], wal[512], log[512], backup[512], cmd[2048];
        int n_dead;
        json_t *r;
        FILE *f;

        it_init(&e);
        /* The dead letters are kept past the clock move below: a retention run that deleted them
         * would have the WAL emptied (by design), and the kill -9 must find the data still there. */
        it_config(&e, "2026-01-05T07:00:00+01:00", "retention = { dead_letter_days = 365; };");
        it_path(&e, "canary.jsonl", path, sizeof(path));
        f = fopen(path, "w");
        /* EB-C1 raises SAFETY-FOLLOWUP (violence disclosed at IB3) and keeps it open */
        event_line(f, "EB-C1", types[0].type, types[0].data);
        event_line(f, "EB-C1", "ib1.completed", "");
        event_line(f, "EB-C1", "ib3.completed", "\"violence_disclosed\":true");
        for (size_t i = 0; i < ARRAY_N(types); i++)
                event_line(f, "EB-C2", types[i].type, types[i].data);
        int valid = seq;
        n_dead = dead_lines(f);
        fclose(f);
        it_start_daemon(&e);
        it_connect(&e);
        it_start_feed(&e, path, "--raw", "--wait-subscribers", "1", NULL);
        CHECK_INT(it_wait_stat(&e, "events", "dead_letters", n_dead, 20000), n_dead);
        for (int64_t end = it_ms() + 20000; last_seq(&e) < seq && it_ms() < end;)
                usleep(20000);
        CHECK_INT(last_seq(&e), seq);
        r = it_api(&e, "{\"op\":\"stats\"}");
        long long applied = json_integer_value(json_object_get(json_object_get(r, "events"), "applied"));
        long long ignored = json_integer_value(json_object_get(json_object_get(r, "events"), "ignored"));
        CHECK_INT(applied + ignored, valid);
        /* ib4.exempted, fia.declined (two each), sip.declined, case.closed */
        CHECK(json_integer_value(json_object_get(r, "masked")) >= 6);
        json_decref(r);

        /* The free text is kept, masked; what the protocol does not name is gone. */
        r = it_api(&e, "{\"op\":\"dead_letters\",\"limit\":100}");
        CHECK_INT(json_array_size(json_object_get(r, "dead_letters")), n_dead);
        json_decref(r);

        /* Deliveries: SAFETY-FOLLOWUP for EB-C1 (ib3 + 30 days) goes out and into the log. */
        r = it_api(&e, "{\"op\":\"clock\",\"set\":\"2026-02-16T09:00:00+01:00\"}");
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        json_decref(r);
        r = it_api(&e, "{\"op\":\"reminders\",\"case\":\"EB-C1\",\"rule\":\"SAFETY-FOLLOWUP\",\"state\":\"any\"}");
        json_t *rem = json_array_get(json_object_get(r, "reminders"), 0);
        CHECK(rem != NULL);
        char rid[32] = "";
        snprintf(rid, sizeof(rid), "%s", rem ? json_string_value(json_object_get(rem, "id")) : "");
        json_decref(r);
        /* a dismiss reason is free text too */
        r = it_api(&e, "{\"op\":\"dismiss\",\"id\":\"%s\",\"reason\":\"se %s, %s\"}", rid, PNR, SNR);
        CHECK(r && json_is_true(json_object_get(r, "ok")));
        json_decref(r);

        /* kill -9 with everything still in the WAL: the checkpointer wakes only at 256 frames */
        it_path(&e, "bevaka.db", db, sizeof(db));
        it_path(&e, "bevaka.db-wal", wal, sizeof(wal));
        it_path(&e, "bevakad.log", log, sizeof(log));
        it_stop(&e.daemon, SIGKILL);
        /* the scan looks where the data is: the WAL holds the events and the masked free text */
        char *w = NULL;
        size_t wn = slurp(wal, &w);
        CHECK(w && memmem(w, wn, "\"case\":\"EB-C2\"", 14) != NULL);
        CHECK(w && memmem(w, wn, "Bor hos XXXXXX-XXXX och XXXXXX-XXXX", 35) != NULL);
        free(w);
        CHECK_INT(scan(wal, true), 0);
        CHECK_INT(scan(db, true), 0);
        CHECK_INT(scan(log, true), 0);

        /* Restart (replays what it had: duplicates), then an online backup beside it. */
        it_start_daemon(&e);
        it_connect(&e);
        CHECK_INT(last_seq(&e), seq);
        it_path(&e, "backup.db", backup, sizeof(backup));
        snprintf(cmd, sizeof(cmd), "%s/bevakactl --db %s backup %s >/dev/null", e.bin, db, backup);
        CHECK_INT(system(cmd), 0);
        CHECK_INT(scan(backup, true), 0);
        it_stop(&e.daemon, SIGTERM);
        CHECK_INT(scan(db, true), 0);
        CHECK_INT(scan(wal, false), 0);
        CHECK_INT(scan(log, true), 0);

        /* The delivery was logged, with the reminder id and without the case. */
        char *text = NULL;
        slurp(log, &text);
        CHECK(rid[0] && strstr(text, rid) != NULL);
        CHECK(strstr(text, "rule SAFETY-FOLLOWUP") != NULL);
        free(text);
        CHECK_INT(sensitive_pairs(log, "EB-C1"), 0);

        it_cleanup(&e);
        return tap_done();
}
