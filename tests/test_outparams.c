/* The out-parameter rule of ocidir.h's conventions, for every function that
 * has out-parameters: on failure nothing is written to them (the exception,
 * OCIDIR_E_NOT_DURABLE, is covered by test_integrity), and a handle
 * out-parameter that must not be NULL is OCIDIR_E_INVALID when it is.
 *
 * Each case pre-fills every out-parameter with 0xA5 bytes (a digest buffer,
 * a size, a pointer, an fd), makes the call fail in a realistic way (a
 * missing blob or tag, a read-only handle, bad options, an index past the
 * end, a name taken by a directory, a blob larger than the caller's limit, a
 * corrupt blob) and checks every byte afterwards.  Public header only. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MT_TAR "application/vnd.oci.image.layer.v1.tar"
#define MISSING "sha256:0000000000000000000000000000000000000000000000000000000000000000"

/* ---- sentinels ------------------------------------------------------------ */

#define SENT(x) memset(&(x), 0xA5, sizeof(x))
#define UNTOUCHED(x) assert_untouched(&(x), sizeof(x), #x, __LINE__)

static void assert_untouched(const void *p, size_t n, const char *what, int line)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0xA5) {
            print_error("line %d: %s was written on failure (byte %zu is 0x%02x)\n", line, what, i, b[i]);
            fail();
        }
}

/* ---- the fixture ---------------------------------------------------------- */

typedef struct {
    char *path;          /* the layout */
    ocidir_t *d;         /* writable */
    ocidir_t *ro;        /* read-only, same layout */
    ocidir_image_t *img; /* tag "t": one uncompressed layer, an image config */
    ocidir_image_t *art; /* tag "a": an artifact (empty config) */
    char layer[OCIDIR_DIGEST_MAX];
    char manifest[OCIDIR_DIGEST_MAX];
} fx_t;

static unsigned char g_tar[4096];
static size_t g_tar_len;

static void fx_open(fx_t *f)
{
    memset(f, 0, sizeof *f);
    f->d = tu_scratch_layout(&f->path);
    tu_keep(f->path);
    assert_ocidir(0, ocidir_open(AT_FDCWD, f->path, OCIDIR_OPEN_RDONLY, &f->ro));

    g_tar_len = tu_make_tar(g_tar, "hello", (const unsigned char *)"hello\n", 6);
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(f->d, OCIDIR_COMPRESSION_NONE, 0, 0, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, g_tar, g_tar_len));
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(f->d, "linux/amd64", &b));
    assert_ocidir(0, ocidir_builder_add_layer_writer(b, w, "test"));
    assert_ocidir(0, ocidir_builder_set_label(b, "k", "v"));
    assert_ocidir(0, ocidir_builder_commit(b, "t", 0, f->manifest));
    ocidir_builder_free(b);
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, g_tar, g_tar_len, f->layer));

    assert_ocidir(0, ocidir_builder_new_artifact(f->d, "application/vnd.example.thing", &b));
    assert_ocidir(0, ocidir_builder_commit(b, "a", 0, NULL));
    ocidir_builder_free(b);

    assert_ocidir(0, ocidir_image_open(f->d, "t", "linux/amd64", &f->img));
    assert_ocidir(0, ocidir_image_open(f->d, "a", "linux/amd64", &f->art));
}

/* An image index listing `manifest` for linux/amd64. */
static void put_index(ocidir_t *d, const char *manifest, char out[OCIDIR_DIGEST_MAX])
{
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_stat(d, manifest, &size));
    char doc[512];
    int n = snprintf(doc, sizeof doc,
                     "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                     "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                     "\"digest\":\"%s\",\"size\":%llu,\"platform\":{\"os\":\"linux\","
                     "\"architecture\":\"amd64\"}}]}",
                     manifest, (unsigned long long)size);
    assert_true(n > 0 && (size_t)n < sizeof doc);
    assert_ocidir(0, ocidir_blob_put(d, doc, (size_t)n, out));
}

static void fx_close(fx_t *f)
{
    ocidir_image_close(f->img);
    ocidir_image_close(f->art);
    ocidir_close(f->ro);
    ocidir_close(f->d);
}

/* ---- 1. NULL handle out-parameters (table) -------------------------------- */

typedef int (*null_case_fn)(fx_t *f);

static int n_open(fx_t *f) { return ocidir_open(AT_FDCWD, f->path, 0, NULL); }
static int n_writer_new(fx_t *f) { return ocidir_blob_writer_new(f->d, OCIDIR_SHA256, NULL); }
static int n_writer_new_opts(fx_t *f) { return ocidir_blob_writer_new_opts(f->d, NULL, NULL); }
static int n_blob_open(fx_t *f) { return ocidir_blob_open(f->d, f->layer, -1, NULL); }
static int n_read_all(fx_t *f)
{
    size_t len;
    return ocidir_blob_read_all(f->d, f->layer, -1, 1 << 20, NULL, &len);
}
static int n_open_fd(fx_t *f) { return ocidir_blob_open_fd(f->d, f->layer, NULL); }
static int n_tag_list(fx_t *f) { return ocidir_tag_list(f->d, NULL); }
static int n_image_open(fx_t *f) { return ocidir_image_open(f->d, "t", "linux/amd64", NULL); }
static int n_annotations(fx_t *f) { return ocidir_image_annotations(f->img, OCIDIR_MANIFEST, NULL); }
static int n_config_strv(fx_t *f) { return ocidir_image_config_strv(f->img, OCIDIR_CONFIG_ENV, NULL); }
static int n_config_string(fx_t *f) { return ocidir_image_config_string(f->img, OCIDIR_CONFIG_OS, NULL); }
static int n_config_labels(fx_t *f) { return ocidir_image_config_labels(f->img, NULL); }
static int n_referrers(fx_t *f) { return ocidir_referrers(f->d, f->manifest, NULL, NULL); }
static int n_layer_writer_new(fx_t *f) { return ocidir_layer_writer_new(f->d, OCIDIR_COMPRESSION_NONE, 0, 0, NULL); }
static int n_layer_writer_new_opts(fx_t *f) { return ocidir_layer_writer_new_opts(f->d, NULL, NULL); }
static int n_layer_open(fx_t *f) { return ocidir_layer_open(f->d, MT_TAR, f->layer, -1, NULL, NULL); }
static int n_layer_open_opts(fx_t *f) { return ocidir_layer_open_opts(f->d, MT_TAR, f->layer, -1, NULL, NULL, NULL); }
static int n_image_layer_open(fx_t *f) { return ocidir_image_layer_open(f->img, 0, NULL); }
static int n_image_layer_open_opts(fx_t *f) { return ocidir_image_layer_open_opts(f->img, 0, NULL, NULL); }
static int n_builder_new(fx_t *f) { return ocidir_builder_new(f->d, NULL, NULL); }
static int n_builder_new_artifact(fx_t *f)
{
    return ocidir_builder_new_artifact(f->d, "application/vnd.example.thing", NULL);
}
static int n_builder_from(fx_t *f) { return ocidir_builder_from(f->d, "t", "linux/amd64", NULL); }
static int n_fsck(fx_t *f) { return ocidir_fsck(f->d, NULL, NULL); }
static int n_digest_buffer(fx_t *f)
{
    (void)f;
    return ocidir_digest_buffer(OCIDIR_SHA256, "x", 1, NULL);
}

static const struct {
    const char *name;
    null_case_fn fn;
} null_cases[] = {
    {"ocidir_open", n_open},
    {"ocidir_blob_writer_new", n_writer_new},
    {"ocidir_blob_writer_new_opts", n_writer_new_opts},
    {"ocidir_blob_open", n_blob_open},
    {"ocidir_blob_read_all (buf_out)", n_read_all},
    {"ocidir_blob_open_fd (fd_out)", n_open_fd},
    {"ocidir_tag_list", n_tag_list},
    {"ocidir_image_open", n_image_open},
    {"ocidir_image_annotations", n_annotations},
    {"ocidir_image_config_strv", n_config_strv},
    {"ocidir_image_config_string", n_config_string},
    {"ocidir_image_config_labels", n_config_labels},
    {"ocidir_referrers", n_referrers},
    {"ocidir_layer_writer_new", n_layer_writer_new},
    {"ocidir_layer_writer_new_opts", n_layer_writer_new_opts},
    {"ocidir_layer_open", n_layer_open},
    {"ocidir_layer_open_opts", n_layer_open_opts},
    {"ocidir_image_layer_open", n_image_layer_open},
    {"ocidir_image_layer_open_opts", n_image_layer_open_opts},
    {"ocidir_builder_new", n_builder_new},
    {"ocidir_builder_new_artifact", n_builder_new_artifact},
    {"ocidir_builder_from", n_builder_from},
    {"ocidir_fsck", n_fsck},
    {"ocidir_digest_buffer (digest_out)", n_digest_buffer},
};

/* Every out-parameter the header says must not be NULL is checked. */
static void test_null_handle_out_is_invalid(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    int bad = 0;
    for (size_t i = 0; i < N(null_cases); i++) {
        int rc = null_cases[i].fn(&f);
        if (rc != OCIDIR_E_INVALID) {
            print_error("%s with a NULL out-parameter returned %d (%s), not OCIDIR_E_INVALID\n", null_cases[i].name,
                        rc, ocidir_strerror(rc));
            bad++;
        } else if (strstr(ocidir_last_error(), "NULL") == NULL) {
            print_error("%s: the message does not name the NULL argument: %s\n", null_cases[i].name,
                        ocidir_last_error());
            bad++;
        }
    }
    fx_close(&f);
    assert_int_equal(bad, 0);
}

/* ---- 2. failures leave every out-parameter as it was ---------------------- */

static void test_digests_and_layout(void **state)
{
    (void)state;
    char dg[OCIDIR_DIGEST_MAX];
    SENT(dg);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_digest_buffer((ocidir_digest_alg_t)7, "x", 1, dg));
    UNTOUCHED(dg);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_digest_buffer(OCIDIR_SHA256, NULL, 1, dg));
    UNTOUCHED(dg);

    char *dir = tu_keep(tu_scratch_dir("outparams-open"));
    char *absent = tu_keep(tu_join(dir, "absent"));
    ocidir_t *out;
    SENT(out);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_open(AT_FDCWD, absent, 0, &out));
    UNTOUCHED(out);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_open(AT_FDCWD, dir, 0, &out)); /* not a layout */
    UNTOUCHED(out);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE | OCIDIR_OPEN_RDONLY, &out));
    UNTOUCHED(out);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_open(AT_FDCWD, dir, 1u << 30, &out));
    UNTOUCHED(out);
}

static void test_blob_writers(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    ocidir_blob_writer_t *w;
    char dg[OCIDIR_DIGEST_MAX];
    uint64_t size;

    /* writer_new / writer_new_opts: read-only handle, bad algorithm, bad options. */
    SENT(w);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_writer_new(f.ro, OCIDIR_SHA256, &w));
    UNTOUCHED(w);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_new(f.d, (ocidir_digest_alg_t)9, &w));
    UNTOUCHED(w);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_writer_new_opts(f.ro, NULL, &w));
    UNTOUCHED(w);
    ocidir_put_options_t bad = OCIDIR_PUT_OPTIONS_INIT;
    bad.flags = 1u << 20;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_new_opts(f.d, &bad, &w));
    UNTOUCHED(w);
    ocidir_put_options_t small = OCIDIR_PUT_OPTIONS_INIT;
    small.struct_size = 1;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_new_opts(f.d, &small, &w));
    UNTOUCHED(w);

    /* commit: an expectation not met. */
    assert_ocidir(0, ocidir_blob_writer_new(f.d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, MISSING, -1));
    assert_ocidir(0, ocidir_blob_writer_write(w, "abc", 3));
    SENT(dg);
    SENT(size);
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_writer_commit(w, dg, &size));
    UNTOUCHED(dg);
    UNTOUCHED(size);

    /* commit: a writer poisoned by a failed write. */
    assert_ocidir(0, ocidir_blob_writer_new(f.d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, NULL, 2));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_writer_write(w, "abc", 3));
    assert_ocidir(OCIDIR_E_STATE, ocidir_blob_writer_commit(w, dg, &size));
    UNTOUCHED(dg);
    UNTOUCHED(size);

    /* commit: the blob's name is taken by a directory. */
    char want[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, "taken", 5, want));
    char *bp = tu_keep(tu_blob_path(f.path, want));
    tu_mkdir(bp);
    assert_ocidir(0, ocidir_blob_writer_new(f.d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, "taken", 5));
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_blob_writer_commit(w, dg, &size));
    UNTOUCHED(dg);
    UNTOUCHED(size);

    /* put / put_opts / put_fd / put_fd_opts. */
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_put(f.ro, "x", 1, dg));
    UNTOUCHED(dg);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_blob_put(f.d, "taken", 5, dg));
    UNTOUCHED(dg);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_put_opts(f.d, "x", 1, &bad, dg));
    UNTOUCHED(dg);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_put_opts(f.d, NULL, 1, NULL, dg));
    UNTOUCHED(dg);
    int pfd = open(bp, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* read(2) on it: EISDIR */
    assert_true(pfd >= 0);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_put_fd(f.ro, pfd, dg, &size));
    UNTOUCHED(dg);
    UNTOUCHED(size);
    assert_ocidir(OCIDIR_E_IO, ocidir_blob_put_fd(f.d, pfd, dg, &size));
    UNTOUCHED(dg);
    UNTOUCHED(size);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_put_fd_opts(f.d, pfd, &bad, dg, &size));
    UNTOUCHED(dg);
    UNTOUCHED(size);
    assert_ocidir(OCIDIR_E_IO, ocidir_blob_put_fd_opts(f.d, -1, NULL, dg, &size));
    UNTOUCHED(dg);
    UNTOUCHED(size);
    close(pfd);
    fx_close(&f);
}

static void test_blob_lookups(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    /* stat, open, read_all and open_fd of a missing blob and a bad digest
     * (the shared helper checks each out-parameter). */
    tu_expect_lookups_fail_untouched(f.d, MISSING, OCIDIR_E_NOT_FOUND);
    tu_expect_lookups_fail_untouched(f.d, "sha256:nothex", OCIDIR_E_BAD_DIGEST);
    tu_expect_lookups_fail_untouched(f.d, "md5:d41d8cd98f00b204e9800998ecf8427e", OCIDIR_E_UNSUPPORTED);

    uint64_t size;
    ocidir_blob_reader_t *r;
    void *buf;
    size_t len;
    int fd;
    SENT(size);
    SENT(r);
    SENT(buf);
    SENT(len);
    SENT(fd);
    /* A size the caller did not expect. */
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_open(f.d, f.layer, 1, &r));
    UNTOUCHED(r);
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_read_all(f.d, f.layer, 1, 1 << 20, &buf, &len));
    UNTOUCHED(buf);
    UNTOUCHED(len);
    /* Larger than the caller's limit. */
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_blob_read_all(f.d, f.layer, -1, 16, &buf, &len));
    UNTOUCHED(buf);
    UNTOUCHED(len);
    /* Corrupt content of the right size: found at the end of the read. */
    char *bp = tu_keep(tu_blob_path(f.path, f.layer));
    unsigned char copy[sizeof g_tar];
    memcpy(copy, g_tar, g_tar_len);
    copy[0] ^= 1;
    tu_write_file(bp, copy, g_tar_len);
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(f.d, f.layer, -1, 1 << 20, &buf, &len));
    UNTOUCHED(buf);
    UNTOUCHED(len);
    /* A directory under the blob's name. */
    char fake[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, "dir", 3, fake));
    tu_mkdir(tu_keep(tu_blob_path(f.path, fake)));
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_blob_stat(f.d, fake, &size));
    UNTOUCHED(size);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_blob_open(f.d, fake, -1, &r));
    UNTOUCHED(r);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_blob_open_fd(f.d, fake, &fd));
    UNTOUCHED(fd);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_blob_read_all(f.d, fake, -1, 1 << 20, &buf, &len));
    UNTOUCHED(buf);
    UNTOUCHED(len);
    fx_close(&f);
}

static void test_index_and_tags(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char **tags;
    char dg[OCIDIR_DIGEST_MAX];
    char *mt;
    uint64_t size;
    SENT(tags);
    SENT(dg);
    SENT(mt);
    SENT(size);

    /* resolve: no such tag, no such blob, ambiguity-free bad refs. */
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_resolve(f.d, "nope", dg, &mt, &size));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_resolve(f.d, MISSING, dg, &mt, &size));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_resolve(f.d, "not a ref!", dg, &mt, &size));
    /* A digest that names a layer (not a manifest or index). */
    int rc = ocidir_resolve(f.d, f.layer, dg, &mt, &size);
    assert_true(rc < 0);
    UNTOUCHED(dg);
    UNTOUCHED(mt);
    UNTOUCHED(size);

    /* tag_list and resolve on an index.json past the JSON limit. */
    assert_ocidir(0, ocidir_set_json_limit(f.d, 2));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_tag_list(f.d, &tags));
    UNTOUCHED(tags);
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_resolve(f.d, "t", dg, &mt, &size));
    UNTOUCHED(dg);
    UNTOUCHED(mt);
    UNTOUCHED(size);
    assert_ocidir(0, ocidir_set_json_limit(f.d, 0));

    /* tag_list on a malformed index.json. */
    char *ij = tu_keep(tu_join(f.path, "index.json"));
    tu_write_file(ij, "{", 1);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_tag_list(f.d, &tags));
    UNTOUCHED(tags);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_resolve(f.d, "t", dg, &mt, &size));
    UNTOUCHED(dg);
    UNTOUCHED(mt);
    UNTOUCHED(size);
    fx_close(&f);
}

static void test_images(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    ocidir_image_t *img;
    char dg[OCIDIR_DIGEST_MAX];
    char *mt;
    uint64_t size;
    const void *buf;
    size_t len;
    char **v;
    char *s;
    SENT(img);
    SENT(dg);
    SENT(mt);
    SENT(size);
    SENT(buf);
    SENT(len);
    SENT(v);
    SENT(s);

    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_open(f.d, "nope", NULL, &img));
    /* Through an index: no manifest for the platform. */
    char idx[OCIDIR_DIGEST_MAX];
    put_index(f.d, f.manifest, idx);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_open(f.d, idx, "linux/s390x", &img));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_open(f.d, "t", "not/a/plat/form", &img));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_open(f.d, MISSING, NULL, &img));
    UNTOUCHED(img);

    /* The accessors that can only fail on their arguments. */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_manifest(NULL, dg, &buf, &len));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_descriptor(NULL, &mt, dg, &size));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_raw(NULL, &buf, &len));
    UNTOUCHED(dg);
    UNTOUCHED(mt);
    UNTOUCHED(size);
    UNTOUCHED(buf);
    UNTOUCHED(len);

    /* Index past the end. */
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_layer(f.img, 1, &mt, dg, &size));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_layer(f.img, (size_t)-2, &mt, dg, &size));
    UNTOUCHED(mt);
    UNTOUCHED(dg);
    UNTOUCHED(size);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_annotations(f.img, 1, &v));
    UNTOUCHED(v);

    /* Config fields: a field of the other kind; an artifact has no config. */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_strv(f.img, OCIDIR_CONFIG_OS, &v));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_strv(f.img, (ocidir_config_field_t)99, &v));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_config_strv(f.art, OCIDIR_CONFIG_ENV, &v));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_config_labels(f.art, &v));
    UNTOUCHED(v);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_string(f.img, OCIDIR_CONFIG_ENV, &s));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_config_string(f.art, OCIDIR_CONFIG_OS, &s));
    UNTOUCHED(s);

    /* Referrers: bad digest, unsupported algorithm, bad artifact type. */
    assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_referrers(f.d, "sha256:xyz", NULL, &v));
    assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_referrers(f.d, "md5:d41d8cd98f00b204e9800998ecf8427e", NULL, &v));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_referrers(f.d, f.manifest, "no media type", &v));
    assert_ocidir(0, ocidir_set_json_limit(f.d, 2));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_referrers(f.d, f.manifest, NULL, &v));
    assert_ocidir(0, ocidir_set_json_limit(f.d, 0));
    UNTOUCHED(v);
    fx_close(&f);
}

static void test_layers(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    ocidir_layer_writer_t *w;
    ocidir_layer_reader_t *r;
    char dg[OCIDIR_DIGEST_MAX], diff[OCIDIR_DIGEST_MAX];
    uint64_t size;
    SENT(w);
    SENT(r);

    assert_ocidir(OCIDIR_E_READONLY, ocidir_layer_writer_new(f.ro, OCIDIR_COMPRESSION_GZIP, 0, 0, &w));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new(f.d, OCIDIR_COMPRESSION_GZIP, 42, 0, &w));
    assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_layer_writer_new(f.d, (ocidir_compression_t)7, 0, 0, &w));
    ocidir_layer_writer_options_t lwo = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
    lwo.flags = 1u << 5; /* no such flag (1 is OCIDIR_LAYER_WRITER_CHECK_TAR) */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new_opts(f.d, &lwo, &w));
    lwo.flags = 0;
    lwo.zstd_window_log = 12; /* a zstd field on gzip */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new_opts(f.d, &lwo, &w));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_layer_writer_new_opts(f.ro, NULL, &w));
    UNTOUCHED(w);

    /* A failing commit: the blob's name is taken by a directory. */
    char want[OCIDIR_DIGEST_MAX];
    static const char data[] = "layer bytes that are not a tar, which a writer does not check";
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, data, sizeof data, want));
    tu_mkdir(tu_keep(tu_blob_path(f.path, want)));
    assert_ocidir(0, ocidir_layer_writer_new(f.d, OCIDIR_COMPRESSION_NONE, 0, 0, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, data, sizeof data));
    SENT(dg);
    SENT(size);
    SENT(diff);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_layer_writer_commit(w, dg, &size, diff));
    UNTOUCHED(dg);
    UNTOUCHED(size);
    UNTOUCHED(diff);

    /* Readers: missing blob, media type that is no tar layer, bad options,
     * index past the end. */
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_layer_open(f.d, MT_TAR, MISSING, -1, NULL, &r));
    assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_layer_open(f.d, "text/plain", f.layer, -1, NULL, &r));
    ocidir_layer_reader_options_t lro = OCIDIR_LAYER_READER_OPTIONS_INIT;
    lro.flags = 1;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_open_opts(f.d, MT_TAR, f.layer, -1, NULL, &lro, &r));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_layer_open(f.img, 1, &r));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_layer_open_opts(f.img, 0, &lro, &r));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_layer_open_opts(f.img, 5, NULL, &r));
    UNTOUCHED(r);
    fx_close(&f);
}

static void test_builders(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    ocidir_builder_t *b;
    char dg[OCIDIR_DIGEST_MAX];
    SENT(b);
    SENT(dg);

    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_new(f.d, "nonsense", &b));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_new_artifact(f.d, "not a media type", &b));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_builder_from(f.d, "nope", NULL, &b));
    char idx[OCIDIR_DIGEST_MAX];
    put_index(f.d, f.manifest, idx);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_builder_from(f.d, idx, "linux/s390x", &b));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_from(f.d, "t", "nonsense", &b));
    UNTOUCHED(b);

    /* commit: bad tag, unknown flag, read-only handle, NOREPLACE over a tag. */
    ocidir_builder_t *ok = NULL;
    assert_ocidir(0, ocidir_builder_new(f.d, "linux/amd64", &ok));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_commit(ok, "bad tag!", 0, dg));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_commit(ok, "x", 1u << 9, dg));
    assert_ocidir(OCIDIR_E_EXISTS, ocidir_builder_commit(ok, "t", OCIDIR_TAG_NOREPLACE, dg));
    UNTOUCHED(dg);
    ocidir_builder_free(ok);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_builder_new(f.ro, "linux/amd64", &b));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_builder_from(f.ro, "t", NULL, &b));
    UNTOUCHED(b);
    fx_close(&f);
}

static void test_reports(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, ocidir_fsck(f.d, NULL, &rep));
    size_t n = ocidir_report_count(rep);

    ocidir_find_kind_t kind;
    const char *subject, *message;
    uint64_t size;
    SENT(kind);
    SENT(subject);
    SENT(message);
    SENT(size);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_report_get(rep, n, &kind, &subject, &size, &message));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_report_get(rep, (size_t)-1, &kind, &subject, &size, &message));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_report_get(NULL, 0, &kind, &subject, &size, &message));
    UNTOUCHED(kind);
    UNTOUCHED(subject);
    UNTOUCHED(message);
    UNTOUCHED(size);
    ocidir_report_free(rep);
    fx_close(&f);
}

static void test_housekeeping(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    ocidir_report_t *rep, *rep2;
    ocidir_t *out;
    SENT(rep);
    SENT(rep2);
    SENT(out);

    /* fsck: bad options. */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_fsck(f.d, TU_FSCK(1u << 7, 0, NULL, NULL), &rep));
    ocidir_fsck_options_t fo = OCIDIR_FSCK_OPTIONS_INIT;
    fo.struct_size = 2;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_fsck(f.d, &fo, &rep));
    UNTOUCHED(rep);

    /* gc: read-only without DRY_RUN, bad options, a damaged graph. */
    assert_ocidir(OCIDIR_E_READONLY, ocidir_gc(f.ro, NULL, &rep));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_gc(f.d, TU_GC(1u << 9, NULL, NULL), &rep));
    UNTOUCHED(rep);

    /* cache gc: bad options; a read-only layout without DRY_RUN. */
    int cfd = open(f.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cfd >= 0);
    ocidir_t *ls[1] = {f.d};
    assert_ocidir(OCIDIR_E_INVALID, ocidir_cache_gc(cfd, ls, 1, TU_GC(1u << 9, NULL, NULL), &rep));
    ocidir_t *rs[1] = {f.ro};
    assert_ocidir(OCIDIR_E_READONLY, ocidir_cache_gc(cfd, rs, 1, NULL, &rep));
    close(cfd);
    UNTOUCHED(rep);

    /* tag_remove_gc: no such tag, bad options, read-only handle. */
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_tag_remove_gc(f.d, "nope", NULL, &rep));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_remove_gc(f.d, "t", TU_GC(1u << 9, NULL, NULL), &rep));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_tag_remove_gc(f.ro, "t", NULL, &rep));
    UNTOUCHED(rep);

    /* clone: destination not empty; bad options; a missing blob in the source. */
    char *dir = tu_keep(tu_scratch_dir("outparams-clone"));
    char *full = tu_keep(tu_join(dir, "full"));
    tu_mkdir(full);
    char *in = tu_keep(tu_join(full, "x"));
    tu_write_file(in, "x", 1);
    assert_ocidir(OCIDIR_E_EXISTS, ocidir_clone(f.d, AT_FDCWD, full, NULL, &out, &rep2));
    char *dest = tu_keep(tu_join(dir, "dest"));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_clone(f.d, AT_FDCWD, dest, TU_CLONE(1u << 9, NULL, NULL), &out, &rep2));
    assert_true(unlink(tu_keep(tu_blob_path(f.path, f.layer))) == 0);
    int rc = ocidir_clone(f.d, AT_FDCWD, dest, NULL, &out, &rep2);
    assert_true(rc < 0);
    UNTOUCHED(out);
    UNTOUCHED(rep2);
    assert_false(tu_exists(dest));

    /* gc on the graph that lost its layer still runs (an absent layer
     * references nothing); a manifest removed too is damage. */
    assert_true(unlink(tu_keep(tu_blob_path(f.path, f.manifest))) == 0);
    assert_true(ocidir_gc(f.d, NULL, &rep) < 0);
    UNTOUCHED(rep);
    fx_close(&f);
}

static void test_unpack(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    ocidir_report_t *rep;
    SENT(rep);
    char *dir = tu_keep(tu_scratch_dir("outparams-unpack"));
    char *full = tu_keep(tu_join(dir, "full"));
    tu_mkdir(full);
    tu_write_file(tu_keep(tu_join(full, "x")), "x", 1);
    assert_ocidir(OCIDIR_E_EXISTS, ocidir_unpack(f.img, AT_FDCWD, full, NULL, &rep));
    UNTOUCHED(rep);
    char *dest = tu_keep(tu_join(dir, "dest"));
    ocidir_unpack_options_t uo = OCIDIR_UNPACK_OPTIONS_INIT;
    uo.owner_mode = 42;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_unpack(f.img, AT_FDCWD, dest, &uo, &rep));
    UNTOUCHED(rep);
    /* A corrupt layer: the destination goes, the report is not handed out. */
    char *bp = tu_keep(tu_blob_path(f.path, f.layer));
    unsigned char copy[sizeof g_tar];
    memcpy(copy, g_tar, g_tar_len);
    copy[g_tar_len - 1] ^= 1;
    tu_write_file(bp, copy, g_tar_len);
    uo = (ocidir_unpack_options_t)OCIDIR_UNPACK_OPTIONS_INIT;
    uo.owner_mode = OCIDIR_UNPACK_OWNER_ROOTLESS;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_unpack(f.img, AT_FDCWD, dest, &uo, &rep));
    UNTOUCHED(rep);
    assert_false(tu_exists(dest));
    fx_close(&f);
}

/* ---- 3. options_init: a struct_size too small leaves the struct as it was,
 * and the message says why - */

static void test_options_init(void **state)
{
    (void)state;
    ocidir_put_options_t po;
    ocidir_layer_writer_options_t lwo;
    ocidir_layer_reader_options_t lro;
    ocidir_add_layer_options_t alo;
    ocidir_fsck_options_t fo;
    ocidir_gc_options_t go;
    ocidir_clone_options_t co;
    ocidir_unpack_options_t uo;
    SENT(po);
    SENT(lwo);
    SENT(lro);
    SENT(alo);
    SENT(fo);
    SENT(go);
    SENT(co);
    SENT(uo);
    /* Each failure names its function and the reason in the message. */
#define INIT_FAILS(fn, opts)                                                                   \
    do {                                                                                       \
        ocidir_set_json_limit(NULL, 0); /* a failure with another message first */            \
        assert_ocidir(OCIDIR_E_INVALID, fn(&(opts), 1));                                       \
        if (!strstr(ocidir_last_error(), #fn) || !strstr(ocidir_last_error(), "struct_size"))  \
            fail_msg("%s: the message does not name the call and struct_size: %s", #fn,       \
                     ocidir_last_error());                                                     \
        assert_ocidir(OCIDIR_E_INVALID, fn(NULL, sizeof(opts)));                               \
        if (!strstr(ocidir_last_error(), #fn) || !strstr(ocidir_last_error(), "NULL"))         \
            fail_msg("%s: the message does not name the call and the NULL: %s", #fn,          \
                     ocidir_last_error());                                                     \
    } while (0)
    INIT_FAILS(ocidir_put_options_init, po);
    INIT_FAILS(ocidir_layer_writer_options_init, lwo);
    INIT_FAILS(ocidir_layer_reader_options_init, lro);
    INIT_FAILS(ocidir_add_layer_options_init, alo);
    INIT_FAILS(ocidir_fsck_options_init, fo);
    INIT_FAILS(ocidir_gc_options_init, go);
    INIT_FAILS(ocidir_clone_options_init, co);
    INIT_FAILS(ocidir_unpack_options_init, uo);
    UNTOUCHED(po);
    UNTOUCHED(lwo);
    UNTOUCHED(lro);
    UNTOUCHED(alo);
    UNTOUCHED(fo);
    UNTOUCHED(go);
    UNTOUCHED(co);
    UNTOUCHED(uo);
}

/* ---- 4. OCIDIR_E_NOT_DURABLE from an index.json rewrite -------------------- */

/* In this (child) process from now on, fsync(2) of the layout's root
 * directory fails with EIO (every fd open on it now); other fsyncs and
 * fdatasync work.  So a blob publish is durable and the index.json rewrite
 * that follows is not.  Returns 0, or -1. */
static int fail_root_fsync(const char *layout)
{
    char want[PATH_MAX], link[64], got[PATH_MAX];
    if (!realpath(layout, want))
        return -1;
    int fds[16];
    size_t n = 0;
    for (int fd = 0; fd < 1024 && n < N(fds); fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(link, got, sizeof got - 1);
        if (len <= 0)
            continue;
        got[len] = '\0';
        if (strcmp(got, want) == 0)
            fds[n++] = fd;
    }
    if (n == 0)
        return -1;
    struct sock_filter filter[4 + 2 * N(fds)];
    size_t k = 0;
    filter[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    filter[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fsync, 0, (unsigned char)(n + 1));
    /* args[0]'s low 32 bits (little-endian). */
    filter[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
    for (size_t i = 0; i < n; i++)
        filter[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)fds[i],
                                                   (unsigned char)(n - i), 0);
    filter[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    filter[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EIO & SECCOMP_RET_DATA));
    struct sock_fprog prog = {.len = (unsigned short)k, .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

#define CHILD_CHECK(cond, ...)                                                   \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "child: " __VA_ARGS__);                              \
            fprintf(stderr, " (last error: %s)\n", ocidir_last_error());         \
            return __LINE__;                                                     \
        }                                                                        \
    } while (0)

static int not_durable_child(void *arg)
{
    const char *layout = arg;
    ocidir_t *d = NULL;
    CHILD_CHECK(ocidir_open(AT_FDCWD, layout, 0, &d) == 0, "open");
    ocidir_builder_t *b = NULL;
    CHILD_CHECK(ocidir_builder_new(d, "linux/amd64", &b) == 0, "builder_new");
    CHILD_CHECK(ocidir_builder_set_label(b, "durable", "no") == 0, "set_label");
    CHILD_CHECK(fail_root_fsync(layout) == 0, "installing the seccomp filter: %s", strerror(errno));

    /* builder_commit: the tag moved, so digest_out names the manifest. */
    char dg[OCIDIR_DIGEST_MAX];
    memset(dg, 0xA5, sizeof dg);
    int rc = ocidir_builder_commit(b, "nd", 0, dg);
    CHILD_CHECK(rc == OCIDIR_E_NOT_DURABLE, "builder_commit returned %d, not OCIDIR_E_NOT_DURABLE", rc);
    char got[OCIDIR_DIGEST_MAX];
    CHILD_CHECK(ocidir_resolve(d, "nd", got, NULL, NULL) == 0, "the tag was not moved");
    CHILD_CHECK(memchr(dg, '\0', sizeof dg) != NULL && strcmp(dg, got) == 0,
                "builder_commit did not write digest_out on NOT_DURABLE (the tag names %s)", got);
    ocidir_builder_free(b);

    /* tag_remove_gc: the tag is gone, no gc ran, report_out untouched. */
    ocidir_report_t *rep;
    memset(&rep, 0xA5, sizeof rep);
    ocidir_report_t *sentinel = rep;
    rc = ocidir_tag_remove_gc(d, "nd", TU_GC(0, NULL, NULL), &rep);
    CHILD_CHECK(rc == OCIDIR_E_NOT_DURABLE, "tag_remove_gc returned %d, not OCIDIR_E_NOT_DURABLE", rc);
    CHILD_CHECK(rep == sentinel, "tag_remove_gc wrote report_out on NOT_DURABLE");
    CHILD_CHECK(ocidir_resolve(d, "nd", got, NULL, NULL) == OCIDIR_E_NOT_FOUND, "the tag is still there");
    CHILD_CHECK(ocidir_blob_stat(d, dg, NULL) == 0, "gc ran after a NOT_DURABLE tag removal");
    ocidir_close(d);
    return 0;
}

/* builder_commit hands out the manifest digest when index.json was replaced
 * but not flushed; tag_remove_gc then runs no gc and hands out no report. */
static void test_index_not_durable(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    ocidir_close(d);
    int result = -1;
    assert_int_equal(tu_run_in_child(not_durable_child, layout, 60, &result), 0);
    if (result != 0)
        print_error("the child failed its check at line %d\n", result);
    assert_int_equal(result, 0);
}

/* In this (child) process from now on, fsync(2) of fd `fd` (every fd for
 * -1) fails with EIO; fdatasync works. */
static int fail_fsync_of_fd(int fd)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fsync, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        fd < 0 ? (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0)
               : (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)fd, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EIO & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)N(filter), .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int clone_not_durable_child(void *arg)
{
    const char *layout = arg;
    ocidir_t *d = NULL;
    CHILD_CHECK(ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d) == 0, "open");
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s.clones", layout);
    CHILD_CHECK(mkdir(parent, 0755) == 0, "mkdir %s: %s", parent, strerror(errno));
    char dest[PATH_MAX + 8];
    snprintf(dest, sizeof dest, "%s/dest", parent);
    /* ocidir_clone opens the destination's parent first, with one open(2):
     * it gets the lowest free fd, which is this one. */
    int next = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHILD_CHECK(next >= 0, "open %s", parent);
    close(next);
    CHILD_CHECK(fail_fsync_of_fd(next) == 0, "installing the seccomp filter: %s", strerror(errno));

    ocidir_t *out;
    ocidir_report_t *rep;
    memset(&out, 0xA5, sizeof out);
    memset(&rep, 0xA5, sizeof rep);
    ocidir_t *out_sent = out;
    ocidir_report_t *rep_sent = rep;
    int rc = ocidir_clone(d, AT_FDCWD, dest, NULL, &out, &rep);
    CHILD_CHECK(access(dest, F_OK) == 0, "the clone is not in place (rc %d)", rc);
    CHILD_CHECK(rc == OCIDIR_E_NOT_DURABLE, "clone returned %d, not OCIDIR_E_NOT_DURABLE, with the clone in place", rc);
    CHILD_CHECK(ocidir_last_errno() == EIO, "last errno %d, not EIO", ocidir_last_errno());
    CHILD_CHECK(out != out_sent && out != NULL, "out not written on NOT_DURABLE");
    CHILD_CHECK(rep != rep_sent && rep != NULL, "report_out not written on NOT_DURABLE");
    char got[OCIDIR_DIGEST_MAX];
    CHILD_CHECK(ocidir_resolve(out, "t", got, NULL, NULL) == 0, "the handed-out clone does not resolve t");
    CHILD_CHECK(ocidir_report_count(rep) > 0, "the report is empty");
    ocidir_report_free(rep);
    ocidir_close(out);
    ocidir_close(d);
    return 0;
}

/* A clone renamed into place whose parent directory flush fails is
 * OCIDIR_E_NOT_DURABLE, with the new layout and the report handed out. */
static void test_clone_not_durable(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char *clones = tu_keep(malloc(strlen(f.path) + 8));
    sprintf(clones, "%s.clones", f.path);
    tu_defer_rm(clones);
    fx_close(&f);
    int result = -1;
    assert_int_equal(tu_run_in_child(clone_not_durable_child, f.path, 60, &result), 0);
    if (result != 0)
        print_error("the child failed its check at line %d\n", result);
    assert_int_equal(result, 0);
}

static int clone_unflushed_child(void *arg)
{
    const char *layout = arg;
    ocidir_t *d = NULL;
    CHILD_CHECK(ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d) == 0, "open");
    char dest[PATH_MAX + 16];
    snprintf(dest, sizeof dest, "%s.clones/dest2", layout);
    CHILD_CHECK(fail_fsync_of_fd(-1) == 0, "installing the seccomp filter: %s", strerror(errno));
    ocidir_t *out;
    ocidir_report_t *rep;
    memset(&out, 0xA5, sizeof out);
    memset(&rep, 0xA5, sizeof rep);
    ocidir_t *out_sent = out;
    ocidir_report_t *rep_sent = rep;
    /* Copied (or reflinked), not hard-linked: each blob is published in the
     * temporary tree, and its directory flushed. */
    int rc = ocidir_clone(d, AT_FDCWD, dest, TU_CLONE(OCIDIR_CLONE_NO_HARDLINK, NULL, NULL), &out, &rep);
    CHILD_CHECK(access(dest, F_OK) != 0, "a destination exists after a failed clone (rc %d)", rc);
    CHILD_CHECK(rc == OCIDIR_E_IO, "clone returned %d, not OCIDIR_E_IO, with nothing cloned", rc);
    CHILD_CHECK(ocidir_last_errno() == EIO, "last errno %d, not EIO", ocidir_last_errno());
    CHILD_CHECK(out == out_sent && rep == rep_sent, "out-parameters written by a failed clone");
    ocidir_close(d);
    return 0;
}

/* A clone that cannot flush the directories of its temporary tree fails with
 * OCIDIR_E_IO (not NOT_DURABLE: nothing of it is left or visible). */
static void test_clone_unflushed_tree(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char *clones = tu_keep(malloc(strlen(f.path) + 8));
    sprintf(clones, "%s.clones", f.path);
    tu_mkdir(clones);
    tu_defer_rm(clones);
    fx_close(&f);
    int result = -1;
    assert_int_equal(tu_run_in_child(clone_unflushed_child, f.path, 60, &result), 0);
    if (result != 0)
        print_error("the child failed its check at line %d\n", result);
    assert_int_equal(result, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_null_handle_out_is_invalid),
        TEARDOWN(test_digests_and_layout),
        TEARDOWN(test_blob_writers),
        TEARDOWN(test_blob_lookups),
        TEARDOWN(test_index_and_tags),
        TEARDOWN(test_images),
        TEARDOWN(test_layers),
        TEARDOWN(test_builders),
        TEARDOWN(test_reports),
        TEARDOWN(test_housekeeping),
        TEARDOWN(test_unpack),
        TEARDOWN(test_options_init),
        TEARDOWN(test_index_not_durable),
        TEARDOWN(test_clone_not_durable),
        TEARDOWN(test_clone_unflushed_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
