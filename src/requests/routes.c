/* Intake, lists and detail of requests, attachments, and the module's route
 * table. Lists are one statement per shape: the filters a user did not set are
 * disabled by NULL parameters, the queue and the sort order come from fixed
 * fragments chosen by name, and the assembled text is interned (db_intern). */
#include "requests/internal.h"
#include "base/crypto.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "network/network.h"
#include "registry/fields.h"
#include "registry/registry.h"
#include "std/cdate.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/stat.h>

/* ---- lists ---- */

#define OPEN_STATES "('received','accepted','waiting','replied')"

static const struct { const char *name, *where; bool work; } queues[] = {
    {"mine", " AND r.assignee_id = ?3 AND r.status IN " OPEN_STATES, true},
    {"station", " AND r.station_id = ?4 AND r.status IN " OPEN_STATES, true},
    {"open", " AND r.status IN " OPEN_STATES, true},
    {"due_soon", " AND r.status = 'accepted' AND r.paused = 0 AND r.due_date >= ?5 AND r.due_date <= ?6", true},
    {"overdue", " AND ((r.status = 'received' AND r.response_due < ?7) OR "
                "(r.status = 'accepted' AND r.paused = 0 AND r.due_date < ?5))", true},
    {"waiting", " AND r.status = 'waiting'", true},
    {"closed", " AND r.status = 'closed'", false},
    {"help", " AND EXISTS (SELECT 1 FROM request_helpers h2 WHERE h2.request_id = r.id AND h2.station_id = ?4)", true},
};
#define NQUEUES (sizeof queues / sizeof *queues)

/* All queues in one condition chosen by the bound ?16 (NULL: no queue), so a
 * list has one statement per sort order instead of one per queue and order. */
static char queue_where[2048];
static pthread_once_t queue_once = PTHREAD_ONCE_INIT;
static void build_queue_where(void) {
    size_t l = (size_t)snprintf(queue_where, sizeof queue_where, " AND (?16 IS NULL");
    for (size_t i = 0; i < NQUEUES; i++)
        l += (size_t)snprintf(queue_where + l, sizeof queue_where - l, " OR (?16 = '%s'%s)", queues[i].name, queues[i].where);
    snprintf(queue_where + l, sizeof queue_where - l, ")");
}
static const char *queue_sql(void) { pthread_once(&queue_once, build_queue_where); return queue_where; }

#define URGENCY_RANK "(SELECT c.sort FROM codes c WHERE c.tbl = 'urgency' AND c.code = r.urgency)"
static const struct { const char *name, *asc, *desc; } sorts[] = {
    {"created_at", "r.created_at", "r.created_at DESC"},
    {"waiting", "r.created_at", "r.created_at DESC"},       /* most days waiting first */
    {"urgency", URGENCY_RANK, URGENCY_RANK " DESC"},
    {"due_date", "r.due_date IS NULL, r.due_date", "r.due_date IS NULL, r.due_date DESC"},
    {"no", "r.no", "r.no DESC"},
    {"updated_at", "r.updated_at", "r.updated_at DESC"},
    {"status", "r.status", "r.status DESC"},
};

static const char *const where_base =
    " WHERE " RQ_VISIBLE
    " AND (?8 IS NULL OR r.no LIKE ?8 OR r.contact_name LIKE ?8 OR r.content LIKE ?8)"
    " AND (?9 IS NULL OR r.status = ?9) AND (?10 IS NULL OR r.category = ?10)"
    " AND (?11 IS NULL OR r.station_id = ?11) AND (?12 IS NULL OR r.urgency = ?12)"
    " AND (?13 IS NULL OR r.person_id = ?13)";

/* ORDER BY text for ?sort=: one key, "-key" descending, or the work-queue
 * order "-urgency,waiting". Deliberately a short fixed set: every distinct
 * order is a distinct statement, and the interned texts and the statement
 * cache are bounded. NULL (and answered) if unknown. */
#define WORK_ORDER "-urgency,waiting"
static char *order_by(req *r, const char *sort) {
    arena *a = req_arena(r);
    if (strcmp(sort, WORK_ORDER) == 0) return arena_strdup(a, URGENCY_RANK " DESC, r.created_at, r.id DESC");
    bool desc = *sort == '-';
    const char *key = desc ? sort + 1 : sort;
    for (size_t i = 0; i < sizeof sorts / sizeof *sorts; i++)
        if (strcmp(sorts[i].name, key) == 0) return arena_printf(a, "%s, r.id DESC", desc ? sorts[i].desc : sorts[i].asc);
    reply_error(r, 422, "validation_failed", "sort", "不支持的排序“%s”", sort);
    return NULL;
}

struct list_params {
    const char *vals[20];     /* text parameters by number (1-based) */
    int64_t ints[20];
    bool is_int[20];
};

static void bind_all(db_stmt *s, const struct list_params *p, int upto) {
    for (int i = 1; i <= upto; i++) {
        if (p->is_int[i]) db_bind_int(s, i, p->ints[i]);
        else db_bind_text(s, i, p->vals[i]);
    }
}

static void set_int(struct list_params *p, int i, int64_t v) { p->ints[i] = v; p->is_int[i] = true; }

/* Parameters ?1..?13 shared by lists, queue counts and figures. */
static void common_params(arena *a, const user_ctx *u, const struct rq_now *now, const workcal *cal, struct list_params *p) {
    memset(p, 0, sizeof *p);
    p->vals[1] = u->scope_lo; p->vals[2] = u->scope_hi;
    set_int(p, 3, u->id); set_int(p, 4, u->station_id);
    p->vals[5] = arena_strdup(a, now->today_iso);
    char soon[11];
    cdate_iso(workcal_add(cal, now->today, (int)setting_int("requests.due_soon_workdays", 2)), soon);
    p->vals[6] = arena_strdup(a, soon);
    p->vals[7] = arena_strdup(a, now->iso);
}

static const char *query_nonempty(req *r, const char *k) {
    const char *v = req_query(r, k);
    return v && *v ? v : NULL;
}

void requests_list(req *r) {
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    const char *queue = query_nonempty(r, "queue"), *q = query_nonempty(r, "q"), *status = query_nonempty(r, "status");
    const char *category = query_nonempty(r, "category"), *urgency = query_nonempty(r, "urgency");
    const char *sort = query_nonempty(r, "sort");
    int64_t page = req_query_int(r, "page", 1, 1, 1000000), size = req_query_int(r, "size", 20, 1, 200);
    int qi = -1;
    for (size_t i = 0; queue && i < NQUEUES; i++) if (strcmp(queues[i].name, queue) == 0) qi = (int)i;
    if (queue && qi < 0) { reply_error(r, 422, "validation_failed", "queue", "未知的队列“%s”", queue); return; }
    if (status && !rq_status_bit(status)) { reply_error(r, 422, "validation_failed", "status", "未知的状态“%s”", status); return; }
    char *order = order_by(r, sort ? sort : (qi >= 0 && queues[qi].work ? WORK_ORDER : "-created_at"));
    if (!order) return;

    struct rq_now now;
    rq_now_init(&now);
    workcal *cal = rq_calendar();
    struct list_params p;
    common_params(a, u, &now, cal, &p);
    p.vals[8] = q ? arena_printf(a, "%%%s%%", q) : NULL;
    p.vals[9] = status;
    p.vals[10] = category;
    int64_t station = req_query_int(r, "station", 0, 0, INT64_MAX), person = req_query_int(r, "person_id", 0, 0, INT64_MAX);
    if (station) set_int(&p, 11, station);
    p.vals[12] = urgency;
    if (person) set_int(&p, 13, person);
    set_int(&p, 14, size);
    set_int(&p, 15, (page - 1) * size);

    p.vals[16] = qi >= 0 ? queues[qi].name : NULL;
    db *d = db_thread();
    const char *csql = db_intern(arena_printf(a, "SELECT COUNT(*) FROM requests r JOIN stations st ON st.id = r.station_id%s%s",
                                              where_base, queue_sql()));
    db_stmt *s = db_prep(d, csql);
    bind_all(s, &p, 16);
    int64_t total = db_step(s) == DB_ROW ? db_col_int(s, 0) : 0;
    db_reset(s);
    const char *lsql = db_intern(arena_printf(a, "SELECT %s FROM requests r JOIN stations st ON st.id = r.station_id%s%s "
                                                 "ORDER BY %s LIMIT ?14 OFFSET ?15", rq_columns(), where_base, queue_sql(), order));
    s = db_prep(d, lsql);
    bind_all(s, &p, 16);
    struct rq *rows = arena_alloc(a, sizeof *rows * (size_t)size);
    int n = 0;
    while (n < size && db_step(s) == DB_ROW) rq_fill(a, s, 0, &rows[n++]);
    db_reset(s);
    json_t *items = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(items, rq_view(a, u, &rows[i], cal, &now, false));
    workcal_free(cal);
    reply_json(r, 200, json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)total,
                                 "page", (json_int_t)page, "size", (json_int_t)size));
}

/* GET /requests/queues: the size of every queue, for the badges of the UI. */
static void requests_queues(req *r) {
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    struct rq_now now;
    rq_now_init(&now);
    workcal *cal = rq_calendar();
    struct list_params p;
    common_params(a, u, &now, cal, &p);
    workcal_free(cal);
    json_t *out = json_object();
    const char *sql = db_intern(arena_printf(a, "SELECT COUNT(*) FROM requests r JOIN stations st ON st.id = r.station_id%s%s",
                                             where_base, queue_sql()));
    for (size_t i = 0; i < NQUEUES; i++) {
        p.vals[16] = queues[i].name;
        db_stmt *s = db_prep(db_thread(), sql);
        bind_all(s, &p, 16);
        json_object_set_new(out, queues[i].name, json_integer(db_step(s) == DB_ROW ? db_col_int(s, 0) : 0));
        db_reset(s);
    }
    reply_json(r, 200, out);
}

/* Figures for the dashboard (src/stats gathers them), inside U's
 * jurisdiction exactly as the lists: requests by status, received and closed
 * per month over the last 12 months (Asia/Shanghai), and the queue of the
 * user's station (open, due soon, overdue). */
/* The one pass of requests_figures over the visible requests, grouped by
 * status and by the month each was received and closed in: month k
 * (0 = eleven months ago) is [?(3+k), ?(4+k)); 12 is next month, -1 before
 * month 0 or never. A chain of CASE WHEN stops at the first bound a row
 * passes, and most rows are recent: cheaper than 24 sums over every row
 * (PostgreSQL, 100 000 requests, both from the index: 125 ms became 46).
 * Only ?1 ?2 (the jurisdiction) otherwise: the dashboard has no filters, and
 * every column it reads is in the index requests_figures (migrations 0007,
 * 0008), which both databases scan instead of the rows. */
static char figures_sql[8192];
static void build_figures_sql(void) {
    size_t n = (size_t)snprintf(figures_sql, sizeof figures_sql, "SELECT r.status");
    static const char *const cols[] = {"created_at", "closed_at"};
    for (int c = 0; c < 2; c++) {
        n += (size_t)snprintf(figures_sql + n, sizeof figures_sql - n, ", CASE");
        for (int k = 12; k >= 0; k--)
            n += (size_t)snprintf(figures_sql + n, sizeof figures_sql - n, " WHEN r.%s >= ?%d THEN %d", cols[c], 3 + k, k);
        n += (size_t)snprintf(figures_sql + n, sizeof figures_sql - n, " ELSE -1 END");
    }
    snprintf(figures_sql + n, sizeof figures_sql - n,
             ", COUNT(*) FROM requests r JOIN stations st ON st.id = r.station_id WHERE " RQ_VISIBLE
             " GROUP BY 1, 2, 3 ORDER BY 1");
}

json_t *requests_figures(arena *a, const user_ctx *u) {
    struct rq_now now;
    rq_now_init(&now);
    workcal *cal = rq_calendar();
    struct list_params p;
    common_params(a, u, &now, cal, &p);
    workcal_free(cal);
    db *d = db_thread();
    json_t *by_status = json_array();
    /* Month bounds are computed here, so the SQL stays portable. */
    int y, m, dd;
    cdate_from_days(now.today, &y, &m, &dd);
    static pthread_once_t figures_once = PTHREAD_ONCE_INIT;
    pthread_once(&figures_once, build_figures_sql);
    db_stmt *s = db_prep(d, figures_sql);
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    /* Month k (0 = eleven months ago, 12 = next month): its year and month once. */
    int my[13], mm[13];
    char bounds[13][21];
    for (int k = 0; k <= 12; k++) {
        my[k] = y; mm[k] = m - 11 + k;
        while (mm[k] < 1) { mm[k] += 12; my[k]--; }
        while (mm[k] > 12) { mm[k] -= 12; my[k]++; }
        iso_utc((int64_t)cdate_to_days(my[k], mm[k], 1) * 86400 - 8 * 3600, bounds[k]);
        db_bind_text(s, 3 + k, bounds[k]);
    }
    int64_t rec[12] = {0}, clo[12] = {0};
    json_t *cur = NULL;   /* the by_status entry of the rows' status (they come in status order) */
    while (db_step(s) == DB_ROW) {
        const char *st = db_col_text(s, 0);
        int64_t cm = db_col_int(s, 1), km = db_col_int(s, 2), cnt = db_col_int(s, 3);
        if (!cur || strcmp(json_string_value(json_object_get(cur, "status")), st ? st : "") != 0) {
            cur = json_pack("{s:s,s:s,s:I}", "status", st ? st : "", "name", rq_status_name(st), "count", (json_int_t)0);
            json_array_append_new(by_status, cur);
        }
        json_object_set_new(cur, "count", json_integer(json_integer_value(json_object_get(cur, "count")) + cnt));
        if (cm >= 0 && cm < 12) rec[cm] += cnt;
        if (km >= 0 && km < 12) clo[km] += cnt;
    }
    db_reset(s);
    json_t *monthly = json_array();
    for (int k = 0; k < 12; k++)
        json_array_append_new(monthly, json_pack("{s:s,s:I,s:I}", "month", arena_printf(a, "%04d-%02d", my[k], mm[k]),
                                                 "received", (json_int_t)rec[k], "closed", (json_int_t)clo[k]));
    json_t *mine = json_object();
    static const char *const keys[][2] = {{"open", "station"}, {"due_soon", "due_soon"}, {"overdue", "overdue"}};
    const char *q = db_intern(arena_printf(a, "SELECT COUNT(*) FROM requests r JOIN stations st ON st.id = r.station_id"
                                              "%s%s AND r.station_id = ?4", where_base, queue_sql()));
    for (size_t k = 0; k < 3; k++) {
        p.vals[16] = keys[k][1];
        s = db_prep(d, q);
        bind_all(s, &p, 16);
        json_object_set_new(mine, keys[k][0], json_integer(db_step(s) == DB_ROW ? db_col_int(s, 0) : 0));
        db_reset(s);
    }
    return json_pack("{s:o,s:o,s:o}", "requests_by_status", by_status, "requests_monthly", monthly, "my_queue", mine);
}

void requests_get(req *r) {
    user_ctx *u = current_user(r);
    int64_t id = req_param_id(r, 0);
    struct rq q;
    if (id <= 0 || !rq_load(req_arena(r), u, id, &q)) { reply_error(r, 404, "not_found", NULL, "诉求不存在"); return; }
    struct rq_now now;
    rq_now_init(&now);
    workcal *cal = rq_calendar();
    reply_json(r, 200, rq_view(req_arena(r), u, &q, cal, &now, true));
    workcal_free(cal);
}

/* ---- intake ---- */

static const char *const create_keys[] = {"channel", "category", "urgency", "person_id", "contact_name", "contact_phone",
                                          "region_code", "content", "proxy_type", NULL};

/* A code field: required, given as code or name; NULL (answered) if invalid. */
static const char *code_field(req *r, json_t *b, const char *key, const char *table, const char *label, bool *bad) {
    if (*bad) return NULL;
    const char *v = json_str_field(r, b, key, label, 30, bad);
    if (*bad) return NULL;
    const char *c = v ? code_by_name(req_arena(r), table, v) : NULL;
    if (!c) {
        if (v) reply_error(r, 422, "validation_failed", key, "%s“%s”无效", label, v);
        else reply_error(r, 422, "validation_failed", key, "请选择%s", label);
        *bad = true;
    }
    return c;
}

static bool copy_proxy_template(int64_t rid, const char *type) {
    db *d = db_thread();
    db_stmt *s = db_prep(d, "INSERT INTO request_proxy_steps(request_id, seq, name, level, requires_materials) "
                            "SELECT ?, seq, name, level, requires_materials FROM proxy_steps WHERE type = ?");
    db_bind_int(s, 1, rid); db_bind_text(s, 2, type);
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_DONE || db_changes(d) == 0) return false;
    s = db_prep(d, "INSERT INTO request_materials(request_id, seq, name, required, is_authorization) "
                   "SELECT ?, seq, name, required, is_authorization FROM proxy_materials WHERE type = ?");
    db_bind_int(s, 1, rid); db_bind_text(s, 2, type);
    rc = db_step(s);
    db_reset(s);
    return rc == DB_DONE;
}

/* A bulk load (the demo) numbers all its requests in one transaction. Taken
 * one by one, each number updates the year's row of request_seq again; on
 * PostgreSQL the versions of that row stay until the commit and each update
 * searches through those before it (a third of PostgreSQL's time late in a
 * load of 100 000 requests, by perf). A bulk load takes its numbers in blocks
 * instead, and gives back what it did not use before it commits. The row
 * stays locked by the load's transaction from the first block on, so no one
 * else takes numbers in between. */
enum { SEQ_BLOCK = 256, SEQ_YEARS = 4 };   /* 100 000 requests: 400 updates */
static _Thread_local struct seq_block { int year; int64_t next, end; } seq_blocks[SEQ_YEARS];
static _Thread_local bool seq_bulk;

/* Gives back the unused numbers of a block: the year's last number becomes the last one used. */
static bool seq_return(struct seq_block *b) {
    if (!b->year) return true;
    db_stmt *s = db_prep(db_thread(), "UPDATE request_seq SET last = ? WHERE year = ? AND last = ?");
    db_bind_int(s, 1, b->next - 1); db_bind_int(s, 2, b->year); db_bind_int(s, 3, b->end);
    bool ok = db_step(s) == DB_DONE && db_changes(db_thread()) == 1;
    db_reset(s);
    b->year = 0;
    return ok;
}

/* Takes N numbers of YEAR; returns the last of them, or -1. */
static int64_t seq_take(int year, int64_t n) {
    db_stmt *s = db_prep(db_thread(), "INSERT INTO request_seq(year, last) VALUES (?, ?) "
                                      "ON CONFLICT(year) DO UPDATE SET last = request_seq.last + excluded.last RETURNING last");
    db_bind_int(s, 1, year); db_bind_int(s, 2, n);
    int64_t last = db_step(s) == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    return last;
}

/* Bulk numbering on (inside the load's transaction) or off (before its
 * commit: the unused numbers are given back). Returns 0, or -1 when giving
 * back failed. */
int requests_bulk_numbers(bool on);
int requests_bulk_numbers(bool on) {
    int rc = 0;
    if (!on)
        for (int i = 0; i < SEQ_YEARS; i++)
            if (!seq_return(&seq_blocks[i])) rc = -1;
    seq_bulk = on;
    return rc;
}

/* The next number of YEAR: SQ2026-000123. */
static bool next_no(int year, char out[32]) {
    int64_t no = -1;
    if (!seq_bulk) no = seq_take(year, 1);
    else {
        struct seq_block *b = NULL;
        for (int i = 0; i < SEQ_YEARS && !b; i++)
            if (seq_blocks[i].year == year) b = &seq_blocks[i];
        if (b && b->next > b->end && !seq_return(b)) return false;
        if (!b || !b->year) {
            for (int i = 0; i < SEQ_YEARS && !b; i++)
                if (!seq_blocks[i].year) b = &seq_blocks[i];
            if (!b && !seq_return(b = &seq_blocks[0])) return false;   /* more years than slots: the first goes back */
            int64_t end = seq_take(year, SEQ_BLOCK);
            if (end < 0) return false;
            *b = (struct seq_block){year, end - SEQ_BLOCK + 1, end};
        }
        no = b->next++;
    }
    if (no < 0) return false;
    snprintf(out, 32, "SQ%04d-%06lld", year, (long long)no);
    return true;
}

/* Inserts a checked request with its first timeline entry (used by intake and
 * the demo). Returns the id or -1. */
struct intake {
    const char *channel, *category, *urgency, *contact_name, *contact_phone, *region, *content, *proxy_type;
    int64_t person_id, station_id;
    int64_t response_hours;
};

static int64_t insert_request(arena *a, const user_ctx *u, const struct intake *in, const struct rq_now *now, char no[32]) {
    int y, m, dd;
    cdate_from_days(now->today, &y, &m, &dd);
    if (!next_no(y, no)) return -1;
    char due[21];
    iso_utc(now->t + in->response_hours * 3600, due);
    db_stmt *s = db_prep(db_thread(),
        "INSERT INTO requests(no, channel, category, urgency, person_id, contact_name, contact_phone, region_code, content, "
        "status, intake_station_id, station_id, created_at, created_by, response_hours, response_due, proxy_type, proxy_step, "
        "updated_at) VALUES (?,?,?,?,?,?,?,?,?, 'received', ?,?,?,?,?,?,?,?,?) RETURNING id");
    db_bind_text(s, 1, no); db_bind_text(s, 2, in->channel); db_bind_text(s, 3, in->category);
    db_bind_text(s, 4, in->urgency);
    if (in->person_id > 0) db_bind_int(s, 5, in->person_id); else db_bind_null(s, 5);
    db_bind_text(s, 6, in->contact_name); db_bind_text(s, 7, in->contact_phone); db_bind_text(s, 8, in->region);
    db_bind_text(s, 9, in->content); db_bind_int(s, 10, u->station_id); db_bind_int(s, 11, in->station_id);
    db_bind_text(s, 12, now->iso); db_bind_int(s, 13, u->id); db_bind_int(s, 14, in->response_hours);
    db_bind_text(s, 15, due); db_bind_text(s, 16, in->proxy_type);
    if (in->proxy_type) db_bind_int(s, 17, 1); else db_bind_null(s, 17);
    db_bind_text(s, 18, now->iso);
    int64_t id = db_step(s) == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    if (id < 0) return -1;
    if (in->proxy_type && !copy_proxy_template(id, in->proxy_type)) return -1;
    const char *ch = code_name(a, "request_channel", in->channel);
    if (rq_event(id, u, now->iso, "create", arena_printf(a, "%s登记", ch ? ch : in->channel),
                 0, in->station_id != u->station_id ? in->station_id : 0, NULL) < 0)
        return -1;
    return id;
}

void requests_create(req *r) {
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    json_t *b = req_json(r);
    if (!b || !json_only_keys(r, b, create_keys)) return;
    bool bad = false;
    struct intake in = {0};
    in.channel = code_field(r, b, "channel", "request_channel", "受理渠道", &bad);
    in.category = code_field(r, b, "category", "request_category", "诉求类别", &bad);
    in.urgency = code_field(r, b, "urgency", "urgency", "紧急程度", &bad);
    const char *content = bad ? NULL : json_str_field(r, b, "content", "诉求内容", 2000, &bad);
    const char *cname = bad ? NULL : json_str_field(r, b, "contact_name", "联系人姓名", 30, &bad);
    const char *cphone = bad ? NULL : json_str_field(r, b, "contact_phone", "联系电话", 20, &bad);
    const char *region = bad ? NULL : json_str_field(r, b, "region_code", "所属区划", 12, &bad);
    const char *ptype = bad ? NULL : json_str_field(r, b, "proxy_type", "代办类型", 30, &bad);
    if (bad) return;
    if (!content || !*content) { reply_error(r, 422, "validation_failed", "content", "请填写诉求内容"); return; }
    in.content = content;
    if (cphone && *cphone) {
        int fi = pfield_index("phone");
        const char *norm = NULL, *e = fi >= 0 ? pfield_normalize(a, &person_fields[fi], u, cphone, &norm) : NULL;
        if (e) { reply_error(r, 422, "validation_failed", "contact_phone", "%s", e); return; }
        in.contact_phone = norm ? norm : cphone;
    }
    json_t *pid = json_object_get(b, "person_id");
    if (pid && !json_is_null(pid)) {
        char pname[64], pregion[13];
        if (!json_is_integer(pid) || !person_brief(json_integer_value(pid), u, pname, pregion)) {
            reply_error(r, 422, "validation_failed", "person_id", "人员不存在或不在本级管辖范围内");
            return;
        }
        in.person_id = json_integer_value(pid);
        in.contact_name = cname && *cname ? cname : arena_strdup(a, pname);
        in.region = arena_strdup(a, pregion);
    } else {
        if (!cname || !*cname) { reply_error(r, 422, "validation_failed", "contact_name", "请选择人员档案或填写联系人姓名"); return; }
        if (!in.contact_phone) { reply_error(r, 422, "validation_failed", "contact_phone", "新联系人须填写联系电话"); return; }
        in.contact_name = cname;
        if (region && *region) {
            if (strlen(region) != 12 || !region_name(a, region) || station_for_region(region) <= 0) {
                reply_error(r, 422, "validation_failed", "region_code", "所属区划无效");
                return;
            }
            in.region = region;
        } else in.region = u->region_code;
    }
    if (ptype && *ptype) {
        in.proxy_type = code_by_name(a, "proxy_type", ptype);
        if (!in.proxy_type) { reply_error(r, 422, "validation_failed", "proxy_type", "代办类型“%s”无效", ptype); return; }
        if (!code_flag("request_category", in.category, "proxy")) {
            reply_error(r, 422, "validation_failed", "proxy_type", "只有代办类诉求才能选择代办类型");
            return;
        }
    }
    struct rq_now now;
    rq_now_init(&now);
    struct sla sla;
    if (!sla_find(in.category, in.urgency, now.today_iso, &sla)) {
        reply_error(r, 422, "validation_failed", "category", "该诉求类别和紧急程度尚未配置办理时限，请管理员先维护时限表");
        return;
    }
    in.response_hours = sla.response_hours;
    /* The queue of the station owning the region when it is ours to serve,
     * else the station that took the request in. */
    in.station_id = scope_contains(u, in.region) ? station_for_region(in.region) : u->station_id;
    if (in.station_id <= 0) in.station_id = u->station_id;

    db *d = db_thread();
    if (db_begin(d) != DB_OK) { reply_error(r, 503, "busy", NULL, "服务器繁忙，请稍后重试"); return; }
    char no[32];
    int64_t id = insert_request(a, u, &in, &now, no);
    char ids[24];
    if (id < 0 ||
        rq_audit(r, "request.create", "request", rq_idstr(ids, id),
                  json_pack("{s:s,s:s,s:s,s:s,s:I,s:s?,s:o}", "no", no, "channel", in.channel, "category", in.category,
                            "urgency", in.urgency, "station_id", (json_int_t)in.station_id, "proxy_type", in.proxy_type,
                            "person_id", in.person_id > 0 ? json_integer(in.person_id) : json_null())) != 0) {
        db_rollback(d);
        reply_error(r, 500, "internal", NULL, "登记诉求失败");
        return;
    }
    if (in.station_id != u->station_id) {
        const char *cat = code_name(a, "request_category", in.category);
        rq_notice(0, in.station_id, id, "new", arena_printf(a, "新诉求 %s（%s）待受理", no, cat ? cat : in.category), now.iso);
    }
    if (db_commit(d) != DB_OK) { db_rollback(d); reply_error(r, 500, "internal", NULL, "登记诉求失败"); return; }
    struct rq q;
    workcal *cal = rq_calendar();
    if (rq_load(a, u, id, &q)) reply_json(r, 201, rq_view(a, u, &q, cal, &now, true));
    else reply_json(r, 201, json_pack("{s:I,s:s}", "id", (json_int_t)id, "no", no));
    workcal_free(cal);
}

/* Used by the demo: the same insert as intake, for a given station. */
int64_t requests_demo_insert(arena *a, const user_ctx *u, const char *channel, const char *category, const char *urgency,
                             int64_t person_id, const char *cname, const char *cphone, const char *region,
                             const char *content, const char *proxy_type, int64_t station_id, int64_t response_hours,
                             const struct rq_now *now, char no[32]);
int64_t requests_demo_insert(arena *a, const user_ctx *u, const char *channel, const char *category, const char *urgency,
                             int64_t person_id, const char *cname, const char *cphone, const char *region,
                             const char *content, const char *proxy_type, int64_t station_id, int64_t response_hours,
                             const struct rq_now *now, char no[32]) {
    struct intake in = {channel, category, urgency, cname, cphone, region, content, proxy_type, person_id, station_id,
                        response_hours};
    return insert_request(a, u, &in, now, no);
}

/* ---- attachments ---- */

static const char *ctype_of(const char *name) {
    static const struct { const char *ext, *type; } types[] = {
        {".pdf", "application/pdf"}, {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".png", "image/png"},
        {".gif", "image/gif"}, {".txt", "text/plain; charset=utf-8"},
        {".doc", "application/msword"}, {".xls", "application/vnd.ms-excel"},
        {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (strcasecmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

/* The client's file name without directories or control characters. */
static char *clean_name(arena *a, const char *in) {
    const char *base = in;
    for (const char *p = in; *p; p++) if (*p == '/' || *p == '\\') base = p + 1;
    char *out = arena_strdup(a, *base ? base : "附件");
    size_t n = 0;
    for (char *p = out; *p; p++) if ((unsigned char)*p >= 0x20 && *p != '"') out[n++] = *p;
    out[n] = 0;
    if (n > 150) out[150] = 0;   /* bytes; a cut multibyte tail is harmless in a download name */
    return n ? out : arena_strdup(a, "附件");
}

void requests_attach(req *r) {
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    int64_t id = req_param_id(r, 0);
    struct rq q;
    if (id <= 0 || !rq_load(a, u, id, &q)) { reply_error(r, 404, "not_found", NULL, "诉求不存在"); return; }
    const char *fname = NULL;
    const char *path = req_upload(r, &fname);
    if (!path) return;
    struct stat st;
    int64_t max = setting_int("requests.attachment_max_mb", 20) * 1024 * 1024;
    if (stat(path, &st) != 0) { reply_error(r, 500, "internal", NULL, "上传文件读取失败"); return; }
    if (st.st_size <= 0) { reply_error(r, 422, "validation_failed", "file", "上传的文件是空的"); return; }
    if (st.st_size > max) {
        reply_error(r, 413, "payload_too_large", "file", "附件不能超过 %lld MB", (long long)(max / 1024 / 1024));
        return;
    }
    FILE *f = fopen(path, "rb");
    char *data = f ? malloc((size_t)st.st_size) : NULL;
    size_t got = data ? fread(data, 1, (size_t)st.st_size, f) : 0;
    if (f) fclose(f);
    if (!data || got != (size_t)st.st_size) { free(data); reply_error(r, 500, "internal", NULL, "上传文件读取失败"); return; }
    char sha[65];
    sha256_hex(data, got, sha);
    const char *name = clean_name(a, fname ? fname : "附件");
    const char *note = req_query(r, "note");
    struct rq_now now;
    rq_now_init(&now);
    db *d = db_thread();
    if (db_begin(d) != DB_OK) { free(data); reply_error(r, 503, "busy", NULL, "服务器繁忙"); return; }
    json_t *evd = json_pack("{s:s,s:I}", "filename", name, "size", (json_int_t)got);
    int64_t ev = rq_event(id, u, now.iso, "attach", note && *note ? arena_printf(a, "%s（%s）", name, note) : name, 0, 0, evd);
    json_decref(evd);
    db_stmt *s = db_prep(d, "INSERT INTO request_attachments(request_id, event_id, filename, ctype, size, sha256, data, "
                            "created_at, created_by) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id");
    db_bind_int(s, 1, id); db_bind_int(s, 2, ev); db_bind_text(s, 3, name); db_bind_text(s, 4, ctype_of(name));
    db_bind_int(s, 5, (int64_t)got); db_bind_text(s, 6, sha); db_bind_blob(s, 7, data, (int)got);
    db_bind_text(s, 8, now.iso); db_bind_text(s, 9, u->username);
    int64_t aid = ev > 0 && db_step(s) == DB_ROW ? db_col_int(s, 0) : -1;
    db_reset(s);
    free(data);
    s = db_prep(d, "UPDATE requests SET version = version + 1, updated_at = ? WHERE id = ?");
    db_bind_text(s, 1, now.iso); db_bind_int(s, 2, id);
    int rc = db_step(s);
    db_reset(s);
    char ids[24];
    if (aid < 0 || rc != DB_DONE ||
        rq_audit(r, "request.attach", "request", rq_idstr(ids, id),
                  json_pack("{s:I,s:s,s:I,s:s}", "attachment_id", (json_int_t)aid, "filename", name, "size",
                            (json_int_t)got, "sha256", sha)) != 0 ||
        db_commit(d) != DB_OK) {
        db_rollback(d);
        reply_error(r, 500, "internal", NULL, "保存附件失败");
        return;
    }
    reply_json(r, 201, json_pack("{s:I,s:s,s:s,s:I,s:I,s:s}", "id", (json_int_t)aid, "filename", name, "ctype",
                                 ctype_of(name), "size", (json_int_t)got, "event_id", (json_int_t)ev, "sha256", sha));
}

void requests_attachment_get(req *r) {
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    int64_t id = req_param_id(r, 0), aid = req_param_id(r, 1);
    struct rq q;
    if (id <= 0 || aid <= 0 || !rq_load(a, u, id, &q)) { reply_error(r, 404, "not_found", NULL, "附件不存在"); return; }
    db_stmt *s = db_prep(db_thread(), "SELECT filename, ctype, data, size FROM request_attachments WHERE id = ? AND request_id = ?");
    db_bind_int(s, 1, aid); db_bind_int(s, 2, id);
    if (db_step(s) != DB_ROW) { db_reset(s); reply_error(r, 404, "not_found", NULL, "附件不存在"); return; }
    const char *fname = arena_strdup(a, db_col_text(s, 0)), *ctype = arena_strdup(a, db_col_text(s, 1));
    size_t n = (size_t)db_col_int(s, 3);
    char *data = malloc(n ? n : 1);
    const char *blob = db_col_text(s, 2);
    if (data && blob) memcpy(data, blob, n);
    db_reset(s);
    if (!data) { reply_error(r, 500, "internal", NULL, "读取附件失败"); return; }
    /* Attachments are personal documents: reading one is audited. */
    char ids[24];
    rq_audit(r, "request.attachment_view", "request", rq_idstr(ids, id),
              json_pack("{s:I,s:s}", "attachment_id", (json_int_t)aid, "filename", fname));
    reply_bytes(r, 200, ctype, data, n, fname);
}

/* ---- the route table ---- */

const struct route requests_routes[] = {
    {"GET", "/api/v1/requests", "request.read", requests_list, 0},
    {"POST", "/api/v1/requests", "request.write", requests_create, 0},
    /* fixed paths before /requests/{id}: the first match wins */
    {"GET", "/api/v1/requests/stats", "stats.read", requests_stats, ROUTE_COSTLY},
    {"GET", "/api/v1/requests/queues", "request.read", requests_queues, 0},
    {"GET", "/api/v1/requests/proxy-types", "code.read", proxy_types_get, 0},
    {"POST", "/api/v1/requests/bulk-assign", "request.manage", requests_bulk_assign, 0},
    {"POST", "/api/v1/requests/run-deadline-job", "request.manage", requests_run_job, 0},
    {"GET", "/api/v1/requests/{id}", "request.read", requests_get, 0},
    {"POST", "/api/v1/requests/{id}/actions", "request.write", requests_action, 0},
    {"POST", "/api/v1/requests/{id}/attachments", "request.write", requests_attach, ROUTE_UPLOAD},
    {"GET", "/api/v1/requests/{id}/attachments/{aid}", "request.read", requests_attachment_get, 0},
    {"GET", "/api/v1/notices", "self", notices_list, 0},
    {"POST", "/api/v1/notices/read-all", "self", notices_read_all, 0},
    {"POST", "/api/v1/notices/{id}/read", "self", notices_read, 0},
    {"GET", "/api/v1/calendar", "code.read", calendar_get, 0},
    {"POST", "/api/v1/calendar", "config.write", calendar_post, 0},
    {"GET", "/api/v1/sla", "code.read", sla_list, 0},
    {"POST", "/api/v1/sla", "config.write", sla_post, 0},
    {"PUT", "/api/v1/codes/request_category/{code}", "config.write", request_category_put, 0},
};
const size_t requests_routes_count = sizeof requests_routes / sizeof *requests_routes;
