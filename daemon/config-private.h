/*
 * config-private.h is shared by the configuration's files only (config.c,
 * config-values.c, config-keys.c): the tables that describe every setting,
 * the parse context, and the readers and the error reporter they share.
 * It includes <libconfig.h> with libconfig's handle renamed (config.c says why).
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define config_t libconfig_t
#include <libconfig.h>
#undef config_t

#include "config.h"
#include "keys.h"

/* ---- tables --------------------------------------------------------------- */

struct cfg_ctx;
struct cfg_group;

enum cfg_kind {
        K_STR,          /* char[size], taken as is */
        K_PATH,         /* char[size], relative = to the configuration's directory; "" = none */
        K_ENDPOINT,     /* char[size], tcp:// ipc:// inproc://; relative ipc paths resolved */
        K_INT,          /* int in [min, max] */
        K_BOOL,         /* bool */
        K_ENUM,         /* one of names[]: values[i] into an int or bool, or the name into a char[] */
        K_HHMM,         /* "HH:MM" into int minutes after midnight */
        K_GROUP,        /* nested group: struct at base + off */
        K_CUSTOM,       /* parse/print functions */
};

/* flags */
#define CFG_REQUIRED    0x01    /* must be present (and non-empty) */
#define CFG_NONEMPTY    0x02    /* may be absent, but not "" */
#define CFG_NOPRINT     0x04    /* printed by another key's print function */
#define CFG_IF_SET      0x08    /* printed only when not "" */

typedef int (*cfg_parse_fn)(struct cfg_ctx *ctx, const config_setting_t *s, void *base);
typedef void (*cfg_print_fn)(FILE *f, const void *base, int depth);

struct cfg_key {
        const char *name;
        enum cfg_kind kind;
        unsigned flags;
        size_t off;                     /* field (or nested struct) offset in base */
        size_t size;                    /* field size */
        int min, max;                   /* K_INT */
        const char *const *names;       /* K_ENUM, NULL-terminated */
        const int *values;              /* K_ENUM; NULL = store the name itself */
        const struct cfg_group *group;  /* K_GROUP */
        cfg_parse_fn parse;             /* K_CUSTOM */
        cfg_print_fn print;             /* K_CUSTOM */
        const char *note;               /* printed after the value, for the operator */
};

struct cfg_group {
        const struct cfg_key *keys;     /* ends with .name = NULL */
        /* members not in keys (the rules group's per-rule groups); NULL = "unknown setting" */
        cfg_parse_fn other;
        /* consistency between members, after all of them parsed */
        int (*check)(struct cfg_ctx *ctx, const config_setting_t *g, void *base);
        cfg_print_fn print_other;
};

struct cfg_ctx {
        const char *file;               /* name in messages: the path as given, or "(embedded)" */
        char dir[CFG_PATH_MAX];         /* absolute; relative paths are resolved against it */
        const libconfig_t *lc;
        config_t *cfg;                  /* being filled */
        char *err;
        size_t err_size;
        /* each feed's group, in cfg->feeds order, so late checks can point at it */
        const config_setting_t *feed_src[CFG_MAX_FEEDS];
        bool rule_seen[RULE__COUNT];
};

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)
#define KEY(n, k, type, field, ...) \
        { .name = (n), .kind = (k), .off = offsetof(type, field), \
          .size = FIELD_SIZE(type, field), __VA_ARGS__ }
#define KEY_INT(n, type, field, lo, hi, ...) KEY(n, K_INT, type, field, .min = (lo), .max = (hi), __VA_ARGS__)
#define KEY_ENUM(n, type, field, nm, val, ...) KEY(n, K_ENUM, type, field, .names = (nm), .values = (val), __VA_ARGS__)
/* A group's struct sits at `o` in its parent's: 0 for groups over config_t's own fields. */
#define KEY_GROUP(n, o, grp) { .name = (n), .kind = K_GROUP, .off = (o), .group = (grp) }
#define KEY_CUSTOM(n, p, pr, ...) { .name = (n), .kind = K_CUSTOM, .parse = (p), .print = (pr), __VA_ARGS__ }

/* config.c, config-values.c, config-keys.c */
int cfg_fail(struct cfg_ctx *ctx, const config_setting_t *s, const char *member,
             const char *fmt, ...) BK_PRINTF(4, 5);
bool cfg_endpoint_local(const char *ep);
/* Why libzmq could not bind the tcp:// endpoint ep (a host name, IPv6); NULL when it can. */
const char *cfg_endpoint_unbindable(const char *ep);
/* Why a tcp:// endpoint naming an IPv6 address cannot be used (no ZMQ_IPV6); NULL for any other. */
const char *cfg_endpoint_ipv6(const char *ep);
bool cfg_parse_hhmm(const char *v, int *minutes);
bool cfg_two_digits(const char *p, int *out);
int cfg_base_dir(struct cfg_ctx *ctx, const char *path, const char *base_dir);
int cfg_copy(struct cfg_ctx *ctx, const config_setting_t *s, const char *v, char *dst, size_t n);
int cfg_endpoint(struct cfg_ctx *ctx, const config_setting_t *s, const char *v, char *dst, size_t n);
int cfg_get_int(struct cfg_ctx *ctx, const config_setting_t *s, int min, int max, int *out);
int cfg_get_string(struct cfg_ctx *ctx, const config_setting_t *s, const char **out);
int cfg_read(struct cfg_ctx *ctx, libconfig_t *lc, const char *path);
int cfg_resolve(struct cfg_ctx *ctx, const config_setting_t *s, const char *v,
                const char *prefix, char *dst, size_t n);
int cfg_walk(struct cfg_ctx *ctx, const config_setting_t *g, const struct cfg_group *grp, void *base);
void cfg_clean_path(char *p);
