/* Stations of the three-level network and their "五有" checklist, plus the
 * read-only code tables and regions. A station is bound to one region; its
 * level follows from the region's (county → center, town → town station,
 * village → village station) and its parent is the station of the parent
 * region, so the station tree always mirrors the region tree. */
#include "network/network.h"
#include "auth/auth.h"
#include "base/timeutil.h"
#include "base/tcache.h"
#include "db/db.h"
#include <stdio.h>
#include <string.h>

static const struct { const char *item, *label; } checks[] = {
    {"org", "有机构"}, {"staffing", "有编制"}, {"personnel", "有人员"}, {"funding", "有经费"}, {"support", "有保障"},
};
#define NCHECKS (sizeof checks / sizeof *checks)

static const char *level_for_region(const char *rl) {
    if (strcmp(rl, "county") == 0) return "center";
    if (strcmp(rl, "town") == 0) return "town";
    if (strcmp(rl, "village") == 0) return "village";
    return NULL;
}

int64_t station_ensure(const char *region_code) {
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT id FROM stations WHERE region_code = ?");
    db_bind_text(s, 1, region_code);
    int64_t id = db_step(s) == DB_ROW ? db_col_int(s, 0) : 0;
    db_reset(s);
    if (id) return id;
    s = db_prep(d, "SELECT name, level, parent_code FROM regions WHERE code = ?");
    db_bind_text(s, 1, region_code);
    if (db_step(s) != DB_ROW) { db_reset(s); return -1; }
    char name[128], level[16], parent[16] = "";
    snprintf(name, sizeof name, "%s", db_col_text(s, 0));
    snprintf(level, sizeof level, "%s", db_col_text(s, 1));
    if (db_col_text(s, 2)) snprintf(parent, sizeof parent, "%s", db_col_text(s, 2));
    db_reset(s);
    const char *sl = level_for_region(level);
    if (!sl) return -1;
    int64_t pid = 0;
    if (strcmp(sl, "center") != 0 && *parent) pid = station_ensure(parent);
    char sname[200], ts[21];
    snprintf(sname, sizeof sname, "%s%s", name, strcmp(sl, "center") == 0 ? "退役军人服务中心" : "退役军人服务站");
    iso_utc(now_unix(), ts);
    s = db_prep(d, "INSERT INTO stations(name, level, region_code, parent_id, created_at, updated_at) "
                   "VALUES (?,?,?,?,?,?) RETURNING id");
    db_bind_text(s, 1, sname); db_bind_text(s, 2, sl); db_bind_text(s, 3, region_code);
    if (pid > 0) db_bind_int(s, 4, pid); else db_bind_null(s, 4);
    db_bind_text(s, 5, ts); db_bind_text(s, 6, ts);
    id = db_step(s) == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    for (size_t i = 0; id > 0 && i < NCHECKS; i++) {
        s = db_prep(d, "INSERT INTO station_checks(station_id, item, ok) VALUES (?, ?, 0)");
        db_bind_int(s, 1, id); db_bind_text(s, 2, checks[i].item);
        db_step(s); db_reset(s);
    }
    return id;
}

int64_t station_for_region(const char *rc) {
    /* Walk up: village → town → county, the first station found owns it. */
    char code[13];
    snprintf(code, sizeof code, "%s", rc ? rc : "");
    db *d = db_thread();
    for (int depth = 0; depth < 6 && *code; depth++) {
        db_stmt *s = db_prep(d, "SELECT s.id, g.parent_code FROM regions g LEFT JOIN stations s ON s.region_code = g.code "
                                "WHERE g.code = ?");
        db_bind_text(s, 1, code);
        if (db_step(s) != DB_ROW) { db_reset(s); return -1; }
        int64_t id = db_col_null(s, 0) ? 0 : db_col_int(s, 0);
        const char *p = db_col_text(s, 1);
        char parent[13] = "";
        if (p) snprintf(parent, sizeof parent, "%s", p);
        db_reset(s);
        if (id) return id;
        snprintf(code, sizeof code, "%s", parent);
    }
    return -1;
}

const char *home_county(void) {
    static char county[13];
    if (!county[0]) {
        db_stmt *s = db_prep(db_thread(), "SELECT region_code FROM stations WHERE level = 'center' ORDER BY id LIMIT 1");
        if (db_step(s) == DB_ROW) snprintf(county, sizeof county, "%s", db_col_text(s, 0));
        db_reset(s);
    }
    return county;
}

/* Code and region names are read on every view and list: a per-thread copy
 * of both tables (a few hundred rows), reloaded after a write on this node
 * or within 10 s of one on another. Keys: "table\x1fcode", "\x1fregion\x1fcode". */
#define REFNAMES_TTL_MS 10000

static tcache *refnames(void) {
    bool empty;
    tcache *c = tcache_get(TCACHE_REFNAMES, db_cache_gen(), REFNAMES_TTL_MS, &empty);
    if (!empty) return c;
    char k[160];
    db_stmt *s = db_prep(db_thread(), "SELECT tbl, code, name FROM codes ORDER BY tbl, sort, code");
    while (db_step(s) == DB_ROW) {
        snprintf(k, sizeof k, "%s\x1f%s", db_col_text(s, 0), db_col_text(s, 1));
        tcache_put_str(c, k, db_col_text(s, 2));
        /* name → code, for imports that give names; the first of equal names wins */
        snprintf(k, sizeof k, "\x1e%s\x1f%s", db_col_text(s, 0), db_col_text(s, 2));
        const void *v;
        if (!tcache_find(c, k, &v, NULL)) tcache_put_str(c, k, db_col_text(s, 1));
    }
    db_reset(s);
    s = db_prep(db_thread(), "SELECT code, name FROM regions");
    while (db_step(s) == DB_ROW) {
        snprintf(k, sizeof k, "\x1fregion\x1f%s", db_col_text(s, 0));
        tcache_put_str(c, k, db_col_text(s, 1));
    }
    db_reset(s);
    tcache_put_str(c, "\x1f", "");   /* never empty once loaded, even with no rows */
    return c;
}

static const char *refname(arena *a, const char *table, const char *code) {
    if (!code) return NULL;
    char k[160];
    if (snprintf(k, sizeof k, "%s\x1f%s", table, code) >= (int)sizeof k) return NULL;
    const void *v;
    return tcache_find(refnames(), k, &v, NULL) && v ? arena_strdup(a, v) : NULL;
}

const char *region_name(arena *a, const char *code) { return refname(a, "\x1fregion", code); }

const char *code_name(arena *a, const char *table, const char *code) { return refname(a, table, code); }

bool code_exists(const char *table, const char *code) {
    if (!code) return false;
    char k[160];
    if (snprintf(k, sizeof k, "%s\x1f%s", table, code) >= (int)sizeof k) return false;
    const void *v;
    return tcache_find(refnames(), k, &v, NULL);
}

const char *code_by_name(arena *a, const char *table, const char *name) {
    if (!name || !*name) return NULL;
    char k[160];
    if (snprintf(k, sizeof k, "\x1e%s\x1f%s", table, name) >= (int)sizeof k) return NULL;
    const void *v;
    if (tcache_find(refnames(), k, &v, NULL) && v) return arena_strdup(a, v);   /* by name first */
    return code_exists(table, name) ? arena_strdup(a, name) : NULL;             /* else the code itself */
}

/* ---- JSON of a station ---- */

#define STATION_COLS "st.id, st.name, st.level, st.region_code, g.name, st.parent_id, st.address, st.phone, " \
                     "st.head, st.staff_count, st.version, st.updated_at, " \
                     "(SELECT COUNT(*) FROM users u WHERE u.station_id = st.id AND u.active = 1) "

static json_t *station_json(db_stmt *s) {
    json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s?,s:s?,s:s?,s:I,s:s,s:I}",
        "id", (json_int_t)db_col_int(s, 0), "name", db_col_text(s, 1), "level", db_col_text(s, 2),
        "region_code", db_col_text(s, 3), "region_name", db_col_text(s, 4), "address", db_col_text(s, 6),
        "phone", db_col_text(s, 7), "head", db_col_text(s, 8), "version", (json_int_t)db_col_int(s, 10),
        "updated_at", db_col_text(s, 11), "user_count", (json_int_t)db_col_int(s, 12));
    json_object_set_new(j, "parent_id", db_col_null(s, 5) ? json_null() : json_integer(db_col_int(s, 5)));
    json_object_set_new(j, "staff_count", db_col_null(s, 9) ? json_null() : json_integer(db_col_int(s, 9)));
    return j;
}

static void add_checks(json_t *st) {
    json_t *c = json_object();
    int done = 0;
    db_stmt *s = db_prep(db_thread(), "SELECT item, ok, note, updated_at, updated_by FROM station_checks WHERE station_id = ?");
    db_bind_int(s, 1, json_integer_value(json_object_get(st, "id")));
    while (db_step(s) == DB_ROW) {
        const char *item = db_col_text(s, 0);
        const char *label = item;
        for (size_t i = 0; i < NCHECKS; i++) if (strcmp(checks[i].item, item) == 0) label = checks[i].label;
        json_object_set_new(c, item, json_pack("{s:s,s:b,s:s?,s:s?,s:s?}", "label", label, "ok", db_col_int(s, 1) != 0,
                                               "note", db_col_text(s, 2), "updated_at", db_col_text(s, 3),
                                               "updated_by", db_col_text(s, 4)));
        done += db_col_int(s, 1) != 0;
    }
    db_reset(s);
    json_object_set_new(st, "five_haves", c);
    json_object_set_new(st, "five_haves_done", json_integer(done));
}

static void stations_list(req *r) {
    user_ctx *u = current_user(r);
    const char *level = req_query(r, "level"), *q = req_query(r, "q");
    char *like = q && *q ? arena_printf(req_arena(r), "%%%s%%", q) : NULL;
    db_stmt *s = db_prep(db_thread(),
        "SELECT " STATION_COLS "FROM stations st JOIN regions g ON g.code = st.region_code "
        "WHERE st.region_code BETWEEN ? AND ? AND (? IS NULL OR st.level = ?) AND (? IS NULL OR st.name LIKE ?) "
        "ORDER BY st.region_code");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    db_bind_text(s, 3, level && *level ? level : NULL); db_bind_text(s, 4, level && *level ? level : NULL);
    db_bind_text(s, 5, like); db_bind_text(s, 6, like);
    json_t *items = json_array();
    while (db_step(s) == DB_ROW) json_array_append_new(items, station_json(s));
    db_reset(s);
    size_t i; json_t *it;
    json_array_foreach(items, i, it) add_checks(it);
    reply_json(r, 200, json_pack("{s:o,s:I}", "items", items, "total", (json_int_t)json_array_size(items)));
}

static json_t *station_get_scoped(req *r, int64_t id) {
    user_ctx *u = current_user(r);
    db_stmt *s = db_prep(db_thread(), "SELECT " STATION_COLS "FROM stations st JOIN regions g ON g.code = st.region_code "
                                      "WHERE st.id = ? AND st.region_code BETWEEN ? AND ?");
    db_bind_int(s, 1, id); db_bind_text(s, 2, u->scope_lo); db_bind_text(s, 3, u->scope_hi);
    json_t *j = db_step(s) == DB_ROW ? station_json(s) : NULL;
    db_reset(s);
    if (!j) { reply_error(r, 404, "not_found", NULL, "服务站不存在"); return NULL; }
    add_checks(j);
    return j;
}

static void stations_get(req *r) {
    json_t *j = station_get_scoped(r, req_param_id(r, 0));
    if (j) reply_json(r, 200, j);
}

static const char *const create_keys[] = {"region_code", "name", "address", "phone", "head", "staff_count", NULL};

static void stations_create(req *r) {
    user_ctx *u = current_user(r);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, create_keys)) return;
    bool bad = false;
    const char *rc = json_str_field(r, b, "region_code", "所属区划", 12, &bad);
    const char *name = bad ? NULL : json_str_field(r, b, "name", "名称", 60, &bad);
    if (bad) return;
    if (!rc || strlen(rc) != 12 || !scope_contains(u, rc) || !region_name(req_arena(r), rc)) {
        reply_error(r, 422, "validation_failed", "region_code", "所属区划无效或不在本级管辖范围内");
        return;
    }
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT 1 FROM stations WHERE region_code = ?");
    db_bind_text(s, 1, rc);
    bool exists = db_step(s) == DB_ROW;
    db_reset(s);
    if (exists) { reply_error(r, 409, "conflict", "region_code", "该区划已有服务站"); return; }
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    int64_t id = station_ensure(rc);
    if (id < 0) { db_rollback(d); reply_error(r, 422, "validation_failed", "region_code", "该区划级别不能设立服务站"); return; }
    if (name && *name) {
        s = db_prep(d, "UPDATE stations SET name = ? WHERE id = ?");
        db_bind_text(s, 1, name); db_bind_int(s, 2, id); db_step(s); db_reset(s);
    }
    db_cache_invalidate(d);
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (audit_event(r, "station.create", "station", ids, "ok", json_pack("{s:{s:s}}", "after", "region_code", rc)) != 0 ||
        db_commit(d) != DB_OK) {
        db_rollback(d); reply_error(r, 500, "internal", NULL, "创建服务站失败"); return;
    }
    json_t *j = station_get_scoped(r, id);
    if (j) reply_json(r, 201, j);
}

static const char *const patch_keys[] = {"version", "name", "address", "phone", "head", "staff_count", "five_haves", NULL};

static void stations_patch(req *r) {
    int64_t id = req_param_id(r, 0);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, patch_keys)) return;
    json_t *cur = station_get_scoped(r, id);
    if (!cur) return;
    json_t *ver = json_object_get(b, "version");
    bool bad = false;
    const char *name = json_str_field(r, b, "name", "名称", 60, &bad);
    const char *addr = bad ? NULL : json_str_field(r, b, "address", "地址", 120, &bad);
    const char *phone = bad ? NULL : json_str_field(r, b, "phone", "电话", 20, &bad);
    const char *head = bad ? NULL : json_str_field(r, b, "head", "负责人", 30, &bad);
    json_t *staff = json_object_get(b, "staff_count"), *fh = json_object_get(b, "five_haves");
    if (bad) goto out;
    if (!json_is_integer(ver)) { reply_error(r, 422, "validation_failed", "version", "缺少版本号 version"); goto out; }
    if (name && !*name) { reply_error(r, 422, "validation_failed", "name", "名称不能为空"); goto out; }
    if (staff && !json_is_null(staff) && (!json_is_integer(staff) || json_integer_value(staff) < 0 || json_integer_value(staff) > 10000)) {
        reply_error(r, 422, "validation_failed", "staff_count", "工作人员数须为 0–10000 的整数"); goto out;
    }
    if (fh && !json_is_object(fh)) { reply_error(r, 422, "validation_failed", "five_haves", "五有清单格式错误"); goto out; }
    const char *k; json_t *v;
    if (fh) json_object_foreach(fh, k, v) {
        bool known = false;
        for (size_t i = 0; i < NCHECKS; i++) if (strcmp(checks[i].item, k) == 0) known = true;
        json_t *ok = json_object_get(v, "ok"), *note = json_object_get(v, "note");
        if (!known || !json_is_object(v) || (ok && !json_is_boolean(ok)) ||
            (note && !json_is_null(note) && (!json_is_string(note) || json_string_length(note) > 1500))) {
            reply_error(r, 422, "validation_failed", arena_printf(req_arena(r), "five_haves.%s", k),
                        "五有清单项“%s”无效（ok 为布尔值，note 为不超过 500 字的说明）", k);
            goto out;
        }
    }
    db *d = db_thread();
    char ts[21]; iso_utc(now_unix(), ts);
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); goto out; }
    db_stmt *s = db_prep(d, "UPDATE stations SET name = COALESCE(?, name), address = COALESCE(?, address), "
                            "phone = COALESCE(?, phone), head = COALESCE(?, head), "
                            "staff_count = CASE WHEN ? THEN ? ELSE staff_count END, "
                            "version = version + 1, updated_at = ? WHERE id = ? AND version = ?");
    db_bind_text(s, 1, name); db_bind_text(s, 2, addr); db_bind_text(s, 3, phone); db_bind_text(s, 4, head);
    db_bind_int(s, 5, staff != NULL);
    if (staff && json_is_integer(staff)) db_bind_int(s, 6, json_integer_value(staff)); else db_bind_null(s, 6);
    db_bind_text(s, 7, ts); db_bind_int(s, 8, id); db_bind_int(s, 9, json_integer_value(ver));
    int rc = db_step(s); db_reset(s);
    db_cache_invalidate(d);
    if (rc != DB_DONE || db_changes(d) == 0) {
        db_rollback(d);
        if (rc == DB_DONE) reply_error(r, 409, "version_conflict", "version", "该服务站已被他人修改，请刷新后重试");
        else reply_error(r, 500, "internal", NULL, "保存失败");
        goto out;
    }
    if (fh) json_object_foreach(fh, k, v) {
        json_t *ok = json_object_get(v, "ok"), *note = json_object_get(v, "note");
        s = db_prep(d, "UPDATE station_checks SET ok = COALESCE(?, ok), note = CASE WHEN ? THEN ? ELSE note END, "
                       "updated_at = ?, updated_by = ? WHERE station_id = ? AND item = ?");
        if (ok) db_bind_int(s, 1, json_is_true(ok)); else db_bind_null(s, 1);
        db_bind_int(s, 2, note != NULL);
        db_bind_text(s, 3, note && json_is_string(note) ? json_string_value(note) : NULL);
        db_bind_text(s, 4, ts); db_bind_text(s, 5, current_user(r)->username);
        db_bind_int(s, 6, id); db_bind_text(s, 7, k);
        db_step(s); db_reset(s);
    }
    json_t *before = json_object(), *after = json_object();
    json_object_foreach(b, k, v) {
        if (strcmp(k, "version") == 0) continue;
        json_object_set(after, k, v);
        json_t *old = json_object_get(cur, strcmp(k, "five_haves") == 0 ? "five_haves" : k);
        json_object_set(before, k, old ? old : json_null());
    }
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (audit_event(r, "station.update", "station", ids, "ok", json_pack("{s:o,s:o}", "before", before, "after", after)) != 0 ||
        db_commit(d) != DB_OK) {
        db_rollback(d); reply_error(r, 500, "internal", NULL, "保存失败"); goto out;
    }
    json_t *j = station_get_scoped(r, id);
    if (j) reply_json(r, 200, j);
out:
    json_decref(cur);
}

/* Staff of a station who can take requests: for the assignee pickers of the
 * request dialogs (station staff have no right to list user accounts). */
static void stations_staff(req *r) {
    json_t *st = station_get_scoped(r, req_param_id(r, 0));
    if (!st) return;
    db_stmt *s = db_prep(db_thread(),
        "SELECT DISTINCT u.id, u.username, u.name FROM users u JOIN user_roles ur ON ur.user_id = u.id "
        "JOIN role_perms rp ON rp.role_code = ur.role_code AND rp.perm = 'request.write' "
        "WHERE u.station_id = ? AND u.active = 1 ORDER BY u.name");
    db_bind_int(s, 1, json_integer_value(json_object_get(st, "id")));
    json_t *items = json_array();
    while (db_step(s) == DB_ROW)
        json_array_append_new(items, json_pack("{s:I,s:s,s:s}", "id", (json_int_t)db_col_int(s, 0),
                                               "username", db_col_text(s, 1), "name", db_col_text(s, 2)));
    db_reset(s);
    json_decref(st);
    reply_json(r, 200, json_pack("{s:o}", "items", items));
}

/* ---- code tables and regions ---- */

static void codes_tables(req *r) {
    db_stmt *s = db_prep(db_thread(), "SELECT tbl, COUNT(*) FROM codes GROUP BY tbl ORDER BY tbl");
    json_t *items = json_array();
    while (db_step(s) == DB_ROW)
        json_array_append_new(items, json_pack("{s:s,s:I}", "table", db_col_text(s, 0), "count", (json_int_t)db_col_int(s, 1)));
    db_reset(s);
    reply_json(r, 200, json_pack("{s:o}", "items", items));
}

static void codes_get(req *r) {
    const char *tbl = req_param(r, 0);
    db_stmt *s = db_prep(db_thread(), "SELECT code, name, extra FROM codes WHERE tbl = ? ORDER BY sort, code");
    db_bind_text(s, 1, tbl);
    json_t *items = json_array();
    while (db_step(s) == DB_ROW) {
        json_t *it = json_pack("{s:s,s:s}", "code", db_col_text(s, 0), "name", db_col_text(s, 1));
        const char *ex = db_col_text(s, 2);
        json_t *ej = ex ? json_loads(ex, 0, NULL) : NULL;
        if (ej) { json_object_update_missing(it, ej); json_decref(ej); }
        json_array_append_new(items, it);
    }
    db_reset(s);
    if (!json_array_size(items)) { json_decref(items); reply_error(r, 404, "not_found", NULL, "代码表“%s”不存在", tbl); return; }
    reply_json(r, 200, json_pack("{s:s,s:o}", "table", tbl, "items", items));
}

static void regions_list(req *r) {
    user_ctx *u = current_user(r);
    const char *parent = req_query(r, "parent"), *level = req_query(r, "level");
    bool hist = req_query_int(r, "historical", 0, 0, 1);
    db_stmt *s = db_prep(db_thread(),
        "SELECT code, name, level, parent_code, valid_to, note FROM regions "
        "WHERE code BETWEEN ? AND ? AND (? IS NULL OR parent_code = ?) AND (? IS NULL OR level = ?) "
        "AND (? = 1 OR valid_to IS NULL) ORDER BY code");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    db_bind_text(s, 3, parent && *parent ? parent : NULL); db_bind_text(s, 4, parent && *parent ? parent : NULL);
    db_bind_text(s, 5, level && *level ? level : NULL); db_bind_text(s, 6, level && *level ? level : NULL);
    db_bind_int(s, 7, hist);
    json_t *items = json_array();
    while (db_step(s) == DB_ROW)
        json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s?}", "code", db_col_text(s, 0),
            "name", db_col_text(s, 1), "level", db_col_text(s, 2), "parent_code", db_col_text(s, 3),
            "valid_to", db_col_text(s, 4), "note", db_col_text(s, 5)));
    db_reset(s);
    reply_json(r, 200, json_pack("{s:o}", "items", items));
}

const struct route network_routes[] = {
    {"GET", "/api/v1/stations", "station.read", stations_list, 0},
    {"POST", "/api/v1/stations", "station.write", stations_create, 0},
    {"GET", "/api/v1/stations/{id}", "station.read", stations_get, 0},
    {"PATCH", "/api/v1/stations/{id}", "station.write", stations_patch, 0},
    {"GET", "/api/v1/stations/{id}/staff", "request.read", stations_staff, 0},
    {"GET", "/api/v1/codes", "code.read", codes_tables, 0},
    {"GET", "/api/v1/codes/{table}", "code.read", codes_get, 0},
    {"GET", "/api/v1/regions", "code.read", regions_list, 0},
};
const size_t network_routes_count = sizeof network_routes / sizeof *network_routes;
