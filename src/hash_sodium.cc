// libsodium backend of Hasher.
#include <sodium.h>

#include <mutex>

#include "error.hh"
#include "hash.hh"

namespace ocd {

namespace {

std::once_flag g_init_once;
int g_init_rc = -1;

class Sha256 final : public Hasher {
public:
    Sha256() { crypto_hash_sha256_init(&st_); }
    void update(const void *data, size_t len) noexcept override
    {
        crypto_hash_sha256_update(&st_, static_cast<const unsigned char *>(data), len);
    }
    void final(uint8_t *out) noexcept override { crypto_hash_sha256_final(&st_, out); }
    Alg alg() const noexcept override { return Alg::sha256; }

private:
    crypto_hash_sha256_state st_;
};

class Sha512 final : public Hasher {
public:
    Sha512() { crypto_hash_sha512_init(&st_); }
    void update(const void *data, size_t len) noexcept override
    {
        crypto_hash_sha512_update(&st_, static_cast<const unsigned char *>(data), len);
    }
    void final(uint8_t *out) noexcept override { crypto_hash_sha512_final(&st_, out); }
    Alg alg() const noexcept override { return Alg::sha512; }

private:
    crypto_hash_sha512_state st_;
};

}  // namespace

std::unique_ptr<Hasher> Hasher::create(Alg alg)
{
    std::call_once(g_init_once, [] { g_init_rc = sodium_init(); });
    if (g_init_rc < 0)
        throw_error(OCIDIR_E_IO, "libsodium failed to initialise (sodium_init)");
    if (alg == Alg::sha256)
        return std::make_unique<Sha256>();
    return std::make_unique<Sha512>();
}

const char *hash_backend_name() noexcept { return "libsodium"; }

}  // namespace ocd
