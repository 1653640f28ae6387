/* Blobs: writers that publish atomically, expectations checked at commit,
 * verified readers, whole-blob reads, raw fds, removal and put_fd.
 *
 * Runs twice: as is (O_TMPFILE temporary files where the filesystem has
 * them) and with OCIDIR_FORCE_NAMED_TEMP=1 (named ".ocidir-tmp-*" files). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define TMP_PREFIX ".ocidir-tmp-"
#define EMPTY_SHA256 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- helpers ------------------------------------------------------------ */

static unsigned char *random_bytes(size_t len, uint32_t seed)
{
    unsigned char *p = malloc(len ? len : 1);
    assert_non_null(p);
    tu_fill(p, len, seed);
    return p;
}

/* Byte i of the pattern whose sha256 is known (computed independently). */
static unsigned char *pattern_bytes(size_t len)
{
    unsigned char *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)((i * 31 + (i >> 8) * 7 + 11) & 0xff);
    return p;
}

static char *sha256_dir(const char *layout) { return tu_join(layout, "blobs/sha256"); }

static void digest_of(const void *buf, size_t len, char out[OCIDIR_DIGEST_MAX])
{
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, buf, len, out));
}

/* Fail, listing the directory, unless it holds exactly `expected` entries. */
static void assert_entries(const char *dir, int expected)
{
    int n = tu_count_entries(dir);
    if (n != expected) {
        char *l = tu_tree_listing(dir);
        print_error("%s holds %d entries, expected %d:\n%s", dir, n, expected, l);
        free(l);
    }
    assert_int_equal(n, expected);
}

static void assert_file_holds(const char *path, const void *buf, size_t len)
{
    void *got = NULL;
    ssize_t n = tu_read_file(path, &got);
    if (n < 0)
        print_error("%s does not exist\n", path);
    assert_true(n >= 0);
    assert_int_equal((size_t)n, len);
    if (len)
        assert_memory_equal(got, buf, len);
    free(got);
}

static void flip_byte_at(const char *path, off_t off)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    assert_int_equal(close(fd), 0);
}

static void append_bytes(const char *path, unsigned char byte, size_t len)
{
    unsigned char *b = malloc(len);
    assert_non_null(b);
    memset(b, byte, len);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    free(b);
}

/* Put `len` random bytes; returns the content, fills digest and blob path. */
static unsigned char *put_random(ocidir_t *d, const char *layout, size_t len, uint32_t seed,
                                 char digest[OCIDIR_DIGEST_MAX], char **path_out)
{
    unsigned char *buf = random_bytes(len, seed);
    assert_ocidir(0, ocidir_blob_put(d, buf, len, digest));
    if (path_out)
        *path_out = tu_blob_path(layout, digest);
    return buf;
}

/* Read a reader to its end (or an error) in chunks of `chunk` bytes into
 * `out` (room for cap bytes); returns the final code (0 or negative) and the
 * number of bytes handed out in *total. */
static ssize_t drain(ocidir_blob_reader_t *r, unsigned char *out, size_t cap, size_t chunk,
                     size_t *total)
{
    size_t off = 0;
    for (;;) {
        size_t want = chunk;
        if (want > cap - off)
            want = cap - off;
        if (want == 0)
            want = 1; /* out is always allocated one byte larger than cap */
        ssize_t n = ocidir_blob_reader_read(r, out + off, want);
        if (n <= 0) {
            *total = off;
            return n;
        }
        assert_true((size_t)n <= want);
        off += (size_t)n;
        assert_true(off <= cap);
    }
}

/* ---- put / stat / read_all round trips ----------------------------------- */

static void test_put_stat_read_all_round_trip_known_digests(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        int zeros; /* 1: zero bytes, 0: the known pattern; "a" for len 1 */
        const char *digest;
    } cases[] = {
        {0, 1, EMPTY_SHA256},
        {1, 0, "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"},
        {4096, 1, "sha256:ad7facb2586fc6e966c004d7d1d16b024f5805ff7cb47c7a85dabd8b48892ca7"},
        {1024 * 1024 + 7, 0, "sha256:e8d080bdc374c5e482646340d1eae4308e1fe137bc68ed8f1f167ca8f865e18a"},
    };
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    for (size_t i = 0; i < N(cases); i++) {
        size_t len = cases[i].len;
        unsigned char *buf;
        if (len == 1) {
            buf = malloc(1);
            assert_non_null(buf);
            buf[0] = 'a';
        } else if (cases[i].zeros) {
            buf = calloc(1, len ? len : 1);
            assert_non_null(buf);
        } else {
            buf = pattern_bytes(len);
        }
        char dg[OCIDIR_DIGEST_MAX];
        digest_of(buf, len, dg);
        assert_string_equal(dg, cases[i].digest);

        char put_dg[OCIDIR_DIGEST_MAX] = "";
        assert_ocidir(0, ocidir_blob_put(d, buf, len, put_dg));
        assert_string_equal(put_dg, cases[i].digest);

        char *path = tu_blob_path(layout, put_dg);
        assert_file_holds(path, buf, len);
        assert_entries(dir, (int)i + 1);

        uint64_t size = 999;
        assert_ocidir(0, ocidir_blob_stat(d, put_dg, &size));
        assert_int_equal(size, len);
        assert_ocidir(0, ocidir_blob_stat(d, put_dg, NULL));

        void *out = NULL;
        size_t out_len = 999;
        assert_ocidir(0, ocidir_blob_read_all(d, put_dg, (int64_t)len, len, &out, &out_len));
        assert_non_null(out);
        assert_int_equal(out_len, len);
        if (len)
            assert_memory_equal(out, buf, len);
        ocidir_free(out);

        /* len_out may be NULL; expected size -1 means unknown. */
        out = NULL;
        assert_ocidir(0, ocidir_blob_read_all(d, put_dg, -1, len + 100, &out, NULL));
        assert_non_null(out);
        ocidir_free(out);

        /* The reader ends cleanly too, and stays at its end. */
        ocidir_blob_reader_t *r = NULL;
        assert_ocidir(0, ocidir_blob_open(d, put_dg, (int64_t)len, &r));
        assert_int_equal(ocidir_blob_reader_size(r), len);
        unsigned char *rb = malloc(len + 1);
        assert_non_null(rb);
        size_t total = 0;
        assert_int_equal(drain(r, rb, len, 65536, &total), 0);
        assert_int_equal(total, len);
        if (len)
            assert_memory_equal(rb, buf, len);
        assert_int_equal(ocidir_blob_reader_read(r, rb, 1), 0);
        ocidir_blob_reader_close(r);

        free(rb);
        free(path);
        free(buf);
    }
    free(dir);
    ocidir_close(d);
}

static void test_put_accepts_null_digest_out(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    unsigned char buf[100];
    tu_fill(buf, sizeof buf, 3);
    assert_ocidir(0, ocidir_blob_put(d, buf, sizeof buf, NULL));
    char dg[OCIDIR_DIGEST_MAX];
    digest_of(buf, sizeof buf, dg);
    assert_ocidir(0, ocidir_blob_stat(d, dg, NULL));
    ocidir_close(d);
}

/* A write of 256 KiB or more is written by the writer's helper thread while
 * the calling thread hashes it (when the process may use more than one CPU):
 * the buffer is the caller's again on return (overwriting it at once changes
 * nothing stored), mixed large and small writes keep their order, and the
 * thread is joined by the commit. */
static void test_large_writes_leave_the_buffer_and_join_at_commit(void **state)
{
    (void)state;
    const size_t big = 3 * 1024 * 1024 + 5, small = 1000, len = big + small + big;
    unsigned char *orig = random_bytes(len, 77);
    char expected[OCIDIR_DIGEST_MAX];
    digest_of(orig, len, expected);
    cpu_set_t set;
    CPU_ZERO(&set);
    assert_int_equal(0, sched_getaffinity(0, sizeof set, &set));
    const int helper = CPU_COUNT(&set) > 1;

    char *l;
    ocidir_t *d = tu_scratch_layout(&l);
    tu_keep(l);
    const int before = tu_threads_settled();
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    unsigned char *buf = malloc(big);
    assert_non_null(buf);
    memcpy(buf, orig, big);
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, big));
    memset(buf, 0xa5, big); /* the caller's again: this must not reach the blob */
    assert_int_equal(tu_threads_wait(before + helper), before + helper);
    assert_ocidir(0, ocidir_blob_writer_write(w, orig + big, small));
    memcpy(buf, orig + big + small, big);
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, big));
    memset(buf, 0x5a, big);
    char dg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_writer_commit(w, dg, &size));
    assert_int_equal(tu_threads_wait(before), before);
    assert_string_equal(dg, expected);
    assert_int_equal(size, len);
    tu_assert_blob_equals(d, dg, orig, len);

    /* Small writes only: no thread at all. */
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    for (size_t off = 0; off < 200000; off += 1000)
        assert_ocidir(0, ocidir_blob_writer_write(w, orig + off, 1000));
    assert_int_equal(tu_threads_wait(before), before);
    ocidir_blob_writer_abort(w);
    /* An aborted writer's thread goes with it. */
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, orig, big));
    assert_int_equal(tu_threads_wait(before + helper), before + helper);
    ocidir_blob_writer_abort(w);
    assert_int_equal(tu_threads_wait(before), before);
    free(buf);
    free(orig);
    ocidir_close(d);
}

static void test_writer_small_writes_equal_put(void **state)
{
    (void)state;
    const size_t len = 1024 * 1024 + 7;
    unsigned char *buf = random_bytes(len, 42);
    char expected[OCIDIR_DIGEST_MAX];
    digest_of(buf, len, expected);

    /* One layout gets the blob through put, the other through many writes. */
    char *la, *lb;
    ocidir_t *a = tu_scratch_layout(&la);
    tu_keep(la);
    ocidir_t *b = tu_scratch_layout(&lb);
    tu_keep(lb);
    char put_dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(a, buf, len, put_dg));

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(b, OCIDIR_SHA256, &w));
    assert_non_null(w);
    size_t off = 0, step = 1;
    int nwrites = 0;
    while (off < len) {
        size_t n = step;
        if (n > len - off)
            n = len - off;
        assert_ocidir(0, ocidir_blob_writer_write(w, buf + off, n));
        assert_ocidir(0, ocidir_blob_writer_write(w, buf + off + n, 0));
        off += n;
        step = step % 113 + 1 + (nwrites % 7 == 0 ? 900 : 0);
        nwrites++;
    }
    assert_true(nwrites > 1000);
    char w_dg[OCIDIR_DIGEST_MAX] = "";
    uint64_t w_size = 0;
    assert_ocidir(0, ocidir_blob_writer_commit(w, w_dg, &w_size));
    assert_string_equal(w_dg, put_dg);
    assert_string_equal(w_dg, expected);
    assert_int_equal(w_size, len);

    char *pa = tu_blob_path(la, put_dg);
    char *pb = tu_blob_path(lb, w_dg);
    assert_file_holds(pa, buf, len);
    assert_file_holds(pb, buf, len);
    free(pa);
    free(pb);
    free(buf);
    ocidir_close(a);
    ocidir_close(b);
}

/* ---- publication ----------------------------------------------------------- */

static void test_blob_appears_only_after_commit(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    int named = tu_writer_temp_is_named(dir);
    const size_t len = 300 * 1000;
    unsigned char *buf = random_bytes(len, 7);
    char dg[OCIDIR_DIGEST_MAX];
    digest_of(buf, len, dg);
    char *path = tu_blob_path(layout, dg);

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, len / 2));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf + len / 2, len - len / 2));

    /* Everything written, not committed: no blob under its name. */
    assert_false(tu_exists(path));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, dg, NULL));
    if (named) {
        /* One named temporary file, locked by its writer. */
        assert_entries(dir, 1);
        assert_int_equal(tu_count_prefix(dir, TMP_PREFIX), 1);
        char *l = tu_tree_listing(dir);
        char *name = strstr(l, "/" TMP_PREFIX);
        assert_non_null(name);
        name++;
        *strchr(name, ' ') = '\0';
        char *tmp = tu_join(dir, name);
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
        assert_int_equal(errno, EWOULDBLOCK);
        close(fd);
        free(tmp);
        free(l);
    } else {
        /* O_TMPFILE: nothing visible at all. */
        assert_entries(dir, 0);
    }

    char cdg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_writer_commit(w, cdg, &size));
    assert_string_equal(cdg, dg);
    assert_int_equal(size, len);
    assert_file_holds(path, buf, len);
    assert_entries(dir, 1);
    assert_int_equal(tu_count_prefix(dir, TMP_PREFIX), 0);

    free(path);
    free(buf);
    free(dir);
    ocidir_close(d);
}

static void test_commit_keeps_existing_blob(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    char dg[OCIDIR_DIGEST_MAX];
    char *path;
    const size_t len = 10000;
    unsigned char *buf = put_random(d, layout, len, 11, dg, &path);
    /* Hold the original open: its inode cannot be reused while we do, and
     * its link count drops to 0 if the name is ever replaced. */
    int orig = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(orig >= 0);
    struct stat before, now, held;
    assert_int_equal(fstat(orig, &before), 0);
    assert_int_equal(before.st_nlink, 1);

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, dg, (int64_t)len));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, len));
    char cdg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_writer_commit(w, cdg, &size));
    assert_string_equal(cdg, dg);
    assert_int_equal(size, len);
    assert_int_equal(lstat(path, &now), 0);
    assert_int_equal(now.st_ino, before.st_ino);
    assert_int_equal(now.st_dev, before.st_dev);
    assert_int_equal(fstat(orig, &held), 0);
    assert_int_equal(held.st_nlink, 1);

    /* put of the same content: the same. */
    char pdg[OCIDIR_DIGEST_MAX] = "";
    assert_ocidir(0, ocidir_blob_put(d, buf, len, pdg));
    assert_string_equal(pdg, dg);
    assert_int_equal(lstat(path, &now), 0);
    assert_int_equal(now.st_ino, before.st_ino);
    assert_int_equal(fstat(orig, &held), 0);
    assert_int_equal(held.st_nlink, 1);

    assert_file_holds(path, buf, len);
    assert_entries(dir, 1);

    close(orig);
    free(path);
    free(buf);
    free(dir);
    ocidir_close(d);
}

/* ---- expectations ------------------------------------------------------------ */

static void test_expect_matching_digest_and_size_commits(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 5000;
    unsigned char *buf = random_bytes(len, 5);
    char dg[OCIDIR_DIGEST_MAX];
    digest_of(buf, len, dg);

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, dg, (int64_t)len));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, 1));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf + 1, len - 1));
    char cdg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_writer_commit(w, cdg, &size));
    assert_string_equal(cdg, dg);
    assert_int_equal(size, len);
    char *path = tu_blob_path(layout, dg);
    assert_file_holds(path, buf, len);

    /* Digest known, size unknown. */
    unsigned char *buf2 = random_bytes(len, 6);
    char dg2[OCIDIR_DIGEST_MAX];
    digest_of(buf2, len, dg2);
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, dg2, -1));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf2, len));
    assert_ocidir(0, ocidir_blob_writer_commit(w, NULL, NULL));
    assert_ocidir(0, ocidir_blob_stat(d, dg2, NULL));

    free(path);
    free(buf);
    free(buf2);
    ocidir_close(d);
}

static void test_commit_rejects_wrong_digest_and_leaves_nothing(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    const size_t len = 70000;
    unsigned char *buf = random_bytes(len, 8);
    unsigned char *other = random_bytes(len, 9);
    char dg[OCIDIR_DIGEST_MAX], wrong[OCIDIR_DIGEST_MAX];
    digest_of(buf, len, dg);
    digest_of(other, len, wrong);

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, wrong, (int64_t)len));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, len));
    char cdg[OCIDIR_DIGEST_MAX] = "untouched";
    uint64_t size = 4242;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_writer_commit(w, cdg, &size));
    /* The message names the digest that was expected. */
    if (!strstr(ocidir_last_error(), wrong))
        print_error("last error \"%s\" does not name %s\n", ocidir_last_error(), wrong);
    assert_non_null(strstr(ocidir_last_error(), wrong));
    /* Out-parameters are written only on success. */
    assert_string_equal(cdg, "untouched");
    assert_int_equal(size, 4242);

    /* No blob under either digest, no temporary file. */
    assert_entries(dir, 0);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, dg, NULL));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, wrong, NULL));

    free(buf);
    free(other);
    free(dir);
    ocidir_close(d);
}

static void test_commit_rejects_content_shorter_than_expected(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    const size_t len = 4000;
    unsigned char *buf = random_bytes(len, 10);
    char dg[OCIDIR_DIGEST_MAX];
    digest_of(buf, len, dg);

    /* With the right digest and a larger size ... */
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, dg, (int64_t)len + 1));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, len));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_commit(w, NULL, NULL));
    assert_entries(dir, 0);

    /* ... and with the size alone. */
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, (int64_t)len + 1000));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, len));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_commit(w, NULL, NULL));
    assert_entries(dir, 0);

    /* Expected 1 byte, wrote none. */
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, 1));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_commit(w, NULL, NULL));
    assert_entries(dir, 0);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, dg, NULL));

    free(buf);
    free(dir);
    ocidir_close(d);
}

static void test_write_past_expected_size_fails_at_once(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    const size_t len = 4000;
    unsigned char *buf = random_bytes(len, 12);
    char dg[OCIDIR_DIGEST_MAX];
    digest_of(buf, len, dg);

    /* One write that crosses the expected size. */
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, (int64_t)len - 1));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_write(w, buf, len));
    assert_ocidir(OCIDIR_E_STATE, ocidir_blob_writer_commit(w, NULL, NULL));
    assert_entries(dir, 0);

    /* Exactly the expected size in pieces, then one byte more. */
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, dg, (int64_t)len));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, len / 2));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf + len / 2, len - len / 2));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_write(w, buf, 1));
    ocidir_blob_writer_abort(w);
    assert_entries(dir, 0);

    /* Expected size 0: the first byte is too many. */
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, EMPTY_SHA256, 0));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_write(w, buf, 1));
    assert_ocidir(OCIDIR_E_STATE, ocidir_blob_writer_commit(w, NULL, NULL));
    assert_entries(dir, 0);

    free(buf);
    free(dir);
    ocidir_close(d);
}

static void test_expect_null_digest_checks_size_only(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 3000;
    unsigned char *buf = random_bytes(len, 13);
    char dg[OCIDIR_DIGEST_MAX];
    digest_of(buf, len, dg);

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, (int64_t)len));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, len));
    char cdg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_writer_commit(w, cdg, &size));
    assert_string_equal(cdg, dg);
    assert_int_equal(size, len);
    char *path = tu_blob_path(layout, dg);
    assert_file_holds(path, buf, len);

    /* NULL digest and unknown size: no expectation at all. */
    unsigned char *buf2 = random_bytes(len, 14);
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, -1));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf2, len));
    assert_ocidir(0, ocidir_blob_writer_commit(w, cdg, NULL));
    char dg2[OCIDIR_DIGEST_MAX];
    digest_of(buf2, len, dg2);
    assert_string_equal(cdg, dg2);

    free(path);
    free(buf);
    free(buf2);
    ocidir_close(d);
}

static void test_expect_rejects_digest_of_other_algorithm(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    char d256[OCIDIR_DIGEST_MAX], d512[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, "x", 1, d256));
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA512, "x", 1, d512));

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_expect(w, d512, 1));
    ocidir_blob_writer_abort(w);

    w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA512, &w));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_expect(w, d256, 1));
    ocidir_blob_writer_abort(w);

    /* Malformed and unregistered digests, and a negative size other than -1. */
    static const char *const bad[] = {
        "sha256:abc",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256",
        "",
        "../../etc/passwd",
    };
    for (size_t i = 0; i < N(bad); i++) {
        assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
        assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_blob_writer_expect(w, bad[i], -1));
        ocidir_blob_writer_abort(w);
    }
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_blob_writer_expect(w, "md5:d41d8cd98f00b204e9800998ecf8427e", -1));
    ocidir_blob_writer_abort(w);
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_expect(w, NULL, -2));
    ocidir_blob_writer_abort(w);

    assert_entries(dir, 0);
    free(dir);
    ocidir_close(d);
}

static void test_expect_after_write_or_twice_is_state(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, "abc", 3));
    assert_ocidir(OCIDIR_E_STATE, ocidir_blob_writer_expect(w, NULL, 3));
    ocidir_blob_writer_abort(w);

    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, 3));
    assert_ocidir(OCIDIR_E_STATE, ocidir_blob_writer_expect(w, NULL, 3));
    ocidir_blob_writer_abort(w);
    ocidir_close(d);
}

/* Every outcome of commit frees the writer: under ASan or valgrind a leak
 * fails this test; the writer is never touched after its commit. */
static void test_commit_frees_writer_on_every_outcome(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    char other[OCIDIR_DIGEST_MAX];
    digest_of("other", 5, other);
    for (int i = 0; i < 20; i++) {
        unsigned char buf[1000];
        tu_fill(buf, sizeof buf, (uint32_t)i);
        ocidir_blob_writer_t *w = NULL;

        assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
        assert_ocidir(0, ocidir_blob_writer_write(w, buf, sizeof buf));
        assert_ocidir(0, ocidir_blob_writer_commit(w, NULL, NULL));

        assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
        assert_ocidir(0, ocidir_blob_writer_expect(w, other, -1));
        assert_ocidir(0, ocidir_blob_writer_write(w, buf, sizeof buf));
        assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_writer_commit(w, NULL, NULL));

        assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
        assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, 10));
        assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_write(w, buf, sizeof buf));
        assert_ocidir(OCIDIR_E_STATE, ocidir_blob_writer_commit(w, NULL, NULL));

        assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
        ocidir_blob_writer_abort(w);
    }
    assert_entries(dir, 20);
    assert_int_equal(tu_count_prefix(dir, TMP_PREFIX), 0);
    free(dir);
    ocidir_close(d);
}

static void test_write_after_failed_write_is_state(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, 4));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_write(w, "12345", 5));
    /* Even a write that would have fitted is refused now. */
    assert_ocidir(OCIDIR_E_STATE, ocidir_blob_writer_write(w, "1", 1));
    assert_ocidir(OCIDIR_E_STATE, ocidir_blob_writer_write(w, "1234", 4));
    ocidir_blob_writer_abort(w);
    assert_entries(dir, 0);
    free(dir);
    ocidir_close(d);
}

static void test_abort_accepts_null(void **state)
{
    (void)state;
    ocidir_blob_writer_abort(NULL);
    ocidir_blob_reader_close(NULL);
    ocidir_close(NULL);
    ocidir_free(NULL);
}

static void test_abort_leaves_nothing(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    int named = tu_writer_temp_is_named(dir);
    const size_t len = 1024 * 1024;
    unsigned char *buf = random_bytes(len, 15);
    char dg[OCIDIR_DIGEST_MAX];
    digest_of(buf, len, dg);

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, dg, (int64_t)len));
    assert_ocidir(0, ocidir_blob_writer_write(w, buf, len));
    assert_int_equal(tu_count_prefix(dir, TMP_PREFIX), named ? 1 : 0);
    ocidir_blob_writer_abort(w);
    assert_entries(dir, 0);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, dg, NULL));

    /* A writer that never wrote. */
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    ocidir_blob_writer_abort(w);
    assert_entries(dir, 0);

    free(buf);
    free(dir);
    ocidir_close(d);
}

static void test_sha512_writer_round_trip(void **state)
{
    (void)state;
    static const char expected[] =
        "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA512, "abc", 3, dg));
    assert_string_equal(dg, expected);

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA512, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, expected, 3));
    assert_ocidir(0, ocidir_blob_writer_write(w, "a", 1));
    assert_ocidir(0, ocidir_blob_writer_write(w, "bc", 2));
    char cdg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_writer_commit(w, cdg, &size));
    assert_string_equal(cdg, expected);
    assert_int_equal(size, 3);

    char *path = tu_blob_path(layout, expected);
    assert_non_null(strstr(path, "/blobs/sha512/"));
    assert_file_holds(path, "abc", 3);
    assert_ocidir(0, ocidir_blob_stat(d, expected, &size));
    assert_int_equal(size, 3);
    void *out = NULL;
    size_t out_len = 0;
    assert_ocidir(0, ocidir_blob_read_all(d, expected, 3, 3, &out, &out_len));
    assert_int_equal(out_len, 3);
    assert_memory_equal(out, "abc", 3);
    ocidir_free(out);

    /* Tampering is caught for sha512 as for sha256. */
    flip_byte_at(path, 1);
    out = NULL;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(d, expected, 3, 3, &out, &out_len));
    assert_null(out);

    free(path);
    ocidir_close(d);
}

/* ---- readers ------------------------------------------------------------------ */

static void test_reader_streams_content_to_verified_end(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    const size_t len = 200 * 1000 + 3;
    unsigned char *buf = put_random(d, layout, len, 16, dg, NULL);
    static const size_t chunks[] = {1, 7, 4096, 65536, 1 << 20};
    for (size_t i = 0; i < N(chunks); i++) {
        ocidir_blob_reader_t *r = NULL;
        assert_ocidir(0, ocidir_blob_open(d, dg, i % 2 ? -1 : (int64_t)len, &r));
        assert_non_null(r);
        assert_int_equal(ocidir_blob_reader_size(r), len);
        unsigned char *out = malloc(len + 1);
        assert_non_null(out);
        size_t total = 0;
        assert_int_equal(drain(r, out, len, chunks[i], &total), 0);
        assert_int_equal(total, len);
        assert_memory_equal(out, buf, len);
        assert_int_equal(ocidir_blob_reader_read(r, out, len), 0);
        ocidir_blob_reader_close(r);
        free(out);
    }
    free(buf);
    ocidir_close(d);
}

/* 0 means "verified end": a read of no bytes must never return it early. */
static void test_zero_length_read_never_reports_verified_end(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    char *path;
    unsigned char *buf = put_random(d, layout, 1000, 34, dg, &path);
    tu_keep(path);
    tu_keep(buf);
    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(0, ocidir_blob_open(d, dg, 1000, &r));
    unsigned char out[1000];
    assert_true(ocidir_blob_reader_read(r, out, 0) < 0);
    ocidir_blob_reader_close(r);
    /* Not at the start, not half way either. */
    r = NULL;
    assert_ocidir(0, ocidir_blob_open(d, dg, 1000, &r));
    assert_int_equal(ocidir_blob_reader_read(r, out, 500), 500);
    assert_true(ocidir_blob_reader_read(r, out, 0) < 0);
    ocidir_blob_reader_close(r);
    ocidir_close(d);
}

static void test_reader_reports_flipped_byte_as_sticky_digest_error(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    char *path;
    const size_t len = 100000;
    unsigned char *buf = put_random(d, layout, len, 17, dg, &path);
    flip_byte_at(path, (off_t)len / 2);

    /* Same size: open succeeds, with or without the expected size. */
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_stat(d, dg, &size));
    assert_int_equal(size, len);
    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(0, ocidir_blob_open(d, dg, (int64_t)len, &r));
    unsigned char *out = malloc(len + 1);
    assert_non_null(out);
    size_t total = 0;
    ssize_t rc = drain(r, out, len, 8192, &total);
    if (rc != OCIDIR_E_DIGEST)
        print_error("reader ended with %zd after %zu bytes; last error: %s\n", rc, total,
                    ocidir_last_error());
    assert_int_equal(rc, OCIDIR_E_DIGEST);
    /* The data came first, then the verdict. */
    assert_true(total > 0);
    assert_true(total <= len);
    assert_memory_equal(out, buf, total < len / 2 ? total : len / 2);
    if (!strstr(ocidir_last_error(), tu_hex(dg)))
        print_error("last error \"%s\" does not name %s\n", ocidir_last_error(), dg);
    assert_non_null(strstr(ocidir_last_error(), tu_hex(dg)));
    /* Sticky. */
    assert_int_equal(ocidir_blob_reader_read(r, out, len), OCIDIR_E_DIGEST);
    assert_int_equal(ocidir_blob_reader_read(r, out, 1), OCIDIR_E_DIGEST);
    ocidir_blob_reader_close(r);

    free(out);
    free(path);
    free(buf);
    ocidir_close(d);
}

static void test_read_all_rejects_flipped_byte_and_leaves_outputs(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    char *path;
    const size_t len = 4096;
    unsigned char *buf = put_random(d, layout, len, 18, dg, &path);
    flip_byte_at(path, (off_t)len - 1);

    int sentinel;
    void *out = &sentinel;
    size_t out_len = 777;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(d, dg, (int64_t)len, len, &out, &out_len));
    assert_ptr_equal(out, &sentinel);
    assert_int_equal(out_len, 777);
    assert_non_null(strstr(ocidir_last_error(), tu_hex(dg)));
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(d, dg, -1, len, &out, NULL));
    assert_ptr_equal(out, &sentinel);

    free(path);
    free(buf);
    ocidir_close(d);
}

static void test_open_rejects_truncated_blob_of_expected_size(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    char *path;
    const size_t len = 50000;
    unsigned char *buf = put_random(d, layout, len, 19, dg, &path);
    assert_int_equal(truncate(path, (off_t)len / 2), 0);

    ocidir_blob_reader_t *r = (ocidir_blob_reader_t *)&r;
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_open(d, dg, (int64_t)len, &r));
    assert_ptr_equal(r, (ocidir_blob_reader_t *)&r);
    void *out = NULL;
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_read_all(d, dg, (int64_t)len, len, &out, NULL));
    assert_null(out);

    free(path);
    free(buf);
    ocidir_close(d);
}

static void test_reader_rejects_truncated_blob_opened_without_size(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    char *path;
    const size_t len = 50000;
    unsigned char *buf = put_random(d, layout, len, 20, dg, &path);
    assert_int_equal(truncate(path, (off_t)len / 2), 0);

    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(0, ocidir_blob_open(d, dg, -1, &r));
    assert_int_equal(ocidir_blob_reader_size(r), len / 2);
    unsigned char *out = malloc(len + 1);
    assert_non_null(out);
    size_t total = 0;
    assert_int_equal(drain(r, out, len, 4096, &total), OCIDIR_E_DIGEST);
    assert_true(total <= len / 2);
    assert_int_equal(ocidir_blob_reader_read(r, out, 10), OCIDIR_E_DIGEST);
    ocidir_blob_reader_close(r);

    void *all = NULL;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(d, dg, -1, len, &all, NULL));
    assert_null(all);

    free(out);
    free(path);
    free(buf);
    ocidir_close(d);
}

static void test_reader_rejects_blob_truncated_after_open(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    char *path;
    const size_t len = 50000;
    unsigned char *buf = put_random(d, layout, len, 21, dg, &path);

    for (int expected_known = 0; expected_known < 2; expected_known++) {
        ocidir_blob_reader_t *r = NULL;
        assert_ocidir(0, ocidir_blob_open(d, dg, expected_known ? (int64_t)len : -1, &r));
        assert_int_equal(ocidir_blob_reader_size(r), len);
        unsigned char out[1000];
        /* Read a little, then cut the file short under the reader. */
        assert_int_equal(ocidir_blob_reader_read(r, out, sizeof out), (ssize_t)sizeof out);
        assert_memory_equal(out, buf, sizeof out);
        assert_int_equal(truncate(path, (off_t)len / 2), 0);
        unsigned char *rest = malloc(len + 1);
        assert_non_null(rest);
        size_t total = 0;
        ssize_t rc = drain(r, rest, len - sizeof out, 4096, &total);
        if (rc != OCIDIR_E_SIZE)
            print_error("reader ended with %zd after %zu more bytes; last error: %s\n", rc, total,
                        ocidir_last_error());
        assert_int_equal(rc, OCIDIR_E_SIZE);
        assert_true(total <= len / 2 - sizeof out);
        assert_int_equal(ocidir_blob_reader_read(r, rest, 10), OCIDIR_E_SIZE);
        /* Put the original back: the reader stays failed all the same. */
        tu_write_file(path, buf, len);
        assert_int_equal(ocidir_blob_reader_read(r, rest, 10), OCIDIR_E_SIZE);
        ocidir_blob_reader_close(r);
        free(rest);
    }

    free(path);
    free(buf);
    ocidir_close(d);
}

static void test_reader_rejects_blob_extended_after_open(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    char *path;
    const size_t len = 30000, extra = 500;
    unsigned char *buf = put_random(d, layout, len, 22, dg, &path);

    static const size_t chunks[] = {len + extra + 100, 4096, 1};
    for (size_t c = 0; c < N(chunks); c++) {
        tu_write_file(path, buf, len);
        ocidir_blob_reader_t *r = NULL;
        assert_ocidir(0, ocidir_blob_open(d, dg, (int64_t)len, &r));
        append_bytes(path, 0x55, extra);

        /* Ask for more than there should be; nothing past len comes out. */
        const size_t cap = len + extra + 100;
        unsigned char *out = malloc(cap + 1);
        assert_non_null(out);
        memset(out, 0xAA, cap + 1);
        size_t total = 0;
        ssize_t rc = drain(r, out, cap, chunks[c], &total);
        if (rc != OCIDIR_E_SIZE)
            print_error("chunk %zu: reader ended with %zd after %zu bytes; last error: %s\n",
                        chunks[c], rc, total, ocidir_last_error());
        assert_int_equal(rc, OCIDIR_E_SIZE);
        assert_true(total <= len);
        assert_memory_equal(out, buf, total);
        for (size_t i = total; i < cap + 1; i++)
            if (out[i] != 0xAA) {
                print_error("byte %zu past the %zu handed out was overwritten\n", i, total);
                fail();
            }
        assert_int_equal(ocidir_blob_reader_read(r, out, 10), OCIDIR_E_SIZE);
        ocidir_blob_reader_close(r);
        free(out);
    }

    free(path);
    free(buf);
    ocidir_close(d);
}

static void test_open_rejects_expected_size_mismatch(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    const size_t len = 1000;
    unsigned char *buf = put_random(d, layout, len, 23, dg, NULL);
    static const int64_t wrong[] = {0, 1, 999, 1001, 1 << 20};
    for (size_t i = 0; i < N(wrong); i++) {
        ocidir_blob_reader_t *r = NULL;
        assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_open(d, dg, wrong[i], &r));
        assert_null(r);
        void *out = NULL;
        size_t out_len = 5;
        assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_read_all(d, dg, wrong[i], 1 << 21, &out, &out_len));
        assert_null(out);
        assert_int_equal(out_len, 5);
    }
    free(buf);
    ocidir_close(d);
}

static void test_read_all_rejects_blob_larger_than_max_len(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    const size_t len = 10000;
    unsigned char *buf = put_random(d, layout, len, 24, dg, NULL);
    void *out = NULL;
    size_t out_len = 5;
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_blob_read_all(d, dg, -1, len - 1, &out, &out_len));
    assert_null(out);
    assert_int_equal(out_len, 5);
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_blob_read_all(d, dg, (int64_t)len, 0, &out, &out_len));
    assert_null(out);
    assert_ocidir(0, ocidir_blob_read_all(d, dg, -1, len, &out, &out_len));
    assert_int_equal(out_len, len);
    assert_memory_equal(out, buf, len);
    ocidir_free(out);
    free(buf);
    ocidir_close(d);
}

static void test_missing_blob_is_not_found_everywhere(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    digest_of("never stored", 12, dg);
    char d512[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA512, "never stored", 12, d512));
    const char *digests[] = {dg, d512};
    for (size_t i = 0; i < N(digests); i++) {
        uint64_t size = 31;
        assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, digests[i], &size));
        assert_int_equal(size, 31);
        ocidir_blob_reader_t *r = NULL;
        assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_open(d, digests[i], -1, &r));
        assert_null(r);
        void *out = NULL;
        assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_read_all(d, digests[i], -1, 100, &out, NULL));
        assert_null(out);
        int fd = -7;
        assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_open_fd(d, digests[i], &fd));
        assert_int_equal(fd, -7);
        assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_remove(d, digests[i]));
    }
    ocidir_close(d);
}

static void test_open_fd_returns_readonly_cloexec_fd_with_content(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    const size_t len = 12345;
    unsigned char *buf = put_random(d, layout, len, 25, dg, NULL);
    int fd = -1;
    assert_ocidir(0, ocidir_blob_open_fd(d, dg, &fd));
    assert_true(fd >= 0);
    int fdflags = fcntl(fd, F_GETFD);
    assert_true(fdflags >= 0);
    assert_true(fdflags & FD_CLOEXEC);
    int flflags = fcntl(fd, F_GETFL);
    assert_int_equal(flflags & O_ACCMODE, O_RDONLY);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, len);
    unsigned char *out = malloc(len + 1);
    assert_non_null(out);
    size_t off = 0;
    for (;;) {
        ssize_t n = read(fd, out + off, len + 1 - off);
        assert_true(n >= 0);
        if (n == 0)
            break;
        off += (size_t)n;
    }
    assert_int_equal(off, len);
    assert_memory_equal(out, buf, len);
    assert_int_equal(close(fd), 0);
    /* The handle's own state is intact: the blob still reads. */
    assert_ocidir(0, ocidir_blob_stat(d, dg, NULL));
    free(out);
    free(buf);
    ocidir_close(d);
}

static void test_remove_deletes_blob_and_second_remove_is_not_found(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    char dg[OCIDIR_DIGEST_MAX], keep[OCIDIR_DIGEST_MAX];
    char *path, *keep_path;
    unsigned char *buf = put_random(d, layout, 2000, 26, dg, &path);
    unsigned char *kbuf = put_random(d, layout, 2000, 27, keep, &keep_path);
    assert_true(tu_exists(path));
    assert_ocidir(0, ocidir_blob_remove(d, dg));
    assert_false(tu_exists(path));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, dg, NULL));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_remove(d, dg));
    /* The other blob is untouched. */
    assert_file_holds(keep_path, kbuf, 2000);
    assert_entries(dir, 1);
    /* And a removed blob can be stored again. */
    assert_ocidir(0, ocidir_blob_put(d, buf, 2000, NULL));
    assert_file_holds(path, buf, 2000);
    free(path);
    free(keep_path);
    free(buf);
    free(kbuf);
    free(dir);
    ocidir_close(d);
}

/* ---- put_fd -------------------------------------------------------------------- */

static void test_put_fd_stores_regular_file_from_current_offset(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *src_dir = tu_keep(tu_scratch_dir("putfd"));
    char *src = tu_join(src_dir, "source");
    const size_t len = 300000, skip = 1234;
    unsigned char *buf = random_bytes(len, 28);
    tu_write_file(src, buf, len);
    char expected[OCIDIR_DIGEST_MAX];
    digest_of(buf + skip, len - skip, expected);

    int fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, (off_t)skip, SEEK_SET), (off_t)skip);
    char dg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_put_fd(d, fd, dg, &size));
    assert_string_equal(dg, expected);
    assert_int_equal(size, len - skip);
    /* Offset at the end; the fd is still ours and open. */
    assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)len);
    assert_true(fcntl(fd, F_GETFD) >= 0);

    char *path = tu_blob_path(layout, dg);
    assert_file_holds(path, buf + skip, len - skip);

    /* At the end already: the empty blob. */
    assert_ocidir(0, ocidir_blob_put_fd(d, fd, dg, NULL));
    assert_string_equal(dg, EMPTY_SHA256);
    assert_int_equal(close(fd), 0);

    /* From offset 0, with NULL out-parameters. */
    fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_ocidir(0, ocidir_blob_put_fd(d, fd, NULL, NULL));
    assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)len);
    close(fd);
    digest_of(buf, len, expected);
    assert_ocidir(0, ocidir_blob_stat(d, expected, &size));
    assert_int_equal(size, len);

    free(path);
    free(src);
    free(buf);
    ocidir_close(d);
}

static void test_put_fd_reads_pipe_to_end(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 700 * 1000 + 1; /* well past a pipe's buffer */
    unsigned char *buf = random_bytes(len, 29);
    char expected[OCIDIR_DIGEST_MAX];
    digest_of(buf, len, expected);

    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        size_t off = 0;
        while (off < len) {
            size_t n = len - off < 3000 ? len - off : 3000;
            ssize_t w = write(p[1], buf + off, n);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    tu_defer_kill(pid);
    close(p[1]);
    char dg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_put_fd(d, p[0], dg, &size));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_equal(dg, expected);
    assert_int_equal(size, len);
    char *path = tu_blob_path(layout, dg);
    assert_file_holds(path, buf, len);
    /* The pipe is still ours. */
    assert_true(fcntl(p[0], F_GETFD) >= 0);
    close(p[0]);
    free(path);
    free(buf);
    ocidir_close(d);
}

static void test_put_fd_copies_from_another_filesystem(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    /* /dev/shm is a tmpfs; the layout is on TMPDIR's filesystem. */
    char *src_dir = tu_keep(tu_scratch_dir_shm("putfd-xfs"));
    if (!src_dir) {
        print_message("no /dev/shm: the source is on the layout's filesystem\n");
        src_dir = tu_keep(tu_scratch_dir("putfd-xfs"));
    }
    char *src = tu_keep(tu_join(src_dir, "source"));
    const size_t len = 3 * 1024 * 1024 + 17, skip = 4097;
    unsigned char *buf = random_bytes(len, 33);
    tu_write_file(src, buf, len);
    char expected[OCIDIR_DIGEST_MAX];
    digest_of(buf + skip, len - skip, expected);
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, (off_t)skip, SEEK_SET), (off_t)skip);
    char dg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_put_fd(d, fd, dg, &size));
    assert_string_equal(dg, expected);
    assert_int_equal(size, len - skip);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)len);
    close(fd);
    char *path = tu_keep(tu_blob_path(layout, dg));
    assert_file_holds(path, buf + skip, len - skip);
    free(buf);
    ocidir_close(d);
}

/* procfs files report size 0 but have content. */
static void test_put_fd_reads_file_of_unknown_size(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    /* Read it directly, to its end (its st_size says 0). */
    char direct[8192];
    ssize_t n = 0, got;
    int rfd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    assert_true(rfd >= 0);
    while ((got = read(rfd, direct + n, sizeof direct - (size_t)n)) > 0)
        n += got;
    assert_int_equal(got, 0);
    close(rfd);
    assert_true(n > 1); /* at least the program name and its NUL */
    char expected[OCIDIR_DIGEST_MAX];
    digest_of(direct, (size_t)n, expected);
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    char dg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_put_fd(d, fd, dg, &size));
    close(fd);
    assert_int_equal(size, (uint64_t)n);
    assert_string_equal(dg, expected);
    ocidir_close(d);
}

static void test_put_fd_bad_fd_is_io_with_ebadf(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    const int bad = 4000;
    assert_int_equal(fcntl(bad, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
    char dg[OCIDIR_DIGEST_MAX] = "untouched";
    uint64_t size = 99;
    assert_ocidir(OCIDIR_E_IO, ocidir_blob_put_fd(d, bad, dg, &size));
    assert_int_equal(ocidir_last_errno(), EBADF);
    assert_string_equal(dg, "untouched");
    assert_int_equal(size, 99);
    assert_entries(dir, 0);

    /* An fd that cannot be read: EBADF from the read, nothing stored. */
    char *wo_path = tu_keep(tu_join(tu_keep(tu_scratch_dir("putfd-wo")), "write-only"));
    int wo = open(wo_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(wo >= 0);
    assert_int_equal(write(wo, "abc", 3), 3);
    assert_int_equal(lseek(wo, 0, SEEK_SET), 0);
    assert_ocidir(OCIDIR_E_IO, ocidir_blob_put_fd(d, wo, dg, &size));
    assert_int_equal(ocidir_last_errno(), EBADF);
    close(wo);
    assert_entries(dir, 0);
    free(dir);
    ocidir_close(d);
}

/* ---- argument checking ------------------------------------------------------------ */

static void test_null_arguments_are_invalid(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    char dg[OCIDIR_DIGEST_MAX];
    unsigned char *buf = put_random(d, layout, 100, 30, dg, NULL);
    char out_dg[OCIDIR_DIGEST_MAX];
    uint64_t size;
    void *out = NULL;
    int fd = -1;
    ocidir_blob_writer_t *w = NULL;
    ocidir_blob_reader_t *r = NULL;

    /* Writers. */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_new(NULL, OCIDIR_SHA256, &w));
    assert_null(w);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_new(d, OCIDIR_SHA256, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_new(d, (ocidir_digest_alg_t)7, &w));
    assert_null(w);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_expect(NULL, dg, 100));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_write(NULL, "x", 1));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_commit(NULL, out_dg, &size));
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, NULL, 0));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_write(w, NULL, 1));
    ocidir_blob_writer_abort(w);

    /* put / put_fd. */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_put(NULL, buf, 100, out_dg));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_put(d, NULL, 100, out_dg));
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(devnull >= 0);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_put_fd(NULL, devnull, out_dg, &size));
    close(devnull);

    /* Readers. */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_stat(NULL, dg, &size));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_stat(d, NULL, &size));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_open(NULL, dg, -1, &r));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_open(d, NULL, -1, &r));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_open(d, dg, -1, NULL));
    assert_null(r);
    assert_int_equal(ocidir_blob_reader_read(NULL, out_dg, 1), OCIDIR_E_INVALID);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_read_all(NULL, dg, -1, 1000, &out, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_read_all(d, NULL, -1, 1000, &out, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_read_all(d, dg, -1, 1000, NULL, NULL));
    assert_null(out);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_open_fd(NULL, dg, &fd));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_open_fd(d, NULL, &fd));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_open_fd(d, dg, NULL));
    assert_int_equal(fd, -1);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_remove(NULL, dg));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_remove(d, NULL));

    /* A reader given no buffer. */
    assert_ocidir(0, ocidir_blob_open(d, dg, 100, &r));
    assert_int_equal(ocidir_blob_reader_read(r, NULL, 10), OCIDIR_E_INVALID);
    ocidir_blob_reader_close(r);

    /* Nothing was created or removed on the way. */
    assert_entries(dir, 1);
    assert_ocidir(0, ocidir_blob_stat(d, dg, NULL));
    free(buf);
    free(dir);
    ocidir_close(d);
}

static void test_blob_functions_reject_bad_and_unregistered_digests(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    static const struct {
        const char *digest;
        int code;
    } cases[] = {
        {"sha256:0123", OCIDIR_E_BAD_DIGEST},
        {"sha256/../../oci-layout", OCIDIR_E_BAD_DIGEST},
        {"sha256:../../../../etc/passwd", OCIDIR_E_BAD_DIGEST},
        {"nocolon", OCIDIR_E_BAD_DIGEST},
        {"md5:d41d8cd98f00b204e9800998ecf8427e", OCIDIR_E_UNSUPPORTED},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const char *dg = cases[i].digest;
        int code = cases[i].code;
        ocidir_blob_reader_t *r = NULL;
        void *out = NULL;
        int fd = -1;
        assert_ocidir(code, ocidir_blob_stat(d, dg, NULL));
        assert_ocidir(code, ocidir_blob_open(d, dg, -1, &r));
        assert_ocidir(code, ocidir_blob_read_all(d, dg, -1, 100, &out, NULL));
        assert_ocidir(code, ocidir_blob_open_fd(d, dg, &fd));
        assert_ocidir(code, ocidir_blob_remove(d, dg));
        assert_null(r);
        assert_null(out);
        assert_int_equal(fd, -1);
    }
    ocidir_close(d);
}

static void test_writes_on_readonly_handle_are_readonly(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *rw = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    unsigned char *buf = put_random(rw, layout, 500, 31, dg, NULL);
    ocidir_close(rw);

    ocidir_t *ro = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &ro));
    assert_true(ocidir_is_readonly(ro));
    char *before = tu_tree_listing(layout);

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_writer_new(ro, OCIDIR_SHA256, &w));
    assert_null(w);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_put(ro, "new", 3, NULL));
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(devnull >= 0);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_put_fd(ro, devnull, NULL, NULL));
    close(devnull);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_remove(ro, dg));

    /* Reads work. */
    void *out = NULL;
    size_t out_len = 0;
    assert_ocidir(0, ocidir_blob_read_all(ro, dg, 500, 500, &out, &out_len));
    assert_int_equal(out_len, 500);
    assert_memory_equal(out, buf, 500);
    ocidir_free(out);

    char *after = tu_tree_listing(layout);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(buf);
    ocidir_close(ro);
}

/* A FIFO where a blob should be is refused without blocking. */
static int open_fifo_blob(void *arg)
{
    const char *layout = arg;
    ocidir_t *d = NULL;
    if (ocidir_open(AT_FDCWD, layout, 0, &d) != 0)
        return 1000;
    char dg[OCIDIR_DIGEST_MAX];
    ocidir_digest_buffer(OCIDIR_SHA256, "fifo", 4, dg);
    ocidir_blob_reader_t *r = NULL;
    void *out = NULL;
    int fd = -1;
    int rc = 0;
    if (ocidir_blob_open(d, dg, -1, &r) != OCIDIR_E_FORMAT)
        rc |= 1;
    if (ocidir_blob_read_all(d, dg, -1, 100, &out, NULL) != OCIDIR_E_FORMAT)
        rc |= 2;
    if (ocidir_blob_open_fd(d, dg, &fd) != OCIDIR_E_FORMAT)
        rc |= 4;
    if (ocidir_blob_stat(d, dg, NULL) != OCIDIR_E_FORMAT)
        rc |= 8;
    ocidir_close(d);
    return rc;
}

static void test_fifo_blob_is_format_error_without_blocking(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_close(d);
    char dg[OCIDIR_DIGEST_MAX];
    digest_of("fifo", 4, dg);
    char *path = tu_blob_path(layout, dg);
    assert_int_equal(mkfifo(path, 0644), 0);
    int result = -1;
    int rc = tu_run_in_child(open_fifo_blob, layout, 20, &result);
    if (rc != 0)
        print_error("the child %s\n", rc == -1 ? "blocked" : "died");
    assert_int_equal(rc, 0);
    if (result != 0)
        print_error("wrong codes, mask %#x (1 open, 2 read_all, 4 open_fd, 8 stat)\n", result);
    assert_int_equal(result, 0);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_put_stat_read_all_round_trip_known_digests),
        TEARDOWN(test_put_accepts_null_digest_out),
        TEARDOWN(test_writer_small_writes_equal_put),
        TEARDOWN(test_large_writes_leave_the_buffer_and_join_at_commit),
        TEARDOWN(test_blob_appears_only_after_commit),
        TEARDOWN(test_commit_keeps_existing_blob),
        TEARDOWN(test_expect_matching_digest_and_size_commits),
        TEARDOWN(test_commit_rejects_wrong_digest_and_leaves_nothing),
        TEARDOWN(test_commit_rejects_content_shorter_than_expected),
        TEARDOWN(test_write_past_expected_size_fails_at_once),
        TEARDOWN(test_expect_null_digest_checks_size_only),
        TEARDOWN(test_expect_rejects_digest_of_other_algorithm),
        TEARDOWN(test_expect_after_write_or_twice_is_state),
        TEARDOWN(test_commit_frees_writer_on_every_outcome),
        TEARDOWN(test_write_after_failed_write_is_state),
        TEARDOWN(test_abort_accepts_null),
        TEARDOWN(test_abort_leaves_nothing),
        TEARDOWN(test_sha512_writer_round_trip),
        TEARDOWN(test_reader_streams_content_to_verified_end),
        TEARDOWN(test_zero_length_read_never_reports_verified_end),
        TEARDOWN(test_reader_reports_flipped_byte_as_sticky_digest_error),
        TEARDOWN(test_read_all_rejects_flipped_byte_and_leaves_outputs),
        TEARDOWN(test_open_rejects_truncated_blob_of_expected_size),
        TEARDOWN(test_reader_rejects_truncated_blob_opened_without_size),
        TEARDOWN(test_reader_rejects_blob_truncated_after_open),
        TEARDOWN(test_reader_rejects_blob_extended_after_open),
        TEARDOWN(test_open_rejects_expected_size_mismatch),
        TEARDOWN(test_read_all_rejects_blob_larger_than_max_len),
        TEARDOWN(test_missing_blob_is_not_found_everywhere),
        TEARDOWN(test_open_fd_returns_readonly_cloexec_fd_with_content),
        TEARDOWN(test_remove_deletes_blob_and_second_remove_is_not_found),
        TEARDOWN(test_put_fd_stores_regular_file_from_current_offset),
        TEARDOWN(test_put_fd_reads_pipe_to_end),
        TEARDOWN(test_put_fd_copies_from_another_filesystem),
        TEARDOWN(test_put_fd_reads_file_of_unknown_size),
        TEARDOWN(test_put_fd_bad_fd_is_io_with_ebadf),
        TEARDOWN(test_null_arguments_are_invalid),
        TEARDOWN(test_blob_functions_reject_bad_and_unregistered_digests),
        TEARDOWN(test_writes_on_readonly_handle_are_readonly),
        TEARDOWN(test_fifo_blob_is_format_error_without_blocking),
    };
    return cmocka_run_group_tests_name("blob", tests, NULL, NULL);
}
