// The user database of a root filesystem: resolving an OCI config's `User`
// ("user[:group]", names or numbers) against ROOTFS/etc/passwd and
// ROOTFS/etc/group, as a container runtime does before it starts the
// container's process.
//
// Both files are opened with the in-root resolver (symlinks inside the
// rootfs resolve inside it; nothing outside it is ever read), must be
// regular files of at most kMaxFileBytes, and are parsed line by line with
// lines of at most kMaxLineBytes.  No NSS, no other source.
#pragma once

#include <cstdint>
#include <string_view>

namespace ocd::userdb {

inline constexpr uint64_t kMaxFileBytes = 8u << 20;  // per file
inline constexpr size_t kMaxLineBytes = 64u << 10;   // per line

struct Ids {
    uint32_t uid;
    uint32_t gid;
};

// Resolve `spec` beneath the rootfs directory fd `root`.
//  - ""                 -> 0 0
//  - NAME               -> its passwd uid and primary gid
//  - NUMBER             -> that uid; the gid of its passwd entry, else 0
//  - USER:NAME          -> the user's uid, the group's gid from etc/group
//  - USER:NUMBER        -> the user's uid, that gid
// Numbers are decimal, at most 4294967294.  Throws Error: INVALID (a
// malformed spec), NOT_FOUND (a name absent, naming it and the file; a name
// while the file is missing), TOO_LARGE (a file or line past the bounds),
// FORMAT (a file that is not a regular file), IO.
Ids lookup(int root, std::string_view spec);

}  // namespace ocd::userdb
