/*
 * test-acl.c owns the unit tests of acl.c: the role names, the name
 * grammar of protocol §6, which topics an identity may read and subscribe
 * to, which ops each role may call (and the refusal each gets), and which
 * reminders it may handle. All pure: no sockets, no store.
 */
#include <stdio.h>
#include "acl.h"
#include "name.h"
#include "tap.h"

#define U1 "HV-EB-1"
#define U2 "HV-EB-2"

static const acl_identity_t admin = { "admin1", ROLE_ADMIN, 0, { "" } };
static const acl_identity_t lead1 = { "lead1", ROLE_LEAD, 1, { U1 } };
static const acl_identity_t lead12 = { "lead12", ROLE_LEAD, 2, { U1, U2 } };
static const acl_identity_t hk1 = { "hk1", ROLE_CASEWORKER, 1, { U1 } };
static const acl_identity_t hk1_u2 = { "hk1", ROLE_CASEWORKER, 1, { U2 } };
static const acl_identity_t nobody = { "anon", ROLE_NONE, 0, { "" } };
static const acl_identity_t feeder = { "feed1", ROLE_FEED, 0, { "" } };

static void test_role_names(void)
{
        CHECK_STR(acl_role_name(ROLE_NONE), "none");
        CHECK_STR(acl_role_name(ROLE_FEED), "feed");
        CHECK_STR(acl_role_name(ROLE_CASEWORKER), "caseworker");
        CHECK_STR(acl_role_name(ROLE_LEAD), "lead");
        CHECK_STR(acl_role_name(ROLE_ADMIN), "admin");
        CHECK_STR(acl_role_name((acl_role_t)99), "none");
        for (int i = ROLE_NONE; i <= ROLE_ADMIN; i++)
                CHECK_INT(acl_role_from_name(acl_role_name((acl_role_t)i)), i);
        CHECK_INT(acl_role_from_name("root"), -1);
        CHECK_INT(acl_role_from_name(""), -1);
        /* a key list grants every role but none */
        CHECK_INT(acl_key_role_from_name("none"), -1);
        CHECK_INT(acl_key_role_from_name("feed"), ROLE_FEED);
        CHECK_INT(acl_key_role_from_name("lead"), ROLE_LEAD);
        CHECK(acl_role_needs_units(ROLE_CASEWORKER));
        CHECK(acl_role_needs_units(ROLE_LEAD));
        CHECK(!acl_role_needs_units(ROLE_ADMIN));
        CHECK(!acl_role_needs_units(ROLE_FEED));
}

static void test_name_grammar(void)
{
        char name[EV_NAME_MAX + 2];

        CHECK(name_ok("a"));
        CHECK(name_ok("HV-EB-1"));
        CHECK(name_ok("hk1.old_2"));
        CHECK(name_ok("0"));
        CHECK(!name_ok(""));
        CHECK(!name_ok("-a"));
        CHECK(!name_ok(".a"));
        CHECK(!name_ok("_a"));
        CHECK(!name_ok("@leads"));
        CHECK(!name_ok("a/b"));
        CHECK(!name_ok("a b"));
        CHECK(!name_ok("a\"b"));
        CHECK(!name_ok("a\tb"));
        CHECK(!name_ok("åsa"));
        CHECK(!name_ok("a\x7f"));
        memset(name, 'u', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';                 /* 65 bytes: one too many */
        CHECK(!name_ok(name));
        name[EV_NAME_MAX] = '\0';
        CHECK(name_ok(name));
}

static void test_topic_split(void)
{
        char unit[EV_NAME_MAX + 1], name[EV_NAME_MAX + 1];

        CHECK(acl_topic_split("rem/U1/hk1/", unit, name));
        CHECK_STR(unit, "U1");
        CHECK_STR(name, "hk1");
        CHECK(acl_topic_split("rem/U1/@leads/", unit, name));
        CHECK_STR(name, "@leads");
        CHECK(!acl_topic_split("rem/@leads/hk1/", unit, name));
        CHECK(!acl_topic_split("rem/U1/hk1", unit, name));
        CHECK(!acl_topic_split("rem/U1/", unit, name));
        CHECK(!acl_topic_split("rem/", unit, name));
        CHECK(!acl_topic_split("", unit, name));
}

static void test_may_read_topic(void)
{
        CHECK(acl_may_read_topic(&hk1, "rem/HV-EB-1/hk1/"));
        CHECK(!acl_may_read_topic(&hk1, "rem/HV-EB-1/hk2/"));
        CHECK(!acl_may_read_topic(&hk1, "rem/HV-EB-1/hk12/"));
        CHECK(!acl_may_read_topic(&hk1, "rem/HV-EB-1/hk1"));          /* a prefix, not the topic */
        CHECK(!acl_may_read_topic(&hk1, "rem/HV-EB-1/"));
        CHECK(!acl_may_read_topic(&hk1, "rem/HV-EB-1/@leads/"));
        CHECK(!acl_may_read_topic(&hk1, "rem/HV-EB-2/hk1/"));
        CHECK(acl_may_read_topic(&hk1_u2, "rem/HV-EB-2/hk1/"));
        CHECK(!acl_may_read_topic(&hk1_u2, "rem/HV-EB-1/hk1/"));
        CHECK(acl_may_read_topic(&lead1, "rem/HV-EB-1/@leads/"));
        CHECK(acl_may_read_topic(&lead1, "rem/HV-EB-1/hk1/"));
        CHECK(!acl_may_read_topic(&lead1, "rem/HV-EB-2/@leads/"));
        CHECK(acl_may_read_topic(&lead12, "rem/HV-EB-2/@leads/"));
        CHECK(acl_may_read_topic(&admin, "rem/ANY/one/"));
        CHECK(!acl_may_read_topic(&admin, "rem/ANY/one"));
        CHECK(!acl_may_read_topic(&admin, "rem//one/"));
        CHECK(!acl_may_read_topic(&admin, "rem/ANY//"));
        CHECK(!acl_may_read_topic(&admin, "rem/ANY/one/two/"));
        CHECK(!acl_may_read_topic(&admin, "REM/ANY/one/"));
        CHECK(!acl_may_read_topic(&admin, ""));
        CHECK(!acl_may_read_topic(&nobody, "rem/HV-EB-1/hk1/"));
        CHECK(!acl_may_read_topic(&feeder, "rem/HV-EB-1/hk1/"));
        /* names in a topic follow the grammar too (protocol §6 "Names") */
        CHECK(!acl_may_read_topic(&admin, "rem/HV EB/one/"));
        CHECK(!acl_may_read_topic(&admin, "rem/-U/one/"));
        CHECK(!acl_may_read_topic(&admin, "rem/U/@other/"));
        CHECK(acl_may_read_topic(&admin, "rem/U.1_a-b/x/"));
        {
                char t[256];
                char name[EV_NAME_MAX + 2];
                memset(name, 'u', sizeof(name) - 1);
                name[sizeof(name) - 1] = '\0';                     /* 65 bytes: one too many */
                snprintf(t, sizeof(t), "rem/%s/x/", name);
                CHECK(!acl_may_read_topic(&admin, t));
                name[EV_NAME_MAX] = '\0';
                snprintf(t, sizeof(t), "rem/%s/x/", name);
                CHECK(acl_may_read_topic(&admin, t));
        }
}


static bool sub(const acl_identity_t *who, const char *prefix)
{
        return acl_may_subscribe(who, prefix, strlen(prefix));
}

static void test_may_subscribe(void)
{
        CHECK(sub(&hk1, "rem/HV-EB-1/hk1/"));
        CHECK(!sub(&hk1, "rem/HV-EB-1/"));              /* a prefix would match others' topics */
        CHECK(!sub(&hk1, "rem/"));
        CHECK(!sub(&hk1, ""));
        CHECK(!sub(&hk1, "rem/HV-EB-1/hk2/"));
        CHECK(sub(&lead1, "rem/HV-EB-1/@leads/"));
        CHECK(!sub(&lead1, "rem/HV-EB-1/"));
        CHECK(sub(&admin, ""));                         /* admins: any prefix */
        CHECK(sub(&admin, "rem/"));
        CHECK(!sub(&nobody, "rem/HV-EB-1/hk1/"));
        CHECK(!sub(&feeder, "rem/HV-EB-1/hk1/"));
        CHECK(!acl_may_subscribe(NULL, "rem/HV-EB-1/hk1/", 16));
        /* an embedded NUL is no topic */
        CHECK(!acl_may_subscribe(&hk1, "rem/HV-EB-1/hk1/\0x", 18));
}

static void test_may_call(void)
{
        static const char *const staff_ops[] = { "sync", "ack", "snooze", "dismiss", "why" };
        static const char *const lead_ops[] = { "reminders", "case" };
        static const char *const admin_ops[] = { "stats", "dead_letters", "reload", "clock" };
        const acl_identity_t *all[] = { &admin, &lead1, &hk1, &nobody, &feeder };
        const char *why;

        for (size_t i = 0; i < BK_ARRAY_SIZE(all); i++)
                CHECK(acl_may_call(all[i], "hello", NULL));
        for (size_t i = 0; i < BK_ARRAY_SIZE(staff_ops); i++) {
                CHECK(acl_may_call(&hk1, staff_ops[i], NULL));
                CHECK(acl_may_call(&lead1, staff_ops[i], NULL));
                CHECK(acl_may_call(&admin, staff_ops[i], NULL));
                why = NULL;
                CHECK(!acl_may_call(&nobody, staff_ops[i], &why));
                CHECK_STR(why, "no API access for this key");
                CHECK(!acl_may_call(&feeder, staff_ops[i], NULL));
        }
        for (size_t i = 0; i < BK_ARRAY_SIZE(lead_ops); i++) {
                why = NULL;
                CHECK(!acl_may_call(&hk1, lead_ops[i], &why));
                CHECK_STR(why, "this op is for leads and admins");
                CHECK(acl_may_call(&lead1, lead_ops[i], NULL));
                CHECK(acl_may_call(&admin, lead_ops[i], NULL));
                CHECK(!acl_may_call(&feeder, lead_ops[i], &why));
                CHECK_STR(why, "no API access for this key");
        }
        for (size_t i = 0; i < BK_ARRAY_SIZE(admin_ops); i++) {
                why = NULL;
                CHECK(!acl_may_call(&hk1, admin_ops[i], &why));
                CHECK_STR(why, "this op is for admins");
                CHECK(!acl_may_call(&lead12, admin_ops[i], NULL));
                CHECK(acl_may_call(&admin, admin_ops[i], NULL));
                CHECK(!acl_may_call(&nobody, admin_ops[i], NULL));
        }
        /* an op the table does not list: nobody, not even an admin */
        why = NULL;
        CHECK(!acl_may_call(&admin, "format_disk", &why));
        CHECK(why != NULL);
}

static void test_may_handle(void)
{
        CHECK(acl_may_handle(&hk1, U1, "hk1", true));
        CHECK(!acl_may_handle(&hk1, U1, "hk1", false));        /* a leads-only reminder */
        CHECK(!acl_may_handle(&hk1, U1, "hk2", true));
        CHECK(!acl_may_handle(&hk1, U2, "hk1", true));         /* own name, other unit */
        CHECK(acl_may_handle(&hk1_u2, U2, "hk1", true));
        CHECK(acl_may_handle(&lead1, U1, "hk2", true));
        CHECK(acl_may_handle(&lead1, U1, "", false));
        CHECK(!acl_may_handle(&lead1, U2, "hk9", true));
        CHECK(acl_may_handle(&lead12, U2, "hk9", true));
        CHECK(acl_may_handle(&admin, "ANY", "x", false));
        CHECK(!acl_may_handle(&nobody, U1, "anon", true));
        CHECK(!acl_may_handle(&feeder, U1, "feed1", true));
}

static void test_local_identity(void)
{
        acl_identity_t who;

        acl_local_identity(&who, "");
        CHECK_STR(who.user, "local");
        CHECK_INT(who.role, ROLE_ADMIN);
        CHECK_INT(who.n_units, 0);
        acl_local_identity(&who, "ops");
        CHECK_STR(who.user, "ops");
        CHECK_INT(who.role, ROLE_ADMIN);
}

int main(void)
{
        test_role_names();
        test_name_grammar();
        test_topic_split();
        test_may_read_topic();
        test_may_subscribe();
        test_may_call();
        test_may_handle();
        test_local_identity();
        return tap_done();
}
