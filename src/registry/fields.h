/* The field table of a person file. Validation, JSON in and out, history,
 * import columns, export columns and 建档立卡 completeness all walk this one
 * table, so a new field costs one row. */
#ifndef VETS_REGISTRY_FIELDS_H
#define VETS_REGISTRY_FIELDS_H
#include "auth/auth.h"
#include <jansson.h>

enum ftype { FT_TEXT, FT_DATE, FT_INT, FT_CODE, FT_PHONE, FT_REGION, FT_IDNUM, FT_BANK };

enum {
    FF_REQUIRED  = 1,    /* must be present to create a file */
    FF_COMPLETE  = 2,    /* needed for a complete file (建档立卡) */
    FF_SENSITIVE = 4,    /* masked in answers, history and audit */
    FF_DERIVED   = 8,    /* computed (rank_code): not accepted from input */
    FF_VETERAN   = 16,   /* completeness item only for persons with military service */
};

struct pfield {
    const char *key;      /* JSON path: "name", "service.branch", "service.awards.peace.first" */
    const char *column;   /* persons column */
    const char *label;    /* Chinese label = import/export column header */
    const char *aliases;  /* other headers accepted on import, '|'-separated */
    enum ftype type;
    const char *codes;    /* code table for FT_CODE */
    int maxlen;           /* characters for text */
    int min, max;         /* FT_INT range */
    unsigned flags;
};

extern const struct pfield person_fields[];
extern const size_t person_nfields;
int pfield_index(const char *key);

/* Normalises INPUT (text as typed or from a cell) for field F. Returns NULL
 * when valid (*out set: NULL means empty), else a Chinese message. Codes
 * accept the name or the code. Regions must be inside the user's scope. */
const char *pfield_normalize(arena *a, const struct pfield *f, const user_ctx *u, const char *input, const char **out);

/* JSON helpers on dotted paths. */
json_t *json_path_get(json_t *root, const char *path);
void    json_path_set(json_t *root, const char *path, json_t *v);   /* steals v */

/* Masks sensitive values for display (ID numbers 6+4, bank accounts last 4). */
const char *mask_value(arena *a, enum ftype t, const char *v);
#endif
