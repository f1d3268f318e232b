/* Figures of requests per station and per level, and the proof of the
 * bureau's "有记录、有回应": the share of requests that got a reply and the list
 * of those that did not. A request counts for the station that owns it now
 * (after transfers and escalations), and only stations inside the user's
 * jurisdiction appear. The period is the intake date (Asia/Shanghai).
 * Everything is aggregated by the database from columns kept at the time of
 * the reply (working days used, in time or not), so the figures cost one pass
 * however many requests there are. */
#include "requests/internal.h"
#include "base/timeutil.h"
#include "db/db.h"
#include "network/network.h"
#include "std/cdate.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

struct fig {
    int64_t received, replied, closed, closed_on_time, overdue, refused, open, wd_sum, wd_n;
    int64_t sat[8];
};

static const char *level_name(const char *l) {
    return strcmp(l, "center") == 0 ? "市级服务中心" : strcmp(l, "town") == 0 ? "镇（街道）服务站" : "村（社区）服务站";
}

static void add(struct fig *to, const struct fig *f) {
    to->received += f->received; to->replied += f->replied; to->closed += f->closed;
    to->closed_on_time += f->closed_on_time; to->overdue += f->overdue; to->refused += f->refused;
    to->open += f->open; to->wd_sum += f->wd_sum; to->wd_n += f->wd_n;
    for (int i = 0; i < 8; i++) to->sat[i] += f->sat[i];
}

static json_t *rate(int64_t num, int64_t den) {
    return den ? json_real(round(10000.0 * (double)num / (double)den) / 10000.0) : json_null();
}

static json_t *fig_json(const struct fig *f, json_t *sat_codes) {
    json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "received", (json_int_t)f->received,
        "replied", (json_int_t)f->replied, "closed", (json_int_t)f->closed, "closed_on_time", (json_int_t)f->closed_on_time,
        "overdue", (json_int_t)f->overdue, "refused", (json_int_t)f->refused, "open", (json_int_t)f->open);
    json_object_set_new(j, "avg_workdays", f->wd_n ? json_real(round(10.0 * (double)f->wd_sum / (double)f->wd_n) / 10.0)
                                                   : json_null());
    json_object_set_new(j, "reply_rate", rate(f->replied, f->received));
    json_object_set_new(j, "on_time_rate", rate(f->closed_on_time, f->closed));
    json_t *sat = json_array();
    size_t i; json_t *c;
    json_array_foreach(sat_codes, i, c) {
        if (i >= 8) break;
        json_array_append_new(sat, json_pack("{s:O,s:O,s:I}", "code", json_object_get(c, "code"),
                                             "name", json_object_get(c, "name"), "count", (json_int_t)f->sat[i]));
    }
    json_object_set_new(j, "satisfaction", sat);
    return j;
}

/* Period bounds as UTC instants of Shanghai midnights. */
static bool period(req *r, const struct rq_now *now, char from_iso[21], char to_iso[21], char from_d[11], char to_d[11]) {
    const char *f = req_query(r, "from"), *t = req_query(r, "to");
    int fd, td;
    if (f && *f) {
        if (!cdate_iso_to_days(f, &fd)) { reply_error(r, 422, "validation_failed", "from", "起始日期须为 YYYY-MM-DD"); return false; }
    } else {
        int y, m, d;
        cdate_from_days(now->today, &y, &m, &d);
        fd = cdate_to_days(y, 1, 1);
    }
    if (t && *t) {
        if (!cdate_iso_to_days(t, &td)) { reply_error(r, 422, "validation_failed", "to", "截止日期须为 YYYY-MM-DD"); return false; }
    } else td = now->today;
    if (td < fd) { reply_error(r, 422, "validation_failed", "to", "截止日期不能早于起始日期"); return false; }
    iso_utc((int64_t)fd * 86400 - 8 * 3600, from_iso);
    iso_utc((int64_t)(td + 1) * 86400 - 8 * 3600, to_iso);
    cdate_iso(fd, from_d);
    cdate_iso(td, to_d);
    return true;
}

#define IN_PERIOD "st.region_code BETWEEN ?1 AND ?2 AND r.created_at >= ?3 AND r.created_at < ?4"

void requests_stats(req *r) {
    user_ctx *u = current_user(r);
    arena *a = req_arena(r);
    struct rq_now now;
    rq_now_init(&now);
    char from_iso[21], to_iso[21], from_d[11], to_d[11];
    if (!period(r, &now, from_iso, to_iso, from_d, to_d)) return;
    db *d = db_thread();

    json_t *sat_codes = json_array();
    db_stmt *s = db_prep(d, "SELECT code, name FROM codes WHERE tbl = 'satisfaction' ORDER BY sort, code");
    while (db_step(s) == DB_ROW)
        json_array_append_new(sat_codes, json_pack("{s:s,s:s}", "code", db_col_text(s, 0), "name", db_col_text(s, 1)));
    db_reset(s);

    /* Every station of the jurisdiction, with or without requests. */
    s = db_prep(d, "SELECT id, name, level, region_code FROM stations st WHERE st.region_code BETWEEN ? AND ? ORDER BY region_code");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    size_t cap = 64, n = 0;
    struct srow { int64_t id; const char *name, *level, *region; struct fig f; } *rows = arena_alloc(a, cap * sizeof *rows);
    while (db_step(s) == DB_ROW) {
        if (n == cap) {
            struct srow *bigger = arena_alloc(a, 2 * cap * sizeof *rows);
            memcpy(bigger, rows, n * sizeof *rows);
            rows = bigger; cap *= 2;
        }
        rows[n] = (struct srow){db_col_int(s, 0), arena_strdup(a, db_col_text(s, 1)), arena_strdup(a, db_col_text(s, 2)),
                                arena_strdup(a, db_col_text(s, 3)), {0}};
        n++;
    }
    db_reset(s);

    s = db_prep(d,
        "SELECT r.station_id, COUNT(*), "
        "SUM(CASE WHEN r.first_reply_at IS NOT NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN r.status = 'closed' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN r.status = 'closed' AND r.replied_on_time = 1 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN (r.status = 'received' AND r.response_due < ?5) OR "
        "  (r.status = 'accepted' AND r.paused = 0 AND r.due_date < ?6) OR r.replied_on_time = 0 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN r.status = 'refused' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN r.status IN ('received','accepted','waiting','replied') THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN r.status = 'closed' AND r.reply_workdays IS NOT NULL THEN r.reply_workdays ELSE 0 END), "
        "SUM(CASE WHEN r.status = 'closed' AND r.reply_workdays IS NOT NULL THEN 1 ELSE 0 END) "
        "FROM requests r JOIN stations st ON st.id = r.station_id WHERE " IN_PERIOD " GROUP BY r.station_id");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    db_bind_text(s, 3, from_iso); db_bind_text(s, 4, to_iso);
    db_bind_text(s, 5, now.iso); db_bind_text(s, 6, now.today_iso);
    while (db_step(s) == DB_ROW) {
        int64_t sid = db_col_int(s, 0);
        for (size_t i = 0; i < n; i++) {
            if (rows[i].id != sid) continue;
            struct fig *f = &rows[i].f;
            f->received = db_col_int(s, 1); f->replied = db_col_int(s, 2); f->closed = db_col_int(s, 3);
            f->closed_on_time = db_col_int(s, 4); f->overdue = db_col_int(s, 5); f->refused = db_col_int(s, 6);
            f->open = db_col_int(s, 7); f->wd_sum = db_col_int(s, 8); f->wd_n = db_col_int(s, 9);
        }
    }
    db_reset(s);
    s = db_prep(d, "SELECT r.station_id, r.satisfaction, COUNT(*) FROM requests r JOIN stations st ON st.id = r.station_id "
                   "WHERE " IN_PERIOD " AND r.satisfaction IS NOT NULL GROUP BY r.station_id, r.satisfaction");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    db_bind_text(s, 3, from_iso); db_bind_text(s, 4, to_iso);
    while (db_step(s) == DB_ROW) {
        int64_t sid = db_col_int(s, 0);
        const char *code = db_col_text(s, 1);
        size_t k; json_t *c;
        json_array_foreach(sat_codes, k, c) {
            if (k >= 8 || strcmp(json_string_value(json_object_get(c, "code")), code) != 0) continue;
            for (size_t i = 0; i < n; i++) if (rows[i].id == sid) rows[i].f.sat[k] += db_col_int(s, 2);
        }
    }
    db_reset(s);

    static const char *const levels[] = {"center", "town", "village"};
    struct fig lv[3] = {{0}}, total = {0};
    json_t *by_station = json_array();
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) if (strcmp(rows[i].level, levels[k]) == 0) add(&lv[k], &rows[i].f);
        add(&total, &rows[i].f);
        json_t *j = fig_json(&rows[i].f, sat_codes);
        json_object_set_new(j, "station_id", json_integer(rows[i].id));
        json_object_set_new(j, "station_name", json_string(rows[i].name));
        json_object_set_new(j, "level", json_string(rows[i].level));
        json_object_set_new(j, "region_code", json_string(rows[i].region));
        json_array_append_new(by_station, j);
    }
    json_t *by_level = json_array();
    for (int k = 0; k < 3; k++) {
        bool present = false;
        for (size_t i = 0; i < n; i++) if (strcmp(rows[i].level, levels[k]) == 0) present = true;
        if (!present) continue;
        json_t *j = fig_json(&lv[k], sat_codes);
        json_object_set_new(j, "level", json_string(levels[k]));
        json_object_set_new(j, "level_name", json_string(level_name(levels[k])));
        json_array_append_new(by_level, j);
    }

    /* 有记录、有回应: the requests of the period with no reply on record. */
    json_t *unreplied = json_array();
    s = db_prep(d, "SELECT r.id, r.no, r.contact_name, r.category, r.status, r.station_id, st.name, r.created_at, "
                   "r.response_due, r.due_date, r.paused FROM requests r JOIN stations st ON st.id = r.station_id "
                   "WHERE " IN_PERIOD " AND r.first_reply_at IS NULL ORDER BY r.created_at, r.id LIMIT 500");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    db_bind_text(s, 3, from_iso); db_bind_text(s, 4, to_iso);
    while (db_step(s) == DB_ROW) {
        const char *status = db_col_text(s, 4);
        bool overdue = (strcmp(status, "received") == 0 && strcmp(db_col_text(s, 8), now.iso) < 0) ||
                       (strcmp(status, "accepted") == 0 && db_col_int(s, 10) == 0 && db_col_text(s, 9) &&
                        strcmp(db_col_text(s, 9), now.today_iso) < 0);
        const char *cat = code_name(a, "request_category", db_col_text(s, 3));
        json_array_append_new(unreplied, json_pack("{s:I,s:s,s:s,s:s,s:s?,s:s,s:s,s:I,s:s,s:s,s:s?,s:I,s:b}",
            "id", (json_int_t)db_col_int(s, 0), "no", db_col_text(s, 1), "contact_name", db_col_text(s, 2),
            "category", db_col_text(s, 3), "category_name", cat, "status", status, "status_name", rq_status_name(status),
            "station_id", (json_int_t)db_col_int(s, 5), "station_name", db_col_text(s, 6),
            "created_at", db_col_text(s, 7), "due_date", db_col_text(s, 9),
            "days_waiting", (json_int_t)(now.today - unix_to_cn_days(iso_parse(db_col_text(s, 7)))), "overdue", overdue));
    }
    db_reset(s);

    json_t *by_status = json_array();
    s = db_prep(d, "SELECT r.status, COUNT(*) FROM requests r JOIN stations st ON st.id = r.station_id WHERE " IN_PERIOD
                   " GROUP BY r.status");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    db_bind_text(s, 3, from_iso); db_bind_text(s, 4, to_iso);
    while (db_step(s) == DB_ROW)
        json_array_append_new(by_status, json_pack("{s:s,s:s,s:I}", "status", db_col_text(s, 0),
                              "name", rq_status_name(db_col_text(s, 0)), "count", (json_int_t)db_col_int(s, 1)));
    db_reset(s);

    json_t *out = json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:I}", "from", from_d, "to", to_d,
        "totals", fig_json(&total, sat_codes), "by_level", by_level, "by_station", by_station,
        "by_status", by_status, "unreplied", unreplied, "unreplied_total", (json_int_t)(total.received - total.replied));
    json_object_set_new(out, "reply_rate", rate(total.replied, total.received));
    json_decref(sat_codes);
    reply_json(r, 200, out);
}
