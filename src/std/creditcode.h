/* Unified social credit codes of employers (GB 32100-2015). */
#ifndef VETS_STD_CREDITCODE_H
#define VETS_STD_CREDITCODE_H
/* Validates an 18-character code (upper-cases it into out). NULL if valid, else a Chinese message. */
const char *creditcode_parse(const char *in, char out[19]);
/* Check character for the first 17 (upper-case) characters; 0 if any is
 * outside the GB 32100 charset. */
char creditcode_check_char(const char *first17);
#endif
