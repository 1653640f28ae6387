/*
 * The housekeeping commands of the ocidir tool: fsck, gc, rm, clone.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_DRY_RUN = OPT_CMD, OPT_GRACE, OPT_CACHE, OPT_NO_HARDLINK, OPT_GC };

/* One finding of a report as a JSON object. */
static void finding_json(json_t *j, const ocidir_report_t *rep, size_t i, const char *kind_name)
{
    ocidir_find_kind_t kind;
    const char *subject, *message;
    uint64_t size;
    ocidir_report_get(rep, i, &kind, &subject, &size, &message);
    json_object_begin(j);
    json_key(j, "kind");
    json_string(j, kind_name ? kind_name : ocidir_find_kind_name((int)kind));
    json_key(j, "damage");
    json_bool(j, ocidir_find_kind_is_damage((int)kind) != 0);
    json_key(j, "subject");
    json_string(j, subject);
    json_key(j, "size");
    json_u64(j, size);
    json_key(j, "message");
    json_string(j, message);
    json_object_end(j);
}

/* ---------------------------------------------------------------------------
 * fsck
 * ------------------------------------------------------------------------ */

int cmd_fsck(int argc, char **argv)
{
    static const struct option opts[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};
    int c, st;
    if ((c = cli_getopt(argc, argv, opts, &st)) == CLI_OPT_EXIT)
        return st;
    if ((st = cli_operands("fsck", argc, argv, 1, 1, "DIR")) != EXIT_OK)
        return st;
    const char *dir = argv[optind];
    ocidir_t *d = NULL;
    if ((st = cli_open_layout("fsck", dir, OCIDIR_OPEN_RDONLY, &d)) != EXIT_OK)
        return st;
    progress_t bar;
    cli_progress_init(&bar, "fsck");
    ocidir_report_t *rep = NULL;
    ocidir_fsck_options_t fo = OCIDIR_FSCK_OPTIONS_INIT;
    fo.progress = progress_callback;
    fo.user = &bar;
    int rc = ocidir_fsck(d, &fo, &rep);
    progress_end(&bar);
    if (rc < 0) {
        st = cli_lib_error("fsck", rc);
        ocidir_close(d);
        return st;
    }
    size_t n = ocidir_report_count(rep), damage = ocidir_report_damage(rep);
    uint64_t blobs = 0, bytes = 0;
    ocidir_report_totals(rep, &blobs, &bytes);
    if (cli.json) {
        json_t j;
        json_begin(&j, stdout);
        json_object_begin(&j);
        json_key(&j, "findings");
        json_array_begin(&j);
        for (size_t i = 0; i < n; i++)
            finding_json(&j, rep, i, NULL);
        json_array_end(&j);
        json_key(&j, "damage");
        json_u64(&j, damage);
        json_key(&j, "blobs");
        json_u64(&j, blobs);
        json_key(&j, "bytes");
        json_u64(&j, bytes);
        json_object_end(&j);
        json_end(&j);
    } else {
        for (size_t i = 0; i < n; i++) {
            ocidir_find_kind_t kind;
            const char *subject, *message;
            ocidir_report_get(rep, i, &kind, &subject, NULL, &message);
            printf("%s\t%s\t%s\n", ocidir_find_kind_name((int)kind), subject, message);
        }
        if (!cli.quiet)
            printf("checked %" PRIu64 " blobs (%" PRIu64 " bytes): %zu damaged, %zu notices\n", blobs, bytes,
                   damage, n - damage);
    }
    st = cli_finish_stdout("fsck", EXIT_OK);
    if (st == EXIT_OK && damage > 0)
        st = cli_error("fsck", "%s is damaged: %zu finding%s of damage", dir, damage, damage == 1 ? "" : "s");
    ocidir_report_free(rep);
    ocidir_close(d);
    return st;
}

/* ---------------------------------------------------------------------------
 * gc
 * ------------------------------------------------------------------------ */

/* What a gc finding means, in the words of the output. */
static const char *gc_kind(ocidir_find_kind_t kind, bool dry_run)
{
    switch (kind) {
    case OCIDIR_FIND_REMOVED: return "removed";
    case OCIDIR_FIND_UNREFERENCED:
    case OCIDIR_FIND_TEMP: return dry_run ? "would-remove" : ocidir_find_kind_name((int)kind);
    case OCIDIR_FIND_KEPT_RECENT: return "kept-recent";
    default: return ocidir_find_kind_name((int)kind);
    }
}

static bool gc_removes(const char *k)
{
    return strcmp(k, "removed") == 0 || strcmp(k, "would-remove") == 0;
}

static void gc_print(const ocidir_report_t *rep, bool dry_run)
{
    size_t n = ocidir_report_count(rep);
    uint64_t removed = 0, removed_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        ocidir_find_kind_t kind;
        uint64_t size;
        ocidir_report_get(rep, i, &kind, NULL, &size, NULL);
        if (gc_removes(gc_kind(kind, dry_run))) {
            removed++;
            removed_bytes += size;
        }
    }
    if (!cli.json) {
        for (size_t i = 0; i < n; i++) {
            ocidir_find_kind_t kind;
            const char *subject;
            uint64_t size;
            ocidir_report_get(rep, i, &kind, &subject, &size, NULL);
            printf("%s\t%s\t%" PRIu64 "\n", gc_kind(kind, dry_run), subject, size);
        }
        if (!cli.quiet)
            printf("%s %" PRIu64 " file%s (%" PRIu64 " bytes)\n", dry_run ? "would remove" : "removed", removed,
                   removed == 1 ? "" : "s", removed_bytes);
        return;
    }
    /* Findings grouped by what gc did; "other" holds anything else. */
    static const char *const groups[][2] = {
        {"removed", "removed"}, {"wouldRemove", "would-remove"}, {"keptRecent", "kept-recent"}, {"other", NULL}};
    json_t j;
    json_begin(&j, stdout);
    json_object_begin(&j);
    json_key(&j, "dryRun");
    json_bool(&j, dry_run);
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        json_key(&j, groups[g][0]);
        json_array_begin(&j);
        for (size_t i = 0; i < n; i++) {
            ocidir_find_kind_t kind;
            ocidir_report_get(rep, i, &kind, NULL, NULL, NULL);
            const char *k = gc_kind(kind, dry_run);
            bool in_group = groups[g][1] ? strcmp(k, groups[g][1]) == 0
                                         : !gc_removes(k) && strcmp(k, "kept-recent") != 0;
            if (in_group)
                finding_json(&j, rep, i, groups[g][1]);
        }
        json_array_end(&j);
    }
    json_key(&j, dry_run ? "bytesWouldRemove" : "bytesRemoved");
    json_u64(&j, removed_bytes);
    json_object_end(&j);
    json_end(&j);
}

/* --grace SECONDS */
static int parse_grace(const char *cmd, const char *arg, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end || v < 0)
        return cli_usage_error(cmd, "--grace %s: expected a number of seconds", arg);
    *out = v;
    return EXIT_OK;
}

/* Parse gc's options and operands: true to go on, false with *status to end. */
struct gc_opts {
    bool dry_run;
    bool has_grace;
    long long grace;
    const char *cache;
};

static bool gc_options(int argc, char **argv, struct gc_opts *o, int *status)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"grace", required_argument, NULL, OPT_GRACE},
        {"cache", required_argument, NULL, OPT_CACHE},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_getopt(argc, argv, opts, status)) != -1) {
        if (c == CLI_OPT_EXIT)
            return false;
        if (c == OPT_DRY_RUN) {
            o->dry_run = true;
        } else if (c == OPT_GRACE) {
            if ((*status = parse_grace("gc", optarg, &o->grace)) != EXIT_OK)
                return false;
            o->has_grace = true;
        } else {
            o->cache = optarg;
        }
    }
    *status = cli_operands("gc", argc, argv, 1, o->cache ? -1 : 1, o->cache ? "DIR..." : "DIR");
    return *status == EXIT_OK;
}

int cmd_gc(int argc, char **argv)
{
    struct gc_opts o = {0};
    int st;
    if (!gc_options(argc, argv, &o, &st))
        return st;
    unsigned flags = o.dry_run ? OCIDIR_GC_DRY_RUN : 0;
    size_t n = (size_t)(argc - optind);
    ocidir_t **layouts = calloc(n, sizeof *layouts);
    int cache_fd = -1;
    ocidir_report_t *rep = NULL;
    if (!layouts)
        return cli_error("gc", "%s", strerror(errno));
    if (o.cache && (cache_fd = open(o.cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        st = cli_error("gc", "--cache %s: %s", o.cache, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((st = cli_open_layout("gc", argv[optind + i], o.dry_run ? OCIDIR_OPEN_RDONLY : 0, &layouts[i])) != EXIT_OK)
            goto out;
        /* The graph is read through the cache too. */
        if (cache_fd >= 0) {
            int rc = ocidir_add_blobdir_fd(layouts[i], cache_fd, 0);
            if (rc < 0) {
                st = cli_lib_error("gc", rc);
                goto out;
            }
        }
    }
    progress_t bar;
    cli_progress_init(&bar, "gc");
    ocidir_gc_options_t go = OCIDIR_GC_OPTIONS_INIT;
    go.flags = flags;
    if (o.has_grace)
        go.grace_seconds = o.grace;
    go.progress = progress_callback;
    go.user = &bar;
    int rc = cache_fd >= 0 ? ocidir_cache_gc(cache_fd, layouts, n, &go, &rep) : ocidir_gc(layouts[0], &go, &rep);
    progress_end(&bar);
    if (rc < 0) {
        st = cli_lib_error("gc", rc);
        goto out;
    }
    gc_print(rep, o.dry_run);
    st = cli_finish_stdout("gc", EXIT_OK);
out:
    ocidir_report_free(rep);
    for (size_t i = 0; i < n; i++)
        ocidir_close(layouts[i]);
    free(layouts);
    if (cache_fd >= 0)
        close(cache_fd);
    return st;
}

/* ---------------------------------------------------------------------------
 * rm
 * ------------------------------------------------------------------------ */

int cmd_rm(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"gc", no_argument, NULL, OPT_GC},
        {"grace", required_argument, NULL, OPT_GRACE},
        {NULL, 0, NULL, 0},
    };
    bool gc = false;
    bool has_grace = false;
    long long grace = 0;
    int c, st;
    while ((c = cli_getopt(argc, argv, opts, &st)) != -1) {
        if (c == CLI_OPT_EXIT)
            return st;
        if (c == OPT_GC) {
            gc = true;
        } else {
            if ((st = parse_grace("rm", optarg, &grace)) != EXIT_OK)
                return st;
            has_grace = true;
        }
    }
    if ((st = cli_operands("rm", argc, argv, 2, 2, "DIR TAG")) != EXIT_OK)
        return st;
    const char *tag = argv[optind + 1];
    if ((st = cli_check_tag("rm", tag)) != EXIT_OK)
        return st;
    ocidir_t *d = NULL;
    if ((st = cli_open_layout("rm", argv[optind], 0, &d)) != EXIT_OK)
        return st;
    ocidir_report_t *rep = NULL;
    ocidir_gc_options_t go = OCIDIR_GC_OPTIONS_INIT;
    if (has_grace)
        go.grace_seconds = grace;
    int rc = gc ? ocidir_tag_remove_gc(d, tag, &go, &rep) : ocidir_tag_remove(d, tag);
    if (rc < 0) {
        st = cli_lib_error("rm", rc);
    } else if (gc) {
        /* The tag is gone whatever the gc did: a gc that could not run is a
         * notice (OCIDIR_FIND_SKIPPED), said on stderr too, and the status
         * stays 0. */
        gc_print(rep, false);
        st = cli_finish_stdout("rm", EXIT_OK);
        for (size_t i = 0; i < ocidir_report_count(rep); i++) {
            ocidir_find_kind_t kind;
            const char *message;
            ocidir_report_get(rep, i, &kind, NULL, NULL, &message);
            if (kind == OCIDIR_FIND_SKIPPED && !cli.quiet)
                fprintf(stderr, "ocidir rm: notice: %s\n", message);
        }
    }
    ocidir_report_free(rep);
    ocidir_close(d);
    return st;
}

/* ---------------------------------------------------------------------------
 * clone
 * ------------------------------------------------------------------------ */

int cmd_clone(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"no-hardlink", no_argument, NULL, OPT_NO_HARDLINK},
        {NULL, 0, NULL, 0},
    };
    unsigned flags = 0;
    int c, st;
    while ((c = cli_getopt(argc, argv, opts, &st)) != -1) {
        if (c == CLI_OPT_EXIT)
            return st;
        flags |= OCIDIR_CLONE_NO_HARDLINK; /* the only option */
    }
    if ((st = cli_operands("clone", argc, argv, 2, 2, "SRC DST")) != EXIT_OK)
        return st;
    const char *dst = argv[optind + 1];
    ocidir_t *src = NULL;
    if ((st = cli_open_layout("clone", argv[optind], OCIDIR_OPEN_RDONLY, &src)) != EXIT_OK)
        return st;
    progress_t bar;
    cli_progress_init(&bar, "clone");
    ocidir_report_t *rep = NULL;
    ocidir_clone_options_t co = OCIDIR_CLONE_OPTIONS_INIT;
    co.flags = flags;
    co.progress = progress_callback;
    co.user = &bar;
    int rc = ocidir_clone(src, AT_FDCWD, dst, &co, NULL, &rep);
    progress_end(&bar);
    if (rc < 0) {
        st = cli_lib_error("clone", rc);
        ocidir_close(src);
        return st;
    }
    transfer_counts_t tc;
    transfer_counts(rep, &tc);
    if (cli.json) {
        transfer_counts_json(&tc);
    } else if (!cli.quiet) {
        printf("cloned %" PRIu64 " blobs (%" PRIu64 " bytes) into %s: %" PRIu64 " reflinked, %" PRIu64
               " hard-linked, %" PRIu64 " copied\n",
               tc.blobs, tc.bytes, dst, tc.reflinked, tc.linked, tc.copied);
    }
    st = cli_finish_stdout("clone", EXIT_OK);
    ocidir_report_free(rep);
    ocidir_close(src);
    return st;
}
