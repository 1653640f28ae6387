/*
 * Splitting a `DIR:REF` argument (see ref.h).
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "ref.h"

#include <string.h>

/* The registered digest algorithms, as the library knows them. */
static const char *const digest_algs[] = {"sha256", "sha512"};

/* Does arg[0..end) end with ":<alg>" for a registered algorithm?  If so,
 * return the position of that ':'; else return (size_t)-1. */
static size_t colon_before_alg(const char *arg, size_t end)
{
    for (size_t i = 0; i < sizeof digest_algs / sizeof digest_algs[0]; i++) {
        size_t n = strlen(digest_algs[i]);
        if (end >= n + 1 && arg[end - n - 1] == ':' && memcmp(arg + end - n, digest_algs[i], n) == 0)
            return end - n - 1;
    }
    return (size_t)-1;
}

int cli_split_ref(const char *arg, size_t *dir_len, const char **ref)
{
    const char *last = strrchr(arg, ':');
    if (!last)
        return CLI_REF_NO_COLON;
    size_t split = (size_t)(last - arg);
    const char *enc = last + 1;
    if (*enc && !strchr(enc, '/')) {
        size_t before = colon_before_alg(arg, split);
        if (before != (size_t)-1)
            split = before;
    }
    if (split == 0)
        return CLI_REF_EMPTY_DIR;
    if (arg[split + 1] == '\0')
        return CLI_REF_EMPTY_REF;
    *dir_len = split;
    *ref = arg + split + 1;
    return CLI_REF_OK;
}

const char *cli_split_ref_strerror(int result)
{
    switch (result) {
    case CLI_REF_OK:
        return "ok";
    case CLI_REF_NO_COLON:
        return "expected DIR:REF (a tag or digest after ':')";
    case CLI_REF_EMPTY_DIR:
        return "nothing before ':' in DIR:REF";
    case CLI_REF_EMPTY_REF:
        return "nothing after ':' in DIR:REF";
    default:
        return "unknown result";
    }
}
