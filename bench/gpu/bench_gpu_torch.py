"""PyTorch's side of bench/gpu: training images/s of torchvision ResNet-50 and
EfficientNet-Lite0 (bench/transfer/torch_lite0.py, the same architecture as
thaw's) on the GPU, eager mode, channels_last, the same step as bench_gpu.c:
batch upload from pinned memory, forward, cross-entropy, backward, SGD
(momentum 0.9), loss read back. fp32 (TF32 off for convolutions and
matmuls), --tf32 (TF32 on for both) or --bf16 (torch.autocast to bfloat16
around forward and loss, fp32 weights and optimizer: PyTorch's mixed
precision; bf16 needs no loss scaling).

usage: bench_gpu_torch.py [--arch resnet50|efficientnet_lite0] [--batch N]
                          [--size S] [--tf32 | --bf16] [--iters N] [--warmup N]
prints one JSON line like bench_gpu.c, or
{"impl":"torch","skipped":"torch without CUDA (...)"} when this Python's
torch cannot use a GPU (Debian's python3-torch is CPU-only; the GPU machine
has no network, so a CUDA build of torch must already be installed there).
"""
import argparse
import json
import os
import statistics
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--arch", default="resnet50")
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--size", type=int, default=224)
ap.add_argument("--tf32", action="store_true")
ap.add_argument("--bf16", action="store_true")
ap.add_argument("--iters", type=int, default=20)
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--profile", help="after the timed steps, 3 profiled steps: GPU time "
                "per kernel class and the slowest kernels to this file")
args = ap.parse_args()


def skip(why):
    print(json.dumps({"impl": "torch", "skipped": why}))
    sys.exit(0)


try:
    import torch
except ImportError as e:
    skip("torch without CUDA (torch not importable: %s)" % e)
if not torch.cuda.is_available():
    skip("torch without CUDA (torch %s, built for CUDA %s)" % (torch.__version__,
                                                            torch.version.cuda))

torch.backends.cudnn.benchmark = True
torch.backends.cudnn.allow_tf32 = args.tf32
torch.backends.cuda.matmul.allow_tf32 = args.tf32
dev = torch.device("cuda")
if args.arch == "efficientnet_lite0":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "transfer"))
    from torch_lite0 import EfficientNetLite0
    model = EfficientNetLite0(num_classes=1000)
else:
    import torchvision
    model = getattr(torchvision.models, args.arch)(num_classes=1000)
model = model.to(dev).to(memory_format=torch.channels_last).train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = torch.nn.CrossEntropyLoss()
host = torch.rand(args.batch, 3, args.size, args.size).mul_(4).sub_(2).pin_memory()
labels_host = (torch.arange(args.batch) * 7919 % 1000).pin_memory()
times = []
loss = None
for it in range(args.warmup + args.iters):
    t0 = time.perf_counter()
    x = host.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
    y = labels_host.to(dev, non_blocking=True)
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.bf16):
        loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    value = loss.item()   # one synchronisation per step, like thaw's
    if it >= args.warmup:
        times.append((time.perf_counter() - t0) * 1e3)
med = statistics.median(times)


def kernel_class(name):
    """Which op a CUDA kernel serves, from its name (cuDNN, cuBLAS, ATen)."""
    n = name.lower()
    if "batch_norm" in n or "bn_fw" in n or "bn_bw" in n or "batchnorm" in n:
        return "batchnorm"
    if any(k in n for k in ("xmma", "gemm", "conv", "implicit", "wgrad", "dgrad", "fprop",
                            "cutlass", "cudnn", "sm90_", "sm80_", "winograd", "fft")):
        return "conv/matmul"
    if "threshold" in n or "relu" in n or "clamp" in n:
        return "relu"
    if "pool" in n:
        return "pool"
    if "sgd" in n or "foreach" in n or "multi_tensor" in n:
        return "optimizer"
    if "elementwise" in n or "add" in n or "copy" in n or "fill" in n:
        return "elementwise (add, copy, fill)"
    return "other"


def write_profile(path, step_ms):
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(3):
            x = host.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = labels_host.to(dev, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.bf16):
                step_loss = loss_fn(model(x), y)
            step_loss.backward()
            opt.step()
        torch.cuda.synchronize()
    rows = []
    for evt in prof.key_averages():
        us = getattr(evt, "self_device_time_total", None)
        if us is None:
            us = getattr(evt, "self_cuda_time_total", 0)
        if us > 0:
            rows.append((us / 3e3, evt.count // 3, evt.key))
    classes = {}
    for ms_, _, key in rows:
        classes[kernel_class(key)] = classes.get(kernel_class(key), 0) + ms_
    total = sum(classes.values())
    with open(path, "w") as f:
        f.write("per step: kernels %.2f ms of a %.2f ms step\n" % (total, step_ms))
        for k, v in sorted(classes.items(), key=lambda kv: -kv[1]):
            f.write("  %-30s %8.3f ms %5.1f%%\n" % (k, v, 100 * v / max(total, 1e-9)))
        f.write("slowest kernels (ms per step, launches per step):\n")
        for ms_, n, key in sorted(rows, reverse=True)[:20]:
            f.write("  %8.3f %4d  %s\n" % (ms_, n, key[:110]))
print(json.dumps({"impl": "torch", "arch": args.arch, "batch": args.batch, "size": args.size,
                  "precision": "bf16" if args.bf16 else "tf32" if args.tf32 else "fp32",
                  "iters": args.iters,
                  "step_ms_min": round(min(times), 3), "step_ms_median": round(med, 3),
                  "img_s": round(args.batch / med * 1e3, 1), "loss": round(value, 4),
                  "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0)}))
if args.profile:
    try:
        write_profile(args.profile, med)
    except Exception as e:  # the profile is a diagnosis; the figure above stands
        with open(args.profile, "w") as f:
            f.write("profile failed: %r\n" % (e,))
