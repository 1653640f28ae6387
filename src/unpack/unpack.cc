#include "unpack/unpack.hh"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.hh"
#include "fs/resolve.hh"
#include "housekeeping/report.hh"
#include "image/image.hh"
#include "unpack/applier.hh"
#include "unpack/context.hh"
#include "unpack/dir_pass.hh"
#include "unpack/tar_reader.hh"
#include "unpack/tree.hh"

namespace ocd::unpack {

namespace {

constexpr unsigned kKnownFlags = OCIDIR_UNPACK_ALL_XATTRS | OCIDIR_UNPACK_NO_XATTRS | OCIDIR_UNPACK_NO_SYNC;
constexpr uint64_t kProgressEvery = 256;  // entries

struct LayerCloser {
    void operator()(ocidir_layer_reader_t *r) const noexcept { ocidir_layer_reader_close(r); }
};

// The marker of a running unpack: created, then held locked (flock
// LOCK_EX) until the call returns, so that another unpack into the same path
// tells a live unpack's tree from a killed one's (the kernel drops the lock of
// a dead process).  Throws IO, or EXISTS when another call got in between.
Fd create_marker(int root, const std::string &path)
{
    const std::string what = path + "/" OCIDIR_UNPACK_MARKER;
    Fd m(openat(root, OCIDIR_UNPACK_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!m) {
        if (errno == EEXIST)
            throw Error(OCIDIR_E_EXISTS, "unpack: " + what + " appeared meanwhile (another unpack into the same path?)");
        throw_os("unpack: create " + what, errno);
    }
    if (flock(m.get(), LOCK_EX | LOCK_NB) != 0)
        throw Error(OCIDIR_E_EXISTS, "unpack: cannot lock " + what + ": " + errno_text(errno), errno);
    struct stat a, b;
    if (fstat(m.get(), &a) != 0 || fstatat(root, OCIDIR_UNPACK_MARKER, &b, AT_SYMLINK_NOFOLLOW) != 0 ||
        a.st_ino != b.st_ino || a.st_dev != b.st_dev)
        throw Error(OCIDIR_E_EXISTS, "unpack: " + what + " was replaced meanwhile (another unpack into the same path?)");
    return m;
}

// When directory `root` holds the marker of an unpack that never finished,
// that marker, open and locked; else an empty Fd.  The rule that makes
// clearing safe: OCIDIR_UNPACK_MARKER is a regular file (not a symlink or
// anything else, never followed nor opened before it is known to be one),
// empty, with one link, owned by the caller's effective uid (an unpack
// creates it so, and nobody else without privilege over the caller can), and
// no live unpack holds its lock: one that does is OCIDIR_E_EXISTS.  A marker
// planted by another user, or anything else at that name, makes the
// destination an ordinary non-empty one.
Fd lock_incomplete_marker(int root, const std::string &path)
{
    struct stat st, st2;
    if (fstatat(root, OCIDIR_UNPACK_MARKER, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return Fd();
    if (!S_ISREG(st.st_mode) || st.st_size != 0 || st.st_nlink != 1 || st.st_uid != geteuid())
        return Fd();
    Fd m(openat(root, OCIDIR_UNPACK_MARKER, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!m || fstat(m.get(), &st2) != 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev)
        return Fd();
    if (flock(m.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            throw Error(OCIDIR_E_EXISTS, "unpack: destination " + path + " is being unpacked into by another call (its " +
                                             OCIDIR_UNPACK_MARKER + " is locked)");
        throw_os("unpack: lock " + path + "/" OCIDIR_UNPACK_MARKER, errno);
    }
    return m;
}

// Remove the killed unpack's tree: every entry of `root` but the marker, each
// through remove_tree() (relative to the root's fd, never following a
// symlink, so nothing outside is reached), then the marker itself last, so
// that a crash meanwhile still leaves a marked tree.  Returns the number of
// top-level entries removed (the marker not counted).  Throws IO.
size_t clear_incomplete(int root, const std::string &path)
{
    size_t n = 0;
    for (const std::string &c : list_dir(root)) {
        if (c == OCIDIR_UNPACK_MARKER)
            continue;
        remove_tree(root, c.c_str(), path + "/" + c);
        n++;
    }
    if (unlinkat(root, OCIDIR_UNPACK_MARKER, 0) != 0 && errno != ENOENT)
        throw_os("unpack: remove " + path + "/" OCIDIR_UNPACK_MARKER, errno);
    return n;
}

// The destination, made or checked empty, and what to undo on failure.
struct Destination {
    int dirfd;
    std::string path;
    bool created = false;
    size_t cleared = 0;  // 1 + top-level entries removed when a killed unpack's tree was cleared
    Fd root;

    void open()
    {
        struct stat st;
        if (fstatat(dirfd, path.c_str(), &st, 0) != 0) {
            if (errno != ENOENT)
                throw_os("unpack: destination " + path, errno);
            if (mkdirat(dirfd, path.c_str(), 0755) != 0) {
                if (errno == EEXIST)
                    throw Error(OCIDIR_E_EXISTS, "unpack: destination " + path + " appeared meanwhile");
                throw_os("unpack: create destination " + path, errno);
            }
            created = true;
            root.reset(openat(dirfd, path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!root)
                throw_os("unpack: open destination " + path, errno);
            return;
        }
        if (!S_ISDIR(st.st_mode))
            throw Error(OCIDIR_E_EXISTS, "unpack: destination " + path + " exists and is not a directory");
        int err = resolve::open_caller_path(dirfd, path.c_str(), O_RDONLY | O_DIRECTORY, root);
        if (err != 0)
            throw_os("unpack: open destination " + path, err);
        if (!list_dir(root.get()).empty()) {
            Fd killed = lock_incomplete_marker(root.get(), path);  // held while clearing
            if (!killed)
                throw Error(OCIDIR_E_EXISTS, "unpack: destination " + path + " is not empty");
            try {
                cleared = clear_incomplete(root.get(), path) + 1;
            } catch (const Error &e) {
                throw Error(e.code(), "unpack: clearing the incomplete unpack in " + path + ": " + e.message(),
                            e.os_errno());
            }
        }
    }

    // Back to absent (created) or empty (used in place).  Returns "" or what
    // failed.
    std::string undo() noexcept
    {
        try {
            if (root) {
                for (const std::string &c : list_dir(root.get()))
                    remove_tree(root.get(), c.c_str(), path + "/" + c);
            }
            if (created && unlinkat(dirfd, path.c_str(), AT_REMOVEDIR) != 0)
                return "remove " + path + ": " + errno_text(errno);
            return {};
        } catch (const Error &e) {
            return e.message();
        } catch (...) {
            return "cleanup failed";
        }
    }
};

std::string entry_prefix(const std::string &layer, const std::string &entry)
{
    return "unpack: layer " + layer + ": entry \"" + entry + "\": ";
}

void run(Context &ctx, const ocidir_image &img, const ocidir_unpack_options_t &o)
{
    const auto &layers = img.manifest.layers;
    uint64_t total = 0, done = 0;
    for (const auto &l : layers)
        total += l.size > 0 ? static_cast<uint64_t>(l.size) : 0;
    auto progress = [&] {
        if (o.progress && o.progress(done, total, o.user) != 0)
            throw Error(OCIDIR_E_CANCELED, "unpack: canceled by the progress callback");
    };
    progress();
    for (size_t i = 0; i < layers.size(); i++) {
        const std::string &digest = layers[i].digest;
        ocidir_layer_reader_t *raw = nullptr;
        int rc = ocidir_image_layer_open(&img, i, &raw);
        if (rc != 0)
            throw Error(rc, std::string("unpack: ") + last_error_message(), last_error_errno());
        std::unique_ptr<ocidir_layer_reader_t, LayerCloser> reader(raw);
        std::unique_ptr<TarReader> tarp;
        try {
            tarp = std::make_unique<TarReader>(reader.get(), "layer " + digest);
        } catch (const Error &err) {
            throw Error(err.code(), "unpack: " + err.message(), err.os_errno());
        }
        TarReader &tar = *tarp;
        ctx.written.clear();
        TarEntry e;
        while (true) {
            try {
                if (!tar.next(e))
                    break;
            } catch (const Error &err) {
                throw Error(err.code(), "unpack: " + err.message(), err.os_errno());
            }
            if (++ctx.entries > ctx.max_entries)
                throw Error(OCIDIR_E_TOO_LARGE, entry_prefix(digest, e.path) + "more than " +
                                                    std::to_string(ctx.max_entries) + " entries (max_entries)");
            try {
                apply_entry(ctx, tar, e);
            } catch (const Error &err) {
                // A layer reader failure met while reading content names the
                // layer itself; anything else gets the layer and the entry.
                throw Error(err.code(), entry_prefix(digest, e.path) + err.message(), err.os_errno());
            }
            if (ctx.entries % kProgressEvery == 0)
                progress();
        }
        try {
            tar.drain();
        } catch (const Error &err) {
            throw Error(err.code(), "unpack: " + err.message(), err.os_errno());
        }
        ctx.report.blobs++;
        done += layers[i].size > 0 ? static_cast<uint64_t>(layers[i].size) : 0;
        progress();
    }
    apply_dir_attrs(ctx);
}

}  // namespace

std::unique_ptr<ocidir_report> unpack(const ocidir_image &img, int dirfd, const char *path,
                                      const ocidir_unpack_options_t &o)
{
    if (o.flags & ~kKnownFlags)
        throw Error(OCIDIR_E_INVALID, "ocidir_unpack: unknown flags " + std::to_string(o.flags & ~kKnownFlags));
    Ownership own(o.owner_mode, o.uid_map, o.n_uid_map, o.gid_map, o.n_gid_map, o.fallback_uid, o.fallback_gid);
    auto report = std::make_unique<ocidir_report>();

    Destination dest{dirfd, path};
    dest.open();
    if (dest.cleared)
        report->add(OCIDIR_FIND_INCOMPLETE_CLEARED, dest.path, 0,
                    "an unpack that never finished left a tree marked " OCIDIR_UNPACK_MARKER " here; removed it (" +
                        std::to_string(dest.cleared - 1) + " top-level entries) before unpacking");
    Context ctx(dest.root.get(), own, o.flags, *report);
    ctx.max_bytes = o.max_bytes ? o.max_bytes : OCIDIR_UNPACK_DEFAULT_MAX_BYTES;
    ctx.max_entries = o.max_entries ? o.max_entries : OCIDIR_UNPACK_DEFAULT_MAX_ENTRIES;
    Fd marker;  // locked until the call returns
    try {
        marker = create_marker(ctx.root, dest.path);
        run(ctx, img, o);
    } catch (const Error &e) {
        std::string undo = dest.undo();
        if (undo.empty())
            throw;
        throw Error(e.code(), e.message() + " (and removing what was unpacked failed: " + undo + ")", e.os_errno());
    } catch (...) {
        (void)dest.undo();
        throw;
    }
    report->bytes = ctx.bytes;
    // The tree is complete: flush it, then drop the marker (and flush that).
    const bool sync = !(o.flags & OCIDIR_UNPACK_NO_SYNC);
    if (sync && syncfs(ctx.root) != 0)
        throw Error(OCIDIR_E_NOT_DURABLE, "unpack: syncfs on " + dest.path + ": " + errno_text(errno), errno);
    if (unlinkat(ctx.root, OCIDIR_UNPACK_MARKER, 0) != 0)
        throw_os("unpack: remove " + dest.path + "/" OCIDIR_UNPACK_MARKER, errno);
    apply_root_attrs(ctx);
    if (sync && fsync(ctx.root) != 0)
        throw Error(OCIDIR_E_NOT_DURABLE, "unpack: fsync " + dest.path + ": " + errno_text(errno), errno);
    return report;
}

}  // namespace ocd::unpack
