// JSON parsing (simdjson DOM) with the I-JSON checks simdjson leaves to its
// caller, and the canonical writer.
#include "format/json.hh"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "format/digest.hh"
#include "base/error.hh"

namespace ocd::json {

namespace {

std::string field_name(std::string_view field) { return field.empty() ? "the document" : std::string(field); }

[[noreturn]] void bad(const std::string &what, std::string msg)
{
    throw Error(OCIDIR_E_FORMAT, what + ": " + msg);
}

// Duplicate keys are the one I-JSON rule simdjson does not check.  Objects
// are small in practice; large ones are sorted instead of compared pairwise.
void check_unique_keys(Element e, const std::string &what)
{
    using simdjson::dom::element_type;
    switch (e.type()) {
    case element_type::ARRAY: {
        // Copy out of the simdjson_result first: a range-for over
        // value_unsafe() of a temporary would dangle.
        simdjson::dom::array arr = e.get_array().value_unsafe();
        for (Element c : arr)
            check_unique_keys(c, what);
        break;
    }
    case element_type::OBJECT: {
        // One pass: each key is compared with the ones before it (small
        // objects) or collected for a sort (large ones), and its value
        // checked in the same iteration.
        auto obj = e.get_object().value_unsafe();
        const size_t n = obj.size();
        std::string_view small[16];
        std::vector<std::string_view> large;
        if (n > 16)
            large.reserve(n);
        size_t i = 0;
        for (auto field : obj) {
            if (n > 16) {
                large.push_back(field.key);
            } else if (i < 16) {
                for (size_t j = 0; j < i; j++)
                    if (small[j] == field.key)
                        bad(what, "duplicate key " + quote(field.key));
                small[i++] = field.key;
            }
            check_unique_keys(field.value, what);
        }
        if (n > 16) {
            std::sort(large.begin(), large.end());
            auto it = std::adjacent_find(large.begin(), large.end());
            if (it != large.end())
                bad(what, "duplicate key " + quote(*it));
        }
        break;
    }
    default:
        break;
    }
}

}  // namespace

Doc Doc::parse(std::string_view bytes, std::string what) { return parse_impl(bytes, std::move(what), false); }
Doc Doc::parse_padded(std::string_view bytes, std::string what) { return parse_impl(bytes, std::move(what), true); }

Doc Doc::parse_impl(std::string_view bytes, std::string what, bool padded)
{
    Doc d;
    d.what_ = std::move(what);
    d.parser_ = std::make_unique<simdjson::dom::parser>();
    if (d.parser_->allocate(std::max<size_t>(bytes.size(), 64), kMaxDepth) != simdjson::SUCCESS)
        throw std::bad_alloc();
    auto res = d.parser_->parse(bytes.data(), bytes.size(), !padded);
    if (res.error() != simdjson::SUCCESS) {
        auto err = res.error();
        if (err == simdjson::MEMALLOC)
            throw std::bad_alloc();
        std::string detail = simdjson::error_message(err);
        if (err == simdjson::DEPTH_ERROR)
            detail = "nested deeper than " + std::to_string(kMaxDepth) + " levels";
        else if (err == simdjson::UTF8_ERROR)
            detail = "not valid UTF-8";
        bad(d.what_, "malformed JSON: " + detail);
    }
    d.root_ = res.value_unsafe();
    check_unique_keys(d.root_, d.what_);
    return d;
}

bool KeySet::add(std::string_view key)
{
    if (n_ < 16) {
        for (size_t j = 0; j < n_; j++)
            if (small_[j] == key)
                return false;
        small_[n_++] = key;
        return true;
    }
    if (large_.empty())
        large_.assign(small_, small_ + 16);
    // Large objects are rare in the documents read this way: keep the keys
    // sorted, an insertion each.
    auto it = std::lower_bound(large_.begin(), large_.end(), key);
    if (it != large_.end() && *it == key)
        return false;
    if (large_.size() == 16) {
        std::sort(large_.begin(), large_.end());
        if (std::adjacent_find(large_.begin(), large_.end()) != large_.end())
            return false;
        it = std::lower_bound(large_.begin(), large_.end(), key);
        if (it != large_.end() && *it == key)
            return false;
    }
    large_.insert(it, key);
    return true;
}

namespace {

// The content of the string whose opening quote precedes `p`, when it has no
// escape (then the content is exactly the bytes up to the next quote; stage 1
// has checked their UTF-8 and that no control character is unescaped).
bool plain_string(const char *p, const char *end, bool escapes, std::string_view &out) noexcept
{
    const char *q = static_cast<const char *>(memchr(p, '"', static_cast<size_t>(end - p)));
    if (!q || (escapes && memchr(p, '\\', static_cast<size_t>(q - p))))
        return false;
    out = std::string_view(p, static_cast<size_t>(q - p));
    return true;
}

}  // namespace

bool field_key(od::field &field, const Text &text, std::string_view &out) noexcept
{
    // The search ends at the closing quote (stage 1 checked the quotes pair up).
    const char *p = field.key().raw();
    if (p < text.end && plain_string(p, text.end, text.escapes, out))
        return true;
    return field.unescaped_key().get(out) == simdjson::SUCCESS;
}

bool take_string(od::value v, const Text &text, std::string_view &out) noexcept
{
    std::string_view tok = v.raw_json_token();
    if (tok.empty() || tok[0] != '"')
        return false;
    // The token runs to the next structural character: past the closing
    // quote (and any whitespace), so the quote is found inside it.
    if (plain_string(tok.data() + 1, tok.data() + tok.size(), text.escapes, out)) {
        od::raw_json_string raw;
        return v.get_raw_json_string().get(raw) == simdjson::SUCCESS;  // consumes it
    }
    return v.get_string().get(out) == simdjson::SUCCESS;  // unescapes and checks the escapes
}

bool check_value(od::value v, size_t depth, const Text &text) noexcept
{
    // Stricter than Doc::parse's bound, never looser (a refusal only sends the
    // document to Doc::parse).
    if (depth >= kMaxDepth)
        return false;
    od::json_type t;
    if (v.type().get(t) != simdjson::SUCCESS)
        return false;
    switch (t) {
    case od::json_type::object: {
        od::object obj;
        if (v.get_object().get(obj) != simdjson::SUCCESS)
            return false;
        KeySet keys;
        for (auto f : obj) {
            od::field field;
            std::string_view key;
            if (std::move(f).get(field) != simdjson::SUCCESS || !field_key(field, text, key) || !keys.add(key) ||
                !check_value(field.value(), depth + 1, text))
                return false;
        }
        return true;
    }
    case od::json_type::array: {
        od::array arr;
        if (v.get_array().get(arr) != simdjson::SUCCESS)
            return false;
        for (auto e : arr) {
            od::value x;
            if (std::move(e).get(x) != simdjson::SUCCESS || !check_value(x, depth + 1, text))
                return false;
        }
        return true;
    }
    case od::json_type::string: {
        std::string_view s;
        return take_string(v, text, s);
    }
    case od::json_type::number: {
        od::number n;
        return v.get_number().get(n) == simdjson::SUCCESS;
    }
    case od::json_type::boolean: {
        bool b;
        return v.get_bool().get(b) == simdjson::SUCCESS;
    }
    case od::json_type::null: {
        bool is = false;
        return v.is_null().get(is) == simdjson::SUCCESS && is;
    }
    }
    return false;
}

namespace {

// Past the string whose opening quote is at `p`.
const char *skip_string(const char *p, const char *end) noexcept
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

bool json_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::string_view value_text(const char *p, const char *end) noexcept
{
    const char *q = p;
    if (q >= end)
        return {};
    if (*q == '"') {
        q = skip_string(q, end);
    } else if (*q == '{' || *q == '[') {
        size_t depth = 0;
        while (q < end) {
            char c = *q;
            if (c == '"') {
                q = skip_string(q, end);
                continue;
            }
            q++;
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                break;
        }
    } else {
        while (q < end && !json_space(*q) && *q != ',' && *q != '}' && *q != ']')
            q++;
    }
    return std::string_view(p, static_cast<size_t>(q - p));
}

std::string_view member_text(const char *p, const char *end) noexcept
{
    const char *q = skip_string(p, end);
    while (q < end && (json_space(*q) || *q == ':'))
        q++;
    std::string_view v = value_text(q, end);
    return std::string_view(p, static_cast<size_t>(v.data() + v.size() - p));
}

bool is_object(Element e) noexcept { return e.type() == simdjson::dom::element_type::OBJECT; }

simdjson::dom::object as_object(Element e, const std::string &what, std::string_view field)
{
    if (e.type() != simdjson::dom::element_type::OBJECT)
        bad(what, field_name(field) + " must be an object");
    return e.get_object().value_unsafe();
}

simdjson::dom::array as_array(Element e, const std::string &what, std::string_view field)
{
    if (e.type() != simdjson::dom::element_type::ARRAY)
        bad(what, field_name(field) + " must be an array");
    return e.get_array().value_unsafe();
}

std::string_view as_string(Element e, const std::string &what, std::string_view field)
{
    if (e.type() != simdjson::dom::element_type::STRING)
        bad(what, field_name(field) + " must be a string");
    return e.get_string().value_unsafe();
}

int64_t as_int64(Element e, const std::string &what, std::string_view field)
{
    using simdjson::dom::element_type;
    switch (e.type()) {
    case element_type::INT64:
        return e.get_int64().value_unsafe();
    case element_type::UINT64:
        bad(what, field_name(field) + " is out of range");
    default:
        bad(what, field_name(field) + " must be an integer");
    }
}

std::optional<Element> member(simdjson::dom::object obj, std::string_view key) noexcept
{
    auto r = obj.at_key(key);
    if (r.error() != simdjson::SUCCESS)
        return std::nullopt;
    return r.value_unsafe();
}

Value *Value::find(std::string_view key)
{
    auto &o = obj();
    auto it = o.find(key);
    return it == o.end() ? nullptr : &it->second;
}

const Value *Value::find(std::string_view key) const
{
    const auto &o = obj();
    auto it = o.find(key);
    return it == o.end() ? nullptr : &it->second;
}

Object &Value::child_object(const std::string &key)
{
    Value &c = obj()[key];
    if (!c.is_object())
        c = Object{};
    return c.obj();
}

Value to_value(Element e)
{
    using simdjson::dom::element_type;
    switch (e.type()) {
    case element_type::ARRAY: {
        Array a;
        auto arr = e.get_array().value_unsafe();
        a.reserve(arr.size());
        for (Element c : arr)
            a.push_back(to_value(c));
        return Value(std::move(a));
    }
    case element_type::OBJECT: {
        Object o;
        simdjson::dom::object obj = e.get_object().value_unsafe();
        for (auto field : obj)
            o.emplace(std::string(field.key), to_value(field.value));
        return Value(std::move(o));
    }
    case element_type::INT64: return Value(e.get_int64().value_unsafe());
    case element_type::UINT64: return Value(e.get_uint64().value_unsafe());
    case element_type::DOUBLE: return Value(e.get_double().value_unsafe());
    case element_type::STRING: return Value(e.get_string().value_unsafe());
    case element_type::BOOL: return Value(e.get_bool().value_unsafe());
    case element_type::NULL_VALUE: return Value(nullptr);
    }
    return Value(nullptr);
}

bool valid_utf8(std::string_view s) noexcept { return simdjson::validate_utf8(s.data(), s.size()); }

namespace {

void write_string(std::string &out, std::string_view s)
{
    if (!valid_utf8(s))
        throw Error(OCIDIR_E_INVALID, "string " + quote(s) + " is not valid UTF-8");
    static const char hex[] = "0123456789abcdef";
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
}

void write_value(std::string &out, const Value &v)
{
    std::visit(
        [&](const auto &x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) {
                out += "null";
            } else if constexpr (std::is_same_v<T, bool>) {
                out += x ? "true" : "false";
            } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>) {
                out += std::to_string(x);
            } else if constexpr (std::is_same_v<T, double>) {
                if (!std::isfinite(x))
                    throw Error(OCIDIR_E_INVALID, "a JSON number must be finite");
                char buf[64];
                auto r = std::to_chars(buf, buf + sizeof buf, x);
                // The shortest form of a whole number is all digits, which a
                // JSON reader (this library's too) takes for an integer: beyond
                // 64 bits ("101300300101300305920") it is rejected, so write
                // those in exponent form; -0 would read back as the integer 0.
                if (std::string_view(buf, r.ptr - buf).find_first_of(".e") == std::string_view::npos) {
                    if (std::fabs(x) >= 1e18)
                        r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
                    else if (x == 0 && std::signbit(x))
                        r.ptr = std::copy_n("-0.0", 4, buf);
                }
                out.append(buf, r.ptr);
            } else if constexpr (std::is_same_v<T, std::string>) {
                write_string(out, x);
            } else if constexpr (std::is_same_v<T, Array>) {
                out += '[';
                bool first = true;
                for (const auto &c : x) {
                    if (!first)
                        out += ',';
                    first = false;
                    write_value(out, c);
                }
                out += ']';
            } else {
                out += '{';
                bool first = true;
                for (const auto &[k, c] : x) {
                    if (!first)
                        out += ',';
                    first = false;
                    write_string(out, k);
                    out += ':';
                    write_value(out, c);
                }
                out += '}';
            }
        },
        v.v);
}

}  // namespace

std::string write(const Value &v)
{
    std::string out;
    write_value(out, v);
    return out;
}

}  // namespace ocd::json
