/* Tests of src/requests/deadline.c on the real calendar (data/calendar, found
 * through VETS_SRC): due days across National Day 2025 and Spring Festival
 * 2026 with their swapped working weekends (调休), pauses while waiting for
 * materials (closed and still open), approved extensions, and the state a
 * screen shows (working days left, due soon, overdue). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "requests/deadline.h"
#include "std/cdate.h"
#include "std/workcal.h"

static int D(int y, int m, int d) { return cdate_to_days(y, m, d); }

static int setup(void **state) {
    const char *src = getenv("VETS_SRC");
    char dir[4096], err[512];
    snprintf(dir, sizeof dir, "%s/data/calendar", src && *src ? src : ".");
    workcal *c = workcal_new();
    if (workcal_load_dir(c, dir, err, sizeof err) <= 0) {
        fprintf(stderr, "cannot load %s (set VETS_SRC): %s\n", dir, err);
        workcal_free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state) { workcal_free(*state); return 0; }

static void assert_day(int got, int y, int m, int d) {
    char g[11], w[11];
    cdate_iso(got, g);
    cdate_iso(D(y, m, d), w);
    assert_string_equal(g, w);
}

/* National Day 2025: 9/28 (Sunday) and 10/11 (Saturday) are working days,
 * 10/1–10/8 off. Accepted Friday 9/26, counting starts Saturday 9/27 (off). */
static void test_national_day_2025(void **state) {
    const workcal *c = *state;
    int start = D(2025, 9, 26);
    assert_day(deadline_due(c, start, 1, NULL, 0), 2025, 9, 28);   /* the 调休 Sunday counts */
    assert_day(deadline_due(c, start, 3, NULL, 0), 2025, 9, 30);
    assert_day(deadline_due(c, start, 4, NULL, 0), 2025, 10, 9);   /* the holiday is skipped */
    assert_day(deadline_due(c, start, 5, NULL, 0), 2025, 10, 10);
    assert_day(deadline_due(c, start, 6, NULL, 0), 2025, 10, 11);  /* the 调休 Saturday counts */
    assert_day(deadline_due(c, start, 7, NULL, 0), 2025, 10, 13);
    assert_day(deadline_due(c, start, 0, NULL, 0), 2025, 9, 26);
    assert_int_equal(deadline_used(c, start, NULL, 0, D(2025, 10, 8)), 3);
    assert_int_equal(deadline_used(c, start, NULL, 0, D(2025, 10, 11)), 6);
    assert_int_equal(deadline_used(c, start, NULL, 0, start), 0);
}

/* Spring Festival 2026: 2/14 and 2/28 (Saturdays) are working days, 2/15–2/23 off. */
static void test_spring_festival_2026(void **state) {
    const workcal *c = *state;
    int start = D(2026, 2, 12);   /* Thursday */
    assert_day(deadline_due(c, start, 1, NULL, 0), 2026, 2, 13);
    assert_day(deadline_due(c, start, 2, NULL, 0), 2026, 2, 14);   /* Saturday 班 */
    assert_day(deadline_due(c, start, 3, NULL, 0), 2026, 2, 24);   /* nine days off skipped */
    assert_day(deadline_due(c, start, 5, NULL, 0), 2026, 2, 26);
    assert_day(deadline_due(c, start, 7, NULL, 0), 2026, 2, 28);   /* Saturday 班 */
    assert_day(deadline_due(c, start, 8, NULL, 0), 2026, 3, 2);
    /* 15 working days from the Friday before the holiday. */
    assert_day(deadline_due(c, D(2026, 2, 13), 15, NULL, 0), 2026, 3, 12);
}

/* Paused on Friday 2/13 (the request waits for materials), resumed Wednesday
 * 2/25: 2/13, 2/14 (班) and 2/24 do not count, 2/25 does. */
static void test_pause_resume(void **state) {
    const workcal *c = *state;
    int start = D(2026, 2, 12);
    struct dl_range p[] = {{D(2026, 2, 13), D(2026, 2, 25)}};
    assert_day(deadline_due(c, start, 5, p, 1), 2026, 3, 2);
    assert_int_equal(deadline_used(c, start, p, 1, D(2026, 2, 25)), 1);
    /* Without the pause the due day was 2/26: the pause moved it by 3 working days. */
    assert_int_equal(workcal_between(c, D(2026, 2, 26), D(2026, 3, 2)), 3);
    /* Paused and resumed the same day: nothing moves. */
    struct dl_range same[] = {{D(2026, 2, 24), D(2026, 2, 24)}};
    assert_day(deadline_due(c, start, 5, same, 1), 2026, 2, 26);
    /* A pause before the start (an earlier round before reopening) is irrelevant. */
    struct dl_range before[] = {{D(2026, 1, 5), D(2026, 1, 20)}};
    assert_day(deadline_due(c, start, 5, before, 1), 2026, 2, 26);
    /* Two pauses across National Day 2025. */
    int s2 = D(2025, 9, 26);
    struct dl_range two[] = {{D(2025, 9, 29), D(2025, 10, 10)}, {D(2025, 10, 13), D(2025, 10, 14)}};
    /* counted: 9/28, 10/10, 10/11, (10/13 paused), 10/14, 10/15 */
    assert_day(deadline_due(c, s2, 5, two, 2), 2025, 10, 15);
}

static void test_open_pause(void **state) {
    const workcal *c = *state;
    int start = D(2025, 9, 26);
    struct dl_range open[] = {{D(2025, 9, 29), DL_OPEN}};
    /* 9/28 counted, then the clock stands still for good: no due day. */
    assert_int_equal(deadline_due(c, start, 5, open, 1), -1);
    /* A pause opened after the count ends does not matter. */
    struct dl_range late[] = {{D(2025, 10, 20), DL_OPEN}};
    assert_day(deadline_due(c, start, 5, late, 1), 2025, 10, 10);
    /* The screen: still waiting on 10/10 — due as if resumed that day. */
    struct dl_state st;
    deadline_state(c, start, 5, open, 1, D(2025, 10, 10), 2, &st);
    assert_day(st.due, 2025, 10, 14);   /* 9/28, 10/10, 10/11, 10/13, 10/14 */
    assert_int_equal(st.left, 3);
    assert_false(st.overdue);
}

/* An approved extension adds its working days to the SLA's. */
static void test_extension(void **state) {
    const workcal *c = *state;
    int start = D(2026, 2, 12);
    struct dl_range p[] = {{D(2026, 2, 13), D(2026, 2, 25)}};
    assert_day(deadline_due(c, start, 5 + 5, NULL, 0), 2026, 3, 4);
    assert_day(deadline_due(c, start, 5 + 5, p, 1), 2026, 3, 9);
    /* 权益维护: 40 working days plus one extension of 20 from 2025-09-26. */
    int d40 = deadline_due(c, D(2025, 9, 26), 40, NULL, 0);
    int d60 = deadline_due(c, D(2025, 9, 26), 60, NULL, 0);
    assert_int_equal(workcal_between(c, D(2025, 9, 26), d40), 40);
    assert_int_equal(workcal_between(c, d40, d60), 20);
}

static void test_state(void **state) {
    const workcal *c = *state;
    int start = D(2025, 9, 26);   /* due 10/10 with 5 working days */
    struct dl_state st;
    deadline_state(c, start, 5, NULL, 0, D(2025, 9, 30), 2, &st);
    assert_day(st.due, 2025, 10, 10);
    assert_int_equal(st.left, 2);
    assert_false(st.overdue);
    assert_true(st.due_soon);     /* 10/9 and 10/10 are the next two working days */
    deadline_state(c, start, 5, NULL, 0, D(2025, 9, 29), 2, &st);
    assert_int_equal(st.left, 3);
    assert_false(st.due_soon);    /* the holiday week sits between */
    deadline_state(c, start, 5, NULL, 0, D(2025, 10, 10), 2, &st);
    assert_int_equal(st.left, 0);
    assert_false(st.overdue);
    assert_true(st.due_soon);
    deadline_state(c, start, 5, NULL, 0, D(2025, 10, 11), 2, &st);   /* Saturday 班 */
    assert_int_equal(st.left, -1);
    assert_true(st.overdue);
    assert_false(st.due_soon);
    deadline_state(c, start, 5, NULL, 0, D(2025, 10, 12), 2, &st);   /* Sunday off */
    assert_int_equal(st.left, -1);
    assert_true(st.overdue);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_national_day_2025),
        cmocka_unit_test(test_spring_festival_2026),
        cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_open_pause),
        cmocka_unit_test(test_extension),
        cmocka_unit_test(test_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
