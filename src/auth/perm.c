/* Permissions: a fixed table of names the routes declare, and which roles hold
 * them (rows in role_perms, editable by the security administrator). A route
 * naming a permission not in this table refuses to start. */
#include "auth/auth.h"
#include <string.h>

static const struct { const char *name, *label; } perm_table[] = {
    {"self", "本人账户"},
    {"person.read", "查看人员档案"},        {"person.write", "编辑人员档案"},
    {"person.reveal", "查看完整证件号码"},  {"person.export", "导出人员档案"},
    {"person.export_full", "导出完整证件号码"}, {"person.import", "导入人员档案"},
    {"request.read", "查看诉求"},           {"request.write", "受理和办理诉求"},
    {"request.manage", "审批延期、批量改派"},
    {"station.read", "查看服务网络"},       {"station.write", "维护服务站"},
    {"user.read", "查看用户"},              {"user.write", "管理用户账户"},
    {"role.assign", "分配角色和权限"},
    {"settings.read", "查看系统设置"},      {"settings.write", "修改安全策略"},
    {"config.write", "维护参考数据和日历"}, {"system.backup", "备份与恢复"},
    {"audit.read", "查看审计日志"},         {"stats.read", "查看统计"},
    {"code.read", "查看代码表"},
};
#define NPERMS (sizeof perm_table / sizeof *perm_table)
_Static_assert(NPERMS <= 64, "permissions must fit the bit mask");

int perm_index(const char *name) {
    for (size_t i = 0; i < NPERMS; i++) if (strcmp(perm_table[i].name, name) == 0) return (int)i;
    return -1;
}
bool perm_known(const char *name) { return perm_index(name) >= 0; }
size_t perm_count(void) { return NPERMS; }
const char *perm_name(size_t i) { return i < NPERMS ? perm_table[i].name : NULL; }
const char *perm_label(size_t i) { return i < NPERMS ? perm_table[i].label : NULL; }

bool user_can(const user_ctx *u, const char *perm) {
    if (!u) return false;
    if (strcmp(perm, "self") == 0) return true;
    int i = perm_index(perm);
    return i >= 0 && (u->perms >> i) & 1;
}

json_t *user_perms_json(const user_ctx *u) {
    json_t *a = json_array();
    for (size_t i = 0; i < NPERMS; i++)
        if ((u->perms >> i) & 1) json_array_append_new(a, json_string(perm_table[i].name));
    return a;
}

int region_prefix_len(const char *code) {
    /* 统计用区划代码 levels: province 2, prefecture 4, county 6, town 9, village 12. */
    static const int cuts[] = {2, 4, 6, 9, 12};
    size_t n = strlen(code);
    if (n != 12) return (int)n;
    for (int k = 0; k < 4; k++) {
        bool rest_zero = true;
        for (int i = cuts[k]; i < 12; i++) if (code[i] != '0') { rest_zero = false; break; }
        if (rest_zero) return cuts[k];
    }
    return 12;
}

void region_scope(const char *code, char lo[13], char hi[13]) {
    int n = region_prefix_len(code);
    if (n > 12) n = 12;
    for (int i = 0; i < 12; i++) {
        lo[i] = i < n ? code[i] : '0';
        hi[i] = i < n ? code[i] : '9';
    }
    lo[12] = hi[12] = 0;
}

bool scope_contains(const user_ctx *u, const char *rc) {
    return rc && strlen(rc) == 12 && strcmp(rc, u->scope_lo) >= 0 && strcmp(rc, u->scope_hi) <= 0;
}
