/* Entry points of the spreadsheet reader (see table_read.h): sniffs the
 * format from the first bytes, hands the work to the csv or xlsx back end,
 * and owns the row buffer both back ends fill. Errors are sticky: once a
 * file has proved broken every later table_next() repeats the message, so a
 * caller that ignores one -1 cannot read past the damage. */
#include "io/table_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/table_internal.h"

enum tr_kind { TR_CSV, TR_XLSX };

struct table_reader {
    enum tr_kind kind;
    struct tr_csv *csv;
    struct tr_xlsx *xlsx;
    struct tr_row row;
    bool failed;
    char err[TR_ERR_MAX];
};

/* ---- error text ------------------------------------------------------- */

void tr_vseterr(char *dst, size_t cap, const char *fmt, va_list ap)
{
    if (!dst || cap == 0)
        return;
    int n = vsnprintf(dst, cap, fmt, ap);
    if (n < 0) {
        dst[0] = '\0';
        return;
    }
    if ((size_t)n >= cap) {
        /* Cut: drop a trailing partial UTF-8 sequence. */
        size_t len = cap - 1;
        size_t i = len;
        while (i > 0 && ((unsigned char)dst[i - 1] & 0xC0) == 0x80)
            i--;
        if (i > 0) {
            unsigned char lead = (unsigned char)dst[i - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (len - (i - 1) < need)
                len = i - 1;
        }
        dst[len] = '\0';
    }
}

void tr_seterr(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tr_vseterr(dst, cap, fmt, ap);
    va_end(ap);
}

/* ---- row buffer ------------------------------------------------------- */

int tr_row_init(struct tr_row *row)
{
    memset(row, 0, sizeof *row);
    row->cap = 4096;
    row->buf = malloc(row->cap);
    if (!row->buf)
        return -1;
    for (int i = 0; i < TR_MAX_COLS; i++)
        row->off[i] = -1;
    return 0;
}

void tr_row_free(struct tr_row *row)
{
    free(row->buf);
    row->buf = NULL;
    row->len = row->cap = 0;
}

void tr_row_clear(struct tr_row *row)
{
    for (int i = 0; i < row->touched; i++)
        row->off[i] = -1;
    row->touched = 0;
    row->len = 0;
    row->cell_start = 0;
}

void tr_row_cell_begin(struct tr_row *row)
{
    row->cell_start = row->len;
}

static int row_reserve(struct tr_row *row, size_t extra)
{
    if (extra > TR_ROW_MAX || row->len + extra > TR_ROW_MAX)
        return -1;
    if (row->len + extra <= row->cap)
        return 0;
    size_t cap = row->cap;
    while (cap < row->len + extra)
        cap *= 2;
    /* The cap above is a power of two times 4 KiB, so it never overshoots
     * TR_ROW_MAX (+1 for the NUL) by more than a factor of two. */
    char *nb = realloc(row->buf, cap);
    if (!nb)
        return -1;
    row->buf = nb;
    row->cap = cap;
    return 0;
}

int tr_row_put(struct tr_row *row, const char *s, size_t n)
{
    if (row_reserve(row, n) < 0)
        return -1;
    memcpy(row->buf + row->len, s, n);
    row->len += n;
    return 0;
}

int tr_row_cell_end(struct tr_row *row, int col)
{
    if (col < 0 || col >= TR_MAX_COLS)
        return -1;
    if (row_reserve(row, 1) < 0)
        return -1;
    row->buf[row->len++] = '\0';
    row->off[col] = (int)row->cell_start;
    if (col >= row->touched)
        row->touched = col + 1;
    row->cell_start = row->len;
    return 0;
}

void tr_row_finish(struct tr_row *row, int ncols)
{
    for (int i = 0; i < ncols && i < TR_MAX_COLS; i++)
        row->cells[i] = (i < row->touched && row->off[i] >= 0) ? row->buf + row->off[i] : "";
}

int tr_row_last_text_col(const struct tr_row *row)
{
    for (int i = row->touched; i > 0; i--)
        if (row->off[i - 1] >= 0 && row->buf[row->off[i - 1]] != '\0')
            return i;
    return 0;
}

bool tr_row_has_text(const struct tr_row *row)
{
    return tr_row_last_text_col(row) > 0;
}

/* ---- public API ------------------------------------------------------- */

table_reader *table_open(const char *path, char *err, size_t errcap)
{
    char msg[TR_ERR_MAX] = "";
    table_reader *r = NULL;
    unsigned char magic[4];
    size_t got;
    FILE *f;

    if (!path) {
        tr_seterr(msg, sizeof msg, "文件不是有效的 .xlsx 或 .csv 文件");
        goto fail;
    }
    f = fopen(path, "rb");
    if (!f) {
        tr_seterr(msg, sizeof msg, "无法打开文件：%s", strerror(errno));
        goto fail;
    }
    got = fread(magic, 1, sizeof magic, f);
    fclose(f);

    r = calloc(1, sizeof *r);
    if (!r || tr_row_init(&r->row) < 0) {
        tr_seterr(msg, sizeof msg, "内存不足，无法读取文件");
        goto fail;
    }
    if (got == 4 && memcmp(magic, "PK\x03\x04", 4) == 0) {
        r->kind = TR_XLSX;
        r->xlsx = tr_xlsx_open(path, msg);
        if (!r->xlsx)
            goto fail;
    } else if (got == 4 && memcmp(magic, "\xD0\xCF\x11\xE0", 4) == 0) {
        /* OLE compound file: Excel 97-2003 .xls, or an .xlsx with a
         * password (Excel wraps those in OLE too). */
        tr_seterr(msg, sizeof msg,
                  "文件不是有效的 .xlsx 或 .csv 文件：这是旧版 .xls 或设置了密码的 Excel 文件，"
                  "请在 Excel 中取消密码并另存为 .xlsx 后再导入");
        goto fail;
    } else {
        r->kind = TR_CSV;
        r->csv = tr_csv_open(path, msg);
        if (!r->csv)
            goto fail;
    }
    return r;

fail:
    tr_seterr(err, errcap, "%s", msg);
    if (r) {
        tr_row_free(&r->row);
        free(r);
    }
    return NULL;
}

const char *table_format(const table_reader *r)
{
    return r && r->kind == TR_XLSX ? "xlsx" : "csv";
}

const char *table_encoding(const table_reader *r)
{
    /* An .xlsx is XML, which expat hands over as UTF-8 whatever it declares. */
    return r && r->kind == TR_CSV ? tr_csv_encoding(r->csv) : "UTF-8";
}

int table_next(table_reader *r, const char *const **cells, int *ncols, int *rownum,
               char *err, size_t errcap)
{
    int n = 0, rn = 0, rc;

    if (!r) {
        tr_seterr(err, errcap, "文件不是有效的 .xlsx 或 .csv 文件");
        return -1;
    }
    if (r->failed) {
        tr_seterr(err, errcap, "%s", r->err);
        return -1;
    }
    if (r->kind == TR_XLSX)
        rc = tr_xlsx_next(r->xlsx, &r->row, &n, &rn, r->err);
    else
        rc = tr_csv_next(r->csv, &r->row, &n, &rn, r->err);
    if (rc < 0) {
        r->failed = true;
        if (!r->err[0])
            tr_seterr(r->err, sizeof r->err, "文件不是有效的 .xlsx 或 .csv 文件");
        tr_seterr(err, errcap, "%s", r->err);
        return -1;
    }
    if (rc == 0) {
        if (cells)
            *cells = NULL;
        if (ncols)
            *ncols = 0;
        return 0;
    }
    tr_row_finish(&r->row, n);
    if (cells)
        *cells = r->row.cells;
    if (ncols)
        *ncols = n;
    if (rownum)
        *rownum = rn;
    return 1;
}

void table_close(table_reader *r)
{
    if (!r)
        return;
    if (r->xlsx)
        tr_xlsx_close(r->xlsx);
    if (r->csv)
        tr_csv_close(r->csv);
    tr_row_free(&r->row);
    free(r);
}
