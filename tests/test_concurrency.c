/* Concurrency: many threads through one handle, readers sharing a blob,
 * writers killed mid-write, and live writers in other processes surviving
 * the cleanup that a writable open does.
 *
 * Runs twice: as is (O_TMPFILE temporary files where the filesystem has
 * them) and with OCIDIR_FORCE_NAMED_TEMP=1 (named ".ocidir-tmp-*" files). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)
#define TMP_PREFIX ".ocidir-tmp-"

static char *sha256_dir(const char *layout) { return tu_join(layout, "blobs/sha256"); }

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

/* The one name in dir starting with the temp prefix (malloc'd), or NULL. */
static char *temp_name(const char *dir)
{
    char *l = tu_tree_listing(dir);
    char *p = strstr(l, "/" TMP_PREFIX);
    char *name = NULL;
    if (p) {
        p++;
        size_t n = strcspn(p, " ");
        name = strndup(p, n);
        assert_non_null(name);
    }
    free(l);
    return name;
}

static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- many threads, one handle ---------------------------------------------- */

#define N_THREADS 8
#define N_BLOBS 200
#define N_SHARED (N_BLOBS / 2)

typedef struct {
    ocidir_t *d;
    int id;
    pthread_barrier_t *barrier;
    char digests[N_BLOBS][OCIDIR_DIGEST_MAX];
    int failures;
    char msg[1024];
} worker_t;

/* Blob i of thread t: the first half is the same in every thread. */
static uint32_t blob_seed(int t, int i)
{
    return i < N_SHARED ? 1000u + (uint32_t)i : 100000u + (uint32_t)t * 1000u + (uint32_t)i;
}

static size_t blob_len(uint32_t seed) { return 1 + (size_t)((seed * 2654435761u) >> 20) % 9000; }

static void worker_fail(worker_t *w, const char *what, int i, int rc)
{
    if (w->failures++ == 0)
        snprintf(w->msg, sizeof w->msg, "thread %d blob %d: %s = %d (%s); last error: %s", w->id, i,
                 what, rc, ocidir_strerror(rc), ocidir_last_error());
}

static void *writer_thread(void *arg)
{
    worker_t *w = arg;
    unsigned char *buf = malloc(9001);
    if (!buf) {
        w->failures++;
        return NULL;
    }
    for (int i = 0; i < N_BLOBS; i++) {
        uint32_t seed = blob_seed(w->id, i);
        size_t len = blob_len(seed);
        tu_fill(buf, len, seed);
        char expected[OCIDIR_DIGEST_MAX];
        ocidir_digest_buffer(OCIDIR_SHA256, buf, len, expected);
        char *dg = w->digests[i];
        int rc;
        if (i % 3 == 0) {
            rc = ocidir_blob_put(w->d, buf, len, dg);
            if (rc != 0) {
                worker_fail(w, "put", i, rc);
                continue;
            }
        } else {
            ocidir_blob_writer_t *wr = NULL;
            rc = ocidir_blob_writer_new(w->d, OCIDIR_SHA256, &wr);
            if (rc != 0) {
                worker_fail(w, "writer_new", i, rc);
                continue;
            }
            if (i % 3 == 2 && (rc = ocidir_blob_writer_expect(wr, expected, (int64_t)len)) != 0) {
                worker_fail(w, "expect", i, rc);
                ocidir_blob_writer_abort(wr);
                continue;
            }
            size_t half = len / 2;
            if ((rc = ocidir_blob_writer_write(wr, buf, half)) != 0 ||
                (rc = ocidir_blob_writer_write(wr, buf + half, len - half)) != 0) {
                worker_fail(w, "write", i, rc);
                ocidir_blob_writer_abort(wr);
                continue;
            }
            uint64_t size = 0;
            rc = ocidir_blob_writer_commit(wr, dg, &size);
            if (rc != 0) {
                worker_fail(w, "commit", i, rc);
                continue;
            }
            if (size != len)
                worker_fail(w, "commit size", i, (int)size);
        }
        if (strcmp(dg, expected) != 0)
            worker_fail(w, "digest differs from ocidir_digest_buffer", i, 0);
    }

    pthread_barrier_wait(w->barrier);

    /* Every thread verifies its blobs while the others do the same. */
    for (int i = 0; i < N_BLOBS; i++) {
        uint32_t seed = blob_seed(w->id, i);
        size_t len = blob_len(seed);
        tu_fill(buf, len, seed);
        void *out = NULL;
        size_t out_len = 0;
        int rc = ocidir_blob_read_all(w->d, w->digests[i], (int64_t)len, len, &out, &out_len);
        if (rc != 0) {
            worker_fail(w, "read_all", i, rc);
            continue;
        }
        if (out_len != len || memcmp(out, buf, len) != 0)
            worker_fail(w, "read_all content", i, 0);
        ocidir_free(out);
    }
    free(buf);
    return NULL;
}

static void test_threads_share_one_handle_for_writes_and_reads(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = sha256_dir(layout);
    pthread_barrier_t barrier;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, N_THREADS), 0);
    worker_t *w = calloc(N_THREADS, sizeof *w);
    assert_non_null(w);
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        w[t].d = d;
        w[t].id = t;
        w[t].barrier = &barrier;
        assert_int_equal(pthread_create(&th[t], NULL, writer_thread, &w[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < N_THREADS; t++) {
        if (w[t].failures)
            print_error("%d failures; first: %s\n", w[t].failures, w[t].msg);
        assert_int_equal(w[t].failures, 0);
    }
    /* The shared blobs got one digest in every thread. */
    for (int t = 1; t < N_THREADS; t++)
        for (int i = 0; i < N_SHARED; i++)
            assert_string_equal(w[t].digests[i], w[0].digests[i]);
    /* One file per distinct content, no temporary file left. */
    assert_entries(dir, N_SHARED + N_THREADS * (N_BLOBS - N_SHARED));
    assert_int_equal(tu_count_prefix(dir, TMP_PREFIX), 0);

    pthread_barrier_destroy(&barrier);
    free(w);
    free(dir);
    ocidir_close(d);
}

/* ---- readers sharing one blob ---------------------------------------------- */

typedef struct {
    ocidir_t *d;
    const char *digest;
    const unsigned char *content;
    size_t len;
    int id;
    int failures;
    char msg[1024];
} reader_arg_t;

static void reader_fail(reader_arg_t *a, const char *what, long rc)
{
    if (a->failures++ == 0)
        snprintf(a->msg, sizeof a->msg, "thread %d: %s = %ld; last error: %s", a->id, what, rc,
                 ocidir_last_error());
}

static void *reader_thread(void *arg)
{
    reader_arg_t *a = arg;
    unsigned char *out = malloc(a->len + 1);
    if (!out) {
        a->failures++;
        return NULL;
    }
    for (int round = 0; round < 12; round++) {
        ocidir_blob_reader_t *r = NULL;
        int rc = ocidir_blob_open(a->d, a->digest, round % 2 ? -1 : (int64_t)a->len, &r);
        if (rc != 0) {
            reader_fail(a, "open", rc);
            continue;
        }
        size_t chunk = (size_t)1 << (8 + (a->id + round) % 10);
        size_t off = 0;
        ssize_t n;
        while ((n = ocidir_blob_reader_read(r, out + off, chunk < a->len + 1 - off ? chunk : a->len + 1 - off)) > 0)
            off += (size_t)n;
        if (n != 0)
            reader_fail(a, "read", (long)n);
        else if (off != a->len || memcmp(out, a->content, a->len) != 0)
            reader_fail(a, "read content", (long)off);
        ocidir_blob_reader_close(r);

        void *all = NULL;
        size_t all_len = 0;
        rc = ocidir_blob_read_all(a->d, a->digest, (int64_t)a->len, a->len, &all, &all_len);
        if (rc != 0)
            reader_fail(a, "read_all", rc);
        else if (all_len != a->len || memcmp(all, a->content, a->len) != 0)
            reader_fail(a, "read_all content", (long)all_len);
        ocidir_free(all);
    }
    free(out);
    return NULL;
}

/* Rewrites the same content over and over: commit keeps the existing file. */
static void *rewriter_thread(void *arg)
{
    reader_arg_t *a = arg;
    for (int round = 0; round < 12; round++) {
        char dg[OCIDIR_DIGEST_MAX];
        int rc = ocidir_blob_put(a->d, a->content, a->len, dg);
        if (rc != 0)
            reader_fail(a, "put", rc);
        else if (strcmp(dg, a->digest) != 0)
            reader_fail(a, "put digest", 0);
    }
    return NULL;
}

static void test_concurrent_readers_of_one_blob_all_verify(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 4 * 1024 * 1024 + 11;
    unsigned char *content = malloc(len);
    assert_non_null(content);
    tu_fill(content, len, 77);
    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, content, len, dg));
    char *path = tu_blob_path(layout, dg);
    struct stat before, after;
    assert_int_equal(lstat(path, &before), 0);

    enum { READERS = 8 };
    reader_arg_t args[READERS + 1];
    pthread_t th[READERS + 1];
    memset(args, 0, sizeof args);
    for (int t = 0; t <= READERS; t++) {
        args[t].d = d;
        args[t].digest = dg;
        args[t].content = content;
        args[t].len = len;
        args[t].id = t;
        assert_int_equal(pthread_create(&th[t], NULL, t < READERS ? reader_thread : rewriter_thread, &args[t]), 0);
    }
    for (int t = 0; t <= READERS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t <= READERS; t++) {
        if (args[t].failures)
            print_error("%d failures; first: %s\n", args[t].failures, args[t].msg);
        assert_int_equal(args[t].failures, 0);
    }
    assert_int_equal(lstat(path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    free(path);
    free(content);
    ocidir_close(d);
}

/* ---- a writer killed mid-write ----------------------------------------------- */

#define KILL_TOTAL ((size_t)256 * 1024 * 1024)
#define KILL_CHUNK ((size_t)1024 * 1024)
#define KILL_SIGNAL_AT ((size_t)64 * 1024 * 1024)
#define KILL_HOLD_AT ((size_t)192 * 1024 * 1024)

static void test_writer_killed_mid_write_leaves_no_blob_and_open_cleans_up(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_close(d);
    char *dir = sha256_dir(layout);
    int named = tu_writer_temp_is_named(dir);

    unsigned char *content = malloc(KILL_TOTAL);
    assert_non_null(content);
    for (size_t off = 0; off < KILL_TOTAL; off += KILL_CHUNK)
        tu_fill(content + off, KILL_CHUNK, (uint32_t)(off / KILL_CHUNK) + 1);
    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, content, KILL_TOTAL, dg));
    char *path = tu_blob_path(layout, dg);

    /* p: the child says 'r' at KILL_SIGNAL_AT.  hold: never written; the
     * child blocks on it at KILL_HOLD_AT, so it can never reach its commit
     * however slowly the parent gets to the kill. */
    int p[2], hold[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        close(hold[1]);
        ocidir_t *cd = NULL;
        ocidir_blob_writer_t *w = NULL;
        if (ocidir_open(AT_FDCWD, layout, 0, &cd) != 0 ||
            ocidir_blob_writer_new(cd, OCIDIR_SHA256, &w) != 0 ||
            ocidir_blob_writer_expect(w, dg, (int64_t)KILL_TOTAL) != 0) {
            (void)write_full(p[1], "e", 1);
            _exit(1);
        }
        for (size_t off = 0; off < KILL_TOTAL; off += KILL_CHUNK) {
            if (ocidir_blob_writer_write(w, content + off, KILL_CHUNK) != 0) {
                (void)write_full(p[1], "e", 1);
                _exit(1);
            }
            if (off + KILL_CHUNK == KILL_SIGNAL_AT)
                (void)write_full(p[1], "r", 1);
            if (off + KILL_CHUNK == KILL_HOLD_AT) {
                char c;
                (void)read_full(hold[0], &c, 1);
                _exit(4); /* the parent went away */
            }
        }
        ocidir_blob_writer_commit(w, NULL, NULL);
        (void)write_full(p[1], "c", 1);
        _exit(0);
    }
    tu_defer_kill(pid);
    close(p[1]);
    close(hold[0]);
    char c = 0;
    assert_int_equal(read_full(p[0], &c, 1), 0);
    assert_int_equal(c, 'r');
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(p[0]);
    close(hold[1]);
    /* It really died in the middle, not after finishing. */
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    assert_false(tu_exists(path));
    if (named) {
        /* The dead writer's named temporary file is left over ... */
        assert_entries(dir, 1);
        assert_int_equal(tu_count_prefix(dir, TMP_PREFIX), 1);
    } else {
        assert_entries(dir, 0);
    }

    /* ... a read-only open leaves it alone ... */
    ocidir_t *ro = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &ro));
    assert_int_equal(tu_count_prefix(dir, TMP_PREFIX), named ? 1 : 0);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(ro, dg, NULL));
    ocidir_close(ro);

    /* ... and the next writable open removes it. */
    d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, 0, &d));
    assert_entries(dir, 0);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, dg, NULL));
    assert_false(tu_exists(path));

    /* The layout is fully usable: the same blob can be written now. */
    char cdg[OCIDIR_DIGEST_MAX] = "";
    assert_ocidir(0, ocidir_blob_put(d, content, 4 * KILL_CHUNK, cdg));
    assert_ocidir(0, ocidir_blob_stat(d, cdg, NULL));
    assert_entries(dir, 1);

    ocidir_close(d);
    free(path);
    free(content);
    free(dir);
}

/* ---- a live writer in another process ------------------------------------------ */

typedef struct {
    pid_t pid;
    int to_child;   /* write 'c' to let it finish */
    int from_child; /* 'r' once half written; then rc and digest */
} live_writer_t;

/* A child process that opens layout (adding cache as its write target when
 * given), writes the first half of content, says 'r', waits for 'c', writes
 * the rest and commits. */
static live_writer_t start_live_writer(const char *layout, const char *cache,
                                       const unsigned char *content, size_t len)
{
    int up[2], down[2];
    assert_int_equal(pipe2(up, O_CLOEXEC), 0);
    assert_int_equal(pipe2(down, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        int rc;
        char dg[OCIDIR_DIGEST_MAX] = "";
        ocidir_t *cd = NULL;
        ocidir_blob_writer_t *w = NULL;
        rc = ocidir_open(AT_FDCWD, layout, 0, &cd);
        if (rc == 0 && cache) {
            int cfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            rc = cfd < 0 ? -100 : ocidir_add_blobdir_fd(cd, cfd, OCIDIR_BLOBDIR_WRITE);
            if (cfd >= 0)
                close(cfd);
        }
        if (rc == 0)
            rc = ocidir_blob_writer_new(cd, OCIDIR_SHA256, &w);
        if (rc == 0)
            rc = ocidir_blob_writer_write(w, content, len / 2);
        if (rc != 0) {
            (void)write_full(up[1], "e", 1);
            _exit(1);
        }
        (void)write_full(up[1], "r", 1);
        char c = 0;
        if (read_full(down[0], &c, 1) != 0 || c != 'c')
            _exit(2);
        rc = ocidir_blob_writer_write(w, content + len / 2, len - len / 2);
        if (rc == 0)
            rc = ocidir_blob_writer_commit(w, dg, NULL);
        else
            ocidir_blob_writer_abort(w);
        ocidir_close(cd);
        if (write_full(up[1], &rc, sizeof rc) != 0 || write_full(up[1], dg, sizeof dg) != 0)
            _exit(3);
        _exit(0);
    }
    tu_defer_kill(pid);
    close(up[1]);
    close(down[0]);
    char c = 0;
    assert_int_equal(read_full(up[0], &c, 1), 0);
    assert_int_equal(c, 'r');
    live_writer_t lw = {pid, down[1], up[0]};
    return lw;
}

/* Let it finish; returns its commit's code and digest. */
static int finish_live_writer(live_writer_t *lw, char dg[OCIDIR_DIGEST_MAX])
{
    assert_int_equal(write_full(lw->to_child, "c", 1), 0);
    int rc = -1000;
    assert_int_equal(read_full(lw->from_child, &rc, sizeof rc), 0);
    assert_int_equal(read_full(lw->from_child, dg, OCIDIR_DIGEST_MAX), 0);
    int status = 0;
    assert_int_equal(waitpid(lw->pid, &status, 0), lw->pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(lw->to_child);
    close(lw->from_child);
    return rc;
}

static void test_live_writer_in_other_process_survives_writable_open(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_close(d);
    char *dir = sha256_dir(layout);
    int named = tu_writer_temp_is_named(dir);
    const size_t len = 2 * 1024 * 1024 + 5;
    unsigned char *content = malloc(len);
    assert_non_null(content);
    tu_fill(content, len, 91);
    char expected[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, content, len, expected));

    live_writer_t lw = start_live_writer(layout, NULL, content, len);
    char *tmp = NULL;
    if (named) {
        assert_entries(dir, 1);
        tmp = temp_name(dir);
        assert_non_null(tmp);
    } else {
        assert_entries(dir, 0);
    }

    /* Writable opens (each runs the stale-temp cleanup) while it writes. */
    for (int i = 0; i < 3; i++) {
        d = NULL;
        assert_ocidir(0, ocidir_open(AT_FDCWD, layout, 0, &d));
        if (named) {
            assert_entries(dir, 1);
            char *still = temp_name(dir);
            assert_non_null(still);
            assert_string_equal(still, tmp);
            free(still);
        } else {
            assert_entries(dir, 0);
        }
        if (i < 2)
            ocidir_close(d);
    }

    char dg[OCIDIR_DIGEST_MAX] = "";
    assert_ocidir(0, finish_live_writer(&lw, dg));
    assert_string_equal(dg, expected);
    assert_entries(dir, 1);
    tu_assert_blob_equals(d, expected, content, len);

    ocidir_close(d);
    free(tmp);
    free(content);
    free(dir);
}

static void test_add_blobdir_write_removes_dead_temps_and_keeps_live_one(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_close(d);
    char *cache = tu_keep(tu_scratch_dir("cache"));
    char *cache_sha = tu_join(cache, "sha256");
    tu_mkdir(cache_sha);
    int named = tu_writer_temp_is_named(cache_sha);
    const size_t len = 1024 * 1024;
    unsigned char *content = malloc(len);
    assert_non_null(content);
    tu_fill(content, len, 92);
    char expected[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, content, len, expected));

    live_writer_t lw = start_live_writer(layout, cache, content, len);
    char *live = named ? temp_name(cache_sha) : NULL;
    if (named)
        assert_non_null(live);
    assert_entries(cache_sha, named ? 1 : 0);

    /* A dead writer's leftover: a temp file nobody holds a lock on. */
    char *dead = tu_join(cache_sha, TMP_PREFIX "0123456789abcdef01234567");
    tu_write_file(dead, "partial", 7);
    assert_entries(cache_sha, named ? 2 : 1);

    /* Adding the directory read-only cleans nothing. */
    d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, 0, &d));
    int cfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cfd >= 0);
    assert_ocidir(0, ocidir_add_blobdir_fd(d, cfd, 0));
    assert_true(tu_exists(dead));
    /* As the write target it removes the dead file, never the live one. */
    assert_ocidir(0, ocidir_add_blobdir_fd(d, cfd, OCIDIR_BLOBDIR_WRITE));
    close(cfd);
    assert_false(tu_exists(dead));
    assert_entries(cache_sha, named ? 1 : 0);
    if (named) {
        char *still = temp_name(cache_sha);
        assert_non_null(still);
        assert_string_equal(still, live);
        free(still);
    }

    char dg[OCIDIR_DIGEST_MAX] = "";
    assert_ocidir(0, finish_live_writer(&lw, dg));
    assert_string_equal(dg, expected);
    assert_entries(cache_sha, 1);
    char *blob = tu_join(cache_sha, tu_hex(expected));
    assert_true(tu_exists(blob));
    tu_assert_blob_equals(d, expected, content, len);

    ocidir_close(d);
    free(blob);
    free(dead);
    free(live);
    free(content);
    free(cache_sha);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_threads_share_one_handle_for_writes_and_reads),
        TEARDOWN(test_concurrent_readers_of_one_blob_all_verify),
        TEARDOWN(test_writer_killed_mid_write_leaves_no_blob_and_open_cleans_up),
        TEARDOWN(test_live_writer_in_other_process_survives_writable_open),
        TEARDOWN(test_add_blobdir_write_removes_dead_temps_and_keeps_live_one),
    };
    return cmocka_run_group_tests_name("concurrency", tests, NULL, NULL);
}
