/* Unpacking without real root.
 *
 * The same image (owners 0, 1000:1000, 1000:1001, 65535, a setuid file
 * owned by 1000, a symlink owned by 1000) is unpacked:
 *
 *   - inside a user namespace with a full subuid-style map written by the
 *     test (`0 100000 65536` for uids and gids: a forked child unshares
 *     CLONE_NEWUSER|CLONE_NEWNS, the parent writes its maps, the child
 *     becomes the namespace's root), default owner mode: every id is kept,
 *     so a file of uid 1000 in the image is host uid 101000; an id outside
 *     the map is OCIDIR_E_INVALID naming the entry and the id (the
 *     destination absent again), or the fallback when one is set;
 *   - as real root with OWNER_MAP and the same ranges: the same tree, id
 *     for id, as the one made inside the namespace;
 *   - as an unprivileged host user (no namespace) with OWNER_ROOTLESS:
 *     every file owned by the caller, each non-root owner kept in the
 *     `user.rootlesscontainers` xattr (decoded and checked);
 *   - inside a namespace mapping only the caller (`unshare --user
 *     --map-root-user`'s single-id case): the default mode fails on the
 *     first unmapped id naming it; OWNER_ROOTLESS works.
 *
 * The test needs root (to write a map of many ids and to set up an
 * unprivileged user); a kernel that refuses user namespaces FAILS it, with
 * the reason. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tar_gen.h"

#define HOST_BASE 100000u
#define MAP_SIZE 65536u
#define UNPRIV 12345u /* the unprivileged host user of the rootless cases */

static char *g_scratch, *g_layout;
static ocidir_t *g_d;

struct result {
    int rc, err;
    char msg[1024];
    char why[256]; /* set when the namespace could not be made */
};
static struct result *R;

static void owned(tg_tar_t *t, const char *name, char type, unsigned mode, unsigned uid, unsigned gid,
                  const char *content_or_link)
{
    size_t n = type == '0' && content_or_link ? strlen(content_or_link) : 0;
    tg_entry(t, &(tg_entry_t){.name = name, .type = type, .mode = mode, .uid = uid, .gid = gid, .size = n,
                              .data = type == '0' ? content_or_link : NULL, .data_len = n,
                              .link = type == '2' ? content_or_link : NULL});
}

static void commit(const char *tag, tg_tar_t *t)
{
    tg_end(t);
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(g_d, NULL, &b));
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(g_d, OCIDIR_COMPRESSION_GZIP, 0, 1, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, t->buf, t->len));
    assert_ocidir(0, ocidir_builder_add_layer_writer(b, w, NULL));
    assert_ocidir(0, ocidir_builder_commit(b, tag, 0, NULL));
    ocidir_builder_free(b);
    tg_free(t);
}

/* Tags "t" (ids within 0..65535), "uid70000" and "gid70000". */
static int setup(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_error("test_unpack_userns needs root: it writes a map of %u ids and sets up an "
                    "unprivileged user (euid is %u)\n",
                    MAP_SIZE, (unsigned)geteuid());
        return -1;
    }
    g_scratch = tu_mkdtemp("unpack-userns");
    /* Readable by the namespace's users; the destinations' parents are
     * made per case, owned by whoever unpacks there. */
    assert_int_equal(chmod(g_scratch, 0755), 0);
    g_layout = tu_join(g_scratch, "layout");
    assert_ocidir(0, ocidir_open(AT_FDCWD, g_layout, OCIDIR_OPEN_CREATE, &g_d));
    tg_tar_t t;
    tg_init(&t);
    owned(&t, "etc", '5', 0755, 0, 0, NULL);
    owned(&t, "etc/passwd", '0', 0644, 0, 0, "root:x:0:0::/root:/bin/sh\n");
    owned(&t, "etc/shadow", '0', 0640, 0, 42, "root:*::::::\n");
    owned(&t, "home", '5', 0755, 0, 0, NULL);
    owned(&t, "home/user", '5', 0750, 1000, 1000, NULL);
    owned(&t, "home/user/notes", '0', 0640, 1000, 1001, "notes\n");
    owned(&t, "home/user/link", '2', 0777, 1000, 1000, "notes");
    owned(&t, "usr", '5', 0755, 0, 0, NULL);
    owned(&t, "usr/bin", '5', 0755, 0, 0, NULL);
    owned(&t, "usr/bin/suid", '0', 04755, 1000, 1000, "#!/bin/true\n");
    owned(&t, "usr/bin/sgid", '0', 02755, 0, 1000, "#!/bin/true\n");
    owned(&t, "nobody", '0', 0644, 65534, 65534, "n");
    owned(&t, "last", '0', 0600, 65535, 65535, "l");
    owned(&t, "tmp", '5', 01777, 0, 0, NULL);
    commit("t", &t);
    tg_init(&t);
    owned(&t, "ok", '0', 0644, 0, 0, "ok");
    owned(&t, "srv", '5', 0755, 0, 0, NULL);
    owned(&t, "srv/far", '0', 0644, 70000, 0, "far");
    commit("uid70000", &t);
    tg_init(&t);
    owned(&t, "srv", '5', 0755, 0, 0, NULL);
    owned(&t, "srv/far", '0', 0644, 0, 70000, "far");
    commit("gid70000", &t);
    R = mmap(NULL, sizeof *R, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(R != MAP_FAILED);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ocidir_close(g_d);
    if (g_scratch)
        tu_sh("rm -rf '%s'", g_scratch);
    free(g_layout);
    free(g_scratch);
    if (R)
        munmap(R, sizeof *R);
    return 0;
}

/* ---- running an unpack elsewhere ------------------------------------------ */

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, s, strlen(s));
    int e = errno;
    close(fd);
    return n == (ssize_t)strlen(s) ? 0 : -e;
}

enum how { IN_USERNS, AS_USER };

/* Unpack tag into dest in a forked child: IN_USERNS — a new user (and
 * mount) namespace whose uid and gid maps are `map` ("0 100000 65536"),
 * the child its root; AS_USER — host uid/gid UNPRIV, no capabilities.  The
 * image is opened here, before the fork (the child cannot open the lock
 * file of a root-owned layout).  The result lands in *R. */
static void run_child(enum how how, const char *map, const char *tag, const char *dest,
                      const ocidir_unpack_options_t *o)
{
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(g_d, tag, NULL, &img));
    memset(R, 0, sizeof *R);
    R->rc = 1;
    int up[2], go[2];
    assert_int_equal(pipe2(up, O_CLOEXEC), 0);
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(up[0]);
        close(go[1]);
        char c = 0;
        if (how == IN_USERNS) {
            if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
                snprintf(R->why, sizeof R->why, "unshare(CLONE_NEWUSER|CLONE_NEWNS): %s", strerror(errno));
                _exit(2);
            }
            (void)!write(up[1], "u", 1);
            if (read(go[0], &c, 1) != 1 || c != 'g')
                _exit(3);
            /* Become the namespace's root (host uid HOST_BASE). */
            if (setresgid(0, 0, 0) != 0 || setgroups(0, NULL) != 0 || setresuid(0, 0, 0) != 0) {
                snprintf(R->why, sizeof R->why, "becoming root in the namespace: %s", strerror(errno));
                _exit(2);
            }
        } else {
            if (setgroups(0, NULL) != 0 || setresgid(UNPRIV, UNPRIV, UNPRIV) != 0 ||
                setresuid(UNPRIV, UNPRIV, UNPRIV) != 0) {
                snprintf(R->why, sizeof R->why, "dropping to uid %u: %s", UNPRIV, strerror(errno));
                _exit(2);
            }
        }
        R->rc = ocidir_unpack(img, AT_FDCWD, dest, o, NULL);
        R->err = ocidir_last_errno();
        snprintf(R->msg, sizeof R->msg, "%s", ocidir_last_error());
        _exit(0);
    }
    close(up[1]);
    close(go[0]);
    if (how == IN_USERNS) {
        char c = 0;
        if (read(up[0], &c, 1) == 1) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
            int e1 = write_str(path, map);
            snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
            int e2 = e1 ? 0 : write_str(path, map);
            if (e1 || e2)
                print_error("writing the map \"%s\" of the namespace: %s\n", map, strerror(-(e1 ? e1 : e2)));
            else
                (void)!write(go[1], "g", 1);
        }
    }
    close(up[0]);
    close(go[1]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    ocidir_image_close(img);
    if (R->why[0]) {
        print_error("no unprivileged unpack possible here: %s\n", R->why);
        fail();
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        print_error("the unpacking child ended with status 0x%x\n", st);
        fail();
    }
}

/* A directory for destinations, owned by host uid:gid. */
static char *parent_for(const char *name, unsigned uid, unsigned gid)
{
    char *p = tu_join(g_scratch, name);
    tu_mkdir(p);
    assert_int_equal(chown(p, uid, gid), 0);
    return p;
}

static void assert_owner(const char *root, const char *rel, unsigned uid, unsigned gid, unsigned mode)
{
    char *p = tu_join(root, rel);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    if (st.st_uid != uid || st.st_gid != gid || (mode && (st.st_mode & 07777) != mode))
        print_error("%s: %u:%u mode %o, expected %u:%u mode %o\n", rel, (unsigned)st.st_uid, (unsigned)st.st_gid,
                    (unsigned)(st.st_mode & 07777), uid, gid, mode);
    assert_int_equal(st.st_uid, uid);
    assert_int_equal(st.st_gid, gid);
    if (mode)
        assert_int_equal(st.st_mode & 07777, mode);
    free(p);
}

/* Every entry of the image with its expected ids and mode; base is added
 * to each id (the host id of a namespace-mapped id). */
static void assert_image_ids(const char *root, unsigned base)
{
    assert_owner(root, "etc", base, base, 0755);
    assert_owner(root, "etc/passwd", base, base, 0644);
    assert_owner(root, "etc/shadow", base, base + 42, 0640);
    assert_owner(root, "home/user", base + 1000, base + 1000, 0750);
    assert_owner(root, "home/user/notes", base + 1000, base + 1001, 0640);
    assert_owner(root, "home/user/link", base + 1000, base + 1000, 0);
    assert_owner(root, "usr/bin/suid", base + 1000, base + 1000, 04755);
    assert_owner(root, "usr/bin/sgid", base, base + 1000, 02755);
    assert_owner(root, "nobody", base + 65534, base + 65534, 0644);
    assert_owner(root, "last", base + 65535, base + 65535, 0600);
    assert_owner(root, "tmp", base, base, 01777);
}

/* "path mode uid gid [target]" of every entry, sorted. */
static char *g_list;
static size_t g_list_len, g_root_len;
static int list_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    char line[4500], target[4096] = "";
    if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
    }
    int n = snprintf(line, sizeof line, "%s %o %u %u %s\n", path + g_root_len, (unsigned)st->st_mode,
                     (unsigned)st->st_uid, (unsigned)st->st_gid, target);
    g_list = realloc(g_list, g_list_len + (size_t)n + 1);
    memcpy(g_list + g_list_len, line, (size_t)n + 1);
    g_list_len += (size_t)n;
    return 0;
}
static char *owner_listing(const char *root)
{
    g_list = NULL;
    g_list_len = 0;
    g_root_len = strlen(root);
    assert_int_equal(nftw(root, list_one, 16, FTW_PHYS), 0);
    return g_list; /* nftw's order is readdir's: compared as sets below */
}
static int cmp_lines(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static char *sorted(char *s)
{
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof *v);
    for (char *save = NULL, *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = l;
    }
    qsort(v, n, sizeof *v, cmp_lines);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(v[i]) + 1;
    char *out = malloc(total), *p = out;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\n", v[i]);
    *p = 0;
    free(v);
    free(s);
    return out;
}

/* ---- the cases ------------------------------------------------------------ */

static const char kFullMap[] = "0 100000 65536";

static void test_userns_full_map_keeps_ids(void **state)
{
    (void)state;
    char *parent = parent_for("ns", HOST_BASE, HOST_BASE);
    char *dest = tu_join(parent, "rootfs");
    run_child(IN_USERNS, kFullMap, "t", dest, NULL);
    if (R->rc != 0)
        print_error("unpack in the namespace: %d %s\n", R->rc, R->msg);
    assert_int_equal(R->rc, 0);
    /* uid 1000 in the image is host uid 101000. */
    assert_image_ids(dest, HOST_BASE);
    assert_owner(dest, "", HOST_BASE, HOST_BASE, 0755);

    /* Real root with OWNER_MAP and the same ranges makes the same tree. */
    char *dest2 = tu_join(g_scratch, "mapped");
    ocidir_idmap_t m = {0, HOST_BASE, MAP_SIZE};
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.owner_mode = OCIDIR_UNPACK_OWNER_MAP;
    o.uid_map = &m;
    o.n_uid_map = 1;
    o.gid_map = &m;
    o.n_gid_map = 1;
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(g_d, "t", NULL, &img));
    assert_ocidir(0, ocidir_unpack(img, AT_FDCWD, dest2, &o, NULL));
    ocidir_image_close(img);
    assert_image_ids(dest2, HOST_BASE);
    char *a = sorted(owner_listing(dest)), *b = sorted(owner_listing(dest2));
    /* The roots differ: "rootfs" was created by the namespace's root
     * (100000), "mapped" by real root; their entries must not. */
    char *a1 = strchr(a, '\n'), *b1 = strchr(b, '\n');
    assert_non_null(a1);
    assert_non_null(b1);
    assert_string_equal(a1, b1);
    free(a);
    free(b);
    free(dest2);
    free(dest);
    free(parent);
}

static void test_userns_unmapped_id_is_error_or_fallback(void **state)
{
    (void)state;
    char *parent = parent_for("ns-unmapped", HOST_BASE, HOST_BASE);
    char *dest = tu_join(parent, "rootfs");
    const char *tags[] = {"uid70000", "gid70000"};
    const char *ids[] = {"uid 70000", "gid 70000"};
    for (int k = 0; k < 2; k++) {
        run_child(IN_USERNS, kFullMap, tags[k], dest, NULL);
        print_message("%s: %d %s\n", tags[k], R->rc, R->msg);
        assert_int_equal(R->rc, OCIDIR_E_INVALID);
        assert_non_null(strstr(R->msg, "\"srv/far\""));
        assert_non_null(strstr(R->msg, ids[k]));
        assert_false(tu_exists(dest));
        assert_int_equal(tu_count_entries(parent), 0);
    }
    /* With a fallback, the id becomes the fallback (namespace id 65534,
     * host 165534); the other ids are kept. */
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.fallback_uid = 65534;
    o.fallback_gid = 65534;
    run_child(IN_USERNS, kFullMap, "uid70000", dest, &o);
    if (R->rc != 0)
        print_error("%s\n", R->msg);
    assert_int_equal(R->rc, 0);
    assert_owner(dest, "srv/far", HOST_BASE + 65534, HOST_BASE, 0644);
    assert_owner(dest, "ok", HOST_BASE, HOST_BASE, 0644);
    free(dest);
    free(parent);
}

/* protobuf Resource { uint32 uid = 1; uint32 gid = 2; } */
static void decode_rootless(const unsigned char *v, size_t n, uint64_t *uid, uint64_t *gid)
{
    *uid = *gid = 0; /* absent fields are 0 */
    size_t i = 0;
    while (i < n) {
        unsigned key = v[i++];
        uint64_t x = 0;
        for (unsigned shift = 0; i < n; shift += 7) {
            unsigned char c = v[i++];
            x |= (uint64_t)(c & 0x7f) << shift;
            if (!(c & 0x80))
                break;
        }
        assert_int_equal(key & 7, 0); /* varints only */
        if (key >> 3 == 1)
            *uid = x;
        else if (key >> 3 == 2)
            *gid = x;
        else
            fail_msg("unexpected field %u", key >> 3);
    }
}

/* The owner kept in user.rootlesscontainers: uid:gid, or none (root:root). */
static void assert_kept_owner(const char *root, const char *rel, long uid, long gid)
{
    char *p = tu_join(root, rel);
    unsigned char v[64];
    ssize_t n = lgetxattr(p, "user.rootlesscontainers", v, sizeof v);
    if (uid < 0) {
        assert_true(n < 0);
    } else {
        if (n < 0)
            print_error("%s: no user.rootlesscontainers: %s\n", rel, strerror(errno));
        assert_true(n >= 0);
        uint64_t u, g;
        decode_rootless(v, (size_t)n, &u, &g);
        /* 0 is written as 4294967295 ("no change"). */
        assert_int_equal(u == 4294967295u ? 0 : u, (uint64_t)uid);
        assert_int_equal(g == 4294967295u ? 0 : g, (uint64_t)gid);
    }
    free(p);
}

static void check_rootless_tree(const char *dest, unsigned owner)
{
    const char *all[] = {"etc", "etc/passwd", "etc/shadow", "home/user", "home/user/notes", "home/user/link",
                         "usr/bin/suid", "usr/bin/sgid", "nobody", "last", "tmp", NULL};
    for (size_t i = 0; all[i]; i++) {
        char *p = tu_join(dest, all[i]);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_uid, owner);
        assert_int_equal(st.st_gid, owner);
        free(p);
    }
    assert_owner(dest, "home/user", owner, owner, 0750);
    assert_owner(dest, "tmp", owner, owner, 01777);
    assert_kept_owner(dest, "etc/passwd", -1, -1);
    assert_kept_owner(dest, "etc/shadow", 0, 42);
    assert_kept_owner(dest, "home/user", 1000, 1000);
    assert_kept_owner(dest, "home/user/notes", 1000, 1001);
    assert_kept_owner(dest, "usr/bin/suid", 1000, 1000);
    assert_kept_owner(dest, "usr/bin/sgid", 0, 1000);
    assert_kept_owner(dest, "nobody", 65534, 65534);
    assert_kept_owner(dest, "last", 65535, 65535);
    /* Symlinks cannot hold user.* xattrs: none. */
    assert_kept_owner(dest, "home/user/link", -1, -1);
}

static void test_rootless_as_unprivileged_user(void **state)
{
    (void)state;
    char *parent = parent_for("user", UNPRIV, UNPRIV);
    char *dest = tu_join(parent, "rootfs");
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.owner_mode = OCIDIR_UNPACK_OWNER_ROOTLESS;
    run_child(AS_USER, NULL, "t", dest, &o);
    if (R->rc != 0)
        print_error("%s\n", R->msg);
    assert_int_equal(R->rc, 0);
    check_rootless_tree(dest, UNPRIV);
    /* The default mode, unprivileged, cannot chown: an error naming the
     * first entry whose owner it could not set, nothing left. */
    char *dest2 = tu_join(parent, "tar");
    run_child(AS_USER, NULL, "t", dest2, NULL);
    print_message("default owner mode, unprivileged: %d %s\n", R->rc, R->msg);
    assert_int_not_equal(R->rc, 0);
    assert_non_null(strstr(R->msg, "entry \""));
    assert_false(tu_exists(dest2));
    free(dest2);
    free(dest);
    free(parent);
}

static void test_single_id_namespace(void **state)
{
    (void)state;
    /* unshare --user --map-root-user, for the unprivileged user UNPRIV. */
    char map[64];
    snprintf(map, sizeof map, "0 %u 1", UNPRIV);
    char *parent = parent_for("single", UNPRIV, UNPRIV);
    char *dest = tu_join(parent, "rootfs");
    run_child(IN_USERNS, map, "t", dest, NULL);
    print_message("default owner mode, one id mapped: %d %s\n", R->rc, R->msg);
    assert_int_equal(R->rc, OCIDIR_E_INVALID);
    assert_non_null(strstr(R->msg, "42")); /* etc/shadow's gid, the first id not mapped */
    assert_non_null(strstr(R->msg, "\"etc/shadow\""));
    assert_false(tu_exists(dest));
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.owner_mode = OCIDIR_UNPACK_OWNER_ROOTLESS;
    run_child(IN_USERNS, map, "t", dest, &o);
    if (R->rc != 0)
        print_error("%s\n", R->msg);
    assert_int_equal(R->rc, 0);
    check_rootless_tree(dest, UNPRIV);
    free(dest);
    free(parent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_userns_full_map_keeps_ids),
        cmocka_unit_test(test_userns_unmapped_id_is_error_or_fallback),
        cmocka_unit_test(test_rootless_as_unprivileged_user),
        cmocka_unit_test(test_single_id_namespace),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
