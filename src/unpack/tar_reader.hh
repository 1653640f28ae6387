// Tar entries of one layer: libarchive's reader (tar format only, no
// filter) fed through callbacks from the verifying layer reader, so every
// byte it parses has passed through the blob digest and DiffID hashes.
// After the end-of-archive, drain() reads the rest of the stream so the
// DiffID covers all of it, and reports the layer reader's verdict.  Names and
// link targets are the tar's raw bytes, whatever the locale (libarchive is
// called with the thread's locale switched to "C"; see tar_reader.cc).  The
// stream comes through a LayerStream (stream.hh): with more than one CPU,
// decompression and hashing run on a second thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ocidir.h"
#include "unpack/stream.hh"

struct archive;
struct archive_entry;

namespace ocd::unpack {

enum class EntryType { File, Dir, Symlink, Hardlink, Fifo, Char, Block };

struct TarEntry {
    std::string path;       // as in the tar (raw bytes)
    EntryType type = EntryType::File;
    std::string link;       // symlink target or hard-link target
    uint32_t mode = 0;      // permission bits incl. setuid/setgid/sticky
    int64_t uid = 0, gid = 0;
    int64_t size = 0;       // regular files: content length
    bool has_mtime = false, has_atime = false;
    struct timespec mtime {}, atime {};
    uint64_t rdev_major = 0, rdev_minor = 0;
    std::vector<std::pair<std::string, std::string>> xattrs;  // name (no SCHILY.xattr. prefix), value
};

class TarReader {
public:
    // `layer` stays owned by the caller and must outlive the reader; the
    // caller does not use it while the reader exists.
    TarReader(ocidir_layer_reader_t *layer, std::string what);
    ~TarReader();
    TarReader(const TarReader &) = delete;
    TarReader &operator=(const TarReader &) = delete;

    // The next entry, or false at the end of the archive.  Throws FORMAT
    // (malformed tar), or the layer reader's own error (DIGEST, SIZE, IO...).
    bool next(TarEntry &e);

    // Content of the current regular-file entry, block by block: returns
    // false at its end; `offset` may jump forward over holes (sparse files).
    bool data(const void *&buf, size_t &len, int64_t &offset);

    // Read the layer stream to its verified end (past the end-of-archive
    // blocks).  Throws the layer reader's error.
    void drain();

    // Raw decompressed bytes read so far.
    uint64_t consumed() const noexcept { return consumed_; }

private:
    static ssize_t read_cb(struct archive *, void *self, const void **buf);
    [[noreturn]] void fail_archive(const std::string &ctx);

    ocidir_layer_reader_t *layer_;
    std::string what_;
    struct archive *a_ = nullptr;
    LayerStream stream_;
    uint64_t consumed_ = 0;
    bool eof_ = false;            // the layer reader returned its verified 0
    bool ended_unpadded_ = false; // the stream ended right after the last entry's content
    int64_t entry_size_ = 0;      // the current entry's size, how much of it
    int64_t entry_done_ = 0;      // data() has delivered, and where in the
    uint64_t entry_start_ = 0;    // stream its content starts
    int layer_err_ = 0;           // the layer reader's failure code, if any
    std::string layer_msg_;       // and its message
    int layer_errno_ = 0;
};

}  // namespace ocd::unpack
