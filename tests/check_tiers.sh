#!/bin/sh
# Check the layering of src/ (see src/README.md): a file may include headers
# of its own tier and of lower tiers, never of a higher one.
#
#   check_tiers.sh SRC_DIR
#
# The tiers, lowest first, by path under src/; the first prefix that matches
# a path gives its tier (store/layout is the bottom of the store tier: the
# layout handle that the blob store and the index build on).
#   base fs format store/layout store image housekeeping unpack capi
# Fails, listing every offending #include, when a lower tier includes a
# higher one, or when a file or an included "dir/..." header is in no tier.
set -eu

src=${1:?usage: check_tiers.sh SRC_DIR}
[ -d "$src" ] || { echo "check_tiers.sh: $src is not a directory" >&2; exit 1; }

tiers="base fs format store/layout store image housekeeping unpack capi"

# rank PATH: the position of PATH's tier in $tiers (1 = lowest); 0 if none.
rank() {
    i=0
    for t in $tiers; do
        i=$((i + 1))
        case "$1" in
        "$t"/* | "$t".*) echo "$i"; return ;;
        esac
    done
    echo 0
}

status=0
files=$(cd "$src" && find . -type f \( -name '*.cc' -o -name '*.hh' -o -name '*.c' -o -name '*.h' \) | sed 's|^\./||' | sort)
[ -n "$files" ] || { echo "check_tiers.sh: no source file under $src" >&2; exit 1; }
checked=0
for f in $files; do
    case "$f" in
    */*) ;;
    *) continue ;;  # top-level files (the linker map's neighbours) belong to no tier
    esac
    fr=$(rank "$f")
    if [ "$fr" -eq 0 ]; then
        echo "src/$f: its folder is in no tier (add it to check_tiers.sh and src/README.md)" >&2
        status=1
        continue
    fi
    # Every quoted include of a "dir/file" header under src/.
    incs=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\/[^"]*\)".*/\1/p' "$src/$f")
    for inc in $incs; do
        checked=$((checked + 1))
        ir=$(rank "$inc")
        if [ "$ir" -eq 0 ]; then
            echo "src/$f includes \"$inc\", which is in no tier" >&2
            status=1
        elif [ "$ir" -gt "$fr" ]; then
            echo "src/$f includes \"$inc\": a lower tier includes a higher one" >&2
            status=1
        fi
    done
done
[ "$checked" -gt 0 ] || { echo "check_tiers.sh: no #include \"dir/...\" line found under $src" >&2; exit 1; }
if [ "$status" -eq 0 ]; then
    echo "check_tiers.sh: $checked includes checked, no upward edge"
fi
exit "$status"
