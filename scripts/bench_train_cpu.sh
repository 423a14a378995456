#!/usr/bin/env bash
# Training figures on the CPU, ConvKit beside PyTorch (same model, batch, optimizer, data):
# LeNet-5 with the README's defaults (10 epochs), then one epoch each of LeNet-5 at batch 256,
# the small AlexNet and MobileNet, each followed by scripts/train_torch_mnist.py.
# Usage: scripts/bench_train_cpu.sh [RUNS_DIR]   (needs a release build: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-/tmp/convkit-train-bench}"
convkit=.build/release/convkit
export CONVKIT_MNIST_DIR="${CONVKIT_MNIST_DIR:-$(cd .. && pwd)/shared/data/mnist}"
torch() { python3 scripts/train_torch_mnist.py --epochs 1 --optimizer sgd --lr 0.05 "$@"; }

echo "== convkit lenet5, defaults";     $convkit train --out "$runs/lenet" 2>/dev/null
echo "== torch lenet5, batch 64";        torch --model lenet5 --batch-size 64
echo "== convkit lenet5, batch 256";     $convkit train --epochs 1 --batch-size 256 --out "$runs/lenet256" 2>/dev/null | tail -2
echo "== torch lenet5, batch 256";       torch --model lenet5 --batch-size 256
echo "== convkit alexnet (small)";       $convkit train --model alexnet --epochs 1 --out "$runs/alexnet" 2>/dev/null | tail -2
echo "== torch alexnet (small)";         torch --model alexnet --batch-size 64
echo "== convkit mobilenet";             $convkit train --model mobilenet --epochs 1 --out "$runs/mobilenet" 2>/dev/null | tail -2
echo "== torch mobilenet";               torch --model mobilenet --batch-size 64
echo "== convkit eval";                  $convkit eval --checkpoint "$runs/lenet/checkpoint-best.safetensors" | head -3
