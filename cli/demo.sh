#!/bin/bash
# A short ocidir session over a shared blob cache: import two images from tar
# files into a layout whose blobs go to the cache (--blobdir), list, inspect,
# check, clone, untag one image and collect what only it used.
#   cli/demo.sh OCIDIR_BINARY WORK_DIR
# Each command is echoed before it runs; the first failure ends the session
# with a non-zero status.
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 OCIDIR_BINARY WORK_DIR" >&2
    exit 2
fi
ocidir=$(readlink -f "$1")
work=$2
mkdir -p "$work"
cd "$work"
rm -rf rootfs overlay base.tar overlay.tar layout cache clone

run() {
    echo "\$ $*"
    "$@"
    echo
}

# Two tar files with fixed owners, times and order: the same every run.
mkdir -p rootfs/bin rootfs/etc overlay/etc
printf '#!/bin/sh\necho hello from the demo image\n' > rootfs/bin/hello
chmod 0755 rootfs/bin/hello
printf 'NAME=demo\n' > rootfs/etc/os-release
printf 'greeting=hi\n' > overlay/etc/demo.conf
for t in rootfs:base overlay:overlay; do
    run tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "${t%%:*}" -cf "${t##*:}.tar" .
done

mkdir cache
run "$ocidir" init layout
# v1: both layers; v2: the base layer only, so the two images share its blob.
run "$ocidir" --blobdir cache import layout:v1 --created 2024-01-01T00:00:00Z \
    --entrypoint /bin/hello --env PATH=/bin --workdir / --label org.example.demo=v1 base.tar overlay.tar
run "$ocidir" --blobdir cache import layout:v2 --created 2024-01-01T00:00:00Z \
    --cmd /bin/hello base.tar
run "$ocidir" --blobdir cache ls layout
run "$ocidir" --blobdir cache inspect layout:v1
run "$ocidir" --blobdir cache fsck layout
echo "# every blob went to the cache, none to the layout:"
run ls cache/sha256 layout/blobs/sha256

run "$ocidir" --blobdir cache clone layout clone
run "$ocidir" fsck clone

run "$ocidir" untag layout v1
# Without --grace 0, blobs written in the last hour would be kept.
run "$ocidir" gc --dry-run --grace 0 --cache cache layout
run "$ocidir" gc --grace 0 --cache cache layout
run "$ocidir" --blobdir cache fsck layout
echo "\$ $ocidir --blobdir cache export layout:v2 --layer 0 | tar -tv"
"$ocidir" --blobdir cache export layout:v2 --layer 0 | tar -tv
echo
echo "demo: every step succeeded"
