/* libFuzzer target for the national-standard parsers staff input reaches
 * first: ID numbers (idcard_parse, GB 11643), dates (cdate_parse: ISO,
 * slashes, 年月日, Excel serials), credit codes (GB 32100), text encoding
 * detection and GBK → UTF-8, pinyin. Besides "no crash, no leak, no UB" it
 * checks what the parsers promise:
 *   - a parse either succeeds or returns a (non-empty) message;
 *   - an accepted ID number is canonical (18 characters, digits and a final
 *     X, a correct check character, a real birth date) and parses again to
 *     itself; its mask is 6 + 8 stars + 4;
 *   - an accepted date is ISO YYYY-MM-DD of a real day and round-trips
 *     through the day number;
 *   - UTF-8 produced from any bytes is valid UTF-8.
 * The first byte picks the parser; the rest is the input (NUL-terminated). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "std/cdate.h"
#include "std/creditcode.h"
#include "std/idcard.h"
#include "std/pinyin.h"
#include "std/textenc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static void fuzz_id(const char *s) {
    idcard id;
    const char *msg = idcard_parse(s, 20261130, &id);
    if (msg) { CHECK(*msg); return; }
    CHECK(strlen(id.number) == 18);
    for (int i = 0; i < 17; i++) CHECK(id.number[i] >= '0' && id.number[i] <= '9');
    CHECK((id.number[17] >= '0' && id.number[17] <= '9') || id.number[17] == 'X');
    CHECK(idcard_check_char(id.number) == id.number[17]);
    CHECK(cdate_valid(id.year, id.month, id.day));
    CHECK(id.year * 10000 + id.month * 100 + id.day <= 20261130);
    CHECK(id.sex == 1 || id.sex == 2);
    idcard again;
    CHECK(idcard_parse(id.number, 20261130, &again) == NULL);
    CHECK(strcmp(again.number, id.number) == 0);
    char m[19];
    idcard_mask(id.number, m, sizeof m);
    CHECK(strlen(m) == 18 && memcmp(m, id.number, 6) == 0 && memcmp(m + 14, id.number + 14, 4) == 0);
    CHECK(strspn(m + 6, "*") == 8);
}

static void fuzz_date(const char *s) {
    char iso[11];
    memset(iso, 0x55, sizeof iso);
    const char *msg = cdate_parse(s, iso);
    if (msg) { CHECK(*msg); return; }
    CHECK(strlen(iso) == 10 && iso[4] == '-' && iso[7] == '-');
    int days;
    CHECK(cdate_iso_to_days(iso, &days));
    char back[11];
    cdate_iso(days, back);
    CHECK(strcmp(back, iso) == 0);
    int y, mo, d;
    cdate_from_days(days, &y, &mo, &d);
    CHECK(cdate_valid(y, mo, d) && cdate_to_days(y, mo, d) == days);
    CHECK(cdate_weekday(days) >= 1 && cdate_weekday(days) <= 7);
    (void)cdate_parse_iso(s);
}

static void fuzz_credit(const char *s) {
    char out[19];
    const char *msg = creditcode_parse(s, out);
    if (msg) { CHECK(*msg); return; }
    CHECK(strlen(out) == 18);
    CHECK(creditcode_check_char(out) == out[17]);
}

static void fuzz_text(const uint8_t *b, size_t n) {
    (void)textenc_detect(b, n);
    size_t len = 0;
    char *u = textenc_to_utf8((const char *)b, n, &len);
    if (u) { CHECK(textenc_valid_utf8((const unsigned char *)u, len)); free(u); }
    u = textenc_gb_to_utf8((const char *)b, n, &len);
    if (u) {
        CHECK(textenc_valid_utf8((const unsigned char *)u, len));
        char py[256];
        /* Pinyin takes UTF-8: feed it what the converter made. */
        size_t k = pinyin_initials(u, py, sizeof py); CHECK(k < sizeof py);
        k = pinyin_full(u, py, sizeof py); CHECK(k < sizeof py);
        k = pinyin_initials_plain(u, py, sizeof py); CHECK(k < sizeof py);
        k = pinyin_full_plain(u, py, sizeof py); CHECK(k < sizeof py);
        free(u);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    switch (data[0] % 4) {
    case 0: fuzz_id(s); break;
    case 1: fuzz_date(s); break;
    case 2: fuzz_credit(s); break;
    case 3: fuzz_text(data + 1, size - 1); break;
    }
    free(s);
    return 0;
}
