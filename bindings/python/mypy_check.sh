#!/bin/sh
# Type-check the binding with mypy --strict (the CTest test python_mypy):
# the package at the oldest Python it supports (3.9, from pyproject.toml),
# then the package with its tests, as the interpreter that runs them sees
# them (its version and its site-packages, for pytest's own hints).
#
# usage: mypy_check.sh PYTHON   (the interpreter the tests run with)
# mypy is taken from PYTHON if it has it, else from Debian's python3
# (scripts/setup installs the `mypy` package); finding neither fails.
set -eu
py=${1:-python3}
here=$(cd "$(dirname "$0")" && pwd)
mypy_py=
for cand in "$py" /usr/bin/python3; do
  if "$cand" -c 'import mypy' >/dev/null 2>&1; then
    mypy_py=$cand
    break
  fi
done
if [ -z "$mypy_py" ]; then
  echo "python_mypy: FAIL: no mypy for $py nor /usr/bin/python3 (install Debian's mypy: scripts/setup)" >&2
  exit 1
fi
ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
cd "$here"
"$mypy_py" -m mypy --version
"$mypy_py" -m mypy --strict --config-file pyproject.toml --cache-dir=/dev/null ocidir
"$mypy_py" -m mypy --strict --config-file pyproject.toml --cache-dir=/dev/null \
  --python-version "$ver" --python-executable "$(command -v "$py")" ocidir tests
