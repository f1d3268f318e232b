/* Tests of io/xlsx_write: what staff see when they open an export, an
 * import template or an error report (bold filled header, frozen first
 * row, autofilter, widths, text cells, red cells with comments, a notes
 * sheet), checked in the produced XML, plus a read-back through table_read
 * and the failure paths, which must return non-zero and never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zip.h>

#include "io/table_read.h"
#include "io/xlsx_write.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/vets_io_xlsx_XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *tpath(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* Whole zip entry as a NUL-terminated string (NULL when absent). */
static char *zip_text(const char *path, const char *entry)
{
    int e = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &e);
    assert_non_null(z);
    zip_stat_t st;
    char *buf = NULL;
    if (zip_stat(z, entry, 0, &st) == 0) {
        buf = malloc(st.size + 1);
        assert_non_null(buf);
        zip_file_t *f = zip_fopen(z, entry, 0);
        assert_non_null(f);
        assert_int_equal(zip_fread(f, buf, st.size), (zip_int64_t)st.size);
        buf[st.size] = '\0';
        zip_fclose(f);
    }
    zip_discard(z);
    return buf;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("\"%s\" not found in:\n%.2000s", needle, hay ? hay : "(null)");
}

static const char *const HEADER[] = {"姓名", "身份证号", "入伍日期", "备注"};
static const double WIDTHS[] = {10, 22, 0, 30};
static const char *const ROWS[][4] = {
    {"张三", "330482198001011234", "2001-09-01", ""},
    {"李四", "11010119900307123X", "20210305", "多行\n备注"},
    {"王五", "3304821980010112", "", "长度不对"},
    {"", "", "", ""},
    {"<&>\"'", "0012", "1e5", "=1+1"},
};
static const char *const ERRS[][4] = {
    {NULL, NULL, NULL, NULL},
    {NULL, "", NULL, NULL},
    {NULL, "身份证号应为 18 位", NULL, NULL},
    {"姓名不能为空", NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL},
};

static void write_report(const char *path, bool cm)
{
    xlsx_out *x = xlsx_out_open_ex(path, "导入结果", cm);
    assert_non_null(x);
    assert_int_equal(xlsx_out_header(x, HEADER, 4, WIDTHS), 0);
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++)
        assert_int_equal(xlsx_out_row(x, ROWS[i], 4, ERRS[i]), 0);
    const char *notes[] = {"填写说明：", "1. 身份证号必须为 18 位，按文本填写。", "",
                           "2. 日期格式为 YYYY-MM-DD。"};
    assert_int_equal(xlsx_out_notes(x, "填写说明", notes, 4), 0);
    assert_int_equal(xlsx_out_close(x), 0);
}

static void check_report(const char *path)
{
    char *wb = zip_text(path, "xl/workbook.xml");
    assert_contains(wb, "name=\"导入结果\"");
    assert_contains(wb, "name=\"填写说明\"");
    /* The autofilter range is recorded as a defined name too. */
    assert_contains(wb, "_xlnm._FilterDatabase");
    free(wb);

    char *sh = zip_text(path, "xl/worksheets/sheet1.xml");
    assert_contains(sh, "<pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/>");
    assert_contains(sh, "<autoFilter ref=\"A1:D6\"/>");
    assert_contains(sh, "<col min=\"2\" max=\"2\" width=\"22.7109375\"");
    assert_contains(sh, "<col min=\"3\" max=\"3\" width=\"14.7109375\"");
    assert_contains(sh, "<legacyDrawing");
    /* No cell is numeric: every <c> with a value is a string. */
    for (const char *p = strstr(sh, "<c "); p; p = strstr(p + 1, "<c ")) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        if (end[-1] == '/')
            continue;  /* blank (a red empty cell) */
        char head[200];
        snprintf(head, sizeof head, "%.*s", (int)(end - p), p);
        if (!strstr(head, "t=\"s\"") && !strstr(head, "t=\"inlineStr\""))
            fail_msg("non-text cell: %s", head);
    }
    free(sh);

    char *cm = zip_text(path, "xl/comments1.xml");
    assert_contains(cm, "身份证号应为 18 位");
    assert_contains(cm, "姓名不能为空");
    assert_contains(cm, "ref=\"B4\"");
    assert_contains(cm, "ref=\"A5\"");
    assert_contains(cm, "<author>系统校验</author>");
    free(cm);

    char *st = zip_text(path, "xl/styles.xml");
    assert_contains(st, "FFFFC7CE");  /* red fill of flagged cells */
    assert_contains(st, "FFDDEBF7");  /* header fill */
    assert_contains(st, "<b/>");
    assert_contains(st, "formatCode=\"@\"");
    free(st);

    char *notes = zip_text(path, "xl/worksheets/sheet2.xml");
    assert_non_null(notes);
    free(notes);

    /* And the data read back as the strings written. */
    char err[512];
    table_reader *r = table_open(path, err, sizeof err);
    assert_non_null(r);
    const char *const *cells;
    int n, rn;
    assert_int_equal(table_next(r, &cells, &n, &rn, err, sizeof err), 1);
    assert_int_equal(n, 4);
    for (int c = 0; c < 4; c++)
        assert_string_equal(cells[c], HEADER[c]);
    int expect_rn[] = {2, 3, 4, 6};
    int src[] = {0, 1, 2, 4};  /* row 5 (index 3) is empty, red or not */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(table_next(r, &cells, &n, &rn, err, sizeof err), 1);
        assert_int_equal(rn, expect_rn[i]);
        for (int c = 0; c < 4; c++)
            assert_string_equal(c < n ? cells[c] : "", ROWS[src[i]][c]);
    }
    assert_int_equal(table_next(r, &cells, &n, &rn, err, sizeof err), 0);
    table_close(r);
}

static void test_report_constant_memory(void **state)
{
    (void)state;
    const char *p = tpath("report_cm.xlsx");
    write_report(p, true);
    check_report(p);
}

static void test_report_normal(void **state)
{
    (void)state;
    const char *p = tpath("report.xlsx");
    write_report(p, false);
    check_report(p);
}

/* The default open is constant-memory (the header's promise); a template
 * with only a header and notes is the other everyday use. */
static void test_template(void **state)
{
    (void)state;
    const char *p = tpath("template.xlsx");
    xlsx_out *x = xlsx_out_open(p, NULL);
    assert_non_null(x);
    assert_int_equal(xlsx_out_header(x, HEADER, 4, NULL), 0);
    assert_int_equal(xlsx_out_header(x, HEADER, 4, NULL), -1);  /* only once */
    const char *notes[] = {"请勿修改表头。"};
    assert_int_equal(xlsx_out_notes(x, NULL, notes, 1), 0);
    assert_int_equal(xlsx_out_close(x), 0);
    char *sh = zip_text(p, "xl/worksheets/sheet1.xml");
    assert_contains(sh, "<autoFilter ref=\"A1:D1\"/>");
    assert_contains(sh, "t=\"inlineStr\"");  /* constant_memory writes inline */
    free(sh);
    char *wb = zip_text(p, "xl/workbook.xml");
    assert_contains(wb, "name=\"Sheet1\"");
    assert_contains(wb, "name=\"Sheet2\"");
    free(wb);
}

static void test_failures(void **state)
{
    (void)state;
    /* Invalid sheet names (Excel forbids []:*?/\ and > 31 characters). */
    assert_null(xlsx_out_open(tpath("bad1.xlsx"), "a/b"));
    assert_null(xlsx_out_open(tpath("bad2.xlsx"), "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二"));
    assert_null(xlsx_out_open(NULL, "x"));
    assert_int_equal(access(tpath("bad1.xlsx"), F_OK), -1);

    /* Directory that does not exist: caught at open. */
    assert_null(xlsx_out_open(tpath("no/such/dir/x.xlsx"), "S"));
    /* Directory removed between open and close: close fails, and nothing
     * leaks (valgrind checks the temp FILE of constant_memory mode). */
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tpath("gone"));
    assert_int_equal(mkdir(dir, 0700), 0);
    char file[600];
    snprintf(file, sizeof file, "%s/x.xlsx", dir);
    xlsx_out *x = xlsx_out_open(file, "S");
    assert_non_null(x);
    assert_int_equal(xlsx_out_header(x, HEADER, 4, NULL), 0);
    assert_int_equal(xlsx_out_row(x, ROWS[0], 4, ERRS[2]), 0);
    assert_int_equal(xlsx_out_notes(x, "说明", ROWS[0], 2), 0);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(xlsx_out_close(x), -1);
    assert_int_equal(xlsx_out_close(NULL), -1);

    x = xlsx_out_open(tpath("misc.xlsx"), "S");
    assert_non_null(x);
    assert_int_equal(xlsx_out_header(NULL, HEADER, 4, NULL), -1);
    assert_int_equal(xlsx_out_header(x, NULL, 4, NULL), -1);
    assert_int_equal(xlsx_out_header(x, HEADER, -1, NULL), -1);
    assert_int_equal(xlsx_out_header(x, HEADER, 100000, NULL), -1);
    assert_int_equal(xlsx_out_header(x, HEADER, 4, NULL), 0);
    assert_int_equal(xlsx_out_row(NULL, ROWS[0], 4, NULL), -1);
    assert_int_equal(xlsx_out_row(x, NULL, 4, NULL), -1);
    assert_int_equal(xlsx_out_row(x, ROWS[0], 20000, NULL), -1);
    /* Longer than Excel's 32 767 characters: that row fails, the file is
     * still finished. */
    size_t big = 40000;
    char *s = malloc(big + 1);
    assert_non_null(s);
    memset(s, 'a', big);
    s[big] = '\0';
    const char *row[] = {"ok", s};
    const char *errs[] = {NULL, s};
    assert_int_not_equal(xlsx_out_row(x, row, 2, errs), 0);
    free(s);
    const char *row2[] = {NULL, "after"};
    assert_int_equal(xlsx_out_row(x, row2, 2, NULL), 0);
    assert_int_equal(xlsx_out_notes(x, "bad/name", NULL, 0), -1);
    assert_int_equal(xlsx_out_notes(x, "说明", NULL, 3), -1);
    assert_int_equal(xlsx_out_close(x), 0);

    char err[512];
    table_reader *r = table_open(tpath("misc.xlsx"), err, sizeof err);
    assert_non_null(r);
    const char *const *cells;
    int n, rn, rows = 0;
    char last[32] = "";
    while (table_next(r, &cells, &n, &rn, err, sizeof err) == 1) {
        rows++;
        snprintf(last, sizeof last, "%s", n > 1 ? cells[1] : "");
    }
    assert_int_equal(rows, 3);  /* header, "ok" row, "after" row */
    assert_string_equal(last, "after");
    table_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_constant_memory),
        cmocka_unit_test(test_report_normal),
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
