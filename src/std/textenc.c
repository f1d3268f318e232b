/* Encodings of uploaded text files. Excel on Chinese Windows saves "CSV" in
 * GBK (a subset of GB18030), newer tools write UTF-8 with or without a BOM,
 * and nothing in the file says which. Real GBK Chinese text is almost never
 * valid UTF-8, so a strict UTF-8 check (no overlong forms, no surrogates,
 * nothing above U+10FFFF) decides; everything else is read as GB18030, a
 * superset of GBK and GB2312. Conversion uses the C library's iconv. */
#include "std/textenc.h"

#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Validates UTF-8; when ALLOW_CUT, a sequence that is a correct but
 * incomplete start at the very end of the buffer is accepted, because a
 * detection sample may cut a character in two. */
static bool utf8_check(const unsigned char *b, size_t n, bool allow_cut)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = b[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return false; /* continuation byte, C0/C1 overlong lead, F5..FF */
        }
        for (size_t k = 1; k < len; k++) {
            if (i + k >= n)
                return allow_cut;
            unsigned char t = b[i + k];
            if (k == 1 ? (t < lo || t > hi) : (t < 0x80 || t > 0xBF))
                return false;
        }
        i += len;
    }
    return true;
}

bool textenc_valid_utf8(const unsigned char *buf, size_t n)
{
    return utf8_check(buf, n, false);
}

enum textenc textenc_detect(const unsigned char *buf, size_t n)
{
    if (n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF)
        return TEXTENC_UTF8_BOM;
    return utf8_check(buf, n, true) ? TEXTENC_UTF8 : TEXTENC_GB18030;
}

char *textenc_gb_to_utf8(const char *in, size_t n, size_t *outlen)
{
    /* A GB18030 character of 1, 2 or 4 bytes becomes at most 1, 3 or 4 bytes
     * of UTF-8, so 2n + 1 always suffices. */
    if (n > (SIZE_MAX - 1) / 2)
        return NULL;
    size_t cap = 2 * n + 1;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1) {
        free(out);
        return NULL;
    }
    char *src = (char *)in; /* iconv's prototype is not const-correct */
    size_t srcleft = n;
    char *dst = out;
    size_t dstleft = cap - 1;
    size_t r = iconv(cd, &src, &srcleft, &dst, &dstleft);
    if (r != (size_t)-1)
        r = iconv(cd, NULL, NULL, &dst, &dstleft); /* flush any shift state */
    iconv_close(cd);
    if (r == (size_t)-1 || srcleft != 0) {
        /* EILSEQ (invalid bytes) or EINVAL (truncated at the end): refuse
         * rather than silently drop text. */
        free(out);
        return NULL;
    }
    *dst = '\0';
    if (outlen)
        *outlen = (size_t)(dst - out);
    return out;
}

char *textenc_to_utf8(const char *in, size_t n, size_t *outlen)
{
    const unsigned char *b = (const unsigned char *)in;
    enum textenc e = textenc_detect(b, n);
    if (e == TEXTENC_GB18030)
        return textenc_gb_to_utf8(in, n, outlen);
    size_t skip = e == TEXTENC_UTF8_BOM ? 3 : 0;
    /* The detector forgives a cut at the end of a sample; a whole file must
     * be complete. */
    if (!utf8_check(b + skip, n - skip, false))
        return NULL;
    char *out = malloc(n - skip + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, in + skip, n - skip);
    out[n - skip] = '\0';
    if (outlen)
        *outlen = n - skip;
    return out;
}
