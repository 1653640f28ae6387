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
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ocidir.h>

extern char **environ;

#define RUNS 3
#define READ_BUF (1u << 20)

static char workdir[PATH_MAX]; /* our own directory, removed at exit */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void)
{
    if (*workdir) {
        nftw(workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        *workdir = '\0';
    }
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_blob: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cleanup();
    exit(1);
}

__attribute__((noreturn)) static void die_lib(const char *what, int rc)
{
    fprintf(stderr, "bench_blob: %s: %s (%d): %s\n", what, ocidir_strerror(rc), rc,
            ocidir_last_error());
    cleanup();
    exit(1);
}

static void check_interrupted(void)
{
    if (interrupted) {
        fprintf(stderr, "bench_blob: interrupted\n");
        cleanup();
        exit(130);
    }
}

/* snprintf into a PATH_MAX buffer; a path that does not fit is fatal. */
__attribute__((format(printf, 2, 3))) static void mkpath(char buf[PATH_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX)
        die("path too long");
}

static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        die("bad size: %s", s);
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end || v == 0)
        die("bad size: %s", s);
    return (uint64_t)v;
}

/* Run argv with stdout to /dev/null; die unless it exits 0. */
static void run_quiet(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        errno = err;
        die("cannot run %s: %s", argv[0], strerror(errno));
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("%s failed", argv[0]);
}

static void make_source(const char *path, uint64_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        die("create %s: %s", path, strerror(errno));
    uint64_t *buf = malloc(READ_BUF);
    if (!buf)
        die("out of memory");
    uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift64*, fixed seed: same bytes every run */
    for (uint64_t left = size; left > 0;) {
        for (size_t i = 0; i < READ_BUF / 8; i++) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            buf[i] = x * 0x2545f4914f6cdd1dull;
        }
        size_t n = left < READ_BUF ? (size_t)left : READ_BUF;
        const char *p = (const char *)buf;
        for (size_t done = 0; done < n;) {
            ssize_t w = write(fd, p + done, n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                die("write %s: %s", path, strerror(errno));
            done += (size_t)w;
        }
        left -= n;
        check_interrupted();
    }
    free(buf);
    if (fsync(fd) < 0 || close(fd) < 0)
        die("fsync %s: %s", path, strerror(errno));
}

/* (b) in a child: map the file, fault it in, hash it once.  Writes the time
 * and the digest to `out`. */
static void child_hash(const char *path, uint64_t size, int out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        _exit(1);
    const unsigned char *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED)
        _exit(1);
    close(fd);
    volatile unsigned char sink = 0;
    long page = sysconf(_SC_PAGESIZE);
    for (uint64_t off = 0; off < size; off += (uint64_t)page)
        sink ^= m[off];
    (void)sink;
    struct {
        double secs;
        char digest[OCIDIR_DIGEST_MAX];
    } res = {0, ""};
    double t0 = now();
    if (ocidir_digest_buffer(OCIDIR_SHA256, m, (size_t)size, res.digest) != 0)
        _exit(1);
    res.secs = now() - t0;
    if (write(out, &res, sizeof res) != (ssize_t)sizeof res)
        _exit(1);
    _exit(0);
}

static double in_memory_hash(const char *path, uint64_t size, char digest[OCIDIR_DIGEST_MAX])
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(p[0]);
        child_hash(path, size, p[1]);
    }
    close(p[1]);
    struct {
        double secs;
        char digest[OCIDIR_DIGEST_MAX];
    } res;
    ssize_t n;
    do
        n = read(p[0], &res, sizeof res);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    if (n != (ssize_t)sizeof res || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("%s", "the in-memory hash child failed");
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

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size = parse_size(argv[++i]);
        else if (strncmp(argv[i], "--size=", 7) == 0)
            size = parse_size(argv[i] + 7);
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
        die("%s", "size too large for this machine");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct statvfs vfs;
    if (statvfs(dir, &vfs) < 0)
        die("cannot stat %s: %s", dir, strerror(errno));
    if ((uint64_t)vfs.f_bavail * vfs.f_frsize < 3 * size + (64u << 20))
        die("not enough free space in %s: 3 x size needed", dir);

    char tmpl[PATH_MAX];
    mkpath(tmpl, "%s/ocidir-bench.XXXXXX", dir);
    if (!mkdtemp(tmpl))
        die("cannot make a directory in %s: %s", dir, strerror(errno));
    memcpy(workdir, tmpl, sizeof workdir); /* from now on, removed at exit */
    char src[PATH_MAX], dest[PATH_MAX], layout[PATH_MAX];
    mkpath(src, "%s/source", workdir);
    mkpath(dest, "%s/cp-dest", workdir);
    mkpath(layout, "%s/layout", workdir);

    struct utsname u;
    uname(&u);
    printf("libocidir %s, hash backend %s, path resolution by %s\n", ocidir_version(),
           ocidir_hash_backend(), ocidir_resolver_uses_openat2() ? "openat2" : "component walk");
    printf("kernel %s %s; work directory %s\n", u.release, u.machine, workdir);
    if (getenv("OCIDIR_FORCE_NAMED_TEMP") || getenv("OCIDIR_FORCE_RESOLVE_FALLBACK"))
        printf("environment: OCIDIR_FORCE_NAMED_TEMP=%s OCIDIR_FORCE_RESOLVE_FALLBACK=%s\n",
               getenv("OCIDIR_FORCE_NAMED_TEMP") ? getenv("OCIDIR_FORCE_NAMED_TEMP") : "",
               getenv("OCIDIR_FORCE_RESOLVE_FALLBACK") ? getenv("OCIDIR_FORCE_RESOLVE_FALLBACK") : "");
    printf("size %" PRIu64 " bytes (%.2f GiB), best of %d interleaved rounds, source file in the page cache\n\n",
           size, (double)size / (1u << 30), RUNS);
    fflush(stdout);

    make_source(src, size);
    check_interrupted();

    struct row rows[5] = {
        {"sha256sum FILE", 1e300},
        {"ocidir_digest_buffer (in memory)", 1e300},
        {"ocidir_blob_put_fd", 1e300},
        {"ocidir_blob_open + reader_read", 1e300},
        {"sha256sum FILE; cp FILE DEST; sync", 1e300},
    };
    double t0, t;
    char *sha_av[] = {"sha256sum", src, NULL};
    char *cp_av[] = {"/bin/sh", "-c", "set -e; sha256sum \"$1\" >/dev/null; cp \"$1\" \"$2\"; sync",
                     "sh", src, dest, NULL};
    run_quiet(sha_av); /* once untimed: every run starts with the source cached */

    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d);
    if (rc)
        die_lib("ocidir_open", rc);
    int sfd = open(src, O_RDONLY | O_CLOEXEC);
    if (sfd < 0)
        die("open %s: %s", src, strerror(errno));
    char digest[OCIDIR_DIGEST_MAX] = "";
    char mem_digest[OCIDIR_DIGEST_MAX];
    char *buf = malloc(READ_BUF);
    if (!buf)
        die("out of memory");

    /* Rounds interleave the operations, so that a machine whose speed drifts
     * (a shared VM) affects every row alike; each row keeps its best run. */
    for (int round = 0; round < RUNS; round++) {
        /* (a) sha256sum FILE */
        check_interrupted();
        t0 = now();
        run_quiet(sha_av);
        t = now() - t0;
        if (t < rows[0].secs)
            rows[0].secs = t;

        /* (b) in-memory hash through the library's backend */
        check_interrupted();
        t = in_memory_hash(src, size, mem_digest);
        if (t < rows[1].secs)
            rows[1].secs = t;

        /* (c) put: hash, copy, flush, publish */
        check_interrupted();
        if (*digest && (rc = ocidir_blob_remove(d, digest)) != 0)
            die_lib("ocidir_blob_remove", rc);
        sync();
        if (lseek(sfd, 0, SEEK_SET) < 0)
            die("lseek %s: %s", src, strerror(errno));
        uint64_t got = 0;
        t0 = now();
        rc = ocidir_blob_put_fd(d, sfd, digest, &got);
        t = now() - t0;
        if (rc)
            die_lib("ocidir_blob_put_fd", rc);
        if (got != size)
            die("%s", "ocidir_blob_put_fd stored a wrong size");
        if (strcmp(digest, mem_digest) != 0)
            die("put and in-memory hash disagree on the digest (%s)", digest);
        if (t < rows[2].secs)
            rows[2].secs = t;

        /* (d) verified full read */
        check_interrupted();
        uint64_t total = 0;
        ssize_t n;
        ocidir_blob_reader_t *r = NULL;
        t0 = now();
        if ((rc = ocidir_blob_open(d, digest, (int64_t)size, &r)) != 0)
            die_lib("ocidir_blob_open", rc);
        while ((n = ocidir_blob_reader_read(r, buf, READ_BUF)) > 0)
            total += (uint64_t)n;
        ocidir_blob_reader_close(r);
        t = now() - t0;
        if (n < 0)
            die_lib("ocidir_blob_reader_read", (int)n);
        if (total != size)
            die("%s", "the reader returned a wrong number of bytes");
        if (t < rows[3].secs)
            rows[3].secs = t;

        /* (e) sha256sum FILE; cp FILE DEST; sync */
        check_interrupted();
        if (unlink(dest) < 0 && errno != ENOENT)
            die("unlink %s: %s", dest, strerror(errno));
        sync();
        t0 = now();
        run_quiet(cp_av);
        t = now() - t0;
        if (t < rows[4].secs)
            rows[4].secs = t;
    }
    free(buf);
    close(sfd);
    unlink(dest);
    if ((rc = ocidir_blob_remove(d, digest)) != 0)
        die_lib("ocidir_blob_remove", rc);
    ocidir_close(d);

    printf("%-38s %10s %10s\n", "operation", "seconds", "GB/s");
    for (int i = 0; i < 5; i++)
        printf("%-38s %10.3f %10.3f\n", rows[i].name, rows[i].secs, (double)size / 1e9 / rows[i].secs);

    double r_read = rows[3].secs / rows[1].secs;
    double r_put = rows[2].secs / rows[4].secs;
    printf("\n%-38s %10.3f   (target <= 1.15: %s)\n", "verified read / in-memory hash", r_read,
           r_read <= 1.15 ? "met" : "NOT met");
    printf("%-38s %10.3f   (target <= 1.00: %s)\n", "put / (sha256sum+cp+sync)", r_put,
           r_put <= 1.0 ? "met" : "NOT met");

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\npeak RSS %ld KiB (this process: put and read; the mapped in-memory hash runs in a child)\n",
           ru.ru_maxrss);
    printf("digest %s\n", digest);
    printf("reproduce: %s --size %" PRIu64 " --dir %s\n", argv[0], size, dir);

    cleanup();
    return 0;
}
