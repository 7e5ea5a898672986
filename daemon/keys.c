/*
 * keys.c owns the in-memory key list and the pure helpers around CURVE
 * keys. Z85 is implemented here rather than taken from libzmq because
 * bus.c is the only daemon file that may include zmq.h and because the
 * ZAP handler and its fuzz target must not need a socket library; the
 * decoder refuses groups above 2^32 - 1, so every key has exactly one text
 * and comparing texts is comparing keys.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include "keys.h"


static const char z85_alphabet[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

static int z85_value(unsigned char c)
{
        const char *p;
        if (c == '\0' || !(p = strchr(z85_alphabet, c)))
                return -1;
        return (int)(p - z85_alphabet);
}

bool keys_z85_decode(const char *s, size_t len, uint8_t out[KEYS_KEY_SIZE])
{
        if (len != KEYS_Z85_LEN)
                return false;
        for (size_t g = 0; g < KEYS_KEY_SIZE / 4; g++) {
                uint64_t v = 0;
                for (size_t i = 0; i < 5; i++) {
                        int d = z85_value((unsigned char)s[g * 5 + i]);
                        if (d < 0)
                                return false;
                        v = v * 85 + (uint64_t)d;
                }
                if (v > UINT32_MAX)
                        return false;
                out[g * 4] = (uint8_t)(v >> 24);
                out[g * 4 + 1] = (uint8_t)(v >> 16);
                out[g * 4 + 2] = (uint8_t)(v >> 8);
                out[g * 4 + 3] = (uint8_t)v;
        }
        return true;
}

void keys_z85_encode(const uint8_t key[KEYS_KEY_SIZE], char out[KEYS_Z85_LEN + 1])
{
        for (size_t g = 0; g < KEYS_KEY_SIZE / 4; g++) {
                uint32_t v = (uint32_t)key[g * 4] << 24 | (uint32_t)key[g * 4 + 1] << 16 |
                             (uint32_t)key[g * 4 + 2] << 8 | key[g * 4 + 3];
                for (int i = 4; i >= 0; i--) {
                        out[g * 5 + (size_t)i] = z85_alphabet[v % 85];
                        v /= 85;
                }
        }
        out[KEYS_Z85_LEN] = '\0';
}

void keys_fingerprint(const uint8_t key[KEYS_KEY_SIZE], char out[KEYS_FP_LEN + 1])
{
        char z[KEYS_Z85_LEN + 1];
        keys_z85_encode(key, z);
        memcpy(out, z, KEYS_FP_LEN);
        out[KEYS_FP_LEN] = '\0';
}

/* ---- the list ------------------------------------------------------------- */

int keys_add(keys_t *k, const keys_entry_t *e)
{
        /* A failed realloc leaves the list as it was. */
        if (k->n == k->cap) {
                size_t cap = k->cap ? 2 * k->cap : 16;
                keys_entry_t *v = realloc(k->v, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                k->v = v;
                k->cap = cap;
        }
        k->v[k->n++] = *e;
        return 0;
}

static int entry_cmp(const void *a, const void *b)
{
        const keys_entry_t *x = a, *y = b;
        int c = memcmp(x->key, y->key, KEYS_KEY_SIZE);
        if (c)
                return c;
        return (x->line > y->line) - (x->line < y->line);
}

int keys_finish(keys_t *k, const keys_entry_t **dup_a, const keys_entry_t **dup_b)
{
        if (k->n > 1)
                qsort(k->v, k->n, sizeof(k->v[0]), entry_cmp);
        for (size_t i = 1; i < k->n; i++) {
                if (memcmp(k->v[i - 1].key, k->v[i].key, KEYS_KEY_SIZE) == 0) {
                        *dup_a = &k->v[i - 1];
                        *dup_b = &k->v[i];
                        return BK_E_DUPLICATE;
                }
        }
        return 0;
}

void keys_clear(keys_t *k)
{
        free(k->v);
        k->v = NULL;
        k->n = k->cap = 0;
}

void keys_free(keys_t **kp)
{
        if (!*kp)
                return;
        keys_clear(*kp);
        free(*kp);
        *kp = NULL;
}

static int key_cmp(const void *key, const void *elem)
{
        return memcmp(key, ((const keys_entry_t *)elem)->key, KEYS_KEY_SIZE);
}

const keys_entry_t *keys_find(const keys_t *k, const uint8_t key[KEYS_KEY_SIZE])
{
        if (!k || k->n == 0)
                return NULL;
        return bsearch(key, k->v, k->n, sizeof(k->v[0]), key_cmp);
}

const keys_entry_t *keys_find_z85(const keys_t *k, const char *z85)
{
        uint8_t key[KEYS_KEY_SIZE];
        if (!z85 || !keys_z85_decode(z85, strlen(z85), key))
                return NULL;
        return keys_find(k, key);
}

bool keys_quarantine(keys_t *k, const char *z85)
{
        uint8_t key[KEYS_KEY_SIZE];
        keys_entry_t *e;

        if (!k || !z85 || !keys_z85_decode(z85, strlen(z85), key) || k->n == 0)
                return false;
        e = bsearch(key, k->v, k->n, sizeof(k->v[0]), key_cmp);
        if (e)
                e->quarantined = true;
        return e != NULL;
}

static bool has_unit(const keys_entry_t *e, const char *unit)
{
        for (int i = 0; i < e->n_units; i++)
                if (strcmp(e->units[i], unit) == 0)
                        return true;
        return false;
}

bool keys_same_grant(const keys_entry_t *a, const keys_entry_t *b)
{
        if (strcmp(a->user, b->user) != 0 || a->role != b->role || a->n_units != b->n_units)
                return false;
        /* The loader refuses repeated units, so equal counts and a ⊆ b mean equal sets. */
        for (int i = 0; i < a->n_units; i++)
                if (!has_unit(b, a->units[i]))
                        return false;
        return true;
}

bool keys_revokes(const keys_t *old, const keys_t *fresh)
{
        for (size_t i = 0; old && i < old->n; i++) {
                const keys_entry_t *now = keys_find(fresh, old->v[i].key);
                if (!now || !keys_same_grant(&old->v[i], now))
                        return true;
        }
        return false;
}

void keys_identity(const keys_entry_t *e, acl_identity_t *who)
{
        memset(who, 0, sizeof(*who));
        bk_strlcpy(who->user, e->user, sizeof(who->user));
        who->role = e->role;
        who->n_units = e->n_units;
        for (int i = 0; i < e->n_units; i++)
                bk_strlcpy(who->units[i], e->units[i], sizeof(who->units[i]));
}

/* ---- key files --------------------------------------------------------------- */

/* The quoted value after `label =` in a czmq certificate. */
static bool cert_value(const char *text, const char *label, uint8_t out[KEYS_KEY_SIZE])
{
        size_t ll = strlen(label);

        for (const char *p = text; (p = strstr(p, label)) != NULL;) {
                const char *q = p + ll, *end;
                p = q;
                q += strspn(q, " \t");
                if (*q++ != '=')
                        continue;
                q += strspn(q, " \t");
                if (*q++ != '"')
                        continue;
                end = strchr(q, '"');
                if (end && keys_z85_decode(q, (size_t)(end - q), out))
                        return true;
        }
        return false;
}

/* The first whitespace- or quote-delimited token that is a Z85 key: a bare key file. */
static bool first_key(const char *text, uint8_t out[KEYS_KEY_SIZE])
{
        for (const char *p = text; *p;) {
                size_t n;
                p += strspn(p, " \t\r\n\"");
                n = strcspn(p, " \t\r\n\"");
                if (n == 0)
                        break;
                if (keys_z85_decode(p, n, out))
                        return true;
                p += n;
        }
        return false;
}

int keys_read_file(const char *path, const char *label, bool secret, uint8_t out[KEYS_KEY_SIZE],
                   char *err, size_t err_size)
{
        char text[8192];
        struct stat st;
        ssize_t n;
        int fd, r = BK_E_INVALID;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
                return BK_E_INVALID;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                snprintf(err, err_size, "%s: not a regular file", path);
                goto out;
        }
        if (secret && (st.st_mode & S_IRWXO)) {
                snprintf(err, err_size, "%s: a secret key must not be accessible to others "
                         "(mode %04o; chmod o= it)", path, (unsigned)(st.st_mode & 07777));
                goto out;
        }
        n = read(fd, text, sizeof(text) - 1);
        if (n < 0) {
                snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
                goto out;
        }
        text[n] = '\0';
        if (cert_value(text, label, out) || first_key(text, out))
                r = 0;
        else
                snprintf(err, err_size, "%s: no %s (a Z85 key, 40 characters, bare or as %s = \"…\")",
                         path, label, label);
        explicit_bzero(text, sizeof(text));
out:
        close(fd);
        return r;
}
