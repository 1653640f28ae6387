/*
 * ocidir unpack: an image's layers into a root filesystem (ocidir_unpack).
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char unpack_help[] =
    "Usage: ocidir unpack [--platform OS/ARCH[/VARIANT]] [--uid-map M]... [--gid-map M]...\n"
    "                     [--rootless] DIR:REF DEST\n"
    "\n"
    "Apply every layer of the image REF names, in order, into DEST (absent: it\n"
    "is created; or an empty directory, used in place).  Each layer's blob digest\n"
    "and diff_id are verified; entries never reach outside DEST.  On failure DEST\n"
    "is absent or empty again and the one-line message names the layer, the entry\n"
    "and the reason.  With --json the report is printed:\n"
    "{\"layers\", \"bytes\", \"findings\": [{\"kind\", \"subject\", \"message\"}]}.\n"
    "A DEST left by a killed unpack (it holds .ocidir-unpack-incomplete, owned by\n"
    "the caller) is cleared and reused; the report says so (incomplete-cleared).\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n"
    "\n"
    "  --platform OS/ARCH[/VARIANT]   the platform to choose in an index\n"
    "  --uid-map CONTAINER:HOST:SIZE  shift uids (repeatable; as umoci's --uid-map)\n"
    "  --gid-map CONTAINER:HOST:SIZE  shift gids (repeatable)\n"
    "  --rootless                     files owned by the caller, each owner kept in\n"
    "                                 the user.rootlesscontainers xattr; devices skipped\n";

enum { OPT_PLATFORM_U = OPT_CMD, OPT_UID_MAP, OPT_GID_MAP, OPT_ROOTLESS };

static int parse_map(const char *s, ocidir_idmap_t *m)
{
    unsigned long long c, h, n;
    char tail;
    if (sscanf(s, "%llu:%llu:%llu%c", &c, &h, &n, &tail) != 3 || c > UINT32_MAX || h > UINT32_MAX ||
        n == 0 || n > UINT32_MAX || strchr(s, '-'))
        return -1;
    m->container_id = (uint32_t)c;
    m->host_id = (uint32_t)h;
    m->size = (uint32_t)n;
    return 0;
}

static int add_map(ocidir_idmap_t **v, size_t *n, const char *arg, const char *opt)
{
    ocidir_idmap_t m;
    if (parse_map(arg, &m) != 0)
        return cli_usage_error("unpack", "%s %s: expected CONTAINER:HOST:SIZE", opt, arg);
    ocidir_idmap_t *nv = realloc(*v, (*n + 1) * sizeof **v);
    if (!nv)
        return cli_error("unpack", "%s", strerror(errno));
    nv[(*n)++] = m;
    *v = nv;
    return EXIT_OK;
}

static int unpack_progress(uint64_t done, uint64_t total, void *user)
{
    progress_update(user, done, total);
    return 0;
}

static const char *kind_name(int k) { return ocidir_find_kind_name(k); }

/* The failure as ONE line: "ocidir unpack: <message>", where the library's
 * message names the layer, the entry and the reason; an entry name's control
 * bytes (a newline in a tar name) are written as \n, \t or \xHH so the line
 * stays one line. */
static int unpack_error(int rc)
{
    const char *msg = ocidir_last_error();
    if (!*msg)
        msg = ocidir_strerror(rc);
    fputs("ocidir unpack: ", stderr);
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p == '\n')
            fputs("\\n", stderr);
        else if (*p == '\t')
            fputs("\\t", stderr);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(stderr, "\\x%02x", *p);
        else
            fputc(*p, stderr);
    }
    fputc('\n', stderr);
    return EXIT_FAIL;
}

static void print_report(const ocidir_report_t *rep)
{
    uint64_t layers = 0, bytes = 0;
    ocidir_report_totals(rep, &layers, &bytes);
    size_t n = ocidir_report_count(rep);
    if (cli.json) {
        json_t j;
        json_begin(&j, stdout);
        json_object_begin(&j);
        json_key(&j, "layers");
        json_u64(&j, layers);
        json_key(&j, "bytes");
        json_u64(&j, bytes);
        json_key(&j, "findings");
        json_array_begin(&j);
        for (size_t i = 0; i < n; i++) {
            ocidir_find_kind_t k;
            const char *subject, *message;
            if (ocidir_report_get(rep, i, &k, &subject, NULL, &message) != 0)
                continue;
            json_object_begin(&j);
            json_key(&j, "kind");
            json_string(&j, kind_name((int)k));
            json_key(&j, "subject");
            json_string(&j, subject);
            json_key(&j, "message");
            json_string(&j, message);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        json_end(&j);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ocidir_find_kind_t k;
        const char *subject, *message;
        if (ocidir_report_get(rep, i, &k, &subject, NULL, &message) == 0)
            fprintf(stderr, "ocidir unpack: %s: %s: %s\n", kind_name((int)k), subject, message);
    }
}

int cmd_unpack(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"platform", required_argument, NULL, OPT_PLATFORM_U},
        {"uid-map", required_argument, NULL, OPT_UID_MAP},
        {"gid-map", required_argument, NULL, OPT_GID_MAP},
        {"rootless", no_argument, NULL, OPT_ROOTLESS},
        {NULL, 0, NULL, 0},
    };
    const char *platform = NULL;
    ocidir_idmap_t *uids = NULL, *gids = NULL;
    size_t nu = 0, ng = 0;
    bool rootless = false;
    int c, st = EXIT_OK;
    while ((c = cli_getopt(argc, argv, opts, &st)) != -1) {
        if (c == CLI_OPT_EXIT)
            goto done;
        if (c == OPT_PLATFORM_U)
            platform = optarg;
        else if (c == OPT_UID_MAP)
            st = add_map(&uids, &nu, optarg, "--uid-map");
        else if (c == OPT_GID_MAP)
            st = add_map(&gids, &ng, optarg, "--gid-map");
        else
            rootless = true;
        if (st != EXIT_OK)
            goto done;
    }
    if ((st = cli_operands("unpack", argc, argv, 2, 2, "DIR:REF DEST")) != EXIT_OK)
        goto done;
    if (rootless && (nu || ng)) {
        st = cli_usage_error("unpack", "--rootless cannot be combined with --uid-map/--gid-map");
        goto done;
    }
    char *dir = NULL;
    const char *ref;
    if ((st = cli_dir_ref("unpack", argv[optind], &dir, &ref)) != EXIT_OK)
        goto done;
    ocidir_t *d = NULL;
    ocidir_image_t *img = NULL;
    ocidir_report_t *rep = NULL;
    if ((st = cli_open_layout("unpack", dir, OCIDIR_OPEN_RDONLY, &d)) == EXIT_OK) {
        int rc = ocidir_image_open(d, ref, platform, &img);
        if (rc == 0) {
            ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
            progress_t bar;
            cli_progress_init(&bar, "unpack");
            o.progress = unpack_progress;
            o.user = &bar;
            if (rootless)
                o.owner_mode = OCIDIR_UNPACK_OWNER_ROOTLESS;
            else if (nu || ng)
                o.owner_mode = OCIDIR_UNPACK_OWNER_MAP;
            o.uid_map = uids;
            o.n_uid_map = nu;
            o.gid_map = gids;
            o.n_gid_map = ng;
            rc = ocidir_unpack(img, AT_FDCWD, argv[optind + 1], &o, &rep);
            progress_end(&bar);
        }
        if (rc < 0)
            st = unpack_error(rc);
        else {
            print_report(rep);
            st = cli_finish_stdout("unpack", EXIT_OK);
        }
    }
    ocidir_report_free(rep);
    ocidir_image_close(img);
    ocidir_close(d);
    free(dir);
done:
    free(uids);
    free(gids);
    return st;
}
