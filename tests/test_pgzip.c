/*
 * Parallel gzip layers (threads 0 or 2..64 in ocidir_layer_writer_new): the
 * input is compressed in blocks on several threads (512 KiB blocks by
 * libdeflate when the build has it, each made joinable by clearing its final
 * bit and appending an empty stored block; else 128 KiB blocks by zlib with a
 * 32 KiB dictionary) and joined into one gzip member.  These tests check that what comes out is one valid gzip
 * member that gzip -dc and zlib decompress to the very bytes written, for
 * empty input, one block, many blocks and sizes at and around the block and
 * window boundaries, with every thread count from 1 to 8; that the output
 * does not depend on the thread count; and that the diff_id and blob digest
 * are those of the bytes.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define KIB 1024u
/* src/image/pgzip.hh kPgzipBlock */
#if OCIDIR_TEST_HAVE_LIBDEFLATE
#define BLOCK (512 * KIB)
#else
#define BLOCK (128 * KIB)
#endif
#define ZBLOCK (128 * KIB) /* zlib's block size, tried in both builds */

static const size_t kSizes[] = {
    0,          1,          1000,       32 * KIB - 1,   32 * KIB,      32 * KIB + 1,  ZBLOCK - 1,
    ZBLOCK,     ZBLOCK + 1, 2 * ZBLOCK, 2 * ZBLOCK + 1, BLOCK - 1,     BLOCK,         BLOCK + 1,
    2 * BLOCK,  2 * BLOCK + 1, 3 * BLOCK - 1, 5 * BLOCK + 17, 10 * BLOCK + 12345,
};

/* Compressible input whose repeats reach back across block boundaries (a
 * wrong dictionary then breaks decompression), with random stretches in it. */
static unsigned char *make_input(size_t len, uint32_t seed)
{
    unsigned char *p = malloc(len ? len : 1);
    assert_non_null(p);
    unsigned char pattern[5003];
    tu_fill(pattern, sizeof pattern, seed);
    for (size_t i = 0; i < len; i++)
        p[i] = pattern[i % sizeof pattern] & 0x3f;
    for (size_t off = 7 * KIB; off < len; off += 97 * KIB) {
        size_t n = len - off < 3 * KIB ? len - off : 3 * KIB;
        tu_fill(p + off, n, seed + (uint32_t)off);
    }
    return p;
}

typedef struct {
    char digest[OCIDIR_DIGEST_MAX];
    char diff_id[OCIDIR_DIGEST_MAX];
    uint64_t size;
} layer_t;

/* Write buf through a gzip layer writer in writes of `chunk` bytes (0: random sizes). */
static void write_gzip(ocidir_t *d, int level, int threads, const unsigned char *buf, size_t len, size_t chunk,
                       layer_t *out)
{
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, level, threads, &w));
    uint32_t x = (uint32_t)len * 2654435761u + 1;
    for (size_t off = 0; off < len;) {
        size_t n = chunk;
        if (chunk == 0) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            n = x % 3 == 0 ? x % 300 : x % (3 * BLOCK);
        }
        if (n > len - off)
            n = len - off;
        assert_ocidir(0, ocidir_layer_writer_write(w, buf + off, n));
        off += n;
    }
    assert_ocidir(0, ocidir_layer_writer_commit(w, out->digest, &out->size, out->diff_id));
}

/* zlib: the blob is exactly one gzip member (nothing after it) holding buf. */
static void assert_zlib_gives(const unsigned char *gz, size_t gz_len, const unsigned char *buf, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    unsigned char *out = malloc(len + 1);
    assert_non_null(out);
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)gz_len;
    z.next_out = out;
    z.avail_out = (uInt)(len + 1);
    int rc = inflate(&z, Z_FINISH);
    if (rc != Z_STREAM_END)
        print_error("inflate: %d (%s)\n", rc, z.msg ? z.msg : "");
    assert_int_equal(rc, Z_STREAM_END);
    assert_int_equal(z.avail_in, 0); /* one member, no trailing bytes */
    assert_int_equal(z.total_out, len);
    assert_memory_equal(out, buf, len);
    inflateEnd(&z);
    free(out);
}

static void check_layer(ocidir_t *d, const char *layout, const char *scratch, const layer_t *l,
                        const unsigned char *buf, size_t len)
{
    char want[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, buf, len, want));
    assert_string_equal(l->diff_id, want);

    char *blob = tu_blob_path(layout, l->digest);
    void *gz = NULL;
    ssize_t gz_len = tu_read_file(blob, &gz);
    assert_int_equal(gz_len, (ssize_t)l->size);
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, gz, (size_t)gz_len, want));
    assert_string_equal(l->digest, want);
    assert_zlib_gives(gz, (size_t)gz_len, buf, len);
    free(gz);

    char *out = tu_join(scratch, "out");
    assert_int_equal(tu_sh("gzip -t < '%s' && gzip -dc < '%s' > '%s'", blob, blob, out), 0);
    void *got = NULL;
    assert_int_equal(tu_read_file(out, &got), (ssize_t)len);
    assert_memory_equal(got, buf, len);
    free(got);
    free(out);
    free(blob);

    /* The library's own reader verifies both digests to a clean end. */
    ocidir_layer_reader_t *r = NULL;
    assert_ocidir(0, ocidir_layer_open(d, ocidir_compression_media_type(OCIDIR_COMPRESSION_GZIP), l->digest,
                                       (int64_t)l->size, l->diff_id, &r));
    unsigned char tmp[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = ocidir_layer_reader_read(r, tmp, sizeof tmp)) > 0)
        total += (size_t)n;
    assert_int_equal(n, 0);
    assert_int_equal(total, len);
    ocidir_layer_reader_close(r);
}

static void test_every_size_and_thread_count_decompresses_identically(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *scratch = tu_keep(tu_scratch_dir("pgzip"));
    for (size_t s = 0; s < N(kSizes); s++) {
        unsigned char *in = make_input(kSizes[s], (uint32_t)s + 1);
        for (int threads = 0; threads <= 8; threads++) {
            layer_t l;
            /* Writes that are not a multiple of the block size. */
            write_gzip(d, 6, threads, in, kSizes[s], 100000, &l);
            check_layer(d, layout, scratch, &l, in, kSizes[s]);
        }
        free(in);
    }
    ocidir_close(d);
}

static void test_output_does_not_depend_on_thread_count_or_write_sizes(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 7 * BLOCK + 999;
    unsigned char *in = make_input(len, 42);
    static const int levels[] = {1, 6, 9};
    for (size_t i = 0; i < N(levels); i++) {
        layer_t first, l;
        write_gzip(d, levels[i], 2, in, len, len, &first);
        for (int threads = 0; threads <= 8; threads++) {
            if (threads == 1)
                continue;
            write_gzip(d, levels[i], threads, in, len, 0 /* random sizes */, &l);
            assert_string_equal(l.digest, first.digest);
            assert_string_equal(l.diff_id, first.diff_id);
        }
        /* One thread is plain single-stream zlib: another blob, same content. */
        write_gzip(d, levels[i], 1, in, len, 0, &l);
        assert_string_not_equal(l.digest, first.digest);
        assert_string_equal(l.diff_id, first.diff_id);
    }
    free(in);
    ocidir_close(d);
}

static void test_blocks_refer_back_across_block_boundaries(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    /* 40 zlib-sized blocks repeating one random 5000-byte pattern: a single
     * zlib stream stores the pattern once.  With zlib each parallel block
     * starts with the previous block's last 32 KiB as its dictionary, so it
     * need not store it again (without one, every block would: 40 x ~4 KiB
     * more).  libdeflate has no dictionary: each of its blocks stores the
     * pattern once, and no more than that. */
    const size_t len = 40 * ZBLOCK;
    unsigned char *in = malloc(len);
    assert_non_null(in);
    tu_fill(in, 5000, 9);
    for (size_t i = 5000; i < len; i++)
        in[i] = in[i - 5000];
    layer_t single, parallel;
    write_gzip(d, 6, 1, in, len, len, &single);
    write_gzip(d, 6, 4, in, len, len, &parallel);
    print_message("periodic %zu bytes: single-threaded %llu bytes, parallel %llu bytes\n", len,
                  (unsigned long long)single.size, (unsigned long long)parallel.size);
#if OCIDIR_TEST_HAVE_LIBDEFLATE
    const size_t blocks = (len + BLOCK - 1) / BLOCK;
    assert_true(parallel.size < single.size + blocks * 5100);
#else
    assert_true(parallel.size < single.size + 40 * 1000);
#endif
    free(in);
    ocidir_close(d);
}

/* Content of one kind, so that the compressor makes blocks of every type:
 * stored (random bytes), Huffman-coded with its own codes (text), long
 * matches (zeros), and short stretches of each in turn. */
static unsigned char *make_kind(size_t len, int kind, uint32_t seed)
{
    unsigned char *p = malloc(len ? len : 1);
    assert_non_null(p);
    static const char *const words[] = {"layer ", "blob ", "digest ", "the ", "of ", "manifest\n", "index "};
    uint32_t x = seed * 2654435761u + 7;
    size_t i = 0;
    while (i < len) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        int k = kind < 3 ? kind : (int)(x % 3);
        size_t run = kind < 3 ? len - i : 100 + x % 3000;
        if (run > len - i)
            run = len - i;
        if (k == 0) {
            tu_fill(p + i, run, x);
        } else if (k == 1) {
            for (size_t n = 0; n < run;) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                const char *w = words[x % (sizeof words / sizeof words[0])];
                for (; *w && n < run; w++)
                    p[i + n++] = (unsigned char)*w;
            }
        } else {
            memset(p + i, 0, run);
        }
        i += run;
    }
    return p;
}

static void test_blocks_of_every_kind_join_into_one_stream(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *scratch = tu_keep(tu_scratch_dir("pgzip-kinds"));
    /* Many joins with different contents: each block's deflate data ends at
     * its own bit position within a byte, which decides how the empty stored
     * block that ends it is laid out. */
    for (int kind = 0; kind < 4; kind++) {
        for (uint32_t seed = 1; seed <= (kind == 3 ? 12u : 3u); seed++) {
            size_t len = 2 * BLOCK + seed * 7919;
            unsigned char *in = make_kind(len, kind, seed);
            layer_t l;
            write_gzip(d, seed % 2 ? 6 : 9, 3, in, len, 65536, &l);
            check_layer(d, layout, scratch, &l, in, len);
            free(in);
        }
    }
    ocidir_close(d);
}

static void test_level_is_recorded_in_the_gzip_header(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    /* gzip's header: magic, deflate, no flags, mtime 0, XFL (2: level 9,
     * 4: level 1, else 0), OS 3 (Unix), as zlib writes it. */
    static const struct {
        int level;
        unsigned char xfl;
    } cases[] = {{1, 4}, {6, 0}, {9, 2}};
    unsigned char in[3000];
    tu_fill(in, sizeof in, 5);
    for (size_t i = 0; i < N(cases); i++) {
        layer_t l;
        write_gzip(d, cases[i].level, 4, in, sizeof in, sizeof in, &l);
        char *blob = tu_blob_path(layout, l.digest);
        unsigned char *gz = NULL;
        assert_true(tu_read_file(blob, (void **)&gz) > 18);
        const unsigned char want[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, cases[i].xfl, 3};
        assert_memory_equal(gz, want, sizeof want);
        free(gz);
        free(blob);
    }
    ocidir_close(d);
}

static void test_gzip_threads_outside_0_to_64_are_invalid(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 6, -1, &w));
    assert_non_null(strstr(ocidir_last_error(), "threads -1"));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 6, 65, &w));
    assert_non_null(strstr(ocidir_last_error(), "threads 65"));
    assert_null(w);
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 6, 64, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, "x", 1));
    ocidir_layer_writer_abort(w); /* stops the 64 threads; nothing is published */
    char *dir = tu_keep(tu_join(layout, "blobs/sha256"));
    assert_int_equal(tu_count_entries(dir), 0);
    ocidir_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_every_size_and_thread_count_decompresses_identically, tu_teardown_keep),
        cmocka_unit_test_teardown(test_output_does_not_depend_on_thread_count_or_write_sizes, tu_teardown_keep),
        cmocka_unit_test_teardown(test_blocks_refer_back_across_block_boundaries, tu_teardown_keep),
        cmocka_unit_test_teardown(test_blocks_of_every_kind_join_into_one_stream, tu_teardown_keep),
        cmocka_unit_test_teardown(test_level_is_recorded_in_the_gzip_header, tu_teardown_keep),
        cmocka_unit_test_teardown(test_gzip_threads_outside_0_to_64_are_invalid, tu_teardown_keep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
