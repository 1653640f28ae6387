/* A tar generator for the unpack tests: raw ustar headers, pax extended
 * headers and GNU long-name headers written byte by byte, so that the tests
 * can make the malformed and hostile layers no tar tool would write. */
#ifndef TAR_GEN_H
#define TAR_GEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    unsigned char *buf;
    size_t len, cap;
} tg_tar_t;

typedef struct {
    const char *name;     /* up to 100 bytes here (longer: tg_pax_path / tg_gnu_longname first) */
    char type;            /* '0' file, '5' dir, '2' symlink, '1' hard link, '6' fifo, '3' char, '4' block */
    unsigned mode;        /* 0 means 0644 (0755 for directories) */
    unsigned uid, gid;
    uint64_t size;        /* the header's size field (content written is `data`, `data_len`) */
    uint64_t mtime;       /* seconds */
    const char *link;     /* link target */
    unsigned devmajor, devminor;
    const void *data;
    size_t data_len;      /* bytes of content written (padded to 512) */
} tg_entry_t;

void tg_init(tg_tar_t *t);
void tg_free(tg_tar_t *t);
/* Raw bytes appended. */
void tg_raw(tg_tar_t *t, const void *p, size_t n);
/* A header (and its content, padded). */
void tg_entry(tg_tar_t *t, const tg_entry_t *e);
/* Shorthands (uid/gid 0, mtime 1000000000). */
void tg_file(tg_tar_t *t, const char *name, unsigned mode, const char *content);
void tg_dir(tg_tar_t *t, const char *name, unsigned mode);
void tg_symlink(tg_tar_t *t, const char *name, const char *target);
void tg_hardlink(tg_tar_t *t, const char *name, const char *target);
/* A pax extended header ('x') for the next entry: `records` is a
 * NULL-terminated list of "key=value" strings (values may not contain NUL). */
void tg_pax(tg_tar_t *t, const char *const *records);
/* A GNU long-name header ('L') for the next entry. */
void tg_gnu_longname(tg_tar_t *t, const char *name);
/* Two zero blocks. */
void tg_end(tg_tar_t *t);

#endif
