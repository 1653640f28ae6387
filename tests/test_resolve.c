/* Safe resolution of blob paths: no lookup leaves the layout, whatever the
 * symlinks in it say, and nothing but a regular file is ever opened for
 * reading.  Registered twice: with openat2 and with
 * OCIDIR_FORCE_RESOLVE_FALLBACK=1 (the O_NOFOLLOW component walk). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_scratch)

/* A layout holding one blob put through the library. */
struct fix {
    char *dir;     /* layout */
    ocidir_t *d;   /* writable handle */
    char digest[OCIDIR_DIGEST_MAX];
    char *blob;    /* <dir>/blobs/sha256/<hex> */
    char content[3000];
    char *outside; /* a scratch dir that is not the layout */
    char *outside_file; /* <outside>/blob, holding the blob's exact content */
};

static void fix_init(struct fix *f)
{
    memset(f, 0, sizeof *f);
    f->d = tu_scratch_layout(&f->dir);
    tu_fill(f->content, sizeof f->content, 7);
    assert_ocidir(0, ocidir_blob_put(f->d, f->content, sizeof f->content, f->digest));
    f->blob = tu_blob_path(f->dir, f->digest);
    assert_true(tu_exists(f->blob));
    f->outside = tu_scratch_dir("outside");
    f->outside_file = tu_join(f->outside, "blob");
    tu_write_file(f->outside_file, f->content, sizeof f->content);
}

/* Replace the blob file by a symlink to target. */
static void fix_link_blob(struct fix *f, const char *target)
{
    assert_int_equal(unlink(f->blob), 0);
    tu_symlink(target, f->blob);
}

static void fix_free(struct fix *f)
{
    ocidir_close(f->d);
    free(f->dir);
    free(f->blob);
    free(f->outside);
    free(f->outside_file);
}

/* path relative to the layout, malloc'd */
static char *in_layout(struct fix *f, const char *rel) { return tu_join(f->dir, rel); }

/* ---- the four lookups, each run in a child first so a hang fails the
 * test instead of stalling it ---- */

enum op { OP_STAT, OP_OPEN, OP_READ_ALL, OP_OPEN_FD, OP_COUNT };
static const char *const op_names[] = {"ocidir_blob_stat", "ocidir_blob_open",
                                       "ocidir_blob_read_all", "ocidir_blob_open_fd"};

struct call {
    ocidir_t *d;
    const char *digest;
    enum op op;
};

static int do_call(void *arg)
{
    const struct call *c = arg;
    switch (c->op) {
    case OP_STAT: {
        uint64_t size = 0;
        return ocidir_blob_stat(c->d, c->digest, &size);
    }
    case OP_OPEN: {
        ocidir_blob_reader_t *r = NULL;
        int rc = ocidir_blob_open(c->d, c->digest, -1, &r);
        ocidir_blob_reader_close(r);
        return rc;
    }
    case OP_READ_ALL: {
        void *buf = NULL;
        int rc = ocidir_blob_read_all(c->d, c->digest, -1, 1 << 20, &buf, NULL);
        ocidir_free(buf);
        return rc;
    }
    case OP_OPEN_FD: {
        int fd = -1;
        int rc = ocidir_blob_open_fd(c->d, c->digest, &fd);
        if (fd >= 0)
            close(fd);
        return rc;
    }
    default:
        return 1;
    }
}

/* Every lookup of digest fails with `expected`, never blocks, and leaves
 * the out-parameters alone. */
static void expect_lookups_fail(ocidir_t *d, const char *digest, int expected)
{
    for (int op = 0; op < OP_COUNT; op++) {
        struct call c = {d, digest, (enum op)op};
        int rc = 1;
        int how = tu_run_in_child(do_call, &c, 10, &rc);
        if (how == -1)
            print_error("%s(%s) blocked for 10 s\n", op_names[op], digest);
        assert_int_equal(how, 0);
        if (rc != expected)
            print_error("%s(%s) = %d (%s) in a child, expected %d (%s)\n", op_names[op], digest, rc,
                        ocidir_strerror(rc), expected, ocidir_strerror(expected));
        assert_int_equal(rc, expected);
    }
    /* Known not to block: again in this process, for the out-parameters. */
    tu_expect_lookups_fail_untouched(d, digest, expected);
}

/* Every lookup of digest succeeds and gives exactly content, verified. */
static void expect_lookups_succeed(ocidir_t *d, const char *digest, const void *content, size_t len)
{
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_stat(d, digest, &size));
    assert_int_equal(size, len);

    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(0, ocidir_blob_open(d, digest, (int64_t)len, &r));
    assert_int_equal(ocidir_blob_reader_size(r), len);
    char *got = malloc(len + 16);
    assert_non_null(got);
    size_t off = 0;
    for (;;) {
        ssize_t n = ocidir_blob_reader_read(r, got + off, len + 16 - off);
        if (n < 0)
            print_error("reader_read = %zd; last error: %s\n", n, ocidir_last_error());
        assert_true(n >= 0);
        if (n == 0)
            break;
        off += (size_t)n;
        assert_true(off <= len);
    }
    ocidir_blob_reader_close(r);
    assert_int_equal(off, len);
    assert_memory_equal(got, content, len);

    void *buf = NULL;
    size_t blen = 0;
    assert_ocidir(0, ocidir_blob_read_all(d, digest, -1, 1 << 20, &buf, &blen));
    assert_int_equal(blen, len);
    assert_memory_equal(buf, content, len);
    ocidir_free(buf);

    int fd = -1;
    assert_ocidir(0, ocidir_blob_open_fd(d, digest, &fd));
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    ssize_t n = pread(fd, got, len + 16, 0);
    assert_int_equal(n, (ssize_t)len);
    assert_memory_equal(got, content, len);
    close(fd);
    free(got);
}

/* ---- tests ---- */

/* Whether openat2 with RESOLVE_BENEATH works in this process (a kernel
 * older than 5.6, a seccomp filter or valgrind say no). */
static int openat2_works_here(void)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
    if (fd < 0)
        return 0;
    close((int)fd);
    return 1;
}

static void test_resolver_mode_matches_environment(void **state)
{
    (void)state;
    const char *force = getenv("OCIDIR_FORCE_RESOLVE_FALLBACK");
    int fallback = force && strcmp(force, "1") == 0;
    int available = openat2_works_here();
    /* Use the library once, then ask. */
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    assert_ocidir(OCIDIR_E_NOT_FOUND,
                  ocidir_blob_stat(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                   NULL));
    ocidir_close(d);
    print_message("resolver: %s (openat2 %savailable, OCIDIR_FORCE_RESOLVE_FALLBACK=%s)\n",
                  ocidir_resolver_uses_openat2() ? "openat2" : "O_NOFOLLOW walk",
                  available ? "" : "not ", force ? force : "");
    if (!available)
        print_message("note: openat2 is unavailable here (old kernel, seccomp, valgrind)\n");
    assert_int_equal(ocidir_resolver_uses_openat2() != 0, available && !fallback);
    free(dir);
}

static void test_plain_blob_reads_back(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    expect_lookups_succeed(f.d, f.digest, f.content, sizeof f.content);
    fix_free(&f);
}

static void test_read_rejects_symlink_to_absolute_path_outside(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    fix_link_blob(&f, f.outside_file);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    assert_non_null(strstr(ocidir_last_error(), tu_hex(f.digest)));
    fix_free(&f);
}

static void test_read_rejects_absolute_symlink_even_into_the_layout_itself(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    char *copy = in_layout(&f, "copy");
    tu_write_file(copy, f.content, sizeof f.content);
    fix_link_blob(&f, copy);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    free(copy);
    fix_free(&f);
}

static void test_read_rejects_relative_symlink_climbing_out(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    /* layout and outside are siblings: ../../../<outside>/blob from
     * blobs/sha256 is the outside file, which holds the right content. */
    char *o = strdup(f.outside);
    char *target = NULL;
    assert_true(asprintf(&target, "../../../%s/blob", basename(o)) > 0);
    fix_link_blob(&f, target);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    free(target);
    free(o);
    fix_free(&f);
}

static void test_read_rejects_deep_relative_symlink_to_etc_passwd(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    fix_link_blob(&f, "../../../../../../../../../../../../etc/passwd");
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    fix_free(&f);
}

static void test_read_rejects_symlink_that_leaves_and_reenters_the_layout(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    char *copy = in_layout(&f, "blobs/sha256/copy");
    tu_write_file(copy, f.content, sizeof f.content);
    char *l = strdup(f.dir);
    char *target = NULL;
    assert_true(asprintf(&target, "../../../%s/blobs/sha256/copy", basename(l)) > 0);
    fix_link_blob(&f, target);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    free(target);
    free(l);
    free(copy);
    fix_free(&f);
}

static void test_read_rejects_proc_self_root_magic_link(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    char *target = NULL;
    assert_true(asprintf(&target, "/proc/self/root%s", f.outside_file) > 0);
    /* The target does reach the right content for anyone who follows it. */
    void *probe = NULL;
    assert_int_equal(tu_read_file(target, &probe), (ssize_t)sizeof f.content);
    free(probe);
    fix_link_blob(&f, target);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    free(target);
    fix_free(&f);
}

static void test_read_rejects_symlink_to_proc_self_fd(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    int fd = open(f.outside_file, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    char target[64];
    snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
    fix_link_blob(&f, target);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    close(fd);
    fix_free(&f);
}

static void test_read_rejects_symlink_chain_ending_outside(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    /* blobs/sha256/<hex> -> ../../l1 -> l2 -> <outside file> */
    char *l1 = in_layout(&f, "l1");
    char *l2 = in_layout(&f, "l2");
    tu_symlink("l2", l1);
    tu_symlink(f.outside_file, l2);
    fix_link_blob(&f, "../../l1");
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);

    /* Same chain, its last hop a relative climb out. */
    char *o = strdup(f.outside);
    char *rel = NULL;
    assert_true(asprintf(&rel, "../%s/blob", basename(o)) > 0);
    assert_int_equal(unlink(l2), 0);
    tu_symlink(rel, l2);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    free(rel);
    free(o);
    free(l1);
    free(l2);
    fix_free(&f);
}

static void test_read_rejects_directory_symlink_leading_outside(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    /* blobs/sha256/<hex> -> ../../d/blob, where d -> <outside dir> */
    char *d = in_layout(&f, "d");
    tu_symlink(f.outside, d);
    fix_link_blob(&f, "../../d/blob");
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    free(d);
    fix_free(&f);
}

static void test_read_follows_symlink_within_the_blob_directory(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    char *other = in_layout(&f, "blobs/sha256/other-file");
    tu_write_file(other, f.content, sizeof f.content);
    fix_link_blob(&f, "other-file");
    expect_lookups_succeed(f.d, f.digest, f.content, sizeof f.content);
    free(other);
    fix_free(&f);
}

static void test_read_follows_symlink_to_another_algorithm_directory(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    char *sha512 = in_layout(&f, "blobs/sha512");
    tu_mkdir(sha512);
    char *y = in_layout(&f, "blobs/sha512/Y");
    tu_write_file(y, f.content, sizeof f.content);
    fix_link_blob(&f, "../sha512/Y");
    expect_lookups_succeed(f.d, f.digest, f.content, sizeof f.content);
    free(y);
    free(sha512);
    fix_free(&f);
}

static void test_read_follows_symlinks_anywhere_beneath_the_layout_root(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    /* blobs/sha256/<hex> -> ../../a -> b -> store/sub/../file, through a
     * directory symlink (store -> real) */
    char *real = in_layout(&f, "real");
    tu_mkdir(real);
    char *sub = in_layout(&f, "real/sub");
    tu_mkdir(sub);
    char *file = in_layout(&f, "real/file");
    tu_write_file(file, f.content, sizeof f.content);
    char *store = in_layout(&f, "store");
    tu_symlink("real", store);
    char *a = in_layout(&f, "a");
    char *b = in_layout(&f, "b");
    tu_symlink("b", a);
    tu_symlink("store/sub/../file", b);
    fix_link_blob(&f, "../../a");
    expect_lookups_succeed(f.d, f.digest, f.content, sizeof f.content);
    free(real);
    free(sub);
    free(file);
    free(store);
    free(a);
    free(b);
    fix_free(&f);
}

static void test_read_through_inside_symlink_still_verifies_content(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    char *other = in_layout(&f, "blobs/sha256/other-file");
    char wrong[sizeof f.content];
    memcpy(wrong, f.content, sizeof wrong);
    wrong[100] ^= 1;
    tu_write_file(other, wrong, sizeof wrong);
    fix_link_blob(&f, "other-file");
    void *buf = NULL;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(f.d, f.digest, -1, 1 << 20, &buf, NULL));
    assert_null(buf);
    free(other);
    fix_free(&f);
}

static void test_read_of_dangling_symlink_inside_is_not_found(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    fix_link_blob(&f, "no-such-file");
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_NOT_FOUND);
    fix_free(&f);
}

static void test_read_rejects_symlink_loop(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    /* A link to itself. */
    fix_link_blob(&f, tu_hex(f.digest));
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    /* A two-link cycle through the layout root. */
    char *l1 = in_layout(&f, "loop1");
    char *l2 = in_layout(&f, "loop2");
    tu_symlink("loop2", l1);
    tu_symlink("loop1", l2);
    assert_int_equal(unlink(f.blob), 0);
    tu_symlink("../../loop1", f.blob);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_ESCAPE);
    free(l1);
    free(l2);
    fix_free(&f);
}

static void test_read_rejects_fifo_without_blocking(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    assert_int_equal(unlink(f.blob), 0);
    assert_int_equal(mkfifo(f.blob, 0644), 0);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_FORMAT);
    /* A symlink (inside) to a FIFO is no better. */
    char *fifo = in_layout(&f, "blobs/sha256/fifo");
    assert_int_equal(rename(f.blob, fifo), 0);
    tu_symlink("fifo", f.blob);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_FORMAT);
    free(fifo);
    fix_free(&f);
}

static void test_read_rejects_directory(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    assert_int_equal(unlink(f.blob), 0);
    tu_mkdir(f.blob);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_FORMAT);
    fix_free(&f);
}

static void test_read_rejects_character_device(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    assert_int_equal(unlink(f.blob), 0);
    /* Tests run as root here; a mknod failure is a failure, not a skip. */
    int rc = mknod(f.blob, S_IFCHR | 0644, makedev(1, 3));
    if (rc != 0)
        print_error("mknod(%s, 1:3): %s\n", f.blob, strerror(errno));
    assert_int_equal(rc, 0);
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_FORMAT);
    fix_free(&f);
}

static void test_read_rejects_socket(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    /* The blob path is too long for sun_path: bind short, then rename. */
    char *sockdir = tu_scratch_dir("sock");
    char *sockpath = tu_join(sockdir, "s");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(strlen(sockpath) < sizeof addr.sun_path);
    strcpy(addr.sun_path, sockpath);
    assert_int_equal(bind(s, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(s, 1), 0);
    assert_int_equal(unlink(f.blob), 0);
    assert_int_equal(rename(sockpath, f.blob), 0);
    struct stat st;
    assert_int_equal(lstat(f.blob, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    expect_lookups_fail(f.d, f.digest, OCIDIR_E_FORMAT);
    close(s);
    free(sockpath);
    free(sockdir);
    fix_free(&f);
}

static void test_reader_reports_digest_error_for_flipped_byte(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    char bad[sizeof f.content];
    memcpy(bad, f.content, sizeof bad);
    bad[sizeof bad - 1] ^= 0x01;
    tu_write_file(f.blob, bad, sizeof bad);

    /* Stat and the raw fd do not verify; the reader does. */
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_stat(f.d, f.digest, &size));
    assert_int_equal(size, sizeof bad);
    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(0, ocidir_blob_open(f.d, f.digest, (int64_t)sizeof bad, &r));
    char buf[512];
    ssize_t n;
    size_t total = 0;
    while ((n = ocidir_blob_reader_read(r, buf, sizeof buf)) > 0)
        total += (size_t)n;
    assert_int_equal(n, OCIDIR_E_DIGEST);
    assert_true(total <= sizeof bad);
    /* Sticky. */
    assert_int_equal(ocidir_blob_reader_read(r, buf, sizeof buf), OCIDIR_E_DIGEST);
    ocidir_blob_reader_close(r);
    void *all = NULL;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(f.d, f.digest, -1, 1 << 20, &all, NULL));
    assert_null(all);
    fix_free(&f);
}

static void test_remove_of_escaping_symlink_never_touches_its_target(void **state)
{
    (void)state;
    struct fix f;
    fix_init(&f);
    fix_link_blob(&f, f.outside_file);
    int rc = ocidir_blob_remove(f.d, f.digest);
    /* Removing the link itself, or refusing, are both safe; the target is
     * another matter. */
    assert_true(rc == 0 || rc == OCIDIR_E_ESCAPE);
    void *buf = NULL;
    assert_int_equal(tu_read_file(f.outside_file, &buf), (ssize_t)sizeof f.content);
    assert_memory_equal(buf, f.content, sizeof f.content);
    free(buf);
    fix_free(&f);
}

static void test_open_rejects_blobs_directory_symlink_leading_outside(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    ocidir_close(d);
    char *outside = tu_scratch_dir("outside-blobs");
    char *sha = tu_join(outside, "sha256");
    tu_mkdir(sha);
    char *blobs = tu_join(dir, "blobs");
    tu_rm_rf(blobs);
    tu_symlink(outside, blobs);
    d = NULL;
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_open(AT_FDCWD, dir, 0, &d));
    assert_null(d);
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY, &d));
    assert_null(d);
    free(blobs);
    free(sha);
    free(outside);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_resolver_mode_matches_environment),
        TEARDOWN(test_plain_blob_reads_back),
        TEARDOWN(test_read_rejects_symlink_to_absolute_path_outside),
        TEARDOWN(test_read_rejects_absolute_symlink_even_into_the_layout_itself),
        TEARDOWN(test_read_rejects_relative_symlink_climbing_out),
        TEARDOWN(test_read_rejects_deep_relative_symlink_to_etc_passwd),
        TEARDOWN(test_read_rejects_symlink_that_leaves_and_reenters_the_layout),
        TEARDOWN(test_read_rejects_proc_self_root_magic_link),
        TEARDOWN(test_read_rejects_symlink_to_proc_self_fd),
        TEARDOWN(test_read_rejects_symlink_chain_ending_outside),
        TEARDOWN(test_read_rejects_directory_symlink_leading_outside),
        TEARDOWN(test_read_follows_symlink_within_the_blob_directory),
        TEARDOWN(test_read_follows_symlink_to_another_algorithm_directory),
        TEARDOWN(test_read_follows_symlinks_anywhere_beneath_the_layout_root),
        TEARDOWN(test_read_through_inside_symlink_still_verifies_content),
        TEARDOWN(test_read_of_dangling_symlink_inside_is_not_found),
        TEARDOWN(test_read_rejects_symlink_loop),
        TEARDOWN(test_read_rejects_fifo_without_blocking),
        TEARDOWN(test_read_rejects_directory),
        TEARDOWN(test_read_rejects_character_device),
        TEARDOWN(test_read_rejects_socket),
        TEARDOWN(test_reader_reports_digest_error_for_flipped_byte),
        TEARDOWN(test_remove_of_escaping_symlink_never_touches_its_target),
        TEARDOWN(test_open_rejects_blobs_directory_symlink_leading_outside),
    };
    return cmocka_run_group_tests(tests, NULL, tu_teardown_scratch);
}
