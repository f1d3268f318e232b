/* Second factor: time-based one-time passwords (RFC 6238: HMAC-SHA1, 30 s
 * steps, 6 digits — what every authenticator app speaks). A role listed in
 * the setting totp.required_roles must enrol; an enrolled user always needs a
 * code. A code is accepted once: the step it used is remembered and any code
 * of that step or an earlier one is refused (no replay). Enrolment shows a QR
 * code (libqrencode, drawn as SVG by us) and becomes active only after the
 * first valid code. */
#include "auth/auth.h"
#include "auth/totp.h"
#include "base/crypto.h"
#include "base/fieldcrypt.h"
#include "base/timeutil.h"
#include "db/db.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static void base32(const unsigned char *in, size_t n, char *out) {
    size_t o = 0; unsigned buf = 0; int bits = 0;
    for (size_t i = 0; i < n; i++) {
        buf = (buf << 8) | in[i]; bits += 8;
        while (bits >= 5) { out[o++] = b32[(buf >> (bits - 5)) & 31]; bits -= 5; }
    }
    if (bits) out[o++] = b32[(buf << (5 - bits)) & 31];
    out[o] = 0;
}

static int unbase32(const char *in, unsigned char *out, size_t cap) {
    size_t o = 0; unsigned buf = 0; int bits = 0;
    for (const char *p = in; *p; p++) {
        const char *x = strchr(b32, *p);
        if (!x || !*p) return -1;
        buf = (buf << 5) | (unsigned)(x - b32); bits += 5;
        if (bits >= 8) { if (o >= cap) return -1; out[o++] = (unsigned char)(buf >> (bits - 8)); bits -= 8; }
    }
    return (int)o;
}

int totp_code(const char *secret_b32, int64_t step) {
    unsigned char key[64];
    int kl = unbase32(secret_b32, key, sizeof key);
    if (kl <= 0) return -1;
    unsigned char msg[8];
    for (int i = 7; i >= 0; i--) { msg[i] = (unsigned char)(step & 0xff); step >>= 8; }
    unsigned char md[EVP_MAX_MD_SIZE]; unsigned int ml = 0;
    if (!HMAC(EVP_sha1(), key, kl, msg, 8, md, &ml)) return -1;
    int off = md[ml - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(md[off] & 0x7f) << 24) | ((uint32_t)md[off + 1] << 16) | ((uint32_t)md[off + 2] << 8) | md[off + 3];
    return (int)(bin % 1000000);
}

/* Step of CODE within ±1 step of now, or -1. */
static int64_t match_step(const char *secret, const char *code) {
    if (!code || strlen(code) != 6 || strspn(code, "0123456789") != 6) return -1;
    int want = atoi(code);
    int64_t now = now_unix() / 30;
    for (int64_t s = now - 1; s <= now + 1; s++) if (totp_code(secret, s) == want) return s;
    return -1;
}

static const char *ctx_of(arena *a, int64_t uid) { return arena_printf(a, "users.totp|%lld", (long long)uid); }

bool totp_required_for(arena *a, const user_ctx *u) {
    char *roles = setting_text_cached(a, "totp.required_roles", "");
    char mine[96]; snprintf(mine, sizeof mine, "%s", u->roles);
    for (char *sv = NULL, *t = strtok_r(roles, ", ", &sv); t; t = strtok_r(NULL, ", ", &sv)) {
        char tmp[96]; snprintf(tmp, sizeof tmp, "%s", mine);
        for (char *sv2 = NULL, *x = strtok_r(tmp, ",", &sv2); x; x = strtok_r(NULL, ",", &sv2))
            if (strcmp(t, x) == 0) return true;
    }
    return false;
}

enum totp_result totp_check_login(arena *a, const user_ctx *u, const char *code) {
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT totp_secret, totp_last_step FROM users WHERE id = ?");
    db_bind_int(s, 1, u->id);
    char *sealed = NULL; int64_t last = 0;
    if (db_step(s) == DB_ROW) { sealed = arena_strdup(a, db_col_text(s, 0)); last = db_col_null(s, 1) ? 0 : db_col_int(s, 1); }
    db_reset(s);
    if (!sealed) return totp_required_for(a, u) ? TOTP_ENROL : TOTP_NOT_USED;
    if (!code || !*code) return TOTP_MISSING;
    char *secret = fc_open(a, sealed, ctx_of(a, u->id));
    if (!secret) return TOTP_BAD;
    int64_t step = match_step(secret, code);
    if (step < 0 || step <= last) return TOTP_BAD;    /* wrong, or a code already used */
    /* Remember the step only if nobody used it in between (two logins racing). */
    s = db_prep(d, "UPDATE users SET totp_last_step = ? WHERE id = ? AND COALESCE(totp_last_step, 0) < ?");
    db_bind_int(s, 1, step); db_bind_int(s, 2, u->id); db_bind_int(s, 3, step);
    int rc = db_step(s); db_reset(s);
    return rc == DB_DONE && db_changes(d) == 1 ? TOTP_OK : TOTP_BAD;
}

/* The QR code as an SVG (black modules on white, 4-module quiet zone). */
static char *qr_svg(const char *text) {
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q) return NULL;
    int w = q->width, m = 4, size = w + 2 * m;
    size_t cap = (size_t)w * (size_t)w * 40 + 512;
    char *svg = malloc(cap), *o = svg;
    o += sprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
                    "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"", size, size, size, size);
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++)
            if (q->data[y * w + x] & 1) o += sprintf(o, "M%d %dh1v1h-1z", x + m, y + m);
    sprintf(o, "\"/></svg>");
    QRcode_free(q);
    return svg;
}

static void totp_setup(req *r) {
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    unsigned char raw[20]; crypto_random(raw, sizeof raw);
    char secret[40]; base32(raw, sizeof raw, secret);
    db *d = db_thread();
    db_begin(d);
    db_stmt *s = db_prep(d, "UPDATE users SET totp_pending = ? WHERE id = ?");
    db_bind_text(s, 1, fc_seal(a, secret, arena_printf(a, "users.totp_pending|%lld", (long long)u->id)));
    db_bind_int(s, 2, u->id);
    int rc = db_step(s); db_reset(s);
    if (rc != DB_DONE || audit_event(r, "totp.setup", "user", u->username, "ok", NULL) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d); reply_error(r, 500, "internal", NULL, "生成动态口令密钥失败"); return;
    }
    char *issuer = setting_text(a, "bureau.name", "vets");
    char *uri = arena_printf(a, "otpauth://totp/vets:%s?secret=%s&issuer=vets&algorithm=SHA1&digits=6&period=30", u->username, secret);
    char *svg = qr_svg(uri);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s?}", "secret", secret, "otpauth_uri", uri, "issuer", issuer, "qr_svg", svg);
    free(svg);
    reply_json(r, 200, j);
}

static const char *const confirm_keys[] = {"code", NULL};

static void totp_confirm(req *r) {
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, confirm_keys)) return;
    bool bad = false;
    const char *code = json_str_field(r, b, "code", "动态口令", 6, &bad);
    if (bad) return;
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT totp_pending FROM users WHERE id = ?");
    db_bind_int(s, 1, u->id);
    char *pending = db_step(s) == DB_ROW ? arena_strdup(a, db_col_text(s, 0)) : NULL;
    db_reset(s);
    char *secret = pending ? fc_open(a, pending, arena_printf(a, "users.totp_pending|%lld", (long long)u->id)) : NULL;
    if (!secret) { reply_error(r, 409, "conflict", NULL, "请先生成动态口令密钥"); return; }
    int64_t step = match_step(secret, code);
    if (step < 0) { reply_error(r, 422, "validation_failed", "code", "动态口令不正确，请核对手机时间后重试"); return; }
    db_begin(d);
    s = db_prep(d, "UPDATE users SET totp_secret = ?, totp_last_step = ?, totp_pending = NULL, version = version + 1 WHERE id = ?");
    db_bind_text(s, 1, fc_seal(a, secret, ctx_of(a, u->id)));
    db_bind_int(s, 2, step); db_bind_int(s, 3, u->id);
    int rc = db_step(s); db_reset(s);
    db_cache_invalidate(d);
    if (rc != DB_DONE || audit_event(r, "totp.enrol", "user", u->username, "ok", NULL) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d); reply_error(r, 500, "internal", NULL, "启用动态口令失败"); return;
    }
    u->must_enrol_totp = false;
    reply_json(r, 200, json_pack("{s:b}", "enabled", 1));
}

static void totp_reset(req *r) {
    int64_t id = req_param_id(r, 0);
    user_ctx *me = current_user(r);
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT u.username FROM users u JOIN stations st ON st.id = u.station_id "
                            "WHERE u.id = ? AND st.region_code BETWEEN ? AND ?");
    db_bind_int(s, 1, id); db_bind_text(s, 2, me->scope_lo); db_bind_text(s, 3, me->scope_hi);
    char *name = db_step(s) == DB_ROW ? arena_strdup(req_arena(r), db_col_text(s, 0)) : NULL;
    db_reset(s);
    if (!name) { reply_error(r, 404, "not_found", NULL, "用户不存在"); return; }
    db_begin(d);
    s = db_prep(d, "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL, version = version + 1 WHERE id = ?");
    db_bind_int(s, 1, id);
    int rc = db_step(s); db_reset(s);
    db_cache_invalidate(d);
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (rc != DB_DONE || audit_event(r, "totp.reset", "user", ids, "ok", json_pack("{s:s}", "username", name)) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d); reply_error(r, 500, "internal", NULL, "重置失败"); return;
    }
    reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

const struct route totp_routes[] = {
    {"POST", "/api/v1/auth/totp/setup", "self", totp_setup, ROUTE_PRE_CHANGE},
    {"POST", "/api/v1/auth/totp/confirm", "self", totp_confirm, ROUTE_PRE_CHANGE},
    {"POST", "/api/v1/users/{id}/reset-totp", "user.write", totp_reset, 0},
};
const size_t totp_routes_count = sizeof totp_routes / sizeof *totp_routes;
