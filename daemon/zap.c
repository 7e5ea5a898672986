/*
 * zap.c owns the decisions behind bevakad's handshakes and subscriptions.
 * Nothing here touches a socket or a clock, so the fuzz targets in
 * tests/fuzz/ drive exactly the code the daemon runs. The ZAP handler
 * treats its input as hostile even though only libzmq writes it: it never
 * trusts a frame's length or content beyond what RFC 27 allows.
 */
#include <stdio.h>
#include "zap.h"

enum { REQ_VERSION = 0, REQ_ID, REQ_DOMAIN, REQ_ADDRESS, REQ_IDENTITY, REQ_MECHANISM, REQ_CREDENTIALS };

static bool frame_is(const zap_frame_t *f, const char *s)
{
        size_t n = strlen(s);
        return f->size == n && memcmp(f->data, s, n) == 0;
}

/* Printable ASCII only: the address goes to the log as is. */
static void printable(const zap_frame_t *f, char *out, size_t n)
{
        size_t k = 0;
        for (size_t i = 0; i < f->size && k + 1 < n; i++) {
                unsigned char c = f->data[i];
                out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        out[k] = '\0';
}

static void set_frame(zap_frame_t *f, const void *data, size_t size)
{
        f->data = data;
        f->size = size;
}

static void reply_status(zap_reply_t *out, zap_status_t status, const char *reason)
{
        out->status = status;
        out->reason = reason;
        snprintf(out->code, sizeof(out->code), "%d", (int)status);
        set_frame(&out->frames[2], out->code, 3);
        set_frame(&out->frames[3], reason, strlen(reason));
}

/* ZMTP metadata (RFC 23): name length, name, 4-byte big-endian value length, value. */
static size_t put_metadata(uint8_t *buf, const char *name, const char *value)
{
        size_t nl = strlen(name), vl = strlen(value), k = 0;
        buf[k++] = (uint8_t)nl;
        memcpy(buf + k, name, nl);
        k += nl;
        buf[k++] = (uint8_t)(vl >> 24);
        buf[k++] = (uint8_t)(vl >> 16);
        buf[k++] = (uint8_t)(vl >> 8);
        buf[k++] = (uint8_t)vl;
        memcpy(buf + k, value, vl);
        return k + vl;
}

void zap_handle(const keys_t *keys, const zap_frame_t *req, size_t n, zap_reply_t *out)
{
        const keys_entry_t *e;

        memset(out, 0, sizeof(*out));
        set_frame(&out->frames[0], "1.0", 3);
        set_frame(&out->frames[1], "", 0);
        set_frame(&out->frames[4], "", 0);
        set_frame(&out->frames[5], "", 0);
        if (n > REQ_ID)
                out->frames[1] = req[REQ_ID];
        if (n > REQ_ADDRESS)
                printable(&req[REQ_ADDRESS], out->address, sizeof(out->address));
        if (n < REQ_MECHANISM + 1 || !frame_is(&req[REQ_VERSION], "1.0")) {
                reply_status(out, ZAP_FAILED, "malformed ZAP request");
                return;
        }
        if (!frame_is(&req[REQ_MECHANISM], "CURVE")) {
                reply_status(out, ZAP_DENIED, "only CURVE is allowed");
                return;
        }
        if (n != REQ_CREDENTIALS + 1 || req[REQ_CREDENTIALS].size != KEYS_KEY_SIZE) {
                reply_status(out, ZAP_FAILED, "malformed CURVE credentials");
                return;
        }
        keys_fingerprint(req[REQ_CREDENTIALS].data, out->fingerprint);
        /* Our sockets all set ZAP_DOMAIN; anything else is not a socket of ours asking. */
        if (!frame_is(&req[REQ_DOMAIN], ZAP_DOMAIN)) {
                reply_status(out, ZAP_DENIED, "unknown ZAP domain");
                return;
        }
        e = keys_find(keys, req[REQ_CREDENTIALS].data);
        if (!e) {
                reply_status(out, ZAP_DENIED, "unknown key");
                return;
        }
        if (e->quarantined) {
                reply_status(out, ZAP_DENIED, "key quarantined until the key list is reloaded");
                return;
        }
        out->entry = e;
        reply_status(out, ZAP_OK, "OK");
        set_frame(&out->frames[4], e->user, strlen(e->user));
        set_frame(&out->frames[5], out->meta, put_metadata(out->meta, ZAP_META_KEY, e->z85));
}

bool zap_identity(const keys_t *keys, const char *user_id, const char *key_z85, acl_identity_t *who)
{
        const keys_entry_t *e = keys_find_z85(keys, key_z85);

        memset(who, 0, sizeof(*who));
        if (!e || e->quarantined || !user_id || strcmp(user_id, e->user) != 0) {
                bk_strlcpy(who->user, user_id && user_id[0] ? user_id : "unknown", sizeof(who->user));
                who->role = ROLE_NONE;
                return false;
        }
        keys_identity(e, who);
        return true;
}

zap_sub_t zap_subscription(const acl_identity_t *who, const uint8_t *msg, size_t len)
{
        if (len == 0 || msg[0] > 1)
                return ZAP_SUB_IGNORE;
        if (msg[0] == 0)
                return ZAP_SUB_CANCEL;
        return acl_may_subscribe(who, (const char *)msg + 1, len - 1) ? ZAP_SUB_GRANT : ZAP_SUB_REFUSE;
}
