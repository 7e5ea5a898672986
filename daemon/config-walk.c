/*
 * config-walk.c owns the table-driven reader of the configuration: it walks
 * a libconfig group against its table of keys (struct cfg_group), parses
 * each value with the key's reader and range, refuses unknown settings and
 * names FILE:LINE: setting: problem for every error (cfg_fail in config.c).
 */
#include <stdio.h>
#include <string.h>
#include "config-private.h"

/* ---- the generic walk ---------------------------------------------------- */

static void cfg_enum_message(const char *const *names, char *buf, size_t n)
{
        size_t count = 0, len;

        while (names[count])
                count++;
        if (count == 2) {
                snprintf(buf, n, "must be \"%s\" or \"%s\"", names[0], names[1]);
                return;
        }
        snprintf(buf, n, "must be one of ");
        for (size_t i = 0; i < count; i++) {
                len = strlen(buf);
                snprintf(buf + len, n - len, "%s\"%s\"", i ? ", " : "", names[i]);
        }
}

static int cfg_parse_enum(struct cfg_ctx *ctx, const struct cfg_key *k, const config_setting_t *s, char *field)
{
        char msg[256];
        const char *v = NULL;
        int r = cfg_get_string(ctx, s, &v);

        if (r)
                return r;
        for (int i = 0; k->names[i]; i++) {
                if (strcmp(v, k->names[i]) != 0)
                        continue;
                if (!k->values)
                        return cfg_copy(ctx, s, v, field, k->size);
                if (k->size == sizeof(bool))
                        *(bool *)field = k->values[i];
                else
                        *(int *)field = k->values[i];
                return 0;
        }
        cfg_enum_message(k->names, msg, sizeof(msg));
        return cfg_fail(ctx, s, NULL, "%s", msg);
}

static int cfg_parse_key(struct cfg_ctx *ctx, const struct cfg_key *k, const config_setting_t *s, void *base)
{
        char *field = (char *)base + k->off;
        const char *v = NULL;
        int r;

        switch (k->kind) {
        case K_INT:
                return cfg_get_int(ctx, s, k->min, k->max, (int *)field);
        case K_BOOL:
                if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                        return cfg_fail(ctx, s, NULL, "must be true or false");
                *(bool *)field = config_setting_get_bool(s);
                return 0;
        case K_ENUM:
                return cfg_parse_enum(ctx, k, s, field);
        case K_GROUP:
                return cfg_walk(ctx, s, k->group, field);
        case K_CUSTOM:
                return k->parse(ctx, s, base);
        case K_STR:
        case K_PATH:
        case K_ENDPOINT:
        case K_HHMM:
                break;
        }
        r = cfg_get_string(ctx, s, &v);
        if (r)
                return r;
        if (!*v && (k->kind == K_ENDPOINT || (k->flags & (CFG_REQUIRED | CFG_NONEMPTY))))
                return cfg_fail(ctx, s, NULL, "must not be empty");
        switch (k->kind) {
        case K_PATH:
                if (!*v) {
                        field[0] = '\0';
                        return 0;
                }
                return cfg_resolve(ctx, s, v, "", field, k->size);
        case K_ENDPOINT:
                return cfg_endpoint(ctx, s, v, field, k->size);
        case K_HHMM:
                if (!cfg_parse_hhmm(v, (int *)field))
                        return cfg_fail(ctx, s, NULL, "must be a time of day \"HH:MM\"");
                return 0;
        default:
                return cfg_copy(ctx, s, v, field, k->size);
        }
}

static const struct cfg_key *cfg_key_find(const struct cfg_key *keys, const char *name)
{
        for (; keys->name; keys++)
                if (strcmp(keys->name, name) == 0)
                        return keys;
        return NULL;
}

/*
 * Members are taken in file order, so "the first error" is the first one a
 * reader meets going down the file; checks between members come after.
 */
int cfg_walk(struct cfg_ctx *ctx, const config_setting_t *g, const struct cfg_group *grp, void *base)
{
        int r;

        if (!config_setting_is_group(g))
                return cfg_fail(ctx, g, NULL, "must be a group { … }");
        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
                const struct cfg_key *k = cfg_key_find(grp->keys, config_setting_name(m));

                if (k)
                        r = cfg_parse_key(ctx, k, m, base);
                else if (grp->other)
                        r = grp->other(ctx, m, base);
                else
                        r = cfg_fail(ctx, m, NULL, "unknown setting");
                if (r)
                        return r;
        }
        for (const struct cfg_key *k = grp->keys; k->name; k++)
                if ((k->flags & CFG_REQUIRED) && !config_setting_get_member(g, k->name))
                        return cfg_fail(ctx, g, k->name, "missing (required)");
        return grp->check ? grp->check(ctx, g, base) : 0;
}

/* ---- store, publish, api, limits, log -------------------------------------- */

