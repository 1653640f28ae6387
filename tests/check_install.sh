#!/bin/bash
# Installs the built library into a scratch prefix; the installed ocidir tool
# (when built) runs from there with a clean environment -- no LD_LIBRARY_PATH,
# the library found through its relative RPATH ($ORIGIN/../<libdir>) -- and
# then builds the consumer
# example (examples/pkgconfig-consumer) against it twice: as an outside
# project does, by its own Makefile with nothing but pkg-config (as cgo does
# too), and with CMake's find_package (tests/install_consumer).  Each build
# runs: it creates a layout, commits an image and reads it back, and skopeo
# reads what the pkg-config build wrote.
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

# The tool: a relative RPATH, and it runs with nothing in the environment.
if grep -q '^OCIDIR_BUILD_CLI:BOOL=ON$' "$build/CMakeCache.txt"; then
  tool="$prefix/bin/ocidir"
  test -x "$tool" || { echo "$tool was not installed" >&2; exit 1; }
  dyn=$(readelf -d "$tool")
  want="\$ORIGIN/../${libdir##*/}"
  grep -E '\((RUNPATH|RPATH)\)' <<<"$dyn" | grep -qF "[$want]" ||
      { grep -E 'R(UN)?PATH' <<<"$dyn" || true
        echo "$tool: no RPATH/RUNPATH [$want] (is the build configured with a system prefix, or OCIDIR_INSTALL_RPATH=OFF?)" >&2; exit 1; }
  # (Run from /, so that nothing relative to the build tree can help.)
  out=$(cd / && env -i "$tool" --version) ||
      { echo "$tool --version failed with a clean environment" >&2; exit 1; }
  grep -qE '^ocidir [0-9]+\.[0-9]+\.[0-9]+ \(libocidir [0-9.]+\)$' <<<"$out" ||
      { echo "unexpected --version output: $out" >&2; exit 1; }
  # ... and it loaded the installed library, not one from the build tree.
  deps=$(env -i ldd "$tool")
  loaded=$(sed -n 's/^[[:space:]]*libocidir\.so\.[0-9]* => \(.*\) (0x[0-9a-f]*)$/\1/p' <<<"$deps")
  [ -n "$loaded" ] && [ "$(readlink -f "$loaded")" = "$(readlink -f "$libdir/libocidir.so")" ] ||
      { echo "$deps"; echo "$tool does not load $libdir/libocidir.so.N (it loads: ${loaded:-nothing})" >&2; exit 1; }
  # A copy of the whole prefix elsewhere still runs (the RPATH is relative).
  moved=$(mktemp -d /tmp/ocidir-moved.XXXXXX)
  trap 'rm -rf "$prefix" "$moved"' EXIT
  cp -a "$prefix/bin" "$libdir" "$moved/"
  env -i "$moved/bin/ocidir" --version >/dev/null ||
      { echo "$moved/bin/ocidir (a moved copy of the install) does not run" >&2; exit 1; }
  env -i "$moved/bin/ocidir" init "$moved/layout" >/dev/null ||
      { echo "$moved/bin/ocidir init failed" >&2; exit 1; }
  test -f "$moved/layout/oci-layout"
fi

export PKG_CONFIG_PATH="$libdir/pkgconfig"
test "$(pkg-config --modversion ocidir)" = "$(sed -n 's/^#define OCIDIR_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$src/include/ocidir.h" | paste -sd.)"

# pkg-config: the example's own Makefile, in a copy outside the source tree
# (so it can reach nothing there), against the scratch prefix only.
cp -r "$src/examples/pkgconfig-consumer" "$prefix/consumer-src"
rm -f "$prefix/consumer-src/ocidir-consumer"
make -s -C "$prefix/consumer-src" LDFLAGS="-Wl,-rpath,$libdir" >/dev/null
# It was linked with the installed library, not one from the build tree.
# (ldd's output is taken whole first: `grep -q` quitting early would give ldd
# a SIGPIPE, which pipefail reports as a failure.)
deps=$(ldd "$prefix/consumer-src/ocidir-consumer")
grep -qF "$libdir/libocidir.so" <<<"$deps" ||
    { echo "$deps"; echo "not linked with $libdir" >&2; exit 1; }
"$prefix/consumer-src/ocidir-consumer" "$prefix/layout-pc"
skopeo inspect --config "oci:$prefix/layout-pc:hello" | tr -d ' \n' | grep -F '"Cmd":["/bin/echo","hello"]' >/dev/null

# find_package: the same program, built by CMake.
cmake -S "$src/tests/install_consumer" -B "$prefix/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
cmake --build "$prefix/consumer-build" >/dev/null
"$prefix/consumer-build/consumer" "$prefix/layout-cmake"
echo "install check: the tool ran by its RPATH; pkg-config and find_package consumers built and ran"
