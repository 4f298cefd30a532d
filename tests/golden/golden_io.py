"""Writes safetensors files for goldens without the safetensors package
(Debian 12 has none): u64 header length, JSON header, raw little-endian
bytes. Used by every tests/**/gen_*.py."""
import json
import os
import struct

import numpy as np
import torch

FORMAT_VERSION = "1"

_DTYPES = {
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("float64"): "F64",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("uint8"): "U8",
}


def _as_numpy(value):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.float64:
            value = value.float()
        if value.dtype == torch.bfloat16:
            raise ValueError("write bf16 via save_raw")
        return value.contiguous().numpy()
    return np.ascontiguousarray(value)


def save(path, tensors, metadata=None):
    """tensors: dict name -> torch tensor or numpy array (float64 -> F32)."""
    header = {}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        arr = _as_numpy(value)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": _DTYPES[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    meta = {"golden_format": FORMAT_VERSION}
    meta.update(metadata or {})
    header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def out_dir_from_argv():
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args.out
