/* The service network (服务网络): regions (统计用区划代码), code tables and the
 * stations of the three levels, each bound to its region. Also the loader of
 * the reference data shipped under data/. */
#ifndef VETS_NETWORK_NETWORK_H
#define VETS_NETWORK_NETWORK_H
#include "http/http.h"
#include <stdbool.h>
#include <stdint.h>

/* Loads the CSV files under data/regions and data/codes (upserts, idempotent) and
 * makes sure every current county/town/village region has its station. */
int refdata_load(const char *ref_dir, char *err, unsigned errcap);
/* Creates the station of REGION if missing; returns its id or -1. */
int64_t station_ensure(const char *region_code);
/* Name of a code in TABLE, or NULL (arena copy). */
const char *code_name(arena *a, const char *table, const char *code);
bool code_exists(const char *table, const char *code);
/* Code of a NAME in TABLE (accepts the code itself too), or NULL. */
const char *code_by_name(arena *a, const char *table, const char *name);
/* Region name (arena copy) or NULL; and its town (level 9) name. */
const char *region_name(arena *a, const char *code);
/* The station owning REGION: the village station, else the town's, else the center. */
int64_t station_for_region(const char *region_code);
/* The home county code (the single county with stations). */
const char *home_county(void);

extern const struct route network_routes[];
extern const size_t network_routes_count;
#endif
