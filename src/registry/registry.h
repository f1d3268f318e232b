/* The registry (人员档案): the one trustworthy file on every person. Other
 * modules use these functions, never the registry's tables. */
#ifndef VETS_REGISTRY_REGISTRY_H
#define VETS_REGISTRY_REGISTRY_H
#include "auth/auth.h"
#include "registry/fields.h"
#include <stdbool.h>
#include <stdint.h>

/* Values of a person as text, one slot per person_fields row. */
struct pvals {
    const char *v[64];
    bool set[64];
    bool broken[64];       /* loaded: a sealed value that did not open (v is NULL) */
};

/* Result of checking a person: message and field of the first problem. */
struct pcheck {
    const char *message;
    const char *field;     /* JSON key */
    int status;            /* 422, or 409 for a duplicate */
    const char *code;      /* validation_failed / duplicate */
    int64_t existing_id;   /* duplicate inside the jurisdiction */
};

/* Normalises and checks values for a new person (old == NULL) or an update.
 * Derives sex and birth date from the ID number, refuses contradictions,
 * derives the rank code, checks dates against each other. */
bool person_check(arena *a, const user_ctx *u, struct pvals *in, const struct pvals *old, int64_t self_id,
                  struct pcheck *res);
/* Loads the stored values of a person inside U's scope; false if none. A
 * sealed value that does not open (tampered, moved, wrong key) is NULL with
 * broken[i] set: callers must not write it back as "empty". */
bool person_load_vals(arena *a, const user_ctx *u, int64_t id, struct pvals *out, int64_t *version);
/* Writes a checked person in the caller's transaction: insert (id 0) or
 * update with optimistic version. Keeps grams, derived columns, field history
 * and one audit row. Returns the id, 0 on version conflict, -1 on error. */
int64_t person_store(arena *a, const user_ctx *u, const char *rid, const char *ip, int64_t id, int64_t version,
                     const struct pvals *vals, const struct pvals *old, const char *event_suffix);
/* The detail view (masked). NULL if outside U's scope. */
json_t *person_view(arena *a, const user_ctx *u, int64_t id);
/* Small facts other modules need. */
bool person_brief(int64_t id, const user_ctx *u, char name[64], char region[13]);
/* Recomputes completeness of one person (after category changes). */
void person_refresh_completeness(int64_t id);

extern const struct route registry_routes[];
extern const size_t registry_routes_count;
#endif
