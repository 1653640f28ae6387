/* Opening and creating layouts: what CREATE writes, what an existing layout
 * must look like, what RDONLY forbids, dirfd handling and error details. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OCI_LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define EMPTY_INDEX \
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}"

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_scratch)
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void assert_file_is(const char *dir, const char *name, const char *expected)
{
    char *p = tu_join(dir, name);
    void *buf = NULL;
    ssize_t n = tu_read_file(p, &buf);
    if (n < 0)
        print_error("%s is missing\n", p);
    assert_true(n >= 0);
    if ((size_t)n != strlen(expected) || memcmp(buf, expected, (size_t)n) != 0)
        print_error("%s holds \"%.*s\", expected \"%s\"\n", p, (int)n, (char *)buf, expected);
    assert_int_equal((size_t)n, strlen(expected));
    assert_memory_equal(buf, expected, (size_t)n);
    free(buf);
    free(p);
}

static void assert_is_dir(const char *dir, const char *name)
{
    char *p = tu_join(dir, name);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    free(p);
}

static void write_in(const char *dir, const char *name, const char *content)
{
    char *p = tu_join(dir, name);
    tu_write_file(p, content, strlen(content));
    free(p);
}

/* A scratch dir holding a complete layout written by hand (not by the library). */
static char *hand_made_layout(const char *oci_layout)
{
    char *dir = tu_scratch_dir("open");
    write_in(dir, "oci-layout", oci_layout);
    write_in(dir, "index.json", EMPTY_INDEX);
    char *blobs = tu_join(dir, "blobs");
    tu_mkdir(blobs);
    char *sha = tu_join(dir, "blobs/sha256");
    tu_mkdir(sha);
    free(sha);
    free(blobs);
    return dir;
}

/* What the loops below are trying, for the failure message. */
static const char *current_case = "";

static void expect_open(const char *dir, unsigned flags, int expected)
{
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, dir, flags, &d);
    if (rc != expected)
        print_error("ocidir_open(%s, %#x) = %d (%s), expected %d [%s]; last error: %s\n", dir,
                    flags, rc, ocidir_strerror(rc), expected, current_case, ocidir_last_error());
    assert_int_equal(rc, expected);
    if (expected == 0)
        assert_non_null(d);
    else
        assert_null(d);
    ocidir_close(d);
}

static void test_create_writes_canonical_layout_files(void **state)
{
    (void)state;
    char *dir = tu_scratch_dir("create");
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d));
    assert_non_null(d);
    assert_int_equal(ocidir_is_readonly(d), 0);
    ocidir_close(d);

    assert_file_is(dir, "oci-layout", OCI_LAYOUT);
    assert_file_is(dir, "index.json", EMPTY_INDEX);
    assert_is_dir(dir, "blobs");
    assert_is_dir(dir, "blobs/sha256");
    /* Nothing else: no temporary file left behind. */
    assert_int_equal(tu_count_entries(dir), 3);
    char *blobs = tu_join(dir, "blobs");
    assert_int_equal(tu_count_entries(blobs), 1);
    free(blobs);
    char *sha = tu_join(dir, "blobs/sha256");
    assert_int_equal(tu_count_entries(sha), 0);
    free(sha);
    free(dir);
}

static void test_create_makes_a_missing_directory(void **state)
{
    (void)state;
    char *parent = tu_scratch_dir("create-parent");
    char *dir = tu_join(parent, "new-layout");
    expect_open(dir, OCIDIR_OPEN_CREATE, 0);
    assert_file_is(dir, "oci-layout", OCI_LAYOUT);
    assert_file_is(dir, "index.json", EMPTY_INDEX);
    assert_is_dir(dir, "blobs/sha256");
    free(dir);
    free(parent);
}

static void test_reopen_without_create_succeeds(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "hello", 5, digest));
    ocidir_close(d);

    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, 0, &d));
    uint64_t size = 0;
    assert_ocidir(0, ocidir_blob_stat(d, digest, &size));
    assert_int_equal(size, 5);
    ocidir_close(d);

    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY, &d));
    assert_int_not_equal(ocidir_is_readonly(d), 0);
    assert_ocidir(0, ocidir_blob_stat(d, digest, &size));
    ocidir_close(d);
    free(dir);
}

static void test_create_on_existing_layout_modifies_nothing(void **state)
{
    (void)state;
    /* Valid but not what CREATE would write: any rewrite would show. */
    char *dir = hand_made_layout("{ \"imageLayoutVersion\" : \"1.0.0\" }\n");
    const char *index =
        "{\n  \"schemaVersion\": 2,\n  \"manifests\": [\n    {\"mediaType\": "
        "\"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"sha256:"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", \"size\": 0}\n  ]\n}\n";
    write_in(dir, "index.json", index);
    /* Old timestamps, so that a rewrite within the same second still shows. */
    const char *names[] = {"oci-layout", "index.json", "blobs", "blobs/sha256", "."};
    for (size_t i = 0; i < N(names); i++) {
        char *p = tu_join(dir, names[i]);
        struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
        assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
        free(p);
    }
    char *before = tu_tree_listing(dir);

    expect_open(dir, OCIDIR_OPEN_CREATE, 0);

    char *after = tu_tree_listing(dir);
    if (strcmp(before, after) != 0)
        print_error("before:\n%s\nafter:\n%s\n", before, after);
    assert_string_equal(before, after);
    assert_file_is(dir, "oci-layout", "{ \"imageLayoutVersion\" : \"1.0.0\" }\n");
    assert_file_is(dir, "index.json", index);
    free(before);
    free(after);
    free(dir);
}

static void test_create_completes_a_partial_layout_without_touching_existing_files(void **state)
{
    (void)state;
    char *dir = tu_scratch_dir("partial");
    const char *custom = "{\"imageLayoutVersion\": \"1.0.0\", \"x\": 1}";
    write_in(dir, "oci-layout", custom);
    expect_open(dir, OCIDIR_OPEN_CREATE, 0);
    assert_file_is(dir, "oci-layout", custom);
    assert_file_is(dir, "index.json", EMPTY_INDEX);
    assert_is_dir(dir, "blobs/sha256");
    free(dir);
}

static void test_create_does_not_overwrite_a_malformed_oci_layout(void **state)
{
    (void)state;
    char *dir = hand_made_layout("not json");
    expect_open(dir, OCIDIR_OPEN_CREATE, OCIDIR_E_FORMAT);
    assert_file_is(dir, "oci-layout", "not json");
    free(dir);
}

static void test_open_rejects_create_with_rdonly(void **state)
{
    (void)state;
    char *parent = tu_scratch_dir("flags");
    char *dir = tu_join(parent, "never-created");
    expect_open(dir, OCIDIR_OPEN_CREATE | OCIDIR_OPEN_RDONLY, OCIDIR_E_INVALID);
    assert_false(tu_exists(dir));
    assert_int_equal(tu_count_entries(parent), 0);
    assert_int_equal(ocidir_last_errno(), 0);
    free(dir);
    free(parent);
}

static void test_open_rejects_unknown_flag_bits(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    ocidir_close(d);
    const unsigned bad[] = {1u << 3, 1u << 4, 1u << 16, 1u << 31, OCIDIR_OPEN_RDONLY | (1u << 7)};
    for (size_t i = 0; i < N(bad); i++)
        expect_open(dir, bad[i], OCIDIR_E_INVALID);
    free(dir);
}

static void test_open_rejects_null_out(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    ocidir_close(d);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_open(AT_FDCWD, dir, 0, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, NULL));
    free(dir);
}

static void test_open_missing_directory_is_not_found_with_enoent(void **state)
{
    (void)state;
    char *parent = tu_scratch_dir("missing");
    char *dir = tu_join(parent, "no-such-layout");
    expect_open(dir, 0, OCIDIR_E_NOT_FOUND);
    assert_int_equal(ocidir_last_errno(), ENOENT);
    if (!strstr(ocidir_last_error(), dir))
        print_error("last error does not name %s: %s\n", dir, ocidir_last_error());
    assert_non_null(strstr(ocidir_last_error(), dir));
    assert_false(tu_exists(dir));
    free(dir);
    free(parent);
}

static void test_rdonly_open_of_missing_directory_creates_nothing(void **state)
{
    (void)state;
    char *parent = tu_scratch_dir("missing-ro");
    char *dir = tu_join(parent, "no-such-layout");
    expect_open(dir, OCIDIR_OPEN_RDONLY, OCIDIR_E_NOT_FOUND);
    assert_false(tu_exists(dir));
    assert_int_equal(tu_count_entries(parent), 0);
    free(dir);
    free(parent);
}

static void test_open_through_a_regular_file_component_reports_enotdir(void **state)
{
    (void)state;
    char *parent = tu_scratch_dir("notdir");
    char *file = tu_join(parent, "file");
    tu_write_file(file, "x", 1);
    char *dir = tu_join(file, "layout");
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, dir, 0, &d);
    assert_int_not_equal(rc, 0);
    assert_null(d);
    assert_int_equal(ocidir_last_errno(), ENOTDIR);
    assert_non_null(strstr(ocidir_last_error(), dir));
    free(dir);
    free(file);
    free(parent);
}

static void test_open_directory_without_oci_layout_is_format(void **state)
{
    (void)state;
    char *dir = hand_made_layout(OCI_LAYOUT);
    char *p = tu_join(dir, "oci-layout");
    assert_int_equal(unlink(p), 0);
    expect_open(dir, 0, OCIDIR_E_FORMAT);
    if (!strstr(ocidir_last_error(), "oci-layout"))
        print_error("last error does not name oci-layout: %s\n", ocidir_last_error());
    assert_non_null(strstr(ocidir_last_error(), "oci-layout"));
    expect_open(dir, OCIDIR_OPEN_RDONLY, OCIDIR_E_FORMAT);
    /* An empty directory is not a layout either. */
    char *empty = tu_scratch_dir("empty");
    expect_open(empty, 0, OCIDIR_E_FORMAT);
    expect_open(empty, OCIDIR_OPEN_RDONLY, OCIDIR_E_FORMAT);
    assert_int_equal(tu_count_entries(empty), 0);
    free(empty);
    free(p);
    free(dir);
}

static void test_open_rejects_malformed_oci_layout_as_format(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "not json",
        "[]",
        "[{\"imageLayoutVersion\":\"1.0.0\"}]",
        "\"1.0.0\"",
        "{}",
        "{\"imageLayoutversion\":\"1.0.0\"}",
        "{\"imageLayoutVersion\":1}",
        "{\"imageLayoutVersion\":1.0}",
        "{\"imageLayoutVersion\":null}",
        "{\"imageLayoutVersion\":[\"1.0.0\"]}",
        "{\"imageLayoutVersion\":\"1.0.0\"",
        "{\"imageLayoutVersion\":\"1.0.0\"} trailing",
    };
    for (size_t i = 0; i < N(bad); i++) {
        char *dir = hand_made_layout(bad[i]);
        current_case = bad[i];
        expect_open(dir, 0, OCIDIR_E_FORMAT);
        expect_open(dir, OCIDIR_OPEN_RDONLY, OCIDIR_E_FORMAT);
        free(dir);
    }
    current_case = "";
}

static void test_open_rejects_unsupported_layout_version(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"imageLayoutVersion\":\"2.0.0\"}",
        "{\"imageLayoutVersion\":\"0.9.0\"}",
        "{\"imageLayoutVersion\":\"10.0.0\"}",
    };
    for (size_t i = 0; i < N(bad); i++) {
        char *dir = hand_made_layout(bad[i]);
        current_case = bad[i];
        expect_open(dir, 0, OCIDIR_E_UNSUPPORTED);
        expect_open(dir, OCIDIR_OPEN_RDONLY, OCIDIR_E_UNSUPPORTED);
        expect_open(dir, OCIDIR_OPEN_CREATE, OCIDIR_E_UNSUPPORTED);
        free(dir);
    }
    current_case = "";
}

static void test_open_accepts_any_1x_layout_version(void **state)
{
    (void)state;
    const char *good[] = {
        "{\"imageLayoutVersion\":\"1.1.0\"}",
        "{\"imageLayoutVersion\":\"1.0.0\",\"extra\":{\"a\":[1,2]}}",
        " {\n\t\"imageLayoutVersion\" : \"1.0.0\"\n}\n",
    };
    for (size_t i = 0; i < N(good); i++) {
        char *dir = hand_made_layout(good[i]);
        current_case = good[i];
        expect_open(dir, 0, 0);
        expect_open(dir, OCIDIR_OPEN_RDONLY, 0);
        free(dir);
    }
    current_case = "";
}

static void test_open_rejects_oci_layout_that_is_a_directory(void **state)
{
    (void)state;
    char *dir = hand_made_layout(OCI_LAYOUT);
    char *p = tu_join(dir, "oci-layout");
    assert_int_equal(unlink(p), 0);
    tu_mkdir(p);
    expect_open(dir, 0, OCIDIR_E_FORMAT);
    expect_open(dir, OCIDIR_OPEN_CREATE, OCIDIR_E_FORMAT);
    free(p);
    free(dir);
}

struct open_args {
    const char *dir;
    unsigned flags;
};

static int open_in_child(void *arg)
{
    const struct open_args *a = arg;
    ocidir_t *d = NULL;
    int rc = ocidir_open(AT_FDCWD, a->dir, a->flags, &d);
    ocidir_close(d);
    return rc;
}

static void expect_open_without_blocking(const char *dir, unsigned flags, int expected)
{
    struct open_args a = {dir, flags};
    int rc = 1;
    int how = tu_run_in_child(open_in_child, &a, 10, &rc);
    if (how == -1)
        print_error("ocidir_open(%s, %#x) blocked for 10 s\n", dir, flags);
    assert_int_equal(how, 0);
    assert_int_equal(rc, expected);
}

static void test_open_rejects_oci_layout_fifo_without_blocking(void **state)
{
    (void)state;
    char *dir = hand_made_layout(OCI_LAYOUT);
    char *p = tu_join(dir, "oci-layout");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkfifo(p, 0644), 0);
    expect_open_without_blocking(dir, 0, OCIDIR_E_FORMAT);
    expect_open_without_blocking(dir, OCIDIR_OPEN_RDONLY, OCIDIR_E_FORMAT);
    expect_open_without_blocking(dir, OCIDIR_OPEN_CREATE, OCIDIR_E_FORMAT);
    free(p);
    free(dir);
}

static void test_open_rejects_index_json_fifo_without_blocking(void **state)
{
    (void)state;
    char *dir = hand_made_layout(OCI_LAYOUT);
    char *p = tu_join(dir, "index.json");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkfifo(p, 0644), 0);
    expect_open_without_blocking(dir, 0, OCIDIR_E_FORMAT);
    expect_open_without_blocking(dir, OCIDIR_OPEN_CREATE, OCIDIR_E_FORMAT);
    free(p);
    free(dir);
}

static void test_open_rejects_oci_layout_symlink_leading_outside(void **state)
{
    (void)state;
    char *outside = tu_scratch_dir("outside");
    char *target = tu_join(outside, "oci-layout");
    tu_write_file(target, OCI_LAYOUT, strlen(OCI_LAYOUT));
    char *dir = hand_made_layout(OCI_LAYOUT);
    char *p = tu_join(dir, "oci-layout");
    assert_int_equal(unlink(p), 0);
    tu_symlink(target, p);
    expect_open(dir, 0, OCIDIR_E_ESCAPE);
    expect_open(dir, OCIDIR_OPEN_RDONLY, OCIDIR_E_ESCAPE);
    free(p);
    free(dir);
    free(target);
    free(outside);
}

static void test_open_missing_index_json_is_format(void **state)
{
    (void)state;
    char *dir = hand_made_layout(OCI_LAYOUT);
    char *p = tu_join(dir, "index.json");
    assert_int_equal(unlink(p), 0);
    expect_open(dir, 0, OCIDIR_E_FORMAT);
    assert_non_null(strstr(ocidir_last_error(), "index.json"));
    expect_open(dir, OCIDIR_OPEN_RDONLY, OCIDIR_E_FORMAT);
    /* A directory named index.json is no better. */
    tu_mkdir(p);
    expect_open(dir, 0, OCIDIR_E_FORMAT);
    expect_open(dir, OCIDIR_OPEN_CREATE, OCIDIR_E_FORMAT);
    free(p);
    free(dir);
}

static void test_open_missing_blobs_directory_is_format(void **state)
{
    (void)state;
    char *dir = hand_made_layout(OCI_LAYOUT);
    char *p = tu_join(dir, "blobs");
    tu_rm_rf(p);
    expect_open(dir, 0, OCIDIR_E_FORMAT);
    assert_non_null(strstr(ocidir_last_error(), "blobs"));
    expect_open(dir, OCIDIR_OPEN_RDONLY, OCIDIR_E_FORMAT);
    assert_false(tu_exists(p));
    /* A regular file named blobs is no better. */
    tu_write_file(p, "x", 1);
    expect_open(dir, 0, OCIDIR_E_FORMAT);
    expect_open(dir, OCIDIR_OPEN_CREATE, OCIDIR_E_FORMAT);
    free(p);
    free(dir);
}

static void test_open_accepts_layout_without_blobs_sha256(void **state)
{
    (void)state;
    char *dir = hand_made_layout(OCI_LAYOUT);
    char *p = tu_join(dir, "blobs/sha256");
    tu_rm_rf(p);
    expect_open(dir, OCIDIR_OPEN_RDONLY, 0);
    assert_false(tu_exists(p));
    expect_open(dir, 0, 0);
    free(p);
    free(dir);
}

static void test_rdonly_handle_refuses_every_write(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "keep me", 7, digest));
    ocidir_close(d);
    char *blob = tu_blob_path(dir, digest);

    char *before = tu_tree_listing(dir);
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY, &d));
    assert_int_not_equal(ocidir_is_readonly(d), 0);

    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    assert_null(w);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_writer_new(d, OCIDIR_SHA512, &w));
    assert_null(w);
    char out[OCIDIR_DIGEST_MAX] = "untouched";
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_put(d, "new", 3, out));
    assert_string_equal(out, "untouched");
    char *src = tu_join(dir, "oci-layout");
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint64_t size = 99;
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_put_fd(d, fd, out, &size));
    assert_int_equal(size, 99);
    close(fd);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_remove(d, digest));
    assert_true(tu_exists(blob));
    int cache = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cache >= 0);
    assert_ocidir(OCIDIR_E_READONLY, ocidir_add_blobdir_fd(d, cache, OCIDIR_BLOBDIR_WRITE));
    close(cache);
    /* Reads still work, including of an algorithm with no directory. */
    void *buf = NULL;
    size_t len = 0;
    assert_ocidir(0, ocidir_blob_read_all(d, digest, 7, 100, &buf, &len));
    assert_memory_equal(buf, "keep me", 7);
    ocidir_free(buf);
    assert_ocidir(OCIDIR_E_NOT_FOUND,
                  ocidir_blob_stat(d,
                                   "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                                   "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
                                   NULL));
    ocidir_close(d);

    char *after = tu_tree_listing(dir);
    if (strcmp(before, after) != 0)
        print_error("before:\n%s\nafter:\n%s\n", before, after);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(src);
    free(blob);
    free(dir);
}

static void test_rdonly_open_creates_nothing(void **state)
{
    (void)state;
    char *dir = hand_made_layout(OCI_LAYOUT);
    /* Neither blobs/sha256 nor blobs/sha512, nor a missing index: nothing
     * a writable open might be tempted to add. */
    char *sha = tu_join(dir, "blobs/sha256");
    tu_rm_rf(sha);
    char *before = tu_tree_listing(dir);
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY, &d));
    assert_ocidir(OCIDIR_E_NOT_FOUND,
                  ocidir_blob_stat(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                   NULL));
    ocidir_blob_writer_t *w = NULL;
    assert_ocidir(OCIDIR_E_READONLY, ocidir_blob_writer_new(d, OCIDIR_SHA512, &w));
    ocidir_close(d);
    char *after = tu_tree_listing(dir);
    if (strcmp(before, after) != 0)
        print_error("before:\n%s\nafter:\n%s\n", before, after);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(sha);
    free(dir);
}

/* The layout created through a dirfd is the one at dirfd/path, and neither
 * the dirfd nor the path is needed afterwards. */
static void test_open_relative_to_dirfd_finds_the_right_layout(void **state)
{
    (void)state;
    char *parent = tu_scratch_dir("dirfd");
    char *sub = tu_join(parent, "sub");
    tu_mkdir(sub);
    char *dir = tu_join(parent, "sub/layout");
    tu_mkdir(dir);
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(pfd >= 0);

    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(pfd, "sub/layout", OCIDIR_OPEN_CREATE, &d));
    assert_file_is(dir, "oci-layout", OCI_LAYOUT);
    /* The library does not keep or close the caller's dirfd. */
    assert_int_not_equal(fcntl(pfd, F_GETFD), -1);
    assert_int_equal(close(pfd), 0);
    char digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "via dirfd", 9, digest));
    ocidir_close(d);
    char *blob = tu_blob_path(dir, digest);
    assert_true(tu_exists(blob));

    /* Relative to AT_FDCWD after chdir, too. */
    int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cwd >= 0);
    assert_int_equal(chdir(parent), 0);
    int rc = ocidir_open(AT_FDCWD, "sub/layout", OCIDIR_OPEN_RDONLY, &d);
    assert_int_equal(fchdir(cwd), 0);
    close(cwd);
    assert_ocidir(0, rc);
    assert_ocidir(0, ocidir_blob_stat(d, digest, NULL));
    ocidir_close(d);
    free(blob);
    free(dir);
    free(sub);
    free(parent);
}

static void test_open_dirfd_itself_with_null_or_empty_path(void **state)
{
    (void)state;
    char *dir;
    ocidir_t *d = tu_scratch_layout(&dir);
    char digest[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, "dirfd itself", 12, digest));
    ocidir_close(d);

    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    const char *paths[] = {NULL, ""};
    for (size_t i = 0; i < N(paths); i++) {
        d = NULL;
        assert_ocidir(0, ocidir_open(fd, paths[i], 0, &d));
        assert_ocidir(0, ocidir_blob_stat(d, digest, NULL));
        ocidir_close(d);
        assert_int_not_equal(fcntl(fd, F_GETFD), -1);
        assert_ocidir(0, ocidir_open(fd, paths[i], OCIDIR_OPEN_RDONLY, &d));
        assert_ocidir(0, ocidir_blob_stat(d, digest, NULL));
        ocidir_close(d);
    }
    close(fd);

    /* And CREATE on an empty directory given only as a dirfd. */
    char *empty = tu_scratch_dir("dirfd-create");
    fd = open(empty, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_ocidir(0, ocidir_open(fd, NULL, OCIDIR_OPEN_CREATE, &d));
    ocidir_close(d);
    close(fd);
    assert_file_is(empty, "oci-layout", OCI_LAYOUT);
    assert_file_is(empty, "index.json", EMPTY_INDEX);
    free(empty);
    free(dir);
}

static void test_open_with_bad_dirfd_fails(void **state)
{
    (void)state;
    ocidir_t *d = NULL;
    int rc = ocidir_open(-5, NULL, 0, &d);
    assert_true(rc == OCIDIR_E_INVALID || rc == OCIDIR_E_IO);
    assert_null(d);
    rc = ocidir_open(-5, "relative", 0, &d);
    assert_true(rc == OCIDIR_E_INVALID || rc == OCIDIR_E_IO);
    assert_null(d);
}

static void test_close_accepts_null(void **state)
{
    (void)state;
    ocidir_close(NULL);
    ocidir_blob_writer_abort(NULL);
    ocidir_blob_reader_close(NULL);
    ocidir_free(NULL);
    ocidir_strv_free(NULL);
}

static void test_last_error_names_the_layout_path(void **state)
{
    (void)state;
    char *dir = hand_made_layout("{\"imageLayoutVersion\":\"2.0.0\"}");
    expect_open(dir, 0, OCIDIR_E_UNSUPPORTED);
    if (!strstr(ocidir_last_error(), "2.0.0") && !strstr(ocidir_last_error(), dir))
        print_error("last error names neither version nor path: %s\n", ocidir_last_error());
    assert_true(strstr(ocidir_last_error(), "2.0.0") || strstr(ocidir_last_error(), dir));
    free(dir);

    dir = hand_made_layout("[]");
    expect_open(dir, 0, OCIDIR_E_FORMAT);
    assert_non_null(strstr(ocidir_last_error(), "oci-layout"));
    free(dir);
}

/* ---- concurrent creation ---- */

#define RACERS 4
#define ROUNDS 25

static void test_concurrent_create_by_several_processes_succeeds(void **state)
{
    (void)state;
    char *parent = tu_scratch_dir("race");
    for (int round = 0; round < ROUNDS; round++) {
        char name[32];
        snprintf(name, sizeof name, "l%d", round);
        char *dir = tu_join(parent, name);
        /* Half the rounds race on an existing empty directory, half on a
         * missing one. */
        if (round % 2 == 0)
            tu_mkdir(dir);
        /* Children start when go is closed and answer through results
         * (exit statuses are not trusted: valgrind rewrites them). */
        int go[2], results[2];
        assert_int_equal(pipe(go), 0);
        assert_int_equal(pipe(results), 0);
        pid_t pids[RACERS];
        for (int i = 0; i < RACERS; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                close(go[1]);
                close(results[0]);
                char c;
                (void)!read(go[0], &c, 1); /* EOF: start */
                ocidir_t *d = NULL;
                int rc = ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d);
                if (rc != 0)
                    fprintf(stderr, "racer %d: %s\n", i, ocidir_last_error());
                ocidir_close(d);
                (void)!write(results[1], &rc, sizeof rc);
                _exit(0);
            }
            tu_defer_kill(pids[i]);
        }
        close(go[0]);
        close(results[1]);
        close(go[1]); /* all start now */
        for (int i = 0; i < RACERS; i++) {
            int rc = 1;
            assert_int_equal(read(results[0], &rc, sizeof rc), (ssize_t)sizeof rc);
            if (rc != 0)
                print_error("round %d: a racer failed with %d (%s)\n", round, rc, ocidir_strerror(rc));
            assert_int_equal(rc, 0);
        }
        close(results[0]);
        for (int i = 0; i < RACERS; i++)
            assert_int_equal(waitpid(pids[i], NULL, 0), pids[i]);
        assert_file_is(dir, "oci-layout", OCI_LAYOUT);
        assert_file_is(dir, "index.json", EMPTY_INDEX);
        assert_is_dir(dir, "blobs/sha256");
        assert_int_equal(tu_count_entries(dir), 3);
        expect_open(dir, OCIDIR_OPEN_RDONLY, 0);
        free(dir);
    }
    free(parent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_create_writes_canonical_layout_files),
        TEARDOWN(test_create_makes_a_missing_directory),
        TEARDOWN(test_reopen_without_create_succeeds),
        TEARDOWN(test_create_on_existing_layout_modifies_nothing),
        TEARDOWN(test_create_completes_a_partial_layout_without_touching_existing_files),
        TEARDOWN(test_create_does_not_overwrite_a_malformed_oci_layout),
        TEARDOWN(test_open_rejects_create_with_rdonly),
        TEARDOWN(test_open_rejects_unknown_flag_bits),
        TEARDOWN(test_open_rejects_null_out),
        TEARDOWN(test_open_missing_directory_is_not_found_with_enoent),
        TEARDOWN(test_rdonly_open_of_missing_directory_creates_nothing),
        TEARDOWN(test_open_through_a_regular_file_component_reports_enotdir),
        TEARDOWN(test_open_directory_without_oci_layout_is_format),
        TEARDOWN(test_open_rejects_malformed_oci_layout_as_format),
        TEARDOWN(test_open_rejects_unsupported_layout_version),
        TEARDOWN(test_open_accepts_any_1x_layout_version),
        TEARDOWN(test_open_rejects_oci_layout_that_is_a_directory),
        TEARDOWN(test_open_rejects_oci_layout_fifo_without_blocking),
        TEARDOWN(test_open_rejects_index_json_fifo_without_blocking),
        TEARDOWN(test_open_rejects_oci_layout_symlink_leading_outside),
        TEARDOWN(test_open_missing_index_json_is_format),
        TEARDOWN(test_open_missing_blobs_directory_is_format),
        TEARDOWN(test_open_accepts_layout_without_blobs_sha256),
        TEARDOWN(test_rdonly_handle_refuses_every_write),
        TEARDOWN(test_rdonly_open_creates_nothing),
        TEARDOWN(test_open_relative_to_dirfd_finds_the_right_layout),
        TEARDOWN(test_open_dirfd_itself_with_null_or_empty_path),
        TEARDOWN(test_open_with_bad_dirfd_fails),
        TEARDOWN(test_close_accepts_null),
        TEARDOWN(test_last_error_names_the_layout_path),
        TEARDOWN(test_concurrent_create_by_several_processes_succeeds),
    };
    return cmocka_run_group_tests(tests, NULL, tu_teardown_scratch);
}
