#!/bin/bash
# Checks of the generated man pages (build/man/*.[13]).
#
#   check_man.sh lint PAGE...
#       Every page renders without a warning: `groff -t -ww -man -z` (tbl,
#       terminal output at 120, 80 and 60 columns) prints nothing and succeeds, and `mandoc -Tlint -Wwarning` reports nothing
#       but scdoc's redundant paragraph macros ("skipping paragraph macro":
#       scdoc emits .P right after .SH and before .RE; both formatters drop
#       them, the rendering does not change).  A missing formatter fails.
#
#   check_man.sh coverage OCIDIR PAGE
#       ocidir(1) cannot go stale: every command that `OCIDIR --help` lists
#       has its own subsection (.SS NAME) in PAGE, and every long option that
#       `OCIDIR --help` or `OCIDIR COMMAND --help` shows appears in PAGE.
#
#   check_man.sh examples OCIDIR OCIDIR_1_SCD
#       The EXAMPLES of ocidir(1) run as written: every "$ " line of its
#       literal blocks, in order, with /var and /srv moved under a scratch
#       root and the input files (tars, a layout with a tag v1) made first;
#       each command must succeed.  Needs root (the unpack example shifts ids).
#
#   check_man.sh c-example LIBOCIDIR_3_SCD CC INCLUDEDIR LIBDIR OCIDIR
#       The complete program of libocidir(3)'s EXAMPLES compiles without a
#       warning against the library, prints a stored blob back, and fails
#       with status 1 and a message for a blob that is not there.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

lint() {
    [ $# -ge 1 ] || fail "usage: check_man.sh lint PAGE..."
    command -v groff >/dev/null || fail "groff is not installed (Debian groff-base; scripts/setup installs it)"
    command -v mandoc >/dev/null || fail "mandoc is not installed (Debian mandoc; scripts/setup installs it)"
    local page out bad=0
    for page in "$@"; do
        [ -s "$page" ] || fail "$page: missing or empty (is OCIDIR_BUILD_MAN on and the page built?)"
        # As man(1) renders it: through tbl (-t), for a terminal, at a wide,
        # the usual and a narrow width (a word too long for a line or a table
        # cell is a "can't break line" warning only at some widths).
        local width
        for width in 120 80 60; do
            if ! out=$(LC_ALL=C.UTF-8 groff -t -ww -man -Tutf8 -rLL=${width}n -rLT=${width}n -z "$page" 2>&1) ||
                [ -n "$out" ]; then
                echo "$page: groff -t -ww -man -Tutf8 at $width columns:" >&2
                echo "$out" >&2
                bad=1
            fi
        done
        # mandoc exits non-zero when it reports anything; judge by what it says.
        out=$(mandoc -Tlint -Wwarning "$page" 2>&1 | grep -v ': WARNING: skipping paragraph macro: ' || true)
        if [ -n "$out" ]; then
            echo "$page: mandoc -Tlint -Wwarning:" >&2
            echo "$out" >&2
            bad=1
        fi
        # The page must also have the sections a reader looks for.
        local sec
        for sec in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
            grep -qxE "\\.SH \"?$sec\"?" "$page" || { echo "$page: no $sec section" >&2; bad=1; }
        done
    done
    [ "$bad" = 0 ] || fail "man page warnings (above)"
    echo "lint: $# pages clean"
}

coverage() {
    [ $# -eq 2 ] || fail "usage: check_man.sh coverage OCIDIR PAGE"
    local ocidir=$1 page=$2
    [ -s "$page" ] || fail "$page: missing or empty"
    # The page's text with font escapes and zero-width marks removed, so that
    # \fB--blobdir\fR reads as --blobdir.
    local text
    text=$(sed -e 's/\\f[BIRP]//g' -e 's/\\&//g' -e 's/\\-/-/g' "$page")
    local help
    help=$("$ocidir" --help) || fail "$ocidir --help failed"
    # The commands: the indented first words of the "Commands:" block.
    local commands
    commands=$(printf '%s\n' "$help" | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\)\( .*\)\{0,1\}$/\1/p')
    [ -n "$commands" ] || fail "no command found in '$ocidir --help'"
    local missing=() c opt n=0 nopt=0
    for c in $commands; do
        n=$((n + 1))
        grep -qxE "\\.SS \"?$c\"?" "$page" || missing+=("command '$c' has no subsection (.SS $c)")
        local chelp
        chelp=$("$ocidir" "$c" --help) || fail "$ocidir $c --help failed"
        for opt in $(printf '%s\n' "$chelp" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
            nopt=$((nopt + 1))
            grep -qF -- "$opt" <<<"$text" || missing+=("option $opt of '$c' is not in the page")
        done
    done
    for opt in $(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
        nopt=$((nopt + 1))
        grep -qF -- "$opt" <<<"$text" || missing+=("global option $opt is not in the page")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        printf '  %s\n' "${missing[@]}" >&2
        fail "$page is stale against '$ocidir --help' (${#missing[@]} missing)"
    fi
    echo "coverage: $n commands and $nopt options of $ocidir are in $page"
}

# literal_blocks SCD: the literal blocks of the EXAMPLES section of an scdoc
# source, with scdoc's "\\" read as "\", each line as it is.
literal_blocks() {
    awk '/^# EXAMPLES$/ {on = 1; next} /^# / {on = 0}
         on && /^```$/ {inblock = !inblock; next}
         on && inblock {print}' "$1" | sed 's/\\\\/\\/g'
}

examples() {
    [ $# -eq 2 ] || fail "usage: check_man.sh examples OCIDIR OCIDIR_1_SCD"
    local ocidir scd=$2
    ocidir=$(readlink -f "$1")
    [ "$(id -u)" = 0 ] || fail "the examples of ocidir(1) need root: one unpacks with --uid-map (CAP_CHOWN)"
    local s
    s=$(mktemp -d "${TMPDIR:-/tmp}/ocidir-man-examples.XXXXXX")
    trap '[ -n "${KEEP:-}" ] || rm -rf "'"$s"'"' EXIT
    local root=$s/root
    mkdir -p "$root" "$s/work"
    # The commands, joined across "\" continuation lines, with the system
    # directories moved under the scratch root.
    literal_blocks "$scd" | awk '
        /^\$ / { cmd = substr($0, 3) }
        !/^\$ / { sub(/^ +/, ""); cmd = cmd $0 }
        { if (cmd ~ /\\$/) { sub(/\\$/, "", cmd) } else if (cmd != "") { print cmd; cmd = "" } }' |
        sed -e "s#\(^\| \)/var/#\1$root/var/#g" -e "s#\(^\| \)/srv/#\1$root/srv/#g" >"$s/commands"
    local n
    n=$(wc -l <"$s/commands")
    [ "$n" -ge 10 ] || { cat "$s/commands" >&2; fail "only $n example commands found in $scd"; }
    # The inputs the examples name.
    (
        cd "$s/work"
        local x
        for x in base tools web; do
            mkdir -p "t-$x/$x"
            echo "$x" >"t-$x/$x/file"
            tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "t-$x" -cf "$x.tar" .
        done
        echo notes >notes.txt
        "$ocidir" --quiet init layout
        "$ocidir" --quiet import layout:v1 base.tar >/dev/null
        # A layout whose blobs/sha256 is a symlink into the cache, as LXC's are.
        mkdir -p "$root/var/cache/lxc/sha256" "$root/var/lib/lxc/images" "$root/srv"
        "$ocidir" --quiet init "$root/var/lib/lxc/images/old"
        rmdir "$root/var/lib/lxc/images/old/blobs/sha256"
        ln -s "$root/var/cache/lxc/sha256" "$root/var/lib/lxc/images/old/blobs/sha256"
    ) || fail "could not make the inputs of the examples"
    {
        echo 'set -euo pipefail'
        echo "ocidir() { \"$ocidir\" \"\$@\"; }"
        echo "cd \"$s/work\""
        local line
        while IFS= read -r line; do
            printf 'echo %q\n%s\n' "\$ $line" "$line"
        done <"$s/commands"
    } >"$s/run.sh"
    bash "$s/run.sh" >"$s/out" 2>&1 || { cat "$s/out" >&2; fail "an example of ocidir(1) failed (the last command shown)"; }
    # What the examples say: the layouts hold no blob, the cache holds them.
    local l
    for l in debian web; do
        [ -z "$(ls -A "$root/var/lib/lxc/images/$l/blobs/sha256")" ] ||
            fail "the example's layout $l holds blobs of its own; they were to go to the cache"
    done
    [ -n "$(ls -A "$root/var/cache/lxc/sha256")" ] || fail "the example's cache holds no blob"
    [ -f "$root/var/lib/lxc/c1/rootfs/base/file" ] || fail "the example's unpack made no root filesystem"
    [ "$(stat -c %u "$root/var/lib/lxc/c1/rootfs/base/file")" = 100000 ] ||
        fail "the example's unpack did not shift uid 0 to 100000"
    echo "examples: $n commands of ocidir(1) ran"
}

c_example() {
    [ $# -eq 5 ] || fail "usage: check_man.sh c-example LIBOCIDIR_3_SCD CC INCLUDEDIR LIBDIR OCIDIR"
    local scd=$1 cc=$2 inc=$3 libdir=$4 ocidir=$5 s
    s=$(mktemp -d "${TMPDIR:-/tmp}/ocidir-man-c.XXXXXX")
    trap '[ -n "${KEEP:-}" ] || rm -rf "'"$s"'"' EXIT
    # The first complete program: from its first "#" line to the closing brace.
    literal_blocks "$scd" | awk '/^#/ {on = 1} on {print} on && /^}$/ {exit}' >"$s/example.c"
    grep -q 'int main' "$s/example.c" || fail "no complete program in the EXAMPLES of $scd"
    "$cc" -std=c11 -Wall -Wextra -Werror -I"$inc" -o "$s/example" "$s/example.c" \
        -L"$libdir" -Wl,-rpath,"$libdir" -locidir 2>"$s/cc.err" ||
        { cat "$s/example.c" "$s/cc.err" >&2; fail "the example program of libocidir(3) does not compile cleanly"; }
    "$ocidir" --quiet init "$s/layout"
    printf 'the example reads this back\n' >"$s/blob"
    local digest
    digest=$("$ocidir" put "$s/layout" "$s/blob")
    "$s/example" "$s/layout" "$digest" >"$s/out" || fail "the example program failed on a stored blob"
    cmp -s "$s/blob" "$s/out" || fail "the example program printed something else than the blob"
    local absent=sha256:0000000000000000000000000000000000000000000000000000000000000000 rc=0
    "$s/example" "$s/layout" "$absent" >/dev/null 2>"$s/err" || rc=$?
    [ "$rc" = 1 ] || fail "the example program exited $rc for an absent blob, expected 1"
    grep -q "$absent" "$s/err" || fail "the example's message does not name the absent blob: $(cat "$s/err")"
    echo "c-example: compiles cleanly, reads a blob back, names an absent one"
}

mode=${1:-}
shift || true
case "$mode" in
lint) lint "$@" ;;
coverage) coverage "$@" ;;
examples) examples "$@" ;;
c-example) c_example "$@" ;;
*) fail "usage: check_man.sh lint|coverage|examples|c-example ARGS (see the top of this file)" ;;
esac
