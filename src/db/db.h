/* The storage interface. Modules speak only to this: portable SQL with `?`
 * placeholders, prepared statements cached per connection, explicit
 * transactions. SQLite (WAL) is behind it today; PostgreSQL (libpq) goes behind
 * the same calls, so modules never learn which database they run on.
 *
 * Connections are per thread: db_thread() returns the calling thread's
 * connection, opened on first use from the process-wide configuration. */
#ifndef VETS_DB_DB_H
#define VETS_DB_DB_H
#include <stdbool.h>
#include <stdint.h>

typedef struct db db;
typedef struct db_stmt db_stmt;

enum { DB_OK = 0, DB_ROW = 1, DB_DONE = 2, DB_ERROR = -1, DB_CONSTRAINT = -2, DB_BUSY = -3 };

typedef struct db_config {
    char path[1024];        /* SQLite file */
    int  synchronous_full;  /* 1: synchronous=FULL (durable on power loss) */
} db_config;

/* Process-wide configuration; must be set before the first db_thread(). */
int  db_configure(const char *data_dir, char *err, unsigned errcap);
const db_config *db_get_config(void);
db  *db_thread(void);
void db_thread_close(void);          /* at thread exit */
db  *db_open(const db_config *cfg, char *err, unsigned errcap);
void db_close(db *d);

/* Prepared statement for SQL, cached on the connection by the SQL text's
 * address: pass string literals. Returns NULL (and logs) on a syntax error. */
db_stmt *db_prep(db *d, const char *sql);
void db_bind_text(db_stmt *s, int i, const char *v);        /* 1-based; NULL binds NULL */
void db_bind_int(db_stmt *s, int i, int64_t v);
void db_bind_null(db_stmt *s, int i);
void db_bind_blob(db_stmt *s, int i, const void *p, int n);
int  db_step(db_stmt *s);                                   /* DB_ROW, DB_DONE or <0 */
const char *db_col_text(db_stmt *s, int i);                 /* NULL for NULL */
int64_t db_col_int(db_stmt *s, int i);
bool db_col_null(db_stmt *s, int i);
int  db_col_count(db_stmt *s);
const char *db_col_name(db_stmt *s, int i);
void db_reset(db_stmt *s);                                  /* also clears bindings */
const char *db_errmsg(db *d);
int  db_changes(db *d);

/* Interns SQL assembled at run time from fixed fragments (never from input),
 * so the same text gets the same address and db_prep can cache it. */
const char *db_intern(const char *sql);

/* Runs one statement to completion (binds none); for DDL and migrations. */
int  db_exec(db *d, const char *sql);

/* Transactions. db_begin takes the write lock at once (SQLite IMMEDIATE), so
 * read-then-write sequences in it never fail half way with BUSY. */
int  db_begin(db *d);
int  db_commit(db *d);
void db_rollback(db *d);
bool db_in_tx(db *d);

/* Helpers for the common shapes. */
int64_t db_query_int(db *d, const char *sql, const char *arg, int64_t dflt);

/* Online backup into PATH (consistent while writers run). */
int  db_backup_to(db *d, const char *path, char *err, unsigned errcap);
#endif
