/* Resident ID numbers (GB 11643-1999): normalisation, validation, masking.
 * Pure functions with no knowledge of the bureau: staff type numbers in many
 * shapes (full-width digits, lower-case x, old 15-digit numbers) and the
 * registry must store one canonical 18-character form. */
#ifndef VETS_STD_IDCARD_H
#define VETS_STD_IDCARD_H
#include <stdbool.h>

typedef struct idcard {
    char number[19];   /* canonical 18 chars, check digit upper-case X */
    char region6[7];   /* first six digits as given (old codes are kept) */
    int year, month, day;
    int sex;           /* GB/T 2261.1: 1 male (17th digit odd), 2 female */
} idcard;

/* Normalises and validates INPUT. today_ymd (e.g. 20261130) bounds the birth
 * date. Returns NULL on success, else a Chinese message for the user. */
const char *idcard_parse(const char *input, int today_ymd, idcard *out);

/* Check character for the first 17 digits: '0'..'9' or 'X'; 0 if not digits. */
char idcard_check_char(const char *first17);

/* Masks to first 6 + '*' + last 4 (330482********1234). Shorter or odd input
 * is masked wholly. out must hold strlen(number)+1 bytes, 19 is enough. */
void idcard_mask(const char *number, char *out, unsigned outcap);

#endif
