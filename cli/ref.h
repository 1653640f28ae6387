/*
 * Splitting a `DIR:REF` argument of the ocidir tool.  Pure: no I/O, no
 * allocation, no global state, so that a fuzz target can link ref.c alone.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef OCIDIR_CLI_REF_H
#define OCIDIR_CLI_REF_H

#include <stddef.h>

/* Results of cli_split_ref(). */
enum {
    CLI_REF_OK = 0,
    CLI_REF_NO_COLON = 1,  /* no ':' at all: the argument is only a DIR */
    CLI_REF_EMPTY_DIR = 2, /* nothing before the split point (":tag") */
    CLI_REF_EMPTY_REF = 3  /* nothing after it ("dir:") */
};

/*
 * Split `arg` into a directory and a ref.
 *
 * The split is at the last ':' of `arg`, except when `arg` ends with a digest
 * ref, ":sha256:<enc>" or ":sha512:<enc>" (<enc> non-empty and without '/'
 * or ':'), where it is at the ':' before the algorithm.  So "/a:b/layout:v1"
 * gives "/a:b/layout" and "v1", "layout:sha256:<hex>" gives "layout" and
 * "sha256:<hex>", and '@' has no special meaning ("layout@sha256:<hex>" gives
 * "layout@sha256" and "<hex>").  A tag may itself contain ':'; such a tag is
 * written with its directory before the last ':' only ("dir:a:b" is the
 * directory "dir:a" and the tag "b").  Whether the ref is a valid tag or
 * digest is not checked here.
 *
 * @param arg     NUL-terminated argument; must not be NULL.
 * @param dir_len receives the length of the directory part (arg[0..dir_len)).
 * @param ref     receives a pointer into arg to the ref (NUL-terminated).
 * @return CLI_REF_OK, or another CLI_REF_* (then the out-parameters are not
 *         written).
 */
int cli_split_ref(const char *arg, size_t *dir_len, const char **ref);

/* One-line English text for a CLI_REF_* result; never NULL. */
const char *cli_split_ref_strerror(int result);

#endif /* OCIDIR_CLI_REF_H */
