/* Calendar dates as staff write them, and day arithmetic.
 * A date is carried as a day number (days since 1970-01-01) or as ISO text. */
#ifndef VETS_STD_CDATE_H
#define VETS_STD_CDATE_H
#include <stdbool.h>

bool cdate_valid(int y, int m, int d);
int  cdate_to_days(int y, int m, int d);           /* days since 1970-01-01 */
void cdate_from_days(int days, int *y, int *m, int *d);
int  cdate_weekday(int days);                      /* 1 = Monday … 7 = Sunday */
void cdate_iso(int days, char out[11]);            /* YYYY-MM-DD */
int  cdate_today_days(void);                       /* today in Asia/Shanghai */
int  cdate_today_ymd(void);                        /* e.g. 20261130 */

/* Parses 2021-03-05, 2021/3/5, 2021.3.5, 20210305, 2021年3月5日, 2021-3 (no:
 * a day is required), and Excel serial numbers (1900 date system, 1..2958465,
 * possibly with a fractional time part) into ISO text in out.
 * Returns NULL on success, else a Chinese message. */
const char *cdate_parse(const char *in, char out[11]);

/* Parses strict ISO YYYY-MM-DD into a day number; -1 when invalid. */
int cdate_parse_iso(const char *in);
/* Same, without the ambiguity of -1 (which is also 1969-12-31): returns false
 * when IN is not a real date in strict ISO form, else stores the day number. */
bool cdate_iso_to_days(const char *in, int *days);

#endif
