/* HTTP server over libmicrohttpd (see http.h).
 *
 * Life of a request: the first access-handler call creates the per-request
 * context (arena, request id) and checks size and type limits; middle calls
 * collect the body (into memory for JSON, into a spool file for uploads);
 * the last call routes, runs the guard and the handler, and queues the
 * response. Answering only on the last call keeps connections alive (MHD adds
 * "Connection: close" to answers given on the first call). The completion
 * callback frees everything the request owned. */
#include "http/http.h"
#include "http/internal.h"
#include "base/crypto.h"
#include "base/log.h"
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUTES 512
#define DRAIN_MAX (16u << 20)   /* bytes of a refused body read before the connection is cut */

static struct route routes[MAX_ROUTES];
static size_t nroutes;
static guard_fn guard;
static struct http_config cfg;
static struct MHD_Daemon *daemon_h;
static atomic_int inflight;
static atomic_int stopping;     /* SIGTERM: finish what runs, refuse what comes */

void http_set_guard(guard_fn g) { guard = g; }
size_t http_route_count(void) { return nroutes; }
const struct route *http_route_at(size_t i) { return i < nroutes ? &routes[i] : NULL; }

int http_add_routes(const struct route *rs, size_t n, perm_known_fn known) {
    for (size_t i = 0; i < n; i++) {
        const struct route *r = &rs[i];
        bool pub = (r->flags & ROUTE_PUBLIC) != 0;
        if (!r->perm || !*r->perm || (pub != (strcmp(r->perm, "public") == 0)) ||
            (!pub && known && !known(r->perm))) {
            log_error(NULL, "route %s %s declares no valid permission: refusing to start",
                      r->method, r->pattern);
            return -1;
        }
        if (nroutes >= MAX_ROUTES) { log_error(NULL, "too many routes"); return -1; }
        routes[nroutes++] = *r;
    }
    return 0;
}

/* Matches PATH against PATTERN; fills params (arena copies). */
static bool match(arena *a, const char *pattern, const char *path, const char **params, int *np) {
    const char *p = pattern, *s = path;
    int n = 0;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            if (!pe) return false;
            if (!se) se = s + strlen(s);
            if (se == s || n >= 4) return false;
            params[n++] = arena_strndup(a, s, (size_t)(se - s));
            p = pe + 1; s = se;
            continue;
        }
        if (*p != *s) return false;
        p++; s++;
    }
    if (*p || *s) return false;
    *np = n;
    return true;
}

/* ---- accessors ---- */
arena *req_arena(req *r) { return r->a; }
const char *req_method(req *r) { return r->method; }
const char *req_path(req *r) { return r->path; }
const char *req_id(req *r) { return r->rid; }
const char *req_ip(req *r) { return r->ip; }
void *req_user(req *r) { return r->user; }
void req_set_user(req *r, void *u) { r->user = u; }
const struct route *req_route(req *r) { return r->route; }

const char *req_header(req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}
const char *req_cookie(req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}
const char *req_query(req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}
int64_t req_query_int(req *r, const char *name, int64_t dflt, int64_t min, int64_t max) {
    const char *v = req_query(r, name);
    if (!v || !*v) return dflt;
    char *end; errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end) return dflt;
    if (x < min) x = min;
    if (x > max) x = max;
    return x;
}
const char *req_param(req *r, int i) { return i < r->nparams ? r->params[i] : NULL; }
int64_t req_param_id(req *r, int i) {
    const char *v = req_param(r, i);
    if (!v || !*v || strlen(v) > 18) return -1;
    for (const char *p = v; *p; p++) if (*p < '0' || *p > '9') return -1;
    long long x = atoll(v);
    return x > 0 ? x : -1;
}
const char *req_body(req *r, size_t *len) { if (len) *len = r->body_len; return r->body; }

json_t *req_json(req *r) {
    if (r->json) return r->json;
    const char *ct = req_header(r, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        reply_error(r, 415, "unsupported_media_type", NULL, "请求内容类型必须为 application/json");
        return NULL;
    }
    json_error_t e;
    json_t *j = r->body ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (!j) {
        reply_error(r, 400, "malformed_json", NULL, "请求内容不是有效的 JSON（第 %d 行第 %d 列）",
                    r->body ? e.line : 0, r->body ? e.column : 0);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        reply_error(r, 400, "malformed_json", NULL, "请求内容必须是 JSON 对象");
        return NULL;
    }
    r->json = j;
    return j;
}

/* ---- responses ---- */
static void set_reply(req *r, int status, char *data, size_t n, const char *ctype) {
    free(r->out); /* a handler may overwrite an earlier answer (e.g. error after partial) */
    r->status = status; r->out = data; r->out_len = n; r->out_ctype = ctype;
    r->out_path = NULL;
}

void reply_json(req *r, int status, json_t *body) {
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII * 0);
    json_decref(body);
    set_reply(r, status, s, s ? strlen(s) : 0, "application/json; charset=utf-8");
}

void reply_error(req *r, int status, const char *code, const char *field, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    char *msg = arena_vprintf(r->a, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s,s:s,s:s}", "code", code, "message", msg, "request_id", r->rid);
    if (field) json_object_set_new(e, "field", json_string(field));
    reply_json(r, status, json_pack("{s:o}", "error", e));
    if (status >= 500) log_error(r->rid, "%d %s %s: %s", status, r->method, r->path, code);
}

void reply_bytes(req *r, int status, const char *ctype, char *data, size_t n, const char *filename) {
    set_reply(r, status, data, n, ctype);
    if (filename) r->out_filename = arena_strdup(r->a, filename);
}

void reply_file(req *r, const char *path, const char *ctype, const char *filename, bool temp) {
    set_reply(r, 200, NULL, 0, ctype);
    r->out_path = arena_strdup(r->a, path);
    r->out_temp = temp;
    if (filename) r->out_filename = arena_strdup(r->a, filename);
}

void reply_header(req *r, const char *name, const char *value) {
    if (r->nhdr >= (int)(sizeof r->hdr / sizeof *r->hdr)) return;
    r->hdr[r->nhdr][0] = arena_strdup(r->a, name);
    r->hdr[r->nhdr][1] = arena_strdup(r->a, value);
    r->nhdr++;
}
int reply_status(req *r) { return r->status; }
bool replied(req *r) { return r->status != 0; }

void req_defer(req *r, void (*start)(req *r)) { r->deferred = 1; r->defer_start = start; }

void req_set_defer_data(req *r, void *p) { r->defer_data = p; }
void *req_defer_data(req *r) { return r->defer_data; }

void req_resume(req *r) {
    r->deferred = 2;
    MHD_resume_connection(r->conn);
}

/* ---- plumbing ---- */
static void add_security_headers(struct MHD_Response *resp, bool api) {
    MHD_add_response_header(resp, "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    if (api) MHD_add_response_header(resp, "Cache-Control", "no-store");
}

static enum MHD_Result send_reply(req *r) {
    struct MHD_Response *resp = NULL;
    if (r->out_path) {
        int fd = open(r->out_path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            if (fd >= 0) close(fd);
            reply_error(r, 500, "internal", NULL, "文件读取失败");
        } else {
            resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
            if (r->out_temp) unlink(r->out_path);   /* the open fd keeps the data alive */
        }
    }
    if (!resp) {
        if (!r->status) reply_error(r, 500, "internal", NULL, "服务器未给出应答");
        resp = MHD_create_response_from_buffer(r->out_len, r->out ? r->out : (char *)"",
                                               r->out ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        r->out = NULL;
    }
    if (r->out_ctype) MHD_add_response_header(resp, "Content-Type", r->out_ctype);
    if (r->out_filename) {
        /* RFC 6266 with UTF-8 file names (Chinese) and an ASCII fallback. */
        char *enc = arena_alloc(r->a, strlen(r->out_filename) * 3 + 1), *o = enc;
        for (const unsigned char *p = (const unsigned char *)r->out_filename; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '.' || *p == '-' || *p == '_') *o++ = (char)*p;
            else o += sprintf(o, "%%%02X", *p);
        }
        *o = 0;
        MHD_add_response_header(resp, "Content-Disposition",
            arena_printf(r->a, "attachment; filename=\"download\"; filename*=UTF-8''%s", enc));
    }
    add_security_headers(resp, r->api);
    MHD_add_response_header(resp, "X-Request-Id", r->rid);
    for (int i = 0; i < r->nhdr; i++) MHD_add_response_header(resp, r->hdr[i][0], r->hdr[i][1]);
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void dispatch(req *r) {
    /* Exact method + pattern first; a path known under another method is 405
     * with the methods it has in Allow. HEAD is GET without the body (MHD
     * leaves the body out of the answer to a HEAD). */
    bool path_known = false, head = strcmp(r->method, "HEAD") == 0;
    char allow[64] = "";
    for (size_t i = 0; i < nroutes; i++) {
        const char *params[4]; int np = 0;
        if (!match(r->a, routes[i].pattern, r->path, params, &np)) continue;
        path_known = true;
        if (strcmp(routes[i].method, r->method) != 0 && !(head && strcmp(routes[i].method, "GET") == 0)) {
            size_t l = strlen(allow);
            snprintf(allow + l, sizeof allow - l, "%s%s%s", l ? ", " : "", routes[i].method,
                     strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
            continue;
        }
        r->route = &routes[i];
        memcpy(r->params, params, sizeof params); r->nparams = np;
        break;
    }
    if (!r->route) {
        if (path_known) {
            reply_error(r, 405, "method_not_allowed", NULL, "不支持的请求方法 %s", r->method);
            reply_header(r, "Allow", arena_strdup(r->a, allow));
        } else reply_error(r, 404, "not_found", NULL, "接口不存在");
        return;
    }
    if (r->body_too_big) {
        reply_error(r, 413, "payload_too_large", NULL, "请求内容过大（上限 %zu 字节）",
                    (r->route->flags & ROUTE_UPLOAD) ? cfg.max_upload : cfg.max_body);
        return;
    }
    if (r->spool_failed) { reply_error(r, 500, "internal", NULL, "上传文件保存失败"); return; }
    if (guard && !guard(r, r->route)) return;
    r->route->fn(r);
}

/* Header values with NUL or control bytes (a NUL would cut the value short
 * for every C string compare after it: the token checked is not the token
 * sent), and query values with an encoded NUL, are refused as malformed. */
static enum MHD_Result bad_value(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                 const char *value, size_t value_size) {
    int *bad = cls;
    if (strlen(key) != key_size || (value && strlen(value) != value_size)) { *bad = 1; return MHD_NO; }
    if (kind == MHD_HEADER_KIND && value)
        for (const unsigned char *p = (const unsigned char *)value; *p; p++)
            if ((*p < 0x20 && *p != '\t') || *p == 0x7f) { *bad = 1; return MHD_NO; }
    return MHD_YES;
}

static bool is_write(const char *m) { return strcmp(m, "GET") && strcmp(m, "HEAD"); }

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)cls; (void)version;
    req *r = *con_cls;
    if (!r) {
        arena *a = arena_new(8192);
        r = arena_alloc(a, sizeof *r);
        r->a = a; r->conn = conn; r->spool_fd = -1;
        r->method = arena_strdup(a, method);
        r->path = arena_strdup(a, url);
        r->api = strncmp(url, "/api/", 5) == 0;
        crypto_token_hex(r->rid, 8);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        http_client_addr(conn, ci ? ci->client_addr : NULL, r->ip, sizeof r->ip);
        r->t0 = http_now_us();
        r->counted = 1;
        int n_in = atomic_fetch_add(&inflight, 1) + 1;
        *con_cls = r;
        r->ct = http_conn_of(conn);
        http_conn_phase(r->ct, CT_BODY);
        /* Refusals are answered at once, before any body is read: no reading
         * 1 GB to refuse it, no queueing behind the requests that overload us.
         * (An answer on the first call closes the connection afterwards, which
         * is what a refused client should get.) */
        if (atomic_load(&stopping)) {
            reply_error(r, 503, "shutting_down", NULL, "服务正在停止，请稍后重试");
            reply_header(r, "Retry-After", "5");
            reply_header(r, "Connection", "close");
            r->early = 1;
            return send_reply(r);
        }
        int bad = 0;
        MHD_get_connection_values_n(conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND, bad_value, &bad);
        if (bad) {
            reply_error(r, 400, "malformed_request", NULL, "请求头或查询参数含有非法字符");
            r->early = 1;
            return send_reply(r);
        }
        if (r->api) {
            const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
            r->upload = http_path_is_upload(r->path, r->method);
            size_t limit = r->upload ? cfg.max_upload : cfg.max_body;
            if (cl && strtoull(cl, NULL, 10) > limit) {
                r->body_too_big = 1;
                reply_error(r, 413, "payload_too_large", NULL, "请求内容过大（上限 %zu 字节）", limit);
                r->early = 1;
                return send_reply(r);
            }
            if (n_in > cfg.max_inflight) {
                r->overloaded = 1;
                reply_error(r, 503, "overloaded", NULL, "服务器繁忙，请稍后重试");
                reply_header(r, "Retry-After", "2");
                r->early = 1;
                return send_reply(r);
            }
        }
        return MHD_YES;
    }
    if (r->early) { *upload_size = 0; return MHD_YES; }   /* answered on the first call */
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        http_conn_bytes(r->ct, n);
        if (r->body_too_big || r->spool_failed) {
            /* A body without Content-Length (chunked) that grew past the
             * limit: MHD can only answer once the body is read, so read and
             * drop it for a while (413 then), but cut a client that goes on
             * and on. */
            r->drained += n;
            return r->drained > (size_t)DRAIN_MAX ? MHD_NO : MHD_YES;
        }
        size_t limit = r->upload ? cfg.max_upload : cfg.max_body;
        if (r->body_len + n > limit) { r->body_too_big = 1; r->drained = r->body_len + n; return MHD_YES; }
        if (r->upload) {
            if (http_spool_write(r, cfg.tmp_dir, upload, n) != 0) r->spool_failed = 1;
            r->body_len += n;
            return MHD_YES;
        }
        if (r->body_len + n + 1 > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
            while (cap < r->body_len + n + 1) cap *= 2;
            char *nb = arena_alloc(r->a, cap);
            if (r->body) memcpy(nb, r->body, r->body_len);
            r->body = nb; r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload, n);
        r->body_len += n;
        r->body[r->body_len] = 0;
        return MHD_YES;
    }
    /* Last call: answer. A deferred request comes back here once resumed. */
    if (r->deferred == 2) return send_reply(r);
    http_conn_phase(r->ct, CT_BUSY);
    if (!r->api) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            reply_error(r, 405, "method_not_allowed", NULL, "不支持的请求方法");
        else
            http_static(r, cfg.web_root);
    } else if (r->overloaded) {
        reply_error(r, 503, "overloaded", NULL, "服务器繁忙，请稍后重试");
        reply_header(r, "Retry-After", "2");
    } else {
        if (r->upload) http_spool_finish(r);
        (void)is_write;
        dispatch(r);
        if (r->deferred == 1) {
            /* Suspend first, then hand over: the other thread can only resume a
             * connection that is already suspended. */
            MHD_suspend_connection(conn);
            r->defer_start(r);
            return MHD_YES;
        }
    }
    return send_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls; (void)conn;
    req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    int64_t us = http_now_us() - r->t0;
    if (r->api && (r->status >= 400 || getenv("VETS_LOG_REQUESTS")))
        log_info(r->rid, "%s %s %d %lld.%03lldms%s", r->method, r->path, r->status,
                 (long long)(us / 1000), (long long)(us % 1000),
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    if (r->json) json_decref(r->json);
    free(r->out);
    http_spool_cleanup(r);
    if (r->on_done) r->on_done(r);
    http_conn_phase(r->ct, CT_HEADER);   /* a kept-alive connection waits for its next request */
    if (r->counted) atomic_fetch_sub(&inflight, 1);
    arena_free(r->a);
}

__attribute__((format(printf, 2, 0)))
static void on_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n') buf[--n] = 0;
    log_warn(NULL, "httpd: %s", buf);
}

static int bound_port;
int http_bound_port(void) { return bound_port; }

int http_start(const struct http_config *c) {
    cfg = *c;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET, cfg.listen_host, &sa.sin_addr) != 1) {
        log_error(NULL, "监听地址无效：%s", cfg.listen_host);
        return -1;
    }
    daemon_h = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC |
        MHD_ALLOW_SUSPEND_RESUME,
        0, NULL, NULL, on_request, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg.conn_timeout,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)256,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, NULL,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_END);
    if (!daemon_h) { log_error(NULL, "无法在 %s:%d 上启动 HTTP 服务", cfg.listen_host, cfg.port); return -1; }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(daemon_h, MHD_DAEMON_INFO_BIND_PORT);
    bound_port = di ? di->port : cfg.port;
    if (http_reqtimeout_start(cfg.conn_timeout) != 0) {
        log_error(NULL, "无法启动请求超时检查线程");
        MHD_stop_daemon(daemon_h); daemon_h = NULL;
        return -1;
    }
    return 0;
}

int http_add_connection(int fd, const struct sockaddr *addr, unsigned addrlen) {
    if (!daemon_h) return -1;
    return MHD_add_connection(daemon_h, fd, addr, (socklen_t)addrlen) == MHD_YES ? 0 : -1;
}

void http_stop(int grace_ms) {
    if (!daemon_h) return;
    /* Stop accepting, then give requests in flight time to finish; new
     * requests on kept-alive connections get 503 meanwhile. */
    atomic_store(&stopping, 1);
    MHD_quiesce_daemon(daemon_h);
    http_reqtimeout_drain();
    for (int waited = 0; atomic_load(&inflight) > 0 && waited < grace_ms; waited += 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(daemon_h);
    daemon_h = NULL;
    http_reqtimeout_stop();
}
