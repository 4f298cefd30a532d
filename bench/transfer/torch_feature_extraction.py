"""The idiomatic PyTorch feature-extraction run that thaw's is compared with
(bench/transfer/run_transfer.sh): EfficientNet-Lite0 with its ImageNet
checkpoint as an nn.Module, requires_grad=False on the backbone (kept in
eval mode so its BatchNorm statistics stay frozen, as in thaw), a new head
Linear(1280,256)-ReLU-Dropout(0.5)-Linear(256,10), AdamW lr 1e-3 wd 1e-4
with linear warmup (10%) then cosine, label smoothing 0.1, batch 32,
DataLoader(num_workers=2) with torchvision transforms (Resize 224 bilinear,
3 channels, ToTensor, Normalize ImageNet), Fashion-MNIST 50 per class
(seeded), 10% held out for validation each epoch. The frozen backbone is
recomputed every epoch, as plain PyTorch does.

usage: torch_feature_extraction.py WEIGHTS.pth [--epochs N] [--per-class K]
       [--size S] [--threads T]
Prints one JSON line: wall time of the whole run (data set-up included) and
the per-epoch times and validation accuracy."""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset
import torchvision.transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_lite0 import EfficientNetLite0  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"


def idx(name, offset):
    with gzip.open(os.path.join(FMNIST, name)) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


class Photos(Dataset):
    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--per-class", type=int, default=50)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    t0 = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    images = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = idx("train-labels-idx1-ubyte.gz", 8)
    rng = np.random.default_rng(0)
    train_idx, val_idx = [], []
    for c in range(10):
        pick = rng.choice(np.flatnonzero(labels == c), a.per_class, replace=False)
        n_val = round(0.1 * a.per_class)
        val_idx += list(pick[:n_val])
        train_idx += list(pick[n_val:])
    tf = T.Compose([T.Resize(a.size), T.Grayscale(3), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    train = DataLoader(Photos(images[train_idx], labels[train_idx], tf), batch_size=32,
                       shuffle=True, drop_last=True, num_workers=2)
    val = DataLoader(Photos(images[val_idx], labels[val_idx], tf), batch_size=32,
                     num_workers=2)

    model = EfficientNetLite0()
    model.load_state_dict(torch.load(a.weights, map_location="cpu"), strict=True)
    for p in model.parameters():
        p.requires_grad = False
    model._fc = nn.Sequential(nn.Linear(1280, 256), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(256, 10))
    opt = torch.optim.AdamW(model._fc.parameters(), lr=1e-3, weight_decay=1e-4)
    total = a.epochs * len(train)
    warm = int(0.1 * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else
        0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm))))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    epochs = []
    for epoch in range(a.epochs):
        te = time.perf_counter()
        model.train()
        for m in list(model.children())[:-1]:
            m.eval()   # frozen backbone: BatchNorm keeps its running statistics
        for x, y in train:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in val:
                correct += (model(x).argmax(1) == y).sum().item()
        epochs.append({"epoch": epoch + 1, "seconds": time.perf_counter() - te,
                       "val_acc": correct / len(val_idx)})
    print(json.dumps({"side": "pytorch", "wall_s": time.perf_counter() - t0,
                      "epochs": epochs, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
