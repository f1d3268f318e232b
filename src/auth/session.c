/* Sessions and the request guard. A session is a 256-bit random token in an
 * HttpOnly, SameSite=Strict cookie; the database keeps only its SHA-256, so
 * sessions live in the database (any node can check them) and a copied table
 * cannot be replayed. Idle and absolute limits are settings. The guard runs
 * before every handler: session → forced password change → CSRF → permission,
 * and audits every refusal. */
#include "auth/auth.h"
#include "auth/ratelimit.h"
#include "auth/totp.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/tcache.h"
#include "base/timeutil.h"
#include "db/db.h"
#include <stdio.h>
#include <string.h>

#define COOKIE "vets_session"

/* What the database says of user ID, without the flags derived from the
 * clock and the settings: 0, -1 no such user, -2 deactivated. */
static int user_load_raw(int64_t id, user_ctx *u) {
    db *d = db_thread();
    db_stmt *s = db_prep(d,
        "SELECT u.id, u.username, u.name, u.station_id, s.name, s.level, s.region_code, g.name, "
        "u.must_change_password, u.password_changed_at, u.active, u.totp_secret IS NULL "
        "FROM users u JOIN stations s ON s.id = u.station_id JOIN regions g ON g.code = s.region_code "
        "WHERE u.id = ?");
    db_bind_int(s, 1, id);
    if (db_step(s) != DB_ROW) { db_reset(s); return -1; }
    memset(u, 0, sizeof *u);
    u->id = db_col_int(s, 0);
    snprintf(u->username, sizeof u->username, "%s", db_col_text(s, 1));
    snprintf(u->name, sizeof u->name, "%s", db_col_text(s, 2));
    u->station_id = db_col_int(s, 3);
    snprintf(u->station_name, sizeof u->station_name, "%s", db_col_text(s, 4));
    snprintf(u->station_level, sizeof u->station_level, "%s", db_col_text(s, 5));
    snprintf(u->region_code, sizeof u->region_code, "%s", db_col_text(s, 6));
    snprintf(u->region_name, sizeof u->region_name, "%s", db_col_text(s, 7));
    u->must_change_flag = db_col_int(s, 8) != 0;
    u->password_changed = iso_parse(db_col_text(s, 9));
    bool active = db_col_int(s, 10) != 0;
    u->totp_enrolled = db_col_int(s, 11) == 0;
    db_reset(s);
    if (!active) return -2;
    region_scope(u->region_code, u->scope_lo, u->scope_hi);
    s = db_prep(d, "SELECT ur.role_code, rp.perm FROM user_roles ur "
                   "LEFT JOIN role_perms rp ON rp.role_code = ur.role_code WHERE ur.user_id = ? "
                   "ORDER BY ur.role_code");
    db_bind_int(s, 1, id);
    char last[32] = "";
    while (db_step(s) == DB_ROW) {
        const char *role = db_col_text(s, 0), *perm = db_col_text(s, 1);
        if (strcmp(role, last) != 0) {
            size_t l = strlen(u->roles);
            snprintf(u->roles + l, sizeof u->roles - l, "%s%s", l ? "," : "", role);
            snprintf(last, sizeof last, "%s", role);
        }
        int i = perm ? perm_index(perm) : -1;
        if (i >= 0) u->perms |= (uint64_t)1 << i;
    }
    db_reset(s);
    return 0;
}

/* The flags that depend on the clock (password age) and on settings. */
static void user_derive(arena *a, user_ctx *u) {
    int64_t max_age = setting_int_cached("password.max_age_days", 90);
    u->must_change = false;
    u->must_change_reason[0] = 0;
    if (u->must_change_flag) { u->must_change = true; strcpy(u->must_change_reason, "initial"); }
    else if (max_age > 0 && u->password_changed > 0 && now_unix() - u->password_changed > max_age * 86400) {
        u->must_change = true; strcpy(u->must_change_reason, "expired");
    }
    u->must_enrol_totp = !u->totp_enrolled && totp_required_for(a, u);
}

int user_load_ctx(int64_t id, user_ctx *u) {
    int rc = user_load_raw(id, u);
    if (rc != 0) return rc;
    arena *a = arena_new(1024);
    user_derive(a, u);
    arena_free(a);
    return 0;
}

/* The user behind a session, on every request: three statements and a few
 * settings, so kept in a per-thread copy. Any change to users, roles or
 * stations on this node moves the generation (db_cache_invalidate) and
 * reloads at once; a change on another node shows within the TTL. Sessions
 * themselves are never cached: a logout or a deactivation (which deletes the
 * sessions) takes effect on the next request everywhere. */
#define USERS_TTL_MS 5000

static int user_ctx_cached(arena *a, int64_t id, user_ctx *u) {
    bool empty;
    tcache *c = tcache_get(TCACHE_USERS, db_cache_gen(), USERS_TTL_MS, &empty);
    char k[24]; snprintf(k, sizeof k, "%lld", (long long)id);
    const void *v; size_t n;
    if (tcache_find(c, k, &v, &n)) {
        if (!v || n != sizeof *u) return -1;
        memcpy(u, v, sizeof *u);
    } else {
        int rc = user_load_raw(id, u);
        tcache_put(c, k, rc == 0 ? u : NULL, rc == 0 ? sizeof *u : 0);
        if (rc != 0) return rc;
    }
    user_derive(a, u);
    return 0;
}

/* Looks the cookie up; 0 ok, 1 no session, 2 expired (row removed). */
static int session_resolve(req *r, user_ctx *u) {
    const char *tok = req_cookie(r, COOKIE);
    if (!tok || strlen(tok) != 64) return 1;
    char th[65];
    sha256_hex(tok, 64, th);
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT user_id, csrf, created_at, last_seen FROM sessions WHERE token_hash = ?");
    db_bind_text(s, 1, th);
    if (db_step(s) != DB_ROW) { db_reset(s); return 1; }
    int64_t uid = db_col_int(s, 0);
    char csrf[33]; snprintf(csrf, sizeof csrf, "%s", db_col_text(s, 1));
    int64_t created = db_col_int(s, 2), seen = db_col_int(s, 3);
    db_reset(s);
    int64_t now = now_unix();
    int64_t idle = setting_int_cached("session.idle_minutes", 30) * 60;
    int64_t absolute = setting_int_cached("session.absolute_hours", 12) * 3600;
    if (now - seen > idle || now - created > absolute) {
        s = db_prep(d, "DELETE FROM sessions WHERE token_hash = ?");
        db_bind_text(s, 1, th);
        db_step(s); db_reset(s);
        user_ctx tmp;
        if (user_load_ctx(uid, &tmp) == 0) {
            audit_event_as(&tmp, req_id(r), req_ip(r), "session.timeout", "user", tmp.username, "ok",
                         json_pack("{s:s}", "reason", now - created > absolute ? "absolute" : "idle"));
        }
        return 2;
    }
    if (user_ctx_cached(req_arena(r), uid, u) != 0) return 1;
    snprintf(u->csrf, sizeof u->csrf, "%s", csrf);
    snprintf(u->token_hash, sizeof u->token_hash, "%s", th);
    /* Touch at most every 30 s: one write per request would serialise readers. */
    if (now - seen >= 30) {
        s = db_prep(d, "UPDATE sessions SET last_seen = ? WHERE token_hash = ?");
        db_bind_int(s, 1, now);
        db_bind_text(s, 2, th);
        db_step(s); db_reset(s);
    }
    return 0;
}

static void deny(req *r, int status, const char *code, const char *why, const char *msg) {
    audit_event(r, "access.denied", "route", arena_printf(req_arena(r), "%s %s", req_method(r), req_path(r)),
              "denied", json_pack("{s:s}", "reason", why));
    reply_error(r, status, code, NULL, "%s", msg);
}

static bool guard(req *r, const struct route *rt) {
    if (rt->flags & ROUTE_PUBLIC) return true;
    user_ctx *u = arena_alloc(req_arena(r), sizeof *u);
    int rc = session_resolve(r, u);
    if (rc != 0) {
        reply_error(r, 401, rc == 2 ? "session_expired" : "unauthenticated", NULL,
                    rc == 2 ? "登录已超时，请重新登录" : "请先登录");
        return false;
    }
    req_set_user(r, u);
    bool write = strcmp(req_method(r), "GET") != 0 && strcmp(req_method(r), "HEAD") != 0;
    if (write && !(rt->flags & ROUTE_NO_CSRF)) {
        const char *h = req_header(r, "X-CSRF-Token");
        if (!h || !crypto_streq(h, u->csrf)) {
            deny(r, 403, "csrf_failed", "csrf", "请求校验失败（缺少或错误的 CSRF 令牌），请刷新页面后重试");
            return false;
        }
    }
    if (u->must_change && !(rt->flags & ROUTE_PRE_CHANGE)) {
        reply_error(r, 403, "password_change_required", NULL,
                    strcmp(u->must_change_reason, "expired") == 0 ? "密码已过期，请先修改密码"
                                                                   : "首次登录请先修改初始密码");
        return false;
    }
    if (u->must_enrol_totp && !(rt->flags & ROUTE_PRE_CHANGE)) {
        reply_error(r, 403, "totp_enrollment_required", NULL, "您的角色须启用手机动态口令，请先完成绑定");
        return false;
    }
    if (!user_can(u, rt->perm)) {
        deny(r, 403, "forbidden", rt->perm, "没有执行此操作的权限");
        return false;
    }
    if (rt->flags & ROUTE_COSTLY) {
        int retry = ratelimit_hit("costly", u->username, (int)setting_int("ratelimit.costly_per_minute", 30));
        if (retry > 0) {
            reply_error(r, 429, "rate_limited", NULL, "操作过于频繁，请 %d 秒后再试", retry);
            reply_header(r, "Retry-After", arena_printf(req_arena(r), "%d", retry));
            return false;
        }
    }
    return true;
}

void auth_install_guard(void) { http_set_guard(guard); }

/* ---- session lifecycle, used by the login routes ---- */

int session_create(req *r, int64_t uid, char csrf_out[33]) {
    char tok[65], th[65];
    crypto_token_hex(tok, 32);
    crypto_token_hex(csrf_out, 16);
    sha256_hex(tok, 64, th);
    db *d = db_thread();
    db_stmt *s = db_prep(d, "INSERT INTO sessions(token_hash, user_id, csrf, created_at, last_seen, ip) "
                            "VALUES (?,?,?,?,?,?)");
    int64_t now = now_unix();
    db_bind_text(s, 1, th);
    db_bind_int(s, 2, uid);
    db_bind_text(s, 3, csrf_out);
    db_bind_int(s, 4, now);
    db_bind_int(s, 5, now);
    db_bind_text(s, 6, req_ip(r));
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE) return -1;
    const char *proto = req_header(r, "X-Forwarded-Proto");
    bool tls = proto && strcmp(proto, "https") == 0;
    reply_header(r, "Set-Cookie", arena_printf(req_arena(r), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s",
                                               tok, tls ? "; Secure" : ""));
    return 0;
}

void session_clear_cookie(req *r) {
    reply_header(r, "Set-Cookie", COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}

int session_delete(const char *token_hash) {
    db_stmt *s = db_prep(db_thread(), "DELETE FROM sessions WHERE token_hash = ?");
    db_bind_text(s, 1, token_hash);
    int rc = db_step(s);
    db_reset(s);
    return rc == DB_DONE ? 0 : -1;
}

int session_delete_user_others(int64_t uid, const char *keep_hash) {
    db_stmt *s = db_prep(db_thread(), "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?");
    db_bind_int(s, 1, uid);
    db_bind_text(s, 2, keep_hash ? keep_hash : "");
    int rc = db_step(s);
    db_reset(s);
    return rc == DB_DONE ? 0 : -1;
}
