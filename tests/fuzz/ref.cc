// Fuzz target: the DIR:REF splitter of the ocidir tool (cli/ref.c) and the
// library's tag and ref validation.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "format/digest.hh"
#include "fuzz_common.hh"
#include "store/index.hh"
#include "ocidir.h"

extern "C" {
#include "ref.h"
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string arg(reinterpret_cast<const char *>(data), size);
    std::string cs(arg.c_str());  // what argv would carry

    size_t dir_len = 0;
    const char *ref = nullptr;
    int rc = cli_split_ref(cs.c_str(), &dir_len, &ref);
    FUZZ_CHECK(rc >= CLI_REF_OK && rc <= CLI_REF_EMPTY_REF);
    FUZZ_CHECK(std::strcmp(cli_split_ref_strerror(rc), "unknown result") != 0);
    if (rc == CLI_REF_OK) {
        // DIR and REF are both non-empty, separated by one ':' and together
        // they are the whole argument.
        FUZZ_CHECK(dir_len > 0 && dir_len < cs.size());
        FUZZ_CHECK(cs[dir_len] == ':');
        FUZZ_CHECK(ref == cs.c_str() + dir_len + 1);
        FUZZ_CHECK(*ref != '\0');
        // Otherwise the split is at the last ':' unless the tail is "<alg>:<enc>".
        std::string_view r(ref);
        size_t last = cs.rfind(':');
        if (r.find(':') == std::string_view::npos)
            FUZZ_CHECK(dir_len == last);
    } else if (rc == CLI_REF_NO_COLON) {
        FUZZ_CHECK(cs.find(':') == std::string::npos);
    }
    // An argument ending in ":<digest>" (registered algorithm) after a
    // non-empty DIR always gives back the whole digest as the ref.
    size_t last = cs.rfind(':');
    if (last != std::string::npos && last > 0) {
        size_t before = cs.rfind(':', last - 1);
        if (before != std::string::npos && before > 0 &&
            ocd::classify_digest(std::string_view(cs).substr(before + 1)) == 0) {
            FUZZ_CHECK(rc == CLI_REF_OK);
            FUZZ_CHECK(dir_len == before);
        }
    }

    // Tags: the C entry point and the internal check agree, and an accepted
    // tag fits the grammar's character set.
    bool valid = ocd::index::valid_tag(cs);
    int trc = ocidir_tag_validate(cs.c_str());
    FUZZ_CHECK((trc == 0) == valid);
    if (!valid)
        FUZZ_CHECK(trc == OCIDIR_E_INVALID);
    if (valid) {
        for (char c : cs)
            FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::strchr("-._:@+/", c) != nullptr);
        FUZZ_CHECK(cs.front() != '/' && cs.back() != '/');
        FUZZ_CHECK(cs.find("//") == std::string::npos);
        // A tag never climbs out of anything it might name.
        FUZZ_CHECK(cs != "." && cs != ".." && cs.find("/../") == std::string::npos && cs.rfind("../", 0) != 0);
    }
    // The embedded-NUL form is never a valid tag.
    if (arg.size() != cs.size())
        FUZZ_CHECK(!ocd::index::valid_tag(arg));
    return 0;
}
