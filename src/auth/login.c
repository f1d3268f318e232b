/* Login, logout, who-am-I and password change.
 * A wrong password and an unknown user name get the same status, body and
 * (through a dummy hash check) about the same time; failures are counted per
 * name typed, so lockout looks the same for names that do not exist. */
#include "auth/auth.h"
#include "auth/ratelimit.h"
#include "auth/session.h"
#include "auth/totp.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "db/db.h"
#include <stdio.h>
#include <string.h>

static char dummy_hash[256];

json_t *user_me_json(const user_ctx *u) {
    json_t *roles = json_array();
    char buf[96]; snprintf(buf, sizeof buf, "%s", u->roles);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(roles, json_string(t));
    return json_pack("{s:I,s:s,s:s,s:o,s:o,s:{s:I,s:s,s:s,s:s,s:s},s:b,s:b,s:s?}",
        "id", (json_int_t)u->id, "username", u->username, "name", u->name, "roles", roles,
        "permissions", user_perms_json(u),
        "station", "id", (json_int_t)u->station_id, "name", u->station_name, "level", u->station_level,
        "region_code", u->region_code, "region_name", u->region_name,
        "must_change_password", u->must_change,
        "must_enrol_totp", u->must_enrol_totp,
        "must_change_reason", u->must_change ? u->must_change_reason : NULL);
}

static const char *const login_keys[] = {"username", "password", "totp", NULL};

static void login(req *r) {
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, login_keys)) return;
    bool bad = false;
    const char *username = json_str_field(r, b, "username", "用户名", 64, &bad);
    const char *password = bad ? NULL : json_str_field(r, b, "password", "密码", 128, &bad);
    if (bad) return;
    if (!username || !*username) { reply_error(r, 422, "validation_failed", "username", "请输入用户名"); return; }
    if (!password || !*password) { reply_error(r, 422, "validation_failed", "password", "请输入密码"); return; }
    int retry = ratelimit_hit("login", req_ip(r), (int)setting_int("ratelimit.login_per_minute", 20));
    if (retry) {
        reply_error(r, 429, "rate_limited", NULL, "登录尝试过于频繁，请 %d 秒后再试", retry);
        reply_header(r, "Retry-After", arena_printf(req_arena(r), "%d", retry));
        return;
    }
    db *d = db_thread();
    int64_t now = now_unix();
    int64_t max_fail = setting_int("login.max_failures", 5), lock_min = setting_int("login.lock_minutes", 30);
    user_ctx anon = {0};
    snprintf(anon.username, sizeof anon.username, "%s", username);

    db_stmt *s = db_prep(d, "SELECT locked_until FROM login_failures WHERE username = ?");
    db_bind_text(s, 1, username);
    int64_t locked_until = 0;
    if (db_step(s) == DB_ROW) locked_until = db_col_int(s, 0);
    db_reset(s);
    if (locked_until > now) {
        password_verify(dummy_hash, password);   /* same time as a real check */
        audit_event_as(&anon, req_id(r), req_ip(r), "login.locked", "user", username, "denied", NULL);
        int mins = (int)((locked_until - now + 59) / 60);
        reply_error(r, 401, "account_locked", NULL, "登录失败次数过多，账户已锁定，请 %d 分钟后再试", mins);
        return;
    }

    s = db_prep(d, "SELECT id, password_hash, active FROM users WHERE username = ?");
    db_bind_text(s, 1, username);
    int64_t uid = 0; char hash[256] = ""; bool active = false;
    if (db_step(s) == DB_ROW) {
        uid = db_col_int(s, 0);
        snprintf(hash, sizeof hash, "%s", db_col_text(s, 1));
        active = db_col_int(s, 2) != 0;
    }
    db_reset(s);
    bool ok = password_verify(uid ? hash : dummy_hash, password) && uid && active;
    user_ctx *u = arena_alloc(req_arena(r), sizeof *u);
    const char *totp = json_string_value(json_object_get(b, "totp"));
    bool totp_bad = false;
    if (ok) {
        if (user_load_ctx(uid, u) != 0) ok = false;
        else {
            enum totp_result t = totp_check_login(req_arena(r), u, totp);
            if (t == TOTP_MISSING) {
                /* The password was right: ask for the second factor, count nothing. */
                audit_event_as(&anon, req_id(r), req_ip(r), "login.totp_required", "user", username, "pending", NULL);
                reply_error(r, 401, "totp_required", "totp", "请输入手机动态口令（6 位数字）");
                return;
            }
            if (t == TOTP_BAD) { ok = false; totp_bad = true; }
            if (t == TOTP_ENROL) u->must_enrol_totp = true;
        }
    }
    if (!ok) {
        /* Counted in one statement, so that failures arriving together (on
         * several threads or nodes) are each counted: the row is locked from
         * the upsert to the commit, and the next failure counts on from what
         * this one wrote. A served lock (locked_until in the past) starts a new
         * count; reaching the limit stores the lock with the count. A lock
         * taken meanwhile by another attempt updates nothing and returns no
         * row: that attempt answers as locked, counting nothing. */
        if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return; }
        s = db_prep(d, "INSERT INTO login_failures(username, failures, locked_until) "
                       "VALUES (?1, 1, CASE WHEN 1 >= CAST(?3 AS INTEGER) THEN CAST(?4 AS INTEGER) ELSE 0 END) "
                       "ON CONFLICT(username) DO UPDATE SET "
                       "failures = CASE WHEN login_failures.locked_until > 0 THEN 1 ELSE login_failures.failures + 1 END, "
                       "locked_until = CASE WHEN (CASE WHEN login_failures.locked_until > 0 THEN 1 "
                       "ELSE login_failures.failures + 1 END) >= CAST(?3 AS INTEGER) THEN CAST(?4 AS INTEGER) ELSE 0 END "
                       "WHERE login_failures.locked_until <= CAST(?2 AS INTEGER) "
                       "RETURNING failures, locked_until");
        db_bind_text(s, 1, username);
        db_bind_int(s, 2, now);
        db_bind_int(s, 3, max_fail);
        db_bind_int(s, 4, now + lock_min * 60);
        int rc = db_step(s);
        int64_t failures = 0;
        locked_until = 0;
        if (rc == DB_ROW) { failures = db_col_int(s, 0); locked_until = db_col_int(s, 1); }
        db_reset(s);
        if (rc != DB_ROW && rc != DB_DONE) {
            db_rollback(d);
            reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试");
            return;
        }
        if (rc == DB_DONE) {
            /* Locked by a concurrent attempt since the check above. */
            s = db_prep(d, "SELECT locked_until FROM login_failures WHERE username = ?");
            db_bind_text(s, 1, username);
            locked_until = db_step(s) == DB_ROW ? db_col_int(s, 0) : now + lock_min * 60;
            db_reset(s);
            audit_event_as(&anon, req_id(r), req_ip(r), "login.locked", "user", username, "denied", NULL);
            db_commit(d);
            int mins = (int)((locked_until - now + 59) / 60);
            reply_error(r, 401, "account_locked", NULL, "登录失败次数过多，账户已锁定，请 %d 分钟后再试",
                        mins > 0 ? mins : 1);
            return;
        }
        bool lock = locked_until > 0;
        audit_event_as(&anon, req_id(r), req_ip(r), "login.failed", "user", username, "failed",
                     json_pack("{s:I}", "failures", (json_int_t)failures));
        if (lock)
            audit_event_as(&anon, req_id(r), req_ip(r), "login.lockout", "user", username, "locked",
                         json_pack("{s:I}", "minutes", (json_int_t)lock_min));
        db_commit(d);
        if (lock)
            reply_error(r, 401, "account_locked", NULL, "登录失败次数过多，账户已锁定，请 %lld 分钟后再试",
                        (long long)lock_min);
        else if (totp_bad)
            reply_error(r, 401, "totp_invalid", "totp", "动态口令错误或已使用，请等待下一个口令");
        else
            reply_error(r, 401, "login_failed", NULL, "用户名或密码错误");
        return;
    }
    req_set_user(r, u);
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return; }
    s = db_prep(d, "DELETE FROM login_failures WHERE username = ?");
    db_bind_text(s, 1, username);
    db_step(s); db_reset(s);
    char csrf[33];
    if (session_create(r, uid, csrf) != 0 ||
        audit_event(r, "login.ok", "user", username, "ok", NULL) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d);
        reply_error(r, 500, "internal", NULL, "登录失败，请稍后重试");
        return;
    }
    snprintf(u->csrf, sizeof u->csrf, "%s", csrf);
    reply_json(r, 200, json_pack("{s:o,s:s}", "user", user_me_json(u), "csrf_token", csrf));
}

static void logout(req *r) {
    user_ctx *u = current_user(r);
    db *d = db_thread();
    db_begin(d);
    session_delete(u->token_hash);
    audit_event(r, "logout", "user", u->username, "ok", NULL);
    db_commit(d);
    session_clear_cookie(r);
    reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void me(req *r) {
    user_ctx *u = current_user(r);
    reply_json(r, 200, json_pack("{s:o,s:s}", "user", user_me_json(u), "csrf_token", u->csrf));
}

static const char *const pw_keys[] = {"old_password", "new_password", NULL};

static void change_password(req *r) {
    user_ctx *u = current_user(r);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, pw_keys)) return;
    bool bad = false;
    const char *oldp = json_str_field(r, b, "old_password", "原密码", 128, &bad);
    const char *newp = bad ? NULL : json_str_field(r, b, "new_password", "新密码", 128, &bad);
    if (bad) return;
    if (!oldp || !*oldp) { reply_error(r, 422, "validation_failed", "old_password", "请输入原密码"); return; }
    if (!newp || !*newp) { reply_error(r, 422, "validation_failed", "new_password", "请输入新密码"); return; }
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT password_hash FROM users WHERE id = ?");
    db_bind_int(s, 1, u->id);
    char hash[256] = "";
    if (db_step(s) == DB_ROW) snprintf(hash, sizeof hash, "%s", db_col_text(s, 0));
    db_reset(s);
    if (!password_verify(hash, oldp)) {
        audit_event(r, "password.change", "user", u->username, "failed", json_pack("{s:s}", "reason", "old_password"));
        reply_error(r, 422, "validation_failed", "old_password", "原密码不正确");
        return;
    }
    const char *why = password_policy_check(u->username, newp);
    if (!why && strcmp(oldp, newp) == 0) why = "新密码不能与原密码相同";
    if (why) { reply_error(r, 422, "validation_failed", "new_password", "%s", why); return; }
    char nh[256];
    if (password_hash(newp, nh, sizeof nh) != 0) { reply_error(r, 500, "internal", NULL, "密码处理失败"); return; }
    char ts[21]; iso_utc(now_unix(), ts);
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return; }
    s = db_prep(d, "UPDATE users SET password_hash = ?, password_changed_at = ?, must_change_password = 0, "
                   "updated_at = ?, version = version + 1 WHERE id = ?");
    db_bind_text(s, 1, nh); db_bind_text(s, 2, ts); db_bind_text(s, 3, ts); db_bind_int(s, 4, u->id);
    int rc = db_step(s); db_reset(s);
    db_cache_invalidate(d);   /* the cached user must not keep must_change */
    if (rc != DB_DONE || session_delete_user_others(u->id, u->token_hash) != 0 ||
        audit_event(r, "password.change", "user", u->username, "ok", NULL) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d);
        reply_error(r, 500, "internal", NULL, "修改密码失败");
        return;
    }
    u->must_change = false;
    reply_json(r, 200, json_pack("{s:b,s:o}", "ok", 1, "user", user_me_json(u)));
}

void auth_init_dummy(void) {
    /* A hash of a random password: failed look-ups spend the same time as real ones. */
    char pw[33]; crypto_token_hex(pw, 16);
    password_hash(pw, dummy_hash, sizeof dummy_hash);
}

const struct route auth_routes[] = {
    {"POST", "/api/v1/auth/login", "public", login, ROUTE_PUBLIC | ROUTE_NO_CSRF},
    {"POST", "/api/v1/auth/logout", "self", logout, ROUTE_PRE_CHANGE},
    {"GET", "/api/v1/auth/me", "self", me, ROUTE_PRE_CHANGE},
    {"POST", "/api/v1/auth/password", "self", change_password, ROUTE_PRE_CHANGE},
};
const size_t auth_routes_count = sizeof auth_routes / sizeof *auth_routes;
