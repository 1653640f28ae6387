// Whiteouts (`.wh.NAME`) and opaque markers (`.wh..wh..opq`): they remove
// what lower layers put there, and never what the current layer wrote
// (whatever the order of the entries in the tar).
#pragma once

#include <string>

namespace ocd::unpack {

struct Context;

constexpr const char *kWhiteoutPrefix = ".wh.";
constexpr const char *kOpaqueName = ".wh..wh..opq";

// True if `name` (one component) is a whiteout or an opaque marker.
bool is_whiteout(const std::string &name) noexcept;

// Apply the whiteout or opaque marker `name` found in directory `parent`
// (cleaned path).  Throws FORMAT for a whiteout naming "", "." or "..", IO.
void apply_whiteout(Context &ctx, const std::string &parent, const std::string &name);

}  // namespace ocd::unpack
