#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with -Werror, runs every
# test; then the same under AddressSanitizer + UndefinedBehaviorSanitizer
# (without it-deb: the Debian packages are built without sanitizers).
# Usage: scripts/test.sh [--quick]   (--quick skips the sanitizer pass)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)

# run_suite DIR CTEST_EXCLUDE CMAKE_ARGS...
run_suite() {
        local dir=$1 exclude=$2; shift 2
        cmake -S . -B "$dir" -DBEVAKA_WERROR=ON "$@" >/dev/null
        cmake --build "$dir" -j "$jobs"
        (cd "$dir" && ctest --output-on-failure -j "$jobs" ${exclude:+-E "$exclude"})
}

echo "== build and test (RelWithDebInfo, -Werror)"
run_suite build-test ""
if [ "${1:-}" != "--quick" ]; then
        echo "== build and test (ASan + UBSan)"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                run_suite build-asan '^it-deb$' -DBEVAKA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi
if [ "${1:-}" != "--quick" ]; then
        echo "== fuzz (libFuzzer, ${FUZZ_SECONDS:-10} s per target)"
        FUZZ_SECONDS=${FUZZ_SECONDS:-10} bash scripts/fuzz.sh
fi
