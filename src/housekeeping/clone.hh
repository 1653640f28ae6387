// Cloning a layout (ocidir_clone): a new layout with the same index.json and
// every reachable blob, each reflinked, hard-linked or copied and verified as
// it is taken.  It is built in a sibling temporary directory
// (`.<name>.ocidir-clone-<random>`) and renamed into place whole.
#pragma once

#include <memory>
#include <optional>

#include "base/error.hh"
#include "store/layout.hh"
#include "ocidir.h"
#include "housekeeping/report.hh"

namespace ocd::clone {

struct Result {
    std::unique_ptr<ocidir> layout;  // the new layout opened writable, when asked for
    std::unique_ptr<ocidir_report> report;
    // Set when the clone was renamed into place but flushing its parent
    // directory failed (NOT_DURABLE): the caller hands out layout and report,
    // then reports this error.
    std::optional<Error> not_durable;
};

// Flags: OCIDIR_CLONE_NO_HARDLINK.
Result clone(const ocidir &src, int dirfd, const char *path, const ocidir_clone_options_t &o, bool open_result);

}  // namespace ocd::clone
