#include "format/digest.hh"

#include "base/error.hh"

namespace ocd {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alg_sep(char c) { return c == '+' || c == '.' || c == '_' || c == '-'; }
bool is_encoded_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '=' || c == '_' ||
           c == '-';
}
bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// algorithm: [a-z0-9]+([+._-][a-z0-9]+)*
bool algorithm_ok(std::string_view a)
{
    if (a.empty() || !is_lower_alnum(a.front()) || !is_lower_alnum(a.back()))
        return false;
    for (size_t i = 0; i < a.size(); i++) {
        char c = a[i];
        if (is_lower_alnum(c))
            continue;
        if (!is_alg_sep(c) || !is_lower_alnum(a[i + 1]))  // back() is alnum, so i+1 exists
            return false;
    }
    return true;
}

}  // namespace

std::string_view alg_name(Alg a) noexcept { return a == Alg::sha256 ? "sha256" : "sha512"; }
size_t alg_digest_bytes(Alg a) noexcept { return a == Alg::sha256 ? 32 : 64; }

bool alg_from_int(int v, Alg &out) noexcept
{
    if (v == 0)
        out = Alg::sha256;
    else if (v == 1)
        out = Alg::sha512;
    else
        return false;
    return true;
}

std::string Digest::str() const
{
    std::string s(alg_name(alg));
    s += ':';
    s += hex;
    return s;
}

std::string Digest::rel_path() const
{
    std::string s(alg_name(alg));
    s += '/';
    s += hex;
    return s;
}

int classify_digest(std::string_view s) noexcept
{
    size_t colon = s.find(':');
    if (colon == std::string_view::npos)
        return OCIDIR_E_BAD_DIGEST;
    std::string_view alg = s.substr(0, colon), enc = s.substr(colon + 1);
    if (!algorithm_ok(alg) || enc.empty())
        return OCIDIR_E_BAD_DIGEST;
    for (char c : enc)
        if (!is_encoded_char(c))
            return OCIDIR_E_BAD_DIGEST;
    size_t want;
    if (alg == "sha256")
        want = 64;
    else if (alg == "sha512")
        want = 128;
    else
        return OCIDIR_E_UNSUPPORTED;
    if (enc.size() != want)
        return OCIDIR_E_BAD_DIGEST;
    for (char c : enc)
        if (!is_lower_hex(c))
            return OCIDIR_E_BAD_DIGEST;
    return 0;
}

Digest parse_digest(const char *s)
{
    if (!s)
        throw_error(OCIDIR_E_INVALID, "digest is NULL");
    std::string_view v(s);
    int rc = classify_digest(v);
    if (rc == OCIDIR_E_UNSUPPORTED)
        throw_error(rc, "digest " + quote(v) + " uses an unregistered algorithm (only sha256 and sha512 are stored)");
    if (rc != 0)
        throw_error(rc, "malformed digest " + quote(v) +
                            " (want sha256:<64 lowercase hex> or sha512:<128 lowercase hex>)");
    size_t colon = v.find(':');
    return Digest{v.substr(0, colon) == "sha256" ? Alg::sha256 : Alg::sha512, std::string(v.substr(colon + 1))};
}

std::string quote(std::string_view s)
{
    constexpr size_t kMax = 200;
    std::string out = "\"";
    for (size_t i = 0; i < s.size() && i < kMax; i++) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            static const char digits[] = "0123456789abcdef";
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > kMax)
        out += "...";
    out += '"';
    return out;
}

}  // namespace ocd
