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

// Progress of a housekeeping run, reported from the calling thread: at the
// start (advance(0)), after each step, and once at the end.  A callback that
// returns non-zero makes advance()/finish() throw Error(OCIDIR_E_CANCELED)
// naming `op`; callers call them only where stopping leaves nothing
// half-done.
class Progress {
public:
    Progress(ocidir_progress_fn fn, void *user, const char *op) noexcept : fn_(fn), user_(user), op_(op) {}
    void add_total(uint64_t n) noexcept { total_ += n; }
    bool active() const noexcept { return fn_ != nullptr; }  // a callback was given
    void advance(uint64_t n);
    void finish();

private:
    void call();
    ocidir_progress_fn fn_;
    void *user_;
    const char *op_;
    uint64_t done_ = 0, total_ = 0;
};

// The error a canceled operation throws: "<op>: canceled by the progress
// callback (at <done> of <total> bytes)".
[[noreturn]] void throw_canceled(const char *op, uint64_t done, uint64_t total);

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

// ocidir_gc, with its options loaded (flags: OCIDIR_GC_DRY_RUN); `op` names
// the entry point in messages (ocidir_tag_remove_gc collects through it).
std::unique_ptr<ocidir_report> collect(ocidir &d, const ocidir_gc_options_t &o, const char *op = "ocidir_gc");

// ocidir_cache_gc: the blobs of `cache_fd` (sha256/, sha512/) that none of
// `layouts` references.
std::unique_ptr<ocidir_report> collect_cache(int cache_fd, ocidir *const *layouts, size_t n,
                                             const ocidir_gc_options_t &o);

// ocidir_tag_remove_gc: remove `tag`, then collect with `o`.
std::unique_ptr<ocidir_report> remove_tag_and_collect(ocidir &d, std::string_view tag, const ocidir_gc_options_t &o);

}  // namespace ocd::gc
