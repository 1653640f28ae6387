/*
 * lxc-cache - what LXC's OCI template does with a layout and its shared blob
 * cache, written in C against the public API only.
 *
 *   lxc-cache [-p PLATFORM] [-o DIR] [-x COMMAND] [-L] CACHE_DIR LAYOUT_DIR NAME
 *
 * LXC keeps image blobs in a cache shared by every container
 * (/var/cache/lxc, or ~/.cache/lxc) and one layout per container, tagged with
 * the container's name; `skopeo copy --dest-shared-blob-dir CACHE_DIR ...
 * oci:LAYOUT_DIR:NAME` makes exactly that.  This program:
 *
 *   1. opens (or creates) CACHE_DIR itself and hands the fd to the library
 *      with ocidir_add_blobdir_fd(), so that every blob lookup stays confined
 *      beneath that directory;
 *   2. opens LAYOUT_DIR read-only and resolves NAME (a tag, or a
 *      "sha256:<hex>" manifest or index digest) for this machine's platform,
 *      through nested indexes (a tag that names one manifest is taken
 *      whatever its platform: the "platform" line says which it is);
 *   3. prints what LXC writes into the container's configuration: the
 *      command line (Entrypoint followed by Cmd), Env, User and WorkingDir;
 *   4. streams each layer, decompressed and verified against both its blob
 *      digest and its diff_id, into a file and/or a command's stdin.
 *
 * The output is one "key value" line each, so that scripts can read it:
 *
 *   image      sha256:...              the manifest picked
 *   platform   linux/amd64             from the image config
 *   command    /bin/sh -c 'echo hi'    Entrypoint + Cmd, quoted for /bin/sh
 *   env        PATH=/usr/bin:/bin      one line per variable
 *   user       1000:1000               "(not set)" when absent
 *   workdir    /srv                    "/" when absent, as LXC has it
 *   layer 0    <media type> <digest> <size> -> <where>, <n> bytes of tar, verified
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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ocidir.h>

/* Exit statuses. */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1, /* the library or the OS refused; the message says why */
    EXIT_USAGE = 2,
    EXIT_COMMAND = 3 /* the -x command failed on a layer */
};

#define CHUNK (128 * 1024)

static const char *prog = "lxc-cache";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [OPTIONS] CACHE_DIR LAYOUT_DIR NAME\n"
            "\n"
            "Read the image NAME (a tag, such as the container's name, or a\n"
            "sha256:<hex> digest) of the OCI layout LAYOUT_DIR, whose blobs may live in\n"
            "the shared cache CACHE_DIR (as `skopeo copy --dest-shared-blob-dir` makes\n"
            "them), the way LXC's OCI template does: print the container's command\n"
            "line, environment, user and working directory, and hand over each layer\n"
            "as an uncompressed tar, verified against its digest and its diff_id.\n"
            "\n"
            "  -p, --platform OS/ARCH[/VARIANT]\n"
            "                   the platform to pick from an index (default: this\n"
            "                   machine's, %s); a NAME that names a single\n"
            "                   manifest is taken whatever its platform\n"
            "  -o, --output DIR write layer N to DIR/N.tar (DIR is created); the file\n"
            "                   gets its name only once its content verified\n"
            "  -x, --exec COMMAND\n"
            "                   run /bin/sh -c COMMAND once per layer, in order, with the\n"
            "                   layer's tar on its stdin and LAYER_INDEX, LAYER_COUNT and\n"
            "                   LAYER_DIGEST in its environment, e.g.\n"
            "                   -x 'tar -xf - -C rootfs'.  The command reads the bytes as\n"
            "                   they are verified: when lxc-cache fails, discard what it made\n"
            "  -L, --follow-blob-symlink\n"
            "                   accept a layout whose blobs/sha256 is a symlink into the\n"
            "                   cache (LXC's older layouts)\n"
            "  -h, --help       show this text\n"
            "\n"
            "Without -o or -x, each layer is read and verified, then discarded.\n"
            "CACHE_DIR is created if absent; LAYOUT_DIR is only read.\n"
            "\n"
            "Exit status: 0 success; 1 the library or the OS refused (its message is\n"
            "printed); 2 bad usage; 3 the -x command failed on a layer.\n",
            prog, ocidir_platform_default());
}

/* A library call failed: print what was called and the library's message. */
__attribute__((format(printf, 2, 3))) static int lib_failed(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s (%d): %s\n", ocidir_strerror(rc), rc, ocidir_last_error());
    return EXIT_FAILED;
}

/* An OS call failed (errno set). */
__attribute__((format(printf, 1, 2))) static int os_failed(const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(err));
    return EXIT_FAILED;
}

/* mkdir -p, mode 0755 for what it creates. */
static int make_dirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            if (c == '\0')
                return 0;
            *p = c;
        }
    }
}

/* Print a word so that /bin/sh reads it back as that one word. */
static void print_sh_word(const char *w)
{
    if (*w && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        "_@%+=:,./-") == strlen(w)) {
        fputs(w, stdout);
        return;
    }
    putchar('\'');
    for (; *w; w++) {
        if (*w == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*w);
    }
    putchar('\'');
}

/* ---------------------------------------------------------------------------
 * The configuration LXC takes from the image.
 * ------------------------------------------------------------------------ */

static int print_config(const ocidir_image_t *img)
{
    char **entrypoint = NULL, **cmd = NULL, **env = NULL;
    char *user = NULL, *workdir = NULL, *os = NULL, *arch = NULL, *variant = NULL;
    int rc, status = EXIT_FAILED;

    if ((rc = ocidir_image_config_string(img, OCIDIR_CONFIG_OS, &os)) < 0 ||
        (rc = ocidir_image_config_string(img, OCIDIR_CONFIG_ARCHITECTURE, &arch)) < 0 ||
        (rc = ocidir_image_config_string(img, OCIDIR_CONFIG_VARIANT, &variant)) < 0) {
        lib_failed(rc, "ocidir_image_config_string(platform)");
        goto out;
    }
    if ((rc = ocidir_image_config_strv(img, OCIDIR_CONFIG_ENTRYPOINT, &entrypoint)) < 0 ||
        (rc = ocidir_image_config_strv(img, OCIDIR_CONFIG_CMD, &cmd)) < 0 ||
        (rc = ocidir_image_config_strv(img, OCIDIR_CONFIG_ENV, &env)) < 0) {
        lib_failed(rc, "ocidir_image_config_strv(Entrypoint, Cmd, Env)");
        goto out;
    }
    if ((rc = ocidir_image_config_string(img, OCIDIR_CONFIG_USER, &user)) < 0 ||
        (rc = ocidir_image_config_string(img, OCIDIR_CONFIG_WORKING_DIR, &workdir)) < 0) {
        lib_failed(rc, "ocidir_image_config_string(User, WorkingDir)");
        goto out;
    }

    printf("%-11s%s/%s%s%s\n", "platform", os ? os : "?", arch ? arch : "?", variant ? "/" : "",
           variant ? variant : "");

    /* The command is Entrypoint followed by Cmd, as the runtime spec has it. */
    printf("%-11s", "command");
    int words = 0;
    for (char **v = entrypoint; v && *v; v++, words++) {
        if (words)
            putchar(' ');
        print_sh_word(*v);
    }
    for (char **v = cmd; v && *v; v++, words++) {
        if (words)
            putchar(' ');
        print_sh_word(*v);
    }
    printf("%s\n", words ? "" : "(not set)");

    for (char **v = env; v && *v; v++)
        printf("%-11s%s\n", "env", *v);
    /* "user[:group]"; LXC resolves names in the container's rootfs. */
    printf("%-11s%s\n", "user", user && *user ? user : "(not set)");
    printf("%-11s%s\n", "workdir", workdir && *workdir ? workdir : "/");
    status = EXIT_OK;
out:
    ocidir_strv_free(entrypoint);
    ocidir_strv_free(cmd);
    ocidir_strv_free(env);
    ocidir_free(user);
    ocidir_free(workdir);
    ocidir_free(os);
    ocidir_free(arch);
    ocidir_free(variant);
    return status;
}

/* ---------------------------------------------------------------------------
 * Layers: one verified tar stream each, to a file and/or a command.
 * ------------------------------------------------------------------------ */

struct sinks {
    int out_dirfd;       /* -o DIR, or -1 */
    const char *out_dir; /* for messages */
    const char *command; /* -x COMMAND, or NULL */
};

/* Start `/bin/sh -c command` with a pipe on its stdin. */
static pid_t start_command(const char *command, size_t index, size_t count, const char *digest,
                           int *fd_out)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(p[0]);
        close(p[1]);
        errno = err;
        return -1;
    }
    if (pid == 0) {
        char n[32], c[32];
        snprintf(n, sizeof n, "%zu", index);
        snprintf(c, sizeof c, "%zu", count);
        if (dup2(p[0], STDIN_FILENO) < 0 || setenv("LAYER_INDEX", n, 1) < 0 ||
            setenv("LAYER_COUNT", c, 1) < 0 || setenv("LAYER_DIGEST", digest, 1) < 0)
            _exit(127);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    *fd_out = p[1];
    return pid;
}

/* Write all of buf; -1 with errno on failure. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Stream layer `index` into the sinks, then print its line:
 *   layer N    <media type> <digest> <size> -> <where>, <n> bytes of tar, verified
 * or, when it went wrong, "-> <what went wrong>" (the reason on stderr). */
static int extract_layer(const ocidir_image_t *img, size_t index, size_t count,
                         const struct sinks *s)
{
    char *media_type = NULL;
    char digest[OCIDIR_DIGEST_MAX];
    uint64_t size = 0;
    int rc = ocidir_image_layer(img, index, &media_type, digest, &size);
    if (rc < 0)
        return lib_failed(rc, "ocidir_image_layer(%zu)", index);

    int status = EXIT_FAILED, file_fd = -1, pipe_fd = -1, command_stopped = 0;
    pid_t pid = -1;
    uint64_t total = 0;
    const char *outcome = "not read";
    char partial[64], final[64];
    snprintf(partial, sizeof partial, ".%zu.tar.partial", index);
    snprintf(final, sizeof final, "%zu.tar", index);

    ocidir_layer_reader_t *r = NULL;
    if ((rc = ocidir_image_layer_open(img, index, &r)) < 0) {
        lib_failed(rc, "ocidir_image_layer_open(layer %zu, %s)", index, digest);
        goto out;
    }
    if (s->out_dirfd >= 0) {
        file_fd = openat(s->out_dirfd, partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (file_fd < 0) {
            os_failed("create %s/%s", s->out_dir, partial);
            goto out;
        }
    }
    if (s->command) {
        fflush(stdout); /* the command inherits stdout */
        pid = start_command(s->command, index, count, digest, &pipe_fd);
        if (pid < 0) {
            os_failed("start /bin/sh -c %s", s->command);
            goto out;
        }
    }

    static char buf[CHUNK];
    ssize_t n;
    while ((n = ocidir_layer_reader_read(r, buf, sizeof buf)) > 0) {
        total += (uint64_t)n;
        if (file_fd >= 0 && write_all(file_fd, buf, (size_t)n) < 0) {
            outcome = "not written";
            os_failed("write %s/%s", s->out_dir, partial);
            goto out;
        }
        /* A command that stops reading early (EPIPE) is judged by its exit
         * status; the layer is still read to its end, so that it is verified. */
        if (pipe_fd >= 0 && !command_stopped && write_all(pipe_fd, buf, (size_t)n) < 0) {
            if (errno != EPIPE) {
                outcome = "not handed over";
                os_failed("write to /bin/sh -c %s", s->command);
                goto out;
            }
            command_stopped = 1;
        }
    }
    if (n < 0) {
        /* Not the clean end: the blob does not hash to its digest, the tar to
         * its diff_id, or the compressed data is corrupt.  Nothing gets the
         * final name; the command gets a cut stream and its work is void. */
        outcome = "REFUSED";
        lib_failed((int)n, "ocidir_layer_reader_read(layer %zu, %s)", index, digest);
        goto out;
    }

    /* 0 from the reader: the whole blob hashed to its digest and the whole
     * tar to its diff_id.  Only now does the file get its name. */
    if (file_fd >= 0) {
        int err = fsync(file_fd) < 0 ? errno : 0;
        if (close(file_fd) < 0 && !err)
            err = errno;
        file_fd = -1;
        if (!err && renameat(s->out_dirfd, partial, s->out_dirfd, final) < 0)
            err = errno;
        if (err) {
            unlinkat(s->out_dirfd, partial, 0);
            errno = err;
            outcome = "not written";
            os_failed("write %s/%s", s->out_dir, final);
            goto out;
        }
    }
    if (pipe_fd >= 0) {
        close(pipe_fd);
        pipe_fd = -1;
        int ws = 0;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
            ;
        pid = -1;
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            outcome = "command failed";
            fprintf(stderr, "%s: layer %zu (%s): /bin/sh -c %s: %s %d\n", prog, index, digest,
                    s->command, WIFEXITED(ws) ? "exit status" : "killed by signal",
                    WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
            status = EXIT_COMMAND;
            goto out;
        }
    }
    status = EXIT_OK;

out:
    ocidir_layer_reader_close(r);
    if (file_fd >= 0) {
        close(file_fd);
        unlinkat(s->out_dirfd, partial, 0); /* no partial file left under any name */
    }
    if (pipe_fd >= 0)
        close(pipe_fd);
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    printf("layer %-5zu%s %s %" PRIu64 " -> ", index, media_type, digest, size);
    if (status != EXIT_OK) {
        printf("%s\n", outcome);
    } else {
        if (s->out_dirfd >= 0)
            printf("%s/%s%s", s->out_dir, final, s->command ? " and " : "");
        if (s->command)
            printf("command");
        if (s->out_dirfd < 0 && !s->command)
            printf("discarded");
        printf(", %" PRIu64 " bytes of tar, verified\n", total);
    }
    fflush(stdout);
    ocidir_free(media_type);
    return status;
}

/* ---------------------------------------------------------------------------
 * The program.
 * ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"platform", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"exec", required_argument, NULL, 'x'},
        {"follow-blob-symlink", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *platform = NULL, *out_dir = NULL, *command = NULL;
    unsigned open_flags = OCIDIR_OPEN_RDONLY;
    int c;
    while ((c = getopt_long(argc, argv, "p:o:x:Lh", options, NULL)) != -1) {
        switch (c) {
        case 'p': platform = optarg; break;
        case 'o': out_dir = optarg; break;
        case 'x': command = optarg; break;
        case 'L': open_flags |= OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 3) {
        fprintf(stderr, "%s: expected CACHE_DIR LAYOUT_DIR NAME, got %d argument(s)\n", prog,
                argc - optind);
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cache = argv[optind], *layout = argv[optind + 1], *name = argv[optind + 2];
    if (!platform)
        platform = ocidir_platform_default();
    signal(SIGPIPE, SIG_IGN); /* a command that exits early gives EPIPE instead */

    int status = EXIT_FAILED, rc;
    int cache_fd = -1;
    struct sinks sinks = {.out_dirfd = -1, .out_dir = out_dir, .command = command};
    ocidir_t *d = NULL;
    ocidir_image_t *img = NULL;

    /* 1. The cache: created if absent, opened here, handed over as an fd.
     *    The library keeps its own duplicate and never leaves it. */
    if (make_dirs(cache) < 0) {
        os_failed("create cache directory %s", cache);
        goto out;
    }
    cache_fd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cache_fd < 0) {
        os_failed("open cache directory %s", cache);
        goto out;
    }

    /* 2. The container's layout, read-only, with the cache behind it. */
    if ((rc = ocidir_open(AT_FDCWD, layout, open_flags, &d)) < 0) {
        lib_failed(rc, "ocidir_open(%s)", layout);
        goto out;
    }
    if ((rc = ocidir_add_blobdir_fd(d, cache_fd, 0)) < 0) {
        lib_failed(rc, "ocidir_add_blobdir_fd(%s)", cache);
        goto out;
    }

    /* 3. The image for this platform: a tag, or a digest; an index is
     *    searched (nested ones too) for the platform. */
    if ((rc = ocidir_image_open(d, name, platform, &img)) < 0) {
        lib_failed(rc, "ocidir_image_open(\"%s\", %s) in %s", name, platform, layout);
        goto out;
    }
    char manifest[OCIDIR_DIGEST_MAX];
    if ((rc = ocidir_image_manifest(img, manifest, NULL, NULL)) < 0) {
        lib_failed(rc, "ocidir_image_manifest");
        goto out;
    }
    printf("%-11s%s\n", "image", manifest);

    /* 4. The configuration.  An image whose config is the empty descriptor
     *    (PuzzleFS) has none: LXC then runs its defaults. */
    if (ocidir_image_config_is_empty(img)) {
        printf("%-11s%s\n", "config", "(empty descriptor: no command, env, user or workdir)");
    } else if (print_config(img) != EXIT_OK) {
        goto out;
    }

    /* 5. The layers, in order. */
    if (out_dir) {
        if (make_dirs(out_dir) < 0) {
            os_failed("create output directory %s", out_dir);
            goto out;
        }
        sinks.out_dirfd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sinks.out_dirfd < 0) {
            os_failed("open output directory %s", out_dir);
            goto out;
        }
    }
    size_t count = ocidir_image_layer_count(img);
    printf("%-11s%zu\n", "layers", count);
    for (size_t i = 0; i < count; i++) {
        if ((status = extract_layer(img, i, count, &sinks)) != EXIT_OK)
            goto out;
    }
    status = EXIT_OK;

out:
    fflush(stdout);
    ocidir_image_close(img);
    ocidir_close(d);
    if (cache_fd >= 0)
        close(cache_fd);
    if (sinks.out_dirfd >= 0)
        close(sinks.out_dirfd);
    return status;
}
