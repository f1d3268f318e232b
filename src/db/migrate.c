/* Migration runner (see migrate.h). */
#include "db/migrate.h"
#include "base/timeutil.h"
#include <stdio.h>

int migrate_latest(void) {
    int v = 0;
    for (const struct migration *m = vets_migrations; m->sql; m++) if (m->version > v) v = m->version;
    return v;
}

static int ensure_table(db *d) {
    return db_exec(d, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                      "name TEXT NOT NULL, applied_at TEXT NOT NULL)");
}

int migrate_current(db *d) {
    ensure_table(d);
    return (int)db_query_int(d, "SELECT MAX(version) FROM schema_migrations", NULL, 0);
}

int migrate_up(db *d, char *err, unsigned errcap) { return migrate_up_to(d, 1 << 30, err, errcap); }

int migrate_up_to(db *d, int max, char *err, unsigned errcap) {
    if (ensure_table(d) != DB_OK) {
        snprintf(err, errcap, "无法创建迁移记录表：%s", db_errmsg(d));
        return -1;
    }
    int cur = migrate_current(d), applied = 0;
    for (const struct migration *m = vets_migrations; m->sql; m++) {
        if (m->version <= cur || m->version > max) continue;
        if (db_begin(d) != DB_OK || db_exec(d, m->sql) != DB_OK) {
            snprintf(err, errcap, "数据库迁移 %s 失败：%s", m->name, db_errmsg(d));
            db_rollback(d);
            return -1;
        }
        db_stmt *s = db_prep(d, "INSERT INTO schema_migrations(version, name, applied_at) "
                                "VALUES (?, ?, ?)");
        char ts[21]; iso_utc(now_unix(), ts);
        db_bind_int(s, 1, m->version);
        db_bind_text(s, 2, m->name);
        db_bind_text(s, 3, ts);
        int rc = db_step(s);
        db_reset(s);
        if (rc != DB_DONE || db_commit(d) != DB_OK) {
            snprintf(err, errcap, "数据库迁移 %s 记录失败", m->name);
            db_rollback(d);
            return -1;
        }
        applied++;
    }
    return applied;
}
