/* ocidir_unpack's read-ahead: with more than one CPU, a second thread
 * decompresses and hashes a layer while the calling thread writes the tree.
 * Layers here are large enough (several MiB, thousands of entries) for the
 * reading thread to run ahead of the writer: a failure it meets late in the
 * stream, a failure the writer meets while the reader waits, and a
 * cancellation in the middle of a layer all come out with their code and
 * message, and leave the destination absent.  Registered also under
 * `taskset -c 0` (one CPU: no second thread). */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tar_gen.h"

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_scratch)
#define FILES 1500
#define FILE_BYTES 6000

struct fx {
    char *scratch, *dest, *layout;
    ocidir_t *d;
};

static unsigned char content[FILE_BYTES];

static void fill_content(unsigned i)
{
    uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);
    for (size_t k = 0; k < FILE_BYTES; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        content[k] = (k % 7 == 0) ? (unsigned char)x : (unsigned char)('a' + k % 26); /* compressible, not trivially */
    }
}

/* FILES files of FILE_BYTES in 30 directories; with `hostile`, an entry
 * "../escape" near the end. */
static void make_tar(tg_tar_t *t, int hostile)
{
    char name[64];
    for (unsigned dir = 0; dir < 30; dir++) {
        snprintf(name, sizeof name, "d%02u/", dir);
        tg_dir(t, name, 0755);
    }
    for (unsigned i = 0; i < FILES; i++) {
        if (hostile && i == FILES - 10)
            tg_file(t, "../escape", 0644, "x");
        fill_content(i);
        snprintf(name, sizeof name, "d%02u/f%05u", i % 30, i);
        tg_entry_t e = {.name = name, .type = '0', .mode = 0644, .size = FILE_BYTES, .mtime = 1000000000,
                        .data = content, .data_len = FILE_BYTES};
        tg_entry(t, &e);
    }
    tg_end(t);
}

static void fx_init(struct fx *f, int hostile)
{
    memset(f, 0, sizeof *f);
    /* In memory where /dev/shm exists: the subject is the threads, not the disk. */
    f->scratch = tu_scratch_dir_shm("unpackstream");
    if (!f->scratch)
        f->scratch = tu_scratch_dir("unpackstream");
    f->dest = tu_join(f->scratch, "dest");
    f->layout = tu_join(f->scratch, "layout");
    assert_ocidir(0, ocidir_open(AT_FDCWD, f->layout, OCIDIR_OPEN_CREATE, &f->d));
    tg_tar_t t;
    tg_init(&t);
    make_tar(&t, hostile);
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(f->d, NULL, &b));
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(f->d, OCIDIR_COMPRESSION_GZIP, 1, 1, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, t.buf, t.len));
    assert_ocidir(0, ocidir_builder_add_layer_writer(b, w, NULL));
    assert_ocidir(0, ocidir_builder_commit(b, "t", 0, NULL));
    ocidir_builder_free(b);
    tg_free(&t);
}

static void fx_free(struct fx *f)
{
    ocidir_close(f->d);
    free(f->dest);
    free(f->scratch);
    free(f->layout);
}

static int unpack(struct fx *f, const ocidir_unpack_options_t *o)
{
    ocidir_unpack_options_t mine;
    if (o)
        mine = *o;
    else
        assert_ocidir(0, ocidir_unpack_options_init(&mine, sizeof mine));
    mine.flags |= OCIDIR_UNPACK_NO_SYNC;
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(f->d, "t", NULL, &img));
    int rc = ocidir_unpack(img, AT_FDCWD, f->dest, &mine, NULL);
    ocidir_image_close(img);
    return rc;
}

/* The layer's digest, and the blob flipped at `back` bytes from its end. */
static void damage_layer(struct fx *f, size_t back, char *digest_out)
{
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(f->d, "t", NULL, &img));
    char *mt = NULL;
    uint64_t size = 0;
    assert_ocidir(0, ocidir_image_layer(img, 0, &mt, digest_out, &size));
    char *p = tu_blob_path(f->layout, digest_out);
    void *buf = NULL;
    ssize_t n = tu_read_file(p, &buf);
    assert_true(n > (ssize_t)back + 1000000); /* large enough for the reader to run ahead */
    ((unsigned char *)buf)[n - (ssize_t)back] ^= 0x55;
    chmod(p, 0644);
    tu_write_file(p, buf, (size_t)n);
    free(buf);
    free(p);
    ocidir_free(mt);
    ocidir_image_close(img);
}

static void test_large_layer_unpacks_every_byte(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    assert_ocidir(0, unpack(&f, NULL));
    /* A sample of files, content compared. */
    for (unsigned i = 0; i < FILES; i += 97) {
        char rel[64];
        snprintf(rel, sizeof rel, "d%02u/f%05u", i % 30, i);
        char *p = tu_join(f.dest, rel);
        void *buf = NULL;
        ssize_t n = tu_read_file(p, &buf);
        assert_int_equal(n, FILE_BYTES);
        fill_content(i);
        assert_memory_equal(buf, content, FILE_BYTES);
        free(buf);
        free(p);
    }
    fx_free(&f);
}

/* The blob is damaged in its gzip trailer (ISIZE): the reading thread finds
 * it (and then the blob digest mismatch) up to 1 MiB of decompressed data
 * ahead of the writer, which is still busy with earlier entries. */
static void test_damage_late_in_layer_fails_with_its_digest_and_cleans_up(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    char dg[OCIDIR_DIGEST_MAX];
    damage_layer(&f, 3, dg);
    int rc = unpack(&f, NULL);
    if (rc != OCIDIR_E_DIGEST)
        print_error("rc %d: %s\n", rc, ocidir_last_error());
    assert_int_equal(rc, OCIDIR_E_DIGEST);
    assert_non_null(strstr(ocidir_last_error(), dg));
    assert_false(tu_exists(f.dest));
    fx_free(&f);
}

/* The writer fails (a hostile entry) while the reading thread is ahead. */
static void test_writer_failure_stops_the_reader_and_cleans_up(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 1);
    int rc = unpack(&f, NULL);
    if (rc != OCIDIR_E_FORMAT)
        print_error("rc %d: %s\n", rc, ocidir_last_error());
    assert_int_equal(rc, OCIDIR_E_FORMAT);
    assert_non_null(strstr(ocidir_last_error(), "../escape"));
    assert_false(tu_exists(f.dest));
    char *outside = tu_join(f.scratch, "escape");
    assert_false(tu_exists(outside));
    free(outside);
    fx_free(&f);
}

static int cancel_mid_layer(uint64_t done, uint64_t total, void *user)
{
    (void)done;
    (void)total;
    int *calls = user;
    return ++*calls >= 4; /* the first call is before the layer; then every 256 entries */
}

static void test_cancel_in_the_middle_of_a_layer_cleans_up(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    int calls = 0;
    ocidir_unpack_options_t o;
    assert_ocidir(0, ocidir_unpack_options_init(&o, sizeof o));
    o.progress = cancel_mid_layer;
    o.user = &calls;
    assert_ocidir(OCIDIR_E_CANCELED, unpack(&f, &o));
    assert_int_equal(calls, 4);
    assert_false(tu_exists(f.dest));
    /* And the same layout unpacks afterwards. */
    assert_ocidir(0, unpack(&f, NULL));
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_large_layer_unpacks_every_byte),
        TEARDOWN(test_damage_late_in_layer_fails_with_its_digest_and_cleans_up),
        TEARDOWN(test_writer_failure_stops_the_reader_and_cleans_up),
        TEARDOWN(test_cancel_in_the_middle_of_a_layer_cleans_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
