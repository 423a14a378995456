#!/usr/bin/env bash
# Nsight Compute over the tensor-core convolution kernels, one launch of each (forward and weight
# gradient, 3xTF32 and TF32) on AlexNet's conv4 at batch 128: speed of light, warp stall reasons,
# occupancy, launch resources and memory workload. Needs ncu with hardware counters (Firecracker
# machines; H200.md). Output: $OUT/ncu-tc.txt (or ./gpu-logs).
#
#   scripts/gpu_profile_tc.sh [path/to/convkit] [case filter]
set -uo pipefail
BIN=${1:-.device/convkit}
FILTER=${2:-alexnet.conv4 N128 384-256 k3 p1 13 [implicitGEMM]}
LOGS=${OUT:-gpu-logs}
mkdir -p "$LOGS"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
for kernel in ck_tc_conv_3xtf32_n128 ck_tc_conv_tf32_n128 ck_tc_conv_weight_3xtf32_n128 ck_tc_conv_weight_tf32_n128; do
    echo "== $kernel ($FILTER)"
    timeout 120 "$NCU" --clock-control none -k "$kernel" -c 1 --section SpeedOfLight --section WarpStateStats \
        --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis \
        "$BIN" bench --device cuda --filter "$FILTER" --runs 1 2>&1 | grep -v '^\[' | grep -v "^train\|^conv2d\|^ConvKit"
done > "$LOGS/ncu-tc.txt"
grep -E "^== |Duration|Compute \(SM\) Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Issue Slots Busy|No Eligible|Stall" "$LOGS/ncu-tc.txt" | head -80
