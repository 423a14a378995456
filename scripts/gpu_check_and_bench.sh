#!/usr/bin/env bash
# One GPU-machine session that fits a short device lease: the full verification (every op and
# the runtime's error paths), the side-by-side benchmark with issue 5's targets, and
# compute-sanitizer over the newest kernels (a run cut short is reported as such), each under a
# time limit, in order of importance. The files
# that matter are copied to $OUT as each step ends (the device tool returns at most 8 files).
#
#   scripts/gpu_check_and_bench.sh [path/to/convkit]
#   (VERIFY_SECONDS and BENCH_SECONDS override the limits, 150 and 230 s; SANITIZE the
#   "tool:filter:seconds" list)
set -uo pipefail
BIN=${1:-.device/convkit}
RESULTS=${OUT:-gpu-logs}
export OUT=/tmp/gpu-logs   # the scripts' own logs; only the chosen files go to $RESULTS
mkdir -p "$OUT" "$RESULTS"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export CONVKIT_KERNEL_CACHE=${CONVKIT_KERNEL_CACHE:-/tmp/convkit-kernels}
status=0

echo "== verify ($(date -u +%T))"
timeout "${VERIFY_SECONDS:-150}" "$BIN" verify --device cuda --fixtures Tests/ConvKitTests/Fixtures > "$RESULTS/verify.txt" 2>&1 || status=1
grep -v '^\[' "$RESULTS/verify.txt" | grep -v " ok$" | tail -15

echo "== bench ($(date -u +%T))"
timeout "${BENCH_SECONDS:-230}" scripts/gpu_bench.sh "$BIN" || status=1
for f in compare-cuda.md convkit-cuda.json torch-cuda.json convkit-memory.json torch-memory.json; do
    [ -e "$OUT/$f" ] && cp "$OUT/$f" "$RESULTS/"
done

read -ra sanitize <<< "${SANITIZE:-memcheck:tensorCore:30 memcheck:depthwise:20 memcheck:maxPool2d:20 memcheck:oftmax:15 \
                        memcheck:crossEntropy:15 racecheck:tensorCore:30 racecheck:maxPool2d:20 synccheck:maxPool2d:15}"
scripts/gpu_sanitize.sh "$BIN" "$RESULTS/sanitizers.txt" "${sanitize[@]}" || status=1
echo "== done ($(date -u +%T))"
exit $status
