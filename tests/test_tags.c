/* Index and tags: listing, resolving, setting, moving and removing tags in
 * index.json; the tag grammar; what tag_set accepts; read-only handles;
 * foreign index.json files (ambiguous tags, unknown fields and media types);
 * canonical output; the lock file; the JSON size bound; concurrent writers
 * (processes and threads); an index of 100,000 entries. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEARDOWN(f) cmocka_unit_test_teardown(f, tu_teardown_keep)
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define REF_NAME "org.opencontainers.image.ref.name"

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    char digest[OCIDIR_DIGEST_MAX];
    uint64_t size;
} blob_t;

static blob_t put_text(ocidir_t *d, const char *text)
{
    blob_t b;
    b.size = strlen(text);
    assert_ocidir(0, ocidir_blob_put(d, text, b.size, b.digest));
    return b;
}

/* A config blob (one per layout is enough; content fixed). */
static blob_t put_config(ocidir_t *d)
{
    return put_text(d, "{\"architecture\":\"amd64\",\"config\":{},\"os\":\"linux\","
                       "\"rootfs\":{\"diff_ids\":[],\"type\":\"layers\"}}");
}

/* An image manifest blob, distinct per seed (an annotation carries it). */
static blob_t put_manifest(ocidir_t *d, unsigned seed)
{
    blob_t cfg = put_config(d);
    char *m = NULL;
    assert_true(asprintf(&m,
                         "{\"annotations\":{\"seed\":\"%u\"},\"config\":{\"digest\":\"%s\",\"mediaType\":\"" MT_CONFIG
                         "\",\"size\":%llu},\"layers\":[],\"mediaType\":\"" MT_MANIFEST "\",\"schemaVersion\":2}",
                         seed, cfg.digest, (unsigned long long)cfg.size) >= 0);
    blob_t b = put_text(d, m);
    free(m);
    return b;
}

/* An image index blob listing one manifest. */
static blob_t put_image_index(ocidir_t *d, const blob_t *manifest)
{
    char *m = NULL;
    assert_true(asprintf(&m,
                         "{\"manifests\":[{\"digest\":\"%s\",\"mediaType\":\"" MT_MANIFEST
                         "\",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"size\":%llu}],"
                         "\"mediaType\":\"" MT_INDEX "\",\"schemaVersion\":2}",
                         manifest->digest, (unsigned long long)manifest->size) >= 0);
    blob_t b = put_text(d, m);
    free(m);
    return b;
}

/* index.json as a NUL-terminated malloc'd string. */
static char *read_index(const char *layout, size_t *len_out)
{
    char *p = tu_join(layout, "index.json");
    void *buf = NULL;
    ssize_t n = tu_read_file(p, &buf);
    free(p);
    assert_true(n >= 0);
    ((char *)buf)[n] = '\0';
    if (len_out)
        *len_out = (size_t)n;
    return buf;
}

static void write_index(const char *layout, const char *text)
{
    char *p = tu_join(layout, "index.json");
    tu_write_file(p, text, strlen(text));
    free(p);
}

static ino_t inode_of(const char *layout, const char *name)
{
    char *p = tu_join(layout, name);
    struct stat st;
    int rc = stat(p, &st);
    if (rc != 0)
        print_error("stat %s: %s\n", p, strerror(errno));
    free(p);
    assert_int_equal(rc, 0);
    return st.st_ino;
}

static void assert_index_is(const char *layout, const char *before, size_t before_len)
{
    size_t len;
    char *now = read_index(layout, &len);
    if (len != before_len || memcmp(now, before, len) != 0)
        print_error("index.json changed:\nbefore: %s\nafter:  %s\n", before, now);
    assert_int_equal(len, before_len);
    assert_memory_equal(now, before, len);
    free(now);
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0, l = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + l, needle))
        n++;
    return n;
}

static size_t strv_len(char **v)
{
    size_t n = 0;
    while (v[n])
        n++;
    return n;
}

static void assert_tags(ocidir_t *d, const char *const *expected, size_t n)
{
    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    assert_non_null(tags);
    size_t got = strv_len(tags);
    if (got != n) {
        print_error("tag_list gives %zu tags, expected %zu:\n", got, n);
        for (size_t i = 0; i < got; i++)
            print_error("  %s\n", tags[i]);
    }
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(tags[i], expected[i]);
    ocidir_strv_free(tags);
}

static void assert_resolves(ocidir_t *d, const char *ref, const blob_t *b, const char *media_type)
{
    char dg[OCIDIR_DIGEST_MAX] = "";
    char *mt = NULL;
    uint64_t size = 0;
    assert_ocidir(0, ocidir_resolve(d, ref, dg, &mt, &size));
    assert_string_equal(dg, b->digest);
    assert_non_null(mt);
    assert_string_equal(mt, media_type);
    assert_int_equal(size, b->size);
    ocidir_free(mt);
}

/* resolve fails with `code`, leaving every out-parameter untouched. */
static void assert_resolve_fails(ocidir_t *d, const char *ref, int code)
{
    char dg[OCIDIR_DIGEST_MAX] = "untouched";
    char *mt = (char *)"untouched";
    uint64_t size = 77;
    assert_ocidir(code, ocidir_resolve(d, ref, dg, &mt, &size));
    assert_string_equal(dg, "untouched");
    assert_string_equal(mt, "untouched");
    assert_int_equal(size, 77);
}

static void assert_error_mentions(const char *needle)
{
    const char *e = ocidir_last_error();
    if (!strstr(e, needle))
        print_error("last error \"%s\" does not mention \"%s\"\n", e, needle);
    assert_non_null(strstr(e, needle));
}

/* Wait for a child, at most timeout_s seconds (then kill it and fail). */
static int wait_child(pid_t pid, unsigned timeout_s)
{
    int status = 0;
    for (unsigned i = 0; i < timeout_s * 100; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        assert_true(r >= 0);
        if (r == pid)
            return status;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    print_error("process %d still running after %u s (deadlock?)\n", (int)pid, timeout_s);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail();
    return -1;
}

/* ---- canonical JSON check ------------------------------------------------
 * A strict RFC 8259 reader that also demands the canonical form the library
 * writes: no whitespace outside strings, object keys strictly ascending
 * bytewise (so no duplicates), no escapes other than \" \\ and control
 * characters. */

typedef struct {
    const unsigned char *p, *e;
    const char *why;
    size_t at;
    const unsigned char *start;
} cj_t;

static int cj_fail(cj_t *c, const char *why)
{
    if (!c->why) {
        c->why = why;
        c->at = (size_t)(c->p - c->start);
    }
    return 0;
}

static void cj_put_utf8(unsigned cp, char *out, size_t *n, size_t cap)
{
    unsigned char b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    for (size_t i = 0; i < k && *n < cap; i++)
        out[(*n)++] = (char)b[i];
}

/* A string; its decoded bytes go to out (truncated at cap) when out != NULL. */
static int cj_string(cj_t *c, char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    if (c->p >= c->e || *c->p != '"')
        return cj_fail(c, "expected a string");
    c->p++;
    while (c->p < c->e && *c->p != '"') {
        unsigned char ch = *c->p;
        if (ch < 0x20)
            return cj_fail(c, "raw control character in a string");
        if (ch == '\\') {
            if (c->e - c->p < 2)
                return cj_fail(c, "truncated escape");
            unsigned char x = c->p[1];
            unsigned cp;
            c->p += 2;
            switch (x) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                if (c->e - c->p < 4)
                    return cj_fail(c, "truncated \\u escape");
                char hex[5] = {(char)c->p[0], (char)c->p[1], (char)c->p[2], (char)c->p[3], 0};
                char *end;
                cp = (unsigned)strtoul(hex, &end, 16);
                if (end != hex + 4)
                    return cj_fail(c, "bad \\u escape");
                if (cp >= 0x20)
                    return cj_fail(c, "\\u escape of a character that needs none (not canonical)");
                c->p += 4;
                break;
            }
            default:
                return cj_fail(c, "escape that canonical JSON does not use (\\/ or invalid)");
            }
            if (out)
                cj_put_utf8(cp, out, &n, cap);
            continue;
        }
        if (out && n < cap)
            out[n++] = (char)ch;
        c->p++;
    }
    if (c->p >= c->e)
        return cj_fail(c, "unterminated string");
    c->p++;
    if (len)
        *len = n;
    return 1;
}

static int cj_number(cj_t *c)
{
    const unsigned char *s = c->p;
    if (c->p < c->e && *c->p == '-')
        c->p++;
    if (c->p >= c->e)
        return cj_fail(c, "truncated number");
    if (*c->p == '0')
        c->p++;
    else if (*c->p >= '1' && *c->p <= '9')
        while (c->p < c->e && *c->p >= '0' && *c->p <= '9')
            c->p++;
    else
        return cj_fail(c, "bad number");
    if (c->p < c->e && *c->p == '.') {
        c->p++;
        if (c->p >= c->e || *c->p < '0' || *c->p > '9')
            return cj_fail(c, "bad fraction");
        while (c->p < c->e && *c->p >= '0' && *c->p <= '9')
            c->p++;
    }
    if (c->p < c->e && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->e && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (c->p >= c->e || *c->p < '0' || *c->p > '9')
            return cj_fail(c, "bad exponent");
        while (c->p < c->e && *c->p >= '0' && *c->p <= '9')
            c->p++;
    }
    return c->p > s;
}

static int cj_value(cj_t *c, int depth);

static int cj_keycmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int r = memcmp(a, b, m);
    if (r)
        return r;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

static int cj_object(cj_t *c, int depth)
{
    c->p++; /* { */
    if (c->p < c->e && *c->p == '}') {
        c->p++;
        return 1;
    }
    char prev[512], key[512];
    size_t prevlen = 0, keylen = 0;
    int first = 1;
    for (;;) {
        if (!cj_string(c, key, sizeof key, &keylen))
            return 0;
        if (!first && cj_keycmp(prev, prevlen, key, keylen) >= 0)
            return cj_fail(c, "object keys not strictly ascending");
        first = 0;
        memcpy(prev, key, keylen);
        prevlen = keylen;
        if (c->p >= c->e || *c->p != ':')
            return cj_fail(c, "expected ':' (whitespace?)");
        c->p++;
        if (!cj_value(c, depth + 1))
            return 0;
        if (c->p < c->e && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->e && *c->p == '}') {
            c->p++;
            return 1;
        }
        return cj_fail(c, "expected ',' or '}' (whitespace?)");
    }
}

static int cj_array(cj_t *c, int depth)
{
    c->p++; /* [ */
    if (c->p < c->e && *c->p == ']') {
        c->p++;
        return 1;
    }
    for (;;) {
        if (!cj_value(c, depth + 1))
            return 0;
        if (c->p < c->e && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->e && *c->p == ']') {
            c->p++;
            return 1;
        }
        return cj_fail(c, "expected ',' or ']' (whitespace?)");
    }
}

static int cj_lit(cj_t *c, const char *lit)
{
    size_t l = strlen(lit);
    if ((size_t)(c->e - c->p) < l || memcmp(c->p, lit, l) != 0)
        return cj_fail(c, "bad literal");
    c->p += l;
    return 1;
}

static int cj_value(cj_t *c, int depth)
{
    if (depth > 200)
        return cj_fail(c, "too deep");
    if (c->p >= c->e)
        return cj_fail(c, "truncated");
    switch (*c->p) {
    case '{': return cj_object(c, depth);
    case '[': return cj_array(c, depth);
    case '"': return cj_string(c, NULL, 0, NULL);
    case 't': return cj_lit(c, "true");
    case 'f': return cj_lit(c, "false");
    case 'n': return cj_lit(c, "null");
    default:
        if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
            return cj_number(c);
        return cj_fail(c, "unexpected character (whitespace outside a string?)");
    }
}

static int is_canonical_json(const char *text, size_t len, int report)
{
    cj_t c = {(const unsigned char *)text, (const unsigned char *)text + len, NULL, 0,
              (const unsigned char *)text};
    int ok = cj_value(&c, 0);
    if (ok && c.p != c.e)
        ok = cj_fail(&c, "trailing bytes after the document");
    if (!ok && report)
        print_error("not canonical JSON (%s) at offset %zu: ...%.60s\n", c.why, c.at, text + c.at);
    return ok;
}

static void assert_canonical_json(const char *text, size_t len)
{
    assert_true(is_canonical_json(text, len, 1));
}

/* The checker itself tells canonical from non-canonical text. */
static void test_canonical_checker_self_check(void **state)
{
    (void)state;
    const char *good[] = {"{}", "[]", "{\"a\":1,\"b\":[true,false,null,\"x\\\"y\"],\"c\":{\"a\":-1.5e3}}",
                          "{\"A\":1,\"a\":2}", "\"\\n\\u0001\xc3\xa9\""};
    const char *bad[] = {"{ }", "{\"a\": 1}", "{\"b\":1,\"a\":2}", "{\"a\":1,\"a\":1}", "[1,2]\n", "\n{}",
                         "{\"a\":\"\\/\"}", "{\"a\":\"\\u0041\"}", "{\"a\":01}", "{\"a\":1", "[1,]",
                         "{\"a\":{\"c\":1,\"b\":2}}"};
    for (size_t i = 0; i < N(good); i++) {
        if (!is_canonical_json(good[i], strlen(good[i]), 1))
            print_error("checker refused canonical %s\n", good[i]);
        assert_true(is_canonical_json(good[i], strlen(good[i]), 0));
    }
    for (size_t i = 0; i < N(bad); i++) {
        if (is_canonical_json(bad[i], strlen(bad[i]), 0))
            print_error("checker accepted non-canonical %s\n", bad[i]);
        assert_false(is_canonical_json(bad[i], strlen(bad[i]), 0));
    }
}

static void assert_index_canonical(const char *layout)
{
    size_t len;
    char *t = read_index(layout, &len);
    assert_canonical_json(t, len);
    free(t);
}

/* ---- basic round trips -------------------------------------------------- */

static void test_fresh_layout_lists_no_tags(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    assert_non_null(tags);
    assert_null(tags[0]);
    ocidir_strv_free(tags);
    assert_resolve_fails(d, "latest", OCIDIR_E_NOT_FOUND);
    assert_error_mentions("latest");
    ocidir_close(d);
}

static void test_set_list_resolve_round_trip(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m = put_manifest(d, 1);
    blob_t m2 = put_manifest(d, 2);
    blob_t ix = put_image_index(d, &m2);
    assert_ocidir(0, ocidir_tag_set(d, "latest", m.digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "v1.0", m.digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "multi/arch", ix.digest, 0));
    const char *want[] = {"latest", "v1.0", "multi/arch"};
    assert_tags(d, want, N(want));
    assert_resolves(d, "latest", &m, MT_MANIFEST);
    assert_resolves(d, "v1.0", &m, MT_MANIFEST);
    assert_resolves(d, "multi/arch", &ix, MT_INDEX);

    /* Every out-parameter may be NULL. */
    assert_ocidir(0, ocidir_resolve(d, "latest", NULL, NULL, NULL));

    /* A second handle sees the same (the change is in the file). */
    ocidir_t *d2 = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d2));
    assert_tags(d2, want, N(want));
    assert_resolves(d2, "multi/arch", &ix, MT_INDEX);
    ocidir_close(d2);

    /* The file itself carries the tags as ref.name annotations. */
    char *t = read_index(layout, NULL);
    assert_non_null(strstr(t, "\"" REF_NAME "\":\"latest\""));
    assert_non_null(strstr(t, m.digest));
    free(t);
    ocidir_close(d);
}

static void test_tag_set_again_moves_tag_in_place(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m1 = put_manifest(d, 1), m2 = put_manifest(d, 2);
    assert_ocidir(0, ocidir_tag_set(d, "a", m1.digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "b", m1.digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "c", m1.digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "b", m2.digest, 0));

    const char *want[] = {"a", "b", "c"};
    assert_tags(d, want, N(want));
    assert_resolves(d, "a", &m1, MT_MANIFEST);
    assert_resolves(d, "b", &m2, MT_MANIFEST);
    assert_resolves(d, "c", &m1, MT_MANIFEST);

    /* In the file: still three entries, b between a and c, pointing at m2. */
    char *t = read_index(layout, NULL);
    const char *pa = strstr(t, "\"" REF_NAME "\":\"a\"");
    const char *pb = strstr(t, "\"" REF_NAME "\":\"b\"");
    const char *pc = strstr(t, "\"" REF_NAME "\":\"c\"");
    const char *p2 = strstr(t, m2.digest);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_non_null(pc);
    assert_non_null(p2);
    assert_true(pa < pb && pb < pc);
    assert_true(pa < p2 && p2 < pc); /* m2's entry is the middle one */
    assert_int_equal(count_str(t, m1.digest), 2);
    assert_int_equal(count_str(t, m2.digest), 1);
    assert_int_equal(count_str(t, "\"" REF_NAME "\""), 3);
    free(t);

    /* Setting a tag to where it already points changes nothing visible. */
    assert_ocidir(0, ocidir_tag_set(d, "b", m2.digest, 0));
    assert_tags(d, want, N(want));
    ocidir_close(d);
}

static void test_noreplace_on_existing_tag_is_exists_and_index_untouched(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m1 = put_manifest(d, 1), m2 = put_manifest(d, 2);
    assert_ocidir(0, ocidir_tag_set(d, "keep", m1.digest, OCIDIR_TAG_NOREPLACE));
    size_t len;
    char *before = read_index(layout, &len);
    ino_t ino = inode_of(layout, "index.json");

    assert_ocidir(OCIDIR_E_EXISTS, ocidir_tag_set(d, "keep", m2.digest, OCIDIR_TAG_NOREPLACE));
    assert_error_mentions("keep");
    /* Even to the same digest: the tag exists. */
    assert_ocidir(OCIDIR_E_EXISTS, ocidir_tag_set(d, "keep", m1.digest, OCIDIR_TAG_NOREPLACE));
    assert_index_is(layout, before, len);
    assert_int_equal(inode_of(layout, "index.json"), ino);
    assert_resolves(d, "keep", &m1, MT_MANIFEST);

    /* A new tag with NOREPLACE is simply set. */
    assert_ocidir(0, ocidir_tag_set(d, "other", m2.digest, OCIDIR_TAG_NOREPLACE));
    assert_resolves(d, "other", &m2, MT_MANIFEST);
    free(before);
    ocidir_close(d);
}

static void test_unknown_flag_is_invalid_and_index_untouched(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m = put_manifest(d, 1);
    size_t len;
    char *before = read_index(layout, &len);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_set(d, "x", m.digest, 1u << 7));
    assert_index_is(layout, before, len);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_set(NULL, "x", m.digest, 0));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_set(d, NULL, m.digest, 0));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_set(d, "x", NULL, 0));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_list(d, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_list(NULL, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_resolve(d, NULL, NULL, NULL, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_remove(d, NULL));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_index_add(d, NULL));
    assert_index_is(layout, before, len);
    free(before);
    ocidir_close(d);
}

static void test_remove_deletes_entry_and_keeps_others(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m1 = put_manifest(d, 1), m2 = put_manifest(d, 2), m3 = put_manifest(d, 3);
    assert_ocidir(0, ocidir_tag_set(d, "one", m1.digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "two", m2.digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "three", m3.digest, 0));

    assert_ocidir(0, ocidir_tag_remove(d, "two"));
    assert_resolve_fails(d, "two", OCIDIR_E_NOT_FOUND);
    const char *want[] = {"one", "three"};
    assert_tags(d, want, N(want));
    assert_resolves(d, "one", &m1, MT_MANIFEST);
    assert_resolves(d, "three", &m3, MT_MANIFEST);

    /* The whole entry went; the blob stayed. */
    char *t = read_index(layout, NULL);
    assert_null(strstr(t, m2.digest));
    free(t);
    assert_ocidir(0, ocidir_blob_stat(d, m2.digest, NULL));

    /* Removing it again, or a tag never set: NOT_FOUND naming the tag. */
    size_t len;
    char *before = read_index(layout, &len);
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_tag_remove(d, "two"));
    assert_error_mentions("two");
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_tag_remove(d, "never-set"));
    assert_error_mentions("never-set");
    assert_index_is(layout, before, len);
    free(before);
    ocidir_close(d);
}

static void test_index_add_adds_one_untagged_entry(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m = put_manifest(d, 1), tagged = put_manifest(d, 2);
    assert_ocidir(0, ocidir_index_add(d, m.digest));
    char *t = read_index(layout, NULL);
    assert_int_equal(count_str(t, m.digest), 1);
    assert_null(strstr(t, REF_NAME));
    free(t);

    /* Twice: still one entry, file unchanged. */
    size_t len;
    char *before = read_index(layout, &len);
    assert_ocidir(0, ocidir_index_add(d, m.digest));
    assert_index_is(layout, before, len);
    free(before);

    /* It is no tag. */
    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    assert_null(tags[0]);
    ocidir_strv_free(tags);

    /* A tagged entry of a digest does not count as its untagged entry. */
    assert_ocidir(0, ocidir_tag_set(d, "t", tagged.digest, 0));
    assert_ocidir(0, ocidir_index_add(d, tagged.digest));
    assert_ocidir(0, ocidir_index_add(d, tagged.digest));
    t = read_index(layout, NULL);
    assert_int_equal(count_str(t, tagged.digest), 2);
    assert_int_equal(count_str(t, m.digest), 1);
    free(t);
    assert_resolves(d, "t", &tagged, MT_MANIFEST);

    /* Like tag_set: missing blob NOT_FOUND, non-manifest FORMAT. */
    char missing[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, "nope", 4, missing));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_index_add(d, missing));
    blob_t cfg = put_config(d);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_index_add(d, cfg.digest));
    ocidir_close(d);
}

static void test_resolve_by_digest_reads_media_type_from_blob(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m = put_manifest(d, 1);
    blob_t ix = put_image_index(d, &m);
    /* Neither is in index.json: resolution by digest reads the blob. */
    assert_resolves(d, m.digest, &m, MT_MANIFEST);
    assert_resolves(d, ix.digest, &ix, MT_INDEX);

    /* A manifest without mediaType is recognised by its config. */
    blob_t cfg = put_config(d);
    char *text = NULL;
    assert_true(asprintf(&text,
                         "{\"config\":{\"digest\":\"%s\",\"mediaType\":\"" MT_CONFIG
                         "\",\"size\":%llu},\"layers\":[],\"schemaVersion\":2}",
                         cfg.digest, (unsigned long long)cfg.size) >= 0);
    blob_t bare = put_text(d, text);
    free(text);
    assert_resolves(d, bare.digest, &bare, MT_MANIFEST);

    /* Absent digest: NOT_FOUND naming it. */
    char missing[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, "absent", 6, missing));
    assert_resolve_fails(d, missing, OCIDIR_E_NOT_FOUND);
    assert_error_mentions(tu_hex(missing));

    /* A digest of a blob that is no manifest: FORMAT. */
    assert_resolve_fails(d, cfg.digest, OCIDIR_E_FORMAT);

    /* A ref that is neither tag nor digest. */
    assert_resolve_fails(d, "not a ref", OCIDIR_E_INVALID);
    assert_resolve_fails(d, "", OCIDIR_E_INVALID);
    ocidir_close(d);
}

/* ---- tag grammar --------------------------------------------------------- */

static const char *const valid_tags[] = {
    "latest", "v1.0", "a/b/c", "x--y", "a:b", "a@b", "a+b", "a.b", "a_b", "A", "0",
    "Z9", "a-b-c", "a/b--c/d", "1.2.3-rc.1+build.5",
    "a123456789012345678901234567890123456789012345678901234567890123456789",
};
static const char *const invalid_tags[] = {
    "",   "-a",  "a-",  "a//b", "a b",  "a\n", "\xc3\xa9", "a/", "/a", "a..b", ".a",
    "a.", "a---b", "a.-b", "a__b", "a/-b", ":a", "a\t", "a\\b", "a*b", "a?b", "..", "../x", "a\x01",
};

static void test_tag_validate_follows_ref_name_grammar(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(valid_tags); i++) {
        int rc = ocidir_tag_validate(valid_tags[i]);
        if (rc != 0)
            print_error("valid tag \"%s\" refused: %s\n", valid_tags[i], ocidir_last_error());
        assert_int_equal(rc, 0);
    }
    for (size_t i = 0; i < N(invalid_tags); i++) {
        int rc = ocidir_tag_validate(invalid_tags[i]);
        if (rc != OCIDIR_E_INVALID)
            print_error("invalid tag \"%s\" gave %d\n", invalid_tags[i], rc);
        assert_int_equal(rc, OCIDIR_E_INVALID);
    }
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_validate(NULL));
}

static void test_tag_set_refuses_invalid_tags_and_leaves_index(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m = put_manifest(d, 1);
    assert_ocidir(0, ocidir_tag_set(d, "base", m.digest, 0));
    size_t len;
    char *before = read_index(layout, &len);
    ino_t ino = inode_of(layout, "index.json");
    for (size_t i = 0; i < N(invalid_tags); i++) {
        int rc = ocidir_tag_set(d, invalid_tags[i], m.digest, 0);
        if (rc != OCIDIR_E_INVALID)
            print_error("tag_set(\"%s\") gave %d: %s\n", invalid_tags[i], rc, ocidir_last_error());
        assert_int_equal(rc, OCIDIR_E_INVALID);
        /* Neither removable: the ref is invalid. */
        assert_int_equal(ocidir_tag_remove(d, invalid_tags[i]), OCIDIR_E_INVALID);
    }
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_set(d, "a..b", m.digest, 0));
    assert_error_mentions("a..b");
    assert_index_is(layout, before, len);
    assert_int_equal(inode_of(layout, "index.json"), ino);
    free(before);

    /* Every valid one is accepted and resolves. */
    for (size_t i = 0; i < N(valid_tags); i++) {
        int rc = ocidir_tag_set(d, valid_tags[i], m.digest, 0);
        if (rc != 0)
            print_error("tag_set(\"%s\"): %s\n", valid_tags[i], ocidir_last_error());
        assert_int_equal(rc, 0);
        assert_resolves(d, valid_tags[i], &m, MT_MANIFEST);
    }
    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    assert_int_equal(strv_len(tags), N(valid_tags) + 1);
    ocidir_strv_free(tags);
    ocidir_close(d);
}

/* "sha256:<64 hex>" fits the ref.name grammar, but resolve takes it for the
 * digest it spells: writing it as a tag (tag_set or a builder commit) is
 * refused, and a foreign index.json carrying one still resolves as a digest. */
static void test_tag_spelled_like_a_digest_is_refused(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m1 = put_manifest(d, 1), m2 = put_manifest(d, 2);
    assert_ocidir(0, ocidir_tag_validate(m2.digest)); /* the grammar admits it */
    assert_ocidir(0, ocidir_tag_set(d, "base", m1.digest, 0));
    size_t len;
    char *before = read_index(layout, &len);
    assert_ocidir(OCIDIR_E_INVALID, ocidir_tag_set(d, m2.digest, m1.digest, 0));
    assert_error_mentions(m2.digest);
    assert_error_mentions("form of a digest");
    assert_index_is(layout, before, len);

    ocidir_builder_t *b = NULL;
    assert_ocidir(0, ocidir_builder_new(d, NULL, &b));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_builder_commit(b, m2.digest, 0, NULL));
    ocidir_builder_free(b);
    assert_index_is(layout, before, len);
    free(before);

    /* Spelled with an unregistered algorithm it is an ordinary tag. */
    assert_ocidir(0, ocidir_tag_set(d, "md5:0123", m2.digest, 0));
    assert_resolves(d, "md5:0123", &m2, MT_MANIFEST);

    /* Written by another tool: listed, but resolving it finds the blob it spells. */
    char *text = NULL;
    assert_true(asprintf(&text,
                         "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":["
                         "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%llu,"
                         "\"annotations\":{\"" REF_NAME "\":\"%s\"}}]}",
                         m1.digest, (unsigned long long)m1.size, m2.digest) >= 0);
    write_index(layout, text);
    free(text);
    const char *want[] = {m2.digest};
    assert_tags(d, want, N(want));
    assert_resolves(d, m2.digest, &m2, MT_MANIFEST);
    ocidir_close(d);
}

/* ---- what a tag may point at -------------------------------------------- */

static void test_tag_set_refuses_blobs_that_are_not_manifests(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    size_t len;
    char *before = read_index(layout, &len);

    unsigned char rnd[4096];
    tu_fill(rnd, sizeof rnd, 42);
    char layer[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_blob_put(d, rnd, sizeof rnd, layer));
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_tag_set(d, "layer", layer, 0));
    assert_error_mentions(tu_hex(layer));

    blob_t cfg = put_config(d);
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_tag_set(d, "config", cfg.digest, 0));
    assert_error_mentions(tu_hex(cfg.digest));

    blob_t arr = put_text(d, "[1,2,3]");
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_tag_set(d, "array", arr.digest, 0));
    blob_t empty = put_text(d, "");
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_tag_set(d, "empty", empty.digest, 0));
    blob_t obj = put_text(d, "{}");
    assert_ocidir(OCIDIR_E_FORMAT, ocidir_tag_set(d, "emptyobj", obj.digest, 0));

    /* A missing blob: NOT_FOUND naming the digest. */
    char missing[OCIDIR_DIGEST_MAX];
    assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, "gone", 4, missing));
    assert_ocidir(OCIDIR_E_NOT_FOUND, ocidir_tag_set(d, "missing", missing, 0));
    assert_error_mentions(tu_hex(missing));

    /* A malformed digest. */
    assert_ocidir(OCIDIR_E_BAD_DIGEST, ocidir_tag_set(d, "bad", "sha256:1234", 0));

    assert_index_is(layout, before, len);
    free(before);
    ocidir_close(d);
}

static void test_readonly_handle_refuses_set_remove_add(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m = put_manifest(d, 1);
    assert_ocidir(0, ocidir_tag_set(d, "t", m.digest, 0));
    ocidir_close(d);
    size_t len;
    char *before = read_index(layout, &len);

    ocidir_t *ro = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &ro));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_tag_set(ro, "new", m.digest, 0));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_tag_set(ro, "t", m.digest, 0));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_tag_remove(ro, "t"));
    assert_ocidir(OCIDIR_E_READONLY, ocidir_index_add(ro, m.digest));
    /* Reads work. */
    assert_resolves(ro, "t", &m, MT_MANIFEST);
    ocidir_close(ro);
    assert_index_is(layout, before, len);
    free(before);
}

/* ---- foreign index.json ------------------------------------------------- */

static void test_duplicate_tag_in_foreign_index_is_ambiguous(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m1 = put_manifest(d, 1), m2 = put_manifest(d, 2), m3 = put_manifest(d, 3);
    char *text = NULL;
    assert_true(asprintf(&text,
                         "{\n  \"schemaVersion\": 2,\n  \"manifests\": [\n"
                         "    {\"mediaType\": \"" MT_MANIFEST "\", \"digest\": \"%s\", \"size\": %llu,\n"
                         "     \"annotations\": {\"" REF_NAME "\": \"dup\"}},\n"
                         "    {\"mediaType\": \"" MT_MANIFEST "\", \"digest\": \"%s\", \"size\": %llu,\n"
                         "     \"annotations\": {\"" REF_NAME "\": \"fine\"}},\n"
                         "    {\"mediaType\": \"" MT_MANIFEST "\", \"digest\": \"%s\", \"size\": %llu,\n"
                         "     \"annotations\": {\"" REF_NAME "\": \"dup\"}}\n"
                         "  ]\n}\n",
                         m1.digest, (unsigned long long)m1.size, m3.digest, (unsigned long long)m3.size,
                         m2.digest, (unsigned long long)m2.size) >= 0);
    write_index(layout, text);
    size_t len = strlen(text);

    assert_resolve_fails(d, "dup", OCIDIR_E_AMBIGUOUS);
    assert_error_mentions(m1.digest);
    assert_error_mentions(m2.digest);
    assert_error_mentions("dup");

    assert_ocidir(OCIDIR_E_AMBIGUOUS, ocidir_tag_set(d, "dup", m3.digest, 0));
    assert_error_mentions("dup");
    assert_ocidir(OCIDIR_E_AMBIGUOUS, ocidir_tag_remove(d, "dup"));
    assert_error_mentions("dup");
    assert_index_is(layout, text, len);

    /* Listed once; the other tag resolves. */
    const char *want[] = {"dup", "fine"};
    assert_tags(d, want, N(want));
    assert_resolves(d, "fine", &m3, MT_MANIFEST);
    /* An image open of the ambiguous tag is ambiguous too. */
    ocidir_image_t *img = NULL;
    assert_ocidir(OCIDIR_E_AMBIGUOUS, ocidir_image_open(d, "dup", NULL, &img));
    assert_null(img);
    free(text);
    ocidir_close(d);
}

static void test_foreign_fields_and_media_types_survive_tag_set(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m1 = put_manifest(d, 1), m2 = put_manifest(d, 2);
    blob_t other = put_text(d, "{\"something\":\"else\"}");
    char *text = NULL;
    /* As another tool might write it: indented, keys unsorted, extra fields. */
    assert_true(asprintf(&text,
                         "{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"" MT_INDEX "\",\n"
                         "  \"com.example.top\": {\"nested\": [1, 2, \"x\"], \"flag\": true},\n"
                         "  \"manifests\": [\n"
                         "    {\"mediaType\": \"" MT_MANIFEST "\", \"digest\": \"%s\", \"size\": %llu,\n"
                         "     \"com.example.extra\": \"keepme\",\n"
                         "     \"platform\": {\"os\": \"linux\", \"architecture\": \"amd64\"},\n"
                         "     \"annotations\": {\"" REF_NAME "\": \"old\", \"com.example.note\": \"n1\"}},\n"
                         "    {\"mediaType\": \"application/vnd.example.thing.v1+json\", \"digest\": \"%s\",\n"
                         "     \"size\": %llu, \"annotations\": {\"" REF_NAME "\": \"thing\"}},\n"
                         "    {\"mediaType\": \"application/vnd.example.untagged+json\", \"digest\": \"%s\",\n"
                         "     \"size\": %llu}\n"
                         "  ],\n  \"annotations\": {\"com.example.index\": \"i1\"}\n}\n",
                         m1.digest, (unsigned long long)m1.size, other.digest, (unsigned long long)other.size,
                         other.digest, (unsigned long long)other.size) >= 0);
    write_index(layout, text);
    assert_false(is_canonical_json(text, strlen(text), 0)); /* as written by the other tool */
    free(text);

    /* Unknown media types are tolerated: listing and other tags work. */
    const char *want0[] = {"old", "thing"};
    assert_tags(d, want0, N(want0));
    assert_resolves(d, "old", &m1, MT_MANIFEST);

    assert_ocidir(0, ocidir_tag_set(d, "new", m2.digest, 0));
    const char *want1[] = {"old", "thing", "new"};
    assert_tags(d, want1, N(want1));
    assert_resolves(d, "old", &m1, MT_MANIFEST);
    assert_resolves(d, "new", &m2, MT_MANIFEST);

    size_t len;
    char *t = read_index(layout, &len);
    assert_canonical_json(t, len);
    const char *must[] = {
        "\"com.example.extra\":\"keepme\"",
        "\"com.example.top\":{\"flag\":true,\"nested\":[1,2,\"x\"]}",
        "\"com.example.note\":\"n1\"",
        "\"annotations\":{\"com.example.index\":\"i1\"}",
        "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}",
        "\"mediaType\":\"application/vnd.example.thing.v1+json\"",
        "\"mediaType\":\"application/vnd.example.untagged+json\"",
    };
    for (size_t i = 0; i < N(must); i++) {
        if (!strstr(t, must[i]))
            print_error("index.json lost %s:\n%s\n", must[i], t);
        assert_non_null(strstr(t, must[i]));
    }
    assert_int_equal(count_str(t, other.digest), 2);
    free(t);

    /* Moving the foreign tag keeps the unknown top-level fields. */
    assert_ocidir(0, ocidir_tag_set(d, "old", m2.digest, 0));
    t = read_index(layout, NULL);
    assert_non_null(strstr(t, "\"com.example.top\":{\"flag\":true,\"nested\":[1,2,\"x\"]}"));
    assert_non_null(strstr(t, "\"com.example.index\":\"i1\""));
    free(t);
    assert_resolves(d, "old", &m2, MT_MANIFEST);
    ocidir_close(d);
}

/* Numbers another tool wrote that the library's own writer once could not
 * write back readably: a whole double past 64 bits (written as bare digits,
 * which a reader takes for an out-of-range integer) and -0.0 (written as -0,
 * which reads back as the integer 0).  Found by the index fuzz target. */
static void test_foreign_numbers_survive_rewrites(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m1 = put_manifest(d, 1), m2 = put_manifest(d, 2);
    char *text = NULL;
    assert_true(asprintf(&text,
                         "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\n"
                         " \"com.example.big\":101300300101300303012.00,\"com.example.negzero\":-0.0,\n"
                         " \"manifests\":[{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%llu,\n"
                         "  \"annotations\":{\"" REF_NAME "\":\"a\"}}]}\n",
                         m1.digest, (unsigned long long)m1.size) >= 0);
    write_index(layout, text);
    free(text);
    const char *want0[] = {"a"};
    assert_tags(d, want0, N(want0));

    assert_ocidir(0, ocidir_tag_set(d, "b", m2.digest, 0));
    const char *want1[] = {"a", "b"};
    assert_tags(d, want1, N(want1));
    size_t len1;
    char *first = read_index(layout, &len1);
    /* Still a double and still negative zero, not integers. */
    assert_null(strstr(first, "101300300101300305920"));
    assert_non_null(strstr(first, "\"com.example.negzero\":-0.0"));

    /* A second rewrite reads what the first wrote and writes the same bytes. */
    assert_ocidir(0, ocidir_tag_set(d, "b", m1.digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "b", m2.digest, 0));
    assert_tags(d, want1, N(want1));
    size_t len2;
    char *second = read_index(layout, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(first, second, len1);
    free(first);
    free(second);
    ocidir_close(d);
}

static void test_index_written_canonically_lock_inode_kept(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m[4];
    for (unsigned i = 0; i < N(m); i++)
        m[i] = put_manifest(d, i);
    assert_ocidir(0, ocidir_tag_set(d, "first", m[0].digest, 0));
    assert_index_canonical(layout);
    char *lockp = tu_join(layout, ".ocidir.lock");
    assert_true(tu_exists(lockp));
    struct stat st;
    assert_int_equal(lstat(lockp, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    free(lockp);
    ino_t lock_ino = inode_of(layout, ".ocidir.lock");
    ino_t idx_ino = inode_of(layout, "index.json");

    for (int i = 0; i < 60; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "t%d", i % 20);
        switch (i % 3) {
        case 0: assert_ocidir(0, ocidir_tag_set(d, tag, m[i % 4].digest, 0)); break;
        case 1: assert_ocidir(0, ocidir_tag_set(d, "moving", m[i % 4].digest, 0)); break;
        default:
            if (i % 2)
                assert_ocidir(0, ocidir_tag_remove(d, "moving"));
            else
                assert_ocidir(0, ocidir_index_add(d, m[(i / 3) % 4].digest));
            break;
        }
        ino_t now = inode_of(layout, "index.json");
        /* Every update replaces index.json by a new file (an index_add of
         * a digest that has its untagged entry already changes nothing). */
        int may_be_noop = i % 3 == 2 && i % 2 == 0;
        if (!may_be_noop && now == idx_ino)
            print_error("update %d left index.json's inode %llu in place\n", i, (unsigned long long)now);
        if (!may_be_noop)
            assert_true(now != idx_ino);
        idx_ino = now;
        assert_int_equal(inode_of(layout, ".ocidir.lock"), lock_ino);
        assert_index_canonical(layout);
    }
    /* No stray files in the root: only the layout's own and the lock. */
    assert_int_equal(tu_count_entries(layout), 4);
    ocidir_close(d);
}

static void test_index_update_waits_for_lock_file_holder(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m = put_manifest(d, 1);
    assert_ocidir(0, ocidir_tag_set(d, "before", m.digest, 0)); /* lock file exists now */
    char *lockp = tu_keep(tu_join(layout, ".ocidir.lock"));
    tu_holder_t h = tu_hold_flock(lockp);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(h.release_fd); /* else the holder never sees its release */
        ocidir_t *c = NULL;
        if (ocidir_open(AT_FDCWD, layout, 0, &c) != 0)
            _exit(2);
        _exit(ocidir_tag_set(c, "held", m.digest, 0) == 0 ? 0 : 1);
    }
    tu_defer_kill(pid);
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    /* While the lock is held elsewhere, the update has not happened. */
    char *t = read_index(layout, NULL);
    assert_null(strstr(t, "held"));
    free(t);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, WNOHANG), 0);

    tu_release_holder(&h);
    status = wait_child(pid, 60);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_resolves(d, "held", &m, MT_MANIFEST);
    assert_resolves(d, "before", &m, MT_MANIFEST);
    ocidir_close(d);
}

static void test_json_limit_bounds_index_json(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m = put_manifest(d, 1);
    assert_ocidir(0, ocidir_tag_set(d, "a", m.digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "b", m.digest, 0));
    size_t len;
    char *before = read_index(layout, &len);

    assert_ocidir(0, ocidir_set_json_limit(d, len - 1));
    char **tags = (char **)"untouched";
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_tag_list(d, &tags));
    assert_ptr_equal(tags, (char **)"untouched");
    assert_error_mentions("index.json");
    assert_resolve_fails(d, "a", OCIDIR_E_TOO_LARGE);
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_tag_set(d, "c", m.digest, 0));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_tag_remove(d, "a"));
    assert_index_is(layout, before, len);

    /* Exactly the size is within the bound. */
    assert_ocidir(0, ocidir_set_json_limit(d, len));
    const char *want[] = {"a", "b"};
    assert_tags(d, want, N(want));

    assert_ocidir(0, ocidir_set_json_limit(d, 2));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_tag_list(d, &tags));
    assert_ocidir(0, ocidir_set_json_limit(d, 0)); /* the default again */
    assert_tags(d, want, N(want));
    assert_ocidir(0, ocidir_tag_set(d, "c", m.digest, 0));

    assert_ocidir(OCIDIR_E_INVALID, ocidir_set_json_limit(d, 1));
    assert_ocidir(OCIDIR_E_INVALID, ocidir_set_json_limit(NULL, 100));
    /* The bound is per handle. */
    ocidir_t *d2 = NULL;
    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, OCIDIR_OPEN_RDONLY, &d2));
    assert_ocidir(0, ocidir_set_json_limit(d2, 10));
    assert_ocidir(OCIDIR_E_TOO_LARGE, ocidir_tag_list(d2, &tags));
    const char *want3[] = {"a", "b", "c"};
    assert_tags(d, want3, N(want3));
    ocidir_close(d2);
    free(before);
    ocidir_close(d);
}

/* ---- concurrency -------------------------------------------------------- */

#define NPROC 8
#define PER_PROC 100
#define NMANIFESTS 16
#define NTHREADS 4
#define PER_THREAD 50

static blob_t conc_manifests[NMANIFESTS];

static const blob_t *manifest_for(int worker, int i) { return &conc_manifests[(worker * 7 + i) % NMANIFESTS]; }

static void prepare_concurrent_layout(ocidir_t *d)
{
    for (unsigned i = 0; i < NMANIFESTS; i++)
        conc_manifests[i] = put_manifest(d, 1000 + i);
    assert_ocidir(0, ocidir_tag_set(d, "pre/one", conc_manifests[0].digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "pre/two", conc_manifests[1].digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "pre/three", conc_manifests[2].digest, 0));
}

static void check_concurrent_result(ocidir_t *d, const char *layout, int workers, int per_worker,
                                    const char *fmt)
{
    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    size_t n = strv_len(tags);
    if (n != (size_t)(workers * per_worker) + 3)
        print_error("%zu tags listed, expected %d\n", n, workers * per_worker + 3);
    assert_int_equal(n, (size_t)(workers * per_worker) + 3);
    ocidir_strv_free(tags);
    for (int w = 0; w < workers; w++)
        for (int i = 0; i < per_worker; i++) {
            char tag[64];
            snprintf(tag, sizeof tag, fmt, w, i);
            assert_resolves(d, tag, manifest_for(w, i), MT_MANIFEST);
        }
    assert_resolves(d, "pre/one", &conc_manifests[0], MT_MANIFEST);
    assert_resolves(d, "pre/two", &conc_manifests[1], MT_MANIFEST);
    assert_resolves(d, "pre/three", &conc_manifests[2], MT_MANIFEST);
    assert_index_canonical(layout);
    char *t = read_index(layout, NULL);
    assert_int_equal(count_str(t, "\"" REF_NAME "\""), (size_t)(workers * per_worker) + 3);
    free(t);
}

static void test_processes_set_distinct_tags_concurrently(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    prepare_concurrent_layout(d);

    int barrier[2], errp[2];
    assert_int_equal(pipe2(barrier, O_CLOEXEC), 0);
    assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
    pid_t pids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(barrier[1]);
            close(errp[0]);
            ocidir_t *c = NULL;
            int rc = ocidir_open(AT_FDCWD, layout, 0, &c);
            char b;
            (void)!read(barrier[0], &b, 1); /* EOF when the parent lets go */
            for (int i = 0; rc == 0 && i < PER_PROC; i++) {
                char tag[64];
                snprintf(tag, sizeof tag, "proc%d/tag-%d", p, i);
                rc = ocidir_tag_set(c, tag, manifest_for(p, i)->digest, 0);
                if (rc != 0) {
                    char msg[512];
                    int l = snprintf(msg, sizeof msg, "process %d, %s: %d %s\n", p, tag, rc,
                                     ocidir_last_error());
                    (void)!write(errp[1], msg, (size_t)(l < (int)sizeof msg ? l : (int)sizeof msg - 1));
                }
            }
            ocidir_close(c);
            _exit(rc == 0 ? 0 : 1);
        }
        tu_defer_kill(pids[p]);
    }
    close(errp[1]);
    close(barrier[0]);
    close(barrier[1]); /* go */
    int failed = 0;
    for (int p = 0; p < NPROC; p++) {
        int status = wait_child(pids[p], 120);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    char msg[4096];
    ssize_t n = read(errp[0], msg, sizeof msg - 1);
    close(errp[0]);
    if (n > 0) {
        msg[n] = '\0';
        print_error("%s", msg);
    }
    assert_int_equal(failed, 0);
    check_concurrent_result(d, layout, NPROC, PER_PROC, "proc%d/tag-%d");
    ocidir_close(d);
}

typedef struct {
    ocidir_t *d;
    int id;
    pthread_barrier_t *barrier;
    int rc;
    char msg[512];
} thread_arg_t;

static void *tag_thread(void *arg)
{
    thread_arg_t *a = arg;
    pthread_barrier_wait(a->barrier);
    for (int i = 0; i < PER_THREAD; i++) {
        char tag[64];
        snprintf(tag, sizeof tag, "thread%d.tag_%d", a->id, i);
        int rc = ocidir_tag_set(a->d, tag, manifest_for(a->id, i)->digest, 0);
        if (rc != 0) {
            a->rc = rc;
            snprintf(a->msg, sizeof a->msg, "%s: %s", tag, ocidir_last_error());
            break;
        }
    }
    return NULL;
}

static void test_threads_set_distinct_tags_on_one_handle(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    prepare_concurrent_layout(d);
    pthread_barrier_t barrier;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, NTHREADS), 0);
    pthread_t th[NTHREADS];
    thread_arg_t args[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        args[t] = (thread_arg_t){.d = d, .id = t, .barrier = &barrier, .rc = 0};
        assert_int_equal(pthread_create(&th[t], NULL, tag_thread, &args[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&barrier);
    for (int t = 0; t < NTHREADS; t++) {
        if (args[t].rc != 0)
            print_error("thread %d: %d %s\n", t, args[t].rc, args[t].msg);
        assert_int_equal(args[t].rc, 0);
    }
    check_concurrent_result(d, layout, NTHREADS, PER_THREAD, "thread%d.tag_%d");
    ocidir_close(d);
}

/* ---- the one-pass lookup ------------------------------------------------ */

/* index.json documents whose tagged entry "t" comes first and is fine, each
 * with one defect further on: a lookup that found its entry early must still
 * refuse the document as the whole parse does (tag_list, which parses the
 * whole document, is the witness), naming the defect. */
static void test_resolve_refuses_every_defect_after_the_entry_found(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m = put_manifest(d, 1);
    char entry[512];
    snprintf(entry, sizeof entry,
             "{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%llu,"
             "\"annotations\":{\"" REF_NAME "\":\"t\"}}",
             m.digest, (unsigned long long)m.size);
    char deep[400] = "";
    for (int i = 0; i < 70; i++)
        strcat(deep, "[");
    for (int i = 0; i < 70; i++)
        strcat(deep, "]");
    struct {
        const char *after; /* after the entry, inside manifests */
        const char *top;   /* after manifests, at the top level */
        const char *tail;  /* after the root object */
        const char *mentions;
    } cases[] = {
        {",{\"digest\":\"sha256:00\",\"digest\":\"sha256:00\"}", "", "", "duplicate key \"digest\""},
        {",{\"size\":1,\"s\\u0069ze\":2}", "", "", "duplicate key \"size\""},
        {"", ",\"schemaVersion\":2", "", "duplicate key \"schemaVersion\""},
        {",{\"x\":DEEP}", "", "", "nested deeper than"},
        {"", "", " x", "malformed JSON"},
        {"", "", "{}", "malformed JSON"},
        {"", ",\"config\":{}", "", "media-type confusion"},
        {",{\"x\":\"a\\qb\"}", "", "", "malformed JSON"},
        {",{\"x\":1e999}", "", "", "malformed JSON"},
        {",{\"x\":tru}", "", "", "malformed JSON"},
        {",{\"x\":1,}", "", "", "malformed JSON"},
        {",{\"x\" 1}", "", "", "malformed JSON"},
        {",{\"annotations\":[]}", "", "", "manifests[1].annotations must be an object"},
        {",{\"annotations\":{\"" REF_NAME "\":7}}", "", "", "must be a string"},
        {",7", "", "", "manifests[1] must be an object"},
        {"", ",\"annotations\":{\"a\":1}", "", "annotations.a must be a string"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const char *after = strcmp(cases[i].after, ",{\"x\":DEEP}") == 0 ? NULL : cases[i].after;
        char *text = NULL;
        assert_true(asprintf(&text, "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[%s%s%s%s%s]%s}%s",
                             entry, after ? after : ",{\"x\":", after ? "" : deep, after ? "" : "}", "",
                             cases[i].top, cases[i].tail) >= 0);
        write_index(layout, text);
        char dg[OCIDIR_DIGEST_MAX];
        int rc = ocidir_resolve(d, "t", dg, NULL, NULL);
        if (rc != OCIDIR_E_FORMAT)
            print_error("case %zu (%s): resolve gave %d for %s\n", i, cases[i].mentions, rc, text);
        assert_int_equal(rc, OCIDIR_E_FORMAT);
        assert_error_mentions(cases[i].mentions);
        char **tags = NULL;
        assert_int_equal(ocidir_tag_list(d, &tags), OCIDIR_E_FORMAT);
        /* a missing tag: the same refusal, not NOT_FOUND */
        assert_int_equal(ocidir_resolve(d, "absent", dg, NULL, NULL), OCIDIR_E_FORMAT);
        free(text);
    }
    ocidir_close(d);
}

/* What the one pass must read as the whole parse does: escapes in keys and
 * in the tag, whitespace everywhere, fields in any order, a large object. */
static void test_resolve_reads_escapes_whitespace_and_order(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m1 = put_manifest(d, 1), m2 = put_manifest(d, 2), m3 = put_manifest(d, 3);
    char many[2048] = "";
    for (int i = 0; i < 40; i++) {
        char kv[40];
        snprintf(kv, sizeof kv, "\"k%d\":\"v\",", i);
        strcat(many, kv);
    }
    char *text = NULL;
    assert_true(asprintf(&text,
                         " {\n  \"manifests\" : [\n"
                         "   { \"annot\\u0061tions\" : { \"" REF_NAME "\" : \"repo\\/t\\u0061g\" } ,\n"
                         "     \"size\" : %llu , \"digest\" : \"%s\" , \"mediaType\" : \"" MT_MANIFEST "\" } ,\n"
                         "   {\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%llu,"
                         "\"annotations\":{%s\"" REF_NAME "\":\"caf\xc3\xa9\"}},\n"
                         "   {\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%llu,"
                         "\"annotations\":{\"" REF_NAME "\":\"last\"},\"x\":[1,-2.5e3,true,false,null,{},[]]}\n"
                         "  ] ,\n  \"schemaVersion\" : 2 , \"mediaType\" : \"" MT_INDEX "\"\n}\n\t ",
                         (unsigned long long)m1.size, m1.digest, m2.digest, (unsigned long long)m2.size, many,
                         m3.digest, (unsigned long long)m3.size) >= 0);
    write_index(layout, text);
    free(text);
    assert_resolves(d, "repo/tag", &m1, MT_MANIFEST);
    assert_resolves(d, "last", &m3, MT_MANIFEST);
    assert_resolve_fails(d, "repo/t", OCIDIR_E_NOT_FOUND);
    assert_error_mentions("not found");
    /* "café" is not a valid tag: refused before index.json is read */
    assert_resolve_fails(d, "caf\xc3\xa9", OCIDIR_E_INVALID);
    ocidir_close(d);
}

/* ocidir_image_ref_descriptor: what the ref named, a manifest or an index. */
static void test_image_ref_descriptor_is_what_the_ref_named(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    blob_t m = put_manifest(d, 1);
    blob_t ix = put_image_index(d, &m);
    assert_ocidir(0, ocidir_tag_set(d, "m", m.digest, 0));
    assert_ocidir(0, ocidir_tag_set(d, "ix", ix.digest, 0));
    struct {
        const char *ref;
        const blob_t *want;
        const char *type;
    } cases[] = {{"m", &m, MT_MANIFEST}, {"ix", &ix, MT_INDEX}, {m.digest, &m, MT_MANIFEST}, {ix.digest, &ix, MT_INDEX}};
    for (size_t i = 0; i < N(cases); i++) {
        ocidir_image_t *img = NULL;
        assert_ocidir(0, ocidir_image_open(d, cases[i].ref, "linux/amd64", &img));
        char dg[OCIDIR_DIGEST_MAX] = "", mdg[OCIDIR_DIGEST_MAX] = "";
        char *mt = NULL;
        uint64_t size = 0;
        assert_ocidir(0, ocidir_image_ref_descriptor(img, dg, &mt, &size));
        assert_string_equal(dg, cases[i].want->digest);
        assert_string_equal(mt, cases[i].type);
        assert_int_equal(size, cases[i].want->size);
        ocidir_free(mt);
        assert_ocidir(0, ocidir_image_ref_descriptor(img, NULL, NULL, NULL));
        assert_ocidir(0, ocidir_image_manifest(img, mdg, NULL, NULL));
        assert_string_equal(mdg, m.digest);
        ocidir_image_close(img);
    }
    assert_int_equal(ocidir_image_ref_descriptor(NULL, NULL, NULL, NULL), OCIDIR_E_INVALID);
    ocidir_close(d);
}

/* ---- a large index ------------------------------------------------------ */

#define BIG_N 100000

static void test_index_of_100k_entries_opens_lists_and_resolves(void **state)
{
    (void)state;
    char *layout;
    ocidir_t *d = tu_scratch_layout(&layout);
    tu_keep(layout);
    ocidir_close(d);

    char *path = tu_join(layout, "index.json");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[", f);
    char last_digest[OCIDIR_DIGEST_MAX] = "", mid_digest[OCIDIR_DIGEST_MAX] = "";
    for (int i = 0; i < BIG_N; i++) {
        char seed[32], dg[OCIDIR_DIGEST_MAX];
        int l = snprintf(seed, sizeof seed, "manifest-%d", i);
        assert_ocidir(0, ocidir_digest_buffer(OCIDIR_SHA256, seed, (size_t)l, dg));
        fprintf(f,
                "%s{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%d,"
                "\"platform\":{\"architecture\":\"%s\",\"os\":\"linux\"},"
                "\"annotations\":{\"" REF_NAME "\":\"repo/tag-%d\","
                "\"org.opencontainers.image.created\":\"2024-01-01T00:00:00Z\"}}",
                i ? "," : "", dg, 400 + i % 1000, i % 2 ? "arm64" : "amd64", i);
        if (i == BIG_N - 1)
            strcpy(last_digest, dg);
        if (i == BIG_N / 2)
            strcpy(mid_digest, dg);
    }
    fputs("]}", f);
    assert_int_equal(fclose(f), 0);
    free(path);

    assert_ocidir(0, ocidir_open(AT_FDCWD, layout, 0, &d));
    char dg[OCIDIR_DIGEST_MAX];
    char *mt = NULL;
    uint64_t size = 0;
    assert_ocidir(0, ocidir_resolve(d, "repo/tag-99999", dg, &mt, &size));
    assert_string_equal(dg, last_digest);
    assert_string_equal(mt, MT_MANIFEST);
    assert_int_equal(size, 400 + (BIG_N - 1) % 1000);
    ocidir_free(mt);
    assert_ocidir(0, ocidir_resolve(d, "repo/tag-50000", dg, NULL, &size));
    assert_string_equal(dg, mid_digest);
    assert_int_equal(size, 400 + (BIG_N / 2) % 1000);
    assert_resolve_fails(d, "repo/tag-100000", OCIDIR_E_NOT_FOUND);

    char **tags = NULL;
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    assert_int_equal(strv_len(tags), BIG_N);
    for (int i = 0; i < BIG_N; i++) {
        char want[32];
        snprintf(want, sizeof want, "repo/tag-%d", i);
        if (strcmp(tags[i], want) != 0)
            print_error("tag %d is %s, expected %s\n", i, tags[i], want);
        assert_string_equal(tags[i], want);
    }
    ocidir_strv_free(tags);

    /* One more tag on top: all 100,001 are there afterwards. */
    blob_t m = put_manifest(d, 7);
    assert_ocidir(0, ocidir_tag_set(d, "one-more", m.digest, 0));
    assert_ocidir(0, ocidir_tag_list(d, &tags));
    assert_int_equal(strv_len(tags), BIG_N + 1);
    assert_string_equal(tags[BIG_N], "one-more");
    ocidir_strv_free(tags);
    assert_ocidir(0, ocidir_resolve(d, "repo/tag-99999", dg, NULL, NULL));
    assert_string_equal(dg, last_digest);
    assert_resolves(d, "one-more", &m, MT_MANIFEST);
    ocidir_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEARDOWN(test_canonical_checker_self_check),
        TEARDOWN(test_fresh_layout_lists_no_tags),
        TEARDOWN(test_set_list_resolve_round_trip),
        TEARDOWN(test_tag_set_again_moves_tag_in_place),
        TEARDOWN(test_noreplace_on_existing_tag_is_exists_and_index_untouched),
        TEARDOWN(test_unknown_flag_is_invalid_and_index_untouched),
        TEARDOWN(test_remove_deletes_entry_and_keeps_others),
        TEARDOWN(test_index_add_adds_one_untagged_entry),
        TEARDOWN(test_resolve_by_digest_reads_media_type_from_blob),
        TEARDOWN(test_tag_validate_follows_ref_name_grammar),
        TEARDOWN(test_tag_set_refuses_invalid_tags_and_leaves_index),
        TEARDOWN(test_tag_spelled_like_a_digest_is_refused),
        TEARDOWN(test_tag_set_refuses_blobs_that_are_not_manifests),
        TEARDOWN(test_readonly_handle_refuses_set_remove_add),
        TEARDOWN(test_duplicate_tag_in_foreign_index_is_ambiguous),
        TEARDOWN(test_foreign_fields_and_media_types_survive_tag_set),
        TEARDOWN(test_foreign_numbers_survive_rewrites),
        TEARDOWN(test_index_written_canonically_lock_inode_kept),
        TEARDOWN(test_index_update_waits_for_lock_file_holder),
        TEARDOWN(test_json_limit_bounds_index_json),
        TEARDOWN(test_processes_set_distinct_tags_concurrently),
        TEARDOWN(test_threads_set_distinct_tags_on_one_handle),
        TEARDOWN(test_resolve_refuses_every_defect_after_the_entry_found),
        TEARDOWN(test_resolve_reads_escapes_whitespace_and_order),
        TEARDOWN(test_image_ref_descriptor_is_what_the_ref_named),
        TEARDOWN(test_index_of_100k_entries_opens_lists_and_resolves),
    };
    return cmocka_run_group_tests_name("tags", tests, NULL, NULL);
}
