/* PostgreSQL backend of the storage interface (see db.h), over libpq.
 *
 * One connection per thread is the pool: db_thread() gives each HTTP worker
 * and background thread its own, opened on first use. A connection found
 * broken outside a transaction is reopened (and a statement that failed with
 * it is sent once more); inside a transaction the transaction fails and the
 * next one reconnects. A multi-host URL with target_session_attrs=read-write
 * lets libpq find the primary after a failover.
 *
 * Statements are translated from the SQLite dialect once (pg_sql.h), prepared
 * on the connection at first use and cached by the SQL literal's address as in
 * db_sqlite.c. Parameters travel untyped as text (blobs binary) so PostgreSQL
 * types them from context, like SQLite's dynamic typing. Results are read whole
 * (modules interleave statements while iterating, which libpq's single-row
 * mode would forbid); booleans read as 1/0, bytea as its bytes.
 *
 * Statements opened with db_prep_stream (results too big for memory: an
 * export of a province) run as a cursor instead: DECLARE … CURSOR WITH HOLD,
 * then FETCH of STREAM_BATCH rows at a time, so the node holds one batch.
 * WITH HOLD, because the caller may begin and commit transactions between
 * steps (and outside a transaction a cursor without it would end at once);
 * PostgreSQL then keeps the rows on its side (work_mem, then temp files).
 * Other statements may run between the fetches, as with a whole result. The
 * cursor is closed after the last batch, or by db_reset in the middle; when
 * the connection cannot take the CLOSE (a failed transaction), it is closed
 * after the rollback, or before the statement is declared again.
 *
 * Transactions run at READ COMMITTED: rows being changed are locked as they
 * are written, version checks (`WHERE version = ?`) refuse the loser, and the
 * sections that read a global sequence before writing (the audit chain) take
 * db_lock_serial. Errors map as in SQLite: class 23 → DB_CONSTRAINT,
 * serialisation failures and deadlocks → DB_BUSY. */
#include "db/db_impl.h"
#include "db/pg_sql.h"
#include "base/log.h"
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STMT_CACHE 1024
#define BOOLOID 16
#define BYTEAOID 17
#define TEXTOID 25
#define FLOAT4OID 700
#define FLOAT8OID 701
#define NUMERICOID 1700
#define MAX_HELD 16
#define STREAM_BATCH 1000      /* rows per FETCH of a streamed statement */
#define MAX_PENDING 8          /* cursors waiting for a connection that can close them */

typedef struct pg_stmt {
    struct db_stmt base;
    pg_sql tr;
    char name[16];
    unsigned gen;              /* connection generation it was prepared on (0: not yet) */
    char **val;                /* bound values, tr.nparams of them (NULL: SQL NULL) */
    int *len, *fmt;
    bool *owned;
    char (*num)[24];           /* text of bound integers */
    PGresult *res;
    int row, nrows;
    bool executed;
    char **conv;               /* per column of the current row: decoded bytea */
    int nconv;
    /* Streaming (db_prep_stream): the cursor named cur_name. */
    bool stream;
    int cur;                   /* 0: none, 1: open, 2: may be open (CLOSE failed or deferred) */
    unsigned cur_gen;          /* connection generation it was declared on */
    bool cur_end;              /* the last batch has been fetched */
    char cur_name[24];
    char *decl;                /* DECLARE … FOR <tr.sql> (malloc, made at first use) */
} pg_stmt;

struct cache_entry { const char *key; pg_stmt *stmt; };

typedef struct pg_db {
    struct db base;
    PGconn *conn;
    char url[1024];
    unsigned gen;              /* bumped at every (re)connection */
    bool open_tx;              /* a BEGIN on this connection awaits its COMMIT/ROLLBACK */
    int names;
    int changes;
    time_t last_fail_log;
    char err[512];
    int64_t held[MAX_HELD];    /* session advisory locks held on this connection */
    int nheld;
    struct pg_stmt *pending[MAX_PENDING];   /* cursors left open by a reset in a failed transaction */
    int npending;
    bool closing;              /* pg_close: statements are freed, no more round trips */
    struct cache_entry cache[STMT_CACHE];
} pg_db;

#define PD(d) ((pg_db *)(d))
#define PS(s) ((pg_stmt *)(s))

static void quiet_notice(void *arg, const char *msg) { (void)arg; log_msg(LOG_DEBUG, NULL, "PostgreSQL: %s", msg); }

static void set_err(pg_db *d, const char *msg) {
    snprintf(d->err, sizeof d->err, "%s", msg && *msg ? msg : "PostgreSQL 连接异常");
    size_t n = strlen(d->err);
    while (n && (d->err[n - 1] == '\n' || d->err[n - 1] == ' ')) d->err[--n] = 0;
}

static bool connect_now(pg_db *d) {
    if (d->conn) PQfinish(d->conn);
    /* Later keywords win, and the URL is expanded in place of dbname: what the
     * URL says overrides these defaults. */
    const char *keys[] = {"fallback_application_name", "client_encoding", "connect_timeout", "dbname", NULL};
    const char *vals[] = {"vets", "UTF8", "10", d->url, NULL};
    d->conn = PQconnectdbParams(keys, vals, 1);
    d->gen++;
    d->nheld = 0;
    d->open_tx = false;
    if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
        set_err(d, d->conn ? PQerrorMessage(d->conn) : "内存不足");
        return false;
    }
    PQsetNoticeProcessor(d->conn, quiet_notice, NULL);
    return true;
}

/* A usable connection: reopened if broken, unless a transaction was running on it. */
static bool ensure_conn(pg_db *d) {
    if (d->conn && PQstatus(d->conn) == CONNECTION_OK) return true;
    if (d->open_tx) { set_err(d, "PostgreSQL 连接在事务中断开"); return false; }
    if (connect_now(d)) { log_info(NULL, "PostgreSQL 已重新连接"); return true; }
    time_t now = time(NULL);
    if (now - d->last_fail_log >= 10) { log_error(NULL, "PostgreSQL 连接失败：%s", d->err); d->last_fail_log = now; }
    return false;
}

static pg_db *new_db(const db_config *cfg) {
    pg_db *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->base.ops = &db_pg_ops;
    snprintf(d->url, sizeof d->url, "%s", cfg->url);
    return d;
}

static void pg_close(db *bd);

static db *pg_open(const db_config *cfg, char *err, unsigned errcap) {
    pg_db *d = new_db(cfg);
    if (!d) { snprintf(err, errcap, "内存不足"); return NULL; }
    if (!connect_now(d)) {
        snprintf(err, errcap, "无法连接 PostgreSQL：%s", d->err);
        pg_close(&d->base);
        return NULL;
    }
    return &d->base;
}

/* For threads started while the database is down: a handle that connects at
 * its first statement instead of failing the thread. */
db *db_pg_open_lazy(const db_config *cfg) {
    pg_db *d = new_db(cfg);
    return d ? &d->base : NULL;
}

static void clear_conv(pg_stmt *s) {
    for (int i = 0; i < s->nconv; i++) if (s->conv[i]) { PQfreemem(s->conv[i]); s->conv[i] = NULL; }
}

static void clear_binds(pg_stmt *s) {
    for (int i = 0; i < s->tr.nparams; i++) {
        if (s->owned[i]) free(s->val[i]);
        s->val[i] = NULL; s->owned[i] = false; s->len[i] = 0; s->fmt[i] = 0;
    }
}

static void close_cursor(pg_db *d, pg_stmt *s);

static void pg_reset(db_stmt *bs) {
    pg_stmt *s = PS(bs);
    if (s->cur) close_cursor(PD(bs->owner), s);
    s->cur_end = false;
    clear_conv(s);
    if (s->res) { PQclear(s->res); s->res = NULL; }
    s->row = s->nrows = 0;
    s->executed = false;
    clear_binds(s);
}

static void free_stmt(pg_stmt *s) {
    pg_reset(&s->base);
    free(s->conv);
    free(s->val); free(s->len); free(s->fmt); free(s->owned); free(s->num);
    free(s->decl);
    pg_sql_free(&s->tr);
    free(s);
}

static void pg_close(db *bd) {
    pg_db *d = PD(bd);
    d->closing = true;   /* the connection's cursors end with it */
    for (int i = 0; i < STMT_CACHE; i++) if (d->cache[i].stmt) free_stmt(d->cache[i].stmt);
    if (d->conn) PQfinish(d->conn);
    free(d);
}

static pg_stmt *new_stmt(pg_db *d, const char *sql) {
    pg_stmt *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (pg_translate(sql, &s->tr) != 0) { free(s); return NULL; }
    size_t n = (size_t)s->tr.nparams + 1;
    s->val = calloc(n, sizeof *s->val);
    s->len = calloc(n, sizeof *s->len);
    s->fmt = calloc(n, sizeof *s->fmt);
    s->owned = calloc(n, sizeof *s->owned);
    s->num = calloc(n, sizeof *s->num);
    if (!s->val || !s->len || !s->fmt || !s->owned || !s->num) { free_stmt(s); return NULL; }
    s->base.owner = &d->base;
    snprintf(s->name, sizeof s->name, "v%d", ++d->names);
    return s;
}

static db_stmt *pg_prep(db *bd, const char *sql) {
    pg_db *d = PD(bd);
    size_t h = ((uintptr_t)sql >> 3) % STMT_CACHE;
    for (size_t n = 0; n < STMT_CACHE; n++, h = (h + 1) % STMT_CACHE) {
        struct cache_entry *e = &d->cache[h];
        if (e->key == sql) { pg_reset(&e->stmt->base); e->stmt->stream = false; return &e->stmt->base; }
        if (!e->key) {
            pg_stmt *s = new_stmt(d, sql);
            if (!s) { log_error(NULL, "SQL translation failed (out of memory) — %.200s", sql); return NULL; }
            e->key = sql; e->stmt = s;
            return &s->base;
        }
    }
    log_error(NULL, "statement cache full");
    abort();
}

static bool slot(pg_stmt *s, int i) {
    if (i < 1 || i > s->tr.nparams) return false;
    if (s->owned[i - 1]) free(s->val[i - 1]);
    s->val[i - 1] = NULL; s->owned[i - 1] = false; s->len[i - 1] = 0; s->fmt[i - 1] = 0;
    return true;
}

static void pg_bind_text(db_stmt *bs, int i, const char *v) {
    pg_stmt *s = PS(bs);
    if (!slot(s, i) || !v) return;
    s->val[i - 1] = strdup(v);
    s->owned[i - 1] = s->val[i - 1] != NULL;
}
static void pg_bind_int(db_stmt *bs, int i, int64_t v) {
    pg_stmt *s = PS(bs);
    if (!slot(s, i)) return;
    snprintf(s->num[i - 1], sizeof s->num[i - 1], "%lld", (long long)v);
    s->val[i - 1] = s->num[i - 1];
}
static void pg_bind_null(db_stmt *bs, int i) { slot(PS(bs), i); }
static void pg_bind_blob(db_stmt *bs, int i, const void *p, int n) {
    pg_stmt *s = PS(bs);
    if (!slot(s, i)) return;
    char *c = malloc(n > 0 ? (size_t)n : 1);
    if (!c) return;
    if (n > 0) memcpy(c, p, (size_t)n);
    s->val[i - 1] = c; s->owned[i - 1] = true; s->len[i - 1] = n; s->fmt[i - 1] = 1;
}

static int map_error(pg_db *d, const PGresult *r, const char *sql) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    set_err(d, r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(d->conn));
    if (state && strncmp(state, "23", 2) == 0) {
        log_msg(LOG_DEBUG, NULL, "SQL constraint: %s — %.200s", d->err, sql);
        return DB_CONSTRAINT;
    }
    if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)) {
        log_warn(NULL, "SQL busy: %s — %.200s", d->err, sql);
        return DB_BUSY;
    }
    log_error(NULL, "SQL step failed: %s — %.200s", d->err, sql);
    return DB_ERROR;
}

static bool prepare(pg_db *d, pg_stmt *s) {
    if (s->gen == d->gen) return true;
    int total = s->tr.nparams + s->tr.nshadow;
    unsigned int types[total > 0 ? total : 1];
    /* Untyped: PostgreSQL infers from context. A parameter that only appears in
     * IS NULL tests has no context: text. The hidden NULL-ness carriers: text. */
    for (int i = 0; i < total; i++) types[i] = i >= s->tr.nparams || s->tr.text_only[i] ? TEXTOID : 0;
    PGresult *r = PQprepare(d->conn, s->name, s->tr.sql, total, total ? types : NULL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (ok) s->gen = d->gen;
    else map_error(d, r, s->tr.sql);
    PQclear(r);
    return ok;
}

static void count_changes(pg_db *d, const PGresult *r) {
    const char *cs = PQcmdStatus((PGresult *)r);
    if (strncmp(cs, "INSERT", 6) == 0 || strncmp(cs, "UPDATE", 6) == 0 || strncmp(cs, "DELETE", 6) == 0 ||
        strncmp(cs, "MERGE", 5) == 0)
        d->changes = atoi(PQcmdTuples((PGresult *)r));
}

/* Takes a result with rows as the statement's current one: DB_ROW, or
 * DB_DONE when it has none. */
static int take_rows(pg_stmt *s, PGresult *r) {
    s->nrows = PQntuples(r);
    if (s->nrows == 0) { PQclear(r); return DB_DONE; }
    s->res = r; s->row = 0;
    int nf = PQnfields(r);
    if (nf > s->nconv) {
        char **c = realloc(s->conv, sizeof *c * (size_t)nf);
        if (!c) { PQclear(r); s->res = NULL; return DB_ERROR; }
        for (int i = s->nconv; i < nf; i++) c[i] = NULL;
        s->conv = c; s->nconv = nf;
    }
    return DB_ROW;
}

/* ---- streamed statements: a cursor, fetched in batches ---- */

static void unpend(pg_db *d, pg_stmt *s) {
    for (int i = 0; i < d->npending; i++)
        if (d->pending[i] == s) { d->pending[i] = d->pending[--d->npending]; return; }
}

/* Closes the statement's cursor now if the connection can take it, else
 * leaves it for later (pending). A cursor declared in a transaction that was
 * rolled back is gone already, and a CLOSE of a missing cursor would fail the
 * caller's transaction: only an existing one is closed. */
static void close_cursor(pg_db *d, pg_stmt *s) {
    if (d->closing || !d->conn || PQstatus(d->conn) != CONNECTION_OK || s->cur_gen != d->gen) {
        s->cur = 0; unpend(d, s);   /* gone with its connection */
        return;
    }
    PGTransactionStatusType ts = PQtransactionStatus(d->conn);
    if (ts != PQTRANS_IDLE && ts != PQTRANS_INTRANS) {
        if (s->cur != 2 && d->npending < MAX_PENDING) d->pending[d->npending++] = s;
        s->cur = 2;
        return;
    }
    const char *vals[1] = {s->cur_name};
    PGresult *r = PQexecParams(d->conn, "SELECT 1 FROM pg_cursors WHERE name = $1", 1, NULL, vals, NULL, NULL, 0);
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
    bool asked = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (exists) {
        char q[48];
        snprintf(q, sizeof q, "CLOSE %s", s->cur_name);
        r = PQexec(d->conn, q);
        asked = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (asked) { s->cur = 0; unpend(d, s); }
    else if (s->cur != 2) { s->cur = 2; if (d->npending < MAX_PENDING) d->pending[d->npending++] = s; }
}

static void flush_pending(pg_db *d) {
    for (int i = d->npending - 1; i >= 0; i--) if (i < d->npending) close_cursor(d, d->pending[i]);
}

/* The next batch of an open cursor; closes it after the last one. */
static int fetch_batch(pg_db *d, pg_stmt *s) {
    char q[64];
    snprintf(q, sizeof q, "FETCH FORWARD %d FROM %s", STREAM_BATCH, s->cur_name);
    PGresult *r = PQexec(d->conn, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = map_error(d, r, s->tr.sql);
        PQclear(r);
        return rc;
    }
    if (PQntuples(r) < STREAM_BATCH) {
        /* The last batch: the cursor certainly exists, close it at once. */
        s->cur_end = true;
        snprintf(q, sizeof q, "CLOSE %s", s->cur_name);
        PGresult *c = PQexec(d->conn, q);
        if (PQresultStatus(c) == PGRES_COMMAND_OK) s->cur = 0;
        PQclear(c);
    }
    return take_rows(s, r);
}

/* DECLARE the cursor with the statement's parameters, then the first batch. */
static int stream_start(pg_db *d, pg_stmt *s, int total, const char *const *vals, const int *lens, const int *fmts) {
    if (!s->decl) {
        size_t n = strlen(s->tr.sql) + 96;
        s->decl = malloc(n);
        if (!s->decl) return DB_ERROR;
        snprintf(s->cur_name, sizeof s->cur_name, "vets_c%s", s->name);
        snprintf(s->decl, n, "DECLARE %s NO SCROLL CURSOR WITH HOLD FOR %s", s->cur_name, s->tr.sql);
    }
    for (int attempt = 0;; attempt++) {
        if (!ensure_conn(d)) { log_error(NULL, "SQL step failed: %s — %.200s", d->err, s->tr.sql); return DB_ERROR; }
        if (s->cur) close_cursor(d, s);      /* left by an earlier reset (or gone with its connection) */
        if (d->npending) flush_pending(d);
        unsigned int types[total > 0 ? total : 1];
        for (int i = 0; i < total; i++) types[i] = i >= s->tr.nparams || s->tr.text_only[i] ? TEXTOID : 0;
        PGresult *r = PQexecParams(d->conn, s->decl, total, total ? types : NULL, total ? vals : NULL, lens, fmts, 0);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            PQclear(r);
            unpend(d, s);   /* a pending close must never reach this new cursor */
            s->cur = 1; s->cur_gen = d->gen; s->cur_end = false;
            return fetch_batch(d, s);
        }
        if (PQstatus(d->conn) != CONNECTION_OK && attempt == 0 && !d->open_tx) { PQclear(r); continue; }
        int rc = map_error(d, r, s->tr.sql);
        PQclear(r);
        return rc;
    }
}

static void pg_set_stream(db_stmt *bs, bool on) { PS(bs)->stream = on; }

static int pg_step(db_stmt *bs) {
    pg_stmt *s = PS(bs);
    pg_db *d = PD(bs->owner);
    if (s->executed) {
        if (s->res && s->row + 1 < s->nrows) { clear_conv(s); s->row++; return DB_ROW; }
        if (s->stream && s->cur == 1 && !s->cur_end) {
            clear_conv(s);
            if (s->res) { PQclear(s->res); s->res = NULL; }
            s->row = s->nrows = 0;
            if (s->cur_gen != d->gen || !d->conn || PQstatus(d->conn) != CONNECTION_OK) {
                /* Reconnected under the stream (by a statement run between
                 * its steps): its cursor is gone. An error, never a result
                 * that merely looks complete. */
                s->cur = 0;
                set_err(d, "PostgreSQL 连接在读取结果的过程中断开");
                log_error(NULL, "SQL step failed: %s — %.200s", d->err, s->tr.sql);
                return DB_ERROR;
            }
            return fetch_batch(d, s);
        }
        return DB_DONE;
    }
    s->executed = true;
    int total = s->tr.nparams + s->tr.nshadow;
    const char *vals[total > 0 ? total : 1];
    int lens[total > 0 ? total : 1], fmts[total > 0 ? total : 1];
    for (int i = 0; i < s->tr.nparams; i++) { vals[i] = s->val[i]; lens[i] = s->len[i]; fmts[i] = s->fmt[i]; }
    for (int k = 0; k < s->tr.nshadow; k++) {
        int of = s->tr.shadow_of[k] - 1;
        vals[s->tr.nparams + k] = s->val[of] ? "1" : NULL;
        lens[s->tr.nparams + k] = 0; fmts[s->tr.nparams + k] = 0;
    }
    if (s->stream) return stream_start(d, s, total, vals, lens, fmts);
    for (int attempt = 0;; attempt++) {
        if (!ensure_conn(d)) { log_error(NULL, "SQL step failed: %s — %.200s", d->err, s->tr.sql); return DB_ERROR; }
        bool broken = false;
        PGresult *r;
        if (s->tr.custom_plan) {
            /* Unnamed, so planned with these values every time. */
            unsigned int types[total > 0 ? total : 1];
            for (int i = 0; i < total; i++) types[i] = i >= s->tr.nparams || s->tr.text_only[i] ? TEXTOID : 0;
            r = PQexecParams(d->conn, s->tr.sql, total, total ? types : NULL, total ? vals : NULL, lens, fmts, 0);
        } else {
            if (!prepare(d, s)) {
                broken = PQstatus(d->conn) != CONNECTION_OK;
                if (!(broken && attempt == 0 && !d->open_tx)) return DB_ERROR;
                continue;
            }
            r = PQexecPrepared(d->conn, s->name, total, total ? vals : NULL, lens, fmts, 0);
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK) {
            count_changes(d, r);
            return take_rows(s, r);
        }
        if (st == PGRES_COMMAND_OK) { count_changes(d, r); PQclear(r); return DB_DONE; }
        if (PQstatus(d->conn) != CONNECTION_OK && attempt == 0 && !d->open_tx) { PQclear(r); continue; }
        int rc = map_error(d, r, s->tr.sql);
        PQclear(r);
        return rc;
    }
}

static bool in_row(pg_stmt *s, int i) { return s->res && i >= 0 && i < PQnfields(s->res); }

static const char *pg_col_text(db_stmt *bs, int i) {
    pg_stmt *s = PS(bs);
    if (!in_row(s, i) || PQgetisnull(s->res, s->row, i)) return NULL;
    const char *v = PQgetvalue(s->res, s->row, i);
    switch (PQftype(s->res, i)) {
    case BOOLOID: return v[0] == 't' ? "1" : "0";
    case BYTEAOID:
        if (!s->conv[i]) { size_t n; s->conv[i] = (char *)PQunescapeBytea((const unsigned char *)v, &n); }
        return s->conv[i];
    default: return v;
    }
}

static int64_t pg_col_int(db_stmt *bs, int i) {
    pg_stmt *s = PS(bs);
    if (!in_row(s, i) || PQgetisnull(s->res, s->row, i)) return 0;
    const char *v = PQgetvalue(s->res, s->row, i);
    switch (PQftype(s->res, i)) {
    case BOOLOID: return v[0] == 't';
    case NUMERICOID: case FLOAT4OID: case FLOAT8OID: return (int64_t)strtod(v, NULL);
    default: return strtoll(v, NULL, 10);
    }
}

static bool pg_col_null(db_stmt *bs, int i) { pg_stmt *s = PS(bs); return !in_row(s, i) || PQgetisnull(s->res, s->row, i); }
static int pg_col_count(db_stmt *bs) { pg_stmt *s = PS(bs); return s->res ? PQnfields(s->res) : 0; }
static const char *pg_col_name(db_stmt *bs, int i) { pg_stmt *s = PS(bs); return in_row(s, i) ? PQfname(s->res, i) : NULL; }
static const char *pg_errmsg(db *d) { return PD(d)->err; }
static int pg_changes(db *d) { return PD(d)->changes; }

/* A statement without parameters, run to completion. */
static int simple(pg_db *d, const char *sql, PGresult **out) {
    if (!ensure_conn(d)) return DB_ERROR;
    PGresult *r = PQexec(d->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        count_changes(d, r);
        if (out) *out = r; else PQclear(r);
        return DB_OK;
    }
    int rc = map_error(d, r, sql);
    PQclear(r);
    return rc;
}

static int pg_exec(db *bd, const char *sql) {
    pg_sql tr;
    if (pg_translate(sql, &tr) != 0) return DB_ERROR;
    int rc = tr.nparams ? DB_ERROR : simple(PD(bd), tr.sql, NULL);
    pg_sql_free(&tr);
    return rc;
}

static int pg_begin(db *bd) {
    pg_db *d = PD(bd);
    int rc = simple(d, "BEGIN", NULL);
    d->open_tx = rc == DB_OK;
    return rc;
}

static int pg_commit(db *bd) {
    pg_db *d = PD(bd);
    PGresult *r = NULL;
    int rc = simple(d, "COMMIT", &r);
    d->open_tx = false;   /* committed, rolled back, or gone with the connection */
    if (rc != DB_OK) return rc;
    /* COMMIT of a transaction that failed half way answers ROLLBACK. */
    bool rolled_back = strcmp(PQcmdStatus(r), "ROLLBACK") == 0;
    PQclear(r);
    if (rolled_back) { set_err(d, "事务中有语句失败，已回滚"); return DB_ERROR; }
    return DB_OK;
}

static void pg_rollback(db *bd) {
    pg_db *d = PD(bd);
    d->open_tx = false;
    if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) return;
    if (PQtransactionStatus(d->conn) != PQTRANS_IDLE) PQclear(PQexec(d->conn, "ROLLBACK"));
    if (d->npending) flush_pending(d);   /* cursors a failed transaction kept from closing */
}

/* SELECT fn($1) with a bigint key; the first column of the answer into OUT. */
static int key_call(pg_db *d, const char *sql, int64_t key, bool *out) {
    if (!ensure_conn(d)) return DB_ERROR;
    char k[24];
    snprintf(k, sizeof k, "%lld", (long long)key);
    const char *vals[1] = {k};
    PGresult *r = PQexecParams(d->conn, sql, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) { int rc = map_error(d, r, sql); PQclear(r); return rc; }
    if (out) *out = PQntuples(r) > 0 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return DB_OK;
}

static int pg_lock_serial(db *bd, int64_t key) {
    if (bd->tx_depth <= 0) return DB_OK;   /* outside a transaction it would end at once */
    return key_call(PD(bd), "SELECT pg_advisory_xact_lock($1::bigint)", key, NULL);
}

static bool pg_try_lock(db *bd, int64_t key) {
    pg_db *d = PD(bd);
    unsigned gen = d->gen;
    if (!ensure_conn(d)) return false;
    if (gen == d->gen)   /* same connection: what it holds it still holds */
        for (int i = 0; i < d->nheld; i++) if (d->held[i] == key) return true;
    bool got = false;
    if (key_call(d, "SELECT pg_try_advisory_lock($1::bigint)", key, &got) != DB_OK || !got) return false;
    if (d->nheld < MAX_HELD) d->held[d->nheld++] = key;
    return true;
}

static void pg_unlock(db *bd, int64_t key) {
    pg_db *d = PD(bd);
    for (int i = 0; i < d->nheld; i++) {
        if (d->held[i] != key) continue;
        d->held[i] = d->held[--d->nheld];
        if (d->conn && PQstatus(d->conn) == CONNECTION_OK) key_call(d, "SELECT pg_advisory_unlock($1::bigint)", key, NULL);
        return;
    }
}

static bool pg_node_lock(db *bd, int64_t key, bool exclusive) {
    bool got = false;
    return key_call(PD(bd), exclusive ? "SELECT pg_try_advisory_lock($1::bigint)"
                                      : "SELECT pg_try_advisory_lock_shared($1::bigint)", key, &got) == DB_OK && got;
}

static bool pg_has_table(db *bd, const char *name) {
    pg_db *d = PD(bd);
    if (!ensure_conn(d)) return false;
    const char *vals[1] = {name};
    PGresult *r = PQexecParams(d->conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, vals, NULL, NULL, 0);
    bool found = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return found;
}

static int pg_backup_to(db *d, const char *path, char *err, unsigned errcap) {
    (void)d; (void)path;
    snprintf(err, errcap, "PostgreSQL 数据库请用其自身的工具备份（pgBackRest 或 pg_dump，见 docs/deployment.md）");
    return -1;
}

const struct db_ops db_pg_ops = {
    .name = "postgresql", .open = pg_open, .close = pg_close, .prep = pg_prep,
    .bind_text = pg_bind_text, .bind_int = pg_bind_int, .bind_null = pg_bind_null, .bind_blob = pg_bind_blob,
    .step = pg_step, .col_text = pg_col_text, .col_int = pg_col_int, .col_null = pg_col_null,
    .col_count = pg_col_count, .col_name = pg_col_name, .reset = pg_reset, .errmsg = pg_errmsg,
    .changes = pg_changes, .exec = pg_exec, .begin = pg_begin, .commit = pg_commit, .rollback = pg_rollback,
    .lock_serial = pg_lock_serial, .try_lock = pg_try_lock, .unlock = pg_unlock, .node_lock = pg_node_lock, .backup_to = pg_backup_to,
    .has_table = pg_has_table, .set_stream = pg_set_stream,
};
