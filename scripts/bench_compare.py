#!/usr/bin/env python3
"""Joins `convkit bench --json` and `scripts/bench_torch_cpu.py --json` results into one
Markdown table (ours, PyTorch's, ratio = ours ÷ theirs; below 1 means ConvKit is faster).

    python3 scripts/bench_compare.py convkit.json torch.json

Convolution rows compare each ConvKit algorithm with PyTorch's single convolution (named
`[torch]` in its file)."""
import json
import re
import sys


def main():
    ours = json.load(open(sys.argv[1]))
    theirs = {r["name"]: r for r in json.load(open(sys.argv[2]))["results"]}
    print(f"ConvKit {ours['version']} ({ours.get('blas', '')}) vs PyTorch, {ours['date']}\n")
    print("| case | ConvKit ms | PyTorch ms | ratio | ConvKit GFLOP/s or GB/s | extra MB |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios = {}
    for r in ours["results"]:
        key = re.sub(r"\[[a-zA-Z0-9]+\]", "[torch]", r["name"])
        t = theirs.get(key)
        rate = f"{r['gflops']:.1f} GFLOP/s" if "gflops" in r else (f"{r['gbps']:.2f} GB/s" if "gbps" in r else "")
        extra = r.get("extra_bytes", 0) / 1e6
        if t:
            ratio = r["ms"] / t["ms"]
            algo = re.search(r"\[([a-zA-Z0-9]+)\]", r["name"])
            ratios.setdefault(algo.group(1) if algo else "other", []).append(ratio)
            print(f"| {r['name']} | {r['ms']:.3f} | {t['ms']:.3f} | {ratio:.2f} | {rate} | {extra:.1f} |")
        else:
            print(f"| {r['name']} | {r['ms']:.3f} | – | – | {rate} | {extra:.1f} |")
    print("\nGeometric mean of ratios (ours ÷ PyTorch):")
    for key, values in sorted(ratios.items()):
        product = 1.0
        for v in values:
            product *= v
        print(f"- {key}: {product ** (1 / len(values)):.2f} over {len(values)} cases")


if __name__ == "__main__":
    main()
