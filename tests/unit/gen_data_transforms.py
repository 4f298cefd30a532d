"""Goldens for engine/data/transforms.c against torchvision 0.14's tensor
path (uint8 CHW tensors, bilinear, antialias=False = align_corners=False):
resize (down and up), Resize(int) + CenterCrop + Normalize, centre crops
with odd margins (Python's half-to-even round), grey images. Inputs are real
photos shipped by python3-skimage (PNG, decoded losslessly by PIL here and by
stb_image in the C test). Everything stored as float32."""
import os
import sys

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from golden_io import out_dir_from_argv, save  # noqa: E402

PHOTOS = "/usr/lib/python3/dist-packages/skimage/data"
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def load(name):
    a = np.array(Image.open(os.path.join(PHOTOS, name)))
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(a).permute(2, 0, 1).contiguous()  # uint8 CHW


def hwc(t):
    return t.permute(1, 2, 0).contiguous().float()


def resize(t, size):
    return TF.resize(t, size, interpolation=InterpolationMode.BILINEAR,
                     antialias=False)


def normalize(t):
    x = TF.convert_image_dtype(t, torch.float32)
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return TF.normalize(x, MEAN, STD)


def main():
    out = out_dir_from_argv()
    cat = load("chelsea.png")    # 3 x 300 x 451
    cam = load("camera.png")     # 1 x 512 x 512
    t = {
        "chelsea.input": hwc(cat),
        "camera.input": hwc(cam),
        # uint8 results (HWC, as float)
        "chelsea.resize_128x160": hwc(resize(cat, [128, 160])),
        "chelsea.resize_up_57x41": hwc(resize(cat[:, 100:120, 200:230], [57, 41])),
        "camera.resize_64x64": hwc(resize(cam, [64, 64])),
        "chelsea.resize_short_100": hwc(resize(cat, 100)),
        "chelsea.crop_299x450": hwc(TF.center_crop(cat, [299, 450])),
        "chelsea.crop_297x448": hwc(TF.center_crop(cat, [297, 448])),
        "chelsea.crop_295x446": hwc(TF.center_crop(cat, [295, 446])),
        # full eval pipelines: float [3, H, W]
        "chelsea.eval_100_87": normalize(TF.center_crop(resize(cat, 100), [87, 87])),
        "camera.eval_0_64": normalize(resize(cam, [64, 64])),
        "chelsea.flip_normalize": normalize(TF.hflip(cat[:, :40, :50])),
    }
    save(os.path.join(out, "data_transforms.safetensors"), t)


if __name__ == "__main__":
    main()
