/*
 * bench_blob - how fast the blob store writes and reads, next to the tools.
 *
 *   bench_blob [--size BYTES] [--dir DIR]
 *
 * Makes a file of SIZE pseudo-random bytes (default 1 GiB; K, M, G suffixes
 * are binary) in a fresh directory made under DIR (default /var/tmp, on
 * disk), and times, best of 3 rounds (each round runs every operation once,
 * so that speed drift of a shared machine hits all alike), CLOCK_MONOTONIC:
 *
 *   sha256sum           `sha256sum FILE`, output discarded
 *   openssl dgst        `openssl dgst -sha256 FILE`, output discarded
 *   in-memory hash      ocidir_digest_buffer() over the file already mapped
 *                       and faulted in (in a child process, so that the
 *                       mapping does not count in the peak RSS below)
 *   put                 ocidir_blob_put_fd() into a fresh layout (hash, copy,
 *                       fsync, publish); the blob is removed between runs
 *   verified read       ocidir_blob_open() + ocidir_blob_reader_read() to the
 *                       end with a 1 MiB buffer
 *   sha256sum+cp+sync   `sha256sum FILE; cp FILE DEST; sync` via /bin/sh
 *
 * Every run starts from a synced system with the source file in the page
 * cache.  Everything the program makes is in its own directory, removed at
 * the end.  A benchmark, not a test: it prints figures and exits 0 unless an
 * operation failed.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <ocidir.h>

#include "benchutil.h"

#define RUNS 3
#define READ_BUF (1u << 20)

/* Run argv with stdout to /dev/null; die unless it exits 0.  Returns the wall
 * time. */
static double run_quiet(char *const argv[])
{
    double secs;
    if (bench_run(argv, NULL, NULL, &secs, NULL) != 0)
        bench_die("%s failed", argv[0]);
    return secs;
}

static void make_source(const char *path, uint64_t size)
{
    int fd = bench_create(path);
    uint64_t *buf = bench_xmalloc(READ_BUF);
    uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift64*, fixed seed: same bytes every run */
    for (uint64_t left = size; left > 0;) {
        for (size_t i = 0; i < READ_BUF / 8; i++)
            buf[i] = bench_xorshift64s(&x);
        size_t n = left < READ_BUF ? (size_t)left : READ_BUF;
        bench_write_all(fd, buf, n, path);
        left -= n;
        bench_check_interrupted();
    }
    free(buf);
    if (fsync(fd) < 0 || close(fd) < 0)
        bench_die("fsync %s: %s", path, strerror(errno));
}

struct hash_job {
    const char *path;
    uint64_t size;
};

struct hash_result {
    double secs;
    char digest[OCIDIR_DIGEST_MAX];
};

/* (b) in a child: map the file, fault it in, hash it once. */
static void child_hash(const void *arg, void *out)
{
    const struct hash_job *job = arg;
    struct hash_result *res = out;
    int fd = open(job->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        _exit(1);
    const unsigned char *m =
        mmap(NULL, (size_t)job->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED)
        _exit(1);
    close(fd);
    volatile unsigned char sink = 0;
    long page = sysconf(_SC_PAGESIZE);
    for (uint64_t off = 0; off < job->size; off += (uint64_t)page)
        sink ^= m[off];
    (void)sink;
    double t0 = bench_now();
    if (ocidir_digest_buffer(OCIDIR_SHA256, m, (size_t)job->size, res->digest) != 0)
        _exit(1);
    res->secs = bench_now() - t0;
}

/* The mapping is made in a child, so that it does not count in our peak RSS. */
static double in_memory_hash(const char *path, uint64_t size, char digest[OCIDIR_DIGEST_MAX])
{
    struct hash_job job = {path, size};
    struct hash_result res;
    if (bench_in_child(child_hash, &job, &res, sizeof res) != 0)
        bench_die("%s", "the in-memory hash child failed");
    memcpy(digest, res.digest, OCIDIR_DIGEST_MAX);
    return res.secs;
}

struct row {
    const char *name;
    double secs;
};

int main(int argc, char **argv)
{
    uint64_t size = 1ull << 30;
    const char *dir = "/var/tmp";
    bench_init("bench_blob");

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size = bench_parse_size(argv[++i], 1, NULL);
        else if (strncmp(argv[i], "--size=", 7) == 0)
            size = bench_parse_size(argv[i] + 7, 1, NULL);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strncmp(argv[i], "--dir=", 6) == 0)
            dir = argv[i] + 6;
        else {
            fprintf(stderr, "usage: %s [--size BYTES] [--dir DIR]\n", argv[0]);
            return 2;
        }
    }
    if (size > (uint64_t)SIZE_MAX / 2)
        bench_die("%s", "size too large for this machine");

    bench_require_space(dir, 3, size);
    const char *workdir = bench_make_workdir(dir, "ocidir-bench"); /* removed at exit */
    char src[PATH_MAX], dest[PATH_MAX], layout[PATH_MAX];
    bench_mkpath(src, "%s/source", workdir);
    bench_mkpath(dest, "%s/cp-dest", workdir);
    bench_mkpath(layout, "%s/layout", workdir);

    struct utsname u;
    uname(&u);
    bench_print_library("", 1);
    printf("kernel %s %s; work directory %s\n", u.release, u.machine, workdir);
    if (getenv("OCIDIR_FORCE_NAMED_TEMP") || getenv("OCIDIR_FORCE_RESOLVE_FALLBACK"))
        printf("environment: OCIDIR_FORCE_NAMED_TEMP=%s OCIDIR_FORCE_RESOLVE_FALLBACK=%s\n",
               getenv("OCIDIR_FORCE_NAMED_TEMP") ? getenv("OCIDIR_FORCE_NAMED_TEMP") : "",
               getenv("OCIDIR_FORCE_RESOLVE_FALLBACK") ? getenv("OCIDIR_FORCE_RESOLVE_FALLBACK") : "");
    printf("size %" PRIu64 " bytes (%.2f GiB), best of %d interleaved rounds, source file in the page cache\n\n",
           size, (double)size / (1u << 30), RUNS);
    fflush(stdout);

    make_source(src, size);
    bench_check_interrupted();

    enum { SHA256SUM, MEMHASH, PUT, READ, CP, OPENSSL, NROWS };
    struct row rows[NROWS] = {
        {"sha256sum FILE", 1e300},
        {"ocidir_digest_buffer (in memory)", 1e300},
        {"ocidir_blob_put_fd", 1e300},
        {"ocidir_blob_open + reader_read", 1e300},
        {"sha256sum FILE; cp FILE DEST; sync", 1e300},
        {"openssl dgst -sha256 FILE", 1e300},
    };
    double t0, t;
    char *sha_av[] = {"sha256sum", src, NULL};
    char *ossl_av[] = {"openssl", "dgst", "-sha256", src, NULL};
    char *cp_av[] = {"/bin/sh", "-c", "set -e; sha256sum \"$1\" >/dev/null; cp \"$1\" \"$2\"; sync",
                     "sh", src, dest, NULL};
    run_quiet(sha_av); /* once untimed: every run starts with the source cached */

    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d);
    if (rc)
        bench_die_lib("ocidir_open", rc);
    int sfd = open(src, O_RDONLY | O_CLOEXEC);
    if (sfd < 0)
        bench_die("open %s: %s", src, strerror(errno));
    char digest[OCIDIR_DIGEST_MAX] = "";
    char mem_digest[OCIDIR_DIGEST_MAX];
    char *buf = bench_xmalloc(READ_BUF);

    /* Rounds interleave the operations, so that a machine whose speed drifts
     * (a shared VM) affects every row alike; each row keeps its best run. */
    for (int round = 0; round < RUNS; round++) {
        /* (a) sha256sum FILE */
        bench_check_interrupted();
        t = run_quiet(sha_av);
        if (t < rows[0].secs)
            rows[0].secs = t;

        /* (a') openssl dgst -sha256 FILE */
        bench_check_interrupted();
        t = run_quiet(ossl_av);
        if (t < rows[OPENSSL].secs)
            rows[OPENSSL].secs = t;

        /* (b) in-memory hash through the library's backend */
        bench_check_interrupted();
        t = in_memory_hash(src, size, mem_digest);
        if (t < rows[1].secs)
            rows[1].secs = t;

        /* (c) put: hash, copy, flush, publish */
        bench_check_interrupted();
        if (*digest && (rc = ocidir_blob_remove(d, digest)) != 0)
            bench_die_lib("ocidir_blob_remove", rc);
        sync();
        if (lseek(sfd, 0, SEEK_SET) < 0)
            bench_die("lseek %s: %s", src, strerror(errno));
        uint64_t got = 0;
        t0 = bench_now();
        rc = ocidir_blob_put_fd(d, sfd, digest, &got);
        t = bench_now() - t0;
        if (rc)
            bench_die_lib("ocidir_blob_put_fd", rc);
        if (got != size)
            bench_die("%s", "ocidir_blob_put_fd stored a wrong size");
        if (strcmp(digest, mem_digest) != 0)
            bench_die("put and in-memory hash disagree on the digest (%s)", digest);
        if (t < rows[2].secs)
            rows[2].secs = t;

        /* (d) verified full read */
        bench_check_interrupted();
        uint64_t total = 0;
        ssize_t n;
        ocidir_blob_reader_t *r = NULL;
        t0 = bench_now();
        if ((rc = ocidir_blob_open(d, digest, (int64_t)size, &r)) != 0)
            bench_die_lib("ocidir_blob_open", rc);
        while ((n = ocidir_blob_reader_read(r, buf, READ_BUF)) > 0)
            total += (uint64_t)n;
        ocidir_blob_reader_close(r);
        t = bench_now() - t0;
        if (n < 0)
            bench_die_lib("ocidir_blob_reader_read", (int)n);
        if (total != size)
            bench_die("%s", "the reader returned a wrong number of bytes");
        if (t < rows[3].secs)
            rows[3].secs = t;

        /* (e) sha256sum FILE; cp FILE DEST; sync */
        bench_check_interrupted();
        if (unlink(dest) < 0 && errno != ENOENT)
            bench_die("unlink %s: %s", dest, strerror(errno));
        sync();
        t = run_quiet(cp_av);
        if (t < rows[4].secs)
            rows[4].secs = t;
    }
    free(buf);
    close(sfd);
    unlink(dest);
    if ((rc = ocidir_blob_remove(d, digest)) != 0)
        bench_die_lib("ocidir_blob_remove", rc);
    ocidir_close(d);

    printf("%-38s %10s %10s\n", "operation", "seconds", "GB/s");
    for (int i = 0; i < NROWS; i++)
        printf("%-38s %10.3f %10.3f\n", rows[i].name, rows[i].secs, (double)size / 1e9 / rows[i].secs);

    double r_read = rows[3].secs / rows[1].secs;
    double r_put = rows[2].secs / rows[4].secs;
    printf("\n%-38s %10.3f   (target <= 1.15: %s)\n", "verified read / in-memory hash", r_read,
           r_read <= 1.15 ? "met" : "NOT met");
    printf("%-38s %10.3f   (target <= 1.00: %s)\n", "put / (sha256sum+cp+sync)", r_put,
           r_put <= 1.0 ? "met" : "NOT met");
    double x_ossl = rows[OPENSSL].secs / rows[READ].secs;
    printf("%-38s %10.3f   (target >= 0.90: %s)\n", "verified read speed / openssl dgst's", x_ossl,
           x_ossl >= 0.9 ? "met" : "NOT met");
    printf("%-38s %10.3f\n", "verified read speed / sha256sum's", rows[SHA256SUM].secs / rows[READ].secs);
    printf("%-38s %10.3f\n", "put speed / openssl dgst's", rows[OPENSSL].secs / rows[PUT].secs);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\npeak RSS %ld KiB (this process: put and read; the mapped in-memory hash runs in a child)\n",
           ru.ru_maxrss);
    printf("digest %s\n", digest);
    printf("reproduce: %s --size %" PRIu64 " --dir %s\n", argv[0], size, dir);

    bench_cleanup();
    return 0;
}
