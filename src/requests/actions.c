/* Handling a request: POST /requests/{id}/actions with {action, version, …}.
 *
 * The state machine is the action table below: each row names the statuses it
 * may run in, who may run it (the owning station or one above it; anyone who
 * sees the request; the level above for extension decisions), the body keys it
 * takes and its function. The dispatcher does everything common once: shape
 * checks, jurisdiction (404 outside), the optimistic version (409), the state
 * (409 invalid_state), the transaction, the timeline entry, the audit row and
 * the answer. An action function only checks its own fields and writes its own
 * columns.
 *
 *   received ──accept──▶ accepted ──reply──▶ replied ──close──▶ closed ──visit(不满意)──┐
 *      │                  │  ▲                  │ (reply again)                           │
 *      └─refuse─▶ refused pause│resume          └────────────────────────────────────────────┘
 *                          ▼  │                        reopened one level up: accepted
 *                         waiting
 * assign / transfer / escalate / help / extend / note / proxy_step / material
 * keep the status. A closed request always has a reply (also a CHECK in the
 * database), a refused one has its reason recorded as the reply. */
#include "requests/internal.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "network/network.h"
#include "std/cdate.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum who { WHO_HANDLE, WHO_VISIBLE, WHO_APPROVE };
enum { A_PROXY = 1, A_NOT_PAUSED = 2 };

struct ev { const char *action, *note; int64_t from, to; json_t *detail; };

struct actx {
    req *r;
    const user_ctx *u;
    arena *a;
    json_t *b;
    struct rq *q;
    struct station owner;
    workcal *cal;
    struct rq_now now;
    struct ev ev[3];
    int nev;
    json_t *audit;          /* extra detail for the audit row */
    bool collect;           /* bulk: record the error instead of answering */
    const char *err;
    int err_status;
};

typedef bool (*act_fn)(struct actx *x);

struct act {
    const char *name;
    unsigned states;
    enum who who;
    unsigned flags;
    const char *keys[6];
    act_fn fn;
};

static bool fail(struct actx *x, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static bool fail(struct actx *x, int status, const char *code, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = arena_vprintf(x->a, fmt, ap);
    va_end(ap);
    if (x->collect) { x->err = msg; x->err_status = status; }
    else reply_error(x->r, status, code, field, "%s", msg);
    return false;
}

static void ev_add(struct actx *x, const char *action, const char *note, int64_t from, int64_t to, json_t *detail) {
    if (x->nev < 3) x->ev[x->nev++] = (struct ev){action, note, from, to, detail};
    else json_decref(detail);
}

/* A string field; REQUIRED ones must be present and non-empty. */
static const char *field_str(struct actx *x, const char *key, const char *label, size_t max, bool required, bool *bad) {
    if (*bad) return NULL;
    const char *v = json_str_field(x->r, x->b, key, label, max, bad);
    if (*bad) return NULL;
    if (v) {
        while (*v == ' ') v++;
        if (!*v) v = NULL;
    }
    if (required && !v) { fail(x, 422, "validation_failed", key, "请填写%s", label); *bad = true; }
    return v;
}

static bool exec1(struct actx *x, db_stmt *s) {
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE) return fail(x, 500, "internal", NULL, "保存失败");
    return true;
}

static const char *name_of(struct actx *x, const char *table, const char *code) {
    const char *n = code_name(x->a, table, code);
    return n ? n : code;
}

static char *due_note(struct actx *x) {
    db_stmt *s = db_prep(db_thread(), "SELECT due_date FROM requests WHERE id = ?");
    db_bind_int(s, 1, x->q->id);
    char *n = NULL;
    if (db_step(s) == DB_ROW && db_col_text(s, 0)) n = arena_strdup(x->a, db_col_text(s, 0));
    db_reset(s);
    return n;
}

/* The day until which a new owner may work on an overdue request before the
 * job moves it up again: the same grace as after an automatic escalation. */
static const char *grace_day(struct actx *x) {
    char *d = arena_alloc(x->a, 11);
    cdate_iso(workcal_add(x->cal, x->now.today, (int)setting_int("requests.escalation_grace_workdays", 2)), d);
    return d;
}

/* ---- the actions ---- */

static bool take_sla(struct actx *x, struct sla *sla) {
    if (sla_find(x->q->category, x->q->urgency, x->now.today_iso, sla)) return true;
    return fail(x, 422, "validation_failed", "category", "“%s”（%s）尚未配置办理时限，请管理员先维护时限表",
                name_of(x, "request_category", x->q->category), name_of(x, "urgency", x->q->urgency));
}

static bool act_accept(struct actx *x) {
    bool bad = false;
    const char *note = field_str(x, "note", "说明", 500, false, &bad);
    if (bad) return false;
    struct sla sla;
    if (!take_sla(x, &sla)) return false;
    /* The one who accepts at the owning station becomes the handler unless
     * someone was already assigned. */
    bool self = x->q->assignee_id <= 0 && x->u->station_id == x->q->station_id;
    db_stmt *s = db_prep(db_thread(),
        "UPDATE requests SET status = 'accepted', accepted_at = ?, accepted_day = ?, sla_workdays = ?, "
        "sla_extensions = ?, sla_extension_workdays = ?, responded_at = COALESCE(responded_at, ?), "
        "assignee_id = COALESCE(assignee_id, ?) WHERE id = ?");
    db_bind_text(s, 1, x->now.iso); db_bind_text(s, 2, x->now.today_iso);
    db_bind_int(s, 3, sla.workdays); db_bind_int(s, 4, sla.extensions); db_bind_int(s, 5, sla.extension_workdays);
    db_bind_text(s, 6, x->now.iso);
    if (self) db_bind_int(s, 7, x->u->id); else db_bind_null(s, 7);
    db_bind_int(s, 8, x->q->id);
    if (!exec1(x, s)) return false;
    if (rq_store_due(x->q->id, x->cal, &x->now) < 0) return fail(x, 500, "internal", NULL, "办理期限计算失败");
    const char *due = due_note(x);
    ev_add(x, "accept", arena_printf(x->a, "%s%s办理期限 %s（%lld 个工作日）", note ? note : "", note ? "；" : "",
                                     due, (long long)sla.workdays),
           0, 0, json_pack("{s:s,s:I}", "due_date", due, "workdays", (json_int_t)sla.workdays));
    json_object_set_new(x->audit, "due_date", json_string(due));
    return true;
}

static bool act_refuse(struct actx *x) {
    bool bad = false;
    const char *reason = field_str(x, "reason", "不予受理的理由", 500, true, &bad);
    const char *ch = field_str(x, "channel", "告知方式", 20, false, &bad);
    if (bad) return false;
    const char *channel = ch ? code_by_name(x->a, "request_channel", ch) : x->q->channel;
    if (!channel) return fail(x, 422, "validation_failed", "channel", "告知方式“%s”无效", ch);
    /* The refusal with its reason is what the requester is told: it is the reply. */
    db_stmt *s = db_prep(db_thread(),
        "UPDATE requests SET status = 'refused', refuse_reason = ?, reply_content = ?, reply_channel = ?, reply_at = ?, "
        "first_reply_at = COALESCE(first_reply_at, ?), responded_at = COALESCE(responded_at, ?) WHERE id = ?");
    db_bind_text(s, 1, reason); db_bind_text(s, 2, arena_printf(x->a, "不予受理：%s", reason));
    db_bind_text(s, 3, channel); db_bind_text(s, 4, x->now.iso); db_bind_text(s, 5, x->now.iso);
    db_bind_text(s, 6, x->now.iso); db_bind_int(s, 7, x->q->id);
    if (!exec1(x, s)) return false;
    ev_add(x, "refuse", reason, 0, 0, NULL);
    json_object_set_new(x->audit, "reason", json_string(reason));
    return true;
}

/* Target station of assign/transfer/help: must exist; in the user's scope
 * unless ANY_STATION (协办 may ask a peer). */
static bool target_station(struct actx *x, const char *key, bool required, bool any_station, struct station *st) {
    json_t *v = json_object_get(x->b, key);
    if (!v || json_is_null(v)) {
        if (required) return fail(x, 422, "validation_failed", key, "请选择服务站");
        *st = x->owner;
        return true;
    }
    if (!json_is_integer(v) || !station_get(json_integer_value(v), st) ||
        (!any_station && !scope_contains(x->u, st->region)))
        return fail(x, 422, "validation_failed", key, "服务站无效或不在本级管辖范围内");
    return true;
}

static bool act_assign(struct actx *x) {
    bool bad = false;
    const char *note = field_str(x, "note", "说明", 500, false, &bad);
    if (bad) return false;
    json_t *av = json_object_get(x->b, "assignee_id");
    json_t *sv = json_object_get(x->b, "station_id");
    if ((!av || json_is_null(av)) && (!sv || json_is_null(sv)))
        return fail(x, 422, "validation_failed", "assignee_id", "请选择服务站或经办人");
    struct station st;
    if (!target_station(x, "station_id", false, false, &st)) return false;
    int64_t assignee = 0;
    if (av && !json_is_null(av)) {
        user_ctx who;
        if (!json_is_integer(av) || user_load_ctx(json_integer_value(av), &who) != 0 || who.station_id != st.id ||
            !user_can(&who, "request.write"))
            return fail(x, 422, "validation_failed", "assignee_id", "经办人须为%s在岗并可办理诉求的工作人员", st.name);
        assignee = who.id;
    }
    if (st.id == x->q->station_id && assignee == x->q->assignee_id)
        return fail(x, 422, "validation_failed", "assignee_id", "诉求已由该服务站（经办人）办理");
    db_stmt *s = db_prep(db_thread(), "UPDATE requests SET station_id = ?, assignee_id = ?, "
                                      "next_escalation_day = CASE WHEN ? THEN ? ELSE next_escalation_day END WHERE id = ?");
    db_bind_int(s, 1, st.id);
    if (assignee) db_bind_int(s, 2, assignee); else db_bind_null(s, 2);
    db_bind_int(s, 3, st.id != x->q->station_id);
    db_bind_text(s, 4, grace_day(x));
    db_bind_int(s, 5, x->q->id);
    if (!exec1(x, s)) return false;
    bool moved = st.id != x->q->station_id;
    ev_add(x, "assign", note, moved ? x->q->station_id : 0, moved ? st.id : 0,
           assignee ? json_pack("{s:I}", "assignee_id", (json_int_t)assignee) : NULL);
    const char *msg = arena_printf(x->a, "诉求 %s（%s）已分派给%s", x->q->no,
                                   name_of(x, "request_category", x->q->category), assignee ? "您" : "本站");
    rq_notice(assignee, st.id, x->q->id, "assigned", msg, x->now.iso);
    json_object_set_new(x->audit, "station_id", json_integer(st.id));
    if (assignee) json_object_set_new(x->audit, "assignee_id", json_integer(assignee));
    return true;
}

static bool move_to(struct actx *x, const char *action, const struct station *to, const char *reason, const char *kind,
                    const char *verb) {
    db_stmt *s = db_prep(db_thread(), "UPDATE requests SET station_id = ?, assignee_id = NULL, next_escalation_day = ? "
                                      "WHERE id = ?");
    db_bind_int(s, 1, to->id); db_bind_text(s, 2, grace_day(x)); db_bind_int(s, 3, x->q->id);
    if (!exec1(x, s)) return false;
    ev_add(x, action, reason, x->owner.id, to->id, NULL);
    rq_notice(0, to->id, x->q->id, kind,
              arena_printf(x->a, "诉求 %s（%s）由%s%s至本站：%s", x->q->no, name_of(x, "request_category", x->q->category),
                           x->owner.name, verb, reason), x->now.iso);
    json_object_set_new(x->audit, "reason", json_string(reason));
    json_object_set_new(x->audit, "to_station_id", json_integer(to->id));
    return true;
}

static bool act_transfer(struct actx *x) {
    bool bad = false;
    const char *reason = field_str(x, "reason", "转办原因", 500, true, &bad);
    if (bad) return false;
    struct station st;
    if (!target_station(x, "station_id", true, false, &st)) return false;
    if (st.id == x->owner.id) return fail(x, 422, "validation_failed", "station_id", "诉求已在该服务站");
    char lo[13], hi[13];
    region_scope(st.region, lo, hi);
    if (strcmp(x->owner.region, lo) >= 0 && strcmp(x->owner.region, hi) <= 0)
        return fail(x, 422, "validation_failed", "station_id", "转办只能交给下级或同级服务站，交上一级请用“上报”");
    return move_to(x, "transfer", &st, reason, "transferred", "转办");
}

static bool act_escalate(struct actx *x) {
    bool bad = false;
    const char *reason = field_str(x, "reason", "上报原因", 500, true, &bad);
    if (bad) return false;
    struct station up;
    if (!x->owner.parent_id || !station_get(x->owner.parent_id, &up))
        return fail(x, 422, "validation_failed", "action", "%s已是最高一级，不能再上报", x->owner.name);
    return move_to(x, "escalate", &up, reason, "escalated", "上报");
}

static bool act_help(struct actx *x) {
    bool bad = false;
    const char *note = field_str(x, "note", "协办事项", 500, true, &bad);
    if (bad) return false;
    struct station st;
    if (!target_station(x, "station_id", true, true, &st)) return false;
    if (st.id == x->owner.id) return fail(x, 422, "validation_failed", "station_id", "不能请本站协办");
    db_stmt *s = db_prep(db_thread(), "INSERT INTO request_helpers(request_id, station_id, note, requested_at, requested_by) "
                                      "VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING");
    db_bind_int(s, 1, x->q->id); db_bind_int(s, 2, st.id); db_bind_text(s, 3, note);
    db_bind_text(s, 4, x->now.iso); db_bind_int(s, 5, x->u->id);
    if (!exec1(x, s)) return false;
    if (db_changes(db_thread()) == 0) return fail(x, 422, "validation_failed", "station_id", "已请%s协办", st.name);
    ev_add(x, "help", note, 0, st.id, NULL);
    rq_notice(0, st.id, x->q->id, "help", arena_printf(x->a, "%s请本站协办诉求 %s：%s", x->owner.name, x->q->no, note),
              x->now.iso);
    json_object_set_new(x->audit, "station_id", json_integer(st.id));
    return true;
}

static bool act_pause(struct actx *x) {
    bool bad = false;
    const char *reason = field_str(x, "reason", "等待的材料（暂停原因）", 500, true, &bad);
    if (bad) return false;
    db *d = db_thread();
    db_stmt *s = db_prep(d, "UPDATE requests SET status = 'waiting', paused = 1, pause_reason = ? WHERE id = ?");
    db_bind_text(s, 1, reason); db_bind_int(s, 2, x->q->id);
    if (!exec1(x, s)) return false;
    s = db_prep(d, "INSERT INTO request_pauses(request_id, kind, from_day, reason) VALUES (?, 'materials', ?, ?)");
    db_bind_int(s, 1, x->q->id); db_bind_text(s, 2, x->now.today_iso); db_bind_text(s, 3, reason);
    if (!exec1(x, s)) return false;
    ev_add(x, "pause", reason, 0, 0, NULL);
    json_object_set_new(x->audit, "reason", json_string(reason));
    return true;
}

/* Closes the open pause of KIND at today. */
static bool end_pause(struct actx *x, const char *kind, const char *note) {
    db_stmt *s = db_prep(db_thread(), "UPDATE request_pauses SET to_day = ?, resume_note = ? "
                                      "WHERE request_id = ? AND kind = ? AND to_day IS NULL");
    db_bind_text(s, 1, x->now.today_iso); db_bind_text(s, 2, note); db_bind_int(s, 3, x->q->id); db_bind_text(s, 4, kind);
    if (!exec1(x, s)) return false;
    s = db_prep(db_thread(), "UPDATE requests SET paused = 0, pause_reason = NULL WHERE id = ?");
    db_bind_int(s, 1, x->q->id);
    if (!exec1(x, s)) return false;
    return rq_store_due(x->q->id, x->cal, &x->now) >= 0 || fail(x, 500, "internal", NULL, "办理期限计算失败");
}

static bool act_resume(struct actx *x) {
    bool bad = false;
    const char *note = field_str(x, "note", "说明", 500, false, &bad);
    if (bad) return false;
    db_stmt *s = db_prep(db_thread(), "UPDATE requests SET status = 'accepted' WHERE id = ?");
    db_bind_int(s, 1, x->q->id);
    if (!exec1(x, s) || !end_pause(x, "materials", note)) return false;
    const char *due = due_note(x);
    ev_add(x, "resume", arena_printf(x->a, "%s%s办理期限顺延至 %s", note ? note : "", note ? "；" : "", due), 0, 0,
           json_pack("{s:s}", "due_date", due));
    json_object_set_new(x->audit, "due_date", json_string(due));
    return true;
}

static bool act_extend(struct actx *x) {
    bool bad = false;
    const char *reason = field_str(x, "reason", "延期理由", 500, true, &bad);
    if (bad) return false;
    json_t *w = json_object_get(x->b, "workdays");
    const struct rq *q = x->q;
    if (q->sla_extensions <= 0) return fail(x, 422, "validation_failed", "workdays", "该类诉求不允许延期");
    if (q->extensions_used >= q->sla_extensions)
        return fail(x, 422, "validation_failed", "workdays", "延期次数已用完（最多 %lld 次）", (long long)q->sla_extensions);
    if (!json_is_integer(w) || json_integer_value(w) < 1 || json_integer_value(w) > q->sla_extension_workdays)
        return fail(x, 422, "validation_failed", "workdays", "延期天数须为 1–%lld 个工作日",
                    (long long)q->sla_extension_workdays);
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT 1 FROM request_extensions WHERE request_id = ? AND status = 'pending'");
    db_bind_int(s, 1, q->id);
    bool pending = db_step(s) == DB_ROW;
    db_reset(s);
    if (pending) return fail(x, 422, "validation_failed", "action", "已有待审批的延期申请");
    s = db_prep(d, "INSERT INTO request_extensions(request_id, workdays, reason, status, requested_at, requested_by, "
                   "requested_station) VALUES (?,?,?, 'pending', ?,?,?)");
    db_bind_int(s, 1, q->id); db_bind_int(s, 2, json_integer_value(w)); db_bind_text(s, 3, reason);
    db_bind_text(s, 4, x->now.iso); db_bind_int(s, 5, x->u->id); db_bind_int(s, 6, x->u->station_id);
    if (!exec1(x, s)) return false;
    ev_add(x, "extend", arena_printf(x->a, "申请延期 %lld 个工作日：%s", (long long)json_integer_value(w), reason), 0, 0,
           json_pack("{s:I}", "workdays", (json_int_t)json_integer_value(w)));
    int64_t approver = x->owner.parent_id ? x->owner.parent_id : x->owner.id;
    rq_notice(0, approver, q->id, "extension_request",
              arena_printf(x->a, "%s申请诉求 %s 延期 %lld 个工作日，待审批：%s", x->owner.name, q->no,
                           (long long)json_integer_value(w), reason), x->now.iso);
    json_object_set_new(x->audit, "workdays", json_integer(json_integer_value(w)));
    json_object_set_new(x->audit, "reason", json_string(reason));
    return true;
}

/* The pending extension and whether U may decide it. */
static bool pending_extension(struct actx *x, int64_t *eid, int64_t *workdays) {
    db_stmt *s = db_prep(db_thread(), "SELECT id, workdays, requested_by FROM request_extensions "
                                      "WHERE request_id = ? AND status = 'pending'");
    db_bind_int(s, 1, x->q->id);
    int64_t by = 0;
    bool found = db_step(s) == DB_ROW;
    if (found) { *eid = db_col_int(s, 0); *workdays = db_col_int(s, 1); by = db_col_null(s, 2) ? 0 : db_col_int(s, 2); }
    db_reset(s);
    if (!found) return fail(x, 422, "validation_failed", "action", "没有待审批的延期申请");
    if (!rq_may_approve(x->u, &x->owner, by))
        return fail(x, 403, "forbidden", NULL, "延期须由%s的上一级审批", x->owner.name);
    return true;
}

static bool decide_extension(struct actx *x, bool approve) {
    bool bad = false;
    const char *note = field_str(x, approve ? "note" : "reason", approve ? "审批意见" : "驳回理由", 500, !approve, &bad);
    if (bad) return false;
    int64_t eid = 0, w = 0;
    if (!pending_extension(x, &eid, &w)) return false;
    db *d = db_thread();
    db_stmt *s = db_prep(d, "UPDATE request_extensions SET status = ?, decided_at = ?, decided_by = ?, decision_note = ? "
                            "WHERE id = ?");
    db_bind_text(s, 1, approve ? "approved" : "rejected"); db_bind_text(s, 2, x->now.iso);
    db_bind_int(s, 3, x->u->id); db_bind_text(s, 4, note); db_bind_int(s, 5, eid);
    if (!exec1(x, s)) return false;
    const char *msg;
    if (approve) {
        s = db_prep(d, "UPDATE requests SET extensions_used = extensions_used + 1, "
                       "extension_workdays = extension_workdays + ? WHERE id = ?");
        db_bind_int(s, 1, w); db_bind_int(s, 2, x->q->id);
        if (!exec1(x, s)) return false;
        if (rq_store_due(x->q->id, x->cal, &x->now) < 0) return fail(x, 500, "internal", NULL, "办理期限计算失败");
        const char *due = due_note(x);
        msg = arena_printf(x->a, "批准延期 %lld 个工作日，办理期限延至 %s%s%s", (long long)w, due, note ? "：" : "",
                           note ? note : "");
        ev_add(x, "approve_extension", msg, 0, 0, json_pack("{s:I,s:s}", "workdays", (json_int_t)w, "due_date", due));
        json_object_set_new(x->audit, "due_date", json_string(due));
    } else {
        msg = arena_printf(x->a, "驳回延期申请：%s", note);
        ev_add(x, "reject_extension", msg, 0, 0, json_pack("{s:I}", "workdays", (json_int_t)w));
    }
    rq_notice_owner(x->q, "extension_decided", arena_printf(x->a, "诉求 %s：%s", x->q->no, msg), x->now.iso);
    json_object_set_new(x->audit, "extension_id", json_integer(eid));
    json_object_set_new(x->audit, "workdays", json_integer(w));
    return true;
}
static bool act_approve_extension(struct actx *x) { return decide_extension(x, true); }
static bool act_reject_extension(struct actx *x) { return decide_extension(x, false); }

static bool act_note(struct actx *x) {
    bool bad = false;
    const char *note = field_str(x, "note", "备注", 1000, true, &bad);
    if (bad) return false;
    ev_add(x, "note", note, 0, 0, NULL);
    return true;
}

static bool act_reply(struct actx *x) {
    bool bad = false;
    const char *content = field_str(x, "content", "答复内容", 2000, true, &bad);
    const char *ch = field_str(x, "channel", "答复方式", 20, true, &bad);
    if (bad) return false;
    const char *channel = code_by_name(x->a, "request_channel", ch);
    if (!channel) return fail(x, 422, "validation_failed", "channel", "答复方式“%s”无效", ch);
    const struct rq *q = x->q;
    if (q->proxy_type && !q->proxy_done_at)
        return fail(x, 422, "validation_failed", "action", "代办事项须在全部环节完成、结果送达后再答复");
    db_stmt *s;
    if (strcmp(q->status, "accepted") == 0) {
        /* The answer stops the clock: record the working days it took and
         * whether it was in time, for the figures. */
        struct dl_state st;
        if (!rq_deadline(q, x->cal, &x->now, &st)) return fail(x, 500, "internal", NULL, "办理期限计算失败");
        int used = (int)(q->sla_workdays + q->extension_workdays) - st.left;
        s = db_prep(db_thread(),
            "UPDATE requests SET status = 'replied', reply_content = ?, reply_channel = ?, reply_at = ?, "
            "reply_workdays = ?, replied_on_time = ?, first_reply_at = COALESCE(first_reply_at, ?), "
            "responded_at = COALESCE(responded_at, ?) WHERE id = ?");
        db_bind_text(s, 1, content); db_bind_text(s, 2, channel); db_bind_text(s, 3, x->now.iso);
        db_bind_int(s, 4, used); db_bind_int(s, 5, !st.overdue);
        db_bind_text(s, 6, x->now.iso); db_bind_text(s, 7, x->now.iso); db_bind_int(s, 8, q->id);
        json_object_set_new(x->audit, "on_time", json_boolean(!st.overdue));
    } else {
        /* A corrected reply: the timeliness of the first one stands. */
        s = db_prep(db_thread(), "UPDATE requests SET reply_content = ?, reply_channel = ?, reply_at = ? WHERE id = ?");
        db_bind_text(s, 1, content); db_bind_text(s, 2, channel); db_bind_text(s, 3, x->now.iso); db_bind_int(s, 4, q->id);
    }
    if (!exec1(x, s)) return false;
    ev_add(x, "reply", content, 0, 0, json_pack("{s:s}", "channel", channel));
    json_object_set_new(x->audit, "channel", json_string(channel));
    return true;
}

static bool act_close(struct actx *x) {
    bool bad = false;
    const char *note = field_str(x, "note", "说明", 500, false, &bad);
    if (bad) return false;
    if (!x->q->reply_at) return fail(x, 422, "validation_failed", "action", "须先答复诉求人才能办结");
    db_stmt *s = db_prep(db_thread(), "UPDATE requests SET status = 'closed', closed_at = ? WHERE id = ? AND reply_at IS NOT NULL");
    db_bind_text(s, 1, x->now.iso); db_bind_int(s, 2, x->q->id);
    if (!exec1(x, s)) return false;
    ev_add(x, "close", note, 0, 0, NULL);
    return true;
}

static bool act_visit(struct actx *x) {
    bool bad = false;
    const char *sat = field_str(x, "satisfaction", "满意度", 20, true, &bad);
    const char *note = field_str(x, "note", "回访情况", 1000, false, &bad);
    if (bad) return false;
    const char *code = code_by_name(x->a, "satisfaction", sat);
    if (!code) return fail(x, 422, "validation_failed", "satisfaction", "满意度“%s”无效", sat);
    const struct rq *q = x->q;
    if (q->visited_at && q->closed_at && strcmp(q->visited_at, q->closed_at) >= 0)
        return fail(x, 409, "invalid_state", "action", "本次办结已回访");
    db *d = db_thread();
    db_stmt *s = db_prep(d, "UPDATE requests SET satisfaction = ?, visited_at = ? WHERE id = ?");
    db_bind_text(s, 1, code); db_bind_text(s, 2, x->now.iso); db_bind_int(s, 3, q->id);
    if (!exec1(x, s)) return false;
    const char *sname = name_of(x, "satisfaction", code);
    ev_add(x, "visit", arena_printf(x->a, "%s%s%s", sname, note ? "：" : "", note ? note : ""), 0, 0,
           json_pack("{s:s}", "satisfaction", code));
    json_object_set_new(x->audit, "satisfaction", json_string(code));
    if (!code_flag("satisfaction", code, "reopen")) return true;

    /* Not satisfied: the request opens again one level above the station
     * that closed it, with a fresh deadline and no reply on record. */
    struct station up = x->owner;
    if (x->owner.parent_id && !station_get(x->owner.parent_id, &up)) up = x->owner;
    struct sla sla;
    if (!take_sla(x, &sla)) return false;
    s = db_prep(d,
        "UPDATE requests SET status = 'accepted', station_id = ?, assignee_id = NULL, accepted_at = ?, accepted_day = ?, "
        "sla_workdays = ?, sla_extensions = ?, sla_extension_workdays = ?, extensions_used = 0, extension_workdays = 0, "
        "reply_content = NULL, reply_channel = NULL, reply_at = NULL, reply_workdays = NULL, replied_on_time = NULL, "
        "closed_at = NULL, overdue_since = NULL, due_soon_noticed = NULL, next_escalation_day = NULL, paused = 0, "
        "pause_reason = NULL, reopen_count = reopen_count + 1 WHERE id = ?");
    db_bind_int(s, 1, up.id); db_bind_text(s, 2, x->now.iso); db_bind_text(s, 3, x->now.today_iso);
    db_bind_int(s, 4, sla.workdays); db_bind_int(s, 5, sla.extensions); db_bind_int(s, 6, sla.extension_workdays);
    db_bind_int(s, 7, q->id);
    if (!exec1(x, s)) return false;
    if (rq_store_due(q->id, x->cal, &x->now) < 0) return fail(x, 500, "internal", NULL, "办理期限计算失败");
    const char *due = due_note(x);
    const char *why = arena_printf(x->a, "回访%s，由%s重新办理，办理期限 %s", sname, up.name, due);
    ev_add(x, "reopen", why, x->owner.id, up.id, json_pack("{s:s}", "due_date", due));
    rq_notice(0, up.id, q->id, "reopened",
              arena_printf(x->a, "诉求 %s 回访%s，已转本站重新办理（期限 %s）", q->no, sname, due), x->now.iso);
    json_object_set_new(x->audit, "reopened", json_true());
    json_object_set_new(x->audit, "to_station_id", json_integer(up.id));
    return true;
}

/* ---- proxy services ---- */

struct pstep { int64_t seq; char name[128], level[8]; bool requires_materials; };

static bool proxy_step_row(int64_t rid, int64_t seq, struct pstep *p) {
    db_stmt *s = db_prep(db_thread(), "SELECT seq, name, level, requires_materials FROM request_proxy_steps "
                                      "WHERE request_id = ? AND seq = ?");
    db_bind_int(s, 1, rid); db_bind_int(s, 2, seq);
    bool ok = db_step(s) == DB_ROW;
    if (ok) {
        p->seq = db_col_int(s, 0);
        snprintf(p->name, sizeof p->name, "%s", db_col_text(s, 1));
        snprintf(p->level, sizeof p->level, "%s", db_col_text(s, 2));
        p->requires_materials = db_col_int(s, 3) != 0;
    }
    db_reset(s);
    return ok;
}

static bool act_proxy_step(struct actx *x) {
    bool bad = false;
    const char *note = field_str(x, "note", "环节办理情况", 1000, false, &bad);
    if (bad) return false;
    const struct rq *q = x->q;
    if (q->proxy_done_at) return fail(x, 409, "invalid_state", "action", "代办环节已全部完成");
    struct pstep cur, next;
    if (!proxy_step_row(q->id, q->proxy_step, &cur)) return fail(x, 500, "internal", NULL, "代办环节数据缺失");
    db *d = db_thread();
    if (cur.requires_materials) {
        /* Nobody acts on a veteran's behalf without the written
         * authorisation and the required materials in hand. */
        db_stmt *s = db_prep(d, "SELECT name FROM request_materials WHERE request_id = ? AND "
                                "(required = 1 OR is_authorization = 1) AND received_at IS NULL ORDER BY seq");
        db_bind_int(s, 1, q->id);
        char *missing = NULL;
        while (db_step(s) == DB_ROW)
            missing = missing ? arena_printf(x->a, "%s、%s", missing, db_col_text(s, 0)) : arena_strdup(x->a, db_col_text(s, 0));
        db_reset(s);
        if (missing) return fail(x, 422, "validation_failed", "materials", "“%s”须收齐材料后才能完成，尚未收到：%s", cur.name, missing);
    }
    db_stmt *s = db_prep(d, "UPDATE request_proxy_steps SET done_at = ?, done_by = ?, station_id = ?, note = ? "
                            "WHERE request_id = ? AND seq = ?");
    db_bind_text(s, 1, x->now.iso); db_bind_text(s, 2, x->u->username); db_bind_int(s, 3, x->owner.id);
    db_bind_text(s, 4, note); db_bind_int(s, 5, q->id); db_bind_int(s, 6, cur.seq);
    if (!exec1(x, s)) return false;
    json_object_set_new(x->audit, "step", json_integer(cur.seq));
    if (!proxy_step_row(q->id, cur.seq + 1, &next)) {
        s = db_prep(d, "UPDATE requests SET proxy_done_at = ? WHERE id = ?");
        db_bind_text(s, 1, x->now.iso); db_bind_int(s, 2, q->id);
        if (!exec1(x, s)) return false;
        if (q->paused > 0 && !end_pause(x, "authority", "代办环节完成")) return false;
        ev_add(x, "proxy_step", arena_printf(x->a, "完成“%s”%s%s；代办环节全部完成，请答复诉求人", cur.name,
                                             note ? "：" : "", note ? note : ""), 0, 0,
               json_pack("{s:I,s:b}", "step", (json_int_t)cur.seq, "done", 1));
        return true;
    }
    /* Hand-off: the next step is done at its level on the request's path. */
    int64_t to = station_on_path(q->region_code, next.level);
    struct station tost = x->owner;
    if (to > 0 && to != x->owner.id && !station_get(to, &tost)) tost = x->owner;
    bool moved = tost.id != x->owner.id;
    s = db_prep(d, "UPDATE requests SET proxy_step = ?, station_id = ?, "
                   "assignee_id = CASE WHEN ? THEN NULL ELSE assignee_id END, "
                   "next_escalation_day = CASE WHEN ? THEN ? ELSE next_escalation_day END WHERE id = ?");
    db_bind_int(s, 1, next.seq); db_bind_int(s, 2, tost.id); db_bind_int(s, 3, moved); db_bind_int(s, 4, moved);
    db_bind_text(s, 5, grace_day(x)); db_bind_int(s, 6, q->id);
    if (!exec1(x, s)) return false;
    /* The SLA covers taking in and forwarding, not the higher authority's own
     * review: while the center works on its steps the clock stands still. */
    bool at_center = strcmp(next.level, "center") == 0;
    if (at_center && q->paused <= 0) {
        const char *why = "上级审核审批期间，不计入办理时限";
        s = db_prep(d, "INSERT INTO request_pauses(request_id, kind, from_day, reason) VALUES (?, 'authority', ?, ?)");
        db_bind_int(s, 1, q->id); db_bind_text(s, 2, x->now.today_iso); db_bind_text(s, 3, why);
        if (!exec1(x, s)) return false;
        s = db_prep(d, "UPDATE requests SET paused = 1, pause_reason = ? WHERE id = ?");
        db_bind_text(s, 1, why); db_bind_int(s, 2, q->id);
        if (!exec1(x, s)) return false;
    } else if (!at_center && q->paused > 0 && !end_pause(x, "authority", "上级审核审批完成")) {
        return false;
    }
    ev_add(x, "proxy_step", arena_printf(x->a, "完成“%s”%s%s；转入“%s”", cur.name, note ? "：" : "", note ? note : "", next.name),
           moved ? x->owner.id : 0, moved ? tost.id : 0, json_pack("{s:I,s:I}", "step", (json_int_t)cur.seq,
                                                                    "next", (json_int_t)next.seq));
    if (moved)
        rq_notice(0, tost.id, q->id, "handoff",
                  arena_printf(x->a, "代办诉求 %s（%s）已转至本站办理“%s”", q->no,
                               name_of(x, "proxy_type", q->proxy_type), next.name), x->now.iso);
    json_object_set_new(x->audit, "next_step", json_integer(next.seq));
    if (moved) json_object_set_new(x->audit, "to_station_id", json_integer(tost.id));
    return true;
}

/* A date field: absent → *set false; null → clear; text → strict ISO, not in the future. */
static bool date_field(struct actx *x, const char *key, const char *label, bool *set, const char **out) {
    json_t *v = json_object_get(x->b, key);
    *set = v != NULL;
    *out = NULL;
    if (!v || json_is_null(v)) return true;
    int d;
    if (!json_is_string(v) || !cdate_iso_to_days(json_string_value(v), &d))
        return fail(x, 422, "validation_failed", key, "%s须为 YYYY-MM-DD 格式的日期", label);
    if (d > x->now.today) return fail(x, 422, "validation_failed", key, "%s不能晚于今天", label);
    *out = json_string_value(v);
    return true;
}

static bool act_material(struct actx *x) {
    bool bad = false;
    const char *name = field_str(x, "name", "材料名称", 60, true, &bad);
    const char *note = field_str(x, "note", "说明", 200, false, &bad);
    if (bad) return false;
    bool rset, tset;
    const char *rec, *ret;
    if (!date_field(x, "received_at", "收到日期", &rset, &rec) || !date_field(x, "returned_at", "退还日期", &tset, &ret))
        return false;
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT id, received_at, returned_at, is_authorization FROM request_materials "
                            "WHERE request_id = ? AND name = ?");
    db_bind_int(s, 1, x->q->id); db_bind_text(s, 2, name);
    int64_t mid = 0;
    const char *old_rec = NULL, *old_ret = NULL;
    bool auth = false;
    if (db_step(s) == DB_ROW) {
        mid = db_col_int(s, 0);
        old_rec = arena_strdup(x->a, db_col_text(s, 1));
        old_ret = arena_strdup(x->a, db_col_text(s, 2));
        auth = db_col_int(s, 3) != 0;
    }
    db_reset(s);
    const char *nrec = rset ? rec : old_rec, *nret = tset ? ret : old_ret;
    if (nret && !nrec) return fail(x, 422, "validation_failed", "returned_at", "尚未收到的材料不能登记退还");
    if (nret && nrec && strcmp(nret, nrec) < 0)
        return fail(x, 422, "validation_failed", "returned_at", "退还日期不能早于收到日期");
    if (mid) {
        s = db_prep(d, "UPDATE request_materials SET received_at = ?, returned_at = ?, note = COALESCE(?, note) WHERE id = ?");
        db_bind_text(s, 1, nrec); db_bind_text(s, 2, nret); db_bind_text(s, 3, note); db_bind_int(s, 4, mid);
    } else {
        s = db_prep(d, "INSERT INTO request_materials(request_id, seq, name, required, received_at, returned_at, note) "
                       "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM request_materials WHERE request_id = ?), ?, 0, ?, ?, ?)");
        db_bind_int(s, 1, x->q->id); db_bind_int(s, 2, x->q->id); db_bind_text(s, 3, name);
        db_bind_text(s, 4, nrec); db_bind_text(s, 5, nret); db_bind_text(s, 6, note);
    }
    if (!exec1(x, s)) return false;
    if (auth) {
        s = db_prep(d, "UPDATE requests SET authorized_at = ? WHERE id = ?");
        db_bind_text(s, 1, nrec); db_bind_int(s, 2, x->q->id);
        if (!exec1(x, s)) return false;
    }
    char *what = arena_printf(x->a, "材料“%s”", name);
    if (rset) what = arena_printf(x->a, "%s：%s", what, rec ? arena_printf(x->a, "收到 %s", rec) : "撤销收到");
    if (tset) what = arena_printf(x->a, "%s；%s", what, ret ? arena_printf(x->a, "退还 %s", ret) : "撤销退还");
    if (note) what = arena_printf(x->a, "%s（%s）", what, note);
    ev_add(x, "material", what, 0, 0, json_pack("{s:s,s:o,s:o}", "name", name, "received_at", nrec ? json_string(nrec) : json_null(),
                                                "returned_at", nret ? json_string(nret) : json_null()));
    json_object_set_new(x->audit, "material", json_string(name));
    return true;
}

/* ---- the table ---- */

static const struct act acts[] = {
    {"accept", ST_RECEIVED, WHO_HANDLE, 0, {"note"}, act_accept},
    {"refuse", ST_RECEIVED, WHO_HANDLE, 0, {"reason", "channel"}, act_refuse},
    {"assign", ST_RECEIVED | ST_ACCEPTED | ST_WAITING | ST_REPLIED, WHO_HANDLE, 0, {"station_id", "assignee_id", "note"}, act_assign},
    {"transfer", ST_RECEIVED | ST_ACCEPTED | ST_WAITING, WHO_HANDLE, 0, {"station_id", "reason"}, act_transfer},
    {"escalate", ST_RECEIVED | ST_ACCEPTED | ST_WAITING, WHO_HANDLE, 0, {"reason"}, act_escalate},
    {"help", ST_ACCEPTED | ST_WAITING, WHO_HANDLE, 0, {"station_id", "note"}, act_help},
    {"pause", ST_ACCEPTED, WHO_HANDLE, A_NOT_PAUSED, {"reason"}, act_pause},
    {"resume", ST_WAITING, WHO_HANDLE, 0, {"note"}, act_resume},
    {"extend", ST_ACCEPTED | ST_WAITING, WHO_HANDLE, 0, {"reason", "workdays"}, act_extend},
    {"approve_extension", ST_ACCEPTED | ST_WAITING, WHO_APPROVE, 0, {"note"}, act_approve_extension},
    {"reject_extension", ST_ACCEPTED | ST_WAITING, WHO_APPROVE, 0, {"reason"}, act_reject_extension},
    {"note", ST_RECEIVED | ST_ACCEPTED | ST_REFUSED | ST_WAITING | ST_REPLIED | ST_CLOSED, WHO_VISIBLE, 0, {"note"}, act_note},
    {"reply", ST_ACCEPTED | ST_REPLIED, WHO_HANDLE, 0, {"content", "channel"}, act_reply},
    {"close", ST_REPLIED, WHO_HANDLE, 0, {"note"}, act_close},
    {"visit", ST_CLOSED, WHO_HANDLE, 0, {"satisfaction", "note"}, act_visit},
    {"proxy_step", ST_ACCEPTED, WHO_HANDLE, A_PROXY, {"note"}, act_proxy_step},
    {"material", ST_RECEIVED | ST_ACCEPTED | ST_WAITING | ST_REPLIED, WHO_HANDLE, A_PROXY,
     {"name", "received_at", "returned_at", "note"}, act_material},
};
#define NACTS (sizeof acts / sizeof *acts)

static const struct act *act_find(const char *name) {
    for (size_t i = 0; name && i < NACTS; i++)
        if (strcmp(acts[i].name, name) == 0) return &acts[i];
    return NULL;
}

json_t *rq_allowed_actions(const user_ctx *u, const struct rq *q, const struct station *owner) {
    json_t *a = json_array();
    if (!user_can(u, "request.write")) return a;
    unsigned bit = rq_status_bit(q->status);
    bool handle = rq_may_handle(u, owner);
    db_stmt *s = db_prep(db_thread(), "SELECT requested_by FROM request_extensions WHERE request_id = ? AND status = 'pending'");
    db_bind_int(s, 1, q->id);
    bool pending = db_step(s) == DB_ROW;
    int64_t by = pending && !db_col_null(s, 0) ? db_col_int(s, 0) : 0;
    db_reset(s);
    for (size_t i = 0; i < NACTS; i++) {
        const struct act *t = &acts[i];
        if (!(t->states & bit)) continue;
        if ((t->flags & A_PROXY) && !q->proxy_type) continue;
        if ((t->flags & A_NOT_PAUSED) && q->paused > 0) continue;
        if (t->who == WHO_HANDLE && !handle) continue;
        if (t->who == WHO_APPROVE && (!pending || !rq_may_approve(u, owner, by))) continue;
        if (t->fn == act_extend && (pending || q->extensions_used >= q->sla_extensions)) continue;
        if (t->fn == act_escalate && !owner->parent_id) continue;
        if (t->fn == act_reply && q->proxy_type && !q->proxy_done_at) continue;
        if (t->fn == act_proxy_step && q->proxy_done_at) continue;
        if (t->fn == act_visit && q->visited_at && q->closed_at && strcmp(q->visited_at, q->closed_at) >= 0) continue;
        json_array_append_new(a, json_string(t->name));
    }
    return a;
}

/* Runs ACT on the loaded request inside the caller's transaction: checks,
 * the action, the version bump, timeline, audit. False: x->err or answered. */
static bool run(struct actx *x, const struct act *t) {
    const struct rq *q = x->q;
    if (!station_get(q->station_id, &x->owner)) return fail(x, 500, "internal", NULL, "服务站数据缺失");
    if (!(t->states & rq_status_bit(q->status)))
        return fail(x, 409, "invalid_state", "action", "诉求当前状态为“%s”，不能执行“%s”", rq_status_name(q->status),
                    rq_action_name(t->name));
    if (t->who == WHO_HANDLE && !rq_may_handle(x->u, &x->owner))
        return fail(x, 403, "forbidden", NULL, "该诉求当前由%s办理，本站不能执行“%s”", x->owner.name, rq_action_name(t->name));
    if ((t->flags & A_PROXY) && !q->proxy_type)
        return fail(x, 422, "validation_failed", "action", "只有代办事项才能执行“%s”", rq_action_name(t->name));
    if ((t->flags & A_NOT_PAUSED) && q->paused > 0)
        return fail(x, 409, "invalid_state", "action", "计时已暂停（%s）", q->pause_reason ? q->pause_reason : "");
    x->audit = json_object();
    if (!t->fn(x)) return false;
    db *d = db_thread();
    db_stmt *s = db_prep(d, "UPDATE requests SET version = version + 1, updated_at = ? WHERE id = ? AND version = ?");
    db_bind_text(s, 1, x->now.iso); db_bind_int(s, 2, q->id); db_bind_int(s, 3, q->version);
    if (!exec1(x, s)) return false;
    if (db_changes(d) == 0) return fail(x, 409, "version_conflict", "version", "该诉求已被他人更新，请刷新后重试");
    for (int i = 0; i < x->nev; i++)
        if (rq_event(q->id, x->u, x->now.iso, x->ev[i].action, x->ev[i].note, x->ev[i].from, x->ev[i].to,
                     x->ev[i].detail) < 0)
            return fail(x, 500, "internal", NULL, "保存办理记录失败");
    struct rq after;
    rq_load(x->a, NULL, q->id, &after);
    json_object_set_new(x->audit, "no", json_string(q->no));
    json_object_set_new(x->audit, "before", json_pack("{s:s,s:I}", "status", q->status, "station_id", (json_int_t)q->station_id));
    json_object_set_new(x->audit, "after", json_pack("{s:s,s:I}", "status", after.status, "station_id", (json_int_t)after.station_id));
    char ids[24];
    if (audit_log(x->r, arena_printf(x->a, "request.%s", t->name), "request", rq_idstr(ids, q->id), "ok", x->audit) != 0)
        return fail(x, 500, "internal", NULL, "审计记录写入失败");
    return true;
}

static void actx_free(struct actx *x) {
    for (int i = 0; i < x->nev; i++) json_decref(x->ev[i].detail);
    x->nev = 0;
    json_decref(x->audit);
    x->audit = NULL;
}

void requests_action(req *r) {
    user_ctx *u = current_user(r);
    int64_t id = req_param_id(r, 0);
    json_t *b = req_json(r);
    if (!b) return;
    json_t *av = json_object_get(b, "action");
    if (!json_is_string(av)) { reply_error(r, 422, "validation_failed", "action", "请指定操作 action"); return; }
    const struct act *t = act_find(json_string_value(av));
    if (!t) { reply_error(r, 422, "validation_failed", "action", "未知操作“%s”", json_string_value(av)); return; }
    const char *allowed[9] = {"action", "version"};
    for (int i = 0; i < 6 && t->keys[i]; i++) allowed[2 + i] = t->keys[i];
    if (!json_only_keys(r, b, allowed)) return;
    json_t *ver = json_object_get(b, "version");
    if (!json_is_integer(ver)) { reply_error(r, 422, "validation_failed", "version", "缺少版本号 version"); return; }

    struct actx x = {.r = r, .u = u, .a = req_arena(r), .b = b};
    rq_now_init(&x.now);
    struct rq q;
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return; }
    /* Read inside the write transaction: what the checks see is what the
     * update changes. */
    if (id <= 0 || !rq_load(x.a, u, id, &q)) {
        db_rollback(d);
        reply_error(r, 404, "not_found", NULL, "诉求不存在");
        return;
    }
    if (q.version != json_integer_value(ver)) {
        db_rollback(d);
        reply_error(r, 409, "version_conflict", "version", "该诉求已被他人更新，请刷新后重试");
        return;
    }
    x.q = &q;
    x.cal = rq_calendar();
    bool ok = run(&x, t) && db_commit(d) == DB_OK;
    if (!ok) {
        db_rollback(d);
        if (!replied(r)) reply_error(r, 500, "internal", NULL, "保存失败");
    } else {
        struct rq now;
        if (rq_load(x.a, u, id, &now)) reply_json(r, 200, rq_view(x.a, u, &now, x.cal, &x.now, true));
        else reply_json(r, 200, json_pack("{s:I,s:s,s:b}", "id", (json_int_t)id, "no", q.no, "visible", 0));
    }
    actx_free(&x);
    workcal_free(x.cal);
}

/* POST /requests/bulk-assign {ids, station_id, assignee_id?, note?}: the
 * assign action on each request the user may handle; the others are reported,
 * not fatal. No version: a manager's reassignment overrides. */
void requests_bulk_assign(req *r) {
    static const char *const keys[] = {"ids", "station_id", "assignee_id", "note", NULL};
    user_ctx *u = current_user(r);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, keys)) return;
    json_t *ids = json_object_get(b, "ids");
    if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > 500) {
        reply_error(r, 422, "validation_failed", "ids", "ids 须为 1–500 个诉求编号（id）的数组");
        return;
    }
    bool bad = false;
    json_str_field(r, b, "note", "说明", 500, &bad);
    if (bad) return;
    if (!json_is_integer(json_object_get(b, "station_id"))) {
        reply_error(r, 422, "validation_failed", "station_id", "请选择服务站");
        return;
    }
    const struct act *t = act_find("assign");
    arena *a = req_arena(r);
    workcal *cal = rq_calendar();
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { workcal_free(cal); reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    json_t *done = json_array(), *failed = json_array();
    size_t i; json_t *v;
    bool broken = false;
    json_array_foreach(ids, i, v) {
        struct actx x = {.r = r, .u = u, .a = a, .b = b, .collect = true, .cal = cal};
        rq_now_init(&x.now);
        struct rq q;
        int64_t id = json_is_integer(v) ? json_integer_value(v) : 0;
        if (id <= 0 || !rq_load(a, u, id, &q)) {
            json_array_append_new(failed, json_pack("{s:O,s:s}", "id", v, "message", "诉求不存在"));
            continue;
        }
        x.q = &q;
        /* A refused item wrote nothing: every check of assign comes before
         * its first write. A failed write (500) fails the whole batch. */
        if (run(&x, t)) json_array_append_new(done, json_integer(id));
        else {
            json_array_append_new(failed, json_pack("{s:I,s:s}", "id", (json_int_t)id, "message", x.err ? x.err : "失败"));
            if (x.err_status >= 500) broken = true;
        }
        actx_free(&x);
    }
    workcal_free(cal);
    if (broken || db_commit(d) != DB_OK) {
        db_rollback(d);
        json_decref(done); json_decref(failed);
        reply_error(r, 500, "internal", NULL, "批量分派失败");
        return;
    }
    reply_json(r, 200, json_pack("{s:o,s:o}", "assigned", done, "failed", failed));
}
