// The one walk over the graph of manifests and indexes, used by every reader
// of that graph: fsck, gc and clone (through housekeeping/graph), the
// platform search of ocidir_image_open() and ocidir_referrers() (image/),
// and the under-lock check of ocidir_tag_set() / ocidir_index_add() (capi/).
//
// The walk starts from root descriptors (index.json's entries, or the one
// descriptor a ref names), tells a visitor about every descriptor it meets,
// and reads and parses (verified) those the visitor asks it to follow, each
// digest at most once.  It is iterative (an explicit stack or queue), so
// neither deep nesting nor a huge fan-out can exhaust the C stack.
//
// The depth policy, the same for every walk: an index's level is the number
// of indexes on the longest chain that leads to it from a root, itself
// included (an index named by index.json or by the ref is at level 1).  An
// index above level kMaxIndexDepth (OCIDIR_MAX_INDEX_DEPTH, 16) is not read:
// the visitor's failed() gets an OCIDIR_E_FORMAT error naming it.  Because
// the level is that of the longest chain, a blob reached first by a short
// path and later by a longer one is re-levelled (its nested indexes with it),
// so every walk from the same roots agrees on which index is too deep,
// whatever order it visits in.  Each index can be re-levelled at most
// kMaxIndexDepth times, so the walk stays linear in the graph's size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hh"
#include "format/oci.hh"
#include "store/json_blob.hh"
#include "ocidir.h"

struct ocidir;

namespace ocd::walk {

inline constexpr int kMaxIndexDepth = OCIDIR_MAX_INDEX_DEPTH;

// Which member of its document a descriptor is.
enum class Edge {
    Root,       // an index.json entry, or the descriptor the walk started from
    Manifests,  // manifests[i] of an index
    Config,     // config of a manifest
    Layers,     // layers[i] of a manifest
    Subject,    // subject of a manifest or index
};

// A descriptor as the walk meets it.
struct Met {
    const oci::Descriptor &desc;
    Edge edge;
    const std::string &from;  // where it is, for messages: "index.json manifests[0]",
                              // "index sha256:…: manifests[2]", "manifest sha256:…: layers[1]"
    int above;                // indexes on the longest chain above it (0 for a root)
};

// A visitor's answer.
enum class Step {
    Skip,    // do not read this one (or: do not queue this document's children)
    Follow,  // read and parse it (once per digest), then queue its children
    Stop,    // end the walk now
};

// A followed blob, read whole, verified and parsed.
struct Document {
    oci::Kind kind;                            // what the blob is (sniffed), not what its descriptor says
    oci::JsonBlob &blob;                       // the visitor may move from it in read()
    const oci::Manifest *manifest = nullptr;   // kind == Manifest
    const oci::Index *index = nullptr;         // kind == Index
};

class Visitor {
public:
    virtual ~Visitor() = default;
    // Every descriptor the walk meets, every time it meets it, in walk order.
    // Follow asks for the blob to be read unless it was read already.
    virtual Step met(const Met &m) = 0;
    // The blob of a followed descriptor was read and verified; `have` is what
    // it is.  Called before it is parsed (a parse failure goes to failed()).
    virtual void sniffed(const Met &m, const oci::JsonBlob &blob, oci::Kind have)
    {
        (void)m, (void)blob, (void)have;
    }
    // The blob was parsed.  Follow queues its children (an Unknown document
    // has none); Skip does not; Stop ends the walk.
    virtual Step read(const Met &m, Document &doc)
    {
        (void)m, (void)doc;
        return Step::Follow;
    }
    // Reading or parsing a followed blob failed (never for NOMEM, which the
    // walk throws), or it is an index above kMaxIndexDepth (`too_deep`, a
    // FORMAT error).  The default throws the error; a visitor that records
    // it instead lets the walk go on with the rest.
    virtual void failed(const Met &m, const Error &e, bool too_deep)
    {
        (void)m, (void)too_deep;
        throw e;
    }
};

enum class Order {
    Depth,    // depth first, in document order (the first match of a search wins)
    Breadth,  // level by level
};

struct Root {
    oci::Descriptor desc;
    std::string from;
};

// Walk d's graph from `roots`.  Throws what the visitor throws, and NOMEM.
void run(const ocidir &d, const std::vector<Root> &roots, Visitor &v, Order order);

// The FORMAT error of an index above kMaxIndexDepth.
Error too_deep(const oci::Descriptor &desc, const std::string &from, int level);

// Throws FORMAT unless the document is what its descriptor's media type says
// (for the readers that trust the media type: image_open, referrers).
void require_declared_kind(const Met &m, const Document &doc);

}  // namespace ocd::walk
