/* fsck: a clean layout (built by the library, copied by skopeo, made by
 * umoci) has no finding; damage planted in a copy of a real image is found,
 * every piece of it in one run, each named by kind and subject; FIFOs,
 * missing manifests behind nested indexes, media-type disagreements, blobs
 * in added blob directories, unregistered algorithms, temporary files;
 * progress; thread counts; read-only handles.  Public API only. */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

/* ---------------------------------------------------------------- helpers */

static char *path_of(const char *dir, const char *name) { return tu_keep(tu_join(dir, name)); }

/* A new empty layout in a scratch directory kept until the test's teardown. */
static ocidir_t *scratch_layout(char **dir)
{
    ocidir_t *d = tu_scratch_layout(dir);
    tu_keep(*dir);
    return d;
}

static ocidir_t *open_layout(const char *path, unsigned flags)
{
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, path, flags, &d));
    return d;
}

static void dump(const ocidir_report_t *r)
{
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *s, *m;
        uint64_t sz;
        assert_ocidir(0, ocidir_report_get(r, i, &k, &s, &sz, &m));
        print_message("  [%zu] %s %s (%llu): %s\n", i, ocidir_find_kind_name(k), s, (unsigned long long)sz, m);
    }
}

static ocidir_report_t *fsck(ocidir_t *d, unsigned threads)
{
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_fsck(d, TU_FSCK(0, threads, NULL, NULL), &r));
    assert_non_null(r);
    return r;
}

/* Index of the finding of `kind` about `subject`, or -1. */
static long find(const ocidir_report_t *r, int kind, const char *subject)
{
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *s;
        assert_ocidir(0, ocidir_report_get(r, i, &k, &s, NULL, NULL));
        if ((int)k == kind && strcmp(s, subject) == 0)
            return (long)i;
    }
    return -1;
}

static const char *message_of(const ocidir_report_t *r, long i)
{
    const char *m = NULL;
    assert_true(i >= 0);
    assert_ocidir(0, ocidir_report_get(r, (size_t)i, NULL, NULL, NULL, &m));
    return m;
}

static void expect_finding(const ocidir_report_t *r, int kind, const char *subject)
{
    if (find(r, kind, subject) < 0) {
        print_error("no %s finding about %s in:\n", ocidir_find_kind_name(kind), subject);
        dump(r);
    }
    assert_true(find(r, kind, subject) >= 0);
}

static void expect_mentions(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        print_error("\"%s\" does not mention \"%s\"\n", text, needle);
    assert_non_null(strstr(text, needle));
}

/* expect_finding(), and that its message mentions `needle`; returns the message. */
static const char *expect_finding_mentioning(const ocidir_report_t *r, int kind, const char *subject,
                                             const char *needle)
{
    expect_finding(r, kind, subject);
    const char *m = message_of(r, find(r, kind, subject));
    expect_mentions(m, needle);
    return m;
}

static void expect_no_damage(const ocidir_report_t *r)
{
    if (ocidir_report_damage(r) != 0) {
        print_error("unexpected damage:\n");
        dump(r);
    }
    assert_int_equal(ocidir_report_damage(r), 0);
}

static void expect_clean(const ocidir_report_t *r)
{
    expect_no_damage(r);
    if (ocidir_report_count(r) != 0) {
        print_error("unexpected notices:\n");
        dump(r);
    }
    assert_int_equal(ocidir_report_count(r), 0);
}

/* Number and total size of the regular files in <layout>/blobs/<alg>/ that
 * are named like blobs. */
static void count_blob_files(const char *layout, uint64_t *n, uint64_t *bytes)
{
    *n = *bytes = 0;
    const char *algs[] = {"sha256", "sha512"};
    for (size_t a = 0; a < N(algs); a++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/blobs/%s", layout, algs[a]);
        DIR *dp = opendir(dir);
        if (!dp)
            continue;
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            struct stat st;
            if (e->d_name[0] == '.' || fstatat(dirfd(dp), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(st.st_mode))
                continue;
            (*n)++;
            *bytes += (uint64_t)st.st_size;
        }
        closedir(dp);
    }
}

static void expect_totals_match_files(const ocidir_report_t *r, const char *layout)
{
    uint64_t want_n, want_bytes, n = 0, bytes = 0;
    count_blob_files(layout, &want_n, &want_bytes);
    ocidir_report_totals(r, &n, &bytes);
    assert_int_equal(n, want_n);
    assert_int_equal(bytes, want_bytes);
}

static uint64_t blob_size(ocidir_t *d, const char *digest)
{
    uint64_t n = 0;
    assert_ocidir(0, ocidir_blob_stat(d, digest, &n));
    return n;
}

static void put_text(ocidir_t *d, const char *text, char out[OCIDIR_DIGEST_MAX])
{
    assert_ocidir(0, ocidir_blob_put(d, text, strlen(text), out));
}

/* A compressed layer of deterministic content. */
static void add_layer(ocidir_builder_t *b, ocidir_t *d, ocidir_compression_t c, size_t len, uint32_t seed)
{
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, c, 0, 0, &w));
    char *buf = malloc(len);
    assert_non_null(buf);
    /* Half pseudo-random, half zeros: compressible, but not to nothing. */
    tu_fill(buf, len / 2, seed);
    memset(buf + len / 2, 0, len - len / 2);
    assert_ocidir(0, ocidir_layer_writer_write(w, buf, len));
    free(buf);
    assert_ocidir(0, ocidir_builder_add_layer_writer(b, w, "fsck test"));
}

struct image {
    char manifest[OCIDIR_DIGEST_MAX], config[OCIDIR_DIGEST_MAX];
    char layer[2][OCIDIR_DIGEST_MAX];
};

static void image_parts(ocidir_t *d, const char *ref, struct image *img)
{
    ocidir_image_t *im = NULL;
    assert_ocidir(0, ocidir_image_open(d, ref, "linux/amd64", &im));
    assert_ocidir(0, ocidir_image_manifest(im, img->manifest, NULL, NULL));
    assert_ocidir(0, ocidir_image_config_descriptor(im, NULL, img->config, NULL));
    memset(img->layer, 0, sizeof img->layer);
    for (size_t i = 0; i < ocidir_image_layer_count(im) && i < 2; i++)
        assert_ocidir(0, ocidir_image_layer(im, i, NULL, img->layer[i], NULL));
    ocidir_image_close(im);
}

/* An image tagged `tag` with a gzip and a zstd layer. */
static void build_image(ocidir_t *d, const char *tag, uint32_t seed, struct image *img)
{
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    assert_ocidir(0, ocidir_builder_set_created(b, "2024-01-01T00:00:00Z"));
    add_layer(b, d, OCIDIR_COMPRESSION_GZIP, 300 * 1024, seed);
    add_layer(b, d, OCIDIR_COMPRESSION_ZSTD, 200 * 1024, seed + 1);
    assert_ocidir(0, ocidir_builder_commit(b, tag, 0, NULL));
    ocidir_builder_free(b);
    image_parts(d, tag, img);
}

/* An index blob with one manifest entry (media type `mt`). */
static void put_index_of(ocidir_t *d, const char *digest, const char *mt, char out[OCIDIR_DIGEST_MAX])
{
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"manifests\":[{\"digest\":\"%s\",\"mediaType\":\"%s\",\"platform\":{\"architecture\":\"amd64\","
             "\"os\":\"linux\"},\"size\":%llu}],\"mediaType\":\"" MT_INDEX "\",\"schemaVersion\":2}",
             digest, mt, (unsigned long long)blob_size(d, digest));
    put_text(d, buf, out);
}

struct full {
    struct image img;
    char inner[OCIDIR_DIGEST_MAX], top[OCIDIR_DIGEST_MAX], referrer[OCIDIR_DIGEST_MAX];
};

/* An image ("v1") and a nested index over it (top → inner → manifest,
 * tagged "multi"). */
static void build_nested(ocidir_t *d, struct full *f)
{
    build_image(d, "v1", 1, &f->img);
    put_index_of(d, f->img.manifest, MT_MANIFEST, f->inner);
    put_index_of(d, f->inner, MT_INDEX, f->top);
    assert_ocidir(0, ocidir_tag_set(d, "multi", f->top, 0));
}

/* build_nested(), and an artifact whose subject is the image (an untagged
 * entry). */
static void build_full(ocidir_t *d, struct full *f)
{
    build_nested(d, f);
    ocidir_builder_t *a = NULL;
    assert_ocidir(0, ocidir_builder_new_artifact(d, "application/vnd.example.sbom", &a));
    char sbom[OCIDIR_DIGEST_MAX];
    const char *text = "{\"packages\":[]}";
    put_text(d, text, sbom);
    assert_ocidir(0, ocidir_builder_add_layer(a, "application/vnd.example.sbom+json", sbom, strlen(text), NULL, NULL));
    assert_ocidir(0, ocidir_builder_set_subject(a, f->img.manifest));
    assert_ocidir(0, ocidir_builder_commit(a, NULL, 0, f->referrer));
    ocidir_builder_free(a);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

/* ------------------------------------------------------------------ tests */

static void test_fsck_of_a_clean_built_layout_finds_nothing_and_counts_every_blob(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = scratch_layout(&dir);
    struct full f;
    build_full(d, &f);
    ocidir_report_t *r = fsck(d, 0);
    expect_clean(r);
    expect_totals_match_files(r, dir);
    ocidir_report_free(r);
    ocidir_close(d);
}

static void test_fsck_of_layouts_made_by_skopeo_and_umoci_finds_nothing(void **state)
{
    (void)state;
    char *src;
    ocidir_t *d = scratch_layout(&src);
    struct image img;
    build_image(d, "v1", 7, &img);
    ocidir_close(d);
    char *scratch = tu_keep(tu_scratch_dir("fsck-tools"));
    char *copy = path_of(scratch, "skopeo");
    assert_int_equal(tu_sh("skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers 'oci:%s:v1' 'oci:%s:v1'", src, copy), 0);
    d = open_layout(copy, OCIDIR_OPEN_RDONLY);
    ocidir_report_t *r = fsck(d, 0);
    expect_clean(r);
    expect_totals_match_files(r, copy);
    uint64_t n = 0;
    ocidir_report_totals(r, &n, NULL);
    assert_int_equal(n, 4); /* manifest, config, two layers */
    ocidir_report_free(r);
    ocidir_close(d);

    char *um = path_of(scratch, "umoci");
    assert_int_equal(tu_sh("umoci init --layout '%s' && umoci new --image '%s:base' && "
                           "mkdir -p '%s/rootfs-src' && echo hi > '%s/rootfs-src/hi' && "
                           "umoci insert --image '%s:base' '%s/rootfs-src/hi' /hi",
                           um, um, scratch, scratch, um, scratch),
                     0);
    d = open_layout(um, OCIDIR_OPEN_RDONLY);
    r = fsck(d, 2);
    /* umoci keeps the blobs of the image it replaced on insert: notices,
     * never damage. */
    expect_no_damage(r);
    expect_totals_match_files(r, um);
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        assert_ocidir(0, ocidir_report_get(r, i, &k, NULL, NULL, NULL));
        assert_int_equal(k, OCIDIR_FIND_UNREFERENCED);
    }
    ocidir_report_free(r);
    ocidir_close(d);
}

/* Point `tag` at a copy of manifest `manifest` whose layers[0] descriptor
 * says one byte more than the layer has; returns the new digest in out. */
static void retag_with_wrong_layer_size(ocidir_t *d, const char *tag, const char *manifest, const char *layer,
                                        char out[OCIDIR_DIGEST_MAX])
{
    void *buf = NULL;
    size_t len = 0;
    assert_ocidir(0, ocidir_blob_read_all(d, manifest, -1, 1 << 20, &buf, &len));
    char *text = malloc(len + 32);
    assert_non_null(text);
    memcpy(text, buf, len);
    text[len] = 0;
    ocidir_free(buf);
    char *at = strstr(text, layer);
    assert_non_null(at);
    char *sz = strstr(at, "\"size\":");
    assert_non_null(sz);
    sz += strlen("\"size\":");
    char *end;
    unsigned long long n = strtoull(sz, &end, 10);
    char edited[8192];
    assert_true(len + 32 < sizeof edited);
    snprintf(edited, sizeof edited, "%.*s%llu%s", (int)(sz - text), text, n + 1, end);
    free(text);
    put_text(d, edited, out);
    assert_ocidir(0, ocidir_tag_set(d, tag, out, 0));
    char now[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_resolve(d, tag, now, NULL, NULL));
    assert_string_equal(now, out);
}

static void test_fsck_finds_each_kind_of_damage_planted_in_a_copy_of_a_real_image(void **state)
{
    (void)state;
    char *src;
    ocidir_t *d = scratch_layout(&src);
    struct image v1, v2;
    build_image(d, "v1", 11, &v1);
    build_image(d, "v2", 21, &v2);
    ocidir_close(d);
    char *copy = path_of(tu_keep(tu_scratch_dir("fsck-damage")), "copy");
    assert_int_equal(tu_sh("skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers 'oci:%s:v1' 'oci:%s:v1' && "
                           "skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers 'oci:%s:v2' 'oci:%s:v2'",
                           src, copy, src, copy),
                     0);

    d = open_layout(copy, 0);
    /* Wrong size in a descriptor: v2 now names an edited manifest. */
    char edited[OCIDIR_DIGEST_MAX], stray[OCIDIR_DIGEST_MAX];
    retag_with_wrong_layer_size(d, "v2", v2.manifest, v2.layer[0], edited);
    /* An unreferenced blob. */
    put_text(d, "nothing refers to this", stray);
    ocidir_close(d);
    /* A flipped byte in v1's gzip layer, v1's zstd layer truncated, v1's
     * config removed. */
    flip_byte(tu_keep(tu_blob_path(copy, v1.layer[0])), 100);
    assert_int_equal(truncate(tu_keep(tu_blob_path(copy, v1.layer[1])), 1000), 0);
    assert_int_equal(unlink(tu_keep(tu_blob_path(copy, v1.config))), 0);
    /* Stray temporary files of a blob writer and of an index update. */
    char *tmp = path_of(copy, "blobs/sha256/.ocidir-tmp-0123456789abcdef01234567");
    tu_write_file(tmp, "partial", 7);
    tu_write_file(path_of(copy, ".ocidir-index-0011223344556677"), "{", 1);

    d = open_layout(copy, OCIDIR_OPEN_RDONLY);
    ocidir_report_t *r = fsck(d, 0);
    struct {
        int kind;
        const char *subject;
    } want[] = {
        {OCIDIR_FIND_DIGEST, v1.layer[0]},
        {OCIDIR_FIND_SIZE, v1.layer[1]},
        {OCIDIR_FIND_DIGEST, v1.layer[1]},
        {OCIDIR_FIND_MISSING, v1.config},
        {OCIDIR_FIND_SIZE, v2.layer[0]},
        {OCIDIR_FIND_UNREFERENCED, stray},
        {OCIDIR_FIND_UNREFERENCED, v2.manifest}, /* replaced by the edited one */
        {OCIDIR_FIND_TEMP, "blobs/sha256/.ocidir-tmp-0123456789abcdef01234567"},
        {OCIDIR_FIND_TEMP, ".ocidir-index-0011223344556677"},
    };
    for (size_t i = 0; i < N(want); i++)
        expect_finding(r, want[i].kind, want[i].subject);
    /* Nothing else: every finding is one of those. */
    if (ocidir_report_count(r) != N(want))
        dump(r);
    assert_int_equal(ocidir_report_count(r), N(want));
    assert_int_equal(ocidir_report_damage(r), 5);
    /* Messages say where each damaged blob is referenced from. */
    expect_mentions(expect_finding_mentioning(r, OCIDIR_FIND_MISSING, v1.config, v1.manifest), "config");
    expect_finding_mentioning(r, OCIDIR_FIND_SIZE, v2.layer[0], edited);
    expect_finding_mentioning(r, OCIDIR_FIND_DIGEST, v1.layer[0], "layers[0]");
    ocidir_report_free(r);
    /* fsck wrote nothing: the stray files are still there. */
    assert_true(tu_exists(tmp));
    ocidir_close(d);
}

struct fifo_case {
    const char *layout;
    const char *layer, *unreferenced;
};

static int fsck_fifo_child(void *arg)
{
    const struct fifo_case *c = arg;
    ocidir_t *d = NULL;
    ocidir_report_t *r = NULL;
    if (ocidir_open(AT_FDCWD, c->layout, OCIDIR_OPEN_RDONLY, &d) != 0 || ocidir_fsck(d, TU_FSCK(0, 2, NULL, NULL), &r) != 0)
        return 1;
    int ok = find(r, OCIDIR_FIND_FORMAT, c->layer) >= 0 && find(r, OCIDIR_FIND_FORMAT, c->unreferenced) >= 0 &&
             ocidir_report_damage(r) == 2;
    ocidir_report_free(r);
    ocidir_close(d);
    return ok ? 0 : 2;
}

static void test_fsck_reports_a_fifo_blob_as_format_without_hanging(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = scratch_layout(&dir);
    struct image img;
    build_image(d, "v1", 3, &img);
    ocidir_close(d);
    char *layer = tu_keep(tu_blob_path(dir, img.layer[1]));
    assert_int_equal(unlink(layer), 0);
    assert_int_equal(mkfifo(layer, 0644), 0);
    const char *other = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
    assert_int_equal(mkfifo(tu_keep(tu_blob_path(dir, other)), 0644), 0);
    struct fifo_case c = {dir, img.layer[1], other};
    int result = -1;
    assert_int_equal(tu_run_in_child(fsck_fifo_child, &c, 60, &result), 0);
    assert_int_equal(result, 0);
}

/* A manifest that a nested index lists and the layout does not hold: what a
 * copy of some of an index's platforms looks like, so an ABSENT_CHILD notice
 * naming where it is listed, not damage (it was MISSING damage before the
 * partial-index policy, which made gc and clone refuse such layouts). */
static void test_fsck_reports_a_manifest_absent_from_a_nested_index_as_a_notice(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = scratch_layout(&dir);
    struct full f;
    build_nested(d, &f);
    /* Only the nested index leads to the manifest. */
    assert_ocidir(0, ocidir_tag_remove(d, "v1"));
    ocidir_close(d);
    assert_int_equal(unlink(tu_keep(tu_blob_path(dir, f.img.manifest))), 0);
    d = open_layout(dir, OCIDIR_OPEN_RDONLY);
    ocidir_report_t *r = fsck(d, 0);
    const char *m = expect_finding_mentioning(r, OCIDIR_FIND_ABSENT_CHILD, f.img.manifest, f.inner);
    expect_mentions(m, "manifests[0]");
    /* The walk went on: the rest is checked, the manifest's blobs are now unreferenced notices. */
    expect_finding_mentioning(r, OCIDIR_FIND_UNREFERENCED, f.img.config, "not referenced");
    assert_int_equal(ocidir_report_damage(r), 0);
    ocidir_report_free(r);
    ocidir_close(d);
}

static void test_fsck_reports_a_manifest_whose_media_type_disagrees_with_its_descriptor(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = scratch_layout(&dir);
    struct image img;
    build_image(d, "v1", 5, &img);
    /* A Docker-typed copy of the manifest, referenced as an OCI manifest. */
    void *buf = NULL;
    size_t len = 0;
    assert_ocidir(0, ocidir_blob_read_all(d, img.manifest, -1, 1 << 20, &buf, &len));
    char text[8192];
    assert_true(len < sizeof text);
    memcpy(text, buf, len);
    text[len] = 0;
    ocidir_free(buf);
    char *mt = strstr(text, "\"mediaType\":\"" MT_MANIFEST "\"");
    assert_non_null(mt);
    char docker[8192];
    snprintf(docker, sizeof docker, "%.*s\"mediaType\":\"" MT_DOCKER_MANIFEST "\"%s", (int)(mt - text), text,
             mt + strlen("\"mediaType\":\"" MT_MANIFEST "\""));
    char dm[OCIDIR_DIGEST_MAX], idx[OCIDIR_DIGEST_MAX];
    put_text(d, docker, dm);
    put_index_of(d, dm, MT_MANIFEST, idx);
    assert_ocidir(0, ocidir_tag_set(d, "confused", idx, 0));
    ocidir_report_t *r = fsck(d, 1);
    const char *m = expect_finding_mentioning(r, OCIDIR_FIND_MEDIA_TYPE, dm, MT_DOCKER_MANIFEST);
    expect_mentions(m, idx);
    assert_int_equal(ocidir_report_damage(r), 1);
    ocidir_report_free(r);
    ocidir_close(d);
}

static void test_fsck_checks_blobs_found_only_in_an_added_blob_directory(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = scratch_layout(&dir);
    struct image img;
    build_image(d, "v1", 9, &img);
    ocidir_close(d);
    char *cache = tu_keep(tu_scratch_dir("fsck-cache"));
    tu_mkdir(path_of(cache, "sha256"));
    /* Layer 0 moves to the cache intact, layer 1 moves there damaged. */
    for (int i = 0; i < 2; i++) {
        char *to = tu_keep(tu_join(cache, tu_keep(tu_join("sha256", tu_hex(img.layer[i])))));
        assert_int_equal(rename(tu_keep(tu_blob_path(dir, img.layer[i])), to), 0);
        if (i == 1)
            flip_byte(to, 10);
    }
    d = open_layout(dir, OCIDIR_OPEN_RDONLY);
    ocidir_report_t *r = fsck(d, 0);
    expect_finding(r, OCIDIR_FIND_MISSING, img.layer[0]); /* not looked up anywhere else yet */
    ocidir_report_free(r);

    int fd = open(cache, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_ocidir(0, ocidir_add_blobdir_fd(d, fd, 0));
    close(fd);
    r = fsck(d, 0);
    assert_int_equal(find(r, OCIDIR_FIND_MISSING, img.layer[0]), -1);
    expect_finding_mentioning(r, OCIDIR_FIND_DIGEST, img.layer[1], "blob directory #1");
    assert_int_equal(ocidir_report_count(r), 1);
    /* Every blob was hashed: the two in the layout and the two in the cache. */
    uint64_t n = 0, bytes = 0;
    ocidir_report_totals(r, &n, &bytes);
    assert_int_equal(n, 4);
    assert_int_equal(bytes, blob_size(d, img.manifest) + blob_size(d, img.config) + blob_size(d, img.layer[0]) +
                                blob_size(d, img.layer[1]));
    ocidir_report_free(r);
    ocidir_close(d);
}

struct progress_log {
    uint64_t done[4096], total[4096];
    size_t n;
    pid_t tid;
    int wrong_thread;
};

static int on_progress(uint64_t done, uint64_t total, void *user)
{
    struct progress_log *p = user;
    if ((pid_t)syscall(SYS_gettid) != p->tid)
        p->wrong_thread = 1;
    if (p->n < N(p->done)) {
        p->done[p->n] = done;
        p->total[p->n] = total;
        p->n++;
    }
    return 0;
}

static void test_fsck_progress_is_monotonic_from_the_calling_thread_and_ends_at_total(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = scratch_layout(&dir);
    size_t len = 24u << 20;
    char *buf = malloc(len);
    assert_non_null(buf);
    uint64_t big = 0;
    for (uint32_t i = 0; i < 4; i++) {
        tu_fill(buf, len, 100 + i);
        assert_ocidir(0, ocidir_blob_put(d, buf, len - i, NULL));
        big += len - i;
    }
    free(buf);
    struct progress_log *p = calloc(1, sizeof *p);
    assert_non_null(p);
    tu_keep(p);
    p->tid = (pid_t)syscall(SYS_gettid);
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_fsck(d, TU_FSCK(0, 2, on_progress, p), &r));
    assert_true(p->n >= 1);
    assert_false(p->wrong_thread);
    for (size_t i = 0; i < p->n; i++) {
        assert_true(p->done[i] <= p->total[i]);
        if (i > 0) {
            assert_true(p->done[i] >= p->done[i - 1]);
            assert_true(p->total[i] >= p->total[i - 1]);
        }
    }
    assert_int_equal(p->done[p->n - 1], p->total[p->n - 1]);
    assert_int_equal(p->total[p->n - 1], big);
    uint64_t bytes = 0;
    ocidir_report_totals(r, NULL, &bytes);
    assert_int_equal(bytes, big);
    /* Four unreferenced blobs, no damage. */
    expect_no_damage(r);
    assert_int_equal(ocidir_report_count(r), 4);
    ocidir_report_free(r);
    ocidir_close(d);
}

static void expect_same_reports(const ocidir_report_t *a, const ocidir_report_t *b)
{
    assert_int_equal(ocidir_report_count(a), ocidir_report_count(b));
    for (size_t i = 0; i < ocidir_report_count(a); i++) {
        ocidir_find_kind_t ka, kb;
        const char *sa, *sb, *ma, *mb;
        uint64_t za, zb;
        assert_ocidir(0, ocidir_report_get(a, i, &ka, &sa, &za, &ma));
        assert_ocidir(0, ocidir_report_get(b, i, &kb, &sb, &zb, &mb));
        assert_int_equal(ka, kb);
        assert_string_equal(sa, sb);
        assert_int_equal(za, zb);
        assert_string_equal(ma, mb);
    }
    uint64_t na, nb, ba, bb;
    ocidir_report_totals(a, &na, &ba);
    ocidir_report_totals(b, &nb, &bb);
    assert_int_equal(na, nb);
    assert_int_equal(ba, bb);
}

static void test_fsck_gives_the_same_findings_with_one_and_four_threads(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = scratch_layout(&dir);
    struct full f;
    build_full(d, &f);
    struct image v2;
    build_image(d, "v2", 31, &v2);
    for (uint32_t i = 0; i < 6; i++) {
        char text[64];
        snprintf(text, sizeof text, "loose blob %u", i);
        char dg[OCIDIR_DIGEST_MAX];
        put_text(d, text, dg);
        if (i % 2)
            flip_byte(tu_keep(tu_blob_path(dir, dg)), 0);
    }
    flip_byte(tu_keep(tu_blob_path(dir, f.img.layer[0])), 5);
    assert_int_equal(truncate(tu_keep(tu_blob_path(dir, v2.layer[1])), 10), 0);
    assert_int_equal(unlink(tu_keep(tu_blob_path(dir, v2.config))), 0);
    ocidir_report_t *one = fsck(d, 1), *four = fsck(d, 4), *all = fsck(d, 0);
    assert_int_equal(ocidir_report_damage(one), 3 + 1 + 2 + 1); /* 3 flipped loose, layer, truncated (2), config */
    expect_same_reports(one, four);
    expect_same_reports(one, all);
    ocidir_report_free(one);
    ocidir_report_free(four);
    ocidir_report_free(all);
    ocidir_close(d);
}

static void test_fsck_on_a_read_only_handle_changes_nothing(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = scratch_layout(&dir);
    struct full f;
    build_full(d, &f);
    ocidir_close(d);
    flip_byte(tu_keep(tu_blob_path(dir, f.img.layer[1])), 3);
    tu_write_file(path_of(dir, "blobs/sha256/.ocidir-tmp-stale"), "x", 1);
    char *before = tu_keep(tu_tree_listing(dir));
    d = open_layout(dir, OCIDIR_OPEN_RDONLY);
    ocidir_report_t *r = fsck(d, 0);
    expect_finding(r, OCIDIR_FIND_DIGEST, f.img.layer[1]);
    expect_finding(r, OCIDIR_FIND_TEMP, "blobs/sha256/.ocidir-tmp-stale");
    assert_int_equal(ocidir_report_count(r), 2);
    ocidir_report_free(r);
    ocidir_close(d);
    char *after = tu_tree_listing(dir);
    assert_string_equal(after, before);
    free(after);
}

static void test_fsck_gives_a_notice_for_an_unregistered_algorithm(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = scratch_layout(&dir);
    const char *cfg = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[],\"type\":\"layers\"}}";
    char c[OCIDIR_DIGEST_MAX], m[OCIDIR_DIGEST_MAX];
    put_text(d, cfg, c);
    const char *other = "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    char text[2048];
    snprintf(text, sizeof text,
             "{\"config\":{\"digest\":\"%s\",\"mediaType\":\"" MT_CONFIG "\",\"size\":%zu},"
             "\"layers\":[{\"digest\":\"%s\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":5}],"
             "\"mediaType\":\"" MT_MANIFEST "\",\"schemaVersion\":2}",
             c, strlen(cfg), other);
    put_text(d, text, m);
    assert_ocidir(0, ocidir_tag_set(d, "b3", m, 0));
    ocidir_report_t *r = fsck(d, 0);
    expect_finding_mentioning(r, OCIDIR_FIND_UNSUPPORTED, other, m);
    expect_no_damage(r);
    assert_int_equal(ocidir_report_count(r), 1);
    ocidir_report_free(r);
    ocidir_close(d);
}

static void test_fsck_reports_bad_configs_names_and_index_but_not_live_temp_files(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = scratch_layout(&dir);
    /* A config of the OCI config type that is JSON but not an object. */
    char c[OCIDIR_DIGEST_MAX], m[OCIDIR_DIGEST_MAX];
    put_text(d, "[1,2,3]", c);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"config\":{\"digest\":\"%s\",\"mediaType\":\"" MT_CONFIG "\",\"size\":7},\"layers\":[],"
             "\"mediaType\":\"" MT_MANIFEST "\",\"schemaVersion\":2}",
             c);
    put_text(d, text, m);
    assert_ocidir(0, ocidir_tag_set(d, "badcfg", m, 0));
    /* A name that is no digest; a temporary file a live writer holds. */
    tu_write_file(path_of(dir, "blobs/sha256/README"), "hi", 2);
    tu_holder_t h = tu_hold_flock(path_of(dir, "blobs/sha256/.ocidir-tmp-live"));
    ocidir_report_t *r = fsck(d, 0);
    expect_finding_mentioning(r, OCIDIR_FIND_FORMAT, c, "not a JSON object");
    expect_finding_mentioning(r, OCIDIR_FIND_UNREFERENCED, "blobs/sha256/README", "not a valid sha256 digest");
    assert_int_equal(find(r, OCIDIR_FIND_TEMP, "blobs/sha256/.ocidir-tmp-live"), -1);
    assert_int_equal(ocidir_report_count(r), 2);
    ocidir_report_free(r);
    tu_release_holder(&h);
    r = fsck(d, 0);
    expect_finding(r, OCIDIR_FIND_TEMP, "blobs/sha256/.ocidir-tmp-live");
    ocidir_report_free(r);

    /* index.json damaged after the open: a LAYOUT finding, and the run ends normally. */
    tu_write_file(path_of(dir, "index.json"), "{\"manifests\":", 13);
    r = fsck(d, 0);
    expect_finding(r, OCIDIR_FIND_LAYOUT, "index.json");
    ocidir_report_free(r);
    ocidir_close(d);
}

static void test_report_accessors(void **state)
{
    (void)state;
    assert_string_equal(ocidir_find_kind_name(OCIDIR_FIND_MISSING), "missing");
    assert_string_equal(ocidir_find_kind_name(OCIDIR_FIND_REFLINKED), "reflinked");
    assert_string_equal(ocidir_find_kind_name(99), "unknown");
    assert_string_equal(ocidir_find_kind_name(-1), "unknown");
    assert_int_equal(ocidir_report_count(NULL), 0);
    assert_int_equal(ocidir_report_damage(NULL), 0);
    uint64_t n = 7, b = 7;
    ocidir_report_totals(NULL, &n, &b);
    assert_int_equal(n, 0);
    assert_int_equal(b, 0);
    ocidir_report_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_fsck_of_a_clean_built_layout_finds_nothing_and_counts_every_blob),
        TEARDOWN(test_fsck_of_layouts_made_by_skopeo_and_umoci_finds_nothing),
        TEARDOWN(test_fsck_finds_each_kind_of_damage_planted_in_a_copy_of_a_real_image),
        TEARDOWN(test_fsck_reports_a_fifo_blob_as_format_without_hanging),
        TEARDOWN(test_fsck_reports_a_manifest_absent_from_a_nested_index_as_a_notice),
        TEARDOWN(test_fsck_reports_a_manifest_whose_media_type_disagrees_with_its_descriptor),
        TEARDOWN(test_fsck_checks_blobs_found_only_in_an_added_blob_directory),
        TEARDOWN(test_fsck_progress_is_monotonic_from_the_calling_thread_and_ends_at_total),
        TEARDOWN(test_fsck_gives_the_same_findings_with_one_and_four_threads),
        TEARDOWN(test_fsck_on_a_read_only_handle_changes_nothing),
        TEARDOWN(test_fsck_gives_a_notice_for_an_unregistered_algorithm),
        TEARDOWN(test_fsck_reports_bad_configs_names_and_index_but_not_live_temp_files),
        TEARDOWN(test_report_accessors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
