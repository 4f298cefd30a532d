"""Conv layers of ResNet-18/50 at batch 32, 224x224: thaw's CPU conv2d
against PyTorch's CPU path (oneDNN) on the same machine, in one run.

PyTorch gets 2 threads and is timed in both NCHW and channels_last; the
faster of the two is reported per direction. Backward is input + weight
gradient (aten.convolution_backward, no bias), the same work thaw's
conv2d_backward does. Times are the minimum over reps after a warm-up, and
over --rounds passes of the whole table (thaw and torch interleaved): other
jobs share this machine, and the minimum is the least noisy figure.

usage: /usr/bin/python3 bench/conv_layers.py --exe build-conv/bench/conv_layers
       [--batch 32] [--reps 3] [--rounds 3] [--only NAME,...]"""
import argparse
import subprocess
import time

import torch

# name: (h, c, k, r, stride, pad[, groups]); the last rows are EfficientNet
# depthwise layers (direct kernel, not GEMM), for information.
SHAPES = [
    ("stem 7x7/2 3->64 @224",     224, 3, 64, 7, 2, 3),
    ("3x3 64->64 @56",            56, 64, 64, 3, 1, 1),
    ("1x1 64->256 @56",           56, 64, 256, 1, 1, 0),
    ("1x1 256->64 @56",           56, 256, 64, 1, 1, 0),
    ("3x3/2 128->128 @56",        56, 128, 128, 3, 2, 1),
    ("1x1/2 256->512 @56 (ds)",   56, 256, 512, 1, 2, 0),
    ("3x3 128->128 @28",          28, 128, 128, 3, 1, 1),
    ("3x3/2 64->128 @56 (r18)",   56, 64, 128, 3, 2, 1),
    ("1x1/2 64->128 @56 (r18 ds)", 56, 64, 128, 1, 2, 0),
    ("3x3 256->256 @14",          14, 256, 256, 3, 1, 1),
    ("1x1 1024->256 @14",         14, 1024, 256, 1, 1, 0),
    ("3x3 512->512 @7",           7, 512, 512, 3, 1, 1),
    ("1x1 512->2048 @7",          7, 512, 2048, 1, 1, 0),
    ("dw 3x3 96 @112 (effnet)",   112, 96, 96, 3, 1, 1, 96),
    ("dw 3x3/2 144 @56 (effnet)", 56, 144, 144, 3, 2, 1, 144),
    ("dw 5x5 240 @28 (effnet)",   28, 240, 240, 5, 1, 2, 240),
]


def time_min(fn, reps):
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def torch_times(n, h, c, k, r, stride, pad, g, reps, channels_last):
    x = torch.randn(n, c, h, h)
    w = torch.randn(k, c // g, r, r)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
        w = w.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        y = torch.nn.functional.conv2d(x, w, None, stride, pad, 1, g)
    dy = torch.randn_like(y)
    if channels_last:
        dy = dy.contiguous(memory_format=torch.channels_last)

    def fwd():
        with torch.no_grad():
            torch.nn.functional.conv2d(x, w, None, stride, pad, 1, g)

    def bwd():
        torch.ops.aten.convolution_backward(
            dy, x, w, None, [stride, stride], [pad, pad], [1, 1], False,
            [0, 0], g, [True, True, False])

    return time_min(fwd, reps), time_min(bwd, reps)


def thaw_times(exe, n, h, c, k, r, stride, pad, g, reps):
    cmd = [exe, str(n), str(h), str(h), str(c), str(k), str(r), str(r),
           str(stride), str(pad), str(g), str(reps)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    vals = dict(kv.split("=") for kv in out.split())
    return float(vals["fwd_ms"]), float(vals["bwd_ms"]), float(vals["ws_mb"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", default="build-conv/bench/conv_layers")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    torch.set_num_threads(2)
    only = [s for s in args.only.split(",") if s]
    shapes = [sh for sh in SHAPES
              if not only or any(o in sh[0] for o in only)]
    n = args.batch
    inf = float("inf")
    # per shape: [thaw fwd, thaw bwd, nchw fwd, nchw bwd, cl fwd, cl bwd], ws
    best = {sh[0]: [inf] * 6 for sh in shapes}
    ws_mb = {}
    for rnd in range(args.rounds):
        for name, h, c, k, r, stride, pad, *g in shapes:
            g = g[0] if g else 1
            b = best[name]
            f, bw, ws_mb[name] = thaw_times(args.exe, n, h, c, k, r, stride,
                                            pad, g, args.reps)
            vals = [f, bw]
            vals += torch_times(n, h, c, k, r, stride, pad, g, args.reps, False)
            vals += torch_times(n, h, c, k, r, stride, pad, g, args.reps, True)
            best[name] = [min(x, y) for x, y in zip(b, vals)]
        print(f"round {rnd + 1}/{args.rounds} done", flush=True)

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}, batch {n}, "
          f"min of {args.reps} reps x {args.rounds} rounds")
    print(f"{'shape':28s} {'GF':>6s} | {'thaw fwd':>9s} {'torch fwd':>9s} "
          f"{'ratio':>5s} | {'thaw bwd':>9s} {'torch bwd':>9s} {'ratio':>5s} | "
          f"torch f/b  ws MB")
    tot = [0.0, 0.0, 0.0, 0.0]
    for name, h, c, k, r, stride, pad, *g in shapes:
        g = g[0] if g else 1
        of, ob, f_nchw, b_nchw, f_cl, b_cl = best[name]
        p = (h + 2 * pad - r) // stride + 1
        gflop = 2.0 * n * p * p * k * (c // g) * r * r / 1e9
        tf, tb = min(f_nchw, f_cl), min(b_nchw, b_cl)
        lay = ("cl" if f_cl < f_nchw else "nchw") + "/" + \
              ("cl" if b_cl < b_nchw else "nchw")
        tot = [tot[0] + of, tot[1] + tf, tot[2] + ob, tot[3] + tb]
        print(f"{name:28s} {gflop:6.2f} | {of:9.1f} {tf:9.1f} {tf / of:5.2f} | "
              f"{ob:9.1f} {tb:9.1f} {tb / ob:5.2f} | {lay:9s} {ws_mb[name]:6.1f}")
    print(f"{'total':28s} {'':6s} | {tot[0]:9.1f} {tot[1]:9.1f} "
          f"{tot[1] / tot[0]:5.2f} | {tot[2]:9.1f} {tot[3]:9.1f} "
          f"{tot[3] / tot[2]:5.2f} |")
    print("ratio = torch ms / thaw ms (> 1: thaw faster); GF = forward GFLOP")


if __name__ == "__main__":
    main()
