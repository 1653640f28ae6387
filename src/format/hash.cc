#include "format/hash.hh"

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "base/error.hh"

#ifndef OCIDIR_DEFAULT_HASH_BACKEND
#error "the build defines OCIDIR_DEFAULT_HASH_BACKEND (sodium or openssl)"
#endif

namespace ocd {

std::string Hasher::final_digest()
{
    uint8_t out[64];
    final(out);
    std::string s(alg_name(alg()));
    s += ':';
    s += to_hex(out, alg_digest_bytes(alg()));
    return s;
}

namespace {

#define OCD_STR2(x) #x
#define OCD_STR(x) OCD_STR2(x)

struct Choice {
    const HashBackend *backend = nullptr;
    char problem[200] = "";
};

const HashBackend *by_name(std::string_view n) noexcept
{
    if (n == "sodium" || n == "libsodium")
        return &sodium_hasher();
#if OCIDIR_HAVE_OPENSSL
    if (n == "openssl" || n == "libcrypto")
        return &openssl_hasher();
#endif
    return nullptr;
}

Choice choose() noexcept
{
    Choice c;
    const char *env = std::getenv("OCIDIR_HASH_BACKEND");
    std::string_view want = env && *env ? env : OCD_STR(OCIDIR_DEFAULT_HASH_BACKEND);
    c.backend = by_name(want);
    if (!c.backend) {
        std::string_view known = OCIDIR_HAVE_OPENSSL ? "sodium, openssl" : "sodium";
        std::string_view shown = want.substr(0, 60);
        snprintf(c.problem, sizeof c.problem,
                 "hash backend: OCIDIR_HASH_BACKEND=%.*s names no backend compiled into this library (compiled in: "
                 "%.*s)",
                 static_cast<int>(shown.size()), shown.data(), static_cast<int>(known.size()), known.data());
    }
    return c;
}

const Choice &choice() noexcept
{
    static const Choice c = choose();  // read once: every hasher of a process agrees
    return c;
}

}  // namespace

const HashBackend *hash_backend() noexcept { return choice().backend; }

const char *hash_backend_problem() noexcept { return choice().problem; }

const char *hash_backend_name() noexcept
{
    const HashBackend *b = hash_backend();
    return b ? b->name : "none";
}

std::unique_ptr<Hasher> Hasher::create(Alg alg)
{
    const HashBackend *b = hash_backend();
    if (!b)
        throw_error(OCIDIR_E_UNSUPPORTED, hash_backend_problem());
    return b->create(alg);
}

}  // namespace ocd
