/* A full disk, simulated two ways:
 *
 *   tmpfs:  a 4 MiB tmpfs mounted in a private mount namespace of a helper
 *           child (nothing is mounted in the test's own namespace, and the
 *           mount vanishes with the child); the test reaches it through
 *           /proc/<child>/root.  Writes fail with ENOSPC.
 *   rlimit: the operation runs in a forked child with a low RLIMIT_FSIZE and
 *           SIGXFSZ ignored.  Writes fail with EFBIG.
 *
 * For each writing operation (blob writer, blob_put, gzip and zstd layer
 * writers, builder commit, tag set, tag remove, clone, layout creation) the
 * call must fail with OCIDIR_E_IO, ocidir_last_errno() must be the OS error
 * and the message must say what failed; the layout must be exactly as before
 * (same files, same inodes, sizes and times, index.json byte for byte, no
 * temporary file, no space kept), open and fsck clean.  Then, with room
 * again, the same operation succeeds.  gc is checked the other way round: it
 * must work on a full disk, since it is how space is got back. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)

#define TMPFS_SIZE "4m"
#define TMPFS_MAGIC_ 0x01021994
#define BASE_LAYER (600 * 1024)  /* the base image's layer, uncompressed */
#define BIG_BLOB (1024 * 1024)   /* more than what is left free */
#define LEFT_FREE (256 * 1024)   /* room left for the "too big to fit" cases */

/* ---- the environment of one variant ------------------------------------- */

struct env {
    const char *base;  /* the directory holding the layout */
    char *layout;      /* base/layout */
    char *filler;      /* base/filler (tmpfs only) */
    char *clone_src;   /* a layout on the test's own disk */
    char *clone_dst;   /* base/clone */
    char *created;     /* base/created (for layout creation) */
    char *src_file;    /* BIG_BLOB bytes on the test's own disk, for put_fd */
    int rlimit;        /* 1: RLIMIT_FSIZE variant; 0: tmpfs */
    int expect_errno;  /* ENOSPC or EFBIG */
    char manifest[OCIDIR_DIGEST_MAX];
    char layer[OCIDIR_DIGEST_MAX], diff_id[OCIDIR_DIGEST_MAX];
    uint64_t layer_size;
};

/* What an operation reported: the first failing call and its details. */
struct result {
    int rc, err, followup, has_followup;
    char call[200];
    char msg[1024];
};

static void res_set(struct result *r, int rc, const char *call)
{
    r->rc = rc;
    r->err = ocidir_last_errno();
    snprintf(r->call, sizeof r->call, "%s", call);
    snprintf(r->msg, sizeof r->msg, "%s", ocidir_last_error());
}

#define TRY(call)                          \
    do {                                   \
        int rc_ = (call);                  \
        if (rc_ != 0) {                    \
            res_set(r, rc_, #call);        \
            goto out;                      \
        }                                  \
    } while (0)

static unsigned char *random_bytes(size_t len, uint32_t seed)
{
    unsigned char *b = malloc(len ? len : 1);
    if (b)
        tu_fill(b, len, seed);
    return b;
}

/* ---- the operations (no cmocka assertions: they may run in a child) ----- */

static void op_blob_writer(ocidir_t *d, struct env *e, struct result *r)
{
    (void)e;
    unsigned char *buf = random_bytes(BIG_BLOB, 11);
    ocidir_blob_writer_t *w = NULL;
    TRY(ocidir_blob_writer_new(d, OCIDIR_SHA256, &w));
    for (size_t off = 0; off < BIG_BLOB; off += 65536) {
        int rc = ocidir_blob_writer_write(w, buf + off, 65536);
        if (rc != 0) {
            res_set(r, rc, "ocidir_blob_writer_write");
            /* A failed write poisons the writer; commit must say so and
             * still free it. */
            r->followup = ocidir_blob_writer_commit(w, NULL, NULL);
            r->has_followup = 1;
            w = NULL;
            goto out;
        }
    }
    ocidir_blob_writer_t *ww = w;
    w = NULL;
    TRY(ocidir_blob_writer_commit(ww, NULL, NULL));
out:
    ocidir_blob_writer_abort(w);
    free(buf);
}

static void op_blob_put(ocidir_t *d, struct env *e, struct result *r)
{
    (void)e;
    unsigned char *buf = random_bytes(BIG_BLOB, 12);
    TRY(ocidir_blob_put(d, buf, BIG_BLOB, NULL));
out:
    free(buf);
}

static void op_blob_put_fd(ocidir_t *d, struct env *e, struct result *r)
{
    /* From another filesystem (tmpfs) or the same one (rlimit): the copy is
     * by read/write or by copy_file_range(2). */
    int fd = open(e->src_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r->rc = -1000;
        snprintf(r->msg, sizeof r->msg, "open %s: %s", e->src_file, strerror(errno));
        return;
    }
    TRY(ocidir_blob_put_fd(d, fd, NULL, NULL));
out:
    close(fd);
}

static void layer_op(ocidir_t *d, ocidir_compression_t c, struct result *r)
{
    /* Random bytes do not compress: the blob is as big as the input. */
    unsigned char *buf = random_bytes(BIG_BLOB, 13 + (uint32_t)c);
    ocidir_layer_writer_t *w = NULL;
    TRY(ocidir_layer_writer_new(d, c, 0, c == OCIDIR_COMPRESSION_GZIP ? 1 : 0, &w));
    for (size_t off = 0; off < BIG_BLOB; off += 65536) {
        int rc = ocidir_layer_writer_write(w, buf + off, 65536);
        if (rc != 0) {
            res_set(r, rc, "ocidir_layer_writer_write");
            goto out;
        }
    }
    ocidir_layer_writer_t *ww = w;
    w = NULL;
    TRY(ocidir_layer_writer_commit(ww, NULL, NULL, NULL));
out:
    ocidir_layer_writer_abort(w);
    free(buf);
}

static void op_layer_gzip(ocidir_t *d, struct env *e, struct result *r)
{
    (void)e;
    layer_op(d, OCIDIR_COMPRESSION_GZIP, r);
}

static void op_layer_zstd(ocidir_t *d, struct env *e, struct result *r)
{
    (void)e;
    layer_op(d, OCIDIR_COMPRESSION_ZSTD, r);
}

static void op_builder_commit(ocidir_t *d, struct env *e, struct result *r)
{
    ocidir_builder_t *b = NULL;
    TRY(ocidir_builder_new(d, NULL, &b));
    TRY(ocidir_builder_add_layer(b, ocidir_compression_media_type(OCIDIR_COMPRESSION_NONE), e->layer,
                                 e->layer_size, e->diff_id, "full disk"));
    TRY(ocidir_builder_set_label(b, "org.example.case", "builder"));
    TRY(ocidir_builder_commit(b, "built", 0, NULL));
out:
    ocidir_builder_free(b);
}

static void op_tag_set(ocidir_t *d, struct env *e, struct result *r)
{
    TRY(ocidir_tag_set(d, "moved", e->manifest, 0));
out:;
}

static void op_index_add(ocidir_t *d, struct env *e, struct result *r)
{
    /* An untagged entry next to the tagged one: index.json is rewritten. */
    TRY(ocidir_index_add(d, e->manifest));
out:;
}

static void op_tag_remove(ocidir_t *d, struct env *e, struct result *r)
{
    (void)e;
    TRY(ocidir_tag_remove(d, "base"));
out:;
}

static void op_clone(ocidir_t *d, struct env *e, struct result *r)
{
    (void)d;
    ocidir_t *src = NULL;
    TRY(ocidir_open(AT_FDCWD, e->clone_src, OCIDIR_OPEN_RDONLY, &src));
    /* No hard link: a link would write no data. */
    TRY(ocidir_clone(src, AT_FDCWD, e->clone_dst, TU_CLONE(OCIDIR_CLONE_NO_HARDLINK, NULL, NULL), NULL, NULL));
out:
    ocidir_close(src);
}

static void op_create(ocidir_t *d, struct env *e, struct result *r)
{
    (void)d;
    ocidir_t *n = NULL;
    TRY(ocidir_open(AT_FDCWD, e->created, OCIDIR_OPEN_CREATE, &n));
out:
    ocidir_close(n);
}

struct op {
    const char *name;
    void (*fn)(ocidir_t *, struct env *, struct result *);
    size_t leave;    /* tmpfs: bytes left free while it runs */
    rlim_t limit;    /* rlimit: RLIMIT_FSIZE while it runs */
    const char *names; /* the message names the place that was written */
};

static const struct op ops[] = {
    {"blob writer", op_blob_writer, LEFT_FREE, LEFT_FREE, "/layout/blobs/sha256"},
    {"blob put", op_blob_put, LEFT_FREE, LEFT_FREE, "/layout/blobs/sha256"},
    {"blob put fd", op_blob_put_fd, LEFT_FREE, LEFT_FREE, "/layout/blobs/sha256"},
    {"gzip layer", op_layer_gzip, LEFT_FREE, LEFT_FREE, "/layout/blobs/sha256"},
    {"zstd layer", op_layer_zstd, LEFT_FREE, LEFT_FREE, "/layout/blobs/sha256"},
    {"builder commit", op_builder_commit, 0, 16, "/layout/blobs/sha256"},
    {"tag set", op_tag_set, 0, 16, "/layout/.ocidir-index-"},
    {"tag remove", op_tag_remove, 0, 16, "/layout/.ocidir-index-"},
    {"index add", op_index_add, 0, 16, "/layout/.ocidir-index-"},
    {"clone", op_clone, LEFT_FREE, LEFT_FREE, "/clone/blobs/sha256"},
    {"layout creation", op_create, 0, 16, "/created"},
};

static const struct op *find_op(const char *name)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    fail_msg("no operation %s", name);
    return NULL;
}

/* ---- helpers -------------------------------------------------------------- */

static int temps_seen;
static int temp_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    const char *b = path + ftw->base;
    if (strncmp(b, ".ocidir-tmp-", 12) == 0 || strncmp(b, ".ocidir-index-", 14) == 0) {
        print_error("temporary file left: %s\n", path);
        temps_seen++;
    }
    return 0;
}

static int count_temps(const char *root)
{
    temps_seen = 0;
    if (tu_exists(root))
        nftw(root, temp_one, 16, FTW_PHYS);
    return temps_seen;
}

static uint64_t free_bytes(const char *path)
{
    struct statvfs sv;
    assert_int_equal(statvfs(path, &sv), 0);
    return (uint64_t)sv.f_bfree * sv.f_frsize;
}

/* Fill the tmpfs until only `leave` bytes are free (0: completely). */
static void fill(struct env *e, size_t leave)
{
    int fd = open(e->filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    static unsigned char chunk[65536];
    memset(chunk, 0x5a, sizeof chunk);
    for (;;) {
        uint64_t avail = free_bytes(e->base);
        if (avail <= leave)
            break;
        size_t n = avail - leave < sizeof chunk ? (size_t)(avail - leave) : sizeof chunk;
        if (leave == 0)
            n = sizeof chunk;
        ssize_t w = write(fd, chunk, n);
        if (w < 0) {
            assert_int_equal(errno, ENOSPC);
            break;
        }
    }
    if (leave == 0) {
        /* The last pages, a byte at a time. */
        while (write(fd, chunk, 1) == 1) {
        }
        assert_int_equal(errno, ENOSPC);
    }
    assert_int_equal(close(fd), 0);
}

/* Build the base image (a layer of BASE_LAYER random bytes) under "base". */
static void make_base(const char *layout, struct env *e)
{
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_CREATE, &d));
    unsigned char *buf = random_bytes(BASE_LAYER, 99);
    assert_non_null(buf);
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_NONE, 0, 0, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, buf, BASE_LAYER));
    char dg[OCIDIR_DIGEST_MAX], diff[OCIDIR_DIGEST_MAX];
    uint64_t size;
    assert_ocidir(0, ocidir_layer_writer_commit(w, dg, &size, diff));
    free(buf);
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, NULL, &b));
    assert_ocidir(0, ocidir_builder_add_layer(b, ocidir_compression_media_type(OCIDIR_COMPRESSION_NONE), dg, size,
                                              diff, "base"));
    char man[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_builder_commit(b, "base", 0, man));
    ocidir_builder_free(b);
    ocidir_close(d);
    if (e) {
        snprintf(e->manifest, sizeof e->manifest, "%s", man);
        snprintf(e->layer, sizeof e->layer, "%s", dg);
        snprintf(e->diff_id, sizeof e->diff_id, "%s", diff);
        e->layer_size = size;
    }
}

static void assert_fsck_clean(const char *layout)
{
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d));
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, ocidir_fsck(d, TU_FSCK(0, 1, NULL, NULL), &rep));
    for (size_t i = 0; i < ocidir_report_count(rep); i++) {
        ocidir_find_kind_t k;
        const char *s, *m;
        ocidir_report_get(rep, i, &k, &s, NULL, &m);
        if (k <= OCIDIR_FIND_IO || k == OCIDIR_FIND_TEMP)
            print_error("fsck: %s %s: %s\n", ocidir_find_kind_name((int)k), s, m);
        assert_true(k > OCIDIR_FIND_IO && k != OCIDIR_FIND_TEMP);
    }
    ocidir_report_free(rep);
    ocidir_close(d);
}

/* Run an operation on a fresh handle; in the rlimit variant in a child
 * whose file size limit is `limit`. */
static struct result run_op(struct env *e, const struct op *op, int limited)
{
    struct result res;
    memset(&res, 0, sizeof res);
    if (!(limited && e->rlimit)) {
        ocidir_t *d = NULL;
        assert_ocidir(0, ocidir_open(AT_FDCWD, e->layout, 0, &d));
        op->fn(d, e, &res);
        ocidir_close(d);
        return res;
    }
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        struct result r;
        memset(&r, 0, sizeof r);
        ocidir_t *d = NULL;
        int rc = ocidir_open(AT_FDCWD, e->layout, 0, &d);
        if (rc != 0) {
            res_set(&r, rc, "ocidir_open (before the limit)");
        } else {
            /* Writes past the limit fail with EFBIG instead of killing. */
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {op->limit, RLIM_INFINITY};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(3);
            op->fn(d, e, &r);
            ocidir_close(d);
        }
        _exit(write(p[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 4);
    }
    tu_defer_kill(pid);
    close(p[1]);
    ssize_t got = read(p[0], &res, sizeof res);
    close(p[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        print_error("%s: the limited child ended with status %#x\n", op->name, status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(got, (ssize_t)sizeof res);
    return res;
}

/* Does the message say what failed: a path or digest, and the OS error? */
static void assert_message_names(const struct op *op, const struct result *r, int err)
{
    const char *oserr = strerror(err);
    if (!strstr(r->msg, oserr) || !strstr(r->msg, op->names))
        print_error("%s: message \"%s\" does not name \"%s\" and \"%s\"\n", op->name, r->msg, op->names, oserr);
    assert_non_null(strstr(r->msg, oserr));
    assert_non_null(strstr(r->msg, op->names));
}

static void run_case(struct env *e, const struct op *op)
{
    /* A fresh layout with the base image; one index write before the
     * snapshot so that .ocidir.lock exists. */
    tu_rm_rf(e->layout);
    tu_rm_rf(e->clone_dst);
    tu_rm_rf(e->created);
    make_base(e->layout, e);
    char *before = tu_tree_listing_contents(e->layout);
    char *idx_path = tu_join(e->layout, "index.json");
    void *idx_before = NULL;
    ssize_t idx_len = tu_read_file(idx_path, &idx_before);
    assert_true(idx_len > 0);
    uint64_t free_before = e->rlimit ? 0 : free_bytes(e->base);

    if (!e->rlimit)
        fill(e, op->leave);
    struct result r = run_op(e, op, 1);
    print_message("%-16s %-6s: %s = %d (%s), errno %d: %s\n", op->name, e->rlimit ? "rlimit" : "tmpfs",
                  r.call[0] ? r.call : "(nothing failed)", r.rc, ocidir_strerror(r.rc), r.err, r.msg);
    assert_int_equal(r.rc, OCIDIR_E_IO);
    assert_int_equal(r.err, e->expect_errno);
    assert_message_names(op, &r, e->expect_errno);
    if (r.has_followup)
        assert_int_equal(r.followup, OCIDIR_E_STATE);
    if (!e->rlimit) {
        assert_int_equal(unlink(e->filler), 0);
        /* Nothing holds on to space (an unnamed temporary kept open, say). */
        uint64_t free_after = free_bytes(e->base);
        if (free_after != free_before)
            print_error("%s: %llu bytes free before, %llu after\n", op->name, (unsigned long long)free_before,
                        (unsigned long long)free_after);
        assert_true(free_after == free_before);
    }

    /* The layout exactly as before. */
    char *after = tu_tree_listing_contents(e->layout);
    if (strcmp(before, after) != 0)
        print_error("%s: layout changed\nbefore:\n%s\nafter:\n%s\n", op->name, before, after);
    assert_string_equal(before, after);
    void *idx_after = NULL;
    assert_int_equal(tu_read_file(idx_path, &idx_after), idx_len);
    assert_memory_equal(idx_before, idx_after, (size_t)idx_len);
    assert_int_equal(count_temps(e->layout), 0);
    assert_fsck_clean(e->layout);
    /* Nothing half-made where the clone was to go.  A failed creation may
     * leave the empty directories it made (the layout's own and blobs/sha256:
     * CREATE accepts them next time), but no file at all. */
    if (tu_exists(e->clone_dst)) {
        char *l = tu_tree_listing_contents(e->clone_dst);
        print_error("%s: left behind:\n%s\n", op->name, l);
        free(l);
    }
    assert_false(tu_exists(e->clone_dst));
    if (tu_exists(e->created)) {
        char *l = tu_tree_listing_contents(e->created);
        int only_dirs = 1;
        for (char *save = NULL, *line = strtok_r(l, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            if (!strstr(line, " dir ")) {
                print_error("%s: left behind: %s\n", op->name, line);
                only_dirs = 0;
            }
        assert_true(only_dirs);
        free(l);
    }

    /* With room again, the same operation succeeds. */
    struct result ok = run_op(e, op, 0);
    if (ok.rc != 0)
        print_error("%s with room: %s = %d: %s\n", op->name, ok.call, ok.rc, ok.msg);
    assert_int_equal(ok.rc, 0);
    assert_int_equal(count_temps(e->layout), 0);
    assert_fsck_clean(e->layout);
    free(before);
    free(after);
    free(idx_before);
    free(idx_after);
    free(idx_path);
}

/* gc on a full disk works, and gives the space back. */
static void gc_on_full_disk(struct env *e)
{
    tu_rm_rf(e->layout);
    make_base(e->layout, e);
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, e->layout, 0, &d));
    unsigned char *buf = random_bytes(LEFT_FREE, 5);
    char junk[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, buf, LEFT_FREE, junk));
    free(buf);
    fill(e, 0);
    uint64_t full = free_bytes(e->base);
    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, ocidir_gc(d, NULL, &rep));
    int removed = 0;
    for (size_t i = 0; i < ocidir_report_count(rep); i++) {
        ocidir_find_kind_t k;
        const char *s;
        ocidir_report_get(rep, i, &k, &s, NULL, NULL);
        if (k == OCIDIR_FIND_REMOVED && strcmp(s, junk) == 0)
            removed = 1;
    }
    ocidir_report_free(rep);
    assert_true(removed);
    assert_true(free_bytes(e->base) >= full + LEFT_FREE);
    ocidir_close(d);
    assert_int_equal(unlink(e->filler), 0);
    assert_fsck_clean(e->layout);
}

static void env_paths(struct env *e, const char *base)
{
    char *src = tu_keep(tu_scratch_dir("fulldisk-srcfile"));
    e->src_file = tu_keep(tu_join(src, "big"));
    unsigned char *buf = random_bytes(BIG_BLOB, 21);
    assert_non_null(buf);
    tu_write_file(e->src_file, buf, BIG_BLOB);
    free(buf);
    e->base = base;
    e->layout = tu_keep(tu_join(base, "layout"));
    e->filler = tu_keep(tu_join(base, "filler"));
    e->clone_dst = tu_keep(tu_join(base, "clone"));
    e->created = tu_keep(tu_join(base, "created"));
}

/* ---- variant (i): tmpfs in a private mount namespace ---------------------- */

static int write_file_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, s, strlen(s));
    close(fd);
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* Fork a child that mounts a tmpfs on mnt in its own mount namespace and
 * stays until killed; returns its pid, or -1 with why in `why`. */
static pid_t tmpfs_holder(const char *mnt, char *why, size_t whylen)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    uid_t uid = getuid();
    gid_t gid = getgid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        /* Gone with the test even if it dies without its teardown. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char msg[256] = "ok";
        int rc = 0;
        /* Root normally has CAP_SYS_ADMIN; without it (a container), and
         * for other users, a user namespace gives the mount namespace. */
        rc = geteuid() == 0 ? unshare(CLONE_NEWNS) : -1;
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
        else if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=" TMPFS_SIZE ",mode=0755") != 0)
            snprintf(msg, sizeof msg, "mount tmpfs on %s: %s", mnt, strerror(errno));
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
        snprintf(why, whylen, "%s", n > 0 ? msg : "the namespace child died");
        waitpid(pid, NULL, 0);
        return -1;
    }
    tu_defer_kill(pid);
    return pid;
}

static int setup_tmpfs(struct env *e)
{
    char *mnt = tu_scratch_dir("fulldisk-mnt");
    tu_keep(mnt);
    char why[300];
    pid_t pid = tmpfs_holder(mnt, why, sizeof why);
    if (pid < 0) {
        if (geteuid() == 0) {
            print_error("root, yet no private tmpfs: %s\n", why);
            fail();
        }
        print_message("skipped: no user+mount namespace for an unprivileged tmpfs (%s)\n", why);
        return -1;
    }
    char *base = NULL;
    assert_true(asprintf(&base, "/proc/%d/root%s", (int)pid, mnt) > 0);
    tu_keep(base);
    /* The test sees the tmpfs, not the directory beneath it. */
    struct statfs sf;
    assert_int_equal(statfs(base, &sf), 0);
    assert_true(sf.f_type == TMPFS_MAGIC_);
    memset(e, 0, sizeof *e);
    env_paths(e, base);
    e->expect_errno = ENOSPC;
    /* The clone's source is on the test's own disk. */
    char *src = tu_scratch_dir("fulldisk-src");
    tu_keep(src);
    e->clone_src = tu_keep(tu_join(src, "layout"));
    make_base(e->clone_src, NULL);
    return 0;
}

static void test_tmpfs_full(void **state)
{
    (void)state;
    struct env e;
    if (setup_tmpfs(&e) != 0) {
        skip();
        return;
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        run_case(&e, &ops[i]);
    gc_on_full_disk(&e);
}

/* A builder's commit with room for the config and manifest blobs (a page
 * each on tmpfs) but not for the new index.json: the tag stays where it was,
 * index.json is unchanged, and what was added is only whole, verified blobs
 * (unreferenced, for gc). */
static void test_tmpfs_builder_index_full(void **state)
{
    (void)state;
    struct env e;
    if (setup_tmpfs(&e) != 0) {
        skip();
        return;
    }
    make_base(e.layout, &e);
    char *before = tu_tree_listing_contents(e.layout);
    char *idx_path = tu_join(e.layout, "index.json");
    void *idx_before = NULL, *idx_after = NULL;
    ssize_t idx_len = tu_read_file(idx_path, &idx_before);
    assert_true(idx_len > 0);
    fill(&e, 2 * 4096);
    struct result r = run_op(&e, find_op("builder commit"), 1);
    print_message("builder commit, index full: %s = %d, errno %d: %s\n", r.call, r.rc, r.err, r.msg);
    assert_int_equal(r.rc, OCIDIR_E_IO);
    assert_int_equal(r.err, ENOSPC);
    assert_non_null(strstr(r.msg, "/layout/.ocidir-index-"));
    assert_int_equal(unlink(e.filler), 0);
    assert_int_equal(tu_read_file(idx_path, &idx_after), idx_len);
    assert_memory_equal(idx_before, idx_after, (size_t)idx_len);
    assert_int_equal(count_temps(e.layout), 0);
    assert_fsck_clean(e.layout);
    /* Every old entry is still there unchanged; the new ones are exactly the
     * config and the manifest, whole. */
    char *after = tu_tree_listing_contents(e.layout);
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, e.layout, OCIDIR_OPEN_RDONLY, &d));
    int added = 0;
    for (char *save = NULL, *line = strtok_r(after, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strstr(before, line))
            continue;
        const char *p = strstr(line, "/blobs/sha256/");
        if (!p)
            print_error("new entry that is not a blob: %s\n", line);
        assert_non_null(p);
        char dg[OCIDIR_DIGEST_MAX] = "sha256:";
        memcpy(dg + 7, p + 14, 64);
        dg[71] = '\0';
        void *buf = NULL;
        assert_ocidir(0, ocidir_blob_read_all(d, dg, -1, 1 << 20, &buf, NULL));
        ocidir_free(buf);
        added++;
    }
    ocidir_close(d);
    assert_int_equal(added, 2);
    char dg[OCIDIR_DIGEST_MAX];
    d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, e.layout, 0, &d));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_resolve(d, "built", dg, NULL, NULL));
    ocidir_close(d);
    /* With room, the commit succeeds. */
    struct result ok = run_op(&e, find_op("builder commit"), 0);
    assert_int_equal(ok.rc, 0);
    free(before);
    free(after);
    free(idx_before);
    free(idx_after);
    free(idx_path);
}

/* ---- variant (ii): RLIMIT_FSIZE ------------------------------------------ */

static void test_rlimit_fsize(void **state)
{
    (void)state;
    struct env e;
    memset(&e, 0, sizeof e);
    char *base = tu_scratch_dir("fulldisk-rlimit");
    tu_keep(base);
    env_paths(&e, base);
    e.rlimit = 1;
    e.expect_errno = EFBIG;
    e.clone_src = e.layout;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        run_case(&e, &ops[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_tmpfs_full),
        TEARDOWN(test_tmpfs_builder_index_full),
        TEARDOWN(test_rlimit_fsize),
    };
    return cmocka_run_group_tests_name("fulldisk", tests, NULL, NULL);
}
