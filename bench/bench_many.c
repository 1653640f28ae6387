/*
 * bench_many - an image of many small layers (what chunkah and rpm-ostree's
 * chunked images look like): built from small tar files with the image
 * builder, tagged, then read back verified, next to the limits of the
 * machine measured in the same run (the fsyncs a durable build needs one by
 * one, the disk writing the bytes with one syncfs, SHA-256 of the bytes) and,
 * when given, a peer program doing the same work.
 *
 *   bench_many [--layers N] [--rounds R] [--dir DIR] [--peer 'COMMAND ...']
 *              [--write-tars DIR] [--only VARIANT,MODE]
 *
 * --only none|gzip-6-t1|gzip-6-t0,sync|batch runs that one build and read
 * once, without the limits, and prints its times: for profiling it
 * (strace -c -f, perf) on its own.
 *
 * The workload, exactly (so that another program can mirror it byte for byte):
 *
 *   N (default 128) tar files, layer-000.tar .. layer-127.tar, written into a
 *   fresh directory under DIR (default /var/tmp, on disk).  Layer i is
 *   generated from its own xorshift64* state, seeded with
 *   0x9e3779b97f4a7c15 + i; next() is
 *       x ^= x >> 12; x ^= x << 25; x ^= x >> 27; return x * 0x2545f4914f6cdd1d
 *   (the state keeps x).  Its payload target is T = 64 KiB * (1 + next() % 16)
 *   (64 KiB .. 1 MiB).  The archive is ustar: a directory entry
 *   "layer-III/" (mode 0755), then files "layer-III/f-JJJJ" (mode 0644, uid
 *   and gid 0, owner names "root", mtime 0) of size 4 KiB * (1 + next() % 16),
 *   cut to what is left of T, until T bytes of content are written; each
 *   file's content is 4 KiB blocks, each chosen by k = next() % 100:
 *       k < 75: text: words drawn with next() % 64 from the 64-word list in
 *               this source, separated by ' ', a '\n' once a line passes 72
 *               columns;
 *       k < 90: random: next() as 8 little-endian bytes, repeated;
 *       else:   zeros.
 *   Then two zero blocks and zeros up to a whole 10240-byte record.  The
 *   program prints the total and the sha256 of the concatenated tars; with
 *   --write-tars DIR it only writes the tars into DIR and exits.
 *
 *   Each variant builds one image of the N layers, in order, with
 *   ocidir_builder_new(d, "linux/amd64"), ocidir_builder_set_created(
 *   "2024-01-01T00:00:00Z"), per layer ocidir_layer_writer_new(COMPRESSION,
 *   LEVEL, THREADS) fed the tar in 1 MiB reads and
 *   ocidir_builder_add_layer_writer_opts(created_by "layer-III"), then
 *   ocidir_builder_commit(tag "many"), into a fresh layout (ocidir_open
 *   CREATE).  Then the read: ocidir_open read-only, ocidir_image_open("many"),
 *   every layer through ocidir_image_layer_open() read to its verified end
 *   (blob digest, size and diff_id checked), 1 MiB reads.  Variants:
 *       none        OCIDIR_COMPRESSION_NONE
 *       gzip-6 t1   OCIDIR_COMPRESSION_GZIP, level 6, 1 thread (one zlib
 *                   stream per layer, as a single-threaded encoder makes)
 *       gzip-6 t0   the same with threads 0 (one per CPU: parallel gzip)
 *   each in two modes: "sync" (the default: every layer blob flushed and
 *   named before the next starts) and "batch" (OCIDIR_ADD_LAYER_DEFER_SYNC:
 *   layer blobs flushed together at the commit, one syncfs, before the
 *   manifest and the tag).
 *
 *   --peer 'CMD ARGS': run CMD ARGS many --tars TARDIR --layout LAYOUT
 *   --compression none|gzip --level 6 for the none and gzip-6 variants, after
 *   each library round (interleaved), timing the whole process; the peer
 *   builds the same image (same tars, same order, tag "many", fresh layout)
 *   and reads every layer back through its verifying reader.  If it prints
 *   lines "build_seconds S" and "read_seconds S", those are shown too.  Its
 *   exit status must be 0.
 *
 * Before every build the system is synced (so that the build flushes only its
 * own writes) and the previous layout removed; the tars stay in the page
 * cache.  Times are medians over R (default 3) rounds; each round runs every
 * row once, in the same order.  The load average is printed at the start and
 * the end.
 *
 * Limits, measured in the same run:
 *   fsync x (2N+2)   N times: write a 4 KiB file, fdatasync it, rename it,
 *                    fsync its directory (what a durable per-layer commit
 *                    costs the disk), plus config and manifest;
 *   write + syncfs   write every tar byte to N files, one syncfs;
 *   sha256 of bytes  ocidir_digest_buffer(SHA256) over every tar byte once
 *                    (the build hashes them twice, diff_id and blob digest,
 *                    when uncompressed; the read twice again).
 *
 * A benchmark, not a test: it prints figures and exits 0 unless an operation
 * failed.  Everything it makes is removed at the end.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

#define MAX_ROUNDS 50
#define MAX_LAYERS 4096
#define CHUNK (1u << 20)
#define TAG "many"

static const char *const words[64] = {
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "was", "on", "be",
    "at", "by", "this", "had", "not", "are", "but", "from", "or", "have", "an", "they", "which",
    "one", "you", "were", "all", "we", "container", "image", "layer", "manifest", "digest",
    "blob", "config", "index", "tag", "root", "filesystem", "kernel", "process", "library",
    "function", "return", "error", "value", "struct", "const", "static", "include", "define",
    "#include", "printf", "size_t", "uint64_t", "void", "char", "int", "if", "else",
};

/* ---------------------------------------------------------------------------
 * The tars.
 * ------------------------------------------------------------------------ */

static void fill_block(uint64_t *rng, char *b, size_t len)
{
    uint64_t kind = bench_xorshift64s(rng) % 100;
    if (kind < 75) {
        size_t n = 0, col = 0;
        while (n < len) {
            const char *w = words[bench_xorshift64s(rng) % 64];
            size_t wl = strlen(w);
            for (size_t i = 0; i < wl && n < len; i++)
                b[n++] = w[i];
            col += wl + 1;
            if (n < len)
                b[n++] = col > 72 ? (col = 0, '\n') : ' ';
        }
    } else if (kind < 90) {
        for (size_t i = 0; i < len; i += 8) {
            uint64_t r = bench_xorshift64s(rng);
            unsigned char le[8];
            for (int k = 0; k < 8; k++)
                le[k] = (unsigned char)(r >> (8 * k));
            memcpy(b + i, le, len - i < 8 ? len - i : 8);
        }
    } else {
        memset(b, 0, len);
    }
}

/* Layer i's tar, in a malloc'd buffer; *len_out its size. */
static char *make_tar(unsigned i, size_t *len_out)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull + i;
    uint64_t target = 65536 * (1 + bench_xorshift64s(&rng) % 16);
    size_t cap = (size_t)target * 2 + 20480 + 512;
    char *t = bench_xmalloc(cap);
    size_t n = 0;
    char name[64];
    snprintf(name, sizeof name, "layer-%03u/", i);
    bench_tar_header(t + n, name, '5', 0755, 0);
    n += 512;
    uint64_t done = 0;
    for (unsigned j = 0; done < target; j++) {
        uint64_t fsize = 4096 * (1 + bench_xorshift64s(&rng) % 16);
        if (fsize > target - done)
            fsize = target - done;
        snprintf(name, sizeof name, "layer-%03u/f-%04u", i, j);
        bench_tar_header(t + n, name, '0', 0644, fsize);
        n += 512;
        for (uint64_t off = 0; off < fsize; off += 4096)
            fill_block(&rng, t + n + off, fsize - off < 4096 ? (size_t)(fsize - off) : 4096);
        n += (size_t)fsize; /* a multiple of 4096: no padding */
        done += fsize;
    }
    size_t end = n + 1024;
    end += (10240 - end % 10240) % 10240;
    memset(t + n, 0, end - n);
    *len_out = end;
    return t;
}

/* ---------------------------------------------------------------------------
 * The library's build and read.
 * ------------------------------------------------------------------------ */

static unsigned nlayers = 128;
static char tardir[PATH_MAX];
static uint64_t total_bytes;

struct variant {
    const char *name;
    ocidir_compression_t compression;
    int level, threads;
    const char *peer_compression; /* NULL: no peer row */
};

static const struct variant variants[] = {
    {"none", OCIDIR_COMPRESSION_NONE, 0, 0, "none"},
    {"gzip-6 t1", OCIDIR_COMPRESSION_GZIP, 6, 1, "gzip"},
    {"gzip-6 t0", OCIDIR_COMPRESSION_GZIP, 6, 0, NULL},
};
#define NVARIANTS (sizeof variants / sizeof variants[0])

static void rm_rf(const char *path)
{
    char *argv[] = {"rm", "-rf", (char *)path, NULL};
    if (bench_run(argv, NULL, NULL, NULL, NULL) != 0)
        bench_die("rm -rf %s failed", path);
}

static double build(const char *layout, const struct variant *v, int batch, char manifest[OCIDIR_DIGEST_MAX])
{
    char *buf = bench_xmalloc(CHUNK);
    double t0 = bench_now();
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d);
    if (rc)
        bench_die_lib("ocidir_open CREATE", rc);
    ocidir_builder_t *b = NULL;
    if ((rc = ocidir_builder_new(d, "linux/amd64", &b)) || (rc = ocidir_builder_set_created(b, "2024-01-01T00:00:00Z")))
        bench_die_lib("ocidir_builder_new", rc);
    for (unsigned i = 0; i < nlayers; i++) {
        char path[PATH_MAX], created_by[32];
        bench_mkpath(path, "%s/layer-%03u.tar", tardir, i);
        snprintf(created_by, sizeof created_by, "layer-%03u", i);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            bench_die("open %s: %s", path, strerror(errno));
        ocidir_layer_writer_t *w = NULL;
        if ((rc = ocidir_layer_writer_new(d, v->compression, v->level, v->threads, &w)))
            bench_die_lib("ocidir_layer_writer_new", rc);
        ssize_t n;
        while ((n = read(fd, buf, CHUNK)) > 0)
            if ((rc = ocidir_layer_writer_write(w, buf, (size_t)n)))
                bench_die_lib("ocidir_layer_writer_write", rc);
        if (n < 0)
            bench_die("read %s: %s", path, strerror(errno));
        close(fd);
        ocidir_add_layer_options_t o = OCIDIR_ADD_LAYER_OPTIONS_INIT;
        o.created_by = created_by;
#ifdef OCIDIR_ADD_LAYER_DEFER_SYNC
        if (batch)
            o.flags |= OCIDIR_ADD_LAYER_DEFER_SYNC;
#else
        (void)batch;
#endif
        if ((rc = ocidir_builder_add_layer_writer_opts(b, w, &o)))
            bench_die_lib("ocidir_builder_add_layer_writer_opts", rc);
    }
    if ((rc = ocidir_builder_commit(b, TAG, 0, manifest)))
        bench_die_lib("ocidir_builder_commit", rc);
    ocidir_builder_free(b);
    ocidir_close(d);
    double secs = bench_now() - t0;
    free(buf);
    return secs;
}

static double read_back(const char *layout, uint64_t *bytes_out)
{
    char *buf = bench_xmalloc(CHUNK);
    double t0 = bench_now();
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d);
    if (rc)
        bench_die_lib("ocidir_open", rc);
    ocidir_image_t *img = NULL;
    if ((rc = ocidir_image_open(d, TAG, NULL, &img)))
        bench_die_lib("ocidir_image_open", rc);
    size_t n = ocidir_image_layer_count(img);
    if (n != nlayers)
        bench_die("the image has %zu layers, not %u", n, nlayers);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        ocidir_layer_reader_t *r = NULL;
        if ((rc = ocidir_image_layer_open(img, i, &r)))
            bench_die_lib("ocidir_image_layer_open", rc);
        ssize_t got;
        while ((got = ocidir_layer_reader_read(r, buf, CHUNK)) > 0)
            total += (uint64_t)got;
        if (got < 0)
            bench_die_lib("ocidir_layer_reader_read", (int)got);
        ocidir_layer_reader_close(r);
    }
    ocidir_image_close(img);
    ocidir_close(d);
    double secs = bench_now() - t0;
    free(buf);
    *bytes_out = total;
    return secs;
}

/* ---------------------------------------------------------------------------
 * Limits.
 * ------------------------------------------------------------------------ */

static double limit_fsyncs(const char *dir)
{
    char sub[PATH_MAX];
    bench_mkpath(sub, "%s/fsyncs", dir);
    if (mkdir(sub, 0755) < 0)
        bench_die("mkdir %s: %s", sub, strerror(errno));
    int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        bench_die("open %s: %s", sub, strerror(errno));
    static char block[4096];
    memset(block, 'x', sizeof block);
    sync();
    double t0 = bench_now();
    for (unsigned i = 0; i < nlayers + 2; i++) {
        char tmp[64], name[64];
        snprintf(tmp, sizeof tmp, "tmp-%u", i);
        snprintf(name, sizeof name, "f-%u", i);
        int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            bench_die("create %s/%s: %s", sub, tmp, strerror(errno));
        bench_write_all(fd, block, sizeof block, tmp);
        if (fdatasync(fd) < 0 || renameat(dfd, tmp, dfd, name) < 0 || fsync(dfd) < 0)
            bench_die("fdatasync/rename/fsync in %s: %s", sub, strerror(errno));
        close(fd);
    }
    double secs = bench_now() - t0;
    close(dfd);
    rm_rf(sub);
    return secs;
}

static double limit_write_syncfs(const char *dir, char *const *tars, const size_t *lens)
{
    char sub[PATH_MAX];
    bench_mkpath(sub, "%s/syncfs", dir);
    if (mkdir(sub, 0755) < 0)
        bench_die("mkdir %s: %s", sub, strerror(errno));
    sync();
    double t0 = bench_now();
    int last = -1;
    for (unsigned i = 0; i < nlayers; i++) {
        char p[PATH_MAX];
        bench_mkpath(p, "%s/l-%u", sub, i);
        int fd = bench_create(p);
        bench_write_all(fd, tars[i], lens[i], p);
        if (last >= 0)
            close(last);
        last = fd;
    }
    if (syncfs(last) < 0)
        bench_die("syncfs: %s", strerror(errno));
    double secs = bench_now() - t0;
    close(last);
    rm_rf(sub);
    return secs;
}

static double limit_sha256(char *const *tars, const size_t *lens)
{
    double t0 = bench_now();
    char dg[OCIDIR_DIGEST_MAX];
    for (unsigned i = 0; i < nlayers; i++) {
        int rc = ocidir_digest_buffer(OCIDIR_SHA256, tars[i], lens[i], dg);
        if (rc)
            bench_die_lib("ocidir_digest_buffer", rc);
    }
    return bench_now() - t0;
}

/* ---------------------------------------------------------------------------
 * The peer.
 * ------------------------------------------------------------------------ */

struct peer_result {
    double wall, build, read; /* build/read: < 0 when not printed */
};

static struct peer_result run_peer(const char *peer, const char *layout, const char *compression, const char *dir)
{
    char script[PATH_MAX * 2];
    snprintf(script, sizeof script, "exec %s many --tars \"$1\" --layout \"$2\" --compression %s --level 6", peer,
             compression);
    char out[PATH_MAX];
    bench_mkpath(out, "%s/peer.out", dir);
    char *argv[] = {"/bin/sh", "-c", script, "sh", tardir, (char *)layout, NULL};
    struct peer_result r = {0, -1, -1};
    if (bench_run(argv, out, NULL, &r.wall, NULL) != 0)
        bench_die("the peer failed: %s (with %s %s)", script, tardir, layout);
    FILE *f = fopen(out, "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            double s;
            if (sscanf(line, "build_seconds %lf", &s) == 1)
                r.build = s;
            else if (sscanf(line, "read_seconds %lf", &s) == 1)
                r.read = s;
        }
        fclose(f);
    }
    return r;
}

/* ---------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: bench_many [--layers N] [--rounds R] [--dir DIR] [--peer 'CMD ARGS'] "
                    "[--write-tars DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bench_init("bench_many");
    const char *dir = "/var/tmp", *peer = NULL, *write_tars = NULL, *only = NULL;
    int rounds = 3;
    static const struct option longopts[] = {
        {"layers", required_argument, NULL, 'n'}, {"rounds", required_argument, NULL, 'r'},
        {"dir", required_argument, NULL, 'd'},    {"peer", required_argument, NULL, 'p'},
        {"write-tars", required_argument, NULL, 'w'}, {"only", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': nlayers = (unsigned)bench_parse_count(optarg, "--layers", MAX_LAYERS); break;
        case 'r': rounds = (int)bench_parse_count(optarg, "--rounds", MAX_ROUNDS); break;
        case 'd': dir = optarg; break;
        case 'p': peer = optarg; break;
        case 'w': write_tars = optarg; break;
        case 'o': only = optarg; break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();

    char **tars = bench_xmalloc(nlayers * sizeof *tars);
    size_t *lens = bench_xmalloc(nlayers * sizeof *lens);
    const char *work = NULL;
    if (write_tars) {
        snprintf(tardir, sizeof tardir, "%s", write_tars);
    } else {
        bench_require_space(dir, 1, (uint64_t)nlayers * 3 * 1024 * 1024);
        work = bench_make_workdir(dir, "bench_many");
        bench_mkpath(tardir, "%s/tars", work);
        if (mkdir(tardir, 0755) < 0)
            bench_die("mkdir %s: %s", tardir, strerror(errno));
    }
    size_t min = SIZE_MAX, max = 0;
    for (unsigned i = 0; i < nlayers; i++) {
        tars[i] = make_tar(i, &lens[i]);
        total_bytes += lens[i];
        min = lens[i] < min ? lens[i] : min;
        max = lens[i] > max ? lens[i] : max;
        char p[PATH_MAX];
        bench_mkpath(p, "%s/layer-%03u.tar", tardir, i);
        int fd = bench_create(p);
        bench_write_all(fd, tars[i], lens[i], p);
        close(fd);
    }
    /* The sha256 of the tars, concatenated: what a mirror must reproduce. */
    char *all = bench_xmalloc(total_bytes);
    for (size_t i = 0, off = 0; i < nlayers; off += lens[i], i++)
        memcpy(all + off, tars[i], lens[i]);
    char all_dg[OCIDIR_DIGEST_MAX];
    int rc = ocidir_digest_buffer(OCIDIR_SHA256, all, total_bytes, all_dg);
    if (rc)
        bench_die_lib("ocidir_digest_buffer", rc);
    free(all);
    if (write_tars) {
        printf("bench_many: wrote %u tars, %" PRIu64 " bytes (%zu..%zu each) into %s; sha256 of them "
               "concatenated %s\n",
               nlayers, total_bytes, min, max, write_tars, all_dg);
        return 0;
    }

    if (only) {
        char layout[PATH_MAX], m[OCIDIR_DIGEST_MAX];
        bench_mkpath(layout, "%s/layout", work);
        for (size_t v = 0; v < NVARIANTS; v++) {
            char name[64];
            snprintf(name, sizeof name, "%s", variants[v].name);
            for (char *p = name; *p; p++)
                if (*p == ' ')
                    *p = '-';
            for (int batch = 0; batch < 2; batch++) {
                char want[80];
                snprintf(want, sizeof want, "%s,%s", name, batch ? "batch" : "sync");
                if (strcmp(want, only) != 0)
                    continue;
                sync();
                uint64_t bytes;
                double b = build(layout, &variants[v], batch, m);
                double r = read_back(layout, &bytes);
                printf("bench_many --only %s: %u layers, %" PRIu64 " bytes: build %.3f s, read %.3f s\n", only,
                       nlayers, total_bytes, b, r);
                bench_cleanup();
                return 0;
            }
        }
        bench_die("--only %s: not one of none|gzip-6-t1|gzip-6-t0,sync|batch", only);
    }
    bench_print_header("bench_many: ", 0);
    printf("workload: %u layers from %u tars of %zu..%zu bytes, %" PRIu64 " bytes (%.1f MiB) in all; seeds "
           "0x9e3779b97f4a7c15+i (xorshift64*); sha256 of the tars concatenated %s\n",
           nlayers, nlayers, min, max, total_bytes, total_bytes / 1048576.0, all_dg);
    printf("each build: builder (linux/amd64, created 2024-01-01T00:00:00Z), %u layer writers, commit tag "
           "\"%s\" into a fresh layout; each read: image open + every layer to its verified end\n",
           nlayers, TAG);
    printf("reproduce: bench_many --layers %u --rounds %d --dir %s%s%s%s\n", nlayers, rounds, dir,
           peer ? " --peer '" : "", peer ? peer : "", peer ? "'" : "");
#ifndef OCIDIR_ADD_LAYER_DEFER_SYNC
    printf("(this library has no OCIDIR_ADD_LAYER_DEFER_SYNC: the batch rows build as the sync rows)\n");
#endif
    fflush(stdout);

    enum { SYNC_BUILD, SYNC_READ, BATCH_BUILD, BATCH_READ, PEER_WALL, PEER_BUILD, PEER_READ, NCOL };
    static double t[NVARIANTS][NCOL][MAX_ROUNDS];
    static double lim_fsync[MAX_ROUNDS], lim_syncfs[MAX_ROUNDS], lim_sha[MAX_ROUNDS];
    int peer_parts[NVARIANTS] = {0};
    char layout[PATH_MAX];
    bench_mkpath(layout, "%s/layout", work);
    for (int r = 0; r < rounds; r++) {
        lim_fsync[r] = limit_fsyncs(work);
        lim_syncfs[r] = limit_write_syncfs(work, tars, lens);
        lim_sha[r] = limit_sha256(tars, lens);
        for (size_t v = 0; v < NVARIANTS; v++) {
            for (int batch = 0; batch < 2; batch++) {
                bench_check_interrupted();
                rm_rf(layout);
                sync();
                char m[OCIDIR_DIGEST_MAX];
                uint64_t bytes;
                t[v][batch ? BATCH_BUILD : SYNC_BUILD][r] = build(layout, &variants[v], batch, m);
                t[v][batch ? BATCH_READ : SYNC_READ][r] = read_back(layout, &bytes);
                if (bytes != total_bytes)
                    bench_die("read back %" PRIu64 " bytes, not %" PRIu64, bytes, total_bytes);
            }
            if (peer && variants[v].peer_compression) {
                rm_rf(layout);
                sync();
                struct peer_result p = run_peer(peer, layout, variants[v].peer_compression, work);
                t[v][PEER_WALL][r] = p.wall;
                t[v][PEER_BUILD][r] = p.build;
                t[v][PEER_READ][r] = p.read;
                peer_parts[v] = p.build >= 0 && p.read >= 0;
            }
        }
        char load[64] = "unknown";
        FILE *lf = fopen("/proc/loadavg", "r");
        if (lf) {
            if (!fgets(load, sizeof load, lf))
                snprintf(load, sizeof load, "unknown");
            fclose(lf);
            load[strcspn(load, "\n")] = 0;
        }
        printf("round %d/%d done (load average %s)\n", r + 1, rounds, load);
        fflush(stdout);
    }
    rm_rf(layout);

    printf("\nlimits (medians over %d rounds):\n", rounds);
    printf("  %-34s %8.3f s  (%.2f ms each)\n", "fsync x (2N+2): fdatasync+rename+dirsync", bench_median(lim_fsync, rounds),
           1000 * bench_median(lim_fsync, rounds) / (nlayers + 2));
    printf("  %-34s %8.3f s  (%.0f MB/s)\n", "write every tar byte + one syncfs", bench_median(lim_syncfs, rounds),
           total_bytes / 1e6 / bench_median(lim_syncfs, rounds));
    printf("  %-34s %8.3f s  (%.0f MB/s)\n", "sha256 of every tar byte, once", bench_median(lim_sha, rounds),
           total_bytes / 1e6 / bench_median(lim_sha, rounds));

    printf("\n%-10s %-6s %9s %9s %9s %8s\n", "variant", "mode", "build s", "read s", "total s", "MB/s");
    for (size_t v = 0; v < NVARIANTS; v++) {
        double sb = bench_median(t[v][SYNC_BUILD], rounds), sr = bench_median(t[v][SYNC_READ], rounds);
        double bb = bench_median(t[v][BATCH_BUILD], rounds), br = bench_median(t[v][BATCH_READ], rounds);
        printf("%-10s %-6s %9.3f %9.3f %9.3f %8.0f\n", variants[v].name, "sync", sb, sr, sb + sr,
               total_bytes / 1e6 / (sb + sr));
        printf("%-10s %-6s %9.3f %9.3f %9.3f %8.0f\n", variants[v].name, "batch", bb, br, bb + br,
               total_bytes / 1e6 / (bb + br));
        /* Per-round totals for the ratio, so drift affects both alike. */
        double ratio[MAX_ROUNDS];
        for (int r = 0; r < rounds; r++)
            ratio[r] = (t[v][SYNC_BUILD][r] + t[v][SYNC_READ][r]) / (t[v][BATCH_BUILD][r] + t[v][BATCH_READ][r]);
        printf("%-10s batch is %.2fx the speed of sync (median of per-round ratios)\n", variants[v].name,
               bench_median(ratio, rounds));
        if (peer && variants[v].peer_compression) {
            double pw = bench_median(t[v][PEER_WALL], rounds);
            if (peer_parts[v])
                printf("%-10s %-6s %9.3f %9.3f %9.3f %8.0f  (process wall %.3f s)\n", variants[v].name, "peer",
                       bench_median(t[v][PEER_BUILD], rounds), bench_median(t[v][PEER_READ], rounds),
                       bench_median(t[v][PEER_BUILD], rounds) + bench_median(t[v][PEER_READ], rounds),
                       total_bytes / 1e6 / pw, pw);
            else
                printf("%-10s %-6s %9s %9s %9.3f %8.0f  (process wall)\n", variants[v].name, "peer", "-", "-", pw,
                       total_bytes / 1e6 / pw);
            for (int r = 0; r < rounds; r++)
                ratio[r] = t[v][PEER_WALL][r] / (t[v][BATCH_BUILD][r] + t[v][BATCH_READ][r]);
            printf("%-10s batch is %.2fx the peer's speed (peer process wall / library build+read; target 1.5x)\n",
                   variants[v].name, bench_median(ratio, rounds));
        }
    }
    bench_print_load_at_end();
    for (unsigned i = 0; i < nlayers; i++)
        free(tars[i]);
    free(tars);
    free(lens);
    bench_cleanup();
    return 0;
}
