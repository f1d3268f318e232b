/* Tests of src/std/idcard.c: the GB 11643 vectors of RULES.md, bad check
 * characters, calendar and range checks of the birth date, full-width and
 * lower-case input, 15→18 upgrade, old Pinghu address codes and masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "std/idcard.h"

#define TODAY 20261130

static void ok(const char *in, const char *want)
{
    idcard id;
    const char *err = idcard_parse(in, TODAY, &id);
    if (err)
        fail_msg("%s: %s", in, err);
    assert_string_equal(id.number, want);
}

static void bad(const char *in, const char *msg)
{
    idcard id;
    const char *err = idcard_parse(in, TODAY, &id);
    if (err == NULL)
        fail_msg("%s accepted", in);
    assert_string_equal(err, msg);
}

static void test_vectors(void **state)
{
    (void)state;
    idcard id;
    assert_null(idcard_parse("11010519491231002X", TODAY, &id));
    assert_string_equal(id.number, "11010519491231002X");
    assert_string_equal(id.region6, "110105");
    assert_int_equal(id.year, 1949);
    assert_int_equal(id.month, 12);
    assert_int_equal(id.day, 31);
    assert_int_equal(id.sex, 2); /* 17th digit 2: female */

    assert_null(idcard_parse("34052419800101001X", TODAY, &id));
    assert_int_equal(id.sex, 1); /* 17th digit 1: male */
    assert_int_equal(id.year, 1980);

    assert_int_equal(idcard_check_char("11010519491231002"), 'X');
    assert_int_equal(idcard_check_char("33048219900228002"), '0');
    assert_int_equal(idcard_check_char("1101051949123100"), 0); /* 16 digits */
    assert_int_equal(idcard_check_char("1101051949123100A"), 0);
    assert_int_equal(idcard_check_char(NULL), 0);
}

static void test_normalise(void **state)
{
    (void)state;
    ok("11010519491231002x", "11010519491231002X");
    ok("  11010519491231002X\t", "11010519491231002X");
    ok("\xe3\x80\x80" "11010519491231002X" "\xe3\x80\x80", "11010519491231002X");
    /* full-width digits and full-width x */
    ok("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X");
    ok("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X");
    bad("110105 19491231002X", "身份证号码含有非法字符");
    bad("11010519491231002Y", "身份证号码含有非法字符");
    bad("１１０１０５一九四九１２３１００２Ｘ", "身份证号码含有非法字符");
    bad("1101051949X231002X", "身份证号码含有非法字符（X 只能是最后一位）");
    bad("", "身份证号码为空");
    bad("   ", "身份证号码为空");
}

static void test_length(void **state)
{
    (void)state;
    bad("1101051949123100", "身份证号码长度应为18位（或15位旧号码）");
    bad("11010519491231002X1", "身份证号码长度应为18位（或15位旧号码）");
    bad("1101051949123100212345", "身份证号码长度应为18位（或15位旧号码）");
    bad("12345678901234567890123456789", "身份证号码长度应为18位（或15位旧号码）");
}

static void test_checksum(void **state)
{
    (void)state;
    bad("110105194912310021", "身份证号码校验位错误（应为 X）");
    bad("34052419800101001Y", "身份证号码含有非法字符");
    bad("340524198001010010", "身份证号码校验位错误（应为 X）");
    bad("33048219900228002X", "身份证号码校验位错误（应为 0）");
    /* a transposition of two digits is caught */
    bad("11015019491231002X", "身份证号码校验位错误（应为 1）");
}

static void test_fifteen(void **state)
{
    (void)state;
    idcard id;
    assert_null(idcard_parse("330422800101001", TODAY, &id));
    assert_string_equal(id.number, "33042219800101001X");
    assert_string_equal(id.region6, "330422"); /* old code kept as given */
    assert_int_equal(id.year, 1980);
    assert_int_equal(id.sex, 1);
    bad("33042280010100X", "15位旧身份证号码只能由数字组成");
    bad("330422800230001", "身份证号码中的出生日期无效");
}

static void test_birth_date(void **state)
{
    (void)state;
    ok("330482200002290013", "330482200002290013"); /* 2000 is a leap year */
    bad("330482190002290017", "身份证号码中的出生日期无效"); /* 1900 is not */
    bad("330482200102290010", "身份证号码中的出生日期无效");
    bad("330482199013010010", "身份证号码中的出生日期无效");
    bad("330482199004310010", "身份证号码中的出生日期无效");
    bad("330482199000000010", "身份证号码中的出生日期无效");
    ok("33048219000101001X", "33048219000101001X");
    bad("330482189912310015", "身份证号码中的出生日期早于1900年");
    /* born today is fine, tomorrow is not */
    ok("33048220261130001X", "33048220261130001X");
    bad("330482202612010014", "出生日期不能晚于今天");
    idcard id;
    assert_null(idcard_parse("330482202612010014", 20261201, &id));
    /* today_ymd 0 means "now": a birth in 2999 is always in the future */
    char n[19] = "33048229990101001";
    n[17] = idcard_check_char(n);
    n[18] = '\0';
    assert_string_equal(idcard_parse(n, 0, &id), "出生日期不能晚于今天");
}

static void test_region(void **state)
{
    (void)state;
    /* Pinghu's old prefixes stay valid for life */
    ok("332122197506150035", "332122197506150035");
    ok("33042219800101001X", "33042219800101001X");
    char n[19];
    const char *prefixes[] = {"110105", "650102", "710000", "810000", "820000", "830000", "910000"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        memcpy(n, prefixes[i], 6);
        memcpy(n + 6, "19800101001", 11);
        n[17] = idcard_check_char(n);
        n[18] = '\0';
        ok(n, n);
    }
    const char *badp[] = {"000000", "100000", "160000", "200000", "390000", "550000", "990000"};
    for (size_t i = 0; i < sizeof badp / sizeof *badp; i++) {
        memcpy(n, badp[i], 6);
        memcpy(n + 6, "19800101001", 11);
        n[17] = idcard_check_char(n);
        n[18] = '\0';
        bad(n, "身份证号码前两位不是有效的省级行政区划代码");
    }
}

static void test_mask(void **state)
{
    (void)state;
    char out[19];
    idcard_mask("330482199002280020", out, sizeof out);
    assert_string_equal(out, "330482********0020");
    idcard_mask("33048219900228002X", out, sizeof out);
    assert_string_equal(out, "330482********002X");
    idcard_mask("330422800101001", out, sizeof out);
    assert_string_equal(out, "330422*****1001");
    idcard_mask("12345", out, sizeof out);
    assert_string_equal(out, "*****");
    idcard_mask("33048219900228002?", out, sizeof out);
    assert_string_equal(out, "******************");
    idcard_mask("", out, sizeof out);
    assert_string_equal(out, "");
    char small[5];
    idcard_mask("330482199002280020", small, sizeof small);
    assert_string_equal(small, "3304");
    out[0] = 'z';
    idcard_mask("330482199002280020", out, 0); /* nothing written */
    assert_int_equal(out[0], 'z');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),   cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_length),    cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_fifteen),   cmocka_unit_test(test_birth_date),
        cmocka_unit_test(test_region),    cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
