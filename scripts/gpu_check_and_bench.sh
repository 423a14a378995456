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
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
status=0

echo "== verify ($(date -u +%T))"
timeout "${VERIFY_SECONDS:-150}" "$BIN" verify --device cuda --fixtures Tests/ConvKitTests/Fixtures > "$RESULTS/verify.txt" 2>&1 || status=1
grep -v '^\[' "$RESULTS/verify.txt" | grep -v " ok$" | tail -15

echo "== bench ($(date -u +%T))"
timeout "${BENCH_SECONDS:-230}" scripts/gpu_bench.sh "$BIN" || status=1
for f in compare-cuda.md convkit-cuda.json torch-cuda.json convkit-memory.json torch-memory.json; do
    [ -e "$OUT/$f" ] && cp "$OUT/$f" "$RESULTS/"
done

# The sanitizers slow kernels many times over: each (tool, filter) pair gets its own limit.
for entry in ${SANITIZE:-memcheck:tensorCore:30 memcheck:depthwise:20 memcheck:maxPool2d:20 memcheck:oftmax:15 \
                        memcheck:crossEntropy:15 racecheck:tensorCore:30 racecheck:maxPool2d:20 synccheck:maxPool2d:15}; do
    IFS=: read -r tool filter seconds <<< "$entry"
    echo "== compute-sanitizer --tool $tool, verify --filter $filter ($(date -u +%T))" | tee -a "$RESULTS/sanitizers.txt"
    poison=1; [ "$tool" = initcheck ] && poison=0   # initcheck sees through no NaN fill
    CONVKIT_POISON_MEMORY=$poison timeout "$seconds" "$SANITIZER" --tool "$tool" --error-exitcode 99 --print-limit 20 \
        "$BIN" verify --device cuda --skip-runtime-checks --filter "$filter" > /tmp/sanitizer-run.txt 2>&1
    code=$?
    grep -v '^\[' /tmp/sanitizer-run.txt >> "$RESULTS/sanitizers.txt"
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed, .* failed" /tmp/sanitizer-run.txt | tail -2
    case $code in 0) ;; 124) echo "$tool $filter: stopped after $seconds s, not finished" | tee -a "$RESULTS/sanitizers.txt" ;;
                  *) echo "$tool $filter: exit $code" | tee -a "$RESULTS/sanitizers.txt"; status=1 ;; esac
done
echo "== done ($(date -u +%T))"
exit $status
