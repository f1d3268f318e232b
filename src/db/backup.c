/* Online backup and restore of the SQLite database, and the data folder's lock.
 *
 * Backup: `VACUUM INTO` a temp file beside FILE, on a connection of its own.
 * It runs as one read transaction, so the copy is the database as of one
 * commit, and in WAL mode writers go on meanwhile (the backup API, by
 * contrast, restarts its copy whenever another connection writes: with
 * steady writers it may never finish). The copy is rebuilt page by page, so
 * no deleted row lingers in free pages of the backup (`secure_delete` only
 * covers the live file). The temp file is fsync'd, checked with PRAGMA
 * integrity_check and only then renamed to FILE, and the rename is made
 * durable: a crash never leaves a half backup under the real name.
 *
 * Restore: refused while a server runs on the folder (it holds DATA/vets.lock
 * shared; restore takes it exclusively, and also probes SQLite's write lock).
 * The backup is checked, copied into a staging folder inside DATA, fsync'd,
 * checked again by the caller (the audit chain), and renamed over vets.db; the
 * database it replaces is kept as vets.db.pre-restore (checkpointed first, so
 * it is whole without its WAL). */
#include "db/backup.h"
#include "db/db.h"
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_path(const char *p) {
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static void fsync_parent(const char *path) {
    char dir[1200]; snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = 0; fsync_path(*dir ? dir : "/"); } else fsync_path(".");
}

static int integrity_ok(const char *path, char *err, unsigned errcap) {
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "无法打开 %s", path); sqlite3_close(h); return 0;
    }
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *res = (const char *)sqlite3_column_text(st, 0);
        ok = res && strcmp(res, "ok") == 0;
        if (!ok) snprintf(err, errcap, "完整性检查失败：%s", res ? res : "?");
    } else snprintf(err, errcap, "%s 不是有效的备份文件：%s", path, sqlite3_errmsg(h));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return ok;
}

int backup_file(const char *out, char *err, unsigned errcap) {
    if (strcmp(db_backend(), "sqlite") != 0) {
        snprintf(err, errcap, "PostgreSQL 数据库请用 pg_dump / pg_basebackup 备份（见 docs/operations.md）");
        return -1;
    }
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    unlink(tmp);
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(db_get_config()->path, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "无法打开数据库 %s：%s", db_get_config()->path, h ? sqlite3_errmsg(h) : "?");
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h, "VACUUM INTO ?", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, tmp, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) snprintf(err, errcap, "备份失败：%s", sqlite3_errmsg(h));
    sqlite3_finalize(st);
    sqlite3_close(h);
    if (rc != SQLITE_DONE) { unlink(tmp); return -1; }
    chmod(tmp, 0600);
    if (fsync_path(tmp) != 0) { snprintf(err, errcap, "备份文件写入磁盘失败"); unlink(tmp); return -1; }
    if (!integrity_ok(tmp, err, errcap)) { unlink(tmp); return -1; }
    if (rename(tmp, out) != 0) { snprintf(err, errcap, "无法把备份文件改名为 %s：%s", out, strerror(errno)); unlink(tmp); return -1; }
    fsync_parent(out);   /* make the rename itself durable */
    return 0;
}

int data_lock(const char *data, bool exclusive, char *err, unsigned errcap) {
    char path[1100];
    snprintf(path, sizeof path, "%s/vets.lock", data);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) { snprintf(err, errcap, "无法创建锁文件 %s：%s", path, strerror(errno)); return -1; }
    if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
        snprintf(err, errcap, exclusive ? "数据目录 %s 正在被 vets serve 使用：请先停止服务"
                                        : "数据目录 %s 正在恢复备份：请等恢复完成后再启动", data);
        close(fd);
        return -1;
    }
    return fd;
}

/* Copies FROM to TO (created 0600) and fsyncs it. */
static int copy_file(const char *from, const char *to, char *err, unsigned errcap) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in < 0 || out < 0) {
        snprintf(err, errcap, "无法读取备份 %s 或写入数据目录：%s", from, strerror(errno));
        if (in >= 0) close(in);
        if (out >= 0) close(out);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w <= 0) { snprintf(err, errcap, "写入失败：%s", strerror(errno)); close(in); close(out); return -1; }
            off += w;
        }
    }
    int bad = n < 0 || fsync(out) != 0;
    close(in);
    if (close(out) != 0) bad = 1;
    if (bad) { snprintf(err, errcap, "恢复文件写入磁盘失败"); return -1; }
    return 0;
}

/* Folds the WAL into the file and leaves it in rollback-journal mode, so the
 * one file is the whole database. */
static int settle(const char *path) {
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) { sqlite3_close(h); return -1; }
    sqlite3_busy_timeout(h, 1000);
    int rc = sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;", NULL, NULL, NULL);
    sqlite3_close(h);
    return rc == SQLITE_OK ? 0 : -1;
}

static void remove_staging(const char *dir) {
    static const char *const names[] = {"vets.db", "vets.db-wal", "vets.db-shm", "vets.db-journal"};
    char p[1300];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int restore_file(const char *data, const char *from, restore_check_fn check, char *err, unsigned errcap) {
    if (mkdir(data, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "无法创建数据目录 %s：%s", data, strerror(errno));
        return -1;
    }
    int lock = data_lock(data, true, err, errcap);
    if (lock < 0) return -1;
    int rc = -1;
    char live[1100], wal[1200], shm[1200], prev[1200], stage[1200], staged[1300];
    snprintf(live, sizeof live, "%s/vets.db", data);
    snprintf(wal, sizeof wal, "%s-wal", live);
    snprintf(shm, sizeof shm, "%s-shm", live);
    snprintf(prev, sizeof prev, "%s.pre-restore", live);
    snprintf(stage, sizeof stage, "%s/restore-XXXXXX", data);
    bool staged_made = false;

    /* A writer that does not hold the folder lock (an older binary, a shell
     * with an open transaction): SQLite's own write lock tells. */
    if (access(live, F_OK) == 0) {
        sqlite3 *h = NULL;
        if (sqlite3_open_v2(live, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
            sqlite3_busy_timeout(h, 100);
            int lrc = sqlite3_exec(h, "BEGIN IMMEDIATE; COMMIT;", NULL, NULL, NULL);
            sqlite3_close(h);
            if (lrc != SQLITE_OK) { snprintf(err, errcap, "数据库正在使用中：请先停止 vets serve"); goto done; }
        } else sqlite3_close(h);
    }
    if (!integrity_ok(from, err, errcap)) goto done;
    if (!mkdtemp(stage)) { snprintf(err, errcap, "无法创建临时目录：%s", strerror(errno)); goto done; }
    staged_made = true;
    snprintf(staged, sizeof staged, "%s/vets.db", stage);
    if (copy_file(from, staged, err, errcap) != 0) goto done;
    if (check && check(stage, err, errcap) != 0) goto done;
    if (settle(staged) != 0 || fsync_path(staged) != 0) { snprintf(err, errcap, "恢复文件整理失败"); goto done; }
    if (access(live, F_OK) == 0) {
        /* A damaged database may not settle: then its WAL is kept beside it. */
        char prev_wal[1300];
        snprintf(prev_wal, sizeof prev_wal, "%s-wal", prev);
        unlink(prev_wal);
        if (settle(live) != 0 && access(wal, F_OK) == 0) rename(wal, prev_wal);
        if (rename(live, prev) != 0) { snprintf(err, errcap, "无法保留现有数据库：%s", strerror(errno)); goto done; }
    }
    unlink(wal); unlink(shm);
    if (rename(staged, live) != 0) { snprintf(err, errcap, "无法替换数据库文件：%s", strerror(errno)); goto done; }
    fsync_path(data);
    rc = 0;
done:
    if (staged_made) remove_staging(stage);
    close(lock);
    return rc;
}
