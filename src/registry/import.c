/* Import of person files from .xlsx or .csv — what staff really use.
 *
 * Two steps. Preview: the uploaded file is kept under the data folder's tmp/
 * as an import job and every row is checked (all cell errors of a row are
 * reported, with row, column and a Chinese message), nothing is written.
 * Commit: the file is read and checked again (the database may have changed
 * in between) and applied in one transaction: all-or-nothing, or the valid
 * rows only when the user chose so explicitly. The error rows come back as
 * an .xlsx with the faulty cells in red, to fix and import again. Rows are
 * streamed: memory does not grow with the file. The same code serves the
 * command line (`vets import persons`). */
#include "registry/internal.h"
#include "base/crypto.h"
#include "base/fieldcrypt.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "io/table_read.h"
#include "io/xlsx_write.h"
#include "network/network.h"
#include "std/cdate.h"
#include "std/idcard.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Extra columns beyond the field table: categories and their attributes. */
enum { X_CATEGORY, X_CAUSE, X_GRADE, X_CERT, X_DECEASED, X_RELATION, NX };
static const struct { const char *label, *aliases; } xcols[NX] = {
    {"优抚类别", "人员类别|优抚对象类别"}, {"伤残性质", ""}, {"伤残等级", ""}, {"优抚证件编号", "证件编号|残疾军人证号"},
    {"烈士（牺牲、病故军人）姓名", "烈士姓名|牺牲军人姓名"}, {"与烈士（军人）关系", "与烈士关系|关系"},
};

struct colmap { int field[256]; int xcol[256]; int ncols; char name[256][64]; };

struct import_ctx {
    const user_ctx *u;
    const char *rid, *ip;
    struct colmap map;
    /* ID numbers seen in this file: a second row with the same number is an error. */
    char (*seen)[19]; size_t seen_cap, seen_n;
    int64_t rows, n_new, n_update, n_error;
    json_t *items;            /* preview items (first 500) */
    xlsx_out *errs;           /* error sheet being written, or NULL */
    bool apply, valid_only;
    int64_t created, updated, skipped;
    const char *fatal;
};

static const char *clean_header(arena *a, const char *h) {
    /* Templates mark required columns with * or （必填）; staff add spaces. */
    char *s = arena_strdup(a, h), *o = s;
    for (const char *p = h; *p; p++) if (*p != ' ' && *p != '*') *o++ = *p;
    *o = 0;
    char *m = strstr(s, "（必填）");
    if (m) *m = 0;
    m = strstr(s, "(必填)");
    if (m) *m = 0;
    return s;
}

static bool alias_match(const char *aliases, const char *h) {
    size_t n = strlen(h);
    for (const char *p = aliases; p && *p;) {
        const char *e = strchr(p, '|');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncmp(p, h, n) == 0) return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

static const char *map_header(arena *a, struct colmap *m, const char *const *cells, int n) {
    m->ncols = n > 256 ? 256 : n;
    bool have_name = false, have_id = false, have_region = false;
    for (int c = 0; c < m->ncols; c++) {
        m->field[c] = -1; m->xcol[c] = -1;
        const char *h = clean_header(a, cells[c]);
        snprintf(m->name[c], sizeof m->name[c], "%s", h);
        if (!*h) continue;
        for (size_t i = 0; i < person_nfields; i++)
            if (!(person_fields[i].flags & FF_DERIVED) &&
                (strcmp(person_fields[i].label, h) == 0 || alias_match(person_fields[i].aliases, h))) { m->field[c] = (int)i; break; }
        if (m->field[c] < 0)
            for (int x = 0; x < NX; x++)
                if (strcmp(xcols[x].label, h) == 0 || alias_match(xcols[x].aliases, h)) { m->xcol[c] = x; break; }
        if (m->field[c] >= 0) {
            const char *k = person_fields[m->field[c]].key;
            if (!strcmp(k, "name")) have_name = true;
            if (!strcmp(k, "id_number")) have_id = true;
            if (!strcmp(k, "region_code")) have_region = true;
        }
    }
    if (!have_name || !have_id) return "表头缺少“姓名”或“身份证号码”列，请使用下载的导入模板";
    if (!have_region) return "表头缺少“所属村社区”列，请使用下载的导入模板";
    return NULL;
}

static bool seen_add(struct import_ctx *c, const char *id) {
    if (c->seen_n * 2 >= c->seen_cap) {
        size_t ncap = c->seen_cap ? c->seen_cap * 2 : 4096;
        char (*ns)[19] = calloc(ncap, sizeof *ns);
        for (size_t i = 0; i < c->seen_cap; i++) if (c->seen[i][0]) {
            uint64_t h = 1469598103934665603ull;
            for (const char *p = c->seen[i]; *p; p++) { h ^= (unsigned char)*p; h *= 1099511628211ull; }
            size_t j = h % ncap; while (ns[j][0]) j = (j + 1) % ncap;
            memcpy(ns[j], c->seen[i], 19);
        }
        free(c->seen); c->seen = ns; c->seen_cap = ncap;
    }
    uint64_t h = 1469598103934665603ull;
    for (const char *p = id; *p; p++) { h ^= (unsigned char)*p; h *= 1099511628211ull; }
    for (size_t j = h % c->seen_cap;; j = (j + 1) % c->seen_cap) {
        if (!c->seen[j][0]) { snprintf(c->seen[j], 19, "%s", id); c->seen_n++; return true; }
        if (strcmp(c->seen[j], id) == 0) return false;
    }
}

struct rowerr { int col; const char *field, *msg; };

/* Categories of a row: names separated by 、，,; — returns codes or an error. */
static const char *row_categories(arena *a, const char *text, const char **codes, int *n) {
    *n = 0;
    char *t = arena_strdup(a, text);
    /* Normalise the Chinese separators to commas. */
    static const char *seps[] = {"、", "，", "；", ";", "/"};
    for (size_t i = 0; i < sizeof seps / sizeof *seps; i++)
        for (char *p; (p = strstr(t, seps[i]));) { *p = ','; memmove(p + 1, p + strlen(seps[i]), strlen(p + strlen(seps[i])) + 1); }
    for (char *sv = NULL, *tok = strtok_r(t, ",", &sv); tok && *n < 8; tok = strtok_r(NULL, ",", &sv)) {
        while (*tok == ' ') tok++;
        if (!*tok) continue;
        const char *c = code_by_name(a, "person_category", tok);
        if (!c) return arena_printf(a, "“%s”不是有效的优抚类别", tok);
        codes[(*n)++] = c;
    }
    return NULL;
}

/* Attributes of the categories named in a row, as codes. */
struct rowcat { const char *cause, *relation; int64_t grade; };

static int xcol_index(const struct import_ctx *c, int x) {
    for (int k = 0; k < c->map.ncols; k++) if (c->map.xcol[k] == x) return k;
    return -1;
}

static bool holds_category(int64_t pid, const char *cat) {
    db_stmt *s = db_prep(db_thread(), "SELECT 1 FROM person_categories WHERE person_id = ? AND category = ? AND valid_to IS NULL");
    db_bind_int(s, 1, pid); db_bind_text(s, 2, cat);
    bool has = db_step(s) == DB_ROW;
    db_reset(s);
    return has;
}

/* 伤残等级 as staff write it: 8, 8.0, 8级, 八级. -1 when not a grade. */
static int64_t parse_grade(const char *t) {
    static const char *const cn[] = {"一", "二", "三", "四", "五", "六", "七", "八", "九", "十"};
    char *end;
    long g = strtol(t, &end, 10);
    if (end != t) {
        if (!strcmp(end, ".0") || !strcmp(end, "级")) end += strlen(end);
        return *end ? -1 : g;
    }
    for (int i = 0; i < 10; i++) {
        size_t l = strlen(cn[i]);
        if (!strncmp(t, cn[i], l) && (!t[l] || !strcmp(t + l, "级"))) return i + 1;
    }
    return -1;
}

/* Reads the category columns of a row and checks them by the rules the API
 * applies (category_rules): a cause × grade pair that does not exist, a 三属
 * without relation or deceased, or a cause given without 伤残人员 is an error
 * of the row, not a silently stored wrong entitlement. Categories the person
 * already holds are not added again, so they are not checked again either
 * (a re-imported export has no attribute columns). */
static void row_category_attrs(struct import_ctx *c, arena *a, const char *const *x, int64_t existing,
                               const char **cats, int *ncat, struct rowcat *rc, struct rowerr *errs, int *ne) {
    #define ROWERR(xc, fld, msg) do { int col_ = xcol_index(c, xc); \
        errs[(*ne)++] = (struct rowerr){col_ >= 0 ? col_ : xcol_index(c, X_CATEGORY), fld, msg}; return; } while (0)
    if (x[X_CATEGORY]) {
        const char *e = row_categories(a, x[X_CATEGORY], cats, ncat);
        if (e) ROWERR(X_CATEGORY, "categories", e);
    }
    if (x[X_CAUSE] && !(rc->cause = code_by_name(a, "disability_cause", x[X_CAUSE])))
        ROWERR(X_CAUSE, "disability_cause", arena_printf(a, "伤残性质“%s”无效，应为因战、因公或因病", x[X_CAUSE]));
    if (x[X_GRADE] && ((rc->grade = parse_grade(x[X_GRADE])) < 1 || rc->grade > 10))
        ROWERR(X_GRADE, "disability_grade", arena_printf(a, "伤残等级“%s”无效，应为 1–10 级", x[X_GRADE]));
    if (x[X_RELATION] && !(rc->relation = code_by_name(a, "relation", x[X_RELATION])))
        ROWERR(X_RELATION, "relation", arena_printf(a, "与烈士（军人）关系“%s”无效", x[X_RELATION]));
    bool dis = false;
    for (int i = 0; i < *ncat; i++) {
        if (!strcmp(cats[i], "1")) dis = true;
        if (existing > 0 && holds_category(existing, cats[i])) continue;
        bool d1 = !strcmp(cats[i], "1");
        const char *field = NULL;
        const char *e = category_rules(a, cats[i], d1 ? rc->cause : NULL, d1 ? rc->grade : 0, rc->relation,
                                       x[X_DECEASED], false, &field);
        if (e) {
            int xc = !strcmp(field, "disability_cause") ? X_CAUSE : !strcmp(field, "disability_grade") ? X_GRADE
                   : !strcmp(field, "relation") ? X_RELATION : !strcmp(field, "deceased_name") ? X_DECEASED : X_CATEGORY;
            ROWERR(xc, field, e);
        }
    }
    if (!dis && (rc->cause || rc->grade > 0))
        ROWERR(rc->cause ? X_CAUSE : X_GRADE, "disability_cause", "填写了伤残性质或等级，但优抚类别中没有“伤残人员”");
    #undef ROWERR
}

/* Checks (and, when applying, writes) one data row. */
static void import_row(struct import_ctx *c, arena *a, const char *const *cells, int n, int rownum) {
    struct rowerr errs[64]; int ne = 0;
    struct pvals in; memset(&in, 0, sizeof in);
    const char *x[NX] = {0};
    int idcol = -1;
    for (int col = 0; col < c->map.ncols && col < n; col++) {
        int f = c->map.field[col];
        if (f >= 0) {
            if (!strcmp(person_fields[f].key, "id_number")) idcol = col;
            if (!cells[col][0]) continue;   /* an empty cell never erases stored data */
            const char *out;
            const char *e = pfield_normalize(a, &person_fields[f], c->u, cells[col], &out);
            if (e && ne < 64) errs[ne++] = (struct rowerr){col, person_fields[f].key, e};
            in.v[f] = cells[col]; in.set[f] = true;
        } else if (c->map.xcol[col] >= 0 && cells[col][0]) x[c->map.xcol[col]] = cells[col];
    }
    const char *action = "new";
    int64_t existing = 0, version = 0;
    struct pvals old;
    const char *idn = NULL;
    int iid = pfield_index("id_number");
    if (!ne) {
        const char *norm;
        if (!in.v[iid]) { errs[ne++] = (struct rowerr){idcol, "id_number", "请填写身份证号码"}; }
        else if (pfield_normalize(a, &person_fields[iid], c->u, in.v[iid], &norm) == NULL) {
            idn = norm;
            if (!seen_add(c, idn)) errs[ne++] = (struct rowerr){idcol, "id_number", "身份证号码与本文件前面的行重复"};
            char idh[33];
            fc_index("id", idn, idh);
            db_stmt *s = db_prep(db_thread(), "SELECT id, region_code FROM persons WHERE id_hash = ?");
            db_bind_text(s, 1, idh);
            if (db_step(s) == DB_ROW) {
                existing = db_col_int(s, 0);
                if (!scope_contains(c->u, db_col_text(s, 1))) {
                    existing = -1;
                }
            }
            db_reset(s);
            if (existing < 0) errs[ne++] = (struct rowerr){idcol, "id_number", "该身份证号码已在其他辖区建档，请联系上级服务中心"};
        }
    }
    const char *cats[8]; int ncat = 0;
    struct rowcat rc = {0};
    if (!ne) row_category_attrs(c, a, x, existing, cats, &ncat, &rc, errs, &ne);
    if (!ne) {
        if (existing > 0) {
            action = "update";
            if (!person_load_vals(a, c->u, existing, &old, &version)) existing = 0;
            /* A sealed value of the file that does not open is not overwritten
             * with "empty" by a row that leaves the cell blank. */
            const struct pfield *bf = existing > 0 ? person_broken(&old, &in) : NULL;
            if (bf) errs[ne++] = (struct rowerr){idcol, bf->key, arena_printf(a, SEAL_BROKEN_MSG, bf->label)};
        }
    }
    if (!ne) {
        struct pcheck chk;
        if (!person_check(a, c->u, &in, existing > 0 ? &old : NULL, existing > 0 ? existing : 0, &chk)) {
            int col = -1;
            int fi = pfield_index(chk.field);
            for (int k = 0; k < c->map.ncols; k++) if (c->map.field[k] == fi && fi >= 0) col = k;
            errs[ne++] = (struct rowerr){col, chk.field, chk.message};
        }
    }
    c->rows++;
    if (ne) { c->n_error++; action = "error"; }
    else if (existing > 0) c->n_update++;
    else c->n_new++;
    if (c->items && json_array_size(c->items) < 500) {
        json_t *ej = json_array();
        for (int i = 0; i < ne; i++) {
            const char *colname = errs[i].col >= 0 ? c->map.name[errs[i].col] : NULL;
            json_array_append_new(ej, json_pack("{s:i,s:s?,s:s?,s:s}", "column", errs[i].col >= 0 ? errs[i].col + 1 : 0,
                                                "column_name", colname, "field", errs[i].field, "message", errs[i].msg));
        }
        const char *nm = in.v[pfield_index("name")];
        json_array_append_new(c->items, json_pack("{s:i,s:s,s:s?,s:s?,s:o}", "row", rownum, "action", action,
            "name", nm, "id_number", idn ? mask_value(a, FT_IDNUM, idn) : NULL, "errors", ej));
    }
    if (c->errs && ne) {
        const char *msgs[257] = {0};
        const char *rowcells[257];
        int w = c->map.ncols < 256 ? c->map.ncols : 256;
        for (int k = 0; k < w; k++) rowcells[k] = k < n ? cells[k] : "";
        char *all = arena_strdup(a, "");
        for (int i = 0; i < ne; i++) {
            if (errs[i].col >= 0 && errs[i].col < w) msgs[errs[i].col] = errs[i].msg;
            all = arena_printf(a, "%s%s%s", all, i ? "；" : "", errs[i].msg);
        }
        rowcells[w] = all;
        xlsx_out_row(c->errs, rowcells, w + 1, msgs);
    }
    if (!c->apply || ne) { if (ne) c->skipped++; return; }
    int64_t pid = person_store(a, c->u, c->rid, c->ip, existing > 0 ? existing : 0, version, &in,
                               existing > 0 ? &old : NULL, ".import");
    if (pid <= 0) { c->fatal = "写入数据库失败"; return; }
    if (existing > 0) c->updated++; else c->created++;
    /* Categories named in the row that the person does not hold yet, with
     * the attributes checked above; kept in the history and audited like
     * the ones added through the API. */
    for (int i = 0; i < ncat; i++) {
        if (holds_category(pid, cats[i])) continue;
        bool dis = !strcmp(cats[i], "1");
        /* The deceased and the relation belong to the 三属 entries only. */
        bool fam = !strcmp(cats[i], "21") || !strcmp(cats[i], "22") || !strcmp(cats[i], "23");
        char ts[21]; iso_utc(now_unix(), ts);
        db_stmt *s = db_prep(db_thread(), "INSERT INTO person_categories(person_id, category, disability_cause, disability_grade, certificate_no, "
                                          "deceased_name, relation, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id");
        db_bind_int(s, 1, pid); db_bind_text(s, 2, cats[i]);
        db_bind_text(s, 3, dis ? rc.cause : NULL);
        if (dis && rc.grade > 0) db_bind_int(s, 4, rc.grade); else db_bind_null(s, 4);
        db_bind_text(s, 5, x[X_CERT]);
        db_bind_text(s, 6, fam ? x[X_DECEASED] : NULL);
        db_bind_text(s, 7, fam ? rc.relation : NULL);
        db_bind_text(s, 8, ts); db_bind_text(s, 9, ts);
        int64_t cid = db_step(s) == DB_ROW ? db_col_int(s, 0) : -1;
        db_reset(s);
        if (cid < 0) { c->fatal = "写入优抚类别失败"; return; }
        const char *desc = arena_printf(a, "新增：%s%s", code_name(a, "person_category", cats[i]),
                                        dis ? arena_printf(a, "（%s%lld级）", code_name(a, "disability_cause", rc.cause), (long long)rc.grade) : "");
        char ids[24]; snprintf(ids, sizeof ids, "%lld", (long long)pid);
        if (person_history_add_as(c->u, c->rid, pid, "categories", "优抚类别", NULL, desc) != 0 ||
            audit_event_as(c->u, c->rid, c->ip, "person.category.add.import", "person", ids, "ok",
                         json_pack("{s:{s:s,s:I}}", "after", "category", cats[i], "category_id", (json_int_t)cid)) != 0) {
            c->fatal = "写入优抚类别失败"; return;
        }
    }
    /* The values just stored are at hand: no need to read and unseal them again. */
    if (ncat) person_set_completeness(a, pid, &in);
}

/* Reads the whole file through import_row. Returns NULL or a Chinese message. */
static const char *import_run(struct import_ctx *c, const char *path) {
    char e[256];
    table_reader *t = table_open(path, e, sizeof e);
    if (!t) { static __thread char m[300]; snprintf(m, sizeof m, "%s", e); return m; }
    const char *const *cells; int n, row, rc;
    bool header = true;
    arena *a = arena_new(1 << 16);
    const char *res = NULL;
    while ((rc = table_next(t, &cells, &n, &row, e, sizeof e)) == 1) {
        if (header) {
            const char *he = map_header(a, &c->map, cells, n);
            if (he) { res = he; break; }
            header = false;
            if (c->errs) {
                const char *hdr[257]; int w = c->map.ncols;
                for (int k = 0; k < w; k++) hdr[k] = arena_strdup(a, cells[k]);
                hdr[w] = "错误说明";
                double widths[257];
                for (int k = 0; k <= w; k++) widths[k] = k == w ? 50 : 16;
                xlsx_out_header(c->errs, hdr, w + 1, widths);
            }
            continue;
        }
        /* Per-row memory: a fresh arena every few rows keeps the footprint flat. */
        if ((c->rows & 255) == 255) { arena_free(a); a = arena_new(1 << 16); }
        import_row(c, a, cells, n, row);
        if (c->fatal) { res = c->fatal; break; }
    }
    if (rc < 0 && !res) { static __thread char m[300]; snprintf(m, sizeof m, "%s", e); res = m; }
    if (header && !res) res = "文件是空的：没有表头和数据行";
    arena_free(a);
    table_close(t);
    return res;
}

static void ctx_free(struct import_ctx *c) { free(c->seen); c->seen = NULL; }

/* ---- template ---- */

void import_template(req *r) {
    const char *names[80]; double widths[80]; int n = 0;
    arena *a = req_arena(r);
    for (size_t i = 0; i < person_nfields && n < 70; i++) {
        if (person_fields[i].flags & FF_DERIVED) continue;
        names[n] = (person_fields[i].flags & FF_REQUIRED) ? arena_printf(a, "%s*", person_fields[i].label) : person_fields[i].label;
        widths[n++] = person_fields[i].type == FT_IDNUM ? 22 : 14;
    }
    for (int x = 0; x < NX; x++) { names[n] = xcols[x].label; widths[n++] = 16; }
    char *path = registry_tmp_path(a, "template", req_id(r));
    xlsx_out *x = xlsx_out_open_ex(path, "人员档案", false);
    if (!x) { reply_error(r, 500, "internal", NULL, "生成模板失败"); return; }
    xlsx_out_header(x, names, n, widths);
    /* One example row so the expected formats are obvious. */
    const char *ex[80] = {0};
    for (int i = 0; i < n; i++) ex[i] = "";
    int k = 0;
    for (size_t i = 0; i < person_nfields; i++) {
        if (person_fields[i].flags & FF_DERIVED) continue;
        const char *key = person_fields[i].key;
        if (!strcmp(key, "name")) ex[k] = "（示例，导入前请删除本行）张三";
        else if (!strcmp(key, "id_number")) ex[k] = "33048219800101001X";
        else if (!strcmp(key, "region_code")) ex[k] = "（填写村社区名称或 12 位区划代码）";
        else if (!strcmp(key, "service.enlist_date")) ex[k] = "1998-12-01";
        else if (!strcmp(key, "service.discharge_date")) ex[k] = "2003年12月1日";
        k++;
    }
    ex[k] = "退役军人、伤残人员";
    xlsx_out_row(x, ex, n, NULL);
    static const char *notes[] = {
        "填写说明",
        "1. 带 * 的列必须填写：姓名、身份证号码、所属村社区。",
        "2. 身份证号码按文本填写（18 位，末位 X 大小写均可；15 位旧号码会自动转换）。性别和出生日期由号码自动得出，可不填；填写时须与号码一致。",
        "3. 日期可写作 2021-03-05、2021/3/5、20210305 或 2021年3月5日，也可使用 Excel 日期格式。",
        "4. 民族、户籍类型、军种、安置方式、人员状态等填写名称（如 汉族、农村、陆军、自主就业、在册）。",
        "5. 所属村社区填写本辖区内村（社区）名称或 12 位统计用区划代码。",
        "6. 已建档人员（身份证号码相同）按本表更新，空白单元格不会清除原有内容。",
        "7. 优抚类别可填写多个，用顿号“、”分隔；伤残人员请同时填写伤残性质和伤残等级；三属请填写烈士（牺牲、病故军人）姓名和关系。",
        "8. 可上传 .xlsx 或 .csv（UTF-8 或 GBK 编码均可）。导入前会先预览，每行的错误都会列出。",
    };
    xlsx_out_notes(x, "填写说明", notes, (int)(sizeof notes / sizeof *notes));
    if (xlsx_out_close(x) != 0) { reply_error(r, 500, "internal", NULL, "生成模板失败"); return; }
    reply_file(r, path, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "人员档案导入模板.xlsx", true);
}

/* ---- preview ---- */

static json_t *job_json(const char *job, struct import_ctx *c, const char *filename) {
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:O}", "import_id", job, "filename", filename,
                     "rows", (json_int_t)c->rows, "new", (json_int_t)c->n_new, "update", (json_int_t)c->n_update,
                     "error", (json_int_t)c->n_error, "items", c->items);
}

void import_upload(req *r) {
    const char *fname = NULL;
    const char *up = req_upload(r, &fname);
    if (!up) return;
    arena *a = req_arena(r);
    char job[33]; crypto_token_hex(job, 16);
    /* Keep the file as the job: beside the spool file, same file system. */
    char *dir = arena_strdup(a, up);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    char *path = arena_printf(a, "%s/import-%s", dir, job);
    if (rename(up, path) != 0) { reply_error(r, 500, "internal", NULL, "保存上传文件失败"); return; }
    struct import_ctx c = {.u = current_user(r), .rid = req_id(r), .ip = req_ip(r), .items = json_array()};
    const char *e = import_run(&c, path);
    if (e) {
        unlink(path); json_decref(c.items); ctx_free(&c);
        reply_error(r, 422, "validation_failed", "file", "%s", e);
        return;
    }
    char ts[21]; iso_utc(now_unix(), ts);
    db *d = db_thread();
    db_begin(d);
    db_stmt *s = db_prep(d, "INSERT INTO import_jobs(id, user_id, filename, path, created_at, rows, n_new, n_update, n_error) "
                            "VALUES (?,?,?,?,?,?,?,?,?)");
    db_bind_text(s, 1, job); db_bind_int(s, 2, current_user(r)->id); db_bind_text(s, 3, fname ? fname : "upload");
    db_bind_text(s, 4, path); db_bind_text(s, 5, ts); db_bind_int(s, 6, c.rows); db_bind_int(s, 7, c.n_new);
    db_bind_int(s, 8, c.n_update); db_bind_int(s, 9, c.n_error);
    int rc = db_step(s); db_reset(s);
    if (rc != DB_DONE || audit_event(r, "person.import.preview", "import", job, "ok",
            json_pack("{s:s,s:I,s:I,s:I,s:I}", "filename", fname ? fname : "upload", "rows", (json_int_t)c.rows,
                      "new", (json_int_t)c.n_new, "update", (json_int_t)c.n_update, "error", (json_int_t)c.n_error)) != 0 ||
        db_commit(d) != DB_OK) {
        db_rollback(d); unlink(path); json_decref(c.items); ctx_free(&c);
        reply_error(r, 500, "internal", NULL, "保存导入任务失败");
        return;
    }
    json_t *j = job_json(job, &c, fname ? fname : "upload");
    json_decref(c.items); ctx_free(&c);
    reply_json(r, 200, j);
}

static bool load_job(req *r, const char *job, char **path, char **fname, int *committed) {
    db_stmt *s = db_prep(db_thread(), "SELECT path, filename, committed FROM import_jobs WHERE id = ? AND user_id = ?");
    db_bind_text(s, 1, job); db_bind_int(s, 2, current_user(r)->id);
    bool ok = db_step(s) == DB_ROW;
    if (ok) { *path = arena_strdup(req_arena(r), db_col_text(s, 0)); *fname = arena_strdup(req_arena(r), db_col_text(s, 1)); *committed = (int)db_col_int(s, 2); }
    db_reset(s);
    if (!ok || access(*path, R_OK) != 0) { reply_error(r, 404, "not_found", NULL, "导入任务不存在或已过期，请重新上传"); return false; }
    return true;
}

static const char *const commit_keys[] = {"mode", NULL};

void import_commit(req *r) {
    const char *job = req_param(r, 0);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, commit_keys)) return;
    bool bad = false;
    const char *mode = json_str_field(r, b, "mode", "导入方式", 10, &bad);
    if (bad) return;
    if (!mode || (strcmp(mode, "all") && strcmp(mode, "valid"))) {
        reply_error(r, 422, "validation_failed", "mode", "导入方式应为 all（全部成功才导入）或 valid（只导入无误的行）"); return;
    }
    char *path, *fname; int committed;
    if (!load_job(r, job, &path, &fname, &committed)) return;
    if (committed) { reply_error(r, 409, "conflict", NULL, "该导入任务已提交过"); return; }
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return; }
    struct import_ctx c = {.u = current_user(r), .rid = req_id(r), .ip = req_ip(r), .apply = true,
                           .valid_only = !strcmp(mode, "valid")};
    const char *e = import_run(&c, path);
    if (!e && c.n_error && !c.valid_only) {
        db_rollback(d);
        json_t *err = json_pack("{s:s,s:s,s:s,s:I,s:I}", "code", "validation_failed", "message",
            "文件中有错误行，未导入任何数据；请修正后重新上传，或选择“只导入无误的行”", "request_id", req_id(r),
            "error_rows", (json_int_t)c.n_error, "rows", (json_int_t)c.rows);
        ctx_free(&c);
        reply_json(r, 422, json_pack("{s:o}", "error", err));
        return;
    }
    if (e) { db_rollback(d); ctx_free(&c); reply_error(r, 422, "validation_failed", "file", "%s", e); return; }
    db_stmt *s = db_prep(d, "UPDATE import_jobs SET committed = 1 WHERE id = ?");
    db_bind_text(s, 1, job); db_step(s); db_reset(s);
    if (audit_event(r, "person.import", "import", job, "ok",
                  json_pack("{s:s,s:s,s:I,s:I,s:I}", "filename", fname, "mode", mode, "created", (json_int_t)c.created,
                            "updated", (json_int_t)c.updated, "skipped", (json_int_t)c.skipped)) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d); ctx_free(&c); reply_error(r, 500, "internal", NULL, "导入失败，未写入任何数据"); return;
    }
    json_t *j = json_pack("{s:I,s:I,s:I,s:I}", "created", (json_int_t)c.created, "updated", (json_int_t)c.updated,
                          "skipped", (json_int_t)c.skipped, "rows", (json_int_t)c.rows);
    ctx_free(&c);
    reply_json(r, 200, j);
}

void import_errors(req *r) {
    const char *job = req_param(r, 0);
    char *path, *fname; int committed;
    if (!load_job(r, job, &path, &fname, &committed)) return;
    char *out = arena_printf(req_arena(r), "%s.errors.xlsx", path);
    struct import_ctx c = {.u = current_user(r), .rid = req_id(r), .ip = req_ip(r)};
    c.errs = xlsx_out_open_ex(out, "错误行", true);
    if (!c.errs) { reply_error(r, 500, "internal", NULL, "生成错误表失败"); return; }
    /* Checked against the database as it is now (and with the file's own duplicates). */
    const char *e = import_run(&c, path);
    int rc = xlsx_out_close(c.errs);
    ctx_free(&c);
    if (e || rc != 0) { unlink(out); reply_error(r, 422, "validation_failed", "file", "%s", e ? e : "生成错误表失败"); return; }
    audit_event(r, "person.import.errors", "import", job, "ok", json_pack("{s:I}", "rows", (json_int_t)c.n_error));
    reply_file(r, out, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               arena_printf(req_arena(r), "导入错误行-%s.xlsx", fname), true);
}

/* ---- command line ---- */

int import_persons_cli(const char *file, const user_ctx *u, bool valid_only, bool dry_run,
                       int64_t *created, int64_t *updated, int64_t *errors, char *err, unsigned errcap) {
    db *d = db_thread();
    struct import_ctx c = {.u = u, .rid = "cli", .ip = "127.0.0.1", .apply = !dry_run, .valid_only = valid_only};
    if (db_begin(d) != DB_OK) { snprintf(err, errcap, "数据库忙"); return -1; }
    const char *e = import_run(&c, file);
    *errors = c.n_error; *created = c.created; *updated = c.updated;
    if (e || (c.n_error && !valid_only) || dry_run) {
        db_rollback(d);
        if (e) snprintf(err, errcap, "%s", e);
        else if (c.n_error && !valid_only) snprintf(err, errcap, "%lld 行有错误，未导入任何数据（可用 --valid-only 只导入无误的行）", (long long)c.n_error);
        ctx_free(&c);
        return e || (c.n_error && !valid_only) ? -1 : 0;
    }
    if (audit_event_as(u, "cli", "127.0.0.1", "person.import", "import", file, "ok",
                     json_pack("{s:I,s:I,s:I}", "created", (json_int_t)c.created, "updated", (json_int_t)c.updated,
                               "skipped", (json_int_t)c.skipped)) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d); ctx_free(&c); snprintf(err, errcap, "写入失败"); return -1;
    }
    ctx_free(&c);
    return 0;
}
