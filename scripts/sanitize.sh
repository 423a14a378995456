#!/usr/bin/env bash
# The test suite under AddressSanitizer (with LeakSanitizer) and ThreadSanitizer, each in its own
# build folder (.build-asan, .build-tsan). Leaks inside the toolchain's own libraries are
# suppressed by Tests/Sanitizers/lsan-suppressions.txt; any report in ConvKit's code fails the run.
#   scripts/sanitize.sh [address|thread]      (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
export CONVKIT_MNIST_DIR="${CONVKIT_MNIST_DIR:-$(cd .. && pwd)/shared/data/mnist}"
for sanitizer in ${1:-address thread}; do
    folder=".build-${sanitizer:0:1}san"
    echo "== swift test --sanitize=$sanitizer ($folder)"
    swift build --build-tests --sanitize="$sanitizer" --scratch-path "$folder"
    # Each run sets only its own sanitizer's options (DiskFaultTests reads TSAN_OPTIONS to know
    # it runs under ThreadSanitizer).
    if [ "$sanitizer" = thread ]; then options=(TSAN_OPTIONS="halt_on_error=1")
    else options=(LSAN_OPTIONS="suppressions=$PWD/Tests/Sanitizers/lsan-suppressions.txt:print_suppressions=0"); fi
    env "${options[@]}" swift test --skip-build --sanitize="$sanitizer" --scratch-path "$folder"
done
