// OCI documents read from the blob store: a JSON blob read whole, bounded
// by the handle's JSON limit, verified against its digest, then parsed with
// format/oci.hh's rules.  The names stay in namespace oci, next to the
// types they return; the file is in the store tier because it reads blobs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "format/json.hh"
#include "format/oci.hh"

struct ocidir;

namespace ocd::oci {

// A JSON blob read whole, verified against its digest (and size when >= 0),
// bounded by the handle's JSON limit (OCIDIR_E_TOO_LARGE), and parsed.
struct JsonBlob {
    std::string bytes;
    json::Doc doc;
};
JsonBlob read_json_blob(const ocidir &d, std::string_view digest, int64_t size, const std::string &what);
// The same read without parsing (for configs of other media types).
std::string read_bounded_blob(const ocidir &d, std::string_view digest, int64_t size, const std::string &what);

// Descriptor of a manifest or index blob, read from the blob itself
// (verified): media type from its mediaType field, else from its shape.
// Throws FORMAT when it is neither.
Descriptor describe_blob(const ocidir &d, std::string_view digest);

}  // namespace ocd::oci
