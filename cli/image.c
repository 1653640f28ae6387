/*
 * The image commands of the ocidir tool: inspect, import, export.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STREAM_BUF (1024 * 1024) /* tar files and layers stream through this */

enum { OPT_PLATFORM = OPT_CMD, OPT_LAYER, OPT_COMPRESSION, OPT_LEVEL, OPT_ENTRYPOINT, OPT_CMD_ARG,
       OPT_ENV, OPT_WORKDIR, OPT_USER, OPT_LABEL, OPT_CREATED };

/* A non-negative decimal number, all of `s`. */
static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* ---------------------------------------------------------------------------
 * inspect
 * ------------------------------------------------------------------------ */

static void config_strv(json_t *j, const ocidir_image_t *img, const char *key, ocidir_config_field_t f)
{
    char **v = NULL;
    if (ocidir_image_config_strv(img, f, &v) == 0) {
        json_key(j, key);
        json_strv(j, v);
        ocidir_strv_free(v);
    }
}

static void config_string(json_t *j, const ocidir_image_t *img, const char *key, ocidir_config_field_t f)
{
    char *s = NULL;
    if (ocidir_image_config_string(img, f, &s) == 0) {
        json_key(j, key);
        json_string(j, s);
        ocidir_free(s);
    }
}

/* Write the image as JSON; a library failure midway is returned (nothing
 * is printed then: the caller prints the JSON only once it is complete). */
static int inspect_json(ocidir_t *d, const ocidir_image_t *img, const char *ref, json_t *j)
{
    char ref_digest[OCIDIR_DIGEST_MAX], digest[OCIDIR_DIGEST_MAX], config_digest[OCIDIR_DIGEST_MAX];
    char *ref_type = NULL, *manifest_type = NULL, *config_type = NULL;
    uint64_t ref_size = 0, manifest_size = 0, config_size = 0;
    size_t len = 0;
    char **diff_ids = NULL, **kv = NULL;
    int rc;
    /* What the ref named, as the open resolved it (index.json is not read again). */
    if ((rc = ocidir_image_ref_descriptor(img, ref_digest, &ref_type, &ref_size)) < 0 ||
        (rc = ocidir_image_manifest(img, digest, NULL, &len)) < 0 ||
        (rc = ocidir_resolve(d, digest, NULL, &manifest_type, &manifest_size)) < 0 ||
        (rc = ocidir_image_config_descriptor(img, &config_type, config_digest, &config_size)) < 0)
        goto out;
    bool parsed = ocidir_image_config_strv(img, OCIDIR_CONFIG_DIFF_IDS, &diff_ids) == 0;

    json_object_begin(j);
    json_key(j, "ref");
    json_string(j, ref);
    if (strcmp(ref_digest, digest) != 0) { /* the ref names an index */
        json_key(j, "index");
        json_object_begin(j);
        json_key(j, "digest");
        json_string(j, ref_digest);
        json_key(j, "mediaType");
        json_string(j, ref_type);
        json_key(j, "size");
        json_u64(j, ref_size);
        json_object_end(j);
    }
    json_key(j, "digest");
    json_string(j, digest);
    json_key(j, "mediaType");
    json_string(j, manifest_type);
    json_key(j, "size");
    json_u64(j, manifest_size);
    if (ocidir_image_artifact_type(img)) {
        json_key(j, "artifactType");
        json_string(j, ocidir_image_artifact_type(img));
    }
    if (parsed) {
        json_key(j, "platform");
        json_object_begin(j);
        config_string(j, img, "os", OCIDIR_CONFIG_OS);
        config_string(j, img, "architecture", OCIDIR_CONFIG_ARCHITECTURE);
        config_string(j, img, "variant", OCIDIR_CONFIG_VARIANT);
        json_object_end(j);
    }

    json_key(j, "config");
    json_object_begin(j);
    json_key(j, "mediaType");
    json_string(j, config_type);
    json_key(j, "digest");
    json_string(j, config_digest);
    json_key(j, "size");
    json_u64(j, config_size);
    json_key(j, "empty");
    json_bool(j, ocidir_image_config_is_empty(img) == 1);
    if (parsed) {
        config_string(j, img, "created", OCIDIR_CONFIG_CREATED);
        config_strv(j, img, "Entrypoint", OCIDIR_CONFIG_ENTRYPOINT);
        config_strv(j, img, "Cmd", OCIDIR_CONFIG_CMD);
        config_strv(j, img, "Env", OCIDIR_CONFIG_ENV);
        config_string(j, img, "User", OCIDIR_CONFIG_USER);
        config_string(j, img, "WorkingDir", OCIDIR_CONFIG_WORKING_DIR);
        config_string(j, img, "StopSignal", OCIDIR_CONFIG_STOP_SIGNAL);
        if ((rc = ocidir_image_config_labels(img, &kv)) < 0)
            goto out;
        json_key(j, "Labels");
        json_kv_object(j, kv);
        ocidir_strv_free(kv);
        kv = NULL;
    }
    json_object_end(j);

    json_key(j, "layers");
    json_array_begin(j);
    size_t n = ocidir_image_layer_count(img), n_diff = 0;
    while (diff_ids && diff_ids[n_diff])
        n_diff++;
    for (size_t i = 0; i < n; i++) {
        char *layer_type = NULL, layer_digest[OCIDIR_DIGEST_MAX];
        uint64_t layer_size = 0;
        if ((rc = ocidir_image_layer(img, i, &layer_type, layer_digest, &layer_size)) < 0 ||
            (rc = ocidir_image_annotations(img, i, &kv)) < 0) {
            ocidir_free(layer_type);
            goto out;
        }
        json_object_begin(j);
        json_key(j, "mediaType");
        json_string(j, layer_type);
        json_key(j, "digest");
        json_string(j, layer_digest);
        json_key(j, "size");
        json_u64(j, layer_size);
        json_key(j, "diffID");
        json_string(j, i < n_diff ? diff_ids[i] : NULL);
        json_key(j, "annotations");
        json_kv_object(j, kv);
        json_object_end(j);
        ocidir_strv_free(kv);
        kv = NULL;
        ocidir_free(layer_type);
    }
    json_array_end(j);

    if ((rc = ocidir_image_annotations(img, OCIDIR_MANIFEST, &kv)) < 0)
        goto out;
    json_key(j, "annotations");
    json_kv_object(j, kv);
    json_object_end(j);
    json_end(j);
out:
    ocidir_strv_free(kv);
    ocidir_strv_free(diff_ids);
    ocidir_free(ref_type);
    ocidir_free(manifest_type);
    ocidir_free(config_type);
    return rc;
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {NULL, 0, NULL, 0},
    };
    const char *platform = NULL;
    int c, st;
    while ((c = cli_getopt(argc, argv, opts, &st)) != -1) {
        if (c == CLI_OPT_EXIT)
            return st;
        platform = optarg; /* OPT_PLATFORM, the only one */
    }
    if ((st = cli_operands("inspect", argc, argv, 1, 1, "DIR:REF")) != EXIT_OK)
        return st;
    char *dir = NULL;
    const char *ref;
    if ((st = cli_dir_ref("inspect", argv[optind], &dir, &ref)) != EXIT_OK)
        return st;
    ocidir_t *d = NULL;
    ocidir_image_t *img = NULL;
    if ((st = cli_open_layout("inspect", dir, OCIDIR_OPEN_RDONLY, &d)) == EXIT_OK) {
        int rc = ocidir_image_open(d, ref, platform, &img);
        /* Built in memory, printed only whole. */
        char *text = NULL;
        size_t text_len = 0;
        FILE *mem = rc < 0 ? NULL : open_memstream(&text, &text_len);
        if (rc == 0 && !mem) {
            st = cli_error("inspect", "%s", strerror(errno));
        } else if (rc == 0) {
            json_t j;
            json_begin(&j, mem);
            rc = inspect_json(d, img, ref, &j);
            if (fclose(mem) != 0 && rc == 0)
                st = cli_error("inspect", "%s", strerror(errno));
        }
        if (rc < 0)
            st = cli_lib_error("inspect", rc);
        else if (st == EXIT_OK)
            st = cli_write_stdout("inspect", text, text_len);
        free(text);
    }
    ocidir_image_close(img);
    ocidir_close(d);
    free(dir);
    return st;
}

/* ---------------------------------------------------------------------------
 * import
 * ------------------------------------------------------------------------ */

struct import_opts {
    ocidir_compression_t compression;
    int level;
    const char *platform, *workdir, *user, *created;
    /* NULL-terminated; each has room for argc entries. */
    const char **entrypoint, **cmd, **env, **labels;
    size_t n_entrypoint, n_cmd, n_env, n_labels;
    bool has_entrypoint, has_cmd;
};

/* Stream one tar file into a new layer of `b`. */
static int import_layer(ocidir_t *d, ocidir_builder_t *b, const struct import_opts *o, const char *path,
                        char *buf, progress_t *bar)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        progress_end(bar);
        return cli_error("import", "%s: %s", path, strerror(errno));
    }
    /* The writer checks that the file is a tar stream as it streams through
     * (OCIDIR_LAYER_WRITER_CHECK_TAR): junk fails at its offset, nothing stored. */
    ocidir_layer_writer_options_t wo = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
    wo.compression = o->compression;
    wo.level = o->level;
    wo.flags = OCIDIR_LAYER_WRITER_CHECK_TAR;
    /* Every CPU, as gzip's threads 0 does: zstd with one libzstd worker per
     * online CPU (at least one, so that the blob is the same on every
     * machine: libzstd's output with workers does not depend on their number). */
    if (o->compression == OCIDIR_COMPRESSION_ZSTD) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        wo.threads = cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
    }
    ocidir_layer_writer_t *w = NULL;
    int rc = ocidir_layer_writer_new_opts(d, &wo, &w);
    while (rc == 0) {
        ssize_t n = read(fd, buf, STREAM_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            ocidir_layer_writer_abort(w);
            close(fd);
            progress_end(bar);
            return cli_error("import", "reading %s: %s", path, strerror(err));
        }
        if (n == 0)
            break;
        rc = ocidir_layer_writer_write(w, buf, (size_t)n);
        progress_update(bar, bar->done + (uint64_t)n, bar->total);
    }
    close(fd);
    if (rc == 0) {
        /* Deferred: the layers are flushed to disk together, with one
         * syncfs, when the image is committed (OCIDIR_ADD_LAYER_DEFER_SYNC). */
        ocidir_add_layer_options_t ao = OCIDIR_ADD_LAYER_OPTIONS_INIT;
        ao.flags = OCIDIR_ADD_LAYER_DEFER_SYNC;
        rc = ocidir_builder_add_layer_writer_opts(b, w, &ao); /* frees w */
        w = NULL;
    }
    ocidir_layer_writer_abort(w);
    if (rc == OCIDIR_E_FORMAT) {
        progress_end(bar);
        return cli_error("import", "%s: %s", path, ocidir_last_error());
    }
    if (rc < 0) {
        progress_end(bar);
        return cli_lib_error("import", rc);
    }
    return EXIT_OK;
}

static int import_image(ocidir_t *d, const char *tag, const struct import_opts *o, char **tars, size_t n_tars)
{
    /* The total for the progress bar; a file that cannot be read fails here, before anything is written. */
    progress_t bar;
    cli_progress_init(&bar, "import");
    uint64_t total = 0;
    for (size_t i = 0; i < n_tars; i++) {
        struct stat sb;
        if (stat(tars[i], &sb) < 0)
            return cli_error("import", "%s: %s", tars[i], strerror(errno));
        if (!S_ISREG(sb.st_mode))
            return cli_error("import", "%s: not a regular file", tars[i]);
        total += (uint64_t)sb.st_size;
    }
    bar.total = total;

    ocidir_builder_t *b = NULL;
    int rc = ocidir_builder_new(d, o->platform, &b);
    if (rc == 0 && o->created)
        rc = ocidir_builder_set_created(b, o->created);
    if (rc == 0 && o->has_entrypoint)
        rc = ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_ENTRYPOINT, o->entrypoint);
    if (rc == 0 && o->has_cmd)
        rc = ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_CMD, o->cmd);
    if (rc == 0 && o->n_env)
        rc = ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_ENV, o->env);
    if (rc == 0 && o->workdir)
        rc = ocidir_builder_set_config_string(b, OCIDIR_CONFIG_WORKING_DIR, o->workdir);
    if (rc == 0 && o->user)
        rc = ocidir_builder_set_config_string(b, OCIDIR_CONFIG_USER, o->user);
    for (size_t i = 0; rc == 0 && i < o->n_labels; i++) {
        /* K=V, checked when parsed: split at the first '='. */
        const char *eq = strchr(o->labels[i], '=');
        char *key = strndup(o->labels[i], (size_t)(eq - o->labels[i]));
        if (!key) {
            ocidir_builder_free(b);
            return cli_error("import", "%s", strerror(errno));
        }
        rc = ocidir_builder_set_label(b, key, eq + 1);
        free(key);
    }
    if (rc < 0) {
        ocidir_builder_free(b);
        return cli_lib_error("import", rc);
    }

    char *buf = malloc(STREAM_BUF);
    if (!buf) {
        ocidir_builder_free(b);
        return cli_error("import", "%s", strerror(errno));
    }
    int st = EXIT_OK;
    for (size_t i = 0; i < n_tars && st == EXIT_OK; i++)
        st = import_layer(d, b, o, tars[i], buf, &bar);
    free(buf);
    if (st == EXIT_OK) {
        char digest[OCIDIR_DIGEST_MAX];
        rc = ocidir_builder_commit(b, tag, 0, digest);
        progress_end(&bar);
        if (rc < 0)
            st = cli_lib_error("import", rc);
        else
            printf("%s\n", digest);
    }
    ocidir_builder_free(b);
    return st;
}

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"compression", required_argument, NULL, OPT_COMPRESSION},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
        {"cmd", required_argument, NULL, OPT_CMD_ARG},
        {"env", required_argument, NULL, OPT_ENV},
        {"workdir", required_argument, NULL, OPT_WORKDIR},
        {"user", required_argument, NULL, OPT_USER},
        {"label", required_argument, NULL, OPT_LABEL},
        {"created", required_argument, NULL, OPT_CREATED},
        {NULL, 0, NULL, 0},
    };
    struct import_opts o = {.compression = OCIDIR_COMPRESSION_GZIP};
    size_t cap = (size_t)argc + 1;
    o.entrypoint = calloc(cap, sizeof *o.entrypoint);
    o.cmd = calloc(cap, sizeof *o.cmd);
    o.env = calloc(cap, sizeof *o.env);
    o.labels = calloc(cap, sizeof *o.labels);
    char *dir = NULL;
    int c, st = EXIT_OK;
    if (!o.entrypoint || !o.cmd || !o.env || !o.labels) {
        st = cli_error("import", "%s", strerror(errno));
        goto out;
    }
    while (st == EXIT_OK && (c = cli_getopt(argc, argv, opts, &st)) != -1) {
        unsigned long long level;
        switch (c) {
        case CLI_OPT_EXIT:
            goto out;
        case OPT_COMPRESSION:
            if (strcmp(optarg, "gzip") == 0)
                o.compression = OCIDIR_COMPRESSION_GZIP;
            else if (strcmp(optarg, "zstd") == 0)
                o.compression = OCIDIR_COMPRESSION_ZSTD;
            else if (strcmp(optarg, "none") == 0)
                o.compression = OCIDIR_COMPRESSION_NONE;
            else
                st = cli_usage_error("import", "--compression %s: expected gzip, zstd or none", optarg);
            break;
        case OPT_LEVEL:
            if (!parse_uint(optarg, 99, &level))
                st = cli_usage_error("import", "--level %s: expected a number", optarg);
            o.level = (int)level;
            break;
        case OPT_PLATFORM: o.platform = optarg; break;
        case OPT_ENTRYPOINT:
            o.entrypoint[o.n_entrypoint++] = optarg;
            o.has_entrypoint = true;
            break;
        case OPT_CMD_ARG:
            o.cmd[o.n_cmd++] = optarg;
            o.has_cmd = true;
            break;
        case OPT_ENV:
        case OPT_LABEL:
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                st = cli_usage_error("import", "--%s %s: expected KEY=VALUE", c == OPT_ENV ? "env" : "label", optarg);
                break;
            }
            if (c == OPT_ENV)
                o.env[o.n_env++] = optarg;
            else
                o.labels[o.n_labels++] = optarg;
            break;
        case OPT_WORKDIR: o.workdir = optarg; break;
        case OPT_USER: o.user = optarg; break;
        case OPT_CREATED: o.created = optarg; break;
        }
    }
    if (st != EXIT_OK || (st = cli_operands("import", argc, argv, 2, -1, "DIR:TAG LAYER.tar...")) != EXIT_OK)
        goto out;
    const char *tag;
    if ((st = cli_dir_ref("import", argv[optind], &dir, &tag)) != EXIT_OK ||
        (st = cli_check_tag("import", tag)) != EXIT_OK)
        goto out;
    ocidir_t *d = NULL;
    if ((st = cli_open_layout("import", dir, 0, &d)) == EXIT_OK)
        st = import_image(d, tag, &o, argv + optind + 1, (size_t)(argc - optind - 1));
    ocidir_close(d);
    if (st == EXIT_OK)
        st = cli_finish_stdout("import", st);
out:
    free(dir);
    free(o.entrypoint);
    free(o.cmd);
    free(o.env);
    free(o.labels);
    return st;
}

/* ---------------------------------------------------------------------------
 * export
 * ------------------------------------------------------------------------ */

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"layer", required_argument, NULL, OPT_LAYER},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {NULL, 0, NULL, 0},
    };
    const char *platform = NULL;
    unsigned long long layer = 0;
    bool has_layer = false;
    int c, st;
    while ((c = cli_getopt(argc, argv, opts, &st)) != -1) {
        if (c == CLI_OPT_EXIT)
            return st;
        if (c == OPT_PLATFORM) {
            platform = optarg;
        } else {
            if (!parse_uint(optarg, SIZE_MAX - 1, &layer))
                return cli_usage_error("export", "--layer %s: expected a layer number (0 is the first)", optarg);
            has_layer = true;
        }
    }
    if ((st = cli_operands("export", argc, argv, 1, 1, "DIR:REF")) != EXIT_OK)
        return st;
    if (!has_layer)
        return cli_usage_error("export", "--layer N is required");
    char *dir = NULL;
    const char *ref;
    if ((st = cli_dir_ref("export", argv[optind], &dir, &ref)) != EXIT_OK)
        return st;
    ocidir_t *d = NULL;
    ocidir_image_t *img = NULL;
    ocidir_layer_reader_t *r = NULL;
    char *buf = NULL;
    if ((st = cli_open_layout("export", dir, OCIDIR_OPEN_RDONLY, &d)) != EXIT_OK)
        goto out;
    int rc = ocidir_image_open(d, ref, platform, &img);
    if (rc == 0)
        rc = ocidir_image_layer_open(img, (size_t)layer, &r);
    if (rc < 0) {
        st = cli_lib_error("export", rc);
        goto out;
    }
    if (!(buf = malloc(STREAM_BUF))) {
        st = cli_error("export", "%s", strerror(errno));
        goto out;
    }
    uint64_t written = 0;
    for (;;) {
        ssize_t n = ocidir_layer_reader_read(r, buf, STREAM_BUF);
        if (n == 0)
            break;
        if (n < 0) {
            fprintf(stderr,
                    "ocidir export: %s; the %llu bytes already written to stdout are incomplete or corrupt\n",
                    ocidir_last_error(), (unsigned long long)written);
            st = EXIT_FAIL;
            break;
        }
        if ((st = cli_write_stdout("export", buf, (size_t)n)) != EXIT_OK)
            break;
        written += (uint64_t)n;
    }
out:
    free(buf);
    ocidir_layer_reader_close(r);
    ocidir_image_close(img);
    ocidir_close(d);
    free(dir);
    return st;
}
