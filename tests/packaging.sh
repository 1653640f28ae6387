#!/bin/bash
# The Debian packages (debian/): builds them with `dpkg-buildpackage -us -uc
# -b` from a copy of the source tree, runs lintian on them, installs them into
# this machine with dpkg -i, checks what an installed library is used for, and
# purges them again, checking that the purge left nothing behind.  Needs root
# (dpkg -i) and the packages scripts/setup installs (debhelper, dh-python,
# lintian, dpkg-dev, fakeroot).
#
# Prints one verdict line per check, "packaging: PASS <check>" or
# "packaging: FAIL <check>: <reason>"; a check that cannot run because an
# earlier one failed is a FAIL "not run".  Always the same number of verdicts
# (the checks listed in CHECKS).  Exits non-zero if any check failed.
# The packages are purged on every exit path (trap), and the script refuses to
# run when one of them is already installed (it would remove it).
#
# Usage: tests/packaging.sh [SOURCE_DIR]   (default: this script's tree)
#        tests/packaging.sh --count-checks  (prints the number of verdicts)
# Keeps the logs (build, lintian, install, purge, leftovers) and the built
# .deb and .changes files in $OCIDIR_PACKAGING_LOGDIR when set.
set -uo pipefail
CHECKS=(preconditions build contents symbols no-rpath lintian install ocidir-version
        pkg-config c-consumer cmake-consumer python-import purge leaves-nothing)
if [ "${1:-}" = --count-checks ]; then echo "${#CHECKS[@]}"; exit 0; fi
src=$(readlink -f "${1:-$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/..}")

PKGS=(libocidir0 libocidir-dev ocidir python3-ocidir)
export LC_ALL=C

nfail=0
broken=""      # set to a reason once a check the later ones need has failed
installed=0
work=$(mktemp -d /tmp/ocidir-packaging.XXXXXX)

cleanup() {
  if [ "$installed" -eq 1 ]; then
    dpkg --purge "${PKGS[@]}" >/dev/null 2>&1 ||
      echo "packaging: WARNING: dpkg --purge ${PKGS[*]} failed in the cleanup" >&2
  fi
  if [ -n "${OCIDIR_PACKAGING_LOGDIR:-}" ]; then
    mkdir -p "$OCIDIR_PACKAGING_LOGDIR"
    cp -f "$work"/*.log "$work"/*.deb "$work"/*.changes "$OCIDIR_PACKAGING_LOGDIR"/ 2>/dev/null || true
  fi
  rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { echo "packaging: PASS $1"; }
failv() { echo "packaging: FAIL $1: $2"; nfail=$((nfail + 1)); }

# run_check NAME [critical]: runs check_NAME (a function that prints its
# failure reason on stdout and returns non-zero); a failing critical check
# makes every later one "not run".
run_check() {
  local name=$1 critical=${2:-} out rc
  if [ -n "$broken" ]; then failv "$name" "not run: $broken"; return; fi
  # (In this shell, not a subshell: install and purge set $installed.)
  "check_${name//-/_}" >"$work/check.out" 2>&1; rc=$?
  out=$(cat "$work/check.out")
  if [ "$rc" -eq 0 ]; then
    [ -z "$out" ] || sed 's/^/    /' <<<"$out"
    pass "$name"
  else
    [ -z "$out" ] || sed 's/^/    /' <<<"$out"
    failv "$name" "$(tail -n1 <<<"${out:-exit $rc}")"
    [ -z "$critical" ] || broken="$name failed"
  fi
}

check_preconditions() {
  local missing=() p
  [ "$(id -u)" -eq 0 ] || { echo "not root: dpkg -i needs root"; return 1; }
  for c in dpkg-buildpackage dh dh_python3 lintian readelf pkg-config cc make cmake; do
    command -v "$c" >/dev/null || missing+=("$c")
  done
  [ -x /usr/bin/python3 ] || missing+=(/usr/bin/python3)
  [ "${#missing[@]}" -eq 0 ] || { echo "missing: ${missing[*]} (run scripts/setup)"; return 1; }
  for p in "${PKGS[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != not-installed &&
          -n "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" ]]; then
      echo "$p is already installed ($(dpkg-query -W -f='${Version} ${db:Status-Status}' "$p")); refusing to replace or purge it"
      return 1
    fi
  done
}

# The build runs in a copy of the tree (sources only: no .git, no build
# directories), so that dpkg-buildpackage's output (written into the parent
# directory) and debian/'s build files stay out of the source tree.
check_build() {
  mkdir -p "$work/src"
  (cd "$src" && tar -cf - --exclude=./.git --exclude='./build*' --exclude=./obj-\* \
      --exclude=./debian/.debhelper --exclude='./debian/tmp' --exclude='__pycache__' .) |
    tar -xf - -C "$work/src" || { echo "copying $src failed"; return 1; }
  if ! (cd "$work/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
          nice dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log"
    echo "dpkg-buildpackage -us -uc -b failed (log above)"
    return 1
  fi
  local p
  for p in "${PKGS[@]}"; do
    ls "$work/${p}"_*.deb >/dev/null 2>&1 || { echo "no ${p}_*.deb was built"; return 1; }
  done
}

deb() { ls "$work/$1"_*.deb | head -n1; }

check_contents() {
  local p f listing
  local -A want=(
    [libocidir0]='^\./usr/lib/[^/]+/libocidir\.so\.0$ ^\./usr/lib/[^/]+/libocidir\.so\.0\.[0-9]+\.[0-9]+$'
    [libocidir-dev]='^\./usr/include/ocidir\.h$ ^\./usr/lib/[^/]+/libocidir\.so$ ^\./usr/lib/[^/]+/pkgconfig/ocidir\.pc$ ^\./usr/lib/[^/]+/cmake/ocidir/ocidirConfig\.cmake$'
    [ocidir]='^\./usr/bin/ocidir$ ^\./usr/share/ocidir/lxc/lxc-oci$ ^\./usr/share/ocidir/lxc/lxc-oci-cache-gc$'
    [python3-ocidir]='^\./usr/lib/python3/dist-packages/ocidir/__init__\.py$ ^\./usr/lib/python3/dist-packages/ocidir/_lib\.py$'
  )
  for p in "${PKGS[@]}"; do
    listing=$(dpkg-deb -c "$(deb "$p")" | awk '{print $6}')
    for f in ${want[$p]}; do
      grep -qE "$f" <<<"$listing" || { echo "$p: no file matching $f"; return 1; }
    done
  done
  # The man pages, when the tree has them (man/), are in the packages.
  if [ -d "$src/man" ]; then
    listing=$(dpkg-deb -c "$(deb ocidir)")
    grep -qE '\./usr/share/man/man1/ocidir\.1(\.gz)?$' <<<"$listing" ||
      { echo "ocidir: the tree has man/ but the package has no usr/share/man/man1/ocidir.1"; return 1; }
  fi
  # Nothing the library package ships belongs to another (no headers, .so link).
  listing=$(dpkg-deb -c "$(deb libocidir0)" | awk '{print $6}')
  if grep -E '\.h$|/libocidir\.so$|\.pc$' <<<"$listing"; then
    echo "libocidir0 ships development files"; return 1
  fi
}

# The shlibs the library package declares come from the symbols file: every
# exported symbol, in the version node OCIDIR_<major>.<minor>.
check_symbols() {
  mkdir -p "$work/x-lib"
  dpkg-deb -e "$(deb libocidir0)" "$work/x-lib/DEBIAN"
  [ -f "$work/x-lib/DEBIAN/symbols" ] || { echo "libocidir0 has no DEBIAN/symbols"; return 1; }
  grep -qE '^ ocidir_open@OCIDIR_[0-9]+\.[0-9]+ ' "$work/x-lib/DEBIAN/symbols" ||
    { echo "libocidir0's symbols file does not list ocidir_open@OCIDIR_x.y"; return 1; }
  # The tool depends on the library by the symbols file's minimum version.
  dpkg-deb -f "$(deb ocidir)" Depends | grep -qE 'libocidir0 \(>= [0-9]' ||
    { echo "ocidir does not depend on libocidir0 (>= version): $(dpkg-deb -f "$(deb ocidir)" Depends)"; return 1; }
  dpkg-deb -f "$(deb python3-ocidir)" Depends | grep -qE 'libocidir0 \(>= [0-9]' ||
    { echo "python3-ocidir does not depend on libocidir0: $(dpkg-deb -f "$(deb python3-ocidir)" Depends)"; return 1; }
}

# A distribution's binaries carry no RPATH (the library is in a system
# directory); an install under another prefix gets a relative one (checked
# by install_check).
check_no_rpath() {
  local f dyn
  mkdir -p "$work/x-tool" "$work/x-libfiles"
  dpkg-deb -x "$(deb ocidir)" "$work/x-tool"
  dpkg-deb -x "$(deb libocidir0)" "$work/x-libfiles"
  for f in "$work/x-tool/usr/bin/ocidir" "$work"/x-libfiles/usr/lib/*/libocidir.so.0.*; do
    dyn=$(readelf -d "$f") || { echo "readelf -d $f failed"; return 1; }
    if grep -E '\((RPATH|RUNPATH)\)' <<<"$dyn"; then
      echo "${f#"$work"/x-*/}: has an RPATH/RUNPATH"; return 1
    fi
  done
  readelf -d "$work/x-tool/usr/bin/ocidir" | grep -qF 'Shared library: [libocidir.so.0]' ||
    { echo "usr/bin/ocidir does not link libocidir.so.0"; return 1; }
}

# No error; the warnings are printed (the report lists and justifies them).
check_lintian() {
  local changes rc=0
  changes=$(ls "$work"/*.changes | head -n1)
  lintian --fail-on error --tag-display-limit 0 "$changes" >"$work/lintian.log" 2>&1 || rc=$?
  cat "$work/lintian.log"
  if [ "$rc" -ne 0 ] || grep -q '^E: ' "$work/lintian.log"; then
    echo "lintian reported errors (exit $rc)"; return 1
  fi
}

# The state of the paths packages write to, before the install and after the
# purge (names, types and modes).
snapshot() {
  find /usr /etc /opt /var/lib/dpkg/info /var/lib/dpkg/alternatives -xdev \
    \( -path /usr/lib/python3/dist-packages/__pycache__ \) -prune -o \
    -printf '%y %m %p\n' 2>/dev/null | sort
}

check_install() {
  snapshot >"$work/before.list"
  installed=1   # from here on the trap purges, whatever happens
  dpkg -i "$(deb libocidir0)" "$(deb libocidir-dev)" "$(deb ocidir)" "$(deb python3-ocidir)" \
    >"$work/install.log" 2>&1 || { cat "$work/install.log"; echo "dpkg -i failed"; return 1; }
  local p
  for p in "${PKGS[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p")" = installed ] ||
      { echo "$p: not installed after dpkg -i"; return 1; }
  done
}

# Everything below runs with an empty environment but for PATH: no
# LD_LIBRARY_PATH, PKG_CONFIG_PATH, PYTHONPATH or OCIDIR_LIBRARY.
clean() { env -i PATH=/usr/bin:/bin HOME="$work" "$@"; }

version() {
  sed -n 's/^#define OCIDIR_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$src/include/ocidir.h" | paste -sd.
}

check_ocidir_version() {
  local out v
  v=$(version)
  [ "$(clean sh -c 'command -v ocidir')" = /usr/bin/ocidir ] || { echo "ocidir is not /usr/bin/ocidir"; return 1; }
  out=$(cd / && clean ocidir --version) || { echo "ocidir --version failed: $out"; return 1; }
  echo "$out"
  [ "$out" = "ocidir $v (libocidir $v)" ] || { echo "expected: ocidir $v (libocidir $v)"; return 1; }
  clean ocidir init "$work/layout-tool" >/dev/null && [ -f "$work/layout-tool/oci-layout" ] ||
    { echo "ocidir init failed"; return 1; }
}

check_pkg_config() {
  local libs v
  libs=$(clean pkg-config --libs ocidir) || { echo "pkg-config --libs ocidir failed"; return 1; }
  echo "pkg-config --libs ocidir: $libs"
  # The libdir is a system directory: no -L, nothing but the library.
  [ "$(echo $libs)" = -locidir ] || { echo "expected just -locidir, got: $libs"; return 1; }
  [ -z "$(clean pkg-config --cflags ocidir | tr -d ' ')" ] ||
    { echo "expected no cflags (/usr/include), got: $(clean pkg-config --cflags ocidir)"; return 1; }
  v=$(clean pkg-config --modversion ocidir)
  [ "$v" = "$(version)" ] || { echo "pkg-config --modversion: $v, the header says $(version)"; return 1; }
}

# The consumer example, built by its own Makefile (pkg-config only) from a
# copy outside the source tree, linked by the plain -locidir, run.
check_c_consumer() {
  local deps
  cp -r "$src/examples/pkgconfig-consumer" "$work/consumer"
  rm -f "$work/consumer/ocidir-consumer"
  clean make -s -C "$work/consumer" >/dev/null || { echo "make (pkg-config consumer) failed"; return 1; }
  deps=$(clean ldd "$work/consumer/ocidir-consumer")
  grep -qE 'libocidir\.so\.0 => /(usr/)?lib/[^ ]+/libocidir\.so\.0 ' <<<"$deps" ||
    { echo "$deps"; echo "the consumer does not load the packaged libocidir.so.0"; return 1; }
  clean "$work/consumer/ocidir-consumer" "$work/layout-c" >/dev/null ||
    { echo "the consumer failed"; return 1; }
  [ -f "$work/layout-c/index.json" ] || { echo "the consumer wrote no layout"; return 1; }
}

check_cmake_consumer() {
  clean cmake -S "$src/tests/install_consumer" -B "$work/cmake-consumer" >/dev/null ||
    { echo "cmake: find_package(ocidir) against the packages failed"; return 1; }
  clean cmake --build "$work/cmake-consumer" >/dev/null || { echo "building the find_package consumer failed"; return 1; }
  clean "$work/cmake-consumer/consumer" "$work/layout-cmake" >/dev/null || { echo "the find_package consumer failed"; return 1; }
}

check_python_import() {
  local out
  out=$(cd / && clean python3 -c '
import ocidir, ocidir._lib as l, os
print(ocidir.__file__, l.path, ocidir.version())
assert ocidir.__file__.startswith("/usr/lib/python3/dist-packages/ocidir/"), ocidir.__file__
# The file the process mapped (l.path may be a bare soname for dlopen).
maps = {line.split()[-1] for line in open("/proc/self/maps") if "libocidir" in line}
assert len(maps) == 1, maps
real = os.path.realpath(maps.pop())
assert real.startswith("/usr/lib/") and os.path.basename(real).startswith("libocidir.so.0."), real
print("mapped", real)
') || { echo "$out"; echo "python3 -c 'import ocidir' failed"; return 1; }
  echo "$out"
  [ "$(head -n1 <<<"$out" | awk '{print $3}')" = "$(version)" ] || { echo "ocidir.version() is not $(version)"; return 1; }
}

check_purge() {
  dpkg --purge "${PKGS[@]}" >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; echo "dpkg --purge failed"; return 1; }
  installed=0
  local p st
  for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ -z "$st" ] || [ "$st" = not-installed ] || { echo "$p: $st after the purge"; return 1; }
  done
}

check_leaves_nothing() {
  snapshot >"$work/after.list"
  if ! diff "$work/before.list" "$work/after.list" >"$work/leftover.log"; then
    head -n 40 "$work/leftover.log"
    echo "the purge left $(grep -c '^>' "$work/leftover.log") paths behind and removed $(grep -c '^<' "$work/leftover.log") (diff above)"
    return 1
  fi
}

run_check preconditions critical
run_check build critical
run_check contents
run_check symbols
run_check no-rpath
run_check lintian
run_check install critical
run_check ocidir-version
run_check pkg-config
run_check c-consumer
run_check cmake-consumer
run_check python-import
run_check purge critical
run_check leaves-nothing
echo "packaging: $(( ${#CHECKS[@]} - nfail )) of ${#CHECKS[@]} checks passed"
[ "$nfail" -eq 0 ]
