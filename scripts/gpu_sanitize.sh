#!/usr/bin/env bash
# compute-sanitizer over chosen `convkit verify` filters on the GPU machine, each (tool, filter)
# pair under its own time limit (the sanitizers slow kernels many times over); a run cut short is
# reported as such. The reports are appended to the given file. Exit status 1 if any run failed.
#
#   scripts/gpu_sanitize.sh path/to/convkit results.txt memcheck:maxPool2d:20 racecheck:depthwise:20 ...
set -uo pipefail
BIN=$1 RESULTS=$2; shift 2
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
status=0
for entry in "$@"; do
    IFS=: read -r tool filter seconds <<< "$entry"
    echo "== compute-sanitizer --tool $tool, verify --filter $filter ($(date -u +%T))" | tee -a "$RESULTS"
    poison=1; [ "$tool" = initcheck ] && poison=0   # initcheck sees through no NaN fill
    CONVKIT_POISON_MEMORY=$poison timeout "$seconds" "$SANITIZER" --tool "$tool" --error-exitcode 99 --print-limit 20 \
        "$BIN" verify --device cuda --skip-runtime-checks --filter "$filter" > /tmp/sanitizer-run.txt 2>&1
    code=$?
    grep -v '^\[' /tmp/sanitizer-run.txt >> "$RESULTS"
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed, .* failed" /tmp/sanitizer-run.txt | tail -2
    case $code in 0) ;; 124) echo "$tool $filter: stopped after $seconds s, not finished" | tee -a "$RESULTS" ;;
                  *) echo "$tool $filter: exit $code" | tee -a "$RESULTS"; status=1 ;; esac
done
exit $status
