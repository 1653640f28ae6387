// <ocidir.h> compiles alone as strict C++ (-std=c++11 and -std=c++20, -Wall
// -Wextra -pedantic -Werror), with C linkage, and every function and macro it
// promises is there.  Compiled by CTest (headertest_cxx11, headertest_cxx20).
#include <ocidir.h>

static_assert(OCIDIR_VERSION_NUMBER ==
                  OCIDIR_VERSION_MAJOR * 10000 + OCIDIR_VERSION_MINOR * 100 + OCIDIR_VERSION_PATCH,
              "version number");
static_assert(OCIDIR_OK == 0, "OCIDIR_OK");
static_assert(OCIDIR_E_INVALID == -1, "OCIDIR_E_INVALID");
static_assert(OCIDIR_E_IO == -2, "OCIDIR_E_IO");
static_assert(OCIDIR_E_NOT_FOUND == -3, "OCIDIR_E_NOT_FOUND");
static_assert(OCIDIR_E_DIGEST == -4, "OCIDIR_E_DIGEST");
static_assert(OCIDIR_E_SIZE == -5, "OCIDIR_E_SIZE");
static_assert(OCIDIR_E_BAD_DIGEST == -6, "OCIDIR_E_BAD_DIGEST");
static_assert(OCIDIR_E_FORMAT == -7, "OCIDIR_E_FORMAT");
static_assert(OCIDIR_E_ESCAPE == -8, "OCIDIR_E_ESCAPE");
static_assert(OCIDIR_E_EXISTS == -9, "OCIDIR_E_EXISTS");
static_assert(OCIDIR_E_NOMEM == -10, "OCIDIR_E_NOMEM");
static_assert(OCIDIR_E_UNSUPPORTED == -11, "OCIDIR_E_UNSUPPORTED");
static_assert(OCIDIR_E_READONLY == -12, "OCIDIR_E_READONLY");
static_assert(OCIDIR_E_STATE == -13, "OCIDIR_E_STATE");
static_assert(OCIDIR_E_TOO_LARGE == -14, "OCIDIR_E_TOO_LARGE");
static_assert(OCIDIR_DIGEST_MAX == 136, "OCIDIR_DIGEST_MAX");
static_assert(OCIDIR_OPEN_CREATE == 1u, "OCIDIR_OPEN_CREATE");
static_assert(OCIDIR_OPEN_RDONLY == 2u, "OCIDIR_OPEN_RDONLY");
static_assert(OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK == 4u, "OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK");
static_assert(OCIDIR_BLOBDIR_WRITE == 1u, "OCIDIR_BLOBDIR_WRITE");
static_assert(OCIDIR_SHA256 == 0 && OCIDIR_SHA512 == 1, "ocidir_digest_alg_t");

OCIDIR_API int ht_exported_by_the_macro(void);

// Every function, with its exact type: a changed signature fails to compile.
extern "C" {
typedef void (*ht_fn)(void);
}
extern const ht_fn ht_functions[];
const ht_fn ht_functions[] = {
    reinterpret_cast<ht_fn>(ocidir_version),
    reinterpret_cast<ht_fn>(ocidir_version_number),
    reinterpret_cast<ht_fn>(ocidir_strerror),
    reinterpret_cast<ht_fn>(ocidir_last_error),
    reinterpret_cast<ht_fn>(ocidir_last_errno),
    reinterpret_cast<ht_fn>(ocidir_free),
    reinterpret_cast<ht_fn>(ocidir_strv_free),
    reinterpret_cast<ht_fn>(ocidir_digest_max),
    reinterpret_cast<ht_fn>(ocidir_digest_validate),
    reinterpret_cast<ht_fn>(ocidir_digest_buffer),
    reinterpret_cast<ht_fn>(ocidir_hash_backend),
    reinterpret_cast<ht_fn>(ocidir_open),
    reinterpret_cast<ht_fn>(ocidir_close),
    reinterpret_cast<ht_fn>(ocidir_is_readonly),
    reinterpret_cast<ht_fn>(ocidir_resolver_uses_openat2),
    reinterpret_cast<ht_fn>(ocidir_add_blobdir_fd),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_new),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_expect),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_write),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_commit),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_abort),
    reinterpret_cast<ht_fn>(ocidir_blob_put),
    reinterpret_cast<ht_fn>(ocidir_blob_put_fd),
    reinterpret_cast<ht_fn>(ocidir_blob_stat),
    reinterpret_cast<ht_fn>(ocidir_blob_open),
    reinterpret_cast<ht_fn>(ocidir_blob_reader_read),
    reinterpret_cast<ht_fn>(ocidir_blob_reader_size),
    reinterpret_cast<ht_fn>(ocidir_blob_reader_close),
    reinterpret_cast<ht_fn>(ocidir_blob_read_all),
    reinterpret_cast<ht_fn>(ocidir_blob_open_fd),
    reinterpret_cast<ht_fn>(ocidir_blob_remove),
};

extern const char *(*const ht_version)(void);
const char *(*const ht_version)(void) = ocidir_version;
extern unsigned (*const ht_version_number)(void);
unsigned (*const ht_version_number)(void) = ocidir_version_number;
extern const char *(*const ht_strerror)(int);
const char *(*const ht_strerror)(int) = ocidir_strerror;
extern int (*const ht_last_errno)(void);
int (*const ht_last_errno)(void) = ocidir_last_errno;
extern void (*const ht_free)(void *);
void (*const ht_free)(void *) = ocidir_free;
extern void (*const ht_strv_free)(char **);
void (*const ht_strv_free)(char **) = ocidir_strv_free;
extern size_t (*const ht_digest_max)(void);
size_t (*const ht_digest_max)(void) = ocidir_digest_max;
extern int (*const ht_digest_buffer)(ocidir_digest_alg_t, const void *, size_t, char *);
int (*const ht_digest_buffer)(ocidir_digest_alg_t, const void *, size_t, char *) = ocidir_digest_buffer;
extern int (*const ht_open)(int, const char *, unsigned, ocidir_t **);
int (*const ht_open)(int, const char *, unsigned, ocidir_t **) = ocidir_open;
extern void (*const ht_close)(ocidir_t *);
void (*const ht_close)(ocidir_t *) = ocidir_close;
extern int (*const ht_is_readonly)(const ocidir_t *);
int (*const ht_is_readonly)(const ocidir_t *) = ocidir_is_readonly;
extern int (*const ht_add_blobdir_fd)(ocidir_t *, int, unsigned);
int (*const ht_add_blobdir_fd)(ocidir_t *, int, unsigned) = ocidir_add_blobdir_fd;
extern int (*const ht_writer_new)(ocidir_t *, ocidir_digest_alg_t, ocidir_blob_writer_t **);
int (*const ht_writer_new)(ocidir_t *, ocidir_digest_alg_t, ocidir_blob_writer_t **) = ocidir_blob_writer_new;
extern int (*const ht_writer_expect)(ocidir_blob_writer_t *, const char *, int64_t);
int (*const ht_writer_expect)(ocidir_blob_writer_t *, const char *, int64_t) = ocidir_blob_writer_expect;
extern int (*const ht_writer_write)(ocidir_blob_writer_t *, const void *, size_t);
int (*const ht_writer_write)(ocidir_blob_writer_t *, const void *, size_t) = ocidir_blob_writer_write;
extern int (*const ht_writer_commit)(ocidir_blob_writer_t *, char *, uint64_t *);
int (*const ht_writer_commit)(ocidir_blob_writer_t *, char *, uint64_t *) = ocidir_blob_writer_commit;
extern void (*const ht_writer_abort)(ocidir_blob_writer_t *);
void (*const ht_writer_abort)(ocidir_blob_writer_t *) = ocidir_blob_writer_abort;
extern int (*const ht_put)(ocidir_t *, const void *, size_t, char *);
int (*const ht_put)(ocidir_t *, const void *, size_t, char *) = ocidir_blob_put;
extern int (*const ht_put_fd)(ocidir_t *, int, char *, uint64_t *);
int (*const ht_put_fd)(ocidir_t *, int, char *, uint64_t *) = ocidir_blob_put_fd;
extern int (*const ht_stat)(ocidir_t *, const char *, uint64_t *);
int (*const ht_stat)(ocidir_t *, const char *, uint64_t *) = ocidir_blob_stat;
extern int (*const ht_blob_open)(ocidir_t *, const char *, int64_t, ocidir_blob_reader_t **);
int (*const ht_blob_open)(ocidir_t *, const char *, int64_t, ocidir_blob_reader_t **) = ocidir_blob_open;
extern ssize_t (*const ht_read)(ocidir_blob_reader_t *, void *, size_t);
ssize_t (*const ht_read)(ocidir_blob_reader_t *, void *, size_t) = ocidir_blob_reader_read;
extern uint64_t (*const ht_reader_size)(const ocidir_blob_reader_t *);
uint64_t (*const ht_reader_size)(const ocidir_blob_reader_t *) = ocidir_blob_reader_size;
extern void (*const ht_reader_close)(ocidir_blob_reader_t *);
void (*const ht_reader_close)(ocidir_blob_reader_t *) = ocidir_blob_reader_close;
extern int (*const ht_read_all)(ocidir_t *, const char *, int64_t, size_t, void **, size_t *);
int (*const ht_read_all)(ocidir_t *, const char *, int64_t, size_t, void **, size_t *) = ocidir_blob_read_all;
extern int (*const ht_open_fd)(ocidir_t *, const char *, int *);
int (*const ht_open_fd)(ocidir_t *, const char *, int *) = ocidir_blob_open_fd;
extern int (*const ht_remove)(ocidir_t *, const char *);
int (*const ht_remove)(ocidir_t *, const char *) = ocidir_blob_remove;

// The enum converts as a C caller expects.
extern ocidir_digest_alg_t ht_alg;
ocidir_digest_alg_t ht_alg = OCIDIR_SHA512;
