/* <ocidir.h> compiles alone as strict C (-std=c99 -Wall -Wextra -pedantic
 * -Werror), and every function and macro it promises is there.
 * Compiled by CTest (headertest_c99, headertest_c11); never run. */
#include <ocidir.h>
#include <stddef.h>

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
HT_CHECK(ambiguous, OCIDIR_E_AMBIGUOUS == -15);
HT_CHECK(canceled, OCIDIR_E_CANCELED == -16);
HT_CHECK(not_durable, OCIDIR_E_NOT_DURABLE == -17);
HT_CHECK(digest_max, OCIDIR_DIGEST_MAX == 136);
HT_CHECK(open_create, OCIDIR_OPEN_CREATE == 1u);
HT_CHECK(open_rdonly, OCIDIR_OPEN_RDONLY == 2u);
HT_CHECK(open_follow, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK == 4u);
HT_CHECK(blobdir_write, OCIDIR_BLOBDIR_WRITE == 1u);
HT_CHECK(sha256, OCIDIR_SHA256 == 0);
HT_CHECK(sha512, OCIDIR_SHA512 == 1);
HT_CHECK(tag_noreplace, OCIDIR_TAG_NOREPLACE == 1u);
HT_CHECK(ref_name_len, sizeof(OCIDIR_ANNOTATION_REF_NAME) == sizeof("org.opencontainers.image.ref.name"));
HT_CHECK(manifest, OCIDIR_MANIFEST == (size_t)-1);
HT_CHECK(cfg_entrypoint, OCIDIR_CONFIG_ENTRYPOINT == 0);
HT_CHECK(cfg_cmd, OCIDIR_CONFIG_CMD == 1);
HT_CHECK(cfg_env, OCIDIR_CONFIG_ENV == 2);
HT_CHECK(cfg_diff_ids, OCIDIR_CONFIG_DIFF_IDS == 3);
HT_CHECK(cfg_user, OCIDIR_CONFIG_USER == 4);
HT_CHECK(cfg_working_dir, OCIDIR_CONFIG_WORKING_DIR == 5);
HT_CHECK(cfg_os, OCIDIR_CONFIG_OS == 6);
HT_CHECK(cfg_architecture, OCIDIR_CONFIG_ARCHITECTURE == 7);
HT_CHECK(cfg_variant, OCIDIR_CONFIG_VARIANT == 8);
HT_CHECK(cfg_created, OCIDIR_CONFIG_CREATED == 9);
HT_CHECK(cfg_stop_signal, OCIDIR_CONFIG_STOP_SIGNAL == 10);
HT_CHECK(comp_none, OCIDIR_COMPRESSION_NONE == 0);
HT_CHECK(comp_gzip, OCIDIR_COMPRESSION_GZIP == 1);
HT_CHECK(comp_zstd, OCIDIR_COMPRESSION_ZSTD == 2);
HT_CHECK(find_layout, OCIDIR_FIND_LAYOUT == 0);
HT_CHECK(find_missing, OCIDIR_FIND_MISSING == 1);
HT_CHECK(find_digest, OCIDIR_FIND_DIGEST == 2);
HT_CHECK(find_size, OCIDIR_FIND_SIZE == 3);
HT_CHECK(find_format, OCIDIR_FIND_FORMAT == 4);
HT_CHECK(find_media_type, OCIDIR_FIND_MEDIA_TYPE == 5);
HT_CHECK(find_io, OCIDIR_FIND_IO == 6);
HT_CHECK(find_unsupported, OCIDIR_FIND_UNSUPPORTED == 7);
HT_CHECK(find_unreferenced, OCIDIR_FIND_UNREFERENCED == 8);
HT_CHECK(find_temp, OCIDIR_FIND_TEMP == 9);
HT_CHECK(find_removed, OCIDIR_FIND_REMOVED == 10);
HT_CHECK(find_kept_recent, OCIDIR_FIND_KEPT_RECENT == 11);
HT_CHECK(find_copied, OCIDIR_FIND_COPIED == 12);
HT_CHECK(find_linked, OCIDIR_FIND_LINKED == 13);
HT_CHECK(find_reflinked, OCIDIR_FIND_REFLINKED == 14);
HT_CHECK(gc_dry_run, OCIDIR_GC_DRY_RUN == 1u);
HT_CHECK(gc_grace_default, OCIDIR_GC_GRACE_DEFAULT == 3600);
HT_CHECK(clone_no_hardlink, OCIDIR_CLONE_NO_HARDLINK == 1u);
HT_CHECK(gc_grace_handle, OCIDIR_GC_GRACE_HANDLE == -1);

/* The ref-name annotation is a string literal that concatenates. */
const char ht_ref_name[] = OCIDIR_ANNOTATION_REF_NAME "";

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
    (ht_fn)ocidir_inflate_backend,
    (ht_fn)ocidir_open,
    (ht_fn)ocidir_close,
    (ht_fn)ocidir_is_readonly,
    (ht_fn)ocidir_resolver_uses_openat2,
    (ht_fn)ocidir_add_blobdir_fd,
    (ht_fn)ocidir_blob_writer_new,
    (ht_fn)ocidir_put_options_init,
    (ht_fn)ocidir_blob_writer_new_opts,
    (ht_fn)ocidir_blob_writer_expect,
    (ht_fn)ocidir_blob_writer_write,
    (ht_fn)ocidir_blob_writer_commit,
    (ht_fn)ocidir_blob_writer_abort,
    (ht_fn)ocidir_blob_put,
    (ht_fn)ocidir_blob_put_fd,
    (ht_fn)ocidir_blob_put_opts,
    (ht_fn)ocidir_blob_put_fd_opts,
    (ht_fn)ocidir_blob_stat,
    (ht_fn)ocidir_blob_open,
    (ht_fn)ocidir_blob_reader_read,
    (ht_fn)ocidir_blob_reader_size,
    (ht_fn)ocidir_blob_reader_close,
    (ht_fn)ocidir_blob_read_all,
    (ht_fn)ocidir_blob_open_fd,
    (ht_fn)ocidir_blob_remove,
    /* 6. Index and tags */
    (ht_fn)ocidir_tag_validate,
    (ht_fn)ocidir_set_json_limit,
    (ht_fn)ocidir_tag_list,
    (ht_fn)ocidir_resolve,
    (ht_fn)ocidir_tag_set,
    (ht_fn)ocidir_tag_remove,
    (ht_fn)ocidir_index_add,
    /* 7. Images */
    (ht_fn)ocidir_platform_default,
    (ht_fn)ocidir_image_open,
    (ht_fn)ocidir_image_close,
    (ht_fn)ocidir_image_manifest,
    (ht_fn)ocidir_image_config_descriptor,
    (ht_fn)ocidir_image_ref_descriptor,
    (ht_fn)ocidir_image_config_is_empty,
    (ht_fn)ocidir_image_artifact_type,
    (ht_fn)ocidir_image_layer_count,
    (ht_fn)ocidir_image_layer,
    (ht_fn)ocidir_image_annotations,
    (ht_fn)ocidir_image_config_strv,
    (ht_fn)ocidir_image_config_string,
    (ht_fn)ocidir_image_config_labels,
    (ht_fn)ocidir_image_config_raw,
    (ht_fn)ocidir_referrers,
    /* 8. Layers */
    (ht_fn)ocidir_compression_media_type,
    (ht_fn)ocidir_layer_writer_new,
    (ht_fn)ocidir_layer_writer_write,
    (ht_fn)ocidir_layer_writer_commit,
    (ht_fn)ocidir_layer_writer_media_type,
    (ht_fn)ocidir_layer_writer_abort,
    (ht_fn)ocidir_layer_open,
    (ht_fn)ocidir_image_layer_open,
    (ht_fn)ocidir_layer_reader_read,
    (ht_fn)ocidir_layer_reader_close,
    /* 9. Building images */
    (ht_fn)ocidir_builder_new,
    (ht_fn)ocidir_builder_new_artifact,
    (ht_fn)ocidir_builder_from,
    (ht_fn)ocidir_builder_set_created,
    (ht_fn)ocidir_builder_add_layer,
    (ht_fn)ocidir_builder_add_layer_writer,
    (ht_fn)ocidir_builder_set_config_strv,
    (ht_fn)ocidir_builder_set_config_string,
    (ht_fn)ocidir_builder_set_label,
    (ht_fn)ocidir_builder_set_annotation,
    (ht_fn)ocidir_builder_set_subject,
    (ht_fn)ocidir_builder_commit,
    (ht_fn)ocidir_builder_free,
    (ht_fn)ocidir_find_kind_name,
    (ht_fn)ocidir_report_count,
    (ht_fn)ocidir_report_damage,
    (ht_fn)ocidir_report_get,
    (ht_fn)ocidir_report_totals,
    (ht_fn)ocidir_report_free,
    (ht_fn)ocidir_fsck,
    (ht_fn)ocidir_set_gc_grace,
    (ht_fn)ocidir_gc,
    (ht_fn)ocidir_cache_gc,
    (ht_fn)ocidir_clone,
    (ht_fn)ocidir_tag_remove_gc,
    (ht_fn)ocidir_find_kind_is_damage,
    (ht_fn)ocidir_layer_writer_options_init,
    (ht_fn)ocidir_layer_writer_new_opts,
    (ht_fn)ocidir_layer_reader_options_init,
    (ht_fn)ocidir_layer_open_opts,
    (ht_fn)ocidir_image_layer_open_opts,
    (ht_fn)ocidir_add_layer_options_init,
    (ht_fn)ocidir_builder_add_layer_opts,
    (ht_fn)ocidir_builder_add_layer_writer_opts,
    (ht_fn)ocidir_fsck_options_init,
    (ht_fn)ocidir_gc_options_init,
    (ht_fn)ocidir_clone_options_init,
    (ht_fn)ocidir_unpack_options_init,
    (ht_fn)ocidir_unpack,
    (ht_fn)ocidir_user_lookup,
    (ht_fn)ocidir_copy_options_init,
    (ht_fn)ocidir_copy,
};

int (*const ht_open)(int, const char *, unsigned, ocidir_t **) = ocidir_open;
int (*const ht_commit)(ocidir_blob_writer_t *, char[OCIDIR_DIGEST_MAX], uint64_t *) =
    ocidir_blob_writer_commit;
ssize_t (*const ht_read)(ocidir_blob_reader_t *, void *, size_t) = ocidir_blob_reader_read;
int (*const ht_read_all)(ocidir_t *, const char *, int64_t, size_t, void **, size_t *) =
    ocidir_blob_read_all;

/* Sections 6-9, each with its exact type: a changed signature fails to compile. */
int (*const ht_tag_validate)(const char *) = ocidir_tag_validate;
int (*const ht_set_json_limit)(ocidir_t *, size_t) = ocidir_set_json_limit;
int (*const ht_tag_list)(ocidir_t *, char ***) = ocidir_tag_list;
int (*const ht_resolve)(ocidir_t *, const char *, char[OCIDIR_DIGEST_MAX], char **, uint64_t *) =
    ocidir_resolve;
int (*const ht_tag_set)(ocidir_t *, const char *, const char *, unsigned) = ocidir_tag_set;
int (*const ht_tag_remove)(ocidir_t *, const char *) = ocidir_tag_remove;
int (*const ht_index_add)(ocidir_t *, const char *) = ocidir_index_add;
const char *(*const ht_platform_default)(void) = ocidir_platform_default;
int (*const ht_image_open)(ocidir_t *, const char *, const char *, ocidir_image_t **) =
    ocidir_image_open;
void (*const ht_image_close)(ocidir_image_t *) = ocidir_image_close;
int (*const ht_image_manifest)(const ocidir_image_t *, char[OCIDIR_DIGEST_MAX], const void **,
                               size_t *) = ocidir_image_manifest;
int (*const ht_image_config_descriptor)(const ocidir_image_t *, char **, char[OCIDIR_DIGEST_MAX],
                                        uint64_t *) = ocidir_image_config_descriptor;
int (*const ht_image_ref_descriptor)(const ocidir_image_t *, char *, char **, uint64_t *) = ocidir_image_ref_descriptor;
int (*const ht_image_config_is_empty)(const ocidir_image_t *) = ocidir_image_config_is_empty;
const char *(*const ht_image_artifact_type)(const ocidir_image_t *) = ocidir_image_artifact_type;
size_t (*const ht_image_layer_count)(const ocidir_image_t *) = ocidir_image_layer_count;
int (*const ht_image_layer)(const ocidir_image_t *, size_t, char **, char[OCIDIR_DIGEST_MAX],
                            uint64_t *) = ocidir_image_layer;
int (*const ht_image_annotations)(const ocidir_image_t *, size_t, char ***) =
    ocidir_image_annotations;
int (*const ht_image_config_strv)(const ocidir_image_t *, ocidir_config_field_t, char ***) =
    ocidir_image_config_strv;
int (*const ht_image_config_string)(const ocidir_image_t *, ocidir_config_field_t, char **) =
    ocidir_image_config_string;
int (*const ht_image_config_labels)(const ocidir_image_t *, char ***) = ocidir_image_config_labels;
int (*const ht_image_config_raw)(const ocidir_image_t *, const void **, size_t *) =
    ocidir_image_config_raw;
int (*const ht_referrers)(ocidir_t *, const char *, const char *, char ***) = ocidir_referrers;
const char *(*const ht_compression_media_type)(ocidir_compression_t) =
    ocidir_compression_media_type;
int (*const ht_layer_writer_new)(ocidir_t *, ocidir_compression_t, int, int,
                                 ocidir_layer_writer_t **) = ocidir_layer_writer_new;
int (*const ht_layer_writer_write)(ocidir_layer_writer_t *, const void *, size_t) =
    ocidir_layer_writer_write;
int (*const ht_layer_writer_commit)(ocidir_layer_writer_t *, char[OCIDIR_DIGEST_MAX], uint64_t *,
                                    char[OCIDIR_DIGEST_MAX]) = ocidir_layer_writer_commit;
const char *(*const ht_layer_writer_media_type)(const ocidir_layer_writer_t *) =
    ocidir_layer_writer_media_type;
void (*const ht_layer_writer_abort)(ocidir_layer_writer_t *) = ocidir_layer_writer_abort;
int (*const ht_layer_open)(ocidir_t *, const char *, const char *, int64_t, const char *,
                           ocidir_layer_reader_t **) = ocidir_layer_open;
int (*const ht_image_layer_open)(const ocidir_image_t *, size_t, ocidir_layer_reader_t **) =
    ocidir_image_layer_open;
ssize_t (*const ht_layer_reader_read)(ocidir_layer_reader_t *, void *, size_t) =
    ocidir_layer_reader_read;
void (*const ht_layer_reader_close)(ocidir_layer_reader_t *) = ocidir_layer_reader_close;
int (*const ht_builder_new)(ocidir_t *, const char *, ocidir_builder_t **) = ocidir_builder_new;
int (*const ht_builder_new_artifact)(ocidir_t *, const char *, ocidir_builder_t **) =
    ocidir_builder_new_artifact;
int (*const ht_builder_from)(ocidir_t *, const char *, const char *, ocidir_builder_t **) =
    ocidir_builder_from;
int (*const ht_builder_set_created)(ocidir_builder_t *, const char *) = ocidir_builder_set_created;
int (*const ht_builder_add_layer)(ocidir_builder_t *, const char *, const char *, uint64_t,
                                  const char *, const char *) = ocidir_builder_add_layer;
int (*const ht_builder_add_layer_writer)(ocidir_builder_t *, ocidir_layer_writer_t *,
                                         const char *) = ocidir_builder_add_layer_writer;
int (*const ht_builder_set_config_strv)(ocidir_builder_t *, ocidir_config_field_t,
                                        const char *const *) = ocidir_builder_set_config_strv;
int (*const ht_builder_set_config_string)(ocidir_builder_t *, ocidir_config_field_t,
                                          const char *) = ocidir_builder_set_config_string;
int (*const ht_builder_set_label)(ocidir_builder_t *, const char *, const char *) =
    ocidir_builder_set_label;
int (*const ht_builder_set_annotation)(ocidir_builder_t *, const char *, const char *) =
    ocidir_builder_set_annotation;
int (*const ht_builder_set_subject)(ocidir_builder_t *, const char *) = ocidir_builder_set_subject;
int (*const ht_builder_commit)(ocidir_builder_t *, const char *, unsigned, char[OCIDIR_DIGEST_MAX]) =
    ocidir_builder_commit;
void (*const ht_builder_free)(ocidir_builder_t *) = ocidir_builder_free;

/* Section 10, each with its exact type. */
const char *(*const ht_find_kind_name)(int) = ocidir_find_kind_name;
size_t (*const ht_report_count)(const ocidir_report_t *) = ocidir_report_count;
size_t (*const ht_report_damage)(const ocidir_report_t *) = ocidir_report_damage;
int (*const ht_report_get)(const ocidir_report_t *, size_t, ocidir_find_kind_t *, const char **, uint64_t *,
                           const char **) = ocidir_report_get;
void (*const ht_report_totals)(const ocidir_report_t *, uint64_t *, uint64_t *) = ocidir_report_totals;
void (*const ht_report_free)(ocidir_report_t *) = ocidir_report_free;
int (*const ht_find_kind_is_damage)(int) = ocidir_find_kind_is_damage;
int (*const ht_fsck)(ocidir_t *, const ocidir_fsck_options_t *, ocidir_report_t **) = ocidir_fsck;
int (*const ht_set_gc_grace)(ocidir_t *, int64_t) = ocidir_set_gc_grace;
int (*const ht_gc)(ocidir_t *, const ocidir_gc_options_t *, ocidir_report_t **) = ocidir_gc;
int (*const ht_cache_gc)(int, ocidir_t *const *, size_t, const ocidir_gc_options_t *, ocidir_report_t **) = ocidir_cache_gc;
int (*const ht_clone)(ocidir_t *, int, const char *, const ocidir_clone_options_t *, ocidir_t **, ocidir_report_t **) = ocidir_clone;
int (*const ht_tag_remove_gc)(ocidir_t *, const char *, const ocidir_gc_options_t *, ocidir_report_t **) = ocidir_tag_remove_gc;
int (*const ht_layer_writer_options_init)(ocidir_layer_writer_options_t *, size_t) = ocidir_layer_writer_options_init;
int (*const ht_layer_writer_new_opts)(ocidir_t *, const ocidir_layer_writer_options_t *, ocidir_layer_writer_t **) = ocidir_layer_writer_new_opts;
int (*const ht_layer_reader_options_init)(ocidir_layer_reader_options_t *, size_t) = ocidir_layer_reader_options_init;
int (*const ht_layer_open_opts)(ocidir_t *, const char *, const char *, int64_t, const char *, const ocidir_layer_reader_options_t *, ocidir_layer_reader_t **) = ocidir_layer_open_opts;
int (*const ht_image_layer_open_opts)(const ocidir_image_t *, size_t, const ocidir_layer_reader_options_t *, ocidir_layer_reader_t **) = ocidir_image_layer_open_opts;
int (*const ht_add_layer_options_init)(ocidir_add_layer_options_t *, size_t) = ocidir_add_layer_options_init;
int (*const ht_builder_add_layer_opts)(ocidir_builder_t *, const char *, const char *, uint64_t, const char *, const ocidir_add_layer_options_t *) = ocidir_builder_add_layer_opts;
int (*const ht_builder_add_layer_writer_opts)(ocidir_builder_t *, ocidir_layer_writer_t *, const ocidir_add_layer_options_t *) = ocidir_builder_add_layer_writer_opts;
int (*const ht_fsck_options_init)(ocidir_fsck_options_t *, size_t) = ocidir_fsck_options_init;
int (*const ht_gc_options_init)(ocidir_gc_options_t *, size_t) = ocidir_gc_options_init;
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

/* Types usable as declared. */
ocidir_t *ht_handle;
ocidir_blob_writer_t *ht_writer;
ocidir_blob_reader_t *ht_reader;
ocidir_digest_alg_t ht_alg = OCIDIR_SHA512;
ocidir_image_t *ht_image;
ocidir_layer_writer_t *ht_layer_writer;
ocidir_layer_reader_t *ht_layer_reader;
ocidir_builder_t *ht_builder;
ocidir_config_field_t ht_field = OCIDIR_CONFIG_STOP_SIGNAL;
ocidir_compression_t ht_compression = OCIDIR_COMPRESSION_ZSTD;
size_t ht_manifest_index = OCIDIR_MANIFEST;
char ht_digest[OCIDIR_DIGEST_MAX];
ocidir_report_t *ht_report;
ocidir_find_kind_t ht_kind = OCIDIR_FIND_REFLINKED;
ocidir_progress_fn ht_progress;
/* Options structs start with their size, and their initialisers compile. */
HT_CHECK(fsck_opts_first, offsetof(ocidir_fsck_options_t, struct_size) == 0);
ocidir_fsck_options_t ht_fsck_opts = OCIDIR_FSCK_OPTIONS_INIT;
ocidir_gc_options_t ht_gc_opts = OCIDIR_GC_OPTIONS_INIT;
ocidir_clone_options_t ht_clone_opts = OCIDIR_CLONE_OPTIONS_INIT;
ocidir_layer_writer_options_t ht_lw_opts = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
ocidir_layer_reader_options_t ht_lr_opts = OCIDIR_LAYER_READER_OPTIONS_INIT;
ocidir_add_layer_options_t ht_al_opts = OCIDIR_ADD_LAYER_OPTIONS_INIT;
ocidir_put_options_t ht_put_options = OCIDIR_PUT_OPTIONS_INIT;
unsigned ht_put_flags = OCIDIR_PUT_VERIFY_EXISTING;
uint64_t ht_fsck_unreferenced = OCIDIR_FSCK_MAX_UNREFERENCED_HASH;
