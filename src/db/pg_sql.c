/* SQLite dialect → PostgreSQL (see pg_sql.h). A small lexer that copies
 * string literals, quoted identifiers, comments and dollar-quoted bodies
 * untouched and rewrites only words, placeholders and a few fixed shapes. */
#include "db/pg_sql.h"
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable buffer ---- */

typedef struct { char *p; size_t n, cap; bool oom; } buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) { b->oom = true; return; }
        b->p = q; b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }
static void put_param(buf *b, int v) { char t[16]; int n = snprintf(t, sizeof t, "$%d", v); put(b, t, (size_t)n); }

/* ---- the lexer ---- */

static bool word_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static bool word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Length of the quoted/comment token at P, or 0 when P starts none. Unclosed
 * tokens run to the end of the text. */
static size_t quoted_len(const char *p) {
    const char *q = p;
    if (*p == '\'' || *p == '"') {
        char c = *p;
        for (q = p + 1; *q; q++)
            if (*q == c) { if (q[1] == c) q++; else return (size_t)(q + 1 - p); }
        return strlen(p);
    }
    if (p[0] == '-' && p[1] == '-') { q = strchr(p, '\n'); return q ? (size_t)(q - p) : strlen(p); }
    if (p[0] == '/' && p[1] == '*') { q = strstr(p + 2, "*/"); return q ? (size_t)(q + 2 - p) : strlen(p); }
    if (p[0] == '$' && (p[1] == '$' || word_start(p[1]))) {
        q = p + 1;
        while (word_char(*q)) q++;
        if (*q != '$') return 0;
        size_t tag = (size_t)(q + 1 - p);
        for (const char *e = q + 1; (e = strchr(e, '$')) != NULL; e++)
            if (strncmp(e, p, tag) == 0) return (size_t)(e + tag - p);
        return strlen(p);
    }
    return 0;
}

static size_t word_len(const char *p) { size_t n = 0; while (word_char(p[n])) n++; return n; }

static bool is_word(const char *p, size_t n, const char *w) { return strlen(w) == n && strncasecmp(p, w, n) == 0; }
static bool is_word_exact(const char *p, size_t n, const char *w) { return strlen(w) == n && strncmp(p, w, n) == 0; }

static const char *skip_ws(const char *p) {
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*')) { p += quoted_len(p); continue; }
        return p;
    }
}

/* The word at P after blanks: its start (or NULL) and length. */
static const char *next_word(const char *p, size_t *n) {
    p = skip_ws(p);
    if (!word_start(*p)) { *n = 0; return NULL; }
    *n = word_len(p);
    return p;
}

/* Whether P (after a placeholder) continues with IS NULL or IS NOT NULL;
 * END gets the end of that phrase. */
static bool is_null_test(const char *p, const char **end) {
    size_t n;
    const char *w = next_word(p, &n);
    if (!w || !is_word(w, n, "IS")) return false;
    w = next_word(w + n, &n);
    if (w && is_word(w, n, "NOT")) w = next_word(w + n, &n);
    if (!w || !is_word(w, n, "NULL")) return false;
    *end = w + n;
    return true;
}

/* A placeholder at P: its length and number (SQLite's rule for a bare ?). */
static size_t placeholder(const char *p, int *maxn, int *num) {
    size_t n = 1;
    if (isdigit((unsigned char)p[1])) {
        int v = 0;
        while (isdigit((unsigned char)p[n]) && v < 100000) v = v * 10 + (p[n++] - '0');
        *num = v;
    } else *num = *maxn + 1;
    if (*num > *maxn) *maxn = *num;
    return n;
}

/* ---- statements ---- */

/* After the operand of LIKE: no escape character, as in SQLite — unless the
 * statement names one, or the operand goes on (a || b), where ESCAPE would
 * bind to the wrong part. */
static void escape_after(buf *b, const char *p) {
    const char *e = skip_ws(p);
    size_t n;
    const char *w = next_word(p, &n);
    if (w && is_word(w, n, "ESCAPE")) return;
    if (strchr("|+-*/", *e) && *e) return;
    puts_(b, " ESCAPE ''");
}

void pg_sql_free(pg_sql *p) {
    free(p->sql); free(p->shadow_of); free(p->text_only);
    memset(p, 0, sizeof *p);
}

int pg_translate(const char *in, pg_sql *out) {
    memset(out, 0, sizeof *out);
    /* Pass 1: the highest placeholder number, so hidden ones can follow it. */
    int maxn = 0, nshadow = 0;
    for (const char *p = in; *p;) {
        size_t q = quoted_len(p);
        if (q) { p += q; continue; }
        if (*p == '?') {
            int num; p += placeholder(p, &maxn, &num);
            const char *end;
            if (is_null_test(p, &end)) nshadow++;
            continue;
        }
        if (word_start(*p)) { p += word_len(p); continue; }
        p++;
    }
    out->nparams = maxn;
    out->text_only = malloc((size_t)maxn + 1);
    out->shadow_of = malloc(sizeof(int) * ((size_t)nshadow + 1));
    if (!out->text_only || !out->shadow_of) { pg_sql_free(out); return -1; }
    memset(out->text_only, 1, (size_t)maxn + 1);

    /* Pass 2: the text. */
    buf b = {0};
    int seen = 0;
    bool like = false;   /* the operand after LIKE is next: append ESCAPE '' after it */
    const char *prev_word = NULL; size_t prev_n = 0;
    for (const char *p = in; *p;) {
        size_t q = quoted_len(p);
        if (q) {
            put(&b, p, q);
            char c = *p;
            p += q;
            if (c == '\'') {
                if (like) escape_after(&b, p);
                like = false;
            } else if (c == '"' || c == '$') like = false;   /* comments leave it pending */
            continue;
        }
        if (*p == '?') {
            int num;
            p += placeholder(p, &seen, &num);
            const char *end;
            if (is_null_test(p, &end)) {
                out->shadow_of[out->nshadow] = num;
                put_param(&b, maxn + ++out->nshadow);
            } else {
                out->text_only[num - 1] = 0;
                put_param(&b, num);
                if (like) escape_after(&b, p);
            }
            like = false;
            continue;
        }
        if (word_start(*p)) {
            size_t n = word_len(p);
            like = false;
            if (is_word(p, n, "LIKE")) { puts_(&b, "ILIKE"); like = true; }
            else if (is_word(p, n, "IFNULL")) puts_(&b, "COALESCE");
            else if (is_word(p, n, "INTEGER")) puts_(&b, "BIGINT");
            else if (is_word(p, n, "INDEXED")) {
                /* INDEXED BY name: SQLite's index hint; PostgreSQL plans from
                 * its statistics and has no such clause. */
                size_t n2, n3;
                const char *by = next_word(p + n, &n2);
                const char *name = by && is_word(by, n2, "BY") ? next_word(by + n2, &n3) : NULL;
                /* The statement has a plan that depends on its values (a name
                 * fragment, a region's share of the persons): PostgreSQL's
                 * generic plan of a prepared statement guesses them and, at a
                 * million persons, guessed a scan of the whole region. */
                if (name) { out->custom_plan = true; p = name + n3; continue; }
                put(&b, p, n);
            }
            else if ((is_word(p, n, "IMMEDIATE") || is_word(p, n, "EXCLUSIVE") || is_word(p, n, "DEFERRED")) &&
                     prev_word && is_word(prev_word, prev_n, "BEGIN")) {
                /* BEGIN IMMEDIATE: PostgreSQL takes row locks as it writes */
            } else put(&b, p, n);
            prev_word = p; prev_n = n;
            p += n;
            continue;
        }
        if (!isspace((unsigned char)*p)) like = false;
        put(&b, p, 1);
        p++;
    }
    if (b.oom) { free(b.p); pg_sql_free(out); return -1; }
    out->sql = b.p ? b.p : strdup("");
    if (!out->sql) { pg_sql_free(out); return -1; }
    return 0;
}

/* ---- migrations ---- */

/* A token of a CREATE TRIGGER statement. */
struct tok { const char *p; size_t n; };

static int tokens(const char *p, const char *end, struct tok *t, int max) {
    int k = 0;
    while (p < end && k < max) {
        p = skip_ws(p);
        if (p >= end) break;
        size_t n = quoted_len(p);
        if (!n) n = word_start(*p) ? word_len(p) : 1;
        t[k].p = p; t[k].n = n; k++;
        p += n;
    }
    return k;
}

static bool tok_is(const struct tok *t, const char *w) { return is_word(t->p, t->n, w); }

/* CREATE TRIGGER name BEFORE|AFTER UPDATE|DELETE|INSERT [OF cols] ON table
 * [FOR EACH ROW] BEGIN SELECT RAISE(ABORT|FAIL|ROLLBACK, 'msg'); END */
static bool translate_trigger(const char *start, const char *end, buf *o, char *err, size_t errcap) {
    struct tok t[64];
    int n = tokens(start, end, t, 64), i = 2;
    if (n < 8) goto bad;
    if (tok_is(&t[i], "IF")) i += 3;
    const struct tok *name = &t[i++], *timing = &t[i++], *event = &t[i++];
    if (!(tok_is(timing, "BEFORE") || tok_is(timing, "AFTER"))) goto bad;
    const struct tok *of_start = NULL, *of_end = NULL;
    if (i < n && tok_is(&t[i], "OF")) {
        of_start = &t[++i];
        while (i < n && !tok_is(&t[i], "ON")) i++;
        of_end = &t[i - 1];
    }
    if (i >= n || !tok_is(&t[i], "ON")) goto bad;
    const struct tok *table = &t[++i];
    i++;
    if (i + 2 < n && tok_is(&t[i], "FOR")) i += 3;
    /* BEGIN SELECT RAISE ( kind , 'msg' ) ; END */
    if (i + 10 > n || !tok_is(&t[i], "BEGIN") || !tok_is(&t[i + 1], "SELECT") || !tok_is(&t[i + 2], "RAISE") ||
        t[i + 3].p[0] != '(' || t[i + 5].p[0] != ',' || t[i + 6].p[0] != '\'' || t[i + 7].p[0] != ')' ||
        t[i + 8].p[0] != ';' || !tok_is(&t[i + 9], "END"))
        goto bad;
    const struct tok *msg = &t[i + 6];
    puts_(o, "CREATE TRIGGER "); put(o, name->p, name->n); puts_(o, " ");
    put(o, timing->p, timing->n); puts_(o, " "); put(o, event->p, event->n);
    if (of_start) { puts_(o, " OF "); put(o, of_start->p, (size_t)(of_end->p + of_end->n - of_start->p)); }
    puts_(o, " ON "); put(o, table->p, table->n);
    puts_(o, " FOR EACH ROW EXECUTE FUNCTION vets_refuse("); put(o, msg->p, msg->n); puts_(o, ")");
    if (tok_is(event, "DELETE")) {
        /* A row trigger does not see TRUNCATE: refuse it as well. */
        puts_(o, ";\nCREATE TRIGGER "); put(o, name->p, name->n); puts_(o, "_truncate BEFORE TRUNCATE ON ");
        put(o, table->p, table->n); puts_(o, " FOR EACH STATEMENT EXECUTE FUNCTION vets_refuse(");
        put(o, msg->p, msg->n); puts_(o, ")");
    }
    return true;
bad:
    snprintf(err, errcap, "无法转换为 PostgreSQL 的触发器（只支持 BEGIN SELECT RAISE(ABORT, '…'); END）：%.80s", start);
    return false;
}

static const char refuse_fn[] =
    "CREATE OR REPLACE FUNCTION vets_refuse() RETURNS trigger LANGUAGE plpgsql AS $vets$\n"
    "BEGIN\n"
    "  RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'integrity_constraint_violation';\n"
    "END\n"
    "$vets$;\n";

char *pg_translate_ddl(const char *in, char *err, size_t errcap) {
    buf b = {0};
    bool triggers = false;
    const char *prev = NULL; size_t prev_n = 0;   /* the last word */
    bool stmt_start = true;
    for (const char *p = in; *p;) {
        size_t q = quoted_len(p);
        if (q) { if (*p == '\'' || *p == '"') stmt_start = false; put(&b, p, q); p += q; continue; }
        if (*p == ';') { put(&b, p, 1); p++; stmt_start = true; prev = NULL; continue; }
        if (!word_start(*p)) { if (!isspace((unsigned char)*p)) stmt_start = false; put(&b, p, 1); p++; continue; }
        size_t n = word_len(p);
        bool first = stmt_start;
        stmt_start = false;
        size_t n2;
        const char *w2 = next_word(p + n, &n2);
        if (first && is_word(p, n, "PRAGMA")) {
            const char *e = strchr(p, ';');
            p = e ? e + 1 : p + strlen(p);
            stmt_start = true;
            continue;
        }
        if (first && is_word(p, n, "CREATE") && w2 && is_word(w2, n2, "VIRTUAL")) {
            snprintf(err, errcap, "SQLite 虚拟表无法转换为 PostgreSQL：请在 src/db/migrations_pg/ 中写出其 PostgreSQL 形式");
            free(b.p);
            return NULL;
        }
        if (first && is_word(p, n, "CREATE") && w2 && is_word(w2, n2, "TRIGGER")) {
            /* to the END that closes the body */
            const char *e = p;
            for (;;) {
                size_t qq = quoted_len(e);
                if (qq) { e += qq; continue; }
                if (!*e) break;
                if (word_start(*e)) {
                    size_t wn = word_len(e);
                    if (is_word(e, wn, "END")) { e += wn; break; }
                    e += wn;
                    continue;
                }
                e++;
            }
            if (!translate_trigger(p, e, &b, err, errcap)) { free(b.p); return NULL; }
            triggers = true;
            p = e;
            continue;
        }
        if (is_word_exact(p, n, "INTEGER") && w2 && is_word(w2, n2, "PRIMARY")) {
            size_t n3;
            const char *w3 = next_word(w2 + n2, &n3);
            if (w3 && is_word(w3, n3, "KEY")) {
                puts_(&b, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
                p = w3 + n3;
                prev = "KEY"; prev_n = 3;
                continue;
            }
        }
        if (is_word_exact(p, n, "INTEGER")) puts_(&b, "BIGINT");
        else if (is_word_exact(p, n, "REAL")) puts_(&b, "DOUBLE PRECISION");
        else if (is_word_exact(p, n, "BLOB")) puts_(&b, "BYTEA");
        else if (is_word_exact(p, n, "AUTOINCREMENT")) { /* identity columns count on their own */ }
        else if (is_word_exact(p, n, "WITHOUT") && w2 && is_word(w2, n2, "ROWID")) { p = w2 + n2; continue; }
        else if (is_word_exact(p, n, "TEXT") && !(prev && is_word(prev, prev_n, "AS"))) {
            puts_(&b, "TEXT");
            if (w2 && is_word(w2, n2, "COLLATE")) {
                size_t n3;
                const char *w3 = next_word(w2 + n2, &n3);
                if (w3 && (is_word(w3, n3, "BINARY") || is_word(w3, n3, "RTRIM"))) { puts_(&b, " COLLATE \"C\""); p = w3 + n3; prev = w3; prev_n = n3; continue; }
                if (w3 && is_word(w3, n3, "NOCASE")) {
                    snprintf(err, errcap, "COLLATE NOCASE 无法直接转换为 PostgreSQL：请在 src/db/migrations_pg/ 中写出其形式");
                    free(b.p);
                    return NULL;
                }
            } else puts_(&b, " COLLATE \"C\"");
        } else put(&b, p, n);
        prev = p; prev_n = n;
        p += n;
    }
    if (b.oom) { free(b.p); snprintf(err, errcap, "内存不足"); return NULL; }
    if (triggers) {
        buf o = {0};
        puts_(&o, refuse_fn);
        if (b.p) puts_(&o, b.p);
        free(b.p);
        if (o.oom) { free(o.p); snprintf(err, errcap, "内存不足"); return NULL; }
        return o.p;
    }
    return b.p ? b.p : strdup("");
}
