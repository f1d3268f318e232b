/* Unified social credit codes of employers (GB 32100-2015): 18 characters
 * over 0-9 and the capitals without I, O, Z, S and V; the last one is a
 * MOD 31 check character. Employers type them into job postings and the
 * private-enterprise association's lists, so the parser folds full-width
 * characters and lower case before checking, and names the expected check
 * character when it is wrong. Characters 3-8 are the registering authority's
 * region code and so must be digits. */
#include "std/creditcode.h"

#include <stdbool.h>
#include <string.h>

static const char charset[] = "0123456789ABCDEFGHJKLMNPQRTUWXY"; /* value = index */
static const int weights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

static int value_of(char c)
{
    const char *p = c ? strchr(charset, c) : NULL;
    return p ? (int)(p - charset) : -1;
}

/* One message per check character (31 of them): constant strings, no buffer. */
static const char *check_msg(int v)
{
    static const char *const msg[31] = {
        "统一社会信用代码校验位错误（应为 0）", "统一社会信用代码校验位错误（应为 1）",
        "统一社会信用代码校验位错误（应为 2）", "统一社会信用代码校验位错误（应为 3）",
        "统一社会信用代码校验位错误（应为 4）", "统一社会信用代码校验位错误（应为 5）",
        "统一社会信用代码校验位错误（应为 6）", "统一社会信用代码校验位错误（应为 7）",
        "统一社会信用代码校验位错误（应为 8）", "统一社会信用代码校验位错误（应为 9）",
        "统一社会信用代码校验位错误（应为 A）", "统一社会信用代码校验位错误（应为 B）",
        "统一社会信用代码校验位错误（应为 C）", "统一社会信用代码校验位错误（应为 D）",
        "统一社会信用代码校验位错误（应为 E）", "统一社会信用代码校验位错误（应为 F）",
        "统一社会信用代码校验位错误（应为 G）", "统一社会信用代码校验位错误（应为 H）",
        "统一社会信用代码校验位错误（应为 J）", "统一社会信用代码校验位错误（应为 K）",
        "统一社会信用代码校验位错误（应为 L）", "统一社会信用代码校验位错误（应为 M）",
        "统一社会信用代码校验位错误（应为 N）", "统一社会信用代码校验位错误（应为 P）",
        "统一社会信用代码校验位错误（应为 Q）", "统一社会信用代码校验位错误（应为 R）",
        "统一社会信用代码校验位错误（应为 T）", "统一社会信用代码校验位错误（应为 U）",
        "统一社会信用代码校验位错误（应为 W）", "统一社会信用代码校验位错误（应为 X）",
        "统一社会信用代码校验位错误（应为 Y）",
    };
    return msg[v];
}

/* Check character for the first 17 characters (already upper-case), or 0
 * when one of them is outside the charset. */
char creditcode_check_char(const char *first17)
{
    if (first17 == NULL)
        return 0;
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        int v = value_of(first17[i]);
        if (v < 0)
            return 0;
        sum += v * weights[i];
    }
    int c = 31 - sum % 31;
    return charset[c == 31 ? 0 : c];
}

const char *creditcode_parse(const char *in, char out[19])
{
    char buf[19];
    int n = 0;
    bool seen = false, gap = false;
    out[0] = '\0';
    if (in == NULL)
        return "统一社会信用代码为空";
    const unsigned char *s = (const unsigned char *)in;
    while (*s) {
        char c;
        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            s++;
            gap = true;
            continue;
        }
        if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) { /* ideographic space */
            s += 3;
            gap = true;
            continue;
        }
        if (s[0] == 0xEF && s[1] == 0xBC && s[2] >= 0x90 && s[2] <= 0x99) { /* ０-９ */
            c = (char)('0' + (s[2] - 0x90));
            s += 3;
        } else if (s[0] == 0xEF && s[1] == 0xBC && s[2] >= 0xA1 && s[2] <= 0xBA) { /* Ａ-Ｚ */
            c = (char)('A' + (s[2] - 0xA1));
            s += 3;
        } else if (s[0] == 0xEF && s[1] == 0xBD && s[2] >= 0x81 && s[2] <= 0x9A) { /* ａ-ｚ */
            c = (char)('A' + (s[2] - 0x81));
            s += 3;
        } else if (*s < 0x80) {
            c = (char)*s;
            if (c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
            s++;
        } else {
            return "统一社会信用代码含有非法字符";
        }
        if (seen && gap)
            return "统一社会信用代码中间不能有空格";
        gap = false;
        seen = true;
        if (n >= 18)
            return "统一社会信用代码长度应为18位";
        buf[n++] = c;
    }
    if (n == 0)
        return "统一社会信用代码为空";
    if (n != 18)
        return "统一社会信用代码长度应为18位";
    buf[18] = '\0';
    for (int i = 0; i < 18; i++) {
        if (value_of(buf[i]) < 0) {
            char c = buf[i];
            if (c == 'I' || c == 'O' || c == 'Z' || c == 'S' || c == 'V')
                return "统一社会信用代码含有非法字符（不使用字母 I、O、Z、S、V）";
            return "统一社会信用代码含有非法字符";
        }
    }
    for (int i = 2; i < 8; i++)
        if (buf[i] < '0' || buf[i] > '9')
            return "统一社会信用代码第3至8位应为登记机关行政区划代码（数字）";
    char expect = creditcode_check_char(buf);
    if (buf[17] != expect)
        return check_msg(value_of(expect));
    memcpy(out, buf, 19);
    return NULL;
}
