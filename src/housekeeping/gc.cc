// Garbage collection: mark from index.json through the graph, sweep one
// directory of blobs per algorithm with unlinkat() in that directory's fd.
#include "housekeeping/gc.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "format/digest.hh"
#include "base/error.hh"
#include "fs/fileio.hh"
#include "base/fd.hh"
#include "housekeeping/graph.hh"
#include "store/index.hh"
#include "store/layout.hh"
#include "fs/resolve.hh"
#include "fs/tempfile.hh"

namespace ocd {

void throw_canceled(const char *op, uint64_t done, uint64_t total)
{
    throw Error(OCIDIR_E_CANCELED, std::string(op) + ": canceled by the progress callback (at " +
                                       std::to_string(done) + " of " + std::to_string(total) + " bytes)");
}

void Progress::call()
{
    uint64_t total = std::max(done_, total_);
    if (fn_ && fn_(done_, total, user_) != 0)
        throw_canceled(op_, done_, total);
}

void Progress::advance(uint64_t n)
{
    done_ += n;
    call();
}

void Progress::finish()
{
    done_ = std::max(done_, total_);
    call();
}

}  // namespace ocd

namespace ocd::gc {

static_assert(ocidir::kDefaultGcGrace == OCIDIR_GC_GRACE_DEFAULT);

namespace {

using Live = std::unordered_set<std::string>;

// A directory of blobs of one algorithm that is to be swept.
struct SweepDir {
    Fd fd;
    Alg alg;
    std::string label;   // for messages
    std::string prefix;  // subjects of temporary files: "blobs/sha256/"
};

int damage_code(int kind) noexcept
{
    switch (kind) {
    case OCIDIR_FIND_MISSING: return OCIDIR_E_NOT_FOUND;
    case OCIDIR_FIND_DIGEST: return OCIDIR_E_DIGEST;
    case OCIDIR_FIND_SIZE: return OCIDIR_E_SIZE;
    case OCIDIR_FIND_IO: return OCIDIR_E_IO;
    default: return OCIDIR_E_FORMAT;  // LAYOUT, FORMAT, MEDIA_TYPE
    }
}

// Mark: every digest d's graph reaches.
void mark(const ocidir &d, Live &live, ocidir_report &rep, const char *op)
{
    graph::Graph g = graph::walk(d);
    check_complete(d, g, op);
    for (auto &n : g.nodes)
        live.insert(std::move(n.digest));
    for (auto &f : g.findings)
        rep.findings.push_back(std::move(f));  // notices only
}

bool same_inode(int fd, const struct stat &st) noexcept
{
    struct stat x;
    return fstat(fd, &x) == 0 && ocd::same_inode(x, st);
}

// `name` in `parent` as a directory, never through a symlink.  Empty when
// absent or not a directory.
Fd open_subdir(int parent, const std::string &name, const std::string &label)
{
    Fd fd(openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd && errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
        throw_os("opening " + label, errno);
    return fd;
}

// The layout's own blobs/<alg> directories: not a followed symlink, not a
// symlink at all, not one of the added blob directories.
std::vector<SweepDir> own_dirs(const ocidir &d)
{
    std::vector<SweepDir> out;
    Fd blobs;
    int e = resolve::open_beneath(d.root.get(), "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, blobs);
    if (e != 0)
        throw_lookup(d.label + "/blobs", e);
    for (Alg alg : kAllAlgs) {
        if (d.own_place(alg).kind != Place::Own)
            continue;  // a followed symlink: that directory is not the layout's to sweep
        std::string name(alg_name(alg));
        SweepDir s{open_subdir(blobs.get(), name, d.label + "/blobs/" + name), alg, d.label + "/blobs/" + name,
                   "blobs/" + name + "/"};
        if (!s.fd)
            continue;
        struct stat st;
        if (fstat(s.fd.get(), &st) != 0)
            throw_os("fstat " + s.label, errno);
        bool added = false;
        for (const Place &p : d.read_places(alg)) {
            if (p.kind != Place::Added)
                continue;
            Fd a;
            if (resolve::open_beneath(p.base, p.dir, O_PATH | O_DIRECTORY, a) == 0 && same_inode(a.get(), st))
                added = true;
        }
        if (!added)
            out.push_back(std::move(s));
    }
    return out;
}

struct Candidate {
    size_t dir;
    std::string name;
    std::string digest;
    uint64_t size;
};

int64_t now_seconds()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec);
}

// Sweep `dirs`: stale temporary files, then every blob not in `live`.
void sweep(std::vector<SweepDir> &dirs, const Live &live, int64_t grace, bool dry, ocidir_report &rep,
           Progress &prog)
{
    for (SweepDir &s : dirs)
        for (StaleTemp &t : stale_temps(s.fd.get(), !dry))
            rep.add(dry ? OCIDIR_FIND_TEMP : OCIDIR_FIND_REMOVED, s.prefix + t.name, t.size,
                    std::string(dry ? "temporary file no live writer holds (would be removed) in "
                                    : "removed a temporary file no live writer held, in ") + s.label);

    std::vector<Candidate> cands;
    for (size_t i = 0; i < dirs.size(); i++) {
        for (std::string &name : list_dir(dirs[i].fd.get(), dirs[i].label)) {
            std::string dg = std::string(alg_name(dirs[i].alg)) + ":" + name;
            if (classify_digest(dg) != 0)
                continue;  // not a blob name: ".", "..", temporary files, foreign files
            struct stat st;
            if (fstatat(dirs[i].fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if (live.count(dg)) {
                rep.blobs++;
                rep.bytes += static_cast<uint64_t>(st.st_size);
                continue;
            }
            prog.add_total(static_cast<uint64_t>(st.st_size));
            cands.push_back({i, std::move(name), std::move(dg), static_cast<uint64_t>(st.st_size)});
        }
    }
    prog.advance(0);  // before the first removal

    const int64_t now = now_seconds();
    std::vector<bool> changed(dirs.size());
    for (const Candidate &c : cands) {
        const SweepDir &s = dirs[c.dir];
        struct stat st;
        if (fstatat(s.fd.get(), c.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue;
            throw_os("stat of blob " + c.digest + " in " + s.label, errno);
        }
        const uint64_t size = static_cast<uint64_t>(st.st_size);
        if (S_ISDIR(st.st_mode)) {
            rep.add(OCIDIR_FIND_UNREFERENCED, c.digest, 0,
                    "unreferenced " + c.digest + " in " + s.label + " is a directory; left alone");
        } else if (grace > 0 && now - static_cast<int64_t>(st.st_mtim.tv_sec) < grace) {
            rep.add(OCIDIR_FIND_KEPT_RECENT, c.digest, size,
                    "unreferenced blob " + c.digest + " in " + s.label + " was modified " +
                        std::to_string(std::max<int64_t>(0, now - st.st_mtim.tv_sec)) +
                        " s ago, within the grace period of " + std::to_string(grace) + " s; kept");
        } else if (dry) {
            rep.add(OCIDIR_FIND_UNREFERENCED, c.digest, size,
                    "blob " + c.digest + " in " + s.label + " is referenced by nothing (would be removed)");
        } else if (unlinkat(s.fd.get(), c.name.c_str(), 0) == 0) {
            changed[c.dir] = true;
            rep.add(OCIDIR_FIND_REMOVED, c.digest, size,
                    "removed blob " + c.digest + " from " + s.label + ": referenced by nothing");
        } else if (errno != ENOENT) {
            throw_os("removing blob " + c.digest + " from " + s.label, errno);
        }
        try {
            prog.advance(c.size);
        } catch (const Error &e) {
            // Canceled between two removals: what was removed is flushed
            // as on a normal end, then the cancel goes on up.
            if (e.code() != OCIDIR_E_CANCELED)
                throw;
            for (size_t i = 0; i < dirs.size(); i++)
                if (changed[i])
                    fsync_dir(dirs[i].fd.get(), dirs[i].label);
            throw;
        }
    }
    for (size_t i = 0; i < dirs.size(); i++)
        if (changed[i])
            fsync_dir(dirs[i].fd.get(), dirs[i].label);
}

// Index update temporaries: all stale while the lock is held.
void sweep_index_temps(const ocidir &d, bool dry, ocidir_report &rep)
{
    bool removed = false;
    for (const std::string &name : index::index_temps(d)) {
        struct stat st;
        if (fstatat(d.root.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (dry) {
            rep.add(OCIDIR_FIND_TEMP, name, static_cast<uint64_t>(st.st_size),
                    "index.json update left by a writer that crashed (would be removed) in " + d.label);
        } else if (unlinkat(d.root.get(), name.c_str(), 0) == 0) {
            removed = true;
            rep.add(OCIDIR_FIND_REMOVED, name, static_cast<uint64_t>(st.st_size),
                    "removed an index.json update left by a writer that crashed, in " + d.label);
        }
    }
    if (removed)
        fsync_dir(d.root.get(), d.label);
}

void check_flags(unsigned flags, const char *op)
{
    if (flags & ~static_cast<unsigned>(OCIDIR_GC_DRY_RUN))
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": unknown flags " + std::to_string(flags));
}

}  // namespace

void check_complete(const ocidir &d, const graph::Graph &g, const char *op)
{
    if (g.complete)
        return;
    int code = OCIDIR_E_FORMAT;
    size_t damaged = 0;
    std::string list;
    for (const auto &f : g.findings) {
        if (!ocidir_report::is_damage(f.kind))
            continue;
        if (damaged == 0)
            code = damage_code(f.kind);
        if (damaged < 8)
            list += std::string(damaged ? "; " : "") + ocidir_find_kind_name(f.kind) + " " + f.subject + ": " +
                    f.message;
        damaged++;
    }
    if (damaged > 8)
        list += "; and " + std::to_string(damaged - 8) + " more";
    throw Error(code, std::string(op) + ": the graph of " + d.label +
                          " is damaged, so what its damaged part references cannot be known (nothing was done): " +
                          list);
}

void set_grace(ocidir &d, int64_t seconds)
{
    if (seconds < -1)
        throw Error(OCIDIR_E_INVALID, "ocidir_set_gc_grace: " + std::to_string(seconds) +
                                          " seconds is negative (0 turns the grace period off, -1 restores the "
                                          "default)");
    d.gc_grace.store(seconds == -1 ? ocidir::kDefaultGcGrace : seconds);
}

// The grace period of a run: the options' own, or the handle's.
static int64_t grace_of(const ocidir &d, const ocidir_gc_options_t &o, const char *op)
{
    if (o.grace_seconds == OCIDIR_GC_GRACE_HANDLE)
        return d.gc_grace.load();
    if (o.grace_seconds < 0)
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": grace_seconds " + std::to_string(o.grace_seconds) +
                                          " is negative (0 turns the grace period off, OCIDIR_GC_GRACE_HANDLE "
                                          "takes the handle's)");
    return o.grace_seconds;
}

std::unique_ptr<ocidir_report> collect(ocidir &d, const ocidir_gc_options_t &o, const char *op)
{
    const unsigned flags = o.flags;
    check_flags(flags, op);
    const int64_t grace = grace_of(d, o, op);
    const bool dry = flags & OCIDIR_GC_DRY_RUN;
    if (d.readonly && !dry)
        throw Error(OCIDIR_E_READONLY, std::string(op) + ": layout " + d.label +
                                           " was opened read-only (OCIDIR_GC_DRY_RUN only reports)");
    auto rep = std::make_unique<ocidir_report>();
    Progress prog(o.progress, o.user, op);
    // A read-only handle creates nothing, not even the lock file: its dry run
    // is a snapshot.
    std::optional<index::Lock> lock;
    if (!d.readonly)
        lock.emplace(d);
    Live live;
    mark(d, live, *rep, op);
    std::vector<SweepDir> dirs = own_dirs(d);
    sweep(dirs, live, grace, dry, *rep, prog);
    if (lock) {
        sweep_index_temps(d, dry, *rep);
    } else {
        for (const std::string &name : index::stale_temps_if_idle(d))
            rep->add(OCIDIR_FIND_TEMP, name, 0, "index.json update left by a writer that crashed, in " + d.label);
    }
    prog.finish();
    return rep;
}

std::unique_ptr<ocidir_report> collect_cache(int cache_fd, ocidir *const *layouts, size_t n,
                                             const ocidir_gc_options_t &o)
{
    const char *op = "ocidir_cache_gc";
    const unsigned flags = o.flags;
    check_flags(flags, op);
    const int64_t grace = grace_of(*layouts[0], o, op);
    const bool dry = flags & OCIDIR_GC_DRY_RUN;
    struct stat cst;
    if (fstat(cache_fd, &cst) != 0 || !S_ISDIR(cst.st_mode))
        throw Error(OCIDIR_E_INVALID, std::string(op) + ": cache_fd " + std::to_string(cache_fd) +
                                          " is not an open directory");
    // Every layout's lock, each layout once, in one global order (device,
    // inode of its root) so that two collections never wait on each other.
    struct Entry {
        ocidir *d;
        dev_t dev;
        ino_t ino;
    };
    std::vector<Entry> uniq;
    for (size_t i = 0; i < n; i++) {
        ocidir &d = *layouts[i];
        if (d.readonly && !dry)
            throw Error(OCIDIR_E_READONLY, std::string(op) + ": layout " + d.label +
                                               " was opened read-only (OCIDIR_GC_DRY_RUN only reports)");
        struct stat st;
        if (fstat(d.root.get(), &st) != 0)
            throw_os("fstat of layout " + d.label, errno);
        bool seen = false;
        for (const Entry &e : uniq)
            seen = seen || (e.dev == st.st_dev && e.ino == st.st_ino);
        if (!seen)
            uniq.push_back({&d, st.st_dev, st.st_ino});
    }
    std::sort(uniq.begin(), uniq.end(),
              [](const Entry &a, const Entry &b) { return a.dev != b.dev ? a.dev < b.dev : a.ino < b.ino; });
    std::vector<index::Lock> locks;
    locks.reserve(uniq.size());
    for (const Entry &e : uniq)
        if (!e.d->readonly)
            locks.emplace_back(*e.d);

    auto rep = std::make_unique<ocidir_report>();
    Progress prog(o.progress, o.user, op);
    Live live;
    for (const Entry &e : uniq)
        mark(*e.d, live, *rep, op);
    std::string label = "shared blob directory " + fd_path_label(cache_fd);
    std::vector<SweepDir> dirs;
    for (Alg alg : kAllAlgs) {
        std::string name(alg_name(alg));
        SweepDir s{open_subdir(cache_fd, name, label + "/" + name), alg, label + "/" + name, name + "/"};
        if (s.fd)
            dirs.push_back(std::move(s));
    }
    sweep(dirs, live, grace, dry, *rep, prog);
    prog.finish();
    return rep;
}

std::unique_ptr<ocidir_report> remove_tag_and_collect(ocidir &d, std::string_view tag, const ocidir_gc_options_t &o)
{
    check_flags(o.flags, "ocidir_tag_remove_gc");
    grace_of(d, o, "ocidir_tag_remove_gc");
    // index.json first, durable, then the blobs: a crash in between leaves
    // unreferenced blobs, never a tag naming a missing one.
    index::remove_tag(d, tag);
    auto rep = std::make_unique<ocidir_report>();
    // The removal is committed: from here on the call succeeds, and a gc
    // that cannot run is a notice in the report, never the call's failure.
    std::string why;
    int code = OCIDIR_E_NOMEM;
    try {
        return collect(d, o, "ocidir_tag_remove_gc");
    } catch (const Error &e) {
        code = e.code();
        why = e.message();
    } catch (const std::bad_alloc &) {
        why = "out of memory";
    }
    rep->add(OCIDIR_FIND_SKIPPED, std::string(tag), 0,
             "tag " + quote(tag) + " was removed from " + d.label + "/index.json, but the gc that follows did not run (" +
                 ocidir_strerror(code) + "): " + why);
    return rep;
}

}  // namespace ocd::gc
