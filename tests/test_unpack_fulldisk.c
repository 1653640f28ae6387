/* Unpacking onto a full disk, simulated two ways (as test_fulldisk.c):
 *
 *   tmpfs:  a small tmpfs mounted in a private mount namespace of a helper
 *           child, reached through /proc/<child>/root; writes fail with
 *           ENOSPC — for data (size=1m) and for inodes (nr_inodes).
 *   rlimit: the unpack runs in a forked child with a low RLIMIT_FSIZE and
 *           SIGXFSZ ignored; writes fail with EFBIG.
 *
 * Each time the call must fail with OCIDIR_E_IO, ocidir_last_errno() the OS
 * error and the message naming the layer digest, the entry and the reason;
 * the destination must be absent again (or empty, when it existed), the
 * space the unpack used given back, and the layout (on the test's own disk)
 * exactly as before.  With room again, an unpack into the same place
 * succeeds. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tar_gen.h"

#define TMPFS_MAGIC_ 0x01021994
#define BIG (2 * 1024 * 1024) /* the big file: more than the tmpfs holds */
#define BIG_NAME "usr/lib/big.bin"

struct fx {
    char *layout;
    ocidir_t *d;
    char layer_digest[OCIDIR_DIGEST_MAX]; /* of tag "big" */
    char many_digest[OCIDIR_DIGEST_MAX];  /* of tag "many" */
    char *listing;
};

/* Tag `tag` := an image of one gzip layer `t`; its digest in digest_out. */
static void commit(ocidir_t *d, const char *tag, const tg_tar_t *t, char *digest_out)
{
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, NULL, &b));
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0, 1, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, t->buf, t->len));
    assert_ocidir(0, ocidir_builder_add_layer_writer(b, w, NULL));
    assert_ocidir(0, ocidir_builder_commit(b, tag, 0, NULL));
    ocidir_builder_free(b);
    if (digest_out) {
        ocidir_image_t *img = NULL;
        assert_ocidir(0, ocidir_image_open(d, tag, NULL, &img));
        assert_ocidir(0, ocidir_image_layer(img, 0, NULL, digest_out, NULL));
        ocidir_image_close(img);
    }
}

/* Tags: "big" (small files, then BIG bytes of random data, then more),
 * "many" (a few hundred small files), "small" (three files). */
static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    char *dir = tu_scratch_dir("unpack-fulldisk-layout");
    f->layout = tu_join(dir, "layout");
    free(dir);
    assert_ocidir(0, ocidir_open(AT_FDCWD, f->layout, OCIDIR_OPEN_CREATE, &f->d));

    tg_tar_t t;
    tg_init(&t);
    tg_dir(&t, "usr", 0755);
    tg_dir(&t, "usr/lib", 0555);
    tg_file(&t, "usr/lib/a", 0644, "a");
    unsigned char *big = malloc(BIG);
    assert_non_null(big);
    tu_fill(big, BIG, 7);
    tg_entry(&t, &(tg_entry_t){.name = BIG_NAME, .type = '0', .mode = 0644, .size = BIG, .data = big, .data_len = BIG});
    free(big);
    tg_file(&t, "usr/lib/z", 0644, "z");
    tg_end(&t);
    commit(f->d, "big", &t, f->layer_digest);
    tg_free(&t);

    tg_init(&t);
    tg_dir(&t, "etc", 0755);
    for (int i = 0; i < 400; i++) {
        char name[64];
        snprintf(name, sizeof name, "etc/f%03d", i);
        tg_file(&t, name, 0644, "x");
    }
    tg_end(&t);
    commit(f->d, "many", &t, f->many_digest);
    tg_free(&t);

    tg_init(&t);
    tg_dir(&t, "etc", 0755);
    tg_file(&t, "etc/hostname", 0644, "box\n");
    tg_symlink(&t, "etc/link", "hostname");
    tg_end(&t);
    commit(f->d, "small", &t, NULL);
    tg_free(&t);
    f->listing = tu_tree_listing(f->layout);
}

static void fx_free(struct fx *f)
{
    /* The layout is exactly as before, and fsck-clean. */
    char *now = tu_tree_listing(f->layout);
    assert_string_equal(now, f->listing);
    free(now);
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_fsck(f->d, NULL, &r));
    assert_int_equal(ocidir_report_count(r), 0);
    ocidir_report_free(r);
    ocidir_close(f->d);
    free(f->listing);
    free(f->layout);
}

static int unpack_tag(struct fx *f, const char *tag, const char *dest)
{
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(f->d, tag, NULL, &img));
    int rc = ocidir_unpack(img, AT_FDCWD, dest, NULL, NULL);
    ocidir_image_close(img);
    return rc;
}

static void expect_message(const char *msg, const char *layer, const char *entry, int err)
{
    print_message("%s\n", msg);
    assert_non_null(strstr(msg, layer));
    if (entry) {
        char quoted[256];
        snprintf(quoted, sizeof quoted, "\"%s\"", entry);
        if (!strstr(msg, quoted))
            print_error("the message does not name the entry %s\n", quoted);
        assert_non_null(strstr(msg, quoted));
    }
    assert_non_null(strstr(msg, strerror(err)));
}

/* ---- tmpfs in a private mount namespace ---------------------------------- */

static int write_file_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, s, strlen(s));
    close(fd);
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* A child that mounts a tmpfs (with `opts`) on mnt in its own mount
 * namespace and stays until killed.  Returns "/proc/<pid>/root<mnt>". */
static char *tmpfs_holder(const char *mnt, const char *opts)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    uid_t uid = getuid();
    gid_t gid = getgid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char msg[256] = "ok";
        int rc = geteuid() == 0 ? unshare(CLONE_NEWNS) : -1;
        if (rc != 0) {
            rc = unshare(CLONE_NEWUSER | CLONE_NEWNS);
            if (rc == 0) {
                char map[64];
                snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
                write_file_str("/proc/self/setgroups", "deny");
                rc = write_file_str("/proc/self/uid_map", map);
                snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
                if (rc == 0)
                    rc = write_file_str("/proc/self/gid_map", map);
            }
        }
        if (rc != 0)
            snprintf(msg, sizeof msg, "unshare: %s", strerror(errno));
        else if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            snprintf(msg, sizeof msg, "mount --make-rprivate /: %s", strerror(errno));
        else if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID, opts) != 0)
            snprintf(msg, sizeof msg, "mount tmpfs (%s) on %s: %s", opts, mnt, strerror(errno));
        (void)!write(p[1], msg, strlen(msg) + 1);
        if (strcmp(msg, "ok") != 0)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    char msg[256] = "";
    ssize_t n = read(p[0], msg, sizeof msg - 1);
    close(p[0]);
    if (n <= 0 || strcmp(msg, "ok") != 0) {
        /* A missing precondition is a failure, with its reason. */
        print_error("no private tmpfs: %s\n", n > 0 ? msg : "the namespace child died");
        waitpid(pid, NULL, 0);
        fail();
    }
    tu_defer_kill(pid);
    char *base = NULL;
    assert_true(asprintf(&base, "/proc/%d/root%s", (int)pid, mnt) > 0);
    struct statfs sf;
    assert_int_equal(statfs(base, &sf), 0);
    assert_true(sf.f_type == TMPFS_MAGIC_);
    return base;
}

static void usage(const char *base, unsigned long long *blocks, unsigned long long *inodes)
{
    struct statvfs sv;
    assert_int_equal(statvfs(base, &sv), 0);
    *blocks = sv.f_bfree;
    *inodes = sv.f_ffree;
}

/* One ENOSPC case on a fresh tmpfs: `tag` into base/dest (absent), then
 * into base/empty (an empty directory); then, after the failures, `small`
 * fits into the same destination. */
static void enospc_case(struct fx *f, const char *opts, const char *tag, const char *layer, const char *entry)
{
    char *mnt = tu_scratch_dir("unpack-fulldisk-mnt");
    char *base = tmpfs_holder(mnt, opts);
    char *dest = tu_join(base, "dest");
    char *empty = tu_join(base, "empty");
    tu_mkdir(empty);
    unsigned long long b0, i0, b1, i1;
    usage(base, &b0, &i0);

    assert_int_equal(unpack_tag(f, tag, dest), OCIDIR_E_IO);
    assert_int_equal(ocidir_last_errno(), ENOSPC);
    expect_message(ocidir_last_error(), layer, entry, ENOSPC);
    assert_false(tu_exists(dest));
    usage(base, &b1, &i1);
    assert_int_equal(b1, b0);
    assert_int_equal(i1, i0);

    assert_int_equal(unpack_tag(f, tag, empty), OCIDIR_E_IO);
    assert_int_equal(ocidir_last_errno(), ENOSPC);
    expect_message(ocidir_last_error(), layer, entry, ENOSPC);
    assert_true(tu_exists(empty));
    assert_int_equal(tu_count_entries(empty), 0);
    struct stat st;
    assert_int_equal(lstat(empty, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    usage(base, &b1, &i1);
    assert_int_equal(b1, b0);
    assert_int_equal(i1, i0);
    assert_int_equal(tu_count_entries(base), 1); /* only "empty" */

    /* Room again for a small image, in both places. */
    assert_ocidir(0, unpack_tag(f, "small", dest));
    assert_ocidir(0, unpack_tag(f, "small", empty));
    char *h = tu_join(dest, "etc/hostname");
    assert_true(tu_exists(h));
    free(h);
    free(dest);
    free(empty);
    free(base);
    free(mnt);
}

static void test_enospc_data_in_big_file(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    enospc_case(&f, "size=1m,mode=0755", "big", f.layer_digest, BIG_NAME);
    fx_free(&f);
}

static void test_enospc_inodes(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    /* 64 inodes: the root, "empty", the destination, its marker, "etc" and
     * then some of the 400 files; which file meets ENOSPC is not fixed, the
     * message must name the tar's entry path all the same (checked as
     * "etc/f"). */
    char *mnt = tu_scratch_dir("unpack-fulldisk-mnt");
    char *base = tmpfs_holder(mnt, "size=4m,nr_inodes=64,mode=0755");
    char *dest = tu_join(base, "dest");
    unsigned long long b0, i0, b1, i1;
    usage(base, &b0, &i0);
    assert_int_equal(unpack_tag(&f, "many", dest), OCIDIR_E_IO);
    assert_int_equal(ocidir_last_errno(), ENOSPC);
    const char *msg = ocidir_last_error();
    expect_message(msg, f.many_digest, NULL, ENOSPC);
    assert_non_null(strstr(msg, "entry \"etc/f"));
    assert_false(tu_exists(dest));
    usage(base, &b1, &i1);
    assert_int_equal(b1, b0);
    assert_int_equal(i1, i0);
    assert_ocidir(0, unpack_tag(&f, "small", dest));
    free(dest);
    free(base);
    free(mnt);
    fx_free(&f);
}

/* ---- RLIMIT_FSIZE --------------------------------------------------------- */

struct child_result {
    int rc, err;
    char msg[1024];
};

static void test_efbig_rlimit(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    char *scratch = tu_scratch_dir("unpack-fulldisk-rlimit");
    char *dest = tu_join(scratch, "dest");
    char *empty = tu_join(scratch, "empty");
    tu_mkdir(empty);
    struct child_result *res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(res != MAP_FAILED);
    const char *dests[] = {dest, empty};
    for (int k = 0; k < 2; k++) {
        memset(res, 0, sizeof *res);
        res->rc = 1;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {1024 * 1024, 1024 * 1024};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(3);
            ocidir_image_t *img = NULL;
            if (ocidir_image_open(f.d, "big", NULL, &img) != 0)
                _exit(4);
            res->rc = ocidir_unpack(img, AT_FDCWD, dests[k], NULL, NULL);
            res->err = ocidir_last_errno();
            snprintf(res->msg, sizeof res->msg, "%s", ocidir_last_error());
            ocidir_image_close(img);
            _exit(0);
        }
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        assert_int_equal(res->rc, OCIDIR_E_IO);
        assert_int_equal(res->err, EFBIG);
        expect_message(res->msg, f.layer_digest, BIG_NAME, EFBIG);
    }
    assert_false(tu_exists(dest));
    assert_int_equal(tu_count_entries(empty), 0);
    assert_int_equal(tu_count_entries(scratch), 1);
    /* Without the limit the same unpack succeeds. */
    assert_ocidir(0, unpack_tag(&f, "big", dest));
    char *p = tu_join(dest, BIG_NAME);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, BIG);
    free(p);
    munmap(res, sizeof *res);
    free(dest);
    free(empty);
    free(scratch);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_enospc_data_in_big_file, tu_teardown_scratch),
        cmocka_unit_test_teardown(test_enospc_inodes, tu_teardown_scratch),
        cmocka_unit_test_teardown(test_efbig_rlimit, tu_teardown_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
