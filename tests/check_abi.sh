#!/bin/sh
# Compare the built library's ABI with the baseline kept in the repository.
#
#   check_abi.sh BASELINE.abi LIB HEADER_DIR
#
# Fails when abidiff (abigail-tools) is missing, or when LIB differs from
# BASELINE in anything but additions: a removed or changed function or
# variable, or a change abidiff calls incompatible.  Added functions and
# variables pass (the ABI may grow).  After a deliberate change (before 1.0
# only, with the version node renamed), regenerate the baseline with
#   abidw --no-corpus-path --headers-dir HEADER_DIR --out-file BASELINE.abi LIB
set -u
baseline=${1:?usage: check_abi.sh BASELINE.abi LIB HEADER_DIR}
lib=${2:?usage: check_abi.sh BASELINE.abi LIB HEADER_DIR}
headers=${3:?usage: check_abi.sh BASELINE.abi LIB HEADER_DIR}

if ! command -v abidiff >/dev/null 2>&1; then
    echo "check_abi: abidiff not found: install Debian's abigail-tools (scripts/setup does)" >&2
    exit 1
fi
[ -f "$baseline" ] || { echo "check_abi: baseline $baseline missing" >&2; exit 1; }
[ -f "$lib" ] || { echo "check_abi: $lib: no such file" >&2; exit 1; }

out=$(abidiff --no-corpus-path --headers-dir2 "$headers" "$baseline" "$lib" 2>&1)
rc=$?
printf '%s\n' "$out"
# abidiff's exit status is a bit field: 1 error, 2 usage, 4 ABI change,
# 8 incompatible ABI change.
if [ $((rc & 3)) -ne 0 ]; then
    echo "check_abi: abidiff failed to run (exit $rc)" >&2
    exit 1
fi
if [ $((rc & 8)) -ne 0 ]; then
    echo "check_abi: FAILED: $lib has an incompatible ABI change against $baseline" >&2
    exit 1
fi
# Summary lines: "Functions changes summary: R Removed, C Changed (...), A Added functions"
bad=$( { printf '%s\n' "$out" | sed -nE 's/^(Functions|Variables) changes summary: ([0-9]+) Removed, ([0-9]+) Changed.*/\1 \2 \3/p';
          printf '%s\n' "$out" | sed -nE 's/^(Function symbols|Variable symbols) changes summary: ([0-9]+) Removed.*/\1 \2 0/p' | sed 's/ symbols/-symbols/'; } |
    awk '$2 != 0 || $3 != 0 { print $1 ": " $2 " removed, " $3 " changed" }')
if [ -n "$bad" ]; then
    echo "check_abi: FAILED: not only additions against $baseline:" >&2
    printf '  %s\n' "$bad" >&2
    exit 1
fi
if [ $((rc & 4)) -ne 0 ] && ! printf '%s\n' "$out" | grep -qE 'Added (function|variable)'; then
    echo "check_abi: FAILED: abidiff reports an ABI change that is not an addition" >&2
    exit 1
fi
echo "check_abi: $lib is $baseline or a superset of it"
exit 0
