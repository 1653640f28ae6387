// Paths and directories inside the root being built: an entry's name made
// canonical (or refused), its parent directory resolved inside the root
// (created when missing), and removal of an entry and everything below it
// without ever following a symlink.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/fd.hh"

namespace ocd::unpack {

struct Context;

// The entry's name without leading "/" and "./", "." and empty components
// dropped ("" for the root).  Throws FORMAT for a ".." component, a name
// longer than kMaxPathBytes or deeper than kMaxDepth, or a component longer
// than NAME_MAX.
std::string clean_path(std::string_view raw);

// Split "a/b/c" into "a/b" and "c" ("" and "c" for "c").
void split_parent(const std::string &path, std::string &parent, std::string &name);

// "a" + "b" -> "a/b"; "" + "b" -> "b".
std::string join(const std::string &dir, const std::string &name);

// An O_PATH fd of directory `dir` (a cleaned path) resolved inside the root
// (symlinks followed inside it).  With `create`, missing directories are
// made (mode 0700 until the final pass gives them 0755, recorded in `ctx`).
// Returns 0, or an errno value: ENOENT (missing, !create), ENOTDIR, ELOOP,
// ENAMETOOLONG, ...
int open_dir(Context &ctx, const std::string &dir, bool create, Fd &out);

// Remove `name` in `dirfd` and, for a directory, everything below it.
// Never follows a symlink.  Throws IO.
void remove_tree(int dirfd, const char *name, const std::string &what);

// The names in directory `fd` (not "." / ".."); `fd` must be readable.
std::vector<std::string> list_dir(int fd);

}  // namespace ocd::unpack
