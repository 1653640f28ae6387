// Digest strings: the image-spec grammar, the registered algorithms, and the
// only place where a digest becomes a path component.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/hex.hh"  // to_hex, for the users of digests

namespace ocd {

enum class Alg { sha256 = 0, sha512 = 1 };

constexpr size_t kAlgCount = 2;
constexpr Alg kAllAlgs[kAlgCount] = {Alg::sha256, Alg::sha512};

std::string_view alg_name(Alg a) noexcept;       // "sha256"
size_t alg_digest_bytes(Alg a) noexcept;         // 32, 64
bool alg_from_int(int v, Alg &out) noexcept;     // ocidir_digest_alg_t -> Alg

// A validated digest of a registered algorithm.  `hex` is exactly the right
// number of lowercase hex digits, so "<alg>/<hex>" is a safe relative path.
struct Digest {
    Alg alg;
    std::string hex;
    std::string str() const;         // "sha256:<hex>"
    std::string rel_path() const;    // "sha256/<hex>"
};

// 0, OCIDIR_E_BAD_DIGEST or OCIDIR_E_UNSUPPORTED.
int classify_digest(std::string_view s) noexcept;

// Parse and validate; throws Error (OCIDIR_E_INVALID for NULL,
// OCIDIR_E_BAD_DIGEST, OCIDIR_E_UNSUPPORTED) naming the digest.
Digest parse_digest(const char *s);

// Quote an untrusted string for an error message (truncated, escaped).
std::string quote(std::string_view s);

}  // namespace ocd
