/* Writing .xlsx for staff: a styled header row, frozen panes, column widths,
 * cells flagged as errors in red with a comment. Built on libxlsxwriter in
 * constant-memory mode so exports of a million rows stay small. */
#ifndef VETS_IO_XLSX_WRITE_H
#define VETS_IO_XLSX_WRITE_H
#include <stdbool.h>

typedef struct xlsx_out xlsx_out;

xlsx_out *xlsx_out_open(const char *path, const char *sheet_name);
/* Same with the memory mode chosen: xlsx_out_open() is constant_memory=true
 * (cell comments work in that mode too). false keeps the whole sheet in
 * memory and writes a shared-string table; use it only for small files. */
xlsx_out *xlsx_out_open_ex(const char *path, const char *sheet_name, bool constant_memory);
/* widths may be NULL (a default of 14 is used). */
int  xlsx_out_header(xlsx_out *x, const char *const *names, int n, const double *widths);
/* err_msgs may be NULL; a non-NULL, non-empty err_msgs[i] paints cell i red
 * and attaches the message as the cell's comment. Cells are written as text. */
int  xlsx_out_row(xlsx_out *x, const char *const *cells, int n, const char *const *err_msgs);
/* A second sheet with free text lines (e.g. 填写说明 in templates). */
int  xlsx_out_notes(xlsx_out *x, const char *sheet_name, const char *const *lines, int n);
/* Finishes the file; returns 0 on success. Frees x in all cases. */
int  xlsx_out_close(xlsx_out *x);
#endif
