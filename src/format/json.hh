// JSON: hardened parsing of untrusted documents with simdjson (I-JSON:
// valid UTF-8, no duplicate keys, bounded depth), and a small canonical
// writer for the documents the library generates (sorted keys, no
// insignificant whitespace, minimal escaping), so that the same input always
// gives the same bytes and therefore the same digest.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ocd::json {

// Deepest nesting accepted in a document (objects and arrays).
constexpr size_t kMaxDepth = 64;

// ---------------------------------------------------------------------------
// Reading

using Element = simdjson::dom::element;

// A parsed, validated document.  Strings and elements borrowed from it stay
// valid while the Doc lives.  Movable, not copyable.
class Doc {
public:
    // Parse `bytes`.  Throws Error(OCIDIR_E_FORMAT) naming `what` for
    // malformed JSON, invalid UTF-8, nesting deeper than kMaxDepth or a
    // duplicate key in any object (the message names the key).
    static Doc parse(std::string_view bytes, std::string what);
    // Same, for `bytes` followed in memory by at least kPadding readable
    // bytes (saves simdjson a copy of the whole document).
    static Doc parse_padded(std::string_view bytes, std::string what);
    static constexpr size_t kPadding = simdjson::SIMDJSON_PADDING;

    Element root() const { return root_; }
    const std::string &what() const { return what_; }

private:
    static Doc parse_impl(std::string_view bytes, std::string what, bool padded);
    std::unique_ptr<simdjson::dom::parser> parser_;
    Element root_;
    std::string what_;
};

// Typed access with errors that name the document and the field
// (Error(OCIDIR_E_FORMAT, "<what>: <field> must be a string")).
// `field` is a dotted path used only for messages.
bool is_object(Element e) noexcept;
simdjson::dom::object as_object(Element e, const std::string &what, std::string_view field);
simdjson::dom::array as_array(Element e, const std::string &what, std::string_view field);
std::string_view as_string(Element e, const std::string &what, std::string_view field);
int64_t as_int64(Element e, const std::string &what, std::string_view field);
// The member `key` of `obj`, if present (null counts as present).
std::optional<Element> member(simdjson::dom::object obj, std::string_view key) noexcept;

// ---------------------------------------------------------------------------
// Reading in one pass, without a DOM (simdjson On-Demand)
//
// For the documents read often and whole (a large index.json): the caller
// walks the document with these helpers, which consume every value and check
// what Doc::parse checks (grammar, escapes, numbers, nesting, duplicate
// keys).  They never explain a rejection: on `false` the caller parses the
// same bytes with Doc::parse, which rejects them with the usual message (or,
// for what the walk refuses only to be safe, accepts them).  What a walk
// accepts, Doc::parse accepts too.

namespace od = simdjson::ondemand;

// Duplicate keys of one object, as Doc::parse finds them (keys compared
// unescaped).
class KeySet {
public:
    // False when `key` was added before.
    bool add(std::string_view key);

private:
    std::string_view small_[16];
    size_t n_ = 0;
    std::vector<std::string_view> large_;
};

// The document a walk reads: the end of its bytes, and whether a backslash
// occurs in them at all (when none does, no string has an escape).
struct Text {
    const char *end;
    bool escapes;
    explicit Text(std::string_view bytes)
        : end(bytes.data() + bytes.size()), escapes(bytes.find('\\') != std::string_view::npos)
    {
    }
};

// The key of `field` unescaped (a view into the document, or into the
// parser's string buffer when it has escapes); false when malformed.
bool field_key(od::field &field, const Text &text, std::string_view &out) noexcept;
// Consume a string value into `out` (as field_key); false when `v` is not a
// well-formed string.
bool take_string(od::value v, const Text &text, std::string_view &out) noexcept;
// Consume `v` whole, checking it as Doc::parse would; `depth` is the nesting
// of `v` (the root is 1).  False on anything Doc::parse might reject.
bool check_value(od::value v, size_t depth, const Text &text) noexcept;
// In a document a walk has accepted (and only there): the JSON text of the
// value that begins at `p`, and of the member whose key's opening quote is
// at `p`; `end` is the end of the document's bytes.
std::string_view value_text(const char *p, const char *end) noexcept;
std::string_view member_text(const char *p, const char *end) noexcept;

// ---------------------------------------------------------------------------
// Writing

struct Value;
using Array = std::vector<Value>;
using Object = std::map<std::string, Value, std::less<>>;  // keys sorted bytewise

struct Value {
    using Var = std::variant<std::nullptr_t, bool, int64_t, uint64_t, double, std::string, Array, Object>;
    Var v;

    Value() : v(nullptr) {}
    Value(std::nullptr_t) : v(nullptr) {}
    Value(bool b) : v(b) {}
    Value(int i) : v(static_cast<int64_t>(i)) {}
    Value(int64_t i) : v(i) {}
    Value(uint64_t u) : v(u) {}
    Value(double d) : v(d) {}
    Value(const char *s) : v(std::string(s)) {}
    Value(std::string_view s) : v(std::string(s)) {}
    Value(std::string s) : v(std::move(s)) {}
    Value(Array a) : v(std::move(a)) {}
    Value(Object o) : v(std::move(o)) {}

    bool is_null() const { return std::holds_alternative<std::nullptr_t>(v); }
    bool is_string() const { return std::holds_alternative<std::string>(v); }
    bool is_object() const { return std::holds_alternative<Object>(v); }
    bool is_array() const { return std::holds_alternative<Array>(v); }
    Object &obj() { return std::get<Object>(v); }
    const Object &obj() const { return std::get<Object>(v); }
    Array &arr() { return std::get<Array>(v); }
    const Array &arr() const { return std::get<Array>(v); }
    const std::string &str() const { return std::get<std::string>(v); }

    // For objects: the member `key`, or nullptr.
    Value *find(std::string_view key);
    const Value *find(std::string_view key) const;
    // For objects: the member `key`, created as an object when absent or not one.
    Object &child_object(const std::string &key);
};

// Deep copy of a parsed element into a mutable value.
Value to_value(Element e);

// Canonical serialization: object keys sorted bytewise, no whitespace,
// strings escaped minimally (`"`, `\`, and control characters; everything
// else kept as UTF-8), integers in decimal, doubles in the shortest form that
// reads back identically.  Throws Error(OCIDIR_E_INVALID) for a string that is
// not valid UTF-8 or a non-finite double.
std::string write(const Value &v);

// True when `s` is valid UTF-8.
bool valid_utf8(std::string_view s) noexcept;

}  // namespace ocd::json
