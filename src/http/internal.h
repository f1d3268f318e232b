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
    char *body; size_t body_len, body_cap;
    int spool_fd; char *spool_path; char *part_path; char *part_name;
    json_t *json;
    const struct route *route;
    const char *params[4]; int nparams;
    void *user;
    void (*on_done)(req *r);
    /* response */
    int status;
    char *out; size_t out_len; const char *out_ctype; char *out_filename;
    char *out_path; int out_temp;
    const char *hdr[8][2]; int nhdr;
};

int64_t http_now_us(void);
void http_format_addr(const struct sockaddr *sa, char *out, size_t cap);
bool http_path_is_upload(const char *path, const char *method);
void http_static(req *r, const char *root);
int  http_spool_write(req *r, const char *tmp_dir, const char *data, size_t n);
void http_spool_finish(req *r);
void http_spool_cleanup(req *r);
#endif
