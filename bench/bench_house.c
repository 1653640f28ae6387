/*
 * bench_house - how fast the housekeeping runs: fsck next to sha256sum, gc
 * next to umoci gc.
 *
 *   bench_house [--blobs N] [--blob-size BYTES] [--gc-blobs M] [--rounds R] [--dir DIR]
 *
 * In a fresh directory under DIR (default /var/tmp, on disk):
 *
 *   fsck    a layout with one artifact whose N (default 2000) layers are
 *           blobs of BYTES (default 1 MiB) pseudo-random bytes each, put with
 *           ocidir_blob_put().  Timed, in R (default 3) interleaved rounds,
 *           median and minimum, with the blobs in the page cache:
 *             ocidir_fsck(threads 0)          (one hashing thread per CPU)
 *             ocidir_fsck(threads 1)
 *             sha256sum over the N blob files, one after another (one
 *             process: `sha256sum` over every file in blobs/sha256)
 *           Each fsck must report no damage and N + 2 blobs checked.
 *   gc      a layout with one small image (tagged) plus M (default 50,000)
 *           unreferenced blobs of 64 to 4159 bytes, written directly as files
 *           under their digest (setting up is not what is timed).  Each round
 *           fills it anew, then times ocidir_gc() (grace period 0) and, on a
 *           copy filled the same way, `umoci gc --layout COPY` (the two in
 *           turn first); afterwards
 *           each layout must hold exactly the image's blobs.
 *
 * Every library run is done in a forked child that reports its own peak RSS
 * (getrusage); a tool's is what wait4() reports.  Each row shows the largest
 * over the rounds.
 *
 * A benchmark, not a test: it prints figures and exits 0 unless an operation
 * failed.  Everything it makes is removed at the end.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <dirent.h>
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

#define MAX_ROUNDS 20

struct row {
    const char *name;
    double secs[MAX_ROUNDS];
    long maxrss_kib;
};

static void record(struct row *row, int r, double secs, long maxrss_kib)
{
    row->secs[r] = secs;
    if (maxrss_kib > row->maxrss_kib)
        row->maxrss_kib = maxrss_kib;
}

static ocidir_t *open_layout(const char *path, unsigned flags)
{
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, path, flags, &d);
    if (rc)
        bench_die_lib("ocidir_open", rc);
    return d;
}

static int count_files(const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh)
        bench_die("opendir %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh)))
        if (e->d_name[0] != '.')
            n++;
    closedir(dh);
    return n;
}

/* ---- the library runs, each in a child ------------------------------------ */

struct lib_op {
    const char *layout;
    int gc;            /* 1: gc, 0: fsck */
    unsigned threads;  /* fsck */
};

struct lib_result {
    int rc;
    double secs;
    long maxrss_kib;
    uint64_t blobs, bytes;
    size_t findings, damage;
    char error[512];
};

static void child_run(const void *arg, void *out)
{
    const struct lib_op *op = arg;
    struct lib_result *res = out;
    ocidir_t *d = NULL;
    ocidir_report_t *rep = NULL;
    if ((res->rc = ocidir_open(AT_FDCWD, op->layout, op->gc ? 0 : OCIDIR_OPEN_RDONLY, &d)) == 0) {
        if (op->gc)
            res->rc = ocidir_set_gc_grace(d, 0);
        ocidir_fsck_options_t fo = OCIDIR_FSCK_OPTIONS_INIT;
        fo.threads = op->threads;
        double t0 = bench_now();
        if (res->rc == 0)
            res->rc = op->gc ? ocidir_gc(d, NULL, &rep) : ocidir_fsck(d, &fo, &rep);
        res->secs = bench_now() - t0;
    }
    if (res->rc)
        snprintf(res->error, sizeof res->error, "%s", ocidir_last_error());
    res->findings = ocidir_report_count(rep);
    res->damage = ocidir_report_damage(rep);
    if (rep)
        ocidir_report_totals(rep, &res->blobs, &res->bytes);
    ocidir_report_free(rep);
    ocidir_close(d);
    res->maxrss_kib = bench_self_maxrss_kib();
}

static struct lib_result run_lib(const struct lib_op *op, const char *what)
{
    struct lib_result res;
    bench_in_child_or_die(child_run, op, &res, sizeof res, what);
    if (res.rc)
        bench_die_lib_msg(what, res.rc, res.error);
    return res;
}

static double run_tool(const char *script, const char *a1, long *maxrss_kib)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, "sh", (char *)a1, NULL};
    double secs;
    if (bench_run(argv, NULL, NULL, &secs, maxrss_kib) != 0)
        bench_die("`%s` (with %s) failed", script, a1);
    return secs;
}

/* ---- set-up ----------------------------------------------------------------- */

/* The fsck layout: one artifact of n layers of `size` pseudo-random bytes. */
static void make_fsck_layout(const char *path, int n, size_t size)
{
    ocidir_t *d = open_layout(path, OCIDIR_OPEN_CREATE);
    ocidir_builder_t *b = NULL;
    int rc = ocidir_builder_new_artifact(d, "application/vnd.example.bench", &b);
    if (rc)
        bench_die_lib("ocidir_builder_new_artifact", rc);
    uint64_t *buf = bench_xmalloc(size + 8);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < size / 8 + 1; k++)
            buf[k] = bench_xorshift64s(&x);
        char digest[OCIDIR_DIGEST_MAX];
        if ((rc = ocidir_blob_put(d, buf, size, digest)) != 0)
            bench_die_lib("ocidir_blob_put", rc);
        if ((rc = ocidir_builder_add_layer(b, "application/octet-stream", digest, size, NULL, NULL)) != 0)
            bench_die_lib("ocidir_builder_add_layer", rc);
        bench_check_interrupted();
    }
    free(buf);
    if ((rc = ocidir_builder_commit(b, "bench", 0, NULL)) != 0)
        bench_die_lib("ocidir_builder_commit", rc);
    ocidir_builder_free(b);
    ocidir_close(d);
}

/* The gc layout's image: a config, one small uncompressed layer, a manifest. */
static void make_gc_image(const char *path)
{
    ocidir_t *d = open_layout(path, OCIDIR_OPEN_CREATE);
    ocidir_builder_t *b = NULL;
    ocidir_layer_writer_t *w = NULL;
    int rc = ocidir_builder_new(d, "linux/amd64", &b);
    if (!rc)
        rc = ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_NONE, 0, 0, &w);
    static char tar[10240]; /* an empty tar: two zero blocks and padding */
    if (!rc)
        rc = ocidir_layer_writer_write(w, tar, sizeof tar);
    if (!rc)
        rc = ocidir_builder_add_layer_writer(b, w, "bench");
    else
        ocidir_layer_writer_abort(w);
    if (!rc)
        rc = ocidir_builder_commit(b, "latest", 0, NULL);
    if (rc)
        bench_die_lib("building the gc layout's image", rc);
    ocidir_builder_free(b);
    ocidir_close(d);
}

/* Add m unreferenced blobs, written directly (no fsync: set-up only). */
static void add_garbage(const char *layout, int m, uint32_t round)
{
    char dir[PATH_MAX], path[PATH_MAX];
    bench_mkpath(dir, "%s/blobs/sha256", layout);
    unsigned char buf[4160];
    uint64_t x = 0x243f6a8885a308d3ull ^ round;
    for (int i = 0; i < m; i++) {
        size_t len = 64 + (size_t)(bench_xorshift64s(&x) % 4096);
        for (size_t k = 0; k < len; k += 8) {
            uint64_t r = bench_xorshift64s(&x);
            memcpy(buf + k, &r, 8);
        }
        char digest[OCIDIR_DIGEST_MAX];
        if (ocidir_digest_buffer(OCIDIR_SHA256, buf, len, digest) != 0)
            bench_die_lib("ocidir_digest_buffer", -1);
        bench_mkpath(path, "%s/%s", dir, digest + 7);
        int fd = bench_create(path);
        bench_write_all(fd, buf, len, path);
        close(fd);
        if (i % 1024 == 0)
            bench_check_interrupted();
    }
}

int main(int argc, char **argv)
{
    bench_init("bench_house");
    int nblobs = 2000, ngc = 50000, rounds = 3;
    uint64_t blob_size = 1u << 20;
    const char *dir = "/var/tmp";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--blobs") == 0 && i + 1 < argc)
            nblobs = (int)bench_parse_count(argv[++i], "--blobs", 1000000);
        else if (strcmp(argv[i], "--blob-size") == 0 && i + 1 < argc)
            blob_size = bench_parse_size(argv[++i], 1, NULL);
        else if (strcmp(argv[i], "--gc-blobs") == 0 && i + 1 < argc)
            ngc = (int)bench_parse_count(argv[++i], "--gc-blobs", 10000000);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = (int)bench_parse_count(argv[++i], "--rounds", MAX_ROUNDS);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--blobs N] [--blob-size BYTES] [--gc-blobs M] [--rounds R] [--dir DIR]\n",
                    argv[0]);
            return 2;
        }
    }
    if (blob_size > 256u << 20)
        bench_die("%s", "--blob-size: at most 256M");

    bench_require_space(dir, 1, (uint64_t)nblobs * blob_size + (uint64_t)ngc * 8192 * 2);
    const char *workdir = bench_make_workdir(dir, "ocidir-bench-house");
    char fl[PATH_MAX], fl_blobs[PATH_MAX], gl[PATH_MAX], gl_blobs[PATH_MAX], ul[PATH_MAX], ul_blobs[PATH_MAX];
    bench_mkpath(fl, "%s/fsck", workdir);
    bench_mkpath(fl_blobs, "%s/blobs/sha256", fl);
    bench_mkpath(gl, "%s/gc-lib", workdir);
    bench_mkpath(gl_blobs, "%s/blobs/sha256", gl);
    bench_mkpath(ul, "%s/gc-umoci", workdir);
    bench_mkpath(ul_blobs, "%s/blobs/sha256", ul);

    bench_print_header("bench_house: ", 0);
    printf("fsck: %d blobs of %" PRIu64 " bytes (%.2f GiB); gc: %d unreferenced blobs; %d interleaved rounds\n",
           nblobs, blob_size, (double)nblobs * (double)blob_size / (1u << 30), ngc, rounds);
    fflush(stdout);

    double t0 = bench_now();
    make_fsck_layout(fl, nblobs, (size_t)blob_size);
    make_gc_image(gl);
    make_gc_image(ul);
    int image_blobs = count_files(gl_blobs);
    printf("set up in %.1f s\n", bench_now() - t0);

    enum { FSCK, FSCK1, SHA, GC, UMOCI, N_ROWS };
    static struct row rows[N_ROWS] = {
        [FSCK] = {"ocidir_fsck (threads 0: one per CPU)", {0}, 0},
        [FSCK1] = {"ocidir_fsck (threads 1)", {0}, 0},
        [SHA] = {"sha256sum blobs/sha256/* (sequential)", {0}, 0},
        [GC] = {"ocidir_gc", {0}, 0},
        [UMOCI] = {"umoci gc --layout", {0}, 0},
    };
    char sha_script[] = "cd \"$1\" && sha256sum -- * > /dev/null";
    run_tool(sha_script, fl_blobs, NULL); /* once untimed: the blobs are in the page cache */
    uint64_t fsck_bytes = 0;

    printf("timing");
    fflush(stdout);
    for (int r = 0; r < rounds; r++) {
        long m;
        struct lib_op op = {fl, 0, 0};
        struct lib_result res = run_lib(&op, "ocidir_fsck");
        if (res.damage || res.blobs != (uint64_t)nblobs + 2)
            bench_die("fsck found %zu damage, checked %" PRIu64 " blobs (expected %d)", res.damage, res.blobs,
                      nblobs + 2);
        fsck_bytes = res.bytes;
        record(&rows[FSCK], r, res.secs, res.maxrss_kib);
        op.threads = 1;
        res = run_lib(&op, "ocidir_fsck (1 thread)");
        record(&rows[FSCK1], r, res.secs, res.maxrss_kib);
        record(&rows[SHA], r, run_tool(sha_script, fl_blobs, &m), m);

        add_garbage(gl, ngc, (uint32_t)r);
        add_garbage(ul, ngc, (uint32_t)r);
        sync();
        /* Which one runs first right after the sync alternates: the first
         * may pay for the file system's write-back of the set-up. */
        struct lib_op gop = {gl, 1, 0};
        if (r % 2)
            record(&rows[UMOCI], r, run_tool("umoci gc --layout \"$1\"", ul, &m), m);
        res = run_lib(&gop, "ocidir_gc");
        record(&rows[GC], r, res.secs, res.maxrss_kib);
        if (r % 2 == 0)
            record(&rows[UMOCI], r, run_tool("umoci gc --layout \"$1\"", ul, &m), m);
        if (count_files(gl_blobs) != image_blobs || count_files(ul_blobs) != image_blobs)
            bench_die("after gc: %d blobs (ocidir), %d (umoci); the image has %d", count_files(gl_blobs),
                      count_files(ul_blobs), image_blobs);
        printf(".");
        fflush(stdout);
    }
    printf("\n\n");

    printf("%-40s %9s %9s %10s %10s\n", "operation", "median s", "min s", "MB/s", "peak RSS");
    printf("%-40s %9s %9s %10s %10s\n", "", "", "", "", "MiB");
    for (int i = 0; i < N_ROWS; i++) {
        double med = bench_median(rows[i].secs, rounds);
        printf("%-40s %9.3f %9.3f ", rows[i].name, med, bench_minimum(rows[i].secs, rounds));
        if (i <= SHA)
            printf("%10.1f ", (double)fsck_bytes / 1e6 / med);
        else
            printf("%10s ", "-");
        printf("%10.1f\n", (double)rows[i].maxrss_kib / 1024);
        if (i == SHA)
            printf("\n");
    }
    double x_fsck = bench_median(rows[SHA].secs, rounds) / bench_median(rows[FSCK].secs, rounds);
    printf("\nfsck speed / sequential sha256sum's: %.2fx (target >= 1.70: %s)\n", x_fsck,
           x_fsck >= 1.7 ? "met" : "NOT met");
    printf("fsck, threads 0 / threads 1, speed: %.2fx\n",
           bench_median(rows[FSCK1].secs, rounds) / bench_median(rows[FSCK].secs, rounds));
    printf("gc speed / umoci gc's: %.2fx\n", bench_median(rows[UMOCI].secs, rounds) / bench_median(rows[GC].secs, rounds));
    bench_print_load_at_end();
    char self[PATH_MAX];
    printf("reproduce: %s --blobs %d --blob-size %" PRIu64 " --gc-blobs %d --rounds %d --dir %s\n",
           bench_self_path(self) ? self : argv[0], nblobs, blob_size, ngc, rounds, dir);
    bench_cleanup();
    return 0;
}
