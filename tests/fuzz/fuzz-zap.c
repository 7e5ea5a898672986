/*
 * fuzz-zap.c feeds arbitrary ZAP requests to zap_handle(), the decision
 * bevakad's ZAP handler sends back to libzmq, and arbitrary metadata to
 * zap_identity(). The input is a sequence of frames, each a length byte
 * and that many bytes (a short last frame takes what is left), over a
 * fixed key list of every role with one key quarantined. The reply must
 * always be six well-formed RFC 27 frames: status 200 only for a listed,
 * unquarantined key offered as CURVE credentials in our domain, with that
 * key's user id and exactly one metadata property holding that key; 400 or
 * 500 otherwise with no user id; the address printable. Seeds in
 * tests/fuzz/corpus/fuzz-zap/ start it on well-formed requests.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "acl.h"
#include "keys.h"
#include "zap.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { \
                fprintf(stderr, "fuzz-zap: invariant broken: %s\n", #cond); abort(); } } while (0)

#define MAX_FRAMES 10

static keys_t list;

/* The key of seed n: the same bytes the seed corpus holds (byte i = n * 37 + i * 11). */
static void key_of(int n, uint8_t key[KEYS_KEY_SIZE])
{
        for (int i = 0; i < KEYS_KEY_SIZE; i++)
                key[i] = (uint8_t)(n * 37 + i * 11);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        static const struct { const char *user; int role; const char *unit; } who[] = {
                { "hkA", ROLE_CASEWORKER, "U" }, { "leadU", ROLE_LEAD, "U" }, { "ops", ROLE_ADMIN, NULL },
                { "paraply", ROLE_FEED, NULL }, { "mallory", ROLE_CASEWORKER, "U" },
        };
        const keys_entry_t *a, *b;
        (void)argc;
        (void)argv;

        for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
                keys_entry_t e = { .role = who[i].role, .line = (unsigned)i + 1 };
                key_of((int)i + 1, e.key);
                keys_z85_encode(e.key, e.z85);
                snprintf(e.user, sizeof(e.user), "%s", who[i].user);
                if (who[i].unit) {
                        snprintf(e.units[0], sizeof(e.units[0]), "%s", who[i].unit);
                        e.n_units = 1;
                }
                e.quarantined = strcmp(who[i].user, "mallory") == 0;
                if (keys_add(&list, &e) != 0)
                        abort();
        }
        if (keys_finish(&list, &a, &b) != 0)
                abort();
        return 0;
}

static bool same(const zap_frame_t *f, const char *s)
{
        return f->size == strlen(s) && memcmp(f->data, s, f->size) == 0;
}

/* A C string copy of a frame, for the metadata strings zap_identity takes. */
static char *cstr(const zap_frame_t *f)
{
        char *s = malloc(f->size + 1);
        if (s) {
                memcpy(s, f->data, f->size);
                s[f->size] = '\0';
        }
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        zap_frame_t req[MAX_FRAMES];
        uint8_t *copy = malloc(size ? size : 1);
        size_t n = 0, off = 0;
        zap_reply_t rep;

        if (!copy)
                return 0;
        /* Frames point into an exact-size heap copy, so ASan sees any read past one. */
        memcpy(copy, data, size);
        while (off < size && n < MAX_FRAMES) {
                size_t len = copy[off++];
                if (len > size - off)
                        len = size - off;
                req[n++] = (zap_frame_t){ copy + off, len };
                off += len;
        }
        zap_handle(&list, req, n, &rep);

        REQUIRE(rep.status == ZAP_OK || rep.status == ZAP_DENIED || rep.status == ZAP_FAILED);
        REQUIRE(same(&rep.frames[0], "1.0"));
        REQUIRE(rep.frames[2].size == 3 && rep.frames[2].data[0] == '0' + (int)rep.status / 100 &&
                rep.frames[2].data[1] == '0' && rep.frames[2].data[2] == '0');
        REQUIRE(rep.reason && same(&rep.frames[3], rep.reason));
        if (n > 1)
                REQUIRE(rep.frames[1].data == req[1].data && rep.frames[1].size == req[1].size);
        else
                REQUIRE(rep.frames[1].size == 0);
        for (const char *p = rep.address; *p; p++)
                REQUIRE(*p >= 0x20 && *p < 0x7f);
        REQUIRE(rep.fingerprint[0] == '\0' || strlen(rep.fingerprint) == KEYS_FP_LEN);

        if (rep.status == ZAP_OK) {
                const keys_entry_t *e = rep.entry;
                const uint8_t *meta = rep.frames[5].data;
                size_t mlen = rep.frames[5].size, nl, vl;

                REQUIRE(n == 7 && same(&req[0], "1.0") && same(&req[2], ZAP_DOMAIN) && same(&req[5], "CURVE"));
                REQUIRE(req[6].size == KEYS_KEY_SIZE && e && keys_find(&list, req[6].data) == e);
                REQUIRE(!e->quarantined);
                REQUIRE(same(&rep.frames[4], e->user));
                /* One ZMTP property: name length, name, 32-bit big-endian value length, value. */
                REQUIRE(mlen >= 1);
                nl = meta[0];
                REQUIRE(mlen >= 1 + nl + 4);
                REQUIRE(nl == strlen(ZAP_META_KEY) && memcmp(meta + 1, ZAP_META_KEY, nl) == 0);
                vl = (size_t)meta[1 + nl] << 24 | (size_t)meta[2 + nl] << 16 | (size_t)meta[3 + nl] << 8 | meta[4 + nl];
                REQUIRE(mlen == 1 + nl + 4 + vl && vl == KEYS_Z85_LEN);
                REQUIRE(memcmp(meta + 5 + nl, e->z85, KEYS_Z85_LEN) == 0);
        } else {
                REQUIRE(rep.entry == NULL);
                REQUIRE(rep.frames[4].size == 0 && rep.frames[5].size == 0);
        }

        /* The same bytes as a message's metadata: User-Id and the key property. */
        if (n >= 2) {
                char *user = cstr(&req[0]), *key = cstr(&req[1]);
                acl_identity_t who;
                bool known = user && key && zap_identity(&list, user, key, &who);
                if (known) {
                        const keys_entry_t *e = keys_find_z85(&list, key);
                        REQUIRE(e && !e->quarantined && strcmp(e->user, user) == 0);
                        REQUIRE((int)who.role == e->role && strcmp(who.user, e->user) == 0);
                } else if (user && key) {
                        REQUIRE(who.role == ROLE_NONE);
                }
                free(user);
                free(key);
        }
        free(copy);
        return 0;
}
