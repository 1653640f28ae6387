/*
 * ocidir config, lxc-cmd and user: what a container runtime's shell template
 * (LXC's lxc-oci) reads from an image and its root filesystem, without jq.
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
#include <unistd.h>

#include "cli.h"
#include "lxc.h"

const char config_help[] =
    "Usage: ocidir config [--platform OS/ARCH[/VARIANT]] [-0|--null] DIR:REF FIELD\n"
    "\n"
    "Print one field of the image's config.  FIELD is one of entrypoint, cmd,\n"
    "env, user, workdir, stopsignal, labels, os, architecture, variant.  Arrays\n"
    "print one element per line (labels as key=value, sorted by key), strings\n"
    "one line.  A field the config does not have prints nothing and exits 0.\n"
    "Without -0 a value holding a newline is an error (exit 1).\n"
    "\n"
    "  --platform OS/ARCH[/VARIANT]   the platform to choose in an index\n"
    "  -0, --null                     end each value with NUL instead of newline\n";

const char lxc_cmd_help[] =
    "Usage: ocidir lxc-cmd [--platform OS/ARCH[/VARIANT]] DIR:REF\n"
    "\n"
    "Print the value for LXC's `lxc.execute.cmd = VALUE` config line that LXC\n"
    "splits back into exactly the image's Entrypoint followed by Cmd.  The value\n"
    "is wrapped in one pair of single quotes (the pair LXC's config parser\n"
    "strips); inside, each argument is bare, or in \"...\" or '...' when it is\n"
    "empty, holds whitespace or starts with a quote.  Exit 1, naming the\n"
    "argument, when LXC's syntax cannot express it (a newline, or whitespace\n"
    "or a leading quote together with both quote kinds), or when Entrypoint\n"
    "and Cmd are both empty.\n"
    "\n"
    "  --platform OS/ARCH[/VARIANT]   the platform to choose in an index\n";

const char user_help[] =
    "Usage: ocidir user ROOTFS USERSPEC\n"
    "\n"
    "Resolve USERSPEC (\"user[:group]\", names or numbers, as an image config's\n"
    "User) against ROOTFS/etc/passwd and ROOTFS/etc/group, read inside ROOTFS\n"
    "only (symlinks resolve within it), and print \"UID GID\": the user's primary\n"
    "group unless a group is given.  A numeric user that passwd does not list\n"
    "prints that uid and gid 0 (or the given group).  An unknown name exits 1.\n";

enum { OPT_PLATFORM_C = OPT_CMD, OPT_NULL };

/* ---- config ---- */

static int write_value(const char *cmd, const char *v, char end, const char *what)
{
    if (end == '\n' && strchr(v, '\n'))
        return cli_error(cmd, "%s holds a newline; use -0", what);
    size_t n = strlen(v);
    if (cli_write_stdout(cmd, v, n) != EXIT_OK || cli_write_stdout(cmd, &end, 1) != EXIT_OK)
        return EXIT_FAIL;
    return EXIT_OK;
}

static const struct {
    const char *name;
    int kind; /* 0 strv, 1 string, 2 labels */
    ocidir_config_field_t field;
} kFields[] = {
    {"entrypoint", 0, OCIDIR_CONFIG_ENTRYPOINT},  {"cmd", 0, OCIDIR_CONFIG_CMD},
    {"env", 0, OCIDIR_CONFIG_ENV},                {"user", 1, OCIDIR_CONFIG_USER},
    {"workdir", 1, OCIDIR_CONFIG_WORKING_DIR},    {"stopsignal", 1, OCIDIR_CONFIG_STOP_SIGNAL},
    {"labels", 2, OCIDIR_CONFIG_ENTRYPOINT},      {"os", 1, OCIDIR_CONFIG_OS},
    {"architecture", 1, OCIDIR_CONFIG_ARCHITECTURE}, {"variant", 1, OCIDIR_CONFIG_VARIANT},
};

/* Open DIR:REF's image read-only; on failure the reason is printed. */
static int open_image(const char *cmd, const char *arg, const char *platform, ocidir_t **d, ocidir_image_t **img)
{
    char *dir = NULL;
    const char *ref;
    int st = cli_dir_ref(cmd, arg, &dir, &ref);
    if (st != EXIT_OK)
        return st;
    st = cli_open_layout(cmd, dir, OCIDIR_OPEN_RDONLY, d);
    free(dir);
    if (st != EXIT_OK)
        return st;
    int rc = ocidir_image_open(*d, ref, platform, img);
    if (rc < 0)
        return cli_lib_error(cmd, rc);
    return EXIT_OK;
}

int cmd_config(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"platform", required_argument, NULL, OPT_PLATFORM_C},
        {"null", no_argument, NULL, OPT_NULL},
        {NULL, 0, NULL, 0},
    };
    /* -0 is this command's only short option: spell it long for getopt. */
    static char null_opt[] = "--null";
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-0") == 0)
            argv[i] = null_opt;
    const char *platform = NULL;
    char end = '\n';
    int c, st = EXIT_OK;
    while ((c = cli_getopt(argc, argv, opts, &st)) != -1) {
        if (c == CLI_OPT_EXIT)
            return st;
        if (c == OPT_PLATFORM_C)
            platform = optarg;
        else
            end = '\0';
    }
    if ((st = cli_operands("config", argc, argv, 2, 2, "DIR:REF FIELD")) != EXIT_OK)
        return st;
    const char *fname = argv[optind + 1];
    size_t fi = 0, nf = sizeof kFields / sizeof kFields[0];
    while (fi < nf && strcmp(kFields[fi].name, fname) != 0)
        fi++;
    if (fi == nf)
        return cli_usage_error("config", "unknown FIELD '%s' (one of entrypoint, cmd, env, user, workdir, "
                                         "stopsignal, labels, os, architecture, variant)", fname);
    ocidir_t *d = NULL;
    ocidir_image_t *img = NULL;
    char **v = NULL;
    char *s = NULL;
    if ((st = open_image("config", argv[optind], platform, &d, &img)) != EXIT_OK)
        goto out;
    int rc;
    if (kFields[fi].kind == 0)
        rc = ocidir_image_config_strv(img, kFields[fi].field, &v);
    else if (kFields[fi].kind == 1)
        rc = ocidir_image_config_string(img, kFields[fi].field, &s);
    else
        rc = ocidir_image_config_labels(img, &v);
    if (rc == OCIDIR_E_NOT_FOUND && ocidir_image_config_is_empty(img) == 1)
        rc = 0; /* no config at all (the empty descriptor): every field absent */
    if (rc < 0) {
        st = cli_lib_error("config", rc);
        goto out;
    }
    if (kFields[fi].kind == 2) {
        for (size_t i = 0; v && v[i] && v[i + 1] && st == EXIT_OK; i += 2) {
            size_t kl = strlen(v[i]), vl = strlen(v[i + 1]);
            char *kv = malloc(kl + vl + 2);
            if (!kv) {
                st = cli_error("config", "%s", strerror(ENOMEM));
                break;
            }
            memcpy(kv, v[i], kl);
            kv[kl] = '=';
            memcpy(kv + kl + 1, v[i + 1], vl + 1);
            st = write_value("config", kv, end, "a label");
            free(kv);
        }
    } else if (kFields[fi].kind == 0) {
        for (size_t i = 0; v && v[i] && st == EXIT_OK; i++)
            st = write_value("config", v[i], end, "an element");
    } else if (s) {
        st = write_value("config", s, end, "the value");
    }
    if (st == EXIT_OK)
        st = cli_finish_stdout("config", EXIT_OK);
out:
    ocidir_strv_free(v);
    ocidir_free(s);
    ocidir_image_close(img);
    ocidir_close(d);
    return st;
}

/* ---- lxc-cmd ---- */

/* `arg` as a C string literal's body (\\, \", \n, \xHH for other control
 * bytes), so the message stays one line; malloc'd, NULL without memory. */
static char *escaped(const char *arg)
{
    size_t n = strlen(arg);
    char *out = malloc(4 * n + 1), *w = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
        if (*p == '\\' || *p == '"') {
            *w++ = '\\';
            *w++ = (char)*p;
        } else if (*p == '\n') {
            *w++ = '\\';
            *w++ = 'n';
        } else if (*p < 0x20 || *p == 0x7f) {
            w += sprintf(w, "\\x%02x", *p);
        } else {
            *w++ = (char)*p;
        }
    }
    *w = '\0';
    return out;
}

int cmd_lxc_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {"platform", required_argument, NULL, OPT_PLATFORM_C},
        {NULL, 0, NULL, 0},
    };
    const char *platform = NULL;
    int c, st = EXIT_OK;
    while ((c = cli_getopt(argc, argv, opts, &st)) != -1) {
        if (c == CLI_OPT_EXIT)
            return st;
        platform = optarg;
    }
    if ((st = cli_operands("lxc-cmd", argc, argv, 1, 1, "DIR:REF")) != EXIT_OK)
        return st;
    ocidir_t *d = NULL;
    ocidir_image_t *img = NULL;
    char **ep = NULL, **cm = NULL;
    char *line = NULL;
    size_t len = 0;
    FILE *mem = NULL;
    if ((st = open_image("lxc-cmd", argv[optind], platform, &d, &img)) != EXIT_OK)
        goto out;
    int rc = ocidir_image_config_strv(img, OCIDIR_CONFIG_ENTRYPOINT, &ep);
    if (rc == 0)
        rc = ocidir_image_config_strv(img, OCIDIR_CONFIG_CMD, &cm);
    if (rc == OCIDIR_E_NOT_FOUND && ocidir_image_config_is_empty(img) == 1)
        rc = 0;
    if (rc < 0) {
        st = cli_lib_error("lxc-cmd", rc);
        goto out;
    }
    mem = open_memstream(&line, &len);
    if (!mem) {
        st = cli_error("lxc-cmd", "%s", strerror(errno));
        goto out;
    }
    fputc('\'', mem);
    size_t n = 0;
    char **parts[2] = {ep, cm};
    const char *names[2] = {"Entrypoint", "Cmd"};
    for (int k = 0; k < 2 && st == EXIT_OK; k++)
        for (size_t i = 0; parts[k] && parts[k][i]; i++) {
            char *q;
            int r = lxc_quote_arg(parts[k][i], &q);
            if (r == -2) {
                st = cli_error("lxc-cmd", "%s", strerror(ENOMEM));
                break;
            }
            if (r < 0) {
                char *e = escaped(parts[k][i]);
                st = cli_error("lxc-cmd", "%s[%zu] \"%s\" cannot be expressed in lxc.execute.cmd (%s)", names[k], i,
                               e ? e : "?",
                               strchr(parts[k][i], '\n') ? "it holds a newline"
                                                         : "it needs quoting and holds both quote kinds");
                free(e);
                break;
            }
            if (n++)
                fputc(' ', mem);
            fputs(q, mem);
            free(q);
        }
    fputc('\'', mem);
    if (fclose(mem) != 0 && st == EXIT_OK)
        st = cli_error("lxc-cmd", "%s", strerror(errno));
    mem = NULL;
    if (st != EXIT_OK)
        goto out;
    if (n == 0) {
        st = cli_error("lxc-cmd", "the image's Entrypoint and Cmd are both empty: no command to run");
        goto out;
    }
    if ((st = cli_write_stdout("lxc-cmd", line, len)) == EXIT_OK && (st = cli_write_stdout("lxc-cmd", "\n", 1)) == EXIT_OK)
        st = cli_finish_stdout("lxc-cmd", EXIT_OK);
out:
    if (mem)
        fclose(mem);
    free(line);
    ocidir_strv_free(ep);
    ocidir_strv_free(cm);
    ocidir_image_close(img);
    ocidir_close(d);
    return st;
}

/* ---- user ---- */

int cmd_user(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_GLOBAL_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c, st = EXIT_OK;
    while ((c = cli_getopt(argc, argv, opts, &st)) != -1)
        if (c == CLI_OPT_EXIT)
            return st;
    if ((st = cli_operands("user", argc, argv, 2, 2, "ROOTFS USERSPEC")) != EXIT_OK)
        return st;
    int fd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cli_error("user", "%s: %s", argv[optind], strerror(errno));
    uint32_t uid, gid;
    int rc = ocidir_user_lookup(fd, argv[optind + 1], &uid, &gid);
    close(fd);
    if (rc < 0)
        return cli_lib_error("user", rc);
    printf("%" PRIu32 " %" PRIu32 "\n", uid, gid);
    return cli_finish_stdout("user", EXIT_OK);
}
