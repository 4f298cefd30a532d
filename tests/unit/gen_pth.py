"""Writes PyTorch checkpoints for test_pth.c with torch.save in both formats
(legacy stream: _use_new_zipfile_serialization=False; zip: the default),
and the same tensors as safetensors with their exact dtypes, so the C
reader's conversion is checked byte for byte against PyTorch itself.
Also writes broken checkpoints (unknown global, wrong magic, storage size
mismatches) and, when the EfficientNet-Lite0 ImageNet checkpoint is in the
cache (quickstart.sh fetches it), torch.load's tensors of it."""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "golden"))
import golden_io  # noqa: E402

_RAW = {
    torch.float32: ("F32", torch.int32), torch.float16: ("F16", torch.int16),
    torch.bfloat16: ("BF16", torch.int16), torch.float64: ("F64", torch.int64),
    torch.int64: ("I64", torch.int64), torch.int32: ("I32", torch.int32),
    torch.int16: ("I16", torch.int16), torch.int8: ("I8", torch.int8),
    torch.uint8: ("U8", torch.uint8), torch.bool: ("BOOL", torch.uint8),
}


def save_exact(path, tensors):
    """safetensors with every dtype kept (golden_io turns F64 into F32 and
    has no BF16), tensors in dict order."""
    header = {"__metadata__": {"golden_format": golden_io.FORMAT_VERSION}}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        dtype, as_int = _RAW[t.dtype]
        c = t.detach().contiguous()
        raw = (c.to(torch.uint8) if t.dtype == torch.bool
               else c.view(as_int)).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def mixed_state_dict():
    g = torch.Generator().manual_seed(5)
    base = torch.randn(4, 5, generator=g)
    shared = torch.randn(10, generator=g)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 4, generator=g)
    sd["f16"] = torch.randn(5, generator=g).half()
    sd["bf16"] = torch.randn(2, 3, generator=g).bfloat16()
    sd["f64"] = torch.randn(4, generator=g).double()
    sd["i64"] = torch.arange(-3, 3).reshape(2, 3)
    sd["i32"] = torch.arange(4, dtype=torch.int32) * 1000003
    sd["u8"] = torch.arange(250, 256, dtype=torch.int64).to(torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.5)
    sd["transposed"] = base.t()                  # non-contiguous view
    sd["sliced"] = base[1:3, 2:]                 # offset + strides
    sd["shared_a"] = shared
    sd["shared_b"] = shared[3:7]                 # same storage, offset 3
    sd["shared_c"] = shared[::3]                 # same storage, stride 3
    sd["empty"] = torch.zeros(0, 3)
    sd["expanded"] = torch.randn(3, 1, generator=g).expand(3, 4)  # stride 0
    sd["bn.num_batches_tracked"] = torch.tensor(7)
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    return sd


def module_state_dict():
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                              torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4, 2))
    return net.state_dict()


def save_both(out, stem, obj, expect):
    torch.save(obj, os.path.join(out, stem + "_legacy.pth"),
               _use_new_zipfile_serialization=False)
    torch.save(obj, os.path.join(out, stem + "_zip.pth"))
    save_exact(os.path.join(out, stem + "_expect.safetensors"), expect)


class _Skip(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "collections":
            return super().find_class(module, name)
        return lambda *a, **k: None

    def persistent_load(self, pid):
        return None


def legacy_data_offset(data):
    """Byte offset of the first storage's int64 count in a legacy file."""
    f = io.BytesIO(data)
    for _ in range(5):   # magic, protocol, sys_info, object, key list
        _Skip(f).load()
    return f.tell()


def write_bad(out):
    legacy = open(os.path.join(out, "mixed_legacy.pth"), "rb").read()
    zipped = os.path.join(out, "mixed_zip.pth")
    # A whole module, not a state_dict: its class is an unknown global.
    torch.save(torch.nn.Linear(2, 2), os.path.join(out, "bad_global.pth"),
               _use_new_zipfile_serialization=False)
    torch.save(torch.nn.Linear(2, 2), os.path.join(out, "bad_global_zip.pth"))
    bad = bytearray(legacy)
    bad[6] ^= 0x01                               # inside the magic number
    open(os.path.join(out, "bad_magic.pth"), "wb").write(bad)
    bad = bytearray(legacy)
    at = legacy_data_offset(legacy)
    (count,) = struct.unpack_from("<q", bad, at)
    struct.pack_into("<q", bad, at, count + 1)   # storage size mismatch
    open(os.path.join(out, "bad_count.pth"), "wb").write(bad)
    # Zip whose first storage lost 4 bytes.
    with zipfile.ZipFile(zipped) as src, \
            zipfile.ZipFile(os.path.join(out, "bad_zip_size.pth"), "w",
                            zipfile.ZIP_STORED) as dst:
        cut = False
        for info in src.infolist():
            raw = src.read(info)
            if not cut and "/data/" in info.filename and len(raw) >= 4:
                raw = raw[:-4]
                cut = True
            dst.writestr(info.filename, raw)
    # Compressed zip entries (torch never writes them).
    with zipfile.ZipFile(zipped) as src, \
            zipfile.ZipFile(os.path.join(out, "bad_zip_deflate.pth"), "w",
                            zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))


def main():
    out = golden_io.out_dir_from_argv()
    sd = mixed_state_dict()
    save_both(out, "mixed", sd, sd)
    msd = module_state_dict()
    save_both(out, "module", msd, msd)
    # A training checkpoint that wraps the state_dict.
    save_both(out, "wrapped", {"state_dict": msd, "epoch": 3}, msd)
    write_bad(out)

    cache = os.environ.get("THAW_CACHE",
                           os.path.join(os.path.expanduser("~"), ".cache", "thaw"))
    real = os.path.join(cache, "weights", "efficientnet-lite0.pth")
    marker = os.path.join(out, "pth_real.txt")
    if os.path.exists(real):
        tensors = torch.load(real, map_location="cpu")
        save_exact(os.path.join(out, "real_expect.safetensors"), tensors)
        with open(marker, "w") as f:
            f.write(real + "\n")
        print(f"gen_pth: {len(tensors)} tensors from {real}")
    elif os.path.exists(marker):
        os.remove(marker)
    print(f"gen_pth: wrote checkpoints to {out}")


if __name__ == "__main__":
    main()
