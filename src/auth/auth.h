/* The auth layer: who is asking (user_ctx), what they may do (permissions by
 * role, kept as rows), where (jurisdiction: the region subtree of their
 * station), and the audit trail of all of it. */
#ifndef VETS_AUTH_AUTH_H
#define VETS_AUTH_AUTH_H
#include "http/http.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct user_ctx {
    int64_t id;
    char username[64], name[64];
    int64_t station_id;
    char station_name[128], station_level[16];
    char region_code[13], region_name[64];
    char scope_lo[13], scope_hi[13];        /* region_code BETWEEN lo AND hi = jurisdiction */
    char roles[96];                         /* comma-joined role codes, for audit rows */
    uint64_t perms;                         /* bit i = perm_table[i] */
    bool must_change;
    bool must_change_flag;                  /* users.must_change_password (initial password) */
    int64_t password_changed;               /* unix time; with the max age gives "expired" */
    bool totp_enrolled;
    bool must_enrol_totp;                   /* a role that needs TOTP, not yet enrolled */
    char must_change_reason[24];            /* "initial" or "expired" */
    char csrf[33];
    char token_hash[65];
} user_ctx;

/* ---- permissions ---- */
int  perm_index(const char *name);          /* -1 unknown */
bool perm_known(const char *name);
bool user_can(const user_ctx *u, const char *perm);
size_t perm_count(void);
const char *perm_name(size_t i);
const char *perm_label(size_t i);
json_t *user_perms_json(const user_ctx *u);

/* ---- current user ---- */
static inline user_ctx *current_user(req *r) { return (user_ctx *)req_user(r); }
/* Installs the guard into the HTTP layer. */
void auth_install_guard(void);

/* ---- jurisdiction ---- */
/* Significant prefix of a 12-digit region code (33, 3304, 330482, 330482101, full). */
int  region_prefix_len(const char *code);
void region_scope(const char *code, char lo[13], char hi[13]);
bool scope_contains(const user_ctx *u, const char *region_code);

/* ---- settings (rows with defaults set by migration) ---- */
int64_t setting_int(const char *key, int64_t dflt);
char   *setting_text(arena *a, const char *key, const char *dflt);
/* The same through a per-thread copy, for what every request reads (session
 * limits, password age): a change made through the settings page applies at
 * once on this node and within SETTINGS_TTL_MS on the others. */
#define SETTINGS_TTL_MS 5000
int64_t setting_int_cached(const char *key, int64_t dflt);
char   *setting_text_cached(arena *a, const char *key, const char *dflt);

/* ---- audit ---- */
/* Writes one audit row in the caller's transaction (or its own). Detail is
 * borrowed and must already be masked. Returns 0, or -1 when the row could
 * not be written — then the caller must fail its change. */
int audit_log(req *r, const char *event, const char *otype, const char *oid,
              const char *result, json_t *detail);
/* Same for work outside HTTP (CLI import): actor may be NULL (system). */
int audit_log_as(const user_ctx *actor, const char *rid, const char *ip, const char *event,
                 const char *otype, const char *oid, const char *result, json_t *detail);
/* The same, taking ownership of DETAIL (for inline json_pack). */
int audit_event(req *r, const char *event, const char *otype, const char *oid,
                const char *result, json_t *detail);
int audit_event_as(const user_ctx *actor, const char *rid, const char *ip, const char *event,
                   const char *otype, const char *oid, const char *result, json_t *detail);
/* Audits a read (a file viewed) by group commit: the answer the handler set
 * leaves only once the row is committed with others (see audit_batch.c). */
int  audit_view(req *r, const char *event, const char *otype, const char *oid);
int  audit_batch_start(void);
void audit_batch_stop(void);
/* Checks the hash chain; returns 0 when intact, else the first broken id
 * (and a reason). rows gets the number of rows checked. */
int64_t audit_verify(int64_t *rows, char *why, unsigned whycap);

/* ---- users ---- */
/* Password policy check; NULL if acceptable, else a Chinese message. */
const char *password_policy_check(const char *username, const char *pw);
/* Creates a user (no roles) in the caller's transaction; returns id or -1. */
int64_t user_create(const char *username, const char *name, int64_t station_id,
                    const char *password, bool must_change, char *err, unsigned errcap);
int  user_grant_role(int64_t user_id, const char *role, char *err, unsigned errcap);
/* Generates a password that satisfies the default policy. */
void password_generate(char *out, size_t cap);
/* Fills a user_ctx for user ID (roles, perms, station, scope). */
int  user_load_ctx(int64_t id, user_ctx *u);

/* Route tables of this layer. */
extern const struct route auth_routes[];
extern const size_t auth_routes_count;
extern const struct route user_routes[];
extern const size_t user_routes_count;
extern const struct route audit_routes[];
extern const size_t audit_routes_count;

/* ---- JSON body checking shared by modules ---- */
/* Refuses keys outside ALLOWED (NULL-terminated): answers 400 naming the field. */
bool json_only_keys(req *r, json_t *obj, const char *const *allowed);
/* Optional string member: returns NULL if absent/null; answers 422 and sets *bad if
 * present but not a string or longer than maxlen characters. */
const char *json_str_field(req *r, json_t *obj, const char *key, const char *label, size_t maxlen, bool *bad);
#endif
