/* Inside the storage layer only: the table of operations each backend
 * (db_sqlite.c, db_pg.c) fills, and the common head of their connection and
 * statement structs. db.c dispatches the public calls of db.h through it;
 * modules never include this file. */
#ifndef VETS_DB_IMPL_H
#define VETS_DB_IMPL_H
#include "db/db.h"

struct db_ops;

/* Every backend's connection struct starts with this. */
struct db {
    const struct db_ops *ops;
    int tx_depth;                 /* db_begin nesting: the outermost begins and commits */
    bool cache_dirty;             /* cached shared data written in this transaction */
    uint64_t tx_seq;              /* the current outermost transaction: see db_tx_id */
};

/* Every backend's statement struct starts with this. */
struct db_stmt {
    db *owner;
};

struct db_ops {
    const char *name;             /* "sqlite", "postgresql" */
    db *(*open)(const db_config *cfg, char *err, unsigned errcap);
    void (*close)(db *d);
    db_stmt *(*prep)(db *d, const char *sql);
    void (*bind_text)(db_stmt *s, int i, const char *v);
    void (*bind_int)(db_stmt *s, int i, int64_t v);
    void (*bind_null)(db_stmt *s, int i);
    void (*bind_blob)(db_stmt *s, int i, const void *p, int n);
    int (*step)(db_stmt *s);
    const char *(*col_text)(db_stmt *s, int i);
    int64_t (*col_int)(db_stmt *s, int i);
    bool (*col_null)(db_stmt *s, int i);
    int (*col_count)(db_stmt *s);
    const char *(*col_name)(db_stmt *s, int i);
    void (*reset)(db_stmt *s);
    const char *(*errmsg)(db *d);
    int (*changes)(db *d);
    int (*exec)(db *d, const char *sql);
    int (*begin)(db *d);          /* the outermost level only */
    int (*commit)(db *d);
    void (*rollback)(db *d);
    int (*lock_serial)(db *d, int64_t key);
    bool (*try_lock)(db *d, int64_t key);
    void (*unlock)(db *d, int64_t key);
    bool (*node_lock)(db *d, int64_t key, bool exclusive);   /* try, held for the connection's life */
    int (*backup_to)(db *d, const char *path, char *err, unsigned errcap);
    bool (*has_table)(db *d, const char *name);
    void (*set_stream)(db_stmt *s, bool on);   /* NULL: every statement already streams (SQLite) */
};

extern const struct db_ops db_sqlite_ops;
/* Set while the checkpoint thread runs (checkpoint.c): new SQLite connections
 * turn their automatic checkpoints off. */
extern bool db_sqlite_no_autocheckpoint;
extern const struct db_ops db_pg_ops;

/* A PostgreSQL handle that connects at its first statement (db_pg.c). */
db *db_pg_open_lazy(const db_config *cfg);

/* True when CFG names a PostgreSQL database. */
bool db_config_is_pg(const db_config *cfg);
#endif
