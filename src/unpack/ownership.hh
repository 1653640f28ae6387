// Owners of unpacked entries: the three modes of ocidir_unpack_options_t
// (the tar's ids, ids shifted through umoci-style maps, or rootless: the
// caller owns everything and the tar's owner is kept in the
// `user.rootlesscontainers` xattr).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ocidir.h"

namespace ocd::unpack {

class Ownership {
public:
    // Throws INVALID for an unknown mode, an empty or overflowing range, or a
    // map given in a mode that does not use it.
    Ownership(int mode, const ocidir_idmap_t *uid_map, size_t n_uid, const ocidir_idmap_t *gid_map, size_t n_gid,
              int64_t fallback_uid, int64_t fallback_gid);

    int mode() const noexcept { return mode_; }
    bool rootless() const noexcept { return mode_ == OCIDIR_UNPACK_OWNER_ROOTLESS; }

    // Set the owner of the inode `fd` (any fd, O_PATH included; a symlink's
    // own owner) to the ids of the tar entry.  Does nothing in rootless mode.
    // Throws INVALID naming `entry` and the id for an id that is not mapped
    // (by the maps, or by the user namespace: EINVAL) when no fallback is
    // set; IO for other failures.
    void apply(int fd, uint32_t uid, uint32_t gid, const std::string &entry) const;

    // The `user.rootlesscontainers` value for a tar owner; empty for root:root.
    static std::string rootless_xattr(uint32_t uid, uint32_t gid);

private:
    struct Range {
        uint32_t container, host, size;
    };
    static std::vector<Range> load(const ocidir_idmap_t *m, size_t n, const char *which);
    bool map_id(const std::vector<Range> &m, uint32_t id, uint32_t &out) const;

    int mode_;
    std::vector<Range> uids_, gids_;
    int64_t fallback_uid_, fallback_gid_;
};

}  // namespace ocd::unpack
