/* TOTP second factor (see totp.c). */
#ifndef VETS_AUTH_TOTP_H
#define VETS_AUTH_TOTP_H
#include "auth/auth.h"
enum totp_result { TOTP_NOT_USED, TOTP_OK, TOTP_MISSING, TOTP_BAD, TOTP_ENROL };
/* At login: checks CODE for user U (and remembers its step). */
enum totp_result totp_check_login(arena *a, const user_ctx *u, const char *code);
bool totp_required_for(arena *a, const user_ctx *u);
/* The 6-digit code of a base32 secret at a 30-second step (tests, tools). */
int totp_code(const char *secret_b32, int64_t step);
extern const struct route totp_routes[];
extern const size_t totp_routes_count;
#endif
