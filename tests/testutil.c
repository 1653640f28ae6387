#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *mkdtemp_in(const char *base, const char *tag)
{
    char *p = NULL;
    if (asprintf(&p, "%s/ocidir-test-%s-XXXXXX", base, tag) < 0)
        return NULL;
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

char *tu_mkdtemp(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *p = mkdtemp_in(base && *base ? base : "/tmp", tag);
    assert_non_null(p);
    return p;
}

char *tu_mkdtemp_shm(const char *tag)
{
    struct stat st;
    if (stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return mkdtemp_in("/dev/shm", tag);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void tu_rm_rf(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_join(const char *a, const char *b)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", a, b) >= 0);
    return p;
}

void tu_write_file(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
    assert_int_equal(close(fd), 0);
}

ssize_t tu_read_file(const char *path, void **buf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char *b = malloc((size_t)st.st_size + 1);
    assert_non_null(b);
    size_t off = 0;
    for (;;) {
        ssize_t n = read(fd, b + off, (size_t)st.st_size + 1 - off);
        assert_true(n >= 0);
        if (n == 0)
            break;
        off += (size_t)n;
        if (off > (size_t)st.st_size)
            break;
    }
    close(fd);
    *buf = b;
    return (ssize_t)off;
}

int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

int tu_count_fds(void)
{
    int n = tu_count_entries("/proc/self/fd");
    return n - 1; /* the DIR's own fd */
}

int tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

void tu_fill(void *buf, size_t len, uint32_t seed)
{
    unsigned char *p = buf;
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

ocidir_t *tu_new_layout(char **path_out)
{
    char *dir = tu_mkdtemp("layout");
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d);
    if (rc != 0)
        print_error("ocidir_open(%s): %s\n", dir, ocidir_last_error());
    assert_int_equal(rc, 0);
    *path_out = dir;
    return d;
}

char *tu_blob_path(const char *layout, const char *digest)
{
    const char *colon = strchr(digest, ':');
    assert_non_null(colon);
    char *p = NULL;
    assert_true(asprintf(&p, "%s/blobs/%.*s/%s", layout, (int)(colon - digest), digest, colon + 1) >= 0);
    return p;
}
