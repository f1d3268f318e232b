/* Calendar dates: day-number arithmetic and a forgiving parser for the shapes
 * in which staff and spreadsheets write dates (2021-3-5, 2021年3月5日, 20210305,
 * Excel serial numbers). Day arithmetic uses the proleptic Gregorian
 * civil-from-days algorithms (H. Hinnant), so it never depends on timegm, the
 * TZ variable or the C library's range of time_t. "Today" is the civil date in
 * Asia/Shanghai, which is UTC+8 all year (no daylight saving since 1991). */
#include "std/cdate.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_len(int y, int m)
{
    static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

bool cdate_valid(int y, int m, int d)
{
    /* Four-digit years only: ISO text and the day numbers stay well defined. */
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= month_len(y, m);
}

int cdate_to_days(int y, int m, int d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const int yoe = y - era * 400;                                  /* [0, 399] */
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void cdate_from_days(int days, int *y, int *m, int *d)
{
    const int z = days + 719468;
    const int era = (z >= 0 ? z : z - 146096) / 146097;
    const int doe = z - era * 146097;                                     /* [0, 146096] */
    const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    const int mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    const int dd = doy - (153 * mp + 2) / 5 + 1;
    const int mm = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (mm <= 2);
    *m = mm;
    *d = dd;
}

int cdate_weekday(int days)
{
    /* 1970-01-01 was a Thursday (4). */
    int r = days % 7;
    if (r < 0)
        r += 7;
    return (r + 3) % 7 + 1;
}

void cdate_iso(int days, char out[11])
{
    int y, m, d;
    cdate_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) { /* out of ISO's four digits: say so rather than overflow */
        memcpy(out, "0000-00-00", 11);
        return;
    }
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

int cdate_today_days(void)
{
    /* Shift to UTC+8 and floor-divide, so the answer does not depend on the
     * server's TZ setting (servers usually run in UTC). */
    long long t = (long long)time(NULL) + 8 * 3600;
    long long q = t / 86400;
    if (t % 86400 < 0)
        q--;
    return (int)q;
}

int cdate_today_ymd(void)
{
    int y, m, d;
    cdate_from_days(cdate_today_days(), &y, &m, &d);
    return y * 10000 + m * 100 + d;
}

/* ---- parsing ------------------------------------------------------------- */

enum { NORM_CAP = 64 };

/* Copies IN into OUT with full-width digits and separators folded to ASCII and
 * surrounding white space (ASCII and the ideographic space U+3000) trimmed.
 * Returns the length, or -1 when the text is too long to be a date. */
static int normalise(const char *in, char out[NORM_CAP])
{
    const unsigned char *s = (const unsigned char *)in;
    int n = 0;
    while (*s) {
        unsigned char c = s[0];
        if (c == 0xEF && s[1] == 0xBC && s[2] >= 0x90 && s[2] <= 0x99) { /* ０-９ */
            c = (unsigned char)('0' + (s[2] - 0x90));
            s += 3;
        } else if (c == 0xEF && s[1] == 0xBC && (s[2] == 0x8D || s[2] == 0x8E || s[2] == 0x8F)) {
            c = (unsigned char)"-./"[s[2] - 0x8D]; /* －．／ */
            s += 3;
        } else if (c == 0xEF && s[1] == 0xBC && s[2] == 0x9A) { /* ： in a time part */
            c = ':';
            s += 3;
        } else if (c == 0xE3 && s[1] == 0x80 && s[2] == 0x80) { /* ideographic space */
            c = ' ';
            s += 3;
        } else if (c == 0xE2 && s[1] == 0x80 && (s[2] == 0x90 || s[2] == 0x91 || s[2] == 0x93)) {
            c = '-'; /* hyphen, non-breaking hyphen, en dash as typed by Word */
            s += 3;
        } else {
            s++;
        }
        if (n >= NORM_CAP - 1)
            return -1;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    int start = 0;
    while (start < n && (out[start] == ' ' || out[start] == '\t' || out[start] == '\r' || out[start] == '\n'))
        start++;
    while (n > start && (out[n - 1] == ' ' || out[n - 1] == '\t' || out[n - 1] == '\r' || out[n - 1] == '\n'))
        n--;
    memmove(out, out + start, (size_t)(n - start));
    out[n - start] = '\0';
    return n - start;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Reads 1..maxd digits at *p; returns the value or -1. */
static int read_num(const char **p, int mind, int maxd)
{
    int v = 0, k = 0;
    while (is_digit(**p) && k < maxd) {
        v = v * 10 + (**p - '0');
        (*p)++;
        k++;
    }
    if (k < mind || is_digit(**p))
        return -1;
    return v;
}

/* Accepts an optional time part after the date (" 0:00", " 08:30:00", "T08:30",
 * as spreadsheets and databases export it); the time is ignored. */
static bool time_tail_ok(const char *p)
{
    if (*p == '\0')
        return true;
    if (*p != ' ' && *p != 'T')
        return false;
    while (*p == ' ' || *p == 'T')
        p++;
    int groups = 0;
    for (;;) {
        int k = 0;
        while (is_digit(*p)) {
            p++;
            k++;
        }
        if (k < 1 || k > 2)
            return false;
        groups++;
        if (*p == ':' && groups < 3) {
            p++;
            continue;
        }
        break;
    }
    if (*p == '.') { /* fractional seconds */
        p++;
        while (is_digit(*p))
            p++;
    }
    return groups >= 2 && *p == '\0';
}

/* Messages for a year/month/day that do not form a date: constant strings so
 * the parser stays free of buffers and still names the problem. */
static const char *bad_date_msg(int y, int m, int d)
{
    static const char *const month31[13] = {
        NULL, NULL, NULL, NULL, "日期不存在（4月只有30天）", NULL, "日期不存在（6月只有30天）",
        NULL, NULL, "日期不存在（9月只有30天）", NULL, "日期不存在（11月只有30天）", NULL,
    };
    if (y < 1000)
        return "年份应为四位数字（例如 2021-03-05）";
    if (m < 1 || m > 12)
        return "日期中的月份无效（应为1到12月）";
    if (d < 1 || d > 31)
        return "日期中的日无效（应为1到31日）";
    if (m == 2) {
        if (d == 29)
            return "日期不存在（该年不是闰年，2月没有29日）";
        return d == 30 ? "日期不存在（2月30日）" : "日期不存在（2月31日）";
    }
    if (month31[m])
        return month31[m];
    return "日期不存在";
}

static const char *finish(int y, int m, int d, char out[11])
{
    if (!cdate_valid(y, m, d) || y < 1000)
        return bad_date_msg(y, m, d);
    cdate_iso(cdate_to_days(y, m, d), out);
    return NULL;
}

/* Excel's 1900 date system: serial 1 is 1900-01-01 and, copying Lotus 1-2-3,
 * serial 60 is the non-existent 1900-02-29; from 61 on serials are one ahead
 * of a true day count. 25569 is the serial of 1970-01-01. */
static const char *from_serial(long serial, char out[11])
{
    if (serial < 1 || serial > 2958465)
        return "Excel 日期序列号超出范围（应为1到2958465）";
    if (serial == 60)
        return "日期不存在（Excel 序列号60对应不存在的1900年2月29日）";
    long days = serial < 60 ? serial - 25568 : serial - 25569;
    cdate_iso((int)days, out);
    return NULL;
}

const char *cdate_parse(const char *in, char out[11])
{
    char buf[NORM_CAP];
    out[0] = '\0';
    if (in == NULL)
        return "日期为空";
    int n = normalise(in, buf);
    if (n < 0)
        return "日期格式无法识别（请使用 2021-03-05 格式）";
    if (n == 0)
        return "日期为空";

    /* A bare number: 8 digits is YYYYMMDD, otherwise an Excel serial. */
    int digits = 0;
    while (is_digit(buf[digits]))
        digits++;
    bool frac = buf[digits] == '.' && buf[digits + 1] != '\0';
    if (frac) {
        for (int i = digits + 1; buf[i]; i++)
            if (!is_digit(buf[i])) {
                frac = false;
                break;
            }
    }
    if (digits > 0 && (buf[digits] == '\0' || frac)) {
        if (digits == 8 && !frac) {
            int y = (buf[0] - '0') * 1000 + (buf[1] - '0') * 100 + (buf[2] - '0') * 10 + (buf[3] - '0');
            int m = (buf[4] - '0') * 10 + (buf[5] - '0');
            int d = (buf[6] - '0') * 10 + (buf[7] - '0');
            return finish(y, m, d, out);
        }
        if (digits > 6)
            return "日期格式无法识别（请使用 2021-03-05 格式）";
        long v = 0;
        for (int i = 0; i < digits; i++)
            v = v * 10 + (buf[i] - '0');
        /* A lone year or year+month is far likelier than a serial in 1905 or
         * the 2400s: refuse it instead of inventing a date. */
        if (!frac && digits == 4 && v >= 1900 && v <= 2099)
            return "日期缺少月和日（请使用 2021-03-05 格式）";
        if (!frac && digits == 6 && v / 100 >= 1900 && v / 100 <= 2099 && v % 100 >= 1 && v % 100 <= 12)
            return "日期缺少日（请使用 2021-03-05 格式）";
        return from_serial(v, out);
    }

    /* Separated forms: YYYY sep M sep D, with sep one of - / . or 年月日. */
    const char *p = buf;
    int y = read_num(&p, 4, 4);
    if (y < 0)
        return "日期格式无法识别（请使用 2021-03-05 格式）";
    static const char nian[] = "年", yue[] = "月", ri[] = "日", hao[] = "号";
    const size_t cj = sizeof nian - 1; /* each of these is 3 bytes in UTF-8 */
    int m, d;
    if (*p == '-' || *p == '/' || *p == '.') {
        char sep = *p++;
        m = read_num(&p, 1, 2);
        if (m < 0 || *p != sep)
            return m >= 0 && *p == '\0' ? "日期缺少日（请使用 2021-03-05 格式）"
                                        : "日期格式无法识别（请使用 2021-03-05 格式）";
        p++;
        d = read_num(&p, 1, 2);
        if (d < 0)
            return "日期格式无法识别（请使用 2021-03-05 格式）";
    } else if (strncmp(p, nian, cj) == 0) {
        p += cj;
        while (*p == ' ')
            p++;
        m = read_num(&p, 1, 2);
        while (*p == ' ')
            p++;
        if (m < 0 || strncmp(p, yue, cj) != 0)
            return "日期格式无法识别（请使用 2021-03-05 格式）";
        p += cj;
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return "日期缺少日（请使用 2021-03-05 格式）";
        d = read_num(&p, 1, 2);
        while (*p == ' ')
            p++;
        if (d < 0)
            return "日期格式无法识别（请使用 2021-03-05 格式）";
        if (strncmp(p, ri, cj) == 0 || strncmp(p, hao, cj) == 0)
            p += cj;
    } else {
        return "日期格式无法识别（请使用 2021-03-05 格式）";
    }
    if (!time_tail_ok(p))
        return "日期格式无法识别（请使用 2021-03-05 格式）";
    return finish(y, m, d, out);
}

static bool parse_iso(const char *in, int *days)
{
    if (in == NULL || strlen(in) != 10 || in[4] != '-' || in[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !is_digit(in[i]))
            return false;
    int y = (in[0] - '0') * 1000 + (in[1] - '0') * 100 + (in[2] - '0') * 10 + (in[3] - '0');
    int m = (in[5] - '0') * 10 + (in[6] - '0');
    int d = (in[8] - '0') * 10 + (in[9] - '0');
    if (!cdate_valid(y, m, d))
        return false;
    *days = cdate_to_days(y, m, d);
    return true;
}

int cdate_parse_iso(const char *in)
{
    int days;
    return parse_iso(in, &days) ? days : -1;
}

bool cdate_iso_to_days(const char *in, int *days)
{
    return parse_iso(in, days);
}
