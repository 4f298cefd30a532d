"""Goldens for engine/ops/elementwise.c: residual add and flatten of NHWC
activations into torch.flatten(x, 1) order on NCHW (forward and backward),
plus the NCHW tensors for the layout conversions. Dropout is checked in the
C test by its properties (it has its own generator)."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402

FLAT_CASES = [  # name, n, c, h, w
    ("small", 2, 37, 5, 3),
    ("head", 4, 512, 7, 7),
    ("tall", 3, 1, 40, 33),
]


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).contiguous()


def main():
    out = out_dir_from_argv()
    g = torch.Generator().manual_seed(23)
    tensors = {}
    a = torch.randn(70001, generator=g)
    b = torch.randn(70001, generator=g)
    tensors.update({"add.a": a, "add.b": b,
                    "add.y": a.double() + b.double()})
    for name, n, c, h, w in FLAT_CASES:
        x32 = torch.randn(n, c, h, w, generator=g)
        x = x32.double().requires_grad_(True)
        y = torch.flatten(x, 1)
        dy32 = torch.randn(y.shape, generator=g)
        y.backward(dy32.double())
        p = "flat." + name + "."
        tensors.update({p + "x_nchw": x32, p + "x": nhwc(x32), p + "y": y.detach(),
                        p + "dy": dy32, p + "dx": nhwc(x.grad)})
    save(os.path.join(out, "elementwise.safetensors"), tensors)


if __name__ == "__main__":
    main()
