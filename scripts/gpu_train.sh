#!/usr/bin/env bash
# Training on the GPU, in one command on the GPU machine: LeNet-5 (the README's main job, 10
# epochs), then the AlexNet-style and MobileNet-style networks for a few epochs each, all with
# --device cuda on MNIST. Prints each run's last epoch line; run directories go to $OUT.
#
#   scripts/gpu_train.sh [path/to/convkit] [MNIST dir]     (defaults: .device/convkit, .device/mnist)
set -uo pipefail
BIN=${1:-.device/convkit}
DATA=${2:-.device/mnist}
LOGS=${OUT:-gpu-logs}
mkdir -p "$LOGS"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export CONVKIT_KERNEL_CACHE=${CONVKIT_KERNEL_CACHE:-/tmp/convkit-kernels}
status=0
for spec in "lenet5 ${LENET_EPOCHS:-10}" "alexnet ${ALEXNET_EPOCHS:-3}" "mobilenet ${MOBILENET_EPOCHS:-3}"; do
    set -- $spec
    echo "== $1, $2 epochs on cuda"
    start=$(date +%s)
    "$BIN" train --device cuda --model "$1" --epochs "$2" --data "$DATA" --out "/tmp/runs/$1" \
        > "$LOGS/train-$1.txt" 2>&1 || status=1
    tr '\r' '\n' < "$LOGS/train-$1.txt" | grep -v '^\s*$' | grep -E "epoch|error|accuracy" | tail -4
    echo "   wall time $(( $(date +%s) - start )) s"
    cp "/tmp/runs/$1/metrics.jsonl" "$LOGS/metrics-$1.jsonl" 2>/dev/null || true
done
exit $status
