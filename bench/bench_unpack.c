/*
 * bench_unpack - how fast an image becomes a root filesystem: ocidir_unpack()
 * next to `tar -xzf` and `umoci raw unpack`, for a gzip and a zstd image.
 *
 *   bench_unpack [--source DIR] [--limit BYTES] [--rounds R] [--dir DIR]
 *
 * The image is real data: the files, symlinks and directories of SOURCE
 * (default /usr), in path order, up to LIMIT bytes of file content (default
 * 1G; K, M, G suffixes are binary), split in two layers at half the bytes
 * (`tar -cf --no-recursion -T LIST`), and a third layer of whiteouts: a
 * `.wh.NAME` for every 16th regular file of the first layer, an opaque
 * marker in one directory of the second, and a few new files.  The library
 * builds a gzip image (-6, every CPU) and a zstd image (-3, every CPU) of the
 * three layers in a fresh layout under DIR (default /var/tmp, on disk).
 *
 * Over R (default 3) rounds, each running every row once in the same order
 * (interleaved: drift on a shared VM spreads over all rows alike), with the
 * destination removed and the system synced before each (not timed):
 *
 *   ocidir unpack (gzip)     ocidir_unpack(img "gz", DEST, defaults), in a
 *                            forked child: every blob digest and DiffID
 *                            verified, owners, xattrs, whiteouts applied,
 *                            one syncfs at the end
 *   tar -xzf (gzip)          sh -c 'for each layer blob: tar -xzf BLOB -C DEST;
 *                            sync -f DEST' (whiteouts are not applied: tar
 *                            writes them as files; nothing is verified)
 *   umoci raw unpack (gzip)  sh -c 'umoci raw unpack --image LAYOUT:gz DEST;
 *                            sync -f DEST'
 *   ... the same three for the zstd image (tar --zstd -xf).
 *
 * The blobs are in the page cache (made just before; every round reads them
 * again).  MB/s is uncompressed tar megabytes (10^6 bytes) per second.  Peak
 * RSS: the library's child reports its own getrusage maximum; a tool's is
 * what wait4() returns for its shell (the maximum over the programs it ran).
 * CPU s is the user + system time of each row's processes (getrusage
 * RUSAGE_CHILDREN before and after): on a busy machine the wall time
 * measures the scheduler as much as the program, the CPU time less so.
 *
 * Checked once: the library's tree and umoci's have the same number of
 * entries (listed with find).
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
#include <unistd.h>

#include <ocidir.h>

#include "benchutil.h"

#define MAX_ROUNDS 100
#define CHUNK (1u << 20)

static double run_sh(const char *script, char *const extra[], const char *out_path, long *maxrss_kib)
{
    char *argv[64] = {"/bin/sh", "-c", (char *)script, "sh"};
    int n = 4;
    for (int i = 0; extra && extra[i]; i++) {
        if (n >= 63)
            bench_die("too many arguments for `%s`", script);
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    double secs;
    if (bench_run(argv, out_path, NULL, &secs, maxrss_kib) != 0)
        bench_die("`%s` (with %s ...) failed", script, extra && extra[0] ? extra[0] : "");
    return secs;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        bench_die("stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_size;
}

static long read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (!f || fscanf(f, "%ld", &v) != 1)
        bench_die("cannot read a number from %s", path);
    fclose(f);
    return v;
}

/* ---- the input ------------------------------------------------------------ */

/* Split `find` output ("SIZE TYPE PATH" lines, path order) into list1 and
 * list2 at half the bytes of the first `limit` bytes; returns the total. */
static uint64_t split_lists(const char *found, const char *list1, const char *list2, uint64_t limit,
                            const char *wh_dir)
{
    FILE *in = fopen(found, "r");
    if (!in)
        bench_die("open %s: %s", found, strerror(errno));
    /* first pass: how many bytes fit */
    char line[PATH_MAX + 64];
    uint64_t total = 0;
    while (fgets(line, sizeof line, in)) {
        uint64_t sz = strtoull(line, NULL, 10);
        if (total + sz > limit)
            break;
        total += sz;
    }
    rewind(in);
    FILE *o1 = fopen(list1, "w"), *o2 = fopen(list2, "w");
    if (!o1 || !o2)
        bench_die("create %s: %s", list1, strerror(errno));
    uint64_t sofar = 0;
    unsigned nfile = 0, opaque_done = 0;
    char path[PATH_MAX];
    while (fgets(line, sizeof line, in)) {
        char *sp1 = strchr(line, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (!sp2)
            continue;
        uint64_t sz = strtoull(line, NULL, 10);
        char type = sp1[1];
        char *p = sp2 + 1;
        p[strcspn(p, "\n")] = '\0';
        if (sofar + sz > total)
            break;
        int first = sofar < total / 2;
        sofar += sz;
        fprintf(first ? o1 : o2, "%s\n", p);
        /* the whiteout layer: .wh. for every 16th file of layer 1, one opaque directory of layer 2 */
        if (first && type == 'f' && ++nfile % 16 == 0) {
            char *slash = strrchr(p, '/');
            if (!slash)
                continue;
            *slash = '\0';
            bench_mkpath(path, "%s/%s", wh_dir, p);
            char *cmd_argv[] = {"mkdir", "-p", path, NULL};
            if (bench_run(cmd_argv, NULL, NULL, NULL, NULL) != 0)
                bench_die("mkdir -p %s failed", path);
            bench_mkpath(path, "%s/%s/.wh.%s", wh_dir, p, slash + 1);
            close(bench_create(path));
        } else if (!first && type == 'd' && !opaque_done && strchr(p, '/')) {
            opaque_done = 1;
            bench_mkpath(path, "%s/%s", wh_dir, p);
            char *cmd_argv[] = {"mkdir", "-p", path, NULL};
            if (bench_run(cmd_argv, NULL, NULL, NULL, NULL) != 0)
                bench_die("mkdir -p %s failed", path);
            bench_mkpath(path, "%s/%s/.wh..wh..opq", wh_dir, p);
            close(bench_create(path));
            bench_mkpath(path, "%s/%s/new-after-opaque", wh_dir, p);
            int fd = bench_create(path);
            bench_write_all(fd, "new\n", 4, path);
            close(fd);
        }
    }
    fclose(in);
    fclose(o1);
    fclose(o2);
    return total;
}

/* Build tag `tag` of the three tars, compressed as `c`, in a forked child. */
struct build_op {
    const char *layout, *tag;
    const char *tars[3];
    ocidir_compression_t c;
    int level;
};
struct build_res {
    int rc;
    char digests[3][OCIDIR_DIGEST_MAX];
    char error[512];
};

static void child_build(const void *arg, void *out)
{
    const struct build_op *op = arg;
    struct build_res *res = out;
    ocidir_t *d = NULL;
    ocidir_builder_t *b = NULL;
    char *buf = malloc(CHUNK);
    if ((res->rc = ocidir_open(AT_FDCWD, op->layout, OCIDIR_OPEN_CREATE, &d)) != 0 ||
        (res->rc = ocidir_builder_new(d, NULL, &b)) != 0)
        goto out;
    for (int i = 0; i < 3; i++) {
        ocidir_layer_writer_t *w = NULL;
        if ((res->rc = ocidir_layer_writer_new(d, op->c, op->level, 0, &w)) != 0)
            goto out;
        int fd = open(op->tars[i], O_RDONLY | O_CLOEXEC);
        ssize_t n;
        while (fd >= 0 && (n = read(fd, buf, CHUNK)) > 0)
            if ((res->rc = ocidir_layer_writer_write(w, buf, (size_t)n)) != 0)
                break;
        if (fd >= 0)
            close(fd);
        if (res->rc || (res->rc = ocidir_builder_add_layer_writer(b, w, NULL)) != 0) {
            if (!res->rc)
                res->rc = OCIDIR_E_IO;
            goto out;
        }
    }
    res->rc = ocidir_builder_commit(b, op->tag, 0, NULL);
    if (!res->rc) {
        ocidir_image_t *img = NULL;
        if ((res->rc = ocidir_image_open(d, op->tag, NULL, &img)) == 0) {
            for (size_t i = 0; i < 3 && i < ocidir_image_layer_count(img); i++) {
                char *mt = NULL;
                uint64_t size = 0;
                ocidir_image_layer(img, i, &mt, res->digests[i], &size);
                ocidir_free(mt);
            }
            ocidir_image_close(img);
        }
    }
out:
    if (res->rc)
        snprintf(res->error, sizeof res->error, "%s", ocidir_last_error());
    ocidir_builder_free(b);
    ocidir_close(d);
    free(buf);
}

/* ---- the timed operations -------------------------------------------------- */

struct unpack_op {
    const char *layout, *tag, *dest;
};
struct unpack_res {
    int rc;
    double secs;
    long maxrss_kib;
    char error[512];
};

static void child_unpack(const void *arg, void *out)
{
    const struct unpack_op *op = arg;
    struct unpack_res *res = out;
    double t0 = bench_now();
    ocidir_t *d = NULL;
    ocidir_image_t *img = NULL;
    if ((res->rc = ocidir_open(AT_FDCWD, op->layout, OCIDIR_OPEN_RDONLY, &d)) == 0 &&
        (res->rc = ocidir_image_open(d, op->tag, NULL, &img)) == 0)
        res->rc = ocidir_unpack(img, AT_FDCWD, op->dest, NULL, NULL);
    if (res->rc)
        snprintf(res->error, sizeof res->error, "%s", ocidir_last_error());
    ocidir_image_close(img);
    ocidir_close(d);
    res->secs = bench_now() - t0;
    res->maxrss_kib = bench_self_maxrss_kib();
}

enum { LIB_GZ, TAR_GZ, UMOCI_GZ, LIB_ZST, TAR_ZST, UMOCI_ZST, N_ROWS };

struct row {
    const char *name;
    double secs[MAX_ROUNDS];
    double cpu[MAX_ROUNDS];
    long maxrss_kib;
};

/* User + system CPU seconds of every child waited for so far. */
static double children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static double cpu_mark;

static void record(struct row *row, int r, double secs, long maxrss_kib)
{
    row->cpu[r] = children_cpu() - cpu_mark;
    row->secs[r] = secs;
    if (maxrss_kib > row->maxrss_kib)
        row->maxrss_kib = maxrss_kib;
}

/* Remove the destination and sync; the CPU used from here on is the next row's. */
static void clear_dest(const char *dest)
{
    char *argv[] = {"rm", "-rf", (char *)dest, NULL};
    if (bench_run(argv, NULL, NULL, NULL, NULL) != 0)
        bench_die("rm -rf %s failed", dest);
    sync();
    cpu_mark = children_cpu();
}

int main(int argc, char **argv)
{
    bench_init("bench_unpack");
    uint64_t limit = 1ull << 30;
    int rounds = 3;
    const char *dir = "/var/tmp", *source = "/usr";
    const char *limit_arg = "1G";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            limit_arg = argv[++i];
            limit = bench_parse_size(limit_arg, 1 << 20, "at least 1M");
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (int)bench_parse_count(argv[++i], "--rounds", MAX_ROUNDS);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc) {
            source = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--source DIR] [--limit BYTES] [--rounds R] [--dir DIR]\n", argv[0]);
            return 2;
        }
    }
    if (source[0] != '/' || !source[1])
        bench_die("--source takes an absolute directory other than /");

    bench_require_space(dir, 8, limit);
    const char *work = bench_make_workdir(dir, "ocidir-bench-unpack");
    char found[PATH_MAX], list1[PATH_MAX], list2[PATH_MAX], whdir[PATH_MAX], tars[3][PATH_MAX], layout[PATH_MAX],
        dest[PATH_MAX], count[PATH_MAX];
    bench_mkpath(found, "%s/found", work);
    bench_mkpath(list1, "%s/list1", work);
    bench_mkpath(list2, "%s/list2", work);
    bench_mkpath(whdir, "%s/whiteouts", work);
    for (int i = 0; i < 3; i++)
        bench_mkpath(tars[i], "%s/layer%d.tar", work, i + 1);
    bench_mkpath(layout, "%s/layout", work);
    bench_mkpath(dest, "%s/rootfs", work);
    bench_mkpath(count, "%s/count", work);
    char umoci_log[PATH_MAX];
    bench_mkpath(umoci_log, "%s/umoci.log", work);

    bench_print_header("bench_unpack: ", 1);
    long rss;
    run_sh("tar --version | head -1; umoci --version", NULL, count, &rss);
    FILE *vf = fopen(count, "r");
    char line[256];
    while (vf && fgets(line, sizeof line, vf))
        printf("tool: %s", line);
    if (vf)
        fclose(vf);

    /* ---- the input ---- */
    double t0 = bench_now();
    char *find_args[] = {(char *)source + 1, NULL};
    run_sh("cd / && find \"$1\" -xdev \\( -type f -o -type l -o -type d \\) -printf '%s %y %p\\n' "
           "| LC_ALL=C sort -k3",
           find_args, found, &rss);
    if (mkdir(whdir, 0755) != 0)
        bench_die("mkdir %s: %s", whdir, strerror(errno));
    uint64_t content = split_lists(found, list1, list2, limit, whdir);
    char *tar_args1[] = {tars[0], list1, NULL}, *tar_args2[] = {tars[1], list2, NULL};
    run_sh("tar -cf \"$1\" --no-recursion -C / -T \"$2\"", tar_args1, NULL, &rss);
    run_sh("tar -cf \"$1\" --no-recursion -C / -T \"$2\"", tar_args2, NULL, &rss);
    char *tar_args3[] = {tars[2], whdir, (char *)source + 1, NULL};
    run_sh("cd \"$2\" && tar -cf \"$1\" \"$3\"", tar_args3, NULL, &rss);
    uint64_t tar_bytes = file_size(tars[0]) + file_size(tars[1]) + file_size(tars[2]);
    printf("input: %s, %" PRIu64 " bytes of file content (limit %s) in two layers of %.1f and %.1f MiB, and a "
           "whiteout layer of %.1f MiB; tars total %" PRIu64 " bytes; made in %.1f s\n",
           source, content, limit_arg, (double)file_size(tars[0]) / (1 << 20), (double)file_size(tars[1]) / (1 << 20),
           (double)file_size(tars[2]) / (1 << 20), tar_bytes, bench_now() - t0);

    struct build_op bop = {layout, "gz", {tars[0], tars[1], tars[2]}, OCIDIR_COMPRESSION_GZIP, 6};
    struct build_res gz, zst;
    t0 = bench_now();
    bench_in_child_or_die(child_build, &bop, &gz, sizeof gz, "building the gzip image");
    if (gz.rc)
        bench_die_lib_msg("building the gzip image", gz.rc, gz.error);
    bop.tag = "zst";
    bop.c = OCIDIR_COMPRESSION_ZSTD;
    bop.level = 3;
    bench_in_child_or_die(child_build, &bop, &zst, sizeof zst, "building the zstd image");
    if (zst.rc)
        bench_die_lib_msg("building the zstd image", zst.rc, zst.error);
    char blobs[2][3][PATH_MAX];
    uint64_t blob_bytes[2] = {0, 0};
    for (int i = 0; i < 3; i++) {
        bench_mkpath(blobs[0][i], "%s/blobs/sha256/%s", layout, strchr(gz.digests[i], ':') + 1);
        bench_mkpath(blobs[1][i], "%s/blobs/sha256/%s", layout, strchr(zst.digests[i], ':') + 1);
        blob_bytes[0] += file_size(blobs[0][i]);
        blob_bytes[1] += file_size(blobs[1][i]);
    }
    printf("images (built by the library in %.1f s): gzip -6 %" PRIu64 " bytes, zstd -3 %" PRIu64 " bytes\n",
           bench_now() - t0, blob_bytes[0], blob_bytes[1]);
    /* the tars are no longer needed */
    for (int i = 0; i < 3; i++)
        unlink(tars[i]);

    static struct row rows[N_ROWS] = {
        [LIB_GZ] = {"ocidir unpack (gzip)", {0}, {0}, 0},
        [TAR_GZ] = {"tar -xzf each layer; sync -f", {0}, {0}, 0},
        [UMOCI_GZ] = {"umoci raw unpack (gzip); sync -f", {0}, {0}, 0},
        [LIB_ZST] = {"ocidir unpack (zstd)", {0}, {0}, 0},
        [TAR_ZST] = {"tar --zstd -xf each layer; sync -f", {0}, {0}, 0},
        [UMOCI_ZST] = {"umoci raw unpack (zstd); sync -f", {0}, {0}, 0},
    };
    int umoci_zstd_ok = 1;
    printf("timing %d interleaved rounds", rounds);
    fflush(stdout);
    for (int r = 0; r < rounds; r++) {
        for (int z = 0; z < 2; z++) {
            const char *tag = z ? "zst" : "gz";
            /* the library */
            bench_check_interrupted();
            clear_dest(dest);
            struct unpack_op uop = {layout, tag, dest};
            struct unpack_res ures;
            bench_in_child_or_die(child_unpack, &uop, &ures, sizeof ures, "ocidir_unpack");
            if (ures.rc)
                bench_die_lib_msg("ocidir_unpack", ures.rc, ures.error);
            record(&rows[z ? LIB_ZST : LIB_GZ], r, ures.secs, ures.maxrss_kib);
            long lib_entries = -1;
            if (r == 0) {
                char *cargs[] = {dest, NULL};
                run_sh("find \"$1\" | wc -l", cargs, count, &rss);
                lib_entries = read_number(count);
            }

            /* tar */
            bench_check_interrupted();
            clear_dest(dest);
            char *targs[] = {dest, blobs[z][0], blobs[z][1], blobs[z][2], NULL};
            double secs;
            long m;
            secs = run_sh(z ? "d=$1; shift; mkdir \"$d\" && for b; do tar --zstd -xf \"$b\" -C \"$d\" || exit 1; "
                              "done && sync -f \"$d\""
                            : "d=$1; shift; mkdir \"$d\" && for b; do tar -xzf \"$b\" -C \"$d\" || exit 1; "
                              "done && sync -f \"$d\"",
                          targs, NULL, &m);
            record(&rows[z ? TAR_ZST : TAR_GZ], r, secs, m);

            /* umoci */
            bench_check_interrupted();
            clear_dest(dest);
            char image[PATH_MAX];
            bench_mkpath(image, "%s:%s", layout, tag);
            char *uargs[] = {"/bin/sh", "-c", "umoci raw unpack --image \"$1\" \"$2\" && sync -f \"$2\"", "sh",
                             image, dest, NULL};
            if (z && !umoci_zstd_ok)
                continue;
            int st = bench_run(uargs, NULL, umoci_log, &secs, &m);
            if (st != 0) {
                if (!z)
                    bench_die("umoci raw unpack of the gzip image failed");
                umoci_zstd_ok = 0; /* an umoci without zstd support */
                continue;
            }
            record(&rows[z ? UMOCI_ZST : UMOCI_GZ], r, secs, m);
            if (r == 0) {
                char *cargs[] = {dest, NULL};
                run_sh("find \"$1\" | wc -l", cargs, count, &rss);
                long umoci_entries = read_number(count);
                if (umoci_entries != lib_entries)
                    printf("\nnote: %s: the library's tree has %ld entries, umoci's %ld\n", tag, lib_entries,
                           umoci_entries);
            }
        }
        printf(".");
        fflush(stdout);
    }
    clear_dest(dest);
    printf("\n\n");

    printf("%-36s %9s %9s %9s %10s %14s %12s\n", "operation", "median s", "MB/s", "CPU s", "peak RSS",
           "ocidir speed /", "its CPU /");
    printf("%-36s %9s %9s %9s %10s %14s %12s\n", "", "", "", "(median)", "MiB", "its speed", "ocidir CPU");
    for (int i = 0; i < N_ROWS; i++) {
        if ((i == UMOCI_ZST) && !umoci_zstd_ok) {
            printf("%-36s (umoci %s cannot read zstd layers)\n", rows[i].name, "here");
            continue;
        }
        double med = bench_median(rows[i].secs, rounds);
        double cpu = bench_median(rows[i].cpu, rounds);
        printf("%-36s %9.3f %9.1f %9.3f %10.1f ", rows[i].name, med, (double)tar_bytes / 1e6 / med, cpu,
               (double)rows[i].maxrss_kib / 1024);
        int lib = i < LIB_ZST ? LIB_GZ : LIB_ZST;
        if (i != lib)
            printf("%13.2fx %11.2fx", med / bench_median(rows[lib].secs, rounds),
                   cpu / bench_median(rows[lib].cpu, rounds));
        printf("\n");
        if (i == UMOCI_GZ)
            printf("\n");
    }
    double x_tar = bench_median(rows[TAR_GZ].secs, rounds) / bench_median(rows[LIB_GZ].secs, rounds);
    double x_umoci = bench_median(rows[UMOCI_GZ].secs, rounds) / bench_median(rows[LIB_GZ].secs, rounds);
    printf("\n(MB/s: uncompressed tar bytes; ocidir speed / its speed > 1 means the library is faster;\n"
           " the library verifies every digest and DiffID, applies whiteouts and syncs once; the tools are\n"
           " given `sync -f` too; CPU s: user + system time of the process and its children, which a busy\n"
           " machine inflates less than the wall time; gzip decoder %s)\n",
           ocidir_inflate_backend());
    printf("gzip image: ocidir unpack / tar -xzf speed %.2fx (target >= 2.0: %s); / umoci raw unpack speed %.2fx "
           "(target >= 5.0: %s)\n",
           x_tar, x_tar >= 2.0 ? "met" : "NOT met", x_umoci, x_umoci >= 5.0 ? "met" : "NOT met");
    bench_print_load_at_end();
    char self[PATH_MAX];
    printf("reproduce: %s --source %s --limit %s --rounds %d --dir %s\n", bench_self_path(self) ? self : argv[0],
           source, limit_arg, rounds, dir);
    bench_cleanup();
    return 0;
}
