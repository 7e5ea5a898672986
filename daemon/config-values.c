/*
 * config-values.c owns reading one configuration value: strings and
 * integers with their ranges, paths and endpoints (made absolute against
 * the configuration's directory, a non-loopback bind refused without
 * CURVE), and times of day.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/un.h>
#include "config-private.h"

/* ---- scalar readers ------------------------------------------------------ */

int cfg_get_string(struct cfg_ctx *ctx, const config_setting_t *s, const char **out)
{
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return cfg_fail(ctx, s, NULL, "must be a string");
        *out = config_setting_get_string(s);
        return 0;
}

int cfg_get_int(struct cfg_ctx *ctx, const config_setting_t *s, int min, int max, int *out)
{
        long long v;

        if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
                return cfg_fail(ctx, s, NULL, "must be an integer");
        v = config_setting_get_int64(s);
        if (v < min || v > max)
                return cfg_fail(ctx, s, NULL, "must be between %d and %d", min, max);
        *out = (int)v;
        return 0;
}

int cfg_copy(struct cfg_ctx *ctx, const config_setting_t *s, const char *v, char *dst, size_t n)
{
        if (strlen(v) >= n)
                return cfg_fail(ctx, s, NULL, "too long (at most %zu bytes)", n - 1);
        bk_strlcpy(dst, v, n);
        return 0;
}

/* ---- paths and endpoints ----------------------------------------------- */

/*
 * Lexical only: the file may not exist yet (a new store), and ".." is kept
 * because a symlink before it would change what it means.
 */
void cfg_clean_path(char *p)
{
        const char *r = p;
        char *w = p;
        bool abs = *p == '/';

        while (*r) {
                const char *end;
                size_t len;

                if (*r == '/') {
                        r++;
                        continue;
                }
                end = strchr(r, '/');
                if (!end)
                        end = r + strlen(r);
                len = (size_t)(end - r);
                if (!(len == 1 && r[0] == '.')) {
                        if (w > p || abs)
                                *w++ = '/';
                        memmove(w, r, len);
                        w += len;
                }
                r = end;
        }
        if (w == p)
                *w++ = abs ? '/' : '.';
        *w = '\0';
}

int cfg_resolve(struct cfg_ctx *ctx, const config_setting_t *s, const char *v,
                       const char *prefix, char *dst, size_t n)
{
        char buf[2 * CFG_PATH_MAX + 8];

        if (v[0] == '/')
                snprintf(buf, sizeof(buf), "%s", v);
        else
                snprintf(buf, sizeof(buf), "%s/%s", ctx->dir, v);
        cfg_clean_path(buf);
        if (strlen(prefix) + strlen(buf) >= n)
                return cfg_fail(ctx, s, NULL, "too long (at most %zu bytes after resolving)", n - 1);
        snprintf(dst, n, "%s%s", prefix, buf);
        return 0;
}

static bool cfg_tcp_valid(const char *hostport)
{
        const char *colon = strrchr(hostport, ':');
        char *end;
        long port;

        if (!colon || colon == hostport)
                return false;
        if (strcmp(colon + 1, "*") == 0)
                return true;
        port = strtol(colon + 1, &end, 10);
        return colon[1] >= '0' && colon[1] <= '9' && *end == '\0' && port >= 1 && port <= 65535;
}

int cfg_endpoint(struct cfg_ctx *ctx, const config_setting_t *s, const char *v, char *dst, size_t n)
{
        /* ZeroMQ binds ipc:// to a Unix socket, whose path has a hard limit. */
        const size_t ipc_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

        if (strncmp(v, "ipc://", 6) == 0) {
                const char *p = v + 6;
                int r;

                if (!*p)
                        return cfg_fail(ctx, s, NULL, "must name a socket path after \"ipc://\"");
                /* '@' is Linux's abstract namespace: a name, not a path. */
                if (*p == '@')
                        return cfg_copy(ctx, s, v, dst, n);
                r = cfg_resolve(ctx, s, p, "ipc://", dst, n);
                if (r)
                        return r;
                if (strlen(dst + 6) > ipc_max)
                        return cfg_fail(ctx, s, NULL, "socket path longer than %zu bytes: %s",
                                        ipc_max, dst + 6);
                return 0;
        }
        if (strncmp(v, "inproc://", 9) == 0) {
                if (!v[9])
                        return cfg_fail(ctx, s, NULL, "must name a socket after \"inproc://\"");
                return cfg_copy(ctx, s, v, dst, n);
        }
        if (strncmp(v, "tcp://", 6) == 0) {
                if (!cfg_tcp_valid(v + 6))
                        return cfg_fail(ctx, s, NULL, "must be \"tcp://HOST:PORT\"");
                return cfg_copy(ctx, s, v, dst, n);
        }
        return cfg_fail(ctx, s, NULL, "must start with \"tcp://\", \"ipc://\" or \"inproc://\"");
}

/* Without CURVE anyone who can reach a socket is admin, so only this host may. */
bool cfg_endpoint_local(const char *ep)
{
        char host[CFG_PATH_MAX];
        const char *colon;

        if (strncmp(ep, "tcp://", 6) != 0)
                return true;
        bk_strlcpy(host, ep + 6, sizeof(host));
        colon = strrchr(host, ':');
        if (colon)
                host[colon - host] = '\0';
        return strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 ||
               strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0 || strcmp(host, "lo") == 0;
}

/*
 * What libzmq can bind a tcp:// endpoint to: "*", an IPv4 address or a network interface
 * ("lo"). It resolves no host names when binding ("localhost" fails with ENODEV) and takes IPv6
 * addresses only on sockets with ZMQ_IPV6, which bevakad does not set. NULL, or why not.
 */
/* The host of a tcp:// endpoint (without the port) into host; false for another transport. */
static bool cfg_tcp_host(const char *ep, char host[static CFG_PATH_MAX])
{
        char *colon;

        if (strncmp(ep, "tcp://", 6) != 0)
                return false;
        bk_strlcpy(host, ep + 6, CFG_PATH_MAX);
        if ((colon = strrchr(host, ':')))
                *colon = '\0';
        return true;
}

const char *cfg_endpoint_ipv6(const char *ep)
{
        char host[CFG_PATH_MAX];

        if (!cfg_tcp_host(ep, host) || (host[0] != '[' && !strchr(host, ':')))
                return NULL;
        return "an IPv6 address is not reachable (bevakad does not enable ZMQ_IPV6): use an IPv4 address "
               "such as tcp://127.0.0.1:PORT";
}

const char *cfg_endpoint_unbindable(const char *ep)
{
        char host[CFG_PATH_MAX];
        struct in_addr a4;

        if (!cfg_tcp_host(ep, host))
                return NULL;
        if (strcmp(host, "*") == 0 || inet_pton(AF_INET, host, &a4) == 1 || if_nametoindex(host) != 0)
                return NULL;
        if (cfg_endpoint_ipv6(ep))
                return cfg_endpoint_ipv6(ep);
        return "a host name cannot be bound (libzmq binds \"*\", an IPv4 address or an interface): use "
               "tcp://127.0.0.1:PORT for this machine only";
}

/* ---- times --------------------------------------------------------------- */

bool cfg_two_digits(const char *p, int *out)
{
        if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
                return false;
        *out = (p[0] - '0') * 10 + (p[1] - '0');
        return true;
}

bool cfg_parse_hhmm(const char *v, int *minutes)
{
        int h, m;

        if (strlen(v) != 5 || v[2] != ':' || !cfg_two_digits(v, &h) || !cfg_two_digits(v + 3, &m))
                return false;
        /* 24:00 lets an office day run to midnight. */
        if (m > 59 || h > 24 || (h == 24 && m != 0))
                return false;
        *minutes = h * 60 + m;
        return true;
}
