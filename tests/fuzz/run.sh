#!/bin/sh
# Run the libFuzzer targets of tests/fuzz.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# BUILD_DIR is a build configured with CC=clang CXX=clang++ -DOCIDIR_BUILD_FUZZ=ON
# (targets built with `cmake --build BUILD_DIR --target fuzz_all`).  TARGETs
# default to all of them.  For each target: every file under
# tests/fuzz/regress/<target>/ is run once, then the target fuzzes for
# SECONDS from a scratch copy of tests/fuzz/corpus/<target>/ (the checked-in
# corpus is never modified).  Prints one line per target:
#   fuzz <target>: <N> execs in <S> s, <cov> coverage, crashes: 0
# and exits non-zero if any target crashed, leaked or timed out; the crash
# input is kept under BUILD_DIR/fuzz-artifacts/<target>/ and its path printed.
# FUZZ_KEEP_CORPUS=DIR keeps the grown corpora under DIR/<target>/.
set -u

usage() { echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
build=$1
secs=$2
shift 2
case $secs in '' | *[!0-9]*) usage ;; esac
here=$(cd "$(dirname "$0")" && pwd)
all="digest layout_version index manifest config ref layer unpack"
targets=${*:-$all}

work=$(mktemp -d "${TMPDIR:-/tmp}/ocidir-fuzz-run.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
failed=0

for t in $targets; do
    bin=$build/tests/fuzz/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "fuzz $t: no executable $bin (build the fuzz_all target)" >&2
        failed=1
        continue
    fi
    art=$build/fuzz-artifacts/$t
    mkdir -p "$art"
    dict=
    case $t in index | manifest | config | layout_version) dict=-dict=$here/json.dict ;; esac

    # Regression inputs first: each once.
    if [ -d "$here/regress/$t" ] && [ -n "$(ls -A "$here/regress/$t")" ]; then
        if ! "$bin" -runs=1 $dict "$here/regress/$t"/* >"$work/$t.regress.log" 2>&1; then
            echo "fuzz $t: a regression input under tests/fuzz/regress/$t fails:" >&2
            tail -n 40 "$work/$t.regress.log" >&2
            failed=1
            continue
        fi
        nreg=$(ls -A "$here/regress/$t" | wc -l)
        echo "fuzz $t: $nreg regression inputs pass"
    fi

    corpus=$work/corpus-$t
    mkdir -p "$corpus"
    if [ -d "$here/corpus/$t" ]; then
        cp "$here/corpus/$t"/* "$corpus"/ 2>/dev/null
    fi
    log=$work/$t.log
    start=$(date +%s)
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art/" $dict "$corpus" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    if [ "$rc" -ne 0 ]; then
        echo "fuzz $t: FAILED (exit $rc) after $((end - start)) s; log tail:" >&2
        tail -n 60 "$log" >&2
        grep -h 'Test unit written to' "$log" >&2
        failed=1
        echo "fuzz $t: ${execs:-?} execs in $((end - start)) s, ${cov:-?} coverage, crashes: 1"
        continue
    fi
    echo "fuzz $t: ${execs:-?} execs in $((end - start)) s, ${cov:-?} coverage, crashes: 0"
    if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
        mkdir -p "$FUZZ_KEEP_CORPUS/$t" && cp "$corpus"/* "$FUZZ_KEEP_CORPUS/$t"/ 2>/dev/null
    fi
done
exit $failed
