// Fuzz target: digest strings (classify_digest, parse_digest, the C entry
// point ocidir_digest_validate) and the round trip parsed digest -> string.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "format/digest.hh"
#include "fuzz_common.hh"
#include "ocidir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string s(reinterpret_cast<const char *>(data), size);
    // The C string the const char * entry points see stops at the first NUL.
    std::string cs(s.c_str());
    int cls = ocd::classify_digest(cs);
    FUZZ_CHECK(cls == 0 || cls == OCIDIR_E_BAD_DIGEST || cls == OCIDIR_E_UNSUPPORTED);
    // classify on the full bytes: an embedded NUL is never part of a valid digest.
    if (s.size() != cs.size())
        FUZZ_CHECK(ocd::classify_digest(s) != 0);

    bool parsed = false;
    try {
        ocd::Digest d = ocd::parse_digest(cs.c_str());
        parsed = true;
        // A parsed digest formats back to exactly the input, and its path is
        // "<alg>/<hex>" with only lowercase hex of the right length.
        FUZZ_CHECK(d.str() == cs);
        FUZZ_CHECK(d.hex.size() == 2 * ocd::alg_digest_bytes(d.alg));
        for (char c : d.hex)
            FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        FUZZ_CHECK(d.rel_path() == std::string(ocd::alg_name(d.alg)) + "/" + d.hex);
        FUZZ_CHECK(ocd::parse_digest(d.str().c_str()).hex == d.hex);
    } catch (const ocd::Error &e) {
        fuzz::check_error(e, {OCIDIR_E_BAD_DIGEST, OCIDIR_E_UNSUPPORTED});
        FUZZ_CHECK(e.code() == cls);
    }
    FUZZ_CHECK(parsed == (cls == 0));

    // The public entry point agrees and leaves a message on failure.
    int rc = ocidir_digest_validate(cs.c_str());
    FUZZ_CHECK(rc == cls);
    if (rc != 0)
        FUZZ_CHECK(ocidir_last_error() != nullptr && ocidir_last_error()[0] != '\0');

    // quote() is used on every untrusted string in messages: bounded and
    // printable ASCII only.
    std::string q = ocd::quote(s);
    FUZZ_CHECK(q.size() <= 2 + 200 * 4 + 3);
    for (char c : q)
        FUZZ_CHECK(c >= 0x20 && c < 0x7f);
    return 0;
}
