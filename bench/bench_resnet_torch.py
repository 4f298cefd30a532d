"""ResNet training/inference throughput of PyTorch (CPU) for one configuration,
the twin of bench/bench_resnet.c. bench/run_resnet.sh runs the two
alternately and prints the comparison table.

Modes (the same as bench_resnet):
  forward  model.eval(), torch.no_grad(), forward only
  head     stem..layer4 frozen: requires_grad False AND their BatchNorm
           modules in eval(); only fc trains (feature extraction)
  layer4   stem..layer3 frozen the same way; layer4 and fc train
  full     everything trains
A training step is opt.zero_grad(set_to_none=True), forward, cross-entropy,
backward, SGD step (momentum 0.9, lr 0.01, no weight decay) over the
trainable parameters. Input is random NCHW float, labels random; in
channels_last the conversion of the input is inside the timed step (thaw's
NCHW->NHWC conversion is inside its step too).

--format auto (the default) runs this script again in a fresh process for
nchw and for channels_last (peak RSS is per process), then prints ONE line:
the faster format's numbers, with "format" naming it and "other" holding the
slower one's img/s and RSS. --format nchw|channels_last runs in this process.

usage: /usr/bin/python3 bench/bench_resnet_torch.py --arch resnet50 --batch 32
       --size 224 --mode full --iters 2 [--warmup 1] [--threads 2]
       [--format auto|nchw|channels_last]"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

GROUPS = ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
FIRST_TRAINABLE = {"forward": len(GROUPS), "head": 5, "layer4": 4, "full": 0}


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def group_modules(model):
    return {
        "stem": [model.conv1, model.bn1],
        "layer1": [model.layer1],
        "layer2": [model.layer2],
        "layer3": [model.layer3],
        "layer4": [model.layer4],
        "head": [model.fc],
    }


def run_one(args):
    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rss_import = peak_rss_mb()
    model = getattr(torchvision.models, args.arch)(num_classes=args.classes)
    channels_last = args.format == "channels_last"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)

    first = FIRST_TRAINABLE[args.mode]
    groups = group_modules(model)
    if args.mode == "forward":
        model.eval()
    else:
        model.train()
        for i, name in enumerate(GROUPS):
            if i >= first:
                continue
            for mod in groups[name]:
                for p in mod.parameters():
                    p.requires_grad_(False)
                for sub in mod.modules():
                    if isinstance(sub, torch.nn.modules.batchnorm._BatchNorm):
                        sub.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = None
    if args.mode != "forward":
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=0.0)
    loss_fn = torch.nn.CrossEntropyLoss()

    x = torch.randn(args.batch, 3, args.size, args.size)
    labels = torch.randint(0, args.classes, (args.batch,))

    def step():
        xin = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        if args.mode == "forward":
            with torch.no_grad():
                return model(xin)[0, 0].item()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xin), labels)
        loss.backward()
        opt.step()
        return loss.item()

    times = []
    check = 0.0
    for it in range(args.warmup + args.iters):
        t0 = time.perf_counter()
        check = step()
        dt = (time.perf_counter() - t0) * 1e3
        if it >= args.warmup:
            times.append(dt)
    s = sorted(times)
    n = len(s)
    med = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
    return {
        "impl": "torch",
        "torch": torch.__version__,
        "arch": args.arch,
        "mode": args.mode,
        "batch": args.batch,
        "size": args.size,
        "threads": torch.get_num_threads(),
        "format": args.format,
        "warmup": args.warmup,
        "iters": args.iters,
        "step_ms": [round(t, 2) for t in times],
        "step_ms_min": round(s[0], 2),
        "step_ms_median": round(med, 2),
        "img_s": round(args.batch * 1e3 / s[0], 3),
        "img_s_median": round(args.batch * 1e3 / med, 3),
        "check": check,
        "rss_after_import_mb": round(rss_import, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def run_auto(args):
    results = {}
    for fmt in ("nchw", "channels_last"):
        cmd = [sys.executable, os.path.abspath(__file__), "--format", fmt]
        for k in ("arch", "batch", "size", "mode", "iters", "warmup", "threads", "classes"):
            cmd += ["--" + k, str(getattr(args, k))]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        results[fmt] = json.loads(out.strip().splitlines()[-1])
    best, other = sorted(results.values(), key=lambda r: -r["img_s"])
    best["other"] = {
        "format": other["format"],
        "img_s": other["img_s"],
        "img_s_median": other["img_s_median"],
        "peak_rss_mb": other["peak_rss_mb"],
    }
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="resnet18", choices=["resnet18", "resnet34", "resnet50"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--mode", default="full", choices=list(FIRST_TRAINABLE))
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--format", default="auto", choices=["auto", "nchw", "channels_last"])
    args = ap.parse_args()
    res = run_auto(args) if args.format == "auto" else run_one(args)
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
