// Garbage collection: of a layout's own blobs/ (ocidir_gc), of a shared blob
// directory that several layouts use (ocidir_cache_gc), and removing an image
// (ocidir_image_remove); the grace period; progress reports shared with
// clone.
//
// Safety against writers in other processes: the index lock of every layout
// concerned is held from the mark (the graph walk) to the end of the sweep,
// so no tag moves meanwhile, and ocidir_builder_commit() checks under that
// same lock that its blobs are still present.  Unreferenced blobs younger
// than the grace period are kept (a writer may be about to tag them with
// ocidir_tag_set(), which has no such check), and temporary files are
// removed only when no live writer holds them.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "ocidir.h"
#include "housekeeping/report.hh"

struct ocidir;

namespace ocd {

// Progress of a housekeeping run, reported from the calling thread: at most
// four times a second while it runs, and once at the end.
class Progress {
public:
    Progress(ocidir_progress_fn fn, void *user) noexcept : fn_(fn), user_(user) {}
    void add_total(uint64_t n) noexcept { total_ += n; }
    void advance(uint64_t n) noexcept;
    void finish() noexcept;

private:
    ocidir_progress_fn fn_;
    void *user_;
    uint64_t done_ = 0, total_ = 0;
    bool started_ = false;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace ocd

namespace ocd::graph {
struct Graph;
}

namespace ocd::gc {

// Throws, with the code of the first damage and a message listing the
// damage, unless the walk of d's graph could follow every edge.
void check_complete(const ocidir &d, const graph::Graph &g, const char *op);

// ocidir_set_gc_grace: seconds >= 0, or -1 for the default.
void set_grace(ocidir &d, int64_t seconds);

// ocidir_gc.  Flags: OCIDIR_GC_DRY_RUN.
std::unique_ptr<ocidir_report> collect(ocidir &d, unsigned flags, ocidir_progress_fn progress, void *user);

// ocidir_cache_gc: the blobs of `cache_fd` (sha256/, sha512/) that none of
// `layouts` references.
std::unique_ptr<ocidir_report> collect_cache(int cache_fd, ocidir *const *layouts, size_t n, unsigned flags,
                                             ocidir_progress_fn progress, void *user);

// ocidir_image_remove.  Flags: OCIDIR_REMOVE_GC.  Without it the report is
// empty.
std::unique_ptr<ocidir_report> remove_image(ocidir &d, std::string_view tag, unsigned flags);

}  // namespace ocd::gc
