"""Fixtures for tests/cli/test_forward.sh and tests/cli/test_bad_input.sh.

  forward_cases.py forward DIR   writes, for each case, DIR/<arch>_weights
                                 .safetensors (torchvision random weights with
                                 calibrated BatchNorm statistics), DIR/<case>_
                                 input.safetensors and DIR/<case>_ref.npy (the
                                 eval-mode logits, computed by PyTorch in
                                 float64 from exactly the values thaw reads),
                                 and DIR/cases.txt: case, arch, weights,
                                 input, ref per line, tab-separated.
  forward_cases.py compare REF.npy OUT.safetensors CASE
                                 checks OUT's tensor "logits" (F32, [N, C])
                                 against REF at max|diff| <= 1e-4 * max|ref|;
                                 prints one OK/FAIL line, exits 1 on FAIL.
  forward_cases.py bad DIR       writes a valid resnet18 checkpoint and input
                                 and one malformed variant per bad-input case
                                 (names listed in test_bad_input.sh).

Well-formed files go through tests/golden/golden_io.save(); files that must
be malformed (or BF16, which save() does not write) through write_raw().
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
if sys.argv[1:2] != ["compare"]:   # compare needs numpy only: start fast
    import torch
    import torchvision
    import golden_io  # noqa: E402

TOLERANCE = 1e-4

# case, arch, classes, dtype of the input file, N, H, W
FORWARD_CASES = [
    ("resnet18_c7_64x64", "resnet18", 7, "F32", 2, 64, 64),
    ("resnet18_c7_80x48", "resnet18", 7, "F32", 2, 80, 48),
    ("resnet18_c7_32x32", "resnet18", 7, "F32", 2, 32, 32),
    ("resnet18_c7_64x64_f16", "resnet18", 7, "F16", 2, 64, 64),
    ("resnet18_c7_48x80_bf16", "resnet18", 7, "BF16", 2, 48, 80),
    ("resnet18_c7_n1_33x47", "resnet18", 7, "F32", 1, 33, 47),
    ("resnet34_c7_64x64", "resnet34", 7, "F32", 2, 64, 64),
    ("resnet34_c7_80x48", "resnet34", 7, "F32", 2, 80, 48),
    ("resnet34_c7_32x32", "resnet34", 7, "F32", 2, 32, 32),
    ("resnet50_c1000_64x64", "resnet50", 1000, "F32", 2, 64, 64),
    ("resnet50_c1000_80x48", "resnet50", 1000, "F32", 2, 80, 48),
    ("resnet50_c1000_32x32", "resnet50", 1000, "F32", 2, 32, 32),
    ("resnet50_c1000_64x64_f16", "resnet50", 1000, "F16", 2, 64, 64),
]

SEEDS = {"resnet18": 11, "resnet34": 12, "resnet50": 13}


# ---- safetensors without the safetensors package --------------------------

def read_st(path):
    """Returns (header dict without __metadata__, metadata, data bytes)."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    meta = header.pop("__metadata__", {})
    return header, meta, raw[8 + hlen:]


def tensor_from(header, data, name):
    entry = header[name]
    begin, end = entry["data_offsets"]
    dtype = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8"}[entry["dtype"]]
    return np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"])


def write_raw(path, header, data, header_bytes=None, length=None):
    """header dict (with data_offsets) and data bytes as given; header_bytes
    replaces the JSON, length the u64 header length (both for malformed
    files). No padding checks, no validation: that is the point."""
    if header_bytes is None:
        header_bytes = json.dumps(header, separators=(",", ":")).encode()
        header_bytes += b" " * (-len(header_bytes) % 8)
    if length is None:
        length = len(header_bytes)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", length))
        f.write(header_bytes)
        f.write(data)


def pack(tensors):
    """{name: (dtype string, shape, bytes)} -> (header, data)."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    return header, b"".join(blobs)


def unpack(header, data):
    """Inverse of pack, in file order of data_offsets."""
    names = sorted(header, key=lambda k: header[k]["data_offsets"][0])
    out = {}
    for k in names:
        b, e = header[k]["data_offsets"]
        out[k] = (header[k]["dtype"], header[k]["shape"], data[b:e])
    return out


def bf16_bytes(x):
    """float32 array -> (round-to-nearest-even bfloat16 bytes, the float64
    values those bytes hold)."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).bfloat16()
    bits = t.view(torch.int16).numpy().astype("<i2").tobytes()
    return bits, t.double().numpy()


# ---- models -----------------------------------------------------------------

def make_model(arch, classes, seed):
    """torchvision init, then BatchNorm affine and running statistics made
    non-trivial (statistics calibrated on random data, as pretraining would
    leave them, so eval-mode activations stay in a sane range)."""
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(num_classes=classes)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            m.weight.uniform_(0.6, 1.4)
            m.bias.uniform_(-0.2, 0.2)
        for m in model.modules():
            last = None
            if isinstance(m, torchvision.models.resnet.Bottleneck):
                last = m.bn3
            elif isinstance(m, torchvision.models.resnet.BasicBlock):
                last = m.bn2
            if last is not None:
                last.weight.uniform_(0.1, 0.4)
        for m in bns:
            m.reset_running_stats()
            m.momentum = None          # cumulative average over the batches
        model.train()
        for _ in range(2):
            model(torch.randn(6, 3, 64, 64))
        for m in bns:
            m.momentum = 0.1
            m.num_batches_tracked.fill_(7)
        model.fc.bias.uniform_(-0.5, 0.5)
    return model.eval()


def state_dict_f32(model):
    return {k: (v.float() if v.is_floating_point() else v)
            for k, v in model.state_dict().items()}


def cmd_forward(out):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    models = {}
    lines = []
    for index, (case, arch, classes, dtype, n, h, w) in enumerate(FORWARD_CASES):
        if (arch, classes) not in models:
            model = make_model(arch, classes, SEEDS[arch])
            weights = os.path.join(out, f"{arch}_c{classes}_weights.safetensors")
            golden_io.save(weights, state_dict_f32(model), {"arch": arch})
            # The reference runs on exactly the float32 weights thaw loads.
            models[(arch, classes)] = (model.double().eval(), weights)
        model, weights = models[(arch, classes)]
        g = torch.Generator().manual_seed(1000 + index)
        x32 = torch.randn(n, 3, h, w, generator=g).numpy()
        path = os.path.join(out, f"{case}_input.safetensors")
        if dtype == "F32":
            golden_io.save(path, {"input": x32})
            x = x32.astype(np.float64)
        elif dtype == "F16":
            x16 = x32.astype(np.float16)
            golden_io.save(path, {"input": x16})
            x = x16.astype(np.float64)
        else:
            blob, x = bf16_bytes(x32)
            header, data = pack({"input": ("BF16", x32.shape, blob)})
            write_raw(path, header, data)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        ref_path = os.path.join(out, f"{case}_ref.npy")
        np.save(ref_path, ref)
        lines.append("\t".join((case, arch, weights, path, ref_path)) + "\n")
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.writelines(lines)


def cmd_compare(ref_path, out_path, case):
    ref = np.load(ref_path)
    try:
        header, meta, data = read_st(out_path)
    except (OSError, ValueError, struct.error) as e:
        print(f"FAIL {case}: cannot read {out_path}: {e}")
        return 1
    problems = []
    if set(header) != {"logits"}:
        problems.append(f"tensors {sorted(header)}, expected ['logits']")
    elif header["logits"]["dtype"] != "F32":
        problems.append(f"logits dtype {header['logits']['dtype']}, expected F32")
    elif header["logits"]["shape"] != list(ref.shape):
        problems.append(f"logits shape {header['logits']['shape']}, "
                        f"expected {list(ref.shape)}")
    if problems:
        print(f"FAIL {case}: {out_path}: {'; '.join(problems)}")
        return 1
    got = tensor_from(header, data, "logits").astype(np.float64)
    scale = float(np.abs(ref).max())
    diff = float(np.abs(got - ref).max()) if np.all(np.isfinite(got)) else float("inf")
    ok = diff <= TOLERANCE * scale
    print(f"{'OK  ' if ok else 'FAIL'} {case}: logits {list(ref.shape)} "
          f"maxdiff {diff:.3e} (max|ref| {scale:.3e}, relative {diff / scale:.2e}, "
          f"limit {TOLERANCE:.0e})")
    return 0 if ok else 1


# ---- bad inputs ---------------------------------------------------------------

BAD_CLASSES = 5


def cmd_bad(out):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    torch.manual_seed(3)
    model = torchvision.models.resnet18(num_classes=BAD_CLASSES).eval()
    valid = os.path.join(out, "valid.safetensors")
    golden_io.save(valid, state_dict_f32(model), {"arch": "resnet18"})
    header, _, data = read_st(valid)
    tensors = unpack(header, data)

    def path(name):
        return os.path.join(out, name + ".safetensors")

    def variant(name, change):
        t = dict(tensors)
        change(t)
        h, d = pack(t)
        write_raw(path(name), h, d)

    def f32(shape, value=0.5):
        arr = np.full(shape, value, dtype="<f4")
        return ("F32", list(shape), arr.tobytes())

    # Inputs: the valid one and the bad ones.
    x = torch.randn(2, 3, 32, 32).numpy()
    golden_io.save(path("input_ok"), {"input": x})
    golden_io.save(path("input_nokey"), {"x": x})
    golden_io.save(path("input_1ch"), {"input": x[:, :1]})
    golden_io.save(path("input_16x16"), {"input": torch.randn(2, 3, 16, 16).numpy()})
    golden_io.save(path("input_32x16"), {"input": torch.randn(2, 3, 32, 16).numpy()})
    golden_io.save(path("input_3d"), {"input": x[0]})
    golden_io.save(path("input_n0"), {"input": np.zeros((0, 3, 64, 64), np.float32)})
    golden_io.save(path("input_i64"), {"input": np.zeros((2, 3, 32, 32), np.int64)})
    h, d = pack({"input": ("F32", [0, 3, 3000000000, 3000000000], b"")})
    write_raw(path("input_n0_huge"), h, d)

    # Weights files broken at the byte level.
    open(path("empty"), "wb").close()
    with open(valid, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    data_start = 8 + hlen
    with open(path("truncated"), "wb") as f:
        f.write(raw[:data_start + (len(raw) - data_start) // 2])
    with open(path("header_too_long"), "wb") as f:
        f.write(struct.pack("<Q", len(raw) + 4096) + raw[8:])
    hdr_json = raw[8:data_start]
    broken = hdr_json.replace(b'"conv1.weight":{', b'"conv1.weight"{', 1)
    assert broken != hdr_json
    write_raw(path("bad_json"), None, data, header_bytes=broken)

    # Header-level breakage, data left as is.
    h = json.loads(json.dumps(header))
    w_b, w_e = h["bn1.weight"]["data_offsets"]
    half = (w_e - w_b) // 2
    h["bn1.bias"]["data_offsets"] = [w_b + half, w_e + half]
    write_raw(path("overlap"), h, data)
    h = json.loads(json.dumps(header))
    h["layer3.0.conv2.weight"]["dtype"] = "F8"
    write_raw(path("dtype_f8"), h, data)

    # Well-formed files that do not match resnet18.
    variant("missing_key", lambda t: t.pop("layer1.0.conv1.weight"))
    variant("extra_key", lambda t: t.update({"layer9.extra.weight": f32([4])}))
    variant("extra_key_newline",
            lambda t: t.update({"evil\nsecond line": f32([1])}))
    variant("misshapen", lambda t: t.update({"layer2.0.bn1.weight": f32([127])}))
    variant("fc_missing", lambda t: t.pop("fc.weight"))
    variant("fc_1d", lambda t: t.update({"fc.weight": f32([BAD_CLASSES])}))
    variant("fc_infeatures",
            lambda t: t.update({"fc.weight": f32([BAD_CLASSES, 256])}))
    variant("fc_bias_short", lambda t: t.update({"fc.bias": f32([BAD_CLASSES - 1])}))
    variant("int_weight", lambda t: t.update(
        {"conv1.weight": ("I32", [64, 3, 7, 7],
                          np.zeros(64 * 3 * 7 * 7, "<i4").tobytes())}))
    variant("counter_two", lambda t: t.update(
        {"bn1.num_batches_tracked": ("I64", [2], np.zeros(2, "<i8").tobytes())}))
    variant("counter_missing", lambda t: t.pop("layer4.1.bn2.num_batches_tracked"))
    # resnet34 keys given to --arch resnet18: the first extra key is reported.
    model34 = torchvision.models.resnet34(num_classes=BAD_CLASSES)
    golden_io.save(path("resnet34"), state_dict_f32(model34))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "forward":
        cmd_forward(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "compare":
        sys.exit(cmd_compare(sys.argv[2], sys.argv[3], sys.argv[4]))
    elif len(sys.argv) == 3 and sys.argv[1] == "bad":
        cmd_bad(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
