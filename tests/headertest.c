/* <ocidir.h> compiles alone as strict C (-std=c99 -Wall -Wextra -pedantic
 * -Werror), and every function and macro it promises is there.
 * Compiled by CTest (headertest_c99, headertest_c11); never run. */
#include <ocidir.h>

/* Compile-time checks: a negative array size fails the build. */
#define HT_CHECK(name, cond) typedef char ht_check_##name[(cond) ? 1 : -1]

HT_CHECK(version, OCIDIR_VERSION_NUMBER == OCIDIR_VERSION_MAJOR * 10000 +
                                               OCIDIR_VERSION_MINOR * 100 + OCIDIR_VERSION_PATCH);
HT_CHECK(major, OCIDIR_VERSION_MAJOR >= 0);
HT_CHECK(ok, OCIDIR_OK == 0);
HT_CHECK(invalid, OCIDIR_E_INVALID == -1);
HT_CHECK(io, OCIDIR_E_IO == -2);
HT_CHECK(not_found, OCIDIR_E_NOT_FOUND == -3);
HT_CHECK(digest, OCIDIR_E_DIGEST == -4);
HT_CHECK(size, OCIDIR_E_SIZE == -5);
HT_CHECK(bad_digest, OCIDIR_E_BAD_DIGEST == -6);
HT_CHECK(format, OCIDIR_E_FORMAT == -7);
HT_CHECK(escape, OCIDIR_E_ESCAPE == -8);
HT_CHECK(exists, OCIDIR_E_EXISTS == -9);
HT_CHECK(nomem, OCIDIR_E_NOMEM == -10);
HT_CHECK(unsupported, OCIDIR_E_UNSUPPORTED == -11);
HT_CHECK(readonly, OCIDIR_E_READONLY == -12);
HT_CHECK(state, OCIDIR_E_STATE == -13);
HT_CHECK(too_large, OCIDIR_E_TOO_LARGE == -14);
HT_CHECK(digest_max, OCIDIR_DIGEST_MAX == 136);
HT_CHECK(open_create, OCIDIR_OPEN_CREATE == 1u);
HT_CHECK(open_rdonly, OCIDIR_OPEN_RDONLY == 2u);
HT_CHECK(open_follow, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK == 4u);
HT_CHECK(blobdir_write, OCIDIR_BLOBDIR_WRITE == 1u);
HT_CHECK(sha256, OCIDIR_SHA256 == 0);
HT_CHECK(sha512, OCIDIR_SHA512 == 1);

/* The export macro is defined and usable on a declaration. */
OCIDIR_API int ht_exported_by_the_macro(void);

/* Every function, taken by address (with its exact type for a few). */
typedef void (*ht_fn)(void);
const ht_fn ht_functions[] = {
    (ht_fn)ocidir_version,
    (ht_fn)ocidir_version_number,
    (ht_fn)ocidir_strerror,
    (ht_fn)ocidir_last_error,
    (ht_fn)ocidir_last_errno,
    (ht_fn)ocidir_free,
    (ht_fn)ocidir_strv_free,
    (ht_fn)ocidir_digest_max,
    (ht_fn)ocidir_digest_validate,
    (ht_fn)ocidir_digest_buffer,
    (ht_fn)ocidir_hash_backend,
    (ht_fn)ocidir_open,
    (ht_fn)ocidir_close,
    (ht_fn)ocidir_is_readonly,
    (ht_fn)ocidir_resolver_uses_openat2,
    (ht_fn)ocidir_add_blobdir_fd,
    (ht_fn)ocidir_blob_writer_new,
    (ht_fn)ocidir_blob_writer_expect,
    (ht_fn)ocidir_blob_writer_write,
    (ht_fn)ocidir_blob_writer_commit,
    (ht_fn)ocidir_blob_writer_abort,
    (ht_fn)ocidir_blob_put,
    (ht_fn)ocidir_blob_put_fd,
    (ht_fn)ocidir_blob_stat,
    (ht_fn)ocidir_blob_open,
    (ht_fn)ocidir_blob_reader_read,
    (ht_fn)ocidir_blob_reader_size,
    (ht_fn)ocidir_blob_reader_close,
    (ht_fn)ocidir_blob_read_all,
    (ht_fn)ocidir_blob_open_fd,
    (ht_fn)ocidir_blob_remove,
};

int (*const ht_open)(int, const char *, unsigned, ocidir_t **) = ocidir_open;
int (*const ht_commit)(ocidir_blob_writer_t *, char[OCIDIR_DIGEST_MAX], uint64_t *) =
    ocidir_blob_writer_commit;
ssize_t (*const ht_read)(ocidir_blob_reader_t *, void *, size_t) = ocidir_blob_reader_read;
int (*const ht_read_all)(ocidir_t *, const char *, int64_t, size_t, void **, size_t *) =
    ocidir_blob_read_all;

/* Types usable as declared. */
ocidir_t *ht_handle;
ocidir_blob_writer_t *ht_writer;
ocidir_blob_reader_t *ht_reader;
ocidir_digest_alg_t ht_alg = OCIDIR_SHA512;
char ht_digest[OCIDIR_DIGEST_MAX];
