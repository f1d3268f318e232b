/* 优抚类别 of a person: several at once, each with its own attributes and
 * validity. Ending a category sets valid_to and keeps the row, so the history
 * of who was entitled to what, and when, is never lost. */
#include "registry/internal.h"
#include "base/timeutil.h"
#include "network/network.h"
#include "std/cdate.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int person_history_add_as(const user_ctx *u, const char *rid, int64_t pid, const char *field, const char *label,
                         const char *before, const char *after) {
    char ts[21]; iso_utc(now_unix(), ts);
    db_stmt *s = db_prep(db_thread(), "INSERT INTO person_history(person_id, ts, user_id, username, request_id, field, label, before, after) "
                                      "VALUES (?,?,?,?,?,?,?,?,?)");
    db_bind_int(s, 1, pid); db_bind_text(s, 2, ts);
    if (u) db_bind_int(s, 3, u->id); else db_bind_null(s, 3);
    db_bind_text(s, 4, u ? u->username : "system");
    db_bind_text(s, 5, rid); db_bind_text(s, 6, field); db_bind_text(s, 7, label);
    db_bind_text(s, 8, before); db_bind_text(s, 9, after);
    int rc = db_step(s); db_reset(s);
    return rc == DB_DONE ? 0 : -1;
}

int person_history_add(req *r, int64_t pid, const char *field, const char *label, const char *before, const char *after) {
    return person_history_add_as(current_user(r), req_id(r), pid, field, label, before, after);
}

static bool is_family(const char *c) {
    return !strcmp(c, "21") || !strcmp(c, "22") || !strcmp(c, "23");
}

/* The rules of a category's attributes. The API and the import both call it,
 * so a rule holds whichever door the data came in by. Disability needs a
 * valid cause × grade pair, read from data/codes/disability_grade_rule.csv
 * (never from code: the pairs are policy); the 三属 need the relation and the
 * deceased serviceman. */
const char *category_rules(arena *a, const char *category, const char *cause, int64_t grade, const char *relation,
                           const char *deceased_name, bool has_deceased_id, const char **field) {
    if (strcmp(category, "1") == 0) {
        if (!cause) { *field = "disability_cause"; return "伤残人员须填写伤残性质（因战、因公、因病）"; }
        if (grade < 1) { *field = "disability_grade"; return "伤残人员须填写伤残等级（1–10 级）"; }
        db_stmt *s = db_prep(db_thread(), "SELECT extra FROM codes WHERE tbl = 'disability_grade_rule' AND code = ?");
        db_bind_text(s, 1, cause);
        int lo = 1, hi = 10;
        if (db_step(s) == DB_ROW) {
            json_t *ex = json_loads(db_col_text(s, 0) ? db_col_text(s, 0) : "{}", 0, NULL);
            if (ex) {
                const char *mn = json_string_value(json_object_get(ex, "grade_min")), *mx = json_string_value(json_object_get(ex, "grade_max"));
                if (mn) lo = atoi(mn);
                if (mx) hi = atoi(mx);
                json_decref(ex);
            }
        }
        db_reset(s);
        if (grade < lo || grade > hi) {
            *field = "disability_grade";
            return arena_printf(a, "%s伤残等级只能为 %d–%d 级", code_name(a, "disability_cause", cause), lo, hi);
        }
    } else if (cause || grade) {
        *field = "disability_cause";
        return "只有伤残人员类别填写伤残性质和等级";
    }
    if (is_family(category)) {
        if (!relation) { *field = "relation"; return "遗属须填写与牺牲（病故）军人的关系"; }
        if (!deceased_name && !has_deceased_id) { *field = "deceased_name"; return "遗属须填写牺牲（病故）军人姓名"; }
    }
    return NULL;
}

static bool opt_date(req *r, json_t *b, const char *key, const char *label, const char **out) {
    *out = NULL;
    json_t *v = json_object_get(b, key);
    if (!v || json_is_null(v)) return true;
    char iso[11];
    const char *e = json_is_string(v) ? cdate_parse(json_string_value(v), iso) : "格式不正确";
    if (e) { reply_error(r, 422, "validation_failed", key, "%s：%s", label, e); return false; }
    *out = arena_strdup(req_arena(r), iso);
    return true;
}

static const char *const cat_keys[] = {"category", "valid_from", "valid_to", "disability_cause", "disability_grade",
                                       "certificate_no", "deceased_person_id", "deceased_name", "relation", "note",
                                       "version", NULL};

struct catv { const char *category, *from, *to, *cause, *cert, *dname, *rel, *note; int64_t grade, dpid; };

/* Validates a category body (POST: full; PATCH: merged over CUR). */
static bool cat_validate(req *r, json_t *b, struct catv *c) {
    arena *a = req_arena(r);
    bool bad = false;
    const char *v;
    if ((v = json_str_field(r, b, "category", "优抚类别", 10, &bad)) || bad) { if (bad) return false; c->category = v; }
    if (!c->category || !code_exists("person_category", c->category)) {
        const char *byname = c->category ? code_by_name(a, "person_category", c->category) : NULL;
        if (!byname) { reply_error(r, 422, "validation_failed", "category", "请选择有效的优抚类别"); return false; }
        c->category = byname;
    }
    if (json_object_get(b, "valid_from") && !opt_date(r, b, "valid_from", "起始日期", &c->from)) return false;
    if (json_object_get(b, "valid_to") && !opt_date(r, b, "valid_to", "终止日期", &c->to)) return false;
    if (c->from && c->to && strcmp(c->to, c->from) < 0) { reply_error(r, 422, "validation_failed", "valid_to", "终止日期不能早于起始日期"); return false; }
    if (json_object_get(b, "disability_cause")) { v = json_str_field(r, b, "disability_cause", "伤残性质", 4, &bad); if (bad) return false; c->cause = v; }
    if (c->cause && !code_exists("disability_cause", c->cause)) {
        const char *byname = code_by_name(a, "disability_cause", c->cause);
        if (!byname) { reply_error(r, 422, "validation_failed", "disability_cause", "伤残性质应为因战、因公或因病"); return false; }
        c->cause = byname;
    }
    json_t *g = json_object_get(b, "disability_grade");
    if (g) {
        if (json_is_null(g)) c->grade = 0;
        else if (!json_is_integer(g)) { reply_error(r, 422, "validation_failed", "disability_grade", "伤残等级应为 1–10 的整数"); return false; }
        else c->grade = json_integer_value(g);
    }
    if (json_object_get(b, "certificate_no")) { v = json_str_field(r, b, "certificate_no", "证件编号", 40, &bad); if (bad) return false; c->cert = v; }
    if (json_object_get(b, "deceased_name")) { v = json_str_field(r, b, "deceased_name", "牺牲（病故）军人姓名", 30, &bad); if (bad) return false; c->dname = v; }
    if (json_object_get(b, "relation")) { v = json_str_field(r, b, "relation", "与烈士（军人）关系", 10, &bad); if (bad) return false; c->rel = v; }
    if (c->rel && !code_exists("relation", c->rel)) {
        const char *byname = code_by_name(a, "relation", c->rel);
        if (!byname) { reply_error(r, 422, "validation_failed", "relation", "关系代码无效"); return false; }
        c->rel = byname;
    }
    if (json_object_get(b, "note")) { v = json_str_field(r, b, "note", "备注", 200, &bad); if (bad) return false; c->note = v; }
    json_t *dp = json_object_get(b, "deceased_person_id");
    if (dp) c->dpid = json_is_integer(dp) ? json_integer_value(dp) : 0;
    const char *field = NULL;
    const char *e = category_rules(a, c->category, c->cause, c->grade, c->rel, c->dname, c->dpid != 0, &field);
    if (e) { reply_error(r, 422, "validation_failed", field, "%s", e); return false; }
    return true;
}

int category_insert(req *r, int64_t pid, json_t *b, bool audit) {
    if (!json_is_object(b)) { reply_error(r, 422, "validation_failed", "categories", "优抚类别格式不正确"); return -1; }
    if (!json_only_keys(r, b, cat_keys)) return -1;
    struct catv c = {0};
    if (!cat_validate(r, b, &c)) return -1;
    db *d = db_thread();
    if (c.dpid) {
        char nm[64], rg[13];
        if (!person_brief(c.dpid, current_user(r), nm, rg)) { reply_error(r, 422, "validation_failed", "deceased_person_id", "关联的军人档案不存在"); return -1; }
        if (!c.dname) c.dname = arena_strdup(req_arena(r), nm);
    }
    if (!c.to) {
        db_stmt *s = db_prep(d, "SELECT 1 FROM person_categories WHERE person_id = ? AND category = ? AND valid_to IS NULL");
        db_bind_int(s, 1, pid); db_bind_text(s, 2, c.category);
        bool dup = db_step(s) == DB_ROW;
        db_reset(s);
        if (dup) { reply_error(r, 409, "duplicate", "category", "该人员已有有效的“%s”类别", code_name(req_arena(r), "person_category", c.category)); return -1; }
    }
    char ts[21]; iso_utc(now_unix(), ts);
    db_stmt *s = db_prep(d, "INSERT INTO person_categories(person_id, category, valid_from, valid_to, disability_cause, disability_grade, "
                            "certificate_no, deceased_person_id, deceased_name, relation, note, created_at, updated_at) "
                            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id");
    db_bind_int(s, 1, pid); db_bind_text(s, 2, c.category); db_bind_text(s, 3, c.from); db_bind_text(s, 4, c.to);
    db_bind_text(s, 5, c.cause);
    if (c.grade) db_bind_int(s, 6, c.grade); else db_bind_null(s, 6);
    db_bind_text(s, 7, c.cert);
    if (c.dpid) db_bind_int(s, 8, c.dpid); else db_bind_null(s, 8);
    db_bind_text(s, 9, c.dname); db_bind_text(s, 10, c.rel); db_bind_text(s, 11, c.note);
    db_bind_text(s, 12, ts); db_bind_text(s, 13, ts);
    int64_t cid = db_step(s) == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    if (cid < 0) { reply_error(r, 500, "internal", NULL, "保存优抚类别失败"); return -1; }
    char *desc = arena_printf(req_arena(r), "%s%s%s", code_name(req_arena(r), "person_category", c.category),
                              c.grade ? arena_printf(req_arena(r), "（%s%lld级）", code_name(req_arena(r), "disability_cause", c.cause), (long long)c.grade) : "",
                              c.to ? "（已终止）" : "");
    if (person_history_add(r, pid, "categories", "优抚类别", NULL, arena_printf(req_arena(r), "新增：%s", desc)) != 0) return -1;
    if (audit) {
        char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)pid);
        if (audit_event(r, "person.category.add", "person", ids, "ok",
                      json_pack("{s:{s:s,s:I}}", "after", "category", c.category, "category_id", (json_int_t)cid)) != 0) {
            reply_error(r, 500, "internal", NULL, "保存失败"); return -1;
        }
    }
    return 0;
}

void categories_create(req *r) {
    int64_t pid = req_param_id(r, 0);
    char nm[64], rg[13];
    if (pid <= 0 || !person_brief(pid, current_user(r), nm, rg)) { reply_error(r, 404, "not_found", NULL, "人员档案不存在"); return; }
    json_t *b = req_json(r);
    if (!b) return;
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    if (category_insert(r, pid, b, true) != 0) { db_rollback(d); return; }
    person_refresh_completeness(pid);
    if (db_commit(d) != DB_OK) { db_rollback(d); reply_error(r, 500, "internal", NULL, "保存失败"); return; }
    reply_json(r, 201, person_view(req_arena(r), current_user(r), pid));
}

void categories_patch(req *r) {
    int64_t pid = req_param_id(r, 0), cid = req_param_id(r, 1);
    arena *a = req_arena(r);
    char nm[64], rg[13];
    if (pid <= 0 || !person_brief(pid, current_user(r), nm, rg)) { reply_error(r, 404, "not_found", NULL, "人员档案不存在"); return; }
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, cat_keys)) return;
    if (json_object_get(b, "category")) { reply_error(r, 422, "validation_failed", "category", "类别不能修改：请终止原类别后新增"); return; }
    json_t *ver = json_object_get(b, "version");
    if (!json_is_integer(ver)) { reply_error(r, 422, "validation_failed", "version", "缺少版本号 version"); return; }
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT category, valid_from, valid_to, disability_cause, disability_grade, certificate_no, "
                            "deceased_person_id, deceased_name, relation, note FROM person_categories WHERE id = ? AND person_id = ?");
    db_bind_int(s, 1, cid); db_bind_int(s, 2, pid);
    if (db_step(s) != DB_ROW) { db_reset(s); reply_error(r, 404, "not_found", NULL, "优抚类别记录不存在"); return; }
    struct catv c = {arena_strdup(a, db_col_text(s, 0)), arena_strdup(a, db_col_text(s, 1)), arena_strdup(a, db_col_text(s, 2)),
                     arena_strdup(a, db_col_text(s, 3)), arena_strdup(a, db_col_text(s, 5)), arena_strdup(a, db_col_text(s, 7)),
                     arena_strdup(a, db_col_text(s, 8)), arena_strdup(a, db_col_text(s, 9)),
                     db_col_null(s, 4) ? 0 : db_col_int(s, 4), db_col_null(s, 6) ? 0 : db_col_int(s, 6)};
    db_reset(s);
    struct catv before = c;
    if (!cat_validate(r, b, &c)) return;
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    /* Reopening an ended category must not give the person the same category
     * twice (the create route refuses that too). */
    if (before.to && !c.to) {
        s = db_prep(d, "SELECT 1 FROM person_categories WHERE person_id = ? AND category = ? AND valid_to IS NULL AND id <> ?");
        db_bind_int(s, 1, pid); db_bind_text(s, 2, c.category); db_bind_int(s, 3, cid);
        bool dup = db_step(s) == DB_ROW;
        db_reset(s);
        if (dup) {
            db_rollback(d);
            reply_error(r, 409, "duplicate", "valid_to", "该人员已有有效的“%s”类别，不能恢复此条", code_name(a, "person_category", c.category));
            return;
        }
    }
    char ts[21]; iso_utc(now_unix(), ts);
    s = db_prep(d, "UPDATE person_categories SET valid_from = ?, valid_to = ?, disability_cause = ?, disability_grade = ?, "
                   "certificate_no = ?, deceased_name = ?, relation = ?, note = ?, version = version + 1, updated_at = ? "
                   "WHERE id = ? AND version = ?");
    db_bind_text(s, 1, c.from); db_bind_text(s, 2, c.to); db_bind_text(s, 3, c.cause);
    if (c.grade) db_bind_int(s, 4, c.grade); else db_bind_null(s, 4);
    db_bind_text(s, 5, c.cert); db_bind_text(s, 6, c.dname); db_bind_text(s, 7, c.rel); db_bind_text(s, 8, c.note);
    db_bind_text(s, 9, ts); db_bind_int(s, 10, cid); db_bind_int(s, 11, json_integer_value(ver));
    int rc = db_step(s); db_reset(s);
    if (rc != DB_DONE || db_changes(d) == 0) {
        db_rollback(d);
        if (rc == DB_DONE) reply_error(r, 409, "version_conflict", "version", "该记录已被他人修改，请刷新后重试");
        else reply_error(r, 500, "internal", NULL, "保存失败");
        return;
    }
    /* History per changed attribute. */
    static const struct { const char *label; size_t off; } attrs[] = {
        {"起始日期", offsetof(struct catv, from)}, {"终止日期", offsetof(struct catv, to)},
        {"伤残性质", offsetof(struct catv, cause)}, {"证件编号", offsetof(struct catv, cert)},
        {"牺牲（病故）军人姓名", offsetof(struct catv, dname)}, {"关系", offsetof(struct catv, rel)},
        {"备注", offsetof(struct catv, note)},
    };
    const char *cname = code_name(a, "person_category", c.category);
    json_t *bj = json_object(), *aj = json_object();
    for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++) {
        const char *o = *(const char **)((const char *)&before + attrs[i].off), *n = *(const char **)((const char *)&c + attrs[i].off);
        if ((!o && !n) || (o && n && !strcmp(o, n))) continue;
        person_history_add(r, pid, arena_printf(a, "categories.%lld", (long long)cid),
                           arena_printf(a, "%s·%s", cname, attrs[i].label), o, n);
        json_object_set_new(bj, attrs[i].label, o ? json_string(o) : json_null());
        json_object_set_new(aj, attrs[i].label, n ? json_string(n) : json_null());
    }
    if (before.grade != c.grade) {
        person_history_add(r, pid, arena_printf(a, "categories.%lld", (long long)cid), arena_printf(a, "%s·伤残等级", cname),
                           before.grade ? arena_printf(a, "%lld", (long long)before.grade) : NULL,
                           c.grade ? arena_printf(a, "%lld", (long long)c.grade) : NULL);
        json_object_set_new(bj, "伤残等级", json_integer(before.grade));
        json_object_set_new(aj, "伤残等级", json_integer(c.grade));
    }
    person_refresh_completeness(pid);
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)pid);
    if (audit_event(r, "person.category.update", "person", ids, "ok",
                  json_pack("{s:I,s:o,s:o}", "category_id", (json_int_t)cid, "before", bj, "after", aj)) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d); reply_error(r, 500, "internal", NULL, "保存失败"); return;
    }
    reply_json(r, 200, person_view(a, current_user(r), pid));
}
