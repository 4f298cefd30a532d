"""Goldens for torchvision ResNet-18/34/50 against thaw's engine.

For each architecture (10 classes, batch 4, 64x64 input, random weights with
non-trivial BatchNorm statistics) this writes, computed by PyTorch in float64
from the float32 weights thaw loads:
  <arch>_weights.safetensors  the float32 state_dict
  <arch>_fwdbwd.safetensors   logits in eval and train BN mode, the loss with
                              label smoothing 0.1, every parameter gradient,
                              the input gradient, running stats after one
                              train-mode forward
  <arch>_sgd.safetensors,     3 optimizer steps with stem..layer3 frozen (BN in
  <arch>_adamw.safetensors    eval there), layer4 and head with different lr
                              and weight decay: per-step loss and every
                              parameter and BN buffer afterwards
Run: /usr/bin/python3 gen_resnet.py --out DIR
"""
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_io  # noqa: E402

BATCH, SIZE, CLASSES, SMOOTHING = 4, 64, 10, 0.1
FROZEN = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.")
OPTIMIZERS = {
    "sgd": dict(layer4=dict(lr=0.01, weight_decay=5e-4),
                head=dict(lr=0.1, weight_decay=1e-4),
                kwargs=dict(momentum=0.9, nesterov=True)),
    # Adam divides each gradient element by its own magnitude, so an element
    # whose gradient sits at float32 noise level moves by about +-lr in any
    # float32 implementation (PyTorch's own float32 AdamW deviates 1.4e-2 of
    # max|w| from float64 at lr 1e-3 on these layer4 convs). layer4's lr is
    # kept at 1e-6 so that the 1e-4 tolerance stays meaningful; the update
    # rule itself is checked exactly in tests/unit/test_optimizer.c.
    "adamw": dict(layer4=dict(lr=1e-6, weight_decay=1e-2),
                  head=dict(lr=1e-3, weight_decay=5e-2),
                  kwargs=dict(betas=(0.9, 0.999), eps=1e-8)),
}


def make_model(arch, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(num_classes=CLASSES)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0.0, 0.1)
        # The last BN of each residual branch gets a small gamma, as trained
        # ResNets have. With gamma ~ 1 there the residual stream grows with
        # depth and train-mode BN over batch 4 becomes so ill-conditioned that
        # PyTorch's own float32 gradients of ResNet-50 deviate 6e-2..4e-1 from
        # float64; with it, PyTorch float32 stays within 1e-5.
        for m in model.modules():
            if isinstance(m, torchvision.models.resnet.Bottleneck):
                m.bn3.weight.uniform_(0.1, 0.3)
            elif isinstance(m, torchvision.models.resnet.BasicBlock):
                m.bn2.weight.uniform_(0.1, 0.3)
        # Calibrate running statistics on random data, as pretraining would,
        # so eval-mode (frozen) BN keeps activations in a sane range.
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        model.train()
        for _ in range(2):
            model(torch.randn(8, 3, SIZE, SIZE))
        for m in bns:
            m.momentum = 0.1
            m.num_batches_tracked.fill_(3)
    return model.float()


def state_dict_f32(model):
    return {k: (v.float() if v.is_floating_point() else v)
            for k, v in model.state_dict().items()}


def batch(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, 3, SIZE, SIZE, generator=g, dtype=torch.float64)
    y = torch.randint(0, CLASSES, (BATCH,), generator=g)
    return x, y


def train_grads(model):
    x, y = batch(1)
    model.train()
    dtype = next(model.parameters()).dtype
    F.cross_entropy(model(x.to(dtype)), y, label_smoothing=SMOOTHING).backward()
    return {n: p.grad.double() for n, p in model.named_parameters()}


def float32_deviation(arch, seed):
    """Worst max|g32 - g64| / max|g64| over PyTorch's own float32 gradients:
    how well-conditioned this random case is."""
    g32 = train_grads(make_model(arch, seed))
    g64 = train_grads(make_model(arch, seed).double())
    return max(((g32[k] - g64[k]).abs().max() / g64[k].abs().max()).item()
               for k in g64)


def pick_seed(arch):
    """Random ResNets at init are sometimes ill-conditioned in train-mode BN
    (a channel with almost no batch variance); then even PyTorch float32 is
    far from float64 and a 1e-4 comparison tests luck. Use the first seed
    where PyTorch float32 itself is within 2e-5."""
    for seed in range(1, 40):
        dev = float32_deviation(arch, seed)
        if dev < 2e-5:
            print(f"{arch}: seed {seed}, PyTorch float32 deviation {dev:.1e}")
            return seed
    raise SystemExit(f"{arch}: no well-conditioned seed found")


def fwdbwd(model, out):
    x, y = batch(1)
    ref = {"input": x, "labels": y}
    model.eval()
    with torch.no_grad():
        ref["logits_eval"] = model(x)
    model.train()
    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    loss = F.cross_entropy(logits, y, label_smoothing=SMOOTHING)
    loss.backward()
    ref["logits_train"] = logits.detach()
    ref["loss"] = loss.detach().reshape(1)
    ref["input_grad"] = xg.grad
    for name, p in model.named_parameters():
        ref["grad." + name] = p.grad
    for name, b in model.named_buffers():
        if b.is_floating_point():
            ref["running." + name] = b
    golden_io.save(out, ref)


def is_frozen(name):
    return name.startswith(FROZEN)


def train_steps(model, opt_name):
    """3 steps; returns {key: tensor} of per-step losses and the state after."""
    cfg = OPTIMIZERS[opt_name]
    groups = {"layer4": [], "head": []}
    for name, p in model.named_parameters():
        if is_frozen(name):
            p.requires_grad_(False)
        else:
            groups["layer4" if name.startswith("layer4.") else "head"].append(p)
    param_groups = [dict(params=groups[g], **cfg[g]) for g in ("layer4", "head")]
    if opt_name == "sgd":
        opt = torch.optim.SGD(param_groups, lr=0.0, **cfg["kwargs"])
    else:
        opt = torch.optim.AdamW(param_groups, lr=0.0, **cfg["kwargs"])
    model.train()
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d) and is_frozen(name + "."):
            m.eval()  # frozen groups keep BN in eval mode (no train_bn)
    dtype = next(model.parameters()).dtype
    ref = {}
    for step in range(3):
        x, y = batch(100 + step)
        ref[f"input.{step}"] = x
        ref[f"labels.{step}"] = y
        opt.zero_grad()
        loss = F.cross_entropy(model(x.to(dtype)), y, label_smoothing=SMOOTHING)
        loss.backward()
        opt.step()
        ref[f"loss.{step}"] = loss.detach().reshape(1)
    for name, t in model.state_dict().items():
        if t.is_floating_point():
            ref["after." + name] = t
        else:
            ref["after." + name] = t.clone()
    return ref


def optimizer_golden(arch, seed, opt_name, out):
    ref = train_steps(make_model(arch, seed).double(), opt_name)
    golden_io.save(out, ref, {"optimizer": opt_name})


def main():
    out = golden_io.out_dir_from_argv()
    torch.set_num_threads(2)
    for arch in ("resnet18", "resnet34", "resnet50"):
        seed = pick_seed(arch)
        model = make_model(arch, seed)
        golden_io.save(os.path.join(out, f"{arch}_weights.safetensors"),
                       state_dict_f32(model), {"arch": arch})
        fwdbwd(make_model(arch, seed).double(),
               os.path.join(out, f"{arch}_fwdbwd.safetensors"))
        for opt_name in OPTIMIZERS:
            optimizer_golden(arch, seed, opt_name,
                             os.path.join(out, f"{arch}_{opt_name}.safetensors"))
        print(f"wrote goldens for {arch}", flush=True)


if __name__ == "__main__":
    main()
