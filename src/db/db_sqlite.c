/* SQLite backend of the storage interface (see db.h).
 * WAL mode, foreign keys on, secure_delete on (deleted personal data must not
 * linger in free pages), a busy timeout so concurrent writers queue instead of
 * failing. Statements are cached per connection in a small open-addressing
 * table keyed by the SQL literal's address. */
#include "db/db.h"
#include "base/log.h"
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 512

struct db_stmt { sqlite3_stmt *st; db *owner; };
struct cache_entry { const char *key; db_stmt stmt; };
struct db {
    sqlite3 *h;
    int tx_depth;
    struct cache_entry cache[STMT_CACHE];
};

static db_config config;
static int configured;
static __thread db *thread_db;

int db_configure(const char *data_dir, char *err, unsigned errcap) {
    memset(&config, 0, sizeof config);
    if (snprintf(config.path, sizeof config.path, "%s/vets.db", data_dir) >= (int)sizeof config.path) {
        snprintf(err, errcap, "数据目录路径过长");
        return -1;
    }
    const char *sync = getenv("VETS_SYNCHRONOUS");
    config.synchronous_full = !(sync && strcmp(sync, "NORMAL") == 0);
    configured = 1;
    return 0;
}

const db_config *db_get_config(void) { return &config; }

db *db_open(const db_config *cfg, char *err, unsigned errcap) {
    db *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    int rc = sqlite3_open_v2(cfg->path, &d->h,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errcap, "无法打开数据库 %s：%s", cfg->path, d->h ? sqlite3_errmsg(d->h) : "?");
        if (d->h) sqlite3_close(d->h);
        free(d);
        return NULL;
    }
    sqlite3_busy_timeout(d->h, 10000);
    sqlite3_extended_result_codes(d->h, 1);
    const char *pragmas[] = {
        "PRAGMA journal_mode=WAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA secure_delete=ON",
        "PRAGMA temp_store=MEMORY",
        "PRAGMA cache_size=-16000",
        "PRAGMA mmap_size=268435456",
        cfg->synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
    };
    for (size_t i = 0; i < sizeof pragmas / sizeof *pragmas; i++) {
        char *msg = NULL;
        if (sqlite3_exec(d->h, pragmas[i], NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errcap, "数据库初始化失败（%s）：%s", pragmas[i], msg ? msg : "?");
            sqlite3_free(msg);
            db_close(d);
            return NULL;
        }
    }
    return d;
}

void db_close(db *d) {
    if (!d) return;
    for (int i = 0; i < STMT_CACHE; i++)
        if (d->cache[i].stmt.st) sqlite3_finalize(d->cache[i].stmt.st);
    sqlite3_close(d->h);
    free(d);
}

db *db_thread(void) {
    if (thread_db) return thread_db;
    if (!configured) { log_error(NULL, "db_thread before db_configure"); abort(); }
    char err[512];
    thread_db = db_open(&config, err, sizeof err);
    if (!thread_db) { log_error(NULL, "%s", err); abort(); }
    return thread_db;
}

void db_thread_close(void) { db_close(thread_db); thread_db = NULL; }

db_stmt *db_prep(db *d, const char *sql) {
    size_t h = ((uintptr_t)sql >> 3) % STMT_CACHE;
    for (size_t n = 0; n < STMT_CACHE; n++, h = (h + 1) % STMT_CACHE) {
        struct cache_entry *e = &d->cache[h];
        if (e->key == sql) { sqlite3_reset(e->stmt.st); sqlite3_clear_bindings(e->stmt.st); return &e->stmt; }
        if (!e->key) {
            if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &e->stmt.st, NULL) != SQLITE_OK) {
                log_error(NULL, "SQL prepare failed: %s — %.200s", sqlite3_errmsg(d->h), sql);
                e->stmt.st = NULL;
                return NULL;
            }
            e->key = sql; e->stmt.owner = d;
            return &e->stmt;
        }
    }
    log_error(NULL, "statement cache full");
    abort();
}

void db_bind_text(db_stmt *s, int i, const char *v) {
    if (v) sqlite3_bind_text(s->st, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(s->st, i);
}
void db_bind_int(db_stmt *s, int i, int64_t v) { sqlite3_bind_int64(s->st, i, v); }
void db_bind_null(db_stmt *s, int i) { sqlite3_bind_null(s->st, i); }
void db_bind_blob(db_stmt *s, int i, const void *p, int n) { sqlite3_bind_blob(s->st, i, p, n, SQLITE_TRANSIENT); }

int db_step(db_stmt *s) {
    int rc = sqlite3_step(s->st);
    if (rc == SQLITE_ROW) return DB_ROW;
    if (rc == SQLITE_DONE) return DB_DONE;
    int prim = rc & 0xff;
    if (prim == SQLITE_CONSTRAINT) {
        log_msg(LOG_DEBUG, NULL, "SQL constraint: %s — %.200s", sqlite3_errmsg(s->owner->h), sqlite3_sql(s->st));
        return DB_CONSTRAINT;
    }
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) return DB_BUSY;
    log_error(NULL, "SQL step failed: %s — %.200s", sqlite3_errmsg(s->owner->h), sqlite3_sql(s->st));
    return DB_ERROR;
}

const char *db_col_text(db_stmt *s, int i) { return (const char *)sqlite3_column_text(s->st, i); }
int64_t db_col_int(db_stmt *s, int i) { return sqlite3_column_int64(s->st, i); }
bool db_col_null(db_stmt *s, int i) { return sqlite3_column_type(s->st, i) == SQLITE_NULL; }
int db_col_count(db_stmt *s) { return sqlite3_column_count(s->st); }
const char *db_col_name(db_stmt *s, int i) { return sqlite3_column_name(s->st, i); }
void db_reset(db_stmt *s) { sqlite3_reset(s->st); sqlite3_clear_bindings(s->st); }
const char *db_errmsg(db *d) { return sqlite3_errmsg(d->h); }
int db_changes(db *d) { return sqlite3_changes(d->h); }

int db_exec(db *d, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error(NULL, "SQL exec failed: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return DB_ERROR;
    }
    return DB_OK;
}

int db_begin(db *d) {
    if (d->tx_depth++ > 0) return DB_OK;   /* nested: joins the outer transaction */
    db_stmt *s = db_prep(d, "BEGIN IMMEDIATE");
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE) { d->tx_depth = 0; return rc; }
    return DB_OK;
}

int db_commit(db *d) {
    if (d->tx_depth <= 0) return DB_ERROR;
    if (--d->tx_depth > 0) return DB_OK;
    db_stmt *s = db_prep(d, "COMMIT");
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE) { db_rollback(d); return rc; }
    return DB_OK;
}

void db_rollback(db *d) {
    d->tx_depth = 0;
    if (!sqlite3_get_autocommit(d->h)) sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
}

bool db_in_tx(db *d) { return d->tx_depth > 0; }

int64_t db_query_int(db *d, const char *sql, const char *arg, int64_t dflt) {
    db_stmt *s = db_prep(d, sql);
    if (!s) return dflt;
    if (arg) db_bind_text(s, 1, arg);
    int64_t v = dflt;
    if (db_step(s) == DB_ROW && !db_col_null(s, 0)) v = db_col_int(s, 0);
    db_reset(s);
    return v;
}

int db_backup_to(db *d, const char *path, char *err, unsigned errcap) {
    sqlite3 *dst = NULL;
    if (sqlite3_open(path, &dst) != SQLITE_OK) {
        snprintf(err, errcap, "无法创建备份文件：%s", dst ? sqlite3_errmsg(dst) : path);
        sqlite3_close(dst);
        return -1;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", d->h, "main");
    if (!b) { snprintf(err, errcap, "备份失败：%s", sqlite3_errmsg(dst)); sqlite3_close(dst); return -1; }
    int rc;
    /* Copy in steps so writers are not blocked for the whole copy; a write in
     * between restarts the copy, which the backup API handles itself. */
    do { rc = sqlite3_backup_step(b, 1024); if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(5); }
    while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) { snprintf(err, errcap, "备份失败：%s", sqlite3_errstr(rc)); sqlite3_close(dst); return -1; }
    sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    sqlite3_close(dst);
    return 0;
}
