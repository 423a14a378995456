#!/usr/bin/env python3
"""Times the same GPU cases as `convkit bench --device cuda` with PyTorch + cuDNN.

    python3 scripts/bench_torch_cuda.py --json torch-cuda.json [--filter TEXT] [--runs 25]

Case names match ConvKit's (Sources/convkit/CUDABenchmarkSuite.swift) with the algorithm in
brackets replaced by `[torch]`, so scripts/bench_compare_cuda.py can join the two files. Timing as
ConvKit's: cudnn.benchmark on, 3 warm-up runs, then the median of `--runs` runs, each between two
CUDA events; backward cases run the forward untimed before each timed backward, with only the
named input requiring a gradient. Each case also records torch.cuda.max_memory_allocated() over
its timed runs (every live tensor counts, so run one case alone, with --filter, for its own peak). Strict fp32 unless the case name says tf32 (then
torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32 are on).
"""
import argparse
import datetime
import gc
import json

import torch
import torch.nn.functional as F

CONV_SHAPES = [
    ("alexnet.conv1 N128 3-64 k11 s4 p2 224", 128, 3, 64, 11, 4, 2, 224),
    ("alexnet.conv2 N128 64-192 k5 p2 27", 128, 64, 192, 5, 1, 2, 27),
    ("alexnet.conv3 N128 192-384 k3 p1 13", 128, 192, 384, 3, 1, 1, 13),
    ("alexnet.conv4 N128 384-256 k3 p1 13", 128, 384, 256, 3, 1, 1, 13),
    ("alexnet.conv5 N128 256-256 k3 p1 13", 128, 256, 256, 3, 1, 1, 13),
    ("3x3 N128 64-64 p1 56", 128, 64, 64, 3, 1, 1, 56),
    ("3x3 N128 256-256 p1 14", 128, 256, 256, 3, 1, 1, 14),
]
DEPTHWISE_SHAPES = [
    ("depthwise3x3 N128 C32 s1 112", 32, 1, 112), ("depthwise3x3 N128 C64 s2 112", 64, 2, 112),
    ("depthwise3x3 N128 C128 s1 56", 128, 1, 56), ("depthwise3x3 N128 C256 s1 28", 256, 1, 28),
    ("depthwise3x3 N128 C512 s1 14", 512, 1, 14), ("depthwise3x3 N128 C1024 s1 7", 1024, 1, 7),
]


def set_tf32(on):
    torch.backends.cudnn.allow_tf32 = on
    torch.backends.cuda.matmul.allow_tf32 = on


def measure(prepare, body, runs, tf32=False):
    set_tf32(tf32)
    for _ in range(3):
        prepare()
        body()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(runs):
        prepare()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        body()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    set_tf32(False)
    times.sort()
    return times[len(times) // 2]


def gradient_cases(name, inputs, op, tf32=False, names=("input", "weight")):
    cases = [(f"{name} fwd", lambda: None, lambda: op(*inputs), tf32)]
    for index, input_name in enumerate(names[: len(inputs)]):
        leaves = [t.detach().clone().requires_grad_(i == index) for i, t in enumerate(inputs)]
        state = {}

        def prepare(leaves=leaves, state=state, index=index):
            leaves[index].grad = None
            state["out"] = op(*leaves)
            if "up" not in state:
                state["up"] = torch.ones_like(state["out"])

        def body(state=state):
            state["out"].backward(state["up"])

        cases.append((f"{name} grad-{input_name}", prepare, body, tf32))
    return cases


def forward_only(op):
    def run(*args):
        with torch.no_grad():
            return op(*args)
    return run


def all_cases(device):
    torch.manual_seed(1)
    cases = []
    for name, n, cin, cout, k, s, p, h in CONV_SHAPES:
        x = torch.randn(n, cin, h, h, device=device)
        w = torch.randn(cout, cin, k, k, device=device) * 0.05
        op = lambda a, b, s=s, p=p: F.conv2d(a, b, stride=s, padding=p)
        for tf32 in (False, True):
            label = f"conv2d {name} [torch]" + (" tf32" if tf32 else "")
            cases += gradient_cases(label, [x, w], op, tf32)
    for name, c, s, h in DEPTHWISE_SHAPES:
        x = torch.randn(128, c, h, h, device=device)
        w = torch.randn(c, 1, 3, 3, device=device) * 0.3
        cases += gradient_cases(f"conv2d {name} [torch]", [x, w],
                                lambda a, b, s=s, c=c: F.conv2d(a, b, stride=s, padding=1, groups=c))
    for label, shape, k in [("k3 s2 N128 C64 55", (128, 64, 55, 55), 3), ("k2 s2 N128 C64 224", (128, 64, 224, 224), 2)]:
        x = torch.randn(*shape, device=device)
        cases += gradient_cases(f"maxPool2d {label}", [x], lambda a, k=k: F.max_pool2d(a, k, 2))
    for rows, classes in [(65536, 10), (8192, 1000), (4096, 32000)]:
        logits = torch.randn(rows, classes, device=device)
        cases += gradient_cases(f"softmax {rows}x{classes}", [logits], lambda a: F.softmax(a, dim=1))
        target = (torch.arange(rows, device=device) * 7) % classes
        cases += gradient_cases(f"crossEntropy {rows}x{classes}", [logits], lambda a, t=target: F.cross_entropy(a, t))
    # The fixed cost of one op between two events (dispatch, output, launch): a one-element add.
    one = torch.randn(1, device=device)
    cases.append(("add 1 element (launch floor) fwd", lambda: None, lambda: one + one, False))
    cases += training_step_cases(device)
    # Forward cases run without recording a graph, as ConvKit's do.
    return [(name, prepare, (lambda b=body: forward_only(lambda: b())()) if name.endswith(" fwd") else body, tf32)
            for name, prepare, body, tf32 in cases]


def training_step_cases(device):
    import torchvision
    cases = []
    alexnet = torchvision.models.alexnet(num_classes=1000).to(device)
    lenet = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10)).to(device)
    # The fp32 and TF32 AlexNet cases share one model, batch and optimizer, as ConvKit's do.
    steps = {}
    for key, net, batch, shape, classes in [("alexnet", alexnet, 128, (3, 224, 224), 1000),
                                            ("lenet", lenet, 256, (1, 28, 28), 10)]:
        net.train()
        images = torch.randn(batch, *shape, device=device)
        labels = torch.arange(batch, device=device) % classes
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

        def step(net=net, images=images, labels=labels, optimizer=optimizer):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(net(images), labels).backward()
            optimizer.step()

        steps[key] = step
    cases.append(("train-step alexnet N128 224", lambda: None, steps["alexnet"], False))
    cases.append(("train-step alexnet N128 224 tf32", lambda: None, steps["alexnet"], True))
    cases.append(("train-step lenet5 N256 28", lambda: None, steps["lenet"], False))
    return cases


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    parser.add_argument("--filter")
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda")
    results = []
    print(f"PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name()}")
    # Keep only the selected cases' tensors alive, so that a filtered run's peak memory is theirs.
    selected = [case for case in all_cases(device) if not args.filter or args.filter in case[0]]
    gc.collect()
    for name, prepare, body, tf32 in selected:
        ms = measure(prepare, body, args.runs, tf32)
        peak = torch.cuda.max_memory_allocated()
        results.append({"name": name, "ms": ms, "peak_bytes": peak})
        print(f"{name:60s} {ms:10.4f} ms {peak / 2**20:10.1f} MiB peak", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"engine": "pytorch", "version": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                       "gpu": torch.cuda.get_device_name(), "date": datetime.datetime.now().isoformat(),
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
