/* csv2xlsx — converts a UTF-8 CSV (RFC 4180, as `sqlite3 -csv` writes it)
 * into an .xlsx with the same cells, for the import benchmark.
 *
 *   csv2xlsx [--inline] IN.csv OUT.xlsx
 *
 * Default: every cell a shared string (xl/sharedStrings.xml), the way Excel
 * and WPS save a sheet typed or pasted as text — the realistic upload, and
 * the case where the reader must hold the whole string table in memory.
 * --inline: inline strings (t="inlineStr"), the way libxlsxwriter's
 * constant_memory mode (and so vets' own export) writes them.
 * Empty cells are left out. Memory: the shared-string table only; the sheet
 * XML is streamed to a temporary file and zipped (deflate) with libzip.
 * Build: cc -O2 -o csv2xlsx csv2xlsx.c $(pkg-config --cflags --libs libzip) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

static void die(const char *m) { fprintf(stderr, "csv2xlsx: %s\n", m); exit(1); }

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n);
    if (!p) die("out of memory");
    return p;
}

/* ---- CSV reader: one record at a time, fields NUL-terminated in buf ---- */
struct csv { FILE *f; char *buf; size_t cap, len; size_t *off; int noff, capoff; };

static void put(struct csv *c, int ch) {
    if (c->len + 1 >= c->cap) { c->cap = c->cap ? c->cap * 2 : 4096; c->buf = xrealloc(c->buf, c->cap); }
    c->buf[c->len++] = (char)ch;
}
static void field_start(struct csv *c) {
    if (c->noff == c->capoff) { c->capoff = c->capoff ? c->capoff * 2 : 64; c->off = xrealloc(c->off, (size_t)c->capoff * sizeof *c->off); }
    c->off[c->noff++] = c->len;
}

/* Returns the number of fields, 0 at end of file. */
static int csv_next(struct csv *c) {
    c->len = 0; c->noff = 0;
    int ch = getc(c->f);
    if (ch == EOF) return 0;
    field_start(c);
    int quoted = 0, inq = 0;
    for (;; ch = getc(c->f)) {
        if (inq) {
            if (ch == EOF) die("unterminated quoted field");
            if (ch == '"') {
                int nx = getc(c->f);
                if (nx == '"') { put(c, '"'); continue; }
                inq = 0; ch = nx;
            } else { put(c, ch); continue; }
        }
        if (ch == EOF || ch == '\n') { put(c, 0); break; }
        if (ch == '\r') continue;
        if (ch == ',') { put(c, 0); field_start(c); quoted = 0; continue; }
        if (ch == '"' && !quoted && c->len == c->off[c->noff - 1]) { inq = quoted = 1; continue; }
        put(c, ch);
    }
    return c->noff;
}

/* ---- shared strings: open-addressing hash of offsets into one arena ---- */
struct sst { char *pool; size_t plen, pcap; size_t *str; uint32_t n, cap; uint32_t *slot; uint32_t nslot; };

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ull; }
    return h;
}

static void sst_grow(struct sst *t) {
    uint32_t ns = t->nslot ? t->nslot * 2 : 1u << 16;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl) die("out of memory");
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t j = (uint32_t)(hash(t->pool + t->str[i]) & (ns - 1));
        while (sl[j]) j = (j + 1) & (ns - 1);
        sl[j] = i + 1;
    }
    free(t->slot); t->slot = sl; t->nslot = ns;
}

static uint32_t sst_index(struct sst *t, const char *s) {
    if ((uint64_t)t->n * 2 >= t->nslot) sst_grow(t);
    uint32_t j = (uint32_t)(hash(s) & (t->nslot - 1));
    for (; t->slot[j]; j = (j + 1) & (t->nslot - 1))
        if (strcmp(t->pool + t->str[t->slot[j] - 1], s) == 0) return t->slot[j] - 1;
    size_t l = strlen(s) + 1;
    if (t->plen + l > t->pcap) { t->pcap = (t->pcap ? t->pcap * 2 : 1 << 20) + l; t->pool = xrealloc(t->pool, t->pcap); }
    memcpy(t->pool + t->plen, s, l);
    if (t->n == t->cap) { t->cap = t->cap ? t->cap * 2 : 1 << 16; t->str = xrealloc(t->str, t->cap * sizeof *t->str); }
    t->str[t->n] = t->plen;
    t->plen += l;
    t->slot[j] = ++t->n;
    return t->n - 1;
}

static void xml_text(FILE *o, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        default: putc(*s, o);
        }
    }
}

static void colname(int c, char out[8]) {
    char tmp[8]; int n = 0;
    for (c++; c > 0; c = (c - 1) / 26) tmp[n++] = (char)('A' + (c - 1) % 26);
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = 0;
}

static void add_buf(zip_t *z, const char *name, const char *data) {
    zip_source_t *s = zip_source_buffer(z, data, strlen(data), 0);
    if (!s || zip_file_add(z, name, s, ZIP_FL_ENC_UTF_8) < 0) die(zip_strerror(z));
}
/* Deflate level 1: this XML is so repetitive that level 6 spends minutes in
 * zlib's match search for a million rows; the reader inflates either alike. */
static void add_file(zip_t *z, const char *name, const char *path) {
    zip_source_t *s = zip_source_file(z, path, 0, -1);
    zip_int64_t i = s ? zip_file_add(z, name, s, ZIP_FL_ENC_UTF_8) : -1;
    if (i < 0 || zip_set_file_compression(z, (zip_uint64_t)i, ZIP_CM_DEFLATE, 1) < 0) die(zip_strerror(z));
}

int main(int argc, char **argv) {
    int inl = 0, a = 1;
    if (argc > 1 && strcmp(argv[1], "--inline") == 0) { inl = 1; a++; }
    if (argc - a != 2) { fprintf(stderr, "usage: csv2xlsx [--inline] IN.csv OUT.xlsx\n"); return 2; }
    const char *in = argv[a], *out = argv[a + 1];
    struct csv c = {0};
    c.f = fopen(in, "rb");
    if (!c.f) die("cannot open input");
    char sheet_path[4096], sst_path[4096];
    snprintf(sheet_path, sizeof sheet_path, "%s.sheet.tmp", out);
    snprintf(sst_path, sizeof sst_path, "%s.sst.tmp", out);
    FILE *sh = fopen(sheet_path, "wb");
    if (!sh) die("cannot write temporary sheet");
    static char shbuf[1 << 20];
    setvbuf(sh, shbuf, _IOFBF, sizeof shbuf);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
          "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
          "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheetData>", sh);
    struct sst t = {0};
    uint64_t refs = 0;
    long row = 0;
    int n;
    /* A UTF-8 BOM at the start is not part of the first header. */
    int b0 = getc(c.f), b1 = getc(c.f), b2 = getc(c.f);
    if (!(b0 == 0xEF && b1 == 0xBB && b2 == 0xBF)) fseek(c.f, 0, SEEK_SET);
    while ((n = csv_next(&c)) > 0) {
        row++;
        if (row > 1048576) die("more than 1 048 576 rows: does not fit a worksheet");
        fprintf(sh, "<row r=\"%ld\">", row);
        for (int i = 0; i < n; i++) {
            const char *v = c.buf + c.off[i];
            if (!*v) continue;
            char col[8]; colname(i, col);
            if (inl) {
                fprintf(sh, "<c r=\"%s%ld\" t=\"inlineStr\"><is><t>", col, row);
                xml_text(sh, v);
                fputs("</t></is></c>", sh);
            } else {
                fprintf(sh, "<c r=\"%s%ld\" t=\"s\"><v>%u</v></c>", col, row, sst_index(&t, v));
                refs++;
            }
        }
        fputs("</row>", sh);
    }
    fputs("</sheetData></worksheet>", sh);
    if (fclose(sh) != 0) die("write error (sheet)");
    fclose(c.f);
    if (!inl) {
        FILE *ss = fopen(sst_path, "wb");
        if (!ss) die("cannot write temporary sst");
        setvbuf(ss, shbuf, _IOFBF, sizeof shbuf);
        fprintf(ss, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                    "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"%llu\" uniqueCount=\"%u\">",
                (unsigned long long)refs, t.n);
        for (uint32_t i = 0; i < t.n; i++) { fputs("<si><t>", ss); xml_text(ss, t.pool + t.str[i]); fputs("</t></si>", ss); }
        fputs("</sst>", ss);
        if (fclose(ss) != 0) die("write error (sst)");
    }
    unlink(out);
    int zerr;
    zip_t *z = zip_open(out, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!z) die("cannot create output");
    add_buf(z, "[Content_Types].xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
        "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
        "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
        "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
        "<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>"
        "<Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
        "<Override PartName=\"/xl/sharedStrings.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml\"/>"
        "</Types>");
    add_buf(z, "_rels/.rels",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/>"
        "</Relationships>");
    add_buf(z, "xl/workbook.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
        "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
        "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">"
        "<sheets><sheet name=\"人员档案\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>");
    add_buf(z, "xl/_rels/workbook.xml.rels", inl ?
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
        "</Relationships>" :
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
        "<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings\" Target=\"sharedStrings.xml\"/>"
        "</Relationships>");
    add_file(z, "xl/worksheets/sheet1.xml", sheet_path);
    if (!inl) add_file(z, "xl/sharedStrings.xml", sst_path);
    if (zip_close(z) < 0) die(zip_strerror(z));
    unlink(sheet_path);
    if (!inl) unlink(sst_path);
    fprintf(stderr, "csv2xlsx: %ld rows, %s\n", row, inl ? "inline strings" : "shared strings");
    if (!inl) fprintf(stderr, "csv2xlsx: %u unique strings, %zu bytes\n", t.n, t.plen);
    return 0;
}
