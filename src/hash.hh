// Hashing behind one small interface.  The backend is chosen at build time
// (hash_<backend>.cc); everything else sees only Hasher.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "digest.hh"

namespace ocd {

class Hasher {
public:
    virtual ~Hasher() = default;
    virtual void update(const void *data, size_t len) noexcept = 0;
    // Writes alg_digest_bytes(alg()) bytes.  The hasher is spent afterwards.
    virtual void final(uint8_t *out) noexcept = 0;
    virtual Alg alg() const noexcept = 0;

    // A fresh hasher (throws Error NOMEM/IO if the backend cannot start).
    static std::unique_ptr<Hasher> create(Alg alg);

    // final() formatted as "<alg>:<hex>".
    std::string final_digest();
};

// The backend's name, e.g. "libsodium".
const char *hash_backend_name() noexcept;

}  // namespace ocd
