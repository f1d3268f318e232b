/* Arena allocator (see arena.h). Blocks grow geometrically; a request that
 * needs a large buffer (an upload) gets a block of its own. */
#include "base/arena.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct block { struct block *next; size_t cap, used; _Alignas(16) unsigned char data[]; };
struct arena { struct block *head; size_t next_cap, total; };

static struct block *block_new(size_t cap) {
    struct block *b = malloc(sizeof *b + cap);
    if (!b) { fprintf(stderr, "arena: out of memory\n"); abort(); }
    b->next = NULL; b->cap = cap; b->used = 0;
    return b;
}

arena *arena_new(size_t first_block) {
    arena *a = calloc(1, sizeof *a);
    if (!a) abort();
    a->next_cap = first_block < 1024 ? 1024 : first_block;
    a->head = block_new(a->next_cap);
    return a;
}

void arena_free(arena *a) {
    if (!a) return;
    for (struct block *b = a->head, *n; b; b = n) { n = b->next; free(b); }
    free(a);
}

void *arena_alloc(arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    struct block *b = a->head;
    if (b->cap - b->used < n) {
        if (n > a->next_cap / 2) {
            /* Big allocation: own block behind the head so the head keeps serving small ones. */
            struct block *big = block_new(n);
            big->used = n; big->next = b->next; b->next = big;
            a->total += n;
            memset(big->data, 0, n);
            return big->data;
        }
        if (a->next_cap < (1u << 20)) a->next_cap *= 2;
        b = block_new(a->next_cap);
        b->next = a->head; a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n; a->total += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n) {
    if (!s) return NULL;
    char *d = arena_alloc(a, n + 1);
    memcpy(d, s, n); d[n] = 0;
    return d;
}

char *arena_strdup(arena *a, const char *s) { return s ? arena_strndup(a, s, strlen(s)) : NULL; }

char *arena_vprintf(arena *a, const char *fmt, va_list ap) {
    va_list cp; va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) n = 0;
    char *d = arena_alloc(a, (size_t)n + 1);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    return d;
}

char *arena_printf(arena *a, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    char *s = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

size_t arena_used(const arena *a) { return a->total; }
