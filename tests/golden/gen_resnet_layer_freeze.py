"""Golden for per-layer (per-module) freezing: torchvision ResNet-18 (batch 2,
64x64, 10 classes) where some modules are frozen on their own and others
train, across group lines:

  stem, layer1              frozen (whole groups)
  layer2                    frozen, except layer2.1.conv2 which trains (the
                            lowest trainable op; layer2.1.bn2 above it is
                            frozen and passes the gradient through in eval)
  layer3                    trains, except layer3.1.bn2 (frozen, BN in eval)
  layer4                    trains, except layer4.0.conv1 and
                            layer4.0.downsample.1 (frozen; gradients flow
                            through them to layer3)
  fc (head)                 trains

Frozen modules have requires_grad=False and their BatchNorm in eval mode.
One train-mode forward/backward and one AdamW step (backbone lr 1e-6, head
1e-3, see gen_resnet.py for why) computed in float64 from the float32
weights. Writes resnet18_layer_freeze_weights.safetensors (the float32
state_dict) and resnet18_layer_freeze.safetensors: input, labels, ReLU kinks, logits, loss, the gradient of every
trainable parameter ("grad.<name>"; frozen ones have none: PyTorch leaves
them None) and every parameter and buffer after the step ("after.<name>").
Run: /usr/bin/python3 gen_resnet_layer_freeze.py --out DIR
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_resnet  # noqa: E402
import golden_io  # noqa: E402

ARCH, BATCH, SIZE, CLASSES, SMOOTHING = "resnet18", 2, 64, 10, 0.1
FROZEN_GROUPS = ("conv1.", "bn1.", "layer1.", "layer2.")
THAWED_LAYERS = ("layer2.1.conv2",)
FROZEN_LAYERS = ("layer3.1.bn2", "layer4.0.conv1", "layer4.0.downsample.1")
BACKBONE = dict(lr=1e-6, weight_decay=1e-2)
HEAD = dict(lr=1e-3, weight_decay=5e-2)


def module_of(name):
    return name.rsplit(".", 1)[0]


def is_frozen(name):
    module = module_of(name)
    if module in THAWED_LAYERS:
        return False
    return name.startswith(FROZEN_GROUPS) or module in FROZEN_LAYERS


def batch(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, 3, SIZE, SIZE, generator=g, dtype=torch.float64)
    y = torch.randint(0, CLASSES, (BATCH,), generator=g)
    return x, y


def run_case(seed, dtype, channels_last=False):
    model = gen_resnet.make_model(ARCH, seed).to(dtype)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    backbone, head = [], []
    for name, p in model.named_parameters():
        if is_frozen(name):
            p.requires_grad_(False)
        else:
            (head if name.startswith("fc.") else backbone).append(p)
    opt = torch.optim.AdamW([dict(params=backbone, **BACKBONE), dict(params=head, **HEAD)],
                            lr=0.0, betas=(0.9, 0.999), eps=1e-8)
    model.train()
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d) and is_frozen(name + ".weight"):
            m.eval()   # a frozen layer's BN normalises with running statistics
    x, y = batch(7)
    ref = {"input": x, "labels": y}
    kinks = gen_resnet.KinkRecorder(model)
    logits = model(x.to(dtype))
    kinks.save_into(ref, "train")
    kinks.close()
    loss = F.cross_entropy(logits, y, label_smoothing=SMOOTHING)
    opt.zero_grad()
    loss.backward()
    ref["logits"] = logits.detach()
    ref["loss"] = loss.detach().reshape(1)
    for name, p in model.named_parameters():
        if p.grad is None:
            assert is_frozen(name), f"{name} trains but has no gradient"
        else:
            assert not is_frozen(name), f"{name} is frozen but has a gradient"
            ref["grad." + name] = p.grad.clone()
    opt.step()
    for name, t in model.state_dict().items():
        ref["after." + name] = t.clone()
    return ref


def pick_case():
    """The first seed on which PyTorch float32 (NCHW and channels_last)
    stays within 2e-5 of float64 on every tensor (see gen_resnet.py)."""
    for seed in range(1, 40):
        ref = run_case(seed, torch.float64)
        dev = max(gen_resnet.deviation(ref, run_case(seed, torch.float32, cl))
                  for cl in (False, True))
        if dev < 2e-5:
            print(f"{ARCH} layer freeze: seed {seed}, PyTorch float32 deviation {dev:.1e}",
                  flush=True)
            return seed, ref
        print(f"seed {seed} rejected (PyTorch float32 deviation {dev:.1e})", flush=True)
    raise SystemExit("no well-conditioned seed found")


def main():
    out = golden_io.out_dir_from_argv()
    torch.set_num_threads(2)
    seed, ref = pick_case()
    golden_io.save(os.path.join(out, "resnet18_layer_freeze_weights.safetensors"),
                   gen_resnet.state_dict_f32(gen_resnet.make_model(ARCH, seed)), {"arch": ARCH})
    golden_io.save(os.path.join(out, "resnet18_layer_freeze.safetensors"), ref,
                   {"arch": ARCH, "seed": seed})
    print("wrote resnet18_layer_freeze.safetensors", flush=True)


if __name__ == "__main__":
    main()
