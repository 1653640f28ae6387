// Images: platform selection through (nested) indexes, manifest and config
// reading, and the referrers walk.
#include "image/image.hh"

#include <unordered_set>

#include "store/blob_store.hh"
#include "format/digest.hh"
#include "base/error.hh"
#include "store/index.hh"
#include "store/json_blob.hh"
#include "store/layout.hh"
#include "store/walk.hh"

namespace ocd::image {

namespace {

using json::Element;

bool is_null(Element e) noexcept { return e.type() == simdjson::dom::element_type::NULL_VALUE; }

// Member `key` of `obj` unless absent or null.
std::optional<Element> present(simdjson::dom::object obj, std::string_view key)
{
    auto m = json::member(obj, key);
    if (!m || is_null(*m))
        return std::nullopt;
    return m;
}

std::optional<std::string> opt_string(simdjson::dom::object obj, std::string_view key, const std::string &what,
                                      const std::string &prefix)
{
    auto m = present(obj, key);
    if (!m)
        return std::nullopt;
    return std::string(json::as_string(*m, what, prefix + std::string(key)));
}

std::optional<std::vector<std::string>> opt_strv(simdjson::dom::object obj, std::string_view key,
                                                 const std::string &what, const std::string &prefix)
{
    auto m = present(obj, key);
    if (!m)
        return std::nullopt;
    std::string field = prefix + std::string(key);
    std::vector<std::string> out;
    size_t i = 0;
    for (Element x : json::as_array(*m, what, field)) {
        out.emplace_back(json::as_string(x, what, field + "[" + std::to_string(i) + "]"));
        i++;
    }
    return out;
}

bool skippable(const Error &e) noexcept
{
    // Blobs the layout does not hold (the spec lets blobs/ lack referenced
    // content) or cannot hold (an unregistered digest algorithm).
    return e.code() == OCIDIR_E_NOT_FOUND || e.code() == OCIDIR_E_UNSUPPORTED;
}

// Read a manifest (already read as `pre` when given), verify it against its
// descriptor, and read its config.
std::unique_ptr<ocidir_image> load(const ocidir &d, const oci::Descriptor &desc, std::optional<oci::JsonBlob> pre = {})
{
    const std::string what = "manifest " + desc.digest;
    oci::JsonBlob mb = pre ? std::move(*pre) : oci::read_json_blob(d, desc.digest, desc.size, "manifest");
    auto img = std::make_unique<ocidir_image>();
    img->d = &d;
    img->manifest = oci::parse_manifest(mb.doc);
    img->manifest_digest = desc.digest;
    img->manifest_bytes = std::move(mb.bytes);

    const oci::Descriptor &cfg = img->manifest.config;
    const std::string cwhat = what + ": config";
    if (is_image_config_type(cfg.media_type)) {
        if (cfg.data) {
            json::Doc doc = json::Doc::parse(*cfg.data, cwhat);
            img->config_bytes = *cfg.data;
            parse_config(*img, doc);
        } else {
            oci::JsonBlob cb = oci::read_json_blob(d, cfg.digest, cfg.size, cwhat);
            parse_config(*img, cb.doc);
            img->config_bytes = std::move(cb.bytes);
        }
        img->image_config = true;
        return img;
    }
    // Any other config: its raw bytes when they are available.
    if (cfg.data) {
        img->config_bytes = *cfg.data;
    } else if (cfg.digest == oci::kEmptyDigest) {
        if (cfg.size != static_cast<int64_t>(oci::kEmptyContent.size()))
            throw Error(OCIDIR_E_SIZE, cwhat + ": the empty config is 2 bytes, but the descriptor says " +
                                           std::to_string(cfg.size));
        img->config_bytes = std::string(oci::kEmptyContent);
        try {
            // Verify it when present (a layout may hold it, and then it must be right).
            img->config_bytes = oci::read_bounded_blob(d, cfg.digest, cfg.size, cwhat);
        } catch (const Error &e) {
            if (e.code() != OCIDIR_E_NOT_FOUND)
                throw;
        }
    } else {
        try {
            img->config_bytes = oci::read_bounded_blob(d, cfg.digest, cfg.size, cwhat);
        } catch (const Error &e) {
            if (!skippable(e))
                throw;
        }
    }
    return img;
}

// The platform search: the walk, depth first in document order, over the
// `manifests` of indexes; the first manifest whose platform matches ends it.
struct Search : walk::Visitor {
    Search(const ocidir &layout, oci::Platform wanted) : d(layout), want(std::move(wanted)) {}

    const ocidir &d;
    oci::Platform want;
    std::vector<std::string> available;  // platforms seen, each once, in order
    std::vector<std::string> skipped;    // digests whose blobs are absent
    std::unique_ptr<ocidir_image> result;

    void note(const std::string &p)
    {
        for (const auto &a : available)
            if (a == p)
                return;
        available.push_back(p);
    }

    walk::Step met(const walk::Met &m) override
    {
        if (m.edge == walk::Edge::Root)
            return walk::Step::Follow;  // the index the ref names
        if (m.edge != walk::Edge::Manifests)
            return walk::Step::Skip;  // an index's subject: not searched
        const oci::Descriptor &e = m.desc;
        switch (oci::kind_of_media_type(e.media_type)) {
        case oci::Kind::Unknown:
            return walk::Step::Skip;  // the spec: unknown media types are ignored, never an error
        case oci::Kind::Index:
            return walk::Step::Follow;
        case oci::Kind::Manifest:
            break;
        }
        if (!e.platform)
            return walk::Step::Follow;  // matched by its config, read below
        note(e.platform->str());
        if (!want.accepts(*e.platform))
            return walk::Step::Skip;
        result = load(d, e);
        return walk::Step::Stop;
    }

    walk::Step read(const walk::Met &m, walk::Document &doc) override
    {
        walk::require_declared_kind(m, doc);
        if (doc.kind != oci::Kind::Manifest)
            return walk::Step::Follow;  // an index: search its manifests
        std::unique_ptr<ocidir_image> img;
        try {
            img = load(d, m.desc, std::move(doc.blob));
        } catch (const Error &err) {
            if (!skippable(err))
                throw;
            skipped.push_back(m.desc.digest);
            return walk::Step::Skip;
        }
        if (!img->image_config)
            return walk::Step::Skip;  // an artifact: it has no platform
        oci::Platform have{img->os.value_or(""), img->architecture.value_or(""), img->variant.value_or("")};
        note(have.str());
        if (!want.accepts(have))
            return walk::Step::Skip;
        result = std::move(img);
        return walk::Step::Stop;
    }

    void failed(const walk::Met &m, const Error &e, bool too_deep) override
    {
        if (too_deep || m.edge == walk::Edge::Root || !skippable(e))
            throw e;
        skipped.push_back(m.desc.digest);
    }
};

}  // namespace

bool is_image_config_type(std::string_view mt) noexcept { return mt == oci::kMediaConfig || mt == oci::kDockerConfig; }

void parse_config(ocidir_image &img, const json::Doc &doc)
{
    const std::string &what = doc.what();
    auto root = json::as_object(doc.root(), what, "(root)");
    img.os = opt_string(root, "os", what, "");
    img.architecture = opt_string(root, "architecture", what, "");
    img.variant = opt_string(root, "variant", what, "");
    img.created = opt_string(root, "created", what, "");
    if (auto c = present(root, "config")) {
        auto cfg = json::as_object(*c, what, "config");
        img.entrypoint = opt_strv(cfg, "Entrypoint", what, "config.");
        img.cmd = opt_strv(cfg, "Cmd", what, "config.");
        img.env = opt_strv(cfg, "Env", what, "config.");
        img.user = opt_string(cfg, "User", what, "config.");
        img.working_dir = opt_string(cfg, "WorkingDir", what, "config.");
        img.stop_signal = opt_string(cfg, "StopSignal", what, "config.");
        if (auto l = present(cfg, "Labels")) {
            for (auto field : json::as_object(*l, what, "config.Labels")) {
                std::string k(field.key);
                img.labels[k] = std::string(json::as_string(field.value, what, "config.Labels." + k));
            }
        }
    }
    if (auto r = present(root, "rootfs")) {
        auto rootfs = json::as_object(*r, what, "rootfs");
        img.diff_ids = opt_strv(rootfs, "diff_ids", what, "rootfs.");
        if (img.diff_ids) {
            for (size_t i = 0; i < img.diff_ids->size(); i++) {
                const std::string &id = (*img.diff_ids)[i];
                if (classify_digest(id) == OCIDIR_E_BAD_DIGEST)
                    throw Error(OCIDIR_E_FORMAT, what + ": rootfs.diff_ids[" + std::to_string(i) + "] " + quote(id) +
                                                     " is not a digest");
            }
        }
    }
}

std::unique_ptr<ocidir_image> open(const ocidir &d, std::string_view ref, const char *platform)
{
    oci::Platform want = platform ? oci::parse_platform(platform) : oci::host_platform();
    oci::Descriptor desc = index::resolve(d, ref);
    oci::Kind kind = oci::kind_of_media_type(desc.media_type);
    std::optional<oci::JsonBlob> pre;
    if (kind == oci::Kind::Unknown) {
        // An entry of a media type this library does not know: what the blob
        // itself says decides (and parse_manifest/parse_index check it).
        pre.emplace(oci::read_json_blob(d, desc.digest, desc.size, "blob"));
        kind = oci::sniff(pre->doc);
        if (kind == oci::Kind::Unknown)
            throw Error(OCIDIR_E_FORMAT, quote(ref) + " names " + desc.digest + " of media type " +
                                             quote(desc.media_type) + ", neither an image manifest nor an index");
    }
    if (kind == oci::Kind::Manifest) {
        auto img = load(d, desc, std::move(pre));
        img->ref_desc = desc;
        return img;
    }

    // The ref's index (already read once when its media type was unknown:
    // the walk reads it again, verified).
    oci::Descriptor top = desc;
    if (oci::kind_of_media_type(top.media_type) == oci::Kind::Unknown)
        top.media_type = std::string(oci::kMediaIndex);
    Search s(d, want);
    walk::run(d, {{top, quote(ref)}}, s, walk::Order::Depth);
    if (s.result) {
        s.result->ref_desc = std::move(desc);
        return std::move(s.result);
    }

    std::string msg = "no manifest for " + want.str() + " in " + quote(ref) + "; available: ";
    if (s.available.empty())
        msg += "none";
    for (size_t i = 0; i < s.available.size(); i++)
        msg += (i ? ", " : "") + s.available[i];
    if (!s.skipped.empty()) {
        msg += "; skipped (not in the layout): ";
        for (size_t i = 0; i < s.skipped.size(); i++)
            msg += (i ? ", " : "") + s.skipped[i];
    }
    throw Error(OCIDIR_E_NOT_FOUND, msg);
}

namespace {

// The referrers walk: depth first over index.json's entries and the
// `manifests` of indexes; a blob the layout does not hold is skipped.
struct Referrers : walk::Visitor {
    Referrers(std::string_view of, const char *type) : subject(of), artifact_type(type) {}

    std::string_view subject;
    const char *artifact_type;
    std::vector<std::string> out;
    std::unordered_set<std::string> found;

    void consider(const std::string &digest, const std::optional<oci::Descriptor> &subj, const std::string &type)
    {
        if (!subj || subj->digest != subject)
            return;
        if (artifact_type && *artifact_type && type != artifact_type)
            return;
        if (found.insert(digest).second)
            out.push_back(digest);
    }

    walk::Step met(const walk::Met &m) override
    {
        if (m.edge != walk::Edge::Root && m.edge != walk::Edge::Manifests)
            return walk::Step::Skip;
        return oci::kind_of_media_type(m.desc.media_type) == oci::Kind::Unknown ? walk::Step::Skip
                                                                                 : walk::Step::Follow;
    }

    walk::Step read(const walk::Met &m, walk::Document &doc) override
    {
        walk::require_declared_kind(m, doc);
        if (doc.manifest) {
            const oci::Manifest &x = *doc.manifest;
            consider(m.desc.digest, x.subject, x.artifact_type ? *x.artifact_type : x.config.media_type);
            return walk::Step::Skip;
        }
        const oci::Index &x = *doc.index;
        consider(m.desc.digest, x.subject, x.artifact_type ? *x.artifact_type : std::string());
        return walk::Step::Follow;
    }

    void failed(const walk::Met &m, const Error &e, bool too_deep) override
    {
        (void)m;
        if (too_deep || !skippable(e))
            throw e;
    }
};

}  // namespace

std::vector<std::string> referrers(const ocidir &d, std::string_view digest, const char *artifact_type)
{
    Referrers r(digest, artifact_type);
    std::vector<walk::Root> roots;
    size_t i = 0;
    for (oci::Descriptor &e : index::entries(d))
        roots.push_back({std::move(e), "index.json manifests[" + std::to_string(i++) + "]"});
    walk::run(d, roots, r, walk::Order::Depth);
    return std::move(r.out);
}

}  // namespace ocd::image
