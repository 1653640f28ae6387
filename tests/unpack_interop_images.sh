#!/bin/sh
# Images for test_unpack_interop, made by umoci and skopeo in $1 (an empty
# directory, run as root):
#   L:base  umoci insert of a tree with every kind of entry (files of several
#           owners and modes, setuid, a hard link, a symlink, a FIFO, a char
#           device, an empty directory, a user.* xattr, a file capability,
#           a long name, UTF-8, space and newline in names)
#   L:v2    umoci unpack + changes + umoci repack: whiteouts from deletions
#           (a file, a directory tree, one name of a hard link), a changed
#           file, a chmod, a new file
#   L:v3    umoci insert --opaque over d/ (an opaque directory)
#   L:v4    umoci insert --whiteout of a symlink
#   L2:gz     skopeo copy of L:v4 (layers as they are)
#   L2:zstd   skopeo copy of L:v4 recompressed with zstd
#   L2:plain  skopeo copy of L:v4 with the layers decompressed
set -eu
cd "$1"
q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; }
q umoci init --layout L
q umoci new --image L:base
mkdir -p src/etc src/home/u src/d/sub src/empty src/var/lib/a/very/long/path/that/goes/on/and/on/for/more/than/a/hundred/bytes/in/all
echo hi > src/etc/hostname
setfattr -n user.test -v hello src/etc/hostname
ln src/etc/hostname src/etc/hardlink
echo secret > src/etc/shadow
chmod 640 src/etc/shadow
chown 0:42 src/etc/shadow
echo notes > src/home/u/notes
ln -s notes src/home/u/link
ln -s /etc/hostname src/home/u/abs
chown -R 1000:1000 src/home/u
chmod 0750 src/home/u
mkfifo src/d/fifo
mknod src/d/null c 1 3
echo x > src/d/sub/x
echo y > src/d/y
printf '\177ELF-ish' > src/d/suid
chmod 4755 src/d/suid
chmod 2755 src/d/sub
chmod 1777 src/empty
echo deep > src/var/lib/a/very/long/path/that/goes/on/and/on/for/more/than/a/hundred/bytes/in/all/file-with-a-long-name-too
echo u > "src/etc/café-ü"
echo s > "src/etc/with space"
printf 'x' > "$(printf 'src/etc/new\nline')"
printf 'capped' > src/d/capped
setcap cap_net_raw+ep src/d/capped
touch -h -d '2001-02-03 04:05:06.789' src/home/u/link src/d/y src/etc
q umoci insert --image L:base src /
q umoci unpack --image L:base B
r=B/rootfs
rm "$r/etc/shadow" "$r/etc/hardlink"
rm -r "$r/d/sub"
echo changed > "$r/d/y"
chmod 600 "$r/home/u/notes"
echo new > "$r/etc/new"
q umoci repack --image L:v2 B
mkdir -p src2/d
echo only > src2/d/only
q umoci insert --image L:v2 --tag v3 --opaque src2/d /d
q umoci insert --image L:v3 --tag v4 --whiteout /home/u/link
q skopeo copy oci:L:v4 oci:L2:gz
q skopeo copy --dest-compress-format zstd oci:L:v4 oci:L2:zstd
q skopeo copy --dest-decompress oci:L:v4 oci:L2:plain
