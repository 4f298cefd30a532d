"""Goldens for engine/ops/layernorm.c: torch.nn.functional.layer_norm over
the last dimension, forward and backward (input, weight, bias), float64
from float32 inputs. The "offset" case adds 100 to the inputs (a large mean,
small spread) to catch one-pass variance cancellation."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402

CASES = [  # name, rows, c, eps, offset
    ("small", 7, 33, 1e-5, 0.0),
    ("bert", 130, 384, 1e-12, 0.0),
    ("offset", 9, 64, 1e-5, 100.0),
    ("one", 1, 3, 1e-5, 0.0),   # c = 1, 2: xhat is 0 or +-1, grads are noise
]


def main():
    out = out_dir_from_argv()
    g = torch.Generator().manual_seed(11)
    tensors = {}
    for name, rows, c, eps, offset in CASES:
        x32 = torch.randn(rows, c, generator=g) + offset
        w32 = 1.0 + 0.3 * torch.randn(c, generator=g)
        b32 = 0.3 * torch.randn(c, generator=g)
        dy32 = torch.randn(rows, c, generator=g)
        x, w, b = (t.double().requires_grad_(True) for t in (x32, w32, b32))
        y = F.layer_norm(x, (c,), w, b, eps)
        y.backward(dy32.double())
        p = name + "."
        tensors.update({p + "x": x32, p + "w": w32, p + "b": b32, p + "dy": dy32,
                        p + "y": y.detach(), p + "dx": x.grad, p + "dw": w.grad,
                        p + "db": b.grad})
    save(os.path.join(out, "layernorm.safetensors"), tensors)


if __name__ == "__main__":
    main()
