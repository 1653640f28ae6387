#include "tar_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tg_init(tg_tar_t *t) { memset(t, 0, sizeof *t); }

void tg_free(tg_tar_t *t)
{
    free(t->buf);
    memset(t, 0, sizeof *t);
}

void tg_raw(tg_tar_t *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        size_t c = t->cap ? t->cap : 4096;
        while (c < t->len + n)
            c *= 2;
        t->buf = realloc(t->buf, c);
        if (!t->buf)
            abort();
        t->cap = c;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

static void pad(tg_tar_t *t)
{
    static const unsigned char zero[512];
    if (t->len % 512)
        tg_raw(t, zero, 512 - t->len % 512);
}

static void octal(char *field, size_t width, uint64_t v)
{
    /* width-1 digits and a NUL; values too large use the base-256 form. */
    if (width - 1 < 22 && v >> (3 * (width - 1))) {
        memset(field, 0, width);
        field[0] = (char)0x80;
        for (size_t i = width - 1; i > 0 && v; i--, v >>= 8)
            field[i] = (char)(v & 0xff);
        return;
    }
    snprintf(field, width, "%0*llo", (int)(width - 1), (unsigned long long)v);
}

void tg_entry(tg_tar_t *t, const tg_entry_t *e)
{
    char h[512];
    memset(h, 0, sizeof h);
    strncpy(h, e->name, 100);
    unsigned mode = e->mode ? e->mode : (e->type == '5' ? 0755 : 0644);
    octal(h + 100, 8, mode);
    octal(h + 108, 8, e->uid);
    octal(h + 116, 8, e->gid);
    octal(h + 124, 12, e->size);
    octal(h + 136, 12, e->mtime ? e->mtime : 1000000000);
    memset(h + 148, ' ', 8);
    h[156] = e->type ? e->type : '0';
    if (e->link)
        strncpy(h + 157, e->link, 100);
    memcpy(h + 257, "ustar\0" "00", 8);
    strcpy(h + 265, "root");
    strcpy(h + 297, "root");
    octal(h + 329, 8, e->devmajor);
    octal(h + 337, 8, e->devminor);
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
    tg_raw(t, h, 512);
    if (e->data_len) {
        tg_raw(t, e->data, e->data_len);
        pad(t);
    }
}

void tg_file(tg_tar_t *t, const char *name, unsigned mode, const char *content)
{
    size_t n = content ? strlen(content) : 0;
    tg_entry(t, &(tg_entry_t){.name = name, .type = '0', .mode = mode, .size = n, .data = content, .data_len = n});
}

void tg_dir(tg_tar_t *t, const char *name, unsigned mode)
{
    tg_entry(t, &(tg_entry_t){.name = name, .type = '5', .mode = mode});
}

void tg_symlink(tg_tar_t *t, const char *name, const char *target)
{
    tg_entry(t, &(tg_entry_t){.name = name, .type = '2', .mode = 0777, .link = target});
}

void tg_hardlink(tg_tar_t *t, const char *name, const char *target)
{
    tg_entry(t, &(tg_entry_t){.name = name, .type = '1', .link = target});
}

void tg_pax(tg_tar_t *t, const char *const *records)
{
    size_t cap = 1024, len = 0;
    for (const char *const *r = records; *r; r++)
        cap += strlen(*r) + 32;
    char *body = malloc(cap);
    if (!body)
        abort();
    for (const char *const *r = records; *r; r++) {
        size_t n = strlen(*r) + 2; /* ' ' and '\n' */
        size_t digits = 1, total;
        for (;;) {
            total = n + digits;
            size_t d = snprintf(NULL, 0, "%zu", total);
            if (d == digits)
                break;
            digits = d;
        }
        len += (size_t)sprintf(body + len, "%zu %s\n", total, *r);
    }
    tg_entry(t, &(tg_entry_t){.name = "PaxHeaders/x", .type = 'x', .size = len, .data = body, .data_len = len});
    free(body);
}

void tg_gnu_longname(tg_tar_t *t, const char *name)
{
    size_t n = strlen(name) + 1;
    tg_entry(t, &(tg_entry_t){.name = "././@LongLink", .type = 'L', .size = n, .data = name, .data_len = n});
}

void tg_end(tg_tar_t *t)
{
    static const unsigned char zero[1024];
    tg_raw(t, zero, sizeof zero);
}
