/* Online backup and restore of the SQLite database.
 * Backup: the SQLite backup API copies a consistent snapshot while writers run
 * into FILE.tmp, which is fsync'd, checked with PRAGMA integrity_check and only
 * then renamed to FILE — a crash never leaves a half backup under the real name.
 * Restore: the backup is checked first, copied beside the live file, fsync'd
 * and renamed over it; stale WAL/SHM files are removed. The server must be
 * stopped (the restore refuses if the database is locked by a writer). */
#include "db/db.h"
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fsync_path(const char *p) {
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
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
    } else snprintf(err, errcap, "完整性检查无法执行：%s", sqlite3_errmsg(h));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return ok;
}

int backup_file(const char *out, char *err, unsigned errcap) {
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    unlink(tmp);
    if (db_backup_to(db_thread(), tmp, err, errcap) != 0) { unlink(tmp); return -1; }
    if (fsync_path(tmp) != 0) { snprintf(err, errcap, "备份文件写入磁盘失败"); unlink(tmp); return -1; }
    if (!integrity_ok(tmp, err, errcap)) { unlink(tmp); return -1; }
    if (rename(tmp, out) != 0) { snprintf(err, errcap, "无法把备份文件改名为 %s", out); unlink(tmp); return -1; }
    /* Make the rename itself durable. */
    char dir[1200]; snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = 0; fsync_path(*dir ? dir : "/"); } else fsync_path(".");
    return 0;
}

int restore_file(const char *data, const char *from, char *err, unsigned errcap) {
    if (!integrity_ok(from, err, errcap)) return -1;
    char live[1100], tmp[1200], wal[1200], shm[1200];
    snprintf(live, sizeof live, "%s/vets.db", data);
    snprintf(tmp, sizeof tmp, "%s.restore", live);
    snprintf(wal, sizeof wal, "%s-wal", live);
    snprintf(shm, sizeof shm, "%s-shm", live);
    /* Refuse while a server holds the database: take the write lock briefly. */
    if (access(live, F_OK) == 0) {
        sqlite3 *h = NULL;
        if (sqlite3_open(live, &h) == SQLITE_OK) {
            sqlite3_busy_timeout(h, 100);
            int rc = sqlite3_exec(h, "BEGIN EXCLUSIVE; COMMIT;", NULL, NULL, NULL);
            sqlite3_close(h);
            if (rc != SQLITE_OK) { snprintf(err, errcap, "数据库正在使用中：请先停止 vets serve"); return -1; }
        }
    }
    FILE *in = fopen(from, "rb"), *o = fopen(tmp, "wb");
    if (!in || !o) { if (in) fclose(in); if (o) fclose(o); snprintf(err, errcap, "无法读取备份或写入数据目录"); return -1; }
    char buf[65536]; size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, o) != n) { fclose(in); fclose(o); unlink(tmp); snprintf(err, errcap, "写入失败"); return -1; }
    fclose(in);
    if (fflush(o) != 0 || fsync(fileno(o)) != 0) { fclose(o); unlink(tmp); snprintf(err, errcap, "写入磁盘失败"); return -1; }
    fclose(o);
    unlink(wal); unlink(shm);
    if (rename(tmp, live) != 0) { unlink(tmp); snprintf(err, errcap, "无法替换数据库文件"); return -1; }
    fsync_path(data);
    return 0;
}
