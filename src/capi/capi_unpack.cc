// The C ABI of section 11 (unpacking): argument checks, then the core in
// src/unpack behind guard(), so no exception crosses this file.
#include "capi/capi_util.hh"
#include "capi/options.hh"
#include "housekeeping/report.hh"
#include "image/image.hh"
#include "unpack/unpack.hh"

using namespace ocd;
using namespace ocd::capi;

namespace {
const ocidir_unpack_options_t kDefaults = OCIDIR_UNPACK_OPTIONS_INIT;
}

extern "C" {

OCIDIR_API int ocidir_unpack_options_init(ocidir_unpack_options_t *opts, size_t struct_size)
{
    return init_options(opts, struct_size, kDefaults, "ocidir_unpack_options_init");
}

OCIDIR_API int ocidir_unpack(const ocidir_image_t *img, int dirfd, const char *path,
                             const ocidir_unpack_options_t *opts, ocidir_report_t **report_out)
{
    if (!img)
        return invalid("ocidir_unpack", "image is NULL");
    if (!path || !*path)
        return invalid("ocidir_unpack", "path is NULL or empty");
    return guard([&] {
        ocidir_unpack_options_t o = kDefaults;
        load_options(opts, o, "ocidir_unpack");
        auto report = unpack::unpack(*img, dirfd, path, o);
        hand_out(std::move(report), report_out);
    });
}

}  // extern "C"
