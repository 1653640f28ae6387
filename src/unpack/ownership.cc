#include "unpack/ownership.hh"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.hh"

namespace ocd::unpack {

namespace {

constexpr uint32_t kNoopId = 0xffffffffu;  // rootlesscontainers' "unchanged"

void put_varint(std::string &s, uint64_t v)
{
    while (v >= 0x80) {
        s.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    s.push_back(static_cast<char>(v));
}

}  // namespace

std::vector<Ownership::Range> Ownership::load(const ocidir_idmap_t *m, size_t n, const char *which)
{
    if (n > 0 && !m)
        throw Error(OCIDIR_E_INVALID, std::string("ocidir_unpack: ") + which + " is NULL with " + std::to_string(n) +
                                          " ranges");
    std::vector<Range> out;
    for (size_t i = 0; i < n; i++) {
        const ocidir_idmap_t &r = m[i];
        if (r.size == 0 || uint64_t(r.container_id) + r.size - 1 > 0xfffffffeu ||
            uint64_t(r.host_id) + r.size - 1 > 0xfffffffeu)
            throw Error(OCIDIR_E_INVALID, std::string("ocidir_unpack: ") + which + " range " +
                                              std::to_string(r.container_id) + ":" + std::to_string(r.host_id) +
                                              ":" + std::to_string(r.size) + " is empty or overflows");
        out.push_back({r.container_id, r.host_id, r.size});
    }
    return out;
}

Ownership::Ownership(int mode, const ocidir_idmap_t *uid_map, size_t n_uid, const ocidir_idmap_t *gid_map,
                     size_t n_gid, int64_t fallback_uid, int64_t fallback_gid)
    : mode_(mode), fallback_uid_(fallback_uid), fallback_gid_(fallback_gid)
{
    if (mode != OCIDIR_UNPACK_OWNER_TAR && mode != OCIDIR_UNPACK_OWNER_MAP && mode != OCIDIR_UNPACK_OWNER_ROOTLESS)
        throw Error(OCIDIR_E_INVALID, "ocidir_unpack: unknown owner_mode " + std::to_string(mode));
    if (mode != OCIDIR_UNPACK_OWNER_MAP && (n_uid || n_gid))
        throw Error(OCIDIR_E_INVALID, "ocidir_unpack: uid_map/gid_map given but owner_mode is not OCIDIR_UNPACK_OWNER_MAP");
    for (int64_t f : {fallback_uid, fallback_gid})
        if (f < -1 || f > 0xfffffffe)
            throw Error(OCIDIR_E_INVALID, "ocidir_unpack: fallback id " + std::to_string(f) + " out of range");
    uids_ = load(uid_map, n_uid, "uid_map");
    gids_ = load(gid_map, n_gid, "gid_map");
}

bool Ownership::map_id(const std::vector<Range> &m, uint32_t id, uint32_t &out) const
{
    for (const Range &r : m)
        if (id >= r.container && id - r.container < r.size) {
            out = r.host + (id - r.container);
            return true;
        }
    return false;
}

void Ownership::apply(int fd, uint32_t uid, uint32_t gid, const std::string &entry) const
{
    if (mode_ == OCIDIR_UNPACK_OWNER_ROOTLESS)
        return;
    uint32_t hu = uid, hg = gid;
    if (mode_ == OCIDIR_UNPACK_OWNER_MAP) {
        if (!map_id(uids_, uid, hu)) {
            if (fallback_uid_ < 0)
                throw Error(OCIDIR_E_INVALID, entry + ": uid " + std::to_string(uid) + " is outside the uid map");
            hu = static_cast<uint32_t>(fallback_uid_);
        }
        if (!map_id(gids_, gid, hg)) {
            if (fallback_gid_ < 0)
                throw Error(OCIDIR_E_INVALID, entry + ": gid " + std::to_string(gid) + " is outside the gid map");
            hg = static_cast<uint32_t>(fallback_gid_);
        }
    }
    if (fchownat(fd, "", hu, hg, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
        return;
    int err = errno;
    if (err != EINVAL)
        throw Error(OCIDIR_E_IO, entry + ": chown to " + std::to_string(hu) + ":" + std::to_string(hg) + ": " +
                                     errno_text(err), err);
    // EINVAL: an id the user namespace does not map.  Find which, and take
    // the fallback for it if there is one.
    bool uid_ok = fchownat(fd, "", hu, static_cast<gid_t>(-1), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0;
    if (!uid_ok) {
        if (fallback_uid_ < 0)
            throw Error(OCIDIR_E_INVALID, entry + ": uid " + std::to_string(hu) +
                                              " is not mapped in this user namespace (set a fallback uid)", EINVAL);
        hu = static_cast<uint32_t>(fallback_uid_);
    }
    bool gid_ok = fchownat(fd, "", static_cast<uid_t>(-1), hg, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0;
    if (!gid_ok) {
        if (fallback_gid_ < 0)
            throw Error(OCIDIR_E_INVALID, entry + ": gid " + std::to_string(hg) +
                                              " is not mapped in this user namespace (set a fallback gid)", EINVAL);
        hg = static_cast<uint32_t>(fallback_gid_);
    }
    if (fchownat(fd, "", hu, hg, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
        err = errno;
        throw Error(err == EINVAL ? OCIDIR_E_INVALID : OCIDIR_E_IO,
                    entry + ": chown to fallback " + std::to_string(hu) + ":" + std::to_string(hg) + ": " +
                        errno_text(err), err);
    }
}

std::string Ownership::rootless_xattr(uint32_t uid, uint32_t gid)
{
    // umoci's encoding: root (0) is "no change" (the caller, who is root in
    // the rootless container); nothing at all for root:root.
    uint32_t u = uid == 0 ? kNoopId : uid;
    uint32_t g = gid == 0 ? kNoopId : gid;
    if (u == kNoopId && g == kNoopId)
        return {};
    std::string s;
    s.push_back(0x08);  // field 1, varint
    put_varint(s, u);
    s.push_back(0x10);  // field 2, varint
    put_varint(s, g);
    return s;
}

}  // namespace ocd::unpack
