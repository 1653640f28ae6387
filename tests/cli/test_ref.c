/*
 * The DIR:REF splitter of the ocidir tool (cli/ref.c), alone.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ref.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Split `arg`; it must succeed with this directory and ref. */
static void split_ok(const char *arg, const char *want_dir, const char *want_ref)
{
    size_t dir_len = 0;
    const char *ref = NULL;
    assert_int_equal(cli_split_ref(arg, &dir_len, &ref), CLI_REF_OK);
    assert_int_equal(dir_len, strlen(want_dir));
    assert_memory_equal(arg, want_dir, dir_len);
    assert_string_equal(ref, want_ref);
}

/* Split `arg`; it must fail with `result` and leave the out-parameters alone. */
static void split_fails(const char *arg, int result)
{
    size_t dir_len = 12345;
    const char *ref = "untouched";
    assert_int_equal(cli_split_ref(arg, &dir_len, &ref), result);
    assert_int_equal(dir_len, 12345);
    assert_string_equal(ref, "untouched");
    assert_non_null(strstr(cli_split_ref_strerror(result), ":"));
}

static void test_tag_splits_at_last_colon(void **state)
{
    (void)state;
    split_ok("layout:v1", "layout", "v1");
    split_ok("/var/lib/images/layout:latest", "/var/lib/images/layout", "latest");
}

static void test_path_with_colons_keeps_them_in_dir(void **state)
{
    (void)state;
    split_ok("/tmp/a:b/c:d/layout:v1", "/tmp/a:b/c:d/layout", "v1");
    split_ok("dir:a:b", "dir:a", "b"); /* a tag with ':' needs its dir before the last ':' */
}

static void test_digest_ref_splits_before_algorithm(void **state)
{
    (void)state;
    split_ok("layout:sha256:" HEX64, "layout", "sha256:" HEX64);
    split_ok("/x:y/layout:sha512:" HEX64 HEX64, "/x:y/layout", "sha512:" HEX64 HEX64);
    /* Malformed digests are still split as digests: the caller reports them. */
    split_ok("layout:sha256:short", "layout", "sha256:short");
    /* An algorithm name inside a path component is not a digest ref. */
    split_ok("a/sha256:b/c:v1", "a/sha256:b/c", "v1");
    split_ok("layout:sha256:abc/def", "layout:sha256", "abc/def");
}

static void test_at_sign_is_not_special(void **state)
{
    (void)state;
    split_ok("layout@sha256:" HEX64, "layout@sha256", HEX64);
    split_ok("lay@out:v1", "lay@out", "v1");
    split_ok("layout:v1@x", "layout", "v1@x");
}

static void test_missing_parts_are_errors(void **state)
{
    (void)state;
    split_fails("layout", CLI_REF_NO_COLON);
    split_fails("", CLI_REF_NO_COLON);
    split_fails(":v1", CLI_REF_EMPTY_DIR);
    split_fails(":sha256:" HEX64, CLI_REF_EMPTY_DIR);
    split_fails("layout:", CLI_REF_EMPTY_REF);
    split_fails("layout:sha256:", CLI_REF_EMPTY_REF);
}

static void test_algorithm_without_dir_is_a_dir(void **state)
{
    (void)state;
    /* No ':' before the algorithm: the rule is the last ':'. */
    split_ok("sha256:" HEX64, "sha256", HEX64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tag_splits_at_last_colon),
        cmocka_unit_test(test_path_with_colons_keeps_them_in_dir),
        cmocka_unit_test(test_digest_ref_splits_before_algorithm),
        cmocka_unit_test(test_at_sign_is_not_special),
        cmocka_unit_test(test_missing_parts_are_errors),
        cmocka_unit_test(test_algorithm_without_dir_is_a_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
