#!/usr/bin/env bash
# Runs bench-zone three times (the machine is noisy): the Stockholm offset
# from the zone file against the hand-written EU rule, in the same process.
# Usage: tests/bench/zone.sh [BUILD_DIR]   (default build-test; builds bench-zone)
set -euo pipefail
dir=${1:-build-test}
cmake --build "$dir" --target bench-zone -j2 > /dev/null
for i in 1 2 3; do echo "== run $i"; "$dir/tests/bench/bench-zone"; done
