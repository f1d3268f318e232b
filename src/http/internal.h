/* Internals shared by the files of the HTTP layer; not for modules. */
#ifndef VETS_HTTP_INTERNAL_H
#define VETS_HTTP_INTERNAL_H
#include "http/http.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdint.h>

struct req {
    arena *a;
    struct MHD_Connection *conn;
    const char *method, *path;
    char rid[17];
    char ip[64];
    int64_t t0;
    int api, upload, counted, overloaded, body_too_big, spool_failed;
    int early;               /* refused on the first call (413/503): body not read */
    size_t drained;          /* bytes of a refused body read and dropped */
    char *body; size_t body_len, body_cap;
    int spool_fd; char *spool_path; char *part_path; char *part_name;
    json_t *json;
    const struct route *route;
    const char *params[4]; int nparams;
    void *user;
    void (*on_done)(req *r);
    struct conn_track *ct;   /* the connection's timeout entry (reqtimeout.c) */
    /* Deferred answer: the handler's reply waits for work done elsewhere
     * (the audit group commit); the connection is suspended meanwhile. */
    int deferred;            /* 1: suspend after the handler, 2: resumed, send */
    void (*defer_start)(req *r);   /* called once the connection is suspended */
    void *defer_data;
    /* response */
    int status;
    char *out; size_t out_len; const char *out_ctype; char *out_filename;
    char *out_path; int out_temp;
    const char *hdr[8][2]; int nhdr;
};

int64_t http_now_us(void);
void http_format_addr(const struct sockaddr *sa, char *out, size_t cap);
/* The request's client: the peer, or the address a trusted proxy passed on
 * (see http_trust_proxy). */
void http_client_addr(struct MHD_Connection *conn, const struct sockaddr *peer, char *out, size_t cap);
bool http_path_is_upload(const char *path, const char *method);
void http_static(req *r, const char *root);
int  http_spool_write(req *r, const char *tmp_dir, const char *data, size_t n);
void http_spool_finish(req *r);
void http_spool_cleanup(req *r);

/* Request timeouts against slow clients (reqtimeout.c). */
enum { CT_HEADER, CT_BODY, CT_BUSY };
struct conn_track;
void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
struct conn_track *http_conn_of(struct MHD_Connection *c);
void http_conn_phase(struct conn_track *t, int phase);
void http_conn_bytes(struct conn_track *t, size_t n);
int  http_reqtimeout_start(int header_timeout_s);
void http_reqtimeout_drain(void);   /* stopping: close idle and stalled connections */
void http_reqtimeout_stop(void);
#endif
