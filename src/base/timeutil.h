/* Wall-clock time as stored (UTC ISO 8601 with Z) and an injectable clock, so
 * that tests can move time forward (deadline job, session timeouts). */
#ifndef VETS_BASE_TIMEUTIL_H
#define VETS_BASE_TIMEUTIL_H
#include <stdint.h>
#include <time.h>

/* Seconds since the epoch, UTC; offset by the test clock if set. */
int64_t now_unix(void);
/* Adds OFFSET seconds to every future now_unix() (only honoured when the
 * server runs with --test-clock). */
void    clock_set_offset(int64_t offset);
int64_t clock_offset(void);
/* "2026-11-30T03:30:00Z" */
void    iso_utc(int64_t t, char out[21]);
/* Parses the above (or with fraction / +08:00 style offsets); -1 on error. */
int64_t iso_parse(const char *s);
/* Day number (cdate) of a unix time in Asia/Shanghai. */
int     unix_to_cn_days(int64_t t);
#endif
