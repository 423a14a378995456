"""PyTorch + cuDNN side of the wgmma lab: the same convolutions (forward, and the input gradient
as PyTorch computes it), TF32 on, cudnn.benchmark on, median of 25 single launches between CUDA
events, as the side-by-side benchmark times them.
    python3 scripts/kernel_lab/torch_conv_ref.py"""
import torch

torch.backends.cudnn.benchmark = True
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True

# name, n, c, h, w, co, k, pad
CASES = [
    ("conv2 64-192 k5 27", 128, 64, 27, 27, 192, 5, 2),
    ("conv3 192-384 13", 128, 192, 13, 13, 384, 3, 1),
    ("conv4 384-256 13", 128, 384, 13, 13, 256, 3, 1),
    ("conv5 256-256 13", 128, 256, 13, 13, 256, 3, 1),
    ("3x3 64-64 56", 128, 64, 56, 56, 64, 3, 1),
    ("3x3 256-256 14", 128, 256, 14, 14, 256, 3, 1),
]


def median_us(fn, runs=25):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1000)
    times.sort()
    return times[len(times) // 2]


for name, n, c, h, w, co, k, pad in CASES:
    x = torch.randn(n, c, h, w, device="cuda")
    weight = torch.randn(co, c, k, k, device="cuda")
    y = torch.nn.functional.conv2d(x, weight, padding=pad)
    dy = torch.randn_like(y)
    fwd = median_us(lambda: torch.nn.functional.conv2d(x, weight, padding=pad))
    dgrad = median_us(lambda: torch.nn.grad.conv2d_input(x.shape, weight, dy, padding=pad))
    flops = 2.0 * n * co * y.shape[2] * y.shape[3] * c * k * k
    print(f"torch {name}: fwd {fwd:7.1f} us ({flops / fwd / 1e6:5.1f} TFLOP/s), "
          f"input-grad {dgrad:7.1f} us ({flops / dgrad / 1e6:5.1f} TFLOP/s)")
