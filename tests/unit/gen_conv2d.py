"""Goldens for test_conv2d.c: PyTorch conv2d forward and backward, computed in
float64 and stored as F32. Activations are permuted to NHWC (thaw's layout);
weights stay [k, c/groups, r, s]. Every case stores its configuration as an
I32 tensor "<case>.cfg" = [n, h, w, c, k, r, s, stride, pad, dilation,
groups, has_bias], and the case list is in the metadata key "cases"."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "golden"))
import golden_io  # noqa: E402

# name: (n, h, w, c, k, r, s, stride, pad, dilation, groups, bias)
CASES = {
    "c3s1p1":      (2, 8, 8, 4, 6, 3, 3, 1, 1, 1, 1, True),
    "stem7s2p3":   (2, 15, 13, 3, 8, 7, 7, 2, 3, 1, 1, False),
    "pw1x1s1":     (2, 5, 6, 8, 12, 1, 1, 1, 0, 1, 1, True),
    "pw1x1s2":     (2, 7, 8, 8, 12, 1, 1, 2, 0, 1, 1, False),
    "c3s2p1":      (2, 9, 10, 5, 7, 3, 3, 2, 1, 1, 1, True),
    "c3s1p0":      (1, 7, 9, 3, 4, 3, 3, 1, 0, 1, 1, True),
    "dil2":        (1, 11, 9, 4, 5, 3, 3, 1, 2, 2, 1, True),
    "dil2s2":      (2, 12, 11, 3, 4, 3, 3, 2, 1, 2, 1, False),
    "k1x3":        (2, 6, 7, 4, 5, 1, 3, 1, 1, 1, 1, True),
    "groups2":     (2, 7, 7, 6, 8, 3, 3, 1, 1, 1, 2, True),
    "groups2s2":   (2, 8, 9, 8, 4, 3, 3, 2, 1, 1, 2, False),
    "groups4pw":   (2, 5, 5, 8, 12, 1, 1, 1, 0, 1, 4, True),
    "dw3s1":       (2, 8, 8, 8, 8, 3, 3, 1, 1, 1, 8, True),
    "dw3s2":       (2, 9, 9, 8, 8, 3, 3, 2, 1, 1, 8, False),
    "dw5s1":       (2, 10, 10, 16, 16, 5, 5, 1, 2, 1, 16, True),
    "dw5s2":       (1, 11, 12, 12, 12, 5, 5, 2, 2, 1, 12, False),
    "dw5s2c32":    (2, 13, 14, 32, 32, 5, 5, 2, 2, 1, 32, True),
    "dw3dil2":     (1, 9, 9, 6, 6, 3, 3, 1, 2, 2, 6, True),
    "dwmult2":     (2, 6, 6, 4, 8, 3, 3, 1, 1, 1, 4, True),
    "batch4":      (4, 6, 5, 3, 5, 3, 3, 1, 1, 1, 1, True),
    "wide":        (1, 20, 24, 16, 24, 3, 3, 1, 1, 1, 1, False),
    # Winograd F(2x2,3x3) (3x3 stride 1, channels multiples of 8, >= 64,
    # output >= 6x6): even and odd outputs, pad 1 and 0 (its data gradient
    # then pads 2), a batch of several chunks of tiles
    "wino128":     (1, 8, 8, 128, 128, 3, 3, 1, 1, 1, 1, True),
    "wino_odd":    (1, 9, 7, 128, 136, 3, 3, 1, 1, 1, 1, False),
    "wino_p0":     (1, 10, 10, 136, 128, 3, 3, 1, 0, 1, 1, True),
    "wino_batch":  (3, 14, 14, 128, 128, 3, 3, 1, 1, 1, 1, False),
    "wino64":      (2, 6, 6, 64, 72, 3, 3, 1, 1, 1, 1, True),
}


def make_case(gen, cfg):
    n, h, w, c, k, r, s, stride, pad, dil, groups, has_bias = cfg
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    wt = torch.randn(k, c // groups, r, s, generator=gen, dtype=torch.float64)
    wt *= (c // groups * r * s) ** -0.5
    b = torch.randn(k, generator=gen, dtype=torch.float64) if has_bias else None
    x.requires_grad_(True)
    wt.requires_grad_(True)
    if b is not None:
        b.requires_grad_(True)
    y = torch.nn.functional.conv2d(x, wt, b, stride=stride, padding=pad,
                                   dilation=dil, groups=groups)
    dy = torch.randn(y.shape, generator=gen, dtype=torch.float64)
    y.backward(dy)
    nhwc = (0, 2, 3, 1)
    out = {
        "cfg": torch.tensor([n, h, w, c, k, r, s, stride, pad, dil, groups,
                             int(has_bias)], dtype=torch.int32),
        "in": x.detach().permute(nhwc),
        "weight": wt.detach(),
        "dout": dy.permute(nhwc),
        "out": y.detach().permute(nhwc),
        "din": x.grad.permute(nhwc),
        "dweight": wt.grad,
    }
    if b is not None:
        out["bias"] = b.detach()
        out["dbias"] = b.grad
    return out


def main():
    out_dir = golden_io.out_dir_from_argv()
    gen = torch.Generator().manual_seed(1234)
    tensors = {}
    for name, cfg in CASES.items():
        for key, value in make_case(gen, cfg).items():
            tensors[f"{name}.{key}"] = value
    golden_io.save(os.path.join(out_dir, "conv2d.safetensors"), tensors,
                   {"cases": ",".join(CASES), "torch": torch.__version__})


if __name__ == "__main__":
    main()
