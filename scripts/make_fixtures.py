#!/usr/bin/env python3
"""Writes PyTorch's outputs and gradients for a battery of ConvKit ops as small safetensors files.

Run where PyTorch is (`pip install torch safetensors`), from the repository root:

    python3 scripts/make_fixtures.py

Each case stores its inputs, the upstream gradient `gy`, PyTorch's output `y` and the gradient of
every differentiable input (`g_<name>`), under keys `<case>/<tensor>`. The case's arguments are
in the file's metadata as JSON (key = case name). Tests/ConvKitTests/FixtureTests.swift replays
every case through ConvKit and compares. Keep the files small: they are committed.
"""
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ConvKitTests", "Fixtures")
torch.manual_seed(1234)


class Writer:
    def __init__(self, name):
        self.name = name
        self.tensors = {}
        self.meta = {}

    def case(self, case, args, inputs, fn, diff):
        """Runs fn(**inputs), backpropagates a random gy, stores everything."""
        leaves = {}
        for k, v in inputs.items():
            if k in diff:
                v = v.clone().requires_grad_(True)
            leaves[k] = v
        y = fn(**leaves)
        indices = None
        if isinstance(y, tuple):
            y, indices = y
        gy = torch.randn_like(y)
        if diff:
            y.backward(gy)
        for k, v in leaves.items():
            self.tensors[f"{case}/{k}"] = v.detach().clone().contiguous()
            if k in diff:
                self.tensors[f"{case}/g_{k}"] = v.grad.contiguous()
        self.tensors[f"{case}/y"] = y.detach().clone().contiguous()
        self.tensors[f"{case}/gy"] = gy.contiguous()
        if indices is not None:
            self.tensors[f"{case}/indices"] = indices.to(torch.int32).contiguous()
        self.meta[case] = json.dumps(args)

    def save(self):
        path = os.path.join(OUT, f"{self.name}.safetensors")
        save_file(self.tensors, path, metadata=self.meta)
        print(f"{path}: {len(self.meta)} cases, {os.path.getsize(path)} bytes")


def conv_cases():
    w = Writer("conv2d")
    specs = [
        dict(n=2, c=3, h=9, w=8, cout=4, k=(3, 3), stride=1, padding=1, dilation=1, groups=1),
        dict(n=2, c=4, h=11, w=10, cout=6, k=(3, 2), stride=(2, 1), padding=(1, 0), dilation=1, groups=2),
        dict(n=1, c=3, h=12, w=12, cout=3, k=(3, 3), stride=1, padding=2, dilation=2, groups=3),
        dict(n=2, c=2, h=7, w=9, cout=4, k=(2, 4), stride=1, padding="same", dilation=1, groups=1),
        dict(n=2, c=2, h=8, w=8, cout=3, k=(3, 3), stride=2, padding="valid", dilation=1, groups=1),
        dict(n=1, c=2, h=6, w=6, cout=2, k=(1, 1), stride=3, padding=0, dilation=1, groups=1),
        dict(n=2, c=4, h=10, w=10, cout=8, k=(3, 3), stride=2, padding=1, dilation=1, groups=4),
        dict(n=1, c=3, h=8, w=7, cout=2, k=(3, 3), stride=1, padding="same", dilation=2, groups=1),
    ]
    for i, s in enumerate(specs):
        kh, kw = s["k"]
        x = torch.randn(s["n"], s["c"], s["h"], s["w"])
        wt = torch.randn(s["cout"], s["c"] // s["groups"], kh, kw) * 0.3
        b = torch.randn(s["cout"])
        args = {k: s[k] for k in ("stride", "padding", "dilation", "groups")}
        w.case(f"conv{i}", args, dict(x=x, weight=wt, bias=b),
               lambda x, weight, bias, a=args: F.conv2d(x, weight, bias, **a), {"x", "weight", "bias"})
    for mode in ("reflect", "replicate", "circular"):
        conv = torch.nn.Conv2d(3, 4, 3, padding=(2, 1), padding_mode=mode)
        x = torch.randn(2, 3, 7, 6)
        args = dict(stride=1, padding=[2, 1], dilation=1, groups=1, padding_mode=mode)
        w.case(f"conv_{mode}", args, dict(x=x, weight=conv.weight.detach().clone(), bias=conv.bias.detach().clone()),
               lambda x, weight, bias, m=mode: F.conv2d(F.pad(x, (1, 1, 2, 2), mode=m), weight, bias),
               {"x", "weight", "bias"})
    w.save()

    t = Writer("conv_transpose2d")
    tspecs = [
        dict(n=2, c=3, h=5, w=4, cout=4, k=(3, 3), stride=2, padding=1, output_padding=1, groups=1, dilation=1),
        dict(n=1, c=4, h=4, w=6, cout=6, k=(2, 3), stride=(1, 2), padding=(0, 1), output_padding=(0, 1), groups=2, dilation=1),
        dict(n=2, c=2, h=5, w=5, cout=2, k=(3, 3), stride=1, padding=2, output_padding=0, groups=1, dilation=2),
        dict(n=1, c=3, h=3, w=3, cout=3, k=(4, 4), stride=3, padding=0, output_padding=2, groups=3, dilation=1),
    ]
    for i, s in enumerate(tspecs):
        kh, kw = s["k"]
        x = torch.randn(s["n"], s["c"], s["h"], s["w"])
        wt = torch.randn(s["c"], s["cout"] // s["groups"], kh, kw) * 0.3
        b = torch.randn(s["cout"])
        args = {k: s[k] for k in ("stride", "padding", "output_padding", "groups", "dilation")}
        t.case(f"convt{i}", args, dict(x=x, weight=wt, bias=b),
               lambda x, weight, bias, a=args: F.conv_transpose2d(x, weight, bias, **a), {"x", "weight", "bias"})
    t.save()


def pad_pool_cases():
    w = Writer("pad_pool")
    x = torch.randn(2, 3, 6, 7)
    for mode in ("constant", "reflect", "replicate", "circular"):
        for j, pads in enumerate(([1, 2, 3, 1], [0, 3, 2, 0], [2, 2])):
            args = dict(pads=pads, mode=mode, value=0.5 if mode == "constant" else 0.0)
            # PyTorch pads only the last dimension of 2-D/3-D inputs in the non-constant modes.
            w.case(f"pad_{mode}{j}", args, dict(x=x if len(pads) == 4 else x[0]),
                   lambda x, p=pads, m=mode: F.pad(x, p, mode=m, value=0.5) if m == "constant" else F.pad(x, p, mode=m),
                   {"x"})
    w.case("pad_crop", dict(pads=[-1, 2, 1, -2], mode="constant", value=0.0), dict(x=x),
           lambda x: F.pad(x, [-1, 2, 1, -2]), {"x"})

    # Max pooling: distinct values so the argmax is unique and gradients are well defined.
    mp_specs = [
        dict(kernel=3, stride=2, padding=0, dilation=1, ceil_mode=False, shape=(2, 3, 11, 11)),
        dict(kernel=3, stride=2, padding=1, dilation=1, ceil_mode=True, shape=(1, 2, 10, 9)),
        dict(kernel=(2, 3), stride=(2, 1), padding=(1, 1), dilation=(2, 1), ceil_mode=True, shape=(2, 2, 9, 8)),
        dict(kernel=2, stride=3, padding=0, dilation=1, ceil_mode=True, shape=(1, 3, 8, 8)),
    ]
    for i, s in enumerate(mp_specs):
        x = torch.randperm(int(torch.tensor(s["shape"]).prod())).float().reshape(s["shape"]) / 10
        args = {k: list(v) if isinstance(v, tuple) else v for k, v in s.items() if k != "shape"}
        w.case(f"maxpool{i}", args, dict(x=x),
               lambda x, s=s: F.max_pool2d(x, s["kernel"], s["stride"], s["padding"], s["dilation"],
                                           ceil_mode=s["ceil_mode"], return_indices=True), {"x"})
    ap_specs = [
        dict(kernel=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True, divisor_override=None),
        dict(kernel=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=None),
        dict(kernel=(2, 4), stride=(1, 3), padding=(1, 2), ceil_mode=False, count_include_pad=True, divisor_override=None),
        dict(kernel=2, stride=2, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=3),
    ]
    x = torch.randn(2, 3, 9, 10)
    for i, s in enumerate(ap_specs):
        args = {k: list(v) if isinstance(v, tuple) else v for k, v in s.items()}
        w.case(f"avgpool{i}", args, dict(x=x),
               lambda x, s=s: F.avg_pool2d(x, s["kernel"], s["stride"], s["padding"], s["ceil_mode"],
                                           s["count_include_pad"], s["divisor_override"]), {"x"})
    for i, out in enumerate([(3, 4), (5, 5), (1, 1), (9, 10)]):
        w.case(f"adaptive{i}", dict(output_size=list(out)), dict(x=x),
               lambda x, o=out: F.adaptive_avg_pool2d(x, o), {"x"})
    # Unpooling: pool first (in the fixture), store pooled values and indices as inputs.
    x = torch.randperm(2 * 3 * 8 * 9).float().reshape(2, 3, 8, 9) / 7
    pooled, idx = F.max_pool2d(x, 2, 2, return_indices=True)
    w.tensors["unpool0/indices_in"] = idx.to(torch.int32)
    w.case("unpool0", dict(kernel=2, stride=2, padding=0, output_size=[8, 9]), dict(x=pooled),
           lambda x: F.max_unpool2d(x, idx, 2, 2, output_size=[8, 9]), {"x"})
    w.save()


def nn_cases():
    w = Writer("nn")
    x = torch.randn(5, 7)
    wt = torch.randn(4, 7)
    b = torch.randn(4)
    w.case("linear0", {}, dict(x=x, weight=wt, bias=b), lambda x, weight, bias: F.linear(x, weight, bias),
           {"x", "weight", "bias"})
    w.case("linear_nobias", {}, dict(x=torch.randn(2, 3, 7), weight=wt),
           lambda x, weight: F.linear(x, weight), {"x", "weight"})
    w.case("relu0", {}, dict(x=torch.randn(3, 4, 5)), lambda x: F.relu(x), {"x"})
    xl = torch.randn(2, 7, 5, 4)
    for i, (size, alpha, beta, k) in enumerate([(5, 1e-4, 0.75, 2.0), (2, 0.1, 0.5, 1.0), (3, 1.0, 1.0, 1.5)]):
        w.case(f"lrn{i}", dict(size=size, alpha=alpha, beta=beta, k=k), dict(x=xl),
               lambda x, s=size, a=alpha, bb=beta, kk=k: F.local_response_norm(x, s, a, bb, kk), {"x"})
    xs = torch.randn(3, 4, 5) * 3
    for dim in (0, 1, 2, -1):
        w.case(f"softmax_d{dim}", dict(dim=dim), dict(x=xs), lambda x, d=dim: F.softmax(x, d), {"x"})
        w.case(f"logsoftmax_d{dim}", dict(dim=dim), dict(x=xs), lambda x, d=dim: F.log_softmax(x, d), {"x"})
    logits = torch.randn(6, 5) * 2
    target = torch.tensor([0, 4, 2, 1, 4, 3])
    cw = torch.rand(5) + 0.5
    i = 0
    for reduction in ("mean", "sum", "none"):
        for use_weight in (False, True):
            for ignore in (-100, 4):
                for smoothing in (0.0, 0.2):
                    args = dict(reduction=reduction, weight=use_weight, ignore_index=ignore, label_smoothing=smoothing)
                    inputs = dict(logits=logits, target=target.to(torch.int32))
                    if use_weight:
                        inputs["class_weight"] = cw
                    w.case(f"ce{i}", args, inputs,
                           lambda logits, target, class_weight=None, a=args: F.cross_entropy(
                               logits, target.long(), weight=class_weight, ignore_index=a["ignore_index"],
                               reduction=a["reduction"], label_smoothing=a["label_smoothing"]), {"logits"})
                    i += 1
    # Spatial targets [N, C, H, W] and probability targets.
    lg = torch.randn(2, 4, 3, 3)
    tg = torch.randint(0, 4, (2, 3, 3)).to(torch.int32)
    w.case("ce_spatial", dict(reduction="mean", weight=False, ignore_index=-100, label_smoothing=0.1),
           dict(logits=lg, target=tg),
           lambda logits, target: F.cross_entropy(logits, target.long(), label_smoothing=0.1), {"logits"})
    probs = torch.softmax(torch.randn(6, 5), 1)
    w.case("ce_probs", dict(reduction="mean", weight=True, ignore_index=-100, label_smoothing=0.1),
           dict(logits=logits, target=probs, class_weight=cw),
           lambda logits, target, class_weight: F.cross_entropy(logits, target, weight=class_weight,
                                                                label_smoothing=0.1), {"logits"})
    w.save()


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    conv_cases()
    pad_pool_cases()
    nn_cases()
