/* Figures of the registry for dashboards and reports: persons by category,
 * by town (or by village inside a town), by status, and 建档立卡
 * completeness per station — always inside the user's jurisdiction. They are
 * read from the tallies (migration 0005: counts per village, status,
 * completeness and category, kept exact by triggers), so a county of a
 * million persons answers in milliseconds, not by counting its rows. */
#include "registry/internal.h"
#include "network/network.h"
#include <stdio.h>
#include <string.h>

json_t *registry_figures(arena *a, const user_ctx *u) {
    db *d = db_thread();
    json_t *j = json_object();
    db_stmt *s = db_prep(d, "SELECT SUM(n), SUM(CASE WHEN complete = 1 THEN n ELSE 0 END), "
                            "SUM(CASE WHEN status = '1' THEN n ELSE 0 END) FROM person_tally WHERE region_code BETWEEN ? AND ?");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    bool row = db_step(s) == DB_ROW;
    json_object_set_new(j, "persons_total", json_integer(row ? db_col_int(s, 0) : 0));
    json_object_set_new(j, "persons_complete", json_integer(row ? db_col_int(s, 1) : 0));
    json_object_set_new(j, "persons_active", json_integer(row ? db_col_int(s, 2) : 0));
    db_reset(s);
    /* Active categories (a person may count in several). */
    s = db_prep(d, "SELECT c.category, k.name, SUM(c.n) FROM category_tally c "
                   "LEFT JOIN codes k ON k.tbl = 'person_category' AND k.code = c.category "
                   "WHERE c.region_code BETWEEN ? AND ? GROUP BY c.category, k.name ORDER BY 3 DESC, 1");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    json_t *bc = json_array();
    while (db_step(s) == DB_ROW)
        json_array_append_new(bc, json_pack("{s:s,s:s?,s:I}", "code", db_col_text(s, 0), "name", db_col_text(s, 1),
                                            "count", (json_int_t)db_col_int(s, 2)));
    db_reset(s);
    json_object_set_new(j, "by_category", bc);
    /* By the level below the user's: towns for the center, villages for a town. */
    bool county = region_prefix_len(u->region_code) <= 6;
    const char *sql_town = "SELECT SUBSTR(p.region_code, 1, 9) || '000' AS g, SUM(p.n) FROM person_tally p "
                           "WHERE p.region_code BETWEEN ? AND ? GROUP BY g ORDER BY g";
    const char *sql_vil = "SELECT p.region_code AS g, SUM(p.n) FROM person_tally p WHERE p.region_code BETWEEN ? AND ? "
                          "GROUP BY g ORDER BY g";
    s = db_prep(d, county ? sql_town : sql_vil);
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    json_t *br = json_array();
    while (db_step(s) == DB_ROW)
        json_array_append_new(br, json_pack("{s:s,s:I}", "code", db_col_text(s, 0), "count", (json_int_t)db_col_int(s, 1)));
    db_reset(s);
    size_t i; json_t *it;
    json_array_foreach(br, i, it) {
        const char *n = region_name(a, json_string_value(json_object_get(it, "code")));
        json_object_set_new(it, "name", n ? json_string(n) : json_string(json_string_value(json_object_get(it, "code"))));
    }
    json_object_set_new(j, "by_region", br);
    json_object_set_new(j, "by_region_level", json_string(county ? "town" : "village"));
    s = db_prep(d, "SELECT p.status, k.name, SUM(p.n) FROM person_tally p LEFT JOIN codes k ON k.tbl = 'person_status' AND k.code = p.status "
                   "WHERE p.region_code BETWEEN ? AND ? GROUP BY p.status, k.name ORDER BY p.status");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    json_t *bs = json_array();
    while (db_step(s) == DB_ROW)
        json_array_append_new(bs, json_pack("{s:s,s:s?,s:I}", "code", db_col_text(s, 0), "name", db_col_text(s, 1),
                                            "count", (json_int_t)db_col_int(s, 2)));
    db_reset(s);
    json_object_set_new(j, "by_status", bs);
    /* Completeness per station of the level below (the same grouping). */
    s = db_prep(d, county ? "SELECT SUBSTR(p.region_code, 1, 9) || '000' AS g, SUM(p.n), SUM(CASE WHEN p.complete = 1 THEN p.n ELSE 0 END) "
                            "FROM person_tally p WHERE p.region_code BETWEEN ? AND ? GROUP BY g ORDER BY g"
                          : "SELECT p.region_code AS g, SUM(p.n), SUM(CASE WHEN p.complete = 1 THEN p.n ELSE 0 END) "
                            "FROM person_tally p WHERE p.region_code BETWEEN ? AND ? GROUP BY g ORDER BY g");
    db_bind_text(s, 1, u->scope_lo); db_bind_text(s, 2, u->scope_hi);
    json_t *cs = json_array();
    while (db_step(s) == DB_ROW) {
        int64_t n = db_col_int(s, 1), ok = db_col_int(s, 2);
        json_array_append_new(cs, json_pack("{s:s,s:I,s:I,s:f}", "region_code", db_col_text(s, 0), "persons", (json_int_t)n,
                                            "complete", (json_int_t)ok, "rate", n ? (double)ok / (double)n : 0.0));
    }
    db_reset(s);
    json_array_foreach(cs, i, it) {
        const char *rc = json_string_value(json_object_get(it, "region_code"));
        int64_t sid = station_for_region(rc);
        const char *n = region_name(a, rc);
        json_object_set_new(it, "station_id", json_integer(sid));
        json_object_set_new(it, "station_name", json_string(n ? n : rc));
    }
    json_object_set_new(j, "completeness_by_station", cs);
    return j;
}
