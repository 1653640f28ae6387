// The reachability graph of a layout: a breadth-first walk from index.json
// over manifests and indexes, each digest visited once.  The walk is
// iterative (the node list is its own queue), so neither deep nesting nor a
// huge fan-out can exhaust the stack, and it never stops at damage: whatever
// cannot be read or parsed becomes a finding and the walk goes on with the
// rest.
#include "housekeeping/graph.hh"

#include <new>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "format/digest.hh"
#include "base/error.hh"
#include "fs/fileio.hh"
#include "store/index.hh"
#include "format/json.hh"
#include "store/layout.hh"
#include "format/oci.hh"

namespace ocd::graph {

namespace {

// The finding kind of an error met while reading a manifest or index.
int kind_of_error(int code) noexcept
{
    switch (code) {
    case OCIDIR_E_NOT_FOUND: return OCIDIR_FIND_MISSING;
    case OCIDIR_E_DIGEST: return OCIDIR_FIND_DIGEST;
    case OCIDIR_E_SIZE: return OCIDIR_FIND_SIZE;
    case OCIDIR_E_FORMAT:
    case OCIDIR_E_TOO_LARGE:
    case OCIDIR_E_BAD_DIGEST: return OCIDIR_FIND_FORMAT;
    default: return OCIDIR_FIND_IO;  // IO, ESCAPE, and anything unexpected
    }
}

// oci-layout as it is now (the open checked it once; fsck looks again).
void check_oci_layout(const ocidir &d, Graph &g)
{
    std::string label = d.label + "/oci-layout";
    try {
        std::string text = read_small_file(d.root.get(), "oci-layout", kLayoutFileMax, label);
        check_layout_version(text, label);
    } catch (const Error &e) {
        if (e.code() == OCIDIR_E_NOMEM)
            throw;
        g.findings.push_back({OCIDIR_FIND_LAYOUT, "oci-layout", 0, e.message()});
        g.complete = false;
    }
}

class Walker {
public:
    Walker(const ocidir &d, Graph &g) : d_(d), g_(g) {}

    void run()
    {
        check_oci_layout(d_, g_);
        std::optional<json::Doc> doc;
        try {
            doc.emplace(index::read_index_doc(d_));
        } catch (const Error &e) {
            if (e.code() == OCIDIR_E_NOMEM)
                throw;
            damage(OCIDIR_FIND_LAYOUT, "index.json", 0, e.message());
            return;
        }
        size_t i = 0;
        for (json::Element e : oci::index_manifests(*doc)) {
            std::string from = "index.json manifests[" + std::to_string(i) + "]";
            try {
                edge(oci::parse_descriptor(e, d_.label + "/index.json: manifests[" + std::to_string(i) + "]"), from);
            } catch (const Error &err) {
                if (err.code() == OCIDIR_E_NOMEM)
                    throw;
                damage(OCIDIR_FIND_LAYOUT, "index.json", 0, err.message());
            }
            i++;
        }
        // The node list is the queue: following a node appends its children.
        for (size_t n = 0; n < g_.nodes.size(); n++)
            if (g_.nodes[n].registered && oci::kind_of_media_type(g_.nodes[n].media_type) != oci::Kind::Unknown)
                follow(n);
    }

private:
    void damage(int kind, std::string subject, uint64_t size, std::string msg)
    {
        g_.findings.push_back({kind, std::move(subject), size, std::move(msg)});
        g_.complete = false;
    }

    // A descriptor found at `from`: a new node, or another reference to a
    // known one.
    void edge(const oci::Descriptor &desc, std::string from)
    {
        auto [it, fresh] = seen_.try_emplace(desc.digest, g_.nodes.size());
        if (!fresh) {
            Node &n = g_.nodes[it->second];
            if (n.size != desc.size)
                n.other_sizes.push_back({desc.size, std::move(from)});
            return;
        }
        Node n;
        n.digest = desc.digest;
        n.media_type = desc.media_type;
        n.size = desc.size;
        n.from = std::move(from);
        n.registered = classify_digest(desc.digest) == 0;
        if (!n.registered)
            g_.findings.push_back({OCIDIR_FIND_UNSUPPORTED, n.digest, static_cast<uint64_t>(n.size),
                                   "descriptor at " + n.from + " uses an algorithm this library does not register (" +
                                       quote(n.digest) + "); the blob is not checked"});
        g_.nodes.push_back(std::move(n));
    }

    // Read node `n` (a manifest or an index by its descriptor), check it and
    // queue what it references.  Copies what it needs from the node: edge()
    // may grow the node vector.
    void follow(size_t n)
    {
        g_.nodes[n].read = true;
        const std::string digest = g_.nodes[n].digest;
        const std::string desc_mt = g_.nodes[n].media_type;
        const std::string from = g_.nodes[n].from;
        const uint64_t size = static_cast<uint64_t>(g_.nodes[n].size);
        const oci::Kind want = oci::kind_of_media_type(desc_mt);
        const char *noun = want == oci::Kind::Index ? "index" : "manifest";
        const std::string where = " (referenced from " + from + ")";
        try {
            oci::JsonBlob b = oci::read_json_blob(d_, digest, g_.nodes[n].size, noun);
            oci::Kind have = oci::sniff(b.doc);
            std::optional<json::Element> own_mt;
            if (json::is_object(b.doc.root()))
                own_mt = json::member(b.doc.root().get_object().value_unsafe(), "mediaType");
            if (own_mt && own_mt->type() == simdjson::dom::element_type::STRING) {
                std::string_view mt = own_mt->get_string().value_unsafe();
                if (mt != desc_mt)
                    damage(OCIDIR_FIND_MEDIA_TYPE, digest, size,
                           std::string(noun) + " " + digest + " has mediaType " + quote(mt) + " but its descriptor at " +
                               from + " says " + quote(desc_mt));
            } else if (have != oci::Kind::Unknown && have != want) {
                damage(OCIDIR_FIND_MEDIA_TYPE, digest, size,
                       "blob " + digest + " is shaped as an image " +
                           (have == oci::Kind::Index ? "index" : "manifest") + " but its descriptor at " + from +
                           " says " + quote(desc_mt));
            }
            // Follow the blob as what it is, so that damage above does not
            // hide what it references.
            const std::string self = std::string(have == oci::Kind::Index ? "index " : "manifest ") + digest + ": ";
            if (have == oci::Kind::Manifest) {
                oci::Manifest m = oci::parse_manifest(b.doc);
                g_.nodes[n].followed = true;
                edge(m.config, self + "config");
                for (size_t i = 0; i < m.layers.size(); i++)
                    edge(m.layers[i], self + "layers[" + std::to_string(i) + "]");
                if (m.subject)
                    edge(*m.subject, self + "subject");
            } else if (have == oci::Kind::Index) {
                oci::Index x = oci::parse_index(b.doc);
                g_.nodes[n].followed = true;
                for (size_t i = 0; i < x.manifests.size(); i++)
                    edge(x.manifests[i], self + "manifests[" + std::to_string(i) + "]");
                if (x.subject)
                    edge(*x.subject, self + "subject");
            } else {
                damage(OCIDIR_FIND_FORMAT, digest, size,
                       std::string(noun) + " " + digest + " is neither an image manifest nor an image index" + where);
            }
        } catch (const Error &e) {
            if (e.code() == OCIDIR_E_NOMEM)
                throw;
            damage(kind_of_error(e.code()), digest, size, e.message() + where);
        }
    }

    const ocidir &d_;
    Graph &g_;
    std::unordered_map<std::string, size_t> seen_;
};

}  // namespace

Graph walk(const ocidir &d)
{
    Graph g;
    Walker(d, g).run();
    return g;
}

}  // namespace ocd::graph
