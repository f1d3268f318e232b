/* In-app notices to staff: a request assigned, transferred, escalated, handed
 * on, asked for help, due soon, overdue, an extension to decide. A notice goes
 * to one user or to every user of a station; who has read it is kept per user,
 * so a station-wide notice is read or unread for each of its staff. Reading a
 * notice is personal screen state, not a change of business data, so it is
 * not written to the audit trail. */
#include "requests/internal.h"
#include "base/timeutil.h"
#include "db/db.h"
#include <string.h>

#define MINE "(n.user_id = ?1 OR (n.user_id IS NULL AND n.station_id = ?2))"

void notices_list(req *r) {
    user_ctx *u = current_user(r);
    int64_t page = req_query_int(r, "page", 1, 1, 100000), size = req_query_int(r, "size", 20, 1, 200);
    int64_t unread_only = req_query_int(r, "unread", 0, 0, 1);
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT COUNT(*), SUM(CASE WHEN nr.notice_id IS NULL THEN 1 ELSE 0 END) FROM notices n "
                            "LEFT JOIN notice_reads nr ON nr.notice_id = n.id AND nr.user_id = ?1 WHERE " MINE);
    db_bind_int(s, 1, u->id); db_bind_int(s, 2, u->station_id);
    int64_t all = 0, unread = 0;
    if (db_step(s) == DB_ROW) { all = db_col_int(s, 0); unread = db_col_int(s, 1); }
    db_reset(s);
    s = db_prep(d, "SELECT n.id, n.kind, n.message, n.request_id, q.no, n.created_at, nr.read_at FROM notices n "
                   "LEFT JOIN notice_reads nr ON nr.notice_id = n.id AND nr.user_id = ?1 "
                   "LEFT JOIN requests q ON q.id = n.request_id "
                   "WHERE " MINE " AND (?3 = 0 OR nr.notice_id IS NULL) ORDER BY n.id DESC LIMIT ?4 OFFSET ?5");
    db_bind_int(s, 1, u->id); db_bind_int(s, 2, u->station_id); db_bind_int(s, 3, unread_only);
    db_bind_int(s, 4, size); db_bind_int(s, 5, (page - 1) * size);
    json_t *items = json_array();
    while (db_step(s) == DB_ROW) {
        json_t *it = json_pack("{s:I,s:s,s:s,s:s?,s:s,s:b,s:s?}", "id", (json_int_t)db_col_int(s, 0),
            "kind", db_col_text(s, 1), "message", db_col_text(s, 2), "request_no", db_col_text(s, 4),
            "at", db_col_text(s, 5), "read", !db_col_null(s, 6), "read_at", db_col_text(s, 6));
        json_object_set_new(it, "request_id", db_col_null(s, 3) ? json_null() : json_integer(db_col_int(s, 3)));
        json_array_append_new(items, it);
    }
    db_reset(s);
    reply_json(r, 200, json_pack("{s:o,s:I,s:I,s:I,s:I}", "items", items, "total", (json_int_t)(unread_only ? unread : all),
                                 "unread", (json_int_t)unread, "page", (json_int_t)page, "size", (json_int_t)size));
}

void notices_read(req *r) {
    user_ctx *u = current_user(r);
    int64_t id = req_param_id(r, 0);
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT 1 FROM notices n WHERE n.id = ?3 AND " MINE);
    db_bind_int(s, 1, u->id); db_bind_int(s, 2, u->station_id); db_bind_int(s, 3, id);
    bool mine = db_step(s) == DB_ROW;
    db_reset(s);
    if (!mine) { reply_error(r, 404, "not_found", NULL, "通知不存在"); return; }
    char ts[21];
    iso_utc(now_unix(), ts);
    s = db_prep(d, "INSERT INTO notice_reads(notice_id, user_id, read_at) VALUES (?,?,?) ON CONFLICT DO NOTHING");
    db_bind_int(s, 1, id); db_bind_int(s, 2, u->id); db_bind_text(s, 3, ts);
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE) { reply_error(r, 500, "internal", NULL, "保存失败"); return; }
    reply_json(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "read", 1));
}

void notices_read_all(req *r) {
    user_ctx *u = current_user(r);
    char ts[21];
    iso_utc(now_unix(), ts);
    db_stmt *s = db_prep(db_thread(), "INSERT INTO notice_reads(notice_id, user_id, read_at) SELECT n.id, ?1, ?3 FROM notices n "
                                      "WHERE " MINE " AND NOT EXISTS (SELECT 1 FROM notice_reads x WHERE x.notice_id = n.id "
                                      "AND x.user_id = ?1)");
    db_bind_int(s, 1, u->id); db_bind_int(s, 2, u->station_id); db_bind_text(s, 3, ts);
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE) { reply_error(r, 500, "internal", NULL, "保存失败"); return; }
    reply_json(r, 200, json_pack("{s:i}", "read", db_changes(db_thread())));
}
