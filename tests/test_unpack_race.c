/* Unpacks under racing swaps.
 *
 * A racing process exchanges (renameat2 RENAME_EXCHANGE) directories inside
 * the destination — "a", "a/b", "c", and the opaque "c" of the upper layer —
 * with decoys: symlinks (absolute, and relative ones that climb out of the
 * destination) to bait directories beside it, each holding files of the
 * names the image writes.  Meanwhile the test unpacks a two-layer image
 * (files, nested directories, symlinks that point out, hard links, a
 * whiteout, an opaque directory, read-only directories whose modes are
 * applied in the final pass) into the destination, over and over.
 *
 * Whatever each unpack returns (0, or a documented code with a message), no
 * bait file or directory is ever created, changed or removed: inotify
 * watches every bait inode for writes, attribute changes, creations,
 * deletions and moves, and the listing of the bait tree (inode, size, mtime
 * in ns, mode) is the same after the race as before.
 *
 * OCIDIR_UNPACK_RACE_SECONDS sets how long it races (default 5).  Registered
 * with the openat2 resolver and with OCIDIR_FORCE_RESOLVE_FALLBACK=1. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plainutil.h"
#include "tar_gen.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define NCODES 21

/* The directories of the destination the racer swaps, and its decoys. */
static const char *const kSwapped[] = {"a", "a/b", "c", "c/d"};
#define NSWAP (sizeof kSwapped / sizeof kSwapped[0])

typedef struct {
    volatile int pause_req; /* test: racer, stop swapping */
    volatile int paused;    /* racer: stopped */
    volatile int quit;
    unsigned long long swaps, attempts;
} shared_t;

static shared_t *S;
static char *g_scratch, *g_dest, *g_bait, *g_decoys, *g_abs_bait;

static void make_bait(void)
{
    tu_mkdir(g_bait);
    const char *dirs[] = {"a", "a/b", "c", "c/d", NULL};
    for (size_t i = 0; dirs[i]; i++) {
        char *d = tu_join(g_bait, dirs[i]);
        tu_mkdir(d);
        /* The names the image writes, in every bait directory. */
        const char *files[] = {"f0", "f1", "f2", "h", "s", "keep", NULL};
        for (size_t j = 0; files[j]; j++) {
            char *p = tu_join(d, files[j]);
            tu_write_file(p, "bait", 4);
            assert_int_equal(chmod(p, 0600), 0);
            free(p);
        }
        free(d);
    }
    char *s = tu_join(g_bait, "secret");
    tu_write_file(s, "secret", 6);
    free(s);
}

/* decoys/<i>: a symlink out of the destination for kSwapped[i], placed at
 * dest/<kSwapped[i]> by an exchange.  Even ones absolute, odd ones relative
 * (climbing from where the decoy lands to the bait beside the destination). */
static void decoy_path(size_t i, char *out, size_t n) { snprintf(out, n, "%s/%zu", g_decoys, i); }

static void make_decoys(void)
{
    for (size_t i = 0; i < NSWAP; i++) {
        char p[4096], target[4096];
        decoy_path(i, p, sizeof p);
        if (i % 2 == 0) {
            snprintf(target, sizeof target, "%s/%s", g_abs_bait, kSwapped[i]);
        } else {
            /* dest/<x>/<y> is two levels deep: ../../ is the scratch dir. */
            snprintf(target, sizeof target, "../../bait/%s", kSwapped[i]);
        }
        tu_symlink(target, p);
    }
}

/* ---- the racer --------------------------------------------------------- */

static void racer(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    unsigned seed = 1;
    while (!S->quit) {
        if (S->pause_req) {
            S->paused = 1;
            while (S->pause_req && !S->quit)
                usleep(200);
            S->paused = 0;
            continue;
        }
        /* Bursts and lulls, so that some unpacks finish (and reach the
         * final pass over directory modes and times) while others meet the
         * decoys. */
        if (rand_r(&seed) % 8 == 0)
            usleep((useconds_t)(rand_r(&seed) % 80000));
        size_t i = (size_t)(rand_r(&seed) % NSWAP);
        /* The parent in the destination, reached without following any
         * symlink (a decoy swapped in above it must not make the racer
         * itself exchange bait): one component at a time, O_NOFOLLOW (no
         * openat2, which valgrind does not know). */
        char rel[256];
        snprintf(rel, sizeof rel, "%s", kSwapped[i]);
        char *slash = strrchr(rel, '/');
        const char *last = rel;
        int pfd = open(g_dest, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (slash) {
            *slash = 0;
            last = slash + 1;
            char *save = NULL;
            for (char *c = strtok_r(rel, "/", &save); c && pfd >= 0; c = strtok_r(NULL, "/", &save)) {
                int nfd = openat(pfd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                close(pfd);
                pfd = nfd;
            }
        }
        char decoy[4096];
        decoy_path(i, decoy, sizeof decoy);
        __atomic_add_fetch(&S->attempts, 1, __ATOMIC_RELAXED);
        if (pfd < 0) {
            sched_yield();
            continue;
        }
        if (syscall(SYS_renameat2, pfd, last, AT_FDCWD, decoy, RENAME_EXCHANGE) == 0) {
            __atomic_add_fetch(&S->swaps, 1, __ATOMIC_RELAXED);
            /* Leave the decoy in place a moment, then swap back (often
             * quickly, sometimes not at all before the next one). */
            if (rand_r(&seed) % 4)
                sched_yield();
            if (rand_r(&seed) % 8)
                syscall(SYS_renameat2, pfd, last, AT_FDCWD, decoy, RENAME_EXCHANGE);
        } else {
            sched_yield();
        }
        close(pfd);
    }
    _exit(0);
}

static void pause_racer(void)
{
    S->pause_req = 1;
    while (!S->paused)
        usleep(100);
}

static void resume_racer(void) { S->pause_req = 0; }

/* ---- the watch ---------------------------------------------------------- */

static int g_ifd = -1;

static void watch_tree(const char *dir)
{
    uint32_t mask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_DELETE_SELF |
                    IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO;
    int wd = inotify_add_watch(g_ifd, dir, mask);
    if (wd < 0)
        print_error("inotify_add_watch %s: %s\n", dir, strerror(errno));
    assert_true(wd >= 0);
    const char *const kids[] = {"f0", "f1", "f2", "h", "s", "keep", "secret", "a", "b", "c", "d", NULL};
    for (size_t i = 0; kids[i]; i++) {
        char *p = tu_join(dir, kids[i]);
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                watch_tree(p);
            else
                assert_true(inotify_add_watch(g_ifd, p, mask) >= 0);
        }
        free(p);
    }
}

/* Events seen on the bait (printed). */
static int drain_events(void)
{
    char buf[8192] __attribute__((aligned(8)));
    int n = 0;
    for (;;) {
        ssize_t len = read(g_ifd, buf, sizeof buf);
        if (len <= 0)
            break;
        for (char *p = buf; p < buf + len;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (!(ev->mask & IN_IGNORED)) {
                print_error("bait touched: wd %d mask 0x%x name '%s'\n", ev->wd, ev->mask, ev->len ? ev->name : "");
                n++;
            }
            p += sizeof *ev + ev->len;
        }
    }
    return n;
}

/* ---- the image ------------------------------------------------------------ */

static void add_layer(ocidir_builder_t *b, ocidir_t *d, const tg_tar_t *t)
{
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0, 1, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, t->buf, t->len));
    assert_ocidir(0, ocidir_builder_add_layer_writer(b, w, NULL));
}

static void build_image(ocidir_t *d)
{
    tg_tar_t l1, l2;
    tg_init(&l1);
    tg_init(&l2);
    char abs_target[4096];
    snprintf(abs_target, sizeof abs_target, "%s/secret", g_abs_bait);
    /* Layer 1: the swapped directories, filled; links pointing out. */
    tg_dir(&l1, "a", 0755);
    tg_dir(&l1, "a/b", 0555); /* read-only: filled, then its mode set last */
    tg_dir(&l1, "c", 0700);
    tg_dir(&l1, "c/d", 0755);
    char name[64];
    for (int round = 0; round < 6; round++) {
        for (size_t i = 0; i < NSWAP; i++) {
            for (int j = 0; j < 3; j++) {
                snprintf(name, sizeof name, "%s/f%d", kSwapped[i], j);
                if (round == 0) {
                    tg_entry(&l1, &(tg_entry_t){.name = name, .type = '0', .mode = 04755, .uid = 1000,
                                                .gid = 1000, .size = 5, .data = "hello", .data_len = 5});
                } else {
                    /* The same names again: replaced each round. */
                    tg_file(&l1, name, 0640, "again");
                }
            }
            snprintf(name, sizeof name, "%s/keep", kSwapped[i]);
            tg_file(&l1, name, 0644, "keep");
        }
    }
    for (size_t i = 0; i < NSWAP; i++) {
        char target[64];
        snprintf(name, sizeof name, "%s/h", kSwapped[i]);
        snprintf(target, sizeof target, "%s/f0", kSwapped[(i + 1) % NSWAP]);
        tg_hardlink(&l1, name, target);
        snprintf(name, sizeof name, "%s/s", kSwapped[i]);
        tg_symlink(&l1, name, i % 2 ? "../../../../bait/secret" : abs_target);
    }
    tg_end(&l1);
    /* Layer 2: a whiteout in a swapped directory, "c" made opaque and
     * refilled, more files replaced, times and modes set again. */
    tg_file(&l2, "a/.wh.f1", 0644, "");
    tg_file(&l2, "a/b/.wh.keep", 0644, "");
    tg_file(&l2, "c/.wh..wh..opq", 0644, "");
    tg_dir(&l2, "c", 0750);
    tg_dir(&l2, "c/d", 0500);
    for (int j = 0; j < 3; j++) {
        snprintf(name, sizeof name, "c/d/f%d", j);
        tg_file(&l2, name, 0600, "upper");
        snprintf(name, sizeof name, "a/b/f%d", j);
        tg_file(&l2, name, 0600, "upper");
    }
    tg_hardlink(&l2, "c/h", "a/b/f0");
    tg_end(&l2);

    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, NULL, &b));
    add_layer(b, d, &l1);
    add_layer(b, d, &l2);
    assert_ocidir(0, ocidir_builder_commit(b, "t", 0, NULL));
    ocidir_builder_free(b);
    tg_free(&l1);
    tg_free(&l2);
}

/* Remove what an unpack (and the racer) left: the destination, and the
 * decoys put back as they were. */
static void reset_world(void)
{
    tu_rm_rf(g_dest);
    tu_rm_rf(g_decoys);
    tu_mkdir(g_decoys);
    make_decoys();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_unpack_under_racing_swaps(void **state)
{
    (void)state;
    double seconds = 5;
    const char *env = getenv("OCIDIR_UNPACK_RACE_SECONDS");
    if (env && *env)
        seconds = atof(env);

    g_scratch = tu_scratch_dir("unpack-race");
    g_dest = tu_join(g_scratch, "dest");
    g_bait = tu_join(g_scratch, "bait");
    g_decoys = tu_join(g_scratch, "decoys");
    g_abs_bait = g_bait;
    make_bait();
    tu_mkdir(g_decoys);
    make_decoys();
    char *layout = NULL;
    ocidir_t *d = tu_scratch_layout(&layout);
    build_image(d);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "t", NULL, &img));

    /* An unraced unpack first: the image is valid and whole. */
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.flags = OCIDIR_UNPACK_NO_SYNC;
    assert_ocidir(0, ocidir_unpack(img, AT_FDCWD, g_dest, &o, NULL));
    reset_world();

    char *listing = tu_tree_listing(g_bait);
    g_ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(g_ifd >= 0);
    watch_tree(g_bait);

    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(S != MAP_FAILED);
    memset(S, 0, sizeof *S);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        racer();
    tu_defer_kill(pid);

    unsigned long long tally[NCODES] = {0}, runs = 0, bad = 0;
    char sample[NCODES][200];
    memset(sample, 0, sizeof sample);
    double end = now_s() + seconds;
    while (now_s() < end) {
        int rc = ocidir_unpack(img, AT_FDCWD, g_dest, &o, NULL);
        runs++;
        int c = -rc;
        if (c < 0 || c >= NCODES) {
            print_error("unpack returned %d\n", rc);
            bad++;
        } else {
            tally[c]++;
            if (rc != 0 && !sample[c][0])
                snprintf(sample[c], sizeof sample[c], "%s", ocidir_last_error());
            if (rc != 0 && !*ocidir_last_error()) {
                print_error("unpack returned %d without a message\n", rc);
                bad++;
            }
        }
        /* Documented for what the race makes: a parent that is no longer a
         * directory or leads out (FORMAT, ESCAPE), an entry gone (NOT_FOUND),
         * the destination changed under it (EXISTS), OS errors (IO). */
        if (rc != 0 && rc != OCIDIR_E_FORMAT && rc != OCIDIR_E_ESCAPE && rc != OCIDIR_E_NOT_FOUND &&
            rc != OCIDIR_E_EXISTS && rc != OCIDIR_E_IO) {
            print_error("unpack under race: %d (%s)\n", rc, ocidir_last_error());
            bad++;
        }
        pause_racer();
        int touched = drain_events();
        if (touched) {
            print_error("after run %llu (rc %d): %d events on the bait\n", runs, rc, touched);
            bad++;
        }
        reset_world();
        resume_racer();
        if (bad)
            break;
    }
    S->quit = 1;
    int st = 0;
    waitpid(pid, &st, 0);

    print_message("unpack race (%s): %llu unpacks, %llu swaps of %llu attempts\n",
                  getenv("OCIDIR_FORCE_RESOLVE_FALLBACK") ? "fallback resolver" : "openat2 where the kernel has it", runs, S->swaps,
                  S->attempts);
    for (int c = 0; c < NCODES; c++)
        if (tally[c])
            print_message("  rc %d: %llu%s%s\n", -c, tally[c], sample[c][0] ? "  e.g. " : "", sample[c]);
    assert_int_equal(bad, 0);
    assert_int_equal(drain_events(), 0);
    char *after = tu_tree_listing(g_bait);
    assert_string_equal(after, listing);
    /* The race happened: swaps landed while unpacks ran. */
    assert_true(S->swaps > 0);
    assert_true(runs > 1);
    /* Nothing new beside the destination. */
    assert_int_equal(tu_count_entries(g_scratch), 2); /* bait, decoys */
    free(after);
    free(listing);
    close(g_ifd);
    munmap(S, sizeof *S);
    ocidir_image_close(img);
    ocidir_close(d);
    free(layout);
    free(g_dest);
    free(g_bait);
    free(g_decoys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unpack_under_racing_swaps, tu_teardown_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
