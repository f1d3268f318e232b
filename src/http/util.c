/* Small helpers of the HTTP layer: clocks, client addresses, route lookup
 * before the body arrives. */
#include "http/internal.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t http_now_us(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void http_format_addr(const struct sockaddr *sa, char *out, size_t cap) {
    if (!sa) { snprintf(out, cap, "-"); return; }
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
    else snprintf(out, cap, "-");
}

bool http_path_is_upload(const char *path, const char *method) {
    for (size_t i = 0; i < http_route_count(); i++) {
        const struct route *rt = http_route_at(i);
        if (!(rt->flags & ROUTE_UPLOAD) || strcmp(rt->method, method)) continue;
        /* Cheap segment-wise match without allocation. */
        const char *p = rt->pattern, *s = path;
        while (*p && *s) {
            if (*p == '{') { while (*p && *p != '}') p++; if (*p) p++; while (*s && *s != '/') s++; continue; }
            if (*p != *s) break;
            p++; s++;
        }
        if (!*p && !*s) return true;
    }
    return false;
}
