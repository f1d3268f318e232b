/* The person field table and the generic code that walks it (see fields.h). */
#include "registry/fields.h"
#include "db/db.h"
#include "network/network.h"
#include "std/cdate.h"
#include "std/idcard.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S FF_SENSITIVE
const struct pfield person_fields[] = {
    {"name", "name", "姓名", "", FT_TEXT, NULL, 30, 0, 0, FF_REQUIRED | FF_COMPLETE},
    {"id_number", "id_enc", "身份证号码", "身份证号|公民身份号码|证件号码", FT_IDNUM, NULL, 18, 0, 0, FF_REQUIRED | FF_COMPLETE | S},
    {"sex", "sex", "性别", "", FT_CODE, "sex", 0, 0, 0, FF_COMPLETE},
    {"birth_date", "birth_date", "出生日期", "出生年月", FT_DATE, NULL, 0, 0, 0, FF_COMPLETE},
    {"ethnic", "ethnic", "民族", "", FT_CODE, "ethnic", 0, 0, 0, FF_COMPLETE},
    {"phone", "phone", "联系电话", "电话|手机|手机号码", FT_PHONE, NULL, 20, 0, 0, FF_COMPLETE},
    {"hukou_address", "hukou_address", "户籍地址", "户籍所在地", FT_TEXT, NULL, 120, 0, 0, FF_COMPLETE},
    {"hukou_type", "hukou_type", "户籍类型", "户口性质|户籍性质", FT_CODE, "hukou_type", 0, 0, 0, FF_COMPLETE},
    {"current_address", "current_address", "现居住地址", "现住址|居住地址", FT_TEXT, NULL, 120, 0, 0, FF_COMPLETE},
    {"region_code", "region_code", "所属村社区", "所属区划|区划代码|村（社区）", FT_REGION, NULL, 0, 0, 0, FF_REQUIRED | FF_COMPLETE},
    {"status", "status", "人员状态", "状态", FT_CODE, "person_status", 0, 0, 0, 0},
    {"status_date", "status_date", "状态日期", "死亡日期|迁移日期", FT_DATE, NULL, 0, 0, 0, 0},
    {"status_note", "status_note", "状态说明", "迁往地|迁出地|迁入来源", FT_TEXT, NULL, 100, 0, 0, 0},
    {"bank_name", "bank_name", "开户银行", "", FT_TEXT, NULL, 60, 0, 0, 0},
    {"bank_account", "bank_enc", "银行账号", "银行卡号", FT_BANK, NULL, 30, 0, 0, S},
    {"remarks", "remarks", "备注", "", FT_TEXT, NULL, 500, 0, 0, 0},
    {"service.branch", "branch", "军种", "服役军种", FT_CODE, "branch", 0, 0, 0, FF_COMPLETE | FF_VETERAN},
    {"service.enlist_date", "enlist_date", "入伍日期", "入伍时间", FT_DATE, NULL, 0, 0, 0, FF_COMPLETE | FF_VETERAN},
    {"service.discharge_date", "discharge_date", "退役日期", "退伍日期|退役时间|退伍时间", FT_DATE, NULL, 0, 0, 0, FF_COMPLETE | FF_VETERAN},
    {"service.rank_text", "rank_text", "退役时军衔", "军衔|退役军衔", FT_TEXT, NULL, 20, 0, 0, 0},
    {"service.rank_code", "rank_code", "军衔代码", "", FT_CODE, "rank", 0, 0, 0, FF_DERIVED},
    {"service.discharge_type", "discharge_type", "退役安置方式", "安置方式|退役方式", FT_CODE, "placement_route", 0, 0, 0, FF_COMPLETE | FF_VETERAN},
    {"service.awards.peace.commendation", "award_peace_commendation", "嘉奖次数（平时）", "嘉奖", FT_INT, NULL, 0, 0, 99, 0},
    {"service.awards.peace.third", "award_peace_third", "三等功次数（平时）", "三等功", FT_INT, NULL, 0, 0, 99, 0},
    {"service.awards.peace.second", "award_peace_second", "二等功次数（平时）", "二等功", FT_INT, NULL, 0, 0, 99, 0},
    {"service.awards.peace.first", "award_peace_first", "一等功次数（平时）", "一等功", FT_INT, NULL, 0, 0, 99, 0},
    {"service.awards.war.commendation", "award_war_commendation", "嘉奖次数（战时）", "", FT_INT, NULL, 0, 0, 99, 0},
    {"service.awards.war.third", "award_war_third", "三等功次数（战时）", "", FT_INT, NULL, 0, 0, 99, 0},
    {"service.awards.war.second", "award_war_second", "二等功次数（战时）", "", FT_INT, NULL, 0, 0, 99, 0},
    {"service.awards.war.first", "award_war_first", "一等功次数（战时）", "", FT_INT, NULL, 0, 0, 99, 0},
    {"service.hardship_class", "hardship_class", "艰苦边远地区类别", "艰苦地区类别", FT_CODE, "hardship_class", 0, 0, 0, 0},
    {"service.hardship_months", "hardship_months", "艰苦边远地区服役月数", "艰苦地区月数", FT_INT, NULL, 0, 0, 600, 0},
    {"service.island_class", "island_class", "海岛类别", "", FT_CODE, "island_class", 0, 0, 0, 0},
    {"service.island_months", "island_months", "海岛服役月数", "", FT_INT, NULL, 0, 0, 600, 0},
    {"service.combat_days", "combat_days", "参战天数", "", FT_INT, NULL, 0, 0, 3650, 0},
};
#undef S
const size_t person_nfields = sizeof person_fields / sizeof *person_fields;

int pfield_index(const char *key) {
    for (size_t i = 0; i < person_nfields; i++) if (strcmp(person_fields[i].key, key) == 0) return (int)i;
    return -1;
}

static size_t utf8_len(const char *s) {
    size_t n = 0;
    for (; *s; s++) if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static char *trim(arena *a, const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    /* also the full-width space U+3000 that Chinese IMEs type */
    while ((unsigned char)s[0] == 0xE3 && (unsigned char)s[1] == 0x80 && (unsigned char)s[2] == 0x80) s += 3;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) n--;
    while (n >= 3 && (unsigned char)s[n - 3] == 0xE3 && (unsigned char)s[n - 2] == 0x80 && (unsigned char)s[n - 1] == 0x80) n -= 3;
    return arena_strndup(a, s, n);
}

const char *pfield_normalize(arena *a, const struct pfield *f, const user_ctx *u, const char *input, const char **out) {
    *out = NULL;
    if (!input) return NULL;
    char *v = trim(a, input);
    if (!*v) return NULL;
    switch (f->type) {
    case FT_TEXT:
        for (const unsigned char *p = (const unsigned char *)v; *p; p++)
            if (*p < 0x20 && *p != '\n' && *p != '\t') return arena_printf(a, "%s含有控制字符", f->label);
        if (f->maxlen && utf8_len(v) > (size_t)f->maxlen)
            return arena_printf(a, "%s不能超过 %d 个字", f->label, f->maxlen);
        *out = v;
        return NULL;
    case FT_DATE: {
        char iso[11];
        const char *e = cdate_parse(v, iso);
        if (e) return arena_printf(a, "%s：%s", f->label, e);
        int days = cdate_parse_iso(iso);
        if (days > cdate_today_days()) return arena_printf(a, "%s不能晚于今天", f->label);
        if (days < cdate_to_days(1900, 1, 1)) return arena_printf(a, "%s不能早于 1900 年", f->label);
        *out = arena_strdup(a, iso);
        return NULL;
    }
    case FT_INT: {
        char *end;
        long x = strtol(v, &end, 10);
        if (*end == '.' && end[1] == '0' && !end[2]) end += 2;   /* Excel writes 3 as 3.0 sometimes */
        if (*end || end == v) return arena_printf(a, "%s必须是整数", f->label);
        if (x < f->min || x > f->max) return arena_printf(a, "%s须在 %d–%d 之间", f->label, f->min, f->max);
        *out = arena_printf(a, "%ld", x);
        return NULL;
    }
    case FT_CODE: {
        const char *c = code_by_name(a, f->codes, v);
        if (!c) return arena_printf(a, "“%s”不是有效的%s", v, f->label);
        *out = c;
        return NULL;
    }
    case FT_PHONE: {
        int digits = 0;
        for (const char *p = v; *p; p++) {
            if (isdigit((unsigned char)*p)) digits++;
            else if (*p != '-' && *p != ' ' && *p != '+') return arena_printf(a, "%s只能包含数字和“-”", f->label);
        }
        if (digits < 7 || digits > 15) return arena_printf(a, "%s位数不正确", f->label);
        if (v[0] == '1' && digits != 11 && !strchr(v, '-')) return arena_printf(a, "手机号码应为 11 位");
        *out = v;
        return NULL;
    }
    case FT_REGION: {
        /* A code, or the name of a village/community (or town) within the scope. */
        const char *code = NULL;
        if (strlen(v) == 12 && strspn(v, "0123456789") == 12) code = v;
        else {
            db_stmt *s = db_prep(db_thread(), "SELECT code FROM regions WHERE name = ? AND valid_to IS NULL "
                                              "AND code BETWEEN ? AND ? ORDER BY level DESC LIMIT 2");
            db_bind_text(s, 1, v);
            db_bind_text(s, 2, u ? u->scope_lo : "000000000000");
            db_bind_text(s, 3, u ? u->scope_hi : "999999999999");
            int n = 0;
            while (db_step(s) == DB_ROW) { if (!n) code = arena_strdup(a, db_col_text(s, 0)); n++; }
            db_reset(s);
            if (n > 1) return arena_printf(a, "“%s”有重名，请填写区划代码", v);
        }
        if (!code || !region_name(a, code)) return arena_printf(a, "%s“%s”不存在", f->label, v);
        if (u && !scope_contains(u, code)) return arena_printf(a, "%s“%s”不在本级管辖范围内", f->label, v);
        db_stmt *s = db_prep(db_thread(), "SELECT level, valid_to FROM regions WHERE code = ?");
        db_bind_text(s, 1, code);
        const char *why = NULL;
        if (db_step(s) == DB_ROW) {
            const char *lvl = db_col_text(s, 0);
            if (!db_col_null(s, 1)) why = arena_printf(a, "%s“%s”已撤并，请选择现行区划", f->label, v);
            else if (strcmp(lvl, "village") && strcmp(lvl, "town"))
                why = arena_printf(a, "%s须为村（社区）或镇（街道）", f->label);
        }
        db_reset(s);
        if (why) return why;
        *out = code;
        return NULL;
    }
    case FT_IDNUM: {
        idcard c;
        const char *e = idcard_parse(v, cdate_today_ymd(), &c);
        if (e) return e;
        *out = arena_strdup(a, c.number);
        return NULL;
    }
    case FT_BANK: {
        char *d = arena_alloc(a, strlen(v) + 1), *o = d;
        for (const char *p = v; *p; p++) {
            if (isdigit((unsigned char)*p)) *o++ = *p;
            else if (*p != ' ' && *p != '-') return arena_printf(a, "%s只能包含数字", f->label);
        }
        *o = 0;
        if (strlen(d) < 12 || strlen(d) > 30) return arena_printf(a, "%s应为 12–30 位数字", f->label);
        *out = d;
        return NULL;
    }
    }
    return NULL;
}

json_t *json_path_get(json_t *root, const char *path) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = root;
    for (char *sv = NULL, *t = strtok_r(buf, ".", &sv); t && cur; t = strtok_r(NULL, ".", &sv))
        cur = json_is_object(cur) ? json_object_get(cur, t) : NULL;
    return cur;
}

void json_path_set(json_t *root, const char *path, json_t *v) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = root;
    char *sv = NULL, *t = strtok_r(buf, ".", &sv);
    for (char *next; t; t = next) {
        next = strtok_r(NULL, ".", &sv);
        if (!next) { json_object_set_new(cur, t, v); return; }
        json_t *child = json_object_get(cur, t);
        if (!json_is_object(child)) { child = json_object(); json_object_set_new(cur, t, child); }
        cur = child;
    }
    json_decref(v);
}

const char *mask_value(arena *a, enum ftype t, const char *v) {
    if (!v) return NULL;
    size_t n = strlen(v);
    if (t == FT_IDNUM) { char *o = arena_alloc(a, n + 1); idcard_mask(v, o, (unsigned)n + 1); return o; }
    if (n <= 4) return arena_strdup(a, "****");
    char *o = arena_alloc(a, n + 1);
    for (size_t i = 0; i < n; i++) o[i] = i + 4 < n ? '*' : v[i];
    o[n] = 0;
    return o;
}
