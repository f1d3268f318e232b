/* xlsx2csv — the first worksheet of an .xlsx as CSV, streamed (expat +
 * libzip), for the benchmark: it turns vets' own export
 * (GET /api/v1/persons/export.xlsx?full=1) into the pairs of 档案编号 and
 * 身份证号码 it needs, the ID numbers being stored sealed in the database.
 *
 *   xlsx2csv IN.xlsx [HEADER…]
 *
 * With headers, only those columns (matched on the first row), in that
 * order; without, every column. Shared and inline strings and plain values
 * are written as their text; fields are quoted when they need it.
 * Build: cc -O2 -o xlsx2csv xlsx2csv.c $(pkg-config --cflags --libs libzip expat) */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

static void die(const char *m) { fprintf(stderr, "xlsx2csv: %s\n", m); exit(1); }

struct buf { char *p; size_t n, cap; };
static void bput(struct buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) { b->cap = (b->n + n + 1) * 2; b->p = realloc(b->p, b->cap); if (!b->p) die("out of memory"); }
    memcpy(b->p + b->n, s, n); b->n += n; b->p[b->n] = 0;
}

/* Shared strings: all of them, in order. */
struct sst { char **s; size_t n, cap; struct buf cur; int in_si, in_t; };
static void XMLCALL sst_start(void *ud, const XML_Char *name, const XML_Char **atts) {
    (void)atts; struct sst *t = ud;
    if (!strcmp(name, "si")) { t->in_si = 1; t->cur.n = 0; bput(&t->cur, "", 0); }
    else if (!strcmp(name, "t") && t->in_si) t->in_t = 1;
}
static void XMLCALL sst_end(void *ud, const XML_Char *name) {
    struct sst *t = ud;
    if (!strcmp(name, "t")) t->in_t = 0;
    else if (!strcmp(name, "si")) {
        if (t->n == t->cap) { t->cap = t->cap ? t->cap * 2 : 1024; t->s = realloc(t->s, t->cap * sizeof *t->s); }
        t->s[t->n++] = strdup(t->cur.p ? t->cur.p : "");
        t->in_si = 0;
    }
}
static void XMLCALL sst_text(void *ud, const XML_Char *s, int len) {
    struct sst *t = ud;
    if (t->in_t) bput(&t->cur, s, (size_t)len);
}

/* The sheet: one row of cells at a time. */
struct sheet {
    struct sst *sst;
    char **cells; int ncells, capcells;
    int col, is_shared, in_v, in_t;
    struct buf cur;
    int *want; int nwant;      /* output columns (indexes into the row), or NULL: all */
    char **wanted; int nwanted;
    long rows;
};

static int col_of(const char *ref) {
    int c = 0;
    for (; *ref >= 'A' && *ref <= 'Z'; ref++) c = c * 26 + (*ref - 'A' + 1);
    return c - 1;
}

static void out_field(const char *s) {
    if (strpbrk(s, ",\"\n\r")) {
        putchar('"');
        for (; *s; s++) { if (*s == '"') putchar('"'); putchar(*s); }
        putchar('"');
    } else fputs(s, stdout);
}

static void emit_row(struct sheet *sh) {
    if (sh->rows == 0 && sh->nwanted) {   /* header: find the wanted columns */
        sh->want = calloc((size_t)sh->nwanted, sizeof *sh->want);
        for (int w = 0; w < sh->nwanted; w++) {
            sh->want[w] = -1;
            for (int c = 0; c < sh->ncells; c++)
                if (sh->cells[c] && !strcmp(sh->cells[c], sh->wanted[w])) { sh->want[w] = c; break; }
            if (sh->want[w] < 0) { fprintf(stderr, "xlsx2csv: no column %s\n", sh->wanted[w]); exit(1); }
        }
        sh->nwant = sh->nwanted;
    }
    int n = sh->want ? sh->nwant : sh->ncells;
    for (int i = 0; i < n; i++) {
        int c = sh->want ? sh->want[i] : i;
        if (i) putchar(',');
        if (c < sh->ncells && sh->cells[c]) out_field(sh->cells[c]);
    }
    putchar('\n');
    for (int c = 0; c < sh->ncells; c++) { free(sh->cells[c]); sh->cells[c] = NULL; }
    sh->ncells = 0;
    sh->rows++;
}

static void XMLCALL sh_start(void *ud, const XML_Char *name, const XML_Char **atts) {
    struct sheet *sh = ud;
    if (!strcmp(name, "c")) {
        sh->col = -1; sh->is_shared = 0; sh->cur.n = 0; bput(&sh->cur, "", 0);
        for (int i = 0; atts[i]; i += 2) {
            if (!strcmp(atts[i], "r")) sh->col = col_of(atts[i + 1]);
            else if (!strcmp(atts[i], "t") && !strcmp(atts[i + 1], "s")) sh->is_shared = 1;
        }
        if (sh->col < 0) sh->col = sh->ncells;
    } else if (!strcmp(name, "v")) sh->in_v = 1;
    else if (!strcmp(name, "t")) sh->in_t = 1;
}
static void XMLCALL sh_end(void *ud, const XML_Char *name) {
    struct sheet *sh = ud;
    if (!strcmp(name, "v")) sh->in_v = 0;
    else if (!strcmp(name, "t")) sh->in_t = 0;
    else if (!strcmp(name, "c")) {
        const char *v = sh->cur.p ? sh->cur.p : "";
        if (sh->is_shared) { size_t k = strtoul(v, NULL, 10); v = k < sh->sst->n ? sh->sst->s[k] : ""; }
        if (sh->col >= sh->capcells) {
            int nc = (sh->col + 1) * 2;
            sh->cells = realloc(sh->cells, (size_t)nc * sizeof *sh->cells);
            for (int i = sh->capcells; i < nc; i++) sh->cells[i] = NULL;
            sh->capcells = nc;
        }
        free(sh->cells[sh->col]);
        sh->cells[sh->col] = strdup(v);
        if (sh->col + 1 > sh->ncells) sh->ncells = sh->col + 1;
    } else if (!strcmp(name, "row")) emit_row(sh);
}
static void XMLCALL sh_text(void *ud, const XML_Char *s, int len) {
    struct sheet *sh = ud;
    if (sh->in_v || sh->in_t) bput(&sh->cur, s, (size_t)len);
}

static void parse(zip_t *z, const char *name, XML_Parser p) {
    zip_file_t *f = zip_fopen(z, name, 0);
    if (!f) return;
    static char chunk[1 << 16];
    zip_int64_t n;
    while ((n = zip_fread(f, chunk, sizeof chunk)) > 0)
        if (XML_Parse(p, chunk, (int)n, 0) == XML_STATUS_ERROR) die(XML_ErrorString(XML_GetErrorCode(p)));
    if (XML_Parse(p, chunk, 0, 1) == XML_STATUS_ERROR) die(XML_ErrorString(XML_GetErrorCode(p)));
    zip_fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: xlsx2csv IN.xlsx [HEADER…]\n"); return 2; }
    int zerr;
    zip_t *z = zip_open(argv[1], ZIP_RDONLY, &zerr);
    if (!z) die("cannot open the .xlsx");
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    struct sst t = {0};
    XML_Parser p = XML_ParserCreate("UTF-8");
    XML_SetUserData(p, &t);
    XML_SetElementHandler(p, sst_start, sst_end);
    XML_SetCharacterDataHandler(p, sst_text);
    parse(z, "xl/sharedStrings.xml", p);
    XML_ParserFree(p);
    /* The first sheet: vets and Excel both name it sheet1.xml. */
    struct sheet sh = {0};
    sh.sst = &t;
    sh.wanted = argv + 2; sh.nwanted = argc - 2;
    p = XML_ParserCreate("UTF-8");
    XML_SetUserData(p, &sh);
    XML_SetElementHandler(p, sh_start, sh_end);
    XML_SetCharacterDataHandler(p, sh_text);
    if (zip_name_locate(z, "xl/worksheets/sheet1.xml", 0) < 0) die("no xl/worksheets/sheet1.xml");
    parse(z, "xl/worksheets/sheet1.xml", p);
    XML_ParserFree(p);
    zip_close(z);
    if (fflush(stdout) != 0) die("write error");
    return 0;
}
