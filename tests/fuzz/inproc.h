/* The real vets server inside a fuzz target's process.
 *
 * inproc_start() does what an operator does: `vets init --data DIR --demo`
 * then `vets serve --data DIR` — by calling main.c's own main (compiled
 * into the target as vets_main), so the fuzzer drives exactly the program
 * that ships: the real route table, guard, handlers, database and audit. The
 * serve command runs on a thread of its own, as it would in its process.
 *
 * Each request goes through a socketpair whose server end is handed to
 * libmicrohttpd (http_add_connection), so no TCP port, no TIME_WAIT, no
 * kernel network stack between the fuzzer and the parser. */
#ifndef VETS_FUZZ_INPROC_H
#define VETS_FUZZ_INPROC_H
#include <stddef.h>
#include <stdint.h>

/* Starts once per process (later calls return at once); aborts on failure.
 * The data folder is made in $VETS_FUZZ_TMP (run.sh: a folder it removes at
 * the end), else /dev/shm or /tmp, and is left there. */
void inproc_start(void);

/* The answer to one exchange. */
struct inproc_answer {
    int status;            /* first status line's code; 0 when none came */
    int answers;           /* status lines seen (pipelined requests) */
    char *data;            /* the raw answer, NUL-terminated (malloc'd) */
    size_t len;
};
/* Sends REQ on a fresh connection, half-closes, and reads until the server
 * closes. A server that neither answers nor closes within the limit is a
 * hang: the process aborts (a finding). */
void inproc_exchange(const void *req, size_t n, struct inproc_answer *out);
void inproc_answer_free(struct inproc_answer *a);

/* A logged-in session of the demo user `center` (all business permissions in
 * the whole county): the Cookie header value and the CSRF token. */
const char *inproc_cookie(void);
const char *inproc_csrf(void);
/* Logs in again if the session is gone (a fuzz input may log it out). */
void inproc_ensure_session(void);

/* Aborts when an answer is a 5xx other than 501/503/505 (clean refusals of
 * the parser and of overload): every input deserves a clean answer (set
 * VETS_FUZZ_ALLOW_500=1 to let them pass). */
void inproc_check_answer(const struct inproc_answer *a, const void *req, size_t n);

/* The integer value of the first "key": in the JSON body of an answer; -1
 * when absent. */
long long inproc_json_int(const struct inproc_answer *a, const char *key);
#endif
