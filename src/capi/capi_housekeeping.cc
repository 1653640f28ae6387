// The C ABI of reports and fsck (section 10 of ocidir.h; gc, clone and image
// removal are in capi_gc.cc).  Every entry point checks its arguments and
// catches everything.
#include <string>

#include "capi/capi_util.hh"
#include "capi/options.hh"
#include "base/error.hh"
#include "housekeeping/fsck.hh"
#include "store/layout.hh"
#include "housekeeping/report.hh"

using namespace ocd;
using namespace ocd::capi;

extern "C" {

OCIDIR_API const char *ocidir_find_kind_name(int kind)
{
    switch (kind) {
    case OCIDIR_FIND_LAYOUT: return "layout";
    case OCIDIR_FIND_MISSING: return "missing";
    case OCIDIR_FIND_DIGEST: return "digest";
    case OCIDIR_FIND_SIZE: return "size";
    case OCIDIR_FIND_FORMAT: return "format";
    case OCIDIR_FIND_MEDIA_TYPE: return "media-type";
    case OCIDIR_FIND_IO: return "io";
    case OCIDIR_FIND_UNSUPPORTED: return "unsupported";
    case OCIDIR_FIND_UNREFERENCED: return "unreferenced";
    case OCIDIR_FIND_TEMP: return "temp";
    case OCIDIR_FIND_REMOVED: return "removed";
    case OCIDIR_FIND_KEPT_RECENT: return "kept-recent";
    case OCIDIR_FIND_COPIED: return "copied";
    case OCIDIR_FIND_LINKED: return "linked";
    case OCIDIR_FIND_REFLINKED: return "reflinked";
    case OCIDIR_FIND_ABSENT_CHILD: return "absent-child";
    case OCIDIR_FIND_SKIPPED: return "skipped";
    case OCIDIR_FIND_XATTR_SKIPPED: return "xattr-skipped";
    case OCIDIR_FIND_XATTR_UNSUPPORTED: return "xattr-unsupported";
    case OCIDIR_FIND_DEVICE_SKIPPED: return "device-skipped";
    case OCIDIR_FIND_INCOMPLETE_CLEARED: return "incomplete-cleared";
    default: return "unknown";
    }
}

OCIDIR_API int ocidir_find_kind_is_damage(int kind) { return ocidir_report::is_damage(kind) ? 1 : 0; }

OCIDIR_API size_t ocidir_report_count(const ocidir_report_t *r) { return r ? r->findings.size() : 0; }

OCIDIR_API size_t ocidir_report_damage(const ocidir_report_t *r)
{
    size_t n = 0;
    if (r)
        for (const auto &f : r->findings)
            n += ocidir_find_kind_is_damage(f.kind) ? 1 : 0;
    return n;
}

OCIDIR_API int ocidir_report_get(const ocidir_report_t *r, size_t i, ocidir_find_kind_t *kind_out,
                                 const char **subject_out, uint64_t *size_out, const char **message_out)
{
    if (!r)
        return invalid("ocidir_report_get", "report is NULL");
    if (i >= r->findings.size()) {
        std::string m;
        try {
            m = "ocidir_report_get: finding " + std::to_string(i) + " does not exist (the report has " +
                std::to_string(r->findings.size()) + ")";
        } catch (...) {
        }
        return fail(OCIDIR_E_INVALID, m);
    }
    const ocidir_report::Finding &f = r->findings[i];
    if (kind_out)
        *kind_out = static_cast<ocidir_find_kind_t>(f.kind);
    if (subject_out)
        *subject_out = f.subject.c_str();
    if (size_out)
        *size_out = f.size;
    if (message_out)
        *message_out = f.message.c_str();
    return 0;
}

OCIDIR_API void ocidir_report_totals(const ocidir_report_t *r, uint64_t *blobs_out, uint64_t *bytes_out)
{
    if (blobs_out)
        *blobs_out = r ? r->blobs : 0;
    if (bytes_out)
        *bytes_out = r ? r->bytes : 0;
}

OCIDIR_API void ocidir_report_free(ocidir_report_t *r) { delete r; }

OCIDIR_API int ocidir_fsck_options_init(ocidir_fsck_options_t *opts, size_t struct_size)
{
    static const ocidir_fsck_options_t def = OCIDIR_FSCK_OPTIONS_INIT;  // static: its padding bytes are zero
    return init_options(opts, struct_size, def, "ocidir_fsck_options_init");
}

OCIDIR_API int ocidir_fsck(ocidir_t *d, const ocidir_fsck_options_t *opts, ocidir_report_t **out)
{
    if (!d)
        return invalid("ocidir_fsck", "layout handle is NULL");
    if (!out)
        return invalid("ocidir_fsck", "out is NULL");
    return guard([&] {
        ocidir_fsck_options_t o = OCIDIR_FSCK_OPTIONS_INIT;
        load_options(opts, o, "ocidir_fsck");
        if (o.flags != 0)
            throw Error(OCIDIR_E_INVALID, "ocidir_fsck: unknown flag bits " + std::to_string(o.flags) +
                                              " (fsck takes none yet)");
        *out = fsck::run(*d, o.threads, o.progress, o.user).release();
    });
}

}  // extern "C"
