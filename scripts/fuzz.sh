#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz-*.c) with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs each one for a while on a seed corpus
# from proto/examples. Fails on the first crash, sanitizer report, leak or
# timeout; the input that did it is kept in <build>/fuzz-out/<fuzzer>/.
#
# Usage: scripts/fuzz.sh [SECONDS]
#   SECONDS per fuzzer: the argument, else $FUZZ_SECONDS, else 20.
#   FUZZ_BUILD   build directory (default build-fuzz)
#   FUZZ_ONLY    run only the fuzzers whose names match this grep pattern
# Seeds: fuzz-event gets every proto/examples/{valid,invalid} event, fuzz-api
# every proto/examples/api/request; any fuzzer also gets tests/fuzz/corpus/<name>/
# when that directory exists. New inputs found are kept in <build>/fuzz-corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
secs=${1:-${FUZZ_SECONDS:-20}}
build=${FUZZ_BUILD:-build-fuzz}

if ! command -v clang >/dev/null; then
        echo "fuzz.sh: needs clang with libFuzzer (Debian: clang)" >&2
        exit 1
fi
case $secs in ''|*[!0-9]*) echo "fuzz.sh: seconds must be a number, not '$secs'" >&2; exit 2 ;; esac

echo "== build fuzzers in $build"
CC=clang cmake -S . -B "$build" -DBEVAKA_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzzers

# One directory of seeds per fuzzer, rebuilt every run from the sources.
seeds() {
        local name=$1 dir=$2
        rm -rf "$dir" && mkdir -p "$dir"
        case $name in
        fuzz-event)
                cp "$src"/proto/examples/valid/*.json "$src"/proto/examples/invalid/*.json "$dir"/ 2>/dev/null || true
                ;;
        fuzz-api)
                cp "$src"/proto/examples/api/request/*.json "$dir"/ 2>/dev/null || true
                ;;
        esac
        if [ -d "$src/tests/fuzz/corpus/$name" ]; then
                cp -r "$src/tests/fuzz/corpus/$name"/. "$dir"/
        fi
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0 ran=0
for bin in "$build"/tests/fuzz/fuzz-*; do
        [ -x "$bin" ] && [ -f "$bin" ] || continue
        name=$(basename "$bin")
        if [ -n "${FUZZ_ONLY:-}" ] && ! grep -q -- "$FUZZ_ONLY" <<<"$name"; then
                continue
        fi
        seed_dir="$build/fuzz-seeds/$name" work="$build/fuzz-corpus/$name" out="$build/fuzz-out/$name"
        seeds "$name" "$seed_dir"
        mkdir -p "$work" "$out"
        echo "== $name: ${secs}s, $(ls "$seed_dir" | wc -l) seeds"
        ran=$((ran + 1))
        # The first corpus directory receives what the fuzzer finds; the seeds stay as they are.
        if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
                    -artifact_prefix="$out/" "$work" "$seed_dir" >"$out/log" 2>&1; then
                echo "fuzz.sh: $name FAILED; the end of its log ($out/log):" >&2
                tail -n 40 "$out/log" >&2
                ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null >&2 || true
                failed=$((failed + 1))
        else
                grep -E '^Done' "$out/log" | tr '\n' ' '
                echo
        fi
done
if [ "$ran" -eq 0 ]; then
        echo "fuzz.sh: no fuzzers were built in $build/tests/fuzz" >&2
        exit 1
fi
echo "$((ran - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
