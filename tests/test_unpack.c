/* ocidir_unpack: semantics of layers applied into a root filesystem, the
 * hostile-layer table (each case refused cleanly or unpacked confined; bait
 * beside the destination never touched), ownership modes, failure cleanup.
 * Registered twice: with openat2 and with OCIDIR_FORCE_RESOLVE_FALLBACK=1
 * (the component walk interpreting symlinks inside the root). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tar_gen.h"

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_scratch)
#define MAXL 4

struct fx {
    char *scratch;     /* holds bait/ and dest */
    char *bait;        /* scratch/bait: secret, sub/file */
    char *dest;        /* scratch/dest (absent at first) */
    char *layout;
    ocidir_t *d;
    char *bait_listing;
    mode_t secret_mode;
    tg_tar_t layers[MAXL];
    size_t n;
};

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    f->scratch = tu_scratch_dir("unpack");
    f->bait = tu_join(f->scratch, "bait");
    f->dest = tu_join(f->scratch, "dest");
    tu_mkdir(f->bait);
    char *p = tu_join(f->bait, "secret");
    tu_write_file(p, "secret", 6);
    assert_int_equal(chmod(p, 0600), 0);
    free(p);
    p = tu_join(f->bait, "sub");
    tu_mkdir(p);
    char *q = tu_join(p, "file");
    tu_write_file(q, "x", 1);
    free(q);
    free(p);
    f->bait_listing = tu_tree_listing(f->bait);
    f->d = tu_scratch_layout(&f->layout);
    for (size_t i = 0; i < MAXL; i++)
        tg_init(&f->layers[i]);
}

static void fx_free(struct fx *f)
{
    for (size_t i = 0; i < MAXL; i++)
        tg_free(&f->layers[i]);
    ocidir_close(f->d);
    free(f->bait_listing);
    free(f->bait);
    free(f->dest);
    free(f->scratch);
    free(f->layout);
}

/* The bait and the scratch dir beside the destination are as they were. */
static void check_bait(struct fx *f)
{
    char *now = tu_tree_listing(f->bait);
    assert_string_equal(now, f->bait_listing);
    free(now);
    char *p = tu_join(f->bait, "secret");
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_uid, 0);
    free(p);
    /* Nothing new beside the destination. */
    int n = tu_count_entries(f->scratch);
    assert_true(n == 1 || (n == 2 && tu_exists(f->dest)));
}

static void add_layer(ocidir_builder_t *b, ocidir_t *d, const tg_tar_t *t, ocidir_compression_t c)
{
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, c, 0, c == OCIDIR_COMPRESSION_NONE ? 0 : 1, &w));
    if (t->len)
        assert_ocidir(0, ocidir_layer_writer_write(w, t->buf, t->len));
    assert_ocidir(0, ocidir_builder_add_layer_writer(b, w, NULL));
}

/* Tag "t" := an image of f->layers[0..n). */
static void build(struct fx *f, ocidir_compression_t c)
{
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(f->d, NULL, &b));
    for (size_t i = 0; i < f->n; i++)
        add_layer(b, f->d, &f->layers[i], c);
    assert_ocidir(0, ocidir_builder_commit(b, "t", 0, NULL));
    ocidir_builder_free(b);
}

static int unpack(struct fx *f, const ocidir_unpack_options_t *o, ocidir_report_t **rep)
{
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(f->d, "t", NULL, &img));
    int rc = ocidir_unpack(img, AT_FDCWD, f->dest, o, rep);
    ocidir_image_close(img);
    return rc;
}

static char *in_dest(struct fx *f, const char *rel) { return tu_join(f->dest, rel); }

static void assert_file(struct fx *f, const char *rel, const char *content)
{
    char *p = in_dest(f, rel);
    void *buf = NULL;
    ssize_t n = tu_read_file(p, &buf);
    if (n < 0)
        print_error("%s: missing\n", p);
    assert_true(n >= 0);
    assert_int_equal((size_t)n, strlen(content));
    assert_memory_equal(buf, content, (size_t)n);
    free(buf);
    free(p);
}

static int dest_has(struct fx *f, const char *rel)
{
    char *p = in_dest(f, rel);
    int r = tu_exists(p);
    free(p);
    return r;
}

static mode_t dest_mode(struct fx *f, const char *rel, struct stat *out)
{
    char *p = in_dest(f, rel);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    free(p);
    if (out)
        *out = st;
    return st.st_mode;
}

static size_t count_kind(const ocidir_report_t *r, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        assert_ocidir(0, ocidir_report_get(r, i, &k, NULL, NULL, NULL));
        if ((int)k == kind)
            n++;
    }
    return n;
}

/* ---- Hostile table ------------------------------------------------------ */

typedef void (*layers_fn)(struct fx *f);
struct hostile {
    const char *name;
    layers_fn make;
    int expect;  /* the code; 0: unpacked, confined */
    const char *inside; /* with expect 0: a path that must exist in dest, or NULL */
};

static char g_abs_bait[4096], g_abs_bait_file[4096], g_abs_secret[4096];

static void set_abs(struct fx *f)
{
    snprintf(g_abs_bait, sizeof g_abs_bait, "%s", f->bait);
    snprintf(g_abs_bait_file, sizeof g_abs_bait_file, "%s/evil", f->bait);
    snprintf(g_abs_secret, sizeof g_abs_secret, "%s/secret", f->bait);
}

static void h_dotdot(struct fx *f) { f->n = 1; tg_file(&f->layers[0], "../bait/evil", 0644, "x"); tg_end(&f->layers[0]); }
static void h_dotdot_mid(struct fx *f) { f->n = 1; tg_dir(&f->layers[0], "a", 0); tg_file(&f->layers[0], "a/../../bait/evil", 0644, "x"); tg_end(&f->layers[0]); }
static void h_absolute(struct fx *f) { f->n = 1; tg_file(&f->layers[0], g_abs_bait_file, 0644, "x"); tg_end(&f->layers[0]); }
static void h_symlink_abs_same_layer(struct fx *f)
{
    f->n = 1;
    tg_symlink(&f->layers[0], "l", g_abs_bait);
    tg_file(&f->layers[0], "l/evil", 0644, "x");
    tg_end(&f->layers[0]);
}
static void h_symlink_rel_same_layer(struct fx *f)
{
    f->n = 1;
    tg_symlink(&f->layers[0], "l", "../../../../../../../../bait");
    tg_file(&f->layers[0], "l/evil", 0644, "x");
    tg_end(&f->layers[0]);
}
static void h_symlink_later_layer(struct fx *f)
{
    f->n = 2;
    tg_dir(&f->layers[0], "scratch", 0);
    tg_symlink(&f->layers[0], "l", g_abs_bait);
    tg_end(&f->layers[0]);
    tg_file(&f->layers[1], "l/evil", 0644, "x");
    tg_end(&f->layers[1]);
}
static void h_symlink_to_existing_inside(struct fx *f)
{
    /* The symlink's target exists inside the root: the entry goes there. */
    f->n = 2;
    tg_dir(&f->layers[0], "real", 0);
    tg_symlink(&f->layers[0], "l", "/real");
    tg_end(&f->layers[0]);
    tg_file(&f->layers[1], "l/evil", 0644, "x");
    tg_end(&f->layers[1]);
}
static void h_dir_replaced_by_symlink(struct fx *f)
{
    f->n = 3;
    tg_dir(&f->layers[0], "d", 0);
    tg_file(&f->layers[0], "d/x", 0644, "x");
    tg_end(&f->layers[0]);
    tg_symlink(&f->layers[1], "d", "../../../bait");
    tg_end(&f->layers[1]);
    tg_file(&f->layers[2], "d/evil", 0644, "x");
    tg_end(&f->layers[2]);
}
static void h_root_symlink(struct fx *f) { f->n = 1; tg_symlink(&f->layers[0], ".", g_abs_bait); tg_file(&f->layers[0], "evil", 0644, "x"); tg_end(&f->layers[0]); }
static void h_root_symlink_slash(struct fx *f) { f->n = 1; tg_symlink(&f->layers[0], "./", "../bait"); tg_end(&f->layers[0]); }
static void h_hardlink_outside(struct fx *f) { f->n = 1; tg_hardlink(&f->layers[0], "h", "../bait/secret"); tg_end(&f->layers[0]); }
static void h_hardlink_absolute(struct fx *f) { f->n = 1; tg_hardlink(&f->layers[0], "h", g_abs_secret); tg_end(&f->layers[0]); }
static void h_hardlink_to_outside_symlink(struct fx *f)
{
    /* A hard link to a symlink pointing outside, then entries over it: the
     * chmod/write must never reach what the symlink names. */
    f->n = 2;
    tg_symlink(&f->layers[0], "s", g_abs_secret);
    tg_hardlink(&f->layers[0], "h", "s");
    tg_end(&f->layers[0]);
    tg_file(&f->layers[1], "h", 04777, "overwritten");
    tg_entry(&f->layers[1], &(tg_entry_t){.name = "s", .type = '0', .mode = 0777, .size = 1, .data = "z", .data_len = 1});
    tg_end(&f->layers[1]);
}
static void h_hardlink_through_symlink_dir(struct fx *f)
{
    f->n = 1;
    tg_symlink(&f->layers[0], "l", "../bait");
    tg_hardlink(&f->layers[0], "h", "l/secret");
    tg_end(&f->layers[0]);
}
static void wh(struct fx *f, const char *name)
{
    f->n = 2;
    tg_file(&f->layers[0], "keep", 0644, "k");
    tg_end(&f->layers[0]);
    tg_file(&f->layers[1], name, 0644, "");
    tg_end(&f->layers[1]);
}
static void h_wh_empty(struct fx *f) { wh(f, ".wh."); }
static void h_wh_dot(struct fx *f) { wh(f, ".wh.."); }
static void h_wh_dotdot(struct fx *f) { wh(f, ".wh..."); }
static void h_wh_dir_dot(struct fx *f) { f->n = 1; tg_dir(&f->layers[0], "dir", 0); tg_file(&f->layers[0], "dir/.wh..", 0644, ""); tg_end(&f->layers[0]); }
static void h_wh_dir_dotdot(struct fx *f) { f->n = 1; tg_dir(&f->layers[0], "dir", 0); tg_file(&f->layers[0], "dir/.wh...", 0644, ""); tg_end(&f->layers[0]); }
static void h_wh_through_symlink(struct fx *f)
{
    f->n = 2;
    tg_symlink(&f->layers[0], "l", g_abs_bait);
    tg_end(&f->layers[0]);
    tg_file(&f->layers[1], "l/.wh.secret", 0644, "");
    tg_file(&f->layers[1], "l/.wh..wh..opq", 0644, "");
    tg_end(&f->layers[1]);
}
static void h_wh_dotdot_path(struct fx *f) { f->n = 1; tg_file(&f->layers[0], "../.wh.bait", 0644, ""); tg_end(&f->layers[0]); }
static void h_huge_size(struct fx *f)
{
    f->n = 1;
    tg_entry(&f->layers[0], &(tg_entry_t){.name = "big", .type = '0', .size = (UINT64_C(1) << 40) + 1});
    tg_end(&f->layers[0]);
}
static void h_size_past_stream(struct fx *f)
{
    f->n = 1;
    tg_entry(&f->layers[0], &(tg_entry_t){.name = "short", .type = '0', .size = 1 << 20, .data = "abc", .data_len = 3});
}
static void h_long_pax_name(struct fx *f)
{
    static char rec[6000];
    strcpy(rec, "path=");
    for (size_t i = 5; i < 5000; i++)
        rec[i] = (i % 100 == 0) ? '/' : 'a';
    rec[5000] = '\0';
    const char *recs[] = {rec, NULL};
    f->n = 1;
    tg_pax(&f->layers[0], recs);
    tg_file(&f->layers[0], "placeholder", 0644, "x");
    tg_end(&f->layers[0]);
}
static void h_deep_nesting(struct fx *f)
{
    static char rec[2000];
    strcpy(rec, "path=");
    size_t k = 5;
    for (int i = 0; i < 300; i++) {
        rec[k++] = 'd';
        rec[k++] = '/';
    }
    strcpy(rec + k, "f");
    const char *recs[] = {rec, NULL};
    f->n = 1;
    tg_pax(&f->layers[0], recs);
    tg_file(&f->layers[0], "placeholder", 0644, "x");
    tg_end(&f->layers[0]);
}
static void h_marker_entry(struct fx *f) { f->n = 1; tg_file(&f->layers[0], OCIDIR_UNPACK_MARKER, 0644, "x"); tg_end(&f->layers[0]); }
static void h_not_a_tar(struct fx *f) { f->n = 1; tg_raw(&f->layers[0], "junk junk junk\n", 15); }
static void h_duplicate_pax_paths(struct fx *f)
{
    const char *recs[] = {"path=../bait/evil", "path=ok", NULL};
    f->n = 1;
    tg_pax(&f->layers[0], recs);
    tg_file(&f->layers[0], "placeholder", 0644, "x");
    tg_end(&f->layers[0]);
}
static void h_symlink_chain_loop(struct fx *f)
{
    f->n = 1;
    tg_symlink(&f->layers[0], "a", "b");
    tg_symlink(&f->layers[0], "b", "a");
    tg_file(&f->layers[0], "a/evil", 0644, "x");
    tg_end(&f->layers[0]);
}
static void h_file_over_symlink(struct fx *f)
{
    /* A regular file written where a symlink to outside is: the symlink is
     * replaced, never written through. */
    f->n = 2;
    tg_symlink(&f->layers[0], "s", "../bait/secret");
    tg_end(&f->layers[0]);
    tg_file(&f->layers[1], "s", 0600, "over");
    tg_end(&f->layers[1]);
}
static void h_dir_over_symlink(struct fx *f)
{
    f->n = 2;
    tg_symlink(&f->layers[0], "s", "../bait");
    tg_end(&f->layers[0]);
    tg_dir(&f->layers[1], "s", 0777);
    tg_end(&f->layers[1]);
}

static const struct hostile hostile_cases[] = {
    {"dotdot_name", h_dotdot, OCIDIR_E_FORMAT, NULL},
    {"dotdot_in_middle", h_dotdot_mid, OCIDIR_E_FORMAT, NULL},
    {"absolute_name_confined", h_absolute, 0, "@abs_bait_file"},
    {"symlink_abs_then_entry_same_layer", h_symlink_abs_same_layer, OCIDIR_E_FORMAT, NULL},
    {"symlink_rel_then_entry_same_layer", h_symlink_rel_same_layer, OCIDIR_E_FORMAT, NULL},
    {"symlink_then_entry_later_layer", h_symlink_later_layer, OCIDIR_E_FORMAT, NULL},
    {"symlink_to_inside_followed_inside", h_symlink_to_existing_inside, 0, "real/evil"},
    {"dir_replaced_by_symlink", h_dir_replaced_by_symlink, OCIDIR_E_FORMAT, NULL},
    {"root_as_symlink", h_root_symlink, OCIDIR_E_FORMAT, NULL},
    {"root_as_symlink_slash", h_root_symlink_slash, OCIDIR_E_FORMAT, NULL},
    {"hardlink_dotdot", h_hardlink_outside, OCIDIR_E_FORMAT, NULL},
    {"hardlink_absolute_outside", h_hardlink_absolute, OCIDIR_E_FORMAT, NULL},
    {"hardlink_to_outside_symlink_then_chmod", h_hardlink_to_outside_symlink, 0, "h"},
    {"hardlink_through_symlinked_dir", h_hardlink_through_symlink_dir, OCIDIR_E_FORMAT, NULL},
    {"whiteout_empty_name", h_wh_empty, OCIDIR_E_FORMAT, NULL},
    {"whiteout_dot", h_wh_dot, OCIDIR_E_FORMAT, NULL},
    {"whiteout_dotdot", h_wh_dotdot, OCIDIR_E_FORMAT, NULL},
    {"whiteout_dir_dot", h_wh_dir_dot, OCIDIR_E_FORMAT, NULL},
    {"whiteout_dir_dotdot", h_wh_dir_dotdot, OCIDIR_E_FORMAT, NULL},
    {"whiteout_through_symlink", h_wh_through_symlink, 0, "l"},
    {"whiteout_dotdot_path", h_wh_dotdot_path, OCIDIR_E_FORMAT, NULL},
    {"huge_size_past_bound", h_huge_size, OCIDIR_E_TOO_LARGE, NULL},
    {"size_past_end_of_stream", h_size_past_stream, OCIDIR_E_FORMAT, NULL},
    {"pax_name_past_path_max", h_long_pax_name, OCIDIR_E_FORMAT, NULL},
    {"deep_nesting", h_deep_nesting, OCIDIR_E_FORMAT, NULL},
    {"marker_name_reserved", h_marker_entry, OCIDIR_E_FORMAT, NULL},
    {"not_a_tar", h_not_a_tar, OCIDIR_E_FORMAT, NULL},
    {"duplicate_pax_paths", h_duplicate_pax_paths, -100, NULL}, /* either way, confined */
    {"symlink_loop_parent", h_symlink_chain_loop, OCIDIR_E_ESCAPE, NULL},
    {"file_over_outside_symlink", h_file_over_symlink, 0, "s"},
    {"dir_over_outside_symlink", h_dir_over_symlink, 0, "s"},
};

static void run_hostile(const struct hostile *h)
{
    struct fx f;
    fx_init(&f);
    set_abs(&f);
    h->make(&f);
    build(&f, OCIDIR_COMPRESSION_GZIP);
    int rc = unpack(&f, NULL, NULL);
    if (h->expect != -100 && rc != h->expect)
        print_error("case %s: rc %d (%s), expected %d; %s\n", h->name, rc, ocidir_strerror(rc), h->expect,
                    ocidir_last_error());
    if (h->expect != -100)
        assert_int_equal(rc, h->expect);
    check_bait(&f);
    if (rc != 0) {
        assert_false(tu_exists(f.dest)); /* made by the call, removed again */
        assert_non_null(strstr(ocidir_last_error(), "unpack"));
    } else if (h->inside) {
        const char *rel = strcmp(h->inside, "@abs_bait_file") == 0 ? g_abs_bait_file + 1 : h->inside;
        if (!dest_has(&f, rel))
            print_error("case %s: %s missing inside the destination\n", h->name, rel);
        assert_true(dest_has(&f, rel));
    }
    if (rc == 0)
        assert_false(dest_has(&f, OCIDIR_UNPACK_MARKER));
    fx_free(&f);
}

static void test_hostile_one(void **state) { run_hostile((const struct hostile *)*state); }

/* ---- Semantics ---------------------------------------------------------- */

static void test_files_dirs_symlinks_merge(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.n = 2;
    tg_dir(&f.layers[0], "./", 0755);
    tg_dir(&f.layers[0], "d", 0700);
    tg_file(&f.layers[0], "d/a", 0644, "A");
    tg_symlink(&f.layers[0], "lnk", "/d/a");
    tg_end(&f.layers[0]);
    tg_dir(&f.layers[1], "d", 0750);
    tg_file(&f.layers[1], "d/b", 0600, "B");
    tg_end(&f.layers[1]);
    build(&f, OCIDIR_COMPRESSION_ZSTD);
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, unpack(&f, NULL, &rep));
    assert_file(&f, "d/a", "A");
    assert_file(&f, "d/b", "B");
    assert_int_equal(dest_mode(&f, "d", NULL) & 07777, 0750); /* attributes from the upper layer */
    assert_int_equal(dest_mode(&f, "d/b", NULL) & 07777, 0600);
    char *p = in_dest(&f, "lnk");
    char buf[64] = {0};
    assert_int_equal(readlink(p, buf, sizeof buf - 1), 4);
    assert_string_equal(buf, "/d/a");
    free(p);
    assert_false(dest_has(&f, OCIDIR_UNPACK_MARKER));
    uint64_t layers = 0, bytes = 0;
    ocidir_report_totals(rep, &layers, &bytes);
    assert_int_equal(layers, 2);
    assert_int_equal(bytes, 2);
    ocidir_report_free(rep);
    check_bait(&f);
    fx_free(&f);
}

static void test_type_replacement_between_layers(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.n = 3;
    tg_file(&f.layers[0], "x", 0644, "file");
    tg_dir(&f.layers[0], "y", 0755);
    tg_file(&f.layers[0], "y/inner", 0644, "i");
    tg_end(&f.layers[0]);
    tg_dir(&f.layers[1], "x", 0755);
    tg_file(&f.layers[1], "x/z", 0644, "z");
    tg_file(&f.layers[1], "y", 0644, "now a file");
    tg_end(&f.layers[1]);
    tg_symlink(&f.layers[2], "x", "y");
    tg_end(&f.layers[2]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    assert_true(S_ISLNK(dest_mode(&f, "x", NULL)));
    assert_file(&f, "y", "now a file");
    fx_free(&f);
}

static void test_whiteout_removes_lower_entry(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.n = 2;
    tg_file(&f.layers[0], "a", 0644, "a");
    tg_file(&f.layers[0], "b", 0644, "b");
    tg_dir(&f.layers[0], "d", 0755);
    tg_file(&f.layers[0], "d/deep", 0644, "x");
    tg_end(&f.layers[0]);
    tg_file(&f.layers[1], ".wh.a", 0644, "");
    tg_file(&f.layers[1], ".wh.d", 0644, "");
    tg_file(&f.layers[1], ".wh.never-existed", 0644, "");
    tg_end(&f.layers[1]);
    build(&f, OCIDIR_COMPRESSION_GZIP);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    assert_false(dest_has(&f, "a"));
    assert_false(dest_has(&f, "d"));
    assert_false(dest_has(&f, ".wh.a"));
    assert_false(dest_has(&f, ".wh.never-existed"));
    assert_file(&f, "b", "b");
    fx_free(&f);
}

static void same_layer_whiteout(int whiteout_first)
{
    struct fx f;
    fx_init(&f);
    f.n = 2;
    tg_file(&f.layers[0], "a", 0644, "lower");
    tg_end(&f.layers[0]);
    if (whiteout_first)
        tg_file(&f.layers[1], ".wh.a", 0644, "");
    tg_file(&f.layers[1], "a", 0644, "upper");
    if (!whiteout_first)
        tg_file(&f.layers[1], ".wh.a", 0644, "");
    tg_end(&f.layers[1]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    assert_file(&f, "a", "upper");
    fx_free(&f);
}

static void test_same_layer_entry_survives_whiteout_after(void **state) { (void)state; same_layer_whiteout(0); }
static void test_same_layer_entry_survives_whiteout_before(void **state) { (void)state; same_layer_whiteout(1); }

static void opaque(int marker_first)
{
    struct fx f;
    fx_init(&f);
    f.n = 2;
    tg_dir(&f.layers[0], "d", 0755);
    tg_file(&f.layers[0], "d/a", 0644, "a");
    tg_dir(&f.layers[0], "d/sub", 0755);
    tg_file(&f.layers[0], "d/sub/b", 0644, "b");
    tg_file(&f.layers[0], "other", 0644, "o");
    tg_end(&f.layers[0]);
    tg_dir(&f.layers[1], "d", 0755);
    if (marker_first)
        tg_file(&f.layers[1], "d/.wh..wh..opq", 0644, "");
    tg_file(&f.layers[1], "d/c", 0644, "c");
    tg_dir(&f.layers[1], "d/sub", 0755);
    tg_file(&f.layers[1], "d/sub/new", 0644, "n");
    if (!marker_first)
        tg_file(&f.layers[1], "d/.wh..wh..opq", 0644, "");
    tg_end(&f.layers[1]);
    build(&f, OCIDIR_COMPRESSION_GZIP);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    assert_false(dest_has(&f, "d/a"));
    assert_false(dest_has(&f, "d/sub/b"));
    assert_false(dest_has(&f, "d/.wh..wh..opq"));
    assert_file(&f, "d/c", "c");
    assert_file(&f, "d/sub/new", "n");
    assert_file(&f, "other", "o");
    fx_free(&f);
}

static void test_opaque_marker_first(void **state) { (void)state; opaque(1); }
static void test_opaque_marker_after_siblings(void **state) { (void)state; opaque(0); }

static void test_hardlink_shares_inode(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.n = 2;
    tg_file(&f.layers[0], "f", 0640, "data");
    tg_hardlink(&f.layers[0], "g", "f");
    tg_end(&f.layers[0]);
    tg_hardlink(&f.layers[1], "h", "/f"); /* a later layer links a lower file */
    tg_end(&f.layers[1]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    struct stat a, b, c;
    dest_mode(&f, "f", &a);
    dest_mode(&f, "g", &b);
    dest_mode(&f, "h", &c);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_ino, c.st_ino);
    assert_int_equal(a.st_nlink, 3);
    fx_free(&f);
}

static void test_nanosecond_times_and_dir_times(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.n = 1;
    const char *rd[] = {"mtime=1234567890.123456789", NULL};
    tg_pax(&f.layers[0], rd);
    tg_dir(&f.layers[0], "d", 0755);
    const char *rf[] = {"mtime=1500000000.5", "atime=1400000000.25", NULL};
    tg_pax(&f.layers[0], rf);
    tg_file(&f.layers[0], "d/f", 0644, "x");
    tg_file(&f.layers[0], "d/g", 0644, "y"); /* made after d's entry: d's mtime must still be its own */
    tg_end(&f.layers[0]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    struct stat st;
    dest_mode(&f, "d", &st);
    assert_int_equal(st.st_mtim.tv_sec, 1234567890);
    assert_int_equal(st.st_mtim.tv_nsec, 123456789);
    dest_mode(&f, "d/f", &st);
    assert_int_equal(st.st_mtim.tv_sec, 1500000000);
    assert_int_equal(st.st_mtim.tv_nsec, 500000000);
    assert_int_equal(st.st_atim.tv_sec, 1400000000);
    assert_int_equal(st.st_atim.tv_nsec, 250000000);
    dest_mode(&f, "d/g", &st);
    assert_int_equal(st.st_mtim.tv_sec, 1000000000);
    fx_free(&f);
}

static void test_readonly_dir_filled_and_mode_applied_last(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.n = 2;
    tg_dir(&f.layers[0], "ro", 0555);
    tg_file(&f.layers[0], "ro/f", 0444, "r");
    tg_end(&f.layers[0]);
    tg_file(&f.layers[1], "ro/later", 0644, "l");
    tg_end(&f.layers[1]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    assert_int_equal(dest_mode(&f, "ro", NULL) & 07777, 0555);
    assert_int_equal(dest_mode(&f, "ro/f", NULL) & 07777, 0444);
    assert_file(&f, "ro/later", "l");
    fx_free(&f);
}

static void test_setuid_survives_chown_and_owners_applied(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.n = 1;
    tg_entry(&f.layers[0], &(tg_entry_t){.name = "dir", .type = '5', .mode = 02775, .uid = 1234, .gid = 5678});
    tg_entry(&f.layers[0], &(tg_entry_t){.name = "dir/suid", .type = '0', .mode = 04755, .uid = 1000, .gid = 1001,
                                         .size = 1, .data = "s", .data_len = 1});
    tg_entry(&f.layers[0], &(tg_entry_t){.name = "dir/ln", .type = '2', .mode = 0777, .uid = 42, .gid = 43, .link = "suid"});
    tg_end(&f.layers[0]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    struct stat st;
    dest_mode(&f, "dir/suid", &st);
    assert_int_equal(st.st_mode & 07777, 04755);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 1001);
    dest_mode(&f, "dir", &st);
    assert_int_equal(st.st_mode & 07777, 02775);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 5678);
    dest_mode(&f, "dir/ln", &st);
    assert_int_equal(st.st_uid, 42);
    assert_int_equal(st.st_gid, 43);
    fx_free(&f);
}

static void test_fifo_and_devices(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.n = 1;
    tg_entry(&f.layers[0], &(tg_entry_t){.name = "fifo", .type = '6', .mode = 0620});
    tg_entry(&f.layers[0], &(tg_entry_t){.name = "null", .type = '3', .mode = 0666, .devmajor = 1, .devminor = 3});
    tg_entry(&f.layers[0], &(tg_entry_t){.name = "blk", .type = '4', .mode = 0660, .devmajor = 7, .devminor = 0});
    tg_end(&f.layers[0]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    struct stat st;
    dest_mode(&f, "fifo", &st);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0620);
    dest_mode(&f, "null", &st);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(major(st.st_rdev), 1);
    assert_int_equal(minor(st.st_rdev), 3);
    assert_int_equal(st.st_mode & 07777, 0666);
    dest_mode(&f, "blk", &st);
    assert_true(S_ISBLK(st.st_mode));
    fx_free(&f);
}

static void test_xattrs_applied_and_refused(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.n = 1;
    const char *recs[] = {"SCHILY.xattr.user.foo=bar", "SCHILY.xattr.trusted.evil=x",
                          "SCHILY.xattr.security.selinux=system_u:object_r:shadow_t:s0",
                          "SCHILY.xattr.trusted.overlay.opaque=y", "SCHILY.xattr.user.overlay.redirect=/x", NULL};
    tg_pax(&f.layers[0], recs);
    tg_file(&f.layers[0], "f", 0644, "x");
    tg_end(&f.layers[0]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, unpack(&f, NULL, &rep));
    char *p = in_dest(&f, "f");
    char v[64] = {0};
    ssize_t n = getxattr(p, "user.foo", v, sizeof v);
    if (n < 0 && errno == ENOTSUP) {
        assert_int_equal(count_kind(rep, OCIDIR_FIND_XATTR_UNSUPPORTED), 1);
    } else {
        assert_int_equal(n, 3);
        assert_memory_equal(v, "bar", 3);
    }
    assert_true(getxattr(p, "trusted.evil", v, sizeof v) < 0);
    assert_true(getxattr(p, "trusted.overlay.opaque", v, sizeof v) < 0);
    assert_true(getxattr(p, "user.overlay.redirect", v, sizeof v) < 0);
    assert_int_equal(count_kind(rep, OCIDIR_FIND_XATTR_SKIPPED), 4);
    free(p);
    ocidir_report_free(rep);
    fx_free(&f);
}

static void test_gnu_and_pax_long_names(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    char gnu[260], pax[300];
    memset(gnu, 'g', 250);
    gnu[250] = '\0';
    snprintf(pax, sizeof pax, "path=%s/%s", "pdir", gnu);
    pax[sizeof pax - 1] = 0;
    f.n = 1;
    tg_gnu_longname(&f.layers[0], gnu);
    tg_file(&f.layers[0], "truncated-short-name", 0644, "gnu");
    tg_dir(&f.layers[0], "pdir", 0755);
    const char *recs[] = {pax, NULL};
    tg_pax(&f.layers[0], recs);
    tg_file(&f.layers[0], "other-short", 0644, "pax");
    tg_end(&f.layers[0]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    assert_file(&f, gnu, "gnu");
    char rel[300];
    snprintf(rel, sizeof rel, "pdir/%s", gnu);
    assert_file(&f, rel, "pax");
    fx_free(&f);
}

static void test_missing_parents_created(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    f.n = 1;
    tg_file(&f.layers[0], "a/b/c", 0644, "c");
    tg_end(&f.layers[0]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    assert_file(&f, "a/b/c", "c");
    assert_int_equal(dest_mode(&f, "a/b", NULL) & 07777, 0755);
    fx_free(&f);
}

static void test_trailing_bytes_after_end_of_archive_are_verified(void **state)
{
    (void)state;
    /* The blob is a tar plus trailing bytes; the config's diff_id is that of
     * the tar alone.  Only reading the whole stream sees the mismatch. */
    struct fx f;
    fx_init(&f);
    tg_tar_t t;
    tg_init(&t);
    tg_file(&t, "f", 0644, "x");
    tg_end(&t);
    char did_short[OCIDIR_DIGEST_MAX], did_long[OCIDIR_DIGEST_MAX], dg[OCIDIR_DIGEST_MAX];
    uint64_t size = 0;
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(f.d, OCIDIR_COMPRESSION_NONE, 0, 0, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, t.buf, t.len));
    assert_ocidir(0, ocidir_layer_writer_commit(w, dg, &size, did_short));
    unsigned char junk[4096];
    tu_fill(junk, sizeof junk, 7);
    tg_raw(&t, junk, sizeof junk);
    assert_ocidir(0, ocidir_layer_writer_new(f.d, OCIDIR_COMPRESSION_GZIP, 0, 1, &w));
    const char *mt = ocidir_layer_writer_media_type(w);
    assert_ocidir(0, ocidir_layer_writer_write(w, t.buf, t.len));
    assert_ocidir(0, ocidir_layer_writer_commit(w, dg, &size, did_long));
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(f.d, NULL, &b));
    assert_ocidir(0, ocidir_builder_add_layer(b, mt, dg, size, did_short, NULL));
    assert_ocidir(0, ocidir_builder_commit(b, "t", 0, NULL));
    ocidir_builder_free(b);
    assert_ocidir(OCIDIR_E_DIGEST, unpack(&f, NULL, NULL));
    assert_false(tu_exists(f.dest));
    /* With the right diff_id the trailing bytes are read and accepted. */
    assert_ocidir(0, ocidir_builder_new(f.d, NULL, &b));
    assert_ocidir(0, ocidir_builder_add_layer(b, mt, dg, size, did_long, NULL));
    assert_ocidir(0, ocidir_builder_commit(b, "t", 0, NULL));
    ocidir_builder_free(b);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    assert_file(&f, "f", "x");
    tg_free(&t);
    fx_free(&f);
}

/* ---- Ownership modes ---------------------------------------------------- */

static void owned_layer(struct fx *f)
{
    f->n = 1;
    tg_entry(&f->layers[0], &(tg_entry_t){.name = "f", .type = '0', .mode = 0644, .uid = 1000, .gid = 1000, .size = 1,
                                          .data = "x", .data_len = 1});
    tg_entry(&f->layers[0], &(tg_entry_t){.name = "r", .type = '0', .mode = 0644, .size = 1, .data = "r", .data_len = 1});
    tg_entry(&f->layers[0], &(tg_entry_t){.name = "dev", .type = '3', .mode = 0666, .devmajor = 1, .devminor = 3});
    tg_end(&f->layers[0]);
}

static void test_owner_map_shifts_ids(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    owned_layer(&f);
    build(&f, OCIDIR_COMPRESSION_NONE);
    ocidir_idmap_t um = {0, 100000, 65536}, gm = {0, 200000, 65536};
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.owner_mode = OCIDIR_UNPACK_OWNER_MAP;
    o.uid_map = &um;
    o.n_uid_map = 1;
    o.gid_map = &gm;
    o.n_gid_map = 1;
    assert_ocidir(0, unpack(&f, &o, NULL));
    struct stat st;
    dest_mode(&f, "f", &st);
    assert_int_equal(st.st_uid, 101000);
    assert_int_equal(st.st_gid, 201000);
    dest_mode(&f, "r", &st);
    assert_int_equal(st.st_uid, 100000);
    fx_free(&f);
}

static void test_owner_map_unmapped_id_fails_or_falls_back(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    owned_layer(&f);
    build(&f, OCIDIR_COMPRESSION_NONE);
    ocidir_idmap_t m = {0, 100000, 10};
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.owner_mode = OCIDIR_UNPACK_OWNER_MAP;
    o.uid_map = &m;
    o.n_uid_map = 1;
    o.gid_map = &m;
    o.n_gid_map = 1;
    assert_ocidir(OCIDIR_E_INVALID, unpack(&f, &o, NULL));
    assert_non_null(strstr(ocidir_last_error(), "uid 1000"));
    assert_non_null(strstr(ocidir_last_error(), "\"f\""));
    assert_false(tu_exists(f.dest));
    o.fallback_uid = 65534;
    o.fallback_gid = 65533;
    assert_ocidir(0, unpack(&f, &o, NULL));
    struct stat st;
    dest_mode(&f, "f", &st);
    assert_int_equal(st.st_uid, 65534);
    assert_int_equal(st.st_gid, 65533);
    fx_free(&f);
}

static void test_rootless_keeps_owner_in_xattr_and_skips_devices(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    owned_layer(&f);
    build(&f, OCIDIR_COMPRESSION_NONE);
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.owner_mode = OCIDIR_UNPACK_OWNER_ROOTLESS;
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, unpack(&f, &o, &rep));
    struct stat st;
    dest_mode(&f, "f", &st);
    assert_int_equal(st.st_uid, getuid());
    char *p = in_dest(&f, "f");
    unsigned char v[32];
    ssize_t n = getxattr(p, "user.rootlesscontainers", v, sizeof v);
    /* protobuf: field 1 varint 1000 (e8 07), field 2 varint 1000 */
    const unsigned char want[] = {0x08, 0xe8, 0x07, 0x10, 0xe8, 0x07};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(v, want, sizeof want);
    free(p);
    p = in_dest(&f, "r");
    assert_true(getxattr(p, "user.rootlesscontainers", v, sizeof v) < 0); /* root:root: none */
    free(p);
    assert_false(dest_has(&f, "dev"));
    assert_int_equal(count_kind(rep, OCIDIR_FIND_DEVICE_SKIPPED), 1);
    ocidir_report_free(rep);
    fx_free(&f);
}

/* ---- Destination and failures ------------------------------------------- */

static void simple_image(struct fx *f)
{
    f->n = 2;
    tg_dir(&f->layers[0], "d", 0755);
    tg_file(&f->layers[0], "d/a", 0644, "a");
    tg_end(&f->layers[0]);
    tg_file(&f->layers[1], "d/b", 0644, "b");
    tg_end(&f->layers[1]);
    build(f, OCIDIR_COMPRESSION_GZIP);
}

static void test_destination_not_empty_is_exists(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    simple_image(&f);
    tu_mkdir(f.dest);
    char *p = in_dest(&f, "existing");
    tu_write_file(p, "e", 1);
    char *before = tu_tree_listing(f.dest);
    assert_ocidir(OCIDIR_E_EXISTS, unpack(&f, NULL, NULL));
    char *after = tu_tree_listing(f.dest);
    assert_string_equal(before, after);
    free(before);
    free(after);
    unlink(p);
    free(p);
    rmdir(f.dest);
    tu_write_file(f.dest, "file", 4);
    assert_ocidir(OCIDIR_E_EXISTS, unpack(&f, NULL, NULL));
    unlink(f.dest);
    fx_free(&f);
}

static void test_empty_destination_used_in_place(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    simple_image(&f);
    tu_mkdir(f.dest);
    struct stat before, after;
    assert_int_equal(stat(f.dest, &before), 0);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    assert_int_equal(stat(f.dest, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_file(&f, "d/a", "a");
    assert_file(&f, "d/b", "b");
    fx_free(&f);
}

static void corrupt_last_layer(struct fx *f, char *digest_out)
{
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(f->d, "t", NULL, &img));
    char *mt = NULL, dg[OCIDIR_DIGEST_MAX];
    uint64_t size = 0;
    assert_ocidir(0, ocidir_image_layer(img, ocidir_image_layer_count(img) - 1, &mt, dg, &size));
    strcpy(digest_out, dg);
    char *p = tu_blob_path(f->layout, dg);
    void *buf = NULL;
    ssize_t n = tu_read_file(p, &buf);
    assert_true(n > 40);
    ((unsigned char *)buf)[n - 10] ^= 0x55; /* inside the gzip trailer/data */
    chmod(p, 0644);
    tu_write_file(p, buf, (size_t)n);
    free(buf);
    free(p);
    ocidir_free(mt);
    ocidir_image_close(img);
}

static void test_corrupt_layer_leaves_destination_absent(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    simple_image(&f);
    char dg[OCIDIR_DIGEST_MAX];
    corrupt_last_layer(&f, dg);
    int rc = unpack(&f, NULL, NULL);
    assert_true(rc == OCIDIR_E_DIGEST || rc == OCIDIR_E_FORMAT);
    assert_non_null(strstr(ocidir_last_error(), dg));
    assert_false(tu_exists(f.dest));
    check_bait(&f);
    fx_free(&f);
}

static void test_corrupt_layer_leaves_existing_destination_empty(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    simple_image(&f);
    char dg[OCIDIR_DIGEST_MAX];
    corrupt_last_layer(&f, dg);
    tu_mkdir(f.dest);
    int rc = unpack(&f, NULL, NULL);
    assert_true(rc == OCIDIR_E_DIGEST || rc == OCIDIR_E_FORMAT);
    assert_int_equal(tu_count_entries(f.dest), 0);
    fx_free(&f);
}

struct cancel_state {
    const char *marker;
    int calls, saw_marker;
};

static int cancel_cb(uint64_t done, uint64_t total, void *user)
{
    (void)done;
    (void)total;
    struct cancel_state *c = user;
    if (tu_exists(c->marker))
        c->saw_marker++;
    return ++c->calls >= 2; /* cancel after the first layer */
}

static int count_cb(uint64_t done, uint64_t total, void *user)
{
    struct cancel_state *c = user;
    if (tu_exists(c->marker))
        c->saw_marker++;
    c->calls++;
    assert_true(done <= total);
    return 0;
}

static void test_cancel_removes_everything_and_marker_while_running(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    simple_image(&f);
    char *marker = in_dest(&f, OCIDIR_UNPACK_MARKER);
    struct cancel_state c = {marker, 0, 0};
    ocidir_unpack_options_t o;
    assert_ocidir(0, ocidir_unpack_options_init(&o, sizeof o));
    o.progress = cancel_cb;
    o.user = &c;
    assert_ocidir(OCIDIR_E_CANCELED, unpack(&f, &o, NULL));
    assert_false(tu_exists(f.dest));
    assert_true(c.saw_marker >= 1);
    struct cancel_state c2 = {marker, 0, 0};
    o.progress = count_cb;
    o.user = &c2;
    assert_ocidir(0, unpack(&f, &o, NULL));
    assert_int_equal(c2.calls, 3);
    assert_int_equal(c2.saw_marker, 3);
    assert_false(tu_exists(marker));
    free(marker);
    fx_free(&f);
}

static void test_max_entries_and_bad_options(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    simple_image(&f);
    ocidir_unpack_options_t o = OCIDIR_UNPACK_OPTIONS_INIT;
    o.max_entries = 2;
    assert_ocidir(OCIDIR_E_TOO_LARGE, unpack(&f, &o, NULL));
    assert_false(tu_exists(f.dest));
    o.max_entries = 0;
    o.max_bytes = 1;
    assert_ocidir(OCIDIR_E_TOO_LARGE, unpack(&f, &o, NULL));
    o.max_bytes = 0;
    o.flags = 1u << 20;
    assert_ocidir(OCIDIR_E_INVALID, unpack(&f, &o, NULL));
    o.flags = 0;
    o.owner_mode = 7;
    assert_ocidir(OCIDIR_E_INVALID, unpack(&f, &o, NULL));
    assert_false(tu_exists(f.dest));
    o.owner_mode = OCIDIR_UNPACK_OWNER_TAR;
    o.struct_size = 2;
    assert_ocidir(OCIDIR_E_INVALID, unpack(&f, &o, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_unpack(NULL, AT_FDCWD, f.dest, NULL, NULL));
    fx_free(&f);
}

/* ---- Raw name bytes ----------------------------------------------------- */

/* Names are created with the tar's bytes, never libarchive's locale
 * conversion: a pax path and linkpath that are not UTF-8, a pax path in NFD
 * (which a UTF-8 conversion would normalize to NFC), a ustar name and a GNU
 * long name in Latin-1; under the C locale and under a UTF-8 locale. */
static void raw_names_in_locale(const char *loc)
{
    char *saved = strdup(setlocale(LC_ALL, NULL));
    if (!setlocale(LC_ALL, loc))
        fail_msg("locale %s is not installed (locale -a); the test needs it", loc);
    struct fx f;
    fx_init(&f);
    f.n = 1;
    const char *pax_bin[] = {"path=pax-\xff\xfe-bin", NULL};
    tg_pax(&f.layers[0], pax_bin);
    tg_file(&f.layers[0], "short1", 0644, "bin");
    const char *pax_nfd[] = {"path=nfd-e\xcc\x81", NULL};
    tg_pax(&f.layers[0], pax_nfd);
    tg_file(&f.layers[0], "short2", 0644, "nfd");
    tg_file(&f.layers[0], "latin1-caf\xe9", 0644, "latin1");
    tg_gnu_longname(&f.layers[0], "gnu-\xe9t\xe9");
    tg_file(&f.layers[0], "short3", 0644, "gnu");
    const char *pax_link[] = {"path=link-\xe9", "linkpath=target-\xff", NULL};
    tg_pax(&f.layers[0], pax_link);
    tg_symlink(&f.layers[0], "short4", "x");
    const char *pax_hard[] = {"linkpath=pax-\xff\xfe-bin", NULL};
    tg_pax(&f.layers[0], pax_hard);
    tg_hardlink(&f.layers[0], "hard-\xfe", "short-ignored");
    tg_end(&f.layers[0]);
    build(&f, OCIDIR_COMPRESSION_NONE);
    assert_ocidir(0, unpack(&f, NULL, NULL));
    assert_file(&f, "pax-\xff\xfe-bin", "bin");
    assert_file(&f, "nfd-e\xcc\x81", "nfd");
    assert_file(&f, "latin1-caf\xe9", "latin1");
    assert_file(&f, "gnu-\xe9t\xe9", "gnu");
    assert_file(&f, "hard-\xfe", "bin");
    char *p = in_dest(&f, "link-\xe9");
    char target[64];
    ssize_t n = readlink(p, target, sizeof target);
    assert_int_equal(n, (ssize_t)strlen("target-\xff"));
    assert_memory_equal(target, "target-\xff", (size_t)n);
    free(p);
    /* Nothing else: the converted spellings do not exist. */
    assert_int_equal(tu_count_entries(f.dest), 6);
    fx_free(&f);
    setlocale(LC_ALL, saved);
    free(saved);
}

static void test_raw_name_bytes_c_locale(void **state) { (void)state; raw_names_in_locale("C"); }
static void test_raw_name_bytes_utf8_locale(void **state) { (void)state; raw_names_in_locale("C.UTF-8"); }

/* ---- A killed unpack's tree, cleared and reused ---------------------------- */

static size_t kind_count_subject(const ocidir_report_t *r, int kind, const char *subject)
{
    size_t n = 0;
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *s = NULL;
        assert_ocidir(0, ocidir_report_get(r, i, &k, &s, NULL, NULL));
        if ((int)k == kind && (!subject || strcmp(s, subject) == 0))
            n++;
    }
    return n;
}

/* The partial tree a killed unpack leaves: the marker, files, a read-only
 * directory, and symlinks that point at the bait beside it (absolute and
 * relative): clearing must remove the links, never what they name. */
static void make_partial_tree(struct fx *f)
{
    tu_mkdir(f->dest);
    char *p = in_dest(f, OCIDIR_UNPACK_MARKER);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    free(p);
    p = in_dest(f, "d");
    tu_mkdir(p);
    char *q = tu_join(p, "half-written");
    tu_write_file(q, "partial", 7);
    free(q);
    q = tu_join(p, "ro");
    tu_mkdir(q);
    char *r = tu_join(q, "inside");
    tu_write_file(r, "x", 1);
    free(r);
    assert_int_equal(chmod(q, 0555), 0);
    free(q);
    free(p);
    p = in_dest(f, "abs-bait");
    tu_symlink(f->bait, p);
    free(p);
    p = in_dest(f, "rel-bait");
    tu_symlink("../bait/secret", p);
    free(p);
}

static void test_killed_unpack_tree_is_cleared_and_reported(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    simple_image(&f);
    make_partial_tree(&f);
    struct stat before, after;
    assert_int_equal(stat(f.dest, &before), 0);
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, unpack(&f, NULL, &rep));
    /* The tree is the image's, nothing of the killed one left. */
    assert_file(&f, "d/a", "a");
    assert_file(&f, "d/b", "b");
    assert_false(dest_has(&f, "d/half-written"));
    assert_false(dest_has(&f, "d/ro"));
    assert_false(dest_has(&f, "abs-bait"));
    assert_false(dest_has(&f, "rel-bait"));
    assert_false(dest_has(&f, OCIDIR_UNPACK_MARKER));
    assert_int_equal(tu_count_entries(f.dest), 1);
    assert_int_equal(stat(f.dest, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino); /* used in place */
    /* The caller can tell: one notice naming the destination. */
    assert_int_equal(kind_count_subject(rep, OCIDIR_FIND_INCOMPLETE_CLEARED, f.dest), 1);
    assert_int_equal(ocidir_report_count(rep), 1);
    assert_int_equal(ocidir_find_kind_is_damage(OCIDIR_FIND_INCOMPLETE_CLEARED), 0);
    assert_string_equal(ocidir_find_kind_name(OCIDIR_FIND_INCOMPLETE_CLEARED), "incomplete-cleared");
    /* The other unpack kinds have their names too (the CLI prints them). */
    assert_string_equal(ocidir_find_kind_name(OCIDIR_FIND_XATTR_SKIPPED), "xattr-skipped");
    assert_string_equal(ocidir_find_kind_name(OCIDIR_FIND_XATTR_UNSUPPORTED), "xattr-unsupported");
    assert_string_equal(ocidir_find_kind_name(OCIDIR_FIND_DEVICE_SKIPPED), "device-skipped");
    assert_string_equal(ocidir_find_kind_name(17), "unknown");
    ocidir_report_free(rep);
    check_bait(&f);
    /* A complete tree (no marker) is not cleared: EXISTS, untouched. */
    char *listing = tu_tree_listing(f.dest);
    assert_ocidir(OCIDIR_E_EXISTS, unpack(&f, NULL, NULL));
    char *again = tu_tree_listing(f.dest);
    assert_string_equal(listing, again);
    free(listing);
    free(again);
    fx_free(&f);
}

/* A marker alone (killed before the first entry) is cleared the same way. */
static void test_marker_only_destination_is_reused(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    simple_image(&f);
    tu_mkdir(f.dest);
    char *p = in_dest(&f, OCIDIR_UNPACK_MARKER);
    tu_write_file(p, "", 0);
    free(p);
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, unpack(&f, NULL, &rep));
    assert_int_equal(count_kind(rep, OCIDIR_FIND_INCOMPLETE_CLEARED), 1);
    ocidir_report_free(rep);
    assert_file(&f, "d/a", "a");
    assert_false(dest_has(&f, OCIDIR_UNPACK_MARKER));
    fx_free(&f);
}

/* Markers that do not pass the rule leave the destination "not empty":
 * another user's, a symlink, a directory, a hard link, a non-empty file. */
static void foreign_marker(int variant)
{
    struct fx f;
    fx_init(&f);
    simple_image(&f);
    tu_mkdir(f.dest);
    char *other = in_dest(&f, "other");
    tu_write_file(other, "o", 1);
    char *m = in_dest(&f, OCIDIR_UNPACK_MARKER);
    char *secret = tu_join(f.bait, "secret");
    switch (variant) {
    case 0: tu_write_file(m, "", 0); assert_int_equal(lchown(m, 4242, 4242), 0); break;
    case 1: tu_symlink(secret, m); break;
    case 2: tu_mkdir(m); break;
    case 3: assert_int_equal(link(other, m), 0); break;
    case 4: tu_write_file(m, "not empty", 9); break;
    }
    char *before = tu_tree_listing(f.dest);
    assert_ocidir(OCIDIR_E_EXISTS, unpack(&f, NULL, NULL));
    char *after = tu_tree_listing(f.dest);
    assert_string_equal(before, after);
    free(before);
    free(after);
    check_bait(&f);
    free(secret);
    free(m);
    free(other);
    fx_free(&f);
}

/* A marker whose lock a live unpack holds (here: a child holding flock on
 * it) is that unpack's, not a killed one's: EXISTS, nothing touched. */
static void test_marker_locked_by_a_live_unpack_is_exists(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    simple_image(&f);
    make_partial_tree(&f);
    char *m = in_dest(&f, OCIDIR_UNPACK_MARKER);
    tu_holder_t h = tu_hold_flock(m);
    char *before = tu_tree_listing(f.dest);
    assert_ocidir(OCIDIR_E_EXISTS, unpack(&f, NULL, NULL));
    assert_non_null(strstr(ocidir_last_error(), "locked"));
    char *after = tu_tree_listing(f.dest);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* Once the holder is gone (a killed unpack), the tree is cleared. */
    tu_release_holder(&h);
    ocidir_report_t *rep = NULL;
    assert_ocidir(0, unpack(&f, NULL, &rep));
    assert_int_equal(count_kind(rep, OCIDIR_FIND_INCOMPLETE_CLEARED), 1);
    ocidir_report_free(rep);
    assert_file(&f, "d/b", "b");
    free(m);
    fx_free(&f);
}

static void test_marker_of_another_user_is_exists(void **state) { (void)state; foreign_marker(0); }
static void test_marker_symlink_is_exists(void **state) { (void)state; foreign_marker(1); }
static void test_marker_directory_is_exists(void **state) { (void)state; foreign_marker(2); }
static void test_marker_hard_link_is_exists(void **state) { (void)state; foreign_marker(3); }
static void test_marker_not_empty_is_exists(void **state) { (void)state; foreign_marker(4); }

/* ---- The layer writer's tar check (OCIDIR_LAYER_WRITER_CHECK_TAR) --------- */

static int count_blobs(struct fx *f)
{
    char *p = tu_join(f->layout, "blobs/sha256");
    int n = tu_exists(p) ? tu_count_entries(p) : 0;
    free(p);
    return n;
}

/* Writes `len` bytes of `buf` (in pieces of `piece`) through a checking
 * writer; returns the first failing code (write or commit). */
static int checked_layer(struct fx *f, const void *buf, size_t len, size_t piece, char diff_id[OCIDIR_DIGEST_MAX])
{
    ocidir_layer_writer_options_t o = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
    o.compression = OCIDIR_COMPRESSION_GZIP;
    o.threads = 1;
    o.flags = OCIDIR_LAYER_WRITER_CHECK_TAR;
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new_opts(f->d, &o, &w));
    const unsigned char *p = buf;
    for (size_t off = 0; off < len; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        int rc = ocidir_layer_writer_write(w, p + off, n);
        if (rc != 0) {
            ocidir_layer_writer_abort(w);
            return rc;
        }
    }
    return ocidir_layer_writer_commit(w, NULL, NULL, diff_id);
}

static void valid_tar(tg_tar_t *t)
{
    char big[700];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    tg_dir(t, "d", 0755);
    tg_file(t, "d/small", 0644, "small");
    tg_file(t, "d/big", 0644, big);
    tg_symlink(t, "d/s", "small");
    tg_hardlink(t, "d/h", "d/small");
    tg_entry(t, &(tg_entry_t){.name = "fifo", .type = '6'});
    tg_gnu_longname(t, "a-gnu-long-name-that-is-longer-than-the-ustar-field-of-one-hundred-bytes-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    tg_file(t, "short", 0644, "gnu");
    /* A pax size record overrides the header's (zero) size field. */
    const char *recs[] = {"path=pax-sized", "size=700", NULL};
    tg_pax(t, recs);
    tg_entry(t, &(tg_entry_t){.name = "x", .type = '0', .size = 0, .data = big, .data_len = 700});
    tg_end(t);
}

static void test_layer_writer_check_tar_accepts_tars(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    tg_tar_t t;
    tg_init(&t);
    valid_tar(&t);
    char d1[OCIDIR_DIGEST_MAX], d7[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, checked_layer(&f, t.buf, t.len, t.len, d1));
    /* Any piece size: the check carries its state across writes. */
    assert_ocidir(0, checked_layer(&f, t.buf, t.len, 7, d7));
    assert_string_equal(d1, d7);
    /* An empty stream, and one without end blocks, pass. */
    assert_ocidir(0, checked_layer(&f, "", 0, 1, d1));
    assert_ocidir(0, checked_layer(&f, t.buf, t.len - 1024, 512, d1));
    /* Bytes after the end of the archive are not examined. */
    tg_raw(&t, "trailing junk", 13);
    assert_ocidir(0, checked_layer(&f, t.buf, t.len, 4096, d1));
    tg_free(&t);
    fx_free(&f);
}

static void expect_refused(struct fx *f, const void *buf, size_t len, size_t piece, const char *at, const char *why)
{
    int before = count_blobs(f);
    char diff_id[OCIDIR_DIGEST_MAX];
    assert_ocidir(OCIDIR_E_FORMAT, checked_layer(f, buf, len, piece, diff_id));
    const char *msg = ocidir_last_error();
    if (!strstr(msg, at) || !strstr(msg, why))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", msg, at, why);
    assert_non_null(strstr(msg, "not a tar stream"));
    assert_int_equal(count_blobs(f), before); /* nothing stored */
}

static void test_layer_writer_check_tar_refuses_junk(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f);
    /* `printf junk`: shorter than a header, refused at commit. */
    expect_refused(&f, "junk", 4, 4, "at byte 0", "inside a 512-byte header");
    /* A block of text: the checksum does not match. */
    char text[2048];
    memset(text, 'j', sizeof text);
    expect_refused(&f, text, sizeof text, 1000, "at byte 0", "checksum");
    /* A valid tar whose second header is damaged: refused at its offset. */
    tg_tar_t t;
    tg_init(&t);
    tg_file(&t, "a", 0644, "aaaa");  /* header 0..512, content 512..1024 */
    tg_file(&t, "b", 0644, "bbbb");  /* header at 1024 */
    tg_end(&t);
    t.buf[1024 + 10] ^= 0x55;
    expect_refused(&f, t.buf, t.len, 300, "at byte 1024", "checksum mismatch");
    t.buf[1024 + 10] ^= 0x55;
    /* Truncated inside announced content. */
    expect_refused(&f, t.buf, 1024 + 512 + 2, 512, "at byte 1538", "inside the content");
    /* A size field that is not a number (checksum fixed up to match). */
    memcpy(t.buf + 124, "zzzzzzzzzzz", 11);
    unsigned sum = 0;
    memset(t.buf + 148, ' ', 8);
    for (size_t i = 0; i < 512; i++)
        sum += t.buf[i];
    snprintf((char *)t.buf + 148, 8, "%06o", sum);
    expect_refused(&f, t.buf, t.len, t.len, "at byte 0", "size field");
    tg_free(&t);
    /* Unknown flags are refused. */
    ocidir_layer_writer_options_t o = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
    o.flags = 1u << 7;
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new_opts(f.d, &o, &w));
    assert_null(w);
    fx_free(&f);
}

int main(void)
{
    struct CMUnitTest hostile[sizeof hostile_cases / sizeof hostile_cases[0]];
    static char names[sizeof hostile_cases / sizeof hostile_cases[0]][96];
    for (size_t i = 0; i < sizeof hostile_cases / sizeof hostile_cases[0]; i++) {
        snprintf(names[i], sizeof names[i], "test_hostile_%s", hostile_cases[i].name);
        hostile[i] = (struct CMUnitTest){names[i], test_hostile_one, NULL, tu_teardown_scratch,
                                         (void *)&hostile_cases[i]};
    }
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_files_dirs_symlinks_merge),
        TEARDOWN(test_type_replacement_between_layers),
        TEARDOWN(test_whiteout_removes_lower_entry),
        TEARDOWN(test_same_layer_entry_survives_whiteout_after),
        TEARDOWN(test_same_layer_entry_survives_whiteout_before),
        TEARDOWN(test_opaque_marker_first),
        TEARDOWN(test_opaque_marker_after_siblings),
        TEARDOWN(test_hardlink_shares_inode),
        TEARDOWN(test_nanosecond_times_and_dir_times),
        TEARDOWN(test_readonly_dir_filled_and_mode_applied_last),
        TEARDOWN(test_setuid_survives_chown_and_owners_applied),
        TEARDOWN(test_fifo_and_devices),
        TEARDOWN(test_xattrs_applied_and_refused),
        TEARDOWN(test_gnu_and_pax_long_names),
        TEARDOWN(test_missing_parents_created),
        TEARDOWN(test_trailing_bytes_after_end_of_archive_are_verified),
        TEARDOWN(test_owner_map_shifts_ids),
        TEARDOWN(test_owner_map_unmapped_id_fails_or_falls_back),
        TEARDOWN(test_rootless_keeps_owner_in_xattr_and_skips_devices),
        TEARDOWN(test_destination_not_empty_is_exists),
        TEARDOWN(test_empty_destination_used_in_place),
        TEARDOWN(test_corrupt_layer_leaves_destination_absent),
        TEARDOWN(test_corrupt_layer_leaves_existing_destination_empty),
        TEARDOWN(test_cancel_removes_everything_and_marker_while_running),
        TEARDOWN(test_max_entries_and_bad_options),
        TEARDOWN(test_raw_name_bytes_c_locale),
        TEARDOWN(test_raw_name_bytes_utf8_locale),
        TEARDOWN(test_killed_unpack_tree_is_cleared_and_reported),
        TEARDOWN(test_marker_only_destination_is_reused),
        TEARDOWN(test_marker_locked_by_a_live_unpack_is_exists),
        TEARDOWN(test_marker_of_another_user_is_exists),
        TEARDOWN(test_marker_symlink_is_exists),
        TEARDOWN(test_marker_directory_is_exists),
        TEARDOWN(test_marker_hard_link_is_exists),
        TEARDOWN(test_marker_not_empty_is_exists),
        TEARDOWN(test_layer_writer_check_tar_accepts_tars),
        TEARDOWN(test_layer_writer_check_tar_refuses_junk),
    };
    if (geteuid() != 0) {
        fprintf(stderr, "test_unpack: needs root (owners, devices); run as root\n");
        return 1;
    }
    int fails = cmocka_run_group_tests_name("unpack", tests, NULL, NULL);
    fails += _cmocka_run_group_tests("unpack_hostile", hostile, sizeof hostile / sizeof hostile[0], NULL, NULL);
    return fails;
}
