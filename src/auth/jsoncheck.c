/* Shape checks for JSON bodies, shared by every module: unknown fields are
 * refused (no mass assignment), wrong types and over-long text get a Chinese
 * message that names the field. */
#include "auth/auth.h"
#include <string.h>

bool json_only_keys(req *r, json_t *obj, const char *const *allowed) {
    const char *k; json_t *v;
    json_object_foreach(obj, k, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++) if (strcmp(*a, k) == 0) { ok = true; break; }
        if (!ok) {
            reply_error(r, 400, "unknown_field", k, "不允许提交字段“%s”", k);
            return false;
        }
    }
    return true;
}

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

const char *json_str_field(req *r, json_t *obj, const char *key, const char *label, size_t maxlen, bool *bad) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        reply_error(r, 422, "validation_failed", key, "%s必须是文本", label);
        *bad = true;
        return NULL;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        reply_error(r, 422, "validation_failed", key, "%s含有非法字符", label);
        *bad = true;
        return NULL;
    }
    if (maxlen && utf8_chars(s) > maxlen) {
        reply_error(r, 422, "validation_failed", key, "%s不能超过 %zu 个字", label, maxlen);
        *bad = true;
        return NULL;
    }
    return s;
}
