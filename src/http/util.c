/* Small helpers of the HTTP layer: clocks, client addresses (including the
 * one a trusted reverse proxy passes on), route lookup before the body
 * arrives. */
#include "http/internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* ---- the client behind a reverse proxy ----
 * Behind nginx or haproxy every connection comes from the proxy, so the
 * per-address login limit and the audit trail would see one address for all
 * users. The proxy passes the client's address in a header, but any client
 * can send that header too: it is believed only when the connection comes
 * from an address the operator named as a proxy (--trusted-proxy), and only
 * as far as trusted hops vouch for it. The list is filled before the server
 * starts and only read afterwards, so it needs no lock. */

#define MAX_TRUSTED 64
#define MAX_XFF_HEADERS 16

struct ipnet { int family; unsigned char addr[16]; int bits; };
static struct ipnet trusted[MAX_TRUSTED];
static int ntrusted;
static bool use_real_ip;   /* false: X-Forwarded-For (default), true: X-Real-IP */

/* Parses an IPv4 or IPv6 literal of N bytes (no port, no brackets). An
 * IPv4-mapped IPv6 address is taken as the IPv4 address it carries, so that
 * a proxy listed as 10.0.0.5 matches whichever way the socket reports it. */
static bool parse_ip(const char *s, size_t n, int *family, unsigned char out[16]) {
    char buf[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n); buf[n] = 0;
    if (inet_pton(AF_INET, buf, out) == 1) { *family = AF_INET; return true; }
    if (inet_pton(AF_INET6, buf, out) != 1) return false;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(out, mapped, 12) == 0) { memmove(out, out + 12, 4); *family = AF_INET; }
    else *family = AF_INET6;
    return true;
}

static bool sockaddr_ip(const struct sockaddr *sa, int *family, unsigned char out[16]) {
    if (!sa) return false;
    char txt[INET6_ADDRSTRLEN];
    http_format_addr(sa, txt, sizeof txt);
    return parse_ip(txt, strlen(txt), family, out);
}

static bool is_trusted(int family, const unsigned char *a) {
    for (int i = 0; i < ntrusted; i++) {
        const struct ipnet *t = &trusted[i];
        if (t->family != family) continue;
        int full = t->bits / 8, rest = t->bits % 8;
        if (memcmp(t->addr, a, (size_t)full) != 0) continue;
        if (rest && ((t->addr[full] ^ a[full]) & (0xff00 >> rest) & 0xff)) continue;
        return true;
    }
    return false;
}

static const char *trim(const char *s, const char *e, size_t *n) {
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *n = (size_t)(e - s);
    return s;
}

int http_trust_proxy(const char *spec) {
    if (!spec || !*spec) return -1;
    for (const char *p = spec;;) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        size_t n;
        const char *item = trim(p, end, &n);
        const char *slash = memchr(item, '/', n);
        struct ipnet t = {0};
        if (!parse_ip(item, slash ? (size_t)(slash - item) : n, &t.family, t.addr)) return -1;
        int maxbits = t.family == AF_INET ? 32 : 128;
        t.bits = maxbits;
        if (slash) {
            char digits[8];
            size_t dn = n - (size_t)(slash + 1 - item);
            if (dn == 0 || dn >= sizeof digits) return -1;
            memcpy(digits, slash + 1, dn); digits[dn] = 0;
            char *de;
            long b = strtol(digits, &de, 10);
            if (*de || b < 0 || b > maxbits) return -1;
            t.bits = (int)b;
        }
        if (ntrusted >= MAX_TRUSTED) return -1;
        trusted[ntrusted++] = t;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

int http_set_real_ip_header(const char *name) {
    if (!name) return -1;
    if (strcasecmp(name, "X-Forwarded-For") == 0) { use_real_ip = false; return 0; }
    if (strcasecmp(name, "X-Real-IP") == 0) { use_real_ip = true; return 0; }
    return -1;
}

struct xff { const char *v[MAX_XFF_HEADERS]; int n; bool overflow; };

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    struct xff *x = cls;
    if (!key || strcasecmp(key, "X-Forwarded-For") != 0 || !value) return MHD_YES;
    if (x->n >= MAX_XFF_HEADERS) { x->overflow = true; return MHD_NO; }
    x->v[x->n++] = value;
    return MHD_YES;
}

static void format_ip(int family, const unsigned char *a, char *out, size_t cap) {
    if (!inet_ntop(family, a, out, (socklen_t)cap)) snprintf(out, cap, "-");
}

void http_client_addr(struct MHD_Connection *conn, const struct sockaddr *peer, char *out, size_t cap) {
    http_format_addr(peer, out, cap);
    int fam;
    unsigned char cur[16];
    if (ntrusted == 0 || !sockaddr_ip(peer, &fam, cur) || !is_trusted(fam, cur)) return;
    if (use_real_ip) {
        /* The proxy sets X-Real-IP to the address it saw, replacing any the
         * client sent (nginx: proxy_set_header X-Real-IP $remote_addr). */
        const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Real-IP");
        size_t n;
        if (v && (v = trim(v, v + strlen(v), &n)) && parse_ip(v, n, &fam, cur)) format_ip(fam, cur, out, cap);
        return;
    }
    /* Each proxy appends the address it received the request from, so the
     * list reads from the right: the last entry was written by the trusted
     * peer, and each entry is believed only while the hop after it is
     * trusted too. The first untrusted address is the client; whatever
     * stands left of it came from the client and is ignored. A malformed
     * entry ends the walk at the last address vouched for. Several headers
     * count as one list in their order. */
    struct xff x = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_xff, &x);
    if (x.overflow) return;
    for (int h = x.n - 1; h >= 0; h--) {
        const char *s = x.v[h], *e = s + strlen(s);
        for (;;) {
            const char *c = e;
            while (c > s && c[-1] != ',') c--;
            size_t n;
            const char *item = trim(c, e, &n);
            if (!parse_ip(item, n, &fam, cur)) return;
            format_ip(fam, cur, out, cap);
            if (!is_trusted(fam, cur)) return;
            if (c == s) break;
            e = c - 1;
        }
    }
}
