/* Pinyin of Chinese names, for search by initials (张伟 → zw) and full pinyin
 * (zhangwei). The table is generated from Unihan kMandarin readings. */
#ifndef VETS_STD_PINYIN_H
#define VETS_STD_PINYIN_H
#include <stddef.h>
/* Writes lower-case initials of each Han character (other ASCII letters and
 * digits are copied lower-cased, other characters skipped); returns length. */
size_t pinyin_initials(const char *utf8, char *out, size_t cap);
/* Writes the toneless full pinyin of each Han character, concatenated. */
size_t pinyin_full(const char *utf8, char *out, size_t cap);
/* Both of the above read a Han character in surname position (the first one,
 * or the first after a non-Han character) with its surname reading: 单 shan,
 * 解 xie, 曾 zeng. The _plain variants never do, for place and organisation
 * names (解放村 → jiefangcun). Output is always NUL-terminated when cap > 0
 * and is cut only between syllables. */
size_t pinyin_initials_plain(const char *utf8, char *out, size_t cap);
size_t pinyin_full_plain(const char *utf8, char *out, size_t cap);
#endif
