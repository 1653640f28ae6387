/* Digests: validation against the image-spec grammar and the registered
 * algorithms, hashing, and the rule that every function taking a digest
 * validates it before it touches the filesystem.  Also the small constant
 * functions of the conventions tier (strerror, version, digest_max). */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEX64_A "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_EMPTY "sha256:" HEX64_A
#define SHA256_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_448 "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define HEX128_ABC                                                         \
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" \
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
#define SHA512_ABC "sha512:" HEX128_ABC
#define SHA512_EMPTY                                                              \
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" \
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_scratch)

/* Digest strings no function may accept: each is OCIDIR_E_BAD_DIGEST. */
static const char *const malformed[] = {
    "sha256:../../etc/passwd",
    "sha256:../../../../../../../../etc/passwd",
    "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    "sha256:E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    /* 63 and 65 hex digits */
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550",
    /* sha512 with only 64 hex digits, and sha256 with 128 */
    "sha512:" HEX64_A,
    "sha256:" HEX128_ABC,
    SHA256_EMPTY "/x",
    SHA256_EMPTY "/",
    SHA256_EMPTY "\n",
    SHA256_EMPTY ":",
    " " SHA256_EMPTY,
    "sha256:/" HEX64_A,
    "sha256:" "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "",
    ":",
    "sha256:",
    ":abc",
    "sha256",
    "SHA256:" HEX64_A,
    "sha256-:x",
    "-sha256:x",
    "a..b:x",
    "a+:x",
    "sha256::" HEX64_A,
    "blake3:ab/cd",
    "blake3:ab.cd",
    "blake3:",
    "/etc/passwd",
};

/* Grammatical digests of algorithms the library does not register. */
static const char *const unregistered[] = {
    "blake3:abcd",
    "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
    "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
    "sha384:abc=",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void expect_validate(const char *digest, int expected)
{
    int rc = ocidir_digest_validate(digest);
    if (rc != expected)
        print_error("ocidir_digest_validate(\"%s\") = %d, expected %d\n", digest, rc, expected);
    assert_int_equal(rc, expected);
}

static void test_validate_accepts_registered_sha256_and_sha512(void **state)
{
    (void)state;
    expect_validate(SHA256_EMPTY, 0);
    expect_validate(SHA256_ABC, 0);
    expect_validate(SHA512_ABC, 0);
    expect_validate(SHA512_EMPTY, 0);
}

static void test_validate_rejects_path_traversal(void **state)
{
    (void)state;
    expect_validate("sha256:../../etc/passwd", OCIDIR_E_BAD_DIGEST);
    expect_validate("sha256:..", OCIDIR_E_BAD_DIGEST);
    expect_validate("../sha256:" HEX64_A, OCIDIR_E_BAD_DIGEST);
}

static void test_validate_rejects_uppercase_hex(void **state)
{
    (void)state;
    expect_validate("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                    OCIDIR_E_BAD_DIGEST);
    expect_validate("sha512:DDAF35A193617ABACC417349AE20413112E6FA4E89A97EA20A9EEEE64B55D39A"
                    "2192992A274FC1A836BA3C23A3FEEBBD454D4423643CE80E2A9AC94FA54CA49F",
                    OCIDIR_E_BAD_DIGEST);
}

static void test_validate_rejects_wrong_hex_length(void **state)
{
    (void)state;
    expect_validate("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
                    OCIDIR_E_BAD_DIGEST);
    expect_validate("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550",
                    OCIDIR_E_BAD_DIGEST);
    expect_validate("sha512:" HEX64_A, OCIDIR_E_BAD_DIGEST);
    expect_validate("sha256:" HEX128_ABC, OCIDIR_E_BAD_DIGEST);
    expect_validate("sha512:" HEX128_ABC "0", OCIDIR_E_BAD_DIGEST);
}

static void test_validate_rejects_trailing_path_component(void **state)
{
    (void)state;
    expect_validate(SHA256_EMPTY "/x", OCIDIR_E_BAD_DIGEST);
    expect_validate(SHA256_EMPTY "/", OCIDIR_E_BAD_DIGEST);
    expect_validate(SHA256_EMPTY "\n", OCIDIR_E_BAD_DIGEST);
}

static void test_validate_rejects_empty_and_partial_forms(void **state)
{
    (void)state;
    expect_validate("", OCIDIR_E_BAD_DIGEST);
    expect_validate(":", OCIDIR_E_BAD_DIGEST);
    expect_validate("sha256:", OCIDIR_E_BAD_DIGEST);
    expect_validate(":abc", OCIDIR_E_BAD_DIGEST);
    expect_validate("sha256", OCIDIR_E_BAD_DIGEST);
    expect_validate(HEX64_A, OCIDIR_E_BAD_DIGEST);
}

static void test_validate_reports_unregistered_algorithm_as_unsupported(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(unregistered); i++)
        expect_validate(unregistered[i], OCIDIR_E_UNSUPPORTED);
}

static void test_validate_rejects_bad_algorithm_grammar(void **state)
{
    (void)state;
    expect_validate("SHA256:" HEX64_A, OCIDIR_E_BAD_DIGEST);
    expect_validate("sha256-:x", OCIDIR_E_BAD_DIGEST);
    expect_validate("-sha256:x", OCIDIR_E_BAD_DIGEST);
    expect_validate("a..b:x", OCIDIR_E_BAD_DIGEST);
    expect_validate("a+:x", OCIDIR_E_BAD_DIGEST);
    expect_validate("a/b:x", OCIDIR_E_BAD_DIGEST);
}

static void test_validate_rejects_bad_encoding_of_unregistered_algorithm(void **state)
{
    (void)state;
    expect_validate("blake3:ab/cd", OCIDIR_E_BAD_DIGEST);
    expect_validate("blake3:ab.cd", OCIDIR_E_BAD_DIGEST);
    expect_validate("blake3:", OCIDIR_E_BAD_DIGEST);
    expect_validate("blake3:ab:cd", OCIDIR_E_BAD_DIGEST);
}

static void test_validate_rejects_every_malformed_digest(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(malformed); i++)
        expect_validate(malformed[i], OCIDIR_E_BAD_DIGEST);
}

static void test_validate_rejects_null(void **state)
{
    (void)state;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_digest_validate(NULL));
}

static void expect_buffer(ocidir_digest_alg_t alg, const char *s, const char *expected)
{
    char out[OCIDIR_DIGEST_MAX];
    memset(out, 'X', sizeof out);
    assert_ocidir(0, ocidir_digest_buffer(alg, s, strlen(s), out));
    assert_string_equal(out, expected);
}

static void test_digest_buffer_sha256_matches_known_vectors(void **state)
{
    (void)state;
    expect_buffer(OCIDIR_SHA256, "", SHA256_EMPTY);
    expect_buffer(OCIDIR_SHA256, "abc", SHA256_ABC);
    expect_buffer(OCIDIR_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  SHA256_448);
}

static void test_digest_buffer_sha512_matches_known_vectors(void **state)
{
    (void)state;
    expect_buffer(OCIDIR_SHA512, "abc", SHA512_ABC);
    expect_buffer(OCIDIR_SHA512, "", SHA512_EMPTY);
}

static void test_digest_buffer_accepts_null_buffer_of_length_zero(void **state)
{
    (void)state;
    char out[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, NULL, 0, out));
    assert_string_equal(out, SHA256_EMPTY);
}

static void test_digest_buffer_rejects_invalid_arguments_without_writing_output(void **state)
{
    (void)state;
    char out[OCIDIR_DIGEST_MAX];
    memset(out, 'X', sizeof out);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_digest_buffer((ocidir_digest_alg_t)2, "abc", 3, out));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_digest_buffer((ocidir_digest_alg_t)-1, "abc", 3, out));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_digest_buffer(OCIDIR_SHA256, NULL, 3, out));
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 'X');
    assert_ocidir(OCIDIR_E_INVALID, ocidir_digest_buffer(OCIDIR_SHA256, "abc", 3, NULL));
}

/* ---- every function taking a digest validates it first ---- */


static ocidir_digest_alg_t alg_named_by(const char *digest)
{
    return strncmp(digest, "sha512", 6) == 0 ? OCIDIR_SHA512 : OCIDIR_SHA256;
}

/* Every digest-taking function of a writable handle. */
static void expect_all_digest_functions(ocidir_t *d, const char *digest, int expected)
{
    tu_expect_lookups_fail_untouched(d, digest, expected);
    assert_ocidir(expected, ocidir_blob_remove(d, digest));
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, alg_named_by(digest), &w));
    assert_ocidir(expected, ocidir_blob_writer_expect(w, digest, -1));
    ocidir_blob_writer_abort(w);
}

static void test_blob_functions_answer_malformed_digest_with_bad_digest(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    for (size_t i = 0; i < N(malformed); i++)
        expect_all_digest_functions(d, malformed[i], OCIDIR_E_BAD_DIGEST);
    ocidir_close(d);
    free(dir);
}

static void test_blob_functions_answer_unregistered_algorithm_with_unsupported(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    for (size_t i = 0; i < N(unregistered); i++)
        expect_all_digest_functions(d, unregistered[i], OCIDIR_E_UNSUPPORTED);
    ocidir_close(d);
    free(dir);
}

static void test_blob_functions_reject_null_digest_as_invalid(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_stat(d, NULL, NULL));
    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_open(d, NULL, -1, &r));
    void *buf = NULL;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_read_all(d, NULL, -1, 100, &buf, NULL));
    int fd = -1;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_open_fd(d, NULL, &fd));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_remove(d, NULL));
    ocidir_close(d);
    free(dir);
}

/* A layout whose blobs/sha256 is gone: a lookup would say "not found", so
 * BAD_DIGEST / UNSUPPORTED prove validation comes first. */
static void test_digest_is_validated_before_the_filesystem_is_touched(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    ocidir_close(d);
    char *sha256 = tu_join(dir, "blobs/sha256");
    tu_rm_rf(sha256);
    assert_false(tu_exists(sha256));

    const unsigned modes[] = {0, OCIDIR_OPEN_RDONLY};
    for (size_t m = 0; m < N(modes); m++) {
        assert_ocidir(0, ocidir_open(AT_FDCWD, dir, modes[m], &d));
        /* The control: a well-formed digest really is looked up. */
        assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, SHA256_EMPTY, NULL));
        for (size_t i = 0; i < N(malformed); i++) {
            tu_expect_lookups_fail_untouched(d, malformed[i], OCIDIR_E_BAD_DIGEST);
            if (modes[m] == 0)
                assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_blob_remove(d, malformed[i]));
        }
        for (size_t i = 0; i < N(unregistered); i++) {
            tu_expect_lookups_fail_untouched(d, unregistered[i], OCIDIR_E_UNSUPPORTED);
            if (modes[m] == 0)
                assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_blob_remove(d, unregistered[i]));
        }
        ocidir_close(d);
    }
    free(sha256);
    free(dir);
}

/* The whole layout directory removed under an open handle (and its open
 * writers): still BAD_DIGEST / UNSUPPORTED, never NOT_FOUND or IO. */
static void test_digest_is_validated_even_when_the_layout_is_gone(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    const char *bad = "sha256:../../etc/passwd";
    const char *other = "blake3:abcd";
    ocidir_blob_writer_t *w_bad = NULL, *w_other = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w_bad));
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w_other));
    tu_rm_rf(dir);
    assert_false(tu_exists(dir));

    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, SHA256_EMPTY, NULL));
    tu_expect_lookups_fail_untouched(d, bad, OCIDIR_E_BAD_DIGEST);
    tu_expect_lookups_fail_untouched(d, other, OCIDIR_E_UNSUPPORTED);
    assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_blob_remove(d, bad));
    assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_blob_remove(d, other));
    assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_blob_writer_expect(w_bad, bad, -1));
    assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_blob_writer_expect(w_other, other, -1));
    ocidir_blob_writer_abort(w_bad);
    ocidir_blob_writer_abort(w_other);
    ocidir_close(d);
    free(dir);
}

static void test_last_error_names_the_malformed_digest(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    const char *bad = "sha256:not-a-digest-zz";
    assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_blob_stat(d, bad, NULL));
    if (!strstr(ocidir_last_error(), "not-a-digest-zz"))
        print_error("last error: %s\n", ocidir_last_error());
    assert_non_null(strstr(ocidir_last_error(), "not-a-digest-zz"));
    ocidir_close(d);
    free(dir);
}

static void test_writer_expect_rejects_digest_of_other_algorithm(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_expect(w, SHA512_ABC, -1));
    ocidir_blob_writer_abort(w);
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA512, &w));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_blob_writer_expect(w, SHA256_ABC, -1));
    ocidir_blob_writer_abort(w);
    ocidir_close(d);
    free(dir);
}

static void test_sha512_blob_round_trips(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char content[5000];
    tu_fill(content, sizeof content, 512);

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA512, &w));
    assert_ocidir(0, ocidir_blob_writer_write(w, content, 1000));
    assert_ocidir(0, ocidir_blob_writer_write(w, content + 1000, sizeof content - 1000));
    char digest[OCIDIR_DIGEST_MAX];
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_writer_commit(w, digest, &size));
    assert_int_equal(size, sizeof content);

    assert_int_equal(strncmp(digest, "sha512:", 7), 0);
    assert_int_equal(strlen(digest), 7 + 128);
    assert_int_equal(strspn(digest + 7, "0123456789abcdef"), 128);
    char expected[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA512, content, sizeof content, expected));
    assert_string_equal(digest, expected);

    char *path = tu_blob_path(dir, digest);
    assert_non_null(strstr(path, "/blobs/sha512/"));
    void *file = NULL;
    assert_int_equal(tu_read_file(path, &file), (ssize_t)sizeof content);
    assert_memory_equal(file, content, sizeof content);
    free(file);

    void *buf = NULL;
    size_t len = 0;
    assert_ocidir(0, ocidir_blob_read_all(d, digest, (int64_t)sizeof content, 1 << 20, &buf, &len));
    assert_int_equal(len, sizeof content);
    assert_memory_equal(buf, content, sizeof content);
    ocidir_free(buf);

    /* A sha512 expectation that matches commits too. */
    assert_ocidir(0, ocidir_blob_writer_new(d, OCIDIR_SHA512, &w));
    assert_ocidir(0, ocidir_blob_writer_expect(w, SHA512_ABC, 3));
    assert_ocidir(0, ocidir_blob_writer_write(w, "abc", 3));
    assert_ocidir(0, ocidir_blob_writer_commit(w, digest, NULL));
    assert_string_equal(digest, SHA512_ABC);
    assert_ocidir(0, ocidir_blob_stat(d, SHA512_ABC, &size));
    assert_int_equal(size, 3);

    free(path);
    ocidir_close(d);
    free(dir);
}

/* ---- constants of the conventions tier ---- */

static const int all_codes[] = {
    OCIDIR_OK,          OCIDIR_E_INVALID,     OCIDIR_E_IO,       OCIDIR_E_NOT_FOUND,
    OCIDIR_E_DIGEST,    OCIDIR_E_SIZE,        OCIDIR_E_BAD_DIGEST, OCIDIR_E_FORMAT,
    OCIDIR_E_ESCAPE,    OCIDIR_E_EXISTS,      OCIDIR_E_NOMEM,    OCIDIR_E_UNSUPPORTED,
    OCIDIR_E_READONLY,  OCIDIR_E_STATE,       OCIDIR_E_TOO_LARGE, OCIDIR_E_AMBIGUOUS,
    OCIDIR_E_CANCELED,  OCIDIR_E_NOT_DURABLE,
};

static void test_error_codes_have_their_fixed_values(void **state)
{
    (void)state;
    for (int i = 0; i < (int)N(all_codes); i++)
        assert_int_equal(all_codes[i], -i);
}

static void test_strerror_gives_distinct_text_for_every_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(all_codes); i++) {
        const char *s = ocidir_strerror(all_codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, ocidir_strerror(all_codes[j]));
    }
}

static void test_strerror_of_unknown_code_is_unknown_error(void **state)
{
    (void)state;
    const int unknown[] = {1, -18, -100, 42, INT_MIN, INT_MAX};
    for (size_t i = 0; i < N(unknown); i++) {
        assert_non_null(ocidir_strerror(unknown[i]));
        assert_string_equal(ocidir_strerror(unknown[i]), "unknown error");
    }
}

static void test_version_matches_header_macros(void **state)
{
    (void)state;
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", OCIDIR_VERSION_MAJOR, OCIDIR_VERSION_MINOR,
             OCIDIR_VERSION_PATCH);
    assert_non_null(ocidir_version());
    assert_string_equal(ocidir_version(), expected);
    assert_int_equal(ocidir_version_number(), OCIDIR_VERSION_NUMBER);
    assert_int_equal(OCIDIR_VERSION_NUMBER, OCIDIR_VERSION_MAJOR * 10000 +
                                                OCIDIR_VERSION_MINOR * 100 + OCIDIR_VERSION_PATCH);
}

static void test_digest_max_matches_macro_and_fits_sha512(void **state)
{
    (void)state;
    assert_int_equal(ocidir_digest_max(), OCIDIR_DIGEST_MAX);
    assert_int_equal(OCIDIR_DIGEST_MAX, strlen(SHA512_ABC) + 1);
}

static void test_hash_backend_is_named(void **state)
{
    (void)state;
    assert_non_null(ocidir_hash_backend());
    assert_true(strlen(ocidir_hash_backend()) > 0);
}

/* ---- the thread-local error detail ---- */

struct thread_view {
    char before[256];
    int errno_before;
    char after[256];
};

static void *fresh_thread(void *arg)
{
    struct thread_view *v = arg;
    snprintf(v->before, sizeof v->before, "%s", ocidir_last_error());
    v->errno_before = ocidir_last_errno();
    (void)ocidir_digest_validate("sha256:thread-local-bad");
    ocidir_t *d = NULL;
    (void)ocidir_open(AT_FDCWD, "/nonexistent-ocidir-thread-path", 0, &d);
    snprintf(v->after, sizeof v->after, "%s", ocidir_last_error());
    return NULL;
}

static void test_last_error_is_thread_local_and_empty_before_any_failure(void **state)
{
    (void)state;
    ocidir_t *d = NULL;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_open(AT_FDCWD, "/tmp", OCIDIR_OPEN_CREATE | OCIDIR_OPEN_RDONLY, &d));
    char mine[512];
    snprintf(mine, sizeof mine, "%s", ocidir_last_error());
    assert_true(strlen(mine) > 0);

    struct thread_view v;
    memset(&v, 0, sizeof v);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fresh_thread, &v), 0);
    assert_int_equal(pthread_join(t, NULL), 0);

    assert_string_equal(v.before, "");
    assert_int_equal(v.errno_before, 0);
    assert_non_null(strstr(v.after, "/nonexistent-ocidir-thread-path"));
    /* The other thread's failures did not touch this thread's message. */
    assert_string_equal(ocidir_last_error(), mine);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_validate_accepts_registered_sha256_and_sha512),
        TEARDOWN(test_validate_rejects_path_traversal),
        TEARDOWN(test_validate_rejects_uppercase_hex),
        TEARDOWN(test_validate_rejects_wrong_hex_length),
        TEARDOWN(test_validate_rejects_trailing_path_component),
        TEARDOWN(test_validate_rejects_empty_and_partial_forms),
        TEARDOWN(test_validate_reports_unregistered_algorithm_as_unsupported),
        TEARDOWN(test_validate_rejects_bad_algorithm_grammar),
        TEARDOWN(test_validate_rejects_bad_encoding_of_unregistered_algorithm),
        TEARDOWN(test_validate_rejects_every_malformed_digest),
        TEARDOWN(test_validate_rejects_null),
        TEARDOWN(test_digest_buffer_sha256_matches_known_vectors),
        TEARDOWN(test_digest_buffer_sha512_matches_known_vectors),
        TEARDOWN(test_digest_buffer_accepts_null_buffer_of_length_zero),
        TEARDOWN(test_digest_buffer_rejects_invalid_arguments_without_writing_output),
        TEARDOWN(test_blob_functions_answer_malformed_digest_with_bad_digest),
        TEARDOWN(test_blob_functions_answer_unregistered_algorithm_with_unsupported),
        TEARDOWN(test_blob_functions_reject_null_digest_as_invalid),
        TEARDOWN(test_digest_is_validated_before_the_filesystem_is_touched),
        TEARDOWN(test_digest_is_validated_even_when_the_layout_is_gone),
        TEARDOWN(test_last_error_names_the_malformed_digest),
        TEARDOWN(test_writer_expect_rejects_digest_of_other_algorithm),
        TEARDOWN(test_sha512_blob_round_trips),
        TEARDOWN(test_error_codes_have_their_fixed_values),
        TEARDOWN(test_strerror_gives_distinct_text_for_every_code),
        TEARDOWN(test_strerror_of_unknown_code_is_unknown_error),
        TEARDOWN(test_version_matches_header_macros),
        TEARDOWN(test_digest_max_matches_macro_and_fits_sha512),
        TEARDOWN(test_hash_backend_is_named),
        TEARDOWN(test_last_error_is_thread_local_and_empty_before_any_failure),
    };
    return cmocka_run_group_tests(tests, NULL, tu_teardown_scratch);
}
