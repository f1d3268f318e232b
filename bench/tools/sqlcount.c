/* sqlcount.so — an LD_PRELOAD shim that counts, per SQL text, how often each
 * statement is executed by a process linked against libsqlite3, how many
 * sqlite3_step calls it takes and the time spent inside sqlite3_step: the
 * "statements per request" of bench/sqlcount.sh. Not for timing runs (it adds
 * a mutex and two clock reads per step).
 *
 *   SQLCOUNT_OUT=/path/prefix LD_PRELOAD=./sqlcount.so vets serve …
 *
 * An execution is the first sqlite3_step after a prepare or a reset (vets
 * caches prepared statements and resets them), or one sqlite3_exec (whose
 * inner steps are not counted again). On
 * SIGUSR2 the counters are reset at the next step (so a script can count a
 * window of requests); at exit they are written to $SQLCOUNT_OUT.tsv as
 * "executions, steps, milliseconds, SQL", most time first.
 * Build: cc -O2 -shared -fPIC -o sqlcount.so sqlcount.c -ldl -lpthread */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry { char *sql; uint64_t execs, steps, ns; };
static struct entry *tab; static size_t ntab, captab;
struct st { sqlite3_stmt *p; size_t entry; int stepped; };
static struct st *sts; static size_t nsts, capsts;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t reset_asked;
static _Thread_local int in_exec;   /* sqlite3_exec's own steps are counted as the exec */

static int (*real_step)(sqlite3_stmt *);
static int (*real_reset)(sqlite3_stmt *);
static int (*real_finalize)(sqlite3_stmt *);
typedef int (*prep_fn)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
typedef int (*prep3_fn)(sqlite3 *, const char *, int, unsigned, sqlite3_stmt **, const char **);
static prep_fn real_prepare, real_prepare_v2;
static prep3_fn real_prepare_v3;
static int (*real_exec)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *, char **);

static uint64_t now_ns(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Whitespace runs become one space: the same statement written on several lines. */
static char *norm(const char *s) {
    size_t n = strlen(s);
    char *o = malloc(n + 1), *w = o;
    int sp = 1;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') { if (!sp) *w++ = ' '; sp = 1; }
        else { *w++ = *s; sp = 0; }
    }
    if (w > o && w[-1] == ' ') w--;
    *w = 0;
    return o;
}

static size_t entry_of(const char *sql) {   /* under mu; linear is fine for a few hundred statements */
    char *n = norm(sql ? sql : "?");
    for (size_t i = 0; i < ntab; i++) if (strcmp(tab[i].sql, n) == 0) { free(n); return i; }
    if (ntab == captab) { captab = captab ? captab * 2 : 256; tab = realloc(tab, captab * sizeof *tab); }
    tab[ntab] = (struct entry){n, 0, 0, 0};
    return ntab++;
}

static struct st *st_of(sqlite3_stmt *p) {  /* under mu */
    for (size_t i = 0; i < nsts; i++) if (sts[i].p == p) return &sts[i];
    if (nsts == capsts) { capsts = capsts ? capsts * 2 : 256; sts = realloc(sts, capsts * sizeof *sts); }
    sts[nsts] = (struct st){p, entry_of(sqlite3_sql(p)), 0};
    return &sts[nsts++];
}

/* A new statement: its address may be one a statement finalized inside
 * SQLite (sqlite3_exec) had, so the entry is set afresh. */
static void prepared(sqlite3_stmt *p, const char *sql, int n, const char *tail) {
    if (!p || in_exec) return;
    size_t len = tail ? (size_t)(tail - sql) : n >= 0 ? (size_t)n : strlen(sql);
    char *copy = strndup(sql, len);
    pthread_mutex_lock(&mu);
    struct st *s = st_of(p);
    s->entry = entry_of(copy);
    s->stepped = 0;
    pthread_mutex_unlock(&mu);
    free(copy);
}

int sqlite3_prepare(sqlite3 *db, const char *sql, int n, sqlite3_stmt **pp, const char **tail) {
    const char *t = NULL;
    int rc = real_prepare(db, sql, n, pp, &t);
    if (tail) *tail = t;
    if (rc == SQLITE_OK) prepared(*pp, sql, n, t);
    return rc;
}
int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **pp, const char **tail) {
    const char *t = NULL;
    int rc = real_prepare_v2(db, sql, n, pp, &t);
    if (tail) *tail = t;
    if (rc == SQLITE_OK) prepared(*pp, sql, n, t);
    return rc;
}
int sqlite3_prepare_v3(sqlite3 *db, const char *sql, int n, unsigned flags, sqlite3_stmt **pp, const char **tail) {
    const char *t = NULL;
    int rc = real_prepare_v3(db, sql, n, flags, pp, &t);
    if (tail) *tail = t;
    if (rc == SQLITE_OK) prepared(*pp, sql, n, t);
    return rc;
}

static void maybe_reset(void) {   /* under mu */
    if (!reset_asked) return;
    reset_asked = 0;
    for (size_t i = 0; i < ntab; i++) tab[i].execs = tab[i].steps = tab[i].ns = 0;
}

static void on_usr2(int sig) { (void)sig; reset_asked = 1; }

__attribute__((constructor)) static void init(void) {
    real_step = (int (*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_step");
    real_reset = (int (*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_reset");
    real_finalize = (int (*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_finalize");
    real_prepare = (prep_fn)dlsym(RTLD_NEXT, "sqlite3_prepare");
    real_prepare_v2 = (prep_fn)dlsym(RTLD_NEXT, "sqlite3_prepare_v2");
    real_prepare_v3 = (prep3_fn)dlsym(RTLD_NEXT, "sqlite3_prepare_v3");
    real_exec = (int (*)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *, char **))
        dlsym(RTLD_NEXT, "sqlite3_exec");
    struct sigaction sa = {0};
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
}

static int by_time(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : (x->execs < y->execs) - (x->execs > y->execs);
}

__attribute__((destructor)) static void fini(void) {
    const char *out = getenv("SQLCOUNT_OUT");
    if (!out) return;
    char path[4096]; snprintf(path, sizeof path, "%s.tsv", out);
    FILE *f = fopen(path, "w");
    if (!f) return;
    pthread_mutex_lock(&mu);
    qsort(tab, ntab, sizeof *tab, by_time);
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].execs)
            fprintf(f, "%llu\t%llu\t%.3f\t%s\n", (unsigned long long)tab[i].execs, (unsigned long long)tab[i].steps,
                    tab[i].ns / 1e6, tab[i].sql);
    pthread_mutex_unlock(&mu);
    fclose(f);
}

int sqlite3_step(sqlite3_stmt *p) {
    if (in_exec) return real_step(p);
    uint64_t t0 = now_ns();
    int rc = real_step(p);
    uint64_t dt = now_ns() - t0;
    pthread_mutex_lock(&mu);
    maybe_reset();
    struct st *s = st_of(p);
    struct entry *e = &tab[s->entry];
    if (!s->stepped) { e->execs++; s->stepped = 1; }
    e->steps++; e->ns += dt;
    pthread_mutex_unlock(&mu);
    return rc;
}

int sqlite3_reset(sqlite3_stmt *p) {
    pthread_mutex_lock(&mu);
    st_of(p)->stepped = 0;
    pthread_mutex_unlock(&mu);
    return real_reset(p);
}

/* A finalized statement's address may come back for another statement. */
int sqlite3_finalize(sqlite3_stmt *p) {
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nsts; i++) if (sts[i].p == p) { sts[i] = sts[--nsts]; break; }
    pthread_mutex_unlock(&mu);
    return real_finalize(p);
}

int sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **), void *arg, char **err) {
    uint64_t t0 = now_ns();
    int outer = in_exec++ == 0;   /* SQLite runs sqlite3_exec inside sqlite3_exec (schema loading) */
    int rc = real_exec(db, sql, cb, arg, err);
    in_exec--;
    if (!outer) return rc;
    uint64_t dt = now_ns() - t0;
    pthread_mutex_lock(&mu);
    maybe_reset();
    size_t i = entry_of(sql);
    struct entry *e = &tab[i];
    e->execs++; e->ns += dt;
    pthread_mutex_unlock(&mu);
    return rc;
}
