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
KINK_REL = 1e-5
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


def deviation(ref, other):
    """Worst max|a - b| / max|b| over the float tensors two runs share."""
    worst = 0.0
    for key, b in ref.items():
        if (key == "input" or key.startswith(("input.", "kink."))
                or not b.is_floating_point()):
            continue
        scale = b.double().abs().max().item()
        if scale > 0:
            diff = (other[key].double() - b.double()).abs().max().item()
            worst = max(worst, diff / scale)
    return worst


def run_all(arch, seed, dtype, channels_last=False):
    """Every golden of one architecture, computed in dtype."""
    def model():
        m = make_model(arch, seed).to(dtype)
        return m.to(memory_format=torch.channels_last) if channels_last else m
    out = {"fwdbwd": fwdbwd(model())}
    for opt_name in OPTIMIZERS:
        out[opt_name] = train_steps(model(), opt_name)
    return out


def pick_case(arch):
    """A random case whose results do not hinge on float32 rounding.

    Random ResNets at init can be ill-conditioned in train-mode BN (a channel
    with almost no batch variance), and a ReLU pre-activation that lies
    within rounding of zero flips its mask under another summation order,
    which moves a gradient of a small late layer by tens of percent. Either
    way a 1e-4 comparison would test luck, not code. So: use the first seed
    on which PyTorch's own float32, in NCHW and in channels_last (two
    summation orders), stays within 2e-5 of float64 on every golden tensor."""
    for seed in range(1, 40):
        ref = run_all(arch, seed, torch.float64)
        dev = max(deviation(ref[k], run(k))
                  for run in (lambda k, r=run_all(arch, seed, torch.float32): r[k],
                              lambda k, r=run_all(arch, seed, torch.float32, True): r[k])
                  for k in ref)
        if dev < 2e-5:
            print(f"{arch}: seed {seed}, PyTorch float32 deviation {dev:.1e}", flush=True)
            return seed, ref
        print(f"{arch}: seed {seed} rejected (PyTorch float32 deviation {dev:.1e})", flush=True)
    raise SystemExit(f"{arch}: no well-conditioned seed found")


class KinkRecorder:
    """ReLU is not differentiable at 0: an input within float32 rounding of
    zero may get the other mask under another summation order, which moves
    a gradient of a late layer by whole percent. Per ReLU call (execution
    order, as thaw's graph runs them) this records the elements with
    |x| <= KINK_REL * max|x| as [k, 2] int64 rows (NHWC index, x > 0), so the
    C test can take the reference's side on exactly those elements."""

    def __init__(self, model):
        self.calls = []
        self.handles = [m.register_forward_pre_hook(self.hook)
                        for m in model.modules() if isinstance(m, torch.nn.ReLU)]

    def hook(self, module, inputs):
        x = inputs[0].detach()
        flat = x.permute(0, 2, 3, 1).reshape(-1)
        idx = (flat.abs() <= KINK_REL * flat.abs().max()).nonzero().flatten()
        self.calls.append(torch.stack([idx, (flat[idx] > 0).long()], dim=1))

    def save_into(self, ref, tag):
        for i, rows in enumerate(self.calls):
            if len(rows):
                ref[f"kink.{tag}.{i}"] = rows
        self.calls = []

    def close(self):
        for h in self.handles:
            h.remove()


def fwdbwd(model):
    x, y = batch(1)
    ref = {"input": x, "labels": y}
    dtype = next(model.parameters()).dtype
    x = x.to(dtype)
    model.eval()
    with torch.no_grad():
        ref["logits_eval"] = model(x)
    model.train()
    xg = x.clone().requires_grad_(True)
    kinks = KinkRecorder(model)
    logits = model(xg)
    kinks.save_into(ref, "train")
    kinks.close()
    loss = F.cross_entropy(logits, y, label_smoothing=SMOOTHING)
    loss.backward()
    ref["logits_train"] = logits.detach()
    ref["loss"] = loss.detach().reshape(1)
    ref["input_grad"] = xg.grad
    for name, p in model.named_parameters():
        ref["grad." + name] = p.grad
    for name, b in model.named_buffers():
        if b.is_floating_point():
            ref["running." + name] = b.clone()
    return ref


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
    kinks = KinkRecorder(model)
    for step in range(3):
        x, y = batch(100 + step)
        ref[f"input.{step}"] = x
        ref[f"labels.{step}"] = y
        opt.zero_grad()
        loss = F.cross_entropy(model(x.to(dtype)), y, label_smoothing=SMOOTHING)
        kinks.save_into(ref, str(step))
        loss.backward()
        opt.step()
        ref[f"loss.{step}"] = loss.detach().reshape(1)
    kinks.close()
    for name, t in model.state_dict().items():
        if t.is_floating_point():
            ref["after." + name] = t
        else:
            ref["after." + name] = t.clone()
    return ref


def main():
    out = golden_io.out_dir_from_argv()
    torch.set_num_threads(2)
    for arch in ("resnet18", "resnet34", "resnet50"):
        seed, ref = pick_case(arch)
        golden_io.save(os.path.join(out, f"{arch}_weights.safetensors"),
                       state_dict_f32(make_model(arch, seed)), {"arch": arch})
        golden_io.save(os.path.join(out, f"{arch}_fwdbwd.safetensors"), ref["fwdbwd"])
        for opt_name in OPTIMIZERS:
            golden_io.save(os.path.join(out, f"{arch}_{opt_name}.safetensors"),
                           ref[opt_name], {"optimizer": opt_name})
        print(f"wrote goldens for {arch}", flush=True)


if __name__ == "__main__":
    main()
