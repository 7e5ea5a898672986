/*
 * acl.h owns who may do what, below keys, zap, bus and api: the roles, the
 * identity a peer stands for, which topics (names of name.h's grammar)
 * an identity may read or subscribe to, which API ops a role may
 * call (one table: adding an op is one row) and which reminders it may
 * handle. Pure functions over plain data: no sockets, no store, no JSON.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "event.h"

typedef enum acl_role {
        ROLE_NONE = 0, ROLE_FEED, ROLE_CASEWORKER, ROLE_LEAD, ROLE_ADMIN, ROLE__COUNT
} acl_role_t;

#define ACL_MAX_UNITS 16
/* The longest topic a subscription or a sync may name: "rem/" + two names + slashes. */
#define ACL_TOPIC_MAX (2 * EV_NAME_MAX + 8)

typedef struct acl_identity {
        char user[EV_NAME_MAX + 1];
        acl_role_t role;
        int n_units;
        char units[ACL_MAX_UNITS][EV_NAME_MAX + 1];
} acl_identity_t;

/* "none", "feed", "caseworker", "lead", "admin"; "none" for anything else. */
const char *acl_role_name(acl_role_t r);
/* The role by name; -1 for anything else. */
int acl_role_from_name(const char *name);
/* A role a key list may grant: every role but none; -1 for anything else. */
int acl_key_role_from_name(const char *name);
/* Caseworkers and leads read by unit: a key of theirs without units is a mistake. */
bool acl_role_needs_units(acl_role_t r);

/* Without CURVE every peer is local and counts as admin (protocol §4). */
void acl_local_identity(acl_identity_t *who, const char *user);
bool acl_has_unit(const acl_identity_t *who, const char *unit);

/*
 * Splits "rem/<unit>/<name>/" exactly, both names in the grammar or name
 * "@leads"; unit and name get EV_NAME_MAX + 1 bytes. false for anything else.
 */
bool acl_topic_split(const char *topic, char *unit, char *name);
/* Whether `who` may read topic (exact "rem/<unit>/<caseworker>/" or "rem/<unit>/@leads/"). */
bool acl_may_read_topic(const acl_identity_t *who, const char *topic);
/*
 * A subscription prefix (not NUL-terminated): admins any prefix, others
 * exact topics acl_may_read_topic allows, never "", "rem/" or "rem/<unit>/",
 * since a prefix subscription would also match topics that are not theirs.
 */
bool acl_may_subscribe(const acl_identity_t *who, const char *prefix, size_t len);
/*
 * Whether `who` may call API op `op` at all (before its arguments are
 * read); false for an op the table does not list. On false *refusal (if
 * not NULL) is the error message for the reply.
 */
bool acl_may_call(const acl_identity_t *who, const char *op, const char **refusal);
/*
 * Whether `who` may handle (ack, snooze, dismiss, explain) a reminder of
 * `unit` for `caseworker`: the caseworker it is addressed to, a lead of
 * its unit (for the leads' copies), an admin.
 */
bool acl_may_handle(const acl_identity_t *who, const char *unit, const char *caseworker, bool to_caseworker);
