/* Rate limits (see ratelimit.h): a small hash table of counters under one
 * mutex; windows are wall-clock minutes so every counter resets together.
 * When several nodes share the database (PostgreSQL), the counters live in
 * its rate_limits table instead, so a limit holds across the nodes behind a
 * load balancer; should that write fail, the node's own counter decides. */
#include "auth/ratelimit.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "db/db.h"
#include <pthread.h>
#include <stdatomic.h>
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

static atomic_llong purged_win;

/* The shared counter: one atomic upsert; -1 on a database error. */
static int shared_hits(db *d, const char *bucket, const char *key, int64_t win) {
    db_stmt *s = db_prep(d, "INSERT INTO rate_limits(bucket, key, win, hits) VALUES (?, ?, ?, 1) "
                            "ON CONFLICT(bucket, key, win) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits");
    if (!s) return -1;
    db_bind_text(s, 1, bucket); db_bind_text(s, 2, key); db_bind_int(s, 3, win);
    int hits = db_step(s) == DB_ROW ? (int)db_col_int(s, 0) : -1;
    db_reset(s);
    /* Past minutes are of no use: the first hit of a minute on a node clears them. */
    long long prev = atomic_load(&purged_win);
    if (hits > 0 && prev != win && atomic_compare_exchange_strong(&purged_win, &prev, win)) {
        s = db_prep(d, "DELETE FROM rate_limits WHERE win < ?");
        db_bind_int(s, 1, win - 1);
        db_step(s);
        db_reset(s);
    }
    return hits;
}

int ratelimit_hit(const char *bucket, const char *key, int per_minute) {
    if (per_minute <= 0) return 0;
    db *d = db_thread();
    if (db_shared(d)) {
        int64_t now = now_unix();
        int hits = shared_hits(d, bucket, key ? key : "", now / 60);
        if (hits > 0) return hits > per_minute ? (int)(60 - now % 60) : 0;
        log_warn(NULL, "rate limit counter not shared (database error): counting on this node");
    }
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
