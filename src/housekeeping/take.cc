// Taking a blob into another layout's directory: reflink, else hard link,
// else copy, each verified (shared by clone and copy).
#include "housekeeping/take.hh"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/error.hh"
#include "format/hash.hh"
#include "fs/fileio.hh"
#include "fs/resolve.hh"
#include "store/blob_store.hh"

namespace ocd::take {

void verify_fd(int fd, const Digest &dg, uint64_t size, const std::string &what, const Op &op)
{
    auto h = Hasher::create(dg.alg);
    std::vector<char> buf(1u << 20);
    uint64_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw_os("reading " + what, errno);
        }
        if (n == 0)
            break;
        h->update(buf.data(), static_cast<size_t>(n));
        off += static_cast<uint64_t>(n);
    }
    if (off != size)
        throw Error(OCIDIR_E_SIZE, std::string(op.name) + ": " + what + " is " + std::to_string(off) +
                                       " bytes, not " + std::to_string(size) + "; " + op.consequence);
    std::string got = h->final_digest();
    if (got != dg.str())
        throw Error(OCIDIR_E_DIGEST, std::string(op.name) + ": " + what + " hashes to " + got +
                                         ", not to its digest (corrupt or tampered); " + op.consequence);
}

void copy_fd(int src, int dst, uint64_t size, const std::string &what)
{
    off_t in = 0, out = 0;
    bool kernel = true;
    while (static_cast<uint64_t>(in) < size && kernel) {
        ssize_t n = copy_file_range(src, &in, dst, &out, static_cast<size_t>(size - static_cast<uint64_t>(in)), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && in == 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS ||
                                 errno == EBADF || errno == EPERM)) {
            kernel = false;
            break;
        }
        if (n < 0)
            throw_os("copying " + what, errno);
        if (n == 0)
            break;  // shorter than at open: verify_fd reports it
    }
    if (kernel)
        return;
    std::vector<char> buf(1u << 20);
    for (;;) {
        ssize_t n = pread(src, buf.data(), buf.size(), in);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw_os("reading " + what, errno);
        if (n == 0)
            return;
        for (ssize_t w = 0; w < n;) {
            ssize_t m = pwrite(dst, buf.data() + w, static_cast<size_t>(n - w), out);
            if (m < 0 && errno == EINTR)
                continue;
            if (m < 0)
                throw_os("writing the copy of " + what, errno);
            w += m;
            out += m;
        }
        in += n;
    }
}

namespace {

// Hard-link the blob when it is a regular file in the layout's own
// blobs/<alg> (never a symlink entry, never an added or followed directory)
// on the same filesystem.  The source is hashed.
bool link(const Found &f, const Digest &dg, int dst, const std::string &what, const Op &op)
{
    if (f.place.kind != Place::Own)
        return false;
    Fd srcdir;
    if (resolve::open_beneath(f.place.base, f.place.dir, O_RDONLY | O_DIRECTORY, srcdir) != 0)
        return false;
    struct stat st;
    if (fstatat(srcdir.get(), dg.hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        !same_inode(st, f.st))
        return false;
    if (linkat(srcdir.get(), dg.hex.c_str(), dst, dg.hex.c_str(), 0) != 0)
        return false;  // EXDEV, EPERM (protected hard links), EEXIST, EMLINK...: copy instead
    if (fstatat(dst, dg.hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !same_inode(st, f.st)) {
        unlinkat(dst, dg.hex.c_str(), 0);  // the entry was swapped meanwhile
        return false;
    }
    try {
        verify_fd(f.fd.get(), dg, static_cast<uint64_t>(f.st.st_size), what, op);
    } catch (...) {
        unlinkat(dst, dg.hex.c_str(), 0);  // a damaged blob is not left behind
        throw;
    }
    return true;
}

}  // namespace

int take_blob(const ocidir &src, const Digest &dg, int64_t expect_size, const std::string &from, TempFile &tmp,
              const std::string &dst_label, bool no_hardlink, ocidir_report &rep, const Op &op)
{
    Found f = find_blob(src, dg);
    const uint64_t size = static_cast<uint64_t>(f.st.st_size);
    std::string what = "blob " + dg.str() + " in " + f.place.label;
    if (expect_size >= 0 && size != static_cast<uint64_t>(expect_size))
        throw Error(OCIDIR_E_SIZE, std::string(op.name) + ": " + what + " is " + std::to_string(size) +
                                       " bytes, but its descriptor (" + from + ") says " +
                                       std::to_string(expect_size) + "; " + op.consequence);
    int kind;
    std::string how;
    if (ioctl(tmp.fd(), FICLONE, f.fd.get()) == 0) {
        verify_fd(tmp.fd(), dg, size, "the reflink of " + what, op);
        kind = OCIDIR_FIND_REFLINKED;
        how = "reflinked";
    } else if (!no_hardlink && link(f, dg, tmp.dir_fd(), what, op)) {
        rep.add(OCIDIR_FIND_LINKED, dg.str(), size, "hard-linked " + what);
        return OCIDIR_FIND_LINKED;
    } else {
        // Name the destination too: a write there is what fails on a full disk.
        copy_fd(f.fd.get(), tmp.fd(), size, what + " to " + dst_label);
        verify_fd(tmp.fd(), dg, size, "the copy of " + what, op);
        kind = OCIDIR_FIND_COPIED;
        how = "copied";
    }
    if (!tmp.publish(dg.hex))
        return 0;
    rep.add(kind, dg.str(), size, how + " " + what);
    return kind;
}

}  // namespace ocd::take
