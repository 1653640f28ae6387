#include "store/json_blob.hh"

#include "base/error.hh"
#include "store/blob_store.hh"
#include "store/layout.hh"

namespace ocd::oci {

std::string read_bounded_blob(const ocidir &d, std::string_view digest, int64_t size, const std::string &what)
{
    std::string dg(digest);
    size_t limit = d.json_limit.load(std::memory_order_relaxed);
    if (size >= 0 && static_cast<uint64_t>(size) > limit)
        throw Error(OCIDIR_E_TOO_LARGE, what + " (" + dg + ") is " + std::to_string(size) +
                                            " bytes, more than the JSON limit of " + std::to_string(limit));
    auto r = reader_open(d, dg.c_str(), size);
    if (r->size > limit)
        throw Error(OCIDIR_E_TOO_LARGE, what + " (" + dg + ") is " + std::to_string(r->size) +
                                            " bytes, more than the JSON limit of " + std::to_string(limit));
    std::string bytes(r->size, '\0');
    size_t got = 0;
    for (;;) {
        char *p = bytes.data() + got;
        size_t room = bytes.size() - got;
        char probe;
        ssize_t n = room ? reader_read(*r, p, room) : reader_read(*r, &probe, 1);
        if (n == 0)
            break;
        got += static_cast<size_t>(n);
    }
    return bytes;
}

JsonBlob read_json_blob(const ocidir &d, std::string_view digest, int64_t size, const std::string &what)
{
    std::string bytes = read_bounded_blob(d, digest, size, what);
    json::Doc doc = json::Doc::parse(bytes, what + " " + std::string(digest));
    return JsonBlob{std::move(bytes), std::move(doc)};
}

Descriptor describe_blob(const ocidir &d, std::string_view digest)
{
    JsonBlob b = read_json_blob(d, digest, -1, "blob");
    Kind k = sniff(b.doc);
    Descriptor desc;
    desc.digest = std::string(digest);
    desc.size = static_cast<int64_t>(b.bytes.size());
    if (k == Kind::Manifest) {
        Manifest m = parse_manifest(b.doc);
        desc.media_type = m.media_type.empty() ? std::string(kMediaManifest) : m.media_type;
        if (m.artifact_type)
            desc.artifact_type = m.artifact_type;
    } else if (k == Kind::Index) {
        Index x = parse_index(b.doc);
        desc.media_type = x.media_type.empty() ? std::string(kMediaIndex) : x.media_type;
    } else {
        throw Error(OCIDIR_E_FORMAT, "blob " + std::string(digest) + " is neither an image manifest nor an image index");
    }
    return desc;
}

}  // namespace ocd::oci
