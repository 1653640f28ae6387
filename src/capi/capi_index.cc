// The C ABI of the index and tags tier.
#include <functional>
#include <memory>
#include <unordered_set>
#include <vector>

#include "store/blob_store.hh"
#include "capi/capi_util.hh"
#include "format/digest.hh"
#include "base/error.hh"
#include "image/image.hh"
#include "store/index.hh"
#include "store/json_blob.hh"
#include "store/layout.hh"
#include "format/oci.hh"
#include "store/walk.hh"

using namespace ocd;
using namespace ocd::capi;

namespace {

// The blobs, present now, that the graph under a manifest or index
// references: configs, layers, subjects, and nested manifests and indexes,
// as deep as the walk goes (store/walk: OCIDIR_MAX_INDEX_DEPTH, the limit of
// every other reader).  Collected before the lock (blobs never change).  A
// blob absent now is not listed: a tag may name an image stored in part (an
// index copied without all its platforms); what the check under the lock
// refuses is a blob removed while the tag was being written.  A document
// that cannot be read or parsed is not followed (the caller checks the top
// one itself, and a damaged nested one is fsck's business), but an index
// nested too deep is refused, as ocidir_image_open() and fsck refuse it.
struct Refs : walk::Visitor {
    explicit Refs(const ocidir &layout) : d(layout) {}

    const ocidir &d;
    std::vector<std::string> out;
    std::unordered_set<std::string> listed;

    walk::Step met(const walk::Met &m) override
    {
        if (m.edge == walk::Edge::Root)
            return walk::Step::Follow;
        const oci::Descriptor &x = m.desc;
        // Entries of other media types are skipped, as ocidir_image_open()
        // skips them: they need not be stored here.
        if (m.edge == walk::Edge::Manifests && oci::kind_of_media_type(x.media_type) == oci::Kind::Unknown)
            return walk::Step::Skip;
        if (classify_digest(x.digest) != 0 || !x.urls.empty())
            return walk::Step::Skip;  // not stored here (unregistered algorithm, fetched from urls)
        if (listed.count(x.digest))
            return m.edge == walk::Edge::Manifests ? walk::Step::Follow : walk::Step::Skip;
        try {
            find_blob(d, parse_digest(x.digest.c_str()));
        } catch (const Error &e) {
            if (e.code() == OCIDIR_E_NOMEM)
                throw;
            return walk::Step::Skip;  // absent or unusable now: not this check's business
        }
        listed.insert(x.digest);
        out.push_back(x.digest);
        // Nested manifests and indexes are followed; subjects, configs and
        // layers are only listed.
        return m.edge == walk::Edge::Manifests ? walk::Step::Follow : walk::Step::Skip;
    }

    void failed(const walk::Met &m, const Error &e, bool too_deep) override
    {
        (void)m;
        if (too_deep || e.code() == OCIDIR_E_NOMEM)
            throw e;
    }
};

// Run under the index lock: the blob read before the lock was taken must
// still be there, and so must every blob it references: gc, which holds the
// same lock while it sweeps, may have collected one that nothing referenced
// yet (a layer an importer copied before the manifest).
std::function<void()> still_present(const ocidir &d, const char *digest, const oci::Descriptor &top)
{
    Refs walker(d);
    walker.listed.insert(digest);
    walk::run(d, {{top, std::string(digest)}}, walker, walk::Order::Depth);
    auto refs = std::make_shared<std::vector<std::string>>(std::move(walker.out));
    return [&d, digest, refs] {
        require_still_present(d, digest, "", "index.json was not changed");
        for (const std::string &r : *refs)
            require_still_present(d, r, "blob", std::string("referenced from ") + digest + "; index.json was not changed");
    };
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
        index::check_new_tag(tag);
        parse_digest(digest);
        if (d->readonly)
            throw Error(OCIDIR_E_READONLY, d->label + " is open read-only: index.json cannot change");
        oci::Descriptor desc = oci::describe_blob(*d, digest);
        index::set_tag(*d, tag, desc, flags, still_present(*d, digest, desc));
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
        oci::Descriptor desc = oci::describe_blob(*d, digest);
        index::add_untagged(*d, desc, still_present(*d, digest, desc));
    });
}

}  // extern "C"
