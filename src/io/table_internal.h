/* Private glue between table_read.c (the public entry points) and the two
 * format back ends, table_csv.c and table_xlsx.c. Not for use outside
 * src/io: the row buffer and the limits below are implementation details.
 * Every symbol here is prefixed tr_ because the whole of src/ is linked into
 * one static library. */
#ifndef VETS_IO_TABLE_INTERNAL_H
#define VETS_IO_TABLE_INTERNAL_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Limits that keep memory bounded whatever the upload contains. A field of
 * 128 KiB holds Excel's own maximum of 32 767 characters even at 4 bytes per
 * character; 512 columns is far beyond any roster we import; a whole row is
 * capped separately so 512 maximal fields cannot add up to 64 MiB. */
#define TR_FIELD_MAX (128u * 1024u)
#define TR_MAX_COLS 512
#define TR_ROW_MAX (4u * 1024u * 1024u)
/* sharedStrings.xml is the only part of an .xlsx read wholly into memory. */
#define TR_SST_MAX (64u * 1024u * 1024u)
/* What all expat parsers of the process may allocate together (buffers for
 * one huge tag, deep nesting); a well-formed worksheet needs a few hundred
 * KiB per reader, so concurrent imports are far from it. */
#define TR_XML_HEAP_MAX (128u * 1024u * 1024u)
#define TR_ERR_MAX 512

/* One row being assembled: cell text lives in buf, off[] holds the offset of
 * each column's text or -1 for an empty column, and cells[] is rebuilt from
 * them when the row is handed out (buf may move while it grows). */
struct tr_row {
    char *buf;
    size_t len, cap;
    size_t cell_start;  /* offset where the cell being written began */
    int off[TR_MAX_COLS];
    int touched;        /* columns [0, touched) may have off[] >= 0 */
    const char *cells[TR_MAX_COLS];
};

int  tr_row_init(struct tr_row *row);
void tr_row_free(struct tr_row *row);
void tr_row_clear(struct tr_row *row);
void tr_row_cell_begin(struct tr_row *row);
/* Both return -1 when the row would exceed TR_ROW_MAX (or malloc fails). */
int  tr_row_put(struct tr_row *row, const char *s, size_t n);
int  tr_row_cell_end(struct tr_row *row, int col);
/* Fills cells[0..ncols) ("" for unset columns). */
void tr_row_finish(struct tr_row *row, int ncols);
/* True when some column of the row holds a non-empty text. */
bool tr_row_has_text(const struct tr_row *row);
/* 1 + the highest column holding a non-empty text, 0 for none. */
int  tr_row_last_text_col(const struct tr_row *row);

/* snprintf into a fixed buffer; if the text is cut, the cut is moved back to
 * a UTF-8 character boundary so a Chinese message never ends in half a
 * character. Does nothing when dst is NULL or cap is 0. */
void tr_seterr(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tr_vseterr(char *dst, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Back ends. open() returns NULL with a message in err (TR_ERR_MAX bytes);
 * next() has the contract of table_next() with the row kept in *row. */
struct tr_csv;
struct tr_csv *tr_csv_open(const char *path, char *err);
/* "UTF-8" or "GB18030"; static. May turn from UTF-8 to GB18030 while
 * reading when everything before the first non-ASCII byte was ASCII. */
const char *tr_csv_encoding(const struct tr_csv *c);
int  tr_csv_next(struct tr_csv *c, struct tr_row *row, int *ncols, int *rownum, char *err);
void tr_csv_close(struct tr_csv *c);

struct tr_xlsx;
struct tr_xlsx *tr_xlsx_open(const char *path, char *err);
int  tr_xlsx_next(struct tr_xlsx *x, struct tr_row *row, int *ncols, int *rownum, char *err);
void tr_xlsx_close(struct tr_xlsx *x);
#endif
