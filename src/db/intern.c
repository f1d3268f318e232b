/* Interning of SQL texts assembled from fixed fragments (list queries whose
 * WHERE and ORDER BY depend on the filters used). The set of distinct texts
 * is small and bounded by the fragments, so interned strings live forever. */
#include "db/db.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define INTERN_SLOTS 2048
static char *slots[INTERN_SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

const char *db_intern(const char *sql) {
    uint32_t h = 2166136261u;
    for (const char *p = sql; *p; p++) { h ^= (unsigned char)*p; h *= 16777619u; }
    pthread_mutex_lock(&mu);
    for (uint32_t i = 0; i < INTERN_SLOTS; i++) {
        char **s = &slots[(h + i) % INTERN_SLOTS];
        if (!*s) { *s = strdup(sql); pthread_mutex_unlock(&mu); return *s; }
        if (strcmp(*s, sql) == 0) { pthread_mutex_unlock(&mu); return *s; }
    }
    pthread_mutex_unlock(&mu);
    abort();   /* more distinct query shapes than fragments allow: a programming error */
}
