"""Helper of test_eval.sh (THAW_PYTHON with torch + torchvision).

  eval_check.py MODEL.safetensors EVAL.json
      MODEL is `thaw export` of a resnet18 (mlp head, 10 classes) trained at
      32x32; EVAL is `thaw eval --json` on the Fashion-MNIST test split.
      PyTorch evaluates the same model on the 10,000 t10k images with the
      same preprocessing (grey to 3 channels, bilinear resize 28->32 with
      antialias=False on uint8 as torchvision 0.14, ImageNet mean/std) and
      must agree: count, accuracy within 3 images, mean loss within 1e-4
      relative, and the confusion matrix within 3 images per cell."""
import gzip
import json
import os
import sys

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_check import read  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"


def idx(name, offset):
    with gzip.open(os.path.join(FMNIST, name)) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def main():
    torch.set_num_threads(2)
    state, _ = read(sys.argv[1])
    with open(sys.argv[2]) as f:
        got = json.loads(f.read())
    model = torchvision.models.resnet18()
    model.fc = torch.nn.Sequential(torch.nn.Linear(512, 256), torch.nn.ReLU(),
                                   torch.nn.Dropout(0.5), torch.nn.Linear(256, 10))
    model.load_state_dict(state, strict=True)
    model.eval()
    images = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).copy())
    labels = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
    x = TF.resize(images, [32, 32], interpolation=InterpolationMode.BILINEAR, antialias=False)
    x = TF.convert_image_dtype(x, torch.float32).expand(-1, 3, -1, -1)
    x = TF.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    loss_sum, conf = 0.0, np.zeros((10, 10), dtype=np.int64)
    with torch.no_grad():
        for i in range(0, len(x), 500):
            z = model(x[i:i + 500]).double()
            y = labels[i:i + 500]
            loss_sum += torch.nn.functional.cross_entropy(z, y, reduction="sum").item()
            for t, p in zip(y.tolist(), z.argmax(1).tolist()):
                conf[t, p] += 1
    n = len(labels)
    acc = np.trace(conf) / n
    loss = loss_sum / n
    print(f"pytorch: accuracy {acc:.4f} loss {loss:.6f}; thaw: accuracy {got['accuracy']:.4f} "
          f"loss {got['loss']:.6f}")
    ok = got["count"] == n and got["split"] == "test"
    ok &= abs(got["accuracy"] - acc) * n <= 3
    ok &= abs(got["loss"] - loss) <= 1e-4 * max(1.0, abs(loss))
    ok &= np.abs(np.array(got["confusion"]) - conf).max() <= 3
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
