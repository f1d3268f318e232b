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

/* The tally triggers of migrations_pg/0005_tallies.sql. */
static const struct { const char *table, *trigger; } tally_triggers[] = {
    {"persons", "persons_tally_ins"},
    {"persons", "persons_tally_del"},
    {"persons", "persons_tally_upd"},
    {"person_categories", "categories_tally_ins"},
    {"person_categories", "categories_tally_del"},
    {"person_categories", "categories_tally_upd"},
};
#define N_TRIGGERS (sizeof tally_triggers / sizeof *tally_triggers)

static int set_triggers(db *d, const char *how) {
    for (size_t i = 0; i < N_TRIGGERS; i++) {
        char sql[160];   /* names from the table above; DDL takes no parameters */
        snprintf(sql, sizeof sql, "ALTER TABLE %s %s TRIGGER %s", tally_triggers[i].table, how, tally_triggers[i].trigger);
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
