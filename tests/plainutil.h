/* Test helpers without a test framework: also linked into the torture
 * programs, which have their own main() and reporting. */
#ifndef OCIDIR_PLAINUTIL_H
#define OCIDIR_PLAINUTIL_H

#include <stddef.h>

/* A ustar archive of one regular file: header, data padded to 512, two zero
 * blocks.  `out` must hold tu_tar_size(len) bytes; returns that size. */
size_t tu_make_tar(unsigned char *out, const char *name, const unsigned char *data, size_t len);
/* The archive size tu_make_tar() writes for `len` bytes of data. */
size_t tu_tar_size(size_t len);

/* Remove a tree (no symlink followed); NULL is accepted. */
void tu_rm_rf(const char *path);

#endif
