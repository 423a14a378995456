#!/usr/bin/env bash
# Builds and runs the kernel labs on the GPU machine (nvcc there): each prints its checks (PASS or
# FAIL) and timings. Usage: scripts/kernel_lab/run.sh [lab ...]   (default: every *_lab.cu)
set -u
cd "$(dirname "$0")/../.."
export PATH=/usr/local/cuda/bin:$PATH
labs=("$@")
[ ${#labs[@]} -eq 0 ] && labs=($(ls scripts/kernel_lab/*_lab.cu | xargs -n1 basename | sed 's/_lab.cu//'))
status=0
for lab in "${labs[@]}"; do
    echo "== $lab"
    nvcc -O3 -gencode arch=compute_90a,code=sm_90a -std=c++17 -lineinfo -Xptxas -v -o "/tmp/${lab}_lab" "scripts/kernel_lab/${lab}_lab.cu" \
        2> "/tmp/${lab}_ptxas.txt" || { cat "/tmp/${lab}_ptxas.txt"; status=1; continue; }
    grep -A4 "Compiling entry function '\(ck_dw3x3_planes\|ck_pool_max2d_strips\|ck_wg_\)" "/tmp/${lab}_ptxas.txt" \
        | grep -o "entry function '[^']*'\|Used [0-9]* registers" | paste - - | sed 's/entry function //'
    "/tmp/${lab}_lab" || status=1
done
exit $status
