/* Text encodings met in files staff upload: UTF-8 (with or without BOM) and
 * GBK/GB18030 from Excel's "CSV" on Chinese Windows. */
#ifndef VETS_STD_TEXTENC_H
#define VETS_STD_TEXTENC_H
#include <stdbool.h>
#include <stddef.h>

enum textenc { TEXTENC_UTF8 = 0, TEXTENC_UTF8_BOM = 1, TEXTENC_GB18030 = 2 };

/* Guesses the encoding from the first bytes of a file (a prefix may cut a
 * multibyte sequence at its end: that is not held against UTF-8). */
enum textenc textenc_detect(const unsigned char *buf, size_t n);
bool textenc_valid_utf8(const unsigned char *buf, size_t n);
/* Converts GB18030 to a freshly malloc'd NUL-terminated UTF-8 string; NULL on
 * invalid input. *outlen gets the length without the NUL. */
char *textenc_gb_to_utf8(const char *in, size_t n, size_t *outlen);
/* Whole-file convenience: detects the encoding of IN, drops a UTF-8 BOM,
 * converts GB18030, and returns a freshly malloc'd NUL-terminated UTF-8
 * string; NULL when the bytes are invalid in the detected encoding. */
char *textenc_to_utf8(const char *in, size_t n, size_t *outlen);
#endif
