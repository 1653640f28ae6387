// Lowercase hexadecimal text of bytes (digests, random names).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ocd {

inline std::string to_hex(const uint8_t *bytes, size_t n)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(n * 2, '\0');
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[bytes[i] >> 4];
        s[2 * i + 1] = digits[bytes[i] & 15];
    }
    return s;
}

}  // namespace ocd
