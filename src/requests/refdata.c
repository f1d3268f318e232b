/* The rule data of requests, and its administration. At every start the
 * shipped files are loaded into the database: the holiday calendar
 * (data/calendar/YYYY.csv), the SLA table (data/sla.csv, category and urgency
 * written as their Chinese names) and the proxy templates
 * (data/proxy_steps.csv, data/proxy_materials.csv). Deadlines are computed
 * from the database copy, so every node agrees and an administrator's change
 * through the API (a new calendar year, a new SLA row, a renamed category)
 * takes effect at once, audited, and survives the next start. */
#include "requests/internal.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "io/table_read.h"
#include "network/network.h"
#include "std/cdate.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading the CSV files ---- */

typedef int (*row_fn)(void *ctx, const char *const *v, int row, char *err, unsigned errcap);

/* Calls FN for every data row of PATH with the cells of COLS in that order
 * (a column absent from the file reads as ""; REQUIRED columns must exist). */
static int csv_each(const char *path, const char *const *cols, int required, row_fn fn, void *ctx, char *err,
                    unsigned errcap) {
    char e[256];
    table_reader *t = table_open(path, e, sizeof e);
    if (!t) { snprintf(err, errcap, "%s：%s", path, e); return -1; }
    const char *const *cells;
    int n, row, rc, map[16], ncols = 0, count = 0;
    bool header = true;
    while (cols[ncols]) ncols++;
    while ((rc = table_next(t, &cells, &n, &row, e, sizeof e)) == 1) {
        if (header) {
            header = false;
            for (int i = 0; i < ncols; i++) {
                map[i] = -1;
                for (int k = 0; k < n; k++) if (strcmp(cells[k], cols[i]) == 0) map[i] = k;
                if (map[i] < 0 && i < required) {
                    snprintf(err, errcap, "%s：缺少列 %s", path, cols[i]);
                    table_close(t);
                    return -1;
                }
            }
            continue;
        }
        const char *v[16];
        for (int i = 0; i < ncols; i++) v[i] = map[i] >= 0 && map[i] < n ? cells[map[i]] : "";
        if (fn(ctx, v, row, err, errcap) != 0) { table_close(t); return -1; }
        count++;
    }
    table_close(t);
    if (rc < 0) { snprintf(err, errcap, "%s：%s", path, e); return -1; }
    return count;
}

static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (!s || !*s) return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* ---- calendar ---- */

/* Checks one calendar row of YEAR; NULL if good, else the message. */
static const char *cal_check(const char *date, const char *kind, int year, int *days) {
    if (!date || !cdate_iso_to_days(date, days)) return "日期无效（应为 YYYY-MM-DD 格式的真实日期）";
    int y, m, d;
    cdate_from_days(*days, &y, &m, &d);
    if (y != year) return "日期不属于该年份";
    if (!kind || (strcmp(kind, "休") != 0 && strcmp(kind, "班") != 0)) return "类别应为“休”或“班”";
    /* A swapped working day is always a weekend day: anything else is a typo. */
    if (strcmp(kind, "班") == 0 && cdate_weekday(*days) <= 5) return "调休上班日（班）应为周六或周日";
    return NULL;
}

struct cal_ctx { const char *path; int year; const char *now; int seen[400]; int nseen; };

static int cal_row(void *vctx, const char *const *v, int row, char *err, unsigned errcap) {
    struct cal_ctx *c = vctx;
    int days;
    const char *msg = cal_check(v[0], v[1], c->year, &days);
    for (int i = 0; !msg && i < c->nseen; i++) if (c->seen[i] == days) msg = "日期重复";
    if (!msg && c->nseen >= 400) msg = "行数过多";
    if (msg) { snprintf(err, errcap, "节假日文件 %s 第 %d 行：%s", c->path, row, msg); return -1; }
    c->seen[c->nseen++] = days;
    db_stmt *s = db_prep(db_thread(), "INSERT INTO calendar_days(day, kind, name, source, updated_at) VALUES (?,?,?,'file',?)");
    db_bind_text(s, 1, v[0]); db_bind_text(s, 2, v[1]); db_bind_text(s, 3, v[2]); db_bind_text(s, 4, c->now);
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE) { snprintf(err, errcap, "节假日文件 %s 第 %d 行：写入失败", c->path, row); return -1; }
    return 0;
}

static int year_count(int year, const char *source) {
    char lo[11], hi[11];
    snprintf(lo, sizeof lo, "%04d-01-01", year);
    snprintf(hi, sizeof hi, "%04d-12-31", year);
    db_stmt *s = db_prep(db_thread(), "SELECT COUNT(*) FROM calendar_days WHERE day BETWEEN ? AND ? AND (? IS NULL OR source = ?)");
    db_bind_text(s, 1, lo); db_bind_text(s, 2, hi); db_bind_text(s, 3, source); db_bind_text(s, 4, source);
    int n = db_step(s) == DB_ROW ? (int)db_col_int(s, 0) : 0;
    db_reset(s);
    return n;
}

static void year_delete(int year) {
    char lo[11], hi[11];
    snprintf(lo, sizeof lo, "%04d-01-01", year);
    snprintf(hi, sizeof hi, "%04d-12-31", year);
    db_stmt *s = db_prep(db_thread(), "DELETE FROM calendar_days WHERE day BETWEEN ? AND ?");
    db_bind_text(s, 1, lo); db_bind_text(s, 2, hi);
    db_step(s);
    db_reset(s);
}

static int year_file(const struct dirent *e) {
    const char *s = e->d_name;
    return strlen(s) == 8 && strcmp(s + 4, ".csv") == 0 && strspn(s, "0123456789") == 4;
}

static int load_calendar(const char *ref, const char *now, char *err, unsigned errcap) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/calendar", ref);
    struct dirent **list = NULL;
    int n = scandir(dir, &list, year_file, alphasort);
    if (n < 0) { snprintf(err, errcap, "找不到节假日目录 %s", dir); return -1; }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        int year = atoi(list[i]->d_name);
        if (rc == 0 && year_count(year, "admin") > 0) {
            /* An administrator entered this year through the API: theirs stands. */
            log_info(NULL, "节假日 %d 年已由管理员维护，跳过 %s", year, list[i]->d_name);
        } else if (rc == 0) {
            year_delete(year);
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
            struct cal_ctx *c = calloc(1, sizeof *c);
            c->path = path; c->year = year; c->now = now;
            static const char *const cols[] = {"date", "kind", "name", NULL};
            if (csv_each(path, cols, 2, cal_row, c, err, errcap) < 0) rc = -1;
            free(c);
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

/* ---- SLA ---- */

struct sla_ctx { const char *path, *now; arena *a; };

static int sla_row(void *vctx, const char *const *v, int row, char *err, unsigned errcap) {
    struct sla_ctx *c = vctx;
    const char *cat = code_by_name(c->a, "request_category", v[0]), *urg = code_by_name(c->a, "urgency", v[1]);
    int64_t rh, wd, ex, exd;
    int day;
    const char *msg = !cat ? "诉求类别不在代码表 request_category 中" : !urg ? "紧急程度不在代码表 urgency 中"
                    : !parse_int(v[2], 1, 10000, &rh) ? "response_hours 应为正整数"
                    : !parse_int(v[3], 1, 1000, &wd) ? "conclude_workdays 应为正整数"
                    : !parse_int(v[4], 0, 10, &ex) ? "extensions 应为 0–10 的整数"
                    : !parse_int(v[5], 0, 1000, &exd) ? "extension_workdays 应为非负整数"
                    : !cdate_iso_to_days(v[6], &day) ? "effective_from 应为 YYYY-MM-DD 日期" : NULL;
    if (msg) { snprintf(err, errcap, "%s 第 %d 行：%s", c->path, row, msg); return -1; }
    db_stmt *s = db_prep(db_thread(),
        "INSERT INTO sla_rules(category, urgency, response_hours, conclude_workdays, extensions, extension_workdays, "
        "effective_from, note, source, created_at) VALUES (?,?,?,?,?,?,?,?,'file',?) "
        "ON CONFLICT(category, urgency, effective_from) DO UPDATE SET response_hours = excluded.response_hours, "
        "conclude_workdays = excluded.conclude_workdays, extensions = excluded.extensions, "
        "extension_workdays = excluded.extension_workdays, note = excluded.note WHERE sla_rules.source = 'file'");
    db_bind_text(s, 1, cat); db_bind_text(s, 2, urg); db_bind_int(s, 3, rh); db_bind_int(s, 4, wd);
    db_bind_int(s, 5, ex); db_bind_int(s, 6, exd); db_bind_text(s, 7, v[6]); db_bind_text(s, 8, *v[7] ? v[7] : NULL);
    db_bind_text(s, 9, c->now);
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE) { snprintf(err, errcap, "%s 第 %d 行：写入失败", c->path, row); return -1; }
    return 0;
}

/* ---- proxy templates ---- */

struct proxy_ctx { const char *path; arena *a; bool materials; };

static int proxy_row(void *vctx, const char *const *v, int row, char *err, unsigned errcap) {
    struct proxy_ctx *c = vctx;
    const char *type = code_by_name(c->a, "proxy_type", v[0]);
    int64_t seq, f1 = 0, f2 = 0;
    const char *msg = !type ? "代办类型不在代码表 proxy_type 中" : !parse_int(v[1], 1, 99, &seq) ? "seq 应为 1–99"
                    : !*v[2] ? "缺少名称" : NULL;
    if (!msg && !c->materials && strcmp(v[3], "village") && strcmp(v[3], "town") && strcmp(v[3], "center"))
        msg = "level 应为 village、town 或 center";
    if (!msg && *v[c->materials ? 3 : 4] && !parse_int(v[c->materials ? 3 : 4], 0, 1, &f1)) msg = "标志列应为 0 或 1";
    if (!msg && c->materials && *v[4] && !parse_int(v[4], 0, 1, &f2)) msg = "authorization 应为 0 或 1";
    if (msg) { snprintf(err, errcap, "%s 第 %d 行：%s", c->path, row, msg); return -1; }
    db_stmt *s;
    if (c->materials) {
        s = db_prep(db_thread(), "INSERT INTO proxy_materials(type, seq, name, required, is_authorization, note) VALUES (?,?,?,?,?,?)");
        db_bind_text(s, 1, type); db_bind_int(s, 2, seq); db_bind_text(s, 3, v[2]); db_bind_int(s, 4, f1);
        db_bind_int(s, 5, f2); db_bind_text(s, 6, *v[5] ? v[5] : NULL);
    } else {
        s = db_prep(db_thread(), "INSERT INTO proxy_steps(type, seq, name, level, requires_materials, note) VALUES (?,?,?,?,?,?)");
        db_bind_text(s, 1, type); db_bind_int(s, 2, seq); db_bind_text(s, 3, v[2]); db_bind_text(s, 4, v[3]);
        db_bind_int(s, 5, f1); db_bind_text(s, 6, *v[5] ? v[5] : NULL);
    }
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE) { snprintf(err, errcap, "%s 第 %d 行：写入失败（类型与序号重复？）", c->path, row); return -1; }
    return 0;
}

int requests_refdata_load(const char *ref, char *err, unsigned errcap) {
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { snprintf(err, errcap, "数据库忙"); return -1; }
    arena *a = arena_new(4096);
    char now[21], path[1100];
    iso_utc(now_unix(), now);
    int rc = load_calendar(ref, now, err, errcap);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/sla.csv", ref);
        static const char *const cols[] = {"category", "urgency", "response_hours", "conclude_workdays", "extensions",
                                           "extension_workdays", "effective_from", "note", NULL};
        struct sla_ctx c = {path, now, a};
        if (csv_each(path, cols, 7, sla_row, &c, err, errcap) < 0) rc = -1;
    }
    if (rc == 0) {
        /* Templates are copied into each request at intake, so the tables are
         * simply replaced by the files. */
        db_exec(d, "DELETE FROM proxy_steps");
        db_exec(d, "DELETE FROM proxy_materials");
        snprintf(path, sizeof path, "%s/proxy_steps.csv", ref);
        static const char *const scols[] = {"type", "seq", "name", "level", "requires_materials", "note", NULL};
        struct proxy_ctx c = {path, a, false};
        if (csv_each(path, scols, 4, proxy_row, &c, err, errcap) < 0) rc = -1;
        snprintf(path, sizeof path, "%s/proxy_materials.csv", ref);
        static const char *const mcols[] = {"type", "seq", "name", "required", "authorization", "note", NULL};
        struct proxy_ctx m = {path, a, true};
        if (rc == 0 && csv_each(path, mcols, 3, proxy_row, &m, err, errcap) < 0) rc = -1;
    }
    if (rc == 0) {
        /* data/codes was just reloaded over the codes table: put back the names
         * administrators changed. */
        rc = db_exec(d, "INSERT INTO codes(tbl, code, name, sort) SELECT o.tbl, o.code, o.name, "
                        "1000 + (SELECT COUNT(*) FROM codes c WHERE c.tbl = o.tbl) FROM code_overrides o WHERE true "
                        "ON CONFLICT(tbl, code) DO UPDATE SET name = excluded.name") == DB_OK ? 0 : -1;
        db_cache_invalidate(d);
        if (rc) snprintf(err, errcap, "恢复代码表修改失败");
    }
    arena_free(a);
    if (rc != 0 || db_commit(d) != DB_OK) { db_rollback(d); return -1; }
    return 0;
}

/* ---- GET/POST /calendar ---- */

int rq_calendar_needed_year(const struct rq_now *now) {
    int y, m, d;
    cdate_from_days(now->today, &y, &m, &d);
    int64_t lead = setting_int_cached("requests.calendar_lead_months", 1);   /* migration 0009 */
    return m + lead > 12 ? y + 1 : y;
}

void calendar_get(req *r) {
    int64_t year = req_query_int(r, "year", 0, 0, 9999);
    db *d = db_thread();
    json_t *items = json_array();
    if (year) {
        char lo[11], hi[11];
        snprintf(lo, sizeof lo, "%04d-01-01", (int)year);
        snprintf(hi, sizeof hi, "%04d-12-31", (int)year);
        db_stmt *s = db_prep(d, "SELECT day, kind, name, source FROM calendar_days WHERE day BETWEEN ? AND ? ORDER BY day");
        db_bind_text(s, 1, lo); db_bind_text(s, 2, hi);
        while (db_step(s) == DB_ROW)
            json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:s}", "date", db_col_text(s, 0), "kind", db_col_text(s, 1),
                                                   "name", db_col_text(s, 2), "source", db_col_text(s, 3)));
        db_reset(s);
    }
    json_t *years = json_array();
    db_stmt *s = db_prep(d, "SELECT substr(day, 1, 4), COUNT(*), MAX(source), MAX(updated_at) FROM calendar_days "
                            "GROUP BY substr(day, 1, 4) ORDER BY 1");
    while (db_step(s) == DB_ROW)
        json_array_append_new(years, json_pack("{s:i,s:I,s:s,s:s}", "year", atoi(db_col_text(s, 0)),
                              "rows", (json_int_t)db_col_int(s, 1), "source", db_col_text(s, 2), "updated_at", db_col_text(s, 3)));
    db_reset(s);
    json_t *out = json_pack("{s:o,s:o}", "items", items, "years", years);
    json_object_set_new(out, "year", year ? json_integer(year) : json_null());
    struct rq_now now;
    rq_now_init(&now);
    json_object_set_new(out, "needed_year", json_integer(rq_calendar_needed_year(&now)));
    reply_json(r, 200, out);
}

void calendar_post(req *r) {
    static const char *const keys[] = {"year", "rows", NULL};
    static const char *const row_keys[] = {"date", "kind", "name", NULL};
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, keys)) return;
    json_t *yv = json_object_get(b, "year"), *rows = json_object_get(b, "rows");
    if (!json_is_integer(yv) || json_integer_value(yv) < 2000 || json_integer_value(yv) > 2100) {
        reply_error(r, 422, "validation_failed", "year", "年份须为 2000–2100 的整数");
        return;
    }
    int year = (int)json_integer_value(yv);
    if (!json_is_array(rows) || json_array_size(rows) == 0 || json_array_size(rows) > 366) {
        reply_error(r, 422, "validation_failed", "rows", "rows 须为该年国务院放假通知的日期列表（1–366 行）");
        return;
    }
    size_t i; json_t *v;
    int seen[366], n = 0;
    json_array_foreach(rows, i, v) {
        const char *field = arena_printf(req_arena(r), "rows[%zu]", i);
        if (!json_is_object(v)) { reply_error(r, 422, "validation_failed", field, "第 %zu 行须为对象 {date, kind, name}", i + 1); return; }
        if (!json_only_keys(r, v, row_keys)) return;
        json_t *nm = json_object_get(v, "name");
        if (nm && !json_is_null(nm) && (!json_is_string(nm) || json_string_length(nm) > 90)) {
            reply_error(r, 422, "validation_failed", field, "第 %zu 行：名称须为不超过 30 字的文本", i + 1);
            return;
        }
        int days;
        const char *msg = cal_check(json_string_value(json_object_get(v, "date")), json_string_value(json_object_get(v, "kind")),
                                    year, &days);
        for (int k = 0; !msg && k < n; k++) if (seen[k] == days) msg = "日期重复";
        if (msg) { reply_error(r, 422, "validation_failed", field, "第 %zu 行：%s", i + 1, msg); return; }
        seen[n++] = days;
    }
    struct rq_now now;
    rq_now_init(&now);
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    int before = year_count(year, NULL);
    year_delete(year);
    bool ok = true;
    json_array_foreach(rows, i, v) {
        db_stmt *s = db_prep(d, "INSERT INTO calendar_days(day, kind, name, source, updated_at) VALUES (?,?,?,'admin',?)");
        json_t *nm = json_object_get(v, "name");
        db_bind_text(s, 1, json_string_value(json_object_get(v, "date")));
        db_bind_text(s, 2, json_string_value(json_object_get(v, "kind")));
        db_bind_text(s, 3, json_is_string(nm) ? json_string_value(nm) : "");
        db_bind_text(s, 4, now.iso);
        if (db_step(s) != DB_DONE) ok = false;
        db_reset(s);
    }
    /* Running deadlines follow the new calendar at once. */
    int recomputed = 0;
    workcal *cal = rq_calendar();
    db_stmt *s = db_prep(d, "SELECT id FROM requests WHERE status IN ('accepted','waiting') AND accepted_day IS NOT NULL");
    int64_t *ids = NULL;
    size_t nids = 0, cap = 0;
    while (db_step(s) == DB_ROW) {
        if (nids == cap) { cap = cap ? cap * 2 : 256; ids = realloc(ids, cap * sizeof *ids); }
        ids[nids++] = db_col_int(s, 0);
    }
    db_reset(s);
    for (size_t k = 0; ok && k < nids; k++) {
        if (rq_store_due(ids[k], cal, &now) < 0) ok = false;
        else recomputed++;
    }
    free(ids);
    workcal_free(cal);
    char ys[8];
    snprintf(ys, sizeof ys, "%d", year);
    if (!ok || rq_audit(r, "calendar.update", "calendar", ys,
                         json_pack("{s:i,s:i,s:I,s:i}", "year", year, "rows_before", before,
                                   "rows_after", (json_int_t)json_array_size(rows), "recomputed", recomputed)) != 0 ||
        db_commit(d) != DB_OK) {
        db_rollback(d);
        reply_error(r, 500, "internal", NULL, "保存节假日安排失败");
        return;
    }
    reply_json(r, 200, json_pack("{s:i,s:I,s:i}", "year", year, "rows", (json_int_t)json_array_size(rows),
                                 "recomputed", recomputed));
}

/* ---- SLA table ---- */

static json_t *sla_json(arena *a, db_stmt *s) {
    return json_pack("{s:I,s:s,s:s?,s:s,s:s?,s:I,s:I,s:I,s:I,s:s,s:s?,s:s}",
        "id", (json_int_t)db_col_int(s, 0), "category", db_col_text(s, 1),
        "category_name", code_name(a, "request_category", db_col_text(s, 1)), "urgency", db_col_text(s, 2),
        "urgency_name", code_name(a, "urgency", db_col_text(s, 2)), "response_hours", (json_int_t)db_col_int(s, 3),
        "conclude_workdays", (json_int_t)db_col_int(s, 4), "extensions", (json_int_t)db_col_int(s, 5),
        "extension_workdays", (json_int_t)db_col_int(s, 6), "effective_from", db_col_text(s, 7),
        "note", db_col_text(s, 8), "source", db_col_text(s, 9));
}

#define SLA_COLS "id, category, urgency, response_hours, conclude_workdays, extensions, extension_workdays, " \
                 "effective_from, note, source "

void sla_list(req *r) {
    struct rq_now now;
    rq_now_init(&now);
    db_stmt *s = db_prep(db_thread(), "SELECT " SLA_COLS ", (effective_from = (SELECT MAX(x.effective_from) FROM sla_rules x "
                                      "WHERE x.category = r.category AND x.urgency = r.urgency AND x.effective_from <= ?)) "
                                      "FROM sla_rules r ORDER BY category, urgency, effective_from");
    db_bind_text(s, 1, now.today_iso);
    json_t *items = json_array();
    while (db_step(s) == DB_ROW) {
        json_t *it = sla_json(req_arena(r), s);
        json_object_set_new(it, "current", json_boolean(db_col_int(s, 10) != 0));
        json_array_append_new(items, it);
    }
    db_reset(s);
    reply_json(r, 200, json_pack("{s:o}", "items", items));
}

/* A new effective-dated row; rows are never edited in place, so the rule a
 * request was accepted under stays on record. */
void sla_post(req *r) {
    static const char *const keys[] = {"category", "urgency", "response_hours", "conclude_workdays", "extensions",
                                       "extension_workdays", "effective_from", "note", NULL};
    arena *a = req_arena(r);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, keys)) return;
    bool bad = false;
    const char *cat = json_str_field(r, b, "category", "诉求类别", 30, &bad);
    const char *urg = bad ? NULL : json_str_field(r, b, "urgency", "紧急程度", 30, &bad);
    const char *from = bad ? NULL : json_str_field(r, b, "effective_from", "生效日期", 10, &bad);
    const char *note = bad ? NULL : json_str_field(r, b, "note", "说明", 200, &bad);
    if (bad) return;
    const char *catc = cat ? code_by_name(a, "request_category", cat) : NULL;
    const char *urgc = urg ? code_by_name(a, "urgency", urg) : NULL;
    if (!catc) { reply_error(r, 422, "validation_failed", "category", "诉求类别无效"); return; }
    if (!urgc) { reply_error(r, 422, "validation_failed", "urgency", "紧急程度无效"); return; }
    int day;
    if (!from || !cdate_iso_to_days(from, &day)) {
        reply_error(r, 422, "validation_failed", "effective_from", "生效日期须为 YYYY-MM-DD");
        return;
    }
    static const struct { const char *key, *label; int64_t lo, hi; } nums[] = {
        {"response_hours", "首次响应时限（小时）", 1, 10000}, {"conclude_workdays", "办结时限（工作日）", 1, 1000},
        {"extensions", "可延期次数", 0, 10}, {"extension_workdays", "每次延期（工作日）", 0, 1000},
    };
    int64_t val[4];
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(b, nums[i].key);
        if (!json_is_integer(v) || json_integer_value(v) < nums[i].lo || json_integer_value(v) > nums[i].hi) {
            reply_error(r, 422, "validation_failed", nums[i].key, "%s须为 %lld–%lld 的整数", nums[i].label,
                        (long long)nums[i].lo, (long long)nums[i].hi);
            return;
        }
        val[i] = json_integer_value(v);
    }
    struct rq_now now;
    rq_now_init(&now);
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    db_stmt *s = db_prep(d, "INSERT INTO sla_rules(category, urgency, response_hours, conclude_workdays, extensions, "
                            "extension_workdays, effective_from, note, source, created_at) VALUES (?,?,?,?,?,?,?,?,'admin',?) "
                            "RETURNING id");
    db_bind_text(s, 1, catc); db_bind_text(s, 2, urgc);
    for (int i = 0; i < 4; i++) db_bind_int(s, 3 + i, val[i]);
    db_bind_text(s, 7, from); db_bind_text(s, 8, note); db_bind_text(s, 9, now.iso);
    int rc = db_step(s);
    int64_t id = rc == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    if (rc == DB_CONSTRAINT) {
        db_rollback(d);
        reply_error(r, 409, "duplicate", "effective_from", "该类别和紧急程度在 %s 已有时限规则", from);
        return;
    }
    char ids[24];
    if (id < 0 || rq_audit(r, "sla.create", "sla", rq_idstr(ids, id),
                            json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "category", catc, "urgency", urgc,
                                      "response_hours", (json_int_t)val[0], "conclude_workdays", (json_int_t)val[1],
                                      "extensions", (json_int_t)val[2], "extension_workdays", (json_int_t)val[3],
                                      "effective_from", from)) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d);
        reply_error(r, 500, "internal", NULL, "保存时限规则失败");
        return;
    }
    s = db_prep(d, "SELECT " SLA_COLS "FROM sla_rules WHERE id = ?");
    db_bind_int(s, 1, id);
    json_t *j = db_step(s) == DB_ROW ? sla_json(a, s) : json_object();
    db_reset(s);
    reply_json(r, 201, j);
}

/* ---- proxy types ---- */

void proxy_types_get(req *r) {
    db *d = db_thread();
    json_t *items = json_array();
    db_stmt *s = db_prep(d, "SELECT code, name FROM codes WHERE tbl = 'proxy_type' ORDER BY sort, code");
    while (db_step(s) == DB_ROW)
        json_array_append_new(items, json_pack("{s:s,s:s,s:[],s:[]}", "code", db_col_text(s, 0), "name", db_col_text(s, 1),
                                               "steps", "materials"));
    db_reset(s);
    size_t i; json_t *it;
    json_array_foreach(items, i, it) {
        const char *code = json_string_value(json_object_get(it, "code"));
        s = db_prep(d, "SELECT seq, name, level, requires_materials, note FROM proxy_steps WHERE type = ? ORDER BY seq");
        db_bind_text(s, 1, code);
        while (db_step(s) == DB_ROW)
            json_array_append_new(json_object_get(it, "steps"), json_pack("{s:I,s:s,s:s,s:b,s:s?}",
                "seq", (json_int_t)db_col_int(s, 0), "name", db_col_text(s, 1), "level", db_col_text(s, 2),
                "requires_materials", db_col_int(s, 3) != 0, "note", db_col_text(s, 4)));
        db_reset(s);
        s = db_prep(d, "SELECT seq, name, required, is_authorization, note FROM proxy_materials WHERE type = ? ORDER BY seq");
        db_bind_text(s, 1, code);
        while (db_step(s) == DB_ROW)
            json_array_append_new(json_object_get(it, "materials"), json_pack("{s:I,s:s,s:b,s:b,s:s?}",
                "seq", (json_int_t)db_col_int(s, 0), "name", db_col_text(s, 1), "required", db_col_int(s, 2) != 0,
                "authorization", db_col_int(s, 3) != 0, "note", db_col_text(s, 4)));
        db_reset(s);
    }
    reply_json(r, 200, json_pack("{s:o}", "items", items));
}

/* ---- PUT /codes/request_category/{code} ---- */

void request_category_put(req *r) {
    static const char *const keys[] = {"name", NULL};
    const char *code = req_param(r, 0);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, keys)) return;
    if (!code || !*code || strlen(code) > 8 ||
        strspn(code, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_") != strlen(code)) {
        reply_error(r, 422, "validation_failed", "code", "代码须为 1–8 位字母、数字或下划线");
        return;
    }
    bool bad = false;
    const char *name = json_str_field(r, b, "name", "名称", 20, &bad);
    if (bad) return;
    if (!name || !*name) { reply_error(r, 422, "validation_failed", "name", "请填写名称"); return; }
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    db_stmt *s = db_prep(d, "SELECT code FROM codes WHERE tbl = 'request_category' AND name = ? AND code <> ?");
    db_bind_text(s, 1, name); db_bind_text(s, 2, code);
    bool dup = db_step(s) == DB_ROW;
    db_reset(s);
    if (dup) { db_rollback(d); reply_error(r, 409, "duplicate", "name", "已有名为“%s”的诉求类别", name); return; }
    const char *before = code_name(req_arena(r), "request_category", code);
    struct rq_now now;
    rq_now_init(&now);
    s = db_prep(d, "INSERT INTO codes(tbl, code, name, sort) VALUES ('request_category', ?, ?, "
                   "(SELECT COALESCE(MAX(sort), 0) + 1 FROM codes WHERE tbl = 'request_category')) "
                   "ON CONFLICT(tbl, code) DO UPDATE SET name = excluded.name");
    db_bind_text(s, 1, code); db_bind_text(s, 2, name);
    int rc1 = db_step(s);
    db_reset(s);
    db_cache_invalidate(d);
    s = db_prep(d, "INSERT INTO code_overrides(tbl, code, name, updated_at, updated_by) VALUES ('request_category', ?,?,?,?) "
                   "ON CONFLICT(tbl, code) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at, "
                   "updated_by = excluded.updated_by");
    db_bind_text(s, 1, code); db_bind_text(s, 2, name); db_bind_text(s, 3, now.iso);
    db_bind_text(s, 4, current_user(r)->username);
    int rc2 = db_step(s);
    db_reset(s);
    json_t *det = json_pack("{s:s,s:s,s:o,s:{s:s}}", "table", "request_category", "code", code,
                            "before", before ? json_pack("{s:s}", "name", before) : json_null(), "after", "name", name);
    char *oid = arena_printf(req_arena(r), "request_category/%s", code);
    int arc = rq_audit(r, "code.update", "code", oid, det);
    if (rc1 != DB_DONE || rc2 != DB_DONE || arc != 0 || db_commit(d) != DB_OK) {
        db_rollback(d);
        reply_error(r, 500, "internal", NULL, "保存代码失败");
        return;
    }
    bool has_sla = db_query_int(d, "SELECT COUNT(*) FROM sla_rules WHERE category = ?", code, 0) > 0;
    reply_json(r, before ? 200 : 201, json_pack("{s:s,s:s,s:s,s:b}", "table", "request_category", "code", code, "name", name,
                                                "has_sla", has_sla));
}
