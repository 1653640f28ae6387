// Copying one image between layouts (ocidir_copy): the manifest for a
// platform, or with OCIDIR_COPY_ALL_PLATFORMS the whole index a ref names,
// and every blob it references, each taken as clone takes it (reflink, else
// hard link, else copy; verified), into the destination's write place (its
// blobs/<alg>, or the added blob directory it writes to).  The tag is written
// last, under the index lock, after every blob is in place and flushed.
#pragma once

#include <memory>
#include <string_view>

#include "housekeeping/report.hh"
#include "ocidir.h"

struct ocidir;

namespace ocd::copy {

std::unique_ptr<ocidir_report> copy(const ocidir &src, std::string_view ref, const char *platform, ocidir &dst,
                                    std::string_view tag, const ocidir_copy_options_t &o);

}  // namespace ocd::copy
