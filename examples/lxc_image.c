/*
 * lxc_image - build an OCI image the way LXC stores it, then read it back the
 * way LXC's OCI template does, through the public API only.
 *
 *   lxc_image [LAYOUT_DIR [CACHE_DIR]]
 *
 * LAYOUT_DIR is the image layout (default: a fresh temporary directory) and
 * CACHE_DIR the shared blob cache, LXC's /var/cache/lxc (default: a fresh
 * temporary directory).  Directories given are created if absent and kept
 * afterwards; temporary ones are removed at the end.  Temporary files go to
 * $TMPDIR (or /tmp).
 *
 * What it does:
 *
 *   1. makes a small root filesystem (an executable /bin/hello,
 *      /etc/os-release, ...) and an overlay on top of it, and makes a tar file
 *      of each with tar(1), with fixed owners, times and order, so that the
 *      same program gives the same bytes every time;
 *   2. creates the layout and adds the cache as the place new blobs go
 *      (opened here with open(O_DIRECTORY), handed over with
 *      ocidir_add_blobdir_fd(..., OCIDIR_BLOBDIR_WRITE)), as LXC does;
 *   3. imports each tar as a gzip layer, streaming the file in chunks into
 *      an ocidir_layer_writer (the blob digest and the diff_id come out of
 *      the same pass);
 *   4. builds an image on those layers (Entrypoint, Env, WorkingDir, User, a
 *      label, a fixed creation time) and commits it under the tag "demo";
 *   5. reopens the layout read-only and reads the image as LXC's template
 *      does: resolves the tag, opens the image for this machine's platform,
 *      prints its manifest, config and layers, and streams every layer,
 *      decompressed and verified, into `tar -t` to list its files;
 *   6. shows where the blobs are: all in the cache, none in the layout.
 *
 * Every step is checked.  The first failure prints the library's message
 * (ocidir_last_error()) and ends the program with status 1; status 0 means
 * every step succeeded.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ocidir.h>

#define TAG "demo"
#define CREATED "2024-01-01T00:00:00Z" /* fixed: same inputs, same digests */
#define CHUNK (64 * 1024)              /* tar files are streamed in chunks of this size */

/* ---------------------------------------------------------------------------
 * Small helpers: failure handling, paths, files, running tar.
 * ------------------------------------------------------------------------ */

/* Directories removed at exit (the temporary ones only). */
static char work_dir[PATH_MAX], tmp_layout[PATH_MAX], tmp_cache[PATH_MAX];

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) < 0 ? -1 : 0;
}

static void remove_temporary_dirs(void)
{
    const char *dirs[] = {work_dir, tmp_layout, tmp_cache};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (*dirs[i])
            nftw(dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A library call failed: say which, with the library's own message, and stop. */
static void check_lib(int rc, const char *what)
{
    if (rc >= 0)
        return;
    printf("    FAILED  %s: %s (%d)\n", what, ocidir_strerror(rc), rc);
    printf("            %s\n", ocidir_last_error());
    printf("\nlxc_image: failed\n");
    exit(1); /* remove_temporary_dirs() runs at exit */
}

/* Anything else failed (an OS call, a check of a result). */
__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("    FAILED  ");
    vprintf(fmt, ap);
    printf("\n\nlxc_image: failed\n");
    va_end(ap);
    exit(1);
}

static void step(const char *title)
{
    printf("\n== %s\n", title);
}

/* snprintf into a PATH_MAX buffer; a path that does not fit is a failure. */
__attribute__((format(printf, 2, 3))) static void mkpath(char buf[PATH_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX)
        fail("path too long: %s...", buf);
}

static void make_dirs(const char *path) /* mkdir -p */
{
    char tmp[PATH_MAX];
    mkpath(tmp, "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                fail("mkdir %s: %s", tmp, strerror(errno));
            if (c == '\0')
                break;
            *p = c;
        }
    }
}

/* Write a file under root (its parent directories made), with a fixed mode. */
static void put_file(const char *root, const char *rel, const char *content, mode_t mode)
{
    char path[PATH_MAX], dir[PATH_MAX];
    mkpath(path, "%s/%s", root, rel);
    mkpath(dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    make_dirs(dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs(content, f) < 0 || fclose(f) != 0)
        fail("write %s: %s", path, strerror(errno));
    if (chmod(path, mode) < 0) /* whatever the umask */
        fail("chmod %s: %s", path, strerror(errno));
    printf("    %04o  /%s\n", (unsigned)mode, rel);
}

/* Run a program (no shell); it must exit 0. */
static void run(char *const argv[])
{
    printf("    $");
    for (size_t i = 0; argv[i]; i++)
        printf(" %s", argv[i]);
    printf("\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        fail("fork: %s", strerror(errno));
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            fail("waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("%s exited with status %d", argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* A tar file of a directory, with fixed owners, times and order: the same
 * tree gives the same bytes, hence the same layer digest, on every run. */
static void make_tar(const char *dir, const char *tar_path)
{
    char *argv[] = {"tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
                    "-C", (char *)dir, "-cf", (char *)tar_path, ".", NULL};
    run(argv);
}

/* Single-quote a string for /bin/sh. */
static void shell_quote(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    out[n++] = '\'';
    for (; *s; s++) {
        if (n + 5 >= cap)
            fail("path too long to quote: %s", s);
        if (*s == '\'') {
            memcpy(out + n, "'\\''", 4);
            n += 4;
        } else {
            out[n++] = *s;
        }
    }
    out[n++] = '\'';
    out[n] = '\0';
}

/* Number of entries in a directory other than . and .. (0 if it is absent). */
static int count_entries(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(dir);
    return n;
}

static void print_strv(const char *name, char **v)
{
    printf("    %-11s", name);
    if (!v) {
        printf("(not set)\n");
        return;
    }
    printf("[");
    for (size_t i = 0; v[i]; i++)
        printf("%s\"%s\"", i ? ", " : "", v[i]);
    printf("]\n");
}

/* ---------------------------------------------------------------------------
 * Writing: import a tar file as a gzip layer.
 * ------------------------------------------------------------------------ */

struct layer {
    char digest[OCIDIR_DIGEST_MAX];  /* of the compressed blob */
    char diff_id[OCIDIR_DIGEST_MAX]; /* of the uncompressed tar */
    uint64_t size;                   /* of the compressed blob */
    const char *media_type;
};

/* Stream a tar file into a gzip layer writer and commit the blob.  The writer
 * compresses, hashes the tar (diff_id) and the gzip stream (digest), and
 * writes the blob into the write-target directory: the cache. */
static void import_tar(ocidir_t *d, const char *tar_path, struct layer *out)
{
    ocidir_layer_writer_t *w = NULL;
    check_lib(ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0 /* default level: 6 */,
                                      0 /* threads: one per CPU */, &w),
              "ocidir_layer_writer_new(GZIP)");
    out->media_type = ocidir_layer_writer_media_type(w); /* static text */

    int fd = open(tar_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail("open %s: %s", tar_path, strerror(errno));
    static char buf[CHUNK];
    uint64_t total = 0;
    unsigned chunks = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        int rc = ocidir_layer_writer_write(w, buf, (size_t)n);
        if (rc < 0) {
            ocidir_layer_writer_abort(w); /* nothing is left behind */
            check_lib(rc, "ocidir_layer_writer_write");
        }
        total += (uint64_t)n;
        chunks++;
    }
    if (n < 0)
        fail("read %s: %s", tar_path, strerror(errno));
    close(fd);

    /* commit frees the writer, whether it succeeds or not */
    check_lib(ocidir_layer_writer_commit(w, out->digest, &out->size, out->diff_id),
              "ocidir_layer_writer_commit");
    printf("    %s: %" PRIu64 " bytes of tar in %u chunks -> %" PRIu64 " bytes of gzip\n", tar_path,
           total, chunks, out->size);
    printf("      media type %s\n", out->media_type);
    printf("      digest     %s\n", out->digest);
    printf("      diff_id    %s\n", out->diff_id);
}

/* ---------------------------------------------------------------------------
 * Reading: one layer, decompressed and verified, into `tar -t`.
 * ------------------------------------------------------------------------ */

/* Stream layer `index` of the image into `tar -tf -` and check that the
 * listing holds `must_have`.  Returns the number of entries. */
static int list_layer(const ocidir_image_t *img, size_t index, const char *list_path,
                      const char *must_have)
{
    ocidir_layer_reader_t *r = NULL;
    check_lib(ocidir_image_layer_open(img, index, &r), "ocidir_image_layer_open");

    char quoted[PATH_MAX * 4 + 8], cmd[PATH_MAX * 4 + 32];
    shell_quote(quoted, sizeof quoted, list_path);
    snprintf(cmd, sizeof cmd, "tar -tf - > %s", quoted);
    printf("    layer %zu | %s\n", index, cmd);
    fflush(stdout);
    FILE *tar = popen(cmd, "w");
    if (!tar)
        fail("popen %s: %s", cmd, strerror(errno));

    static char buf[CHUNK];
    uint64_t total = 0;
    ssize_t n;
    while ((n = ocidir_layer_reader_read(r, buf, sizeof buf)) > 0) {
        if (fwrite(buf, 1, (size_t)n, tar) != (size_t)n)
            break; /* tar stopped reading: its status says why, below */
        total += (uint64_t)n;
    }
    ocidir_layer_reader_close(r);
    int status = pclose(tar);
    /* 0 from the reader is the clean end: the whole blob hashed to its digest
     * and the whole tar stream to the diff_id in the config.  A negative value
     * is the error (OCIDIR_E_DIGEST, OCIDIR_E_FORMAT, ...). */
    check_lib((int)n, "ocidir_layer_reader_read");
    if (n > 0)
        fail("tar -t stopped reading layer %zu", index);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("tar -t did not accept layer %zu (status %d)", index, status);
    printf("    clean end after %" PRIu64 " bytes of tar: blob digest and diff_id verified; "
           "tar -t exited 0\n",
           total);

    FILE *list = fopen(list_path, "r");
    if (!list)
        fail("open %s: %s", list_path, strerror(errno));
    char line[PATH_MAX];
    int entries = 0, found = 0;
    while (fgets(line, sizeof line, list)) {
        line[strcspn(line, "\n")] = '\0';
        printf("      %s\n", line);
        entries++;
        if (strcmp(line, must_have) == 0)
            found = 1;
    }
    fclose(list);
    if (!found)
        fail("layer %zu does not list %s", index, must_have);
    return entries;
}

/* ---------------------------------------------------------------------------
 * The program.
 * ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    char layout[PATH_MAX], cache[PATH_MAX];
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [LAYOUT_DIR [CACHE_DIR]]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a tar that exits early must not kill us */
    atexit(remove_temporary_dirs);

    mkpath(work_dir, "%s/lxc_image-work.XXXXXX", tmpdir);
    if (!mkdtemp(work_dir)) {
        *work_dir = '\0';
        fail("mkdtemp in %s: %s", tmpdir, strerror(errno));
    }
    if (argc > 1) {
        mkpath(layout, "%s", argv[1]);
    } else {
        mkpath(tmp_layout, "%s/lxc_image-layout.XXXXXX", tmpdir);
        if (!mkdtemp(tmp_layout)) {
            *tmp_layout = '\0';
            fail("mkdtemp in %s: %s", tmpdir, strerror(errno));
        }
        mkpath(layout, "%s", tmp_layout);
    }
    if (argc > 2) {
        mkpath(cache, "%s", argv[2]);
        make_dirs(cache);
    } else {
        mkpath(tmp_cache, "%s/lxc_image-cache.XXXXXX", tmpdir);
        if (!mkdtemp(tmp_cache)) {
            *tmp_cache = '\0';
            fail("mkdtemp in %s: %s", tmpdir, strerror(errno));
        }
        mkpath(cache, "%s", tmp_cache);
    }

    printf("libocidir %s (hash backend %s), platform %s\n", ocidir_version(), ocidir_hash_backend(),
           ocidir_platform_default());
    printf("layout: %s%s\n", layout, *tmp_layout ? " (temporary)" : "");
    printf("cache:  %s%s\n", cache, *tmp_cache ? " (temporary)" : "");

    /* ------------------------------------------------------------------ */
    step("1. a root filesystem and an overlay, as two tar files");
    char rootfs[PATH_MAX], overlay[PATH_MAX], base_tar[PATH_MAX], overlay_tar[PATH_MAX];
    mkpath(rootfs, "%s/rootfs", work_dir);
    mkpath(overlay, "%s/overlay", work_dir);
    mkpath(base_tar, "%s/base.tar", work_dir);
    mkpath(overlay_tar, "%s/overlay.tar", work_dir);

    printf("  base (%s):\n", rootfs);
    put_file(rootfs, "bin/hello",
             "#!/bin/sh\n"
             "echo \"Hello from an OCI image written by libocidir\"\n",
             0755);
    put_file(rootfs, "etc/os-release",
             "NAME=\"Demo Linux\"\n"
             "ID=demo\n"
             "VERSION_ID=1\n"
             "PRETTY_NAME=\"Demo Linux 1 (libocidir example)\"\n",
             0644);
    put_file(rootfs, "etc/hostname", "demo\n", 0644);
    put_file(rootfs, "usr/share/doc/demo/README", "A root filesystem made by examples/lxc_image.c\n",
             0644);
    printf("  overlay (%s):\n", overlay);
    put_file(overlay, "etc/motd", "Welcome to the demo container.\n", 0644);
    put_file(overlay, "usr/local/bin/greet", "#!/bin/sh\necho \"Hi, ${1:-there}\"\n", 0755);
    /* Directories too get fixed modes, whatever the umask. */
    const char *dirs[] = {"bin", "etc", "usr", "usr/share", "usr/share/doc", "usr/share/doc/demo"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char p[PATH_MAX];
        mkpath(p, "%s/%s", rootfs, dirs[i]);
        chmod(p, 0755);
    }
    const char *odirs[] = {"etc", "usr", "usr/local", "usr/local/bin"};
    for (size_t i = 0; i < sizeof odirs / sizeof odirs[0]; i++) {
        char p[PATH_MAX];
        mkpath(p, "%s/%s", overlay, odirs[i]);
        chmod(p, 0755);
    }
    chmod(rootfs, 0755);
    chmod(overlay, 0755);
    make_tar(rootfs, base_tar);
    make_tar(overlay, overlay_tar);

    /* ------------------------------------------------------------------ */
    step("2. the layout, with the shared cache as the place new blobs go");
    ocidir_t *d = NULL;
    check_lib(ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d),
              "ocidir_open(layout, OCIDIR_OPEN_CREATE)");
    printf("    ocidir_open(\"%s\", OCIDIR_OPEN_CREATE): ok\n", layout);

    /* LXC opens its cache itself and hands the fd over: every lookup is then
     * confined beneath that directory, and new blobs (their temporary files
     * too) are created in it, so a commit never crosses a mount. */
    int cache_fd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cache_fd < 0)
        fail("open %s: %s", cache, strerror(errno));
    check_lib(ocidir_add_blobdir_fd(d, cache_fd, OCIDIR_BLOBDIR_WRITE),
              "ocidir_add_blobdir_fd(OCIDIR_BLOBDIR_WRITE)");
    close(cache_fd); /* the library keeps its own duplicate */
    printf("    open(\"%s\", O_DIRECTORY) + ocidir_add_blobdir_fd(d, fd, OCIDIR_BLOBDIR_WRITE): ok\n",
           cache);

    /* ------------------------------------------------------------------ */
    step("3. import the tar files as gzip layers (streamed, 64 KiB at a time)");
    struct layer base, top;
    import_tar(d, base_tar, &base);
    import_tar(d, overlay_tar, &top);

    /* ------------------------------------------------------------------ */
    step("4. build the image and tag it \"" TAG "\"");
    ocidir_builder_t *b = NULL;
    check_lib(ocidir_builder_new(d, NULL /* this machine's platform */, &b), "ocidir_builder_new");
    check_lib(ocidir_builder_set_created(b, CREATED), "ocidir_builder_set_created");
    check_lib(ocidir_builder_add_layer(b, base.media_type, base.digest, base.size, base.diff_id,
                                       "tar -cf base.tar (examples/lxc_image.c)"),
              "ocidir_builder_add_layer(base)");
    check_lib(ocidir_builder_add_layer(b, top.media_type, top.digest, top.size, top.diff_id,
                                       "tar -cf overlay.tar (examples/lxc_image.c)"),
              "ocidir_builder_add_layer(overlay)");
    static const char *const entrypoint[] = {"/bin/hello", NULL};
    static const char *const env[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    check_lib(ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_ENTRYPOINT, entrypoint),
              "ocidir_builder_set_config_strv(ENTRYPOINT)");
    check_lib(ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_ENV, env),
              "ocidir_builder_set_config_strv(ENV)");
    check_lib(ocidir_builder_set_config_string(b, OCIDIR_CONFIG_WORKING_DIR, "/"),
              "ocidir_builder_set_config_string(WORKING_DIR)");
    check_lib(ocidir_builder_set_config_string(b, OCIDIR_CONFIG_USER, "0:0"),
              "ocidir_builder_set_config_string(USER)");
    check_lib(ocidir_builder_set_label(b, "org.opencontainers.image.title", "libocidir demo"),
              "ocidir_builder_set_label");
    printf("    2 layers; Entrypoint [\"/bin/hello\"], Env PATH, WorkingDir \"/\", User \"0:0\",\n"
           "    label org.opencontainers.image.title, created %s\n",
           CREATED);

    /* Config blob, then manifest blob, then the tag: a crash at any point
     * leaves the tag as it was or moved whole. */
    char manifest_digest[OCIDIR_DIGEST_MAX];
    check_lib(ocidir_builder_commit(b, TAG, 0, manifest_digest), "ocidir_builder_commit(\"" TAG "\")");
    ocidir_builder_free(b);
    printf("    ocidir_builder_commit(\"%s\") -> manifest %s\n", TAG, manifest_digest);
    ocidir_close(d);

    /* ------------------------------------------------------------------ */
    step("5. read it back as LXC's template does (read-only)");
    check_lib(ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d),
              "ocidir_open(layout, OCIDIR_OPEN_RDONLY)");
    cache_fd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cache_fd < 0)
        fail("open %s: %s", cache, strerror(errno));
    check_lib(ocidir_add_blobdir_fd(d, cache_fd, 0), "ocidir_add_blobdir_fd(read)");
    close(cache_fd);
    printf("    ocidir_open(RDONLY) + ocidir_add_blobdir_fd(d, cache fd, 0): ok\n");

    char resolved[OCIDIR_DIGEST_MAX];
    char *media_type = NULL;
    uint64_t size = 0;
    check_lib(ocidir_resolve(d, TAG, resolved, &media_type, &size), "ocidir_resolve(\"" TAG "\")");
    printf("    ocidir_resolve(\"%s\"): %s\n      %s, %" PRIu64 " bytes\n", TAG, resolved, media_type,
           size);
    ocidir_free(media_type);
    if (strcmp(resolved, manifest_digest) != 0)
        fail("the tag resolves to %s, not to the manifest just committed", resolved);

    ocidir_image_t *img = NULL;
    check_lib(ocidir_image_open(d, TAG, NULL /* this machine's platform */, &img),
              "ocidir_image_open(\"" TAG "\")");
    char digest[OCIDIR_DIGEST_MAX];
    size_t manifest_len = 0;
    check_lib(ocidir_image_manifest(img, digest, NULL, &manifest_len), "ocidir_image_manifest");
    printf("    ocidir_image_open(\"%s\", %s):\n", TAG, ocidir_platform_default());
    printf("    manifest    %s (%zu bytes)\n", digest, manifest_len);
    char *config_type = NULL;
    char config_digest[OCIDIR_DIGEST_MAX];
    uint64_t config_size = 0;
    check_lib(ocidir_image_config_descriptor(img, &config_type, config_digest, &config_size),
              "ocidir_image_config_descriptor");
    printf("    config      %s (%" PRIu64 " bytes)\n                %s\n", config_digest, config_size,
           config_type);
    ocidir_free(config_type);

    char **entry = NULL, **cmd = NULL, **envv = NULL, **labels = NULL;
    char *user = NULL, *workdir = NULL, *created = NULL;
    check_lib(ocidir_image_config_strv(img, OCIDIR_CONFIG_ENTRYPOINT, &entry),
              "ocidir_image_config_strv(ENTRYPOINT)");
    check_lib(ocidir_image_config_strv(img, OCIDIR_CONFIG_CMD, &cmd), "ocidir_image_config_strv(CMD)");
    check_lib(ocidir_image_config_strv(img, OCIDIR_CONFIG_ENV, &envv), "ocidir_image_config_strv(ENV)");
    check_lib(ocidir_image_config_string(img, OCIDIR_CONFIG_USER, &user),
              "ocidir_image_config_string(USER)");
    check_lib(ocidir_image_config_string(img, OCIDIR_CONFIG_WORKING_DIR, &workdir),
              "ocidir_image_config_string(WORKING_DIR)");
    check_lib(ocidir_image_config_string(img, OCIDIR_CONFIG_CREATED, &created),
              "ocidir_image_config_string(CREATED)");
    check_lib(ocidir_image_config_labels(img, &labels), "ocidir_image_config_labels");
    print_strv("Entrypoint", entry);
    print_strv("Cmd", cmd);
    print_strv("Env", envv);
    printf("    %-11s\"%s\"\n", "User", user ? user : "(not set)");
    printf("    %-11s\"%s\"\n", "WorkingDir", workdir ? workdir : "(not set)");
    printf("    %-11s\"%s\"\n", "created", created ? created : "(not set)");
    for (size_t i = 0; labels[i] && labels[i + 1]; i += 2)
        printf("    %-11s%s=%s\n", "Label", labels[i], labels[i + 1]);
    /* What LXC runs as the container's init: Entrypoint followed by Cmd. */
    printf("    %-11s", "runs");
    int words = 0;
    for (size_t i = 0; entry && entry[i]; i++)
        printf("%s%s", words++ ? " " : "", entry[i]);
    for (size_t i = 0; cmd && cmd[i]; i++)
        printf("%s%s", words++ ? " " : "", cmd[i]);
    printf("\n");
    if (!entry || !entry[0] || strcmp(entry[0], "/bin/hello") != 0 || entry[1] || cmd ||
        !envv || !envv[0] || strncmp(envv[0], "PATH=", 5) != 0 || !user || strcmp(user, "0:0") != 0 ||
        !workdir || strcmp(workdir, "/") != 0 || !created || strcmp(created, CREATED) != 0 ||
        !labels[0])
        fail("the config read back is not the one built");
    ocidir_strv_free(entry);
    ocidir_strv_free(cmd);
    ocidir_strv_free(envv);
    ocidir_strv_free(labels);
    ocidir_free(user);
    ocidir_free(workdir);
    ocidir_free(created);

    size_t layers = ocidir_image_layer_count(img);
    printf("    %zu layers:\n", layers);
    if (layers != 2)
        fail("expected 2 layers, found %zu", layers);
    const char *must_have[] = {"./bin/hello", "./etc/motd"};
    for (size_t i = 0; i < layers; i++) {
        char *lmt = NULL;
        char ldigest[OCIDIR_DIGEST_MAX];
        uint64_t lsize = 0;
        check_lib(ocidir_image_layer(img, i, &lmt, ldigest, &lsize), "ocidir_image_layer");
        printf("    [%zu] %s\n        %s, %" PRIu64 " bytes\n", i, lmt, ldigest, lsize);
        ocidir_free(lmt);
        char list_path[PATH_MAX];
        mkpath(list_path, "%s/layer%zu.list", work_dir, i);
        list_layer(img, i, list_path, must_have[i]);
    }
    ocidir_image_close(img);
    ocidir_close(d);

    /* ------------------------------------------------------------------ */
    step("6. where the blobs are: all in the cache, none in the layout");
    char own_blobs[PATH_MAX], cache_blobs[PATH_MAX], index_path[PATH_MAX];
    mkpath(own_blobs, "%s/blobs/sha256", layout);
    mkpath(cache_blobs, "%s/sha256", cache);
    mkpath(index_path, "%s/index.json", layout);
    int own = count_entries(own_blobs), cached = count_entries(cache_blobs);
    printf("    %s: %d entries\n", own_blobs, own);
    printf("    %s: %d entries\n", cache_blobs, cached);
    if (own != 0)
        fail("the layout's own blobs/sha256 should be empty");
    /* 2 layers + config + manifest (more if the cache was used before) */
    if (cached < 4)
        fail("the cache should hold at least the 4 blobs of the image");
    {
        /* Every file in the cache's sha256/, named after what it is. */
        DIR *dir = opendir(cache_blobs);
        if (!dir)
            fail("opendir %s: %s", cache_blobs, strerror(errno));
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[PATH_MAX];
            struct stat st;
            mkpath(p, "%s/%s", cache_blobs, e->d_name);
            if (stat(p, &st) < 0)
                fail("stat %s: %s", p, strerror(errno));
            const char *what = strcmp(e->d_name, strchr(base.digest, ':') + 1) == 0  ? "base layer"
                               : strcmp(e->d_name, strchr(top.digest, ':') + 1) == 0 ? "overlay layer"
                               : strcmp(e->d_name, strchr(manifest_digest, ':') + 1) == 0
                                   ? "manifest"
                               : strcmp(e->d_name, strchr(config_digest, ':') + 1) == 0
                                   ? "config"
                                   : "(from an earlier run)";
            printf("      %8" PRIu64 "  sha256/%.16s...  %s\n", (uint64_t)st.st_size, e->d_name, what);
        }
        closedir(dir);
        const char *blobs[] = {base.digest, top.digest, manifest_digest, config_digest};
        for (size_t i = 0; i < sizeof blobs / sizeof blobs[0]; i++) {
            char p[PATH_MAX];
            struct stat st;
            mkpath(p, "%s/%s", cache_blobs, strchr(blobs[i], ':') + 1);
            if (stat(p, &st) < 0)
                fail("%s is not in the cache: %s", blobs[i], strerror(errno));
        }
    }
    FILE *f = fopen(index_path, "r");
    if (!f)
        fail("open %s: %s", index_path, strerror(errno));
    char idx[4096];
    size_t idx_len = fread(idx, 1, sizeof idx - 1, f);
    fclose(f);
    idx[idx_len] = '\0';
    printf("    %s:\n      %s\n", index_path, idx);

    printf("\nlxc_image: every step succeeded\n");
    return 0;
}
