/*
 * test-keys.c checks the security layer's pure parts: the Z85 codec
 * (against RFC 32's vector and libzmq's own codec), key files in both
 * formats, config_load_keys() with the exact message of each kind of
 * error, lookups and revocation. test-zap has the ZAP handler, the
 * identity behind message metadata and the subscription authorizer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zmq.h>
#include "config.h"
#include "keys.h"
#include "tap.h"

static char tmp[256];

static void write_file(const char *name, const char *text, mode_t mode, char *path, size_t n)
{
        FILE *f;

        snprintf(path, n, "%s/%s", tmp, name);
        f = fopen(path, "w");
        if (!f) {
                perror(path);
                exit(2);
        }
        fputs(text, f);
        fclose(f);
        chmod(path, mode);
}

/* A distinct, valid key per seed, and its Z85 text. */
static void make_key(int seed, uint8_t key[KEYS_KEY_SIZE], char z85[KEYS_Z85_LEN + 1])
{
        for (int i = 0; i < KEYS_KEY_SIZE; i++)
                key[i] = (uint8_t)(seed * 37 + i * 11);
        keys_z85_encode(key, z85);
}

static void test_z85(void)
{
        /* RFC 32's test vector is 8 bytes; our codec is for whole keys, so check it through a key. */
        static const uint8_t hello[8] = { 0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B };
        uint8_t key[32] = { 0 }, back[32], zkey[32];
        char z[41], zz[41];

        memcpy(key, hello, 8);
        keys_z85_encode(key, z);
        CHECK(strncmp(z, "HelloWorld", 10) == 0);
        CHECK(keys_z85_decode(z, 40, back));
        CHECK(memcmp(key, back, 32) == 0);

        /* Same as libzmq's codec, both ways, for many keys. */
        for (int seed = 0; seed < 200; seed++) {
                for (int i = 0; i < 32; i++)
                        key[i] = (uint8_t)(rand() & 0xff);
                keys_z85_encode(key, z);
                zmq_z85_encode(zz, key, 32);
                CHECK_STR(z, zz);
                CHECK(keys_z85_decode(zz, 40, back) && memcmp(back, key, 32) == 0);
                CHECK(zmq_z85_decode(zkey, z) && memcmp(zkey, key, 32) == 0);
        }
        /* Wrong length, a character outside the alphabet, a group above 2^32 - 1. */
        CHECK(!keys_z85_decode(z, 39, back));
        CHECK(!keys_z85_decode("HelloWorldHelloWorldHelloWorldHelloWorl~", 40, back));
        CHECK(!keys_z85_decode("HelloWorldHelloWorldHelloWorldHelloWorl\"", 40, back));
        CHECK(!keys_z85_decode("#####HelloWorldHelloWorldHelloWorldHello", 40, back));
        CHECK(keys_z85_decode("%nSc0HelloWorldHelloWorldHelloWorldHello", 40, back));   /* 2^32 - 1 */
        CHECK(back[0] == 0xff && back[1] == 0xff && back[2] == 0xff && back[3] == 0xff);

        make_key(1, key, z);
        keys_fingerprint(key, zz);
        CHECK_INT(strlen(zz), 8);
        CHECK(strncmp(z, zz, 8) == 0);
}

static void test_key_files(void)
{
        uint8_t key[32], got[32];
        char z[41], text[512], path[512], err[512];

        make_key(2, key, z);
        /* A bare key, with whitespace around it. */
        snprintf(text, sizeof(text), "\n  %s\n", z);
        write_file("bare.pub", text, 0644, path, sizeof(path));
        CHECK_INT(keys_read_file(path, "public-key", false, got, err, sizeof(err)), 0);
        CHECK(memcmp(got, key, 32) == 0);
        /* A czmq certificate: the labelled key is taken, not the first one in the file. */
        uint8_t other[32];
        char zo[41];
        make_key(3, other, zo);
        snprintf(text, sizeof(text), "#   ZeroMQ CURVE **Secret** Certificate\n\nmetadata\ncurve\n"
                                     "    public-key = \"%s\"\n    secret-key = \"%s\"\n", zo, z);
        write_file("cert.key", text, 0600, path, sizeof(path));
        CHECK_INT(keys_read_file(path, "secret-key", true, got, err, sizeof(err)), 0);
        CHECK(memcmp(got, key, 32) == 0);
        CHECK_INT(keys_read_file(path, "public-key", false, got, err, sizeof(err)), 0);
        CHECK(memcmp(got, other, 32) == 0);
        /* A secret others may read is refused; group-readable is the packaging's choice. */
        chmod(path, 0644);
        CHECK_INT(keys_read_file(path, "secret-key", true, got, err, sizeof(err)), BK_E_INVALID);
        CHECK(strstr(err, "must not be accessible to others") != NULL);
        chmod(path, 0640);
        CHECK_INT(keys_read_file(path, "secret-key", true, got, err, sizeof(err)), 0);
        /* Nothing usable; missing. */
        write_file("junk.pub", "public-key = \"short\"\nnot a key\n", 0644, path, sizeof(path));
        CHECK_INT(keys_read_file(path, "public-key", false, got, err, sizeof(err)), BK_E_INVALID);
        CHECK(strstr(err, "no public-key") != NULL);
        snprintf(path, sizeof(path), "%s/missing.pub", tmp);
        CHECK_INT(keys_read_file(path, "public-key", false, got, err, sizeof(err)), BK_E_INVALID);
        CHECK(strstr(err, "cannot read") != NULL);
}

/* Loads `text` as a key list; on failure err holds the message with tmp's path cut off. */
static int load_list(const char *text, keys_t *k, char *err, size_t n)
{
        char path[512], full[1024];
        int r;

        write_file("keys.list", text, 0644, path, sizeof(path));
        r = config_load_keys(path, k, full, sizeof(full));
        snprintf(err, n, "%s", strncmp(full, tmp, strlen(tmp)) == 0 ? full + strlen(tmp) + 1 : full);
        return r;
}

static void expect_list_error(int line, const char *text, const char *want)
{
        keys_t k = { 0 };
        char err[1024];

        if (load_list(text, &k, err, sizeof(err)) != BK_E_INVALID || strcmp(err, want) != 0) {
                tap_fail++;
                fprintf(stderr, "FAIL %s:%d: want \"%s\", got \"%s\"\n", __FILE__, line, want, err);
        } else {
                tap_pass++;
        }
        CHECK(k.n == 0 && k.v == NULL);
}
#define EXPECT_LIST_ERROR(text, want) expect_list_error(__LINE__, text, want)

static void test_key_list(void)
{
        char za[41], zb[41], zc[41], zd[41], text[4096], err[1024];
        uint8_t a[32], b[32], c[32], d[32];
        keys_t k = { 0 }, k2 = { 0 };
        const keys_entry_t *e;

        make_key(10, a, za);
        make_key(11, b, zb);
        make_key(12, c, zc);
        make_key(13, d, zd);
        snprintf(text, sizeof(text),
                 "# the key list\n"
                 "keys = (\n"
                 "  { key = \"%s\"; user = \"hk1\"; role = \"caseworker\"; units = [ \"HV-EB-1\" ];\n"
                 "    comment = \"laptop\"; },\n"
                 "  { key = \"%s\"; user = \"hk1\"; role = \"caseworker\"; units = [ \"HV-EB-1\" ]; },\n"
                 "  { key = \"%s\"; user = \"lead1\"; role = \"lead\"; units = [ \"HV-EB-1\", \"HV-EB-2\" ]; },\n"
                 "  { key = \"%s\"; user = \"ops\"; role = \"admin\"; }\n"
                 ");\n", za, zb, zc, zd);
        CHECK_INT(load_list(text, &k, err, sizeof(err)), 0);
        CHECK_STR(err, "");
        CHECK_INT(k.n, 4);
        e = keys_find(&k, c);
        CHECK(e && strcmp(e->user, "lead1") == 0 && e->role == ROLE_LEAD && e->n_units == 2);
        CHECK(e && e->line == 6);
        CHECK(keys_find_z85(&k, za) && strcmp(keys_find_z85(&k, za)->user, "hk1") == 0);
        CHECK(keys_find_z85(&k, "nonsense") == NULL);
        CHECK(keys_find_z85(&k, NULL) == NULL);
        e = keys_find(&k, d);
        CHECK(e && e->role == ROLE_ADMIN && e->n_units == 0);
        CHECK_STR(e ? e->z85 : NULL, zd);

        acl_identity_t who;
        keys_identity(keys_find(&k, c), &who);
        CHECK_STR(who.user, "lead1");
        CHECK(who.role == ROLE_LEAD && who.n_units == 2);
        CHECK_STR(who.units[1], "HV-EB-2");

        /* Revocation: the same list revokes nothing; a removed key or a changed grant does. */
        CHECK_INT(load_list(text, &k2, err, sizeof(err)), 0);
        CHECK(!keys_revokes(&k, &k2));
        keys_clear(&k2);
        snprintf(text, sizeof(text),
                 "keys = ( { key = \"%s\"; user = \"hk1\"; role = \"caseworker\"; units = [ \"HV-EB-1\" ]; },\n"
                 "  { key = \"%s\"; user = \"lead1\"; role = \"lead\"; units = [ \"HV-EB-2\", \"HV-EB-1\" ]; },\n"
                 "  { key = \"%s\"; user = \"ops\"; role = \"admin\"; } );\n", za, zc, zd);
        CHECK_INT(load_list(text, &k2, err, sizeof(err)), 0);
        CHECK(keys_revokes(&k, &k2));           /* b is gone */
        CHECK(!keys_revokes(&k2, &k));          /* adding b back takes nothing away */
        keys_clear(&k2);
        snprintf(text, sizeof(text),
                 "keys = ( { key = \"%s\"; user = \"hk1\"; role = \"caseworker\"; units = [ \"HV-EB-1\" ]; },\n"
                 "  { key = \"%s\"; user = \"hk1\"; role = \"caseworker\"; units = [ \"HV-EB-1\" ]; },\n"
                 "  { key = \"%s\"; user = \"lead1\"; role = \"lead\"; units = [ \"HV-EB-1\" ]; },\n"
                 "  { key = \"%s\"; user = \"ops\"; role = \"admin\"; } );\n", za, zb, zc, zd);
        CHECK_INT(load_list(text, &k2, err, sizeof(err)), 0);
        CHECK(keys_revokes(&k, &k2));           /* lead1 lost a unit */
        keys_clear(&k2);
        CHECK_INT(load_list("keys = ();\n", &k2, err, sizeof(err)), 0);
        CHECK_INT(k2.n, 0);
        CHECK(keys_revokes(&k, &k2));
        CHECK(!keys_revokes(&k2, &k));
        keys_clear(&k2);
        keys_clear(&k);

        /* Errors: the first one going down the file, as FILE:LINE: setting: problem. */
        EXPECT_LIST_ERROR("keys = (\n", "keys.list:2: syntax: syntax error");
        EXPECT_LIST_ERROR("", "keys.list:1: keys: missing: a list ( { key = \"…\"; user = \"…\"; role = \"…\"; "
                              "units = [ \"…\" ]; }, … )");
        EXPECT_LIST_ERROR("keys = ();\nkey = 1;\n", "keys.list:2: key: unknown setting (a key list has only `keys`)");
        EXPECT_LIST_ERROR("keys = { a = 1; };\n",
                          "keys.list:1: keys: must be a list of groups ( { key = …; user = …; … }, … )");
        EXPECT_LIST_ERROR("keys = ( 1 );\n", "keys.list:1: keys[0]: must be a group { … }");
        snprintf(text, sizeof(text), "keys = ( { key = \"%s\"; role = \"admin\"; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:1: keys[0].user: missing (required)");
        EXPECT_LIST_ERROR("keys = ( { key = \"abc\"; user = \"u\"; role = \"admin\"; } );\n",
                          "keys.list:1: keys[0].key: must be a CURVE public key in Z85 (40 characters), "
                          "as `bevakactl keygen` prints it");
        snprintf(text, sizeof(text), "keys = (\n { key = \"%s\"; user = \"u\"; role = \"boss\"; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:2: keys[0].role: must be one of caseworker, lead, admin, feed");
        snprintf(text, sizeof(text), "keys = ( { key = \"%s\"; user = \"u\"; role = \"none\"; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:1: keys[0].role: must be one of caseworker, lead, admin, feed");
        snprintf(text, sizeof(text), "keys = ( { key = \"%s\"; user = \"@leads\"; role = \"lead\"; units = [\"U\"]; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:1: keys[0].user: must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
        snprintf(text, sizeof(text), "keys = ( { key = \"%s\"; user = \"a/b\"; role = \"admin\"; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:1: keys[0].user: must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
        snprintf(text, sizeof(text), "keys = ( { key = \"%s\"; user = \"hk1\"; role = \"caseworker\"; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:1: keys[0].units: a caseworker needs at least one unit");
        snprintf(text, sizeof(text), "keys = ( { key = \"%s\"; user = \"hk1\"; role = \"lead\"; units = []; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:1: keys[0].units: a lead needs at least one unit");
        snprintf(text, sizeof(text), "keys = ( { key = \"%s\"; user = \"hk1\"; role = \"lead\";\n"
                                     "  units = [ \"U/1\" ]; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:2: keys[0].units[0]: must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
        snprintf(text, sizeof(text), "keys = ( { key = \"%s\"; user = \"hk1\"; role = \"lead\";\n"
                                     "  units = [ \"U\", \"U\" ]; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:2: keys[0].units[1]: listed twice");
        snprintf(text, sizeof(text), "keys = ( { key = \"%s\"; user = \"hk1\"; role = \"lead\"; units = [ 1 ]; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:1: keys[0].units[0]: must be a string");
        snprintf(text, sizeof(text), "keys = ( { key = \"%s\"; user = \"hk1\"; role = \"admin\"; colour = 1; } );\n", za);
        EXPECT_LIST_ERROR(text, "keys.list:1: keys[0].colour: unknown setting");
        snprintf(text, sizeof(text), "keys = (\n { key = \"%s\"; user = \"a\"; role = \"admin\"; },\n"
                                     " { key = \"%s\"; user = \"b\"; role = \"admin\"; },\n"
                                     " { key = \"%s\"; user = \"c\"; role = \"admin\"; } );\n", za, zb, za);
        EXPECT_LIST_ERROR(text, "keys.list:4: keys: the same key is listed at line 2");
        snprintf(text, sizeof(text), "keys = (\n { key = \"%s\"; user = \"hk1\"; role = \"caseworker\"; units = [\"U\"]; },\n"
                                     " { key = \"%s\"; user = \"hk1\"; role = \"lead\"; units = [\"U\"]; } );\n", za, zb);
        EXPECT_LIST_ERROR(text, "keys.list:3: keys: user hk1 has another role or other units at line 2 "
                                "(all keys of one user share one grant)");
        CHECK_INT(config_load_keys("", &k, err, sizeof(err)), BK_E_INVALID);
        char missing[512];
        snprintf(missing, sizeof(missing), "%s/none.list", tmp);
        CHECK_INT(config_load_keys(missing, &k, err, sizeof(err)), BK_E_INVALID);
        CHECK(strstr(err, "cannot read") != NULL);
}

int main(void)
{
        snprintf(tmp, sizeof(tmp), "/tmp/test-keys-XXXXXX");
        if (!mkdtemp(tmp)) {
                perror("mkdtemp");
                return 2;
        }
        test_z85();
        test_key_files();
        test_key_list();
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", tmp);
        return tap_done();
}
