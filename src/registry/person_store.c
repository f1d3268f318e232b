/* Checking, storing and viewing a person file. Creation, editing and import
 * all come through person_check() and person_store(), so a rule holds the same
 * way whichever door the data came in by. SQL texts are assembled once from
 * the field table (identifiers from the table, never from input). */
#include "registry/internal.h"
#include "base/fieldcrypt.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "network/network.h"
#include "std/cdate.h"
#include "std/idcard.h"
#include "std/pinyin.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char sql_select[4096], sql_insert[4096], sql_update[4096];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build_sql(void) {
    char cols[3000] = "", qs[600] = "", sets[3000] = "";
    for (size_t i = 0; i < person_nfields; i++) {
        const char *c = person_fields[i].column;
        size_t l = strlen(cols);
        snprintf(cols + l, sizeof cols - l, "%s%s", i ? ", " : "", c);
        l = strlen(qs);
        snprintf(qs + l, sizeof qs - l, "%s?", i ? ", " : "");
        l = strlen(sets);
        snprintf(sets + l, sizeof sets - l, "%s%s = ?", i ? ", " : "", c);
    }
    snprintf(sql_select, sizeof sql_select,
             "SELECT %s, id, version, created_at, updated_at, missing_fields, created_by, updated_by, id_hash, id_masked "
             "FROM persons WHERE id = ? AND region_code BETWEEN ? AND ?", cols);
    snprintf(sql_insert, sizeof sql_insert,
             "INSERT INTO persons(%s, id_hash, id_masked, id_tail4, id_tail5, id_tail6, name_initials, name_pinyin, "
             "missing_count, missing_fields, created_at, updated_at, created_by, updated_by) "
             "VALUES (%s, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
             cols, qs);
    snprintf(sql_update, sizeof sql_update,
             "UPDATE persons SET %s, id_hash = ?, id_masked = ?, id_tail4 = ?, id_tail5 = ?, id_tail6 = ?, "
             "name_initials = ?, name_pinyin = ?, "
             "missing_count = ?, missing_fields = ?, updated_at = ?, updated_by = ?, version = version + 1 "
             "WHERE id = ? AND version = ?", sets);
}

static int fi(const char *key) { return pfield_index(key); }

static const char *val(const struct pvals *p, const char *key) { int i = fi(key); return i >= 0 ? p->v[i] : NULL; }

static bool fail(struct pcheck *res, const char *field, const char *msg) {
    res->message = msg; res->field = field; res->status = 422; res->code = "validation_failed";
    return false;
}

bool person_check(arena *a, const user_ctx *u, struct pvals *in, const struct pvals *old, int64_t self_id,
                  struct pcheck *res) {
    memset(res, 0, sizeof *res);
    /* Field by field; unchanged fields of an update keep their stored value. */
    for (size_t i = 0; i < person_nfields; i++) {
        const struct pfield *f = &person_fields[i];
        if (in->set[i] && (f->flags & FF_DERIVED)) { in->set[i] = false; continue; }
        if (in->set[i]) {
            const char *out = NULL;
            const char *e = pfield_normalize(a, f, u, in->v[i], &out);
            if (e) return fail(res, f->key, e);
            in->v[i] = out;
        } else if (old) {
            in->v[i] = old->v[i];
        } else in->v[i] = NULL;
        /* A count cleared on an update is stored as 0 (NOT NULL): say so in
         * the history too, rather than "empty" for a value that reads back 0. */
        if (old && f->type == FT_INT && !in->v[i]) in->v[i] = "0";
        if ((f->flags & FF_REQUIRED) && !in->v[i]) return fail(res, f->key, arena_printf(a, "请填写%s", f->label));
    }
    /* Sex and birth date come from the ID number; a contradicting value is refused. */
    idcard c;
    const char *idn = val(in, "id_number");
    if (idcard_parse(idn, cdate_today_ymd(), &c) != NULL) return fail(res, "id_number", "身份证号码无效");
    char sex[2] = {(char)('0' + c.sex), 0}, birth[11];
    snprintf(birth, sizeof birth, "%04d-%02d-%02d", c.year, c.month, c.day);
    int isex = fi("sex"), ibirth = fi("birth_date");
    if (in->set[isex] && in->v[isex] && strcmp(in->v[isex], sex) != 0)
        return fail(res, "sex", arena_printf(a, "性别与身份证号码不符（号码显示为%s）", c.sex == 1 ? "男" : "女"));
    if (in->set[ibirth] && in->v[ibirth] && strcmp(in->v[ibirth], birth) != 0)
        return fail(res, "birth_date", arena_printf(a, "出生日期与身份证号码不符（号码显示为 %s）", birth));
    in->v[isex] = arena_strdup(a, sex);
    in->v[ibirth] = arena_strdup(a, birth);
    /* Status: default 在册; a death or move needs its date. */
    int ist = fi("status");
    if (!in->v[ist]) in->v[ist] = "1";
    if (strcmp(in->v[ist], "1") != 0 && !val(in, "status_date"))
        return fail(res, "status_date", strcmp(in->v[ist], "2") == 0 ? "已故人员须填写死亡日期" : "请填写迁入或迁出日期");
    if ((strcmp(in->v[ist], "3") == 0 || strcmp(in->v[ist], "4") == 0) && !val(in, "status_note"))
        return fail(res, "status_note", strcmp(in->v[ist], "3") == 0 ? "迁出人员须填写迁往地" : "迁入人员须填写迁入来源");
    const char *sd = val(in, "status_date");
    if (sd && strcmp(sd, birth) < 0) return fail(res, "status_date", "状态日期不能早于出生日期");
    /* Service dates: enlist after the 15th birthday, discharge after enlist. */
    const char *en = val(in, "service.enlist_date"), *dis = val(in, "service.discharge_date");
    if (en) {
        char min_en[32]; snprintf(min_en, sizeof min_en, "%04d-%02d-%02d", c.year + 15, c.month, c.day);
        if (strcmp(en, min_en) < 0) return fail(res, "service.enlist_date", "入伍日期早于 15 周岁，请核对");
    }
    if (en && dis && strcmp(dis, en) < 0) return fail(res, "service.discharge_date", "退役日期不能早于入伍日期");
    if (dis && !en) return fail(res, "service.enlist_date", "填写了退役日期，请同时填写入伍日期");
    /* Rank: keep the text as written; find the code of the scheme in force at
     * discharge (or today) from the rank table's valid_from/valid_to — the
     * 2022 reform date is data (data/codes/rank.csv), not code. */
    int irt = fi("service.rank_text"), irc = fi("service.rank_code");
    in->v[irc] = NULL;
    if (in->v[irt]) {
        char today[11];
        cdate_iso(cdate_today_days(), today);
        const char *when = dis ? dis : today;
        db_stmt *s = db_prep(db_thread(), "SELECT code, extra FROM codes WHERE tbl = 'rank' AND name = ? ORDER BY code");
        db_bind_text(s, 1, in->v[irt]);
        const char *any = NULL;
        while (db_step(s) == DB_ROW) {
            const char *code = db_col_text(s, 0), *ex = db_col_text(s, 1);
            json_t *e = ex ? json_loads(ex, 0, NULL) : NULL;
            const char *from = e ? json_string_value(json_object_get(e, "valid_from")) : NULL;
            const char *to = e ? json_string_value(json_object_get(e, "valid_to")) : NULL;
            bool in_force = (!from || strcmp(from, when) <= 0) && (!to || !*to || strcmp(when, to) <= 0);
            json_decref(e);
            if (in_force) { in->v[irc] = arena_strdup(a, code); break; }
            if (!any) any = arena_strdup(a, code);
        }
        db_reset(s);
        if (!in->v[irc]) in->v[irc] = any;   /* an old title outside both schemes keeps only its text */
    }
    in->set[irc] = true;
    /* One person per ID number. */
    char idh[33];
    fc_index("id", idn, idh);
    db_stmt *s = db_prep(db_thread(), "SELECT id, region_code FROM persons WHERE id_hash = ?");
    db_bind_text(s, 1, idh);
    if (db_step(s) == DB_ROW && db_col_int(s, 0) != self_id) {
        int64_t other = db_col_int(s, 0);
        bool mine = scope_contains(u, db_col_text(s, 1));
        db_reset(s);
        res->status = 409; res->code = "duplicate"; res->field = "id_number";
        if (mine) { res->existing_id = other; res->message = arena_printf(a, "该身份证号码已建档（档案编号 %lld）", (long long)other); }
        else res->message = "该身份证号码已在其他辖区建档，请联系上级服务中心核实";
        return false;
    }
    db_reset(s);
    return true;
}

bool person_load_vals(arena *a, const user_ctx *u, int64_t id, struct pvals *out, int64_t *version) {
    pthread_once(&once, build_sql);
    db_stmt *s = db_prep(db_thread(), sql_select);
    db_bind_int(s, 1, id);
    db_bind_text(s, 2, u ? u->scope_lo : "000000000000");
    db_bind_text(s, 3, u ? u->scope_hi : "999999999999");
    if (db_step(s) != DB_ROW) { db_reset(s); return false; }
    memset(out, 0, sizeof *out);
    const char *idh = db_col_text(s, (int)person_nfields + 7);
    for (size_t i = 0; i < person_nfields; i++) {
        const char *v = db_col_text(s, (int)i);
        out->v[i] = (person_fields[i].flags & FF_SENSITIVE) ? person_unseal(a, &person_fields[i], v, idh, id) : arena_strdup(a, v);
        out->broken[i] = v && !out->v[i];
    }
    if (version) *version = db_col_int(s, (int)person_nfields + 1);
    db_reset(s);
    return true;
}

const char *person_missing(arena *a, const struct pvals *v, bool has_cat, bool family_only, int *count);

/* Completeness (建档立卡): required items missing, as "key,key". */
static const char *missing_of(arena *a, const struct pvals *v, int64_t id, int *count) {
    bool has_cat = false, family_only = true;
    if (id > 0) {
        db_stmt *s = db_prep(db_thread(), "SELECT category FROM person_categories WHERE person_id = ? AND valid_to IS NULL");
        db_bind_int(s, 1, id);
        while (db_step(s) == DB_ROW) {
            const char *c = db_col_text(s, 0);
            has_cat = true;
            /* 三属, 烈士子女 and 军属 hold a file without a service record of their own. */
            if (strcmp(c, "21") && strcmp(c, "22") && strcmp(c, "23") && strcmp(c, "91") && strcmp(c, "95")) family_only = false;
        }
        db_reset(s);
    }
    return person_missing(a, v, has_cat, family_only, count);
}

const char *person_missing(arena *a, const struct pvals *v, bool has_cat, bool family_only, int *count) {
    if (!has_cat) family_only = false;
    char buf[1024] = "";
    int n = 0;
    for (size_t i = 0; i < person_nfields; i++) {
        const struct pfield *f = &person_fields[i];
        if (!(f->flags & FF_COMPLETE) || v->v[i]) continue;
        if ((f->flags & FF_VETERAN) && family_only) continue;
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof buf - l, "%s%s", n ? "," : "", f->key);
        n++;
    }
    if (!has_cat) { size_t l = strlen(buf); snprintf(buf + l, sizeof buf - l, "%scategories", n ? "," : ""); n++; }
    *count = n;
    return arena_strdup(a, buf);
}

/* Statements inserting 1..8 grams at once: one statement per name instead of
 * one per gram (a name of three characters has five). Literals, so db_prep
 * caches them. */
#define GQ "(?, ?)"
static const char *const gram_sql[9] = {
    NULL,
    "INSERT INTO person_grams(gram, person_id) VALUES " GQ " ON CONFLICT DO NOTHING",
    "INSERT INTO person_grams(gram, person_id) VALUES " GQ "," GQ " ON CONFLICT DO NOTHING",
    "INSERT INTO person_grams(gram, person_id) VALUES " GQ "," GQ "," GQ " ON CONFLICT DO NOTHING",
    "INSERT INTO person_grams(gram, person_id) VALUES " GQ "," GQ "," GQ "," GQ " ON CONFLICT DO NOTHING",
    "INSERT INTO person_grams(gram, person_id) VALUES " GQ "," GQ "," GQ "," GQ "," GQ " ON CONFLICT DO NOTHING",
    "INSERT INTO person_grams(gram, person_id) VALUES " GQ "," GQ "," GQ "," GQ "," GQ "," GQ " ON CONFLICT DO NOTHING",
    "INSERT INTO person_grams(gram, person_id) VALUES " GQ "," GQ "," GQ "," GQ "," GQ "," GQ "," GQ " ON CONFLICT DO NOTHING",
    "INSERT INTO person_grams(gram, person_id) VALUES " GQ "," GQ "," GQ "," GQ "," GQ "," GQ "," GQ "," GQ " ON CONFLICT DO NOTHING",
};
#undef GQ

/* The grams of NAME: each UTF-8 character and each adjacent pair, in order,
 * without those starting with a space. Returns how many (at most 127). */
static int grams_of(const char *name, char g[128][16]) {
    const char *ch[64]; int len[64], n = 0;
    for (const char *p = name; *p && n < 64;) {
        int l = 1; unsigned char c = (unsigned char)*p;
        if (c >= 0xF0) l = 4; else if (c >= 0xE0) l = 3; else if (c >= 0xC0) l = 2;
        ch[n] = p; len[n] = l; n++;
        for (int k = 0; k < l && *p; k++) p++;
    }
    int ng = 0;
    for (int i = 0; i < n; i++) {
        for (int w = 1; w <= 2 && i + w <= n; w++) {
            int gl = 0;
            for (int k = 0; k < w; k++) { memcpy(g[ng] + gl, ch[i + k], (size_t)len[i + k]); gl += len[i + k]; }
            g[ng][gl] = 0;
            if (g[ng][0] == ' ') continue;
            ng++;
        }
    }
    return ng;
}

/* Inserts the grams G[0..NG) of person ID, up to 8 a statement. Repeated
 * grams ("王王") in one statement: ON CONFLICT skips the second. */
static int grams_write(db *d, const int64_t *ids, int64_t id, char (*g)[16], int ng) {
    int rc = 0;
    for (int i = 0; i < ng; i += 8) {
        int m = ng - i < 8 ? ng - i : 8;
        db_stmt *s = db_prep(d, gram_sql[m]);
        for (int k = 0; k < m; k++) { db_bind_text(s, 2 * k + 1, g[i + k]); db_bind_int(s, 2 * k + 2, ids ? ids[i + k] : id); }
        if (db_step(s) != DB_DONE) rc = -1;
        db_reset(s);
    }
    return rc;
}

/* Inserts the grams of NAME for person ID (see grams_put). */
static void grams_insert(db *d, int64_t id, const char *name) {
    char g[128][16];
    grams_write(d, NULL, id, g, grams_of(name, g));
}

static void grams_put(int64_t id, const char *name) {
    db *d = db_thread();
    db_stmt *s = db_prep(d, "DELETE FROM person_grams WHERE person_id = ?");
    db_bind_int(s, 1, id); db_step(s); db_reset(s);
    grams_insert(d, id, name);
}

/* Grams of a bulk load, buffered (see person_bulk_grams). Written in key
 * order, each insert lands beside the one before in the (gram, person_id)
 * key instead of on a random page of it: for a million persons 4.4 million
 * rows, about five times faster. Per thread, as connections are. */
struct gram_row { char g[12]; int64_t id; };
static _Thread_local struct { bool on; struct gram_row *rows; size_t n, cap; } gbuf;
enum { GBUF_MAX = 1 << 21 };   /* 48 MB; a full buffer is written, then refilled */

static int gram_row_cmp(const void *x, const void *y) {
    const struct gram_row *a = x, *b = y;
    int c = strcmp(a->g, b->g);
    return c ? c : (a->id > b->id) - (a->id < b->id);
}

static int gbuf_flush(db *d) {
    qsort(gbuf.rows, gbuf.n, sizeof *gbuf.rows, gram_row_cmp);
    char g[8][16]; int64_t ids[8];
    int rc = 0, m = 0;
    for (size_t i = 0; i < gbuf.n; i++) {
        memcpy(g[m], gbuf.rows[i].g, sizeof gbuf.rows[i].g); ids[m] = gbuf.rows[i].id;
        if (++m == 8 || i + 1 == gbuf.n) { if (grams_write(d, ids, 0, g, m) != 0) rc = -1; m = 0; }
    }
    gbuf.n = 0;
    return rc;
}

/* Buffers the grams of NAME for person ID; -1 when out of memory or a write failed. */
static int gbuf_add(db *d, int64_t id, const char *name) {
    char g[128][16];
    int ng = grams_of(name, g), rc = 0;
    for (int i = 0; i < ng; i++) {
        if (strlen(g[i]) >= sizeof gbuf.rows->g) { rc |= grams_write(d, NULL, id, &g[i], 1); continue; }  /* never for 2 characters */
        if (gbuf.n == gbuf.cap) {
            if (gbuf.n >= GBUF_MAX && gbuf_flush(d) != 0) rc = -1;
            if (gbuf.n == gbuf.cap) {
                size_t cap = gbuf.cap ? gbuf.cap * 2 : 65536;
                struct gram_row *r = realloc(gbuf.rows, cap * sizeof *r);
                if (!r) return -1;
                gbuf.rows = r; gbuf.cap = cap;
            }
        }
        memcpy(gbuf.rows[gbuf.n].g, g[i], strlen(g[i]) + 1);   /* fits: checked above */
        gbuf.rows[gbuf.n++].id = id;
    }
    return rc;
}

/* The context a sensitive value is sealed for: its column and its person
 * (by blind index), so a sealed value moved elsewhere does not open. */
static const char *seal_context(arena *a, const struct pfield *f, const char *idh) {
    return arena_printf(a, "persons.%s|%s", f->key, idh);
}

char *person_unseal(arena *a, const struct pfield *f, const char *sealed, const char *idh, int64_t pid) {
    if (!sealed) return NULL;
    char *v = fc_open(a, sealed, seal_context(a, f, idh ? idh : ""));
    if (!v) log_error(NULL, "加密数据校验失败：人员档案 %lld 的 %s 无法解密（数据被篡改、被挪用或密钥不符）",
                      (long long)pid, f->key);
    return v;
}

const struct pfield *person_broken(const struct pvals *old, const struct pvals *in) {
    for (size_t i = 0; i < person_nfields; i++)
        if (old->broken[i] && !(in && in->set[i])) return &person_fields[i];
    return NULL;
}

/* Counts are NOT NULL DEFAULT 0: an empty count is stored as 0. Sensitive
 * values are sealed; then the blind indexes and the masked form follow. */
static void bind_fields(arena *a, db_stmt *s, int *k, const struct pvals *v) {
    const char *idn = val(v, "id_number");
    char idh[33], t4[33], t5[33], t6[33], masked[19];
    size_t il = strlen(idn);
    fc_index("id", idn, idh);
    fc_index("t4", idn + il - 4, t4);
    fc_index("t5", idn + il - 5, t5);
    fc_index("t6", idn + il - 6, t6);
    idcard_mask(idn, masked, sizeof masked);
    for (size_t i = 0; i < person_nfields; i++) {
        const struct pfield *f = &person_fields[i];
        if (f->type == FT_INT) db_bind_int(s, (*k)++, v->v[i] ? atoll(v->v[i]) : 0);
        else if (f->flags & FF_SENSITIVE) db_bind_text(s, (*k)++, fc_seal(a, v->v[i], seal_context(a, f, idh)));
        else db_bind_text(s, (*k)++, v->v[i]);
    }
    db_bind_text(s, (*k)++, idh);
    db_bind_text(s, (*k)++, masked);
    db_bind_text(s, (*k)++, t4);
    db_bind_text(s, (*k)++, t5);
    db_bind_text(s, (*k)++, t6);
}

static const char *shown(arena *a, const struct pfield *f, const char *v) {
    return (f->flags & FF_SENSITIVE) ? mask_value(a, f->type, v) : v;
}

int64_t person_store(arena *a, const user_ctx *u, const char *rid, const char *ip, int64_t id, int64_t version,
                     const struct pvals *v, const struct pvals *old, const char *suffix) {
    pthread_once(&once, build_sql);
    db *d = db_thread();
    char ts[21]; iso_utc(now_unix(), ts);
    const char *name = val(v, "name");
    char ini[128], full[512];
    pinyin_initials(name, ini, sizeof ini);
    pinyin_full(name, full, sizeof full);
    int nmiss = 0;
    const char *miss = missing_of(a, v, id, &nmiss);
    db_stmt *s = db_prep(d, id ? sql_update : sql_insert);
    int k = 1;
    bind_fields(a, s, &k, v);
    db_bind_text(s, k++, ini);
    db_bind_text(s, k++, full);
    db_bind_int(s, k++, nmiss);
    db_bind_text(s, k++, miss);
    if (!id) { db_bind_text(s, k++, ts); db_bind_text(s, k++, ts); db_bind_text(s, k++, u ? u->username : "system");
               db_bind_text(s, k++, u ? u->username : "system"); }
    else { db_bind_text(s, k++, ts); db_bind_text(s, k++, u ? u->username : "system");
           db_bind_int(s, k++, id); db_bind_int(s, k++, version); }
    int rc = db_step(s);
    int64_t nid = id;
    if (!id) nid = rc == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    if (!id && nid < 0) return -1;
    if (id && rc != DB_DONE) return -1;
    if (id && db_changes(d) == 0) return 0;
    if (!old || strcmp(val(old, "name"), name) != 0) grams_put(nid, name);
    /* Field-level history and the audit row's before/after, masked. */
    json_t *before = json_object(), *after = json_object();
    for (size_t i = 0; i < person_nfields; i++) {
        const struct pfield *f = &person_fields[i];
        const char *ov = old ? old->v[i] : NULL, *nv = v->v[i];
        if ((ov == NULL && nv == NULL) || (ov && nv && strcmp(ov, nv) == 0)) continue;
        const char *os = shown(a, f, ov), *ns = shown(a, f, nv);
        json_object_set_new(after, f->key, ns ? json_string(ns) : json_null());
        if (old) json_object_set_new(before, f->key, os ? json_string(os) : json_null());
        if (!old) continue;   /* creation is one audit row; history starts with the first change */
        s = db_prep(d, "INSERT INTO person_history(person_id, ts, user_id, username, request_id, field, label, before, after) "
                       "VALUES (?,?,?,?,?,?,?,?,?)");
        db_bind_int(s, 1, nid); db_bind_text(s, 2, ts);
        if (u) db_bind_int(s, 3, u->id); else db_bind_null(s, 3);
        db_bind_text(s, 4, u ? u->username : "system"); db_bind_text(s, 5, rid);
        db_bind_text(s, 6, f->key); db_bind_text(s, 7, f->label); db_bind_text(s, 8, os); db_bind_text(s, 9, ns);
        rc = db_step(s); db_reset(s);
        if (rc != DB_DONE) { json_decref(before); json_decref(after); return -1; }
    }
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)nid);
    char ev[48]; snprintf(ev, sizeof ev, "person.%s%s", old ? "update" : "create", suffix ? suffix : "");
    json_t *det = old ? json_pack("{s:o,s:o}", "before", before, "after", after) : json_pack("{s:o}", "after", after);
    if (!old) json_decref(before);
    int arc = audit_event_as(u, rid, ip, ev, "person", ids, "ok", det);
    return arc == 0 ? nid : -1;
}

int64_t person_insert_bulk(arena *a, const struct pvals *v, bool has_cat, bool family_only, const char *by) {
    pthread_once(&once, build_sql);
    char ts[21]; iso_utc(now_unix(), ts);
    const char *name = val(v, "name");
    char ini[128], full[512];
    pinyin_initials(name, ini, sizeof ini);
    pinyin_full(name, full, sizeof full);
    int nmiss = 0;
    const char *miss = person_missing(a, v, has_cat, family_only, &nmiss);
    db_stmt *s = db_prep(db_thread(), sql_insert);
    int k = 1;
    bind_fields(a, s, &k, v);
    db_bind_text(s, k++, ini); db_bind_text(s, k++, full);
    db_bind_int(s, k++, nmiss); db_bind_text(s, k++, miss);
    db_bind_text(s, k++, ts); db_bind_text(s, k++, ts); db_bind_text(s, k++, by); db_bind_text(s, k++, by);
    int64_t id = db_step(s) == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    /* A new person has no grams yet: no DELETE (an index probe per row). */
    if (id > 0 && gbuf.on) { if (gbuf_add(db_thread(), id, name) != 0) return -1; }
    else if (id > 0) grams_insert(db_thread(), id, name);
    return id;
}

/* Bulk loads (the demo; declared where it is used): ON makes the grams of
 * person_insert_bulk wait in a buffer and be written in key order; OFF writes
 * what waits and stops buffering, and must come before the commit (the
 * buffer is per thread and is not part of the transaction). Returns 0, or -1
 * when a write failed. */
int person_bulk_grams(bool on);
int person_bulk_grams(bool on) {
    int rc = 0;
    if (!on && gbuf.on) {
        rc = gbuf_flush(db_thread());
        free(gbuf.rows);
        gbuf.rows = NULL; gbuf.cap = 0;
    }
    gbuf.on = on;
    return rc;
}

void person_set_completeness(arena *a, int64_t id, const struct pvals *stored) {
    int n = 0;
    const char *m = missing_of(a, stored, id, &n);
    db_stmt *s = db_prep(db_thread(), "UPDATE persons SET missing_count = ?, missing_fields = ? WHERE id = ?");
    db_bind_int(s, 1, n); db_bind_text(s, 2, m); db_bind_int(s, 3, id);
    db_step(s); db_reset(s);
}

void person_refresh_completeness(int64_t id) {
    arena *a = arena_new(4096);
    struct pvals v;
    /* A sealed value that does not open would count as missing: leave it. */
    if (person_load_vals(a, NULL, id, &v, NULL) && !person_broken(&v, NULL)) person_set_completeness(a, id, &v);
    arena_free(a);
}

bool person_brief(int64_t id, const user_ctx *u, char name[64], char region[13]) {
    db_stmt *s = db_prep(db_thread(), "SELECT name, region_code FROM persons WHERE id = ? AND region_code BETWEEN ? AND ?");
    db_bind_int(s, 1, id);
    db_bind_text(s, 2, u ? u->scope_lo : "000000000000");
    db_bind_text(s, 3, u ? u->scope_hi : "999999999999");
    bool ok = db_step(s) == DB_ROW;
    if (ok) { snprintf(name, 64, "%s", db_col_text(s, 0)); snprintf(region, 13, "%s", db_col_text(s, 1)); }
    db_reset(s);
    return ok;
}

/* ---- the detail view ---- */

static json_t *categories_json(arena *a, int64_t id) {
    json_t *arr = json_array();
    db_stmt *s = db_prep(db_thread(),
        "SELECT c.id, c.category, c.valid_from, c.valid_to, c.disability_cause, c.disability_grade, c.certificate_no, "
        "c.deceased_person_id, c.deceased_name, c.relation, c.note, c.version FROM person_categories c "
        "WHERE c.person_id = ? ORDER BY c.valid_to IS NOT NULL, c.id");
    db_bind_int(s, 1, id);
    while (db_step(s) == DB_ROW) {
        json_t *c = json_pack("{s:I,s:s,s:s?,s:s?,s:b,s:s?,s:s?,s:s?,s:s?,s:s?,s:I}",
            "id", (json_int_t)db_col_int(s, 0), "category", db_col_text(s, 1), "valid_from", db_col_text(s, 2),
            "valid_to", db_col_text(s, 3), "active", db_col_null(s, 3), "disability_cause", db_col_text(s, 4),
            "certificate_no", db_col_text(s, 6), "deceased_name", db_col_text(s, 8), "relation", db_col_text(s, 9),
            "note", db_col_text(s, 10), "version", (json_int_t)db_col_int(s, 11));
        json_object_set_new(c, "disability_grade", db_col_null(s, 5) ? json_null() : json_integer(db_col_int(s, 5)));
        json_object_set_new(c, "deceased_person_id", db_col_null(s, 7) ? json_null() : json_integer(db_col_int(s, 7)));
        json_array_append_new(arr, c);
    }
    db_reset(s);
    size_t i; json_t *c;
    json_array_foreach(arr, i, c) {
        const char *n = code_name(a, "person_category", json_string_value(json_object_get(c, "category")));
        json_object_set_new(c, "category_name", n ? json_string(n) : json_null());
        const char *dc = json_string_value(json_object_get(c, "disability_cause"));
        const char *dn = dc ? code_name(a, "disability_cause", dc) : NULL;
        json_object_set_new(c, "disability_cause_name", dn ? json_string(dn) : json_null());
        const char *rl = json_string_value(json_object_get(c, "relation"));
        const char *rn = rl ? code_name(a, "relation", rl) : NULL;
        json_object_set_new(c, "relation_name", rn ? json_string(rn) : json_null());
    }
    return arr;
}

static json_t *household_json(arena *a, int64_t id) {
    json_t *arr = json_array();
    db_stmt *s = db_prep(db_thread(), "SELECT id, relation, member_person_id, name, id_masked, sex, birth_date, phone, note "
                                      "FROM household_members WHERE person_id = ? ORDER BY id");
    db_bind_int(s, 1, id);
    while (db_step(s) == DB_ROW) {
        json_t *h = json_pack("{s:I,s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:s?}", "id", (json_int_t)db_col_int(s, 0),
            "relation", db_col_text(s, 1), "name", db_col_text(s, 3),
            "id_number", db_col_text(s, 4), "sex", db_col_text(s, 5),
            "birth_date", db_col_text(s, 6), "phone", db_col_text(s, 7), "note", db_col_text(s, 8));
        json_object_set_new(h, "person_id", db_col_null(s, 2) ? json_null() : json_integer(db_col_int(s, 2)));
        json_array_append_new(arr, h);
    }
    db_reset(s);
    size_t i; json_t *h;
    json_array_foreach(arr, i, h) {
        const char *rn = code_name(a, "relation", json_string_value(json_object_get(h, "relation")));
        json_object_set_new(h, "relation_name", rn ? json_string(rn) : json_null());
    }
    return arr;
}

json_t *person_view(arena *a, const user_ctx *u, int64_t id) {
    pthread_once(&once, build_sql);
    db_stmt *s = db_prep(db_thread(), sql_select);
    db_bind_int(s, 1, id);
    db_bind_text(s, 2, u->scope_lo);
    db_bind_text(s, 3, u->scope_hi);
    if (db_step(s) != DB_ROW) { db_reset(s); return NULL; }
    json_t *j = json_object();
    const char *vals[64];
    const char *idh = db_col_text(s, (int)person_nfields + 7), *masked = db_col_text(s, (int)person_nfields + 8);
    json_t *broken = json_array();
    for (size_t i = 0; i < person_nfields; i++) {
        const struct pfield *f = &person_fields[i];
        const char *v = (f->flags & FF_SENSITIVE) ? person_unseal(a, f, db_col_text(s, (int)i), idh, id)
                                                  : arena_strdup(a, db_col_text(s, (int)i));
        vals[i] = v;
        if (f->type == FT_INT) json_path_set(j, f->key, json_integer(v ? atoll(v) : 0));
        else if (!v && db_col_text(s, (int)i)) {
            /* Sealed but does not open: never another row's value, never
             * "empty". The ID number shows its stored masked form (the same
             * as the list), the others null; integrity_errors names them. */
            json_array_append_new(broken, json_string(f->key));
            bool idf = strcmp(f->key, "id_number") == 0;
            json_path_set(j, f->key, idf && masked ? json_string(masked) : json_null());
        } else json_path_set(j, f->key, v ? json_string(shown(a, f, v)) : json_null());
    }
    if (json_array_size(broken)) json_object_set_new(j, "integrity_errors", broken);
    else json_decref(broken);
    int b = (int)person_nfields;
    json_object_set_new(j, "id", json_integer(db_col_int(s, b)));
    json_object_set_new(j, "version", json_integer(db_col_int(s, b + 1)));
    json_object_set_new(j, "created_at", json_string(db_col_text(s, b + 2)));
    json_object_set_new(j, "updated_at", json_string(db_col_text(s, b + 3)));
    char *missing = arena_strdup(a, db_col_text(s, b + 4));
    json_object_set_new(j, "created_by", json_string(db_col_text(s, b + 5) ? db_col_text(s, b + 5) : ""));
    json_object_set_new(j, "updated_by", json_string(db_col_text(s, b + 6) ? db_col_text(s, b + 6) : ""));
    db_reset(s);
    json_object_set_new(j, "id_masked", json_true());
    /* Names of coded values, beside their codes. */
    for (size_t i = 0; i < person_nfields; i++) {
        const struct pfield *f = &person_fields[i];
        if (f->type != FT_CODE || !vals[i]) continue;
        const char *n = code_name(a, f->codes, vals[i]);
        char key[96]; snprintf(key, sizeof key, "%s_name", f->key);
        json_path_set(j, key, n ? json_string(n) : json_null());
    }
    const char *rc = vals[pfield_index("region_code")];
    const char *rn = region_name(a, rc);
    json_object_set_new(j, "region_name", rn ? json_string(rn) : json_null());
    char town[13]; snprintf(town, sizeof town, "%.9s000", rc);
    const char *tn = region_name(a, town);
    json_object_set_new(j, "town_code", json_string(town));
    json_object_set_new(j, "town_name", tn ? json_string(tn) : json_null());
    int by, bm, bd;
    if (sscanf(vals[pfield_index("birth_date")], "%d-%d-%d", &by, &bm, &bd) == 3) {
        int ty = cdate_today_ymd() / 10000, tmd = cdate_today_ymd() % 10000;
        json_object_set_new(j, "age", json_integer(ty - by - (tmd < bm * 100 + bd)));
    }
    json_object_set_new(j, "categories", categories_json(a, id));
    json_object_set_new(j, "household", household_json(a, id));
    json_t *miss = json_array();
    if (*missing) {
        for (char *sv = NULL, *t = strtok_r(missing, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
            int fi2 = pfield_index(t);
            json_array_append_new(miss, json_pack("{s:s,s:s}", "field", t, "label",
                                                  fi2 >= 0 ? person_fields[fi2].label : "优抚类别"));
        }
    }
    json_object_set_new(j, "completeness", json_pack("{s:b,s:o}", "complete", json_array_size(miss) == 0, "missing", miss));
    return j;
}
