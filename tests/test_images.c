/* Images: the builder writes config, manifest and tag; the image handle gives
 * every value back through its accessors; layers read back byte for byte;
 * reproducible digests and canonical JSON; escaping; starting from an
 * existing image; platform selection through nested indexes; artifacts and
 * referrers; the error codes of the image and builder calls.
 *
 * The JSON the library writes is checked with a small strict JSON reader in
 * this file (independent of the library's parser), so that a bug shared by
 * the library's writer and reader cannot hide. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_EMPTY "application/vnd.oci.empty.v1+json"
#define MT_TAR "application/vnd.oci.image.layer.v1.tar"
#define MT_TAR_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_TAR_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define EMPTY_JSON_SHA256 "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

/* ======================================================================
 * A small strict JSON reader (RFC 8259), for checking what the library wrote.
 * ====================================================================== */

typedef struct {
    const char *p, *end;
    int ws;       /* whitespace seen outside strings */
    int unsorted; /* an object whose keys are not strictly increasing */
    int bad_utf8; /* a string with invalid UTF-8 */
} js_t;

static int js_value(js_t *j, int depth);

static void js_ws(js_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->ws = 1;
        j->p++;
    }
}

static int js_hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Length of the valid UTF-8 sequence at p, 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned min, cp;
    if ((c & 0xe0) == 0xc0) {
        n = 2, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* A string; *s, *n receive the raw span between the quotes. */
static int js_string(js_t *j, const char **s, size_t *n)
{
    if (j->p >= j->end || *j->p != '"')
        return 0;
    const char *start = ++j->p;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            *s = start;
            *n = (size_t)(j->p - start);
            j->p++;
            return 1;
        }
        if (c < 0x20)
            return 0; /* control characters must be escaped */
        if (c == '\\') {
            if (++j->p >= j->end)
                return 0;
            c = (unsigned char)*j->p;
            if (c == 'u') {
                unsigned v;
                if (!js_hex4(j->p + 1, j->end, &v))
                    return 0;
                j->p += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", c))
                return 0;
            j->p++;
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)j->p, (const unsigned char *)j->end);
        if (k == 0) {
            j->bad_utf8 = 1;
            k = 1;
        }
        j->p += k;
    }
    return 0;
}

static int js_number(js_t *j)
{
    const char *p = j->p;
    if (p < j->end && *p == '-')
        p++;
    if (p >= j->end)
        return 0;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return 0;
    }
    if (p < j->end && *p == '.') {
        p++;
        if (p >= j->end || *p < '0' || *p > '9')
            return 0;
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < j->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= j->end || *p < '0' || *p > '9')
            return 0;
        while (p < j->end && *p >= '0' && *p <= '9')
            p++;
    }
    j->p = p;
    return 1;
}

static int js_literal(js_t *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return 0;
    j->p += n;
    return 1;
}

static int js_object(js_t *j, int depth)
{
    j->p++; /* '{' */
    js_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 1;
    }
    const char *prev = NULL;
    size_t prev_n = 0;
    for (;;) {
        const char *k;
        size_t kn;
        if (!js_string(j, &k, &kn))
            return 0;
        if (prev) {
            size_t m = prev_n < kn ? prev_n : kn;
            int c = memcmp(prev, k, m);
            if (c > 0 || (c == 0 && prev_n >= kn))
                j->unsorted = 1;
        }
        prev = k;
        prev_n = kn;
        js_ws(j);
        if (j->p >= j->end || *j->p != ':')
            return 0;
        j->p++;
        js_ws(j);
        if (!js_value(j, depth + 1))
            return 0;
        js_ws(j);
        if (j->p >= j->end)
            return 0;
        if (*j->p == '}') {
            j->p++;
            return 1;
        }
        if (*j->p != ',')
            return 0;
        j->p++;
        js_ws(j);
    }
}

static int js_array(js_t *j, int depth)
{
    j->p++; /* '[' */
    js_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 1;
    }
    for (;;) {
        if (!js_value(j, depth + 1))
            return 0;
        js_ws(j);
        if (j->p >= j->end)
            return 0;
        if (*j->p == ']') {
            j->p++;
            return 1;
        }
        if (*j->p != ',')
            return 0;
        j->p++;
        js_ws(j);
    }
}

static int js_value(js_t *j, int depth)
{
    if (depth > 64 || j->p >= j->end)
        return 0;
    const char *s;
    size_t n;
    switch (*j->p) {
    case '{': return js_object(j, depth);
    case '[': return js_array(j, depth);
    case '"': return js_string(j, &s, &n);
    case 't': return js_literal(j, "true");
    case 'f': return js_literal(j, "false");
    case 'n': return js_literal(j, "null");
    default: return js_number(j);
    }
}

/* 1 when buf is one valid JSON value; *canonical (may be NULL) is 1 when it
 * has no whitespace outside strings and every object's keys are sorted. */
static int json_check(const void *buf, size_t len, int *canonical)
{
    js_t j = {(const char *)buf, (const char *)buf + len, 0, 0, 0};
    js_ws(&j);
    int ok = js_value(&j, 0);
    js_ws(&j);
    ok = ok && j.p == j.end && !j.bad_utf8;
    if (canonical)
        *canonical = ok && !j.ws && !j.unsorted;
    return ok;
}

/* The raw text of the value at the path of object keys (NULL-terminated);
 * returns 0 when absent.  Keys are compared with their raw form. */
static int json_get(const void *buf, size_t len, const char **val, size_t *val_len, ...)
{
    js_t j = {(const char *)buf, (const char *)buf + len, 0, 0, 0};
    va_list ap;
    va_start(ap, val_len);
    const char *key;
    js_ws(&j);
    while ((key = va_arg(ap, const char *)) != NULL) {
        if (j.p >= j.end || *j.p != '{')
            goto absent;
        j.p++;
        js_ws(&j);
        int found = 0;
        while (j.p < j.end && *j.p != '}') {
            const char *k;
            size_t kn;
            if (!js_string(&j, &k, &kn))
                goto absent;
            js_ws(&j);
            if (j.p >= j.end || *j.p != ':')
                goto absent;
            j.p++;
            js_ws(&j);
            if (kn == strlen(key) && memcmp(k, key, kn) == 0) {
                found = 1;
                break;
            }
            if (!js_value(&j, 0))
                goto absent;
            js_ws(&j);
            if (j.p < j.end && *j.p == ',') {
                j.p++;
                js_ws(&j);
            }
        }
        if (!found)
            goto absent;
    }
    va_end(ap);
    const char *start = j.p;
    if (!js_value(&j, 0))
        return 0;
    *val = start;
    *val_len = (size_t)(j.p - start);
    return 1;
absent:
    va_end(ap);
    return 0;
}

static void put_utf8(char **o, unsigned cp)
{
    unsigned char *q = (unsigned char *)*o;
    if (cp < 0x80) {
        *q++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *q++ = (unsigned char)(0xc0 | (cp >> 6));
        *q++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *q++ = (unsigned char)(0xe0 | (cp >> 12));
        *q++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *q++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *q++ = (unsigned char)(0xf0 | (cp >> 18));
        *q++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        *q++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *q++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    *o = (char *)q;
}

/* Decode a JSON string value (its raw text, quotes included); malloc'd. */
static char *json_decode_string(const char *v, size_t n)
{
    assert_true(n >= 2 && v[0] == '"' && v[n - 1] == '"');
    char *out = malloc(n);
    assert_non_null(out);
    char *o = out;
    for (size_t i = 1; i + 1 < n; i++) {
        if (v[i] != '\\') {
            *o++ = v[i];
            continue;
        }
        char c = v[++i];
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp;
            assert_true(js_hex4(v + i + 1, v + n, &cp));
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo;
                assert_true(v[i + 1] == '\\' && v[i + 2] == 'u');
                assert_true(js_hex4(v + i + 3, v + n, &lo));
                assert_true(lo >= 0xdc00 && lo <= 0xdfff);
                i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(&o, cp);
            break;
        }
        default: *o++ = c; break;
        }
    }
    *o = 0;
    return out;
}

/* Assert that the value at a path is exactly `want` (raw JSON text). */
#define assert_json_at(buf, len, want, ...)                                                        \
    do {                                                                                           \
        const char *v_ = NULL;                                                                     \
        size_t vn_ = 0;                                                                            \
        if (!json_get((buf), (len), &v_, &vn_, __VA_ARGS__, (const char *)NULL)) {                 \
            print_error("%s: absent in %.*s\n", #__VA_ARGS__, (int)(len), (const char *)(buf));   \
            fail();                                                                                \
        }                                                                                          \
        if (vn_ != strlen(want) || memcmp(v_, (want), vn_) != 0) {                                 \
            print_error("%s = %.*s, expected %s\n", #__VA_ARGS__, (int)vn_, v_, (want));           \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* ======================================================================
 * Helpers
 * ====================================================================== */

static size_t strv_len(char **v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

static void assert_config_strv(const ocidir_image_t *img, ocidir_config_field_t f, const char *const *want)
{
    char **v = NULL;
    assert_ocidir(0, ocidir_image_config_strv(img, f, &v));
    tu_assert_strv(v, want);
    ocidir_strv_free(v);
}

static void assert_config_string(const ocidir_image_t *img, ocidir_config_field_t f, const char *want)
{
    char *s = (char *)"untouched";
    assert_ocidir(0, ocidir_image_config_string(img, f, &s));
    if (want == NULL) {
        if (s)
            print_error("field %d = \"%s\", expected absent\n", (int)f, s);
        assert_null(s);
    } else {
        assert_non_null(s);
        assert_string_equal(s, want);
    }
    ocidir_free(s);
}

static void assert_error_mentions(const char *what)
{
    const char *m = ocidir_last_error();
    if (!strstr(m, what))
        print_error("last error \"%s\" does not mention \"%s\"\n", m, what);
    assert_non_null(strstr(m, what));
}

static void assert_digest_of(const void *buf, size_t len, const char *digest)
{
    char got[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, buf, len, got));
    assert_string_equal(got, digest);
}

/* Layer content: a compressible text part and a random part. */
static unsigned char *layer_content(size_t len, uint32_t seed)
{
    unsigned char *p = malloc(len ? len : 1);
    assert_non_null(p);
    size_t half = len / 2;
    for (size_t i = 0; i < half; i++)
        p[i] = (unsigned char)("layer content, line after line\n"[(i + seed) % 31]);
    tu_fill(p + half, len - half, seed);
    return p;
}

struct layer {
    char digest[OCIDIR_DIGEST_MAX], diff_id[OCIDIR_DIGEST_MAX];
    uint64_t size;
    const char *media_type;
    unsigned char *content;
    size_t len;
};

static void layer_feed(ocidir_layer_writer_t *w, const struct layer *l)
{
    size_t off = 0, step = 7919;
    while (off < l->len) {
        size_t n = l->len - off < step ? l->len - off : step;
        assert_ocidir(0, ocidir_layer_writer_write(w, l->content + off, n));
        off += n;
    }
}

/* A layer written (and committed) through a layer writer; the content is
 * kept with tu_keep(). */
static void write_layer(ocidir_t *d, ocidir_compression_t c, size_t len, uint32_t seed, struct layer *l)
{
    memset(l, 0, sizeof *l);
    l->content = tu_keep(layer_content(len, seed));
    l->len = len;
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, c, 0, 0, &w));
    l->media_type = ocidir_layer_writer_media_type(w);
    assert_non_null(l->media_type);
    assert_string_equal(l->media_type, ocidir_compression_media_type(c));
    layer_feed(w, l);
    assert_ocidir(0, ocidir_layer_writer_commit(w, l->digest, &l->size, l->diff_id));
    char diff[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, l->content, l->len, diff));
    assert_string_equal(l->diff_id, diff);
}

/* Read layer `i` of an image to its verified end; malloc'd. */
static unsigned char *read_layer(const ocidir_image_t *img, size_t i, size_t *len_out)
{
    ocidir_layer_reader_t *r = NULL;
    assert_ocidir(0, ocidir_image_layer_open(img, i, &r));
    assert_non_null(r);
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    for (size_t step = 1;; step = step * 3 + 1) {
        if (step > 100000)
            step = 1;
        if (cap - len < step) {
            cap = cap * 2 + step;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t n = ocidir_layer_reader_read(r, buf + len, step);
        if (n < 0)
            print_error("layer %zu: read = %zd (%s): %s\n", i, n, ocidir_strerror((int)n), ocidir_last_error());
        assert_true(n >= 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    /* The end is sticky. */
    unsigned char b;
    assert_int_equal(ocidir_layer_reader_read(r, &b, 1), 0);
    ocidir_layer_reader_close(r);
    *len_out = len;
    return buf;
}

static void assert_layer_reads_back(const ocidir_image_t *img, size_t i, const struct layer *l)
{
    size_t len = 0;
    unsigned char *got = read_layer(img, i, &len);
    assert_int_equal(len, l->len);
    assert_memory_equal(got, l->content, len);
    free(got);
}

static void assert_layer_desc(const ocidir_image_t *img, size_t i, const char *mt, const char *digest, uint64_t size)
{
    char *m = NULL;
    char dg[OCIDIR_DIGEST_MAX] = "";
    uint64_t sz = 0;
    assert_ocidir(0, ocidir_image_layer(img, i, &m, dg, &sz));
    assert_non_null(m);
    assert_string_equal(m, mt);
    assert_string_equal(dg, digest);
    assert_int_equal(sz, size);
    ocidir_free(m);
}

static void image_digest(const ocidir_image_t *img, char out[OCIDIR_DIGEST_MAX])
{
    assert_ocidir(0, ocidir_image_manifest(img, out, NULL, NULL));
}

static void config_raw(const ocidir_image_t *img, const char **buf, size_t *len)
{
    const void *b = NULL;
    assert_ocidir(0, ocidir_image_config_raw(img, &b, len));
    assert_non_null(b);
    *buf = b;
}

static int tags_contain(ocidir_t *d, const char *tag)
{
    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    int found = 0;
    for (size_t i = 0; tags[i]; i++)
        if (strcmp(tags[i], tag) == 0)
            found = 1;
    ocidir_strv_free(tags);
    return found;
}

static void flip_file_byte(const char *path, off_t off)
{
    void *buf = NULL;
    ssize_t n = tu_read_file(path, &buf);
    assert_true(n > off);
    ((unsigned char *)buf)[off] ^= 0x20;
    /* Blob files may be read-only: replace the file. */
    assert_int_equal(unlink(path), 0);
    tu_write_file(path, buf, (size_t)n);
    free(buf);
}

/* A fresh layout whose path is freed at teardown. */
static ocidir_t *scratch_layout(char **path)
{
    ocidir_t *d = tu_scratch_layout(path);
    tu_keep(*path);
    return d;
}

/* ======================================================================
 * Building and reading back
 * ====================================================================== */

static const char *const ENTRYPOINT[] = {"/bin/app", "--serve", NULL};
static const char *const CMD[] = {"-v", "--port=8080", NULL};
static const char *const ENV[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "MODE=test", "EMPTY=", NULL};

static void test_built_image_gives_back_every_value_through_accessors(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);

    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    assert_non_null(b);

    struct layer l[3];
    write_layer(d, OCIDIR_COMPRESSION_GZIP, 300000, 1, &l[0]);
    assert_string_equal(l[0].media_type, MT_TAR_GZIP);
    assert_ocidir(0, ocidir_builder_add_layer(b, l[0].media_type, l[0].digest, l[0].size, l[0].diff_id, "gzip layer"));
    write_layer(d, OCIDIR_COMPRESSION_ZSTD, 250000, 2, &l[1]);
    assert_string_equal(l[1].media_type, MT_TAR_ZSTD);
    assert_ocidir(0, ocidir_builder_add_layer(b, l[1].media_type, l[1].digest, l[1].size, l[1].diff_id, NULL));

    /* The third goes through ocidir_builder_add_layer_writer(): uncompressed,
     * so its digest and diff_id are the sha256 of its content. */
    memset(&l[2], 0, sizeof l[2]);
    l[2].len = 70001;
    l[2].content = tu_keep(layer_content(l[2].len, 3));
    l[2].media_type = MT_TAR;
    l[2].size = l[2].len;
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, l[2].content, l[2].len, l[2].digest));
    strcpy(l[2].diff_id, l[2].digest);
    ocidir_layer_writer_t *w = NULL;
    assert_ocidir(0, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_NONE, 0, 0, &w));
    assert_string_equal(ocidir_layer_writer_media_type(w), MT_TAR);
    layer_feed(w, &l[2]);
    assert_ocidir(0, ocidir_builder_add_layer_writer(b, w, "uncompressed layer"));

    assert_ocidir(0, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_ENTRYPOINT, ENTRYPOINT));
    assert_ocidir(0, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_CMD, CMD));
    assert_ocidir(0, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_ENV, ENV));
    assert_ocidir(0, ocidir_builder_set_config_string(b, OCIDIR_CONFIG_USER, "1000:1000"));
    assert_ocidir(0, ocidir_builder_set_config_string(b, OCIDIR_CONFIG_WORKING_DIR, "/srv/app"));
    assert_ocidir(0, ocidir_builder_set_config_string(b, OCIDIR_CONFIG_STOP_SIGNAL, "SIGTERM"));
    assert_ocidir(0, ocidir_builder_set_label(b, "zeta", "last"));
    assert_ocidir(0, ocidir_builder_set_label(b, "alpha", "first"));
    assert_ocidir(0, ocidir_builder_set_label(b, "mid", "m"));
    assert_ocidir(0, ocidir_builder_set_label(b, "mid", "middle")); /* replaced */
    assert_ocidir(0, ocidir_builder_set_label(b, "gone", "x"));
    assert_ocidir(0, ocidir_builder_set_label(b, "gone", NULL)); /* removed */
    assert_ocidir(0, ocidir_builder_set_annotation(b, "org.opencontainers.image.title", "test image"));
    assert_ocidir(0, ocidir_builder_set_annotation(b, "com.example.b", "2"));
    assert_ocidir(0, ocidir_builder_set_annotation(b, "com.example.gone", "x"));
    assert_ocidir(0, ocidir_builder_set_annotation(b, "com.example.gone", NULL));

    char committed[OCIDIR_DIGEST_MAX] = "";
    assert_ocidir(0, ocidir_builder_commit(b, "v1", 0, committed));
    assert_ocidir(0, ocidir_digest_validate(committed));
    /* The builder stays usable: committed again under another tag, the same
     * manifest; NOREPLACE on the existing tag is refused. */
    char again[OCIDIR_DIGEST_MAX] = "";
    assert_ocidir(0, ocidir_builder_commit(b, "v1-copy", 0, again));
    assert_string_equal(again, committed);
    assert_ocidir(OCIDIR_E_EXISTS, ocidir_builder_commit(b, "v1", OCIDIR_TAG_NOREPLACE, again));
    ocidir_builder_free(b);

    assert_true(tags_contain(d, "v1"));
    assert_true(tags_contain(d, "v1-copy"));
    char resolved[OCIDIR_DIGEST_MAX] = "";
    char *rmt = NULL;
    uint64_t msize = 0;
    assert_ocidir(0, ocidir_resolve(d, "v1", resolved, &rmt, &msize));
    assert_string_equal(resolved, committed);
    assert_string_equal(rmt, MT_MANIFEST);
    ocidir_free(rmt);

    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "v1", "linux/amd64", &img));
    assert_non_null(img);

    /* Manifest: its digest, and raw bytes that hash to it. */
    char mdg[OCIDIR_DIGEST_MAX] = "";
    const void *mbuf = NULL;
    size_t mlen = 0;
    assert_ocidir(0, ocidir_image_manifest(img, mdg, &mbuf, &mlen));
    assert_string_equal(mdg, committed);
    assert_non_null(mbuf);
    assert_int_equal(mlen, msize);
    assert_digest_of(mbuf, mlen, committed);
    assert_true(json_check(mbuf, mlen, NULL));
    assert_json_at(mbuf, mlen, "2", "schemaVersion");
    assert_json_at(mbuf, mlen, "\"" MT_MANIFEST "\"", "mediaType");

    /* Config descriptor and raw config. */
    char *cmt = NULL;
    char cdg[OCIDIR_DIGEST_MAX] = "";
    uint64_t csize = 0;
    assert_ocidir(0, ocidir_image_config_descriptor(img, &cmt, cdg, &csize));
    assert_string_equal(cmt, MT_CONFIG);
    ocidir_free(cmt);
    assert_int_equal(ocidir_image_config_is_empty(img), 0);
    assert_null(ocidir_image_artifact_type(img));
    const char *craw;
    size_t clen;
    config_raw(img, &craw, &clen);
    assert_int_equal(clen, csize);
    assert_digest_of(craw, clen, cdg);
    char quoted[OCIDIR_DIGEST_MAX + 2];
    snprintf(quoted, sizeof quoted, "\"%s\"", cdg);
    assert_json_at(mbuf, mlen, quoted, "config", "digest");
    assert_json_at(mbuf, mlen, "\"" MT_CONFIG "\"", "config", "mediaType");

    /* Layers, as the writers returned them. */
    assert_int_equal(ocidir_image_layer_count(img), 3);
    for (size_t i = 0; i < 3; i++)
        assert_layer_desc(img, i, l[i].media_type, l[i].digest, l[i].size);
    /* digest and size out-parameters may be NULL */
    assert_ocidir(0, ocidir_image_layer(img, 1, NULL, NULL, NULL));
    const char *diffs[] = {l[0].diff_id, l[1].diff_id, l[2].diff_id, NULL};
    assert_config_strv(img, OCIDIR_CONFIG_DIFF_IDS, diffs);

    /* Config fields. */
    assert_config_strv(img, OCIDIR_CONFIG_ENTRYPOINT, ENTRYPOINT);
    assert_config_strv(img, OCIDIR_CONFIG_CMD, CMD);
    assert_config_strv(img, OCIDIR_CONFIG_ENV, ENV);
    assert_config_string(img, OCIDIR_CONFIG_USER, "1000:1000");
    assert_config_string(img, OCIDIR_CONFIG_WORKING_DIR, "/srv/app");
    assert_config_string(img, OCIDIR_CONFIG_STOP_SIGNAL, "SIGTERM");
    assert_config_string(img, OCIDIR_CONFIG_OS, "linux");
    assert_config_string(img, OCIDIR_CONFIG_ARCHITECTURE, "amd64");
    assert_config_string(img, OCIDIR_CONFIG_VARIANT, NULL);
    assert_config_string(img, OCIDIR_CONFIG_CREATED, NULL);

    char **kv = NULL;
    assert_ocidir(0, ocidir_image_config_labels(img, &kv));
    const char *labels[] = {"alpha", "first", "mid", "middle", "zeta", "last", NULL};
    tu_assert_strv(kv, labels);
    ocidir_strv_free(kv);

    kv = NULL;
    assert_ocidir(0, ocidir_image_annotations(img, OCIDIR_MANIFEST, &kv));
    const char *ann[] = {"com.example.b", "2", "org.opencontainers.image.title", "test image", NULL};
    tu_assert_strv(kv, ann);
    ocidir_strv_free(kv);
    kv = NULL;
    assert_ocidir(0, ocidir_image_annotations(img, 0, &kv));
    assert_non_null(kv);
    assert_int_equal(strv_len(kv), 0);
    ocidir_strv_free(kv);
    kv = (char **)&kv;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_annotations(img, 3, &kv));
    assert_ptr_equal(kv, (char **)&kv);

    /* The raw config is JSON holding the same values. */
    assert_true(json_check(craw, clen, NULL));
    assert_json_at(craw, clen, "[\"/bin/app\",\"--serve\"]", "config", "Entrypoint");
    assert_json_at(craw, clen, "[\"-v\",\"--port=8080\"]", "config", "Cmd");
    assert_json_at(craw, clen, "[\"PATH=/usr/local/bin:/usr/bin:/bin\",\"MODE=test\",\"EMPTY=\"]", "config", "Env");
    assert_json_at(craw, clen, "\"1000:1000\"", "config", "User");
    assert_json_at(craw, clen, "\"/srv/app\"", "config", "WorkingDir");
    assert_json_at(craw, clen, "\"SIGTERM\"", "config", "StopSignal");
    assert_json_at(craw, clen, "\"first\"", "config", "Labels", "alpha");
    assert_json_at(craw, clen, "\"middle\"", "config", "Labels", "mid");
    assert_json_at(craw, clen, "\"linux\"", "os");
    assert_json_at(craw, clen, "\"amd64\"", "architecture");
    assert_json_at(craw, clen, "\"layers\"", "rootfs", "type");
    char diff_json[3 * OCIDIR_DIGEST_MAX + 16];
    snprintf(diff_json, sizeof diff_json, "[\"%s\",\"%s\",\"%s\"]", l[0].diff_id, l[1].diff_id, l[2].diff_id);
    assert_json_at(craw, clen, diff_json, "rootfs", "diff_ids");
    assert_null(memmem(craw, clen, "gone", 4));

    /* Each layer reads back to the exact bytes written, verified. */
    for (size_t i = 0; i < 3; i++)
        assert_layer_reads_back(img, i, &l[i]);

    ocidir_image_close(img);
    ocidir_close(d);
}

/* ======================================================================
 * Reproducibility and canonical JSON
 * ====================================================================== */

static void build_small(const char *created, char digest_out[OCIDIR_DIGEST_MAX])
{
    char *path;
    ocidir_t *d = scratch_layout(&path);
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    if (created)
        assert_ocidir(0, ocidir_builder_set_created(b, created));
    struct layer l;
    write_layer(d, OCIDIR_COMPRESSION_GZIP, 50000, 42, &l);
    assert_ocidir(0, ocidir_builder_add_layer(b, l.media_type, l.digest, l.size, l.diff_id, "RUN make"));
    assert_ocidir(0, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_CMD, CMD));
    assert_ocidir(0, ocidir_builder_set_label(b, "b", "2"));
    assert_ocidir(0, ocidir_builder_set_label(b, "a", "1"));
    assert_ocidir(0, ocidir_builder_set_annotation(b, "org.example.z", "z"));
    assert_ocidir(0, ocidir_builder_commit(b, "r", 0, digest_out));
    ocidir_builder_free(b);

    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "r", "linux/amd64", &img));
    const void *mbuf;
    size_t mlen;
    assert_ocidir(0, ocidir_image_manifest(img, NULL, &mbuf, &mlen));
    const char *craw;
    size_t clen;
    config_raw(img, &craw, &clen);

    /* Canonical: no whitespace outside strings, every object's keys sorted. */
    int canonical = 0;
    assert_true(json_check(mbuf, mlen, &canonical));
    if (!canonical)
        print_error("manifest not canonical: %.*s\n", (int)mlen, (const char *)mbuf);
    assert_true(canonical);
    assert_true(json_check(craw, clen, &canonical));
    if (!canonical)
        print_error("config not canonical: %.*s\n", (int)clen, craw);
    assert_true(canonical);

    if (created) {
        assert_config_string(img, OCIDIR_CONFIG_CREATED, created);
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", created);
        assert_json_at(craw, clen, want, "created");
        /* ... and in the history entry of the layer added after it. */
        const char *h;
        size_t hn;
        assert_true(json_get(craw, clen, &h, &hn, "history", (const char *)NULL));
        assert_non_null(memmem(h, hn, want, strlen(want)));
        assert_non_null(memmem(h, hn, "RUN make", 8));
    } else {
        assert_config_string(img, OCIDIR_CONFIG_CREATED, NULL);
        /* No "created" key anywhere (config or history). */
        if (memmem(craw, clen, "\"created\"", 9))
            print_error("config has a created key: %.*s\n", (int)clen, craw);
        assert_null(memmem(craw, clen, "\"created\"", 9));
    }
    ocidir_image_close(img);
    ocidir_close(d);
}

static void test_same_inputs_and_created_give_the_same_manifest_digest(void **state)
{
    (void)state;
    char a[OCIDIR_DIGEST_MAX], b[OCIDIR_DIGEST_MAX], c[OCIDIR_DIGEST_MAX];
    build_small("2024-01-01T00:00:00Z", a);
    build_small("2024-01-01T00:00:00Z", b);
    assert_string_equal(a, b);
    build_small("2024-01-02T00:00:00Z", c);
    assert_string_not_equal(a, c);
}

static void test_without_created_no_created_key_and_still_reproducible(void **state)
{
    (void)state;
    char a[OCIDIR_DIGEST_MAX], b[OCIDIR_DIGEST_MAX], c[OCIDIR_DIGEST_MAX];
    build_small(NULL, a);
    build_small(NULL, b);
    assert_string_equal(a, b);
    build_small("2024-01-01T00:00:00Z", c);
    assert_string_not_equal(a, c);
}

/* ======================================================================
 * JSON escaping
 * ====================================================================== */

static void test_hostile_strings_round_trip_exactly_through_config(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));

    /* Keys sorted bytewise: "ctl" < "quote\"key" < "utf8" < "\xc3\xa9-key". */
    static const char *const labels[] = {
        "ctl", "\x01 start\n\ttab\x1f\r\b\f end\x7f",
        "quote\"key", "a \"quoted\" \\ back\\slash / solidus",
        "utf8", "caf\xc3\xa9 \xf0\x9f\x9a\x80 \xe2\x82\xac \xe4\xb8\xad",
        "\xc3\xa9-key", "\xc3\x9f",
        NULL};
    for (size_t i = 0; labels[i]; i += 2)
        assert_ocidir(0, ocidir_builder_set_label(b, labels[i], labels[i + 1]));
    static const char *const env[] = {"Q=\"x\"", "B=back\\slash", "C=line1\nline2\ttab\x01",
                                      "U=\xc3\xa9\xf0\x9f\x99\x82", "E=", NULL};
    assert_ocidir(0, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_ENV, env));
    static const char *const ep[] = {"/bin/sh", "-c", "echo \"$1\" \\\n\x02", NULL};
    assert_ocidir(0, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_ENTRYPOINT, ep));
    assert_ocidir(0, ocidir_builder_set_config_string(b, OCIDIR_CONFIG_USER, "\xc3\xbc" "ser\"\\"));
    assert_ocidir(0, ocidir_builder_set_config_string(b, OCIDIR_CONFIG_WORKING_DIR, "/tmp/a\"b\\c\n"));
    assert_ocidir(0, ocidir_builder_set_annotation(b, "k\"\\\x01", "v\xe2\x9c\x93\n"));

    /* Invalid UTF-8 is refused, whichever string carries it, and leaves the
     * builder as it was. */
    static const char *const bad[] = {"\xff", "ab\xc3", "\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < N(bad); i++) {
        assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_label(b, "bad-label", bad[i]));
        assert_error_mentions("UTF-8");
        assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_label(b, bad[i], "value"));
        assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_annotation(b, "bad-annotation", bad[i]));
        const char *bad_env[] = {"OK=1", bad[i], NULL};
        assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_CMD, bad_env));
        assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_config_string(b, OCIDIR_CONFIG_USER, bad[i]));
    }

    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_builder_commit(b, "esc", 0, dg));
    ocidir_builder_free(b);

    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "esc", "linux/amd64", &img));
    char **kv = NULL;
    assert_ocidir(0, ocidir_image_config_labels(img, &kv));
    tu_assert_strv(kv, labels);
    ocidir_strv_free(kv);
    assert_config_strv(img, OCIDIR_CONFIG_ENV, env);
    assert_config_strv(img, OCIDIR_CONFIG_ENTRYPOINT, ep);
    /* Cmd was only ever given invalid strings: absent. */
    char **cmdv = (char **)&cmdv;
    assert_ocidir(0, ocidir_image_config_strv(img, OCIDIR_CONFIG_CMD, &cmdv));
    assert_null(cmdv);
    assert_config_string(img, OCIDIR_CONFIG_USER, "\xc3\xbc" "ser\"\\");
    assert_config_string(img, OCIDIR_CONFIG_WORKING_DIR, "/tmp/a\"b\\c\n");
    kv = NULL;
    assert_ocidir(0, ocidir_image_annotations(img, OCIDIR_MANIFEST, &kv));
    const char *ann[] = {"k\"\\\x01", "v\xe2\x9c\x93\n", NULL};
    tu_assert_strv(kv, ann);
    ocidir_strv_free(kv);

    /* The raw config is strict JSON (control characters escaped, valid
     * UTF-8) and decodes, by an independent reader, to the same strings. */
    const char *craw;
    size_t clen;
    config_raw(img, &craw, &clen);
    assert_true(json_check(craw, clen, NULL));
    const char *v;
    size_t vn;
    assert_true(json_get(craw, clen, &v, &vn, "config", "Labels", "utf8", (const char *)NULL));
    char *s = json_decode_string(v, vn);
    assert_string_equal(s, labels[5]);
    free(s);
    assert_true(json_get(craw, clen, &v, &vn, "config", "Labels", "ctl", (const char *)NULL));
    s = json_decode_string(v, vn);
    assert_string_equal(s, labels[1]);
    free(s);
    assert_true(json_get(craw, clen, &v, &vn, "config", "WorkingDir", (const char *)NULL));
    s = json_decode_string(v, vn);
    assert_string_equal(s, "/tmp/a\"b\\c\n");
    free(s);
    const void *mbuf;
    size_t mlen;
    assert_ocidir(0, ocidir_image_manifest(img, NULL, &mbuf, &mlen));
    assert_true(json_check(mbuf, mlen, NULL));

    ocidir_image_close(img);
    ocidir_close(d);
}

/* ======================================================================
 * Starting from an existing image
 * ====================================================================== */

static void test_builder_from_keeps_layers_unknown_fields_and_old_tag(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);

    struct layer old;
    write_layer(d, OCIDIR_COMPRESSION_GZIP, 40000, 7, &old);
    char config[2048];
    int n = snprintf(config, sizeof config,
                     "{\"architecture\":\"amd64\",\"os\":\"linux\",\n"
                     " \"config\":{\"Entrypoint\":[\"/bin/old\"],\"Env\":[\"OLD=1\"],"
                     "\"ExposedPorts\":{\"80/tcp\":{}},\"Volumes\":{\"/data\":{}}},\n"
                     " \"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]},\n"
                     " \"x-unknown-top\":{\"keep\":[1,2.5,true,null,\"s\"]},\n"
                     " \"history\":[{\"created_by\":\"old step\"}]}",
                     old.diff_id);
    char cdg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, config, (size_t)n, cdg));
    char manifest[2048];
    int mn = snprintf(manifest, sizeof manifest,
                      "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\","
                      "\"config\":{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"%s\",\"size\":%d},"
                      "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu}],"
                      "\"annotations\":{\"com.example.old\":\"yes\"}}",
                      cdg, n, old.media_type, old.digest, (unsigned long long)old.size);
    char old_mdg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, manifest, (size_t)mn, old_mdg));
    assert_ocidir(0, ocidir_tag_set(d, "old", old_mdg, 0));

    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_from(d, "old", "linux/amd64", &b));
    struct layer add;
    write_layer(d, OCIDIR_COMPRESSION_ZSTD, 30000, 8, &add);
    assert_ocidir(0, ocidir_builder_add_layer(b, add.media_type, add.digest, add.size, add.diff_id, "new step"));
    static const char *const cmd[] = {"run", "--fast", NULL};
    assert_ocidir(0, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_CMD, cmd));
    char new_mdg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_builder_commit(b, "new", 0, new_mdg));
    ocidir_builder_free(b);
    assert_string_not_equal(new_mdg, old_mdg);

    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "new", "linux/amd64", &img));
    assert_int_equal(ocidir_image_layer_count(img), 2);
    assert_layer_desc(img, 0, old.media_type, old.digest, old.size);
    assert_layer_desc(img, 1, add.media_type, add.digest, add.size);
    const char *diffs[] = {old.diff_id, add.diff_id, NULL};
    assert_config_strv(img, OCIDIR_CONFIG_DIFF_IDS, diffs);
    static const char *const ep[] = {"/bin/old", NULL};
    assert_config_strv(img, OCIDIR_CONFIG_ENTRYPOINT, ep);
    static const char *const env[] = {"OLD=1", NULL};
    assert_config_strv(img, OCIDIR_CONFIG_ENV, env);
    assert_config_strv(img, OCIDIR_CONFIG_CMD, cmd);
    assert_config_string(img, OCIDIR_CONFIG_OS, "linux");
    assert_config_string(img, OCIDIR_CONFIG_ARCHITECTURE, "amd64");
    char **kv = NULL;
    assert_ocidir(0, ocidir_image_annotations(img, OCIDIR_MANIFEST, &kv));
    const char *ann[] = {"com.example.old", "yes", NULL};
    tu_assert_strv(kv, ann);
    ocidir_strv_free(kv);

    const char *craw;
    size_t clen;
    config_raw(img, &craw, &clen);
    assert_true(json_check(craw, clen, NULL));
    assert_json_at(craw, clen, "{\"80/tcp\":{}}", "config", "ExposedPorts");
    assert_json_at(craw, clen, "{\"/data\":{}}", "config", "Volumes");
    assert_json_at(craw, clen, "{\"keep\":[1,2.5,true,null,\"s\"]}", "x-unknown-top");
    /* The old history entry is kept, the new one appended. */
    const char *h;
    size_t hn;
    assert_true(json_get(craw, clen, &h, &hn, "history", (const char *)NULL));
    const char *o = memmem(h, hn, "old step", 8), *s = memmem(h, hn, "new step", 8);
    assert_non_null(o);
    assert_non_null(s);
    assert_true(o < s);

    for (size_t i = 0; i < 2; i++) {
        size_t len;
        unsigned char *got = read_layer(img, i, &len);
        const struct layer *want = i == 0 ? &old : &add;
        assert_int_equal(len, want->len);
        assert_memory_equal(got, want->content, len);
        free(got);
    }
    ocidir_image_close(img);

    /* The old tag still names the old manifest, unchanged. */
    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_resolve(d, "old", dg, NULL, NULL));
    assert_string_equal(dg, old_mdg);
    assert_ocidir(0, ocidir_image_open(d, "old", "linux/amd64", &img));
    assert_int_equal(ocidir_image_layer_count(img), 1);
    char **v = (char **)&v;
    assert_ocidir(0, ocidir_image_config_strv(img, OCIDIR_CONFIG_CMD, &v));
    assert_null(v);
    config_raw(img, &craw, &clen);
    assert_int_equal(clen, (size_t)n);
    assert_memory_equal(craw, config, clen);
    ocidir_image_close(img);
    ocidir_close(d);
}

/* ======================================================================
 * Platforms
 * ====================================================================== */

struct desc {
    char digest[OCIDIR_DIGEST_MAX];
    size_t size;
    const char *media_type;
};

static void put_doc(ocidir_t *d, const char *json, const char *mt, struct desc *out)
{
    out->size = strlen(json);
    out->media_type = mt;
    assert_ocidir(0, ocidir_blob_put(d, json, out->size, out->digest));
}

/* A manifest (no layers) whose config says os/arch[/variant]; `marker` makes
 * two manifests of the same platform distinct. */
static void put_manifest(ocidir_t *d, const char *platform, const char *marker, struct desc *out)
{
    char os[32], arch[32], variant[32] = "";
    assert_true(sscanf(platform, "%31[^/]/%31[^/]/%31s", os, arch, variant) >= 2);
    char config[1024], vpart[64] = "";
    if (variant[0])
        snprintf(vpart, sizeof vpart, ",\"variant\":\"%s\"", variant);
    snprintf(config, sizeof config,
             "{\"architecture\":\"%s\",\"config\":{\"Labels\":{\"marker\":\"%s\"}},\"os\":\"%s\","
             "\"rootfs\":{\"diff_ids\":[],\"type\":\"layers\"}%s}",
             arch, marker, os, vpart);
    struct desc c;
    put_doc(d, config, MT_CONFIG, &c);
    char manifest[1024];
    snprintf(manifest, sizeof manifest,
             "{\"config\":{\"digest\":\"%s\",\"mediaType\":\"" MT_CONFIG "\",\"size\":%zu},"
             "\"layers\":[],\"mediaType\":\"" MT_MANIFEST "\",\"schemaVersion\":2}",
             c.digest, c.size);
    put_doc(d, manifest, MT_MANIFEST, out);
}

/* One index entry for `x`, with a platform object when `platform` is not
 * NULL; kept until teardown. */
static const char *entry(const struct desc *x, const char *platform)
{
    char plat[256] = "";
    if (platform) {
        char os[32], arch[32], variant[32] = "", vpart[64] = "";
        assert_true(sscanf(platform, "%31[^/]/%31[^/]/%31s", os, arch, variant) >= 2);
        if (variant[0])
            snprintf(vpart, sizeof vpart, ",\"variant\":\"%s\"", variant);
        snprintf(plat, sizeof plat, ",\"platform\":{\"architecture\":\"%s\",\"os\":\"%s\"%s}", arch, os, vpart);
    }
    char *e = NULL;
    assert_true(asprintf(&e, "{\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%zu%s}", x->digest, x->media_type,
                         x->size, plat) > 0);
    return tu_keep(e);
}

/* An index of the given entries (NULL-terminated). */
static void put_index(ocidir_t *d, struct desc *out, ...)
{
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{\"manifests\":[");
    va_list ap;
    va_start(ap, out);
    const char *e;
    int first = 1;
    while ((e = va_arg(ap, const char *)) != NULL) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", first ? "" : ",", e);
        first = 0;
    }
    va_end(ap);
    snprintf(buf + n, sizeof buf - n, "],\"mediaType\":\"" MT_INDEX "\",\"schemaVersion\":2}");
    put_doc(d, buf, MT_INDEX, out);
}

static void assert_opens_to(ocidir_t *d, const char *ref, const char *platform, const char *digest)
{
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, ref, platform, &img));
    char got[OCIDIR_DIGEST_MAX];
    image_digest(img, got);
    if (strcmp(got, digest) != 0)
        print_error("%s for %s opened %s, expected %s\n", ref, platform ? platform : "(default)", got, digest);
    assert_string_equal(got, digest);
    ocidir_image_close(img);
}

static void assert_no_platform(ocidir_t *d, const char *ref, const char *platform)
{
    ocidir_image_t *img = (ocidir_image_t *)&img;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_open(d, ref, platform, &img));
    assert_ptr_equal(img, (ocidir_image_t *)&img);
    assert_error_mentions(platform);
}

struct nested {
    struct desc amd64, arm64, armv7, inner, top;
};

/* multi → [inner → [arm64 (platform in descriptor), arm/v7], amd64] */
static void make_nested(ocidir_t *d, struct nested *n)
{
    put_manifest(d, "linux/amd64", "amd64", &n->amd64);
    put_manifest(d, "linux/arm64", "arm64", &n->arm64);
    put_manifest(d, "linux/arm/v7", "armv7", &n->armv7);
    put_index(d, &n->inner, entry(&n->arm64, "linux/arm64"), entry(&n->armv7, "linux/arm/v7"), (const char *)NULL);
    put_index(d, &n->top, entry(&n->inner, NULL), entry(&n->amd64, "linux/amd64"), (const char *)NULL);
    assert_ocidir(0, ocidir_tag_set(d, "multi", n->top.digest, 0));
}

static void test_platform_is_selected_through_nested_indexes(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    struct nested n;
    make_nested(d, &n);

    assert_opens_to(d, "multi", "linux/amd64", n.amd64.digest);
    assert_opens_to(d, "multi", "linux/arm64", n.arm64.digest);
    assert_opens_to(d, "multi", "linux/arm/v7", n.armv7.digest);
    /* No variant wanted: any variant of linux/arm matches. */
    assert_opens_to(d, "multi", "linux/arm", n.armv7.digest);
    /* A digest names the inner index directly. */
    assert_opens_to(d, n.inner.digest, "linux/arm64", n.arm64.digest);
    /* NULL means the running machine's platform. */
    ocidir_image_t *img = NULL, *img2 = NULL;
    int rc = ocidir_image_open(d, "multi", NULL, &img);
    int rc2 = ocidir_image_open(d, "multi", ocidir_platform_default(), &img2);
    assert_int_equal(rc, rc2);
    if (rc == 0) {
        char a[OCIDIR_DIGEST_MAX], b[OCIDIR_DIGEST_MAX];
        image_digest(img, a);
        image_digest(img2, b);
        assert_string_equal(a, b);
    } else {
        assert_int_equal(rc, OCIDIR_E_NOT_FOUND);
    }
    ocidir_image_close(img);
    ocidir_image_close(img2);
    ocidir_close(d);
}

static void test_missing_platform_lists_the_platforms_that_exist(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    struct nested n;
    make_nested(d, &n);

    assert_no_platform(d, "multi", "linux/riscv64");
    assert_error_mentions("linux/amd64");
    assert_error_mentions("linux/arm64");
    assert_error_mentions("linux/arm/v7");
    assert_no_platform(d, "multi", "windows/amd64");
    assert_no_platform(d, "multi", "linux/arm/v6");
    assert_error_mentions("linux/arm/v7");
    assert_no_platform(d, "multi", "linux/amd64/v3");
    ocidir_close(d);
}

static void test_variant_matching_and_first_match_wins(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    struct desc v6, v7, arm64v8, first, second;
    put_manifest(d, "linux/arm/v6", "v6", &v6);
    put_manifest(d, "linux/arm/v7", "v7", &v7);
    put_manifest(d, "linux/arm64/v8", "arm64v8", &arm64v8);
    put_manifest(d, "linux/amd64", "first", &first);
    put_manifest(d, "linux/amd64", "second", &second);
    assert_string_not_equal(first.digest, second.digest);
    struct desc idx;
    put_index(d, &idx, entry(&v6, "linux/arm/v6"), entry(&v7, "linux/arm/v7"), entry(&arm64v8, "linux/arm64/v8"),
              entry(&first, "linux/amd64"), entry(&second, "linux/amd64"), (const char *)NULL);
    assert_ocidir(0, ocidir_tag_set(d, "arms", idx.digest, 0));

    /* A wanted variant must be equal. */
    assert_opens_to(d, "arms", "linux/arm/v7", v7.digest);
    assert_opens_to(d, "arms", "linux/arm/v6", v6.digest);
    /* No wanted variant: the first linux/arm entry, whatever its variant. */
    assert_opens_to(d, "arms", "linux/arm", v6.digest);
    /* "linux/arm64" accepts an entry "linux/arm64/v8"; "linux/arm64/v9" does not. */
    assert_opens_to(d, "arms", "linux/arm64", arm64v8.digest);
    assert_opens_to(d, "arms", "linux/arm64/v8", arm64v8.digest);
    assert_no_platform(d, "arms", "linux/arm64/v9");
    assert_no_platform(d, "arms", "linux/arm/v5");
    /* Two entries match: the first wins. */
    assert_opens_to(d, "arms", "linux/amd64", first.digest);
    ocidir_close(d);
}

static void test_entry_without_platform_is_matched_by_its_config(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    struct desc s390x, arm64, amd64, armv7;
    put_manifest(d, "linux/s390x", "s390x", &s390x);
    put_manifest(d, "linux/arm64", "arm64", &arm64);
    put_manifest(d, "linux/amd64", "amd64", &amd64);
    put_manifest(d, "linux/arm/v7", "armv7", &armv7);
    struct desc idx;
    put_index(d, &idx, entry(&s390x, NULL), entry(&arm64, NULL), entry(&armv7, NULL), entry(&amd64, "linux/amd64"),
              (const char *)NULL);
    assert_ocidir(0, ocidir_tag_set(d, "noplat", idx.digest, 0));

    assert_opens_to(d, "noplat", "linux/s390x", s390x.digest);
    assert_opens_to(d, "noplat", "linux/arm64", arm64.digest);
    assert_opens_to(d, "noplat", "linux/amd64", amd64.digest);
    assert_opens_to(d, "noplat", "linux/arm/v7", armv7.digest);
    assert_no_platform(d, "noplat", "linux/arm/v6");
    assert_no_platform(d, "noplat", "linux/ppc64le");
    /* The platforms read from the configs are listed too. */
    assert_error_mentions("linux/s390x");
    assert_error_mentions("linux/arm/v7");
    ocidir_close(d);
}

static void test_unknown_media_type_entries_are_skipped(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    struct desc amd64, junk, missing;
    put_manifest(d, "linux/amd64", "amd64", &amd64);
    /* Present but not a manifest, and absent: reading either would fail. */
    put_doc(d, "this is not JSON at all", "application/vnd.example.thing.v1+json", &junk);
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, "absent", 6, missing.digest));
    missing.size = 6;
    missing.media_type = "application/vnd.example.other";
    struct desc idx;
    put_index(d, &idx, entry(&junk, "linux/amd64"), entry(&missing, "linux/amd64"), entry(&junk, NULL),
              entry(&amd64, "linux/amd64"), (const char *)NULL);
    assert_ocidir(0, ocidir_tag_set(d, "mixed", idx.digest, 0));
    assert_opens_to(d, "mixed", "linux/amd64", amd64.digest);
    assert_no_platform(d, "mixed", "linux/arm64");
    ocidir_close(d);
}

static void test_bad_platform_strings_are_invalid(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    struct nested n;
    make_nested(d, &n);
    static const char *const bad[] = {"linux", "", "a/b/c/d", "/amd64", "linux/", "linux//v7", "linux/arm/"};
    for (size_t i = 0; i < N(bad); i++) {
        ocidir_image_t *img = (ocidir_image_t *)&img;
        int rc = ocidir_image_open(d, "multi", bad[i], &img);
        if (rc != OCIDIR_E_INVALID)
            print_error("platform \"%s\": %d (%s)\n", bad[i], rc, ocidir_last_error());
        assert_int_equal(rc, OCIDIR_E_INVALID);
        assert_ptr_equal(img, (ocidir_image_t *)&img);
        ocidir_builder_t *b = (ocidir_builder_t *)&b;
        assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_new(d, bad[i], &b));
        assert_ptr_equal(b, (ocidir_builder_t *)&b);
    }
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_open(d, "multi", "a/b/c/d", &(ocidir_image_t *){NULL}));
    assert_error_mentions("a/b/c/d");
    ocidir_close(d);
}

static void test_manifest_digest_ref_opens_directly(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    struct nested n;
    make_nested(d, &n);
    /* The config's platform is not checked when the ref names a manifest. */
    assert_opens_to(d, n.armv7.digest, "linux/amd64", n.armv7.digest);
    assert_opens_to(d, n.arm64.digest, NULL, n.arm64.digest);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, n.armv7.digest, "windows/amd64", &img));
    assert_config_string(img, OCIDIR_CONFIG_ARCHITECTURE, "arm");
    assert_config_string(img, OCIDIR_CONFIG_VARIANT, "v7");
    ocidir_image_close(img);
    ocidir_close(d);
}

static void test_platform_default_names_this_machine(void **state)
{
    (void)state;
    const char *p = ocidir_platform_default();
    assert_non_null(p);
    assert_ptr_equal(p, ocidir_platform_default());
    assert_int_equal(strncmp(p, "linux/", 6), 0);
    assert_true(strlen(p) > 6);
    assert_null(strchr(p, ' '));
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    if (strcmp(u.machine, "x86_64") == 0)
        assert_string_equal(p, "linux/amd64");
    else if (strcmp(u.machine, "aarch64") == 0)
        assert_string_equal(p, "linux/arm64/v8");
    /* A builder for the default platform writes it into the config. */
    char *path;
    ocidir_t *d = scratch_layout(&path);
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, NULL, &b));
    assert_ocidir(0, ocidir_builder_commit(b, "host", 0, NULL));
    ocidir_builder_free(b);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "host", NULL, &img));
    char *os = NULL, *arch = NULL;
    assert_ocidir(0, ocidir_image_config_string(img, OCIDIR_CONFIG_OS, &os));
    assert_ocidir(0, ocidir_image_config_string(img, OCIDIR_CONFIG_ARCHITECTURE, &arch));
    char want[128];
    snprintf(want, sizeof want, "%s/%s", os, arch);
    assert_int_equal(strncmp(p, want, strlen(want)), 0);
    ocidir_free(os);
    ocidir_free(arch);
    ocidir_image_close(img);
    ocidir_close(d);
}

/* ======================================================================
 * Artifacts and referrers
 * ====================================================================== */

#define SBOM_TYPE "application/vnd.example.sbom+json"

static void test_artifact_with_subject_is_listed_as_referrer(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);

    /* The subject: an image. */
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    struct layer l;
    write_layer(d, OCIDIR_COMPRESSION_NONE, 1000, 5, &l);
    assert_ocidir(0, ocidir_builder_add_layer(b, l.media_type, l.digest, l.size, l.diff_id, NULL));
    char image_dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_builder_commit(b, "app", 0, image_dg));
    ocidir_builder_free(b);

    /* The artifact. */
    static const char sbom[] = "{\"spdxVersion\":\"SPDX-2.3\",\"name\":\"app\"}";
    char sbom_dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, sbom, sizeof sbom - 1, sbom_dg));
    ocidir_builder_t *a = NULL;
    assert_ocidir(0, ocidir_builder_new_artifact(d, SBOM_TYPE, &a));
    assert_ocidir(OCIDIR_E_INVALID,
                  ocidir_builder_add_layer(a, "application/spdx+json", sbom_dg, sizeof sbom - 1, sbom_dg, NULL));
    assert_ocidir(0, ocidir_builder_add_layer(a, "application/spdx+json", sbom_dg, sizeof sbom - 1, NULL, NULL));
    assert_ocidir(0, ocidir_builder_set_subject(a, image_dg));
    char art_dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_builder_commit(a, NULL, 0, art_dg));
    ocidir_builder_free(a);

    /* Untagged: the only tag is still "app". */
    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    tu_assert_strv(tags, (const char *const[]){"app", NULL});
    ocidir_strv_free(tags);

    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, art_dg, NULL, &img));
    assert_int_equal(ocidir_image_config_is_empty(img), 1);
    assert_non_null(ocidir_image_artifact_type(img));
    assert_string_equal(ocidir_image_artifact_type(img), SBOM_TYPE);
    char *cmt = NULL;
    char cdg[OCIDIR_DIGEST_MAX];
    uint64_t csize = 0;
    assert_ocidir(0, ocidir_image_config_descriptor(img, &cmt, cdg, &csize));
    assert_string_equal(cmt, MT_EMPTY);
    assert_string_equal(cdg, EMPTY_JSON_SHA256);
    assert_int_equal(csize, 2);
    ocidir_free(cmt);
    const char *craw;
    size_t clen;
    config_raw(img, &craw, &clen);
    assert_int_equal(clen, 2);
    assert_memory_equal(craw, "{}", 2);
    char **v = (char **)&v;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_config_strv(img, OCIDIR_CONFIG_ENV, &v));
    assert_ptr_equal(v, (char **)&v);
    assert_int_equal(ocidir_image_layer_count(img), 1);
    assert_layer_desc(img, 0, "application/spdx+json", sbom_dg, sizeof sbom - 1);
    ocidir_layer_reader_t *r = NULL;
    assert_ocidir(OCIDIR_E_UNSUPPORTED, ocidir_image_layer_open(img, 0, &r));
    assert_null(r);
    const void *mbuf;
    size_t mlen;
    assert_ocidir(0, ocidir_image_manifest(img, NULL, &mbuf, &mlen));
    char quoted[OCIDIR_DIGEST_MAX + 2];
    snprintf(quoted, sizeof quoted, "\"%s\"", image_dg);
    assert_json_at(mbuf, mlen, quoted, "subject", "digest");
    assert_json_at(mbuf, mlen, "\"" MT_MANIFEST "\"", "subject", "mediaType");
    assert_json_at(mbuf, mlen, "\"" SBOM_TYPE "\"", "artifactType");
    ocidir_image_close(img);

    /* Referrers. */
    char **refs = NULL;
    assert_ocidir(0, ocidir_referrers(d, image_dg, NULL, &refs));
    tu_assert_strv(refs, (const char *const[]){art_dg, NULL});
    ocidir_strv_free(refs);
    refs = NULL;
    assert_ocidir(0, ocidir_referrers(d, image_dg, SBOM_TYPE, &refs));
    tu_assert_strv(refs, (const char *const[]){art_dg, NULL});
    ocidir_strv_free(refs);
    refs = NULL;
    assert_ocidir(0, ocidir_referrers(d, image_dg, "application/vnd.example.signature", &refs));
    assert_non_null(refs);
    assert_int_equal(strv_len(refs), 0);
    ocidir_strv_free(refs);
    refs = NULL;
    assert_ocidir(0, ocidir_referrers(d, art_dg, NULL, &refs));
    assert_non_null(refs);
    assert_int_equal(strv_len(refs), 0);
    ocidir_strv_free(refs);
    ocidir_close(d);
}

static void test_add_layer_refuses_bad_diff_id_missing_blob_and_wrong_size(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    struct layer l;
    write_layer(d, OCIDIR_COMPRESSION_GZIP, 5000, 9, &l);
    char absent[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, "not stored", 10, absent));

    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    /* An image layer needs its diff_id. */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_add_layer(b, l.media_type, l.digest, l.size, NULL, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_add_layer(b, l.media_type, l.digest, l.size, "sha256:nothex", NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_add_layer(b, "not a media type", l.digest, l.size, l.diff_id, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_add_layer(b, l.media_type, "sha256:1234", l.size, l.diff_id, NULL));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_builder_add_layer(b, l.media_type, absent, 10, l.diff_id, NULL));
    assert_error_mentions(absent);
    assert_ocidir(OCIDIR_E_SIZE, ocidir_builder_add_layer(b, l.media_type, l.digest, l.size + 1, l.diff_id, NULL));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_builder_add_layer(b, l.media_type, l.digest, l.size - 1, l.diff_id, NULL));
    /* None of the refused layers was added. */
    assert_ocidir(0, ocidir_builder_add_layer(b, l.media_type, l.digest, l.size, l.diff_id, NULL));
    char dg[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_builder_commit(b, "one", 0, dg));
    ocidir_builder_free(b);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "one", "linux/amd64", &img));
    assert_int_equal(ocidir_image_layer_count(img), 1);
    const char *diffs[] = {l.diff_id, NULL};
    assert_config_strv(img, OCIDIR_CONFIG_DIFF_IDS, diffs);
    ocidir_image_close(img);

    /* An artifact layer: no diff_id; and the same blob checks. */
    ocidir_builder_t *a = NULL;
    assert_ocidir(0, ocidir_builder_new_artifact(d, SBOM_TYPE, &a));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_add_layer(a, "application/spdx+json", l.digest, l.size, l.diff_id, NULL));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_builder_add_layer(a, "application/spdx+json", absent, 10, NULL, NULL));
    assert_ocidir(OCIDIR_E_SIZE, ocidir_builder_add_layer(a, "application/spdx+json", l.digest, l.size + 1, NULL, NULL));
    /* The subject must be present. */
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_builder_set_subject(a, absent));
    ocidir_builder_free(a);

    /* A bad artifact type. */
    a = (ocidir_builder_t *)&a;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_new_artifact(d, "no-slash", &a));
    assert_ptr_equal(a, (ocidir_builder_t *)&a);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_new_artifact(d, NULL, &a));
    ocidir_close(d);
}

/* ======================================================================
 * Errors
 * ====================================================================== */

/* A one-layer image tagged "img"; its config digest is returned. */
static void build_one(ocidir_t *d, char config_out[OCIDIR_DIGEST_MAX], char manifest_out[OCIDIR_DIGEST_MAX])
{
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    struct layer l;
    write_layer(d, OCIDIR_COMPRESSION_GZIP, 3000, 11, &l);
    assert_ocidir(0, ocidir_builder_add_layer(b, l.media_type, l.digest, l.size, l.diff_id, NULL));
    assert_ocidir(0, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_CMD, CMD));
    assert_ocidir(0, ocidir_builder_commit(b, "img", 0, manifest_out));
    ocidir_builder_free(b);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "img", "linux/amd64", &img));
    assert_ocidir(0, ocidir_image_config_descriptor(img, NULL, config_out, NULL));
    ocidir_image_close(img);
}

static void test_missing_tag_is_not_found_naming_it(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    char cdg[OCIDIR_DIGEST_MAX], mdg[OCIDIR_DIGEST_MAX];
    build_one(d, cdg, mdg);
    ocidir_image_t *img = (ocidir_image_t *)&img;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_open(d, "no-such-tag", "linux/amd64", &img));
    assert_ptr_equal(img, (ocidir_image_t *)&img);
    assert_error_mentions("no-such-tag");
    ocidir_builder_t *b = (ocidir_builder_t *)&b;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_builder_from(d, "no-such-tag", NULL, &b));
    assert_ptr_equal(b, (ocidir_builder_t *)&b);
    assert_error_mentions("no-such-tag");
    /* A digest that names no blob. */
    char absent[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, "x", 1, absent));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_open(d, absent, NULL, &img));
    assert_error_mentions(tu_hex(absent));
    /* Neither a tag nor a digest. */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_open(d, "bad tag!", NULL, &img));
    assert_ptr_equal(img, (ocidir_image_t *)&img);
    ocidir_close(d);
}

static void test_corrupted_config_blob_is_a_digest_error(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    char cdg[OCIDIR_DIGEST_MAX], mdg[OCIDIR_DIGEST_MAX];
    build_one(d, cdg, mdg);
    char *blob = tu_keep(tu_blob_path(path, cdg));
    flip_file_byte(blob, 10);
    ocidir_image_t *img = (ocidir_image_t *)&img;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_image_open(d, "img", "linux/amd64", &img));
    assert_ptr_equal(img, (ocidir_image_t *)&img);
    assert_error_mentions(tu_hex(cdg));
    ocidir_builder_t *b = (ocidir_builder_t *)&b;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_builder_from(d, "img", "linux/amd64", &b));
    assert_ptr_equal(b, (ocidir_builder_t *)&b);

    /* A corrupted manifest too. */
    flip_file_byte(blob, 10); /* config restored */
    assert_ocidir(0, ocidir_image_open(d, "img", "linux/amd64", &img));
    ocidir_image_close(img);
    char *mblob = tu_keep(tu_blob_path(path, mdg));
    flip_file_byte(mblob, 3);
    img = (ocidir_image_t *)&img;
    assert_ocidir(OCIDIR_E_DIGEST, ocidir_image_open(d, "img", "linux/amd64", &img));
    assert_ptr_equal(img, (ocidir_image_t *)&img);
    assert_error_mentions(tu_hex(mdg));
    ocidir_close(d);
}

static void test_layer_index_past_the_end_is_not_found(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    char cdg[OCIDIR_DIGEST_MAX], mdg[OCIDIR_DIGEST_MAX];
    build_one(d, cdg, mdg);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "img", "linux/amd64", &img));
    assert_int_equal(ocidir_image_layer_count(img), 1);
    char *mt = (char *)"untouched";
    char dg[OCIDIR_DIGEST_MAX] = "untouched";
    uint64_t size = 77;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_layer(img, 1, &mt, dg, &size));
    assert_string_equal(mt, "untouched");
    assert_string_equal(dg, "untouched");
    assert_int_equal(size, 77);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_layer(img, (size_t)-2, &mt, dg, &size));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_layer(img, OCIDIR_MANIFEST, &mt, dg, &size));
    ocidir_layer_reader_t *r = (ocidir_layer_reader_t *)&r;
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_image_layer_open(img, 1, &r));
    assert_ptr_equal(r, (ocidir_layer_reader_t *)&r);
    ocidir_image_close(img);
    ocidir_close(d);
}

static void test_null_arguments_are_invalid(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    char cdg[OCIDIR_DIGEST_MAX], mdg[OCIDIR_DIGEST_MAX];
    build_one(d, cdg, mdg);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "img", "linux/amd64", &img));

    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_open(d, "img", NULL, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_open(d, NULL, NULL, &(ocidir_image_t *){NULL}));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_open(NULL, "img", NULL, &(ocidir_image_t *){NULL}));
    char **v = NULL;
    char *s = NULL;
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_strv(img, OCIDIR_CONFIG_ENV, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_strv(NULL, OCIDIR_CONFIG_ENV, &v));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_string(img, OCIDIR_CONFIG_USER, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_labels(img, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_annotations(img, OCIDIR_MANIFEST, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_layer_open(img, 0, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_referrers(d, mdg, NULL, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_referrers(d, NULL, NULL, &v));
    /* Fields of the wrong kind, and unknown fields. */
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_strv(img, OCIDIR_CONFIG_USER, &v));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_string(img, OCIDIR_CONFIG_ENV, &s));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_image_config_string(img, (ocidir_config_field_t)99, &s));
    assert_null(v);
    assert_null(s);
    ocidir_image_close(img);

    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_new(d, "linux/amd64", NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_new(NULL, "linux/amd64", &(ocidir_builder_t *){NULL}));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_new_artifact(d, SBOM_TYPE, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_from(d, "img", NULL, NULL));
    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, "linux/amd64", &b));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_DIFF_IDS, CMD));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_USER, CMD));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_config_string(b, OCIDIR_CONFIG_OS, "windows"));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_config_string(b, OCIDIR_CONFIG_ENV, "X=1"));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_label(b, NULL, "v"));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_annotation(b, NULL, "v"));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_created(b, "yesterday"));
    assert_error_mentions("yesterday");
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_set_created(b, "2024-01-01 00:00:00"));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_add_layer(b, NULL, cdg, 1, cdg, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_add_layer_writer(b, NULL, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_commit(b, "bad tag!", 0, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_commit(b, "ok", 0x80, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_commit(NULL, "ok", 0, NULL));
    assert_false(tags_contain(d, "ok"));
    ocidir_builder_free(b);
    ocidir_builder_free(NULL);
    ocidir_image_close(NULL);
    ocidir_close(d);
}

static void test_builder_on_read_only_handle_is_readonly(void **state)
{
    (void)state;
    char *path;
    ocidir_t *d = scratch_layout(&path);
    char cdg[OCIDIR_DIGEST_MAX], mdg[OCIDIR_DIGEST_MAX];
    build_one(d, cdg, mdg);
    ocidir_close(d);
    char *before = tu_keep(tu_tree_listing(path));

    assert_ocidir(0, ocidir_open(AT_FDCWD, path, OCIDIR_OPEN_RDONLY, &d));
    /* Reading works. */
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(d, "img", "linux/amd64", &img));
    ocidir_image_close(img);
    ocidir_layer_writer_t *w = (ocidir_layer_writer_t *)&w;
    assert_ocidir(OCIDIR_E_READONLY, ocidir_layer_writer_new(d, OCIDIR_COMPRESSION_GZIP, 0, 0, &w));
    assert_ptr_equal(w, (ocidir_layer_writer_t *)&w);

    /* Refused when the builder is made, or at the latest when it commits. */
    struct {
        const char *what;
        int rc;
        ocidir_builder_t *b;
    } cases[3];
    cases[0].what = "builder_new";
    cases[0].b = NULL;
    cases[0].rc = ocidir_builder_new(d, "linux/amd64", &cases[0].b);
    cases[1].what = "builder_from";
    cases[1].b = NULL;
    cases[1].rc = ocidir_builder_from(d, "img", "linux/amd64", &cases[1].b);
    cases[2].what = "builder_new_artifact";
    cases[2].b = NULL;
    cases[2].rc = ocidir_builder_new_artifact(d, SBOM_TYPE, &cases[2].b);
    for (size_t i = 0; i < N(cases); i++) {
        if (cases[i].rc == OCIDIR_E_READONLY) {
            assert_null(cases[i].b);
            continue;
        }
        if (cases[i].rc != 0)
            print_error("%s on a read-only handle: %d (%s)\n", cases[i].what, cases[i].rc, ocidir_strerror(cases[i].rc));
        assert_int_equal(cases[i].rc, 0);
        ocidir_builder_set_label(cases[i].b, "k", "v");
        assert_ocidir(OCIDIR_E_READONLY, ocidir_builder_commit(cases[i].b, "ro", 0, NULL));
        assert_ocidir(OCIDIR_E_READONLY, ocidir_builder_commit(cases[i].b, NULL, 0, NULL));
        ocidir_builder_free(cases[i].b);
    }
    ocidir_close(d);
    /* Nothing was written. */
    char *after = tu_keep(tu_tree_listing(path));
    assert_string_equal(before, after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_built_image_gives_back_every_value_through_accessors),
        TEARDOWN(test_same_inputs_and_created_give_the_same_manifest_digest),
        TEARDOWN(test_without_created_no_created_key_and_still_reproducible),
        TEARDOWN(test_hostile_strings_round_trip_exactly_through_config),
        TEARDOWN(test_builder_from_keeps_layers_unknown_fields_and_old_tag),
        TEARDOWN(test_platform_is_selected_through_nested_indexes),
        TEARDOWN(test_missing_platform_lists_the_platforms_that_exist),
        TEARDOWN(test_variant_matching_and_first_match_wins),
        TEARDOWN(test_entry_without_platform_is_matched_by_its_config),
        TEARDOWN(test_unknown_media_type_entries_are_skipped),
        TEARDOWN(test_bad_platform_strings_are_invalid),
        TEARDOWN(test_manifest_digest_ref_opens_directly),
        TEARDOWN(test_platform_default_names_this_machine),
        TEARDOWN(test_artifact_with_subject_is_listed_as_referrer),
        TEARDOWN(test_add_layer_refuses_bad_diff_id_missing_blob_and_wrong_size),
        TEARDOWN(test_missing_tag_is_not_found_naming_it),
        TEARDOWN(test_corrupted_config_blob_is_a_digest_error),
        TEARDOWN(test_layer_index_past_the_end_is_not_found),
        TEARDOWN(test_null_arguments_are_invalid),
        TEARDOWN(test_builder_on_read_only_handle_is_readonly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
