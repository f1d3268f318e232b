/* Statistics (统计): the dashboard of the 工作台 and the figures leaders read.
 * Each module computes its own figures inside the user's jurisdiction; this
 * module only gathers them, so a chart can never show what a list would hide. */
#include "auth/auth.h"
#include "registry/registry.h"
#include "requests/requests.h"
#include <stdio.h>

json_t *registry_figures(arena *a, const user_ctx *u);

static void dashboard(req *r) {
    user_ctx *u = current_user(r);
    json_t *j = registry_figures(req_arena(r), u);
    json_t *rq = requests_figures(req_arena(r), u);
    if (rq) { json_object_update(j, rq); json_decref(rq); }
    json_object_set_new(j, "scope", json_pack("{s:s,s:s,s:s}", "region_code", u->region_code, "region_name", u->region_name,
                                              "station_name", u->station_name));
    reply_json(r, 200, j);
}

const struct route stats_routes[] = {
    {"GET", "/api/v1/stats/dashboard", "stats.read", dashboard, ROUTE_COSTLY},
};
const size_t stats_routes_count = sizeof stats_routes / sizeof *stats_routes;
