/* gc, cache gc and image removal (section 10 of ocidir.h), through the
 * public API only: what is kept (everything reachable through index.json,
 * tagged or not, nested indexes and `subject`), what is removed, the dry run,
 * the grace period, temporary files, the directories gc never touches, a
 * damaged graph, and a writer in another process racing gc. */
#include "testutil.h"
#include "gc_testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)

/* Set a file's modification time `age` seconds into the past. */
static void age_file(const char *path, int age)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= age;
    ts[1] = ts[0];
    assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* ---- What gc keeps and removes ------------------------------------------ */

static void test_gc_keeps_everything_reachable_and_removes_the_rest(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);

    struct img tagged, untagged, nested, subject, gone;
    make_image(d, "app", "app layer 0", "app layer 1", &tagged);
    make_image(d, NULL, "untagged layer", NULL, &untagged);
    /* `nested` is reachable only through an index blob that lists it. */
    make_image(d, "nested-tmp", "nested layer", NULL, &nested);
    char idx_json[1024], idx[OCIDIR_DIGEST_MAX];
    snprintf(idx_json, sizeof idx_json,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":"
             "[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%llu,"
             "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
             nested.manifest, (unsigned long long)nested.manifest_size);
    put(d, idx_json, idx);
    assert_ocidir(0, ocidir_tag_set(d, "multi", idx, 0));
    assert_ocidir(0, ocidir_tag_remove(d, "nested-tmp"));
    /* `subject` is reachable only as the subject of a tagged artifact. */
    make_image(d, "subject-tmp", "subject layer", NULL, &subject);
    ocidir_builder_t *b = NULL;
    char sig_blob[OCIDIR_DIGEST_MAX], sig[OCIDIR_DIGEST_MAX];
    put(d, "signature", sig_blob);
    assert_ocidir(0, ocidir_builder_new_artifact(d, "application/vnd.example.sig", &b));
    assert_ocidir(0, ocidir_builder_add_layer(b, "application/vnd.example.sig.v1", sig_blob, 9, NULL, NULL));
    assert_ocidir(0, ocidir_builder_set_subject(b, subject.manifest));
    assert_ocidir(0, ocidir_builder_commit(b, "sig", 0, sig));
    ocidir_builder_free(b);
    assert_ocidir(0, ocidir_tag_remove(d, "subject-tmp"));
    /* Garbage: an untagged-then-removed image and loose blobs. */
    make_image(d, "gone", "gone layer", NULL, &gone);
    assert_ocidir(0, ocidir_tag_remove(d, "gone"));
    char junk[2][OCIDIR_DIGEST_MAX];
    put(d, "junk 0", junk[0]);
    put(d, "junk 1", junk[1]);

    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_gc(d, NULL, &r));

    const char *garbage[] = {gone.manifest, gone.config, gone.layer[0], junk[0], junk[1]};
    for (size_t i = 0; i < 5; i++) {
        assert_present(dir, garbage[i], 0);
        assert_finding(r, OCIDIR_FIND_REMOVED, garbage[i]);
    }
    assert_int_equal(count_kind(r, OCIDIR_FIND_REMOVED), 5);
    const struct img *kept[] = {&tagged, &untagged, &nested, &subject};
    for (size_t i = 0; i < 4; i++) {
        assert_present(dir, kept[i]->manifest, 1);
        assert_present(dir, kept[i]->config, 1);
        assert_present(dir, kept[i]->layer[0], 1);
        assert_image_complete(d, kept[i]->manifest);
    }
    assert_present(dir, tagged.layer[1], 1);
    assert_present(dir, idx, 1);
    assert_present(dir, sig, 1);
    assert_present(dir, sig_blob, 1);
    uint64_t blobs = 0;
    ocidir_report_totals(r, &blobs, NULL);
    /* tagged 4, untagged 3, nested 3 + its index, subject 3, and the
     * artifact's manifest, layer and empty config. */
    assert_int_equal(blobs, 4 + 3 + 3 + 1 + 3 + 3);
    ocidir_report_free(r);

    /* Nothing is left to collect, and the layout is whole. */
    assert_ocidir(0, ocidir_gc(d, NULL, &r));
    assert_int_equal(count_kind(r, OCIDIR_FIND_REMOVED), 0);
    ocidir_report_free(r);
    assert_ocidir(0, ocidir_fsck(d, TU_FSCK(0, 1, NULL, NULL), &r));
    assert_int_equal(ocidir_report_damage(r), 0);
    ocidir_report_free(r);
    ocidir_close(d);
}

static void test_gc_dry_run_reports_and_removes_nothing(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img keep;
    make_image(d, "keep", "kept layer", NULL, &keep);
    char junk[OCIDIR_DIGEST_MAX];
    put(d, "junk", junk);
    assert_ocidir(0, ocidir_set_gc_grace(d, 0));

    char *before = tu_keep(tu_tree_listing(dir));
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_gc(d, TU_GC(OCIDIR_GC_DRY_RUN, NULL, NULL), &r));
    assert_string_equal(tu_keep(tu_tree_listing(dir)), before);
    assert_finding(r, OCIDIR_FIND_UNREFERENCED, junk);
    assert_int_equal(count_kind(r, OCIDIR_FIND_UNREFERENCED), 1);
    assert_int_equal(count_kind(r, OCIDIR_FIND_REMOVED), 0);
    ocidir_report_free(r);

    /* A read-only handle: gc is READONLY, its dry run reports the same. */
    ocidir_t *ro = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_RDONLY, &ro));
    assert_ocidir(0, ocidir_set_gc_grace(ro, 0));
    r = NULL;
    assert_ocidir(OCIDIR_E_READONLY, ocidir_gc(ro, NULL, &r));
    assert_null(r);
    assert_ocidir(0, ocidir_gc(ro, TU_GC(OCIDIR_GC_DRY_RUN, NULL, NULL), &r));
    assert_finding(r, OCIDIR_FIND_UNREFERENCED, junk);
    ocidir_report_free(r);
    assert_string_equal(tu_keep(tu_tree_listing(dir)), before);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_gc(d, TU_GC(0x80, NULL, NULL), NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_set_gc_grace(d, -2));
    ocidir_close(ro);
    ocidir_close(d);
}

static void test_gc_never_touches_an_added_blob_directory_nor_a_followed_symlink(void **state)
{
    (void)state;
    /* A layout whose new blobs go into an added directory. */
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    char *cache = tu_keep(tu_scratch_dir("cache"));
    int cfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cfd >= 0);
    char own_junk[OCIDIR_DIGEST_MAX];
    put(d, "own junk", own_junk);
    assert_ocidir(0, ocidir_add_blobdir_fd(d, cfd, OCIDIR_BLOBDIR_WRITE));
    struct img img;
    make_image(d, "app", "cached layer", NULL, &img);
    char cache_junk[OCIDIR_DIGEST_MAX];
    put(d, "cache junk", cache_junk);
    char *cache_before = tu_keep(tu_tree_listing(cache));

    /* A layout whose blobs/sha256 is a followed symlink. */
    char *dir2 = NULL;
    ocidir_t *d2 = tu_scratch_layout(&dir2);
    tu_keep(dir2);
    ocidir_close(d2);
    char *target = tu_keep(tu_scratch_dir("target"));
    char *sha = tu_keep(tu_join(dir2, "blobs/sha256"));
    tu_rm_rf(sha);
    tu_symlink(target, sha);
    assert_ocidir(0, ocidir_open(AT_FDCWD, dir2, OCIDIR_OPEN_FOLLOW_BLOB_SYMLINK, &d2));
    char followed_junk[OCIDIR_DIGEST_MAX];
    put(d2, "followed junk", followed_junk);
    struct img img2;
    make_image(d2, "app", "followed layer", NULL, &img2);
    char *target_before = tu_keep(tu_tree_listing(target));

    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    assert_ocidir(0, ocidir_gc(d, NULL, &r));
    assert_string_equal(tu_keep(tu_tree_listing(cache)), cache_before);
    assert_present(dir, own_junk, 0); /* the layout's own blobs/ was swept */
    assert_finding(r, OCIDIR_FIND_REMOVED, own_junk);
    assert_false(has_finding(r, OCIDIR_FIND_REMOVED, cache_junk));
    assert_image_complete(d, "app");
    ocidir_report_free(r);

    assert_ocidir(0, ocidir_set_gc_grace(d2, 0));
    assert_ocidir(0, ocidir_gc(d2, NULL, &r));
    assert_string_equal(tu_keep(tu_tree_listing(target)), target_before);
    assert_int_equal(count_kind(r, OCIDIR_FIND_REMOVED), 0);
    ocidir_report_free(r);
    close(cfd);
    ocidir_close(d);
    ocidir_close(d2);
}

static void test_gc_removes_stale_temp_files_but_not_a_live_writers(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    char *stale = tu_keep(tu_join(dir, "blobs/sha256/.ocidir-tmp-stale"));
    char *live = tu_keep(tu_join(dir, "blobs/sha256/.ocidir-tmp-live"));
    char *index_tmp = tu_keep(tu_join(dir, ".ocidir-index-stale"));
    tu_write_file(stale, "x", 1);
    tu_write_file(index_tmp, "{}", 2);
    tu_holder_t h = tu_hold_flock(live); /* another process writing */

    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_gc(d, TU_GC(OCIDIR_GC_DRY_RUN, NULL, NULL), &r));
    assert_finding(r, OCIDIR_FIND_TEMP, "blobs/sha256/.ocidir-tmp-stale");
    assert_finding(r, OCIDIR_FIND_TEMP, ".ocidir-index-stale");
    assert_false(has_finding(r, OCIDIR_FIND_TEMP, "blobs/sha256/.ocidir-tmp-live"));
    assert_true(tu_exists(stale) && tu_exists(index_tmp));
    ocidir_report_free(r);

    assert_ocidir(0, ocidir_gc(d, NULL, &r));
    assert_finding(r, OCIDIR_FIND_REMOVED, "blobs/sha256/.ocidir-tmp-stale");
    assert_finding(r, OCIDIR_FIND_REMOVED, ".ocidir-index-stale");
    assert_false(tu_exists(stale));
    assert_false(tu_exists(index_tmp));
    assert_true(tu_exists(live));
    ocidir_report_free(r);
    tu_release_holder(&h);
    ocidir_close(d);
}

static void test_gc_keeps_unreferenced_blobs_younger_than_the_grace_period(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    char young[OCIDIR_DIGEST_MAX], old[OCIDIR_DIGEST_MAX], recommitted[OCIDIR_DIGEST_MAX];
    put(d, "young", young);
    put(d, "old", old);
    put(d, "recommitted", recommitted);
    age_file(tu_keep(tu_blob_path(dir, old)), 2 * OCIDIR_GC_GRACE_DEFAULT);
    age_file(tu_keep(tu_blob_path(dir, recommitted)), 2 * OCIDIR_GC_GRACE_DEFAULT);
    /* Committing it again restarts its grace period. */
    put(d, "recommitted", recommitted);

    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_gc(d, NULL, &r)); /* the default grace */
    assert_finding(r, OCIDIR_FIND_KEPT_RECENT, young);
    assert_finding(r, OCIDIR_FIND_KEPT_RECENT, recommitted);
    assert_finding(r, OCIDIR_FIND_REMOVED, old);
    assert_present(dir, young, 1);
    assert_present(dir, recommitted, 1);
    assert_present(dir, old, 0);
    ocidir_report_free(r);

    /* A shorter grace than their age: removed. */
    age_file(tu_keep(tu_blob_path(dir, young)), 120);
    assert_ocidir(0, ocidir_set_gc_grace(d, 60));
    assert_ocidir(0, ocidir_gc(d, NULL, &r));
    assert_finding(r, OCIDIR_FIND_REMOVED, young);
    assert_finding(r, OCIDIR_FIND_KEPT_RECENT, recommitted);
    ocidir_report_free(r);
    /* -1 restores the default. */
    age_file(tu_keep(tu_blob_path(dir, recommitted)), 120);
    assert_ocidir(0, ocidir_set_gc_grace(d, -1));
    assert_ocidir(0, ocidir_gc(d, NULL, &r));
    assert_finding(r, OCIDIR_FIND_KEPT_RECENT, recommitted);
    ocidir_report_free(r);
    ocidir_close(d);
}

static void test_gc_refuses_a_damaged_graph_and_removes_nothing(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img a, b;
    make_image(d, "a", "layer a", NULL, &a);
    make_image(d, "b", "layer b", NULL, &b);
    char junk[OCIDIR_DIGEST_MAX];
    put(d, "junk", junk);
    assert_ocidir(0, ocidir_set_gc_grace(d, 0));

    /* A missing manifest: NOT_FOUND naming it. */
    char *ma = tu_keep(tu_blob_path(dir, a.manifest));
    assert_int_equal(unlink(ma), 0);
    char *before = tu_keep(tu_tree_listing(dir));
    ocidir_report_t *r = NULL;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_gc(d, NULL, &r));
    assert_null(r);
    assert_non_null(strstr(ocidir_last_error(), a.manifest));
    assert_string_equal(tu_keep(tu_tree_listing(dir)), before);

    /* A corrupt manifest: DIGEST naming it. */
    assert_ocidir(0, ocidir_tag_remove(d, "a"));
    char *mb = tu_keep(tu_blob_path(dir, b.manifest));
    void *buf = NULL;
    ssize_t n = tu_read_file(mb, &buf);
    assert_true(n > 10);
    ((char *)buf)[n - 2] ^= 1;
    tu_write_file(mb, buf, (size_t)n);
    free(buf);
    before = tu_keep(tu_tree_listing(dir));
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_gc(d, NULL, &r));
    assert_non_null(strstr(ocidir_last_error(), b.manifest));
    assert_string_equal(tu_keep(tu_tree_listing(dir)), before);
    assert_present(dir, junk, 1);
    ocidir_close(d);
}

/* ---- A writer in another process racing gc ------------------------------ */

#define RACE_ROUNDS 30

/* The child: write a layer, build an image on it and tag it, RACE_ROUNDS
 * times; log "ok <tag> <digest>" or "fail <rc>" lines.  Exit status 0 unless
 * something failed other than the allowed way (NOT_FOUND with grace 0). */
static int race_writer(const char *dir, const char *log, int allow_not_found)
{
    ocidir_t *d = NULL;
    if (ocidir_open(AT_FDCWD, dir, 0, &d) != 0)
        return 10;
    FILE *f = fopen(log, "w");
    if (!f)
        return 11;
    int status = 0;
    for (int i = 0; i < RACE_ROUNDS && status == 0; i++) {
        char content[64], layer[OCIDIR_DIGEST_MAX], tag[32], man[OCIDIR_DIGEST_MAX];
        snprintf(content, sizeof content, "race layer %d of %d", i, (int)getpid());
        snprintf(tag, sizeof tag, "t%d", i);
        ocidir_builder_t *b = NULL;
        int rc = ocidir_blob_put(d, content, strlen(content), layer);
        if (rc == 0)
            rc = ocidir_builder_new(d, "linux/amd64", &b);
        if (rc == 0)
            rc = ocidir_builder_add_layer(b, TAR, layer, strlen(content), layer, NULL);
        if (rc == 0) {
            usleep((unsigned)(i % 3) * 1000); /* gc may see the layer unreferenced meanwhile */
            rc = ocidir_builder_commit(b, tag, 0, man);
        }
        ocidir_builder_free(b);
        if (rc == 0) {
            fprintf(f, "ok %s %s\n", tag, man);
        } else {
            fprintf(f, "fail %d %s\n", rc, ocidir_last_error());
            if (!(allow_not_found && rc == OCIDIR_E_NOT_FOUND))
                status = 12;
        }
        fflush(f);
    }
    fclose(f);
    ocidir_close(d);
    return status;
}

static void race(int64_t grace)
{
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    char *log = tu_keep(tu_join(tu_keep(tu_scratch_dir("log")), "race.log"));
    assert_ocidir(0, ocidir_set_gc_grace(d, grace));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(race_writer(dir, log, grace == 0));
    tu_defer_kill(pid);
    int status = 0, runs = 0;
    size_t removed = 0;
    for (;;) {
        ocidir_report_t *r = NULL;
        assert_ocidir(0, ocidir_gc(d, NULL, &r));
        removed += count_kind(r, OCIDIR_FIND_REMOVED);
        ocidir_report_free(r);
        runs++;
        usleep((unsigned)(runs % 4) * 1500); /* gaps in which some commits get through */
        pid_t w = waitpid(pid, &status, WNOHANG);
        assert_true(w >= 0);
        if (w == pid)
            break;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        void *buf = NULL;
        if (tu_read_file(log, &buf) >= 0)
            print_error("writer log:\n%s\n", (char *)buf);
        free(buf);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(runs > 1);

    /* Every tag the writer reported resolves to a complete image. */
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char line[512];
    int ok = 0, failed = 0, refused_under_lock = 0;
    while (fgets(line, sizeof line, f)) {
        refused_under_lock += strstr(line, "no longer present") != NULL;
        char tag[32], dg[OCIDIR_DIGEST_MAX];
        if (sscanf(line, "ok %31s %135s", tag, dg) == 2) {
            char got[OCIDIR_DIGEST_MAX];
            assert_ocidir(0, ocidir_resolve(d, tag, got, NULL, NULL));
            assert_string_equal(got, dg);
            assert_image_complete(d, tag);
            ok++;
        } else {
            failed++;
        }
    }
    fclose(f);
    assert_int_equal(ok + failed, RACE_ROUNDS);
    if (grace != 0)
        assert_int_equal(ok, RACE_ROUNDS);
    /* Whatever failed left no tag behind: every tag is one of the logged. */
    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    size_t ntags = 0;
    while (tags[ntags])
        ntags++;
    assert_int_equal(ntags, (size_t)ok);
    ocidir_strv_free(tags);
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_fsck(d, TU_FSCK(0, 1, NULL, NULL), &r));
    assert_int_equal(ocidir_report_damage(r), 0);
    ocidir_report_free(r);
    print_message("grace %lld: %d gc runs, %zu blobs removed, %d commits, %d refused cleanly (%d of them by "
                  "the check under the index lock)\n",
                  (long long)grace, runs, removed, ok, failed, refused_under_lock);
    ocidir_close(d);
}

static void test_gc_does_not_delete_a_blob_another_process_is_about_to_tag(void **state)
{
    (void)state;
    race(OCIDIR_GC_GRACE_DEFAULT);
}

static void test_gc_without_grace_makes_racing_commits_fail_cleanly(void **state)
{
    (void)state;
    race(0);
}

/* ---- Shared cache -------------------------------------------------------- */

/* Whether sha256/<hex> exists in a blob directory. */
static void assert_in_blobdir(const char *blobdir, const char *digest, int want)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/sha256/%s", blobdir, tu_hex(digest)) >= 0);
    int got = tu_exists(p);
    if (got != want)
        print_error("%s is %s\n", p, got ? "present" : "absent");
    free(p);
    assert_int_equal(got, want);
}

static void test_cache_gc_removes_only_what_no_layout_references(void **state)
{
    (void)state;
    char *cache = tu_keep(tu_scratch_dir("cache"));
    int cfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(cfd >= 0);
    char *da = NULL, *db = NULL;
    ocidir_t *a = tu_scratch_layout(&da);
    ocidir_t *b = tu_scratch_layout(&db);
    tu_keep(da);
    tu_keep(db);
    assert_ocidir(0, ocidir_add_blobdir_fd(a, cfd, OCIDIR_BLOBDIR_WRITE));
    assert_ocidir(0, ocidir_add_blobdir_fd(b, cfd, OCIDIR_BLOBDIR_WRITE));
    struct img ia, ib;
    make_image(a, "a", "shared base", "only a", &ia);
    make_image(b, "b", "shared base", "only b", &ib);
    assert_string_equal(ia.layer[0], ib.layer[0]);
    assert_in_blobdir(cache, ia.layer[1], 1);
    assert_ocidir(0, ocidir_tag_remove(a, "a"));
    assert_ocidir(0, ocidir_set_gc_grace(a, 0)); /* layouts[0]'s grace applies */

    ocidir_t *both[] = {a, b};
    const char *exclusive[] = {ia.manifest, ia.config, ia.layer[1]};
    char *before = tu_keep(tu_tree_listing(cache));
    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_cache_gc(cfd, both, 2, TU_GC(OCIDIR_GC_DRY_RUN, NULL, NULL), &r));
    assert_string_equal(tu_keep(tu_tree_listing(cache)), before);
    for (size_t i = 0; i < 3; i++)
        assert_finding(r, OCIDIR_FIND_UNREFERENCED, exclusive[i]);
    assert_int_equal(count_kind(r, OCIDIR_FIND_UNREFERENCED), 3);
    ocidir_report_free(r);

    assert_ocidir(0, ocidir_cache_gc(cfd, both, 2, NULL, &r));
    for (size_t i = 0; i < 3; i++) {
        assert_finding(r, OCIDIR_FIND_REMOVED, exclusive[i]);
        assert_in_blobdir(cache, exclusive[i], 0);
    }
    assert_int_equal(count_kind(r, OCIDIR_FIND_REMOVED), 3);
    ocidir_report_free(r);
    assert_in_blobdir(cache, ia.layer[0], 1);
    assert_in_blobdir(cache, ib.layer[1], 1);
    assert_in_blobdir(cache, ib.manifest, 1);
    assert_image_complete(b, "b");

    /* The same layout twice is locked once (no self-deadlock); no layouts
     * is INVALID; a read-only layout only allows a dry run. */
    ocidir_t *twice[] = {b, b};
    assert_ocidir(0, ocidir_cache_gc(cfd, twice, 2, NULL, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_cache_gc(cfd, both, 0, NULL, NULL));
    ocidir_t *ro = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, db, OCIDIR_OPEN_RDONLY, &ro));
    assert_ocidir(0, ocidir_add_blobdir_fd(ro, cfd, 0));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_cache_gc(cfd, &ro, 1, NULL, NULL));
    assert_ocidir(0, ocidir_cache_gc(cfd, &ro, 1, TU_GC(OCIDIR_GC_DRY_RUN, NULL, NULL), NULL));
    ocidir_close(ro);
    close(cfd);
    ocidir_close(a);
    ocidir_close(b);
}

/* ---- Removing an image --------------------------------------------------- */

static void test_tag_remove_gc_with_gc_keeps_shared_blobs_and_rewrites_index_first(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img one, two;
    make_image(d, "one", "shared", "only one", &one);
    make_image(d, "two", "shared", "only two", &two);
    assert_ocidir(0, ocidir_set_gc_grace(d, 0));

    /* Watch the order of the changes: index.json renamed into place, blobs
     * deleted.  One inotify instance queues both directories' events in
     * the order they happened. */
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(in >= 0);
    int w_root = inotify_add_watch(in, dir, IN_MOVED_TO);
    int w_blobs = inotify_add_watch(in, tu_keep(tu_join(dir, "blobs/sha256")), IN_DELETE);
    assert_true(w_root >= 0 && w_blobs >= 0);

    ocidir_report_t *r = NULL;
    assert_ocidir(0, ocidir_tag_remove_gc(d, "one", NULL, &r));
    const char *exclusive[] = {one.manifest, one.config, one.layer[1]};
    for (size_t i = 0; i < 3; i++) {
        assert_present(dir, exclusive[i], 0);
        assert_finding(r, OCIDIR_FIND_REMOVED, exclusive[i]);
    }
    assert_present(dir, one.layer[0], 1);
    ocidir_report_free(r);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_resolve(d, "one", NULL, NULL, NULL));
    assert_image_complete(d, "two");

    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n = read(in, buf, sizeof buf);
    assert_true(n > 0);
    int index_at = -1, first_delete_at = -1, k = 0;
    for (char *p = buf; p < buf + n; k++) {
        struct inotify_event *ev = (struct inotify_event *)p;
        if (ev->wd == w_root && (ev->mask & IN_MOVED_TO) && strcmp(ev->name, "index.json") == 0 && index_at < 0)
            index_at = k;
        if (ev->wd == w_blobs && (ev->mask & IN_DELETE) && first_delete_at < 0)
            first_delete_at = k;
        p += sizeof *ev + ev->len;
    }
    close(in);
    assert_true(index_at >= 0 && first_delete_at >= 0);
    assert_true(index_at < first_delete_at);

    /* Without gc (ocidir_tag_remove) only the tag goes. */
    assert_ocidir(0, ocidir_tag_remove(d, "two"));
    assert_present(dir, two.manifest, 1);
    assert_present(dir, two.layer[1], 1);
    ocidir_close(d);
}

static void test_tag_remove_gc_of_an_unknown_tag_is_not_found_and_changes_nothing(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img one;
    make_image(d, "one", "layer", NULL, &one);
    char junk[OCIDIR_DIGEST_MAX];
    put(d, "junk", junk);
    assert_ocidir(0, ocidir_set_gc_grace(d, 0));
    char *before = tu_keep(tu_tree_listing(dir));
    ocidir_report_t *r = NULL;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_tag_remove_gc(d, "nope", NULL, &r));
    assert_null(r);
    assert_non_null(strstr(ocidir_last_error(), "nope"));
    assert_string_equal(tu_keep(tu_tree_listing(dir)), before);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_remove_gc(d, "one", TU_GC(0x40, NULL, NULL), NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_remove(d, NULL));
    ocidir_close(d);
}

/* ---- Many unreferenced blobs ---------------------------------------------- */

#define MANY 1500

struct many {
    char name[MANY][65];   /* hex names, in the directory's listing order */
    uint64_t size[MANY];
    size_t n;
};

/* MANY unreferenced blobs written as files under their digest, then the
 * order in which the directory lists them (the order gc sweeps them in). */
static void many_garbage(const char *dir, struct many *g)
{
    char *sub = tu_keep(tu_join(dir, "blobs/sha256"));
    /* The blobs there already (the image's) are not garbage. */
    char before[16][65];
    size_t nbefore = 0;
    DIR *dh = opendir(sub);
    assert_non_null(dh);
    struct dirent *e;
    while ((e = readdir(dh)) != NULL)
        if (strlen(e->d_name) == 64) {
            assert_true(nbefore < 16);
            snprintf(before[nbefore++], 65, "%s", e->d_name);
        }
    closedir(dh);
    unsigned char buf[300];
    for (size_t i = 0; i < MANY; i++) {
        size_t len = 1 + i % sizeof buf;
        for (size_t k = 0; k < len; k++)
            buf[k] = (unsigned char)(i * 131 + k * 7 + (i >> 8));
        char dg[OCIDIR_DIGEST_MAX];
        assert_int_equal(ocidir_digest_buffer(OCIDIR_SHA256, buf, len, dg), 0);
        char *p = tu_join(sub, dg + 7);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, len), (ssize_t)len);
        close(fd);
        free(p);
    }
    dh = opendir(sub);
    assert_non_null(dh);
    g->n = 0;
    struct stat st;
    while ((e = readdir(dh)) != NULL) {
        if (strlen(e->d_name) != 64)
            continue;
        int old = 0;
        for (size_t i = 0; i < nbefore; i++)
            old |= strcmp(before[i], e->d_name) == 0;
        if (old)
            continue;
        char *p = tu_join(sub, e->d_name);
        assert_int_equal(stat(p, &st), 0);
        free(p);
        assert_true(g->n < MANY);
        snprintf(g->name[g->n], sizeof g->name[g->n], "%s", e->d_name);
        g->size[g->n++] = (uint64_t)st.st_size;
    }
    closedir(dh);
    assert_int_equal(g->n, MANY);
}

static int many_present(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dir, name);
    return access(path, F_OK) == 0;
}

struct cancel_mid {
    uint64_t at, total;
    int calls;
};

static int cancel_in_the_middle(uint64_t done, uint64_t total, void *user)
{
    struct cancel_mid *c = user;
    c->calls++;
    if (done > 0 && done < total) {
        c->at = done;
        c->total = total;
        return 1;
    }
    return 0;
}

/* Enough candidates for the removals to run on several threads: a cancel
 * still leaves a prefix of the listing order removed, and the report lists
 * every removal, in that order, with its size. */
static void test_gc_of_many_blobs_removes_a_prefix_on_cancel_and_reports_in_order(void **state)
{
    (void)state;
    char *dir = NULL;
    ocidir_t *d = tu_scratch_layout(&dir);
    tu_keep(dir);
    struct img keep;
    make_image(d, "keep", "keep layer 0", "keep layer 1", &keep);
    static struct many g;
    many_garbage(dir, &g);

    ocidir_gc_options_t o = OCIDIR_GC_OPTIONS_INIT;
    o.grace_seconds = 0;
    struct cancel_mid c = {0, 0, 0};
    o.progress = cancel_in_the_middle;
    o.user = &c;
    ocidir_report_t *rep = NULL;
    assert_ocidir(OCIDIR_E_CANCELED, ocidir_gc(d, &o, &rep));
    assert_null(rep);
    size_t k = 0;
    uint64_t sum = 0;
    while (k < g.n && sum < c.at)
        sum += g.size[k++];
    assert_int_equal(sum, c.at);
    assert_true(k > 0 && k < g.n);
    for (size_t i = 0; i < g.n; i++)
        if (many_present(dir, g.name[i]) != (i >= k)) {
            print_error("canceled after %zu of %zu removals: blob %zu (%s) is %s\n", k, g.n, i, g.name[i],
                        i >= k ? "gone" : "still there");
            fail();
        }
    assert_image_complete(d, "keep");

    /* The rest, without a callback: one REMOVED finding per blob, in order. */
    o.progress = NULL;
    o.user = NULL;
    assert_ocidir(0, ocidir_gc(d, &o, &rep));
    size_t j = k;
    for (size_t i = 0; i < ocidir_report_count(rep); i++) {
        ocidir_find_kind_t kind;
        const char *subject;
        uint64_t size;
        assert_int_equal(ocidir_report_get(rep, i, &kind, &subject, &size, NULL), 0);
        if (kind != OCIDIR_FIND_REMOVED)
            continue;
        assert_true(j < g.n);
        assert_string_equal(subject + 7, g.name[j]);
        assert_int_equal(size, g.size[j]);
        j++;
    }
    assert_int_equal(j, g.n);
    for (size_t i = 0; i < g.n; i++)
        assert_false(many_present(dir, g.name[i]));
    ocidir_report_free(rep);
    assert_image_complete(d, "keep");
    ocidir_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_gc_keeps_everything_reachable_and_removes_the_rest),
        TEARDOWN(test_gc_dry_run_reports_and_removes_nothing),
        TEARDOWN(test_gc_never_touches_an_added_blob_directory_nor_a_followed_symlink),
        TEARDOWN(test_gc_removes_stale_temp_files_but_not_a_live_writers),
        TEARDOWN(test_gc_keeps_unreferenced_blobs_younger_than_the_grace_period),
        TEARDOWN(test_gc_refuses_a_damaged_graph_and_removes_nothing),
        TEARDOWN(test_gc_does_not_delete_a_blob_another_process_is_about_to_tag),
        TEARDOWN(test_gc_without_grace_makes_racing_commits_fail_cleanly),
        TEARDOWN(test_cache_gc_removes_only_what_no_layout_references),
        TEARDOWN(test_tag_remove_gc_with_gc_keeps_shared_blobs_and_rewrites_index_first),
        TEARDOWN(test_tag_remove_gc_of_an_unknown_tag_is_not_found_and_changes_nothing),
        TEARDOWN(test_gc_of_many_blobs_removes_a_prefix_on_cancel_and_reports_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
