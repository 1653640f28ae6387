#!/bin/bash
# valgrind.sh BUILD_DIR LOG_DIR SUITE...
# Runs each cmocka suite BUILD_DIR/tests/SUITE under valgrind's memcheck, two
# at a time, and judges it:
#   - the suite itself exits 0 and its own process reports 0 errors, counting
#     definite leaks as errors;
#   - every process it forks reports no memory error.  Forked children leave
#     with _exit() while holding the parent's heap, so their leak records are
#     not judged; invalid reads/writes, uninitialised values, bad frees and
#     the like are.
# Each process writes LOG_DIR/SUITE.PID.log.  Prints one line per suite
# ("valgrind SUITE: clean (N s)" or the reason) and exits with the number of
# failed suites.
set -uo pipefail

build=$1 logs=$2
shift 2
mkdir -p "$logs"

# judge SUITE: run one suite and print its verdict line; non-zero on failure.
judge() {
  local t=$1 exe="$build/tests/$1" start pid rc=0 main log summary contexts leaks
  rm -f "$logs/$t".*.log
  if [ ! -x "$exe" ]; then
    echo "valgrind $t: FAILED: $exe does not exist"
    return 1
  fi
  start=$(date +%s)
  valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
           --log-file="$logs/$t.%p.log" "$exe" >"$logs/$t.out" 2>&1 &
  pid=$!
  wait "$pid" || rc=$?
  main="$logs/$t.$pid.log"
  if [ "$rc" -ne 0 ]; then
    echo "valgrind $t: FAILED: the suite exited $rc (output: $logs/$t.out)"
    return 1
  fi
  summary=$(grep -E 'ERROR SUMMARY: [0-9]+ errors' "$main" 2>/dev/null | tail -n1)
  if [ -z "$summary" ]; then
    echo "valgrind $t: FAILED: no error summary in $main"
    return 1
  fi
  if ! grep -q 'ERROR SUMMARY: 0 errors' <<<"$summary"; then
    echo "valgrind $t: FAILED: $summary (see $main)"
    return 1
  fi
  for log in "$logs/$t".*.log; do
    [ "$log" = "$main" ] && continue
    summary=$(grep -E 'ERROR SUMMARY: [0-9]+ errors from [0-9]+ contexts' "$log" | tail -n1)
    # A child that exec'd another program before exiting has no summary.
    [ -z "$summary" ] && continue
    contexts=$(sed -E 's/.* errors from ([0-9]+) contexts.*/\1/' <<<"$summary")
    leaks=$(grep -c 'definitely lost in loss record' "$log")
    if [ "$contexts" -gt "$leaks" ]; then
      echo "valgrind $t: FAILED: a forked child reported $((contexts - leaks)) memory error(s) (see $log)"
      return 1
    fi
  done
  echo "valgrind $t: clean ($(( $(date +%s) - start )) s)"
}
export -f judge
export build logs

printf '%s\n' "$@" | xargs -P2 -I{} bash -c 'judge "$1"' _ {} | tee "$logs/summary"
failed=$(grep -c 'FAILED' "$logs/summary")
exit "$failed"
