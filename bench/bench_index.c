/*
 * bench_index - how fast a tag is found in a very large index.json, next to
 * skopeo and umoci.
 *
 *   bench_index [--entries N] [--rounds R] [--dir DIR]
 *   bench_index --resolve LAYOUT TAG     (the "fresh process" mode, below)
 *
 * Builds, in a fresh directory under DIR (default /var/tmp, on disk), a
 * layout whose index.json has N (default 100000) tagged entries "tag-000000"
 * .. "tag-<N-1>".  The entries point, in turn, at 4 real manifests (they
 * differ by one annotation) whose blobs are present, each with a real config
 * and a real (small, uncompressed) tar layer.  (The history entry has a
 * `created` time: umoci 0.4.7's stat dereferences it without checking and
 * panics on a history entry without one.)  index.json is written directly
 * (in canonical JSON, published with a rename); the blobs are written with
 * ocidir_blob_put().
 *
 * Then, over R (default 15) rounds, each round running every operation once
 * in the same order (a shared VM's speed drifts: interleaving spreads the
 * drift over all rows alike), it times with CLOCK_MONOTONIC and reports the
 * median and the minimum:
 *
 *   ocidir open+resolve+close     in-process: ocidir_open(RDONLY) +
 *                                 ocidir_resolve(last tag) + ocidir_close()
 *   ocidir open+image_open+close  in-process: ocidir_open(RDONLY) +
 *                                 ocidir_image_open(last tag, NULL) +
 *                                 ocidir_image_close() + ocidir_close()
 *   ocidir resolve, fresh process this program run as `bench_index --resolve
 *                                 LAYOUT TAG` (posix_spawn + exec + library
 *                                 load + open + resolve + print the digest),
 *                                 so that the comparison with the tools
 *                                 counts process start on both sides
 *   skopeo inspect --raw          `skopeo inspect --raw oci:LAYOUT:TAG`
 *   umoci stat                    `umoci stat --image LAYOUT:TAG`, when it
 *                                 works on such a layout (else the reason)
 *
 * Every child's stdout goes to /dev/null.  Before timing, every operation
 * is run once and its result checked: the resolved digest is the last tag's
 * manifest, skopeo's output is that manifest's bytes, umoci exits 0.  The
 * last tag is the worst case for a search in file order.
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
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ocidir.h>

extern char **environ;

#define N_MANIFESTS 4
#define MAX_ROUNDS 1000

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
    fprintf(stderr, "bench_index: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cleanup();
    exit(1);
}

__attribute__((noreturn)) static void die_lib(const char *what, int rc)
{
    fprintf(stderr, "bench_index: %s: %s (%d): %s\n", what, ocidir_strerror(rc), rc,
            ocidir_last_error());
    cleanup();
    exit(1);
}

static void check_interrupted(void)
{
    if (interrupted) {
        fprintf(stderr, "bench_index: interrupted\n");
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

/* Run argv with stdout to out_path (or /dev/null) and stderr to err_path (or
 * inherited).  Returns the exit status (-1 when killed by a signal) and the
 * wall time. */
static int run(char *const argv[], const char *out_path, const char *err_path, double *secs)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (err_path)
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path, O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
    pid_t pid;
    double t0 = now();
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err)
        die("cannot run %s: %s", argv[0], strerror(err));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    if (secs)
        *secs = now() - t0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Whole file into a malloc'd buffer (NUL-terminated); NULL if unreadable. */
static char *slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        die("out of memory");
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
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

static double minimum(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

/* The "fresh process" mode: open, resolve, print the digest, close. */
static int resolve_mode(const char *layout, const char *tag)
{
    ocidir_t *d = NULL;
    char digest[OCIDIR_DIGEST_MAX];
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d);
    if (rc == 0)
        rc = ocidir_resolve(d, tag, digest, NULL, NULL);
    ocidir_close(d);
    if (rc) {
        fprintf(stderr, "bench_index --resolve: %s: %s\n", ocidir_strerror(rc), ocidir_last_error());
        return 1;
    }
    printf("%s\n", digest);
    return 0;
}

/* GOARCH of this machine, for the configs. */
static const char *goarch(void)
{
    static struct utsname u;
    uname(&u);
    if (strcmp(u.machine, "x86_64") == 0)
        return "amd64";
    if (strcmp(u.machine, "aarch64") == 0)
        return "arm64";
    if (strncmp(u.machine, "arm", 3) == 0)
        return "arm";
    if (strcmp(u.machine, "i686") == 0 || strcmp(u.machine, "i386") == 0)
        return "386";
    return u.machine; /* ppc64le, s390x, riscv64 are spelled alike */
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

/* Build the layout: blobs through the library, index.json written directly. */
static void build_layout(const char *layout, long entries, char manifests[N_MANIFESTS][OCIDIR_DIGEST_MAX],
                         size_t manifest_sizes[N_MANIFESTS], char **manifest_bytes)
{
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d);
    if (rc)
        die_lib("ocidir_open(CREATE)", rc);

    /* A real small layer: a tar of one file, made by tar(1). */
    char tree[PATH_MAX], file[PATH_MAX], tarfile[PATH_MAX];
    mkpath(tree, "%s/tree", workdir);
    mkpath(file, "%s/hello.txt", tree);
    mkpath(tarfile, "%s/layer.tar", workdir);
    if (mkdir(tree, 0755) < 0)
        die("mkdir %s: %s", tree, strerror(errno));
    FILE *f = fopen(file, "w");
    if (!f || fputs("hello from bench_index\n", f) < 0 || fclose(f) != 0)
        die("write %s: %s", file, strerror(errno));
    char *tar_av[] = {"tar", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
                      "-C", tree, "-cf", tarfile, "hello.txt", NULL};
    if (run(tar_av, NULL, NULL, NULL) != 0)
        die("tar failed");
    int tfd = open(tarfile, O_RDONLY | O_CLOEXEC);
    if (tfd < 0)
        die("open %s: %s", tarfile, strerror(errno));
    char layer[OCIDIR_DIGEST_MAX];
    uint64_t layer_size = 0;
    if ((rc = ocidir_blob_put_fd(d, tfd, layer, &layer_size)) != 0)
        die_lib("ocidir_blob_put_fd(layer)", rc);
    close(tfd);

    char config[1024];
    int clen = snprintf(config, sizeof config,
                        "{\"architecture\":\"%s\",\"config\":{},\"created\":\"2024-01-01T00:00:00Z\","
                        "\"history\":[{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"bench_index\"}],"
                        "\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[\"%s\"],\"type\":\"layers\"}}",
                        goarch(), layer);
    char config_digest[OCIDIR_DIGEST_MAX];
    if ((rc = ocidir_blob_put(d, config, (size_t)clen, config_digest)) != 0)
        die_lib("ocidir_blob_put(config)", rc);

    for (int i = 0; i < N_MANIFESTS; i++) {
        char *m = malloc(2048);
        if (!m)
            die("out of memory");
        int mlen = snprintf(m, 2048,
                            "{\"annotations\":{\"org.example.bench.variant\":\"%d\"},"
                            "\"config\":{\"digest\":\"%s\",\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":%d},"
                            "\"layers\":[{\"digest\":\"%s\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":%" PRIu64 "}],"
                            "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2}",
                            i, config_digest, clen, layer, layer_size);
        if ((rc = ocidir_blob_put(d, m, (size_t)mlen, manifests[i])) != 0)
            die_lib("ocidir_blob_put(manifest)", rc);
        manifest_sizes[i] = (size_t)mlen;
        manifest_bytes[i] = m;
    }
    ocidir_close(d);

    /* index.json: canonical JSON (sorted keys, no whitespace), written to a
     * temporary file and renamed over the empty index the library made. */
    char tmp[PATH_MAX], index[PATH_MAX];
    mkpath(tmp, "%s/index.json.tmp", layout);
    mkpath(index, "%s/index.json", layout);
    f = fopen(tmp, "w");
    if (!f)
        die("create %s: %s", tmp, strerror(errno));
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    fputs("{\"manifests\":[", f);
    for (long i = 0; i < entries; i++)
        fprintf(f,
                "%s{\"annotations\":{\"org.opencontainers.image.ref.name\":\"tag-%06ld\"},"
                "\"digest\":\"%s\",\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                "\"size\":%zu}",
                i ? "," : "", i, manifests[i % N_MANIFESTS], manifest_sizes[i % N_MANIFESTS]);
    fputs("],\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"schemaVersion\":2}", f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0)
        die("write %s: %s", tmp, strerror(errno));
    if (rename(tmp, index) < 0)
        die("rename %s: %s", tmp, strerror(errno));
}

enum { OP_RESOLVE, OP_IMAGE, OP_FRESH, OP_SKOPEO, OP_UMOCI, N_OPS };

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--resolve") == 0)
        return resolve_mode(argv[2], argv[3]);

    long entries = 100000;
    int rounds = 15;
    const char *dir = "/var/tmp";
    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc) {
            entries = strtol(argv[++i], &end, 10);
            if (*end || entries < 1 || entries > 999999)
                die("--entries takes 1..999999");
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (int)strtol(argv[++i], &end, 10);
            if (*end || rounds < 1 || rounds > MAX_ROUNDS)
                die("--rounds takes 1..%d", MAX_ROUNDS);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: %s [--entries N] [--rounds R] [--dir DIR]\n"
                    "       %s --resolve LAYOUT TAG\n",
                    argv[0], argv[0]);
            return 2;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl < 0)
        die("readlink /proc/self/exe: %s", strerror(errno));
    self[sl] = '\0';

    char tmpl[PATH_MAX];
    mkpath(tmpl, "%s/ocidir-bench-index.XXXXXX", dir);
    if (!mkdtemp(tmpl))
        die("cannot make a directory in %s: %s", dir, strerror(errno));
    memcpy(workdir, tmpl, sizeof workdir); /* from now on, removed at exit */
    char layout[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
    mkpath(layout, "%s/layout", workdir);
    mkpath(out, "%s/stdout", workdir);
    mkpath(err, "%s/stderr", workdir);

    /* The machine, the date, the versions. */
    struct utsname u;
    uname(&u);
    char cpu[256], date[64];
    cpu_model(cpu, sizeof cpu);
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
    printf("bench_index: libocidir %s, hash backend %s, path resolution by %s\n", ocidir_version(),
           ocidir_hash_backend(), ocidir_resolver_uses_openat2() ? "openat2" : "component walk");
    printf("machine: %ld CPUs (nproc), %s; kernel %s %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu,
           u.release, u.machine);
    char load[64];
    load_average(load, sizeof load);
    printf("date: %s; load average at start %s\n", date, load);
    char *ver_av[] = {"skopeo", "--version", NULL};
    char *umoci_ver_av[] = {"umoci", "--version", NULL};
    char *v1 = NULL, *v2 = NULL;
    if (run(ver_av, out, err, NULL) == 0)
        v1 = slurp(out, NULL);
    if (run(umoci_ver_av, out, err, NULL) == 0)
        v2 = slurp(out, NULL);
    printf("tools: %s%s", v1 ? v1 : "skopeo: not found\n", v2 ? v2 : "umoci: not found\n");
    free(v1);
    free(v2);

    /* ---- the layout ---- */
    char manifests[N_MANIFESTS][OCIDIR_DIGEST_MAX];
    size_t manifest_sizes[N_MANIFESTS];
    char *manifest_bytes[N_MANIFESTS];
    double t0 = now();
    build_layout(layout, entries, manifests, manifest_sizes, manifest_bytes);
    char index_path[PATH_MAX];
    mkpath(index_path, "%s/index.json", layout);
    struct stat st;
    if (stat(index_path, &st) < 0)
        die("stat %s: %s", index_path, strerror(errno));
    char last_tag[32];
    snprintf(last_tag, sizeof last_tag, "tag-%06ld", entries - 1);
    const char *want = manifests[(entries - 1) % N_MANIFESTS];
    printf("layout: %s\n  index.json: %ld tagged entries, %lld bytes (built in %.1f s); "
           "%d manifests, tag looked up: %s (the last entry)\n",
           layout, entries, (long long)st.st_size, now() - t0, N_MANIFESTS, last_tag);

    /* ---- each operation once, its result checked ---- */
    int rc;
    ocidir_t *d = NULL;
    char digest[OCIDIR_DIGEST_MAX];
    if ((rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d)) != 0)
        die_lib("ocidir_open(RDONLY)", rc);
    if ((rc = ocidir_resolve(d, last_tag, digest, NULL, NULL)) != 0)
        die_lib("ocidir_resolve", rc);
    if (strcmp(digest, want) != 0)
        die("ocidir_resolve(%s) gave %s, expected %s", last_tag, digest, want);
    ocidir_image_t *img = NULL;
    if ((rc = ocidir_image_open(d, last_tag, NULL, &img)) != 0)
        die_lib("ocidir_image_open", rc);
    if ((rc = ocidir_image_manifest(img, digest, NULL, NULL)) != 0)
        die_lib("ocidir_image_manifest", rc);
    if (strcmp(digest, want) != 0)
        die("ocidir_image_open(%s) opened %s, expected %s", last_tag, digest, want);
    ocidir_image_close(img);
    ocidir_close(d);

    char *fresh_av[] = {self, "--resolve", layout, last_tag, NULL};
    if (run(fresh_av, out, err, NULL) != 0)
        die("%s --resolve failed", self);
    char *got = slurp(out, NULL);
    if (!got || strncmp(got, want, strlen(want)) != 0)
        die("%s --resolve printed %s, expected %s", self, got ? got : "(nothing)", want);
    free(got);

    char ref[PATH_MAX + 64];
    snprintf(ref, sizeof ref, "oci:%s:%s", layout, last_tag);
    char *skopeo_av[] = {"skopeo", "inspect", "--raw", ref, NULL};
    if (run(skopeo_av, out, err, NULL) != 0) {
        char *e = slurp(err, NULL);
        die("skopeo inspect --raw %s failed: %s", ref, e ? e : "");
    }
    size_t got_len = 0;
    got = slurp(out, &got_len);
    size_t want_len = manifest_sizes[(entries - 1) % N_MANIFESTS];
    /* skopeo prints the raw manifest (some versions add a newline) */
    if (!got || got_len < want_len ||
        memcmp(got, manifest_bytes[(entries - 1) % N_MANIFESTS], want_len) != 0)
        die("skopeo inspect --raw did not print the manifest of %s", last_tag);
    free(got);

    char image_ref[PATH_MAX + 64];
    snprintf(image_ref, sizeof image_ref, "%s:%s", layout, last_tag);
    char *umoci_av[] = {"umoci", "stat", "--image", image_ref, NULL};
    char umoci_why[1024] = "";
    int umoci_rc = run(umoci_av, out, err, NULL);
    if (umoci_rc != 0) {
        char *e = slurp(err, NULL);
        snprintf(umoci_why, sizeof umoci_why, "`umoci stat --image DIR:TAG` exited %d: %s", umoci_rc,
                 e && *e ? e : "(no message)");
        umoci_why[strcspn(umoci_why, "\n")] = '\0';
        free(e);
    }
    for (int i = 0; i < N_MANIFESTS; i++)
        free(manifest_bytes[i]);

    /* ---- timed rounds ---- */
    static double times[N_OPS][MAX_ROUNDS];
    printf("timing %d interleaved rounds", rounds);
    fflush(stdout);
    for (int r = 0; r < rounds; r++) {
        check_interrupted();
        /* (a) in-process open + resolve + close */
        t0 = now();
        if ((rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d)) != 0)
            die_lib("ocidir_open(RDONLY)", rc);
        if ((rc = ocidir_resolve(d, last_tag, digest, NULL, NULL)) != 0)
            die_lib("ocidir_resolve", rc);
        ocidir_close(d);
        times[OP_RESOLVE][r] = now() - t0;

        /* in-process open + image_open + close */
        t0 = now();
        if ((rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d)) != 0)
            die_lib("ocidir_open(RDONLY)", rc);
        if ((rc = ocidir_image_open(d, last_tag, NULL, &img)) != 0)
            die_lib("ocidir_image_open", rc);
        ocidir_image_close(img);
        ocidir_close(d);
        times[OP_IMAGE][r] = now() - t0;

        /* (a) as a fresh process */
        if (run(fresh_av, NULL, err, &times[OP_FRESH][r]) != 0)
            die("%s --resolve failed", self);

        /* (b) skopeo */
        if (run(skopeo_av, NULL, err, &times[OP_SKOPEO][r]) != 0)
            die("skopeo inspect --raw failed");

        /* (c) umoci, when it works */
        if (umoci_rc == 0 && run(umoci_av, NULL, err, &times[OP_UMOCI][r]) != 0)
            die("umoci stat failed");
        printf(".");
        fflush(stdout);
    }
    printf("\n\n");

    static const char *const names[N_OPS] = {
        "ocidir open+resolve+close (in-process)",
        "ocidir open+image_open+close (in-process)",
        "ocidir resolve, fresh process",
        "skopeo inspect --raw oci:DIR:TAG",
        "umoci stat --image DIR:TAG",
    };
    double med[N_OPS], mins[N_OPS];
    for (int i = 0; i < N_OPS; i++) {
        med[i] = median(times[i], rounds);
        mins[i] = minimum(times[i], rounds);
    }
    printf("%-44s %11s %11s %14s %14s\n", "operation", "median ms", "min ms", "tool/in-proc",
           "tool/fresh");
    for (int i = 0; i < N_OPS; i++) {
        if (i == OP_UMOCI && umoci_rc != 0) {
            printf("%-44s %11s %11s %14s %14s\n", names[i], "-", "-", "-", "-");
            continue;
        }
        if (i == OP_SKOPEO || i == OP_UMOCI)
            printf("%-44s %11.2f %11.2f %13.1fx %13.1fx\n", names[i], med[i] * 1e3, mins[i] * 1e3,
                   med[i] / med[OP_RESOLVE], med[i] / med[OP_FRESH]);
        else
            printf("%-44s %11.2f %11.2f %14s %14s\n", names[i], med[i] * 1e3, mins[i] * 1e3, "", "");
    }
    printf("\n(ratios: the tool's median time divided by libocidir's; > 1 means libocidir is faster)\n");
    if (umoci_rc != 0)
        printf("umoci stat not timed: %s\n", umoci_why);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS of this process (in-process rows): %ld KiB\n", ru.ru_maxrss);
    load_average(load, sizeof load);
    printf("load average at end %s\n", load);
    printf("reproduce: %s --entries %ld --rounds %d --dir %s\n", self, entries, rounds, dir);

    cleanup();
    return 0;
}
