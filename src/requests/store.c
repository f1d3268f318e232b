/* The request row and everything derived from it: loading under
 * jurisdiction, the live deadline (from the stored acceptance day, SLA days,
 * extensions and pauses, on the calendar), the append-only timeline, notices,
 * and the JSON view the API answers with. */
#include "requests/internal.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "network/network.h"
#include "registry/registry.h"
#include "std/cdate.h"
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- vocabulary ---- */

static const struct { const char *code, *name; unsigned bit; } statuses[] = {
    {"received", "待受理", ST_RECEIVED}, {"accepted", "办理中", ST_ACCEPTED}, {"refused", "不予受理", ST_REFUSED},
    {"waiting", "等待材料", ST_WAITING}, {"replied", "已答复", ST_REPLIED},   {"closed", "已办结", ST_CLOSED},
};

unsigned rq_status_bit(const char *s) {
    for (size_t i = 0; s && i < sizeof statuses / sizeof *statuses; i++)
        if (strcmp(statuses[i].code, s) == 0) return statuses[i].bit;
    return 0;
}
const char *rq_status_name(const char *s) {
    for (size_t i = 0; s && i < sizeof statuses / sizeof *statuses; i++)
        if (strcmp(statuses[i].code, s) == 0) return statuses[i].name;
    return s;
}

/* Every timeline action, the user's and the system's. */
static const struct { const char *code, *name; } actions[] = {
    {"create", "登记"},           {"accept", "受理"},             {"refuse", "不予受理"},
    {"assign", "分派"},           {"transfer", "转办"},           {"escalate", "上报"},
    {"help", "请求协办"},         {"pause", "暂停计时（等待材料）"}, {"resume", "恢复计时"},
    {"extend", "申请延期"},       {"approve_extension", "批准延期"}, {"reject_extension", "驳回延期"},
    {"note", "备注"},             {"reply", "答复"},              {"close", "办结"},
    {"visit", "回访"},            {"reopen", "重新办理"},         {"proxy_step", "代办环节"},
    {"material", "材料"},         {"attach", "附件"},             {"due_soon", "即将到期"},
    {"overdue", "已超期"},        {"auto_escalate", "超期自动上报"}, {"bulk_assign", "批量分派"},
};
const char *rq_action_name(const char *a) {
    for (size_t i = 0; a && i < sizeof actions / sizeof *actions; i++)
        if (strcmp(actions[i].code, a) == 0) return actions[i].name;
    return a;
}

/* ---- the row ---- */

struct col { const char *name; size_t off; char type; };
#define T(f) {#f, offsetof(struct rq, f), 't'}
#define I(f) {#f, offsetof(struct rq, f), 'i'}
static const struct col cols[] = {
    I(id), T(no), I(version), T(channel), T(category), T(urgency), I(person_id), T(contact_name),
    T(contact_phone), T(region_code), T(content), T(status), I(intake_station_id), I(station_id),
    I(assignee_id), T(created_at), I(created_by), I(response_hours), T(response_due), T(responded_at),
    T(accepted_at), T(accepted_day), I(sla_workdays), I(sla_extensions), I(sla_extension_workdays),
    I(extensions_used), I(extension_workdays), T(due_date), I(paused), T(pause_reason), T(refuse_reason),
    T(reply_content), T(reply_channel), T(reply_at), I(reply_workdays), I(replied_on_time),
    T(first_reply_at), T(closed_at), T(satisfaction), T(visited_at), I(reopen_count), T(overdue_since),
    T(due_soon_noticed), T(next_escalation_day), T(proxy_type), I(proxy_step), T(proxy_done_at),
    T(authorized_at), T(updated_at),
};
#undef T
#undef I
#define NCOLS (sizeof cols / sizeof *cols)

static char col_list[2048], load_sql[4096];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    size_t l = 0;
    for (size_t i = 0; i < NCOLS; i++)
        l += (size_t)snprintf(col_list + l, sizeof col_list - l, "%sr.%s", i ? ", " : "", cols[i].name);
    snprintf(load_sql, sizeof load_sql,
             "SELECT %s FROM requests r JOIN stations st ON st.id = r.station_id WHERE r.id = ?3 AND " RQ_VISIBLE,
             col_list);
}

const char *rq_columns(void) { pthread_once(&once, build); return col_list; }

void rq_fill(arena *a, db_stmt *s, int first, struct rq *q) {
    memset(q, 0, sizeof *q);
    for (size_t i = 0; i < NCOLS; i++) {
        char *p = (char *)q + cols[i].off;
        int c = first + (int)i;
        if (cols[i].type == 'i') *(int64_t *)p = db_col_null(s, c) ? -1 : db_col_int(s, c);
        else *(const char **)p = arena_strdup(a, db_col_text(s, c));
    }
}

bool rq_load(arena *a, const user_ctx *u, int64_t id, struct rq *q) {
    pthread_once(&once, build);
    db_stmt *s = db_prep(db_thread(), load_sql);
    db_bind_text(s, 1, u ? u->scope_lo : "000000000000");
    db_bind_text(s, 2, u ? u->scope_hi : "999999999999");
    db_bind_int(s, 3, id);
    bool ok = db_step(s) == DB_ROW;
    if (ok) rq_fill(a, s, 0, q);
    db_reset(s);
    return ok;
}

/* ---- time ---- */

void rq_now_init(struct rq_now *n) {
    n->t = now_unix();
    iso_utc(n->t, n->iso);
    n->today = unix_to_cn_days(n->t);
    cdate_iso(n->today, n->today_iso);
}

int rq_day(const char *iso) {
    int d;
    if (!iso || strlen(iso) < 10) return -1;
    char buf[11];
    memcpy(buf, iso, 10); buf[10] = 0;
    return cdate_iso_to_days(buf, &d) ? d : -1;
}

/* ---- stations ---- */

bool station_get(int64_t id, struct station *st) {
    db_stmt *s = db_prep(db_thread(), "SELECT id, parent_id, level, region_code, name FROM stations WHERE id = ?");
    db_bind_int(s, 1, id);
    bool ok = db_step(s) == DB_ROW;
    if (ok) {
        st->id = db_col_int(s, 0);
        st->parent_id = db_col_null(s, 1) ? 0 : db_col_int(s, 1);
        snprintf(st->level, sizeof st->level, "%s", db_col_text(s, 2));
        snprintf(st->region, sizeof st->region, "%s", db_col_text(s, 3));
        snprintf(st->name, sizeof st->name, "%s", db_col_text(s, 4));
    }
    db_reset(s);
    return ok;
}

static int level_rank(const char *l) {
    return strcmp(l, "village") == 0 ? 0 : strcmp(l, "town") == 0 ? 1 : 2;
}

int64_t station_on_path(const char *region, const char *level) {
    int64_t id = station_for_region(region);
    struct station st;
    for (int depth = 0; id > 0 && depth < 6 && station_get(id, &st); depth++) {
        if (level_rank(st.level) >= level_rank(level) || !st.parent_id) return st.id;
        id = st.parent_id;
    }
    return id;
}

bool rq_may_handle(const user_ctx *u, const struct station *owner) {
    return u && scope_contains(u, owner->region);
}

/* The level above approves: a station above the owner; for the center, which
 * has no level above, another member of the center than the one who asked. */
bool rq_may_approve(const user_ctx *u, const struct station *owner, int64_t requested_by) {
    if (!u || !user_can(u, "request.manage") || !scope_contains(u, owner->region)) return false;
    if (u->station_id != owner->id) return true;
    return strcmp(owner->level, "center") == 0 && u->id != requested_by;
}

/* ---- rule data ---- */

bool sla_find(const char *category, const char *urgency, const char *day, struct sla *out) {
    db_stmt *s = db_prep(db_thread(),
        "SELECT response_hours, conclude_workdays, extensions, extension_workdays FROM sla_rules "
        "WHERE category = ? AND urgency = ? AND effective_from <= ? ORDER BY effective_from DESC LIMIT 1");
    db_bind_text(s, 1, category); db_bind_text(s, 2, urgency); db_bind_text(s, 3, day);
    bool ok = db_step(s) == DB_ROW;
    if (ok) {
        out->response_hours = db_col_int(s, 0); out->workdays = db_col_int(s, 1);
        out->extensions = db_col_int(s, 2); out->extension_workdays = db_col_int(s, 3);
    }
    db_reset(s);
    return ok;
}

workcal *rq_calendar(void) {
    /* Read from the database every time it is needed (a few dozen rows a
     * year): a year added on one node is seen at once by every node. */
    workcal *c = workcal_new();
    db_stmt *s = db_prep(db_thread(), "SELECT day, kind FROM calendar_days");
    while (db_step(s) == DB_ROW) {
        int d = rq_day(db_col_text(s, 0));
        if (d >= 0) workcal_set(c, d, strcmp(db_col_text(s, 1), "班") == 0 ? WC_WORKDAY : WC_HOLIDAY);
    }
    db_reset(s);
    return c;
}

bool code_flag(const char *table, const char *code, const char *key) {
    if (!code) return false;
    db_stmt *s = db_prep(db_thread(), "SELECT extra FROM codes WHERE tbl = ? AND code = ?");
    db_bind_text(s, 1, table); db_bind_text(s, 2, code);
    bool on = false;
    if (db_step(s) == DB_ROW && db_col_text(s, 0)) {
        json_t *ex = json_loads(db_col_text(s, 0), 0, NULL);
        const char *v = json_string_value(json_object_get(ex, key));
        on = v && strcmp(v, "1") == 0;
        json_decref(ex);
    }
    db_reset(s);
    return on;
}

/* ---- deadline of a stored request ---- */

int rq_pauses(int64_t id, struct dl_range *out, int cap) {
    db_stmt *s = db_prep(db_thread(), "SELECT from_day, to_day FROM request_pauses WHERE request_id = ? ORDER BY id");
    db_bind_int(s, 1, id);
    int n = 0;
    while (db_step(s) == DB_ROW && n < cap) {
        int f = rq_day(db_col_text(s, 0));
        int t = db_col_null(s, 1) ? DL_OPEN : rq_day(db_col_text(s, 1));
        if (f >= 0 && t >= 0) out[n++] = (struct dl_range){f, t};
    }
    db_reset(s);
    return n;
}

bool rq_deadline(const struct rq *q, const workcal *cal, const struct rq_now *now, struct dl_state *st) {
    int start = rq_day(q->accepted_day);
    if (start < 0 || q->sla_workdays < 0) return false;
    struct dl_range p[256];
    int np = rq_pauses(q->id, p, 256);
    deadline_state(cal, start, (int)(q->sla_workdays + q->extension_workdays), p, np, now->today,
                   (int)setting_int("requests.due_soon_workdays", 2), st);
    return true;
}

int rq_store_due(int64_t id, const workcal *cal, const struct rq_now *now) {
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT accepted_day, sla_workdays, extension_workdays FROM requests WHERE id = ?");
    db_bind_int(s, 1, id);
    int start = -1, n = 0;
    if (db_step(s) == DB_ROW) {
        start = rq_day(db_col_text(s, 0));
        n = (int)(db_col_int(s, 1) + db_col_int(s, 2));
    }
    db_reset(s);
    if (start < 0) return -1;
    struct dl_range p[256];
    int np = rq_pauses(id, p, 256);
    struct dl_state st;
    deadline_state(cal, start, n, p, np, now->today, 0, &st);
    char due[11];
    cdate_iso(st.due, due);
    s = db_prep(d, "UPDATE requests SET due_date = ?, "
                   "overdue_since = CASE WHEN ? >= ? THEN NULL ELSE overdue_since END, "
                   "next_escalation_day = CASE WHEN ? >= ? THEN NULL ELSE next_escalation_day END, "
                   "due_soon_noticed = CASE WHEN ? > due_date THEN NULL ELSE due_soon_noticed END WHERE id = ?");
    db_bind_text(s, 1, due);
    db_bind_text(s, 2, due); db_bind_text(s, 3, now->today_iso);
    db_bind_text(s, 4, due); db_bind_text(s, 5, now->today_iso);
    db_bind_text(s, 6, due);
    db_bind_int(s, 7, id);
    int rc = db_step(s);
    db_reset(s);
    return rc == DB_DONE ? st.due : -1;
}

/* ---- timeline and notices ---- */

int64_t rq_event(int64_t rid, const user_ctx *u, const char *at, const char *action, const char *note,
                 int64_t from, int64_t to, json_t *detail) {
    char *det = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    db_stmt *s = db_prep(db_thread(),
        "INSERT INTO request_events(request_id, at, user_id, username, station_id, action, note, from_station, "
        "to_station, detail) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id");
    db_bind_int(s, 1, rid);
    db_bind_text(s, 2, at);
    if (u) { db_bind_int(s, 3, u->id); db_bind_text(s, 4, u->username); db_bind_int(s, 5, u->station_id); }
    else { db_bind_null(s, 3); db_bind_null(s, 4); db_bind_null(s, 5); }
    db_bind_text(s, 6, action);
    db_bind_text(s, 7, note);
    if (from > 0) db_bind_int(s, 8, from); else db_bind_null(s, 8);
    if (to > 0) db_bind_int(s, 9, to); else db_bind_null(s, 9);
    db_bind_text(s, 10, det);
    int64_t id = db_step(s) == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    free(det);
    return id;
}

int rq_notice(int64_t user_id, int64_t station_id, int64_t request_id, const char *kind, const char *msg,
              const char *at) {
    db_stmt *s = db_prep(db_thread(), "INSERT INTO notices(user_id, station_id, request_id, kind, message, created_at) "
                                      "VALUES (?,?,?,?,?,?)");
    if (user_id > 0) { db_bind_int(s, 1, user_id); db_bind_null(s, 2); }
    else { db_bind_null(s, 1); db_bind_int(s, 2, station_id); }
    if (request_id > 0) db_bind_int(s, 3, request_id); else db_bind_null(s, 3);
    db_bind_text(s, 4, kind); db_bind_text(s, 5, msg); db_bind_text(s, 6, at);
    int rc = db_step(s);
    db_reset(s);
    return rc == DB_DONE ? 0 : -1;
}

int rq_notice_owner(const struct rq *q, const char *kind, const char *msg, const char *at) {
    return rq_notice(q->assignee_id, q->station_id, q->id, kind, msg, at);
}

/* ---- the JSON view ---- */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static const char *station_name(arena *a, int64_t id) {
    if (id <= 0) return NULL;
    struct station st;
    return station_get(id, &st) ? arena_strdup(a, st.name) : NULL;
}

static const char *user_name(arena *a, int64_t id) {
    if (id <= 0) return NULL;
    db_stmt *s = db_prep(db_thread(), "SELECT name FROM users WHERE id = ?");
    db_bind_int(s, 1, id);
    const char *n = db_step(s) == DB_ROW ? arena_strdup(a, db_col_text(s, 0)) : NULL;
    db_reset(s);
    return n;
}

static json_t *timeline_json(arena *a, int64_t id) {
    json_t *arr = json_array();
    db_stmt *s = db_prep(db_thread(),
        "SELECT e.id, e.at, e.username, s.name, e.action, e.note, e.from_station, fs.name, e.to_station, ts.name, "
        "e.detail, u.name FROM request_events e LEFT JOIN stations s ON s.id = e.station_id "
        "LEFT JOIN stations fs ON fs.id = e.from_station LEFT JOIN stations ts ON ts.id = e.to_station "
        "LEFT JOIN users u ON u.id = e.user_id WHERE e.request_id = ? ORDER BY e.id");
    db_bind_int(s, 1, id);
    while (db_step(s) == DB_ROW) {
        const char *action = db_col_text(s, 4);
        json_t *e = json_pack("{s:I,s:s,s:o,s:o,s:o,s:s,s:s,s:o,s:o,s:o,s:o,s:o}",
            "id", (json_int_t)db_col_int(s, 0), "at", db_col_text(s, 1),
            "username", db_col_null(s, 2) ? json_string("系统") : json_string(db_col_text(s, 2)),
            "user_name", db_col_null(s, 11) ? json_null() : json_string(db_col_text(s, 11)),
            "station_name", str_or_null(db_col_text(s, 3)),
            "action", action, "action_name", rq_action_name(action),
            "note", str_or_null(db_col_text(s, 5)),
            "from_station", str_or_null(db_col_text(s, 7)),
            "to_station", str_or_null(db_col_text(s, 9)),
            "from_station_id", db_col_null(s, 6) ? json_null() : json_integer(db_col_int(s, 6)),
            "to_station_id", db_col_null(s, 8) ? json_null() : json_integer(db_col_int(s, 8)));
        json_object_set_new(e, "system", json_boolean(db_col_null(s, 2)));
        const char *det = db_col_text(s, 10);
        json_t *dj = det ? json_loads(det, 0, NULL) : NULL;
        json_object_set_new(e, "detail", dj ? dj : json_null());
        json_array_append_new(arr, e);
    }
    db_reset(s);
    (void)a;
    return arr;
}

static json_t *proxy_json(arena *a, const struct rq *q, bool full) {
    json_t *p = json_pack("{s:s,s:o,s:o,s:o,s:b,s:o}", "type", q->proxy_type,
        "type_name", str_or_null(code_name(a, "proxy_type", q->proxy_type)),
        "step", q->proxy_step > 0 ? json_integer(q->proxy_step) : json_null(), "step_name", json_null(),
        "done", q->proxy_done_at != NULL, "done_at", str_or_null(q->proxy_done_at));
    json_object_set_new(p, "authorized_at", str_or_null(q->authorized_at));
    db *d = db_thread();
    json_t *steps = json_array();
    db_stmt *s = db_prep(d, "SELECT ps.seq, ps.name, ps.level, ps.done_at, ps.done_by, ps.note, st.name, ps.requires_materials "
                            "FROM request_proxy_steps ps LEFT JOIN stations st ON st.id = ps.station_id "
                            "WHERE ps.request_id = ? ORDER BY ps.seq");
    db_bind_int(s, 1, q->id);
    int total = 0;
    while (db_step(s) == DB_ROW) {
        total++;
        if (db_col_int(s, 0) == q->proxy_step)
            json_object_set_new(p, "step_name", json_string(db_col_text(s, 1)));
        json_array_append_new(steps, json_pack("{s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:b,s:b}",
            "seq", (json_int_t)db_col_int(s, 0), "name", db_col_text(s, 1), "level", db_col_text(s, 2),
            "done_at", str_or_null(db_col_text(s, 3)), "done_by", str_or_null(db_col_text(s, 4)),
            "note", str_or_null(db_col_text(s, 5)), "station_name", str_or_null(db_col_text(s, 6)),
            "current", db_col_int(s, 0) == q->proxy_step && !q->proxy_done_at,
            "requires_materials", db_col_int(s, 7) != 0));
    }
    db_reset(s);
    json_object_set_new(p, "step_count", json_integer(total));
    if (!full) { json_decref(steps); return p; }
    json_object_set_new(p, "steps", steps);
    json_t *mats = json_array();
    s = db_prep(d, "SELECT id, name, required, is_authorization, received_at, returned_at, note FROM request_materials "
                   "WHERE request_id = ? ORDER BY seq, id");
    db_bind_int(s, 1, q->id);
    while (db_step(s) == DB_ROW)
        json_array_append_new(mats, json_pack("{s:I,s:s,s:b,s:b,s:o,s:o,s:o}", "id", (json_int_t)db_col_int(s, 0),
            "name", db_col_text(s, 1), "required", db_col_int(s, 2) != 0, "authorization", db_col_int(s, 3) != 0,
            "received_at", str_or_null(db_col_text(s, 4)), "returned_at", str_or_null(db_col_text(s, 5)),
            "note", str_or_null(db_col_text(s, 6))));
    db_reset(s);
    json_object_set_new(p, "materials", mats);
    return p;
}

json_t *rq_view(arena *a, const user_ctx *u, const struct rq *q, const workcal *cal, const struct rq_now *now,
                bool full) {
    struct station owner = {0};
    station_get(q->station_id, &owner);
    char pname[64] = "", pregion[13];
    if (q->person_id > 0 && !person_brief(q->person_id, NULL, pname, pregion)) pname[0] = 0;
    json_t *j = json_pack("{s:I,s:s,s:I,s:s,s:o,s:s,s:o,s:s,s:o}",
        "id", (json_int_t)q->id, "no", q->no, "version", (json_int_t)q->version,
        "channel", q->channel, "channel_name", str_or_null(code_name(a, "request_channel", q->channel)),
        "category", q->category, "category_name", str_or_null(code_name(a, "request_category", q->category)),
        "urgency", q->urgency, "urgency_name", str_or_null(code_name(a, "urgency", q->urgency)));
    json_object_set_new(j, "person_id", q->person_id > 0 ? json_integer(q->person_id) : json_null());
    json_object_set_new(j, "person_name", json_string(pname[0] ? pname : q->contact_name));
    json_object_set_new(j, "contact_name", json_string(q->contact_name));
    json_object_set_new(j, "contact_phone", str_or_null(q->contact_phone));
    json_object_set_new(j, "content", json_string(q->content));
    json_object_set_new(j, "region_code", json_string(q->region_code));
    json_object_set_new(j, "region_name", str_or_null(region_name(a, q->region_code)));
    json_object_set_new(j, "status", json_string(q->status));
    json_object_set_new(j, "status_name", json_string(rq_status_name(q->status)));
    json_object_set_new(j, "station_id", json_integer(q->station_id));
    json_object_set_new(j, "station_name", json_string(owner.name));
    json_object_set_new(j, "station_level", json_string(owner.level));
    json_object_set_new(j, "intake_station_id", json_integer(q->intake_station_id));
    json_object_set_new(j, "intake_station_name", str_or_null(station_name(a, q->intake_station_id)));
    json_object_set_new(j, "assignee_id", q->assignee_id > 0 ? json_integer(q->assignee_id) : json_null());
    json_object_set_new(j, "assignee_name", str_or_null(user_name(a, q->assignee_id)));
    json_object_set_new(j, "created_at", json_string(q->created_at));
    json_object_set_new(j, "updated_at", json_string(q->updated_at));
    json_object_set_new(j, "response_due", json_string(q->response_due));
    json_object_set_new(j, "responded_at", str_or_null(q->responded_at));
    json_object_set_new(j, "accepted_at", str_or_null(q->accepted_at));
    json_object_set_new(j, "paused", json_boolean(q->paused > 0));
    json_object_set_new(j, "pause_reason", str_or_null(q->pause_reason));
    json_object_set_new(j, "extensions_used", json_integer(q->extensions_used));
    json_object_set_new(j, "extensions_allowed", q->sla_extensions >= 0 ? json_integer(q->sla_extensions) : json_null());
    json_object_set_new(j, "extension_workdays", json_integer(q->extension_workdays));
    json_object_set_new(j, "refuse_reason", str_or_null(q->refuse_reason));
    json_object_set_new(j, "closed_at", str_or_null(q->closed_at));
    json_object_set_new(j, "reply", q->reply_at ? json_pack("{s:s,s:s,s:o,s:s}", "content", q->reply_content,
        "channel", q->reply_channel, "channel_name", str_or_null(code_name(a, "request_channel", q->reply_channel)),
        "at", q->reply_at) : json_null());
    json_object_set_new(j, "replied_on_time", q->replied_on_time >= 0 ? json_boolean(q->replied_on_time) : json_null());
    json_object_set_new(j, "satisfaction", str_or_null(q->satisfaction));
    json_object_set_new(j, "satisfaction_name", str_or_null(code_name(a, "satisfaction", q->satisfaction)));
    json_object_set_new(j, "visited_at", str_or_null(q->visited_at));
    json_object_set_new(j, "reopen_count", json_integer(q->reopen_count));

    /* Deadline, live. Before acceptance only the response time runs; after the
     * reply the clock has stopped. */
    unsigned bit = rq_status_bit(q->status);
    struct dl_state st;
    bool running = (bit & (ST_ACCEPTED | ST_WAITING)) && rq_deadline(q, cal, now, &st);
    bool paused = q->paused > 0;
    char due[11];
    if (running) cdate_iso(st.due, due);
    json_object_set_new(j, "due_date", running ? json_string(due) : str_or_null(q->due_date));
    /* A deadline in a year whose holidays are not entered yet counts Monday
     * to Friday: shown as an estimate (it is recomputed when they are). */
    int cal_first, cal_last;
    workcal_years(cal, &cal_first, &cal_last);
    const char *dd = running ? due : q->due_date;
    json_object_set_new(j, "due_estimated", json_boolean(dd && (bit & ST_OPEN) && atoi(dd) > cal_last));
    json_object_set_new(j, "workdays_left", running ? json_integer(st.left) : json_null());
    bool response_late = bit == ST_RECEIVED && iso_parse(q->response_due) < now->t;
    json_object_set_new(j, "overdue", json_boolean(response_late || (running && !paused && st.overdue)));
    json_object_set_new(j, "due_soon", json_boolean(running && !paused && st.due_soon));
    int created = unix_to_cn_days(iso_parse(q->created_at));
    const char *end = (bit & (ST_OPEN & ~ST_REPLIED)) ? NULL : (q->closed_at ? q->closed_at : q->reply_at);
    int endday = end ? unix_to_cn_days(iso_parse(end)) : now->today;
    json_object_set_new(j, "days_waiting", json_integer(endday - created));

    json_object_set_new(j, "proxy", q->proxy_type ? proxy_json(a, q, full) : json_null());
    if (!full) return j;

    json_object_set_new(j, "sla", q->sla_workdays >= 0 ? json_pack("{s:I,s:I,s:I,s:I}",
        "response_hours", (json_int_t)q->response_hours, "conclude_workdays", (json_int_t)q->sla_workdays,
        "extensions", (json_int_t)q->sla_extensions, "extension_workdays", (json_int_t)q->sla_extension_workdays)
        : json_pack("{s:I}", "response_hours", (json_int_t)q->response_hours));
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT e.id, e.workdays, e.reason, e.requested_at, u.name FROM request_extensions e "
                            "LEFT JOIN users u ON u.id = e.requested_by WHERE e.request_id = ? AND e.status = 'pending'");
    db_bind_int(s, 1, q->id);
    json_t *pending = json_null();
    if (db_step(s) == DB_ROW)
        pending = json_pack("{s:I,s:I,s:s,s:s,s:o}", "id", (json_int_t)db_col_int(s, 0),
                            "workdays", (json_int_t)db_col_int(s, 1), "reason", db_col_text(s, 2),
                            "requested_at", db_col_text(s, 3), "requested_by", str_or_null(db_col_text(s, 4)));
    db_reset(s);
    json_object_set_new(j, "extension_pending", pending);
    json_t *helpers = json_array();
    s = db_prep(d, "SELECT h.station_id, s.name, h.note, h.requested_at FROM request_helpers h "
                   "JOIN stations s ON s.id = h.station_id WHERE h.request_id = ? ORDER BY h.requested_at");
    db_bind_int(s, 1, q->id);
    while (db_step(s) == DB_ROW)
        json_array_append_new(helpers, json_pack("{s:I,s:s,s:o,s:s}", "station_id", (json_int_t)db_col_int(s, 0),
                              "station_name", db_col_text(s, 1), "note", str_or_null(db_col_text(s, 2)),
                              "requested_at", db_col_text(s, 3)));
    db_reset(s);
    json_object_set_new(j, "helpers", helpers);
    json_t *att = json_array();
    s = db_prep(d, "SELECT id, filename, ctype, size, created_at, created_by, event_id FROM request_attachments "
                   "WHERE request_id = ? ORDER BY id");
    db_bind_int(s, 1, q->id);
    while (db_step(s) == DB_ROW)
        json_array_append_new(att, json_pack("{s:I,s:s,s:s,s:I,s:s,s:o,s:o}", "id", (json_int_t)db_col_int(s, 0),
            "filename", db_col_text(s, 1), "ctype", db_col_text(s, 2), "size", (json_int_t)db_col_int(s, 3),
            "at", db_col_text(s, 4), "username", str_or_null(db_col_text(s, 5)),
            "event_id", db_col_null(s, 6) ? json_null() : json_integer(db_col_int(s, 6))));
    db_reset(s);
    json_object_set_new(j, "attachments", att);
    json_object_set_new(j, "timeline", timeline_json(a, q->id));
    json_object_set_new(j, "actions", u ? rq_allowed_actions(u, q, &owner) : json_array());
    return j;
}
