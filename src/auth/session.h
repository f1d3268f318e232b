/* Session lifecycle used by the login routes (internal to the auth layer). */
#ifndef VETS_AUTH_SESSION_H
#define VETS_AUTH_SESSION_H
#include "auth/auth.h"
int  session_create(req *r, int64_t uid, char csrf_out[33]);
void session_clear_cookie(req *r);
int  session_delete(const char *token_hash);
int  session_delete_user_others(int64_t uid, const char *keep_hash);
json_t *user_me_json(const user_ctx *u);
#endif
