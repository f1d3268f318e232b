/* Pinyin of Chinese names for search: staff find 张伟 by typing "zw" or
 * "zhangwei". Readings come from the generated table (pinyin_table.c). A
 * handful of family names are read differently from the everyday word (单
 * Shan not dan, 解 Xie not jie, 曾 Zeng not ceng): the name functions use the
 * surname reading for a Han character in surname position, i.e. the first Han
 * character of the text or the first after any non-Han character (so each
 * name of "张三、单勇" starts a new surname). The *_plain variants never do,
 * for place and organisation names (解放村 is jiefangcun). */
#include "std/pinyin.h"

#include "std/pinyin_table.h"

#include <stdbool.h>
#include <stdint.h>

/* Decodes one UTF-8 character at *p (advancing it); invalid bytes come back
 * as U+FFFD one byte at a time so garbage cannot stall the loop. */
static uint32_t next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    if (c < 0x80) {
        *p = s + 1;
        return c;
    }
    int len;
    uint32_t min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        c &= 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        c &= 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        c &= 0x07;
        min = 0x10000;
    } else {
        *p = s + 1;
        return 0xFFFD;
    }
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) {
            *p = s + 1;
            return 0xFFFD;
        }
        c = (c << 6) | (s[k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        *p = s + 1;
        return 0xFFFD;
    }
    *p = s + len;
    return c;
}

static bool is_han(uint32_t c)
{
    return (c >= 0x3400 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0x20000 && c <= 0x3FFFF) || c == 0x3007;
}

static const char *surname_reading(uint32_t c)
{
    unsigned lo = 0, hi = pinyin_nsurnames;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (pinyin_surnames[mid].cp < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < pinyin_nsurnames && pinyin_surnames[lo].cp == c)
        return pinyin_syllables[pinyin_surnames[lo].syllable];
    return NULL;
}

static const char *reading(uint32_t c, bool as_surname)
{
    if (c == 0x3007) /* 〇, the zero in written-out years and house numbers */
        return "ling";
    if (c < PINYIN_FIRST || c > PINYIN_LAST)
        return NULL;
    if (as_surname) {
        const char *s = surname_reading(c);
        if (s)
            return s;
    }
    unsigned short i = pinyin_index[c - PINYIN_FIRST];
    return i ? pinyin_syllables[i - 1] : NULL;
}

/* Letters and digits, ASCII or full-width, folded to lower-case ASCII; 0 for
 * anything else. */
static char ascii_alnum(uint32_t c)
{
    if (c >= 0xFF10 && c <= 0xFF19)
        c = '0' + (c - 0xFF10);
    else if (c >= 0xFF21 && c <= 0xFF3A)
        c = 'a' + (c - 0xFF21);
    else if (c >= 0xFF41 && c <= 0xFF5A)
        c = 'a' + (c - 0xFF41);
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return (char)c;
    return 0;
}

static size_t convert(const char *utf8, char *out, size_t cap, bool initials, bool names)
{
    size_t n = 0;
    if (out == NULL || cap == 0)
        return 0;
    out[0] = '\0';
    if (utf8 == NULL)
        return 0;
    const unsigned char *p = (const unsigned char *)utf8;
    bool surname_pos = true;
    while (*p) {
        uint32_t c = next_cp(&p);
        const char *tok = NULL;
        char one[2] = {0, 0};
        if (is_han(c)) {
            tok = reading(c, names && surname_pos);
            surname_pos = false;
        } else {
            one[0] = ascii_alnum(c);
            if (one[0])
                tok = one;
            surname_pos = true;
        }
        if (tok == NULL)
            continue;
        size_t len = 0;
        if (initials)
            len = 1;
        else
            while (tok[len])
                len++;
        if (n + len >= cap) /* whole syllables only: never a cut one */
            break;
        for (size_t k = 0; k < len; k++)
            out[n++] = tok[k];
        out[n] = '\0';
    }
    return n;
}

size_t pinyin_initials(const char *utf8, char *out, size_t cap)
{
    return convert(utf8, out, cap, true, true);
}

size_t pinyin_full(const char *utf8, char *out, size_t cap)
{
    return convert(utf8, out, cap, false, true);
}

size_t pinyin_initials_plain(const char *utf8, char *out, size_t cap)
{
    return convert(utf8, out, cap, true, false);
}

size_t pinyin_full_plain(const char *utf8, char *out, size_t cap)
{
    return convert(utf8, out, cap, false, false);
}
