// ocidir_clone: snapshot index.json and the graph, take every reachable blob
// into a temporary sibling directory (reflink, else hard link, else copy;
// each verified), then rename that directory into place.
#include "housekeeping/clone.hh"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "store/blob_store.hh"
#include "format/digest.hh"
#include "base/error.hh"
#include "fs/fileio.hh"
#include "housekeeping/gc.hh"
#include "housekeeping/graph.hh"
#include "format/hash.hh"
#include "fs/resolve.hh"
#include "fs/tempfile.hh"
#include "housekeeping/take.hh"

namespace ocd::clone {

namespace {

constexpr const char *kOp = "ocidir_clone";
constexpr take::Op kTake{kOp, "nothing was cloned"};

// Remove a tree this clone made, through directory fds, following no symlink.
void remove_tree(int parent, const std::string &name) noexcept
{
    try {
        Fd dir(openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (dir) {
            for (const std::string &n : list_dir(dir.get(), name)) {
                struct stat st;
                if (fstatat(dir.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                    remove_tree(dir.get(), n);
                else
                    unlinkat(dir.get(), n.c_str(), 0);
            }
        }
        unlinkat(parent, name.c_str(), AT_REMOVEDIR);
    } catch (...) {
    }
}

// The temporary directory the clone is built in; removed unless published.
class TempTree {
public:
    TempTree(int parent, std::string name, std::string label)
        : parent_(parent), name_(std::move(name)), label_(std::move(label))
    {
        if (mkdirat(parent_, name_.c_str(), 0755) != 0)
            throw_os("creating " + label_, errno);
        made_ = true;
        root_.reset(openat(parent_, name_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!root_)
            throw_os("opening " + label_, errno);
    }
    TempTree(const TempTree &) = delete;
    TempTree &operator=(const TempTree &) = delete;
    ~TempTree()
    {
        if (made_)
            remove_tree(parent_, name_);
    }
    int root() const noexcept { return root_.get(); }
    const std::string &name() const noexcept { return name_; }
    const std::string &label() const noexcept { return label_; }
    void published() noexcept { made_ = false; }

private:
    int parent_;
    std::string name_, label_;
    Fd root_;
    bool made_ = false;
};

Fd make_dir(int parent, const char *name, const std::string &label)
{
    if (mkdirat(parent, name, 0755) != 0 && errno != EEXIST)
        throw_os("creating " + label, errno);
    Fd fd(openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
        throw_os("opening " + label, errno);
    return fd;
}

Fd dup_fd(int fd, const std::string &label)
{
    Fd d(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!d)
        throw_os("duplicating the fd of " + label, errno);
    return d;
}

// The destination: its parent directory, its name, and whether it exists
// (then as an empty directory).
struct Dest {
    Fd parent;
    std::string name;
    std::string label;
    bool exists = false;
};

Dest check_destination(int dirfd, const char *path)
{
    Dest d;
    d.label = path;
    std::string p(path);
    while (p.size() > 1 && p.back() == '/')
        p.pop_back();
    size_t slash = p.rfind('/');
    std::string parent = slash == std::string::npos ? "" : slash == 0 ? "/" : p.substr(0, slash);
    d.name = slash == std::string::npos ? p : p.substr(slash + 1);
    if (!resolve::is_plain_name(d.name))
        throw Error(OCIDIR_E_INVALID, std::string(kOp) + ": destination " + quote(path) +
                                          " does not end in a directory name");
    int e = resolve::open_caller_path(dirfd, parent.empty() ? nullptr : parent.c_str(), O_RDONLY | O_DIRECTORY,
                                      d.parent);
    if (e != 0) {
        if (e == ENOENT)
            throw Error(OCIDIR_E_NOT_FOUND, std::string(kOp) + ": the parent directory of " + d.label +
                                                " does not exist", e);
        throw_os(std::string(kOp) + ": opening the parent directory of " + d.label, e);
    }
    struct stat st;
    if (fstatat(d.parent.get(), d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT)
            throw_os(std::string(kOp) + ": stat of " + d.label, errno);
        return d;
    }
    if (!S_ISDIR(st.st_mode))
        throw Error(OCIDIR_E_EXISTS, std::string(kOp) + ": destination " + d.label + " exists and is " +
                                         file_type_name(st.st_mode) + ", not an empty directory");
    Fd dir(openat(d.parent.get(), d.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir)
        throw_os(std::string(kOp) + ": opening " + d.label, errno);
    if (!list_dir(dir.get(), std::string(kOp) + ": " + d.label).empty())
        throw Error(OCIDIR_E_EXISTS, std::string(kOp) + ": destination " + d.label + " is not empty");
    d.exists = true;
    return d;
}

std::string random_hex()
{
    uint8_t b[8];
    if (getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b))
        throw_os("getrandom", errno);
    return to_hex(b, sizeof b);
}

// index.json's bytes and the graph they describe, read so that both belong
// to the same index.json (a writer may replace it meanwhile).
struct Snapshot {
    std::string index;
    graph::Graph graph;
};

Snapshot snapshot(const ocidir &src)
{
    auto read_index = [&] {
        return read_small_file(src.root.get(), "index.json", src.json_limit.load(), src.label + "/index.json");
    };
    for (int attempt = 0; attempt < 8; attempt++) {
        Snapshot s;
        s.index = read_index();
        s.graph = graph::walk(src);
        if (read_index() == s.index)
            return s;
    }
    throw Error(OCIDIR_E_IO, std::string(kOp) + ": " + src.label +
                                 "/index.json kept changing while its graph was read; try again");
}

// Run f, which publishes a file inside the temporary tree.  Nothing there is visible yet,
// so a directory flush that fails is the clone's I/O error (the tree goes),
// not a published change (NOT_DURABLE).
template <class F>
auto in_tree(F &&f) -> decltype(f())
{
    try {
        return f();
    } catch (const Error &e) {
        if (e.code() != OCIDIR_E_NOT_DURABLE)
            throw;
        throw Error(OCIDIR_E_IO, std::string(kOp) + ": " + e.message() + " (a directory of the temporary clone: "
                                     "nothing was cloned)", e.os_errno());
    }
}

struct Taker {
    const ocidir &src;
    unsigned flags;
    int blobs_fd;
    std::string blobs_label;
    Fd alg_dirs[kAlgCount];

    int alg_dir(Alg alg)
    {
        Fd &fd = alg_dirs[static_cast<int>(alg)];
        if (!fd)
            fd = make_dir(blobs_fd, std::string(alg_name(alg)).c_str(), blobs_label + "/" + std::string(alg_name(alg)));
        return fd.get();
    }

    int take(const graph::Node &n, ocidir_report &rep)
    {
        Digest dg = parse_digest(n.digest.c_str());
        int dst = alg_dir(dg.alg);
        std::string dst_label = blobs_label + "/" + std::string(alg_name(dg.alg));
        TempFile tmp(dup_fd(dst, dst_label), dst_label);
        // The temporary tree is the clone's own: nothing else puts <hex> there.
        return in_tree([&] {
            return take::take_blob(src, dg, n.size, n.from, tmp, dst_label, flags & OCIDIR_CLONE_NO_HARDLINK, rep, kTake);
        });
    }
};

void write_file(int dir, const std::string &label, const char *name, const std::string &bytes)
{
    TempFile tmp(dup_fd(dir, label), label);
    tmp.write_all(bytes.data(), bytes.size());
    if (!in_tree([&] { return tmp.publish(name); }))
        throw Error(OCIDIR_E_EXISTS, std::string(kOp) + ": " + label + "/" + name + " appeared meanwhile");
}

}  // namespace

Result clone(const ocidir &src, int dirfd, const char *path, const ocidir_clone_options_t &o, bool open_result)
{
    const unsigned flags = o.flags;
    if (flags & ~static_cast<unsigned>(OCIDIR_CLONE_NO_HARDLINK))
        throw Error(OCIDIR_E_INVALID, std::string(kOp) + ": unknown flags " + std::to_string(flags));
    Dest dest = check_destination(dirfd, path);

    Snapshot snap = snapshot(src);
    gc::check_complete(src, snap.graph, kOp);
    std::string layout_file = read_small_file(src.root.get(), "oci-layout", kLayoutFileMax, src.label + "/oci-layout");

    Result res;
    res.report = std::make_unique<ocidir_report>();
    ocidir_report &rep = *res.report;
    Progress prog(o.progress, o.user, kOp);
    for (const graph::Node &n : snap.graph.nodes)
        if (n.registered && !n.absent)
            prog.add_total(static_cast<uint64_t>(std::max<int64_t>(0, n.size)));

    std::string tmpname = "." + dest.name + ".ocidir-clone-" + random_hex();
    TempTree tree(dest.parent.get(), tmpname, "temporary clone directory " + tmpname + " next to " + dest.label);
    Fd blobs = make_dir(tree.root(), "blobs", tree.label() + "/blobs");
    Taker taker{src, flags, blobs.get(), tree.label() + "/blobs", {}};
    taker.alg_dir(Alg::sha256);  // as every new layout has

    prog.advance(0);
    for (const graph::Node &n : snap.graph.nodes) {
        if (!n.registered) {
            rep.add(OCIDIR_FIND_UNSUPPORTED, n.digest, static_cast<uint64_t>(std::max<int64_t>(0, n.size)),
                    "descriptor " + n.from + " names " + n.digest +
                        ", of an unregistered algorithm: not cloned (the clone lacks it as the source does)");
            continue;
        }
        if (n.absent) {
            rep.add(OCIDIR_FIND_ABSENT_CHILD, n.digest, static_cast<uint64_t>(std::max<int64_t>(0, n.size)),
                    "manifest " + n.digest + " listed at " + n.from +
                        " is not in the source: not cloned (the clone lacks it as the source does)");
            continue;
        }
        taker.take(n, rep);
        rep.blobs++;
        rep.bytes += static_cast<uint64_t>(std::max<int64_t>(0, n.size));
        prog.advance(static_cast<uint64_t>(std::max<int64_t>(0, n.size)));
    }

    // Everything durable before the rename makes it visible.
    for (const Fd &fd : taker.alg_dirs)
        if (fd)
            fsync_dir(fd.get(), tree.label() + "/blobs");
    fsync_dir(blobs.get(), tree.label() + "/blobs");
    write_file(tree.root(), tree.label(), "oci-layout", layout_file);
    write_file(tree.root(), tree.label(), "index.json", snap.index);
    // The last progress call comes before the publishing rename, so that a
    // cancel there still leaves no destination (the temporary tree goes).
    prog.finish();

    // Renaming a directory replaces an empty directory, never a non-empty
    // one nor anything else.
    if (renameat(dest.parent.get(), tmpname.c_str(), dest.parent.get(), dest.name.c_str()) != 0) {
        int e = errno;
        if (e == ENOTEMPTY || e == EEXIST || e == ENOTDIR || e == EISDIR)
            throw Error(OCIDIR_E_EXISTS, std::string(kOp) + ": destination " + dest.label +
                                             " was filled by someone else meanwhile; nothing was cloned", e);
        throw_os(std::string(kOp) + ": renaming " + tmpname + " to " + dest.label, e);
    }
    tree.published();
    // The clone is in place and visible: a failed flush of its parent is
    // NOT_DURABLE, and the caller still gets the layout and the report.
    try {
        fsync_dir(dest.parent.get(), "the parent directory of " + dest.label);
    } catch (const Error &e) {
        res.not_durable.emplace(OCIDIR_E_NOT_DURABLE,
                                std::string(kOp) + ": " + dest.label +
                                    " is in place, but flushing its parent directory failed (" + e.message() +
                                    "); the clone is visible but may not survive a crash",
                                e.os_errno());
    }
    if (open_result)
    {
        res.layout = open_layout(dest.parent.get(), dest.name.c_str(), 0);
        res.layout->label = dest.label;
    }
    return res;
}

}  // namespace ocd::clone
