/* Rate limits: fixed one-minute windows per (bucket, key), in memory.
 * Per node; the PostgreSQL deployment keeps them in the database instead. */
#ifndef VETS_AUTH_RATELIMIT_H
#define VETS_AUTH_RATELIMIT_H
/* Counts one hit; returns 0 if allowed, else seconds until the window ends. */
int ratelimit_hit(const char *bucket, const char *key, int per_minute);
void ratelimit_reset(void);
#endif
