// The C ABI of the index and tags tier.
#include <functional>

#include "blob_store.hh"
#include "capi_util.hh"
#include "digest.hh"
#include "index.hh"
#include "layout.hh"
#include "oci.hh"

using namespace ocd;
using namespace ocd::capi;

namespace {

// Run under the index lock: the blob read before the lock was taken must
// still be there.
std::function<void()> still_present(const ocidir &d, const char *digest)
{
    return [&d, digest] { require_still_present(d, digest, "", "index.json was not changed"); };
}

}  // namespace

extern "C" {

OCIDIR_API int ocidir_tag_validate(const char *tag)
{
    if (!tag)
        return invalid("ocidir_tag_validate", "tag is NULL");
    return guard([&] { index::check_tag(tag); });
}

OCIDIR_API int ocidir_set_json_limit(ocidir_t *d, size_t max_bytes)
{
    if (!d)
        return invalid("ocidir_set_json_limit", "d is NULL");
    if (max_bytes == 1)
        return invalid("ocidir_set_json_limit", "a JSON limit must be at least 2 bytes");
    d->json_limit.store(max_bytes ? max_bytes : ocidir::kDefaultJsonLimit, std::memory_order_relaxed);
    return 0;
}

OCIDIR_API int ocidir_tag_list(ocidir_t *d, char ***tags_out)
{
    if (!d)
        return invalid("ocidir_tag_list", "d is NULL");
    if (!tags_out)
        return invalid("ocidir_tag_list", "tags_out is NULL");
    return guard([&] { *tags_out = dup_strv(index::list_tags(*d)); });
}

OCIDIR_API int ocidir_resolve(ocidir_t *d, const char *ref, char digest_out[OCIDIR_DIGEST_MAX],
                              char **media_type_out, uint64_t *size_out)
{
    if (!d)
        return invalid("ocidir_resolve", "d is NULL");
    if (!ref)
        return invalid("ocidir_resolve", "ref is NULL");
    return guard([&] {
        oci::Descriptor desc = index::resolve(*d, ref);
        if (classify_digest(desc.digest) != 0)
            parse_digest(desc.digest.c_str());  // an unregistered algorithm: UNSUPPORTED, naming it
        char *mt = media_type_out ? dup_cstr(desc.media_type) : nullptr;
        copy_digest(desc.digest, digest_out);
        if (media_type_out)
            *media_type_out = mt;
        if (size_out)
            *size_out = static_cast<uint64_t>(desc.size);
    });
}

OCIDIR_API int ocidir_tag_set(ocidir_t *d, const char *tag, const char *digest, unsigned flags)
{
    if (!d)
        return invalid("ocidir_tag_set", "d is NULL");
    if (!tag)
        return invalid("ocidir_tag_set", "tag is NULL");
    if (!digest)
        return invalid("ocidir_tag_set", "digest is NULL");
    if (flags & ~OCIDIR_TAG_NOREPLACE)
        return invalid("ocidir_tag_set", "unknown flag");
    return guard([&] {
        index::check_tag(tag);
        parse_digest(digest);
        if (d->readonly)
            throw Error(OCIDIR_E_READONLY, d->label + " is open read-only: index.json cannot change");
        index::set_tag(*d, tag, oci::describe_blob(*d, digest), flags, still_present(*d, digest));
    });
}

OCIDIR_API int ocidir_tag_remove(ocidir_t *d, const char *tag)
{
    if (!d)
        return invalid("ocidir_tag_remove", "d is NULL");
    if (!tag)
        return invalid("ocidir_tag_remove", "tag is NULL");
    return guard([&] { index::remove_tag(*d, tag); });
}

OCIDIR_API int ocidir_index_add(ocidir_t *d, const char *digest)
{
    if (!d)
        return invalid("ocidir_index_add", "d is NULL");
    if (!digest)
        return invalid("ocidir_index_add", "digest is NULL");
    return guard([&] {
        parse_digest(digest);
        if (d->readonly)
            throw Error(OCIDIR_E_READONLY, d->label + " is open read-only: index.json cannot change");
        index::add_untagged(*d, oci::describe_blob(*d, digest), still_present(*d, digest));
    });
}

}  // extern "C"
