/* Crash torture: a writer process works on one layout (and a shared blob
 * directory) doing a random mix of blob writes, image commits, tag moves,
 * untags, image removal, gc and fsck, and is SIGKILLed after a random delay.
 * After every kill the layout is checked from the outside:
 *
 *   a) it opens, and fsck finds no damage;
 *   b) every tag names a complete image whose manifest, config and layers
 *      read to a verified end;
 *   c) every file under blobs/<alg>/ (layout and shared directory) hashes,
 *      with libsodium directly, to its name;
 *   d) index.json agrees with the writer's log: each tag has the value of
 *      its last completed operation; only the operation in flight at the
 *      kill may be applied or not;
 *   e) after the recovery a writable open performs, no temporary file
 *      (.ocidir-tmp-*, .ocidir-index-*) is left.
 *
 * Half the layers of a commit are added with OCIDIR_ADD_LAYER_DEFER_SYNC
 * (flushed with one syncfs and named together at the commit).
 *
 * The writer logs "B <op> ..." with write(2) O_APPEND before an operation
 * and "D <op> ..." after it returned OK; a killed process keeps what it
 * wrote to the page cache, so an unmatched B line names the operation in
 * flight.  An image committed by operation <op> carries the annotation
 * org.example.op=<op>, so an in-flight commit that did land is recognised.
 *
 * Usage: crash_torture [--iterations N] [--seed S] [--dir D] [--keep]
 *                      [--named-temp] [--max-delay-ms M] [--verbose]
 * --named-temp sets OCIDIR_FORCE_NAMED_TEMP=1, so that killed blob writers
 * leave visible .ocidir-tmp-* files for the recovery to remove. */
#define _GNU_SOURCE
#include <ocidir.h>

#include "../plainutil.h"
#include <sodium.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NTAGS 6
#define MAX_BLOB (2u * 1024 * 1024)
#define MAX_LAYERS 4
#define ANNOT_OP "org.example.op"

static const char *const tags[NTAGS] = {"base", "t1", "t2", "release/t3", "v4.0", "t5"};

enum op_kind { OP_BLOB, OP_COMMIT, OP_SET, OP_UNTAG, OP_REMOVE, OP_GC, OP_CACHE_GC, OP_FSCK, OP_NKINDS };
static const char *const op_names[OP_NKINDS] = {"blob", "commit", "set", "untag", "remove", "gc", "cache-gc", "fsck"};

/* ---- random numbers ------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: any seed, including 0, gives a good sequence. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A size in 0..MAX_BLOB skewed towards small ones (mean ~ 250 KiB), with
 * empty content now and then. */
static size_t skewed_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    if (r % 16 == 0)
        return 0;
    return (size_t)((r >> 8) % (MAX_BLOB + 1)) >> ((r >> 4) % 8);
}

/* Content determined by (seed, len): equal seeds give duplicate blobs.  Half
 * of it is random, the rest a compressible run, so compressors work. */
static void fill_content(unsigned char *buf, size_t len, uint64_t seed)
{
    uint64_t s = seed;
    size_t rnd = seed % 2 ? len : len / 2;
    size_t i = 0;
    for (; i + 8 <= rnd; i += 8) {
        uint64_t v = rng_next(&s);
        memcpy(buf + i, &v, 8);
    }
    for (; i < len; i++)
        buf[i] = (unsigned char)('a' + (seed + i / 4096) % 26);
}

/* ---- the writer (child) -------------------------------------------------- */

static int log_fd = -1, err_fd = -1;
static char child_err[2048];

static void log_line(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write(2) per line: a SIGKILL cannot tear it. */
    if (write(log_fd, line, (size_t)n) != n)
        _exit(3);
}

static void __attribute__((noreturn)) child_fail(const char *what, int rc)
{
    int n = snprintf(child_err, sizeof child_err, "%s = %d (%s): %s (errno %d)\n", what, rc, ocidir_strerror(rc),
                     ocidir_last_error(), ocidir_last_errno());
    if (n > 0)
        (void)!write(err_fd, child_err, (size_t)(n < (int)sizeof child_err ? n : (int)sizeof child_err - 1));
    _exit(1);
}

#define CHECK(call)                      \
    do {                                 \
        int rc_ = (call);                \
        if (rc_ != 0)                    \
            child_fail(#call, rc_);      \
    } while (0)

static unsigned char *content_buf, *tar_buf;

/* Write a blob through a writer in random chunks (or blob_put). */
static void op_blob(ocidir_t *d, uint64_t *rng)
{
    uint64_t seed = rng_next(rng) % 40; /* few seeds: many duplicates */
    uint64_t srng = seed * 7919 + 1;
    size_t len = skewed_size(&srng);
    fill_content(content_buf, len, seed);
    char dg[OCIDIR_DIGEST_MAX];
    if (rng_next(rng) % 4 == 0) {
        CHECK(ocidir_blob_put(d, content_buf, len, dg));
    } else {
        ocidir_blob_writer_t *w = NULL;
        CHECK(ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
        for (size_t off = 0; off < len;) {
            size_t n = 1 + rng_next(rng) % (256 * 1024);
            if (n > len - off)
                n = len - off;
            CHECK(ocidir_blob_writer_write(w, content_buf + off, n));
            off += n;
        }
        CHECK(ocidir_blob_writer_commit(w, dg, NULL));
    }
}

static void add_random_layer(ocidir_t *d, ocidir_builder_t *b, uint64_t *rng, uint64_t op)
{
    static const ocidir_compression_t comps[3] = {OCIDIR_COMPRESSION_NONE, OCIDIR_COMPRESSION_GZIP,
                                                  OCIDIR_COMPRESSION_ZSTD};
    ocidir_compression_t c = comps[rng_next(rng) % 3];
    int threads = c == OCIDIR_COMPRESSION_GZIP ? 1 + (int)(rng_next(rng) % 2) : 0;
    size_t len = skewed_size(rng);
    fill_content(content_buf, len, rng_next(rng));
    char name[64];
    snprintf(name, sizeof name, "file-%" PRIu64, op);
    size_t tlen = tu_make_tar(tar_buf, name, content_buf, len);
    ocidir_layer_writer_t *w = NULL;
    CHECK(ocidir_layer_writer_new(d, c, 0, threads, &w));
    for (size_t off = 0; off < tlen;) {
        size_t n = 1 + rng_next(rng) % (256 * 1024);
        if (n > tlen - off)
            n = tlen - off;
        CHECK(ocidir_layer_writer_write(w, tar_buf + off, n));
        off += n;
    }
    /* Half the layers are deferred (flushed and named in one batch at the
     * commit), so that kills also land inside a batched commit and between
     * deferred and immediate layers of one builder. */
    ocidir_add_layer_options_t o = OCIDIR_ADD_LAYER_OPTIONS_INIT;
    o.created_by = "crash torture layer";
    o.flags = rng_next(rng) % 2 ? OCIDIR_ADD_LAYER_DEFER_SYNC : 0;
    CHECK(ocidir_builder_add_layer_writer_opts(b, w, &o));
}

/* Present tags, in a NULL-terminated vector. */
static char **present_tags(ocidir_t *d)
{
    char **v = NULL;
    CHECK(ocidir_tag_list(d, &v));
    return v;
}

static size_t strv_len(char **v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

static int tag_index(const char *t)
{
    for (int i = 0; i < NTAGS; i++)
        if (strcmp(tags[i], t) == 0)
            return i;
    return -1;
}

static void op_commit(ocidir_t *d, uint64_t *rng, uint64_t op, int ti)
{
    ocidir_builder_t *b = NULL;
    log_line("B %" PRIu64 " commit %d -", op, ti);
    char **present = present_tags(d);
    size_t np = strv_len(present);
    int from = np > 0 && rng_next(rng) % 3 == 0;
    if (from) {
        const char *src = present[rng_next(rng) % np];
        ocidir_image_t *img = NULL;
        CHECK(ocidir_image_open(d, src, NULL, &img));
        size_t nl = ocidir_image_layer_count(img);
        ocidir_image_close(img);
        if (nl < MAX_LAYERS)
            CHECK(ocidir_builder_from(d, src, NULL, &b));
        else
            from = 0;
    }
    ocidir_strv_free(present);
    if (!from)
        CHECK(ocidir_builder_new(d, NULL, &b));
    unsigned nl = from ? 1 : 1 + (unsigned)(rng_next(rng) % 3);
    for (unsigned i = 0; i < nl; i++)
        add_random_layer(d, b, rng, op);
    char opstr[32];
    snprintf(opstr, sizeof opstr, "%" PRIu64, op);
    CHECK(ocidir_builder_set_label(b, ANNOT_OP, opstr));
    CHECK(ocidir_builder_set_annotation(b, ANNOT_OP, opstr));
    char dg[OCIDIR_DIGEST_MAX];
    CHECK(ocidir_builder_commit(b, tags[ti], 0, dg));
    log_line("D %" PRIu64 " commit %d %s", op, ti, dg);
    ocidir_builder_free(b);
}

static void child_main(const char *layout, const char *cache, const char *logpath, uint64_t seed, int efd)
{
    err_fd = efd;
    log_fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log_fd < 0)
        child_fail("open log", -errno);
    content_buf = malloc(MAX_BLOB + 8);
    tar_buf = malloc(MAX_BLOB + 8192);
    if (!content_buf || !tar_buf)
        child_fail("malloc", OCIDIR_E_NOMEM);
    uint64_t rng = seed;
    ocidir_t *d = NULL;
    CHECK(ocidir_open(AT_FDCWD, layout, 0, &d));
    int cfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfd < 0)
        child_fail("open cache", -errno);
    /* Some writers put new blobs into the shared directory. */
    CHECK(ocidir_add_blobdir_fd(d, cfd, rng_next(&rng) % 3 == 0 ? OCIDIR_BLOBDIR_WRITE : 0));
    uint64_t op = seed & 0xffffffffffull;
    for (;; op++) {
        unsigned r = (unsigned)(rng_next(&rng) % 100);
        int ti = (int)(rng_next(&rng) % NTAGS);
        if (r < 30) {
            log_line("B %" PRIu64 " blob -1 -", op);
            op_blob(d, &rng);
            log_line("D %" PRIu64 " blob -1 -", op);
        } else if (r < 56) {
            op_commit(d, &rng, op, ti);
        } else if (r < 71) {
            /* Move tag ti onto the image another tag names. */
            char **present = present_tags(d);
            size_t np = strv_len(present);
            if (np > 0) {
                char dg[OCIDIR_DIGEST_MAX];
                CHECK(ocidir_resolve(d, present[rng_next(&rng) % np], dg, NULL, NULL));
                log_line("B %" PRIu64 " set %d %s", op, ti, dg);
                CHECK(ocidir_tag_set(d, tags[ti], dg, 0));
                log_line("D %" PRIu64 " set %d %s", op, ti, dg);
            }
            ocidir_strv_free(present);
        } else if (r < 79) {
            /* Keep at least two tags so that there is something to move. */
            char **present = present_tags(d);
            size_t np = strv_len(present);
            if (np > 2) {
                ti = tag_index(present[rng_next(&rng) % np]);
                int remove = rng_next(&rng) % 2;
                log_line("B %" PRIu64 " %s %d -", op, remove ? "remove" : "untag", ti);
                if (remove) {
                    CHECK(ocidir_set_gc_grace(d, rng_next(&rng) % 2 ? 0 : -1));
                    ocidir_report_t *rep = NULL;
                    CHECK(ocidir_tag_remove_gc(d, tags[ti], NULL, &rep));
                    ocidir_report_free(rep);
                } else {
                    CHECK(ocidir_tag_remove(d, tags[ti]));
                }
                log_line("D %" PRIu64 " %s %d -", op, remove ? "remove" : "untag", ti);
            }
            ocidir_strv_free(present);
        } else if (r < 89) {
            CHECK(ocidir_set_gc_grace(d, rng_next(&rng) % 3 ? 0 : -1));
            log_line("B %" PRIu64 " gc -1 -", op);
            ocidir_report_t *rep = NULL;
            CHECK(ocidir_gc(d, NULL, &rep));
            ocidir_report_free(rep);
            log_line("D %" PRIu64 " gc -1 -", op);
        } else if (r < 93) {
            CHECK(ocidir_set_gc_grace(d, 0));
            log_line("B %" PRIu64 " cache-gc -1 -", op);
            ocidir_report_t *rep = NULL;
            CHECK(ocidir_cache_gc(cfd, &d, 1, NULL, &rep));
            ocidir_report_free(rep);
            log_line("D %" PRIu64 " cache-gc -1 -", op);
        } else {
            log_line("B %" PRIu64 " fsck -1 -", op);
            ocidir_report_t *rep = NULL;
            CHECK(ocidir_fsck(d, TU_FSCK(0, 1, NULL, NULL), &rep));
            size_t dmg = ocidir_report_damage(rep);
            ocidir_report_free(rep);
            if (dmg != 0)
                child_fail("fsck in the writer found damage", (int)dmg);
            log_line("D %" PRIu64 " fsck -1 -", op);
        }
    }
}

/* ---- the checker (parent) ------------------------------------------------ */

struct model {
    char tag[NTAGS][OCIDIR_DIGEST_MAX]; /* "" = absent */
};

struct inflight {
    int valid;
    uint64_t op;
    int kind;
    int tag;
    char digest[OCIDIR_DIGEST_MAX];
};

static int verbose;
static unsigned iter_failures; /* failures found in the current iteration */
static const char *cur_ctx = "";

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL [%s]: ", cur_ctx);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    iter_failures++;
}

static int kind_of(const char *s)
{
    for (int k = 0; k < OP_NKINDS; k++)
        if (strcmp(op_names[k], s) == 0)
            return k;
    return -1;
}

/* Apply the completed operations logged since *off to the model; return the
 * operation in flight (a B line without its D line), if any. */
static void read_log(const char *logpath, off_t *off, struct model *m, struct inflight *inf, unsigned long *done_by_kind)
{
    memset(inf, 0, sizeof *inf);
    FILE *f = fopen(logpath, "re");
    if (!f)
        return;
    if (fseeko(f, *off, SEEK_SET) != 0) {
        fclose(f);
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        if (l == 0 || line[l - 1] != '\n') {
            fail("log: torn line \"%s\"", line);
            break;
        }
        *off += (off_t)l;
        char bd, kind[16], dg[OCIDIR_DIGEST_MAX];
        uint64_t op;
        int ti;
        if (sscanf(line, "%c %" SCNu64 " %15s %d %135s", &bd, &op, kind, &ti, dg) != 5 || kind_of(kind) < 0 ||
            ti < -1 || ti >= NTAGS) {
            fail("log: unparsable line \"%s\"", line);
            continue;
        }
        int k = kind_of(kind);
        if (bd == 'B') {
            if (inf->valid)
                fail("log: op %" PRIu64 " began while op %" PRIu64 " had not ended", op, inf->op);
            inf->valid = 1;
            inf->op = op;
            inf->kind = k;
            inf->tag = ti;
            snprintf(inf->digest, sizeof inf->digest, "%s", strcmp(dg, "-") ? dg : "");
            continue;
        }
        if (!inf->valid || inf->op != op)
            fail("log: op %" PRIu64 " ended without beginning", op);
        inf->valid = 0;
        done_by_kind[k]++;
        if (k == OP_COMMIT || k == OP_SET)
            snprintf(m->tag[ti], sizeof m->tag[ti], "%s", dg);
        else if (k == OP_UNTAG || k == OP_REMOVE)
            m->tag[ti][0] = '\0';
    }
    fclose(f);
}

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Temporary files anywhere under root. */
static unsigned temps_found;
static const char *temps_ctx;
static int count_temp(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    const char *base = path + ftw->base;
    if (strncmp(base, ".ocidir-tmp-", 12) == 0 || strncmp(base, ".ocidir-index-", 14) == 0) {
        temps_found++;
        if (temps_ctx)
            fail("temporary file left after recovery: %s", path);
    }
    return 0;
}

static unsigned count_temps(const char *root, const char *ctx)
{
    temps_found = 0;
    temps_ctx = ctx;
    nftw(root, count_temp, 16, FTW_PHYS);
    return temps_found;
}

/* (c) Every file in <blobs>/<alg>/ hashes, with libsodium, to its name. */
static unsigned long rehash_dir(const char *blobs, uint64_t *bytes)
{
    unsigned long n = 0;
    static const char *const algs[2] = {"sha256", "sha512"};
    for (int a = 0; a < 2; a++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", blobs, algs[a]);
        DIR *dd = opendir(dir);
        if (!dd)
            continue;
        struct dirent *e;
        while ((e = readdir(dd)) != NULL) {
            if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
                continue;
            if (!is_hex(e->d_name, a == 0 ? 64 : 128)) {
                fail("%s/%s is not a blob name", dir, e->d_name);
                continue;
            }
            int fd = openat(dirfd(dd), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) {
                fail("open %s/%s: %s", dir, e->d_name, strerror(errno));
                continue;
            }
            unsigned char out[crypto_hash_sha512_BYTES];
            static unsigned char buf[1 << 16];
            ssize_t r;
            if (a == 0) {
                crypto_hash_sha256_state st;
                crypto_hash_sha256_init(&st);
                while ((r = read(fd, buf, sizeof buf)) > 0) {
                    crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
                    *bytes += (uint64_t)r;
                }
                crypto_hash_sha256_final(&st, out);
            } else {
                crypto_hash_sha512_state st;
                crypto_hash_sha512_init(&st);
                while ((r = read(fd, buf, sizeof buf)) > 0) {
                    crypto_hash_sha512_update(&st, buf, (unsigned long long)r);
                    *bytes += (uint64_t)r;
                }
                crypto_hash_sha512_final(&st, out);
            }
            close(fd);
            char hex[2 * crypto_hash_sha512_BYTES + 1];
            sodium_bin2hex(hex, sizeof hex, out, a == 0 ? crypto_hash_sha256_BYTES : crypto_hash_sha512_BYTES);
            if (r < 0)
                fail("read %s/%s: %s", dir, e->d_name, strerror(errno));
            else if (strcmp(hex, e->d_name) != 0)
                fail("%s/%s holds content hashing to %s", dir, e->d_name, hex);
            n++;
        }
        closedir(dd);
    }
    return n;
}

/* (b) An image opens and every layer reads to a verified end; returns its
 * manifest's org.example.op annotation (malloc'd) or NULL. */
static char *check_image(ocidir_t *d, const char *tag, const char *digest)
{
    ocidir_image_t *img = NULL;
    int rc = ocidir_image_open(d, tag, NULL, &img);
    if (rc != 0) {
        fail("image_open(%s) = %d (%s): %s", tag, rc, ocidir_strerror(rc), ocidir_last_error());
        return NULL;
    }
    char mdg[OCIDIR_DIGEST_MAX];
    if (ocidir_image_manifest(img, mdg, NULL, NULL) != 0 || strcmp(mdg, digest) != 0)
        fail("tag %s: image manifest %s, resolve gave %s", tag, mdg, digest);
    const void *cfg;
    size_t clen = 0;
    if (ocidir_image_config_raw(img, &cfg, &clen) != 0 || clen < 2)
        fail("tag %s: no config", tag);
    size_t nl = ocidir_image_layer_count(img);
    if (nl == 0)
        fail("tag %s: image without layers", tag);
    static unsigned char buf[1 << 16];
    for (size_t i = 0; i < nl; i++) {
        ocidir_layer_reader_t *r = NULL;
        rc = ocidir_image_layer_open(img, i, &r);
        if (rc != 0) {
            fail("tag %s layer %zu: open = %d (%s): %s", tag, i, rc, ocidir_strerror(rc), ocidir_last_error());
            continue;
        }
        ssize_t n;
        uint64_t total = 0;
        while ((n = ocidir_layer_reader_read(r, buf, sizeof buf)) > 0)
            total += (uint64_t)n;
        if (n != 0)
            fail("tag %s layer %zu: read = %zd (%s): %s", tag, i, n, ocidir_strerror((int)n), ocidir_last_error());
        else if (total < 1536 || total % 512 != 0)
            fail("tag %s layer %zu: %" PRIu64 " bytes is not a one-file tar", tag, i, total);
        ocidir_layer_reader_close(r);
    }
    char *op = NULL;
    char **kv = NULL;
    if (ocidir_image_annotations(img, OCIDIR_MANIFEST, &kv) == 0) {
        for (size_t i = 0; kv[i] && kv[i + 1]; i += 2)
            if (strcmp(kv[i], ANNOT_OP) == 0)
                op = strdup(kv[i + 1]);
        ocidir_strv_free(kv);
    }
    ocidir_image_close(img);
    return op;
}

struct stats {
    unsigned long kills_mid_op, kills_by_kind[OP_NKINDS], done_by_kind[OP_NKINDS];
    unsigned long inflight_applied, temps_before_recovery, blobs_rehashed, fsck_runs;
    uint64_t bytes_rehashed;
};

static void verify(const char *layout, const char *cache, struct model *m, const struct inflight *inf,
                   struct stats *st)
{
    /* (a) The layout opens read-only as the kill left it; fsck finds no damage. */
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d);
    if (rc != 0) {
        fail("read-only open = %d (%s): %s", rc, ocidir_strerror(rc), ocidir_last_error());
        return;
    }
    int cfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfd < 0 || ocidir_add_blobdir_fd(d, cfd, 0) != 0)
        fail("add shared directory: %s", ocidir_last_error());
    ocidir_report_t *rep = NULL;
    rc = ocidir_fsck(d, TU_FSCK(0, 2, NULL, NULL), &rep);
    st->fsck_runs++;
    if (rc != 0) {
        fail("fsck = %d (%s): %s", rc, ocidir_strerror(rc), ocidir_last_error());
    } else if (ocidir_report_damage(rep) != 0) {
        for (size_t i = 0; i < ocidir_report_count(rep); i++) {
            ocidir_find_kind_t k;
            const char *subj, *msg;
            ocidir_report_get(rep, i, &k, &subj, NULL, &msg);
            if (k <= OCIDIR_FIND_IO)
                fail("fsck: %s %s: %s", ocidir_find_kind_name((int)k), subj, msg);
        }
    }
    ocidir_report_free(rep);
    ocidir_close(d);

    /* (e) Recovery: a writable open, and adding the shared directory as the
     * write target, remove what killed writers left; nothing may remain. */
    st->temps_before_recovery += count_temps(layout, NULL) + count_temps(cache, NULL);
    rc = ocidir_open(AT_FDCWD, layout, 0, &d);
    if (rc != 0) {
        fail("writable open = %d (%s): %s", rc, ocidir_strerror(rc), ocidir_last_error());
        close(cfd);
        return;
    }
    if (ocidir_add_blobdir_fd(d, cfd, OCIDIR_BLOBDIR_WRITE) != 0)
        fail("add shared directory for writing: %s", ocidir_last_error());
    count_temps(layout, "layout");
    count_temps(cache, "cache");

    /* (d) index.json against the log, and (b) each tag's image. */
    char **list = NULL;
    rc = ocidir_tag_list(d, &list);
    if (rc != 0)
        fail("tag_list = %d: %s", rc, ocidir_last_error());
    for (size_t i = 0; list && list[i]; i++)
        if (tag_index(list[i]) < 0)
            fail("unexpected tag \"%s\" in index.json", list[i]);
    ocidir_strv_free(list);
    for (int t = 0; t < NTAGS; t++) {
        char dg[OCIDIR_DIGEST_MAX] = "";
        rc = ocidir_resolve(d, tags[t], dg, NULL, NULL);
        if (rc == OCIDIR_E_NOT_FOUND)
            dg[0] = '\0';
        else if (rc != 0) {
            fail("resolve(%s) = %d (%s): %s", tags[t], rc, ocidir_strerror(rc), ocidir_last_error());
            continue;
        }
        char *op = dg[0] ? check_image(d, tags[t], dg) : NULL;
        if (strcmp(dg, m->tag[t]) != 0) {
            /* Only the operation in flight may have changed this tag, and only
             * to its own new value. */
            int ok = 0;
            if (inf->valid && inf->tag == t) {
                char want[32];
                snprintf(want, sizeof want, "%" PRIu64, inf->op);
                if (inf->kind == OP_SET)
                    ok = strcmp(dg, inf->digest) == 0;
                else if (inf->kind == OP_UNTAG || inf->kind == OP_REMOVE)
                    ok = dg[0] == '\0';
                else if (inf->kind == OP_COMMIT)
                    ok = dg[0] && op && strcmp(op, want) == 0;
            }
            if (ok) {
                st->inflight_applied++;
            } else {
                fail("tag %s is \"%s\"; the log says \"%s\" (op in flight: %s)", tags[t], dg, m->tag[t],
                     inf->valid ? op_names[inf->kind] : "none");
            }
            /* Carry on from what is there. */
            snprintf(m->tag[t], sizeof m->tag[t], "%s", dg);
        }
        free(op);
    }
    ocidir_close(d);
    close(cfd);

    /* (c) Every stored file hashes to its name. */
    char blobs[4096];
    snprintf(blobs, sizeof blobs, "%s/blobs", layout);
    st->blobs_rehashed += rehash_dir(blobs, &st->bytes_rehashed);
    st->blobs_rehashed += rehash_dir(cache, &st->bytes_rehashed);
}

static void sleep_us(unsigned long us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--iterations N] [--seed S] [--dir D] [--keep] [--named-temp] [--max-delay-ms M] "
            "[--verbose]\n",
            argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    unsigned long iterations = 50, max_delay_ms = 200;
    uint64_t seed = 0;
    int have_seed = 0, keep = 0, named_temp = 0;
    const char *dir_opt = NULL;
    static const struct option opts[] = {
        {"iterations", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 's'},
        {"dir", required_argument, NULL, 'd'},        {"keep", no_argument, NULL, 'k'},
        {"named-temp", no_argument, NULL, 't'},       {"max-delay-ms", required_argument, NULL, 'm'},
        {"verbose", no_argument, NULL, 'v'},          {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:s:d:ktm:v", opts, NULL)) != -1) {
        switch (c) {
        case 'n': iterations = strtoul(optarg, NULL, 0); break;
        case 's': seed = strtoull(optarg, NULL, 0); have_seed = 1; break;
        case 'd': dir_opt = optarg; break;
        case 'k': keep = 1; break;
        case 't': named_temp = 1; break;
        case 'm': max_delay_ms = strtoul(optarg, NULL, 0); break;
        case 'v': verbose = 1; break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);
    /* Read by the library when first used: set before any call. */
    if (named_temp)
        setenv("OCIDIR_FORCE_NAMED_TEMP", "1", 1);
    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 2;
    }
    if (!have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
    }
    char root[1024];
    if (dir_opt) {
        snprintf(root, sizeof root, "%s", dir_opt);
        if (mkdir(root, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "mkdir %s: %s\n", root, strerror(errno));
            return 2;
        }
    } else {
        const char *base = getenv("TMPDIR");
        snprintf(root, sizeof root, "%s/ocidir-crash-XXXXXX", base && *base ? base : "/var/tmp");
        if (!mkdtemp(root)) {
            fprintf(stderr, "mkdtemp %s: %s\n", root, strerror(errno));
            return 2;
        }
    }
    char layout[1100], cache[1100], cache_sha[1200], logpath[1100];
    snprintf(layout, sizeof layout, "%s/layout", root);
    snprintf(cache, sizeof cache, "%s/cache", root);
    snprintf(cache_sha, sizeof cache_sha, "%s/sha256", cache);
    snprintf(logpath, sizeof logpath, "%s/ops.log", root);
    mkdir(cache, 0755);
    mkdir(cache_sha, 0755);
    printf("crash torture: seed %" PRIu64 " (replay with --seed %" PRIu64 "), dir %s, %lu iterations%s\n", seed,
           seed, root, iterations, named_temp ? ", named temporary files" : "");
    fflush(stdout);

    /* Start from a layout whose model is known: empty tags, as logged. */
    ocidir_t *d0 = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d0);
    if (rc != 0) {
        fprintf(stderr, "create %s: %s\n", layout, ocidir_last_error());
        return 2;
    }
    ocidir_close(d0);
    struct model m;
    memset(&m, 0, sizeof m);
    struct stat lst;
    off_t log_off = 0;
    if (stat(logpath, &lst) == 0) {
        /* --dir reused: replay the old log first. */
        struct inflight inf;
        unsigned long dummy[OP_NKINDS] = {0};
        read_log(logpath, &log_off, &m, &inf, dummy);
    }

    struct stats st;
    memset(&st, 0, sizeof st);
    uint64_t rng = seed;
    unsigned long failures = 0, early_exits = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned long it = 0; it < iterations; it++) {
        uint64_t child_seed = rng_next(&rng);
        /* Delays: a fifth within the first millisecond (kills during the
         * open and the first write), a third within 30 ms, the rest up to
         * max_delay_ms. */
        uint64_t r = rng_next(&rng);
        unsigned long delay_us;
        if (r % 5 == 0)
            delay_us = (r >> 8) % 1000;
        else if (r % 3 == 0)
            delay_us = (r >> 8) % 30000;
        else
            delay_us = (r >> 8) % (max_delay_ms * 1000 + 1);
        int errp[2];
        if (pipe2(errp, O_CLOEXEC) != 0) {
            perror("pipe2");
            return 2;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            close(errp[0]);
            child_main(layout, cache, logpath, child_seed, errp[1]);
            _exit(2);
        }
        close(errp[1]);
        sleep_us(delay_us);
        kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        char ctx[128];
        snprintf(ctx, sizeof ctx, "iteration %lu, child seed %" PRIu64 ", delay %lu us", it, child_seed, delay_us);
        cur_ctx = ctx;
        iter_failures = 0;
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            char msg[2048] = "";
            ssize_t n = read(errp[0], msg, sizeof msg - 1);
            if (n > 0)
                msg[n] = '\0';
            fail("the writer stopped by itself (status %#x): %s", status, msg);
            early_exits++;
        }
        close(errp[0]);
        struct inflight inf;
        read_log(logpath, &log_off, &m, &inf, st.done_by_kind);
        if (inf.valid) {
            st.kills_mid_op++;
            st.kills_by_kind[inf.kind]++;
        }
        verify(layout, cache, &m, &inf, &st);
        if (iter_failures)
            failures++;
        if (verbose)
            printf("iteration %lu: delay %lu us, in flight: %s\n", it, delay_us,
                   inf.valid ? op_names[inf.kind] : "none");
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("completed operations:");
    for (int k = 0; k < OP_NKINDS; k++)
        printf(" %s %lu", op_names[k], st.done_by_kind[k]);
    printf("\nkilled in flight:");
    for (int k = 0; k < OP_NKINDS; k++)
        printf(" %s %lu", op_names[k], st.kills_by_kind[k]);
    printf("\nin-flight operations found applied: %lu; temporary files left by kills and removed by recovery: %lu\n",
           st.inflight_applied, st.temps_before_recovery);
    printf("fsck runs %lu; blob files re-hashed %lu (%.1f MiB); %.1f s\n", st.fsck_runs, st.blobs_rehashed,
           (double)st.bytes_rehashed / (1024.0 * 1024.0), secs);
    printf("crash torture: %lu iterations, %lu kills mid-operation, %lu failures\n", iterations, st.kills_mid_op,
           failures);
    if (failures == 0 && !keep && !dir_opt)
        tu_rm_rf(root);
    else
        printf("layout kept in %s\n", root);
    (void)early_exits;
    return failures ? 1 : 0;
}
