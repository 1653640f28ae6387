/* The versioned ABI through the public C API: cancellation of every long
 * operation by its progress callback (at the first, a middle and the last
 * call) and the progress contract; the options structs (NULL, an older
 * caller's smaller struct, a newer caller's larger one, the _options_init()
 * functions against their _OPTIONS_INIT macros); and what the new options
 * do (sha512 layers, zstd window and long mode, the layer reader's bound,
 * layer annotations, the gc grace period, finding kinds). */
#include "testutil.h"
#include "gc_testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)

/* Enough blobs that a progress call falls between the first and the last. */
#define NBLOBS 64
#define MIN_BLOB (64 * 1024)
#define MAX_BLOB (256 * 1024)

/* ---- Helpers ------------------------------------------------------------- */

/* A blob of pseudo-random bytes, 64..256 KiB, put into d. */
static uint64_t put_random(ocidir_t *d, uint32_t seed, char digest[OCIDIR_DIGEST_MAX])
{
    size_t len = MIN_BLOB + (size_t)(seed * 2654435761u) % (MAX_BLOB - MIN_BLOB + 1);
    unsigned char *buf = malloc(len);
    assert_non_null(buf);
    tu_fill(buf, len, seed);
    assert_ocidir(0, ocidir_blob_put(d, buf, len, digest));
    free(buf);
    return len;
}

/* An image of NBLOBS uncompressed layers of random bytes (diff_id = digest),
 * tagged `tag`; the layer digests go to dg[] when dg is not NULL. */
static void make_big_image(ocidir_t *d, const char *tag, uint32_t seed, char (*dg)[OCIDIR_DIGEST_MAX],
                           char manifest[OCIDIR_DIGEST_MAX])
{
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    for (uint32_t i = 0; i < NBLOBS; i++) {
        char l[OCIDIR_DIGEST_MAX];
        uint64_t size = put_random(d, seed + i, l);
        assert_ocidir(0, ocidir_builder_add_layer(b, TAR, l, size, l, NULL));
        if (dg)
            strcpy(dg[i], l);
    }
    assert_ocidir(0, ocidir_builder_commit(b, tag, 0, manifest));
    ocidir_builder_free(b);
}

/* ocidir_fsck with NULL options finds no damage. */
static void assert_fsck_clean(ocidir_t *d)
{
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_fsck(d, NULL, &r));
    if (ocidir_report_damage(r) != 0) {
        for (size_t i = 0; i < ocidir_report_count(r); i++) {
            ocidir_find_kind_t k;
            const char *subject, *msg;
            ocidir_report_get(r, i, &k, &subject, NULL, &msg);
            print_error("finding %s %s: %s\n", ocidir_find_kind_name(k), subject, msg);
        }
    }
    assert_int_equal(ocidir_report_damage(r), 0);
    ocidir_report_free(r);
}

/* assert that the last error's message contains `needle`. */
static void assert_error_mentions(const char *needle)
{
    const char *m = ocidir_last_error();
    if (!m || !strstr(m, needle))
        print_error("last error \"%s\" does not mention \"%s\"\n", m ? m : "(null)", needle);
    assert_non_null(m);
    assert_non_null(strstr(m, needle));
}

/* ---- Progress recorder --------------------------------------------------- */

enum cancel_mode { CANCEL_NEVER, CANCEL_FIRST, CANCEL_MIDDLE, CANCEL_LAST };
static const char *const mode_name[] = {"never", "first", "middle", "last"};

#define MAX_CALLS 100000
struct rec {
    enum cancel_mode mode;
    pthread_t caller;
    size_t n;                 /* calls */
    size_t foreign;           /* calls from another thread */
    size_t after_cancel;      /* calls after the one that canceled */
    int canceled;             /* the callback returned non-zero */
    int saw_middle;           /* a middle call (see rec_cb) */
    int middle_any;           /* CANCEL_MIDDLE at any middle call, not only past half */
    uint64_t cancel_done, cancel_total;
    uint64_t *done, *total;   /* the first MAX_CALLS calls */
};

static void rec_init(struct rec *r, enum cancel_mode mode)
{
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->caller = pthread_self();
    r->done = tu_keep(calloc(MAX_CALLS, sizeof(uint64_t)));
    r->total = tu_keep(calloc(MAX_CALLS, sizeof(uint64_t)));
    assert_non_null(r->done);
    assert_non_null(r->total);
}

static int rec_cb(uint64_t done, uint64_t total, void *user)
{
    struct rec *r = user;
    if (!pthread_equal(pthread_self(), r->caller))
        r->foreign++;
    if (r->canceled) {
        r->after_cancel++;
        return 1;
    }
    if (r->n < MAX_CALLS) {
        r->done[r->n] = done;
        r->total[r->n] = total;
    }
    r->n++;
    /* A middle call: work was done since the first call (which may count
     * bytes read before the work, as fsck's walk), and not all of it. */
    int middle = r->n > 1 && done > r->done[0] && done < total;
    r->saw_middle |= middle;
    int stop = 0;
    switch (r->mode) {
    case CANCEL_NEVER: break;
    case CANCEL_FIRST: stop = r->n == 1; break;
    /* The operations that call back after every blob: a call past the half
     * way point, so that a canceled gc has removed a real prefix.  fsck may
     * coalesce blobs into one call: any middle call. */
    case CANCEL_MIDDLE: stop = middle && (r->middle_any || done >= total / 2); break;
    case CANCEL_LAST: stop = done == total; break;
    }
    if (stop) {
        r->canceled = 1;
        r->cancel_done = done;
        r->cancel_total = total;
    }
    return stop;
}

static void rec_print(const struct rec *r)
{
    for (size_t i = 0; i < r->n && i < MAX_CALLS; i++)
        print_error("  call %zu: %llu of %llu\n", i, (unsigned long long)r->done[i],
                    (unsigned long long)r->total[i]);
}

/* The contract every run keeps, canceled or not: calls from the calling
 * thread only, done monotonic and never past total, the first call before
 * any work (done <= first_max). */
static void rec_check_common(const struct rec *r, const char *op, uint64_t first_max)
{
    if (r->n == 0) {
        print_error("%s (cancel %s): the progress callback was never called\n", op, mode_name[r->mode]);
        fail();
    }
    assert_int_equal(r->foreign, 0);
    assert_int_equal(r->after_cancel, 0);
    size_t n = r->n < MAX_CALLS ? r->n : MAX_CALLS;
    if (r->done[0] > first_max || r->done[0] >= r->total[0]) {
        print_error("%s: the first progress call (%llu of %llu) came after work began (at most %llu "
                    "bytes may be done before it)\n",
                    op, (unsigned long long)r->done[0], (unsigned long long)r->total[0],
                    (unsigned long long)first_max);
        rec_print(r);
        fail();
    }
    for (size_t i = 0; i < n; i++) {
        if (r->done[i] > r->total[i] || (i > 0 && r->done[i] < r->done[i - 1])) {
            print_error("%s: progress call %zu (%llu of %llu) is not monotonic or passes its total\n", op, i,
                        (unsigned long long)r->done[i], (unsigned long long)r->total[i]);
            rec_print(r);
            fail();
        }
    }
}

/* The run was never canceled: the last call has done == total, and a call
 * fell between the first and the last. */
static void rec_check_complete(const struct rec *r, const char *op, uint64_t first_max)
{
    rec_check_common(r, op, first_max);
    size_t last = (r->n < MAX_CALLS ? r->n : MAX_CALLS) - 1;
    assert_true(r->n >= 2);
    if (r->done[last] != r->total[last] || r->total[last] == 0) {
        print_error("%s: the last progress call is %llu of %llu, not done == total\n", op,
                    (unsigned long long)r->done[last], (unsigned long long)r->total[last]);
        rec_print(r);
        fail();
    }
    if (!r->saw_middle) {
        print_error("%s: no progress call had first done < done < total in %zu calls, so a cancel in the middle "
                    "cannot be tested\n", op, r->n);
        rec_print(r);
        fail();
    }
}

/* ---- The operations ------------------------------------------------------ */

struct fx {
    char *dir;                 /* the layout */
    ocidir_t *d;
    char *blobroot;            /* where the swept blobs live: <dir>/blobs or the cache */
    char *cache;
    int cfd;
    char *dst_parent, *dst;    /* clone */
    int dst_existed;
    char *listing;             /* the layout tree before an fsck */
    /* Garbage (gc, cache gc, tag_remove_gc), in the order of the directory
     * listing, which the sweep follows. */
    size_t ngarbage;
    char garbage[NBLOBS + 2][OCIDIR_DIGEST_MAX];
    uint64_t garbage_size[NBLOBS + 2];
    uint64_t layer_bytes;      /* fsck, clone: bytes of the big image's layers */
};

struct op {
    const char *name;
    void (*setup)(struct fx *, enum cancel_mode);
    int (*run)(struct fx *, ocidir_progress_fn, void *, ocidir_report_t **);
    void (*after_cancel)(struct fx *, const struct rec *);
    int middle_any;  /* blobs may be reported several in one call */
    int committed_first; /* the call's change is made before the progress
                            calls (tag_remove_gc): a cancel is a success
                            whose report holds one SKIPPED notice */
};

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* fx->garbage in the order in which <blobroot>/sha256 lists them; `want`
 * are the digests, in any order. */
static void order_garbage(struct fx *f, char (*want)[OCIDIR_DIGEST_MAX], size_t n)
{
    char *sub = tu_keep(tu_join(f->blobroot, "sha256"));
    DIR *dh = opendir(sub);
    assert_non_null(dh);
    f->ngarbage = 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(tu_hex(want[i]), e->d_name) == 0) {
                strcpy(f->garbage[f->ngarbage], want[i]);
                char *p = tu_join(sub, e->d_name);
                f->garbage_size[f->ngarbage] = file_size(p);
                free(p);
                f->ngarbage++;
            }
        }
    }
    closedir(dh);
    assert_int_equal(f->ngarbage, n);
}

static int garbage_present(const struct fx *f, size_t i)
{
    char *sub = tu_join(f->blobroot, "sha256");
    char *p = tu_join(sub, tu_hex(f->garbage[i]));
    int r = tu_exists(p);
    free(sub);
    free(p);
    return r;
}

/* A canceled sweep removed a prefix of its order whose bytes are the
 * progress reported at the cancel, and nothing else. */
static void assert_removed_prefix(const struct fx *f, const struct rec *r)
{
    uint64_t sum = 0;
    size_t k = 0;
    while (k < f->ngarbage && sum < r->cancel_done)
        sum += f->garbage_size[k++];
    if (sum != r->cancel_done) {
        print_error("canceled at %llu bytes, which is no prefix of the sweep order\n",
                    (unsigned long long)r->cancel_done);
        fail();
    }
    for (size_t i = 0; i < f->ngarbage; i++) {
        int want = i >= k;
        if (garbage_present(f, i) != want) {
            print_error("canceled after %zu of %zu removals: %s is %s\n", k, f->ngarbage, f->garbage[i],
                        want ? "gone" : "still there");
            fail();
        }
    }
    if (r->mode == CANCEL_FIRST)
        assert_int_equal(k, 0);
    if (r->mode == CANCEL_MIDDLE)
        assert_true(k > 0 && k < f->ngarbage);
    if (r->mode == CANCEL_LAST)
        assert_int_equal(k, f->ngarbage);
}

/* fsck: a big image, hashed by one thread. */
static void fsck_setup(struct fx *f, enum cancel_mode m)
{
    (void)m;
    f->d = tu_scratch_layout(&f->dir);
    tu_keep(f->dir);
    char dg[NBLOBS][OCIDIR_DIGEST_MAX], manifest[OCIDIR_DIGEST_MAX];
    make_big_image(f->d, "big", 100, dg, manifest);
    f->layer_bytes = 0;
    for (size_t i = 0; i < NBLOBS; i++) {
        uint64_t s = 0;
        assert_ocidir(0, ocidir_blob_stat(f->d, dg[i], &s));
        f->layer_bytes += s;
    }
    f->listing = tu_keep(tu_tree_listing(f->dir));
}

static int fsck_run(struct fx *f, ocidir_progress_fn fn, void *user, ocidir_report_t **rep)
{
    ocidir_fsck_options_t o = OCIDIR_FSCK_OPTIONS_INIT;
    o.threads = 1;
    o.progress = fn;
    o.user = user;
    return ocidir_fsck(f->d, &o, rep);
}

static void fsck_after_cancel(struct fx *f, const struct rec *r)
{
    (void)r;
    /* fsck never writes. */
    assert_string_equal(tu_keep(tu_tree_listing(f->dir)), f->listing);
}

/* gc: a small tagged image and NBLOBS loose blobs. */
static struct img keep_img;

static void gc_setup(struct fx *f, enum cancel_mode m)
{
    (void)m;
    f->d = tu_scratch_layout(&f->dir);
    tu_keep(f->dir);
    f->blobroot = tu_keep(tu_join(f->dir, "blobs"));
    make_image(f->d, "keep", "keep layer 0", "keep layer 1", &keep_img);
    char dg[NBLOBS][OCIDIR_DIGEST_MAX];
    for (uint32_t i = 0; i < NBLOBS; i++)
        put_random(f->d, 200 + i, dg[i]);
    order_garbage(f, dg, NBLOBS);
}

static int gc_run(struct fx *f, ocidir_progress_fn fn, void *user, ocidir_report_t **rep)
{
    ocidir_gc_options_t o = OCIDIR_GC_OPTIONS_INIT;
    o.grace_seconds = 0;
    o.progress = fn;
    o.user = user;
    return ocidir_gc(f->d, &o, rep);
}

static void gc_after_cancel(struct fx *f, const struct rec *r)
{
    assert_removed_prefix(f, r);
    assert_image_complete(f->d, "keep");
}

/* cache gc: a layout writing into a shared blob directory. */
static void cache_setup(struct fx *f, enum cancel_mode m)
{
    (void)m;
    f->cache = tu_keep(tu_scratch_dir("cache"));
    f->cfd = open(f->cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->cfd >= 0);
    f->d = tu_scratch_layout(&f->dir);
    tu_keep(f->dir);
    assert_ocidir(0, ocidir_add_blobdir_fd(f->d, f->cfd, OCIDIR_BLOBDIR_WRITE));
    f->blobroot = f->cache;
    make_image(f->d, "keep", "keep layer 0", "keep layer 1", &keep_img);
    char dg[NBLOBS][OCIDIR_DIGEST_MAX];
    for (uint32_t i = 0; i < NBLOBS; i++)
        put_random(f->d, 300 + i, dg[i]);
    order_garbage(f, dg, NBLOBS);
}

static int cache_run(struct fx *f, ocidir_progress_fn fn, void *user, ocidir_report_t **rep)
{
    ocidir_gc_options_t o = OCIDIR_GC_OPTIONS_INIT;
    o.grace_seconds = 0;
    o.progress = fn;
    o.user = user;
    return ocidir_cache_gc(f->cfd, &f->d, 1, &o, rep);
}

/* clone: the big image into a fresh path (first, last) or into an empty
 * directory (middle). */
static void clone_setup(struct fx *f, enum cancel_mode m)
{
    fsck_setup(f, m);
    f->dst_parent = tu_keep(tu_scratch_dir("clone"));
    f->dst = tu_keep(tu_join(f->dst_parent, "dst"));
    f->dst_existed = m == CANCEL_MIDDLE;
    if (f->dst_existed)
        tu_mkdir(f->dst);
}

static int clone_run(struct fx *f, ocidir_progress_fn fn, void *user, ocidir_report_t **rep)
{
    ocidir_clone_options_t o = OCIDIR_CLONE_OPTIONS_INIT;
    o.progress = fn;
    o.user = user;
    ocidir_t *sentinel = (ocidir_t *)&o, *out = sentinel;
    int rc = ocidir_clone(f->d, AT_FDCWD, f->dst, &o, &out, rep);
    if (rc == 0) {
        assert_true(out != sentinel && out != NULL);
        assert_fsck_clean(out);
        ocidir_close(out);
    } else {
        assert_ptr_equal(out, sentinel);
    }
    return rc;
}

static void clone_after_cancel(struct fx *f, const struct rec *r)
{
    (void)r;
    if (f->dst_existed) {
        assert_int_equal(tu_count_entries(f->dst), 0);
    } else {
        assert_false(tu_exists(f->dst));
    }
    /* No temporary tree left beside it either. */
    assert_int_equal(tu_count_entries(f->dst_parent), f->dst_existed ? 1 : 0);
}

/* tag_remove_gc: removing the big image's tag makes its blobs garbage. */
static void tagrm_setup(struct fx *f, enum cancel_mode m)
{
    (void)m;
    f->d = tu_scratch_layout(&f->dir);
    tu_keep(f->dir);
    f->blobroot = tu_keep(tu_join(f->dir, "blobs"));
    make_image(f->d, "keep", "keep layer 0", "keep layer 1", &keep_img);
    char dg[NBLOBS + 2][OCIDIR_DIGEST_MAX];
    make_big_image(f->d, "big", 400, dg, dg[NBLOBS]);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(f->d, "big", "linux/amd64", &img));
    assert_ocidir(0, ocidir_image_config_descriptor(img, NULL, dg[NBLOBS + 1], NULL));
    ocidir_image_close(img);
    order_garbage(f, dg, NBLOBS + 2);
}

static int tagrm_run(struct fx *f, ocidir_progress_fn fn, void *user, ocidir_report_t **rep)
{
    ocidir_gc_options_t o = OCIDIR_GC_OPTIONS_INIT;
    o.grace_seconds = 0;
    o.progress = fn;
    o.user = user;
    return ocidir_tag_remove_gc(f->d, "big", &o, rep);
}

static void tagrm_after_cancel(struct fx *f, const struct rec *r)
{
    /* The tag went first (index.json before any blob). */
    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_resolve(f->d, "big", dg, NULL, NULL));
    gc_after_cancel(f, r);
}

static const struct op op_fsck = {"ocidir_fsck", fsck_setup, fsck_run, fsck_after_cancel, 1, 0};
static const struct op op_gc = {"ocidir_gc", gc_setup, gc_run, gc_after_cancel, 0, 0};
static const struct op op_cache = {"ocidir_cache_gc", cache_setup, cache_run, gc_after_cancel, 0, 0};
static const struct op op_clone = {"ocidir_clone", clone_setup, clone_run, clone_after_cancel, 0, 0};
static const struct op op_tagrm = {"ocidir_tag_remove_gc", tagrm_setup, tagrm_run, tagrm_after_cancel, 0, 1};

/* The most bytes counted as done before any blob is processed. */
static uint64_t first_max(const struct op *op, const struct fx *f, const struct rec *r)
{
    /* fsck counts the manifests and indexes it read while walking as done
     * from the start; every layer is still to be hashed. */
    if (op == &op_fsck)
        return r->total[0] >= f->layer_bytes ? r->total[0] - f->layer_bytes : 0;
    return 0;
}

static void fx_close(struct fx *f)
{
    ocidir_close(f->d);
    if (f->cfd > 0)
        close(f->cfd);
}

/* One run canceled at `mode`. */
static void run_canceled(const struct op *op, enum cancel_mode mode)
{
    struct fx f;
    memset(&f, 0, sizeof f);
    f.cfd = -1;
    op->setup(&f, mode);
    struct rec r;
    rec_init(&r, mode);
    r.middle_any = op->middle_any;
    int sentinel_obj;
    ocidir_report_t *sentinel = (ocidir_report_t *)&sentinel_obj, *rep = sentinel;
    int rc = op->run(&f, rec_cb, &r, &rep);
    if (!r.canceled) {
        print_error("%s (cancel at the %s call): no such progress call came (%s); %zu calls:\n", op->name,
                    mode_name[mode],
                    mode == CANCEL_MIDDLE ? "no call with first done < done < total (past the half way point "
                                            "where blobs are reported one by one)"
                                          : "the callback never saw it",
                    r.n);
        rec_print(&r);
        if (rc == 0 && rep != sentinel)
            ocidir_report_free(rep);
        fail();
    }
    if (op->committed_first) {
        /* The tag is gone before the gc starts: the call succeeds, and the
         * canceled gc is a SKIPPED notice naming the cancel. */
        if (rc != 0)
            print_error("%s canceled at the %s call returned %d: %s\n", op->name, mode_name[mode], rc,
                        ocidir_last_error());
        assert_int_equal(rc, 0);
        assert_true(rep != sentinel && rep != NULL);
        assert_int_equal(ocidir_report_count(rep), 1);
        ocidir_find_kind_t kind;
        const char *msg = NULL;
        assert_ocidir(0, ocidir_report_get(rep, 0, &kind, NULL, NULL, &msg));
        assert_int_equal(kind, OCIDIR_FIND_SKIPPED);
        assert_non_null(strstr(msg, "cancel"));
        assert_non_null(strstr(msg, op->name));
        ocidir_report_free(rep);
    } else {
        if (rc != OCIDIR_E_CANCELED)
            print_error("%s canceled at the %s call returned %d: %s\n", op->name, mode_name[mode], rc,
                        ocidir_last_error());
        assert_int_equal(rc, OCIDIR_E_CANCELED);
        assert_error_mentions("cancel");
        assert_error_mentions(op->name);
        assert_ptr_equal(rep, sentinel);
    }
    rec_check_common(&r, op->name, first_max(op, &f, &r));
    op->after_cancel(&f, &r);
    assert_fsck_clean(f.d);
    fx_close(&f);
}

/* One run to the end: the full progress contract. */
static void run_complete(const struct op *op)
{
    struct fx f;
    memset(&f, 0, sizeof f);
    f.cfd = -1;
    op->setup(&f, CANCEL_NEVER);
    struct rec r;
    rec_init(&r, CANCEL_NEVER);
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, op->run(&f, rec_cb, &r, &rep));
    assert_non_null(rep);
    ocidir_report_free(rep);
    rec_check_complete(&r, op->name, first_max(op, &f, &r));
    if (op != &op_fsck && op != &op_clone)
        for (size_t i = 0; i < f.ngarbage; i++)
            assert_false(garbage_present(&f, i));
    assert_fsck_clean(f.d);
    fx_close(&f);
}

static void check_op(const struct op *op)
{
    run_complete(op);
    run_canceled(op, CANCEL_FIRST);
    run_canceled(op, CANCEL_MIDDLE);
    run_canceled(op, CANCEL_LAST);
}

static void test_cancel_fsck(void **state) { (void)state; check_op(&op_fsck); }
static void test_cancel_gc(void **state) { (void)state; check_op(&op_gc); }
static void test_cancel_cache_gc(void **state) { (void)state; check_op(&op_cache); }
static void test_cancel_clone(void **state) { (void)state; check_op(&op_clone); }
static void test_cancel_tag_remove_gc(void **state) { (void)state; check_op(&op_tagrm); }

/* ---- Options structs ------------------------------------------------------ */

/* A layout with an image "img" of one gzip layer, for the calls below. */
struct ofx {
    char *dir;
    ocidir_t *d;
    char layer[OCIDIR_DIGEST_MAX], diff_id[OCIDIR_DIGEST_MAX], manifest[OCIDIR_DIGEST_MAX];
    uint64_t layer_size;
    int ncalls;
};
static struct ofx ofx;

static void ofx_setup(void)
{
    memset(&ofx, 0, sizeof ofx);
    ofx.d = tu_scratch_layout(&ofx.dir);
    tu_keep(ofx.dir);
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(ofx.d, OCIDIR_COMPRESSION_GZIP, 0, 1, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, "layer bytes", 11));
    assert_ocidir(0, ocidir_layer_writer_commit(w, ofx.layer, &ofx.layer_size, ofx.diff_id));
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(ofx.d, "linux/amd64", &b));
    assert_ocidir(0, ocidir_builder_add_layer(b, ocidir_compression_media_type(OCIDIR_COMPRESSION_GZIP), ofx.layer,
                                              ofx.layer_size, ofx.diff_id, NULL));
    assert_ocidir(0, ocidir_builder_commit(b, "img", 0, ofx.manifest));
    ocidir_builder_free(b);
}

/* Each call takes its options as raw bytes (NULL: defaults) and cleans up
 * after itself, so that it can be repeated. */
static int call_fsck(const void *o)
{
    ocidir_report_t *r = NULL;
    int rc = ocidir_fsck(ofx.d, o, &r);
    if (rc == 0)
        assert_int_equal(ocidir_report_damage(r), 0);
    ocidir_report_free(r);
    return rc;
}

static int call_gc(const void *o) { return ocidir_gc(ofx.d, o, NULL); }

static int call_cache_gc(const void *o)
{
    char *cache = tu_keep(tu_scratch_dir("ocache"));
    int fd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    int rc = ocidir_cache_gc(fd, &ofx.d, 1, o, NULL);
    close(fd);
    return rc;
}

static int call_clone(const void *o)
{
    char name[64];
    snprintf(name, sizeof name, "clone-%d", ofx.ncalls++);
    char *dst = tu_keep(tu_join(tu_keep(tu_scratch_dir("oclone")), name));
    ocidir_t *out = NULL;
    int rc = ocidir_clone(ofx.d, AT_FDCWD, dst, o, &out, NULL);
    if (rc == 0)
        assert_non_null(out);
    ocidir_close(out);
    return rc;
}

static int call_tag_remove_gc(const void *o)
{
    assert_ocidir(0, ocidir_tag_set(ofx.d, "victim", ofx.manifest, 0));
    int rc = ocidir_tag_remove_gc(ofx.d, "victim", o, NULL);
    if (rc != 0)
        assert_ocidir(0, ocidir_tag_remove(ofx.d, "victim"));
    return rc;
}

static int call_layer_writer(const void *o)
{
    ocidir_layer_writer_t *w = NULL;
    int rc = ocidir_layer_writer_new_opts(ofx.d, o, &w);
    if (rc == 0) {
        assert_non_null(w);
        assert_ocidir(0, ocidir_layer_writer_write(w, "x", 1));
        char dg[OCIDIR_DIGEST_MAX];
        assert_ocidir(0, ocidir_layer_writer_commit(w, dg, NULL, NULL));
        assert_int_equal(strncmp(dg, "sha256:", 7), 0); /* the default algorithm */
    }
    return rc;
}

static int read_to_end(ocidir_layer_reader_t *r, uint64_t *total)
{
    char buf[4096];
    ssize_t n;
    *total = 0;
    while ((n = ocidir_layer_reader_read(r, buf, sizeof buf)) > 0)
        *total += (uint64_t)n;
    return (int)n;
}

static int call_layer_open(const void *o)
{
    ocidir_layer_reader_t *r = NULL;
    int rc = ocidir_layer_open_opts(ofx.d, ocidir_compression_media_type(OCIDIR_COMPRESSION_GZIP), ofx.layer,
                                    (int64_t)ofx.layer_size, ofx.diff_id, o, &r);
    if (rc == 0) {
        uint64_t total = 0;
        assert_ocidir(0, read_to_end(r, &total));
        assert_int_equal(total, 11);
    }
    ocidir_layer_reader_close(r);
    return rc;
}

static int call_image_layer_open(const void *o)
{
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(ofx.d, "img", "linux/amd64", &img));
    ocidir_layer_reader_t *r = NULL;
    int rc = ocidir_image_layer_open_opts(img, 0, o, &r);
    if (rc == 0) {
        uint64_t total = 0;
        assert_ocidir(0, read_to_end(r, &total));
        assert_int_equal(total, 11);
    }
    ocidir_layer_reader_close(r);
    ocidir_image_close(img);
    return rc;
}

static int call_add_layer(const void *o)
{
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(ofx.d, "linux/amd64", &b));
    int rc = ocidir_builder_add_layer_opts(b, ocidir_compression_media_type(OCIDIR_COMPRESSION_GZIP), ofx.layer,
                                           ofx.layer_size, ofx.diff_id, o);
    if (rc == 0)
        assert_ocidir(0, ocidir_builder_commit(b, NULL, 0, NULL));
    ocidir_builder_free(b);
    return rc;
}

static int call_add_layer_writer(const void *o)
{
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(ofx.d, "linux/amd64", &b));
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(ofx.d, OCIDIR_COMPRESSION_GZIP, 0, 1, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, "layer bytes", 11));
    int rc = ocidir_builder_add_layer_writer_opts(b, w, o);
    if (rc == 0)
        assert_ocidir(0, ocidir_builder_commit(b, NULL, 0, NULL));
    ocidir_builder_free(b);
    return rc;
}

struct opts_case {
    const char *fn;       /* the entry point, as its messages name it */
    size_t size;          /* sizeof the options struct */
    size_t old_size;      /* an older caller's struct: struct_size and the next field */
    int (*call)(const void *);
};

#define END_OF(T, field) (offsetof(T, field) + sizeof(((T *)0)->field))
static const struct opts_case opts_cases[] = {
    {"ocidir_fsck", sizeof(ocidir_fsck_options_t), END_OF(ocidir_fsck_options_t, flags), call_fsck},
    {"ocidir_gc", sizeof(ocidir_gc_options_t), END_OF(ocidir_gc_options_t, flags), call_gc},
    {"ocidir_cache_gc", sizeof(ocidir_gc_options_t), END_OF(ocidir_gc_options_t, flags), call_cache_gc},
    {"ocidir_clone", sizeof(ocidir_clone_options_t), END_OF(ocidir_clone_options_t, flags), call_clone},
    {"ocidir_tag_remove_gc", sizeof(ocidir_gc_options_t), END_OF(ocidir_gc_options_t, flags), call_tag_remove_gc},
    {"ocidir_layer_writer_new_opts", sizeof(ocidir_layer_writer_options_t),
     END_OF(ocidir_layer_writer_options_t, compression), call_layer_writer},
    {"ocidir_layer_open_opts", sizeof(ocidir_layer_reader_options_t),
     END_OF(ocidir_layer_reader_options_t, max_size), call_layer_open},
    {"ocidir_image_layer_open_opts", sizeof(ocidir_layer_reader_options_t),
     END_OF(ocidir_layer_reader_options_t, max_size), call_image_layer_open},
    {"ocidir_builder_add_layer_opts", sizeof(ocidir_add_layer_options_t),
     END_OF(ocidir_add_layer_options_t, created_by), call_add_layer},
    {"ocidir_builder_add_layer_writer_opts", sizeof(ocidir_add_layer_options_t),
     END_OF(ocidir_add_layer_options_t, created_by), call_add_layer_writer},
};

/* A buffer holding an options struct of `struct_size`: zero up to `zero_to`,
 * then `fill` bytes (what a caller's memory may hold past its struct). */
static unsigned char *opts_buf(size_t struct_size, size_t zero_to, size_t len, unsigned char fill)
{
    unsigned char *b = tu_keep(malloc(len));
    assert_non_null(b);
    memset(b, fill, len);
    memset(b, 0, zero_to);
    memcpy(b, &struct_size, sizeof struct_size);
    return b;
}

static void test_options_struct_sizes(void **state)
{
    (void)state;
    ofx_setup();
    for (size_t i = 0; i < sizeof opts_cases / sizeof opts_cases[0]; i++) {
        const struct opts_case *c = &opts_cases[i];
        print_message("%s\n", c->fn);
        /* NULL: the defaults. */
        assert_ocidir(0, c->call(NULL));
        /* The current size, all defaults. */
        assert_ocidir(0, c->call(opts_buf(c->size, c->size, c->size, 0)));
        /* An older caller: only struct_size and the next field; the bytes
         * after them are not the caller's and must not be read (0xA5 would
         * be a wild progress pointer, a bad grace period, unknown flags). */
        assert_ocidir(0, c->call(opts_buf(c->old_size, c->old_size, c->size + 64, 0xA5)));
        /* Only struct_size. */
        assert_ocidir(0, c->call(opts_buf(sizeof(size_t), sizeof(size_t), c->size + 64, 0xA5)));
        /* A newer caller whose new fields are zero. */
        assert_ocidir(0, c->call(opts_buf(c->size + 24, c->size + 24, c->size + 24, 0)));
        /* A newer caller that set a field this library does not know: the
         * message names the byte. */
        unsigned char *b = opts_buf(c->size + 24, c->size + 24, c->size + 24, 0);
        b[c->size + 5] = 1;
        assert_ocidir(OCIDIR_E_INVALID, c->call(b));
        char byte[64];
        snprintf(byte, sizeof byte, "byte %zu", c->size + 5);
        assert_error_mentions(byte);
        assert_error_mentions(c->fn);
        /* struct_size 0, and one too small for the size field itself. */
        assert_ocidir(OCIDIR_E_INVALID, c->call(opts_buf(0, c->size, c->size, 0)));
        assert_error_mentions("struct_size");
        assert_ocidir(OCIDIR_E_INVALID, c->call(opts_buf(sizeof(size_t) - 1, c->size, c->size, 0)));
    }
    assert_fsck_clean(ofx.d);
    ocidir_close(ofx.d);
}

/* Every ocidir_*_options_init() against its macro. */
#define GUARD 0xC3
#define CHECK_INIT(T, MACRO, init)                                                                 \
    do {                                                                                           \
        static const T want = MACRO; /* static: padding is zero */                                 \
        unsigned char buf[sizeof(T) + 32];                                                         \
        /* The current size: the macro's bytes, nothing past them. */                              \
        memset(buf, GUARD, sizeof buf);                                                            \
        assert_ocidir(0, init((T *)(void *)buf, sizeof(T)));                                       \
        if (memcmp(buf, &want, sizeof(T)) != 0) {                                                  \
            for (size_t k_ = 0; k_ < sizeof(T); k_++)                                              \
                if (buf[k_] != ((const unsigned char *)&want)[k_])                                 \
                    print_error(#init ": byte %zu is 0x%02x, the macro's is 0x%02x\n", k_, buf[k_], \
                                ((const unsigned char *)&want)[k_]);                               \
            fail();                                                                                \
        }                                                                                          \
        for (size_t k_ = sizeof(T); k_ < sizeof buf; k_++)                                         \
            assert_int_equal(buf[k_], GUARD);                                                      \
        /* An older caller's smaller struct: written up to its size only. */                     \
        for (size_t sz_ = sizeof(size_t); sz_ < sizeof(T); sz_++) {                                \
            memset(buf, GUARD, sizeof buf);                                                        \
            assert_ocidir(0, init((T *)(void *)buf, sz_));                                         \
            size_t got_;                                                                           \
            memcpy(&got_, buf, sizeof got_);                                                       \
            assert_int_equal(got_, sz_);                                                           \
            assert_memory_equal(buf + sizeof(size_t), (const unsigned char *)&want + sizeof(size_t), \
                                sz_ - sizeof(size_t));                                             \
            for (size_t k_ = sz_; k_ < sizeof buf; k_++)                                           \
                assert_int_equal(buf[k_], GUARD);                                                  \
        }                                                                                          \
        /* A newer caller's larger struct: the known part, zeros after it. */                    \
        memset(buf, GUARD, sizeof buf);                                                            \
        assert_ocidir(0, init((T *)(void *)buf, sizeof(T) + 16));                                  \
        size_t got_;                                                                               \
        memcpy(&got_, buf, sizeof got_);                                                           \
        assert_int_equal(got_, sizeof(T) + 16);                                                    \
        assert_memory_equal(buf + sizeof(size_t), (const unsigned char *)&want + sizeof(size_t),   \
                            sizeof(T) - sizeof(size_t));                                           \
        for (size_t k_ = sizeof(T); k_ < sizeof(T) + 16; k_++)                                     \
            assert_int_equal(buf[k_], 0);                                                          \
        for (size_t k_ = sizeof(T) + 16; k_ < sizeof buf; k_++)                                    \
            assert_int_equal(buf[k_], GUARD);                                                      \
        /* Too small for the size field, and NULL. */                                              \
        memset(buf, GUARD, sizeof buf);                                                            \
        assert_ocidir(OCIDIR_E_INVALID, init((T *)(void *)buf, 0));                                \
        assert_ocidir(OCIDIR_E_INVALID, init((T *)(void *)buf, sizeof(size_t) - 1));               \
        for (size_t k_ = 0; k_ < sizeof buf; k_++)                                                 \
            assert_int_equal(buf[k_], GUARD);                                                      \
        assert_ocidir(OCIDIR_E_INVALID, init(NULL, sizeof(T)));                                    \
    } while (0)

static void test_options_init_matches_macro(void **state)
{
    (void)state;
    CHECK_INIT(ocidir_fsck_options_t, OCIDIR_FSCK_OPTIONS_INIT, ocidir_fsck_options_init);
    CHECK_INIT(ocidir_gc_options_t, OCIDIR_GC_OPTIONS_INIT, ocidir_gc_options_init);
    CHECK_INIT(ocidir_clone_options_t, OCIDIR_CLONE_OPTIONS_INIT, ocidir_clone_options_init);
    CHECK_INIT(ocidir_layer_writer_options_t, OCIDIR_LAYER_WRITER_OPTIONS_INIT, ocidir_layer_writer_options_init);
    CHECK_INIT(ocidir_layer_reader_options_t, OCIDIR_LAYER_READER_OPTIONS_INIT, ocidir_layer_reader_options_init);
    CHECK_INIT(ocidir_add_layer_options_t, OCIDIR_ADD_LAYER_OPTIONS_INIT, ocidir_add_layer_options_init);
    /* The macros' defaults are the documented ones. */
    ocidir_gc_options_t g = OCIDIR_GC_OPTIONS_INIT;
    assert_int_equal(g.struct_size, sizeof g);
    assert_int_equal(g.grace_seconds, OCIDIR_GC_GRACE_HANDLE);
    ocidir_layer_writer_options_t w = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
    assert_int_equal(w.compression, OCIDIR_COMPRESSION_GZIP);
    assert_int_equal(w.alg, OCIDIR_SHA256);
}

/* ---- What the new options do ---------------------------------------------- */

/* Write `len` bytes of data through a writer with `o`, commit, and read the
 * layer back to its verified end, comparing the bytes. */
static void write_and_read_back(ocidir_t *d, const ocidir_layer_writer_options_t *o, const unsigned char *data,
                                size_t len, char digest[OCIDIR_DIGEST_MAX], char diff_id[OCIDIR_DIGEST_MAX])
{
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new_opts(d, o, &w));
    const char *mt = ocidir_layer_writer_media_type(w);
    assert_non_null(mt);
    char media_type[128];
    snprintf(media_type, sizeof media_type, "%s", mt);
    for (size_t off = 0; off < len; off += 65536)
        assert_ocidir(0, ocidir_layer_writer_write(w, data + off, len - off < 65536 ? len - off : 65536));
    uint64_t size = 0;
    assert_ocidir(0, ocidir_layer_writer_commit(w, digest, &size, diff_id));
    ocidir_layer_reader_t *r = NULL;
    assert_ocidir(0, ocidir_layer_open(d, media_type, digest, (int64_t)size, diff_id, &r));
    unsigned char *got = malloc(len + 1);
    assert_non_null(got);
    size_t total = 0;
    ssize_t n;
    while ((n = ocidir_layer_reader_read(r, got + total, len + 1 - total)) > 0) {
        total += (size_t)n;
        assert_true(total <= len);
    }
    assert_ocidir(0, n);
    assert_int_equal(total, len);
    assert_memory_equal(got, data, len);
    free(got);
    ocidir_layer_reader_close(r);
}

static void test_layer_writer_sha512(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    size_t len = 300000;
    unsigned char *data = tu_keep(malloc(len));
    tu_fill(data, len, 7);
    ocidir_compression_t comps[] = {OCIDIR_COMPRESSION_NONE, OCIDIR_COMPRESSION_GZIP, OCIDIR_COMPRESSION_ZSTD};
    for (size_t i = 0; i < 3; i++) {
        ocidir_layer_writer_options_t o = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
        o.compression = comps[i];
        o.alg = OCIDIR_SHA512;
        char dg[OCIDIR_DIGEST_MAX], diff_id[OCIDIR_DIGEST_MAX], want_diff[OCIDIR_DIGEST_MAX];
        write_and_read_back(d, &o, data, len, dg, diff_id);
        assert_int_equal(strncmp(dg, "sha512:", 7), 0);
        assert_int_equal(strlen(dg), 7 + 128);
        assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, data, len, want_diff));
        assert_string_equal(diff_id, want_diff);
        if (comps[i] == OCIDIR_COMPRESSION_NONE) {
            char want[OCIDIR_DIGEST_MAX];
            assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA512, data, len, want));
            assert_string_equal(dg, want);
        }
        /* Under blobs/sha512/. */
        char *p = tu_keep(tu_blob_path(dir, dg));
        assert_non_null(strstr(p, "/blobs/sha512/"));
        assert_true(tu_exists(p));
    }
    /* An unknown algorithm. */
    ocidir_layer_writer_options_t o = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
    o.alg = (ocidir_digest_alg_t)2;
    ocidir_layer_writer_t *w = (ocidir_layer_writer_t *)&o;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new_opts(d, &o, &w));
    assert_ptr_equal(w, (ocidir_layer_writer_t *)&o);
    assert_error_mentions("algorithm 2");
    /* An unknown compression. */
    o.alg = OCIDIR_SHA512;
    o.compression = (ocidir_compression_t)7;
    assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_layer_writer_new_opts(d, &o, &w));
    assert_ptr_equal(w, (ocidir_layer_writer_t *)&o);
    assert_fsck_clean(d);
    ocidir_close(d);
}

static void test_layer_writer_zstd_options(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    ocidir_layer_writer_t *w = NULL;
    for (int wl = 10; wl <= 27; wl++) {
        ocidir_layer_writer_options_t o = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
        o.compression = OCIDIR_COMPRESSION_ZSTD;
        o.zstd_window_log = wl;
        w = NULL;
        assert_ocidir(0, ocidir_layer_writer_new_opts(d, &o, &w));
        assert_non_null(w);
        ocidir_layer_writer_abort(w);
    }
    int bad[] = {9, 28, 1, -1, 64};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ocidir_layer_writer_options_t o = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
        o.compression = OCIDIR_COMPRESSION_ZSTD;
        o.zstd_window_log = bad[i];
        w = NULL;
        assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new_opts(d, &o, &w));
        assert_null(w);
        assert_error_mentions("window");
    }
    /* zstd fields with gzip (or none) are refused. */
    ocidir_compression_t others[] = {OCIDIR_COMPRESSION_GZIP, OCIDIR_COMPRESSION_NONE};
    for (size_t i = 0; i < 2; i++) {
        ocidir_layer_writer_options_t o = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
        o.compression = others[i];
        o.zstd_window_log = 20;
        assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new_opts(d, &o, &w));
        assert_error_mentions("zstd");
        o.zstd_window_log = 0;
        o.zstd_long = 1;
        assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new_opts(d, &o, &w));
        assert_error_mentions("zstd");
    }
    /* Long mode, and the smallest and largest windows, give readable
     * layers.  The data repeats at a long distance, as long mode likes. */
    size_t len = 3 << 20;
    unsigned char *data = tu_keep(malloc(len));
    tu_fill(data, 1 << 20, 11);
    memcpy(data + (1 << 20), data, 1 << 20);
    memcpy(data + (2 << 20), data, 1 << 20);
    struct {
        int wl, lng;
    } ok[] = {{0, 1}, {10, 0}, {27, 0}, {20, 1}};
    char first[OCIDIR_DIGEST_MAX] = "";
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ocidir_layer_writer_options_t o = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
        o.compression = OCIDIR_COMPRESSION_ZSTD;
        o.zstd_window_log = ok[i].wl;
        o.zstd_long = ok[i].lng;
        char dg[OCIDIR_DIGEST_MAX], diff_id[OCIDIR_DIGEST_MAX];
        write_and_read_back(d, &o, data, len, dg, diff_id);
        if (i == 0) {
            strcpy(first, dg);
            /* The repeats were found: far smaller than the data. */
            uint64_t size = 0;
            assert_ocidir(0, ocidir_blob_stat(d, dg, &size));
            assert_true(size < (3u << 20) / 2);
        }
    }
    assert_fsck_clean(d);
    ocidir_close(d);
}

/* A gzip layer of `len` bytes; its media type, digest, size, diff_id. */
struct layer {
    char digest[OCIDIR_DIGEST_MAX], diff_id[OCIDIR_DIGEST_MAX];
    uint64_t size;
};

static void test_layer_reader_max_size(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    const size_t len = 100000;
    unsigned char *data = tu_keep(malloc(len));
    tu_fill(data, len, 5);
    const char *mt = ocidir_compression_media_type(OCIDIR_COMPRESSION_GZIP);
    ocidir_layer_writer_t *w = NULL;
    struct layer l;
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0, 1, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, data, len));
    assert_ocidir(0, ocidir_layer_writer_commit(w, l.digest, &l.size, l.diff_id));
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    assert_ocidir(0, ocidir_builder_add_layer(b, mt, l.digest, l.size, l.diff_id, NULL));
    assert_ocidir(0, ocidir_builder_commit(b, "img", 0, NULL));
    ocidir_builder_free(b);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "img", "linux/amd64", &img));

    unsigned char *got = tu_keep(malloc(len + 8192));
    /* Chunk sizes that do and do not divide the bound. */
    size_t chunks[] = {4096, 3000, 1, 200000};
    for (int via_image = 0; via_image < 2; via_image++) {
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            size_t chunk = chunks[c];
            if (chunk == 1 && via_image)
                continue; /* once is enough for the slow one */
            for (int over = 0; over < 2; over++) {
                /* over 0: the stream is exactly max_size; over 1: it is one
                 * byte more than max_size. */
                ocidir_layer_reader_options_t o = OCIDIR_LAYER_READER_OPTIONS_INIT;
                o.max_size = len - (size_t)over;
                ocidir_layer_reader_t *r = NULL;
                if (via_image)
                    assert_ocidir(0, ocidir_image_layer_open_opts(img, 0, &o, &r));
                else
                    assert_ocidir(0, ocidir_layer_open_opts(d, mt, l.digest, (int64_t)l.size, l.diff_id, &o, &r));
                size_t total = 0;
                ssize_t n;
                for (;;) {
                    memset(got + total, 0xEE, chunk < 8192 ? chunk : 8192);
                    n = ocidir_layer_reader_read(r, got + total, chunk);
                    if (n <= 0)
                        break;
                    total += (size_t)n;
                    if (total > o.max_size) {
                        print_error("a reader bounded at %llu handed out %zu bytes\n",
                                    (unsigned long long)o.max_size, total);
                        fail();
                    }
                }
                if (!over) {
                    assert_ocidir(0, n);
                    assert_int_equal(total, len);
                } else {
                    assert_ocidir(OCIDIR_E_TOO_LARGE, n);
                    assert_error_mentions("max_size");
                    assert_int_equal(total, len - 1);
                    /* The failing read wrote nothing into the buffer. */
                    for (size_t k = 0; k < (chunk < 8192 ? chunk : 8192); k++)
                        assert_int_equal(got[total + k], 0xEE);
                    /* Sticky. */
                    unsigned char one;
                    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_layer_reader_read(r, &one, 1));
                    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_layer_reader_read(r, got, chunk));
                }
                assert_memory_equal(got, data, total);
                ocidir_layer_reader_close(r);
            }
        }
    }
    /* A bound far below the stream: the first read stops there. */
    ocidir_layer_reader_options_t o = OCIDIR_LAYER_READER_OPTIONS_INIT;
    o.max_size = 10;
    ocidir_layer_reader_t *r = NULL;
    assert_ocidir(0, ocidir_image_layer_open_opts(img, 0, &o, &r));
    assert_int_equal(ocidir_layer_reader_read(r, got, 4096), 10);
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_layer_reader_read(r, got, 4096));
    ocidir_layer_reader_close(r);
    /* Unknown flags. */
    o.flags = 1;
    r = NULL;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_layer_open_opts(img, 0, &o, &r));
    assert_null(r);
    ocidir_image_close(img);
    ocidir_close(d);
}

static void test_add_layer_annotations(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    const char *tar_mt = ocidir_compression_media_type(OCIDIR_COMPRESSION_NONE);
    char l0[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "layer zero", 10, l0));

    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    const char *const kv0[] = {"org.example.b", "2", "org.example.a", "1", "org.example.b", "3", NULL};
    ocidir_add_layer_options_t o = OCIDIR_ADD_LAYER_OPTIONS_INIT;
    o.annotations = kv0;
    o.created_by = "step zero";
    assert_ocidir(0, ocidir_builder_add_layer_opts(b, tar_mt, l0, 10, l0, &o));

    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0, 1, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, "layer one", 9));
    const char *const kv1[] = {"k", "v", NULL};
    o.annotations = kv1;
    o.created_by = NULL;
    assert_ocidir(0, ocidir_builder_add_layer_writer_opts(b, w, &o));
    /* No annotations. */
    assert_ocidir(0, ocidir_builder_add_layer_opts(b, tar_mt, l0, 10, l0, NULL));

    /* Bad vectors: an odd count, an empty key. */
    const char *const odd[] = {"k", "v", "lonely", NULL};
    const char *const empty_key[] = {"", "v", NULL};
    const char *const *bad[] = {odd, empty_key};
    size_t nlayers_before = 3;
    for (size_t i = 0; i < 2; i++) {
        o.annotations = bad[i];
        assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_add_layer_opts(b, tar_mt, l0, 10, l0, &o));
        assert_error_mentions("annotations");
        /* The writer form publishes nothing: its blob (uncompressed, so its
         * digest is known) never appears. */
        char data[32], want[OCIDIR_DIGEST_MAX];
        int len = snprintf(data, sizeof data, "never published %zu", i);
        assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, data, (size_t)len, want));
        char *listing = tu_keep(tu_tree_listing_contents(dir));
        w = NULL;
        assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_NONE, 0, 0, &w));
        assert_ocidir(0, ocidir_layer_writer_write(w, data, (size_t)len));
        assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_add_layer_writer_opts(b, w, &o));
        assert_error_mentions("annotations");
        uint64_t sz = 0;
        assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, want, &sz));
        assert_string_equal(tu_keep(tu_tree_listing_contents(dir)), listing);
    }
    char manifest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_builder_commit(b, "img", 0, manifest));
    ocidir_builder_free(b);

    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "img", "linux/amd64", &img));
    assert_int_equal(ocidir_image_layer_count(img), nlayers_before);
    char **kv = NULL;
    assert_ocidir(0, ocidir_image_annotations(img, 0, &kv));
    tu_assert_strv(kv, (const char *const[]){"org.example.a", "1", "org.example.b", "3", NULL});
    ocidir_strv_free(kv);
    assert_ocidir(0, ocidir_image_annotations(img, 1, &kv));
    tu_assert_strv(kv, (const char *const[]){"k", "v", NULL});
    ocidir_strv_free(kv);
    assert_ocidir(0, ocidir_image_annotations(img, 2, &kv));
    tu_assert_strv(kv, (const char *const[]){NULL});
    ocidir_strv_free(kv);
    /* The layers read verified. */
    for (size_t i = 0; i < 3; i++) {
        ocidir_layer_reader_t *r = NULL;
        assert_ocidir(0, ocidir_image_layer_open_opts(img, i, NULL, &r));
        uint64_t total = 0;
        assert_ocidir(0, read_to_end(r, &total));
        assert_int_equal(total, i == 1 ? 9 : 10);
        ocidir_layer_reader_close(r);
    }
    ocidir_image_close(img);
    assert_fsck_clean(d);
    ocidir_close(d);
}

static void test_find_kind_is_damage(void **state)
{
    (void)state;
    for (int k = 0; k <= 6; k++)
        assert_int_equal(ocidir_find_kind_is_damage(k), 1);
    for (int k = 7; k <= 14; k++)
        assert_int_equal(ocidir_find_kind_is_damage(k), 0);
    int unknown[] = {-1, -100, 15, 16, 17, 1000, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_int_equal(ocidir_find_kind_is_damage(unknown[i]), 0);
    assert_int_equal(ocidir_find_kind_is_damage(OCIDIR_FIND_IO), 1);
    assert_int_equal(ocidir_find_kind_is_damage(OCIDIR_FIND_UNSUPPORTED), 0);
}

static void test_gc_grace_option(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img keep;
    make_image(d, "keep", "grace keep 0", NULL, &keep);
    char a[OCIDIR_DIGEST_MAX];
    put(d, "fresh loose blob", a);
    ocidir_gc_options_t o = OCIDIR_GC_OPTIONS_INIT;
    ocidir_report_t *r = NULL;

    /* The handle's default grace (an hour) keeps the fresh blob... */
    assert_ocidir(0, ocidir_gc(d, &o, &r));
    assert_finding(r, OCIDIR_FIND_KEPT_RECENT, a);
    ocidir_report_free(r);
    assert_present(dir, a, 1);
    /* ...and with an hour in the options over a handle grace of 0 too... */
    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    o.grace_seconds = 3600;
    assert_ocidir(0, ocidir_gc(d, &o, &r));
    assert_finding(r, OCIDIR_FIND_KEPT_RECENT, a);
    ocidir_report_free(r);
    assert_present(dir, a, 1);
    /* ...while 0 in the options over the handle's hour removes it. */
    assert_ocidir(0, ocidir_set_gc_grace(d, -1));
    o.grace_seconds = 0;
    assert_ocidir(0, ocidir_gc(d, &o, &r));
    assert_finding(r, OCIDIR_FIND_REMOVED, a);
    ocidir_report_free(r);
    assert_present(dir, a, 0);

    /* OCIDIR_GC_GRACE_HANDLE takes the handle's (0 now). */
    put(d, "another fresh blob", a);
    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    o.grace_seconds = OCIDIR_GC_GRACE_HANDLE;
    assert_ocidir(0, ocidir_gc(d, &o, NULL));
    assert_present(dir, a, 0);

    /* Negative other than -1 is INVALID, for every gc form, and nothing
     * happens (the tag stays). */
    put(d, "a third blob", a);
    int cfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cfd >= 0);
    int64_t bad[] = {-2, -3600, INT64_MIN};
    for (size_t i = 0; i < 3; i++) {
        o.grace_seconds = bad[i];
        r = (ocidir_report_t *)&o;
        assert_ocidir(OCIDIR_E_INVALID, ocidir_gc(d, &o, &r));
        assert_ptr_equal(r, (ocidir_report_t *)&o);
        assert_error_mentions("grace_seconds");
        assert_ocidir(OCIDIR_E_INVALID, ocidir_cache_gc(cfd, &d, 1, &o, NULL));
        assert_error_mentions("grace_seconds");
        assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_remove_gc(d, "keep", &o, NULL));
        assert_error_mentions("grace_seconds");
        assert_present(dir, a, 1);
        char m[OCIDIR_DIGEST_MAX];
        assert_ocidir(0, ocidir_resolve(d, "keep", m, NULL, NULL));
        assert_string_equal(m, keep.manifest);
    }
    close(cfd);
    assert_image_complete(d, "keep");
    assert_fsck_clean(d);
    ocidir_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_cancel_fsck),
        TEARDOWN(test_cancel_gc),
        TEARDOWN(test_cancel_cache_gc),
        TEARDOWN(test_cancel_clone),
        TEARDOWN(test_cancel_tag_remove_gc),
        TEARDOWN(test_options_struct_sizes),
        TEARDOWN(test_options_init_matches_macro),
        TEARDOWN(test_layer_writer_sha512),
        TEARDOWN(test_layer_writer_zstd_options),
        TEARDOWN(test_layer_reader_max_size),
        TEARDOWN(test_add_layer_annotations),
        TEARDOWN(test_find_kind_is_damage),
        TEARDOWN(test_gc_grace_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
