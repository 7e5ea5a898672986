/*
 * keys.h owns the key list in memory: which CURVE public keys may connect
 * to bevakad and who each one is (user id, role, units), as
 * config_load_keys() read it from the libconfig key-list file. It also owns
 * the small, pure key vocabulary the rest shares: Z85 (RFC 32) encoding
 * without libzmq, the 8-character fingerprint that logs show instead of a
 * whole key, and reading a key from a file in either format the client
 * library accepts (a bare Z85 key, or a czmq certificate with
 * `public-key = "…"` / `secret-key = "…"`). Lookups are by the raw
 * 32-byte key, over an array sorted once at load time.
 */
#pragma once

#include "acl.h"

#define KEYS_KEY_SIZE 32
#define KEYS_Z85_LEN 40
#define KEYS_FP_LEN 8
#define KEYS_MAX_UNITS ACL_MAX_UNITS

typedef struct keys_entry {
        uint8_t key[KEYS_KEY_SIZE];
        char z85[KEYS_Z85_LEN + 1];
        char user[EV_NAME_MAX + 1];
        acl_role_t role;                        /* never ROLE_NONE */
        int n_units;
        char units[KEYS_MAX_UNITS][EV_NAME_MAX + 1];
        unsigned line;                          /* where the key list defines it */
        /*
         * Set at run time, never by the file: the key's peer broke the
         * subscription protocol (bus.c), so the handshake refuses it until
         * the key list is next loaded.
         */
        bool quarantined;
} keys_entry_t;

typedef struct keys {
        keys_entry_t *v;                        /* sorted by key after keys_finish */
        size_t n, cap;
} keys_t;

/* Z85 of exactly 32 bytes (40 characters); false for anything else. */
bool keys_z85_decode(const char *s, size_t len, uint8_t out[KEYS_KEY_SIZE]);
void keys_z85_encode(const uint8_t key[KEYS_KEY_SIZE], char out[KEYS_Z85_LEN + 1]);
/* The first 8 characters of the key's Z85 text: enough to tell keys apart in a log. */
void keys_fingerprint(const uint8_t key[KEYS_KEY_SIZE], char out[KEYS_FP_LEN + 1]);

/* Appends a copy (unsorted until keys_finish). -ENOMEM. */
int keys_add(keys_t *k, const keys_entry_t *e);
/*
 * Sorts; returns 0, or BK_E_DUPLICATE with *dup_a / *dup_b pointing at two
 * entries with the same key (the earlier line first).
 */
int keys_finish(keys_t *k, const keys_entry_t **dup_a, const keys_entry_t **dup_b);
void keys_clear(keys_t *k);
void keys_free(keys_t **k);

const keys_entry_t *keys_find(const keys_t *k, const uint8_t key[KEYS_KEY_SIZE]);
/* By the Z85 text a ZAP reply put in a peer's metadata; NULL if not 40 valid characters. */
const keys_entry_t *keys_find_z85(const keys_t *k, const char *z85);
/* Marks a key quarantined (see keys_entry_t); false if it is not listed. */
bool keys_quarantine(keys_t *k, const char *z85);
/* Same user, role and units (units in any order). */
bool keys_same_grant(const keys_entry_t *a, const keys_entry_t *b);
/* Whether going from `old` to `fresh` takes anything away: a key removed or its grant changed. */
bool keys_revokes(const keys_t *old, const keys_t *fresh);
void keys_identity(const keys_entry_t *e, acl_identity_t *who);

/*
 * Reads a key from `path`: the quoted value after `label` ("public-key" or
 * "secret-key") of a czmq certificate, else the first Z85 key token in the
 * file. With `secret`, a file that others may read is refused (a secret key
 * anyone on the host can copy is no secret). 0, or BK_E_INVALID with a
 * one-line reason in err.
 */
int keys_read_file(const char *path, const char *label, bool secret, uint8_t out[KEYS_KEY_SIZE],
                   char *err, size_t err_size);
