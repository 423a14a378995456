"""Writes the PyTorch fixtures read by the layer, BatchNorm and model tests.

Run from the repository root (needs torch and safetensors):
    python3 scripts/make_model_fixtures.py

Writes into Tests/ConvKitTests/Fixtures/:
- models.json: for each model, its state dict as [name, shape, dtype] in PyTorch's order.
- models_lenet5.safetensors, models_alexnet_small.safetensors, models_mobilenet.safetensors: a state
  dict, one input ("input") and PyTorch's eval-mode output ("output"). The small AlexNet also has
  the parameter gradients ("grad.<name>") of sum(output * "upstream") in eval mode; MobileNet has the
  training-mode output of one forward pass ("output_train", dropout 0), the parameter gradients of
  sum(output_train * "upstream") and every buffer after that pass ("after_train.<name>").
- models_batchnorm.safetensors: F.batch_norm values (training and eval; outputs, running
  statistics, gradients) for BatchNormTests.

The classes below are the PyTorch twins of ConvKit's models (same layout, same names).
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out_dir = os.path.join(root, "Tests", "ConvKitTests", "Fixtures")


class LeNet5(nn.Module):
    """ConvKit's LeNet5."""

    def __init__(self, classes=10, input_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(input_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class TorchvisionAlexNet(nn.Module):
    """torchvision.models.AlexNet, copied verbatim (torchvision is not installed here)."""

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class AlexNet(nn.Module):
    """ConvKit's AlexNet (torchvision's layout), with the LRN option and the small variant."""

    def __init__(self, classes=1000, dropout=0.5, lrn=False, small=False, input_channels=3, width=1.0):
        super().__init__()
        if small:
            scaled = lambda n: max(1, int(round(n * width)))
            ch = [scaled(n) for n in [16, 48, 96, 64, 64]]
            k1, s1, p1, k2, p2, pool, pooled, hidden = 5, 1, 2, 3, 1, (3, 2, 1), 4, scaled(512)
        else:
            ch = [64, 192, 384, 256, 256]
            k1, s1, p1, k2, p2, pool, pooled, hidden = 11, 4, 2, 5, 2, (3, 2, 0), 6, 4096
        norm = lambda: [nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)] if lrn else []
        mp = lambda: nn.MaxPool2d(pool[0], pool[1], pool[2])
        layers = [nn.Conv2d(input_channels, ch[0], k1, stride=s1, padding=p1), nn.ReLU()] + norm()
        layers += [mp(), nn.Conv2d(ch[0], ch[1], k2, padding=p2), nn.ReLU()] + norm()
        layers += [mp(), nn.Conv2d(ch[1], ch[2], 3, padding=1), nn.ReLU(),
                   nn.Conv2d(ch[2], ch[3], 3, padding=1), nn.ReLU(),
                   nn.Conv2d(ch[3], ch[4], 3, padding=1), nn.ReLU(), mp()]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(pooled)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(ch[4] * pooled * pooled, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def make_divisible(v, divisor=8):
    """torchvision's _make_divisible."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class MobileNet(nn.Module):
    """ConvKit's MobileNet (v1 style, for 28x28 inputs)."""

    def __init__(self, input_channels=1, classes=10, width=1.0, dropout=0.2):
        super().__init__()
        c = make_divisible(32 * width)
        stages = [nn.Sequential(nn.Conv2d(input_channels, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())]
        for out, stride in [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1)]:
            out = make_divisible(out * width)
            stages.append(nn.Sequential(
                nn.Conv2d(c, c, 3, stride=stride, padding=1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                nn.Conv2d(c, out, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU()))
            c = out
        self.features = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(c, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def names_and_shapes(model):
    return [[name, list(t.shape), str(t.dtype).replace("torch.", "")] for name, t in model.state_dict().items()]


def contiguous(d):
    return {k: v.detach().contiguous().clone() for k, v in d.items()}


def main():
    torch.manual_seed(0)
    torchvision_alexnet = names_and_shapes(TorchvisionAlexNet())
    alexnet = names_and_shapes(AlexNet())
    assert alexnet == torchvision_alexnet, "AlexNet twin differs from torchvision's layout"
    listing = {
        "lenet5": names_and_shapes(LeNet5()),
        "alexnet": torchvision_alexnet,
        "alexnet_lrn": names_and_shapes(AlexNet(lrn=True)),
        "alexnet_small": names_and_shapes(AlexNet(classes=10, small=True, input_channels=1)),
        "alexnet_small_lrn_rgb": names_and_shapes(AlexNet(classes=10, small=True, input_channels=3, lrn=True)),
        "mobilenet": names_and_shapes(MobileNet()),
        "mobilenet_width_0.5": names_and_shapes(MobileNet(width=0.5, classes=7, input_channels=3)),
    }
    with open(os.path.join(out_dir, "models.json"), "w") as f:
        json.dump(listing, f, indent=1)

    # LeNet5: weights, one input, eval output.
    model = LeNet5().eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        y = model(x)
    save_file({**contiguous(model.state_dict()), "input": x, "output": y},
              os.path.join(out_dir, "models_lenet5.safetensors"))

    # Small AlexNet at width 1/8 (the file stays small; the code path is the same).
    # Also the parameter gradients of sum(output * upstream), eval mode.
    model = AlexNet(classes=10, small=True, input_channels=1, width=0.125).eval()
    state = contiguous(model.state_dict())
    x = torch.randn(2, 1, 28, 28)
    y = model(x)
    upstream = torch.randn_like(y)
    (y * upstream).sum().backward()
    grads = {"grad." + k: p.grad for k, p in model.named_parameters()}
    save_file({**state, "input": x, "output": y.detach(), "upstream": upstream, **grads},
              os.path.join(out_dir, "models_alexnet_small.safetensors"))

    # MobileNet at width 0.25 with non-trivial running statistics; eval output, then one
    # training-mode pass (dropout 0) and the buffers it leaves.
    model = MobileNet(width=0.25, dropout=0.0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.num_batches_tracked.fill_(3)
    state = contiguous(model.state_dict())
    x = torch.randn(3, 1, 28, 28)
    model.eval()
    with torch.no_grad():
        y = model(x)
    model.train()
    y_train = model(x)
    upstream = torch.randn_like(y_train)
    (y_train * upstream).sum().backward()
    grads = {"grad." + k: p.grad for k, p in model.named_parameters()}
    after = {"after_train." + k: v for k, v in contiguous(model.state_dict()).items() if "running" in k or "num_batches" in k}
    save_file({**state, "input": x, "output": y, "output_train": y_train.detach(), "upstream": upstream, **grads, **after},
              os.path.join(out_dir, "models_mobilenet.safetensors"))

    # F.batch_norm: training (with running statistics) and eval, outputs and gradients.
    x = torch.randn(3, 4, 5, 6, dtype=torch.float64) * 2 + 0.5
    w = torch.rand(4, dtype=torch.float64) + 0.5
    b = torch.randn(4, dtype=torch.float64)
    rm0 = torch.randn(4, dtype=torch.float64) * 0.1
    rv0 = torch.rand(4, dtype=torch.float64) + 0.5
    g = torch.randn(3, 4, 5, 6, dtype=torch.float64)
    values = {"x": x, "weight": w, "bias": b, "running_mean": rm0, "running_var": rv0, "upstream": g}
    for mode in ["train", "eval"]:
        xs, ws, bs = (t.clone().requires_grad_(True) for t in (x, w, b))
        rm, rv = rm0.clone(), rv0.clone()
        y = F.batch_norm(xs, rm, rv, ws, bs, training=(mode == "train"), momentum=0.3, eps=1e-3)
        y.backward(g)
        values.update({f"{mode}.output": y.detach(), f"{mode}.running_mean": rm, f"{mode}.running_var": rv,
                       f"{mode}.grad_x": xs.grad, f"{mode}.grad_weight": ws.grad, f"{mode}.grad_bias": bs.grad})
    save_file({k: v.float().contiguous() for k, v in values.items()},
              os.path.join(out_dir, "models_batchnorm.safetensors"))


if __name__ == "__main__":
    main()
