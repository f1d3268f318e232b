/* libFuzzer target: JSON bodies through the validators of persons, households,
 * categories, requests and request actions, login and the ID check — sent as
 * authenticated requests to the real server in this process (see inproc.h),
 * so a body goes through jansson, the shape checks, the field table, the
 * national-standard checks, jurisdiction, the version check, the database
 * and the audit trail exactly as from a browser.
 *
 * Input: the first byte picks the endpoint, the rest is the body. In the body
 * @V@ becomes the current version of the record the endpoint changes (kept
 * from the last successful answer), so edits get past the optimistic version
 * check and into the validators.
 *
 * Findings: a crash, a sanitizer report, a leak, a 5xx other than 501/503/505, a hang. */
#include "inproc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long long pid = -1, pver = 1, rid = -1, rver = 1;
static unsigned actions_since_new;

static struct inproc_answer send_json(const char *method, const char *path, const char *body, size_t blen, int auth) {
    size_t cap = blen + 1024;
    char *req = malloc(cap);
    int h = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: fuzz\r\n%s%s%s%s%sContent-Type: application/json\r\n"
                               "Content-Length: %zu\r\n\r\n", method, path,
                     auth ? "Cookie: " : "", auth ? inproc_cookie() : "", auth ? "\r\nX-CSRF-Token: " : "",
                     auth ? inproc_csrf() : "", auth ? "\r\n" : "", blen);
    memcpy(req + h, body, blen);
    struct inproc_answer a;
    inproc_exchange(req, (size_t)h + blen, &a);
    inproc_check_answer(&a, req, (size_t)h + blen);
    free(req);
    return a;
}

static void new_request(void) {
    const char *b = "{\"channel\":\"来访\",\"category\":\"政策咨询\",\"urgency\":\"普通\",\"content\":\"模糊测试\","
                    "\"contact_name\":\"测试\",\"contact_phone\":\"13800138000\",\"region_code\":\"330482001001\"}";
    struct inproc_answer a = send_json("POST", "/api/v1/requests", b, strlen(b), 1);
    if (a.status != 201) { fprintf(stderr, "%s\n", a.data); abort(); }
    rid = inproc_json_int(&a, "id");
    rver = inproc_json_int(&a, "version");
    inproc_answer_free(&a);
    actions_since_new = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    inproc_start();
    const char *b = "{\"name\":\"模糊\",\"id_number\":\"33048119800101001X\",\"region_code\":\"330482001001\"}";
    struct inproc_answer a = send_json("POST", "/api/v1/persons", b, strlen(b), 1);
    if (a.status != 201) { fprintf(stderr, "%s\n", a.data); abort(); }
    pid = inproc_json_int(&a, "id");
    pver = inproc_json_int(&a, "version");
    inproc_answer_free(&a);
    new_request();
    return 0;
}

/* Copies BODY replacing @V@ by VERSION. */
static char *with_version(const uint8_t *body, size_t n, long long version, size_t *outlen) {
    char v[24];
    int lv = snprintf(v, sizeof v, "%lld", version);
    char *out = malloc(n * 8 + 1), *o = out;   /* "@V@" (3) → at most 20 digits */
    for (size_t i = 0; i < n;) {
        if (i + 2 < n && body[i] == '@' && body[i + 1] == 'V' && body[i + 2] == '@') { memcpy(o, v, (size_t)lv); o += lv; i += 3; }
        else *o++ = (char)body[i++];
    }
    *outlen = (size_t)(o - out);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 256 * 1024) return 0;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    char path[128];
    const char *method = "POST";
    long long *ver = NULL;
    int auth = 1;
    switch (data[0] % 10) {
    case 0: snprintf(path, sizeof path, "/api/v1/persons"); break;
    case 1: method = "PATCH"; snprintf(path, sizeof path, "/api/v1/persons/%lld", pid); ver = &pver; break;
    case 2: snprintf(path, sizeof path, "/api/v1/requests"); break;
    case 3:
        if (++actions_since_new > 500) new_request();
        snprintf(path, sizeof path, "/api/v1/requests/%lld/actions", rid); ver = &rver; break;
    case 4: snprintf(path, sizeof path, "/api/v1/persons/validate-id"); break;
    case 5: snprintf(path, sizeof path, "/api/v1/persons/%lld/household", pid); break;
    case 6: snprintf(path, sizeof path, "/api/v1/persons/%lld/categories", pid); break;
    case 7: snprintf(path, sizeof path, "/api/v1/persons/%lld/reveal", pid); break;
    case 8: snprintf(path, sizeof path, "/api/v1/requests/bulk-assign"); break;
    default: snprintf(path, sizeof path, "/api/v1/auth/login"); auth = 0; break;
    }
    size_t blen;
    char *b = with_version(body, n, ver ? *ver : 1, &blen);
    struct inproc_answer a = send_json(method, path, b, blen, auth);
    if (ver && a.status == 200) {
        long long v = inproc_json_int(&a, "version");
        if (v > 0) *ver = v;
    }
    /* A login as center with a wrong password is harmless (lockout is off);
     * a right one would only open another session. */
    inproc_answer_free(&a);
    free(b);
    return 0;
}
