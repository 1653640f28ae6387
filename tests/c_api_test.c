/* A pure C99 walk through the public API, end to end, in the manner of
 * leveldb's db/c_test.c: no test framework, no helpers, only <ocidir.h>.
 * Also run under valgrind by scripts/test, so it stays small and fast. */
#define _XOPEN_SOURCE 700

#include <ocidir.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *phase = "";
static int failures = 0;

#define StartPhase(name)                      \
    do {                                      \
        fprintf(stderr, "=== %s\n", (name));  \
        phase = (name);                       \
    } while (0)

/* Not assert(): it must also check in builds with NDEBUG. */
#define CheckCondition(cond)                                                           \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, phase, \
                    #cond);                                                            \
            failures++;                                                                \
            Cleanup();                                                                 \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#define CheckRc(expected, expr)                                                              \
    do {                                                                                     \
        int rc_ = (int)(expr);                                                               \
        if (rc_ != (expected)) {                                                             \
            fprintf(stderr, "%s:%d: %s: %s = %d (%s), expected %d (%s); last error: %s\n",    \
                    __FILE__, __LINE__, phase, #expr, rc_, ocidir_strerror(rc_), (expected), \
                    ocidir_strerror(expected), ocidir_last_error());                         \
            failures++;                                                                      \
            Cleanup();                                                                       \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

static char tmpdir[256] = "";

static int RemoveOne(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void Cleanup(void)
{
    if (tmpdir[0])
        nftw(tmpdir, RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
}

static char *Join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    CheckCondition(p != NULL);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int FileExists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void ReadFd(int fd, char *buf, size_t cap, size_t *len)
{
    size_t off = 0;
    for (;;) {
        ssize_t n = read(fd, buf + off, cap - off);
        CheckCondition(n >= 0);
        if (n == 0)
            break;
        off += (size_t)n;
        CheckCondition(off < cap);
    }
    *len = off;
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/ocidir-c_api_test-XXXXXX", base && *base ? base : "/tmp");
    CheckCondition(mkdtemp(tmpdir) != NULL);
    char *layout = Join(tmpdir, "layout");
    char *cache = Join(tmpdir, "cache");
    char *cache_sha = Join(cache, "sha256");
    CheckCondition(mkdir(cache, 0755) == 0);
    CheckCondition(mkdir(cache_sha, 0755) == 0);

    static const char hello[] = "hello, layout";
    static const char world[] = "hello, shared cache";
    char dg_layout[OCIDIR_DIGEST_MAX];
    char dg_cache[OCIDIR_DIGEST_MAX];
    char dg[OCIDIR_DIGEST_MAX];
    uint64_t size = 0;
    ocidir_t *d = NULL;
    ocidir_t *ro = NULL;

    StartPhase("version");
    {
        char expected[32];
        snprintf(expected, sizeof expected, "%d.%d.%d", OCIDIR_VERSION_MAJOR,
                 OCIDIR_VERSION_MINOR, OCIDIR_VERSION_PATCH);
        CheckCondition(strcmp(ocidir_version(), expected) == 0);
        CheckCondition(ocidir_version_number() == OCIDIR_VERSION_NUMBER);
        CheckCondition(ocidir_digest_max() == OCIDIR_DIGEST_MAX);
        CheckCondition(strlen(ocidir_hash_backend()) > 0);
        CheckCondition(strcmp(ocidir_strerror(OCIDIR_E_NOT_FOUND), ocidir_strerror(OCIDIR_OK)) != 0);
        CheckCondition(strcmp(ocidir_strerror(12345), "unknown error") == 0);
    }

    StartPhase("digests");
    {
        CheckRc(0, ocidir_digest_buffer(OCIDIR_SHA256, "", 0, dg));
        CheckCondition(strcmp(dg, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
        CheckRc(0, ocidir_digest_validate(dg));
        CheckRc(OCIDIR_E_BAD_DIGEST, ocidir_digest_validate("sha256:xyz"));
        CheckRc(OCIDIR_E_UNSUPPORTED, ocidir_digest_validate("md5:d41d8cd98f00b204e9800998ecf8427e"));
        CheckRc(OCIDIR_E_INVALID, ocidir_digest_validate(NULL));
        CheckRc(0, ocidir_digest_buffer(OCIDIR_SHA512, "abc", 3, dg));
        CheckCondition(strncmp(dg, "sha512:ddaf35a1", 15) == 0);
        CheckCondition(strlen(dg) == OCIDIR_DIGEST_MAX - 1);
    }

    StartPhase("open");
    {
        CheckRc(OCIDIR_E_NOT_FOUND, ocidir_open(AT_FDCWD, layout, 0, &d));
        CheckCondition(d == NULL);
        CheckRc(OCIDIR_E_INVALID, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE | OCIDIR_OPEN_RDONLY, &d));
        CheckRc(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d));
        CheckCondition(d != NULL);
        CheckCondition(!ocidir_is_readonly(d));
        char *f = Join(layout, "oci-layout");
        CheckCondition(FileExists(f));
        free(f);
        (void)ocidir_resolver_uses_openat2();
    }

    StartPhase("put into the layout");
    {
        CheckRc(0, ocidir_blob_put(d, hello, strlen(hello), dg_layout));
        CheckRc(0, ocidir_digest_buffer(OCIDIR_SHA256, hello, strlen(hello), dg));
        CheckCondition(strcmp(dg, dg_layout) == 0);
        char *blobs = Join(layout, "blobs/sha256");
        char *p = Join(blobs, dg_layout + strlen("sha256:"));
        CheckCondition(FileExists(p));
        free(p);
        free(blobs);
    }

    StartPhase("add the cache as write target");
    {
        int fd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CheckCondition(fd >= 0);
        CheckRc(0, ocidir_add_blobdir_fd(d, fd, OCIDIR_BLOBDIR_WRITE));
        /* The library keeps its own duplicate. */
        CheckCondition(close(fd) == 0);
    }

    StartPhase("writer into the cache");
    {
        ocidir_blob_writer_t *w = NULL;
        CheckRc(0, ocidir_digest_buffer(OCIDIR_SHA256, world, strlen(world), dg));
        CheckRc(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
        CheckRc(0, ocidir_blob_writer_expect(w, dg, (int64_t)strlen(world)));
        CheckRc(0, ocidir_blob_writer_write(w, world, 5));
        CheckRc(0, ocidir_blob_writer_write(w, world + 5, strlen(world) - 5));
        CheckRc(0, ocidir_blob_writer_commit(w, dg_cache, &size));
        CheckCondition(strcmp(dg, dg_cache) == 0);
        CheckCondition(size == strlen(world));
        char *p = Join(cache_sha, dg_cache + strlen("sha256:"));
        CheckCondition(FileExists(p));
        free(p);

        w = NULL;
        CheckRc(0, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
        CheckRc(0, ocidir_blob_writer_write(w, "discarded", 9));
        ocidir_blob_writer_abort(w);
        ocidir_blob_writer_abort(NULL);
    }

    StartPhase("stat");
    {
        CheckRc(0, ocidir_blob_stat(d, dg_layout, &size));
        CheckCondition(size == strlen(hello));
        CheckRc(0, ocidir_blob_stat(d, dg_cache, &size));
        CheckCondition(size == strlen(world));
        CheckRc(0, ocidir_digest_buffer(OCIDIR_SHA256, "absent", 6, dg));
        CheckRc(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, dg, &size));
        CheckCondition(strlen(ocidir_last_error()) > 0);
    }

    StartPhase("reader");
    {
        ocidir_blob_reader_t *r = NULL;
        char buf[64];
        size_t off = 0;
        ssize_t n;
        CheckRc(0, ocidir_blob_open(d, dg_cache, (int64_t)strlen(world), &r));
        CheckCondition(ocidir_blob_reader_size(r) == strlen(world));
        while ((n = ocidir_blob_reader_read(r, buf + off, 4)) > 0)
            off += (size_t)n;
        CheckCondition(n == 0);
        CheckCondition(off == strlen(world));
        CheckCondition(memcmp(buf, world, off) == 0);
        ocidir_blob_reader_close(r);
        ocidir_blob_reader_close(NULL);
        r = NULL;
        CheckRc(OCIDIR_E_SIZE, ocidir_blob_open(d, dg_cache, 1, &r));
        CheckCondition(r == NULL);
    }

    StartPhase("read_all");
    {
        void *out = NULL;
        size_t len = 0;
        CheckRc(0, ocidir_blob_read_all(d, dg_layout, -1, 1024, &out, &len));
        CheckCondition(len == strlen(hello));
        CheckCondition(memcmp(out, hello, len) == 0);
        ocidir_free(out);
        out = NULL;
        CheckRc(OCIDIR_E_TOO_LARGE, ocidir_blob_read_all(d, dg_layout, -1, 3, &out, &len));
        CheckCondition(out == NULL);
    }

    StartPhase("open_fd");
    {
        int fd = -1;
        char buf[64];
        size_t len = 0;
        CheckRc(0, ocidir_blob_open_fd(d, dg_cache, &fd));
        CheckCondition(fd >= 0);
        CheckCondition(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        ReadFd(fd, buf, sizeof buf, &len);
        CheckCondition(len == strlen(world));
        CheckCondition(memcmp(buf, world, len) == 0);
        CheckCondition(close(fd) == 0);
    }

    StartPhase("put_fd");
    {
        int p[2];
        CheckCondition(pipe(p) == 0);
        CheckCondition(write(p[1], "piped", 5) == 5);
        CheckCondition(close(p[1]) == 0);
        CheckRc(0, ocidir_blob_put_fd(d, p[0], dg, &size));
        CheckCondition(size == 5);
        CheckCondition(close(p[0]) == 0);
        CheckRc(0, ocidir_blob_stat(d, dg, NULL));
    }

    StartPhase("read-only handle");
    {
        CheckRc(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &ro));
        CheckCondition(ocidir_is_readonly(ro));
        CheckRc(OCIDIR_E_READONLY, ocidir_blob_put(ro, "x", 1, NULL));
        CheckRc(OCIDIR_E_READONLY, ocidir_blob_remove(ro, dg_layout));
        /* The cache is not known to this handle. */
        CheckRc(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(ro, dg_cache, NULL));
        CheckRc(0, ocidir_blob_stat(ro, dg_layout, NULL));
        ocidir_close(ro);
    }

    StartPhase("remove");
    {
        /* A blob that lives only in the added directory is not removed. */
        CheckRc(OCIDIR_E_NOT_FOUND, ocidir_blob_remove(d, dg_cache));
        CheckRc(0, ocidir_blob_stat(d, dg_cache, NULL));
        CheckRc(0, ocidir_blob_remove(d, dg_layout));
        CheckRc(OCIDIR_E_NOT_FOUND, ocidir_blob_stat(d, dg_layout, NULL));
        CheckRc(OCIDIR_E_NOT_FOUND, ocidir_blob_remove(d, dg_layout));
    }

    StartPhase("errors");
    {
        CheckRc(OCIDIR_E_INVALID, ocidir_blob_put(NULL, "x", 1, NULL));
        CheckRc(OCIDIR_E_BAD_DIGEST, ocidir_blob_stat(d, "sha256:../../etc/passwd", NULL));
        CheckCondition(ocidir_last_errno() == 0); /* no OS cause */
        ocidir_strv_free(NULL);
        ocidir_free(NULL);
    }

    StartPhase("close");
    {
        ocidir_close(d);
        ocidir_close(NULL);
    }

    free(layout);
    free(cache);
    free(cache_sha);
    Cleanup();
    fprintf(stderr, "PASS\n");
    return failures ? 1 : 0;
}
