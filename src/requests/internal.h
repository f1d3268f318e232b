/* Internals shared by the files of the requests module; not for other modules.
 *
 * One request row (struct rq) is read through one column table, so loading,
 * listing and the JSON view agree on the columns. Jurisdiction: a user sees a
 * request when its region, its owning station or one of its 协办 stations lies
 * in the user's scope (RQ_VISIBLE, with ?1/?2 = scope_lo/scope_hi); a user may
 * handle it when the owning station lies in the scope (the owner itself or a
 * station above it). */
#ifndef VETS_REQUESTS_INTERNAL_H
#define VETS_REQUESTS_INTERNAL_H
#include "auth/auth.h"
#include "db/db.h"
#include "requests/deadline.h"
#include "requests/requests.h"
#include "std/workcal.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define RQ_VISIBLE                                                                                       \
    "(r.region_code BETWEEN ?1 AND ?2 OR st.region_code BETWEEN ?1 AND ?2 OR EXISTS (SELECT 1 FROM "     \
    "request_helpers h JOIN stations hs ON hs.id = h.station_id WHERE h.request_id = r.id AND "          \
    "hs.region_code BETWEEN ?1 AND ?2))"

/* Status bits, for the action table. */
enum { ST_RECEIVED = 1, ST_ACCEPTED = 2, ST_REFUSED = 4, ST_WAITING = 8, ST_REPLIED = 16, ST_CLOSED = 32 };
#define ST_OPEN (ST_RECEIVED | ST_ACCEPTED | ST_WAITING | ST_REPLIED)
unsigned    rq_status_bit(const char *status);
const char *rq_status_name(const char *status);
const char *rq_action_name(const char *action);

/* One request row. Integer columns that are NULL read as -1. */
struct rq {
    int64_t id, version, person_id, intake_station_id, station_id, assignee_id, created_by;
    int64_t response_hours, sla_workdays, sla_extensions, sla_extension_workdays;
    int64_t extensions_used, extension_workdays, paused, reply_workdays, replied_on_time;
    int64_t reopen_count, proxy_step;
    const char *no, *channel, *category, *urgency, *contact_name, *contact_phone, *region_code;
    const char *content, *status, *created_at, *response_due, *responded_at, *accepted_at;
    const char *accepted_day, *due_date, *pause_reason, *refuse_reason, *reply_content;
    const char *reply_channel, *reply_at, *first_reply_at, *closed_at, *satisfaction, *visited_at;
    const char *overdue_since, *due_soon_noticed, *next_escalation_day, *proxy_type, *proxy_done_at;
    const char *authorized_at, *updated_at;
};
/* "r.id, r.no, …" in struct order, and the filler for a row selected with it. */
const char *rq_columns(void);
void rq_fill(arena *a, db_stmt *s, int first_col, struct rq *q);
/* Loads request ID if U may see it (U NULL: the system sees all). */
bool rq_load(arena *a, const user_ctx *u, int64_t id, struct rq *q);

/* Now, as the injectable clock says, in both forms the module needs. */
struct rq_now {
    int64_t t;
    char iso[21];
    int today;             /* day number in Asia/Shanghai */
    char today_iso[11];
};
void rq_now_init(struct rq_now *n);
int  rq_day(const char *iso_date);    /* YYYY-MM-DD → day number, -1 if NULL/invalid */

/* Stations of the network (read-only here). */
struct station {
    int64_t id, parent_id;
    char level[8], region[13], name[128];
};
bool    station_get(int64_t id, struct station *s);
/* The station of LEVEL on the path from the region's own station up to the
 * center; the region's own station when it sits above LEVEL. */
int64_t station_on_path(const char *region_code, const char *level);
bool    rq_may_handle(const user_ctx *u, const struct station *owner);
bool    rq_may_approve(const user_ctx *u, const struct station *owner, int64_t requested_by);

/* Rule data. */
struct sla { int64_t response_hours, workdays, extensions, extension_workdays; };
bool     sla_find(const char *category, const char *urgency, const char *day, struct sla *out);
workcal *rq_calendar(void);                    /* from calendar_days; caller frees */
/* The last year the calendar must hold today: the State Council publishes a
 * year's holidays in the autumn before, so the coming one from the month the
 * setting requests.calendar_lead_months says (1: December). */
int rq_calendar_needed_year(const struct rq_now *now);
bool     code_flag(const char *table, const char *code, const char *key);   /* extra.key == "1" */

/* Deadline of a stored request: its pauses as ranges from the start day on. */
int  rq_pauses(int64_t id, struct dl_range *out, int cap);
/* Recomputes and stores due_date (open pauses taken to end today); returns the
 * due day or -1. Clears the overdue marks when the new day is not past. */
int  rq_store_due(int64_t id, const workcal *cal, const struct rq_now *now);
/* Live deadline figures; false when the request has no running deadline. */
bool rq_deadline(const struct rq *q, const workcal *cal, const struct rq_now *now, struct dl_state *st);

/* Timeline entry (append-only); U NULL is the system. Detail is borrowed. */
int64_t rq_event(int64_t request_id, const user_ctx *u, const char *at, const char *action, const char *note,
                 int64_t from_station, int64_t to_station, json_t *detail);
/* A notice to a user (user_id > 0) or to every user of a station. */
int rq_notice(int64_t user_id, int64_t station_id, int64_t request_id, const char *kind, const char *msg,
              const char *at);
/* The owner of Q: its assignee, else its station. */
int rq_notice_owner(const struct rq *q, const char *kind, const char *msg, const char *at);

/* The JSON of a request; FULL adds timeline, helpers, attachments, proxy
 * steps and materials, and the actions U may take now. */
json_t *rq_view(arena *a, const user_ctx *u, const struct rq *q, const workcal *cal, const struct rq_now *now,
                bool full);
/* Names of the actions U may take on Q now (actions.c). */
json_t *rq_allowed_actions(const user_ctx *u, const struct rq *q, const struct station *owner);

/* Route handlers spread over the files. */
void requests_list(req *r);
void requests_create(req *r);
void requests_get(req *r);
void requests_action(req *r);
void requests_bulk_assign(req *r);
void requests_attach(req *r);
void requests_attachment_get(req *r);
void requests_stats(req *r);
void requests_run_job(req *r);
void notices_list(req *r);
void notices_read(req *r);
void notices_read_all(req *r);
void calendar_get(req *r);
void calendar_post(req *r);
void sla_list(req *r);
void sla_post(req *r);
void proxy_types_get(req *r);
void request_category_put(req *r);

/* The deadline job's one pass; counts what it did. RID names the caller in
 * the audit trail ("job" for the thread). */
struct job_result { int due_soon, overdue, escalated; };
int requests_deadline_run(const char *rid, struct job_result *res);

/* Audit rows of this module, taking ownership of DETAIL (NULL u in the _as
 * form is the system). */
static inline int rq_audit(req *r, const char *event, const char *otype, const char *oid, json_t *detail) {
    return audit_event(r, event, otype, oid, "ok", detail);
}
static inline int rq_audit_as(const user_ctx *u, const char *rid, const char *event, const char *oid, json_t *detail) {
    return audit_event_as(u, rid, NULL, event, "request", oid, "ok", detail);
}

/* Ids as text for audit rows. */
static inline const char *rq_idstr(char buf[24], int64_t id) {
    snprintf(buf, 24, "%lld", (long long)id);
    return buf;
}
#endif
