/* Every error code, provoked once each through the public API, with the
 * message checked to name what failed. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Under AddressSanitizer, let an impossible malloc return NULL (as libc
 * does) instead of ending the process, so that OCIDIR_E_NOMEM is seen. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

#define HELLO_DIGEST "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

struct fx {
    char *dir;
    ocidir_t *d;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->d = tu_new_layout(&f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ocidir_close(f->d);
    tu_rm_rf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void assert_message_mentions(const char *needle)
{
    if (!strstr(ocidir_last_error(), needle))
        print_error("last error \"%s\" does not mention \"%s\"\n", ocidir_last_error(), needle);
    assert_non_null(strstr(ocidir_last_error(), needle));
}

static void test_invalid_for_null_handle_out(void **state)
{
    (void)state;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_open(AT_FDCWD, "/tmp", 0, NULL));
    assert_message_mentions("out");
}

static void test_io_with_errno_for_bad_fd(void **state)
{
    struct fx *f = *state;
    assert_ocidir(OCIDIR_E_IO, ocidir_blob_put_fd(f->d, 999999, NULL, NULL));
    assert_int_equal(ocidir_last_errno(), EBADF);
    assert_message_mentions("999999");
}

static void test_not_found_names_the_digest(void **state)
{
    struct fx *f = *state;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(f->d, HELLO_DIGEST, NULL));
    assert_message_mentions(HELLO_DIGEST);
}

static void test_digest_mismatch_names_the_digest(void **state)
{
    struct fx *f = *state;
    char *p = tu_blob_path(f->dir, HELLO_DIGEST);
    tu_write_file(p, "hellO", 5);
    free(p);
    void *buf = NULL;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_blob_read_all(f->d, HELLO_DIGEST, 5, 64, &buf, NULL));
    assert_null(buf);
    assert_message_mentions(HELLO_DIGEST);
}

static void test_size_mismatch_at_open(void **state)
{
    struct fx *f = *state;
    assert_ocidir(0, ocidir_blob_put(f->d, "hello", 5, NULL));
    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(OCIDIR_E_SIZE, ocidir_blob_open(f->d, HELLO_DIGEST, 6, &r));
    assert_null(r);
    assert_message_mentions("expected 6");
}

static void test_bad_digest_quotes_it(void **state)
{
    struct fx *f = *state;
    assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_blob_stat(f->d, "sha256:../../etc/passwd", NULL));
    assert_message_mentions("../../etc/passwd");
}

static void test_format_for_directory_without_layout(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("errors-format");
    ocidir_t *d = NULL;
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_open(AT_FDCWD, dir, 0, &d));
    assert_null(d);
    assert_message_mentions("oci-layout");
    tu_rm_rf(dir);
    free(dir);
}

static void test_escape_for_blob_symlink_outside(void **state)
{
    struct fx *f = *state;
    char *p = tu_blob_path(f->dir, HELLO_DIGEST);
    assert_int_equal(symlink("/etc/hostname", p), 0);
    free(p);
    int fd = -1;
    assert_ocidir(OCIDIR_E_ESCAPE, ocidir_blob_open_fd(f->d, HELLO_DIGEST, &fd));
    assert_int_equal(fd, -1);
    assert_message_mentions(HELLO_DIGEST);
}

/* A sparse 256 TiB blob on tmpfs: more than any address space, so the
 * buffer read_all needs cannot be allocated. */
static void test_nomem_when_the_buffer_cannot_be_allocated(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp_shm("errors-nomem");
    assert_non_null(dir);
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d));
    char *p = tu_blob_path(dir, HELLO_DIGEST);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)1 << 48), 0);
    close(fd);
    void *buf = NULL;
    assert_ocidir(OCIDIR_E_NOMEM, ocidir_blob_read_all(d, HELLO_DIGEST, -1, SIZE_MAX, &buf, NULL));
    assert_null(buf);
    assert_message_mentions(HELLO_DIGEST);
    ocidir_close(d);
    unlink(p);
    free(p);
    tu_rm_rf(dir);
    free(dir);
}

static void test_unsupported_for_unregistered_algorithm(void **state)
{
    struct fx *f = *state;
    assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_blob_stat(f->d, "blake3:abcdef", NULL));
    assert_message_mentions("blake3:abcdef");
}

static void test_readonly_refuses_a_writer(void **state)
{
    struct fx *f = *state;
    ocidir_t *ro = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, f->dir, OCIDIR_OPEN_RDONLY, &ro));
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_writer_new(ro, OCIDIR_SHA256, &w));
    assert_null(w);
    assert_message_mentions("read-only");
    ocidir_close(ro);
}

static void test_state_for_expect_after_write(void **state)
{
    struct fx *f = *state;
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(f->d, OCIDIR_SHA256, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, "x", 1));
    assert_ocidir(OCIDIR_E_STATE, ocidir_blob_writer_expect(w, NULL, 1));
    ocidir_blob_writer_abort(w);
}

/* A manifest blob (empty config, no layers); its digest goes to out. */
static void put_manifest(ocidir_t *d, char out[OCIDIR_DIGEST_MAX])
{
    char cfg[OCIDIR_DIGEST_MAX], m[512];
    assert_ocidir(0, ocidir_blob_put(d, "{}", 2, cfg));
    snprintf(m, sizeof m,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
             "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"%s\",\"size\":2},"
             "\"layers\":[]}", cfg);
    assert_ocidir(0, ocidir_blob_put(d, m, strlen(m), out));
}

static void test_exists_for_a_tag_set_without_replacing(void **state)
{
    struct fx *f = *state;
    char m[OCIDIR_DIGEST_MAX];
    put_manifest(f->d, m);
    assert_ocidir(0, ocidir_tag_set(f->d, "stable", m, 0));
    assert_ocidir(OCIDIR_E_EXISTS, ocidir_tag_set(f->d, "stable", m, OCIDIR_TAG_NOREPLACE));
    assert_message_mentions("stable");
}

static void test_ambiguous_for_a_tag_on_two_entries(void **state)
{
    struct fx *f = *state;
    char m[OCIDIR_DIGEST_MAX], idx[2048];
    put_manifest(f->d, m);
    /* Another tool's index.json with the tag twice. */
    snprintf(idx, sizeof idx,
             "{\"schemaVersion\":2,\"manifests\":["
             "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":1,"
             "\"annotations\":{\"org.opencontainers.image.ref.name\":\"twice\"}},"
             "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":2,"
             "\"annotations\":{\"org.opencontainers.image.ref.name\":\"twice\"}}]}", m, m);
    char *p = tu_join(f->dir, "index.json");
    tu_write_file(p, idx, strlen(idx));
    free(p);
    assert_ocidir(OCIDIR_E_AMBIGUOUS, ocidir_resolve(f->d, "twice", NULL, NULL, NULL));
    assert_message_mentions("twice");
    assert_message_mentions(m);
}

static void test_invalid_for_out_of_range_enum_values(void **state)
{
    struct fx *f = *state;
    /* A C caller may pass any int where an enum is declared: the library
     * answers INVALID (or UNSUPPORTED for a compression), never undefined
     * behaviour (the ASan+UBSan build runs this too). */
    const int bad[] = {-1, 11, 99, 1 << 20};
    ocidir_builder_t *b;
    assert_ocidir(0, ocidir_builder_new(f->d, "linux/amd64", &b));
    const char *v[] = {"x", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ocidir_config_field_t field;
        int raw = bad[i];
        memcpy(&field, &raw, sizeof field);
        assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_config_strv(b, field, v));
        assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_config_string(b, field, "x"));
        ocidir_compression_t c;
        memcpy(&c, &raw, sizeof c);
        ocidir_layer_writer_t *w = NULL;
        assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_layer_writer_new(f->d, c, 0, 0, &w));
        assert_null(ocidir_compression_media_type(c));
        ocidir_digest_alg_t a;
        memcpy(&a, &raw, sizeof a);
        char dg[OCIDIR_DIGEST_MAX];
        assert_ocidir(OCIDIR_E_INVALID, ocidir_digest_buffer(a, "x", 1, dg));
    }
    ocidir_builder_free(b);
}

static void test_invalid_for_fsck_and_report_misuse(void **state)
{
    struct fx *f = *state;
    ocidir_report_t *r = (ocidir_report_t *)&r;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_fsck(NULL, NULL, &r));
    assert_message_mentions("layout handle");
    assert_ocidir(OCIDIR_E_INVALID, ocidir_fsck(f->d, NULL, NULL));
    assert_message_mentions("out");
    assert_ocidir(OCIDIR_E_INVALID, ocidir_fsck(f->d, TU_FSCK(1u << 7, 0, NULL, NULL), &r));
    assert_message_mentions("flag");
    assert_ptr_equal(r, (ocidir_report_t *)&r);

    assert_ocidir(0, ocidir_fsck(f->d, TU_FSCK(0, 1, NULL, NULL), &r));
    ocidir_find_kind_t kind = OCIDIR_FIND_COPIED;
    const char *subject = "untouched";
    assert_ocidir(OCIDIR_E_INVALID, ocidir_report_get(NULL, 0, &kind, &subject, NULL, NULL));
    assert_message_mentions("report is NULL");
    assert_int_equal(ocidir_report_count(r), 0);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_report_get(r, 0, &kind, &subject, NULL, NULL));
    assert_message_mentions("finding 0 does not exist");
    assert_ocidir(OCIDIR_E_INVALID, ocidir_report_get(r, (size_t)-1, &kind, &subject, NULL, NULL));
    assert_int_equal(kind, OCIDIR_FIND_COPIED);
    assert_string_equal(subject, "untouched");
    ocidir_report_free(r);
}

static void test_too_large_before_reading(void **state)
{
    struct fx *f = *state;
    assert_ocidir(0, ocidir_blob_put(f->d, "hello", 5, NULL));
    void *buf = NULL;
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_blob_read_all(f->d, HELLO_DIGEST, -1, 4, &buf, NULL));
    assert_null(buf);
    assert_message_mentions("limit of 4");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invalid_for_null_handle_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_with_errno_for_bad_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_names_the_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_mismatch_names_the_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_mismatch_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_digest_quotes_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_for_directory_without_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escape_for_blob_symlink_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nomem_when_the_buffer_cannot_be_allocated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_for_unregistered_algorithm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_refuses_a_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_for_expect_after_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_before_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists_for_a_tag_set_without_replacing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ambiguous_for_a_tag_on_two_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_for_out_of_range_enum_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_for_fsck_and_report_misuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
