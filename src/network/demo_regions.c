/* Demo villages: the official village list is not shipped (a real bureau
 * loads it), so the demo creates plausible villages and communities under each
 * town from data/demo/village_names.csv, with codes in the 统计用区划代码
 * pattern, and their stations. */
#include "network/network.h"
#include "modules.h"
#include "db/db.h"
#include "io/table_read.h"
#include <stdio.h>
#include <string.h>

int demo_villages(const char *ref, char *err, unsigned errcap) {
    char path[1024], e[256];
    snprintf(path, sizeof path, "%s/demo/village_names.csv", ref);
    table_reader *t = table_open(path, e, sizeof e);
    if (!t) { snprintf(err, errcap, "%s：%s", path, e); return -1; }
    db *d = db_thread();
    const char *const *c; int n, row, rc, count = 0, first = 1;
    int icode = 0, iname = 1, iparent = 2;
    db_begin(d);
    while ((rc = table_next(t, &c, &n, &row, e, sizeof e)) == 1) {
        if (first) {
            first = 0;
            for (int i = 0; i < n; i++) {
                if (strcmp(c[i], "code") == 0) icode = i;
                else if (strcmp(c[i], "name") == 0) iname = i;
                else if (strcmp(c[i], "town_code") == 0 || strcmp(c[i], "parent_code") == 0) iparent = i;
            }
            continue;
        }
        if (n <= icode || n <= iname || n <= iparent || strlen(c[icode]) != 12) continue;
        db_stmt *s = db_prep(d, "INSERT INTO regions(code, name, level, parent_code, note) VALUES (?,?,'village',?,?) "
                                "ON CONFLICT(code) DO NOTHING");
        db_bind_text(s, 1, c[icode]); db_bind_text(s, 2, c[iname]); db_bind_text(s, 3, c[iparent]);
        db_bind_text(s, 4, "演示数据（非官方区划）");
        db_step(s); db_reset(s);
        db_cache_invalidate(d);
        if (station_ensure(c[icode]) < 0) { snprintf(err, errcap, "创建村社区服务站失败：%s", c[icode]); rc = -2; break; }
        count++;
    }
    table_close(t);
    if (rc < 0) { db_rollback(d); if (rc == -1) snprintf(err, errcap, "%s", e); return -1; }
    db_commit(d);
    return count;
}

int demo_villages_module(const struct demo_opts *o, char *err, unsigned errcap);
int demo_villages_module(const struct demo_opts *o, char *err, unsigned errcap) {
    return demo_villages(o->ref_dir, err, errcap) < 0 ? -1 : 0;
}
