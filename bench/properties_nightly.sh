#!/usr/bin/env bash
# The property tests (every test using hypothesis) with the `nightly` profile: each draws 20 times
# the examples it draws in the suite (tests/support/properties.py). Takes a few hours on two cores.
#
#   bash bench/properties_nightly.sh                 # all of them
#   bash bench/properties_nightly.sh tests/land      # those of one folder
set -uo pipefail
cd "$(dirname "$0")/.."
paths=("$@")
if [ ${#paths[@]} -eq 0 ]; then
  paths=(tests)
fi
began=$(date +%s)
ORDERSYNC_HYPOTHESIS_PROFILE=nightly .venv/bin/pytest -n 2 -q -m hypothesis --hypothesis-show-statistics "${paths[@]}"
status=$?
echo "properties_nightly: exited ${status} after $(( $(date +%s) - began )) s"
exit "$status"
