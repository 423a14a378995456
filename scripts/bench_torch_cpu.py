#!/usr/bin/env python3
"""Times the same cases as `convkit bench --device cpu` with PyTorch on the CPU.

    python3 scripts/bench_torch_cpu.py --json torch.json [--filter TEXT] [--seconds-per-case 0.5]

Case names match ConvKit's exactly (see Sources/convkit/BenchmarkSuite.swift), so
scripts/bench_compare.py can join the two JSON files into one table. Each case is timed the
same way: one warm-up, then the median of at least three runs (more while the budget lasts);
backward cases run the forward untimed before each timed backward, with only the named input
requiring a gradient.
"""
import argparse
import datetime
import json
import os
import time

import torch
import torch.nn.functional as F

CONV_SHAPES = [
    ("lenet.conv1 N64 1-6 k5 p2 28", 64, 1, 6, 5, 1, 2, 28, 1),
    ("lenet.conv2 N64 6-16 k5 14", 64, 6, 16, 5, 1, 0, 14, 1),
    ("alexnet.conv2 N8 64-192 k5 p2 27", 8, 64, 192, 5, 1, 2, 27, 1),
    ("alexnet.conv3 N8 192-384 k3 p1 13", 8, 192, 384, 3, 1, 1, 13, 1),
    ("3x3 N8 64-64 p1 56", 8, 64, 64, 3, 1, 1, 56, 1),
    ("depthwise3x3 N8 C128 p1 56", 8, 128, 128, 3, 1, 1, 56, 128),
]


def measure(prepare, body, budget):
    prepare()
    body()
    times, spent = [], 0.0
    while len(times) < 3 or (spent < budget and len(times) < 1000):
        prepare()
        start = time.perf_counter()
        body()
        t = time.perf_counter() - start
        times.append(t)
        spent += t
    times.sort()
    return times[len(times) // 2], len(times)


def gradient_cases(name, flops, nbytes, inputs, names, op, backward_bytes=None):
    cases = []

    def fwd():
        with torch.no_grad():
            op(*inputs)

    cases.append((f"{name} fwd", flops, nbytes, lambda: None, fwd))
    for index, input_name in enumerate(names):
        leaves = [t.detach().clone().requires_grad_(i == index) for i, t in enumerate(inputs)]
        state = {}

        def prepare(leaves=leaves, state=state, index=index):
            leaves[index].grad = None
            state["y"] = op(*leaves)
            state.setdefault("g", torch.ones_like(state["y"]))

        def body(state=state):
            state["y"].backward(state["g"])

        cases.append((f"{name} grad-{input_name}", flops, backward_bytes or nbytes, prepare, body))
    return cases


def unary_cases(name, x, output_count, op):
    return gradient_cases(name, None, 4.0 * (x.numel() + output_count), [x], ["input"], op,
                          backward_bytes=4.0 * (x.numel() + 2 * output_count))


def all_cases():
    torch.manual_seed(1)
    cases = []
    for (name, n, cin, cout, k, s, p, h, g) in CONV_SHAPES:
        x = torch.randn(n, cin, h, h)
        w = torch.randn(cout, cin // g, k, k) * 0.1
        out = (h + 2 * p - k) // s + 1
        flops = 2.0 * n * cout * out * out * (cin // g) * k * k
        cases += gradient_cases(f"conv2d {name} [torch]", flops, None, [x, w], ["input", "weight"],
                                lambda a, b, s=s, p=p, g=g: F.conv2d(a, b, stride=s, padding=p, groups=g))
    act = torch.randn(8, 64, 55, 55)
    cases += unary_cases("maxPool2d k3 s2 N8 C64 55", act, 8 * 64 * 27 * 27, lambda t: F.max_pool2d(t, 3, 2))
    cases += unary_cases("avgPool2d k3 s2 N8 C64 55", act, 8 * 64 * 27 * 27, lambda t: F.avg_pool2d(t, 3, 2))
    cases += unary_cases("relu N8 C64 55", act, act.numel(), F.relu)
    cases += unary_cases("dropout p0.5 N8 C64 55", act, act.numel(), lambda t: F.dropout(t, 0.5, True))
    cases += unary_cases("localResponseNorm size5 N8 C64 55", act, act.numel(),
                         lambda t: F.local_response_norm(t, 5, 1e-4, 0.75, 2.0))
    small = torch.randn(8, 64, 56, 56)
    cases += unary_cases("pad reflect 1 N8 C64 56", small, 8 * 64 * 58 * 58, lambda t: F.pad(t, (1, 1, 1, 1), mode="reflect"))
    c5 = torch.randn(8, 256, 13, 13)
    cases += unary_cases("adaptiveAvgPool2d 6 N8 C256 13", c5, 8 * 256 * 36, lambda t: F.adaptive_avg_pool2d(t, 6))
    for rows, classes in [(1024, 1000), (4096, 10)]:
        logits = torch.randn(rows, classes)
        cases += unary_cases(f"softmax {rows}x{classes}", logits, logits.numel(), lambda t: F.softmax(t, 1))
    for rows, classes in [(4096, 10), (1024, 1000)]:
        logits = torch.randn(rows, classes)
        target = torch.tensor([(i * 7) % classes for i in range(rows)])
        cases += gradient_cases(f"crossEntropy {rows}x{classes}", None, 4.0 * (logits.numel() + rows), [logits], ["input"],
                                lambda t, target=target: F.cross_entropy(t, target),
                                backward_bytes=4.0 * (2 * logits.numel() + rows))
    feats, fc = torch.randn(64, 4096), torch.randn(4096, 4096) * 0.01
    cases += gradient_cases("linear N64 4096-4096", 2.0 * 64 * 4096 * 4096, None, [feats, fc], ["input", "weight"], F.linear)
    up, upw = torch.randn(8, 64, 28, 28), torch.randn(64, 32, 4, 4) * 0.05
    cases += gradient_cases("convTranspose2d N8 64-32 k4 s2 p1 28", 2.0 * 8 * 64 * 28 * 28 * 32 * 16, None, [up, upw],
                            ["input", "weight"], lambda a, b: F.conv_transpose2d(a, b, stride=2, padding=1))
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    cases += gradient_cases("matmul 512x512x512", 2.0 * 512 ** 3, None, [a, b], ["a", "b"], torch.matmul)
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json")
    parser.add_argument("--filter")
    parser.add_argument("--seconds-per-case", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__} on the CPU, {torch.get_num_threads()} threads")
    results = []
    for name, flops, nbytes, prepare, body in all_cases():
        if args.filter and args.filter not in name:
            continue
        seconds, runs = measure(prepare, body, args.seconds_per_case)
        row = {"name": name, "ms": seconds * 1000, "runs": runs}
        if flops:
            row["gflops"] = flops / seconds / 1e9
        if nbytes:
            row["gbps"] = nbytes / seconds / 1e9
        results.append(row)
        print(f"{name:52s} {seconds * 1000:8.3f} ms" + (f" {row['gflops']:8.1f} GFLOP/s" if flops else "")
              + (f" {row['gbps']:7.2f} GB/s" if nbytes else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"engine": "pytorch", "version": torch.__version__, "device": "cpu",
                       "threads": torch.get_num_threads(),
                       "date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
