#!/usr/bin/env python3
"""Joins `convkit bench --device cuda --json` and `scripts/bench_torch_cuda.py --json` into one
Markdown table: ConvKit's time, PyTorch's, the ratio (ours ÷ theirs; below 1 means ConvKit is
faster) and ConvKit's rate (TFLOP/s for convolutions, GB/s for memory-bound ops); then issue 5's
targets, each with what was measured and whether it is met.

    python3 scripts/bench_compare_cuda.py convkit-cuda.json torch-cuda.json \
        [--memory convkit-memory.json torch-memory.json]

The memory files come from runs of the AlexNet training step alone (`--filter "train-step
alexnet"`), so that each side's peak counts that step's tensors only.
"""
import argparse
import json
import math
import re

CONV_LAYERS = ["alexnet.conv1 N128 3-64 k11 s4 p2 224", "alexnet.conv2 N128 64-192 k5 p2 27",
               "alexnet.conv3 N128 192-384 k3 p1 13", "alexnet.conv4 N128 384-256 k3 p1 13",
               "alexnet.conv5 N128 256-256 k3 p1 13", "3x3 N128 64-64 p1 56", "3x3 N128 256-256 p1 14"]
PASSES = ["fwd", "grad-input", "grad-weight"]


def geomean(values):
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def targets(ours, theirs, memory):
    """Issue 5's rows: (what, measured, goal, met) for every row whose cases were run."""
    def pair(name):
        o, t = ours.get(name), theirs.get(re.sub(r"\[[a-zA-Z0-9]+\]", "[torch]", name))
        return (o, t) if o and t else (None, None)

    rows = []

    def conv_row(label, suffix):
        ratios = [o["ms"] / t["ms"] for layer in CONV_LAYERS for p in PASSES
                  for o, t in [pair(f"conv2d {layer} [auto]{suffix} {p}")] if o]
        if ratios:
            g = geomean(ratios)
            rows.append((label, f"geometric mean ours ÷ PyTorch {g:.2f} over {len(ratios)} cases", "≤ 1.00 over 21", g <= 1.0 and len(ratios) == 21))

    conv_row("convolutions, strict fp32", "")
    conv_row("convolutions, TF32", " tf32")

    dw = [(n, *pair(n)) for n in ours if n.startswith("conv2d depthwise3x3")]
    dw = [(n, o, t) for n, o, t in dw if o]
    if dw:
        g = geomean([o["ms"] / t["ms"] for _, o, t in dw])
        fwd = [o["gbps"] for n, o, _ in dw if n.endswith(" fwd")]
        rows.append(("depthwise 3×3, speed-up", f"PyTorch ÷ ours {1 / g:.2f}× (geometric mean, {len(dw)} cases)", "≥ 3×", 1 / g >= 3))
        rows.append(("depthwise 3×3, forward bandwidth", f"{min(fwd):.0f}–{max(fwd):.0f} GB/s", "≥ 3000 GB/s", min(fwd) >= 3000))

    pool = [(n, *pair(n)) for n in ours if n.startswith("maxPool2d")]
    pool = [(n, o, t) for n, o, t in pool if o]
    if pool:
        fwd = [o["gbps"] for n, o, _ in pool if n.endswith(" fwd")]
        bwd = [t["ms"] / o["ms"] for n, o, t in pool if n.endswith(" grad-input")]
        rows.append(("max pooling, forward bandwidth", f"{min(fwd):.0f}–{max(fwd):.0f} GB/s", "≥ 3000 GB/s", min(fwd) >= 3000))
        rows.append(("max pooling, backward speed-up", f"PyTorch ÷ ours {min(bwd):.2f}–{max(bwd):.2f}×", "≥ 2×", min(bwd) >= 2))

    soft = [ours[n]["gbps"] for n in ("softmax 8192x1000 fwd", "softmax 4096x32000 fwd") if n in ours]
    if soft:
        rows.append(("softmax forward bandwidth (8192×1000, 4096×32000)", f"{min(soft):.0f}–{max(soft):.0f} GB/s", "≥ 3500 GB/s", min(soft) >= 3500))

    ce = []
    for size in ("65536x10", "8192x1000", "4096x32000"):
        of, tf = pair(f"crossEntropy {size} fwd")
        ob, tb = pair(f"crossEntropy {size} grad-input")
        if of and ob:
            ce.append((tf["ms"] + tb["ms"]) / (of["ms"] + ob["ms"]))
    if ce:
        g = geomean(ce)
        rows.append(("cross-entropy forward + backward speed-up", f"PyTorch ÷ ours {g:.2f}× (geometric mean, {len(ce)} sizes)", "≥ 3×", g >= 3 and len(ce) == 3))

    for name, goal in [("train-step alexnet N128 224", 1.0), ("train-step alexnet N128 224 tf32", 1.0), ("train-step lenet5 N256 28", 0.5)]:
        o, t = pair(name)
        if o:
            r = o["ms"] / t["ms"]
            rows.append((name, f"{o['ms']:.2f} ms vs {t['ms']:.2f} ms: {r:.2f}×", f"≤ {goal:.1f}×", r <= goal))

    if memory:
        o, t = memory
        if o and t:
            rows.append(("peak device memory, AlexNet training step",
                         f"{o / 2**20:.0f} MiB vs {t / 2**20:.0f} MiB: {o / t:.2f}×", "≤ PyTorch's", o <= t))
    return rows


def peak(path, name):
    for r in json.load(open(path))["results"]:
        if r["name"] == name:
            return r.get("peak_bytes")
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ours")
    parser.add_argument("theirs")
    parser.add_argument("--memory", nargs=2, metavar=("OURS", "THEIRS"))
    args = parser.parse_args()
    ours_doc = json.load(open(args.ours))
    theirs_doc = json.load(open(args.theirs))
    ours = {r["name"]: r for r in ours_doc["results"]}
    theirs = {r["name"]: r for r in theirs_doc["results"]}
    print(f"ConvKit {ours_doc['version']} ({ours_doc.get('gemm', '')}) vs PyTorch {theirs_doc['version']} "
          f"(cuDNN {theirs_doc.get('cudnn')}), {ours_doc.get('gpu', '')}, {ours_doc['date'][:10]}\n")
    print("| case | ConvKit ms | PyTorch ms | ratio | ConvKit rate |")
    print("|---|---:|---:|---:|---:|")
    groups = {}
    for r in ours_doc["results"]:
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
        print(f"- {key}: {geomean(values):.2f} over {len(values)} cases")

    memory = None
    if args.memory:
        memory = (peak(args.memory[0], "train-step alexnet N128 224"), peak(args.memory[1], "train-step alexnet N128 224"))
    rows = targets(ours, theirs, memory)
    if rows:
        met = sum(1 for row in rows if row[3])
        print(f"\nIssue 5's targets: {met} of {len(rows)} met\n")
        print("| target | measured | goal | met |")
        print("|---|---|---|---|")
        for what, measured, goal, ok in rows:
            print(f"| {what} | {measured} | {goal} | {'yes' if ok else 'no'} |")


if __name__ == "__main__":
    main()
