/* Tests of io/table_read: CSV in the shapes staff actually upload (UTF-8,
 * UTF-8 with BOM, GB18030 from Chinese Excel, quotes, embedded newlines,
 * CRLF/CR), .xlsx written by hand (shared + inline + rich strings, dates in
 * both date systems, skipped columns and rows) and by libxlsxwriter, broken
 * files that must fail with a message and not crash, and 200 000-row files
 * whose reading must not raise peak RSS by more than 64 MiB. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <xlsxwriter.h>
#include <zip.h>

#include "io/table_read.h"
#include "io/xlsx_write.h"

static char tmpdir[256];
static long vm_kib(const char *key);
static bool reset_hwm(void);

static int setup_dir(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/vets_io_table_XXXXXX", t && *t ? t : "/tmp");
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
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Expected row: rownum, then cells; NULL ends the cells. */
struct erow {
    int rownum;
    const char *cells[12];
};

static void expect_rows(const char *path, const char *fmt, const char *enc,
                        const struct erow *rows, size_t nrows)
{
    char err[512] = "";
    table_reader *r = table_open(path, err, sizeof err);
    if (!r)
        fail_msg("table_open(%s): %s", path, err);
    assert_string_equal(table_format(r), fmt);
    if (enc)
        assert_string_equal(table_encoding(r), enc);
    const char *const *cells;
    int n, rn;
    for (size_t i = 0; i < nrows; i++) {
        int rc = table_next(r, &cells, &n, &rn, err, sizeof err);
        if (rc != 1)
            fail_msg("row %zu: rc=%d err=%s", i, rc, err);
        int want = 0;
        while (rows[i].cells[want])
            want++;
        if (rn != rows[i].rownum || n != want)
            fail_msg("row %zu: rownum %d ncols %d, want %d %d", i, rn, n, rows[i].rownum, want);
        for (int c = 0; c < n; c++)
            if (strcmp(cells[c], rows[i].cells[c]) != 0)
                fail_msg("row %zu col %d: \"%s\" want \"%s\"", i, c, cells[c], rows[i].cells[c]);
    }
    int rc = table_next(r, &cells, &n, &rn, err, sizeof err);
    if (rc != 0)
        fail_msg("expected end of %s, rc=%d err=%s", path, rc, err);
    assert_int_equal(table_next(r, &cells, &n, &rn, err, sizeof err), 0);
    table_close(r);
}

/* Reads until the end or an error; returns the final rc, err filled. */
static int drain(const char *path, char *err, size_t cap, int *rows)
{
    table_reader *r = table_open(path, err, cap);
    *rows = 0;
    if (!r)
        return -2;
    const char *const *cells;
    int n, rn, rc;
    while ((rc = table_next(r, &cells, &n, &rn, err, cap)) == 1)
        (*rows)++;
    if (rc < 0) {
        /* Errors are sticky. */
        char again[512];
        assert_int_equal(table_next(r, &cells, &n, &rn, again, sizeof again), -1);
        assert_string_equal(again, err);
    }
    table_close(r);
    return rc;
}

static void expect_error(const char *path, const char *needle)
{
    char err[512] = "";
    int rows;
    int rc = drain(path, err, sizeof err, &rows);
    if (rc >= 0)
        fail_msg("%s: expected an error containing \"%s\", got rc=%d", path, needle, rc);
    if (!strstr(err, needle))
        fail_msg("%s: error \"%s\" lacks \"%s\"", path, err, needle);
}

/* ---- CSV --------------------------------------------------------------- */

static void test_csv_utf8(void **state)
{
    (void)state;
    const char *csv =
        "姓名,身份证号,备注\n"
        "张三,330482198001011234,\"有逗号,的备注\"\n"
        "李四,11010119900307123X,\"多行\n备注\"\n"
        "\n"                                   /* blank: skipped, counted */
        "王五,\"说\"\"你好\"\"\", 前后空格 \n"  /* "" escape; spaces kept */
        ",,\n"                                  /* only commas: skipped */
        "赵六,a\"b,\n"                          /* quote inside unquoted */
        "\"ab\"c,\"\",x";                       /* no final newline */
    const char *p = tpath("u8.csv");
    write_bytes(p, csv, strlen(csv));
    const struct erow rows[] = {
        {1, {"姓名", "身份证号", "备注"}},
        {2, {"张三", "330482198001011234", "有逗号,的备注"}},
        {3, {"李四", "11010119900307123X", "多行\n备注"}},
        {5, {"王五", "说\"你好\"", " 前后空格 "}},
        {7, {"赵六", "a\"b", ""}},
        {8, {"abc", "", "x"}},
    };
    expect_rows(p, "csv", "UTF-8", rows, sizeof rows / sizeof rows[0]);
}

static void test_csv_bom_crlf_cr(void **state)
{
    (void)state;
    const char *csv = "\xEF\xBB\xBF姓名,备注\r\n张三,\"第一行\r\n第二行\"\r\n\r\n李四,x\r\n";
    const char *p = tpath("bom.csv");
    write_bytes(p, csv, strlen(csv));
    const struct erow rows[] = {
        {1, {"姓名", "备注"}},
        {2, {"张三", "第一行\r\n第二行"}},
        {4, {"李四", "x"}},
    };
    expect_rows(p, "csv", "UTF-8", rows, 3);

    /* Old Mac line ends, and CR LF split so that LF starts the next read. */
    const char *cr = "a,b\rc,d\r\re,f";
    p = tpath("cr.csv");
    write_bytes(p, cr, strlen(cr));
    const struct erow crrows[] = {{1, {"a", "b"}}, {2, {"c", "d"}}, {4, {"e", "f"}}};
    expect_rows(p, "csv", "UTF-8", crrows, 3);
}

static void test_csv_gb18030(void **state)
{
    (void)state;
    /* 姓名,身份证号,备注 / 张三,…,“引号”€ / 李四,…,"退役军人,王五" / 😀𠀀 */
    static const char gb[] =
        "\xD0\xD5\xC3\xFB" "," "\xC9\xED\xB7\xDD\xD6\xA4\xBA\xC5" "," "\xB1\xB8\xD7\xA2" "\r\n"
        "\xD5\xC5\xC8\xFD" ",330482198001011234," "\xA1\xB0\xD2\xFD\xBA\xC5\xA1\xB1" "\xA2\xE3" "\r\n"
        "\xC0\xEE\xCB\xC4" ",11010119900307123X,\"" "\xCD\xCB\xD2\xDB\xBE\xFC\xC8\xCB" ","
        "\xCD\xF5\xCE\xE5" "\"\r\n"
        "\x94\x39\xFC\x36" "\x95\x32\x82\x36" "\r\n";
    const char *p = tpath("gb.csv");
    write_bytes(p, gb, sizeof gb - 1);
    const struct erow rows[] = {
        {1, {"姓名", "身份证号", "备注"}},
        {2, {"张三", "330482198001011234", "“引号”€"}},
        {3, {"李四", "11010119900307123X", "退役军人,王五"}},
        {4, {"😀𠀀"}},
    };
    expect_rows(p, "csv", "GB18030", rows, 4);
}

/* A GB18030 file whose two-byte characters straddle the 64 KiB read
 * boundary at both parities: the carried-over half must not be lost. */
static void test_csv_gb_chunk_boundary(void **state)
{
    (void)state;
    for (int shift = 0; shift < 2; shift++) {
        size_t cap = 200 * 1024, n = 0;
        char *buf = malloc(cap);
        assert_non_null(buf);
        memcpy(buf, "\xD0\xD5\xC3\xFB", 4);  /* 姓名 */
        n = 4;
        if (shift)
            buf[n++] = 'x';
        buf[n++] = '\n';
        int lines = 1;
        while (n < 150 * 1024) {
            /* 张三张三张三…(60 chars) */
            for (int i = 0; i < 30; i++) {
                memcpy(buf + n, "\xD5\xC5\xC8\xFD", 4);
                n += 4;
            }
            buf[n++] = '\n';
            lines++;
        }
        const char *p = tpath("gbb.csv");
        write_bytes(p, buf, n);
        free(buf);

        char err[512];
        table_reader *r = table_open(p, err, sizeof err);
        assert_non_null(r);
        assert_string_equal(table_encoding(r), "GB18030");
        const char *const *cells;
        int nc, rn, rc, count = 0;
        char want[256] = "";
        for (int i = 0; i < 30; i++)
            strcat(want, "张三");
        while ((rc = table_next(r, &cells, &nc, &rn, err, sizeof err)) == 1) {
            count++;
            assert_int_equal(nc, 1);
            if (rn > 1)
                assert_string_equal(cells[0], want);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(count, lines);
        table_close(r);
    }
}

/* The first 64 KiB are plain ASCII, the Chinese comes later: the guess is
 * made at the first non-ASCII byte, in both directions. */
static void test_csv_late_non_ascii(void **state)
{
    (void)state;
    for (int gb = 0; gb < 2; gb++) {
        size_t cap = 100 * 1024, n = 0;
        char *buf = malloc(cap);
        assert_non_null(buf);
        int lines = 0;
        while (n < 70 * 1024) {
            memcpy(buf + n, "1234567890,abcdefghij\n", 22);
            n += 22;
            lines++;
        }
        const char *tail = gb ? "\xD5\xC5\xC8\xFD,\xC0\xEE\xCB\xC4\n" : "张三,李四\n";
        memcpy(buf + n, tail, strlen(tail));
        n += strlen(tail);
        const char *p = tpath("late.csv");
        write_bytes(p, buf, n);
        free(buf);

        char err[512];
        table_reader *r = table_open(p, err, sizeof err);
        assert_non_null(r);
        const char *const *cells;
        int nc, rn, count = 0;
        while (table_next(r, &cells, &nc, &rn, err, sizeof err) == 1) {
            count++;
            if (count == lines + 1) {
                assert_string_equal(cells[0], "张三");
                assert_string_equal(cells[1], "李四");
            }
        }
        assert_int_equal(count, lines + 1);
        assert_string_equal(table_encoding(r), gb ? "GB18030" : "UTF-8");
        table_close(r);
    }
}

/* A UTF-8 character cut by the 64 KiB sample must not make it GB18030. */
static void test_csv_utf8_cut_sample(void **state)
{
    (void)state;
    size_t n = 0;
    char *buf = malloc(140 * 1024);
    assert_non_null(buf);
    memcpy(buf, "名", 3);
    n = 3;
    buf[n++] = 'x';  /* shifts 中 (3 bytes) to straddle 65536 */
    buf[n++] = '\n';
    while (n < 130 * 1024) {
        for (int i = 0; i < 20; i++) {
            memcpy(buf + n, "中", 3);
            n += 3;
        }
        buf[n++] = '\n';
    }
    const char *p = tpath("cut.csv");
    write_bytes(p, buf, n);
    free(buf);
    char err[512];
    table_reader *r = table_open(p, err, sizeof err);
    assert_non_null(r);
    assert_string_equal(table_encoding(r), "UTF-8");
    const char *const *cells;
    int nc, rn, rc;
    while ((rc = table_next(r, &cells, &nc, &rn, err, sizeof err)) == 1)
        if (rn > 1)
            assert_int_equal(strlen(cells[0]), 60);
    assert_int_equal(rc, 0);
    table_close(r);
}

static void test_csv_errors(void **state)
{
    (void)state;
    char err[512];
    const char *p;

    /* Field of 200 KiB on row 2. */
    size_t big = 200 * 1024;
    char *buf = malloc(big + 64);
    assert_non_null(buf);
    memcpy(buf, "a,b\nx,", 6);
    memset(buf + 6, 'y', big);
    memcpy(buf + 6 + big, "\n", 1);
    p = tpath("long.csv");
    write_bytes(p, buf, big + 7);
    expect_error(p, "第2行：字段过长");

    /* An unclosed quote swallows the rest: the message hints at it. */
    memcpy(buf, "a,b\nx,\"", 7);
    memset(buf + 7, 'y', big);
    write_bytes(p, buf, big + 7);
    expect_error(p, "引号");
    free(buf);

    p = tpath("unclosed.csv");
    write_bytes(p, "a,b\n\"abc,d\n", 11);
    expect_error(p, "第2行：引号没有配对");

    /* 600 columns. */
    char cols[2000] = "h\n";
    for (int i = 0; i < 600; i++)
        strcat(cols, "x,");
    strcat(cols, "\n");
    p = tpath("cols.csv");
    write_bytes(p, cols, strlen(cols));
    expect_error(p, "第2行：列数超过 512 列");

    /* BOM says UTF-8, a later row is GB: caught at that row. */
    p = tpath("mixed.csv");
    write_bytes(p, "\xEF\xBB\xBF" "a\n\xD5\xC5\n", 8);
    expect_error(p, "第2行：第1列含有无效的 UTF-8");

    /* Bytes that are neither UTF-8 nor GB18030 (0xFF is never valid). */
    p = tpath("junk.csv");
    write_bytes(p, "a,b\n\xD5\xC5,\xFF\xFF\n", 10);
    expect_error(p, "第2行：含有无法识别的字符");

    /* GB18030 text cut in the middle of its last character. */
    p = tpath("gbcut.csv");
    write_bytes(p, "\xD5\xC5\n\xD5", 4);
    expect_error(p, "不完整");

    p = tpath("empty.csv");
    write_bytes(p, "", 0);
    assert_null(table_open(p, err, sizeof err));
    assert_string_equal(err, "文件为空");

    p = tpath("nul.csv");
    write_bytes(p, "a,b\0c\n", 6);
    assert_null(table_open(p, err, sizeof err));
    assert_non_null(strstr(err, "文件不是有效的 .xlsx 或 .csv 文件"));

    p = tpath("u16.csv");
    write_bytes(p, "\xFF\xFE" "a\0,\0b\0", 8);
    assert_null(table_open(p, err, sizeof err));
    assert_non_null(strstr(err, "UTF-16"));

    p = tpath("old.xls");
    write_bytes(p, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
    assert_null(table_open(p, err, sizeof err));
    assert_non_null(strstr(err, ".xls"));

    assert_null(table_open(tpath("does-not-exist.csv"), err, sizeof err));
    assert_non_null(strstr(err, "无法打开文件"));

    /* A tiny err buffer cuts the message on a character boundary. */
    char small[8];
    assert_null(table_open(p, small, sizeof small));
    assert_string_equal(small, "文件");
    assert_null(table_open(p, NULL, 0));
}

/* ---- xlsx built by hand ------------------------------------------------ */

struct part {
    const char *name;
    const char *data;
};

static void write_zip(const char *path, const struct part *parts, size_t n)
{
    int e = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &e);
    assert_non_null(z);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *src = zip_source_buffer(z, parts[i].data, strlen(parts[i].data), 0);
        assert_non_null(src);
        assert_true(zip_file_add(z, parts[i].name, src, ZIP_FL_ENC_UTF_8) >= 0);
    }
    assert_int_equal(zip_close(z), 0);
}

static const char CT[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>";

static const char WB_RELS[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\n"
    "  <Relationship Id=\"rId9\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/other.xml\"/>\n"
    "  <Relationship Id=\"rId3\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"/xl/worksheets/./data.xml\"/>\n"
    "</Relationships>\n";

/* Styles: 0 General, 1 built-in 14 (date), 2 custom 年月日 (date),
 * 3 built-in 20 h:mm (time only), 4 custom "0.00" (number), 5 custom
 * [h]:mm:ss, 6 built-in 58 (Chinese m月d日). The dxfs numFmt must not be
 * taken for a cell format. */
static const char STYLES[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\n"
    " <numFmts count=\"3\">\n"
    "  <numFmt numFmtId=\"176\" formatCode=\"yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;\"/>\n"
    "  <numFmt numFmtId=\"177\" formatCode=\"0.00_);[Red]\\(0.00\\)\"/>\n"
    "  <numFmt numFmtId=\"178\" formatCode=\"[h]:mm:ss\"/>\n"
    " </numFmts>\n"
    " <cellStyleXfs count=\"1\"><xf numFmtId=\"14\"/></cellStyleXfs>\n"
    " <cellXfs count=\"7\">\n"
    "  <xf numFmtId=\"0\"/><xf numFmtId=\"14\" applyNumberFormat=\"1\"/>"
    "<xf numFmtId=\"176\"/><xf numFmtId=\"20\"/><xf numFmtId=\"177\"/><xf numFmtId=\"178\"/>"
    "<xf numFmtId=\"58\"/>\n"
    " </cellXfs>\n"
    " <dxfs count=\"1\"><dxf><numFmt numFmtId=\"177\" formatCode=\"yyyy-mm-dd\"/></dxf></dxfs>\n"
    "</styleSheet>\n";

static const char SST[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"6\" uniqueCount=\"6\">\n"
    " <si><t>姓名</t></si>\n"
    " <si><t>身份证号</t></si>\n"
    " <si><t xml:space=\"preserve\"> 张三 </t></si>\n"
    " <si><r><rPr><b/></rPr><t>退役</t></r><r><t>军人</t></r>"
    "<rPh sb=\"0\" eb=\"2\"><t>ツイエキ</t></rPh><phoneticPr fontId=\"1\"/></si>\n"
    " <si><t>第一行_x000D_\n第二行&amp;&lt;&gt;</t></si>\n"
    " <si><t/></si>\n"
    "</sst>\n";

static const char SHEET[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\n"
    " <dimension ref=\"A1:H9\"/>\n"
    " <sheetData>\n"
    "  <row r=\"1\" spans=\"1:3\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c>"
    "<c r=\"C1\" t=\"inlineStr\"><is><t>日期</t></is></c></row>\n"
    /* row 2: shared with spaces, ID as number, built-in date */
    "  <row r=\"2\"><c r=\"A2\" t=\"s\"><v> 2 </v></c><c r=\"B2\"><v>3.30482198001E+17</v></c>"
    "<c r=\"C2\" s=\"1\"><v>44260</v></c></row>\n"
    /* row 3 missing; row 4: rich shared string, skipped column, custom date
     * format with a time part, inline rich text with a phonetic run */
    "  <row r=\"4\"><c r=\"A4\" t=\"s\"><v>3</v></c><c r=\"C4\" s=\"2\"><v>44260.75</v></c>"
    "<c r=\"E4\" t=\"inlineStr\"><is><r><t>富</t></r><r><rPr><i/></rPr><t xml:space=\"preserve\">文本 </t></r>"
    "<rPh><t>フ</t></rPh></is></c></row>\n"
    /* row 5: only empty and styled cells: skipped */
    "  <row r=\"5\"><c r=\"A5\" s=\"1\"/><c r=\"B5\" t=\"s\"><v>5</v></c><c r=\"C5\" t=\"inlineStr\"><is><t></t></is></c></row>\n"
    /* row 6: no r attributes at all, numbers, bool, error, formula string */
    "  <row><c><v>20210305.0</v></c><c><v>3.5</v></c><c t=\"b\"><v>1</v></c><c t=\"e\"><v>#N/A</v></c>"
    "<c t=\"str\"><f>A1&amp;\"x\"</f><v>公式 结果</v></c><c s=\"4\"><v>12.50</v></c></row>\n"
    /* row 7: time-only formats stay numbers; Lotus leap day; Chinese built-in */
    "  <row r=\"7\"><c r=\"A7\" s=\"3\"><v>0.5</v></c><c r=\"B7\" s=\"5\"><v>1.25</v></c>"
    "<c r=\"C7\" s=\"1\"><v>60</v></c><c r=\"D7\" s=\"1\"><v>59</v></c><c r=\"E7\" s=\"1\"><v>61</v></c>"
    "<c r=\"F7\" s=\"6\"><v>1</v></c><c r=\"G7\" s=\"1\"><v>0</v></c><c r=\"H7\" s=\"99\"><v>44260</v></c></row>\n"
    /* row 8: cells out of the r sequence then one without r */
    "  <row r=\"8\"><c r=\"B8\" t=\"s\"><v>4</v></c><c><v>7</v></c></row>\n"
    "  <row r=\"9\"><c r=\"A9\" s=\"1\"><v>2958465</v></c><c r=\"B9\" s=\"1\"><v>-1</v></c>"
    "<c r=\"C9\" s=\"1\"><v>abc</v></c></row>\n"
    " </sheetData>\n"
    " <mergeCells count=\"1\"><mergeCell ref=\"A1:B1\"/></mergeCells>\n"
    "</worksheet>\n";

static void make_handmade(const char *path, bool date1904)
{
    char wb[1024];
    snprintf(wb, sizeof wb,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
             "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\n"
             " <workbookPr %s/>\n"
             " <sheets><sheet name=\"花名册\" sheetId=\"2\" r:id=\"rId3\"/>"
             "<sheet name=\"其他\" sheetId=\"1\" r:id=\"rId9\"/></sheets>\n"
             "</workbook>\n",
             date1904 ? "date1904=\"1\"" : "defaultThemeVersion=\"124226\"");
    const struct part parts[] = {
        {"[Content_Types].xml", CT},
        {"xl/workbook.xml", wb},
        {"xl/_rels/workbook.xml.rels", WB_RELS},
        {"xl/styles.xml", STYLES},
        {"xl/sharedStrings.xml", SST},
        {"xl/worksheets/data.xml", SHEET},
        {"xl/worksheets/other.xml", "<worksheet><sheetData><row r=\"1\"><c t=\"inlineStr\"><is><t>wrong sheet</t></is></c></row></sheetData></worksheet>"},
    };
    write_zip(path, parts, sizeof parts / sizeof parts[0]);
}

static void test_xlsx_handmade(void **state)
{
    (void)state;
    const char *p = tpath("hand.xlsx");
    make_handmade(p, false);
    const struct erow rows[] = {
        {1, {"姓名", "身份证号", "日期"}},
        {2, {" 张三 ", "3.30482198001E+17", "2021-03-05"}},
        {4, {"退役军人", "", "2021-03-05", "", "富文本 "}},
        {6, {"20210305", "3.5", "TRUE", "#N/A", "公式 结果", "12.50"}},
        {7, {"0.5", "1.25", "1900-02-29", "1900-02-28", "1900-03-01", "1900-01-01", "0", "44260"}},
        {8, {"", "第一行\r\n第二行&<>", "7"}},
        {9, {"9999-12-31", "-1", "abc"}},
    };
    expect_rows(p, "xlsx", "UTF-8", rows, sizeof rows / sizeof rows[0]);

    /* Same serials in the 1904 system are 1462 days later. */
    p = tpath("hand1904.xlsx");
    make_handmade(p, true);
    char err[512];
    table_reader *r = table_open(p, err, sizeof err);
    assert_non_null(r);
    const char *const *cells;
    int n, rn;
    assert_int_equal(table_next(r, &cells, &n, &rn, err, sizeof err), 1);
    assert_int_equal(table_next(r, &cells, &n, &rn, err, sizeof err), 1);
    assert_string_equal(cells[2], "2025-03-06");
    for (int i = 0; i < 3; i++)
        assert_int_equal(table_next(r, &cells, &n, &rn, err, sizeof err), 1);
    assert_int_equal(rn, 7);
    assert_string_equal(cells[2], "1904-03-01");
    assert_string_equal(cells[6], "1904-01-01");
    table_close(r);
}

/* Prefixed element names (x:row), no rels file, no styles, no sst. */
static void test_xlsx_minimal_prefixed(void **state)
{
    (void)state;
    const struct part parts[] = {
        {"xl/workbook.xml", "<x:workbook xmlns:x=\"urn:x\" xmlns:r=\"urn:r\"><x:sheets>"
                            "<x:sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></x:sheets></x:workbook>"},
        {"xl/worksheets/sheet1.xml",
         "<x:worksheet xmlns:x=\"urn:x\"><x:sheetData><x:row r=\"3\"><x:c r=\"B3\" t=\"inlineStr\">"
         "<x:is><x:t>乙</x:t></x:is></x:c></x:row></x:sheetData></x:worksheet>"},
    };
    const char *p = tpath("min.xlsx");
    write_zip(p, parts, 2);
    const struct erow rows[] = {{3, {"", "乙"}}};
    expect_rows(p, "xlsx", NULL, rows, 1);
}

static void test_xlsx_bad_structure(void **state)
{
    (void)state;
    char wb[] = "<workbook><sheets><sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";
    const char *p = tpath("bad.xlsx");

    /* A zip that is not an Excel workbook (e.g. a .docx or any archive). */
    const struct part docx[] = {{"word/document.xml", "<w:document/>"}};
    write_zip(p, docx, 1);
    expect_error(p, "文件不是有效的 .xlsx 或 .csv 文件");

    const struct part nosheet[] = {{"xl/workbook.xml", "<workbook><sheets/></workbook>"}};
    write_zip(p, nosheet, 1);
    expect_error(p, "工作表读取失败：工作簿中没有工作表");

    const struct part missing[] = {{"xl/workbook.xml", wb}};
    write_zip(p, missing, 1);
    expect_error(p, "工作表读取失败：压缩包中缺少 xl/worksheets/sheet1.xml");

    const struct part badxml[] = {
        {"xl/workbook.xml", wb},
        {"xl/worksheets/sheet1.xml",
         "<worksheet><sheetData><row r=\"1\"><c t=\"inlineStr\"><is><t>甲</t></is></c></row>"
         "<row r=\"2\"><c><v>1</v></c></rw></sheetData></worksheet>"},
    };
    write_zip(p, badxml, 2);
    int rows;
    char err[512];
    assert_int_equal(drain(p, err, sizeof err, &rows), -1);
    assert_int_equal(rows, 1);  /* the good row before the damage came out */
    assert_non_null(strstr(err, "工作表读取失败：xl/worksheets/sheet1.xml 的 XML 格式错误"));

    const struct part dtd[] = {
        {"xl/workbook.xml", "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><workbook/>"},
    };
    write_zip(p, dtd, 1);
    expect_error(p, "DTD");

    const struct part badidx[] = {
        {"xl/workbook.xml", wb},
        {"xl/worksheets/sheet1.xml",
         "<worksheet><sheetData><row r=\"1\"><c t=\"s\"><v>5</v></c></row></sheetData></worksheet>"},
    };
    write_zip(p, badidx, 2);
    expect_error(p, "共享字符串编号");

    const struct part wide[] = {
        {"xl/workbook.xml", wb},
        {"xl/worksheets/sheet1.xml",
         "<worksheet><sheetData><row r=\"1\"><c r=\"A1\"><v>1</v></c><c r=\"XFD1\"/></row>"
         "<row r=\"2\"><c r=\"TB2\"><v>1</v></c></row></sheetData></worksheet>"},
    };
    write_zip(p, wide, 2);
    expect_error(p, "第2行：列数超过 512 列（TB 列有内容）");

    const struct part badref[] = {
        {"xl/workbook.xml", wb},
        {"xl/worksheets/sheet1.xml",
         "<worksheet><sheetData><row r=\"1\"><c r=\"1A\"><v>1</v></c></row></sheetData></worksheet>"},
    };
    write_zip(p, badref, 2);
    expect_error(p, "单元格位置");

    const struct part chart[] = {
        {"xl/workbook.xml", wb},
        {"xl/_rels/workbook.xml.rels",
         "<Relationships><Relationship Id=\"rId1\" Type=\"http://x/relationships/chartsheet\" "
         "Target=\"chartsheets/sheet1.xml\"/></Relationships>"},
    };
    write_zip(p, chart, 2);
    expect_error(p, "图表");

    /* Deep nesting: expat's budget, not the server's memory, runs out. */
    size_t depth = 3 * 1000 * 1000;
    char *deep = malloc(depth * 3 + 200);
    assert_non_null(deep);
    strcpy(deep, "<worksheet><sheetData>");
    size_t o = strlen(deep);
    for (size_t i = 0; i < depth; i++, o += 3)
        memcpy(deep + o, "<a>", 3);
    deep[o] = '\0';
    const struct part nest[] = {{"xl/workbook.xml", wb}, {"xl/worksheets/sheet1.xml", deep}};
    write_zip(p, nest, 2);
    free(deep);
    expect_error(p, "结构异常");
}

/* Shared strings beyond the 64 MiB budget fail with a clear message. The
 * zip is written from a generated source so the test needs little disk. */
struct gen {
    zip_uint64_t pos, total;
};

/* sharedStrings.xml of 100-byte <si> elements holding 84 bytes of text
 * each: 85 bytes (with the NUL) plus a 4-byte offset per string, so the
 * 64 MiB budget is reached at about 71.9 MiB of XML. */
static zip_int64_t big_sst_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    struct gen *g = ud;
    zip_uint64_t *pos = &g->pos;
    const zip_uint64_t body = g->total / 100 * 100, total = 5 + body + 6;
    static char si[101];
    if (!si[0]) {
        memcpy(si, "<si><t>", 7);
        memset(si + 7, 'x', 84);
        memcpy(si + 91, "</t></si>", 9);
    }
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        *pos = 0;
        return 0;
    case ZIP_SOURCE_READ: {
        char *d = data;
        zip_uint64_t n = 0;
        while (n < len && *pos < total) {
            if (*pos < 5)
                d[n] = "<sst>"[*pos];
            else if (*pos < 5 + body)
                d[n] = si[(*pos - 5) % 100];
            else
                d[n] = "</sst>"[*pos - 5 - body];
            n++, (*pos)++;
        }
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;
        zip_stat_init(st);
        st->size = total;
        st->valid |= ZIP_STAT_SIZE;
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        memset(data, 0, 2 * sizeof(int));
        return 2 * sizeof(int);
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    default:
        return -1;
    }
}

static void test_xlsx_sst_cap(void **state)
{
    (void)state;
    const char *p = tpath("bigsst.xlsx");
    const char *wb = "<workbook><sheets><sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";
    for (int over = 0; over < 2; over++) {
        int e = 0;
        struct gen g = {0, (over ? 73ull : 70ull) * 1024 * 1024};
        zip_t *z = zip_open(p, ZIP_CREATE | ZIP_TRUNCATE, &e);
        assert_non_null(z);
        zip_source_t *s1 = zip_source_buffer(z, wb, strlen(wb), 0);
        assert_true(zip_file_add(z, "xl/workbook.xml", s1, 0) >= 0);
        zip_source_t *s2 = zip_source_function(z, big_sst_cb, &g);
        assert_non_null(s2);
        assert_true(zip_file_add(z, "xl/sharedStrings.xml", s2, 0) >= 0);
        assert_int_equal(zip_close(z), 0);
        char err[512];
        reset_hwm();
        long before = vm_kib("VmHWM");
        assert_null(table_open(p, err, sizeof err));
        printf("[ RSS      ] shared strings %s the budget: VmHWM growth %ld KiB\n",
               over ? "over" : "under", vm_kib("VmHWM") - before);
        /* Just under the budget the table loads (and the missing sheet is
         * what fails); just over, the budget message. */
        const char *want = over ? "共享字符串表过大（超过 64 MiB）" : "压缩包中缺少 xl/worksheets/sheet1.xml";
        if (!strstr(err, want))
            fail_msg("%s", err);
    }
}

/* ---- xlsx written by libxlsxwriter ------------------------------------ */

/* Shared strings (normal mode) and inline strings (constant_memory) with a
 * real date cell each; the reader must give the same rows for both. */
static void test_xlsx_from_libxlsxwriter(void **state)
{
    (void)state;
    for (int cm = 0; cm < 2; cm++) {
        const char *p = tpath(cm ? "lxw_cm.xlsx" : "lxw_sst.xlsx");
        lxw_workbook_options opt = {.constant_memory = (uint8_t)cm};
        lxw_workbook *wb = workbook_new_opt(p, &opt);
        assert_non_null(wb);
        lxw_worksheet *ws = workbook_add_worksheet(wb, "名单");
        lxw_worksheet *ws2 = workbook_add_worksheet(wb, "第二页");
        lxw_format *datef = workbook_add_format(wb);
        format_set_num_format(datef, "yyyy-mm-dd");
        lxw_format *cnf = workbook_add_format(wb);
        format_set_num_format(cnf, "yyyy\"年\"m\"月\"d\"日\"");
        worksheet_write_string(ws, 0, 0, "姓名", NULL);
        worksheet_write_string(ws, 0, 1, "入伍日期", NULL);
        worksheet_write_string(ws, 0, 2, "金额", NULL);
        worksheet_write_string(ws, 1, 0, "张三", NULL);
        lxw_datetime dt = {2021, 3, 5, 0, 0, 0};
        worksheet_write_datetime(ws, 1, 1, &dt, datef);
        worksheet_write_number(ws, 1, 2, 1234.5, NULL);
        worksheet_write_string(ws, 2, 0, "张三", NULL);  /* repeated string */
        worksheet_write_number(ws, 2, 1, 36526, cnf);   /* 2000-01-01 */
        worksheet_write_number(ws, 2, 2, 20210305, NULL);
        worksheet_write_string(ws, 3, 3, "换行\n文本\t制表", NULL);
        worksheet_write_string(ws2, 0, 0, "不应读到", NULL);
        assert_int_equal(workbook_close(wb), LXW_NO_ERROR);

        const struct erow rows[] = {
            {1, {"姓名", "入伍日期", "金额"}},
            {2, {"张三", "2021-03-05", "1234.5"}},
            {3, {"张三", "2000-01-01", "20210305"}},
            {4, {"", "", "", "换行\n文本\t制表"}},
        };
        expect_rows(p, "xlsx", "UTF-8", rows, 4);

        /* Prove the two files really differ in the way we meant. */
        int e;
        zip_t *z = zip_open(p, ZIP_RDONLY, &e);
        assert_non_null(z);
        if (cm)
            assert_true(zip_name_locate(z, "xl/sharedStrings.xml", 0) < 0);
        else
            assert_true(zip_name_locate(z, "xl/sharedStrings.xml", 0) >= 0);
        zip_discard(z);
    }
}

/* Cut and scribbled-over copies of a valid file: every one must end in a
 * row count or an error, never a crash (run under valgrind/ASan too). */
static void test_xlsx_corrupt(void **state)
{
    (void)state;
    const char *good = tpath("good.xlsx");
    xlsx_out *x = xlsx_out_open_ex(good, "S", false);
    assert_non_null(x);
    const char *h[] = {"姓名", "身份证号"};
    assert_int_equal(xlsx_out_header(x, h, 2, NULL), 0);
    char name[32], id[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "人员%d", i);
        snprintf(id, sizeof id, "3304821980%08d", i);
        const char *c[] = {name, id};
        assert_int_equal(xlsx_out_row(x, c, 2, NULL), 0);
    }
    assert_int_equal(xlsx_out_close(x), 0);

    FILE *f = fopen(good, "rb");
    assert_non_null(f);
    static unsigned char data[1 << 20];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    assert_true(n > 1000 && n < sizeof data);

    char err[512];
    int rows;
    assert_int_equal(drain(good, err, sizeof err, &rows), 0);
    assert_int_equal(rows, 301);

    const char *p = tpath("corrupt.xlsx");
    int errors = 0;
    for (size_t cut = 4; cut < n; cut += 211) {
        write_bytes(p, data, cut);
        if (drain(p, err, sizeof err, &rows) < 0) {
            errors++;
            assert_true(err[0] != '\0');
        }
    }
    assert_true(errors > 0);
    write_bytes(p, data, n / 2);
    assert_null(table_open(p, err, sizeof err));
    assert_non_null(strstr(err, "文件不是有效的 .xlsx 或 .csv 文件"));

    /* Overwrite bytes in the middle (compressed data, headers, directory). */
    srand(12345);
    for (int iter = 0; iter < 300; iter++) {
        unsigned char *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, data, n);
        int hits = 1 + rand() % 8;
        for (int k = 0; k < hits; k++)
            copy[4 + (size_t)rand() % (n - 4)] = (unsigned char)rand();
        write_bytes(p, copy, n);
        free(copy);
        int rc = drain(p, err, sizeof err, &rows);
        assert_true(rc == 0 || rc == -1 || rc == -2);
        if (rc != 0)
            assert_true(err[0] != '\0');
    }
}

/* ---- 200 000 rows, constant memory ------------------------------------ */

/* ASan keeps freed blocks in quarantine (256 MiB by default), so RSS says
 * nothing about our memory use there; the figures are still printed. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static long vm_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = strtol(line + kl + 1, NULL, 10);
    fclose(f);
    return v;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0) so the peak measured is
 * the one of the code under test, not of earlier tests (the 64 MiB shared
 * string test in particular). */
static bool reset_hwm(void)
{
    /* Hand free heap back first, or reuse of pages made resident by an
     * earlier test would hide growth. */
    malloc_trim(0);
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

static int big_rows(void)
{
    const char *e = getenv("VETS_IO_BIG_ROWS");
    return e && atoi(e) > 0 ? atoi(e) : 200000;
}

static void check_big(const char *path, int nrows, const char *what)
{
    char err[512];
    bool reset = reset_hwm();
    long before = vm_kib("VmHWM");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    table_reader *r = table_open(path, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    const char *const *cells;
    int n, rn, rc, count = 0;
    char want[64];
    while ((rc = table_next(r, &cells, &n, &rn, err, sizeof err)) == 1) {
        count++;
        assert_int_equal(rn, count);
        if (count > 1 && count % 9973 == 0) {
            snprintf(want, sizeof want, "33048219800101%04d", count % 10000);
            assert_int_equal(n, 5);
            assert_string_equal(cells[1], want);
        }
    }
    if (rc != 0)
        fail_msg("%s: %s", what, err);
    table_close(r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long after = vm_kib("VmHWM");
    assert_int_equal(count, nrows + 1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("[ RSS      ] %s: %d rows in %.2f s, VmHWM %ld -> %ld KiB (growth %ld KiB%s)\n", what,
           count, secs, before, after, after - before, reset ? "" : ", HWM not resettable");
    assert_true(before > 0 && after > 0);
    if (!SANITIZED)
        assert_true(after - before < 64 * 1024);
}

static void test_big_csv(void **state)
{
    (void)state;
    int nrows = big_rows();
    const char *p = tpath("big.csv");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("\xEF\xBB\xBF序号,身份证号,姓名,地址,备注\r\n", f);
    for (int i = 1; i <= nrows; i++)
        fprintf(f, "%d,33048219800101%04d,退役军人%d,\"浙江省嘉兴市海宁市, %d 号\",\"多\"\"引号\"\"\n第二行\"\r\n",
                i, (i + 1) % 10000, i, i);
    assert_int_equal(fclose(f), 0);
    check_big(p, nrows, "csv");
}

static void test_big_xlsx(void **state)
{
    (void)state;
    int nrows = big_rows();
    const char *p = tpath("big.xlsx");
    bool reset = reset_hwm();
    long before = vm_kib("VmHWM");
    xlsx_out *x = xlsx_out_open(p, "数据");
    assert_non_null(x);
    const char *h[] = {"序号", "身份证号", "姓名", "地址", "备注"};
    assert_int_equal(xlsx_out_header(x, h, 5, NULL), 0);
    char c0[16], c1[32], c2[32], c3[64];
    for (int i = 1; i <= nrows; i++) {
        snprintf(c0, sizeof c0, "%d", i);
        snprintf(c1, sizeof c1, "33048219800101%04d", (i + 1) % 10000);
        snprintf(c2, sizeof c2, "退役军人%d", i);
        snprintf(c3, sizeof c3, "浙江省嘉兴市海宁市 %d 号", i);
        const char *c[] = {c0, c1, c2, c3, "多行\n备注"};
        assert_int_equal(xlsx_out_row(x, c, 5, NULL), 0);
    }
    assert_int_equal(xlsx_out_close(x), 0);
    long after = vm_kib("VmHWM");
    printf("[ RSS      ] xlsx write: %d rows, VmHWM %ld -> %ld KiB (growth %ld KiB%s)\n", nrows,
           before, after, after - before, reset ? "" : ", HWM not resettable");
    if (!SANITIZED)
        assert_true(after - before < 64 * 1024);
    check_big(p, nrows, "xlsx");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_utf8),
        cmocka_unit_test(test_csv_bom_crlf_cr),
        cmocka_unit_test(test_csv_gb18030),
        cmocka_unit_test(test_csv_gb_chunk_boundary),
        cmocka_unit_test(test_csv_late_non_ascii),
        cmocka_unit_test(test_csv_utf8_cut_sample),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_xlsx_handmade),
        cmocka_unit_test(test_xlsx_minimal_prefixed),
        cmocka_unit_test(test_xlsx_bad_structure),
        cmocka_unit_test(test_xlsx_sst_cap),
        cmocka_unit_test(test_xlsx_from_libxlsxwriter),
        cmocka_unit_test(test_xlsx_corrupt),
        cmocka_unit_test(test_big_csv),
        cmocka_unit_test(test_big_xlsx),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
