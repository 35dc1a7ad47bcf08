#!/usr/bin/env bash
# mypy on parkbench.core with the [tool.mypy] settings of pyproject.toml; zero errors expected.
#
#   bash .ci/typecheck.sh          # what .ci/run does after the test suite
#
# The repository root is the `parkbench` package (package-dir = {"parkbench" = "."}), and the
# checkout's folder has some other name, so mypy cannot find `parkbench.core` from here. A
# temporary folder holding only a symlink `parkbench -> <checkout>` on MYPYPATH gives it the
# import name; --python-executable points mypy at the venv so the dependencies' own types
# (sqlalchemy, sqlmodel, psycopg, ...) resolve as they do at run time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON_EXECUTABLE:-$root/.venv/bin/python}
if [ ! -x "$python" ]; then
  echo "typecheck.sh: no $python; create the venv first (pip install -e '.[dev]')" >&2
  exit 1
fi
alias_dir=$(mktemp -d "${TMPDIR:-/tmp}/parkbench-mypy.XXXXXX")
trap 'rm -rf "$alias_dir"' EXIT
ln -s "$root" "$alias_dir/parkbench"
cd "$alias_dir"
MYPYPATH="$alias_dir" "$python" -m mypy --config-file "$root/pyproject.toml" \
  --python-executable "$python" --cache-dir "$root/.mypy_cache" -p parkbench.core "$@"
