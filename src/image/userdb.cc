// ocidir_user_lookup: passwd/group parsing confined to a root filesystem.
#include "image/userdb.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hh"
#include "fs/fileio.hh"
#include "fs/resolve.hh"

namespace ocd::userdb {
namespace {

// A decimal id: digits only, no sign, no leading '+', at most 4294967294
// ((uid_t)-1 means "unchanged" to chown and is never an owner).
std::optional<uint32_t> parse_id(std::string_view s)
{
    if (s.empty() || s.size() > 10)
        return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > 4294967294u)
        return std::nullopt;
    return static_cast<uint32_t>(v);
}

bool is_number(std::string_view s)
{
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// The whole file rel (e.g. "etc/passwd") inside root, or nullopt if it does
// not exist.
std::optional<std::string> read_db(int root, const char *rel)
{
    // Classified through an O_PATH handle first, as fileio's open_regular():
    // a device or FIFO is never opened for reading.
    Fd fd;
    struct stat st;
    for (int attempt = 0;; attempt++) {
        Fd p;
        int err = resolve::open_in_root(root, rel, O_PATH, p);
        if (err == ENOENT || err == ENOTDIR)
            return std::nullopt;
        if (err)
            throw_lookup(std::string("opening ") + rel + " in the root filesystem", err);
        if (fstat(p.get(), &st) != 0)
            throw_os(std::string("stat of ") + rel + " in the root filesystem", errno);
        if (!S_ISREG(st.st_mode))
            throw Error(OCIDIR_E_FORMAT, std::string(rel) + " in the root filesystem is " +
                                             file_type_name(st.st_mode) + ", not a regular file");
        err = resolve::open_in_root(root, rel, O_RDONLY | O_NONBLOCK, fd);
        if (err)
            throw_lookup(std::string("opening ") + rel + " in the root filesystem", err);
        struct stat st2;
        if (fstat(fd.get(), &st2) != 0)
            throw_os(std::string("stat of ") + rel + " in the root filesystem", errno);
        if (same_inode(st, st2)) {
            st = st2;
            break;
        }
        if (attempt == 8)
            throw Error(OCIDIR_E_IO, std::string(rel) + " in the root filesystem keeps being replaced while opened");
    }
    if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes)
        throw Error(OCIDIR_E_TOO_LARGE, std::string(rel) + " in the root filesystem has " +
                                            std::to_string(st.st_size) + " bytes, more than the bound of " +
                                            std::to_string(kMaxFileBytes));
    std::string buf;
    buf.resize(static_cast<size_t>(kMaxFileBytes) + 1);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd.get(), buf.data() + n, buf.size() - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            throw_os(std::string("reading ") + rel + " in the root filesystem", errno);
        }
        if (r == 0)
            break;
        n += static_cast<size_t>(r);
        if (n > kMaxFileBytes)  // grew while being read
            throw Error(OCIDIR_E_TOO_LARGE, std::string(rel) + " in the root filesystem is larger than the bound of " +
                                                std::to_string(kMaxFileBytes) + " bytes");
    }
    buf.resize(n);
    return buf;
}

// Split one line at ':' into exactly `nf` fields, or none at all.
bool split_fields(std::string_view line, size_t nf, std::vector<std::string_view> &f)
{
    f.clear();
    size_t start = 0;
    for (;;) {
        size_t p = line.find(':', start);
        if (p == std::string_view::npos) {
            f.push_back(line.substr(start));
            break;
        }
        f.push_back(line.substr(start, p - start));
        start = p + 1;
    }
    return f.size() == nf;
}

// Call fn(fields) for each well-formed line of `db` (nf fields, a non-empty
// name, a numeric id in field `idf`); stop when it returns true.  Blank lines,
// comments and NIS compat lines ("+", "-") never match; neither does a
// malformed line (an id such as "12x" is not read as 12).
template <class F>
void each_entry(const std::string &db, const char *rel, size_t nf, size_t idf, F &&fn)
{
    std::vector<std::string_view> f;
    std::string_view all(db);
    size_t lineno = 0;
    while (!all.empty()) {
        lineno++;
        size_t nl = all.find('\n');
        std::string_view line = all.substr(0, nl);
        all = nl == std::string_view::npos ? std::string_view() : all.substr(nl + 1);
        if (line.size() > kMaxLineBytes)
            throw Error(OCIDIR_E_TOO_LARGE, std::string(rel) + " line " + std::to_string(lineno) + " has more than " +
                                                std::to_string(kMaxLineBytes) + " bytes");
        if (line.empty() || line[0] == '#' || line[0] == '+' || line[0] == '-')
            continue;
        if (line.find('\0') != std::string_view::npos || !split_fields(line, nf, f) || f[0].empty())
            continue;
        auto id = parse_id(f[idf]);
        if (!id)
            continue;
        if (fn(f, *id))
            return;
    }
}

}  // namespace

Ids lookup(int root, std::string_view spec)
{
    if (spec.find('\0') != std::string_view::npos || spec.find('\n') != std::string_view::npos)
        throw Error(OCIDIR_E_INVALID, "user spec holds a NUL or newline");
    Ids out{0, 0};
    if (spec.empty())
        return out;
    size_t colon = spec.find(':');
    std::string_view user = spec.substr(0, colon);
    std::optional<std::string_view> group;
    if (colon != std::string_view::npos) {
        group = spec.substr(colon + 1);
        if (group->empty() || group->find(':') != std::string_view::npos)
            throw Error(OCIDIR_E_INVALID, "user spec \"" + std::string(spec) + "\": expected user[:group]");
    }
    if (user.empty())
        throw Error(OCIDIR_E_INVALID, "user spec \"" + std::string(spec) + "\": the user is empty");

    auto passwd = read_db(root, "etc/passwd");
    bool found = false;
    if (is_number(user)) {
        auto uid = parse_id(user);
        if (!uid)
            throw Error(OCIDIR_E_INVALID, "user spec \"" + std::string(spec) + "\": uid " + std::string(user) +
                                              " out of range (at most 4294967294)");
        out.uid = *uid;
        if (passwd)
            each_entry(*passwd, "etc/passwd", 7, 2, [&](const std::vector<std::string_view> &f, uint32_t id) {
                if (id != *uid)
                    return false;
                auto g = parse_id(f[3]);
                if (!g)
                    return false;
                out.gid = *g;
                return found = true;
            });
    } else {
        if (!passwd)
            throw Error(OCIDIR_E_NOT_FOUND, "user \"" + std::string(user) +
                                                "\": the root filesystem has no etc/passwd to look it up in");
        each_entry(*passwd, "etc/passwd", 7, 2, [&](const std::vector<std::string_view> &f, uint32_t id) {
            if (f[0] != user)
                return false;
            auto g = parse_id(f[3]);
            if (!g)
                return false;
            out.uid = id;
            out.gid = *g;
            return found = true;
        });
        if (!found)
            throw Error(OCIDIR_E_NOT_FOUND, "user \"" + std::string(user) + "\" is not in etc/passwd of the root filesystem");
    }

    if (group) {
        if (is_number(*group)) {
            auto gid = parse_id(*group);
            if (!gid)
                throw Error(OCIDIR_E_INVALID, "user spec \"" + std::string(spec) + "\": gid " + std::string(*group) +
                                                  " out of range (at most 4294967294)");
            out.gid = *gid;
        } else {
            auto grp = read_db(root, "etc/group");
            if (!grp)
                throw Error(OCIDIR_E_NOT_FOUND, "group \"" + std::string(*group) +
                                                    "\": the root filesystem has no etc/group to look it up in");
            bool gfound = false;
            each_entry(*grp, "etc/group", 4, 2, [&](const std::vector<std::string_view> &f, uint32_t id) {
                if (f[0] != *group)
                    return false;
                out.gid = id;
                return gfound = true;
            });
            if (!gfound)
                throw Error(OCIDIR_E_NOT_FOUND,
                            "group \"" + std::string(*group) + "\" is not in etc/group of the root filesystem");
        }
    }
    return out;
}

}  // namespace ocd::userdb
