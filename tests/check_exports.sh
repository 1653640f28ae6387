#!/bin/sh
# Check what libocidir.so exports.
#
#   check_exports.sh LIB [HEADER]
#     Fails unless every dynamic symbol LIB defines starts with ocidir_, the
#     SONAME is libocidir.so.0, every symbol is in the version node
#     OCIDIR_0.5, and (given HEADER) the exported functions are
#     exactly the ones HEADER declares with OCIDIR_API.
#
#   check_exports.sh --covers HEADER FILE...
#     Fails unless every function HEADER declares is named in each FILE (the
#     header tests take the address of every function).
set -eu

header_functions() {
    grep 'OCIDIR_API' "$1" | grep -oE '\bocidir_[a-z0-9_]+[[:space:]]*\(' |
        sed -E 's/[[:space:]]*\($//' | sort -u
}

if [ "${1:-}" = "--covers" ]; then
    header=$2
    shift 2
    fns=$(header_functions "$header")
    [ -n "$fns" ] || { echo "no OCIDIR_API function found in $header" >&2; exit 1; }
    status=0
    for f in "$@"; do
        for fn in $fns; do
            if ! grep -qE "\\b$fn\\b" "$f"; then
                echo "$f does not reference $fn" >&2
                status=1
            fi
        done
    done
    [ "$status" -eq 0 ] && echo "every function of $header is referenced in: $*"
    exit "$status"
fi

lib=${1:?usage: check_exports.sh LIB [HEADER]}
header=${2:-}
[ -f "$lib" ] || { echo "$lib: no such file" >&2; exit 1; }
status=0

# Defined dynamic symbols: "VALUE TYPE NAME[@VERSION]".  Absolute (A)
# entries are version nodes, not code or data.
syms=$(nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u)
if [ -z "$syms" ]; then
    echo "$lib exports nothing" >&2
    exit 1
fi
bad=$(printf '%s\n' "$syms" | grep -v '^ocidir_' || true)
if [ -n "$bad" ]; then
    echo "$lib exports symbols outside the ocidir_ namespace:" >&2
    printf '  %s\n' $bad >&2
    status=1
fi

soname=$(readelf -d "$lib" | sed -nE 's/.*\(SONAME\).*\[(.*)\].*/\1/p')
if [ "$soname" != "libocidir.so.0" ]; then
    echo "$lib has SONAME '$soname', expected libocidir.so.0" >&2
    status=1
fi

# Every exported symbol carries the version node of this series.
node=OCIDIR_0.5
unversioned=$(nm -D --defined-only --with-symbol-versions "$lib" 2>/dev/null |
    awk -v node="$node" '$2 != "A" && $3 !~ ("@@?" node "$") { print $3 }' || true)
if [ -n "$unversioned" ]; then
    echo "$lib exports symbols without the version node $node:" >&2
    printf '  %s\n' $unversioned >&2
    status=1
fi

if [ -n "$header" ]; then
    declared=$(header_functions "$header")
    missing=$(printf '%s\n' "$declared" | grep -vxF "$syms" || true)
    extra=$(printf '%s\n' "$syms" | grep -vxF "$declared" || true)
    if [ -n "$missing" ]; then
        echo "declared in $header but not exported:" >&2
        printf '  %s\n' $missing >&2
        status=1
    fi
    if [ -n "$extra" ]; then
        echo "exported but not declared in $header:" >&2
        printf '  %s\n' $extra >&2
        status=1
    fi
fi

[ "$status" -eq 0 ] && echo "$lib: $(printf '%s\n' "$syms" | wc -l) symbols, all ocidir_*; SONAME $soname"
exit "$status"
