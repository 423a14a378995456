#!/usr/bin/env bash
# Nsight Compute over the memory-bound cases of issue 5 (depthwise, max pooling, softmax,
# cross-entropy): for each case, every kernel it launches with its own duration, DRAM bytes and
# throughput, achieved occupancy, registers and launch shape, so the kernel's time can be set
# against the case's time between CUDA events (the rest is launch and host work). Needs ncu with
# hardware counters (Firecracker machines; H200.md). Output: $OUT/ncu-memory.txt (or ./gpu-logs).
#
#   scripts/gpu_profile_memory.sh [path/to/convkit] [case filter ...]
# NCU_BY_TOTAL=1 sorts the kernels by their summed time (for a training step: where it goes).
# Each case takes about 20 s under ncu (its warm-up runs are profiled too): the default list
# needs about 4 minutes.
set -uo pipefail
BIN=${1:-.device/convkit}; shift || true
LOGS=${OUT:-gpu-logs}
mkdir -p "$LOGS"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
METRICS=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread,launch__grid_size,launch__block_size,launch__shared_mem_per_block_dynamic
if [ $# -eq 0 ]; then
    set -- "depthwise3x3 N128 C32 s1 112 [depthwise] " "depthwise3x3 N128 C64 s2 112 [depthwise] " \
        "depthwise3x3 N128 C1024 s1 7 [depthwise] " "maxPool2d k3 s2 N128 C64 55 " "maxPool2d k2 s2 N128 C64 224 " \
        "softmax 8192x1000 fwd" "softmax 4096x32000 fwd" "softmax 4096x32000 grad" \
        "crossEntropy 65536x10 " "crossEntropy 8192x1000 " "crossEntropy 4096x32000 "
fi
for filter in "$@"; do
    echo "== $filter"
    timeout 200 "$NCU" --clock-control none --csv --page raw --print-units base --metrics "$METRICS" \
        "$BIN" bench --device cuda --filter "$filter" --runs 1 > "$LOGS/ncu-raw.csv" 2> "$LOGS/ncu-err.txt"
    grep -E "^(conv2d|maxPool2d|softmax|crossEntropy) " "$LOGS/ncu-raw.csv" | sed 's/^/   event-timed (under ncu): /'
    python3 scripts/ncu_summary.py "$LOGS/ncu-raw.csv" ${NCU_BY_TOTAL:+--by-total} || tail -5 "$LOGS/ncu-err.txt"
done 2>&1 | tee "$LOGS/ncu-memory.txt"
rm -f "$LOGS/ncu-raw.csv" "$LOGS/ncu-err.txt"
