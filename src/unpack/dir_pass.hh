// The final pass over directories: modes and times, deepest first, after
// every entry of every layer is in place (so a 0555 directory could still be
// filled, and creating children did not disturb the times set).
#pragma once

namespace ocd::unpack {

struct Context;

// Apply the recorded modes and times of every directory but the root, each
// reopened inside the root without following its last component and
// checked to be the inode recorded (anything else is left alone).
void apply_dir_attrs(Context &ctx);

// The root's recorded mode and times (after the marker is gone).
void apply_root_attrs(Context &ctx);

}  // namespace ocd::unpack
