/* vets — the command line. One binary, subcommands:
 *   serve    run the HTTP API and the web UI
 *   init     create or migrate a data folder (--demo: demo data and accounts)
 *   audit    verify the audit hash chain
 *   backup / restore   consistent online copy of the database
 *   import   import persons from .xlsx/.csv
 * Each subcommand explains itself with --help. */
#include "auth/auth.h"
#include "base/crypto.h"
#include "base/fieldcrypt.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "db/backup.h"
#include "db/copy.h"
#include "db/db.h"
#include "db/migrate.h"
#include "http/http.h"
#include "modules.h"
#include "network/network.h"
#include "requests/requests.h"
#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef VETS_SOURCE_DIR
#define VETS_SOURCE_DIR "."
#endif
#define VETS_VERSION "0.1.0"

void auth_init_dummy(void);

static const char *default_ref(void) {
    const char *e = getenv("VETS_REF_DIR");
    return e ? e : VETS_SOURCE_DIR "/data";
}
static const char *default_web(void) {
    const char *e = getenv("VETS_WEB_DIR");
    return e ? e : VETS_SOURCE_DIR "/web/dist";
}

static int ensure_dir(const char *d) {
    if (mkdir(d, 0700) != 0 && errno != EEXIST) { fprintf(stderr, "无法创建目录 %s：%s\n", d, strerror(errno)); return -1; }
    return 0;
}

/* Opens (creating if needed) the data folder: migrations and reference data.
 * Returns 1 when the folder was empty (fresh), 0 when it existed, -1 on error. */
static const char *key_file_opt;
static const char *db_opt;   /* --db as given (see take_db_option), for the commands that do not take it */

/* The key file of the encrypted columns: --keys, VETS_KEY_FILE, or DIR/vets.keys.
 * It is created only for a database without persons (a new folder): a
 * missing key file for existing data is an error, never a fresh key. */
static int open_keys(const char *data, bool may_create) {
    char path[1100];
    const char *env = getenv("VETS_KEY_FILE");
    snprintf(path, sizeof path, "%s", key_file_opt ? key_file_opt : env ? env : "");
    if (!path[0]) snprintf(path, sizeof path, "%s/vets.keys", data);
    char err[512];
    if (fc_init(path, may_create, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return -1; }
    return 0;
}

/* Uploaded import files hold personal data in clear: they are kept a day for
 * the preview → commit → error sheet steps, then removed. */
static void clean_tmp(const char *data, int max_age_hours) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/tmp", data);
    DIR *d = opendir(dir);
    if (!d) return;
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[1400]; struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > max_age_hours * 3600) unlink(p);
    }
    closedir(d);
}

static int schema_limit = 1 << 30;   /* vets init --schema N: tests of migrating old folders */

static int open_data(const char *data, const char *ref) {
    if (ensure_dir(data) != 0) return -1;
    char tmp[1100]; snprintf(tmp, sizeof tmp, "%s/tmp", data);
    if (ensure_dir(tmp) != 0) return -1;
    char err[512];
    if (db_configure(data, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return -1; }
    db *d = db_thread();
    int before = migrate_current(d);
    int n = migrate_up_to(d, schema_limit, err, sizeof err);
    if (n < 0) { fprintf(stderr, "%s\n", err); return -1; }
    if (n > 0) log_info(NULL, "数据库迁移：应用 %d 个（版本 %d → %d）", n, before, migrate_current(d));
    if (schema_limit < (1 << 30)) return before == 0 ? 1 : 0;   /* an old schema: reference data may not fit it */
    if (open_keys(data, db_query_int(d, "SELECT COUNT(*) FROM persons", NULL, 0) == 0) != 0) return -1;
    /* One transaction under a lock: nodes starting together load in turn. */
    if (db_begin(d) != DB_OK || db_lock_serial(d, "refdata") != DB_OK) { fprintf(stderr, "数据库忙：%s\n", db_errmsg(d)); db_rollback(d); return -1; }
    if (refdata_load(ref, err, sizeof err) != 0) { fprintf(stderr, "参考数据加载失败：%s\n", err); db_rollback(d); return -1; }
    if (requests_refdata_load(ref, err, sizeof err) != 0) { fprintf(stderr, "诉求参考数据加载失败：%s\n", err); db_rollback(d); return -1; }
    if (db_commit(d) != DB_OK) { fprintf(stderr, "参考数据加载失败：%s\n", db_errmsg(d)); return -1; }
    return before == 0 ? 1 : 0;
}

static int64_t center_station(void) {
    return db_query_int(db_thread(), "SELECT id FROM stations WHERE level = 'center' ORDER BY id LIMIT 1", NULL, -1);
}

/* Station of the town/village whose region name is NAME. */
static int64_t station_by_region_name(const char *name) {
    return db_query_int(db_thread(), "SELECT s.id FROM stations s JOIN regions g ON g.code = s.region_code "
                                     "WHERE g.name = ? AND g.valid_to IS NULL ORDER BY s.id LIMIT 1", name, -1);
}

static int64_t first_village_of(const char *town) {
    return db_query_int(db_thread(), "SELECT s.id FROM stations s JOIN regions g ON g.code = s.region_code "
                                     "JOIN regions t ON t.code = g.parent_code WHERE t.name = ? AND s.level = 'village' "
                                     "ORDER BY g.code LIMIT 1", town, -1);
}

struct account { const char *username, *name, *role, *station_hint; int64_t (*station)(const char *); };

static int64_t st_center(const char *h) { (void)h; return center_station(); }
static int64_t st_town(const char *h) { return station_by_region_name(h); }
static int64_t st_village(const char *h) { return first_village_of(h); }

/* Writes accounts to DIR/FILE (0600) and prints them. */
static int create_accounts(const char *data, const char *file, const struct account *acc, size_t n, bool must_change) {
    char path[1100]; snprintf(path, sizeof path, "%s/%s", data, file);
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "无法写入 %s\n", path); return -1; }
    chmod(path, 0600);
    db *d = db_thread();
    db_begin(d);
    fprintf(f, "# vets 账户（请妥善保管，用后删除本文件）\n# 用户名\t密码\t角色\t所属服务站\n");
    printf("\n  %-10s %-16s %-16s %s\n", "用户名", "密码", "角色", "所属服务站");
    for (size_t i = 0; i < n; i++) {
        int64_t sid = acc[i].station(acc[i].station_hint);
        if (sid < 0) { fprintf(stderr, "找不到账户 %s 的服务站\n", acc[i].username); db_rollback(d); fclose(f); return -1; }
        char pw[32], err[200];
        password_generate(pw, sizeof pw);
        int64_t uid = user_create(acc[i].username, acc[i].name, sid, pw, must_change, err, sizeof err);
        if (uid < 0 || user_grant_role(uid, acc[i].role, err, sizeof err) != 0) {
            fprintf(stderr, "创建账户 %s 失败：%s\n", acc[i].username, err);
            db_rollback(d); fclose(f); return -1;
        }
        char *sname = NULL;
        db_stmt *s = db_prep(d, "SELECT name FROM stations WHERE id = ?");
        db_bind_int(s, 1, sid);
        if (db_step(s) == DB_ROW) sname = strdup(db_col_text(s, 0));
        db_reset(s);
        fprintf(f, "%s\t%s\t%s\t%s\n", acc[i].username, pw, acc[i].role, sname ? sname : "");
        printf("  %-10s %-16s %-16s %s\n", acc[i].username, pw, acc[i].role, sname ? sname : "");
        free(sname);
        audit_event_as(NULL, "init", "127.0.0.1", "user.create", "user", acc[i].username, "ok",
                     json_pack("{s:s}", "role", acc[i].role));
    }
    fclose(f);
    return db_commit(d) == DB_OK ? 0 : -1;
}

static const struct account admin_accounts[] = {
    {"sysadmin", "系统管理员", "sysadmin", NULL, st_center},
    {"secadmin", "安全管理员", "secadmin", NULL, st_center},
    {"auditor", "审计管理员", "auditor", NULL, st_center},
};

static const struct account demo_accounts[] = {
    {"center", "中心工作人员", "center", NULL, st_center},
    {"danghu", "当湖街道工作人员", "town", "当湖街道", st_town},
    {"zhapu", "乍浦镇工作人员", "town", "乍浦镇", st_town},
    {"xincang", "新仓镇工作人员", "town", "新仓镇", st_town},
    {"cun", "村社区工作人员", "village", "当湖街道", st_village},
    {"leader", "局领导", "leader", NULL, st_center},
};

static void usage_init(void) {
    printf("用法：vets init --data DIR [--demo] [--persons N] [--requests M] [--ref DIR]\n"
           "  创建或升级数据目录：应用数据库迁移、加载参考数据（区划、代码表、日历）。\n"
           "  新目录会生成三员账户（系统管理员、安全管理员、审计管理员）的初始密码，只显示一次，\n"
           "  并写入 DIR/initial-accounts.txt（权限 0600），首次登录须修改。\n"
           "  --demo        生成演示数据（村社区、约 20000 名人员、诉求）和演示账户，\n"
           "                账户与密码写入 DIR/demo-accounts.txt（权限 0600）\n"
           "  --persons N   演示人员数（默认 20000）\n"
           "  --requests M  演示诉求数（默认 人员数/10）\n"
           "  --ref DIR     参考数据目录（默认 %s）\n", default_ref());
}

static int do_demo(const char *data, const char *ref, long persons, long requests) {
    struct demo_opts o = {ref, persons, requests, 20261130u};
    char err[512];
    for (size_t i = 0; i < vets_modules_count; i++) {
        if (!vets_modules[i].demo) continue;
        if (vets_modules[i].demo(&o, err, sizeof err) != 0) {
            fprintf(stderr, "演示数据（%s）生成失败：%s\n", vets_modules[i].name, err);
            return -1;
        }
    }
    printf("演示账户（已写入 %s/demo-accounts.txt）：", data);
    return create_accounts(data, "demo-accounts.txt", demo_accounts, sizeof demo_accounts / sizeof *demo_accounts, false);
}

static bool has_users(void) { return db_query_int(db_thread(), "SELECT COUNT(*) FROM users", NULL, 0) > 0; }

static int first_admins(const char *data) {
    printf("已创建三员账户（初始密码只显示这一次，已写入 %s/initial-accounts.txt，首次登录须修改）：", data);
    return create_accounts(data, "initial-accounts.txt", admin_accounts, 3, true);
}

static int cmd_init(int argc, char **argv) {
    const char *data = NULL, *ref = default_ref();
    int demo = 0; long persons = 20000, requests = -1;
    static struct option opts[] = {{"data", 1, 0, 'd'}, {"demo", 0, 0, 'D'}, {"persons", 1, 0, 'p'},
                                   {"requests", 1, 0, 'q'}, {"ref", 1, 0, 'r'}, {"schema", 1, 0, 'S'},
                                   {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'S': schema_limit = atoi(optarg); break;
        case 'd': data = optarg; break;
        case 'D': demo = 1; break;
        case 'p': persons = atol(optarg); break;
        case 'q': requests = atol(optarg); break;
        case 'r': ref = optarg; break;
        case 'h': usage_init(); return 0;
        default: usage_init(); return 2;
        }
    }
    if (!data) { usage_init(); return 2; }
    if (persons < 0 || persons > 50000000) { fprintf(stderr, "--persons 超出范围\n"); return 2; }
    if (requests < 0) requests = persons / 10;
    int fresh = open_data(data, ref);
    if (fresh < 0) return 1;
    if (schema_limit < (1 << 30)) { printf("数据目录 %s 停在数据库版本 %d（测试用）\n", data, migrate_current(db_thread())); return 0; }
    if (!has_users() && first_admins(data) != 0) return 1;
    if (demo) {
        if (db_query_int(db_thread(), "SELECT COUNT(*) FROM users WHERE username = 'center'", NULL, 0) > 0) {
            fprintf(stderr, "该数据目录已有演示数据\n");
            return 1;
        }
        if (do_demo(data, ref, persons, requests) != 0) return 1;
    }
    printf("\n数据目录 %s 已就绪（数据库版本 %d）。\n", data, migrate_current(db_thread()));
    return 0;
}

static volatile sig_atomic_t stop_flag;

static void usage_serve(void) {
    printf("用法：vets serve --data DIR [--listen 127.0.0.1:8080] [--threads N] [--web DIR] [--ref DIR]\n"
           "  启动服务：/api/v1 下的 JSON 接口和网页界面。空目录会先初始化（见 vets init）。\n"
           "  SIGTERM/SIGINT：停止接收新连接，等待进行中的请求完成后退出。\n"
           "  --listen HOST:PORT  监听地址（默认 127.0.0.1:8080；端口 0 表示自动选择）\n"
           "  --threads N         工作线程数（默认 4）\n"
           "  --web DIR           网页界面目录（默认 %s）\n"
           "  --port-file FILE    启动后把实际端口写入 FILE（测试用）\n"
           "  --max-inflight N    同时处理的请求数上限，超出时答 503 + Retry-After（默认 256）\n"
           "  --conn-timeout S    连接静默超时和请求头的接收时限，秒（默认 30；请求内容另加每 500 字节 1 秒）\n"
           "  --trusted-proxy A   反向代理的地址或网段（如 10.0.0.5、10.0.0.0/24；可重复，可用逗号分隔）：\n"
           "                      来自这些地址的请求按代理转发的请求头取客户端地址，其他来源忽略该请求头\n"
           "  --real-ip-header H  代理转发客户端地址的请求头：X-Forwarded-For（默认）或 X-Real-IP\n"
           "  --test-clock        允许测试通过 /api/v1/test/clock 拨快时钟（仅供测试）\n", default_web());
}

static void test_clock_route(req *r) {
    json_t *b = req_json(r);
    if (!b) return;
    json_t *o = json_object_get(b, "offset_seconds");
    if (!json_is_integer(o)) { reply_error(r, 422, "validation_failed", "offset_seconds", "offset_seconds 必须是整数"); return; }
    clock_set_offset(json_integer_value(o));
    reply_json(r, 200, json_pack("{s:I}", "now", (json_int_t)now_unix()));
}
static const struct route test_routes[] = {
    {"POST", "/api/v1/test/clock", "public", test_clock_route, ROUTE_PUBLIC | ROUTE_NO_CSRF},
};

static void health(req *r) {
    int64_t v = migrate_current(db_thread());
    reply_json(r, 200, json_pack("{s:s,s:s,s:I,s:s}", "status", "ok", "version", VETS_VERSION,
                                 "schema", (json_int_t)v, "database", db_backend()));
}
extern const char vets_openapi_yaml[];
static void openapi(req *r) {
    size_t n = strlen(vets_openapi_yaml);
    char *copy = malloc(n);
    memcpy(copy, vets_openapi_yaml, n);
    reply_bytes(r, 200, "application/yaml; charset=utf-8", copy, n, NULL);
}

static const struct route public_routes[] = {
    {"GET", "/api/v1/health", "public", health, ROUTE_PUBLIC},
    {"GET", "/api/v1/openapi.yaml", "public", openapi, ROUTE_PUBLIC},
};

/* Registers every module's routes (refused when a route lacks a permission). */
static int register_routes(bool test_clock) {
    for (size_t i = 0; i < vets_modules_count; i++)
        if (http_add_routes(vets_modules[i].routes, *vets_modules[i].nroutes, perm_known) != 0) return -1;
    if (http_add_routes(public_routes, sizeof public_routes / sizeof *public_routes, perm_known) != 0) return -1;
    if (test_clock && http_add_routes(test_routes, 1, perm_known) != 0) return -1;
    return 0;
}

/* vets routes: the route table as TSV (method, path, permission, flags) —
 * for the OpenAPI check and the access tests. */
static int cmd_routes(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("用法：vets routes\n  列出全部接口：方法、路径、所需权限、标志（public/upload/costly）。\n");
        return 0;
    }
    if (register_routes(false) != 0) return 1;
    for (size_t i = 0; i < http_route_count(); i++) {
        const struct route *rt = http_route_at(i);
        printf("%s\t%s\t%s\t%s%s%s%s\n", rt->method, rt->pattern, rt->perm,
               rt->flags & ROUTE_PUBLIC ? "public," : "", rt->flags & ROUTE_UPLOAD ? "upload," : "",
               rt->flags & ROUTE_COSTLY ? "costly," : "", rt->flags & ROUTE_PRE_CHANGE ? "pre_change," : "");
    }
    return 0;
}

static int cmd_serve(int argc, char **argv) {
    const char *data = NULL, *ref = default_ref(), *web = default_web(), *listen_at = "127.0.0.1:8080",
               *port_file = NULL;
    int threads = 4, test_clock = 0, max_inflight = 256, conn_timeout = 30;
    static struct option opts[] = {{"data", 1, 0, 'd'}, {"listen", 1, 0, 'l'}, {"threads", 1, 0, 't'},
                                   {"web", 1, 0, 'w'}, {"ref", 1, 0, 'r'}, {"port-file", 1, 0, 'P'},
                                   {"test-clock", 0, 0, 'T'}, {"max-inflight", 1, 0, 'M'},
                                   {"conn-timeout", 1, 0, 'C'}, {"trusted-proxy", 1, 0, 'X'},
                                   {"real-ip-header", 1, 0, 'R'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'l': listen_at = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'M': max_inflight = atoi(optarg); break;
        case 'C': conn_timeout = atoi(optarg); break;
        case 'w': web = optarg; break;
        case 'r': ref = optarg; break;
        case 'P': port_file = optarg; break;
        case 'T': test_clock = 1; break;
        case 'X':
            if (http_trust_proxy(optarg) != 0) {
                fprintf(stderr, "--trusted-proxy 无效：%s（应为 IP 地址或“地址/前缀长度”，多个用逗号分隔）\n", optarg);
                return 2;
            }
            break;
        case 'R':
            if (http_set_real_ip_header(optarg) != 0) {
                fprintf(stderr, "--real-ip-header 只能是 X-Forwarded-For 或 X-Real-IP\n");
                return 2;
            }
            break;
        case 'h': usage_serve(); return 0;
        default: usage_serve(); return 2;
        }
    }
    if (!data) { usage_serve(); return 2; }
    if (threads < 1 || threads > 64) { fprintf(stderr, "--threads 须在 1–64 之间\n"); return 2; }
    if (max_inflight < 1 || max_inflight > 100000) { fprintf(stderr, "--max-inflight 须在 1–100000 之间\n"); return 2; }
    if (conn_timeout < 1 || conn_timeout > 3600) { fprintf(stderr, "--conn-timeout 须在 1–3600 秒之间\n"); return 2; }
    char host[256]; int port = 8080;
    const char *colon = strrchr(listen_at, ':');
    if (!colon || colon == listen_at || (size_t)(colon - listen_at) >= sizeof host) { fprintf(stderr, "--listen 格式应为 HOST:PORT\n"); return 2; }
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen_at), listen_at);
    port = atoi(colon + 1);
    if (port < 0 || port > 65535) { fprintf(stderr, "端口无效\n"); return 2; }

    if (ensure_dir(data) != 0) return 1;
    char lerr[600];
    if (data_lock(data, false, lerr, sizeof lerr) < 0) { fprintf(stderr, "%s\n", lerr); return 1; }   /* held until exit */
    if (open_data(data, ref) < 0) return 1;
    /* Several nodes may serve one PostgreSQL database; a command that must run
     * alone (vets rekey) waits for none of them to run. */
    if (!db_node_join(db_thread())) { fprintf(stderr, "数据库维护命令（如 vets rekey）正在运行：请待其结束后再启动服务\n"); return 1; }
    if (!has_users() && first_admins(data) != 0) return 1;
    clean_tmp(data, 24);
    auth_init_dummy();
    if (register_routes(test_clock) != 0) return 1;
    auth_install_guard();

    /* Signals are taken synchronously by this thread; workers never see them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM); sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char tmp[1100]; snprintf(tmp, sizeof tmp, "%s/tmp", data);
    struct stat st;
    struct http_config hc = {
        .listen_host = host, .port = port, .threads = threads,
        .max_body = 1 << 20, .max_upload = (size_t)512 << 20,
        .web_root = stat(web, &st) == 0 ? web : NULL, .tmp_dir = tmp,
        .max_inflight = max_inflight, .conn_timeout = conn_timeout,
    };
    if (!hc.web_root) log_warn(NULL, "网页界面目录 %s 不存在：只提供接口（先运行 make web）", web);
    if (db_checkpointer_start() != 0) { log_error(NULL, "无法启动数据库检查点线程"); return 1; }
    if (audit_batch_start() != 0) { log_error(NULL, "无法启动审计写入线程"); return 1; }
    if (http_start(&hc) != 0) return 1;
    int bound = http_bound_port();
    if (port_file) {
        /* Written beside it and renamed: whoever waits for the file never
         * reads it half-written (seen as port "NaN" by a test under ASan). */
        char tmpf[1200];
        snprintf(tmpf, sizeof tmpf, "%s.tmp", port_file);
        FILE *f = fopen(tmpf, "w");
        if (f) {
            fprintf(f, "%d\n", bound);
            if (fclose(f) != 0 || rename(tmpf, port_file) != 0) unlink(tmpf);
        }
    }
    if (requests_job_start() != 0) { http_stop(0); return 1; }
    log_info(NULL, "vets %s 已启动：http://%s:%d/ （数据目录 %s）", VETS_VERSION, host, bound, data);
    printf("vets 已启动：http://%s:%d/\n", host, bound);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    log_info(NULL, "收到信号 %d：停止接收新请求，等待进行中的请求完成", sig);
    http_stop(10000);
    audit_batch_stop();   /* after the HTTP layer: deferred answers need it until the end */
    requests_job_stop();
    db_checkpointer_stop();
    db_thread_close();
    log_info(NULL, "已停止");
    return 0;
}

static int cmd_audit(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        printf("用法：vets audit verify --data DIR\n  校验审计日志哈希链，报告第一条被篡改或缺失的记录。\n");
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    const char *data = NULL;
    static struct option opts[] = {{"data", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c; optind = 2;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        if (c == 'd') data = optarg;
        else { printf("用法：vets audit verify --data DIR\n"); return c == 'h' ? 0 : 2; }
    }
    if (!data) { fprintf(stderr, "缺少 --data\n"); return 2; }
    char err[512];
    if (db_configure(data, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    int64_t rows = 0;
    char why[256];
    int64_t broken = audit_verify(&rows, why, sizeof why);
    if (broken) { printf("审计链校验失败：%s（共检查 %lld 条）\n", why, (long long)rows); return 1; }
    printf("审计链完整：共 %lld 条记录\n", (long long)rows);
    return 0;
}

static int cmd_backup(int argc, char **argv) {
    const char *data = NULL, *out = NULL;
    static struct option opts[] = {{"data", 1, 0, 'd'}, {"out", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
        if (c == 'd') data = optarg;
        else if (c == 'o') out = optarg;
        else {
            printf("用法：vets backup --data DIR --out FILE\n  在线备份（服务运行中也可执行）：写入临时文件、同步到磁盘、完整性检查后改名为 FILE。\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!data || !out) { fprintf(stderr, "缺少 --data 或 --out\n"); return 2; }
    char err[512];
    if (db_configure(data, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    if (backup_file(out, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    audit_event_as(NULL, "cli", "127.0.0.1", "system.backup", "database", out, "ok", NULL);
    printf("备份完成：%s\n", out);
    return 0;
}

/* The staged copy of a restore goes live only with an intact audit chain. */
static int restore_check(const char *staged_dir, char *err, unsigned errcap) {
    if (db_configure(staged_dir, err, errcap) != 0) return -1;
    int64_t rows = 0;
    char why[256];
    int64_t broken = audit_verify(&rows, why, sizeof why);
    db_thread_close();
    if (broken) { snprintf(err, errcap, "备份的审计链校验失败：%s", why); return -1; }
    return 0;
}

static int cmd_restore(int argc, char **argv) {
    const char *data = NULL, *from = NULL;
    static struct option opts[] = {{"data", 1, 0, 'd'}, {"from", 1, 0, 'f'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:f:h", opts, NULL)) != -1) {
        if (c == 'd') data = optarg;
        else if (c == 'f') from = optarg;
        else {
            printf("用法：vets restore --data DIR --from FILE\n  用备份文件恢复数据目录（须先停止服务）。恢复前校验备份的完整性和审计链。\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!data || !from) { fprintf(stderr, "缺少 --data 或 --from\n"); return 2; }
    char err[600];
    /* The SQLite file of DATA, whatever VETS_DB says; PostgreSQL restores with its own tools. */
    if (db_opt) { fprintf(stderr, "vets restore 只恢复 SQLite 数据库；PostgreSQL 请用 pgBackRest 恢复（见 docs/deployment.md）\n"); return 2; }
    db_select("");
    if (restore_file(data, from, restore_check, err, sizeof err) != 0) { fprintf(stderr, "恢复失败：%s\n", err); return 1; }
    if (db_configure(data, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    audit_event_as(NULL, "cli", "127.0.0.1", "system.restore", "database", from, "ok", NULL);
    printf("恢复完成：%s（原数据库保留为 vets.db.pre-restore）\n", data);
    char keys[1100];
    snprintf(keys, sizeof keys, "%s/vets.keys", data);
    if (!key_file_opt && !getenv("VETS_KEY_FILE") && access(keys, F_OK) != 0)
        printf("注意：%s 不存在。加密的身份证号码和银行账号需要备份时的密钥文件，请把它放回（权限 0400）后再启动服务。\n", keys);
    return 0;
}

int import_persons_cli(const char *file, const user_ctx *u, bool valid_only, bool dry_run,
                       int64_t *created, int64_t *updated, int64_t *errors, char *err, unsigned errcap);

static void usage_import(void) {
    printf("用法：vets import persons --data DIR [--user 用户名] [--valid-only] [--dry-run] 文件.xlsx|文件.csv\n"
           "  从 Excel（.xlsx）或 CSV（UTF-8 或 GBK）导入人员档案，规则与网页导入相同：\n"
           "  身份证号码相同的人员更新，不重复建档；默认全部无误才导入。\n"
           "  --user NAME    以该用户身份导入（按其管辖范围校验，审计记在其名下；默认 center）\n"
           "  --valid-only   只导入无误的行，错误行跳过并列出行数\n"
           "  --dry-run      只检查，不写入\n");
}

static int cmd_import(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "persons") != 0) { usage_import(); return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2; }
    const char *data = NULL, *user = "center";
    int valid_only = 0, dry = 0;
    static struct option opts[] = {{"data", 1, 0, 'd'}, {"user", 1, 0, 'u'}, {"valid-only", 0, 0, 'v'},
                                   {"dry-run", 0, 0, 'n'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c; optind = 2;
    while ((c = getopt_long(argc, argv, "d:u:h", opts, NULL)) != -1) {
        if (c == 'd') data = optarg;
        else if (c == 'u') user = optarg;
        else if (c == 'v') valid_only = 1;
        else if (c == 'n') dry = 1;
        else { usage_import(); return c == 'h' ? 0 : 2; }
    }
    if (!data || optind >= argc) { usage_import(); return 2; }
    const char *file = argv[optind];
    char err[512];
    if (db_configure(data, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    if (open_keys(data, false) != 0) return 1;
    int64_t uid = db_query_int(db_thread(), "SELECT id FROM users WHERE username = ? AND active = 1", user, -1);
    user_ctx u;
    if (uid < 0 || user_load_ctx(uid, &u) != 0) { fprintf(stderr, "用户 %s 不存在或已停用\n", user); return 1; }
    if (!user_can(&u, "person.import")) { fprintf(stderr, "用户 %s 没有导入人员档案的权限\n", user); return 1; }
    int64_t created = 0, updated = 0, errors = 0;
    int rc = import_persons_cli(file, &u, valid_only, dry, &created, &updated, &errors, err, sizeof err);
    if (rc != 0) { fprintf(stderr, "导入失败：%s\n", err); return 1; }
    printf("%s：新建 %lld 人，更新 %lld 人，错误行 %lld（%s）\n", dry ? "检查完成（未写入）" : "导入完成",
           (long long)created, (long long)updated, (long long)errors, errors ? "已跳过" : "无");
    return 0;
}

int registry_reseal(int64_t *count, char *err, size_t errcap);

static void usage_migrate_db(void) {
    printf("用法：vets migrate-db --from DIR --to postgresql://所有者@主机:端口/库名\n"
           "  把县级部署（DIR 中的 SQLite 数据库）整体迁入 PostgreSQL：两边先升级到同一数据库版本，\n"
           "  再在一个事务中复制全部表（编号不变，审计链、加密字段随之完整），最后校验审计链。\n"
           "  目标库须为新建的空库，连接用拥有该库的角色（它执行迁移并给应用角色授权）。\n"
           "  源库只读；复制期间请停止县里的 vets serve。之后把 DIR/vets.keys 复制到每个节点的数据目录。\n");
}

/* vets migrate-db: a county moves from SQLite to PostgreSQL (docs/deployment.md). */
static int cmd_migrate_db(int argc, char **argv) {
    const char *from = NULL, *to = NULL;
    static struct option opts[] = {{"from", 1, 0, 'f'}, {"to", 1, 0, 't'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "f:t:h", opts, NULL)) != -1) {
        if (c == 'f') from = optarg;
        else if (c == 't') to = optarg;
        else { usage_migrate_db(); return c == 'h' ? 0 : 2; }
    }
    if (!from || !to) { usage_migrate_db(); return 2; }
    char path[1100], err[512];
    snprintf(path, sizeof path, "%s/vets.db", from);
    struct stat st;
    if (stat(path, &st) != 0) { fprintf(stderr, "%s 中没有 SQLite 数据库（vets.db）\n", from); return 1; }
    /* The source at the latest version, as `vets init` would bring it. */
    db_select("");
    if (db_configure(from, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    if (migrate_up(db_thread(), err, sizeof err) < 0) { fprintf(stderr, "%s\n", err); return 1; }
    int version = migrate_current(db_thread());
    db_thread_close();
    /* The target, migrated by its owner. */
    db_select(to);
    if (db_configure(from, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    db *d = db_thread();
    if (strcmp(db_backend(), "postgresql") != 0) { fprintf(stderr, "--to 须为 PostgreSQL 连接串\n"); return 2; }
    if (migrate_up(d, err, sizeof err) < 0) { fprintf(stderr, "%s\n", err); return 1; }
    if (migrate_current(d) != version) { fprintf(stderr, "两边数据库版本不一致（%d 与 %d）\n", version, migrate_current(d)); return 1; }
    printf("复制 %s → PostgreSQL（数据库版本 %d）：\n", path, version);
    int n = db_copy_sqlite(path, d, stdout, err, sizeof err);
    if (n < 0) { fprintf(stderr, "迁移失败，目标库未改动：%s\n", err); return 1; }
    int64_t rows = 0;
    char why[256];
    if (audit_verify(&rows, why, sizeof why) != 0) { fprintf(stderr, "迁移后审计链校验失败：%s\n", why); return 1; }
    audit_event_as(NULL, "cli", "127.0.0.1", "system.migrate_db", "database", from, "ok",
                   json_pack("{s:i,s:I}", "tables", n, "audit_rows", (json_int_t)rows));
    printf("迁移完成：%d 个表，审计链完整（%lld 条）。\n"
           "下一步：把 %s/vets.keys 复制到每个节点的数据目录（或用 VETS_KEY_FILE 指向它），\n"
           "以应用角色启动 vets serve --data 节点目录 --db postgresql://vets_app@…\n", n, (long long)rows, from);
    return 0;
}

static int cmd_rekey(int argc, char **argv) {
    const char *data = NULL;
    static struct option opts[] = {{"data", 1, 0, 'd'}, {"keys", 1, 0, 'k'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        if (c == 'd') data = optarg;
        else if (c == 'k') key_file_opt = optarg;
        else {
            printf("用法：vets rekey --data DIR [--keys FILE]\n"
                   "  轮换字段加密密钥：生成新密钥，用它重新加密全部身份证号码和银行账号（一个事务内完成），\n"
                   "  然后从密钥文件中删除旧密钥。须先停止服务并备份数据库和密钥文件。\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!data) { fprintf(stderr, "缺少 --data\n"); return 2; }
    char err[512];
    if (db_configure(data, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    if (open_keys(data, false) != 0) return 1;   /* open_keys printed why */
    if (!db_node_alone(db_thread())) {   /* PostgreSQL: no node of any machine may serve meanwhile */
        fprintf(stderr, "数据库正被运行中的服务节点使用：请先停止服务（所有节点）再轮换密钥\n");
        return 1;
    }
    if (fc_add_key(err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    int64_t n = 0;
    if (registry_reseal(&n, err, sizeof err) != 0) {
        fprintf(stderr, "密钥轮换失败，数据未改动（新密钥已加入密钥文件，旧密钥仍可用）：%s\n", err);
        return 1;
    }
    if (fc_prune_keys(err, sizeof err) != 0) { fprintf(stderr, "数据已用新密钥加密，但旧密钥未能删除：%s\n", err); return 1; }
    printf("密钥已轮换（新密钥编号 %s），重新加密 %lld 个字段值。\n", fc_current_kid(), (long long)n);
    return 0;
}

static void usage(void) {
    printf("vets %s — 退役军人事务信息系统\n\n"
           "用法：vets 命令 [选项]\n\n"
           "命令：\n"
           "  serve     启动服务（接口与网页界面）\n"
           "  init      创建或升级数据目录；--demo 生成演示数据\n"
           "  import    从 Excel/CSV 导入人员档案\n"
           "  audit     审计日志校验（audit verify）\n"
           "  backup    在线备份数据库\n"
           "  restore   从备份恢复\n"
           "  routes    列出全部接口及所需权限\n"
           "  rekey     轮换字段加密密钥（身份证号码、银行账号）\n"
           "  migrate-db  把 SQLite 数据库迁入 PostgreSQL（县级数据并入省级平台）\n"
           "  version   显示版本\n\n"
           "每个命令都可用 --help 查看说明，例如 vets serve --help。\n"
           "数据库：默认是 --data 目录中的 SQLite（vets.db）；省、全国部署加 --db postgresql://用户@主机/库名\n"
           "（或环境变量 VETS_DB）使用 PostgreSQL，--data 目录仍存放临时文件和密钥。见 docs/deployment.md。\n", VETS_VERSION);
}

/* --db URL belongs to every subcommand (the PostgreSQL database; without it
 * VETS_DB, else the SQLite file in --data): taken out of ARGV here, before
 * the subcommand reads its own options. */
static void take_db_option(int *argc, char **argv) {
    for (int i = 1; i < *argc; i++) {
        int drop = 0;
        const char *url = NULL;
        if (strcmp(argv[i], "--db") == 0 && i + 1 < *argc) { url = argv[i + 1]; drop = 2; }
        else if (strncmp(argv[i], "--db=", 5) == 0) { url = argv[i] + 5; drop = 1; }
        if (!drop) continue;
        db_select(url);
        db_opt = url;
        memmove(&argv[i], &argv[i + drop], (size_t)(*argc - i - drop + 1) * sizeof *argv);
        *argc -= drop;
        i--;
    }
}

int main(int argc, char **argv) {
    take_db_option(&argc, argv);
    if (crypto_init() != 0) { fprintf(stderr, "加密库初始化失败\n"); return 1; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("VETS_DEBUG")) log_set_level(LOG_DEBUG);
    umask(077);   /* the database holds personal data: owner only */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    int rc = -1;
    if (strcmp(cmd, "serve") == 0) rc = cmd_serve(argc - 1, argv + 1);
    else if (strcmp(cmd, "init") == 0) rc = cmd_init(argc - 1, argv + 1);
    else if (strcmp(cmd, "audit") == 0) rc = cmd_audit(argc - 1, argv + 1);
    else if (strcmp(cmd, "backup") == 0) rc = cmd_backup(argc - 1, argv + 1);
    else if (strcmp(cmd, "restore") == 0) rc = cmd_restore(argc - 1, argv + 1);
    else if (strcmp(cmd, "import") == 0) rc = cmd_import(argc - 1, argv + 1);
    else if (strcmp(cmd, "routes") == 0) rc = cmd_routes(argc - 1, argv + 1);
    else if (strcmp(cmd, "rekey") == 0) rc = cmd_rekey(argc - 1, argv + 1);
    else if (strcmp(cmd, "migrate-db") == 0) rc = cmd_migrate_db(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) { printf("vets %s\n", VETS_VERSION); return 0; }

    if (rc >= 0) { db_thread_close(); return rc; }   /* closing checkpoints the WAL */
    fprintf(stderr, "未知命令：%s\n\n", cmd);
    usage();
    return 2;
}
