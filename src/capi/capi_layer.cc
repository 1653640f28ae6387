// The C ABI of section 8 (layers): argument checks, then the core in
// layer.cc behind guard(), so no exception crosses this file.
// ocidir_image_layer_open lives with the image functions (capi_image.cc).
#include <cstring>
#include <memory>
#include <type_traits>

#include "capi/capi_util.hh"
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
    return guard([&] {
        LayerResult res = layer_writer_commit(*owned);
        copy_digest(res.digest, digest_out);
        if (size_out)
            *size_out = res.size;
        copy_digest(res.diff_id, diff_id_out);
    });
}

OCIDIR_API const char *ocidir_layer_writer_media_type(const ocidir_layer_writer_t *w)
{
    return w ? w->media_type : nullptr;
}

OCIDIR_API void ocidir_layer_writer_abort(ocidir_layer_writer_t *w) { delete w; }

OCIDIR_API int ocidir_layer_open(ocidir_t *d, const char *media_type, const char *digest, int64_t size,
                                 const char *diff_id, ocidir_layer_reader_t **out)
{
    if (!d)
        return invalid("ocidir_layer_open", "layout handle is NULL");
    if (!media_type)
        return invalid("ocidir_layer_open", "media_type is NULL");
    if (!digest)
        return invalid("ocidir_layer_open", "digest is NULL");
    if (!out)
        return invalid("ocidir_layer_open", "out is NULL");
    return guard([&] { *out = layer_open(*d, media_type, digest, size, diff_id).release(); });
}

OCIDIR_API ssize_t ocidir_layer_reader_read(ocidir_layer_reader_t *r, void *buf, size_t len)
{
    if (!r)
        return invalid("ocidir_layer_reader_read", "reader is NULL");
    if (!buf || len == 0)
        return invalid("ocidir_layer_reader_read", "buf is NULL or len is 0");
    return layer_read(*r, buf, len);  // noexcept; sets the last error itself
}

OCIDIR_API void ocidir_layer_reader_close(ocidir_layer_reader_t *r) { delete r; }

}  // extern "C"
