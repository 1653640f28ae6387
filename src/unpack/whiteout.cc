#include "unpack/whiteout.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.hh"
#include "unpack/context.hh"
#include "unpack/tree.hh"

namespace ocd::unpack {

namespace {

void remove_unwritten(Context &ctx, int dirfd, const std::string &dirpath, const std::string &name);

// Every child of the directory `fd` (path `path`) that this layer did not write.
void remove_children_unwritten(Context &ctx, int fd, const std::string &path)
{
    for (const std::string &c : list_dir(fd)) {
        if (path.empty() && c == OCIDIR_UNPACK_MARKER)
            continue;
        remove_unwritten(ctx, fd, path, c);
    }
}

void remove_unwritten(Context &ctx, int dirfd, const std::string &dirpath, const std::string &name)
{
    const std::string path = join(dirpath, name);
    struct stat st;
    if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return;
        throw_os(path + ": stat", errno);
    }
    const bool keep = ctx.written.count(path) > 0 || ctx.has_written_below(path);
    if (!keep) {
        remove_tree(dirfd, name.c_str(), path);
        ctx.forget(path);
        return;
    }
    if (!S_ISDIR(st.st_mode))
        return;
    Fd d(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d)
        throw_os(path + ": open", errno);
    remove_children_unwritten(ctx, d.get(), path);
}

}  // namespace

bool is_whiteout(const std::string &name) noexcept
{
    return name.compare(0, strlen(kWhiteoutPrefix), kWhiteoutPrefix) == 0;
}

void apply_whiteout(Context &ctx, const std::string &parent, const std::string &name)
{
    const bool opaque = name == kOpaqueName;
    std::string target;
    if (!opaque) {
        target = name.substr(strlen(kWhiteoutPrefix));
        if (target.empty() || target == "." || target == "..")
            throw Error(OCIDIR_E_FORMAT, "invalid whiteout: it names \"" + target + "\"");
        if (parent.empty() && target == OCIDIR_UNPACK_MARKER)
            return;
    }
    Fd pfd;
    int err = open_dir(ctx, parent, false, pfd);
    if (err == ENOENT)
        return;  // nothing below to hide
    if (err != 0)
        throw Error(err == ENOTDIR ? OCIDIR_E_FORMAT : (err == EXDEV || err == ELOOP ? OCIDIR_E_ESCAPE : OCIDIR_E_IO),
                    "whiteout's directory \"" + parent + "\": " + errno_text(err), err);
    if (!opaque) {
        remove_unwritten(ctx, pfd.get(), parent, target);
        return;
    }
    Fd d(openat(pfd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d)
        throw_os("opaque directory \"" + parent + "\": open", errno);
    remove_children_unwritten(ctx, d.get(), parent);
}

}  // namespace ocd::unpack
