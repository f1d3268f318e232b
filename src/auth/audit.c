/* The audit trail (安全审计). One row per state change, login, logout,
 * lockout, export, reveal and denied access, written in the same transaction
 * as the change it records. Rows are chained: hash = SM3(prev_hash | fields),
 * so a rewritten, removed or reordered row breaks the chain at that point and
 * `vets audit verify` names it. The database refuses UPDATE and DELETE. */
#include "auth/auth.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "db/db.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* The canonical text hashed for a row. Fields are length-prefixed so that no
 * choice of values can make two different rows hash alike. */
static char *canonical(const char *const f[13], const char *prev) {
    size_t n = 64;
    for (int i = 0; i < 13; i++) n += (f[i] ? strlen(f[i]) : 0) + 24;
    char *s = malloc(n), *o = s;
    for (int i = 0; i < 13; i++) {
        const char *v = f[i] ? f[i] : "";
        o += sprintf(o, "%zu:%s|", strlen(v), v);
    }
    strcpy(o, prev);
    return s;
}

static void row_hash(const char *const f[13], const char *prev, char out[65]) {
    char *c = canonical(f, prev);
    sm3_hex(c, strlen(c), out);
    free(c);
}

int audit_log_as(const user_ctx *u, const char *rid, const char *ip, const char *event,
                 const char *otype, const char *oid, const char *result, json_t *detail) {
    db *d = db_thread();
    bool own = !db_in_tx(d);
    if (own && db_begin(d) != DB_OK) return -1;
    /* The chain is one sequence for every node: read the last row and append
     * under a lock held to the end of the transaction (a no-op on SQLite,
     * whose write transactions already run one at a time). */
    if (db_lock_serial(d, "audit") != DB_OK) {
        log_error(rid, "audit lock failed: %s", db_errmsg(d));
        if (own) db_rollback(d);
        return -1;
    }
    char prev[65] = GENESIS;
    int64_t last = 0;
    db_stmt *s;
    /* Once this transaction has appended a row it holds the chain (SQLite:
     * the write lock; PostgreSQL: the lock above) until it ends: the next
     * row follows the one it wrote, without reading it back (a batch of
     * audited views, an import of a million rows). */
    static __thread struct { db *d; uint64_t tx; int64_t last; char prev[65]; } held;
    uint64_t tx = db_tx_id(d);
    if (held.d == d && held.tx == tx && tx != 0) {
        last = held.last;
        memcpy(prev, held.prev, sizeof prev);
    } else {
        s = db_prep(d, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1");
        if (db_step(s) == DB_ROW) { last = db_col_int(s, 0); snprintf(prev, sizeof prev, "%s", db_col_text(s, 1)); }
        db_reset(s);
    }

    char ts[21], idbuf[24], uid[24] = "", sid[24] = "";
    iso_utc(now_unix(), ts);
    snprintf(idbuf, sizeof idbuf, "%lld", (long long)(last + 1));
    if (u) { snprintf(uid, sizeof uid, "%lld", (long long)u->id); snprintf(sid, sizeof sid, "%lld", (long long)u->station_id); }
    char *det = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    const char *f[13] = {idbuf, ts, u ? uid : NULL, u ? u->username : NULL, u ? u->roles : NULL,
                         u ? sid : NULL, ip, rid, event, otype, oid, result, det};
    char hash[65];
    row_hash(f, prev, hash);
    s = db_prep(d, "INSERT INTO audit(id, ts, user_id, username, role, station_id, ip, request_id, event, "
                   "object_type, object_id, result, detail, prev_hash, hash) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    db_bind_int(s, 1, last + 1);
    db_bind_text(s, 2, ts);
    if (u) db_bind_int(s, 3, u->id); else db_bind_null(s, 3);
    db_bind_text(s, 4, u ? u->username : NULL);
    db_bind_text(s, 5, u ? u->roles : NULL);
    if (u) db_bind_int(s, 6, u->station_id); else db_bind_null(s, 6);
    db_bind_text(s, 7, ip);
    db_bind_text(s, 8, rid);
    db_bind_text(s, 9, event);
    db_bind_text(s, 10, otype);
    db_bind_text(s, 11, oid);
    db_bind_text(s, 12, result);
    db_bind_text(s, 13, det);
    db_bind_text(s, 14, prev);
    db_bind_text(s, 15, hash);
    int rc = db_step(s);
    db_reset(s);
    free(det);
    if (rc != DB_DONE) {
        log_error(rid, "audit write failed: %s", db_errmsg(d));
        held.d = NULL;
        if (own) db_rollback(d);
        return -1;
    }
    held.d = d; held.tx = tx; held.last = last + 1;
    memcpy(held.prev, hash, sizeof held.prev);
    if (own && db_commit(d) != DB_OK) return -1;
    return 0;
}

int audit_log(req *r, const char *event, const char *otype, const char *oid, const char *result,
              json_t *detail) {
    return audit_log_as(r ? current_user(r) : NULL, r ? req_id(r) : NULL, r ? req_ip(r) : NULL,
                        event, otype, oid, result, detail);
}

int audit_event(req *r, const char *event, const char *otype, const char *oid, const char *result, json_t *detail) {
    int rc = audit_log(r, event, otype, oid, result, detail);
    json_decref(detail);
    return rc;
}

int audit_event_as(const user_ctx *u, const char *rid, const char *ip, const char *event, const char *otype,
                   const char *oid, const char *result, json_t *detail) {
    int rc = audit_log_as(u, rid, ip, event, otype, oid, result, detail);
    json_decref(detail);
    return rc;
}

int64_t audit_verify(int64_t *rows, char *why, unsigned whycap) {
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT id, ts, user_id, username, role, station_id, ip, request_id, event, "
                            "object_type, object_id, result, detail, prev_hash, hash FROM audit ORDER BY id");
    char prev[65] = GENESIS;
    int64_t n = 0, expect = 0, broken = 0;
    while (db_step(s) == DB_ROW) {
        int64_t id = db_col_int(s, 0);
        n++;
        if (expect && id != expect) {
            broken = expect; snprintf(why, whycap, "第 %lld 条记录缺失", (long long)expect); break;
        }
        expect = id + 1;
        const char *f[13];
        char idbuf[24]; snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
        f[0] = idbuf;
        for (int i = 1; i < 13; i++) f[i] = db_col_text(s, i);
        const char *stored_prev = db_col_text(s, 13), *stored = db_col_text(s, 14);
        if (!stored_prev || strcmp(stored_prev, prev) != 0) {
            broken = id; snprintf(why, whycap, "第 %lld 条记录的前序哈希与上一条不符", (long long)id); break;
        }
        char h[65];
        row_hash(f, prev, h);
        if (!stored || strcmp(h, stored) != 0) {
            broken = id; snprintf(why, whycap, "第 %lld 条记录内容与其哈希不符（已被篡改）", (long long)id); break;
        }
        snprintf(prev, sizeof prev, "%s", stored);
    }
    db_reset(s);
    if (rows) *rows = n;
    if (!broken) snprintf(why, whycap, "审计链完整");
    return broken;
}

/* ---- routes (auditor only) ---- */

static void audit_list(req *r) {
    db *d = db_thread();
    int64_t page = req_query_int(r, "page", 1, 1, 1000000), size = req_query_int(r, "size", 20, 1, 200);
    const char *user = req_query(r, "user"), *event = req_query(r, "event"),
               *otype = req_query(r, "object_type"), *oid = req_query(r, "object_id"),
               *from = req_query(r, "from"), *to = req_query(r, "to"), *result = req_query(r, "result");
    /* One statement with optional filters: a NULL parameter disables its condition. */
    static const char *where =
        " WHERE (?1 IS NULL OR username = ?1) AND (?2 IS NULL OR event LIKE ?2) "
        "AND (?3 IS NULL OR object_type = ?3) AND (?4 IS NULL OR object_id = ?4) "
        "AND (?5 IS NULL OR ts >= ?5) AND (?6 IS NULL OR ts < ?6) AND (?7 IS NULL OR result = ?7)";
    static char count_sql[1024], list_sql[1024];
    if (!count_sql[0]) {
        snprintf(count_sql, sizeof count_sql, "SELECT COUNT(*) FROM audit%s", where);
        snprintf(list_sql, sizeof list_sql,
                 "SELECT id, ts, username, role, station_id, ip, request_id, event, object_type, object_id, "
                 "result, detail FROM audit%s ORDER BY id DESC LIMIT ?8 OFFSET ?9", where);
    }
    char *ev = event && *event ? arena_printf(req_arena(r), "%s%%", event) : NULL;
    /* "to" as a date means the whole day. */
    char *to_excl = NULL;
    if (to && *to) to_excl = strlen(to) == 10 ? arena_printf(req_arena(r), "%sT23:59:60Z", to) : (char *)to;
    const char *vals[7] = {user && *user ? user : NULL, ev, otype && *otype ? otype : NULL,
                           oid && *oid ? oid : NULL, from && *from ? from : NULL, to_excl,
                           result && *result ? result : NULL};
    db_stmt *s = db_prep(d, count_sql);
    for (int i = 0; i < 7; i++) db_bind_text(s, i + 1, vals[i]);
    int64_t total = db_step(s) == DB_ROW ? db_col_int(s, 0) : 0;
    db_reset(s);
    s = db_prep(d, list_sql);
    for (int i = 0; i < 7; i++) db_bind_text(s, i + 1, vals[i]);
    db_bind_int(s, 8, size);
    db_bind_int(s, 9, (page - 1) * size);
    json_t *items = json_array();
    while (db_step(s) == DB_ROW) {
        json_t *it = json_pack("{s:I,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}",
            "id", (json_int_t)db_col_int(s, 0), "ts", db_col_text(s, 1), "username", db_col_text(s, 2),
            "role", db_col_text(s, 3), "ip", db_col_text(s, 5), "request_id", db_col_text(s, 6),
            "event", db_col_text(s, 7), "object_type", db_col_text(s, 8), "object_id", db_col_text(s, 9),
            "result", db_col_text(s, 10));
        if (!db_col_null(s, 4)) json_object_set_new(it, "station_id", json_integer(db_col_int(s, 4)));
        const char *det = db_col_text(s, 11);
        if (det) { json_t *dj = json_loads(det, 0, NULL); if (dj) json_object_set_new(it, "detail", dj); }
        json_array_append_new(items, it);
    }
    db_reset(s);
    reply_json(r, 200, json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)total,
                                 "page", (json_int_t)page, "size", (json_int_t)size));
}

static void audit_verify_route(req *r) {
    int64_t rows = 0;
    char why[256];
    int64_t broken = audit_verify(&rows, why, sizeof why);
    json_t *j = json_pack("{s:b,s:I,s:s}", "ok", broken == 0, "rows", (json_int_t)rows, "message", why);
    if (broken) json_object_set_new(j, "first_broken_id", json_integer(broken));
    audit_log(r, "audit.verify", "audit", NULL, broken ? "broken" : "ok", NULL);
    reply_json(r, 200, j);
}

const struct route audit_routes[] = {
    {"GET", "/api/v1/audit", "audit.read", audit_list, ROUTE_COSTLY},
    {"GET", "/api/v1/audit/verify", "audit.read", audit_verify_route, ROUTE_COSTLY},
};
const size_t audit_routes_count = sizeof audit_routes / sizeof *audit_routes;
