#!/bin/bash
# Installs the built library into a scratch prefix and builds a consumer
# against it twice: with pkg-config (as cgo does) and with find_package.
# Usage: check_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
prefix=$(mktemp -d /tmp/ocidir-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -n1)
libdir=${libdir%/}
test -f "$prefix/include/ocidir.h"
test -L "$libdir/libocidir.so"
test -f "$libdir/pkgconfig/ocidir.pc"
test -f "$libdir/cmake/ocidir/ocidirConfig.cmake"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
test "$(pkg-config --modversion ocidir)" = "$(sed -n 's/^#define OCIDIR_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$src/include/ocidir.h" | paste -sd.)"
cc -o "$prefix/consumer-pc" "$src/tests/install_consumer/main.c" $(pkg-config --cflags --libs ocidir) -Wl,-rpath,"$libdir"
"$prefix/consumer-pc"

cmake -S "$src/tests/install_consumer" -B "$prefix/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
cmake --build "$prefix/consumer-build" >/dev/null
"$prefix/consumer-build/consumer"
echo "install check: pkg-config and find_package consumers built and ran"
