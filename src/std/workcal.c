/* Working-day calendar for deadlines. A day is a working day if the State
 * Council's notice for its year says so (班, a swapped working weekend), is a
 * day off if the notice says so (休), and otherwise is a working day exactly
 * when it falls Monday to Friday. The special days are a few dozen a year, so
 * they live in one sorted array searched by bisection; the yearly notices are
 * shipped as data/calendar/YYYY.csv and loaded at start-up. */
#include "std/workcal.h"

#include "std/cdate.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct special {
    int days;
    int kind; /* WC_HOLIDAY or WC_WORKDAY */
} special;

struct workcal {
    special *v; /* sorted by days, no duplicates */
    size_t n, cap;
};

workcal *workcal_new(void)
{
    return calloc(1, sizeof(workcal));
}

void workcal_free(workcal *c)
{
    if (c == NULL)
        return;
    free(c->v);
    free(c);
}

/* Index of the first entry with days >= DAYS. */
static size_t lower_bound(const workcal *c, int days)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->v[mid].days < days)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool set_one(workcal *c, int days, int kind)
{
    size_t i = lower_bound(c, days);
    if (i < c->n && c->v[i].days == days) {
        c->v[i].kind = kind;
        return true;
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        special *nv = realloc(c->v, ncap * sizeof *nv);
        if (nv == NULL)
            return false;
        c->v = nv;
        c->cap = ncap;
    }
    memmove(c->v + i + 1, c->v + i, (c->n - i) * sizeof *c->v);
    c->v[i].days = days;
    c->v[i].kind = kind;
    c->n++;
    return true;
}

void workcal_set(workcal *c, int days, int kind)
{
    if (c == NULL || (kind != WC_HOLIDAY && kind != WC_WORKDAY))
        return;
    (void)set_one(c, days, kind);
}

void workcal_years(const workcal *c, int *first, int *last)
{
    *first = *last = 0;
    if (c == NULL || c->n == 0)
        return;
    int m, d;
    cdate_from_days(c->v[0].days, first, &m, &d);
    cdate_from_days(c->v[c->n - 1].days, last, &m, &d);
}

bool workcal_is_workday(const workcal *c, int days)
{
    if (c != NULL && c->n > 0) {
        size_t i = lower_bound(c, days);
        if (i < c->n && c->v[i].days == days)
            return c->v[i].kind == WC_WORKDAY;
    }
    return cdate_weekday(days) <= 5;
}

int workcal_add(const workcal *c, int start, int n)
{
    int d = start;
    while (n > 0) {
        d++;
        if (workcal_is_workday(c, d))
            n--;
    }
    return d;
}

int workcal_between(const workcal *c, int from, int to)
{
    int count = 0;
    for (int d = from + 1; d <= to; d++)
        if (workcal_is_workday(c, d))
            count++;
    return count;
}

/* ---- loading ------------------------------------------------------------- */

static void trim(char **s)
{
    char *p = *s;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        p[--n] = '\0';
    *s = p;
}

static int fail(char *err, unsigned errcap, const char *path, int line, const char *what)
{
    if (err && errcap) {
        if (line > 0)
            snprintf(err, errcap, "节假日文件 %s 第 %d 行：%s", path, line, what);
        else
            snprintf(err, errcap, "节假日文件 %s：%s", path, what);
    }
    return -1;
}

int workcal_load_csv(workcal *c, const char *path, char *err, unsigned errcap)
{
    if (err && errcap)
        err[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return fail(err, errcap, path, 0, "无法打开文件");

    /* Rows are collected first and applied only when the whole file is
     * good, so a bad file leaves the calendar as it was. */
    special *rows = NULL;
    size_t nrows = 0, caprows = 0;
    char line[512];
    int lineno = 0, rc = -1;
    bool header = false;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            fail(err, errcap, path, lineno, "行太长");
            goto done;
        }
        char *p = line;
        if (lineno == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
            (unsigned char)p[2] == 0xBF)
            p += 3;
        trim(&p);
        if (*p == '\0')
            continue;
        if (!header) {
            if (strcmp(p, "date,kind,name") != 0) {
                fail(err, errcap, path, lineno, "表头应为 date,kind,name");
                goto done;
            }
            header = true;
            continue;
        }
        char *c1 = strchr(p, ',');
        char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (c2 == NULL) {
            fail(err, errcap, path, lineno, "应有三列：日期,类别,名称");
            goto done;
        }
        *c1 = '\0';
        *c2 = '\0';
        char *date = p, *kind = c1 + 1;
        trim(&date);
        trim(&kind);
        int days;
        if (!cdate_iso_to_days(date, &days)) {
            fail(err, errcap, path, lineno, "日期无效（应为 YYYY-MM-DD 格式的真实日期）");
            goto done;
        }
        int k;
        if (strcmp(kind, "休") == 0) {
            k = WC_HOLIDAY;
        } else if (strcmp(kind, "班") == 0) {
            k = WC_WORKDAY;
            /* A swapped working day is always a weekend day: anything else is a
             * typo in the date. */
            if (cdate_weekday(days) <= 5) {
                fail(err, errcap, path, lineno, "调休上班日（班）应为周六或周日");
                goto done;
            }
        } else {
            fail(err, errcap, path, lineno, "类别应为“休”或“班”");
            goto done;
        }
        for (size_t i = 0; i < nrows; i++) {
            if (rows[i].days == days) {
                fail(err, errcap, path, lineno, "日期重复");
                goto done;
            }
        }
        if (nrows == caprows) {
            size_t ncap = caprows ? caprows * 2 : 64;
            special *nr = realloc(rows, ncap * sizeof *nr);
            if (nr == NULL) {
                fail(err, errcap, path, lineno, "内存不足");
                goto done;
            }
            rows = nr;
            caprows = ncap;
        }
        rows[nrows].days = days;
        rows[nrows].kind = k;
        nrows++;
    }
    if (ferror(f)) {
        fail(err, errcap, path, lineno, "读取失败");
        goto done;
    }
    if (!header) {
        fail(err, errcap, path, 0, "文件为空（缺少表头 date,kind,name）");
        goto done;
    }
    for (size_t i = 0; i < nrows; i++) {
        if (!set_one(c, rows[i].days, rows[i].kind)) {
            fail(err, errcap, path, 0, "内存不足");
            goto done;
        }
    }
    rc = (int)nrows;
done:
    free(rows);
    fclose(f);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int workcal_load_dir(workcal *c, const char *dir, char *err, unsigned errcap)
{
    if (err && errcap)
        err[0] = '\0';
    DIR *d = opendir(dir);
    if (d == NULL)
        return fail(err, errcap, dir, 0, "无法打开目录");
    /* Files are loaded in name order so that a later year's file, which may
     * repeat the first days of January, wins predictably. */
    char *names[256];
    size_t nn = 0;
    int total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *s = e->d_name;
        if (strlen(s) == 8 && strcmp(s + 4, ".csv") == 0 && s[0] >= '0' && s[0] <= '9' &&
            s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9') {
            if (nn == sizeof names / sizeof *names || (names[nn] = strdup(s)) == NULL) {
                total = fail(err, errcap, dir, 0, "年份文件过多或内存不足");
                break;
            }
            nn++;
        }
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_name);
    for (size_t i = 0; total >= 0 && i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        int r = workcal_load_csv(c, path, err, errcap);
        if (r < 0) {
            total = -1;
            break;
        }
        total += r;
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    return total;
}
