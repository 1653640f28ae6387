// One tar entry applied to the root: whiteouts handed to whiteout.cc,
// everything else created with *at() calls on one plain name in a parent
// resolved inside the root, replacing what lower layers had there
// (directories merge), with owner, mode (after the owner), xattrs and times.
#pragma once

#include "unpack/tar_reader.hh"

namespace ocd::unpack {

struct Context;

// Apply `e` (its content read from `tar`).  Throws Error with a message that
// does not name the layer or the entry (the caller adds both).
void apply_entry(Context &ctx, TarReader &tar, const TarEntry &e);

}  // namespace ocd::unpack
