/* Group commit of the audit rows of reads (a person's file viewed). Every
 * view must be audited, durably, before its answer leaves; one fsync per view
 * would cap the server at about 1 500 views a second on this disk. So the
 * answer waits (the connection suspended, the worker thread free) while a
 * writer thread commits the rows of all views that arrived meanwhile in one
 * transaction, then releases them together. A failed commit turns every
 * answer of the batch into a 503: no view leaves unaudited. */
#include "auth/auth.h"
#include "base/log.h"
#include "db/db.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct item {
    struct item *next;
    req *r;
    char event[32], otype[24], oid[24];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct item *head, *tail;
static pthread_t thread;
static int running, stopping;

static void enqueue(req *r) {
    struct item *it = req_defer_data(r);
    pthread_mutex_lock(&mu);
    it->next = NULL;
    if (tail) tail->next = it; else head = it;
    tail = it;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static void *writer(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (!head && !stopping) pthread_cond_wait(&cv, &mu);
        struct item *batch = head;
        head = tail = NULL;
        int stop = stopping && !batch;
        pthread_mutex_unlock(&mu);
        if (stop) break;
        db *d = db_thread();
        int ok = db_begin(d) == DB_OK;
        for (struct item *it = batch; ok && it; it = it->next)
            ok = audit_log(it->r, it->event, it->otype, it->oid, "ok", NULL) == 0;
        if (ok) ok = db_commit(d) == DB_OK;
        else db_rollback(d);
        int n = 0;
        for (struct item *it = batch, *next; it; it = next) {
            next = it->next;
            if (!ok) reply_error(it->r, 503, "busy", NULL, "审计记录写入失败，请稍后重试");
            req_resume(it->r);   /* the item lives in the request's arena: not touched after this */
            n++;
        }
        if (!ok) log_error(NULL, "audit group commit of %d rows failed", n);
    }
    db_thread_close();
    return NULL;
}

int audit_batch_start(void) {
    if (running) return 0;
    stopping = 0;
    if (pthread_create(&thread, NULL, writer, NULL) != 0) return -1;
    running = 1;
    return 0;
}

void audit_batch_stop(void) {
    if (!running) return;
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    running = 0;
}

int audit_view(req *r, const char *event, const char *otype, const char *oid) {
    if (!running) return audit_log(r, event, otype, oid, "ok", NULL);   /* no writer: commit inline */
    struct item *it = arena_alloc(req_arena(r), sizeof *it);
    it->r = r;
    snprintf(it->event, sizeof it->event, "%s", event);
    snprintf(it->otype, sizeof it->otype, "%s", otype ? otype : "");
    snprintf(it->oid, sizeof it->oid, "%s", oid ? oid : "");
    req_set_defer_data(r, it);
    req_defer(r, enqueue);
    return 0;
}
