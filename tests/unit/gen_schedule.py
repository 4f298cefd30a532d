"""Goldens for engine/run/schedule.c: the lr that torch.optim.lr_scheduler
gives at every optimizer step, divided by the base lr (base lr 0.1, 40 steps).
Cases: StepLR(step_size 7, gamma 0.5), CosineAnnealingLR(T_max 40),
OneCycleLR(max_lr 0.1, total_steps 40, defaults, cycle_momentum False), and
linear warmup over 6 steps followed by constant / cosine / step, written as a
LambdaLR in transformers' get_*_schedule_with_warmup form. Stored as float64
values cast to float32."""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
import golden_io  # noqa: E402

BASE = 0.1
TOTAL = 40
WARM = 6


def trace(make):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=BASE)
    sched = make(opt)
    out = []
    for _ in range(TOTAL):
        out.append(opt.param_groups[0]["lr"] / BASE)
        opt.step()
        sched.step()
    return np.array(out, dtype=np.float64)


def warm_then(after):
    def f(s):
        if s < WARM:
            return s / WARM
        return after(s - WARM, TOTAL - WARM)
    return f


def main():
    out = golden_io.out_dir_from_argv()
    lr = torch.optim.lr_scheduler
    cases = {
        "constant": trace(lambda o: lr.LambdaLR(o, lambda s: 1.0)),
        "step": trace(lambda o: lr.StepLR(o, step_size=7, gamma=0.5)),
        "cosine": trace(lambda o: lr.CosineAnnealingLR(o, T_max=TOTAL)),
        "onecycle": trace(lambda o: lr.OneCycleLR(o, max_lr=BASE, total_steps=TOTAL,
                                                  cycle_momentum=False)),
        "warm_constant": trace(lambda o: lr.LambdaLR(o, warm_then(lambda t, n: 1.0))),
        "warm_cosine": trace(lambda o: lr.LambdaLR(o, warm_then(
            lambda t, n: 0.5 * (1.0 + math.cos(math.pi * t / n))))),
        "warm_step": trace(lambda o: lr.LambdaLR(o, warm_then(
            lambda t, n: 0.5 ** (t // 7)))),
    }
    golden_io.save(os.path.join(out, "schedule.safetensors"), cases,
                   {"total": TOTAL, "warmup": WARM})


if __name__ == "__main__":
    main()
