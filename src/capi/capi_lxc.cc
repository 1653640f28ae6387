// The C ABI of section 12 (container runtime support): argument checks, then
// the core behind guard(), so no exception crosses this file.
#include "capi/capi_util.hh"
#include "capi/options.hh"
#include "housekeeping/copy.hh"
#include "image/userdb.hh"

using namespace ocd;
using namespace ocd::capi;

static_assert(OCIDIR_USERDB_MAX_FILE == userdb::kMaxFileBytes);
static_assert(OCIDIR_USERDB_MAX_LINE == userdb::kMaxLineBytes);

namespace {
const ocidir_copy_options_t kCopyDefaults = OCIDIR_COPY_OPTIONS_INIT;
}

extern "C" {

OCIDIR_API int ocidir_copy_options_init(ocidir_copy_options_t *opts, size_t struct_size)
{
    return init_options(opts, struct_size, kCopyDefaults, "ocidir_copy_options_init");
}

OCIDIR_API int ocidir_copy(ocidir_t *src, const char *ref, const char *platform, ocidir_t *dst, const char *tag,
                           const ocidir_copy_options_t *opts, ocidir_report_t **report_out)
{
    if (!src || !dst)
        return invalid("ocidir_copy", "source or destination layout handle is NULL");
    if (!ref)
        return invalid("ocidir_copy", "ref is NULL");
    if (!tag)
        return invalid("ocidir_copy", "tag is NULL");
    return guard([&] {
        ocidir_copy_options_t o = kCopyDefaults;
        load_options(opts, o, "ocidir_copy");
        auto report = copy::copy(*src, ref, platform, *dst, tag, o);
        hand_out(std::move(report), report_out);
    });
}

OCIDIR_API int ocidir_user_lookup(int rootfs_dirfd, const char *userspec, uint32_t *uid_out, uint32_t *gid_out)
{
    if (rootfs_dirfd < 0)
        return invalid("ocidir_user_lookup", "rootfs_dirfd is not a directory fd");
    if (!userspec)
        return invalid("ocidir_user_lookup", "userspec is NULL");
    if (!uid_out || !gid_out)
        return invalid("ocidir_user_lookup", "uid_out or gid_out is NULL");
    return guard([&] {
        userdb::Ids ids = userdb::lookup(rootfs_dirfd, userspec);
        *uid_out = ids.uid;
        *gid_out = ids.gid;
    });
}

}  // extern "C"
