/* The tallies (migration 0005) during a bulk load. Their triggers count every
 * person and category as it is written, which is what keeps forms, imports and
 * every other writer exact. A bulk writer that fills the register in one
 * transaction (the demo generator, `vets migrate-db`) is different on
 * PostgreSQL: each trigger updates the same few tally rows again and again in
 * one transaction, and a row updated N times in a transaction leaves N
 * versions that no one can prune until it commits, so every later update
 * walks the versions and index entries of the earlier ones: the load grows
 * with the square of its size (100 000 persons 91 s, a million not done in 24
 * minutes). So the bulk writer sets the triggers aside inside its transaction
 * and counts once at the end; ALTER TABLE is transactional, so a rollback
 * puts them back as they were, and other sessions wait on the table lock
 * rather than see rows the tallies miss.
 *
 * SQLite updates a row in place: its triggers cost a few microseconds a row
 * and stay on. Setting triggers aside needs the tables' owner (the role that
 * runs the migrations); another role keeps the triggers, slower but exact. */
#include "db/db.h"
#include <stdio.h>

/* The tally triggers are those calling the two functions of
 * migrations_pg/0005_tallies.sql; read from the catalog, so a trigger added
 * by a later migration is set aside too and no list here repeats their names. */
static int set_triggers(db *d, const char *how) {
    char names[16][2][64];
    int n = 0;
    db_stmt *s = db_prep(d, "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname IN ('vets_person_tally', 'vets_category_tally') "
                            "AND c.relnamespace = current_schema()::regnamespace ORDER BY 1, 2");
    while (s && db_step(s) == DB_ROW && n < 16) {
        snprintf(names[n][0], sizeof names[n][0], "%s", db_col_text(s, 0));
        snprintf(names[n][1], sizeof names[n][1], "%s", db_col_text(s, 1));
        n++;
    }
    if (s) db_reset(s);
    if (n == 0) return -1;   /* the migration made six: none means another schema */
    for (int i = 0; i < n; i++) {
        char sql[256];   /* identifiers from the catalog, quoted; DDL takes no parameters */
        snprintf(sql, sizeof sql, "ALTER TABLE \"%.63s\" %.7s TRIGGER \"%.63s\"", names[i][0], how, names[i][1]);
        if (db_exec(d, sql) != DB_OK) return -1;
    }
    return 0;
}

int db_tally_hold(db *d) {
    if (!db_shared(d) || !db_in_tx(d)) return 0;
    /* Both tables owned by us (directly or through a role we belong to). */
    int64_t owned = db_query_int(d,
        "SELECT COUNT(*) FROM pg_class c WHERE c.relname IN ('persons', 'person_categories') "
        "AND c.relnamespace = current_schema()::regnamespace AND pg_has_role(current_user, c.relowner, 'USAGE')", NULL, 0);
    if (owned != 2) return 0;
    return set_triggers(d, "DISABLE") == 0 ? 1 : -1;
}

int db_tally_recount(db *d, int held) {
    if (held <= 0) return held;
    if (db_exec(d, "DELETE FROM person_tally") != DB_OK || db_exec(d, "DELETE FROM category_tally") != DB_OK) return -1;
    /* The same counts as migration 0005 fills them with. */
    if (db_exec(d, "INSERT INTO person_tally(region_code, status, complete, n) "
                   "SELECT region_code, status, CASE WHEN missing_count = 0 THEN 1 ELSE 0 END, COUNT(*) "
                   "FROM persons GROUP BY region_code, status, CASE WHEN missing_count = 0 THEN 1 ELSE 0 END") != DB_OK)
        return -1;
    if (db_exec(d, "INSERT INTO category_tally(region_code, category, n) "
                   "SELECT p.region_code, c.category, COUNT(*) FROM person_categories c JOIN persons p ON p.id = c.person_id "
                   "WHERE c.valid_to IS NULL GROUP BY p.region_code, c.category") != DB_OK)
        return -1;
    return set_triggers(d, "ENABLE");
}
