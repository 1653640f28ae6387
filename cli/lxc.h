/*
 * The LXC argument encoding of `ocidir lxc-cmd`, apart so that a test can
 * drive it through a reimplementation of LXC's splitter.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef OCIDIR_CLI_LXC_H
#define OCIDIR_CLI_LXC_H

/*
 * One argument as a word of LXC's lxc_string_split_quoted() syntax: bare,
 * or in "..." or '...' when it is empty, holds whitespace or starts with a
 * quote.  *out is malloc'ed (free()) on success.
 * @return 0; -1 when the syntax cannot express it (a newline; needs quoting
 *         and holds both quote kinds); -2 out of memory.
 */
int lxc_quote_arg(const char *arg, char **out);

#endif
