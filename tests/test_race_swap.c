/* Layouts swapped under the library while it works.
 *
 * A racing process exchanges (renameat2 RENAME_EXCHANGE) one path of a layout
 * with a decoy over and over: a symlink, or a directory of symlinks, leading
 * outside the layout to bait files whose content is a valid copy of the real
 * blobs, index.json, oci-layout and index lock, so that following them would
 * succeed silently.  The paths: blobs/, blobs/sha256, one blob file (manifest,
 * config, layer), index.json, oci-layout, .ocidir.lock, the sha256/ of an
 * added blob directory, and the layout directory itself (exchanged with its
 * twin, the bait, after the handle is open).  Meanwhile a child process runs
 * every public operation in a loop.
 *
 * Each case asserts: no crash or hang; every call returns 0 with the right
 * data (digest-verified reads, content equal to the layout's) or a
 * documented error code with a message; no bait file or directory is ever
 * opened, read, written or changed by the operations or the racer (fanotify,
 * which names the process, for opens and reads when the suite runs as root,
 * inotify for the rest and for everything otherwise; and the listing of
 * everything outside the layout is the same before and after);
 * and once the swaps are undone the layout is whole (fsck clean, every blob
 * there with its content).
 *
 * The time each case races is OCIDIR_RACE_SECONDS (default 2.5); the
 * recorded run sets it higher.  The swaps and operations counted are printed
 * as "race swaps: C cases, S swaps, O operations, escapes E". */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define TEARDOWN(f) cmocka_unit_test_teardown(f, teardown_race)
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- What the operations are checked against ------------------------------ */

enum { B_MANIFEST, B_CONFIG, B_LAYER, B_RACE_MANIFEST, B_RACE_CONFIG, B_COUNT };

typedef struct {
    char digest[OCIDIR_DIGEST_MAX];
    void *buf;
    size_t len;
} blob_t;

/* One case's scratch world.  R/layout is the layout, R/bait the bait (a whole
 * valid twin of the layout), R/cache an added blob directory when the case
 * uses one.  Clones go to a scratch directory of their own. */
static struct {
    char *root, *layout, *bait, *cache, *clone_dir;
    blob_t b[B_COUNT];
    unsigned char *layer_plain;
    size_t layer_plain_len;
    int use_cache;
    int cache_fd;  /* the added blob directory, as the caller holds it */
    int layout_fd; /* the layout directory, held across a whole-layout swap */
    ocidir_t *h;   /* a handle opened before the race starts */
    int whole;     /* the whole layout is swapped: every call must succeed */
    int expect_escapes; /* the library must meet (and refuse) the decoy */
    double seconds;
} F;

/* Close what a case holds, even when it failed half way, then remove its
 * scratch tree (and stop its racer). */
static int teardown_race(void **state)
{
    ocidir_close(F.h);
    F.h = NULL;
    if (F.cache_fd >= 0)
        close(F.cache_fd);
    if (F.layout_fd >= 0)
        close(F.layout_fd);
    F.cache_fd = F.layout_fd = -1;
    return tu_teardown_keep(state);
}

static const char *const kPlatformTag = "base";
static const char *const kRaceTag = "race";
static const char *const kCreated = "2024-01-01T00:00:00Z";

/* ---- Tallies shared between the processes --------------------------------- */

enum {
    OP_OPEN, OP_STAT, OP_READ, OP_READ_ALL, OP_OPEN_FD, OP_TAG_LIST, OP_RESOLVE, OP_IMAGE, OP_LAYER_READ,
    OP_BUILD, OP_TAG_SET, OP_FSCK, OP_GC_DRY, OP_GC, OP_CLONE, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "open", "blob_stat", "blob_read", "blob_read_all", "blob_open_fd", "tag_list", "resolve", "image_open",
    "layer_read", "builder_commit", "tag_set", "fsck", "gc_dry_run", "gc", "clone"};
#define NCODES 16 /* OCIDIR_OK .. OCIDIR_E_AMBIGUOUS, as -code */

typedef struct {
    volatile int stop;                        /* racer: stop swapping */
    unsigned long long swaps;                 /* racer: exchanges done */
    unsigned long long rearms;                /* racer: decoys put back */
    int racer_errno;                          /* racer: why it stopped early */
    unsigned long long tally[OP_COUNT][NCODES];
    unsigned long long wrong;                 /* failures of the checks below */
    volatile int tally_escape_seen;           /* some call returned OCIDIR_E_ESCAPE */
    char first_wrong[1024];
    char sample[OP_COUNT][NCODES][160];       /* one message per (op, code) */
    volatile pid_t worker;                    /* the process running the operations */
} shared_t;

static shared_t *S;

static unsigned long long run_swaps, run_ops, run_cases, run_escapes;

static void wrong(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void wrong(const char *fmt, ...)
{
    if (S->wrong++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(S->first_wrong, sizeof S->first_wrong, fmt, ap);
        va_end(ap);
    }
}

/* Tally one call.  Under the race a call may fail, but only with a code the
 * API documents for what happened (the lookup met a symlink leading out:
 * ESCAPE; an entry found missing, or not a regular file, or an OS error) and
 * with a message saying so.  A whole-layout swap must not be noticed at all:
 * the handle works on the directory it opened. */
static int note(int op, int rc)
{
    int c = -rc;
    if (c < 0 || c >= NCODES) {
        wrong("%s returned %d, not an error code", op_names[op], rc);
        return rc;
    }
    S->tally[op][c]++;
    if (rc == OCIDIR_E_ESCAPE)
        S->tally_escape_seen = 1;
    if (rc == 0)
        return 0;
    const char *msg = ocidir_last_error();
    if (!S->sample[op][c][0])
        snprintf(S->sample[op][c], sizeof S->sample[op][c], "%s", msg);
    int allowed = !F.whole && (rc == OCIDIR_E_ESCAPE || rc == OCIDIR_E_NOT_FOUND ||
                               rc == OCIDIR_E_FORMAT || rc == OCIDIR_E_IO);
    if (!allowed)
        wrong("%s failed with %d (%s): %s", op_names[op], rc, ocidir_strerror(rc), msg);
    else if (!*msg)
        wrong("%s failed with %d (%s) and no message", op_names[op], rc, ocidir_strerror(rc));
    return rc;
}

static int same(const void *a, size_t alen, const blob_t *want)
{
    return alen == want->len && memcmp(a, want->buf, alen) == 0;
}

/* ---- The operations -------------------------------------------------------- */

/* Read a whole blob through a reader; the clean end (0) is the reader's
 * statement that the content hashed to its digest. */
static void op_blob_read(ocidir_t *d, const blob_t *b)
{
    ocidir_blob_reader_t *r = NULL;
    if (note(OP_READ, ocidir_blob_open(d, b->digest, (int64_t)b->len, &r)) != 0)
        return;
    unsigned char *buf = malloc(b->len + 1);
    size_t got = 0;
    ssize_t n;
    while ((n = ocidir_blob_reader_read(r, buf + got, b->len + 1 - got)) > 0)
        got += (size_t)n;
    if (note(OP_READ, n < 0 ? (int)n : 0) == 0 && !same(buf, got, b))
        wrong("blob_read of %s: %zu bytes differing from the layout's %zu", b->digest, got, b->len);
    free(buf);
    ocidir_blob_reader_close(r);
}

static void op_blob_open_fd(ocidir_t *d, const blob_t *b)
{
    int fd = -1;
    if (note(OP_OPEN_FD, ocidir_blob_open_fd(d, b->digest, &fd)) != 0)
        return;
    unsigned char *buf = malloc(b->len + 1);
    size_t got = 0;
    ssize_t n;
    while ((n = pread(fd, buf + got, b->len + 1 - got, (off_t)got)) > 0)
        got += (size_t)n;
    if (!same(buf, got, b))
        wrong("blob_open_fd of %s gave a file of %zu bytes differing from the layout's blob", b->digest, got);
    free(buf);
    close(fd);
}

static void op_layer_read(const ocidir_image_t *img)
{
    ocidir_layer_reader_t *r = NULL;
    if (note(OP_LAYER_READ, ocidir_image_layer_open(img, 0, &r)) != 0)
        return;
    unsigned char *buf = malloc(F.layer_plain_len + 1);
    size_t got = 0;
    ssize_t n;
    while ((n = ocidir_layer_reader_read(r, buf + got, F.layer_plain_len + 1 - got)) > 0)
        got += (size_t)n;
    if (note(OP_LAYER_READ, n < 0 ? (int)n : 0) == 0 &&
        (got != F.layer_plain_len || memcmp(buf, F.layer_plain, got) != 0))
        wrong("layer_read: %zu bytes differing from the %zu written", got, F.layer_plain_len);
    free(buf);
    ocidir_layer_reader_close(r);
}

static void op_image(ocidir_t *d)
{
    ocidir_image_t *img = NULL;
    if (note(OP_IMAGE, ocidir_image_open(d, kPlatformTag, NULL, &img)) != 0)
        return;
    char dg[OCIDIR_DIGEST_MAX], cdg[OCIDIR_DIGEST_MAX], ldg[OCIDIR_DIGEST_MAX];
    const void *m = NULL;
    size_t mlen = 0;
    if (ocidir_image_manifest(img, dg, &m, &mlen) != 0 || strcmp(dg, F.b[B_MANIFEST].digest) != 0 ||
        !same(m, mlen, &F.b[B_MANIFEST]))
        wrong("image_open(%s) gave another manifest", kPlatformTag);
    if (ocidir_image_config_descriptor(img, NULL, cdg, NULL) != 0 || strcmp(cdg, F.b[B_CONFIG].digest) != 0)
        wrong("image_open(%s) gave another config", kPlatformTag);
    if (ocidir_image_layer_count(img) != 1 || ocidir_image_layer(img, 0, NULL, ldg, NULL) != 0 ||
        strcmp(ldg, F.b[B_LAYER].digest) != 0)
        wrong("image_open(%s) gave other layers", kPlatformTag);
    op_layer_read(img);
    ocidir_image_close(img);
}

/* The same builder steps as the fixture: the same digests every time. */
static int build_race(ocidir_t *d, char digest[OCIDIR_DIGEST_MAX])
{
    ocidir_builder_t *b = NULL;
    int rc = ocidir_builder_from(d, kPlatformTag, NULL, &b);
    if (rc == 0)
        rc = ocidir_builder_set_label(b, "org.example.race", "1");
    if (rc == 0)
        rc = ocidir_builder_commit(b, kRaceTag, 0, digest);
    ocidir_builder_free(b);
    return rc;
}

/* A report must not say that a blob was removed: every blob of the layout is
 * referenced, so removing one would lose it. */
static void check_no_blob_removed(ocidir_report_t *r, const char *op)
{
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *subject = NULL, *msg = NULL;
        ocidir_report_get(r, i, &k, &subject, NULL, &msg);
        if (k == OCIDIR_FIND_REMOVED && ocidir_digest_validate(subject) == 0)
            wrong("%s removed referenced blob %s: %s", op, subject, msg);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The worker: every public operation in a loop until the time is up. */
static int run_operations(void *arg)
{
    (void)arg;
    S->worker = getpid();
    ocidir_t *h = F.h;
    const double end = now_s() + F.seconds;
    /* At least a few rounds, however slow the build (sanitizers), and, on a
     * machine so loaded that no lookup met the swapped state in time, more
     * rounds until one did (up to four times as long). */
    for (unsigned long iter = 0;; iter++) {
        double t = now_s();
        if (iter >= 3 && t >= end &&
            (!F.expect_escapes || S->tally_escape_seen || t >= end + 3 * F.seconds))
            break;
        /* A fresh open: by path, or through the held fd when the whole
         * layout is being swapped (its path then names either twin). */
        ocidir_t *o = NULL;
        unsigned flags = (iter & 1) ? OCIDIR_OPEN_RDONLY : 0;
        if (note(OP_OPEN, F.whole ? ocidir_open(F.layout_fd, NULL, flags, &o)
                                  : ocidir_open(AT_FDCWD, F.layout, flags, &o)) == 0) {
            if (F.use_cache && ocidir_add_blobdir_fd(o, F.cache_fd, 0) != 0)
                wrong("add_blobdir_fd: %s", ocidir_last_error());
            char dg[OCIDIR_DIGEST_MAX];
            if (note(OP_RESOLVE, ocidir_resolve(o, kRaceTag, dg, NULL, NULL)) == 0 &&
                strcmp(dg, F.b[B_RACE_MANIFEST].digest) != 0)
                wrong("resolve(%s) on a fresh handle gave %s", kRaceTag, dg);
            ocidir_close(o);
        }

        for (int i = 0; i < B_COUNT; i++) {
            const blob_t *b = &F.b[i];
            uint64_t size = 0;
            if (note(OP_STAT, ocidir_blob_stat(h, b->digest, &size)) == 0 && size != b->len)
                wrong("blob_stat(%s) = %llu bytes, not %zu", b->digest, (unsigned long long)size, b->len);
            op_blob_read(h, b);
            void *buf = NULL;
            size_t len = 0;
            if (note(OP_READ_ALL, ocidir_blob_read_all(h, b->digest, -1, b->len, &buf, &len)) == 0 &&
                !same(buf, len, b))
                wrong("blob_read_all(%s) gave other content", b->digest);
            ocidir_free(buf);
            op_blob_open_fd(h, b);
        }

        char **tags = NULL;
        if (note(OP_TAG_LIST, ocidir_tag_list(h, &tags)) == 0) {
            int n = 0, base = 0, race = 0;
            for (; tags[n]; n++) {
                base |= strcmp(tags[n], kPlatformTag) == 0;
                race |= strcmp(tags[n], kRaceTag) == 0;
            }
            if (n != 2 || !base || !race)
                wrong("tag_list gave %d tags, not exactly %s and %s", n, kPlatformTag, kRaceTag);
            ocidir_strv_free(tags);
        }
        char dg[OCIDIR_DIGEST_MAX];
        if (note(OP_RESOLVE, ocidir_resolve(h, kPlatformTag, dg, NULL, NULL)) == 0 &&
            strcmp(dg, F.b[B_MANIFEST].digest) != 0)
            wrong("resolve(%s) gave %s", kPlatformTag, dg);

        op_image(h);

        if (note(OP_BUILD, build_race(h, dg)) == 0 && strcmp(dg, F.b[B_RACE_MANIFEST].digest) != 0)
            wrong("builder_commit gave %s, not %s", dg, F.b[B_RACE_MANIFEST].digest);
        note(OP_TAG_SET, ocidir_tag_set(h, kRaceTag, F.b[B_RACE_MANIFEST].digest, 0));

        ocidir_report_t *r = NULL;
        if (note(OP_FSCK, ocidir_fsck(h, TU_FSCK(0, 1, NULL, NULL), &r)) == 0 && F.whole && ocidir_report_damage(r) != 0)
            wrong("fsck found damage while only the layout's path was being swapped");
        ocidir_report_free(r);
        r = NULL;
        if (note(OP_GC_DRY, ocidir_gc(h, TU_GC(OCIDIR_GC_DRY_RUN, NULL, NULL), &r)) == 0)
            check_no_blob_removed(r, "gc dry run");
        ocidir_report_free(r);
        r = NULL;
        if (note(OP_GC, ocidir_gc(h, NULL, &r)) == 0)
            check_no_blob_removed(r, "gc");
        ocidir_report_free(r);

        char name[64];
        snprintf(name, sizeof name, "clone-%lu", iter);
        char *dest = tu_join(F.clone_dir, name);
        ocidir_t *c = NULL;
        if (note(OP_CLONE, ocidir_clone(h, AT_FDCWD, dest, NULL, &c, NULL)) == 0) {
            if (ocidir_resolve(c, kRaceTag, dg, NULL, NULL) != 0 || strcmp(dg, F.b[B_RACE_MANIFEST].digest) != 0)
                wrong("the clone does not resolve %s to %s", kRaceTag, F.b[B_RACE_MANIFEST].digest);
            ocidir_close(c);
        }
        tu_rm_rf(dest);
        free(dest);
    }
    return 0;
}

/* ---- The racer --------------------------------------------------------------- */

/* Exchange a and b until told to stop, then once more if needed so that
 * every name is back where it started.
 *
 * With rearm_target set, b is a symlink the library may replace: an
 * index.json update renames its new file over whatever the name holds, the
 * decoy included (never writing through it).  From then on both names would
 * hold real files and the race would have no teeth, so in the unswapped
 * state the racer puts the newer file back at a and the symlink back at b. */
static pid_t start_racer(const char *a, const char *b, const char *rearm_target)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned long long n = 0;
        int failures = 0;
        while (!S->stop || (n & 1)) {
            if (rearm_target && !(n & 63)) {
                struct stat sa, sb;
                if (lstat(b, &sb) == 0 && S_ISREG(sb.st_mode) && lstat(a, &sa) == 0) {
                    int newer = sb.st_mtim.tv_sec > sa.st_mtim.tv_sec ||
                                (sb.st_mtim.tv_sec == sa.st_mtim.tv_sec && sb.st_mtim.tv_nsec > sa.st_mtim.tv_nsec);
                    if ((newer ? rename(b, a) : unlink(b)) != 0 || symlink(rearm_target, b) != 0) {
                        S->racer_errno = errno;
                        break;
                    }
                    S->rearms++;
                }
            }
            if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0) {
                S->racer_errno = errno;
                if (!(n & 1) || ++failures > 1000)
                    break;
                continue; /* must undo the last swap */
            }
            n++;
        }
        S->swaps = n;
        _exit(0);
    }
    tu_defer_kill(pid);
    return pid;
}

/* ---- Bait watching --------------------------------------------------------- */

#define MAX_WATCHES 64
static struct {
    int fd;
    int fan; /* fanotify for opens and reads, which name the process; -1 without */
    pid_t racer;
    int used_fan; /* the last watch_bait() got fanotify */
    int n;
    int wd[MAX_WATCHES];
    char *path[MAX_WATCHES];
} W;

static int collect_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    if (W.n == MAX_WATCHES)
        return 1;
    W.path[W.n++] = strdup(path);
    return 0;
}

/* Watch every bait inode.  The paths are collected first: the walk itself
 * opens and reads the bait directories, which must not count. */
static void watch_bait(void)
{
    W.n = 0;
    assert_int_equal(nftw(F.bait, collect_one, 16, FTW_PHYS), 0);
    assert_true(W.n >= 4 + B_COUNT);
    W.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(W.fd >= 0);
    /* Opens and reads through fanotify where it is allowed (root): its
     * events name the process, so that another program walking the scratch
     * directory (a backup, an indexer, a cleanup of the temporary directory)
     * is told apart from the operations and the racer.  inotify otherwise. */
    W.fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_CLOEXEC | O_LARGEFILE);
    for (int i = 0; W.fan >= 0 && i < W.n; i++) {
        if (fanotify_mark(W.fan, FAN_MARK_ADD | FAN_MARK_DONT_FOLLOW,
                          FAN_OPEN | FAN_ACCESS | FAN_CLOSE_NOWRITE | FAN_ONDIR, AT_FDCWD, W.path[i]) != 0) {
            print_error("fanotify_mark %s: %s; watching with inotify alone\n", W.path[i], strerror(errno));
            close(W.fan);
            W.fan = -1;
        }
    }
    /* Any opening, reading, writing or attribute change of a bait inode,
     * and any entry created, removed or renamed in a bait directory. */
    W.used_fan = W.fan >= 0;
    uint32_t mask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_DELETE_SELF |
                    IN_MOVED_FROM | IN_MOVED_TO | IN_DONT_FOLLOW;
    if (W.fan < 0)
        mask |= IN_OPEN | IN_ACCESS;
    for (int i = 0; i < W.n; i++) {
        W.wd[i] = inotify_add_watch(W.fd, W.path[i], mask);
        if (W.wd[i] < 0)
            print_error("inotify_add_watch %s: %s\n", W.path[i], strerror(errno));
        assert_true(W.wd[i] >= 0);
    }
}

/* Every event on the bait since watch_bait(), printed; their number. */
static unsigned long long bait_events(void)
{
    unsigned long long n = 0;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t len;
    while ((len = read(W.fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            const char *where = "?";
            for (int i = 0; i < W.n; i++)
                if (W.wd[i] == e->wd)
                    where = W.path[i];
            print_error("bait touched: %s%s%s mask=%#x\n", where, e->len ? "/" : "", e->len ? e->name : "",
                        e->mask);
            n++;
            p += sizeof *e + e->len;
        }
    }
    close(W.fd);
    if (W.fan >= 0) {
        char fbuf[4096] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
        while ((len = read(W.fan, fbuf, sizeof fbuf)) > 0) {
            const struct fanotify_event_metadata *m = (const struct fanotify_event_metadata *)fbuf;
            for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
                char link[64], where[4096] = "?";
                if (m->fd >= 0) {
                    snprintf(link, sizeof link, "/proc/self/fd/%d", m->fd);
                    ssize_t k = readlink(link, where, sizeof where - 1);
                    where[k > 0 ? k : 0] = '\0';
                    close(m->fd);
                }
                if (m->pid == S->worker || m->pid == W.racer) {
                    print_error("bait touched by %s (pid %d): %s mask=%#llx\n",
                                m->pid == W.racer ? "the racer" : "the operations", (int)m->pid, where,
                                (unsigned long long)m->mask);
                    n++;
                } else {
                    printf("    (not counted: pid %d, another program, opened or read %s)\n", (int)m->pid, where);
                }
            }
        }
        close(W.fan);
        W.fan = -1;
    }
    for (int i = 0; i < W.n; i++)
        free(W.path[i]);
    W.n = 0;
    return n;
}

/* The listing of the scratch root without the layout, the added blob
 * directory (the library's to write) and the root's own line (its mtime
 * moves with a whole-layout swap): what lies outside the layout. */
static char *outside_listing(void)
{
    char *all = tu_tree_listing(F.root);
    char *out = malloc(strlen(all) + 1);
    size_t off = 0;
    for (char *save = NULL, *l = strtok_r(all, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, " mode=", 6) == 0 || strncmp(l, "/layout ", 8) == 0 || strncmp(l, "/layout/", 8) == 0 ||
            strncmp(l, "/cache ", 7) == 0 || strncmp(l, "/cache/", 7) == 0)
            continue;
        off += (size_t)sprintf(out + off, "%s\n", l);
    }
    out[off] = '\0';
    free(all);
    return out;
}

/* ---- Fixture ----------------------------------------------------------------- */

static void read_blob(ocidir_t *d, blob_t *b)
{
    void *got = NULL;
    assert_ocidir(0, ocidir_blob_read_all(d, b->digest, -1, 1 << 24, &got, &b->len));
    b->buf = tu_keep(malloc(b->len ? b->len : 1));
    memcpy(b->buf, got, b->len);
    ocidir_free(got);
    char check[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, b->buf, b->len, check));
    assert_string_equal(check, b->digest);
}

static void copy_into(const char *dir, const char *name, const void *buf, size_t len)
{
    char *p = tu_join(dir, name);
    tu_write_file(p, buf, len);
    free(p);
}

/* A layout with image "base" (one gzip layer) and image "race" built from
 * it, every blob read back, and the bait: a valid twin of the layout. */
static void make_fixture(int use_cache, int whole)
{
    const char *env = getenv("OCIDIR_RACE_SECONDS");
    F.seconds = env && *env ? atof(env) : 2.5;
    if (F.seconds <= 0)
        F.seconds = 2.5;
    F.use_cache = use_cache;
    F.whole = whole;
    F.root = tu_keep(tu_scratch_dir("race"));
    F.clone_dir = tu_keep(tu_scratch_dir("race-clone"));
    F.layout = tu_keep(tu_join(F.root, "layout"));
    F.bait = tu_keep(tu_join(F.root, "bait"));
    F.cache = tu_keep(tu_join(F.root, "cache"));
    F.cache_fd = F.layout_fd = -1;

    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, F.layout, OCIDIR_OPEN_CREATE, &d));
    if (use_cache) {
        tu_mkdir(F.cache);
        char *sha = tu_join(F.cache, "sha256");
        tu_mkdir(sha);
        free(sha);
        F.cache_fd = open(F.cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(F.cache_fd >= 0);
        assert_ocidir(0, ocidir_add_blobdir_fd(d, F.cache_fd, OCIDIR_BLOBDIR_WRITE));
    }
    F.layer_plain_len = 192 * 1024;
    F.layer_plain = tu_keep(malloc(F.layer_plain_len));
    tu_fill(F.layer_plain, F.layer_plain_len / 2, 7);
    memset(F.layer_plain + F.layer_plain_len / 2, 'r', F.layer_plain_len / 2);
    ocidir_layer_writer_t *lw = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0, 1, &lw));
    assert_ocidir(0, ocidir_layer_writer_write(lw, F.layer_plain, F.layer_plain_len));
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, NULL, &b));
    assert_ocidir(0, ocidir_builder_set_created(b, kCreated));
    assert_ocidir(0, ocidir_builder_add_layer_writer(b, lw, "race layer"));
    assert_ocidir(0, ocidir_builder_commit(b, kPlatformTag, 0, F.b[B_MANIFEST].digest));
    ocidir_builder_free(b);
    assert_ocidir(0, build_race(d, F.b[B_RACE_MANIFEST].digest));

    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, kPlatformTag, NULL, &img));
    assert_ocidir(0, ocidir_image_config_descriptor(img, NULL, F.b[B_CONFIG].digest, NULL));
    assert_ocidir(0, ocidir_image_layer(img, 0, NULL, F.b[B_LAYER].digest, NULL));
    ocidir_image_close(img);
    assert_ocidir(0, ocidir_image_open(d, kRaceTag, NULL, &img));
    assert_ocidir(0, ocidir_image_config_descriptor(img, NULL, F.b[B_RACE_CONFIG].digest, NULL));
    ocidir_image_close(img);
    for (int i = 0; i < B_COUNT; i++)
        read_blob(d, &F.b[i]);
    ocidir_close(d);

    /* The bait: oci-layout, index.json and every blob, byte for byte. */
    tu_mkdir(F.bait);
    char *bb = tu_join(F.bait, "blobs"), *bs = tu_join(F.bait, "blobs/sha256");
    tu_mkdir(bb);
    tu_mkdir(bs);
    static const char *const top[] = {"oci-layout", "index.json", ".ocidir.lock"};
    for (size_t i = 0; i < N(top); i++) {
        char *p = tu_join(F.layout, top[i]);
        void *buf = NULL;
        ssize_t n = tu_read_file(p, &buf);
        assert_true(n >= 0);
        copy_into(F.bait, top[i], buf, (size_t)n);
        free(buf);
        free(p);
    }
    for (int i = 0; i < B_COUNT; i++)
        copy_into(bs, tu_hex(F.b[i].digest), F.b[i].buf, F.b[i].len);
    free(bb);
    free(bs);

    /* The handle the worker keeps, opened before any swap. */
    assert_ocidir(0, ocidir_open(AT_FDCWD, F.layout, 0, &F.h));
    if (use_cache)
        assert_ocidir(0, ocidir_add_blobdir_fd(F.h, F.cache_fd, OCIDIR_BLOBDIR_WRITE));
    assert_ocidir(0, ocidir_set_gc_grace(F.h, 0));
    F.layout_fd = open(F.layout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(F.layout_fd >= 0);
}

/* A directory of symlinks named like the blobs, each leading to its bait
 * copy: target_dir "/" hex. */
static void make_link_dir(const char *dir, const char *target_dir)
{
    tu_mkdir(dir);
    for (int i = 0; i < B_COUNT; i++) {
        char *link = tu_join(dir, tu_hex(F.b[i].digest));
        char *target = tu_join(target_dir, tu_hex(F.b[i].digest));
        tu_symlink(target, link);
        free(target);
        free(link);
    }
}

/* ---- One case ------------------------------------------------------------------ */

/* Once per run: the watch sees the operations' process read a bait file
 * (a watch that saw nothing would pass every case). */
static void check_watcher(void)
{
    static int done;
    if (done++)
        return;
    memset(S, 0, sizeof *S);
    watch_bait();
    char *file = tu_join(F.bait, "oci-layout");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        S->worker = getpid();
        char c;
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        _exit(fd >= 0 && read(fd, &c, 1) == 1 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unsigned long long n = bait_events();
    printf("watcher self-check: reading %s in the operations' process gave %llu event(s) (%s)\n", file, n,
           W.used_fan ? "fanotify for opens and reads" : "inotify");
    free(file);
    assert_true(n >= 1);
    memset(S, 0, sizeof *S);
}

static void race(const char *name, const char *swap, const char *decoy, const char *rearm_target,
                 int expect_escapes)
{
    check_watcher();
    char *before = tu_keep(outside_listing());
    memset(S, 0, sizeof *S);
    F.expect_escapes = expect_escapes;
    watch_bait();

    double t0 = now_s();
    pid_t racer = start_racer(swap, decoy, rearm_target);
    W.racer = racer;
    int result = -1;
    int rc = tu_run_in_child(run_operations, NULL, (unsigned)F.seconds + 120, &result);
    S->stop = 1;
    int status = 0;
    assert_int_equal(waitpid(racer, &status, 0), racer);
    double t1 = now_s();

    unsigned long long events = bait_events();
    char *after = tu_keep(outside_listing());
    unsigned long long ops = 0, ok = 0, escapes_seen = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        ops += S->tally[op][0];
        ok += S->tally[op][0];
        escapes_seen += S->tally[op][-OCIDIR_E_ESCAPE];
        for (int c = 1; c < NCODES; c++)
            ops += S->tally[op][c];
    }
    printf("race %-14s %8llu swaps, %7llu operations in %.1f s (ok %llu, escape refused %llu)", name, S->swaps,
           ops, t1 - t0, ok, escapes_seen);
    if (rearm_target)
        printf(", decoy replaced by an index update and put back %llu times", S->rearms);
    printf("\n");
    for (int op = 0; op < OP_COUNT; op++)
        for (int c = 1; c < NCODES; c++)
            if (S->tally[op][c])
                printf("    %-15s %-20s x%-6llu e.g. %s\n", op_names[op], ocidir_strerror(-c), S->tally[op][c],
                       S->sample[op][c]);
    fflush(stdout);

    int listing_differs = strcmp(before, after) != 0;
    if (listing_differs)
        print_error("outside the layout, before:\n%s\nafter:\n%s\n", before, after);
    run_cases++;
    run_swaps += S->swaps;
    run_ops += ops;
    run_escapes += events + (unsigned long long)listing_differs;

    if (rc != 0)
        print_error("the operations %s\n", rc == -1 ? "hung (killed after the timeout)" : "crashed");
    assert_int_equal(rc, 0);
    assert_int_equal(result, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (S->racer_errno)
        print_error("the racer stopped: %s\n", strerror(S->racer_errno));
    assert_int_equal(S->racer_errno, 0);
    if (S->wrong)
        print_error("%llu wrong results; first: %s\n", S->wrong, S->first_wrong);
    assert_int_equal(S->wrong, 0);
    assert_int_equal(events, 0);
    assert_false(listing_differs);
    /* The race was real: many swaps, and the library met the swapped state
     * (it refused to follow the decoy) while still getting work done. */
    assert_true(S->swaps >= 100);
    assert_true(ok > 0);
    if (expect_escapes)
        assert_true(escapes_seen > 0);

    /* Swapped back, the layout is whole: nothing inside was lost or
     * half-written, and the handle still works. */
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, F.layout, OCIDIR_OPEN_RDONLY, &d));
    if (F.use_cache)
        assert_ocidir(0, ocidir_add_blobdir_fd(d, F.cache_fd, 0));
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_fsck(d, TU_FSCK(0, 1, NULL, NULL), &r));
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *subject, *msg;
        ocidir_report_get(r, i, &k, &subject, NULL, &msg);
        if (k <= OCIDIR_FIND_IO)
            print_error("fsck after the race: %s %s: %s\n", ocidir_find_kind_name(k), subject, msg);
    }
    assert_int_equal(ocidir_report_damage(r), 0);
    ocidir_report_free(r);
    for (int i = 0; i < B_COUNT; i++) {
        void *buf = NULL;
        size_t len = 0;
        assert_ocidir(0, ocidir_blob_read_all(d, F.b[i].digest, (int64_t)F.b[i].len, F.b[i].len, &buf, &len));
        assert_true(same(buf, len, &F.b[i]));
        ocidir_free(buf);
    }
    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_resolve(d, kRaceTag, dg, NULL, NULL));
    assert_string_equal(dg, F.b[B_RACE_MANIFEST].digest);
    ocidir_close(d);
    assert_ocidir(0, ocidir_resolve(F.h, kPlatformTag, dg, NULL, NULL));
    assert_string_equal(dg, F.b[B_MANIFEST].digest);
}

/* Swap `rel` (under the layout) with a symlink `decoy_rel` (under the
 * layout) whose target is `target`, relative as given or, starting with
 * "@/", absolute under the scratch root. */
static void race_with_symlink(const char *name, const char *rel, const char *decoy_rel, const char *target,
                              int rearm)
{
    char *swap = tu_join(F.layout, rel), *decoy = tu_join(F.layout, decoy_rel);
    char *abs = target[0] == '@' ? tu_join(F.root, target + 2) : strdup(target);
    tu_symlink(abs, decoy);
    race(name, swap, decoy, rearm ? abs : NULL, 1);
    free(abs);
    free(swap);
    free(decoy);
}

static void test_blobs_dir_swapped_with_symlink_out(void **state)
{
    (void)state;
    make_fixture(0, 0);
    race_with_symlink("blobs", "blobs", ".race-decoy-blobs", "../bait/blobs", 0);
}

static void test_blobs_sha256_swapped_with_dir_of_symlinks_out(void **state)
{
    (void)state;
    make_fixture(0, 0);
    char *swap = tu_join(F.layout, "blobs/sha256"), *decoy = tu_join(F.layout, "blobs/.race-decoy-sha256");
    /* Relative links: from <layout>/blobs/<dir>/ three levels up is the
     * scratch root, where the bait lies. */
    make_link_dir(decoy, "../../../bait/blobs/sha256");
    race("blobs/sha256", swap, decoy, NULL, 1);
    free(swap);
    free(decoy);
}

static void blob_case(const char *name, int which)
{
    make_fixture(0, 0);
    char rel[128], target[160];
    snprintf(rel, sizeof rel, "blobs/sha256/%s", tu_hex(F.b[which].digest));
    snprintf(target, sizeof target, "@/bait/blobs/sha256/%s", tu_hex(F.b[which].digest));
    race_with_symlink(name, rel, "blobs/sha256/.race-decoy", target, 0);
}

static void test_manifest_blob_swapped_with_symlink_out(void **state)
{
    (void)state;
    blob_case("manifest blob", B_MANIFEST);
}

static void test_config_blob_swapped_with_symlink_out(void **state)
{
    (void)state;
    blob_case("config blob", B_CONFIG);
}

static void test_layer_blob_swapped_with_symlink_out(void **state)
{
    (void)state;
    blob_case("layer blob", B_LAYER);
}

static void test_index_json_swapped_with_symlink_out(void **state)
{
    (void)state;
    make_fixture(0, 0);
    race_with_symlink("index.json", "index.json", ".race-decoy-index.json", "@/bait/index.json", 1);
}

static void test_oci_layout_swapped_with_symlink_out(void **state)
{
    (void)state;
    make_fixture(0, 0);
    race_with_symlink("oci-layout", "oci-layout", ".race-decoy-oci-layout", "../bait/oci-layout", 0);
}

/* The index lock is opened with O_CREAT for writing: a symlink swapped in
 * must not make it create or open anything where the link leads. */
static void test_index_lock_swapped_with_symlink_out(void **state)
{
    (void)state;
    make_fixture(0, 0);
    race_with_symlink("index lock", ".ocidir.lock", ".race-decoy-lock", "@/bait/.ocidir.lock", 0);
}

static void test_added_blob_dir_subtree_swapped_with_dir_of_symlinks_out(void **state)
{
    (void)state;
    make_fixture(1, 0);
    char *swap = tu_join(F.cache, "sha256"), *decoy = tu_join(F.cache, ".race-decoy-sha256");
    char *target = tu_join(F.bait, "blobs/sha256");
    make_link_dir(decoy, target);
    race("added blobdir", swap, decoy, NULL, 1);
    free(target);
    free(swap);
    free(decoy);
}

/* The layout directory itself exchanged with its twin (the bait) after the
 * handle is open: the handle keeps working on the directory it opened, so
 * every call succeeds and the twin is never touched. */
static void test_whole_layout_swapped_with_twin_after_open(void **state)
{
    (void)state;
    make_fixture(0, 1);
    race("whole layout", F.layout, F.bait, NULL, 0);
}

static int print_totals(void **state)
{
    (void)state;
    printf("race swaps: %llu cases, %llu swaps, %llu operations, escapes %llu\n", run_cases, run_swaps, run_ops,
           run_escapes);
    return 0;
}

int main(void)
{
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (S == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    F.cache_fd = F.layout_fd = -1;
    printf("resolver: %s\n", ocidir_resolver_uses_openat2() ? "openat2" : "O_NOFOLLOW component walk");
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_blobs_dir_swapped_with_symlink_out),
        TEARDOWN(test_blobs_sha256_swapped_with_dir_of_symlinks_out),
        TEARDOWN(test_manifest_blob_swapped_with_symlink_out),
        TEARDOWN(test_config_blob_swapped_with_symlink_out),
        TEARDOWN(test_layer_blob_swapped_with_symlink_out),
        TEARDOWN(test_index_json_swapped_with_symlink_out),
        TEARDOWN(test_oci_layout_swapped_with_symlink_out),
        TEARDOWN(test_index_lock_swapped_with_symlink_out),
        TEARDOWN(test_added_blob_dir_subtree_swapped_with_dir_of_symlinks_out),
        TEARDOWN(test_whole_layout_swapped_with_twin_after_open),
    };
    return cmocka_run_group_tests(tests, NULL, print_totals);
}
