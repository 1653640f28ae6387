/* Helpers of the housekeeping suites (test_gc, test_clone): small images
 * built through the public API, blob presence, report lookups. */
#include "testutil.h"
#include "gc_testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void put(ocidir_t *d, const char *content, char out[OCIDIR_DIGEST_MAX])
{
    assert_ocidir(0, ocidir_blob_put(d, content, strlen(content), out));
}

/* An image of one or two layers (their content as given; diff_id = digest,
 * as for an uncompressed layer), committed under `tag` (NULL: untagged). */
void make_image(ocidir_t *d, const char *tag, const char *l0, const char *l1, struct img *out)
{
    memset(out, 0, sizeof *out);
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    const char *ls[2] = {l0, l1};
    for (int i = 0; i < 2 && ls[i]; i++) {
        put(d, ls[i], out->layer[i]);
        assert_ocidir(0, ocidir_builder_add_layer(b, TAR, out->layer[i], strlen(ls[i]), out->layer[i], NULL));
    }
    assert_ocidir(0, ocidir_builder_commit(b, tag, 0, out->manifest));
    ocidir_builder_free(b);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, out->manifest, NULL, &img));
    assert_ocidir(0, ocidir_image_config_descriptor(img, NULL, out->config, NULL));
    ocidir_image_close(img);
    assert_ocidir(0, ocidir_resolve(d, out->manifest, NULL, NULL, &out->manifest_size));
}

int present(const char *layout, const char *digest)
{
    char *p = tu_blob_path(layout, digest);
    int r = tu_exists(p);
    free(p);
    return r;
}

void assert_present(const char *layout, const char *digest, int want)
{
    int got = present(layout, digest);
    if (got != want)
        print_error("blob %s is %s in %s\n", digest, got ? "present" : "absent", layout);
    assert_int_equal(got, want);
}

size_t count_kind(const ocidir_report_t *r, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        assert_ocidir(0, ocidir_report_get(r, i, &k, NULL, NULL, NULL));
        n += (int)k == kind;
    }
    return n;
}

int has_finding(const ocidir_report_t *r, int kind, const char *subject)
{
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *s;
        assert_ocidir(0, ocidir_report_get(r, i, &k, &s, NULL, NULL));
        if ((int)k == kind && strcmp(s, subject) == 0)
            return 1;
    }
    return 0;
}

void assert_finding(const ocidir_report_t *r, int kind, const char *subject)
{
    if (!has_finding(r, kind, subject)) {
        print_error("no %s finding for %s in the report:\n", ocidir_find_kind_name(kind), subject);
        for (size_t i = 0; i < ocidir_report_count(r); i++) {
            ocidir_find_kind_t k;
            const char *s, *m;
            ocidir_report_get(r, i, &k, &s, NULL, &m);
            print_error("  %s %s: %s\n", ocidir_find_kind_name(k), s, m);
        }
    }
    assert_true(has_finding(r, kind, subject));
}

/* Open an image and read its config and every layer to the verified end. */
void assert_image_complete(ocidir_t *d, const char *ref)
{
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, ref, "linux/amd64", &img));
    char cfg[OCIDIR_DIGEST_MAX];
    uint64_t cfg_size = 0;
    assert_ocidir(0, ocidir_image_config_descriptor(img, NULL, cfg, &cfg_size));
    void *buf = NULL;
    assert_ocidir(0, ocidir_blob_read_all(d, cfg, (int64_t)cfg_size, 1 << 20, &buf, NULL));
    ocidir_free(buf);
    for (size_t i = 0; i < ocidir_image_layer_count(img); i++) {
        char dg[OCIDIR_DIGEST_MAX];
        uint64_t size = 0;
        assert_ocidir(0, ocidir_image_layer(img, i, NULL, dg, &size));
        assert_ocidir(0, ocidir_blob_read_all(d, dg, (int64_t)size, 1 << 20, &buf, NULL));
        ocidir_free(buf);
    }
    ocidir_image_close(img);
}

