#!/usr/bin/env bash
# The lowest dependency versions pyproject.toml allows, installed into a fresh venv, and a
# smoke subset of the suite run on them (both backends, as in .ci/run).
#
#   bash .ci/lowest.sh                       # what .ci/run does after the main suite
#   bash .ci/lowest.sh textual==8.1.0        # try a candidate floor before writing it down
#
# pip has no "lowest" resolution: .ci/lowest_constraints.py turns every lower bound of
# pyproject.toml (base dependencies and every extra) into an `==` constraint instead.
# Transitive dependencies are pip's newest that fit, as for a user with those floors.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
SMOKE=(
  tests/test_smoke_lifecycle.py
  tests/core/test_transition_table.py
  tests/cli/test_cli_worker.py
  tests/tui/test_main_screen.py
)
started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/parkbench-lowest.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

"$PY" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip packaging >/dev/null 2>&1
"$work/venv/bin/python" .ci/lowest_constraints.py "$@" >"$work/constraints.txt"
echo "lowest.sh: pinned to the lower bounds:" $(cat "$work/constraints.txt")
# pip's chatter goes to a log, shown only when the install fails.
if ! "$work/venv/bin/python" -m pip install -q -c "$work/constraints.txt" -e ".[dev]" \
  >"$work/pip.log" 2>&1; then
  grep -v '^WARNING: Location' "$work/pip.log" >&2
  exit 1
fi
"$work/venv/bin/python" .ci/lowest_constraints.py --verify "$work/constraints.txt"

if [ -z "${PARKBENCH_TEST_PG_URL:-}" ]; then
  if ! bash .ci/pg.sh status; then
    trap 'cleanup; bash .ci/pg.sh stop' EXIT
  fi
  PARKBENCH_TEST_PG_URL=$(bash .ci/pg.sh start)
  export PARKBENCH_TEST_PG_URL
fi
"$work/venv/bin/python" -m pytest -q "${SMOKE[@]}"
echo "lowest.sh: passed on the lowest versions in $(( $(date +%s) - started )) s"
