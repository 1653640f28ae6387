#include "store/layout.hh"

#include "format/json.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include <simdjson.h>

#include "base/error.hh"
#include "fs/fileio.hh"
#include "fs/resolve.hh"
#include "fs/tempfile.hh"

using namespace ocd;

std::vector<ocd::Place> ocidir::read_places(ocd::Alg alg) const
{
    std::vector<ocd::Place> out;
    out.push_back(own_place(alg));
    std::lock_guard<std::mutex> lk(mu);
    for (size_t i = 0; i < added.size(); i++)
        out.push_back(ocd::Place{ocd::Place::Added, added[i]->fd.get(), std::string(ocd::alg_name(alg)),
                            "blob directory #" + std::to_string(i + 1) + " (" + added[i]->label + ")"});
    return out;
}

ocd::Place ocidir::own_place(ocd::Alg alg) const
{
    const AlgState &a = algs[static_cast<int>(alg)];
    if (a.followed)
        return ocd::Place{ocd::Place::Followed, a.dir.get(), "",
                     label + "/blobs/" + std::string(ocd::alg_name(alg)) + " -> " + a.target + " (followed symlink)"};
    return ocd::Place{ocd::Place::Own, root.get(), "blobs/" + std::string(ocd::alg_name(alg)),
                 label + "/blobs/" + std::string(ocd::alg_name(alg))};
}

ocd::Place ocidir::write_place(ocd::Alg alg) const
{
    {
        std::lock_guard<std::mutex> lk(mu);
        if (write_target >= 0) {
            const Added &a = *added[static_cast<size_t>(write_target)];
            return ocd::Place{ocd::Place::Added, a.fd.get(), std::string(ocd::alg_name(alg)),
                         "blob directory #" + std::to_string(write_target + 1) + " (" + a.label + ")"};
        }
    }
    return own_place(alg);
}


namespace ocd {

std::string fd_path_label(int fd)
{
    char proc[64], buf[PATH_MAX];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, buf, sizeof buf - 1);
    if (n <= 0)
        return "fd " + std::to_string(fd);
    return std::string(buf, static_cast<size_t>(n));
}

namespace {

constexpr const char kLayoutContent[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
constexpr const char kIndexContent[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}";

constexpr unsigned kKnownOpenFlags = OCIDIR_OPEN_CREATE | OCIDIR_OPEN_RDONLY | OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK;

// Create `name` in `dir` with `content` unless it exists.  Returns true if
// created.  Atomic: the file appears whole and flushed.
bool create_file_if_absent(int root, const std::string &dir_label, const char *name, std::string_view content)
{
    Fd dir = resolve::open_beneath_or_throw(root, "", O_RDONLY | O_DIRECTORY, dir_label);
    struct stat st;
    if (fstatat(dir.get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return false;
    TempFile tmp(std::move(dir), dir_label);
    tmp.write_all(content.data(), content.size());
    return tmp.publish(name);
}

// blobs/ of the layout, a directory beneath its root: OCIDIR_E_FORMAT when it
// is absent or not a directory.  `flags` adds to O_DIRECTORY.
Fd open_blobs_dir(int root, const std::string &L, int flags)
{
    Fd blobs;
    int e = resolve::open_beneath(root, "blobs", flags | O_DIRECTORY, blobs);
    if (e == ENOENT)
        throw Error(OCIDIR_E_FORMAT, L + " is not an OCI image layout: it has no blobs/ directory", ENOENT);
    if (e == ENOTDIR)
        throw Error(OCIDIR_E_FORMAT, L + "/blobs is not a directory", ENOTDIR);
    if (e != 0)
        throw_lookup(L + "/blobs", e);
    return blobs;
}


}  // namespace

void check_layout_version(const std::string &text, const std::string &label)
{
    // The same hardened parser as every other document: a duplicate
    // imageLayoutVersion would otherwise read differently here and in tools
    // that keep the last value.
    json::Doc parsed = json::Doc::parse(text, label);
    if (!json::is_object(parsed.root()))
        throw_error(OCIDIR_E_FORMAT, label + " is not a JSON object");
    auto field = json::member(parsed.root().get_object().value_unsafe(), "imageLayoutVersion");
    if (!field)
        throw_error(OCIDIR_E_FORMAT, label + " has no imageLayoutVersion");
    if (field->type() != simdjson::dom::element_type::STRING)
        throw_error(OCIDIR_E_FORMAT, label + ": imageLayoutVersion is not a string");
    std::string_view ver = field->get_string().value_unsafe();
    // Supported: 1.<minor>[.<patch>] with numeric parts.
    bool ok = ver.size() >= 3 && ver.substr(0, 2) == "1.";
    int dots = 0;
    for (size_t i = 2; ok && i < ver.size(); i++) {
        if (ver[i] == '.') {
            if (++dots > 1 || ver[i - 1] == '.' || i + 1 == ver.size())
                ok = false;
        } else if (ver[i] < '0' || ver[i] > '9') {
            ok = false;
        }
    }
    if (!ok)
        throw_error(OCIDIR_E_UNSUPPORTED,
                    label + ": imageLayoutVersion " + quote(ver) + " is not supported (this library reads 1.x)");
}

std::unique_ptr<ocidir> open_layout(int dirfd, const char *path, unsigned flags)
{
    if (flags & ~kKnownOpenFlags)
        throw_error(OCIDIR_E_INVALID, "ocidir_open: unknown flag bits 0x" +
                                          [&] { char b[16]; snprintf(b, sizeof b, "%x", flags & ~kKnownOpenFlags); return std::string(b); }());
    if ((flags & OCIDIR_OPEN_CREATE) && (flags & OCIDIR_OPEN_RDONLY))
        throw_error(OCIDIR_E_INVALID, "ocidir_open: OCIDIR_OPEN_CREATE and OCIDIR_OPEN_RDONLY exclude each other");

    auto d = std::make_unique<ocidir>();
    d->flags = flags;
    d->readonly = flags & OCIDIR_OPEN_RDONLY;
    d->label = (path && *path) ? std::string(path) : fd_path_label(dirfd);
    const bool create = flags & OCIDIR_OPEN_CREATE;

    int err = resolve::open_caller_path(dirfd, path, O_RDONLY | O_DIRECTORY, d->root);
    if (err == ENOENT && create && path && *path) {
        if (mkdirat(dirfd, path, 0755) != 0 && errno != EEXIST) {
            if (errno == ENOENT)
                throw Error(OCIDIR_E_NOT_FOUND, "creating layout directory " + d->label + ": its parent does not exist",
                            ENOENT);
            throw_os("creating layout directory " + d->label, errno);
        }
        err = resolve::open_caller_path(dirfd, path, O_RDONLY | O_DIRECTORY, d->root);
    }
    if (err != 0) {
        if (err == ENOENT)
            throw Error(OCIDIR_E_NOT_FOUND, "layout directory " + d->label + " does not exist", err);
        throw_os("opening layout directory " + d->label, err);
    }
    const std::string &L = d->label;
    const int root = d->root.get();

    Fd blobs;
    if (create) {
        bool changed = false;
        if (mkdirat(root, "blobs", 0755) == 0)
            changed = true;
        else if (errno != EEXIST)
            throw_os("creating " + L + "/blobs", errno);
        blobs = open_blobs_dir(root, L, O_RDONLY);  // a real fd: it is fsynced
        if (mkdirat(blobs.get(), "sha256", 0755) == 0)
            fsync_dir(blobs.get(), L + "/blobs");
        else if (errno != EEXIST)
            throw_os("creating " + L + "/blobs/sha256", errno);
        changed |= create_file_if_absent(root, L, "oci-layout", kLayoutContent);
        changed |= create_file_if_absent(root, L, "index.json", kIndexContent);
        if (changed)
            fsync_dir(root, L);
    }

    // oci-layout: a regular file holding {"imageLayoutVersion": "1.x"}.
    {
        std::string text;
        try {
            text = read_small_file(root, "oci-layout", kLayoutFileMax, L + "/oci-layout");
        } catch (const Error &e) {
            if (e.code() == OCIDIR_E_NOT_FOUND)
                throw Error(OCIDIR_E_FORMAT, L + " is not an OCI image layout: it has no oci-layout file", ENOENT);
            throw;
        }
        check_layout_version(text, L + "/oci-layout");
    }

    // index.json must be there and be a regular file; it is parsed when used.
    {
        Fd p;
        int e = resolve::open_beneath(root, "index.json", O_PATH, p);
        if (e == ENOENT)
            throw Error(OCIDIR_E_FORMAT, L + " is not an OCI image layout: it has no index.json", ENOENT);
        if (e != 0)
            throw_lookup(L + "/index.json", e);
        struct stat st;
        if (fstat(p.get(), &st) != 0)
            throw_os("fstat " + L + "/index.json", errno);
        if (!S_ISREG(st.st_mode))
            throw_error(OCIDIR_E_FORMAT, L + "/index.json is " + file_type_name(st.st_mode) + ", not a regular file");
    }

    // blobs/ must be a directory inside the layout (CREATE opened it above).
    if (!blobs)
        blobs = open_blobs_dir(root, L, O_PATH);

    // blobs/<alg>: a directory inside the layout, absent, or (on request) a
    // symlink to a directory elsewhere that is opened once, here.
    for (Alg alg : kAllAlgs) {
        std::string name(alg_name(alg));
        std::string rel = "blobs/" + name;
        struct stat lst;
        if (fstatat(blobs.get(), name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue;
            throw_os("stat " + L + "/" + rel, errno);
        }
        Fd p;
        int e = resolve::open_beneath(root, rel, O_PATH | O_DIRECTORY, p);
        if (e == 0)
            continue;  // a directory, or a symlink that stays inside the layout
        if (e == ENOENT && S_ISLNK(lst.st_mode) && !(flags & OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK))
            continue;  // a dangling symlink inside: reads find nothing there
        if (e == ENOTDIR)
            throw Error(OCIDIR_E_FORMAT, L + "/" + rel + " is not a directory", e);
        if (!S_ISLNK(lst.st_mode) || (e != EXDEV && e != ELOOP && e != ENOENT))
            throw_lookup(L + "/" + rel, e);
        char target[PATH_MAX];
        ssize_t n = readlinkat(blobs.get(), name.c_str(), target, sizeof target - 1);
        std::string tgt = n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string("?");
        if (!(flags & OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK))
            throw Error(OCIDIR_E_ESCAPE,
                        L + "/" + rel + " is a symlink to " + tgt +
                            ", outside the layout; to use it, open with OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, or open "
                            "that directory yourself and pass it to ocidir_add_blobdir_fd()",
                        e);
        // Deliberately follow this one symlink; everything beneath stays
        // confined to its target.
        Fd dir;
        if (int fe = resolve::open_trusted_link(blobs.get(), name.c_str(), O_RDONLY | O_DIRECTORY, dir))
            throw_lookup("following " + L + "/" + rel + " -> " + tgt +
                             (fe == ELOOP ? " (a /proc magic link is never followed)" : ""),
                         fe);
        auto &st = d->algs[static_cast<int>(alg)];
        st.followed = true;
        st.dir = std::move(dir);
        st.target = tgt;
    }

    if (!d->readonly) {
        for (Alg alg : kAllAlgs) {
            Place p = d->own_place(alg);
            Fd dir;
            if (resolve::open_beneath(p.base, p.dir, O_PATH | O_DIRECTORY, dir) == 0)
                remove_stale_temps(dir.get());
        }
    }
    return d;
}

void add_blobdir(ocidir &d, int fd, unsigned flags)
{
    if (flags & ~static_cast<unsigned>(OCIDIR_BLOBDIR_WRITE))
        throw_error(OCIDIR_E_INVALID, "ocidir_add_blobdir_fd: unknown flag bits");
    if (fd < 0)
        throw_error(OCIDIR_E_INVALID, "ocidir_add_blobdir_fd: fd " + std::to_string(fd) + " is not an open fd");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        if (errno == EBADF)
            throw Error(OCIDIR_E_INVALID, "ocidir_add_blobdir_fd: fd " + std::to_string(fd) + " is not open", EBADF);
        throw_os("fstat of blob directory fd " + std::to_string(fd), errno);
    }
    if (!S_ISDIR(st.st_mode))
        throw_error(OCIDIR_E_INVALID, "ocidir_add_blobdir_fd: fd " + std::to_string(fd) + " (" + fd_path_label(fd) +
                                          ") is not a directory");
    const bool write = flags & OCIDIR_BLOBDIR_WRITE;
    if (write && d.readonly)
        throw_error(OCIDIR_E_READONLY, "ocidir_add_blobdir_fd: OCIDIR_BLOBDIR_WRITE on a layout opened read-only (" +
                                           d.label + ")");
    auto a = std::make_unique<ocidir::Added>();
    a->fd.reset(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!a->fd)
        throw_os("duplicating blob directory fd " + std::to_string(fd), errno);
    a->label = fd_path_label(fd);
    if (write) {
        for (Alg alg : kAllAlgs) {
            Fd dir;
            if (resolve::open_beneath(a->fd.get(), alg_name(alg), O_PATH | O_DIRECTORY, dir) == 0)
                remove_stale_temps(dir.get());
        }
    }
    std::lock_guard<std::mutex> lk(d.mu);
    d.added.push_back(std::move(a));
    if (write)
        d.write_target = static_cast<int>(d.added.size() - 1);
}

}  // namespace ocd
