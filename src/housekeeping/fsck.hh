// fsck: a complete, read-only check of a layout.  The graph walk (graph.hh)
// reads and verifies every manifest and index; then every other reachable
// blob and every blob file in the layout's own blobs/<alg>/ is hashed, up to
// the size found when planned (unreferenced ones only within
// OCIDIR_FSCK_MAX_UNREFERENCED_HASH bytes), in parallel, largest first;
// unreferenced blobs, names that are not digests and stray temporary files
// are reported as notices.
#pragma once

#include <memory>

#include "ocidir.h"
#include "housekeeping/report.hh"

struct ocidir;

namespace ocd::fsck {

// Run the check with `threads` hashing workers (0: one per online CPU; at
// most 64, and never more than there are blobs to hash).
// `progress` (may be null) is called from the calling thread only, a few
// times per second and once at the end with done == total.  Damage becomes
// findings; throws only when the check itself cannot run (NOMEM, a worker
// thread that cannot start).
std::unique_ptr<ocidir_report> run(const ocidir &d, unsigned threads, ocidir_progress_fn progress, void *user);

}  // namespace ocd::fsck
