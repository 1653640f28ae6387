// Fuzz target: image manifests (parse_manifest), and that no document is
// accepted both as a manifest and as an index (media-type confusion).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string_view bytes(reinterpret_cast<const char *>(data), size);
    ocd::json::Doc doc;
    if (!fuzz::parse_both(bytes, "manifest", &doc))
        return 0;
    fuzz::check_canonical_roundtrip(doc);
    bool is_manifest = false, is_index = false;
    try {
        ocd::oci::Manifest m = ocd::oci::parse_manifest(doc);
        is_manifest = true;
        FUZZ_CHECK(m.media_type.empty() || ocd::oci::kind_of_media_type(m.media_type) == ocd::oci::Kind::Manifest);
        fuzz::check_descriptor(m.config);
        for (const auto &l : m.layers)
            fuzz::check_descriptor(l);
        if (m.subject)
            fuzz::check_descriptor(*m.subject);
        FUZZ_CHECK(ocd::oci::sniff(doc) == ocd::oci::Kind::Manifest);
    } catch (const ocd::Error &e) {
        fuzz::check_error(e, {OCIDIR_E_FORMAT, OCIDIR_E_DIGEST, OCIDIR_E_SIZE});
    }
    try {
        ocd::oci::Index idx = ocd::oci::parse_index(doc);
        is_index = true;
    } catch (const ocd::Error &e) {
        fuzz::check_error(e, {OCIDIR_E_FORMAT, OCIDIR_E_DIGEST, OCIDIR_E_SIZE});
    }
    FUZZ_CHECK(!(is_manifest && is_index));
    return 0;
}
