"""Writes safetensors files from the Python side for test_safetensors.c:
py_basic.safetensors via golden_io (F32, F16, I64, metadata), and a
hand-made py_bf16.safetensors (golden_io has no BF16) whose header is left
unpadded so the tensor bytes are not aligned. Every F16 and BF16 bit
pattern is stored next to PyTorch/numpy's own float32 conversion, so the C
reader is checked bit for bit against an independent implementation."""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "golden"))
import golden_io  # noqa: E402


def write_raw(path, entries, metadata):
    """entries: list of (name, dtype string, shape, raw bytes)."""
    header = {"__metadata__": metadata}
    offset = 0
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header).encode()
    if len(text) % 8 == 0:
        text += b" "   # keep the data buffer unaligned on purpose
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, raw in entries:
            f.write(raw)


def main():
    out = golden_io.out_dir_from_argv()
    torch.manual_seed(0)

    f16_bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    f16_all = f16_bits.view(np.float16)
    with np.errstate(all="ignore"):
        f16_ref = f16_all.astype(np.float32)
    weight = torch.randn(4, 3, 2)
    golden_io.save(os.path.join(out, "py_basic.safetensors"), {
        "conv.weight": weight,
        "f16_all": f16_all,
        "f16_all_ref": f16_ref,
        "num_batches_tracked": torch.tensor([7], dtype=torch.int64),
        "weight_ref": weight,
    }, {"source": "torch", "note": "quote \" and unicode \u00e9"})

    bf16_all = (torch.arange(65536, dtype=torch.int32).to(torch.int16)
                .view(torch.bfloat16))
    bf16_ref = bf16_all.float()
    special = torch.tensor([1.0, -0.0, float("inf"), float("-inf"), 3.14159,
                            1e-40, 6.5e38], dtype=torch.bfloat16)
    le = "<"
    write_raw(os.path.join(out, "py_bf16.safetensors"), [
        ("bf16_all", "BF16", [256, 256],
         bf16_all.view(torch.int16).numpy().astype(le + "i2").tobytes()),
        ("bf16_all_ref", "F32", [256, 256],
         bf16_ref.numpy().astype(le + "f4").tobytes()),
        ("special", "BF16", [7],
         special.view(torch.int16).numpy().astype(le + "i2").tobytes()),
        ("special_ref", "F32", [7],
         special.float().numpy().astype(le + "f4").tobytes()),
        ("f64", "F64", [3],
         np.array([0.1, -2.0, 1e300], dtype=le + "f8").tobytes()),
    ], {"source": "hand-made"})


if __name__ == "__main__":
    main()
