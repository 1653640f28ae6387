/*
 * shared_cache - LXC's shared blob cache, end to end, through the public API.
 *
 *   shared_cache [LAYOUT_DIR CACHE_DIR]
 *
 * Without arguments everything happens in a fresh temporary directory
 * ($TMPDIR or /tmp), removed at the end.  With arguments, the layout and the
 * cache (the /var/cache/lxc of LXC's template) are those directories
 * (created if absent, kept afterwards), and the LXC-style layout whose
 * blobs/sha256 is a symlink into the cache is LAYOUT_DIR-lxc.
 *
 * Exits 0 when every step gave the expected result, 1 otherwise.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocidir.h>

static int unexpected; /* count of steps that did not go as expected */

static const char *code_name(int rc)
{
    switch (rc) {
    case OCIDIR_OK: return "OCIDIR_OK";
    case OCIDIR_E_INVALID: return "OCIDIR_E_INVALID";
    case OCIDIR_E_IO: return "OCIDIR_E_IO";
    case OCIDIR_E_NOT_FOUND: return "OCIDIR_E_NOT_FOUND";
    case OCIDIR_E_DIGEST: return "OCIDIR_E_DIGEST";
    case OCIDIR_E_SIZE: return "OCIDIR_E_SIZE";
    case OCIDIR_E_BAD_DIGEST: return "OCIDIR_E_BAD_DIGEST";
    case OCIDIR_E_FORMAT: return "OCIDIR_E_FORMAT";
    case OCIDIR_E_ESCAPE: return "OCIDIR_E_ESCAPE";
    case OCIDIR_E_EXISTS: return "OCIDIR_E_EXISTS";
    case OCIDIR_E_NOMEM: return "OCIDIR_E_NOMEM";
    case OCIDIR_E_UNSUPPORTED: return "OCIDIR_E_UNSUPPORTED";
    case OCIDIR_E_READONLY: return "OCIDIR_E_READONLY";
    case OCIDIR_E_STATE: return "OCIDIR_E_STATE";
    case OCIDIR_E_TOO_LARGE: return "OCIDIR_E_TOO_LARGE";
    default: return "(unknown code)";
    }
}

/* Compare a library result with the expected one; say what happened.
 * Returns non-zero when it matched. */
static int expect_rc(const char *what, long rc, int want)
{
    if (rc == want) {
        if (want == OCIDIR_OK)
            printf("    ok    %s\n", what);
        else
            printf("    ok    %s -> %s, as expected\n          message: %s\n", what,
                   code_name(want), ocidir_last_error());
        return 1;
    }
    printf("    FAIL  %s -> %s (%ld), expected %s\n", what, code_name((int)rc), rc,
           code_name(want));
    if (rc < 0)
        printf("          message: %s\n", ocidir_last_error());
    unexpected++;
    return 0;
}

static void check(int cond, const char *what)
{
    printf("    %s  %s\n", cond ? "ok  " : "FAIL", what);
    if (!cond)
        unexpected++;
}

static void step(const char *title)
{
    printf("\n== %s\n", title);
}

/* snprintf into a PATH_MAX buffer; a path that does not fit ends the program. */
__attribute__((format(printf, 2, 3))) static void mkpath(char buf[PATH_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX) {
        fprintf(stderr, "shared_cache: path too long\n");
        exit(1);
    }
}

static const char *hex_of(const char *digest)
{
    const char *colon = strchr(digest, ':');
    return colon ? colon + 1 : digest;
}

static const char *alg_of(const char *digest)
{
    return strncmp(digest, "sha512:", 7) == 0 ? "sha512" : "sha256";
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Where a blob landed: in the cache, and not in the layout's own blobs/. */
static void show_location(const char *layout, const char *cache, const char *digest)
{
    char in_cache[PATH_MAX], in_layout[PATH_MAX];
    mkpath(in_cache, "%s/%s/%s", cache, alg_of(digest), hex_of(digest));
    mkpath(in_layout, "%s/blobs/%s/%s", layout, alg_of(digest), hex_of(digest));
    printf("    %.19s...  in the cache: %s, in the layout's blobs/: %s\n", digest,
           exists(in_cache) ? "yes" : "NO", exists(in_layout) ? "YES" : "no");
    printf("          %s\n", in_cache);
    if (!exists(in_cache) || exists(in_layout)) {
        printf("    FAIL  %s should be in the cache only\n", digest);
        unexpected++;
    }
}

static int write_file(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, buf, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    mkpath(tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) < 0 ? -1 : 0;
}

/* Read a whole blob through a verified reader, in small chunks. */
static int read_with_reader(ocidir_t *d, const char *digest, int64_t size, char *out, size_t cap,
                            size_t *len_out)
{
    ocidir_blob_reader_t *r = NULL;
    int rc = ocidir_blob_open(d, digest, size, &r);
    if (rc < 0)
        return rc;
    size_t len = 0;
    char buf[7]; /* deliberately small: the content streams through */
    ssize_t n;
    while ((n = ocidir_blob_reader_read(r, buf, sizeof buf)) > 0) {
        if (len + (size_t)n > cap) {
            ocidir_blob_reader_close(r);
            return OCIDIR_E_TOO_LARGE;
        }
        memcpy(out + len, buf, (size_t)n);
        len += (size_t)n;
    }
    ocidir_blob_reader_close(r);
    if (n < 0)
        return (int)n;
    *len_out = len;
    return 0;
}

int main(int argc, char **argv)
{
    char base[PATH_MAX] = "", layout[PATH_MAX], cache[PATH_MAX], lxc[PATH_MAX];
    int own_tmp = 0;

    if (argc == 3) {
        mkpath(layout, "%s", argv[1]);
        mkpath(cache, "%s", argv[2]);
        mkpath(lxc, "%s-lxc", argv[1]);
        if (mkdir_p(cache) < 0) {
            fprintf(stderr, "shared_cache: mkdir %s: %s\n", cache, strerror(errno));
            return 1;
        }
    } else if (argc == 1) {
        const char *tmpdir = getenv("TMPDIR");
        mkpath(base, "%s/ocidir-shared-cache.XXXXXX",
                 tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(base)) {
            fprintf(stderr, "shared_cache: mkdtemp %s: %s\n", base, strerror(errno));
            return 1;
        }
        own_tmp = 1;
        mkpath(layout, "%s/layout", base);
        mkpath(cache, "%s/var/cache/lxc", base);
        mkpath(lxc, "%s/lxc-layout", base);
        if (mkdir_p(cache) < 0) {
            fprintf(stderr, "shared_cache: mkdir %s: %s\n", cache, strerror(errno));
            return 1;
        }
    } else {
        fprintf(stderr, "usage: %s [LAYOUT_DIR CACHE_DIR]\n", argv[0]);
        return 2;
    }
    /* The LXC layout's symlink must be absolute, as LXC makes it. */
    char cache_abs[PATH_MAX];
    if (!realpath(cache, cache_abs)) {
        fprintf(stderr, "shared_cache: realpath %s: %s\n", cache, strerror(errno));
        return 1;
    }

    printf("libocidir %s, hash backend %s, path resolution by %s\n", ocidir_version(),
           ocidir_hash_backend(),
           ocidir_resolver_uses_openat2() ? "openat2(RESOLVE_BENEATH)" : "O_NOFOLLOW component walk");
    printf("layout: %s\ncache:  %s\n", layout, cache);

    /* ------------------------------------------------------------------ */
    step("1. create the layout and add the cache as the write target");
    ocidir_t *d = NULL;
    if (!expect_rc("ocidir_open(layout, OCIDIR_OPEN_CREATE)",
                   ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d), OCIDIR_OK))
        goto out;
    int cfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfd < 0) {
        printf("    FAIL  open %s: %s\n", cache, strerror(errno));
        unexpected++;
        goto out;
    }
    printf("    opened the cache directory: fd %d\n", cfd);
    expect_rc("ocidir_add_blobdir_fd(d, fd, OCIDIR_BLOBDIR_WRITE)",
              ocidir_add_blobdir_fd(d, cfd, OCIDIR_BLOBDIR_WRITE), OCIDIR_OK);
    close(cfd); /* the library keeps its own duplicate */
    printf("    closed our fd; the handle keeps its own\n");

    /* ------------------------------------------------------------------ */
    step("2. write blobs");
    static const char config[] = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    char dg_put[OCIDIR_DIGEST_MAX] = "";
    if (expect_rc("ocidir_blob_put(config JSON)",
                  ocidir_blob_put(d, config, sizeof config - 1, dg_put), OCIDIR_OK))
        printf("          -> %s\n", dg_put);

    /* A streamed "layer" whose digest and size are known in advance (from a
     * descriptor): the writer checks both at commit. */
    char layer[64 * 1024];
    for (size_t i = 0; i < sizeof layer; i++)
        layer[i] = (char)(i * 2654435761u >> 13);
    char dg_layer_want[OCIDIR_DIGEST_MAX];
    expect_rc("ocidir_digest_buffer(SHA256, layer)",
              ocidir_digest_buffer(OCIDIR_SHA256, layer, sizeof layer, dg_layer_want), OCIDIR_OK);
    char dg_layer[OCIDIR_DIGEST_MAX] = "";
    uint64_t layer_size = 0;
    ocidir_blob_writer_t *w = NULL;
    if (expect_rc("ocidir_blob_writer_new(SHA256)", ocidir_blob_writer_new(d, OCIDIR_SHA256, &w),
                  OCIDIR_OK)) {
        expect_rc("ocidir_blob_writer_expect(digest, 65536)",
                  ocidir_blob_writer_expect(w, dg_layer_want, (int64_t)sizeof layer), OCIDIR_OK);
        int wrc = 0;
        for (size_t off = 0; off < sizeof layer && wrc == 0; off += 4096)
            wrc = ocidir_blob_writer_write(w, layer + off, 4096);
        expect_rc("ocidir_blob_writer_write x16 (4 KiB each)", wrc, OCIDIR_OK);
        if (expect_rc("ocidir_blob_writer_commit",
                      ocidir_blob_writer_commit(w, dg_layer, &layer_size), OCIDIR_OK))
            printf("          -> %s, %llu bytes\n", dg_layer, (unsigned long long)layer_size);
        check(strcmp(dg_layer, dg_layer_want) == 0 && layer_size == sizeof layer,
              "committed digest and size are the expected ones");
    }

    /* The same writer refuses content that does not match what was expected,
     * and leaves nothing behind. */
    w = NULL;
    if (expect_rc("ocidir_blob_writer_new(SHA256) for a mismatching stream",
                  ocidir_blob_writer_new(d, OCIDIR_SHA256, &w), OCIDIR_OK)) {
        expect_rc("ocidir_blob_writer_expect(layer digest, -1)",
                  ocidir_blob_writer_expect(w, dg_layer_want, -1), OCIDIR_OK);
        expect_rc("ocidir_blob_writer_write(other bytes)",
                  ocidir_blob_writer_write(w, "not the layer", 13), OCIDIR_OK);
        expect_rc("ocidir_blob_writer_commit(mismatching content)",
                  ocidir_blob_writer_commit(w, NULL, NULL), OCIDIR_E_DIGEST);
    }

    static const char manifest[] = "{\"schemaVersion\":2,\"note\":\"sha512 blob\"}";
    char dg_512[OCIDIR_DIGEST_MAX] = "";
    w = NULL;
    if (expect_rc("ocidir_blob_writer_new(SHA512)", ocidir_blob_writer_new(d, OCIDIR_SHA512, &w),
                  OCIDIR_OK)) {
        expect_rc("ocidir_blob_writer_write", ocidir_blob_writer_write(w, manifest, sizeof manifest - 1),
                  OCIDIR_OK);
        if (expect_rc("ocidir_blob_writer_commit", ocidir_blob_writer_commit(w, dg_512, NULL),
                      OCIDIR_OK))
            printf("          -> %.40s...\n", dg_512);
    }

    /* ------------------------------------------------------------------ */
    step("3. where they landed: the cache, not the layout's blobs/");
    if (*dg_put)
        show_location(layout, cache, dg_put);
    if (*dg_layer)
        show_location(layout, cache, dg_layer);
    if (*dg_512)
        show_location(layout, cache, dg_512);

    /* ------------------------------------------------------------------ */
    step("4. read them back, verified");
    uint64_t sz = 0;
    if (*dg_layer && expect_rc("ocidir_blob_stat(layer)", ocidir_blob_stat(d, dg_layer, &sz), OCIDIR_OK))
        check(sz == sizeof layer, "stat gives the layer's size");
    static char back[sizeof layer];
    size_t back_len = 0;
    if (*dg_layer &&
        expect_rc("ocidir_blob_open + ocidir_blob_reader_read to the end (7-byte reads)",
                  read_with_reader(d, dg_layer, (int64_t)sizeof layer, back, sizeof back, &back_len),
                  OCIDIR_OK))
        check(back_len == sizeof layer && memcmp(back, layer, sizeof layer) == 0,
              "the reader gave back the layer, byte for byte, and ended cleanly");
    void *all = NULL;
    size_t all_len = 0;
    if (*dg_put && expect_rc("ocidir_blob_read_all(config)",
                             ocidir_blob_read_all(d, dg_put, -1, 1 << 20, &all, &all_len), OCIDIR_OK)) {
        check(all_len == sizeof config - 1 && memcmp(all, config, all_len) == 0,
              "read_all gave back the config");
        printf("          content: %.*s\n", (int)all_len, (const char *)all);
        ocidir_free(all);
    }
    all = NULL;
    if (*dg_512 && expect_rc("ocidir_blob_read_all(sha512 blob)",
                             ocidir_blob_read_all(d, dg_512, (int64_t)(sizeof manifest - 1), 1 << 20,
                                                  &all, &all_len),
                             OCIDIR_OK)) {
        check(all_len == sizeof manifest - 1 && memcmp(all, manifest, all_len) == 0,
              "read_all gave back the sha512 blob");
        ocidir_free(all);
    }
    all = NULL;
    if (*dg_layer)
        expect_rc("ocidir_blob_read_all(layer, max_len 1024)",
                  ocidir_blob_read_all(d, dg_layer, -1, 1024, &all, &all_len), OCIDIR_E_TOO_LARGE);
    if (*dg_layer)
        expect_rc("ocidir_blob_remove(layer) (it lives in the shared cache)",
                  ocidir_blob_remove(d, dg_layer), OCIDIR_E_NOT_FOUND);

    /* ------------------------------------------------------------------ */
    step("5. a corrupted blob is refused");
    {
        static const char good[] = "the original content of a blob";
        char bad[sizeof good];
        memcpy(bad, good, sizeof good);
        bad[4] ^= 0x20; /* flip one bit: "the Original ..." */
        char dg_bad[OCIDIR_DIGEST_MAX], path[PATH_MAX];
        ocidir_digest_buffer(OCIDIR_SHA256, good, sizeof good - 1, dg_bad);
        mkpath(path, "%s/blobs/sha256/%s", layout, hex_of(dg_bad));
        if (write_file(path, bad, sizeof bad - 1) < 0) {
            printf("    FAIL  write %s: %s\n", path, strerror(errno));
            unexpected++;
        } else {
            printf("    planted blobs/sha256/%.12s... holding \"%.*s\" (one bit flipped)\n",
                   hex_of(dg_bad), (int)(sizeof bad - 1), bad);
            expect_rc("ocidir_blob_stat (present; stat does not verify)",
                      ocidir_blob_stat(d, dg_bad, NULL), OCIDIR_OK);
            expect_rc("ocidir_blob_open + ocidir_blob_reader_read to the end",
                      read_with_reader(d, dg_bad, -1, back, sizeof back, &back_len), OCIDIR_E_DIGEST);
            all = NULL;
            expect_rc("ocidir_blob_read_all", ocidir_blob_read_all(d, dg_bad, -1, 1 << 20, &all, &all_len),
                      OCIDIR_E_DIGEST);
            check(all == NULL, "read_all handed out nothing");
            expect_rc("ocidir_blob_open(expected_size = 5)",
                      read_with_reader(d, dg_bad, 5, back, sizeof back, &back_len), OCIDIR_E_SIZE);
            expect_rc("ocidir_blob_remove (the layout's own blob)", ocidir_blob_remove(d, dg_bad),
                      OCIDIR_OK);
            check(!exists(path), "the corrupted file is gone");
        }
    }
    ocidir_close(d);
    d = NULL;

    /* ------------------------------------------------------------------ */
    step("6. an LXC-style layout: blobs/sha256 -> <cache>/sha256");
    {
        char blobs256[PATH_MAX], target[PATH_MAX];
        mkpath(blobs256, "%s/blobs/sha256", lxc);
        mkpath(target, "%s/sha256", cache_abs);
        struct stat st;
        if (lstat(blobs256, &st) == 0 && S_ISLNK(st.st_mode)) {
            printf("    %s already exists\n", lxc);
        } else {
            ocidir_t *c = NULL;
            if (expect_rc("ocidir_open(lxc layout, OCIDIR_OPEN_CREATE)",
                          ocidir_open(AT_FDCWD, lxc, OCIDIR_OPEN_CREATE, &c), OCIDIR_OK))
                ocidir_close(c);
            if (rmdir(blobs256) < 0 || symlink(target, blobs256) < 0) {
                printf("    FAIL  replace %s by a symlink: %s\n", blobs256, strerror(errno));
                unexpected++;
                goto out;
            }
        }
        printf("    %s -> %s\n", blobs256, target);

        ocidir_t *l = NULL;
        int rc = ocidir_open(AT_FDCWD, lxc, 0, &l);
        expect_rc("ocidir_open(lxc layout, 0)", rc, OCIDIR_E_ESCAPE);
        if (rc == 0)
            ocidir_close(l);
        l = NULL;
        if (expect_rc("ocidir_open(lxc layout, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK)",
                      ocidir_open(AT_FDCWD, lxc, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &l), OCIDIR_OK)) {
            if (*dg_layer &&
                expect_rc("ocidir_blob_read_all(layer) through the followed symlink",
                          ocidir_blob_read_all(l, dg_layer, (int64_t)sizeof layer, sizeof layer, &all,
                                               &all_len),
                          OCIDIR_OK)) {
                check(all_len == sizeof layer && memcmp(all, layer, all_len) == 0,
                      "it is the layer written in step 2");
                ocidir_free(all);
            }
            static const char extra[] = "written through the followed symlink";
            char dg_extra[OCIDIR_DIGEST_MAX] = "";
            if (expect_rc("ocidir_blob_put(new blob)", ocidir_blob_put(l, extra, sizeof extra - 1, dg_extra),
                          OCIDIR_OK)) {
                char p[PATH_MAX];
                mkpath(p, "%s/sha256/%s", cache, hex_of(dg_extra));
                check(exists(p), "it landed in the cache's sha256/");
            }
            if (*dg_extra)
                expect_rc("ocidir_blob_remove(new blob) (the symlink target is never modified)",
                          ocidir_blob_remove(l, dg_extra), OCIDIR_E_NOT_FOUND);
            ocidir_close(l);
        }
    }

out:
    ocidir_close(d);
    if (own_tmp && nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
        fprintf(stderr, "shared_cache: cleaning up %s: %s\n", base, strerror(errno));
    if (unexpected) {
        printf("\nshared_cache: %d step(s) did not go as expected\n", unexpected);
        return 1;
    }
    printf("\nshared_cache: every step went as expected\n");
    return 0;
}
