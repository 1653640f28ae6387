// The image builder.
#include "image/builder.hh"

#include "store/blob_store.hh"
#include "format/digest.hh"
#include "base/error.hh"
#include "image/image.hh"
#include "store/index.hh"
#include "store/json_blob.hh"
#include "image/layer.hh"
#include "store/layout.hh"

namespace ocd::builder {

namespace {

using json::Array;
using json::Object;
using json::Value;

void check_writable(const ocidir &d, const char *op)
{
    if (d.readonly)
        throw Error(OCIDIR_E_READONLY, std::string(op) + ": layout " + d.label + " was opened read-only");
}

void check_utf8(std::string_view s, const char *op, const char *what)
{
    if (!json::valid_utf8(s))
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": " + what + " " + quote(s) + " is not valid UTF-8");
}

void check_image(const ocidir_builder &b, const char *op)
{
    if (b.artifact)
        throw Error(OCIDIR_E_STATE, std::string(op) + ": the builder makes an artifact" +
                                        (b.fixed_config ? " (config " + b.fixed_config->media_type + ")" : "") +
                                        ", whose config has no fields to set");
}

oci::Descriptor empty_descriptor()
{
    oci::Descriptor e;
    e.media_type = std::string(oci::kMediaEmpty);
    e.digest = std::string(oci::kEmptyDigest);
    e.size = static_cast<int64_t>(oci::kEmptyContent.size());
    return e;
}

// A digest argument: INVALID for a malformed one or one of an algorithm the
// layout cannot store (the message keeps the reason).
Digest digest_arg(const char *s, const char *op, const char *what)
{
    if (!s)
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": " + what + " is NULL");
    try {
        return parse_digest(s);
    } catch (const Error &e) {
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": " + what + ": " + e.message());
    }
}

// Docker layer media types in an OCI manifest would mix schemas: they are
// written as their OCI equivalents (same bytes).
std::string oci_layer_type(const std::string &mt)
{
    if (mt == "application/vnd.docker.image.rootfs.diff.tar.gzip")
        return "application/vnd.oci.image.layer.v1.tar+gzip";
    if (mt == "application/vnd.docker.image.rootfs.diff.tar")
        return "application/vnd.oci.image.layer.v1.tar";
    if (mt == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
        return "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    return mt;
}

Array &array_member(Object &o, const std::string &key)
{
    Value &v = o[key];
    if (!v.is_array())
        v = Value(Array{});
    return v.arr();
}

void append_layer(ocidir_builder &b, oci::Descriptor desc, const std::string *diff_id, const char *created_by)
{
    if (b.artifact) {
        b.layers.push_back(std::move(desc));
        return;
    }
    // Build the new config pieces first, so that a failure leaves b unchanged.
    Value entry{Object{}};
    if (b.created)
        entry.obj()["created"] = Value(*b.created);
    if (created_by)
        entry.obj()["created_by"] = Value(std::string(created_by));
    b.layers.reserve(b.layers.size() + 1);
    Object &rootfs = b.config.child_object("rootfs");
    if (!rootfs.count("type"))
        rootfs["type"] = Value("layers");
    Array &ids = array_member(rootfs, "diff_ids");
    Array &hist = array_member(b.config.obj(), "history");
    ids.reserve(ids.size() + 1);
    hist.reserve(hist.size() + 1);
    ids.emplace_back(*diff_id);
    hist.push_back(std::move(entry));
    b.layers.push_back(std::move(desc));  // reserved: cannot throw
}

std::string write_blob(ocidir &d, const std::string &bytes)
{
    auto w = writer_new(d, Alg::sha256);
    writer_write(*w, bytes.data(), bytes.size());
    return writer_commit(*w);
}

const char *strv_key(int f) noexcept
{
    switch (f) {
    case OCIDIR_CONFIG_ENTRYPOINT: return "Entrypoint";
    case OCIDIR_CONFIG_CMD: return "Cmd";
    case OCIDIR_CONFIG_ENV: return "Env";
    default: return nullptr;
    }
}

const char *string_key(int f) noexcept
{
    switch (f) {
    case OCIDIR_CONFIG_USER: return "User";
    case OCIDIR_CONFIG_WORKING_DIR: return "WorkingDir";
    case OCIDIR_CONFIG_STOP_SIGNAL: return "StopSignal";
    default: return nullptr;
    }
}

bool digits(std::string_view s, size_t pos, size_t n, int lo, int hi)
{
    if (pos + n > s.size())
        return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi;
}

}  // namespace

bool valid_rfc3339(std::string_view s) noexcept
{
    // 2006-01-02T15:04:05[.999999999](Z|+07:00)
    if (!(digits(s, 0, 4, 0, 9999) && s.size() > 4 && s[4] == '-' && digits(s, 5, 2, 1, 12) && s.size() > 7 &&
          s[7] == '-' && digits(s, 8, 2, 1, 31) && s.size() > 10 && s[10] == 'T' && digits(s, 11, 2, 0, 23) &&
          s.size() > 13 && s[13] == ':' && digits(s, 14, 2, 0, 59) && s.size() > 16 && s[16] == ':' &&
          digits(s, 17, 2, 0, 60)))
        return false;
    size_t i = 19;
    if (i < s.size() && s[i] == '.') {
        size_t start = ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < s.size() && s[i] == 'Z')
        return i + 1 == s.size();
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
        return i + 6 == s.size() && digits(s, i + 1, 2, 0, 23) && s[i + 3] == ':' && digits(s, i + 4, 2, 0, 59);
    return false;
}

std::unique_ptr<ocidir_builder> create(ocidir &d, const char *platform)
{
    check_writable(d, "ocidir_builder_new");
    oci::Platform p = platform ? oci::parse_platform(platform) : oci::host_platform();
    auto b = std::make_unique<ocidir_builder>();
    b->d = &d;
    Object c;
    c["architecture"] = Value(p.architecture);
    c["os"] = Value(p.os);
    if (!p.variant.empty())
        c["variant"] = Value(p.variant);
    c["config"] = Value(Object{});
    Object rootfs;
    rootfs["type"] = Value("layers");
    rootfs["diff_ids"] = Value(Array{});
    c["rootfs"] = Value(std::move(rootfs));
    c["history"] = Value(Array{});
    b->config = Value(std::move(c));
    return b;
}

std::unique_ptr<ocidir_builder> create_artifact(ocidir &d, const char *artifact_type)
{
    check_writable(d, "ocidir_builder_new_artifact");
    if (!artifact_type)
        throw Error(OCIDIR_E_INVALID, "ocidir_builder_new_artifact: artifact_type is NULL");
    if (!oci::valid_media_type(artifact_type))
        throw Error(OCIDIR_E_INVALID, "ocidir_builder_new_artifact: artifact type " + quote(artifact_type) +
                                          " is not a media type (type/subtype)");
    auto b = std::make_unique<ocidir_builder>();
    b->d = &d;
    b->artifact = true;
    b->fixed_config = empty_descriptor();
    b->artifact_type = std::string(artifact_type);
    return b;
}

std::unique_ptr<ocidir_builder> from(ocidir &d, std::string_view ref, const char *platform)
{
    check_writable(d, "ocidir_builder_from");
    std::unique_ptr<ocidir_image> img = image::open(d, ref, platform);
    auto b = std::make_unique<ocidir_builder>();
    b->d = &d;
    const oci::Manifest &m = img->manifest;
    if (img->image_config) {
        json::Doc doc = json::Doc::parse(*img->config_bytes, "manifest " + img->manifest_digest + ": config");
        b->config = json::to_value(doc.root());
        size_t ids = img->diff_ids ? img->diff_ids->size() : 0;
        if (ids != m.layers.size())
            throw Error(OCIDIR_E_FORMAT, "manifest " + img->manifest_digest + " has " +
                                             std::to_string(m.layers.size()) + " layers but its config has " +
                                             std::to_string(ids) + " rootfs.diff_ids");
        for (const auto &l : m.layers) {
            oci::Descriptor x = l;
            x.media_type = oci_layer_type(x.media_type);
            b->layers.push_back(std::move(x));
        }
    } else {
        b->artifact = true;
        b->fixed_config = m.config;
        b->layers = m.layers;
    }
    b->annotations = m.annotations;
    b->subject = m.subject;
    b->artifact_type = m.artifact_type;
    return b;
}

void set_created(ocidir_builder &b, const char *rfc3339)
{
    std::optional<std::string> v;
    if (rfc3339) {
        if (!valid_rfc3339(rfc3339))
            throw Error(OCIDIR_E_INVALID, "ocidir_builder_set_created: " + quote(rfc3339) +
                                              " is not an RFC 3339 time (e.g. 2024-01-01T00:00:00Z)");
        v = std::string(rfc3339);
    }
    if (b.artifact) {
        if (v)
            b.annotations[std::string(kCreatedAnnotation)] = *v;
        else
            b.annotations.erase(std::string(kCreatedAnnotation));
    } else {
        if (v)
            b.config.obj()["created"] = Value(*v);
        else
            b.config.obj().erase("created");
    }
    b.created = std::move(v);
}

namespace {

// A layer descriptor's annotations from a NULL-terminated key, value, ...
// vector (NULL: none).
oci::Annotations layer_annotations(const char *const *kv, const char *op)
{
    oci::Annotations a;
    if (!kv)
        return a;
    for (size_t i = 0; kv[i]; i += 2) {
        if (!kv[i + 1])
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": annotations has an odd number of strings (key " +
                                              quote(kv[i]) + " has no value)");
        if (!*kv[i])
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": annotations has an empty key");
        check_utf8(kv[i], op, "annotation key");
        check_utf8(kv[i + 1], op, "annotation value");
        a[kv[i]] = kv[i + 1];
    }
    return a;
}

}  // namespace

void add_layer(ocidir_builder &b, const char *media_type, const char *digest, uint64_t size, const char *diff_id,
               const char *created_by, const char *const *annotations, const char *op)
{
    if (!media_type || !oci::valid_media_type(media_type))
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": media type " + (media_type ? quote(media_type) : "NULL") +
                                          " is not a media type (type/subtype)");
    Digest dg = digest_arg(digest, op, "digest");
    if (size > static_cast<uint64_t>(INT64_MAX))
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": size " + std::to_string(size) + " is out of range");
    std::string id;
    if (b.artifact) {
        if (diff_id)
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": an artifact's layers have no diff_id (pass NULL)");
        if (created_by)
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": an artifact has no history (created_by must be NULL)");
    } else {
        if (!diff_id)
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": an image layer needs its diff_id (sha256 of the "
                                                            "uncompressed tar)");
        Digest di = digest_arg(diff_id, op, "diff_id");
        if (di.alg != Alg::sha256)
            throw Error(OCIDIR_E_INVALID, std::string(op) + ": diff_id " + quote(diff_id) + " is not a sha256 digest");
        id = di.str();
        if (created_by)
            check_utf8(created_by, op, "created_by");
    }
    Found f = find_blob(*b.d, dg);
    if (static_cast<uint64_t>(f.st.st_size) != size)
        throw Error(OCIDIR_E_SIZE, std::string(op) + ": blob " + dg.str() + " in " + f.place.label + " is " +
                                       std::to_string(f.st.st_size) + " bytes, not " + std::to_string(size));
    oci::Descriptor desc;
    desc.media_type = media_type;
    desc.digest = dg.str();
    desc.size = static_cast<int64_t>(size);
    desc.annotations = layer_annotations(annotations, op);
    append_layer(b, std::move(desc), &id, created_by);
}

namespace {

// Publish b.pending (and `extra`, finished writers of this commit) with one
// flush of their data (syncfs) before any is named and one flush of their
// directory after; each published writer leaves b.pending.  `sync_only`, a
// finished writer published later by the caller (the manifest), is flushed
// by the same syncfs.  Then check that every layer blob is reachable from the
// builder's layout (a writer may belong to another handle).
void publish_pending(ocidir_builder &b, const std::vector<ocidir_blob_writer *> &extra,
                     ocidir_blob_writer *sync_only = nullptr)
{
    std::vector<ocidir_blob_writer *> all;
    all.reserve(b.pending.size() + extra.size() + 1);
    for (auto &p : b.pending)
        all.push_back(p.get());
    all.insert(all.end(), extra.begin(), extra.end());
    if (all.empty())
        return;
    if (sync_only) {
        all.push_back(sync_only);
        sync_writers(all);
        all.pop_back();
    } else {
        sync_writers(all);
    }
    // The published writers leave b.pending (a retried commit must not
    // publish them again) but live on here for the directory flush.
    std::vector<std::unique_ptr<ocidir_blob_writer>> done;
    done.reserve(b.pending.size());
    size_t i = 0;
    try {
        for (; i < b.pending.size(); i++)
            writer_publish(*b.pending[i], false);
    } catch (...) {
        // Those named so far leave b.pending; their directory is flushed
        // now (best effort: the commit fails anyway), so that a later commit
        // that names a manifest referring to them finds them durable.
        std::vector<ocidir_blob_writer *> named(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(i));
        try {
            flush_writer_dirs(named);
        } catch (...) {
        }
        b.pending.erase(b.pending.begin(), b.pending.begin() + static_cast<std::ptrdiff_t>(i));
        throw;
    }
    for (auto &p : b.pending)
        done.push_back(std::move(p));
    b.pending.clear();
    for (ocidir_blob_writer *w : extra)
        writer_publish(*w, false);
    flush_writer_dirs(all);
    // A layer writer may belong to another handle: its blob must be
    // reachable from the builder's layout.
    for (const auto &w : done)
        (void)find_blob(*b.d, parse_digest(w->final_digest.c_str()));
}

// Append the layer a writer produced (its descriptor, diff_id and history).
void append_layer_result(ocidir_builder &b, const LayerResult &r, oci::Annotations ann, const char *created_by)
{
    oci::Descriptor desc;
    desc.media_type = r.media_type;
    desc.digest = r.digest;
    desc.size = static_cast<int64_t>(r.size);
    desc.annotations = std::move(ann);
    append_layer(b, std::move(desc), &r.diff_id, created_by);
}

}  // namespace

void add_layer_writer(ocidir_builder &b, ocidir_layer_writer &w, const char *created_by,
                      const char *const *annotations, const char *op, bool defer)
{
    if (b.artifact && created_by)
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": an artifact has no history (created_by must be NULL)");
    if (created_by)
        check_utf8(created_by, op, "created_by");
    // Checked before the commit, so that bad arguments publish nothing.
    oci::Annotations ann = layer_annotations(annotations, op);
    if (defer) {
        b.pending.reserve(b.pending.size() + 1);
        LayerResult r = layer_writer_finish(w);
        append_layer_result(b, r, std::move(ann), created_by);
        b.pending.push_back(std::move(w.blob));  // reserved: cannot throw
        if (b.pending.size() >= kMaxPending) {
            // The layer is added whatever happens here: a failure leaves the
            // blobs not yet named pending, and the commit, which flushes
            // them again, reports it.
            try {
                publish_pending(b, {});
            } catch (const Error &) {
            }
        }
        return;
    }
    LayerResult r = layer_writer_commit(w);
    // The writer may belong to another handle: the blob must be reachable
    // from this builder's layout.
    Digest dg = parse_digest(r.digest.c_str());
    Found f = find_blob(*b.d, dg);
    if (static_cast<uint64_t>(f.st.st_size) != r.size)
        throw Error(OCIDIR_E_SIZE, std::string(op) + ": blob " + dg.str() + " in " + f.place.label + " is " +
                                       std::to_string(f.st.st_size) + " bytes, not " + std::to_string(r.size));
    append_layer_result(b, r, std::move(ann), created_by);
}

void set_config_strv(ocidir_builder &b, int field, const char *const *strv)
{
    const char *op = "ocidir_builder_set_config_strv";
    const char *key = strv_key(field);
    if (!key)
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": field " + std::to_string(static_cast<int>(field)) +
                                          (field == OCIDIR_CONFIG_DIFF_IDS
                                               ? " (DIFF_IDS) is not settable: add layers instead"
                                               : " is not a settable string-array field (ENTRYPOINT, CMD, ENV)"));
    check_image(b, op);
    if (!strv) {
        b.config.child_object("config").erase(key);
        return;
    }
    Array a;
    for (const char *const *p = strv; *p; p++) {
        check_utf8(*p, op, key);
        a.emplace_back(std::string(*p));
    }
    b.config.child_object("config")[key] = Value(std::move(a));
}

void set_config_string(ocidir_builder &b, int field, const char *value)
{
    const char *op = "ocidir_builder_set_config_string";
    const char *key = string_key(field);
    if (!key)
        throw Error(OCIDIR_E_INVALID,
                    std::string(op) + ": field " + std::to_string(static_cast<int>(field)) +
                        " is not a settable string field (USER, WORKING_DIR, STOP_SIGNAL; the platform is fixed "
                        "when the builder is made and `created` is set with ocidir_builder_set_created())");
    check_image(b, op);
    if (!value) {
        b.config.child_object("config").erase(key);
        return;
    }
    check_utf8(value, op, key);
    b.config.child_object("config")[key] = Value(std::string(value));
}

void set_label(ocidir_builder &b, const char *key, const char *value)
{
    const char *op = "ocidir_builder_set_label";
    if (!key || !*key)
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": key is NULL or empty");
    check_utf8(key, op, "key");
    if (value)
        check_utf8(value, op, "value");
    check_image(b, op);
    Object &cfg = b.config.child_object("config");
    if (value) {
        Value &labels = cfg["Labels"];
        if (!labels.is_object())
            labels = Value(Object{});
        labels.obj()[key] = Value(std::string(value));
        return;
    }
    auto it = cfg.find("Labels");
    if (it != cfg.end() && it->second.is_object()) {
        Object &labels = it->second.obj();
        auto l = labels.find(std::string_view(key));
        if (l != labels.end()) {
            labels.erase(l);
            if (labels.empty())
                cfg.erase(it);
        }
    }
}

void set_annotation(ocidir_builder &b, const char *key, const char *value)
{
    const char *op = "ocidir_builder_set_annotation";
    if (!key || !*key)
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": key is NULL or empty");
    check_utf8(key, op, "key");
    if (value) {
        check_utf8(value, op, "value");
        b.annotations[key] = value;
    } else {
        auto it = b.annotations.find(std::string_view(key));
        if (it != b.annotations.end())
            b.annotations.erase(it);
    }
}

void set_subject(ocidir_builder &b, const char *digest)
{
    if (!digest) {
        b.subject.reset();
        return;
    }
    Digest dg = parse_digest(digest);  // BAD_DIGEST / UNSUPPORTED
    oci::Descriptor found = oci::describe_blob(*b.d, dg.str());
    oci::Descriptor s;
    s.media_type = found.media_type;
    s.digest = dg.str();
    s.size = found.size;
    b.subject = std::move(s);
}

std::string config_json(const ocidir_builder &b) { return json::write(b.config); }

std::string manifest_json(const ocidir_builder &b, const oci::Descriptor &config)
{
    Object m;
    m["schemaVersion"] = Value(2);
    m["mediaType"] = Value(oci::kMediaManifest);
    m["config"] = config.to_value();
    Array layers;
    for (const auto &l : b.layers)
        layers.push_back(l.to_value());
    // The image-spec: an artifact without layers SHOULD carry the empty
    // descriptor as its single layer.
    if (b.artifact && layers.empty())
        layers.push_back(empty_descriptor().to_value());
    m["layers"] = Value(std::move(layers));
    if (b.subject)
        m["subject"] = b.subject->to_value();
    if (!b.annotations.empty()) {
        Object a;
        for (const auto &[k, v] : b.annotations)
            a[k] = Value(v);
        m["annotations"] = Value(std::move(a));
    }
    if (b.artifact_type)
        m["artifactType"] = Value(*b.artifact_type);
    return json::write(Value(std::move(m)));
}

std::string commit(ocidir_builder &b, const char *tag, unsigned flags)
{
    const char *op = "ocidir_builder_commit";
    b.published_digest.clear();
    if (flags & ~static_cast<unsigned>(OCIDIR_TAG_NOREPLACE))
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": unknown flags " + std::to_string(flags));
    if (tag)
        index::check_new_tag(tag);
    check_writable(*b.d, op);

    // Layers added with OCIDIR_ADD_LAYER_DEFER_SYNC are pending: then the
    // config and the manifest are only written here (staged), one syncfs
    // flushes them with the pending layers, the layers and the config are
    // named and their directory flushed, then the manifest is named and its
    // directory flushed.  Otherwise each blob is flushed as it is written.
    const bool batch = !b.pending.empty();
    std::vector<std::unique_ptr<ocidir_blob_writer>> staged;
    auto put = [&](const std::string &bytes) -> std::string {
        if (!batch)
            return write_blob(*b.d, bytes);
        auto w = writer_new(*b.d, Alg::sha256);
        writer_write(*w, bytes.data(), bytes.size());
        writer_finish(*w);
        std::string dg = w->final_digest;
        staged.push_back(std::move(w));
        return dg;
    };

    // 1. The config (or, for artifacts, the `{}` blob), durable first.
    oci::Descriptor cfg;
    if (b.artifact) {
        cfg = *b.fixed_config;
        bool need_empty = cfg.digest == oci::kEmptyDigest || b.layers.empty();
        for (const auto &l : b.layers)
            need_empty = need_empty || l.digest == oci::kEmptyDigest;
        if (need_empty)
            put(std::string(oci::kEmptyContent));
    } else {
        std::string bytes = config_json(b);
        cfg.media_type = std::string(oci::kMediaConfig);
        cfg.digest = put(bytes);
        cfg.size = static_cast<int64_t>(bytes.size());
    }

    // 2. The manifest.
    std::string mbytes = manifest_json(b, cfg);
    oci::Descriptor md;
    md.media_type = std::string(oci::kMediaManifest);
    if (batch) {
        auto mw = writer_new(*b.d, Alg::sha256);
        writer_write(*mw, mbytes.data(), mbytes.size());
        writer_finish(*mw);
        std::vector<ocidir_blob_writer *> extra;
        for (auto &w : staged)
            extra.push_back(w.get());
        publish_pending(b, extra, mw.get());
        md.digest = writer_publish(*mw, false);
        flush_writer_dirs({mw.get()});
    } else {
        md.digest = write_blob(*b.d, mbytes);
    }
    md.size = static_cast<int64_t>(mbytes.size());
    md.artifact_type = b.artifact_type;

    // 3. index.json.  Under its lock, every blob the manifest references must
    // still be there: gc (which holds the same lock from its mark to the end
    // of its sweep) may have removed one that was not referenced yet.
    auto still_present = [&] {
        const std::string consequence = tag ? "tag " + quote(tag) + " was not written" : "index.json was not changed";
        auto need = [&](const oci::Descriptor &x, const std::string &what) {
            if (classify_digest(x.digest) != 0 || !x.urls.empty())
                return;  // not stored here (unregistered algorithm, or fetched from its urls)
            require_still_present(*b.d, x.digest, std::string(op) + ": " + what, consequence);
        };
        need(cfg, "config");
        for (size_t i = 0; i < b.layers.size(); i++)
            need(b.layers[i], "layer " + std::to_string(i));
        if (b.artifact && b.layers.empty())
            need(empty_descriptor(), "empty layer");
        if (b.subject)
            need(*b.subject, "subject");
        need(md, "manifest");
    };
    try {
        if (tag)
            index::set_tag(*b.d, tag, md, flags, still_present);
        else
            index::add_untagged(*b.d, md, still_present);
    } catch (const Error &e) {
        if (e.code() == OCIDIR_E_NOT_DURABLE)
            b.published_digest = md.digest;  // index.json names it: the change is made
        throw;
    }
    return md.digest;
}

}  // namespace ocd::builder
