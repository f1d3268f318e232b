/* Streaming readers for the spreadsheets staff upload: .xlsx (libzip + expat,
 * first worksheet) and .csv (UTF-8 with/without BOM or GB18030, detected).
 * Both yield one row at a time so 1 000 000 rows need constant memory. */
#ifndef VETS_IO_TABLE_READ_H
#define VETS_IO_TABLE_READ_H
#include <stddef.h>

typedef struct table_reader table_reader;

/* Opens PATH, choosing the format from its content (zip magic → xlsx, else
 * csv). On failure returns NULL and writes a Chinese message into err. */
table_reader *table_open(const char *path, char *err, size_t errcap);
/* "xlsx" or "csv"; for csv also the detected encoding name ("UTF-8", "GB18030"). */
const char *table_format(const table_reader *r);
const char *table_encoding(const table_reader *r);
/* Next non-empty row: returns 1 and sets *cells (UTF-8 strings, "" for empty,
 * valid until the next call), *ncols and *rownum (1-based row of the sheet);
 * 0 at the end; -1 on a broken file (message in err). Cells of xlsx that carry
 * a date number format come back as ISO YYYY-MM-DD; other numbers as written
 * by Excel without a trailing ".0" (e.g. 20210305, 3.5). */
int  table_next(table_reader *r, const char *const **cells, int *ncols, int *rownum,
                char *err, size_t errcap);
void table_close(table_reader *r);
#endif
