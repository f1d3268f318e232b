/* The storage interface's front (see db.h): the process-wide configuration,
 * the per-thread connection, transaction nesting, advisory-lock keys, and the
 * dispatch of every call to the backend that opened the connection
 * (db_sqlite.c or db_pg.c, through their struct db_ops). */
#include "db/db_impl.h"
#include "base/log.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static db_config config;
static int configured;
static char selected[1024];
static int have_selected;
static __thread db *thread_db;
static _Atomic uint64_t cache_gen = 1;   /* see db_cache_gen */
static _Atomic uint64_t tx_counter;      /* see db_tx_id */
/* The same pointer under a key whose destructor closes a thread's connection
 * when the thread ends (the HTTP server's workers end at shutdown): SQLite
 * gets its last checkpoint, PostgreSQL a clean disconnect, nothing leaks. */
static pthread_key_t close_key;
static pthread_once_t close_once = PTHREAD_ONCE_INIT;

static void close_at_exit(void *d) { db_close(d); }
static void make_key(void) { pthread_key_create(&close_key, close_at_exit); }

static void set_thread_db(db *d) {
    thread_db = d;
    pthread_once(&close_once, make_key);
    pthread_setspecific(close_key, d);
}

void db_select(const char *url) {
    have_selected = url != NULL;
    snprintf(selected, sizeof selected, "%s", url ? url : "");
}

bool db_config_is_pg(const db_config *cfg) { return cfg->url[0] != 0; }

static bool looks_like_pg(const char *u) {
    return strncmp(u, "postgresql://", 13) == 0 || strncmp(u, "postgres://", 11) == 0 || strchr(u, '=') != NULL;
}

int db_configure(const char *data_dir, char *err, unsigned errcap) {
    memset(&config, 0, sizeof config);
    if (snprintf(config.path, sizeof config.path, "%s/vets.db", data_dir) >= (int)sizeof config.path) {
        snprintf(err, errcap, "数据目录路径过长");
        return -1;
    }
    const char *sync = getenv("VETS_SYNCHRONOUS");
    config.synchronous_full = !(sync && strcmp(sync, "NORMAL") == 0);
    const char *url = have_selected ? selected : getenv("VETS_DB");
    if (url && *url) {
        if (!looks_like_pg(url)) {
            snprintf(err, errcap, "--db 须为 PostgreSQL 连接串（postgresql://用户@主机:端口/库名）；"
                                  "SQLite 数据库就在 --data 目录中，无需 --db");
            return -1;
        }
        if (snprintf(config.url, sizeof config.url, "%s", url) >= (int)sizeof config.url) {
            snprintf(err, errcap, "数据库连接串过长");
            return -1;
        }
    }
    /* A new configuration: this thread's connection belonged to the old one. */
    db_thread_close();
    if (config.url[0]) {
        /* Say now, in the operator's terms, when the server cannot be reached;
         * the connection is kept as this thread's. */
        db *d = db_pg_ops.open(&config, err, errcap);
        if (!d) return -1;
        set_thread_db(d);
    }
    configured = 1;
    return 0;
}

const db_config *db_get_config(void) { return &config; }

const char *db_backend(void) { return db_config_is_pg(&config) ? db_pg_ops.name : db_sqlite_ops.name; }

db *db_open(const db_config *cfg, char *err, unsigned errcap) {
    return (db_config_is_pg(cfg) ? &db_pg_ops : &db_sqlite_ops)->open(cfg, err, errcap);
}

void db_close(db *d) { if (d) d->ops->close(d); }

db *db_thread(void) {
    if (thread_db) return thread_db;
    if (!configured) { log_error(NULL, "db_thread before db_configure"); abort(); }
    char err[512];
    db *d = db_open(&config, err, sizeof err);
    /* PostgreSQL down when a thread starts: its statements fail (and retry the
     * connection) until it is back, instead of the whole process stopping. */
    if (!d && db_config_is_pg(&config)) { log_error(NULL, "%s", err); d = db_pg_open_lazy(&config); }
    if (!d) { log_error(NULL, "%s", err); abort(); }
    set_thread_db(d);
    return d;
}

void db_thread_close(void) {
    if (!thread_db) return;
    db_close(thread_db);
    set_thread_db(NULL);
}

db_stmt *db_prep(db *d, const char *sql) { return d->ops->prep(d, sql); }
db_stmt *db_prep_stream(db *d, const char *sql) {
    db_stmt *s = d->ops->prep(d, sql);
    if (s && d->ops->set_stream) d->ops->set_stream(s, true);
    return s;
}
void db_bind_text(db_stmt *s, int i, const char *v) { s->owner->ops->bind_text(s, i, v); }
void db_bind_int(db_stmt *s, int i, int64_t v) { s->owner->ops->bind_int(s, i, v); }
void db_bind_null(db_stmt *s, int i) { s->owner->ops->bind_null(s, i); }
void db_bind_blob(db_stmt *s, int i, const void *p, int n) { s->owner->ops->bind_blob(s, i, p, n); }
int db_step(db_stmt *s) { return s->owner->ops->step(s); }
const char *db_col_text(db_stmt *s, int i) { return s->owner->ops->col_text(s, i); }
int64_t db_col_int(db_stmt *s, int i) { return s->owner->ops->col_int(s, i); }
bool db_col_null(db_stmt *s, int i) { return s->owner->ops->col_null(s, i); }
int db_col_count(db_stmt *s) { return s->owner->ops->col_count(s); }
const char *db_col_name(db_stmt *s, int i) { return s->owner->ops->col_name(s, i); }
void db_reset(db_stmt *s) { s->owner->ops->reset(s); }
const char *db_errmsg(db *d) { return d->ops->errmsg(d); }
int db_changes(db *d) { return d->ops->changes(d); }
int db_exec(db *d, const char *sql) { return d->ops->exec(d, sql); }

int db_begin(db *d) {
    if (d->tx_depth++ > 0) return DB_OK;   /* nested: joins the outer transaction */
    d->tx_seq = atomic_fetch_add(&tx_counter, 1) + 1;   /* unique in the process, not only on D */
    int rc = d->ops->begin(d);
    if (rc != DB_OK) d->tx_depth = 0;
    return rc;
}

int db_commit(db *d) {
    if (d->tx_depth <= 0) return DB_ERROR;
    if (--d->tx_depth > 0) return DB_OK;
    int rc = d->ops->commit(d);
    if (rc != DB_OK) db_rollback(d);
    else if (d->cache_dirty) { d->cache_dirty = false; atomic_fetch_add(&cache_gen, 1); }
    return rc;
}

void db_rollback(db *d) {
    d->tx_depth = 0;
    d->cache_dirty = false;
    d->ops->rollback(d);
}

uint64_t db_cache_gen(void) { return atomic_load(&cache_gen); }

void db_cache_invalidate(db *d) {
    if (d && d->tx_depth > 0) d->cache_dirty = true;
    else atomic_fetch_add(&cache_gen, 1);
}

bool db_in_tx(db *d) { return d->tx_depth > 0; }

uint64_t db_tx_id(db *d) { return d->tx_depth > 0 ? d->tx_seq : 0; }

int64_t db_query_int(db *d, const char *sql, const char *arg, int64_t dflt) {
    db_stmt *s = db_prep(d, sql);
    if (!s) return dflt;
    if (arg) db_bind_text(s, 1, arg);
    int64_t v = dflt;
    if (db_step(s) == DB_ROW && !db_col_null(s, 0)) v = db_col_int(s, 0);
    db_reset(s);
    return v;
}

/* Advisory-lock keys: 64-bit FNV-1a of a fixed prefix and the name, so the
 * keys of vets do not meet those of another program sharing the cluster by
 * accident of small numbers. */
static int64_t lock_key(const char *key) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = "vets:"; *p; p++) { h ^= (unsigned char)*p; h *= 1099511628211ull; }
    for (const char *p = key; *p; p++) { h ^= (unsigned char)*p; h *= 1099511628211ull; }
    return (int64_t)h;
}

int db_lock_serial(db *d, const char *key) { return d->ops->lock_serial(d, lock_key(key)); }
bool db_try_lock_job(db *d, const char *key) { return d->ops->try_lock(d, lock_key(key)); }
void db_unlock_job(db *d, const char *key) { d->ops->unlock(d, lock_key(key)); }
bool db_shared(db *d) { return d->ops == &db_pg_ops; }
bool db_node_join(db *d) { return d->ops->node_lock(d, lock_key("nodes"), false); }
bool db_node_alone(db *d) { return d->ops->node_lock(d, lock_key("nodes"), true); }

int db_backup_to(db *d, const char *path, char *err, unsigned errcap) { return d->ops->backup_to(d, path, err, errcap); }
