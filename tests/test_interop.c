/* Interoperability at the blob level with the real peer tools from Debian
 * (skopeo, umoci; installed by scripts/setup, never skipped): blobs this
 * library writes into a shared cache through an LXC-style layout are read,
 * copied and unpacked by them; blobs skopeo writes into a shared blob
 * directory are read and verified by this library through
 * ocidir_add_blobdir_fd().  The manifest, config and index.json are written
 * by the test itself (image-level support is not part of the library yet). */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct image {
    char layer[OCIDIR_DIGEST_MAX], config[OCIDIR_DIGEST_MAX], manifest[OCIDIR_DIGEST_MAX];
    uint64_t layer_size;
    size_t config_size, manifest_size;
};

/* Writes a one-layer image's blobs through `d` (wherever its write target
 * is) and returns their digests. */
static void write_image(ocidir_t *d, const char *scratch, struct image *img)
{
    char *tree = tu_join(scratch, "tree");
    char *tar = tu_join(scratch, "layer.tar");
    assert_int_equal(tu_sh("mkdir -p '%s/etc' && printf 'hello from libocidir\\n' > '%s/hello.txt' && "
                        "printf 'x:x:0:0::/:/bin/sh\\n' > '%s/etc/passwd' && "
                        "tar --sort=name --mtime=@0 --owner=0 --group=0 -C '%s' -cf '%s' .",
                        tree, tree, tree, tree, tar),
                     0);
    int fd = open(tar, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_ocidir(0, ocidir_blob_put_fd(d, fd, img->layer, &img->layer_size));
    close(fd);

    char config[1024];
    int n = snprintf(config, sizeof config,
                     "{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"/bin/sh\"]},\"os\":\"linux\","
                     "\"rootfs\":{\"diff_ids\":[\"%s\"],\"type\":\"layers\"}}",
                     img->layer);
    img->config_size = (size_t)n;
    assert_ocidir(0, ocidir_blob_put(d, config, img->config_size, img->config));

    char manifest[2048];
    n = snprintf(manifest, sizeof manifest,
                 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
                 "\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                 "\"digest\":\"%s\",\"size\":%llu}]}",
                 img->config, img->config_size, img->layer, (unsigned long long)img->layer_size);
    img->manifest_size = (size_t)n;
    assert_ocidir(0, ocidir_blob_put(d, manifest, img->manifest_size, img->manifest));
    free(tree);
    free(tar);
}

static void write_index(const char *layout, const struct image *img, const char *tag)
{
    char index[1024];
    int n = snprintf(index, sizeof index,
                     "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                     "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                     "\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}}]}",
                     img->manifest, img->manifest_size, tag);
    char *p = tu_join(layout, "index.json");
    tu_write_file(p, index, (size_t)n);
    free(p);
}

static void assert_blob_verifies(ocidir_t *d, const char *digest, uint64_t size)
{
    void *buf = NULL;
    size_t len = 0;
    assert_ocidir(0, ocidir_blob_read_all(d, digest, (int64_t)size, 1u << 30, &buf, &len));
    assert_int_equal(len, size);
    ocidir_free(buf);
}

/* LXC's layout: blobs/sha256 -> <cache>/sha256.  The library writes through
 * it; skopeo inspects and copies the image; umoci unpacks it. */
static void test_blobs_written_through_lxc_cache_are_read_by_skopeo_and_umoci(void **state)
{
    (void)state;
    char *scratch = tu_mkdtemp("interop");
    char *cache = tu_join(scratch, "cache");
    char *layout = tu_join(scratch, "oci");
    assert_int_equal(tu_sh("mkdir -p '%s/sha256' '%s/blobs' && ln -s '%s/sha256' '%s/blobs/sha256' && "
                        "printf '{\"imageLayoutVersion\":\"1.0.0\"}' > '%s/oci-layout' && "
                        "printf '{\"schemaVersion\":2,\"manifests\":[]}' > '%s/index.json'",
                        cache, layout, cache, layout, layout, layout),
                     0);
    ocidir_t *d = NULL;
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_open(AT_FDCWD, layout, 0, &d));
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &d));
    struct image img;
    write_image(d, scratch, &img);
    ocidir_close(d);
    write_index(layout, &img, "c1");

    /* The blobs landed in the cache. */
    char path[4096];
    snprintf(path, sizeof path, "%s/sha256/%s", cache, img.layer + 7);
    assert_true(tu_exists(path));

    /* skopeo reads the manifest and config and agrees on the layer digest. */
    assert_int_equal(tu_sh("skopeo inspect 'oci:%s:c1' > '%s/inspect.json'", layout, scratch), 0);
    assert_int_equal(tu_sh("grep -q '%s' '%s/inspect.json'", img.layer, scratch), 0);
    /* skopeo copies it (verifying every digest, keeping every byte) into a
     * second layout. */
    char *copy = tu_join(scratch, "copy");
    assert_int_equal(tu_sh("skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers 'oci:%s:c1' 'oci:%s:c1'", layout, copy), 0);
    /* umoci unpacks the layer the library wrote. */
    assert_int_equal(tu_sh("umoci unpack --image '%s:c1' '%s/bundle' >/dev/null", layout, scratch), 0);
    snprintf(path, sizeof path, "%s/bundle/rootfs/hello.txt", scratch);
    void *content = NULL;
    ssize_t n = tu_read_file(path, &content);
    assert_int_equal(n, 21);
    assert_memory_equal(content, "hello from libocidir\n", 21);
    free(content);

    /* What skopeo copied (byte for byte), the library reads and verifies. */
    assert_ocidir(0, ocidir_open(AT_FDCWD, copy, OCIDIR_OPEN_RDONLY, &d));
    assert_blob_verifies(d, img.manifest, img.manifest_size);
    assert_blob_verifies(d, img.config, img.config_size);
    assert_blob_verifies(d, img.layer, img.layer_size);
    ocidir_close(d);

    free(copy);
    free(layout);
    free(cache);
    tu_rm_rf(scratch);
    free(scratch);
}

/* skopeo copy --dest-shared-blob-dir: the layout holds no blobs; the library
 * reads them, verified, from the shared directory passed as an fd. */
static void test_skopeo_shared_blob_dir_is_read_through_blobdir_fd(void **state)
{
    (void)state;
    char *scratch = tu_mkdtemp("interop-shared");
    char *src = tu_join(scratch, "src");
    char *dst = tu_join(scratch, "dst");
    char *shared = tu_join(scratch, "shared");
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, src, OCIDIR_OPEN_CREATE, &d));
    struct image img;
    write_image(d, scratch, &img);
    ocidir_close(d);
    write_index(src, &img, "latest");

    assert_int_equal(tu_sh("mkdir -p '%s' && skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers --dest-shared-blob-dir '%s' 'oci:%s:latest' 'oci:%s:latest'",
                        shared, shared, src, dst),
                     0);
    char path[4096];
    snprintf(path, sizeof path, "%s/sha256/%s", shared, img.layer + 7);
    assert_true(tu_exists(path));
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dst, img.layer + 7);
    assert_false(tu_exists(path));

    /* skopeo may leave no blobs/ in the layout: the library's CREATE
     * completes it without touching what is there. */
    assert_ocidir(0, ocidir_open(AT_FDCWD, dst, OCIDIR_OPEN_CREATE, &d));
    uint64_t size = 0;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, img.layer, &size));
    int fd = open(shared, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_ocidir(0, ocidir_add_blobdir_fd(d, fd, 0));
    close(fd);
    assert_ocidir(0, ocidir_blob_stat(d, img.layer, &size));
    assert_int_equal(size, img.layer_size);
    assert_blob_verifies(d, img.manifest, img.manifest_size);
    assert_blob_verifies(d, img.config, img.config_size);
    assert_blob_verifies(d, img.layer, img.layer_size);

    /* A byte flipped in the shared copy is caught. */
    snprintf(path, sizeof path, "%s/sha256/%s", shared, img.config + 7);
    void *buf = NULL;
    ssize_t n = tu_read_file(path, &buf);
    assert_true(n > 10);
    ((char *)buf)[5] ^= 1;
    assert_int_equal(unlink(path), 0); /* skopeo's files are read-only */
    tu_write_file(path, buf, (size_t)n);
    free(buf);
    void *out = NULL;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(d, img.config, -1, 1u << 20, &out, NULL));
    assert_null(out);
    ocidir_close(d);

    free(src);
    free(dst);
    free(shared);
    tu_rm_rf(scratch);
    free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blobs_written_through_lxc_cache_are_read_by_skopeo_and_umoci),
        cmocka_unit_test(test_skopeo_shared_blob_dir_is_read_through_blobdir_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
