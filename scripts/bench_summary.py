#!/usr/bin/env python3
"""Summarises a CPU benchmark run (scripts/bench_cpu.sh) for BENCHMARKS.md.

    python3 scripts/bench_summary.py DEFAULT.json AVX2.json TORCH.json [TORCH2.json …]

DEFAULT/AVX2 are `convkit bench --json` files from the two release builds; for PyTorch, each
case takes the fastest of the given runs (so a noisy PyTorch run never flatters ConvKit).
Ratios are ConvKit time ÷ PyTorch time: below 1 means ConvKit is faster."""
import json
import math
import sys

SHAPES = ["lenet.conv1 N64 1-6 k5 p2 28", "lenet.conv2 N64 6-16 k5 14", "alexnet.conv2 N8 64-192 k5 p2 27",
          "alexnet.conv3 N8 192-384 k3 p1 13", "3x3 N8 64-64 p1 56", "depthwise3x3 N8 C128 p1 56"]
PASSES = ["fwd", "grad-input", "grad-weight"]


def load(path):
    return {r["name"]: r for r in json.load(open(path))["results"]}


def geomean(values):
    return math.exp(sum(map(math.log, values)) / len(values))


def main():
    ours, avx2 = load(sys.argv[1]), load(sys.argv[2])
    runs = [load(p) for p in sys.argv[3:]]
    torch = {k: min((r[k] for r in runs), key=lambda x: x["ms"]) for k in runs[0]}

    print("| convolution | pass | PyTorch ms | ConvKit `auto` ms | ratio | GFLOP/s | AVX2 build ms | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for s in SHAPES:
        for p in PASSES:
            k, tk = f"conv2d {s} [auto] {p}", f"conv2d {s} [torch] {p}"
            t = torch[tk]["ms"]
            print(f"| {s} | {p} | {t:.2f} | {ours[k]['ms']:.2f} | {ours[k]['ms'] / t:.2f} | {ours[k]['gflops']:.0f} "
                  f"| {avx2[k]['ms']:.2f} | {avx2[k]['ms'] / t:.2f} |")

    print("\n| algorithm | ConvKit ÷ PyTorch, geometric mean of the 18 cases (default build) | (AVX2 build) "
          "| extra memory, AlexNet conv2 fwd / grad-input / grad-weight |")
    print("|---|---:|---:|---:|")
    for a in ["direct", "sparseMatrix", "im2colGEMM", "implicitGEMM", "auto"]:
        def ratios(src):
            return [src[f"conv2d {s} [{a}] {p}"]["ms"] / torch[f"conv2d {s} [torch] {p}"]["ms"] for s in SHAPES for p in PASSES]
        mem = " / ".join(f"{ours[f'conv2d alexnet.conv2 N8 64-192 k5 p2 27 [{a}] {p}']['extra_bytes'] / 1e6:.1f}" for p in PASSES)
        print(f"| {a} | {geomean(ratios(ours)):.2f} | {geomean(ratios(avx2)):.2f} | {mem} MB |")
    dw = [f"conv2d depthwise3x3 N8 C128 p1 56 [depthwise] {p}" for p in PASSES]
    dwt = [f"conv2d depthwise3x3 N8 C128 p1 56 [torch] {p}" for p in PASSES]
    print(f"| depthwise (the depthwise shape only) | {geomean([ours[k]['ms'] / torch[t]['ms'] for k, t in zip(dw, dwt)]):.2f} "
          f"| {geomean([avx2[k]['ms'] / torch[t]['ms'] for k, t in zip(dw, dwt)]):.2f} | 0 |")

    print("\n| op | pass | PyTorch ms | ConvKit ms | ratio | ConvKit rate | AVX2 build ratio |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rs, rv = [], []
    for k, r in ours.items():
        if k.startswith("conv2d "):
            continue
        t = torch[k]["ms"]
        rate = f"{r['gflops']:.0f} GFLOP/s" if "gflops" in r else f"{r['gbps']:.1f} GB/s"
        name, p = k.rsplit(" ", 1)
        rs.append(r["ms"] / t)
        rv.append(avx2[k]["ms"] / t)
        print(f"| {name} | {p} | {t:.3f} | {r['ms']:.3f} | {r['ms'] / t:.2f} | {rate} | {avx2[k]['ms'] / t:.2f} |")
    print(f"\nGeometric mean over these {len(rs)} cases: {geomean(rs):.2f} (AVX2 build {geomean(rv):.2f}).")


if __name__ == "__main__":
    main()
