/* Copy of a SQLite database into PostgreSQL (`vets migrate-db`), see copy.c. */
#ifndef VETS_DB_COPY_H
#define VETS_DB_COPY_H
#include "db/db.h"
#include <stdio.h>
/* Copies every table of the SQLite file SQLITE_PATH into the PostgreSQL
 * connection D (migrated to the same version, holding no data yet) in one
 * transaction, ids unchanged; one line per table to PROGRESS (may be NULL).
 * Returns the number of tables, or -1 with ERR set (nothing written). */
int db_copy_sqlite(const char *sqlite_path, db *d, FILE *progress, char *err, unsigned errcap);
#endif
