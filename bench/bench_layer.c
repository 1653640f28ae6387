/*
 * bench_layer - how fast layers are compressed, and decompressed with
 * verification, next to gzip(1) and zstd(1).
 *
 *   bench_layer [--size BYTES] [--rounds R] [--dir DIR]
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
 *     ocidir gzip -6          ocidir_layer_writer_new(GZIP, 6, 0) + _write
 *                             (1 MiB chunks read from the input file) + _commit
 *     gzip -6                 sh -c 'gzip -6 -c IN > OUT && sync OUT'
 *     ocidir zstd -3, 0 thr.  ocidir_layer_writer_new(ZSTD, 3, threads 0) ...
 *     zstd -3                 sh -c 'zstd -q -3 -c IN > OUT && sync OUT'
 *     ocidir zstd -3, 2 thr.  ocidir_layer_writer_new(ZSTD, 3, threads 2) ...
 *     zstd -3 -T0             sh -c 'zstd -q -3 -T0 -c IN > OUT && sync OUT'
 *   decompress and verify
 *     ocidir gunzip+verify    ocidir_layer_open(gzip blob, size, diff_id) +
 *                             ocidir_layer_reader_read to the clean end
 *     gzip -dc | sha256sum    sh -c 'gzip -dc BLOB | sha256sum'
 *     ocidir unzstd+verify    the same for the zstd blob
 *     zstd -dc | sha256sum    sh -c 'zstd -q -dc BLOB | sha256sum'
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ocidir.h>

extern char **environ;

#define MAX_ROUNDS 100
#define CHUNK (1u << 20)

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
    fprintf(stderr, "bench_layer: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cleanup();
    exit(1);
}

__attribute__((noreturn)) static void die_lib(const char *what, int rc)
{
    fprintf(stderr, "bench_layer: %s: %s (%d): %s\n", what, ocidir_strerror(rc), rc,
            ocidir_last_error());
    cleanup();
    exit(1);
}

static void check_interrupted(void)
{
    if (interrupted) {
        fprintf(stderr, "bench_layer: interrupted\n");
        cleanup();
        exit(130);
    }
}

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
    if (*end || v < 64 * 1024)
        die("bad size: %s (at least 64K)", s);
    return (uint64_t)v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void write_all(int fd, const void *buf, size_t len, const char *what)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write %s: %s", what, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
}

/* ---------------------------------------------------------------------------
 * The input: a ustar archive of generated files.
 * ------------------------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ull; /* xorshift64*, fixed seed */

static uint64_t next_rand(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
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

static void tar_header(char h[512], const char *name, char type, unsigned mode, uint64_t size)
{
    memset(h, 0, 512);
    snprintf(h, 100, "%s", name);
    snprintf(h + 100, 8, "%07o", mode);
    snprintf(h + 108, 8, "%07o", 0);
    snprintf(h + 116, 8, "%07o", 0);
    snprintf(h + 124, 12, "%011" PRIo64, size);
    snprintf(h + 136, 12, "%011o", 0);
    h[156] = type;
    memcpy(h + 257, "ustar", 6); /* magic "ustar\0" */
    memcpy(h + 263, "00", 2);
    snprintf(h + 265, 32, "root");
    snprintf(h + 297, 32, "root");
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum); /* six digits, NUL, and the space left */
    h[155] = ' ';
}

/* Write the archive; returns its size (SIZE rounded to a 10240-byte record). */
static uint64_t make_input(const char *path, uint64_t size, unsigned *files_out)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        die("create %s: %s", path, strerror(errno));
    char *buf = malloc(CHUNK);
    if (!buf)
        die("out of memory");
    char h[512];
    uint64_t total = 0;
    unsigned files = 0;
    tar_header(h, "data/", '5', 0755, 0);
    write_all(fd, h, 512, path);
    total += 512;
    const uint64_t end_blocks = 2 * 512;
    while (total + 512 + 4096 + end_blocks <= size) {
        check_interrupted();
        /* 256 KiB .. 4 MiB, in 4 KiB steps, cut to what is left */
        uint64_t fsize = (64 + next_rand() % 961) * 4096;
        uint64_t room = size - total - 512 - end_blocks;
        room -= room % 512;
        if (fsize > room)
            fsize = room;
        char name[64];
        snprintf(name, sizeof name, "data/file-%05u.txt", files++);
        tar_header(h, name, '0', 0644, fsize);
        write_all(fd, h, 512, path);
        total += 512;
        for (uint64_t left = fsize; left > 0;) {
            size_t n = left < CHUNK ? (size_t)left : CHUNK;
            for (size_t off = 0; off < n; off += 4096)
                fill_block(buf + off, n - off < 4096 ? n - off : 4096);
            write_all(fd, buf, n, path);
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
        write_all(fd, buf, n, path);
        total += n;
    }
    free(buf);
    if (fsync(fd) < 0 || close(fd) < 0)
        die("fsync %s: %s", path, strerror(errno));
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
    const char *layout;
    const char *input;
    ocidir_compression_t compression;
    int level, threads;
    /* for decompression */
    const char *media_type, *digest, *diff_id;
    int64_t size;
};

static void child_compress(const struct lib_op *op, struct lib_result *res)
{
    ocidir_t *d = NULL;
    ocidir_layer_writer_t *w = NULL;
    char *buf = malloc(CHUNK);
    int fd = open(op->input, O_RDONLY | O_CLOEXEC);
    if (!buf || fd < 0) {
        res->rc = OCIDIR_E_IO;
        snprintf(res->error, sizeof res->error, "open %s: %s", op->input, strerror(errno));
        return;
    }
    if ((res->rc = ocidir_open(AT_FDCWD, op->layout, 0, &d)) != 0)
        goto out;
    double t0 = now();
    if ((res->rc = ocidir_layer_writer_new(d, op->compression, op->level, op->threads, &w)) != 0)
        goto out;
    ssize_t n;
    while ((n = read(fd, buf, CHUNK)) > 0)
        if ((res->rc = ocidir_layer_writer_write(w, buf, (size_t)n)) != 0)
            goto out;
    if (n < 0) {
        res->rc = OCIDIR_E_IO;
        snprintf(res->error, sizeof res->error, "read %s: %s", op->input, strerror(errno));
        ocidir_layer_writer_abort(w);
        goto close;
    }
    res->rc = ocidir_layer_writer_commit(w, res->digest, &res->size, res->diff_id);
    w = NULL; /* freed by commit */
    res->secs = now() - t0;
out:
    if (res->rc)
        snprintf(res->error, sizeof res->error, "%s", ocidir_last_error());
    ocidir_layer_writer_abort(w);
close:
    ocidir_close(d);
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
    double t0 = now();
    if ((res->rc = ocidir_layer_open(d, op->media_type, op->digest, op->size, op->diff_id, &r)) != 0)
        goto out;
    ssize_t n;
    uint64_t total = 0;
    while ((n = ocidir_layer_reader_read(r, buf, CHUNK)) > 0)
        total += (uint64_t)n;
    ocidir_layer_reader_close(r);
    res->secs = now() - t0;
    res->size = total;
    res->rc = (int)n; /* 0: the clean end, digest and diff_id verified */
out:
    if (res->rc)
        snprintf(res->error, sizeof res->error, "%s", ocidir_last_error());
    ocidir_close(d);
    free(buf);
}

/* Run a library operation in a forked child, so that its peak RSS is its own. */
static struct lib_result run_lib(const struct lib_op *op, int compress, const char *what)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(p[0]);
        struct lib_result res;
        memset(&res, 0, sizeof res);
        if (compress)
            child_compress(op, &res);
        else
            child_decompress(op, &res);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        res.maxrss_kib = ru.ru_maxrss;
        _exit(write(p[1], &res, sizeof res) == (ssize_t)sizeof res ? 0 : 1);
    }
    close(p[1]);
    struct lib_result res;
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
        die("the child running %s died", what);
    if (res.rc) {
        fprintf(stderr, "bench_layer: %s: %s (%d): %s\n", what, ocidir_strerror(res.rc), res.rc,
                res.error);
        cleanup();
        exit(1);
    }
    return res;
}

/* Run a shell command line with $1 $2 set, stdout to out_path (or /dev/null).
 * Returns the wall time; *maxrss_kib gets the child's peak RSS (wait4). */
static double run_tool(const char *script, const char *a1, const char *a2, const char *out_path,
                       long *maxrss_kib)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, "sh", (char *)a1, (char *)a2, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    double t0 = now();
    int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err)
        die("cannot run /bin/sh: %s", strerror(err));
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            die("wait4: %s", strerror(errno));
    double secs = now() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("`%s` (with %s %s) failed", script, a1, a2 ? a2 : "");
    *maxrss_kib = ru.ru_maxrss;
    return secs;
}

/* The 64 hex digits at the start of a file (sha256sum's output). */
static void read_hex(const char *path, char hex[65])
{
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%64[0-9a-f]", hex) != 1 || strlen(hex) != 64)
        die("cannot read a sha256 from %s", path);
    fclose(f);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        die("stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_size;
}

/* The first three fields of /proc/loadavg: other work on the machine skews
 * the figures, so the table says how busy it was. */
static void load_average(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/loadavg", "r");
    double a, b, c;
    if (f && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf(buf, cap, "%.2f %.2f %.2f", a, b, c);
    if (f)
        fclose(f);
}

static void cpu_model(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ' || *colon == '\t')
                    colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(buf, cap, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

/* ---------------------------------------------------------------------------
 * The benchmark.
 * ------------------------------------------------------------------------ */

enum {
    LIB_GZ, TOOL_GZ, LIB_GUNZ, TOOL_GUNZ,
    LIB_ZST, TOOL_ZST, LIB_UNZST, TOOL_UNZST,
    LIB_ZST2, TOOL_ZST2,
    N_ROWS
};

struct row {
    const char *name;
    double secs[MAX_ROUNDS];
    long maxrss_kib;
    uint64_t out_size; /* compressed output size (compression rows) */
};

/* Before a compression: no blob from an earlier run may be in place (a
 * commit that finds its blob present keeps it and skips the publishing). */
static void remove_blobs(const char *layout, const char *a, const char *b, const char *c)
{
    const char *digests[] = {a, b, c};
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, 0, &d);
    if (rc)
        die_lib("ocidir_open", rc);
    for (int i = 0; i < 3; i++) {
        if (!*digests[i])
            continue;
        rc = ocidir_blob_remove(d, digests[i]);
        if (rc && rc != OCIDIR_E_NOT_FOUND) /* two rows may have made the same blob */
            die_lib("ocidir_blob_remove", rc);
    }
    ocidir_close(d);
}

int main(int argc, char **argv)
{
    uint64_t size = 256ull << 20, requested;
    int rounds = 5;
    const char *dir = "/var/tmp";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            size = parse_size(argv[++i]);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            char *end;
            rounds = (int)strtol(argv[++i], &end, 10);
            if (*end || rounds < 1 || rounds > MAX_ROUNDS)
                die("--rounds takes 1..%d", MAX_ROUNDS);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--size BYTES] [--rounds R] [--dir DIR]\n", argv[0]);
            return 2;
        }
    }

    requested = size;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct statvfs vfs;
    if (statvfs(dir, &vfs) < 0)
        die("cannot stat %s: %s", dir, strerror(errno));
    if ((uint64_t)vfs.f_bavail * vfs.f_frsize < 4 * size + (64u << 20))
        die("not enough free space in %s: 4 x size needed", dir);

    char tmpl[PATH_MAX];
    mkpath(tmpl, "%s/ocidir-bench-layer.XXXXXX", dir);
    if (!mkdtemp(tmpl))
        die("cannot make a directory in %s: %s", dir, strerror(errno));
    memcpy(workdir, tmpl, sizeof workdir); /* from now on, removed at exit */
    char input[PATH_MAX], layout[PATH_MAX], out_gz[PATH_MAX], out_zst[PATH_MAX], out_zst2[PATH_MAX],
        sums[PATH_MAX];
    mkpath(input, "%s/input.tar", workdir);
    mkpath(layout, "%s/layout", workdir);
    mkpath(out_gz, "%s/tool.tar.gz", workdir);
    mkpath(out_zst, "%s/tool.tar.zst", workdir);
    mkpath(out_zst2, "%s/tool-T0.tar.zst", workdir);
    mkpath(sums, "%s/sha256sum.out", workdir);

    struct utsname u;
    uname(&u);
    char cpu[256], date[64];
    cpu_model(cpu, sizeof cpu);
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
    printf("bench_layer: libocidir %s, hash backend %s\n", ocidir_version(), ocidir_hash_backend());
    printf("machine: %ld CPUs (nproc), %s; kernel %s %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu,
           u.release, u.machine);
    char load[64];
    load_average(load, sizeof load);
    printf("date: %s; load average at start %s\n", date, load);
    long rss;
    run_tool("gzip --version | head -1; zstd --version", NULL, NULL, sums, &rss);
    FILE *vf = fopen(sums, "r");
    char line[256];
    while (vf && fgets(line, sizeof line, vf))
        printf("tool: %s", line);
    if (vf)
        fclose(vf);

    unsigned files = 0;
    double t0 = now();
    size = make_input(input, size, &files);
    printf("input: %s, a tar of %u generated files, %" PRIu64 " bytes (%.1f MiB), made in %.1f s\n",
           input, files, size, (double)size / (1 << 20), now() - t0);
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
        die("tar -t lists %u entries in the input, expected %u", listed, files + 1);
    fclose(lf);

    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d);
    if (rc)
        die_lib("ocidir_open(CREATE)", rc);
    ocidir_close(d);

    static struct row rows[N_ROWS] = {
        [LIB_GZ] = {"ocidir gzip -6", {0}, 0, 0},
        [TOOL_GZ] = {"gzip -6 -c > FILE; sync FILE", {0}, 0, 0},
        [LIB_ZST] = {"ocidir zstd -3 (threads 0)", {0}, 0, 0},
        [TOOL_ZST] = {"zstd -3 -c > FILE; sync FILE", {0}, 0, 0},
        [LIB_ZST2] = {"ocidir zstd -3 (threads 2)", {0}, 0, 0},
        [TOOL_ZST2] = {"zstd -3 -T0 -c > FILE; sync FILE", {0}, 0, 0},
        [LIB_GUNZ] = {"ocidir gunzip + verify", {0}, 0, 0},
        [TOOL_GUNZ] = {"gzip -dc | sha256sum", {0}, 0, 0},
        [LIB_UNZST] = {"ocidir unzstd + verify", {0}, 0, 0},
        [TOOL_UNZST] = {"zstd -dc | sha256sum", {0}, 0, 0},
    };
    char gz_digest[OCIDIR_DIGEST_MAX] = "", zst_digest[OCIDIR_DIGEST_MAX] = "",
         zst2_digest[OCIDIR_DIGEST_MAX] = "";
    uint64_t gz_size = 0, zst_size = 0;
    const char *gz_type = ocidir_compression_media_type(OCIDIR_COMPRESSION_GZIP);
    const char *zst_type = ocidir_compression_media_type(OCIDIR_COMPRESSION_ZSTD);

    printf("timing %d interleaved rounds", rounds);
    fflush(stdout);
    for (int r = 0; r < rounds; r++) {
        struct lib_result res;
        struct lib_op op = {layout, input, OCIDIR_COMPRESSION_GZIP, 6, 0, NULL, NULL, NULL, -1};
        char blob[PATH_MAX];
        long m;

        /* ---- gzip ---- */
        check_interrupted();
        remove_blobs(layout, gz_digest, zst_digest, zst2_digest);
        sync();
        res = run_lib(&op, 1, "ocidir gzip -6");
        rows[LIB_GZ].secs[r] = res.secs;
        if (res.maxrss_kib > rows[LIB_GZ].maxrss_kib)
            rows[LIB_GZ].maxrss_kib = res.maxrss_kib;
        rows[LIB_GZ].out_size = gz_size = res.size;
        memcpy(gz_digest, res.digest, sizeof gz_digest);
        if (strcmp(res.diff_id, input_digest) != 0)
            die("the gzip layer's diff_id %s is not the input's sha256", res.diff_id);

        check_interrupted();
        unlink(out_gz);
        sync();
        rows[TOOL_GZ].secs[r] = run_tool("gzip -6 -c \"$1\" > \"$2\" && sync \"$2\"", input, out_gz, NULL, &m);
        if (m > rows[TOOL_GZ].maxrss_kib)
            rows[TOOL_GZ].maxrss_kib = m;
        rows[TOOL_GZ].out_size = file_size(out_gz);

        check_interrupted();
        op.media_type = gz_type;
        op.digest = gz_digest;
        op.size = (int64_t)gz_size;
        op.diff_id = input_digest;
        res = run_lib(&op, 0, "ocidir gunzip + verify");
        rows[LIB_GUNZ].secs[r] = res.secs;
        if (res.maxrss_kib > rows[LIB_GUNZ].maxrss_kib)
            rows[LIB_GUNZ].maxrss_kib = res.maxrss_kib;
        if (res.size != size)
            die("ocidir gunzip gave %" PRIu64 " bytes, expected %" PRIu64, res.size, size);

        check_interrupted();
        mkpath(blob, "%s/blobs/sha256/%s", layout, strchr(gz_digest, ':') + 1);
        rows[TOOL_GUNZ].secs[r] =
            run_tool("gzip -dc \"$1\" | sha256sum", blob, NULL, r == 0 ? sums : NULL, &m);
        if (m > rows[TOOL_GUNZ].maxrss_kib)
            rows[TOOL_GUNZ].maxrss_kib = m;
        if (r == 0) {
            char hex[65];
            read_hex(sums, hex);
            if (strcmp(hex, input_hex) != 0)
                die("gzip -dc of the library's gzip blob does not give the input back");
        }

        /* ---- zstd, threads 0 ---- */
        check_interrupted();
        remove_blobs(layout, gz_digest, zst_digest, zst2_digest);
        sync();
        op = (struct lib_op){layout, input, OCIDIR_COMPRESSION_ZSTD, 3, 0, NULL, NULL, NULL, -1};
        res = run_lib(&op, 1, "ocidir zstd -3 (threads 0)");
        rows[LIB_ZST].secs[r] = res.secs;
        if (res.maxrss_kib > rows[LIB_ZST].maxrss_kib)
            rows[LIB_ZST].maxrss_kib = res.maxrss_kib;
        rows[LIB_ZST].out_size = zst_size = res.size;
        memcpy(zst_digest, res.digest, sizeof zst_digest);
        if (strcmp(res.diff_id, input_digest) != 0)
            die("the zstd layer's diff_id %s is not the input's sha256", res.diff_id);

        check_interrupted();
        unlink(out_zst);
        sync();
        rows[TOOL_ZST].secs[r] =
            run_tool("zstd -q -3 -c \"$1\" > \"$2\" && sync \"$2\"", input, out_zst, NULL, &m);
        if (m > rows[TOOL_ZST].maxrss_kib)
            rows[TOOL_ZST].maxrss_kib = m;
        rows[TOOL_ZST].out_size = file_size(out_zst);

        check_interrupted();
        op.media_type = zst_type;
        op.digest = zst_digest;
        op.size = (int64_t)zst_size;
        op.diff_id = input_digest;
        res = run_lib(&op, 0, "ocidir unzstd + verify");
        rows[LIB_UNZST].secs[r] = res.secs;
        if (res.maxrss_kib > rows[LIB_UNZST].maxrss_kib)
            rows[LIB_UNZST].maxrss_kib = res.maxrss_kib;
        if (res.size != size)
            die("ocidir unzstd gave %" PRIu64 " bytes, expected %" PRIu64, res.size, size);

        check_interrupted();
        mkpath(blob, "%s/blobs/sha256/%s", layout, strchr(zst_digest, ':') + 1);
        rows[TOOL_UNZST].secs[r] =
            run_tool("zstd -q -dc \"$1\" | sha256sum", blob, NULL, r == 0 ? sums : NULL, &m);
        if (m > rows[TOOL_UNZST].maxrss_kib)
            rows[TOOL_UNZST].maxrss_kib = m;
        if (r == 0) {
            char hex[65];
            read_hex(sums, hex);
            if (strcmp(hex, input_hex) != 0)
                die("zstd -dc of the library's zstd blob does not give the input back");
        }

        /* ---- zstd, 2 threads ---- */
        check_interrupted();
        remove_blobs(layout, gz_digest, zst_digest, zst2_digest);
        sync();
        op = (struct lib_op){layout, input, OCIDIR_COMPRESSION_ZSTD, 3, 2, NULL, NULL, NULL, -1};
        res = run_lib(&op, 1, "ocidir zstd -3 (threads 2)");
        rows[LIB_ZST2].secs[r] = res.secs;
        if (res.maxrss_kib > rows[LIB_ZST2].maxrss_kib)
            rows[LIB_ZST2].maxrss_kib = res.maxrss_kib;
        rows[LIB_ZST2].out_size = res.size;
        memcpy(zst2_digest, res.digest, sizeof zst2_digest);
        if (strcmp(res.diff_id, input_digest) != 0)
            die("the 2-thread zstd layer's diff_id %s is not the input's sha256", res.diff_id);

        check_interrupted();
        unlink(out_zst2);
        sync();
        rows[TOOL_ZST2].secs[r] =
            run_tool("zstd -q -3 -T0 -c \"$1\" > \"$2\" && sync \"$2\"", input, out_zst2, NULL, &m);
        if (m > rows[TOOL_ZST2].maxrss_kib)
            rows[TOOL_ZST2].maxrss_kib = m;
        rows[TOOL_ZST2].out_size = file_size(out_zst2);

        printf(".");
        fflush(stdout);
    }
    printf("\n\n");

    /* ---- the table ---- */
    static const int order[N_ROWS] = {LIB_GZ,   TOOL_GZ,   LIB_ZST,   TOOL_ZST,  LIB_ZST2,
                                      TOOL_ZST2, LIB_GUNZ, TOOL_GUNZ, LIB_UNZST, TOOL_UNZST};
    printf("%-34s %9s %9s %13s %7s %10s %12s\n", "operation", "median s", "MB/s", "output bytes",
           "ratio", "peak RSS", "lib speed /");
    printf("%-34s %9s %9s %13s %7s %10s %12s\n", "", "", "", "", "", "MiB", "tool speed");
    for (int k = 0; k < N_ROWS; k++) {
        int i = order[k];
        double med = median(rows[i].secs, rounds);
        printf("%-34s %9.3f %9.1f ", rows[i].name, med, (double)size / 1e6 / med);
        if (rows[i].out_size)
            printf("%13" PRIu64 " %7.3f ", rows[i].out_size, (double)rows[i].out_size / (double)size);
        else
            printf("%13s %7s ", "-", "-");
        printf("%10.1f ", (double)rows[i].maxrss_kib / 1024);
        if (k % 2 == 1) /* a tool row: compare with the library row above it */
            printf("%11.2fx", median(rows[i].secs, rounds) / median(rows[order[k - 1]].secs, rounds));
        printf("\n");
        if (k % 2 == 1 && k + 1 < N_ROWS)
            printf("\n");
    }
    printf("\n(ratio: output / input size; lib speed / tool speed > 1 means the library is faster;\n"
           " library rows include hashing both streams and fsync; tool rows include `sync FILE`)\n");
    printf("gzip blob %s\nzstd blob %s\ndiff_id   %s\n", gz_digest, zst_digest, input_digest);
    load_average(load, sizeof load);
    printf("load average at end %s\n", load);
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = '\0';
    printf("reproduce: %s --size %" PRIu64 " --rounds %d --dir %s\n", sl > 0 ? self : argv[0], requested,
           rounds, dir);

    cleanup();
    return 0;
}
