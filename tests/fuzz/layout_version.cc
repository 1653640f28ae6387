// Fuzz target: the oci-layout file (check_layout_version).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hh"
#include "store/layout.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string text(reinterpret_cast<const char *>(data), size);
    bool accepted = false;
    try {
        ocd::check_layout_version(text, "oci-layout");
        accepted = true;
    } catch (const ocd::Error &e) {
        fuzz::check_error(e, {OCIDIR_E_FORMAT, OCIDIR_E_UNSUPPORTED});
    }
    ocd::json::Doc doc;
    bool json_ok = fuzz::parse_both(text, "oci-layout", &doc);
    // Acceptance needs a valid document with a string imageLayoutVersion "1.x".
    if (accepted) {
        FUZZ_CHECK(json_ok);
        FUZZ_CHECK(ocd::json::is_object(doc.root()));
        auto v = ocd::json::member(doc.root().get_object().value_unsafe(), "imageLayoutVersion");
        FUZZ_CHECK(v && v->is_string());
        std::string_view ver = v->get_string().value_unsafe();
        FUZZ_CHECK(ver.size() >= 3 && ver.substr(0, 2) == "1.");
    }
    if (json_ok)
        fuzz::check_canonical_roundtrip(doc);
    return 0;
}
