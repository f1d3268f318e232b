/* CSV back end of table_read: RFC 4180 as Excel writes and reads it
 * (comma, "" inside quotes, newlines inside quotes, CRLF/LF/CR, last line
 * without newline, UTF-8 BOM). Files saved by Excel on Chinese Windows are
 * GB18030 (GBK), so the encoding is guessed and GB18030 is converted to UTF-8
 * with iconv in fixed-size chunks; nothing here grows with the file, only
 * with one row, and that is capped (TR_FIELD_MAX, TR_MAX_COLS, TR_ROW_MAX).
 * The UTF-8 check is our own rather than std/textenc so src/io has no
 * dependency on code that may change under it. */
#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/table_internal.h"

/* The detection sample is one raw chunk: 64 KiB as the brief asks. */
#define RAW_CAP (64u * 1024u)
/* GB18030 → UTF-8 grows at most 2 bytes into 3 (4 into 4). */
#define DEC_CAP (RAW_CAP / 2u * 3u + 16u)

enum csv_state { S_START, S_UNQUOTED, S_QUOTED, S_QUOTE_IN_QUOTED };

struct tr_csv {
    FILE *f;
    bool gb;            /* converting GB18030 through cd */
    bool ascii_so_far;  /* UTF-8 guessed only because no non-ASCII seen yet */
    iconv_t cd;
    bool raw_eof;
    bool need_more;     /* iconv stopped at an incomplete sequence */
    bool bad_seq;       /* iconv found an invalid sequence (reported lazily) */
    bool pending_lf;    /* the last record ended in CR; skip one LF */
    unsigned char raw[RAW_CAP];
    size_t raw_pos, raw_len;
    char dec[DEC_CAP];
    const char *data;   /* decoded bytes being parsed: raw (UTF-8) or dec */
    size_t pos, len;
    int rownum;
};

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
 * With allow_cut a sequence cut by the end of the buffer counts as valid:
 * the detection sample ends wherever 64 KiB happen to end. */
static bool utf8_valid(const unsigned char *s, size_t n, bool allow_cut)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c == 0xE0) {
            need = 2;
            lo = 0xA0;
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            need = 2;
        } else if (c == 0xED) {
            need = 2;
            hi = 0x9F;
        } else if (c == 0xF0) {
            need = 3;
            lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            need = 3;
        } else if (c == 0xF4) {
            need = 3;
            hi = 0x8F;
        } else {
            return false;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n)
                return allow_cut;
            unsigned char d = s[i + k];
            if (k == 1 ? (d < lo || d > hi) : (d & 0xC0) != 0x80)
                return false;
        }
        i += need + 1;
    }
    return true;
}

static bool all_ascii(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0x80)
            return false;
    return true;
}

static int start_gb(struct tr_csv *c, char *err)
{
    c->cd = iconv_open("UTF-8", "GB18030");
    if (c->cd == (iconv_t)-1) {
        tr_seterr(err, TR_ERR_MAX, "系统不支持 GB18030 编码转换，请将文件另存为“CSV UTF-8”后再导入");
        return -1;
    }
    c->gb = true;
    c->ascii_so_far = false;
    return 0;
}

const char *tr_csv_encoding(const struct tr_csv *c)
{
    return c && c->gb ? "GB18030" : "UTF-8";
}

struct tr_csv *tr_csv_open(const char *path, char *err)
{
    struct tr_csv *c = calloc(1, sizeof *c);
    if (!c) {
        tr_seterr(err, TR_ERR_MAX, "内存不足，无法读取文件");
        return NULL;
    }
    c->cd = (iconv_t)-1;
    c->f = fopen(path, "rb");
    if (!c->f) {
        tr_seterr(err, TR_ERR_MAX, "无法打开文件：%s", strerror(errno));
        goto fail;
    }
    c->raw_len = fread(c->raw, 1, RAW_CAP, c->f);
    if (ferror(c->f)) {
        tr_seterr(err, TR_ERR_MAX, "读取文件失败：%s", strerror(errno));
        goto fail;
    }
    c->raw_eof = c->raw_len < RAW_CAP;
    if (c->raw_len == 0) {
        tr_seterr(err, TR_ERR_MAX, "文件为空");
        goto fail;
    }
    if (c->raw_len >= 2 && ((c->raw[0] == 0xFF && c->raw[1] == 0xFE) ||
                            (c->raw[0] == 0xFE && c->raw[1] == 0xFF))) {
        /* Excel's "Unicode text" export: UTF-16 and tab separated. */
        tr_seterr(err, TR_ERR_MAX,
                  "文件不是有效的 .xlsx 或 .csv 文件：这是 UTF-16 文本，请在 Excel 中另存为 .xlsx 或“CSV UTF-8”后再导入");
        goto fail;
    }
    if (memchr(c->raw, '\0', c->raw_len)) {
        tr_seterr(err, TR_ERR_MAX, "文件不是有效的 .xlsx 或 .csv 文件");
        goto fail;
    }
    if (c->raw_len >= 3 && memcmp(c->raw, "\xEF\xBB\xBF", 3) == 0) {
        c->raw_pos = 3;
    } else if (!utf8_valid(c->raw, c->raw_len, true)) {
        if (start_gb(c, err) < 0)
            goto fail;
    } else {
        c->ascii_so_far = all_ascii(c->raw, c->raw_len);
    }
    if (!c->gb) {
        c->data = (const char *)c->raw;
        c->pos = c->raw_pos;
        c->len = c->raw_len;
    }
    return c;

fail:
    tr_csv_close(c);
    return NULL;
}

void tr_csv_close(struct tr_csv *c)
{
    if (!c)
        return;
    if (c->cd != (iconv_t)-1)
        iconv_close(c->cd);
    if (c->f)
        fclose(c->f);
    free(c);
}

/* Refills c->raw after the unconverted tail. 1 more bytes, 0 end of file. */
static int read_raw(struct tr_csv *c, char *err)
{
    size_t keep = c->raw_len - c->raw_pos;
    memmove(c->raw, c->raw + c->raw_pos, keep);
    c->raw_pos = 0;
    c->raw_len = keep;
    if (c->raw_eof)
        return 0;
    size_t n = fread(c->raw + keep, 1, RAW_CAP - keep, c->f);
    if (ferror(c->f)) {
        tr_seterr(err, TR_ERR_MAX, "读取文件失败：%s", strerror(errno));
        return -1;
    }
    if (n == 0)
        c->raw_eof = true;
    c->raw_len += n;
    return n > 0;
}

static int fill_gb(struct tr_csv *c, char *err)
{
    for (;;) {
        if (c->bad_seq) {
            tr_seterr(err, TR_ERR_MAX,
                      "第%d行：含有无法识别的字符（文件既不是 UTF-8 也不是 GB18030 编码）",
                      c->rownum);
            return -1;
        }
        if (c->raw_pos == c->raw_len || c->need_more) {
            int r = read_raw(c, err);
            if (r < 0)
                return -1;
            if (r == 0) {
                if (c->raw_len == 0)
                    return 0;
                if (c->need_more) {
                    tr_seterr(err, TR_ERR_MAX, "第%d行：文件末尾的字符不完整（文件可能被截断）",
                              c->rownum);
                    return -1;
                }
            }
            c->need_more = false;
        }
        char *in = (char *)c->raw + c->raw_pos;
        size_t inleft = c->raw_len - c->raw_pos;
        char *out = c->dec;
        size_t outleft = sizeof c->dec;
        size_t rc = iconv(c->cd, &in, &inleft, &out, &outleft);
        int e = errno;
        c->raw_pos = (size_t)((unsigned char *)in - c->raw);
        if (rc == (size_t)-1) {
            if (e == EILSEQ)
                c->bad_seq = true;
            else if (e == EINVAL)
                c->need_more = true;
            /* E2BIG: dec is full; the rest waits for the next fill. */
        }
        size_t produced = sizeof c->dec - outleft;
        if (produced > 0) {
            /* Hand over what converted cleanly first, so an error is
             * reported with the row it is really in. */
            c->data = c->dec;
            c->pos = 0;
            c->len = produced;
            return 1;
        }
    }
}

/* Makes c->data[c->pos..c->len) non-empty: 1, or 0 at end of file, -1 error. */
static int fill(struct tr_csv *c, char *err)
{
    if (c->pos < c->len)
        return 1;
    if (c->gb)
        return fill_gb(c, err);
    c->raw_pos = c->raw_len;
    int r = read_raw(c, err);
    if (r <= 0)
        return r;
    if (c->ascii_so_far && !all_ascii(c->raw, c->raw_len)) {
        /* Everything so far was ASCII, which reads the same in both
         * encodings, so the guess can still be made here. */
        if (!utf8_valid(c->raw, c->raw_len, true)) {
            if (start_gb(c, err) < 0)
                return -1;
            return fill_gb(c, err);
        }
        c->ascii_so_far = false;
    }
    c->data = (const char *)c->raw;
    c->pos = 0;
    c->len = c->raw_len;
    return 1;
}

static int end_field(struct tr_csv *c, struct tr_row *row, int col, char *err)
{
    if (col >= TR_MAX_COLS) {
        tr_seterr(err, TR_ERR_MAX, "第%d行：列数超过 %d 列", c->rownum, TR_MAX_COLS);
        return -1;
    }
    if (!c->gb && !utf8_valid((const unsigned char *)row->buf + row->cell_start,
                              row->len - row->cell_start, false)) {
        tr_seterr(err, TR_ERR_MAX,
                  "第%d行：第%d列含有无效的 UTF-8 字符（文件中混用了不同的编码）",
                  c->rownum, col + 1);
        return -1;
    }
    if (tr_row_cell_end(row, col) < 0) {
        tr_seterr(err, TR_ERR_MAX, "第%d行：整行内容过长（超过 %u KiB）", c->rownum,
                  TR_ROW_MAX / 1024u);
        return -1;
    }
    return 0;
}

static int put_run(struct tr_csv *c, struct tr_row *row, const char *s, size_t n, int col,
                   bool quoted, char *err)
{
    if (memchr(s, '\0', n)) {
        tr_seterr(err, TR_ERR_MAX, "第%d行：含有二进制内容，文件不是有效的 .csv 文件",
                  c->rownum);
        return -1;
    }
    if (tr_row_put(row, s, n) < 0) {
        tr_seterr(err, TR_ERR_MAX, "第%d行：整行内容过长（超过 %u KiB）", c->rownum,
                  TR_ROW_MAX / 1024u);
        return -1;
    }
    if (row->len - row->cell_start > TR_FIELD_MAX) {
        tr_seterr(err, TR_ERR_MAX, "第%d行：字段过长（第%d列超过 %u KiB）%s", c->rownum,
                  col + 1, TR_FIELD_MAX / 1024u,
                  quoted ? "，可能是引号没有配对" : "");
        return -1;
    }
    return 0;
}

/* Reads one record into row. 1 record, 0 end of file, -1 error. */
static int read_record(struct tr_csv *c, struct tr_row *row, int *ncols, char *err)
{
    int r;
    enum csv_state st = S_START;
    int col = 0;

    r = fill(c, err);
    if (r <= 0)
        return r;
    if (c->pending_lf) {
        c->pending_lf = false;
        if (c->data[c->pos] == '\n') {
            c->pos++;
            r = fill(c, err);
            if (r <= 0)
                return r;
        }
    }
    if (c->rownum == INT_MAX) {
        tr_seterr(err, TR_ERR_MAX, "文件行数过多，无法读取");
        return -1;
    }
    c->rownum++;
    tr_row_clear(row);
    tr_row_cell_begin(row);

    for (;;) {
        r = fill(c, err);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        const char *p = c->data + c->pos, *end = c->data + c->len, *q = p;
        switch (st) {
        case S_START:
            if (*p == '"') {
                c->pos++;
                st = S_QUOTED;
                continue;
            }
            /* fall through */
        case S_UNQUOTED:
            /* A quote inside an unquoted field is kept as is, as Excel does. */
            while (q < end && *q != ',' && *q != '\r' && *q != '\n')
                q++;
            if (q > p) {
                if (put_run(c, row, p, (size_t)(q - p), col, false, err) < 0)
                    return -1;
                c->pos += (size_t)(q - p);
                st = S_UNQUOTED;
                continue;
            }
            c->pos++;
            if (end_field(c, row, col, err) < 0)
                return -1;
            if (*p == ',') {
                col++;
                st = S_START;
                continue;
            }
            c->pending_lf = *p == '\r';
            *ncols = col + 1;
            return 1;
        case S_QUOTED:
            q = memchr(p, '"', (size_t)(end - p));
            if (!q)
                q = end;
            if (q > p && put_run(c, row, p, (size_t)(q - p), col, true, err) < 0)
                return -1;
            c->pos += (size_t)(q - p);
            if (q < end) {
                c->pos++;
                st = S_QUOTE_IN_QUOTED;
            }
            continue;
        case S_QUOTE_IN_QUOTED:
            if (*p == '"') {
                if (put_run(c, row, "\"", 1, col, true, err) < 0)
                    return -1;
                c->pos++;
                st = S_QUOTED;
            } else {
                /* Delimiter, or text after the closing quote ("ab"c reads
                 * as abc in Excel): either way unquoted rules go on. */
                st = S_UNQUOTED;
            }
            continue;
        }
    }
    /* End of file inside the record. */
    if (st == S_QUOTED) {
        tr_seterr(err, TR_ERR_MAX, "第%d行：引号没有配对（文件末尾仍在引号内）", c->rownum);
        return -1;
    }
    if (end_field(c, row, col, err) < 0)
        return -1;
    *ncols = col + 1;
    return 1;
}

int tr_csv_next(struct tr_csv *c, struct tr_row *row, int *ncols, int *rownum, char *err)
{
    for (;;) {
        int n = 0;
        int r = read_record(c, row, &n, err);
        if (r <= 0)
            return r;
        /* Blank lines and rows of bare commas are skipped but counted. */
        if (tr_row_has_text(row)) {
            *ncols = n;
            *rownum = c->rownum;
            return 1;
        }
    }
}
