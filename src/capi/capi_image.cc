// The C ABI of images, referrers and the builder (sections 7 and 9 of
// ocidir.h, and ocidir_image_layer_open from section 8).  Every entry point
// checks its arguments and catches everything.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "image/builder.hh"
#include "capi/capi_util.hh"
#include "capi/options.hh"
#include "format/digest.hh"
#include "base/error.hh"
#include "image/image.hh"
#include "image/layer.hh"
#include "store/layout.hh"
#include "format/oci.hh"

using namespace ocd;
using namespace ocd::capi;

namespace {

// Alternating keys and values of a sorted map.
template <class Map>
char **kv_strv(const Map &m)
{
    std::vector<std::string_view> kv;
    kv.reserve(m.size() * 2);
    for (const auto &[k, v] : m) {
        kv.emplace_back(k);
        kv.emplace_back(v);
    }
    return dup_strv(kv);
}

int no_layer(const char *fn, const ocidir_image *img, size_t index) noexcept
{
    std::string m;
    try {
        m = std::string(fn) + ": layer " + std::to_string(index) + " does not exist (manifest " +
            img->manifest_digest + " has " + std::to_string(img->manifest.layers.size()) + " layers)";
    } catch (...) {
    }
    return fail(OCIDIR_E_NOT_FOUND, m);
}

int no_config(const char *fn, const ocidir_image *img) noexcept
{
    std::string m;
    try {
        m = std::string(fn) + ": manifest " + img->manifest_digest + " has no image config (config media type " +
            img->manifest.config.media_type + ")";
    } catch (...) {
    }
    return fail(OCIDIR_E_NOT_FOUND, m);
}

const std::optional<std::vector<std::string>> *strv_field(const ocidir_image *img, int f) noexcept
{
    switch (f) {
    case OCIDIR_CONFIG_ENTRYPOINT: return &img->entrypoint;
    case OCIDIR_CONFIG_CMD: return &img->cmd;
    case OCIDIR_CONFIG_ENV: return &img->env;
    case OCIDIR_CONFIG_DIFF_IDS: return &img->diff_ids;
    default: return nullptr;
    }
}

const std::optional<std::string> *string_field(const ocidir_image *img, int f) noexcept
{
    switch (f) {
    case OCIDIR_CONFIG_USER: return &img->user;
    case OCIDIR_CONFIG_WORKING_DIR: return &img->working_dir;
    case OCIDIR_CONFIG_OS: return &img->os;
    case OCIDIR_CONFIG_ARCHITECTURE: return &img->architecture;
    case OCIDIR_CONFIG_VARIANT: return &img->variant;
    case OCIDIR_CONFIG_CREATED: return &img->created;
    case OCIDIR_CONFIG_STOP_SIGNAL: return &img->stop_signal;
    default: return nullptr;
    }
}

}  // namespace

extern "C" {

/* ---------------------------------------------------------------- images */

OCIDIR_API const char *ocidir_platform_default(void)
{
    static const std::string s = []() -> std::string {
        try {
            return oci::host_platform().str();
        } catch (...) {
            return "linux/unknown";
        }
    }();
    return s.c_str();
}

OCIDIR_API int ocidir_image_open(ocidir_t *d, const char *ref, const char *platform, ocidir_image_t **out)
{
    if (!d)
        return invalid("ocidir_image_open", "layout handle is NULL");
    if (!ref)
        return invalid("ocidir_image_open", "ref is NULL");
    if (!out)
        return invalid("ocidir_image_open", "out is NULL");
    return guard([&] { *out = image::open(*d, ref, platform).release(); });
}

OCIDIR_API void ocidir_image_close(ocidir_image_t *img) { delete img; }

OCIDIR_API int ocidir_image_manifest(const ocidir_image_t *img, char digest_out[OCIDIR_DIGEST_MAX],
                                     const void **buf_out, size_t *len_out)
{
    if (!img)
        return invalid("ocidir_image_manifest", "image is NULL");
    copy_digest(img->manifest_digest, digest_out);
    if (buf_out)
        *buf_out = img->manifest_bytes.data();
    if (len_out)
        *len_out = img->manifest_bytes.size();
    return 0;
}

OCIDIR_API int ocidir_image_ref_descriptor(const ocidir_image_t *img, char digest_out[OCIDIR_DIGEST_MAX],
                                           char **media_type_out, uint64_t *size_out)
{
    if (!img)
        return invalid("ocidir_image_ref_descriptor", "image is NULL");
    return guard([&] {
        const oci::Descriptor &r = img->ref_desc;
        char *mt = media_type_out ? dup_cstr(r.media_type) : nullptr;
        if (media_type_out)
            *media_type_out = mt;
        copy_digest(r.digest, digest_out);
        if (size_out)
            *size_out = static_cast<uint64_t>(r.size);
    });
}

OCIDIR_API int ocidir_image_config_descriptor(const ocidir_image_t *img, char **media_type_out,
                                              char digest_out[OCIDIR_DIGEST_MAX], uint64_t *size_out)
{
    if (!img)
        return invalid("ocidir_image_config_descriptor", "image is NULL");
    return guard([&] {
        const oci::Descriptor &c = img->manifest.config;
        char *mt = media_type_out ? dup_cstr(c.media_type) : nullptr;
        if (media_type_out)
            *media_type_out = mt;
        copy_digest(c.digest, digest_out);
        if (size_out)
            *size_out = static_cast<uint64_t>(c.size);
    });
}

OCIDIR_API int ocidir_image_config_is_empty(const ocidir_image_t *img)
{
    return img && img->manifest.config.is_empty_config() ? 1 : 0;
}

OCIDIR_API const char *ocidir_image_artifact_type(const ocidir_image_t *img)
{
    return img && img->manifest.artifact_type ? img->manifest.artifact_type->c_str() : nullptr;
}

OCIDIR_API size_t ocidir_image_layer_count(const ocidir_image_t *img) { return img ? img->manifest.layers.size() : 0; }

OCIDIR_API int ocidir_image_layer(const ocidir_image_t *img, size_t index, char **media_type_out,
                                  char digest_out[OCIDIR_DIGEST_MAX], uint64_t *size_out)
{
    if (!img)
        return invalid("ocidir_image_layer", "image is NULL");
    if (index >= img->manifest.layers.size())
        return no_layer("ocidir_image_layer", img, index);
    return guard([&] {
        const oci::Descriptor &l = img->manifest.layers[index];
        char *mt = media_type_out ? dup_cstr(l.media_type) : nullptr;
        if (media_type_out)
            *media_type_out = mt;
        copy_digest(l.digest, digest_out);
        if (size_out)
            *size_out = static_cast<uint64_t>(l.size);
    });
}

OCIDIR_API int ocidir_image_annotations(const ocidir_image_t *img, size_t layer, char ***kv_out)
{
    if (!img)
        return invalid("ocidir_image_annotations", "image is NULL");
    if (!kv_out)
        return invalid("ocidir_image_annotations", "kv_out is NULL");
    if (layer != OCIDIR_MANIFEST && layer >= img->manifest.layers.size())
        return no_layer("ocidir_image_annotations", img, layer);
    return guard([&] {
        const oci::Annotations &a =
            layer == OCIDIR_MANIFEST ? img->manifest.annotations : img->manifest.layers[layer].annotations;
        *kv_out = kv_strv(a);
    });
}

OCIDIR_API int ocidir_image_config_strv(const ocidir_image_t *img, ocidir_config_field_t field, char ***strv_out)
{
    if (!img)
        return invalid("ocidir_image_config_strv", "image is NULL");
    if (!strv_out)
        return invalid("ocidir_image_config_strv", "strv_out is NULL");
    const auto *f = strv_field(img, enum_value(field));
    if (!f)
        return invalid("ocidir_image_config_strv",
                       "field is not a string-array field (ENTRYPOINT, CMD, ENV, DIFF_IDS)");
    if (!img->image_config)
        return no_config("ocidir_image_config_strv", img);
    return guard([&] { *strv_out = *f ? dup_strv(**f) : nullptr; });
}

OCIDIR_API int ocidir_image_config_string(const ocidir_image_t *img, ocidir_config_field_t field, char **str_out)
{
    if (!img)
        return invalid("ocidir_image_config_string", "image is NULL");
    if (!str_out)
        return invalid("ocidir_image_config_string", "str_out is NULL");
    const auto *f = string_field(img, enum_value(field));
    if (!f)
        return invalid("ocidir_image_config_string",
                       "field is not a string field (USER, WORKING_DIR, OS, ARCHITECTURE, VARIANT, CREATED, "
                       "STOP_SIGNAL)");
    if (!img->image_config)
        return no_config("ocidir_image_config_string", img);
    return guard([&] { *str_out = *f ? dup_cstr(**f) : nullptr; });
}

OCIDIR_API int ocidir_image_config_labels(const ocidir_image_t *img, char ***kv_out)
{
    if (!img)
        return invalid("ocidir_image_config_labels", "image is NULL");
    if (!kv_out)
        return invalid("ocidir_image_config_labels", "kv_out is NULL");
    if (!img->image_config)
        return no_config("ocidir_image_config_labels", img);
    return guard([&] { *kv_out = kv_strv(img->labels); });
}

OCIDIR_API int ocidir_image_config_raw(const ocidir_image_t *img, const void **buf_out, size_t *len_out)
{
    if (!img)
        return invalid("ocidir_image_config_raw", "image is NULL");
    if (!img->config_bytes) {
        std::string m;
        try {
            m = "ocidir_image_config_raw: config blob " + img->manifest.config.digest + " of manifest " +
                img->manifest_digest + " is not in the layout";
        } catch (...) {
        }
        return fail(OCIDIR_E_NOT_FOUND, m);
    }
    if (buf_out)
        *buf_out = img->config_bytes->data();
    if (len_out)
        *len_out = img->config_bytes->size();
    return 0;
}

OCIDIR_API int ocidir_image_layer_open(const ocidir_image_t *img, size_t index, ocidir_layer_reader_t **out)
{
    return ocidir_image_layer_open_opts(img, index, nullptr, out);
}

OCIDIR_API int ocidir_image_layer_open_opts(const ocidir_image_t *img, size_t index,
                                            const ocidir_layer_reader_options_t *opts, ocidir_layer_reader_t **out)
{
    if (!img)
        return invalid("ocidir_image_layer_open", "image is NULL");
    if (!out)
        return invalid("ocidir_image_layer_open", "out is NULL");
    if (index >= img->manifest.layers.size())
        return no_layer("ocidir_image_layer_open", img, index);
    return guard([&] {
        ocidir_layer_reader_options_t o = OCIDIR_LAYER_READER_OPTIONS_INIT;
        load_options(opts, o, "ocidir_image_layer_open_opts");
        check_layer_reader_options(o, "ocidir_image_layer_open_opts");
        const oci::Descriptor &l = img->manifest.layers[index];
        const char *diff_id = nullptr;
        if (img->image_config) {
            size_t n = img->diff_ids ? img->diff_ids->size() : 0;
            if (n != img->manifest.layers.size())
                throw Error(OCIDIR_E_FORMAT, "manifest " + img->manifest_digest + " has " +
                                                 std::to_string(img->manifest.layers.size()) +
                                                 " layers but its config has " + std::to_string(n) +
                                                 " rootfs.diff_ids");
            diff_id = (*img->diff_ids)[index].c_str();
        }
        std::unique_ptr<ocidir_layer_reader> r = layer_open(*img->d, l.media_type, l.digest.c_str(), l.size, diff_id);
        r->max_size = o.max_size;
        *out = r.release();
    });
}

OCIDIR_API int ocidir_referrers(ocidir_t *d, const char *digest, const char *artifact_type, char ***digests_out)
{
    if (!d)
        return invalid("ocidir_referrers", "layout handle is NULL");
    if (!digest)
        return invalid("ocidir_referrers", "digest is NULL");
    if (!digests_out)
        return invalid("ocidir_referrers", "digests_out is NULL");
    return guard([&] {
        Digest dg = parse_digest(digest);  // BAD_DIGEST / UNSUPPORTED
        if (artifact_type && !oci::valid_media_type(artifact_type))
            throw Error(OCIDIR_E_INVALID, "ocidir_referrers: artifact type " + quote(artifact_type) +
                                              " is not a media type (type/subtype)");
        *digests_out = dup_strv(image::referrers(*d, dg.str(), artifact_type));
    });
}

/* --------------------------------------------------------------- builder */

OCIDIR_API int ocidir_builder_new(ocidir_t *d, const char *platform, ocidir_builder_t **out)
{
    if (!d)
        return invalid("ocidir_builder_new", "layout handle is NULL");
    if (!out)
        return invalid("ocidir_builder_new", "out is NULL");
    return guard([&] { *out = builder::create(*d, platform).release(); });
}

OCIDIR_API int ocidir_builder_new_artifact(ocidir_t *d, const char *artifact_type, ocidir_builder_t **out)
{
    if (!d)
        return invalid("ocidir_builder_new_artifact", "layout handle is NULL");
    if (!out)
        return invalid("ocidir_builder_new_artifact", "out is NULL");
    return guard([&] { *out = builder::create_artifact(*d, artifact_type).release(); });
}

OCIDIR_API int ocidir_builder_from(ocidir_t *d, const char *ref, const char *platform, ocidir_builder_t **out)
{
    if (!d)
        return invalid("ocidir_builder_from", "layout handle is NULL");
    if (!ref)
        return invalid("ocidir_builder_from", "ref is NULL");
    if (!out)
        return invalid("ocidir_builder_from", "out is NULL");
    return guard([&] { *out = builder::from(*d, ref, platform).release(); });
}

OCIDIR_API int ocidir_builder_set_created(ocidir_builder_t *b, const char *rfc3339)
{
    if (!b)
        return invalid("ocidir_builder_set_created", "builder is NULL");
    return guard([&] { builder::set_created(*b, rfc3339); });
}

OCIDIR_API int ocidir_builder_add_layer(ocidir_builder_t *b, const char *media_type, const char *digest,
                                        uint64_t size, const char *diff_id, const char *created_by)
{
    if (!b)
        return invalid("ocidir_builder_add_layer", "builder is NULL");
    return guard(
        [&] { builder::add_layer(*b, media_type, digest, size, diff_id, created_by, nullptr, "ocidir_builder_add_layer"); });
}

OCIDIR_API int ocidir_builder_add_layer_writer(ocidir_builder_t *b, ocidir_layer_writer_t *w, const char *created_by)
{
    std::unique_ptr<ocidir_layer_writer> owned(w);  // freed whatever happens
    if (!b)
        return invalid("ocidir_builder_add_layer_writer", "builder is NULL");
    if (!w)
        return invalid("ocidir_builder_add_layer_writer", "layer writer is NULL");
    return guard([&] { builder::add_layer_writer(*b, *owned, created_by, nullptr, "ocidir_builder_add_layer_writer"); });
}

OCIDIR_API int ocidir_add_layer_options_init(ocidir_add_layer_options_t *opts, size_t struct_size)
{
    static const ocidir_add_layer_options_t def = OCIDIR_ADD_LAYER_OPTIONS_INIT;  // static: its padding bytes are zero
    return init_options(opts, struct_size, def, "ocidir_add_layer_options_init");
}

OCIDIR_API int ocidir_builder_add_layer_opts(ocidir_builder_t *b, const char *media_type, const char *digest,
                                             uint64_t size, const char *diff_id,
                                             const ocidir_add_layer_options_t *opts)
{
    const char *op = "ocidir_builder_add_layer_opts";
    if (!b)
        return invalid(op, "builder is NULL");
    return guard([&] {
        ocidir_add_layer_options_t o = OCIDIR_ADD_LAYER_OPTIONS_INIT;
        load_options(opts, o, op);
        if (o.flags & OCIDIR_ADD_LAYER_DEFER_SYNC)
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": OCIDIR_ADD_LAYER_DEFER_SYNC applies to a layer "
                                                            "writer's blob (ocidir_builder_add_layer_writer_opts()); "
                                                            "this blob is published already");
        if (o.flags != 0)
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": unknown flags " + std::to_string(o.flags));
        builder::add_layer(*b, media_type, digest, size, diff_id, o.created_by, o.annotations, op);
    });
}

OCIDIR_API int ocidir_builder_add_layer_writer_opts(ocidir_builder_t *b, ocidir_layer_writer_t *w,
                                                    const ocidir_add_layer_options_t *opts)
{
    const char *op = "ocidir_builder_add_layer_writer_opts";
    std::unique_ptr<ocidir_layer_writer> owned(w);  // freed whatever happens
    if (!b)
        return invalid(op, "builder is NULL");
    if (!w)
        return invalid(op, "layer writer is NULL");
    return guard([&] {
        ocidir_add_layer_options_t o = OCIDIR_ADD_LAYER_OPTIONS_INIT;
        load_options(opts, o, op);
        if (o.flags & ~static_cast<unsigned>(OCIDIR_ADD_LAYER_DEFER_SYNC))
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": unknown flags " + std::to_string(o.flags) +
                                              " (known: OCIDIR_ADD_LAYER_DEFER_SYNC)");
        builder::add_layer_writer(*b, *owned, o.created_by, o.annotations, op,
                                  (o.flags & OCIDIR_ADD_LAYER_DEFER_SYNC) != 0);
    });
}

OCIDIR_API int ocidir_builder_set_config_strv(ocidir_builder_t *b, ocidir_config_field_t field,
                                              const char *const *strv)
{
    if (!b)
        return invalid("ocidir_builder_set_config_strv", "builder is NULL");
    return guard([&] { builder::set_config_strv(*b, enum_value(field), strv); });
}

OCIDIR_API int ocidir_builder_set_config_string(ocidir_builder_t *b, ocidir_config_field_t field, const char *value)
{
    if (!b)
        return invalid("ocidir_builder_set_config_string", "builder is NULL");
    return guard([&] { builder::set_config_string(*b, enum_value(field), value); });
}

OCIDIR_API int ocidir_builder_set_label(ocidir_builder_t *b, const char *key, const char *value)
{
    if (!b)
        return invalid("ocidir_builder_set_label", "builder is NULL");
    return guard([&] { builder::set_label(*b, key, value); });
}

OCIDIR_API int ocidir_builder_set_annotation(ocidir_builder_t *b, const char *key, const char *value)
{
    if (!b)
        return invalid("ocidir_builder_set_annotation", "builder is NULL");
    return guard([&] { builder::set_annotation(*b, key, value); });
}

OCIDIR_API int ocidir_builder_set_subject(ocidir_builder_t *b, const char *digest)
{
    if (!b)
        return invalid("ocidir_builder_set_subject", "builder is NULL");
    return guard([&] { builder::set_subject(*b, digest); });
}

OCIDIR_API int ocidir_builder_commit(ocidir_builder_t *b, const char *tag, unsigned flags,
                                     char digest_out[OCIDIR_DIGEST_MAX])
{
    if (!b)
        return invalid("ocidir_builder_commit", "builder is NULL");
    int rc = guard([&] { copy_digest(builder::commit(*b, tag, flags), digest_out); });
    // index.json names the manifest but was not flushed: the change is made,
    // so the caller gets its digest as on success.
    if (rc == OCIDIR_E_NOT_DURABLE && !b->published_digest.empty())
        copy_digest(b->published_digest, digest_out);
    return rc;
}

OCIDIR_API void ocidir_builder_free(ocidir_builder_t *b) { delete b; }

}  // extern "C"
