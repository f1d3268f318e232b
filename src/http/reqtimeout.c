/* Request timeouts against slow clients (the "slowloris" attack), after
 * Apache's mod_reqtimeout. libmicrohttpd's connection timeout only counts
 * silence: a client that sends one byte a second is never silent, so it could
 * hold a connection (and, with enough of them, the server) for ever. Here every
 * connection is tracked from the moment MHD accepts it:
 *   - waiting for a request's headers: they must all arrive within
 *     header_timeout seconds (counted from the accept, or from the end of the
 *     previous answer on a kept-alive connection);
 *   - receiving a body: header_timeout seconds plus one more second for every
 *     BODY_MIN_RATE bytes received, so a client must keep up an average rate;
 *   - running the handler or sending the answer: not limited here (the
 *     handler's own time is ours, not the client's).
 * While the server drains for a stop, a connection waiting for its next
 * request is closed at once, and a body that has not moved for DRAIN_STALL_MS
 * is given up (a client that went away without the server noticing — MHD
 * misses a FIN that arrives with the last header bytes — would otherwise hold
 * the stop for the whole grace period).
 * A sweeper thread looks at the table a few times a second and cuts a late
 * connection with shutdown(2): MHD then sees the end of the stream on its next
 * read and closes the connection itself, with its usual clean-up. The table
 * entry goes away in MHD's "closed" notification, which MHD sends before it
 * closes the socket, and both sides hold the table's mutex, so the sweeper
 * never touches a descriptor number that has been reused. */
#include "http/internal.h"
#include "base/log.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BODY_MIN_RATE 500          /* bytes per second a body must average */
#define SWEEP_MS      200
#define DRAIN_STALL_MS 5000

struct conn_track {
    int fd;
    _Atomic int phase;             /* CT_HEADER, CT_BODY, CT_BUSY */
    _Atomic int64_t since_ms;      /* start of the phase */
    _Atomic uint64_t bytes;        /* body bytes received in CT_BODY */
    _Atomic int64_t last_ms;       /* last progress (phase start or body bytes) */
    int cut;
    char ip[64];
    struct conn_track *prev, *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct conn_track *head;
static int header_timeout_s = 30;
static int running, draining;
static pthread_t sweeper;

static int64_t now_ms(void) { return http_now_us() / 1000; }

void http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn_track *t = calloc(1, sizeof *t);
        if (!t) return;                    /* untracked: only MHD's idle timeout applies */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        t->fd = ci ? ci->connect_fd : -1;
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        http_format_addr(ci ? ci->client_addr : NULL, t->ip, sizeof t->ip);
        atomic_store(&t->phase, CT_HEADER);
        atomic_store(&t->since_ms, now_ms());
        atomic_store(&t->last_ms, now_ms());
        pthread_mutex_lock(&mu);
        t->next = head;
        if (head) head->prev = t;
        head = t;
        pthread_mutex_unlock(&mu);
        *socket_context = t;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct conn_track *t = *socket_context;
        if (!t) return;
        pthread_mutex_lock(&mu);
        if (t->prev) t->prev->next = t->next; else head = t->next;
        if (t->next) t->next->prev = t->prev;
        pthread_mutex_unlock(&mu);
        *socket_context = NULL;
        free(t);
    }
}

struct conn_track *http_conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void http_conn_phase(struct conn_track *t, int phase) {
    if (!t) return;
    int64_t now = now_ms();
    atomic_store(&t->phase, phase);
    atomic_store(&t->since_ms, now);
    atomic_store(&t->last_ms, now);
    atomic_store(&t->bytes, 0);
}

void http_conn_bytes(struct conn_track *t, size_t n) {
    if (!t) return;
    atomic_fetch_add(&t->bytes, n);
    atomic_store(&t->last_ms, now_ms());
}

static void *sweep(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    while (running) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SWEEP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&wake, &mu, &ts);
        if (!running) break;
        int64_t now = now_ms();
        for (struct conn_track *t = head; t; t = t->next) {
            if (t->cut || t->fd < 0) continue;
            int ph = atomic_load(&t->phase);
            int64_t age = now - atomic_load(&t->since_ms);
            int64_t limit = (int64_t)header_timeout_s * 1000;
            if (ph == CT_BUSY) continue;
            if (ph == CT_BODY) limit += (int64_t)(atomic_load(&t->bytes) * 1000 / BODY_MIN_RATE);
            bool late = age > limit;
            if (draining && (ph == CT_HEADER || now - atomic_load(&t->last_ms) > DRAIN_STALL_MS)) late = true;
            if (!late) continue;
            /* A kept-alive connection that simply sits idle is closed at the
             * same age by MHD's own timeout; only log the ones that talk. */
            if (ph == CT_BODY && !draining)
                log_warn(NULL, "来自 %s 的请求内容发送过慢（%lld 秒），连接已断开", t->ip, (long long)(age / 1000));
            shutdown(t->fd, SHUT_RDWR);
            t->cut = 1;
        }
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int http_reqtimeout_start(int header_timeout) {
    header_timeout_s = header_timeout > 0 ? header_timeout : 30;
    pthread_mutex_lock(&mu);
    running = 1;
    pthread_mutex_unlock(&mu);
    if (pthread_create(&sweeper, NULL, sweep, NULL) != 0) { running = 0; return -1; }
    return 0;
}

void http_reqtimeout_drain(void) {
    pthread_mutex_lock(&mu);
    draining = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&mu);
}

void http_reqtimeout_stop(void) {
    pthread_mutex_lock(&mu);
    if (!running) { pthread_mutex_unlock(&mu); return; }
    running = 0;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&mu);
    pthread_join(sweeper, NULL);
}
