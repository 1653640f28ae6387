// OCI image-spec types: parsing and validating descriptors, manifests and
// indexes, and platforms.  Reading them from the blob store is
// store/json_blob.hh's.
#include "format/oci.hh"

#include <sodium.h>
#include <sys/utsname.h>

#include <algorithm>

#include "format/digest.hh"
#include "base/error.hh"
#include "format/hash.hh"

namespace ocd::oci {

using json::Element;

namespace {

[[noreturn]] void bad(const std::string &where, const std::string &msg)
{
    throw Error(OCIDIR_E_FORMAT, where + ": " + msg);
}

bool restricted_name_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    if (first)
        return false;
    return c == '!' || c == '#' || c == '$' || c == '&' || c == '-' || c == '^' || c == '_' || c == '.' ||
           c == '+';
}

bool restricted_name(std::string_view s)
{
    if (s.empty() || s.size() > 127)
        return false;
    for (size_t i = 0; i < s.size(); i++)
        if (!restricted_name_char(s[i], i == 0))
            return false;
    return true;
}

Annotations parse_string_map(Element e, const std::string &where, std::string_view field)
{
    Annotations out;
    for (auto kv : json::as_object(e, where, field)) {
        std::string key(kv.key);
        out.emplace(key, std::string(json::as_string(kv.value, where, std::string(field) + "." + key)));
    }
    return out;
}

Platform parse_platform_object(Element e, const std::string &where)
{
    auto obj = json::as_object(e, where, "platform");
    Platform p;
    auto os = json::member(obj, "os");
    auto arch = json::member(obj, "architecture");
    if (!os || !arch)
        bad(where, "platform needs os and architecture");
    p.os = json::as_string(*os, where, "platform.os");
    p.architecture = json::as_string(*arch, where, "platform.architecture");
    if (auto v = json::member(obj, "variant"))
        p.variant = json::as_string(*v, where, "platform.variant");
    return p;
}

// Fields shared by manifests and indexes.
void check_schema_version(simdjson::dom::object obj, const std::string &where)
{
    auto sv = json::member(obj, "schemaVersion");
    if (!sv)
        bad(where, "schemaVersion is missing");
    int64_t v = json::as_int64(*sv, where, "schemaVersion");
    if (v != 2)
        bad(where, "schemaVersion is " + std::to_string(v) + ", not 2");
}

}  // namespace

std::string Platform::str() const
{
    std::string s = os + "/" + architecture;
    if (!variant.empty())
        s += "/" + variant;
    return s;
}

bool Platform::accepts(const Platform &have) const
{
    // As containerd does: arm64 without a variant is arm64/v8.
    auto norm = [](const Platform &p) -> std::string_view {
        return p.architecture == "arm64" && p.variant == "v8" ? std::string_view() : std::string_view(p.variant);
    };
    std::string_view want = norm(*this);
    return os == have.os && architecture == have.architecture && (want.empty() || want == norm(have));
}

Platform parse_platform(std::string_view s)
{
    Platform p;
    std::string_view parts[4];
    size_t n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); i++) {
        if (i == s.size() || s[i] == '/') {
            if (n == 4)
                break;
            parts[n++] = s.substr(start, i - start);
            start = i + 1;
        }
    }
    auto ok = [](std::string_view x) {
        if (x.empty())
            return false;
        for (char c : x)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.'))
                return false;
        return true;
    };
    size_t slashes = static_cast<size_t>(std::count(s.begin(), s.end(), '/'));
    if (n < 2 || n > 3 || slashes != n - 1)
        throw Error(OCIDIR_E_INVALID, "platform " + quote(s) + " is not os/arch[/variant]");
    for (size_t i = 0; i < n; i++)
        if (!ok(parts[i]))
            throw Error(OCIDIR_E_INVALID, "platform " + quote(s) + " is not os/arch[/variant]");
    p.os = parts[0];
    p.architecture = parts[1];
    if (n == 3)
        p.variant = parts[2];
    return p;
}

const Platform &host_platform()
{
    static const Platform p = [] {
        Platform h;
        h.os = "linux";
#if defined(__x86_64__)
        h.architecture = "amd64";
#elif defined(__aarch64__)
        h.architecture = "arm64";
#elif defined(__arm__)
        h.architecture = "arm";
#if defined(__ARM_ARCH) && __ARM_ARCH >= 7
        h.variant = "v7";
#elif defined(__ARM_ARCH) && __ARM_ARCH == 6
        h.variant = "v6";
#endif
#elif defined(__i386__)
        h.architecture = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        h.architecture = "ppc64le";
#elif defined(__s390x__)
        h.architecture = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
        h.architecture = "riscv64";
#else
        struct utsname u;
        h.architecture = uname(&u) == 0 ? u.machine : "unknown";
#endif
        return h;
    }();
    return p;
}

bool valid_media_type(std::string_view s) noexcept
{
    size_t slash = s.find('/');
    if (slash == std::string_view::npos)
        return false;
    return restricted_name(s.substr(0, slash)) && restricted_name(s.substr(slash + 1));
}

json::Value Descriptor::to_value() const
{
    json::Object o;
    o["mediaType"] = media_type;
    o["digest"] = digest;
    o["size"] = size;
    if (!annotations.empty()) {
        json::Object a;
        for (const auto &[k, v] : annotations)
            a[k] = v;
        o["annotations"] = std::move(a);
    }
    if (platform) {
        json::Object p;
        p["os"] = platform->os;
        p["architecture"] = platform->architecture;
        if (!platform->variant.empty())
            p["variant"] = platform->variant;
        o["platform"] = std::move(p);
    }
    if (artifact_type)
        o["artifactType"] = *artifact_type;
    if (!urls.empty()) {
        json::Array a;
        for (const auto &u : urls)
            a.emplace_back(u);
        o["urls"] = std::move(a);
    }
    return json::Value(std::move(o));
}

Descriptor parse_descriptor(Element e, const std::string &where)
{
    auto obj = json::as_object(e, where, "descriptor");
    Descriptor d;
    auto mt = json::member(obj, "mediaType");
    auto dg = json::member(obj, "digest");
    auto sz = json::member(obj, "size");
    if (!mt)
        bad(where, "mediaType is missing");
    if (!dg)
        bad(where, "digest is missing");
    if (!sz)
        bad(where, "size is missing");
    d.media_type = json::as_string(*mt, where, "mediaType");
    if (!valid_media_type(d.media_type))
        bad(where, "mediaType " + quote(d.media_type) + " is not a media type");
    d.digest = json::as_string(*dg, where, "digest");
    if (classify_digest(d.digest) == OCIDIR_E_BAD_DIGEST)
        bad(where, "digest " + quote(d.digest) + " is malformed");
    d.size = json::as_int64(*sz, where, "size");
    if (d.size < 0)
        bad(where, "size " + std::to_string(d.size) + " is negative");
    if (auto a = json::member(obj, "annotations"))
        d.annotations = parse_string_map(*a, where, "annotations");
    if (auto p = json::member(obj, "platform"))
        d.platform = parse_platform_object(*p, where);
    if (auto at = json::member(obj, "artifactType")) {
        d.artifact_type = std::string(json::as_string(*at, where, "artifactType"));
        if (!valid_media_type(*d.artifact_type))
            bad(where, "artifactType " + quote(*d.artifact_type) + " is not a media type");
    }
    if (auto u = json::member(obj, "urls"))
        for (Element x : json::as_array(*u, where, "urls"))
            d.urls.emplace_back(json::as_string(x, where, "urls[]"));
    if (auto data = json::member(obj, "data")) {
        std::string_view b64 = json::as_string(*data, where, "data");
        std::string bin(b64.size() / 4 * 3 + 3, '\0');
        size_t bin_len = 0;
        const char *end = nullptr;
        if (sodium_base642bin(reinterpret_cast<unsigned char *>(bin.data()), bin.size(), b64.data(), b64.size(),
                              nullptr, &bin_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            end != b64.data() + b64.size())
            bad(where, "data is not base64");
        bin.resize(bin_len);
        if (static_cast<int64_t>(bin_len) != d.size)
            throw Error(OCIDIR_E_SIZE, where + ": data holds " + std::to_string(bin_len) + " bytes, size says " +
                                           std::to_string(d.size));
        if (classify_digest(d.digest) == 0) {
            Digest parsed = parse_digest(d.digest.c_str());
            auto h = Hasher::create(parsed.alg);
            h->update(bin.data(), bin.size());
            std::string got = h->final_digest();
            if (got != d.digest)
                throw Error(OCIDIR_E_DIGEST, where + ": data hashes to " + got + ", not to " + d.digest);
        }
        d.data = std::move(bin);
    }
    return d;
}

Kind kind_of_media_type(std::string_view mt) noexcept
{
    if (mt == kMediaIndex || mt == kDockerList)
        return Kind::Index;
    if (mt == kMediaManifest || mt == kDockerManifest)
        return Kind::Manifest;
    return Kind::Unknown;
}

namespace {

// What manifests and indexes share.
struct Common {
    std::string media_type;
    std::optional<Descriptor> subject;
    Annotations annotations;
};

// schemaVersion 2; a mediaType, when present, of `kind`; none of the members
// that belong to the other kind (media-type confusion, CVE-2021-41190);
// subject and annotations.
simdjson::dom::object check_common(const json::Doc &doc, Kind kind, Common &c)
{
    const std::string &w = doc.what();
    auto obj = json::as_object(doc.root(), w, "");
    check_schema_version(obj, w);
    const char *noun = kind == Kind::Index ? "image index" : "image manifest";
    if (auto mt = json::member(obj, "mediaType")) {
        c.media_type = json::as_string(*mt, w, "mediaType");
        if (kind_of_media_type(c.media_type) != kind)
            bad(w, "mediaType " + quote(c.media_type) + " is not an " + noun);
    }
    if (kind == Kind::Manifest && json::member(obj, "manifests"))
        bad(w, "an image manifest must not have \"manifests\" (media-type confusion)");
    if (kind == Kind::Index && (json::member(obj, "config") || json::member(obj, "layers")))
        bad(w, "an image index must not have \"config\" or \"layers\" (media-type confusion)");
    if (auto sub = json::member(obj, "subject"))
        c.subject = parse_descriptor(*sub, w + ": subject");
    if (auto a = json::member(obj, "annotations"))
        c.annotations = parse_string_map(*a, w, "annotations");
    return obj;
}

simdjson::dom::array manifests_of(const json::Doc &doc, Common &c)
{
    auto obj = check_common(doc, Kind::Index, c);
    auto ms = json::member(obj, "manifests");
    if (!ms)
        bad(doc.what(), "manifests is missing");
    return json::as_array(*ms, doc.what(), "manifests");
}

}  // namespace

Manifest parse_manifest(const json::Doc &doc)
{
    const std::string &w = doc.what();
    Common c;
    auto obj = check_common(doc, Kind::Manifest, c);
    Manifest m;
    m.media_type = std::move(c.media_type);
    m.subject = std::move(c.subject);
    m.annotations = std::move(c.annotations);
    auto cfg = json::member(obj, "config");
    if (!cfg)
        bad(w, "config is missing");
    m.config = parse_descriptor(*cfg, w + ": config");
    if (auto layers = json::member(obj, "layers")) {
        size_t i = 0;
        for (Element l : json::as_array(*layers, w, "layers"))
            m.layers.push_back(parse_descriptor(l, w + ": layers[" + std::to_string(i++) + "]"));
    }  // absent layers read as none: image-spec 1.1 only says SHOULD have one
    if (auto at = json::member(obj, "artifactType")) {
        m.artifact_type = std::string(json::as_string(*at, w, "artifactType"));
        if (!valid_media_type(*m.artifact_type))
            bad(w, "artifactType " + quote(*m.artifact_type) + " is not a media type");
    }
    return m;
}

simdjson::dom::array index_manifests(const json::Doc &doc)
{
    Common c;
    return manifests_of(doc, c);
}

Index parse_index(const json::Doc &doc)
{
    const std::string &w = doc.what();
    Common c;
    simdjson::dom::array ms = manifests_of(doc, c);
    Index x;
    x.media_type = std::move(c.media_type);
    x.subject = std::move(c.subject);
    x.annotations = std::move(c.annotations);
    size_t i = 0;
    for (Element e : ms)
        x.manifests.push_back(parse_descriptor(e, w + ": manifests[" + std::to_string(i++) + "]"));
    auto obj = doc.root().get_object().value_unsafe();
    if (auto at = json::member(obj, "artifactType"))
        x.artifact_type = std::string(json::as_string(*at, w, "artifactType"));
    return x;
}

namespace {

namespace od = simdjson::ondemand;

// One entry of manifests: what a lookup checks, every value consumed.
bool scan_entry(od::value v, const json::Text &text, IndexEntry &e)
{
    od::object obj;
    if (v.get_object().get(obj) != simdjson::SUCCESS)
        return false;  // not an object (or malformed): Doc::parse and entry_tag say which
    json::KeySet keys;
    for (auto f : obj) {
        od::field field;
        std::string_view key;
        if (std::move(f).get(field) != simdjson::SUCCESS || !json::field_key(field, text, key) || !keys.add(key))
            return false;
        if (key != "annotations") {
            if (!json::check_value(field.value(), 4, text))
                return false;
            continue;
        }
        od::object ann;
        if (field.value().get_object().get(ann) != simdjson::SUCCESS)
            return false;
        json::KeySet akeys;
        for (auto af : ann) {
            od::field afield;
            std::string_view akey;
            if (std::move(af).get(afield) != simdjson::SUCCESS || !json::field_key(afield, text, akey) ||
                !akeys.add(akey))
                return false;
            if (akey == kRefNameAnnotation) {
                std::string_view tag;
                if (!json::take_string(afield.value(), text, tag))
                    return false;  // not a string (or malformed)
                e.tag = tag;
            } else if (!json::check_value(afield.value(), 5, text)) {
                return false;
            }
        }
    }
    return true;
}

}  // namespace

std::string_view IndexEntry::json(std::string_view bytes) const
{
    return json::value_text(start, bytes.data() + bytes.size());
}

bool IndexScanner::run(std::string_view bytes, const std::string &what,
                       const std::function<void(const IndexEntry &)> &on_entry)
{
    const char *end = bytes.data() + bytes.size();
    const json::Text text(bytes);
    od::document doc;
    if (parser_.iterate(simdjson::padded_string_view(bytes.data(), bytes.size(), bytes.size() + json::Doc::kPadding))
            .get(doc) != simdjson::SUCCESS)
        return false;
    od::object root;
    if (doc.get_object().get(root) != simdjson::SUCCESS)
        return false;
    member_starts_.clear();
    bool have_manifests = false;
    json::KeySet keys;
    for (auto f : root) {
        od::field field;
        std::string_view key;
        if (std::move(f).get(field) != simdjson::SUCCESS)
            return false;
        const char *key_start = field.key().raw() - 1;  // its opening quote
        if (!json::field_key(field, text, key) || !keys.add(key))
            return false;
        if (key != "manifests") {
            if (!json::check_value(field.value(), 2, text))
                return false;
            member_starts_.push_back(key_start);
            continue;
        }
        have_manifests = true;
        od::array arr;
        if (field.value().get_array().get(arr) != simdjson::SUCCESS)
            return false;  // not an array: index_manifests() names it
        IndexEntry e;
        for (auto x : arr) {
            od::value v;
            if (std::move(x).get(v) != simdjson::SUCCESS)
                return false;
            std::string_view tok = v.raw_json_token();
            e.tag.reset();
            if (!scan_entry(v, text, e))
                return false;
            e.start = tok.data();
            on_entry(e);
            e.i++;
        }
    }
    const char *trailing;
    if (!have_manifests || doc.current_location().get(trailing) != simdjson::OUT_OF_BOUNDS)
        return false;  // no manifests, or something after the root object
    // The members beside manifests, checked by the code that checks a parsed
    // index (a few small values: the entries are what is large).
    top_.assign("{");
    for (const char *p : member_starts_)
        top_.append(json::member_text(p, end)).append(",");
    top_.append("\"manifests\":[]}");
    try {
        json::Doc top = json::Doc::parse(top_, what);
        index_manifests(top);
    } catch (const Error &) {
        return false;  // Doc::parse on the whole document names the problem
    }
    return true;
}

Kind sniff(const json::Doc &doc)
{
    if (!json::is_object(doc.root()))
        return Kind::Unknown;
    auto obj = doc.root().get_object().value_unsafe();
    if (auto mt = json::member(obj, "mediaType")) {
        if (mt->type() == simdjson::dom::element_type::STRING)
            return kind_of_media_type(mt->get_string().value_unsafe());
        return Kind::Unknown;
    }
    bool has_manifests = json::member(obj, "manifests").has_value();
    bool has_config = json::member(obj, "config").has_value();
    if (has_manifests && !has_config)
        return Kind::Index;
    if (has_config && !has_manifests)
        return Kind::Manifest;
    return Kind::Unknown;
}

}  // namespace ocd::oci
