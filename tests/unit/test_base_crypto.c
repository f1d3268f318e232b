/* Tests of src/base/crypto.c: SM3 and HMAC-SM3 against values computed with
 * the openssl command line (`openssl dgst -sm3 [-hmac KEY]`), including the
 * per-thread keyed HMAC contexts: the same key again, keys alternating, and
 * more keys than the cache holds must all give the one-shot answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/crypto.h"

static int setup(void **state) { (void)state; return crypto_init(); }

static void test_sm3(void **state)
{
    (void)state;
    char h[65];
    sm3_hex("abc", 3, h);   /* GB/T 32905-2016, example 1 */
    assert_string_equal(h, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

static void test_hmac_sm3(void **state)
{
    (void)state;
    const char *a = "e34f9bcfdc55c1ed58b70906590baeea36c0a6e0058a986f83baf676eb7b634e";   /* key1, "abc" */
    const char *b = "78d00c4e15a228597a60c4c7007b0123941fc90822a08231eac467332a1a8567";   /* another key, "hello world" */
    char h[65];
    for (int round = 0; round < 3; round++) {
        hmac_sm3_hex("key1", 4, "abc", 3, h);
        assert_string_equal(h, a);
        hmac_sm3_hex("another key", 11, "hello world", 11, h);
        assert_string_equal(h, b);
    }
    /* More keys than the per-thread cache holds, then the first ones again. */
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        hmac_sm3_hex(k, strlen(k), "x", 1, h);
        assert_int_equal(strlen(h), 64);
    }
    hmac_sm3_hex("key1", 4, "abc", 3, h);
    assert_string_equal(h, a);
    hmac_sm3_hex("another key", 11, "hello world", 11, h);
    assert_string_equal(h, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sm3),
        cmocka_unit_test(test_hmac_sm3),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
