#!/usr/bin/env bash
# One GPU-machine session that fits a short device lease: the full verification (every op and
# the runtime's error paths), the side-by-side benchmark with issue 5's targets, and racecheck
# over the shared-memory kernels (a partial run is reported as such), each under a time limit, in order of importance. The files
# that matter are copied to $OUT as each step ends (the device tool returns at most 8 files).
#
#   scripts/gpu_check_and_bench.sh [path/to/convkit]
#   (VERIFY_SECONDS and BENCH_SECONDS override the limits, 170 and 230 s; RACECHECK the
#   filters and their limits, "tensorCore:40 maxPool2d:25 oftmax:25")
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
timeout "${VERIFY_SECONDS:-170}" "$BIN" verify --device cuda --fixtures Tests/ConvKitTests/Fixtures > "$RESULTS/verify.txt" 2>&1 || status=1
grep -v '^\[' "$RESULTS/verify.txt" | grep -v " ok$" | tail -15

echo "== bench ($(date -u +%T))"
timeout "${BENCH_SECONDS:-230}" scripts/gpu_bench.sh "$BIN" || status=1
for f in compare-cuda.md convkit-cuda.json torch-cuda.json convkit-memory.json torch-memory.json; do
    [ -e "$OUT/$f" ] && cp "$OUT/$f" "$RESULTS/"
done

# racecheck slows kernels a hundredfold: each filter gets its own limit, the tensor cores' most.
for entry in ${RACECHECK:-"tensorCore:40" "maxPool2d:25" "oftmax:25"}; do
    filter=${entry%%:*}; seconds=${entry##*:}
    echo "== compute-sanitizer racecheck --filter $filter ($(date -u +%T))"
    timeout "$seconds" "$SANITIZER" --tool racecheck --error-exitcode 99 --print-limit 20 \
        "$BIN" verify --device cuda --skip-runtime-checks --filter "$filter" >> "$RESULTS/racecheck.txt" 2>&1
    code=$?
    grep -E "RACECHECK SUMMARY|ERROR SUMMARY|passed, .* failed" "$RESULTS/racecheck.txt" | tail -2
    case $code in 0) ;; 124) echo "racecheck $filter: stopped after ${seconds} s (not finished)" ;; *) echo "racecheck $filter: exit $code"; status=1 ;; esac
done
echo "== done ($(date -u +%T))"
exit $status
