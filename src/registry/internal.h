/* Shared between the files of the registry module only. */
#ifndef VETS_REGISTRY_INTERNAL_H
#define VETS_REGISTRY_INTERNAL_H
#include "registry/registry.h"
#include "db/db.h"

/* List filters decoded from the query string; the export uses the same. */
/* A new filter field must also be added to tally_counts() in persons.c. */
struct pfilter {
    const char *lo, *hi;          /* region range: jurisdiction ∩ region filter */
    const char *id_exact, *tail4, *tail5, *tail6, *gram, *like, *py_lo, *py_hi;
    const char *status, *category;
    int complete;                 /* -1 any, 1 complete, 0 incomplete */
    const char *order;
    bool empty;                   /* the filter can match nothing */
    bool scan_by_id;              /* a plan, not a filter: walk persons_search by id (persons_list) */
};
bool person_filter_parse(req *r, struct pfilter *f);
const char *person_filter_sql(arena *a, const struct pfilter *f, const char *select, const char *tail);
int person_filter_bind(db_stmt *s, const struct pfilter *f);

/* Writes one history row of a person (sub-records: categories, household). */
int person_history_add(req *r, int64_t pid, const char *field, const char *label, const char *before, const char *after);
/* Same outside a request (import from the command line); U may be NULL (system). */
int person_history_add_as(const user_ctx *u, const char *rid, int64_t pid, const char *field, const char *label,
                          const char *before, const char *after);
/* Rules of a category's attributes (cause × grade pairs, 三属 relation and
 * deceased), shared by the API and the import. CAUSE and RELATION are codes,
 * GRADE 0 when absent. NULL when valid, else a Chinese message; *field is
 * the JSON key of the attribute at fault. */
const char *category_rules(arena *a, const char *category, const char *cause, int64_t grade, const char *relation,
                           const char *deceased_name, bool has_deceased_id, const char **field);
/* Completeness items missing from V (comma-separated keys). */
const char *person_missing(arena *a, const struct pvals *v, bool has_cat, bool family_only, int *count);
/* Inserts a person already checked, without history or audit (bulk loads:
 * the caller writes one audit row for the batch). Returns the id or -1. */
int64_t person_insert_bulk(arena *a, const struct pvals *v, bool has_cat, bool family_only, const char *by);
/* Path of a temporary .xlsx in the data folder's tmp/ (export.c). */
char *registry_tmp_path(arena *a, const char *what, const char *rid);
/* Opens a sealed column of person PID (see person_store.c); NULL, logged,
 * if it does not open. */
char *person_unseal(arena *a, const struct pfield *f, const char *sealed, const char *idh, int64_t pid);
/* The first sealed field of OLD that did not open and that IN does not
 * replace (IN may be NULL: any), or NULL when all is well. */
const struct pfield *person_broken(const struct pvals *old, const struct pvals *in);
/* Stores the completeness of person ID from STORED, the values just written
 * (its categories are read): person_refresh_completeness without reloading. */
void person_set_completeness(arena *a, int64_t id, const struct pvals *stored);
/* Chinese message for a sealed value that fails its check. */
#define SEAL_BROKEN_MSG "加密数据校验失败：该档案的%s无法解密（数据被篡改或密钥不符），请联系系统管理员"
#endif
