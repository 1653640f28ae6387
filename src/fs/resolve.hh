// Safe path resolution: the one module through which every path inside a
// layout or an added blob directory is opened.
//
// Paths are resolved beneath a root fd: with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS) where the kernel has it (EAGAIN retried a bounded
// number of times), otherwise with a component-by-component O_NOFOLLOW walk
// that keeps its own stack of directory fds, expands symlinks itself, refuses
// absolute symlinks, `..` above the root and any symlink on procfs.  Either
// way a lookup that would leave the root fails with EXDEV (or ELOOP for a
// magic link), which callers report as OCIDIR_E_ESCAPE.
//
// Everything else in the library works on a resolved directory fd plus a
// single file name (mkdirat, linkat, renameat, unlinkat), which follows no
// symlink.
#pragma once

#include <string_view>

#include "base/fd.hh"

namespace ocd::resolve {

// Open `path` (relative; "" means the root itself) beneath `root`.  `flags`
// are open(2) flags; O_CLOEXEC and O_NOCTTY are always added.  A final
// symlink is followed (within the root) unless `flags` has O_NOFOLLOW.
// Returns 0 and sets `out`, or an errno value (EXDEV/ELOOP for an escape).
int open_beneath(int root, std::string_view path, int flags, Fd &out) noexcept;

// Open `path` inside `root` as if `root` were "/" (a container's root
// filesystem being built): openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
// or the component walk interpreting symlinks itself without openat2.  An
// absolute path or absolute symlink starts again at `root`, ".." at `root`
// stays there; nothing outside `root` is ever reached.  A final symlink is
// followed (inside the root) unless `flags` has O_NOFOLLOW, and then it is
// ELOOP (or the link itself with O_PATH).  Returns 0 or an errno value.
int open_in_root(int root, std::string_view path, int flags, Fd &out) noexcept;

// Same, throwing an Error that names `what` (ENOENT -> NOT_FOUND, EXDEV/ELOOP
// -> ESCAPE, others -> IO).
Fd open_beneath_or_throw(int root, std::string_view path, int flags, std::string_view what);

// The caller's own path to a layout (followed like any path the caller
// chooses): openat(dirfd, path or ".", flags | O_CLOEXEC).
int open_caller_path(int dirfd, const char *path, int flags, Fd &out) noexcept;

// Open `name` in `dirfd`, following symlinks wherever they lead (a link the
// caller chose to trust, such as an opted-in blobs/<alg>), but not /proc
// magic links: ELOOP for those where openat2 is used; without openat2 this
// is a plain openat(2).
int open_trusted_link(int dirfd, const char *name, int flags, Fd &out) noexcept;

// True if openat2 is used in this process.
bool uses_openat2() noexcept;

// True if `name` is one plain directory entry name (no '/', not "." or "..").
bool is_plain_name(std::string_view name) noexcept;

}  // namespace ocd::resolve
