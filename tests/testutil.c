#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
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

/* ---- Scratch resources released by tu_teardown_scratch ------------------- */
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>

#define TU_MAX_DEFERRED 256
static char *tu_deferred_rm[TU_MAX_DEFERRED];
static int tu_n_deferred_rm;
static pid_t tu_deferred_kill[TU_MAX_DEFERRED];
static int tu_n_deferred_kill;

void tu_defer_rm(const char *path)
{
    assert_true(tu_n_deferred_rm < TU_MAX_DEFERRED);
    tu_deferred_rm[tu_n_deferred_rm] = strdup(path);
    assert_non_null(tu_deferred_rm[tu_n_deferred_rm]);
    tu_n_deferred_rm++;
}

void tu_defer_kill(pid_t pid)
{
    assert_true(tu_n_deferred_kill < TU_MAX_DEFERRED);
    tu_deferred_kill[tu_n_deferred_kill++] = pid;
}

int tu_teardown_scratch(void **state)
{
    (void)state;
    for (int i = 0; i < tu_n_deferred_kill; i++) {
        pid_t pid = tu_deferred_kill[i];
        if (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    tu_n_deferred_kill = 0;
    for (int i = tu_n_deferred_rm - 1; i >= 0; i--) {
        tu_rm_rf(tu_deferred_rm[i]);
        free(tu_deferred_rm[i]);
    }
    tu_n_deferred_rm = 0;
    return 0;
}

char *tu_scratch_dir(const char *tag)
{
    char *p = tu_mkdtemp(tag);
    tu_defer_rm(p);
    return p;
}

char *tu_scratch_dir_shm(const char *tag)
{
    char *p = tu_mkdtemp_shm(tag);
    if (p)
        tu_defer_rm(p);
    return p;
}

ocidir_t *tu_scratch_layout(char **path_out)
{
    char *dir = tu_scratch_dir("layout");
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d);
    if (rc != 0)
        print_error("ocidir_open(%s): %s\n", dir, ocidir_last_error());
    assert_int_equal(rc, 0);
    *path_out = dir;
    return d;
}

void tu_mkdir(const char *path)
{
    int rc = mkdir(path, 0755);
    if (rc != 0)
        print_error("mkdir(%s): %s\n", path, strerror(errno));
    assert_int_equal(rc, 0);
}

void tu_symlink(const char *target, const char *linkpath)
{
    int rc = symlink(target, linkpath);
    if (rc != 0)
        print_error("symlink(%s, %s): %s\n", target, linkpath, strerror(errno));
    assert_int_equal(rc, 0);
}

const char *tu_hex(const char *digest)
{
    const char *c = strchr(digest, ':');
    assert_non_null(c);
    return c + 1;
}

static char *tu_listing_buf;
static size_t tu_listing_len;
static size_t tu_listing_root_len;
static int tu_listing_dir_times; /* 0: a directory is listed by name and mode only */

static int tu_listing_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    char target[4096] = "";
    if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n >= 0)
            target[n] = '\0';
    }
    char *line = NULL;
    int n;
    if (S_ISDIR(st->st_mode) && !tu_listing_dir_times)
        n = asprintf(&line, "%s dir mode=%o\n", path + tu_listing_root_len, (unsigned)st->st_mode);
    else
        n = asprintf(&line, "%s mode=%o size=%lld ino=%llu mtime=%lld.%09ld -> %s\n",
                     path + tu_listing_root_len, (unsigned)st->st_mode,
                     S_ISREG(st->st_mode) ? (long long)st->st_size : 0LL,
                     (unsigned long long)st->st_ino, (long long)st->st_mtim.tv_sec,
                     st->st_mtim.tv_nsec, target);
    if (n < 0)
        return 1;
    char *nb = realloc(tu_listing_buf, tu_listing_len + (size_t)n + 1);
    if (!nb) {
        free(line);
        return 1;
    }
    tu_listing_buf = nb;
    memcpy(tu_listing_buf + tu_listing_len, line, (size_t)n + 1);
    tu_listing_len += (size_t)n;
    free(line);
    return 0;
}

static int tu_cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *tu_listing(const char *root, int dir_times)
{
    tu_listing_dir_times = dir_times;
    tu_listing_buf = strdup("");
    tu_listing_len = 0;
    tu_listing_root_len = strlen(root);
    assert_non_null(tu_listing_buf);
    assert_int_equal(nftw(root, tu_listing_one, 16, FTW_PHYS), 0);
    /* nftw's order is readdir order: sort the lines. */
    size_t nlines = 0;
    for (char *p = tu_listing_buf; *p; p++)
        if (*p == '\n')
            nlines++;
    char **lines = calloc(nlines + 1, sizeof *lines);
    assert_non_null(lines);
    size_t i = 0;
    for (char *save = NULL, *l = strtok_r(tu_listing_buf, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save))
        lines[i++] = l;
    qsort(lines, i, sizeof *lines, tu_cmp_lines);
    char *out = malloc(tu_listing_len + 2);
    assert_non_null(out);
    size_t off = 0;
    for (size_t k = 0; k < i; k++) {
        size_t l = strlen(lines[k]);
        memcpy(out + off, lines[k], l);
        out[off + l] = '\n';
        off += l + 1;
    }
    out[off] = '\0';
    free(lines);
    free(tu_listing_buf);
    tu_listing_buf = NULL;
    return out;
}

char *tu_tree_listing(const char *root)
{
    return tu_listing(root, 1);
}

char *tu_tree_listing_contents(const char *root)
{
    return tu_listing(root, 0);
}

int tu_run_in_child(int (*fn)(void *), void *arg, unsigned timeout_s, int *result)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        int r = fn(arg);
        ssize_t w = write(p[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(p[1]);
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    int n;
    do
        n = poll(&pfd, 1, (int)timeout_s * 1000);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(p[0]);
        return -1;
    }
    int r = 0;
    ssize_t got = read(p[0], &r, sizeof r);
    close(p[0]);
    waitpid(pid, NULL, 0);
    if (got != (ssize_t)sizeof r)
        return -2;
    *result = r;
    return 0;
}

tu_holder_t tu_hold_flock(const char *path)
{
    int ready[2], release[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(release, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(release[1]);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        char ok = (fd >= 0 && flock(fd, LOCK_EX) == 0) ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(1);
        char c;
        while (read(release[0], &c, 1) > 0) {
        }
        _exit(0);
    }
    tu_defer_kill(pid);
    close(ready[1]);
    close(release[0]);
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    close(ready[0]);
    assert_int_equal(ok, 'y');
    tu_holder_t h = {pid, release[1]};
    return h;
}

void tu_release_holder(tu_holder_t *h)
{
    if (h->release_fd >= 0)
        close(h->release_fd);
    h->release_fd = -1;
    if (h->pid > 0)
        waitpid(h->pid, NULL, 0);
    h->pid = 0;
}

/* ---- Temporary files of blob writers ------------------------------------ */

int tu_count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t pl = strlen(prefix);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, pl) == 0)
            n++;
    closedir(d);
    return n;
}

int tu_named_temp_forced(void)
{
    const char *v = getenv("OCIDIR_FORCE_NAMED_TEMP");
    return v && *v && strcmp(v, "0") != 0;
}

int tu_dir_supports_tmpfile(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

int tu_writer_temp_is_named(const char *dir)
{
    return tu_named_temp_forced() || !tu_dir_supports_tmpfile(dir);
}

/* ---- Strings freed at teardown ------------------------------------------- */

static void *tu_kept[TU_MAX_DEFERRED];
static int tu_n_kept;

void *tu_keep(void *p)
{
    assert_true(tu_n_kept < TU_MAX_DEFERRED);
    tu_kept[tu_n_kept++] = p;
    return p;
}

int tu_teardown_keep(void **state)
{
    int rc = tu_teardown_scratch(state);
    for (int i = 0; i < tu_n_kept; i++)
        free(tu_kept[i]);
    tu_n_kept = 0;
    return rc;
}

void tu_expect_lookups_fail_untouched(ocidir_t *d, const char *digest, int expected)
{
    uint64_t size = 77;
    assert_ocidir(expected, ocidir_blob_stat(d, digest, &size));
    assert_int_equal(size, 77);

    ocidir_blob_reader_t *r = NULL;
    assert_ocidir(expected, ocidir_blob_open(d, digest, -1, &r));
    assert_null(r);

    void *buf = NULL;
    size_t len = 77;
    assert_ocidir(expected, ocidir_blob_read_all(d, digest, -1, 1 << 20, &buf, &len));
    assert_null(buf);
    assert_int_equal(len, 77);

    int fd = -77;
    assert_ocidir(expected, ocidir_blob_open_fd(d, digest, &fd));
    assert_int_equal(fd, -77);
}

int tu_threads_settled(void)
{
    int last = tu_count_entries("/proc/self/task");
    for (int stable_ms = 0, waited_ms = 0; stable_ms < 20 && waited_ms < 5000; waited_ms++) {
        usleep(1000);
        int n = tu_count_entries("/proc/self/task");
        stable_ms = n == last ? stable_ms + 1 : 0;
        last = n;
    }
    assert_true(last >= 1);
    return last;
}

int tu_threads_wait(int want)
{
    int n = tu_count_entries("/proc/self/task");
    for (int waited_ms = 0; n != want && waited_ms < 5000; waited_ms++) {
        usleep(1000);
        n = tu_count_entries("/proc/self/task");
    }
    return n;
}

void tu_assert_blob_equals(ocidir_t *d, const char *digest, const void *want, size_t len)
{
    void *got = NULL;
    size_t got_len = 0;
    assert_ocidir(0, ocidir_blob_read_all(d, digest, (int64_t)len, len, &got, &got_len));
    assert_int_equal(got_len, len);
    assert_memory_equal(got, want, len);
    ocidir_free(got);
}

void tu_assert_strv(char **got, const char *const *want)
{
    size_t i = 0;
    int same = got != NULL;
    if (got) {
        for (; want[i] && got[i]; i++)
            if (strcmp(got[i], want[i]) != 0)
                same = 0;
        if (want[i] || got[i])
            same = 0;
    }
    if (!same) {
        print_error("string vector differs:\n");
        for (size_t k = 0; got && got[k]; k++)
            print_error("  got[%zu]  = \"%s\"\n", k, got[k]);
        for (size_t k = 0; want[k]; k++)
            print_error("  want[%zu] = \"%s\"\n", k, want[k]);
    }
    assert_true(same);
}

int tu_sh(const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        print_error("command failed (%d): %s\n", rc, cmd);
    free(cmd);
    return rc;
}
