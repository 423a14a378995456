#!/usr/bin/env bash
# The GPU verification, in one command, on a machine with an NVIDIA GPU (the H200 machine):
#   1. the device and libraries ConvKit finds (convkit info),
#   2. every op, forward and backward, on the GPU against the CPU and the PyTorch fixtures
#      (convkit verify), with cuBLAS
#      and again with the built-in SGEMM kernel (CONVKIT_CUBLAS=none) for the GEMM-based ops,
#   3. the same checks under compute-sanitizer: memcheck, racecheck, synccheck and initcheck.
# SKIP_SANITIZER=1 stops after step 2; ONLY_SANITIZER=1 runs step 3 alone.
# Exits non-zero when any step fails. Logs go to $OUT (or ./gpu-logs).
#
#   scripts/gpu_verify.sh [path/to/convkit]      (default: .device/convkit, a static release build)
set -uo pipefail
BIN=${1:-.device/convkit}
LOGS=${OUT:-gpu-logs}
mkdir -p "$LOGS"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export CONVKIT_KERNEL_CACHE=${CONVKIT_KERNEL_CACHE:-/tmp/convkit-kernels}
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
status=0

if [ "${ONLY_SANITIZER:-0}" != 1 ]; then
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader || true
"$BIN" info || status=1

echo "== verify (cuBLAS)"
"$BIN" verify --device cuda --fixtures Tests/ConvKitTests/Fixtures ${VERIFY_ARGS:-} > "$LOGS/verify.txt" 2>&1 || status=1
grep -v '^\[' "$LOGS/verify.txt"

echo "== verify (built-in SGEMM kernel, GEMM-based ops)"
for f in matmul linear 'conv2d[im2colGEMM]' convTranspose2d; do
    CONVKIT_CUBLAS=none "$BIN" verify --device cuda --filter "$f" > "$LOGS/verify-builtin-gemm-$f.txt" 2>&1 || status=1
    tail -n 1 "$LOGS/verify-builtin-gemm-$f.txt" | sed "s/^/$f: /"
done
fi

# The four tools run side by side (SANITIZER_JOBS=1 runs them one after another), each under
# SANITIZER_SECONDS (default 480); a run cut short is reported as such, and fails the script.
if [ "${SKIP_SANITIZER:-0}" != 1 ]; then
    run_tool() {
        local tool=$1 start=$SECONDS result poison=1
        # initcheck sees through no fill: verify's NaN poisoning would mark every block written.
        [ "$tool" = initcheck ] && poison=0
        CONVKIT_POISON_MEMORY=$poison timeout "${SANITIZER_SECONDS:-480}" "$SANITIZER" --tool "$tool" --error-exitcode 99 --print-limit 20 \
            "$BIN" verify --device cuda --skip-runtime-checks --fixtures Tests/ConvKitTests/Fixtures \
            ${SANITIZER_VERIFY_ARGS:-} > "$LOGS/sanitizer-$tool.txt" 2>&1
        result=$?
        echo "exit $result after $((SECONDS - start)) s" >> "$LOGS/sanitizer-$tool.txt"
        return $result
    }
    tools=(memcheck racecheck synccheck initcheck)
    declare -A pid code
    for tool in "${tools[@]}"; do
        if [ "${SANITIZER_JOBS:-4}" = 1 ]; then run_tool "$tool"; code[$tool]=$?; else run_tool "$tool" & pid[$tool]=$!; fi
    done
    for tool in "${tools[@]}"; do
        [ -n "${pid[$tool]:-}" ] && { wait "${pid[$tool]}"; code[$tool]=$?; }
        echo "== compute-sanitizer --tool $tool"
        grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed, .* failed|^exit " "$LOGS/sanitizer-$tool.txt" | grep -v '^\[' | tail -4
        case ${code[$tool]} in 0) ;; 124) echo "$tool: stopped after ${SANITIZER_SECONDS:-480} s, not finished"; status=1 ;;
                      *) echo "$tool: exit ${code[$tool]}"; status=1 ;; esac
    done
fi
exit $status
