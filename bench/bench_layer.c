/*
 * bench_layer - how fast layers are compressed, and decompressed with
 * verification, next to gzip(1) and zstd(1).
 *
 *   bench_layer [--size BYTES] [--rounds R] [--dir DIR] [--baseline-lib LIBOCIDIR.SO]
 *
 * The input is a real tar archive of SIZE bytes (default 256 MiB; K, M, G
 * suffixes are binary), written by this program into a fresh directory under
 * DIR (default /var/tmp, on disk): a directory entry and files of 256 KiB to
 * 4 MiB whose content, 4 KiB block by 4 KiB block, is (from a fixed-seed
 * xorshift generator, so the same bytes every run):
 *   75 %  text: lines of words drawn from a 64-word vocabulary,
 *   15 %  random bytes (incompressible, like compressed files in a rootfs),
 *   10 %  zeros (like sparse or padded files).
 * gzip -6 shrinks it to about a third, about what it does to a distribution's
 * root filesystem.
 *
 * Then, over R (default 5) rounds, each running every operation once in the
 * same order (the speed of a shared VM drifts; interleaving spreads the drift
 * over all rows alike), it times with CLOCK_MONOTONIC, reports the median,
 * and compares side by side:
 *
 *   compress
 *     ocidir gzip -6, 1 thr.  ocidir_layer_writer_new(GZIP, 6, threads 1) + _write
 *                             (1 MiB chunks read from the input file) + _commit
 *     gzip -6                 sh -c 'gzip -6 -c IN > OUT && sync OUT'
 *     ocidir gzip -6, 2 thr.  ocidir_layer_writer_new(GZIP, 6, threads 2) ...
 *                             (parallel gzip; its blob is checked with gzip -t)
 *     pigz -6                 sh -c 'pigz -6 -c IN > OUT && sync OUT'
 *     ocidir zstd -3, 0 thr.  ocidir_layer_writer_new(ZSTD, 3, threads 0) ...:
 *                             compression and both hashes on one thread
 *     zstd -3 --single-thread sh -c 'zstd -q -3 --single-thread -c IN > OUT && sync OUT':
 *                             compression and I/O on one thread
 *     ocidir zstd -3, 1 thr.  ocidir_layer_writer_new(ZSTD, 3, threads 1) ...:
 *                             one libzstd worker; the calling thread hashes
 *     zstd -3                 sh -c 'zstd -q -3 -c IN > OUT && sync OUT': the
 *                             tool's default, -T1: one compression thread
 *                             beside the thread doing the I/O
 *     ocidir zstd -3, 2 thr.  ocidir_layer_writer_new(ZSTD, 3, threads 2) ...
 *     zstd -3 -T0             sh -c 'zstd -q -3 -T0 -c IN > OUT && sync OUT'
 *   decompress and verify
 *     ocidir gunzip+verify    ocidir_layer_open(gzip blob, size, diff_id) +
 *                             ocidir_layer_reader_read to the clean end
 *     gzip -dc | sha256sum    sh -c 'gzip -dc BLOB | sha256sum'
 *     igzip -dc > /dev/null   sh -c 'igzip -dc BLOB > /dev/null' (ISA-L's own
 *                             tool, no hashing: the "verified gunzip" line
 *                             compares the library's row with it and with
 *                             gzip -dc | sha256sum; the library's gzip
 *                             decoder, ocidir_inflate_backend(), is printed)
 *     ocidir unzstd+verify    the same for the zstd blob
 *     zstd -dc | sha256sum    sh -c 'zstd -q -dc BLOB | sha256sum'
 *   uncompressed
 *     ocidir none             ocidir_layer_writer_new(NONE, 0, 0) ...: the blob
 *                             is the input, hashed once (digest = diff_id)
 *     cat > FILE; sync FILE   sh -c 'cat IN > OUT && sync OUT': the write limit
 *     ocidir none + 2nd sha256
 *                             the same, each chunk also hashed by
 *                             ocidir_digest_buffer(SHA256): the work of the
 *                             0.4.0 writer, which hashed the bytes twice (its
 *                             diff_id and its blob digest)
 *     --baseline-lib none     with --baseline-lib PATH: the same layer written
 *                             by the libocidir.so at PATH (say a 0.4.0 build),
 *                             loaded with dlopen(RTLD_DEEPBIND) in the child
 *     sha256sum IN            the hash alone, coreutils
 *     openssl sha256 IN       the hash alone, libcrypto (the library's default
 *                             hash backend): the hash limit
 *
 * Fairness: the output of a tool goes to a file on the same filesystem as the
 * layout, and is flushed to disk with `sync FILE` (fsync), since the
 * library's commit flushes the blob before naming it.  The library also
 * hashes both streams (blob digest and diff_id) as it compresses; the tools
 * do not.  Before every compression the system is synced and the previous
 * output removed; the input file stays in the page cache.
 *
 * MB/s is uncompressed megabytes (10^6 bytes) per second, both ways.  Peak
 * RSS: each library run is done in a forked child that reports its own
 * getrusage(RUSAGE_SELF) maximum; a tool's is the rusage wait4() returns for
 * its shell (RUSAGE_CHILDREN's figure, per child: the maximum over the shell
 * and the programs it ran).  Each row shows the largest over the rounds.
 *
 * Every result is checked once: the diff_ids equal `sha256sum IN`, and the
 * tools' decompression of the library's blobs hashes to them too.
 *
 * A benchmark, not a test: it prints figures and exits 0 unless an operation
 * failed.  Everything it makes is removed at the end.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocidir.h>

#include "benchutil.h"

#define MAX_ROUNDS 100
#define CHUNK (1u << 20)

/* ---------------------------------------------------------------------------
 * The input: a ustar archive of generated files.
 * ------------------------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ull; /* xorshift64*, fixed seed */

static uint64_t next_rand(void)
{
    return bench_xorshift64s(&rng);
}

static const char *const words[64] = {
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "was", "on", "be",
    "at", "by", "this", "had", "not", "are", "but", "from", "or", "have", "an", "they", "which",
    "one", "you", "were", "all", "we", "container", "image", "layer", "manifest", "digest",
    "blob", "config", "index", "tag", "root", "filesystem", "kernel", "process", "library",
    "function", "return", "error", "value", "struct", "const", "static", "include", "define",
    "#include", "printf", "size_t", "uint64_t", "void", "char", "int", "if", "else",
};

/* One 4 KiB block of content. */
static void fill_block(char *b, size_t len)
{
    uint64_t kind = next_rand() % 100;
    if (kind < 75) { /* text */
        size_t n = 0, col = 0;
        while (n < len) {
            const char *w = words[next_rand() % 64];
            size_t wl = strlen(w);
            for (size_t i = 0; i < wl && n < len; i++)
                b[n++] = w[i];
            col += wl + 1;
            if (n < len)
                b[n++] = col > 72 ? (col = 0, '\n') : ' ';
        }
    } else if (kind < 90) { /* random */
        for (size_t i = 0; i < len; i += 8) {
            uint64_t r = next_rand();
            memcpy(b + i, &r, len - i < 8 ? len - i : 8);
        }
    } else { /* zeros */
        memset(b, 0, len);
    }
}

/* Write the archive; returns its size (SIZE rounded to a 10240-byte record). */
static uint64_t make_input(const char *path, uint64_t size, unsigned *files_out)
{
    int fd = bench_create(path);
    char *buf = bench_xmalloc(CHUNK);
    char h[512];
    uint64_t total = 0;
    unsigned files = 0;
    bench_tar_header(h, "data/", '5', 0755, 0);
    bench_write_all(fd, h, 512, path);
    total += 512;
    const uint64_t end_blocks = 2 * 512;
    while (total + 512 + 4096 + end_blocks <= size) {
        bench_check_interrupted();
        /* 256 KiB .. 4 MiB, in 4 KiB steps, cut to what is left */
        uint64_t fsize = (64 + next_rand() % 961) * 4096;
        uint64_t room = size - total - 512 - end_blocks;
        room -= room % 512;
        if (fsize > room)
            fsize = room;
        char name[64];
        snprintf(name, sizeof name, "data/file-%05u.txt", files++);
        bench_tar_header(h, name, '0', 0644, fsize);
        bench_write_all(fd, h, 512, path);
        total += 512;
        for (uint64_t left = fsize; left > 0;) {
            size_t n = left < CHUNK ? (size_t)left : CHUNK;
            for (size_t off = 0; off < n; off += 4096)
                fill_block(buf + off, n - off < 4096 ? n - off : 4096);
            bench_write_all(fd, buf, n, path);
            left -= n;
        }
        total += fsize; /* a multiple of 512: no padding needed */
    }
    /* the end: two zero blocks, then zeros up to a whole 10240-byte record */
    uint64_t padded = total + end_blocks;
    padded += (10240 - padded % 10240) % 10240;
    memset(buf, 0, CHUNK);
    while (total < padded) {
        size_t n = padded - total < CHUNK ? (size_t)(padded - total) : CHUNK;
        bench_write_all(fd, buf, n, path);
        total += n;
    }
    free(buf);
    if (fsync(fd) < 0 || close(fd) < 0)
        bench_die("fsync %s: %s", path, strerror(errno));
    *files_out = files;
    return total;
}

/* ---------------------------------------------------------------------------
 * Running things.
 * ------------------------------------------------------------------------ */

/* What a library run reports from its child. */
struct lib_result {
    int rc; /* 0, or the library's code */
    double secs;
    long maxrss_kib;
    uint64_t size; /* compressed size, or bytes decompressed */
    char digest[OCIDIR_DIGEST_MAX];
    char diff_id[OCIDIR_DIGEST_MAX];
    char error[512];
};

struct lib_op {
    int compress; /* 1: compress the input, 0: decompress and verify a blob */
    const char *layout;
    const char *input;
    ocidir_compression_t compression;
    int level, threads;
    /* for decompression */
    const char *media_type, *digest, *diff_id;
    int64_t size;
    /* for compression: also hash every chunk once more with sha256, as the
     * 0.4.0 writer did for an uncompressed layer (its diff_id) */
    int second_hash;
    /* for compression: the libocidir.so to run instead of the linked one
     * (--baseline-lib), or NULL */
    const char *lib_path;
};

/* The layer-writer calls a compression child makes: the linked library's,
 * or those of another build of it (an older release) loaded with dlopen. */
struct writer_api {
    int (*open)(int, const char *, unsigned, ocidir_t **);
    void (*close)(ocidir_t *);
    int (*writer_new)(ocidir_t *, ocidir_compression_t, int, int, ocidir_layer_writer_t **);
    int (*writer_write)(ocidir_layer_writer_t *, const void *, size_t);
    int (*writer_commit)(ocidir_layer_writer_t *, char *, uint64_t *, char *);
    void (*writer_abort)(ocidir_layer_writer_t *);
    const char *(*last_error)(void);
};

/* Fills *api; 0, or -1 with the reason in `err`.  The other build is loaded
 * with RTLD_DEEPBIND, so that its calls stay inside it. */
static int load_writer_api(const char *lib_path, struct writer_api *api, char *err, size_t err_len)
{
    if (!lib_path) {
        *api = (struct writer_api){ocidir_open,         ocidir_close,              ocidir_layer_writer_new,
                                   ocidir_layer_writer_write, ocidir_layer_writer_commit,
                                   ocidir_layer_writer_abort, ocidir_last_error};
        return 0;
    }
    void *h = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) {
        snprintf(err, err_len, "dlopen %s: %s", lib_path, dlerror());
        return -1;
    }
    static const char *const names[] = {"ocidir_open",         "ocidir_close",
                                        "ocidir_layer_writer_new", "ocidir_layer_writer_write",
                                        "ocidir_layer_writer_commit", "ocidir_layer_writer_abort",
                                        "ocidir_last_error"};
    void *fn[7];
    for (size_t i = 0; i < 7; i++) {
        fn[i] = dlsym(h, names[i]);
        if (!fn[i]) {
            snprintf(err, err_len, "%s has no %s", lib_path, names[i]);
            return -1;
        }
    }
    /* POSIX: a function pointer round-trips through void * (dlsym's contract). */
    memcpy(&api->open, &fn[0], sizeof fn[0]);
    memcpy(&api->close, &fn[1], sizeof fn[1]);
    memcpy(&api->writer_new, &fn[2], sizeof fn[2]);
    memcpy(&api->writer_write, &fn[3], sizeof fn[3]);
    memcpy(&api->writer_commit, &fn[4], sizeof fn[4]);
    memcpy(&api->writer_abort, &fn[5], sizeof fn[5]);
    memcpy(&api->last_error, &fn[6], sizeof fn[6]);
    return 0;
}

static void child_compress(const struct lib_op *op, struct lib_result *res)
{
    struct writer_api api;
    if (load_writer_api(op->lib_path, &api, res->error, sizeof res->error) != 0) {
        res->rc = OCIDIR_E_UNSUPPORTED;
        return;
    }
    ocidir_t *d = NULL;
    ocidir_layer_writer_t *w = NULL;
    char *buf = malloc(CHUNK);
    int fd = open(op->input, O_RDONLY | O_CLOEXEC);
    if (!buf || fd < 0) {
        res->rc = OCIDIR_E_IO;
        snprintf(res->error, sizeof res->error, "open %s: %s", op->input, strerror(errno));
        return;
    }
    if ((res->rc = api.open(AT_FDCWD, op->layout, 0, &d)) != 0)
        goto out;
    double t0 = bench_now();
    if ((res->rc = api.writer_new(d, op->compression, op->level, op->threads, &w)) != 0)
        goto out;
    ssize_t n;
    char extra[OCIDIR_DIGEST_MAX];
    while ((n = read(fd, buf, CHUNK)) > 0) {
        if ((res->rc = api.writer_write(w, buf, (size_t)n)) != 0)
            goto out;
        if (op->second_hash && (res->rc = ocidir_digest_buffer(OCIDIR_SHA256, buf, (size_t)n, extra)) != 0)
            goto out;
    }
    if (n < 0) {
        res->rc = OCIDIR_E_IO;
        snprintf(res->error, sizeof res->error, "read %s: %s", op->input, strerror(errno));
        api.writer_abort(w);
        goto close;
    }
    res->rc = api.writer_commit(w, res->digest, &res->size, res->diff_id);
    w = NULL; /* freed by commit */
    res->secs = bench_now() - t0;
out:
    if (res->rc)
        snprintf(res->error, sizeof res->error, "%s", api.last_error());
    api.writer_abort(w);
close:
    api.close(d);
    close(fd);
    free(buf);
}

static void child_decompress(const struct lib_op *op, struct lib_result *res)
{
    ocidir_t *d = NULL;
    ocidir_layer_reader_t *r = NULL;
    char *buf = malloc(CHUNK);
    if (!buf) {
        res->rc = OCIDIR_E_NOMEM;
        return;
    }
    if ((res->rc = ocidir_open(AT_FDCWD, op->layout, OCIDIR_OPEN_RDONLY, &d)) != 0)
        goto out;
    double t0 = bench_now();
    if ((res->rc = ocidir_layer_open(d, op->media_type, op->digest, op->size, op->diff_id, &r)) != 0)
        goto out;
    ssize_t n;
    uint64_t total = 0;
    while ((n = ocidir_layer_reader_read(r, buf, CHUNK)) > 0)
        total += (uint64_t)n;
    ocidir_layer_reader_close(r);
    res->secs = bench_now() - t0;
    res->size = total;
    res->rc = (int)n; /* 0: the clean end, digest and diff_id verified */
out:
    if (res->rc)
        snprintf(res->error, sizeof res->error, "%s", ocidir_last_error());
    ocidir_close(d);
    free(buf);
}

/* In the child: the operation, then its own peak RSS. */
static void child_run(const void *arg, void *out)
{
    const struct lib_op *op = arg;
    struct lib_result *res = out;
    if (op->compress)
        child_compress(op, res);
    else
        child_decompress(op, res);
    res->maxrss_kib = bench_self_maxrss_kib();
}

/* Run a library operation in a forked child, so that its peak RSS is its own. */
static struct lib_result run_lib(const struct lib_op *op, const char *what)
{
    struct lib_result res;
    bench_in_child_or_die(child_run, op, &res, sizeof res, what);
    if (res.rc)
        bench_die_lib_msg(what, res.rc, res.error);
    return res;
}

/* Run a shell command line with $1 $2 set, stdout to out_path (or /dev/null).
 * Returns the wall time; *maxrss_kib gets the child's peak RSS (wait4). */
static double run_tool(const char *script, const char *a1, const char *a2, const char *out_path,
                       long *maxrss_kib)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, "sh", (char *)a1, (char *)a2, NULL};
    double secs;
    if (bench_run(argv, out_path, NULL, &secs, maxrss_kib) != 0)
        bench_die("`%s` (with %s %s) failed", script, a1, a2 ? a2 : "");
    return secs;
}

/* The 64 hex digits at the start of a file (sha256sum's output). */
static void read_hex(const char *path, char hex[65])
{
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%64[0-9a-f]", hex) != 1 || strlen(hex) != 64)
        bench_die("cannot read a sha256 from %s", path);
    fclose(f);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        bench_die("stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_size;
}

/* ---------------------------------------------------------------------------
 * The benchmark.
 * ------------------------------------------------------------------------ */

enum {
    LIB_GZ, TOOL_GZ, LIB_GUNZ, TOOL_GUNZ,
    LIB_ZST, TOOL_ZST, LIB_UNZST, TOOL_UNZST,
    LIB_ZST2, TOOL_ZST2,
    LIB_ZST1, TOOL_ZST1,
    LIB_GZ2, TOOL_GZ2,
    LIB_NONE, TOOL_NONE,
    N_ROWS,
    TOOL_IGUNZ = N_ROWS, /* printed on their own lines, not in the paired table */
    LIB_NONE_TWICE,      /* uncompressed, each chunk hashed a second time (0.4.0's work) */
    LIB_NONE_BASE,       /* uncompressed, by the --baseline-lib build */
    TOOL_SHA256SUM,      /* sha256sum IN */
    TOOL_OPENSSL,        /* openssl sha256 IN: libcrypto's hash, the one the library uses */
    N_ALL_ROWS
};

struct row {
    const char *name;
    double secs[MAX_ROUNDS];
    long maxrss_kib;
    uint64_t out_size; /* compressed output size (compression rows) */
};

/* One format, timed in each round: the library's compression and the tool's,
 * then (when unlib_row >= 0) the library's decompression of its own blob with
 * verification and the tool's decompression of that blob. */
struct codec {
    const char *label; /* "the LABEL layer's diff_id", "the library's LABEL blob" */
    ocidir_compression_t compression;
    int level, threads;
    int lib_row, tool_row;
    const char *tool_script; /* $1: the input, $2: the output file */
    const char *tool_out;    /* the output file, in the work directory */
    int unlib_row, untool_row;
    const char *unlib_label;   /* "ocidir UNLIB_LABEL gave ..." */
    const char *tool;          /* "TOOL -dc of the library's ..." */
    const char *untool_script; /* $1: the library's blob */
    const char *check_script;  /* when not NULL, run once on the library's blob ($1); must exit 0 */
};

static const struct codec codecs[] = {
    {"gzip", OCIDIR_COMPRESSION_GZIP, 6, 1, LIB_GZ, TOOL_GZ,
     "gzip -6 -c \"$1\" > \"$2\" && sync \"$2\"", "tool.tar.gz",
     LIB_GUNZ, TOOL_GUNZ, "gunzip", "gzip", "gzip -dc \"$1\" | sha256sum", NULL},
    {"zstd", OCIDIR_COMPRESSION_ZSTD, 3, 0, LIB_ZST, TOOL_ZST,
     "zstd -q -3 --single-thread -c \"$1\" > \"$2\" && sync \"$2\"", "tool.tar.zst",
     LIB_UNZST, TOOL_UNZST, "unzstd", "zstd", "zstd -q -dc \"$1\" | sha256sum", NULL},
    {"1-worker zstd", OCIDIR_COMPRESSION_ZSTD, 3, 1, LIB_ZST1, TOOL_ZST1,
     "zstd -q -3 -c \"$1\" > \"$2\" && sync \"$2\"", "tool-T1.tar.zst",
     -1, -1, NULL, NULL, NULL, NULL},
    {"2-thread zstd", OCIDIR_COMPRESSION_ZSTD, 3, 2, LIB_ZST2, TOOL_ZST2,
     "zstd -q -3 -T0 -c \"$1\" > \"$2\" && sync \"$2\"", "tool-T0.tar.zst",
     -1, -1, NULL, NULL, NULL, NULL},
    {"2-thread gzip", OCIDIR_COMPRESSION_GZIP, 6, 2, LIB_GZ2, TOOL_GZ2,
     "pigz -6 -p 2 -c \"$1\" > \"$2\" && sync \"$2\"", "tool-pigz.tar.gz",
     -1, -1, NULL, NULL, NULL, "gzip -t \"$1\" && test \"$(gzip -dc \"$1\" | sha256sum | cut -c1-64)\" = \"$2\""},
    {"uncompressed", OCIDIR_COMPRESSION_NONE, 0, 0, LIB_NONE, TOOL_NONE,
     "cat \"$1\" > \"$2\" && sync \"$2\"", "tool.tar",
     -1, -1, NULL, NULL, NULL, NULL},
};
#define N_CODECS (sizeof codecs / sizeof codecs[0])
/* --only's names for the codecs, in the same order. */
static const char *const codec_keys[N_CODECS] = {"gzip", "zstd", "zstd1", "zstd2", "gzip2", "none"};

/* Whether a row was timed (--only may leave codecs out). */
static int timed(const struct row *row)
{
    return row->secs[0] > 0;
}

/* What the timed rounds share. */
struct bench {
    const char *workdir, *layout, *input, *sums;
    const char *input_hex, *input_digest;
    const char *baseline_lib; /* --baseline-lib, or NULL */
    uint64_t size;
    struct row *rows;
    char digests[N_CODECS][OCIDIR_DIGEST_MAX]; /* each codec's latest library blob, or "" */
};

/* Before a compression: no blob from an earlier run may be in place (a
 * commit that finds its blob present keeps it and skips the publishing). */
static void remove_blobs(const struct bench *b)
{
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, b->layout, 0, &d);
    if (rc)
        bench_die_lib("ocidir_open", rc);
    for (size_t i = 0; i < N_CODECS; i++) {
        if (!*b->digests[i])
            continue;
        rc = ocidir_blob_remove(d, b->digests[i]);
        if (rc && rc != OCIDIR_E_NOT_FOUND) /* two rows may have made the same blob */
            bench_die_lib("ocidir_blob_remove", rc);
    }
    ocidir_close(d);
}

/* Record round r's time of a row, and its peak RSS if the largest so far. */
static void record(struct row *row, int r, double secs, long maxrss_kib)
{
    row->secs[r] = secs;
    if (maxrss_kib > row->maxrss_kib)
        row->maxrss_kib = maxrss_kib;
}

/* An uncompressed layer, written by a library build: its blob is the input,
 * so both its digest and its diff_id are the input's sha256. */
static void time_uncompressed_lib(struct bench *b, int row, int second_hash, const char *lib_path, int r)
{
    bench_check_interrupted();
    remove_blobs(b);
    sync();
    struct lib_op op = {1, b->layout, b->input, OCIDIR_COMPRESSION_NONE, 0, 0, NULL, NULL, NULL, -1,
                        second_hash, lib_path};
    struct lib_result res = run_lib(&op, b->rows[row].name);
    record(&b->rows[row], r, res.secs, res.maxrss_kib);
    if (strcmp(res.diff_id, b->input_digest) != 0 || strcmp(res.digest, b->input_digest) != 0)
        bench_die("%s: digest %s, diff_id %s: not both the input's sha256", b->rows[row].name, res.digest,
                  res.diff_id);
}

/* After the uncompressed pair of round r: the same layer with every byte
 * hashed a second time (the work the 0.4.0 writer did), by the 0.4.0 build
 * itself when given, and the hash alone by sha256sum and by openssl. */
static void time_uncompressed_extras(struct bench *b, size_t ci, int r)
{
    long m;
    if (strcmp(b->digests[ci], b->input_digest) != 0)
        bench_die("the uncompressed layer's digest %s is not the input's sha256", b->digests[ci]);
    time_uncompressed_lib(b, LIB_NONE_TWICE, 1, NULL, r);
    if (b->baseline_lib)
        time_uncompressed_lib(b, LIB_NONE_BASE, 0, b->baseline_lib, r);
    bench_check_interrupted();
    record(&b->rows[TOOL_SHA256SUM], r, run_tool("sha256sum \"$1\"", b->input, NULL, NULL, &m), m);
    bench_check_interrupted();
    record(&b->rows[TOOL_OPENSSL], r, run_tool("openssl sha256 \"$1\"", b->input, NULL, NULL, &m), m);
}

/* Round r of one codec: every operation once, in order, each result checked. */
static void time_codec(struct bench *b, size_t ci, int r)
{
    const struct codec *c = &codecs[ci];
    struct row *rows = b->rows;
    char *digest = b->digests[ci];
    struct lib_result res;
    long m;

    /* the library compresses */
    bench_check_interrupted();
    remove_blobs(b);
    sync();
    struct lib_op op = {1, b->layout, b->input, c->compression, c->level, c->threads,
                        NULL, NULL, NULL, -1, 0, NULL};
    res = run_lib(&op, rows[c->lib_row].name);
    record(&rows[c->lib_row], r, res.secs, res.maxrss_kib);
    rows[c->lib_row].out_size = res.size;
    memcpy(digest, res.digest, OCIDIR_DIGEST_MAX);
    if (strcmp(res.diff_id, b->input_digest) != 0)
        bench_die("the %s layer's diff_id %s is not the input's sha256", c->label, res.diff_id);

    /* the tool compresses */
    bench_check_interrupted();
    char out[PATH_MAX];
    bench_mkpath(out, "%s/%s", b->workdir, c->tool_out);
    unlink(out);
    sync();
    double secs = run_tool(c->tool_script, b->input, out, NULL, &m);
    record(&rows[c->tool_row], r, secs, m);
    rows[c->tool_row].out_size = file_size(out);

    if (c->compression == OCIDIR_COMPRESSION_NONE) {
        time_uncompressed_extras(b, ci, r);
        return;
    }

    if (c->check_script && r == 0) {
        char blob[PATH_MAX];
        bench_mkpath(blob, "%s/blobs/sha256/%s", b->layout, strchr(digest, ':') + 1);
        run_tool(c->check_script, blob, b->input_hex, NULL, &m);
    }

    if (c->unlib_row < 0)
        return;

    /* the library decompresses its blob and verifies it */
    bench_check_interrupted();
    op.compress = 0;
    op.media_type = ocidir_compression_media_type(c->compression);
    op.digest = digest;
    op.size = (int64_t)rows[c->lib_row].out_size;
    op.diff_id = b->input_digest;
    res = run_lib(&op, rows[c->unlib_row].name);
    record(&rows[c->unlib_row], r, res.secs, res.maxrss_kib);
    if (res.size != b->size)
        bench_die("ocidir %s gave %" PRIu64 " bytes, expected %" PRIu64, c->unlib_label, res.size,
                  b->size);

    /* the tool decompresses the library's blob and hashes the result */
    bench_check_interrupted();
    char blob[PATH_MAX];
    bench_mkpath(blob, "%s/blobs/sha256/%s", b->layout, strchr(digest, ':') + 1);
    secs = run_tool(c->untool_script, blob, NULL, r == 0 ? b->sums : NULL, &m);
    record(&rows[c->untool_row], r, secs, m);
    if (c->unlib_row == LIB_GUNZ) {
        /* ISA-L's igzip, decompressing only */
        bench_check_interrupted();
        secs = run_tool("igzip -dc \"$1\" > /dev/null", blob, NULL, NULL, &m);
        record(&rows[TOOL_IGUNZ], r, secs, m);
    }
    if (r == 0) {
        char hex[65];
        read_hex(b->sums, hex);
        if (strcmp(hex, b->input_hex) != 0)
            bench_die("%s -dc of the library's %s blob does not give the input back", c->tool,
                      c->label);
    }
}

int main(int argc, char **argv)
{
    bench_init("bench_layer");
    uint64_t size = 256ull << 20, requested;
    int rounds = 5;
    const char *dir = "/var/tmp";
    const char *baseline_lib = NULL, *only = NULL;
    int run_codec[N_CODECS];
    for (size_t ci = 0; ci < N_CODECS; ci++)
        run_codec[ci] = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            size = bench_parse_size(argv[++i], 64 * 1024, "at least 64K");
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (int)bench_parse_count(argv[++i], "--rounds", MAX_ROUNDS);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--baseline-lib") == 0 && i + 1 < argc) {
            baseline_lib = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            /* a comma-separated list of codec_keys */
            const char *list = only = argv[++i];
            for (size_t ci = 0; ci < N_CODECS; ci++) {
                size_t kl = strlen(codec_keys[ci]);
                run_codec[ci] = 0;
                for (const char *p = list; *p;) {
                    size_t l = strcspn(p, ",");
                    if (l == kl && strncmp(p, codec_keys[ci], kl) == 0)
                        run_codec[ci] = 1;
                    p += l + (p[l] == ',');
                }
            }
        } else {
            fprintf(stderr,
                    "usage: %s [--size BYTES] [--rounds R] [--dir DIR] [--baseline-lib LIBOCIDIR.SO]\n"
                    "       [--only CODEC,...]   (codecs: gzip, gzip2, zstd, zstd1, zstd2, none; default all)\n",
                    argv[0]);
            return 2;
        }
    }

    requested = size;

    bench_require_space(dir, 4, size);
    const char *workdir = bench_make_workdir(dir, "ocidir-bench-layer"); /* removed at exit */
    char input[PATH_MAX], layout[PATH_MAX], sums[PATH_MAX];
    bench_mkpath(input, "%s/input.tar", workdir);
    bench_mkpath(layout, "%s/layout", workdir);
    bench_mkpath(sums, "%s/sha256sum.out", workdir);

    bench_print_header("bench_layer: ", 0);
    long rss;
    run_tool("gzip --version | head -1; pigz --version 2>&1; zstd --version; igzip --version 2>&1 | head -1", NULL,
             NULL, sums, &rss);
    FILE *vf = fopen(sums, "r");
    char line[256];
    while (vf && fgets(line, sizeof line, vf))
        printf("tool: %s", line);
    if (vf)
        fclose(vf);

    unsigned files = 0;
    double t0 = bench_now();
    size = make_input(input, size, &files);
    printf("input: %s, a tar of %u generated files, %" PRIu64 " bytes (%.1f MiB), made in %.1f s\n",
           input, files, size, (double)size / (1 << 20), bench_now() - t0);
    run_tool("sha256sum \"$1\"", input, NULL, sums, &rss); /* also brings it into the page cache */
    char input_hex[65];
    read_hex(sums, input_hex);
    char input_digest[OCIDIR_DIGEST_MAX];
    snprintf(input_digest, sizeof input_digest, "sha256:%s", input_hex);
    printf("input sha256: %s\n", input_hex);
    run_tool("tar -tf \"$1\" | wc -l", input, NULL, sums, &rss); /* a valid tar? */
    FILE *lf = fopen(sums, "r");
    unsigned listed = 0;
    if (!lf || fscanf(lf, "%u", &listed) != 1 || listed != files + 1)
        bench_die("tar -t lists %u entries in the input, expected %u", listed, files + 1);
    fclose(lf);

    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d);
    if (rc)
        bench_die_lib("ocidir_open(CREATE)", rc);
    ocidir_close(d);

    static struct row rows[N_ALL_ROWS] = {
        [LIB_GZ] = {"ocidir gzip -6 (threads 1)", {0}, 0, 0},
        [TOOL_GZ] = {"gzip -6 -c > FILE; sync FILE", {0}, 0, 0},
        [LIB_ZST] = {"ocidir zstd -3 (threads 0)", {0}, 0, 0},
        [TOOL_ZST] = {"zstd -3 --single-thread > FILE; sync", {0}, 0, 0},
        [LIB_ZST1] = {"ocidir zstd -3 (threads 1)", {0}, 0, 0},
        [TOOL_ZST1] = {"zstd -3 (-T1) -c > FILE; sync FILE", {0}, 0, 0},
        [LIB_ZST2] = {"ocidir zstd -3 (threads 2)", {0}, 0, 0},
        [TOOL_ZST2] = {"zstd -3 -T0 -c > FILE; sync FILE", {0}, 0, 0},
        [LIB_GZ2] = {"ocidir gzip -6 (threads 2)", {0}, 0, 0},
        [TOOL_GZ2] = {"pigz -6 -p 2 -c > FILE; sync FILE", {0}, 0, 0},
        [LIB_GUNZ] = {"ocidir gunzip + verify", {0}, 0, 0},
        [TOOL_GUNZ] = {"gzip -dc | sha256sum", {0}, 0, 0},
        [LIB_UNZST] = {"ocidir unzstd + verify", {0}, 0, 0},
        [TOOL_UNZST] = {"zstd -dc | sha256sum", {0}, 0, 0},
        [TOOL_IGUNZ] = {"igzip -dc > /dev/null", {0}, 0, 0},
        [LIB_NONE] = {"ocidir none (hashed once)", {0}, 0, 0},
        [TOOL_NONE] = {"cat > FILE; sync FILE", {0}, 0, 0},
        [LIB_NONE_TWICE] = {"ocidir none + a 2nd sha256 (0.4.0's work)", {0}, 0, 0},
        [LIB_NONE_BASE] = {"--baseline-lib none", {0}, 0, 0},
        [TOOL_SHA256SUM] = {"sha256sum", {0}, 0, 0},
        [TOOL_OPENSSL] = {"openssl sha256", {0}, 0, 0},
    };
    static struct bench b; /* digests start empty */
    b.workdir = workdir;
    b.layout = layout;
    b.input = input;
    b.sums = sums;
    b.input_hex = input_hex;
    b.input_digest = input_digest;
    b.baseline_lib = baseline_lib;
    b.size = size;
    b.rows = rows;

    printf("timing %d interleaved rounds", rounds);
    fflush(stdout);
    for (int r = 0; r < rounds; r++) {
        for (size_t ci = 0; ci < N_CODECS; ci++)
            if (run_codec[ci])
                time_codec(&b, ci, r);
        printf(".");
        fflush(stdout);
    }
    printf("\n\n");

    /* ---- the table ---- */
    static const int order[N_ROWS] = {LIB_GZ,   TOOL_GZ,   LIB_GZ2,   TOOL_GZ2,   LIB_ZST,  TOOL_ZST, LIB_ZST1,
                                      TOOL_ZST1, LIB_ZST2, TOOL_ZST2, LIB_GUNZ, TOOL_GUNZ, LIB_UNZST, TOOL_UNZST, LIB_NONE, TOOL_NONE};
    printf("%-34s %9s %9s %13s %7s %10s %12s\n", "operation", "median s", "MB/s", "output bytes",
           "ratio", "peak RSS", "lib speed /");
    printf("%-34s %9s %9s %13s %7s %10s %12s\n", "", "", "", "", "", "MiB", "tool speed");
    for (int k = 0; k < N_ROWS; k++) {
        int i = order[k];
        if (!timed(&rows[order[k & ~1]]))
            continue; /* left out by --only */
        double med = bench_median(rows[i].secs, rounds);
        printf("%-34s %9.3f %9.1f ", rows[i].name, med, (double)size / 1e6 / med);
        if (rows[i].out_size)
            printf("%13" PRIu64 " %7.3f ", rows[i].out_size, (double)rows[i].out_size / (double)size);
        else
            printf("%13s %7s ", "-", "-");
        printf("%10.1f ", (double)rows[i].maxrss_kib / 1024);
        if (k % 2 == 1) /* a tool row: compare with the library row above it */
            printf("%11.2fx", med / bench_median(rows[order[k - 1]].secs, rounds));
        printf("\n");
        if (k % 2 == 1)
            printf("\n");
    }
    printf("(ratio: output / input size; lib speed / tool speed > 1 means the library is faster;\n"
           " library rows include hashing both streams and fsync; tool rows include `sync FILE`)\n");
    if (timed(&rows[LIB_GZ]) && timed(&rows[LIB_GZ2])) {
        double x_gz2 = bench_median(rows[LIB_GZ].secs, rounds) / bench_median(rows[LIB_GZ2].secs, rounds);
        printf("gzip -6 with 2 threads / 1 thread, speed: %.2fx (target >= 1.70: %s); its blob passes gzip -t\n",
               x_gz2, x_gz2 >= 1.7 ? "met" : "NOT met");
    }
    if (timed(&rows[LIB_GUNZ])) {
        double lib = bench_median(rows[LIB_GUNZ].secs, rounds);
        double ig = bench_median(rows[TOOL_IGUNZ].secs, rounds);
        double gz = bench_median(rows[TOOL_GUNZ].secs, rounds);
        printf("verified gunzip (gzip decoder %s, blob digest + diff_id checked): %.1f MB/s;\n"
               "  igzip -dc > /dev/null %.3f s, %.1f MB/s, peak RSS %.1f MiB: library speed / igzip speed %.2fx "
               "(target >= 1.0: %s)\n"
               "  gzip -dc | sha256sum: library speed / tool speed %.2fx (target >= 3.0: %s)\n",
               ocidir_inflate_backend(), (double)size / 1e6 / lib, ig, (double)size / 1e6 / ig,
               (double)rows[TOOL_IGUNZ].maxrss_kib / 1024, ig / lib, ig / lib >= 1.0 ? "met" : "NOT met", gz / lib,
               gz / lib >= 3.0 ? "met" : "NOT met");
    }
    if (timed(&rows[LIB_NONE])) {
        double once = bench_median(rows[LIB_NONE].secs, rounds);
        double twice = bench_median(rows[LIB_NONE_TWICE].secs, rounds);
        double sum = bench_median(rows[TOOL_SHA256SUM].secs, rounds);
        double ossl = bench_median(rows[TOOL_OPENSSL].secs, rounds);
        printf("uncompressed layer, hashed once (blob digest = diff_id): %.1f MB/s\n", (double)size / 1e6 / once);
        printf("  %-44s %9.3f s %9.1f MB/s  library speed / its speed %.2fx\n",
               "ocidir none + a 2nd sha256 (0.4.0's work)", twice, (double)size / 1e6 / twice, twice / once);
        if (baseline_lib) {
            double base = bench_median(rows[LIB_NONE_BASE].secs, rounds);
            printf("  %-44s %9.3f s %9.1f MB/s  library speed / its speed %.2fx (target >= 1.80: %s)\n",
                   "the --baseline-lib build, none", base, (double)size / 1e6 / base, base / once,
                   base / once >= 1.8 ? "met" : "NOT met");
            printf("    (--baseline-lib %s)\n", baseline_lib);
        }
        printf("  %-44s %9.3f s %9.1f MB/s  library speed / its speed %.2fx\n", "sha256sum IN (no write)", sum,
               (double)size / 1e6 / sum, sum / once);
        printf("  %-44s %9.3f s %9.1f MB/s  library speed / its speed %.2fx (the hash limit)\n",
               "openssl sha256 IN (no write)", ossl, (double)size / 1e6 / ossl, ossl / once);
        printf("  cat > FILE; sync FILE (the write limit): library speed / its speed in the table above\n");
    }
    for (size_t ci = 0; ci < N_CODECS; ci++)
        if (*b.digests[ci])
            printf("%s blob %s\n", codecs[ci].label, b.digests[ci]);
    printf("diff_id %s\n", input_digest);
    bench_print_load_at_end();
    char self[PATH_MAX];
    printf("reproduce: %s --size %" PRIu64 " --rounds %d --dir %s%s%s%s%s\n",
           bench_self_path(self) ? self : argv[0], requested, rounds, dir, baseline_lib ? " --baseline-lib " : "",
           baseline_lib ? baseline_lib : "", only ? " --only " : "", only ? only : "");

    bench_cleanup();
    return 0;
}
