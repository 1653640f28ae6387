/* One graph policy for every reader of the graph, through the public API:
 * the depth of nested indexes (OCIDIR_MAX_INDEX_DEPTH: 9 and 16 levels work
 * everywhere, 17 is FORMAT everywhere, the longest chain counts, and the
 * under-lock check of ocidir_tag_set() sees blobs below level 8); partial
 * indexes (an absent child of an index is an ABSENT_CHILD notice for fsck, gc
 * and clone, an absent layer under a present manifest stays damage); a gc
 * that cannot run after ocidir_tag_remove_gc() committed is a SKIPPED notice
 * (library and `ocidir rm --gc`); and retagging keeps the entry's data. */
#include "testutil.h"
#include "gc_testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)

#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define REF_NAME OCIDIR_ANNOTATION_REF_NAME

/* A blob of text; its size through *size_out. */
static void put_doc(ocidir_t *d, const char *text, char out[OCIDIR_DIGEST_MAX], uint64_t *size_out)
{
    put(d, text, out);
    *size_out = strlen(text);
}

/* An index listing one manifest or index (with a platform when given). */
static void put_index(ocidir_t *d, const char *mt, const char *digest, uint64_t size, const char *platform_json,
                      char out[OCIDIR_DIGEST_MAX], uint64_t *size_out)
{
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[{\"mediaType\":\"%s\","
             "\"digest\":\"%s\",\"size\":%llu%s%s}]}",
             mt, digest, (unsigned long long)size, platform_json ? ",\"platform\":" : "",
             platform_json ? platform_json : "");
    put_doc(d, buf, out, size_out);
}

/* An image reachable only through what the caller builds over it. */
static void make_hidden_image(ocidir_t *d, const char *content, struct img *out)
{
    make_image(d, "tmp", content, NULL, out);
    assert_ocidir(0, ocidir_tag_remove(d, "tmp"));
}

/* `levels` indexes nested over the manifest (the innermost lists it with
 * platform linux/amd64); the outermost, level 1, in top (and its size). */
static void make_chain(ocidir_t *d, const struct img *m, int levels, char top[OCIDIR_DIGEST_MAX], uint64_t *top_size,
                       char innermost[OCIDIR_DIGEST_MAX])
{
    char cur[OCIDIR_DIGEST_MAX];
    uint64_t size;
    put_index(d, MT_MANIFEST, m->manifest, m->manifest_size, "{\"architecture\":\"amd64\",\"os\":\"linux\"}", cur,
              &size);
    if (innermost)
        snprintf(innermost, OCIDIR_DIGEST_MAX, "%s", cur);
    for (int i = 1; i < levels; i++) {
        char next[OCIDIR_DIGEST_MAX];
        put_index(d, MT_INDEX, cur, size, NULL, next, &size);
        snprintf(cur, sizeof cur, "%s", next);
    }
    snprintf(top, OCIDIR_DIGEST_MAX, "%s", cur);
    *top_size = size;
}

/* index.json with one entry (by hand: for what ocidir_tag_set() refuses). */
static void write_index_json(const char *dir, const char *entries)
{
    char *p = tu_join(dir, "index.json");
    char buf[8192];
    snprintf(buf, sizeof buf, "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[%s]}", entries);
    tu_write_file(p, buf, strlen(buf));
    free(p);
}

static char *read_text(const char *dir, const char *name)
{
    char *p = tu_join(dir, name);
    void *buf = NULL;
    ssize_t n = tu_read_file(p, &buf);
    free(p);
    assert_true(n >= 0);
    char *s = realloc(buf, (size_t)n + 1);
    assert_non_null(s);
    s[n] = 0;
    return tu_keep(s);
}

static ocidir_report_t *run_fsck(ocidir_t *d)
{
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_fsck(d, TU_FSCK(0, 2, NULL, NULL), &r));
    assert_non_null(r);
    return r;
}

static void print_report(const ocidir_report_t *r)
{
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *s, *m;
        ocidir_report_get(r, i, &k, &s, NULL, &m);
        print_message("  %s %s: %s\n", ocidir_find_kind_name((int)k), s, m);
    }
}

static void assert_no_damage(const ocidir_report_t *r)
{
    if (ocidir_report_damage(r) != 0)
        print_report(r);
    assert_int_equal(ocidir_report_damage(r), 0);
}

/* The message of the finding of that kind and subject (asserted present). */
static const char *finding_message(const ocidir_report_t *r, int kind, const char *subject)
{
    for (size_t i = 0; i < ocidir_report_count(r); i++) {
        ocidir_find_kind_t k;
        const char *s, *m;
        assert_ocidir(0, ocidir_report_get(r, i, &k, &s, NULL, &m));
        if ((int)k == kind && strcmp(s, subject) == 0)
            return m;
    }
    assert_finding(r, kind, subject); /* fails, printing the report */
    return NULL;
}

/* ---- Depth: one limit for every reader ----------------------------------- */

/* A chain of `levels` indexes works for every reader: tag_set, image_open,
 * referrers, fsck, gc (which keeps everything under it) and clone. */
static void check_chain_is_usable(int levels)
{
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img m;
    make_hidden_image(d, "deep layer", &m);
    char top[OCIDIR_DIGEST_MAX];
    uint64_t top_size;
    make_chain(d, &m, levels, top, &top_size, NULL);
    print_message("%d nested indexes\n", levels);
    assert_ocidir(0, ocidir_tag_set(d, "deep", top, 0));

    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "deep", "linux/amd64", &img));
    char got[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_image_manifest(img, got, NULL, NULL));
    assert_string_equal(got, m.manifest);
    ocidir_image_close(img);

    char **refs = NULL;
    assert_ocidir(0, ocidir_referrers(d, m.manifest, NULL, &refs));
    ocidir_strv_free(refs);

    ocidir_report_t *r = run_fsck(d);
    assert_no_damage(r);
    assert_int_equal(count_kind(r, OCIDIR_FIND_UNREFERENCED), 0);
    ocidir_report_free(r);

    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    r = NULL;
    assert_ocidir(0, ocidir_gc(d, NULL, &r));
    assert_int_equal(count_kind(r, OCIDIR_FIND_REMOVED), 0);
    ocidir_report_free(r);
    assert_present(dir, m.manifest, 1);
    assert_present(dir, m.config, 1);
    assert_present(dir, m.layer[0], 1);

    char *dest = tu_keep(tu_join(tu_keep(tu_scratch_dir("graph-clone")), "c"));
    ocidir_t *c = NULL;
    r = NULL;
    assert_ocidir(0, ocidir_clone(d, AT_FDCWD, dest, NULL, &c, &r));
    ocidir_report_free(r);
    r = run_fsck(c);
    assert_no_damage(r);
    ocidir_report_free(r);
    assert_image_complete(c, "deep");
    ocidir_close(c);
    ocidir_close(d);
}

static void test_index_nested_9_deep_works_for_every_reader(void **state)
{
    (void)state;
    check_chain_is_usable(9);
}

static void test_index_nested_16_deep_works_for_every_reader(void **state)
{
    (void)state;
    assert_int_equal(OCIDIR_MAX_INDEX_DEPTH, 16);
    check_chain_is_usable(OCIDIR_MAX_INDEX_DEPTH);
}

static void expect_format_naming(int rc, const char *digest)
{
    if (rc != OCIDIR_E_FORMAT || !strstr(ocidir_last_error(), digest))
        print_error("rc %d (%s), expected FORMAT naming %s: %s\n", rc, ocidir_strerror(rc), digest,
                    ocidir_last_error());
    assert_int_equal(rc, OCIDIR_E_FORMAT);
    assert_non_null(strstr(ocidir_last_error(), digest));
    assert_non_null(strstr(ocidir_last_error(), "OCIDIR_MAX_INDEX_DEPTH"));
}

static void test_index_nested_17_deep_is_format_for_every_reader(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img m;
    make_hidden_image(d, "too deep layer", &m);
    char top[OCIDIR_DIGEST_MAX], inner[OCIDIR_DIGEST_MAX];
    uint64_t top_size;
    make_chain(d, &m, OCIDIR_MAX_INDEX_DEPTH + 1, top, &top_size, inner);

    /* Writers refuse to name it. */
    expect_format_naming(ocidir_tag_set(d, "deep", top, 0), inner);
    expect_format_naming(ocidir_index_add(d, top), inner);
    char *untouched = read_text(dir, "index.json");
    assert_null(strstr(untouched, top));

    /* Readers refuse it where another tool wrote it. */
    char entry[512];
    snprintf(entry, sizeof entry,
             "{\"mediaType\":\"" MT_INDEX "\",\"digest\":\"%s\",\"size\":%llu,\"annotations\":{\"" REF_NAME
             "\":\"deep\"}}",
             top, (unsigned long long)top_size);
    write_index_json(dir, entry);
    ocidir_image_t *img = NULL;
    expect_format_naming(ocidir_image_open(d, "deep", "linux/amd64", &img), inner);
    assert_null(img);
    char **refs = NULL;
    expect_format_naming(ocidir_referrers(d, m.manifest, NULL, &refs), inner);

    ocidir_report_t *r = run_fsck(d);
    assert_true(ocidir_report_damage(r) >= 1);
    assert_non_null(strstr(finding_message(r, OCIDIR_FIND_FORMAT, inner), "OCIDIR_MAX_INDEX_DEPTH"));
    ocidir_report_free(r);

    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    char *before = tu_keep(tu_tree_listing(dir));
    r = NULL;
    expect_format_naming(ocidir_gc(d, TU_GC(OCIDIR_GC_DRY_RUN, NULL, NULL), &r), inner);
    expect_format_naming(ocidir_gc(d, NULL, &r), inner);
    assert_null(r);
    assert_string_equal(tu_keep(tu_tree_listing(dir)), before);

    char *cache = tu_keep(tu_scratch_dir("graph-cache"));
    int cfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cfd >= 0);
    expect_format_naming(ocidir_cache_gc(cfd, &d, 1, NULL, &r), inner);
    close(cfd);

    char *dest = tu_keep(tu_join(tu_keep(tu_scratch_dir("graph-clone")), "c"));
    ocidir_t *c = NULL;
    expect_format_naming(ocidir_clone(d, AT_FDCWD, dest, NULL, &c, &r), inner);
    assert_null(c);
    assert_int_equal(tu_exists(dest), 0);
    ocidir_close(d);
}

/* An index met first through a short path and then through a chain that
 * puts it at level 17 is too deep: the longest chain counts, in whatever
 * order a walk meets the two paths. */
static void test_depth_is_the_longest_chain_in_either_order(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++) {
        char *dir = NULL;
        ocidir_t *d = tu_scratch_layout(&dir);
        tu_keep(dir);
        struct img m;
        make_hidden_image(d, order ? "order 1" : "order 0", &m);
        /* x: an index over the manifest; a chain of 15 over x puts x at
         * level 17 under the top, which also lists x directly (level 2). */
        char x[OCIDIR_DIGEST_MAX], cur[OCIDIR_DIGEST_MAX];
        uint64_t xs, size;
        put_index(d, MT_MANIFEST, m.manifest, m.manifest_size, "{\"architecture\":\"amd64\",\"os\":\"linux\"}", x,
                  &xs);
        snprintf(cur, sizeof cur, "%s", x);
        size = xs;
        for (int i = 0; i < 15; i++) {
            char next[OCIDIR_DIGEST_MAX];
            put_index(d, MT_INDEX, cur, size, NULL, next, &size);
            snprintf(cur, sizeof cur, "%s", next);
        }
        char buf[1024], top[OCIDIR_DIGEST_MAX];
        uint64_t top_size;
        char direct[256], chain[256];
        snprintf(direct, sizeof direct, "{\"mediaType\":\"" MT_INDEX "\",\"digest\":\"%s\",\"size\":%llu}", x,
                 (unsigned long long)xs);
        snprintf(chain, sizeof chain, "{\"mediaType\":\"" MT_INDEX "\",\"digest\":\"%s\",\"size\":%llu}", cur,
                 (unsigned long long)size);
        snprintf(buf, sizeof buf, "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[%s,%s]}",
                 order ? chain : direct, order ? direct : chain);
        put_doc(d, buf, top, &top_size);

        expect_format_naming(ocidir_tag_set(d, "deep", top, 0), x);
        char entry[512];
        snprintf(entry, sizeof entry,
                 "{\"mediaType\":\"" MT_INDEX "\",\"digest\":\"%s\",\"size\":%llu,\"annotations\":{\"" REF_NAME
                 "\":\"deep\"}}",
                 top, (unsigned long long)top_size);
        write_index_json(dir, entry);
        ocidir_report_t *r = run_fsck(d);
        assert_non_null(strstr(finding_message(r, OCIDIR_FIND_FORMAT, x), "OCIDIR_MAX_INDEX_DEPTH"));
        ocidir_report_free(r);
        r = NULL;
        expect_format_naming(ocidir_gc(d, TU_GC(OCIDIR_GC_DRY_RUN, NULL, NULL), &r), x);
        ocidir_close(d);
    }
}

/* ---- The under-lock check of tag_set below level 8 ----------------------- */

struct tag_call {
    ocidir_t *d;
    const char *digest;
    int rc;
    char msg[1024];
};

static void *tag_thread(void *arg)
{
    struct tag_call *t = arg;
    t->rc = ocidir_tag_set(t->d, "deep", t->digest, 0);
    snprintf(t->msg, sizeof t->msg, "%s", t->rc ? ocidir_last_error() : "");
    return NULL;
}

/* 1 when a process of ours waits for a flock (a "->" line of /proc/locks). */
static int waiting_for_flock(void)
{
    FILE *f = fopen("/proc/locks", "r");
    if (!f)
        return -1;
    char line[512], pid[32];
    snprintf(pid, sizeof pid, " %d ", (int)getpid());
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "-> FLOCK") && strstr(line, pid))
            found = 1;
    fclose(f);
    return found;
}

static void test_tag_set_checks_blobs_below_level_8_under_the_lock(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img m;
    make_hidden_image(d, "layer at level 13", &m);
    char top[OCIDIR_DIGEST_MAX];
    uint64_t top_size;
    make_chain(d, &m, 12, top, &top_size, NULL);

    /* Another process holds the index lock: the call collects what the
     * index references, then waits for the lock; meanwhile the layer under
     * the twelfth index goes (as a concurrent gc could remove it). */
    tu_holder_t h = tu_hold_flock(tu_keep(tu_join(dir, ".ocidir.lock")));
    struct tag_call t = {d, top, 1, ""};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, tag_thread, &t), 0);
    int waited = 0;
    for (int i = 0; i < 1000 && waiting_for_flock() == 0; i++)
        usleep(10000);
    waited = waiting_for_flock();
    if (waited != 1)
        print_error("ocidir_tag_set never waited for the index lock (/proc/locks: %d)\n", waited);
    assert_int_equal(unlink(tu_keep(tu_blob_path(dir, m.layer[0]))), 0);
    tu_release_holder(&h);
    assert_int_equal(pthread_join(th, NULL), 0);
    if (t.rc != OCIDIR_E_NOT_FOUND)
        print_error("tag_set gave %d: %s\n", t.rc, t.msg);
    assert_int_equal(waited, 1);
    assert_int_equal(t.rc, OCIDIR_E_NOT_FOUND);
    assert_non_null(strstr(t.msg, m.layer[0]));
    char *idx = read_text(dir, "index.json");
    assert_null(strstr(idx, "\"deep\""));
    ocidir_close(d);
}

/* ---- Partial indexes ------------------------------------------------------ */

/* Two images; an index listing both (amd64, arm64) tagged "multi"; the arm64
 * image's manifest, config and layer removed: a copy of one platform. */
static void make_partial(ocidir_t *d, const char *dir, struct img *a, struct img *b)
{
    make_hidden_image(d, "amd64 layer", a);
    make_hidden_image(d, "arm64 layer", b);
    char buf[1024], multi[OCIDIR_DIGEST_MAX];
    uint64_t size;
    snprintf(buf, sizeof buf,
             "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":["
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%llu,"
             "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%llu,"
             "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}",
             a->manifest, (unsigned long long)a->manifest_size, b->manifest, (unsigned long long)b->manifest_size);
    put_doc(d, buf, multi, &size);
    const char *gone[] = {b->manifest, b->config, b->layer[0]};
    for (int i = 0; i < 3; i++)
        assert_int_equal(unlink(tu_keep(tu_blob_path(dir, gone[i]))), 0);
    assert_ocidir(0, ocidir_tag_set(d, "multi", multi, 0));
}

static void test_partial_index_is_a_notice_for_fsck_gc_and_clone(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img a, b;
    make_partial(d, dir, &a, &b);

    ocidir_report_t *r = run_fsck(d);
    assert_no_damage(r);
    assert_finding(r, OCIDIR_FIND_ABSENT_CHILD, b.manifest);
    ocidir_report_free(r);

    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    r = NULL;
    assert_ocidir(0, ocidir_gc(d, NULL, &r));
    assert_finding(r, OCIDIR_FIND_ABSENT_CHILD, b.manifest);
    assert_int_equal(count_kind(r, OCIDIR_FIND_REMOVED), 0);
    assert_int_equal(ocidir_report_damage(r), 0);
    ocidir_report_free(r);
    assert_present(dir, a.manifest, 1);
    assert_present(dir, a.layer[0], 1);

    char *dest = tu_keep(tu_join(tu_keep(tu_scratch_dir("graph-clone")), "c"));
    ocidir_t *c = NULL;
    r = NULL;
    assert_ocidir(0, ocidir_clone(d, AT_FDCWD, dest, NULL, &c, &r));
    assert_finding(r, OCIDIR_FIND_ABSENT_CHILD, b.manifest);
    ocidir_report_free(r);
    r = run_fsck(c);
    assert_no_damage(r);
    assert_finding(r, OCIDIR_FIND_ABSENT_CHILD, b.manifest);
    ocidir_report_free(r);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(c, "multi", "linux/amd64", &img));
    ocidir_image_close(img);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_open(c, "multi", "linux/arm64", &img));
    ocidir_close(c);
    ocidir_close(d);
}

/* Under a manifest that is present, an absent layer stays damage; an absent
 * index.json entry too. */
static void test_absent_layer_of_a_present_manifest_stays_damage(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img a, b;
    make_partial(d, dir, &a, &b);
    assert_int_equal(unlink(tu_keep(tu_blob_path(dir, a.layer[0]))), 0);
    ocidir_report_t *r = run_fsck(d);
    assert_finding(r, OCIDIR_FIND_MISSING, a.layer[0]);
    assert_int_equal(ocidir_report_damage(r), 1);
    ocidir_report_free(r);
    char *dest = tu_keep(tu_join(tu_keep(tu_scratch_dir("graph-clone")), "c"));
    r = NULL;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_clone(d, AT_FDCWD, dest, NULL, NULL, &r));
    assert_non_null(strstr(ocidir_last_error(), a.layer[0]));

    /* A tagged manifest that is absent: damage, and gc refuses. */
    struct img e;
    make_image(d, "entry", "entry layer", NULL, &e);
    assert_int_equal(unlink(tu_keep(tu_blob_path(dir, e.manifest))), 0);
    r = run_fsck(d);
    assert_finding(r, OCIDIR_FIND_MISSING, e.manifest);
    assert_int_equal(count_kind(r, OCIDIR_FIND_ABSENT_CHILD), 1); /* b, not e */
    ocidir_report_free(r);
    r = NULL;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_gc(d, TU_GC(OCIDIR_GC_DRY_RUN, NULL, NULL), &r));
    ocidir_close(d);
}

/* ---- A later step of a committed call: SKIPPED, not failure -------------- */

/* Images "a" and "b"; b's manifest corrupted, so that gc cannot run. */
static void make_damaged(ocidir_t *d, const char *dir, struct img *a, struct img *b)
{
    make_image(d, "a", "layer a", NULL, a);
    make_image(d, "b", "layer b", NULL, b);
    char *mb = tu_keep(tu_blob_path(dir, b->manifest));
    void *buf = NULL;
    ssize_t n = tu_read_file(mb, &buf);
    assert_true(n > 10);
    ((char *)buf)[n - 2] ^= 1;
    tu_write_file(mb, buf, (size_t)n);
    free(buf);
}

static void test_tag_remove_gc_with_gc_reports_a_gc_it_could_not_run_as_skipped(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img a, b;
    make_damaged(d, dir, &a, &b);
    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    char *before = tu_keep(tu_tree_listing(dir));
    (void)before;
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_tag_remove_gc(d, "a", NULL, &r));
    assert_non_null(r);
    assert_int_equal(ocidir_report_count(r), 1);
    assert_int_equal(ocidir_report_damage(r), 0);
    const char *msg = finding_message(r, OCIDIR_FIND_SKIPPED, "a");
    assert_non_null(strstr(msg, b.manifest)); /* why: the damage that stopped gc */
    assert_non_null(strstr(msg, "removed"));
    ocidir_report_free(r);
    /* The tag is gone, no blob was removed. */
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_resolve(d, "a", NULL, NULL, NULL));
    assert_present(dir, a.manifest, 1);
    assert_present(dir, a.layer[0], 1);
    /* Without a tag to remove, nothing is committed: the failure is the call's. */
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_tag_remove_gc(d, "a", NULL, &r));
    ocidir_close(d);
}

static void test_cli_rm_gc_exits_0_and_says_the_gc_was_skipped(void **state)
{
    (void)state;
    const char *cli = getenv("OCIDIR_CLI");
#ifdef OCIDIR_CLI_PATH
    if (!cli || !*cli)
        cli = OCIDIR_CLI_PATH;
#endif
    if (!cli || !*cli)
        fail_msg("the ocidir tool's path is unknown: set OCIDIR_CLI (the build sets it when it builds the tool)");
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img a, b;
    make_damaged(d, dir, &a, &b);
    ocidir_close(d);
    char *out = tu_keep(tu_join(dir, "rm.out")), *err = tu_keep(tu_join(dir, "rm.err"));
    int st = tu_sh("'%s' rm --gc --grace 0 '%s' a >'%s' 2>'%s'", cli, dir, out, err);
    char *o = read_text(dir, "rm.out"), *e = read_text(dir, "rm.err");
    print_message("stdout: %sstderr: %s", o, e);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "skipped\ta"));
    assert_non_null(strstr(e, "notice"));
    assert_non_null(strstr(e, b.manifest));
    /* --json: the notice is in "other", and is not damage. */
    d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, 0, &d));
    struct img c;
    make_image(d, "c", "layer c", NULL, &c);
    ocidir_close(d);
    st = tu_sh("'%s' rm --json --gc --grace 0 '%s' c >'%s' 2>'%s'", cli, dir, out, err);
    o = read_text(dir, "rm.out");
    print_message("--json stdout: %s", o);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "\"kind\": \"skipped\""));
    assert_non_null(strstr(o, "\"damage\": false"));
}

static void test_find_kind_is_damage_is_the_one_rule(void **state)
{
    (void)state;
    for (int k = OCIDIR_FIND_LAYOUT; k <= OCIDIR_FIND_IO; k++)
        assert_int_equal(ocidir_find_kind_is_damage(k), 1);
    for (int k = OCIDIR_FIND_UNSUPPORTED; k <= OCIDIR_FIND_SKIPPED; k++)
        assert_int_equal(ocidir_find_kind_is_damage(k), 0);
    assert_int_equal(ocidir_find_kind_is_damage(-1), 0);
    assert_int_equal(ocidir_find_kind_is_damage(17), 0);
    assert_int_equal(OCIDIR_FIND_ABSENT_CHILD, 15);
    assert_int_equal(OCIDIR_FIND_SKIPPED, 16);
    assert_string_equal(ocidir_find_kind_name(OCIDIR_FIND_ABSENT_CHILD), "absent-child");
    assert_string_equal(ocidir_find_kind_name(OCIDIR_FIND_SKIPPED), "skipped");
    assert_string_equal(ocidir_find_kind_name(17), "unknown");
}

/* ---- Retagging keeps the entry's data -------------------------------------- */

static void test_retag_to_the_same_digest_keeps_platform_and_annotations(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img a;
    make_image(d, "v1", "retag layer", NULL, &a);
    char entry[1024];
    snprintf(entry, sizeof entry,
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%llu,"
             "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},"
             "\"annotations\":{\"" REF_NAME "\":\"v1\",\"com.example.note\":\"keep me\"}}",
             a.manifest, (unsigned long long)a.manifest_size);
    write_index_json(dir, entry);
    assert_ocidir(0, ocidir_tag_set(d, "v1", a.manifest, 0));
    char *idx = read_text(dir, "index.json");
    print_message("%s\n", idx);
    assert_non_null(strstr(idx, "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}"));
    assert_non_null(strstr(idx, "\"com.example.note\":\"keep me\""));
    assert_non_null(strstr(idx, "\"" REF_NAME "\":\"v1\""));
    ocidir_close(d);
}

static void test_retag_to_another_digest_keeps_annotations_and_drops_platform(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img a, b;
    make_image(d, "v1", "old layer", NULL, &a);
    make_image(d, "v2", "new layer", NULL, &b);
    char entries[2048];
    snprintf(entries, sizeof entries,
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%llu,"
             "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"},"
             "\"annotations\":{\"" REF_NAME "\":\"v1\",\"com.example.note\":\"keep me\"}},"
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%llu,"
             "\"annotations\":{\"" REF_NAME "\":\"v2\"}}",
             a.manifest, (unsigned long long)a.manifest_size, b.manifest, (unsigned long long)b.manifest_size);
    write_index_json(dir, entries);
    assert_ocidir(0, ocidir_tag_set(d, "v1", b.manifest, 0));
    char *idx = read_text(dir, "index.json");
    print_message("%s\n", idx);
    assert_null(strstr(idx, a.manifest));
    assert_null(strstr(idx, "\"platform\""));
    assert_non_null(strstr(idx, "\"com.example.note\":\"keep me\""));
    /* The entry kept its place: v1 comes first, now naming b. */
    char *v1 = strstr(idx, "\"" REF_NAME "\":\"v1\"");
    char *v2 = strstr(idx, "\"" REF_NAME "\":\"v2\"");
    assert_non_null(v1);
    assert_non_null(v2);
    assert_true(v1 < v2);
    char got[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_resolve(d, "v1", got, NULL, NULL));
    assert_string_equal(got, b.manifest);
    ocidir_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_index_nested_9_deep_works_for_every_reader),
        TEARDOWN(test_index_nested_16_deep_works_for_every_reader),
        TEARDOWN(test_index_nested_17_deep_is_format_for_every_reader),
        TEARDOWN(test_depth_is_the_longest_chain_in_either_order),
        TEARDOWN(test_tag_set_checks_blobs_below_level_8_under_the_lock),
        TEARDOWN(test_partial_index_is_a_notice_for_fsck_gc_and_clone),
        TEARDOWN(test_absent_layer_of_a_present_manifest_stays_damage),
        TEARDOWN(test_tag_remove_gc_with_gc_reports_a_gc_it_could_not_run_as_skipped),
        TEARDOWN(test_cli_rm_gc_exits_0_and_says_the_gc_was_skipped),
        TEARDOWN(test_find_kind_is_damage_is_the_one_rule),
        TEARDOWN(test_retag_to_the_same_digest_keeps_platform_and_annotations),
        TEARDOWN(test_retag_to_another_digest_keeps_annotations_and_drops_platform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
