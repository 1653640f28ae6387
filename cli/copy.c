/*
 * ocidir copy: one image and every blob it references, from one layout into
 * another (ocidir_copy).
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char copy_help[] =
    "Usage: ocidir copy [--platform OS/ARCH[/VARIANT] | --all-platforms] [--no-hardlink]\n"
    "                   [--blobdir DIR] SRC:REF DST:TAG\n"
    "\n"
    "Copy one image from layout SRC into layout DST (created if absent) and tag\n"
    "it TAG there: the manifest for the platform (default: this machine's), or\n"
    "with --all-platforms what REF names whole, and every blob it references.\n"
    "Each blob DST lacks is reflinked, else hard-linked, else copied, and\n"
    "verified as it is taken; blobs DST already has are verified.  New blobs go\n"
    "into the first --blobdir when given (a shared cache), else DST's blobs/.\n"
    "The tag is written last: a failed or interrupted copy leaves no tag.\n"
    "With --json: {\"copied\", \"linked\", \"reflinked\", \"blobs\", \"bytes\"}.\n"
    "\n"
    "  --platform OS/ARCH[/VARIANT]   the platform to choose in an index\n"
    "  --all-platforms                copy the whole index REF names\n"
    "  --no-hardlink                  never hard-link: reflink or copy only\n";

enum { OPT_PLATFORM_CP = OPT_CMD, OPT_ALL_PLATFORMS, OPT_NO_HARDLINK_CP };

static int copy_progress(uint64_t done, uint64_t total, void *user)
{
    progress_update(user, done, total);
    return 0;
}

int cmd_copy(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"platform", required_argument, NULL, OPT_PLATFORM_CP},
        {"all-platforms", no_argument, NULL, OPT_ALL_PLATFORMS},
        {"no-hardlink", no_argument, NULL, OPT_NO_HARDLINK_CP},
        {NULL, 0, NULL, 0},
    };
    const char *platform = NULL;
    unsigned flags = 0;
    int c, st = EXIT_OK;
    while ((c = cli_getopt(argc, argv, opts, &st)) != -1) {
        if (c == CLI_OPT_EXIT)
            return st;
        if (c == OPT_PLATFORM_CP)
            platform = optarg;
        else if (c == OPT_ALL_PLATFORMS)
            flags |= OCIDIR_COPY_ALL_PLATFORMS;
        else
            flags |= OCIDIR_COPY_NO_HARDLINK;
    }
    if ((st = cli_operands("copy", argc, argv, 2, 2, "SRC:REF DST:TAG")) != EXIT_OK)
        return st;
    if (platform && (flags & OCIDIR_COPY_ALL_PLATFORMS))
        return cli_usage_error("copy", "--platform and --all-platforms exclude each other");
    char *sdir = NULL, *ddir = NULL;
    const char *ref, *tag;
    ocidir_t *src = NULL, *dst = NULL;
    ocidir_report_t *rep = NULL;
    if ((st = cli_dir_ref("copy", argv[optind], &sdir, &ref)) != EXIT_OK)
        goto out;
    if ((st = cli_dir_ref("copy", argv[optind + 1], &ddir, &tag)) != EXIT_OK)
        goto out;
    if ((st = cli_check_tag("copy", tag)) != EXIT_OK)
        goto out;
    if ((st = cli_open_layout("copy", sdir, OCIDIR_OPEN_RDONLY, &src)) != EXIT_OK)
        goto out;
    if ((st = cli_open_layout("copy", ddir, OCIDIR_OPEN_CREATE, &dst)) != EXIT_OK)
        goto out;
    ocidir_copy_options_t o = OCIDIR_COPY_OPTIONS_INIT;
    progress_t bar;
    cli_progress_init(&bar, "copy");
    o.flags = flags;
    o.progress = copy_progress;
    o.user = &bar;
    int rc = ocidir_copy(src, ref, platform, dst, tag, &o, &rep);
    progress_end(&bar);
    if (rc < 0) {
        st = cli_lib_error("copy", rc);
        goto out;
    }
    transfer_counts_t tc;
    transfer_counts(rep, &tc);
    if (cli.json) {
        transfer_counts_json(&tc);
    } else if (!cli.quiet) {
        printf("copied %s to %s: %" PRIu64 " blobs (%" PRIu64 " bytes), %" PRIu64 " reflinked, %" PRIu64
               " hard-linked, %" PRIu64 " copied, the rest present\n",
               argv[optind], argv[optind + 1], tc.blobs, tc.bytes, tc.reflinked, tc.linked, tc.copied);
    }
    st = cli_finish_stdout("copy", EXIT_OK);
out:
    ocidir_report_free(rep);
    ocidir_close(src);
    ocidir_close(dst);
    free(sdir);
    free(ddir);
    return st;
}
