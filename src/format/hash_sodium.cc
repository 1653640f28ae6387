// libsodium backend of Hasher.
#include <sodium.h>

#include <mutex>

#include "base/error.hh"
#include "format/hash.hh"

namespace ocd {

namespace {

std::once_flag g_init_once;
int g_init_rc = -1;

// One libsodium SHA-2 state behind Hasher; Ops names the init/update/final
// functions of one digest size.
template <class Ops>
class SodiumHasher final : public Hasher {
public:
    SodiumHasher() { Ops::init(&st_); }
    void update(const void *data, size_t len) noexcept override
    {
        Ops::update(&st_, static_cast<const unsigned char *>(data), len);
    }
    void final(uint8_t *out) noexcept override { Ops::final(&st_, out); }
    Alg alg() const noexcept override { return Ops::kAlg; }

private:
    typename Ops::State st_;
};

struct Sha256Ops {
    using State = crypto_hash_sha256_state;
    static constexpr Alg kAlg = Alg::sha256;
    static constexpr auto init = crypto_hash_sha256_init;
    static constexpr auto update = crypto_hash_sha256_update;
    static constexpr auto final = crypto_hash_sha256_final;
};

struct Sha512Ops {
    using State = crypto_hash_sha512_state;
    static constexpr Alg kAlg = Alg::sha512;
    static constexpr auto init = crypto_hash_sha512_init;
    static constexpr auto update = crypto_hash_sha512_update;
    static constexpr auto final = crypto_hash_sha512_final;
};

std::unique_ptr<Hasher> create(Alg alg)
{
    std::call_once(g_init_once, [] { g_init_rc = sodium_init(); });
    if (g_init_rc < 0)
        throw_error(OCIDIR_E_IO, "libsodium failed to initialise (sodium_init)");
    if (alg == Alg::sha256)
        return std::make_unique<SodiumHasher<Sha256Ops>>();
    return std::make_unique<SodiumHasher<Sha512Ops>>();
}

}  // namespace

const HashBackend &sodium_hasher() noexcept
{
    static const HashBackend b{"libsodium", create};
    return b;
}

}  // namespace ocd
