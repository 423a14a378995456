#!/usr/bin/env python3
"""Trains the PyTorch twin of a ConvKit model on MNIST on the CPU, for the side-by-side
training figures in BENCHMARKS.md (same model, batch size, optimizer, data and epochs as
`convkit train`).

    python3 scripts/train_torch_mnist.py --model lenet5 --epochs 1 --batch-size 64 \
        --optimizer sgd --lr 0.05 --momentum 0.9 [--data ../shared/data/mnist] [--threads 2]

Prints one line per epoch (train loss, test accuracy, seconds, images/s) and the median
training-step time. The model classes come from scripts/make_model_fixtures.py (the twins
whose state-dict names ConvKit's tests check)."""
import argparse
import gzip
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_model_fixtures import AlexNet, LeNet5, MobileNet  # noqa: E402


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(directory, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    labels = read_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    images = (images - 0.1307) / 0.3081
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels)


def make_model(name):
    if name == "lenet5":
        return LeNet5()
    if name == "alexnet":
        return AlexNet(classes=10, small=True, input_channels=1)
    if name == "mobilenet":
        return MobileNet()
    raise SystemExit(f"unknown model {name}")


def main():
    default_data = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="lenet5")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--data", default=os.environ.get("CONVKIT_MNIST_DIR", default_data))
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y = load(args.data, "train")
    test_x, test_y = load(args.data, "test")
    model = make_model(args.model)
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads: {args.model}, batch {args.batch_size}, "
          f"{args.optimizer} lr {args.lr}")
    step_times = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(train_x))
        start = time.perf_counter()
        total, batches = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            x, y = train_x[idx], train_y[idx]
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            step_times.append(time.perf_counter() - t0)
            total += loss.item()
            batches += 1
        seconds = time.perf_counter() - start
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(test_x), 1000):
                correct += (model(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum().item()
        print(f"epoch {epoch}: train loss {total / batches:.4f}, test accuracy {100 * correct / len(test_x):.2f}%, "
              f"{seconds:.1f} s, {len(train_x) / seconds:.0f} images/s")
    print(f"median training step: {1000 * statistics.median(step_times):.2f} ms")


if __name__ == "__main__":
    main()
