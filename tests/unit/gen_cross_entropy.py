"""Goldens for engine/ops/cross_entropy.c: F.cross_entropy with label
smoothing 0 and 0.1 (mean over the batch): loss, softmax and dlogits for a
non-unit upstream gradient. Includes large logits to test stability."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402

CASES = [  # name, n, classes, smoothing, logit scale, offset
    ("plain", 32, 10, 0.0, 3.0, 0.0),
    ("smooth", 32, 10, 0.1, 3.0, 0.0),
    ("imagenet", 8, 1000, 0.1, 5.0, 0.0),
    ("big", 5, 7, 0.1, 30.0, 500.0),  # exp would overflow without the max
    ("one", 1, 2, 0.0, 1.0, 0.0),
]
DLOSS = 0.75


def main():
    out = out_dir_from_argv()
    g = torch.Generator().manual_seed(17)
    tensors = {}
    for name, n, classes, eps, scale, offset in CASES:
        z32 = torch.randn(n, classes, generator=g) * scale + offset
        y = torch.randint(0, classes, (n,), generator=g)
        z = z32.double().requires_grad_(True)
        loss = F.cross_entropy(z, y, label_smoothing=eps)
        (loss * DLOSS).backward()
        p = name + "."
        tensors.update({p + "logits": z32, p + "labels": y,
                        p + "loss": loss.detach().reshape(1),
                        p + "probs": torch.softmax(z.detach(), dim=1),
                        p + "dlogits": z.grad})
    save(os.path.join(out, "cross_entropy.safetensors"), tensors,
         {"dloss": DLOSS})


if __name__ == "__main__":
    main()
