/* The HTTP layer: libmicrohttpd server, route table, request and response.
 * Handlers receive a `req` whose memory lives in a per-request arena; they
 * answer with reply_json()/reply_error()/reply_bytes(). Authentication and
 * permissions are plugged in from the auth layer through http_set_guard(), so
 * this layer knows nothing about users. */
#ifndef VETS_HTTP_HTTP_H
#define VETS_HTTP_HTTP_H
#include "base/arena.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct req req;
typedef void (*handler_fn)(req *r);

enum route_flags {
    ROUTE_PUBLIC      = 1,   /* no session needed (health, login, openapi) */
    ROUTE_NO_CSRF     = 2,   /* state-changing route without CSRF (login only) */
    ROUTE_UPLOAD      = 4,   /* body is a file: spooled to disk, larger limit */
    ROUTE_PRE_CHANGE  = 8,   /* usable while a forced password change is pending */
    ROUTE_COSTLY      = 16,  /* rate-limited per user (exports, imports, stats) */
};

struct route {
    const char *method;     /* GET POST PATCH PUT DELETE */
    const char *pattern;    /* /api/v1/persons/{id}/history — {x} matches one segment */
    const char *perm;       /* permission name; "public" only with ROUTE_PUBLIC */
    handler_fn  fn;
    unsigned    flags;
};

struct http_config {
    const char *listen_host;     /* 127.0.0.1 */
    int         port;
    int         threads;         /* worker threads in the pool */
    size_t      max_body;        /* JSON bodies (413 above) */
    size_t      max_upload;      /* uploads */
    const char *web_root;        /* built UI; NULL: none */
    const char *tmp_dir;         /* where uploads are spooled */
    int         max_inflight;    /* requests in flight (bodies arriving, handlers running,
                                    answers being sent); 503 + Retry-After above */
    int         conn_timeout;    /* seconds: silence before a connection is cut, and the time
                                    a request's headers may take (plus 1 s per 500 body bytes
                                    for its body; see reqtimeout.c) */
};

/* The guard runs before every handler: it resolves the session, checks the
 * permission and CSRF, and may answer itself (401/403/…) by returning false. */
typedef bool (*guard_fn)(req *r, const struct route *rt);
void http_set_guard(guard_fn g);
/* Called after the response is queued (e.g. to flush per-request state). */

/* Registers a module's routes; returns -1 (and logs) when a route lacks a
 * permission or the permission is unknown to the checker. */
typedef bool (*perm_known_fn)(const char *perm);
int  http_add_routes(const struct route *routes, size_t n, perm_known_fn known);
size_t http_route_count(void);
const struct route *http_route_at(size_t i);

int  http_start(const struct http_config *cfg);
/* Stops accepting, lets in-flight requests finish (up to grace_ms), stops. */
void http_stop(int grace_ms);
int  http_bound_port(void);
/* Hands an already connected socket to the server as if it had been accepted
 * (the fuzz targets drive the real server through a socketpair). ADDR is what
 * the request will see as the client's address. The server owns FD after. */
struct sockaddr;
int  http_add_connection(int fd, const struct sockaddr *addr, unsigned addrlen);

/* Reverse proxies (set before http_start). A request whose connection comes
 * from a trusted proxy gets its client address from the proxy's header:
 * X-Forwarded-For (the default: the right-most address no trusted proxy
 * stands for) or X-Real-IP (taken whole: the proxy must overwrite it). From
 * any other peer these headers are ignored. SPEC: addresses or networks
 * (10.0.0.0/8, fd00::/8), comma-separated; -1 when malformed. */
int  http_trust_proxy(const char *spec);
int  http_set_real_ip_header(const char *name);   /* -1 unless one of the two */

/* ---- request accessors ---- */
arena      *req_arena(req *r);
const char *req_method(req *r);
const char *req_path(req *r);
const char *req_id(req *r);
const char *req_ip(req *r);                   /* the client (see http_trust_proxy) */
const char *req_header(req *r, const char *name);
const char *req_cookie(req *r, const char *name);
const char *req_query(req *r, const char *name);         /* NULL when absent */
/* Integer query value clamped to [min,max]; dflt when absent or not a number. */
int64_t     req_query_int(req *r, const char *name, int64_t dflt, int64_t min, int64_t max);
const char *req_param(req *r, int i);                    /* {x} segments in order */
int64_t     req_param_id(req *r, int i);                 /* positive integer or -1 */
/* Parsed JSON object body; on failure answers 400/415 itself and returns NULL. */
json_t     *req_json(req *r);
/* Upload: path of the spooled file (the part's content for multipart) and the
 * client's file name; NULL when no file came (answers 400 itself). */
const char *req_upload(req *r, const char **filename);
const char *req_body(req *r, size_t *len);
void       *req_user(req *r);                  /* set by the guard */
void        req_set_user(req *r, void *u);
const struct route *req_route(req *r);

/* Deferred answers. A handler that has set its reply but must not send it
 * before work on another thread is done calls req_defer(r, start): once the
 * connection is suspended, start(r) hands the request to that thread, which
 * later calls req_resume() (thread-safe), possibly after replacing the reply.
 * The worker thread is free in between, so many requests can wait together. */
void req_defer(req *r, void (*start)(req *r));
void  req_set_defer_data(req *r, void *p);   /* for the thread that finishes it */
void *req_defer_data(req *r);
void req_resume(req *r);

/* ---- responses ---- */
void reply_json(req *r, int status, json_t *body);           /* steals body */
void reply_error(req *r, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Takes ownership of data (malloc'd). filename: attachment name or NULL. */
void reply_bytes(req *r, int status, const char *ctype, char *data, size_t n, const char *filename);
/* Streams a file; unlinks it afterwards when temp is true. */
void reply_file(req *r, const char *path, const char *ctype, const char *filename, bool temp);
void reply_header(req *r, const char *name, const char *value);
int  reply_status(req *r);
bool replied(req *r);
#endif
