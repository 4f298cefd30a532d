"""Goldens for the optimizer update rules: three parameters in three groups
(one frozen), given float32 gradients for 3 steps, stepped by torch.optim.SGD
(momentum, dampening 0, nesterov, weight decay) and torch.optim.AdamW in
float64. Isolates the rules from any model noise."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
import golden_io  # noqa: E402

SHAPES = {"frozen.weight": (5, 3), "body.weight": (4, 6), "head.bias": (7,)}
GROUPS = {"frozen.weight": None, "body.weight": dict(lr=0.05, weight_decay=1e-2),
          "head.bias": dict(lr=0.3, weight_decay=0.0)}
CONFIGS = {
    "sgd_nesterov": (torch.optim.SGD, dict(momentum=0.9, nesterov=True)),
    "sgd_momentum": (torch.optim.SGD, dict(momentum=0.8)),
    "sgd_plain": (torch.optim.SGD, dict()),
    "adamw": (torch.optim.AdamW, dict(betas=(0.9, 0.999), eps=1e-8)),
}


def main():
    out = golden_io.out_dir_from_argv()
    g = torch.Generator().manual_seed(7)
    init = {k: torch.randn(*s, generator=g).float() for k, s in SHAPES.items()}
    grads = [{k: (torch.randn(*s, generator=g) * 10 ** (-step)).float()
              for k, s in SHAPES.items()} for step in range(3)]
    for name, (cls, kwargs) in CONFIGS.items():
        params = {k: v.double().clone().requires_grad_(GROUPS[k] is not None)
                  for k, v in init.items()}
        groups = [dict(params=[params[k]], **GROUPS[k]) for k in SHAPES if GROUPS[k]]
        opt = cls(groups, lr=0.0, **kwargs)
        ref = {f"init.{k}": v for k, v in init.items()}
        for step in range(3):
            for k, p in params.items():
                ref[f"grad.{step}.{k}"] = grads[step][k]
                if p.requires_grad:
                    p.grad = grads[step][k].double()
            opt.step()
            for k, p in params.items():
                ref[f"after.{step}.{k}"] = p.detach().clone()
        golden_io.save(os.path.join(out, f"optimizer_{name}.safetensors"), ref)


if __name__ == "__main__":
    main()
