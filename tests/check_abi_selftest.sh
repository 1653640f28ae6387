#!/bin/sh
# check_abi.sh must fail when the library lost a symbol the baseline has.
#
#   check_abi_selftest.sh CHECK_ABI BASELINE.abi LIB HEADER_DIR
#
# Makes a copy of the baseline with one extra exported function (as if the
# library had removed it) and expects check_abi.sh to fail on it, naming the
# removal; the unmodified baseline must pass.
set -u
check=${1:?} baseline=${2:?} lib=${3:?} headers=${4:?}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
if ! sh "$check" "$baseline" "$lib" "$headers" >"$tmp/ok.log" 2>&1; then
    cat "$tmp/ok.log"
    echo "check_abi_selftest: the real baseline already fails; cannot test the removal case" >&2
    exit 1
fi
line=$(grep -m1 "<elf-symbol name='ocidir_version'" "$baseline") || {
    echo "check_abi_selftest: no elf-symbol entry for ocidir_version in $baseline" >&2; exit 1; }
fake=$(printf '%s\n' "$line" | sed "s/name='ocidir_version'/name='ocidir_removed_in_this_test'/")
awk -v line="$line" -v fake="$fake" '{ print } $0 == line { print fake }' "$baseline" >"$tmp/removed.abi"
grep -q ocidir_removed_in_this_test "$tmp/removed.abi" || { echo "check_abi_selftest: injection failed" >&2; exit 1; }
if sh "$check" "$tmp/removed.abi" "$lib" "$headers" >"$tmp/bad.log" 2>&1; then
    cat "$tmp/bad.log"
    echo "check_abi_selftest: FAILED: check_abi.sh passed a library without ocidir_removed_in_this_test" >&2
    exit 1
fi
if ! grep -q 'ocidir_removed_in_this_test' "$tmp/bad.log" || ! grep -q 'FAILED' "$tmp/bad.log"; then
    cat "$tmp/bad.log"
    echo "check_abi_selftest: check_abi.sh failed without naming the removed function" >&2
    exit 1
fi
echo "check_abi_selftest: a removed function is caught:"
grep -E 'ocidir_removed_in_this_test|FAILED' "$tmp/bad.log" | sed 's/^/  /'
