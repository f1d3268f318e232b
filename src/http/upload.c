/* File uploads. The body is spooled to a temp file as it arrives, so a
 * 100 MB import never sits in memory. A multipart/form-data body is then
 * scanned (bounded, streaming) for the first part that carries a filename and
 * that part alone is copied to a second temp file. Raw uploads (the file as
 * the body, name in X-Filename) need no second step. We parse multipart
 * ourselves instead of MHD_PostProcessor, whose past CVEs live there. */
#include "http/internal.h"
#include "base/log.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int http_spool_write(req *r, const char *tmp_dir, const char *data, size_t n) {
    if (r->spool_fd < 0) {
        r->spool_path = arena_printf(r->a, "%s/upload-%s-XXXXXX", tmp_dir ? tmp_dir : "/tmp", r->rid);
        r->spool_fd = mkstemp(r->spool_path);
        if (r->spool_fd < 0) { log_error(r->rid, "cannot create spool file"); return -1; }
    }
    while (n) {
        ssize_t w = write(r->spool_fd, data, n);
        if (w <= 0) return -1;
        data += w; n -= (size_t)w;
    }
    return 0;
}

/* Finds NEEDLE in the file from offset FROM; returns its offset or -1. */
static long long find_in_file(int fd, long long from, const char *needle, size_t nl) {
    char buf[65536 + 256];
    long long off = from;
    size_t keep = 0;
    for (;;) {
        ssize_t n = pread(fd, buf + keep, sizeof buf - keep, off + (long long)keep);
        if (n <= 0) return -1;
        size_t have = keep + (size_t)n;
        char *hit = memmem(buf, have, needle, nl);
        if (hit) return off + (hit - buf);
        if (have < nl) return -1;
        keep = nl - 1;
        memmove(buf, buf + have - keep, keep);
        off += (long long)(have - keep);
    }
}

static char *header_param(arena *a, const char *h, const char *name) {
    const char *p = strcasestr(h, name);
    if (!p) return NULL;
    p += strlen(name);
    if (*p == '"') {
        const char *e = strchr(p + 1, '"');
        return e ? arena_strndup(a, p + 1, (size_t)(e - p - 1)) : NULL;
    }
    size_t n = strcspn(p, "; \r\n");
    return arena_strndup(a, p, n);
}

void http_spool_finish(req *r) {
    if (r->spool_fd < 0) return;
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        r->part_path = r->spool_path;
        const char *fn = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Filename");
        r->part_name = arena_strdup(r->a, fn ? fn : "upload");
        return;
    }
    char *boundary = header_param(r->a, ct, "boundary=");
    if (!boundary || !*boundary || strlen(boundary) > 200) return;
    char *delim = arena_printf(r->a, "--%s", boundary);
    size_t dl = strlen(delim);
    long long pos = find_in_file(r->spool_fd, 0, delim, dl);
    while (pos >= 0) {
        long long hstart = pos + (long long)dl + 2;          /* skip CRLF */
        char hdr[4096];
        ssize_t n = pread(r->spool_fd, hdr, sizeof hdr - 1, hstart);
        if (n <= 0) return;
        hdr[n] = 0;
        char *hend = strstr(hdr, "\r\n\r\n");
        if (!hend) return;                                  /* part headers over 4 KiB: refuse */
        *hend = 0;
        long long body = hstart + (hend - hdr) + 4;
        char *crlf_delim = arena_printf(r->a, "\r\n%s", delim);
        long long end = find_in_file(r->spool_fd, body, crlf_delim, dl + 2);
        if (end < 0) return;
        char *fname = header_param(r->a, hdr, "filename=");
        if (fname) {
            r->part_path = arena_printf(r->a, "%s.part", r->spool_path);
            int out = open(r->part_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (out < 0) { r->part_path = NULL; return; }
            char buf[65536];
            for (long long off = body; off < end;) {
                size_t want = (size_t)(end - off) < sizeof buf ? (size_t)(end - off) : sizeof buf;
                ssize_t got = pread(r->spool_fd, buf, want, off);
                if (got <= 0 || write(out, buf, (size_t)got) != got) { close(out); r->part_path = NULL; return; }
                off += got;
            }
            close(out);
            r->part_name = fname;
            return;
        }
        pos = end + 2;
    }
}

const char *req_upload(req *r, const char **filename) {
    if (!r->part_path) {
        reply_error(r, 400, "validation_failed", "file", "未收到上传文件");
        return NULL;
    }
    if (filename) *filename = r->part_name;
    return r->part_path;
}

void http_spool_cleanup(req *r) {
    if (r->spool_fd >= 0) close(r->spool_fd);
    if (r->part_path && r->part_path != r->spool_path) unlink(r->part_path);
    if (r->spool_path) unlink(r->spool_path);
}
