#include "fs/tempfile.hh"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "base/error.hh"
#include "base/hex.hh"
#include "fs/fileio.hh"
#include "fs/resolve.hh"

namespace ocd {

namespace {

constexpr mode_t kFileMode = 0644;
constexpr int kNameRetries = 16;

std::string random_suffix()
{
    uint8_t b[12];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw_os("getrandom", errno);
        }
        got += static_cast<size_t>(n);
    }
    return to_hex(b, sizeof b);
}

}  // namespace

bool force_named_temp() noexcept
{
    static const bool forced = [] {
        const char *v = getenv("OCIDIR_FORCE_NAMED_TEMP");
        return v && *v && strcmp(v, "0") != 0;
    }();
    return forced;
}

void fsync_dir(int dirfd, std::string_view label)
{
    if (fsync(dirfd) != 0 && errno != EINVAL && errno != EROFS)
        throw_os("fsync of directory " + std::string(label), errno);
}

TempFile::TempFile(Fd dir, std::string label) : dir_(std::move(dir)), label_(std::move(label))
{
    if (!force_named_temp()) {
        int fd = openat(dir_.get(), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, kFileMode);
        if (fd >= 0) {
            fd_.reset(fd);
            return;
        }
        // EOPNOTSUPP/EISDIR/EINVAL: the filesystem has no O_TMPFILE.
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
            throw_os("creating a temporary file in " + label_, errno);
    }
    create_named();
}

void TempFile::create_named()
{
    for (int i = 0; i < kNameRetries; i++) {
        std::string name = std::string(kTempPrefix) + random_suffix();
        Fd f(openat(dir_.get(), name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, kFileMode));
        if (!f) {
            if (errno == EEXIST)
                continue;
            throw_os("creating temporary file " + name + " in " + label_, errno);
        }
        while (flock(f.get(), LOCK_EX) != 0) {
            if (errno != EINTR)
                throw_os("locking temporary file " + name + " in " + label_, errno);
        }
        // A cleaner may have taken the lock in the instant between create and
        // flock, and removed the name: then start over with a new one.
        struct stat a, b;
        if (fstat(f.get(), &a) != 0)
            throw_os("fstat of temporary file in " + label_, errno);
        if (fstatat(dir_.get(), name.c_str(), &b, AT_SYMLINK_NOFOLLOW) != 0 || !same_inode(a, b))
            continue;
        fd_ = std::move(f);
        tmpname_ = std::move(name);
        return;
    }
    throw_error(OCIDIR_E_IO, "could not create a temporary file in " + label_);
}

TempFile::~TempFile()
{
    if (!tmpname_.empty() && dir_)
        unlinkat(dir_.get(), tmpname_.c_str(), 0);
}

void TempFile::write_all(const void *buf, size_t len)
{
    const char *p = static_cast<const char *>(buf);
    while (len > 0) {
        ssize_t n = ::write(fd_.get(), p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw_os("writing temporary file in " + label_, errno);
        }
        p += n;
        len -= static_cast<size_t>(n);
        note_written(static_cast<uint64_t>(n));
    }
}

void TempFile::note_written(uint64_t len) noexcept
{
    constexpr uint64_t kWritebackStep = 16u * 1024 * 1024;
    written_ += len;
    if (written_ - writeback_from_ >= kWritebackStep)
        start_writeback();
}

void TempFile::start_writeback() noexcept
{
    if (written_ > writeback_from_) {
        sync_file_range(fd_.get(), static_cast<off_t>(writeback_from_), static_cast<off_t>(written_ - writeback_from_),
                        SYNC_FILE_RANGE_WRITE);
        writeback_from_ = written_;
    }
}

bool TempFile::publish_named(const std::string &name)
{
    if (renameat2(dir_.get(), tmpname_.c_str(), dir_.get(), name.c_str(), RENAME_NOREPLACE) == 0) {
        tmpname_.clear();
        return true;
    }
    if (errno == EEXIST)
        return false;
    if (errno != EINVAL && errno != ENOSYS)
        throw_os("renaming temporary file to " + name + " in " + label_, errno);
    // No RENAME_NOREPLACE here: a hard link never replaces either.
    if (linkat(dir_.get(), tmpname_.c_str(), dir_.get(), name.c_str(), 0) != 0) {
        if (errno == EEXIST)
            return false;
        throw_os("linking " + name + " in " + label_, errno);
    }
    unlinkat(dir_.get(), tmpname_.c_str(), 0);
    tmpname_.clear();
    return true;
}

int TempFile::link_unnamed(const std::string &name) noexcept
{
    if (linkat(fd_.get(), "", dir_.get(), name.c_str(), AT_EMPTY_PATH) == 0)
        return 0;
    if (errno == EEXIST)
        return EEXIST;
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels; the
    // /proc/self/fd link is the unprivileged way.
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd_.get());
    if (linkat(AT_FDCWD, proc, dir_.get(), name.c_str(), AT_SYMLINK_FOLLOW) == 0)
        return 0;
    return errno;
}

void TempFile::copy_into_named()
{
    // Neither way can name an O_TMPFILE here: copy into a named one.
    Fd src = std::move(fd_);
    create_named();
    off_t off = 0;
    struct stat st;
    if (fstat(src.get(), &st) != 0)
        throw_os("fstat of temporary file in " + label_, errno);
    while (off < st.st_size) {
        ssize_t n = copy_file_range(src.get(), &off, fd_.get(), nullptr, static_cast<size_t>(st.st_size - off), 0);
        if (n <= 0)
            throw_os("copying temporary file in " + label_, n == 0 ? EIO : errno);
    }
    if (fdatasync(fd_.get()) != 0)
        throw_os("flushing temporary file " + tmpname_ + " in " + label_ + " to disk", errno);
}

bool TempFile::publish(const std::string &name, bool flush)
{
    if (done_)
        throw_error(OCIDIR_E_STATE, "temporary file in " + label_ + " was already published");
    if (flush && !flushed_) {
        if (fdatasync(fd_.get()) != 0)
            throw_os("flushing " + name + " in " + label_ + " to disk", errno);
        flushed_ = true;
    }
    bool created;
    if (!tmpname_.empty()) {
        created = publish_named(name);
    } else {
        int e = link_unnamed(name);
        if (e == 0 || e == EEXIST) {
            created = e == 0;
        } else {
            copy_into_named();
            created = publish_named(name);
        }
    }
    if (created) {
        done_ = true;
        if (flush)
            flush_dir(name);
    }
    return created;
}

void TempFile::replace(const std::string &name, bool flush)
{
    if (done_)
        throw_error(OCIDIR_E_STATE, "temporary file in " + label_ + " was already published");
    if (flush && !flushed_) {
        if (fdatasync(fd_.get()) != 0)
            throw_os("flushing " + name + " in " + label_ + " to disk", errno);
        flushed_ = true;
    }
    if (tmpname_.empty()) {
        // rename(2) replaces only a name with a name: give the unnamed file
        // a temporary one first, held under flock as a named temp file is,
        // so that no cleaner takes it for a crashed writer's.
        while (flock(fd_.get(), LOCK_EX) != 0) {
            if (errno != EINTR)
                throw_os("locking temporary file in " + label_, errno);
        }
        for (int i = 0; i < kNameRetries && tmpname_.empty(); i++) {
            std::string tmp = std::string(kTempPrefix) + random_suffix();
            int e = link_unnamed(tmp);
            if (e == 0)
                tmpname_ = std::move(tmp);
            else if (e != EEXIST) {
                copy_into_named();
                break;
            }
        }
        if (tmpname_.empty())
            throw_error(OCIDIR_E_IO, "could not name a temporary file in " + label_);
    }
    if (renameat(dir_.get(), tmpname_.c_str(), dir_.get(), name.c_str()) != 0)
        throw_os("replacing " + name + " in " + label_ + " by its new copy", errno);
    tmpname_.clear();
    done_ = true;
    if (flush)
        flush_dir(name);
}

void TempFile::flush_dir(const std::string &name)
{
    if (fsync(dir_.get()) != 0 && errno != EINVAL && errno != EROFS) {
        int e = errno;
        throw Error(OCIDIR_E_NOT_DURABLE,
                    name + " is in place in " + label_ + ", but flushing that directory failed: " + errno_text(e) +
                        "; the change is visible but may not survive a crash",
                    e);
    }
}

void remove_stale_temps(int dir) noexcept { (void)stale_temps(dir, true); }

std::vector<StaleTemp> stale_temps(int dir, bool remove) noexcept
{
    try {
        return stale_temps(dir, list_dir(dir, "a blob directory"), remove);
    } catch (...) {
        return {};
    }
}

std::vector<StaleTemp> stale_temps(int dir, const std::vector<std::string> &names, bool remove) noexcept
{
    std::vector<StaleTemp> out;
    try {
        Fd d;
        if (resolve::open_beneath(dir, "", O_RDONLY | O_DIRECTORY, d) != 0)
            return out;
        for (const std::string &name : names) {
            if (std::string_view(name).substr(0, kTempPrefix.size()) != kTempPrefix)
                continue;
            // Only a regular file is ever opened: a FIFO or a device under a
            // temp name is left alone (it is fsck's finding, not a temp).
            struct stat pre;
            if (fstatat(d.get(), name.c_str(), &pre, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(pre.st_mode))
                continue;
            Fd f(openat(d.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
            if (!f)
                continue;
            struct stat a, b;
            if (fstat(f.get(), &a) != 0 || !S_ISREG(a.st_mode) || !same_inode(a, pre))
                continue;
            if (flock(f.get(), LOCK_EX | LOCK_NB) != 0)
                continue;  // a live writer owns it
            if (fstatat(d.get(), name.c_str(), &b, AT_SYMLINK_NOFOLLOW) != 0 || !same_inode(a, b))
                continue;
            if (remove && unlinkat(d.get(), name.c_str(), 0) != 0)
                continue;
            out.push_back({name, static_cast<uint64_t>(a.st_size)});
        }
        if (remove && !out.empty())
            fsync(d.get());
    } catch (...) {
    }
    return out;
}

}  // namespace ocd
