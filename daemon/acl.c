/*
 * acl.c owns the roles and the authorization decisions
 * of acl.h. The op table below is the one place that says which roles may
 * call which API op; ownership (a caseworker's own reminders, a lead's own
 * units) is decided here too, so that api.c, zap.c and bus.c ask rather
 * than know.
 */
#include <string.h>
#include "acl.h"
#include "name.h"
#include "util.h"

static const char *const role_names[ROLE__COUNT] = {
        [ROLE_NONE] = "none", [ROLE_FEED] = "feed", [ROLE_CASEWORKER] = "caseworker",
        [ROLE_LEAD] = "lead", [ROLE_ADMIN] = "admin",
};

#define R(x) (1u << (x))
#define STAFF (R(ROLE_CASEWORKER) | R(ROLE_LEAD) | R(ROLE_ADMIN))

/*
 * Which roles may call an op. A role without API access (none, feed) may
 * only say hello; what an op then lets a role see or change (its own
 * topics, reminders, units) the op decides with the functions below.
 */
static const struct acl_op {
        const char *op;
        unsigned roles;
        const char *refusal;
} ops[] = {
        { "hello",        R(ROLE_NONE) | R(ROLE_FEED) | STAFF, NULL },
        { "sync",         STAFF, NULL },
        { "ack",          STAFF, NULL },
        { "snooze",       STAFF, NULL },
        { "dismiss",      STAFF, NULL },
        { "why",          STAFF, NULL },
        { "reminders",    R(ROLE_LEAD) | R(ROLE_ADMIN), "this op is for leads and admins" },
        { "case",         R(ROLE_LEAD) | R(ROLE_ADMIN), "this op is for leads and admins" },
        { "stats",        R(ROLE_ADMIN), "this op is for admins" },
        { "dead_letters", R(ROLE_ADMIN), "this op is for admins" },
        { "reload",       R(ROLE_ADMIN), "this op is for admins" },
        { "clock",        R(ROLE_ADMIN), "this op is for admins" },
        { "indicators",   R(ROLE_LEAD) | R(ROLE_ADMIN), "this op is for leads and admins" },
        { "purge",        R(ROLE_ADMIN), "this op is for admins" },
};

const char *acl_role_name(acl_role_t r)
{
        return (unsigned)r < ROLE__COUNT ? role_names[r] : "none";
}

int acl_role_from_name(const char *name)
{
        for (int i = 0; i < ROLE__COUNT; i++)
                if (strcmp(role_names[i], name) == 0)
                        return i;
        return -1;
}

int acl_key_role_from_name(const char *name)
{
        int r = acl_role_from_name(name);

        return r <= ROLE_NONE ? -1 : r;
}

bool acl_role_needs_units(acl_role_t r)
{
        return r == ROLE_CASEWORKER || r == ROLE_LEAD;
}

void acl_local_identity(acl_identity_t *who, const char *user)
{
        memset(who, 0, sizeof(*who));
        bk_strlcpy(who->user, user && user[0] ? user : "local", sizeof(who->user));
        who->role = ROLE_ADMIN;
}

bool acl_has_unit(const acl_identity_t *who, const char *unit)
{
        for (int i = 0; i < who->n_units; i++)
                if (strcmp(who->units[i], unit) == 0)
                        return true;
        return false;
}

/* Copies the n bytes at s as a name of the grammar (or "@leads" when leads is true). */
static bool take_name(const char *s, size_t n, bool leads, char *out)
{
        if (n == 0 || n > EV_NAME_MAX)
                return false;
        memcpy(out, s, n);
        out[n] = '\0';
        return name_ok(out) || (leads && strcmp(out, "@leads") == 0);
}

bool acl_topic_split(const char *topic, char *unit, char *name)
{
        const char *u, *w, *end;

        if (strncmp(topic, "rem/", 4) != 0)
                return false;
        u = topic + 4;
        w = strchr(u, '/');
        if (!w)
                return false;
        end = strchr(w + 1, '/');
        if (!end || end[1] != '\0')
                return false;
        return take_name(u, (size_t)(w - u), false, unit) &&
               take_name(w + 1, (size_t)(end - w - 1), true, name);
}

/* What is (unit, name)'s is an admin's, a lead's of the unit, and that caseworker's in the unit. */
static bool owns(const acl_identity_t *who, const char *unit, const char *name)
{
        switch (who->role) {
        case ROLE_ADMIN:
                return true;
        case ROLE_LEAD:
                return acl_has_unit(who, unit);
        case ROLE_CASEWORKER:
                return strcmp(name, who->user) == 0 && acl_has_unit(who, unit);
        default:
                return false;
        }
}

bool acl_may_read_topic(const acl_identity_t *who, const char *topic)
{
        char unit[EV_NAME_MAX + 1], name[EV_NAME_MAX + 1];

        return acl_topic_split(topic, unit, name) && owns(who, unit, name);
}

bool acl_may_subscribe(const acl_identity_t *who, const char *prefix, size_t len)
{
        char topic[ACL_TOPIC_MAX];

        if (!who || who->role == ROLE_NONE || who->role == ROLE_FEED)
                return false;
        if (who->role == ROLE_ADMIN)
                return true;
        if (len >= sizeof(topic) || memchr(prefix, '\0', len))
                return false;
        memcpy(topic, prefix, len);
        topic[len] = '\0';
        return acl_may_read_topic(who, topic);
}

bool acl_may_call(const acl_identity_t *who, const char *op, const char **refusal)
{
        for (size_t i = 0; i < BK_ARRAY_SIZE(ops); i++) {
                if (strcmp(ops[i].op, op) != 0)
                        continue;
                if ((unsigned)who->role < ROLE__COUNT && (ops[i].roles & R(who->role)))
                        return true;
                if (refusal)
                        *refusal = who->role == ROLE_NONE || who->role == ROLE_FEED || !ops[i].refusal
                                   ? "no API access for this key" : ops[i].refusal;
                return false;
        }
        if (refusal)
                *refusal = "no API access for this op";
        return false;
}

bool acl_may_handle(const acl_identity_t *who, const char *unit, const char *caseworker, bool to_caseworker)
{
        /* A caseworker handles only what is addressed to it, not the leads' copies. */
        if (who->role == ROLE_CASEWORKER && !to_caseworker)
                return false;
        return owns(who, unit, caseworker);
}
