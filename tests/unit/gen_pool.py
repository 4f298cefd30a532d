"""Goldens for engine/ops/pool.c: max pooling (ResNet's 3x3/2 pad 1, odd and
even sizes, many ties, all-negative inputs so padding must act as -inf) and
adaptive average pooling with PyTorch's bins (divisible, non-divisible,
output larger than input). Activations saved NHWC; argmax as flat NHWC
indices."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402

MAX_CASES = [  # name, n, c, h, w, kernel, stride, pad, kind
    ("odd", 2, 5, 11, 11, 3, 2, 1, "randn"),
    ("even", 3, 16, 12, 10, 3, 2, 1, "randn"),
    ("ties", 2, 8, 9, 8, 3, 2, 1, "ties"),
    ("neg", 1, 4, 7, 6, 3, 2, 1, "neg"),
    ("k2s2", 2, 3, 8, 9, 2, 2, 0, "ties"),
    ("resnet", 2, 64, 112, 112, 3, 2, 1, "randn"),
]

AVG_CASES = [  # name, n, c, h, w, oh, ow
    ("global", 3, 40, 7, 7, 1, 1),
    ("odd", 2, 6, 7, 5, 3, 2),
    ("nondiv", 2, 9, 10, 10, 4, 4),
    ("div", 1, 16, 6, 6, 3, 3),
    ("up", 2, 3, 2, 3, 5, 4),
]


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).contiguous()


def main():
    out = out_dir_from_argv()
    g = torch.Generator().manual_seed(5)
    tensors = {}
    for name, n, c, h, w, k, s, p, kind in MAX_CASES:
        if kind == "ties":
            x32 = torch.randint(0, 3, (n, c, h, w), generator=g).float()
        elif kind == "neg":
            x32 = -10.0 - torch.rand(n, c, h, w, generator=g)
        else:
            x32 = torch.randn(n, c, h, w, generator=g)
        x = x32.double().requires_grad_(True)
        y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
        dy32 = torch.randn(y.shape, generator=g)
        y.backward(dy32.double())
        # PyTorch's index is within one (n, c) plane: ih * w + iw
        ih, iw = idx // w, idx % w
        bb = torch.arange(n).view(n, 1, 1, 1)
        cc = torch.arange(c).view(1, c, 1, 1)
        flat = ((bb * h + ih) * w + iw) * c + cc
        pre = "max." + name + "."
        tensors[pre + "x"] = nhwc(x32)
        tensors[pre + "dy"] = nhwc(dy32)
        tensors[pre + "y"] = nhwc(y)
        tensors[pre + "argmax"] = nhwc(flat).to(torch.int32)
        tensors[pre + "dx"] = nhwc(x.grad)
    for name, n, c, h, w, oh, ow in AVG_CASES:
        x32 = torch.randn(n, c, h, w, generator=g)
        x = x32.double().requires_grad_(True)
        y = F.adaptive_avg_pool2d(x, (oh, ow))
        dy32 = torch.randn(y.shape, generator=g)
        y.backward(dy32.double())
        pre = "avg." + name + "."
        tensors[pre + "x"] = nhwc(x32)
        tensors[pre + "dy"] = nhwc(dy32)
        tensors[pre + "y"] = nhwc(y)
        tensors[pre + "dx"] = nhwc(x.grad)
    save(os.path.join(out, "pool.safetensors"), tensors)


if __name__ == "__main__":
    main()
