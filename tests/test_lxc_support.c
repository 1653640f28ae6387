/*
 * Container runtime support (section 12 of ocidir.h) and the LXC argument
 * encoding of `ocidir lxc-cmd`: ocidir_user_lookup() against a root
 * filesystem's etc/passwd and etc/group (names, numbers, user:group,
 * confinement, bounds), and lxc_quote_arg() round-tripped through a
 * reimplementation of LXC's own splitter.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <ocidir.h>

#include "lxc.h"
#include "plainutil.h"
#include "testutil.h"

/* ---- fixtures ---- */

struct fx {
    char top[64];   /* holds rootfs/ and outside/ */
    char root[96];  /* the rootfs */
    int rootfd;
};

static void put_file(const char *dir, const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void mk(const char *dir, const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static const char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment:x:5:5:::\n"
    "+nis:x:6:6:::\n"
    "broken:x:12x:7:::\n"
    "short:x:13:13\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "app:x:1000:1001:App User:/home/app:/bin/sh\n"
    "dup:x:2000:2000:first:/:/bin/sh\n"
    "dup:x:2001:2001:second:/:/bin/sh\n"
    "\n";

static const char kGroup[] =
    "root:x:0:\n"
    "wheel:x:10:root,app\n"
    "staff:x:50:\n"
    "badgid:x:-1:\n";

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->top, sizeof f->top, "/tmp/ocidir-lxc-XXXXXX");
    assert_non_null(mkdtemp(f->top));
    snprintf(f->root, sizeof f->root, "%s/rootfs", f->top);
    assert_int_equal(mkdir(f->root, 0755), 0);
    mk(f->root, "etc");
    f->rootfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->rootfd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    close(f->rootfd);
    tu_rm_rf(f->top);
    free(f);
    return 0;
}

static void std_db(struct fx *f)
{
    put_file(f->root, "etc/passwd", kPasswd);
    put_file(f->root, "etc/group", kGroup);
}

static void expect_ids(struct fx *f, const char *spec, uint32_t uid, uint32_t gid)
{
    uint32_t u = 777, g = 777;
    int rc = ocidir_user_lookup(f->rootfd, spec, &u, &g);
    if (rc != 0)
        fail_msg("ocidir_user_lookup(\"%s\") = %d: %s", spec, rc, ocidir_last_error());
    assert_int_equal(u, uid);
    assert_int_equal(g, gid);
}

static void expect_fail(struct fx *f, const char *spec, int code, const char *needle)
{
    uint32_t u = 777, g = 777;
    int rc = ocidir_user_lookup(f->rootfd, spec, &u, &g);
    if (rc != code)
        fail_msg("ocidir_user_lookup(\"%s\") = %d (%s), expected %d", spec, rc, rc ? ocidir_last_error() : "", code);
    if (needle && !strstr(ocidir_last_error(), needle))
        fail_msg("message \"%s\" does not name \"%s\"", ocidir_last_error(), needle);
    assert_int_equal(u, 777); /* untouched on failure */
    assert_int_equal(g, 777);
}

/* ---- user lookup ---- */

static void test_user_lookup_by_name_gives_uid_and_primary_gid(void **state)
{
    struct fx *f = *state;
    std_db(f);
    expect_ids(f, "app", 1000, 1001);
    expect_ids(f, "root", 0, 0);
    expect_ids(f, "daemon", 1, 1);
    expect_ids(f, "dup", 2000, 2000); /* the first matching line wins */
}

static void test_user_lookup_empty_spec_is_root(void **state)
{
    struct fx *f = *state;
    expect_ids(f, "", 0, 0); /* even without etc/passwd */
}

static void test_user_lookup_by_number(void **state)
{
    struct fx *f = *state;
    std_db(f);
    expect_ids(f, "1000", 1000, 1001); /* listed: its primary group */
    expect_ids(f, "4242", 4242, 0);    /* not listed: gid 0 */
    expect_ids(f, "4294967294", 4294967294u, 0);
    expect_fail(f, "4294967295", OCIDIR_E_INVALID, "4294967295");
    expect_fail(f, "99999999999", OCIDIR_E_INVALID, NULL);
}

static void test_user_lookup_user_and_group(void **state)
{
    struct fx *f = *state;
    std_db(f);
    expect_ids(f, "app:wheel", 1000, 10);
    expect_ids(f, "app:77", 1000, 77);
    expect_ids(f, "4242:staff", 4242, 50);
    expect_ids(f, "0:0", 0, 0);
    expect_fail(f, "app:nogroup", OCIDIR_E_NOT_FOUND, "nogroup");
    expect_fail(f, "app:badgid", OCIDIR_E_NOT_FOUND, "badgid"); /* "-1" is no id */
}

static void test_user_lookup_strict_lines_never_match(void **state)
{
    struct fx *f = *state;
    std_db(f);
    expect_fail(f, "broken", OCIDIR_E_NOT_FOUND, "broken"); /* uid "12x" */
    expect_fail(f, "short", OCIDIR_E_NOT_FOUND, "short");   /* 4 fields */
    expect_fail(f, "+nis", OCIDIR_E_NOT_FOUND, NULL);
    expect_fail(f, "# a comment", OCIDIR_E_NOT_FOUND, NULL);
    expect_ids(f, "12", 12, 0); /* the broken line gives no gid 7 */
}

static void test_user_lookup_unknown_name_fails_naming_it(void **state)
{
    struct fx *f = *state;
    std_db(f);
    expect_fail(f, "nobody-here", OCIDIR_E_NOT_FOUND, "nobody-here");
}

static void test_user_lookup_malformed_specs_are_invalid(void **state)
{
    struct fx *f = *state;
    std_db(f);
    expect_fail(f, ":wheel", OCIDIR_E_INVALID, NULL);
    expect_fail(f, "app:", OCIDIR_E_INVALID, NULL);
    expect_fail(f, "app:wheel:x", OCIDIR_E_INVALID, NULL);
    uint32_t u, g;
    assert_int_equal(ocidir_user_lookup(f->rootfd, NULL, &u, &g), OCIDIR_E_INVALID);
    assert_int_equal(ocidir_user_lookup(f->rootfd, "app", NULL, &g), OCIDIR_E_INVALID);
    assert_int_equal(ocidir_user_lookup(f->rootfd, "app", &u, NULL), OCIDIR_E_INVALID);
    assert_int_equal(ocidir_user_lookup(-1, "app", &u, &g), OCIDIR_E_INVALID);
}

static void test_user_lookup_missing_passwd(void **state)
{
    struct fx *f = *state;
    expect_ids(f, "1000", 1000, 0);
    expect_ids(f, "1000:20", 1000, 20);
    expect_fail(f, "app", OCIDIR_E_NOT_FOUND, "app");
    expect_fail(f, "0:wheel", OCIDIR_E_NOT_FOUND, "wheel"); /* no etc/group */
    /* no etc at all */
    char p[256];
    snprintf(p, sizeof p, "%s/etc", f->root);
    assert_int_equal(rmdir(p), 0);
    expect_ids(f, "5", 5, 0);
    expect_fail(f, "app", OCIDIR_E_NOT_FOUND, "app");
}

static void test_user_lookup_absolute_symlink_resolves_inside_the_rootfs(void **state)
{
    struct fx *f = *state;
    mk(f->root, "usr");
    mk(f->root, "usr/lib");
    put_file(f->root, "usr/lib/passwd", "inside:x:321:654:::\n");
    char p[256];
    snprintf(p, sizeof p, "%s/etc/passwd", f->root);
    assert_int_equal(symlink("/usr/lib/passwd", p), 0);
    expect_ids(f, "inside", 321, 654);
}

static void test_user_lookup_symlink_out_of_the_rootfs_reads_nothing_outside(void **state)
{
    struct fx *f = *state;
    /* A passwd outside the rootfs, reachable from the host by both links. */
    mk(f->top, "outside");
    put_file(f->top, "outside/passwd", "outsider:x:999:999:::\n");
    put_file(f->top, "outside/group", "outgroup:x:998:\n");
    char p[512], t[512];
    snprintf(p, sizeof p, "%s/etc/passwd", f->root);
    assert_int_equal(symlink("../../outside/passwd", p), 0);
    snprintf(p, sizeof p, "%s/etc/group", f->root);
    snprintf(t, sizeof t, "%s/outside/group", f->top); /* the host's absolute path */
    assert_int_equal(symlink(t, p), 0);
    expect_fail(f, "outsider", OCIDIR_E_NOT_FOUND, "outsider");
    expect_ids(f, "999", 999, 0);                             /* not the outside gid */
    expect_fail(f, "0:outgroup", OCIDIR_E_NOT_FOUND, "outgroup");
}

static void test_user_lookup_refuses_a_huge_file(void **state)
{
    struct fx *f = *state;
    char p[256];
    snprintf(p, sizeof p, "%s/etc/passwd", f->root);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "big:x:1:1:::\n", 13), 13);
    assert_int_equal(ftruncate(fd, (off_t)OCIDIR_USERDB_MAX_FILE + 1), 0); /* sparse */
    close(fd);
    expect_fail(f, "big", OCIDIR_E_TOO_LARGE, "etc/passwd");
    expect_fail(f, "1", OCIDIR_E_TOO_LARGE, "etc/passwd");
}

static void test_user_lookup_refuses_a_huge_line(void **state)
{
    struct fx *f = *state;
    size_t n = OCIDIR_USERDB_MAX_LINE + 10;
    char *line = malloc(n + 64);
    assert_non_null(line);
    memset(line, 'a', n);
    strcpy(line + n, ":x:5:5:::\nlater:x:6:6:::\n");
    put_file(f->root, "etc/passwd", line);
    free(line);
    expect_fail(f, "later", OCIDIR_E_TOO_LARGE, "line 1");
}

static void test_user_lookup_refuses_a_non_regular_passwd(void **state)
{
    struct fx *f = *state;
    char p[256];
    snprintf(p, sizeof p, "%s/etc/passwd", f->root);
    assert_int_equal(mkfifo(p, 0644), 0); /* would block if opened for reading */
    expect_fail(f, "app", OCIDIR_E_FORMAT, "etc/passwd");
}

/* ---- the LXC encoding ---- */

/*
 * LXC's parsing of `lxc.execute.cmd = VALUE`, reimplemented from its
 * documented behaviour: the config parser strips one matching pair of outer
 * quotes from the (whitespace-trimmed) value; lxc_string_split_quoted()
 * then splits on isspace(), a word starting with " or ' runs to the next
 * same quote (no escapes; the quotes are dropped; the word ends there), any
 * other word runs to the next whitespace (quotes inside are literal).  An
 * unterminated quoted word is dropped.
 */
static size_t lxc_split(const char *value, char **words, size_t max)
{
    size_t len = strlen(value);
    char *v = strndup(value, len);
    assert_non_null(v);
    char *s = v;
    while (*s && isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    if ((s[0] == '"' || s[0] == '\'') && len > 1 && s[len - 1] == s[0]) {
        s[len - 1] = '\0';
        s++;
    }
    size_t n = 0;
    char state = ' ';
    char *start = s, *p;
    for (p = s; *p; p++) {
        switch (state) {
        case ' ':
            if (isspace((unsigned char)*p))
                continue;
            start = p;
            state = (*p == '"' || *p == '\'') ? *p : 'a';
            continue;
        case 'a':
            if (isspace((unsigned char)*p)) {
                assert_true(n < max);
                words[n++] = strndup(start, (size_t)(p - start));
                state = ' ';
            }
            continue;
        default:
            if (*p == state) {
                assert_true(n < max);
                words[n++] = strndup(start + 1, (size_t)(p - start - 1));
                state = ' ';
            }
            continue;
        }
    }
    if (state == 'a') {
        assert_true(n < max);
        words[n++] = strndup(start, (size_t)(p - start));
    }
    free(v);
    return n;
}

/* The value `ocidir lxc-cmd` prints for argv: the words joined by one space,
 * the whole in one pair of single quotes.  NULL when refused. */
static char *encode(const char *const *argv, size_t argc)
{
    size_t cap = 4, used = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    out[used++] = '\'';
    for (size_t i = 0; i < argc; i++) {
        char *q;
        int rc = lxc_quote_arg(argv[i], &q);
        if (rc != 0) {
            assert_int_equal(rc, -1);
            assert_null(q);
            free(out);
            return NULL;
        }
        size_t ql = strlen(q);
        out = realloc(out, cap = used + ql + 4);
        assert_non_null(out);
        if (i)
            out[used++] = ' ';
        memcpy(out + used, q, ql);
        used += ql;
        free(q);
    }
    out[used++] = '\'';
    out[used] = '\0';
    return out;
}

static void round_trip(const char *const *argv, size_t argc)
{
    char *value = encode(argv, argc);
    if (!value)
        fail_msg("refused argv[0]=\"%s\"", argv[0]);
    char *words[32];
    size_t n = lxc_split(value, words, 32);
    if (n != argc)
        fail_msg("value %s split into %zu words, expected %zu", value, n, argc);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(words[i], argv[i]) != 0)
            fail_msg("value %s: word %zu is \"%s\", expected \"%s\"", value, i, words[i], argv[i]);
        free(words[i]);
    }
    free(value);
}

#define RT(...)                                                        \
    do {                                                               \
        const char *const a_[] = {__VA_ARGS__};                        \
        round_trip(a_, sizeof a_ / sizeof a_[0]);                      \
    } while (0)

static void test_lxc_encoding_round_trips_through_lxc_splitter(void **state)
{
    (void)state;
    RT("/bin/sh");
    RT("nginx", "-g", "daemon off;");                     /* lxc/lxc#2195 */
    RT("/bin/sh", "-c", "echo \"hello world\"");          /* double quotes + space */
    RT("/bin/sh", "-c", "echo 'hello world'");            /* single quotes + space */
    RT("echo", "$HOME", "${X:-y}", "a$b");                /* $ is literal */
    RT("printf", "a\\nb", "\\", "\\\\", "C:\\dir with space"); /* backslashes */
    RT("x", "", "y", "");                                 /* empty strings */
    RT("", "only-empty-first");
    RT("tab\there", " lead", "trail ", "  ");             /* whitespace kinds */
    RT("\"starts-with-dq", "'starts-with-sq", "mid\"dle", "mid'dle");
    RT("a\"b'c");                                         /* both kinds, bare */
    RT("'quoted'", "\"quoted\"");                         /* first and last quoted */
    RT("it's", "say \"hi\"");
    RT("cr\rin", "vt\vff\f");
}

static void test_lxc_encoding_quotes_only_what_needs_it(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},          {"a\"b", "a\"b"},       {"a'b", "a'b"},
        {"", "\"\""},                {"a b", "\"a b\""},     {"say \"hi\"", "'say \"hi\"'"},
        {"'x", "\"'x\""},            {"\"x", "'\"x'"},       {"$HOME\\n", "$HOME\\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *q;
        assert_int_equal(lxc_quote_arg(cases[i].in, &q), 0);
        assert_string_equal(q, cases[i].out);
        free(q);
    }
}

static void test_lxc_encoding_refuses_what_lxc_cannot_express(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "both \"kinds' with space", /* needs quoting, holds both quote kinds */
        "\"lead'",                  /* starts with a quote, holds both kinds */
        "line\nbreak",              /* the config is line-based */
        "\n",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char *q = (char *)1;
        assert_int_equal(lxc_quote_arg(refused[i], &q), -1);
        assert_null(q);
    }
}


/* ---- copy ---- */

struct img {
    char manifest[OCIDIR_DIGEST_MAX];
    char layer[OCIDIR_DIGEST_MAX];
    char config[OCIDIR_DIGEST_MAX];
};

/* One image for `platform` with one layer of `text`, committed untagged. */
static void build_image(ocidir_t *d, const char *platform, const char *text, struct img *out)
{
    ocidir_builder_t *b = NULL;
    assert_int_equal(ocidir_builder_new(d, platform, &b), 0);
    unsigned char tar[4096];
    size_t n = tu_make_tar(tar, "etc/hello", (const unsigned char *)text, strlen(text));
    assert_int_equal(ocidir_blob_put(d, tar, n, out->layer), 0);
    assert_int_equal(ocidir_builder_add_layer(b, "application/vnd.oci.image.layer.v1.tar", out->layer, n,
                                              out->layer, NULL),
                     0);
    const char *cmd[] = {"/bin/echo", text, NULL};
    assert_int_equal(ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_CMD, cmd), 0);
    assert_int_equal(ocidir_builder_commit(b, NULL, 0, out->manifest), 0);
    ocidir_builder_free(b);
    ocidir_image_t *im = NULL;
    assert_int_equal(ocidir_image_open(d, out->manifest, platform, &im), 0);
    char *mt = NULL;
    assert_int_equal(ocidir_image_config_descriptor(im, &mt, out->config, NULL), 0);
    ocidir_free(mt);
    ocidir_image_close(im);
}

static uint64_t blob_size(ocidir_t *d, const char *digest)
{
    uint64_t size = 0;
    char dg[OCIDIR_DIGEST_MAX];
    assert_int_equal(ocidir_resolve(d, digest, dg, NULL, &size), 0);
    return size;
}

struct cfx {
    char *top, *src, *dst, *cache;
    ocidir_t *s;
    struct img amd, arm;
    char index[OCIDIR_DIGEST_MAX];
};

/* src: tag "multi" on an index of linux/amd64 and linux/arm64. */
static int copy_setup(void **state)
{
    struct cfx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->top = tu_mkdtemp("lxc-copy");
    f->src = tu_join(f->top, "src");
    f->dst = tu_join(f->top, "dst");
    f->cache = tu_join(f->top, "cache");
    assert_int_equal(ocidir_open(AT_FDCWD, f->src, OCIDIR_OPEN_CREATE, &f->s), 0);
    build_image(f->s, "linux/amd64", "amd", &f->amd);
    build_image(f->s, "linux/arm64", "arm", &f->arm);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
             "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%llu,"
             "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
             "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%llu,"
             "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}}]}",
             f->amd.manifest, (unsigned long long)blob_size(f->s, f->amd.manifest), f->arm.manifest,
             (unsigned long long)blob_size(f->s, f->arm.manifest));
    assert_int_equal(ocidir_blob_put(f->s, json, strlen(json), f->index), 0);
    assert_int_equal(ocidir_tag_set(f->s, "multi", f->index, 0), 0);
    *state = f;
    return 0;
}

static int copy_teardown(void **state)
{
    struct cfx *f = *state;
    ocidir_close(f->s);
    tu_rm_rf(f->top);
    free(f->top);
    free(f->src);
    free(f->dst);
    free(f->cache);
    free(f);
    return 0;
}

static ocidir_t *open_dst(struct cfx *f)
{
    ocidir_t *d = NULL;
    assert_int_equal(ocidir_open(AT_FDCWD, f->dst, OCIDIR_OPEN_CREATE, &d), 0);
    return d;
}

static int has_blob(const char *dir, const char *digest)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, tu_hex(digest));
    return tu_exists(p);
}

static void expect_fsck_clean(ocidir_t *d)
{
    ocidir_report_t *r = NULL;
    assert_int_equal(ocidir_fsck(d, NULL, &r), 0);
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *subj, *msg;
        ocidir_report_get(r, i, &k, &subj, NULL, &msg);
        if (ocidir_find_kind_is_damage(k))
            fail_msg("fsck: %s: %s", subj, msg);
    }
    ocidir_report_free(r);
}

static void test_copy_one_platform_of_a_multi_platform_index(void **state)
{
    struct cfx *f = *state;
    ocidir_t *d = open_dst(f);
    ocidir_report_t *rep = NULL;
    int rc = ocidir_copy(f->s, "multi", "linux/arm64", d, "app", NULL, &rep);
    if (rc)
        fail_msg("ocidir_copy: %s", ocidir_last_error());
    char dg[OCIDIR_DIGEST_MAX];
    char *mt = NULL;
    assert_int_equal(ocidir_resolve(d, "app", dg, &mt, NULL), 0);
    assert_string_equal(dg, f->arm.manifest); /* the tag names the platform's manifest */
    assert_string_equal(mt, "application/vnd.oci.image.manifest.v1+json");
    ocidir_free(mt);
    char *blobs = tu_join(f->dst, "blobs/sha256");
    assert_true(has_blob(blobs, f->arm.manifest));
    assert_true(has_blob(blobs, f->arm.config));
    assert_true(has_blob(blobs, f->arm.layer));
    assert_false(has_blob(blobs, f->amd.layer)); /* the other platform stays behind */
    assert_false(has_blob(blobs, f->amd.manifest));
    assert_false(has_blob(blobs, f->index));
    free(blobs);
    uint64_t nblobs = 0, bytes = 0;
    ocidir_report_totals(rep, &nblobs, &bytes);
    assert_int_equal(nblobs, 3);
    assert_int_equal(ocidir_report_count(rep), 3); /* one take each */
    ocidir_report_free(rep);
    /* the image opens and reads back */
    ocidir_image_t *im = NULL;
    assert_int_equal(ocidir_image_open(d, "app", "linux/arm64", &im), 0);
    char **cmd = NULL;
    assert_int_equal(ocidir_image_config_strv(im, OCIDIR_CONFIG_CMD, &cmd), 0);
    assert_string_equal(cmd[1], "arm");
    ocidir_strv_free(cmd);
    ocidir_image_close(im);
    expect_fsck_clean(d);
    /* again: everything present, verified, nothing taken */
    assert_int_equal(ocidir_copy(f->s, "multi", "linux/arm64", d, "app2", NULL, &rep), 0);
    assert_int_equal(ocidir_report_count(rep), 0);
    ocidir_report_totals(rep, &nblobs, &bytes);
    assert_int_equal(nblobs, 3);
    ocidir_report_free(rep);
    /* a platform the index lacks */
    assert_int_equal(ocidir_copy(f->s, "multi", "linux/s390x", d, "none", NULL, NULL), OCIDIR_E_NOT_FOUND);
    assert_int_equal(ocidir_resolve(d, "none", dg, NULL, NULL), OCIDIR_E_NOT_FOUND);
    ocidir_close(d);
}

static void test_copy_all_platforms_copies_the_whole_index(void **state)
{
    struct cfx *f = *state;
    ocidir_t *d = open_dst(f);
    ocidir_copy_options_t o = OCIDIR_COPY_OPTIONS_INIT;
    o.flags = OCIDIR_COPY_ALL_PLATFORMS;
    int rc = ocidir_copy(f->s, "multi", NULL, d, "all", &o, NULL);
    if (rc)
        fail_msg("ocidir_copy: %s", ocidir_last_error());
    char dg[OCIDIR_DIGEST_MAX];
    assert_int_equal(ocidir_resolve(d, "all", dg, NULL, NULL), 0);
    assert_string_equal(dg, f->index);
    char *blobs = tu_join(f->dst, "blobs/sha256");
    const char *want[] = {f->index, f->amd.manifest, f->amd.config, f->amd.layer,
                          f->arm.manifest, f->arm.config, f->arm.layer};
    for (size_t i = 0; i < 7; i++)
        assert_true(has_blob(blobs, want[i]));
    free(blobs);
    expect_fsck_clean(d);
    /* a platform together with ALL_PLATFORMS */
    assert_int_equal(ocidir_copy(f->s, "multi", "linux/amd64", d, "x", &o, NULL), OCIDIR_E_INVALID);
    o.flags = 1u << 7;
    assert_int_equal(ocidir_copy(f->s, "multi", NULL, d, "x", &o, NULL), OCIDIR_E_INVALID);
    assert_int_equal(ocidir_copy(f->s, "multi", NULL, d, "bad tag", NULL, NULL), OCIDIR_E_INVALID);
    assert_int_equal(ocidir_copy(NULL, "multi", NULL, d, "x", NULL, NULL), OCIDIR_E_INVALID);
    assert_int_equal(ocidir_copy(f->s, NULL, NULL, d, "x", NULL, NULL), OCIDIR_E_INVALID);
    assert_int_equal(ocidir_copy(f->s, "multi", NULL, d, NULL, NULL, NULL), OCIDIR_E_INVALID);
    ocidir_close(d);
}

static void test_copy_into_a_blobdir_cache(void **state)
{
    struct cfx *f = *state;
    ocidir_t *d = open_dst(f);
    tu_mkdir(f->cache);
    int cfd = open(f->cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cfd >= 0);
    assert_int_equal(ocidir_add_blobdir_fd(d, cfd, OCIDIR_BLOBDIR_WRITE), 0);
    close(cfd);
    ocidir_copy_options_t o = OCIDIR_COPY_OPTIONS_INIT;
    o.flags = OCIDIR_COPY_NO_HARDLINK;
    int rc = ocidir_copy(f->s, "multi", "linux/amd64", d, "cached", &o, NULL);
    if (rc)
        fail_msg("ocidir_copy: %s", ocidir_last_error());
    char *cblobs = tu_join(f->cache, "sha256");
    char *own = tu_join(f->dst, "blobs/sha256");
    assert_true(has_blob(cblobs, f->amd.manifest));
    assert_true(has_blob(cblobs, f->amd.config));
    assert_true(has_blob(cblobs, f->amd.layer));
    assert_int_equal(tu_count_entries(own), 0); /* nothing in the layout's own blobs */
    /* the copies are independent files (no hard link) */
    char *lp = tu_blob_path(f->src, f->amd.layer);
    char cp[1024];
    snprintf(cp, sizeof cp, "%s/%s", cblobs, tu_hex(f->amd.layer));
    struct stat a, b;
    assert_int_equal(stat(lp, &a), 0);
    assert_int_equal(stat(cp, &b), 0);
    assert_false(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    free(lp);
    free(cblobs);
    free(own);
    ocidir_image_t *im = NULL;
    assert_int_equal(ocidir_image_open(d, "cached", "linux/amd64", &im), 0);
    ocidir_image_close(im);
    ocidir_close(d);
}

static void test_copy_hard_links_on_one_filesystem(void **state)
{
    struct cfx *f = *state;
    ocidir_t *d = open_dst(f);
    ocidir_report_t *rep = NULL;
    assert_int_equal(ocidir_copy(f->s, "multi", "linux/amd64", d, "app", NULL, &rep), 0);
    for (size_t i = 0; i < ocidir_report_count(rep); i++) {
        ocidir_find_kind_t k;
        ocidir_report_get(rep, i, &k, NULL, NULL, NULL);
        assert_true(k == OCIDIR_FIND_LINKED || k == OCIDIR_FIND_REFLINKED);
    }
    ocidir_report_free(rep);
    ocidir_close(d);
}

/* A corrupt layer in the source: the copy fails naming it, no tag, and the
 * damaged bytes are not left in the destination. */
static void corrupt_source_fails(struct cfx *f, unsigned flags)
{
    char *lp = tu_blob_path(f->src, f->amd.layer);
    struct stat st;
    assert_int_equal(stat(lp, &st), 0);
    /* Replace (not rewrite in place): a new inode with one byte changed. */
    void *buf = NULL;
    ssize_t n = tu_read_file(lp, &buf);
    assert_true(n > 10);
    ((unsigned char *)buf)[n / 2] ^= 0x20;
    assert_int_equal(unlink(lp), 0);
    tu_write_file(lp, buf, (size_t)n);
    free(buf);
    ocidir_t *d = open_dst(f);
    ocidir_copy_options_t o = OCIDIR_COPY_OPTIONS_INIT;
    o.flags = flags;
    int rc = ocidir_copy(f->s, "multi", "linux/amd64", d, "app", &o, NULL);
    assert_int_equal(rc, OCIDIR_E_DIGEST);
    if (!strstr(ocidir_last_error(), f->amd.layer))
        fail_msg("message \"%s\" does not name %s", ocidir_last_error(), f->amd.layer);
    char dg[OCIDIR_DIGEST_MAX];
    assert_int_equal(ocidir_resolve(d, "app", dg, NULL, NULL), OCIDIR_E_NOT_FOUND);
    char *own = tu_join(f->dst, "blobs/sha256");
    assert_false(has_blob(own, f->amd.layer));
    free(own);
    free(lp);
    ocidir_close(d);
}

static void test_copy_of_a_corrupt_blob_fails_naming_it_and_leaves_no_tag(void **state)
{
    corrupt_source_fails(*state, 0);
}

static void test_copy_of_a_corrupt_blob_by_copying_fails_the_same(void **state)
{
    corrupt_source_fails(*state, OCIDIR_COPY_NO_HARDLINK);
}

/* A progress callback that cancels at its second call: no tag. */
static int cancel_second(uint64_t done, uint64_t total, void *user)
{
    (void)done, (void)total;
    return ++*(int *)user >= 2;
}

static void test_copy_canceled_leaves_no_tag(void **state)
{
    struct cfx *f = *state;
    ocidir_t *d = open_dst(f);
    int calls = 0;
    ocidir_copy_options_t o = OCIDIR_COPY_OPTIONS_INIT;
    o.progress = cancel_second;
    o.user = &calls;
    assert_int_equal(ocidir_copy(f->s, "multi", "linux/amd64", d, "app", &o, NULL), OCIDIR_E_CANCELED);
    char dg[OCIDIR_DIGEST_MAX];
    assert_int_equal(ocidir_resolve(d, "app", dg, NULL, NULL), OCIDIR_E_NOT_FOUND);
    ocidir_close(d);
}

/* A blob the destination already has is verified, not trusted: a damaged
 * one fails the copy naming it, and no tag is written. */
static void test_copy_verifies_blobs_the_destination_has(void **state)
{
    struct cfx *f = *state;
    ocidir_t *d = open_dst(f);
    char *own = tu_join(f->dst, "blobs/sha256");
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", own, tu_hex(f->amd.config));
    void *buf = NULL;
    char *cp = tu_blob_path(f->src, f->amd.config);
    ssize_t n = tu_read_file(cp, &buf);
    assert_true(n > 2);
    ((unsigned char *)buf)[1] ^= 0x01;
    tu_write_file(p, buf, (size_t)n);
    free(buf);
    free(cp);
    free(own);
    assert_int_equal(ocidir_copy(f->s, "multi", "linux/amd64", d, "app", NULL, NULL), OCIDIR_E_DIGEST);
    if (!strstr(ocidir_last_error(), f->amd.config) || !strstr(ocidir_last_error(), "already in"))
        fail_msg("message \"%s\" does not name %s already in the destination", ocidir_last_error(), f->amd.config);
    char dg[OCIDIR_DIGEST_MAX];
    assert_int_equal(ocidir_resolve(d, "app", dg, NULL, NULL), OCIDIR_E_NOT_FOUND);
    ocidir_close(d);
}

static void test_copy_into_a_read_only_handle_is_refused(void **state)
{
    struct cfx *f = *state;
    ocidir_close(open_dst(f)); /* create it */
    ocidir_t *d = NULL;
    assert_int_equal(ocidir_open(AT_FDCWD, f->dst, OCIDIR_OPEN_RDONLY, &d), 0);
    assert_int_equal(ocidir_copy(f->s, "multi", "linux/amd64", d, "app", NULL, NULL), OCIDIR_E_READONLY);
    assert_int_equal(tu_count_entries(f->dst), 3); /* oci-layout, index.json, blobs: nothing added */
    ocidir_close(d);
}

static void test_copy_options_init(void **state)
{
    (void)state;
    ocidir_copy_options_t o;
    memset(&o, 0xff, sizeof o);
    assert_int_equal(ocidir_copy_options_init(&o, sizeof o), 0);
    assert_int_equal(o.struct_size, sizeof o);
    assert_int_equal(o.flags, 0);
    assert_null(o.progress);
    assert_int_equal(ocidir_copy_options_init(NULL, sizeof o), OCIDIR_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_user_lookup_by_name_gives_uid_and_primary_gid),
        T(test_user_lookup_empty_spec_is_root),
        T(test_user_lookup_by_number),
        T(test_user_lookup_user_and_group),
        T(test_user_lookup_strict_lines_never_match),
        T(test_user_lookup_unknown_name_fails_naming_it),
        T(test_user_lookup_malformed_specs_are_invalid),
        T(test_user_lookup_missing_passwd),
        T(test_user_lookup_absolute_symlink_resolves_inside_the_rootfs),
        T(test_user_lookup_symlink_out_of_the_rootfs_reads_nothing_outside),
        T(test_user_lookup_refuses_a_huge_file),
        T(test_user_lookup_refuses_a_huge_line),
        T(test_user_lookup_refuses_a_non_regular_passwd),
        cmocka_unit_test(test_lxc_encoding_round_trips_through_lxc_splitter),
        cmocka_unit_test(test_lxc_encoding_quotes_only_what_needs_it),
        cmocka_unit_test(test_lxc_encoding_refuses_what_lxc_cannot_express),
#undef T
#define C(fn) cmocka_unit_test_setup_teardown(fn, copy_setup, copy_teardown)
        C(test_copy_one_platform_of_a_multi_platform_index),
        C(test_copy_all_platforms_copies_the_whole_index),
        C(test_copy_into_a_blobdir_cache),
        C(test_copy_hard_links_on_one_filesystem),
        C(test_copy_of_a_corrupt_blob_fails_naming_it_and_leaves_no_tag),
        C(test_copy_of_a_corrupt_blob_by_copying_fails_the_same),
        C(test_copy_canceled_leaves_no_tag),
        C(test_copy_verifies_blobs_the_destination_has),
        C(test_copy_into_a_read_only_handle_is_refused),
        cmocka_unit_test(test_copy_options_init),
#undef C
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
