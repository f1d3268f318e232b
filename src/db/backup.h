/* Online backup, restore, and the data folder's lock (SQLite deployments;
 * PostgreSQL is backed up with its own tools). See backup.c. */
#ifndef VETS_DB_BACKUP_H
#define VETS_DB_BACKUP_H
#include <stdbool.h>

/* Consistent copy of the configured database into OUT while writers run. */
int backup_file(const char *out, char *err, unsigned errcap);

/* Checks the staged copy of a restore (a folder holding vets.db), e.g. its
 * audit chain; returns 0 when it may go live. */
typedef int (*restore_check_fn)(const char *staged_dir, char *err, unsigned errcap);

/* Replaces DATA/vets.db by the backup FROM (DATA is created if missing).
 * Refuses while a server runs on DATA. */
int restore_file(const char *data, const char *from, restore_check_fn check, char *err, unsigned errcap);

/* The lock of the data folder (DATA/vets.lock, flock): `vets serve` holds it
 * shared for its whole life (several servers may share a folder), `vets
 * restore` takes it exclusively. Returns the descriptor to keep open, or -1
 * with ERR set when the other kind is held. */
int data_lock(const char *data, bool exclusive, char *err, unsigned errcap);
#endif
