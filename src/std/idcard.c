/* Resident ID numbers (GB 11643-1999). Staff copy numbers from paper files,
 * Word documents and spreadsheets, so the parser folds full-width digits and
 * lower-case x, trims spaces and upgrades old 15-digit numbers before it
 * checks the birth date and the ISO 7064 MOD 11-2 check character. It never
 * checks the address code against today's region list: numbers issued under
 * codes that no longer exist (Pinghu's 332122 and 330422) are still valid
 * for life. Every refusal is a distinct Chinese message for the user. */
#include "std/idcard.h"

#include "std/cdate.h"

#include <string.h>

static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
static const char check_chars[] = "10X98765432";

char idcard_check_char(const char *first17)
{
    if (first17 == NULL)
        return 0;
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (first17[i] < '0' || first17[i] > '9')
            return 0;
        sum += (first17[i] - '0') * weights[i];
    }
    return check_chars[sum % 11];
}

/* Province-level prefixes of GB/T 2260 (plus 71 Taiwan, 81/82 Hong Kong and
 * Macao, 83 the Taiwan residents' permit series and 91 the foreigners'
 * permanent residence ID), as a bit set indexed by the two-digit prefix. */
static bool province_ok(int p)
{
    static const unsigned char ok[100] = {
        [11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1,
        [21] = 1, [22] = 1, [23] = 1,
        [31] = 1, [32] = 1, [33] = 1, [34] = 1, [35] = 1, [36] = 1, [37] = 1,
        [41] = 1, [42] = 1, [43] = 1, [44] = 1, [45] = 1, [46] = 1,
        [50] = 1, [51] = 1, [52] = 1, [53] = 1, [54] = 1,
        [61] = 1, [62] = 1, [63] = 1, [64] = 1, [65] = 1,
        [71] = 1, [81] = 1, [82] = 1, [83] = 1, [91] = 1,
    };
    return p >= 0 && p < 100 && ok[p];
}

/* One message per possible check character, so the message can name the
 * expected character without a buffer. */
static const char *check_msg(char expect)
{
    static const char *const msg[11] = {
        "身份证号码校验位错误（应为 0）", "身份证号码校验位错误（应为 1）",
        "身份证号码校验位错误（应为 2）", "身份证号码校验位错误（应为 3）",
        "身份证号码校验位错误（应为 4）", "身份证号码校验位错误（应为 5）",
        "身份证号码校验位错误（应为 6）", "身份证号码校验位错误（应为 7）",
        "身份证号码校验位错误（应为 8）", "身份证号码校验位错误（应为 9）",
        "身份证号码校验位错误（应为 X）",
    };
    return expect == 'X' ? msg[10] : msg[expect - '0'];
}

enum { NORM_CAP = 24 };

/* Folds the input to ASCII digits and upper-case X, trimming white space
 * (ASCII, the ideographic space, no-break space). Returns the length, -1 for
 * a character that can never be part of a number, -2 when too long. */
static int normalise(const char *in, char out[NORM_CAP])
{
    const unsigned char *s = (const unsigned char *)in;
    int n = 0;
    int pending_space = 0; /* spaces are allowed only at the ends */
    bool seen = false;
    while (*s) {
        char c;
        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            s++;
            pending_space = 1;
            continue;
        }
        if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) { /* U+3000 */
            s += 3;
            pending_space = 1;
            continue;
        }
        if (s[0] == 0xC2 && s[1] == 0xA0) { /* U+00A0 from copied web pages */
            s += 2;
            pending_space = 1;
            continue;
        }
        if (s[0] >= '0' && s[0] <= '9') {
            c = (char)s[0];
            s++;
        } else if (s[0] == 'x' || s[0] == 'X') {
            c = 'X';
            s++;
        } else if (s[0] == 0xEF && s[1] == 0xBC && s[2] >= 0x90 && s[2] <= 0x99) { /* ０-９ */
            c = (char)('0' + (s[2] - 0x90));
            s += 3;
        } else if ((s[0] == 0xEF && s[1] == 0xBC && s[2] == 0xB8) ||  /* Ｘ */
                   (s[0] == 0xEF && s[1] == 0xBD && s[2] == 0x98)) { /* ｘ */
            c = 'X';
            s += 3;
        } else {
            return -1;
        }
        if (pending_space && seen)
            return -1; /* a space inside the number */
        pending_space = 0;
        seen = true;
        if (n >= NORM_CAP - 1)
            return -2;
        out[n++] = c;
    }
    out[n] = '\0';
    return n;
}

static int num(const char *s, int k)
{
    int v = 0;
    for (int i = 0; i < k; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

const char *idcard_parse(const char *input, int today_ymd, idcard *out)
{
    char buf[NORM_CAP];
    char id[19];
    memset(out, 0, sizeof *out);
    if (input == NULL)
        return "身份证号码为空";
    int n = normalise(input, buf);
    if (n == -1)
        return "身份证号码含有非法字符";
    if (n == 0)
        return "身份证号码为空";
    if (n != 18 && n != 15)
        return "身份证号码长度应为18位（或15位旧号码）";
    for (int i = 0; i < n - 1; i++)
        if (buf[i] == 'X')
            return "身份证号码含有非法字符（X 只能是最后一位）";
    if (n == 15) {
        if (buf[14] == 'X')
            return "15位旧身份证号码只能由数字组成";
        /* GB 11643: the old number carries a two-digit year of the 1900s. */
        memcpy(id, buf, 6);
        id[6] = '1';
        id[7] = '9';
        memcpy(id + 8, buf + 6, 9);
        id[17] = idcard_check_char(id);
        id[18] = '\0';
    } else {
        memcpy(id, buf, 19);
    }

    if (!province_ok(num(id, 2)))
        return "身份证号码前两位不是有效的省级行政区划代码";

    int y = num(id + 6, 4), m = num(id + 10, 2), d = num(id + 12, 2);
    if (!cdate_valid(y, m, d))
        return "身份证号码中的出生日期无效";
    if (y < 1900)
        return "身份证号码中的出生日期早于1900年";
    if (today_ymd <= 0)
        today_ymd = cdate_today_ymd();
    if (y * 10000 + m * 100 + d > today_ymd)
        return "出生日期不能晚于今天";

    if (n == 18) {
        char expect = idcard_check_char(id);
        if (id[17] != expect)
            return check_msg(expect);
    }

    memcpy(out->number, id, 19);
    memcpy(out->region6, id, 6);
    out->region6[6] = '\0';
    out->year = y;
    out->month = m;
    out->day = d;
    out->sex = (id[16] - '0') % 2 == 1 ? 1 : 2;
    return NULL;
}

void idcard_mask(const char *number, char *out, unsigned outcap)
{
    if (out == NULL || outcap == 0)
        return;
    if (number == NULL) {
        out[0] = '\0';
        return;
    }
    size_t len = strlen(number);
    bool shaped = len == 18 || len == 15;
    for (size_t i = 0; shaped && i < len; i++)
        if (!((number[i] >= '0' && number[i] <= '9') || number[i] == 'X' || number[i] == 'x'))
            shaped = false;
    size_t i = 0;
    for (; i < len && i + 1 < outcap; i++) {
        bool keep = shaped && (i < 6 || i >= len - 4);
        out[i] = keep ? number[i] : '*';
    }
    out[i] = '\0';
}
