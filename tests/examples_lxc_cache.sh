#!/bin/bash
# Runs examples/lxc-cache against
#   A. a layout that `skopeo copy --dest-shared-blob-dir` made from an image
#      umoci built (two layers, Entrypoint, Cmd, Env, User, WorkingDir), and
#   B. a layout the library built (examples/lxc_image), sharing that cache,
#   C. an index in the cache that lists that image for this platform,
# and checks the printed configuration against what went in, and every
# extracted tar against the layer blob (gunzip'd by gzip, not the library)
# and, for A, against the diff_ids skopeo reads from the config.  Then the
# failure paths: a corrupted layer, an unknown tag, a missing platform,
# LXC's symlinked blobs/sha256, a failing -x command, bad usage.
#
# Usage: examples_lxc_cache.sh LXC_CACHE_BINARY LXC_IMAGE_BINARY
set -euo pipefail
lxc_cache=${1:?usage: examples_lxc_cache.sh LXC_CACHE LXC_IMAGE}
lxc_image=${2:?usage: examples_lxc_cache.sh LXC_CACHE LXC_IMAGE}
s=$(mktemp -d "${TMPDIR:-/tmp}/ocidir-lxc-cache.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$s"' EXIT
cache=$s/cache

fail() { echo "FAIL: $*" >&2; exit 1; }
show() { for f in "$@"; do echo "--- $f:"; cat "$f"; done >&2; }
# has_line FILE LINE: FILE holds exactly this line.
has_line() { grep -qxF -- "$2" "$1" || { show "$1"; fail "$1 lacks the line: $2"; }; }
# has_text FILE TEXT: FILE contains TEXT.
has_text() { grep -qF -- "$2" "$1" || { show "$1"; fail "$1 does not say: $2"; }; }
# run_status NAME CMD...: run, keep stdout/stderr in $s/NAME.{out,err}, print the status.
run_status() {
    local name=$1 rc=0
    shift
    "$@" >"$s/$name.out" 2>"$s/$name.err" || rc=$?
    echo "$rc"
}
expect_status() { # NAME WANT CMD...
    local name=$1 want=$2 rc
    shift 2
    rc=$(run_status "$name" "$@")
    [ "$rc" = "$want" ] || { show "$s/$name.out" "$s/$name.err"; fail "$name: exit status $rc, expected $want"; }
}
value_of() { sed -n "s/^$2 *//p" "$1"; } # the value of a "key value" line
hex_of() { echo "${1#sha256:}"; }

# check_layers OUTPUT DIR N: OUTPUT reports N layers, each verified and written
# to DIR/<i>.tar; each tar is byte for byte the gunzip'd blob of that digest in
# the cache, and the blob hashes to its name.  Prints the tars' sha256 digests.
check_layers() {
    local out=$1 dir=$2 n=$3 i line digest
    has_line "$out" "layers     $n"
    for ((i = 0; i < n; i++)); do
        line=$(grep -E "^layer $i +" "$out") || { show "$out"; fail "no line for layer $i"; }
        [[ $line =~ ^layer\ $i\ +application/vnd\.oci\.image\.layer\.v1\.tar\+gzip\ (sha256:[0-9a-f]{64})\ [0-9]+\ -\>\ "$dir/$i.tar and command, "[0-9]+\ bytes\ of\ tar,\ verified$ ]] ||
            fail "unexpected line for layer $i: $line"
        digest=${BASH_REMATCH[1]}
        test "$(sha256sum <"$cache/sha256/$(hex_of "$digest")" | cut -c1-64)" = "$(hex_of "$digest")" ||
            fail "cache blob of $digest does not hash to its name"
        gzip -dc <"$cache/sha256/$(hex_of "$digest")" | cmp -s - "$dir/$i.tar" ||
            fail "$dir/$i.tar is not the uncompressed blob $digest"
        echo "sha256:$(sha256sum <"$dir/$i.tar" | cut -c1-64)"
    done
    test ! -e "$dir/$n.tar" || fail "$dir holds more tars than layers"
    if ls -A "$dir" | grep partial >/dev/null; then fail "a partial file was left in $dir"; fi
}

# ---------------------------------------------------------------------------
echo "== A. umoci builds an image; skopeo copies it with --dest-shared-blob-dir"
src=$s/src
umoci init --layout "$src"
umoci new --image "$src:base"
umoci unpack --rootless --image "$src:base" "$s/b1" >/dev/null
printf 'hello from umoci\n' >"$s/b1/rootfs/hello.txt"
umoci repack --image "$src:base" "$s/b1"
umoci unpack --rootless --image "$src:base" "$s/b2" >/dev/null
mkdir -p "$s/b2/rootfs/srv"
printf 'second layer\n' >"$s/b2/rootfs/srv/second.txt"
umoci repack --image "$src:base" "$s/b2"
umoci config --image "$src:base" --config.entrypoint /bin/sh --config.cmd -c --config.cmd 'echo hi' \
    --config.env 'GREETING=hello world' --config.user 1000:1000 --config.workingdir /srv
mkdir -p "$cache" "$s/lxc"
skopeo copy -q --preserve-digests --dest-shared-blob-dir "$cache" "oci:$src:base" "oci:$s/lxc/c1:c1"
test -z "$(ls -A "$s/lxc/c1/blobs")" || fail "skopeo left blobs in the layout, not in the cache"

expect_status a 0 "$lxc_cache" "$cache" "$s/lxc/c1" c1 -o "$s/out-a" \
    -x "mkdir -p '$s/rootfs-a' && tar -xf - -C '$s/rootfs-a'"
cat "$s/a.out"
manifest=$(grep -o 'sha256:[0-9a-f]\{64\}' "$s/lxc/c1/index.json")
has_line "$s/a.out" "image      $manifest"
has_line "$s/a.out" "command    /bin/sh -c 'echo hi'"
has_line "$s/a.out" "env        GREETING=hello world"
has_line "$s/a.out" "user       1000:1000"
has_line "$s/a.out" "workdir    /srv"
tars_a=$(check_layers "$s/a.out" "$s/out-a" 2)
# The tars are the layers' diff_ids, as skopeo reads them from the config.
skopeo inspect --config "oci:$src:base" | tr -d ' \n' >"$s/config-a.json"
has_text "$s/config-a.json" "\"diff_ids\":[\"$(echo "$tars_a" | paste -sd' ' | sed 's/ /","/g')\"]"
# The -x command unpacked both layers, in order.
test "$(cat "$s/rootfs-a/hello.txt")" = "hello from umoci" || fail "hello.txt not unpacked"
test "$(cat "$s/rootfs-a/srv/second.txt")" = "second layer" || fail "srv/second.txt not unpacked"
tar -tf "$s/out-a/0.tar" | grep -xE '(\./)?hello\.txt' >/dev/null || fail "layer 0 lacks hello.txt"
if tar -tf "$s/out-a/0.tar" | grep second >/dev/null; then fail "layer 0 holds layer 1's file"; fi
tar -tf "$s/out-a/1.tar" | grep -xE '(\./)?srv/second\.txt' >/dev/null || fail "layer 1 lacks srv/second.txt"

# ---------------------------------------------------------------------------
echo "== B. the library builds an image into the same cache (lxc_image)"
"$lxc_image" "$s/lxc/demo" "$cache" >"$s/lxc_image.out" || { show "$s/lxc_image.out"; fail "lxc_image failed"; }
expect_status b 0 "$lxc_cache" "$cache" "$s/lxc/demo" demo -o "$s/out-b" \
    -x "mkdir -p '$s/rootfs-b' && tar -xf - -C '$s/rootfs-b'"
cat "$s/b.out"
lib_manifest=$(grep -o 'sha256:[0-9a-f]\{64\}' "$s/lxc/demo/index.json")
has_line "$s/b.out" "image      $lib_manifest"
has_line "$s/b.out" "command    /bin/hello"
has_line "$s/b.out" "env        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
has_line "$s/b.out" "user       0:0"
has_line "$s/b.out" "workdir    /"
check_layers "$s/b.out" "$s/out-b" 2 >/dev/null
test -x "$s/rootfs-b/bin/hello" || fail "bin/hello not unpacked executable"
grep -q 'Hello from an OCI image' "$s/rootfs-b/bin/hello" || fail "bin/hello has the wrong content"
test "$(cat "$s/rootfs-b/etc/motd")" = "Welcome to the demo container." || fail "etc/motd (layer 1) not unpacked"
# Both images were built for this machine.
platform=$(value_of "$s/b.out" platform)
has_line "$s/a.out" "platform   $platform"

# ---------------------------------------------------------------------------
echo "== C. an index in the cache: the platform picks the manifest"
IFS=/ read -r os arch variant <<<"$platform"
size=$(stat -c %s "$cache/sha256/$(hex_of "$lib_manifest")")
plat="{\"architecture\":\"$arch\",\"os\":\"$os\"${variant:+,\"variant\":\"$variant\"}}"
index="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[\
{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$manifest\",\"size\":$(stat -c %s "$cache/sha256/$(hex_of "$manifest")"),\"platform\":{\"architecture\":\"s390x\",\"os\":\"linux\"}},\
{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$lib_manifest\",\"size\":$size,\"platform\":$plat}]}"
printf '%s' "$index" >"$s/index.tmp"
index_hex=$(sha256sum <"$s/index.tmp" | cut -c1-64)
mv "$s/index.tmp" "$cache/sha256/$index_hex"
mkdir -p "$s/lxc/multi/blobs"
printf '{"imageLayoutVersion":"1.0.0"}' >"$s/lxc/multi/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"multi"}}]}' \
    "$index_hex" "${#index}" >"$s/lxc/multi/index.json"
expect_status c 0 "$lxc_cache" "$cache" "$s/lxc/multi" multi
has_line "$s/c.out" "image      $lib_manifest"
has_line "$s/c.out" "command    /bin/hello"
expect_status c-s390x 0 "$lxc_cache" -p linux/s390x "$cache" "$s/lxc/multi" multi
has_line "$s/c-s390x.out" "image      $manifest"
has_line "$s/c-s390x.out" "command    /bin/sh -c 'echo hi'"
expect_status c-riscv 1 "$lxc_cache" --platform linux/riscv64 "$cache" "$s/lxc/multi" multi
has_text "$s/c-riscv.err" 'ocidir_image_open("multi", linux/riscv64)'
has_text "$s/c-riscv.err" "linux/s390x" # the library lists the platforms there are
has_text "$s/c-riscv.err" "$platform"

# ---------------------------------------------------------------------------
echo "== D. failures"
# A corrupted layer blob: layer 0 is handed over, layer 1 refused, and no
# file of layer 1 is left, under its name or a partial one.
cp -a "$cache" "$s/bad-cache"
layer1=$(grep -E '^layer 1 ' "$s/b.out" | grep -o 'sha256:[0-9a-f]\{64\}')
blob=$s/bad-cache/sha256/$(hex_of "$layer1")
bsize=$(stat -c %s "$blob")
printf '\x00\x01\x02\x03' | dd of="$blob" bs=1 seek=$((bsize / 2)) conv=notrunc status=none
expect_status d-corrupt 1 "$lxc_cache" "$s/bad-cache" "$s/lxc/demo" demo -o "$s/out-bad"
grep -qE "^layer 1 .* -> REFUSED$" "$s/d-corrupt.out" || { show "$s/d-corrupt.out"; fail "layer 1 not reported refused"; }
has_text "$s/d-corrupt.err" "ocidir_layer_reader_read(layer 1, $layer1)"
grep -qE '\((-4|-7)\): .+' "$s/d-corrupt.err" || { show "$s/d-corrupt.err"; fail "no library message for the corrupted layer"; }
test -f "$s/out-bad/0.tar" || fail "layer 0 was not written"
test -z "$(ls -A "$s/out-bad" | grep -v '^0\.tar$')" || { ls -A "$s/out-bad"; fail "something of layer 1 was left"; }

# An unknown name: the library's message names it.
expect_status d-tag 1 "$lxc_cache" "$cache" "$s/lxc/c1" nope
has_text "$s/d-tag.err" 'ocidir_image_open("nope"'
has_text "$s/d-tag.err" 'not found (-3): '
has_text "$s/d-tag.err" '"nope"'

# LXC's layout with blobs/sha256 -> CACHE/sha256: refused (escape) unless -L.
mkdir -p "$s/lxc/old/blobs"
cp "$s/lxc/c1/oci-layout" "$s/lxc/c1/index.json" "$s/lxc/old/"
ln -s "$cache/sha256" "$s/lxc/old/blobs/sha256"
expect_status d-symlink 1 "$lxc_cache" "$cache" "$s/lxc/old" c1
has_text "$s/d-symlink.err" "ocidir_open($s/lxc/old)"
has_text "$s/d-symlink.err" "(-8): "
expect_status d-follow 0 "$lxc_cache" -L "$cache" "$s/lxc/old" c1
has_line "$s/d-follow.out" "image      $manifest"

# The -x command fails: status 3, and its exit status is reported.
expect_status d-command 3 "$lxc_cache" "$cache" "$s/lxc/c1" c1 -x 'cat >/dev/null; exit 4'
has_text "$s/d-command.err" "exit status 4"
grep -qE "^layer 0 .* -> command failed$" "$s/d-command.out" || { show "$s/d-command.out"; fail "the failed command is not reported"; }

# A command that reads nothing still gets every layer verified.
expect_status d-head 0 "$lxc_cache" "$cache" "$s/lxc/c1" c1 -x 'exec true'
test "$(grep -c ', verified$' "$s/d-head.out")" = 2 || { show "$s/d-head.out"; fail "layers not verified"; }

# The cache directory is created when absent; the layout's own blobs are read.
expect_status d-newcache 0 "$lxc_cache" "$s/new/cache" "$src" base
test -d "$s/new/cache" || fail "the cache directory was not created"
has_line "$s/d-newcache.out" "command    /bin/sh -c 'echo hi'"

# Usage.
expect_status d-noargs 2 "$lxc_cache"
has_text "$s/d-noargs.err" "usage: "
expect_status d-badopt 2 "$lxc_cache" --no-such-option "$cache" "$s/lxc/c1" c1
expect_status d-help 0 "$lxc_cache" --help
has_text "$s/d-help.out" "Exit status:"

echo "examples_lxc_cache: all checks passed"
