/* Arena allocator: memory by lifetime. Each HTTP request owns one arena that
 * is freed in one go when the response has been sent, so handlers never free
 * individual strings and cannot leak them. */
#ifndef VETS_BASE_ARENA_H
#define VETS_BASE_ARENA_H
#include <stddef.h>
#include <stdarg.h>

typedef struct arena arena;

arena *arena_new(size_t first_block);
void   arena_free(arena *a);
void  *arena_alloc(arena *a, size_t n);          /* zeroed, 16-byte aligned; aborts on OOM */
char  *arena_strdup(arena *a, const char *s);    /* NULL stays NULL */
char  *arena_strndup(arena *a, const char *s, size_t n);
char  *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char  *arena_vprintf(arena *a, const char *fmt, va_list ap);
size_t arena_used(const arena *a);
#endif
