/* Tests of src/std/workcal.c against the real calendar files in
 * data/calendar (found through VETS_SRC, set by CTest): deadlines across
 * National Day 2024 and 2025, Spring Festival 2025 and 2026 and New Year 2026,
 * with their swapped working weekends; and the loader's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "std/cdate.h"
#include "std/workcal.h"

static int D(int y, int m, int d) { return cdate_to_days(y, m, d); }

static const char *src_dir(void)
{
    const char *s = getenv("VETS_SRC");
    return s && *s ? s : ".";
}

static int setup(void **state)
{
    workcal *c = workcal_new();
    char dir[4096], err[512];
    snprintf(dir, sizeof dir, "%s/data/calendar", src_dir());
    int n = workcal_load_dir(c, dir, err, sizeof err);
    if (n <= 0) {
        fprintf(stderr, "cannot load %s (set VETS_SRC): %s\n", dir, err);
        workcal_free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    workcal_free(*state);
    return 0;
}

static void assert_day(int got, int y, int m, int d)
{
    char g[11], w[11];
    cdate_iso(got, g);
    cdate_iso(D(y, m, d), w);
    assert_string_equal(g, w);
}

static void test_years(void **state)
{
    int first, last;
    workcal_years(*state, &first, &last);
    assert_int_equal(first, 2024);
    assert_true(last >= 2026);
}

static void test_national_day_2024(void **state)
{
    const workcal *c = *state;
    assert_true(workcal_is_workday(c, D(2024, 9, 27)));  /* Friday */
    assert_false(workcal_is_workday(c, D(2024, 9, 28))); /* Saturday */
    assert_true(workcal_is_workday(c, D(2024, 9, 29)));  /* Sunday, 调休上班 */
    for (int d = 1; d <= 7; d++)
        assert_false(workcal_is_workday(c, D(2024, 10, d)));
    assert_true(workcal_is_workday(c, D(2024, 10, 12)));  /* Saturday, 调休上班 */
    assert_false(workcal_is_workday(c, D(2024, 10, 13))); /* Sunday */
    /* Accepted Friday 9/27: 9/29, 9/30, 10/8, 10/9, 10/10. */
    assert_day(workcal_add(c, D(2024, 9, 27), 5), 2024, 10, 10);
    assert_day(workcal_add(c, D(2024, 9, 27), 1), 2024, 9, 29);
    assert_day(workcal_add(c, D(2024, 9, 30), 1), 2024, 10, 8);
    assert_day(workcal_add(c, D(2024, 10, 11), 1), 2024, 10, 12);
    assert_int_equal(workcal_between(c, D(2024, 9, 27), D(2024, 10, 10)), 5);
    assert_int_equal(workcal_between(c, D(2024, 9, 30), D(2024, 10, 12)), 5);
    /* 60 calendar days vs working days: 15 working days from 9/27 */
    assert_day(workcal_add(c, D(2024, 9, 27), 15), 2024, 10, 23);
}

static void test_spring_festival_2025(void **state)
{
    const workcal *c = *state;
    assert_true(workcal_is_workday(c, D(2025, 1, 26))); /* Sunday, 班 */
    for (int d = 28; d <= 31; d++)
        assert_false(workcal_is_workday(c, D(2025, 1, d)));
    for (int d = 1; d <= 4; d++)
        assert_false(workcal_is_workday(c, D(2025, 2, d)));
    assert_true(workcal_is_workday(c, D(2025, 2, 8))); /* Saturday, 班 */
    /* Accepted Friday 1/24: 1/26, 1/27, then 2/5. */
    assert_day(workcal_add(c, D(2025, 1, 24), 3), 2025, 2, 5);
    assert_day(workcal_add(c, D(2025, 2, 7), 1), 2025, 2, 8);
    assert_int_equal(workcal_between(c, D(2025, 1, 27), D(2025, 2, 4)), 0);
    assert_int_equal(workcal_between(c, D(2025, 1, 24), D(2025, 2, 9)), 2 + 3 + 1);
}

static void test_national_day_2025(void **state)
{
    const workcal *c = *state;
    assert_true(workcal_is_workday(c, D(2025, 9, 28)));  /* Sunday, 班 */
    assert_false(workcal_is_workday(c, D(2025, 10, 8))); /* 8-day block with 中秋 */
    assert_true(workcal_is_workday(c, D(2025, 10, 11))); /* Saturday, 班 */
    assert_day(workcal_add(c, D(2025, 9, 30), 1), 2025, 10, 9);
}

static void test_2026(void **state)
{
    const workcal *c = *state;
    /* New Year: 1/1-1/3 off, Sunday 1/4 on. */
    assert_day(workcal_add(c, D(2025, 12, 31), 1), 2026, 1, 4);
    /* Spring Festival: 2/14 (Sat) on, 2/15-2/23 off, 2/28 (Sat) on. */
    assert_true(workcal_is_workday(c, D(2026, 2, 14)));
    for (int d = 15; d <= 23; d++)
        assert_false(workcal_is_workday(c, D(2026, 2, d)));
    assert_true(workcal_is_workday(c, D(2026, 2, 28)));
    assert_day(workcal_add(c, D(2026, 2, 13), 2), 2026, 2, 24);
    assert_int_equal(workcal_between(c, D(2026, 2, 13), D(2026, 2, 28)), 6);
    /* 劳动节: 5/9 (Sat) on; National Day: 9/20 (Sun) and 10/10 (Sat) on. */
    assert_true(workcal_is_workday(c, D(2026, 5, 9)));
    assert_true(workcal_is_workday(c, D(2026, 9, 20)));
    assert_false(workcal_is_workday(c, D(2026, 10, 7)));
    assert_true(workcal_is_workday(c, D(2026, 10, 10)));
    assert_day(workcal_add(c, D(2026, 9, 30), 2), 2026, 10, 9);
}

static void test_edges(void **state)
{
    const workcal *c = *state;
    assert_int_equal(workcal_add(c, D(2024, 10, 1), 0), D(2024, 10, 1));
    assert_int_equal(workcal_add(c, D(2024, 10, 1), -3), D(2024, 10, 1));
    assert_int_equal(workcal_between(c, D(2024, 10, 10), D(2024, 10, 10)), 0);
    assert_int_equal(workcal_between(c, D(2024, 10, 10), D(2024, 10, 1)), 0);
    /* add and between agree */
    for (int n = 1; n <= 40; n++) {
        int end = workcal_add(c, D(2024, 9, 20), n);
        assert_int_equal(workcal_between(c, D(2024, 9, 20), end), n);
        assert_true(workcal_is_workday(c, end));
    }
    /* No calendar: plain Monday to Friday. */
    workcal *empty = workcal_new();
    assert_true(workcal_is_workday(empty, D(2024, 10, 1)));
    assert_false(workcal_is_workday(empty, D(2024, 9, 29)));
    assert_day(workcal_add(empty, D(2024, 9, 27), 5), 2024, 10, 4);
    int first, last;
    workcal_years(empty, &first, &last);
    assert_int_equal(first, 0);
    assert_int_equal(last, 0);
    workcal_set(empty, D(2024, 9, 29), WC_WORKDAY);
    workcal_set(empty, D(2024, 10, 1), WC_HOLIDAY);
    assert_true(workcal_is_workday(empty, D(2024, 9, 29)));
    assert_false(workcal_is_workday(empty, D(2024, 10, 1)));
    workcal_set(empty, D(2024, 10, 1), WC_WORKDAY); /* overrides */
    assert_true(workcal_is_workday(empty, D(2024, 10, 1)));
    workcal_free(empty);
}

/* Writes TEXT to a temporary file and loads it into a fresh calendar. */
static int load_text(const char *text, char *err, unsigned errcap, workcal **out)
{
    char path[] = "/tmp/vets_workcal_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    workcal *c = workcal_new();
    workcal_set(c, D(2030, 1, 7), WC_HOLIDAY); /* a marker that must survive failures */
    int r = workcal_load_csv(c, path, err, errcap);
    unlink(path);
    *out = c;
    return r;
}

static void test_loader_errors(void **state)
{
    (void)state;
    char err[512];
    workcal *c;
    struct {
        const char *text, *needle;
    } cases[] = {
        {"day,kind,name\n2030-01-01,休,元旦\n", "表头应为 date,kind,name"},
        {"date,kind,name\n2030-02-30,休,x\n", "第 2 行：日期无效"},
        {"date,kind,name\n2030-1-1,休,x\n", "第 2 行：日期无效"},
        {"date,kind,name\n2030-01-01,假,x\n", "第 2 行：类别应为“休”或“班”"},
        {"date,kind,name\n2030-01-01,休,x\n2030-01-02,班,x\n", "第 3 行：调休上班日（班）应为周六或周日"},
        {"date,kind,name\n2030-01-01,休,x\n\n2030-01-01,休,x\n", "第 4 行：日期重复"},
        {"date,kind,name\n2030-01-01\n", "第 2 行：应有三列"},
        {"", "缺少表头"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int r = load_text(cases[i].text, err, sizeof err, &c);
        assert_int_equal(r, -1);
        if (strstr(err, cases[i].needle) == NULL)
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err, cases[i].needle);
        /* a failed load leaves the calendar untouched */
        assert_false(workcal_is_workday(c, D(2030, 1, 7)));
        assert_true(workcal_is_workday(c, D(2030, 1, 1)));
        workcal_free(c);
    }
    /* BOM, CRLF, blank lines and a comma in the name are fine */
    int r = load_text("\xef\xbb\xbf" "date,kind,name\r\n2030-01-01,休,元旦\r\n\r\n2030-01-05,班,调休, 上班\r\n",
                      err, sizeof err, &c);
    assert_int_equal(r, 2);
    assert_false(workcal_is_workday(c, D(2030, 1, 1)));
    assert_true(workcal_is_workday(c, D(2030, 1, 5)));
    workcal_free(c);

    c = workcal_new();
    assert_int_equal(workcal_load_csv(c, "/nonexistent/2030.csv", err, sizeof err), -1);
    assert_non_null(strstr(err, "无法打开文件"));
    workcal_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_years),
        cmocka_unit_test(test_national_day_2024),
        cmocka_unit_test(test_spring_festival_2025),
        cmocka_unit_test(test_national_day_2025),
        cmocka_unit_test(test_2026),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_loader_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
