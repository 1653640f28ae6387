/*
 * The LXC argument encoding of `ocidir lxc-cmd` (lxc.h).
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "lxc.h"

static int lxc_space(char c)
{
    /* isspace() in the C locale, as LXC's splitter uses it */
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int lxc_quote_arg(const char *arg, char **out)
{
    *out = NULL;
    if (strchr(arg, '\n'))
        return -1;
    int needs = arg[0] == '\0' || arg[0] == '"' || arg[0] == '\'';
    for (const char *p = arg; *p && !needs; p++)
        needs = lxc_space(*p);
    char q = 0;
    if (needs) {
        if (!strchr(arg, '"'))
            q = '"';
        else if (!strchr(arg, '\''))
            q = '\'';
        else
            return -1;
    }
    size_t n = strlen(arg);
    char *s = malloc(n + 3);
    if (!s)
        return -2;
    char *w = s;
    if (q)
        *w++ = q;
    memcpy(w, arg, n);
    w += n;
    if (q)
        *w++ = q;
    *w = '\0';
    *out = s;
    return 0;
}
