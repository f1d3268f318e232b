/* Tests of src/std/pinyin.c and its generated table: initials and full
 * pinyin of names, surname readings (单 shan only as a surname), ü as v,
 * mixed text, and output that is cut only between syllables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "std/pinyin.h"

static void full(const char *in, const char *want)
{
    char out[128];
    size_t n = pinyin_full(in, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void initials(const char *in, const char *want)
{
    char out[128];
    size_t n = pinyin_initials(in, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void plain(const char *in, const char *want)
{
    char out[128];
    pinyin_full_plain(in, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_names(void **state)
{
    (void)state;
    initials("张伟", "zw");
    full("张伟", "zhangwei");
    full("王秀英", "wangxiuying");
    initials("王秀英", "wxy");
    full("李娜", "lina");
    full("欧阳修", "ouyangxiu");
    full("诸葛亮", "zhugeliang");
    full("吕绿", "lvlv");
    full("女", "nv");
    full("沈", "shen");
}

static void test_surnames(void **state)
{
    (void)state;
    full("单", "shan");
    full("单勇", "shanyong");
    initials("单勇", "sy");
    full("简单", "jiandan"); /* not a surname: the everyday reading */
    full("张单", "zhangdan");
    full("解放", "xiefang"); /* in a name, 解 first is Xie */
    plain("解放村", "jiefangcun");
    plain("单", "dan");
    char out[16];
    pinyin_initials_plain("单勇", out, sizeof out);
    assert_string_equal(out, "dy");
    full("曾国藩", "zengguofan");
    full("乐嘉", "yuejia");
    full("张乐", "zhangle");
    full("区", "ou");
    full("仇", "qiu");
    full("查", "zha");
    full("朴", "piao");
    full("尉迟恭", "yuchigong");
    full("秘", "bi");
    full("万", "wan");
    full("召", "shao");
    full("缪", "miao");
    full("翟", "zhai");
    full("员", "yun");
    full("解", "xie");
    /* each name in a list starts again in surname position */
    full("张三、单勇", "zhangsanshanyong");
    full("张三 曾一", "zhangsanzengyi");
}

static void test_mixed(void **state)
{
    (void)state;
    full("Li 明2", "liming2");
    initials("Li 明2", "lim2");
    full("ＡＢ张", "abzhang");
    full("阿依古丽·买买提", "ayigulimaimaiti");
    full("二〇二一", "erlingeryi");
    full("😀张", "zhang");
    full("\xff\xfe张", "zhang"); /* invalid UTF-8 skipped */
    full("", "");
    full("长春", "changchun");
    full("成都", "chengdu");
}

static void test_capacity(void **state)
{
    (void)state;
    char out[16];
    memset(out, 'z', sizeof out);
    assert_int_equal(pinyin_full("张伟", out, 6), 5); /* "wei" does not fit */
    assert_string_equal(out, "zhang");
    assert_int_equal(pinyin_full("张伟", out, 5), 0);
    assert_string_equal(out, "");
    assert_int_equal(pinyin_initials("张伟", out, 2), 1);
    assert_string_equal(out, "z");
    assert_int_equal(pinyin_full("张伟", out, 0), 0);
    assert_int_equal(pinyin_full(NULL, out, sizeof out), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_surnames),
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
