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
static_assert(OCIDIR_E_AMBIGUOUS == -15, "OCIDIR_E_AMBIGUOUS");
static_assert(OCIDIR_E_CANCELED == -16, "OCIDIR_E_CANCELED");
static_assert(OCIDIR_E_NOT_DURABLE == -17, "OCIDIR_E_NOT_DURABLE");
static_assert(OCIDIR_DIGEST_MAX == 136, "OCIDIR_DIGEST_MAX");
static_assert(OCIDIR_OPEN_CREATE == 1u, "OCIDIR_OPEN_CREATE");
static_assert(OCIDIR_OPEN_RDONLY == 2u, "OCIDIR_OPEN_RDONLY");
static_assert(OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK == 4u, "OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK");
static_assert(OCIDIR_BLOBDIR_WRITE == 1u, "OCIDIR_BLOBDIR_WRITE");
static_assert(OCIDIR_SHA256 == 0 && OCIDIR_SHA512 == 1, "ocidir_digest_alg_t");
static_assert(OCIDIR_TAG_NOREPLACE == 1u, "OCIDIR_TAG_NOREPLACE");
static_assert(OCIDIR_MANIFEST == static_cast<size_t>(-1), "OCIDIR_MANIFEST");
static_assert(OCIDIR_CONFIG_ENTRYPOINT == 0 && OCIDIR_CONFIG_CMD == 1 && OCIDIR_CONFIG_ENV == 2 &&
                  OCIDIR_CONFIG_DIFF_IDS == 3 && OCIDIR_CONFIG_USER == 4 &&
                  OCIDIR_CONFIG_WORKING_DIR == 5 && OCIDIR_CONFIG_OS == 6 &&
                  OCIDIR_CONFIG_ARCHITECTURE == 7 && OCIDIR_CONFIG_VARIANT == 8 &&
                  OCIDIR_CONFIG_CREATED == 9 && OCIDIR_CONFIG_STOP_SIGNAL == 10,
              "ocidir_config_field_t");
static_assert(OCIDIR_COMPRESSION_NONE == 0 && OCIDIR_COMPRESSION_GZIP == 1 &&
                  OCIDIR_COMPRESSION_ZSTD == 2,
              "ocidir_compression_t");
static_assert(OCIDIR_FIND_LAYOUT == 0 && OCIDIR_FIND_MISSING == 1 && OCIDIR_FIND_DIGEST == 2 &&
                  OCIDIR_FIND_SIZE == 3 && OCIDIR_FIND_FORMAT == 4 && OCIDIR_FIND_MEDIA_TYPE == 5 &&
                  OCIDIR_FIND_IO == 6 && OCIDIR_FIND_UNSUPPORTED == 7 && OCIDIR_FIND_UNREFERENCED == 8 &&
                  OCIDIR_FIND_TEMP == 9 && OCIDIR_FIND_REMOVED == 10 && OCIDIR_FIND_KEPT_RECENT == 11 &&
                  OCIDIR_FIND_COPIED == 12 && OCIDIR_FIND_LINKED == 13 && OCIDIR_FIND_REFLINKED == 14,
              "ocidir_find_kind_t");
static_assert(OCIDIR_GC_DRY_RUN == 1u && OCIDIR_GC_GRACE_DEFAULT == 3600, "gc constants");
static_assert(OCIDIR_CLONE_NO_HARDLINK == 1u && OCIDIR_GC_GRACE_HANDLE == -1, "clone flag, gc grace");

// The ref-name annotation is exactly the image-spec's key (C++11 constexpr:
// one return statement, recursion).
constexpr bool ht_streq(const char *a, const char *b)
{
    return *a == *b && (*a == '\0' || ht_streq(a + 1, b + 1));
}
static_assert(ht_streq(OCIDIR_ANNOTATION_REF_NAME, "org.opencontainers.image.ref.name"),
              "OCIDIR_ANNOTATION_REF_NAME");

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
    reinterpret_cast<ht_fn>(ocidir_inflate_backend),
    reinterpret_cast<ht_fn>(ocidir_open),
    reinterpret_cast<ht_fn>(ocidir_close),
    reinterpret_cast<ht_fn>(ocidir_is_readonly),
    reinterpret_cast<ht_fn>(ocidir_resolver_uses_openat2),
    reinterpret_cast<ht_fn>(ocidir_add_blobdir_fd),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_new),
    reinterpret_cast<ht_fn>(ocidir_put_options_init),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_new_opts),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_expect),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_write),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_commit),
    reinterpret_cast<ht_fn>(ocidir_blob_writer_abort),
    reinterpret_cast<ht_fn>(ocidir_blob_put),
    reinterpret_cast<ht_fn>(ocidir_blob_put_fd),
    reinterpret_cast<ht_fn>(ocidir_blob_put_opts),
    reinterpret_cast<ht_fn>(ocidir_blob_put_fd_opts),
    reinterpret_cast<ht_fn>(ocidir_blob_stat),
    reinterpret_cast<ht_fn>(ocidir_blob_open),
    reinterpret_cast<ht_fn>(ocidir_blob_reader_read),
    reinterpret_cast<ht_fn>(ocidir_blob_reader_size),
    reinterpret_cast<ht_fn>(ocidir_blob_reader_close),
    reinterpret_cast<ht_fn>(ocidir_blob_read_all),
    reinterpret_cast<ht_fn>(ocidir_blob_open_fd),
    reinterpret_cast<ht_fn>(ocidir_blob_remove),
    // 6. Index and tags
    reinterpret_cast<ht_fn>(ocidir_tag_validate),
    reinterpret_cast<ht_fn>(ocidir_set_json_limit),
    reinterpret_cast<ht_fn>(ocidir_tag_list),
    reinterpret_cast<ht_fn>(ocidir_resolve),
    reinterpret_cast<ht_fn>(ocidir_tag_set),
    reinterpret_cast<ht_fn>(ocidir_tag_remove),
    reinterpret_cast<ht_fn>(ocidir_index_add),
    // 7. Images
    reinterpret_cast<ht_fn>(ocidir_platform_default),
    reinterpret_cast<ht_fn>(ocidir_image_open),
    reinterpret_cast<ht_fn>(ocidir_image_close),
    reinterpret_cast<ht_fn>(ocidir_image_manifest),
    reinterpret_cast<ht_fn>(ocidir_image_config_descriptor),
    reinterpret_cast<ht_fn>(ocidir_image_ref_descriptor),
    reinterpret_cast<ht_fn>(ocidir_image_config_is_empty),
    reinterpret_cast<ht_fn>(ocidir_image_artifact_type),
    reinterpret_cast<ht_fn>(ocidir_image_layer_count),
    reinterpret_cast<ht_fn>(ocidir_image_layer),
    reinterpret_cast<ht_fn>(ocidir_image_annotations),
    reinterpret_cast<ht_fn>(ocidir_image_config_strv),
    reinterpret_cast<ht_fn>(ocidir_image_config_string),
    reinterpret_cast<ht_fn>(ocidir_image_config_labels),
    reinterpret_cast<ht_fn>(ocidir_image_config_raw),
    reinterpret_cast<ht_fn>(ocidir_referrers),
    // 8. Layers
    reinterpret_cast<ht_fn>(ocidir_compression_media_type),
    reinterpret_cast<ht_fn>(ocidir_layer_writer_new),
    reinterpret_cast<ht_fn>(ocidir_layer_writer_write),
    reinterpret_cast<ht_fn>(ocidir_layer_writer_commit),
    reinterpret_cast<ht_fn>(ocidir_layer_writer_media_type),
    reinterpret_cast<ht_fn>(ocidir_layer_writer_abort),
    reinterpret_cast<ht_fn>(ocidir_layer_open),
    reinterpret_cast<ht_fn>(ocidir_image_layer_open),
    reinterpret_cast<ht_fn>(ocidir_layer_reader_read),
    reinterpret_cast<ht_fn>(ocidir_layer_reader_close),
    // 9. Building images
    reinterpret_cast<ht_fn>(ocidir_builder_new),
    reinterpret_cast<ht_fn>(ocidir_builder_new_artifact),
    reinterpret_cast<ht_fn>(ocidir_builder_from),
    reinterpret_cast<ht_fn>(ocidir_builder_set_created),
    reinterpret_cast<ht_fn>(ocidir_builder_add_layer),
    reinterpret_cast<ht_fn>(ocidir_builder_add_layer_writer),
    reinterpret_cast<ht_fn>(ocidir_builder_set_config_strv),
    reinterpret_cast<ht_fn>(ocidir_builder_set_config_string),
    reinterpret_cast<ht_fn>(ocidir_builder_set_label),
    reinterpret_cast<ht_fn>(ocidir_builder_set_annotation),
    reinterpret_cast<ht_fn>(ocidir_builder_set_subject),
    reinterpret_cast<ht_fn>(ocidir_builder_commit),
    reinterpret_cast<ht_fn>(ocidir_builder_free),
    reinterpret_cast<ht_fn>(ocidir_find_kind_name),
    reinterpret_cast<ht_fn>(ocidir_report_count),
    reinterpret_cast<ht_fn>(ocidir_report_damage),
    reinterpret_cast<ht_fn>(ocidir_report_get),
    reinterpret_cast<ht_fn>(ocidir_report_totals),
    reinterpret_cast<ht_fn>(ocidir_report_free),
    reinterpret_cast<ht_fn>(ocidir_fsck),
    reinterpret_cast<ht_fn>(ocidir_set_gc_grace),
    reinterpret_cast<ht_fn>(ocidir_gc),
    reinterpret_cast<ht_fn>(ocidir_cache_gc),
    reinterpret_cast<ht_fn>(ocidir_clone),
    reinterpret_cast<ht_fn>(ocidir_tag_remove_gc),
    reinterpret_cast<ht_fn>(ocidir_find_kind_is_damage),
    reinterpret_cast<ht_fn>(ocidir_layer_writer_options_init),
    reinterpret_cast<ht_fn>(ocidir_layer_writer_new_opts),
    reinterpret_cast<ht_fn>(ocidir_layer_reader_options_init),
    reinterpret_cast<ht_fn>(ocidir_layer_open_opts),
    reinterpret_cast<ht_fn>(ocidir_image_layer_open_opts),
    reinterpret_cast<ht_fn>(ocidir_add_layer_options_init),
    reinterpret_cast<ht_fn>(ocidir_builder_add_layer_opts),
    reinterpret_cast<ht_fn>(ocidir_builder_add_layer_writer_opts),
    reinterpret_cast<ht_fn>(ocidir_fsck_options_init),
    reinterpret_cast<ht_fn>(ocidir_gc_options_init),
    reinterpret_cast<ht_fn>(ocidir_clone_options_init),
    reinterpret_cast<ht_fn>(ocidir_unpack_options_init),
    reinterpret_cast<ht_fn>(ocidir_unpack),
    reinterpret_cast<ht_fn>(ocidir_user_lookup),
    reinterpret_cast<ht_fn>(ocidir_copy_options_init),
    reinterpret_cast<ht_fn>(ocidir_copy),
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
extern int (*const ht_put_options_init)(ocidir_put_options_t *, size_t);
int (*const ht_put_options_init)(ocidir_put_options_t *, size_t) = ocidir_put_options_init;
extern int (*const ht_writer_new_opts)(ocidir_t *, const ocidir_put_options_t *, ocidir_blob_writer_t **);
int (*const ht_writer_new_opts)(ocidir_t *, const ocidir_put_options_t *, ocidir_blob_writer_t **) =
    ocidir_blob_writer_new_opts;
extern int (*const ht_put_opts)(ocidir_t *, const void *, size_t, const ocidir_put_options_t *, char *);
int (*const ht_put_opts)(ocidir_t *, const void *, size_t, const ocidir_put_options_t *, char *) =
    ocidir_blob_put_opts;
extern int (*const ht_put_fd_opts)(ocidir_t *, int, const ocidir_put_options_t *, char *, uint64_t *);
int (*const ht_put_fd_opts)(ocidir_t *, int, const ocidir_put_options_t *, char *, uint64_t *) =
    ocidir_blob_put_fd_opts;
// The options initializer compiles as C++ too.
extern const ocidir_put_options_t ht_put_defaults;
const ocidir_put_options_t ht_put_defaults = OCIDIR_PUT_OPTIONS_INIT;
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

// Sections 6-9, each with its exact type.
extern int (*const ht_tag_validate)(const char *);
int (*const ht_tag_validate)(const char *) = ocidir_tag_validate;
extern int (*const ht_set_json_limit)(ocidir_t *, size_t);
int (*const ht_set_json_limit)(ocidir_t *, size_t) = ocidir_set_json_limit;
extern int (*const ht_tag_list)(ocidir_t *, char ***);
int (*const ht_tag_list)(ocidir_t *, char ***) = ocidir_tag_list;
extern int (*const ht_resolve)(ocidir_t *, const char *, char *, char **, uint64_t *);
int (*const ht_resolve)(ocidir_t *, const char *, char *, char **, uint64_t *) = ocidir_resolve;
extern int (*const ht_tag_set)(ocidir_t *, const char *, const char *, unsigned);
int (*const ht_tag_set)(ocidir_t *, const char *, const char *, unsigned) = ocidir_tag_set;
extern int (*const ht_tag_remove)(ocidir_t *, const char *);
int (*const ht_tag_remove)(ocidir_t *, const char *) = ocidir_tag_remove;
extern int (*const ht_index_add)(ocidir_t *, const char *);
int (*const ht_index_add)(ocidir_t *, const char *) = ocidir_index_add;
extern const char *(*const ht_platform_default)(void);
const char *(*const ht_platform_default)(void) = ocidir_platform_default;
extern int (*const ht_image_open)(ocidir_t *, const char *, const char *, ocidir_image_t **);
int (*const ht_image_open)(ocidir_t *, const char *, const char *, ocidir_image_t **) = ocidir_image_open;
extern void (*const ht_image_close)(ocidir_image_t *);
void (*const ht_image_close)(ocidir_image_t *) = ocidir_image_close;
extern int (*const ht_image_manifest)(const ocidir_image_t *, char *, const void **, size_t *);
int (*const ht_image_manifest)(const ocidir_image_t *, char *, const void **, size_t *) = ocidir_image_manifest;
extern int (*const ht_image_config_descriptor)(const ocidir_image_t *, char **, char *, uint64_t *);
int (*const ht_image_config_descriptor)(const ocidir_image_t *, char **, char *, uint64_t *) = ocidir_image_config_descriptor;
int (*const ht_image_ref_descriptor)(const ocidir_image_t *, char *, char **, uint64_t *) = ocidir_image_ref_descriptor;
extern int (*const ht_image_config_is_empty)(const ocidir_image_t *);
int (*const ht_image_config_is_empty)(const ocidir_image_t *) = ocidir_image_config_is_empty;
extern const char *(*const ht_image_artifact_type)(const ocidir_image_t *);
const char *(*const ht_image_artifact_type)(const ocidir_image_t *) = ocidir_image_artifact_type;
extern size_t (*const ht_image_layer_count)(const ocidir_image_t *);
size_t (*const ht_image_layer_count)(const ocidir_image_t *) = ocidir_image_layer_count;
extern int (*const ht_image_layer)(const ocidir_image_t *, size_t, char **, char *, uint64_t *);
int (*const ht_image_layer)(const ocidir_image_t *, size_t, char **, char *, uint64_t *) = ocidir_image_layer;
extern int (*const ht_image_annotations)(const ocidir_image_t *, size_t, char ***);
int (*const ht_image_annotations)(const ocidir_image_t *, size_t, char ***) = ocidir_image_annotations;
extern int (*const ht_image_config_strv)(const ocidir_image_t *, ocidir_config_field_t, char ***);
int (*const ht_image_config_strv)(const ocidir_image_t *, ocidir_config_field_t, char ***) = ocidir_image_config_strv;
extern int (*const ht_image_config_string)(const ocidir_image_t *, ocidir_config_field_t, char **);
int (*const ht_image_config_string)(const ocidir_image_t *, ocidir_config_field_t, char **) = ocidir_image_config_string;
extern int (*const ht_image_config_labels)(const ocidir_image_t *, char ***);
int (*const ht_image_config_labels)(const ocidir_image_t *, char ***) = ocidir_image_config_labels;
extern int (*const ht_image_config_raw)(const ocidir_image_t *, const void **, size_t *);
int (*const ht_image_config_raw)(const ocidir_image_t *, const void **, size_t *) = ocidir_image_config_raw;
extern int (*const ht_referrers)(ocidir_t *, const char *, const char *, char ***);
int (*const ht_referrers)(ocidir_t *, const char *, const char *, char ***) = ocidir_referrers;
extern const char *(*const ht_compression_media_type)(ocidir_compression_t);
const char *(*const ht_compression_media_type)(ocidir_compression_t) = ocidir_compression_media_type;
extern int (*const ht_layer_writer_new)(ocidir_t *, ocidir_compression_t, int, int, ocidir_layer_writer_t **);
int (*const ht_layer_writer_new)(ocidir_t *, ocidir_compression_t, int, int, ocidir_layer_writer_t **) = ocidir_layer_writer_new;
extern int (*const ht_layer_writer_write)(ocidir_layer_writer_t *, const void *, size_t);
int (*const ht_layer_writer_write)(ocidir_layer_writer_t *, const void *, size_t) = ocidir_layer_writer_write;
extern int (*const ht_layer_writer_commit)(ocidir_layer_writer_t *, char *, uint64_t *, char *);
int (*const ht_layer_writer_commit)(ocidir_layer_writer_t *, char *, uint64_t *, char *) = ocidir_layer_writer_commit;
extern const char *(*const ht_layer_writer_media_type)(const ocidir_layer_writer_t *);
const char *(*const ht_layer_writer_media_type)(const ocidir_layer_writer_t *) = ocidir_layer_writer_media_type;
extern void (*const ht_layer_writer_abort)(ocidir_layer_writer_t *);
void (*const ht_layer_writer_abort)(ocidir_layer_writer_t *) = ocidir_layer_writer_abort;
extern int (*const ht_layer_open)(ocidir_t *, const char *, const char *, int64_t, const char *, ocidir_layer_reader_t **);
int (*const ht_layer_open)(ocidir_t *, const char *, const char *, int64_t, const char *, ocidir_layer_reader_t **) = ocidir_layer_open;
extern int (*const ht_image_layer_open)(const ocidir_image_t *, size_t, ocidir_layer_reader_t **);
int (*const ht_image_layer_open)(const ocidir_image_t *, size_t, ocidir_layer_reader_t **) = ocidir_image_layer_open;
extern ssize_t (*const ht_layer_reader_read)(ocidir_layer_reader_t *, void *, size_t);
ssize_t (*const ht_layer_reader_read)(ocidir_layer_reader_t *, void *, size_t) = ocidir_layer_reader_read;
extern void (*const ht_layer_reader_close)(ocidir_layer_reader_t *);
void (*const ht_layer_reader_close)(ocidir_layer_reader_t *) = ocidir_layer_reader_close;
extern int (*const ht_builder_new)(ocidir_t *, const char *, ocidir_builder_t **);
int (*const ht_builder_new)(ocidir_t *, const char *, ocidir_builder_t **) = ocidir_builder_new;
extern int (*const ht_builder_new_artifact)(ocidir_t *, const char *, ocidir_builder_t **);
int (*const ht_builder_new_artifact)(ocidir_t *, const char *, ocidir_builder_t **) = ocidir_builder_new_artifact;
extern int (*const ht_builder_from)(ocidir_t *, const char *, const char *, ocidir_builder_t **);
int (*const ht_builder_from)(ocidir_t *, const char *, const char *, ocidir_builder_t **) = ocidir_builder_from;
extern int (*const ht_builder_set_created)(ocidir_builder_t *, const char *);
int (*const ht_builder_set_created)(ocidir_builder_t *, const char *) = ocidir_builder_set_created;
extern int (*const ht_builder_add_layer)(ocidir_builder_t *, const char *, const char *, uint64_t, const char *, const char *);
int (*const ht_builder_add_layer)(ocidir_builder_t *, const char *, const char *, uint64_t, const char *, const char *) = ocidir_builder_add_layer;
extern int (*const ht_builder_add_layer_writer)(ocidir_builder_t *, ocidir_layer_writer_t *, const char *);
int (*const ht_builder_add_layer_writer)(ocidir_builder_t *, ocidir_layer_writer_t *, const char *) = ocidir_builder_add_layer_writer;
extern int (*const ht_builder_set_config_strv)(ocidir_builder_t *, ocidir_config_field_t, const char *const *);
int (*const ht_builder_set_config_strv)(ocidir_builder_t *, ocidir_config_field_t, const char *const *) = ocidir_builder_set_config_strv;
extern int (*const ht_builder_set_config_string)(ocidir_builder_t *, ocidir_config_field_t, const char *);
int (*const ht_builder_set_config_string)(ocidir_builder_t *, ocidir_config_field_t, const char *) = ocidir_builder_set_config_string;
extern int (*const ht_builder_set_label)(ocidir_builder_t *, const char *, const char *);
int (*const ht_builder_set_label)(ocidir_builder_t *, const char *, const char *) = ocidir_builder_set_label;
extern int (*const ht_builder_set_annotation)(ocidir_builder_t *, const char *, const char *);
int (*const ht_builder_set_annotation)(ocidir_builder_t *, const char *, const char *) = ocidir_builder_set_annotation;
extern int (*const ht_builder_set_subject)(ocidir_builder_t *, const char *);
int (*const ht_builder_set_subject)(ocidir_builder_t *, const char *) = ocidir_builder_set_subject;
extern int (*const ht_builder_commit)(ocidir_builder_t *, const char *, unsigned, char *);
int (*const ht_builder_commit)(ocidir_builder_t *, const char *, unsigned, char *) = ocidir_builder_commit;
extern void (*const ht_builder_free)(ocidir_builder_t *);
void (*const ht_builder_free)(ocidir_builder_t *) = ocidir_builder_free;
extern const char *(*const ht_find_kind_name)(int);
const char *(*const ht_find_kind_name)(int) = ocidir_find_kind_name;
extern size_t (*const ht_report_count)(const ocidir_report_t *);
size_t (*const ht_report_count)(const ocidir_report_t *) = ocidir_report_count;
extern size_t (*const ht_report_damage)(const ocidir_report_t *);
size_t (*const ht_report_damage)(const ocidir_report_t *) = ocidir_report_damage;
extern int (*const ht_report_get)(const ocidir_report_t *, size_t, ocidir_find_kind_t *, const char **, uint64_t *, const char **);
int (*const ht_report_get)(const ocidir_report_t *, size_t, ocidir_find_kind_t *, const char **, uint64_t *, const char **) = ocidir_report_get;
extern void (*const ht_report_totals)(const ocidir_report_t *, uint64_t *, uint64_t *);
void (*const ht_report_totals)(const ocidir_report_t *, uint64_t *, uint64_t *) = ocidir_report_totals;
extern void (*const ht_report_free)(ocidir_report_t *);
void (*const ht_report_free)(ocidir_report_t *) = ocidir_report_free;
extern int (*const ht_find_kind_is_damage)(int);
int (*const ht_find_kind_is_damage)(int) = ocidir_find_kind_is_damage;
extern int (*const ht_fsck)(ocidir_t *, const ocidir_fsck_options_t *, ocidir_report_t **);
int (*const ht_fsck)(ocidir_t *, const ocidir_fsck_options_t *, ocidir_report_t **) = ocidir_fsck;
extern int (*const ht_set_gc_grace)(ocidir_t *, int64_t);
int (*const ht_set_gc_grace)(ocidir_t *, int64_t) = ocidir_set_gc_grace;
extern int (*const ht_gc)(ocidir_t *, const ocidir_gc_options_t *, ocidir_report_t **);
int (*const ht_gc)(ocidir_t *, const ocidir_gc_options_t *, ocidir_report_t **) = ocidir_gc;
extern int (*const ht_cache_gc)(int, ocidir_t *const *, size_t, const ocidir_gc_options_t *, ocidir_report_t **);
int (*const ht_cache_gc)(int, ocidir_t *const *, size_t, const ocidir_gc_options_t *, ocidir_report_t **) = ocidir_cache_gc;
extern int (*const ht_clone)(ocidir_t *, int, const char *, const ocidir_clone_options_t *, ocidir_t **, ocidir_report_t **);
int (*const ht_clone)(ocidir_t *, int, const char *, const ocidir_clone_options_t *, ocidir_t **, ocidir_report_t **) = ocidir_clone;
extern int (*const ht_tag_remove_gc)(ocidir_t *, const char *, const ocidir_gc_options_t *, ocidir_report_t **);
int (*const ht_tag_remove_gc)(ocidir_t *, const char *, const ocidir_gc_options_t *, ocidir_report_t **) = ocidir_tag_remove_gc;
extern int (*const ht_layer_writer_options_init)(ocidir_layer_writer_options_t *, size_t);
int (*const ht_layer_writer_options_init)(ocidir_layer_writer_options_t *, size_t) = ocidir_layer_writer_options_init;
extern int (*const ht_layer_writer_new_opts)(ocidir_t *, const ocidir_layer_writer_options_t *, ocidir_layer_writer_t **);
int (*const ht_layer_writer_new_opts)(ocidir_t *, const ocidir_layer_writer_options_t *, ocidir_layer_writer_t **) = ocidir_layer_writer_new_opts;
extern int (*const ht_layer_reader_options_init)(ocidir_layer_reader_options_t *, size_t);
int (*const ht_layer_reader_options_init)(ocidir_layer_reader_options_t *, size_t) = ocidir_layer_reader_options_init;
extern int (*const ht_layer_open_opts)(ocidir_t *, const char *, const char *, int64_t, const char *, const ocidir_layer_reader_options_t *, ocidir_layer_reader_t **);
int (*const ht_layer_open_opts)(ocidir_t *, const char *, const char *, int64_t, const char *, const ocidir_layer_reader_options_t *, ocidir_layer_reader_t **) = ocidir_layer_open_opts;
extern int (*const ht_image_layer_open_opts)(const ocidir_image_t *, size_t, const ocidir_layer_reader_options_t *, ocidir_layer_reader_t **);
int (*const ht_image_layer_open_opts)(const ocidir_image_t *, size_t, const ocidir_layer_reader_options_t *, ocidir_layer_reader_t **) = ocidir_image_layer_open_opts;
extern int (*const ht_add_layer_options_init)(ocidir_add_layer_options_t *, size_t);
int (*const ht_add_layer_options_init)(ocidir_add_layer_options_t *, size_t) = ocidir_add_layer_options_init;
extern int (*const ht_builder_add_layer_opts)(ocidir_builder_t *, const char *, const char *, uint64_t, const char *, const ocidir_add_layer_options_t *);
int (*const ht_builder_add_layer_opts)(ocidir_builder_t *, const char *, const char *, uint64_t, const char *, const ocidir_add_layer_options_t *) = ocidir_builder_add_layer_opts;
extern int (*const ht_builder_add_layer_writer_opts)(ocidir_builder_t *, ocidir_layer_writer_t *, const ocidir_add_layer_options_t *);
int (*const ht_builder_add_layer_writer_opts)(ocidir_builder_t *, ocidir_layer_writer_t *, const ocidir_add_layer_options_t *) = ocidir_builder_add_layer_writer_opts;
extern int (*const ht_fsck_options_init)(ocidir_fsck_options_t *, size_t);
int (*const ht_fsck_options_init)(ocidir_fsck_options_t *, size_t) = ocidir_fsck_options_init;
extern int (*const ht_gc_options_init)(ocidir_gc_options_t *, size_t);
int (*const ht_gc_options_init)(ocidir_gc_options_t *, size_t) = ocidir_gc_options_init;
extern int (*const ht_clone_options_init)(ocidir_clone_options_t *, size_t);
int (*const ht_clone_options_init)(ocidir_clone_options_t *, size_t) = ocidir_clone_options_init;
int (*const ht_unpack_options_init)(ocidir_unpack_options_t *, size_t) = ocidir_unpack_options_init;
int (*const ht_unpack)(const ocidir_image_t *, int, const char *, const ocidir_unpack_options_t *,
                       ocidir_report_t **) = ocidir_unpack;
int (*const ht_copy_options_init)(ocidir_copy_options_t *, size_t) = ocidir_copy_options_init;
int (*const ht_copy)(ocidir_t *, const char *, const char *, ocidir_t *, const char *, const ocidir_copy_options_t *,
                     ocidir_report_t **) = ocidir_copy;
const ocidir_copy_options_t ht_copy_defaults = OCIDIR_COPY_OPTIONS_INIT;
const unsigned ht_copy_flags = OCIDIR_COPY_ALL_PLATFORMS | OCIDIR_COPY_NO_HARDLINK;
int (*const ht_user_lookup)(int, const char *, uint32_t *, uint32_t *) = ocidir_user_lookup;
const unsigned ht_userdb_max[2] = {OCIDIR_USERDB_MAX_FILE, OCIDIR_USERDB_MAX_LINE};
const ocidir_unpack_options_t ht_unpack_defaults = OCIDIR_UNPACK_OPTIONS_INIT;

// The enum converts as a C caller expects.
extern ocidir_digest_alg_t ht_alg;
ocidir_digest_alg_t ht_alg = OCIDIR_SHA512;

// Types usable as declared, and the enums as C callers use them.
extern ocidir_config_field_t ht_field;
ocidir_config_field_t ht_field = OCIDIR_CONFIG_STOP_SIGNAL;
extern ocidir_compression_t ht_compression;
ocidir_compression_t ht_compression = OCIDIR_COMPRESSION_ZSTD;
extern ocidir_image_t *ht_image;
ocidir_image_t *ht_image = nullptr;
extern ocidir_layer_writer_t *ht_layer_writer;
ocidir_layer_writer_t *ht_layer_writer = nullptr;
extern ocidir_layer_reader_t *ht_layer_reader;
ocidir_layer_reader_t *ht_layer_reader = nullptr;
extern ocidir_builder_t *ht_builder;
ocidir_builder_t *ht_builder = nullptr;
extern ocidir_report_t *ht_report;
ocidir_report_t *ht_report = nullptr;
extern ocidir_find_kind_t ht_kind;
ocidir_find_kind_t ht_kind = OCIDIR_FIND_REFLINKED;
extern ocidir_progress_fn ht_progress;
ocidir_progress_fn ht_progress = nullptr;
extern const size_t ht_manifest_index;
const size_t ht_manifest_index = OCIDIR_MANIFEST;
