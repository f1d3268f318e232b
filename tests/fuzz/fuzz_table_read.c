/* libFuzzer target for io/table_read: any upload a member of staff (or an
 * attacker with a staff login) sends ends up in table_open/table_next, so
 * every byte string must give rows or a Chinese error, never a crash, a
 * leak or unbounded memory. The input goes to a memfd (no disk I/O, no
 * temp-file clean-up) and is read by path through /proc/self/fd, as a real
 * upload is read from its file.
 *
 * Built and run by tests/fuzz/run.sh (target `table`, seeds in corpus_table/);
 * by hand:
 *   clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_table_read.c \
 *         src/io/[all .c files] $(pkg-config --cflags --libs xlsxwriter libzip expat)
 *   ./a.out -max_total_time=60 -rss_limit_mb=512 tests/fuzz/corpus_table */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* memfd_create */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/table_read.h"

/* Beyond a few MiB the fuzzer only burns time on copying. */
#define MAX_INPUT (8u * 1024u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    int fd = memfd_create("fuzz_table", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            goto done;
        off += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    char err[256];
    table_reader *r = table_open(path, err, sizeof err);
    if (!r) {
        /* Every failure must say something. */
        if (!err[0])
            __builtin_trap();
        goto done;
    }
    (void)table_format(r);
    (void)table_encoding(r);
    const char *const *cells;
    int ncols, rownum, rc;
    size_t sink = 0;
    while ((rc = table_next(r, &cells, &ncols, &rownum, err, sizeof err)) == 1) {
        if (ncols <= 0 || rownum <= 0)
            __builtin_trap();
        /* Touch every cell so ASan sees any dangling pointer. */
        for (int i = 0; i < ncols; i++)
            sink += strlen(cells[i]);
    }
    if (rc < 0 && !err[0])
        __builtin_trap();
    (void)sink;
    table_close(r);
done:
    close(fd);
    return 0;
}
