// The reachability graph of a layout: the walk of store/walk (breadth
// first from index.json, each digest once, iterative, with its depth policy),
// never stopping at damage: whatever cannot be read or parsed becomes a
// finding and the walk goes on with the rest.
#include "housekeeping/graph.hh"

#include <new>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "format/digest.hh"
#include "base/error.hh"
#include "fs/fileio.hh"
#include "store/index.hh"
#include "store/json_blob.hh"
#include "format/json.hh"
#include "store/layout.hh"
#include "format/oci.hh"
#include "store/walk.hh"

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

// The housekeeping view of the walk: every descriptor becomes a node (each
// digest once), every manifest or index of a known media type is followed,
// and whatever cannot be read or parsed becomes a finding while the walk goes
// on with the rest.
class Collector : public ocd::walk::Visitor {
public:
    Collector(const ocidir &d, Graph &g) : d_(d), g_(g) {}

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
        std::vector<ocd::walk::Root> roots;
        size_t i = 0;
        for (json::Element e : oci::index_manifests(*doc)) {
            try {
                roots.push_back({oci::parse_descriptor(e, d_.label + "/index.json: manifests[" + std::to_string(i) + "]"),
                                 "index.json manifests[" + std::to_string(i) + "]"});
            } catch (const Error &err) {
                if (err.code() == OCIDIR_E_NOMEM)
                    throw;
                damage(OCIDIR_FIND_LAYOUT, "index.json", 0, err.message());
            }
            i++;
        }
        // Breadth first: nodes are listed level by level.
        ocd::walk::run(d_, roots, *this, ocd::walk::Order::Breadth);
    }

    // A descriptor: a new node, or another reference to a known one.
    ocd::walk::Step met(const ocd::walk::Met &m) override
    {
        const oci::Descriptor &desc = m.desc;
        auto [it, fresh] = seen_.try_emplace(desc.digest, g_.nodes.size());
        if (!fresh) {
            Node &n = g_.nodes[it->second];
            if (n.size != desc.size)
                n.other_sizes.push_back({desc.size, m.from});
            return ocd::walk::Step::Skip;
        }
        Node n;
        n.digest = desc.digest;
        n.media_type = desc.media_type;
        n.size = desc.size;
        n.from = m.from;
        n.registered = classify_digest(desc.digest) == 0;
        if (!n.registered)
            g_.findings.push_back({OCIDIR_FIND_UNSUPPORTED, n.digest, static_cast<uint64_t>(n.size),
                                   "descriptor at " + n.from + " uses an algorithm this library does not register (" +
                                       quote(n.digest) + "); the blob is not checked"});
        const bool follow = n.registered && oci::kind_of_media_type(n.media_type) != oci::Kind::Unknown;
        n.read = follow;
        g_.nodes.push_back(std::move(n));
        return follow ? ocd::walk::Step::Follow : ocd::walk::Step::Skip;
    }

    // The blob's own mediaType against its descriptor's, checked before it
    // is parsed so that a parse failure does not hide the disagreement.
    void sniffed(const ocd::walk::Met &m, const oci::JsonBlob &b, oci::Kind have) override
    {
        const std::string &digest = m.desc.digest;
        const std::string &desc_mt = m.desc.media_type;
        const uint64_t size = static_cast<uint64_t>(m.desc.size);
        const char *noun = oci::kind_of_media_type(desc_mt) == oci::Kind::Index ? "index" : "manifest";
        std::optional<json::Element> own_mt;
        if (json::is_object(b.doc.root()))
            own_mt = json::member(b.doc.root().get_object().value_unsafe(), "mediaType");
        if (own_mt && own_mt->type() == simdjson::dom::element_type::STRING) {
            std::string_view mt = own_mt->get_string().value_unsafe();
            if (mt != desc_mt)
                damage(OCIDIR_FIND_MEDIA_TYPE, digest, size,
                       std::string(noun) + " " + digest + " has mediaType " + quote(mt) + " but its descriptor at " +
                           m.from + " says " + quote(desc_mt));
        } else if (have != oci::Kind::Unknown && have != oci::kind_of_media_type(desc_mt)) {
            damage(OCIDIR_FIND_MEDIA_TYPE, digest, size,
                   "blob " + digest + " is shaped as an image " + (have == oci::Kind::Index ? "index" : "manifest") +
                       " but its descriptor at " + m.from + " says " + quote(desc_mt));
        }
    }

    // Followed as what it is, so that damage above does not hide what it
    // references.
    ocd::walk::Step read(const ocd::walk::Met &m, ocd::walk::Document &doc) override
    {
        if (doc.kind == oci::Kind::Unknown) {
            const char *noun = oci::kind_of_media_type(m.desc.media_type) == oci::Kind::Index ? "index" : "manifest";
            damage(OCIDIR_FIND_FORMAT, m.desc.digest, static_cast<uint64_t>(m.desc.size),
                   std::string(noun) + " " + m.desc.digest + " is neither an image manifest nor an image index" +
                       where(m));
            return ocd::walk::Step::Skip;
        }
        g_.nodes[seen_.at(m.desc.digest)].followed = true;
        return ocd::walk::Step::Follow;
    }

    // A manifest or index that could not be read, parsed, or is nested too
    // deep.  One that is absent where an image index lists it is what a copy
    // of some platforms looks like: a notice.  Anywhere else (an index.json
    // entry, a subject) absence is damage.
    void failed(const ocd::walk::Met &m, const Error &e, bool too_deep) override
    {
        if (e.code() == OCIDIR_E_NOMEM)
            throw e;
        const uint64_t size = static_cast<uint64_t>(m.desc.size);
        if (!too_deep && e.code() == OCIDIR_E_NOT_FOUND && m.edge == ocd::walk::Edge::Manifests) {
            g_.nodes[seen_.at(m.desc.digest)].absent = true;
            g_.findings.push_back({OCIDIR_FIND_ABSENT_CHILD, m.desc.digest, size,
                                   e.message() + where(m) +
                                       ": an index listing a manifest the layout does not hold (as a copy of "
                                       "some of its platforms does); not damage"});
            return;
        }
        damage(too_deep ? OCIDIR_FIND_FORMAT : kind_of_error(e.code()), m.desc.digest, size, e.message() + where(m));
    }

private:
    static std::string where(const ocd::walk::Met &m) { return " (referenced from " + m.from + ")"; }

    void damage(int kind, std::string subject, uint64_t size, std::string msg)
    {
        g_.findings.push_back({kind, std::move(subject), size, std::move(msg)});
        g_.complete = false;
    }

    const ocidir &d_;
    Graph &g_;
    std::unordered_map<std::string, size_t> seen_;
};

}  // namespace

Graph walk(const ocidir &d)
{
    Graph g;
    Collector(d, g).run();
    return g;
}

}  // namespace ocd::graph
