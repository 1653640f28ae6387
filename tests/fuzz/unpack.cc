// Fuzz target: the tar entry processing of ocidir_unpack().  The input's
// first byte picks the options (owner mode: the tar's ids or rootless; xattrs
// applied or not; the tar check of the layer writer on or off), the rest is
// one uncompressed tar layer, committed as an image in a scratch layout in
// /dev/shm and unpacked into a scratch root under /tmp, beside a bait
// directory.  Invariants, for every input:
//   - the call returns 0 or one of the codes an unpack may return, with a
//     message;
//   - on failure the destination is absent again; on success it exists and
//     holds no OCIDIR_UNPACK_MARKER;
//   - nothing outside the destination changed: the bait file and directory are
//     as they were and the scratch parent holds only the bait and the root.
// The root is removed after each input (modes relaxed first, nothing
// followed), so inputs are independent.
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>

#include "fuzz_common.hh"
#include "scratch_layout.hh"

namespace {

class Scratch {
public:
    static Scratch &get()
    {
        static Scratch s;
        return s;
    }
    const std::string &root() const { return root_; }

    // The names in the scratch parent, the bait's content and mode.
    std::string state() const
    {
        std::set<std::string> names;
        if (DIR *d = opendir(parent_.c_str())) {
            while (struct dirent *e = readdir(d))
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                    names.insert(e->d_name);
            closedir(d);
        }
        std::string s;
        for (const auto &n : names)
            s += n + "\n";
        struct stat st;
        if (lstat((parent_ + "/bait/secret").c_str(), &st) == 0)
            s += "secret " + std::to_string(st.st_mode) + " " + std::to_string(st.st_size) + " " +
                 std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_ino) + "\n";
        if (lstat((parent_ + "/bait").c_str(), &st) == 0)
            s += "bait " + std::to_string(st.st_mode) + " " + std::to_string(st.st_nlink) + " " +
                 std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "\n";
        return s;
    }

    // Remove the root and everything below it, never following a symlink.
    void clear_root() const
    {
        nftw(
            root_.c_str(),
            [](const char *f, const struct stat *st, int type, struct FTW *) {
                if (type == FTW_D)
                    chmod(f, 0700);
                (void)st;
                return 0;
            },
            32, FTW_PHYS);
        nftw(
            root_.c_str(), [](const char *f, const struct stat *, int, struct FTW *) { return remove(f); }, 32,
            FTW_DEPTH | FTW_PHYS);
    }

private:
    Scratch()
    {
        std::string tmpl = "/tmp/ocidir-fuzz-unpack-" + std::to_string(getpid()) + "-XXXXXX";
        if (!mkdtemp(tmpl.data()))
            std::abort();
        parent_ = tmpl;
        root_ = parent_ + "/root";
        mkdir((parent_ + "/bait").c_str(), 0755);
        int fd = open((parent_ + "/bait/secret").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, "secret", 6) != 6)
            std::abort();
        close(fd);
    }
    ~Scratch()
    {
        clear_root();
        nftw(
            parent_.c_str(), [](const char *f, const struct stat *, int, struct FTW *) { return remove(f); }, 8,
            FTW_DEPTH | FTW_PHYS);
    }
    std::string parent_, root_;
};

bool commit_layer(ocidir_t *d, const uint8_t *tar, size_t len, bool check)
{
    ocidir_layer_writer_options_t wo = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
    wo.compression = OCIDIR_COMPRESSION_NONE;
    wo.flags = check ? OCIDIR_LAYER_WRITER_CHECK_TAR : 0;
    ocidir_layer_writer_t *w = nullptr;
    FUZZ_CHECK(ocidir_layer_writer_new_opts(d, &wo, &w) == 0);
    int rc = len ? ocidir_layer_writer_write(w, tar, len) : 0;
    if (rc != 0) {
        FUZZ_CHECK(check && rc == OCIDIR_E_FORMAT);
        ocidir_layer_writer_abort(w);
        return false;
    }
    ocidir_builder_t *b = nullptr;
    FUZZ_CHECK(ocidir_builder_new(d, nullptr, &b) == 0);
    rc = ocidir_builder_add_layer_writer(b, w, nullptr);  // commits (and frees) w
    if (rc != 0) {
        FUZZ_CHECK(check && rc == OCIDIR_E_FORMAT);
        ocidir_builder_free(b);
        return false;
    }
    FUZZ_CHECK(ocidir_builder_commit(b, "t", 0, nullptr) == 0);
    ocidir_builder_free(b);
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const unsigned sel = data[0];
    auto &L = fuzz::ScratchLayout::get();
    auto &S = Scratch::get();
    ocidir_t *d = L.handle();
    const std::string before = S.state();

    if (!commit_layer(d, data + 1, size - 1, sel & 4))
        return 0;  // the tar check refused it: nothing stored, nothing to unpack

    ocidir_image_t *img = nullptr;
    FUZZ_CHECK(ocidir_image_open(d, "t", nullptr, &img) == 0);
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.flags = OCIDIR_UNPACK_NO_SYNC | ((sel & 2) ? OCIDIR_UNPACK_NO_XATTRS : 0);
    o.owner_mode = (sel & 1) ? OCIDIR_UNPACK_OWNER_ROOTLESS : OCIDIR_UNPACK_OWNER_TAR;
    o.fallback_uid = o.fallback_gid = 0;  // no unmapped-id failures outside a namespace
    o.max_bytes = 64u << 20;
    o.max_entries = 20000;
    ocidir_report_t *rep = nullptr;
    int rc = ocidir_unpack(img, AT_FDCWD, S.root().c_str(), &o, &rep);
    ocidir_image_close(img);

    struct stat st;
    if (rc == 0) {
        FUZZ_CHECK(lstat(S.root().c_str(), &st) == 0 && S_ISDIR(st.st_mode));
        FUZZ_CHECK(lstat((S.root() + "/" OCIDIR_UNPACK_MARKER).c_str(), &st) != 0 && errno == ENOENT);
        ocidir_report_free(rep);
    } else {
        static const int allowed[] = {OCIDIR_E_FORMAT, OCIDIR_E_ESCAPE, OCIDIR_E_TOO_LARGE, OCIDIR_E_INVALID,
                                      OCIDIR_E_IO, OCIDIR_E_DIGEST, OCIDIR_E_SIZE, OCIDIR_E_UNSUPPORTED};
        bool ok = false;
        for (int c : allowed)
            ok = ok || rc == c;
        if (!ok)
            std::fprintf(stderr, "unexpected code %d: %s\n", rc, ocidir_last_error());
        FUZZ_CHECK(ok);
        FUZZ_CHECK(ocidir_last_error()[0] != '\0');
        FUZZ_CHECK(rep == nullptr);
        // Failure cleanup: the destination is absent again.
        FUZZ_CHECK(lstat(S.root().c_str(), &st) != 0 && errno == ENOENT);
    }
    S.clear_root();
    // Nothing outside the destination changed.
    FUZZ_CHECK(S.state() == before);
    // Drop the tag and its blobs, so the scratch layout stays small.
    ocidir_gc_options_t g = OCIDIR_GC_OPTIONS_INIT;
    g.grace_seconds = 0;
    FUZZ_CHECK(ocidir_tag_remove_gc(d, "t", &g, nullptr) == 0);
    return 0;
}
