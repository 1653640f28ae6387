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

mode=${1:-}
shift || true
case "$mode" in
lint) lint "$@" ;;
coverage) coverage "$@" ;;
*) fail "usage: check_man.sh lint PAGE... | coverage OCIDIR PAGE" ;;
esac
