#!/usr/bin/env bash
# The GPU side-by-side benchmark, in one command on the GPU machine: convkit bench --device cuda
# and scripts/bench_torch_cuda.py (PyTorch + cuDNN) time the same cases in the same call, then
# scripts/bench_compare_cuda.py prints one Markdown table (ours ÷ theirs) and issue 5's targets
# for BENCHMARKS.md. A first, short pair of runs times the AlexNet training step alone, each side
# in a fresh process, for its peak device memory (skipped when BENCH_FILTER is set).
#
#   scripts/gpu_bench.sh [path/to/convkit] [extra convkit bench flags, e.g. --filter conv2d]
set -uo pipefail
BIN=${1:-.device/convkit}; shift || true
LOGS=${OUT:-gpu-logs}
mkdir -p "$LOGS"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export CONVKIT_KERNEL_CACHE=${CONVKIT_KERNEL_CACHE:-/tmp/convkit-kernels}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
filter=()
[ -n "${BENCH_FILTER:-}" ] && filter=(--filter "$BENCH_FILTER")
memory=()
if [ -z "${BENCH_FILTER:-}" ]; then
    "$BIN" bench --device cuda --filter "train-step alexnet" --runs 5 --json "$LOGS/convkit-memory.json" > "$LOGS/convkit-memory.txt" 2>&1 \
        && python3 scripts/bench_torch_cuda.py --filter "train-step alexnet" --runs 5 --json "$LOGS/torch-memory.json" > "$LOGS/torch-memory.txt" 2>&1 \
        && memory=(--memory "$LOGS/convkit-memory.json" "$LOGS/torch-memory.json")
    cat "$LOGS/convkit-memory.txt" "$LOGS/torch-memory.txt" | grep -i "peak\|error" || true
fi
"$BIN" bench --device cuda --json "$LOGS/convkit-cuda.json" "${filter[@]}" "$@" > "$LOGS/convkit-cuda.txt" 2>&1
ours=$?
python3 scripts/bench_torch_cuda.py --json "$LOGS/torch-cuda.json" "${filter[@]}" > "$LOGS/torch-cuda.txt" 2>&1
theirs=$?
tail -3 "$LOGS/convkit-cuda.txt"; tail -3 "$LOGS/torch-cuda.txt"
if [ $ours -eq 0 ] && [ $theirs -eq 0 ]; then
    python3 scripts/bench_compare_cuda.py "$LOGS/convkit-cuda.json" "$LOGS/torch-cuda.json" "${memory[@]}" | tee "$LOGS/compare-cuda.md"
fi
exit $(( ours || theirs ))
