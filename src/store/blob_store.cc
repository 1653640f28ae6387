#include "store/blob_store.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <cerrno>
#include <climits>
#include <cstring>

#include "base/error.hh"
#include "base/workers.hh"
#include "fs/fileio.hh"
#include "fs/resolve.hh"

namespace ocd {

namespace {

constexpr size_t kWriteBuffer = 256 * 1024;
constexpr size_t kCopyChunk = 1024 * 1024;

void check_writable(const ocidir &d, const char *op)
{
    if (d.readonly)
        throw_error(OCIDIR_E_READONLY, std::string(op) + ": layout " + d.label + " was opened read-only");
}

// The directory new blobs of `alg` go into, created if needed.
Fd open_write_dir(const ocidir &d, const Place &p)
{
    Fd dir;
    int e = resolve::open_beneath(p.base, p.dir, O_RDONLY | O_DIRECTORY, dir);
    if (e == ENOENT && !p.dir.empty()) {
        // Create the algorithm directory (its parent is blobs/ or the added
        // directory itself, both already resolved beneath their root).
        std::string parent = p.dir.substr(0, p.dir.find_last_of('/') == std::string::npos ? 0 : p.dir.find_last_of('/'));
        std::string name = p.dir.substr(parent.empty() ? 0 : parent.size() + 1);
        Fd pd = resolve::open_beneath_or_throw(p.base, parent, O_RDONLY | O_DIRECTORY, p.label);
        if (mkdirat(pd.get(), name.c_str(), 0755) != 0 && errno != EEXIST)
            throw_os("creating blob directory " + p.label, errno);
        fsync_dir(pd.get(), p.label);
        e = resolve::open_beneath(p.base, p.dir, O_RDONLY | O_DIRECTORY, dir);
    }
    if (e != 0)
        throw_lookup("blob directory " + p.label, e);
    (void)d;
    return dir;
}

void flush_buffer(ocidir_blob_writer &w)
{
    if (w.buf_len > 0) {
        w.tmp.write_all(w.buf.data(), w.buf_len);
        w.buf_len = 0;
    }
}

// Whether the existing file `hex` in `dir` holds exactly the `size` bytes
// that hash to `digest`.  Reads at most size + 1 bytes.  Sets `err` (and
// returns false) when it cannot be opened; throws on a read error.
bool existing_matches(int dir, const std::string &hex, Alg alg, const std::string &digest, uint64_t size,
                      const std::string &name, int &err)
{
    Fd f(openat(dir, hex.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!f) {
        err = errno;
        if (err != ENOENT)
            throw_os("opening " + name + " to verify it", err);
        return false;
    }
    struct stat st;
    if (fstat(f.get(), &st) != 0)
        throw_os("fstat of " + name, errno);
    if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != size)
        return false;
    auto h = Hasher::create(alg);
    std::vector<char> buf(std::min<uint64_t>(kCopyChunk, size + 1));
    uint64_t total = 0;
    for (;;) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size + 1 - total));
        ssize_t n = ::read(f.get(), buf.data(), want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw_os("reading " + name + " to verify it", errno);
        }
        if (n == 0)
            break;
        total += static_cast<uint64_t>(n);
        if (total > size)
            return false;  // grew meanwhile
        h->update(buf.data(), static_cast<size_t>(n));
    }
    return total == size && h->final_digest() == digest;
}

}  // namespace

std::unique_ptr<ocidir_blob_writer> writer_new(ocidir &d, Alg alg, unsigned flags)
{
    check_writable(d, "writing a blob");
    Place p = d.write_place(alg);
    TempFile tmp(open_write_dir(d, p), p.label);
    auto w = std::make_unique<ocidir_blob_writer>(alg, flags, Hasher::create(alg), std::move(tmp));
    return w;
}

void writer_expect(ocidir_blob_writer &w, const char *digest, int64_t size)
{
    if (w.expected || w.size > 0 || w.buf_len > 0)
        throw_error(OCIDIR_E_STATE, "ocidir_blob_writer_expect: must come once, before the first write");
    if (size < -1)
        throw_error(OCIDIR_E_INVALID, "ocidir_blob_writer_expect: size " + std::to_string(size) + " is negative");
    std::optional<Digest> dg;
    if (digest) {
        dg = parse_digest(digest);
        if (dg->alg != w.alg)
            throw_error(OCIDIR_E_INVALID, "ocidir_blob_writer_expect: digest " + dg->str() + " is not " +
                                              std::string(alg_name(w.alg)) + ", the writer's algorithm");
    }
    w.expect_digest = std::move(dg);
    w.expect_size = size;
    w.expected = true;
}

void writer_write(ocidir_blob_writer &w, const void *buf, size_t len)
{
    if (w.failed)
        throw_error(OCIDIR_E_STATE, "blob writer already failed; only abort is possible");
    if (w.finished)
        throw_error(OCIDIR_E_STATE, "blob writer already finished; no more writes");
    if (len == 0)
        return;
    if (w.expect_size >= 0 && (len > static_cast<uint64_t>(w.expect_size) ||
                               w.size > static_cast<uint64_t>(w.expect_size) - len)) {
        w.failed = true;
        throw_error(OCIDIR_E_SIZE, "blob writer: content exceeds the expected size of " +
                                       std::to_string(w.expect_size) + " bytes" +
                                       (w.expect_digest ? " (" + w.expect_digest->str() + ")" : std::string()));
    }
    try {
        if (len >= kWriteBuffer) {
            flush_buffer(w);
            if (len >= kBesideMin && WriteBeside::worthwhile()) {
                // The write(2) on a helper thread while this one hashes.
                if (!w.beside)
                    w.beside = std::make_unique<WriteBeside>(w.tmp);
                w.beside->write_and_hash(buf, len, *w.hasher);
            } else {
                w.hasher->update(buf, len);
                w.tmp.write_all(buf, len);
            }
            w.size += len;
            return;
        }
        w.hasher->update(buf, len);
        w.size += len;
        if (w.buf.empty())
            w.buf.resize(kWriteBuffer);
        if (w.buf_len + len > w.buf.size())
            flush_buffer(w);
        memcpy(w.buf.data() + w.buf_len, buf, len);
        w.buf_len += len;
    } catch (...) {
        w.failed = true;
        throw;
    }
}

std::string writer_commit(ocidir_blob_writer &w)
{
    writer_finish(w);
    return writer_publish(w, true);
}

void writer_finish(ocidir_blob_writer &w)
{
    if (w.failed)
        throw_error(OCIDIR_E_STATE, "blob writer already failed; nothing was committed");
    if (w.finished)
        return;
    flush_buffer(w);
    w.beside.reset();  // no more writes: its thread is joined now, not when the writer goes
    w.tmp.start_writeback();
    std::string digest = w.hasher->final_digest();
    if (w.expect_size >= 0 && w.size != static_cast<uint64_t>(w.expect_size))
        throw_error(OCIDIR_E_SIZE, "blob " + (w.expect_digest ? w.expect_digest->str() : digest) + ": wrote " +
                                       std::to_string(w.size) + " bytes, expected " + std::to_string(w.expect_size) +
                                       "; nothing was stored");
    if (w.expect_digest && digest != w.expect_digest->str())
        throw_error(OCIDIR_E_DIGEST, "blob content hashes to " + digest + ", not to the expected " +
                                         w.expect_digest->str() + "; nothing was stored");
    w.final_digest = std::move(digest);
    w.finished = true;
}

std::string writer_publish(ocidir_blob_writer &w, bool flush)
{
    if (!w.finished)
        throw_error(OCIDIR_E_STATE, "blob writer: published before it was finished");
    const std::string digest = w.final_digest;
    std::string hex = digest.substr(alg_name(w.alg).size() + 1);
    const std::string name = "blob " + digest + " in " + w.tmp.label();
    // A gc may remove an existing blob between the moment the commit finds
    // it and the moment it keeps it; the commit then publishes its own copy.
    constexpr int kAttempts = 8;
    for (int attempt = 1;; attempt++) {
        w.digest = digest;  // for NOT_DURABLE, which is thrown after publishing
        if (w.tmp.publish(hex, flush))
            return digest;
        auto vanished = [&](int e) {
            if (e == ENOENT && attempt < kAttempts)
                return true;  // try again
            if (e == ENOENT)
                throw Error(OCIDIR_E_NOT_FOUND, name + " existed at commit but was removed (by gc) each time, " +
                                                    std::to_string(kAttempts) + " times; write it again", e);
            return false;
        };
        struct stat st;
        if (fstatat(w.tmp.dir_fd(), hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            int e = errno;
            if (vanished(e))
                continue;
            throw_os("stat of " + name, e);
        }
        // Only a regular file is "the blob that exists already": a symlink,
        // FIFO, device or directory at that name would make this commit
        // report success for a blob no reader can open.
        if (!S_ISREG(st.st_mode))
            throw_error(OCIDIR_E_FORMAT, name + " is " + file_type_name(st.st_mode) +
                                             ", not a regular file; nothing was stored (remove it first)");
        // The existing file is kept only when it can be the blob: its size
        // is always compared (cheap), its content with VERIFY_EXISTING.
        bool keep = static_cast<uint64_t>(st.st_size) == w.size;
        if (keep && (w.flags & OCIDIR_PUT_VERIFY_EXISTING)) {
            int e = 0;
            keep = existing_matches(w.tmp.dir_fd(), hex, w.alg, digest, w.size, name, e);
            if (e && vanished(e))
                continue;
        }
        if (!keep) {
            w.tmp.replace(hex, flush);
            return digest;
        }
        // Its modification time now says "just committed", so that gc's
        // grace period counts from this commit.
        if (utimensat(w.tmp.dir_fd(), hex.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) != 0) {
            int e = errno;
            if (vanished(e))
                continue;
            if (e != EPERM && e != EACCES && e != EROFS)
                throw_os("refreshing the modification time of " + name, e);
        }
        // It may have been published a moment ago by a writer that has not
        // flushed the directory yet: this commit's success promises it (or,
        // without `flush`, the caller's flush of the directory does).
        if (flush)
            w.tmp.flush_dir(hex);
        return digest;
    }
}

void sync_writers(const std::vector<ocidir_blob_writer *> &ws)
{
    std::vector<dev_t> done;
    for (ocidir_blob_writer *w : ws) {
        struct stat st;
        if (fstat(w->tmp.fd(), &st) != 0)
            throw_os("fstat of a temporary file in " + w->tmp.label(), errno);
        if (std::find(done.begin(), done.end(), st.st_dev) != done.end())
            continue;
        if (syncfs(w->tmp.fd()) != 0)
            throw_os("flushing the filesystem of " + w->tmp.label() + " to disk (syncfs) before publishing " +
                         std::to_string(ws.size()) + " blobs; none was published",
                     errno);
        done.push_back(st.st_dev);
    }
}

void flush_writer_dirs(const std::vector<ocidir_blob_writer *> &ws)
{
    std::vector<std::pair<dev_t, ino_t>> done;
    for (ocidir_blob_writer *w : ws) {
        struct stat st;
        if (fstat(w->tmp.dir_fd(), &st) != 0)
            throw Error(OCIDIR_E_NOT_DURABLE, "fstat of " + w->tmp.label() + " to flush it: " + errno_text(errno),
                        errno);
        std::pair<dev_t, ino_t> id{st.st_dev, st.st_ino};
        if (std::find(done.begin(), done.end(), id) != done.end())
            continue;
        w->tmp.flush_dir(std::to_string(ws.size()) + " blobs (" + w->digest + ", ...)");
        done.push_back(id);
    }
}

Found find_blob(const ocidir &d, const Digest &dg)
{
    std::vector<Place> places = d.read_places(dg.alg);
    for (Place &p : places) {
        Fd f;
        struct stat st;
        bool not_regular;
        std::string rel = p.blob_path(dg);
        int e = open_regular(p.base, rel, f, st, not_regular);
        if (e == ENOENT || e == ENOTDIR)
            continue;
        if (e != 0)
            throw_lookup("blob " + dg.str() + " in " + p.label, e);
        if (not_regular)
            throw_error(OCIDIR_E_FORMAT, "blob " + dg.str() + " in " + p.label + " is " + file_type_name(st.st_mode) +
                                             ", not a regular file");
        return Found{std::move(p), st, std::move(f)};
    }
    std::string where;
    for (size_t i = 0; i < places.size(); i++)
        where += (i ? ", " : "") + places[i].label;
    throw Error(OCIDIR_E_NOT_FOUND, "blob " + dg.str() + " not found in " + where, ENOENT);
}

std::unique_ptr<ocidir_blob_reader> reader_open(const ocidir &d, const char *digest, int64_t expected_size)
{
    Digest dg = parse_digest(digest);
    if (expected_size < -1)
        throw_error(OCIDIR_E_INVALID, "expected size " + std::to_string(expected_size) + " is negative");
    Found f = find_blob(d, dg);
    if (expected_size >= 0 && static_cast<uint64_t>(f.st.st_size) != static_cast<uint64_t>(expected_size))
        throw_error(OCIDIR_E_SIZE, "blob " + dg.str() + " in " + f.place.label + " is " +
                                       std::to_string(f.st.st_size) + " bytes, expected " +
                                       std::to_string(expected_size));
    auto r = std::make_unique<ocidir_blob_reader>();
    r->fd = std::move(f.fd);
    r->hasher = Hasher::create(dg.alg);
    r->size = static_cast<uint64_t>(f.st.st_size);
    r->where = f.place.label;
    r->digest = std::move(dg);
    posix_fadvise(r->fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    return r;
}

ssize_t reader_read(ocidir_blob_reader &r, void *buf, size_t len)
{
    if (r.error)
        throw Error(r.error, "blob " + r.digest.str() + " in " + r.where + ": reader already failed (" +
                                 ocidir_strerror(r.error) + ")");
    if (r.done)
        return 0;
    auto fail = [&](int code, const std::string &msg, int err = 0) -> ssize_t {
        r.error = code;
        throw Error(code, "blob " + r.digest.str() + " in " + r.where + ": " + msg, err);
    };
    if (r.pos == r.size) {
        // Confirm the end, then the hash.
        char extra;
        ssize_t n;
        do
            n = ::read(r.fd.get(), &extra, 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return fail(OCIDIR_E_IO, "read: " + errno_text(errno), errno);
        if (n > 0)
            return fail(OCIDIR_E_SIZE, "the file grew past its size of " + std::to_string(r.size) + " bytes while being read");
        std::string got = r.hasher->final_digest();
        if (got != r.digest.str())
            return fail(OCIDIR_E_DIGEST, "content hashes to " + got + ", not to its digest (corrupt or tampered)");
        r.done = true;
        return 0;
    }
    // Read in slices small enough to stay in the CPU cache between the copy
    // out of the page cache and the hash that follows it.
    constexpr size_t kSlice = 128 * 1024;
    size_t want = static_cast<size_t>(std::min<uint64_t>({len, r.size - r.pos, static_cast<uint64_t>(SSIZE_MAX)}));
    char *out = static_cast<char *>(buf);
    size_t got = 0;
    while (got < want) {
        ssize_t n;
        do
            n = ::read(r.fd.get(), out + got, std::min(kSlice, want - got));
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (got > 0)
                break;  // hand out what was hashed; the error comes back next call
            return fail(OCIDIR_E_IO, "read: " + errno_text(errno), errno);
        }
        if (n == 0) {
            if (got > 0)
                break;  // the next call reports the truncation
            return fail(OCIDIR_E_SIZE, "the file ended at " + std::to_string(r.pos) + " bytes, before its size of " +
                                           std::to_string(r.size) + " (truncated while being read)");
        }
        r.hasher->update(out + got, static_cast<size_t>(n));
        r.pos += static_cast<uint64_t>(n);
        got += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(got);
}

void blob_remove(ocidir &d, const char *digest)
{
    Digest dg = parse_digest(digest);
    check_writable(d, ("removing blob " + dg.str()).c_str());
    Place own = d.own_place(dg.alg);
    auto lives_elsewhere = [&](const std::string &why) {
        for (const Place &p : d.read_places(dg.alg)) {
            if (p.kind == Place::Own)
                continue;
            Fd f;
            if (resolve::open_beneath(p.base, p.blob_path(dg), O_PATH, f) == 0)
                throw Error(OCIDIR_E_NOT_FOUND, "blob " + dg.str() + " is not in the layout's own blobs/ (" + why +
                                                    "); it lives in " + p.label + ", which this library never modifies",
                            ENOENT);
        }
        throw Error(OCIDIR_E_NOT_FOUND, "blob " + dg.str() + " not found in " + own.label, ENOENT);
    };
    if (own.kind == Place::Followed)
        lives_elsewhere("blobs/" + std::string(alg_name(dg.alg)) + " is a followed symlink");
    Fd dir;
    int e = resolve::open_beneath(own.base, own.dir, O_RDONLY | O_DIRECTORY, dir);
    if (e == ENOENT)
        lives_elsewhere("it has no such file");
    if (e != 0)
        throw_lookup("blob directory " + own.label, e);
    struct stat st;
    if (fstatat(dir.get(), dg.hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            lives_elsewhere("it has no such file");
        throw_os("stat of blob " + dg.str() + " in " + own.label, errno);
    }
    if (S_ISDIR(st.st_mode))
        throw_error(OCIDIR_E_FORMAT, "blob " + dg.str() + " in " + own.label + " is a directory; not removed");
    if (unlinkat(dir.get(), dg.hex.c_str(), 0) != 0) {
        if (errno == ENOENT)
            lives_elsewhere("it has no such file");
        throw_os("removing blob " + dg.str() + " from " + own.label, errno);
    }
    fsync_dir(dir.get(), own.label);
}

namespace {

// Copy a regular file's remaining content into the writer's temporary file
// inside the kernel (a reflink on filesystems that share extents), and hash
// what landed in the temporary file: the digest always describes the bytes
// that get published, even if the source changes meanwhile.  The copy runs
// on a second thread, one step ahead of the hash, so a put costs about what
// the hash costs.  Returns false, having copied nothing, when the kernel
// cannot copy between these files (the caller then reads and writes).
//
// The copy is hashed with pread(2) into a buffer, never through a mapping:
// a named temporary file can be truncated by anyone who may write the blob
// directory, and touching a mapping past the new end would be a SIGBUS that
// kills the process.  A temporary file that comes up short is an error.
bool put_regular_by_copy(ocidir_blob_writer &w, int src, const std::string &src_label)
{
    constexpr size_t kStep = 32u * 1024 * 1024;
    constexpr size_t kHashSlice = 256u * 1024;  // stays in the CPU cache between the copy-out and the hash

    // First step on this thread: it tells whether copy_file_range works here.
    ssize_t first;
    do
        first = copy_file_range(src, nullptr, w.tmp.fd(), nullptr, kStep, 0);
    while (first < 0 && errno == EINTR);
    if (first < 0) {
        if (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS || errno == EBADF ||
            errno == EPERM)
            return false;
        throw_os("copying " + src_label + " into " + w.tmp.label(), errno);
    }
    if (first == 0)
        return false;  // empty, or a file whose size the kernel does not know (procfs): read it instead
    w.tmp.note_written(static_cast<uint64_t>(first));

    std::mutex mu;
    std::condition_variable cv;
    uint64_t copied = static_cast<uint64_t>(first);
    bool finished = false;
    int copy_err = 0;
    // Joined when this function returns or throws: leaving early (hashing
    // failed) stops the pool first, and the copier quits at its next step.
    Workers copier("copying " + src_label + " into " + w.tmp.label());
    copier.start(1, [&](unsigned) {
        for (;;) {
            if (copier.stopping()) {
                std::lock_guard<std::mutex> lk(mu);
                finished = true;
                cv.notify_one();
                return;
            }
            ssize_t n = copy_file_range(src, nullptr, w.tmp.fd(), nullptr, kStep, 0);
            if (n < 0 && errno == EINTR)
                continue;
            std::lock_guard<std::mutex> lk(mu);
            if (n < 0)
                copy_err = errno;
            if (n <= 0) {
                finished = true;
            } else {
                copied += static_cast<uint64_t>(n);
                w.tmp.note_written(static_cast<uint64_t>(n));
            }
            cv.notify_one();
            if (n <= 0)
                return;
        }
    });

    std::vector<char> buf(kHashSlice);
    uint64_t hashed = 0;
    for (;;) {
        uint64_t avail;
        bool done;
        {
            std::unique_lock<std::mutex> lk(mu);
            cv.wait(lk, [&] { return finished || copied > hashed; });
            avail = copied;
            done = finished;
            if (copy_err)
                throw_os("copying " + src_label + " into " + w.tmp.label(), copy_err);
        }
        while (hashed < avail) {
            size_t len = static_cast<size_t>(std::min<uint64_t>(buf.size(), avail - hashed));
            ssize_t n = pread(w.tmp.fd(), buf.data(), len, static_cast<off_t>(hashed));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                throw_os("reading back the temporary file in " + w.tmp.label() + " for hashing", errno);
            if (n == 0)
                throw Error(OCIDIR_E_IO, "the temporary file in " + w.tmp.label() + " ends at " +
                                             std::to_string(hashed) + " bytes, but " + std::to_string(avail) +
                                             " were copied into it: another process truncated it; nothing was stored");
            w.hasher->update(buf.data(), static_cast<size_t>(n));
            hashed += static_cast<uint64_t>(n);
        }
        if (done)
            break;
    }
    // Cut short after the copy's last step, the file would be published
    // shorter than what was hashed.
    struct stat st;
    if (fstat(w.tmp.fd(), &st) != 0)
        throw_os("fstat of the temporary file in " + w.tmp.label(), errno);
    if (static_cast<uint64_t>(st.st_size) != hashed)
        throw Error(OCIDIR_E_IO, "the temporary file in " + w.tmp.label() + " is " + std::to_string(st.st_size) +
                                     " bytes, but " + std::to_string(hashed) +
                                     " were copied into it and hashed: another process changed it; nothing was stored");
    w.size = hashed;
    return true;
}

}  // namespace

void put_fd_into(ocidir_blob_writer &w, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        throw_os("ocidir_blob_put_fd: fd " + std::to_string(fd), errno);
    std::string label = "fd " + std::to_string(fd);
    if (!S_ISREG(st.st_mode) || !put_regular_by_copy(w, fd, label)) {
        std::vector<char> buf(kCopyChunk);
        for (;;) {
            ssize_t n = ::read(fd, buf.data(), buf.size());
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                throw_os("ocidir_blob_put_fd: reading " + label, errno);
            }
            if (n == 0)
                break;
            writer_write(w, buf.data(), static_cast<size_t>(n));
        }
    }
}

void require_still_present(const ocidir &d, const std::string &digest, const std::string &what,
                           const std::string &consequence)
{
    try {
        find_blob(d, parse_digest(digest.c_str()));
    } catch (const Error &e) {
        if (e.code() != OCIDIR_E_NOT_FOUND)
            throw;
        throw Error(OCIDIR_E_NOT_FOUND,
                    (what.empty() ? "" : what + " ") + digest + " is no longer present (removed by gc meanwhile?); " +
                        consequence + ": " + e.message(),
                    ENOENT);
    }
}

}  // namespace ocd
