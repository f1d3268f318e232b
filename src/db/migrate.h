/* Schema migrations: numbered .sql files under src/db/migrations compiled into
 * the binary. An empty database gets all; an existing one the missing ones,
 * each in its own transaction, recorded in schema_migrations. */
#ifndef VETS_DB_MIGRATE_H
#define VETS_DB_MIGRATE_H
#include "db/db.h"
struct migration { int version; const char *name; const char *sql; };
extern const struct migration vets_migrations[];
/* Returns the number applied, or -1 (err gets the reason). */
int migrate_up(db *d, char *err, unsigned errcap);
/* Same, stopping at version MAX (tests of migrating an old data folder). */
int migrate_up_to(db *d, int max, char *err, unsigned errcap);
int migrate_current(db *d);
int migrate_latest(void);
#endif
