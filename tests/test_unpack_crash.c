/* Crash safety of ocidir_unpack: a child process unpacks an image of some
 * 500 entries in three layers while the parent SIGKILLs it at a random
 * moment.  After every kill a new unpack into the same path must succeed,
 * the tree must equal the one an undisturbed unpack makes (type, mode, owner,
 * size, content, link target, mtime of every entry), and the report must say
 * whether a killed unpack's tree was cleared (OCIDIR_FIND_INCOMPLETE_CLEARED
 * exactly when the marker was there).
 *
 * The random schedule is seeded from OCIDIR_TEST_SEED when set, else from
 * the clock; the seed is printed so that a failure can be replayed. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tar_gen.h"

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_scratch)

#define ITERATIONS 10
#define LAYERS 3
#define DIRS 4
#define FILES_PER_DIR 40

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

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- The image ------------------------------------------------------------ */

/* Layer i: every directory listed, files of a few KiB (some 64 KiB), a
 * symlink and a hard link per directory; layer 1 overwrites, layer 2 adds a
 * whiteout of one of layer 0's files. */
static void make_layer(tg_tar_t *t, int layer)
{
    static unsigned char content[65536];
    tu_fill(content, sizeof content, 7u + (uint32_t)layer);
    char name[128], target[128];
    for (int d = 0; d < DIRS; d++) {
        snprintf(name, sizeof name, "dir%02d", d);
        tg_dir(t, name, 0755);
        for (int f = 0; f < FILES_PER_DIR; f++) {
            snprintf(name, sizeof name, "dir%02d/l%d-f%03d", d, layer, f);
            size_t len = (f % 17 == 0) ? sizeof content : (size_t)(100 + 37 * f);
            tg_entry(t, &(tg_entry_t){.name = name, .type = '0', .mode = 0640 + (unsigned)(f % 2) * 0100,
                                      .uid = (unsigned)f, .gid = (unsigned)d, .size = len, .mtime = 1000000000u + (unsigned)f,
                                      .data = content, .data_len = len});
        }
        snprintf(name, sizeof name, "dir%02d/link%d", d, layer);
        snprintf(target, sizeof target, "l%d-f001", layer);
        tg_symlink(t, name, target);
        snprintf(name, sizeof name, "dir%02d/hard%d", d, layer);
        snprintf(target, sizeof target, "dir%02d/l%d-f002", d, layer);
        tg_hardlink(t, name, target);
    }
    if (layer == 2)
        tg_file(t, "dir00/.wh.l0-f005", 0644, "");
    tg_end(t);
}

static void build_image(ocidir_t *d)
{
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, NULL, &b));
    for (int i = 0; i < LAYERS; i++) {
        tg_tar_t t;
        tg_init(&t);
        make_layer(&t, i);
        ocidir_layer_writer_t *w = NULL;
        assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 1, 1, &w));
        assert_ocidir(0, ocidir_layer_writer_write(w, t.buf, t.len));
        assert_ocidir(0, ocidir_builder_add_layer_writer(b, w, NULL));
        tg_free(&t);
    }
    assert_ocidir(0, ocidir_builder_commit(b, "t", 0, NULL));
    ocidir_builder_free(b);
}

/* ---- Comparing trees ------------------------------------------------------ */

/* nftw has no user pointer: the walk appends to this buffer. */
static char *g_sig;
static size_t g_sig_len, g_sig_cap;
static size_t g_root_len;

static void sig_append(const char *s)
{
    size_t n = strlen(s);
    if (g_sig_len + n + 1 > g_sig_cap) {
        g_sig_cap = (g_sig_len + n + 1) * 2;
        g_sig = realloc(g_sig, g_sig_cap);
        assert_non_null(g_sig);
    }
    memcpy(g_sig + g_sig_len, s, n + 1);
    g_sig_len += n;
}

static int sig_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    const char *rel = path + g_root_len;
    if (!*rel)
        return 0; /* the root itself: its times are the destination's */
    char line[8192], extra[4200] = "";
    if (S_ISREG(st->st_mode)) {
        void *buf = NULL;
        ssize_t n = tu_read_file(path, &buf);
        uint64_t h = 1469598103934665603ull;
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ ((unsigned char *)buf)[i]) * 1099511628211ull;
        free(buf);
        snprintf(extra, sizeof extra, "size=%lld fnv=%016llx nlink=%lu", (long long)st->st_size,
                 (unsigned long long)h, (unsigned long)st->st_nlink);
    } else if (S_ISLNK(st->st_mode)) {
        char t[4096];
        ssize_t n = readlink(path, t, sizeof t - 1);
        t[n < 0 ? 0 : n] = 0;
        snprintf(extra, sizeof extra, "-> %s", t);
    }
    snprintf(line, sizeof line, "%s mode=%o uid=%u gid=%u mtime=%lld.%09ld %s\n", rel, (unsigned)st->st_mode,
             (unsigned)st->st_uid, (unsigned)st->st_gid, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, extra);
    sig_append(line);
    return 0;
}

static int cmp_lines(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A malloc'd, sorted description of every entry below root. */
static char *tree_signature(const char *root)
{
    g_sig = NULL;
    g_sig_len = g_sig_cap = 0;
    g_root_len = strlen(root);
    sig_append("");
    assert_int_equal(nftw(root, sig_entry, 32, FTW_PHYS), 0);
    /* nftw's order is the directory's: sort the lines. */
    size_t n = 0;
    for (char *p = g_sig; *p; p++)
        n += *p == '\n';
    char **lines = calloc(n + 1, sizeof *lines);
    assert_non_null(lines);
    size_t i = 0;
    for (char *tok = strtok(g_sig, "\n"); tok; tok = strtok(NULL, "\n"))
        lines[i++] = tok;
    qsort(lines, i, sizeof *lines, cmp_lines);
    char *out = calloc(1, g_sig_len + 2);
    assert_non_null(out);
    for (size_t k = 0; k < i; k++) {
        strcat(out, lines[k]);
        strcat(out, "\n");
    }
    free(lines);
    free(g_sig);
    g_sig = NULL;
    return out;
}

/* ---- The test ------------------------------------------------------------- */

static int unpack_into(ocidir_t *d, const char *dest, ocidir_report_t **rep)
{
    ocidir_image_t *img = NULL;
    int rc = ocidir_image_open(d, "t", NULL, &img);
    if (rc != 0)
        return rc;
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.flags = OCIDIR_UNPACK_NO_SYNC; /* durability is not what is tested here; keep it fast */
    rc = ocidir_unpack(img, AT_FDCWD, dest, &o, rep);
    ocidir_image_close(img);
    return rc;
}

static size_t count_cleared(const ocidir_report_t *r)
{
    size_t n = 0;
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        assert_ocidir(0, ocidir_report_get(r, i, &k, NULL, NULL, NULL));
        n += k == OCIDIR_FIND_INCOMPLETE_CLEARED;
    }
    return n;
}

static void test_unpack_killed_at_random_points_is_reusable(void **state)
{
    (void)state;
    uint32_t seed = pick_seed();
    print_message("seed %u (OCIDIR_TEST_SEED=%u replays it)\n", seed, seed);
    char *layout = NULL;
    char *scratch = tu_scratch_dir("unpack-crash");
    ocidir_t *d = tu_scratch_layout(&layout);
    build_image(d);

    char *ref = tu_join(scratch, "ref");
    uint64_t t0 = now_us();
    assert_ocidir(0, unpack_into(d, ref, NULL));
    uint64_t duration = now_us() - t0;
    char *want = tree_signature(ref);
    print_message("reference unpack: %llu us\n", (unsigned long long)duration);

    char *dest = tu_join(scratch, "dest");
    char *marker = tu_join(dest, OCIDIR_UNPACK_MARKER);
    int killed_mid = 0, finished = 0, before_start = 0;
    for (int it = 0; it < ITERATIONS; it++) {
        /* The child runs the same unpack; it starts with fork's cost, so the
         * delay spans a little more than one undisturbed unpack. */
        uint64_t delay = rng_next(&seed) % (duration + duration / 4 + 1);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            ocidir_t *cd = NULL;
            if (ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &cd) != 0)
                _exit(3);
            int rc = unpack_into(cd, dest, NULL);
            ocidir_close(cd);
            _exit(rc == 0 ? 0 : 2);
        }
        tu_defer_kill(pid);
        struct timespec ts = {(time_t)(delay / 1000000u), (long)(delay % 1000000u) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(status)) {
            if (WEXITSTATUS(status) != 0)
                fail_msg("iteration %d: the child's unpack failed (status %d)", it, WEXITSTATUS(status));
            /* Finished before the kill: a complete tree, no marker. */
            assert_false(tu_exists(marker));
            char *got = tree_signature(dest);
            assert_string_equal(got, want);
            free(got);
            finished++;
        } else {
            assert_true(WIFSIGNALED(status));
            int had_marker = tu_exists(marker);
            if (!had_marker && tu_exists(dest))
                assert_int_equal(tu_count_entries(dest), 0); /* killed between mkdir and the marker */
            if (!had_marker)
                before_start++;
            else
                killed_mid++;
            ocidir_report_t *rep = NULL;
            int rc = unpack_into(d, dest, &rep);
            if (rc != 0)
                fail_msg("iteration %d (delay %llu us): the new unpack failed: %s", it, (unsigned long long)delay,
                         ocidir_last_error());
            /* The caller can tell: a notice exactly when a killed tree was there. */
            assert_int_equal(count_cleared(rep), had_marker ? 1 : 0);
            ocidir_report_free(rep);
            assert_false(tu_exists(marker));
            char *got = tree_signature(dest);
            if (strcmp(got, want) != 0)
                fail_msg("iteration %d (delay %llu us): the tree differs from the reference", it,
                         (unsigned long long)delay);
            free(got);
        }
        assert_int_equal(tu_sh("rm -rf '%s'", dest), 0);
    }
    print_message("%d killed mid-unpack, %d before the marker, %d finished first\n", killed_mid, before_start,
                  finished);
    if (killed_mid == 0)
        fail_msg("no kill landed while the unpack ran (reference unpack %llu us): the test proved nothing",
                 (unsigned long long)duration);
    free(want);
    free(marker);
    free(dest);
    free(ref);
    ocidir_close(d);
    free(layout);
    free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_unpack_killed_at_random_points_is_reusable),
    };
    if (geteuid() != 0) {
        fprintf(stderr, "test_unpack_crash: needs root (the image's owners); run as root\n");
        return 1;
    }
    return cmocka_run_group_tests_name("unpack_crash", tests, NULL, NULL);
}
