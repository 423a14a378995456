#!/usr/bin/env bash
# Coverage-guided fuzzing of ConvKit's file readers with libFuzzer (docs/TESTING.md, "fuzzing").
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]   build, then fuzz TARGET (default all, one after
#                                            another) for SECONDS each (default 60)
#   scripts/fuzz.sh seeds                    rewrite the seed inputs of Fuzz/Corpus (MakeCorpus)
#   scripts/fuzz.sh list                     the targets
#
# Targets: idx gzip safetensors checkpoint image png-raster (Fuzz/Sources/FuzzHarness). Each is
# built from the Fuzz package with -sanitize=fuzzer,address and run with
# -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10, reading Fuzz/Corpus/TARGET and
# Fuzz/Regressions/TARGET and writing new inputs to Fuzz/.work/corpus/TARGET (not committed).
# Crashes, timeouts and over-allocations land in Fuzz/.work/artifacts/. With FUZZ_MERGE=1 the
# inputs that add coverage are merged into Fuzz/Corpus/TARGET afterwards. Extra libFuzzer
# options can be given in FUZZ_OPTIONS. Prints the executions per target.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
targets=(idx gzip safetensors checkpoint image png-raster)

product() {
    case "$1" in
        idx) echo FuzzIDX ;; gzip) echo FuzzGzip ;; safetensors) echo FuzzSafeTensors ;;
        checkpoint) echo FuzzCheckpoint ;; image) echo FuzzImage ;; png-raster) echo FuzzPNGRaster ;;
        *) echo "unknown target '$1' (expected one of: ${targets[*]})" >&2; exit 2 ;;
    esac
}

what=${1:-all}
seconds=${2:-60}
case "$what" in
    list) printf '%s\n' "${targets[@]}"; exit 0 ;;
    seeds)
        export CONVKIT_MNIST_DIR="${CONVKIT_MNIST_DIR:-$(cd .. && pwd)/shared/data/mnist}"
        (cd Fuzz && swift build --product MakeCorpus)
        Fuzz/.build/debug/MakeCorpus Fuzz/Corpus "$CONVKIT_MNIST_DIR"
        exit 0 ;;
    all) selected=("${targets[@]}") ;;
    *) product "$what" >/dev/null; selected=("$what") ;;
esac

build_flags=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
for target in "${selected[@]}"; do
    (cd Fuzz && swift build "${build_flags[@]}" --product "$(product "$target")")
done
bin=$(cd Fuzz && swift build "${build_flags[@]}" --show-bin-path)

# A trap must reach libFuzzer's signal handler at once (Swift's backtracer is slow here and trips ASan).
export SWIFT_BACKTRACE=enable=no
export LSAN_OPTIONS="suppressions=$root/Tests/Sanitizers/lsan-suppressions.txt:print_suppressions=0"
mkdir -p Fuzz/.work/artifacts Fuzz/.work/logs
summary=()
total=0
failed=0
for target in "${selected[@]}"; do
    work="Fuzz/.work/corpus/$target"
    mkdir -p "$work"
    inputs=("$work" "Fuzz/Corpus/$target")
    [ -d "Fuzz/Regressions/$target" ] && inputs+=("Fuzz/Regressions/$target")
    dict=()
    [ -f "Fuzz/Dictionaries/$target.dict" ] && dict=(-dict="Fuzz/Dictionaries/$target.dict")
    log="Fuzz/.work/logs/$target.log"
    echo "== $target: ${seconds}s (log: $log)"
    status=0
    # shellcheck disable=SC2086
    "$bin/$(product "$target")" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -timeout=10 -max_len=8192 -use_value_profile=1 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="Fuzz/.work/artifacts/$target-" ${FUZZ_OPTIONS:-} "${inputs[@]}" >"$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    runs=${runs:-$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')}
    runs=${runs:-0}
    total=$((total + runs))
    if [ "$status" -ne 0 ]; then
        failed=1
        tail -40 "$log"
        summary+=("$(printf '%-12s %12s executions in %5ss  FAILED (exit %s): %s' "$target" "$runs" "$seconds" "$status" \
            "$(grep -o 'Test unit written to .*' "$log" | tail -1)")")
    else
        summary+=("$(printf '%-12s %12s executions in %5ss  no crash, hang or over-allocation' "$target" "$runs" "$seconds")")
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        "$bin/$(product "$target")" -merge=1 -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -max_len=8192 \
            "Fuzz/Corpus/$target" "$work" >>"$log" 2>&1
        echo "   merged: Fuzz/Corpus/$target has $(ls "Fuzz/Corpus/$target" | wc -l) inputs"
    fi
done
echo
echo "== executions per target"
printf '%s\n' "${summary[@]}"
printf '%-12s %12s executions\n' total "$total"
exit "$failed"
