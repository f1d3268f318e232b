/* Migration runner (see migrate.h).
 *
 * PostgreSQL runs the same numbered migrations: each SQLite file is translated
 * (pg_sql.h: column types, identity keys, triggers) and followed, in the same
 * transaction and under the same version, by src/db/migrations_pg/NNNN_*.sql
 * when that exists (what only PostgreSQL needs); SQLite likewise runs
 * src/db/migrations_sqlite/NNNN_*.sql after its own (triggers with bodies,
 * which the translation does not attempt). One migration list, one
 * version number on both databases, so `vets migrate-db` can check that a
 * copy goes between equal schemas, and a migration written for SQLite is
 * never forgotten on PostgreSQL.
 *
 * Several nodes may start at once: each migration is applied under the
 * "migrate" lock (db_lock_serial) after checking again that no other node has
 * applied it meanwhile. Only the role owning the schema can migrate; after
 * migrating, the application role gets its grants (see grants_sql). */
#include "db/migrate.h"
#include "db/db_impl.h"
#include "db/pg_sql.h"
#include "base/log.h"
#include "base/timeutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct migration vets_migrations_pg[];
extern const struct migration vets_migrations_sqlite[];

static bool is_pg(db *d) { return d->ops == &db_pg_ops; }

int migrate_latest(void) {
    int v = 0;
    for (const struct migration *m = vets_migrations; m->sql; m++) if (m->version > v) v = m->version;
    return v;
}

static const char schema_table[] = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                                   "name TEXT NOT NULL, applied_at TEXT NOT NULL)";

/* Checking first keeps a role that may not create tables (the application
 * role on PostgreSQL) away from DDL when there is nothing to create. */
static int ensure_table(db *d) {
    if (d->ops->has_table(d, "schema_migrations")) return DB_OK;
    if (!is_pg(d)) return db_exec(d, schema_table);
    char err[256];
    char *sql = pg_translate_ddl(schema_table, err, sizeof err);
    if (!sql) { log_error(NULL, "%s", err); return DB_ERROR; }
    int rc = db_begin(d);
    if (rc == DB_OK) rc = db_lock_serial(d, "migrate");
    if (rc == DB_OK && !d->ops->has_table(d, "schema_migrations")) rc = db_exec(d, sql);
    if (rc == DB_OK) rc = db_commit(d); else db_rollback(d);
    free(sql);
    return rc;
}

int migrate_current(db *d) {
    ensure_table(d);
    return (int)db_query_int(d, "SELECT MAX(version) FROM schema_migrations", NULL, 0);
}

/* The text to run for M on D's database (malloc), or NULL with ERR set. */
static char *migration_sql(db *d, const struct migration *m, char *err, unsigned errcap) {
    char *t = is_pg(d) ? pg_translate_ddl(m->sql, err, errcap) : strdup(m->sql);
    if (!t) return NULL;
    for (const struct migration *x = is_pg(d) ? vets_migrations_pg : vets_migrations_sqlite; x->sql; x++) {
        if (x->version != m->version) continue;
        size_t a = strlen(t), b = strlen(x->sql);
        char *both = realloc(t, a + b + 3);
        if (!both) { free(t); snprintf(err, errcap, "内存不足"); return NULL; }
        both[a] = ';'; both[a + 1] = '\n';
        memcpy(both + a + 2, x->sql, b + 1);
        t = both;
    }
    return t;
}

static bool applied_already(db *d, int version) {
    db_stmt *s = db_prep(d, "SELECT 1 FROM schema_migrations WHERE version = ?");
    db_bind_int(s, 1, version);
    bool yes = db_step(s) == DB_ROW;
    db_reset(s);
    return yes;
}

/* PostgreSQL: the application role (VETS_DB_APP_ROLE, default vets_app) may
 * read and write the tables, but on the audit trail only INSERT and SELECT,
 * on the request timeline the same, and requests are never deleted: even a
 * compromised server cannot rewrite history, and only the owner role (which
 * ran the migrations, and which the servers should not use) could drop the
 * triggers that say the same. Run by the owner after every migration run;
 * idempotent; a no-op for any other role or when the role does not exist. */
static const char grants_sql[] =
    "DO $vets$\n"
    "DECLARE\n"
    "  app text := coalesce(nullif(current_setting('vets.app_role', true), ''), 'vets_app');\n"
    "  sch text := current_schema();\n"
    "BEGIN\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner\n"
    "                 WHERE c.oid = to_regclass('audit') AND r.rolname = current_user) THEN RETURN; END IF;\n"
    "  IF app = current_user OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = app) THEN RETURN; END IF;\n"
    "  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', sch, app);\n"
    "  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', sch, app);\n"
    "  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', sch, app);\n"
    "  EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM %I', app);\n"
    "  EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM %I', app);\n"
    "  IF to_regclass('request_events') IS NOT NULL THEN\n"
    "    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON request_events FROM %I', app);\n"
    "  END IF;\n"
    "  IF to_regclass('requests') IS NOT NULL THEN\n"
    "    EXECUTE format('REVOKE DELETE, TRUNCATE ON requests FROM %I', app);\n"
    "  END IF;\n"
    "END\n"
    "$vets$";

static int grant_app_role(db *d) {
    const char *role = getenv("VETS_DB_APP_ROLE");
    int rc = db_begin(d);
    if (rc != DB_OK) return rc;
    db_stmt *s = db_prep(d, "SELECT set_config('vets.app_role', ?, true)");
    db_bind_text(s, 1, role ? role : "");
    rc = db_step(s) == DB_ROW ? DB_OK : DB_ERROR;
    db_reset(s);
    if (rc == DB_OK) rc = db_exec(d, grants_sql);
    if (rc == DB_OK) return db_commit(d);
    db_rollback(d);
    return rc;
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
        char *sql = migration_sql(d, m, err, errcap);
        if (!sql) return -1;
        if (db_begin(d) != DB_OK || db_lock_serial(d, "migrate") != DB_OK) {
            snprintf(err, errcap, "数据库迁移 %s 失败：%s", m->name, db_errmsg(d));
            db_rollback(d); free(sql);
            return -1;
        }
        if (is_pg(d) && applied_already(d, m->version)) {   /* another node was first */
            db_commit(d); free(sql);
            continue;
        }
        if (db_exec(d, sql) != DB_OK) {
            snprintf(err, errcap, "数据库迁移 %s 失败：%s%s", m->name, db_errmsg(d),
                     is_pg(d) ? "（PostgreSQL 须用拥有数据库的角色迁移，如 vets init --db postgresql://vets_owner@…）" : "");
            db_rollback(d); free(sql);
            return -1;
        }
        free(sql);
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
    if (is_pg(d) && grant_app_role(d) != DB_OK) {
        snprintf(err, errcap, "无法为应用角色授权：%s", db_errmsg(d));
        return -1;
    }
    return applied;
}
