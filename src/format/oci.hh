// The OCI image-spec types the library reads and writes: descriptors,
// platforms, image manifests, image indexes, and the validation rules that
// protect a reader from hostile documents (negative sizes, malformed digests,
// media-type confusion as in CVE-2021-41190, inline data that does not match).
// Documents from elsewhere are never re-serialized: the parsed forms here
// only describe them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/json.hh"

namespace ocd::oci {

inline constexpr std::string_view kMediaIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kMediaManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kMediaEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kEmptyDigest =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
inline constexpr std::string_view kEmptyContent = "{}";
inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

using Annotations = std::map<std::string, std::string, std::less<>>;

struct Platform {
    std::string os, architecture, variant;
    std::string str() const;  // "os/arch[/variant]"
    // This (wanted) platform accepts `have`: os and arch equal, and the
    // variant equal when this one names a variant.
    bool accepts(const Platform &have) const;
};

// "os/arch[/variant]"; throws Error(OCIDIR_E_INVALID) naming the string.
Platform parse_platform(std::string_view s);
// The running machine in Go's names.
const Platform &host_platform();

struct Descriptor {
    std::string media_type;
    std::string digest;  // grammatical; possibly of an unregistered algorithm
    int64_t size = 0;
    Annotations annotations;
    std::optional<Platform> platform;
    std::optional<std::string> artifact_type;
    std::optional<std::string> data;  // decoded inline data, verified
    std::vector<std::string> urls;    // where a nondistributable layer may be fetched

    bool is_empty_config() const { return media_type == kMediaEmpty; }
    // The canonical JSON form (only the fields above).
    json::Value to_value() const;
};

// RFC 6838 shape: type "/" subtype, restricted-name characters.
bool valid_media_type(std::string_view s) noexcept;

// Validate one descriptor object.  `where` names it in messages
// ("index.json: manifests[3]").  Throws Error(OCIDIR_E_FORMAT) for: not an
// object, missing or mistyped mediaType/digest/size, a media type of the
// wrong shape, a digest outside the grammar, a negative or non-integer size,
// annotations that are not string->string, a platform without string
// os/architecture, `data` that is not base64 of exactly `size` bytes hashing
// to `digest` (OCIDIR_E_DIGEST / OCIDIR_E_SIZE for those two).
Descriptor parse_descriptor(json::Element e, const std::string &where);

enum class Kind { Manifest, Index, Unknown };
Kind kind_of_media_type(std::string_view mt) noexcept;

struct Manifest {
    std::string media_type;  // as written; may be empty
    std::optional<std::string> artifact_type;
    Descriptor config;
    std::vector<Descriptor> layers;
    std::optional<Descriptor> subject;
    Annotations annotations;
};

struct Index {
    std::string media_type;  // as written; may be empty
    std::optional<std::string> artifact_type;
    std::vector<Descriptor> manifests;
    std::optional<Descriptor> subject;
    Annotations annotations;
};

// Parse an image manifest (OCI or Docker schema 2).  Throws FORMAT for a
// schemaVersion other than 2, a mediaType that is not a manifest type, a
// `manifests` member (media-type confusion), a missing config, layers that
// are not an array of descriptors.
Manifest parse_manifest(const json::Doc &doc);
// Parse an image index (OCI or Docker manifest list).  Throws FORMAT for a
// schemaVersion other than 2, a mediaType that is not an index type, a
// `config` or `layers` member (media-type confusion), manifests that are not
// an array of descriptors.
Index parse_index(const json::Doc &doc);
// The checks of parse_index() on everything but the entries; returns the
// `manifests` array unparsed (index.json lookups validate only the entries
// they use).
simdjson::dom::array index_manifests(const json::Doc &doc);
// index.json read in one pass without a DOM, for tag lookups in a large
// index: every check Doc::parse and index_manifests() make on the document,
// and for each entry the checks a lookup makes (an object; annotations, when
// present, an object; the ref name, when present, a string).
struct IndexEntry {
    size_t i = 0;                         // its place in manifests
    std::optional<std::string_view> tag;  // the ref name
    const char *start = nullptr;          // its first byte in the document
    // Its JSON text (parse it for the descriptor), once the run accepted
    // `bytes`, the document.
    std::string_view json(std::string_view bytes) const;
};
class IndexScanner {
public:
    // Walk `bytes`, which kPadding readable bytes follow in memory, calling
    // `on_entry` for every entry in order.  True when the document passed
    // every check.  False when it did not, or when the walk refused it only
    // to be safe: the caller then reads the same bytes with Doc::parse and
    // index_manifests(), which report the error (and accept what is fine).
    // What `on_entry` saw counts only when the result is true; the views in
    // it stay valid while the bytes and this scanner do, until the next run.
    // Throws only std::bad_alloc.
    bool run(std::string_view bytes, const std::string &what,
             const std::function<void(const IndexEntry &)> &on_entry);

private:
    simdjson::ondemand::parser parser_;
    std::vector<const char *> member_starts_;  // the top-level members but manifests
    std::string top_;                          // them as an object, for index_manifests()
};

// What a document is by its mediaType, else by its shape (`manifests` →
// index, `config` → manifest).
Kind sniff(const json::Doc &doc);

}  // namespace ocd::oci
