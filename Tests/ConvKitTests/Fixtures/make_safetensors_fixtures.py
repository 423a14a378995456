"""Writes the safetensors fixtures read by SafeTensorsTests with PyTorch's own writer.

Run from the repository root: python3 Tests/ConvKitTests/Fixtures/make_safetensors_fixtures.py
"""
import os

import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))

tensors = {
    "features.0.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4 - 0.5,
    "features.0.bias": torch.tensor([1.5, -2.25], dtype=torch.float32),
    "scalar": torch.tensor(3.5, dtype=torch.float32),
    "empty": torch.zeros(0, 3, dtype=torch.float32),
    "doubles": torch.tensor([0.1, -1e-3, 1e30, 2.0], dtype=torch.float64),
    "labels64": torch.tensor([0, -1, 2147483647, -2147483648, 7], dtype=torch.int64),
    "indices32": torch.tensor([[1, -2], [3, 4]], dtype=torch.int32),
    "bytes": torch.tensor([0, 127, 255], dtype=torch.uint8),
}
save_file(tensors, os.path.join(here, "safetensors_pytorch.safetensors"),
          metadata={"format": "pt", "source": "convkit fixture"})
save_file({"half": torch.ones(2, dtype=torch.float16)}, os.path.join(here, "safetensors_pytorch_f16.safetensors"))
