// Garbage collection: mark from index.json through the graph, sweep one
// directory of blobs per algorithm with unlinkat() in that directory's fd.
#include "housekeeping/gc.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
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
#include "base/workers.hh"
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
    std::string digest;  // "<alg>:<hex>"; the file's name is the part after the colon
    size_t name_at;      // where the name starts in `digest`
    uint64_t size = 0;   // from the listing pass (only when progress is reported)
    const char *name() const noexcept { return digest.c_str() + name_at; }
};

// What the removal pass did with one candidate, read back in the sweep order.
struct Outcome {
    enum Kind : uint8_t { Gone, Directory, Recent, WouldRemove, Removed, StatFailed, UnlinkFailed } kind = Gone;
    int err = 0;
    uint64_t size = 0;
    int64_t age = 0;
};

int64_t now_seconds()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec);
}

// Up to this many threads (the calling thread included) stat and remove
// candidates.  The work is bound by the file system, not the CPU: each
// removal waits for the inode's release (on a file system mounted with
// `discard`, for the device's discard of its blocks), and several removals
// wait together, each outside the directory's lock.
constexpr unsigned kSweepThreads = 4;
// A thread more per this many candidates: a few removals are not worth one.
constexpr size_t kPerThread = 128;
// With a progress callback the candidates go in batches, the callback
// called between two: a cancel then leaves the removals a prefix of the
// sweep order, as it does one removal at a time.
constexpr size_t kBatch = 1024;

// Runs fn(i) for the indexes of a batch on the calling thread and the
// workers together; returns once all are done.  Batches run one after the
// other.  fn must not throw.
class Batches {
public:
    Batches(unsigned extra, const std::function<void(size_t)> &fn)
        : fn_(fn), pool_("gc removals", [this] {
              std::lock_guard lk(mu_);
              cv_.notify_all();
          })
    {
        if (extra == 0)
            return;
        try {
            pool_.start(extra, [this](unsigned) { work(); });
            workers_ = extra;
        } catch (const Error &) {
            workers_ = 0;  // no thread to spare: the calling thread does it all
        }
    }
    ~Batches() { pool_.stop(); }

    void run(size_t begin, size_t end)
    {
        {
            std::lock_guard lk(mu_);
            next_.store(begin);
            end_ = end;
            busy_ = workers_;
            gen_++;
        }
        cv_.notify_all();
        drain();
        std::unique_lock lk(mu_);
        done_cv_.wait(lk, [this] { return busy_ == 0; });
    }

private:
    void drain()
    {
        for (;;) {
            size_t i = next_.fetch_add(1);
            if (i >= end_)
                return;
            fn_(i);
        }
    }

    void work()
    {
        uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock lk(mu_);
                cv_.wait(lk, [&] { return gen_ != seen || pool_.stopping(); });
                if (pool_.stopping())
                    return;
                seen = gen_;
            }
            drain();
            std::lock_guard lk(mu_);
            if (--busy_ == 0)
                done_cv_.notify_all();
        }
    }

    const std::function<void(size_t)> &fn_;
    std::mutex mu_;
    std::condition_variable cv_, done_cv_;
    std::atomic<size_t> next_{0};
    size_t end_ = 0;  // written under mu_ before a batch starts, read only during it
    unsigned busy_ = 0;
    uint64_t gen_ = 0;
    unsigned workers_ = 0;
    Workers pool_;  // last: joined before the members its threads use go away
};

// Sweep `dirs`: stale temporary files, then every blob not in `live`.
void sweep(std::vector<SweepDir> &dirs, const Live &live, int64_t grace, bool dry, ocidir_report &rep,
           Progress &prog)
{
    // One listing per directory serves the temporary files and the blobs.
    std::vector<std::vector<std::string>> listings;
    for (SweepDir &s : dirs)
        listings.push_back(list_dir(s.fd.get(), s.label));
    for (size_t i = 0; i < dirs.size(); i++)
        for (StaleTemp &t : stale_temps(dirs[i].fd.get(), listings[i], !dry))
            rep.add(dry ? OCIDIR_FIND_TEMP : OCIDIR_FIND_REMOVED, dirs[i].prefix + t.name, t.size,
                    std::string(dry ? "temporary file no live writer holds (would be removed) in "
                                    : "removed a temporary file no live writer held, in ") + dirs[i].label);

    // The totals a progress callback is told before the first removal need
    // every candidate's size now; without a callback each candidate is
    // looked at once, just before its removal.
    const bool sized = prog.active();
    std::vector<Candidate> cands;
    for (size_t i = 0; i < dirs.size(); i++) {
        const std::string_view alg = alg_name(dirs[i].alg);
        for (const std::string &name : listings[i]) {
            std::string dg;
            dg.reserve(alg.size() + 1 + name.size());
            dg.append(alg).append(1, ':').append(name);
            if (classify_digest(dg) != 0)
                continue;  // not a blob name: temporary files, foreign files
            const bool is_live = live.count(dg) != 0;
            struct stat st;
            if ((is_live || sized) && fstatat(dirs[i].fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if (is_live) {
                rep.blobs++;
                rep.bytes += static_cast<uint64_t>(st.st_size);
                continue;
            }
            Candidate c{i, std::move(dg), alg.size() + 1};
            if (sized) {
                c.size = static_cast<uint64_t>(st.st_size);
                prog.add_total(c.size);
            }
            cands.push_back(std::move(c));
        }
        listings[i] = {};
    }
    prog.advance(0);  // before the first removal

    const int64_t now = now_seconds();
    std::vector<Outcome> out(cands.size());
    std::atomic<bool> failed{false};
    const std::function<void(size_t)> remove_one = [&](size_t k) {
        if (failed.load(std::memory_order_relaxed))
            return;  // the sweep stops at its first failure
        const Candidate &c = cands[k];
        Outcome &o = out[k];
        const int dfd = dirs[c.dir].fd.get();
        struct stat st;
        if (fstatat(dfd, c.name(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) {
                o = {Outcome::StatFailed, errno};
                failed.store(true);
            }
            return;
        }
        o.size = static_cast<uint64_t>(st.st_size);
        if (S_ISDIR(st.st_mode)) {
            o.kind = Outcome::Directory;
        } else if (grace > 0 && now - static_cast<int64_t>(st.st_mtim.tv_sec) < grace) {
            o.kind = Outcome::Recent;
            o.age = std::max<int64_t>(0, now - st.st_mtim.tv_sec);
        } else if (dry) {
            o.kind = Outcome::WouldRemove;
        } else if (unlinkat(dfd, c.name(), 0) == 0) {
            o.kind = Outcome::Removed;
        } else if (errno != ENOENT) {
            o.kind = Outcome::UnlinkFailed;
            o.err = errno;
            failed.store(true);
        }
    };
    const size_t threads = std::min<size_t>(kSweepThreads, std::max<size_t>(1, cands.size() / kPerThread));
    const size_t batch = !sized ? std::max<size_t>(cands.size(), 1) : threads > 1 ? kBatch : 1;
    Batches pool(static_cast<unsigned>(threads - 1), remove_one);

    // The findings of what is done, in the sweep order; what was removed is
    // flushed at the end, on a failure and on a cancel alike.
    std::vector<bool> changed(dirs.size());
    auto flush = [&] {
        for (size_t i = 0; i < dirs.size(); i++)
            if (changed[i])
                fsync_dir(dirs[i].fd.get(), dirs[i].label);
    };
    for (size_t b = 0; b < cands.size(); b += batch) {
        const size_t end = std::min(cands.size(), b + batch);
        pool.run(b, end);
        uint64_t bytes = 0;
        for (size_t k = b; k < end; k++) {
            const Candidate &c = cands[k];
            const Outcome &o = out[k];
            const SweepDir &s = dirs[c.dir];
            bytes += c.size;
            switch (o.kind) {
            case Outcome::Gone: break;
            case Outcome::Directory:
                rep.add(OCIDIR_FIND_UNREFERENCED, c.digest, 0,
                        "unreferenced " + c.digest + " in " + s.label + " is a directory; left alone");
                break;
            case Outcome::Recent:
                rep.add(OCIDIR_FIND_KEPT_RECENT, c.digest, o.size,
                        "unreferenced blob " + c.digest + " in " + s.label + " was modified " +
                            std::to_string(o.age) + " s ago, within the grace period of " + std::to_string(grace) +
                            " s; kept");
                break;
            case Outcome::WouldRemove:
                rep.add(OCIDIR_FIND_UNREFERENCED, c.digest, o.size,
                        "blob " + c.digest + " in " + s.label + " is referenced by nothing (would be removed)");
                break;
            case Outcome::Removed:
                changed[c.dir] = true;
                rep.add(OCIDIR_FIND_REMOVED, c.digest, o.size,
                        "removed blob " + c.digest + " from " + s.label + ": referenced by nothing");
                break;
            case Outcome::StatFailed:
            case Outcome::UnlinkFailed:
                break;
            }
        }
        if (failed.load()) {
            for (size_t k = b; k < end; k++)
                if (out[k].kind == Outcome::StatFailed || out[k].kind == Outcome::UnlinkFailed) {
                    const Candidate &c = cands[k];
                    const SweepDir &s = dirs[c.dir];
                    flush();
                    if (out[k].kind == Outcome::StatFailed)
                        throw_os("stat of blob " + c.digest + " in " + s.label, out[k].err);
                    throw_os("removing blob " + c.digest + " from " + s.label, out[k].err);
                }
        }
        if (sized) {
            try {
                prog.advance(bytes);
            } catch (const Error &e) {
                // Canceled between two batches: what was removed is flushed
                // as on a normal end, then the cancel goes on up.
                if (e.code() == OCIDIR_E_CANCELED)
                    flush();
                throw;
            }
        }
    }
    flush();
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
