/* Tests of src/std/creditcode.c (GB 32100). The valid codes were computed
 * with the standard's weights for this test, not taken from a real company;
 * 91330482MA28A1B2C0 also exercises the "31 becomes 0" rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "std/creditcode.h"

static void ok(const char *in, const char *want)
{
    char out[19];
    const char *err = creditcode_parse(in, out);
    if (err)
        fail_msg("%s: %s", in, err);
    assert_string_equal(out, want);
}

static void bad(const char *in, const char *msg)
{
    char out[19];
    const char *err = creditcode_parse(in, out);
    if (err == NULL)
        fail_msg("%s accepted", in ? in : "(null)");
    assert_string_equal(err, msg);
}

static void test_valid(void **state)
{
    (void)state;
    ok("91330482MA28A1B2C0", "91330482MA28A1B2C0");
    ok("91330482MA2BC3D4E9", "91330482MA2BC3D4E9");
    ok("12330482000000001R", "12330482000000001R");
    ok("91330482MA28FK7X1U", "91330482MA28FK7X1U");
    ok("91330482ma28a1b2c0", "91330482MA28A1B2C0");
    ok("  91330482MA28A1B2C0\n", "91330482MA28A1B2C0");
    ok("９１３３０４８２ＭＡ２８Ａ１Ｂ２Ｃ０", "91330482MA28A1B2C0");
    ok("９１３３０４８２ｍａ２８ａ１ｂ２ｃ０", "91330482MA28A1B2C0");
}

static void test_check_char(void **state)
{
    (void)state;
    assert_int_equal(creditcode_check_char("91330482MA28A1B2C"), '0'); /* 31 -> 0 */
    assert_int_equal(creditcode_check_char("12330482000000001"), 'R');
    assert_int_equal(creditcode_check_char("91330482MA28A1B2I"), 0);
    assert_int_equal(creditcode_check_char("9133"), 0);
    assert_int_equal(creditcode_check_char(NULL), 0);
}

static void test_invalid(void **state)
{
    (void)state;
    bad("91330482MA28A1B2C1", "统一社会信用代码校验位错误（应为 0）");
    bad("12330482000000001X", "统一社会信用代码校验位错误（应为 R）");
    bad("91330482MA28FK7X1Y", "统一社会信用代码校验位错误（应为 U）");
    /* one changed character is caught */
    bad("91330482MA28A1B3C0", "统一社会信用代码校验位错误（应为 1）");
    bad("91330482MA28A1B2C", "统一社会信用代码长度应为18位");
    bad("91330482MA28A1B2C00", "统一社会信用代码长度应为18位");
    bad("", "统一社会信用代码为空");
    bad(NULL, "统一社会信用代码为空");
    bad("91330482MA28A1BIC0", "统一社会信用代码含有非法字符（不使用字母 I、O、Z、S、V）");
    bad("91330482MA28A1BOC0", "统一社会信用代码含有非法字符（不使用字母 I、O、Z、S、V）");
    bad("91330482MA28A1B-C0", "统一社会信用代码含有非法字符");
    bad("91330482MA28A1B中0", "统一社会信用代码含有非法字符");
    bad("91330482MA28 A1B2C0", "统一社会信用代码中间不能有空格");
    bad("91A30482MA28A1B2C0", "统一社会信用代码第3至8位应为登记机关行政区划代码（数字）");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_check_char),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
