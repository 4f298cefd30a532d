"""Goldens for engine/ops/activation.c: ReLU and ReLU6 forward and backward,
including inputs exactly at the kinks (0, 6) where the gradient is 0."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402


def main():
    out = out_dir_from_argv()
    g = torch.Generator().manual_seed(11)
    n = 100003  # odd, above the parallel threshold
    x32 = torch.randn(n, generator=g) * 4.0 + 2.0
    special = torch.tensor([0.0, -0.0, 6.0, 6.0000005, 5.9999995, -1e-30, 1e-30,
                            50.0, -50.0, 3.0])
    x32[: special.numel()] = special
    x32[1000:1200] = 0.0
    x32[2000:2200] = 6.0
    dy32 = torch.randn(n, generator=g)

    tensors = {"x": x32, "dy": dy32}
    for name, fn in (("relu", F.relu), ("relu6", F.relu6)):
        x = x32.double().requires_grad_(True)
        y = fn(x)
        y.backward(dy32.double())
        tensors[name + ".y"] = y.detach()
        tensors[name + ".dx"] = x.grad
    save(os.path.join(out, "activation.safetensors"), tensors)


if __name__ == "__main__":
    main()
