/*
 * The gzip decoders (zlib, ISA-L) read the same streams and refuse the same
 * damage with the same codes: a wrong CRC-32, a wrong ISIZE, a truncated
 * member, several members, headers with every optional field, and trailing
 * garbage after a member.
 *
 * One process uses one decoder (chosen once, from OCIDIR_INFLATE or the
 * build's default), so each test runs this program again as a child with the
 * variable set ("--cases" prints one line per case: its name, the code, the
 * bytes read, and the class of the message) and compares the children.
 *
 * The build says whether ISA-L is compiled in (OCIDIR_TEST_HAVE_ISAL) and
 * which decoder is its default (OCIDIR_TEST_DEFAULT_INFLATE).
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define FAIL_MSG(...)             \
    do {                          \
        print_error(__VA_ARGS__); \
        print_error("\n");       \
        fail();                   \
    } while (0)
#define N(a) (sizeof(a) / sizeof((a)[0]))
#define GZ_MT "application/vnd.oci.image.layer.v1.tar+gzip"
/* The layer reader pulls compressed bytes in pieces this large (kInBuffer in
 * src/image/layer.cc): the split cases put a member boundary around it. */
#define READ_CHUNK (128u * 1024u)

/* ---- building gzip streams ----------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
} buf_t;

static void buf_add(buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* n bytes: random when `noisy`, else compressible text. */
static void make_plain(buf_t *plain, size_t n, int noisy)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = noisy ? (unsigned char)rng() : (unsigned char)("usr/share/doc/\n"[i % 15] + (i / 4096) % 3);
        buf_add(plain, &c, 1);
    }
}

/* One gzip member of plain[off, off+n) appended to out.  With `hdr`, the
 * header carries that extra field, name, comment and header CRC. */
static void gzip_member(buf_t *out, const unsigned char *p, size_t n, gz_header *hdr)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    if (hdr && deflateSetHeader(&z, hdr) != Z_OK)
        abort();
    size_t bound = deflateBound(&z, n) + 1024 + (hdr ? hdr->extra_len + 600 : 0);
    unsigned char *o = malloc(bound);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)n;
    z.next_out = o;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    buf_add(out, o, bound - z.avail_out);
    deflateEnd(&z);
    free(o);
}

/* ---- the child: every case through the decoder in use ------------------- */

typedef struct {
    const char *name;
    buf_t plain, gz;
    int with_diff_id; /* the plain bytes' digest as diff_id (the stream is meant to be valid) */
} gz_case_t;

static gz_case_t cases[64];
static size_t n_cases;

static gz_case_t *add_case(const char *name)
{
    gz_case_t *c = &cases[n_cases++];
    memset(c, 0, sizeof *c);
    c->name = name;
    return c;
}

static gz_case_t *copy_case(const char *name, const gz_case_t *from)
{
    gz_case_t *c = add_case(name);
    buf_add(&c->plain, from->plain.p, from->plain.len);
    buf_add(&c->gz, from->gz.p, from->gz.len);
    return c;
}

static void build_cases(void)
{
    static unsigned char extra[40000];
    for (size_t i = 0; i < sizeof extra; i++)
        extra[i] = (unsigned char)(i * 31);
    gz_header full;
    memset(&full, 0, sizeof full);
    full.extra = extra;
    full.extra_len = 300;
    full.name = (Bytef *)"layer.tar";
    full.comment = (Bytef *)"made by test_inflate";
    full.hcrc = 1;

    gz_case_t *one = add_case("one-member");
    one->with_diff_id = 1;
    make_plain(&one->plain, 300000, 0);
    gzip_member(&one->gz, one->plain.p, one->plain.len, NULL);

    gz_case_t *multi = add_case("three-members-one-empty");
    multi->with_diff_id = 1;
    make_plain(&multi->plain, 500000, 1);
    gzip_member(&multi->gz, multi->plain.p, 200000, NULL);
    gzip_member(&multi->gz, multi->plain.p + 200000, 0, NULL);
    gzip_member(&multi->gz, multi->plain.p + 200000, 300000, &full);

    gz_case_t *hdr = add_case("every-header-field");
    hdr->with_diff_id = 1;
    make_plain(&hdr->plain, 70000, 0);
    gzip_member(&hdr->gz, hdr->plain.p, hdr->plain.len, &full);

    gz_case_t *empty_member = add_case("empty-member");
    empty_member->with_diff_id = 1;
    gzip_member(&empty_member->gz, NULL, 0, NULL);

    /* A member boundary at every offset from 3 bytes before the end of the
     * deflate data to 30 bytes into the next header, relative to the
     * reader's 128 KiB pieces: the first header's extra field is sized so. */
    static char split_names[40][32];
    buf_t probe = {0};
    buf_t first_plain = {0};
    make_plain(&first_plain, 100000, 1);
    gzip_member(&probe, first_plain.p, first_plain.len, NULL);
    size_t deflate_len = probe.len - 18; /* 10-byte header, 8-byte trailer */
    free(probe.p);
    for (int j = -3; j <= 30; j += 3) {
        snprintf(split_names[j + 3], sizeof split_names[0], "split-at-%+d", j);
        gz_case_t *c = add_case(split_names[j + 3]);
        c->with_diff_id = 1;
        /* 10 + 2 + L + deflate_len + j == READ_CHUNK */
        gz_header h;
        memset(&h, 0, sizeof h);
        h.extra = extra;
        h.extra_len = (uInt)(READ_CHUNK - 12 - deflate_len - (size_t)j);
        gzip_member(&c->gz, first_plain.p, first_plain.len, &h);
        buf_add(&c->plain, first_plain.p, first_plain.len);
        make_plain(&c->plain, 5000, 0);
        gzip_member(&c->gz, c->plain.p + first_plain.len, 5000, &full);
    }
    free(first_plain.p);

    /* Damage. */
    gz_case_t *c = copy_case("crc32-wrong", one);
    c->gz.p[c->gz.len - 8] ^= 0x01;
    c = copy_case("isize-wrong", one);
    c->gz.p[c->gz.len - 4] ^= 0x01;
    c = copy_case("crc32-wrong-in-member-3", multi);
    c->gz.p[c->gz.len - 6] ^= 0x80;
    c = copy_case("truncated-in-trailer", one);
    c->gz.len -= 3;
    c = copy_case("truncated-in-deflate", one);
    c->gz.len /= 2;
    c = copy_case("truncated-in-header", hdr);
    c->gz.len = 15;
    c = copy_case("truncated-second-member", multi);
    c->gz.len -= 100;
    c = copy_case("header-crc-wrong", hdr);
    c->gz.p[12] ^= 0x01; /* a byte of the extra field, covered by the header CRC */
    c = copy_case("bad-magic", one);
    c->gz.p[1] = 0x8c;
    c = copy_case("bad-method", one);
    c->gz.p[2] = 7;
    c = copy_case("reserved-flag", one);
    c->gz.p[3] |= 0x80;
    c = copy_case("corrupt-deflate", one);
    c->gz.p[c->gz.len / 2] ^= 0x55;
    c->gz.p[c->gz.len / 2 + 1] ^= 0x55;
    c = copy_case("garbage-after-member", one);
    buf_add(&c->gz, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16); /* tar padding after the stream */
    c = copy_case("text-after-member", multi);
    buf_add(&c->gz, "not gzip at all", 15);
    c = copy_case("one-byte-after-member", one);
    buf_add(&c->gz, "\x1f", 1);
    c = copy_case("bad-method-after-member", one);
    buf_add(&c->gz, "\x1f\x8b\x07\0\0\0\0\0\0\x03", 10);
    c = copy_case("bad-flags-after-member", one);
    buf_add(&c->gz, "\x1f\x8b\x08\x40\0\0\0\0\0\x03", 10);
    c = add_case("empty-blob");
}

/* The class of a message: what both decoders must agree on. */
static const char *msg_class(const char *m, char *out, size_t cap)
{
    static const char *phrases[] = {"trailing garbage after gzip member ",
                                    "corrupt gzip data in member ",
                                    "stream is truncated",
                                    "incorrect data check",
                                    "incorrect length check",
                                    "header crc mismatch",
                                    "incorrect header check",
                                    "unknown compression method",
                                    "unknown header flags set"};
    out[0] = '\0';
    for (size_t i = 0; i < N(phrases); i++) {
        const char *at = strstr(m, phrases[i]);
        if (!at)
            continue;
        size_t len = strlen(out);
        size_t pl = strlen(phrases[i]);
        /* the member number after the phrase, if any */
        int num = 0;
        if (phrases[i][pl - 1] == ' ')
            num = atoi(at + pl);
        snprintf(out + len, cap - len, "%s[%s%d]", len ? "+" : "", phrases[i], num);
    }
    return out[0] ? out : "-";
}

static int child_cases(void)
{
    build_cases();
    printf("backend %s\n", ocidir_inflate_backend());
    char *dir = tu_mkdtemp("inflate");
    ocidir_t *d = NULL;
    if (ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, ocidir_last_error());
        return 1;
    }
    unsigned char *buf = malloc(65536);
    for (size_t i = 0; i < n_cases; i++) {
        gz_case_t *c = &cases[i];
        char dg[OCIDIR_DIGEST_MAX], diff[OCIDIR_DIGEST_MAX];
        if (ocidir_blob_put(d, c->gz.p, c->gz.len, dg) != 0 ||
            ocidir_digest_buffer(OCIDIR_SHA256, c->plain.p, c->plain.len, diff) != 0) {
            fprintf(stderr, "%s: %s\n", c->name, ocidir_last_error());
            return 1;
        }
        ocidir_layer_reader_t *r = NULL;
        long long total = 0;
        ssize_t n = ocidir_layer_open(d, GZ_MT, dg, (int64_t)c->gz.len, c->with_diff_id ? diff : NULL, &r);
        if (n == 0) {
            while ((n = ocidir_layer_reader_read(r, buf, 65536)) > 0)
                total += n;
        }
        char cls[512];
        printf("case %s rc %d bytes %lld msg %s\n", c->name, (int)n, total,
               n < 0 ? msg_class(ocidir_last_error(), cls, sizeof cls) : "-");
        if (n < 0)
            fprintf(stderr, "%s: %s\n", c->name, ocidir_last_error());
        ocidir_layer_reader_close(r);
        free(c->plain.p);
        free(c->gz.p);
    }
    free(buf);
    ocidir_close(d);
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", dir) > 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
    free(dir);
    return 0;
}

/* With OCIDIR_INFLATE set: what the library says about a gzip layer. */
static int child_probe(void)
{
    char *dir = tu_mkdtemp("inflate");
    ocidir_t *d = NULL;
    if (ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d) != 0)
        return 1;
    buf_t gz = {0};
    gzip_member(&gz, (const unsigned char *)"hello", 5, NULL);
    char dg[OCIDIR_DIGEST_MAX];
    if (ocidir_blob_put(d, gz.p, gz.len, dg) != 0)
        return 1;
    ocidir_layer_reader_t *r = NULL;
    int rc = ocidir_layer_open(d, GZ_MT, dg, (int64_t)gz.len, NULL, &r);
    printf("backend %s\nrc %d\nmessage %s\n", ocidir_inflate_backend(), rc, rc ? ocidir_last_error() : "");
    ocidir_layer_reader_close(r);
    ocidir_close(d);
    free(gz.p);
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", dir) > 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
    free(dir);
    return 0;
}

/* ---- the parent ----------------------------------------------------------- */

/* Run this program with OCIDIR_INFLATE=value (NULL: unset) and ARGS; returns
 * its standard output (caller frees). */
static char *run_self(const char *value, const char *args)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    char *cmd = NULL;
    if (value)
        assert_true(asprintf(&cmd, "OCIDIR_INFLATE='%s' '%s' %s", value, self, args) > 0);
    else
        assert_true(asprintf(&cmd, "env -u OCIDIR_INFLATE '%s' %s", self, args) > 0);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0, got;
    char *out = malloc(cap);
    assert_non_null(out);
    while ((got = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    out[len] = '\0';
    int rc = pclose(p);
    if (rc != 0)
        print_error("child failed (%d): %s\n", rc, cmd);
    assert_int_equal(rc, 0);
    free(cmd);
    return out;
}

/* The line of `out` for case `name` ("case NAME rc ..."), copied to line. */
static void case_line(const char *out, const char *name, char *line, size_t cap)
{
    char key[128];
    snprintf(key, sizeof key, "case %s rc ", name);
    const char *at = strstr(out, key);
    if (!at)
        FAIL_MSG("no line for case %s in:\n%s", name, out);
    size_t n = strcspn(at, "\n");
    assert_true(n < cap);
    memcpy(line, at, n);
    line[n] = '\0';
}

static void expect_case(const char *out, const char *name, int rc, const char *msg_part)
{
    char line[1024], want[256];
    case_line(out, name, line, sizeof line);
    snprintf(want, sizeof want, "case %s rc %d ", name, rc);
    if (strncmp(line, want, strlen(want)) != 0 || (msg_part && !strstr(line, msg_part)))
        FAIL_MSG("%s: got \"%s\", want rc %d and \"%s\"", name, line, rc, msg_part ? msg_part : "");
}

/* What every decoder must say, case by case. */
static void check_every_case(const char *out)
{
    static const char *valid[] = {"one-member", "three-members-one-empty", "every-header-field", "empty-member",
                                  "split-at--3", "split-at-+0", "split-at-+3", "split-at-+6", "split-at-+9",
                                  "split-at-+12", "split-at-+15", "split-at-+18", "split-at-+21", "split-at-+24",
                                  "split-at-+27", "split-at-+30"};
    for (size_t i = 0; i < N(valid); i++)
        expect_case(out, valid[i], 0, " msg -");
    expect_case(out, "crc32-wrong", OCIDIR_E_FORMAT, "[corrupt gzip data in member 1]+[incorrect data check");
    expect_case(out, "isize-wrong", OCIDIR_E_FORMAT, "[corrupt gzip data in member 1]+[incorrect length check");
    expect_case(out, "crc32-wrong-in-member-3", OCIDIR_E_FORMAT,
                "[corrupt gzip data in member 3]+[incorrect data check");
    expect_case(out, "truncated-in-trailer", OCIDIR_E_FORMAT, "[stream is truncated");
    expect_case(out, "truncated-in-deflate", OCIDIR_E_FORMAT, "[stream is truncated");
    expect_case(out, "truncated-in-header", OCIDIR_E_FORMAT, "[stream is truncated");
    expect_case(out, "truncated-second-member", OCIDIR_E_FORMAT, "[stream is truncated");
    expect_case(out, "header-crc-wrong", OCIDIR_E_FORMAT, "[corrupt gzip data in member 1]+[header crc mismatch");
    expect_case(out, "bad-magic", OCIDIR_E_FORMAT, "[corrupt gzip data in member 1]+[incorrect header check");
    expect_case(out, "bad-method", OCIDIR_E_FORMAT, "[corrupt gzip data in member 1]+[unknown compression method");
    expect_case(out, "reserved-flag", OCIDIR_E_FORMAT, "[corrupt gzip data in member 1]+[unknown header flags");
    expect_case(out, "corrupt-deflate", OCIDIR_E_FORMAT, "[corrupt gzip data in member 1]");
    expect_case(out, "garbage-after-member", OCIDIR_E_FORMAT,
                "msg [trailing garbage after gzip member 1]+[incorrect header check");
    expect_case(out, "text-after-member", OCIDIR_E_FORMAT,
                "msg [trailing garbage after gzip member 3]+[incorrect header check");
    expect_case(out, "one-byte-after-member", OCIDIR_E_FORMAT, "[stream is truncated");
    expect_case(out, "bad-method-after-member", OCIDIR_E_FORMAT,
                "msg [trailing garbage after gzip member 1]+[unknown compression method");
    expect_case(out, "bad-flags-after-member", OCIDIR_E_FORMAT,
                "msg [trailing garbage after gzip member 1]+[unknown header flags");
    expect_case(out, "empty-blob", OCIDIR_E_FORMAT, "[stream is truncated");
}

static void test_zlib_reads_and_refuses_every_case(void **state)
{
    (void)state;
    char *out = run_self("zlib", "--cases");
    assert_non_null(strstr(out, "backend zlib\n"));
    check_every_case(out);
    free(out);
}

static void test_isal_gives_the_same_codes_bytes_and_messages_as_zlib(void **state)
{
    (void)state;
#if OCIDIR_TEST_HAVE_ISAL
    char *z = run_self("zlib", "--cases");
    char *i = run_self("isal", "--cases");
    assert_non_null(strstr(i, "backend isal\n"));
    check_every_case(i);
    /* Line for line the same, past the backend line. */
    const char *zc = strstr(z, "case "), *ic = strstr(i, "case ");
    assert_non_null(zc);
    assert_non_null(ic);
    if (strcmp(zc, ic) != 0)
        FAIL_MSG("zlib said:\n%s\nISA-L said:\n%s", zc, ic);
    free(z);
    free(i);
#else
    FAIL_MSG("this build has no ISA-L (libisal-dev): install it (scripts/setup) to run this test");
#endif
}

static void test_default_backend_is_the_builds(void **state)
{
    (void)state;
    char *out = run_self(NULL, "--probe");
    char want[64];
    snprintf(want, sizeof want, "backend %s\nrc 0\n", OCIDIR_TEST_DEFAULT_INFLATE);
    if (!strstr(out, want))
        print_error("child said: %s\n", out);
    assert_non_null(strstr(out, want));
    free(out);
    out = run_self("", "--probe");
    assert_non_null(strstr(out, want));
    free(out);
}

static void test_unknown_backend_fails_gzip_layers_with_unsupported(void **state)
{
    (void)state;
    char *out = run_self("gunzip9000", "--probe");
    char want[64];
    snprintf(want, sizeof want, "backend none\nrc %d\n", OCIDIR_E_UNSUPPORTED);
    if (!strstr(out, want))
        print_error("child said: %s\n", out);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "OCIDIR_INFLATE=gunzip9000"));
    free(out);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--cases") == 0)
        return child_cases();
    if (argc == 2 && strcmp(argv[1], "--probe") == 0)
        return child_probe();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zlib_reads_and_refuses_every_case),
        cmocka_unit_test(test_isal_gives_the_same_codes_bytes_and_messages_as_zlib),
        cmocka_unit_test(test_default_backend_is_the_builds),
        cmocka_unit_test(test_unknown_backend_fails_gzip_layers_with_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
