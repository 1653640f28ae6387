/* Concurrency torture: many processes, each with several threads, hammer one
 * layout (with a shared blob cache) through the public API for a bounded
 * time, then the final state is checked against what every thread logged.
 *
 *   concurrency_torture [--procs P] [--threads T] [--seconds S] [--seed N]
 *                       [--dir DIR] [--keep] [--no-short-grace] [--strict-import]
 *
 * CONC_TORTURE_SECONDS in the environment overrides --seconds (a long run
 * through ctest).  --no-short-grace runs every gc with the default grace, so
 * that no NOT_FOUND is acceptable anywhere.  --strict-import makes an import
 * whose tag names an incomplete image a violation (see op_import()).
 *
 * Setup (under DIR, which must be new or empty; a fresh temporary directory
 * by default, removed afterwards unless --keep or a violation):
 *   L/      the layout under test;
 *   cache/  a shared blob directory (sha256/<hex>) added to every handle on L
 *           with ocidir_add_blobdir_fd(): the per-process handle writes new
 *           blobs into it (OCIDIR_BLOBDIR_WRITE), the per-thread handles read
 *           from it and write into L's own blobs/;
 *   SRC/    a source layout with a few images, opened read-only, from which
 *           images are imported into L (each blob streamed through a verified
 *           reader into a writer that expects its digest and size, then the
 *           manifest tagged with ocidir_tag_set());
 *   logs/   one log per thread.
 *
 * Each process opens one handle that its even-numbered threads share (the
 * header documents a handle as usable from many threads at once); odd
 * threads open their own.  Every thread runs a random mix of operations until
 * the deadline: blob puts, image builds committed under a tag, tag moves,
 * untags, imports, gc and cache gc (default grace, and a short grace of
 * 0-2 s, on a freshly opened handle so that a writable open's temp-file
 * cleanup races live writers too), read-only fsck, resolves and full image
 * reads, and raw reads of index.json.
 *
 * Tags p<P>-t<T>-k<K> are owned by one thread: it is their only writer, so it
 * knows their value at every moment and checks every resolve against it; it
 * logs "set TAG DIGEST" / "unset TAG" after the API returned 0.  The tags
 * shared-0..3 are written by everyone; their ops are logged with start and
 * end times (CLOCK_MONOTONIC, common to all processes).
 *
 * Documented failures, counted and accepted: with a short gc grace, a commit
 * or tag_set may fail with OCIDIR_E_NOT_FOUND (a blob it references was
 * collected before the index lock was taken; or a blob writer's content
 * existed already and that file was collected before commit could refresh
 * its modification time: "write it again"); a concurrent fsck may report a
 * blob removed meanwhile as missing; reading a shared tag may find it moved
 * and its image collected.  One known gap is counted apart: ocidir_tag_set()
 * re-checks under the lock only the manifest it tags, so an import racing a
 * grace-0 gc can publish a tag naming an image whose layer was collected
 * (and gc then refuses the damaged graph until the importer repairs it).
 * Everything else is a violation.
 *
 * Afterwards: every child exited 0; index.json is valid JSON with no
 * duplicate key and no duplicate tag; every owned tag's final state equals
 * its last logged op (lost updates); each shared tag's final value was written
 * by an op that no other completed op strictly follows (last writer wins);
 * every tag opens as a complete, verified image; fsck finds no damage and no
 * temporary file; no temporary file is left in L, its blobs/ or the cache;
 * every file in blobs/ and the cache hashes to its name; SRC is unchanged;
 * a final gc with grace 0 keeps every tagged image whole.
 *
 * Exit status 0 when nothing was violated, 1 otherwise (2: usage/setup). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ocidir.h>

#include "../plainutil.h" /* the TU_* options macros only */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KSLOTS 4   /* owned tags per thread */
#define NSHARED 4  /* tags written by every thread */
#define NSRC 12    /* images in the source layout */
#define MAXLINE 512

/* ---- Options ------------------------------------------------------------- */

static int opt_procs = 8, opt_threads = 3, opt_seconds = 15, opt_keep = 0, opt_short_grace = 1, opt_strict_import = 0;
static uint64_t opt_seed = 1;
static char opt_dir[4096];
static char dir_l[4200], dir_cache[4200], dir_src[4200], dir_logs[4200];
static char src_digest[NSRC][OCIDIR_DIGEST_MAX];

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "concurrency torture: setup: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (last error: %s)\n", ocidir_last_error());
    va_end(ap);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
    /* xorshift64*: reproducible per (seed, process, thread). */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

static void fill(void *buf, size_t len, uint64_t *s)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(rnd(s) >> 56);
}

/* ---- Operation kinds and per-thread counters ----------------------------- */

enum {
    OP_PUT, OP_BUILD, OP_MOVE, OP_UNTAG, OP_IMPORT, OP_SHARED_SET, OP_SHARED_UNSET,
    OP_GC, OP_CACHE_GC, OP_FSCK, OP_READ, OP_READ_SHARED, OP_PEEK, OP_N
};
static const char *const op_name[OP_N] = {"put", "build", "move", "untag", "import", "shared-set",
                                          "shared-unset", "gc", "cache-gc", "fsck", "read",
                                          "read-shared", "peek"};
/* Relative weights of the mix. */
static const int op_weight[OP_N] = {14, 18, 10, 7, 9, 6, 2, 3, 2, 1, 16, 4, 5};

typedef struct {
    int p, t;
    ocidir_t *d;        /* the handle this thread uses */
    int own_handle;     /* 1 if d belongs to this thread alone */
    uint64_t rng;
    FILE *log;
    double deadline;
    char slot[KSLOTS][OCIDIR_DIGEST_MAX]; /* current value of each owned tag; "" = unset */
    long ok[OP_N], documented[OP_N];
    long fsck_transient_missing, gc_removed;
    long import_gap, gc_refused; /* see op_import() */
    int violations;
} worker_t;

/* rc CHECK: a check of this program failed, not an API call. */
#define CHECK 1

static void violation(worker_t *w, const char *what, int rc)
{
    if (rc == CHECK)
        fprintf(stderr, "concurrency torture: VIOLATION p%d-t%d: %s\n", w->p, w->t, what);
    else
        fprintf(stderr, "concurrency torture: VIOLATION p%d-t%d: %s: rc %d (%s): %s\n", w->p, w->t, what, rc,
                ocidir_strerror(rc), ocidir_last_error());
    w->violations++;
}

/* A failure the documentation allows here: a blob collected by a short-grace
 * gc before the commit took the index lock. */
static int documented_not_found(int rc) { return opt_short_grace && rc == OCIDIR_E_NOT_FOUND; }

static void tag_name(char *buf, size_t n, int p, int t, int k) { snprintf(buf, n, "p%d-t%d-k%d", p, t, k); }

static void log_line(worker_t *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(w->log, fmt, ap);
    va_end(ap);
    fflush(w->log);
}

/* Open L with the cache added (for writing when cache_write). */
static int open_l(ocidir_t **out, int cache_write)
{
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, dir_l, 0, &d);
    if (rc != 0)
        return rc;
    int fd = open(dir_cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        ocidir_close(d);
        return OCIDIR_E_IO;
    }
    rc = ocidir_add_blobdir_fd(d, fd, cache_write ? OCIDIR_BLOBDIR_WRITE : 0);
    close(fd);
    if (rc != 0) {
        ocidir_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* ---- Operations ---------------------------------------------------------- */

static void op_put(worker_t *w)
{
    size_t len = 1 + rnd(&w->rng) % 24576;
    unsigned char *buf = malloc(len);
    if (!buf)
        abort();
    fill(buf, len, &w->rng);
    char dg[OCIDIR_DIGEST_MAX];
    int rc;
    if (rnd(&w->rng) % 2) {
        rc = ocidir_blob_put(w->d, buf, len, dg);
    } else {
        /* Streamed in pieces with the size declared up front. */
        ocidir_blob_writer_t *bw = NULL;
        rc = ocidir_blob_writer_new(w->d, OCIDIR_SHA256, &bw);
        if (rc == 0)
            rc = ocidir_blob_writer_expect(bw, NULL, (int64_t)len);
        for (size_t off = 0; rc == 0 && off < len; off += 4096)
            rc = ocidir_blob_writer_write(bw, buf + off, len - off < 4096 ? len - off : 4096);
        if (rc == 0)
            rc = ocidir_blob_writer_commit(bw, dg, NULL);
        else
            ocidir_blob_writer_abort(bw);
    }
    if (rc != 0) {
        /* Committing content that exists already refreshes the existing
         * file; if a grace-0 gc removed it in between, commit says so with
         * NOT_FOUND ("write it again"). */
        if (documented_not_found(rc))
            w->documented[OP_PUT]++;
        else
            violation(w, "blob put", rc);
        free(buf);
        return;
    }
    /* Read back at once.  Nothing references it, so a short-grace gc may
     * already have collected it: that is the only allowed failure. */
    void *back = NULL;
    size_t blen = 0;
    rc = ocidir_blob_read_all(w->d, dg, (int64_t)len, len, &back, &blen);
    if (rc == 0 && (blen != len || memcmp(back, buf, len) != 0))
        violation(w, "blob read back differs from what was put", CHECK);
    else if (rc != 0 && !documented_not_found(rc))
        violation(w, "blob read back", rc);
    ocidir_free(back);
    free(buf);
    if (rc == 0)
        w->ok[OP_PUT]++;
    else
        w->documented[OP_PUT]++;
}

static void op_build(worker_t *w)
{
    int k = (int)(rnd(&w->rng) % KSLOTS);
    char tag[64], dg[OCIDIR_DIGEST_MAX], label[64];
    tag_name(tag, sizeof tag, w->p, w->t, k);
    int gz = (int)(rnd(&w->rng) % 2);
    ocidir_layer_writer_t *lw = NULL;
    ocidir_builder_t *b = NULL;
    int rc = ocidir_layer_writer_new(w->d, gz ? OCIDIR_COMPRESSION_GZIP : OCIDIR_COMPRESSION_NONE, gz ? 1 : 0,
                                     gz ? 1 : 0, &lw);
    const char *stage = "layer writer";
    if (rc == 0) {
        size_t len = 512 + rnd(&w->rng) % 8192;
        unsigned char *buf = malloc(len);
        if (!buf)
            abort();
        fill(buf, len, &w->rng);
        rc = ocidir_layer_writer_write(lw, buf, len);
        free(buf);
    }
    if (rc == 0) {
        stage = "builder_new";
        rc = ocidir_builder_new(w->d, "linux/amd64", &b);
    }
    if (rc == 0) {
        stage = "builder_add_layer_writer";
        rc = ocidir_builder_add_layer_writer(b, lw, "torture");
        lw = NULL; /* freed whether it succeeded or not */
    }
    if (rc == 0) {
        snprintf(label, sizeof label, "%" PRIu64, rnd(&w->rng));
        stage = "builder_set_label";
        rc = ocidir_builder_set_label(b, "torture.nonce", label);
    }
    if (rc == 0) {
        stage = "builder_commit";
        rc = ocidir_builder_commit(b, tag, 0, dg);
    }
    ocidir_layer_writer_abort(lw);
    ocidir_builder_free(b);
    if (rc == 0) {
        log_line(w, "set %s %s\n", tag, dg);
        strcpy(w->slot[k], dg);
        w->ok[OP_BUILD]++;
    } else if (documented_not_found(rc)) {
        w->documented[OP_BUILD]++;
    } else {
        violation(w, stage, rc);
    }
}

/* A slot of this thread that is set, other than `not`, or -1. */
static int pick_set_slot(worker_t *w, int not)
{
    int start = (int)(rnd(&w->rng) % KSLOTS);
    for (int i = 0; i < KSLOTS; i++) {
        int j = (start + i) % KSLOTS;
        if (j != not && w->slot[j][0])
            return j;
    }
    return -1;
}

/* Move an owned tag to the image of another owned tag.  That image stays
 * referenced (by the other tag, which only this thread changes) for the
 * whole op, so no gc may take it: tag_set must succeed. */
static void op_move(worker_t *w)
{
    int k = (int)(rnd(&w->rng) % KSLOTS);
    int j = pick_set_slot(w, k);
    if (j < 0)
        return;
    char tag[64], dg[OCIDIR_DIGEST_MAX];
    tag_name(tag, sizeof tag, w->p, w->t, k);
    strcpy(dg, w->slot[j]);
    int rc = ocidir_tag_set(w->d, tag, dg, 0);
    if (rc != 0) {
        violation(w, "tag move to a referenced image", rc);
        return;
    }
    log_line(w, "set %s %s\n", tag, dg);
    strcpy(w->slot[k], dg);
    w->ok[OP_MOVE]++;
}

/* Untag an owned tag: 0 when it is set, NOT_FOUND when it is not. */
static void op_untag(worker_t *w)
{
    int k = (int)(rnd(&w->rng) % KSLOTS);
    char tag[64];
    tag_name(tag, sizeof tag, w->p, w->t, k);
    int rc = ocidir_tag_remove(w->d, tag);
    int want = w->slot[k][0] ? 0 : OCIDIR_E_NOT_FOUND;
    if (rc != want) {
        violation(w, w->slot[k][0] ? "untag of a set owned tag" : "untag of an unset owned tag", rc);
        return;
    }
    if (rc == 0) {
        log_line(w, "unset %s\n", tag);
        w->slot[k][0] = 0;
    }
    w->ok[OP_UNTAG]++;
}

static int read_image(ocidir_t *d, const char *ref);

/* Stream one blob from SRC into L, verified on both sides.  Returns 0,
 * OCIDIR_E_NOT_FOUND for the documented commit race (see op_put()), or CHECK
 * after reporting a violation. */
static int copy_blob(worker_t *w, ocidir_t *src, const char *digest, uint64_t size)
{
    ocidir_blob_reader_t *r = NULL;
    int rc = ocidir_blob_open(src, digest, (int64_t)size, &r);
    if (rc != 0) {
        violation(w, "import: opening a SRC blob", rc);
        return CHECK;
    }
    ocidir_blob_writer_t *bw = NULL;
    rc = ocidir_blob_writer_new(w->d, OCIDIR_SHA256, &bw);
    if (rc == 0)
        rc = ocidir_blob_writer_expect(bw, digest, (int64_t)size);
    char buf[8192];
    while (rc == 0) {
        ssize_t n = ocidir_blob_reader_read(r, buf, sizeof buf);
        if (n < 0) {
            violation(w, "import: reading a SRC blob", (int)n);
            rc = CHECK;
            break;
        }
        if (n == 0)
            break;
        rc = ocidir_blob_writer_write(bw, buf, (size_t)n);
    }
    ocidir_blob_reader_close(r);
    if (rc == 0) {
        rc = ocidir_blob_writer_commit(bw, NULL, NULL);
        if (rc != 0 && !documented_not_found(rc)) {
            violation(w, "import: committing a blob", rc);
            rc = CHECK;
        }
    } else {
        if (rc != CHECK) {
            violation(w, "import: writing a blob", rc);
            rc = CHECK;
        }
        ocidir_blob_writer_abort(bw);
    }
    return rc;
}

/* Import image i of SRC into L under an owned tag: layers, config, manifest,
 * then ocidir_tag_set(). */
static void op_import(worker_t *w, ocidir_t *src)
{
    int i = (int)(rnd(&w->rng) % NSRC), k = (int)(rnd(&w->rng) % KSLOTS);
    char tag[64], srctag[32];
    tag_name(tag, sizeof tag, w->p, w->t, k);
    snprintf(srctag, sizeof srctag, "src-%d", i);
    ocidir_image_t *img = NULL;
    int rc = ocidir_image_open(src, srctag, "linux/amd64", &img);
    if (rc != 0) {
        violation(w, "import: opening the SRC image", rc);
        return;
    }
    for (size_t l = 0; rc == 0 && l < ocidir_image_layer_count(img); l++) {
        char dg[OCIDIR_DIGEST_MAX];
        uint64_t sz = 0;
        rc = ocidir_image_layer(img, l, NULL, dg, &sz);
        if (rc != 0) {
            violation(w, "import: a SRC layer descriptor", rc);
            rc = CHECK;
        }
        if (rc == 0)
            rc = copy_blob(w, src, dg, sz);
    }
    char cdg[OCIDIR_DIGEST_MAX], mdg[OCIDIR_DIGEST_MAX];
    uint64_t csz = 0;
    const void *mbuf = NULL;
    size_t mlen = 0;
    if (rc == 0 && (ocidir_image_config_descriptor(img, NULL, cdg, &csz) != 0 ||
                    ocidir_image_manifest(img, mdg, &mbuf, &mlen) != 0)) {
        violation(w, "import: the SRC config descriptor or manifest", OCIDIR_E_INVALID);
        rc = CHECK;
    }
    if (rc == 0)
        rc = copy_blob(w, src, cdg, csz);
    char put[OCIDIR_DIGEST_MAX];
    if (rc == 0) {
        rc = ocidir_blob_put(w->d, mbuf, mlen, put);
        if (rc != 0 && !documented_not_found(rc)) {
            violation(w, "import: putting the manifest", rc);
            rc = CHECK;
        }
        if (rc == 0 && strcmp(put, mdg) != 0) {
            violation(w, "import: manifest digest changed in the copy", CHECK);
            rc = CHECK;
        }
    }
    ocidir_image_close(img);
    if (rc == OCIDIR_E_NOT_FOUND && documented_not_found(rc))
        w->documented[OP_IMPORT]++;
    if (rc != 0)
        return; /* a documented failure, or a violation already reported */
    rc = ocidir_tag_set(w->d, tag, mdg, 0);
    if (rc == 0) {
        log_line(w, "set %s %s\n", tag, mdg);
        strcpy(w->slot[k], mdg);
        /* From now on the tag keeps every blob of the image from gc: one
         * missing now was missing when the tag was published. */
        rc = read_image(w->d, tag);
        if (rc == OCIDIR_E_NOT_FOUND && opt_short_grace && !opt_strict_import) {
            /* Known gap: ocidir_tag_set() re-checks under the index lock only
             * the manifest itself, not the config and layers it references.
             * A grace-0 gc that ran between the copy of a layer and the copy
             * of the manifest collected the layer, and the tag went out naming
             * an incomplete image.  Counted, then repaired by copying the
             * missing blobs again (the tag now protects them from gc). */
            w->import_gap++;
            rc = ocidir_image_open(src, srctag, "linux/amd64", &img);
            for (size_t l = 0; rc == 0 && l < ocidir_image_layer_count(img); l++) {
                char dg[OCIDIR_DIGEST_MAX];
                uint64_t sz = 0;
                rc = ocidir_image_layer(img, l, NULL, dg, &sz);
                if (rc == 0 && ocidir_blob_stat(w->d, dg, NULL) == OCIDIR_E_NOT_FOUND)
                    rc = copy_blob(w, src, dg, sz);
            }
            if (rc == 0 && ocidir_blob_stat(w->d, cdg, NULL) == OCIDIR_E_NOT_FOUND)
                rc = copy_blob(w, src, cdg, csz);
            ocidir_image_close(img);
            if (rc == 0)
                rc = read_image(w->d, tag);
        }
        if (rc != 0)
            violation(w, "import: the tag just published names an incomplete image", rc);
        w->ok[OP_IMPORT]++;
    } else if (documented_not_found(rc)) {
        w->documented[OP_IMPORT]++;
    } else {
        violation(w, "import: tag_set", rc);
    }
}

/* Point a shared tag at the image of an owned tag (referenced, so present). */
static void op_shared_set(worker_t *w)
{
    int j = pick_set_slot(w, -1);
    if (j < 0)
        return;
    char tag[32], dg[OCIDIR_DIGEST_MAX];
    snprintf(tag, sizeof tag, "shared-%d", (int)(rnd(&w->rng) % NSHARED));
    strcpy(dg, w->slot[j]);
    double t0 = now_s();
    int rc = ocidir_tag_set(w->d, tag, dg, 0);
    double t1 = now_s();
    if (rc != 0) {
        violation(w, "shared tag set to a referenced image", rc);
        return;
    }
    log_line(w, "shared-set %s %s %.9f %.9f\n", tag, dg, t0, t1);
    w->ok[OP_SHARED_SET]++;
}

static void op_shared_unset(worker_t *w)
{
    char tag[32];
    snprintf(tag, sizeof tag, "shared-%d", (int)(rnd(&w->rng) % NSHARED));
    double t0 = now_s();
    int rc = ocidir_tag_remove(w->d, tag);
    double t1 = now_s();
    if (rc == 0)
        log_line(w, "shared-unset %s - %.9f %.9f\n", tag, t0, t1);
    else if (rc != OCIDIR_E_NOT_FOUND) /* someone else removed it first */
        violation(w, "shared tag remove", rc);
    w->ok[OP_SHARED_UNSET]++;
}

static size_t count_kind(const ocidir_report_t *r, ocidir_find_kind_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        if (ocidir_report_get(r, i, &k, NULL, NULL, NULL) == 0 && k == kind)
            n++;
    }
    return n;
}

/* gc or cache gc on a freshly opened handle, with the default grace or a
 * short one. */
static void op_gc(worker_t *w, int cache)
{
    ocidir_t *g = NULL;
    int rc = open_l(&g, 0);
    if (rc != 0) {
        violation(w, "gc: opening L", rc);
        return;
    }
    int64_t grace = (opt_short_grace && rnd(&w->rng) % 2) ? (int64_t)(rnd(&w->rng) % 3) : -1;
    ocidir_set_gc_grace(g, grace);
    unsigned flags = rnd(&w->rng) % 8 == 0 ? OCIDIR_GC_DRY_RUN : 0;
    ocidir_report_t *r = NULL;
    if (cache) {
        int cfd = open(dir_cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = cfd < 0 ? OCIDIR_E_IO : ocidir_cache_gc(cfd, &g, 1, TU_GC(flags, NULL, NULL), &r);
        if (cfd >= 0)
            close(cfd);
    } else {
        rc = ocidir_gc(g, TU_GC(flags, NULL, NULL), &r);
    }
    if (rc == OCIDIR_E_NOT_FOUND && opt_short_grace && !opt_strict_import) {
        /* gc refuses to sweep a damaged graph: another thread's import may
         * have published a tag to an incomplete image (op_import()) and not
         * yet repaired it. */
        w->gc_refused++;
        w->documented[cache ? OP_CACHE_GC : OP_GC]++;
    } else if (rc != 0) {
        violation(w, cache ? "cache gc" : "gc", rc);
    } else {
        w->gc_removed += (long)count_kind(r, OCIDIR_FIND_REMOVED);
        w->ok[cache ? OP_CACHE_GC : OP_GC]++;
    }
    ocidir_report_free(r);
    ocidir_close(g);
}

/* Read-only fsck while everything else runs: only "missing" damage, for a
 * blob a concurrent gc removed after the snapshot, is allowed. */
static void op_fsck(worker_t *w)
{
    ocidir_report_t *r = NULL;
    int rc = ocidir_fsck(w->d, TU_FSCK(0, 1, NULL, NULL), &r);
    if (rc != 0) {
        violation(w, "fsck", rc);
        return;
    }
    size_t damage = ocidir_report_damage(r), missing = count_kind(r, OCIDIR_FIND_MISSING);
    if (damage != missing) {
        for (size_t i = 0; i < ocidir_report_count(r); i++) {
            ocidir_find_kind_t k;
            const char *subj = NULL, *msg = NULL;
            ocidir_report_get(r, i, &k, &subj, NULL, &msg);
            if (k <= OCIDIR_FIND_IO && k != OCIDIR_FIND_MISSING)
                fprintf(stderr, "  fsck %s %s: %s\n", ocidir_find_kind_name(k), subj, msg);
        }
        violation(w, "concurrent fsck found damage other than a blob collected meanwhile", CHECK);
    } else if (missing) {
        w->fsck_transient_missing += (long)missing;
        w->documented[OP_FSCK]++;
    } else {
        w->ok[OP_FSCK]++;
    }
    ocidir_report_free(r);
}

/* Open an image and read its config and every layer to a verified end. */
static int read_image(ocidir_t *d, const char *ref)
{
    ocidir_image_t *img = NULL;
    int rc = ocidir_image_open(d, ref, "linux/amd64", &img);
    if (rc != 0)
        return rc;
    char cdg[OCIDIR_DIGEST_MAX];
    uint64_t csz = 0;
    void *cbuf = NULL;
    rc = ocidir_image_config_descriptor(img, NULL, cdg, &csz);
    if (rc == 0)
        rc = ocidir_blob_read_all(d, cdg, (int64_t)csz, 1 << 20, &cbuf, NULL);
    ocidir_free(cbuf);
    for (size_t l = 0; rc == 0 && l < ocidir_image_layer_count(img); l++) {
        ocidir_layer_reader_t *lr = NULL;
        rc = ocidir_image_layer_open(img, l, &lr);
        char buf[8192];
        ssize_t n = 1;
        while (rc == 0 && n > 0) {
            n = ocidir_layer_reader_read(lr, buf, sizeof buf);
            if (n < 0)
                rc = (int)n;
        }
        ocidir_layer_reader_close(lr);
    }
    ocidir_image_close(img);
    return rc;
}

/* An owned tag resolves to exactly what this thread last set, and its image
 * reads whole; an unset one is NOT_FOUND. */
static void op_read(worker_t *w)
{
    int k = (int)(rnd(&w->rng) % KSLOTS);
    char tag[64], dg[OCIDIR_DIGEST_MAX];
    tag_name(tag, sizeof tag, w->p, w->t, k);
    int rc = ocidir_resolve(w->d, tag, dg, NULL, NULL);
    if (!w->slot[k][0]) {
        if (rc != OCIDIR_E_NOT_FOUND)
            violation(w, "resolve of an unset owned tag", rc);
        else
            w->ok[OP_READ]++;
        return;
    }
    if (rc != 0) {
        violation(w, "resolve of a set owned tag", rc);
        return;
    }
    if (strcmp(dg, w->slot[k]) != 0) {
        fprintf(stderr, "  %s resolves to %s, last set to %s\n", tag, dg, w->slot[k]);
        violation(w, "owned tag resolves to another value than its writer set", CHECK);
        return;
    }
    rc = read_image(w->d, tag);
    if (rc != 0)
        violation(w, "reading the image of an owned tag", rc);
    else
        w->ok[OP_READ]++;
}

/* A shared tag may be moved, and its old image collected, while it is read:
 * NOT_FOUND is the only other allowed outcome. */
static void op_read_shared(worker_t *w)
{
    char tag[32];
    snprintf(tag, sizeof tag, "shared-%d", (int)(rnd(&w->rng) % NSHARED));
    int rc = read_image(w->d, tag);
    if (rc == 0)
        w->ok[OP_READ_SHARED]++;
    else if (rc == OCIDIR_E_NOT_FOUND)
        w->documented[OP_READ_SHARED]++;
    else
        violation(w, "reading the image of a shared tag", rc);
}

/* ---- A minimal strict JSON parser (for index.json) ------------------------ */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
typedef struct jv {
    int type;
    char *str;        /* J_STR */
    size_t n;         /* elements of J_ARR / members of J_OBJ */
    char **keys;      /* J_OBJ */
    struct jv **vals; /* J_ARR, J_OBJ */
} jv_t;

typedef struct {
    const char *p, *end;
    const char *err;
} jp_t;

static void jv_free(jv_t *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys)
            free(v->keys[i]);
        jv_free(v->vals[i]);
    }
    free(v->keys);
    free(v->vals);
    free(v->str);
    free(v);
}

static void jws(jp_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static jv_t *jparse(jp_t *j, int depth);

static char *jstring(jp_t *j)
{
    if (j->p >= j->end || *j->p != '"') {
        j->err = "expected a string";
        return NULL;
    }
    j->p++;
    size_t cap = 16, len = 0;
    char *s = malloc(cap);
    if (!s)
        abort();
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20) {
            j->err = "control character in a string";
            free(s);
            return NULL;
        }
        if (c == '\\') {
            if (j->p >= j->end)
                break;
            char e = *j->p++;
            if (e == 'u') {
                for (int i = 0; i < 4; i++, j->p++)
                    if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p) || !*j->p) {
                        j->err = "bad \\u escape";
                        free(s);
                        return NULL;
                    }
                c = '?'; /* tags and digests are ASCII; the code point itself is not needed */
            } else if (strchr("\"\\/bfnrt", e) && e) {
                c = (unsigned char)(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e);
            } else {
                j->err = "bad escape";
                free(s);
                return NULL;
            }
        }
        if (len + 2 > cap && !(s = realloc(s, cap *= 2)))
            abort();
        s[len++] = (char)c;
    }
    if (j->p >= j->end) {
        j->err = "unterminated string";
        free(s);
        return NULL;
    }
    j->p++;
    s[len] = 0;
    return s;
}

static jv_t *jnew(int type)
{
    jv_t *v = calloc(1, sizeof *v);
    if (!v)
        abort();
    v->type = type;
    return v;
}

static void jpush(jv_t *v, char *key, jv_t *val)
{
    if (!(v->vals = realloc(v->vals, (v->n + 1) * sizeof *v->vals)))
        abort();
    if (v->type == J_OBJ && !(v->keys = realloc(v->keys, (v->n + 1) * sizeof *v->keys)))
        abort();
    if (v->type == J_OBJ)
        v->keys[v->n] = key;
    v->vals[v->n++] = val;
}

static jv_t *jparse(jp_t *j, int depth)
{
    jws(j);
    if (depth > 64) {
        j->err = "nested too deeply";
        return NULL;
    }
    if (j->p >= j->end) {
        j->err = "unexpected end";
        return NULL;
    }
    char c = *j->p;
    if (c == '{' || c == '[') {
        jv_t *v = jnew(c == '{' ? J_OBJ : J_ARR);
        char close = c == '{' ? '}' : ']';
        j->p++;
        jws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return v;
        }
        for (;;) {
            char *key = NULL;
            jws(j);
            if (v->type == J_OBJ) {
                if (!(key = jstring(j)))
                    break;
                for (size_t i = 0; i < v->n; i++)
                    if (strcmp(v->keys[i], key) == 0)
                        j->err = "duplicate key in an object";
                jws(j);
                if (j->err || j->p >= j->end || *j->p != ':') {
                    if (!j->err)
                        j->err = "expected ':'";
                    free(key);
                    break;
                }
                j->p++;
            }
            jv_t *e = jparse(j, depth + 1);
            if (!e) {
                free(key);
                break;
            }
            jpush(v, key, e);
            jws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                return v;
            }
            j->err = "expected ',' or the end of a container";
            break;
        }
        jv_free(v);
        return NULL;
    }
    if (c == '"') {
        char *s = jstring(j);
        if (!s)
            return NULL;
        jv_t *v = jnew(J_STR);
        v->str = s;
        return v;
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(j->end - j->p) >= n && memcmp(j->p, words[i], n) == 0) {
            j->p += n;
            return jnew(i == 2 ? J_NULL : J_BOOL);
        }
    }
    /* A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0') {
        j->p++;
    } else if (j->p < j->end && *j->p >= '1' && *j->p <= '9') {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    } else {
        j->err = "unexpected character";
        return NULL;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        const char *f = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
        if (j->p == f) {
            j->err = "bad fraction";
            return NULL;
        }
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        const char *f = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
        if (j->p == f) {
            j->err = "bad exponent";
            return NULL;
        }
    }
    return jnew(J_NUM);
}

static jv_t *jget(const jv_t *o, const char *key)
{
    if (!o || o->type != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return o->vals[i];
    return NULL;
}

/* One tag of index.json and its digest. */
typedef struct {
    char tag[128];
    char digest[OCIDIR_DIGEST_MAX];
} entry_t;

/* Parse an index.json document: valid JSON, no duplicate key, an object with
 * a "manifests" array whose tagged entries name each tag once.  Returns the
 * number of tagged entries (into *out, malloc'd), or -1 with *err set. */
static int parse_index(const char *buf, size_t len, entry_t **out, const char **err)
{
    jp_t j = {buf, buf + len, NULL};
    jv_t *root = jparse(&j, 0);
    if (root) {
        jws(&j);
        if (j.p != j.end)
            j.err = "trailing bytes after the document";
    }
    int n = -1;
    jv_t *m = root ? jget(root, "manifests") : NULL;
    if (!j.err && (!m || m->type != J_ARR))
        j.err = "no \"manifests\" array";
    if (!j.err) {
        *out = calloc(m->n + 1, sizeof **out);
        if (!*out)
            abort();
        n = 0;
        for (size_t i = 0; i < m->n && !j.err; i++) {
            jv_t *dg = jget(m->vals[i], "digest");
            jv_t *tag = jget(jget(m->vals[i], "annotations"), OCIDIR_ANNOTATION_REF_NAME);
            if (!dg || dg->type != J_STR || strlen(dg->str) >= OCIDIR_DIGEST_MAX) {
                j.err = "an entry without a valid digest";
                break;
            }
            if (!tag)
                continue;
            if (tag->type != J_STR || strlen(tag->str) >= sizeof(*out)[0].tag) {
                j.err = "a ref.name that is not a short string";
                break;
            }
            for (int e = 0; e < n; e++)
                if (strcmp((*out)[e].tag, tag->str) == 0)
                    j.err = "a tag carried by two entries";
            snprintf((*out)[n].tag, sizeof(*out)[n].tag, "%s", tag->str);
            snprintf((*out)[n].digest, sizeof(*out)[n].digest, "%s", dg->str);
            n++;
        }
        if (j.err) {
            free(*out);
            *out = NULL;
            n = -1;
        }
    }
    jv_free(root);
    *err = j.err;
    return n;
}

static ssize_t read_file(const char *path, char **buf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t cap = 65536, len = 0;
    *buf = malloc(cap);
    if (!*buf)
        abort();
    for (;;) {
        if (len == cap && !(*buf = realloc(*buf, cap *= 2)))
            abort();
        ssize_t n = read(fd, *buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            free(*buf);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    return (ssize_t)len;
}

/* Readers take no lock and must always see a whole index.json. */
static void op_peek(worker_t *w)
{
    char path[4300], *buf = NULL;
    snprintf(path, sizeof path, "%s/index.json", dir_l);
    ssize_t len = read_file(path, &buf);
    if (len < 0) {
        violation(w, "reading index.json", OCIDIR_E_IO);
        return;
    }
    entry_t *e = NULL;
    const char *err = NULL;
    int n = parse_index(buf, (size_t)len, &e, &err);
    if (n < 0) {
        fprintf(stderr, "  index.json seen by a reader: %s\n", err);
        violation(w, "index.json read mid-run is not a whole, valid index", CHECK);
    } else {
        /* This thread's own tags must read as it last set them. */
        for (int k = 0; k < KSLOTS; k++) {
            char tag[64];
            tag_name(tag, sizeof tag, w->p, w->t, k);
            const char *got = NULL;
            for (int i = 0; i < n; i++)
                if (strcmp(e[i].tag, tag) == 0)
                    got = e[i].digest;
            if (got ? strcmp(got, w->slot[k]) != 0 : w->slot[k][0] != 0) {
                fprintf(stderr, "  index.json has %s = %s, its writer set %s\n", tag, got ? got : "(none)",
                        w->slot[k][0] ? w->slot[k] : "(none)");
                violation(w, "index.json read mid-run disagrees with an owned tag", CHECK);
            }
        }
        w->ok[OP_PEEK]++;
    }
    free(e);
    free(buf);
}

/* ---- Workers ------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    ocidir_t *src = NULL;
    int rc = ocidir_open(AT_FDCWD, dir_src, OCIDIR_OPEN_RDONLY, &src);
    if (rc != 0) {
        violation(w, "opening SRC read-only", rc);
        return NULL;
    }
    int total = 0;
    for (int i = 0; i < OP_N; i++)
        total += op_weight[i];
    while (now_s() < w->deadline) {
        int x = (int)(rnd(&w->rng) % (uint64_t)total), op = 0;
        while (x >= op_weight[op])
            x -= op_weight[op++];
        switch (op) {
        case OP_PUT: op_put(w); break;
        case OP_BUILD: op_build(w); break;
        case OP_MOVE: op_move(w); break;
        case OP_UNTAG: op_untag(w); break;
        case OP_IMPORT: op_import(w, src); break;
        case OP_SHARED_SET: op_shared_set(w); break;
        case OP_SHARED_UNSET: op_shared_unset(w); break;
        case OP_GC: op_gc(w, 0); break;
        case OP_CACHE_GC: op_gc(w, 1); break;
        case OP_FSCK: op_fsck(w); break;
        case OP_READ: op_read(w); break;
        case OP_READ_SHARED: op_read_shared(w); break;
        case OP_PEEK: op_peek(w); break;
        }
        if (w->violations > 20)
            break;
    }
    ocidir_close(src);
    /* The counters, for the parent's summary. */
    fprintf(w->log, "stats");
    for (int i = 0; i < OP_N; i++)
        fprintf(w->log, " %ld %ld", w->ok[i], w->documented[i]);
    fprintf(w->log, " %ld %ld %ld %ld %d\n", w->fsck_transient_missing, w->gc_removed, w->import_gap,
            w->gc_refused, w->violations);
    fflush(w->log);
    return NULL;
}

static int child_main(int p, double deadline)
{
    ocidir_t *shared = NULL;
    int rc = open_l(&shared, 1);
    if (rc != 0) {
        fprintf(stderr, "concurrency torture: p%d: opening L: %s\n", p, ocidir_last_error());
        return 1;
    }
    worker_t *ws = calloc((size_t)opt_threads, sizeof *ws);
    pthread_t *tids = calloc((size_t)opt_threads, sizeof *tids);
    if (!ws || !tids)
        abort();
    int bad = 0;
    for (int t = 0; t < opt_threads; t++) {
        worker_t *w = &ws[t];
        w->p = p;
        w->t = t;
        w->deadline = deadline;
        w->rng = (opt_seed * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)(p + 1) << 32) ^ (uint64_t)(t + 1) * 0x2545F491ULL;
        if (!w->rng)
            w->rng = 1;
        char path[4400];
        snprintf(path, sizeof path, "%s/p%d-t%d.log", dir_logs, p, t);
        w->log = fopen(path, "w");
        if (!w->log) {
            perror(path);
            return 1;
        }
        if (t % 2 == 0) {
            w->d = shared;
        } else {
            rc = open_l(&w->d, 0);
            if (rc != 0) {
                fprintf(stderr, "concurrency torture: p%d-t%d: opening L: %s\n", p, t, ocidir_last_error());
                return 1;
            }
            w->own_handle = 1;
        }
    }
    for (int t = 0; t < opt_threads; t++)
        if (pthread_create(&tids[t], NULL, worker_main, &ws[t]) != 0) {
            fprintf(stderr, "concurrency torture: p%d: pthread_create failed\n", p);
            return 1;
        }
    for (int t = 0; t < opt_threads; t++) {
        pthread_join(tids[t], NULL);
        bad |= ws[t].violations != 0;
        if (ws[t].own_handle)
            ocidir_close(ws[t].d);
        fclose(ws[t].log);
    }
    ocidir_close(shared);
    free(ws);
    free(tids);
    return bad;
}

/* ---- Setup --------------------------------------------------------------- */

static void make_src(void)
{
    ocidir_t *s = NULL;
    if (ocidir_open(AT_FDCWD, dir_src, OCIDIR_OPEN_CREATE, &s) != 0)
        die("creating %s", dir_src);
    uint64_t rng = opt_seed ^ 0x5eed;
    for (int i = 0; i < NSRC; i++) {
        ocidir_builder_t *b = NULL;
        if (ocidir_builder_new(s, "linux/amd64", &b) != 0)
            die("builder in SRC");
        for (int l = 0; l < 1 + i % 3; l++) {
            ocidir_layer_writer_t *lw = NULL;
            size_t len = 4096 + rnd(&rng) % 60000;
            unsigned char *buf = malloc(len);
            if (!buf)
                abort();
            fill(buf, len, &rng);
            if (ocidir_layer_writer_new(s, l % 2 ? OCIDIR_COMPRESSION_GZIP : OCIDIR_COMPRESSION_NONE, 0,
                                        l % 2 ? 1 : 0, &lw) != 0 ||
                ocidir_layer_writer_write(lw, buf, len) != 0 || ocidir_builder_add_layer_writer(b, lw, "src") != 0)
                die("a SRC layer");
            free(buf);
        }
        char tag[32];
        snprintf(tag, sizeof tag, "src-%d", i);
        if (ocidir_builder_set_label(b, "src.index", tag) != 0 || ocidir_builder_commit(b, tag, 0, src_digest[i]) != 0)
            die("committing %s", tag);
        ocidir_builder_free(b);
    }
    ocidir_close(s);
}

/* A listing of a tree (path, type, size, mtime) to prove it unchanged. */
static char *listing_buf;
static size_t listing_len;
static int listing_cb(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)type;
    (void)f;
    char line[4600];
    int n = snprintf(line, sizeof line, "%s %o %lld %lld.%09ld\n", path, st->st_mode, (long long)st->st_size,
                     (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    if (!(listing_buf = realloc(listing_buf, listing_len + (size_t)n + 1)))
        abort();
    memcpy(listing_buf + listing_len, line, (size_t)n + 1);
    listing_len += (size_t)n;
    return 0;
}
static char *listing(const char *root)
{
    listing_buf = NULL;
    listing_len = 0;
    if (nftw(root, listing_cb, 16, FTW_PHYS) != 0 || !listing_buf)
        return strdup("(unlistable)");
    return listing_buf;
}

static int rm_cb(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st;
    (void)f;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* ---- Final checks -------------------------------------------------------- */

typedef struct {
    char tag[128];
    char value[OCIDIR_DIGEST_MAX]; /* "" = unset */
    double t0, t1;
} sop_t;

static int fails;
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "concurrency torture: VIOLATION: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fails++;
}

/* Entries of dir whose names start with prefix (-1: dir absent). */
static int count_prefix(const char *dir, const char *prefix, int print)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            n++;
            if (print)
                fprintf(stderr, "  left behind: %s/%s\n", dir, e->d_name);
        }
    closedir(dh);
    return n;
}

/* Every file in a blob directory hashes to its name: nothing half-written was
 * ever published.  Returns the number of blobs. */
static long verify_blob_dir(ocidir_t *d, const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        fail("cannot list %s", dir);
        return 0;
    }
    long n = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (e->d_name[0] == '.')
            continue;
        char dg[300];
        snprintf(dg, sizeof dg, "sha256:%s", e->d_name);
        void *buf = NULL;
        int rc = ocidir_blob_read_all(d, dg, -1, (size_t)1 << 30, &buf, NULL);
        ocidir_free(buf);
        if (rc != 0)
            fail("blob %s in %s does not verify: %s", e->d_name, dir, ocidir_last_error());
        n++;
    }
    closedir(dh);
    return n;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--procs") && v)
            opt_procs = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && v)
            opt_threads = atoi(argv[++i]);
        else if (!strcmp(a, "--seconds") && v)
            opt_seconds = atoi(argv[++i]);
        else if (!strcmp(a, "--seed") && v)
            opt_seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(a, "--dir") && v)
            snprintf(opt_dir, sizeof opt_dir, "%s", argv[++i]);
        else if (!strcmp(a, "--keep"))
            opt_keep = 1;
        else if (!strcmp(a, "--no-short-grace"))
            opt_short_grace = 0;
        else if (!strcmp(a, "--strict-import"))
            opt_strict_import = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--procs P] [--threads T] [--seconds S] [--seed N] [--dir DIR] [--keep] "
                    "[--no-short-grace] [--strict-import]\n",
                    argv[0]);
            return 2;
        }
    }
    /* CONC_TORTURE_SECONDS overrides the duration (for a long recorded run
     * through ctest). */
    const char *env_s = getenv("CONC_TORTURE_SECONDS");
    if (env_s && *env_s)
        opt_seconds = atoi(env_s);
    if (opt_procs < 1 || opt_threads < 1 || opt_seconds < 1 || opt_procs > 64 || opt_threads > 64) {
        fprintf(stderr, "concurrency torture: --procs and --threads take 1..64, --seconds at least 1\n");
        return 2;
    }
    int made_dir = 0;
    if (!opt_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(opt_dir, sizeof opt_dir, "%s/ocidir-conc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(opt_dir))
            die("mkdtemp %s: %s", opt_dir, strerror(errno));
        made_dir = 1;
    } else if (mkdir(opt_dir, 0755) != 0 && errno != EEXIST) {
        die("mkdir %s: %s", opt_dir, strerror(errno));
    }
    snprintf(dir_l, sizeof dir_l, "%s/L", opt_dir);
    snprintf(dir_cache, sizeof dir_cache, "%s/cache", opt_dir);
    snprintf(dir_src, sizeof dir_src, "%s/SRC", opt_dir);
    snprintf(dir_logs, sizeof dir_logs, "%s/logs", opt_dir);
    char cache_sha[4300];
    snprintf(cache_sha, sizeof cache_sha, "%s/sha256", dir_cache);
    if (mkdir(dir_cache, 0755) != 0 || mkdir(cache_sha, 0755) != 0 || mkdir(dir_logs, 0755) != 0)
        die("%s must be empty: %s", opt_dir, strerror(errno));
    make_src();
    ocidir_t *l = NULL;
    if (ocidir_open(AT_FDCWD, dir_l, OCIDIR_OPEN_CREATE, &l) != 0)
        die("creating %s", dir_l);
    ocidir_close(l);
    char *src_before = listing(dir_src);

    /* Children are forked before any thread exists in this process. */
    double t_start = now_s(), deadline = t_start + opt_seconds;
    pid_t *pids = calloc((size_t)opt_procs, sizeof *pids);
    if (!pids)
        abort();
    for (int p = 0; p < opt_procs; p++) {
        fflush(NULL);
        pids[p] = fork();
        if (pids[p] < 0)
            die("fork: %s", strerror(errno));
        if (pids[p] == 0)
            _exit(child_main(p, deadline));
    }
    /* Wait, with a bound: a child still running 120 s past the deadline is
     * hung (a lock never released, say). */
    int alive = opt_procs;
    while (alive > 0) {
        int st = 0;
        pid_t w = waitpid(-1, &st, WNOHANG);
        if (w < 0)
            break;
        if (w == 0) {
            if (now_s() > deadline + 120) {
                for (int p = 0; p < opt_procs; p++)
                    if (pids[p] > 0) {
                        fail("process %d (pid %d) still running 120 s after the deadline: killed", p, (int)pids[p]);
                        kill(pids[p], SIGKILL);
                    }
                while (waitpid(-1, NULL, 0) > 0)
                    ;
                break;
            }
            usleep(20000);
            continue;
        }
        for (int p = 0; p < opt_procs; p++)
            if (pids[p] == w) {
                pids[p] = 0;
                if (!WIFEXITED(st))
                    fail("process %d died with signal %d", p, WTERMSIG(st));
                else if (WEXITSTATUS(st) != 0)
                    fail("process %d exited %d", p, WEXITSTATUS(st));
            }
        alive--;
    }
    double elapsed = now_s() - t_start;

    /* The logs: owned tags' last op, shared tags' ops, counters. */
    int nowned = opt_procs * opt_threads * KSLOTS;
    char(*expect)[OCIDIR_DIGEST_MAX] = calloc((size_t)nowned, sizeof *expect);
    size_t nsop = 0, capsop = 1024;
    sop_t *sops = malloc(capsop * sizeof *sops);
    long ok[OP_N] = {0}, doc[OP_N] = {0}, fsck_missing = 0, gc_removed = 0, logged = 0, import_gap = 0,
         gc_refused = 0;
    if (!expect || !sops)
        abort();
    for (int p = 0; p < opt_procs; p++)
        for (int t = 0; t < opt_threads; t++) {
            char path[4400], line[MAXLINE];
            snprintf(path, sizeof path, "%s/p%d-t%d.log", dir_logs, p, t);
            FILE *f = fopen(path, "r");
            if (!f) {
                fail("no log %s", path);
                continue;
            }
            int stats = 0;
            while (fgets(line, sizeof line, f)) {
                char tag[128], dg[OCIDIR_DIGEST_MAX];
                int pp, tt, kk;
                double t0, t1;
                logged++;
                if (sscanf(line, "set p%d-t%d-k%d %135s", &pp, &tt, &kk, dg) == 4 && pp == p && tt == t && kk >= 0 &&
                    kk < KSLOTS) {
                    strcpy(expect[(p * opt_threads + t) * KSLOTS + kk], dg);
                } else if (sscanf(line, "unset p%d-t%d-k%d", &pp, &tt, &kk) == 3 && pp == p && tt == t && kk >= 0 &&
                           kk < KSLOTS) {
                    expect[(p * opt_threads + t) * KSLOTS + kk][0] = 0;
                } else if (sscanf(line, "shared-%*[a-z] %127s %135s %lf %lf", tag, dg, &t0, &t1) == 4) {
                    if (nsop == capsop && !(sops = realloc(sops, (capsop *= 2) * sizeof *sops)))
                        abort();
                    snprintf(sops[nsop].tag, sizeof sops[nsop].tag, "%s", tag);
                    snprintf(sops[nsop].value, sizeof sops[nsop].value, "%s", strcmp(dg, "-") ? dg : "");
                    sops[nsop].t0 = t0;
                    sops[nsop].t1 = t1;
                    nsop++;
                } else if (strncmp(line, "stats", 5) == 0) {
                    char *s = line + 5;
                    for (int i = 0; i < OP_N; i++) {
                        ok[i] += strtol(s, &s, 10);
                        doc[i] += strtol(s, &s, 10);
                    }
                    fsck_missing += strtol(s, &s, 10);
                    gc_removed += strtol(s, &s, 10);
                    import_gap += strtol(s, &s, 10);
                    gc_refused += strtol(s, &s, 10);
                    stats = 1;
                    logged--;
                } else {
                    fail("unparsable log line in %s: %s", path, line);
                }
            }
            fclose(f);
            if (!stats)
                fail("%s has no closing stats line (thread did not finish)", path);
        }

    /* index.json: whole, valid, each tag once. */
    char ipath[4300], *ibuf = NULL;
    snprintf(ipath, sizeof ipath, "%s/index.json", dir_l);
    ssize_t ilen = read_file(ipath, &ibuf);
    entry_t *ents = NULL;
    const char *jerr = "unreadable";
    int nents = ilen < 0 ? -1 : parse_index(ibuf, (size_t)ilen, &ents, &jerr);
    free(ibuf);
    long lost = 0, shared_bad = 0, unknown = 0, images = 0;
    if (nents < 0) {
        fail("index.json is not a valid index: %s", jerr);
        nents = 0;
    }
    /* Owned tags: the final state equals the last logged op. */
    for (int i = 0; i < nowned; i++) {
        int p = i / (opt_threads * KSLOTS), t = (i / KSLOTS) % opt_threads, k = i % KSLOTS;
        char tag[64];
        tag_name(tag, sizeof tag, p, t, k);
        const char *got = NULL;
        for (int e = 0; e < nents; e++)
            if (!strcmp(ents[e].tag, tag))
                got = ents[e].digest;
        if (got ? strcmp(got, expect[i]) != 0 : expect[i][0] != 0) {
            fprintf(stderr, "  lost update: %s is %s, last logged %s\n", tag, got ? got : "(none)",
                    expect[i][0] ? expect[i] : "(none)");
            lost++;
        }
    }
    /* Shared tags: linearizable as a register.  The final value must come
     * from a completed op that no other completed op strictly follows (one
     * that started after it ended would have overwritten it); "absent" may
     * also be the initial state when no op on the tag completed. */
    for (int s = 0; s < NSHARED; s++) {
        char tag[32];
        snprintf(tag, sizeof tag, "shared-%d", s);
        const char *got = "";
        for (int e = 0; e < nents; e++)
            if (!strcmp(ents[e].tag, tag))
                got = ents[e].digest;
        double last_start = -1;
        size_t nops = 0;
        for (size_t i = 0; i < nsop; i++)
            if (!strcmp(sops[i].tag, tag)) {
                nops++;
                if (sops[i].t0 > last_start)
                    last_start = sops[i].t0;
            }
        int okv = nops == 0 && !*got;
        for (size_t i = 0; i < nsop && !okv; i++)
            if (!strcmp(sops[i].tag, tag) && !strcmp(sops[i].value, got) && !(last_start > sops[i].t1))
                okv = 1;
        if (!okv) {
            fprintf(stderr, "  %s is %s: not the value of any op that no later op follows (%zu ops)\n", tag,
                    *got ? got : "(none)", nops);
            shared_bad++;
        }
    }
    /* No other tag. */
    for (int e = 0; e < nents; e++) {
        int pp, tt, kk, ss;
        char x;
        if (!(sscanf(ents[e].tag, "p%d-t%d-k%d%c", &pp, &tt, &kk, &x) == 3 && pp >= 0 && pp < opt_procs && tt >= 0 &&
              tt < opt_threads && kk >= 0 && kk < KSLOTS) &&
            !(sscanf(ents[e].tag, "shared-%d%c", &ss, &x) == 1 && ss >= 0 && ss < NSHARED)) {
            fprintf(stderr, "  unknown tag %s\n", ents[e].tag);
            unknown++;
        }
    }
    if (lost)
        fail("%ld lost updates of owned tags", lost);
    if (shared_bad)
        fail("%ld shared tags hold a value no last writer set", shared_bad);
    if (unknown)
        fail("%ld tags nobody set", unknown);

    /* Every tag is a complete, verified image; fsck finds no damage and no
     * temporary file; nothing half-written is under a blob name. */
    ocidir_t *d = NULL;
    if (open_l(&d, 0) != 0)
        die("reopening L");
    for (int e = 0; e < nents; e++) {
        int rc = read_image(d, ents[e].tag);
        if (rc != 0)
            fail("tag %s (%s) is not a complete image: %s", ents[e].tag, ents[e].digest, ocidir_last_error());
        else
            images++;
    }
    size_t damage = 0, temps = 0;
    ocidir_report_t *r = NULL;
    if (ocidir_fsck(d, NULL, &r) != 0) {
        fail("fsck could not run: %s", ocidir_last_error());
    } else {
        damage = ocidir_report_damage(r);
        temps = count_kind(r, OCIDIR_FIND_TEMP);
        for (size_t i = 0; i < ocidir_report_count(r); i++) {
            ocidir_find_kind_t k;
            const char *subj = NULL, *msg = NULL;
            ocidir_report_get(r, i, &k, &subj, NULL, &msg);
            if (k <= OCIDIR_FIND_IO || k == OCIDIR_FIND_TEMP)
                fprintf(stderr, "  fsck %s %s: %s\n", ocidir_find_kind_name(k), subj, msg);
        }
        if (damage)
            fail("fsck found %zu damage findings", damage);
        if (temps)
            fail("fsck found %zu temporary files", temps);
    }
    ocidir_report_free(r);
    char lsha[4300];
    snprintf(lsha, sizeof lsha, "%s/blobs/sha256", dir_l);
    int left = count_prefix(dir_l, ".ocidir-index-", 1) + count_prefix(lsha, ".ocidir-", 1) +
               count_prefix(cache_sha, ".ocidir-", 1);
    if (left)
        fail("%d temporary files left in the idle layout or cache", left);
    long nblobs = verify_blob_dir(d, lsha) + verify_blob_dir(d, cache_sha);
    /* Nothing appeared beside the layout, and SRC was not changed. */
    int top = count_prefix(opt_dir, "", 0);
    if (top != 2 + 4) /* . .. L cache SRC logs */
        fail("%s holds %d entries, expected L, cache, SRC and logs", opt_dir, top - 2);
    char *src_after = listing(dir_src);
    if (strcmp(src_before, src_after) != 0)
        fail("SRC changed although it was only read");
    free(src_before);
    free(src_after);
    /* A final gc with grace 0 on the idle layout and cache keeps every tagged
     * image whole. */
    ocidir_set_gc_grace(d, 0);
    size_t final_removed = 0;
    if (ocidir_gc(d, NULL, &r) != 0)
        fail("final gc: %s", ocidir_last_error());
    final_removed += count_kind(r, OCIDIR_FIND_REMOVED);
    ocidir_report_free(r);
    int cfd = open(dir_cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ocidir_cache_gc(cfd, &d, 1, NULL, &r) != 0)
        fail("final cache gc: %s", ocidir_last_error());
    close(cfd);
    final_removed += count_kind(r, OCIDIR_FIND_REMOVED);
    ocidir_report_free(r);
    for (int e = 0; e < nents; e++)
        if (read_image(d, ents[e].tag) != 0)
            fail("after the final gc, tag %s is not a complete image: %s", ents[e].tag, ocidir_last_error());
    if (ocidir_fsck(d, NULL, &r) != 0 || ocidir_report_damage(r) != 0 ||
        count_kind(r, OCIDIR_FIND_UNREFERENCED) != 0)
        fail("after the final gc, fsck finds damage or unreferenced blobs");
    ocidir_report_free(r);
    ocidir_close(d);

    long total = 0, total_doc = 0;
    for (int i = 0; i < OP_N; i++) {
        total += ok[i] + doc[i];
        total_doc += doc[i];
    }
    printf("concurrency torture: %d processes x %d threads, %d s (%.1f s), %ld ops (", opt_procs, opt_threads,
           opt_seconds, elapsed, total);
    for (int i = 0; i < OP_N; i++)
        printf("%s%s %ld", i ? ", " : "", op_name[i], ok[i] + doc[i]);
    printf("), documented failures %ld (", total_doc);
    int first = 1;
    for (int i = 0; i < OP_N; i++)
        if (doc[i]) {
            printf("%s%s %ld", first ? "" : ", ", op_name[i], doc[i]);
            first = 0;
        }
    printf("%s; fsck transient missing findings %ld; imports that published an incomplete image, then repaired "
           "%ld; gc refusals of the damaged graph meanwhile %ld), gc removed %ld, %ld logged tag ops, %d tags, %ld images "
           "verified, %ld blobs verified, final gc removed %zu, lost updates %ld, shared-tag violations %ld, "
           "fsck damage %zu, temp files %d, violations %d\n",
           first ? "none" : "", fsck_missing, import_gap, gc_refused, gc_removed, logged, nents, images, nblobs, final_removed, lost,
           shared_bad, damage, left, fails);
    free(ents);
    free(expect);
    free(sops);
    free(pids);
    if (fails || opt_keep) {
        printf("concurrency torture: kept %s\n", opt_dir);
    } else {
        /* Only what this run made: the four trees, and the directory itself
         * when it was a fresh temporary one. */
        const char *const trees[] = {dir_l, dir_cache, dir_src, dir_logs};
        for (int i = 0; i < 4; i++)
            nftw(trees[i], rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        if (made_dir)
            rmdir(opt_dir);
    }
    return fails ? 1 : 0;
}
