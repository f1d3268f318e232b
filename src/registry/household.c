/* Household members (家庭成员) of a person: spouse, children, parents… A
 * member may be linked to a person file of its own, or exist only here (a
 * child needs no full file). Every change is kept in the person's history. */
#include "registry/internal.h"
#include "base/fieldcrypt.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "network/network.h"
#include "std/cdate.h"
#include "std/idcard.h"
#include <stdio.h>
#include <string.h>

static const char *const hh_keys[] = {"relation", "name", "id_number", "sex", "birth_date", "phone", "note", "person_id", NULL};

struct hhv { const char *relation, *name, *idn, *sex, *birth, *phone, *note; int64_t person_id;
             bool idn_broken; const char *masked; };

static bool hh_validate(req *r, json_t *b, struct hhv *h) {
    arena *a = req_arena(r);
    if (!json_is_object(b)) { reply_error(r, 422, "validation_failed", "household", "家庭成员格式不正确"); return false; }
    if (!json_only_keys(r, b, hh_keys)) return false;
    bool bad = false;
    #define STR(key, label, max, dst) if (json_object_get(b, key)) { dst = json_str_field(r, b, key, label, max, &bad); if (bad) return false; }
    STR("relation", "关系", 10, h->relation)
    STR("name", "姓名", 30, h->name)
    STR("id_number", "身份证号码", 40, h->idn)
    STR("sex", "性别", 4, h->sex)
    STR("birth_date", "出生日期", 20, h->birth)
    STR("phone", "联系电话", 20, h->phone)
    STR("note", "备注", 200, h->note)
    #undef STR
    json_t *pid = json_object_get(b, "person_id");
    if (pid && !json_is_null(pid)) {
        char nm[64], rg[13];
        if (!json_is_integer(pid) || !person_brief(json_integer_value(pid), current_user(r), nm, rg)) {
            reply_error(r, 422, "validation_failed", "person_id", "关联的人员档案不存在"); return false;
        }
        h->person_id = json_integer_value(pid);
        if (!h->name) h->name = arena_strdup(a, nm);
    } else if (pid) h->person_id = 0;
    if (!h->relation || !(code_exists("relation", h->relation) || (h->relation = code_by_name(a, "relation", h->relation)))) {
        reply_error(r, 422, "validation_failed", "relation", "请选择与本人的关系"); return false;
    }
    if (!h->name || !*h->name) { reply_error(r, 422, "validation_failed", "name", "请填写家庭成员姓名"); return false; }
    if (h->idn && *h->idn) {
        idcard c;
        const char *e = idcard_parse(h->idn, cdate_today_ymd(), &c);
        if (e) { reply_error(r, 422, "validation_failed", "id_number", "%s", e); return false; }
        h->idn = arena_strdup(a, c.number);
        char birth[11]; snprintf(birth, sizeof birth, "%04d-%02d-%02d", c.year, c.month, c.day);
        char sex[2] = {(char)('0' + c.sex), 0};
        if (h->sex && *h->sex && strcmp(h->sex, sex)) { reply_error(r, 422, "validation_failed", "sex", "性别与身份证号码不符"); return false; }
        if (h->birth && *h->birth && strcmp(h->birth, birth)) { reply_error(r, 422, "validation_failed", "birth_date", "出生日期与身份证号码不符"); return false; }
        h->sex = arena_strdup(a, sex); h->birth = arena_strdup(a, birth);
    } else h->idn = NULL;
    if (h->birth && *h->birth && !(h->idn)) {
        char iso[11];
        const char *e = cdate_parse(h->birth, iso);
        if (e) { reply_error(r, 422, "validation_failed", "birth_date", "出生日期：%s", e); return false; }
        h->birth = arena_strdup(a, iso);
    }
    if (h->sex && *h->sex && !code_exists("sex", h->sex) && !(h->sex = code_by_name(a, "sex", h->sex))) {
        reply_error(r, 422, "validation_failed", "sex", "性别无效"); return false;
    }
    return true;
}

/* A member's ID number is sealed like a person's, bound to the owning person
 * and the member's blind index; the list shows the masked form. */
static void bind_member_id(arena *a, db_stmt *s, int k, int64_t pid, const char *idn) {
    if (!idn) { db_bind_null(s, k); db_bind_null(s, k + 1); db_bind_null(s, k + 2); return; }
    char h[33], masked[19];
    fc_index("id", idn, h);
    idcard_mask(idn, masked, sizeof masked);
    db_bind_text(s, k, fc_seal(a, idn, arena_printf(a, "household.id_number|%lld|%s", (long long)pid, h)));
    db_bind_text(s, k + 1, h);
    db_bind_text(s, k + 2, masked);
}

static const char *describe(arena *a, const struct hhv *h) {
    const char *m = h->idn ? mask_value(a, FT_IDNUM, h->idn) : h->idn_broken ? h->masked : NULL;
    return arena_printf(a, "%s %s%s%s", code_name(a, "relation", h->relation), h->name, m ? " " : "", m ? m : "");
}

int household_insert(req *r, int64_t pid, json_t *b, bool audit) {
    struct hhv h = {0};
    if (!hh_validate(r, b, &h)) return -1;
    char ts[21]; iso_utc(now_unix(), ts);
    db_stmt *s = db_prep(db_thread(), "INSERT INTO household_members(person_id, relation, member_person_id, name, sex, "
                                      "birth_date, phone, note, created_at, updated_at, id_enc, id_hash, id_masked) "
                                      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id");
    db_bind_int(s, 1, pid); db_bind_text(s, 2, h.relation);
    if (h.person_id) db_bind_int(s, 3, h.person_id); else db_bind_null(s, 3);
    db_bind_text(s, 4, h.name); db_bind_text(s, 5, h.sex); db_bind_text(s, 6, h.birth);
    db_bind_text(s, 7, h.phone); db_bind_text(s, 8, h.note); db_bind_text(s, 9, ts); db_bind_text(s, 10, ts);
    bind_member_id(req_arena(r), s, 11, pid, h.idn);
    int64_t hid = db_step(s) == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    if (hid < 0) { reply_error(r, 500, "internal", NULL, "保存家庭成员失败"); return -1; }
    const char *desc = describe(req_arena(r), &h);
    if (person_history_add(r, pid, "household", "家庭成员", NULL, arena_printf(req_arena(r), "新增：%s", desc)) != 0) return -1;
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)pid);
    if (audit && audit_event(r, "person.household.add", "person", ids, "ok",
                           json_pack("{s:I,s:s}", "member_id", (json_int_t)hid, "after", desc)) != 0) return -1;
    return 0;
}

static bool person_ok(req *r, int64_t pid) {
    char nm[64], rg[13];
    if (pid <= 0 || !person_brief(pid, current_user(r), nm, rg)) { reply_error(r, 404, "not_found", NULL, "人员档案不存在"); return false; }
    return true;
}

void household_create(req *r) {
    int64_t pid = req_param_id(r, 0);
    if (!person_ok(r, pid)) return;
    json_t *b = req_json(r);
    if (!b) return;
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    if (household_insert(r, pid, b, true) != 0 || db_commit(d) != DB_OK) { db_rollback(d); if (!replied(r)) reply_error(r, 500, "internal", NULL, "保存失败"); return; }
    reply_json(r, 201, person_view(req_arena(r), current_user(r), pid));
}

static bool load_member(req *r, int64_t pid, int64_t hid, struct hhv *h) {
    arena *a = req_arena(r);
    db_stmt *s = db_prep(db_thread(), "SELECT relation, name, id_enc, sex, birth_date, phone, note, member_person_id, id_hash, id_masked "
                                      "FROM household_members WHERE id = ? AND person_id = ?");
    db_bind_int(s, 1, hid); db_bind_int(s, 2, pid);
    bool ok = db_step(s) == DB_ROW;
    if (ok) {
        h->relation = arena_strdup(a, db_col_text(s, 0)); h->name = arena_strdup(a, db_col_text(s, 1));
        h->idn = db_col_text(s, 2) ? fc_open(a, db_col_text(s, 2), arena_printf(a, "household.id_number|%lld|%s",
                                              (long long)pid, db_col_text(s, 8) ? db_col_text(s, 8) : "")) : NULL;
        h->idn_broken = db_col_text(s, 2) && !h->idn;
        h->masked = arena_strdup(a, db_col_text(s, 9));
        if (h->idn_broken)
            log_error(req_id(r), "加密数据校验失败：人员档案 %lld 的家庭成员 %lld 的身份证号码无法解密（数据被篡改、被挪用或密钥不符）",
                      (long long)pid, (long long)hid);
        h->sex = arena_strdup(a, db_col_text(s, 3));
        h->birth = arena_strdup(a, db_col_text(s, 4)); h->phone = arena_strdup(a, db_col_text(s, 5));
        h->note = arena_strdup(a, db_col_text(s, 6)); h->person_id = db_col_null(s, 7) ? 0 : db_col_int(s, 7);
    }
    db_reset(s);
    if (!ok) reply_error(r, 404, "not_found", NULL, "家庭成员记录不存在");
    return ok;
}

void household_patch(req *r) {
    int64_t pid = req_param_id(r, 0), hid = req_param_id(r, 1);
    if (!person_ok(r, pid)) return;
    struct hhv h, before;
    if (!load_member(r, pid, hid, &h)) return;
    before = h;
    json_t *b = req_json(r);
    if (!b) return;
    /* A sealed number that does not open is not written back as "none";
     * giving the number anew repairs it. */
    if (h.idn_broken && json_is_object(b) && !json_object_get(b, "id_number")) {
        reply_error(r, 500, "integrity", "id_number", "加密数据校验失败：该家庭成员的身份证号码无法解密（数据被篡改或密钥不符），请联系系统管理员");
        return;
    }
    if (!hh_validate(r, b, &h)) return;
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    char ts[21]; iso_utc(now_unix(), ts);
    db_stmt *s = db_prep(d, "UPDATE household_members SET relation = ?, member_person_id = ?, name = ?, sex = ?, "
                            "birth_date = ?, phone = ?, note = ?, updated_at = ?, id_enc = ?, id_hash = ?, id_masked = ? WHERE id = ?");
    db_bind_text(s, 1, h.relation);
    if (h.person_id) db_bind_int(s, 2, h.person_id); else db_bind_null(s, 2);
    db_bind_text(s, 3, h.name); db_bind_text(s, 4, h.sex); db_bind_text(s, 5, h.birth);
    db_bind_text(s, 6, h.phone); db_bind_text(s, 7, h.note); db_bind_text(s, 8, ts);
    bind_member_id(req_arena(r), s, 9, pid, h.idn);
    db_bind_int(s, 12, hid);
    int rc = db_step(s); db_reset(s);
    arena *a = req_arena(r);
    const char *bd = describe(a, &before), *ad = describe(a, &h);
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)pid);
    if (rc != DB_DONE || person_history_add(r, pid, "household", "家庭成员", bd, ad) != 0 ||
        audit_event(r, "person.household.update", "person", ids, "ok",
                  json_pack("{s:I,s:s,s:s}", "member_id", (json_int_t)hid, "before", bd, "after", ad)) != 0 ||
        db_commit(d) != DB_OK) {
        db_rollback(d); reply_error(r, 500, "internal", NULL, "保存失败"); return;
    }
    reply_json(r, 200, person_view(a, current_user(r), pid));
}

void household_delete(req *r) {
    int64_t pid = req_param_id(r, 0), hid = req_param_id(r, 1);
    if (!person_ok(r, pid)) return;
    struct hhv h;
    if (!load_member(r, pid, hid, &h)) return;
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    db_stmt *s = db_prep(d, "DELETE FROM household_members WHERE id = ?");
    db_bind_int(s, 1, hid);
    int rc = db_step(s); db_reset(s);
    const char *desc = describe(req_arena(r), &h);
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)pid);
    if (rc != DB_DONE || person_history_add(r, pid, "household", "家庭成员", arena_printf(req_arena(r), "删除：%s", desc), NULL) != 0 ||
        audit_event(r, "person.household.delete", "person", ids, "ok", json_pack("{s:I,s:s}", "member_id", (json_int_t)hid, "before", desc)) != 0 ||
        db_commit(d) != DB_OK) {
        db_rollback(d); reply_error(r, 500, "internal", NULL, "删除失败"); return;
    }
    reply_json(r, 200, person_view(req_arena(r), current_user(r), pid));
}
