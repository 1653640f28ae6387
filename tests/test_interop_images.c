/* Interoperability at the image level with the real peer tools from Debian
 * (skopeo, umoci; installed by scripts/setup, never skipped), both ways:
 *
 * - images the library builds (gzip and zstd layers made from `tar` output,
 *   config fields set through the builder) are inspected, copied digest for
 *   digest, and unpacked by skopeo and umoci, also when the library writes
 *   into an LXC-style shared cache;
 * - images umoci builds (init, new, unpack, repack, config) and skopeo copies
 *   (into a plain layout and into a shared blob directory) are read by the
 *   library through ocidir_image_open(), every config value and every
 *   verified layer. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)

static char *path_of(const char *dir, const char *name) { return tu_keep(tu_join(dir, name)); }

/* A file's content as a NUL-terminated malloc'd string (kept until teardown). */
static char *slurp(const char *path, size_t *len_out)
{
    void *buf = NULL;
    ssize_t n = tu_read_file(path, &buf);
    if (n < 0)
        print_error("%s does not exist\n", path);
    assert_true(n >= 0);
    char *s = realloc(buf, (size_t)n + 1);
    assert_non_null(s);
    s[n] = 0;
    if (len_out)
        *len_out = (size_t)n;
    return tu_keep(s);
}

/* JSON text without the whitespace outside strings, so that indented tool
 * output can be searched for compact fragments. */
static char *minify(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    assert_non_null(out);
    int in_str = 0;
    for (; *s; s++) {
        if (in_str) {
            *o++ = *s;
            if (*s == '\\' && s[1])
                *o++ = *++s;
            else if (*s == '"')
                in_str = 0;
        } else if (*s == '"') {
            in_str = 1;
            *o++ = *s;
        } else if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
            *o++ = *s;
        }
    }
    *o = 0;
    return tu_keep(out);
}

static void assert_contains(const char *hay, const char *needle, const char *what)
{
    if (!strstr(hay, needle))
        print_error("%s does not contain %s:\n%s\n", what, needle, hay);
    assert_non_null(strstr(hay, needle));
}

static void assert_file_content(const char *path, const void *want, size_t len)
{
    size_t n = 0;
    char *got = slurp(path, &n);
    if (n != len)
        print_error("%s: %zu bytes, expected %zu\n", path, n, len);
    assert_int_equal(n, len);
    assert_memory_equal(got, want, len);
}

static int strv_has(char **v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* Read a layer to its verified end into `out` (a file). */
static void layer_to_file(const ocidir_image_t *img, size_t i, const char *out)
{
    ocidir_layer_reader_t *r = NULL;
    assert_ocidir(0, ocidir_image_layer_open(img, i, &r));
    FILE *f = fopen(out, "wb");
    assert_non_null(f);
    char buf[65536];
    for (;;) {
        ssize_t n = ocidir_layer_reader_read(r, buf, sizeof buf);
        if (n < 0)
            print_error("layer %zu: read = %zd (%s): %s\n", i, n, ocidir_strerror((int)n), ocidir_last_error());
        assert_true(n >= 0);
        if (n == 0)
            break;
        assert_int_equal(fwrite(buf, 1, (size_t)n, f), (size_t)n);
    }
    assert_int_equal(fclose(f), 0);
    ocidir_layer_reader_close(r);
}

/* ---- Images built by the library ------------------------------------------ */

#define HELLO "hello from libocidir\n"
#define SECOND "second layer\n"
/* Large enough that a parallel gzip layer holds it in several blocks, each
 * joined to the next (512 KiB blocks with libdeflate, 128 KiB with zlib). */
#define BLOB_LEN (1536 * 1024)

struct built {
    char manifest[OCIDIR_DIGEST_MAX];
    char layer[2][OCIDIR_DIGEST_MAX];
    char diff_id[2][OCIDIR_DIGEST_MAX];
    char *tar[2];
    unsigned char blob[BLOB_LEN];
};

/* Two trees with known files, and their tars (made by `tar`). */
static void make_tars(const char *scratch, struct built *b)
{
    char *t1 = path_of(scratch, "tree1"), *t2 = path_of(scratch, "tree2");
    b->tar[0] = path_of(scratch, "layer1.tar");
    b->tar[1] = path_of(scratch, "layer2.tar");
    assert_int_equal(tu_sh("mkdir -p '%s/etc' '%s/data' '%s/etc' && printf '" HELLO "' > '%s/hello.txt' && "
                        "printf 'root:x:0:0::/root:/bin/sh\\n' > '%s/etc/passwd' && "
                        "printf '" SECOND "' > '%s/second.txt' && printf 'motd\\n' > '%s/etc/motd'",
                        t1, t1, t2, t1, t1, t2, t2),
                     0);
    /* Random stretches (stored deflate blocks) between compressible ones
     * (Huffman-coded blocks). */
    tu_fill(b->blob, sizeof b->blob, 77);
    for (size_t i = 0; i < sizeof b->blob; i++)
        if ((i / 65536) % 3 != 0)
            b->blob[i] = (unsigned char)("layer blob digest manifest\n"[(i * 7 + i / 4096) % 27]);
    char *blob = path_of(t1, "data/blob.bin");
    tu_write_file(blob, b->blob, sizeof b->blob);
    for (int i = 0; i < 2; i++)
        assert_int_equal(tu_sh("tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C '%s' -cf '%s' .",
                            i == 0 ? t1 : t2, b->tar[i]),
                         0);
}

/* A layer from a tar file, through a layer writer. */
static void add_tar_layer(ocidir_t *d, ocidir_builder_t *bld, const char *tar, ocidir_compression_t c,
                          char digest[OCIDIR_DIGEST_MAX], char diff_id[OCIDIR_DIGEST_MAX])
{
    size_t len = 0;
    char *content = slurp(tar, &len);
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, c, 0, 0, &w));
    const char *mt = ocidir_layer_writer_media_type(w);
    assert_ocidir(0, ocidir_layer_writer_write(w, content, len));
    uint64_t size = 0;
    assert_ocidir(0, ocidir_layer_writer_commit(w, digest, &size, diff_id));
    assert_ocidir(0, ocidir_builder_add_layer(bld, mt, digest, size, diff_id, tar));
}

static const char *const ENTRYPOINT[] = {"/bin/sh", "-c", NULL};
static const char *const CMD[] = {"echo hi", NULL};
static const char *const ENV[] = {"PATH=/usr/bin:/bin", "GREETING=hello world", NULL};

static void build_image(ocidir_t *d, const char *scratch, const char *tag, struct built *b)
{
    make_tars(scratch, b);
    ocidir_builder_t *bld = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &bld));
    assert_ocidir(0, ocidir_builder_set_created(bld, "2024-01-01T00:00:00Z"));
    for (int i = 0; i < 2; i++)
        add_tar_layer(d, bld, b->tar[i], OCIDIR_COMPRESSION_GZIP, b->layer[i], b->diff_id[i]);
    assert_ocidir(0, ocidir_builder_set_config_strv(bld, OCIDIR_CONFIG_ENTRYPOINT, ENTRYPOINT));
    assert_ocidir(0, ocidir_builder_set_config_strv(bld, OCIDIR_CONFIG_CMD, CMD));
    assert_ocidir(0, ocidir_builder_set_config_strv(bld, OCIDIR_CONFIG_ENV, ENV));
    assert_ocidir(0, ocidir_builder_set_config_string(bld, OCIDIR_CONFIG_WORKING_DIR, "/work"));
    assert_ocidir(0, ocidir_builder_set_label(bld, "org.example.built-by", "libocidir"));
    assert_ocidir(0, ocidir_builder_commit(bld, tag, 0, b->manifest));
    ocidir_builder_free(bld);
}

/* umoci unpacked the image: the files that went in, and the config. */
static void assert_bundle(const char *bundle, const struct built *b)
{
    char *p = path_of(bundle, "rootfs/hello.txt");
    assert_file_content(p, HELLO, strlen(HELLO));
    assert_file_content(path_of(bundle, "rootfs/second.txt"), SECOND, strlen(SECOND));
    assert_file_content(path_of(bundle, "rootfs/etc/motd"), "motd\n", 5);
    assert_file_content(path_of(bundle, "rootfs/data/blob.bin"), b->blob, sizeof b->blob);
    char *cfg = minify(slurp(path_of(bundle, "config.json"), NULL));
    assert_contains(cfg, "\"args\":[\"/bin/sh\",\"-c\",\"echo hi\"]", "umoci's config.json");
    assert_contains(cfg, "\"cwd\":\"/work\"", "umoci's config.json");
    assert_contains(cfg, "\"GREETING=hello world\"", "umoci's config.json");
    assert_contains(cfg, "\"PATH=/usr/bin:/bin\"", "umoci's config.json");
}

static void test_library_image_is_inspected_copied_and_unpacked_by_the_tools(void **state)
{
    (void)state;
    char *scratch = tu_keep(tu_scratch_dir("interop-img"));
    char *dir = path_of(scratch, "oci");
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d));
    struct built *b = tu_keep(calloc(1, sizeof *b));
    build_image(d, scratch, "v1", b);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "v1", "linux/amd64", &img));
    const void *mbuf;
    size_t mlen;
    assert_ocidir(0, ocidir_image_manifest(img, NULL, &mbuf, &mlen));
    char *manifest = tu_keep(malloc(mlen));
    memcpy(manifest, mbuf, mlen);
    ocidir_image_close(img);
    ocidir_close(d);

    /* skopeo inspect: the layers' digests and the Env. */
    char *inspect = path_of(scratch, "inspect.json");
    assert_int_equal(tu_sh("skopeo inspect 'oci:%s:v1' > '%s'", dir, inspect), 0);
    char *js = minify(slurp(inspect, NULL));
    assert_contains(js, b->layer[0], "skopeo inspect");
    assert_contains(js, b->layer[1], "skopeo inspect");
    assert_contains(js, "\"GREETING=hello world\"", "skopeo inspect");
    assert_contains(js, "\"Architecture\":\"amd64\"", "skopeo inspect");
    assert_contains(js, "\"Os\":\"linux\"", "skopeo inspect");
    /* skopeo inspect --raw: the manifest bytes the library wrote. */
    char *raw = path_of(scratch, "raw.json");
    assert_int_equal(tu_sh("skopeo inspect --raw 'oci:%s:v1' > '%s'", dir, raw), 0);
    size_t rlen = 0;
    char *rawbuf = slurp(raw, &rlen);
    while (rlen > 0 && rawbuf[rlen - 1] == '\n')
        rlen--;
    assert_int_equal(rlen, mlen);
    assert_memory_equal(rawbuf, manifest, mlen);

    /* skopeo copy keeps every digest; the copy resolves to our manifest and
     * the library reads it back, layers verified. */
    char *other = path_of(scratch, "other");
    assert_int_equal(tu_sh("skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers "
                        "'oci:%s:v1' 'oci:%s:v1'",
                        dir, other),
                     0);
    ocidir_t *o = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, other, OCIDIR_OPEN_RDONLY, &o));
    char dg[OCIDIR_DIGEST_MAX] = "";
    assert_ocidir(0, ocidir_resolve(o, "v1", dg, NULL, NULL));
    assert_string_equal(dg, b->manifest);
    assert_ocidir(0, ocidir_image_open(o, "v1", "linux/amd64", &img));
    assert_int_equal(ocidir_image_layer_count(img), 2);
    for (size_t i = 0; i < 2; i++) {
        char *out = path_of(scratch, i == 0 ? "copy1.tar" : "copy2.tar");
        layer_to_file(img, i, out);
        assert_int_equal(tu_sh("cmp -s '%s' '%s'", out, b->tar[i]), 0);
    }
    char **env = NULL;
    assert_ocidir(0, ocidir_image_config_strv(img, OCIDIR_CONFIG_ENV, &env));
    tu_assert_strv(env, ENV);
    ocidir_strv_free(env);
    ocidir_image_close(img);
    ocidir_close(o);

    /* umoci unpacks it: the files that went in, the config we set. */
    char *bundle = path_of(scratch, "bundle");
    assert_int_equal(tu_sh("umoci unpack --rootless --image '%s:v1' '%s' >/dev/null", dir, bundle), 0);
    assert_bundle(bundle, b);
}

static void test_zstd_layer_image_is_accepted_by_skopeo(void **state)
{
    (void)state;
    char *scratch = tu_keep(tu_scratch_dir("interop-zstd"));
    char *dir = path_of(scratch, "oci");
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d));
    struct built *b = tu_keep(calloc(1, sizeof *b));
    make_tars(scratch, b);
    ocidir_builder_t *bld = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &bld));
    char layer[OCIDIR_DIGEST_MAX], diff[OCIDIR_DIGEST_MAX], manifest[OCIDIR_DIGEST_MAX];
    add_tar_layer(d, bld, b->tar[0], OCIDIR_COMPRESSION_ZSTD, layer, diff);
    assert_ocidir(0, ocidir_builder_set_config_strv(bld, OCIDIR_CONFIG_CMD, CMD));
    assert_ocidir(0, ocidir_builder_commit(bld, "z1", 0, manifest));
    ocidir_builder_free(bld);
    ocidir_close(d);
    /* The zstd stream is a real one: zstd decompresses it to the tar. */
    char *blob = tu_keep(tu_blob_path(dir, layer));
    assert_int_equal(tu_sh("zstd -q -d -c '%s' | cmp -s - '%s'", blob, b->tar[0]), 0);

    char *inspect = path_of(scratch, "inspect.json");
    assert_int_equal(tu_sh("skopeo inspect 'oci:%s:z1' > '%s'", dir, inspect), 0);
    char *js = minify(slurp(inspect, NULL));
    assert_contains(js, layer, "skopeo inspect");
    /* (skopeo 1.9.3's inspect shows no media types: the raw manifest does.) */
    char *raw = path_of(scratch, "raw.json");
    assert_int_equal(tu_sh("skopeo inspect --raw 'oci:%s:z1' > '%s'", dir, raw), 0);
    assert_contains(minify(slurp(raw, NULL)), "\"application/vnd.oci.image.layer.v1.tar+zstd\"", "skopeo inspect --raw");

    char *other = path_of(scratch, "other");
    assert_int_equal(tu_sh("skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers "
                        "'oci:%s:z1' 'oci:%s:z1'",
                        dir, other),
                     0);
    ocidir_t *o = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, other, OCIDIR_OPEN_RDONLY, &o));
    char dg[OCIDIR_DIGEST_MAX] = "";
    assert_ocidir(0, ocidir_resolve(o, "z1", dg, NULL, NULL));
    assert_string_equal(dg, manifest);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(o, "z1", "linux/amd64", &img));
    char *out = path_of(scratch, "copy.tar");
    layer_to_file(img, 0, out);
    assert_int_equal(tu_sh("cmp -s '%s' '%s'", out, b->tar[0]), 0);
    ocidir_image_close(img);
    ocidir_close(o);
}

/* LXC's layout: blobs/sha256 -> <cache>/sha256, and the cache added as the
 * write target.  Every blob lands in the cache; umoci and skopeo read the
 * image through the symlink. */
static void test_library_writes_into_lxc_cache_and_umoci_unpacks_it(void **state)
{
    (void)state;
    char *scratch = tu_keep(tu_scratch_dir("interop-lxc"));
    char *cache = path_of(scratch, "cache");
    char *dir = path_of(scratch, "oci");
    assert_int_equal(tu_sh("mkdir -p '%s/sha256' '%s/blobs' && ln -s '%s/sha256' '%s/blobs/sha256' && "
                        "printf '{\"imageLayoutVersion\":\"1.0.0\"}' > '%s/oci-layout' && "
                        "printf '{\"schemaVersion\":2,\"manifests\":[]}' > '%s/index.json'",
                        cache, dir, cache, dir, dir, dir),
                     0);
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &d));
    int cfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cfd >= 0);
    assert_ocidir(0, ocidir_add_blobdir_fd(d, cfd, OCIDIR_BLOBDIR_WRITE));
    close(cfd);
    struct built *b = tu_keep(calloc(1, sizeof *b));
    build_image(d, scratch, "lxc", b);
    char cdg[OCIDIR_DIGEST_MAX];
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "lxc", "linux/amd64", &img));
    assert_ocidir(0, ocidir_image_config_descriptor(img, NULL, cdg, NULL));
    ocidir_image_close(img);
    ocidir_close(d);

    /* Every blob is in the cache; blobs/sha256 is still the symlink. */
    const char *digests[] = {b->manifest, cdg, b->layer[0], b->layer[1]};
    for (size_t i = 0; i < 4; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/sha256/%s", cache, tu_hex(digests[i]));
        if (!tu_exists(path))
            print_error("%s is not in the cache\n", digests[i]);
        assert_true(tu_exists(path));
    }
    struct stat st;
    char *link = path_of(dir, "blobs/sha256");
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    char *bundle = path_of(scratch, "bundle");
    assert_int_equal(tu_sh("umoci unpack --rootless --image '%s:lxc' '%s' >/dev/null", dir, bundle), 0);
    assert_bundle(bundle, b);
    assert_int_equal(tu_sh("skopeo inspect 'oci:%s:lxc' > /dev/null", dir), 0);
}

/* ---- Images built by umoci, copied by skopeo ------------------------------- */

#define ADDED "added by the test\n"

/* The image umoci made (see test_umoci_image_is_read_by_the_library) read
 * through the library: config values, and every layer to a verified end,
 * one of them a tar holding added.txt. */
static void assert_umoci_image(ocidir_t *d, const char *ref, const char *scratch, char digest_out[OCIDIR_DIGEST_MAX])
{
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, ref, NULL, &img));
    char *os = NULL, *arch = NULL;
    assert_ocidir(0, ocidir_image_config_string(img, OCIDIR_CONFIG_OS, &os));
    assert_ocidir(0, ocidir_image_config_string(img, OCIDIR_CONFIG_ARCHITECTURE, &arch));
    assert_non_null(os);
    assert_non_null(arch);
    assert_string_equal(os, "linux");
    /* Opened again for the platform its config names: the same manifest. */
    char platform[128], again[OCIDIR_DIGEST_MAX];
    snprintf(platform, sizeof platform, "%s/%s", os, arch);
    ocidir_free(os);
    ocidir_free(arch);
    ocidir_image_t *img2 = NULL;
    assert_ocidir(0, ocidir_image_open(d, ref, platform, &img2));
    assert_ocidir(0, ocidir_image_manifest(img, digest_out, NULL, NULL));
    assert_ocidir(0, ocidir_image_manifest(img2, again, NULL, NULL));
    assert_string_equal(digest_out, again);
    ocidir_image_close(img2);

    assert_int_equal(ocidir_image_config_is_empty(img), 0);
    char **v = NULL;
    assert_ocidir(0, ocidir_image_config_strv(img, OCIDIR_CONFIG_ENTRYPOINT, &v));
    tu_assert_strv(v, (const char *const[]){"/bin/sh", NULL});
    ocidir_strv_free(v);
    v = NULL;
    assert_ocidir(0, ocidir_image_config_strv(img, OCIDIR_CONFIG_ENV, &v));
    if (!strv_has(v, "FOO=bar"))
        print_error("Env lacks FOO=bar\n");
    assert_true(strv_has(v, "FOO=bar"));
    ocidir_strv_free(v);
    char *s = NULL;
    assert_ocidir(0, ocidir_image_config_string(img, OCIDIR_CONFIG_USER, &s));
    assert_non_null(s);
    assert_string_equal(s, "1000:1000");
    ocidir_free(s);
    s = NULL;
    assert_ocidir(0, ocidir_image_config_string(img, OCIDIR_CONFIG_WORKING_DIR, &s));
    assert_non_null(s);
    assert_string_equal(s, "/srv");
    ocidir_free(s);
    s = NULL;
    assert_ocidir(0, ocidir_image_config_string(img, OCIDIR_CONFIG_CREATED, &s));
    assert_non_null(s); /* umoci writes one */
    ocidir_free(s);
    v = NULL;
    assert_ocidir(0, ocidir_image_config_labels(img, &v));
    tu_assert_strv(v, (const char *const[]){"a", "b", NULL});
    ocidir_strv_free(v);

    size_t n = ocidir_image_layer_count(img);
    assert_true(n >= 1);
    v = NULL;
    assert_ocidir(0, ocidir_image_config_strv(img, OCIDIR_CONFIG_DIFF_IDS, &v));
    size_t ndiff = 0;
    while (v && v[ndiff])
        ndiff++;
    assert_int_equal(ndiff, n);
    ocidir_strv_free(v);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "umoci-layer-%zu.tar", i);
        char *out = path_of(scratch, name);
        layer_to_file(img, i, out);
        /* The decompressed stream is a tar (`tar -t` lists it). */
        assert_int_equal(tu_sh("tar -tf '%s' > /dev/null", out), 0);
        if (tu_sh("tar -tf '%s' | grep -qx -e added.txt -e ./added.txt -e /added.txt", out) == 0) {
            char *content = path_of(scratch, "added.out");
            assert_int_equal(tu_sh("tar -xOf '%s' --wildcards '*added.txt' > '%s'", out, content), 0);
            assert_file_content(content, ADDED, strlen(ADDED));
            found = 1;
        }
    }
    if (!found)
        print_error("no layer of %s holds added.txt\n", ref);
    assert_true(found);
    ocidir_image_close(img);
}

static void make_umoci_image(const char *scratch, const char *layout)
{
    char *bundle = path_of(scratch, "umoci-bundle");
    assert_int_equal(tu_sh("umoci init --layout '%s' && umoci new --image '%s:base' && "
                        "umoci unpack --rootless --image '%s:base' '%s' >/dev/null && "
                        "printf '" ADDED "' > '%s/rootfs/added.txt' && mkdir -p '%s/rootfs/srv' && "
                        "umoci repack --image '%s:base' '%s' && "
                        "umoci config --image '%s:base' --config.entrypoint /bin/sh --config.env FOO=bar "
                        "--config.user 1000:1000 --config.workingdir /srv --config.label a=b",
                        layout, layout, layout, bundle, bundle, bundle, layout, bundle, layout),
                     0);
}

static void test_umoci_image_is_read_by_the_library(void **state)
{
    (void)state;
    char *scratch = tu_keep(tu_scratch_dir("interop-umoci"));
    char *layout = path_of(scratch, "L");
    make_umoci_image(scratch, layout);

    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d));
    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    tu_assert_strv(tags, (const char *const[]){"base", NULL});
    ocidir_strv_free(tags);
    char dg[OCIDIR_DIGEST_MAX], resolved[OCIDIR_DIGEST_MAX];
    assert_umoci_image(d, "base", scratch, dg);
    assert_ocidir(0, ocidir_resolve(d, "base", resolved, NULL, NULL));
    assert_string_equal(dg, resolved);

    /* The library starts a new image from umoci's and umoci unpacks it. */
    ocidir_close(d);
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, 0, &d));
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_from(d, "base", NULL, &b));
    assert_ocidir(0, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_CMD, (const char *const[]){"-c", "true", NULL}));
    assert_ocidir(0, ocidir_builder_commit(b, "derived", 0, NULL));
    ocidir_builder_free(b);
    ocidir_close(d);
    char *bundle = path_of(scratch, "derived-bundle");
    assert_int_equal(tu_sh("umoci unpack --rootless --image '%s:derived' '%s' >/dev/null", layout, bundle), 0);
    assert_file_content(path_of(bundle, "rootfs/added.txt"), ADDED, strlen(ADDED));
    char *cfg = minify(slurp(path_of(bundle, "config.json"), NULL));
    assert_contains(cfg, "\"args\":[\"/bin/sh\",\"-c\",\"true\"]", "umoci's config.json");
    assert_contains(cfg, "\"cwd\":\"/srv\"", "umoci's config.json");
}

static void test_skopeo_copies_of_umoci_image_are_read_by_the_library(void **state)
{
    (void)state;
    char *scratch = tu_keep(tu_scratch_dir("interop-skopeo"));
    char *layout = path_of(scratch, "L");
    make_umoci_image(scratch, layout);
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d));
    char base[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_resolve(d, "base", base, NULL, NULL));
    ocidir_close(d);

    /* A plain copy. */
    char *s = path_of(scratch, "S");
    assert_int_equal(tu_sh("skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers "
                        "'oci:%s:base' 'oci:%s:copy'",
                        layout, s),
                     0);
    assert_ocidir(0, ocidir_open(AT_FDCWD, s, OCIDIR_OPEN_RDONLY, &d));
    char dg[OCIDIR_DIGEST_MAX];
    assert_umoci_image(d, "copy", scratch, dg);
    assert_string_equal(dg, base);
    ocidir_close(d);

    /* A copy whose blobs all went to a shared blob directory. */
    char *s2 = path_of(scratch, "S2");
    char *cache = path_of(scratch, "CACHE");
    assert_int_equal(tu_sh("mkdir -p '%s' && skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers "
                        "--dest-shared-blob-dir '%s' 'oci:%s:base' 'oci:%s:copy'",
                        cache, cache, layout, s2),
                     0);
    char *own = path_of(s2, "blobs/sha256");
    int own_blobs = tu_count_entries(own);
    if (own_blobs > 0)
        print_error("%s holds %d blobs\n", own, own_blobs);
    assert_true(own_blobs <= 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/sha256/%s", cache, tu_hex(base));
    assert_true(tu_exists(path));

    assert_ocidir(0, ocidir_open(AT_FDCWD, s2, OCIDIR_OPEN_RDONLY, &d));
    ocidir_image_t *img = (ocidir_image_t *)&img;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_open(d, "copy", NULL, &img));
    assert_ptr_equal(img, (ocidir_image_t *)&img);
    int fd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_ocidir(0, ocidir_add_blobdir_fd(d, fd, 0));
    close(fd);
    assert_umoci_image(d, "copy", scratch, dg);
    assert_string_equal(dg, base);
    ocidir_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_library_image_is_inspected_copied_and_unpacked_by_the_tools),
        TEARDOWN(test_zstd_layer_image_is_accepted_by_skopeo),
        TEARDOWN(test_library_writes_into_lxc_cache_and_umoci_unpacks_it),
        TEARDOWN(test_umoci_image_is_read_by_the_library),
        TEARDOWN(test_skopeo_copies_of_umoci_image_are_read_by_the_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
