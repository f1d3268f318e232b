/* WAL checkpoints in a thread of their own (SQLite only). By default SQLite
 * checkpoints inside the commit that pushes the WAL past 1000 pages: the
 * unlucky committer — usually the audit writer, whose group commit every
 * audited view waits for — then also copies the WAL into the database and
 * syncs it, and every view of that batch waits tens of milliseconds longer.
 * While `vets serve` runs, connections opened after db_checkpointer_start()
 * leave that to this thread, which checkpoints passively (never blocking
 * readers or writers) every CHECKPOINT_EVERY_MS. */
#include "db/db_impl.h"
#include "base/log.h"
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <time.h>

#define WAL_RESTART_FRAMES 65536  /* 256 MB of 4 KB pages */
#define RESTART_WAIT_MS 50
#define CHECKPOINT_EVERY_MS 250

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
        until.tv_nsec += CHECKPOINT_EVERY_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&cv, &mu, &until);
        pthread_mutex_unlock(&mu);
        int nlog = 0, nckpt = 0;
        int rc = sqlite3_wal_checkpoint_v2(h, "main", SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) log_error(NULL, "WAL checkpoint failed: %s", sqlite3_errmsg(h));
        if (rc == SQLITE_OK && nlog < 0) log_error(NULL, "WAL checkpoint: the database is not in WAL mode");
        /* Under steady load some reader always holds a recent snapshot, so
         * passive checkpoints alone never let the WAL start over from its
         * beginning, and every page read searches the WAL's index (one hash
         * table per 4 096 frames): with a 1.2 GB WAL, name searches ran 40 %
         * slower. Past WAL_RESTART_FRAMES, a RESTART checkpoint makes new
         * writers wait until the readers of older snapshots are done — at
         * most RESTART_WAIT_MS, mostly a few ms, requests being short (a long
         * export makes it give up until the next round) — and the next write
         * starts the WAL over. Measured at 1 000 000 persons: a threshold of
         * 64 MB, or checkpoints every 100 ms, tripled the p99 of audited views
         * (each checkpoint syncs the database file); 256 MB and 250 ms keep
         * it at ~10 ms. */
        if (rc == SQLITE_OK && nlog > WAL_RESTART_FRAMES) {
            sqlite3_busy_timeout(h, RESTART_WAIT_MS);
            rc = sqlite3_wal_checkpoint_v2(h, "main", SQLITE_CHECKPOINT_RESTART, NULL, NULL);
            sqlite3_busy_timeout(h, 1000);
            if (rc != SQLITE_OK && rc != SQLITE_BUSY) log_error(NULL, "WAL restart failed: %s", sqlite3_errmsg(h));
        }
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
    /* A connection opens the WAL at its first read: before that a checkpoint
     * on it reports "not in WAL mode" (-1 frames) and does nothing. */
    char *msg = NULL;
    if (sqlite3_exec(h, "PRAGMA journal_mode=WAL", NULL, NULL, &msg) != SQLITE_OK) {
        log_error(NULL, "checkpoint connection: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(h);
        h = NULL;
        return -1;
    }
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
