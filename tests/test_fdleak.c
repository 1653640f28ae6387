/* No fd leaks: thousands of calls, succeeding and failing, leave this
 * process with exactly the fds it had before. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)

typedef struct {
    char *layout;     /* a layout with traps in blobs/sha256 */
    char *not_layout; /* a directory without oci-layout */
    char *escaping;   /* a layout whose blobs/sha256 leads outside */
    char *missing;    /* a path that does not exist */
    char *cache;      /* an external blob directory */
    char *source;     /* a regular file for put_fd */
    char passwd_link[OCIDIR_DIGEST_MAX];  /* blob -> /etc/passwd */
    char relative_link[OCIDIR_DIGEST_MAX]; /* blob -> ../../../../etc/passwd */
    char fifo[OCIDIR_DIGEST_MAX];
    char corrupt[OCIDIR_DIGEST_MAX];
    size_t corrupt_len;
    char truncated[OCIDIR_DIGEST_MAX];
    size_t truncated_len;
    char missing_blob[OCIDIR_DIGEST_MAX];
    char cache_only[OCIDIR_DIGEST_MAX];
} fixture_t;

static void digest_of(const char *s, char out[OCIDIR_DIGEST_MAX])
{
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, s, strlen(s), out));
}

static void setup_fixture(fixture_t *f)
{
    char *base = tu_keep(tu_scratch_dir_shm("fdleak"));
    if (!base)
        base = tu_keep(tu_scratch_dir("fdleak"));
    f->layout = tu_join(base, "layout");
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, f->layout, OCIDIR_OPEN_CREATE, &d));

    digest_of("passwd link", f->passwd_link);
    char *p = tu_blob_path(f->layout, f->passwd_link);
    tu_symlink("/etc/passwd", p);
    free(p);
    digest_of("relative link", f->relative_link);
    p = tu_blob_path(f->layout, f->relative_link);
    tu_symlink("../../../../../../../../etc/passwd", p);
    free(p);
    digest_of("fifo", f->fifo);
    p = tu_blob_path(f->layout, f->fifo);
    assert_int_equal(mkfifo(p, 0644), 0);
    free(p);

    unsigned char buf[20000];
    tu_fill(buf, sizeof buf, 1);
    f->corrupt_len = sizeof buf;
    assert_ocidir(0, ocidir_blob_put(d, buf, sizeof buf, f->corrupt));
    p = tu_blob_path(f->layout, f->corrupt);
    buf[100] ^= 1;
    tu_write_file(p, buf, sizeof buf);
    free(p);
    tu_fill(buf, sizeof buf, 2);
    f->truncated_len = sizeof buf;
    assert_ocidir(0, ocidir_blob_put(d, buf, sizeof buf, f->truncated));
    p = tu_blob_path(f->layout, f->truncated);
    assert_int_equal(truncate(p, 5000), 0);
    free(p);
    digest_of("never stored", f->missing_blob);
    ocidir_close(d);

    f->not_layout = tu_join(base, "plain");
    tu_mkdir(f->not_layout);
    p = tu_join(f->not_layout, "index.json");
    tu_write_file(p, "{}", 2);
    free(p);

    /* blobs/sha256 -> a directory outside the layout. */
    f->escaping = tu_join(base, "escaping");
    d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, f->escaping, OCIDIR_OPEN_CREATE, &d));
    ocidir_close(d);
    char *outside = tu_join(base, "outside");
    tu_mkdir(outside);
    p = tu_join(f->escaping, "blobs/sha256");
    assert_int_equal(rmdir(p), 0);
    tu_symlink(outside, p);
    free(p);
    free(outside);

    f->missing = tu_join(base, "does-not-exist");

    f->cache = tu_join(base, "cache");
    tu_mkdir(f->cache);
    p = tu_join(f->cache, "sha256");
    tu_mkdir(p);
    free(p);
    const char *cached = "only in the cache";
    digest_of(cached, f->cache_only);
    p = tu_join(f->cache, "sha256");
    char *q = tu_join(p, tu_hex(f->cache_only));
    tu_write_file(q, cached, strlen(cached));
    free(q);
    free(p);

    f->source = tu_join(base, "source");
    tu_fill(buf, sizeof buf, 3);
    tu_write_file(f->source, buf, sizeof buf);
}

static void free_fixture(fixture_t *f)
{
    free(f->layout);
    free(f->not_layout);
    free(f->escaping);
    free(f->missing);
    free(f->cache);
    free(f->source);
}

/* Drain a reader; returns its final code. */
static ssize_t drain(ocidir_blob_reader_t *r)
{
    char buf[4096];
    ssize_t n;
    while ((n = ocidir_blob_reader_read(r, buf, sizeof buf)) > 0) {
    }
    return n;
}

static void expect_open_fails(const char *path, unsigned flags, int code)
{
    ocidir_t *d = NULL;
    assert_ocidir(code, ocidir_open(AT_FDCWD, path, flags, &d));
    assert_null(d);
}

/* Every blob read path on a digest, expecting `code` everywhere. */
static void expect_reads_fail(ocidir_t *d, const char *dg, int code)
{
    ocidir_blob_reader_t *r = NULL;
    void *out = NULL;
    int fd = -1;
    assert_ocidir(code, ocidir_blob_open(d, dg, -1, &r));
    assert_ocidir(code, ocidir_blob_read_all(d, dg, -1, 1 << 20, &out, NULL));
    assert_ocidir(code, ocidir_blob_open_fd(d, dg, &fd));
    assert_null(r);
    assert_null(out);
    assert_int_equal(fd, -1);
}

/* One round of everything; about 60 library calls. */
static void one_round(const fixture_t *f, int i)
{
    ocidir_t *d = NULL, *ro = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, f->layout, 0, &d));
    assert_ocidir(0, ocidir_open(AT_FDCWD, f->layout, OCIDIR_OPEN_RDONLY, &ro));
    int dirfd = open(f->layout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    ocidir_t *via_fd = NULL;
    assert_ocidir(0, ocidir_open(dirfd, NULL, 0, &via_fd));
    close(dirfd);
    ocidir_close(via_fd);

    /* put, stat, read_all, readers. */
    unsigned char buf[3000];
    tu_fill(buf, sizeof buf, (uint32_t)(i % 8) + 100);
    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, buf, sizeof buf, dg));
    assert_ocidir(0, ocidir_blob_stat(d, dg, NULL));
    void *out = NULL;
    assert_ocidir(0, ocidir_blob_read_all(ro, dg, (int64_t)sizeof buf, sizeof buf, &out, NULL));
    ocidir_free(out);
    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(0, ocidir_blob_open(d, dg, -1, &r));
    assert_int_equal(drain(r), 0);
    ocidir_blob_reader_close(r);
    r = NULL;
    assert_ocidir(0, ocidir_blob_open(ro, dg, (int64_t)sizeof buf, &r));
    char one[10];
    assert_int_equal(ocidir_blob_reader_read(r, one, sizeof one), (ssize_t)sizeof one);
    ocidir_blob_reader_close(r); /* closed half way */
    int fd = -1;
    assert_ocidir(0, ocidir_blob_open_fd(d, dg, &fd));
    assert_int_equal(close(fd), 0);

    /* Writers: aborted, committed, failing. */
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, 100));
    ocidir_blob_writer_abort(w);
    assert_ocidir(0, ocidir_blob_writer_new(d, i % 2 ? OCIDIR_SHA512 : OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, sizeof buf));
    assert_ocidir(0, ocidir_blob_writer_commit(w, NULL, NULL));
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, f->missing_blob, -1));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, sizeof buf));
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_writer_commit(w, NULL, NULL));
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, 10));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_write(w, buf, sizeof buf));
    assert_ocidir(OCIDIR_E_STATE, ocidir_blob_writer_commit(w, NULL, NULL));
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, (int64_t)sizeof buf + 1));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, sizeof buf));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_commit(w, NULL, NULL));

    /* put_fd: a regular file, a pipe, a bad fd. */
    int src = open(f->source, O_RDONLY | O_CLOEXEC);
    assert_true(src >= 0);
    assert_ocidir(0, ocidir_blob_put_fd(d, src, NULL, NULL));
    close(src);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(write(p[1], buf, 1000), 1000);
    close(p[1]);
    assert_ocidir(0, ocidir_blob_put_fd(d, p[0], NULL, NULL));
    close(p[0]);
    assert_ocidir(OCIDIR_E_IO, ocidir_blob_put_fd(d, 4000, NULL, NULL));

    /* Missing, malformed, escaping, not regular, corrupt, truncated. */
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, f->missing_blob, NULL));
    expect_reads_fail(d, f->missing_blob, OCIDIR_E_NOT_FOUND);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_remove(d, f->missing_blob));
    expect_reads_fail(d, "sha256:nothex", OCIDIR_E_BAD_DIGEST);
    expect_reads_fail(d, f->passwd_link, OCIDIR_E_ESCAPE);
    expect_reads_fail(ro, f->relative_link, OCIDIR_E_ESCAPE);
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_stat(d, f->passwd_link, NULL));
    expect_reads_fail(d, f->fifo, OCIDIR_E_FORMAT);
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(d, f->corrupt, -1, 1 << 20, &out, NULL));
    r = NULL;
    assert_ocidir(0, ocidir_blob_open(d, f->corrupt, (int64_t)f->corrupt_len, &r));
    assert_int_equal(drain(r), OCIDIR_E_DIGEST);
    ocidir_blob_reader_close(r);
    r = NULL;
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_open(d, f->truncated, (int64_t)f->truncated_len, &r));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_blob_read_all(d, dg, -1, 10, &out, NULL));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_read_all(d, dg, 1, 1 << 20, &out, NULL));

    /* Read-only violations. */
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_put(ro, buf, 10, NULL));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_writer_new(ro, OCIDIR_SHA256, &w));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_remove(ro, dg));
    int cfd = open(f->cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cfd >= 0);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_add_blobdir_fd(ro, cfd, OCIDIR_BLOBDIR_WRITE));

    /* A shared cache: read from, written to, not removable from here. */
    assert_ocidir(0, ocidir_add_blobdir_fd(ro, cfd, 0));
    assert_ocidir(0, ocidir_add_blobdir_fd(d, cfd, OCIDIR_BLOBDIR_WRITE));
    close(cfd);
    assert_ocidir(0, ocidir_blob_stat(ro, f->cache_only, NULL));
    assert_ocidir(0, ocidir_blob_read_all(ro, f->cache_only, -1, 100, &out, NULL));
    ocidir_free(out);
    assert_ocidir(0, ocidir_blob_put(d, "cached", 6, NULL));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_remove(d, f->cache_only));
    int notdir = open(f->source, O_RDONLY | O_CLOEXEC);
    assert_true(notdir >= 0);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_add_blobdir_fd(d, notdir, 0));
    close(notdir);

    /* Layouts that do not open. */
    expect_open_fails(f->not_layout, 0, OCIDIR_E_FORMAT);
    expect_open_fails(f->not_layout, OCIDIR_OPEN_RDONLY, OCIDIR_E_FORMAT);
    expect_open_fails(f->missing, 0, OCIDIR_E_NOT_FOUND);
    expect_open_fails(f->escaping, 0, OCIDIR_E_ESCAPE);
    expect_open_fails(f->layout, OCIDIR_OPEN_CREATE | OCIDIR_OPEN_RDONLY, OCIDIR_E_INVALID);

    /* Remove what this round stored in the layout itself. */
    assert_ocidir(0, ocidir_blob_remove(d, dg));
    ocidir_close(ro);
    ocidir_close(d);
}

static void print_fds(void)
{
    for (int fd = 0; fd < 1024; fd++) {
        char proc[64], target[PATH_MAX];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(proc, target, sizeof target - 1);
        if (n >= 0) {
            target[n] = '\0';
            print_error("  fd %d -> %s\n", fd, target);
        }
    }
}

static void test_thousands_of_calls_leak_no_fd(void **state)
{
    (void)state;
    fixture_t f;
    memset(&f, 0, sizeof f);
    setup_fixture(&f);

    /* Warm up: whatever the library opens once per process (a random
     * source, say) is not a leak. */
    one_round(&f, 0);
    const int before = tu_count_fds();
    for (int i = 1; i <= 200; i++) {
        one_round(&f, i);
        int now = tu_count_fds();
        if (now != before) {
            print_error("round %d: %d fds open, %d before the rounds; open now:\n", i, now, before);
            print_fds();
        }
        assert_int_equal(now, before);
    }
    assert_int_equal(tu_count_fds(), before);
    free_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_thousands_of_calls_leak_no_fd),
    };
    return cmocka_run_group_tests_name("fdleak", tests, NULL, NULL);
}
