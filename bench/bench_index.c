/*
 * bench_index - how fast a tag is found in a very large index.json, next to
 * skopeo and umoci.
 *
 *   bench_index [--entries N] [--rounds R] [--dir DIR] [--ocidir PATH]
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
 *   ocidir inspect DIR:TAG        the ocidir tool, a fresh process: open,
 *                                 resolve, read and verify the manifest and
 *                                 config, print the image as JSON (built
 *                                 with the benchmark; --ocidir PATH names
 *                                 another; absent: the row says so)
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
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <ocidir.h>

#include "benchutil.h"

#define N_MANIFESTS 4
#define MAX_ROUNDS 1000

static const char *workdir; /* ours, removed at exit */

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
        bench_die("out of memory");
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
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

/* Build the layout: blobs through the library, index.json written directly. */
static void build_layout(const char *layout, long entries, char manifests[N_MANIFESTS][OCIDIR_DIGEST_MAX],
                         size_t manifest_sizes[N_MANIFESTS], char **manifest_bytes)
{
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d);
    if (rc)
        bench_die_lib("ocidir_open(CREATE)", rc);

    /* A real small layer: a tar of one file, made by tar(1). */
    char tree[PATH_MAX], file[PATH_MAX], tarfile[PATH_MAX];
    bench_mkpath(tree, "%s/tree", workdir);
    bench_mkpath(file, "%s/hello.txt", tree);
    bench_mkpath(tarfile, "%s/layer.tar", workdir);
    if (mkdir(tree, 0755) < 0)
        bench_die("mkdir %s: %s", tree, strerror(errno));
    FILE *f = fopen(file, "w");
    if (!f || fputs("hello from bench_index\n", f) < 0 || fclose(f) != 0)
        bench_die("write %s: %s", file, strerror(errno));
    char *tar_av[] = {"tar", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
                      "-C", tree, "-cf", tarfile, "hello.txt", NULL};
    if (bench_run(tar_av, NULL, NULL, NULL, NULL) != 0)
        bench_die("tar failed");
    int tfd = open(tarfile, O_RDONLY | O_CLOEXEC);
    if (tfd < 0)
        bench_die("open %s: %s", tarfile, strerror(errno));
    char layer[OCIDIR_DIGEST_MAX];
    uint64_t layer_size = 0;
    if ((rc = ocidir_blob_put_fd(d, tfd, layer, &layer_size)) != 0)
        bench_die_lib("ocidir_blob_put_fd(layer)", rc);
    close(tfd);

    char config[1024];
    int clen = snprintf(config, sizeof config,
                        "{\"architecture\":\"%s\",\"config\":{},\"created\":\"2024-01-01T00:00:00Z\","
                        "\"history\":[{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"bench_index\"}],"
                        "\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[\"%s\"],\"type\":\"layers\"}}",
                        goarch(), layer);
    char config_digest[OCIDIR_DIGEST_MAX];
    if ((rc = ocidir_blob_put(d, config, (size_t)clen, config_digest)) != 0)
        bench_die_lib("ocidir_blob_put(config)", rc);

    for (int i = 0; i < N_MANIFESTS; i++) {
        char *m = bench_xmalloc(2048);
        int mlen = snprintf(m, 2048,
                            "{\"annotations\":{\"org.example.bench.variant\":\"%d\"},"
                            "\"config\":{\"digest\":\"%s\",\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":%d},"
                            "\"layers\":[{\"digest\":\"%s\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":%" PRIu64 "}],"
                            "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2}",
                            i, config_digest, clen, layer, layer_size);
        if ((rc = ocidir_blob_put(d, m, (size_t)mlen, manifests[i])) != 0)
            bench_die_lib("ocidir_blob_put(manifest)", rc);
        manifest_sizes[i] = (size_t)mlen;
        manifest_bytes[i] = m;
    }
    ocidir_close(d);

    /* index.json: canonical JSON (sorted keys, no whitespace), written to a
     * temporary file and renamed over the empty index the library made. */
    char tmp[PATH_MAX], index[PATH_MAX];
    bench_mkpath(tmp, "%s/index.json.tmp", layout);
    bench_mkpath(index, "%s/index.json", layout);
    f = fopen(tmp, "w");
    if (!f)
        bench_die("create %s: %s", tmp, strerror(errno));
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
        bench_die("write %s: %s", tmp, strerror(errno));
    if (rename(tmp, index) < 0)
        bench_die("rename %s: %s", tmp, strerror(errno));
}

enum { OP_RESOLVE, OP_IMAGE, OP_FRESH, OP_CLI, OP_SKOPEO, OP_UMOCI, N_OPS };

#ifndef OCIDIR_CLI_PATH
#define OCIDIR_CLI_PATH ""
#endif

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--resolve") == 0)
        return resolve_mode(argv[2], argv[3]);

    bench_init("bench_index");
    long entries = 100000;
    int rounds = 15;
    const char *dir = "/var/tmp";
    const char *cli = OCIDIR_CLI_PATH;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc) {
            entries = bench_parse_count(argv[++i], "--entries", 999999);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (int)bench_parse_count(argv[++i], "--rounds", MAX_ROUNDS);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--ocidir") == 0 && i + 1 < argc) {
            cli = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: %s [--entries N] [--rounds R] [--dir DIR] [--ocidir PATH]\n"
                    "       %s --resolve LAYOUT TAG\n",
                    argv[0], argv[0]);
            return 2;
        }
    }

    char self[PATH_MAX];
    if (!bench_self_path(self))
        bench_die("readlink /proc/self/exe: %s", strerror(errno));

    workdir = bench_make_workdir(dir, "ocidir-bench-index"); /* removed at exit */
    char layout[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
    bench_mkpath(layout, "%s/layout", workdir);
    bench_mkpath(out, "%s/stdout", workdir);
    bench_mkpath(err, "%s/stderr", workdir);

    /* The machine, the date, the versions. */
    bench_print_header("bench_index: ", 1);
    char *ver_av[] = {"skopeo", "--version", NULL};
    char *umoci_ver_av[] = {"umoci", "--version", NULL};
    char *v1 = NULL, *v2 = NULL;
    if (bench_run(ver_av, out, err, NULL, NULL) == 0)
        v1 = slurp(out, NULL);
    if (bench_run(umoci_ver_av, out, err, NULL, NULL) == 0)
        v2 = slurp(out, NULL);
    printf("tools: %s%s", v1 ? v1 : "skopeo: not found\n", v2 ? v2 : "umoci: not found\n");
    free(v1);
    free(v2);

    /* ---- the layout ---- */
    char manifests[N_MANIFESTS][OCIDIR_DIGEST_MAX];
    size_t manifest_sizes[N_MANIFESTS];
    char *manifest_bytes[N_MANIFESTS];
    double t0 = bench_now();
    build_layout(layout, entries, manifests, manifest_sizes, manifest_bytes);
    char index_path[PATH_MAX];
    bench_mkpath(index_path, "%s/index.json", layout);
    struct stat st;
    if (stat(index_path, &st) < 0)
        bench_die("stat %s: %s", index_path, strerror(errno));
    char last_tag[32];
    snprintf(last_tag, sizeof last_tag, "tag-%06ld", entries - 1);
    const char *want = manifests[(entries - 1) % N_MANIFESTS];
    printf("layout: %s\n  index.json: %ld tagged entries, %lld bytes (built in %.1f s); "
           "%d manifests, tag looked up: %s (the last entry)\n",
           layout, entries, (long long)st.st_size, bench_now() - t0, N_MANIFESTS, last_tag);

    /* ---- each operation once, its result checked ---- */
    int rc;
    ocidir_t *d = NULL;
    char digest[OCIDIR_DIGEST_MAX];
    if ((rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d)) != 0)
        bench_die_lib("ocidir_open(RDONLY)", rc);
    if ((rc = ocidir_resolve(d, last_tag, digest, NULL, NULL)) != 0)
        bench_die_lib("ocidir_resolve", rc);
    if (strcmp(digest, want) != 0)
        bench_die("ocidir_resolve(%s) gave %s, expected %s", last_tag, digest, want);
    ocidir_image_t *img = NULL;
    if ((rc = ocidir_image_open(d, last_tag, NULL, &img)) != 0)
        bench_die_lib("ocidir_image_open", rc);
    if ((rc = ocidir_image_manifest(img, digest, NULL, NULL)) != 0)
        bench_die_lib("ocidir_image_manifest", rc);
    if (strcmp(digest, want) != 0)
        bench_die("ocidir_image_open(%s) opened %s, expected %s", last_tag, digest, want);
    ocidir_image_close(img);
    ocidir_close(d);

    char *fresh_av[] = {self, "--resolve", layout, last_tag, NULL};
    if (bench_run(fresh_av, out, err, NULL, NULL) != 0)
        bench_die("%s --resolve failed", self);
    char *got = slurp(out, NULL);
    if (!got || strncmp(got, want, strlen(want)) != 0)
        bench_die("%s --resolve printed %s, expected %s", self, got ? got : "(nothing)", want);
    free(got);

    char ref[PATH_MAX + 64];
    snprintf(ref, sizeof ref, "oci:%s:%s", layout, last_tag);
    char *skopeo_av[] = {"skopeo", "inspect", "--raw", ref, NULL};
    if (bench_run(skopeo_av, out, err, NULL, NULL) != 0) {
        char *e = slurp(err, NULL);
        bench_die("skopeo inspect --raw %s failed: %s", ref, e ? e : "");
    }
    size_t got_len = 0;
    got = slurp(out, &got_len);
    size_t want_len = manifest_sizes[(entries - 1) % N_MANIFESTS];
    /* skopeo prints the raw manifest (some versions add a newline) */
    if (!got || got_len < want_len ||
        memcmp(got, manifest_bytes[(entries - 1) % N_MANIFESTS], want_len) != 0)
        bench_die("skopeo inspect --raw did not print the manifest of %s", last_tag);
    free(got);

    char image_ref[PATH_MAX + 64];
    snprintf(image_ref, sizeof image_ref, "%s:%s", layout, last_tag);

    /* ocidir inspect: its JSON names the manifest of the last tag. */
    char *cli_av[] = {(char *)cli, "inspect", image_ref, NULL};
    char cli_why[1024] = "";
    int cli_ok = 0;
    if (!*cli || access(cli, X_OK) != 0) {
        snprintf(cli_why, sizeof cli_why, "the ocidir tool %s is not there", *cli ? cli : "(not built)");
    } else if (bench_run(cli_av, out, err, NULL, NULL) != 0) {
        char *e = slurp(err, NULL);
        bench_die("%s inspect %s failed: %s", cli, image_ref, e ? e : "");
    } else {
        got = slurp(out, NULL);
        char want_line[OCIDIR_DIGEST_MAX + 32];
        snprintf(want_line, sizeof want_line, "\"digest\": \"%s\"", want);
        if (!got || !strstr(got, want_line))
            bench_die("%s inspect %s did not name %s", cli, image_ref, want);
        free(got);
        cli_ok = 1;
    }
    char *umoci_av[] = {"umoci", "stat", "--image", image_ref, NULL};
    char umoci_why[1024] = "";
    int umoci_rc = bench_run(umoci_av, out, err, NULL, NULL);
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
        bench_check_interrupted();
        /* (a) in-process open + resolve + close */
        t0 = bench_now();
        if ((rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d)) != 0)
            bench_die_lib("ocidir_open(RDONLY)", rc);
        if ((rc = ocidir_resolve(d, last_tag, digest, NULL, NULL)) != 0)
            bench_die_lib("ocidir_resolve", rc);
        ocidir_close(d);
        times[OP_RESOLVE][r] = bench_now() - t0;

        /* in-process open + image_open + close */
        t0 = bench_now();
        if ((rc = ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d)) != 0)
            bench_die_lib("ocidir_open(RDONLY)", rc);
        if ((rc = ocidir_image_open(d, last_tag, NULL, &img)) != 0)
            bench_die_lib("ocidir_image_open", rc);
        ocidir_image_close(img);
        ocidir_close(d);
        times[OP_IMAGE][r] = bench_now() - t0;

        /* (a) as a fresh process */
        if (bench_run(fresh_av, NULL, err, &times[OP_FRESH][r], NULL) != 0)
            bench_die("%s --resolve failed", self);

        /* the ocidir tool */
        if (cli_ok && bench_run(cli_av, NULL, err, &times[OP_CLI][r], NULL) != 0)
            bench_die("%s inspect failed", cli);

        /* (b) skopeo */
        if (bench_run(skopeo_av, NULL, err, &times[OP_SKOPEO][r], NULL) != 0)
            bench_die("skopeo inspect --raw failed");

        /* (c) umoci, when it works */
        if (umoci_rc == 0 && bench_run(umoci_av, NULL, err, &times[OP_UMOCI][r], NULL) != 0)
            bench_die("umoci stat failed");
        printf(".");
        fflush(stdout);
    }
    printf("\n\n");

    static const char *const names[N_OPS] = {
        "ocidir open+resolve+close (in-process)",
        "ocidir open+image_open+close (in-process)",
        "ocidir resolve, fresh process",
        "ocidir inspect DIR:TAG (the tool)",
        "skopeo inspect --raw oci:DIR:TAG",
        "umoci stat --image DIR:TAG",
    };
    double med[N_OPS], mins[N_OPS];
    for (int i = 0; i < N_OPS; i++) {
        med[i] = bench_median(times[i], rounds);
        mins[i] = bench_minimum(times[i], rounds);
    }
    printf("%-44s %11s %11s %14s %14s\n", "operation", "median ms", "min ms", "tool/in-proc",
           "tool/fresh");
    for (int i = 0; i < N_OPS; i++) {
        if ((i == OP_UMOCI && umoci_rc != 0) || (i == OP_CLI && !cli_ok)) {
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
    double x_in = med[OP_SKOPEO] / med[OP_RESOLVE], x_fresh = med[OP_SKOPEO] / med[OP_FRESH];
    printf("open + resolve vs skopeo inspect --raw: %.1fx in-process (target >= 20: %s), %.1fx as a fresh process "
           "(target >= 15: %s)\n",
           x_in, x_in >= 20 ? "met" : "NOT met", x_fresh, x_fresh >= 15 ? "met" : "NOT met");
    if (cli_ok)
        printf("ocidir inspect DIR:TAG vs skopeo inspect --raw oci:DIR:TAG: %.1fx (target >= 15)\n",
               med[OP_SKOPEO] / med[OP_CLI]);
    else
        printf("ocidir inspect not timed: %s\n", cli_why);
    if (umoci_rc != 0)
        printf("umoci stat not timed: %s\n", umoci_why);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS of this process (in-process rows): %ld KiB\n", ru.ru_maxrss);
    bench_print_load_at_end();
    printf("reproduce: %s --entries %ld --rounds %d --dir %s%s%s\n", self, entries, rounds, dir,
           *cli ? " --ocidir " : "", cli);

    bench_cleanup();
    return 0;
}
