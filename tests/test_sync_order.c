/* The order of flushes and names when images are built, batched
 * (OCIDIR_ADD_LAYER_DEFER_SYNC) or not: what a power cut would keep.  A
 * SIGKILL cannot test this (the page cache outlives the process), so this
 * program stands between the library and the C library: it defines write,
 * fsync, fdatasync, syncfs, linkat, renameat and renameat2 itself (the
 * library's calls resolve to these first; each calls the real one through
 * dlsym(RTLD_NEXT)) and keeps a model of what is on disk:
 *
 *   - a regular file written to is dirty until fsync/fdatasync of it, or a
 *     syncfs;
 *   - a name made by linkat/rename is dirty until fsync of its directory, or
 *     a syncfs.
 *
 * The contract checked, at every name made: a blob name (64 hex digits) or
 * index.json never names a dirty file (its content would be lost with the
 * power while its name survives); index.json is never renamed while any name
 * is dirty; the manifest is named only when no other name is dirty (every
 * layer and the config it references are named for good).  Then the counts
 * show the batching: one syncfs for a batched commit and no per-layer
 * fdatasync, against one fdatasync per layer without the flag.
 *
 * The model's own test: a blob named without a flush, and index.json
 * renamed while a name is dirty, are both reported (so the checks can fail). */
#include "testutil.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_scratch)

/* ---- the model ------------------------------------------------------------ */

#define MAX_DIRTY 8192

struct ident {
    dev_t dev;
    ino_t ino;
};

struct entry {
    struct ident dir;
    char name[96];
};

static struct {
    int on;
    struct ident files[MAX_DIRTY];
    size_t nfiles;
    struct entry names[MAX_DIRTY];
    size_t nnames;
    unsigned syncfs, fdatasync_files, fsync_dirs, named_blobs;
    char manifest_hex[65];  /* when set: the name checked as the manifest */
    int manifest_named_clean; /* -1 not seen, 0 other names dirty then, 1 clean */
    char violations[4096];
    unsigned nviolations;
} m;

static __thread int inside; /* a hook calling another (stat, ...) is not recorded */

static void violation(const char *fmt, ...)
{
    m.nviolations++;
    size_t used = strlen(m.violations);
    if (used + 200 >= sizeof m.violations)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m.violations + used, sizeof m.violations - used - 1, fmt, ap);
    va_end(ap);
    strcat(m.violations, "\n");
}

static int same(struct ident a, struct ident b) { return a.dev == b.dev && a.ino == b.ino; }

static int file_dirty(struct ident f)
{
    for (size_t i = 0; i < m.nfiles; i++)
        if (same(m.files[i], f))
            return 1;
    return 0;
}

static void file_mark(struct ident f)
{
    if (!file_dirty(f) && m.nfiles < MAX_DIRTY)
        m.files[m.nfiles++] = f;
}

static void file_clean(struct ident f)
{
    for (size_t i = 0; i < m.nfiles; i++)
        if (same(m.files[i], f)) {
            m.files[i] = m.files[--m.nfiles];
            return;
        }
}

static void dir_clean(struct ident d)
{
    for (size_t i = 0; i < m.nnames;)
        if (same(m.names[i].dir, d))
            m.names[i] = m.names[--m.nnames];
        else
            i++;
}

static int is_blob_name(const char *n)
{
    if (strlen(n) != 64)
        return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int ident_fd(int fd, struct ident *out, mode_t *mode)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    if (mode)
        *mode = st.st_mode;
    return 0;
}

/* Before `src` (a file) gets the name `newname` in directory fd `newdir`. */
static void before_naming(int have_src, struct ident src, int newdir, const char *newname)
{
    const char *n = base_name(newname);
    int blob = is_blob_name(n), index = strcmp(n, "index.json") == 0;
    if (!blob && !index)
        return;
    if (have_src && file_dirty(src))
        violation("%s named while its content is not flushed", n);
    if (index && m.nnames > 0)
        violation("index.json renamed while %zu names are not flushed (first: %s)", m.nnames, m.names[0].name);
    if (blob) {
        m.named_blobs++;
        if (m.manifest_hex[0] && strcmp(n, m.manifest_hex) == 0)
            m.manifest_named_clean = m.nnames == 0;
    }
    (void)newdir;
}

static void after_naming(int newdir, const char *newname)
{
    struct ident d;
    if (ident_fd(newdir, &d, NULL) != 0 || m.nnames >= MAX_DIRTY)
        return;
    m.names[m.nnames].dir = d;
    snprintf(m.names[m.nnames].name, sizeof m.names[m.nnames].name, "%s", base_name(newname));
    m.nnames++;
}

static void model_reset(const char *manifest_hex)
{
    memset(&m, 0, sizeof m);
    m.manifest_named_clean = -1;
    if (manifest_hex)
        snprintf(m.manifest_hex, sizeof m.manifest_hex, "%s", manifest_hex);
    m.on = 1;
}

/* ---- the hooks ------------------------------------------------------------ */

#define REAL(name) \
    static __typeof__(name) *real_##name; \
    if (!real_##name) \
        real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t len)
{
    REAL(write);
    ssize_t n = real_write(fd, buf, len);
    if (m.on && !inside && n > 0) {
        inside = 1;
        struct ident f;
        mode_t mode;
        if (ident_fd(fd, &f, &mode) == 0 && S_ISREG(mode))
            file_mark(f);
        inside = 0;
    }
    return n;
}

static void flushed(int fd, int data_only)
{
    struct ident f;
    mode_t mode;
    if (ident_fd(fd, &f, &mode) != 0)
        return;
    if (S_ISDIR(mode)) {
        m.fsync_dirs++;
        dir_clean(f);
    } else {
        if (data_only || S_ISREG(mode))
            m.fdatasync_files++;
        file_clean(f);
    }
}

int fsync(int fd)
{
    REAL(fsync);
    int rc = real_fsync(fd);
    if (m.on && !inside && rc == 0) {
        inside = 1;
        flushed(fd, 0);
        inside = 0;
    }
    return rc;
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    int rc = real_fdatasync(fd);
    if (m.on && !inside && rc == 0) {
        inside = 1;
        flushed(fd, 1);
        inside = 0;
    }
    return rc;
}

int syncfs(int fd)
{
    REAL(syncfs);
    int rc = real_syncfs(fd);
    if (m.on && !inside && rc == 0) {
        m.syncfs++;
        m.nfiles = 0; /* one filesystem in these tests */
        m.nnames = 0;
    }
    return rc;
}

int linkat(int olddir, const char *oldpath, int newdir, const char *newpath, int flags)
{
    REAL(linkat);
    int record = m.on && !inside;
    if (record) {
        inside = 1;
        struct ident src;
        int have = 0;
        struct stat st;
        if ((flags & AT_EMPTY_PATH) && oldpath[0] == '\0')
            have = ident_fd(olddir, &src, NULL) == 0;
        else if (fstatat(olddir, oldpath, &st, (flags & AT_SYMLINK_FOLLOW) ? 0 : AT_SYMLINK_NOFOLLOW) == 0) {
            src.dev = st.st_dev;
            src.ino = st.st_ino;
            have = 1;
        }
        before_naming(have, src, newdir, newpath);
        inside = 0;
    }
    int rc = real_linkat(olddir, oldpath, newdir, newpath, flags);
    if (record && rc == 0) {
        int e = errno;
        inside = 1;
        after_naming(newdir, newpath);
        inside = 0;
        errno = e;
    }
    return rc;
}

static int renamed(int olddir, const char *oldpath, int newdir, const char *newpath, unsigned flags, int rc_in,
                   int pre)
{
    struct stat st;
    if (pre) {
        struct ident src;
        int have = fstatat(olddir, oldpath, &st, AT_SYMLINK_NOFOLLOW) == 0;
        src.dev = st.st_dev;
        src.ino = st.st_ino;
        before_naming(have, src, newdir, newpath);
    } else if (rc_in == 0) {
        after_naming(newdir, newpath);
    }
    (void)flags;
    return rc_in;
}

int renameat2(int olddir, const char *oldpath, int newdir, const char *newpath, unsigned flags)
{
    REAL(renameat2);
    int record = m.on && !inside;
    if (record) {
        inside = 1;
        renamed(olddir, oldpath, newdir, newpath, flags, 0, 1);
        inside = 0;
    }
    int rc = real_renameat2(olddir, oldpath, newdir, newpath, flags);
    if (record && rc == 0) {
        int e = errno;
        inside = 1;
        renamed(olddir, oldpath, newdir, newpath, flags, rc, 0);
        inside = 0;
        errno = e;
    }
    return rc;
}

int renameat(int olddir, const char *oldpath, int newdir, const char *newpath)
{
    REAL(renameat);
    int record = m.on && !inside;
    if (record) {
        inside = 1;
        renamed(olddir, oldpath, newdir, newpath, 0, 0, 1);
        inside = 0;
    }
    int rc = real_renameat(olddir, oldpath, newdir, newpath);
    if (record && rc == 0) {
        int e = errno;
        inside = 1;
        renamed(olddir, oldpath, newdir, newpath, 0, rc, 0);
        inside = 0;
        errno = e;
    }
    return rc;
}

/* ---- building ------------------------------------------------------------- */

/* Build an image of `n` small layers (gzip and uncompressed in turn), each
 * added with `flags`, and commit it under "t"; *manifest gets its digest.
 * The model records from the first layer to the end of the commit; the
 * manifest's digest, unknown until then, is computed by a dry run first
 * (the same inputs give the same digests). */
static void build(ocidir_t *d, unsigned n, unsigned flags, int record, char manifest[OCIDIR_DIGEST_MAX])
{
    static unsigned char data[8192], tar[16384];
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    assert_ocidir(0, ocidir_builder_set_created(b, "2024-01-01T00:00:00Z"));
    if (record)
        model_reset(manifest[0] ? tu_hex(manifest) : NULL);
    for (unsigned i = 0; i < n; i++) {
        size_t len = 1 + (i * 977) % sizeof data;
        tu_fill(data, len, 1000 + i);
        char name[32];
        snprintf(name, sizeof name, "f-%u", i);
        size_t tlen = tu_make_tar(tar, name, data, len);
        ocidir_layer_writer_t *w = NULL;
        assert_ocidir(0, i % 2 ? ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_NONE, 0, 0, &w)
                               : ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0, 1, &w));
        assert_ocidir(0, ocidir_layer_writer_write(w, tar, tlen));
        ocidir_add_layer_options_t o = OCIDIR_ADD_LAYER_OPTIONS_INIT;
        o.flags = flags;
        assert_ocidir(0, ocidir_builder_add_layer_writer_opts(b, w, &o));
    }
    assert_ocidir(0, ocidir_builder_commit(b, "t", 0, manifest));
    m.on = 0;
    ocidir_builder_free(b);
}

/* Every layer of "t" reads to its verified end, and fsck finds nothing. */
static void check_image(ocidir_t *d, unsigned n)
{
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "t", NULL, &img));
    assert_int_equal(ocidir_image_layer_count(img), n);
    static unsigned char buf[65536];
    for (unsigned i = 0; i < n; i++) {
        ocidir_layer_reader_t *r = NULL;
        assert_ocidir(0, ocidir_image_layer_open(img, i, &r));
        ssize_t got;
        while ((got = ocidir_layer_reader_read(r, buf, sizeof buf)) > 0) {
        }
        assert_int_equal(got, 0);
        ocidir_layer_reader_close(r);
    }
    ocidir_image_close(img);
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, ocidir_fsck(d, NULL, &rep));
    assert_int_equal(ocidir_report_damage(rep), 0);
    ocidir_report_free(rep);
}

static void report_model(const char *what)
{
    print_message("%s: %u syncfs, %u file flushes, %u directory flushes, %u blob names; %u violations\n%s", what,
                  m.syncfs, m.fdatasync_files, m.fsync_dirs, m.named_blobs, m.nviolations, m.violations);
}

/* A fresh layout for one build, with the manifest digest of a dry run. */
static void run_build(unsigned n, unsigned flags, char manifest[OCIDIR_DIGEST_MAX], char **layout_out)
{
    char *dry;
    ocidir_t *d = tu_scratch_layout(&dry);
    manifest[0] = '\0';
    build(d, n, flags, 0, manifest);
    ocidir_close(d);
    d = tu_scratch_layout(layout_out);
    build(d, n, flags, 1, manifest);
    check_image(d, n);
    ocidir_close(d);
    free(dry);
}

/* ---- the tests ------------------------------------------------------------ */

static void test_model_reports_a_blob_named_before_its_flush(void **state)
{
    (void)state;
    char *dir = tu_scratch_dir("model");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    model_reset(NULL);
    int fd = openat(dfd, "tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    /* Named without fdatasync: reported. */
    assert_int_equal(linkat(dfd, "tmp", dfd, "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881", 0),
                     0);
    assert_int_equal(m.nviolations, 1);
    /* index.json while that name is not flushed: reported, twice (its own
     * content is dirty too). */
    assert_int_equal(renameat(dfd, "tmp", dfd, "index.json"), 0);
    assert_int_equal(m.nviolations, 3);
    /* After the flushes, naming is clean. */
    assert_int_equal(fdatasync(fd), 0);
    assert_int_equal(fsync(dfd), 0);
    assert_int_equal(renameat(dfd, "index.json", dfd, "index.json"), 0);
    assert_int_equal(m.nviolations, 3);
    m.on = 0;
    close(fd);
    close(dfd);
    free(dir);
}

static void test_batched_build_flushes_once_before_naming(void **state)
{
    (void)state;
    enum { N = 24 };
    char manifest[OCIDIR_DIGEST_MAX];
    char *layout;
    run_build(N, OCIDIR_ADD_LAYER_DEFER_SYNC, manifest, &layout);
    report_model("batched, 24 layers");
    assert_int_equal(m.nviolations, 0);
    /* One syncfs for the layers, the config and the manifest; the only file
     * flush is index.json's own temporary file. */
    assert_int_equal(m.syncfs, 1);
    assert_true(m.fdatasync_files <= 1);
    /* The blob directory after the layers and config, after the manifest,
     * and the layout's after index.json. */
    assert_true(m.fsync_dirs <= 3);
    assert_int_equal(m.manifest_named_clean, 1);
    assert_int_equal(m.named_blobs, N + 2);
    free(layout);
}

static void test_default_build_flushes_each_blob_before_naming(void **state)
{
    (void)state;
    enum { N = 8 };
    char manifest[OCIDIR_DIGEST_MAX];
    char *layout;
    run_build(N, 0, manifest, &layout);
    report_model("default, 8 layers");
    assert_int_equal(m.nviolations, 0);
    assert_int_equal(m.syncfs, 0);
    assert_true(m.fdatasync_files >= N + 2);
    assert_int_equal(m.manifest_named_clean, 1);
    free(layout);
}

static void test_more_deferred_layers_than_held_are_flushed_in_batches(void **state)
{
    (void)state;
    /* Past 256 deferred layers the builder flushes and names them early. */
    enum { N = 300 };
    char manifest[OCIDIR_DIGEST_MAX];
    char *layout;
    run_build(N, OCIDIR_ADD_LAYER_DEFER_SYNC, manifest, &layout);
    report_model("batched, 300 layers");
    assert_int_equal(m.nviolations, 0);
    assert_int_equal(m.syncfs, 2);
    assert_int_equal(m.manifest_named_clean, 1);
    free(layout);
}

static void test_deferred_layers_of_a_freed_builder_leave_nothing(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    char *blobs = tu_join(layout, "blobs/sha256");
    int before = tu_count_entries(blobs) - tu_count_prefix(blobs, ".ocidir-tmp-");
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, NULL, &b));
    for (int i = 0; i < 3; i++) {
        static unsigned char data[1000], tar[4096];
        tu_fill(data, sizeof data, 77 + (uint32_t)i);
        size_t tlen = tu_make_tar(tar, "f", data, sizeof data);
        ocidir_layer_writer_t *w = NULL;
        assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_NONE, 0, 0, &w));
        assert_ocidir(0, ocidir_layer_writer_write(w, tar, tlen));
        ocidir_add_layer_options_t o = OCIDIR_ADD_LAYER_OPTIONS_INIT;
        o.flags = OCIDIR_ADD_LAYER_DEFER_SYNC;
        assert_ocidir(0, ocidir_builder_add_layer_writer_opts(b, w, &o));
    }
    /* Not named yet: no reader sees them (with named temporary files, they
     * are .ocidir-tmp-* files meanwhile). */
    assert_int_equal(tu_count_entries(blobs) - tu_count_prefix(blobs, ".ocidir-tmp-"), before);
    ocidir_builder_free(b);
    assert_int_equal(tu_count_entries(blobs), before);
    assert_int_equal(tu_count_prefix(blobs, ".ocidir-tmp-"), 0);
    ocidir_close(d);
    free(blobs);
    free(layout);
}

static void test_defer_sync_is_refused_for_a_published_blob(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, NULL, &b));
    ocidir_add_layer_options_t o = OCIDIR_ADD_LAYER_OPTIONS_INIT;
    o.flags = OCIDIR_ADD_LAYER_DEFER_SYNC;
    assert_ocidir(OCIDIR_E_INVALID,
                  ocidir_builder_add_layer_opts(b, "application/vnd.oci.image.layer.v1.tar",
                                                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                                0, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                                &o));
    assert_non_null(strstr(ocidir_last_error(), "OCIDIR_ADD_LAYER_DEFER_SYNC"));
    /* An unknown flag beside it is refused by the writer form too. */
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_NONE, 0, 0, &w));
    o.flags = OCIDIR_ADD_LAYER_DEFER_SYNC | (1u << 7);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_add_layer_writer_opts(b, w, &o));
    ocidir_builder_free(b);
    ocidir_close(d);
    free(layout);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_model_reports_a_blob_named_before_its_flush),
        TEARDOWN(test_batched_build_flushes_once_before_naming),
        TEARDOWN(test_default_build_flushes_each_blob_before_naming),
        TEARDOWN(test_more_deferred_layers_than_held_are_flushed_in_batches),
        TEARDOWN(test_deferred_layers_of_a_freed_builder_leave_nothing),
        TEARDOWN(test_defer_sync_is_refused_for_a_published_blob),
    };
    return cmocka_run_group_tests_name("sync_order", tests, NULL, NULL);
}
