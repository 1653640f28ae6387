// index.json: tags, refs, and atomic locked updates.
//
// Lookups parse index.json once with simdjson and validate only the entries
// they return, so a tag resolves quickly in an index of 100,000 entries.
// Updates hold an exclusive flock on `.ocidir.lock` (a file that is never
// replaced: a lock on index.json itself would be lost when a writer renames
// a new index.json over it), read index.json, let the caller edit it as a
// value tree, write it canonically to a temporary file, fsync it, rename it
// over index.json and fsync the directory.
#include "store/index.hh"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <unordered_set>

#include "format/digest.hh"
#include "base/error.hh"
#include "base/fd.hh"
#include "fs/fileio.hh"
#include "store/json_blob.hh"
#include "store/layout.hh"
#include "fs/resolve.hh"
#include "fs/tempfile.hh"

namespace ocd::index {

namespace {

constexpr std::string_view kLockName = ".ocidir.lock";
constexpr std::string_view kIndexTempPrefix = ".ocidir-index-";

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool valid_component(std::string_view c)
{
    // [A-Za-z0-9]+(([-._:@+]|--)[A-Za-z0-9]+)*
    size_t i = 0, n = c.size();
    if (n == 0 || !alnum(c[0]))
        return false;
    while (i < n) {
        while (i < n && alnum(c[i]))
            i++;
        if (i == n)
            return true;
        if (c[i] == '-' && i + 1 < n && c[i + 1] == '-')
            i += 2;
        else if (c[i] == '-' || c[i] == '.' || c[i] == '_' || c[i] == ':' || c[i] == '@' || c[i] == '+')
            i += 1;
        else
            return false;
        if (i == n || !alnum(c[i]))
            return false;
    }
    return true;
}

std::string index_label(const ocidir &d) { return d.label + "/index.json"; }

// The ref.name of an entry, if it has one (throws FORMAT when mistyped).
// Runs once per entry on every lookup: messages are built only on failure.
std::optional<std::string_view> entry_tag(json::Element e, const std::string &w, size_t i)
{
    using simdjson::dom::element_type;
    auto field = [&](const char *rest) { return "manifests[" + std::to_string(i) + "]" + rest; };
    if (e.type() != element_type::OBJECT)
        json::as_object(e, w, field(""));  // throws
    auto a = json::member(e.get_object().value_unsafe(), "annotations");
    if (!a)
        return std::nullopt;
    if (a->type() != element_type::OBJECT)
        json::as_object(*a, w, field(".annotations"));  // throws
    auto t = json::member(a->get_object().value_unsafe(), oci::kRefNameAnnotation);
    if (!t)
        return std::nullopt;
    if (t->type() != element_type::STRING)
        json::as_string(*t, w, field(".annotations.") + std::string(oci::kRefNameAnnotation));  // throws
    return t->get_string().value_unsafe();
}

std::string entry_where(const json::Doc &doc, size_t i) { return doc.what() + ": manifests[" + std::to_string(i) + "]"; }

// In a value tree: the tag of an entry, or empty.
std::string_view value_tag(const json::Value &entry)
{
    if (!entry.is_object())
        return {};
    const json::Value *a = entry.find("annotations");
    if (!a || !a->is_object())
        return {};
    const json::Value *t = a->find(oci::kRefNameAnnotation);
    if (!t || !t->is_string())
        return {};
    return t->str();
}

json::Array &value_manifests(json::Value &index)
{
    json::Value *m = index.find("manifests");
    return m->arr();  // oci::index_manifests() checked it before the value was made
}

std::vector<size_t> find_tag(json::Array &entries, std::string_view tag)
{
    std::vector<size_t> hits;
    for (size_t i = 0; i < entries.size(); i++)
        if (value_tag(entries[i]) == tag)
            hits.push_back(i);
    return hits;
}

std::string digests_of(const json::Array &entries, const std::vector<size_t> &hits)
{
    std::string s;
    for (size_t i : hits) {
        const json::Value *dg = entries[i].find("digest");
        s += (s.empty() ? "" : ", ") + (dg && dg->is_string() ? dg->str() : std::string("?"));
    }
    return s;
}

class LockFile {
public:
    explicit LockFile(const ocidir &d)
    {
        int fd = openat(d.root.get(), std::string(kLockName).c_str(),
                        O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0) {
            int e = errno;
            if (e == ELOOP)
                throw Error(OCIDIR_E_ESCAPE, d.label + "/" + std::string(kLockName) + " is a symlink", e);
            throw_os("open lock file " + d.label + "/" + std::string(kLockName), e);
        }
        fd_.reset(fd);
        struct stat st;
        if (fstat(fd, &st) != 0)
            throw_os("fstat " + d.label + "/" + std::string(kLockName), errno);
        if (!S_ISREG(st.st_mode))
            throw Error(OCIDIR_E_FORMAT, d.label + "/" + std::string(kLockName) + " is " +
                                             file_type_name(st.st_mode) + ", not a regular file");
        while (flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR)
                throw_os("flock " + d.label + "/" + std::string(kLockName), errno);
        }
    }

private:
    Fd fd_;  // closing it releases the lock
};

// Remove index temp files left by a writer that crashed (we hold the lock,
// so none of them is live).
void remove_stale_index_temps(const ocidir &d) noexcept
{
    try {
        for (const auto &n : index_temps(d))
            unlinkat(d.root.get(), n.c_str(), 0);
    } catch (...) {
    }
}

}  // namespace

std::vector<std::string> index_temps(const ocidir &d)
{
    std::vector<std::string> out;
    std::vector<std::string> names;
    try {
        names = list_dir(d.root.get(), d.label);
    } catch (const Error &e) {
        if (e.code() == OCIDIR_E_NOMEM)
            throw;
        return out;  // best effort: an unlistable root has no temps to offer
    }
    for (std::string &name : names)
        if (std::string_view(name).substr(0, kIndexTempPrefix.size()) == kIndexTempPrefix)
            out.push_back(std::move(name));
    return out;
}

struct Lock::Impl {
    LockFile file;
};
Lock::Lock(const ocidir &d) : impl_(std::make_unique<Impl>(Impl{LockFile(d)})) {}
Lock::Lock(Lock &&) noexcept = default;
Lock::~Lock() = default;

namespace {

// The lock file, locked, when it exists and no writer holds it right now;
// else empty.  Never creates it and never waits.
Fd lock_if_idle(const ocidir &d) noexcept
{
    int fd = openat(d.root.get(), std::string(kLockName).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return Fd();  // never updated by this library: no temp file of it
    Fd lock(fd);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return Fd();
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        return Fd();  // a writer is at work; its temp file is live
    return lock;
}

}  // namespace

void remove_stale_temps_if_idle(const ocidir &d) noexcept
{
    if (Fd lock = lock_if_idle(d))
        remove_stale_index_temps(d);
}

std::vector<std::string> stale_temps_if_idle(const ocidir &d)
{
    Fd lock = lock_if_idle(d);
    return lock ? index_temps(d) : std::vector<std::string>();
}

namespace {

// The permission bits of the current index.json, which the rewrite keeps
// (it neither widens nor narrows who may read it); -1 when there is none
// (the new file then has 0644 minus the umask).
int index_mode(const ocidir &d)
{
    struct stat st;
    if (fstatat(d.root.get(), "index.json", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
        return static_cast<int>(st.st_mode & 0777);
    return -1;
}

void publish(const ocidir &d, const std::string &bytes)
{
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd)) {
        // The name only has to be unique among writers, and they hold the lock.
        uint64_t x = static_cast<uint64_t>(getpid());
        memcpy(rnd, &x, sizeof rnd);
    }
    std::string name = std::string(kIndexTempPrefix) + to_hex(rnd, sizeof rnd);
    const int mode = index_mode(d);
    int fd = openat(d.root.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        throw_os("create " + d.label + "/" + name, errno);
    Fd f(fd);
    auto cleanup = [&] { unlinkat(d.root.get(), name.c_str(), 0); };
    try {
        // fchmod, not the create mode: that one is cut by the umask.
        if (mode >= 0 && fchmod(fd, static_cast<mode_t>(mode)) != 0)
            throw_os("chmod " + d.label + "/" + name, errno);
        size_t off = 0;
        while (off < bytes.size()) {
            ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                throw_os("write " + d.label + "/" + name, errno);
            }
            off += static_cast<size_t>(n);
        }
        if (fdatasync(fd) != 0)
            throw_os("fdatasync " + d.label + "/" + name, errno);
        if (renameat(d.root.get(), name.c_str(), d.root.get(), "index.json") != 0)
            throw_os("rename " + d.label + "/" + name + " to index.json", errno);
    } catch (...) {
        cleanup();
        throw;
    }
    // Published: from here on, every reader sees the new index.json.
    if (fsync(d.root.get()) != 0 && errno != EINVAL && errno != EROFS) {
        int e = errno;
        throw Error(OCIDIR_E_NOT_DURABLE,
                    d.label + "/index.json was replaced by its new version, but flushing the directory " + d.label +
                        " failed: " + errno_text(e) + "; the change is visible but may not survive a crash",
                    e);
    }
}

}  // namespace

bool valid_tag(std::string_view tag) noexcept
{
    if (tag.empty())
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= tag.size(); i++) {
        if (i == tag.size() || tag[i] == '/') {
            if (!valid_component(tag.substr(start, i - start)))
                return false;
            start = i + 1;
        }
    }
    return true;
}

void check_tag(std::string_view tag)
{
    if (!valid_tag(tag))
        throw Error(OCIDIR_E_INVALID, "tag " + quote(tag) + " does not fit the ref.name grammar "
                                      "(components of [A-Za-z0-9] joined by one of -._:@+ or --, separated by /)");
}

void check_new_tag(std::string_view tag)
{
    check_tag(tag);
    // The grammar admits "sha256:<64 hex>", but resolve takes any ref of a
    // registered digest's form as a digest, so such a tag could be written
    // and never looked up by name.
    if (classify_digest(tag) == 0)
        throw Error(OCIDIR_E_INVALID, "tag " + quote(tag) + " has the form of a digest; refs of that form "
                                      "always resolve as digests, so the tag could never be looked up");
}

namespace {

PaddedBytes read_index_bytes(const ocidir &d, const std::string &label)
{
    return read_small_file_padded(d.root.get(), "index.json", d.json_limit.load(std::memory_order_relaxed), label,
                                  json::Doc::kPadding);
}

}  // namespace

json::Doc read_index_doc(const ocidir &d)
{
    std::string label = index_label(d);
    // The Doc borrows nothing from `bytes`: simdjson copies strings to its own buffer.
    PaddedBytes bytes = read_index_bytes(d, label);
    json::Doc doc = json::Doc::parse_padded(bytes.view(), label);
    oci::index_manifests(doc);
    return doc;
}

std::vector<std::string> list_tags(const ocidir &d)
{
    json::Doc doc = read_index_doc(d);
    std::vector<std::string> out;
    std::unordered_set<std::string_view> seen;
    size_t i = 0;
    for (json::Element e : oci::index_manifests(doc)) {
        oci::parse_descriptor(e, entry_where(doc, i));
        if (auto t = entry_tag(e, doc.what(), i))
            if (seen.insert(*t).second)
                out.emplace_back(*t);
        i++;
    }
    return out;
}

std::vector<oci::Descriptor> entries(const ocidir &d)
{
    json::Doc doc = read_index_doc(d);
    std::vector<oci::Descriptor> out;
    size_t i = 0;
    for (json::Element e : oci::index_manifests(doc)) {
        out.push_back(oci::parse_descriptor(e, entry_where(doc, i)));
        i++;
    }
    return out;
}

namespace {

// A tag lookup's one-pass scanner is kept by its thread from one lookup to
// the next, so that the simdjson parser's buffers are allocated and faulted
// in once rather than at every lookup (a quarter of the CPU time of a lookup
// in an index.json of 100,000 entries).  Only for documents up to
// kKeptScanMax bytes; a larger one, or a lookup while the kept scanner is in
// use further up this thread's stack, gets a scanner of its own.
constexpr size_t kKeptScanMax = 32u << 20;

struct KeptScanner {
    oci::IndexScanner scan;
    bool busy = false;
};

// The kept scanner while a lookup holds it, else one of the lookup's own.
class ScannerLease {
public:
    explicit ScannerLease(size_t doc_size)
    {
        thread_local KeptScanner kept;
        if (!kept.busy && doc_size <= kKeptScanMax) {
            kept.busy = true;
            kept_ = &kept;
        } else {
            own_.emplace();
        }
    }
    ~ScannerLease()
    {
        if (kept_)
            kept_->busy = false;
    }
    ScannerLease(const ScannerLease &) = delete;
    ScannerLease &operator=(const ScannerLease &) = delete;
    oci::IndexScanner &get() { return kept_ ? kept_->scan : *own_; }

private:
    KeptScanner *kept_ = nullptr;
    std::optional<oci::IndexScanner> own_;
};

}  // namespace

oci::Descriptor resolve(const ocidir &d, std::string_view ref)
{
    if (classify_digest(ref) == 0)
        return oci::describe_blob(d, ref);
    if (!valid_tag(ref)) {
        int c = classify_digest(ref);
        if (c == OCIDIR_E_UNSUPPORTED)
            parse_digest(std::string(ref).c_str());  // throws UNSUPPORTED naming it
        throw Error(OCIDIR_E_INVALID, "ref " + quote(ref) + " is neither a tag nor a digest");
    }
    const std::string label = index_label(d);
    PaddedBytes bytes = read_index_bytes(d, label);
    {
        // One pass without a DOM; the entry found is parsed on its own.
        ScannerLease scan(bytes.view().size());
        size_t n_hits = 0, hit = 0;
        const char *hit_start = nullptr;
        bool ok = scan.get().run(bytes.view(), label, [&](const oci::IndexEntry &e) {
            if (e.tag && *e.tag == ref && n_hits++ == 0) {
                hit = e.i;
                hit_start = e.start;
            }
        });
        if (ok && n_hits == 0)
            throw Error(OCIDIR_E_NOT_FOUND, "tag " + quote(ref) + " not found in " + label);
        if (ok && n_hits == 1) {
            oci::IndexEntry e;
            e.start = hit_start;
            json::Doc entry = json::Doc::parse(e.json(bytes.view()), label);
            return oci::parse_descriptor(entry.root(), label + ": manifests[" + std::to_string(hit) + "]");
        }
        // Not accepted by the one pass (the whole parse below names the
        // problem), or ambiguous (it names every entry).
    }
    json::Doc doc = json::Doc::parse_padded(bytes.view(), label);
    oci::index_manifests(doc);
    std::vector<size_t> hits;
    std::vector<json::Element> found;
    size_t i = 0;
    for (json::Element e : oci::index_manifests(doc)) {
        auto t = entry_tag(e, doc.what(), i);
        if (t && *t == ref) {
            hits.push_back(i);
            found.push_back(e);
        }
        i++;
    }
    if (hits.empty())
        throw Error(OCIDIR_E_NOT_FOUND, "tag " + quote(ref) + " not found in " + doc.what());
    if (hits.size() > 1) {
        std::string list;
        for (size_t k = 0; k < hits.size(); k++) {
            auto obj = found[k].get_object().value_unsafe();
            auto dg = json::member(obj, "digest");
            std::string_view s = dg && dg->type() == simdjson::dom::element_type::STRING
                                     ? dg->get_string().value_unsafe()
                                     : std::string_view("?");
            list += (k ? ", " : "") + std::string("manifests[") + std::to_string(hits[k]) + "] " + std::string(s);
        }
        throw Error(OCIDIR_E_AMBIGUOUS, "tag " + quote(ref) + " names " + std::to_string(hits.size()) +
                                            " entries of " + doc.what() + ": " + list);
    }
    return oci::parse_descriptor(found[0], entry_where(doc, hits[0]));
}

void update(ocidir &d, const std::function<bool(json::Value &index)> &fn)
{
    if (d.readonly)
        throw Error(OCIDIR_E_READONLY, d.label + " is open read-only: index.json cannot change");
    LockFile lock(d);
    json::Value index;
    {
        json::Doc doc = read_index_doc(d);
        index = json::to_value(doc.root());
    }
    if (!fn(index))
        return;
    std::string bytes = json::write(index);
    remove_stale_index_temps(d);
    publish(d, bytes);
}

namespace {

// The entry that carries `tag` once it names `desc`, made from the entry that
// carried it (`old`) and the new descriptor (`fresh`, with the ref name):
// what the caller did not ask to change is kept.  The same digest keeps the
// old entry whole (platform, annotations, urls, unknown fields), its
// mediaType and size taken from the blob; another digest takes every
// descriptor field from the new blob and keeps the old annotations (the ref
// name aside, which `fresh` sets): its platform described the old manifest.
json::Value retagged(const json::Value &old, const oci::Descriptor &desc, json::Value fresh)
{
    if (!old.is_object())
        return fresh;
    const json::Value *dg = old.find("digest");
    const json::Value *old_ann = old.find("annotations");
    const std::string ref(oci::kRefNameAnnotation);
    if (dg && dg->is_string() && dg->str() == desc.digest) {
        json::Value kept = old;
        kept.obj()["mediaType"] = json::Value(desc.media_type);
        kept.obj()["size"] = json::Value(desc.size);
        kept.child_object("annotations")[ref] = *fresh.find("annotations")->find(ref);
        return kept;
    }
    if (old_ann && old_ann->is_object()) {
        json::Object &ann = fresh.child_object("annotations");
        for (const auto &[k, v] : old_ann->obj())
            if (k != ref)
                ann.emplace(k, v);  // the new descriptor's own annotations win
    }
    return fresh;
}

}  // namespace

void set_tag(ocidir &d, std::string_view tag, const oci::Descriptor &desc, unsigned flags,
             const std::function<void()> &under_lock)
{
    check_new_tag(tag);
    json::Value entry = desc.to_value();
    entry.child_object("annotations")[std::string(oci::kRefNameAnnotation)] = json::Value(tag);
    update(d, [&](json::Value &index) {
        if (under_lock)
            under_lock();
        json::Array &ms = value_manifests(index);
        auto hits = find_tag(ms, tag);
        if (hits.size() > 1)
            throw Error(OCIDIR_E_AMBIGUOUS, "tag " + quote(tag) + " names " + std::to_string(hits.size()) +
                                                " entries of " + index_label(d) + " (" + digests_of(ms, hits) +
                                                "); remove the duplicates first");
        if (hits.empty()) {
            ms.push_back(std::move(entry));
            return true;
        }
        if (flags & OCIDIR_TAG_NOREPLACE)
            throw Error(OCIDIR_E_EXISTS, "tag " + quote(tag) + " exists (" + digests_of(ms, hits) + ")");
        ms[hits[0]] = retagged(ms[hits[0]], desc, std::move(entry));
        return true;
    });
}

void remove_tag(ocidir &d, std::string_view tag)
{
    check_tag(tag);
    update(d, [&](json::Value &index) {
        json::Array &ms = value_manifests(index);
        auto hits = find_tag(ms, tag);
        if (hits.empty())
            throw Error(OCIDIR_E_NOT_FOUND, "tag " + quote(tag) + " not found in " + index_label(d));
        if (hits.size() > 1)
            throw Error(OCIDIR_E_AMBIGUOUS, "tag " + quote(tag) + " names " + std::to_string(hits.size()) +
                                                " entries of " + index_label(d) + " (" + digests_of(ms, hits) + ")");
        ms.erase(ms.begin() + static_cast<ptrdiff_t>(hits[0]));
        return true;
    });
}

void add_untagged(ocidir &d, const oci::Descriptor &desc, const std::function<void()> &under_lock)
{
    update(d, [&](json::Value &index) {
        if (under_lock)
            under_lock();
        json::Array &ms = value_manifests(index);
        for (const auto &e : ms) {
            if (!e.is_object() || !value_tag(e).empty())
                continue;
            const json::Value *dg = e.find("digest");
            if (dg && dg->is_string() && dg->str() == desc.digest)
                return false;
        }
        ms.push_back(desc.to_value());
        return true;
    });
}

}  // namespace ocd::index
