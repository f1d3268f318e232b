/* User accounts, roles and settings administration.
 * 三员分立: the system administrator manages accounts but cannot grant roles;
 * the security administrator grants roles and sets the security policy but
 * reads neither the audit trail nor personal files; the auditor only reads the
 * audit trail. One account never holds two of these three roles. */
#include "auth/auth.h"
#include "auth/session.h"
#include "base/crypto.h"
#include "base/timeutil.h"
#include "db/db.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *password_policy_check(const char *username, const char *pw) {
    static __thread char msg[160];
    int64_t minlen = setting_int("password.min_length", 8), classes = setting_int("password.require_classes", 4);
    size_t n = strlen(pw);
    if ((int64_t)n < minlen) { snprintf(msg, sizeof msg, "密码长度不能少于 %lld 位", (long long)minlen); return msg; }
    int up = 0, lo = 0, dg = 0, sy = 0;
    for (const unsigned char *p = (const unsigned char *)pw; *p; p++) {
        if (isupper(*p)) up = 1; else if (islower(*p)) lo = 1; else if (isdigit(*p)) dg = 1; else sy = 1;
    }
    if (up + lo + dg + sy < classes) {
        snprintf(msg, sizeof msg, "密码须同时包含大写字母、小写字母、数字和符号中的至少 %lld 类", (long long)classes);
        return msg;
    }
    if (username && strcasestr(pw, username)) return "密码不能包含用户名";
    return NULL;
}

void password_generate(char *out, size_t cap) {
    static const char *sets[] = {"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnpqrstuvwxyz", "23456789", "#@%+=!"};
    size_t len = cap - 1 < 14 ? cap - 1 : 14;
    unsigned char rnd[32];
    crypto_random(rnd, sizeof rnd);
    for (size_t i = 0; i < len; i++) {
        const char *set = sets[i < 4 ? i : rnd[i + 16] % 3];
        out[i] = set[rnd[i] % strlen(set)];
    }
    out[len] = 0;
}

int64_t user_create(const char *username, const char *name, int64_t station_id, const char *password,
                    bool must_change, char *err, unsigned errcap) {
    char h[256];
    if (password_hash(password, h, sizeof h) != 0) { snprintf(err, errcap, "密码处理失败"); return -1; }
    char ts[21]; iso_utc(now_unix(), ts);
    db_stmt *s = db_prep(db_thread(),
        "INSERT INTO users(username, name, station_id, password_hash, password_changed_at, must_change_password, "
        "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?) RETURNING id");
    db_bind_text(s, 1, username); db_bind_text(s, 2, name); db_bind_int(s, 3, station_id);
    db_bind_text(s, 4, h); db_bind_text(s, 5, ts); db_bind_int(s, 6, must_change);
    db_bind_text(s, 7, ts); db_bind_text(s, 8, ts);
    int rc = db_step(s);
    int64_t id = rc == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    db_cache_invalidate(db_thread());
    if (id < 0) snprintf(err, errcap, rc == DB_CONSTRAINT ? "用户名已存在" : "创建用户失败");
    return id;
}

static const char *admin_kind(const char *role) {
    db_stmt *s = db_prep(db_thread(), "SELECT admin_kind FROM roles WHERE code = ?");
    db_bind_text(s, 1, role);
    static __thread char kind[16];
    const char *res = NULL;
    if (db_step(s) == DB_ROW) { const char *k = db_col_text(s, 0); snprintf(kind, sizeof kind, "%s", k ? k : ""); res = kind; }
    db_reset(s);
    return res;   /* NULL: no such role; "": business role */
}

int user_grant_role(int64_t uid, const char *role, char *err, unsigned errcap) {
    const char *k = admin_kind(role);
    if (!k) { snprintf(err, errcap, "角色“%s”不存在", role); return -1; }
    db *d = db_thread();
    /* Separation: an admin role excludes every other role, and vice versa. */
    db_stmt *s = db_prep(d, "SELECT r.code, r.admin_kind FROM user_roles ur JOIN roles r ON r.code = ur.role_code "
                            "WHERE ur.user_id = ?");
    db_bind_int(s, 1, uid);
    int conflict = 0;
    while (db_step(s) == DB_ROW) {
        const char *code = db_col_text(s, 0), *ak = db_col_text(s, 1);
        if (strcmp(code, role) == 0) continue;
        if (*k || (ak && *ak)) conflict = 1;
    }
    db_reset(s);
    if (conflict) {
        snprintf(err, errcap, "三员分立：系统管理员、安全管理员、审计管理员不能与其他角色兼任");
        return -1;
    }
    s = db_prep(d, "INSERT INTO user_roles(user_id, role_code) VALUES (?, ?) ON CONFLICT DO NOTHING");
    db_bind_int(s, 1, uid); db_bind_text(s, 2, role);
    int rc = db_step(s); db_reset(s);
    db_cache_invalidate(d);
    if (rc != DB_DONE) { snprintf(err, errcap, "分配角色失败"); return -1; }
    return 0;
}

/* ---- routes ---- */

static json_t *user_row_json(db_stmt *s) {
    return json_pack("{s:I,s:s,s:s,s:I,s:s,s:s?,s:b,s:b,s:I,s:s,s:s?}",
        "id", (json_int_t)db_col_int(s, 0), "username", db_col_text(s, 1), "name", db_col_text(s, 2),
        "station_id", (json_int_t)db_col_int(s, 3), "station_name", db_col_text(s, 4),
        "phone", db_col_text(s, 5), "active", db_col_int(s, 6) != 0,
        "must_change_password", db_col_int(s, 7) != 0, "version", (json_int_t)db_col_int(s, 8),
        "created_at", db_col_text(s, 9), "roles_csv", db_col_text(s, 10));
}

static void add_roles_and_lock(json_t *it) {
    json_t *roles = json_array();
    db_stmt *s = db_prep(db_thread(), "SELECT role_code FROM user_roles WHERE user_id = ? ORDER BY role_code");
    db_bind_int(s, 1, json_integer_value(json_object_get(it, "id")));
    while (db_step(s) == DB_ROW) json_array_append_new(roles, json_string(db_col_text(s, 0)));
    db_reset(s);
    json_object_del(it, "roles_csv");
    json_object_set_new(it, "roles", roles);
    s = db_prep(db_thread(), "SELECT locked_until FROM login_failures WHERE username = ?");
    db_bind_text(s, 1, json_string_value(json_object_get(it, "username")));
    int64_t lu = db_step(s) == DB_ROW ? db_col_int(s, 0) : 0;
    db_reset(s);
    json_object_set_new(it, "locked", json_boolean(lu > now_unix()));
}

#define USER_COLS "u.id, u.username, u.name, u.station_id, s.name, u.phone, u.active, u.must_change_password, " \
                  "u.version, u.created_at, NULL "

static void users_list(req *r) {
    user_ctx *me = current_user(r);
    const char *q = req_query(r, "q");
    int64_t page = req_query_int(r, "page", 1, 1, 100000), size = req_query_int(r, "size", 20, 1, 200);
    char *like = q && *q ? arena_printf(req_arena(r), "%%%s%%", q) : NULL;
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT COUNT(*) FROM users u JOIN stations s ON s.id = u.station_id "
                            "WHERE s.region_code BETWEEN ? AND ? AND (? IS NULL OR u.username LIKE ? OR u.name LIKE ?)");
    db_bind_text(s, 1, me->scope_lo); db_bind_text(s, 2, me->scope_hi);
    db_bind_text(s, 3, like); db_bind_text(s, 4, like); db_bind_text(s, 5, like);
    int64_t total = db_step(s) == DB_ROW ? db_col_int(s, 0) : 0;
    db_reset(s);
    s = db_prep(d, "SELECT " USER_COLS "FROM users u JOIN stations s ON s.id = u.station_id "
                   "WHERE s.region_code BETWEEN ? AND ? AND (? IS NULL OR u.username LIKE ? OR u.name LIKE ?) "
                   "ORDER BY u.id LIMIT ? OFFSET ?");
    db_bind_text(s, 1, me->scope_lo); db_bind_text(s, 2, me->scope_hi);
    db_bind_text(s, 3, like); db_bind_text(s, 4, like); db_bind_text(s, 5, like);
    db_bind_int(s, 6, size); db_bind_int(s, 7, (page - 1) * size);
    json_t *items = json_array();
    while (db_step(s) == DB_ROW) json_array_append_new(items, user_row_json(s));
    db_reset(s);
    size_t i; json_t *it;
    json_array_foreach(items, i, it) add_roles_and_lock(it);
    reply_json(r, 200, json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)total,
                                 "page", (json_int_t)page, "size", (json_int_t)size));
}

/* Loads one user within the caller's jurisdiction; answers 404 itself. */
static json_t *user_get_scoped(req *r, int64_t id) {
    user_ctx *me = current_user(r);
    db_stmt *s = db_prep(db_thread(), "SELECT " USER_COLS "FROM users u JOIN stations s ON s.id = u.station_id "
                                      "WHERE u.id = ? AND s.region_code BETWEEN ? AND ?");
    db_bind_int(s, 1, id); db_bind_text(s, 2, me->scope_lo); db_bind_text(s, 3, me->scope_hi);
    json_t *it = db_step(s) == DB_ROW ? user_row_json(s) : NULL;
    db_reset(s);
    if (!it) { reply_error(r, 404, "not_found", NULL, "用户不存在"); return NULL; }
    add_roles_and_lock(it);
    return it;
}

static bool station_in_scope(req *r, int64_t sid) {
    user_ctx *me = current_user(r);
    db_stmt *s = db_prep(db_thread(), "SELECT 1 FROM stations WHERE id = ? AND region_code BETWEEN ? AND ?");
    db_bind_int(s, 1, sid); db_bind_text(s, 2, me->scope_lo); db_bind_text(s, 3, me->scope_hi);
    bool ok = db_step(s) == DB_ROW;
    db_reset(s);
    return ok;
}

static bool valid_username(const char *u) {
    size_t n = strlen(u);
    if (n < 3 || n > 32) return false;
    for (const char *p = u; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-') return false;
    return isalpha((unsigned char)u[0]);
}

static const char *const user_create_keys[] = {"username", "name", "station_id", "phone", NULL};

static void users_create(req *r) {
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, user_create_keys)) return;
    bool bad = false;
    const char *username = json_str_field(r, b, "username", "用户名", 32, &bad);
    const char *name = bad ? NULL : json_str_field(r, b, "name", "姓名", 30, &bad);
    const char *phone = bad ? NULL : json_str_field(r, b, "phone", "联系电话", 20, &bad);
    if (bad) return;
    if (!username || !valid_username(username)) {
        reply_error(r, 422, "validation_failed", "username", "用户名须为 3–32 位字母、数字、下划线、点或连字符，以字母开头");
        return;
    }
    if (!name || !*name) { reply_error(r, 422, "validation_failed", "name", "请填写姓名"); return; }
    json_t *sid = json_object_get(b, "station_id");
    if (!json_is_integer(sid) || !station_in_scope(r, json_integer_value(sid))) {
        reply_error(r, 422, "validation_failed", "station_id", "请选择所属服务站（须在本级管辖范围内）");
        return;
    }
    char pw[32]; password_generate(pw, sizeof pw);
    char err[200];
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return; }
    int64_t id = user_create(username, name, json_integer_value(sid), pw, true, err, sizeof err);
    if (id < 0) { db_rollback(d); reply_error(r, 409, "conflict", "username", "%s", err); return; }
    if (phone) {
        db_stmt *s = db_prep(d, "UPDATE users SET phone = ? WHERE id = ?");
        db_bind_text(s, 1, phone); db_bind_int(s, 2, id); db_step(s); db_reset(s);
    }
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (audit_event(r, "user.create", "user", ids, "ok",
                  json_pack("{s:{s:s,s:s,s:I}}", "after", "username", username, "name", name,
                            "station_id", (json_int_t)json_integer_value(sid))) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d);
        reply_error(r, 500, "internal", NULL, "创建用户失败");
        return;
    }
    json_t *u = user_get_scoped(r, id);
    if (!u) return;
    /* The initial password is shown once; it must be changed at first login. */
    reply_json(r, 201, json_pack("{s:o,s:s}", "user", u, "initial_password", pw));
}

static const char *const user_patch_keys[] = {"name", "station_id", "phone", "active", "version", NULL};

static void users_patch(req *r) {
    int64_t id = req_param_id(r, 0);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, user_patch_keys)) return;
    json_t *cur = user_get_scoped(r, id);
    if (!cur) return;
    json_t *ver = json_object_get(b, "version");
    if (!json_is_integer(ver)) { json_decref(cur); reply_error(r, 422, "validation_failed", "version", "缺少版本号 version"); return; }
    bool bad = false;
    const char *name = json_str_field(r, b, "name", "姓名", 30, &bad);
    const char *phone = bad ? NULL : json_str_field(r, b, "phone", "联系电话", 20, &bad);
    if (bad) { json_decref(cur); return; }
    json_t *sid = json_object_get(b, "station_id"), *active = json_object_get(b, "active");
    if (sid && (!json_is_integer(sid) || !station_in_scope(r, json_integer_value(sid)))) {
        json_decref(cur); reply_error(r, 422, "validation_failed", "station_id", "所属服务站无效"); return;
    }
    if (active && !json_is_boolean(active)) {
        json_decref(cur); reply_error(r, 422, "validation_failed", "active", "启用状态必须是布尔值"); return;
    }
    if (active && !json_is_true(active) && id == current_user(r)->id) {
        json_decref(cur); reply_error(r, 422, "validation_failed", "active", "不能停用自己的账户"); return;
    }
    db *d = db_thread();
    char ts[21]; iso_utc(now_unix(), ts);
    if (db_begin(d) != DB_OK) { json_decref(cur); reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    db_stmt *s = db_prep(d, "UPDATE users SET name = COALESCE(?, name), phone = COALESCE(?, phone), "
                            "station_id = COALESCE(?, station_id), active = COALESCE(?, active), "
                            "version = version + 1, updated_at = ? WHERE id = ? AND version = ?");
    db_bind_text(s, 1, name); db_bind_text(s, 2, phone);
    if (sid) db_bind_int(s, 3, json_integer_value(sid)); else db_bind_null(s, 3);
    if (active) db_bind_int(s, 4, json_is_true(active)); else db_bind_null(s, 4);
    db_bind_text(s, 5, ts); db_bind_int(s, 6, id); db_bind_int(s, 7, json_integer_value(ver));
    int rc = db_step(s); db_reset(s);
    db_cache_invalidate(d);
    if (rc != DB_DONE) { db_rollback(d); json_decref(cur); reply_error(r, 500, "internal", NULL, "保存失败"); return; }
    if (db_changes(d) == 0) {
        db_rollback(d); json_decref(cur);
        reply_error(r, 409, "version_conflict", "version", "该用户已被他人修改，请刷新后重试");
        return;
    }
    if (active && !json_is_true(active)) session_delete_user_others(id, NULL);
    json_t *before = json_object(), *after = json_object();
    const char *k; json_t *v;
    json_object_foreach(b, k, v) {
        if (strcmp(k, "version") == 0) continue;
        json_object_set(after, k, v);
        json_object_set(before, k, json_object_get(cur, k) ? json_object_get(cur, k) : json_null());
    }
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)id);
    int arc = audit_event(r, "user.update", "user", ids, "ok", json_pack("{s:o,s:o}", "before", before, "after", after));
    json_decref(cur);
    if (arc != 0 || db_commit(d) != DB_OK) { db_rollback(d); reply_error(r, 500, "internal", NULL, "保存失败"); return; }
    json_t *u = user_get_scoped(r, id);
    if (u) reply_json(r, 200, u);
}

static void users_reset_password(req *r) {
    int64_t id = req_param_id(r, 0);
    json_t *cur = user_get_scoped(r, id);
    if (!cur) return;
    char pw[32]; password_generate(pw, sizeof pw);
    char h[256];
    password_hash(pw, h, sizeof h);
    char ts[21]; iso_utc(now_unix(), ts);
    db *d = db_thread();
    db_begin(d);
    db_stmt *s = db_prep(d, "UPDATE users SET password_hash = ?, must_change_password = 1, password_changed_at = ?, "
                            "version = version + 1, updated_at = ? WHERE id = ?");
    db_bind_text(s, 1, h); db_bind_text(s, 2, ts); db_bind_text(s, 3, ts); db_bind_int(s, 4, id);
    int rc = db_step(s); db_reset(s);
    db_cache_invalidate(d);
    session_delete_user_others(id, NULL);
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (rc != DB_DONE || audit_event(r, "user.reset_password", "user", ids, "ok", NULL) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d); json_decref(cur); reply_error(r, 500, "internal", NULL, "重置密码失败"); return;
    }
    json_decref(cur);
    reply_json(r, 200, json_pack("{s:s}", "initial_password", pw));
}

static void users_unlock(req *r) {
    int64_t id = req_param_id(r, 0);
    json_t *cur = user_get_scoped(r, id);
    if (!cur) return;
    db *d = db_thread();
    db_begin(d);
    db_stmt *s = db_prep(d, "DELETE FROM login_failures WHERE username = ?");
    db_bind_text(s, 1, json_string_value(json_object_get(cur, "username")));
    db_step(s); db_reset(s);
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)id);
    audit_event(r, "user.unlock", "user", ids, "ok", NULL);
    db_commit(d);
    json_decref(cur);
    json_t *u = user_get_scoped(r, id);
    if (u) reply_json(r, 200, u);
}

static const char *const roles_keys[] = {"roles", NULL};

static void users_set_roles(req *r) {
    int64_t id = req_param_id(r, 0);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, roles_keys)) return;
    json_t *roles = json_object_get(b, "roles");
    if (!json_is_array(roles) || json_array_size(roles) > 8) {
        reply_error(r, 422, "validation_failed", "roles", "roles 必须是角色代码数组"); return;
    }
    if (id == current_user(r)->id) { reply_error(r, 422, "validation_failed", "roles", "不能修改自己的角色"); return; }
    json_t *cur = user_get_scoped(r, id);
    if (!cur) return;
    db *d = db_thread();
    db_begin(d);
    db_stmt *s = db_prep(d, "DELETE FROM user_roles WHERE user_id = ?");
    db_bind_int(s, 1, id); db_step(s); db_reset(s);
    db_cache_invalidate(d);
    size_t i; json_t *v;
    char err[200];
    json_array_foreach(roles, i, v) {
        if (!json_is_string(v) || user_grant_role(id, json_string_value(v), err, sizeof err) != 0) {
            db_rollback(d); json_decref(cur);
            reply_error(r, 422, "validation_failed", "roles", "%s", json_is_string(v) ? err : "角色代码必须是文本");
            return;
        }
    }
    session_delete_user_others(id, NULL);   /* new rights apply at next login */
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (audit_event(r, "user.roles", "user", ids, "ok",
                  json_pack("{s:O,s:O}", "before", json_object_get(cur, "roles"), "after", roles)) != 0 ||
        db_commit(d) != DB_OK) {
        db_rollback(d); json_decref(cur); reply_error(r, 500, "internal", NULL, "保存失败"); return;
    }
    json_decref(cur);
    json_t *u = user_get_scoped(r, id);
    if (u) reply_json(r, 200, u);
}

static void roles_list(req *r) {
    db *d = db_thread();
    json_t *items = json_array();
    db_stmt *s = db_prep(d, "SELECT code, name, admin_kind FROM roles ORDER BY sort");
    while (db_step(s) == DB_ROW)
        json_array_append_new(items, json_pack("{s:s,s:s,s:s?,s:[]}", "code", db_col_text(s, 0),
                              "name", db_col_text(s, 1), "admin_kind", db_col_text(s, 2), "permissions"));
    db_reset(s);
    s = db_prep(d, "SELECT role_code, perm FROM role_perms ORDER BY role_code, perm");
    while (db_step(s) == DB_ROW) {
        size_t i; json_t *it;
        json_array_foreach(items, i, it)
            if (strcmp(json_string_value(json_object_get(it, "code")), db_col_text(s, 0)) == 0)
                json_array_append_new(json_object_get(it, "permissions"), json_string(db_col_text(s, 1)));
    }
    db_reset(s);
    json_t *perms = json_array();
    for (size_t i = 0; i < perm_count(); i++)
        json_array_append_new(perms, json_pack("{s:s,s:s}", "name", perm_name(i), "label", perm_label(i)));
    reply_json(r, 200, json_pack("{s:o,s:o}", "items", items, "permissions", perms));
}

static void settings_list(req *r) {
    db_stmt *s = db_prep(db_thread(), "SELECT key, value, kind, label, owner, updated_at, updated_by "
                                      "FROM settings ORDER BY owner, key");
    json_t *items = json_array();
    while (db_step(s) == DB_ROW)
        json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:s?}", "key", db_col_text(s, 0),
            "value", db_col_text(s, 1), "kind", db_col_text(s, 2), "label", db_col_text(s, 3),
            "owner", db_col_text(s, 4), "updated_at", db_col_text(s, 5), "updated_by", db_col_text(s, 6)));
    db_reset(s);
    reply_json(r, 200, json_pack("{s:o}", "items", items));
}

static void settings_patch(req *r) {
    json_t *b = req_json(r);
    if (!b) return;
    user_ctx *me = current_user(r);
    db *d = db_thread();
    char ts[21]; iso_utc(now_unix(), ts);
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    const char *k; json_t *v;
    json_t *before = json_object(), *after = json_object();
    json_object_foreach(b, k, v) {
        db_stmt *s = db_prep(d, "SELECT value, kind, label FROM settings WHERE key = ?");
        db_bind_text(s, 1, k);
        if (db_step(s) != DB_ROW) {
            db_reset(s); db_rollback(d); json_decref(before); json_decref(after);
            reply_error(r, 400, "unknown_field", k, "没有名为“%s”的设置项", k); return;
        }
        char old[512], kind[16], label[128];
        snprintf(old, sizeof old, "%s", db_col_text(s, 0));
        snprintf(kind, sizeof kind, "%s", db_col_text(s, 1));
        snprintf(label, sizeof label, "%s", db_col_text(s, 2));
        db_reset(s);
        char val[512];
        if (strcmp(kind, "int") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000) {
                db_rollback(d); json_decref(before); json_decref(after);
                reply_error(r, 422, "validation_failed", k, "“%s”必须是非负整数", label); return;
            }
            snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        } else {
            if (!json_is_string(v) || json_string_length(v) > 500) {
                db_rollback(d); json_decref(before); json_decref(after);
                reply_error(r, 422, "validation_failed", k, "“%s”必须是不超过 500 字的文本", label); return;
            }
            snprintf(val, sizeof val, "%s", json_string_value(v));
        }
        if (strcmp(k, "audit.retention_days") == 0 && json_integer_value(v) < 180) {
            db_rollback(d); json_decref(before); json_decref(after);
            reply_error(r, 422, "validation_failed", k, "审计日志保存期不得少于 180 天（网络安全法第二十一条）"); return;
        }
        if (strcmp(k, "password.min_length") == 0 && json_integer_value(v) < 8) {
            db_rollback(d); json_decref(before); json_decref(after);
            reply_error(r, 422, "validation_failed", k, "密码最小长度不得少于 8 位"); return;
        }
        s = db_prep(d, "UPDATE settings SET value = ?, updated_at = ?, updated_by = ? WHERE key = ?");
        db_bind_text(s, 1, val); db_bind_text(s, 2, ts); db_bind_text(s, 3, me->username); db_bind_text(s, 4, k);
        db_step(s); db_reset(s);
        db_cache_invalidate(d);
        json_object_set_new(before, k, json_string(old));
        json_object_set_new(after, k, json_string(val));
    }
    if (audit_event(r, "settings.update", "settings", NULL, "ok", json_pack("{s:o,s:o}", "before", before, "after", after)) != 0 ||
        db_commit(d) != DB_OK) {
        db_rollback(d); reply_error(r, 500, "internal", NULL, "保存失败"); return;
    }
    settings_list(r);
}

const struct route user_routes[] = {
    {"GET", "/api/v1/users", "user.read", users_list, 0},
    {"POST", "/api/v1/users", "user.write", users_create, 0},
    {"PATCH", "/api/v1/users/{id}", "user.write", users_patch, 0},
    {"POST", "/api/v1/users/{id}/reset-password", "user.write", users_reset_password, 0},
    {"POST", "/api/v1/users/{id}/unlock", "user.write", users_unlock, 0},
    {"PUT", "/api/v1/users/{id}/roles", "role.assign", users_set_roles, 0},
    {"GET", "/api/v1/roles", "user.read", roles_list, 0},
    {"GET", "/api/v1/settings", "settings.read", settings_list, 0},
    {"PATCH", "/api/v1/settings", "settings.write", settings_patch, 0},
};
const size_t user_routes_count = sizeof user_routes / sizeof *user_routes;
