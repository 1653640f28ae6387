#include "fs/fileio.hh"

#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <new>
#include <utility>

#include "base/error.hh"
#include "fs/resolve.hh"

namespace ocd {

const char *file_type_name(mode_t m) noexcept
{
    switch (m & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFLNK: return "a symlink";
    default: return "an unknown file type";
    }
}

int open_regular(int base, std::string_view rel, Fd &out, struct stat &st, bool &not_regular) noexcept
{
    not_regular = false;
    for (int attempt = 0; attempt < 8; attempt++) {
        Fd p;
        int e = resolve::open_beneath(base, rel, O_PATH, p);
        if (e != 0)
            return e;
        if (fstat(p.get(), &st) != 0)
            return errno;
        if (!S_ISREG(st.st_mode)) {
            not_regular = true;
            return 0;
        }
        // O_NONBLOCK: should the entry have been swapped for a FIFO since the
        // check, the open still does not block; the inode check catches it.
        Fd f;
        e = resolve::open_beneath(base, rel, O_RDONLY | O_NONBLOCK, f);
        if (e != 0)
            return e;
        struct stat st2;
        if (fstat(f.get(), &st2) != 0)
            return errno;
        if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)
            continue;  // replaced between the two opens: look again
        int fl = fcntl(f.get(), F_GETFL);
        if (fl >= 0)
            fcntl(f.get(), F_SETFL, fl & ~O_NONBLOCK);
        st = st2;
        out = std::move(f);
        return 0;
    }
    return EAGAIN;
}

PaddedBytes::PaddedBytes(PaddedBytes &&o) noexcept
    : size(o.size), data_(std::exchange(o.data_, nullptr)), mapped_(std::exchange(o.mapped_, 0))
{
}

PaddedBytes &PaddedBytes::operator=(PaddedBytes &&o) noexcept
{
    if (this != &o) {
        this->~PaddedBytes();
        size = o.size;
        data_ = std::exchange(o.data_, nullptr);
        mapped_ = std::exchange(o.mapped_, 0);
    }
    return *this;
}

PaddedBytes::~PaddedBytes()
{
    if (mapped_)
        munmap(data_, mapped_);
    else
        delete[] data_;
}

PaddedBytes PaddedBytes::allocate(size_t n)
{
    constexpr size_t kHuge = size_t(2) << 20;
    PaddedBytes b;
    if (n < 2 * kHuge) {
        b.data_ = new char[n];  // not value-initialized: the caller fills it
        return b;
    }
    // A mapping aligned to the huge page size (over-allocated, then trimmed),
    // so that every 2 MiB of it can be one page.
    const size_t len = (n + kHuge - 1) & ~(kHuge - 1);
    void *p = mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        throw std::bad_alloc();
    char *start = static_cast<char *>(p);
    char *aligned = reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(start) + kHuge - 1) & ~(kHuge - 1));
    if (aligned > start)
        munmap(start, static_cast<size_t>(aligned - start));
    if (aligned + len < start + len + kHuge)
        munmap(aligned + len, static_cast<size_t>(start + len + kHuge - (aligned + len)));
#ifdef MADV_HUGEPAGE
    madvise(aligned, len, MADV_HUGEPAGE);  // advice: without it, ordinary pages
#endif
    b.data_ = aligned;
    b.mapped_ = len;
    return b;
}

namespace {

// Open `rel` as read_small_file does and check its size against `limit`.
size_t open_small_file(int base, std::string_view rel, size_t limit, const std::string &label, Fd &f)
{
    struct stat st;
    bool not_regular;
    int e = open_regular(base, rel, f, st, not_regular);
    if (e != 0)
        throw_lookup(label, e);
    if (not_regular)
        throw_error(OCIDIR_E_FORMAT, label + " is " + file_type_name(st.st_mode) + ", not a regular file");
    if (static_cast<uint64_t>(st.st_size) > limit)
        throw_error(OCIDIR_E_TOO_LARGE, label + " is " + std::to_string(st.st_size) + " bytes, more than the limit of " +
                                            std::to_string(limit));
    return static_cast<size_t>(st.st_size);
}

// Up to `size` bytes of `f` into `buf`; the count read (short when the file
// shrank meanwhile).
size_t read_up_to(const Fd &f, char *buf, size_t size, const std::string &label)
{
    size_t off = 0;
    while (off < size) {
        ssize_t n = ::read(f.get(), buf + off, size - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw_os("reading " + label, errno);
        }
        if (n == 0)
            break;
        off += static_cast<size_t>(n);
    }
    return off;
}

}  // namespace

PaddedBytes read_small_file_padded(int base, std::string_view rel, size_t limit, const std::string &label,
                                   size_t padding)
{
    Fd f;
    size_t size = open_small_file(base, rel, limit, label, f);
    PaddedBytes out = PaddedBytes::allocate(size + padding);
    out.size = read_up_to(f, out.data(), size, label);
    memset(out.data() + out.size, 0, padding);
    return out;
}

std::string read_small_file(int base, std::string_view rel, size_t limit, const std::string &label, size_t padding)
{
    Fd f;
    size_t size = open_small_file(base, rel, limit, label, f);
    std::string text(size + padding, '\0');
    size_t off = read_up_to(f, text.data(), size, label);
    // A file that shrank meanwhile: keep what was read, then the zero padding.
    if (off < size)
        memset(text.data() + off, 0, size - off);
    text.resize(off + padding);
    return text;
}

std::vector<std::string> list_dir(int dir, const std::string &label)
{
    // A description of its own (not a dup, which would share the offset).
    int own = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (own < 0)
        throw_os("listing " + label, errno);
    std::unique_ptr<DIR, int (*)(DIR *)> dp(fdopendir(own), closedir);
    if (!dp) {
        int err = errno;
        close(own);
        throw_os("listing " + label, err);
    }
    std::vector<std::string> names;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dp.get());
        if (!e) {
            if (errno != 0)
                throw_os("listing " + label, errno);
            return names;
        }
        std::string_view name(e->d_name);
        if (name != "." && name != "..")
            names.emplace_back(name);
    }
}

}  // namespace ocd
