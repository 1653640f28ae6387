/* Test helpers without a test framework: also linked into the torture
 * programs, which have their own main() and reporting. */
#ifndef OCIDIR_PLAINUTIL_H
#define OCIDIR_PLAINUTIL_H

#include <stddef.h>

#include "ocidir.h"

/* Options structs for one call, in an expression (C99 compound literals that
 * live until the end of the enclosing block). */
#define TU_FSCK(flags_, threads_, progress_, user_)                                                  \
    (&(ocidir_fsck_options_t){.struct_size = sizeof(ocidir_fsck_options_t), .flags = (flags_),       \
                              .threads = (threads_), .progress = (progress_), .user = (user_)})
#define TU_GC(flags_, progress_, user_)                                                              \
    (&(ocidir_gc_options_t){.struct_size = sizeof(ocidir_gc_options_t), .flags = (flags_),           \
                            .grace_seconds = OCIDIR_GC_GRACE_HANDLE, .progress = (progress_),        \
                            .user = (user_)})
#define TU_CLONE(flags_, progress_, user_)                                                           \
    (&(ocidir_clone_options_t){.struct_size = sizeof(ocidir_clone_options_t), .flags = (flags_),     \
                               .progress = (progress_), .user = (user_)})

/* A ustar archive of one regular file: header, data padded to 512, two zero
 * blocks.  `out` must hold tu_tar_size(len) bytes; returns that size. */
size_t tu_make_tar(unsigned char *out, const char *name, const unsigned char *data, size_t len);
/* The archive size tu_make_tar() writes for `len` bytes of data. */
size_t tu_tar_size(size_t len);

/* Remove a tree (no symlink followed); NULL is accepted. */
void tu_rm_rf(const char *path);

#endif
