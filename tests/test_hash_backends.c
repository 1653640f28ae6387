/*
 * Hash backends: libsodium and libcrypto give the same digests.
 *
 * One process uses one backend (chosen once, from OCIDIR_HASH_BACKEND or the
 * build's default), so each test runs this program again as a child with
 * the variable set ("--digests SEED" prints the digests of a corpus, through
 * ocidir_digest_buffer and through blob writers fed at random boundaries)
 * and compares every child's digests with sha256sum / sha512sum's of the
 * same bytes.
 *
 * The build says which backends are compiled in (OCIDIR_TEST_HAVE_OPENSSL)
 * and which is its default (OCIDIR_TEST_DEFAULT_BACKEND).
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (1024u * 1024u)

/* The corpus: SHA-256 works in 64-byte blocks, SHA-512 in 128-byte ones. */
static const size_t kSizes[] = {0, 1, 63, 64, 65, 127, 128, 129, MIB - 1, MIB, MIB + 1, 100 * MIB};
static const struct {
    ocidir_digest_alg_t alg;
    const char *name, *tool;
} kAlgs[] = {{OCIDIR_SHA256, "sha256", "sha256sum"}, {OCIDIR_SHA512, "sha512", "sha512sum"}};

struct child_out {
    char backend[64];
    char digest[N(kAlgs)][N(kSizes)][2][OCIDIR_DIGEST_MAX]; /* [alg][size][oneshot, stream] */
};

static uint32_t size_seed(size_t size) { return (uint32_t)(size * 7919u + 17u); }

/* ---- the child ------------------------------------------------------------ */

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A random split: often tiny pieces (ending inside a hash block), sometimes
 * empty ones, sometimes large ones. */
static size_t random_piece(size_t left)
{
    size_t n;
    switch (rng() % 4) {
    case 0: n = 0; break;
    case 1: n = rng() % 200; break;
    case 2: n = rng() % 70000; break;
    default: n = rng() % (3 * MIB); break;
    }
    return n < left ? n : left;
}

static int child_digests(uint64_t seed)
{
    rng_state = seed | 1;
    printf("backend %s\n", ocidir_hash_backend());
    char *dir = tu_mkdtemp_shm("hashb");
    if (!dir)
        dir = tu_mkdtemp("hashb");
    ocidir_t *d = NULL;
    if (ocidir_open(AT_FDCWD, dir, OCIDIR_OPEN_CREATE, &d) != 0) {
        fprintf(stderr, "ocidir_open(%s): %s\n", dir, ocidir_last_error());
        return 1;
    }
    int status = 0;
    for (size_t s = 0; s < N(kSizes) && status == 0; s++) {
        unsigned char *buf = malloc(kSizes[s] ? kSizes[s] : 1);
        if (!buf)
            return 1;
        tu_fill(buf, kSizes[s], size_seed(kSizes[s]));
        for (size_t a = 0; a < N(kAlgs); a++) {
            char dg[OCIDIR_DIGEST_MAX];
            if (ocidir_digest_buffer(kAlgs[a].alg, buf, kSizes[s], dg) != 0) {
                fprintf(stderr, "ocidir_digest_buffer(%zu): %s\n", kSizes[s], ocidir_last_error());
                status = 1;
                break;
            }
            printf("%s %zu oneshot %s\n", kAlgs[a].name, kSizes[s], dg);
            ocidir_blob_writer_t *w = NULL;
            int rc = ocidir_blob_writer_new(d, kAlgs[a].alg, &w);
            for (size_t off = 0; rc == 0 && off < kSizes[s];) {
                size_t n = random_piece(kSizes[s] - off);
                rc = ocidir_blob_writer_write(w, buf + off, n);
                off += n;
            }
            if (rc == 0)
                rc = ocidir_blob_writer_commit(w, dg, NULL);
            else
                ocidir_blob_writer_abort(w);
            if (rc != 0) {
                fprintf(stderr, "blob writer (%zu bytes): %s\n", kSizes[s], ocidir_last_error());
                status = 1;
                break;
            }
            printf("%s %zu stream %s\n", kAlgs[a].name, kSizes[s], dg);
        }
        free(buf);
    }
    ocidir_close(d);
    tu_rm_rf(dir);
    free(dir);
    return status;
}

/* With an unusable OCIDIR_HASH_BACKEND: what the library says. */
static int child_probe(void)
{
    char dg[OCIDIR_DIGEST_MAX];
    int rc = ocidir_digest_buffer(OCIDIR_SHA256, "x", 1, dg);
    printf("backend %s\nrc %d\nmessage %s\n", ocidir_hash_backend(), rc, rc ? ocidir_last_error() : "");
    return 0;
}

/* ---- the parent ----------------------------------------------------------- */

static size_t size_index(size_t size)
{
    for (size_t i = 0; i < N(kSizes); i++)
        if (kSizes[i] == size)
            return i;
    fail_msg("child printed an unknown size %zu", size);
    return 0;
}

/* Run this program with OCIDIR_HASH_BACKEND=backend (NULL: unset) and ARGS;
 * returns its whole output (caller frees). */
static char *run_self(const char *backend, const char *args)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    char *cmd = NULL;
    if (backend)
        assert_true(asprintf(&cmd, "OCIDIR_HASH_BACKEND='%s' '%s' %s", backend, self, args) > 0);
    else
        assert_true(asprintf(&cmd, "env -u OCIDIR_HASH_BACKEND '%s' %s", self, args) > 0);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t got;
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

static void parse_child(char *out, struct child_out *c)
{
    memset(c, 0, sizeof *c);
    size_t lines = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char alg[16], kind[16], dg[OCIDIR_DIGEST_MAX];
        size_t size;
        if (sscanf(line, "backend %63s", c->backend) == 1)
            continue;
        assert_int_equal(sscanf(line, "%15s %zu %15s %135s", alg, &size, kind, dg), 4);
        size_t a = strcmp(alg, "sha256") == 0 ? 0 : 1;
        size_t k = strcmp(kind, "oneshot") == 0 ? 0 : 1;
        strcpy(c->digest[a][size_index(size)][k], dg);
        lines++;
    }
    assert_int_equal(lines, N(kAlgs) * N(kSizes) * 2);
}

/* "<alg>:<hex>" of the corpus entry, from sha256sum / sha512sum. */
static char reference[N(kAlgs)][N(kSizes)][OCIDIR_DIGEST_MAX];

static int setup_reference(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("hashref");
    for (size_t s = 0; s < N(kSizes); s++) {
        unsigned char *buf = malloc(kSizes[s] ? kSizes[s] : 1);
        assert_non_null(buf);
        tu_fill(buf, kSizes[s], size_seed(kSizes[s]));
        char *file = tu_join(dir, "corpus");
        tu_write_file(file, buf, kSizes[s]);
        free(buf);
        for (size_t a = 0; a < N(kAlgs); a++) {
            char *cmd = NULL, hex[200];
            assert_true(asprintf(&cmd, "%s < '%s'", kAlgs[a].tool, file) > 0);
            FILE *p = popen(cmd, "r");
            assert_non_null(p);
            assert_int_equal(fscanf(p, "%199s", hex), 1);
            assert_int_equal(pclose(p), 0);
            snprintf(reference[a][s], OCIDIR_DIGEST_MAX, "%s:%.128s", kAlgs[a].name, hex);
            free(cmd);
        }
        free(file);
    }
    tu_rm_rf(dir);
    free(dir);
    return 0;
}

static void check_backend(const char *env_value, const char *want_name)
{
    char args[64];
    uint64_t seed = (uint64_t)time(NULL) * 6364136223846793005u ^ (uint64_t)getpid();
    snprintf(args, sizeof args, "--digests %llu", (unsigned long long)seed);
    char *out = run_self(env_value, args);
    struct child_out *c = malloc(sizeof *c);
    assert_non_null(c);
    parse_child(out, c);
    print_message("backend %s (OCIDIR_HASH_BACKEND=%s), split seed %llu\n", c->backend,
                  env_value ? env_value : "(unset)", (unsigned long long)seed);
    assert_string_equal(c->backend, want_name);
    for (size_t a = 0; a < N(kAlgs); a++)
        for (size_t s = 0; s < N(kSizes); s++) {
            if (strcmp(c->digest[a][s][0], reference[a][s]) != 0 || strcmp(c->digest[a][s][1], reference[a][s]) != 0)
                print_error("%s, %zu bytes: one-shot %s, streamed %s, %s says %s\n", c->backend, kSizes[s],
                            c->digest[a][s][0], c->digest[a][s][1], kAlgs[a].tool, reference[a][s]);
            assert_string_equal(c->digest[a][s][0], reference[a][s]);
            assert_string_equal(c->digest[a][s][1], reference[a][s]);
        }
    free(c);
    free(out);
}

static void test_libsodium_digests_match_sha256sum_and_sha512sum(void **state)
{
    (void)state;
    check_backend("sodium", "libsodium");
}

#if OCIDIR_TEST_HAVE_OPENSSL
static void test_libcrypto_digests_match_sha256sum_and_sha512sum(void **state)
{
    (void)state;
    check_backend("openssl", "libcrypto");
}
#endif

static void test_default_backend_is_the_builds_choice(void **state)
{
    (void)state;
    char want[64];
    snprintf(want, sizeof want, "backend %s\nrc 0\n", OCIDIR_TEST_DEFAULT_BACKEND);
    char *out = run_self(NULL, "--probe");
    assert_non_null(strstr(out, want));
    free(out);
    /* The empty value means the default too. */
    out = run_self("", "--probe");
    assert_non_null(strstr(out, want));
    free(out);
}

static void test_long_names_select_the_same_backends(void **state)
{
    (void)state;
    char *out = run_self("libsodium", "--probe");
    assert_non_null(strstr(out, "backend libsodium\nrc 0\n"));
    free(out);
#if OCIDIR_TEST_HAVE_OPENSSL
    out = run_self("libcrypto", "--probe");
    assert_non_null(strstr(out, "backend libcrypto\nrc 0\n"));
    free(out);
#endif
}

static void test_unknown_backend_fails_every_hash_with_unsupported(void **state)
{
    (void)state;
    char *out = run_self("md5please", "--probe");
    char want[64];
    snprintf(want, sizeof want, "backend none\nrc %d\n", OCIDIR_E_UNSUPPORTED);
    if (!strstr(out, want))
        print_error("child said: %s\n", out);
    assert_non_null(strstr(out, want));
    /* The message names the variable and the value. */
    assert_non_null(strstr(out, "OCIDIR_HASH_BACKEND=md5please"));
    free(out);
#if !OCIDIR_TEST_HAVE_OPENSSL
    out = run_self("openssl", "--probe");
    assert_non_null(strstr(out, "backend none\n"));
    free(out);
#endif
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--digests") == 0)
        return child_digests(strtoull(argv[2], NULL, 10));
    if (argc == 2 && strcmp(argv[1], "--probe") == 0)
        return child_probe();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libsodium_digests_match_sha256sum_and_sha512sum),
#if OCIDIR_TEST_HAVE_OPENSSL
        cmocka_unit_test(test_libcrypto_digests_match_sha256sum_and_sha512sum),
#endif
        cmocka_unit_test(test_default_backend_is_the_builds_choice),
        cmocka_unit_test(test_long_names_select_the_same_backends),
        cmocka_unit_test(test_unknown_backend_fails_every_hash_with_unsupported),
    };
    return cmocka_run_group_tests(tests, setup_reference, NULL);
}
