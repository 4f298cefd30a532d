"""Goldens for engine/ops/attention.c, as BERT's self-attention computes
it: q, k, v [B, T, C] split into H heads, scores / sqrt(D) plus an additive
key mask (finfo.min on padding), softmax, optional dropout given as a fixed
scale mask, times v. Forward (probs, out) and backward (dq, dk, dv) in
float64. Cases: padding in one sequence, a sequence that is all padding
(uniform rows), no mask, dropout. Plus plain row softmax."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402

CASES = [  # name, B, T, C, H, lengths (None: no mask), dropout p
    ("masked", 3, 9, 12, 3, [9, 5, 0], 0.0),
    ("nomask", 2, 7, 16, 4, None, 0.0),
    ("dropout", 2, 6, 8, 2, [6, 4], 0.25),
    ("bertish", 2, 33, 96, 3, [33, 20], 0.0),
]


def main():
    out = out_dir_from_argv()
    g = torch.Generator().manual_seed(14)
    tensors = {}
    for name, b, t, c, h, lengths, p in CASES:
        d = c // h
        q32, k32, v32, dy32 = (torch.randn(b, t, c, generator=g) for _ in range(4))
        q, k, v = (x.double().requires_grad_(True) for x in (q32, k32, v32))
        mask = torch.ones(b, t, dtype=torch.long)
        if lengths is not None:
            for i, n in enumerate(lengths):
                mask[i, n:] = 0
        add = (1.0 - mask[:, None, None, :].double()) * torch.finfo(torch.float64).min

        def heads(x):
            return x.view(b, t, h, d).transpose(1, 2)
        probs = (heads(q) @ heads(k).transpose(-1, -2) / d ** 0.5 + add).softmax(-1)
        keep = (torch.rand(b, h, t, t, generator=g) >= p).double() / (1 - p)
        y = ((probs * keep) @ heads(v)).transpose(1, 2).reshape(b, t, c)
        y.backward(dy32.double())
        pre = name + "."
        tensors.update({pre + "q": q32, pre + "k": k32, pre + "v": v32,
                        pre + "dy": dy32, pre + "probs": probs.detach(),
                        pre + "y": y.detach(), pre + "dq": q.grad,
                        pre + "dk": k.grad, pre + "dv": v.grad})
        if lengths is not None:
            tensors[pre + "mask"] = mask
        if p > 0:
            tensors[pre + "drop_mask"] = keep
    x32 = torch.randn(5, 17, generator=g) * 3
    dy32 = torch.randn(5, 17, generator=g)
    x = x32.double().requires_grad_(True)
    y = x.softmax(-1)
    y.backward(dy32.double())
    tensors.update({"softmax.x": x32, "softmax.dy": dy32, "softmax.y": y.detach(),
                    "softmax.dx": x.grad})
    save(os.path.join(out, "attention.safetensors"), tensors)


if __name__ == "__main__":
    main()
