/* Links against an installed libocidir and checks the run-time version
 * matches the header it was compiled with. */
#include <ocidir.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    char dg[OCIDIR_DIGEST_MAX];
    if (ocidir_version_number() != OCIDIR_VERSION_NUMBER) {
        fprintf(stderr, "header %d, library %u\n", OCIDIR_VERSION_NUMBER, ocidir_version_number());
        return 1;
    }
    if (ocidir_digest_buffer(OCIDIR_SHA256, "abc", 3, dg) != 0 ||
        strcmp(dg, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != 0) {
        fprintf(stderr, "digest of abc: %s\n", dg);
        return 1;
    }
    printf("consumer ok: libocidir %s\n", ocidir_version());
    return 0;
}
