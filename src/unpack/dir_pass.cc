#include "unpack/dir_pass.hh"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "base/error.hh"
#include "fs/resolve.hh"
#include "unpack/context.hh"

namespace ocd::unpack {

namespace {

void apply_one(int fd, const std::string &path, const DirAttrs &a)
{
    if (fchmod(fd, a.mode) != 0)
        throw_os("directory " + (path.empty() ? std::string("/") : path) + ": chmod", errno);
    if (a.has_mtime) {
        struct timespec ts[2] = {a.has_atime ? a.atime : a.mtime, a.mtime};
        if (futimens(fd, ts) != 0)
            throw_os("directory " + (path.empty() ? std::string("/") : path) + ": set times", errno);
    }
}

}  // namespace

void apply_dir_attrs(Context &ctx)
{
    std::vector<std::pair<size_t, const std::pair<const std::string, DirAttrs> *>> order;
    for (const auto &kv : ctx.dirs)
        if (!kv.first.empty())
            order.emplace_back(std::count(kv.first.begin(), kv.first.end(), '/'), &kv);
    std::stable_sort(order.begin(), order.end(), [](const auto &x, const auto &y) { return x.first > y.first; });
    for (const auto &[depth, kv] : order) {
        (void)depth;
        Fd d;
        int err = resolve::open_in_root(ctx.root, kv->first, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, d);
        if (err == ENOENT || err == ENOTDIR || err == ELOOP)
            continue;  // removed or replaced since
        if (err != 0)
            throw_os("directory " + kv->first + ": open", err);
        struct stat st;
        if (fstat(d.get(), &st) != 0)
            throw_os("directory " + kv->first + ": stat", errno);
        if (st.st_dev != kv->second.dev || st.st_ino != kv->second.ino)
            continue;
        apply_one(d.get(), kv->first, kv->second);
    }
}

void apply_root_attrs(Context &ctx)
{
    auto it = ctx.dirs.find("");
    if (it != ctx.dirs.end())
        apply_one(ctx.root, "", it->second);
}

}  // namespace ocd::unpack
