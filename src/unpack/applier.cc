#include "unpack/applier.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.hh"
#include "unpack/context.hh"
#include "unpack/tree.hh"
#include "unpack/whiteout.hh"

namespace ocd::unpack {

namespace {

constexpr const char *kRootlessXattr = "user.rootlesscontainers";

std::string proc_fd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

bool starts_with(const std::string &s, const char *p) { return s.compare(0, strlen(p), p) == 0; }

// Why an xattr of the image is not applied by default; nullptr if it is.
const char *refused_xattr(const std::string &name)
{
    if (name == "security.selinux")
        return "SELinux labels come from the host's policy";
    if (name == "system.nfs4_acl")
        return "NFSv4 ACLs are host-specific";
    if (starts_with(name, "trusted.overlay.") || starts_with(name, "user.overlay."))
        return "overlayfs metadata would change how an overlay mount reads the tree";
    if (starts_with(name, "trusted."))
        return "trusted.* is for privileged host software";
    return nullptr;
}

// An inode just created (or a directory being merged): `fd` is a real fd
// (file, directory) or an O_PATH fd (symlink, FIFO, device: `opath`).
struct Node {
    int fd;
    bool opath;
    bool symlink;
};

void set_xattr(Context &ctx, const Node &n, const std::string &path, const std::string &name, const std::string &value)
{
    int r;
    if (!n.opath)
        r = fsetxattr(n.fd, name.c_str(), value.data(), value.size(), 0);
    else
        r = setxattr(proc_fd(n.fd).c_str(), name.c_str(), value.data(), value.size(), 0);
    if (r == 0)
        return;
    int err = errno;
    if (err == ENOTSUP) {
        if (!ctx.xattr_unsupported_reported) {
            ctx.xattr_unsupported_reported = true;
            ctx.report.add(OCIDIR_FIND_XATTR_UNSUPPORTED, path, 0,
                           "xattr " + name + " not applied: the destination filesystem does not support it (" +
                               errno_text(err) + "); later ones refused the same way are not reported");
        }
        return;
    }
    if (err == EPERM && ctx.own.rootless()) {
        ctx.report.add(OCIDIR_FIND_XATTR_SKIPPED, path, 0, "xattr " + name + " not applied: " + errno_text(err));
        return;
    }
    throw Error(OCIDIR_E_IO, "xattr " + name + ": " + errno_text(err), err);
}

void apply_xattrs(Context &ctx, const Node &n, const std::string &path, const TarEntry &e)
{
    for (const auto &[name, value] : e.xattrs) {
        const char *why = nullptr;
        if (ctx.flags & OCIDIR_UNPACK_NO_XATTRS)
            why = "OCIDIR_UNPACK_NO_XATTRS";
        else if (name.empty())
            why = "empty name";
        else if (n.symlink)
            why = "xattrs are not applied to symlinks";
        else if (ctx.own.rootless() && name == kRootlessXattr)
            why = "the image's own owner record is replaced in rootless mode";
        else if (!(ctx.flags & OCIDIR_UNPACK_ALL_XATTRS))
            why = refused_xattr(name);
        if (why) {
            ctx.report.add(OCIDIR_FIND_XATTR_SKIPPED, path, 0, "xattr " + name + " not applied: " + why);
            continue;
        }
        set_xattr(ctx, n, path, name, value);
    }
    if (ctx.own.rootless() && !n.symlink) {
        std::string v = Ownership::rootless_xattr(static_cast<uint32_t>(e.uid), static_cast<uint32_t>(e.gid));
        if (!v.empty())
            set_xattr(ctx, n, path, kRootlessXattr, v);
    }
}

void times_of(const TarEntry &e, struct timespec ts[2])
{
    ts[1] = e.mtime;
    ts[0] = e.has_atime ? e.atime : e.mtime;
}

// Owner, then mode (so setuid/setgid survive the chown), xattrs, times.
void finish(Context &ctx, const Node &n, int parent, const std::string &name, const std::string &path,
            const TarEntry &e)
{
    ctx.own.apply(n.fd, static_cast<uint32_t>(e.uid), static_cast<uint32_t>(e.gid), path);
    if (!n.symlink) {
        int r = n.opath ? chmod(proc_fd(n.fd).c_str(), e.mode) : fchmod(n.fd, e.mode);
        if (r != 0)
            throw_os("chmod", errno);
    }
    apply_xattrs(ctx, n, path, e);
    if (e.has_mtime) {
        struct timespec ts[2];
        times_of(e, ts);
        int r;
        if (n.symlink)
            r = utimensat(parent, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
        else if (n.opath)
            r = utimensat(AT_FDCWD, proc_fd(n.fd).c_str(), ts, 0);
        else
            r = futimens(n.fd, ts);
        if (r != 0)
            throw_os("set times", errno);
    }
}

// The inode `name` in `parent` just made: opened without following, and
// checked to be of the type made.
Fd open_made(int parent, const std::string &name, mode_t type)
{
    Fd f(openat(parent, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!f)
        throw_os("open what was made", errno);
    struct stat st;
    if (fstat(f.get(), &st) != 0)
        throw_os("stat", errno);
    if ((st.st_mode & S_IFMT) != type)
        throw Error(OCIDIR_E_IO, "replaced by something else while being made");
    return f;
}

void write_file(Context &ctx, TarReader &tar, int fd, const TarEntry &e)
{
    const void *buf;
    size_t len;
    int64_t off;
    int64_t end = 0;
    while (tar.data(buf, len, off)) {
        if (off < 0 || len > static_cast<size_t>(INT64_MAX) || off + static_cast<int64_t>(len) > e.size)
            throw Error(OCIDIR_E_FORMAT, "content past the entry's size");
        const char *p = static_cast<const char *>(buf);
        size_t done = 0;
        while (done < len) {
            ssize_t w = pwrite(fd, p + done, len - done, off + static_cast<int64_t>(done));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                throw_os("write", errno);
            }
            done += static_cast<size_t>(w);
        }
        end = off + static_cast<int64_t>(len);
    }
    if (end < e.size && ftruncate(fd, e.size) != 0)  // a sparse file's final hole
        throw_os("truncate", errno);
    (void)ctx;
}

// What the final directory pass sets on a directory made for entry `e`
// (its mode and times), and which directory that is (`st`, its fstat).
DirAttrs dir_attrs(const TarEntry &e, const struct stat &st)
{
    DirAttrs a;
    a.mode = e.mode;
    a.has_mtime = e.has_mtime;
    a.mtime = e.mtime;
    a.has_atime = e.has_atime;
    a.atime = e.atime;
    a.dev = st.st_dev;
    a.ino = st.st_ino;
    return a;
}

void apply_root(Context &ctx, const TarEntry &e)
{
    if (e.type != EntryType::Dir)
        throw Error(OCIDIR_E_FORMAT, "the root entry is not a directory");
    Node n{ctx.root, false, false};
    ctx.own.apply(ctx.root, static_cast<uint32_t>(e.uid), static_cast<uint32_t>(e.gid), "/");
    apply_xattrs(ctx, n, "/", e);
    struct stat st;
    if (fstat(ctx.root, &st) != 0)
        throw_os("stat root", errno);
    ctx.dirs[""] = dir_attrs(e, st);
}

}  // namespace

void apply_entry(Context &ctx, TarReader &tar, const TarEntry &e)
{
    const std::string path = clean_path(e.path);
    if (path.empty()) {
        apply_root(ctx, e);
        return;
    }
    std::string parent, name;
    split_parent(path, parent, name);
    if (is_whiteout(name)) {
        apply_whiteout(ctx, parent, name);
        return;
    }
    if (parent.empty() && name == OCIDIR_UNPACK_MARKER)
        throw Error(OCIDIR_E_FORMAT, "the name " OCIDIR_UNPACK_MARKER " is reserved for the unpack's marker");
    if (e.type == EntryType::File) {
        if (static_cast<uint64_t>(e.size) > ctx.max_bytes - ctx.bytes)
            throw Error(OCIDIR_E_TOO_LARGE, "size " + std::to_string(e.size) + " would pass the bound of " +
                                                std::to_string(ctx.max_bytes) + " bytes written (max_bytes)");
        ctx.bytes += static_cast<uint64_t>(e.size);
    }

    Fd pfd;
    int err = open_dir(ctx, parent, true, pfd);
    if (err != 0)
        throw Error(err == ENOTDIR ? OCIDIR_E_FORMAT
                                   : (err == EXDEV || err == ELOOP ? OCIDIR_E_ESCAPE : OCIDIR_E_IO),
                    "parent \"" + parent + "\": " +
                        (err == ENOTDIR ? std::string("not a directory") : errno_text(err)),
                    err);
    const int p = pfd.get();

    // A hard link's target, resolved before anything at `path` is removed.
    Fd tparent;
    std::string tname;
    if (e.type == EntryType::Hardlink) {
        std::string target = clean_path(e.link);
        if (target.empty() || target == path)
            throw Error(OCIDIR_E_FORMAT, "hard link to \"" + e.link + "\": not a linkable entry");
        std::string tdir;
        split_parent(target, tdir, tname);
        int terr = open_dir(ctx, tdir, false, tparent);
        if (terr != 0)
            throw Error(terr == EXDEV || terr == ELOOP ? OCIDIR_E_ESCAPE : OCIDIR_E_FORMAT,
                        "hard link target \"" + e.link + "\": " + errno_text(terr), terr);
        struct stat tst;
        if (fstatat(tparent.get(), tname.c_str(), &tst, AT_SYMLINK_NOFOLLOW) != 0)
            throw Error(OCIDIR_E_FORMAT, "hard link target \"" + e.link + "\": " + errno_text(errno), errno);
        if (S_ISDIR(tst.st_mode))
            throw Error(OCIDIR_E_FORMAT, "hard link target \"" + e.link + "\" is a directory");
    }

    ctx.written.insert(path);
    struct stat st;
    bool exists = fstatat(p, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (!exists && errno != ENOENT)
        throw_os("stat", errno);
    if (exists && !(S_ISDIR(st.st_mode) && e.type == EntryType::Dir)) {
        remove_tree(p, name.c_str(), path);  // type replacement: remove, then create
        ctx.forget(path);
        exists = false;
    }

    switch (e.type) {
    case EntryType::File: {
        Fd f(openat(p, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!f)
            throw_os("create", errno);
        write_file(ctx, tar, f.get(), e);
        finish(ctx, Node{f.get(), false, false}, p, name, path, e);
        break;
    }
    case EntryType::Dir: {
        if (!exists && mkdirat(p, name.c_str(), 0700) != 0)
            throw_os("mkdir", errno);
        Fd d(openat(p, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!d)
            throw_os("open directory", errno);
        ctx.own.apply(d.get(), static_cast<uint32_t>(e.uid), static_cast<uint32_t>(e.gid), path);
        apply_xattrs(ctx, Node{d.get(), false, false}, path, e);
        struct stat dst;
        if (fstat(d.get(), &dst) != 0)
            throw_os("stat", errno);
        ctx.dirs[path] = dir_attrs(e, dst);
        break;
    }
    case EntryType::Symlink: {
        if (symlinkat(e.link.c_str(), p, name.c_str()) != 0)
            throw_os("symlink", errno);
        Fd f = open_made(p, name, S_IFLNK);
        finish(ctx, Node{f.get(), true, true}, p, name, path, e);
        break;
    }
    case EntryType::Hardlink:
        if (linkat(tparent.get(), tname.c_str(), p, name.c_str(), 0) != 0)
            throw_os("link to \"" + e.link + "\"", errno);
        break;
    case EntryType::Fifo:
    case EntryType::Char:
    case EntryType::Block: {
        mode_t type = e.type == EntryType::Fifo ? S_IFIFO : e.type == EntryType::Char ? S_IFCHR : S_IFBLK;
        if (type != S_IFIFO && ctx.own.rootless()) {
            ctx.written.erase(path);
            ctx.report.add(OCIDIR_FIND_DEVICE_SKIPPED, path, 0,
                           std::string(type == S_IFCHR ? "character" : "block") + " device " +
                               std::to_string(e.rdev_major) + ":" + std::to_string(e.rdev_minor) +
                               " not created (rootless mode)");
            return;
        }
        dev_t dev = type == S_IFIFO ? 0 : makedev(e.rdev_major, e.rdev_minor);
        if (mknodat(p, name.c_str(), type | 0600, dev) != 0)
            throw_os(type == S_IFIFO ? "mkfifo" : "mknod", errno);
        Fd f = open_made(p, name, type);
        finish(ctx, Node{f.get(), true, false}, p, name, path, e);
        break;
    }
    }
}

}  // namespace ocd::unpack
