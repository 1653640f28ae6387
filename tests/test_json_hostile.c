/* Hostile JSON: every hardening rule of the JSON reader and of the OCI
 * schema checks provoked once, with the exact code.  Documents are written
 * straight into a layout: index.json variants (read through ocidir_tag_list,
 * ocidir_resolve and ocidir_image_open) and manifest, index and config blobs
 * (put with ocidir_blob_put and reached through a hand-written index.json
 * entry, by digest, or through ocidir_tag_set). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, hostile_teardown)
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define REF_NAME "org.opencontainers.image.ref.name"

/* Code not checked (for a call whose outcome a case does not prescribe). */
#define ANY 1

/* ---- helpers ------------------------------------------------------------ */

/* Memory freed at teardown (more than tu_keep() holds). */
static void **arena;
static size_t arena_n, arena_cap;

static void *keep(void *p)
{
    assert_non_null(p);
    if (arena_n == arena_cap) {
        size_t cap = arena_cap ? arena_cap * 2 : 256;
        void **a = realloc(arena, cap * sizeof *a);
        assert_non_null(a);
        arena = a;
        arena_cap = cap;
    }
    arena[arena_n++] = p;
    return p;
}

/* The fixture's handle, closed at teardown if a failed test left it open. */
static ocidir_t *fx_handle;

static int hostile_teardown(void **state)
{
    ocidir_close(fx_handle);
    fx_handle = NULL;
    for (size_t i = 0; i < arena_n; i++)
        free(arena[i]);
    arena_n = 0;
    return tu_teardown_keep(state);
}

/* A formatted string freed at teardown. */
static char *S(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *S(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    return keep(p);
}

/* n copies of c, freed at teardown. */
static char *rep(char c, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memset(p, c, n);
    p[n] = '\0';
    return keep(p);
}

static char *base64(const void *buf, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = buf;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return keep(out);
}

typedef struct {
    char digest[OCIDIR_DIGEST_MAX];
    size_t size;
    const char *text;
} blob_t;

/* A layout with a valid config and layer, and their descriptors. */
typedef struct {
    char *layout;
    ocidir_t *d;
    blob_t cfg, layer;
    char *cfg_desc, *layer_desc; /* descriptor JSON */
    char *plat;                  /* platform JSON of the running machine */
} fx_t;

static blob_t put_bytes(ocidir_t *d, const void *buf, size_t len)
{
    blob_t b;
    b.size = len;
    b.text = NULL;
    assert_ocidir(0, ocidir_blob_put(d, buf, len, b.digest));
    return b;
}

static blob_t put_text(ocidir_t *d, const char *text)
{
    blob_t b = put_bytes(d, text, strlen(text));
    b.text = text;
    return b;
}

static char *desc(const char *mt, const blob_t *b)
{
    return S("{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}", mt, b->digest, b->size);
}

static char *host_platform_json(void)
{
    const char *p = ocidir_platform_default();
    char os[64] = "", arch[64] = "", variant[64] = "";
    const char *s1 = strchr(p, '/');
    assert_non_null(s1);
    snprintf(os, sizeof os, "%.*s", (int)(s1 - p), p);
    const char *s2 = strchr(s1 + 1, '/');
    if (s2) {
        snprintf(arch, sizeof arch, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
        snprintf(variant, sizeof variant, "%s", s2 + 1);
        return S("{\"architecture\":\"%s\",\"os\":\"%s\",\"variant\":\"%s\"}", arch, os, variant);
    }
    snprintf(arch, sizeof arch, "%s", s1 + 1);
    return S("{\"architecture\":\"%s\",\"os\":\"%s\"}", arch, os);
}

static void fx_init(fx_t *f)
{
    f->d = tu_scratch_layout(&f->layout);
    fx_handle = f->d;
    keep(f->layout);
    unsigned char rnd[1500];
    tu_fill(rnd, sizeof rnd, 7);
    f->layer = put_bytes(f->d, rnd, sizeof rnd);
    char diff_id[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, "uncompressed", 12, diff_id));
    f->plat = host_platform_json();
    /* The platform object's members, spliced into the config. */
    char *pl = S("%s", f->plat);
    pl[strlen(pl) - 1] = '\0';
    f->cfg = put_text(f->d, S("%s,\"config\":{\"Cmd\":[\"/bin/sh\"]},"
                              "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                              pl, diff_id));
    f->cfg_desc = desc(MT_CONFIG, &f->cfg);
    f->layer_desc = desc(MT_LAYER, &f->layer);
}

static void fx_close(fx_t *f)
{
    ocidir_close(f->d);
    f->d = NULL;
    fx_handle = NULL;
}

/* A manifest from its parts; `extra` is spliced in before the closing brace. */
static char *manifest_text(const char *mt_member, const char *config, const char *layers, const char *extra)
{
    return S("{\"schemaVersion\":2%s,\"config\":%s,\"layers\":[%s]%s}", mt_member, config, layers, extra);
}

static char *good_manifest(fx_t *f, const char *extra)
{
    return manifest_text(",\"mediaType\":\"" MT_MANIFEST "\"", f->cfg_desc, f->layer_desc, extra);
}

/* An index.json entry (tagged when tag is non-NULL). */
static char *entry(const char *mt, const char *digest, const char *size, const char *tag, const char *extra)
{
    if (tag)
        return S("{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s,\"annotations\":{\"" REF_NAME
                 "\":\"%s\"}%s}",
                 mt, digest, size, tag, extra);
    return S("{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s%s}", mt, digest, size, extra);
}

static char *entry_for(const char *mt, const blob_t *b, const char *tag)
{
    return entry(mt, b->digest, S("%zu", b->size), tag, "");
}

static char *index_text(const char *entries)
{
    return S("{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[%s]}", entries);
}

static void write_index_bytes(fx_t *f, const char *text, size_t len)
{
    char *p = tu_join(f->layout, "index.json");
    tu_write_file(p, text, len);
    free(p);
}

static void write_index(fx_t *f, const char *text) { write_index_bytes(f, text, strlen(text)); }

static int fails_with(const char *label, int expected, int rc)
{
    if (expected == ANY)
        return 1;
    if (rc != expected) {
        print_error("%s: got %d (%s), expected %d (%s)%s%s\n", label, rc, ocidir_strerror(rc), expected,
                    ocidir_strerror(expected), rc ? "; last error: " : "", rc ? ocidir_last_error() : "");
        return 0;
    }
    return 1;
}

static void assert_error_mentions(const char *label, const char *needle)
{
    const char *e = ocidir_last_error();
    if (!strstr(e, needle))
        print_error("%s: last error \"%s\" does not mention \"%s\"\n", label, e, needle);
    assert_non_null(strstr(e, needle));
}

/* tag_list gives list_code (unless ANY); resolving `tag` gives resolve_code
 * with untouched out-parameters, and so does opening it as an image. */
static void check_index_case(fx_t *f, const char *label, int list_code, const char *tag, int resolve_code,
                             const char *needle)
{
    char **tags = NULL;
    int rc = ocidir_tag_list(f->d, &tags);
    if (rc == 0)
        ocidir_strv_free(tags);
    assert_true(fails_with(S("%s: tag_list", label), list_code, rc));
    if (list_code != ANY && list_code != 0 && needle)
        assert_error_mentions(label, needle);
    if (!tag)
        return;
    char dg[OCIDIR_DIGEST_MAX] = "untouched";
    char *mt = (char *)"untouched";
    uint64_t size = 77;
    rc = ocidir_resolve(f->d, tag, dg, &mt, &size);
    if (rc == 0)
        ocidir_free(mt);
    assert_true(fails_with(S("%s: resolve(%s)", label, tag), resolve_code, rc));
    if (resolve_code != 0 && resolve_code != ANY) {
        assert_string_equal(dg, "untouched");
        assert_string_equal(mt, "untouched");
        assert_int_equal(size, 77);
        if (needle)
            assert_error_mentions(label, needle);
    }
    ocidir_image_t *img = NULL;
    rc = ocidir_image_open(f->d, tag, NULL, &img);
    ocidir_image_close(img);
    assert_true(fails_with(S("%s: image_open(%s)", label, tag), resolve_code, rc));
    if (resolve_code != 0 && resolve_code != ANY)
        assert_null(img);
}

/* Put `doc` as a blob, point tag "t" at it (as media type `mt`) in a
 * hand-written index.json, and expect ocidir_image_open("t") — and the same
 * by digest — to fail with `code` (0: succeed). */
static blob_t check_blob_case(fx_t *f, const char *label, const char *mt, const void *doc, size_t len, int code,
                              const char *needle)
{
    blob_t b = put_bytes(f->d, doc, len);
    write_index(f, index_text(entry_for(mt, &b, "t")));
    ocidir_image_t *img = NULL;
    int rc = ocidir_image_open(f->d, "t", NULL, &img);
    ocidir_image_close(img);
    assert_true(fails_with(S("%s: image_open(t)", label), code, rc));
    if (code != 0) {
        assert_null(img);
        if (needle)
            assert_error_mentions(label, needle);
    }
    img = NULL;
    rc = ocidir_image_open(f->d, b.digest, NULL, &img);
    ocidir_image_close(img);
    assert_true(fails_with(S("%s: image_open(digest)", label), code, rc));
    if (code != 0 && needle)
        assert_error_mentions(label, needle);
    return b;
}

static blob_t check_manifest_case(fx_t *f, const char *label, const char *doc, int code, const char *needle)
{
    return check_blob_case(f, label, MT_MANIFEST, doc, strlen(doc), code, needle);
}

/* ---- the valid baseline ------------------------------------------------- */

static void test_baseline_documents_are_accepted(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = check_manifest_case(&f, "baseline manifest", good_manifest(&f, ""), 0, NULL);
    ocidir_image_t *img = NULL;
    assert_ocidir(0, ocidir_image_open(f.d, "t", NULL, &img));
    assert_int_equal(ocidir_image_layer_count(img), 1);
    ocidir_image_close(img);
    /* Through an index blob with the host platform. */
    blob_t ix = put_text(f.d, S("{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[{"
                                "\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
                                "\"platform\":%s}]}",
                                m.digest, m.size, f.plat));
    write_index(&f, index_text(S("%s,%s", entry_for(MT_MANIFEST, &m, "m"), entry_for(MT_INDEX, &ix, "i"))));
    check_index_case(&f, "baseline index", 0, "m", 0, NULL);
    check_index_case(&f, "baseline index", 0, "i", 0, NULL);
    /* And tag_set accepts both. */
    assert_ocidir(0, ocidir_tag_set(f.d, "set-m", m.digest, 0));
    assert_ocidir(0, ocidir_tag_set(f.d, "set-i", ix.digest, 0));
    fx_close(&f);
}

/* ---- malformed JSON ----------------------------------------------------- */

static void test_truncated_documents_are_format(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ""));
    const char *full = index_text(entry_for(MT_MANIFEST, &m, "t"));
    size_t len = strlen(full);
    /* Every proper prefix of index.json, the empty file included. */
    for (size_t cut = 0; cut < len; cut++) {
        write_index_bytes(&f, full, cut);
        char **tags = NULL;
        int rc = ocidir_tag_list(f.d, &tags);
        if (rc != OCIDIR_E_FORMAT)
            print_error("index.json cut at %zu/%zu: tag_list gave %d: %s\n", cut, len, rc, ocidir_last_error());
        assert_int_equal(rc, OCIDIR_E_FORMAT);
        assert_int_equal(ocidir_resolve(f.d, "t", NULL, NULL, NULL), OCIDIR_E_FORMAT);
    }
    write_index(&f, full);
    check_index_case(&f, "whole index", 0, "t", 0, NULL);

    /* Prefixes of the manifest (every 5th), reached through a good index. */
    const char *man = m.text;
    size_t mlen = strlen(man);
    for (size_t cut = 0; cut < mlen; cut += 5)
        check_blob_case(&f, S("manifest cut at %zu", cut), MT_MANIFEST, man, cut, OCIDIR_E_FORMAT, NULL);
    /* Trailing garbage after a complete document. */
    check_manifest_case(&f, "manifest with trailing garbage", S("%s}", man), OCIDIR_E_FORMAT, NULL);
    write_index(&f, S("%s{}", full));
    check_index_case(&f, "index with trailing garbage", OCIDIR_E_FORMAT, "t", OCIDIR_E_FORMAT, NULL);
    /* Not JSON at all. */
    write_index(&f, "\x89PNG\r\n\x1a\n");
    check_index_case(&f, "binary index", OCIDIR_E_FORMAT, "t", OCIDIR_E_FORMAT, NULL);
    fx_close(&f);
}

static void test_deep_nesting_is_format_without_crash(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ""));
    const char *ent = entry_for(MT_MANIFEST, &m, "t");
    const size_t depths[] = {65, 1000, 10000, 1000000};
    for (size_t i = 0; i < N(depths); i++) {
        size_t n = depths[i];
        const char *open = rep('[', n), *close = rep(']', n);
        /* Unterminated, as a whole document. */
        write_index(&f, open);
        check_index_case(&f, S("%zu '[' index.json", n), OCIDIR_E_FORMAT, "t", OCIDIR_E_FORMAT, NULL);
        check_blob_case(&f, S("%zu '[' manifest", n), MT_MANIFEST, open, n, OCIDIR_E_FORMAT, NULL);
        /* Balanced, in an unknown member (tolerated if it were shallow). */
        write_index(&f, S("{\"schemaVersion\":2,\"x-deep\":%s%s,\"manifests\":[%s]}", open, close, ent));
        check_index_case(&f, S("%zu-deep member in index.json", n), OCIDIR_E_FORMAT, "t", OCIDIR_E_FORMAT,
                         NULL);
        check_manifest_case(&f, S("%zu-deep member in manifest", n),
                            good_manifest(&f, S(",\"x-deep\":%s%s", open, close)), OCIDIR_E_FORMAT, NULL);
        /* Nested objects. */
        size_t k = n < 20000 ? n : 20000;
        char *objs = malloc(k * 6 + 8);
        keep(objs);
        size_t o = 0;
        for (size_t j = 0; j < k; j++)
            o += (size_t)sprintf(objs + o, "{\"a\":");
        objs[o] = '\0';
        write_index(&f, S("{\"schemaVersion\":2,\"x\":%s1%s,\"manifests\":[%s]}", objs, rep('}', k), ent));
        check_index_case(&f, S("%zu nested objects", k), OCIDIR_E_FORMAT, "t", OCIDIR_E_FORMAT, NULL);
    }
    /* Shallow unknown nesting is fine. */
    write_index(&f, S("{\"schemaVersion\":2,\"x-deep\":%s%s,\"manifests\":[%s]}", rep('[', 10), rep(']', 10), ent));
    check_index_case(&f, "10-deep member in index.json", 0, "t", 0, NULL);
    fx_close(&f);
}

/* ---- wrong types -------------------------------------------------------- */

static void test_wrong_types_in_index_json_are_format(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ""));
    char *size = S("%zu", m.size);
    const char *good = entry_for(MT_MANIFEST, &m, "good");
    /* Each bad entry carries tag "t"; resolving (and opening) it is FORMAT.
     * `alt` is a second acceptable code where the tag itself cannot be read
     * (then "t" may simply be no tag: NOT_FOUND). */
    struct {
        const char *label, *bad_entry;
        int alt;
    } entries[] = {
        {"size as string", entry(MT_MANIFEST, m.digest, S("\"%zu\"", m.size), "t", ""), 0},
        {"size 1.5", entry(MT_MANIFEST, m.digest, "1.5", "t", ""), 0},
        {"size null", entry(MT_MANIFEST, m.digest, "null", "t", ""), 0},
        {"size true", entry(MT_MANIFEST, m.digest, "true", "t", ""), 0},
        {"digest as number",
         S("{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":12345,\"size\":%s,\"annotations\":{\"" REF_NAME
           "\":\"t\"}}",
           size),
         0},
        {"mediaType as number",
         S("{\"mediaType\":7,\"digest\":\"%s\",\"size\":%s,\"annotations\":{\"" REF_NAME "\":\"t\"}}", m.digest,
           size),
         0},
        {"no mediaType",
         S("{\"digest\":\"%s\",\"size\":%s,\"annotations\":{\"" REF_NAME "\":\"t\"}}", m.digest, size), 0},
        {"no size",
         S("{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"annotations\":{\"" REF_NAME "\":\"t\"}}",
           m.digest),
         0},
        {"no digest",
         S("{\"mediaType\":\"" MT_MANIFEST "\",\"size\":%s,\"annotations\":{\"" REF_NAME "\":\"t\"}}", size),
         0},
        {"annotation value a number",
         S("{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%s,\"annotations\":{\"" REF_NAME
           "\":\"t\",\"com.example.n\":1}}",
           m.digest, size),
         0},
        {"platform os a number",
         entry(MT_MANIFEST, m.digest, size, "t", ",\"platform\":{\"os\":1,\"architecture\":\"amd64\"}"), 0},
        {"platform a string", entry(MT_MANIFEST, m.digest, size, "t", ",\"platform\":\"linux/amd64\""), 0},
        {"platform without architecture", entry(MT_MANIFEST, m.digest, size, "t", ",\"platform\":{\"os\":\"linux\"}"),
         0},
        {"media type without a slash", entry("application", m.digest, size, "t", ""), 0},
        {"media type with spaces", entry("application/vnd oci", m.digest, size, "t", ""), 0},
        {"annotations an array",
         S("{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%s,\"annotations\":[\"" REF_NAME
           "\",\"t\"]}",
           m.digest, size),
         OCIDIR_E_NOT_FOUND},
        {"ref.name a number",
         S("{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%s,\"annotations\":{\"" REF_NAME
           "\":7}}",
           m.digest, size),
         OCIDIR_E_NOT_FOUND},
        {"entry an array", "[\"" REF_NAME "\",\"t\"]", OCIDIR_E_NOT_FOUND},
        {"entry a string", "\"t\"", OCIDIR_E_NOT_FOUND},
    };
    for (size_t i = 0; i < N(entries); i++) {
        write_index(&f, index_text(S("%s,%s", good, entries[i].bad_entry)));
        const char *label = entries[i].label;
        int rc = ocidir_resolve(f.d, "t", NULL, NULL, NULL);
        if (rc != OCIDIR_E_FORMAT && !(entries[i].alt && rc == entries[i].alt))
            print_error("%s: resolve(t) gave %d (%s): %s\n", label, rc, ocidir_strerror(rc), ocidir_last_error());
        assert_true(rc == OCIDIR_E_FORMAT || (entries[i].alt && rc == entries[i].alt));
        ocidir_image_t *img = NULL;
        rc = ocidir_image_open(f.d, "t", NULL, &img);
        if (rc != OCIDIR_E_FORMAT && !(entries[i].alt && rc == entries[i].alt))
            print_error("%s: image_open(t) gave %d (%s): %s\n", label, rc, ocidir_strerror(rc), ocidir_last_error());
        assert_true(rc == OCIDIR_E_FORMAT || (entries[i].alt && rc == entries[i].alt));
        assert_null(img);
        /* The good tag is either unaffected or the whole file refused;
         * never resolved to something else. */
        char dg[OCIDIR_DIGEST_MAX] = "";
        rc = ocidir_resolve(f.d, "good", dg, NULL, NULL);
        if (rc == 0)
            assert_string_equal(dg, m.digest);
        else
            assert_true(fails_with(S("%s: resolve(good)", label), OCIDIR_E_FORMAT, rc));
    }

    /* Top-level shape: refused as a whole. */
    struct {
        const char *label, *text;
    } docs[] = {
        {"manifests an object", "{\"schemaVersion\":2,\"manifests\":{}}"},
        {"manifests a string", "{\"schemaVersion\":2,\"manifests\":\"x\"}"},
        {"manifests missing", "{\"schemaVersion\":2}"},
        {"schemaVersion 1", S("{\"schemaVersion\":1,\"manifests\":[%s]}", good)},
        {"schemaVersion 3", S("{\"schemaVersion\":3,\"manifests\":[%s]}", good)},
        {"schemaVersion \"2\"", S("{\"schemaVersion\":\"2\",\"manifests\":[%s]}", good)},
        {"schemaVersion 2.5", S("{\"schemaVersion\":2.5,\"manifests\":[%s]}", good)},
        {"schemaVersion missing", S("{\"manifests\":[%s]}", good)},
        {"top level an array", S("[%s]", good)},
        {"top level null", "null"},
        {"top level a string", "\"index\""},
        {"mediaType a manifest", S("{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\",\"manifests\":[%s]}", good)},
        {"mediaType a number", S("{\"schemaVersion\":2,\"mediaType\":5,\"manifests\":[%s]}", good)},
        {"annotations a string", S("{\"schemaVersion\":2,\"annotations\":\"x\",\"manifests\":[%s]}", good)},
    };
    int failures = 0;
    for (size_t i = 0; i < N(docs); i++) {
        write_index(&f, docs[i].text);
        char **tags = NULL;
        int rc = ocidir_tag_list(f.d, &tags);
        if (rc == 0)
            ocidir_strv_free(tags);
        failures += !fails_with(S("%s: tag_list", docs[i].label), OCIDIR_E_FORMAT, rc);
        rc = ocidir_resolve(f.d, "good", NULL, NULL, NULL);
        failures += !fails_with(S("%s: resolve(good)", docs[i].label), OCIDIR_E_FORMAT, rc);
        ocidir_image_t *img = NULL;
        rc = ocidir_image_open(f.d, "good", NULL, &img);
        ocidir_image_close(img);
        failures += !fails_with(S("%s: image_open(good)", docs[i].label), OCIDIR_E_FORMAT, rc);
    }
    assert_int_equal(failures, 0);
    fx_close(&f);
}

static void test_wrong_types_in_manifest_are_format(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    const char *mtm = ",\"mediaType\":\"" MT_MANIFEST "\"";
    struct {
        const char *label, *doc;
    } cases[] = {
        {"schemaVersion 1", S("{\"schemaVersion\":1%s,\"config\":%s,\"layers\":[%s]}", mtm, f.cfg_desc,
                              f.layer_desc)},
        {"schemaVersion missing", S("{\"mediaType\":\"" MT_MANIFEST "\",\"config\":%s,\"layers\":[%s]}", f.cfg_desc,
                                    f.layer_desc)},
        {"schemaVersion \"2\"", S("{\"schemaVersion\":\"2\"%s,\"config\":%s,\"layers\":[%s]}", mtm, f.cfg_desc,
                                  f.layer_desc)},
        {"layers an object", S("{\"schemaVersion\":2%s,\"config\":%s,\"layers\":%s}", mtm, f.cfg_desc,
                               f.layer_desc)},
        {"layers null", S("{\"schemaVersion\":2%s,\"config\":%s,\"layers\":null}", mtm, f.cfg_desc)},
        {"config missing", S("{\"schemaVersion\":2%s,\"layers\":[%s]}", mtm, f.layer_desc)},
        {"config an array", S("{\"schemaVersion\":2%s,\"config\":[%s],\"layers\":[%s]}", mtm, f.cfg_desc,
                              f.layer_desc)},
        {"config digest a number",
         manifest_text(mtm, S("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":1,\"size\":%zu}", f.cfg.size),
                       f.layer_desc, "")},
        {"config size a string",
         manifest_text(mtm, S("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"%s\",\"size\":\"%zu\"}", f.cfg.digest,
                              f.cfg.size),
                       f.layer_desc, "")},
        {"layer size 1.5",
         manifest_text(mtm, f.cfg_desc, S("{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"%s\",\"size\":1.5}",
                                          f.layer.digest),
                       "")},
        {"layer a string", manifest_text(mtm, f.cfg_desc, "\"layer\"", "")},
        {"annotation value a number", good_manifest(&f, ",\"annotations\":{\"a\":\"b\",\"n\":2}")},
        {"annotation value null", good_manifest(&f, ",\"annotations\":{\"n\":null}")},
        {"layer annotation value an object",
         manifest_text(mtm, f.cfg_desc,
                       S("{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"k\":{}}}",
                         f.layer.digest, f.layer.size),
                       "")},
        {"mediaType a number", manifest_text(",\"mediaType\":2", f.cfg_desc, f.layer_desc, "")},
        {"subject a string", good_manifest(&f, ",\"subject\":\"sha256:00\"")},
        {"artifactType a number", good_manifest(&f, ",\"artifactType\":3")},
        {"top level an array", S("[%s]", f.cfg_desc)},
    };
    for (size_t i = 0; i < N(cases); i++)
        check_manifest_case(&f, cases[i].label, cases[i].doc, OCIDIR_E_FORMAT, NULL);
    fx_close(&f);
}

/* ---- sizes -------------------------------------------------------------- */

static void test_negative_and_oversized_sizes_are_format(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ""));
    const char *sizes[] = {"-1", "-9223372036854775808", "9223372036854775808", "18446744073709551615",
                           "18446744073709551616", "1e30", "99999999999999999999999999999"};
    for (size_t i = 0; i < N(sizes); i++) {
        write_index(&f, index_text(entry(MT_MANIFEST, m.digest, sizes[i], "t", "")));
        check_index_case(&f, S("index entry size %s", sizes[i]), ANY, "t", OCIDIR_E_FORMAT, NULL);
        check_manifest_case(
            &f, S("layer size %s", sizes[i]),
            manifest_text(",\"mediaType\":\"" MT_MANIFEST "\"", f.cfg_desc,
                          S("%s,{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"%s\",\"size\":%s}", f.layer_desc,
                            f.layer.digest, sizes[i]),
                          ""),
            OCIDIR_E_FORMAT, NULL);
        check_manifest_case(&f, S("config size %s", sizes[i]),
                            manifest_text(",\"mediaType\":\"" MT_MANIFEST "\"",
                                          S("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"%s\",\"size\":%s}",
                                            f.cfg.digest, sizes[i]),
                                          f.layer_desc, ""),
                            OCIDIR_E_FORMAT, NULL);
    }
    /* A size that is an integer but not the blob's: SIZE when opened. */
    write_index(&f, index_text(entry(MT_MANIFEST, m.digest, S("%zu", m.size + 1), "t", "")));
    ocidir_image_t *img = NULL;
    assert_ocidir(OCIDIR_E_SIZE, ocidir_image_open(f.d, "t", NULL, &img));
    assert_null(img);
    check_manifest_case(&f, "config size one short",
                        manifest_text(",\"mediaType\":\"" MT_MANIFEST "\"",
                                      S("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"%s\",\"size\":%zu}",
                                        f.cfg.digest, f.cfg.size - 1),
                                      f.layer_desc, ""),
                        OCIDIR_E_SIZE, NULL);
    fx_close(&f);
}

/* ---- duplicate keys ----------------------------------------------------- */

static void test_duplicate_keys_are_format_naming_the_key(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ""));
    blob_t m2 = put_text(f.d, good_manifest(&f, ",\"annotations\":{\"second\":\"yes\"}"));
    const char *ent = entry_for(MT_MANIFEST, &m, "t");
    const char *ent2 = entry_for(MT_MANIFEST, &m2, "t2");
    struct {
        const char *label, *text, *key;
    } idx[] = {
        {"top-level manifests twice",
         S("{\"schemaVersion\":2,\"manifests\":[%s],\"manifests\":[%s]}", ent, ent2), "manifests"},
        {"top-level unknown key twice",
         S("{\"schemaVersion\":2,\"xTopDup\":1,\"manifests\":[%s],\"xTopDup\":2}", ent), "xTopDup"},
        {"entry digest twice",
         S("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\","
           "\"size\":%zu,\"digest\":\"%s\",\"annotations\":{\"" REF_NAME "\":\"t\"}}]}",
           m.digest, m.size, m2.digest),
         "digest"},
        {"ref.name twice in one entry",
         S("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\","
           "\"size\":%zu,\"annotations\":{\"" REF_NAME "\":\"t\",\"" REF_NAME "\":\"u\"}}]}",
           m.digest, m.size),
         REF_NAME},
        {"unknown key twice in an entry's platform",
         S("{\"schemaVersion\":2,\"manifests\":[%s,{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\","
           "\"size\":%zu,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\",\"zzNested\":1,"
           "\"zzNested\":1}}]}",
           ent, m2.digest, m2.size),
         "zzNested"},
    };
    for (size_t i = 0; i < N(idx); i++) {
        write_index(&f, idx[i].text);
        check_index_case(&f, idx[i].label, OCIDIR_E_FORMAT, "t", OCIDIR_E_FORMAT, idx[i].key);
    }

    const char *mtm = ",\"mediaType\":\"" MT_MANIFEST "\"";
    struct {
        const char *label, *doc, *key;
    } man[] = {
        {"manifest layers twice", S("{\"schemaVersion\":2%s,\"config\":%s,\"layers\":[%s],\"layers\":[]}", mtm,
                                    f.cfg_desc, f.layer_desc),
         "layers"},
        {"manifest mediaType twice",
         S("{\"schemaVersion\":2%s,\"config\":%s,\"layers\":[%s],\"mediaType\":\"" MT_INDEX "\"}", mtm,
           f.cfg_desc, f.layer_desc),
         "mediaType"},
        {"config digest twice",
         manifest_text(mtm,
                       S("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"%s\",\"size\":%zu,\"digest\":\"%s\"}",
                         f.cfg.digest, f.cfg.size, f.layer.digest),
                       f.layer_desc, ""),
         "digest"},
        {"layer annotation twice",
         manifest_text(mtm, f.cfg_desc,
                       S("{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"%s\",\"size\":%zu,"
                         "\"annotations\":{\"zzLayerKey\":\"a\",\"zzLayerKey\":\"b\"}}",
                         f.layer.digest, f.layer.size),
                       ""),
         "zzLayerKey"},
    };
    for (size_t i = 0; i < N(man); i++) {
        check_manifest_case(&f, man[i].label, man[i].doc, OCIDIR_E_FORMAT, man[i].key);
        /* tag_set reads the blob whole and refuses it as well. */
        blob_t b = put_text(f.d, man[i].doc);
        write_index(&f, index_text(ent));
        assert_true(fails_with(S("%s: tag_set", man[i].label), OCIDIR_E_FORMAT,
                               ocidir_tag_set(f.d, "via-set", b.digest, 0)));
        assert_error_mentions(man[i].label, man[i].key);
    }

    /* A config with a duplicate key is refused when the image is opened. */
    blob_t cfg = put_text(f.d, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"architecture\":\"arm64\","
                               "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
    check_manifest_case(&f, "config architecture twice", manifest_text(mtm, desc(MT_CONFIG, &cfg), "", ""),
                        OCIDIR_E_FORMAT, "architecture");
    fx_close(&f);
}

static void test_oci_layout_with_duplicate_key_is_format(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_close(&f);
    char *p = keep(tu_join(f.layout, "oci-layout"));
    struct {
        const char *label, *text, *needle;
    } cases[] = {
        {"imageLayoutVersion twice", "{\"imageLayoutVersion\":\"1.0.0\",\"imageLayoutVersion\":\"9.0.0\"}",
         "imageLayoutVersion"},
        /* Reversed values: still the duplicate, not the version, is the problem. */
        {"imageLayoutVersion twice, 9.0.0 first",
         "{\"imageLayoutVersion\":\"9.0.0\",\"imageLayoutVersion\":\"1.0.0\"}", "imageLayoutVersion"},
        {"unknown key twice", "{\"imageLayoutVersion\":\"1.0.0\",\"x\":1,\"x\":2}", "\"x\""},
        {"invalid UTF-8", "{\"imageLayoutVersion\":\"1.0.0\",\"x\":\"\xff\"}", NULL},
        {"lone surrogate escape", "{\"imageLayoutVersion\":\"1.0.0\",\"x\":\"\\ud800\"}", NULL},
    };
    ocidir_t *d = NULL;
    int failures = 0;
    for (size_t i = 0; i < N(cases); i++) {
        tu_write_file(p, cases[i].text, strlen(cases[i].text));
        for (unsigned flags = 0; flags <= OCIDIR_OPEN_RDONLY; flags += OCIDIR_OPEN_RDONLY) {
            d = NULL;
            int rc = ocidir_open(AT_FDCWD, f.layout, flags, &d);
            ocidir_close(d);
            if (!fails_with(S("oci-layout, %s: ocidir_open(flags %u)", cases[i].label, flags), OCIDIR_E_FORMAT,
                            rc)) {
                failures++;
                continue;
            }
            if (cases[i].needle && !strstr(ocidir_last_error(), cases[i].needle)) {
                print_error("oci-layout, %s: message \"%s\" does not name %s\n", cases[i].label,
                            ocidir_last_error(), cases[i].needle);
                failures++;
            }
        }
    }
    assert_int_equal(failures, 0);
    /* The plain file opens. */
    const char *ok = "{\"imageLayoutVersion\":\"1.0.0\"}";
    tu_write_file(p, ok, strlen(ok));
    assert_ocidir(0, ocidir_open(AT_FDCWD, f.layout, 0, &d));
    ocidir_close(d);
}

/* ---- UTF-8 -------------------------------------------------------------- */

static void test_invalid_utf8_is_format(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ""));
    /* Note: simdjson 3.0.1 (the version built against) rejects a lone
     * surrogate escape; the library must report that as FORMAT. */
    struct {
        const char *label, *str;
    } bad[] = {
        {"byte 0xff", "a\xff" "b"},
        {"overlong '/' (c0 af)", "\xc0\xaf"},
        {"overlong NUL (c0 80)", "x\xc0\x80"},
        {"overlong 3-byte (e0 80 af)", "\xe0\x80\xaf"},
        {"UTF-8 encoded surrogate (ed a0 80)", "\xed\xa0\x80"},
        {"truncated sequence", "\xe2\x82"},
        {"lone continuation byte", "\x80"},
        {"beyond U+10FFFF (f4 90 80 80)", "\xf4\x90\x80\x80"},
        {"lone high surrogate escape", "\\ud800"},
        {"lone low surrogate escape", "\\udc00"},
        {"high surrogate escape then a letter", "\\ud800\\u0041"},
        {"high surrogate escape at the end", "x\\ud83d"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        /* In an annotation value of the entry being resolved... */
        write_index(&f, index_text(entry(MT_MANIFEST, m.digest, S("%zu", m.size), "t",
                                         S(",\"x\":\"%s\"", bad[i].str))));
        check_index_case(&f, S("index.json, %s in a value", bad[i].label), OCIDIR_E_FORMAT, "t",
                         OCIDIR_E_FORMAT, NULL);
        /* ...in a key of another entry... */
        write_index(&f, index_text(S("%s,{\"%s\":1}", entry_for(MT_MANIFEST, &m, "t"), bad[i].str)));
        check_index_case(&f, S("index.json, %s in a key", bad[i].label), OCIDIR_E_FORMAT, "t", OCIDIR_E_FORMAT,
                         NULL);
        /* ...and in a manifest annotation. */
        check_manifest_case(&f, S("manifest, %s", bad[i].label),
                            good_manifest(&f, S(",\"annotations\":{\"k\":\"%s\"}", bad[i].str)), OCIDIR_E_FORMAT,
                            NULL);
    }
    /* Valid UTF-8 and a valid surrogate pair are fine. */
    write_index(&f, index_text(entry(MT_MANIFEST, m.digest, S("%zu", m.size), "t",
                                     ",\"x\":\"caf\xc3\xa9 \xf0\x9f\x98\x80 \\ud83d\\ude00 \\u00e9\"")));
    check_index_case(&f, "valid UTF-8", 0, "t", 0, NULL);
    fx_close(&f);
}

/* ---- media-type confusion ----------------------------------------------- */

static void test_media_type_confusion_is_format(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ""));
    char *mdesc = S("{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,\"platform\":%s}", m.digest,
                    m.size, f.plat);
    blob_t ix = put_text(f.d, S("{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[%s]}", mdesc));

    /* A manifest that also has `manifests`. */
    check_manifest_case(&f, "manifest with manifests", good_manifest(&f, S(",\"manifests\":[%s]", mdesc)),
                        OCIDIR_E_FORMAT, "manifests");
    check_manifest_case(&f, "manifest with empty manifests", good_manifest(&f, ",\"manifests\":[]"), OCIDIR_E_FORMAT,
                        "manifests");
    /* A manifest whose mediaType says index. */
    check_manifest_case(&f, "manifest typed as an index",
                        manifest_text(",\"mediaType\":\"" MT_INDEX "\"", f.cfg_desc, f.layer_desc, ""),
                        OCIDIR_E_FORMAT, NULL);
    /* Indexes with `layers` or `config` (CVE-2021-41190). */
    const char *ixdocs[][2] = {
        {"index with layers",
         S("{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[%s],\"layers\":[%s]}", mdesc,
           f.layer_desc)},
        {"index with empty layers",
         S("{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[%s],\"layers\":[]}", mdesc)},
        {"index with config",
         S("{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[%s],\"config\":%s}", mdesc,
           f.cfg_desc)},
        {"index typed as a manifest",
         S("{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\",\"manifests\":[%s]}", mdesc)},
    };
    for (size_t i = 0; i < N(ixdocs); i++)
        check_blob_case(&f, ixdocs[i][0], MT_INDEX, ixdocs[i][1], strlen(ixdocs[i][1]), OCIDIR_E_FORMAT, NULL);

    /* An untyped document with both shapes: neither tag_set nor an image
     * open may guess. */
    const char *both = S("{\"schemaVersion\":2,\"config\":%s,\"layers\":[%s],\"manifests\":[%s]}", f.cfg_desc,
                         f.layer_desc, mdesc);
    blob_t bb = check_blob_case(&f, "untyped manifest+index", MT_MANIFEST, both, strlen(both), OCIDIR_E_FORMAT, NULL);
    check_blob_case(&f, "untyped manifest+index as index", MT_INDEX, both, strlen(both), OCIDIR_E_FORMAT, NULL);
    write_index(&f, index_text(""));
    assert_true(fails_with("tag_set(untyped manifest+index)", OCIDIR_E_FORMAT, ocidir_tag_set(f.d, "both", bb.digest, 0)));

    /* A descriptor that says index for a manifest blob, and the reverse. */
    write_index(&f, index_text(entry_for(MT_INDEX, &m, "t")));
    ocidir_image_t *img = NULL;
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_image_open(f.d, "t", NULL, &img));
    assert_null(img);
    write_index(&f, index_text(entry_for(MT_MANIFEST, &ix, "t")));
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_image_open(f.d, "t", NULL, &img));
    assert_null(img);
    /* The same confusion one level down: an index entry typed as an index
     * that is a manifest. */
    blob_t ix2 = put_text(f.d, S("{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":["
                                 "{\"mediaType\":\"" MT_INDEX "\",\"digest\":\"%s\",\"size\":%zu,\"platform\":%s}]}",
                                 m.digest, m.size, f.plat));
    write_index(&f, index_text(entry_for(MT_INDEX, &ix2, "t")));
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_image_open(f.d, "t", NULL, &img));
    assert_null(img);
    /* The correct typing opens. */
    write_index(&f, index_text(entry_for(MT_INDEX, &ix, "t")));
    assert_ocidir(0, ocidir_image_open(f.d, "t", NULL, &img));
    ocidir_image_close(img);

    /* index.json itself with config or layers, or typed as a manifest. */
    const char *ent = entry_for(MT_MANIFEST, &m, "t");
    write_index(&f, S("{\"schemaVersion\":2,\"manifests\":[%s],\"config\":%s}", ent, f.cfg_desc));
    check_index_case(&f, "index.json with config", OCIDIR_E_FORMAT, "t", OCIDIR_E_FORMAT, NULL);
    write_index(&f, S("{\"schemaVersion\":2,\"manifests\":[%s],\"layers\":[]}", ent));
    check_index_case(&f, "index.json with layers", OCIDIR_E_FORMAT, "t", OCIDIR_E_FORMAT, NULL);
    fx_close(&f);
}

static void test_nested_indexes_beyond_limit_are_refused(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t cur = put_text(f.d, good_manifest(&f, ""));
    const char *cur_mt = MT_MANIFEST;
    /* Three and OCIDIR_MAX_INDEX_DEPTH (16) levels open; one more does not. */
    for (int level = 1; level <= OCIDIR_MAX_INDEX_DEPTH + 1; level++) {
        blob_t next = put_text(f.d, S("{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":["
                                      "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu%s%s}]}",
                                      cur_mt, cur.digest, cur.size, level == 1 ? ",\"platform\":" : "",
                                      level == 1 ? f.plat : ""));
        cur = next;
        cur_mt = MT_INDEX;
        if (level == 3 || level == OCIDIR_MAX_INDEX_DEPTH) {
            write_index(&f, index_text(entry_for(MT_INDEX, &cur, "t")));
            ocidir_image_t *img = NULL;
            assert_ocidir(0, ocidir_image_open(f.d, "t", NULL, &img));
            ocidir_image_close(img);
        }
    }
    write_index(&f, index_text(entry_for(MT_INDEX, &cur, "t")));
    ocidir_image_t *img = NULL;
    int rc = ocidir_image_open(f.d, "t", NULL, &img);
    print_message("17 nested indexes: image_open gives %d (%s): %s\n", rc, ocidir_strerror(rc), ocidir_last_error());
    assert_int_equal(rc, OCIDIR_E_FORMAT);
    assert_null(img);
    fx_close(&f);
}

/* ---- inline data -------------------------------------------------------- */

static void test_inline_data_is_verified(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ""));
    char *sz = S("%zu", m.size);
    char *good64 = base64(m.text, m.size);
    char *other = S("%s", m.text);
    other[m.size - 2] = other[m.size - 2] == 'x' ? 'y' : 'x'; /* same length, other bytes */
    char *other64 = base64(other, m.size);
    char *short64 = base64(m.text, m.size - 1);
    char *long64 = base64(S("%s ", m.text), m.size + 1);

    write_index(&f, index_text(entry(MT_MANIFEST, m.digest, sz, "t", S(",\"data\":\"%s\"", good64))));
    check_index_case(&f, "matching data", 0, "t", 0, NULL);

    write_index(&f, index_text(entry(MT_MANIFEST, m.digest, sz, "t", S(",\"data\":\"%s\"", other64))));
    check_index_case(&f, "data of other bytes", ANY, "t", OCIDIR_E_DIGEST, NULL);
    assert_error_mentions("data of other bytes", tu_hex(m.digest));

    write_index(&f, index_text(entry(MT_MANIFEST, m.digest, sz, "t", S(",\"data\":\"%s\"", short64))));
    check_index_case(&f, "data one byte short", ANY, "t", OCIDIR_E_SIZE, NULL);
    write_index(&f, index_text(entry(MT_MANIFEST, m.digest, sz, "t", S(",\"data\":\"%s\"", long64))));
    check_index_case(&f, "data one byte long", ANY, "t", OCIDIR_E_SIZE, NULL);

    const char *not64[] = {"!!!not base64!!!", "ab=c", "YW Jj", "====", "YWJjZA=x", "YWJ*", "YW\\u0000J"};
    for (size_t i = 0; i < N(not64); i++) {
        write_index(&f, index_text(entry(MT_MANIFEST, m.digest, sz, "t", S(",\"data\":\"%s\"", not64[i]))));
        check_index_case(&f, S("data \"%s\"", not64[i]), ANY, "t", OCIDIR_E_FORMAT, NULL);
    }
    write_index(&f, index_text(entry(MT_MANIFEST, m.digest, sz, "t", ",\"data\":42")));
    check_index_case(&f, "data a number", ANY, "t", OCIDIR_E_FORMAT, NULL);

    /* In the manifest's config descriptor. */
    char *cfg64 = base64(f.cfg.text, f.cfg.size);
    char *cfgbad = S("%s", f.cfg.text);
    cfgbad[0] = ' ';
    char *cfgbad64 = base64(cfgbad, f.cfg.size);
    const char *mtm = ",\"mediaType\":\"" MT_MANIFEST "\"";
    check_manifest_case(&f, "config data matching",
                        manifest_text(mtm,
                                      S("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"%s\",\"size\":%zu,\"data\":\"%s\"}",
                                        f.cfg.digest, f.cfg.size, cfg64),
                                      f.layer_desc, ""),
                        0, NULL);
    check_manifest_case(&f, "config data of other bytes",
                        manifest_text(mtm,
                                      S("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"%s\",\"size\":%zu,\"data\":\"%s\"}",
                                        f.cfg.digest, f.cfg.size, cfgbad64),
                                      f.layer_desc, ""),
                        OCIDIR_E_DIGEST, NULL);
    fx_close(&f);
}

/* ---- tolerated ---------------------------------------------------------- */

static void test_unknown_fields_and_media_types_are_tolerated(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ",\"x-unknown\":{\"a\":[1,true,null,\"s\",1.5e3]}"));
    blob_t thing = put_text(f.d, "{\"whatever\":true}");
    char sha384[OCIDIR_DIGEST_MAX + 40];
    snprintf(sha384, sizeof sha384, "sha384:%s", rep('a', 96));
    write_index(&f, S("{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"x-top\":[{\"deep\":{}}],"
                      "\"annotations\":{\"org.example\":\"v\"},\"manifests\":[%s,%s,%s,%s]}",
                      entry(MT_MANIFEST, m.digest, S("%zu", m.size), "t",
                            ",\"x-entry\":{\"n\":1},\"urls\":[\"https://example.com/x\"],\"artifactType\":"
                            "\"application/vnd.example+json\""),
                      entry("application/vnd.example.unknown.v1+json", thing.digest, S("%zu", thing.size),
                            "unknown-type", ""),
                      entry("application/vnd.example.other", sha384, "123", "other-alg", ""),
                      entry("text/plain", thing.digest, S("%zu", thing.size), NULL, "")));
    check_index_case(&f, "unknown fields and media types", 0, "t", 0, NULL);
    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(f.d, &tags));
    assert_string_equal(tags[0], "t");
    assert_string_equal(tags[1], "unknown-type");
    assert_string_equal(tags[2], "other-alg");
    assert_null(tags[3]);
    ocidir_strv_free(tags);
    /* Writing another tag keeps them all. */
    assert_ocidir(0, ocidir_tag_set(f.d, "added", m.digest, 0));
    check_index_case(&f, "after tag_set", 0, "t", 0, NULL);
    check_index_case(&f, "after tag_set", 0, "added", 0, NULL);
    void *buf = NULL;
    char *ip = keep(tu_join(f.layout, "index.json"));
    ssize_t n = tu_read_file(ip, &buf);
    assert_true(n > 0);
    keep(buf);
    ((char *)buf)[n] = '\0';
    assert_non_null(strstr(buf, "\"x-top\":[{\"deep\":{}}]"));
    assert_non_null(strstr(buf, "application/vnd.example.unknown.v1+json"));
    assert_non_null(strstr(buf, sha384));
    assert_non_null(strstr(buf, "\"x-entry\":{\"n\":1}"));
    assert_non_null(strstr(buf, "\"mediaType\":\"text/plain\""));
    fx_close(&f);
}

/* ---- malformed digests -------------------------------------------------- */

static int n_format, n_bad_digest;

/* FORMAT or BAD_DIGEST (the header allows either for a malformed digest in
 * a descriptor); counted, so the suite reports which the library chose. */
static int digest_code_ok(const char *label, int rc)
{
    n_format += rc == OCIDIR_E_FORMAT;
    n_bad_digest += rc == OCIDIR_E_BAD_DIGEST;
    if (rc == OCIDIR_E_FORMAT || rc == OCIDIR_E_BAD_DIGEST)
        return 1;
    print_error("%s: %d (%s): %s\n", label, rc, ocidir_strerror(rc), ocidir_last_error());
    return 0;
}

static void test_malformed_digest_in_descriptor_is_refused(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ""));
    char *upper = S("sha256:%s", tu_hex(m.digest));
    for (char *p = upper + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    const char *bad[] = {
        "sha256:abc",
        upper,
        S("sha256:%.63s", tu_hex(m.digest)),
        S("%s0", m.digest),
        "sha256:../../../../etc/passwd",
        S("sha256:%s/..", tu_hex(m.digest)),
        "nocolon",
        "",
        ":",
        S("sha256:%.60sxyz!", tu_hex(m.digest)),
        S("SHA256:%s", tu_hex(m.digest)),
        S("sha512:%s", tu_hex(m.digest)),
    };
    for (size_t i = 0; i < N(bad); i++) {
        write_index(&f, index_text(entry(MT_MANIFEST, bad[i], S("%zu", m.size), "t", "")));
        int rc = ocidir_resolve(f.d, "t", NULL, NULL, NULL);
        assert_true(digest_code_ok(S("index.json digest \"%s\": resolve", bad[i]), rc));
        ocidir_image_t *img = NULL;
        rc = ocidir_image_open(f.d, "t", NULL, &img);
        assert_null(img);
        assert_true(digest_code_ok(S("index.json digest \"%s\": image_open", bad[i]), rc));

        const char *mtm = ",\"mediaType\":\"" MT_MANIFEST "\"";
        blob_t b = put_text(f.d, manifest_text(mtm, f.cfg_desc,
                                               S("{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"%s\",\"size\":1}",
                                                 bad[i]),
                                               ""));
        write_index(&f, index_text(entry_for(MT_MANIFEST, &b, "t")));
        rc = ocidir_image_open(f.d, "t", NULL, &img);
        assert_null(img);
        assert_true(digest_code_ok(S("layer digest \"%s\": image_open", bad[i]), rc));

        b = put_text(f.d, manifest_text(mtm, S("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"%s\",\"size\":%zu}",
                                               bad[i], f.cfg.size),
                                         f.layer_desc, ""));
        write_index(&f, index_text(entry_for(MT_MANIFEST, &b, "t")));
        rc = ocidir_image_open(f.d, "t", NULL, &img);
        assert_null(img);
        assert_true(digest_code_ok(S("config digest \"%s\": image_open", bad[i]), rc));
    }
    print_message("malformed digests in descriptors: %d times FORMAT, %d times BAD_DIGEST\n", n_format,
                  n_bad_digest);
    fx_close(&f);
}

static void test_long_unregistered_digest_never_overflows_digest_out(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    char *longdg = S("foo:%s", rep('a', 300));
    write_index(&f, index_text(entry(MT_MANIFEST, longdg, "10", "t", "")));
    struct {
        char dg[OCIDIR_DIGEST_MAX];
        char canary[512];
    } out;
    memset(out.dg, 'D', sizeof out.dg);
    memset(out.canary, 'C', sizeof out.canary);
    int rc = ocidir_resolve(f.d, "t", out.dg, NULL, NULL);
    print_message("300-hex digest of an unregistered algorithm: resolve gives %d (%s): %s\n", rc,
                  ocidir_strerror(rc), ocidir_last_error());
    for (size_t i = 0; i < sizeof out.canary; i++)
        assert_int_equal(out.canary[i], 'C');
    assert_true(rc == OCIDIR_E_UNSUPPORTED || rc == OCIDIR_E_FORMAT || rc == OCIDIR_E_BAD_DIGEST);
    for (size_t i = 0; i < sizeof out.dg; i++)
        assert_int_equal(out.dg[i], 'D');
    ocidir_image_t *img = NULL;
    rc = ocidir_image_open(f.d, "t", NULL, &img);
    assert_null(img);
    assert_true(rc == OCIDIR_E_UNSUPPORTED || rc == OCIDIR_E_FORMAT || rc == OCIDIR_E_BAD_DIGEST);
    fx_close(&f);
}

/* ---- size bounds -------------------------------------------------------- */

static void make_sparse(const char *path, off_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{", 1), 1);
    assert_int_equal(ftruncate(fd, size), 0);
    assert_int_equal(close(fd), 0);
}

static void test_huge_index_json_is_too_large_unread(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, ""));
    char *p = keep(tu_join(f.layout, "index.json"));
    /* 100 MB: beyond the default bound of 64 MiB.  Read whole, it would be
     * FORMAT ('{' and NULs); TOO_LARGE shows it was refused by its size. */
    make_sparse(p, 100 * 1000 * 1000);
    ocidir_t *d = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, f.layout, 0, &d));
    char **tags = NULL;
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_tag_list(d, &tags));
    assert_null(tags);
    assert_error_mentions("100 MB index.json", "index.json");
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_resolve(d, "t", NULL, NULL, NULL));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_tag_set(d, "t", m.digest, 0));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_index_add(d, m.digest));
    ocidir_image_t *img = NULL;
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_image_open(d, "t", NULL, &img));
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 100 * 1000 * 1000);

    /* The default bound exactly: read and parsed (FORMAT); one byte over:
     * TOO_LARGE. */
    make_sparse(p, (off_t)64 << 20);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_tag_list(d, &tags));
    make_sparse(p, ((off_t)64 << 20) + 1);
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_tag_list(d, &tags));
    /* A raised bound reads it (and finds it malformed). */
    assert_ocidir(0, ocidir_set_json_limit(d, (size_t)200 << 20));
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_tag_list(d, &tags));
    ocidir_close(d);
    fx_close(&f);
}

static void test_documents_over_json_limit_are_too_large(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    blob_t m = put_text(f.d, good_manifest(&f, S(",\"annotations\":{\"pad\":\"%s\"}", rep('p', 4000))));
    write_index(&f, index_text(entry_for(MT_MANIFEST, &m, "t")));
    assert_ocidir(0, ocidir_set_json_limit(f.d, 2048));
    ocidir_image_t *img = NULL;
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_image_open(f.d, "t", NULL, &img));
    assert_null(img);
    assert_error_mentions("manifest over the bound", tu_hex(m.digest));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_image_open(f.d, m.digest, NULL, &img));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_resolve(f.d, m.digest, NULL, NULL, NULL));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_tag_set(f.d, "u", m.digest, 0));
    /* Resolving the tag reads no blob: it works. */
    assert_ocidir(0, ocidir_resolve(f.d, "t", NULL, NULL, NULL));
    assert_ocidir(0, ocidir_set_json_limit(f.d, 0));
    assert_ocidir(0, ocidir_image_open(f.d, "t", NULL, &img));
    ocidir_image_close(img);

    /* A config over the bound. */
    char *pl = S("%s", f.plat);
    pl[strlen(pl) - 1] = '\0';
    blob_t cfg = put_text(f.d, S("%s,\"config\":{\"Env\":[\"PAD=%s\"]},\"rootfs\":{\"type\":\"layers\","
                                 "\"diff_ids\":[]}}",
                                 pl, rep('e', 5000)));
    blob_t m2 = put_text(f.d, manifest_text(",\"mediaType\":\"" MT_MANIFEST "\"", desc(MT_CONFIG, &cfg), "", ""));
    write_index(&f, index_text(entry_for(MT_MANIFEST, &m2, "t")));
    assert_ocidir(0, ocidir_set_json_limit(f.d, 4096));
    img = NULL;
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_image_open(f.d, "t", NULL, &img));
    assert_null(img);
    assert_error_mentions("config over the bound", tu_hex(cfg.digest));
    assert_ocidir(0, ocidir_set_json_limit(f.d, 0));
    assert_ocidir(0, ocidir_image_open(f.d, "t", NULL, &img));
    ocidir_image_close(img);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_baseline_documents_are_accepted),
        TEARDOWN(test_truncated_documents_are_format),
        TEARDOWN(test_deep_nesting_is_format_without_crash),
        TEARDOWN(test_wrong_types_in_index_json_are_format),
        TEARDOWN(test_wrong_types_in_manifest_are_format),
        TEARDOWN(test_negative_and_oversized_sizes_are_format),
        TEARDOWN(test_duplicate_keys_are_format_naming_the_key),
        TEARDOWN(test_oci_layout_with_duplicate_key_is_format),
        TEARDOWN(test_invalid_utf8_is_format),
        TEARDOWN(test_media_type_confusion_is_format),
        TEARDOWN(test_nested_indexes_beyond_limit_are_refused),
        TEARDOWN(test_inline_data_is_verified),
        TEARDOWN(test_unknown_fields_and_media_types_are_tolerated),
        TEARDOWN(test_malformed_digest_in_descriptor_is_refused),
        TEARDOWN(test_long_unregistered_digest_never_overflows_digest_out),
        TEARDOWN(test_huge_index_json_is_too_large_unread),
        TEARDOWN(test_documents_over_json_limit_are_too_large),
    };
    return cmocka_run_group_tests_name("json_hostile", tests, NULL, NULL);
}
