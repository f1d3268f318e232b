/* The real vets server inside a fuzz target's process: see inproc.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "inproc.h"
#include "base/log.h"
#include "http/http.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int vets_main(int argc, char **argv);   /* src/main.c, compiled with -Dmain=vets_main */

#define ANSWER_CAP  (4u << 20)          /* keep at most this much of an answer */
#define HANG_MS     20000               /* no answer and no close: a hang */

static char dir[256];
static char password[128];
static char cookie[160], csrf[96];
static pthread_t serve_thread;
static int started;

static int64_t mono_ms(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what) {
    fprintf(stderr, "inproc: %s\n", what);
    abort();
}

/* main() of vets, with getopt reset (optind = 0 re-initialises GNU getopt). */
static int run_main(int argc, char **argv) {
    optind = 0;
    return vets_main(argc, argv);
}

static void *serve_main(void *arg) {
    (void)arg;
    char *argv[] = {"vets", "serve", "--data", dir, "--listen", "127.0.0.1:0", "--threads", "2",
                    "--conn-timeout", "5", NULL};
    run_main(10, argv);
    return NULL;
}

/* Settings that would make a fuzzer's run depend on its history: rate limits
 * and lockouts (a fuzz input may log in wrongly five times), the background
 * deadline job (writes on its own clock). */
static void tune_settings(void) {
    char path[300]; snprintf(path, sizeof path, "%s/vets.db", dir);
    sqlite3 *h = NULL;
    if (sqlite3_open(path, &h) != SQLITE_OK) die("cannot open the fuzz database");
    const char *sql =
        "UPDATE settings SET value = '0' WHERE key IN ('ratelimit.login_per_minute', 'ratelimit.costly_per_minute',"
        " 'requests.job_interval_seconds');"
        "UPDATE settings SET value = '1000000000' WHERE key = 'login.max_failures';";
    if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK) die(sqlite3_errmsg(h));
    sqlite3_close(h);
}

static void read_password(void) {
    char path[300]; snprintf(path, sizeof path, "%s/demo-accounts.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) die("no demo-accounts.txt");
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char user[64], pw[128];
        if (line[0] != '#' && sscanf(line, "%63[^\t]\t%127[^\t]", user, pw) == 2 && strcmp(user, "center") == 0) {
            snprintf(password, sizeof password, "%s", pw);
            break;
        }
    }
    fclose(f);
    if (!password[0]) die("no password for center");
}

static void login(void) {
    char body[300], reqb[600];
    snprintf(body, sizeof body, "{\"username\":\"center\",\"password\":\"%s\"}", password);
    int n = snprintf(reqb, sizeof reqb,
                     "POST /api/v1/auth/login HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
    struct inproc_answer a;
    inproc_exchange(reqb, (size_t)n, &a);
    if (a.status != 200) { fprintf(stderr, "%s\n", a.data); die("login failed"); }
    const char *c = strstr(a.data, "vets_session=");
    const char *t = strstr(a.data, "\"csrf_token\":\"");
    if (!c || !t) die("no session in the login answer");
    size_t cl = strcspn(c, ";\r\n");
    snprintf(cookie, sizeof cookie, "%.*s", (int)cl, c);
    t += strlen("\"csrf_token\":\"");
    snprintf(csrf, sizeof csrf, "%.*s", (int)strcspn(t, "\""), t);
    inproc_answer_free(&a);
}

void inproc_start(void) {
    if (started) return;
    started = 1;
    const char *base = getenv("VETS_FUZZ_TMP");
    snprintf(dir, sizeof dir, "%s/vets-fuzz-XXXXXX", base ? base : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"));
    if (!mkdtemp(dir)) die("mkdtemp");
    /* Speed over power-loss durability: this database is thrown away. */
    setenv("VETS_SYNCHRONOUS", "NORMAL", 1);
    if (!getenv("VETS_REF_DIR") && getenv("VETS_SRC")) {
        static char ref[600];
        snprintf(ref, sizeof ref, "%s/data", getenv("VETS_SRC"));
        setenv("VETS_REF_DIR", ref, 1);
    }
    /* vets init prints the accounts: keep the fuzzer's output readable. */
    fflush(stdout);
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    char *init[] = {"vets", "init", "--data", dir, "--demo", "--persons", "60", "--requests", "20", NULL};
    int rc = run_main(9, init);
    fflush(stdout);
    dup2(saved, 1); close(saved); close(devnull);
    if (rc != 0) die("vets init failed");
    tune_settings();
    read_password();
    log_set_level(getenv("VETS_FUZZ_LOG") ? LOG_INFO : LOG_ERROR);
    if (pthread_create(&serve_thread, NULL, serve_main, NULL) != 0) die("pthread_create");
    /* Ready when health answers. */
    for (int i = 0;; i++) {
        if (http_bound_port() > 0) {
            const char h[] = "GET /api/v1/health HTTP/1.1\r\nHost: fuzz\r\n\r\n";
            struct inproc_answer a;
            inproc_exchange(h, sizeof h - 1, &a);
            int ok = a.status == 200;
            inproc_answer_free(&a);
            if (ok) break;
        }
        if (i > 300) die("server did not start");
        usleep(20000);
    }
    login();
    fprintf(stderr, "inproc: vets serve running on %s (in this process)\n", dir);
}

const char *inproc_cookie(void) { return cookie; }
const char *inproc_csrf(void) { return csrf; }

void inproc_ensure_session(void) {
    char reqb[400];
    int n = snprintf(reqb, sizeof reqb, "GET /api/v1/auth/me HTTP/1.1\r\nHost: fuzz\r\nCookie: %s\r\n\r\n", cookie);
    struct inproc_answer a;
    inproc_exchange(reqb, (size_t)n, &a);
    int ok = a.status == 200;
    inproc_answer_free(&a);
    if (!ok) login();
}

static void append(struct inproc_answer *a, const char *p, size_t n, size_t *cap) {
    if (a->len >= ANSWER_CAP) return;
    if (n > ANSWER_CAP - a->len) n = ANSWER_CAP - a->len;
    if (a->len + n + 1 > *cap) {
        while (a->len + n + 1 > *cap) *cap *= 2;
        a->data = realloc(a->data, *cap);
    }
    memcpy(a->data + a->len, p, n);
    a->len += n;
    a->data[a->len] = 0;
}

void inproc_exchange(const void *req, size_t n, struct inproc_answer *out) {
    memset(out, 0, sizeof *out);
    size_t cap = 4096;
    out->data = malloc(cap);
    out->data[0] = 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(40000);
    sa.sin_addr.s_addr = htonl(0x7f000001);
    if (http_add_connection(sv[1], (const struct sockaddr *)&sa, sizeof sa) != 0) {
        close(sv[0]);
        return;   /* refused (connection limit): no answer */
    }
    int fd = sv[0];
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    const char *p = req;
    size_t sent = 0;
    int shut = 0;
    int64_t t0 = mono_ms();
    char buf[65536];
    for (;;) {
        /* Half-close only once the server has read every byte: libmicrohttpd
         * may miss an end of stream that comes with the last data. */
        if (sent == n && !shut) {
            int q = 0;
            if (ioctl(fd, SIOCOUTQ, &q) == 0 && q == 0) { shutdown(fd, SHUT_WR); shut = 1; }
        }
        struct pollfd pf = {fd, POLLIN | (sent < n ? POLLOUT : 0), 0};
        int pr = poll(&pf, 1, sent == n && !shut ? 1 : 50);
        if (pr < 0 && errno != EINTR) die("poll");
        if (pf.revents & POLLOUT && sent < n) {
            ssize_t w = send(fd, p + sent, n - sent, MSG_NOSIGNAL);
            if (w > 0) sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN) sent = n;     /* the server closed: stop writing */
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r > 0) append(out, buf, (size_t)r, &cap);
            else if (r == 0 || errno != EAGAIN) break;
        }
        if (mono_ms() - t0 > HANG_MS) {
            fprintf(stderr, "inproc: no answer and no close after %d ms (sent %zu of %zu bytes)\n", HANG_MS, sent, n);
            abort();
        }
    }
    close(fd);
    for (const char *s = out->data; (s = strstr(s, "HTTP/1.")) != NULL; s += 7) {
        if (s != out->data && s[-1] != '\n') continue;
        if (!out->answers++) out->status = atoi(s + 9);
    }
}

void inproc_answer_free(struct inproc_answer *a) { free(a->data); a->data = NULL; }

void inproc_check_answer(const struct inproc_answer *a, const void *req, size_t n) {
    for (const char *s = a->data; (s = strstr(s, "HTTP/1.")) != NULL; s += 7) {
        if (s != a->data && s[-1] != '\n') continue;
        int st = atoi(s + 9);
        /* 501/505 are libmicrohttpd's answers to unknown methods and HTTP
         * versions, 503 ours to overload: clean refusals, not failures. */
        if (st >= 500 && st != 501 && st != 503 && st != 505 && !getenv("VETS_FUZZ_ALLOW_500")) {
            fprintf(stderr, "inproc: answer %d to a %zu-byte request:\n%.*s\n--- answer ---\n%.2000s\n",
                    st, n, (int)(n < 4000 ? n : 4000), (const char *)req, a->data);
            abort();
        }
    }
}

long long inproc_json_int(const struct inproc_answer *a, const char *key) {
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *body = strstr(a->data, "\r\n\r\n");
    const char *k = body ? strstr(body, pat) : NULL;
    if (!k) return -1;
    return strtoll(k + strlen(pat), NULL, 10);
}
