/* Demo requests for `vets init --demo`: o->requests requests over the last
 * four months, spread over the persons of the registry (or, before the
 * registry has persons, over invented contacts in the demo villages), in every
 * state with a plausible timeline: waiting for acceptance (some past their
 * response time), in hand (some due soon, some overdue), waiting for
 * materials, answered, closed with a return visit (a few 不满意, reopened one
 * level up), refused, and proxy cases (代办) part-way through their steps with
 * materials received. Written in one transaction; the timeline is written as
 * it would have happened, by "demo" staff at the stations concerned. */
#include "requests/internal.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "network/network.h"
#include "std/cdate.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int requests_bulk_numbers(bool on);   /* routes.c: numbers in blocks for a bulk load */
int64_t requests_demo_insert(arena *a, const user_ctx *u, const char *channel, const char *category, const char *urgency,
                             int64_t person_id, const char *cname, const char *cphone, const char *region,
                             const char *content, const char *proxy_type, int64_t station_id, int64_t response_hours,
                             const struct rq_now *now, char no[32]);

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "沈", "朱", "陆", "顾"};
static const char *const given[] = {"建国", "卫东", "志强", "海峰", "国平", "伟", "军", "勇", "明华", "建华", "林", "斌", "春生", "秀英", "丽华", "洪"};

/* Content by the category's name; a generic sentence for categories added later. */
static const struct { const char *category, *text[3]; } contents[] = {
    {"政策咨询", {"咨询退役士兵一次性经济补助的发放标准和时间", "咨询优待证申领条件和办理地点", "咨询自主就业退役士兵参加职业技能培训的补贴政策"}},
    {"优抚待遇", {"反映定期抚恤金本月未到账", "申请调整伤残抚恤金标准", "咨询带病回乡退伍军人生活补助标准"}},
    {"就业创业", {"希望推荐适合退役军人的就业岗位", "申请退役军人创业担保贷款", "咨询参加退役军人专场招聘会"}},
    {"帮扶援助", {"家庭成员重病，生活困难，申请临时救助", "房屋漏雨需要修缮，申请帮扶", "申请困难退役军人帮扶基金"}},
    {"权益维护", {"反映用人单位未落实退役军人工龄连续计算", "反映安置单位未按约定签订劳动合同", "反映子女入学优待政策未落实"}},
    {"代办事项", {"申请代办相关认定手续", "本人行动不便，委托服务站代办", "请求协助收集和报送申请材料"}},
    {"意见建议", {"建议在村服务站增设周末值班", "建议增加退役军人专场招聘会频次", "对服务站办事效率提出表扬和建议"}},
};

struct pick { const char *code; int weight; };

static unsigned rnd(unsigned *seed) { return (unsigned)rand_r(seed); }

/* Codes of TABLE in file order, with weights by position (later ones rarer). */
static int codes_of(arena *a, const char *table, struct pick *out, int cap, const int *weights, int nw) {
    db_stmt *s = db_prep(db_thread(), "SELECT code FROM codes WHERE tbl = ? ORDER BY sort, code");
    db_bind_text(s, 1, table);
    int n = 0;
    while (n < cap && db_step(s) == DB_ROW) {
        out[n].code = arena_strdup(a, db_col_text(s, 0));
        out[n].weight = n < nw ? weights[n] : 1;
        n++;
    }
    db_reset(s);
    return n;
}

static const char *choose(const struct pick *p, int n, unsigned *seed) {
    int total = 0;
    for (int i = 0; i < n; i++) total += p[i].weight;
    int x = total > 0 ? (int)(rnd(seed) % (unsigned)total) : 0;
    for (int i = 0; i < n; i++) { if (x < p[i].weight) return p[i].code; x -= p[i].weight; }
    return n ? p[0].code : NULL;
}

/* An actor at STATION for timeline entries. */
static void actor(user_ctx *u, int64_t station) {
    memset(u, 0, sizeof *u);
    u->station_id = station;
    snprintf(u->username, sizeof u->username, "demo");
}

static void at_time(struct rq_now *n, int64_t t) {
    n->t = t;
    iso_utc(t, n->iso);
    n->today = unix_to_cn_days(t);
    cdate_iso(n->today, n->today_iso);
}

static int exec_ok(db_stmt *s) { int rc = db_step(s); db_reset(s); return rc == DB_DONE ? 0 : -1; }

/* Moves the clock of a request forward to T: a working-hours time on the day
 * DAYS after the day of T0. */
static int64_t later(int64_t t0, int days, int hour) {
    int day = unix_to_cn_days(t0) + days;
    return (int64_t)day * 86400 - 8 * 3600 + hour * 3600 + 17 * 60;
}

int requests_demo(const struct demo_opts *o, char *err, unsigned errcap) {
    if (o->requests <= 0) return 0;
    if (errcap) err[0] = 0;
    db *d = db_thread();
    arena *a = arena_new(1 << 16);
    unsigned seed = o->seed ^ 0x5157u;
    struct pick cats[16], urg[8], chans[8], sats[8], ptypes[8];
    static const int wcat[] = {25, 20, 12, 12, 8, 10, 8, 5}, wurg[] = {75, 20, 5}, wch[] = {35, 30, 12, 12, 8, 3},
                     wsat[] = {70, 22, 8};
    int ncat = codes_of(a, "request_category", cats, 16, wcat, 8), nurg = codes_of(a, "urgency", urg, 8, wurg, 3);
    int nch = codes_of(a, "request_channel", chans, 8, wch, 6), nsat = codes_of(a, "satisfaction", sats, 8, wsat, 3);
    int npt = codes_of(a, "proxy_type", ptypes, 8, NULL, 0);
    if (!ncat || !nurg || !nch || !nsat) { snprintf(err, errcap, "诉求代码表缺失"); arena_free(a); return -1; }
    /* The ids of the persons in id order, read once: the k-th is the person
     * an `ORDER BY id LIMIT 1 OFFSET k` would find, without stepping over k
     * rows for every request (minutes for 10 000 requests over a million). */
    int64_t persons = 0, cap = 0, *pids = NULL;
    {
        db_stmt *s = db_prep(d, "SELECT id FROM persons ORDER BY id");
        while (s && db_step(s) == DB_ROW) {
            if (persons == cap) {
                cap = cap ? cap * 2 : 4096;
                int64_t *np = realloc(pids, (size_t)cap * sizeof *pids);
                if (!np) { db_reset(s); free(pids); snprintf(err, errcap, "内存不足"); arena_free(a); return -1; }
                pids = np;
            }
            pids[persons++] = db_col_int(s, 0);
        }
        if (s) db_reset(s);
    }
    /* Without persons, contacts live in the demo villages. */
    char (*villages)[13] = NULL;
    int nvill = 0;
    if (persons == 0) {
        villages = calloc(4096, sizeof *villages);
        db_stmt *s = db_prep(d, "SELECT region_code FROM stations WHERE level = 'village' ORDER BY region_code");
        while (nvill < 4096 && db_step(s) == DB_ROW) snprintf(villages[nvill++], 13, "%s", db_col_text(s, 0));
        db_reset(s);
        if (!nvill) {
            s = db_prep(d, "SELECT region_code FROM stations ORDER BY region_code");
            while (nvill < 4096 && db_step(s) == DB_ROW) snprintf(villages[nvill++], 13, "%s", db_col_text(s, 0));
            db_reset(s);
        }
    }
    workcal *cal = rq_calendar();
    struct rq_now real;
    rq_now_init(&real);
    int rc = 0;
    if (db_begin(d) != DB_OK) { snprintf(err, errcap, "数据库忙"); rc = -1; }
    requests_bulk_numbers(true);
    for (long i = 0; rc == 0 && i < o->requests; i++) {
        /* The person. */
        int64_t pid = 0;
        char region[13] = "", name[64] = "", phone[16];
        if (persons > 0) {
            db_stmt *s = db_prep(d, "SELECT id, region_code, name FROM persons WHERE id = ?");
            db_bind_int(s, 1, pids[rnd(&seed) % (unsigned)persons]);
            if (db_step(s) == DB_ROW) {
                pid = db_col_int(s, 0);
                snprintf(region, sizeof region, "%s", db_col_text(s, 1));
                snprintf(name, sizeof name, "%s", db_col_text(s, 2));
            }
            db_reset(s);
        }
        if (!pid) {
            snprintf(region, sizeof region, "%s", nvill ? villages[rnd(&seed) % (unsigned)nvill] : home_county());
            snprintf(name, sizeof name, "%s%s", surnames[rnd(&seed) % (sizeof surnames / sizeof *surnames)],
                     given[rnd(&seed) % (sizeof given / sizeof *given)]);
        }
        snprintf(phone, sizeof phone, "13%09u", rnd(&seed) % 1000000000u);
        int64_t station = station_for_region(region);
        struct station st;
        if (station <= 0 || !station_get(station, &st)) continue;

        const char *cat = choose(cats, ncat, &seed), *ug = choose(urg, nurg, &seed), *ch = choose(chans, nch, &seed);
        const char *ptype = code_flag("request_category", cat, "proxy") && npt ? ptypes[rnd(&seed) % (unsigned)npt].code : NULL;
        const char *catname = code_name(a, "request_category", cat);
        const char *content = NULL;
        for (size_t k = 0; k < sizeof contents / sizeof *contents; k++)
            if (catname && strcmp(contents[k].category, catname) == 0) content = contents[k].text[rnd(&seed) % 3];
        if (ptype) content = arena_printf(a, "申请代办%s", code_name(a, "proxy_type", ptype));
        if (!content) content = arena_printf(a, "关于%s的诉求", catname ? catname : "其他事项");

        /* Intake some time in the last 120 days, in working hours. */
        int age = (int)(rnd(&seed) % 120);
        int64_t t0 = later(real.t, -age, 1 + (int)(rnd(&seed) % 8));
        if (t0 > real.t) t0 = real.t - 3600;
        struct rq_now n;
        at_time(&n, t0);
        struct sla sla;
        if (!sla_find(cat, ug, n.today_iso, &sla)) continue;
        user_ctx u;
        actor(&u, station);
        char no[32];
        int64_t id = requests_demo_insert(a, &u, ch, cat, ug, pid, name, phone, region, content, ptype, station,
                                          sla.response_hours, &n, no);
        if (id < 0) { snprintf(err, errcap, "写入演示诉求失败"); rc = -1; break; }

        /* Where it ends up: recent ones are more often still open. */
        unsigned roll = rnd(&seed) % 100;
        enum { RECEIVED, ACCEPTED, WAITING, REPLIED, CLOSED, REFUSED } fate;
        if (age == 0 && roll < 60) fate = RECEIVED;
        else if (roll < 4) fate = REFUSED;
        else if (roll < 8) fate = RECEIVED;      /* mostly old: past the response time */
        else if (age < 15) fate = roll < 25 ? WAITING : roll < 80 ? ACCEPTED : roll < 90 ? REPLIED : CLOSED;
        else fate = roll < 13 ? WAITING : roll < 25 ? ACCEPTED : roll < 35 ? REPLIED : CLOSED;
        if (ptype && fate == REFUSED) fate = ACCEPTED;
        if (fate == RECEIVED) continue;

        int64_t t = t0 + 3600 * (1 + (int)(rnd(&seed) % 3));
        at_time(&n, t);
        if (fate == REFUSED) {
            const char *why = "不属于本部门职责范围，已告知向相关部门反映";
            db_stmt *s = db_prep(d, "UPDATE requests SET status = 'refused', refuse_reason = ?, reply_content = ?, "
                                    "reply_channel = channel, reply_at = ?, first_reply_at = ?, responded_at = ? WHERE id = ?");
            db_bind_text(s, 1, why); db_bind_text(s, 2, arena_printf(a, "不予受理：%s", why));
            db_bind_text(s, 3, n.iso); db_bind_text(s, 4, n.iso); db_bind_text(s, 5, n.iso); db_bind_int(s, 6, id);
            if (exec_ok(s) || rq_event(id, &u, n.iso, "refuse", why, 0, 0, NULL) < 0) rc = -1;
            continue;
        }
        if (!sla_find(cat, ug, n.today_iso, &sla)) continue;
        db_stmt *s = db_prep(d, "UPDATE requests SET status = 'accepted', accepted_at = ?, accepted_day = ?, sla_workdays = ?, "
                                "sla_extensions = ?, sla_extension_workdays = ?, responded_at = ? WHERE id = ?");
        db_bind_text(s, 1, n.iso); db_bind_text(s, 2, n.today_iso); db_bind_int(s, 3, sla.workdays);
        db_bind_int(s, 4, sla.extensions); db_bind_int(s, 5, sla.extension_workdays); db_bind_text(s, 6, n.iso);
        db_bind_int(s, 7, id);
        if (exec_ok(s) || rq_store_due(id, cal, &n) < 0) { rc = -1; break; }
        int start = n.today;
        int due = deadline_due(cal, start, (int)sla.workdays, NULL, 0);
        rq_event(id, &u, n.iso, "accept", arena_printf(a, "办理期限（%lld 个工作日）", (long long)sla.workdays), 0, 0, NULL);

        /* Proxy cases: materials and authorisation first, then steps. */
        int steps_done = 0, nsteps = 0;
        if (ptype) {
            nsteps = (int)db_query_int(d, "SELECT COUNT(*) FROM proxy_steps WHERE type = ?", ptype, 0);
            s = db_prep(d, "UPDATE request_materials SET received_at = ? WHERE request_id = ? AND (required = 1 OR is_authorization = 1)");
            db_bind_text(s, 1, n.today_iso); db_bind_int(s, 2, id);
            if (exec_ok(s)) { rc = -1; break; }
            s = db_prep(d, "UPDATE requests SET authorized_at = ? WHERE id = ?");
            db_bind_text(s, 1, n.today_iso); db_bind_int(s, 2, id);
            if (exec_ok(s)) { rc = -1; break; }
            rq_event(id, &u, n.iso, "material", "书面授权委托书及申请材料已收齐", 0, 0, NULL);
            steps_done = fate == REPLIED || fate == CLOSED ? nsteps : (int)(rnd(&seed) % (unsigned)(nsteps ? nsteps : 1));
            int64_t ts = t;
            for (int k = 1; k <= steps_done; k++) {
                ts += 86400 * (1 + (int64_t)(rnd(&seed) % 3));
                if (ts > real.t) ts = real.t - 60;
                char tsi[21];
                iso_utc(ts, tsi);
                s = db_prep(d, "UPDATE request_proxy_steps SET done_at = ?, done_by = 'demo', station_id = ? WHERE request_id = ? AND seq = ?");
                db_bind_text(s, 1, tsi); db_bind_int(s, 2, station); db_bind_int(s, 3, id); db_bind_int(s, 4, k);
                if (exec_ok(s)) { rc = -1; break; }
                rq_event(id, &u, tsi, "proxy_step", arena_printf(a, "完成第 %d 个环节", k), 0, 0, NULL);
            }
            /* Its current step decides where it sits. */
            char level[8] = "village";
            s = db_prep(d, "SELECT level FROM request_proxy_steps WHERE request_id = ? AND seq = ?");
            db_bind_int(s, 1, id); db_bind_int(s, 2, steps_done < nsteps ? steps_done + 1 : nsteps);
            if (db_step(s) == DB_ROW) snprintf(level, sizeof level, "%s", db_col_text(s, 0));
            db_reset(s);
            int64_t owner = station_on_path(region, level);
            s = db_prep(d, "UPDATE requests SET proxy_step = ?, proxy_done_at = ?, station_id = ? WHERE id = ?");
            db_bind_int(s, 1, steps_done < nsteps ? steps_done + 1 : nsteps);
            char tsi[21];
            iso_utc(ts, tsi);
            db_bind_text(s, 2, steps_done >= nsteps ? tsi : NULL);
            db_bind_int(s, 3, owner > 0 ? owner : station); db_bind_int(s, 4, id);
            if (exec_ok(s)) { rc = -1; break; }
            if (steps_done < nsteps && strcmp(level, "center") == 0) {
                /* Under the center's review the clock stands still. */
                s = db_prep(d, "INSERT INTO request_pauses(request_id, kind, from_day, reason) VALUES (?, 'authority', ?, ?)");
                char day[11];
                cdate_iso(unix_to_cn_days(ts), day);
                db_bind_int(s, 1, id); db_bind_text(s, 2, day); db_bind_text(s, 3, "上级审核审批期间，不计入办理时限");
                if (exec_ok(s)) { rc = -1; break; }
                s = db_prep(d, "UPDATE requests SET paused = 1, pause_reason = '上级审核审批期间，不计入办理时限' WHERE id = ?");
                db_bind_int(s, 1, id);
                if (exec_ok(s)) { rc = -1; break; }
            }
            station = owner > 0 ? owner : station;
            if (fate == WAITING) fate = ACCEPTED;
        }
        if (fate == WAITING) {
            int64_t tp = later(t, 1 + (int)(rnd(&seed) % 3), 3);
            if (tp > real.t) tp = real.t - 60;
            at_time(&n, tp);
            const char *why = "等待申请人补充户口簿复印件和相关证明";
            s = db_prep(d, "UPDATE requests SET status = 'waiting', paused = 1, pause_reason = ? WHERE id = ?");
            db_bind_text(s, 1, why); db_bind_int(s, 2, id);
            if (exec_ok(s)) { rc = -1; break; }
            s = db_prep(d, "INSERT INTO request_pauses(request_id, kind, from_day, reason) VALUES (?, 'materials', ?, ?)");
            db_bind_int(s, 1, id); db_bind_text(s, 2, n.today_iso); db_bind_text(s, 3, why);
            if (exec_ok(s)) { rc = -1; break; }
            rq_event(id, &u, n.iso, "pause", why, 0, 0, NULL);
            continue;
        }
        if (fate == ACCEPTED) continue;   /* in hand; old ones are overdue now */

        /* Answered: most on time, some late. */
        bool late = rnd(&seed) % 100 < 12;
        int reply_day = late ? due + 1 + (int)(rnd(&seed) % 5) : start + 1 + (int)(rnd(&seed) % (unsigned)(due - start > 0 ? due - start : 1));
        int64_t tr = (int64_t)reply_day * 86400 - 8 * 3600 + 7 * 3600;
        if (tr > real.t - 600) tr = real.t - 600;
        if (tr < t) tr = t + 600;
        at_time(&n, tr);
        int used = deadline_used(cal, start, NULL, 0, n.today);
        const char *reply = ptype ? "代办结果已送达本人" : "已电话答复诉求人，说明相关政策和办理流程";
        s = db_prep(d, "UPDATE requests SET status = 'replied', reply_content = ?, reply_channel = '2', reply_at = ?, "
                       "first_reply_at = ?, reply_workdays = ?, replied_on_time = ? WHERE id = ?");
        db_bind_text(s, 1, reply); db_bind_text(s, 2, n.iso); db_bind_text(s, 3, n.iso); db_bind_int(s, 4, used);
        db_bind_int(s, 5, n.today <= due); db_bind_int(s, 6, id);
        if (exec_ok(s)) { rc = -1; break; }
        actor(&u, station);
        rq_event(id, &u, n.iso, "reply", reply, 0, 0, NULL);
        if (fate == REPLIED) continue;
        int64_t tc = n.t + 3600;
        at_time(&n, tc < real.t ? tc : real.t - 60);
        s = db_prep(d, "UPDATE requests SET status = 'closed', closed_at = ? WHERE id = ?");
        db_bind_text(s, 1, n.iso); db_bind_int(s, 2, id);
        if (exec_ok(s)) { rc = -1; break; }
        rq_event(id, &u, n.iso, "close", NULL, 0, 0, NULL);
        int64_t tv = later(n.t, 1 + (int)(rnd(&seed) % 3), 2);
        if (tv >= real.t || rnd(&seed) % 100 < 15) continue;   /* not visited yet */
        at_time(&n, tv);
        const char *sat = choose(sats, nsat, &seed);
        s = db_prep(d, "UPDATE requests SET satisfaction = ?, visited_at = ? WHERE id = ?");
        db_bind_text(s, 1, sat); db_bind_text(s, 2, n.iso); db_bind_int(s, 3, id);
        if (exec_ok(s)) { rc = -1; break; }
        const char *sname = code_name(a, "satisfaction", sat);
        rq_event(id, &u, n.iso, "visit", sname, 0, 0, NULL);
        if (!code_flag("satisfaction", sat, "reopen")) continue;
        /* Not satisfied: reopened one level up. */
        struct station owner, up;
        if (!station_get(station, &owner)) continue;
        if (!owner.parent_id || !station_get(owner.parent_id, &up)) up = owner;
        if (!sla_find(cat, ug, n.today_iso, &sla)) continue;
        s = db_prep(d, "UPDATE requests SET status = 'accepted', station_id = ?, accepted_at = ?, accepted_day = ?, "
                       "sla_workdays = ?, reply_content = NULL, reply_channel = NULL, reply_at = NULL, reply_workdays = NULL, "
                       "replied_on_time = NULL, closed_at = NULL, reopen_count = 1 WHERE id = ?");
        db_bind_int(s, 1, up.id); db_bind_text(s, 2, n.iso); db_bind_text(s, 3, n.today_iso);
        db_bind_int(s, 4, sla.workdays); db_bind_int(s, 5, id);
        if (exec_ok(s) || rq_store_due(id, cal, &n) < 0) { rc = -1; break; }
        rq_event(id, &u, n.iso, "reopen", arena_printf(a, "回访%s，由%s重新办理", sname, up.name), owner.id, up.id, NULL);
    }
    if (rc == 0) {
        /* Keep the stored due days as of today and the version/updated_at sane. */
        db_stmt *s = db_prep(d, "UPDATE requests SET updated_at = (SELECT MAX(e.at) FROM request_events e WHERE e.request_id = requests.id)");
        if (exec_ok(s)) rc = -1;
    }
    if (requests_bulk_numbers(false) != 0 && rc == 0) { snprintf(err, errcap, "诉求编号回收失败"); rc = -1; }
    if (rc == 0 && rq_audit_as(NULL, "init", "request.demo", NULL, json_pack("{s:I}", "requests", (json_int_t)o->requests)) != 0)
        rc = -1;
    if (rc == 0 && db_commit(d) != DB_OK) rc = -1;
    if (rc != 0) {
        db_rollback(d);
        if (!*err) snprintf(err, errcap, "生成演示诉求失败");
    }
    free(villages);
    free(pids);
    workcal_free(cal);
    arena_free(a);
    return rc;
}
