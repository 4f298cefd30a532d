"""Helper of test_export.sh (run with THAW_PYTHON: torch + torchvision).

  export_check.py input X.safetensors
      writes tensor 'input' [2, 3, 32, 32] (seeded) with golden_io.save
  export_check.py check MODEL.safetensors HEAD X.safetensors Y.safetensors
      builds torchvision resnet18 with HEAD (mlp: fc = Sequential(Linear(512,
      256), ReLU, Dropout(0.5), Linear(256, 10)); linear: Linear(512, 10)),
      load_state_dict(strict=True) from MODEL (read by a tiny safetensors
      reader), runs eval on X and compares with thaw forward's 'logits' in Y
      (max abs diff <= 1e-4 x max|ref|)."""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.join(os.environ["THAW_SOURCE_DIR"], "tests", "golden"))
import golden_io  # noqa: E402

_NP = {"F32": np.float32, "I64": np.int64, "F16": np.float16}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        arr = np.frombuffer(blob[base + b:base + e], dtype=_NP[info["dtype"]])
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out, meta


def main():
    torch.set_num_threads(2)
    if sys.argv[1] == "input":
        g = torch.Generator().manual_seed(7)
        golden_io.save(sys.argv[2], {"input": torch.randn(2, 3, 32, 32, generator=g)})
        return 0
    _, model_path, head, x_path, y_path = sys.argv[1:]
    state, meta = read(model_path)
    assert meta.get("arch") == "resnet18" and meta.get("head") == head \
        and meta.get("classes") == "10", meta
    assert not any(k.startswith("opt.") for k in state), "optimizer state exported"
    model = torchvision.models.resnet18()
    if head == "mlp":
        model.fc = torch.nn.Sequential(torch.nn.Linear(512, 256), torch.nn.ReLU(),
                                       torch.nn.Dropout(0.5), torch.nn.Linear(256, 10))
    else:
        model.fc = torch.nn.Linear(512, 10)
    model.load_state_dict(state, strict=True)
    model.eval()
    x, _ = read(x_path)
    with torch.no_grad():
        ref = model(x["input"]).double()
    y, _ = read(y_path)
    got = y["logits"].double()
    assert got.shape == ref.shape, (got.shape, ref.shape)
    diff = (got - ref).abs().max().item()
    scale = ref.abs().max().item()
    print(f"{head}: {len(state)} keys loaded strictly; max|ref| {scale:.4g}, "
          f"max|thaw - torch| {diff:.3g} (tol {1e-4 * scale:.3g})")
    return 0 if diff <= 1e-4 * scale else 1


if __name__ == "__main__":
    sys.exit(main())
