/* Re-sealing of the registry's encrypted columns with the current key, for
 * `vets rekey` (key rotation). Runs in one transaction: either every value is
 * under the new key or none is. Blind indexes keep their key, so they stay.
 * The users' second-factor secrets are sealed with the same keys and are
 * re-sealed here too; a final scan makes sure no value anywhere is left
 * under an old key before `vets rekey` prunes it. */
#include "registry/internal.h"
#include "base/fieldcrypt.h"
#include <stdio.h>
#include <string.h>

/* The second-factor secrets (src/auth/totp.c) are sealed with the same keys,
 * bound to "users.totp|<id>" and "users.totp_pending|<id>": re-sealed here too,
 * or pruning the old key would lock every enrolled user out. */
static const struct { const char *sel, *upd, *ctx; } user_cols[] = {
    {"SELECT id, totp_secret FROM users WHERE id > ? AND totp_secret IS NOT NULL ORDER BY id LIMIT 200",
     "UPDATE users SET totp_secret = ? WHERE id = ?", "users.totp"},
    {"SELECT id, totp_pending FROM users WHERE id > ? AND totp_pending IS NOT NULL ORDER BY id LIMIT 200",
     "UPDATE users SET totp_pending = ? WHERE id = ?", "users.totp_pending"},
};

static int reseal_users(db *d, int64_t *count, char *err, size_t errcap) {
    for (size_t c = 0; c < sizeof user_cols / sizeof *user_cols; c++) {
        int64_t last = 0;
        for (;;) {
            arena *a = arena_new(1 << 14);
            db_stmt *s = db_prep(d, user_cols[c].sel);
            if (!s) { snprintf(err, errcap, "数据库结构不是最新：请先启动一次服务（完成迁移）再轮换密钥"); arena_free(a); return -1; }
            db_bind_int(s, 1, last);
            int64_t ids[200]; char *enc[200]; int n = 0;
            while (n < 200 && db_step(s) == DB_ROW) { ids[n] = db_col_int(s, 0); enc[n] = arena_strdup(a, db_col_text(s, 1)); n++; }
            db_reset(s);
            if (!n) { arena_free(a); break; }
            for (int i = 0; i < n; i++) {
                const char *ctx = arena_printf(a, "%s|%lld", user_cols[c].ctx, (long long)ids[i]);
                char *plain = fc_open(a, enc[i], ctx);
                if (!plain) {
                    snprintf(err, errcap, "用户 %lld 的双因素密钥无法解开（密钥不符或数据被篡改），已中止", (long long)ids[i]);
                    arena_free(a); return -1;
                }
                s = db_prep(d, user_cols[c].upd);
                db_bind_text(s, 1, fc_seal(a, plain, ctx)); db_bind_int(s, 2, ids[i]);
                int rc = db_step(s); db_reset(s);
                if (rc != DB_DONE) { snprintf(err, errcap, "写入失败"); arena_free(a); return -1; }
                (*count)++;
            }
            last = ids[n - 1];
            arena_free(a);
        }
    }
    return 0;
}

/* Fails when any text in any table is still a value sealed under another key
 * than the current one (a sealed column this file does not know of). Reads
 * SQLite's catalogue: not run on PostgreSQL. */
static int stale_sealed(db *d, char *err, size_t errcap) {
    arena *a = arena_new(1 << 14);
    db_stmt *s = db_prep(d, "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p "
                            "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' ORDER BY m.name, p.cid");
    char *tables[128], *where[128]; int nt = 0;
    while (db_step(s) == DB_ROW) {
        const char *t = db_col_text(s, 0), *c = db_col_text(s, 1);
        if (strchr(t, '"') || strchr(c, '"')) continue;
        if (!nt || strcmp(tables[nt - 1], t) != 0) {
            if (nt == 128) break;
            tables[nt] = arena_strdup(a, t); where[nt] = arena_strdup(a, ""); nt++;
        }
        where[nt - 1] = arena_printf(a, "%s%s(\"%s\" GLOB 'v1:*:*:*:*' AND \"%s\" NOT GLOB ?1)",
                                     where[nt - 1], *where[nt - 1] ? " OR " : "", c, c);
    }
    db_reset(s);
    const char *cur = arena_printf(a, "v1:%s:*", fc_current_kid());
    for (int i = 0; i < nt; i++) {
        s = db_prep(d, db_intern(arena_printf(a, "SELECT COUNT(*) FROM \"%s\" WHERE %s", tables[i], where[i])));
        if (!s) continue;
        db_bind_text(s, 1, cur);
        int64_t n = db_step(s) == DB_ROW ? db_col_int(s, 0) : 0;
        db_reset(s);
        if (n > 0) {
            snprintf(err, errcap, "表 %s 中仍有 %lld 个值用旧密钥加密（本命令不认识的加密字段），已中止以免旧密钥删除后无法解密",
                     tables[i], (long long)n);
            arena_free(a); return -1;
        }
    }
    arena_free(a);
    return 0;
}

/* True when no other connection has the database open. Leaving WAL mode
 * needs exclusive access, so it fails at once while a server (or any other
 * program) holds the database; WAL mode is restored right after. */
static bool alone(db *d) {
    db_stmt *s = db_prep(d, "PRAGMA journal_mode=DELETE");
    bool ok = db_step(s) == DB_ROW && strcmp(db_col_text(s, 0), "delete") == 0;
    db_reset(s);
    s = db_prep(d, "PRAGMA journal_mode=WAL");
    db_step(s); db_reset(s);
    return ok;
}

int registry_reseal(int64_t *count, char *err, size_t errcap) {
    db *d = db_thread();
    *count = 0;
    /* A running server keeps the old key in memory and would go on sealing
     * with it after the old key is pruned from the file: refuse. (SQLite
     * only: with PostgreSQL the operator must stop every node.) */
    if (!db_shared(d) && !alone(d)) {
        snprintf(err, errcap, "数据库正被其他程序使用（服务正在运行？）：请先停止服务再轮换密钥");
        return -1;
    }
    if (db_begin(d) != DB_OK) { snprintf(err, errcap, "数据库忙"); return -1; }
    int iid = pfield_index("id_number"), ibank = pfield_index("bank_account");
    const struct pfield *fid = &person_fields[iid], *fbank = &person_fields[ibank];
    int64_t last = 0;
    arena *a = arena_new(1 << 16);
    for (;;) {
        /* Batches by id keep memory flat; the statement is not held across updates. */
        db_stmt *s = db_prep(d, "SELECT id, id_enc, bank_enc, id_hash FROM persons WHERE id > ? ORDER BY id LIMIT 500");
        db_bind_int(s, 1, last);
        int64_t ids[500]; char *ide[500], *bke[500], *hsh[500]; int n = 0;
        while (db_step(s) == DB_ROW && n < 500) {
            ids[n] = db_col_int(s, 0);
            ide[n] = arena_strdup(a, db_col_text(s, 1)); bke[n] = arena_strdup(a, db_col_text(s, 2));
            hsh[n] = arena_strdup(a, db_col_text(s, 3));
            n++;
        }
        db_reset(s);
        if (!n) break;
        for (int i = 0; i < n; i++) {
            char *idn = person_unseal(a, fid, ide[i], hsh[i], ids[i]);
            char *bank = bke[i] ? person_unseal(a, fbank, bke[i], hsh[i], ids[i]) : NULL;
            if (!idn || (bke[i] && !bank)) {
                snprintf(err, errcap, "档案 %lld 的加密字段无法解开（密钥不符或数据被篡改），已中止", (long long)ids[i]);
                db_rollback(d); arena_free(a); return -1;
            }
            s = db_prep(d, "UPDATE persons SET id_enc = ?, bank_enc = ? WHERE id = ?");
            db_bind_text(s, 1, fc_seal(a, idn, arena_printf(a, "persons.%s|%s", fid->key, hsh[i])));
            db_bind_text(s, 2, bank ? fc_seal(a, bank, arena_printf(a, "persons.%s|%s", fbank->key, hsh[i])) : NULL);
            db_bind_int(s, 3, ids[i]);
            int rc = db_step(s); db_reset(s);
            if (rc != DB_DONE) { snprintf(err, errcap, "写入失败"); db_rollback(d); arena_free(a); return -1; }
            (*count)++;
        }
        last = ids[n - 1];
        arena_free(a); a = arena_new(1 << 16);
    }
    last = 0;
    for (;;) {
        db_stmt *s = db_prep(d, "SELECT id, person_id, id_enc, id_hash FROM household_members WHERE id > ? AND id_enc IS NOT NULL ORDER BY id LIMIT 500");
        db_bind_int(s, 1, last);
        int64_t ids[500], pids[500]; char *enc[500], *hsh[500]; int n = 0;
        while (db_step(s) == DB_ROW && n < 500) {
            ids[n] = db_col_int(s, 0); pids[n] = db_col_int(s, 1);
            enc[n] = arena_strdup(a, db_col_text(s, 2)); hsh[n] = arena_strdup(a, db_col_text(s, 3));
            n++;
        }
        db_reset(s);
        if (!n) break;
        for (int i = 0; i < n; i++) {
            const char *ctx = arena_printf(a, "household.id_number|%lld|%s", (long long)pids[i], hsh[i]);
            char *idn = fc_open(a, enc[i], ctx);
            if (!idn) { snprintf(err, errcap, "家庭成员 %lld 的证件号码无法解开，已中止", (long long)ids[i]); db_rollback(d); arena_free(a); return -1; }
            s = db_prep(d, "UPDATE household_members SET id_enc = ? WHERE id = ?");
            db_bind_text(s, 1, fc_seal(a, idn, ctx)); db_bind_int(s, 2, ids[i]);
            int rc = db_step(s); db_reset(s);
            if (rc != DB_DONE) { snprintf(err, errcap, "写入失败"); db_rollback(d); arena_free(a); return -1; }
            (*count)++;
        }
        last = ids[n - 1];
        arena_free(a); a = arena_new(1 << 16);
    }
    arena_free(a);
    if (reseal_users(d, count, err, errcap) != 0) { db_rollback(d); return -1; }
    /* Nothing may be left under an older key: `vets rekey` prunes the old
     * keys afterwards, and a value still sealed with one would be lost. */
    if (!db_shared(d) && stale_sealed(d, err, errcap) != 0) { db_rollback(d); return -1; }
    if (audit_event_as(NULL, "rekey", "127.0.0.1", "system.rekey", "keys", fc_current_kid(), "ok",
                       json_pack("{s:I}", "values", (json_int_t)*count)) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d); snprintf(err, errcap, "提交失败"); return -1;
    }
    return 0;
}
