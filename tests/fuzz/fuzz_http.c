/* libFuzzer target: raw HTTP request bytes through the real server — the
 * libmicrohttpd parser, our request layer (limits, body collection, chunked
 * and multipart uploads, header checks), the router, the session guard and
 * every handler the bytes reach — inside this process (see inproc.h).
 *
 * To get past the guard the fuzzer needs a session it cannot guess: the
 * placeholders @S@ and @C@ in the input are replaced by the Cookie value and
 * the CSRF token of a logged-in demo user (`center`), so the seed corpus's
 * requests reach the handlers and mutations of them stay authenticated.
 *
 * Findings: a crash, a sanitizer report, a leak, a 5xx other than 501/503/505, or no
 * answer and no close within the hang limit. */
#include "inproc.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    inproc_start();
    return 0;
}

/* Copies DATA replacing @S@ and @C@; returns a malloc'd buffer. */
static char *substitute(const uint8_t *data, size_t size, size_t *outlen) {
    const char *ck = inproc_cookie(), *cs = inproc_csrf();
    size_t lk = strlen(ck), ls = strlen(cs);
    size_t cap = size + 1, n = 0;
    for (size_t i = 0; i + 2 < size; i++)
        if (data[i] == '@' && data[i + 2] == '@' && (data[i + 1] == 'S' || data[i + 1] == 'C')) cap += lk + ls;
    char *out = malloc(cap);
    for (size_t i = 0; i < size;) {
        if (i + 2 < size && data[i] == '@' && data[i + 2] == '@' && data[i + 1] == 'S') {
            memcpy(out + n, ck, lk); n += lk; i += 3;
        } else if (i + 2 < size && data[i] == '@' && data[i + 2] == '@' && data[i + 1] == 'C') {
            memcpy(out + n, cs, ls); n += ls; i += 3;
        } else out[n++] = (char)data[i++];
    }
    *outlen = n;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1u << 20) return 0;
    size_t n;
    char *req = substitute(data, size, &n);
    struct inproc_answer a;
    inproc_exchange(req, n, &a);
    inproc_check_answer(&a, req, n);
    inproc_answer_free(&a);
    /* A logout (or anything under /auth/) may have ended the session. */
    if (memmem(req, n, "/auth", 5)) inproc_ensure_session();
    free(req);
    return 0;
}
