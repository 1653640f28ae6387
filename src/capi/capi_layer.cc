// The C ABI of section 8 (layers): argument checks, then the core in
// layer.cc behind guard(), so no exception crosses this file.
// ocidir_image_layer_open lives with the image functions (capi_image.cc).
#include <cstring>
#include <memory>
#include <type_traits>

#include "capi/capi_util.hh"
#include "capi/options.hh"
#include "base/error.hh"
#include "image/layer.hh"
#include "store/layout.hh"

using namespace ocd;
using namespace ocd::capi;

extern "C" {

OCIDIR_API const char *ocidir_compression_media_type(ocidir_compression_t c)
{
    return compression_media_type(enum_value(c));
}

OCIDIR_API int ocidir_layer_writer_new(ocidir_t *d, ocidir_compression_t compression, int level, int threads,
                                       ocidir_layer_writer_t **out)
{
    if (!d)
        return invalid("ocidir_layer_writer_new", "layout handle is NULL");
    if (!out)
        return invalid("ocidir_layer_writer_new", "out is NULL");
    return guard([&] { *out = layer_writer_new(*d, enum_value(compression), level, threads).release(); });
}

OCIDIR_API int ocidir_layer_writer_options_init(ocidir_layer_writer_options_t *opts, size_t struct_size)
{
    static const ocidir_layer_writer_options_t def = OCIDIR_LAYER_WRITER_OPTIONS_INIT;  // static: its padding bytes are zero
    return init_options(opts, struct_size, def, "ocidir_layer_writer_options_init");
}

OCIDIR_API int ocidir_layer_writer_new_opts(ocidir_t *d, const ocidir_layer_writer_options_t *opts,
                                            ocidir_layer_writer_t **out)
{
    const char *op = "ocidir_layer_writer_new_opts";
    if (!d)
        return invalid(op, "layout handle is NULL");
    if (!out)
        return invalid(op, "out is NULL");
    return guard([&] {
        ocidir_layer_writer_options_t o = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
        load_options(opts, o, op);
        if (o.flags & ~OCIDIR_LAYER_WRITER_CHECK_TAR)
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": unknown flags " +
                                              std::to_string(o.flags & ~OCIDIR_LAYER_WRITER_CHECK_TAR));
        // The field's bytes, not the enum: a C caller may store any int.
        const int alg = enum_value(o.alg);
        if (alg != OCIDIR_SHA256 && alg != OCIDIR_SHA512)
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": unknown digest algorithm " + std::to_string(alg) +
                                              " (0 sha256, 1 sha512)");
        auto w = layer_writer_new(*d, enum_value(o.compression), o.level, o.threads,
                                  alg == OCIDIR_SHA512 ? Alg::sha512 : Alg::sha256, o.zstd_window_log, o.zstd_long != 0);
        if (o.flags & OCIDIR_LAYER_WRITER_CHECK_TAR)
            layer_writer_check_tar(*w);
        *out = w.release();
    });
}

OCIDIR_API int ocidir_layer_writer_write(ocidir_layer_writer_t *w, const void *buf, size_t len)
{
    if (!w)
        return invalid("ocidir_layer_writer_write", "writer is NULL");
    if (!buf && len > 0)
        return invalid("ocidir_layer_writer_write", "buf is NULL");
    return guard([&] { layer_writer_write(*w, buf, len); });
}

OCIDIR_API int ocidir_layer_writer_commit(ocidir_layer_writer_t *w, char digest_out[OCIDIR_DIGEST_MAX],
                                          uint64_t *size_out, char diff_id_out[OCIDIR_DIGEST_MAX])
{
    if (!w)
        return invalid("ocidir_layer_writer_commit", "writer is NULL");
    std::unique_ptr<ocidir_layer_writer> owned(w);  // freed whatever happens
    int rc = guard([&] {
        LayerResult res = layer_writer_commit(*owned);
        copy_digest(res.digest, digest_out);
        if (size_out)
            *size_out = res.size;
        copy_digest(res.diff_id, diff_id_out);
    });
    // Published but not flushed: the layer exists, so the caller gets its
    // digests as on success.
    if (rc == OCIDIR_E_NOT_DURABLE && !owned->published_digest.empty()) {
        copy_digest(owned->published_digest, digest_out);
        if (size_out)
            *size_out = owned->published_size;
        copy_digest(owned->published_diff_id, diff_id_out);
    }
    return rc;
}

OCIDIR_API const char *ocidir_layer_writer_media_type(const ocidir_layer_writer_t *w)
{
    return w ? w->media_type : nullptr;
}

OCIDIR_API void ocidir_layer_writer_abort(ocidir_layer_writer_t *w) { delete w; }

OCIDIR_API int ocidir_layer_reader_options_init(ocidir_layer_reader_options_t *opts, size_t struct_size)
{
    static const ocidir_layer_reader_options_t def = OCIDIR_LAYER_READER_OPTIONS_INIT;  // static: its padding bytes are zero
    return init_options(opts, struct_size, def, "ocidir_layer_reader_options_init");
}

OCIDIR_API int ocidir_layer_open(ocidir_t *d, const char *media_type, const char *digest, int64_t size,
                                 const char *diff_id, ocidir_layer_reader_t **out)
{
    return ocidir_layer_open_opts(d, media_type, digest, size, diff_id, nullptr, out);
}

OCIDIR_API int ocidir_layer_open_opts(ocidir_t *d, const char *media_type, const char *digest, int64_t size,
                                      const char *diff_id, const ocidir_layer_reader_options_t *opts,
                                      ocidir_layer_reader_t **out)
{
    if (!d)
        return invalid("ocidir_layer_open", "layout handle is NULL");
    if (!media_type)
        return invalid("ocidir_layer_open", "media_type is NULL");
    if (!digest)
        return invalid("ocidir_layer_open", "digest is NULL");
    if (!out)
        return invalid("ocidir_layer_open", "out is NULL");
    return guard([&] {
        ocidir_layer_reader_options_t o = OCIDIR_LAYER_READER_OPTIONS_INIT;
        load_options(opts, o, "ocidir_layer_open_opts");
        check_layer_reader_options(o, "ocidir_layer_open_opts");
        std::unique_ptr<ocidir_layer_reader> r = layer_open(*d, media_type, digest, size, diff_id);
        r->max_size = o.max_size;
        *out = r.release();
    });
}

OCIDIR_API ssize_t ocidir_layer_reader_read(ocidir_layer_reader_t *r, void *buf, size_t len)
{
    if (!r)
        return invalid("ocidir_layer_reader_read", "reader is NULL");
    if (!buf || len == 0)
        return invalid("ocidir_layer_reader_read", "buf is NULL or len is 0");
    if (r->max_size == 0 || r->error != 0)
        return layer_read(*r, buf, len);  // noexcept; sets the last error itself
    // The caller's bound: never hand out a byte past it.  At the bound, one
    // more byte tells a stream that ends there (a verified 0) from a longer one.
    uint64_t left = r->max_size - r->returned;
    unsigned char probe;
    ssize_t n = left > 0 ? layer_read(*r, buf, static_cast<size_t>(std::min<uint64_t>(len, left)))
                         : layer_read(*r, &probe, 1);
    if (n > 0 && left == 0) {
        r->error = OCIDIR_E_TOO_LARGE;
        try {
            r->error_msg = r->what + " decompresses to more than the reader's bound of " +
                           std::to_string(r->max_size) + " bytes (max_size)";
        } catch (...) {
        }
        return fail(r->error, r->error_msg);
    }
    if (n > 0)
        r->returned += static_cast<uint64_t>(n);
    return n;
}

OCIDIR_API void ocidir_layer_reader_close(ocidir_layer_reader_t *r) { delete r; }

}  // extern "C"
