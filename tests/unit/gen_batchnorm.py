"""Goldens for engine/ops/batchnorm.c: BatchNorm2d train/eval forward and
backward, computed by PyTorch in float64 from float32 inputs, saved NHWC."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402

MOMENTUM = 0.1
EPS = 1e-5


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).contiguous()


def case(name, seed, n, c, h, w, offset):
    g = torch.Generator().manual_seed(seed)
    # float32 first so C and PyTorch see the same bits, then float64 math
    x32 = torch.randn(n, c, h, w, generator=g) * 2.0 + offset
    dy32 = torch.randn(n, c, h, w, generator=g)
    gamma32 = torch.rand(c, generator=g) + 0.5
    beta32 = torch.randn(c, generator=g)
    rm32 = torch.randn(c, generator=g)
    rv32 = torch.rand(c, generator=g) + 0.5

    x = x32.double().requires_grad_(True)
    gamma = gamma32.double().requires_grad_(True)
    beta = beta32.double().requires_grad_(True)
    rm = rm32.double().clone()
    rv = rv32.double().clone()
    y = F.batch_norm(x, rm, rv, gamma, beta, training=True,
                     momentum=MOMENTUM, eps=EPS)
    y.backward(dy32.double())
    mean = x.detach().mean(dim=(0, 2, 3))
    var = x.detach().var(dim=(0, 2, 3), unbiased=False)

    xe = x32.double().requires_grad_(True)
    ge = gamma32.double().requires_grad_(True)
    be = beta32.double().requires_grad_(True)
    ye = F.batch_norm(xe, rm32.double(), rv32.double(), ge, be,
                      training=False, eps=EPS)
    ye.backward(dy32.double())

    p = name + "."
    return {
        p + "x": nhwc(x32), p + "dy": nhwc(dy32),
        p + "gamma": gamma32, p + "beta": beta32,
        p + "rm0": rm32, p + "rv0": rv32,
        p + "y": nhwc(y), p + "mean": mean, p + "rstd": 1.0 / torch.sqrt(var + EPS),
        p + "rm": rm, p + "rv": rv,
        p + "dx": nhwc(x.grad), p + "dgamma": gamma.grad, p + "dbeta": beta.grad,
        p + "y_eval": nhwc(ye), p + "dx_eval": nhwc(xe.grad),
        p + "dgamma_eval": ge.grad, p + "dbeta_eval": be.grad,
    }


def main():
    out = out_dir_from_argv()
    tensors = {}
    # m = 8*80*80 = 51200 rows with a large mean: exercises the accumulation
    tensors.update(case("big", 1, 8, 32, 80, 80, 3.0))
    # c = 300: several channel tiles and a ragged last tile, tiny m
    tensors.update(case("wide", 2, 2, 300, 5, 7, -1.0))
    # wide and big enough that threads take whole channel tiles
    tensors.update(case("tiles", 4, 4, 640, 7, 7, 0.5))
    # a ResNet-like mid layer
    tensors.update(case("mid", 3, 4, 64, 14, 14, 0.0))
    save(os.path.join(out, "batchnorm.safetensors"), tensors,
         {"momentum": MOMENTUM, "eps": EPS})


if __name__ == "__main__":
    main()
