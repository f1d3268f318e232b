/* Re-sealing of the registry's encrypted columns with the current key, for
 * `vets rekey` (key rotation). Runs in one transaction: either every value is
 * under the new key or none is. Blind indexes keep their key, so they stay. */
#include "registry/internal.h"
#include "base/fieldcrypt.h"
#include <stdio.h>
#include <string.h>

int registry_reseal(int64_t *count, char *err, size_t errcap) {
    db *d = db_thread();
    *count = 0;
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
            char *idn = person_unseal(a, fid, ide[i], hsh[i]);
            char *bank = bke[i] ? person_unseal(a, fbank, bke[i], hsh[i]) : NULL;
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
    if (audit_event_as(NULL, "rekey", "127.0.0.1", "system.rekey", "keys", fc_current_kid(), "ok",
                       json_pack("{s:I}", "values", (json_int_t)*count)) != 0 || db_commit(d) != DB_OK) {
        db_rollback(d); snprintf(err, errcap, "提交失败"); return -1;
    }
    return 0;
}
