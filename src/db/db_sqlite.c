/* SQLite backend of the storage interface (see db.h).
 * WAL mode, foreign keys on, secure_delete on (deleted personal data must not
 * linger in free pages), a busy timeout so concurrent writers queue instead of
 * failing. Statements are cached per connection in a small open-addressing
 * table keyed by the SQL literal's address. */
#include "db/db_impl.h"
#include "base/log.h"
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define STMT_CACHE 512

typedef struct sq_stmt { struct db_stmt base; sqlite3_stmt *st; } sq_stmt;
struct cache_entry { const char *key; sq_stmt stmt; };
typedef struct sq_db {
    struct db base;
    sqlite3 *h;
    bool writing;                 /* holds write_mu: between BEGIN IMMEDIATE and its end */
    struct cache_entry cache[STMT_CACHE];
} sq_db;

#define SQ(d) ((sq_db *)(d))
#define ST(s) (((sq_stmt *)(s))->st)

static void sq_close(db *d);
static void sq_rollback(db *d);

/* SQLite's temporary files (large sorts) in the data folder's tmp/, beside
 * the database they come from, rather than in the system's /var/tmp. Set
 * once, before the first connection opens (sqlite3_temp_directory is read
 * without a lock). */
static char temp_dir[1100];
static void set_temp_dir(void) { if (temp_dir[0]) sqlite3_temp_directory = temp_dir; }

static db *sq_open(const db_config *cfg, char *err, unsigned errcap) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!temp_dir[0]) {
        const char *slash = strrchr(cfg->path, '/');
        char dir[1100];
        snprintf(dir, sizeof dir, "%.*s/tmp", slash ? (int)(slash - cfg->path) : 1, slash ? cfg->path : ".");
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(temp_dir, sizeof temp_dir, "%s", dir);
    }
    pthread_once(&once, set_temp_dir);
    sq_db *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->base.ops = &db_sqlite_ops;
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
        /* Temporary b-trees (the sort of a 1 000 000-row export) go to files
         * in DATA/tmp once they outgrow the cache, not to the heap: in memory
         * that sort alone made the server 400 MB larger. */
        "PRAGMA temp_store=FILE",
        "PRAGMA cache_size=-16000",
        /* No memory map: every connection mapped up to 256 MB of the file,
         * which made a server with 1 000 000 persons 1.4 GB resident, and a
         * growing file had every connection unmap and remap it. Pages are read
         * with pread into each connection's own cache (cache_size above). */
        "PRAGMA mmap_size=0",
        cfg->synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
    };
    for (size_t i = 0; i < sizeof pragmas / sizeof *pragmas; i++) {
        char *msg = NULL;
        if (sqlite3_exec(d->h, pragmas[i], NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errcap, "数据库初始化失败（%s）：%s", pragmas[i], msg ? msg : "?");
            sqlite3_free(msg);
            sq_close(&d->base);
            return NULL;
        }
    }
    if (db_sqlite_no_autocheckpoint) sqlite3_wal_autocheckpoint(d->h, 0);
    return &d->base;
}

static void sq_close(db *bd) {
    sq_db *d = SQ(bd);
    sq_rollback(bd);
    for (int i = 0; i < STMT_CACHE; i++)
        if (d->cache[i].stmt.st) sqlite3_finalize(d->cache[i].stmt.st);
    sqlite3_close(d->h);
    free(d);
}

static db_stmt *sq_prep(db *bd, const char *sql) {
    sq_db *d = SQ(bd);
    size_t h = ((uintptr_t)sql >> 3) % STMT_CACHE;
    for (size_t n = 0; n < STMT_CACHE; n++, h = (h + 1) % STMT_CACHE) {
        struct cache_entry *e = &d->cache[h];
        if (e->key == sql) { sqlite3_reset(e->stmt.st); sqlite3_clear_bindings(e->stmt.st); return &e->stmt.base; }
        if (!e->key) {
            if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &e->stmt.st, NULL) != SQLITE_OK) {
                log_error(NULL, "SQL prepare failed: %s — %.200s", sqlite3_errmsg(d->h), sql);
                e->stmt.st = NULL;
                return NULL;
            }
            e->key = sql; e->stmt.base.owner = bd;
            return &e->stmt.base;
        }
    }
    log_error(NULL, "statement cache full");
    abort();
}

static void sq_bind_text(db_stmt *s, int i, const char *v) {
    if (v) sqlite3_bind_text(ST(s), i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(ST(s), i);
}
static void sq_bind_int(db_stmt *s, int i, int64_t v) { sqlite3_bind_int64(ST(s), i, v); }
static void sq_bind_null(db_stmt *s, int i) { sqlite3_bind_null(ST(s), i); }
static void sq_bind_blob(db_stmt *s, int i, const void *p, int n) { sqlite3_bind_blob(ST(s), i, p, n, SQLITE_TRANSIENT); }

static int sq_step(db_stmt *s) {
    int rc = sqlite3_step(ST(s));
    if (rc == SQLITE_ROW) return DB_ROW;
    if (rc == SQLITE_DONE) return DB_DONE;
    int prim = rc & 0xff;
    if (prim == SQLITE_CONSTRAINT) {
        log_msg(LOG_DEBUG, NULL, "SQL constraint: %s — %.200s", sqlite3_errmsg(SQ(s->owner)->h), sqlite3_sql(ST(s)));
        return DB_CONSTRAINT;
    }
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) return DB_BUSY;
    log_error(NULL, "SQL step failed: %s — %.200s", sqlite3_errmsg(SQ(s->owner)->h), sqlite3_sql(ST(s)));
    return DB_ERROR;
}

static const char *sq_col_text(db_stmt *s, int i) { return (const char *)sqlite3_column_text(ST(s), i); }
static int64_t sq_col_int(db_stmt *s, int i) { return sqlite3_column_int64(ST(s), i); }
static bool sq_col_null(db_stmt *s, int i) { return sqlite3_column_type(ST(s), i) == SQLITE_NULL; }
static int sq_col_count(db_stmt *s) { return sqlite3_column_count(ST(s)); }
static const char *sq_col_name(db_stmt *s, int i) { return sqlite3_column_name(ST(s), i); }
static void sq_reset(db_stmt *s) { sqlite3_reset(ST(s)); sqlite3_clear_bindings(ST(s)); }
static const char *sq_errmsg(db *d) { return sqlite3_errmsg(SQ(d)->h); }
static int sq_changes(db *d) { return sqlite3_changes(SQ(d)->h); }

static int sq_exec(db *d, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(SQ(d)->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error(NULL, "SQL exec failed: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return DB_ERROR;
    }
    return DB_OK;
}

/* One statement to completion through the cache (BEGIN, COMMIT). */
static int sq_simple(db *d, const char *sql) {
    db_stmt *s = sq_prep(d, sql);
    if (!s) return DB_ERROR;
    int rc = sq_step(s);
    sq_reset(s);
    return rc == DB_DONE ? DB_OK : rc;
}

/* Write transactions of this process take turns on a mutex before BEGIN
 * IMMEDIATE. SQLite lets one writer in at a time anyway, but the others wait
 * in its busy handler, which sleeps in growing steps (up to 100 ms): with 32
 * writers at once the slowest waited 1.4 s. On the mutex a waiter wakes when
 * the writer ahead is done. Same limit as the busy timeout: 10 s, then busy.
 * (Another process — `vets import` while serving — still meets the busy
 * handler.) */
static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;
#define WRITE_WAIT_S 10

static void write_release(sq_db *d) {
    if (d->writing) { d->writing = false; pthread_mutex_unlock(&write_mu); }
}

static int sq_begin(db *bd) {
    sq_db *d = SQ(bd);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WRITE_WAIT_S;
    if (pthread_mutex_timedlock(&write_mu, &until) != 0) {
        log_warn(NULL, "SQL busy: waited %d s for the write queue", WRITE_WAIT_S);
        return DB_BUSY;
    }
    d->writing = true;
    int rc = sq_simple(bd, "BEGIN IMMEDIATE");
    if (rc != DB_OK) write_release(d);
    return rc;
}

static int sq_commit(db *bd) {
    int rc = sq_simple(bd, "COMMIT");
    if (rc == DB_OK) write_release(SQ(bd));   /* on failure db_rollback follows and releases */
    return rc;
}

static void sq_rollback(db *bd) {
    if (!sqlite3_get_autocommit(SQ(bd)->h)) sqlite3_exec(SQ(bd)->h, "ROLLBACK", NULL, NULL, NULL);
    write_release(SQ(bd));
}

/* One process owns a SQLite database and BEGIN IMMEDIATE already makes every
 * write transaction run alone: the cross-node locks have nothing to add. */
static int sq_lock_serial(db *d, int64_t key) { (void)d; (void)key; return DB_OK; }
static bool sq_try_lock(db *d, int64_t key) { (void)d; (void)key; return true; }
static void sq_unlock(db *d, int64_t key) { (void)d; (void)key; }
static bool sq_node_lock(db *d, int64_t key, bool exclusive) { (void)d; (void)key; (void)exclusive; return true; }

static bool sq_has_table(db *d, const char *name) {
    sqlite3_stmt *st = NULL;
    bool found = false;
    if (sqlite3_prepare_v2(SQ(d)->h, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

static int sq_backup_to(db *bd, const char *path, char *err, unsigned errcap) {
    sq_db *d = SQ(bd);
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

const struct db_ops db_sqlite_ops = {
    .name = "sqlite", .open = sq_open, .close = sq_close, .prep = sq_prep,
    .bind_text = sq_bind_text, .bind_int = sq_bind_int, .bind_null = sq_bind_null, .bind_blob = sq_bind_blob,
    .step = sq_step, .col_text = sq_col_text, .col_int = sq_col_int, .col_null = sq_col_null,
    .col_count = sq_col_count, .col_name = sq_col_name, .reset = sq_reset, .errmsg = sq_errmsg,
    .changes = sq_changes, .exec = sq_exec, .begin = sq_begin, .commit = sq_commit, .rollback = sq_rollback,
    .lock_serial = sq_lock_serial, .try_lock = sq_try_lock, .unlock = sq_unlock, .node_lock = sq_node_lock, .backup_to = sq_backup_to,
    .has_table = sq_has_table,
};
