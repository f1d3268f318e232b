/* Tests of src/std/textenc.c: UTF-8 with and without BOM, GBK/GB18030 bytes
 * of 平湖市 as Excel on Chinese Windows writes them, the strict UTF-8 rules
 * (overlongs, surrogates, range) and a character cut at the end of a sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "std/textenc.h"

#define U(s) (const unsigned char *)(s), sizeof(s) - 1

static const char gbk_pinghu[] = "\xc6\xbd\xba\xfe\xca\xd0"; /* 平湖市 in GBK */
static const char utf8_pinghu[] = "\xe5\xb9\xb3\xe6\xb9\x96\xe5\xb8\x82";

static void test_detect(void **state)
{
    (void)state;
    assert_int_equal(textenc_detect(U("name,id\n")), TEXTENC_UTF8);
    assert_int_equal(textenc_detect(U("")), TEXTENC_UTF8);
    assert_int_equal(textenc_detect(U("平湖市,当湖街道\n")), TEXTENC_UTF8);
    assert_int_equal(textenc_detect(U("\xef\xbb\xbf" "平湖市")), TEXTENC_UTF8_BOM);
    assert_int_equal(textenc_detect(U(gbk_pinghu)), TEXTENC_GB18030);
    assert_int_equal(textenc_detect(U("姓名,身份证号\n")), TEXTENC_UTF8);
    /* 姓名,身份证号 in GBK */
    assert_int_equal(textenc_detect(U("\xd0\xd5\xc3\xfb,\xc9\xed\xb7\xdd\xd6\xa4\xba\xc5\n")),
                     TEXTENC_GB18030);
    /* a sample that cuts 市 after two of its three bytes is still UTF-8 */
    assert_int_equal(textenc_detect(U("\xe5\xb9\xb3\xe6\xb9\x96\xe5\xb8")), TEXTENC_UTF8);
    assert_int_equal(textenc_detect(U("\xe5\xb9\xb3\xe6\xb9\x96\xe5")), TEXTENC_UTF8);
    /* ... but not a cut in the middle of the sample */
    assert_int_equal(textenc_detect(U("\xe5\xb9" "a")), TEXTENC_GB18030);
    /* a cut that is not a valid start (surrogate) is not forgiven */
    assert_int_equal(textenc_detect(U("ab\xed\xa0")), TEXTENC_GB18030);
}

static void test_strict_utf8(void **state)
{
    (void)state;
    assert_true(textenc_valid_utf8(U("平湖市")));
    assert_true(textenc_valid_utf8(U("\xf0\x9f\x98\x80")));      /* U+1F600 */
    assert_true(textenc_valid_utf8(U("\xf4\x8f\xbf\xbf")));      /* U+10FFFF */
    assert_true(textenc_valid_utf8(U("\xed\x9f\xbf")));          /* U+D7FF */
    assert_false(textenc_valid_utf8(U("\xc0\xaf")));             /* overlong '/' */
    assert_false(textenc_valid_utf8(U("\xc1\xbf")));             /* overlong */
    assert_false(textenc_valid_utf8(U("\xe0\x80\xaf")));         /* overlong */
    assert_false(textenc_valid_utf8(U("\xf0\x80\x80\xaf")));     /* overlong */
    assert_false(textenc_valid_utf8(U("\xed\xa0\x80")));         /* surrogate D800 */
    assert_false(textenc_valid_utf8(U("\xed\xbf\xbf")));         /* surrogate DFFF */
    assert_false(textenc_valid_utf8(U("\xf4\x90\x80\x80")));     /* above U+10FFFF */
    assert_false(textenc_valid_utf8(U("\xf5\x80\x80\x80")));
    assert_false(textenc_valid_utf8(U("\x80")));                 /* lone continuation */
    assert_false(textenc_valid_utf8(U("\xe5\xb9\xb3\xe5\xb9")));  /* cut: invalid for a whole text */
    assert_false(textenc_valid_utf8(U("\xe5\x41\xb3")));
    assert_false(textenc_valid_utf8(U(gbk_pinghu)));
}

static void test_convert(void **state)
{
    (void)state;
    size_t n = 0;
    char *s = textenc_gb_to_utf8(gbk_pinghu, sizeof gbk_pinghu - 1, &n);
    assert_non_null(s);
    assert_string_equal(s, utf8_pinghu);
    assert_int_equal(n, strlen(utf8_pinghu));
    free(s);

    /* 退役军人事务局, with ASCII around it */
    static const char gb[] = "A\xcd\xcb\xd2\xdb\xbe\xfc\xc8\xcb\xca\xc2\xce\xf1\xbe\xd6,1\n";
    s = textenc_gb_to_utf8(gb, sizeof gb - 1, &n);
    assert_non_null(s);
    assert_string_equal(s, "A退役军人事务局,1\n");
    free(s);

    /* a four-byte GB18030 sequence: U+20000 𠀀 */
    s = textenc_gb_to_utf8("\x95\x32\x82\x36", 4, &n);
    assert_non_null(s);
    assert_string_equal(s, "\xf0\xa0\x80\x80");
    assert_int_equal(n, 4);
    free(s);

    s = textenc_gb_to_utf8("", 0, &n);
    assert_non_null(s);
    assert_int_equal(n, 0);
    free(s);

    assert_null(textenc_gb_to_utf8("\xc6\xbd\xba", 3, &n));  /* cut lead byte */
    assert_null(textenc_gb_to_utf8("\xc6\x20", 2, &n));      /* bad trail byte */
}

static void test_to_utf8(void **state)
{
    (void)state;
    size_t n;
    char *s = textenc_to_utf8("\xef\xbb\xbf" "平湖", 9, &n);
    assert_non_null(s);
    assert_string_equal(s, "平湖");
    assert_int_equal(n, 6);
    free(s);
    s = textenc_to_utf8(gbk_pinghu, sizeof gbk_pinghu - 1, &n);
    assert_non_null(s);
    assert_string_equal(s, "平湖市");
    free(s);
    s = textenc_to_utf8("平湖市", strlen("平湖市"), &n);
    assert_non_null(s);
    assert_string_equal(s, "平湖市");
    free(s);
    /* a whole file cut inside a character is refused */
    assert_null(textenc_to_utf8("\xe5\xb9\xb3\xe5\xb9", 5, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_strict_utf8),
        cmocka_unit_test(test_convert),
        cmocka_unit_test(test_to_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
