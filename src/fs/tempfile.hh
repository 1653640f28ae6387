// Temporary files that become a named file atomically and durably.
//
// A TempFile lives in the directory it will be published in, so publishing
// never crosses a mount.  It is an unnamed O_TMPFILE where the filesystem
// supports it (a crash leaves nothing at all), otherwise a uniquely named
// ".ocidir-tmp-<random>" file held under flock(LOCK_EX) for as long as it
// lives, which marks it as owned by a live writer: remove_stale_temps()
// removes only the ones whose lock it can take.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.hh"

namespace ocd {

// The name prefix of named temporary files (the index.json update's own,
// ".ocidir-index-", is store/index.cc's kIndexTempPrefix).
inline constexpr std::string_view kTempPrefix = ".ocidir-tmp-";

class TempFile {
public:
    // Create a temporary file in `dir` (an O_RDONLY|O_DIRECTORY fd, taken
    // over).  `label` names the directory in error messages.
    TempFile(Fd dir, std::string label);
    TempFile(TempFile &&) noexcept = default;
    TempFile &operator=(TempFile &&) = delete;
    ~TempFile();

    int fd() const noexcept { return fd_.get(); }
    int dir_fd() const noexcept { return dir_.get(); }
    const std::string &label() const noexcept { return label_; }

    // Write everything (retrying short writes and EINTR); throws on failure.
    void write_all(const void *buf, size_t len);

    // Flush the data, give the file `name` without replacing anything, and,
    // when it was created, flush the directory (spending the TempFile).
    // Returns false, having changed nothing, if `name` exists: the TempFile
    // is then still whole, for replace() or to be discarded.  Throws
    // Error(NOT_DURABLE) when `name` was created but the directory flush
    // failed.
    // With `flush` false, neither the data nor the directory is flushed:
    // the caller has made the data durable already (a syncfs after the last
    // write) and flushes the directory itself afterwards (flush_dir()).
    bool publish(const std::string &name, bool flush = true);

    // Flush the data and put the file in place of `name` with one rename
    // (a reader of `name` finds the old file or this one, never nothing),
    // then flush the directory.  Throws Error(NOT_DURABLE) when the rename
    // was done but the directory flush failed.  Spends the TempFile.
    // `flush` as for publish().
    void replace(const std::string &name, bool flush = true);

    // fsync the directory after `name` changed in it (or was found there):
    // Error(NOT_DURABLE) naming the directory and the errno on failure.
    void flush_dir(const std::string &name);

    // Tell the kernel that `len` more bytes were added (by write_all or a
    // kernel copy); once enough accumulate, their writeback starts in the
    // background so that the flush at publish() has little left to do.
    void note_written(uint64_t len) noexcept;
    // Start the writeback of every byte written and not yet started (the
    // last part of a file, or a whole small one): once no more bytes come,
    // the disk can write them while the caller goes on to other work (the
    // next layer of an image) before the flush that waits for them.
    void start_writeback() noexcept;

private:
    void create_named();
    bool publish_named(const std::string &name);
    int link_unnamed(const std::string &name) noexcept;
    void copy_into_named();

    Fd dir_;
    Fd fd_;
    std::string label_;
    std::string tmpname_;  // empty for O_TMPFILE
    bool done_ = false;
    bool flushed_ = false;
    uint64_t written_ = 0;
    uint64_t writeback_from_ = 0;
};

// Remove temporary files in `dir` that no live writer holds.  Errors are
// ignored: cleanup is best effort and never fails an open.
void remove_stale_temps(int dir) noexcept;

// The temporary files in `dir` that no live writer holds (a writer's flock
// is probed, never waited for), by name with their size; with `remove`, each
// is unlinked and listed only if that worked.  Errors are ignored, as above.
struct StaleTemp {
    std::string name;
    uint64_t size = 0;
};
std::vector<StaleTemp> stale_temps(int dir, bool remove) noexcept;
// The same among `names`, a listing of `dir` the caller made already.
std::vector<StaleTemp> stale_temps(int dir, const std::vector<std::string> &names, bool remove) noexcept;

// fsync a directory fd (throws naming `label`).
void fsync_dir(int dirfd, std::string_view label);

// True when OCIDIR_FORCE_NAMED_TEMP=1 was set when first asked.
bool force_named_temp() noexcept;

}  // namespace ocd
