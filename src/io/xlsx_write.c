/* .xlsx output for staff (exports, import templates, error reports) on top
 * of libxlsxwriter. Every cell is written as text and every column gets the
 * text number format "@", so ID numbers (18 digits) never turn into
 * 3.30482E+17, neither when we write them nor when staff type into a
 * template. Cells with a validation message get a red fill and the message
 * as a cell comment.
 *
 * Memory: xlsx_out_open() uses libxlsxwriter's constant_memory mode, as the
 * header promises. Its documented limits (rows written strictly in order, no
 * merged ranges) do not touch us; cell comments do work in that mode with
 * the libxlsxwriter of Debian 12 (1.1.4: comments are kept in their own
 * list, not in the flushed row), and the tests check that comments1.xml
 * carries them in both modes. Only the comments themselves are held in memory, one per
 * flagged cell. xlsx_out_open_ex(..., false) exists for callers that want a
 * shared-string table (smaller files for very repetitive data) or some day
 * need features constant_memory lacks; it keeps the whole sheet in memory. */
#include "io/xlsx_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define DEFAULT_WIDTH 14.0
#define HEADER_FILL 0xDDEBF7  /* light blue */
#define ERROR_FILL 0xFFC7CE   /* Excel's own "Bad" style */
#define ERROR_FONT 0x9C0006

struct xlsx_out {
    char *path;
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *fmt_header, *fmt_text, *fmt_error, *fmt_note;
    lxw_row_t next_row;   /* row the next xlsx_out_row() writes */
    int header_cols;      /* 0 until xlsx_out_header() */
};

/* libxlsxwriter (1.1.4 in Debian 12) opens the output only in
 * workbook_close(), and when that fails it leaks the temp FILE (and its
 * descriptor) of every constant_memory worksheet: fatal over time for a
 * server. So whether the path can be created is checked up front, and if it
 * stops being creatable before close, the workbook is discarded here with
 * the temp files closed by hand (the fields are public in worksheet.h). */
static bool can_create(const char *path)
{
    FILE *f = fopen(path, "ab");  /* "a": never truncates a file in use */
    if (!f)
        return false;
    return fclose(f) == 0;
}

static void discard_workbook(lxw_workbook *wb)
{
    lxw_worksheet *ws;
    STAILQ_FOREACH(ws, wb->worksheets, list_pointers) {
        if (ws->optimize_tmpfile) {
            fclose(ws->optimize_tmpfile);
            ws->optimize_tmpfile = NULL;
        }
    }
    lxw_workbook_free(wb);
}

xlsx_out *xlsx_out_open_ex(const char *path, const char *sheet_name, bool constant_memory)
{
    xlsx_out *x = NULL;
    bool existed;
    lxw_workbook_options opt = {.constant_memory = constant_memory ? LXW_TRUE : LXW_FALSE,
                                .tmpdir = NULL,
                                .use_zip64 = LXW_FALSE};
    if (!path)
        return NULL;
    existed = access(path, F_OK) == 0;
    if (!can_create(path))
        return NULL;
    x = calloc(1, sizeof *x);
    if (!x)
        goto fail;
    x->path = strdup(path);
    if (!x->path)
        goto fail;
    x->wb = workbook_new_opt(path, &opt);
    if (!x->wb)
        goto fail;
    /* NULL name → "Sheet1"; an invalid name (too long, []:*?/\) → NULL. */
    x->ws = workbook_add_worksheet(x->wb, sheet_name && *sheet_name ? sheet_name : NULL);
    if (!x->ws)
        goto fail;
    x->fmt_header = workbook_add_format(x->wb);
    x->fmt_text = workbook_add_format(x->wb);
    x->fmt_error = workbook_add_format(x->wb);
    x->fmt_note = workbook_add_format(x->wb);
    if (!x->fmt_header || !x->fmt_text || !x->fmt_error || !x->fmt_note)
        goto fail;
    format_set_bold(x->fmt_header);
    format_set_bg_color(x->fmt_header, HEADER_FILL);
    format_set_border(x->fmt_header, LXW_BORDER_THIN);
    format_set_align(x->fmt_header, LXW_ALIGN_CENTER);
    format_set_align(x->fmt_header, LXW_ALIGN_VERTICAL_CENTER);
    format_set_num_format(x->fmt_header, "@");
    format_set_num_format(x->fmt_text, "@");
    format_set_num_format(x->fmt_error, "@");
    format_set_bg_color(x->fmt_error, ERROR_FILL);
    format_set_font_color(x->fmt_error, ERROR_FONT);
    format_set_num_format(x->fmt_note, "@");
    format_set_text_wrap(x->fmt_note);
    format_set_align(x->fmt_note, LXW_ALIGN_VERTICAL_TOP);
    worksheet_set_comments_author(x->ws, "系统校验");
    return x;

fail:
    if (x && x->wb)
        discard_workbook(x->wb);  /* frees without writing a file */
    if (x)
        free(x->path);
    free(x);
    if (!existed)
        unlink(path);  /* the empty file left by can_create() */
    return NULL;
}

xlsx_out *xlsx_out_open(const char *path, const char *sheet_name)
{
    return xlsx_out_open_ex(path, sheet_name, true);
}

int xlsx_out_header(xlsx_out *x, const char *const *names, int n, const double *widths)
{
    int rc = 0;
    if (!x || n < 0 || n > LXW_COL_MAX || (n > 0 && !names) || x->next_row != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        double w = widths && widths[i] > 0 ? widths[i] : DEFAULT_WIDTH;
        /* The column's own format is text too, so what staff type into
         * empty cells of a template stays text. */
        if (worksheet_set_column(x->ws, (lxw_col_t)i, (lxw_col_t)i, w, x->fmt_text) != LXW_NO_ERROR)
            rc = -1;
        if (worksheet_write_string(x->ws, 0, (lxw_col_t)i, names[i] ? names[i] : "",
                                   x->fmt_header) != LXW_NO_ERROR)
            rc = -1;
    }
    worksheet_freeze_panes(x->ws, 1, 0);
    x->header_cols = n;
    x->next_row = 1;
    return rc;
}

int xlsx_out_row(xlsx_out *x, const char *const *cells, int n, const char *const *err_msgs)
{
    int rc = 0;
    if (!x || n < 0 || n > LXW_COL_MAX || (n > 0 && !cells) || x->next_row >= LXW_ROW_MAX)
        return -1;
    lxw_row_t row = x->next_row++;
    for (int i = 0; i < n; i++) {
        const char *s = cells[i] ? cells[i] : "";
        const char *msg = err_msgs && err_msgs[i] && *err_msgs[i] ? err_msgs[i] : NULL;
        /* Empty cells are skipped: the column format already says text. An
         * empty flagged cell is written blank so it still shows red. */
        if (!*s && !msg)
            continue;
        if (worksheet_write_string(x->ws, row, (lxw_col_t)i, s,
                                   msg ? x->fmt_error : x->fmt_text) != LXW_NO_ERROR)
            rc = -1;
        if (msg) {
            lxw_comment_options co = {.x_scale = 2.0, .y_scale = 1.5};
            if (worksheet_write_comment_opt(x->ws, row, (lxw_col_t)i, msg, &co) != LXW_NO_ERROR)
                rc = -1;
        }
    }
    return rc;
}

int xlsx_out_notes(xlsx_out *x, const char *sheet_name, const char *const *lines, int n)
{
    int rc = 0;
    if (!x || n < 0 || (n > 0 && !lines) || n > LXW_ROW_MAX)
        return -1;
    lxw_worksheet *ws = workbook_add_worksheet(x->wb, sheet_name && *sheet_name ? sheet_name : NULL);
    if (!ws)
        return -1;
    if (worksheet_set_column(ws, 0, 0, 100.0, x->fmt_note) != LXW_NO_ERROR)
        rc = -1;
    for (int i = 0; i < n; i++) {
        if (lines[i] && *lines[i] &&
            worksheet_write_string(ws, (lxw_row_t)i, 0, lines[i], x->fmt_note) != LXW_NO_ERROR)
            rc = -1;
    }
    return rc;
}

int xlsx_out_close(xlsx_out *x)
{
    if (!x)
        return -1;
    int rc = 0;
    if (x->header_cols > 0) {
        /* Set last because the range must cover every row written. */
        if (worksheet_autofilter(x->ws, 0, 0, x->next_row - 1,
                                 (lxw_col_t)(x->header_cols - 1)) != LXW_NO_ERROR)
            rc = -1;
    }
    if (!can_create(x->path)) {
        discard_workbook(x->wb);
        rc = -1;
    } else if (workbook_close(x->wb) != LXW_NO_ERROR) {
        /* workbook_close frees the workbook whether or not writing worked. */
        rc = -1;
    }
    free(x->path);
    free(x);
    return rc;
}
