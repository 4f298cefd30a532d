#!/usr/bin/python3
"""Markdown table of thaw vs PyTorch from one or more results.jsonl files of
bench/run_resnet.sh. A configuration measured several times (several rounds
or runs) reports each side's best step (highest img/s) and its highest peak
RSS: on a shared 2-core VM a neighbour slows single steps by up to 2x, and
the best step is the closest to the machine's real speed for both sides."""
import json
import sys


def main(paths):
    best = {}
    rss = {}
    runs = {}
    order = []
    version, threads = "?", 0
    for path in paths:
        for line in open(path):
            if not line.strip():
                continue
            r = json.loads(line)
            key = (r["arch"], r["size"], r["mode"], r["batch"])
            if key not in order:
                order.append(key)
            side = (r["impl"], key)
            runs[side] = runs.get(side, 0) + 1
            if side not in best or r["img_s"] > best[side]["img_s"]:
                best[side] = r
            rss[side] = max(rss.get(side, 0.0), r["peak_rss_mb"])
            if r["impl"] == "torch":
                version = r["torch"]
            else:
                threads = r["threads"]
    print("| config | thaw img/s | torch img/s | ratio (thaw/torch) "
          "| thaw peak RSS MB | torch peak RSS MB | RSS ratio (thaw/torch) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key in order:
        a, b = best.get(("thaw", key)), best.get(("torch", key))
        if not a or not b:
            continue
        arch, size, mode, batch = key
        ra, rb = rss[("thaw", key)], rss[("torch", key)]
        print("| %s %dx%d b%d %s | %.1f | %.1f (%s) | %.2f | %.0f | %.0f | %.2f |" % (
            arch, size, size, batch, mode, a["img_s"], b["img_s"],
            "CL" if b["format"] == "channels_last" else "NCHW",
            a["img_s"] / b["img_s"], ra, rb, ra / rb))
    n = max(runs.values()) if runs else 0
    print()
    print("img/s = batch / fastest timed step (full training step, or eval "
          "forward), best of %d run(s) per side. torch: faster of NCHW and "
          "channels_last (CL), each in its own process; torch %s, %d threads "
          "each side." % (n, version, threads))


if __name__ == "__main__":
    main(sys.argv[1:])
