/* Working-day calendar: weekends off, except the State Council's yearly notice
 * which declares public holidays (off) and swapped working weekends (调休, on).
 * Deadline arithmetic on it is pure and unit-tested; the calendar rows are data. */
#ifndef VETS_STD_WORKCAL_H
#define VETS_STD_WORKCAL_H
#include <stdbool.h>

enum { WC_HOLIDAY = 1, WC_WORKDAY = 2 };

typedef struct workcal workcal;

workcal *workcal_new(void);
void     workcal_free(workcal *c);
/* Marks one day (day number from cdate_to_days) as WC_HOLIDAY or WC_WORKDAY. */
void     workcal_set(workcal *c, int days, int kind);
/* Loads a CSV with header "date,kind,name" where kind is 休 or 班;
 * returns rows loaded or -1 (err gets a Chinese message naming the line). */
int      workcal_load_csv(workcal *c, const char *path, char *err, unsigned errcap);
/* Loads every YYYY.csv in DIR (data/calendar) in name order; returns the
 * total rows loaded or -1 with err naming the file and line. */
int      workcal_load_dir(workcal *c, const char *dir, char *err, unsigned errcap);
/* First and last year covered by loaded rows (0 if none). */
void     workcal_years(const workcal *c, int *first, int *last);
bool     workcal_is_workday(const workcal *c, int days);
/* The day on which N working days after START have passed: counting starts the
 * day after START (信访工作条例). n <= 0 returns start. */
int      workcal_add(const workcal *c, int start, int n);
/* Working days in (from, to]: 0 when to <= from. */
int      workcal_between(const workcal *c, int from, int to);

#endif
