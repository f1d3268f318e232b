/* The deadline job. Every requests.job_interval_seconds (0: off; by the injectable
 * clock, so tests move time instead of waiting) it looks at the requests whose
 * deadline is near or past:
 *  - due soon (within requests.due_soon_workdays): marked once, timeline
 *    entry, notice to the owner;
 *  - overdue (no response within the SLA's hours, or past the due day while
 *    the clock runs): marked once, and escalated one level up (village → town
 *    → center) with a timeline entry, an audit row by the system and a notice
 *    to the new owner. The new owner then has requests.escalation_grace_workdays
 *    before the next automatic step; the center, having no level above, gets a
 *    notice only.
 * Every request is re-read inside the write transaction that changes it, and
 * that transaction holds the "requests.deadline" lock (db_lock_serial), so
 * several nodes running a pass, or the job and a user, never escalate the same
 * request twice. The automatic passes run on one node at a time: the one whose
 * job thread holds "requests.deadline_job" (db_try_lock_job); when that node
 * stops, another takes over at its next interval. */
#include "requests/internal.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "network/network.h"
#include "std/cdate.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void bump(int64_t id, const struct rq_now *now) {
    db_stmt *s = db_prep(db_thread(), "UPDATE requests SET version = version + 1, updated_at = ? WHERE id = ?");
    db_bind_text(s, 1, now->iso); db_bind_int(s, 2, id);
    db_step(s);
    db_reset(s);
}

/* One request; returns false on a database error. */
static bool check_one(arena *a, const char *rid, int64_t id, const workcal *cal, const struct rq_now *now,
                      const char *soon_iso, int64_t grace, struct job_result *res) {
    struct rq q;
    if (!rq_load(a, NULL, id, &q)) return true;
    bool received = strcmp(q.status, "received") == 0, accepted = strcmp(q.status, "accepted") == 0;
    bool running = accepted && q.paused <= 0 && q.due_date;
    bool overdue = (received && strcmp(q.response_due, now->iso) < 0) || (running && strcmp(q.due_date, now->today_iso) < 0);
    bool soon = running && !overdue && !q.due_soon_noticed && strcmp(q.due_date, soon_iso) <= 0;
    if (!overdue && !soon) return true;
    db *d = db_thread();
    char ids[24];
    rq_idstr(ids, id);
    const char *cat = code_name(a, "request_category", q.category);
    if (soon) {
        struct dl_state st;
        if (!rq_deadline(&q, cal, now, &st)) return true;
        db_stmt *s = db_prep(d, "UPDATE requests SET due_soon_noticed = ? WHERE id = ?");
        db_bind_text(s, 1, now->today_iso); db_bind_int(s, 2, id);
        if (db_step(s) != DB_DONE) { db_reset(s); return false; }
        db_reset(s);
        const char *msg = arena_printf(a, "办理期限 %s，剩余 %d 个工作日", q.due_date, st.left);
        rq_event(id, NULL, now->iso, "due_soon", msg, 0, 0, NULL);
        rq_notice_owner(&q, "due_soon", arena_printf(a, "诉求 %s（%s）即将到期：%s", q.no, cat ? cat : q.category, msg), now->iso);
        if (rq_audit_as(NULL, rid, "request.due_soon", ids, json_pack("{s:s,s:s}", "no", q.no, "due_date", q.due_date)) != 0)
            return false;
        bump(id, now);
        res->due_soon++;
        return true;
    }
    const char *what = received ? arena_printf(a, "超过首次响应时限（%lld 小时）未受理", (long long)q.response_hours)
                                : arena_printf(a, "超过办理期限 %s 未办结", q.due_date);
    struct station owner;
    if (!station_get(q.station_id, &owner)) return true;
    bool changed = false;
    if (!q.overdue_since) {
        db_stmt *s = db_prep(d, "UPDATE requests SET overdue_since = ? WHERE id = ?");
        db_bind_text(s, 1, now->today_iso); db_bind_int(s, 2, id);
        if (db_step(s) != DB_DONE) { db_reset(s); return false; }
        db_reset(s);
        rq_event(id, NULL, now->iso, "overdue", what, 0, 0, NULL);
        if (rq_audit_as(NULL, rid, "request.overdue", ids, json_pack("{s:s,s:s?,s:I}", "no", q.no, "due_date", q.due_date,
                                                                      "station_id", (json_int_t)owner.id)) != 0)
            return false;
        if (!owner.parent_id)
            rq_notice_owner(&q, "overdue", arena_printf(a, "诉求 %s（%s）已超期：%s", q.no, cat ? cat : q.category, what), now->iso);
        res->overdue++;
        changed = true;
    }
    struct station up;
    if (owner.parent_id && (!q.next_escalation_day || strcmp(now->today_iso, q.next_escalation_day) > 0) &&
        station_get(owner.parent_id, &up)) {
        char next[11];
        cdate_iso(workcal_add(cal, now->today, (int)grace), next);
        db_stmt *s = db_prep(d, "UPDATE requests SET station_id = ?, assignee_id = NULL, next_escalation_day = ? WHERE id = ?");
        db_bind_int(s, 1, up.id); db_bind_text(s, 2, next); db_bind_int(s, 3, id);
        if (db_step(s) != DB_DONE) { db_reset(s); return false; }
        db_reset(s);
        const char *note = arena_printf(a, "%s，系统自动上报至%s", what, up.name);
        rq_event(id, NULL, now->iso, "auto_escalate", note, owner.id, up.id, NULL);
        rq_notice(0, up.id, id, "escalated", arena_printf(a, "诉求 %s（%s）%s，已自动上报至本站，请于 %s 前处理", q.no,
                                                          cat ? cat : q.category, what, next), now->iso);
        if (rq_audit_as(NULL, rid, "request.escalate", ids, json_pack("{s:s,s:b,s:I,s:I,s:s}", "no", q.no, "auto", 1,
                                                                       "from_station_id", (json_int_t)owner.id,
                                                                       "to_station_id", (json_int_t)up.id, "reason", what)) != 0)
            return false;
        res->escalated++;
        changed = true;
    }
    if (changed) bump(id, now);
    return true;
}

/* The centre gets one notice per year the calendar lacks (see
 * rq_calendar_needed_year): until an administrator enters it (POST
 * /calendar), deadlines in that year count Monday to Friday and requests
 * show them as estimated. */
static void calendar_check(const char *rid, const workcal *cal, const struct rq_now *now) {
    int first, last;
    workcal_years(cal, &first, &last);
    int need = rq_calendar_needed_year(now);
    if (last >= need) return;
    char msg[384];
    snprintf(msg, sizeof msg, "尚未录入%d年节假日安排：请系统管理员按国务院办公厅通知在“系统管理 → 节假日安排”中录入。"
                              "录入前，%d年的办理期限暂按周一至周五计算（显示为“估算”），录入后自动重算。", need, need);
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT 1 FROM notices WHERE kind = 'calendar' AND message = ?");
    db_bind_text(s, 1, msg);
    bool sent = db_step(s) == DB_ROW;
    db_reset(s);
    if (sent) return;
    int64_t center = station_for_region(home_county());
    char year[16]; snprintf(year, sizeof year, "%d", need);
    if (db_begin(d) != DB_OK) return;
    if (rq_notice(0, center, 0, "calendar", msg, now->iso) == 0 &&
        audit_event_as(NULL, rid, NULL, "calendar.missing", "calendar", year, "ok", json_pack("{s:i}", "year", need)) == 0 &&
        db_commit(d) == DB_OK)
        log_warn(rid, "%d 年节假日安排尚未录入：已通知服务中心", need);
    else db_rollback(d);
}

int requests_deadline_run(const char *rid, struct job_result *res) {
    memset(res, 0, sizeof *res);
    struct rq_now now;
    rq_now_init(&now);
    workcal *cal = rq_calendar();
    calendar_check(rid, cal, &now);
    char soon[11];
    cdate_iso(workcal_add(cal, now.today, (int)setting_int("requests.due_soon_workdays", 2)), soon);
    int64_t grace = setting_int("requests.escalation_grace_workdays", 2);
    db *d = db_thread();
    /* Candidates first, then one short transaction each: users are never
     * blocked behind a long pass. */
    db_stmt *s = db_prep(d, "SELECT id FROM requests WHERE (status = 'received' AND response_due < ?) OR "
                            "(status = 'accepted' AND paused = 0 AND due_date <= ?) ORDER BY id LIMIT 5000");
    db_bind_text(s, 1, now.iso); db_bind_text(s, 2, soon);
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    while (db_step(s) == DB_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *bigger = realloc(ids, cap * sizeof *ids);
            if (!bigger) break;
            ids = bigger;
        }
        ids[n++] = db_col_int(s, 0);
    }
    db_reset(s);
    /* Batches of 50 per transaction: few commits (each is a disk sync), and
     * users wait behind the write lock for one short batch at most. A failed
     * batch is retried request by request so one bad row stops nothing else. */
    int rc = 0;
    /* Shared by several nodes (PostgreSQL) there is no single write lock:
     * one request per transaction keeps the order every writer follows (the
     * request's row, then the audit chain's lock), so a user acting on a
     * request of the batch never deadlocks with the job. */
    size_t per = db_shared(d) ? 1 : 50;
    for (size_t i = 0; i < n; i += per) {
        size_t end = i + per < n ? i + per : n;
        struct job_result part = {0};
        arena *a = arena_new(8192);
        bool ok = db_begin(d) == DB_OK && db_lock_serial(d, "requests.deadline") == DB_OK;
        for (size_t k = i; ok && k < end; k++) ok = check_one(a, rid, ids[k], cal, &now, soon, grace, &part);
        if (ok && db_commit(d) == DB_OK) {
            res->due_soon += part.due_soon; res->overdue += part.overdue; res->escalated += part.escalated;
            arena_free(a);
            continue;
        }
        db_rollback(d);
        for (size_t k = i; k < end; k++) {
            struct job_result one = {0};
            if (db_begin(d) == DB_OK && db_lock_serial(d, "requests.deadline") == DB_OK &&
                check_one(a, rid, ids[k], cal, &now, soon, grace, &one) && db_commit(d) == DB_OK) {
                res->due_soon += one.due_soon; res->overdue += one.overdue; res->escalated += one.escalated;
                continue;
            }
            db_rollback(d);
            log_error(rid, "期限检查失败：诉求 %lld", (long long)ids[k]);
            rc = -1;
        }
        arena_free(a);
    }
    free(ids);
    workcal_free(cal);
    return rc;
}

/* POST /requests/run-deadline-job: one pass now (operators after a clock
 * problem; tests, with the injectable clock). */
void requests_run_job(req *r) {
    struct job_result res;
    if (requests_deadline_run(req_id(r), &res) != 0) { reply_error(r, 500, "internal", NULL, "期限检查未能全部完成"); return; }
    rq_audit(r, "request.run_deadline_job", "request", NULL,
             json_pack("{s:i,s:i,s:i}", "due_soon", res.due_soon, "overdue", res.overdue, "escalated", res.escalated));
    reply_json(r, 200, json_pack("{s:i,s:i,s:i}", "due_soon", res.due_soon, "overdue", res.overdue, "escalated", res.escalated));
}

/* ---- the thread ---- */

static pthread_t thread;
static bool started;
static atomic_bool stopping;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *job_main(void *arg) {
    (void)arg;
    /* The first pass waits one interval: a restart is not a reason to act.
     * An interval of 0 stops the automatic passes (run-deadline-job still works). */
    int64_t last = now_unix();
    bool runner = false;
    while (!atomic_load(&stopping)) {
        int64_t interval = setting_int("requests.job_interval_seconds", 300);
        int64_t t = now_unix();
        if (t < last) last = t;   /* the clock went back (test clock): count the interval from now */
        if (interval > 0 && t - last >= interval) {
            /* Several nodes: the one holding the job lock runs the passes. */
            bool mine = db_try_lock_job(db_thread(), "requests.deadline_job");
            if (mine != runner) {
                runner = mine;
                log_info("job", runner ? "本节点负责诉求期限检查" : "诉求期限检查由其他节点负责");
            }
            if (runner) {
                struct job_result res;
                requests_deadline_run("job", &res);
                if (res.due_soon || res.overdue || res.escalated)
                    log_info("job", "期限检查：即将到期 %d，超期 %d，自动上报 %d", res.due_soon, res.overdue, res.escalated);
            }
            last = now_unix();
        }
        /* Wake every second to see the clock and the stop flag. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_mutex_lock(&mu);
        if (!atomic_load(&stopping)) pthread_cond_timedwait(&cv, &mu, &ts);
        pthread_mutex_unlock(&mu);
    }
    db_thread_close();
    return NULL;
}

int requests_job_start(void) {
    if (started) return 0;
    atomic_store(&stopping, false);
    if (pthread_create(&thread, NULL, job_main, NULL) != 0) {
        log_error(NULL, "无法启动诉求期限检查线程");
        return -1;
    }
    started = true;
    return 0;
}

void requests_job_stop(void) {
    if (!started) return;
    pthread_mutex_lock(&mu);
    atomic_store(&stopping, true);
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    started = false;
}
