/*
 * fuzz-subscribe.c feeds arbitrary XPUB messages to zap_subscription(),
 * the check behind every subscription bevakad grants with CURVE on. The
 * first input byte picks the subscriber (a caseworker, a lead of two units,
 * an admin, a feed, a key the list does not know); the rest is the message
 * as XPUB hands it over. The verdict is checked against an independent
 * statement of protocol §2: an admin may subscribe to any prefix; a
 * caseworker only to exactly "rem/<one of its units>/<itself>/"; a lead
 * only to exactly "rem/<one of its units>/<any name of at most 64 bytes>/";
 * nobody else to
 * anything; a cancellation is always a cancellation and anything that is
 * not a subscription message is never granted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "acl.h"
#include "zap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { \
                fprintf(stderr, "fuzz-subscribe: invariant broken: %s\n", #cond); abort(); } } while (0)

static const acl_identity_t people[] = {
        { "hkA", ROLE_CASEWORKER, 1, { "HV-EB-1" } },
        { "leadU", ROLE_LEAD, 2, { "HV-EB-1", "HV-EB-2" } },
        { "ops", ROLE_ADMIN, 0, { "" } },
        { "paraply", ROLE_FEED, 0, { "" } },
        { "unknown", ROLE_NONE, 0, { "" } },
};

static bool has_unit(const acl_identity_t *who, const char *u, size_t n)
{
        for (int i = 0; i < who->n_units; i++)
                if (strlen(who->units[i]) == n && memcmp(who->units[i], u, n) == 0)
                        return true;
        return false;
}

/* The name grammar of protocol §6, or the leads' "@leads", written out again as the oracle. */
static bool name_ok(const uint8_t *s, size_t n)
{
        if (n == 6 && memcmp(s, "@leads", 6) == 0)
                return true;
        for (size_t i = 0; i < n; i++) {
                uint8_t c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
                        return false;
        }
        return n > 0;
}

/* "rem/" unit "/" name "/" and nothing else, both parts non-empty and without '/' or NUL. */
static bool exact_topic(const uint8_t *p, size_t n, const acl_identity_t *who)
{
        const uint8_t *u, *slash, *name, *end;

        if (n < 4 || memcmp(p, "rem/", 4) != 0 || memchr(p, '\0', n))
                return false;
        u = p + 4;
        slash = memchr(u, '/', n - 4);
        if (!slash || slash == u)
                return false;
        name = slash + 1;
        end = memchr(name, '/', (size_t)(p + n - name));
        if (!end || end == name || end != p + n - 1)
                return false;
        /* Names are at most EV_NAME_MAX bytes (protocol §1): a longer one is no topic anything is sent on. */
        if ((size_t)(end - name) > EV_NAME_MAX)
                return false;
        if (!has_unit(who, (const char *)u, (size_t)(slash - u)))
                return false;
        if (who->role == ROLE_LEAD)
                return name_ok(name, (size_t)(end - name));
        return strlen(who->user) == (size_t)(end - name) && memcmp(who->user, name, (size_t)(end - name)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const acl_identity_t *who;
        uint8_t *msg;
        size_t n;
        zap_sub_t v;

        if (size == 0)
                return 0;
        who = data[0] < 250 ? &people[data[0] % 5] : NULL;
        n = size - 1;
        msg = malloc(n ? n : 1);
        if (!msg)
                return 0;
        memcpy(msg, data + 1, n);       /* exact size: ASan sees a read past the message */
        v = zap_subscription(who, msg, n);

        REQUIRE(v == ZAP_SUB_IGNORE || v == ZAP_SUB_GRANT || v == ZAP_SUB_REFUSE || v == ZAP_SUB_CANCEL);
        if (n == 0 || msg[0] > 1) {
                REQUIRE(v == ZAP_SUB_IGNORE);
        } else if (msg[0] == 0) {
                REQUIRE(v == ZAP_SUB_CANCEL);
        } else if (!who || who->role == ROLE_NONE || who->role == ROLE_FEED) {
                REQUIRE(v == ZAP_SUB_REFUSE);
        } else if (who->role == ROLE_ADMIN) {
                REQUIRE(v == ZAP_SUB_GRANT);
        } else {
                REQUIRE((v == ZAP_SUB_GRANT) == exact_topic(msg + 1, n - 1, who));
                REQUIRE(v == ZAP_SUB_GRANT || v == ZAP_SUB_REFUSE);
        }
        free(msg);
        return 0;
}
