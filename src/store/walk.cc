// The graph walk: a work list of descriptors (a stack for depth first, a
// queue for breadth first), one state per digest (read already, its longest
// chain of indexes above, the documents it references), and the depth policy.
#include "store/walk.hh"

#include <deque>
#include <optional>
#include <unordered_map>

#include "format/digest.hh"
#include "format/json.hh"

namespace ocd::walk {

namespace {

struct Item {
    oci::Descriptor desc;
    Edge edge;
    std::string from;
    int above;
};

// A child document of a read document: what re-levelling needs.
struct Child {
    oci::Descriptor desc;
    Edge edge;
    std::string from;
};

struct State {
    int above = -1;            // the longest chain of indexes above it met so far
    bool attempted = false;    // the walk tried to read it (or refused it as too deep)
    bool index = false;        // it was read and is an index
    bool reported = false;     // a too-deep error was reported for it
    std::vector<Child> kids;   // its manifests/indexes, when it was read and followed
};

bool is_document(const oci::Descriptor &d) { return oci::kind_of_media_type(d.media_type) != oci::Kind::Unknown; }

const char *noun_of(const oci::Descriptor &d)
{
    switch (oci::kind_of_media_type(d.media_type)) {
    case oci::Kind::Index: return "index";
    case oci::Kind::Manifest: return "manifest";
    default: return "blob";
    }
}

class Walker {
public:
    Walker(const ocidir &d, Visitor &v, Order order) : d_(d), v_(v), order_(order) {}

    void run(const std::vector<Root> &roots)
    {
        std::vector<Item> first;
        first.reserve(roots.size());
        for (const Root &r : roots)
            first.push_back({r.desc, Edge::Root, r.from, 0});
        push(std::move(first));
        while (!work_.empty()) {
            Item it = pop();
            if (!visit(it))
                return;
        }
    }

private:
    void push(std::vector<Item> items)
    {
        if (order_ == Order::Depth) {
            for (auto i = items.rbegin(); i != items.rend(); ++i)
                work_.push_back(std::move(*i));
        } else {
            for (Item &i : items)
                work_.push_back(std::move(i));
        }
    }

    Item pop()
    {
        Item it;
        if (order_ == Order::Depth) {
            it = std::move(work_.back());
            work_.pop_back();
        } else {
            it = std::move(work_.front());
            work_.pop_front();
        }
        return it;
    }

    // False: the visitor stopped the walk.
    bool visit(const Item &it)
    {
        Step step = v_.met(Met{it.desc, it.edge, it.from, it.above});
        if (step == Step::Stop)
            return false;
        State &s = state_[it.desc.digest];
        if (s.attempted) {
            const Child self{it.desc, it.edge, it.from};
            relevel(self, it.above);
            return true;
        }
        if (it.above > s.above)
            s.above = it.above;
        if (step == Step::Skip)
            return true;
        s.attempted = true;
        // A re-levelling may have raised it while it waited in the list.
        const int above = s.above;
        const Met m{it.desc, it.edge, it.from, above};
        if (oci::kind_of_media_type(it.desc.media_type) == oci::Kind::Index && above + 1 > kMaxIndexDepth) {
            s.reported = true;
            v_.failed(m, too_deep(it.desc, it.from, above + 1), true);
            return true;
        }
        std::optional<oci::JsonBlob> blob;
        oci::Kind have = oci::Kind::Unknown;
        std::optional<oci::Manifest> man;
        std::optional<oci::Index> idx;
        try {
            blob.emplace(oci::read_json_blob(d_, it.desc.digest, it.desc.size, noun_of(it.desc)));
            have = oci::sniff(blob->doc);
            v_.sniffed(m, *blob, have);
            if (have == oci::Kind::Manifest)
                man.emplace(oci::parse_manifest(blob->doc));
            else if (have == oci::Kind::Index)
                idx.emplace(oci::parse_index(blob->doc));
        } catch (const Error &e) {
            if (e.code() == OCIDIR_E_NOMEM)
                throw;
            v_.failed(m, e, false);
            return true;
        }
        if (have == oci::Kind::Index && above + 1 > kMaxIndexDepth) {
            // Its descriptor did not say index, but it is one.
            s.reported = true;
            v_.failed(m, too_deep(it.desc, it.from, above + 1), true);
            return true;
        }
        Document doc{have, *blob, man ? &*man : nullptr, idx ? &*idx : nullptr};
        step = v_.read(m, doc);
        if (step == Step::Stop)
            return false;
        if (step == Step::Skip || have == oci::Kind::Unknown)
            return true;

        // Queue the children; remember the documents among them for
        // re-levelling.  (`s` is still valid: unordered_map never moves its
        // elements.)
        State &me = s;
        me.index = have == oci::Kind::Index;
        const int child_above = above + (me.index ? 1 : 0);
        const std::string self = std::string(me.index ? "index " : "manifest ") + it.desc.digest + ": ";
        std::vector<Item> kids;
        auto add = [&](const oci::Descriptor &c, Edge e, std::string from) {
            if (is_document(c))
                me.kids.push_back({c, e, from});
            kids.push_back({c, e, std::move(from), child_above});
        };
        if (man) {
            add(man->config, Edge::Config, self + "config");
            for (size_t i = 0; i < man->layers.size(); i++)
                add(man->layers[i], Edge::Layers, self + "layers[" + std::to_string(i) + "]");
            if (man->subject)
                add(*man->subject, Edge::Subject, self + "subject");
        } else {
            for (size_t i = 0; i < idx->manifests.size(); i++)
                add(idx->manifests[i], Edge::Manifests, self + "manifests[" + std::to_string(i) + "]");
            if (idx->subject)
                add(*idx->subject, Edge::Subject, self + "subject");
        }
        push(std::move(kids));
        return true;
    }

    // `first`, met again with `above` indexes over it: when that chain is
    // longer than any before, raise it and what it references.
    void relevel(const Child &first, int above)
    {
        std::vector<std::pair<const Child *, int>> todo;
        auto raise = [&](const std::string &dg, const Child *c, int a) {
            State &s = state_[dg];
            if (a <= s.above)
                return;
            s.above = a;
            if (!s.attempted)
                return;  // still in the work list: it is read at this level when its turn comes
            if (s.index && a + 1 > kMaxIndexDepth) {
                if (!s.reported && c) {
                    s.reported = true;
                    v_.failed(Met{c->desc, c->edge, c->from, a}, too_deep(c->desc, c->from, a + 1), true);
                }
                return;
            }
            for (const Child &k : s.kids)
                todo.push_back({&k, a + (s.index ? 1 : 0)});
        };
        raise(first.desc.digest, &first, above);
        while (!todo.empty()) {
            auto [c, a] = todo.back();
            todo.pop_back();
            raise(c->desc.digest, c, a);
        }
    }

    const ocidir &d_;
    Visitor &v_;
    Order order_;
    std::deque<Item> work_;
    std::unordered_map<std::string, State> state_;
};

}  // namespace

Error too_deep(const oci::Descriptor &desc, const std::string &from, int level)
{
    return Error(OCIDIR_E_FORMAT, "index " + desc.digest + " (at " + from + ") is nested " + std::to_string(level) +
                                      " indexes deep, more than the limit of " + std::to_string(kMaxIndexDepth) +
                                      " (OCIDIR_MAX_INDEX_DEPTH)");
}

void require_declared_kind(const Met &m, const Document &doc)
{
    oci::Kind want = oci::kind_of_media_type(m.desc.media_type);
    if (want == oci::Kind::Unknown || doc.kind == want)
        return;
    const char *have = doc.kind == oci::Kind::Index ? "an image index"
                       : doc.kind == oci::Kind::Manifest ? "an image manifest"
                                                         : "neither an image manifest nor an image index";
    throw Error(OCIDIR_E_FORMAT, "blob " + m.desc.digest + " is " + have + ", but its descriptor at " + m.from +
                                     " says " + quote(m.desc.media_type));
}

void run(const ocidir &d, const std::vector<Root> &roots, Visitor &v, Order order)
{
    Walker(d, v, order).run(roots);
}

}  // namespace ocd::walk
