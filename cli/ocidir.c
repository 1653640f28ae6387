/*
 * ocidir - the command-line tool of libocidir: a thin program over the
 * public C API (ocidir.h).  main(), the shared helpers of cli.h, and the
 * commands about blobs and tags: init, put, cat, ls, tag, untag.  The image
 * commands are in image.c, fsck/gc/rm/clone in housekeeping.c.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ref.h"

struct cli_globals cli;

#define COPY_BUF (256 * 1024) /* cat streams through a buffer of this size */
#define PUT_PROGRESS_MIN (8u << 20) /* put shows progress from this input size */

/* ---------------------------------------------------------------------------
 * Help texts.
 * ------------------------------------------------------------------------ */

static const char main_help[] =
    "Usage: ocidir [GLOBAL OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Read and write OCI image layout directories with libocidir.\n"
    "\n"
    "Commands:\n"
    "  init DIR                create an empty layout (an existing one is left as it is)\n"
    "  put DIR [FILE]          store FILE (or stdin) as a blob; print its digest\n"
    "  cat DIR DIGEST          write a blob's verified content to stdout\n"
    "  ls DIR                  list tags: TAG<TAB>DIGEST<TAB>MEDIATYPE\n"
    "  inspect DIR:REF         describe an image as JSON\n"
    "  import DIR:TAG TAR...   build an image from tar files; print its manifest digest\n"
    "  export DIR:REF --layer N\n"
    "                          write a layer, decompressed and verified, to stdout\n"
    "  tag DIR REF NEWTAG      point NEWTAG at what REF names\n"
    "  untag DIR TAG           remove the index.json entry that carries TAG\n"
    "  fsck DIR                check a layout completely; status 1 when damaged\n"
    "  gc DIR                  remove the blobs nothing references\n"
    "  rm DIR TAG              remove an image's tag, and with --gc its blobs\n"
    "  clone SRC DST           make a new layout with the same index and blobs\n"
    "  unpack DIR:REF DEST     apply an image's layers into a root filesystem\n"
    "  config DIR:REF FIELD    print one config field (one value per line)\n"
    "  lxc-cmd DIR:REF         print LXC's lxc.execute.cmd value for the image\n"
    "  user ROOTFS USERSPEC    resolve user[:group] in ROOTFS: print UID GID\n"
    "  copy SRC:REF DST:TAG    copy an image and its blobs into another layout\n"
    "\n"
    "Global options (before or after the command):\n"
    "  --blobdir PATH          also read blobs from PATH, laid out like blobs/\n"
    "                          (sha256/<hex>); repeatable; new blobs are written\n"
    "                          into the first one given\n"
    "  --follow-blob-symlink   accept blobs/<alg> being a symlink that leads\n"
    "                          outside the layout\n"
    "  --json                  machine-readable output (ls, fsck, gc, clone)\n"
    "  --quiet                 no progress bar, no summary lines\n"
    "  --help                  this text; 'ocidir COMMAND --help' for a command\n"
    "  --version               print the versions of the tool and the library\n"
    "\n"
    "DIR:REF is a layout directory and a tag or a digest.  It is split at the\n"
    "last ':', or before the algorithm of a digest ref (DIR:sha256:<hex>); '@' has\n"
    "no special meaning.\n"
    "\n"
    "Exit status: 0 on success; 1 when the operation failed (one line on stderr\n"
    "says why); 2 on a usage error: an unknown option, a missing or extra\n"
    "operand, a malformed digest, tag or DIR:REF.\n"
    "A progress bar is drawn on stderr for long work, only when stderr is a\n"
    "terminal.\n";

static const char init_help[] =
    "Usage: ocidir init DIR\n"
    "\n"
    "Create an OCI image layout in DIR (created if absent): oci-layout, an empty\n"
    "index.json and blobs/sha256/.  An existing layout is validated and left\n"
    "as it is.  Every other command needs an existing layout.\n";

static const char put_help[] =
    "Usage: ocidir put DIR [FILE]\n"
    "\n"
    "Store the content of FILE (or stdin, also when FILE is '-') as a sha256\n"
    "blob, published under its digest only once complete and flushed to disk,\n"
    "and print the digest.  With --blobdir, the blob goes into the first blob\n"
    "directory given.  A progress bar is shown for a large regular file.\n";

static const char cat_help[] =
    "Usage: ocidir cat DIR DIGEST\n"
    "\n"
    "Write the content of blob DIGEST to stdout, verified as it is read.\n"
    "When the content turns out not to match its digest (or its size changes),\n"
    "the status is 1 and the message says so; the bytes already written cannot\n"
    "be recalled, so output of a failed cat is incomplete or corrupt and must\n"
    "be discarded.\n"
    "A malformed DIGEST is a usage error (status 2); a well-formed digest of an\n"
    "algorithm the library does not support fails with status 1.\n";

static const char ls_help[] =
    "Usage: ocidir ls DIR\n"
    "\n"
    "One line per tag in index.json, in file order: TAG<TAB>DIGEST<TAB>MEDIATYPE.\n"
    "With --json: an array of {\"tag\", \"digest\", \"mediaType\", \"size\"}.\n";

static const char tag_help[] =
    "Usage: ocidir tag DIR REF NEWTAG\n"
    "\n"
    "Point NEWTAG at the manifest or index that REF (a tag or a digest) names,\n"
    "moving NEWTAG if it exists.  index.json is changed under the layout's lock\n"
    "and replaced atomically.\n";

static const char untag_help[] =
    "Usage: ocidir untag DIR TAG\n"
    "\n"
    "Remove the index.json entry that carries TAG.  No blob is removed; see\n"
    "'ocidir gc'.\n";

static const char inspect_help[] =
    "Usage: ocidir inspect DIR:REF [--platform OS/ARCH[/VARIANT]]\n"
    "\n"
    "Describe the image REF names, as JSON: the manifest's digest, media type\n"
    "and size, the platform, the config (descriptor, Entrypoint, Cmd, Env,\n"
    "User, WorkingDir, StopSignal, Labels, created), the layers (mediaType,\n"
    "digest, size, diffID, annotations) and the manifest's annotations.\n"
    "When REF names an index, the manifest for the platform is chosen\n"
    "(default: this machine's).\n"
    "\n"
    "  --platform OS/ARCH[/VARIANT]   the platform to choose in an index\n";

static const char import_help[] =
    "Usage: ocidir import DIR:TAG [OPTIONS] LAYER.tar...\n"
    "\n"
    "Build an image from tar files, one layer each in the order given, tag it\n"
    "TAG, and print the manifest digest.  The layers are compressed and hashed\n"
    "in one pass; the config, the manifest and the tag are written in an order\n"
    "that a crash cannot break.  Without --created, no time is recorded, so the\n"
    "same inputs give the same digests.  Each file must be a tar stream (header\n"
    "checksums, sizes and content lengths are checked as it streams): one that\n"
    "is not fails with its name and the byte offset, and its layer is not stored.\n"
    "\n"
    "  --compression gzip|zstd|none   layer compression (default gzip)\n"
    "  --level N                      compression level (0: the default; gzip\n"
    "                                 1..9, zstd 1..19, none 0)\n"
    "  --platform OS/ARCH[/VARIANT]   the config's platform (default: this machine)\n"
    "  --entrypoint ARG               append to Entrypoint (repeatable)\n"
    "  --cmd ARG                      append to Cmd (repeatable)\n"
    "  --env K=V                      append to Env (repeatable)\n"
    "  --workdir DIR                  WorkingDir\n"
    "  --user U                       User\n"
    "  --label K=V                    a config label (repeatable)\n"
    "  --created RFC3339              the creation time, e.g. 2024-01-01T00:00:00Z\n";

static const char export_help[] =
    "Usage: ocidir export DIR:REF --layer N [--platform OS/ARCH[/VARIANT]]\n"
    "\n"
    "Write layer N (0 is the first) of the image REF names to stdout as a tar\n"
    "stream, decompressed, with both the blob digest and the diff_id verified.\n"
    "When verification fails, the status is 1 and the message says so; the\n"
    "bytes already written cannot be recalled, so output of a failed export\n"
    "is incomplete or corrupt and must be discarded.\n"
    "\n"
    "  --layer N                      the layer to write (required)\n"
    "  --platform OS/ARCH[/VARIANT]   the platform to choose in an index\n";

static const char fsck_help[] =
    "Usage: ocidir fsck DIR\n"
    "\n"
    "Check a layout completely: oci-layout, index.json, every reachable\n"
    "descriptor and the full hash of every blob; unreferenced blobs and stray\n"
    "temporary files are reported as notices.  Never writes anything.\n"
    "Prints one line per finding (KIND<TAB>SUBJECT<TAB>MESSAGE) and a summary;\n"
    "the status is 1 when damage was found.\n"
    "With --json: {\"findings\": [{\"kind\", \"damage\", \"subject\", \"size\",\n"
    "\"message\"}], \"damage\", \"blobs\", \"bytes\"}.\n";

static const char gc_help[] =
    "Usage: ocidir gc [--dry-run] [--grace SECONDS] DIR\n"
    "       ocidir gc [--dry-run] [--grace SECONDS] --cache CACHEDIR DIR...\n"
    "\n"
    "Remove the blobs in DIR's own blobs/ that nothing in its index.json\n"
    "references (never a blob in a --blobdir), and stray temporary files.\n"
    "With --cache, collect the shared blob directory CACHEDIR instead: remove\n"
    "the blobs none of the layouts DIR... references (a layout left out loses\n"
    "its blobs).  A layout whose graph is damaged is not collected.\n"
    "Prints one line per blob: removed / would-remove / kept-recent, SUBJECT,\n"
    "SIZE.  With --json: {\"dryRun\", \"removed\", \"wouldRemove\", \"keptRecent\",\n"
    "\"other\"} (arrays of {\"kind\", \"damage\", \"subject\", \"size\", \"message\"}),\n"
    "and \"bytesRemoved\" (in a dry run \"bytesWouldRemove\").\n"
    "\n"
    "  --dry-run          report what would be removed, remove nothing\n"
    "  --grace SECONDS    keep unreferenced blobs younger than this (default 3600)\n"
    "  --cache CACHEDIR   collect this shared blob directory\n";

static const char rm_help[] =
    "Usage: ocidir rm [--gc] [--grace SECONDS] DIR TAG\n"
    "\n"
    "Remove an image: drop the index.json entry that carries TAG (as untag),\n"
    "and with --gc then remove what became unreferenced in DIR's own blobs/\n"
    "(as 'ocidir gc'; its report is printed, --json as gc's).  index.json is\n"
    "rewritten before any blob is removed.  When the gc cannot run (a damaged\n"
    "graph), the tag is removed all the same: a 'skipped' notice says why and\n"
    "the status is 0.\n"
    "\n"
    "  --gc               also collect the blobs nothing references any more\n"
    "  --grace SECONDS    keep unreferenced blobs younger than this (default 3600)\n";

static const char clone_help[] =
    "Usage: ocidir clone [--no-hardlink] SRC DST\n"
    "\n"
    "Make a new layout DST (absent, or an empty directory) with SRC's index.json\n"
    "byte for byte and every reachable blob in its own blobs/, each verified,\n"
    "reflinked where the filesystem can, else hard-linked, else copied.  DST\n"
    "does not look whole until every blob is in place.\n"
    "With --json: {\"copied\", \"linked\", \"reflinked\", \"blobs\", \"bytes\"}.\n"
    "\n"
    "  --no-hardlink   never hard-link: reflink or copy only\n";

/* cli/unpack.c */
extern const char unpack_help[];
int cmd_unpack(int argc, char **argv);

/* cli/lxc.c */
extern const char config_help[], lxc_cmd_help[], user_help[];
int cmd_config(int argc, char **argv);
int cmd_lxc_cmd(int argc, char **argv);
int cmd_user(int argc, char **argv);

/* cli/copy.c */
extern const char copy_help[];
int cmd_copy(int argc, char **argv);

static int cmd_init(int argc, char **argv);
static int cmd_put(int argc, char **argv);
static int cmd_cat(int argc, char **argv);
static int cmd_ls(int argc, char **argv);
static int cmd_tag(int argc, char **argv);
static int cmd_untag(int argc, char **argv);

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"init", cmd_init, init_help},          {"put", cmd_put, put_help},
    {"cat", cmd_cat, cat_help},             {"ls", cmd_ls, ls_help},
    {"inspect", cmd_inspect, inspect_help}, {"import", cmd_import, import_help},
    {"export", cmd_export, export_help},    {"tag", cmd_tag, tag_help},
    {"untag", cmd_untag, untag_help},       {"fsck", cmd_fsck, fsck_help},
    {"gc", cmd_gc, gc_help},                {"rm", cmd_rm, rm_help},
    {"clone", cmd_clone, clone_help},       {"unpack", cmd_unpack, unpack_help},
    {"config", cmd_config, config_help},    {"lxc-cmd", cmd_lxc_cmd, lxc_cmd_help},
    {"user", cmd_user, user_help},          {"copy", cmd_copy, copy_help},
};

static const char *command_help(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].help;
    return main_help;
}

/* ---------------------------------------------------------------------------
 * Shared helpers (cli.h).
 * ------------------------------------------------------------------------ */

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ocidir%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'ocidir%s%s --help')\n", cmd ? " " : "", cmd ? cmd : "");
    return EXIT_USAGE;
}

int cli_lib_error(const char *cmd, int rc)
{
    const char *msg = ocidir_last_error();
    fprintf(stderr, "ocidir %s: %s\n", cmd, *msg ? msg : ocidir_strerror(rc));
    return EXIT_FAIL;
}

int cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ocidir %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAIL;
}

/* Take a global option; false if `c` is not one. */
static bool global_option(int c, const char *arg)
{
    switch (c) {
    case OPT_BLOBDIR: {
        const char **v = realloc(cli.blobdirs, (cli.n_blobdirs + 1) * sizeof *v);
        if (!v) {
            perror("ocidir");
            exit(EXIT_FAIL);
        }
        v[cli.n_blobdirs++] = arg;
        cli.blobdirs = v;
        return true;
    }
    case OPT_FOLLOW_BLOB_SYMLINK:
        cli.follow_blob_symlink = true;
        return true;
    case OPT_JSON:
        cli.json = true;
        return true;
    case OPT_QUIET:
        cli.quiet = true;
        return true;
    default:
        return false;
    }
}

/* The usage error for what getopt_long refused (it returned '?' or ':'). */
static int bad_option(const char *cmd, char **argv, int c)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return cli_usage_error(cmd, "option %s needs an argument", arg);
    if (optopt && strncmp(arg, "--", 2) != 0)
        return cli_usage_error(cmd, "unknown option -%c", optopt);
    return cli_usage_error(cmd, "unknown option %s", arg);
}

int cli_getopt(int argc, char **argv, const struct option *longopts, int *status)
{
    for (;;) {
        int c = getopt_long(argc, argv, ":h", longopts, NULL);
        if (c == -1)
            return -1;
        if (global_option(c, optarg))
            continue;
        if (c == OPT_HELP || c == 'h') {
            fputs(command_help(argv[0]), stdout);
            *status = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
            return CLI_OPT_EXIT;
        }
        if (c == '?' || c == ':') {
            *status = bad_option(argv[0], argv, c);
            return CLI_OPT_EXIT;
        }
        return c;
    }
}

int cli_operands(const char *cmd, int argc, char **argv, int min, int max, const char *names)
{
    int n = argc - optind;
    if (n < min)
        return cli_usage_error(cmd, "missing operand (expected %s)", names);
    if (max >= 0 && n > max)
        return cli_usage_error(cmd, "unexpected operand '%s' (expected %s)", argv[optind + max], names);
    return EXIT_OK;
}

static int add_blobdirs(const char *cmd, ocidir_t *d, bool first_writes)
{
    for (size_t i = 0; i < cli.n_blobdirs; i++) {
        int fd = open(cli.blobdirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return cli_error(cmd, "--blobdir %s: %s", cli.blobdirs[i], strerror(errno));
        /* The last one added with the flag is the write target: flag only the first. */
        int rc = ocidir_add_blobdir_fd(d, fd, first_writes && i == 0 ? OCIDIR_BLOBDIR_WRITE : 0);
        close(fd);
        if (rc < 0)
            return cli_lib_error(cmd, rc);
    }
    return EXIT_OK;
}

int cli_add_read_blobdirs(const char *cmd, ocidir_t *d)
{
    return add_blobdirs(cmd, d, false);
}

int cli_open_layout(const char *cmd, const char *dir, unsigned flags, ocidir_t **out)
{
    if (cli.follow_blob_symlink)
        flags |= OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK;
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, dir, flags, &d);
    if (rc == OCIDIR_E_ESCAPE) {
        fprintf(stderr, "ocidir %s: %s (to use it anyway, give --follow-blob-symlink, or --blobdir with its target)\n",
                cmd, ocidir_last_error());
        return EXIT_FAIL;
    }
    if (rc < 0)
        return cli_lib_error(cmd, rc);
    if (add_blobdirs(cmd, d, !(flags & OCIDIR_OPEN_RDONLY)) != EXIT_OK) {
        ocidir_close(d);
        return EXIT_FAIL;
    }
    *out = d;
    return EXIT_OK;
}

int cli_dir_ref(const char *cmd, const char *arg, char **dir_out, const char **ref_out)
{
    size_t dir_len;
    const char *ref;
    int r = cli_split_ref(arg, &dir_len, &ref);
    if (r != CLI_REF_OK)
        return cli_usage_error(cmd, "'%s': %s", arg, cli_split_ref_strerror(r));
    int st = cli_check_ref(cmd, ref);
    if (st != EXIT_OK)
        return st;
    char *dir = strndup(arg, dir_len);
    if (!dir)
        return cli_error(cmd, "%s", strerror(errno));
    *dir_out = dir;
    *ref_out = ref;
    return EXIT_OK;
}

int cli_check_ref(const char *cmd, const char *ref)
{
    /* A registered algorithm's prefix makes it a digest, however malformed. */
    if (strncmp(ref, "sha256:", 7) == 0 || strncmp(ref, "sha512:", 7) == 0)
        return cli_check_digest(cmd, ref);
    if (ocidir_digest_validate(ref) != 0 && ocidir_tag_validate(ref) != 0)
        return cli_usage_error(cmd, "'%s' is neither a tag nor a digest", ref);
    return EXIT_OK;
}

int cli_check_digest(const char *cmd, const char *digest)
{
    int rc = ocidir_digest_validate(digest);
    if (rc == OCIDIR_E_UNSUPPORTED)
        return cli_lib_error(cmd, rc);
    if (rc < 0)
        return cli_usage_error(cmd, "%s", ocidir_last_error());
    return EXIT_OK;
}

int cli_check_tag(const char *cmd, const char *tag)
{
    if (strncmp(tag, "sha256:", 7) == 0 || strncmp(tag, "sha512:", 7) == 0)
        return cli_usage_error(cmd, "'%s' is a digest, not a tag", tag);
    if (ocidir_tag_validate(tag) != 0)
        return cli_usage_error(cmd, "'%s' is not a valid tag", tag);
    return EXIT_OK;
}

void cli_progress_init(progress_t *p, const char *label)
{
    progress_init(p, label, !cli.quiet && isatty(STDERR_FILENO));
}

int cli_write_stdout(const char *cmd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cli_error(cmd, "writing to stdout: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return EXIT_OK;
}

int cli_finish_stdout(const char *cmd, int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(cmd, "writing to stdout: %s", strerror(errno));
        return EXIT_FAIL;
    }
    return status;
}

/* Options of commands that have none of their own. */
static const struct option no_options[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};

/* Parse the options of a command without options of its own, then check
 * its operands.  Returns true to go on; false with *status to end. */
static bool plain_command(int argc, char **argv, int min, int max, const char *names, int *status)
{
    int c = cli_getopt(argc, argv, no_options, status);
    if (c == CLI_OPT_EXIT)
        return false;
    if (c != -1) {
        *status = cli_usage_error(argv[0], "unknown option %s", argv[optind - 1]);
        return false;
    }
    *status = cli_operands(argv[0], argc, argv, min, max, names);
    return *status == EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * init, put, cat, ls, tag, untag.
 * ------------------------------------------------------------------------ */

static int cmd_init(int argc, char **argv)
{
    int st;
    if (!plain_command(argc, argv, 1, 1, "DIR", &st))
        return st;
    ocidir_t *d = NULL;
    st = cli_open_layout("init", argv[optind], OCIDIR_OPEN_CREATE, &d);
    ocidir_close(d);
    return st;
}

/* Draws put's progress from the input's file offset, which the library
 * advances as it copies. */
struct put_progress {
    progress_t bar;
    int fd;
    off_t start;
    uint64_t total;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void *put_progress_thread(void *arg)
{
    struct put_progress *pp = arg;
    pthread_mutex_lock(&pp->mu);
    while (!pp->stop) {
        off_t pos = lseek(pp->fd, 0, SEEK_CUR);
        if (pos >= pp->start)
            progress_update(&pp->bar, (uint64_t)(pos - pp->start), pp->total);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&pp->cv, &pp->mu, &until);
    }
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

static int cmd_put(int argc, char **argv)
{
    int st;
    if (!plain_command(argc, argv, 1, 2, "DIR [FILE]", &st))
        return st;
    const char *file = argc - optind == 2 ? argv[optind + 1] : "-";
    int fd = STDIN_FILENO;
    if (strcmp(file, "-") != 0) {
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return cli_error("put", "%s: %s", file, strerror(errno));
    }
    ocidir_t *d = NULL;
    st = cli_open_layout("put", argv[optind], 0, &d);
    if (st != EXIT_OK) {
        if (fd != STDIN_FILENO)
            close(fd);
        return st;
    }

    /* Progress from the file offset, for a large regular file. */
    struct put_progress pp = {.fd = fd, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    cli_progress_init(&pp.bar, "put");
    struct stat sb;
    pthread_t thread;
    bool threaded = false;
    if (pp.bar.enabled && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        pp.start = lseek(fd, 0, SEEK_CUR);
        if (pp.start >= 0 && sb.st_size - pp.start >= (off_t)PUT_PROGRESS_MIN) {
            pp.total = (uint64_t)(sb.st_size - pp.start);
            threaded = pthread_create(&thread, NULL, put_progress_thread, &pp) == 0;
        }
    }

    char digest[OCIDIR_DIGEST_MAX];
    uint64_t size = 0;
    int rc = ocidir_blob_put_fd(d, fd, digest, &size);

    if (threaded) {
        pthread_mutex_lock(&pp.mu);
        pp.stop = true;
        pthread_cond_signal(&pp.cv);
        pthread_mutex_unlock(&pp.mu);
        pthread_join(thread, NULL);
        if (rc == 0)
            progress_update(&pp.bar, size, size);
        progress_end(&pp.bar);
    }
    if (fd != STDIN_FILENO)
        close(fd);
    if (rc < 0)
        st = cli_lib_error("put", rc);
    else
        printf("%s\n", digest);
    ocidir_close(d);
    return cli_finish_stdout("put", st);
}

static int cmd_cat(int argc, char **argv)
{
    int st;
    if (!plain_command(argc, argv, 2, 2, "DIR DIGEST", &st))
        return st;
    const char *digest = argv[optind + 1];
    if ((st = cli_check_digest("cat", digest)) != EXIT_OK)
        return st;
    ocidir_t *d = NULL;
    if ((st = cli_open_layout("cat", argv[optind], OCIDIR_OPEN_RDONLY, &d)) != EXIT_OK)
        return st;
    ocidir_blob_reader_t *r = NULL;
    int rc = ocidir_blob_open(d, digest, -1, &r);
    if (rc < 0) {
        st = cli_lib_error("cat", rc);
    } else {
        char *buf = malloc(COPY_BUF);
        uint64_t written = 0;
        if (!buf)
            st = cli_error("cat", "%s", strerror(errno));
        while (buf && st == EXIT_OK) {
            ssize_t n = ocidir_blob_reader_read(r, buf, COPY_BUF);
            if (n == 0)
                break;
            if (n < 0) {
                fprintf(stderr,
                        "ocidir cat: %s; the %llu bytes already written to stdout are incomplete or corrupt\n",
                        ocidir_last_error(), (unsigned long long)written);
                st = EXIT_FAIL;
                break;
            }
            st = cli_write_stdout("cat", buf, (size_t)n);
            written += (uint64_t)n;
        }
        free(buf);
    }
    ocidir_blob_reader_close(r);
    ocidir_close(d);
    return st;
}

static int cmd_ls(int argc, char **argv)
{
    int st;
    if (!plain_command(argc, argv, 1, 1, "DIR", &st))
        return st;
    ocidir_t *d = NULL;
    if ((st = cli_open_layout("ls", argv[optind], OCIDIR_OPEN_RDONLY, &d)) != EXIT_OK)
        return st;
    char **tags = NULL;
    int rc = ocidir_tag_list(d, &tags);
    if (rc < 0) {
        st = cli_lib_error("ls", rc);
        ocidir_close(d);
        return st;
    }
    /* JSON is built in memory and printed only whole. */
    char *text = NULL;
    size_t text_len = 0;
    FILE *mem = NULL;
    json_t j;
    if (cli.json) {
        if (!(mem = open_memstream(&text, &text_len))) {
            st = cli_error("ls", "%s", strerror(errno));
            goto out;
        }
        json_begin(&j, mem);
        json_array_begin(&j);
    }
    for (size_t i = 0; tags[i] && st == EXIT_OK; i++) {
        char digest[OCIDIR_DIGEST_MAX];
        char *media_type = NULL;
        uint64_t size = 0;
        rc = ocidir_resolve(d, tags[i], digest, &media_type, &size);
        if (rc < 0) {
            st = cli_lib_error("ls", rc);
            break;
        }
        if (cli.json) {
            json_object_begin(&j);
            json_key(&j, "tag");
            json_string(&j, tags[i]);
            json_key(&j, "digest");
            json_string(&j, digest);
            json_key(&j, "mediaType");
            json_string(&j, media_type);
            json_key(&j, "size");
            json_u64(&j, size);
            json_object_end(&j);
        } else {
            printf("%s\t%s\t%s\n", tags[i], digest, media_type);
        }
        ocidir_free(media_type);
    }
    if (mem) {
        json_array_end(&j);
        json_end(&j);
        if (fclose(mem) != 0 && st == EXIT_OK)
            st = cli_error("ls", "%s", strerror(errno));
        if (st == EXIT_OK)
            st = cli_write_stdout("ls", text, text_len);
        free(text);
    }
out:
    ocidir_strv_free(tags);
    ocidir_close(d);
    return cli_finish_stdout("ls", st);
}

static int cmd_tag(int argc, char **argv)
{
    int st;
    if (!plain_command(argc, argv, 3, 3, "DIR REF NEWTAG", &st))
        return st;
    const char *ref = argv[optind + 1], *newtag = argv[optind + 2];
    if ((st = cli_check_ref("tag", ref)) != EXIT_OK || (st = cli_check_tag("tag", newtag)) != EXIT_OK)
        return st;
    ocidir_t *d = NULL;
    if ((st = cli_open_layout("tag", argv[optind], 0, &d)) != EXIT_OK)
        return st;
    char digest[OCIDIR_DIGEST_MAX];
    int rc = ocidir_resolve(d, ref, digest, NULL, NULL);
    if (rc == 0)
        rc = ocidir_tag_set(d, newtag, digest, 0);
    if (rc < 0)
        st = cli_lib_error("tag", rc);
    ocidir_close(d);
    return st;
}

static int cmd_untag(int argc, char **argv)
{
    int st;
    if (!plain_command(argc, argv, 2, 2, "DIR TAG", &st))
        return st;
    const char *tag = argv[optind + 1];
    if ((st = cli_check_tag("untag", tag)) != EXIT_OK)
        return st;
    ocidir_t *d = NULL;
    if ((st = cli_open_layout("untag", argv[optind], 0, &d)) != EXIT_OK)
        return st;
    int rc = ocidir_tag_remove(d, tag);
    if (rc < 0)
        st = cli_lib_error("untag", rc);
    ocidir_close(d);
    return st;
}

/* ---------------------------------------------------------------------------
 * main: global options, then the command with the rest of the arguments.
 * ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (global_option(c, optarg))
            continue;
        if (c == OPT_HELP || c == 'h') {
            fputs(main_help, stdout);
            return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
        }
        if (c == OPT_VERSION) {
            printf("ocidir %d.%d.%d (libocidir %s)\n", OCIDIR_VERSION_MAJOR, OCIDIR_VERSION_MINOR,
                   OCIDIR_VERSION_PATCH, ocidir_version());
            return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
        }
        return bad_option(NULL, argv, c);
    }
    if (optind >= argc)
        return cli_usage_error(NULL, "missing command");
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* full re-initialisation of getopt for the command */
            int st = commands[i].run(sub_argc, sub_argv);
            free(cli.blobdirs);
            return st;
        }
    }
    return cli_usage_error(NULL, "unknown command '%s'", name);
}
