/* Export of the person list to .xlsx with the same filters as the list.
 * Jurisdiction applies (the filter includes it), ID numbers and bank accounts
 * are masked unless the role may export in full and asked for it, and the
 * export is audited with its row count. Rows are streamed to a constant-memory
 * sheet in the data folder's tmp/ and the file is sent and removed. */
#include "registry/internal.h"
#include "io/xlsx_write.h"
#include "network/network.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A temporary file in the data folder's tmp/ (owner only, same disk as the
 * database), not in the shared /tmp: exports hold personal data, and a
 * million rows would not fit a small tmpfs. */
char *registry_tmp_path(arena *a, const char *what, const char *rid) {
    const char *file = db_get_config()->path, *slash = strrchr(file, '/');
    if (!slash) return arena_printf(a, "tmp/vets-%s-%s.xlsx", what, rid);
    return arena_printf(a, "%.*s/tmp/vets-%s-%s.xlsx", (int)(slash - file), file, what, rid);
}

void persons_export(req *r) {
    struct pfilter f;
    if (!person_filter_parse(r, &f)) return;
    user_ctx *u = current_user(r);
    bool full = req_query_int(r, "full", 0, 0, 1) == 1;
    if (full && !user_can(u, "person.export_full")) {
        audit_event(r, "access.denied", "route", "persons.export.full", "denied", NULL);
        reply_error(r, 403, "forbidden", "full", "没有导出完整证件号码的权限");
        return;
    }
    arena *a = req_arena(r);
    const char *names[80]; double widths[80]; int n = 0;
    names[n] = "档案编号"; widths[n++] = 10;
    for (size_t i = 0; i < person_nfields; i++) { names[n] = person_fields[i].label; widths[n++] = person_fields[i].type == FT_IDNUM ? 22 : 14; }
    names[n] = "镇（街道）"; widths[n++] = 14;
    names[n] = "优抚类别"; widths[n++] = 24;
    names[n] = "建档缺项"; widths[n++] = 30;
    char *path = registry_tmp_path(a, "export", req_id(r));
    xlsx_out *x = xlsx_out_open(path, "人员档案");
    if (!x) { reply_error(r, 500, "internal", NULL, "生成导出文件失败"); return; }
    xlsx_out_header(x, names, n, widths);
    int64_t rows = 0;
    bool read_failed = false;   /* a stream can fail half way: never send a short file as complete */
    if (!f.empty) {
        /* Column list from the field table, then the extras. */
        char *cols = arena_strdup(a, "SELECT p.id");
        for (size_t i = 0; i < person_nfields; i++) cols = arena_printf(a, "%s, p.%s", cols, person_fields[i].column);
        cols = arena_printf(a, "%s, p.missing_fields, p.id_hash", cols);
        /* Streamed: on PostgreSQL a province does not fit the node's memory. */
        db_stmt *s = db_prep_stream(db_thread(), person_filter_sql(a, &f, cols, arena_printf(a, "ORDER BY %s", f.order)));
        person_filter_bind(s, &f);
        arena *ra = arena_new(8192);
        int rc;
        while ((rc = db_step(s)) == DB_ROW) {
            if ((rows & 255) == 255) { arena_free(ra); ra = arena_new(8192); }
            const char *cells[80]; int k = 0;
            cells[k++] = arena_printf(ra, "%lld", (long long)db_col_int(s, 0));
            const char *region = NULL;
            for (size_t i = 0; i < person_nfields; i++) {
                const struct pfield *pf = &person_fields[i];
                const char *v = db_col_text(s, (int)i + 1);
                if (v && (pf->flags & FF_SENSITIVE)) {
                    /* A sealed value that does not open is said so, never left blank. */
                    const char *o = person_unseal(ra, pf, v, db_col_text(s, (int)person_nfields + 2), db_col_int(s, 0));
                    v = !o ? "（加密数据校验失败）" : full ? o : mask_value(ra, pf->type, o);
                }
                else if (v && pf->type == FT_CODE) { const char *nm = code_name(ra, pf->codes, v); if (nm) v = nm; }
                else if (v && pf->type == FT_REGION) { region = arena_strdup(ra, v); const char *nm = region_name(ra, v); if (nm) v = nm; }
                cells[k++] = v ? arena_strdup(ra, v) : "";
            }
            char town[13]; snprintf(town, sizeof town, "%.9s000", region ? region : "");
            const char *tn = region ? region_name(ra, town) : NULL;
            cells[k++] = tn ? tn : "";
            const char *miss = db_col_text(s, (int)person_nfields + 1);
            char *missing = arena_strdup(ra, "");
            if (miss && *miss) {
                char *m = arena_strdup(ra, miss);
                for (char *sv = NULL, *t = strtok_r(m, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
                    int fi = pfield_index(t);
                    missing = arena_printf(ra, "%s%s%s", missing, *missing ? "、" : "", fi >= 0 ? person_fields[fi].label : "优抚类别");
                }
            }
            /* Categories: a second cursor on another statement. */
            char *cats = arena_strdup(ra, "");
            db_stmt *c = db_prep(db_thread(), "SELECT k.name FROM person_categories c LEFT JOIN codes k ON k.tbl = 'person_category' "
                                              "AND k.code = c.category WHERE c.person_id = ? AND c.valid_to IS NULL ORDER BY c.id");
            db_bind_int(c, 1, db_col_int(s, 0));
            while (db_step(c) == DB_ROW) cats = arena_printf(ra, "%s%s%s", cats, *cats ? "、" : "", db_col_text(c, 0));
            db_reset(c);
            cells[k++] = cats;
            cells[k++] = missing;
            xlsx_out_row(x, cells, k, NULL);
            rows++;
        }
        read_failed = rc != DB_DONE;
        db_reset(s);
        arena_free(ra);
    }
    if (xlsx_out_close(x) != 0 || read_failed) { unlink(path); reply_error(r, 500, "internal", NULL, "生成导出文件失败"); return; }
    const char *q = req_query(r, "q"), *region = req_query(r, "region"), *cat = req_query(r, "category");
    if (audit_event(r, "person.export", "person", NULL, "ok",
                  json_pack("{s:I,s:b,s:s?,s:s?,s:s?}", "rows", (json_int_t)rows, "full", full,
                            "q", q && *q ? "(有检索词)" : NULL, "region", region, "category", cat)) != 0) {
        unlink(path); reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return;
    }
    reply_file(r, path, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "人员档案导出.xlsx", true);
    reply_header(r, "X-Export-Rows", arena_printf(a, "%lld", (long long)rows));
}
