#include "hash.hh"

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

}  // namespace ocd
