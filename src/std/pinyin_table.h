/* Private to pinyin.c: the generated reading tables (pinyin_table.c, made by
 * scripts/gen_pinyin.py from Unihan). Not for other modules. */
#ifndef VETS_STD_PINYIN_TABLE_H
#define VETS_STD_PINYIN_TABLE_H

#define PINYIN_FIRST 0x3400u
#define PINYIN_LAST  0x9FFFu

struct pinyin_surname {
    unsigned short cp;       /* code point, U+3400..U+9FFF */
    unsigned short syllable; /* index into pinyin_syllables */
};

extern const unsigned pinyin_nsyllables;
extern const char *const pinyin_syllables[];
/* 1 + index into pinyin_syllables, per code point from PINYIN_FIRST; 0 = none. */
extern const unsigned short pinyin_index[PINYIN_LAST - PINYIN_FIRST + 1];
/* Sorted by cp: readings used when the character stands as a surname. */
extern const unsigned pinyin_nsurnames;
extern const struct pinyin_surname pinyin_surnames[];

#endif
