/*
 * test-zap.c checks zap.c's pure decisions without a socket: the ZAP
 * handler's reply for every kind of request (RFC 27: a listed key, an
 * unknown or quarantined one, another domain or mechanism, malformed
 * frames), the identity behind a message's metadata (key and user must
 * still belong together), and the subscription authorizer for each role
 * against the prefixes a caseworker might try to read someone else's
 * reminders with.
 */
#include <stdio.h>
#include "keys.h"
#include "tap.h"
#include "zap.h"

/* A distinct, valid key per seed, and its Z85 text. */
static void make_key(int seed, uint8_t key[KEYS_KEY_SIZE], char z85[KEYS_Z85_LEN + 1])
{
        for (int i = 0; i < KEYS_KEY_SIZE; i++)
                key[i] = (uint8_t)(seed * 37 + i * 11);
        keys_z85_encode(key, z85);
}

/* Adds a key the way config_load_keys() would (unit: NULL for none). */
static void list_add(keys_t *k, const uint8_t key[KEYS_KEY_SIZE], const char *user, acl_role_t role, const char *unit)
{
        keys_entry_t e;

        memset(&e, 0, sizeof(e));
        memcpy(e.key, key, KEYS_KEY_SIZE);
        keys_z85_encode(key, e.z85);
        bk_strlcpy(e.user, user, sizeof(e.user));
        e.role = role;
        if (unit)
                bk_strlcpy(e.units[e.n_units++], unit, sizeof(e.units[0]));
        CHECK_INT(keys_add(k, &e), 0);
}

/* ---- ZAP ---------------------------------------------------------------------- */

typedef struct zreq {
        zap_frame_t f[8];
        size_t n;
} zreq_t;

static zreq_t curve_request(const uint8_t key[32], const char *domain)
{
        zreq_t r = { .n = 7 };
        const char *s[] = { "1.0", "7", domain, "192.0.2.7", "", "CURVE" };
        for (int i = 0; i < 6; i++)
                r.f[i] = (zap_frame_t){ (const uint8_t *)s[i], strlen(s[i]) };
        r.f[6] = (zap_frame_t){ key, 32 };
        return r;
}

static bool frame_eq(const zap_frame_t *f, const char *s)
{
        return f->size == strlen(s) && memcmp(f->data, s, f->size) == 0;
}

static void test_zap(void)
{
        char za[41], zb[41], zx[41];
        const keys_entry_t *dup_a = NULL, *dup_b = NULL;
        uint8_t a[32], b[32], x[32];
        keys_t k = { 0 };
        zap_reply_t rep;
        zreq_t q;

        make_key(20, a, za);
        make_key(21, b, zb);
        make_key(22, x, zx);
        list_add(&k, a, "hkA", ROLE_CASEWORKER, "U");
        list_add(&k, b, "ops", ROLE_ADMIN, NULL);
        CHECK_INT(keys_finish(&k, &dup_a, &dup_b), 0);

        /* A listed key: 200 with its user id and its key in the metadata. */
        q = curve_request(a, ZAP_DOMAIN);
        zap_handle(&k, q.f, q.n, &rep);
        CHECK_INT(rep.status, ZAP_OK);
        CHECK(frame_eq(&rep.frames[0], "1.0") && frame_eq(&rep.frames[1], "7"));
        CHECK(frame_eq(&rep.frames[2], "200") && frame_eq(&rep.frames[4], "hkA"));
        CHECK_INT(rep.frames[5].size, 1 + 12 + 4 + 40);
        CHECK(rep.frames[5].data[0] == 12 && memcmp(rep.frames[5].data + 1, ZAP_META_KEY, 12) == 0);
        CHECK(rep.frames[5].data[16] == 40 && memcmp(rep.frames[5].data + 17, za, 40) == 0);
        CHECK_STR(rep.address, "192.0.2.7");
        CHECK(strncmp(rep.fingerprint, za, 8) == 0 && strlen(rep.fingerprint) == 8);

        /* Unknown key: 400, no user id; the fingerprint is there for the log. */
        q = curve_request(x, ZAP_DOMAIN);
        zap_handle(&k, q.f, q.n, &rep);
        CHECK_INT(rep.status, ZAP_DENIED);
        CHECK(frame_eq(&rep.frames[2], "400") && frame_eq(&rep.frames[4], "") && rep.frames[5].size == 0);
        CHECK_STR(rep.reason, "unknown key");
        CHECK(strncmp(rep.fingerprint, zx, 8) == 0);

        /* Quarantined: refused until the list is reloaded. */
        CHECK(!keys_quarantine(&k, zx));
        CHECK(!keys_quarantine(&k, "short"));
        CHECK(keys_quarantine(&k, za));
        q = curve_request(a, ZAP_DOMAIN);
        zap_handle(&k, q.f, q.n, &rep);
        CHECK_INT(rep.status, ZAP_DENIED);
        acl_identity_t who;
        CHECK(!zap_identity(&k, "hkA", za, &who));
        CHECK(who.role == ROLE_NONE);
        ((keys_entry_t *)keys_find(&k, a))->quarantined = false;

        /* Another domain, another mechanism, malformed requests. */
        q = curve_request(a, "other");
        zap_handle(&k, q.f, q.n, &rep);
        CHECK_INT(rep.status, ZAP_DENIED);
        q = curve_request(a, ZAP_DOMAIN);
        q.f[5] = (zap_frame_t){ (const uint8_t *)"NULL", 4 };
        q.n = 6;
        zap_handle(&k, q.f, q.n, &rep);
        CHECK_INT(rep.status, ZAP_DENIED);
        CHECK_STR(rep.reason, "only CURVE is allowed");
        q = curve_request(a, ZAP_DOMAIN);
        q.f[5] = (zap_frame_t){ (const uint8_t *)"PLAIN", 5 };
        zap_handle(&k, q.f, q.n, &rep);
        CHECK_INT(rep.status, ZAP_DENIED);
        q = curve_request(a, ZAP_DOMAIN);
        q.f[6].size = 31;
        zap_handle(&k, q.f, q.n, &rep);
        CHECK_INT(rep.status, ZAP_FAILED);
        q = curve_request(a, ZAP_DOMAIN);
        q.f[0] = (zap_frame_t){ (const uint8_t *)"2.0", 3 };
        zap_handle(&k, q.f, q.n, &rep);
        CHECK_INT(rep.status, ZAP_FAILED);
        CHECK(frame_eq(&rep.frames[1], "7"));
        zap_handle(&k, q.f, 1, &rep);
        CHECK_INT(rep.status, ZAP_FAILED);
        CHECK(frame_eq(&rep.frames[1], ""));
        zap_handle(&k, q.f, 0, &rep);
        CHECK_INT(rep.status, ZAP_FAILED);
        q = curve_request(a, ZAP_DOMAIN);
        q.f[7] = q.f[6];
        q.n = 8;
        zap_handle(&k, q.f, q.n, &rep);
        CHECK_INT(rep.status, ZAP_FAILED);
        /* An address that is not printable is made so before it reaches a log. */
        q = curve_request(x, ZAP_DOMAIN);
        q.f[3] = (zap_frame_t){ (const uint8_t *)"1.2\n3\033", 6 };
        zap_handle(&k, q.f, q.n, &rep);
        CHECK_STR(rep.address, "1.2?3?");
        /* No key list at all (not loaded): everyone is unknown. */
        q = curve_request(a, ZAP_DOMAIN);
        zap_handle(NULL, q.f, q.n, &rep);
        CHECK_INT(rep.status, ZAP_DENIED);

        /* Identity from metadata: key and user must still belong together. */
        CHECK(zap_identity(&k, "hkA", za, &who));
        CHECK(who.role == ROLE_CASEWORKER && who.n_units == 1);
        CHECK_STR(who.user, "hkA");
        CHECK(!zap_identity(&k, "ops", za, &who) && who.role == ROLE_NONE);
        CHECK(!zap_identity(&k, "hkA", zx, &who) && who.role == ROLE_NONE);
        CHECK(!zap_identity(&k, NULL, za, &who) && who.role == ROLE_NONE);
        CHECK(!zap_identity(&k, "hkA", NULL, &who) && who.role == ROLE_NONE);
        CHECK(!zap_identity(&k, "hkA", "", &who));
        keys_clear(&k);
}

static zap_sub_t sub_of(const acl_identity_t *who, const char *prefix)
{
        uint8_t msg[512];
        size_t n = strlen(prefix);
        msg[0] = 1;
        memcpy(msg + 1, prefix, n);
        return zap_subscription(who, msg, n + 1);
}

static void test_subscriptions(void)
{
        acl_identity_t cw = { .user = "hkA", .role = ROLE_CASEWORKER, .n_units = 1, .units = { "U" } };
        acl_identity_t lead = { .user = "leadU", .role = ROLE_LEAD, .n_units = 2, .units = { "U", "W" } };
        acl_identity_t admin = { .user = "ops", .role = ROLE_ADMIN };
        acl_identity_t feed = { .user = "paraply", .role = ROLE_FEED };
        acl_identity_t none = { .user = "x", .role = ROLE_NONE };
        /* Prefixes no non-admin may have: each would match someone else's topic too. */
        static const char *const wide[] = {
                "", "r", "rem", "rem/", "rem/U", "rem/U/", "rem/U/hk", "rem/U/hkA", "rem/U/@leads",
                "rem//hkA/", "rem/U//", "rem/U/hkA//", "rem/U/hkA/x", "REM/U/hkA/", "rem/V/",
        };

        for (size_t i = 0; i < BK_ARRAY_SIZE(wide); i++) {
                CHECK_INT(sub_of(&cw, wide[i]), ZAP_SUB_REFUSE);
                CHECK_INT(sub_of(&lead, wide[i]), ZAP_SUB_REFUSE);
                CHECK_INT(sub_of(&admin, wide[i]), ZAP_SUB_GRANT);
        }
        CHECK_INT(sub_of(&cw, "rem/U/hkA/"), ZAP_SUB_GRANT);
        CHECK_INT(sub_of(&cw, "rem/U/hkB/"), ZAP_SUB_REFUSE);
        CHECK_INT(sub_of(&cw, "rem/V/hkA/"), ZAP_SUB_REFUSE);      /* its name, not its unit */
        CHECK_INT(sub_of(&cw, "rem/U/@leads/"), ZAP_SUB_REFUSE);
        CHECK_INT(sub_of(&lead, "rem/U/hkA/"), ZAP_SUB_GRANT);
        CHECK_INT(sub_of(&lead, "rem/W/hkZ/"), ZAP_SUB_GRANT);
        CHECK_INT(sub_of(&lead, "rem/U/@leads/"), ZAP_SUB_GRANT);
        CHECK_INT(sub_of(&lead, "rem/V/hkA/"), ZAP_SUB_REFUSE);
        CHECK_INT(sub_of(&lead, "rem/V/@leads/"), ZAP_SUB_REFUSE);
        CHECK_INT(sub_of(&feed, "rem/U/hkA/"), ZAP_SUB_REFUSE);
        CHECK_INT(sub_of(&none, "rem/U/hkA/"), ZAP_SUB_REFUSE);
        CHECK_INT(sub_of(NULL, "rem/U/hkA/"), ZAP_SUB_REFUSE);
        CHECK_INT(sub_of(NULL, ""), ZAP_SUB_REFUSE);

        /* An embedded NUL must not let "rem/U/hkA/" through as a C string. */
        uint8_t nul[] = { 1, 'r', 'e', 'm', '/', 'U', '/', 'h', 'k', 'A', '/', 0, 'x' };
        CHECK_INT(zap_subscription(&cw, nul, sizeof(nul)), ZAP_SUB_REFUSE);
        CHECK_INT(zap_subscription(&admin, nul, sizeof(nul)), ZAP_SUB_GRANT);
        /* Too long to be any topic. */
        char longp[300];
        memset(longp, 'a', sizeof(longp) - 1);
        longp[sizeof(longp) - 1] = '\0';
        memcpy(longp, "rem/U/", 6);
        CHECK_INT(sub_of(&lead, longp), ZAP_SUB_REFUSE);

        /* Cancellations always apply; anything else on an XPUB is not a subscription. */
        uint8_t cancel[] = { 0, 'r', 'e', 'm', '/' }, empty[1], other[] = { 2, 'x' };
        CHECK_INT(zap_subscription(&cw, cancel, sizeof(cancel)), ZAP_SUB_CANCEL);
        CHECK_INT(zap_subscription(NULL, cancel, 1), ZAP_SUB_CANCEL);
        CHECK_INT(zap_subscription(&admin, empty, 0), ZAP_SUB_IGNORE);
        CHECK_INT(zap_subscription(&admin, other, sizeof(other)), ZAP_SUB_IGNORE);
}

int main(void)
{
        test_zap();
        test_subscriptions();
        return tap_done();
}
