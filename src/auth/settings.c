/* Settings: policy numbers (password length, lockout, timeouts…) as rows with
 * the defaults the migration wrote; code passes the same default as a last
 * resort only if the row is missing. */
#include "auth/auth.h"
#include "base/tcache.h"
#include "db/db.h"
#include <stdlib.h>

int64_t setting_int(const char *key, int64_t dflt) {
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT value FROM settings WHERE key = ?");
    db_bind_text(s, 1, key);
    int64_t v = dflt;
    if (db_step(s) == DB_ROW) { const char *t = db_col_text(s, 0); if (t && *t) v = atoll(t); }
    db_reset(s);
    return v;
}

char *setting_text(arena *a, const char *key, const char *dflt) {
    db *d = db_thread();
    db_stmt *s = db_prep(d, "SELECT value FROM settings WHERE key = ?");
    db_bind_text(s, 1, key);
    char *v = arena_strdup(a, dflt);
    if (db_step(s) == DB_ROW) v = arena_strdup(a, db_col_text(s, 0));
    db_reset(s);
    return v;
}

/* The value of KEY from this thread's copy (NULL: no such row). */
static const char *cached(const char *key, bool *found) {
    bool empty;
    tcache *c = tcache_get(TCACHE_SETTINGS, db_cache_gen(), SETTINGS_TTL_MS, &empty);
    const void *v;
    if (!tcache_find(c, key, &v, NULL)) {
        db_stmt *s = db_prep(db_thread(), "SELECT value FROM settings WHERE key = ?");
        db_bind_text(s, 1, key);
        tcache_put_str(c, key, db_step(s) == DB_ROW ? db_col_text(s, 0) : NULL);
        db_reset(s);
        tcache_find(c, key, &v, NULL);
    }
    *found = v != NULL;
    return v;
}

int64_t setting_int_cached(const char *key, int64_t dflt) {
    bool found;
    const char *t = cached(key, &found);
    return found && *t ? atoll(t) : dflt;
}

char *setting_text_cached(arena *a, const char *key, const char *dflt) {
    bool found;
    const char *t = cached(key, &found);
    return arena_strdup(a, found ? t : dflt);
}
