#!/usr/bin/env python3
"""Writes Tests/ConvKitTests/Fixtures/optim.safetensors: PyTorch optimizer and learning-rate
schedule trajectories that OptimizerFixtureTests replays.

Three parameters (shapes [3, 4], [5], [2, 1, 3]) start from fixed values and receive a fixed
sequence of gradients for STEPS steps; parameter 2 gets no gradient (None) at steps 0 and 3, so
the trajectories also pin PyTorch's "skip parameters without a gradient" rule and Adam's
per-parameter step counts. Tensors:

  init.<i>                    the initial parameters
  grad.<s>.<i>                the gradient of parameter i at step s (absent: None)
  <config>.<s>.<i>            parameter i after step s, for each optimizer configuration
  <schedule>.lr               the learning rate after 0, 1, …, EPOCHS scheduler steps (float64)
  sgd_steplr.<s>.<i>          SGD with momentum stepped once per epoch under StepLR

The configurations' hyperparameters are in the metadata (JSON) and repeated in the Swift test.
Run: python3 scripts/make_optimizer_fixtures.py   (PyTorch 2.15, safetensors)
"""
import json
import os

import torch
from safetensors.torch import save_file

STEPS = 6
EPOCHS = 12
SHAPES = [(3, 4), (5,), (2, 1, 3)]
MISSING = {(0, 2), (3, 2)}  # (step, parameter) pairs without a gradient

CONFIGS = {
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.001)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam_l2": ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "adam_big_eps": ("Adam", dict(lr=0.05, betas=(0.9, 0.99), eps=0.1)),  # eps after the bias-corrected sqrt matters
    "adamw": ("AdamW", dict(lr=0.01)),
    "adamw_low_beta": ("AdamW", dict(lr=0.03, betas=(0.3, 0.9), eps=1e-5, weight_decay=0.5)),
}
SCHEDULES = {
    "steplr": ("StepLR", dict(step_size=3, gamma=0.5)),
    "cosine": ("CosineAnnealingLR", dict(T_max=5, eta_min=0.001)),
}


def main():
    torch.manual_seed(1234)
    init = [torch.randn(shape, dtype=torch.float32) for shape in SHAPES]
    grads = [[None if (s, i) in MISSING else torch.randn(shape, dtype=torch.float32)
              for i, shape in enumerate(SHAPES)] for s in range(STEPS)]
    tensors = {}
    for i, t in enumerate(init):
        tensors[f"init.{i}"] = t.clone()
    for s in range(STEPS):
        for i, g in enumerate(grads[s]):
            if g is not None:
                tensors[f"grad.{s}.{i}"] = g.clone()

    def run(name, cls, kwargs, schedule=None):
        params = [torch.nn.Parameter(t.clone()) for t in init]
        optimizer = getattr(torch.optim, cls)(params, **kwargs)
        scheduler = None
        if schedule is not None:
            scheduler = getattr(torch.optim.lr_scheduler, schedule[0])(optimizer, **schedule[1])
        for s in range(STEPS):
            for p, g in zip(params, grads[s]):
                p.grad = None if g is None else g.clone()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            for i, p in enumerate(params):
                tensors[f"{name}.{s}.{i}"] = p.detach().clone()

    for name, (cls, kwargs) in CONFIGS.items():
        run(name, cls, kwargs)
    run("sgd_steplr", "SGD", dict(lr=0.1, momentum=0.9), ("StepLR", dict(step_size=2, gamma=0.5)))

    for name, (cls, kwargs) in SCHEDULES.items():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        scheduler = getattr(torch.optim.lr_scheduler, cls)(optimizer, **kwargs)
        rates = [scheduler.get_last_lr()[0]]
        for _ in range(EPOCHS):
            optimizer.step()
            scheduler.step()
            rates.append(scheduler.get_last_lr()[0])
        tensors[f"{name}.lr"] = torch.tensor(rates, dtype=torch.float64)

    metadata = {
        "source": "scripts/make_optimizer_fixtures.py",
        "torch": torch.__version__,
        "steps": str(STEPS),
        "configs": json.dumps(CONFIGS),
        "schedules": json.dumps(SCHEDULES),
    }
    out = os.path.join(os.path.dirname(__file__), "..", "Tests", "ConvKitTests", "Fixtures", "optim.safetensors")
    save_file(tensors, out, metadata=metadata)
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
