// The reachability graph of a layout, shared by fsck, gc and clone: every
// index.json entry (tagged or not), and from each manifest or index blob its
// `manifests`, `config`, `layers` and `subject` descriptors, recursively
// (through store/walk: each blob visited once, indexes nested at most
// OCIDIR_MAX_INDEX_DEPTH deep, a deeper one is FORMAT damage).  Manifests and
// indexes are read verified (they must be, to be followed); other blobs are
// only listed here — hashing them is the caller's business.
//
// The partial-index policy: a manifest or index that an image index lists
// in `manifests` and that the layout does not hold is a notice
// (OCIDIR_FIND_ABSENT_CHILD; the node is marked `absent`), because that is
// what a copy of some of an index's platforms looks like.  An absent
// index.json entry or subject, and an absent config or layer of a manifest
// that is present, stay damage (MISSING).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "housekeeping/report.hh"

struct ocidir;

namespace ocd::graph {

struct Node {
    std::string digest;      // grammatical; may be of an unregistered algorithm
    std::string media_type;  // from the first descriptor that referenced it
    int64_t size = 0;        // from that descriptor
    std::string from;        // where that descriptor is, for messages:
                             // "index.json manifests[0]", "manifest sha256:…: layers[2]"
    bool followed = false;   // a manifest or index the walk read and followed
    bool registered = true;  // false: an unregistered algorithm (not looked up)
    bool read = false;       // a manifest or index the walk tried to read:
                             // damage it met is in Graph::findings already
    bool absent = false;     // read, and absent where an index lists it
                             // (an ABSENT_CHILD notice, not damage)
    struct Ref {
        int64_t size;
        std::string from;
    };
    std::vector<Ref> other_sizes;  // later descriptors of this digest that give
                                   // another size (one of them is wrong)
};

struct Graph {
    std::vector<Node> nodes;  // each digest once, in discovery order
    // Damage the walk itself met, as report findings: index.json or
    // oci-layout unreadable (LAYOUT), a manifest/index missing (MISSING),
    // not parsable as its kind (FORMAT), not hashing to its digest or not its
    // size (DIGEST/SIZE), its mediaType disagreeing with its descriptor's
    // (MEDIA_TYPE), unreadable (IO), an index nested deeper than
    // OCIDIR_MAX_INDEX_DEPTH (FORMAT).  Notices (UNSUPPORTED, ABSENT_CHILD)
    // go here too.
    std::vector<ocidir_report::Finding> findings;
    // True when every edge could be followed (no damage among findings):
    // only then does `nodes` hold everything the layout references (an
    // absent child references nothing that could be stored).
    bool complete = true;
};

// Walk d's graph from its index.json as it is now.  Never throws for damage
// in the layout (that becomes findings); throws only for NOMEM or when the
// walk itself cannot proceed.
Graph walk(const ocidir &d);

}  // namespace ocd::graph
