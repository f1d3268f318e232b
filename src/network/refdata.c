/* Loads the reference data shipped under data/ into the database at init and
 * at every start (upserts: an updated data/ file updates the rows). Regions
 * decide jurisdiction, so a region row is never deleted here; one that left
 * the official list carries valid_to instead. */
#include "network/network.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "io/table_read.h"
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int col_of(const char *const *hdr, int n, const char *name) {
    for (int i = 0; i < n; i++) if (strcmp(hdr[i], name) == 0) return i;
    return -1;
}

static int load_regions(const char *path, char *err, unsigned errcap) {
    char e[256];
    table_reader *t = table_open(path, e, sizeof e);
    if (!t) { snprintf(err, errcap, "%s：%s", path, e); return -1; }
    const char *const *cells; int n, row;
    char *hdr[16]; int nh = 0;
    db *d = db_thread();
    int count = 0, rc;
    int ic = -1, in = -1, il = -1, ip = -1, iv = -1, io = -1;
    while ((rc = table_next(t, &cells, &n, &row, e, sizeof e)) == 1) {
        if (!nh) {
            for (nh = 0; nh < n && nh < 16; nh++) hdr[nh] = strdup(cells[nh]);
            ic = col_of((const char *const *)hdr, nh, "code"); in = col_of((const char *const *)hdr, nh, "name");
            il = col_of((const char *const *)hdr, nh, "level"); ip = col_of((const char *const *)hdr, nh, "parent_code");
            iv = col_of((const char *const *)hdr, nh, "valid_to"); io = col_of((const char *const *)hdr, nh, "note");
            if (ic < 0 || in < 0 || il < 0) { snprintf(err, errcap, "%s：缺少 code/name/level 列", path); rc = -2; break; }
            continue;
        }
        #define CELL(i) ((i) >= 0 && (i) < n && cells[i][0] ? cells[i] : NULL)
        db_stmt *s = db_prep(d, "INSERT INTO regions(code, name, level, parent_code, valid_to, note) VALUES (?,?,?,?,?,?) "
                                "ON CONFLICT(code) DO UPDATE SET name = excluded.name, level = excluded.level, "
                                "parent_code = excluded.parent_code, valid_to = excluded.valid_to, note = excluded.note");
        db_bind_text(s, 1, CELL(ic)); db_bind_text(s, 2, CELL(in)); db_bind_text(s, 3, CELL(il));
        db_bind_text(s, 4, CELL(ip)); db_bind_text(s, 5, CELL(iv)); db_bind_text(s, 6, CELL(io));
        #undef CELL
        int r2 = db_step(s); db_reset(s);
        db_cache_invalidate(d);
        if (r2 != DB_DONE) { snprintf(err, errcap, "%s 第 %d 行：区划写入失败", path, row); rc = -2; break; }
        count++;
    }
    for (int i = 0; i < nh; i++) free(hdr[i]);
    table_close(t);
    if (rc == -1) { snprintf(err, errcap, "%s：%s", path, e); return -1; }
    return rc == -2 ? -1 : count;
}

static int load_codes(const char *path, const char *tbl, char *err, unsigned errcap) {
    char e[256];
    table_reader *t = table_open(path, e, sizeof e);
    if (!t) { snprintf(err, errcap, "%s：%s", path, e); return -1; }
    const char *const *cells; int n, row, rc, count = 0;
    char *hdr[32]; int nh = 0;
    bool named = true;
    db *d = db_thread();
    while ((rc = table_next(t, &cells, &n, &row, e, sizeof e)) == 1) {
        if (!nh) {
            for (nh = 0; nh < n && nh < 32; nh++) hdr[nh] = strdup(cells[nh]);
            if (nh < 2) { snprintf(err, errcap, "%s：至少需要两列", path); rc = -2; break; }
            /* Rule tables (e.g. cause,grade_min,grade_max) have no name column:
             * the first column is the key and every other column goes to extra. */
            named = strcmp(hdr[0], "code") == 0 && strcmp(hdr[1], "name") == 0;
            continue;
        }
        if (n < 2 || !cells[0][0]) continue;
        json_t *extra = json_object();
        for (int i = named ? 2 : 1; i < n && i < nh; i++)
            if (cells[i][0]) json_object_set_new(extra, hdr[i], json_string(cells[i]));
        char *ex = json_object_size(extra) ? json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(extra);
        db_stmt *s = db_prep(d, "INSERT INTO codes(tbl, code, name, extra, sort) VALUES (?,?,?,?,?) "
                                "ON CONFLICT(tbl, code) DO UPDATE SET name = excluded.name, extra = excluded.extra, "
                                "sort = excluded.sort");
        db_bind_text(s, 1, tbl); db_bind_text(s, 2, cells[0]); db_bind_text(s, 3, named ? cells[1] : cells[0]);
        db_bind_text(s, 4, ex); db_bind_int(s, 5, row);
        int r2 = db_step(s); db_reset(s);
        db_cache_invalidate(d);
        free(ex);
        if (r2 != DB_DONE) { snprintf(err, errcap, "%s 第 %d 行：代码写入失败", path, row); rc = -2; break; }
        count++;
    }
    for (int i = 0; i < nh; i++) free(hdr[i]);
    table_close(t);
    if (rc == -1) { snprintf(err, errcap, "%s：%s", path, e); return -1; }
    return rc == -2 ? -1 : count;
}

static int csv_filter(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 4 && strcmp(e->d_name + n - 4, ".csv") == 0;
}

int refdata_load(const char *ref, char *err, unsigned errcap) {
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { snprintf(err, errcap, "数据库忙"); return -1; }
    struct dirent **list = NULL;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/regions", ref);
    int n = scandir(dir, &list, csv_filter, alphasort);
    if (n <= 0) { snprintf(err, errcap, "找不到区划数据目录 %s", dir); db_rollback(d); free(list); return -1; }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char p[1400]; snprintf(p, sizeof p, "%s/%s", dir, list[i]->d_name);
        if (rc == 0 && load_regions(p, err, errcap) < 0) rc = -1;
        free(list[i]);
    }
    free(list);
    snprintf(dir, sizeof dir, "%s/codes", ref);
    n = scandir(dir, &list, csv_filter, alphasort);
    if (n <= 0) { snprintf(err, errcap, "找不到代码表目录 %s", dir); db_rollback(d); free(list); return -1; }
    for (int i = 0; i < n; i++) {
        char p[1400], tbl[256];
        snprintf(p, sizeof p, "%s/%s", dir, list[i]->d_name);
        snprintf(tbl, sizeof tbl, "%.*s", (int)strlen(list[i]->d_name) - 4, list[i]->d_name);
        if (rc == 0 && load_codes(p, tbl, err, errcap) < 0) rc = -1;
        free(list[i]);
    }
    free(list);
    if (rc == 0) {
        /* Every current county, town and village region gets its station. */
        db_stmt *s = db_prep(d, "SELECT code FROM regions WHERE level IN ('county','town','village') "
                                "AND valid_to IS NULL ORDER BY code");
        char codes[4096][13]; int nc = 0;
        while (db_step(s) == DB_ROW && nc < 4096) snprintf(codes[nc++], 13, "%s", db_col_text(s, 0));
        db_reset(s);
        for (int i = 0; i < nc; i++) if (station_ensure(codes[i]) < 0) { rc = -1; snprintf(err, errcap, "创建服务站失败：%s", codes[i]); break; }
    }
    if (rc != 0 || db_commit(d) != DB_OK) { db_rollback(d); return -1; }
    return 0;
}
