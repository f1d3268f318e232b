/* Field encryption (see fieldcrypt.h). OpenSSL 3 provides SM4-CTR and
 * HMAC-SM3 (it has no SM4-GCM, hence CTR + MAC). */
#include "base/fieldcrypt.h"
#include "base/crypto.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fkey { char kid[17]; unsigned char enc[16], mac[32], idx[32]; };
static struct fkey keys[16];
static int nkeys;
static char keypath[1024];

static int unhex(const char *h, unsigned char *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int parse_line(const char *line, struct fkey *k) {
    /* kid:enc(32 hex):mac(64 hex):idx(64 hex) */
    char kid[17], e[33], m[65], x[65];
    if (sscanf(line, "%16[0-9a-f]:%32[0-9a-f]:%64[0-9a-f]:%64[0-9a-f]", kid, e, m, x) != 4) return -1;
    if (strlen(e) != 32 || strlen(m) != 64 || strlen(x) != 64) return -1;
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    return unhex(e, k->enc, 16) || unhex(m, k->mac, 32) || unhex(x, k->idx, 32) ? -1 : 0;
}

static void new_key(struct fkey *k, const unsigned char *keep_idx) {
    crypto_token_hex(k->kid, 8);
    crypto_random(k->enc, 16);
    crypto_random(k->mac, 32);
    /* The index key stays the same across rotations unless asked otherwise:
     * blind indexes need no recomputation when only the sealing key changes. */
    if (keep_idx) memcpy(k->idx, keep_idx, 32); else crypto_random(k->idx, 32);
}

static int write_keys(char *err, size_t errcap) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", keypath);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) { snprintf(err, errcap, "无法写入密钥文件 %s：%s", tmp, strerror(errno)); return -1; }
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# vets 字段加密密钥：每行 密钥编号:SM4密钥:HMAC密钥:索引密钥；最后一行用于加密。勿删除、勿外传，须与数据库分开备份。\n");
    for (int i = 0; i < nkeys; i++) {
        char e[33], m[65], x[65];
        hex_encode(keys[i].enc, 16, e); hex_encode(keys[i].mac, 32, m); hex_encode(keys[i].idx, 32, x);
        fprintf(f, "%s:%s:%s:%s\n", keys[i].kid, e, m, x);
    }
    if (fflush(f) != 0 || fsync(fd) != 0) { fclose(f); unlink(tmp); snprintf(err, errcap, "写入密钥文件失败"); return -1; }
    fclose(f);
    chmod(tmp, 0400);
    if (rename(tmp, keypath) != 0) { unlink(tmp); snprintf(err, errcap, "无法替换密钥文件"); return -1; }
    return 0;
}

int fc_init(const char *path, bool create, char *err, size_t errcap) {
    snprintf(keypath, sizeof keypath, "%s", path);
    nkeys = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT && !create) {
            /* Existing sealed data: a fresh key would make all of it unreadable. */
            snprintf(err, errcap, "密钥文件 %s 不存在。已有数据时不会自动新建密钥（新密钥无法解密已加密的身份证号码和银行账号）："
                                  "请从备份中恢复该密钥文件（权限 0400）后再试", path);
            return -1;
        }
        if (!create || errno != ENOENT) { snprintf(err, errcap, "无法读取密钥文件 %s：%s", path, strerror(errno)); return -1; }
        new_key(&keys[0], NULL);
        nkeys = 1;
        return write_keys(err, errcap);
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
        fclose(f);
        snprintf(err, errcap, "密钥文件 %s 的权限过宽（应为 0400）", path);
        return -1;
    }
    char line[512];
    while (fgets(line, sizeof line, f) && nkeys < 16) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (parse_line(line, &keys[nkeys]) != 0) { fclose(f); snprintf(err, errcap, "密钥文件格式错误"); return -1; }
        nkeys++;
    }
    fclose(f);
    if (!nkeys) { snprintf(err, errcap, "密钥文件中没有密钥"); return -1; }
    return 0;
}

bool fc_ready(void) { return nkeys > 0; }
const char *fc_current_kid(void) { return nkeys ? keys[nkeys - 1].kid : ""; }

static void mac_of(const struct fkey *k, const char *context, const char *ivh, const char *cth, char out[65]) {
    size_t n = strlen(k->kid) + strlen(context) + strlen(ivh) + strlen(cth) + 8;
    char *buf = malloc(n);
    snprintf(buf, n, "%s|%s|%s|%s", k->kid, context, ivh, cth);
    hmac_sm3_hex(k->mac, 32, buf, strlen(buf), out);
    free(buf);
}

static EVP_CIPHER *sm4ctr;
static pthread_once_t sm4_once = PTHREAD_ONCE_INIT;
static void sm4_fetch(void) { sm4ctr = EVP_CIPHER_fetch(NULL, "SM4-CTR", NULL); }

static int sm4_ctr(const unsigned char *key, const unsigned char *iv, const unsigned char *in, int n, unsigned char *out) {
    pthread_once(&sm4_once, sm4_fetch);   /* fetched once: a fetch per value is slow */
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0, ok = c && sm4ctr && EVP_EncryptInit_ex2(c, sm4ctr, key, iv, NULL) &&
                                EVP_EncryptUpdate(c, out, &len, in, n) && EVP_EncryptFinal_ex(c, out + len, &fin);
    EVP_CIPHER_CTX_free(c);
    return ok ? len + fin : -1;
}

char *fc_seal(arena *a, const char *plain, const char *context) {
    if (!plain) return NULL;
    if (!nkeys) abort();   /* sealing without keys would store plaintext: never */
    const struct fkey *k = &keys[nkeys - 1];
    int n = (int)strlen(plain);
    unsigned char iv[16], *ct = arena_alloc(a, (size_t)n + 16);
    crypto_random(iv, 16);
    if (sm4_ctr(k->enc, iv, (const unsigned char *)plain, n, ct) != n) abort();
    char ivh[33], *cth = arena_alloc(a, (size_t)n * 2 + 1), mac[65];
    hex_encode(iv, 16, ivh);
    hex_encode(ct, (size_t)n, cth);
    mac_of(k, context, ivh, cth, mac);
    return arena_printf(a, "v1:%s:%s:%s:%s", k->kid, ivh, cth, mac);
}

char *fc_open(arena *a, const char *sealed, const char *context) {
    if (!sealed || strncmp(sealed, "v1:", 3) != 0) return NULL;
    char kid[17], ivh[33], mac[65];
    const char *p = sealed + 3, *q;
    if (!(q = strchr(p, ':')) || q - p > 16) return NULL;
    snprintf(kid, sizeof kid, "%.*s", (int)(q - p), p); p = q + 1;
    if (!(q = strchr(p, ':')) || q - p != 32) return NULL;
    snprintf(ivh, sizeof ivh, "%.*s", 32, p); p = q + 1;
    if (!(q = strchr(p, ':'))) return NULL;
    size_t ctlen = (size_t)(q - p);
    char *cth = arena_strndup(a, p, ctlen);
    if (strlen(q + 1) != 64) return NULL;   /* a longer tail must not open after truncation */
    snprintf(mac, sizeof mac, "%s", q + 1);
    const struct fkey *k = NULL;
    for (int i = 0; i < nkeys; i++) if (strcmp(keys[i].kid, kid) == 0) k = &keys[i];
    if (!k || ctlen % 2) return NULL;
    char want[65];
    mac_of(k, context, ivh, cth, want);
    if (!crypto_streq(want, mac)) return NULL;
    unsigned char iv[16], *ct = arena_alloc(a, ctlen / 2 + 1);
    if (unhex(ivh, iv, 16) || unhex(cth, ct, ctlen / 2)) return NULL;
    char *out = arena_alloc(a, ctlen / 2 + 16);
    int n = sm4_ctr(k->enc, iv, ct, (int)(ctlen / 2), (unsigned char *)out);
    if (n < 0) return NULL;
    out[n] = 0;
    return out;
}

void fc_index(const char *domain, const char *value, char out[33]) {
    if (!nkeys) abort();
    char buf[256], h[65];
    snprintf(buf, sizeof buf, "%s|%s", domain, value);
    hmac_sm3_hex(keys[nkeys - 1].idx, 32, buf, strlen(buf), h);
    memcpy(out, h, 32);
    out[32] = 0;
}

int fc_add_key(char *err, size_t errcap) {
    if (nkeys >= 16) { snprintf(err, errcap, "密钥过多：请先清理不再使用的旧密钥"); return -1; }
    new_key(&keys[nkeys], nkeys ? keys[nkeys - 1].idx : NULL);
    nkeys++;
    if (write_keys(err, errcap) != 0) { nkeys--; return -1; }
    return 0;
}

bool fc_is_current(const char *sealed) {
    size_t l = strlen(fc_current_kid());
    return sealed && strncmp(sealed, "v1:", 3) == 0 && strncmp(sealed + 3, fc_current_kid(), l) == 0 && sealed[3 + l] == ':';
}

int fc_prune_keys(char *err, size_t errcap) {
    if (nkeys <= 1) return 0;
    keys[0] = keys[nkeys - 1];
    nkeys = 1;
    return write_keys(err, errcap);
}
