/* `vets migrate-db`: a county's SQLite database copied into PostgreSQL (see
 * copy.h). Both sides are first brought to the same schema version by the
 * migrations; then, in one PostgreSQL transaction, every table the two share
 * is copied row by row with its ids unchanged (sealed values are bound to
 * their row ids, the audit chain to its row numbers), in the order the tables
 * were created so references find their rows, a table's references to itself
 * set in a second pass. Identity sequences then continue after the largest id.
 * The source is only read. */
#include "db/copy.h"
#include "db/db_impl.h"
#include "db/migrate.h"
#include "base/log.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 128
#define MAX_TABLES 128
#define BATCH_PARAMS 20000

struct table {
    char name[64];
    int ncols;
    char col[MAX_COLS][64];
    bool self_ref[MAX_COLS];   /* references this same table: set after all rows exist */
    int pk;                    /* column index of the single-column primary key, or -1 */
};

static bool ident_ok(const char *s) {
    if (!*s || strlen(s) >= 64) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')) return false;
    return true;
}

/* The tables of the source, in creation order, with their columns. */
static int source_tables(sqlite3 *h, struct table *t, int max, char *err, unsigned errcap) {
    sqlite3_stmt *st = NULL;
    int n = 0;
    /* The tallies (migration 0005) are not copied: the target counts the
     * persons and categories it received (db_tally_recount). */
    sqlite3_prepare_v2(h, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                          "AND name <> 'schema_migrations' AND name NOT IN ('person_tally', 'category_tally') "
                          "ORDER BY rowid", -1, &st, NULL);
    while (st && sqlite3_step(st) == SQLITE_ROW && n < max) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!ident_ok(name)) { snprintf(err, errcap, "表名无法复制：%s", name); sqlite3_finalize(st); return -1; }
        memset(&t[n], 0, sizeof t[n]);
        snprintf(t[n].name, sizeof t[n].name, "%s", name);
        n++;
    }
    sqlite3_finalize(st);
    for (int i = 0; i < n; i++) {
        char q[200];
        snprintf(q, sizeof q, "SELECT name, pk FROM pragma_table_info('%.63s') ORDER BY cid", t[i].name);
        int npk = 0;
        t[i].pk = -1;
        sqlite3_prepare_v2(h, q, -1, &st, NULL);
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            const char *c = (const char *)sqlite3_column_text(st, 0);
            if (t[i].ncols >= MAX_COLS || !ident_ok(c)) {
                snprintf(err, errcap, "表 %s 的列无法复制", t[i].name); sqlite3_finalize(st); return -1;
            }
            if (sqlite3_column_int(st, 1) > 0) { npk++; t[i].pk = t[i].ncols; }
            snprintf(t[i].col[t[i].ncols++], 64, "%s", c);
        }
        sqlite3_finalize(st);
        if (npk != 1) t[i].pk = -1;
        snprintf(q, sizeof q, "SELECT \"from\" FROM pragma_foreign_key_list('%.63s') WHERE \"table\" = '%.63s'", t[i].name, t[i].name);
        sqlite3_prepare_v2(h, q, -1, &st, NULL);
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            const char *c = (const char *)sqlite3_column_text(st, 0);
            for (int k = 0; k < t[i].ncols; k++) if (strcmp(t[i].col[k], c) == 0) t[i].self_ref[k] = true;
        }
        sqlite3_finalize(st);
        for (int k = 0; k < t[i].ncols; k++)
            if (t[i].self_ref[k] && t[i].pk < 0) {
                snprintf(err, errcap, "表 %s 引用自身但没有单列主键，无法复制", t[i].name); return -1;
            }
    }
    return n;
}

/* Whether the target has table T with every column of it. */
static bool target_has(db *d, const struct table *t) {
    if (!d->ops->has_table(d, t->name)) return false;
    int found = 0;
    db_stmt *s = db_prep(d, "SELECT column_name FROM information_schema.columns "
                            "WHERE table_schema = current_schema() AND table_name = ?");
    db_bind_text(s, 1, t->name);
    while (db_step(s) == DB_ROW) {
        const char *c = db_col_text(s, 0);
        for (int k = 0; k < t->ncols; k++) if (strcmp(t->col[k], c) == 0) found++;
    }
    db_reset(s);
    return found == t->ncols;
}

static char *append(char *s, size_t *len, size_t *cap, const char *add) {
    size_t n = strlen(add);
    if (!s) return NULL;
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap) *cap *= 2;
        char *b = realloc(s, *cap);
        if (!b) { free(s); return NULL; }
        s = b;
    }
    memcpy(s + *len, add, n + 1);
    *len += n;
    return s;
}

/* INSERT INTO t(cols) VALUES (?,…),(?,…) for ROWS rows, interned. */
static const char *insert_sql(const struct table *t, int rows) {
    size_t len = 0, cap = 1024;
    char *s = malloc(cap);
    if (s) s[0] = 0;
    char part[96];
    snprintf(part, sizeof part, "INSERT INTO %s(", t->name);
    s = append(s, &len, &cap, part);
    for (int k = 0; k < t->ncols; k++) {
        snprintf(part, sizeof part, "%s\"%s\"", k ? ", " : "", t->col[k]);
        s = append(s, &len, &cap, part);
    }
    s = append(s, &len, &cap, ") VALUES ");
    for (int r = 0; r < rows; r++) {
        s = append(s, &len, &cap, r ? ",(" : "(");
        for (int k = 0; k < t->ncols; k++) s = append(s, &len, &cap, k ? ",?" : "?");
        s = append(s, &len, &cap, ")");
    }
    if (!s) return NULL;
    const char *in = db_intern(s);
    free(s);
    return in;
}

static void bind_value(db_stmt *s, int i, sqlite3_stmt *src, int k) {
    char num[40];
    switch (sqlite3_column_type(src, k)) {
    case SQLITE_NULL: db_bind_null(s, i); break;
    case SQLITE_INTEGER: db_bind_int(s, i, sqlite3_column_int64(src, k)); break;
    case SQLITE_FLOAT: snprintf(num, sizeof num, "%.17g", sqlite3_column_double(src, k)); db_bind_text(s, i, num); break;
    case SQLITE_BLOB: db_bind_blob(s, i, sqlite3_column_blob(src, k), sqlite3_column_bytes(src, k)); break;
    default: db_bind_text(s, i, (const char *)sqlite3_column_text(src, k)); break;
    }
}

/* Copies table T; returns the number of rows or -1. */
static int64_t copy_table(sqlite3 *h, db *d, const struct table *t, char *err, unsigned errcap) {
    int batch = BATCH_PARAMS / t->ncols;
    if (batch < 1) batch = 1;
    if (batch > 200) batch = 200;
    const char *many = insert_sql(t, batch), *one = insert_sql(t, 1);
    if (!many || !one) { snprintf(err, errcap, "内存不足"); return -1; }
    char q[4200];
    size_t off = (size_t)snprintf(q, sizeof q, "SELECT ");
    for (int k = 0; k < t->ncols; k++) off += (size_t)snprintf(q + off, sizeof q - off, "%s\"%s\"", k ? ", " : "", t->col[k]);
    snprintf(q + off, sizeof q - off, " FROM \"%s\" ORDER BY %s", t->name, t->pk >= 0 ? t->col[t->pk] : "rowid");
    sqlite3_stmt *src = NULL;
    if (sqlite3_prepare_v2(h, q, -1, &src, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "读取表 %s 失败：%s", t->name, sqlite3_errmsg(h)); return -1;
    }
    int64_t rows = 0;
    int in_batch = 0;
    db_stmt *s = db_prep(d, many);
    int rc = SQLITE_ROW;
    /* Rows go out in batches of BATCH; the rest one by one. Rows are read
     * ahead into the batch statement's bindings, so a short last batch is
     * rebound to the single-row statement from a second pass over the tail. */
    int64_t batch_start = 0;
    while ((rc = sqlite3_step(src)) == SQLITE_ROW) {
        for (int k = 0; k < t->ncols; k++) {
            if (t->self_ref[k]) db_bind_null(s, in_batch * t->ncols + k + 1);
            else bind_value(s, in_batch * t->ncols + k + 1, src, k);
        }
        rows++;
        if (++in_batch == batch) {
            int r = db_step(s);
            db_reset(s);
            if (r != DB_DONE) { snprintf(err, errcap, "写入表 %s 失败：%s", t->name, db_errmsg(d)); sqlite3_finalize(src); return -1; }
            in_batch = 0;
            batch_start = rows;
        }
    }
    db_reset(s);
    if (rc != SQLITE_DONE) { snprintf(err, errcap, "读取表 %s 失败：%s", t->name, sqlite3_errmsg(h)); sqlite3_finalize(src); return -1; }
    if (in_batch) {
        /* the tail: read again from the first row not yet written */
        sqlite3_reset(src);
        int64_t i = 0;
        while (sqlite3_step(src) == SQLITE_ROW) {
            if (i++ < batch_start) continue;
            db_stmt *o = db_prep(d, one);
            for (int k = 0; k < t->ncols; k++) {
                if (t->self_ref[k]) db_bind_null(o, k + 1);
                else bind_value(o, k + 1, src, k);
            }
            int r = db_step(o);
            db_reset(o);
            if (r != DB_DONE) { snprintf(err, errcap, "写入表 %s 失败：%s", t->name, db_errmsg(d)); sqlite3_finalize(src); return -1; }
        }
    }
    /* References to the same table, now that every row exists. */
    for (int k = 0; k < t->ncols; k++) {
        if (!t->self_ref[k]) continue;
        char u[300];
        snprintf(u, sizeof u, "UPDATE %s SET \"%s\" = ? WHERE \"%s\" = ?", t->name, t->col[k], t->col[t->pk]);
        const char *upd = db_intern(u);
        sqlite3_reset(src);
        while (sqlite3_step(src) == SQLITE_ROW) {
            if (sqlite3_column_type(src, k) == SQLITE_NULL) continue;
            db_stmt *o = db_prep(d, upd);
            bind_value(o, 1, src, k);
            bind_value(o, 2, src, t->pk);
            int r = db_step(o);
            db_reset(o);
            if (r != DB_DONE) { snprintf(err, errcap, "写入表 %s 失败：%s", t->name, db_errmsg(d)); sqlite3_finalize(src); return -1; }
        }
    }
    sqlite3_finalize(src);
    return rows;
}

static int64_t count_rows(db *d, const char *table) {
    char q[120];
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM %.63s", table);
    return db_query_int(d, db_intern(q), NULL, -1);
}

/* Identity columns continue after the largest copied value. */
static const char reset_identities[] =
    "DO $vets$\n"
    "DECLARE r record;\n"
    "BEGIN\n"
    "  FOR r IN SELECT c.relname AS t, a.attname AS col FROM pg_attribute a\n"
    "           JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace\n"
    "           WHERE a.attidentity <> '' AND n.nspname = current_schema() LOOP\n"
    "    EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, %L), COALESCE((SELECT MAX(%I) FROM %I), 0) + 1, false)',\n"
    "                   r.t, r.col, r.col, r.t);\n"
    "  END LOOP;\n"
    "END\n"
    "$vets$";

int db_copy_sqlite(const char *sqlite_path, db *d, FILE *progress, char *err, unsigned errcap) {
    if (d->ops != &db_pg_ops) { snprintf(err, errcap, "目标须为 PostgreSQL 数据库"); return -1; }
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(sqlite_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "无法打开 %s：%s", sqlite_path, h ? sqlite3_errmsg(h) : "?");
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 10000);
    static struct table tables[MAX_TABLES];
    int n = -1, rc = -1;
    /* One read transaction: a consistent snapshot even if a server still writes. */
    sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
    n = source_tables(h, tables, MAX_TABLES, err, errcap);
    if (n < 0) goto out;
    if (db_begin(d) != DB_OK || db_lock_serial(d, "migrate") != DB_OK) { snprintf(err, errcap, "目标数据库忙：%s", db_errmsg(d)); goto fail; }
    /* The target must hold no one's data yet: only what its migrations wrote. */
    static const char *const must_be_empty[] = {"users", "audit", "persons", "requests"};
    for (size_t i = 0; i < sizeof must_be_empty / sizeof *must_be_empty; i++) {
        if (!d->ops->has_table(d, must_be_empty[i])) continue;
        if (count_rows(d, must_be_empty[i]) != 0) {
            snprintf(err, errcap, "目标数据库已有数据（表 %s 非空）：请用一个新建的空数据库", must_be_empty[i]);
            goto fail;
        }
    }
    for (int i = 0; i < n; i++)
        if (!target_has(d, &tables[i])) {
            snprintf(err, errcap, "目标数据库缺少表 %s 或其中的列：两边的数据库版本不一致", tables[i].name);
            goto fail;
        }
    /* Rows the migrations wrote (roles, default settings) give way to the source's. */
    for (int i = n - 1; i >= 0; i--) {
        char q[120];
        snprintf(q, sizeof q, "DELETE FROM %.63s", tables[i].name);
        if (db_exec(d, q) != DB_OK) { snprintf(err, errcap, "清空表 %s 失败：%s", tables[i].name, db_errmsg(d)); goto fail; }
    }
    /* The tallies are counted once at the end, not row by row (tally.c). */
    int held = db_tally_hold(d);
    if (held < 0) { snprintf(err, errcap, "准备计数表失败：%s", db_errmsg(d)); goto fail; }
    for (int i = 0; i < n; i++) {
        int64_t rows = copy_table(h, d, &tables[i], err, errcap);
        if (rows < 0) goto fail;
        if (count_rows(d, tables[i].name) != rows) { snprintf(err, errcap, "表 %s 复制后行数不符", tables[i].name); goto fail; }
        if (progress) fprintf(progress, "  %-24s %lld 行\n", tables[i].name, (long long)rows);
    }
    if (db_tally_recount(d, held) != 0) { snprintf(err, errcap, "重新计数失败：%s", db_errmsg(d)); goto fail; }
    if (db_exec(d, reset_identities) != DB_OK) { snprintf(err, errcap, "设置序列失败：%s", db_errmsg(d)); goto fail; }
    if (db_commit(d) != DB_OK) { snprintf(err, errcap, "提交失败：%s", db_errmsg(d)); goto out; }
    rc = n;
    goto out;
fail:
    db_rollback(d);
out:
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(h);
    return rc;
}
