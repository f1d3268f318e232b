/* The module table (see modules.h). Order matters for the demo: the network
 * (villages) comes before the registry (persons live in villages), which comes
 * before requests. */
#include "modules.h"
#include "auth/auth.h"
#include "auth/totp.h"
#include "network/network.h"
#include "requests/requests.h"
#include "registry/registry.h"

extern const struct route stats_routes[];
extern const size_t stats_routes_count;
int registry_demo(const struct demo_opts *o, char *err, unsigned errcap);

int demo_villages_module(const struct demo_opts *o, char *err, unsigned errcap);

const struct module vets_modules[] = {
    {"auth", auth_routes, &auth_routes_count, NULL},
    {"totp", totp_routes, &totp_routes_count, NULL},
    {"users", user_routes, &user_routes_count, NULL},
    {"audit", audit_routes, &audit_routes_count, NULL},
    {"network", network_routes, &network_routes_count, demo_villages_module},
    {"registry", registry_routes, &registry_routes_count, registry_demo},
    {"requests", requests_routes, &requests_routes_count, requests_demo},
    {"stats", stats_routes, &stats_routes_count, NULL},
};
const size_t vets_modules_count = sizeof vets_modules / sizeof *vets_modules;
