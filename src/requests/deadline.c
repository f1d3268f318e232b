/* Deadline arithmetic (see deadline.h). Day-by-day walks over the calendar:
 * SLA limits are a few dozen working days, so a walk is a few hundred steps
 * at most and stays obviously right across 调休 weekends and long holidays. */
#include "requests/deadline.h"
#include <stdlib.h>

/* A walk never needs more than this many days; a calendar declaring every day
 * a holiday must not hang the server. */
#define DL_MAX_WALK (366 * 20)

static bool paused_on(const struct dl_range *p, int np, int day) {
    for (int i = 0; i < np; i++)
        if (day >= p[i].from && day < p[i].to) return true;
    return false;
}

int deadline_used(const workcal *c, int start, const struct dl_range *p, int np, int day) {
    int n = 0;
    if (day - start > DL_MAX_WALK) day = start + DL_MAX_WALK;
    for (int d = start + 1; d <= day; d++)
        if (workcal_is_workday(c, d) && !paused_on(p, np, d)) n++;
    return n;
}

int deadline_due(const workcal *c, int start, int workdays, const struct dl_range *p, int np) {
    int d = start;
    for (int walked = 0; workdays > 0; walked++) {
        if (walked > DL_MAX_WALK) return -1;
        d++;
        if (!paused_on(p, np, d)) {
            if (workcal_is_workday(c, d)) workdays--;
            continue;
        }
        /* Inside a pause: an open one means the count cannot finish. */
        for (int i = 0; i < np; i++)
            if (d >= p[i].from && d < p[i].to && p[i].to == DL_OPEN) return -1;
    }
    return d;
}

void deadline_state(const workcal *c, int start, int workdays, const struct dl_range *p, int np,
                    int today, int soon, struct dl_state *out) {
    /* Close open pauses at today: "as if the clock restarted today". */
    struct dl_range local[16] = {{0}};
    struct dl_range *q = np <= 16 ? local : malloc((size_t)np * sizeof *q);
    if (!q) { q = local; np = 16; }
    for (int i = 0; i < np; i++) {
        q[i] = p[i];
        if (q[i].to == DL_OPEN) q[i].to = today > q[i].from ? today : q[i].from;
    }
    out->due = deadline_due(c, start, workdays, q, np);
    out->left = workdays - deadline_used(c, start, q, np, today);
    out->overdue = today > out->due;
    out->due_soon = !out->overdue && out->due <= workcal_add(c, today, soon);
    if (q != local) free(q);
}
