/* Hostile layouts: every public operation against every case of
 * hostile_gen.c, each in a forked child under a timeout.  Asserts for every
 * run: no crash, no hang, a result in the case's documented set, a failure
 * message that names what failed, and no access to the bait tree outside
 * the layout (inotify), whose listing must also stay unchanged.
 *
 * Knobs: HOSTILE_FULL=1 makes the big cases full size (10^6 index entries
 * instead of 10^5, a 10,000-deep index chain instead of 3,000, a
 * 100,000-wide index instead of 20,000, 200,000 layers instead of 20,000, a
 * 32 MiB string instead of 4 MiB; the 1 TiB and 1 GiB files are full size
 * always), for the recorded run; HOSTILE_TIMEOUT=S is the per-run timeout
 * (default 10 s); HOSTILE_MATRIX=file records every run's result and time;
 * HOSTILE_ONLY=substring runs only the cases whose name contains it. */
#include "testutil.h"
#include "hostile_gen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HOSTILE_LSAN 1
#endif

/* What a child hands back besides its result. */
typedef struct {
    char msg[2048];
    int leaked; /* under LeakSanitizer: the run leaked memory */
} shared_t;

static hg_env_t *env;
static shared_t *shm;

/* ---- Operations (run in the child; no cmocka assertions) ---------------- */

static int open_layout(unsigned extra, ocidir_t **d)
{
    int rc = ocidir_open(AT_FDCWD, env->layout, env->open_flags | extra, d);
    if (rc == 0 && env->json_limit)
        rc = ocidir_set_json_limit(*d, env->json_limit);
    return rc;
}

static const char *three(int i)
{
    return i == 0 ? env->manifest : i == 1 ? env->config : env->layer;
}
static int64_t three_size(int i)
{
    return (int64_t)(i == 0 ? env->manifest_size : i == 1 ? env->config_size : env->layer_size);
}

static ssize_t drain_blob(ocidir_blob_reader_t *r)
{
    static char buf[65536];
    ssize_t n, total = 0;
    while ((n = ocidir_blob_reader_read(r, buf, sizeof buf)) > 0)
        total += n;
    return n < 0 ? n : total;
}
static ssize_t drain_layer(ocidir_layer_reader_t *r)
{
    static char buf[65536];
    ssize_t n, total = 0;
    while ((n = ocidir_layer_reader_read(r, buf, sizeof buf)) > 0)
        total += n;
    return n < 0 ? n : total;
}

static int op_body(hg_op_t op, ocidir_t *d)
{
    int rc = 0;
    switch (op) {
    case HG_OP_OPEN_RDONLY:
    case HG_OP_OPEN:
        return 0;
    case HG_OP_BLOB_STAT:
        for (int i = 0; i < 3 && rc == 0; i++)
            rc = ocidir_blob_stat(d, three(i), NULL);
        return rc;
    case HG_OP_BLOB_READ_ALL:
        for (int i = 0; i < 3 && rc == 0; i++) {
            void *buf = NULL;
            rc = ocidir_blob_read_all(d, three(i), three_size(i), (size_t)64 << 20, &buf, NULL);
            ocidir_free(buf);
        }
        return rc;
    case HG_OP_BLOB_STREAM:
        for (int i = 0; i < 3 && rc == 0; i++) {
            ocidir_blob_reader_t *r = NULL;
            rc = ocidir_blob_open(d, three(i), three_size(i), &r);
            if (rc == 0) {
                ssize_t n = drain_blob(r);
                rc = n < 0 ? (int)n : 0;
            }
            ocidir_blob_reader_close(r);
        }
        return rc;
    case HG_OP_BLOB_OPEN_FD:
        for (int i = 0; i < 3 && rc == 0; i++) {
            int fd = -1;
            rc = ocidir_blob_open_fd(d, three(i), &fd);
            if (fd >= 0)
                close(fd);
        }
        return rc;
    case HG_OP_BLOB_PUT_NEW: {
        char text[64];
        snprintf(text, sizeof text, "a new blob from %d", (int)getpid());
        return ocidir_blob_put(d, text, strlen(text), NULL);
    }
    case HG_OP_BLOB_WRITE_EXISTING: {
        /* The layer's bytes again, from the untouched base layout. */
        char path[4096];
        snprintf(path, sizeof path, "%s/blobs/sha256/%s", env->base, strchr(env->layer, ':') + 1);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return 99;
        ocidir_blob_writer_t *w = NULL;
        rc = ocidir_blob_writer_new(d, OCIDIR_SHA256, &w);
        if (rc == 0)
            rc = ocidir_blob_writer_expect(w, env->layer, (int64_t)env->layer_size);
        char buf[65536];
        ssize_t n;
        while (rc == 0 && (n = read(fd, buf, sizeof buf)) > 0)
            rc = ocidir_blob_writer_write(w, buf, (size_t)n);
        close(fd);
        if (rc == 0)
            return ocidir_blob_writer_commit(w, NULL, NULL);
        ocidir_blob_writer_abort(w);
        return rc;
    }
    case HG_OP_BLOB_REMOVE:
        return ocidir_blob_remove(d, env->layer);
    case HG_OP_TAG_LIST: {
        char **tags = NULL;
        rc = ocidir_tag_list(d, &tags);
        ocidir_strv_free(tags);
        return rc;
    }
    case HG_OP_RESOLVE_TAG: {
        char *mt = NULL;
        rc = ocidir_resolve(d, env->ref, NULL, &mt, NULL);
        ocidir_free(mt);
        return rc;
    }
    case HG_OP_RESOLVE_DIGEST: {
        char *mt = NULL;
        rc = ocidir_resolve(d, env->manifest, NULL, &mt, NULL);
        ocidir_free(mt);
        return rc;
    }
    case HG_OP_TAG_SET:
        return ocidir_tag_set(d, "hostile-new", env->manifest, 0);
    case HG_OP_TAG_REMOVE:
        return ocidir_tag_remove(d, "v1");
    case HG_OP_IMAGE_INSPECT: {
        ocidir_image_t *img = NULL;
        rc = ocidir_image_open(d, env->ref, NULL, &img);
        if (rc == 0) {
            char dg[OCIDIR_DIGEST_MAX];
            char *mt = NULL, *s = NULL;
            char **v = NULL;
            const void *raw = NULL;
            size_t len = 0;
            if (rc == 0) rc = ocidir_image_manifest(img, dg, &raw, &len);
            if (rc == 0) rc = ocidir_image_config_descriptor(img, &mt, dg, NULL);
            ocidir_free(mt);
            mt = NULL;
            if (rc == 0) rc = ocidir_image_ref_descriptor(img, dg, &mt, NULL);
            ocidir_free(mt);
            mt = NULL;
            size_t n = ocidir_image_layer_count(img);
            for (size_t i = 0; rc == 0 && i < n && i < 16; i++) {
                rc = ocidir_image_layer(img, i, &mt, dg, NULL);
                ocidir_free(mt);
                mt = NULL;
            }
            if (rc == 0) rc = ocidir_image_annotations(img, OCIDIR_MANIFEST, &v);
            ocidir_strv_free(v);
            v = NULL;
            if (rc == 0 && !ocidir_image_config_is_empty(img)) {
                rc = ocidir_image_config_strv(img, OCIDIR_CONFIG_DIFF_IDS, &v);
                ocidir_strv_free(v);
                v = NULL;
                if (rc == 0) rc = ocidir_image_config_string(img, OCIDIR_CONFIG_OS, &s);
                ocidir_free(s);
                if (rc == 0) rc = ocidir_image_config_labels(img, &v);
                ocidir_strv_free(v);
            }
            if (rc == 0) rc = ocidir_image_config_raw(img, &raw, &len);
        }
        ocidir_image_close(img);
        return rc;
    }
    case HG_OP_LAYER_READ: {
        ocidir_image_t *img = NULL;
        ocidir_layer_reader_t *r = NULL;
        rc = ocidir_image_open(d, env->ref, NULL, &img);
        if (rc == 0)
            rc = ocidir_image_layer_open(img, 0, &r);
        if (rc == 0) {
            ssize_t n = drain_layer(r);
            rc = n < 0 ? (int)n : 0;
        }
        ocidir_layer_reader_close(r);
        ocidir_image_close(img);
        return rc;
    }
    case HG_OP_LAYER_OPEN_DIRECT: {
        ocidir_layer_reader_t *r = NULL;
        rc = ocidir_layer_open(d, env->layer_media_type, env->layer, (int64_t)env->layer_size, env->diff_id, &r);
        if (rc == 0) {
            ssize_t n = drain_layer(r);
            rc = n < 0 ? (int)n : 0;
        }
        ocidir_layer_reader_close(r);
        return rc;
    }
    case HG_OP_BUILDER_COMMIT: {
        ocidir_builder_t *b = NULL;
        rc = ocidir_builder_from(d, env->ref, NULL, &b);
        if (rc == 0)
            rc = ocidir_builder_set_label(b, "hostile", "yes");
        if (rc == 0)
            rc = ocidir_builder_commit(b, "hostile-built", 0, NULL);
        ocidir_builder_free(b);
        return rc;
    }
    case HG_OP_REFERRERS: {
        char **v = NULL;
        rc = ocidir_referrers(d, env->manifest, NULL, &v);
        ocidir_strv_free(v);
        return rc;
    }
    case HG_OP_FSCK: {
        ocidir_report_t *r = NULL;
        rc = ocidir_fsck(d, TU_FSCK(0, 1, NULL, NULL), &r);
        if (rc == 0 && ocidir_report_damage(r) > 0)
            rc = 1;
        ocidir_report_free(r);
        return rc;
    }
    case HG_OP_GC_DRY:
    case HG_OP_GC: {
        ocidir_report_t *r = NULL;
        ocidir_set_gc_grace(d, 0);
        rc = ocidir_gc(d, TU_GC(op == HG_OP_GC_DRY ? OCIDIR_GC_DRY_RUN : 0, NULL, NULL), &r);
        ocidir_report_free(r);
        return rc;
    }
    case HG_OP_CLONE: {
        ocidir_t *out = NULL;
        ocidir_report_t *r = NULL;
        rc = ocidir_clone(d, AT_FDCWD, env->clone_dest, NULL, &out, &r);
        ocidir_report_free(r);
        ocidir_close(out);
        return rc;
    }
    case HG_OP_IMAGE_REMOVE: {
        ocidir_report_t *r = NULL;
        ocidir_set_gc_grace(d, 0);
        rc = ocidir_tag_remove_gc(d, "v1", NULL, &r);
        ocidir_report_free(r);
        return rc;
    }
    case HG_OP_CACHE_GC: {
        ocidir_report_t *r = NULL;
        int fd = open(env->cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return 99;
        ocidir_set_gc_grace(d, 0);
        rc = ocidir_cache_gc(fd, &d, 1, NULL, &r);
        close(fd);
        ocidir_report_free(r);
        return rc;
    }
    case HG_OP_COUNT:
        break;
    }
    return 99;
}

static hg_op_t cur_op;

static int child(void *arg)
{
    (void)arg;
    /* A run that tries to allocate its way through a bomb fails instead of
     * taking the machine with it (ASan reserves far more address space, so
     * the bound is left to it there). */
#if !defined(__SANITIZE_ADDRESS__)
    struct rlimit rl = {(rlim_t)6 << 30, (rlim_t)6 << 30};
    setrlimit(RLIMIT_AS, &rl);
#endif
    ocidir_t *d = NULL;
    int rc = open_layout(cur_op == HG_OP_OPEN_RDONLY ? OCIDIR_OPEN_RDONLY : 0, &d);
    if (rc == 0)
        rc = op_body(cur_op, d);
    if (rc < 0)
        snprintf(shm->msg, sizeof shm->msg, "%s", ocidir_last_error());
    ocidir_close(d);
#ifdef HOSTILE_LSAN
    /* The child leaves with _exit(), where no leak check runs: check here,
     * so that error paths on hostile input are checked for leaks too. */
    shm->leaked = __lsan_do_recoverable_leak_check();
#endif
    return rc;
}

/* ---- The runner --------------------------------------------------------- */

static const struct {
    const char *name;
    unsigned touches;
} ops[HG_OP_COUNT] = {
#define BLOBS3 (HG_AT_OPEN | HG_AT_MANIFEST | HG_AT_CONFIG | HG_AT_LAYER)
    [HG_OP_OPEN_RDONLY] = {"open_rdonly", HG_AT_OPEN},
    [HG_OP_OPEN] = {"open", HG_AT_OPEN},
    [HG_OP_BLOB_STAT] = {"blob_stat", BLOBS3},
    [HG_OP_BLOB_READ_ALL] = {"blob_read_all", BLOBS3},
    [HG_OP_BLOB_STREAM] = {"blob_stream", BLOBS3},
    [HG_OP_BLOB_OPEN_FD] = {"blob_open_fd", BLOBS3},
    [HG_OP_BLOB_PUT_NEW] = {"blob_put_new", HG_AT_OPEN | HG_AT_BLOBS},
    [HG_OP_BLOB_WRITE_EXISTING] = {"blob_write_existing", HG_AT_OPEN | HG_AT_BLOBS | HG_AT_LAYER},
    [HG_OP_BLOB_REMOVE] = {"blob_remove", HG_AT_OPEN | HG_AT_LAYER},
    [HG_OP_TAG_LIST] = {"tag_list", HG_AT_OPEN | HG_AT_INDEX},
    [HG_OP_RESOLVE_TAG] = {"resolve_tag", HG_AT_OPEN | HG_AT_INDEX},
    [HG_OP_RESOLVE_DIGEST] = {"resolve_digest", HG_AT_OPEN | HG_AT_MANIFEST | HG_AT_DOC},
    [HG_OP_TAG_SET] = {"tag_set", HG_AT_OPEN | HG_AT_INDEX | HG_AT_MANIFEST | HG_AT_DOC},
    [HG_OP_TAG_REMOVE] = {"tag_remove", HG_AT_OPEN | HG_AT_INDEX},
    [HG_OP_IMAGE_INSPECT] = {"image_inspect",
                             HG_AT_OPEN | HG_AT_INDEX | HG_AT_V1 | HG_AT_MANIFEST | HG_AT_DOC | HG_AT_CONFIG},
    [HG_OP_LAYER_READ] = {"layer_read", HG_AT_ALL & ~(HG_AT_STRAY | HG_AT_BLOBS)},
    [HG_OP_LAYER_OPEN_DIRECT] = {"layer_open_direct", HG_AT_OPEN | HG_AT_LAYER},
    [HG_OP_BUILDER_COMMIT] = {"builder_commit", HG_AT_ALL & ~HG_AT_STRAY},
    [HG_OP_REFERRERS] = {"referrers", HG_AT_OPEN | HG_AT_INDEX | HG_AT_V1 | HG_AT_MANIFEST | HG_AT_DOC},
    [HG_OP_FSCK] = {"fsck", HG_AT_ALL},
    [HG_OP_GC_DRY] = {"gc_dry_run", HG_AT_ALL},
    [HG_OP_GC] = {"gc", HG_AT_ALL},
    [HG_OP_CLONE] = {"clone", HG_AT_ALL},
    [HG_OP_IMAGE_REMOVE] = {"image_remove_gc", HG_AT_ALL},
    [HG_OP_CACHE_GC] = {"cache_gc", HG_AT_ALL},
};

static unsigned result_bit(int rc)
{
    if (rc == 1)
        return HG_R_DAMAGED;
    if (rc <= 0 && rc >= -15)
        return HG_R(rc);
    return 1u << 20; /* anything else: never allowed */
}

static void describe(unsigned mask, char *out, size_t n)
{
    out[0] = '\0';
    for (int k = 0; k <= 16; k++) {
        if (!(mask & (1u << k)))
            continue;
        const char *name = k == 16 ? "fsck damage" : ocidir_strerror(-k);
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s%s", l ? " | " : "", name);
    }
}

/* A failure message names what failed: a path in the instance, or a digest. */
static int names_something(const char *msg)
{
    return strstr(msg, env->inst) || strstr(msg, "sha256:") || strstr(msg, "index.json") ||
           strstr(msg, "oci-layout") || strstr(msg, "blobs/");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_every_operation_on_every_hostile_layout(void **state)
{
    (void)state;
    char *root = tu_keep(tu_scratch_dir_shm("hostile"));
    if (!root)
        root = tu_keep(tu_scratch_dir("hostile"));
    env = hg_env_new(root);
    shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shm != MAP_FAILED);
    const char *t = getenv("HOSTILE_TIMEOUT");
    unsigned timeout = t && atoi(t) > 0 ? (unsigned)atoi(t) : 10;
    const char *only = getenv("HOSTILE_ONLY");
    char *listing0 = hg_bait_listing(env);
    /* HOSTILE_MATRIX=file: every run's result, for the record. */
    const char *mpath = getenv("HOSTILE_MATRIX");
    FILE *matrix = mpath ? fopen(mpath, "w") : NULL;

    size_t ncases = 0, runs = 0, escapes = 0, crashes = 0, hangs = 0, wrong = 0, silent = 0, leaks = 0;
    double t0 = now(), slowest = 0;
    /* Peak resident memory of any child so far (getrusage keeps the maximum
     * over waited-for children); the run where it last rose is named. */
    long peak_kib = 0;
    static char peak_buf[160] = "";
    const char *slowest_name = "";
    static char slowest_buf[160];
    for (size_t ci = 0; ci < hg_case_count(); ci++) {
        const hg_case_t *c = hg_case_at(ci);
        if (only && !strstr(c->name, only))
            continue;
        ncases++;
        double case_start = now();
        for (int op = 0; op < HG_OP_COUNT; op++) {
            hg_instance_make(env, c, "inst");
            hg_bait_watch(env);
            cur_op = (hg_op_t)op;
            shm->msg[0] = '\0';
            shm->leaked = 0;
            int rc = 0;
            double s = now();
            int how = tu_run_in_child(child, NULL, timeout, &rc);
            double took = now() - s;
            if (took > slowest) {
                slowest = took;
                snprintf(slowest_buf, sizeof slowest_buf, "%s/%s", c->name, ops[op].name);
                slowest_name = slowest_buf;
            }
            struct rusage ru;
            if (getrusage(RUSAGE_CHILDREN, &ru) == 0 && ru.ru_maxrss > peak_kib) {
                peak_kib = ru.ru_maxrss;
                snprintf(peak_buf, sizeof peak_buf, "%s/%s", c->name, ops[op].name);
            }
            char ev[512];
            int nev = hg_bait_events(env, ev, sizeof ev);
            runs++;
            const char *what = ops[op].name;
            if (how == -1) {
                hangs++;
                print_error("HANG   %s / %s: no answer within %u s\n", c->name, what, timeout);
            } else if (how != 0) {
                crashes++;
                print_error("CRASH  %s / %s: the child died without answering\n", c->name, what);
            } else {
                unsigned allowed = hg_allowed(c, (hg_op_t)op, ops[op].touches);
                if (!(result_bit(rc) & allowed)) {
                    wrong++;
                    char want[256];
                    describe(allowed, want, sizeof want);
                    print_error("CODE   %s / %s: got %d (%s), allowed: %s; message: %s\n", c->name, what, rc,
                                rc == 1 ? "fsck damage" : ocidir_strerror(rc), want, shm->msg);
                }
                if (rc < 0 && (!shm->msg[0] || !names_something(shm->msg))) {
                    silent++;
                    print_error("MSG    %s / %s: %s gave the message \"%s\"\n", c->name, what, ocidir_strerror(rc),
                                shm->msg);
                }
            }
            if (how == 0 && shm->leaked) {
                leaks++;
                print_error("LEAK   %s / %s: LeakSanitizer found leaks (above)\n", c->name, what);
            }
            if (matrix)
                fprintf(matrix, "%s %s %d %.3f\n", c->name, what, how == 0 ? rc : 1000 + how, took);
            if (nev > 0) {
                escapes++;
                print_error("ESCAPE %s / %s: %d bait events: %s\n", c->name, what, nev, ev);
            }
            hg_instance_remove(env);
        }
        char *listing = hg_bait_listing(env);
        if (strcmp(listing, listing0) != 0) {
            escapes++;
            print_error("ESCAPE %s: the bait tree changed:\n--- before\n%s--- after\n%s", c->name, listing0, listing);
        }
        free(listing);
        if (matrix)
            fprintf(matrix, "# %s %.2f s\n", c->name, now() - case_start);
    }
    hg_bait_unwatch(env);
    if (matrix)
        fclose(matrix);
    double total = now() - t0;
    printf("hostile layouts: %zu cases x %d operations = %zu runs, escapes %zu, crashes %zu, hangs %zu "
           "(wrong codes %zu, unnamed messages %zu, leaks %zu; %.1f s, slowest run %.2f s: %s; peak child RSS %ld MiB: %s)\n",
           ncases, (int)HG_OP_COUNT, runs, escapes, crashes, hangs, wrong, silent, leaks, total, slowest, slowest_name,
           peak_kib / 1024, peak_buf);
    free(listing0);
    munmap(shm, sizeof *shm);
    hg_env_free(env);
    env = NULL;
    assert_int_equal(escapes, 0);
    assert_int_equal(crashes, 0);
    assert_int_equal(hangs, 0);
    assert_int_equal(wrong, 0);
    assert_int_equal(silent, 0);
    assert_int_equal(leaks, 0);
    /* Memory stays bounded: no bomb makes a run grow past 4 GiB (the
     * biggest legitimate document here, the index of 10^6 entries with
     * HOSTILE_FULL=1, is 130 MB). */
    assert_true(peak_kib < 4L * 1024 * 1024);
}

/* The watch is able to fail: a child that reads a bait file through each
 * kind of path the cases plant is seen, and so is one that writes into the
 * bait directory. */
static int read_through(void *arg)
{
    char buf[64];
    int fd = open((const char *)arg, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n > 0 ? 0 : -EIO;
}
static int write_into(void *arg)
{
    (void)arg;
    int fd = openat(env->bait_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int f = openat(fd, "planted", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    close(fd);
    if (f >= 0)
        close(f);
    return f >= 0 ? 0 : -errno;
}

static void test_bait_watch_sees_an_escape(void **state)
{
    (void)state;
    char *root = tu_keep(tu_scratch_dir("hostile-watch"));
    env = hg_env_new(root);
    char *paths[4];
    paths[0] = tu_keep(tu_join(env->bait, "index.json"));
    paths[1] = tu_keep(tu_join(root, "inst/../bait/oci-layout"));
    char fdpath[64];
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d/index.json", env->bait_fd);
    paths[2] = fdpath;
    paths[3] = "/proc/self/cwd/bait/oci-layout";
    hg_instance_make(env, NULL, "inst");
    char *before = hg_bait_listing(env);
    for (int i = 0; i < 4; i++) {
        hg_bait_watch(env);
        int rc = 1;
        assert_int_equal(tu_run_in_child(read_through, paths[i], 10, &rc), 0);
        assert_int_equal(rc, 0);
        char ev[256];
        int n = hg_bait_events(env, ev, sizeof ev);
        if (n == 0)
            print_error("reading %s was not seen\n", paths[i]);
        assert_true(n > 0);
        hg_bait_unwatch(env);
    }
    char *after = hg_bait_listing(env);
    assert_string_equal(before, after);
    hg_bait_watch(env);
    int rc = 1;
    assert_int_equal(tu_run_in_child(write_into, NULL, 10, &rc), 0);
    assert_int_equal(rc, 0);
    char ev[256];
    assert_true(hg_bait_events(env, ev, sizeof ev) > 0);
    hg_bait_unwatch(env);
    char *changed = hg_bait_listing(env);
    assert_true(strcmp(before, changed) != 0);
    free(before);
    free(after);
    free(changed);
    hg_env_free(env);
    env = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bait_watch_sees_an_escape, tu_teardown_keep),
        cmocka_unit_test_teardown(test_every_operation_on_every_hostile_layout, tu_teardown_keep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
