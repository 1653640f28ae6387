/* The shared blob cache (LXC's /var/cache/lxc): external blob directories
 * added by fd, the write target, the symlinked-blobs layout LXC makes with
 * skopeo --dest-shared-blob-dir, confinement beneath each, and the cleanup
 * of temporary files crashed writers left behind. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_scratch)

static int open_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        print_error("open(%s): %s\n", path, strerror(errno));
    assert_true(fd >= 0);
    return fd;
}

/* A scratch cache dir holding sha256/. */
static char *new_cache(const char *tag)
{
    char *c = tu_scratch_dir(tag);
    char *s = tu_join(c, "sha256");
    tu_mkdir(s);
    free(s);
    return c;
}

/* Write content as <root>/<alg>/<hex> by hand; digest_out gets its digest. */
static char *place_blob(const char *root, ocidir_digest_alg_t alg, const void *content, size_t len,
                        char digest_out[OCIDIR_DIGEST_MAX])
{
    assert_ocidir(0, ocidir_digest_buffer(alg, content, len, digest_out));
    char *algdir = tu_join(root, alg == OCIDIR_SHA256 ? "sha256" : "sha512");
    if (!tu_exists(algdir))
        tu_mkdir(algdir);
    char *p = tu_join(algdir, tu_hex(digest_out));
    tu_write_file(p, content, len);
    free(algdir);
    return p;
}

static void add_dir(ocidir_t *d, const char *path, unsigned flags)
{
    int fd = open_dir(path);
    assert_ocidir(0, ocidir_add_blobdir_fd(d, fd, flags));
    assert_int_equal(close(fd), 0);
}

static void expect_read(ocidir_t *d, const char *digest, const void *content, size_t len)
{
    void *buf = NULL;
    size_t blen = 0;
    assert_ocidir(0, ocidir_blob_read_all(d, digest, (int64_t)len, 1 << 24, &buf, &blen));
    assert_int_equal(blen, len);
    assert_memory_equal(buf, content, len);
    ocidir_free(buf);
}

static void expect_file(const char *path, const void *content, size_t len)
{
    void *buf = NULL;
    ssize_t n = tu_read_file(path, &buf);
    if (n < 0)
        print_error("%s does not exist\n", path);
    assert_int_equal(n, (ssize_t)len);
    assert_memory_equal(buf, content, len);
    free(buf);
}

/* last_error names where a blob lives: the cache's path, or words for it. */
static void expect_message_says_where(const char *cache_path)
{
    const char *m = ocidir_last_error();
    const char *words[] = {"added", "cache", "shared", "external", "blobdir", "blob dir",
                           "follow", "symlink", cache_path};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(m, words[i]))
            return;
    print_error("message does not say where the blob lives: %s\n", m);
    fail();
}

/* ---- reading from added directories ---- */

static void test_reads_find_blobs_in_added_directory(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char content[4096];
    tu_fill(content, sizeof content, 1);
    char digest[OCIDIR_DIGEST_MAX];
    char *p = place_blob(cache, OCIDIR_SHA256, content, sizeof content, digest);

    /* Not there before the directory is added. */
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, digest, NULL));
    add_dir(d, cache, 0);
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_stat(d, digest, &size));
    assert_int_equal(size, sizeof content);
    expect_read(d, digest, content, sizeof content);
    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(0, ocidir_blob_open(d, digest, -1, &r));
    char buf[8192];
    ssize_t n, total = 0;
    while ((n = ocidir_blob_reader_read(r, buf + total, sizeof buf - (size_t)total)) > 0)
        total += n;
    assert_int_equal(n, 0);
    assert_int_equal(total, (ssize_t)sizeof content);
    ocidir_blob_reader_close(r);
    int fd = -1;
    assert_ocidir(0, ocidir_blob_open_fd(d, digest, &fd));
    assert_int_equal(pread(fd, buf, sizeof buf, 0), (ssize_t)sizeof content);
    assert_memory_equal(buf, content, sizeof content);
    close(fd);

    /* Works on a read-only handle too. */
    ocidir_close(d);
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY, &d));
    add_dir(d, cache, 0);
    expect_read(d, digest, content, sizeof content);
    ocidir_close(d);
    free(p);
    free(cache);
    free(dir);
}

static void test_reads_find_sha512_blob_in_added_directory_when_layout_has_no_sha512(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char digest[OCIDIR_DIGEST_MAX];
    char *p = place_blob(cache, OCIDIR_SHA512, "sha512 in cache", 15, digest);
    add_dir(d, cache, 0);
    expect_read(d, digest, "sha512 in cache", 15);
    ocidir_close(d);
    free(p);
    free(cache);
    free(dir);
}

/* The layout's own copy is corrupt and one byte longer: if it is read first,
 * stat says len + 1 and a verified read fails. */
static void test_layout_blobs_are_searched_before_added_directories(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char content[1000];
    tu_fill(content, sizeof content, 2);
    char digest[OCIDIR_DIGEST_MAX];
    char *good = place_blob(cache, OCIDIR_SHA256, content, sizeof content, digest);
    char *own = tu_blob_path(dir, digest);
    char bad[sizeof content + 1];
    memcpy(bad, content, sizeof content);
    bad[0] ^= 0x80;
    bad[sizeof content] = 'x';
    tu_write_file(own, bad, sizeof bad);

    add_dir(d, cache, 0);
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_stat(d, digest, &size));
    assert_int_equal(size, sizeof bad);
    void *buf = NULL;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(d, digest, -1, 1 << 20, &buf, NULL));
    assert_null(buf);

    /* The control: without the corrupt own copy, the cache copy reads. */
    assert_int_equal(unlink(own), 0);
    expect_read(d, digest, content, sizeof content);
    ocidir_close(d);
    free(own);
    free(good);
    free(cache);
    free(dir);
}

static void test_added_directories_are_searched_in_order_added(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *first = new_cache("first");
    char *second = new_cache("second");
    char content[1000];
    tu_fill(content, sizeof content, 3);
    char digest[OCIDIR_DIGEST_MAX];
    char *good = place_blob(second, OCIDIR_SHA256, content, sizeof content, digest);
    char *bad_path = tu_join(first, "sha256");
    char *bad_file = tu_join(bad_path, tu_hex(digest));
    char bad[sizeof content + 1];
    memcpy(bad, content, sizeof content);
    bad[10] ^= 1;
    bad[sizeof content] = 'y';
    tu_write_file(bad_file, bad, sizeof bad);

    /* Corrupt first, good second: the corrupt one is found. */
    add_dir(d, first, 0);
    add_dir(d, second, 0);
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_stat(d, digest, &size));
    assert_int_equal(size, sizeof bad);
    void *buf = NULL;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(d, digest, -1, 1 << 20, &buf, NULL));
    ocidir_close(d);

    /* Good first, corrupt second: the good one is found. */
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY, &d));
    add_dir(d, second, 0);
    add_dir(d, first, 0);
    assert_ocidir(0, ocidir_blob_stat(d, digest, &size));
    assert_int_equal(size, sizeof content);
    expect_read(d, digest, content, sizeof content);
    ocidir_close(d);
    free(bad_file);
    free(bad_path);
    free(good);
    free(first);
    free(second);
    free(dir);
}

static void test_added_directory_fd_is_duplicated_and_never_closed(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char *other = new_cache("other");
    char digest[OCIDIR_DIGEST_MAX];
    char *p = place_blob(cache, OCIDIR_SHA256, "dup me", 6, digest);

    int fd = open_dir(cache);
    assert_ocidir(0, ocidir_add_blobdir_fd(d, fd, 0));
    assert_int_not_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(close(fd), 0);
    /* Reuse the number for another directory: the library must not care. */
    int reuse = open_dir(other);
    expect_read(d, digest, "dup me", 6);

    /* Failing and succeeding calls alike leave the caller's fd open. */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_add_blobdir_fd(d, reuse, 0x80));
    assert_int_not_equal(fcntl(reuse, F_GETFD), -1);
    assert_ocidir(0, ocidir_add_blobdir_fd(d, reuse, 0));
    ocidir_close(d);
    assert_int_not_equal(fcntl(reuse, F_GETFD), -1);
    close(reuse);
    free(p);
    free(other);
    free(cache);
    free(dir);
}

static void test_add_blobdir_rejects_non_directory_fd(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *file = tu_join(dir, "oci-layout");
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_add_blobdir_fd(d, fd, 0));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_add_blobdir_fd(d, fd, OCIDIR_BLOBDIR_WRITE));
    assert_int_not_equal(fcntl(fd, F_GETFD), -1);
    close(fd);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_add_blobdir_fd(d, p[0], 0));
    close(p[0]);
    close(p[1]);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_add_blobdir_fd(d, -1, 0));
    int dfd = open_dir(dir);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_add_blobdir_fd(NULL, dfd, 0));
    close(dfd);
    /* Nothing was added: new blobs still land in the layout. */
    char digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "still here", 10, digest));
    char *blob = tu_blob_path(dir, digest);
    assert_true(tu_exists(blob));
    ocidir_close(d);
    free(blob);
    free(file);
    free(dir);
}

static void test_add_blobdir_rejects_unknown_flags(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    int fd = open_dir(cache);
    const unsigned bad[] = {1u << 1, 1u << 2, 1u << 31, OCIDIR_BLOBDIR_WRITE | (1u << 5)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_ocidir(OCIDIR_E_INVALID, ocidir_add_blobdir_fd(d, fd, bad[i]));
    close(fd);
    /* None of them became the write target. */
    char digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "layout", 6, digest));
    char *blob = tu_blob_path(dir, digest);
    assert_true(tu_exists(blob));
    char *sha = tu_join(cache, "sha256");
    assert_int_equal(tu_count_entries(sha), 0);
    ocidir_close(d);
    free(sha);
    free(blob);
    free(cache);
    free(dir);
}

/* ---- the write target ---- */

static void test_write_directory_receives_new_blobs(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    add_dir(d, cache, OCIDIR_BLOBDIR_WRITE);

    char digests[3][OCIDIR_DIGEST_MAX];
    /* put */
    assert_ocidir(0, ocidir_blob_put(d, "put into cache", 14, digests[0]));
    /* writer */
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, "written ", 8));
    assert_ocidir(0, ocidir_blob_writer_write(w, "into cache", 10));
    assert_ocidir(0, ocidir_blob_writer_commit(w, digests[1], NULL));
    /* put_fd */
    char *src = tu_join(dir, "oci-layout");
    void *srcbuf = NULL;
    ssize_t srclen = tu_read_file(src, &srcbuf);
    assert_true(srclen > 0);
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_put_fd(d, fd, digests[2], &size));
    assert_int_equal(size, (uint64_t)srclen);
    close(fd);

    const struct {
        const void *p;
        size_t len;
    } want[3] = {{"put into cache", 14}, {"written into cache", 18}, {srcbuf, (size_t)srclen}};
    char *sha = tu_join(cache, "sha256");
    for (int i = 0; i < 3; i++) {
        char *in_cache = tu_join(sha, tu_hex(digests[i]));
        expect_file(in_cache, want[i].p, want[i].len);
        char *in_layout = tu_blob_path(dir, digests[i]);
        assert_false(tu_exists(in_layout));
        expect_read(d, digests[i], want[i].p, want[i].len);
        free(in_cache);
        free(in_layout);
    }
    /* Nothing else anywhere: no temporary file left in either place. */
    assert_int_equal(tu_count_entries(sha), 3);
    char *own = tu_join(dir, "blobs/sha256");
    assert_int_equal(tu_count_entries(own), 0);
    ocidir_close(d);
    free(own);
    free(sha);
    free(srcbuf);
    free(src);
    free(cache);
    free(dir);
}

static void test_last_write_directory_added_wins(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *first = new_cache("first");
    char *second = new_cache("second");
    char *third = new_cache("third");
    add_dir(d, first, OCIDIR_BLOBDIR_WRITE);
    add_dir(d, second, OCIDIR_BLOBDIR_WRITE);
    /* Added without the flag: does not take over. */
    add_dir(d, third, 0);
    char digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "where?", 6, digest));
    char *a = tu_join(first, "sha256");
    char *b = tu_join(second, "sha256");
    char *c = tu_join(third, "sha256");
    char *own = tu_join(dir, "blobs/sha256");
    assert_int_equal(tu_count_entries(a), 0);
    assert_int_equal(tu_count_entries(b), 1);
    assert_int_equal(tu_count_entries(c), 0);
    assert_int_equal(tu_count_entries(own), 0);
    char *p = tu_join(b, tu_hex(digest));
    expect_file(p, "where?", 6);
    ocidir_close(d);
    free(p);
    free(a);
    free(b);
    free(c);
    free(own);
    free(first);
    free(second);
    free(third);
    free(dir);
}

static void test_sha512_writes_create_sha512_in_write_directory(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char *sha512 = tu_join(cache, "sha512");
    assert_false(tu_exists(sha512));
    add_dir(d, cache, OCIDIR_BLOBDIR_WRITE);
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA512, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, "five twelve", 11));
    char digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_writer_commit(w, digest, NULL));
    assert_int_equal(strncmp(digest, "sha512:", 7), 0);
    char *p = tu_join(sha512, tu_hex(digest));
    expect_file(p, "five twelve", 11);
    assert_int_equal(tu_count_entries(sha512), 1);
    char *own = tu_join(dir, "blobs/sha512");
    assert_false(tu_exists(own));
    expect_read(d, digest, "five twelve", 11);
    ocidir_close(d);
    free(own);
    free(p);
    free(sha512);
    free(cache);
    free(dir);
}

static void test_write_directory_on_rdonly_handle_is_readonly(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    ocidir_close(d);
    char *cache = new_cache("cache");
    char *stale = tu_join(cache, "sha256/.ocidir-tmp-stale-ro");
    tu_write_file(stale, "x", 1);
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY, &d));
    int fd = open_dir(cache);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_add_blobdir_fd(d, fd, OCIDIR_BLOBDIR_WRITE));
    /* Refused before any cleanup. */
    assert_true(tu_exists(stale));
    /* Reading from it is fine. */
    assert_ocidir(0, ocidir_add_blobdir_fd(d, fd, 0));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_put(d, "x", 1, NULL));
    close(fd);
    ocidir_close(d);
    free(stale);
    free(cache);
    free(dir);
}

static void test_write_directory_on_another_filesystem_commits_without_exdev(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = tu_scratch_dir_shm("cache");
    if (!cache)
        print_error("/dev/shm is not available\n");
    assert_non_null(cache);
    char *sha = tu_join(cache, "sha256");
    tu_mkdir(sha);
    struct stat sl, sc;
    assert_int_equal(stat(dir, &sl), 0);
    assert_int_equal(stat(cache, &sc), 0);
    if (sl.st_dev == sc.st_dev)
        print_message("note: %s and %s are on the same filesystem; the cross-mount case is not "
                      "exercised here\n",
                      dir, cache);
    add_dir(d, cache, OCIDIR_BLOBDIR_WRITE);

    size_t big_len = 3u << 20;
    char *big = malloc(big_len);
    assert_non_null(big);
    tu_fill(big, big_len, 42);
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    for (size_t off = 0; off < big_len; off += 65536)
        assert_ocidir(0, ocidir_blob_writer_write(w, big + off, 65536));
    char d1[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_writer_commit(w, d1, NULL));

    char d2[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, big, 1000, d2));

    /* put_fd from a file on the layout's filesystem into the tmpfs cache:
     * a kernel copy across filesystems must fall back, not fail. */
    char *src = tu_join(dir, "source");
    tu_write_file(src, big + 5, big_len - 5);
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    char d3[OCIDIR_DIGEST_MAX];
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_put_fd(d, fd, d3, &size));
    assert_int_equal(size, big_len - 5);
    close(fd);
    assert_int_equal(unlink(src), 0);

    char *p1 = tu_join(sha, tu_hex(d1));
    char *p2 = tu_join(sha, tu_hex(d2));
    char *p3 = tu_join(sha, tu_hex(d3));
    expect_file(p1, big, big_len);
    expect_file(p2, big, 1000);
    expect_file(p3, big + 5, big_len - 5);
    assert_int_equal(tu_count_entries(sha), 3);
    char *own = tu_join(dir, "blobs/sha256");
    assert_int_equal(tu_count_entries(own), 0);
    expect_read(d, d1, big, big_len);
    ocidir_close(d);
    free(own);
    free(p1);
    free(p2);
    free(p3);
    free(src);
    free(big);
    free(sha);
    free(cache);
    free(dir);
}

/* ---- confinement beneath an added directory ---- */

static void test_added_directory_lookups_are_confined_beneath_it(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char *outside = tu_scratch_dir("outside");
    char content[777];
    tu_fill(content, sizeof content, 9);
    char digest[OCIDIR_DIGEST_MAX];
    /* The right content, outside the cache. */
    char *outside_file = place_blob(outside, OCIDIR_SHA256, content, sizeof content, digest);
    char *link = tu_join(cache, "sha256");
    char *lp = tu_join(link, tu_hex(digest));
    add_dir(d, cache, 0);

    /* Absolute symlink out of the cache. */
    tu_symlink(outside_file, lp);
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_stat(d, digest, NULL));
    void *buf = NULL;
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_read_all(d, digest, -1, 1 << 20, &buf, NULL));
    int fd = -1;
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_open_fd(d, digest, &fd));
    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_open(d, digest, -1, &r));

    /* Relative climb out of the cache (cache and outside are siblings). */
    assert_int_equal(unlink(lp), 0);
    const char *obase = strrchr(outside, '/') + 1;
    char *rel = NULL;
    assert_true(asprintf(&rel, "../../%s/sha256/%s", obase, tu_hex(digest)) > 0);
    tu_symlink(rel, lp);
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_stat(d, digest, NULL));
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_read_all(d, digest, -1, 1 << 20, &buf, NULL));

    /* Beneath the cache is fine: sha256/<hex> -> ../sha512/Y. */
    assert_int_equal(unlink(lp), 0);
    char *s512 = tu_join(cache, "sha512");
    tu_mkdir(s512);
    char *y = tu_join(s512, "Y");
    tu_write_file(y, content, sizeof content);
    tu_symlink("../sha512/Y", lp);
    expect_read(d, digest, content, sizeof content);
    ocidir_close(d);
    free(y);
    free(s512);
    free(rel);
    free(lp);
    free(link);
    free(outside_file);
    free(outside);
    free(cache);
    free(dir);
}

/* ---- removal never reaches into a cache ---- */

static void test_remove_never_deletes_from_added_directory(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char digest[OCIDIR_DIGEST_MAX];
    char *p = place_blob(cache, OCIDIR_SHA256, "shared", 6, digest);
    /* Read-only and write-target caches alike. */
    const unsigned flags[] = {0, OCIDIR_BLOBDIR_WRITE};
    for (size_t i = 0; i < 2; i++) {
        add_dir(d, cache, flags[i]);
        assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_remove(d, digest));
        expect_message_says_where(cache);
        expect_file(p, "shared", 6);
        expect_read(d, digest, "shared", 6);
    }
    ocidir_close(d);
    free(p);
    free(cache);
    free(dir);
}

static void test_remove_deletes_own_copy_and_keeps_cache_copy(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char digest[OCIDIR_DIGEST_MAX];
    char *p = place_blob(cache, OCIDIR_SHA256, "both", 4, digest);
    char own_digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "both", 4, own_digest));
    assert_string_equal(digest, own_digest);
    char *own = tu_blob_path(dir, digest);
    assert_true(tu_exists(own));
    add_dir(d, cache, 0);
    assert_ocidir(0, ocidir_blob_remove(d, digest));
    assert_false(tu_exists(own));
    expect_file(p, "both", 4);
    /* Still readable, from the cache. */
    expect_read(d, digest, "both", 4);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_remove(d, digest));
    expect_file(p, "both", 4);
    ocidir_close(d);
    free(own);
    free(p);
    free(cache);
    free(dir);
}

/* ---- the LXC layout: blobs/sha256 -> <cache>/sha256 ---- */

/* A layout whose blobs/sha256 is an absolute symlink to <cache>/sha256. */
static char *lxc_layout(const char *cache)
{
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    ocidir_close(d);
    char *sha = tu_join(dir, "blobs/sha256");
    tu_rm_rf(sha);
    char *target = tu_join(cache, "sha256");
    tu_symlink(target, sha);
    free(target);
    free(sha);
    return dir;
}

static void test_open_refuses_blob_dir_symlink_without_follow_flag(void **state)
{
    (void)state;
    char *cache = new_cache("cache");
    char *dir = lxc_layout(cache);
    const unsigned modes[] = {0, OCIDIR_OPEN_RDONLY, OCIDIR_OPEN_CREATE};
    for (size_t i = 0; i < 3; i++) {
        ocidir_t *d = NULL;
        assert_ocidir(OCIDIR_E_ESCAPE, ocidir_open(AT_FDCWD, dir, modes[i], &d));
        assert_null(d);
        const char *m = ocidir_last_error();
        if (!strstr(m, "OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK") || !strstr(m, "ocidir_add_blobdir_fd"))
            print_error("message does not name both ways out: %s\n", m);
        assert_non_null(strstr(m, "OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK"));
        assert_non_null(strstr(m, "ocidir_add_blobdir_fd"));
    }
    /* A relative symlink that leads out is refused the same way. */
    char *sha = tu_join(dir, "blobs/sha256");
    assert_int_equal(unlink(sha), 0);
    char *rel = NULL;
    assert_true(asprintf(&rel, "../../%s/sha256", strrchr(cache, '/') + 1) > 0);
    tu_symlink(rel, sha);
    struct stat st;
    assert_int_equal(stat(sha, &st), 0); /* it does lead to the cache */
    ocidir_t *d = NULL;
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_open(AT_FDCWD, dir, 0, &d));
    /* And blobs/sha512 leading out is no different. */
    assert_int_equal(unlink(sha), 0);
    tu_mkdir(sha);
    char *s512 = tu_join(dir, "blobs/sha512");
    char *c512 = tu_join(cache, "sha512");
    tu_mkdir(c512);
    tu_symlink(c512, s512);
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY, &d));
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY | OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &d));
    ocidir_close(d);
    free(c512);
    free(s512);
    free(rel);
    free(sha);
    free(dir);
    free(cache);
}

static void test_follow_blob_symlink_reads_and_writes_through_the_cache(void **state)
{
    (void)state;
    char *cache = new_cache("cache");
    char *dir = lxc_layout(cache);
    char digest[OCIDIR_DIGEST_MAX];
    char *p = place_blob(cache, OCIDIR_SHA256, "from skopeo", 11, digest);

    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &d));
    expect_read(d, digest, "from skopeo", 11);
    char nd[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "from libocidir", 14, nd));
    char *np = tu_join(cache, "sha256");
    char *npf = tu_join(np, tu_hex(nd));
    expect_file(npf, "from libocidir", 14);
    assert_int_equal(tu_count_entries(np), 2);
    /* The layout's symlink is still a symlink. */
    char *sha = tu_join(dir, "blobs/sha256");
    struct stat st;
    assert_int_equal(lstat(sha, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    expect_read(d, nd, "from libocidir", 14);
    ocidir_close(d);

    /* Read-only with the flag reads too. */
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY | OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK,
                                 &d));
    expect_read(d, digest, "from skopeo", 11);
    ocidir_close(d);

    /* The flag is harmless on an ordinary layout. */
    char *plain;
    d = tu_scratch_layout(&plain);
    ocidir_close(d);
    assert_ocidir(0, ocidir_open(AT_FDCWD, plain, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &d));
    ocidir_close(d);
    free(plain);
    free(sha);
    free(npf);
    free(np);
    free(p);
    free(dir);
    free(cache);
}

/* The opt-in trusts the symlink, not /proc: a target through a magic link
 * (/proc/self/cwd/...) is refused where openat2 is used, and leads to the
 * same cache as its plain spelling with the fallback resolver. */
static void test_follow_blob_symlink_never_through_a_proc_magic_link(void **state)
{
    (void)state;
    char *cache = new_cache("cache");
    char *dir = lxc_layout(cache);
    char digest[OCIDIR_DIGEST_MAX];
    char *p = place_blob(cache, OCIDIR_SHA256, "from skopeo", 11, digest);
    char *sha = tu_join(dir, "blobs/sha256");
    char *cwd = getcwd(NULL, 0);
    assert_non_null(cwd);
    assert_int_equal(chdir(cache), 0);
    assert_int_equal(unlink(sha), 0);
    tu_symlink("/proc/self/cwd/sha256", sha);

    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY | OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &d);
    if (ocidir_resolver_uses_openat2()) {
        assert_ocidir(OCIDIR_E_ESCAPE, rc);
        assert_null(d);
        assert_non_null(strstr(ocidir_last_error(), "magic link"));
        assert_non_null(strstr(ocidir_last_error(), "/proc/self/cwd/sha256"));
    } else {
        assert_ocidir(0, rc);
        expect_read(d, digest, "from skopeo", 11);
        ocidir_close(d);
    }
    assert_int_equal(chdir(cwd), 0);
    free(cwd);
    free(sha);
    free(p);
    free(dir);
    free(cache);
}

static void test_followed_blob_directory_lookups_are_confined_beneath_it(void **state)
{
    (void)state;
    char *cache = new_cache("cache");
    char *outside = tu_scratch_dir("outside");
    char *dir = lxc_layout(cache);
    char content[500];
    tu_fill(content, sizeof content, 11);
    char digest[OCIDIR_DIGEST_MAX];
    char *outside_file = place_blob(outside, OCIDIR_SHA256, content, sizeof content, digest);
    char *csha = tu_join(cache, "sha256");
    char *lp = tu_join(csha, tu_hex(digest));

    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &d));

    /* Absolute symlink out of the cache. */
    tu_symlink(outside_file, lp);
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_stat(d, digest, NULL));
    void *buf = NULL;
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_read_all(d, digest, -1, 1 << 20, &buf, NULL));
    int fd = -1;
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_open_fd(d, digest, &fd));

    /* Relative climb out of the cache. */
    assert_int_equal(unlink(lp), 0);
    char *rel = NULL;
    assert_true(asprintf(&rel, "../../%s/sha256/%s", strrchr(outside, '/') + 1, tu_hex(digest)) > 0);
    tu_symlink(rel, lp);
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_stat(d, digest, NULL));
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_read_all(d, digest, -1, 1 << 20, &buf, NULL));

    /* Back into the layout that followed the link: still out of the
     * followed directory. */
    assert_int_equal(unlink(lp), 0);
    char *in_layout = tu_join(dir, "copy");
    tu_write_file(in_layout, content, sizeof content);
    tu_symlink(in_layout, lp);
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_stat(d, digest, NULL));

    /* Within the followed directory is fine. */
    assert_int_equal(unlink(lp), 0);
    char *other = tu_join(csha, "other");
    tu_write_file(other, content, sizeof content);
    tu_symlink("other", lp);
    expect_read(d, digest, content, sizeof content);
    ocidir_close(d);
    free(other);
    free(in_layout);
    free(rel);
    free(lp);
    free(csha);
    free(outside_file);
    free(dir);
    free(outside);
    free(cache);
}

static void test_followed_blob_directory_confines_to_itself_not_its_parent(void **state)
{
    (void)state;
    char *cache = new_cache("cache");
    char *dir = lxc_layout(cache);
    char content[64];
    tu_fill(content, sizeof content, 12);
    char digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, content, sizeof content, digest));
    char *c512 = tu_join(cache, "sha512");
    tu_mkdir(c512);
    char *y = tu_join(c512, "Y");
    tu_write_file(y, content, sizeof content);
    char *csha = tu_join(cache, "sha256");
    char *lp = tu_join(csha, tu_hex(digest));
    /* <cache>/sha256/<hex> -> ../sha512/Y: beneath the cache, but not
     * beneath the followed directory <cache>/sha256. */
    tu_symlink("../sha512/Y", lp);
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &d));
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_stat(d, digest, NULL));
    ocidir_close(d);
    free(lp);
    free(csha);
    free(y);
    free(c512);
    free(dir);
    free(cache);
}

static void test_remove_never_deletes_through_followed_blob_symlink(void **state)
{
    (void)state;
    char *cache = new_cache("cache");
    char *dir = lxc_layout(cache);
    char digest[OCIDIR_DIGEST_MAX];
    char *p = place_blob(cache, OCIDIR_SHA256, "cached layer", 12, digest);
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &d));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_remove(d, digest));
    expect_message_says_where(cache);
    expect_file(p, "cached layer", 12);
    expect_read(d, digest, "cached layer", 12);
    /* A blob this handle wrote there is shared all the same. */
    char nd[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "mine", 4, nd));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_remove(d, nd));
    char *np = tu_join(cache, "sha256");
    char *npf = tu_join(np, tu_hex(nd));
    expect_file(npf, "mine", 4);
    ocidir_close(d);
    free(npf);
    free(np);
    free(p);
    free(dir);
    free(cache);
}

/* ---- cleanup of temporary files crashed writers left ---- */

static void test_add_write_directory_removes_stale_temp_files_but_not_live_ones(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char *c512 = tu_join(cache, "sha512");
    tu_mkdir(c512);
    char *stale1 = tu_join(cache, "sha256/.ocidir-tmp-stale1");
    char *stale2 = tu_join(cache, "sha512/.ocidir-tmp-stale2");
    char *live = tu_join(cache, "sha256/.ocidir-tmp-live");
    char *notes = tu_join(cache, "sha256/notes.txt");
    tu_write_file(stale1, "half a blob", 11);
    tu_write_file(stale2, "half a blob", 11);
    tu_write_file(notes, "keep", 4);
    char digest[OCIDIR_DIGEST_MAX];
    char *blob = place_blob(cache, OCIDIR_SHA256, "a blob", 6, digest);
    tu_holder_t h = tu_hold_flock(live);

    add_dir(d, cache, OCIDIR_BLOBDIR_WRITE);
    assert_false(tu_exists(stale1));
    assert_false(tu_exists(stale2));
    assert_true(tu_exists(live));
    assert_true(tu_exists(notes));
    expect_file(blob, "a blob", 6);

    /* Once its writer is gone, the next writable add removes it. */
    tu_release_holder(&h);
    ocidir_close(d);
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, 0, &d));
    add_dir(d, cache, OCIDIR_BLOBDIR_WRITE);
    assert_false(tu_exists(live));
    assert_true(tu_exists(notes));
    ocidir_close(d);
    free(blob);
    free(notes);
    free(live);
    free(stale1);
    free(stale2);
    free(c512);
    free(cache);
    free(dir);
}

static void test_add_read_only_directory_removes_nothing(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char *stale = tu_join(cache, "sha256/.ocidir-tmp-stale1");
    tu_write_file(stale, "x", 1);
    char *before = tu_tree_listing(cache);
    add_dir(d, cache, 0);
    char digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "to the layout", 13, digest));
    char *after = tu_tree_listing(cache);
    assert_string_equal(before, after);
    ocidir_close(d);
    free(before);
    free(after);
    free(stale);
    free(cache);
    free(dir);
}

struct add_args {
    ocidir_t *d;
    const char *path;
};

static int add_write_in_child(void *arg)
{
    const struct add_args *a = arg;
    int fd = open(a->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 1000;
    int rc = ocidir_add_blobdir_fd(a->d, fd, OCIDIR_BLOBDIR_WRITE);
    close(fd);
    return rc;
}

struct open_args {
    const char *path;
};

static int open_writable_in_child(void *arg)
{
    const struct open_args *a = arg;
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, a->path, 0, &d);
    ocidir_close(d);
    return rc;
}

/* Odd things under a temporary-file name: cleanup neither blocks on a FIFO
 * nor follows a symlink to what it points at. */
static void test_temp_file_cleanup_neither_blocks_nor_follows_symlinks(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char *cache = new_cache("cache");
    char *outside = tu_scratch_dir("outside");
    char *victim = tu_join(outside, "victim");
    tu_write_file(victim, "precious", 8);
    char *fifo = tu_join(cache, "sha256/.ocidir-tmp-fifo");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    char *link = tu_join(cache, "sha256/.ocidir-tmp-link");
    tu_symlink(victim, link);

    struct add_args a = {d, cache};
    int rc = 1;
    int how = tu_run_in_child(add_write_in_child, &a, 10, &rc);
    if (how == -1)
        print_error("ocidir_add_blobdir_fd(WRITE) blocked on a FIFO named like a temp file\n");
    assert_int_equal(how, 0);
    assert_ocidir(0, rc);
    expect_file(victim, "precious", 8);
    ocidir_close(d);

    /* The same things in the layout's own blobs/sha256, met by a writable
     * open. */
    char *own_fifo = tu_join(dir, "blobs/sha256/.ocidir-tmp-fifo");
    assert_int_equal(mkfifo(own_fifo, 0644), 0);
    char *own_link = tu_join(dir, "blobs/sha256/.ocidir-tmp-link");
    tu_symlink(victim, own_link);
    struct open_args o = {dir};
    how = tu_run_in_child(open_writable_in_child, &o, 10, &rc);
    if (how == -1)
        print_error("ocidir_open blocked on a FIFO named like a temp file\n");
    assert_int_equal(how, 0);
    assert_ocidir(0, rc);
    expect_file(victim, "precious", 8);
    free(own_link);
    free(own_fifo);
    free(link);
    free(fifo);
    free(victim);
    free(outside);
    free(cache);
    free(dir);
}

static void test_writable_open_removes_stale_temp_files_but_not_live_ones(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    ocidir_close(d);
    char *s512 = tu_join(dir, "blobs/sha512");
    tu_mkdir(s512);
    char *stale1 = tu_join(dir, "blobs/sha256/.ocidir-tmp-stale1");
    char *stale2 = tu_join(dir, "blobs/sha512/.ocidir-tmp-stale2");
    char *live = tu_join(dir, "blobs/sha256/.ocidir-tmp-live");
    tu_write_file(stale1, "crashed", 7);
    tu_write_file(stale2, "crashed", 7);
    tu_holder_t h = tu_hold_flock(live);

    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, 0, &d));
    assert_false(tu_exists(stale1));
    assert_false(tu_exists(stale2));
    assert_true(tu_exists(live));
    ocidir_close(d);

    tu_release_holder(&h);
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d));
    assert_false(tu_exists(live));
    ocidir_close(d);
    free(live);
    free(stale1);
    free(stale2);
    free(s512);
    free(dir);
}

static void test_rdonly_open_removes_no_temp_files(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    ocidir_close(d);
    char *stale = tu_join(dir, "blobs/sha256/.ocidir-tmp-stale1");
    char *live = tu_join(dir, "blobs/sha256/.ocidir-tmp-live");
    tu_write_file(stale, "crashed", 7);
    tu_holder_t h = tu_hold_flock(live);
    char *before = tu_tree_listing(dir);
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY, &d));
    ocidir_close(d);
    char *after = tu_tree_listing(dir);
    assert_string_equal(before, after);
    assert_true(tu_exists(stale));
    assert_true(tu_exists(live));
    tu_release_holder(&h);
    free(before);
    free(after);
    free(live);
    free(stale);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_reads_find_blobs_in_added_directory),
        TEARDOWN(test_reads_find_sha512_blob_in_added_directory_when_layout_has_no_sha512),
        TEARDOWN(test_layout_blobs_are_searched_before_added_directories),
        TEARDOWN(test_added_directories_are_searched_in_order_added),
        TEARDOWN(test_added_directory_fd_is_duplicated_and_never_closed),
        TEARDOWN(test_add_blobdir_rejects_non_directory_fd),
        TEARDOWN(test_add_blobdir_rejects_unknown_flags),
        TEARDOWN(test_write_directory_receives_new_blobs),
        TEARDOWN(test_last_write_directory_added_wins),
        TEARDOWN(test_sha512_writes_create_sha512_in_write_directory),
        TEARDOWN(test_write_directory_on_rdonly_handle_is_readonly),
        TEARDOWN(test_write_directory_on_another_filesystem_commits_without_exdev),
        TEARDOWN(test_added_directory_lookups_are_confined_beneath_it),
        TEARDOWN(test_remove_never_deletes_from_added_directory),
        TEARDOWN(test_remove_deletes_own_copy_and_keeps_cache_copy),
        TEARDOWN(test_open_refuses_blob_dir_symlink_without_follow_flag),
        TEARDOWN(test_follow_blob_symlink_reads_and_writes_through_the_cache),
        TEARDOWN(test_follow_blob_symlink_never_through_a_proc_magic_link),
        TEARDOWN(test_followed_blob_directory_lookups_are_confined_beneath_it),
        TEARDOWN(test_followed_blob_directory_confines_to_itself_not_its_parent),
        TEARDOWN(test_remove_never_deletes_through_followed_blob_symlink),
        TEARDOWN(test_add_write_directory_removes_stale_temp_files_but_not_live_ones),
        TEARDOWN(test_add_read_only_directory_removes_nothing),
        TEARDOWN(test_temp_file_cleanup_neither_blocks_nor_follows_symlinks),
        TEARDOWN(test_writable_open_removes_stale_temp_files_but_not_live_ones),
        TEARDOWN(test_rdonly_open_removes_no_temp_files),
    };
    return cmocka_run_group_tests(tests, NULL, tu_teardown_scratch);
}
