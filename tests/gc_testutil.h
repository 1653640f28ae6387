/* Helpers of the housekeeping suites (test_gc, test_clone).  Public API only. */
#ifndef OCIDIR_GC_TESTUTIL_H
#define OCIDIR_GC_TESTUTIL_H

#include <stdint.h>
#include <ocidir.h>

#define TAR "application/vnd.oci.image.layer.v1.tar"

struct img {
    char manifest[OCIDIR_DIGEST_MAX];
    char config[OCIDIR_DIGEST_MAX];
    char layer[2][OCIDIR_DIGEST_MAX];
    uint64_t manifest_size;
};

/* ocidir_blob_put of a string, asserting success. */
void put(ocidir_t *d, const char *content, char out[OCIDIR_DIGEST_MAX]);
/* An image ("linux/amd64") of one or two layers (l1 may be NULL) with the
 * given content (diff_id = digest, as for an uncompressed layer), committed
 * under `tag` (NULL: untagged). */
void make_image(ocidir_t *d, const char *tag, const char *l0, const char *l1, struct img *out);
/* 1 if <layout>/blobs/<alg>/<hex> exists. */
int present(const char *layout, const char *digest);
void assert_present(const char *layout, const char *digest, int want);
/* Findings of a kind; whether one of that kind has that subject. */
size_t count_kind(const ocidir_report_t *r, int kind);
int has_finding(const ocidir_report_t *r, int kind, const char *subject);
/* Assert it, printing the report when it is not there. */
void assert_finding(const ocidir_report_t *r, int kind, const char *subject);
/* Open an image and read its config and every layer to the verified end. */
void assert_image_complete(ocidir_t *d, const char *ref);

#endif
