/* Requests and proxy services (诉求受理与代办): intake, deadlines on the
 * working-day calendar, handling across the three levels of the network,
 * replies and return visits, the deadline job, notices and figures. Other
 * modules and main.c use these entry points only. */
#ifndef VETS_REQUESTS_REQUESTS_H
#define VETS_REQUESTS_REQUESTS_H
#include "auth/auth.h"
#include "http/http.h"
#include "modules.h"
#include <stddef.h>

/* Loads the rule data of this module from REF (data/): the holiday calendar
 * (data/calendar/YYYY.csv, except years an administrator entered), the SLA
 * table (data/sla.csv), the proxy step and material templates, and re-applies
 * code names edited through the API. Called at every start after
 * refdata_load(); returns 0 or -1 with a Chinese message in err. */
int requests_refdata_load(const char *ref_dir, char *err, unsigned errcap);

/* The deadline job of `vets serve`: a thread that every
 * requests.job_interval_seconds marks requests due soon and overdue and
 * escalates overdue ones one level up. start returns 0 or -1. */
int  requests_job_start(void);
void requests_job_stop(void);

/* Demo data: o->requests requests in every state (see demo.c). */
int requests_demo(const struct demo_opts *o, char *err, unsigned errcap);

/* Figures for the dashboard, inside U's jurisdiction as the lists:
 * {requests_by_status:[{status,name,count}], requests_monthly:[{month,
 * received, closed}] (12 months), my_queue:{open, due_soon, overdue}} — the
 * queue of U's station. The caller owns the result. */
json_t *requests_figures(arena *a, const user_ctx *u);

extern const struct route requests_routes[];
extern const size_t requests_routes_count;
#endif
