// ocidir_unpack: the destination (absent or empty, created or used in
// place), the marker of an unpack in progress, every layer applied in order
// through the verifying readers, the final directory pass, one syncfs, and
// on any failure the destination made absent or empty again.
#pragma once

#include <memory>

#include "ocidir.h"

struct ocidir_image;
struct ocidir_report;

namespace ocd::unpack {

// Throws Error (the codes of ocidir_unpack); the report holds the findings
// and the totals (layers applied, bytes of content written).
std::unique_ptr<ocidir_report> unpack(const ocidir_image &img, int dirfd, const char *path,
                                      const ocidir_unpack_options_t &opts);

}  // namespace ocd::unpack
