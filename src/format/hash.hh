// Hashing behind one small interface.  Two backends may be compiled in
// (hash_sodium.cc always, hash_openssl.cc when libcrypto's development files
// were found); the build picks the default one, the environment variable
// OCIDIR_HASH_BACKEND may pick another at run time.  Everything else sees
// only Hasher.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "format/digest.hh"

namespace ocd {

class Hasher {
public:
    virtual ~Hasher() = default;
    virtual void update(const void *data, size_t len) noexcept = 0;
    // Writes alg_digest_bytes(alg()) bytes.  The hasher is spent afterwards.
    // Throws Error IO if the backend failed, in an update() or here (libcrypto
    // may, in principle; libsodium cannot): no digest comes out of a failed hash.
    virtual void final(uint8_t *out) = 0;
    virtual Alg alg() const noexcept = 0;

    // A fresh hasher of the backend in use (hash_backend()).  Throws Error
    // NOMEM/IO if the backend cannot start, UNSUPPORTED if OCIDIR_HASH_BACKEND
    // names a backend that is not compiled in.
    static std::unique_ptr<Hasher> create(Alg alg);

    // final() formatted as "<alg>:<hex>".
    std::string final_digest();
};

// One hash implementation.
struct HashBackend {
    const char *name;                             // "libsodium", "libcrypto"
    std::unique_ptr<Hasher> (*create)(Alg alg);  // throws as Hasher::create
};

const HashBackend &sodium_hasher() noexcept;
#if OCIDIR_HAVE_OPENSSL
const HashBackend &openssl_hasher() noexcept;
#endif

// The backend in use, decided once per process: the one OCIDIR_HASH_BACKEND
// names ("sodium"/"libsodium", "openssl"/"libcrypto") if set and not empty,
// else the build's default.  Null if the variable names an unknown backend
// or one not compiled in; hash_backend_problem() then says why.
const HashBackend *hash_backend() noexcept;
const char *hash_backend_problem() noexcept;

// The name of the backend in use, e.g. "libsodium"; "none" when
// OCIDIR_HASH_BACKEND names an unusable one.
const char *hash_backend_name() noexcept;

}  // namespace ocd
