/*
 * ocidir-consumer - an outside project's first use of an installed libocidir.
 * The Makefile beside it builds it with nothing but
 * `pkg-config --cflags --libs ocidir`; tests/check_install.sh builds it that
 * way (and with CMake's find_package) against a scratch install.
 *
 *   ocidir-consumer LAYOUT_DIR
 *
 * Checks that the library loaded is the version the header describes,
 * creates the layout LAYOUT_DIR (or opens it), commits an image without
 * layers whose Cmd is ["/bin/echo", "hello"] under the tag "hello", and reads
 * it back through a read-only handle.  Exit status 0 when all of it worked;
 * 1 with the library's message otherwise; 2 for bad usage.
 *
 * Copyright the libocidir authors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h> /* AT_FDCWD */
#include <stdio.h>
#include <string.h>

#include <ocidir.h>

static int failed(const char *what, int rc)
{
    fprintf(stderr, "ocidir-consumer: %s: %s (%d): %s\n", what, ocidir_strerror(rc), rc,
            ocidir_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    static const char *const cmd[] = {"/bin/echo", "hello", NULL};
    if (argc != 2) {
        fprintf(stderr, "usage: %s LAYOUT_DIR\n", argv[0]);
        return 2;
    }
    if (ocidir_version_number() != OCIDIR_VERSION_NUMBER) {
        fprintf(stderr, "ocidir-consumer: compiled against libocidir %d, running with %s\n",
                OCIDIR_VERSION_NUMBER, ocidir_version());
        return 1;
    }

    ocidir_t *d = NULL;
    ocidir_builder_t *b = NULL;
    char written[OCIDIR_DIGEST_MAX];
    int rc;
    if ((rc = ocidir_open(AT_FDCWD, argv[1], OCIDIR_OPEN_CREATE, &d)) < 0)
        return failed("ocidir_open(CREATE)", rc);
    if ((rc = ocidir_builder_new(d, NULL, &b)) < 0 ||
        (rc = ocidir_builder_set_created(b, "2024-01-01T00:00:00Z")) < 0 ||
        (rc = ocidir_builder_set_config_strv(b, OCIDIR_CONFIG_CMD, cmd)) < 0 ||
        (rc = ocidir_builder_commit(b, "hello", 0, written)) < 0) {
        failed("building the image \"hello\"", rc);
        ocidir_builder_free(b);
        ocidir_close(d);
        return 1;
    }
    ocidir_builder_free(b);
    ocidir_close(d);

    /* Read it back as another program would. */
    ocidir_image_t *img = NULL;
    char read_back[OCIDIR_DIGEST_MAX];
    char **got = NULL;
    if ((rc = ocidir_open(AT_FDCWD, argv[1], OCIDIR_OPEN_RDONLY, &d)) < 0)
        return failed("ocidir_open(RDONLY)", rc);
    if ((rc = ocidir_image_open(d, "hello", NULL, &img)) < 0 ||
        (rc = ocidir_image_manifest(img, read_back, NULL, NULL)) < 0 ||
        (rc = ocidir_image_config_strv(img, OCIDIR_CONFIG_CMD, &got)) < 0) {
        failed("reading the image \"hello\" back", rc);
        ocidir_image_close(img);
        ocidir_close(d);
        return 1;
    }
    int same = strcmp(read_back, written) == 0 && got && got[0] && got[1] && !got[2] &&
               strcmp(got[0], cmd[0]) == 0 && strcmp(got[1], cmd[1]) == 0;
    ocidir_strv_free(got);
    ocidir_image_close(img);
    ocidir_close(d);
    if (!same) {
        fprintf(stderr, "ocidir-consumer: the image read back is not the one written (%s)\n",
                written);
        return 1;
    }
    printf("consumer ok: libocidir %s, %s:hello = %s\n", ocidir_version(), argv[1], written);
    return 0;
}
