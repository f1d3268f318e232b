/* The storage interface. Modules speak only to this: portable SQL with `?`
 * placeholders, prepared statements cached per connection, explicit
 * transactions. SQLite (WAL, the default: DATA/vets.db) and PostgreSQL
 * (libpq, `--db postgresql://…`) are behind the same calls, so modules never
 * learn which database they run on. The PostgreSQL backend translates the
 * SQLite dialect the modules write (placeholders, LIKE, column types in
 * migrations): see pg_sql.h for what is translated and what must be portable.
 *
 * Connections are per thread: db_thread() returns the calling thread's
 * connection, opened on first use from the process-wide configuration (with
 * PostgreSQL, one libpq connection per thread is the pool; a broken one is
 * reconnected outside transactions). */
#ifndef VETS_DB_DB_H
#define VETS_DB_DB_H
#include <stdbool.h>
#include <stdint.h>

typedef struct db db;
typedef struct db_stmt db_stmt;

enum { DB_OK = 0, DB_ROW = 1, DB_DONE = 2, DB_ERROR = -1, DB_CONSTRAINT = -2, DB_BUSY = -3 };

typedef struct db_config {
    char path[1024];        /* SQLite file DATA/vets.db; its folder holds tmp/ and keys with either database */
    int  synchronous_full;  /* 1: synchronous=FULL (durable on power loss) */
    char url[1024];         /* PostgreSQL connection string (postgresql://… or key=value …); empty: SQLite */
} db_config;

/* Chooses the database for db_configure: a PostgreSQL connection string (the
 * command line's --db), or NULL to fall back on the environment's VETS_DB and
 * then the SQLite file of the data folder. */
void db_select(const char *url);
/* Process-wide configuration; must be set before the first db_thread(). */
int  db_configure(const char *data_dir, char *err, unsigned errcap);
const db_config *db_get_config(void);
/* "sqlite" or "postgresql" (health answer, operators' messages). */
const char *db_backend(void);
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
/* A statement for a result too large to hold in memory (an export of every
 * person): stepped like any other, but PostgreSQL hands its rows over in
 * batches through a cursor instead of all at once, and other statements may
 * still run on the connection between steps. Reset it (or step it to the end)
 * when done: a reset in the middle closes the cursor. SQLite steps every
 * statement row by row anyway: there it is db_prep. */
db_stmt *db_prep_stream(db *d, const char *sql);
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
/* A number for D's current outermost transaction, unique on D (0 outside
 * one): lets a caller remember something for the rest of a transaction. */
uint64_t db_tx_id(db *d);

/* The generation of rarely written shared data (code and region names, the
 * user behind a session, a few settings). Per-thread caches of it keep their
 * copy stamped with this number and reload when it has moved on, or after a
 * few seconds at most (so that what another node wrote is seen soon). A
 * module that writes such data calls db_cache_invalidate(D) after the write:
 * inside a transaction the generation moves when the transaction commits (a
 * reload in between would still read the old rows), outside one at once. */
uint64_t db_cache_gen(void);
/* SQLite: WAL checkpoints in a background thread instead of inside the
 * commits of connections opened afterwards (`vets serve`); a no-op on
 * PostgreSQL. Stop after the last connection that writes is done. */
int  db_checkpointer_start(void);
void db_checkpointer_stop(void);
void db_cache_invalidate(db *d);

/* Helpers for the common shapes. */
int64_t db_query_int(db *d, const char *sql, const char *arg, int64_t dflt);

/* Several nodes. With SQLite one process holds the database and db_begin
 * already serialises writers, so these are no-ops; with PostgreSQL they are
 * advisory locks, keyed by a hash of KEY, visible to every node.
 * db_lock_serial: inside a transaction, waits until no other transaction holds
 * KEY, and holds it until this one ends (pg_advisory_xact_lock): for sections
 * that read then write a global sequence, such as the audit hash chain.
 * db_try_lock_job: takes KEY for the life of this connection without waiting;
 * false while another node holds it (pg_try_advisory_lock): one node runs a
 * background job, another takes over when it dies. Calling it again while
 * holding is cheap and answers true. */
int  db_lock_serial(db *d, const char *key);
bool db_try_lock_job(db *d, const char *key);
void db_unlock_job(db *d, const char *key);
/* True when other processes may share the database (PostgreSQL): state every
 * node must see, such as rate-limit counters, is kept in it then. */
bool db_shared(db *d);
/* Serving nodes and commands that must run alone. `vets serve` calls
 * db_node_join once at start; the lock is held (shared) for the life of that
 * connection. A maintenance command (vets rekey) calls db_node_alone: false
 * while any node holds it, else held (exclusively) until the command ends, so
 * no node starts meanwhile. PostgreSQL: session advisory locks, across every
 * machine; SQLite: always true (one machine: the data folder's lock and
 * SQLite's own locks say it). */
bool db_node_join(db *d);
bool db_node_alone(db *d);

/* Bulk loads of the register (the demo generator, migrate-db), inside their
 * transaction: db_tally_hold sets the tally triggers aside where counting row
 * by row is slow (PostgreSQL, when we own the tables; see tally.c) and
 * returns 1, or 0 when they stay on, -1 on error; db_tally_recount(d, held)
 * then counts every tally again and puts the triggers back (nothing when
 * held is 0). Returns 0 or -1. */
int  db_tally_hold(db *d);
int  db_tally_recount(db *d, int held);

/* Online backup into PATH (consistent while writers run; SQLite only). */
int  db_backup_to(db *d, const char *path, char *err, unsigned errcap);
#endif
