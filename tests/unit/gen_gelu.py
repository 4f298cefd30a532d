"""Goldens for engine/ops/gelu.c: exact (erf) GELU, forward and backward,
on a sweep of -8..8 (tails and the curved middle) and random values."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402


def main():
    out = out_dir_from_argv()
    g = torch.Generator().manual_seed(12)
    x32 = torch.cat([torch.linspace(-8, 8, 1601), torch.randn(70001, generator=g) * 2,
                     torch.tensor([0.0, -0.0, 1e-30, -1e-30])])
    dy32 = torch.randn(x32.shape, generator=g)
    x = x32.double().requires_grad_(True)
    y = F.gelu(x)
    y.backward(dy32.double())
    save(os.path.join(out, "gelu.safetensors"),
         {"x": x32, "dy": dy32, "y": y.detach(), "dx": x.grad})


if __name__ == "__main__":
    main()
