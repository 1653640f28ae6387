// Fuzz target: image configs (image::parse_config), the document behind
// every config accessor of an open image.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hh"
#include "image/image.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string_view bytes(reinterpret_cast<const char *>(data), size);
    ocd::json::Doc doc;
    if (!fuzz::parse_both(bytes, "config", &doc))
        return 0;
    fuzz::check_canonical_roundtrip(doc);
    ocidir_image img;
    try {
        ocd::image::parse_config(img, doc);
        // What the accessors hand out: diff_ids are digests (possibly of an
        // unregistered algorithm), every string is valid UTF-8.
        if (img.diff_ids)
            for (const auto &id : *img.diff_ids)
                FUZZ_CHECK(ocd::classify_digest(id) != OCIDIR_E_BAD_DIGEST);
        for (const auto *v : {&img.entrypoint, &img.cmd, &img.env})
            if (*v)
                for (const auto &s : **v)
                    FUZZ_CHECK(ocd::json::valid_utf8(s));
        for (const auto *s : {&img.user, &img.working_dir, &img.os, &img.architecture, &img.variant, &img.created,
                              &img.stop_signal})
            if (*s)
                FUZZ_CHECK(ocd::json::valid_utf8(**s));
        for (const auto &[k, v] : img.labels)
            FUZZ_CHECK(ocd::json::valid_utf8(k) && ocd::json::valid_utf8(v));
    } catch (const ocd::Error &e) {
        fuzz::check_error(e, {OCIDIR_E_FORMAT});
    }
    return 0;
}
