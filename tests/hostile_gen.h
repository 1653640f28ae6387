/* Hostile layouts: a generator of OCI layout directories that each plant one
 * hostile thing (escaping or magic symlinks, special files, sparse giants,
 * JSON bombs, odd names, deep and wide graphs) into a valid layout, next to a
 * "bait" tree outside the layout whose every access is seen through inotify.
 *
 * Use:
 *   hg_env_t *e = hg_env_new(scratch_dir);        // base image + bait tree
 *   for (size_t i = 0; i < hg_case_count(); i++) {
 *       const hg_case_t *c = hg_case_at(i);
 *       hg_instance_make(e, c, "inst");            // <scratch>/inst/layout
 *       hg_bait_watch(e);                          // arm inotify
 *       ... run operations on e->layout with c->open_flags ...
 *       n = hg_bait_events(e, buf, sizeof buf);    // 0 = nothing outside touched
 *       hg_instance_remove(e);
 *   }
 *   hg_env_free(e);
 *
 * The layout lives at <root>/<inst>/layout and the bait at <root>/bait, so a
 * relative "../../bait" from the layout root leads to it.  hg_env_new()
 * changes the working directory to the root, so that /proc/self/cwd/bait is
 * the bait too.  Public API only; a setup failure aborts with a message (no
 * cmocka assertion, except inside tu_tree_listing for hg_bait_listing), so
 * the generator links into any cmocka test with testutil.c.
 */
#ifndef OCIDIR_HOSTILE_GEN_H
#define OCIDIR_HOSTILE_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <ocidir.h>

/* Where a case's hostile thing sits: an operation that touches none of these
 * paths must succeed. */
#define HG_AT_OPEN     (1u << 0) /* oci-layout, index.json's type, blobs/, blobs/<alg>: every op */
#define HG_AT_INDEX    (1u << 1) /* the content of index.json */
#define HG_AT_BLOBS    (1u << 2) /* blobs/sha256 as a place to write new blobs */
#define HG_AT_MANIFEST (1u << 3) /* the tagged manifest blob */
#define HG_AT_CONFIG   (1u << 4) /* its config blob */
#define HG_AT_LAYER    (1u << 5) /* its layer blob */
#define HG_AT_STRAY    (1u << 6) /* an unreferenced entry in a blob directory */
#define HG_AT_DOC      (1u << 7) /* the v1 manifest parsed as a document (not just its bytes) */
#define HG_AT_V1       (1u << 8) /* the v1 entry of index.json as a descriptor to follow */
#define HG_AT_ALL      0x1ffu

/* Result classes as bits: bit k for the code -k (bit 0 = OCIDIR_OK), and
 * HG_R_DAMAGED for an fsck that ran and reported damage. */
#define HG_R(code)    (1u << (unsigned)(-(code)))
#define HG_R_DAMAGED  (1u << 16)
#define HG_R_OK       HG_R(OCIDIR_OK)

/* The operations a test runs against each case (the generator only names
 * them, for per-case overrides). */
typedef enum {
    HG_OP_OPEN_RDONLY,
    HG_OP_OPEN,
    HG_OP_BLOB_STAT,
    HG_OP_BLOB_READ_ALL,
    HG_OP_BLOB_STREAM,
    HG_OP_BLOB_OPEN_FD,
    HG_OP_BLOB_PUT_NEW,
    HG_OP_BLOB_WRITE_EXISTING,
    HG_OP_BLOB_REMOVE,
    HG_OP_TAG_LIST,
    HG_OP_RESOLVE_TAG,
    HG_OP_RESOLVE_DIGEST,
    HG_OP_TAG_SET,
    HG_OP_TAG_REMOVE,
    HG_OP_IMAGE_INSPECT,
    HG_OP_LAYER_READ,
    HG_OP_LAYER_OPEN_DIRECT,
    HG_OP_BUILDER_COMMIT,
    HG_OP_REFERRERS,
    HG_OP_FSCK,
    HG_OP_GC_DRY,
    HG_OP_GC,
    HG_OP_CLONE,
    HG_OP_IMAGE_REMOVE,
    HG_OP_CACHE_GC,
    HG_OP_COUNT
} hg_op_t;

typedef struct {
    hg_op_t op;
    unsigned allowed; /* HG_R bits; replaces the rule for this op */
} hg_override_t;

/* The environment: one base image and the bait, shared by all cases. */
typedef struct hg_env {
    char *root;    /* scratch directory holding everything below */
    char *base;    /* <root>/base: the valid layout every instance copies */
    char *bait;    /* <root>/bait: valid-looking content outside any layout */
    char *heavy;   /* <root>/heavy: big files made once, hard-linked into instances */
    int bait_fd;   /* O_PATH fd of the bait dir, inherited by children (for /proc/self/fd/N) */
    int ino_fd;    /* inotify fd while armed, else -1 */

    /* The base image, tag "v1": a gzip layer, its config, its manifest. */
    char manifest[OCIDIR_DIGEST_MAX], config[OCIDIR_DIGEST_MAX], layer[OCIDIR_DIGEST_MAX];
    char diff_id[OCIDIR_DIGEST_MAX];
    char manifest0[OCIDIR_DIGEST_MAX]; /* the base manifest (manifest: the one "v1" names in this instance) */
    uint64_t manifest0_size;
    uint64_t manifest_size, config_size, layer_size;
    const char *layer_media_type;

    /* The current instance (set by hg_instance_make). */
    char *inst;          /* <root>/<name> */
    char *layout;        /* <inst>/layout */
    char *shared;        /* <inst>/shared: a blob directory outside the layout (the opt-in case) */
    char *cache;         /* <inst>/cache: a shared cache for ocidir_cache_gc */
    char *clone_dest;    /* <inst>/clone: destination of ocidir_clone */
    const char *ref;     /* the ref image operations use ("v1" unless the case says) */
    unsigned open_flags; /* flags operations open the layout with (besides RDONLY) */
    size_t json_limit;   /* 0: the library's default */
    int full;            /* HOSTILE_FULL=1: the big cases at full size (10^6 entries, 10,000 deep...) */
} hg_env_t;

typedef struct hg_case {
    const char *name;
    void (*plant)(hg_env_t *e); /* turns the fresh copy of the base into the hostile layout */
    unsigned where;   /* HG_AT_* bits: what the hostile thing is on the path of */
    unsigned allowed; /* HG_R bits allowed for an op touching `where` */
    unsigned flags;   /* HG_F_* */
    hg_override_t over[12]; /* per-op replacements of the rule, up to the first with allowed 0 */
} hg_case_t;

#define HG_F_FSCK_DAMAGE (1u << 0) /* fsck must run and report damage (when it touches `where`) */

/* Build the base layout (public API) and the bait tree under root (an
 * existing, empty directory), and chdir(root). */
hg_env_t *hg_env_new(const char *root);
void hg_env_free(hg_env_t *e);

size_t hg_case_count(void);
const hg_case_t *hg_case_at(size_t i);
/* The allowed result bits for op against case c (the rule, or an override). */
unsigned hg_allowed(const hg_case_t *c, hg_op_t op, unsigned op_touches);

/* Make <root>/<name>/layout: a copy of the base with c's hostile thing
 * planted, plus <root>/<name>/{shared,cache}.  Sets e->inst, e->layout, ... */
void hg_instance_make(hg_env_t *e, const hg_case_t *c, const char *name);
/* Remove the current instance (no symlink followed). */
void hg_instance_remove(hg_env_t *e);

/* Start watching every file and directory of the bait tree (inotify:
 * open, access, modify, attrib, create, delete, move); when watching
 * already, forget the events so far (cheap: call it before every run). */
void hg_bait_watch(hg_env_t *e);
/* Number of bait events since the last call (0: nothing outside touched);
 * a description of the first ones goes to desc. */
int hg_bait_events(hg_env_t *e, char *desc, size_t n);
/* Stop watching. */
void hg_bait_unwatch(hg_env_t *e);
/* A listing of the bait tree (tu_tree_listing), malloc'd. */
char *hg_bait_listing(hg_env_t *e);

#endif
