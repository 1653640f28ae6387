// Shared by the fuzz targets: invariant checks that stop the run with a
// message (libFuzzer then saves the input), and helpers for the JSON targets.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>

#include "format/digest.hh"
#include "base/error.hh"
#include "format/json.hh"
#include "format/oci.hh"

// An invariant that must hold for every input; abort() so that the input is
// kept as a crash.
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                  \
        }                                                                                  \
    } while (0)

namespace fuzz {

// The library reports every rejection as ocd::Error with a code from a known
// set and a message that says something; anything else is a bug.
inline void check_error(const ocd::Error &e, std::initializer_list<int> allowed)
{
    bool ok = false;
    for (int c : allowed)
        ok = ok || c == e.code();
    if (!ok || e.message().empty()) {
        std::fprintf(stderr, "unexpected error code %d: %s\n", e.code(), e.message().c_str());
        std::abort();
    }
}

// Parse through both entry points (copying and padded) and require the same
// verdict; returns false (after checking the error) when the bytes are rejected.
inline bool parse_both(std::string_view bytes, const char *what, ocd::json::Doc *out)
{
    bool ok_copy = false, ok_padded = false;
    try {
        *out = ocd::json::Doc::parse(bytes, what);
        ok_copy = true;
    } catch (const ocd::Error &e) {
        check_error(e, {OCIDIR_E_FORMAT});
    }
    std::string padded(bytes);
    padded.append(ocd::json::Doc::kPadding, '\0');
    try {
        ocd::json::Doc d = ocd::json::Doc::parse_padded(std::string_view(padded.data(), bytes.size()), what);
        ok_padded = true;
    } catch (const ocd::Error &e) {
        check_error(e, {OCIDIR_E_FORMAT});
    }
    FUZZ_CHECK(ok_copy == ok_padded);
    return ok_copy;
}

// A parsed document written canonically must parse again and write to the
// same bytes (the writer is what the library uses for its own documents).
inline void check_canonical_roundtrip(const ocd::json::Doc &doc)
{
    std::string once;
    try {
        once = ocd::json::write(ocd::json::to_value(doc.root()));
    } catch (const ocd::Error &e) {
        // Only a double that does not survive (inf/nan cannot come from JSON text).
        check_error(e, {OCIDIR_E_INVALID});
        return;
    }
    // index.json updates publish exactly this form: the library must read
    // back what it writes.
    std::string twice;
    try {
        ocd::json::Doc again = ocd::json::Doc::parse(once, "canonical form");
        twice = ocd::json::write(ocd::json::to_value(again.root()));
    } catch (const ocd::Error &e) {
        std::fprintf(stderr, "the canonical form does not read back: %s\n", e.message().c_str());
        std::abort();
    }
    FUZZ_CHECK(once == twice);
}

// The invariants of a validated descriptor, and that its canonical form
// validates again to the same descriptor.
inline void check_descriptor(const ocd::oci::Descriptor &d)
{
    FUZZ_CHECK(ocd::oci::valid_media_type(d.media_type));
    int c = ocd::classify_digest(d.digest);
    FUZZ_CHECK(c == 0 || c == OCIDIR_E_UNSUPPORTED);
    FUZZ_CHECK(d.size >= 0);
    if (d.data)
        FUZZ_CHECK(d.data->size() == static_cast<uint64_t>(d.size));
    std::string bytes = ocd::json::write(d.to_value());
    ocd::json::Doc doc = ocd::json::Doc::parse(bytes, "descriptor round trip");
    ocd::oci::Descriptor r = ocd::oci::parse_descriptor(doc.root(), "descriptor round trip");
    FUZZ_CHECK(r.media_type == d.media_type);
    FUZZ_CHECK(r.digest == d.digest);
    FUZZ_CHECK(r.size == d.size);
    FUZZ_CHECK(r.annotations == d.annotations);
    FUZZ_CHECK(r.artifact_type == d.artifact_type);
    // `data` is not part of the canonical form (to_value() leaves it out).
    FUZZ_CHECK(r.urls == d.urls);
    FUZZ_CHECK(r.platform.has_value() == d.platform.has_value());
    if (r.platform)
        FUZZ_CHECK(r.platform->str() == d.platform->str());
}

}  // namespace fuzz
