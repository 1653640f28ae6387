// State shared by the pieces of one unpack: the root, the options, the
// report, the paths the current layer wrote (the same-layer whiteout rule)
// and the directories whose modes and times the final pass applies.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "housekeeping/report.hh"
#include "unpack/ownership.hh"

namespace ocd::unpack {

// Bounds on entry names: longer or deeper is OCIDIR_E_FORMAT.  The depth
// bound keeps every fd-holding recursion (removal, the final pass) far from
// the fd limit.
constexpr size_t kMaxPathBytes = 4095;
constexpr size_t kMaxDepth = 256;

struct DirAttrs {
    uint32_t mode = 0755;
    bool has_mtime = false, has_atime = false;
    struct timespec mtime {}, atime {};
    dev_t dev = 0;  // the inode the attributes belong to
    ino_t ino = 0;
};

struct Context {
    Context(int root_fd, const Ownership &o, unsigned f, ocidir_report &r) : root(root_fd), own(o), flags(f), report(r) {}

    int root;                 // O_RDONLY|O_DIRECTORY fd of the destination
    const Ownership &own;
    unsigned flags;           // OCIDIR_UNPACK_*
    ocidir_report &report;
    std::set<std::string> written;          // paths this layer created (cleaned, "" = root)
    std::map<std::string, DirAttrs> dirs;   // directories, for the final pass
    bool xattr_unsupported_reported = false;
    uint64_t bytes = 0, entries = 0;
    uint64_t max_bytes = 0, max_entries = 0;

    // The entry and its descendants are gone: drop their directory records.
    void forget(const std::string &path)
    {
        if (path.empty()) {
            dirs.clear();
            return;
        }
        dirs.erase(path);
        std::string pre = path + "/";
        for (auto it = dirs.lower_bound(pre); it != dirs.end() && it->first.compare(0, pre.size(), pre) == 0;)
            it = dirs.erase(it);
    }

    bool has_written_below(const std::string &path) const
    {
        if (path.empty())
            return !written.empty();
        std::string pre = path + "/";
        auto it = written.lower_bound(pre);
        return it != written.end() && it->compare(0, pre.size(), pre) == 0;
    }
};

}  // namespace ocd::unpack
