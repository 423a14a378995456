#!/usr/bin/env python3
"""Joins `convkit bench --device cuda --json` and `scripts/bench_torch_cuda.py --json` into one
Markdown table: ConvKit's time, PyTorch's, the ratio (ours ÷ theirs; below 1 means ConvKit is
faster) and ConvKit's rate (TFLOP/s for convolutions, GB/s for memory-bound ops).

    python3 scripts/bench_compare_cuda.py convkit-cuda.json torch-cuda.json
"""
import json
import math
import re
import sys


def main():
    ours = json.load(open(sys.argv[1]))
    theirs_doc = json.load(open(sys.argv[2]))
    theirs = {r["name"]: r for r in theirs_doc["results"]}
    print(f"ConvKit {ours['version']} ({ours.get('gemm', '')}) vs PyTorch {theirs_doc['version']} "
          f"(cuDNN {theirs_doc.get('cudnn')}), {ours.get('gpu', '')}, {ours['date'][:10]}\n")
    print("| case | ConvKit ms | PyTorch ms | ratio | ConvKit rate |")
    print("|---|---:|---:|---:|---:|")
    groups = {}
    for r in ours["results"]:
        key = re.sub(r"\[[a-zA-Z0-9]+\]", "[torch]", r["name"])
        t = theirs.get(key)
        rate = f"{r['tflops']:.1f} TFLOP/s" if "tflops" in r else (f"{r['gbps']:.0f} GB/s" if "gbps" in r else "")
        if t:
            ratio = r["ms"] / t["ms"]
            algo = re.search(r"\[([a-zA-Z0-9]+)\]", r["name"])
            group = (algo.group(1) if algo else r["name"].split()[0]) + (" tf32" if "tf32" in r["name"] else "")
            groups.setdefault(group, []).append(ratio)
            print(f"| {r['name']} | {r['ms']:.4f} | {t['ms']:.4f} | {ratio:.2f} | {rate} |")
        else:
            print(f"| {r['name']} | {r['ms']:.4f} | – | – | {rate} |")
    print("\nGeometric mean of ratios (ours ÷ PyTorch):")
    for key, values in sorted(groups.items()):
        print(f"- {key}: {math.exp(sum(map(math.log, values)) / len(values)):.2f} over {len(values)} cases")


if __name__ == "__main__":
    main()
