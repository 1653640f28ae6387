#!/bin/bash
# `ocidir clone` on filesystems that can reflink, for real.
#
#   test_reflink.sh OCIDIR_BINARY
#
# Needs root (loop mounts).  In a private mount namespace (unshare -m, every
# mount private, so nothing is seen outside and everything goes with the
# namespace), it makes a btrfs image (mkfs.btrfs) and an XFS image with
# reflink=1 (mkfs.xfs), loop-mounts each, builds a layout there with the
# ocidir tool (two images, four layers, sizes from 0 bytes to 2 MiB), clones
# it within the same filesystem and checks that:
#   - the clone's report (--json, and the text line) says every blob was
#     reflinked, none hard-linked or copied;
#   - every blob of the clone is its own inode (no hard link) whose extents
#     are the source's: `filefrag -v` lists the same physical offsets, each
#     flagged "shared" (FIEMAP_EXTENT_SHARED), for every blob with data
#     outside the metadata;
#   - `ocidir fsck` passes on the clone, and the clone's index.json is the
#     source's byte for byte.
# Then `clone --no-hardlink` on tmpfs and on ext4 (no reflink there) falls
# back to copying: the report says every blob was copied, and the copies are
# separate inodes that share no extent.
#
# A missing precondition (not root, a missing tool, a mount refused) FAILS the
# test with the reason: it never skips.  Every exit path unmounts what was
# mounted and removes the work directory (set KEEP=1 to keep it).
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

ocidir=${1:?usage: test_reflink.sh OCIDIR_BINARY}
ocidir=$(readlink -f "$ocidir")
self=$(readlink -f "$0")

# ---------------------------------------------------------------------------
# Outside the namespace: check the preconditions, make the work directory,
# run the checks in a private mount namespace, clean up.
# ---------------------------------------------------------------------------
if [ "${OCIDIR_REFLINK_INNER:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || fail "must run as root to loop-mount filesystem images (uid $(id -u))"
    [ -x "$ocidir" ] || fail "$ocidir is not an executable"
    export PATH="$PATH:/usr/sbin:/sbin"
    for tool in unshare mount umount losetup mkfs.btrfs mkfs.xfs mkfs.ext4 filefrag; do
        command -v "$tool" >/dev/null ||
            fail "$tool is not installed (btrfs-progs, xfsprogs, e2fsprogs, util-linux; scripts/setup installs them)"
    done
    work=$(mktemp -d "${TMPDIR:-/tmp}/ocidir-reflink.XXXXXX")
    trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM
    rc=0
    OCIDIR_REFLINK_INNER=1 OCIDIR_REFLINK_WORK=$work \
        unshare --mount --propagation private -- bash "$self" "$ocidir" || rc=$?
    # The namespace is gone: nothing it mounted may be left in ours.
    if grep -qF "$work" /proc/self/mountinfo; then
        grep -F "$work" /proc/self/mountinfo >&2
        fail "a mount under $work leaked out of the private namespace"
    fi
    # A loop device detaches itself when its filesystem goes (autoclear),
    # which the kernel may finish a moment after the namespace is gone.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        losetup -a 2>/dev/null | grep -qF "$work" || break
        sleep 0.3
    done
    if losetup -a 2>/dev/null | grep -qF "$work"; then
        losetup -a | grep -F "$work" >&2
        fail "a loop device of $work was left attached"
    fi
    [ "$rc" = 0 ] || exit "$rc"
    echo "test_reflink: 4 passed, 0 failed"
    exit 0
fi

# ---------------------------------------------------------------------------
# Inside the private mount namespace.
# ---------------------------------------------------------------------------
work=${OCIDIR_REFLINK_WORK:?}
mounts=()
cleanup() {
    local m i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        m=${mounts[i]}
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "warning: could not unmount $m" >&2
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Nothing mounted here propagates back to the parent namespace.
mount --make-rprivate / || fail "mount --make-rprivate / failed: cannot make the mounts private"

# The images live on a tmpfs of this namespace: they use only the memory of
# the blocks written (tens of MiB), and the many fsyncs of the library do not
# wait for the disk under them.
mkdir -p "$work/images"
out=$(mount -t tmpfs -o size=1g,mode=0700 tmpfs "$work/images" 2>&1) ||
    fail "cannot mount a tmpfs on $work/images for the images: $out"
mounts+=("$work/images")

# mount_fs KIND DIR: make a filesystem of KIND in an image file and mount it on DIR.
mount_fs() {
    local kind=$1 dir=$2 img=$work/images/$1.img out
    mkdir -p "$dir"
    case $kind in
    btrfs)
        truncate -s 256M "$img"
        out=$(mkfs.btrfs -q -f "$img" 2>&1) || fail "mkfs.btrfs failed: $out"
        ;;
    xfs)
        # XFS wants about 300 MB at least; the file is sparse.
        truncate -s 320M "$img"
        out=$(mkfs.xfs -q -f -m reflink=1 "$img" 2>&1) || fail "mkfs.xfs -m reflink=1 failed: $out"
        ;;
    ext4)
        truncate -s 64M "$img"
        out=$(mkfs.ext4 -q -F "$img" 2>&1) || fail "mkfs.ext4 failed: $out"
        ;;
    tmpfs)
        out=$(mount -t tmpfs -o size=64m tmpfs "$dir" 2>&1) || fail "cannot mount a tmpfs on $dir: $out"
        mounts+=("$dir")
        return
        ;;
    esac
    out=$(mount -o loop "$img" "$dir" 2>&1) ||
        fail "cannot loop-mount the $kind image $img on $dir: $out (no loop devices, or the kernel lacks $kind?)"
    mounts+=("$dir")
    local fstype want=$kind
    [ "$kind" != ext4 ] || want=ext2/ext3 # what statfs calls every ext*
    fstype=$(stat -f -c %T "$dir")
    [ "$fstype" = "$want" ] || fail "$dir is $fstype, not $kind"
}

# make_layout DIR: a layout with two images sharing a base layer; four layers
# from 0 bytes to 2 MiB, uncompressed so the layer blobs keep their size.
make_layout() {
    local dir=$1 t=$work/tars
    if [ ! -d "$t" ]; then
        mkdir -p "$t/a" "$t/b" "$t/c" "$t/d"
        head -c $((2 << 20)) /dev/urandom >"$t/a/big"
        head -c $((300 << 10)) /dev/urandom >"$t/b/medium"
        printf 'small file\n' >"$t/c/small"
        head -c $((1 << 20)) /dev/urandom >"$t/d/one-mib"
        local x
        for x in a b c d; do
            tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$t/$x" -cf "$t/$x.tar" .
        done
    fi
    "$ocidir" --quiet init "$dir" || fail "ocidir init $dir"
    "$ocidir" --quiet import "$dir:v1" --compression none "$t/a.tar" "$t/b.tar" "$t/c.tar" >/dev/null ||
        fail "ocidir import $dir:v1"
    "$ocidir" --quiet import "$dir:v2" --compression gzip "$t/a.tar" "$t/d.tar" >/dev/null ||
        fail "ocidir import $dir:v2"
}

# json_field FILE KEY: an integer field of a clone report (a flat object of
# integers, one "key": value per line, as `ocidir --json clone` prints it).
json_field() {
    local v
    v=$(sed -n "s/^ *\"$2\": *\([0-9][0-9]*\),\{0,1\}\$/\1/p" "$1")
    [[ $v =~ ^[0-9]+$ ]] || fail "$1: no integer field $2: $(cat "$1")"
    echo "$v"
}

# extents FILE: the physical ranges of FILE's extents and whether each is
# shared, one "START..END FLAGS" line per extent, from filefrag -v.
extents() {
    filefrag -v "$1" | awk -F: '/^ *[0-9]+:/ {
        gsub(/ /, "", $3); gsub(/ /, "", $4); print $3 " " $NF }'
}

# check_clone_report DIR JSON TEXT WANT: the report says every blob was WANT
# (reflinked or copied) and nothing else.
check_clone_report() {
    local json=$1 text=$2 want=$3 blobs
    blobs=$(json_field "$json" blobs)
    [ "$blobs" -ge 9 ] || fail "clone report counts $blobs blobs, expected at least 9: $(cat "$json")"
    local k
    for k in reflinked linked copied; do
        local n
        n=$(json_field "$json" "$k")
        if [ "$k" = "$want" ]; then
            [ "$n" = "$blobs" ] || fail "clone report: $n of $blobs blobs $k, expected all: $(cat "$json")"
        else
            [ "$n" = 0 ] || fail "clone report: $n blobs $k, expected none: $(cat "$json")"
        fi
    done
    case $want in
    reflinked) grep -qE ": $blobs reflinked, 0 hard-linked, 0 copied$" "$text" ;;
    copied) grep -qE ": 0 reflinked, 0 hard-linked, $blobs copied$" "$text" ;;
    esac || fail "clone's text report does not say all $blobs blobs were $want: $(cat "$text")"
    echo "$blobs"
}

# check_fsck DIR: ocidir fsck passes and checked every blob.
check_fsck() {
    local out
    out=$("$ocidir" fsck "$1" 2>&1) || fail "ocidir fsck $1 failed: $out"
    grep -qE ': 0 damaged, ' <<<"$out" || fail "ocidir fsck $1: $out"
}

# blob_files DIR: the blob files of a layout.
blob_files() { find "$1/blobs/sha256" -type f ! -name '.*' | sort; }

# reflink_case KIND: clone within a KIND filesystem; every blob reflinked.
reflink_case() {
    local kind=$1 mnt=$work/mnt-$1
    echo "== $kind: clone within the filesystem reflinks every blob"
    mount_fs "$kind" "$mnt"
    make_layout "$mnt/src"
    local out=$work/$kind
    # Default clone (hard links allowed): reflink comes first.
    "$ocidir" --json clone "$mnt/src" "$mnt/dst" >"$out.json" || fail "ocidir --json clone on $kind"
    "$ocidir" clone "$mnt/src" "$mnt/dst-text" >"$out.txt" || fail "ocidir clone (text) on $kind"
    "$ocidir" --json clone --no-hardlink "$mnt/src" "$mnt/dst-nolink" >"$out-nolink.json" ||
        fail "ocidir --json clone --no-hardlink on $kind"
    local blobs
    blobs=$(check_clone_report "$out.json" "$out.txt" reflinked)
    "$ocidir" clone --no-hardlink "$mnt/src" "$mnt/dst-nolink-text" >"$out-nolink.txt" ||
        fail "ocidir clone --no-hardlink (text) on $kind"
    check_clone_report "$out-nolink.json" "$out-nolink.txt" reflinked >/dev/null
    cmp -s "$mnt/src/index.json" "$mnt/dst/index.json" || fail "$kind: the clone's index.json differs from the source's"
    check_fsck "$mnt/dst"
    check_fsck "$mnt/dst-nolink"

    # Every blob: its own inode, and the source's extents, shared.
    local n=0 shared=0 f g
    [ "$(blob_files "$mnt/dst" | wc -l)" = "$blobs" ] || fail "$kind: the clone holds $(blob_files "$mnt/dst" | wc -l) blob files, the report says $blobs"
    while read -r f; do
        g=$mnt/src/blobs/sha256/$(basename "$f")
        [ -f "$g" ] || fail "$kind: $f has no source blob $g"
        n=$((n + 1))
        [ "$(stat -c %i "$f")" != "$(stat -c %i "$g")" ] || fail "$kind: $f is a hard link of the source blob"
        [ "$(stat -c %h "$f")" = 1 ] || fail "$kind: $f has $(stat -c %h "$f") links"
        cmp -s "$f" "$g" || fail "$kind: $f differs from $g"
        local size
        size=$(stat -c %s "$f")
        # Small files may live inside btrfs metadata (inline extents), which
        # FIEMAP reports without a data block of their own; every blob of
        # 64 KiB or more must share its data blocks with the source.
        [ "$size" -ge 65536 ] || continue
        local ef eg
        ef=$(extents "$f")
        eg=$(extents "$g")
        [ -n "$ef" ] || fail "$kind: filefrag -v $f lists no extent: $(filefrag -v "$f")"
        [ "$(cut -d' ' -f1 <<<"$ef")" = "$(cut -d' ' -f1 <<<"$eg")" ] || {
            filefrag -v "$g" "$f" >&2
            fail "$kind: $f ($size bytes) does not have the physical extents of $g"
        }
        if grep -vq 'shared' <<<"$ef"; then
            filefrag -v "$f" >&2
            fail "$kind: an extent of $f is not flagged shared"
        fi
        shared=$((shared + 1))
    done < <(blob_files "$mnt/dst")
    [ "$shared" -ge 4 ] || fail "$kind: only $shared blobs were large enough to compare extents, expected at least 4"
    echo "   $blobs blobs reflinked, $shared of them checked to share their extents, fsck clean"
}

# copy_case KIND: clone --no-hardlink where nothing can reflink: copied.
copy_case() {
    local kind=$1 mnt=$work/mnt-$1
    echo "== $kind: clone --no-hardlink falls back to copying"
    mount_fs "$kind" "$mnt"
    make_layout "$mnt/src"
    local out=$work/$kind blobs
    "$ocidir" --json clone --no-hardlink "$mnt/src" "$mnt/dst" >"$out.json" ||
        fail "ocidir --json clone --no-hardlink on $kind"
    "$ocidir" clone --no-hardlink "$mnt/src" "$mnt/dst-text" >"$out.txt" ||
        fail "ocidir clone --no-hardlink (text) on $kind"
    blobs=$(check_clone_report "$out.json" "$out.txt" copied)
    check_fsck "$mnt/dst"
    local f g
    while read -r f; do
        g=$mnt/src/blobs/sha256/$(basename "$f")
        [ "$(stat -c %i "$f")" != "$(stat -c %i "$g")" ] || fail "$kind: $f is a hard link of the source blob"
        cmp -s "$f" "$g" || fail "$kind: $f differs from $g"
    done < <(blob_files "$mnt/dst")
    echo "   $blobs blobs copied, fsck clean"
}

reflink_case btrfs
reflink_case xfs
copy_case tmpfs
copy_case ext4
