#!/usr/bin/env bash
# The README's test command with one of the machine's cores kept busy by another process, as on a
# shared or noisy runner: the suite must pass all the same (slower, never red).
#
#   bash bench/suite_under_load.sh              # the whole suite, one core busy
#   bash bench/suite_under_load.sh -m "not slow" tests/land    # any pytest arguments instead
#
# Prints the suite's own summary and its wall time; exits with pytest's status.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

# One process spinning on one core for as long as the suite runs.
"$PY" -c 'while True: pass' &
burner=$!
trap 'kill "$burner" 2>/dev/null; wait "$burner" 2>/dev/null' EXIT

args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(-n 4 -q)
fi

began=$(date +%s)
.venv/bin/pytest "${args[@]}"
status=$?
echo "suite_under_load: pytest ${args[*]} exited ${status} after $(( $(date +%s) - began )) s with one core kept busy"
exit "$status"
