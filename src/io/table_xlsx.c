/* .xlsx back end of table_read. The first worksheet is streamed: zip_fread
 * hands 64 KiB at a time of the inflated sheet XML to expat, and the parser
 * is suspended at every </row> so exactly one row is in memory whatever the
 * size of the sheet. Before that the small parts are read: workbook.xml
 * (first sheet, 1904 date system), its .rels (the sheet's path), styles.xml
 * (which cell styles show dates) and sharedStrings.xml, the one part kept
 * whole because cells refer to it by index; it is capped at TR_SST_MAX.
 * expat allocates through a counting allocator so that a hostile file (one
 * gigantic tag, absurd nesting) fails with a message instead of eating the
 * server's memory; a DOCTYPE is refused outright (OOXML never has one). */
#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "io/table_internal.h"

#define CHUNK (64 * 1024)
#define XLSX_MAX_ROW 1048576
#define XLSX_MAX_COL 16384
/* Excel allows about 64 000 cell formats and 250 custom number formats;
 * styles beyond these caps are simply not treated as dates. */
#define MAX_XF 65536
#define MAX_NUMFMT 4096

/* ---- counting allocator for expat ------------------------------------- */

/* One process-wide count, because expat's memory suite has no user
 * pointer and a reader may be opened in one thread and used or closed in
 * another. Legitimate files need a few hundred KiB per parser, so the shared
 * budget only ever bites on a hostile file. */
static _Atomic size_t xml_heap_used;

typedef union {
    max_align_t align;
    size_t size;
} xm_hdr;

static bool xm_take(size_t n)
{
    if (n > TR_XML_HEAP_MAX)
        return false;
    size_t was = atomic_fetch_add(&xml_heap_used, n);
    if (was + n > TR_XML_HEAP_MAX) {
        atomic_fetch_sub(&xml_heap_used, n);
        return false;
    }
    return true;
}

static void *xm_malloc(size_t n)
{
    if (!xm_take(n))
        return NULL;
    xm_hdr *h = malloc(sizeof *h + n);
    if (!h) {
        atomic_fetch_sub(&xml_heap_used, n);
        return NULL;
    }
    h->size = n;
    return h + 1;
}

static void xm_free(void *p)
{
    if (!p)
        return;
    xm_hdr *h = (xm_hdr *)p - 1;
    atomic_fetch_sub(&xml_heap_used, h->size);
    free(h);
}

static void *xm_realloc(void *p, size_t n)
{
    if (!p)
        return xm_malloc(n);
    xm_hdr *h = (xm_hdr *)p - 1;
    size_t old = h->size;
    if (n > old && !xm_take(n - old))
        return NULL;
    xm_hdr *nh = realloc(h, sizeof *nh + n);
    if (!nh) {
        if (n > old)
            atomic_fetch_sub(&xml_heap_used, n - old);
        return NULL;
    }
    if (n < old)
        atomic_fetch_sub(&xml_heap_used, old - n);
    nh->size = n;
    return nh + 1;
}

static const XML_Memory_Handling_Suite xm_suite = {xm_malloc, xm_realloc, xm_free};

/* ---- shared parser plumbing -------------------------------------------- */

/* First member of every parser context, so generic handlers can reach it. */
struct xbase {
    XML_Parser p;
    char *err;         /* TR_ERR_MAX bytes */
    const char *part;  /* zip entry, for messages */
    bool failed;       /* a handler stopped the parser; message in err */
};

__attribute__((format(printf, 2, 3)))
static void xfail(struct xbase *b, const char *fmt, ...)
{
    if (!b->failed) {
        va_list ap;
        va_start(ap, fmt);
        tr_vseterr(b->err, TR_ERR_MAX, fmt, ap);
        va_end(ap);
        b->failed = true;
    }
    XML_StopParser(b->p, XML_FALSE);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal;
    struct xbase *b = ud;
    xfail(b, "工作表读取失败：%s 含有 DTD，不是 Excel 生成的文件", b->part);
}

static XML_Parser xml_new(struct xbase *b, const char *part, char *err)
{
    XML_Parser p = XML_ParserCreate_MM(NULL, &xm_suite, NULL);
    if (!p) {
        tr_seterr(err, TR_ERR_MAX, "内存不足，无法读取文件");
        return NULL;
    }
    b->p = p;
    b->err = err;
    b->part = part;
    b->failed = false;
    XML_SetUserData(p, b);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    return p;
}

/* Message for a parse that returned XML_STATUS_ERROR. */
static void xml_errmsg(struct xbase *b)
{
    if (b->failed)
        return;
    enum XML_Error code = XML_GetErrorCode(b->p);
    if (code == XML_ERROR_NO_MEMORY)
        tr_seterr(b->err, TR_ERR_MAX,
                  "工作表读取失败：%s 的结构异常（单个元素过大或嵌套过深）", b->part);
    else
        tr_seterr(b->err, TR_ERR_MAX, "工作表读取失败：%s 的 XML 格式错误（第 %lu 行：%s）",
                  b->part, (unsigned long)XML_GetCurrentLineNumber(b->p),
                  XML_ErrorString(code));
    b->failed = true;
}

/* Element or attribute name without its namespace prefix: files from some
 * generators write <x:row> instead of <row>. */
static const char *lname(const char *n)
{
    const char *c = strrchr(n, ':');
    return c ? c + 1 : n;
}

static const char *attr(const XML_Char **atts, const char *name)
{
    for (int i = 0; atts[i]; i += 2)
        if (strcmp(lname(atts[i]), name) == 0)
            return atts[i + 1];
    return NULL;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned long d = (unsigned long)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static zip_int64_t locate(zip_t *z, const char *name)
{
    zip_int64_t i = zip_name_locate(z, name, 0);
    if (i < 0)
        i = zip_name_locate(z, name, ZIP_FL_NOCASE);
    return i;
}

/* Streams one whole zip entry through p. 0 ok, -1 error (message in b). */
static int parse_entry(zip_t *z, zip_int64_t idx, struct xbase *b)
{
    int rc = -1;
    zip_file_t *zf = zip_fopen_index(z, (zip_uint64_t)idx, 0);
    if (!zf) {
        tr_seterr(b->err, TR_ERR_MAX, "工作表读取失败：无法打开 %s（%s）", b->part,
                  zip_strerror(z));
        return -1;
    }
    for (;;) {
        void *buf = XML_GetBuffer(b->p, CHUNK);
        if (!buf) {
            xml_errmsg(b);
            goto done;
        }
        zip_int64_t n = zip_fread(zf, buf, CHUNK);
        if (n < 0) {
            tr_seterr(b->err, TR_ERR_MAX, "工作表读取失败：%s 的压缩数据已损坏（%s）", b->part,
                      zip_file_strerror(zf));
            goto done;
        }
        if (XML_ParseBuffer(b->p, (int)n, n == 0) == XML_STATUS_ERROR) {
            xml_errmsg(b);
            goto done;
        }
        if (n == 0)
            break;
    }
    rc = 0;
done:
    zip_fclose(zf);
    return rc;
}

/* Decodes Excel's _xHHHH_ escapes (how OOXML stores control characters such
 * as the CR of a cell with line breaks) in place; returns the new length.
 * Never grows: 7 bytes of escape become at most 3 bytes of UTF-8. */
static size_t unescape_x(char *s, size_t n)
{
    size_t i = 0, o = 0;
    while (i < n) {
        if (s[i] == '_' && n - i >= 7 && s[i + 1] == 'x' && s[i + 6] == '_' &&
            isxdigit((unsigned char)s[i + 2]) && isxdigit((unsigned char)s[i + 3]) &&
            isxdigit((unsigned char)s[i + 4]) && isxdigit((unsigned char)s[i + 5])) {
            char hex[5] = {s[i + 2], s[i + 3], s[i + 4], s[i + 5], 0};
            unsigned v = (unsigned)strtoul(hex, NULL, 16);
            /* NUL would end the C string; surrogates are not characters. */
            if (v != 0 && (v < 0xD800 || v > 0xDFFF)) {
                if (v < 0x80) {
                    s[o++] = (char)v;
                } else if (v < 0x800) {
                    s[o++] = (char)(0xC0 | (v >> 6));
                    s[o++] = (char)(0x80 | (v & 0x3F));
                } else {
                    s[o++] = (char)(0xE0 | (v >> 12));
                    s[o++] = (char)(0x80 | ((v >> 6) & 0x3F));
                    s[o++] = (char)(0x80 | (v & 0x3F));
                }
                i += 7;
                continue;
            }
        }
        s[o++] = s[i++];
    }
    return o;
}

/* ---- workbook.xml and its relationships ------------------------------- */

struct wb_ctx {
    struct xbase b;
    bool date1904;
    bool have_sheet;
    char rid[128];
};

static void XMLCALL wb_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct wb_ctx *w = ud;
    const char *ln = lname(name);
    if (strcmp(ln, "workbookPr") == 0) {
        const char *v = attr(atts, "date1904");
        w->date1904 = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
    } else if (strcmp(ln, "sheet") == 0 && !w->have_sheet) {
        const char *id = attr(atts, "id");
        if (!id || strlen(id) >= sizeof w->rid) {
            xfail(&w->b, "工作表读取失败：workbook.xml 中的工作表信息不完整");
            return;
        }
        strcpy(w->rid, id);
        w->have_sheet = true;
    }
}

struct rels_ctx {
    struct xbase b;
    const char *want;
    bool found, chart, external;
    char target[512];
};

static void XMLCALL rels_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct rels_ctx *r = ud;
    if (r->found || strcmp(lname(name), "Relationship") != 0)
        return;
    const char *id = attr(atts, "Id"), *target = attr(atts, "Target");
    if (!id || !target || strcmp(id, r->want) != 0)
        return;
    const char *type = attr(atts, "Type"), *mode = attr(atts, "TargetMode");
    r->found = true;
    r->chart = type && strstr(type, "chartsheet");
    r->external = mode && strcmp(mode, "External") == 0;
    if (strlen(target) >= sizeof r->target) {
        xfail(&r->b, "工作表读取失败：工作表路径过长");
        return;
    }
    strcpy(r->target, target);
}

/* Zip entry name of a relationship target: relative to xl/, or absolute
 * from the package root; "." and ".." segments resolved. */
static int resolve_target(const char *target, char *out, size_t cap)
{
    char tmp[600];
    int n = target[0] == '/' ? snprintf(tmp, sizeof tmp, "%s", target + 1)
                             : snprintf(tmp, sizeof tmp, "xl/%s", target);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    size_t o = 0;
    char *save = NULL;
    out[0] = '\0';
    for (char *seg = strtok_r(tmp, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            char *slash = strrchr(out, '/');
            o = slash ? (size_t)(slash - out) : 0;
            out[o] = '\0';
            continue;
        }
        size_t len = strlen(seg);
        if (o + (o ? 1 : 0) + len + 1 > cap)
            return -1;
        if (o)
            out[o++] = '/';
        memcpy(out + o, seg, len + 1);
        o += len;
    }
    return o ? 0 : -1;
}

/* ---- styles.xml: which cell formats show dates ------------------------ */

/* A number format shows a date when, outside quoted text, escapes and
 * [brackets], its first section has y or d, or m with neither h nor s
 * (m next to h or s means minutes: "h:mm", "mm:ss"). */
static bool fmt_is_date(const char *f)
{
    bool y = false, d = false, m = false, h = false, s = false;
    for (const char *p = f; *p; p++) {
        char c = *p;
        if (c == '"') {
            const char *q = strchr(p + 1, '"');
            if (!q)
                break;
            p = q;
            continue;
        }
        if (c == '\\' || c == '_' || c == '*') {
            if (!p[1])
                break;
            p++;
            continue;
        }
        if (c == '[') {
            const char *q = strchr(p + 1, ']');
            if (!q)
                break;
            p = q;
            continue;
        }
        if (c == ';')
            break;
        switch (tolower((unsigned char)c)) {
        case 'y': y = true; break;
        case 'd': d = true; break;
        case 'm': m = true; break;
        case 'h': h = true; break;
        case 's': s = true; break;
        default: break;
        }
    }
    return y || d || (m && !h && !s);
}

/* Built-in formats that show a date: 14-17 and 22 everywhere, plus those a
 * Chinese Excel maps to 年月日 patterns (27-31, 36, 50-54, 57-58). The
 * time-only ones (18-21, 32-35, 45-47, 55-56) are left as numbers: a time
 * of day turned into a date would be a lie. */
static bool builtin_is_date(unsigned long id)
{
    return (id >= 14 && id <= 17) || id == 22 || (id >= 27 && id <= 31) || id == 36 ||
           (id >= 50 && id <= 54) || id == 57 || id == 58;
}

struct numfmt {
    unsigned long id;
    bool date;
};

struct styles_ctx {
    struct xbase b;
    bool in_numfmts, in_cellxfs;
    struct numfmt fmts[MAX_NUMFMT];
    size_t nfmt;
    unsigned long *xf_fmt;
    size_t nxf, capxf;
};

static int numfmt_cmp(const void *a, const void *b)
{
    unsigned long x = ((const struct numfmt *)a)->id, y = ((const struct numfmt *)b)->id;
    return (x > y) - (x < y);
}

static void XMLCALL styles_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct styles_ctx *s = ud;
    const char *ln = lname(name);
    unsigned long id = 0;
    if (strcmp(ln, "numFmts") == 0) {
        s->in_numfmts = true;
    } else if (strcmp(ln, "cellXfs") == 0) {
        s->in_cellxfs = true;
    } else if (s->in_numfmts && strcmp(ln, "numFmt") == 0) {
        const char *code = attr(atts, "formatCode");
        if (s->nfmt < MAX_NUMFMT && code && parse_uint(attr(atts, "numFmtId"), UINT32_MAX, &id)) {
            s->fmts[s->nfmt].id = id;
            s->fmts[s->nfmt].date = fmt_is_date(code);
            s->nfmt++;
        }
    } else if (s->in_cellxfs && strcmp(ln, "xf") == 0) {
        if (s->nxf >= MAX_XF)
            return;
        if (!parse_uint(attr(atts, "numFmtId"), UINT32_MAX, &id))
            id = 0;
        if (s->nxf == s->capxf) {
            size_t cap = s->capxf ? s->capxf * 2 : 64;
            unsigned long *n = realloc(s->xf_fmt, cap * sizeof *n);
            if (!n) {
                xfail(&s->b, "内存不足，无法读取文件");
                return;
            }
            s->xf_fmt = n;
            s->capxf = cap;
        }
        s->xf_fmt[s->nxf++] = id;
    }
}

static void XMLCALL styles_end(void *ud, const XML_Char *name)
{
    struct styles_ctx *s = ud;
    const char *ln = lname(name);
    if (strcmp(ln, "numFmts") == 0)
        s->in_numfmts = false;
    else if (strcmp(ln, "cellXfs") == 0)
        s->in_cellxfs = false;
}

/* ---- sharedStrings.xml ------------------------------------------------ */

/* The strings are stored back to back, NUL-terminated, in one buffer; the
 * offset table is built once their number is known. That way the budget
 * can be exact: text + NULs + 4 bytes of offset per string <= TR_SST_MAX,
 * with no doubling slack of a second growing array to account for. (NUL
 * cannot occur in XML text, and _x0000_ is not decoded.) */
struct sst_ctx {
    struct xbase b;
    char *buf;
    size_t len, cap;
    size_t n;        /* strings finished so far */
    size_t cur;      /* start of the string being read */
    bool in_si, in_t;
    int rph;         /* inside <rPh>: phonetic guide text, not cell text */
};

/* Room for need_bytes of text while n offsets will be needed later. */
static bool sst_grow(struct sst_ctx *s, size_t need_bytes, size_t n)
{
    if (n > TR_SST_MAX / sizeof(uint32_t) || need_bytes > TR_SST_MAX - n * sizeof(uint32_t)) {
        xfail(&s->b, "工作表读取失败：共享字符串表过大（超过 %u MiB），"
                     "请将工作表另存为 CSV 后再导入", TR_SST_MAX / (1024u * 1024u));
        return false;
    }
    if (need_bytes <= s->cap)
        return true;
    size_t limit = TR_SST_MAX - n * sizeof(uint32_t);
    size_t cap = s->cap ? s->cap : 64 * 1024;
    while (cap < need_bytes)
        cap = cap > limit / 2 ? limit : cap * 2;
    char *nb = realloc(s->buf, cap);
    if (!nb) {
        xfail(&s->b, "内存不足，无法读取文件");
        return false;
    }
    s->buf = nb;
    s->cap = cap;
    return true;
}

static void XMLCALL sst_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    struct sst_ctx *s = ud;
    const char *ln = lname(name);
    if (strcmp(ln, "si") == 0) {
        s->in_si = true;
        s->rph = 0;
        s->cur = s->len;
    } else if (s->in_si && strcmp(ln, "rPh") == 0) {
        s->rph++;
    } else if (s->in_si && s->rph == 0 && strcmp(ln, "t") == 0) {
        s->in_t = true;
    }
}

static void XMLCALL sst_end(void *ud, const XML_Char *name)
{
    struct sst_ctx *s = ud;
    const char *ln = lname(name);
    if (strcmp(ln, "t") == 0) {
        s->in_t = false;
    } else if (strcmp(ln, "rPh") == 0) {
        if (s->rph > 0)
            s->rph--;
    } else if (strcmp(ln, "si") == 0 && s->in_si) {
        s->in_si = false;
        s->in_t = false;
        if (!sst_grow(s, s->len + 1, s->n + 1))
            return;
        s->len = s->cur + unescape_x(s->buf + s->cur, s->len - s->cur);
        s->buf[s->len++] = '\0';
        s->n++;
    }
}

static void XMLCALL sst_text(void *ud, const XML_Char *txt, int n)
{
    struct sst_ctx *s = ud;
    if (!s->in_t || n <= 0)
        return;
    if (s->len - s->cur + (size_t)n > TR_FIELD_MAX) {
        xfail(&s->b, "工作表读取失败：共享字符串过长（超过 %u KiB）", TR_FIELD_MAX / 1024u);
        return;
    }
    if (!sst_grow(s, s->len + (size_t)n, s->n))
        return;
    memcpy(s->buf + s->len, txt, (size_t)n);
    s->len += (size_t)n;
}

/* ---- the worksheet, streamed ------------------------------------------ */

struct tr_xlsx;

struct sheet_ctx {
    struct xbase b;
    struct tr_xlsx *x;
    struct tr_row *row;
    bool in_data, in_row, in_c, in_v, in_is, in_t, has_is;
    int rph;
    int rownum, last_rownum;
    int col, next_col;
    char type[16];
    unsigned long style;
    char *v;            /* text of the cell being read */
    size_t vlen, vcap;
    bool row_ready, done;
    int ready_ncols;
};

struct tr_xlsx {
    zip_t *z;
    bool date1904;
    unsigned char *xf_date;  /* per cell style: shows a date */
    size_t nxf;
    char *sst;
    uint32_t *sst_off;
    size_t sst_n;
    char sheet_path[512];
    zip_file_t *zf;
    XML_Parser p;
    bool suspended, final_fed;
    struct sheet_ctx sh;
};

static void col_name(int col, char out[4])
{
    char tmp[4];
    int n = 0;
    for (int c = col + 1; c > 0 && n < 3; c = (c - 1) / 26)
        tmp[n++] = (char)('A' + (c - 1) % 26);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

/* Column of a reference like "AB12"; -1 when malformed. */
static int ref_col(const char *r)
{
    int col = 0, n = 0;
    for (; *r; r++, n++) {
        char c = (char)toupper((unsigned char)*r);
        if (c < 'A' || c > 'Z')
            break;
        if (n == 3)
            return -1;
        col = col * 26 + (c - 'A' + 1);
    }
    if (n == 0 || col > XLSX_MAX_COL)
        return -1;
    for (; *r; r++)
        if (*r < '0' || *r > '9')
            return -1;
    return col - 1;
}

static void XMLCALL sheet_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct sheet_ctx *s = ud;
    const char *ln = lname(name);
    unsigned long u;

    if (s->in_c) {
        if (strcmp(ln, "v") == 0) {
            s->in_v = true;
        } else if (strcmp(ln, "is") == 0) {
            s->in_is = true;
            s->has_is = true;
            s->vlen = 0;
        } else if (s->in_is && strcmp(ln, "rPh") == 0) {
            s->rph++;
        } else if (s->in_is && s->rph == 0 && strcmp(ln, "t") == 0) {
            s->in_t = true;
        }
    } else if (s->in_row && strcmp(ln, "c") == 0) {
        const char *r = attr(atts, "r"), *t = attr(atts, "t"), *st = attr(atts, "s");
        if (r) {
            s->col = ref_col(r);
            if (s->col < 0) {
                xfail(&s->b, "工作表读取失败：第%d行的单元格位置“%.20s”无效", s->rownum, r);
                return;
            }
        } else {
            s->col = s->next_col;
            if (s->col >= XLSX_MAX_COL) {
                xfail(&s->b, "工作表读取失败：第%d行的单元格超出 Excel 的列数", s->rownum);
                return;
            }
        }
        snprintf(s->type, sizeof s->type, "%s", t ? t : "n");
        s->style = st && parse_uint(st, UINT32_MAX, &u) ? u : 0;
        s->in_c = true;
        s->in_v = s->in_is = s->in_t = s->has_is = false;
        s->rph = 0;
        s->vlen = 0;
    } else if (s->in_data && strcmp(ln, "row") == 0) {
        const char *r = attr(atts, "r");
        if (r) {
            if (!parse_uint(r, XLSX_MAX_ROW, &u) || u == 0) {
                xfail(&s->b, "工作表读取失败：行号“%.20s”无效", r);
                return;
            }
            s->rownum = (int)u;
        } else {
            if (s->last_rownum >= XLSX_MAX_ROW) {
                xfail(&s->b, "工作表读取失败：行数超过 Excel 的上限 %d 行", XLSX_MAX_ROW);
                return;
            }
            s->rownum = s->last_rownum + 1;
        }
        s->in_row = true;
        s->next_col = 0;
        tr_row_clear(s->row);
    } else if (strcmp(ln, "sheetData") == 0) {
        s->in_data = true;
    }
}

/* "20210305.0" → "20210305"; anything with an exponent is left alone. */
static size_t trim_number(char *v, size_t n)
{
    char *dot = memchr(v, '.', n);
    if (!dot || memchr(v, 'e', n) || memchr(v, 'E', n))
        return n;
    for (char *p = dot + 1; p < v + n; p++)
        if (*p != '0')
            return n;
    return (size_t)(dot - v);
}

/* Days since 1970-01-01 → civil date (H. Hinnant's algorithm). */
static void civil_from_days(long long z, int *y, int *m, int *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Excel serial → "YYYY-MM-DD"; false when it is not a plausible date. */
static bool serial_to_iso(const char *v, bool d1904, char out[11])
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x) || x < 0 || x >= 2958466.0)
        return false;
    /* Excel rounds to the millisecond before splitting date and time. */
    long long days = llround(x * 86400000.0) / 86400000LL;
    long long base;
    if (d1904) {
        base = -24107;  /* 1904-01-01 */
    } else {
        if (days < 1)
            return false;  /* Excel shows 1900-01-00: not a date anyone typed */
        if (days == 60) {
            /* Lotus 1-2-3's leap day that never was, kept by Excel. */
            memcpy(out, "1900-02-29", 11);
            return true;
        }
        if (days < 60)
            days++;
        base = -25569;  /* 1899-12-30 */
    }
    int y, m, d;
    civil_from_days(base + days, &y, &m, &d);
    if (y < 1900 || y > 9999)
        return false;
    /* Digits by hand: the ranges are known, and snprintf's truncation
     * warning cannot see that. */
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
    return true;
}

static void cell_done(struct sheet_ctx *s)
{
    struct tr_xlsx *x = s->x;
    char *v = s->v;
    size_t n = s->vlen;
    const char *out = v;
    size_t outn;
    char date[11];

    if (s->has_is || strcmp(s->type, "inlineStr") == 0 || strcmp(s->type, "str") == 0) {
        /* Text is kept exactly; only Excel's own escapes are undone. */
        outn = unescape_x(v, n);
    } else {
        /* Other values are tokens: whitespace around them is XML layout. */
        while (n > 0 && isspace((unsigned char)v[n - 1]))
            n--;
        while (n > 0 && isspace((unsigned char)*v))
            v++, n--;
        v[n] = '\0';
        out = v;
        outn = n;
        if (n == 0) {
            /* empty */
        } else if (strcmp(s->type, "s") == 0) {
            unsigned long idx;
            if (!parse_uint(v, SIZE_MAX, &idx) || idx >= x->sst_n) {
                xfail(&s->b, "工作表读取失败：第%d行的共享字符串编号“%.20s”无效", s->rownum, v);
                return;
            }
            out = x->sst + x->sst_off[idx];
            outn = strlen(out);
        } else if (strcmp(s->type, "b") == 0) {
            if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
                out = "TRUE", outn = 4;
            else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
                out = "FALSE", outn = 5;
        } else if (strcmp(s->type, "d") == 0) {
            /* ISO 8601 date cell (rare): keep the date part. */
            if (n >= 10 && v[4] == '-' && v[7] == '-')
                outn = 10;
        } else if (strcmp(s->type, "n") == 0) {
            if (s->style < x->nxf && x->xf_date[s->style] && serial_to_iso(v, x->date1904, date)) {
                out = date;
                outn = 10;
            } else {
                outn = trim_number(v, n);
            }
        }
        /* "e" and unknown types: the text as written. */
    }
    s->next_col = s->col + 1;
    if (outn == 0)
        return;
    if (s->col >= TR_MAX_COLS) {
        char cn[4];
        col_name(s->col, cn);
        xfail(&s->b, "第%d行：列数超过 %d 列（%s 列有内容）", s->rownum, TR_MAX_COLS, cn);
        return;
    }
    tr_row_cell_begin(s->row);
    if (tr_row_put(s->row, out, outn) < 0 || tr_row_cell_end(s->row, s->col) < 0)
        xfail(&s->b, "第%d行：整行内容过长（超过 %u KiB）", s->rownum, TR_ROW_MAX / 1024u);
}

static void XMLCALL sheet_end(void *ud, const XML_Char *name)
{
    struct sheet_ctx *s = ud;
    const char *ln = lname(name);

    if (s->in_c) {
        if (strcmp(ln, "v") == 0) {
            s->in_v = false;
        } else if (strcmp(ln, "t") == 0) {
            s->in_t = false;
        } else if (strcmp(ln, "rPh") == 0) {
            if (s->rph > 0)
                s->rph--;
        } else if (strcmp(ln, "is") == 0) {
            s->in_is = false;
        } else if (strcmp(ln, "c") == 0) {
            s->in_c = false;
            cell_done(s);
        }
    } else if (s->in_row && strcmp(ln, "row") == 0) {
        s->in_row = false;
        s->last_rownum = s->rownum;
        int n = tr_row_last_text_col(s->row);
        if (n > 0) {
            /* Hand this row out; parsing resumes on the next call. */
            s->row_ready = true;
            s->ready_ncols = n;
            XML_StopParser(s->b.p, XML_TRUE);
        }
    } else if (s->in_data && strcmp(ln, "sheetData") == 0) {
        /* Nothing after the cells matters. */
        s->in_data = false;
        s->done = true;
        XML_StopParser(s->b.p, XML_FALSE);
    }
}

static void XMLCALL sheet_text(void *ud, const XML_Char *txt, int n)
{
    struct sheet_ctx *s = ud;
    if (!s->in_c || n <= 0)
        return;
    if (!(s->has_is ? (s->in_t && s->in_is && s->rph == 0) : s->in_v))
        return;
    if (s->vlen + (size_t)n > TR_FIELD_MAX) {
        char cn[4];
        col_name(s->col, cn);
        xfail(&s->b, "第%d行：字段过长（%s 列超过 %u KiB）", s->rownum, cn, TR_FIELD_MAX / 1024u);
        return;
    }
    if (s->vlen + (size_t)n + 1 > s->vcap) {
        size_t cap = s->vcap;
        while (cap < s->vlen + (size_t)n + 1)
            cap *= 2;
        char *nv = realloc(s->v, cap);
        if (!nv) {
            xfail(&s->b, "内存不足，无法读取文件");
            return;
        }
        s->v = nv;
        s->vcap = cap;
    }
    memcpy(s->v + s->vlen, txt, (size_t)n);
    s->vlen += (size_t)n;
}

/* ---- open / next / close ---------------------------------------------- */

void tr_xlsx_close(struct tr_xlsx *x)
{
    if (!x)
        return;
    if (x->p)
        XML_ParserFree(x->p);
    if (x->zf)
        zip_fclose(x->zf);
    if (x->z)
        zip_discard(x->z);
    free(x->sh.v);
    free(x->xf_date);
    free(x->sst);
    free(x->sst_off);
    free(x);
}

static int read_workbook(struct tr_xlsx *x, char *err)
{
    int rc = -1;
    struct wb_ctx w = {0};
    struct rels_ctx r = {0};
    XML_Parser p = NULL;
    zip_int64_t idx = locate(x->z, "xl/workbook.xml");

    if (idx < 0) {
        tr_seterr(err, TR_ERR_MAX,
                  "文件不是有效的 .xlsx 或 .csv 文件：压缩包中没有 Excel 工作簿（xl/workbook.xml）");
        return -1;
    }
    p = xml_new(&w.b, "xl/workbook.xml", err);
    if (!p)
        return -1;
    XML_SetStartElementHandler(p, wb_start);
    if (parse_entry(x->z, idx, &w.b) < 0)
        goto done;
    XML_ParserFree(p);
    p = NULL;
    if (!w.have_sheet) {
        tr_seterr(err, TR_ERR_MAX, "工作表读取失败：工作簿中没有工作表");
        goto done;
    }
    x->date1904 = w.date1904;

    idx = locate(x->z, "xl/_rels/workbook.xml.rels");
    if (idx < 0) {
        /* Without relationships, guess the conventional name. */
        snprintf(x->sheet_path, sizeof x->sheet_path, "xl/worksheets/sheet1.xml");
        rc = 0;
        goto done;
    }
    p = xml_new(&r.b, "xl/_rels/workbook.xml.rels", err);
    if (!p)
        goto done;
    r.want = w.rid;
    XML_SetStartElementHandler(p, rels_start);
    if (parse_entry(x->z, idx, &r.b) < 0)
        goto done;
    if (!r.found || r.external || resolve_target(r.target, x->sheet_path, sizeof x->sheet_path) < 0) {
        tr_seterr(err, TR_ERR_MAX, "工作表读取失败：找不到第一个工作表");
        goto done;
    }
    if (r.chart) {
        tr_seterr(err, TR_ERR_MAX, "工作表读取失败：第一个工作表是图表，请把数据放在第一个工作表中");
        goto done;
    }
    rc = 0;
done:
    if (p)
        XML_ParserFree(p);
    return rc;
}

static int read_styles(struct tr_xlsx *x, char *err)
{
    int rc = -1;
    struct styles_ctx *s = NULL;
    XML_Parser p = NULL;
    zip_int64_t idx = locate(x->z, "xl/styles.xml");

    if (idx < 0)
        return 0;  /* no styles: no dates, all numbers as written */
    s = calloc(1, sizeof *s);
    if (!s) {
        tr_seterr(err, TR_ERR_MAX, "内存不足，无法读取文件");
        return -1;
    }
    p = xml_new(&s->b, "xl/styles.xml", err);
    if (!p)
        goto done;
    XML_SetElementHandler(p, styles_start, styles_end);
    if (parse_entry(x->z, idx, &s->b) < 0)
        goto done;
    if (s->nxf) {
        x->xf_date = calloc(s->nxf, 1);
        if (!x->xf_date) {
            tr_seterr(err, TR_ERR_MAX, "内存不足，无法读取文件");
            goto done;
        }
        /* Sorted so that 65 536 styles x 4 096 formats stay cheap. */
        qsort(s->fmts, s->nfmt, sizeof s->fmts[0], numfmt_cmp);
        for (size_t i = 0; i < s->nxf; i++) {
            struct numfmt key = {.id = s->xf_fmt[i]};
            const struct numfmt *f = bsearch(&key, s->fmts, s->nfmt, sizeof s->fmts[0], numfmt_cmp);
            /* A custom format may reuse (override) a built-in id. */
            x->xf_date[i] = f ? f->date : builtin_is_date(key.id);
        }
        x->nxf = s->nxf;
    }
    rc = 0;
done:
    if (p)
        XML_ParserFree(p);
    free(s->xf_fmt);
    free(s);
    return rc;
}

static int read_sst(struct tr_xlsx *x, char *err)
{
    int rc = -1;
    struct sst_ctx s = {0};
    XML_Parser p;
    zip_int64_t idx = locate(x->z, "xl/sharedStrings.xml");

    if (idx < 0)
        return 0;  /* legal: a sheet of numbers or inline strings only */
    p = xml_new(&s.b, "xl/sharedStrings.xml", err);
    if (!p)
        return -1;
    XML_SetElementHandler(p, sst_start, sst_end);
    XML_SetCharacterDataHandler(p, sst_text);
    if (parse_entry(x->z, idx, &s.b) < 0)
        goto done;
    if (s.n > 0) {
        /* Give back the doubling slack before the offsets are allocated,
         * so the peak stays within the budget. */
        char *shrunk = realloc(s.buf, s.len);
        if (shrunk)
            s.buf = shrunk;
        x->sst_off = malloc(s.n * sizeof *x->sst_off);
        if (!x->sst_off) {
            tr_seterr(err, TR_ERR_MAX, "内存不足，无法读取文件");
            goto done;
        }
        for (size_t i = 0, o = 0; i < s.n; i++) {
            x->sst_off[i] = (uint32_t)o;
            o += strlen(s.buf + o) + 1;
        }
        x->sst = s.buf;
        x->sst_n = s.n;
        s.buf = NULL;
    }
    rc = 0;
done:
    XML_ParserFree(p);
    free(s.buf);
    return rc;
}

struct tr_xlsx *tr_xlsx_open(const char *path, char *err)
{
    int zerr = 0;
    zip_int64_t idx;
    struct tr_xlsx *x = calloc(1, sizeof *x);

    if (!x) {
        tr_seterr(err, TR_ERR_MAX, "内存不足，无法读取文件");
        return NULL;
    }
    x->z = zip_open(path, ZIP_RDONLY, &zerr);
    if (!x->z) {
        tr_seterr(err, TR_ERR_MAX, "文件不是有效的 .xlsx 或 .csv 文件：压缩包已损坏或不完整");
        goto fail;
    }
    if (read_workbook(x, err) < 0 || read_styles(x, err) < 0 || read_sst(x, err) < 0)
        goto fail;

    idx = locate(x->z, x->sheet_path);
    if (idx < 0) {
        tr_seterr(err, TR_ERR_MAX, "工作表读取失败：压缩包中缺少 %s", x->sheet_path);
        goto fail;
    }
    x->zf = zip_fopen_index(x->z, (zip_uint64_t)idx, 0);
    if (!x->zf) {
        tr_seterr(err, TR_ERR_MAX, "工作表读取失败：无法打开 %s（%s）", x->sheet_path,
                  zip_strerror(x->z));
        goto fail;
    }
    x->sh.vcap = 256;
    x->sh.v = malloc(x->sh.vcap);
    if (!x->sh.v) {
        tr_seterr(err, TR_ERR_MAX, "内存不足，无法读取文件");
        goto fail;
    }
    x->p = xml_new(&x->sh.b, x->sheet_path, err);
    if (!x->p)
        goto fail;
    x->sh.x = x;
    XML_SetElementHandler(x->p, sheet_start, sheet_end);
    XML_SetCharacterDataHandler(x->p, sheet_text);
    return x;

fail:
    tr_xlsx_close(x);
    return NULL;
}

int tr_xlsx_next(struct tr_xlsx *x, struct tr_row *row, int *ncols, int *rownum, char *err)
{
    struct sheet_ctx *s = &x->sh;
    s->row = row;
    s->b.err = err;
    s->row_ready = false;

    for (;;) {
        enum XML_Status st;
        if (s->done)
            return 0;
        if (x->suspended) {
            x->suspended = false;
            st = XML_ResumeParser(x->p);
        } else if (x->final_fed) {
            s->done = true;
            return 0;
        } else {
            void *buf = XML_GetBuffer(x->p, CHUNK);
            if (!buf) {
                xml_errmsg(&s->b);
                return -1;
            }
            zip_int64_t n = zip_fread(x->zf, buf, CHUNK);
            if (n < 0) {
                tr_seterr(err, TR_ERR_MAX, "工作表读取失败：%s 的压缩数据已损坏（%s）",
                          x->sheet_path, zip_file_strerror(x->zf));
                return -1;
            }
            x->final_fed = n == 0;
            st = XML_ParseBuffer(x->p, (int)n, n == 0);
        }
        if (st == XML_STATUS_ERROR) {
            if (s->done && !s->b.failed)
                return 0;  /* stopped by us at </sheetData> */
            xml_errmsg(&s->b);
            return -1;
        }
        if (st == XML_STATUS_SUSPENDED)
            x->suspended = true;
        if (s->row_ready) {
            *ncols = s->ready_ncols;
            *rownum = s->rownum;
            return 1;
        }
    }
}
