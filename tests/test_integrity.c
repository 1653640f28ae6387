/* Integrity of what is stored: a re-put repairs a damaged blob, fsck's work
 * stays bounded on hostile content, file modes survive rewrites, a publish
 * whose directory flush fails says so (OCIDIR_E_NOT_DURABLE), and a
 * temporary file truncated by another process is an error, not a SIGBUS.
 *
 * Runs twice: as is (O_TMPFILE temporary files where the filesystem has
 * them) and with OCIDIR_FORCE_NAMED_TEMP=1 (named ".ocidir-tmp-*" files).
 * The truncated-temporary test always runs its put in a child process with
 * named temporary files (re-executing this program), so that a signal is
 * reported as a failure instead of killing the suite. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"

static const char *g_argv0;

/* ---- helpers ------------------------------------------------------------ */

static void assert_file_holds(const char *path, const void *buf, size_t len)
{
    void *got = NULL;
    ssize_t n = tu_read_file(path, &got);
    if (n < 0)
        print_error("%s does not exist\n", path);
    assert_true(n >= 0);
    if ((size_t)n != len)
        print_error("%s holds %zd bytes, expected %zu\n", path, n, len);
    assert_int_equal((size_t)n, len);
    if (len)
        assert_memory_equal(got, buf, len);
    free(got);
}

static void write_file_mode(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        print_error("open(%s): %s\n", path, strerror(errno));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static struct stat stat_of(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        print_error("lstat(%s): %s\n", path, strerror(errno));
    assert_int_equal(lstat(path, &st), 0);
    return st;
}

static void assert_blob_reads_back(ocidir_t *d, const char *digest, const void *buf, size_t len)
{
    void *got = NULL;
    size_t n = 0;
    assert_ocidir(0, ocidir_blob_read_all(d, digest, (int64_t)len, len + 1, &got, &n));
    assert_int_equal(n, len);
    if (len)
        assert_memory_equal(got, buf, len);
    ocidir_free(got);
}

static void assert_error_mentions(const char *needle)
{
    const char *m = ocidir_last_error();
    if (!strstr(m, needle))
        print_error("last error \"%s\" does not mention \"%s\"\n", m, needle);
    assert_non_null(strstr(m, needle));
}

/* A manifest (with its config) stored in d; its digest in out. */
static void put_manifest(ocidir_t *d, char out[OCIDIR_DIGEST_MAX])
{
    static const char cfg[] = "{\"architecture\":\"amd64\",\"config\":{},\"os\":\"linux\","
                              "\"rootfs\":{\"diff_ids\":[],\"type\":\"layers\"}}";
    char cd[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, cfg, strlen(cfg), cd));
    char *m = NULL;
    assert_true(asprintf(&m,
                         "{\"config\":{\"digest\":\"%s\",\"mediaType\":\"" MT_CONFIG
                         "\",\"size\":%zu},\"layers\":[],\"mediaType\":\"" MT_MANIFEST "\",\"schemaVersion\":2}",
                         cd, strlen(cfg)) >= 0);
    assert_ocidir(0, ocidir_blob_put(d, m, strlen(m), out));
    free(m);
}

/* ---- 1. a commit onto an existing name ------------------------------------ */

/* Put "hello", cut its file to 0 bytes, put it again: the second put stores
 * the bytes again and the blob reads back verified. */
static void test_reput_repairs_truncated_blob(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX], dg2[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "hello", 5, dg));
    char *path = tu_keep(tu_blob_path(layout, dg));
    assert_int_equal(truncate(path, 0), 0);
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_read_all(d, dg, 5, 16, &(void *){NULL}, NULL));

    assert_ocidir(0, ocidir_blob_put(d, "hello", 5, dg2));
    assert_string_equal(dg, dg2);
    assert_file_holds(path, "hello", 5);
    assert_blob_reads_back(d, dg, "hello", 5);
    ocidir_close(d);
}

/* The same repair through ocidir_blob_put_fd (the in-kernel copy path) and
 * through a writer, for a file that is too long rather than too short. */
static void test_reput_fd_and_writer_repair_wrong_size_blob(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    unsigned char data[70000];
    tu_fill(data, sizeof data, 7);
    char dg[OCIDIR_DIGEST_MAX], dg2[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, data, sizeof data, dg));
    char *path = tu_keep(tu_blob_path(layout, dg));

    /* Too short, repaired by put_fd of a regular file. */
    assert_int_equal(truncate(path, 1000), 0);
    char *src = tu_keep(tu_join(layout, "source"));
    tu_write_file(src, data, sizeof data);
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_put_fd(d, fd, dg2, &size));
    close(fd);
    assert_string_equal(dg, dg2);
    assert_int_equal(size, sizeof data);
    assert_file_holds(path, data, sizeof data);

    /* Too long (garbage appended), repaired by a writer. */
    int afd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(afd >= 0);
    assert_int_equal(write(afd, "junk", 4), 4);
    close(afd);
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, dg, (int64_t)sizeof data));
    assert_ocidir(0, ocidir_blob_writer_write(w, data, sizeof data));
    assert_ocidir(0, ocidir_blob_writer_commit(w, dg2, &size));
    assert_string_equal(dg, dg2);
    assert_file_holds(path, data, sizeof data);
    assert_blob_reads_back(d, dg, data, sizeof data);
    /* No temporary file is left behind by a repair. */
    char *dir = tu_keep(tu_join(layout, "blobs/sha256"));
    assert_int_equal(tu_count_prefix(dir, ".ocidir-tmp-"), 0);
    ocidir_close(d);
}

/* A same-size corrupted blob: a plain put keeps it (documented: not
 * re-hashed), OCIDIR_PUT_VERIFY_EXISTING replaces it; an intact blob is kept
 * by VERIFY_EXISTING (same inode). */
static void test_verify_existing_repairs_same_size_corruption(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX], dg2[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "hello", 5, dg));
    char *path = tu_keep(tu_blob_path(layout, dg));
    write_file_mode(path, "jello", 5);
    ino_t corrupt_ino = stat_of(path).st_ino;

    assert_ocidir(0, ocidir_blob_put(d, "hello", 5, dg2));
    assert_string_equal(dg, dg2);
    assert_file_holds(path, "jello", 5);  /* same size: trusted, as documented */
    assert_int_equal(stat_of(path).st_ino, corrupt_ino);

    ocidir_put_options_t o = OCIDIR_PUT_OPTIONS_INIT;
    o.flags = OCIDIR_PUT_VERIFY_EXISTING;
    assert_ocidir(0, ocidir_blob_put_opts(d, "hello", 5, &o, dg2));
    assert_string_equal(dg, dg2);
    assert_file_holds(path, "hello", 5);
    ino_t repaired_ino = stat_of(path).st_ino;
    assert_true(repaired_ino != corrupt_ino);
    assert_blob_reads_back(d, dg, "hello", 5);

    /* Intact now: VERIFY_EXISTING keeps the file. */
    assert_ocidir(0, ocidir_blob_put_opts(d, "hello", 5, &o, dg2));
    assert_int_equal(stat_of(path).st_ino, repaired_ino);

    /* The writer and put_fd variants honour the flag too. */
    write_file_mode(path, "jelly", 5);
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new_opts(d, &o, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, "hello", 5));
    assert_ocidir(0, ocidir_blob_writer_commit(w, dg2, NULL));
    assert_file_holds(path, "hello", 5);

    write_file_mode(path, "hellO", 5);
    char *src = tu_keep(tu_join(layout, "source"));
    tu_write_file(src, "hello", 5);
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_put_fd_opts(d, fd, &o, dg2, &size));
    close(fd);
    assert_int_equal(size, 5);
    assert_file_holds(path, "hello", 5);
    ocidir_close(d);
}

typedef struct {
    const char *path;
    atomic_int stop;
    long absent;  /* lstat said ENOENT */
    long looks;
} watch_t;

static void *watch_name(void *arg)
{
    watch_t *w = arg;
    while (!atomic_load(&w->stop)) {
        struct stat st;
        if (lstat(w->path, &st) != 0 && errno == ENOENT)
            w->absent++;
        w->looks++;
        /* Let the putting thread run: under valgrind threads take turns,
         * and a watcher that never yields starves the puts for minutes. */
        sched_yield();
    }
    return NULL;
}

/* Repairs replace the file with one rename over it: a watcher that looks
 * at the name all the while never finds it absent, and each repair leaves
 * a new inode holding the right bytes. */
static void test_repair_never_leaves_name_absent(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    unsigned char data[4096];
    tu_fill(data, sizeof data, 11);
    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, data, sizeof data, dg));
    char *path = tu_keep(tu_blob_path(layout, dg));

    watch_t w = {.path = path};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, watch_name, &w), 0);
    for (int i = 0; i < 64; i++) {
        ino_t before = stat_of(path).st_ino;
        assert_int_equal(truncate(path, i % 2 ? 0 : 17), 0);
        assert_ocidir(0, ocidir_blob_put(d, data, sizeof data, NULL));
        assert_true(stat_of(path).st_ino != before);
        assert_file_holds(path, data, sizeof data);
    }
    atomic_store(&w.stop, 1);
    pthread_join(t, NULL);
    print_message("watcher looked %ld times\n", w.looks);
    assert_true(w.looks > 0);
    assert_int_equal(w.absent, 0);
    ocidir_close(d);
}

/* The options struct: defaults, validation, the algorithm. */
static void test_put_options_are_checked(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_put_options_t o;
    memset(&o, 0xff, sizeof o);
    assert_ocidir(0, ocidir_put_options_init(&o, sizeof o));
    assert_int_equal(o.struct_size, sizeof o);
    assert_int_equal(o.alg, OCIDIR_SHA256);
    assert_int_equal(o.flags, 0);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_put_options_init(NULL, sizeof o));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_put_options_init(&o, 1));

    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put_opts(d, "x", 1, NULL, dg));
    assert_int_equal(strncmp(dg, "sha256:", 7), 0);
    o.alg = OCIDIR_SHA512;
    assert_ocidir(0, ocidir_blob_put_opts(d, "x", 1, &o, dg));
    assert_int_equal(strncmp(dg, "sha512:", 7), 0);
    assert_true(tu_exists(tu_keep(tu_blob_path(layout, dg))));

    ocidir_put_options_t bad = OCIDIR_PUT_OPTIONS_INIT;
    bad.flags = 1u << 7;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_put_opts(d, "x", 1, &bad, dg));
    assert_error_mentions("unknown flag");
    bad = (ocidir_put_options_t)OCIDIR_PUT_OPTIONS_INIT;
    bad.alg = (ocidir_digest_alg_t)9;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_put_opts(d, "x", 1, &bad, dg));
    assert_error_mentions("unknown algorithm");
    bad = (ocidir_put_options_t)OCIDIR_PUT_OPTIONS_INIT;
    bad.struct_size = 0;
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_new_opts(d, &bad, &w));
    assert_null(w);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_put_fd_opts(d, 0, &bad, dg, NULL));

    /* A newer caller's larger struct: zero tail accepted, set tail refused. */
    struct {
        ocidir_put_options_t o;
        unsigned long extra;
    } big;
    memset(&big, 0, sizeof big);
    big.o = (ocidir_put_options_t)OCIDIR_PUT_OPTIONS_INIT;
    big.o.struct_size = sizeof big;
    assert_ocidir(0, ocidir_blob_put_opts(d, "y", 1, &big.o, dg));
    big.extra = 1;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_put_opts(d, "y", 1, &big.o, dg));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_new_opts(d, NULL, NULL));
    ocidir_close(d);
}

/* ---- 2. fsck's work is bounded ---------------------------------------------- */

static ocidir_report_t *run_fsck(ocidir_t *d, unsigned threads)
{
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_fsck(d, TU_FSCK(0, threads, NULL, NULL), &r));
    assert_non_null(r);
    return r;
}

static void dump_report(const ocidir_report_t *r)
{
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *s, *m;
        uint64_t sz;
        assert_ocidir(0, ocidir_report_get(r, i, &k, &s, &sz, &m));
        print_message("  [%zu] %s %s (%llu): %s\n", i, ocidir_find_kind_name(k), s, (unsigned long long)sz, m);
    }
}

/* The message of the finding of `kind` about `subject`, or NULL. */
static const char *finding(const ocidir_report_t *r, int kind, const char *subject)
{
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *s, *m;
        assert_ocidir(0, ocidir_report_get(r, i, &k, &s, NULL, &m));
        if ((int)k == kind && strcmp(s, subject) == 0)
            return m;
    }
    return NULL;
}

static void expect_finding(const ocidir_report_t *r, int kind, const char *subject, const char *needle)
{
    const char *m = finding(r, kind, subject);
    if (!m || (needle && !strstr(m, needle))) {
        print_error("no %s finding about %s%s%s in:\n", ocidir_find_kind_name(kind), subject,
                    needle ? " mentioning " : "", needle ? needle : "");
        dump_report(r);
    }
    assert_non_null(m);
    if (needle)
        assert_non_null(strstr(m, needle));
}

static void expect_no_finding(const ocidir_report_t *r, int kind, const char *subject)
{
    if (finding(r, kind, subject)) {
        print_error("unexpected %s finding about %s in:\n", ocidir_find_kind_name(kind), subject);
        dump_report(r);
    }
    assert_null(finding(r, kind, subject));
}

/* An unreferenced sparse file larger than OCIDIR_FSCK_MAX_UNREFERENCED_HASH
 * is reported as not hashed (not read at all), while a small corrupt
 * unreferenced blob is still hashed. */
static void test_fsck_does_not_hash_huge_unreferenced_blob(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const char *huge = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    char *huge_path = tu_keep(tu_blob_path(layout, huge));
    int fd = open(huge_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(OCIDIR_FSCK_MAX_UNREFERENCED_HASH + 1)), 0);
    close(fd);
    const char *small = "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
    tu_write_file(tu_keep(tu_blob_path(layout, small)), "not its content", 15);

    ocidir_report_t *r = run_fsck(d, 2);
    expect_finding(r, OCIDIR_FIND_UNREFERENCED, huge, "not hashed");
    expect_no_finding(r, OCIDIR_FIND_DIGEST, huge);
    expect_finding(r, OCIDIR_FIND_DIGEST, small, NULL);
    uint64_t bytes = 0;
    ocidir_report_totals(r, NULL, &bytes);
    assert_true(bytes < OCIDIR_FSCK_MAX_UNREFERENCED_HASH);
    ocidir_report_free(r);
    ocidir_close(d);
}

typedef struct {
    int fd;
    atomic_int stop;
    uint64_t appended;
    uint64_t cap;
} appender_t;

static void *append_loop(void *arg)
{
    appender_t *a = arg;
    static char chunk[4096];
    while (!atomic_load(&a->stop) && a->appended < a->cap) {
        ssize_t n = write(a->fd, chunk, sizeof chunk);
        if (n <= 0)
            break;
        a->appended += (uint64_t)n;
    }
    return NULL;
}

/* A blob file appended to while fsck runs: fsck reads only the size it
 * found when it planned the check, and reports that the file grew. */
static void test_fsck_reads_no_more_than_planned(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const char *dg = "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
    char *path = tu_keep(tu_blob_path(layout, dg));
    appender_t a = {.cap = (uint64_t)512 << 20};
    a.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    assert_true(a.fd >= 0);
    assert_int_equal(ftruncate(a.fd, 64 << 20), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, append_loop, &a), 0);
    ocidir_report_t *r = run_fsck(d, 1);
    atomic_store(&a.stop, 1);
    pthread_join(t, NULL);
    close(a.fd);
    print_message("appended %llu bytes while fsck ran\n", (unsigned long long)a.appended);
    expect_finding(r, OCIDIR_FIND_SIZE, dg, "grew");
    expect_no_finding(r, OCIDIR_FIND_DIGEST, dg);
    ocidir_report_free(r);
    ocidir_close(d);
}

/* ---- 4. file modes ----------------------------------------------------------- */

/* index.json keeps its mode when a tag update rewrites it. */
static void test_index_mode_kept_on_rewrite(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *index = tu_keep(tu_join(layout, "index.json"));
    char m[OCIDIR_DIGEST_MAX];
    put_manifest(d, m);
    static const mode_t modes[] = {0600, 0640, 0664};
    for (size_t i = 0; i < N(modes); i++) {
        assert_int_equal(chmod(index, modes[i]), 0);
        ino_t before = stat_of(index).st_ino;
        assert_ocidir(0, ocidir_tag_set(d, i % 2 ? "b" : "a", m, 0));
        struct stat st = stat_of(index);
        assert_true(st.st_ino != before); /* it was rewritten */
        if ((st.st_mode & 07777) != modes[i])
            print_error("index.json has mode %o after tag_set, was %o\n", st.st_mode & 07777, modes[i]);
        assert_int_equal(st.st_mode & 07777, modes[i]);
    }
    assert_int_equal(chmod(index, 0600), 0);
    assert_ocidir(0, ocidir_tag_remove(d, "a"));
    assert_int_equal(stat_of(index).st_mode & 07777, 0600);
    ocidir_close(d);
}

/* New blobs get 0644 minus the umask, whichever temporary file is used. */
static void test_new_blob_mode_honours_umask(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    static const struct {
        mode_t umask, want;
    } cases[] = {{022, 0644}, {027, 0640}, {077, 0600}, {0, 0644}};
    for (size_t i = 0; i < N(cases); i++) {
        mode_t old = umask(cases[i].umask);
        char buf[32], dg[OCIDIR_DIGEST_MAX];
        int len = snprintf(buf, sizeof buf, "mode case %zu", i);
        int rc = ocidir_blob_put(d, buf, (size_t)len, dg);
        umask(old);
        assert_ocidir(0, rc);
        mode_t got = stat_of(tu_keep(tu_blob_path(layout, dg))).st_mode & 07777;
        if (got != cases[i].want)
            print_error("umask %03o: blob mode %o, expected %o\n", cases[i].umask, got, cases[i].want);
        assert_int_equal(got, cases[i].want);
    }
    ocidir_close(d);
}

/* ---- 5. a publish whose directory flush fails ---------------------------- */

/* In this (child) process from now on, fsync(2) fails with EIO; fdatasync
 * still works.  The library flushes file data with fdatasync and
 * directories with fsync, so this fails exactly the directory flush after a
 * publish.  Returns 0, or -1 with errno. */
static int fail_fsync_with_eio(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fsync, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EIO & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)N(filter), .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

#define CHILD_CHECK(cond, ...)                             \
    do {                                                   \
        if (!(cond)) {                                     \
            fprintf(stderr, "child: " __VA_ARGS__);        \
            fprintf(stderr, " (last error: %s)\n", ocidir_last_error()); \
            return __LINE__;                               \
        }                                                  \
    } while (0)

static int blob_not_durable_child(void *arg)
{
    const char *layout = arg;
    ocidir_t *d = NULL;
    CHILD_CHECK(ocidir_open(AT_FDCWD, layout, 0, &d) == 0, "open");
    CHILD_CHECK(fail_fsync_with_eio() == 0, "installing the seccomp filter: %s", strerror(errno));

    /* A new blob. */
    char dg[OCIDIR_DIGEST_MAX] = "";
    uint64_t size = 0;
    int rc = ocidir_blob_put(d, "durable?", 8, dg);
    CHILD_CHECK(rc == OCIDIR_E_NOT_DURABLE, "put returned %d, not OCIDIR_E_NOT_DURABLE", rc);
    CHILD_CHECK(ocidir_last_errno() == EIO, "last errno %d, not EIO", ocidir_last_errno());
    CHILD_CHECK(strstr(ocidir_last_error(), "blobs/sha256") != NULL, "message names no directory");
    CHILD_CHECK(strstr(ocidir_last_error(), "errno 5") != NULL, "message names no errno");
    CHILD_CHECK(strncmp(dg, "sha256:", 7) == 0, "digest_out not written on NOT_DURABLE");
    void *buf = NULL;
    size_t len = 0;
    CHILD_CHECK(ocidir_blob_read_all(d, dg, 8, 64, &buf, &len) == 0 && len == 8 && memcmp(buf, "durable?", 8) == 0,
                "the blob is not visible and verified after NOT_DURABLE");
    ocidir_free(buf);

    /* A repair of a truncated blob, through a writer. */
    char *path = tu_blob_path(layout, dg);
    CHILD_CHECK(truncate(path, 0) == 0, "truncate");
    ocidir_blob_writer_t *w = NULL;
    CHILD_CHECK(ocidir_blob_writer_new(d, OCIDIR_SHA256, &w) == 0, "writer_new");
    CHILD_CHECK(ocidir_blob_writer_write(w, "durable?", 8) == 0, "write");
    char dg2[OCIDIR_DIGEST_MAX] = "";
    rc = ocidir_blob_writer_commit(w, dg2, &size);
    CHILD_CHECK(rc == OCIDIR_E_NOT_DURABLE, "repairing commit returned %d, not OCIDIR_E_NOT_DURABLE", rc);
    CHILD_CHECK(strcmp(dg, dg2) == 0 && size == 8, "digest/size not written on NOT_DURABLE");
    struct stat st;
    CHILD_CHECK(stat(path, &st) == 0 && st.st_size == 8, "the repaired blob is not in place");
    free(path);

    /* A blob that exists and is kept: its directory is flushed too (it may
     * have just been published by another writer), and that fails. */
    rc = ocidir_blob_put(d, "durable?", 8, NULL);
    CHILD_CHECK(rc == OCIDIR_E_NOT_DURABLE, "re-put of an intact blob returned %d", rc);

    /* An uncompressed layer, whose bytes are hashed once: the diff_id handed
     * out with NOT_DURABLE is the blob digest, the sha256 of the stream. */
    static const char tar[] = "uncompressed layer bytes, not durable";
    char want[OCIDIR_DIGEST_MAX], ldg[OCIDIR_DIGEST_MAX] = "", ldiff[OCIDIR_DIGEST_MAX] = "";
    CHILD_CHECK(ocidir_digest_buffer(OCIDIR_SHA256, tar, sizeof tar, want) == 0, "digest");
    ocidir_layer_writer_t *lw = NULL;
    CHILD_CHECK(ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_NONE, 0, 0, &lw) == 0, "layer writer");
    CHILD_CHECK(ocidir_layer_writer_write(lw, tar, sizeof tar) == 0, "layer write");
    size = 0;
    rc = ocidir_layer_writer_commit(lw, ldg, &size, ldiff);
    CHILD_CHECK(rc == OCIDIR_E_NOT_DURABLE, "layer commit returned %d, not OCIDIR_E_NOT_DURABLE", rc);
    CHILD_CHECK(strcmp(ldg, want) == 0 && strcmp(ldiff, want) == 0 && size == sizeof tar,
                "layer digest %s / diff_id %s / size %llu, not %s twice and %zu", ldg, ldiff,
                (unsigned long long)size, want, sizeof tar);
    ocidir_close(d);
    return 0;
}

/* Commit and put say OCIDIR_E_NOT_DURABLE when the blob was published but
 * the directory flush failed; the blob is there, verified. */
static void test_blob_publish_not_durable(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_close(d);
    int result = -1;
    assert_int_equal(tu_run_in_child(blob_not_durable_child, layout, 60, &result), 0);
    if (result != 0)
        print_error("the child failed its check at line %d\n", result);
    assert_int_equal(result, 0);
}

static int index_not_durable_child(void *arg)
{
    const char *layout = arg;
    ocidir_t *d = NULL;
    CHILD_CHECK(ocidir_open(AT_FDCWD, layout, 0, &d) == 0, "open");
    char m[OCIDIR_DIGEST_MAX];
    CHILD_CHECK(ocidir_resolve(d, "base", m, NULL, NULL) == 0, "resolve base");
    CHILD_CHECK(fail_fsync_with_eio() == 0, "installing the seccomp filter: %s", strerror(errno));
    int rc = ocidir_tag_set(d, "after", m, 0);
    CHILD_CHECK(rc == OCIDIR_E_NOT_DURABLE, "tag_set returned %d, not OCIDIR_E_NOT_DURABLE", rc);
    CHILD_CHECK(ocidir_last_errno() == EIO, "last errno %d, not EIO", ocidir_last_errno());
    CHILD_CHECK(strstr(ocidir_last_error(), layout) != NULL, "message names no directory");
    CHILD_CHECK(strstr(ocidir_last_error(), "errno 5") != NULL, "message names no errno");
    char got[OCIDIR_DIGEST_MAX];
    CHILD_CHECK(ocidir_resolve(d, "after", got, NULL, NULL) == 0 && strcmp(got, m) == 0,
                "index.json does not hold the new tag after NOT_DURABLE");
    rc = ocidir_tag_remove(d, "base");
    CHILD_CHECK(rc == OCIDIR_E_NOT_DURABLE, "tag_remove returned %d, not OCIDIR_E_NOT_DURABLE", rc);
    CHILD_CHECK(ocidir_resolve(d, "base", got, NULL, NULL) == OCIDIR_E_NOT_FOUND, "base still tagged");
    ocidir_close(d);
    return 0;
}

/* An index.json rewrite says OCIDIR_E_NOT_DURABLE when the rename was done
 * but the directory flush failed: the new index.json is in place, and no
 * temporary file is left. */
static void test_index_rewrite_not_durable(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char m[OCIDIR_DIGEST_MAX];
    put_manifest(d, m);
    assert_ocidir(0, ocidir_tag_set(d, "base", m, 0));
    ocidir_close(d);
    int result = -1;
    assert_int_equal(tu_run_in_child(index_not_durable_child, layout, 60, &result), 0);
    if (result != 0)
        print_error("the child failed its check at line %d\n", result);
    assert_int_equal(result, 0);
    assert_int_equal(tu_count_prefix(layout, ".ocidir-index-"), 0);
}

/* ---- 6. a temporary file truncated by another process --------------------- */

typedef struct {
    const char *dir;
    atomic_int stop;
    long truncations;
} truncater_t;

/* Truncate every named temporary file in dir, over and over. */
static void *truncate_temps(void *arg)
{
    truncater_t *t = arg;
    int dfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return NULL;
    while (!atomic_load(&t->stop)) {
        DIR *dp = opendir(t->dir); /* a fresh listing each time (a dup would share the offset) */
        if (!dp)
            break;
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            if (strncmp(e->d_name, ".ocidir-tmp-", 12) != 0)
                continue;
            int fd = openat(dfd, e->d_name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                continue;
            /* Keep cutting it for as long as it has its name. */
            for (unsigned i = 1; !atomic_load(&t->stop); i++) {
                if (ftruncate(fd, 0) == 0)
                    t->truncations++;
                struct stat st;
                if (i % 256 == 0 && fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                    break;
            }
            close(fd);
        }
        closedir(dp);
    }
    close(dfd);
    return NULL;
}

/* The child (this program re-executed with OCIDIR_FORCE_NAMED_TEMP=1): put
 * a 512 MiB file (64 MiB of data, then a hole) while another thread
 * truncates the writer's temporary file.  Exit 0 when the put fails with a
 * code and stopped copying early (the source's offset, which the copy
 * advances, is short of its end), 2 when it succeeded, 3 on a setup
 * failure, 5 when it failed only after copying everything; a SIGBUS kills
 * it. */
static int truncated_temp_child(const char *layout)
{
    ocidir_t *d = NULL;
    if (ocidir_open(AT_FDCWD, layout, 0, &d) != 0) {
        fprintf(stderr, "child: open %s: %s\n", layout, ocidir_last_error());
        return 3;
    }
    char *src = tu_join(layout, "source");
    int fd = open(src, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return 3;
    size_t len = (size_t)64 << 20;
    char *buf = malloc(len);
    if (!buf)
        return 3;
    tu_fill(buf, len, 5);
    if (write(fd, buf, len) != (ssize_t)len)
        return 3;
    free(buf);
    const off_t total = (off_t)512 << 20;
    if (ftruncate(fd, total) != 0)
        return 3;
    lseek(fd, 0, SEEK_SET);
    truncater_t t = {.dir = tu_join(layout, "blobs/sha256")};
    pthread_t th;
    if (pthread_create(&th, NULL, truncate_temps, &t) != 0)
        return 3;
    char dg[OCIDIR_DIGEST_MAX];
    int rc = ocidir_blob_put_fd(d, fd, dg, NULL);
    atomic_store(&t.stop, 1);
    pthread_join(th, NULL);
    off_t copied = lseek(fd, 0, SEEK_CUR);
    fprintf(stderr, "child: put_fd returned %d (%s) after %ld truncations, %lld of %lld bytes copied: %s\n", rc,
            ocidir_strerror(rc), t.truncations, (long long)copied, (long long)total, rc ? ocidir_last_error() : dg);
    close(fd);
    ocidir_close(d);
    free(src);
    free((char *)t.dir);
    if (rc >= 0)
        return 2;
    return copied < total ? 0 : 5;
}

/* put_fd hashes what it copied with read(2): a named temporary file
 * truncated by another process gives an error code, never a SIGBUS, and the
 * copy stops early. */
static void test_put_fd_truncated_temp_is_an_error_not_a_signal(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_close(d);
    /* The program's path, read before the fork (under valgrind the link
     * names the program, not the tool). */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("OCIDIR_FORCE_NAMED_TEMP", "1", 1);
        execl(self, g_argv0, "--truncated-temp-child", layout, (char *)NULL);
        _exit(4);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        print_error("the putting process was killed by signal %d (%s)\n", WTERMSIG(status),
                    strsignal(WTERMSIG(status)));
    assert_false(WIFSIGNALED(status));
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        print_error("the child exited with %d (2: the put succeeded; 3: setup failed; 4: exec failed; "
                    "5: the copy went on to the end after the failure)\n",
                    WEXITSTATUS(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    g_argv0 = argv[0];
    if (argc == 3 && strcmp(argv[1], "--truncated-temp-child") == 0)
        return truncated_temp_child(argv[2]);
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_reput_repairs_truncated_blob),
        TEARDOWN(test_reput_fd_and_writer_repair_wrong_size_blob),
        TEARDOWN(test_verify_existing_repairs_same_size_corruption),
        TEARDOWN(test_repair_never_leaves_name_absent),
        TEARDOWN(test_put_options_are_checked),
        TEARDOWN(test_fsck_does_not_hash_huge_unreferenced_blob),
        TEARDOWN(test_fsck_reads_no_more_than_planned),
        TEARDOWN(test_index_mode_kept_on_rewrite),
        TEARDOWN(test_new_blob_mode_honours_umask),
        TEARDOWN(test_blob_publish_not_durable),
        TEARDOWN(test_index_rewrite_not_durable),
        TEARDOWN(test_put_fd_truncated_temp_is_an_error_not_a_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
