#!/usr/bin/env bash
# Nsight Compute over one launch of each of the kept kernels at the benchmark shapes (GPU
# machine): depthwise 14×14 (24 planes a block) and 7×7 (direct), max pooling k3 s2 at 55.
# Usage: scripts/kernel_lab/profile.sh [out.txt]
set -u
cd "$(dirname "$0")/../.."
export PATH=/usr/local/cuda/bin:$PATH
out=${1:-/tmp/kernel_lab_profile.txt}
sections="--section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section WarpStateStats --section SchedulerStats --section LaunchStats"
for lab in depthwise pooling; do
    nvcc -O3 -arch=sm_90 -std=c++17 -lineinfo -o "/tmp/${lab}_lab" "scripts/kernel_lab/${lab}_lab.cu" || exit 1
done
{
    LAB_PROFILE=1 ncu $sections --kernel-name regex:ck_dw3x3_planes_forward_s1 --launch-skip 4 --launch-count 1 /tmp/depthwise_lab
    LAB_PROFILE=1 ncu $sections --kernel-name regex:ck_dw3x3_planes_forward_direct_s1 --launch-skip 4 --launch-count 1 /tmp/depthwise_lab
    LAB_PROFILE=1 ncu $sections --kernel-name regex:ck_pool_max2d_strips_k3s2 --launch-count 1 /tmp/pooling_lab
} > "$out" 2>&1
grep -E "^  [a-z_0-9]+|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per|Block Limit|Stall|One or More|No Eligible|L1/TEX Hit|L2 Hit|Issued Warp" "$out" | head -120
