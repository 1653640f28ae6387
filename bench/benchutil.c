/*
 * benchutil - what the benchmark programs share; see benchutil.h.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include "benchutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
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

static const char *prog = "bench";
static char workdir[PATH_MAX]; /* our own directory, removed at exit */
static volatile sig_atomic_t interrupted;

/* ---- set-up, errors, interruption ---- */

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

void bench_init(const char *name)
{
    prog = name;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    bench_cleanup();
    exit(1);
}

void bench_die_lib_msg(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "%s: %s: %s (%d): %s\n", prog, what, ocidir_strerror(rc), rc, msg);
    bench_cleanup();
    exit(1);
}

void bench_die_lib(const char *what, int rc)
{
    bench_die_lib_msg(what, rc, ocidir_last_error());
}

void bench_check_interrupted(void)
{
    if (interrupted) {
        fprintf(stderr, "%s: interrupted\n", prog);
        bench_cleanup();
        exit(130);
    }
}

/* ---- the work directory ---- */

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

void bench_cleanup(void)
{
    if (*workdir) {
        nftw(workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        *workdir = '\0';
    }
}

const char *bench_make_workdir(const char *dir, const char *name)
{
    char tmpl[PATH_MAX];
    bench_mkpath(tmpl, "%s/%s.XXXXXX", dir, name);
    if (!mkdtemp(tmpl))
        bench_die("cannot make a directory in %s: %s", dir, strerror(errno));
    memcpy(workdir, tmpl, sizeof workdir); /* from now on, removed at exit */
    return workdir;
}

void bench_require_space(const char *dir, unsigned factor, uint64_t size)
{
    struct statvfs vfs;
    if (statvfs(dir, &vfs) < 0)
        bench_die("cannot stat %s: %s", dir, strerror(errno));
    if ((uint64_t)vfs.f_bavail * vfs.f_frsize < factor * size + (64u << 20))
        bench_die("not enough free space in %s: %u x size needed", dir, factor);
}

void bench_mkpath(char buf[PATH_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX)
        bench_die("path too long");
}

const char *bench_self_path(char buf[PATH_MAX])
{
    ssize_t n = readlink("/proc/self/exe", buf, PATH_MAX - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? buf : NULL;
}

/* ---- numbers ---- */

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(const double *v, int n)
{
    double *s = bench_xmalloc((size_t)n * sizeof *s);
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
    return m;
}

double bench_minimum(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

uint64_t bench_parse_size(const char *s, uint64_t min, const char *hint)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        bench_die("bad size: %s", s);
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end || v < min)
        bench_die("bad size: %s%s%s%s", s, hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
    return (uint64_t)v;
}

long bench_parse_count(const char *s, const char *option, long max)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > max)
        bench_die("%s takes 1..%ld", option, max);
    return v;
}

uint64_t bench_xorshift64s(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* ---- files and processes ---- */

void *bench_xmalloc(size_t size)
{
    void *p = malloc(size);
    if (!p)
        bench_die("out of memory");
    return p;
}

int bench_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        bench_die("create %s: %s", path, strerror(errno));
    return fd;
}

void bench_write_all(int fd, const void *buf, size_t len, const char *what)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            bench_die("write %s: %s", what, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
}

int bench_run(char *const argv[], const char *out_path, const char *err_path, double *secs,
              long *maxrss_kib)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (err_path)
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path, O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
    pid_t pid;
    double t0 = bench_now();
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err)
        bench_die("cannot run %s: %s", argv[0], strerror(err));
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            bench_die("wait4: %s", strerror(errno));
    if (secs)
        *secs = bench_now() - t0;
    if (maxrss_kib)
        *maxrss_kib = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void bench_in_child_or_die(void (*fn)(const void *arg, void *res), const void *arg, void *res, size_t size,
                           const char *what)
{
    if (bench_in_child(fn, arg, res, size) != 0)
        bench_die("the child running %s died", what);
}

long bench_self_maxrss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int bench_in_child(void (*fn)(const void *arg, void *res), const void *arg, void *res, size_t size)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        bench_die("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(p[0]);
        memset(res, 0, size);
        fn(arg, res);
        _exit(write(p[1], res, size) == (ssize_t)size ? 0 : 1);
    }
    close(p[1]);
    ssize_t n;
    do
        n = read(p[0], res, size);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            bench_die("waitpid: %s", strerror(errno));
    return n == (ssize_t)size && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- the machine ---- */

void bench_print_library(const char *prefix, int with_resolver)
{
    printf("%slibocidir %s, hash backend %s, gzip decoder %s", prefix, ocidir_version(), ocidir_hash_backend(),
           ocidir_inflate_backend());
    if (with_resolver)
        printf(", path resolution by %s", ocidir_resolver_uses_openat2() ? "openat2" : "component walk");
    printf("\n");
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

/* The first three fields of /proc/loadavg. */
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

void bench_print_header(const char *prefix, int with_resolver)
{
    bench_print_library(prefix, with_resolver);
    struct utsname u;
    uname(&u);
    char cpu[256], date[64], load[64];
    cpu_model(cpu, sizeof cpu);
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
    printf("machine: %ld CPUs (nproc), %s; kernel %s %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu,
           u.release, u.machine);
    load_average(load, sizeof load);
    printf("date: %s; load average at start %s\n", date, load);
}

void bench_print_load_at_end(void)
{
    char load[64];
    load_average(load, sizeof load);
    printf("load average at end %s\n", load);
}

/* A ustar header block: name, type, mode, size; owner 0, mtime 0, checksum. */
void bench_tar_header(char h[512], const char *name, char type, unsigned mode, uint64_t size)
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
