// A layout in /dev/shm (tmpfs: no disk I/O), created once per fuzzing
// process, for targets whose entry point reads from a layout (index.json,
// layer blobs).  libFuzzer often ends a process without running static
// destructors, so each layout's name carries its process id and the next
// fuzzing process removes those whose process is gone.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ocidir.h"

namespace fuzz {

class ScratchLayout {
public:
    static ScratchLayout &get()
    {
        static ScratchLayout s;
        return s;
    }
    ocidir_t *handle() const { return d_; }
    const std::string &path() const { return path_; }

    // Replace a file in the layout root with `bytes` (not atomically: the
    // process is the only user of its layout).
    void write_file(const char *name, const std::string &bytes) const
    {
        std::string p = path_ + "/" + name;
        int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            die("open", p);
        size_t off = 0;
        while (off < bytes.size()) {
            ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
            if (n <= 0)
                die("write", p);
            off += static_cast<size_t>(n);
        }
        close(fd);
    }

private:
    ScratchLayout()
    {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        remove_stale(base);
        std::string tmpl = std::string(base) + "/" + kPrefix + std::to_string(getpid()) + "-XXXXXX";
        if (!mkdtemp(tmpl.data()))
            die("mkdtemp", tmpl);
        path_ = tmpl;
        if (ocidir_open(AT_FDCWD, path_.c_str(), OCIDIR_OPEN_CREATE, &d_) != 0)
            die("ocidir_open", path_ + ": " + ocidir_last_error());
    }
    ~ScratchLayout()
    {
        ocidir_close(d_);
        remove_tree(path_);
    }
    static constexpr const char *kPrefix = "ocidir-fuzz-";
    static void remove_tree(const std::string &p)
    {
        nftw(
            p.c_str(), [](const char *f, const struct stat *, int, struct FTW *) { return remove(f); }, 16,
            FTW_DEPTH | FTW_PHYS);
    }
    // Remove "<prefix><pid>-*" layouts of processes that no longer exist.
    static void remove_stale(const char *base)
    {
        DIR *dir = opendir(base);
        if (!dir)
            return;
        const size_t plen = std::char_traits<char>::length(kPrefix);
        while (struct dirent *e = readdir(dir)) {
            std::string name = e->d_name;
            if (name.compare(0, plen, kPrefix) != 0)
                continue;
            char *end = nullptr;
            long pid = std::strtol(name.c_str() + plen, &end, 10);
            if (pid <= 0 || *end != '-')
                continue;
            if (kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH)
                remove_tree(std::string(base) + "/" + name);
        }
        closedir(dir);
    }
    [[noreturn]] static void die(const char *what, const std::string &p)
    {
        std::fprintf(stderr, "fuzz scratch layout: %s failed: %s\n", what, p.c_str());
        std::abort();
    }

    std::string path_;
    ocidir_t *d_ = nullptr;
};

}  // namespace fuzz
