// The C ABI of gc, cache gc, clone and image removal (section 10 of
// ocidir.h).  Every entry point checks its arguments and catches everything.
#include <memory>
#include <utility>

#include "capi/capi_util.hh"
#include "capi/options.hh"
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

OCIDIR_API int ocidir_gc_options_init(ocidir_gc_options_t *opts, size_t struct_size)
{
    static const ocidir_gc_options_t def = OCIDIR_GC_OPTIONS_INIT;  // static: its padding bytes are zero
    return init_options(opts, struct_size, def, "ocidir_gc_options_init");
}

OCIDIR_API int ocidir_clone_options_init(ocidir_clone_options_t *opts, size_t struct_size)
{
    static const ocidir_clone_options_t def = OCIDIR_CLONE_OPTIONS_INIT;  // static: its padding bytes are zero
    return init_options(opts, struct_size, def, "ocidir_clone_options_init");
}

OCIDIR_API int ocidir_gc(ocidir_t *d, const ocidir_gc_options_t *opts, ocidir_report_t **out)
{
    if (!d)
        return invalid("ocidir_gc", "layout handle is NULL");
    return guard([&] {
        ocidir_gc_options_t o = OCIDIR_GC_OPTIONS_INIT;
        load_options(opts, o, "ocidir_gc");
        hand_out(gc::collect(*d, o), out);
    });
}

OCIDIR_API int ocidir_cache_gc(int cache_fd, ocidir_t *const *layouts, size_t n, const ocidir_gc_options_t *opts,
                               ocidir_report_t **out)
{
    if (!layouts || n == 0)
        return invalid("ocidir_cache_gc", "no layouts given (layouts NULL or n 0): every layout that uses the "
                                          "cache must be listed");
    for (size_t i = 0; i < n; i++)
        if (!layouts[i])
            return invalid("ocidir_cache_gc", "a layout handle in layouts is NULL");
    if (cache_fd < 0)
        return invalid("ocidir_cache_gc", "cache_fd is not an open fd");
    return guard([&] {
        ocidir_gc_options_t o = OCIDIR_GC_OPTIONS_INIT;
        load_options(opts, o, "ocidir_cache_gc");
        hand_out(gc::collect_cache(cache_fd, layouts, n, o), out);
    });
}

OCIDIR_API int ocidir_clone(ocidir_t *src, int dirfd, const char *path, const ocidir_clone_options_t *opts,
                            ocidir_t **out, ocidir_report_t **report_out)
{
    if (!src)
        return invalid("ocidir_clone", "source layout handle is NULL");
    if (!path || !*path)
        return invalid("ocidir_clone", "destination path is NULL or empty");
    return guard([&] {
        ocidir_clone_options_t o = OCIDIR_CLONE_OPTIONS_INIT;
        load_options(opts, o, "ocidir_clone");
        clone::Result r = clone::clone(*src, dirfd, path, o, out != nullptr);
        hand_out(std::move(r.layout), out);
        hand_out(std::move(r.report), report_out);
        if (r.not_durable)
            throw *r.not_durable;  // the clone is in place: handed out as on success
    });
}

OCIDIR_API int ocidir_tag_remove_gc(ocidir_t *d, const char *tag, const ocidir_gc_options_t *opts,
                                    ocidir_report_t **report_out)
{
    if (!d)
        return invalid("ocidir_tag_remove_gc", "layout handle is NULL");
    if (!tag)
        return invalid("ocidir_tag_remove_gc", "tag is NULL");
    return guard([&] {
        ocidir_gc_options_t o = OCIDIR_GC_OPTIONS_INIT;
        load_options(opts, o, "ocidir_tag_remove_gc");
        hand_out(gc::remove_tag_and_collect(*d, tag, o), report_out);
    });
}

}  // extern "C"
