#include "fs/resolve.hh"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.hh"

namespace ocd::resolve {

namespace {

constexpr int kMaxEagainRetries = 32;
constexpr int kMaxSymlinks = 40;  // as the kernel's MAXSYMLINKS

std::once_flag g_probe_once;
bool g_have_openat2 = false;

long sys_openat2(int dirfd, const char *path, open_how *how) noexcept
{
    return syscall(SYS_openat2, dirfd, path, how, sizeof *how);
}

void probe() noexcept
{
    const char *force = getenv("OCIDIR_FORCE_RESOLVE_FALLBACK");
    if (force && *force && strcmp(force, "0") != 0)
        return;
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = sys_openat2(AT_FDCWD, ".", &how);
    if (fd >= 0) {
        close(static_cast<int>(fd));
        g_have_openat2 = true;
    }
    // ENOSYS (old kernel), EPERM (seccomp), E2BIG/EINVAL (unknown fields):
    // the component walk is used from now on.
}

bool have_openat2() noexcept
{
    std::call_once(g_probe_once, probe);
    return g_have_openat2;
}

void split_into(std::string_view path, std::deque<std::string> &out, bool front)
{
    std::vector<std::string> parts;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string_view::npos)
            j = path.size();
        if (j > i)
            parts.emplace_back(path.substr(i, j - i));
        i = j + 1;
    }
    if (front)
        out.insert(out.begin(), parts.begin(), parts.end());
    else
        out.insert(out.end(), parts.begin(), parts.end());
}

// The component walk.  Mirrors openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS):
// absolute symlinks and ".." above the root are EXDEV, symlinks on procfs are
// ELOOP, more than kMaxSymlinks expansions are ELOOP.  With `in_root` it
// mirrors RESOLVE_IN_ROOT instead: an absolute path or symlink starts again
// at the root, and ".." at the root stays there.
int walk(int root, std::string_view path, int flags, Fd &out, bool in_root = false)
{
    if (!path.empty() && path.front() == '/' && !in_root)
        return EXDEV;
    std::deque<std::string> todo;
    split_into(path, todo, false);
    std::vector<Fd> stack;  // directories below root; top is the current one
    const bool follow_last = !(flags & O_NOFOLLOW);
    int links = 0;

    while (!todo.empty()) {
        std::string comp = std::move(todo.front());
        todo.pop_front();
        if (comp == ".")
            continue;
        if (comp == "..") {
            if (stack.empty()) {
                if (in_root)
                    continue;
                return EXDEV;
            }
            stack.pop_back();
            continue;
        }
        const int cur = stack.empty() ? root : stack.back().get();
        const bool last = todo.empty();
        Fd f(openat(cur, comp.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!f)
            return errno;
        struct stat st;
        if (fstat(f.get(), &st) != 0)
            return errno;
        if (S_ISLNK(st.st_mode) && (!last || follow_last)) {
            if (++links > kMaxSymlinks)
                return ELOOP;
            struct statfs sfs;
            if (fstatfs(f.get(), &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC)
                return ELOOP;  // a magic link, or any symlink on procfs
            std::string target(PATH_MAX, '\0');
            ssize_t n = readlinkat(f.get(), "", target.data(), target.size());
            if (n < 0)
                return errno;
            if (static_cast<size_t>(n) >= target.size())
                return ENAMETOOLONG;
            target.resize(static_cast<size_t>(n));
            if (target.empty())
                return ENOENT;
            if (target.front() == '/') {
                if (!in_root)
                    return EXDEV;
                stack.clear();
            }
            split_into(target, todo, true);
            continue;
        }
        if (!last) {
            if (!S_ISDIR(st.st_mode))
                return ENOTDIR;
            stack.push_back(std::move(f));
            continue;
        }
        if ((flags & O_PATH) && (flags & O_NOFOLLOW) && !(flags & O_DIRECTORY)) {
            out = std::move(f);
            return 0;
        }
        // The final component is not a symlink: open it for real.  O_NOFOLLOW
        // makes a concurrent swap to a symlink fail (ELOOP) instead of being
        // followed; the inode check catches any other swap.
        Fd r(openat(cur, comp.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
        if (!r)
            return errno;
        struct stat st2;
        if (fstat(r.get(), &st2) != 0)
            return errno;
        if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)
            return EAGAIN;
        out = std::move(r);
        return 0;
    }
    // The path ended on a directory (empty path, "." or "a/.."): open it.
    const int cur = stack.empty() ? root : stack.back().get();
    Fd r(openat(cur, ".", (flags & ~O_NOFOLLOW) | O_CLOEXEC | O_NOCTTY));
    if (!r)
        return errno;
    out = std::move(r);
    return 0;
}

}  // namespace

bool uses_openat2() noexcept { return have_openat2(); }

bool is_plain_name(std::string_view name) noexcept
{
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
           name.find('\0') == std::string_view::npos;
}

// openat2(root, path) confined by `resolve` (RESOLVE_BENEATH or
// RESOLVE_IN_ROOT; magic links are always refused), retried while a
// concurrent rename makes the kernel answer EAGAIN.  Returns 0 with `out`
// set, the errno, or EAGAIN when every retry raced.
static int openat2_retrying(int root, std::string_view path, int flags, uint64_t resolve, Fd &out)
{
    std::string p(path.empty() ? std::string_view(".") : path);
    open_how how{};
    // openat2 is strict: O_PATH takes no other flags than these.
    int f = (flags & O_PATH) ? (flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW)) | O_CLOEXEC
                             : flags | O_CLOEXEC | O_NOCTTY;
    how.flags = static_cast<uint64_t>(f);
    how.resolve = resolve | RESOLVE_NO_MAGICLINKS;
    for (int i = 0; i < kMaxEagainRetries; i++) {
        long fd = sys_openat2(root, p.c_str(), &how);
        if (fd >= 0) {
            out.reset(static_cast<int>(fd));
            return 0;
        }
        if (errno != EAGAIN)
            return errno;
    }
    return EAGAIN;
}

int open_beneath(int root, std::string_view path, int flags, Fd &out) noexcept
{
    try {
        if (path.find('\0') != std::string_view::npos)
            return EINVAL;
        if (have_openat2()) {
            int err = openat2_retrying(root, path, flags, RESOLVE_BENEATH, out);
            if (err != EAGAIN)
                return err;
            // Renames kept racing with the lookup: the walk does not care.
        }
        for (int i = 0; i < kMaxEagainRetries; i++) {
            int err = walk(root, path, flags, out);
            if (err != EAGAIN)
                return err;
        }
        return EAGAIN;
    } catch (const std::bad_alloc &) {
        return ENOMEM;
    }
}

int open_in_root(int root, std::string_view path, int flags, Fd &out) noexcept
{
    try {
        if (path.find('\0') != std::string_view::npos)
            return EINVAL;
        // openat2 refuses a path of PATH_MAX bytes or more; the walk takes it
        // one component at a time.
        if (have_openat2() && path.size() < PATH_MAX - 1) {
            int err = openat2_retrying(root, path, flags, RESOLVE_IN_ROOT, out);
            if (err != EAGAIN)
                return err;
        }
        for (int i = 0; i < kMaxEagainRetries; i++) {
            int err = walk(root, path, flags, out, true);
            if (err != EAGAIN)
                return err;
        }
        return EAGAIN;
    } catch (const std::bad_alloc &) {
        return ENOMEM;
    }
}

Fd open_beneath_or_throw(int root, std::string_view path, int flags, std::string_view what)
{
    Fd fd;
    int err = open_beneath(root, path, flags, fd);
    if (err != 0)
        throw_lookup(what, err);
    return fd;
}

int open_trusted_link(int dirfd, const char *name, int flags, Fd &out) noexcept
{
    if (have_openat2()) {
        open_how how{};
        how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | O_NOCTTY);
        how.resolve = RESOLVE_NO_MAGICLINKS;
        for (int i = 0;; i++) {
            long fd = sys_openat2(dirfd, name, &how);
            if (fd >= 0) {
                out.reset(static_cast<int>(fd));
                return 0;
            }
            if (errno != EAGAIN || i >= kMaxEagainRetries)
                return errno;
        }
    }
    int fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno;
    out.reset(fd);
    return 0;
}

int open_caller_path(int dirfd, const char *path, int flags, Fd &out) noexcept
{
    int fd = openat(dirfd, (path && *path) ? path : ".", flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno;
    out.reset(fd);
    return 0;
}

}  // namespace ocd::resolve
