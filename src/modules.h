/* The module table: every business module's routes and demo generator.
 * main.c walks it; a new module costs one row here. */
#ifndef VETS_MODULES_H
#define VETS_MODULES_H
#include "http/http.h"
#include <stddef.h>

struct demo_opts {
    const char *ref_dir;
    long persons;        /* persons to generate */
    long requests;       /* requests to generate */
    unsigned seed;
};

struct module {
    const char *name;
    const struct route *routes;
    const size_t *nroutes;
    int (*demo)(const struct demo_opts *o, char *err, unsigned errcap);   /* may be NULL */
};

extern const struct module vets_modules[];
extern const size_t vets_modules_count;
#endif
