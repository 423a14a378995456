#!/usr/bin/env bash
# Several filtered side-by-side benchmarks in one call on the GPU machine: scripts/gpu_bench.sh
# once per filter, each into its own folder of $OUT (named after the filter), so a probe of a few
# layers costs seconds instead of the full table's minutes.
#
#   scripts/gpu_bench_some.sh path/to/convkit "alexnet.conv2" "softmax" ...
set -uo pipefail
BIN=$1; shift
LOGS=${OUT:-gpu-logs}
status=0
for filter in "$@"; do
    folder="$LOGS/$(echo "$filter" | tr -c 'A-Za-z0-9.\n-' '_')"
    echo "== $filter"
    OUT="$folder" BENCH_FILTER="$filter" bash "$(dirname "$0")/gpu_bench.sh" "$BIN" | grep -v "^|---" | grep "^|" || status=1
done
exit $status
