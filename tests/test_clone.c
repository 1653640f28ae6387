/* ocidir_clone through the public API: the same index.json bytes, every
 * reachable blob (also those found in an added blob directory) in the
 * clone's own blobs/ and verifying, nothing unreachable; hard links on one
 * filesystem and copies with OCIDIR_CLONE_NO_HARDLINK; a destination that
 * is not empty; a corrupted source blob leaves no destination and no
 * temporary directory; skopeo reads the clone. */
#include "testutil.h"
#include "gc_testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)

static void assert_same_file_content(const char *a, const char *b)
{
    void *x = NULL, *y = NULL;
    ssize_t nx = tu_read_file(a, &x), ny = tu_read_file(b, &y);
    assert_true(nx >= 0 && ny >= 0);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, (size_t)nx);
    free(x);
    free(y);
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_ino;
}

/* Entries of `dir` whose name contains `part`. */
static int count_containing(const char *dir, const char *part)
{
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int n = 0;
    for (struct dirent *e; (e = readdir(dp));)
        n += strstr(e->d_name, part) != NULL;
    closedir(dp);
    return n;
}

struct progress {
    uint64_t done, total;
    int calls;
};

static int on_progress(uint64_t done, uint64_t total, void *user)
{
    struct progress *p = user;
    assert_true(done <= total);
    assert_true(done >= p->done);
    p->done = done;
    p->total = total;
    p->calls++;
    return 0;
}

/* A source layout: image "app" (two layers), an untagged image, an image
 * whose layer lives only in an added (read-only) blob directory, junk. */
struct source {
    char *dir;
    ocidir_t *d;
    struct img app, untagged, ext;
    char ext_layer[OCIDIR_DIGEST_MAX];
    char junk[OCIDIR_DIGEST_MAX];
    int cfd;
};

static void make_source(struct source *s, int on_shm)
{
    s->dir = tu_keep(on_shm ? tu_scratch_dir_shm("src") : tu_scratch_dir("src"));
    assert_non_null(s->dir);
    assert_ocidir(0, ocidir_open(AT_FDCWD, s->dir, OCIDIR_OPEN_CREATE, &s->d));
    make_image(s->d, "app", "app layer 0", "app layer 1", &s->app);
    make_image(s->d, NULL, "untagged layer", NULL, &s->untagged);
    put(s->d, "junk", s->junk);

    /* A layer present only in an added directory. */
    char *ext = tu_keep(on_shm ? tu_scratch_dir_shm("ext") : tu_scratch_dir("ext"));
    const char *content = "layer in an added blob directory";
    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, content, strlen(content), dg));
    tu_mkdir(tu_keep(tu_join(ext, "sha256")));
    char *path = NULL;
    assert_true(asprintf(&path, "%s/sha256/%s", ext, tu_hex(dg)) >= 0);
    tu_write_file(tu_keep(path), content, strlen(content));
    strcpy(s->ext_layer, dg);
    s->cfd = open(ext, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(s->cfd >= 0);
    assert_ocidir(0, ocidir_add_blobdir_fd(s->d, s->cfd, 0));
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(s->d, "linux/amd64", &b));
    assert_ocidir(0, ocidir_builder_add_layer(b, TAR, dg, strlen(content), dg, NULL));
    assert_ocidir(0, ocidir_builder_commit(b, "ext", 0, s->ext.manifest));
    ocidir_builder_free(b);
    assert_present(s->dir, dg, 0);
}

static void free_source(struct source *s)
{
    ocidir_close(s->d);
    close(s->cfd);
}

/* The reachable digests of a source (manifest, config, layers of each). */
static size_t reachable(const struct source *s, ocidir_t *d, char out[][OCIDIR_DIGEST_MAX])
{
    size_t n = 0;
    const char *mans[] = {s->app.manifest, s->untagged.manifest, s->ext.manifest};
    for (size_t i = 0; i < 3; i++) {
        ocidir_image_t *img = NULL;
        assert_ocidir(0, ocidir_image_open(d, mans[i], NULL, &img));
        strcpy(out[n++], mans[i]);
        assert_ocidir(0, ocidir_image_config_descriptor(img, NULL, out[n++], NULL));
        for (size_t l = 0; l < ocidir_image_layer_count(img); l++)
            assert_ocidir(0, ocidir_image_layer(img, l, NULL, out[n++], NULL));
        ocidir_image_close(img);
    }
    return n;
}

static void test_clone_has_the_same_index_and_every_reachable_blob_only(void **state)
{
    (void)state;
    struct source s;
    make_source(&s, 0);
    char *dst = tu_keep(tu_join(tu_keep(tu_scratch_dir("dst")), "clone"));
    ocidir_t *c = NULL;
    ocidir_report_t *r = NULL;
    struct progress p = {0, 0, 0};
    assert_ocidir(0, ocidir_clone(s.d, AT_FDCWD, dst, TU_CLONE(0, on_progress, &p), &c, &r));
    assert_non_null(c);

    assert_same_file_content(tu_keep(tu_join(s.dir, "index.json")), tu_keep(tu_join(dst, "index.json")));
    char dgs[16][OCIDIR_DIGEST_MAX];
    size_t n = reachable(&s, s.d, dgs);
    assert_int_equal(n, 10);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        assert_present(dst, dgs[i], 1); /* in the clone's own blobs/, also ext_layer */
        void *buf = NULL;
        assert_ocidir(0, ocidir_blob_read_all(c, dgs[i], -1, 1 << 20, &buf, NULL));
        ocidir_free(buf);
        uint64_t size = 0;
        assert_ocidir(0, ocidir_blob_stat(s.d, dgs[i], &size));
        bytes += size;
    }
    assert_present(dst, s.ext_layer, 1);
    assert_present(dst, s.junk, 0);
    assert_int_equal(tu_count_entries(tu_keep(tu_join(dst, "blobs/sha256"))), (int)n);
    size_t taken = count_kind(r, OCIDIR_FIND_COPIED) + count_kind(r, OCIDIR_FIND_LINKED) +
                   count_kind(r, OCIDIR_FIND_REFLINKED);
    assert_int_equal(taken, n);
    uint64_t tb = 0, tbytes = 0;
    ocidir_report_totals(r, &tb, &tbytes);
    assert_int_equal(tb, n);
    assert_int_equal(tbytes, bytes);
    /* The blob of the added directory was copied or reflinked, never linked. */
    assert_false(has_finding(r, OCIDIR_FIND_LINKED, s.ext_layer));
    ocidir_report_free(r);
    assert_true(p.calls >= 1);
    assert_int_equal(p.done, bytes);
    assert_int_equal(p.total, bytes);

    /* The clone is a whole layout: every tag resolves and opens, nothing is
     * damaged, and a fresh handle (without the added directory) agrees. */
    const char *tags[] = {"app", "ext"};
    for (size_t i = 0; i < 2; i++)
        assert_image_complete(c, tags[i]);
    assert_ocidir(0, ocidir_fsck(c, TU_FSCK(0, 1, NULL, NULL), &r));
    assert_int_equal(ocidir_report_damage(r), 0);
    assert_int_equal(count_kind(r, OCIDIR_FIND_UNREFERENCED), 0);
    ocidir_report_free(r);
    ocidir_close(c);
    assert_ocidir(0, ocidir_open(AT_FDCWD, dst, 0, &c));
    assert_image_complete(c, "ext");
    ocidir_close(c);
    free_source(&s);
}

static void test_clone_hard_links_on_one_filesystem_unless_told_not_to(void **state)
{
    (void)state;
    struct source s;
    make_source(&s, 1); /* tmpfs: no reflinks, so a link is the first choice */
    char *parent = tu_keep(tu_scratch_dir_shm("dst"));
    char *linked = tu_keep(tu_join(parent, "linked"));
    char *copied = tu_keep(tu_join(parent, "copied"));
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_clone(s.d, AT_FDCWD, linked, NULL, NULL, &r));
    const char *own[] = {s.app.manifest, s.app.config, s.app.layer[0], s.app.layer[1]};
    for (size_t i = 0; i < 4; i++) {
        assert_finding(r, OCIDIR_FIND_LINKED, own[i]);
        assert_int_equal(inode_of(tu_keep(tu_blob_path(linked, own[i]))),
                         inode_of(tu_keep(tu_blob_path(s.dir, own[i]))));
    }
    assert_finding(r, OCIDIR_FIND_COPIED, s.ext_layer); /* from the added directory */
    ocidir_report_free(r);

    assert_ocidir(0, ocidir_clone(s.d, AT_FDCWD, copied, TU_CLONE(OCIDIR_CLONE_NO_HARDLINK, NULL, NULL), NULL, &r));
    assert_int_equal(count_kind(r, OCIDIR_FIND_LINKED), 0);
    for (size_t i = 0; i < 4; i++) {
        assert_finding(r, OCIDIR_FIND_COPIED, own[i]);
        assert_int_not_equal(inode_of(tu_keep(tu_blob_path(copied, own[i]))),
                             inode_of(tu_keep(tu_blob_path(s.dir, own[i]))));
        assert_same_file_content(tu_keep(tu_blob_path(copied, own[i])), tu_keep(tu_blob_path(s.dir, own[i])));
    }
    ocidir_report_free(r);
    free_source(&s);
}

static void test_clone_into_a_non_empty_destination_is_exists(void **state)
{
    (void)state;
    struct source s;
    make_source(&s, 0);
    char *parent = tu_keep(tu_scratch_dir("dst"));
    char *full = tu_keep(tu_join(parent, "full"));
    tu_mkdir(full);
    tu_write_file(tu_keep(tu_join(full, "keep-me")), "x", 1);
    char *file = tu_keep(tu_join(parent, "file"));
    tu_write_file(file, "y", 1);
    char *before = tu_keep(tu_tree_listing(parent));
    ocidir_t *c = NULL;
    assert_ocidir(OCIDIR_E_EXISTS, ocidir_clone(s.d, AT_FDCWD, full, NULL, &c, NULL));
    assert_null(c);
    assert_non_null(strstr(ocidir_last_error(), full));
    assert_ocidir(OCIDIR_E_EXISTS, ocidir_clone(s.d, AT_FDCWD, file, NULL, NULL, NULL));
    assert_string_equal(tu_keep(tu_tree_listing(parent)), before);

    /* An empty directory is replaced by the clone; relative to a dirfd. */
    tu_mkdir(tu_keep(tu_join(parent, "empty")));
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(pfd >= 0);
    assert_ocidir(0, ocidir_clone(s.d, pfd, "empty", NULL, &c, NULL));
    assert_image_complete(c, "app");
    ocidir_close(c);
    close(pfd);
    assert_int_equal(count_containing(parent, ".ocidir-clone-"), 0);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_clone(s.d, AT_FDCWD, NULL, NULL, NULL, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_clone(s.d, AT_FDCWD, tu_keep(tu_join(parent, "x")), TU_CLONE(0x10, NULL, NULL), NULL, NULL));
    free_source(&s);
}

static void corrupt_one_byte(const char *path)
{
    void *buf = NULL;
    ssize_t n = tu_read_file(path, &buf);
    assert_true(n > 0);
    ((char *)buf)[0] ^= 0x20;
    assert_int_equal(unlink(path), 0); /* a new inode: hard links elsewhere stay intact */
    tu_write_file(path, buf, (size_t)n);
    free(buf);
}

static void test_clone_of_a_corrupted_blob_fails_naming_it_and_leaves_nothing(void **state)
{
    (void)state;
    struct source s;
    make_source(&s, 0);
    corrupt_one_byte(tu_keep(tu_blob_path(s.dir, s.app.layer[1])));
    char *parent = tu_keep(tu_scratch_dir("dst"));
    char *dst = tu_keep(tu_join(parent, "clone"));
    const unsigned modes[] = {0, OCIDIR_CLONE_NO_HARDLINK};
    for (size_t i = 0; i < 2; i++) {
        ocidir_t *c = NULL;
        ocidir_report_t *r = NULL;
        assert_ocidir(OCIDIR_E_DIGEST, ocidir_clone(s.d, AT_FDCWD, dst, TU_CLONE(modes[i], NULL, NULL), &c, &r));
        assert_null(c);
        assert_null(r);
        assert_non_null(strstr(ocidir_last_error(), s.app.layer[1]));
        assert_false(tu_exists(dst));
        assert_int_equal(tu_count_entries(parent), 0); /* no temporary directory left */
    }
    /* A corrupted manifest is found by the walk: DIGEST too. */
    corrupt_one_byte(tu_keep(tu_blob_path(s.dir, s.untagged.manifest)));
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_clone(s.d, AT_FDCWD, dst, NULL, NULL, NULL));
    assert_non_null(strstr(ocidir_last_error(), s.untagged.manifest));
    assert_int_equal(tu_count_entries(parent), 0);
    free_source(&s);
}

static void test_clone_is_read_by_skopeo(void **state)
{
    (void)state;
    struct source s;
    make_source(&s, 0);
    char *parent = tu_keep(tu_scratch_dir("dst"));
    char *dst = tu_keep(tu_join(parent, "clone"));
    char *copy = tu_keep(tu_join(parent, "copy"));
    assert_ocidir(0, ocidir_clone(s.d, AT_FDCWD, dst, NULL, NULL, NULL));
    /* skopeo reads the manifest and every blob, verifying each digest. */
    assert_int_equal(tu_sh("skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers "
                           "'oci:%s:app' 'oci:%s:app' >/dev/null",
                           dst, copy),
                     0);
    ocidir_t *c = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, copy, 0, &c));
    char got[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_resolve(c, "app", got, NULL, NULL));
    assert_string_equal(got, s.app.manifest);
    assert_image_complete(c, "app");
    ocidir_close(c);
    free_source(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_clone_has_the_same_index_and_every_reachable_blob_only),
        TEARDOWN(test_clone_hard_links_on_one_filesystem_unless_told_not_to),
        TEARDOWN(test_clone_into_a_non_empty_destination_is_exists),
        TEARDOWN(test_clone_of_a_corrupted_blob_fails_naming_it_and_leaves_nothing),
        TEARDOWN(test_clone_is_read_by_skopeo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
