/* Routes of the registry: search-first list, detail, create, edit, history,
 * reveal of masked values, ID checking while typing, and 建档立卡
 * completeness per station. Jurisdiction is part of every query (a region
 * range), so a record outside it simply does not exist for the user. */
#include "registry/internal.h"
#include "base/fieldcrypt.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "network/network.h"
#include "std/cdate.h"
#include "std/idcard.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the list ---- */

/* SQL is the sort column, THEN a second one in the same direction: names
 * sort by their pinyin (as staff expect, like Excel's 拼音排序), then by the
 * characters for names that read alike. */
struct sort_key { const char *name, *sql, *then; };
static const struct sort_key sorts[] = {
    {"id", "p.id", NULL}, {"name", "p.name_pinyin", "p.name"}, {"birth_date", "p.birth_date", NULL},
    {"updated_at", "p.updated_at", NULL}, {"region_code", "p.region_code", NULL},
    {"missing_count", "p.missing_count", NULL}, {"discharge_date", "p.discharge_date", NULL},
};

static bool all_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

/* QUERY as ID characters when it is made only of digits and X as typed
 * (full-width ０–９ and Ｘ from a Chinese IME, lower-case x), else NULL. */
static const char *id_chars(arena *a, const char *q) {
    char *o = arena_alloc(a, strlen(q) + 1), *w = o;
    for (const unsigned char *p = (const unsigned char *)q; *p;) {
        if (isdigit(*p)) *w++ = (char)*p++;
        else if (*p == 'x' || *p == 'X') { *w++ = 'X'; p++; }
        else if (p[0] == 0xEF && p[1] == 0xBC && p[2] >= 0x90 && p[2] <= 0x99) { *w++ = (char)('0' + p[2] - 0x90); p += 3; }
        else if ((p[0] == 0xEF && p[1] == 0xBC && p[2] == 0xB8) || (p[0] == 0xEF && p[1] == 0xBD && p[2] == 0x98)) { *w++ = 'X'; p += 3; }
        else return NULL;
    }
    *w = 0;
    return o;
}

bool person_filter_parse(req *r, struct pfilter *f) {
    arena *a = req_arena(r);
    user_ctx *u = current_user(r);
    memset(f, 0, sizeof *f);
    f->lo = u->scope_lo; f->hi = u->scope_hi; f->complete = -1;
    const char *region = req_query(r, "region");
    if (region && *region) {
        if (strlen(region) != 12 || !all_digits(region, 12)) {
            reply_error(r, 422, "validation_failed", "region", "区划代码应为 12 位数字"); return false;
        }
        char lo[13], hi[13];
        region_scope(region, lo, hi);
        /* Intersect with the jurisdiction: outside it the answer is simply empty. */
        f->lo = strcmp(lo, f->lo) > 0 ? arena_strdup(a, lo) : f->lo;
        f->hi = strcmp(hi, f->hi) < 0 ? arena_strdup(a, hi) : f->hi;
        if (strcmp(f->lo, f->hi) > 0) f->empty = true;
    }
    const char *st = req_query(r, "status"), *cat = req_query(r, "category"), *cmp = req_query(r, "complete");
    if (st && *st) f->status = st;
    if (cat && *cat) f->category = cat;
    if (cmp && *cmp) f->complete = atoi(cmp) ? 1 : 0;
    const char *q = req_query(r, "q");
    if (q) {
        while (*q == ' ') q++;
        char *qq = arena_strdup(a, q);
        size_t n = strlen(qq);
        while (n && qq[n - 1] == ' ') qq[--n] = 0;
        const char *dg = id_chars(a, qq);
        size_t dn = dg ? strlen(dg) : 0;
        if (n == 0) {
        } else if (dg && (dn == 18 || dn == 15) && all_digits(dg, dn - 1)) {
            idcard c;
            if (idcard_parse(dg, 0, &c) == NULL) { char h[33]; fc_index("id", c.number, h); f->id_exact = arena_strdup(a, h); }
            else f->empty = true;
        } else if (dg && dn >= 4 && dn <= 6 && all_digits(dg, dn - 1)) {
            /* The last 4, 5 or 6 characters of the number, each through its own
             * blind index (the numbers themselves are sealed). */
            char h[33];
            fc_index(dn == 4 ? "t4" : dn == 5 ? "t5" : "t6", dg, h);
            if (dn == 4) f->tail4 = arena_strdup(a, h);
            else if (dn == 6) f->tail6 = arena_strdup(a, h);
            else f->tail5 = arena_strdup(a, h);
        } else if (isalpha((unsigned char)qq[0])) {
            bool ascii = true;
            for (size_t i = 0; i < n; i++) { if (!isalpha((unsigned char)qq[i])) ascii = false; qq[i] = (char)tolower((unsigned char)qq[i]); }
            if (!ascii) { f->empty = true; }
            else {
                f->py_lo = qq;
                char *hi = arena_strdup(a, qq);
                hi[n - 1]++;
                f->py_hi = hi;
            }
        } else {
            /* A name fragment: look up its first one or two characters in the
             * gram index, and check the whole fragment with LIKE. */
            int chars = 0; size_t cut = 0;
            for (size_t i = 0; i <= n; i++) {
                if (i == n || ((unsigned char)qq[i] & 0xC0) != 0x80) { if (chars == 2) { cut = i; break; } if (i < n) chars++; }
                if (i == n) cut = n;
            }
            f->gram = arena_strndup(a, qq, cut);
            if (cut < n) f->like = arena_printf(a, "%%%s%%", qq);
        }
    }
    const char *sort = req_query(r, "sort");
    f->order = "p.id DESC";
    if (sort && *sort) {
        bool desc = sort[0] == '-';
        const char *key = desc ? sort + 1 : sort;
        bool found = false;
        for (size_t i = 0; i < sizeof sorts / sizeof *sorts; i++)
            if (strcmp(sorts[i].name, key) == 0) {
                const char *dir = desc ? "DESC" : "ASC";
                f->order = sorts[i].then ? arena_printf(a, "%s %s, %s %s, p.id DESC", sorts[i].sql, dir, sorts[i].then, dir)
                                         : arena_printf(a, "%s %s, p.id DESC", sorts[i].sql, dir);
                found = true;
            }
        if (!found) { reply_error(r, 422, "validation_failed", "sort", "不支持按“%s”排序", key); return false; }
    }
    return true;
}

/* Assembles the WHERE clause from fixed fragments for the filters in use, so
 * that each search shape gets a plan using its own index. Binds in order. */
const char *person_filter_sql(arena *a, const struct pfilter *f, const char *select, const char *tail) {
    /* A name fragment: ids come from the gram index, the region and name to
     * check from persons_search (migration 0006), not from the rows. */
    char *w = arena_printf(a, "%s FROM persons p%s WHERE p.region_code BETWEEN ? AND ?", select,
                           f->gram || f->scan_by_id ? " INDEXED BY persons_search" : "");
    if (f->id_exact) w = arena_printf(a, "%s AND p.id_hash = ?", w);
    if (f->tail4) w = arena_printf(a, "%s AND p.id_tail4 = ?", w);
    if (f->tail6) w = arena_printf(a, "%s AND p.id_tail6 = ?", w);
    if (f->tail5) w = arena_printf(a, "%s AND p.id_tail5 = ?", w);
    if (f->gram) w = arena_printf(a, "%s AND p.id IN (SELECT person_id FROM person_grams WHERE gram = ?)", w);
    if (f->like) w = arena_printf(a, "%s AND p.name LIKE ?", w);
    if (f->py_lo) w = arena_printf(a, "%s AND ((p.name_initials >= ? AND p.name_initials < ?) OR (p.name_pinyin >= ? AND p.name_pinyin < ?))", w);
    if (f->status) w = arena_printf(a, "%s AND p.status = ?", w);
    if (f->category) w = arena_printf(a, "%s AND EXISTS (SELECT 1 FROM person_categories c WHERE c.person_id = p.id AND c.category = ? AND c.valid_to IS NULL)", w);
    if (f->complete == 1) w = arena_printf(a, "%s AND p.missing_count = 0", w);
    if (f->complete == 0) w = arena_printf(a, "%s AND p.missing_count > 0", w);
    if (tail) w = arena_printf(a, "%s %s", w, tail);
    return db_intern(w);
}

int person_filter_bind(db_stmt *s, const struct pfilter *f) {
    int k = 1;
    db_bind_text(s, k++, f->lo); db_bind_text(s, k++, f->hi);
    if (f->id_exact) db_bind_text(s, k++, f->id_exact);
    if (f->tail4) db_bind_text(s, k++, f->tail4);
    if (f->tail6) db_bind_text(s, k++, f->tail6);
    if (f->tail5) db_bind_text(s, k++, f->tail5);
    if (f->gram) db_bind_text(s, k++, f->gram);
    if (f->like) db_bind_text(s, k++, f->like);
    if (f->py_lo) { db_bind_text(s, k++, f->py_lo); db_bind_text(s, k++, f->py_hi); db_bind_text(s, k++, f->py_lo); db_bind_text(s, k++, f->py_hi); }
    if (f->status) db_bind_text(s, k++, f->status);
    if (f->category) db_bind_text(s, k++, f->category);
    return k;
}

/* True when the filter is one the tallies count (migration 0005). */
static bool tally_counts(const struct pfilter *f) {
    return !f->id_exact && !f->tail4 && !f->tail5 && !f->tail6 && !f->gram && !f->like && !f->py_lo && !f->category;
}

/* The active categories of the listed persons, by name, in one statement per
 * 20 persons rather than one per person. */
#define CAT_IDS 20
static void list_categories(arena *a, json_t *items) {
    size_t n = json_array_size(items);
    for (size_t from = 0; from < n; from += CAT_IDS) {
        db_stmt *c = db_prep(db_thread(), "SELECT c.person_id, c.category FROM person_categories c "
                                          "WHERE c.person_id IN (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                                          "AND c.valid_to IS NULL ORDER BY c.person_id, c.id");
        for (size_t i = 0; i < CAT_IDS; i++) {
            if (from + i < n) db_bind_int(c, (int)i + 1, json_integer_value(json_object_get(json_array_get(items, from + i), "id")));
            else db_bind_null(c, (int)i + 1);
        }
        while (db_step(c) == DB_ROW) {
            int64_t pid = db_col_int(c, 0);
            for (size_t i = from; i < n && i < from + CAT_IDS; i++) {
                json_t *it = json_array_get(items, i);
                if (json_integer_value(json_object_get(it, "id")) != pid) continue;
                const char *code = db_col_text(c, 1), *name = code_name(a, "person_category", code);
                json_array_append_new(json_object_get(it, "categories"), json_string(name ? name : code));
            }
        }
        db_reset(c);
    }
}

#define LIST_COLS "SELECT p.id, p.name, p.id_masked, p.sex, p.birth_date, p.region_code, p.status, p.phone, " \
                  "p.missing_count, p.updated_at, p.discharge_date, p.version"

static void persons_list(req *r) {
    struct pfilter f;
    if (!person_filter_parse(r, &f)) return;
    arena *a = req_arena(r);
    int64_t page = req_query_int(r, "page", 1, 1, 1000000), size = req_query_int(r, "size", 20, 1, 200);
    json_t *items = json_array();
    int64_t total = 0;
    if (!f.empty) {
        db *d = db_thread();
        db_stmt *s;
        if (tally_counts(&f)) {
            /* Only region, status and completeness: the tallies have the total
             * (a town is 100 000 persons; counting them costs 10–40 ms). */
            s = db_prep(d, db_intern(arena_printf(a, "SELECT SUM(n) FROM person_tally WHERE region_code BETWEEN ? AND ?%s%s",
                                                  f.status ? " AND status = ?" : "",
                                                  f.complete == 1 ? " AND complete = 1" : f.complete == 0 ? " AND complete = 0" : "")));
            db_bind_text(s, 1, f.lo); db_bind_text(s, 2, f.hi);
            if (f.status) db_bind_text(s, 3, f.status);
        } else {
            s = db_prep(d, person_filter_sql(a, &f, "SELECT COUNT(*)", NULL));
            person_filter_bind(s, &f);
        }
        total = db_step(s) == DB_ROW ? db_col_int(s, 0) : 0;
        db_reset(s);
        /* Newest first over a large share of the persons (a town, the whole
         * county): walking persons_search backwards by id finds the page's
         * ids within a few hundred entries, where the region index would
         * hand over every id of the range to be sorted. For a small share
         * the region index is the shorter way. */
        if (tally_counts(&f) && strncmp(f.order, "p.id DESC", 9) == 0 && total > 0) {
            s = db_prep(d, "SELECT SUM(n) FROM person_tally");
            int64_t all = db_step(s) == DB_ROW ? db_col_int(s, 0) : 0;
            db_reset(s);
            f.scan_by_id = total * 200 >= all && (page - 1) * size < total / 2;
        }
        /* The page's ids first, from the indexes alone, then their rows: sorting
         * whole rows would read every row of the range (a town: 100 000 rows)
         * to keep 20 of them. */
        const char *ids = person_filter_sql(a, &f, "SELECT p.id", arena_printf(a, "ORDER BY %s LIMIT ? OFFSET ?", f.order));
        s = db_prep(d, db_intern(arena_printf(a, LIST_COLS " FROM persons p WHERE p.id IN (%s) ORDER BY %s", ids, f.order)));
        int k = person_filter_bind(s, &f);
        db_bind_int(s, k++, size); db_bind_int(s, k++, (page - 1) * size);
        while (db_step(s) == DB_ROW) {
            json_t *it = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:I,s:s,s:s?,s:I}",
                "id", (json_int_t)db_col_int(s, 0), "name", db_col_text(s, 1),
                "id_number", db_col_text(s, 2), "sex", db_col_text(s, 3),
                "birth_date", db_col_text(s, 4), "region_code", db_col_text(s, 5), "status", db_col_text(s, 6),
                "phone", db_col_text(s, 7), "missing_count", (json_int_t)db_col_int(s, 8),
                "updated_at", db_col_text(s, 9), "discharge_date", db_col_text(s, 10),
                "version", (json_int_t)db_col_int(s, 11));
            json_array_append_new(items, it);
        }
        db_reset(s);
        size_t i; json_t *it;
        json_array_foreach(items, i, it) {
            const char *rc = json_string_value(json_object_get(it, "region_code"));
            const char *rn = region_name(a, rc);
            char town[13]; snprintf(town, sizeof town, "%.9s000", rc);
            const char *tn = region_name(a, town);
            json_object_set_new(it, "region_name", rn ? json_string(rn) : json_null());
            json_object_set_new(it, "town_name", tn ? json_string(tn) : json_null());
            const char *sx = code_name(a, "sex", json_string_value(json_object_get(it, "sex")));
            json_object_set_new(it, "sex_name", sx ? json_string(sx) : json_null());
            const char *stn = code_name(a, "person_status", json_string_value(json_object_get(it, "status")));
            json_object_set_new(it, "status_name", stn ? json_string(stn) : json_null());
            json_object_set_new(it, "categories", json_array());
        }
        list_categories(a, items);
    }
    reply_json(r, 200, json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)total,
                                 "page", (json_int_t)page, "size", (json_int_t)size));
}

/* ---- reading the body into values ---- */

/* Copies JSON values at the field paths into IN; refuses unknown keys at any
 * level and values of the wrong type, naming the field. */
static bool body_to_vals(req *r, json_t *b, struct pvals *in, bool patch) {
    memset(in, 0, sizeof *in);
    arena *a = req_arena(r);
    /* Walk the body: every leaf must be a known field path. */
    json_t *stack[8]; const char *prefix[8]; int sp = 0;
    stack[sp] = b; prefix[sp] = ""; sp++;
    while (sp) {
        sp--;
        json_t *obj = stack[sp]; const char *pre = prefix[sp];
        const char *k; json_t *v;
        json_object_foreach(obj, k, v) {
            const char *path = *pre ? arena_printf(a, "%s.%s", pre, k) : k;
            if (!*pre && (strcmp(k, "version") == 0 || (!patch && (strcmp(k, "categories") == 0 || strcmp(k, "household") == 0))))
                continue;
            int i = pfield_index(path);
            if (i < 0 && json_is_object(v) && sp < 7) {
                bool is_prefix = false;
                size_t pl = strlen(path);
                for (size_t j = 0; j < person_nfields; j++)
                    if (strncmp(person_fields[j].key, path, pl) == 0 && person_fields[j].key[pl] == '.') is_prefix = true;
                if (is_prefix) { stack[sp] = v; prefix[sp] = path; sp++; continue; }
            }
            if (i < 0) { reply_error(r, 400, "unknown_field", path, "不允许提交字段“%s”", path); return false; }
            if (person_fields[i].flags & FF_DERIVED) {
                reply_error(r, 400, "unknown_field", path, "“%s”由系统生成，不能提交", person_fields[i].label); return false;
            }
            in->set[i] = true;
            if (json_is_null(v)) in->v[i] = NULL;
            else if (json_is_string(v)) in->v[i] = json_string_value(v);
            else if (json_is_integer(v)) in->v[i] = arena_printf(a, "%lld", (long long)json_integer_value(v));
            else { reply_error(r, 422, "validation_failed", path, "%s格式不正确", person_fields[i].label); return false; }
        }
    }
    return true;
}

static void reply_check(req *r, const struct pcheck *c) {
    if (c->existing_id) {
        json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:I}", "code", c->code, "message", c->message, "field", c->field,
                              "request_id", req_id(r), "existing_id", (json_int_t)c->existing_id);
        reply_json(r, c->status, json_pack("{s:o}", "error", e));
    } else reply_error(r, c->status, c->code, c->field, "%s", c->message);
}

int category_insert(req *r, int64_t pid, json_t *c, bool audit);   /* categories.c */
int household_insert(req *r, int64_t pid, json_t *h, bool audit);  /* household.c */

static void persons_create(req *r) {
    json_t *b = req_json(r);
    if (!b) return;
    struct pvals in;
    if (!body_to_vals(r, b, &in, false)) return;
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    struct pcheck chk;
    if (!person_check(a, u, &in, NULL, 0, &chk)) { reply_check(r, &chk); return; }
    json_t *cats = json_object_get(b, "categories"), *hh = json_object_get(b, "household");
    if ((cats && !json_is_array(cats)) || (hh && !json_is_array(hh))) {
        reply_error(r, 422, "validation_failed", cats && !json_is_array(cats) ? "categories" : "household", "格式应为数组");
        return;
    }
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return; }
    int64_t id = person_store(a, u, req_id(r), req_ip(r), 0, 0, &in, NULL, NULL);
    if (id <= 0) { db_rollback(d); reply_error(r, 500, "internal", NULL, "保存失败"); return; }
    size_t i; json_t *c;
    json_array_foreach(cats, i, c) if (category_insert(r, id, c, true) != 0) { db_rollback(d); return; }
    json_array_foreach(hh, i, c) if (household_insert(r, id, c, true) != 0) { db_rollback(d); return; }
    if (json_array_size(cats)) person_refresh_completeness(id);
    if (db_commit(d) != DB_OK) { db_rollback(d); reply_error(r, 500, "internal", NULL, "保存失败"); return; }
    json_t *j = person_view(a, u, id);
    reply_json(r, 201, j);
}

static void persons_get(req *r) {
    user_ctx *u = current_user(r);
    int64_t id = req_param_id(r, 0);
    json_t *j = id > 0 ? person_view(req_arena(r), u, id) : NULL;
    if (!j) { reply_error(r, 404, "not_found", NULL, "人员档案不存在"); return; }
    /* Reading a file is audited (personal data, PIPL): the answer leaves once
     * the audit row is committed, in a group with other views. */
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)id);
    reply_json(r, 200, j);
    audit_view(r, "person.view", "person", ids);
}

static void persons_patch(req *r) {
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    int64_t id = req_param_id(r, 0);
    json_t *b = req_json(r);
    if (!b) return;
    struct pvals old, in;
    int64_t cur_version;
    if (id <= 0 || !person_load_vals(a, u, id, &old, &cur_version)) { reply_error(r, 404, "not_found", NULL, "人员档案不存在"); return; }
    json_t *ver = json_object_get(b, "version");
    if (!json_is_integer(ver)) { reply_error(r, 422, "validation_failed", "version", "缺少版本号 version"); return; }
    if (!body_to_vals(r, b, &in, true)) return;
    /* A stored sealed value that does not open must not be written back as
     * empty: refused, unless this PATCH gives the field anew (the repair). */
    const struct pfield *bf = person_broken(&old, &in);
    if (bf) { reply_error(r, 500, "integrity", bf->key, SEAL_BROKEN_MSG, bf->label); return; }
    struct pcheck chk;
    if (!person_check(a, u, &in, &old, id, &chk)) { reply_check(r, &chk); return; }
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return; }
    int64_t rc = person_store(a, u, req_id(r), req_ip(r), id, json_integer_value(ver), &in, &old, NULL);
    if (rc == 0) { db_rollback(d); reply_error(r, 409, "version_conflict", "version", "该档案已被他人修改，请刷新后重试"); return; }
    if (rc < 0 || db_commit(d) != DB_OK) { db_rollback(d); reply_error(r, 500, "internal", NULL, "保存失败"); return; }
    reply_json(r, 200, person_view(a, u, id));
}

static void persons_history(req *r) {
    user_ctx *u = current_user(r);
    int64_t id = req_param_id(r, 0);
    char name[64], region[13];
    if (id <= 0 || !person_brief(id, u, name, region)) { reply_error(r, 404, "not_found", NULL, "人员档案不存在"); return; }
    db_stmt *s = db_prep(db_thread(), "SELECT id, ts, username, field, label, before, after, request_id FROM person_history "
                                      "WHERE person_id = ? ORDER BY id DESC LIMIT 1000");
    db_bind_int(s, 1, id);
    json_t *items = json_array();
    while (db_step(s) == DB_ROW)
        json_array_append_new(items, json_pack("{s:I,s:s,s:s?,s:s,s:s,s:s?,s:s?,s:s?}", "id", (json_int_t)db_col_int(s, 0),
            "ts", db_col_text(s, 1), "username", db_col_text(s, 2), "field", db_col_text(s, 3), "label", db_col_text(s, 4),
            "before", db_col_text(s, 5), "after", db_col_text(s, 6), "request_id", db_col_text(s, 7)));
    db_reset(s);
    /* Coded values were recorded as codes: their names beside them, as the
     * file shows them (a code renamed since shows its name of today). */
    size_t i; json_t *it;
    json_array_foreach(items, i, it) {
        int fi = pfield_index(json_string_value(json_object_get(it, "field")));
        if (fi < 0 || (person_fields[fi].type != FT_CODE && person_fields[fi].type != FT_REGION)) continue;
        static const char *const sides[][2] = {{"before", "before_name"}, {"after", "after_name"}};
        for (int k = 0; k < 2; k++) {
            const char *v = json_string_value(json_object_get(it, sides[k][0]));
            const char *n = !v ? NULL : person_fields[fi].type == FT_CODE ? code_name(req_arena(r), person_fields[fi].codes, v)
                                                                         : region_name(req_arena(r), v);
            json_object_set_new(it, sides[k][1], n ? json_string(n) : json_null());
        }
    }
    reply_json(r, 200, json_pack("{s:o}", "items", items));
}

static const char *const reveal_keys[] = {"field", "reason", NULL};

/* Characters of a reason, not bytes, and spaces do not count: "  " is no
 * reason, "核对" is one. */
static size_t reason_chars(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if ((*p & 0xC0) == 0x80 || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') continue;
        if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) { p += 2; continue; }   /* U+3000 */
        n++;
    }
    return n;
}

static void persons_reveal(req *r) {
    user_ctx *u = current_user(r);
    int64_t id = req_param_id(r, 0);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, reveal_keys)) return;
    bool bad = false;
    const char *field = json_str_field(r, b, "field", "字段", 20, &bad);
    const char *reason = bad ? NULL : json_str_field(r, b, "reason", "查看理由", 200, &bad);
    if (bad) return;
    if (!field || (strcmp(field, "id_number") && strcmp(field, "bank_account"))) {
        reply_error(r, 422, "validation_failed", "field", "只能查看身份证号码（id_number）或银行账号（bank_account）"); return;
    }
    if (reason_chars(reason) < 2) { reply_error(r, 422, "validation_failed", "reason", "请填写查看理由（至少 2 个字）"); return; }
    struct pvals v;
    if (id <= 0 || !person_load_vals(req_arena(r), u, id, &v, NULL)) { reply_error(r, 404, "not_found", NULL, "人员档案不存在"); return; }
    int fi = pfield_index(field);
    const char *value = v.v[fi];
    char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (v.broken[fi]) {
        /* Sealed for another row or column, tampered, or the wrong key: no
         * value at all (never another person's), the attempt audited. */
        audit_event(r, "person.reveal", "person", ids, "failed",
                    json_pack("{s:s,s:s,s:s}", "field", field, "reason", reason, "error", "integrity"));
        reply_error(r, 500, "integrity", field, SEAL_BROKEN_MSG, person_fields[fi].label);
        return;
    }
    if (audit_event(r, "person.reveal", "person", ids, "ok", json_pack("{s:s,s:s}", "field", field, "reason", reason)) != 0) {
        reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return;
    }
    reply_json(r, 200, json_pack("{s:s,s:s?}", "field", field, "value", value));
}

static const char *const vid_keys[] = {"id_number", NULL};

static void persons_validate_id(req *r) {
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, vid_keys)) return;
    bool bad = false;
    const char *v = json_str_field(r, b, "id_number", "身份证号码", 40, &bad);
    if (bad) return;
    idcard c;
    const char *e = v ? idcard_parse(v, cdate_today_ymd(), &c) : "请输入身份证号码";
    if (e) { reply_json(r, 200, json_pack("{s:b,s:s}", "valid", 0, "message", e)); return; }
    char birth[11]; snprintf(birth, sizeof birth, "%04d-%02d-%02d", c.year, c.month, c.day);
    char masked[19]; idcard_mask(c.number, masked, sizeof masked);
    /* Tells whether a file exists, inside the jurisdiction only (no probing outside it). */
    user_ctx *u = current_user(r);
    char idh[33];
    fc_index("id", c.number, idh);
    db_stmt *s = db_prep(db_thread(), "SELECT id FROM persons WHERE id_hash = ? AND region_code BETWEEN ? AND ?");
    db_bind_text(s, 1, idh); db_bind_text(s, 2, u->scope_lo); db_bind_text(s, 3, u->scope_hi);
    int64_t existing = db_step(s) == DB_ROW ? db_col_int(s, 0) : 0;
    db_reset(s);
    json_t *j = json_pack("{s:b,s:s,s:s,s:s,s:s}", "valid", 1, "normalized", c.number, "masked", masked,
                          "sex", c.sex == 1 ? "1" : "2", "birth_date", birth);
    if (existing) json_object_set_new(j, "existing_id", json_integer(existing));
    reply_json(r, 200, j);
}

/* Per-region tallies of one pass over the persons in scope. */
struct ctally { char code[13]; int64_t persons, complete, miss[65]; };

/* Adds the counts of T into SUM. */
static void tally_add(struct ctally *sum, const struct ctally *t) {
    sum->persons += t->persons; sum->complete += t->complete;
    for (size_t i = 0; i <= person_nfields; i++) sum->miss[i] += t->miss[i];
}

/* Missing items as {field key: count}; index person_nfields is 优抚类别. */
static json_t *tally_missing(const struct ctally *t, bool labels) {
    json_t *m = json_object();
    for (size_t i = 0; i <= person_nfields; i++) {
        if (!t->miss[i]) continue;
        const char *k = i < person_nfields ? (labels ? person_fields[i].label : person_fields[i].key) : (labels ? "优抚类别" : "categories");
        json_object_set_new(m, k, json_integer(t->miss[i]));
    }
    return m;
}

static json_t *tally_item(json_t *j, const struct ctally *t) {
    json_object_set_new(j, "persons", json_integer(t->persons));
    json_object_set_new(j, "complete", json_integer(t->complete));
    json_object_set_new(j, "rate", json_real(t->persons ? (double)t->complete / (double)t->persons : 0.0));
    json_object_set_new(j, "missing", tally_missing(t, false));
    return j;
}

static void persons_completeness(req *r) {
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    /* The jurisdiction, narrowed by ?region= like the list (outside it: empty). */
    const char *lo = u->scope_lo, *hi = u->scope_hi;
    const char *region = req_query(r, "region");
    if (region && *region) {
        if (strlen(region) != 12 || !all_digits(region, 12)) {
            reply_error(r, 422, "validation_failed", "region", "区划代码应为 12 位数字"); return;
        }
        char rlo[13], rhi[13];
        region_scope(region, rlo, rhi);
        if (strcmp(rlo, lo) > 0) lo = arena_strdup(a, rlo);
        if (strcmp(rhi, hi) < 0) hi = arena_strdup(a, rhi);
    }
    /* One pass, grouped by region and by the set of missing items (few distinct
     * sets), instead of one scan per item; split in C into per-item counts. */
    db *d = db_thread();
    size_t nt = 0, cap = 64;
    struct ctally *t = calloc(cap, sizeof *t), all = {0};
    if (strcmp(lo, hi) <= 0) {
        db_stmt *s = db_prep(d, "SELECT region_code, missing_fields, COUNT(*) FROM persons WHERE region_code BETWEEN ? AND ? "
                                "GROUP BY region_code, missing_fields ORDER BY region_code");
        db_bind_text(s, 1, lo); db_bind_text(s, 2, hi);
        while (db_step(s) == DB_ROW) {
            const char *rc = db_col_text(s, 0), *mf = db_col_text(s, 1);
            int64_t n = db_col_int(s, 2);
            if (!nt || strcmp(t[nt - 1].code, rc) != 0) {
                if (nt == cap) { cap *= 2; t = realloc(t, cap * sizeof *t); }
                memset(&t[nt], 0, sizeof t[nt]);
                snprintf(t[nt].code, sizeof t[nt].code, "%s", rc);
                nt++;
            }
            struct ctally *c = &t[nt - 1];
            c->persons += n;
            if (!mf || !*mf) { c->complete += n; continue; }
            char *m = arena_strdup(a, mf);
            for (char *sv = NULL, *k = strtok_r(m, ",", &sv); k; k = strtok_r(NULL, ",", &sv)) {
                int fi2 = pfield_index(k);
                c->miss[fi2 >= 0 ? (size_t)fi2 : person_nfields] += n;
            }
        }
        db_reset(s);
    }
    for (size_t i = 0; i < nt; i++) tally_add(&all, &t[i]);
    /* Villages: their own region; towns: the whole town, persons filed at the
     * town itself included. */
    json_t *items = json_array(), *towns = json_array();
    db_stmt *s = db_prep(d, "SELECT id, name, level, region_code FROM stations WHERE region_code BETWEEN ? AND ? "
                            "AND level IN ('village', 'town') ORDER BY region_code");
    db_bind_text(s, 1, lo); db_bind_text(s, 2, hi);
    while (db_step(s) == DB_ROW) {
        const char *level = db_col_text(s, 2), *code = db_col_text(s, 3);
        bool town = strcmp(level, "town") == 0;
        struct ctally sum = {0};
        for (size_t i = 0; i < nt; i++)
            if (town ? strncmp(t[i].code, code, 9) == 0 : strcmp(t[i].code, code) == 0) tally_add(&sum, &t[i]);
        json_t *j = json_pack("{s:I,s:s,s:s,s:s}", "station_id", (json_int_t)db_col_int(s, 0), "station_name", db_col_text(s, 1),
                              "level", level, "region_code", code);
        json_array_append_new(town ? towns : items, tally_item(j, &sum));
    }
    db_reset(s);
    free(t);
    /* Which items are missing most, over the whole scope (by label). */
    reply_json(r, 200, json_pack("{s:o,s:o,s:o,s:I,s:I}", "items", items, "towns", towns, "missing", tally_missing(&all, true),
                                 "persons", (json_int_t)all.persons, "complete", (json_int_t)all.complete));
}

void import_template(req *r);
void import_upload(req *r);
void import_commit(req *r);
void import_errors(req *r);
void persons_export(req *r);
void categories_create(req *r);
void categories_patch(req *r);
void household_create(req *r);
void household_patch(req *r);
void household_delete(req *r);

const struct route registry_routes[] = {
    {"GET", "/api/v1/persons", "person.read", persons_list, 0},
    {"POST", "/api/v1/persons", "person.write", persons_create, 0},
    {"GET", "/api/v1/persons/completeness", "person.read", persons_completeness, ROUTE_COSTLY},
    {"POST", "/api/v1/persons/validate-id", "person.read", persons_validate_id, 0},
    {"GET", "/api/v1/persons/export.xlsx", "person.export", persons_export, ROUTE_COSTLY},
    {"GET", "/api/v1/persons/import/template.xlsx", "person.import", import_template, 0},
    {"POST", "/api/v1/persons/import", "person.import", import_upload, ROUTE_UPLOAD | ROUTE_COSTLY},
    {"POST", "/api/v1/persons/import/{job}/commit", "person.import", import_commit, ROUTE_COSTLY},
    {"GET", "/api/v1/persons/import/{job}/errors.xlsx", "person.import", import_errors, 0},
    {"GET", "/api/v1/persons/{id}", "person.read", persons_get, 0},
    {"PATCH", "/api/v1/persons/{id}", "person.write", persons_patch, 0},
    {"GET", "/api/v1/persons/{id}/history", "person.read", persons_history, 0},
    {"POST", "/api/v1/persons/{id}/reveal", "person.reveal", persons_reveal, 0},
    {"POST", "/api/v1/persons/{id}/categories", "person.write", categories_create, 0},
    {"PATCH", "/api/v1/persons/{id}/categories/{cid}", "person.write", categories_patch, 0},
    {"POST", "/api/v1/persons/{id}/household", "person.write", household_create, 0},
    {"PATCH", "/api/v1/persons/{id}/household/{hid}", "person.write", household_patch, 0},
    {"DELETE", "/api/v1/persons/{id}/household/{hid}", "person.write", household_delete, 0},
};
const size_t registry_routes_count = sizeof registry_routes / sizeof *registry_routes;
