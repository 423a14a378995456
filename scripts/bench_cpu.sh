#!/usr/bin/env bash
# The CPU benchmark, side by side with PyTorch, in one run on one machine:
#   1. convkit bench with the default (portable x86-64) release build,
#   2. the same with AVX2/FMA code generation (-target-cpu haswell -D CONVKIT_AVX2),
#   3. scripts/bench_torch_cpu.py (PyTorch on the CPU, same cases, same timing method),
# then prints Markdown tables (ours ÷ PyTorch) for BENCHMARKS.md.
# Usage: scripts/bench_cpu.sh [OUT_DIR] [extra convkit bench flags, e.g. --filter conv2d]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench-results}"; shift || true
mkdir -p "$out"

swift build -c release --product convkit
swift build -c release --product convkit --scratch-path .build-avx2 \
    -Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -DCONVKIT_AVX2

lscpu | grep -E 'Model name|^CPU\(s\)' > "$out/machine.txt"
.build/release/convkit info | tee -a "$out/machine.txt"
.build/release/convkit bench --device cpu --json "$out/convkit-cpu.json" "$@" | tee "$out/convkit-cpu.txt"
.build-avx2/release/convkit bench --device cpu --json "$out/convkit-cpu-avx2.json" "$@" | tee "$out/convkit-cpu-avx2.txt"
python3 scripts/bench_torch_cpu.py --json "$out/torch-cpu.json" | tee "$out/torch-cpu.txt"

python3 scripts/bench_compare.py "$out/convkit-cpu.json" "$out/torch-cpu.json" > "$out/compare-default.md"
python3 scripts/bench_compare.py "$out/convkit-cpu-avx2.json" "$out/torch-cpu.json" > "$out/compare-avx2.md"
echo "tables: $out/compare-default.md $out/compare-avx2.md"
