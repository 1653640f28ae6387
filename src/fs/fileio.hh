// Opening files for reading inside a layout: the type is classified through
// an O_PATH handle before anything is opened for reading, so a FIFO never
// blocks and a device is never opened.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.hh"

namespace ocd {

const char *file_type_name(mode_t mode) noexcept;

// Whether two stat results describe the same file (device and inode).
inline bool same_inode(const struct stat &a, const struct stat &b) noexcept
{
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Resolve `rel` beneath `base` and open it O_RDONLY if it is a regular file.
// Returns an errno-style result: 0, or the lookup errno; sets *not_regular
// (and leaves out empty) when the entry exists but is not a regular file.
int open_regular(int base, std::string_view rel, Fd &out, struct stat &st, bool &not_regular) noexcept;

// Read a whole small regular file (at most `limit` bytes); throws Error
// (NOT_FOUND, ESCAPE, FORMAT for a non-regular file, TOO_LARGE, IO).
// With `padding`, the result ends with that many zero bytes after the
// content (the room a SIMD parser reads past the end).
std::string read_small_file(int base, std::string_view rel, size_t limit, const std::string &label,
                            size_t padding = 0);

// A file's bytes followed in memory by `padding` zero bytes, in a buffer that
// is never zero-filled first (a large index.json is read once, not written
// twice); a large one is mapped in transparent huge pages where the system
// allows it (far fewer page faults).  Move-only.
class PaddedBytes {
public:
    PaddedBytes() = default;
    PaddedBytes(PaddedBytes &&o) noexcept;
    PaddedBytes &operator=(PaddedBytes &&o) noexcept;
    ~PaddedBytes();
    // Room for `n` bytes; throws std::bad_alloc.
    static PaddedBytes allocate(size_t n);

    char *data() const { return data_; }
    size_t size = 0;  // of the content, without the padding
    std::string_view view() const { return std::string_view(data_, size); }

private:
    char *data_ = nullptr;
    size_t mapped_ = 0;  // the length of the mapping, when mapped
};
// read_small_file() into a PaddedBytes; the same errors.
PaddedBytes read_small_file_padded(int base, std::string_view rel, size_t limit, const std::string &label,
                                   size_t padding);

// The names in the directory `dir` (an fd; its own offset is not moved),
// without "." and "..", in readdir's order.  Throws Error(IO) naming
// "listing <label>" and the errno.
std::vector<std::string> list_dir(int dir, const std::string &label);

}  // namespace ocd
