/* Hostile layouts generator: see hostile_gen.h. */
#include "hostile_gen.h"

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- Small helpers (a setup failure is a broken test machine: abort) ---- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hostile_gen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (errno %d: %s)\n", errno, strerror(errno));
    va_end(ap);
    abort();
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0)
        die("out of memory");
    va_end(ap);
    return s;
}

static void write_all(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        die("creating %s", path);
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("writing %s", path);
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0)
        die("closing %s", path);
}

static void copy_file(const char *src, const char *dst)
{
    void *buf = NULL;
    ssize_t n = tu_read_file(src, &buf);
    if (n < 0)
        die("reading %s", src);
    write_all(dst, buf, (size_t)n);
    free(buf);
}

static void mkdir_p1(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die("mkdir %s", path);
}

/* Remove whatever is at path (a file, a symlink, a special file or a tree). */
static void remove_any(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode))
        tu_rm_rf(path);
    else if (unlink(path) != 0)
        die("unlink %s", path);
}

static void replace_symlink(const char *path, const char *target)
{
    remove_any(path);
    if (symlink(target, path) != 0)
        die("symlink %s -> %s", path, target);
}

static const char *hex_of(const char *digest)
{
    const char *c = strchr(digest, ':');
    return c ? c + 1 : digest;
}

/* A blob path in the current instance's layout. */
static char *lblob(const hg_env_t *e, const char *digest)
{
    return fmt("%s/blobs/sha256/%s", e->layout, hex_of(digest));
}

/* Store bytes under their sha256 in dir/<hex> (no fsync: test data). */
static void put_raw_in(const char *dir, const void *buf, size_t len, char digest[OCIDIR_DIGEST_MAX])
{
    if (ocidir_digest_buffer(OCIDIR_SHA256, buf, len, digest) != 0)
        die("hashing");
    char *p = fmt("%s/%s", dir, hex_of(digest));
    write_all(p, buf, len);
    free(p);
}

static void put_raw(const hg_env_t *e, const void *buf, size_t len, char digest[OCIDIR_DIGEST_MAX])
{
    char *dir = fmt("%s/blobs/sha256", e->layout);
    put_raw_in(dir, buf, len, digest);
    free(dir);
}

/* ---- The environment ---------------------------------------------------- */

static const char kManifestMT[] = "application/vnd.oci.image.manifest.v1+json";
static const char kIndexMT[] = "application/vnd.oci.image.index.v1+json";

static void make_base(hg_env_t *e)
{
    ocidir_t *d = NULL;
    if (ocidir_open(AT_FDCWD, e->base, OCIDIR_OPEN_CREATE, &d) != 0)
        die("creating base layout: %s", ocidir_last_error());
    ocidir_layer_writer_t *w = NULL;
    if (ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0, 1, &w) != 0)
        die("layer writer: %s", ocidir_last_error());
    static unsigned char tar[8192];
    tu_fill(tar, sizeof tar, 7);
    if (ocidir_layer_writer_write(w, tar, sizeof tar) != 0)
        die("layer write: %s", ocidir_last_error());
    ocidir_builder_t *b = NULL;
    if (ocidir_builder_new(d, NULL, &b) != 0 || ocidir_builder_add_layer_writer(b, w, "hostile base") != 0 ||
        ocidir_builder_set_label(b, "purpose", "hostile base") != 0 ||
        ocidir_builder_commit(b, "v1", 0, e->manifest) != 0)
        die("building base image: %s", ocidir_last_error());
    ocidir_builder_free(b);
    ocidir_image_t *img = NULL;
    char *mt = NULL;
    char **diff_ids = NULL;
    if (ocidir_image_open(d, "v1", NULL, &img) != 0 ||
        ocidir_image_config_descriptor(img, NULL, e->config, &e->config_size) != 0 ||
        ocidir_image_layer(img, 0, &mt, e->layer, &e->layer_size) != 0 ||
        ocidir_image_config_strv(img, OCIDIR_CONFIG_DIFF_IDS, &diff_ids) != 0 || !diff_ids || !diff_ids[0] ||
        ocidir_blob_stat(d, e->manifest, &e->manifest_size) != 0)
        die("reading base image back: %s", ocidir_last_error());
    snprintf(e->diff_id, sizeof e->diff_id, "%s", diff_ids[0]);
    memcpy(e->manifest0, e->manifest, sizeof e->manifest0);
    e->manifest0_size = e->manifest_size;
    e->layer_media_type = ocidir_compression_media_type(OCIDIR_COMPRESSION_GZIP);
    ocidir_free(mt);
    ocidir_strv_free(diff_ids);
    ocidir_image_close(img);
    ocidir_close(d);
}

/* The bait: a valid layout of its own (so that following an escape would
 * silently "work") plus copies of every base blob. */
static void make_bait(hg_env_t *e)
{
    mkdir_p1(e->bait);
    char *p = fmt("%s/blobs", e->bait);
    mkdir_p1(p);
    free(p);
    p = fmt("%s/blobs/sha256", e->bait);
    mkdir_p1(p);
    free(p);
    const char *files[] = {"oci-layout", "index.json"};
    for (size_t i = 0; i < 2; i++) {
        char *s = fmt("%s/%s", e->base, files[i]), *d = fmt("%s/%s", e->bait, files[i]);
        copy_file(s, d);
        free(s);
        free(d);
    }
    const char *blobs[] = {e->manifest, e->config, e->layer};
    for (size_t i = 0; i < 3; i++) {
        char *s = fmt("%s/blobs/sha256/%s", e->base, hex_of(blobs[i]));
        char *d = fmt("%s/blobs/sha256/%s", e->bait, hex_of(blobs[i]));
        copy_file(s, d);
        free(s);
        free(d);
    }
}

hg_env_t *hg_env_new(const char *root)
{
    hg_env_t *e = calloc(1, sizeof *e);
    if (!e)
        die("out of memory");
    e->root = strdup(root);
    e->base = fmt("%s/base", root);
    e->bait = fmt("%s/bait", root);
    e->heavy = fmt("%s/heavy", root);
    e->ino_fd = -1;
    const char *full = getenv("HOSTILE_FULL");
    e->full = full && *full && strcmp(full, "0") != 0;
    make_base(e);
    make_bait(e);
    mkdir_p1(e->heavy);
    /* Deliberately not O_CLOEXEC and kept open: forked children see the bait
     * directory as /proc/self/fd/<bait_fd>. */
    e->bait_fd = open(e->bait, O_PATH | O_DIRECTORY);
    if (e->bait_fd < 0)
        die("opening %s", e->bait);
    /* /proc/self/cwd/bait leads to the bait. */
    if (chdir(root) != 0)
        die("chdir %s", root);
    return e;
}

void hg_env_free(hg_env_t *e)
{
    if (!e)
        return;
    hg_bait_unwatch(e);
    hg_instance_remove(e);
    close(e->bait_fd);
    free(e->root);
    free(e->base);
    free(e->bait);
    free(e->heavy);
    free(e);
}

/* ---- Instances ---------------------------------------------------------- */

void hg_instance_remove(hg_env_t *e)
{
    if (e->inst)
        tu_rm_rf(e->inst);
    free(e->inst);
    free(e->layout);
    free(e->shared);
    free(e->cache);
    free(e->clone_dest);
    e->inst = e->layout = e->shared = e->cache = e->clone_dest = NULL;
}

static void copy_dir_files(const char *src, const char *dst)
{
    DIR *dp = opendir(src);
    if (!dp)
        die("opendir %s", src);
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.')
            continue;
        char *s = fmt("%s/%s", src, de->d_name), *d = fmt("%s/%s", dst, de->d_name);
        copy_file(s, d);
        free(s);
        free(d);
    }
    closedir(dp);
}

void hg_instance_make(hg_env_t *e, const hg_case_t *c, const char *name)
{
    hg_instance_remove(e);
    e->inst = fmt("%s/%s", e->root, name);
    e->layout = fmt("%s/layout", e->inst);
    e->shared = fmt("%s/shared", e->inst);
    e->cache = fmt("%s/cache", e->inst);
    e->clone_dest = fmt("%s/clone", e->inst);
    e->ref = "v1";
    memcpy(e->manifest, e->manifest0, sizeof e->manifest);
    e->manifest_size = e->manifest0_size;
    e->open_flags = 0;
    e->json_limit = 0;
    mkdir_p1(e->inst);
    mkdir_p1(e->layout);
    char *p = fmt("%s/blobs", e->layout);
    mkdir_p1(p);
    free(p);
    char *dst = fmt("%s/blobs/sha256", e->layout), *src = fmt("%s/blobs/sha256", e->base);
    mkdir_p1(dst);
    copy_dir_files(src, dst);
    free(src);
    free(dst);
    const char *files[] = {"oci-layout", "index.json"};
    for (size_t i = 0; i < 2; i++) {
        char *s = fmt("%s/%s", e->base, files[i]), *d = fmt("%s/%s", e->layout, files[i]);
        copy_file(s, d);
        free(s);
        free(d);
    }
    /* A shared cache: the layer and one blob nothing references. */
    mkdir_p1(e->shared);
    p = fmt("%s/sha256", e->shared);
    mkdir_p1(p);
    free(p);
    mkdir_p1(e->cache);
    p = fmt("%s/sha256", e->cache);
    mkdir_p1(p);
    char dg[OCIDIR_DIGEST_MAX];
    put_raw_in(p, "unreferenced cache blob", 23, dg);
    char *s = lblob(e, e->layer), *d = fmt("%s/%s", p, hex_of(e->layer));
    copy_file(s, d);
    free(s);
    free(d);
    free(p);
    if (c && c->plant)
        c->plant(e);
}

/* ---- Bait watching ------------------------------------------------------ */

static hg_env_t *watch_env;

static int watch_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    uint32_t mask = IN_OPEN | IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_CREATE |
                    IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DONT_FOLLOW;
    if (inotify_add_watch(watch_env->ino_fd, path, mask) < 0)
        die("inotify_add_watch %s", path);
    return 0;
}

void hg_bait_watch(hg_env_t *e)
{
    char desc[16];
    if (e->ino_fd >= 0) {
        /* Armed already (closing an inotify fd waits for an RCU grace
         * period, tens of ms): only forget what happened so far. */
        hg_bait_events(e, desc, sizeof desc);
        return;
    }
    e->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (e->ino_fd < 0)
        die("inotify_init1");
    watch_env = e;
    if (nftw(e->bait, watch_one, 16, FTW_PHYS) != 0)
        die("watching %s", e->bait);
    /* The walk itself opened the directories: forget those events. */
    hg_bait_events(e, desc, sizeof desc);
}

void hg_bait_unwatch(hg_env_t *e)
{
    if (e->ino_fd >= 0)
        close(e->ino_fd);
    e->ino_fd = -1;
}

int hg_bait_events(hg_env_t *e, char *desc, size_t n)
{
    if (n)
        desc[0] = '\0';
    if (e->ino_fd < 0)
        return 0;
    int count = 0;
    size_t used = 0;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t len = read(e->ino_fd, buf, sizeof buf);
        if (len <= 0)
            break;
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (!(ev->mask & IN_IGNORED)) {
                count++;
                if (used + 1 < n) {
                    int w = snprintf(desc + used, n - used, "%swd %d mask 0x%x%s%s", used ? "; " : "", ev->wd,
                                     (unsigned)ev->mask, ev->len ? " " : "", ev->len ? ev->name : "");
                    if (w > 0)
                        used += (size_t)w < n - used ? (size_t)w : n - used - 1;
                }
            }
            p += sizeof *ev + ev->len;
        }
    }
    return count;
}

char *hg_bait_listing(hg_env_t *e)
{
    return tu_tree_listing(e->bait);
}

/* ---- Planting: paths and targets ---------------------------------------- */

/* A path the library opens: its place in the layout and in the bait. */
typedef enum { P_OCI_LAYOUT, P_INDEX, P_BLOBS, P_ALG, P_MANIFEST, P_CONFIG, P_LAYER } place_t;

static char *rel_of(const hg_env_t *e, place_t p)
{
    switch (p) {
    case P_OCI_LAYOUT: return strdup("oci-layout");
    case P_INDEX: return strdup("index.json");
    case P_BLOBS: return strdup("blobs");
    case P_ALG: return strdup("blobs/sha256");
    case P_MANIFEST: return fmt("blobs/sha256/%s", hex_of(e->manifest));
    case P_CONFIG: return fmt("blobs/sha256/%s", hex_of(e->config));
    case P_LAYER: return fmt("blobs/sha256/%s", hex_of(e->layer));
    }
    return NULL;
}

static int depth_of(place_t p)
{
    return p <= P_BLOBS ? 0 : p == P_ALG ? 1 : 2;
}

typedef enum { T_ABS, T_REL, T_PROC_FD, T_PROC_ROOT, T_PROC_CWD } target_t;

/* A symlink at place p to the same name in the bait, by way of t. */
static void plant_link(hg_env_t *e, place_t p, target_t t)
{
    char *rel = rel_of(e, p);
    char *path = fmt("%s/%s", e->layout, rel);
    char *target = NULL;
    switch (t) {
    case T_ABS: target = fmt("%s/%s", e->bait, rel); break;
    case T_REL: {
        /* Up out of the layout and its instance directory: ../../bait/... */
        char up[64] = "";
        for (int i = 0; i < depth_of(p) + 2; i++)
            strcat(up, "../");
        target = fmt("%sbait/%s", up, rel);
        break;
    }
    case T_PROC_FD: target = fmt("/proc/self/fd/%d/%s", e->bait_fd, rel); break;
    case T_PROC_ROOT: target = fmt("/proc/self/root%s/%s", e->bait, rel); break;
    case T_PROC_CWD: target = fmt("/proc/self/cwd/bait/%s", rel); break;
    }
    replace_symlink(path, target);
    free(target);
    free(path);
    free(rel);
}

#define LINK_FN(pl, tg, name)                                                \
    static void plant_##name(hg_env_t *e) { plant_link(e, pl, tg); }
#define LINK_FNS(pl, pname)                               \
    LINK_FN(pl, T_ABS, pname##_abs)                       \
    LINK_FN(pl, T_REL, pname##_rel)                       \
    LINK_FN(pl, T_PROC_FD, pname##_procfd)                \
    LINK_FN(pl, T_PROC_ROOT, pname##_procroot)            \
    LINK_FN(pl, T_PROC_CWD, pname##_proccwd)
LINK_FNS(P_OCI_LAYOUT, ocilayout)
LINK_FNS(P_INDEX, index)
LINK_FNS(P_BLOBS, blobs)
LINK_FNS(P_ALG, alg)
LINK_FNS(P_MANIFEST, manifest)
LINK_FNS(P_CONFIG, config)
LINK_FNS(P_LAYER, layer)

/* Special files where a regular file is expected. */
typedef enum { S_FIFO, S_SOCK, S_CHR, S_BLK, S_DIR } special_t;

static void plant_special(hg_env_t *e, place_t p, special_t s)
{
    char *rel = rel_of(e, p);
    char *path = fmt("%s/%s", e->layout, rel);
    remove_any(path);
    int rc = 0;
    switch (s) {
    case S_FIFO: rc = mkfifo(path, 0644); break;
    case S_SOCK: {
        /* A bound socket with nobody accepting: a connect would not hang, a
         * read of an open()ed socket fails with ENXIO. */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (fd < 0 || strlen(path) >= sizeof a.sun_path) {
            rc = mknod(path, S_IFSOCK | 0644, 0);
        } else {
            snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
            rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        }
        if (fd >= 0)
            close(fd);
        break;
    }
    /* /dev/null's numbers: reading it would silently give an empty "file". */
    case S_CHR: rc = mknod(path, S_IFCHR | 0644, makedev(1, 3)); break;
    /* A loop device's numbers. */
    case S_BLK: rc = mknod(path, S_IFBLK | 0644, makedev(7, 0)); break;
    case S_DIR: rc = mkdir(path, 0755); break;
    }
    if (rc != 0)
        die("making a special file at %s", path);
    free(path);
    free(rel);
}

#define SPECIAL_FNS(pl, pname)                                                       \
    static void plant_##pname##_fifo(hg_env_t *e) { plant_special(e, pl, S_FIFO); } \
    static void plant_##pname##_sock(hg_env_t *e) { plant_special(e, pl, S_SOCK); } \
    static void plant_##pname##_chr(hg_env_t *e) { plant_special(e, pl, S_CHR); }   \
    static void plant_##pname##_blk(hg_env_t *e) { plant_special(e, pl, S_BLK); }   \
    static void plant_##pname##_dir(hg_env_t *e) { plant_special(e, pl, S_DIR); }
SPECIAL_FNS(P_OCI_LAYOUT, ocilayout)
SPECIAL_FNS(P_INDEX, index)
SPECIAL_FNS(P_MANIFEST, manifest)
SPECIAL_FNS(P_CONFIG, config)
SPECIAL_FNS(P_LAYER, layer)

/* A regular file where a directory is expected. */
static void plant_blobs_file(hg_env_t *e)
{
    char *p = fmt("%s/blobs", e->layout);
    remove_any(p);
    write_all(p, "x", 1);
    free(p);
}
static void plant_alg_file(hg_env_t *e)
{
    char *p = fmt("%s/blobs/sha256", e->layout);
    remove_any(p);
    write_all(p, "x", 1);
    free(p);
}

/* ---- Opt-in: blobs/sha256 as a symlink to a shared directory ------------ */

/* Move the layout's blobs into <inst>/shared/sha256 and link to it. */
static void move_blobs_to_shared(hg_env_t *e, const char *link_target)
{
    const char *blobs[] = {e->manifest, e->config, e->layer};
    for (size_t i = 0; i < 3; i++) {
        char *s = lblob(e, blobs[i]), *d = fmt("%s/sha256/%s", e->shared, hex_of(blobs[i]));
        copy_file(s, d);
        free(s);
        free(d);
    }
    char *alg = fmt("%s/blobs/sha256", e->layout);
    replace_symlink(alg, link_target);
    free(alg);
}
static void plant_shared_default(hg_env_t *e)
{
    move_blobs_to_shared(e, "../../shared/sha256");
}
static void plant_shared_optin(hg_env_t *e)
{
    move_blobs_to_shared(e, "../../shared/sha256");
    e->open_flags = OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK;
}
/* Opted in, and inside the shared directory a blob escapes further: the
 * confinement holds beneath the followed directory. */
static void plant_shared_optin_escape(hg_env_t *e)
{
    plant_shared_optin(e);
    char *p = fmt("%s/sha256/%s", e->shared, hex_of(e->layer));
    char *t = fmt("../../../bait/blobs/sha256/%s", hex_of(e->layer));
    replace_symlink(p, t);
    free(p);
    free(t);
}
static void plant_shared_optin_abs_escape(hg_env_t *e)
{
    plant_shared_optin(e);
    char *p = fmt("%s/sha256/%s", e->shared, hex_of(e->manifest));
    char *t = fmt("%s/blobs/sha256/%s", e->bait, hex_of(e->manifest));
    replace_symlink(p, t);
    free(p);
    free(t);
}
/* Opted in, with a /proc magic link as the symlink's target. */
static void plant_shared_optin_magic(hg_env_t *e)
{
    char *t = fmt("/proc/self/cwd/%s/shared/sha256", strrchr(e->inst, '/') + 1);
    move_blobs_to_shared(e, t);
    free(t);
    e->open_flags = OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK;
}

/* ---- Hard links --------------------------------------------------------- */

/* The layer's name in the layout is a second name of a file outside it (not
 * the watched bait: a hard link is the same inode, so its accesses are the
 * layout's own).  Same content: everything works; tampered: verified. */
static void plant_hardlink(hg_env_t *e, int tamper)
{
    char *outside = fmt("%s/outside", e->inst);
    mkdir_p1(outside);
    char *o = fmt("%s/%s", outside, hex_of(e->layer)), *l = lblob(e, e->layer);
    copy_file(l, o);
    if (tamper) {
        int fd = open(o, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || pwrite(fd, "\xff", 1, 100) != 1)
            die("tampering %s", o);
        close(fd);
    }
    remove_any(l);
    if (link(o, l) != 0)
        die("link %s %s", o, l);
    free(o);
    free(l);
    free(outside);
}
static void plant_hardlink_same(hg_env_t *e) { plant_hardlink(e, 0); }
static void plant_hardlink_tampered(hg_env_t *e) { plant_hardlink(e, 1); }

/* ---- Huge sparse files -------------------------------------------------- */

static void sparse_at(const char *path, off_t size)
{
    remove_any(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, size) != 0)
        die("making %s sparse", path);
    close(fd);
}
#define TB ((off_t)1 << 40)
#define GB ((off_t)1 << 30)
static void plant_layer_sparse_1t(hg_env_t *e) { char *p = lblob(e, e->layer); sparse_at(p, TB); free(p); }
static void plant_config_sparse_1t(hg_env_t *e) { char *p = lblob(e, e->config); sparse_at(p, TB); free(p); }
static void plant_manifest_sparse_1t(hg_env_t *e) { char *p = lblob(e, e->manifest); sparse_at(p, TB); free(p); }
static void plant_index_sparse_1g(hg_env_t *e)
{
    char *p = fmt("%s/index.json", e->layout);
    sparse_at(p, GB);
    free(p);
}
static void plant_ocilayout_sparse_1g(hg_env_t *e)
{
    char *p = fmt("%s/oci-layout", e->layout);
    sparse_at(p, GB);
    free(p);
}

/* A file made once under heavy/ and hard-linked into each instance. */
static void link_heavy(hg_env_t *e, const char *heavy_name, const char *dst_rel,
                       void (*make)(hg_env_t *e, const char *path))
{
    char *h = fmt("%s/%s", e->heavy, heavy_name);
    struct stat st;
    if (lstat(h, &st) != 0)
        make(e, h);
    char *d = fmt("%s/%s", e->layout, dst_rel);
    remove_any(d);
    if (link(h, d) != 0)
        die("link %s %s", h, d);
    free(d);
    free(h);
}

/* The base index.json's entries, and a document wrapping entries. */
static char *v1_entry(const hg_env_t *e)
{
    return fmt("{\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"},\"digest\":\"%s\","
               "\"mediaType\":\"%s\",\"size\":%llu}",
               e->manifest, kManifestMT, (unsigned long long)e->manifest_size);
}

/* index.json made of head, whitespace of `pad` bytes, and the v1 entry. */
static void make_ws_index(hg_env_t *e, const char *path, off_t pad)
{
    char *entry = v1_entry(e);
    char *head = fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[", kIndexMT);
    char *tail = fmt("%s]}", entry);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, head, strlen(head)) != (ssize_t)strlen(head))
        die("writing %s", path);
    static char ws[1 << 20];
    for (size_t i = 0; i < sizeof ws; i++)
        ws[i] = " \n\t\r"[i % 4];
    for (off_t done = 0; done < pad;) {
        size_t n = (size_t)(pad - done) < sizeof ws ? (size_t)(pad - done) : sizeof ws;
        if (write(fd, ws, n) != (ssize_t)n)
            die("writing %s", path);
        done += (off_t)n;
    }
    if (write(fd, tail, strlen(tail)) != (ssize_t)strlen(tail) || close(fd) != 0)
        die("writing %s", path);
    free(entry);
    free(head);
    free(tail);
}
static void make_ws_1g(hg_env_t *e, const char *path) { (void)e; make_ws_index(e, path, GB); }
/* Under the 64 MiB limit, so parsed whole. */
static void make_ws_valid(hg_env_t *e, const char *path) { make_ws_index(e, path, e->full ? 60 << 20 : 8 << 20); }
static void plant_index_ws_1g(hg_env_t *e) { link_heavy(e, "index-ws-1g.json", "index.json", make_ws_1g); }
static void plant_index_ws_valid(hg_env_t *e) { link_heavy(e, "index-ws-valid.json", "index.json", make_ws_valid); }

/* ---- JSON bombs in index.json and in the manifest ----------------------- */

static void write_index_text(hg_env_t *e, const char *text, size_t len)
{
    char *p = fmt("%s/index.json", e->layout);
    remove_any(p);
    write_all(p, text, len);
    free(p);
}

/* index.json with the v1 entry plus `extra` entries (a JSON fragment, may be ""). */
static void write_index_with(hg_env_t *e, const char *extra)
{
    char *entry = v1_entry(e);
    char *doc = fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[%s%s%s]}", kIndexMT, entry,
                    *extra ? "," : "", extra);
    write_index_text(e, doc, strlen(doc));
    free(doc);
    free(entry);
}

static char *nest(size_t depth)
{
    char *s = malloc(2 * depth + 1);
    if (!s)
        die("out of memory");
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    return s;
}

static void plant_index_deep_nesting(hg_env_t *e)
{
    char *n = nest(100000);
    char *x = fmt("{\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%llu,\"annotations\":{\"x\":\"y\"},\"z\":%s}",
                  e->manifest, kManifestMT, (unsigned long long)e->manifest_size, n);
    write_index_with(e, x);
    free(x);
    free(n);
}

/* One entry repeated: 10^6 (HOSTILE_FULL; else 10^5) references to the same blob. */
static void make_million(hg_env_t *e, const char *path)
{
    size_t count = e->full ? 1000000 : 100000;
    char *one = fmt("{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu}", kManifestMT, e->manifest,
                    (unsigned long long)e->manifest_size);
    char *entry = v1_entry(e);
    FILE *f = fopen(path, "we");
    if (!f)
        die("creating %s", path);
    fprintf(f, "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[%s", kIndexMT, entry);
    for (size_t i = 0; i < count; i++)
        fprintf(f, ",%s", one);
    fputs("]}", f);
    if (fclose(f) != 0)
        die("writing %s", path);
    free(one);
    free(entry);
}
static void plant_index_million_entries(hg_env_t *e)
{
    link_heavy(e, "index-million.json", "index.json", make_million);
    e->json_limit = (size_t)1 << 30;
}

static void plant_index_huge_string(hg_env_t *e)
{
    size_t n = e->full ? (size_t)32 << 20 : (size_t)4 << 20;
    char *s = malloc(n + 1);
    if (!s)
        die("out of memory");
    memset(s, 'a', n);
    s[n] = '\0';
    char *x = fmt("{\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%llu,\"annotations\":{\"huge\":\"%s\"}}",
                  e->manifest, kManifestMT, (unsigned long long)e->manifest_size, s);
    write_index_with(e, x);
    free(x);
    free(s);
}

static void plant_index_duplicate_keys(hg_env_t *e)
{
    char *doc = fmt("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"digest\":\"%s\","
                    "\"size\":%llu,\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}]}",
                    kManifestMT, e->config, e->manifest, (unsigned long long)e->manifest_size);
    write_index_text(e, doc, strlen(doc));
    free(doc);
}

static void plant_index_invalid_utf8(hg_env_t *e) { write_index_with(e, "{\"annotations\":{\"k\":\"\xc3\x28\xff\"}}"); }

static void plant_index_nul_bytes(hg_env_t *e)
{
    char *entry = v1_entry(e);
    char *doc = fmt("{\"schemaVersion\":2,\"manifests\":[%s]}", entry);
    size_t len = strlen(doc);
    char *withnul = malloc(len + 8);
    memcpy(withnul, doc, len);
    memcpy(withnul + len, "\0\0\0 \0", 5);
    write_index_text(e, withnul, len + 5);
    free(withnul);
    free(doc);
    free(entry);
}

static void index_with_v1_size(hg_env_t *e, const char *size)
{
    char *doc = fmt("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s,"
                    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}]}",
                    kManifestMT, e->manifest, size);
    write_index_text(e, doc, strlen(doc));
    free(doc);
}
static void plant_index_size_1e999(hg_env_t *e) { index_with_v1_size(e, "1e999"); }
static void plant_index_size_negative(hg_env_t *e) { index_with_v1_size(e, "-1"); }
static void plant_index_size_2_64(hg_env_t *e) { index_with_v1_size(e, "18446744073709551616"); }
static void plant_index_size_wrong(hg_env_t *e) { index_with_v1_size(e, "3"); }

/* The v1 tag moved to a new manifest document (stored under its digest). */
static void retag_v1(hg_env_t *e, const char *doc, size_t len)
{
    char dg[OCIDIR_DIGEST_MAX];
    put_raw(e, doc, len, dg);
    char *idx = fmt("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
                    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}]}",
                    kManifestMT, dg, len);
    write_index_text(e, idx, strlen(idx));
    free(idx);
    /* Operations by digest now name this manifest. */
    memcpy(e->manifest, dg, sizeof e->manifest);
    e->manifest_size = len;
}

static char *manifest_doc(const hg_env_t *e, const char *layer_size, const char *extra)
{
    return fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
               "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%llu},"
               "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s}]%s}",
               kManifestMT, e->config, (unsigned long long)e->config_size, e->layer_media_type, e->layer, layer_size,
               extra);
}
static void plant_manifest_deep_nesting(hg_env_t *e)
{
    char *n = nest(100000);
    char *x = fmt(",\"bomb\":%s", n);
    char *size = fmt("%llu", (unsigned long long)e->layer_size);
    char *doc = manifest_doc(e, size, x);
    retag_v1(e, doc, strlen(doc));
    free(doc);
    free(size);
    free(x);
    free(n);
}
static void plant_manifest_size_1e999(hg_env_t *e)
{
    char *doc = manifest_doc(e, "1e999", "");
    retag_v1(e, doc, strlen(doc));
    free(doc);
}
static void plant_manifest_size_negative(hg_env_t *e)
{
    char *doc = manifest_doc(e, "-5", "");
    retag_v1(e, doc, strlen(doc));
    free(doc);
}
static void plant_manifest_huge_layers(hg_env_t *e)
{
    /* 200,000 layers (HOSTILE_FULL; else 20,000), every one the same blob. */
    size_t n = e->full ? 200000 : 20000;
    char *one = fmt("{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu}", e->layer_media_type, e->layer,
                    (unsigned long long)e->layer_size);
    size_t ol = strlen(one);
    char *layers = malloc(n * (ol + 1) + 1);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            layers[off++] = ',';
        memcpy(layers + off, one, ol);
        off += ol;
    }
    layers[off] = '\0';
    char *doc = fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
                    "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%llu},\"layers\":[%s]}",
                    kManifestMT, e->config, (unsigned long long)e->config_size, layers);
    retag_v1(e, doc, strlen(doc));
    free(doc);
    free(layers);
    free(one);
}
static void plant_manifest_duplicate_keys(hg_env_t *e)
{
    char *size = fmt("%llu", (unsigned long long)e->layer_size);
    char *x = fmt(",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
                  "\"size\":%llu}",
                  e->layer, (unsigned long long)e->layer_size);
    char *doc = manifest_doc(e, size, x);
    retag_v1(e, doc, strlen(doc));
    free(doc);
    free(x);
    free(size);
}

/* ---- Odd names ---------------------------------------------------------- */

static void stray(hg_env_t *e, const char *dir_rel, const char *name)
{
    char *d = fmt("%s/%s", e->layout, dir_rel);
    mkdir_p1(d);
    char *p = fmt("%s/%s", d, name);
    char *l = lblob(e, e->layer);
    copy_file(l, p);
    free(l);
    free(p);
    free(d);
}
static void plant_name_newline(hg_env_t *e) { stray(e, "blobs/sha256", "abc\ndef\n"); }
static void plant_name_control(hg_env_t *e) { stray(e, "blobs/sha256", "\x01\x1b[31mred\x7f"); }
static void plant_name_long(hg_env_t *e)
{
    char n[256];
    memset(n, 'a', 255);
    n[255] = '\0';
    stray(e, "blobs/sha256", n);
}
static void plant_name_uppercase_hex(hg_env_t *e)
{
    char up[OCIDIR_DIGEST_MAX];
    snprintf(up, sizeof up, "%s", hex_of(e->layer));
    for (char *p = up; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    stray(e, "blobs/sha256", up);
}
static void plant_name_short_hex(hg_env_t *e)
{
    char s[80];
    snprintf(s, sizeof s, "%.63s", hex_of(e->layer));
    stray(e, "blobs/sha256", s);
}
static void plant_name_unknown_alg(hg_env_t *e) { stray(e, "blobs/md5", "d41d8cd98f00b204e9800998ecf8427e"); }
static void plant_name_upper_alg_dir(hg_env_t *e) { stray(e, "blobs/SHA256", hex_of(e->layer)); }
static void plant_name_stray_symlink(hg_env_t *e)
{
    /* An unreferenced, well-named blob that escapes: gc and fsck meet it. */
    char dg[OCIDIR_DIGEST_MAX];
    ocidir_digest_buffer(OCIDIR_SHA256, "stray", 5, dg);
    char *p = lblob(e, dg);
    char *t = fmt("%s/blobs/sha256/%s", e->bait, hex_of(e->layer));
    replace_symlink(p, t);
    free(t);
    free(p);
}
static void plant_name_stray_fifo(hg_env_t *e)
{
    char dg[OCIDIR_DIGEST_MAX];
    ocidir_digest_buffer(OCIDIR_SHA256, "stray fifo", 10, dg);
    char *p = lblob(e, dg);
    if (mkfifo(p, 0644) != 0)
        die("mkfifo %s", p);
    free(p);
}

static void tag_entry(hg_env_t *e, const char *tag)
{
    char *x = fmt("{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu,"
                  "\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}}",
                  kManifestMT, e->manifest, (unsigned long long)e->manifest_size, tag);
    write_index_with(e, x);
    free(x);
}
static void plant_tag_newline(hg_env_t *e) { tag_entry(e, "evil\\ntag"); }
static void plant_tag_control(hg_env_t *e) { tag_entry(e, "\\u0001\\u001b[2Jx"); }
static void plant_tag_dotdot(hg_env_t *e) { tag_entry(e, "../../etc/passwd"); }
static void plant_tag_long(hg_env_t *e)
{
    char t[10001];
    memset(t, 'a', 10000);
    t[10000] = '\0';
    tag_entry(e, t);
}

/* ---- Deep and wide graphs ----------------------------------------------- */

/* heavy/<name>/ holds the blobs, linked one by one into each instance. */
static void link_heavy_dir(hg_env_t *e, const char *name)
{
    char *h = fmt("%s/%s", e->heavy, name);
    char *dst = fmt("%s/blobs/sha256", e->layout);
    DIR *dp = opendir(h);
    if (!dp)
        die("opendir %s", h);
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "top") == 0)
            continue;
        char *s = fmt("%s/%s", h, de->d_name), *d = fmt("%s/%s", dst, de->d_name);
        if (link(s, d) != 0 && errno != EEXIST)
            die("link %s", d);
        free(s);
        free(d);
    }
    closedir(dp);
    free(dst);
    free(h);
}

/* An index entry for tag `tag` naming heavy/<name>/top (digest and size). */
static void tag_heavy_top(hg_env_t *e, const char *name, const char *tag)
{
    char *top = fmt("%s/%s/top", e->heavy, name);
    void *buf = NULL;
    if (tu_read_file(top, &buf) < 0)
        die("reading %s", top);
    char *x = fmt("{\"mediaType\":\"%s\",%s,\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}}",
                  kIndexMT, (char *)buf, tag);
    write_index_with(e, x);
    free(x);
    free(buf);
    free(top);
}

static void write_top(const char *dir, const char *digest, size_t size)
{
    char *p = fmt("%s/top", dir);
    char *t = fmt("\"digest\":\"%s\",\"size\":%zu", digest, size);
    write_all(p, t, strlen(t) + 1);
    free(t);
    free(p);
}

/* A chain of 10,000 indexes (HOSTILE_FULL; else 3,000), each naming the next. */
static void make_deep(hg_env_t *e, const char *dir)
{
    mkdir_p1(dir);
    size_t n = e->full ? 10000 : 3000;
    char prev[OCIDIR_DIGEST_MAX];
    snprintf(prev, sizeof prev, "%s", e->manifest);
    size_t prev_size = e->manifest_size;
    const char *prev_mt = kManifestMT;
    for (size_t i = 0; i < n; i++) {
        char *doc = fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\","
                        "\"digest\":\"%s\",\"size\":%zu}]}",
                        kIndexMT, prev_mt, prev, prev_size);
        put_raw_in(dir, doc, strlen(doc), prev);
        prev_size = strlen(doc);
        prev_mt = kIndexMT;
        free(doc);
    }
    write_top(dir, prev, prev_size);
}
static void plant_graph_deep(hg_env_t *e)
{
    char *h = fmt("%s/deep", e->heavy);
    struct stat st;
    if (lstat(h, &st) != 0)
        make_deep(e, h);
    free(h);
    link_heavy_dir(e, "deep");
    tag_heavy_top(e, "deep", "deep");
    e->ref = "deep";
}

/* One index with 100,000 entries (HOSTILE_FULL; else 20,000), all the same manifest. */
static void make_wide(hg_env_t *e, const char *dir)
{
    mkdir_p1(dir);
    size_t n = e->full ? 100000 : 20000;
    char *one = fmt("{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu}", kManifestMT, e->manifest,
                    (unsigned long long)e->manifest_size);
    size_t ol = strlen(one);
    char *head = fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[", kIndexMT);
    size_t hl = strlen(head);
    char *doc = malloc(hl + n * (ol + 1) + 3);
    memcpy(doc, head, hl);
    size_t off = hl;
    for (size_t i = 0; i < n; i++) {
        if (i)
            doc[off++] = ',';
        memcpy(doc + off, one, ol);
        off += ol;
    }
    memcpy(doc + off, "]}", 2);
    off += 2;
    char dg[OCIDIR_DIGEST_MAX];
    put_raw_in(dir, doc, off, dg);
    write_top(dir, dg, off);
    free(doc);
    free(head);
    free(one);
}
static void plant_graph_wide(hg_env_t *e)
{
    char *h = fmt("%s/wide", e->heavy);
    struct stat st;
    if (lstat(h, &st) != 0)
        make_wide(e, h);
    free(h);
    link_heavy_dir(e, "wide");
    tag_heavy_top(e, "wide", "wide");
    e->ref = "wide";
}

/* ---- The cases ---------------------------------------------------------- */

#define R(c) HG_R(OCIDIR_E_##c)
#define OK HG_R_OK
#define DMG HG_R_DAMAGED
#define O(op, m) {HG_OP_##op, (m)}

/* The rules.  A manifest that cannot be read damages the graph: gc, clone and
 * cache gc refuse to run (the walk reports an escape as an I/O finding, so
 * the code is OCIDIR_E_IO); tag_remove_gc drops the tag first, after which
 * nothing references it.  A config or layer that cannot be read is a leaf gc
 * never opens (it keeps or removes it by name), blob_remove removes the
 * entry itself (unlink follows nothing), and writing the same content again
 * keeps "the existing file" (documented) only when it is a regular file: over
 * a symlink or special file, commit fails with FORMAT. */
#define LEAF_OVERRIDES O(GC_DRY, OK), O(GC, OK), O(IMAGE_REMOVE, OK), O(CACHE_GC, OK)
#define ESC_OPEN HG_AT_OPEN, R(ESCAPE), 0, {{0, 0}}
#define ESC_MANIFEST                                                                                   \
    HG_AT_MANIFEST, R(ESCAPE), HG_F_FSCK_DAMAGE,                                                       \
    {                                                                                                  \
        O(GC_DRY, R(IO)), O(GC, R(IO)), O(CLONE, R(IO)), O(CACHE_GC, R(IO)), O(IMAGE_REMOVE, OK)       \
    }
#define ESC_LEAF(at, rewrite) \
    at, R(ESCAPE), HG_F_FSCK_DAMAGE, {LEAF_OVERRIDES, O(BLOB_REMOVE, OK), O(BLOB_WRITE_EXISTING, rewrite)}
#define SPECIAL_MANIFEST HG_AT_MANIFEST, R(FORMAT), HG_F_FSCK_DAMAGE, {O(IMAGE_REMOVE, OK)}
#define SPECIAL_LEAF(at) at, R(FORMAT), HG_F_FSCK_DAMAGE, {LEAF_OVERRIDES, O(BLOB_REMOVE, OK)}
/* A directory at a blob's name is not removed by blob_remove. */
#define DIR_LEAF(at) at, R(FORMAT), HG_F_FSCK_DAMAGE, {LEAF_OVERRIDES}

#define LINK_CASES(pname, ...)                                       \
    {#pname "_symlink_abs", plant_##pname##_abs, __VA_ARGS__},           \
    {#pname "_symlink_rel", plant_##pname##_rel, __VA_ARGS__},           \
    {#pname "_symlink_procfd", plant_##pname##_procfd, __VA_ARGS__},     \
    {#pname "_symlink_procroot", plant_##pname##_procroot, __VA_ARGS__}, \
    {#pname "_symlink_proccwd", plant_##pname##_proccwd, __VA_ARGS__}
#define SPECIAL_CASES(pname, ...)                         \
    {#pname "_fifo", plant_##pname##_fifo, __VA_ARGS__},     \
    {#pname "_socket", plant_##pname##_sock, __VA_ARGS__},   \
    {#pname "_chardev", plant_##pname##_chr, __VA_ARGS__},   \
    {#pname "_blockdev", plant_##pname##_blk, __VA_ARGS__},  \
    {#pname "_dir", plant_##pname##_dir, __VA_ARGS__}

/* A malformed index.json: everything that reads it fails, blob lookups do not. */
#define INDEX_FORMAT HG_AT_INDEX, R(FORMAT), HG_F_FSCK_DAMAGE, {{0, 0}}
/* A v1 manifest document that is malformed. */
#define DOC_FORMAT HG_AT_DOC, R(FORMAT), HG_F_FSCK_DAMAGE, {O(IMAGE_REMOVE, OK)}

static const hg_case_t cases[] = {
    /* Symlinks at every path the library opens, to valid bait content. */
    LINK_CASES(ocilayout, ESC_OPEN),
    LINK_CASES(index, ESC_OPEN),
    LINK_CASES(blobs, ESC_OPEN),
    LINK_CASES(alg, ESC_OPEN),
    LINK_CASES(manifest, ESC_MANIFEST),
    LINK_CASES(config, ESC_LEAF(HG_AT_CONFIG, OK)),
    LINK_CASES(layer, ESC_LEAF(HG_AT_LAYER, R(FORMAT))),
    /* The documented opt-in: blobs/sha256 -> a directory outside.  Refused
     * by default; followed with the flag (a blob that lives only there is
     * not removed: NOT_FOUND, documented), and confinement holds beneath it. */
    {"shared_symlink_default_refused", plant_shared_default, ESC_OPEN},
    {"shared_symlink_optin", plant_shared_optin, 0, 0, 0, {O(BLOB_REMOVE, R(NOT_FOUND))}},
    /* Refused (ESCAPE) where openat2 is used; followed by the fallback
     * resolver.  test_open asserts the exact outcome per resolver. */
    {"shared_symlink_optin_via_proc_magic_link", plant_shared_optin_magic, HG_AT_OPEN, R(ESCAPE) | OK, 0,
     {O(BLOB_REMOVE, R(ESCAPE) | R(NOT_FOUND))}},
    {"shared_symlink_optin_rel_escape_beneath", plant_shared_optin_escape, HG_AT_LAYER, R(ESCAPE), HG_F_FSCK_DAMAGE,
     {LEAF_OVERRIDES, O(BLOB_REMOVE, R(NOT_FOUND)), O(BLOB_WRITE_EXISTING, R(FORMAT))}},
    {"shared_symlink_optin_abs_escape_beneath", plant_shared_optin_abs_escape, HG_AT_MANIFEST, R(ESCAPE),
     HG_F_FSCK_DAMAGE,
     {O(GC_DRY, R(IO)), O(GC, R(IO)), O(CLONE, R(IO)), O(CACHE_GC, R(IO)), O(IMAGE_REMOVE, OK),
      O(BLOB_REMOVE, R(NOT_FOUND))}},
    /* Hard links: the library cannot see a hard link's other name; what it
     * can do is verify the content (stat and open_fd do not, documented). */
    {"layer_hardlink_outside_same", plant_hardlink_same, 0, 0, 0, {{0, 0}}},
    {"layer_hardlink_outside_tampered", plant_hardlink_tampered, HG_AT_LAYER, R(DIGEST), HG_F_FSCK_DAMAGE,
     {LEAF_OVERRIDES, O(BLOB_STAT, OK), O(BLOB_OPEN_FD, OK), O(BLOB_REMOVE, OK), O(BUILDER_COMMIT, OK),
      O(BLOB_WRITE_EXISTING, OK)}},
    /* Special files where a file is expected; files where a directory is. */
    SPECIAL_CASES(ocilayout, HG_AT_OPEN, R(FORMAT), 0, {{0, 0}}),
    SPECIAL_CASES(index, HG_AT_OPEN, R(FORMAT), 0, {{0, 0}}),
    SPECIAL_CASES(manifest, SPECIAL_MANIFEST),
    {"config_fifo", plant_config_fifo, SPECIAL_LEAF(HG_AT_CONFIG)},
    {"config_socket", plant_config_sock, SPECIAL_LEAF(HG_AT_CONFIG)},
    {"config_chardev", plant_config_chr, SPECIAL_LEAF(HG_AT_CONFIG)},
    {"config_blockdev", plant_config_blk, SPECIAL_LEAF(HG_AT_CONFIG)},
    {"config_dir", plant_config_dir, DIR_LEAF(HG_AT_CONFIG)},
    {"layer_fifo", plant_layer_fifo, SPECIAL_LEAF(HG_AT_LAYER)},
    {"layer_socket", plant_layer_sock, SPECIAL_LEAF(HG_AT_LAYER)},
    {"layer_chardev", plant_layer_chr, SPECIAL_LEAF(HG_AT_LAYER)},
    {"layer_blockdev", plant_layer_blk, SPECIAL_LEAF(HG_AT_LAYER)},
    {"layer_dir", plant_layer_dir, DIR_LEAF(HG_AT_LAYER)},
    {"blobs_regular_file", plant_blobs_file, HG_AT_OPEN, R(FORMAT), 0, {{0, 0}}},
    {"alg_regular_file", plant_alg_file, HG_AT_OPEN, R(FORMAT), 0, {{0, 0}}},
    /* Huge sparse files (the descriptors keep the real sizes): refused by
     * size before anything is read; stat and open_fd do not verify. */
    {"layer_sparse_1tb", plant_layer_sparse_1t, HG_AT_LAYER, R(SIZE), HG_F_FSCK_DAMAGE,
     {LEAF_OVERRIDES, O(BLOB_STAT, OK), O(BLOB_OPEN_FD, OK), O(BLOB_REMOVE, OK), O(BUILDER_COMMIT, OK),
      O(BLOB_WRITE_EXISTING, OK)}},
    {"config_sparse_1tb", plant_config_sparse_1t, HG_AT_CONFIG, R(SIZE), HG_F_FSCK_DAMAGE,
     {LEAF_OVERRIDES, O(BLOB_STAT, OK), O(BLOB_OPEN_FD, OK)}},
    {"manifest_sparse_1tb", plant_manifest_sparse_1t, HG_AT_MANIFEST, R(SIZE), HG_F_FSCK_DAMAGE,
     {O(BLOB_STAT, OK), O(BLOB_OPEN_FD, OK), O(IMAGE_REMOVE, OK), O(RESOLVE_DIGEST, R(TOO_LARGE)),
      O(TAG_SET, R(TOO_LARGE))}},
    /* index.json over the JSON limit: refused unread (gc reports it as a
     * damaged graph: FORMAT, documented). */
    {"index_sparse_1gb", plant_index_sparse_1g, HG_AT_INDEX, R(TOO_LARGE), HG_F_FSCK_DAMAGE,
     {O(GC_DRY, R(FORMAT)), O(GC, R(FORMAT)), O(CACHE_GC, R(FORMAT))}},
    {"index_whitespace_1gb", plant_index_ws_1g, HG_AT_INDEX, R(TOO_LARGE), HG_F_FSCK_DAMAGE,
     {O(GC_DRY, R(FORMAT)), O(GC, R(FORMAT)), O(CACHE_GC, R(FORMAT))}},
    {"index_whitespace_valid", plant_index_ws_valid, 0, 0, 0, {{0, 0}}},
    {"ocilayout_sparse_1gb", plant_ocilayout_sparse_1g, HG_AT_OPEN, R(TOO_LARGE), 0, {{0, 0}}},
    /* JSON bombs. */
    {"index_nesting_100k", plant_index_deep_nesting, INDEX_FORMAT},
    {"index_many_entries_same_blob", plant_index_million_entries, 0, 0, 0, {{0, 0}}},
    {"index_huge_string", plant_index_huge_string, 0, 0, 0, {{0, 0}}},
    {"index_duplicate_keys", plant_index_duplicate_keys, INDEX_FORMAT},
    {"index_invalid_utf8", plant_index_invalid_utf8, INDEX_FORMAT},
    {"index_nul_bytes", plant_index_nul_bytes, INDEX_FORMAT},
    {"index_size_1e999", plant_index_size_1e999, INDEX_FORMAT},
    {"index_size_2_64", plant_index_size_2_64, INDEX_FORMAT},
    /* A negative size parses as a number: readers refuse the entry, while
     * writers keep entries "as they are" (documented) and can remove it. */
    {"index_size_negative", plant_index_size_negative, HG_AT_INDEX, R(FORMAT), HG_F_FSCK_DAMAGE,
     {O(TAG_SET, OK), O(TAG_REMOVE, OK), O(IMAGE_REMOVE, OK)}},
    {"index_size_wrong", plant_index_size_wrong, HG_AT_V1, R(SIZE), HG_F_FSCK_DAMAGE, {O(IMAGE_REMOVE, OK)}},
    {"manifest_nesting_100k", plant_manifest_deep_nesting, DOC_FORMAT},
    {"manifest_layer_size_1e999", plant_manifest_size_1e999, DOC_FORMAT},
    {"manifest_layer_size_negative", plant_manifest_size_negative, DOC_FORMAT},
    {"manifest_duplicate_keys", plant_manifest_duplicate_keys, DOC_FORMAT},
    /* Many layers against a config with one diff_id: opening a layer or
     * building on it is FORMAT; inspecting is not. */
    {"manifest_many_layers_same_blob", plant_manifest_huge_layers, 0, 0, 0,
     {O(LAYER_READ, R(FORMAT)), O(BUILDER_COMMIT, R(FORMAT))}},
    /* Names in blobs/ and tags in index.json: notices, never damage, except
     * a stray entry that is not a regular file or escapes (fsck FORMAT/IO). */
    {"name_newline", plant_name_newline, 0, 0, 0, {{0, 0}}},
    {"name_control_chars", plant_name_control, 0, 0, 0, {{0, 0}}},
    {"name_255_chars", plant_name_long, 0, 0, 0, {{0, 0}}},
    {"name_uppercase_hex", plant_name_uppercase_hex, 0, 0, 0, {{0, 0}}},
    {"name_wrong_length_hex", plant_name_short_hex, 0, 0, 0, {{0, 0}}},
    {"name_unknown_alg_dir", plant_name_unknown_alg, 0, 0, 0, {{0, 0}}},
    {"name_uppercase_alg_dir", plant_name_upper_alg_dir, 0, 0, 0, {{0, 0}}},
    {"name_stray_escaping_symlink", plant_name_stray_symlink, 0, 0, 0, {O(FSCK, DMG)}},
    {"name_stray_fifo", plant_name_stray_fifo, 0, 0, 0, {O(FSCK, DMG)}},
    {"tag_newline", plant_tag_newline, 0, 0, 0, {{0, 0}}},
    {"tag_control_chars", plant_tag_control, 0, 0, 0, {{0, 0}}},
    {"tag_dotdot_path", plant_tag_dotdot, 0, 0, 0, {{0, 0}}},
    {"tag_10k_chars", plant_tag_long, 0, 0, 0, {{0, 0}}},
    /* Graphs: the walk is iterative and visits each blob once; every reader
     * refuses indexes nested deeper than OCIDIR_MAX_INDEX_DEPTH (FORMAT:
     * fsck reports it, gc, clone and cache gc refuse the layout; tag_remove_gc
     * of v1 succeeds, its gc being a SKIPPED notice). */
    {"graph_index_chain_deep", plant_graph_deep, HG_AT_V1, R(NOT_FOUND) | R(FORMAT), HG_F_FSCK_DAMAGE,
     {O(FSCK, DMG), O(GC_DRY, R(FORMAT)), O(GC, R(FORMAT)), O(CLONE, R(FORMAT)), O(IMAGE_REMOVE, OK),
      O(CACHE_GC, R(FORMAT))}},
    {"graph_index_wide", plant_graph_wide, 0, 0, 0, {{0, 0}}},
};

size_t hg_case_count(void) { return sizeof cases / sizeof cases[0]; }
const hg_case_t *hg_case_at(size_t i) { return i < hg_case_count() ? &cases[i] : NULL; }

unsigned hg_allowed(const hg_case_t *c, hg_op_t op, unsigned op_touches)
{
    for (size_t i = 0; i < sizeof c->over / sizeof c->over[0] && c->over[i].allowed; i++)
        if (c->over[i].op == op)
            return c->over[i].allowed;
    unsigned a = (op_touches & c->where) ? c->allowed : HG_R_OK;
    if (op == HG_OP_FSCK && (op_touches & c->where) && (c->flags & HG_F_FSCK_DAMAGE) && !(c->where & HG_AT_OPEN))
        a = DMG;
    return a;
}
