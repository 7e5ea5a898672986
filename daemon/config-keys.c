/*
 * config-keys.c owns reading the key list (config_load_keys): the libconfig
 * file of CURVE public keys and who each one is (user id, role, units),
 * every entry checked, the first problem named by file, line and setting.
 */
#include <sys/stat.h>
#include "config-private.h"
#include "name.h"

/* ---- key list -------------------------------------------------------------- */

static int cfg_key_key(struct cfg_ctx *ctx, const config_setting_t *s, void *base)
{
        keys_entry_t *e = base;
        const char *v = NULL;
        int r = cfg_get_string(ctx, s, &v);

        if (r)
                return r;
        if (!keys_z85_decode(v, strlen(v), e->key))
                return cfg_fail(ctx, s, NULL, "must be a CURVE public key in Z85 (40 characters), "
                                "as `bevakactl keygen` prints it");
        keys_z85_encode(e->key, e->z85);
        return 0;
}

static int cfg_key_user(struct cfg_ctx *ctx, const config_setting_t *s, void *base)
{
        keys_entry_t *e = base;
        const char *v = NULL;
        int r = cfg_get_string(ctx, s, &v);

        if (r)
                return r;
        /* User ids and units end up in topics ("rem/<unit>/<user>/") and logs. */
        if (!name_ok(v))
                return cfg_fail(ctx, s, NULL, "must match " NAME_GRAMMAR);
        bk_strlcpy(e->user, v, sizeof(e->user));
        return 0;
}

static int cfg_key_role(struct cfg_ctx *ctx, const config_setting_t *s, void *base)
{
        keys_entry_t *e = base;
        const char *v = NULL;
        int r = cfg_get_string(ctx, s, &v);

        if (r)
                return r;
        if ((r = acl_key_role_from_name(v)) < 0)
                return cfg_fail(ctx, s, NULL, "must be one of caseworker, lead, admin, feed");
        e->role = (acl_role_t)r;
        return 0;
}

static int cfg_key_units(struct cfg_ctx *ctx, const config_setting_t *s, void *base)
{
        keys_entry_t *e = base;
        int n = config_setting_length(s);

        if (!config_setting_is_array(s) && !config_setting_is_list(s))
                return cfg_fail(ctx, s, NULL, "must be an array of unit names [ \"…\", … ]");
        if (n > KEYS_MAX_UNITS)
                return cfg_fail(ctx, s, NULL, "more than %d units", KEYS_MAX_UNITS);
        e->n_units = 0;
        for (int i = 0; i < n; i++) {
                const config_setting_t *u = config_setting_get_elem(s, (unsigned)i);
                const char *v = NULL;
                int r = cfg_get_string(ctx, u, &v);

                if (r)
                        return r;
                if (!name_ok(v))
                        return cfg_fail(ctx, u, NULL, "must match " NAME_GRAMMAR);
                for (int j = 0; j < e->n_units; j++)
                        if (strcmp(e->units[j], v) == 0)
                                return cfg_fail(ctx, u, NULL, "listed twice");
                bk_strlcpy(e->units[e->n_units++], v, sizeof(e->units[0]));
        }
        return 0;
}

static int cfg_key_comment(struct cfg_ctx *ctx, const config_setting_t *s, BK_UNUSED void *base)
{
        const char *v = NULL;
        return cfg_get_string(ctx, s, &v);
}

static int cfg_key_check(struct cfg_ctx *ctx, const config_setting_t *g, void *base)
{
        const keys_entry_t *e = base;

        /* A caseworker or lead without units could read nothing; say so rather than load a dud. */
        if (acl_role_needs_units(e->role) && e->n_units == 0)
                return cfg_fail(ctx, g, "units", "a %s needs at least one unit", acl_role_name(e->role));
        return 0;
}

static const struct cfg_key key_entry_keys[] = {
        KEY_CUSTOM("key", cfg_key_key, NULL, .flags = CFG_REQUIRED),
        KEY_CUSTOM("user", cfg_key_user, NULL, .flags = CFG_REQUIRED),
        KEY_CUSTOM("role", cfg_key_role, NULL, .flags = CFG_REQUIRED),
        KEY_CUSTOM("units", cfg_key_units, NULL),
        KEY_CUSTOM("comment", cfg_key_comment, NULL),
        { .name = NULL }
};
static const struct cfg_group key_entry_group = { .keys = key_entry_keys, .check = cfg_key_check };

static int cfg_user_cmp(const void *a, const void *b)
{
        const keys_entry_t *x = *(const keys_entry_t *const *)a, *y = *(const keys_entry_t *const *)b;
        int c = strcmp(x->user, y->user);
        return c ? c : (x->line > y->line) - (x->line < y->line);
}

/*
 * One user, one grant: the API and the subscription check ask what a user
 * may read, so two keys of one user (a laptop and a desktop) must agree.
 */
static int cfg_keys_consistent(struct cfg_ctx *ctx, const keys_t *k)
{
        _cleanup_free_ const keys_entry_t **by_user = calloc(k->n ? k->n : 1, sizeof(*by_user));
        int r = 0;

        if (!by_user)
                return -ENOMEM;
        for (size_t i = 0; i < k->n; i++)
                by_user[i] = &k->v[i];
        qsort(by_user, k->n, sizeof(*by_user), cfg_user_cmp);
        for (size_t i = 1; i < k->n && !r; i++) {
                const keys_entry_t *a = by_user[i - 1], *b = by_user[i];

                if (strcmp(a->user, b->user) == 0 && !keys_same_grant(a, b)) {
                        snprintf(ctx->err, ctx->err_size, "%s:%u: keys: user %s has another role or other "
                                 "units at line %u (all keys of one user share one grant)",
                                 ctx->file, b->line, b->user, a->line);
                        r = BK_E_INVALID;
                }
        }
        return r;
}

static int cfg_keys_walk(struct cfg_ctx *ctx, const config_setting_t *root, keys_t *k)
{
        const config_setting_t *list = NULL;
        const keys_entry_t *a, *b;
        int r;

        for (int i = 0; i < config_setting_length(root); i++) {
                const config_setting_t *m = config_setting_get_elem(root, (unsigned)i);
                if (strcmp(config_setting_name(m), "keys") != 0)
                        return cfg_fail(ctx, m, NULL, "unknown setting (a key list has only `keys`)");
                list = m;
        }
        if (!list)
                return cfg_fail(ctx, root, "keys", "missing: a list ( { key = \"…\"; user = \"…\"; "
                                "role = \"…\"; units = [ \"…\" ]; }, … )");
        if (!config_setting_is_list(list))
                return cfg_fail(ctx, list, NULL, "must be a list of groups ( { key = …; user = …; … }, … )");
        for (int i = 0; i < config_setting_length(list); i++) {
                const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
                keys_entry_t e = { .line = config_setting_source_line(g) };

                if ((r = cfg_walk(ctx, g, &key_entry_group, &e)) != 0)
                        return r;
                if ((r = keys_add(k, &e)) < 0)
                        return r;
        }
        if (keys_finish(k, &a, &b) != 0) {
                snprintf(ctx->err, ctx->err_size, "%s:%u: keys: the same key is listed at line %u",
                         ctx->file, b->line, a->line);
                return BK_E_INVALID;
        }
        return cfg_keys_consistent(ctx, k);
}

/*
 * Whoever may write the key list may grant themselves any role: like sshd's StrictModes, a list
 * that the group or others may write is refused, whatever it holds.
 */
static int cfg_keys_mode(struct cfg_ctx *ctx, const char *path)
{
        struct stat st;

        if (stat(path, &st) != 0 || !(st.st_mode & (S_IWGRP | S_IWOTH)))
                return 0;     /* one that cannot be read is cfg_read's to report */
        snprintf(ctx->err, ctx->err_size, "%s:1: keys: the file is writable by %s (mode %04o), so they could "
                 "grant themselves any role: refused (chmod go-w %s)", path,
                 st.st_mode & S_IWOTH ? "everyone" : "its group", (unsigned)(st.st_mode & 07777), path);
        return BK_E_INVALID;
}

/* A list without an admin key leaves nobody who may reload it, see stats or purge a case. */
static int cfg_keys_admin(struct cfg_ctx *ctx, const config_setting_t *root, const keys_t *k)
{
        const config_setting_t *list = config_setting_get_member(root, "keys");

        for (size_t i = 0; i < k->n; i++)
                if (k->v[i].role == ROLE_ADMIN)
                        return 0;
        return cfg_fail(ctx, list ? list : root, list ? NULL : "keys", "no key has role = \"admin\": nobody "
                        "could reload the list, read stats or purge a case (add one: `bevakactl keygen`)");
}

static int cfg_load_keys(const char *path, bool need_admin, keys_t *out, char *err, size_t err_size)
{
        struct cfg_ctx ctx = { .file = path, .err = err, .err_size = err_size };
        keys_t k = { 0 };
        libconfig_t lc;
        int r;

        if (err && err_size)
                err[0] = '\0';
        if (!path || !path[0]) {
                snprintf(err, err_size, "security.keys: no key list configured");
                return BK_E_INVALID;
        }
        if ((r = cfg_base_dir(&ctx, path, NULL)) != 0 || (r = cfg_keys_mode(&ctx, path)) != 0)
                return r;
        config_init(&lc);
        ctx.lc = &lc;
        r = cfg_read(&ctx, &lc, path);
        if (!r)
                r = cfg_keys_walk(&ctx, config_root_setting(&lc), &k);
        if (!r && need_admin)
                r = cfg_keys_admin(&ctx, config_root_setting(&lc), &k);
        config_destroy(&lc);
        if (r) {
                keys_clear(&k);
                return r;
        }
        *out = k;
        return 0;
}

int config_load_keys(const char *path, keys_t *out, char *err, size_t err_size)
{
        return cfg_load_keys(path, false, out, err, err_size);
}

int config_check_keys(const char *path, char *err, size_t err_size)
{
        keys_t k = { 0 };
        int r = cfg_load_keys(path, true, &k, err, err_size);

        if (r == 0)
                keys_clear(&k);
        return r;
}
