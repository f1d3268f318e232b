/* Export of the person list to .xlsx with the same filters as the list.
 * Jurisdiction applies (the filter includes it), ID numbers and bank accounts
 * are masked unless the role may export in full and asked for it, and the
 * export is audited with its row count. Rows are streamed to a constant-memory
 * sheet in the data folder's tmp/ and the file is sent and removed; their
 * categories are read for 500 persons at a time (flush_chunk). */
#include "registry/internal.h"
#include "io/xlsx_write.h"
#include "network/network.h"
#include <pthread.h>
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

/* The categories column, a chunk of persons at a time: one statement for
 * CHUNK persons instead of one per person (on PostgreSQL each statement is a
 * round trip: 20 000 persons took 3.4 s that way, 0.9 s now). Its SQL has
 * CHUNK placeholders; a short last chunk binds 0, which no person has. A
 * category without a name in the code table shows its code. */
enum { CHUNK = 500, MAX_COLS = 80 };
static char cats_sql[CHUNK * 2 + 512];
static void build_cats_sql(void) {
    size_t n = (size_t)snprintf(cats_sql, sizeof cats_sql,
        "SELECT c.person_id, IFNULL(k.name, c.category) FROM person_categories c LEFT JOIN codes k ON k.tbl = 'person_category' "
        "AND k.code = c.category WHERE c.valid_to IS NULL AND c.person_id IN (?");
    for (int i = 1; i < CHUNK; i++) n += (size_t)snprintf(cats_sql + n, sizeof cats_sql - n, ",?");
    snprintf(cats_sql + n, sizeof cats_sql - n, ") ORDER BY c.person_id, c.id");
}

struct chunk_row { int64_t id; int k; const char *cells[MAX_COLS]; };
struct id_slot { int64_t id; int row; };
static int slot_cmp(const void *a, const void *b) {
    int64_t x = ((const struct id_slot *)a)->id, y = ((const struct id_slot *)b)->id;
    return x < y ? -1 : x > y;
}

/* Fills the categories cell (index CAT) of the N rows, then writes them in
 * their order. Returns 0, or -1 when the statement failed. */
static int flush_chunk(xlsx_out *x, arena *ra, struct chunk_row *rows, int n, int cat) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build_cats_sql);
    struct id_slot slots[CHUNK];
    for (int i = 0; i < n; i++) { slots[i] = (struct id_slot){rows[i].id, i}; rows[i].cells[cat] = ""; }
    qsort(slots, (size_t)n, sizeof *slots, slot_cmp);
    db_stmt *c = db_prep(db_thread(), cats_sql);
    for (int i = 0; i < CHUNK; i++) db_bind_int(c, i + 1, i < n ? rows[i].id : 0);
    int rc;
    while ((rc = db_step(c)) == DB_ROW) {
        struct id_slot key = {db_col_int(c, 0), 0}, *hit = bsearch(&key, slots, (size_t)n, sizeof *slots, slot_cmp);
        const char *name = db_col_text(c, 1);
        if (!hit || !name) continue;
        const char *had = rows[hit->row].cells[cat];
        rows[hit->row].cells[cat] = arena_printf(ra, "%s%s%s", had, *had ? "、" : "", name);
    }
    db_reset(c);
    for (int i = 0; i < n; i++) xlsx_out_row(x, rows[i].cells, rows[i].k, NULL);
    return rc == DB_DONE ? 0 : -1;
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
    const char *names[MAX_COLS]; double widths[MAX_COLS]; int n = 0;
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
        /* Rows wait in chunks for their categories (flush_chunk); their
         * strings live in the chunk's arena, freed once it is written. */
        struct chunk_row *chunk = malloc(CHUNK * sizeof *chunk);
        if (!chunk) { db_reset(s); xlsx_out_close(x); unlink(path); reply_error(r, 500, "internal", NULL, "内存不足"); return; }
        int nchunk = 0, cat = -1;
        arena *ra = arena_new(65536);
        int rc;
        while ((rc = db_step(s)) == DB_ROW) {
            struct chunk_row *row = &chunk[nchunk++];
            const char **cells = row->cells; int k = 0;
            row->id = db_col_int(s, 0);
            cells[k++] = arena_printf(ra, "%lld", (long long)row->id);
            const char *region = NULL;
            for (size_t i = 0; i < person_nfields; i++) {
                const struct pfield *pf = &person_fields[i];
                const char *v = db_col_text(s, (int)i + 1);
                if (v && (pf->flags & FF_SENSITIVE)) {
                    /* A sealed value that does not open is said so, never left blank. */
                    const char *o = person_unseal(ra, pf, v, db_col_text(s, (int)person_nfields + 2), row->id);
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
            cat = k;
            cells[k++] = "";   /* the categories: flush_chunk */
            cells[k++] = missing;
            row->k = k;
            rows++;
            if (nchunk == CHUNK) {
                if (flush_chunk(x, ra, chunk, nchunk, cat) != 0) { rc = DB_ERROR; break; }
                nchunk = 0;
                arena_free(ra); ra = arena_new(65536);
            }
        }
        if (rc == DB_DONE && nchunk && flush_chunk(x, ra, chunk, nchunk, cat) != 0) rc = DB_ERROR;
        read_failed = rc != DB_DONE;
        db_reset(s);
        arena_free(ra);
        free(chunk);
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
