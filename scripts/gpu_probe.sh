#!/usr/bin/env bash
# A probe of work in progress on the GPU machine, in one call: the full verification, filtered
# side-by-side benchmarks (scripts/gpu_bench_some.sh), the same filter timed with variant builds
# (other tuning constants; ConvKit's side only, to set against the main build's rows), chosen
# compute-sanitizer passes, and Nsight Compute over chosen cases (scripts/gpu_profile_memory.sh).
# Every step has its own time limit; results go to $OUT as one results.tgz (the device tool
# returns at most 8 files, 2 folders down).
#
#   FILTERS="softmax|maxPool2d" VARIANTS="/tmp/b" VARIANT_FILTER="depthwise3x3" \
#   SANITIZE="memcheck:maxPool2d:20" PROFILE="softmax 8192x1000 fwd|..." scripts/gpu_probe.sh /tmp/convkit
# (lists are separated by '|'; an empty list skips its step; VERIFY_SECONDS defaults to 150)
set -uo pipefail
BIN=${1:?usage: scripts/gpu_probe.sh path/to/convkit}
RESULTS=${OUT:-gpu-logs}
R=/tmp/probe-results
mkdir -p "$R"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export CONVKIT_KERNEL_CACHE=${CONVKIT_KERNEL_CACHE:-/tmp/convkit-kernels}
IFS='|' read -ra filters <<< "${FILTERS:-}"
IFS='|' read -ra variants <<< "${VARIANTS:-}"
IFS='|' read -ra sanitize <<< "${SANITIZE:-}"
IFS='|' read -ra profile <<< "${PROFILE:-}"

echo "== verify ($(date -u +%T))"
timeout "${VERIFY_SECONDS:-150}" "$BIN" verify --device cuda --fixtures Tests/ConvKitTests/Fixtures > "$R/verify.txt" 2>&1
echo "verify exit $?"
grep -v '^\[' "$R/verify.txt" | grep -v " ok$" | tail -12

if [ ${#filters[@]} -gt 0 ]; then
    echo "== benchmarks ($(date -u +%T))"
    OUT="$R/bench" timeout "${BENCH_SECONDS:-300}" scripts/gpu_bench_some.sh "$BIN" "${filters[@]}"
fi

for variant in "${variants[@]}"; do
    name=$(basename "$variant")
    echo "== variant $name: ${VARIANT_FILTER:-} ($(date -u +%T))"
    timeout 120 "$variant" bench --device cuda --filter "${VARIANT_FILTER:-}" --json "$R/variant-$name.json" > "$R/variant-$name.txt" 2>&1
    grep -E "GB/s|TFLOP/s|ms " "$R/variant-$name.txt" | cut -c1-100
done

[ ${#sanitize[@]} -gt 0 ] && scripts/gpu_sanitize.sh "$BIN" "$R/sanitizers.txt" "${sanitize[@]}"

if [ ${#profile[@]} -gt 0 ]; then
    echo "== Nsight Compute ($(date -u +%T))"
    OUT="$R" timeout "${PROFILE_SECONDS:-150}" scripts/gpu_profile_memory.sh "$BIN" "${profile[@]}" > /dev/null
    grep -v "^   event" "$R/ncu-memory.txt" | cut -c1-190 | head -60
fi
echo "== done ($(date -u +%T))"
mkdir -p "$RESULTS"
tar czf "$RESULTS/results.tgz" -C "$R" .
