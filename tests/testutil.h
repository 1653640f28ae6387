/* Helpers shared by the cmocka suites.  Public API only. */
#ifndef OCIDIR_TESTUTIL_H
#define OCIDIR_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ocidir.h>

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string and
 * removes the tree with tu_rm_rf(). */
char *tu_mkdtemp(const char *tag);
/* A fresh directory under /dev/shm (a tmpfs, another filesystem than /tmp on
 * this machine's disk); NULL if /dev/shm is not there. */
char *tu_mkdtemp_shm(const char *tag);
/* Remove a tree (no symlink followed). */
void tu_rm_rf(const char *path);
/* path = a "/" b, malloc'd. */
char *tu_join(const char *a, const char *b);
/* Write a file (created or truncated). */
void tu_write_file(const char *path, const void *buf, size_t len);
/* Read a whole file into a malloc'd buffer; returns -1 if it does not exist. */
ssize_t tu_read_file(const char *path, void **buf);
/* Number of open fds of this process (entries of /proc/self/fd). */
int tu_count_fds(void);
/* Number of entries in a directory other than . and .. ; -1 if absent. */
int tu_count_entries(const char *dir);
/* 1 if path exists (lstat), else 0. */
int tu_exists(const char *path);
/* Deterministic pseudo-random bytes. */
void tu_fill(void *buf, size_t len, uint32_t seed);
/* Create a layout at a fresh temp dir and open it with flags|CREATE. */
ocidir_t *tu_new_layout(char **path_out);
/* The blob path "<layout>/blobs/<alg>/<hex>" for a digest, malloc'd. */
char *tu_blob_path(const char *layout, const char *digest);

/* assert_int_equal with the library's message on mismatch. */
#define assert_ocidir(expected, expr)                                                   \
    do {                                                                                \
        int tu_rc_ = (int)(expr);                                                       \
        if (tu_rc_ != (expected))                                                       \
            print_error("%s = %d (%s), expected %d; last error: %s\n", #expr, tu_rc_, \
                        ocidir_strerror(tu_rc_), (int)(expected), ocidir_last_error()); \
        assert_int_equal(tu_rc_, (expected));                                           \
    } while (0)

#endif
