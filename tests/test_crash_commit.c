/* Crash safety of image commits: a child process builds and commits images
 * in a loop (a gzip layer through a layer writer, a config label, the
 * builder's commit under one of a few tags) while the parent SIGKILLs it at
 * random moments.  After every kill the layout must open, index.json must
 * parse, every tag must name a complete image whose layers read to a
 * verified end, every file in blobs/sha256 must hash to its name, and fsck
 * must find no damage.  The second case does the same with batched builds:
 * 1 to 6 layers, gzip or uncompressed, each added with
 * OCIDIR_ADD_LAYER_DEFER_SYNC, so that the kill also lands between the
 * deferred layers, in their one syncfs and while they are being named.
 * (The order of the flushes themselves, which a SIGKILL cannot test since
 * the page cache survives it, is test_sync_order's.)
 *
 * The random schedule is seeded from OCIDIR_TEST_SEED when set, else from
 * the clock; the seed is printed so that a failure can be replayed. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)

#define ITERATIONS 50
#define MAX_DELAY_US 30000
#define NTAGS 4
#define MAX_CONTENT (48 * 1024)

static const char *const tags[NTAGS] = {"t0", "release/t1", "t2", "v3.0"};

/* ---- random numbers ------------------------------------------------------ */

static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x ? x : 0x9e3779b9u;
    return *s;
}

static uint32_t pick_seed(void)
{
    const char *e = getenv("OCIDIR_TEST_SEED");
    if (e && *e)
        return (uint32_t)strtoul(e, NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t s = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec ^ ((uint32_t)getpid() << 16);
    return s ? s : 1;
}

/* ---- building one image -------------------------------------------------- */

/* Build and commit one image; returns 0 or the failing code, with the call
 * and the library's message in err. */
static int batched; /* the case running: layers added with OCIDIR_ADD_LAYER_DEFER_SYNC */
#define MAX_BATCH_LAYERS 6

static int build_once(ocidir_t *d, uint32_t *rng, unsigned iteration, const char *tag, char *err, size_t errlen)
{
    static unsigned char content[MAX_CONTENT], tar[MAX_CONTENT + 4096];
    ocidir_builder_t *b = NULL;
    ocidir_layer_writer_t *w = NULL;
    int rc;
#define STEP(call)                                                                              \
    do {                                                                                        \
        rc = (call);                                                                            \
        if (rc != 0) {                                                                          \
            snprintf(err, errlen, "%s = %d (%s): %s", #call, rc, ocidir_strerror(rc),           \
                     ocidir_last_error());                                                      \
            goto out;                                                                           \
        }                                                                                       \
    } while (0)

    STEP(ocidir_builder_new(d, NULL, &b));
    unsigned nlayers = batched ? 1 + rng_next(rng) % MAX_BATCH_LAYERS : 1;
    for (unsigned l = 0; l < nlayers; l++) {
        /* Varying content: random bytes, then a compressible run. */
        size_t len = 1 + rng_next(rng) % (MAX_CONTENT / 2);
        tu_fill(content, len, rng_next(rng));
        size_t run = rng_next(rng) % (MAX_CONTENT / 2);
        memset(content + len, 'a' + (int)((iteration + l) % 26), run);
        len += run;
        char name[64];
        snprintf(name, sizeof name, "file-%u-%u.bin", iteration, l);
        size_t tlen = tu_make_tar(tar, name, content, len);

        ocidir_compression_t c =
            batched && rng_next(rng) % 2 ? OCIDIR_COMPRESSION_NONE : OCIDIR_COMPRESSION_GZIP;
        STEP(ocidir_layer_writer_new(d, c, 0, 0, &w));
        for (size_t off = 0; off < tlen;) {
            size_t n = 1 + rng_next(rng) % 8192;
            if (n > tlen - off)
                n = tlen - off;
            STEP(ocidir_layer_writer_write(w, tar + off, n));
            off += n;
        }
        ocidir_layer_writer_t *ww = w;
        w = NULL; /* freed by add_layer_writer whatever it returns */
        ocidir_add_layer_options_t o = OCIDIR_ADD_LAYER_OPTIONS_INIT;
        o.created_by = "crash-commit test layer";
        o.flags = batched ? OCIDIR_ADD_LAYER_DEFER_SYNC : 0;
        STEP(ocidir_builder_add_layer_writer_opts(b, ww, &o));
    }
    char label[32];
    snprintf(label, sizeof label, "%u", iteration);
    STEP(ocidir_builder_set_label(b, "org.example.iteration", label));
    STEP(ocidir_builder_set_annotation(b, "org.example.size", label));
    char dg[OCIDIR_DIGEST_MAX];
    STEP(ocidir_builder_commit(b, tag, 0, dg));
    /* Now and then the same image under a second tag too. */
    if (tag && rng_next(rng) % 3 == 0)
        STEP(ocidir_builder_commit(b, tags[rng_next(rng) % NTAGS], 0, dg));
out:
    ocidir_layer_writer_abort(w);
    ocidir_builder_free(b);
    return rc;
#undef STEP
}

/* The child: commit images forever; a byte on `progress` after each commit;
 * on a failure, the message on `errfd` and exit 1. */
static void child_main(const char *layout, uint32_t seed, int progress, int errfd)
{
    char err[1024];
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, 0, &d);
    if (rc != 0) {
        int n = snprintf(err, sizeof err, "child: ocidir_open = %d: %s\n", rc, ocidir_last_error());
        (void)!write(errfd, err, (size_t)n);
        _exit(1);
    }
    uint32_t rng = seed;
    for (unsigned it = 0;; it++) {
        const char *tag = rng_next(&rng) % 8 == 0 ? NULL : tags[rng_next(&rng) % NTAGS];
        rc = build_once(d, &rng, seed ^ it, tag, err, sizeof err);
        if (rc != 0) {
            char msg[1200];
            int n = snprintf(msg, sizeof msg, "child (seed %u) iteration %u: %s\n", seed, it, err);
            (void)!write(errfd, msg, (size_t)(n < (int)sizeof msg ? n : (int)sizeof msg - 1));
            _exit(1);
        }
        (void)!write(progress, "c", 1);
    }
}

/* ---- verification ------------------------------------------------------- */

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Every file in blobs/sha256 is named by the sha256 of its content. */
static size_t check_blob_files(const char *layout, int after_kill)
{
    char *dir = tu_join(layout, "blobs/sha256");
    DIR *dd = opendir(dir);
    assert_non_null(dd);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!is_hex64(e->d_name))
            print_error("after kill %d: blobs/sha256/%s is not a blob name (a temporary file a writable open "
                        "should have removed?)\n",
                        after_kill, e->d_name);
        assert_true(is_hex64(e->d_name));
        char *p = tu_join(dir, e->d_name);
        void *buf = NULL;
        ssize_t len = tu_read_file(p, &buf);
        assert_true(len >= 0);
        char dg[OCIDIR_DIGEST_MAX];
        assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, buf, (size_t)len, dg));
        if (strcmp(dg + 7, e->d_name) != 0)
            print_error("after kill %d: blobs/sha256/%s holds %zd bytes hashing to %s\n", after_kill, e->d_name,
                        len, dg);
        assert_string_equal(dg + 7, e->d_name);
        free(buf);
        free(p);
        n++;
    }
    closedir(dd);
    free(dir);
    return n;
}

static size_t read_layer_to_end(ocidir_image_t *img, size_t i, const char *tag, int after_kill)
{
    ocidir_layer_reader_t *r = NULL;
    assert_ocidir(0, ocidir_image_layer_open(img, i, &r));
    static unsigned char buf[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = ocidir_layer_reader_read(r, buf, sizeof buf)) > 0)
        total += (size_t)n;
    if (n != 0)
        print_error("after kill %d: tag %s layer %zu: read gave %zd (%s): %s\n", after_kill, tag, i, n,
                    ocidir_strerror((int)n), ocidir_last_error());
    assert_int_equal(n, 0);
    ocidir_layer_reader_close(r);
    /* A tar of one file: header, data, two zero blocks; all 512-multiples. */
    assert_true(total >= 512 + 1024);
    assert_int_equal(total % 512, 0);
    return total;
}

static void verify_layout(const char *layout, int after_kill, size_t *ntags_out, size_t *nblobs_out)
{
    ocidir_t *d = NULL;
    /* Writable: the open removes what a killed writer left behind. */
    int rc = ocidir_open(AT_FDCWD, layout, 0, &d);
    if (rc != 0)
        print_error("after kill %d: ocidir_open = %d: %s\n", after_kill, rc, ocidir_last_error());
    assert_int_equal(rc, 0);
    char **list = NULL;
    rc = ocidir_tag_list(d, &list);
    if (rc != 0)
        print_error("after kill %d: ocidir_tag_list = %d: %s\n", after_kill, rc, ocidir_last_error());
    assert_int_equal(rc, 0);
    size_t ntags = 0;
    for (; list[ntags]; ntags++) {
        const char *tag = list[ntags];
        char dg[OCIDIR_DIGEST_MAX];
        rc = ocidir_resolve(d, tag, dg, NULL, NULL);
        if (rc != 0)
            print_error("after kill %d: resolve(%s) = %d: %s\n", after_kill, tag, rc, ocidir_last_error());
        assert_int_equal(rc, 0);
        ocidir_image_t *img = NULL;
        rc = ocidir_image_open(d, tag, NULL, &img);
        if (rc != 0)
            print_error("after kill %d: image_open(%s) = %d: %s\n", after_kill, tag, rc, ocidir_last_error());
        assert_int_equal(rc, 0);
        char mdg[OCIDIR_DIGEST_MAX];
        assert_ocidir(0, ocidir_image_manifest(img, mdg, NULL, NULL));
        assert_string_equal(mdg, dg);
        size_t nl = ocidir_image_layer_count(img);
        if (!(nl >= 1 && nl <= (batched ? MAX_BATCH_LAYERS : 1)))
            print_error("after kill %d: tag %s has %zu layers\n", after_kill, tag, nl);
        assert_true(nl >= 1 && nl <= (batched ? MAX_BATCH_LAYERS : 1));
        for (size_t i = 0; i < nl; i++)
            read_layer_to_end(img, i, tag, after_kill);
        char **labels = NULL;
        assert_ocidir(0, ocidir_image_config_labels(img, &labels));
        assert_non_null(labels[0]);
        assert_string_equal(labels[0], "org.example.iteration");
        ocidir_strv_free(labels);
        ocidir_image_close(img);
    }
    ocidir_strv_free(list);
    /* fsck: nothing published refers to a missing or damaged blob. */
    ocidir_report_t *rep = NULL;
    rc = ocidir_fsck(d, NULL, &rep);
    if (rc != 0)
        print_error("after kill %d: fsck = %d: %s\n", after_kill, rc, ocidir_last_error());
    assert_int_equal(rc, 0);
    if (ocidir_report_damage(rep) != 0)
        print_error("after kill %d: fsck finds %zu damage findings\n", after_kill, ocidir_report_damage(rep));
    assert_int_equal(ocidir_report_damage(rep), 0);
    ocidir_report_free(rep);
    ocidir_close(d);
    size_t nblobs = check_blob_files(layout, after_kill);
    if (ntags_out)
        *ntags_out = ntags;
    if (nblobs_out)
        *nblobs_out = nblobs;
}

/* ---- the test ----------------------------------------------------------- */

static int wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    return n;
}

static void sleep_us(unsigned us)
{
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void run_kills(void)
{
    uint32_t seed = pick_seed();
    print_message("crash-commit%s seed %u (replay with OCIDIR_TEST_SEED=%u)\n", batched ? " (batched)" : "", seed,
                  seed);
    uint32_t rng = seed;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    /* One committed image before the first kill. */
    char err[1024];
    int rc = build_once(d, &rng, 0, "base", err, sizeof err);
    if (rc != 0)
        print_error("build_once: %s\n", err);
    assert_int_equal(rc, 0);
    ocidir_close(d);
    verify_layout(layout, -1, NULL, NULL);

    unsigned long commits = 0;
    int exited_early = 0;
    for (int k = 0; k < ITERATIONS; k++) {
        int progress[2], errp[2];
        assert_int_equal(pipe2(progress, O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
        uint32_t child_seed = rng_next(&rng);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(progress[0]);
            close(errp[0]);
            child_main(layout, child_seed, progress[1], errp[1]);
            _exit(2);
        }
        tu_defer_kill(pid);
        close(progress[1]);
        close(errp[1]);
        /* Every fifth kill lands only after a commit has completed in this
         * child, so commits certainly happen; the others at any moment. */
        if (k % 5 == 4) {
            int n = wait_readable(progress[0], 60000);
            if (n <= 0) {
                char msg[2048] = "";
                ssize_t m = read(errp[0], msg, sizeof msg - 1);
                if (m > 0)
                    msg[m] = '\0';
                print_error("kill %d: the child committed nothing within 60 s; %s\n", k, msg);
            }
            assert_true(n > 0);
        }
        unsigned delay = rng_next(&rng) % (MAX_DELAY_US + 1);
        sleep_us(delay);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        char c[256];
        ssize_t got;
        while ((got = read(progress[0], c, sizeof c)) > 0)
            commits += (unsigned long)got;
        close(progress[0]);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            /* The child stopped by itself: it hit an error. */
            char msg[2048] = "";
            ssize_t m = read(errp[0], msg, sizeof msg - 1);
            if (m > 0)
                msg[m] = '\0';
            print_error("kill %d (delay %u us): the child ended by itself (status %#x): %s\n", k, delay, status, msg);
            exited_early++;
        }
        close(errp[0]);
        assert_int_equal(exited_early, 0);
        verify_layout(layout, k, NULL, NULL);
    }
    size_t ntags = 0, nblobs = 0;
    verify_layout(layout, ITERATIONS, &ntags, &nblobs);
    print_message("crash-commit: %d kills, %lu commits completed, %zu tags, %zu blobs, all verified\n",
                  ITERATIONS, commits, ntags, nblobs);
    assert_true(commits >= ITERATIONS / 5);
    /* base plus at least one of the child's tags. */
    assert_true(ntags >= 2);
    /* What is left in the layout root besides the layout's own files. */
    char *l = tu_tree_listing(layout);
    for (char *line = strtok(l, "\n"); line; line = strtok(NULL, "\n")) {
        char *sp = strchr(line, ' ');
        if (sp)
            *sp = '\0';
        if (strchr(line + 1, '/') == NULL && strcmp(line, "/oci-layout") && strcmp(line, "/index.json") &&
            strcmp(line, "/blobs") && strcmp(line, "/.ocidir.lock") && strcmp(line, ""))
            print_message("note: left in the layout root: %s\n", line);
    }
    free(l);
}

static void test_sigkill_during_commits_leaves_only_complete_images(void **state)
{
    (void)state;
    batched = 0;
    run_kills();
}

static void test_sigkill_during_batched_commits_leaves_only_complete_images(void **state)
{
    (void)state;
    batched = 1;
    run_kills();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_sigkill_during_commits_leaves_only_complete_images),
        TEARDOWN(test_sigkill_during_batched_commits_leaves_only_complete_images),
    };
    return cmocka_run_group_tests_name("crash_commit", tests, NULL, NULL);
}
