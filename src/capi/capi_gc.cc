// The C ABI of gc, cache gc, clone and image removal (section 10 of
// ocidir.h).  Every entry point checks its arguments and catches everything.
#include <memory>
#include <utility>

#include "capi/capi_util.hh"
#include "housekeeping/clone.hh"
#include "base/error.hh"
#include "housekeeping/gc.hh"
#include "store/layout.hh"
#include "housekeeping/report.hh"

using namespace ocd;
using namespace ocd::capi;

extern "C" {

OCIDIR_API int ocidir_set_gc_grace(ocidir_t *d, int64_t seconds)
{
    if (!d)
        return invalid("ocidir_set_gc_grace", "layout handle is NULL");
    return guard([&] { gc::set_grace(*d, seconds); });
}

OCIDIR_API int ocidir_gc(ocidir_t *d, unsigned flags, ocidir_progress_fn progress, void *user, ocidir_report_t **out)
{
    if (!d)
        return invalid("ocidir_gc", "layout handle is NULL");
    return guard([&] { hand_out(gc::collect(*d, flags, progress, user), out); });
}

OCIDIR_API int ocidir_cache_gc(int cache_fd, ocidir_t *const *layouts, size_t n, unsigned flags,
                               ocidir_progress_fn progress, void *user, ocidir_report_t **out)
{
    if (!layouts || n == 0)
        return invalid("ocidir_cache_gc", "no layouts given (layouts NULL or n 0): every layout that uses the "
                                          "cache must be listed");
    for (size_t i = 0; i < n; i++)
        if (!layouts[i])
            return invalid("ocidir_cache_gc", "a layout handle in layouts is NULL");
    if (cache_fd < 0)
        return invalid("ocidir_cache_gc", "cache_fd is not an open fd");
    return guard([&] { hand_out(gc::collect_cache(cache_fd, layouts, n, flags, progress, user), out); });
}

OCIDIR_API int ocidir_clone(ocidir_t *src, int dirfd, const char *path, unsigned flags,
                            ocidir_progress_fn progress, void *user, ocidir_t **out, ocidir_report_t **report_out)
{
    if (!src)
        return invalid("ocidir_clone", "source layout handle is NULL");
    if (!path || !*path)
        return invalid("ocidir_clone", "destination path is NULL or empty");
    return guard([&] {
        clone::Result r = clone::clone(*src, dirfd, path, flags, progress, user, out != nullptr);
        hand_out(std::move(r.layout), out);
        hand_out(std::move(r.report), report_out);
    });
}

OCIDIR_API int ocidir_image_remove(ocidir_t *d, const char *tag, unsigned flags, ocidir_report_t **report_out)
{
    if (!d)
        return invalid("ocidir_image_remove", "layout handle is NULL");
    if (!tag)
        return invalid("ocidir_image_remove", "tag is NULL");
    return guard([&] { hand_out(gc::remove_image(*d, tag, flags), report_out); });
}

}  // extern "C"
