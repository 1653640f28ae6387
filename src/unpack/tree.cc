#include "unpack/tree.hh"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "base/error.hh"
#include "fs/resolve.hh"
#include "unpack/context.hh"

namespace ocd::unpack {

std::string clean_path(std::string_view raw)
{
    if (raw.size() > kMaxPathBytes)
        throw Error(OCIDIR_E_FORMAT, "name longer than " + std::to_string(kMaxPathBytes) + " bytes");
    if (raw.find('\0') != std::string_view::npos)
        throw Error(OCIDIR_E_FORMAT, "name contains a NUL byte");
    std::string out;
    size_t depth = 0, i = 0;
    while (i < raw.size()) {
        size_t j = raw.find('/', i);
        if (j == std::string_view::npos)
            j = raw.size();
        std::string_view c = raw.substr(i, j - i);
        i = j + 1;
        if (c.empty() || c == ".")
            continue;
        if (c == "..")
            throw Error(OCIDIR_E_FORMAT, "name has a \"..\" component");
        if (c.size() > NAME_MAX)
            throw Error(OCIDIR_E_FORMAT, "a component is longer than " + std::to_string(NAME_MAX) + " bytes");
        if (++depth > kMaxDepth)
            throw Error(OCIDIR_E_FORMAT, "nested deeper than " + std::to_string(kMaxDepth) + " directories");
        if (!out.empty())
            out.push_back('/');
        out.append(c);
    }
    return out;
}

void split_parent(const std::string &path, std::string &parent, std::string &name)
{
    size_t k = path.rfind('/');
    if (k == std::string::npos) {
        parent.clear();
        name = path;
    } else {
        parent = path.substr(0, k);
        name = path.substr(k + 1);
    }
}

std::string join(const std::string &dir, const std::string &name)
{
    return dir.empty() ? name : dir + "/" + name;
}

int open_dir(Context &ctx, const std::string &dir, bool create, Fd &out)
{
    int err = resolve::open_in_root(ctx.root, dir, O_PATH | O_DIRECTORY, out);
    if (err != ENOENT || !create)
        return err;
    // Make the missing components one by one, each resolved inside the root
    // again from the top (a symlink among them is followed inside the root).
    Fd cur;
    if ((err = resolve::open_in_root(ctx.root, "", O_PATH | O_DIRECTORY, cur)) != 0)
        return err;
    std::string prefix;
    size_t i = 0;
    while (i < dir.size()) {
        size_t j = dir.find('/', i);
        if (j == std::string::npos)
            j = dir.size();
        std::string comp = dir.substr(i, j - i);
        i = j + 1;
        prefix = join(prefix, comp);
        Fd next;
        err = resolve::open_in_root(ctx.root, prefix, O_PATH | O_DIRECTORY, next);
        if (err == ENOENT) {
            if (mkdirat(cur.get(), comp.c_str(), 0700) != 0)
                return errno == EEXIST ? ENOTDIR : errno;  // EEXIST: a dangling symlink
            next.reset(openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!next)
                return errno;
            struct stat st;
            if (fstat(next.get(), &st) != 0)
                return errno;
            DirAttrs a;
            a.dev = st.st_dev;
            a.ino = st.st_ino;
            // The parent of an entry a layer did not list: root-owned 0755,
            // its times left as made (the final pass sets only the mode).
            ctx.dirs[prefix] = a;
            if (!ctx.own.rootless())
                if (fchown(next.get(), 0, 0) != 0 && errno != EPERM)
                    return errno;
            err = 0;
        }
        if (err != 0)
            return err;
        cur = std::move(next);
    }
    out = std::move(cur);
    return 0;
}

std::vector<std::string> list_dir(int fd)
{
    std::vector<std::string> names;
    int d = dup(fd);
    if (d < 0)
        throw_os("dup", errno);
    DIR *dp = fdopendir(d);
    if (!dp) {
        int e = errno;
        close(d);
        throw_os("fdopendir", e);
    }
    rewinddir(dp);
    errno = 0;
    while (struct dirent *de = readdir(dp)) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            names.emplace_back(de->d_name);
        errno = 0;
    }
    int e = errno;
    closedir(dp);
    if (e != 0)
        throw_os("readdir", e);
    return names;
}

void remove_tree(int dirfd, const char *name, const std::string &what)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return;
        throw_os(what + ": stat", errno);
    }
    if (S_ISDIR(st.st_mode)) {
        Fd d(openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!d)
            throw_os(what + ": open", errno);
        // A 0555 directory of the image can still be emptied by its owner.
        (void)fchmod(d.get(), 0700);
        for (const std::string &c : list_dir(d.get()))
            remove_tree(d.get(), c.c_str(), what + "/" + c);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
            throw_os(what + ": rmdir", errno);
    } else if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
        throw_os(what + ": unlink", errno);
    }
}

}  // namespace ocd::unpack
