#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include "plainutil.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void tu_rm_rf(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

size_t tu_tar_size(size_t len)
{
    return 512 + (len + 511) / 512 * 512 + 1024;
}

size_t tu_make_tar(unsigned char *out, const char *name, const unsigned char *data, size_t len)
{
    memset(out, 0, 512);
    snprintf((char *)out, 100, "%s", name);
    memcpy(out + 100, "0000644", 8);
    memcpy(out + 108, "0000000", 8);
    memcpy(out + 116, "0000000", 8);
    snprintf((char *)out + 124, 12, "%011llo", (unsigned long long)len);
    snprintf((char *)out + 136, 12, "%011o", 0u);
    memset(out + 148, ' ', 8);
    out[156] = '0';
    memcpy(out + 257, "ustar", 6);
    memcpy(out + 263, "00", 2);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += out[i];
    snprintf((char *)out + 148, 8, "%06o", sum);
    out[155] = ' ';
    memcpy(out + 512, data, len);
    size_t body = (len + 511) / 512 * 512;
    memset(out + 512 + len, 0, body - len + 1024);
    return tu_tar_size(len);
}
