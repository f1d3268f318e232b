/* Rate limits (see ratelimit.h): a small hash table of counters under one
 * mutex; windows are wall-clock minutes so every counter resets together. */
#include "auth/ratelimit.h"
#include "base/timeutil.h"
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 4096
struct slot { char key[96]; int64_t window; int count; };
static struct slot slots[SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static uint32_t fnv(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 16777619u; }
    return h;
}

int ratelimit_hit(const char *bucket, const char *key, int per_minute) {
    if (per_minute <= 0) return 0;
    char k[96];
    snprintf(k, sizeof k, "%s:%s", bucket, key);
    int64_t now = now_unix(), win = now / 60;
    pthread_mutex_lock(&mu);
    struct slot *s = &slots[fnv(k) % SLOTS];
    /* A collision simply shares a counter: stricter, never looser. */
    if (s->window != win || strcmp(s->key, k) != 0) {
        if (s->window != win) s->count = 0;
        snprintf(s->key, sizeof s->key, "%s", k);
        s->window = win;
    }
    int over = ++s->count > per_minute;
    pthread_mutex_unlock(&mu);
    return over ? (int)(60 - now % 60) : 0;
}

void ratelimit_reset(void) {
    pthread_mutex_lock(&mu);
    memset(slots, 0, sizeof slots);
    pthread_mutex_unlock(&mu);
}
