// The layout handle: the root fd, where each algorithm's blobs live (the
// layout's own blobs/<alg>, or a followed blobs/<alg> symlink), the added
// blob directories and the write target.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "format/digest.hh"
#include "base/fd.hh"

namespace ocd {

// One directory that may hold blobs of one algorithm.
struct Place {
    enum Kind { Own, Followed, Added };
    Kind kind;
    int base;          // fd the lookup starts from (borrowed from the handle)
    std::string dir;   // the algorithm directory relative to base; "" = base itself
    std::string label; // human-readable, for messages

    std::string blob_path(const Digest &dg) const { return dir.empty() ? dg.hex : dir + "/" + dg.hex; }
};

}  // namespace ocd

struct ocidir {
    ocd::Fd root;
    std::string label;  // the path the caller gave, for messages
    unsigned flags = 0;
    bool readonly = false;
    // Bound on any JSON document read (ocidir_set_json_limit).
    static constexpr size_t kDefaultJsonLimit = size_t(64) << 20;
    std::atomic<size_t> json_limit{kDefaultJsonLimit};
    // gc keeps unreferenced blobs modified less than this many seconds ago
    // (ocidir_set_gc_grace; OCIDIR_GC_GRACE_DEFAULT).
    static constexpr int64_t kDefaultGcGrace = 3600;
    std::atomic<int64_t> gc_grace{kDefaultGcGrace};

    struct AlgState {
        bool followed = false;  // blobs/<alg> is a symlink leading outside, opened at open
        ocd::Fd dir;            // its target, when followed
        std::string target;     // readlink text, for messages
    } algs[ocd::kAlgCount];

    struct Added {
        ocd::Fd fd;
        std::string label;
    };
    mutable std::mutex mu;  // guards added and write_target
    std::vector<std::unique_ptr<Added>> added;
    int write_target = -1;  // index into added, or -1

    // Where blobs of `alg` are looked up, in order.
    std::vector<ocd::Place> read_places(ocd::Alg alg) const;
    // Where new blobs of `alg` are written.
    ocd::Place write_place(ocd::Alg alg) const;
    // The layout's own blobs/<alg> (Own or Followed).
    ocd::Place own_place(ocd::Alg alg) const;
};

namespace ocd {

// Bound on the size of the `oci-layout` file read by open, fsck and clone.
inline constexpr size_t kLayoutFileMax = 64 * 1024;

// ocidir_open: validates flags, opens or creates the layout.  A writable
// handle removes the stale temporary files of its blob directories; those of
// index.json updates belong to the index module
// (index::remove_stale_temps_if_idle), which ocidir_open calls next.
std::unique_ptr<ocidir> open_layout(int dirfd, const char *path, unsigned flags);

// The content of `oci-layout`: a JSON object (hardened parser) whose string
// imageLayoutVersion is 1.x.  Throws FORMAT, or UNSUPPORTED for another version.
void check_layout_version(const std::string &text, const std::string &label);

// ocidir_add_blobdir_fd.
void add_blobdir(ocidir &d, int fd, unsigned flags);

// The path of an open fd (from /proc/self/fd), or "fd N", for messages.
std::string fd_path_label(int fd);

}  // namespace ocd
