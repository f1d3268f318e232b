/* Demo persons: plausible files for trying the product and for benchmarks.
 * Valid, unique ID numbers (mostly 330482, older people under the former
 * codes 330422 and 332122), names drawn by frequency from data/demo, service
 * records consistent with birth dates and the rank scheme in force, and
 * categories in realistic proportions. Deterministic for a given seed.
 * It writes through person_insert_bulk (no per-row audit: one audit row for
 * the batch) so a million persons load in well under a minute. */
#include "registry/internal.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "io/table_read.h"
#include "modules.h"
#include "std/cdate.h"
#include "std/idcard.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wpick { char s[16]; int w; };
struct rng { uint64_t x; };
static uint32_t rnd(struct rng *r) { r->x ^= r->x << 13; r->x ^= r->x >> 7; r->x ^= r->x << 17; return (uint32_t)(r->x >> 16); }
static int rndi(struct rng *r, int n) { return n > 0 ? (int)(rnd(r) % (uint32_t)n) : 0; }
static bool chance(struct rng *r, int per_mille) { return rndi(r, 1000) < per_mille; }

static int load_list(const char *path, struct wpick **out, int wcol) {
    char e[256];
    table_reader *t = table_open(path, e, sizeof e);
    if (!t) return -1;
    int n = 0, cap = 512;
    *out = calloc((size_t)cap, sizeof **out);
    const char *const *c; int nc, row, first = 1;
    while (table_next(t, &c, &nc, &row, e, sizeof e) == 1) {
        if (first) { first = 0; continue; }
        if (nc < 2 || n >= cap) continue;
        snprintf((*out)[n].s, sizeof (*out)[n].s, "%s", c[0]);
        (*out)[n].w = wcol ? atoi(c[1]) : (c[1][0] == 'm' ? 1 : c[1][0] == 'f' ? 2 : 3);
        n++;
    }
    table_close(t);
    return n;
}

static const char *pick_weighted(struct rng *r, struct wpick *l, int n, int total) {
    int x = rndi(r, total);
    for (int i = 0; i < n; i++) { x -= l[i].w; if (x < 0) return l[i].s; }
    return l[n - 1].s;
}

static const char *pick_char(struct rng *r, struct wpick *l, int n, int sex) {
    for (int tries = 0; tries < 20; tries++) {
        struct wpick *p = &l[rndi(r, n)];
        if (p->w == 3 || p->w == sex) return p->s;
    }
    return l[rndi(r, n)].s;
}

/* A unique valid ID number for the birth date, region prefix and sex. */
struct idset { char (*slot)[19]; size_t cap; };
static bool idset_add(struct idset *s, const char *id) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = id; *p; p++) { h ^= (unsigned char)*p; h *= 1099511628211ull; }
    for (size_t i = h % s->cap;; i = (i + 1) % s->cap) {
        if (!s->slot[i][0]) { memcpy(s->slot[i], id, 19); return true; }
        if (!memcmp(s->slot[i], id, 18)) return false;
    }
}

static void make_id(struct rng *r, struct idset *set, const char *pre, int y, int m, int d, int sex, char out[19]) {
    for (;;) {
        int seq = rndi(r, 500) * 2 + (sex == 1 ? 1 : 0);   /* odd for men, even for women */
        if (seq == 0) seq = 2;
        char body[40];
        snprintf(body, sizeof body, "%.6s%04d%02d%02d%03d", pre, y, m, d, seq % 1000);
        char ck = idcard_check_char(body);
        memcpy(out, body, 17); out[17] = ck; out[18] = 0;
        if (idset_add(set, out)) return;
    }
}

/* A bulk load, set up around the one transaction of the demo.
 *  - The secondary indexes of the four tables the demo fills are dropped for
 *    the load and built again before the commit: keyed by HMACs and names they
 *    take every insert to a random page, while CREATE INDEX sorts once. Their
 *    definitions are read back from sqlite_master, so they stay exactly those
 *    of the migrations; DDL is transactional in SQLite, so a failed load rolls
 *    back to the indexes as they were. The UNIQUE and PRIMARY KEY indexes
 *    (id_hash, person_grams) stay: they enforce constraints.
 *  - A rollback journal instead of WAL for the load: new pages go straight to
 *    the database file (a rollback journal holds only the few pages that
 *    existed before), instead of a WAL of the whole database that is copied
 *    again by the checkpoint and read back through its hash by CREATE INDEX.
 *    It is as durable: the commit syncs journal and database as configured,
 *    and a crash leaves a hot journal that the next open rolls back. WAL is
 *    set again after the commit (and by every open: db_sqlite.c). Switching
 *    needs the database to ourselves; when it is shared the load stays in WAL.
 *  - No foreign-key checks during the load: every reference it writes is an
 *    id just returned by the insert of its person, or a village read from
 *    regions. Checked, the grams written in key order would look up their
 *    persons in random order, which was half the time of writing them.
 *  - A larger page cache for the rows, so the id_hash index stays in memory;
 *    a small one for CREATE INDEX, whose sort runs in about half the time in
 *    small runs merged (measured on a million persons; a sorter thread did
 *    not help). The configured size after.
 * On PostgreSQL (when we own the tables: the role that ran the migrations)
 * the same secondary indexes are dropped and built again in the transaction
 * (DDL is transactional there too; pg_get_indexdef gives their definitions,
 * constraint indexes stay), and the tally triggers are set aside and the
 * tallies counted once before the commit (db_tally_hold: counted row by row in
 * one transaction they make the load quadratic). The grams are buffered on
 * both (person_bulk_grams). */
struct bulk { bool sqlite, journal, fk; int tally; int64_t cache; char *sql[32]; int n; };

/* The secondary indexes of the tables the demo fills, with their definitions. */
static const char *const index_sql_sqlite =
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN "
    "('persons', 'person_grams', 'person_categories', 'household_members') ORDER BY name";
static const char *const index_sql_pg =
    "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
    "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname IN ('persons', 'person_grams', 'person_categories', 'household_members') "
    "AND t.relnamespace = current_schema()::regnamespace AND pg_has_role(current_user, t.relowner, 'USAGE') "
    "AND NOT x.indisprimary AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) ORDER BY 1";

/* Before the transaction (these pragmas do nothing inside one). */
static int bulk_setup(db *d, struct bulk *b) {
    memset(b, 0, sizeof *b);
    b->sqlite = strcmp(db_backend(), "sqlite") == 0;
    if (!b->sqlite) return 0;
    b->cache = db_query_int(d, "PRAGMA cache_size", NULL, -16000);
    /* 64 MiB: the id_hash keys of a million persons (43 MB) with room to spare. */
    if (db_exec(d, "PRAGMA cache_size = -65536") != DB_OK) return -1;
    b->fk = db_query_int(d, "PRAGMA foreign_keys", NULL, 1) != 0;
    if (b->fk && db_exec(d, "PRAGMA foreign_keys = OFF") != DB_OK) return -1;
    if (!db_in_tx(d)) {
        db_stmt *s = db_prep(d, "PRAGMA journal_mode = TRUNCATE");
        b->journal = s && db_step(s) == DB_ROW && db_col_text(s, 0) && strcmp(db_col_text(s, 0), "truncate") == 0;
        if (s) db_reset(s);
    }
    return 0;
}

/* In the transaction: drops the secondary indexes, keeping their definitions
 * (and, on PostgreSQL, holds the tally triggers). */
static int bulk_drop(db *d, struct bulk *b) {
    if (!b->sqlite && (b->tally = db_tally_hold(d)) < 0) return -1;
    char (*names)[128] = calloc(32, sizeof *names);
    db_stmt *s = db_prep(d, b->sqlite ? index_sql_sqlite : index_sql_pg);
    while (db_step(s) == DB_ROW && b->n < 32) {
        snprintf(names[b->n], sizeof names[b->n], "%s", db_col_text(s, 0));
        b->sql[b->n++] = strdup(db_col_text(s, 1));
    }
    db_reset(s);
    int rc = 0;
    for (int i = 0; rc == 0 && i < b->n; i++) {
        /* An identifier from the schema itself, not input: DDL takes no parameters. */
        char drop[200];
        snprintf(drop, sizeof drop, "DROP INDEX \"%s\"", names[i]);
        if (db_exec(d, drop) != DB_OK) rc = -1;
    }
    free(names);
    return rc;
}

/* Builds the dropped indexes again and counts the tallies held (inside the
 * load's transaction). */
static int bulk_indexes(db *d, struct bulk *b) {
    if (b->sqlite && db_exec(d, "PRAGMA cache_size = -4096") != DB_OK) return -1;
    if (db_tally_recount(d, b->tally) != 0) return -1;
    for (int i = 0; i < b->n; i++)
        if (db_exec(d, b->sql[i]) != DB_OK) return -1;
    return 0;
}

/* After commit or rollback: WAL and the configured cache again. */
static void bulk_end(db *d, struct bulk *b) {
    if (b->sqlite) {
        if (b->journal && db_exec(d, "PRAGMA journal_mode = WAL") != DB_OK)
            log_error(NULL, "演示数据写入后未能恢复 WAL 模式（下次打开数据库时恢复）");
        if (b->fk) db_exec(d, "PRAGMA foreign_keys = ON");
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA cache_size = %lld", (long long)b->cache);   /* our own number */
        db_exec(d, sql);
    }
    for (int i = 0; i < b->n; i++) free(b->sql[i]);
    b->n = 0;
}

/* person_store.c: buffered grams for a bulk load (see there). */
int person_bulk_grams(bool on);

int registry_demo(const struct demo_opts *o, char *err, unsigned errcap) {
    if (o->persons <= 0) return 0;
    char path[1100];
    struct wpick *sur = NULL, *giv = NULL;
    snprintf(path, sizeof path, "%s/demo/surnames.csv", o->ref_dir);
    int nsur = load_list(path, &sur, 1);
    snprintf(path, sizeof path, "%s/demo/given_chars.csv", o->ref_dir);
    int ngiv = load_list(path, &giv, 0);
    if (nsur <= 0 || ngiv <= 0) { snprintf(err, errcap, "找不到演示姓名数据（%s/demo）", o->ref_dir); free(sur); free(giv); return -1; }
    int sur_total = 0;
    for (int i = 0; i < nsur; i++) sur_total += sur[i].w;
    db *d = db_thread();
    /* Villages of the home county: persons live there. */
    char (*vil)[13] = NULL; int nvil = 0, capv = 0;
    db_stmt *s = db_prep(d, "SELECT code FROM regions WHERE level = 'village' AND valid_to IS NULL ORDER BY code");
    while (db_step(s) == DB_ROW) {
        if (nvil == capv) { capv = capv ? capv * 2 : 256; vil = realloc(vil, (size_t)capv * sizeof *vil); }
        snprintf(vil[nvil++], 13, "%s", db_col_text(s, 0));
    }
    db_reset(s);
    if (!nvil) { snprintf(err, errcap, "没有村社区区划，无法生成演示人员"); free(sur); free(giv); return -1; }
    struct idset set = {NULL, (size_t)o->persons * 2 + 1024};
    set.slot = calloc(set.cap, sizeof *set.slot);
    struct rng rg = {0x9E3779B97F4A7C15ull ^ o->seed};
    int today = cdate_today_days(), ty, tm, td;
    cdate_from_days(today, &ty, &tm, &td);
    static const char *branches[] = {"01", "01", "01", "01", "02", "03", "04", "06"};
    static const char *streets[] = {"新华路", "建国路", "解放路", "东湖路", "南河路", "胜利路", "人民路", "环城路", "朝阳路", "长安路"};
    int64_t t0 = now_unix();
    struct bulk bk;
    if (bulk_setup(d, &bk) != 0 || db_begin(d) != DB_OK) {
        bulk_end(d, &bk);
        snprintf(err, errcap, "数据库忙"); free(sur); free(giv); free(vil); free(set.slot); return -1;
    }
    if (bulk_drop(d, &bk) != 0) {
        db_rollback(d); bulk_end(d, &bk);
        snprintf(err, errcap, "准备批量写入失败"); free(sur); free(giv); free(vil); free(set.slot); return -1;
    }
    person_bulk_grams(true);
    arena *a = arena_new(1 << 16);
    int64_t made = 0;
    for (long i = 0; i < o->persons; i++) {
        if ((i & 1023) == 0) { arena_free(a); a = arena_new(1 << 16); }
        struct pvals v; memset(&v, 0, sizeof v);
        #define SET(key, val) v.v[pfield_index(key)] = (val)
        /* Who: a veteran (most), a family member of a martyr or of an active serviceman. */
        int kind = rndi(&rg, 1000);
        bool family = kind >= 930;                /* 7 % dependants */
        int sex = family ? (chance(&rg, 800) ? 2 : 1) : (chance(&rg, 960) ? 1 : 2);
        int age = family ? 30 + rndi(&rg, 60) : 20 + (int)(rnd(&rg) % 76);
        if (!family && chance(&rg, 400)) age = 22 + rndi(&rg, 30);   /* more young veterans */
        int by = ty - age, bm = 1 + rndi(&rg, 12), bd = 1 + rndi(&rg, 28);
        const char *pre = "330482";
        if (by < 1975) { int p = rndi(&rg, 100); pre = p < 35 ? "330422" : p < 45 ? "332122" : "330482"; }
        char idn[19];
        make_id(&rg, &set, pre, by, bm, bd, sex, idn);
        const char *surname = pick_weighted(&rg, sur, nsur, sur_total);
        const char *g1 = pick_char(&rg, giv, ngiv, sex), *g2 = chance(&rg, 700) ? pick_char(&rg, giv, ngiv, sex) : "";
        SET("name", arena_printf(a, "%s%s%s", surname, g1, g2));
        SET("id_number", arena_strdup(a, idn));
        SET("sex", sex == 1 ? "1" : "2");
        SET("birth_date", arena_printf(a, "%04d-%02d-%02d", by, bm, bd));
        static const char *minority[] = {"03", "04", "05", "08", "11"};
        SET("ethnic", chance(&rg, 985) ? "01" : minority[rndi(&rg, 5)]);
        const char *village = vil[rndi(&rg, nvil)];
        SET("region_code", arena_strdup(a, village));
        bool rural = chance(&rg, 550);
        SET("hukou_type", rural ? "2" : "1");
        const char *addr = arena_printf(a, "平湖市%s%d号", streets[rndi(&rg, 10)], 1 + rndi(&rg, 300));
        SET("hukou_address", addr);
        if (chance(&rg, 930)) SET("current_address", addr);
        static const int second[] = {3, 5, 7, 8, 9};
        if (chance(&rg, 940)) SET("phone", arena_printf(a, "1%d%09d", second[rndi(&rg, 5)], rndi(&rg, 1000000000)));
        SET("status", "1");
        if (age > 80 && chance(&rg, 120)) { SET("status", "2"); SET("status_date", arena_printf(a, "%04d-%02d-%02d", ty - rndi(&rg, 3), 1 + rndi(&rg, 12), 1 + rndi(&rg, 28))); }
        bool has_service = !family;
        const char *cat = NULL, *cat2 = NULL;
        int grade = 0; const char *cause = NULL;
        if (has_service) {
            int ey = by + 18 + rndi(&rg, 3);
            int years = chance(&rg, 700) ? 2 + rndi(&rg, 4) : 5 + rndi(&rg, 16);
            int dy = ey + years;
            if (dy > ty) dy = ty - rndi(&rg, 2), years = dy - ey;
            if (years < 1) years = 1, dy = ey + 1;
            const char *ed = arena_printf(a, "%04d-%02d-%02d", ey, (int[]){3, 9, 12}[rndi(&rg, 3)], 1 + rndi(&rg, 28));
            const char *dd = arena_printf(a, "%04d-%02d-%02d", dy, (int[]){3, 9, 12}[rndi(&rg, 3)], 1 + rndi(&rg, 28));
            if (strcmp(dd, ed) <= 0) dd = arena_printf(a, "%04d-12-31", dy + 1 > ty - 1 ? ty - 1 : dy + 1);
            /* Never in the future: today's recruits have not been discharged yet. */
            char lim[11]; cdate_iso(today - 30, lim);
            if (strcmp(dd, lim) > 0) dd = arena_strdup(a, lim);
            if (strcmp(ed, dd) >= 0) ed = arena_printf(a, "%04d-03-01", ey - 1);
            if (chance(&rg, 970)) SET("service.enlist_date", ed);
            if (chance(&rg, 970) && v.v[pfield_index("service.enlist_date")]) SET("service.discharge_date", dd);
            if (chance(&rg, 960)) SET("service.branch", branches[rndi(&rg, 8)]);
            bool new_scheme = strcmp(dd, "2022-03-31") >= 0;   /* demo names only; the code comes from rank.csv */
            const char *rank;
            if (years <= 2) rank = chance(&rg, 500) ? "上等兵" : "列兵";
            else if (years <= 5) rank = "下士";
            else if (years <= 8) rank = "中士";
            else if (years <= 12) rank = new_scheme ? "二级上士" : "上士";
            else rank = new_scheme ? "一级上士" : "四级军士长";
            if (chance(&rg, 30)) rank = (const char *[]){"中尉", "上尉", "少校"}[rndi(&rg, 3)];
            SET("service.rank_text", rank);
            const char *dt = years <= 2 ? (chance(&rg, 900) ? "C1" : "C2") : years >= 12 ? (chance(&rg, 500) ? "N3" : "N1") : "N2";
            if (by < 1960) dt = (const char *[]){"L06", "L07"}[rndi(&rg, 2)];
            if (chance(&rg, 950)) SET("service.discharge_type", dt);
            if (chance(&rg, 350)) SET("service.awards.peace.commendation", arena_printf(a, "%d", 1 + rndi(&rg, 3)));
            if (chance(&rg, 60)) SET("service.awards.peace.third", "1");
            if (chance(&rg, 8)) SET("service.awards.peace.second", "1");
            if (chance(&rg, 80)) { SET("service.hardship_class", arena_printf(a, "%d", 1 + rndi(&rg, 6))); SET("service.hardship_months", arena_printf(a, "%d", 6 + rndi(&rg, 60))); }
            /* Categories by era and circumstance. */
            if (by >= 1945 && by <= 1966 && chance(&rg, 90)) { cat = "5"; SET("service.combat_days", arena_printf(a, "%d", 10 + rndi(&rg, 300))); }
            else if (chance(&rg, 30)) { cat = "1"; int c3 = rndi(&rg, 10); cause = c3 < 3 ? "1" : c3 < 8 ? "2" : "3"; grade = strcmp(cause, "3") == 0 ? 1 + rndi(&rg, 6) : 1 + rndi(&rg, 10); }
            else if (by < 1950 && chance(&rg, 150)) cat = "41";
            else if (by < 1965 && chance(&rg, 40)) cat = "42";
            else if (by < 1965 && chance(&rg, 10)) cat = "6";
            else cat = "96";
            if (rural && age >= 60 && chance(&rg, 500)) cat2 = "8";
        } else {
            int f = rndi(&rg, 100);
            cat = f < 15 ? "21" : f < 22 ? "22" : f < 30 ? "23" : "95";
        }
        if (!chance(&rg, 25)) v.v[pfield_index("service.rank_code")] = NULL;
        bool fam_only = family;
        int64_t pid = person_insert_bulk(a, &v, true, fam_only, "demo");
        if (pid < 0) { snprintf(err, errcap, "写入演示人员失败"); goto fail; }
        for (int c = 0; c < 2; c++) {
            const char *cc = c == 0 ? cat : cat2;
            if (!cc) continue;
            s = db_prep(d, "INSERT INTO person_categories(person_id, category, valid_from, disability_cause, disability_grade, "
                           "certificate_no, deceased_name, relation, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)");
            db_bind_int(s, 1, pid); db_bind_text(s, 2, cc);
            db_bind_text(s, 3, arena_printf(a, "%04d-%02d-01", ty - rndi(&rg, 20), 1 + rndi(&rg, 12)));
            db_bind_text(s, 4, c == 0 ? cause : NULL);
            if (c == 0 && grade) db_bind_int(s, 5, grade); else db_bind_null(s, 5);
            db_bind_text(s, 6, c == 0 && (grade || strcmp(cc, "96")) ? arena_printf(a, "浙%08d", rndi(&rg, 100000000)) : NULL);
            bool fam = !strcmp(cc, "21") || !strcmp(cc, "22") || !strcmp(cc, "23");
            db_bind_text(s, 7, fam ? arena_printf(a, "%s%s", pick_weighted(&rg, sur, nsur, sur_total), pick_char(&rg, giv, ngiv, 1)) : NULL);
            db_bind_text(s, 8, fam ? (const char *[]){"1", "2", "5"}[rndi(&rg, 3)] : NULL);
            char ts[21]; iso_utc(now_unix(), ts);
            db_bind_text(s, 9, ts); db_bind_text(s, 10, ts);
            if (db_step(s) != DB_DONE) { db_reset(s); snprintf(err, errcap, "写入演示类别失败"); goto fail; }
            db_reset(s);
        }
        if (has_service && age > 26 && chance(&rg, 600)) {
            s = db_prep(d, "INSERT INTO household_members(person_id, relation, name, sex, birth_date, created_at, updated_at) "
                           "VALUES (?, '1', ?, ?, ?, ?, ?)");
            char ts[21]; iso_utc(now_unix(), ts);
            db_bind_int(s, 1, pid);
            db_bind_text(s, 2, arena_printf(a, "%s%s%s", pick_weighted(&rg, sur, nsur, sur_total), pick_char(&rg, giv, ngiv, 3 - sex), pick_char(&rg, giv, ngiv, 3 - sex)));
            db_bind_text(s, 3, sex == 1 ? "2" : "1");
            db_bind_text(s, 4, arena_printf(a, "%04d-%02d-%02d", by + rndi(&rg, 5), 1 + rndi(&rg, 12), 1 + rndi(&rg, 28)));
            db_bind_text(s, 5, ts); db_bind_text(s, 6, ts);
            db_step(s); db_reset(s);
        }
        made++;
        #undef SET
    }
    if (person_bulk_grams(false) != 0) { snprintf(err, errcap, "写入姓名检索数据失败"); goto fail; }
    if (bulk_indexes(d, &bk) != 0) { snprintf(err, errcap, "重建索引或计数失败"); goto fail; }
    if (audit_event_as(NULL, "demo", "127.0.0.1", "person.demo_generate", "person", NULL, "ok",
                     json_pack("{s:I}", "count", (json_int_t)made)) != 0 || db_commit(d) != DB_OK) {
        snprintf(err, errcap, "提交演示人员失败");
        goto fail;
    }
    bulk_end(d, &bk);
    log_info(NULL, "演示人员 %lld 名，用时 %lld 秒", (long long)made, (long long)(now_unix() - t0));
    arena_free(a); free(sur); free(giv); free(vil); free(set.slot);
    return 0;
fail:
    person_bulk_grams(false);   /* into the transaction rolled back below */
    db_rollback(d);
    bulk_end(d, &bk);
    arena_free(a); free(sur); free(giv); free(vil); free(set.slot);
    return -1;
}
