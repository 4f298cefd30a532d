"""Goldens for engine/ops/embedding.c: F.embedding forward and the dense
weight gradient, with repeated ids (their rows accumulate)."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402

CASES = [  # name, rows, dim, n
    ("small", 50, 24, 70),
    ("wide", 300, 384, 2048),
    ("odd", 3, 65, 5),
]


def main():
    out = out_dir_from_argv()
    g = torch.Generator().manual_seed(13)
    tensors = {}
    for name, rows, dim, n in CASES:
        w32 = torch.randn(rows, dim, generator=g)
        ids = torch.randint(0, rows, (n,), generator=g)
        ids[: min(n, 4)] = ids[0]   # repeats for sure
        dy32 = torch.randn(n, dim, generator=g)
        w = w32.double().requires_grad_(True)
        y = F.embedding(ids, w)
        y.backward(dy32.double())
        p = name + "."
        tensors.update({p + "w": w32, p + "ids": ids, p + "dy": dy32,
                        p + "y": y.detach(), p + "dw": w.grad})
    save(os.path.join(out, "embedding.safetensors"), tensors)


if __name__ == "__main__":
    main()
