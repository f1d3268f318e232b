/* WAL checkpoints in a thread of their own (SQLite only). By default SQLite
 * checkpoints inside the commit that pushes the WAL past 1000 pages: the
 * unlucky committer — usually the audit writer, whose group commit every
 * audited view waits for — then also copies the WAL into the database and
 * syncs it, and every view of that batch waits tens of milliseconds longer.
 * While `vets serve` runs, connections opened after db_checkpointer_start()
 * leave that to this thread, which checkpoints passively (never blocking
 * readers or writers) four times a second. */
#include "db/db_impl.h"
#include "base/log.h"
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <time.h>

bool db_sqlite_no_autocheckpoint;   /* read by db_sqlite.c when it opens a connection */

static pthread_t thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool running, stopping;
static sqlite3 *h;

static void *loop(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250 * 1000000L;
        if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&cv, &mu, &until);
        pthread_mutex_unlock(&mu);
        int nlog = 0, nckpt = 0;
        int rc = sqlite3_wal_checkpoint_v2(h, "main", SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) log_error(NULL, "WAL checkpoint failed: %s", sqlite3_errmsg(h));
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int db_checkpointer_start(void) {
    const db_config *cfg = db_get_config();
    if (!cfg || cfg->url[0] || running) return 0;   /* PostgreSQL checkpoints by itself */
    if (sqlite3_open_v2(cfg->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        log_error(NULL, "checkpoint connection: %s", h ? sqlite3_errmsg(h) : "?");
        sqlite3_close(h);
        h = NULL;
        return -1;
    }
    sqlite3_busy_timeout(h, 1000);
    stopping = false;
    if (pthread_create(&thread, NULL, loop, NULL) != 0) { sqlite3_close(h); h = NULL; return -1; }
    running = true;
    db_sqlite_no_autocheckpoint = true;
    return 0;
}

void db_checkpointer_stop(void) {
    if (!running) return;
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    sqlite3_wal_checkpoint_v2(h, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    sqlite3_close(h);
    h = NULL;
    running = false;
    db_sqlite_no_autocheckpoint = false;
}
