/* Layers: compressing writers (none, gzip, zstd) that give the blob digest
 * and the diff_id in one pass; decompressing readers that report a clean end
 * only after the blob matched its digest and the tar stream its diff_id;
 * interoperability with the gzip and zstd command-line tools. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MT_TAR "application/vnd.oci.image.layer.v1.tar"
#define MT_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MIB (1024u * 1024u)

static const ocidir_compression_t kAll[] = {OCIDIR_COMPRESSION_NONE, OCIDIR_COMPRESSION_GZIP,
                                            OCIDIR_COMPRESSION_ZSTD};

/* ---- helpers ------------------------------------------------------------ */

/* Input shaped like a tar stream: alternate 4 KiB blocks of text (which
 * compresses) and of random bytes (which does not). */
static unsigned char *make_input(size_t len, uint32_t seed)
{
    static const char text[] = "./usr/lib/x86_64-linux-gnu/libc.so.6\0000000644\0000000000 ustar ";
    unsigned char *p = malloc(len ? len : 1);
    assert_non_null(p);
    tu_fill(p, len, seed);
    for (size_t off = 0; off < len; off += 8192) {
        size_t end = off + 4096 < len ? off + 4096 : len;
        for (size_t i = off; i < end; i++)
            p[i] = (unsigned char)text[i % (sizeof text - 1)];
    }
    return p;
}

static void digest_of(const void *buf, size_t len, char out[OCIDIR_DIGEST_MAX])
{
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, buf, len, out));
}

typedef struct {
    char digest[OCIDIR_DIGEST_MAX];
    char diff_id[OCIDIR_DIGEST_MAX];
    uint64_t size;
    const char *media_type;
} layer_t;

/* Write `len` bytes through a layer writer in writes of `chunk` bytes. */
static void write_layer(ocidir_t *d, ocidir_compression_t c, int level, int threads, const unsigned char *buf,
                        size_t len, size_t chunk, layer_t *out)
{
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, c, level, threads, &w));
    assert_non_null(w);
    out->media_type = ocidir_layer_writer_media_type(w);
    assert_non_null(out->media_type);
    assert_string_equal(out->media_type, ocidir_compression_media_type(c));
    for (size_t off = 0; off < len;) {
        size_t n = chunk < len - off ? chunk : len - off;
        assert_ocidir(0, ocidir_layer_writer_write(w, buf + off, n));
        off += n;
    }
    memset(out->digest, 0, sizeof out->digest);
    memset(out->diff_id, 0, sizeof out->diff_id);
    out->size = UINT64_MAX;
    assert_ocidir(0, ocidir_layer_writer_commit(w, out->digest, &out->size, out->diff_id));
    assert_ocidir(0, ocidir_digest_validate(out->digest));
    assert_ocidir(0, ocidir_digest_validate(out->diff_id));
}

/* Open a layer and read it to its end or to an error in reads of `chunk`
 * bytes.  Returns the open error, or the last read's result (0 or a negative
 * code), after checking that it repeats (the end stays the end, errors are
 * sticky).  The bytes handed out go to *buf_out (malloc'd) / *len_out when
 * they are not NULL. */
static ssize_t read_layer(ocidir_t *d, const char *mt, const char *digest, int64_t size, const char *diff_id,
                          size_t chunk, unsigned char **buf_out, size_t *len_out)
{
    ocidir_layer_reader_t *r = NULL;
    int rc = ocidir_layer_open(d, mt, digest, size, diff_id, &r);
    if (rc != 0) {
        assert_null(r);
        return rc;
    }
    assert_non_null(r);
    size_t cap = chunk + MIB, off = 0;
    unsigned char *b = malloc(cap);
    assert_non_null(b);
    ssize_t n;
    for (;;) {
        if (cap - off < chunk) {
            cap = 2 * cap + chunk;
            b = realloc(b, cap);
            assert_non_null(b);
        }
        n = ocidir_layer_reader_read(r, b + off, chunk);
        if (n <= 0)
            break;
        assert_true((size_t)n <= chunk);
        off += (size_t)n;
    }
    unsigned char probe[16];
    assert_int_equal(ocidir_layer_reader_read(r, probe, sizeof probe), n);
    assert_int_equal(ocidir_layer_reader_read(r, probe, sizeof probe), n);
    ocidir_layer_reader_close(r);
    if (len_out)
        *len_out = off;
    if (buf_out)
        *buf_out = b;
    else
        free(b);
    return n;
}

/* Read a layer and require the clean end and exactly `want`. */
static void assert_layer_reads(ocidir_t *d, const char *mt, const char *digest, int64_t size, const char *diff_id,
                               size_t chunk, const unsigned char *want, size_t want_len)
{
    unsigned char *got = NULL;
    size_t got_len = 0;
    ssize_t rc = read_layer(d, mt, digest, size, diff_id, chunk, &got, &got_len);
    if (rc != 0)
        print_error("reading %s %s: %zd (%s): %s\n", mt, digest, rc, ocidir_strerror((int)rc), ocidir_last_error());
    assert_int_equal(rc, 0);
    assert_int_equal(got_len, want_len);
    if (want_len)
        assert_memory_equal(got, want, want_len);
    free(got);
}

/* Read a layer and require it to end with `code` (never 0). */
static void assert_layer_fails(ocidir_t *d, const char *mt, const char *digest, const char *diff_id, int code)
{
    ssize_t rc = read_layer(d, mt, digest, -1, diff_id, 65536, NULL, NULL);
    if (rc != code)
        print_error("reading %s %s: %zd (%s), expected %d; last error: %s\n", mt, digest, rc,
                    ocidir_strerror((int)rc), code, ocidir_last_error());
    assert_int_equal(rc, code);
}

/* The bytes of a blob file. */
static unsigned char *blob_bytes(const char *layout, const char *digest, size_t *len)
{
    char *path = tu_blob_path(layout, digest);
    void *buf = NULL;
    ssize_t n = tu_read_file(path, &buf);
    if (n < 0)
        print_error("%s does not exist\n", path);
    assert_true(n >= 0);
    free(path);
    *len = (size_t)n;
    return buf;
}

/* The blob's digest and size are those of its file's bytes. */
static void assert_blob_matches_file(const char *layout, const layer_t *l)
{
    size_t len;
    unsigned char *b = blob_bytes(layout, l->digest, &len);
    char dg[OCIDIR_DIGEST_MAX];
    digest_of(b, len, dg);
    assert_string_equal(dg, l->digest);
    assert_int_equal(len, l->size);
    free(b);
}

/* Run a shell command; returns its exit status. */
static int run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    int st = system(cmd);
    assert_true(st != -1);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Put bytes as a blob; returns its digest in dg. */
static void put(ocidir_t *d, const void *buf, size_t len, char dg[OCIDIR_DIGEST_MAX])
{
    assert_ocidir(0, ocidir_blob_put(d, buf, len, dg));
}

static void assert_last_error_mentions(const char *what)
{
    const char *m = ocidir_last_error();
    if (!strstr(m, what))
        print_error("last error \"%s\" does not mention \"%s\"\n", m, what);
    assert_non_null(strstr(m, what));
}

/* ---- media types --------------------------------------------------------- */

static void test_compression_media_type_names_each_compression(void **state)
{
    (void)state;
    assert_string_equal(ocidir_compression_media_type(OCIDIR_COMPRESSION_NONE), MT_TAR);
    assert_string_equal(ocidir_compression_media_type(OCIDIR_COMPRESSION_GZIP), MT_GZIP);
    assert_string_equal(ocidir_compression_media_type(OCIDIR_COMPRESSION_ZSTD), MT_ZSTD);
    assert_null(ocidir_compression_media_type((ocidir_compression_t)3));
    assert_null(ocidir_compression_media_type((ocidir_compression_t)-1));
    assert_null(ocidir_layer_writer_media_type(NULL));
}

/* ---- round trips ----------------------------------------------------------- */

static void test_round_trip_every_compression_and_size(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    static const size_t sizes[] = {0, 1, MIB + 7, 20 * MIB};
    for (size_t s = 0; s < N(sizes); s++) {
        size_t len = sizes[s];
        unsigned char *in = make_input(len, (uint32_t)(100 + s));
        char want_diff[OCIDIR_DIGEST_MAX];
        digest_of(in, len, want_diff);
        for (size_t c = 0; c < N(kAll); c++) {
            layer_t l;
            write_layer(d, kAll[c], 0, 0, in, len, 65536 + 3, &l);
            /* The diff_id is the sha256 of the input, the digest that of the blob file. */
            assert_string_equal(l.diff_id, want_diff);
            assert_blob_matches_file(layout, &l);
            if (kAll[c] == OCIDIR_COMPRESSION_NONE) {
                assert_string_equal(l.digest, want_diff);
                assert_int_equal(l.size, len);
            } else {
                assert_true(l.size > 0);  /* even an empty stream has a header */
            }
            assert_layer_reads(d, l.media_type, l.digest, (int64_t)l.size, l.diff_id, 100000, in, len);
            /* Without a diff_id only the blob digest is checked. */
            if (len <= MIB + 7)
                assert_layer_reads(d, l.media_type, l.digest, -1, NULL, 4096, in, len);
        }
        free(in);
    }
    ocidir_close(d);
}

static void test_levels_and_zstd_threads_round_trip(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = MIB + 7;
    unsigned char *in = make_input(len, 7);
    char want_diff[OCIDIR_DIGEST_MAX];
    digest_of(in, len, want_diff);

    static const struct {
        ocidir_compression_t c;
        int level, threads;
    } cases[] = {
        {OCIDIR_COMPRESSION_GZIP, 1, 0}, {OCIDIR_COMPRESSION_GZIP, 9, 0}, {OCIDIR_COMPRESSION_ZSTD, 1, 0},
        {OCIDIR_COMPRESSION_ZSTD, 19, 0}, {OCIDIR_COMPRESSION_ZSTD, 0, 2}, {OCIDIR_COMPRESSION_ZSTD, 5, 2},
    };
    layer_t l[N(cases)];
    for (size_t i = 0; i < N(cases); i++) {
        write_layer(d, cases[i].c, cases[i].level, cases[i].threads, in, len, 300000, &l[i]);
        assert_string_equal(l[i].diff_id, want_diff);
        assert_blob_matches_file(layout, &l[i]);
        assert_layer_reads(d, l[i].media_type, l[i].digest, (int64_t)l[i].size, l[i].diff_id, 65536, in, len);
    }
    /* The levels take effect: the higher level gives a smaller blob. */
    assert_string_not_equal(l[0].digest, l[1].digest);
    assert_true(l[1].size < l[0].size);
    assert_string_not_equal(l[2].digest, l[3].digest);
    assert_true(l[3].size < l[2].size);

    /* Worker threads on a stream long enough to be split into several jobs. */
    const size_t big = 20 * MIB;
    unsigned char *bin = make_input(big, 8);
    char big_diff[OCIDIR_DIGEST_MAX];
    digest_of(bin, big, big_diff);
    layer_t lt;
    write_layer(d, OCIDIR_COMPRESSION_ZSTD, 0, 2, bin, big, MIB, &lt);
    assert_string_equal(lt.diff_id, big_diff);
    assert_blob_matches_file(layout, &lt);
    assert_layer_reads(d, MT_ZSTD, lt.digest, (int64_t)lt.size, lt.diff_id, MIB, bin, big);
    free(bin);
    free(in);
    ocidir_close(d);
}

static void test_same_input_gives_same_blob(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 300000;
    unsigned char *in = make_input(len, 9);
    for (size_t c = 0; c < N(kAll); c++) {
        layer_t a, b;
        /* Different write sizes, same stream: no timestamp, no file name. */
        write_layer(d, kAll[c], 0, 0, in, len, 1000, &a);
        write_layer(d, kAll[c], 0, 0, in, len, len, &b);
        assert_string_equal(a.digest, b.digest);
        assert_int_equal(a.size, b.size);
        assert_string_equal(a.diff_id, b.diff_id);
    }
    free(in);
    ocidir_close(d);
}

/* An uncompressed layer's blob is its tar stream: with a sha256 blob the
 * diff_id is the blob digest (the bytes are hashed once), also when the blob
 * was present already; with a sha512 blob the diff_id is still the sha256. */
static void test_uncompressed_layer_diff_id_is_its_blob_digest(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 3 * MIB + 11;
    unsigned char *in = make_input(len, 12);
    char want256[OCIDIR_DIGEST_MAX], want512[OCIDIR_DIGEST_MAX];
    digest_of(in, len, want256);
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA512, in, len, want512));
    for (int again = 0; again < 2; again++) {  /* the second commit finds the blob present */
        layer_t l;
        write_layer(d, OCIDIR_COMPRESSION_NONE, 0, 0, in, len, 70001, &l);
        assert_string_equal(l.digest, want256);
        assert_string_equal(l.diff_id, want256);
        assert_int_equal(l.size, len);
        assert_blob_matches_file(layout, &l);
        assert_layer_reads(d, MT_TAR, l.digest, (int64_t)l.size, l.diff_id, MIB, in, len);
    }
    /* Read back with a diff_id of another algorithm: it is hashed as such. */
    assert_layer_reads(d, MT_TAR, want256, -1, want512, MIB, in, len);
    char wrong512[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA512, "x", 1, wrong512));
    assert_layer_fails(d, MT_TAR, want256, wrong512, OCIDIR_E_DIGEST);
    ocidir_layer_writer_options_t o = OCIDIR_LAYER_WRITER_OPTIONS_INIT;
    o.compression = OCIDIR_COMPRESSION_NONE;
    o.alg = OCIDIR_SHA512;
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new_opts(d, &o, &w));
    for (size_t off = 0; off < len; off += MIB)
        assert_ocidir(0, ocidir_layer_writer_write(w, in + off, len - off < MIB ? len - off : MIB));
    char dg[OCIDIR_DIGEST_MAX], diff[OCIDIR_DIGEST_MAX];
    uint64_t size = 0;
    assert_ocidir(0, ocidir_layer_writer_commit(w, dg, &size, diff));
    assert_string_equal(dg, want512);
    assert_string_equal(diff, want256);
    assert_int_equal(size, len);
    assert_layer_reads(d, MT_TAR, dg, (int64_t)size, diff, MIB, in, len);
    free(in);
    ocidir_close(d);
}

static void test_byte_by_byte_writes_and_reads_round_trip(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 20000;
    unsigned char *in = make_input(len, 10);
    for (size_t c = 0; c < N(kAll); c++) {
        layer_t l;
        write_layer(d, kAll[c], 0, 0, in, len, 1, &l);
        assert_layer_reads(d, l.media_type, l.digest, (int64_t)l.size, l.diff_id, 1, in, len);
    }
    free(in);
    ocidir_close(d);
}

static void test_commit_accepts_null_outputs(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = tu_keep(tu_join(layout, "blobs/sha256"));
    for (size_t c = 0; c < N(kAll); c++) {
        ocidir_layer_writer_t *w = NULL;
        assert_ocidir(0, ocidir_layer_writer_new(d, kAll[c], 0, 0, &w));
        assert_ocidir(0, ocidir_layer_writer_write(w, "hello", 5));
        assert_ocidir(0, ocidir_layer_writer_write(w, NULL, 0));
        assert_ocidir(0, ocidir_layer_writer_commit(w, NULL, NULL, NULL));
        assert_int_equal(tu_count_entries(dir), (int)c + 1);
    }
    ocidir_close(d);
}

/* ---- interoperability with the command-line tools -------------------------- */

static void test_gzip_output_passes_gzip_cli(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *scratch = tu_keep(tu_scratch_dir("gzipcli"));
    const size_t len = MIB + 7;
    unsigned char *in = make_input(len, 11);
    static const int levels[] = {0, 1, 9};
    for (size_t i = 0; i < N(levels); i++) {
        layer_t l;
        write_layer(d, OCIDIR_COMPRESSION_GZIP, levels[i], 0, in, len, 70000, &l);
        char *blob = tu_blob_path(layout, l.digest);
        char *out = tu_join(scratch, "out");
        assert_int_equal(run("gzip -t < '%s'", blob), 0);
        assert_int_equal(run("gzip -dc < '%s' > '%s'", blob, out), 0);
        void *got = NULL;
        assert_int_equal(tu_read_file(out, &got), (ssize_t)len);
        assert_memory_equal(got, in, len);
        free(got);
        free(out);
        free(blob);
    }
    free(in);
    ocidir_close(d);
}

static void test_zstd_output_passes_zstd_cli(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *scratch = tu_keep(tu_scratch_dir("zstdcli"));
    const size_t len = MIB + 7;
    unsigned char *in = make_input(len, 12);
    static const int threads[] = {0, 2};
    for (size_t i = 0; i < N(threads); i++) {
        layer_t l;
        write_layer(d, OCIDIR_COMPRESSION_ZSTD, 0, threads[i], in, len, 70000, &l);
        char *blob = tu_blob_path(layout, l.digest);
        char *out = tu_join(scratch, "out");
        assert_int_equal(run("zstd -q -t < '%s'", blob), 0);
        assert_int_equal(run("zstd -q -dc < '%s' > '%s'", blob, out), 0);
        void *got = NULL;
        assert_int_equal(tu_read_file(out, &got), (ssize_t)len);
        assert_memory_equal(got, in, len);
        free(got);
        free(out);
        free(blob);
    }
    free(in);
    ocidir_close(d);
}

/* Compress `in` with a command reading stdin and writing stdout; returns the
 * compressed bytes. */
static unsigned char *cli_compress(const char *scratch, const char *cmd, const unsigned char *in, size_t len,
                                   size_t *out_len)
{
    char *src = tu_join(scratch, "cli-in");
    char *dst = tu_join(scratch, "cli-out");
    tu_write_file(src, in, len);
    assert_int_equal(run("%s < '%s' > '%s'", cmd, src, dst), 0);
    void *out = NULL;
    ssize_t n = tu_read_file(dst, &out);
    assert_true(n > 0);
    *out_len = (size_t)n;
    free(src);
    free(dst);
    return out;
}

static void test_reader_accepts_gzip_made_by_gzip_cli(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *scratch = tu_keep(tu_scratch_dir("gzipin"));
    const size_t len = 3 * MIB + 1;
    unsigned char *in = make_input(len, 13);
    char diff[OCIDIR_DIGEST_MAX];
    digest_of(in, len, diff);
    static const char *cmds[] = {"gzip -c -n", "gzip -c -1", "gzip -c -9"};
    for (size_t i = 0; i < N(cmds); i++) {
        size_t zlen;
        unsigned char *z = cli_compress(scratch, cmds[i], in, len, &zlen);
        char dg[OCIDIR_DIGEST_MAX];
        put(d, z, zlen, dg);
        assert_layer_reads(d, MT_GZIP, dg, (int64_t)zlen, diff, 65536, in, len);
        assert_layer_reads(d, "application/vnd.docker.image.rootfs.diff.tar.gzip", dg, -1, diff, 8192, in, len);
        free(z);
    }
    free(in);
    ocidir_close(d);
}

static void test_reader_accepts_multi_member_gzip(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *scratch = tu_keep(tu_scratch_dir("gzipmulti"));
    /* Three members: one from the gzip CLI, an empty one, one from the
     * library's own writer (as `cat a.gz b.gz` or pigz would give). */
    const size_t la = 200001, lb = MIB + 3;
    unsigned char *all = make_input(la + lb, 14);
    size_t za_len, ze_len, zb_len;
    unsigned char *za = cli_compress(scratch, "gzip -c -n", all, la, &za_len);
    unsigned char *ze = cli_compress(scratch, "gzip -c -n", (const unsigned char *)"", 0, &ze_len);
    layer_t lbl;
    write_layer(d, OCIDIR_COMPRESSION_GZIP, 0, 0, all + la, lb, lb, &lbl);
    size_t zb_len_check;
    unsigned char *zb = blob_bytes(layout, lbl.digest, &zb_len_check);
    zb_len = zb_len_check;

    size_t zlen = za_len + ze_len + zb_len;
    unsigned char *z = malloc(zlen);
    assert_non_null(z);
    memcpy(z, za, za_len);
    memcpy(z + za_len, ze, ze_len);
    memcpy(z + za_len + ze_len, zb, zb_len);
    char dg[OCIDIR_DIGEST_MAX], diff[OCIDIR_DIGEST_MAX];
    put(d, z, zlen, dg);
    digest_of(all, la + lb, diff);
    assert_layer_reads(d, MT_GZIP, dg, (int64_t)zlen, diff, 65536, all, la + lb);
    assert_layer_reads(d, MT_GZIP, dg, (int64_t)zlen, diff, 7, all, la + lb);

    /* gzip itself agrees that this is one valid gzip file. */
    char *file = tu_join(scratch, "multi.gz");
    tu_write_file(file, z, zlen);
    assert_int_equal(run("gzip -t < '%s'", file), 0);
    free(file);
    free(z);
    free(zb);
    free(ze);
    free(za);
    free(all);
    ocidir_close(d);
}

static void test_reader_accepts_zstd_made_by_zstd_cli(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *scratch = tu_keep(tu_scratch_dir("zstdin"));
    const size_t la = 2 * MIB + 5, lb = 100000;
    unsigned char *all = make_input(la + lb, 15);
    char diff_a[OCIDIR_DIGEST_MAX], diff_all[OCIDIR_DIGEST_MAX];
    digest_of(all, la, diff_a);
    digest_of(all, la + lb, diff_all);

    /* One frame, with and without its content checksum, several levels. */
    static const char *cmds[] = {"zstd -q -c", "zstd -q -c --no-check", "zstd -q -c -19", "zstd -q -c -T2"};
    for (size_t i = 0; i < N(cmds); i++) {
        size_t zlen;
        unsigned char *z = cli_compress(scratch, cmds[i], all, la, &zlen);
        char dg[OCIDIR_DIGEST_MAX];
        put(d, z, zlen, dg);
        assert_layer_reads(d, MT_ZSTD, dg, (int64_t)zlen, diff_a, 65536, all, la);
        free(z);
    }

    /* Two frames back to back (`cat a.zst b.zst`) are one stream. */
    size_t za_len, zb_len;
    unsigned char *za = cli_compress(scratch, "zstd -q -c", all, la, &za_len);
    unsigned char *zb = cli_compress(scratch, "zstd -q -c", all + la, lb, &zb_len);
    unsigned char *z = malloc(za_len + zb_len);
    assert_non_null(z);
    memcpy(z, za, za_len);
    memcpy(z + za_len, zb, zb_len);
    char dg[OCIDIR_DIGEST_MAX];
    put(d, z, za_len + zb_len, dg);
    assert_layer_reads(d, MT_ZSTD, dg, -1, diff_all, 65536, all, la + lb);
    assert_layer_reads(d, MT_ZSTD, dg, -1, diff_all, 3, all, la + lb);
    free(z);
    free(zb);
    free(za);
    free(all);
    ocidir_close(d);
}

static void test_nondistributable_and_docker_media_types_are_read(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 50000;
    unsigned char *in = make_input(len, 16);
    static const struct {
        const char *mt;
        ocidir_compression_t c;
    } cases[] = {
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", OCIDIR_COMPRESSION_NONE},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", OCIDIR_COMPRESSION_GZIP},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", OCIDIR_COMPRESSION_ZSTD},
        {"application/vnd.docker.image.rootfs.diff.tar", OCIDIR_COMPRESSION_NONE},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", OCIDIR_COMPRESSION_GZIP},
    };
    for (size_t i = 0; i < N(cases); i++) {
        layer_t l;
        write_layer(d, cases[i].c, 0, 0, in, len, len, &l);
        assert_layer_reads(d, cases[i].mt, l.digest, (int64_t)l.size, l.diff_id, 65536, in, len);
    }
    free(in);
    ocidir_close(d);
}

/* ---- verification failures -------------------------------------------------- */

static void test_wrong_diff_id_is_digest_error_and_never_end(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 300000;
    unsigned char *in = make_input(len, 17);
    char other[OCIDIR_DIGEST_MAX];
    digest_of("something else", 14, other);
    for (size_t c = 0; c < N(kAll); c++) {
        layer_t l;
        write_layer(d, kAll[c], 0, 0, in, len, len, &l);
        assert_layer_fails(d, l.media_type, l.digest, other, OCIDIR_E_DIGEST);
        /* The message names the expected diff_id and the one computed. */
        assert_last_error_mentions(other);
        assert_last_error_mentions(l.diff_id);
        /* With the right one it reads. */
        assert_layer_reads(d, l.media_type, l.digest, -1, l.diff_id, 65536, in, len);
    }
    free(in);
    ocidir_close(d);
}

/* Flip one byte of a blob file in place: the blob no longer matches its digest. */
static void flip_blob_byte(const char *layout, const char *digest, off_t off)
{
    char *path = tu_blob_path(layout, digest);
    assert_int_equal(chmod(path, 0644), 0);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x55;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    assert_int_equal(close(fd), 0);
    free(path);
}

static void test_flipped_byte_in_blob_never_reports_end(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = MIB + 7;
    unsigned char *in = make_input(len, 18);
    for (size_t c = 0; c < N(kAll); c++) {
        layer_t l;
        write_layer(d, kAll[c], 0, 0, in, len, len, &l);
        /* In the middle of the data, and in the last byte (a trailer). */
        const off_t offs[] = {(off_t)(l.size / 2), (off_t)(l.size - 1)};
        for (size_t i = 0; i < N(offs); i++) {
            flip_blob_byte(layout, l.digest, offs[i]);
            ssize_t rc = read_layer(d, l.media_type, l.digest, (int64_t)l.size, l.diff_id, 65536, NULL, NULL);
            if (rc >= 0)
                print_error("%s with byte %lld flipped read to a clean end\n", l.media_type, (long long)offs[i]);
            assert_true(rc < 0);
            /* The blob fails its digest whatever the decompressor thought. */
            assert_int_equal(rc, OCIDIR_E_DIGEST);
            assert_last_error_mentions(l.digest);
            flip_blob_byte(layout, l.digest, offs[i]);  /* restore */
        }
        assert_layer_reads(d, l.media_type, l.digest, (int64_t)l.size, l.diff_id, 65536, in, len);
    }
    free(in);
    ocidir_close(d);
}

/* ---- the reader's second thread ---------------------------------------------- */

/* A compressed layer's reader reads and hashes the blob, and hashes the
 * decompressed bytes, on a second thread. */

static void test_reader_thread_ends_with_the_reader_read_or_not(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 3 * MIB + 5;
    unsigned char *in = make_input(len, 31);
    for (size_t c = 1; c < N(kAll); c++) {
        layer_t l;
        write_layer(d, kAll[c], 0, 1, in, len, len, &l);
        int before = tu_threads_settled();  /* the layer writer's helper thread gone */
        for (int i = 0; i < 20; i++) {
            ocidir_layer_reader_t *r = NULL;
            assert_ocidir(0, ocidir_layer_open(d, l.media_type, l.digest, (int64_t)l.size, l.diff_id, &r));
            assert_int_equal(tu_threads_wait(before + 1), before + 1);
            unsigned char buf[4096];
            /* Closed untouched, after a few bytes, mid-layer, or at the end. */
            size_t want = i % 4 == 0 ? 0 : i % 4 == 1 ? 1 : i % 4 == 2 ? MIB : len + 1;
            size_t got = 0;
            ssize_t n = 1;
            while (got < want && (n = ocidir_layer_reader_read(r, buf, sizeof buf)) > 0)
                got += (size_t)n;
            assert_true(n >= 0);
            ocidir_layer_reader_close(r);
            assert_int_equal(tu_threads_wait(before), before);
        }
    }
    free(in);
    ocidir_close(d);
}

static void test_blob_growing_while_read_ahead_is_size_error(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    /* Random bytes: the blob is as large as the input, far more than the
     * reader's thread reads ahead (4 x 128 KiB). */
    const size_t len = 6 * MIB;
    unsigned char *in = malloc(len);
    assert_non_null(in);
    tu_fill(in, len, 32);
    for (size_t c = 1; c < N(kAll); c++) {
        layer_t l;
        write_layer(d, kAll[c], 0, 1, in, len, len, &l);
        ocidir_layer_reader_t *r = NULL;
        assert_ocidir(0, ocidir_layer_open(d, l.media_type, l.digest, (int64_t)l.size, l.diff_id, &r));
        unsigned char buf[65536];
        assert_true(ocidir_layer_reader_read(r, buf, sizeof buf) > 0);
        /* The blob grows by a byte: the thread's read finds it at the end. */
        char *path = tu_blob_path(layout, l.digest);
        assert_int_equal(chmod(path, 0644), 0);
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "x", 1), 1);
        assert_int_equal(close(fd), 0);
        ssize_t n;
        while ((n = ocidir_layer_reader_read(r, buf, sizeof buf)) > 0)
            ;
        assert_int_equal(n, OCIDIR_E_SIZE);
        assert_last_error_mentions(l.digest);
        assert_last_error_mentions("grew");
        /* Sticky: the same error again. */
        assert_int_equal(ocidir_layer_reader_read(r, buf, sizeof buf), OCIDIR_E_SIZE);
        ocidir_layer_reader_close(r);
        assert_int_equal(truncate(path, (off_t)l.size), 0);
        free(path);
        assert_layer_reads(d, l.media_type, l.digest, (int64_t)l.size, l.diff_id, 65536, in, len);
    }
    free(in);
    ocidir_close(d);
}

static void test_corrupt_compressed_data_with_matching_digest_is_format(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 300000;
    unsigned char *in = make_input(len, 19);
    static const ocidir_compression_t comp[] = {OCIDIR_COMPRESSION_GZIP, OCIDIR_COMPRESSION_ZSTD};
    for (size_t c = 0; c < N(comp); c++) {
        layer_t l;
        write_layer(d, comp[c], 0, 0, in, len, len, &l);
        size_t zlen;
        unsigned char *z = blob_bytes(layout, l.digest, &zlen);
        /* Damage the compressed bytes, then store them under their own digest. */
        z[zlen / 2] ^= 0x55;
        z[zlen / 2 + 1] ^= 0x55;
        char dg[OCIDIR_DIGEST_MAX];
        put(d, z, zlen, dg);
        assert_layer_fails(d, l.media_type, dg, NULL, OCIDIR_E_FORMAT);
        assert_last_error_mentions(dg);
        /* The message names the decoder (ocidir_inflate_backend() for gzip). */
        assert_last_error_mentions(comp[c] == OCIDIR_COMPRESSION_ZSTD                   ? "zstd"
                                   : strcmp(ocidir_inflate_backend(), "isal") == 0 ? "ISA-L"
                                                                                     : "zlib");
        /* The last byte (the gzip length / the zstd checksum) too. */
        z[zlen / 2] ^= 0x55;
        z[zlen / 2 + 1] ^= 0x55;
        z[zlen - 1] ^= 0x01;
        put(d, z, zlen, dg);
        assert_layer_fails(d, l.media_type, dg, NULL, OCIDIR_E_FORMAT);
        free(z);
    }
    free(in);
    ocidir_close(d);
}

static void test_trailing_garbage_after_stream_is_format(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 100000;
    unsigned char *in = make_input(len, 20);
    static const ocidir_compression_t comp[] = {OCIDIR_COMPRESSION_GZIP, OCIDIR_COMPRESSION_ZSTD};
    static const struct {
        const char *bytes;
        size_t len;
    } garbage[] = {{"garbage!", 8}, {"\0\0\0\0\0\0\0\0\0\0\0\0", 12}, {"\x1f", 1}, {"x", 1}, {"\x28\xb5\x2f", 3}};
    for (size_t c = 0; c < N(comp); c++) {
        layer_t l;
        write_layer(d, comp[c], 0, 0, in, len, len, &l);
        size_t zlen;
        unsigned char *z = blob_bytes(layout, l.digest, &zlen);
        for (size_t g = 0; g < N(garbage); g++) {
            unsigned char *zg = malloc(zlen + garbage[g].len);
            assert_non_null(zg);
            memcpy(zg, z, zlen);
            memcpy(zg + zlen, garbage[g].bytes, garbage[g].len);
            char dg[OCIDIR_DIGEST_MAX];
            put(d, zg, zlen + garbage[g].len, dg);
            /* Every byte handed out is right; only the end is refused. */
            assert_layer_fails(d, l.media_type, dg, l.diff_id, OCIDIR_E_FORMAT);
            assert_last_error_mentions(dg);
            assert_last_error_mentions(l.media_type);
            free(zg);
        }
        free(z);
    }
    free(in);
    ocidir_close(d);
}

static void test_truncated_stream_is_format(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 300000;
    unsigned char *in = make_input(len, 21);
    static const ocidir_compression_t comp[] = {OCIDIR_COMPRESSION_GZIP, OCIDIR_COMPRESSION_ZSTD};
    for (size_t c = 0; c < N(comp); c++) {
        layer_t l;
        write_layer(d, comp[c], 0, 0, in, len, len, &l);
        size_t zlen;
        unsigned char *z = blob_bytes(layout, l.digest, &zlen);
        /* Cut in the header, in the data, in the trailer, one byte short. */
        const size_t cuts[] = {0, 1, 5, zlen / 2, zlen - 4, zlen - 1};
        for (size_t i = 0; i < N(cuts); i++) {
            char dg[OCIDIR_DIGEST_MAX];
            put(d, z, cuts[i], dg);
            assert_layer_fails(d, l.media_type, dg, NULL, OCIDIR_E_FORMAT);
            assert_last_error_mentions(dg);
        }
        free(z);
    }
    free(in);
    ocidir_close(d);
}

/* ---- open ------------------------------------------------------------------- */

static void test_unknown_media_type_is_unsupported(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    put(d, "data", 4, dg);
    static const char *types[] = {
        "application/vnd.oci.image.layer.v1.tar+bzip2",
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.oci.image.layer.v1.tar+gzip; charset=utf-8",
        "APPLICATION/VND.OCI.IMAGE.LAYER.V1.TAR",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
        "",
    };
    for (size_t i = 0; i < N(types); i++) {
        ocidir_layer_reader_t *r = (ocidir_layer_reader_t *)0x1;
        assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_layer_open(d, types[i], dg, -1, NULL, &r));
        assert_ptr_equal(r, (ocidir_layer_reader_t *)0x1);
        assert_last_error_mentions(dg);
    }
    ocidir_close(d);
}

static void test_open_checks_blob_size_digest_and_diff_id(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    const size_t len = 10000;
    unsigned char *in = make_input(len, 22);
    layer_t l;
    write_layer(d, OCIDIR_COMPRESSION_GZIP, 0, 0, in, len, len, &l);
    ocidir_layer_reader_t *r = NULL;
    assert_ocidir(OCIDIR_E_SIZE, ocidir_layer_open(d, MT_GZIP, l.digest, (int64_t)l.size + 1, NULL, &r));
    assert_null(r);
    char absent[OCIDIR_DIGEST_MAX];
    digest_of("absent", 6, absent);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_layer_open(d, MT_GZIP, absent, -1, NULL, &r));
    assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_layer_open(d, MT_GZIP, "sha256:xyz", -1, NULL, &r));
    assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_layer_open(d, MT_GZIP, l.digest, -1, "sha256:xyz", &r));
    assert_last_error_mentions("diff_id");
    assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_layer_open(d, MT_GZIP, l.digest, -1, "", &r));
    assert_ocidir(OCIDIR_E_UNSUPPORTED,
                  ocidir_layer_open(d, MT_GZIP, l.digest, -1, "md5:d41d8cd98f00b204e9800998ecf8427e", &r));
    assert_null(r);

    /* A sha512 diff_id is checked as a sha512 of the tar stream. */
    char d512[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA512, in, len, d512));
    assert_layer_reads(d, MT_GZIP, l.digest, -1, d512, 4096, in, len);
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA512, "x", 1, d512));
    assert_layer_fails(d, MT_GZIP, l.digest, d512, OCIDIR_E_DIGEST);

    /* Read as the wrong compression: corrupt, never a clean end. */
    assert_layer_fails(d, MT_ZSTD, l.digest, NULL, OCIDIR_E_FORMAT);
    free(in);
    ocidir_close(d);
}

static void test_empty_blob_is_not_a_gzip_or_zstd_stream(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char dg[OCIDIR_DIGEST_MAX];
    put(d, "", 0, dg);
    assert_layer_fails(d, MT_GZIP, dg, NULL, OCIDIR_E_FORMAT);
    assert_layer_fails(d, MT_ZSTD, dg, NULL, OCIDIR_E_FORMAT);
    /* ...while an empty tar stream is an empty blob. */
    assert_layer_reads(d, MT_TAR, dg, 0, dg, 100, NULL, 0);
    ocidir_close(d);
}

/* ---- writer arguments and lifecycle ------------------------------------------ */

static void test_invalid_level_or_threads_is_invalid(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *before = tu_keep(tu_tree_listing(layout));
    static const struct {
        ocidir_compression_t c;
        int level, threads, code;
    } cases[] = {
        {OCIDIR_COMPRESSION_GZIP, 10, 0, OCIDIR_E_INVALID},  {OCIDIR_COMPRESSION_GZIP, -1, 0, OCIDIR_E_INVALID},
        {OCIDIR_COMPRESSION_GZIP, 6, 65, OCIDIR_E_INVALID},   {OCIDIR_COMPRESSION_GZIP, 0, -1, OCIDIR_E_INVALID},
        {OCIDIR_COMPRESSION_ZSTD, 20, 0, OCIDIR_E_INVALID},  {OCIDIR_COMPRESSION_ZSTD, 22, 0, OCIDIR_E_INVALID},
        {OCIDIR_COMPRESSION_ZSTD, -1, 0, OCIDIR_E_INVALID},  {OCIDIR_COMPRESSION_ZSTD, 0, 65, OCIDIR_E_INVALID},
        {OCIDIR_COMPRESSION_ZSTD, 0, -1, OCIDIR_E_INVALID},  {OCIDIR_COMPRESSION_NONE, 0, 1, OCIDIR_E_INVALID},
        {OCIDIR_COMPRESSION_NONE, 1, 0, OCIDIR_E_INVALID},   {(ocidir_compression_t)3, 0, 0, OCIDIR_E_UNSUPPORTED},
        {(ocidir_compression_t)-1, 0, 0, OCIDIR_E_UNSUPPORTED},
    };
    for (size_t i = 0; i < N(cases); i++) {
        ocidir_layer_writer_t *w = (ocidir_layer_writer_t *)0x1;
        assert_ocidir(cases[i].code, ocidir_layer_writer_new(d, cases[i].c, cases[i].level, cases[i].threads, &w));
        assert_ptr_equal(w, (ocidir_layer_writer_t *)0x1);
        assert_true(ocidir_last_error()[0] != '\0');
    }
    /* Nothing was created or left behind. */
    char *after = tu_keep(tu_tree_listing(layout));
    assert_string_equal(before, after);
    /* The bounds themselves are accepted. */
    static const struct {
        ocidir_compression_t c;
        int level, threads;
    } ok[] = {{OCIDIR_COMPRESSION_GZIP, 1, 0}, {OCIDIR_COMPRESSION_GZIP, 9, 0}, {OCIDIR_COMPRESSION_ZSTD, 19, 64},
              {OCIDIR_COMPRESSION_ZSTD, 1, 0}, {OCIDIR_COMPRESSION_NONE, 0, 0}};
    for (size_t i = 0; i < N(ok); i++) {
        ocidir_layer_writer_t *w = NULL;
        assert_ocidir(0, ocidir_layer_writer_new(d, ok[i].c, ok[i].level, ok[i].threads, &w));
        ocidir_layer_writer_abort(w);
    }
    char *dir = tu_keep(tu_join(layout, "blobs/sha256"));
    assert_int_equal(tu_count_entries(dir), 0);
    ocidir_close(d);
}

static void test_writer_on_readonly_handle_is_readonly(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *rw = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_close(rw);
    ocidir_t *ro = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &ro));
    char *before = tu_keep(tu_tree_listing(layout));
    for (size_t c = 0; c < N(kAll); c++) {
        ocidir_layer_writer_t *w = NULL;
        assert_ocidir(OCIDIR_E_READONLY, ocidir_layer_writer_new(ro, kAll[c], 0, 0, &w));
        assert_null(w);
    }
    char *after = tu_tree_listing(layout);
    assert_string_equal(before, after);
    free(after);
    ocidir_close(ro);
}

static void test_abort_leaves_no_blob(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = tu_keep(tu_join(layout, "blobs/sha256"));
    const size_t len = 2 * MIB;
    unsigned char *in = make_input(len, 23);
    int before = tu_count_entries(dir);
    for (size_t c = 0; c < N(kAll); c++) {
        ocidir_layer_writer_t *w = NULL;
        assert_ocidir(0, ocidir_layer_writer_new(d, kAll[c], 0, c == 2 ? 2 : 0, &w));
        assert_ocidir(0, ocidir_layer_writer_write(w, in, len));
        ocidir_layer_writer_abort(w);
        assert_int_equal(tu_count_entries(dir), before);
    }
    ocidir_layer_writer_abort(NULL);
    ocidir_layer_reader_close(NULL);
    free(in);
    ocidir_close(d);
}

static void test_commit_that_fails_frees_writer_and_publishes_nothing(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = tu_keep(tu_join(layout, "blobs/sha256"));
    if (tu_writer_temp_is_named(dir)) {
        ocidir_close(d);
        skip();  /* the temporary file keeps the directory from being removed */
    }
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0, 0, &w));
    assert_ocidir(0, ocidir_layer_writer_write(w, "abc", 3));
    /* The blob directory disappears under the writer: publishing must fail. */
    assert_int_equal(rmdir(dir), 0);
    char dg[OCIDIR_DIGEST_MAX] = "untouched";
    int rc = ocidir_layer_writer_commit(w, dg, NULL, NULL);
    assert_true(rc < 0);
    assert_string_equal(dg, "untouched");
    assert_int_equal(tu_exists(dir), 0);
    ocidir_close(d);
}

struct fsize_arg {
    const char *layout;
    ocidir_compression_t c;
};

/* In a child whose files may not grow past 1 MiB: writing 4 MiB of
 * incompressible data fails with EFBIG, and the writer stays failed.
 * Returns 0, or the number of the step that went wrong. */
static int write_past_file_size_limit(void *p)
{
    const struct fsize_arg *a = p;
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {MIB, MIB};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 1;
    ocidir_t *d = NULL;
    if (ocidir_open(AT_FDCWD, a->layout, 0, &d) != 0)
        return 2;
    ocidir_layer_writer_t *w = NULL;
    if (ocidir_layer_writer_new(d, a->c, 0, 0, &w) != 0)
        return 3;
    const size_t len = 4 * MIB, step = 65536;
    unsigned char *buf = malloc(len);
    if (!buf)
        return 4;
    tu_fill(buf, len, 99);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += step)
        rc = ocidir_layer_writer_write(w, buf + off, step);
    if (rc != OCIDIR_E_IO || ocidir_last_errno() != EFBIG)
        return 5;
    /* Failed for good: more writes and the commit are refused. */
    if (ocidir_layer_writer_write(w, buf, 10) != OCIDIR_E_STATE)
        return 6;
    char dg[OCIDIR_DIGEST_MAX] = "untouched";
    if (ocidir_layer_writer_commit(w, dg, NULL, NULL) != OCIDIR_E_STATE || strcmp(dg, "untouched") != 0)
        return 7;
    free(buf);
    ocidir_close(d);
    return 0;
}

static void test_failed_write_fails_the_writer_for_good(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char *dir = tu_keep(tu_join(layout, "blobs/sha256"));
    for (size_t c = 0; c < N(kAll); c++) {
        struct fsize_arg a = {layout, kAll[c]};
        int result = -1;
        assert_int_equal(tu_run_in_child(write_past_file_size_limit, &a, 60, &result), 0);
        if (result != 0)
            print_error("%s: step %d went wrong\n", ocidir_compression_media_type(kAll[c]), result);
        assert_int_equal(result, 0);
        /* Nothing was published, no temporary file was left. */
        assert_int_equal(tu_count_entries(dir), 0);
    }
    ocidir_close(d);
}

static void test_null_arguments_are_invalid(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new(NULL, OCIDIR_COMPRESSION_GZIP, 0, 0, &w));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0, 0, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_write(NULL, "x", 1));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_commit(NULL, NULL, NULL, NULL));

    /* A NULL buffer with a length does not spoil the writer. */
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_ZSTD, 0, 0, &w));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_writer_write(w, NULL, 5));
    assert_ocidir(0, ocidir_layer_writer_write(w, "hello", 5));
    layer_t l;
    assert_ocidir(0, ocidir_layer_writer_commit(w, l.digest, &l.size, l.diff_id));

    ocidir_layer_reader_t *r = NULL;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_open(NULL, MT_ZSTD, l.digest, -1, NULL, &r));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_open(d, NULL, l.digest, -1, NULL, &r));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_open(d, MT_ZSTD, NULL, -1, NULL, &r));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_open(d, MT_ZSTD, l.digest, -1, NULL, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_layer_open(d, MT_ZSTD, l.digest, -2, NULL, &r));
    assert_null(r);
    char buf[16];
    assert_int_equal(ocidir_layer_reader_read(NULL, buf, sizeof buf), OCIDIR_E_INVALID);

    /* A zero length or NULL buffer leaves the reader as it was. */
    assert_ocidir(0, ocidir_layer_open(d, MT_ZSTD, l.digest, (int64_t)l.size, l.diff_id, &r));
    assert_int_equal(ocidir_layer_reader_read(r, buf, 0), OCIDIR_E_INVALID);
    assert_int_equal(ocidir_layer_reader_read(r, NULL, 4), OCIDIR_E_INVALID);
    size_t got = 0;
    ssize_t n;
    while ((n = ocidir_layer_reader_read(r, buf + got, sizeof buf - got)) > 0)
        got += (size_t)n;
    assert_int_equal(n, 0);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(ocidir_layer_reader_read(r, buf, 0), OCIDIR_E_INVALID);
    assert_int_equal(ocidir_layer_reader_read(r, buf, 1), 0);
    ocidir_layer_reader_close(r);
    ocidir_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_compression_media_type_names_each_compression),
        TEARDOWN(test_round_trip_every_compression_and_size),
        TEARDOWN(test_levels_and_zstd_threads_round_trip),
        TEARDOWN(test_uncompressed_layer_diff_id_is_its_blob_digest),
        TEARDOWN(test_same_input_gives_same_blob),
        TEARDOWN(test_byte_by_byte_writes_and_reads_round_trip),
        TEARDOWN(test_commit_accepts_null_outputs),
        TEARDOWN(test_gzip_output_passes_gzip_cli),
        TEARDOWN(test_zstd_output_passes_zstd_cli),
        TEARDOWN(test_reader_accepts_gzip_made_by_gzip_cli),
        TEARDOWN(test_reader_accepts_multi_member_gzip),
        TEARDOWN(test_reader_accepts_zstd_made_by_zstd_cli),
        TEARDOWN(test_nondistributable_and_docker_media_types_are_read),
        TEARDOWN(test_wrong_diff_id_is_digest_error_and_never_end),
        TEARDOWN(test_flipped_byte_in_blob_never_reports_end),
        TEARDOWN(test_reader_thread_ends_with_the_reader_read_or_not),
        TEARDOWN(test_blob_growing_while_read_ahead_is_size_error),
        TEARDOWN(test_corrupt_compressed_data_with_matching_digest_is_format),
        TEARDOWN(test_trailing_garbage_after_stream_is_format),
        TEARDOWN(test_truncated_stream_is_format),
        TEARDOWN(test_unknown_media_type_is_unsupported),
        TEARDOWN(test_open_checks_blob_size_digest_and_diff_id),
        TEARDOWN(test_empty_blob_is_not_a_gzip_or_zstd_stream),
        TEARDOWN(test_invalid_level_or_threads_is_invalid),
        TEARDOWN(test_writer_on_readonly_handle_is_readonly),
        TEARDOWN(test_abort_leaves_no_blob),
        TEARDOWN(test_commit_that_fails_frees_writer_and_publishes_nothing),
        TEARDOWN(test_failed_write_fails_the_writer_for_good),
        TEARDOWN(test_null_arguments_are_invalid),
    };
    return cmocka_run_group_tests_name("layer", tests, NULL, NULL);
}
