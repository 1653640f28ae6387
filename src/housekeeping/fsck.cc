// fsck: walk the graph, plan one hashing job per blob file (reachable ones
// wherever they are found, unreferenced ones in the layout's own blobs/),
// hash the jobs in parallel, largest first, each worker streaming through
// one fixed buffer, and collect every finding.  Nothing is written: the only
// state fsck touches is a probing flock on temporary files and on the index
// lock, never waited for.
#include "housekeeping/fsck.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "store/blob_store.hh"
#include "format/digest.hh"
#include "base/error.hh"
#include "fs/fileio.hh"
#include "housekeeping/gc.hh"
#include "housekeeping/graph.hh"
#include "format/hash.hh"
#include "store/index.hh"
#include "format/json.hh"
#include "store/layout.hh"
#include "format/oci.hh"
#include "fs/resolve.hh"
#include "fs/tempfile.hh"

namespace ocd::fsck {

namespace {

using Finding = ocidir_report::Finding;

constexpr size_t kBufferSize = 1024 * 1024;  // per worker
constexpr auto kProgressInterval = std::chrono::milliseconds(250);
constexpr unsigned kMaxThreads = 64;

// One blob file to hash.
struct Job {
    Digest dg;
    Place place;
    std::string rel;    // beneath place.base
    uint64_t size = 0;  // as found when planned (the progress estimate)
    std::string from;   // the referencing descriptor; empty: unreferenced
    bool config = false;
    // Results, written by the one worker that takes the job.
    std::vector<Finding> findings;
    bool hashed = false;
    uint64_t bytes = 0;
};

std::string referenced(const std::string &from)
{
    return from.empty() ? " (unreferenced)" : " (referenced from " + from + ")";
}

bool is_config_type(std::string_view mt) { return mt == oci::kMediaConfig || mt == oci::kDockerConfig; }

// The bytes of one job handed to the progress counter, never more than the
// job's planned size; whatever is left is handed over at the end, so that
// progress ends exactly at its total.
class Credit {
public:
    Credit(std::atomic<uint64_t> &done, uint64_t planned) : done_(done), planned_(planned) {}
    ~Credit() { upto(planned_); }
    void upto(uint64_t n) noexcept
    {
        n = std::min(n, planned_);
        if (n > given_) {
            done_.fetch_add(n - given_, std::memory_order_relaxed);
            given_ = n;
        }
    }

private:
    std::atomic<uint64_t> &done_;
    uint64_t planned_;
    uint64_t given_ = 0;
};

// Hash one job, streaming through `buf`; damage becomes the job's findings.
void check_job(const ocidir &d, Job &j, std::vector<char> &buf, std::atomic<uint64_t> &done)
{
    Credit credit(done, j.size);
    const std::string name = "blob " + j.dg.str() + " in " + j.place.label;
    Fd f;
    struct stat st;
    bool not_regular = false;
    int e = open_regular(j.place.base, j.rel, f, st, not_regular);
    if (e == ENOENT && j.from.empty())
        return;  // unreferenced, and removed since the listing (a concurrent gc): nothing to check
    if (e == ENOENT) {
        // Found when the graph was walked, gone now: removed meanwhile, as a
        // concurrent gc may do to what a newer index.json no longer references.
        j.findings.push_back({OCIDIR_FIND_MISSING, j.dg.str(), j.size,
                              name + " was removed while fsck ran" + referenced(j.from)});
        return;
    }
    if (e != 0) {
        j.findings.push_back({OCIDIR_FIND_IO, j.dg.str(), j.size,
                              name + " could not be opened: " + errno_text(e) + referenced(j.from)});
        return;
    }
    if (not_regular) {
        j.findings.push_back({OCIDIR_FIND_FORMAT, j.dg.str(), 0,
                              name + " is " + file_type_name(st.st_mode) + ", not a regular file" + referenced(j.from)});
        return;
    }
    posix_fadvise(f.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    const size_t limit = d.json_limit.load(std::memory_order_relaxed);
    const bool keep = j.config && static_cast<uint64_t>(st.st_size) <= limit;
    std::string content;
    if (keep)
        content.reserve(static_cast<size_t>(st.st_size));
    auto h = Hasher::create(j.dg.alg);
    uint64_t total = 0;
    for (;;) {
        ssize_t n = ::read(f.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            j.findings.push_back({OCIDIR_FIND_IO, j.dg.str(), static_cast<uint64_t>(st.st_size),
                                  "reading " + name + " at offset " + std::to_string(total) + ": " + errno_text(err) +
                                      referenced(j.from)});
            return;
        }
        if (n == 0)
            break;
        h->update(buf.data(), static_cast<size_t>(n));
        if (keep && content.size() + static_cast<size_t>(n) <= limit)
            content.append(buf.data(), static_cast<size_t>(n));
        total += static_cast<uint64_t>(n);
        credit.upto(total);
    }
    std::string got;
    try {
        got = h->final_digest();
    } catch (const Error &err) {
        if (err.code() == OCIDIR_E_NOMEM)
            throw;
        j.findings.push_back({OCIDIR_FIND_IO, j.dg.str(), total, "hashing " + name + ": " + err.message()});
        return;
    }
    j.hashed = true;
    j.bytes = total;
    if (got != j.dg.str()) {
        j.findings.push_back({OCIDIR_FIND_DIGEST, j.dg.str(), total,
                              name + " (" + std::to_string(total) + " bytes) hashes to " + got +
                                  ": its content does not match its name" + referenced(j.from)});
        return;
    }
    if (!j.config)
        return;
    if (!keep || content.size() != total) {
        j.findings.push_back({OCIDIR_FIND_FORMAT, j.dg.str(), total,
                              "config " + j.dg.str() + " is " + std::to_string(total) +
                                  " bytes, more than the JSON limit of " + std::to_string(limit) + referenced(j.from)});
        return;
    }
    try {
        json::Doc doc = json::Doc::parse(content, "config " + j.dg.str());
        if (!json::is_object(doc.root()))
            throw_error(OCIDIR_E_FORMAT, "config " + j.dg.str() + " is not a JSON object");
    } catch (const Error &err) {
        if (err.code() == OCIDIR_E_NOMEM)
            throw;
        j.findings.push_back({OCIDIR_FIND_FORMAT, j.dg.str(), total, err.message() + referenced(j.from)});
    }
}

class Checker {
public:
    Checker(const ocidir &d, ocidir_report &r) : d_(d), r_(r) {}

    void plan()
    {
        graph::Graph g = graph::walk(d_);
        complete_ = g.complete;
        for (auto &f : g.findings)
            r_.findings.push_back(std::move(f));
        for (const graph::Node &n : g.nodes) {
            referenced_.insert(n.digest);
            if (!n.registered)
                continue;
            if (n.read) {
                if (!n.followed)
                    continue;  // its damage is among the walk's findings
                // Read whole and verified by the walk: hash and size are right.
                r_.blobs++;
                r_.bytes += static_cast<uint64_t>(n.size);
                other_sizes(n, static_cast<uint64_t>(n.size), "");
                continue;
            }
            plan_node(n);
        }
        for (Alg alg : kAllAlgs)
            scan_own(alg);
        for (const std::string &name : index::stale_temps_if_idle(d_))
            notices_.push_back({OCIDIR_FIND_TEMP, name, 0,
                                "temporary file " + d_.label + "/" + name +
                                    " of an index.json update is not held by any writer (left by one that crashed)"});
    }

    void hash(unsigned threads, ocidir_progress_fn progress, void *user)
    {
        std::sort(jobs_.begin(), jobs_.end(), [](const Job &a, const Job &b) {
            return a.size != b.size ? a.size > b.size : a.dg.str() < b.dg.str();
        });
        // Manifests and indexes were read and verified by the walk: they
        // count as done from the start, so progress ends at the report's bytes.
        const uint64_t walked = r_.bytes;
        uint64_t total = walked;
        for (const Job &j : jobs_)
            total += j.size;
        unsigned n = threads;
        if (n == 0) {
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            n = cpus > 0 ? static_cast<unsigned>(cpus) : 1;
        }
        n = static_cast<unsigned>(std::min<size_t>(std::min(n, kMaxThreads), jobs_.size()));

        std::atomic<uint64_t> done{walked};
        std::atomic<size_t> next{0};
        std::atomic<bool> stop{false};
        std::mutex mu;
        std::condition_variable cv;
        unsigned running = n;
        size_t jobs_done = 0, reported_jobs = 0;
        std::exception_ptr failure;
        auto worker = [&] {
            try {
                std::vector<char> buf(kBufferSize);
                for (size_t i; !stop.load() && (i = next.fetch_add(1)) < jobs_.size();) {
                    check_job(d_, jobs_[i], buf, done);
                    std::lock_guard<std::mutex> lk(mu);
                    jobs_done++;
                    cv.notify_all();
                }
            } catch (...) {
                std::lock_guard<std::mutex> lk(mu);
                if (!failure)
                    failure = std::current_exception();
                stop = true;
            }
            std::lock_guard<std::mutex> lk(mu);
            running--;
            cv.notify_all();
        };
        // The first progress call, before any blob is hashed: a cancel here
        // starts no thread.
        if (progress && progress(walked, total, user) != 0)
            throw_canceled("ocidir_fsck", walked, total);
        std::vector<std::thread> pool;
        try {
            for (unsigned i = 0; i < n; i++)
                pool.emplace_back(worker);
        } catch (...) {
            stop = true;
            {
                std::lock_guard<std::mutex> lk(mu);
                running -= n - static_cast<unsigned>(pool.size());
            }
            for (auto &t : pool)
                t.join();
            throw Error(OCIDIR_E_IO, "fsck of " + d_.label + ": could not start hashing threads");
        }
        // Progress from this thread: whenever workers have finished a job
        // since the last call, and at the end.  A non-zero return stops the
        // workers after their current blob.
        bool canceled = false;
        uint64_t reported = walked;
        {
            std::unique_lock<std::mutex> lk(mu);
            while (running != 0) {
                cv.wait_for(lk, kProgressInterval, [&] { return running == 0 || jobs_done != reported_jobs; });
                if (running == 0)
                    break;
                reported_jobs = jobs_done;
                if (progress && !canceled) {
                    lk.unlock();
                    reported = done.load(std::memory_order_relaxed);
                    if (progress(reported, total, user) != 0) {
                        canceled = true;
                        stop = true;
                    }
                    lk.lock();
                }
            }
        }
        for (auto &t : pool)
            t.join();
        if (failure)
            std::rethrow_exception(failure);
        if (canceled)
            throw_canceled("ocidir_fsck", reported, total);
        if (progress && progress(total, total, user) != 0)
            throw_canceled("ocidir_fsck", total, total);

        for (Job &j : jobs_) {
            if (j.hashed) {
                r_.blobs++;
                r_.bytes += j.bytes;
            }
            for (auto &f : j.findings)
                r_.findings.push_back(std::move(f));
        }
        for (auto &f : notices_)
            r_.findings.push_back(std::move(f));
    }

private:
    void other_sizes(const graph::Node &n, uint64_t actual, const std::string &where)
    {
        for (const auto &ref : n.other_sizes)
            if (static_cast<uint64_t>(ref.size) != actual)
                r_.findings.push_back({OCIDIR_FIND_SIZE, n.digest, actual,
                                       "blob " + n.digest + where + " is " + std::to_string(actual) +
                                           " bytes, but its descriptor at " + ref.from + " says " +
                                           std::to_string(ref.size)});
    }

    // A reachable blob the walk did not read: find it (own blobs/ first,
    // then the added directories) and plan its hash.
    void plan_node(const graph::Node &n)
    {
        Digest dg = parse_digest(n.digest.c_str());
        Found f;
        try {
            f = find_blob(d_, dg);
        } catch (const Error &e) {
            int kind = e.code() == OCIDIR_E_NOT_FOUND ? OCIDIR_FIND_MISSING
                       : e.code() == OCIDIR_E_FORMAT  ? OCIDIR_FIND_FORMAT
                       : e.code() == OCIDIR_E_NOMEM   ? -1
                                                      : OCIDIR_FIND_IO;
            if (kind < 0)
                throw;
            r_.findings.push_back({kind, n.digest, static_cast<uint64_t>(n.size), e.message() + referenced(n.from)});
            return;
        }
        uint64_t actual = static_cast<uint64_t>(f.st.st_size);
        if (actual != static_cast<uint64_t>(n.size))
            r_.findings.push_back({OCIDIR_FIND_SIZE, n.digest, actual,
                                   "blob " + n.digest + " in " + f.place.label + " is " + std::to_string(actual) +
                                       " bytes, but its descriptor at " + n.from + " says " + std::to_string(n.size)});
        other_sizes(n, actual, " in " + f.place.label);
        // Longer than its descriptor says: the readers refuse it unread, and
        // hashing it (a sparse file may claim a terabyte) would only make
        // fsck unbounded; the size finding says what is wrong.
        if (actual > static_cast<uint64_t>(n.size))
            return;
        Job j;
        j.rel = f.place.blob_path(dg);
        j.dg = std::move(dg);
        j.place = std::move(f.place);
        j.size = actual;
        j.from = n.from;
        j.config = is_config_type(n.media_type);
        jobs_.push_back(std::move(j));
    }

    // Every entry of the layout's own blobs/<alg>/.
    void scan_own(Alg alg)
    {
        Place p = d_.own_place(alg);
        const std::string an(alg_name(alg));
        Fd dir;
        int e = resolve::open_beneath(p.base, p.dir, O_RDONLY | O_DIRECTORY, dir);
        if (e == ENOENT)
            return;
        if (e != 0) {
            r_.findings.push_back({OCIDIR_FIND_IO, "blobs/" + an, 0,
                                   "blob directory " + p.label + " could not be opened: " + errno_text(e)});
            return;
        }
        for (const StaleTemp &t : stale_temps(dir.get(), false))
            notices_.push_back({OCIDIR_FIND_TEMP, "blobs/" + an + "/" + t.name, t.size,
                                "temporary file " + p.label + "/" + t.name +
                                    " is not held by any writer (left by one that crashed)"});
        for (const std::string &name : list_dir(dir, p.label, "blobs/" + an)) {
            if (name.compare(0, kTempPrefix.size(), kTempPrefix) == 0)
                continue;  // a temporary file: live, or reported above
            std::string digest = an + ":" + name;
            if (classify_digest(digest) != 0) {
                notices_.push_back({OCIDIR_FIND_UNREFERENCED, "blobs/" + an + "/" + name, 0,
                                    p.label + "/" + quote(name) + " is not a blob: its name is not a valid " + an +
                                        " digest"});
                continue;
            }
            if (referenced_.count(digest))
                continue;  // checked as a reachable blob
            Digest dg = parse_digest(digest.c_str());
            std::string rel = p.blob_path(dg);
            Fd f;
            struct stat st;
            bool not_regular = false;
            int oe = open_regular(p.base, rel, f, st, not_regular);
            if (oe == ENOENT)
                continue;  // removed since the listing
            uint64_t size = oe == 0 && !not_regular ? static_cast<uint64_t>(st.st_size) : 0;
            notices_.push_back({OCIDIR_FIND_UNREFERENCED, digest, size,
                                "blob " + digest + " in " + p.label + " is not referenced from index.json" +
                                    (complete_ ? std::string()
                                               : std::string(" (the graph is damaged: a missing or unreadable part "
                                                             "may reference it)"))});
            if (oe != 0) {
                r_.findings.push_back({OCIDIR_FIND_IO, digest, 0,
                                       "blob " + digest + " in " + p.label + " could not be opened: " + errno_text(oe) +
                                           referenced("")});
                continue;
            }
            if (not_regular) {
                r_.findings.push_back({OCIDIR_FIND_FORMAT, digest, 0,
                                       "blob " + digest + " in " + p.label + " is " + file_type_name(st.st_mode) +
                                           ", not a regular file" + referenced("")});
                continue;
            }
            Job j;
            j.dg = std::move(dg);
            j.place = p;
            j.rel = std::move(rel);
            j.size = size;
            jobs_.push_back(std::move(j));
        }
    }

    // The names in a directory, sorted (the report does not depend on
    // readdir's order).
    std::vector<std::string> list_dir(const Fd &dir, const std::string &label, const std::string &subject)
    {
        std::vector<std::string> names;
        try {
            names = ocd::list_dir(dir.get(), label);
        } catch (const Error &e) {
            if (e.code() == OCIDIR_E_NOMEM)
                throw;
            r_.findings.push_back({OCIDIR_FIND_IO, subject, 0, e.message()});
        }
        std::sort(names.begin(), names.end());
        return names;
    }

    const ocidir &d_;
    ocidir_report &r_;
    bool complete_ = true;
    std::unordered_set<std::string> referenced_;
    std::vector<Job> jobs_;
    std::vector<Finding> notices_;  // reported after the hashing results
};

}  // namespace

std::unique_ptr<ocidir_report> run(const ocidir &d, unsigned threads, ocidir_progress_fn progress, void *user)
{
    auto r = std::make_unique<ocidir_report>();
    Checker c(d, *r);
    c.plan();
    c.hash(threads, progress, user);
    return r;
}

}  // namespace ocd::fsck
