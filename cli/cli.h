/*
 * Shared pieces of the ocidir tool: global options, option parsing, error
 * reporting and layout opening.  Everything goes through the public API in
 * ocidir.h only.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef OCIDIR_CLI_H
#define OCIDIR_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ocidir.h>

#include "output.h"

/* Exit statuses. */
#define EXIT_OK 0
#define EXIT_FAIL 1  /* the operation failed */
#define EXIT_USAGE 2 /* bad option or argument */

/* The global options, wherever they appear on the command line. */
struct cli_globals {
    const char **blobdirs; /* --blobdir, in order; the first is the write target */
    size_t n_blobdirs;
    bool follow_blob_symlink;
    bool json;
    bool quiet;
};
extern struct cli_globals cli;

/* getopt_long codes: the global options, then each command's own. */
enum {
    OPT_BLOBDIR = 0x100,
    OPT_FOLLOW_BLOB_SYMLINK,
    OPT_JSON,
    OPT_QUIET,
    OPT_HELP,
    OPT_VERSION,
    OPT_CMD = 0x200 /* first code free for a command's options */
};

#define CLI_GLOBAL_OPTIONS                                                   \
    {"blobdir", required_argument, NULL, OPT_BLOBDIR},                       \
    {"follow-blob-symlink", no_argument, NULL, OPT_FOLLOW_BLOB_SYMLINK},     \
    {"json", no_argument, NULL, OPT_JSON},                                   \
    {"quiet", no_argument, NULL, OPT_QUIET},                                 \
    {"help", no_argument, NULL, OPT_HELP}

/* cli_getopt() returns this when the command must end with *status. */
#define CLI_OPT_EXIT (-2)

/*
 * The next option of a command (argv[0] is the command's name).  Global
 * options are taken here; --help prints the command's help on stdout; an
 * unknown option or a missing argument is a usage error.
 * @return an option code of the command, -1 after the last option (the
 *         operands are argv[optind..]), or CLI_OPT_EXIT with *status set.
 */
int cli_getopt(int argc, char **argv, const struct option *longopts, int *status);

/* Print "ocidir CMD: <reason> (see 'ocidir CMD --help')" on stderr. */
__attribute__((format(printf, 2, 3))) int cli_usage_error(const char *cmd, const char *fmt, ...);

/* A library call failed with `rc`: print "ocidir CMD: <ocidir_last_error()>". */
int cli_lib_error(const char *cmd, int rc);

/* Anything else failed: print "ocidir CMD: <message>". */
__attribute__((format(printf, 2, 3))) int cli_error(const char *cmd, const char *fmt, ...);

/* Check the number of operands; a usage error names the first missing or extra one. */
int cli_operands(const char *cmd, int argc, char **argv, int min, int max, const char *names);

/*
 * Open a layout with the global options applied (--follow-blob-symlink, each
 * --blobdir: the first one as write target unless `flags` has
 * OCIDIR_OPEN_RDONLY).  On failure the reason is printed.
 * @return EXIT_OK, or EXIT_FAIL.
 */
int cli_open_layout(const char *cmd, const char *dir, unsigned flags, ocidir_t **out);

/* Add every --blobdir to `d` for reading only. */
int cli_add_read_blobdirs(const char *cmd, ocidir_t *d);

/*
 * Split DIR:REF (ref.h) into a newly allocated directory and a ref pointing
 * into `arg`, and check that the ref is a tag or a digest.
 * @return EXIT_OK, or EXIT_USAGE (reason printed).
 */
int cli_dir_ref(const char *cmd, const char *arg, char **dir_out, const char **ref_out);

/* A ref argument: a tag, or a digest (anything starting with "sha256:" or
 * "sha512:" is checked as one); anything else is EXIT_USAGE. */
int cli_check_ref(const char *cmd, const char *ref);

/* A digest argument: malformed is a usage error (EXIT_USAGE), an algorithm
 * the library does not support is EXIT_FAIL. */
int cli_check_digest(const char *cmd, const char *digest);

/* A tag argument: not in the ref.name grammar is EXIT_USAGE. */
int cli_check_tag(const char *cmd, const char *tag);

/* A progress bar for this run: enabled when stderr is a terminal and
 * --quiet was not given. */
void cli_progress_init(progress_t *p, const char *label);

/* Write all of buf to stdout; EXIT_OK or EXIT_FAIL (reason printed). */
int cli_write_stdout(const char *cmd, const void *buf, size_t len);

/* Flush stdout: `status` if that worked, else EXIT_FAIL (reason printed;
 * e.g. a full disk behind a redirection). */
int cli_finish_stdout(const char *cmd, int status);

/* Commands defined in image.c and housekeeping.c. */
int cmd_inspect(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_clone(int argc, char **argv);

#endif /* OCIDIR_CLI_H */
