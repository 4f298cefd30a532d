"""Goldens for engine/ops/linear.c: y = x W^T + b with PyTorch's [out, in]
weight layout, forward and backward, with and without bias."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402

CASES = [  # name, n, in, out, bias
    ("head", 32, 512, 10, True),
    ("nobias", 7, 33, 17, False),
    ("wide", 16, 2048, 1000, True),
    ("one", 1, 5, 3, True),
]


def main():
    out = out_dir_from_argv()
    g = torch.Generator().manual_seed(3)
    tensors = {}
    for name, n, fin, fout, has_bias in CASES:
        x32 = torch.randn(n, fin, generator=g)
        w32 = torch.randn(fout, fin, generator=g) / fin ** 0.5
        b32 = torch.randn(fout, generator=g)
        dy32 = torch.randn(n, fout, generator=g)
        x = x32.double().requires_grad_(True)
        w = w32.double().requires_grad_(True)
        b = b32.double().requires_grad_(True) if has_bias else None
        y = F.linear(x, w, b)
        y.backward(dy32.double())
        p = name + "."
        tensors.update({p + "x": x32, p + "w": w32, p + "dy": dy32,
                        p + "y": y.detach(), p + "dx": x.grad, p + "dw": w.grad})
        if has_bias:
            tensors[p + "b"] = b32
            tensors[p + "db"] = b.grad
    save(os.path.join(out, "linear.safetensors"), tensors)


if __name__ == "__main__":
    main()
