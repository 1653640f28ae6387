/* Helpers shared by the cmocka suites.  Public API only. */
#ifndef OCIDIR_TESTUTIL_H
#define OCIDIR_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ocidir.h>

#include "plainutil.h" /* tu_rm_rf, tu_make_tar */

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string and
 * removes the tree with tu_rm_rf(). */
char *tu_mkdtemp(const char *tag);
/* A fresh directory under /dev/shm (a tmpfs, another filesystem than /tmp on
 * this machine's disk); NULL if /dev/shm is not there. */
char *tu_mkdtemp_shm(const char *tag);
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

/* ---- Scratch resources released by tu_teardown_scratch -------------------
 * Register temp dirs and helper processes as they are made; a test run with
 * cmocka_unit_test_teardown(fn, tu_teardown_scratch) then removes the dirs
 * and kills the processes even when an assertion fails half way. */
#include <sys/types.h>
/* tu_mkdtemp()/tu_mkdtemp_shm() registered for removal (shm: NULL if absent). */
char *tu_scratch_dir(const char *tag);
char *tu_scratch_dir_shm(const char *tag);
/* A fresh layout (OCIDIR_OPEN_CREATE) in a registered scratch dir. */
ocidir_t *tu_scratch_layout(char **path_out);
void tu_defer_rm(const char *path);
void tu_defer_kill(pid_t pid);
int tu_teardown_scratch(void **state);

/* mkdir(0755) and symlink that assert success. */
void tu_mkdir(const char *path);
void tu_symlink(const char *target, const char *linkpath);
/* The part of a digest after the colon. */
const char *tu_hex(const char *digest);
/* A malloc'd, sorted, recursive description of a tree (path, type, size of
 * regular files, inode, mtime in ns, symlink target): two equal listings
 * mean nothing was created, removed, renamed or modified. */
char *tu_tree_listing(const char *root);
/* The same with directories listed by name and mode only: their mtimes
 * change when a temporary file comes and goes, which this listing allows. */
char *tu_tree_listing_contents(const char *root);

/* Run fn(arg) in a forked child.  Returns 0 and *result = fn's return when
 * the child finished within timeout_s seconds; -1 when it had to be killed
 * (it hung); -2 when it died without answering.  fn must not use cmocka
 * assertions. */
int tu_run_in_child(int (*fn)(void *), void *arg, unsigned timeout_s, int *result);

/* A child process that creates/opens path, holds flock(LOCK_EX) on it and
 * keeps it until tu_release_holder().  Registered with tu_defer_kill(). */
typedef struct {
    pid_t pid;
    int release_fd;
} tu_holder_t;
tu_holder_t tu_hold_flock(const char *path);
void tu_release_holder(tu_holder_t *h);

/* ---- Temporary files of blob writers ------------------------------------ */
/* Number of entries in dir whose name starts with prefix; -1 if dir is absent. */
int tu_count_prefix(const char *dir, const char *prefix);
/* 1 if OCIDIR_FORCE_NAMED_TEMP is set as the library reads it (non-empty, not "0"). */
int tu_named_temp_forced(void);
/* 1 if the filesystem of dir supports O_TMPFILE (probed with a throwaway one). */
int tu_dir_supports_tmpfile(const char *dir);
/* 1 if a blob writer in dir uses a visible ".ocidir-tmp-*" file: forced by the
 * environment, or the filesystem has no O_TMPFILE. */
int tu_writer_temp_is_named(const char *dir);

/* ---- Strings freed at teardown ---------------------------------------------
 * tu_keep(p) registers malloc'd memory (a scratch path, say) and returns it;
 * tu_teardown_keep frees what was kept, then runs tu_teardown_scratch. */
void *tu_keep(void *p);
int tu_teardown_keep(void **state);

/* Every lookup of `digest` (stat, open, read_all, open_fd) fails with
 * `expected`, and each leaves its out-parameters as they were. */
void tu_expect_lookups_fail_untouched(ocidir_t *d, const char *digest, int expected);

/* Threads of this process, counted in /proc/self/task.  A thread that was
 * joined can still be listed for a moment (its task is reaped after the
 * join returns), so a count that must fall is waited for:
 * tu_threads_settled() returns the count once it has stayed the same for
 * 20 ms; tu_threads_wait(want) returns the count once it is `want`, or
 * whatever it is after 5 s. */
int tu_threads_settled(void);
int tu_threads_wait(int want);

/* The blob `digest` reads back (verified, whole) as exactly want[0, len). */
void tu_assert_blob_equals(ocidir_t *d, const char *digest, const void *want, size_t len);

/* Assert that a NULL-terminated string vector equals `want` (NULL-terminated),
 * printing both on a difference; a NULL `got` never matches. */
void tu_assert_strv(char **got, const char *const *want);

/* Run a shell command built from a printf format; returns system()'s status
 * and prints the command when it fails. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
