/* Deadline arithmetic of requests, pure: no database, no clock. Given the
 * working-day calendar, the day the clock started (acceptance or reopening),
 * the SLA working days (plus approved extensions) and the days the clock stood
 * still, it says when the request is due and how much time is left. Counting
 * starts the day after the start day, as the 信访工作条例 counts.
 *
 * A pause is a half-open range of days [from, to): paused on day P and resumed
 * on day R, the days P … R-1 do not count and R does. Pausing and resuming on
 * the same day changes nothing. A pause still running has to = DL_OPEN. */
#ifndef VETS_REQUESTS_DEADLINE_H
#define VETS_REQUESTS_DEADLINE_H
#include "std/workcal.h"
#include <limits.h>
#include <stdbool.h>

#define DL_OPEN INT_MAX

struct dl_range { int from, to; };

/* Working days counted as of the end of DAY: working days in (start, day]
 * that lie outside every pause. */
int deadline_used(const workcal *c, int start, const struct dl_range *p, int np, int day);

/* The due day: the day on which WORKDAYS counted working days after START
 * have passed, paused days skipped. WORKDAYS <= 0 gives START. Returns -1 when
 * an open pause stops the count before the end (no due day while the clock
 * stands still). */
int deadline_due(const workcal *c, int start, int workdays, const struct dl_range *p, int np);

/* What a screen shows on TODAY. An open pause is taken to end TODAY, i.e. the
 * due day is the one the request would have if the clock restarted today.
 * SOON is the number of working days ahead that counts as "due soon". */
struct dl_state {
    int due;          /* day number */
    int left;         /* working days left; 0 = due today; negative = overdue by that many */
    bool overdue;     /* today is after the due day */
    bool due_soon;    /* not overdue, and due within SOON working days */
};
void deadline_state(const workcal *c, int start, int workdays, const struct dl_range *p, int np,
                    int today, int soon, struct dl_state *out);
#endif
